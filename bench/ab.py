#!/usr/bin/env python3
"""bench/ab.py: `berth run --rm true` of two berth builds, interleaved.

Usage: bench/ab.py OLD_BERTH NEW_BERTH [RUNS]

Runs the two builds one after the other, alternating, RUNS times each,
back to back and then cold (0.25 s idle before each run: writing a cgroup
after idle is what is slow here), and prints medians and the ratio new/old.
Interleaving makes the machine's drift hit both alike; only the ratio
counts. Each build keeps its own --root and --runroot in a temp dir; needs
root and busybox-static (the rootfs is made from /bin/busybox).
"""
import os, shutil, statistics, subprocess, sys, tempfile, time

def rootfs(d):
    os.makedirs(os.path.join(d, "bin"))
    for sub in ("proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(d, sub))
    shutil.copy("/bin/busybox", os.path.join(d, "bin", "busybox"))
    os.symlink("busybox", os.path.join(d, "bin", "true"))
    os.symlink("busybox", os.path.join(d, "bin", "sh"))

def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    builds = {"old": sys.argv[1], "new": sys.argv[2]}
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    work = tempfile.mkdtemp(prefix="berth-ab-")
    try:
        rootfs(os.path.join(work, "rootfs"))
        def cmd(name):
            return [builds[name], "--root", os.path.join(work, name, "root"), "--runroot", os.path.join(work, name, "run"),
                    "run", "--rm", "--network", "none", "--rootfs", os.path.join(work, "rootfs"), "/bin/true"]
        for name in builds:  # warm up, and fail early on a broken build
            for _ in range(5):
                subprocess.run(cmd(name), check=True, stdout=subprocess.DEVNULL)
        for mode, idle, n in (("back to back", 0, runs), ("cold", 0.25, max(runs // 3, 10))):
            times = {name: [] for name in builds}
            for _ in range(n):
                for name in builds:
                    if idle:
                        time.sleep(idle)
                    t = time.perf_counter()
                    subprocess.run(cmd(name), check=True, stdout=subprocess.DEVNULL)
                    times[name].append((time.perf_counter() - t) * 1000)
            old, new = statistics.median(times["old"]), statistics.median(times["new"])
            print(f"{mode:13} old {old:6.2f} ms  new {new:6.2f} ms  new/old {new / old:.3f}  ({n} runs each)")
    finally:
        shutil.rmtree(work, ignore_errors=True)

main()
