#!/usr/bin/env python3
"""bench/ab.py: `berth run --rm true` of two berth builds, interleaved.

Usage: bench/ab.py OLD_BERTH NEW_BERTH [RUNS] [--rootless]
                   [--network bridge [--publish SPEC]]
       bench/ab.py --oci OLD_BERTH_OCI NEW_BERTH_OCI [RUNS]

Runs the two builds one after the other, in ABBA order, RUNS times each,
back to back and then cold (0.25 s idle before each run: writing a cgroup
after idle is what is slow here), and prints medians and the ratio new/old.
Interleaving makes the machine's drift hit both alike; only the ratio
counts. Each build is copied, with the stages beside it, into the temp
dir (on /tmp) and read back into the page cache the same way (recache),
and keeps its own --root and --runroot there; needs root and
busybox-static (the rootfs is made from /bin/busybox).

With --rootless both run as a fresh ordinary user (berth-ab-XXXXXX, with
subordinate IDs of its own; useradd, usermod and uidmap needed), removed
at the end, each build copied with the berth-init and berth-nsenter beside
it into a root-owned directory, as `make install` leaves them.

With --network bridge the runs are `berth run --rm --network bridge`
(with -p SPEC given --publish, e.g. 127.0.0.1:18080:80), each build in a
network namespace of its own that the script makes and removes, as
bench/ab_ports.py does (nsenter --net), so each build has its own berth0
and nftables table and the host's network is not touched.

With --oci the two are berth-oci builds running `run` of the bundle
`make bench` uses (bench/results/config-default.json, the same busybox
rootfs), each with the init stages beside it.
"""
import json, os, pwd, secrets, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))

