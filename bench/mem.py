#!/usr/bin/env python3
"""bench/mem.py: where a runtime's peak memory goes, by mapping.

Usage: bench/mem.py [--runs N] [--json FILE] --config CONFIG NAME=COMMAND ...
  --config CONFIG  an OCI config.json; each run gets a bundle of it whose
                   program says it is ready and then waits on its stdin
                   (sh -c 'echo ready; read x; exit 0');
  NAME=COMMAND     a foreground start command with {bundle} and {id} in
                   it, e.g. crun='crun --root R run --bundle {bundle} {id}';
  --runs N         runs per command (default 9), taking turns;
  --json FILE      also write every run's figures to FILE.
Prints a markdown table, medians in KiB.

/usr/bin/time's peak RSS (bench/run.sh's "Peak RSS") is the largest
process's VmHWM in the runtime's tree: the runtime's own process, for
each runtime here. While the container's program waits, this reads that
process's VmHWM and its /proc/PID/smaps, and splits the resident pages by
what they map: the runtime's own binary (its code and data as read from
the file), shared libraries, the anonymous memory (heap, stacks, the Go
runtime's arenas; of it, the pages in transparent huge pages), the rest
(the vDSO, vvar); and the binary's file size beside its resident pages.
A runtime's resident set only grows until the program exits (neither
Go's scavenger nor malloc returns pages within a start), so what the
process holds while its program waits is its peak bar the last few
pages; the table gives both.
"""
import json, os, shutil, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phases  # noqa: E402  (its command line's parser)

ROWS = (("hwm", "peak (VmHWM)"), ("rss", "resident while the program waits"),
        ("binary", "the runtime's binary"), ("file", "(the binary's file size)"), ("libs", "shared libraries"),
        ("anon", "anonymous: heap, stacks, arenas"), ("thp", "of which in huge pages"),
        ("other", "the rest (vDSO, vvar)"))


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def split(pid):
    """Resident KiB of pid's mappings, grouped."""
    exe = os.readlink("/proc/%d/exe" % pid)
    got = {"binary": 0, "libs": 0, "anon": 0, "thp": 0, "other": 0,
           "file": os.stat("/proc/%d/exe" % pid).st_size // 1024}
    group = "other"
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            head = line.split()
            if not head:
                continue
            if not head[0].endswith(":"):
                # a mapping's header: range perms offset dev inode [path]
                path = head[5] if len(head) > 5 else ""
                if path == exe or path.startswith(exe + " "):
                    group = "binary"
                elif path.startswith("/") and int(head[4]) != 0:
                    group = "libs"
                elif path in ("", "[heap]") or path.startswith("[stack") or path.startswith("[anon"):
                    group = "anon"
                else:
                    group = "other"
            elif head[0] == "Rss:":
                got[group] += int(head[1])
            elif head[0] == "AnonHugePages:":
                got["thp"] += int(head[1])
    return got


def measure(cmd, bundle, cid):
    argv = [a.replace("{bundle}", bundle).replace("{id}", cid) for a in cmd]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError("%s: no ready line (%r): %s" % (argv[0], line, p.stderr.read(400).decode(errors="replace")))
        got = split(p.pid)
        got["hwm"] = status_kib(p.pid, "VmHWM")
        got["rss"] = status_kib(p.pid, "VmRSS")
    finally:
        p.stdin.close()
        rc = p.wait(30)
    if rc != 0:
        raise RuntimeError("%s exited %d: %s" % (argv[0], rc, p.stderr.read(400).decode(errors="replace")))
    return got


def main():
    opts, cmds = phases.parse_args(sys.argv[1:], {"--runs": "9", "--json": None, "--config": None}, __doc__)
    if not opts["--config"]:
        sys.exit(__doc__)
    with open(opts["--config"]) as f:
        config = json.load(f)
    config["process"]["args"] = ["sh", "-c", "echo ready; read x; exit 0"]
    bundle = tempfile.mkdtemp(prefix="berth-mem-")
    try:
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(config, f)
        names = list(cmds)
        got = {n: [] for n in names}
        runs = int(opts["--runs"])
        for i in range(runs):
            k = i % len(names)
            for n in names[k:] + names[:k]:
                try:
                    got[n].append(measure(cmds[n], bundle, "bench-mem-%d" % os.getpid()))
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                    sys.exit("mem: %s, run %d: %s" % (n, i + 1, e))
    finally:
        shutil.rmtree(bundle)
    med = {n: {k: statistics.median(r[k] for r in got[n]) for k, _ in ROWS} for n in names}
    print("| KiB, median of %d | %s |" % (runs, " | ".join(names)))
    print("|---|" + "---:|" * len(names))
    for k, label in ROWS:
        print("| %s | %s |" % (label, " | ".join("%.0f" % med[n][k] for n in names)))
    if opts["--json"]:
        with open(opts["--json"], "w") as f:
            json.dump({"runs": runs, "commands": {n: " ".join(cmds[n]) for n in names},
                       "median_kib": med, "runs_kib": got}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
