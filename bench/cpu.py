#!/usr/bin/env python3
"""bench/cpu.py: where the CPU time of a container start goes, by step,
for each runtime, one after the other and 50 at once, sampled with perf.

Usage: bench/cpu.py [--runs N] [--conc N] [--freq HZ] [--json FILE]
                    NAME=COMMAND ...
  NAME=COMMAND  a runtime's start command (split like a shell would);
                "{id}" in it is replaced by a fresh suffix per start (the
                container ID of runc, crun and berth-oci). A NAME ending in
                "*" is measured one after the other only (berth run --rm).
  --runs N      starts per runtime and mode (default 60);
  --conc N      starts at once in the concurrent mode (default 50; 0: skip);
  --freq HZ     perf's sampling frequency (default 10000);
  --json FILE   also write every figure to FILE.
Needs root and perf (Debian: linux-perf). Prints a markdown table.

Each runtime and mode is measured twice, with a loop of sh around the
starts: `perf stat` (task-clock, context switches and page faults of the
whole process tree: the runtime, its threads, its init stage, the
container's program; less the same loop's CPU time with /bin/true for the
runtime, which is the loop's own sh and the exec of a program), and `perf record -g` of the same loop, whose
samples say where that CPU time went. A sample counts for the first of
these it matches:
  a system call, by the kernel's entry function on its stack, grouped by
  what it does (the namespaces a clone makes, mounts, cgroupfs, files,
  thread sleeps and wake-ups, memory maps, exit, wait, the rest); a page
  fault taken in user space; user space (the runtime's code, its
  libraries, the Go runtime: the bench binaries are stripped, so perf
  cannot tell them apart); the rest of the kernel (interrupts, the
  scheduler, the return to user space).
The table scales each runtime's sample shares to its `perf stat` CPU time,
so the rows add up to the CPU time per start (ms). Sampling at 10 kHz
slows what it samples a little, alike for all.
"""
import argparse, json, os, re, shlex, subprocess, sys, tempfile

DRIVERS = {"sh", "dash", "bash", "seq", "perf", "perf-exec"}
SYSCALL = re.compile(r"^__(?:x64|ia32)_sys_(\w+)$|^__do_sys_(\w+)$")
MOUNTS = {"mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsmount",
          "fsconfig", "fspick", "mount_setattr"}
FILES = {"openat", "openat2", "open", "close", "close_range", "read", "write", "pread64", "pwrite64", "readv",
         "writev", "newfstatat", "statx", "newfstat", "fstat", "newlstat", "newstat", "unlinkat", "unlink",
         "mkdirat", "mkdir", "rmdir", "renameat", "renameat2", "rename", "getdents64", "fcntl", "flock",
         "readlinkat", "readlink", "linkat", "symlinkat", "lseek", "fchmod", "fchmodat", "fchown", "fchownat",
         "statfs", "fstatfs", "ioctl", "faccessat", "faccessat2", "access", "dup", "dup2", "dup3", "fsync",
         "fdatasync", "ftruncate", "mknodat", "utimensat", "chdir", "fchdir", "getcwd"}
SLEEPS = {"futex", "nanosleep", "clock_nanosleep", "sched_yield", "epoll_wait", "epoll_pwait", "epoll_pwait2",
          "poll", "ppoll", "select", "pselect6", "epoll_ctl", "epoll_create1", "tgkill", "rt_sigreturn"}
MEMORY = {"mmap", "munmap", "madvise", "mprotect", "brk", "mremap"}
CGROUPFS = re.compile(r"kernfs_|cgroup_mkdir|cgroup_rmdir|cgroup_file|cgroup1_|cgroup_procs|cgroup_kn")
ROWS = ("user space", "page faults (user space)", "clone: the new namespaces", "clone: threads, processes",
        "execve", "mounts, pivot_root", "cgroupfs (mkdir, writes, rmdir)", "other file system calls",
        "thread sleeps and wake-ups (futex, nanosleep, epoll)", "mmap, madvise, brk", "exit", "wait",
        "other system calls", "kernel, no system call (interrupts, scheduler)")


def category(frames):
    """frames: (symbol, dso) from the sampled leaf outwards."""
    leaf_user = not frames[0][1].startswith("[kernel")
    kernel = [s for s, d in frames if d.startswith("[kernel")]
    call = None
    for sym in reversed(kernel):  # outermost first: the entry
        m = SYSCALL.match(sym)
        if m:
            call = m.group(1) or m.group(2)
            break
    if call:
        joined = " ".join(kernel)
        if call in ("clone", "clone3", "fork", "vfork"):
            return ROWS[2] if "copy_namespaces" in joined else ROWS[3]
        if call in ("execve", "execveat"):
            return ROWS[4]
        if call in ("exit", "exit_group"):
            return ROWS[10]
        if call in MOUNTS:
            return ROWS[5]
        if CGROUPFS.search(joined):
            return ROWS[6]
        if call in FILES:
            return ROWS[7]
        if call in SLEEPS:
            return ROWS[8]
        if call in MEMORY:
            return ROWS[9]
        if call.startswith("wait"):
            return ROWS[11]
        return ROWS[12]
    if leaf_user:
        return ROWS[0]
    if any(s in ("asm_exc_page_fault", "exc_page_fault") for s in kernel):
        return ROWS[1]
    if any(s in ("do_exit", "do_group_exit") for s in kernel):
        return ROWS[10]
    return ROWS[13]