def rootfs(d):
    os.makedirs(os.path.join(d, "bin"))
    for sub in ("proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(d, sub))
    shutil.copy("/bin/busybox", os.path.join(d, "bin", "busybox"))
    os.symlink("busybox", os.path.join(d, "bin", "true"))
    os.symlink("busybox", os.path.join(d, "bin", "sh"))

def free_subordinate_start():
    """A subordinate range start above every line of /etc/subuid and /etc/subgid."""
    end = 1 << 20
    for path in ("/etc/subuid", "/etc/subgid"):
        with open(path) as f:
            for line in f:
                p = line.strip().split(":")
                if len(p) == 3 and p[1].isdigit() and p[2].isdigit():
                    end = max(end, int(p[1]) + int(p[2]))
    return (end // 65536 + 1) * 65536

class RootlessUser:
    """A fresh user with subordinate IDs of its own, and what it runs as."""

    def __init__(self, work):
        self.name = "berth-ab-" + secrets.token_hex(3)
        self.home = os.path.join(work, "home")
        subprocess.run(["useradd", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", "-U", "-m", "-d", self.home,
                        "-s", "/bin/sh", self.name], check=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.run = os.path.join(work, "xdg-run")
        os.mkdir(self.run, 0o700)
        os.chown(self.run, self.uid, self.gid)
        start = free_subordinate_start()
        self.sub = "%d-%d" % (start, start + 65535)
        subprocess.run(["usermod", "-v", self.sub, "-w", self.sub, self.name], check=True)

    def kwargs(self):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.home, "XDG_RUNTIME_DIR": self.run, "USER": self.name}
        return {"user": self.uid, "group": self.gid, "extra_groups": [], "env": env, "cwd": self.home}

    def remove(self):
        for pid in os.listdir("/proc"):  # only the bench runs as this fresh user
            if pid.isdigit():
                try:
                    if os.stat("/proc/" + pid).st_uid == self.uid:
                        os.kill(int(pid), 9)
                except OSError:
                    pass
        time.sleep(0.1)
        subprocess.run(["usermod", "-V", self.sub, "-W", self.sub, self.name], stderr=subprocess.DEVNULL)
        subprocess.run(["userdel", "-r", self.name], stderr=subprocess.DEVNULL)

def install(build, bindir):
    """Copies a build and the stages beside it into a root-owned bindir,
    and puts each file in the page cache anew (see recache)."""
    os.makedirs(bindir, 0o755)
    name = os.path.basename(build)
    for stage in (name, "berth-init", "berth-nsenter", "berth-stage", "berth-monitor"):
        src = build if stage == name else os.path.join(os.path.dirname(build), stage)
        if os.path.exists(src):
            dst = os.path.join(bindir, stage)
            shutil.copy(src, dst)
            recache(dst)
    return os.path.join(bindir, name)

def recache(path):
    """Evicts path from the page cache and reads it back in one pass.

    How a binary's pages came into the page cache (written by the linker
    on tmpfs, copied, read back by readahead) decides how large its folios
    are and so how many page faults mapping it takes: the same berth run
    from two copies made differently differed by 5% (A/A, ABBA order), and
    by 0.3% once both were cached this way."""
    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        while os.read(fd, 1 << 20):
            pass
    finally:
        os.close(fd)

def bundle(work):
    """The bench's default bundle, over the rootfs in work."""
    with open(os.path.join(HERE, "results", "config-default.json")) as f:
        cfg = json.load(f)
    cfg["root"]["path"] = os.path.join(work, "rootfs")
    d = os.path.join(work, "bundle")
    os.mkdir(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    return d

def main():
    argv, network, publish = sys.argv[1:], "none", None
    for opt in ("--network", "--publish"):
        if opt in argv:
            i = argv.index(opt)
            if i + 1 >= len(argv):
                sys.exit(__doc__)
            if opt == "--network":
                network = argv[i + 1]
            else:
                publish = argv[i + 1]
            del argv[i:i + 2]
    args = [a for a in argv if a not in ("--rootless", "--oci")]
    rootless, oci = "--rootless" in argv, "--oci" in argv
    if network not in ("none", "bridge") or (publish and network != "bridge") or (network != "none" and (rootless or oci)):
        sys.exit(__doc__)
    if len(args) < 2:
        sys.exit(__doc__)
    builds = {"old": args[0], "new": args[1]}
    runs = int(args[2]) if len(args) > 2 else 200
    work = tempfile.mkdtemp(prefix="berth-ab-")
    os.chmod(work, 0o755)
    user, kwargs = None, {}
    netns = {}
    try:
        if network != "none":
            for name in builds:
                netns[name] = "berth-ab-%d-%s" % (os.getpid(), name)
                subprocess.run(["ip", "netns", "add", netns[name]], check=True)
                subprocess.run(["ip", "-n", netns[name], "link", "set", "lo", "up"], check=True)
        rootfs(os.path.join(work, "rootfs"))
        state = work
        if rootless:
            user = RootlessUser(work)
            kwargs, state = user.kwargs(), user.home
        builds = {name: install(b, os.path.join(work, name, "bin")) for name, b in builds.items()}
        if oci:
            bdir = bundle(work)
        def cmd(name):
            if oci:
                return [builds[name], "--root", os.path.join(state, name, "root"), "run", "--bundle", bdir, "ab-" + name]
            pre = ["nsenter", "--net=/run/netns/" + netns[name]] if name in netns else []
            ports = ["-p", publish] if publish else []
            return pre + [builds[name], "--root", os.path.join(state, name, "root"), "--runroot", os.path.join(state, name, "run"),
                          "run", "--rm", "--network", network] + ports + ["--rootfs", os.path.join(work, "rootfs"), "/bin/true"]
        for name in builds:  # warm up, and fail early on a broken build
            for _ in range(5):
                subprocess.run(cmd(name), check=True, stdout=subprocess.DEVNULL, **kwargs)
        for mode, idle, n in (("back to back", 0, runs), ("cold", 0.25, max(runs // 3, 10))):
            times = {name: [] for name in builds}
            for i in range(n):
                # ABBA: each build as often first as second in a pair.
                for name in (("old", "new") if i % 2 == 0 else ("new", "old")):
                    if idle:
                        time.sleep(idle)
                    t = time.perf_counter()
                    subprocess.run(cmd(name), check=True, stdout=subprocess.DEVNULL, **kwargs)
                    times[name].append((time.perf_counter() - t) * 1000)
            old, new = statistics.median(times["old"]), statistics.median(times["new"])
            print(f"{mode:13} old {old:6.2f} ms  new {new:6.2f} ms  new/old {new / old:.3f}  ({n} runs each)")
    finally:
        if user:
            user.remove()
        for ns in netns.values():
            subprocess.run(["ip", "netns", "del", ns])
        shutil.rmtree(work, ignore_errors=True)

main()
