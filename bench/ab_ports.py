#!/usr/bin/env python3
"""bench/ab_ports.py: what -p adds at start and at stop, two berth builds.

Usage: bench/ab_ports.py OLD_BERTH NEW_BERTH [ROUNDS]

Times `berth run -d --network bridge [-p 127.0.0.1:18080:80] --rootfs R
sleep 100000` (start: until it returns, the container running and its port
published) and then `berth rm -f` of it (stop: killed, its network and port
mapping taken down), and a foreground `berth run --rm ... true` (the whole
run, exit included), each build with and without -p: four cases a round,
in an order that changes every round, ROUNDS rounds (default 100), so
the machine's drift hits all alike. Prints medians (25th-75th percentiles
in brackets), the time -p adds (with -p minus without, same build) and
new/old.

As bench/net.sh, everything runs in network namespaces the script makes,
one per build (`nsenter --net`), so each build has its own berth0 and
nftables table and the host's network is not touched. Each build keeps its
own --root and --runroot in a temp dir. Needs root, nsenter and
busybox-static (the rootfs is made from /bin/busybox).
"""
import os, shutil, statistics, subprocess, sys, tempfile, time

def rootfs(d):
    os.makedirs(os.path.join(d, "bin"))
    for sub in ("proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(d, sub))
    shutil.copy("/bin/busybox", os.path.join(d, "bin", "busybox"))
    for name in ("true", "sh", "sleep"):
        os.symlink("busybox", os.path.join(d, "bin", name))

def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    builds = {"old": sys.argv[1], "new": sys.argv[2]}
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    work = tempfile.mkdtemp(prefix="berth-ab-ports-", dir="/dev/shm")
    netns = {name: "berth-ab-ports-%d-%s" % (os.getpid(), name) for name in builds}
    try:
        rootfs(os.path.join(work, "rootfs"))
        for ns in netns.values():
            subprocess.run(["ip", "netns", "add", ns], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)

        def berth(name, *args):
            return ["nsenter", "--net=/run/netns/" + netns[name], builds[name],
                    "--root", os.path.join(work, name, "root"), "--runroot", os.path.join(work, name, "run")] + list(args)

        def once(name, publish):
            ports = ["-p", "127.0.0.1:18080:80"] if publish else []
            t0 = time.perf_counter()
            out = subprocess.run(berth(name, "run", "-d", "--network", "bridge", *ports, "--rootfs",
                                       os.path.join(work, "rootfs"), "sleep", "100000"),
                                 check=True, capture_output=True, text=True).stdout.strip()
            t1 = time.perf_counter()
            subprocess.run(berth(name, "rm", "-f", out), check=True, stdout=subprocess.DEVNULL)
            t2 = time.perf_counter()
            subprocess.run(berth(name, "run", "--rm", "--network", "bridge", *ports, "--rootfs",
                                 os.path.join(work, "rootfs"), "true"), check=True)
            t3 = time.perf_counter()
            return (t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000

        cases = [(name, publish) for name in builds for publish in (False, True)]
        for case in cases:  # warm up (berth0, the table), and fail early on a broken build
            for _ in range(3):
                once(*case)
        steps = ("start (run -d)", "stop (rm -f)", "run --rm true")
        times = {case: tuple([] for _ in steps) for case in cases}
        for i in range(rounds):
            order = cases[i % len(cases):] + cases[:i % len(cases)]
            if i // len(cases) % 2:
                order.reverse()
            for case in order:
                for step, t in enumerate(once(*case)):
                    times[case][step].append(t)

        def q(case, step):
            return statistics.quantiles(times[case][step], n=4)

        print(f"{rounds} rounds; medians in ms, 25th-75th percentiles in brackets")
        print(f"{'':4} {'':15} {'bridge':>21} {'bridge -p':>21} {'added':>7}")
        for name in builds:
            for step, label in enumerate(steps):
                b, p = q((name, False), step), q((name, True), step)
                print(f"{name:4} {label:15} {b[1]:7.2f} ({b[0]:5.2f}-{b[2]:5.2f}) {p[1]:7.2f} ({p[0]:5.2f}-{p[2]:5.2f}) {p[1] - b[1]:+7.2f}")
        for step, label in enumerate(steps):
            o, n = q(("old", True), step)[1], q(("new", True), step)[1]
            print(f"-p {label}: new/old {n / o:.3f}")
    finally:
        for name, ns in netns.items():
            # Containers a failed round left: removed before their netns goes.
            if os.path.exists("/run/netns/" + ns):
                ids = subprocess.run(berth(name, "ps", "-aq"), capture_output=True, text=True).stdout.split()
                if ids:
                    subprocess.run(berth(name, "rm", "-f", *ids), stdout=subprocess.DEVNULL)
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)

main()