def loop(words, runs, conc):
    """A sh loop of runs starts, one after another or conc at once."""
    def quoted(w, idvar):
        parts = w.split("{id}")
        return ('"$' + idvar + '"').join(shlex.quote(p) if p else "" for p in parts) or "''"
    if conc:
        cmd = " ".join(quoted(w, "id") for w in words)
        return (f'r=0; while [ $r -lt {runs // conc} ]; do r=$((r+1)); i=0; '
                f'while [ $i -lt {conc} ]; do i=$((i+1)); id=c$r-$i; {cmd} >/dev/null & done; wait; done')
    cmd = " ".join(quoted(w, "i") for w in words)
    return f'i=0; while [ $i -lt {runs} ]; do i=$((i+1)); {cmd} >/dev/null || exit 1; done'


def stat(script):
    out = subprocess.run(["perf", "stat", "-x,", "-e", "task-clock,context-switches,page-faults",
                          "--", "sh", "-c", script], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("bench/cpu.py: a start failed:\n" + out.stderr[-2000:])
    vals = {}
    for line in out.stderr.splitlines():
        p = line.split(",")
        if len(p) > 2 and p[2] in ("task-clock", "context-switches", "page-faults"):
            vals[p[2]] = float(p[0])
    return vals


def record(script, freq, tmp):
    data = os.path.join(tmp, "perf.data")
    subprocess.run(["perf", "record", "-q", "-F", str(freq), "-g", "-o", data, "--", "sh", "-c", script],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,period,ip,sym,dso"],
                         capture_output=True, text=True, check=True).stdout
    counts, frames, head = {}, [], None

    def flush():
        if head and frames and head[0] not in DRIVERS:
            k = category(frames)
            counts[k] = counts.get(k, 0) + head[1]
    for line in out.splitlines():
        if not line.strip():
            flush()
            frames, head = [], None
        elif not line[0].isspace():
            m = re.match(r"^(.*?)\s+(\d+)\s*$", line)
            head = (m.group(1).strip(), int(m.group(2))) if m else None
        else:
            m = re.match(r"^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
            if m:
                frames.append((m.group(1).split("+0x")[0], m.group(2)))
    flush()
    return counts


def main():
    ap = argparse.ArgumentParser(description="CPU time per container start, by step (perf).")
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--conc", type=int, default=50)
    ap.add_argument("--freq", type=int, default=10000)
    ap.add_argument("--json")
    ap.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    a = ap.parse_args()
    runs, conc, freq, jsonfile = a.runs, a.conc, a.freq, a.json
    specs = []
    for c in a.commands:
        name, sep, cmd = c.partition("=")
        if not sep:
            ap.error(f"{c}: want NAME=COMMAND")
        specs.append((name.rstrip("*"), shlex.split(cmd), name.endswith("*")))
    if conc:
        runs = max(conc, runs // conc * conc)
    cols = []
    with tempfile.TemporaryDirectory(prefix="berth-cpu-") as tmp:
        for mode in ((0, conc) if conc else (0,)):
            base = stat(loop(["true"], runs, mode))["task-clock"]
            for name, words, seq_only in specs:
                if mode and seq_only:
                    continue
                script = loop(words, runs, mode)
                s = stat(script)
                counts = record(script, freq, tmp)
                total = sum(counts.values()) or 1
                cpu = max(s["task-clock"] - base, 0) / runs
                cols.append({"name": name, "mode": f"{mode} at once" if mode else "one after another",
                             "cpu_ms": cpu, "context_switches": s["context-switches"] / runs,
                             "page_faults": s["page-faults"] / runs,
                             "rows": {k: cpu * counts.get(k, 0) / total for k in ROWS}})
    if jsonfile:
        with open(jsonfile, "w") as f:
            json.dump({"runs": runs, "conc": conc, "freq": freq, "columns": cols}, f, indent=1)
    print("| CPU ms per start | " + " | ".join(f"{c['name']}, {c['mode']}" for c in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for k in ROWS:
        print(f"| {k} | " + " | ".join(f"{c['rows'][k]:.2f}" for c in cols) + " |")
    print("| **total (perf stat task-clock)** | " + " | ".join(f"**{c['cpu_ms']:.2f}**" for c in cols) + " |")
    print("| context switches per start | " + " | ".join(f"{c['context_switches']:.0f}" for c in cols) + " |")
    print("| page faults per start | " + " | ".join(f"{c['page_faults']:.0f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
