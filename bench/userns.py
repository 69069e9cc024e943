#!/usr/bin/env python3
"""bench/userns.py: what berth-nsenter (the C stage that joins user
namespaces) costs, against the same work without it, and runc's.

Usage: bench/userns.py BIN_DIR [RUNS]   (BIN_DIR holds berth-oci,
berth-init and berth-nsenter; needs root, busybox-static and runc)

Alternates, RUNS times each (medians, ms):
- exec true into a running container without and with a user namespace,
  with berth-oci and with runc (the same bundles);
- run true of a container that creates its user namespace (no C stage)
  and of one that joins a running container's by path (the C stage);
- the start, to exit, of berth-init (a Go runtime) and of berth-nsenter
  (static C), and /bin/true: what a C init stage would save per start.
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time

def rootfs(d):
    os.makedirs(os.path.join(d, "bin"))
    for sub in ("proc", "sys", "dev", "tmp", "etc"):
        os.makedirs(os.path.join(d, sub))
    shutil.copy("/bin/busybox", os.path.join(d, "bin", "busybox"))
    for name in ("true", "sh", "sleep"):
        os.symlink("busybox", os.path.join(d, "bin", name))

def timed(cmd):
    # berth-init run by hand says so and exits 2: its start is what counts.
    s = time.perf_counter()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0 and not cmd[0].endswith("berth-init"):
        sys.exit("%s: exit %d" % (" ".join(cmd), r.returncode))
    return (time.perf_counter() - s) * 1000

def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    bindir = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    oci = {"berth-oci": os.path.join(bindir, "berth-oci"), "runc": shutil.which("runc") or "/usr/sbin/runc"}
    work = tempfile.mkdtemp(prefix="berth-userns-")
    os.chmod(work, 0o755)
    started = []
    try:
        subprocess.run([oci["berth-oci"], "spec", "--bundle", work], check=True)
        base = json.load(open(os.path.join(work, "config.json")))
        base["process"]["terminal"] = False
        maps = {"uidMappings": [{"containerID": 0, "hostID": 400000, "size": 65536}],
                "gidMappings": [{"containerID": 0, "hostID": 400000, "size": 65536}]}
        def bundle(name, args, userns=None):
            d = os.path.join(work, name)
            rootfs(os.path.join(d, "rootfs"))
            s = json.loads(json.dumps(base))
            s["process"]["args"] = args
            if userns is not None:
                s["linux"]["namespaces"].append(userns)
                s["linux"].update(maps)
            json.dump(s, open(os.path.join(d, "config.json"), "w"))
            return d
        def root(rt):
            return os.path.join(work, "root-" + rt)
        sleeping = {"plain": bundle("plain", ["sleep", "1000"]), "userns": bundle("userns", ["sleep", "1000"], {"type": "user"})}
        for rt in oci:
            for name, b in sleeping.items():
                subprocess.run([oci[rt], "--root", root(rt), "run", "-d", "--bundle", b, name], check=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                started.append((rt, name))
        owner = json.loads(subprocess.run([oci["berth-oci"], "--root", root("berth-oci"), "state", "userns"],
                                          check=True, capture_output=True).stdout)["pid"]
        runs_new = bundle("run-new", ["true"], {"type": "user"})
        runs_joined = bundle("run-joined", ["true"], {"type": "user", "path": "/proc/%d/ns/user" % owner})
        cases = {}
        for rt in oci:
            for name in sleeping:
                cases["exec true, %s, %s" % (rt, name)] = [oci[rt], "--root", root(rt), "exec", name, "true"]
        for name, b in (("new user namespace", runs_new), ("joined by path (berth-nsenter)", runs_joined)):
            cases["run true, berth-oci, " + name] = [oci["berth-oci"], "--root", root("berth-oci"), "run", "--bundle", b, "r"]
        cases["start to exit: berth-init (Go)"] = [os.path.join(bindir, "berth-init")]
        cases["start to exit: berth-nsenter (C)"] = [os.path.join(bindir, "berth-nsenter"), "--check", "--init", "3", "--sync", "3", "--userns", "3", "--", "x"]
        cases["start to exit: /bin/true"] = ["/bin/true"]
        times = {c: [] for c in cases}
        for i in range(runs + 3):
            for c, cmd in cases.items():
                t = timed(cmd)
                if i >= 3:
                    times[c].append(t)
        for c, v in times.items():
            print("%-50s %8.2f ms" % (c, statistics.median(v)))
    finally:
        for rt, name in started:
            subprocess.run([oci[rt], "--root", root(rt), "delete", "--force", name], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)

main()
