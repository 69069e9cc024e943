#!/usr/bin/env python3
"""bench/phases.py: where the time of one container start goes, step by
step, measured with the kernel's own tracing (no change to any runtime).

Usage: bench/phases.py [--runs N] [--warmup N] [--prog NAME] [--json FILE]
                       [--trace FILE] NAME=COMMAND ... [floor]
  NAME=COMMAND  a runtime's start command (split like a shell would, no
                shell run), e.g. runc='runc --root R run --bundle B id';
  floor         the namespace floor: unshare --fork --pid --mount --uts
                --ipc --net --mount-proc true;
  --runs N      timed runs per command (default 50), interleaved: round
                robin across the commands, the order rotating each round;
  --warmup N    untimed rounds first (default 2);
  --prog NAME   the program the container runs, by the last part of the
                path it is exec'd by (default true);
  --json FILE   also write the medians and every run's steps to FILE;
  --trace FILE  write every run's raw trace to FILE (to check the steps).
Needs root and tracefs (/sys/kernel/tracing). Prints a markdown table.

How: a tracefs instance of its own (instances/berth-phases-PID, removed at
the end, also on error or a signal), trace clock mono, records six events
- sched_process_fork, task_newtask (its clone flags tell threads from
processes, and name the namespaces a fork makes), sched_process_exec,
sched_process_exit, syscalls:sys_enter_pivot_root and sys_enter_unshare -
of our own process tree only: this script's PID is in set_event_pid, and
the event-fork option makes the kernel add every task forked from it
(the runtime, its threads, its children). Tracing is on only while a
command runs, one at a time. From each run's events:
  t0          the runtime's exec (the first one: crun re-execs itself);
  t_prog      the program's exec, by the task whose exec's file name ends
              in /NAME (the last such exec in the tree);
  t_fork      the fork, out of the runtime's own process, of the program's
              first ancestor (by fork lineage, not by parent PID, so runc's
              CLONE_PARENT children count as what they are);
  t_stage     the first exec on that lineage between t_fork and t_prog:
              the init stage (runc init, berth-init, berth-stage; crun and
              the floor have none);
  t_pivot     the first pivot_root on the lineage (falls back to any task
              of the tree) after t_fork; the floor has none;
  t_prog_exit the program's exit;
  t_end       the exit of the runtime's process (its last thread).
A phase runs from the step before to its own step; where a step is absent
the next phase counts from the step before it. Medians are taken per
phase, so they need not add up to the median total (t0 to t_end), which
is given apart.

Limits: only what the kernel sees as these events is a step; the work in
between (config parsing, cgroup writes, mounts, waits on sync pipes) is
lumped into the phase it falls in, and runtimes put the same work in
different phases (crun and berth make namespaces in the fork, runc in its
init stage; the lineage printed below the table shows where). A fork's
time is the end of the clone (namespaces made), an exec's the end of
loading the image (before ld.so or the Go runtime start), an exit's the
start of do_exit. A phase is wall time: it includes waiting for a CPU
while the runtime's other tasks (or the host's) run, so on few cores even
the program's own run differs between runtimes. Times print in
milliseconds. The cost: a ring-buffer write per event (a few dozen per
start), and, while the syscall events are enabled (the whole run), every
syscall on the host takes the kernel's traced entry path, a little slower;
the PID filter drops the others' events but not that. Runtimes that make
more syscalls pay a little more. Killed with SIGKILL this leaves its
instance: rmdir it (/sys/kernel/tracing/instances/berth-phases-PID).
"""
import json, os, re, shlex, signal, statistics, subprocess, sys

TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
FLOOR = "unshare --fork --pid --mount --uts --ipc --net --mount-proc true"
EVENTS = ("sched/sched_process_fork", "task/task_newtask", "sched/sched_process_exec",
          "sched/sched_process_exit", "syscalls/sys_enter_pivot_root", "syscalls/sys_enter_unshare")
CLONE_THREAD = 0x10000
NAMESPACES = ((0x20000, "mnt"), (0x4000000, "uts"), (0x8000000, "ipc"), (0x10000000, "user"),
              (0x20000000, "pid"), (0x40000000, "net"), (0x2000000, "cgroup"))
# (row, the step the phase ends at); each starts at the step before it.
PHASES = (("runtime before fork", "fork"), ("fork → init stage exec", "stage"),
          ("init stage exec → pivot_root", "pivot"), ("pivot_root → program exec", "prog"),
          ("program run", "prog_exit"), ("program exit → runtime exit", "end"))
STEPS = ("t0",) + tuple(s for _, s in PHASES)

LINE = re.compile(r"^\s*(?P<comm>.*)-(?P<pid>\d+)\s+(?:\(.*?\)\s+)?\[\d+\]\s+(?:\S+\s+)?(?P<ts>\d+\.\d+): (?P<body>.*)$")
KV = re.compile(r"(\w+)=(\S*)")


class Tracer:
    """A tracefs instance of our own that traces one process tree at a time."""

    def __init__(self):
        root = next((d for d in TRACEFS if os.path.exists(os.path.join(d, "instances"))), None)
        if root is None:
            sys.exit("phases: no tracefs (mount -t tracefs none /sys/kernel/tracing)")
        self.dir = os.path.join(root, "instances", "berth-phases-%d" % os.getpid())
        os.mkdir(self.dir)
        try:
            self.write("tracing_on", "0")
            self.write("trace_clock", "mono")
            # Only our own process tree: this process, and through
            # event-fork every task forked from it, the runtimes we start
            # and theirs.
            self.write("options/event-fork", "1")
            self.write("set_event_pid", str(os.getpid()))
            for e in EVENTS:
                self.write("events/%s/enable" % e, "1")
        except OSError:
            os.rmdir(self.dir)
            raise

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def run(self, cmd):
        """Runs cmd traced; returns its PID and its events, each
        (ts, pid, event, body)."""
        self.write("trace", "")  # clears the buffer
        self.write("tracing_on", "1")
        try:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        except OSError as e:
            self.write("tracing_on", "0")
            raise RuntimeError("%s: %s" % (cmd[0], e.strerror))
        Tracer.child = p
        err = p.communicate()[1]
        Tracer.child = None
        self.write("tracing_on", "0")
        if p.returncode != 0:
            raise RuntimeError("%s: exit status %d: %s" % (" ".join(cmd), p.returncode,
                                                          err.decode(errors="replace").strip()))
        with open(os.path.join(self.dir, "trace")) as f:
            text = f.read()
        # The buffer overwrites its oldest events when full: written
        # events missing from it, or a [LOST n EVENTS] mark, mean gaps.
        m = re.search(r"entries-in-buffer/entries-written: (\d+)/(\d+)", text)
        if (m and m.group(1) != m.group(2)) or re.search(r"\[LOST \d+ EVENTS\]", text):
            raise RuntimeError("%s: the trace lost events (buffer_size_kb too small?)" % cmd[0])
        events = []
        for line in text.splitlines():
            m = LINE.match(line)
            if not m:
                continue
            body = m.group("body")
            if body.startswith("sys_") and "(" in body:
                name, rest = body.split("(", 1)
            else:
                name, _, rest = body.partition(": ")
            events.append((float(m.group("ts")), int(m.group("pid")), m.group("comm"), name, rest))
        return p.pid, events, text

    def close(self):
        # Tracing off and events off before the instance goes: rmdir refuses
        # (EBUSY) while the instance's files are open, which they are not.
        try:
            self.write("tracing_on", "0")
            for e in EVENTS:
                self.write("events/%s/enable" % e, "0")
        finally:
            os.rmdir(self.dir)


Tracer.child = None


def steps(root, events, prog):
    """The steps of one run of the runtime whose PID is root (seconds, None
    where absent), and the program's lineage."""
    parent, created, execs, exits, pivots, unshares = {}, {}, {}, {}, {}, {}
    proc_of, flags = {root: root}, {}
    for ts, pid, comm, name, rest in events:
        kv = dict(KV.findall(rest))
        if name == "task_newtask":
            flags[int(kv["pid"])] = int(kv["clone_flags"], 16)
        elif name == "sched_process_fork":
            child = int(kv["child_pid"])
            parent[child], created[child] = pid, ts
            # a thread belongs to its creator's process; a process to itself
            proc_of[child] = proc_of.get(pid, pid) if flags.get(child, 0) & CLONE_THREAD else child
        elif name == "sched_process_exec":
            m = re.match(r"filename=(.*) pid=(\d+) old_pid=(\d+)$", rest)
            pid = int(m.group(2))
            execs.setdefault(pid, []).append((ts, m.group(1)))
        elif name == "sched_process_exit":
            exits.setdefault(pid, []).append((ts, kv.get("group_dead")))
        elif name == "sys_pivot_root":
            pivots.setdefault(pid, []).append(ts)
        elif name == "sys_unshare":
            unshares.setdefault(pid, []).append((ts, int(rest.split(":")[1].split(")")[0], 16)))
    if root not in execs:
        raise RuntimeError("no exec of the runtime in the trace")
    progs = [(e[0], pid) for pid, es in execs.items() for e in es if os.path.basename(e[1]) == prog]
    if not progs:
        raise RuntimeError("no exec of %s in the trace" % prog)
    t_prog, ppid = max(progs)
    # The program's lineage: the tasks from the program's up to the first
    # one the runtime's own process forked.
    line, pid = [ppid], ppid
    while pid in parent and proc_of.get(parent[pid], parent[pid]) != root:
        pid = parent[pid]
        line.append(pid)
    if pid not in parent:
        raise RuntimeError("the program's task does not descend from the runtime's")
    s = dict.fromkeys(STEPS)
    s["t0"] = execs[root][0][0]
    s["fork"] = created[pid]
    stage = [(ts, f, p) for p in line for ts, f in execs.get(p, []) if s["fork"] < ts < t_prog]
    if stage:
        s["stage"], stage_file, _ = min(stage)
    else:
        stage_file = None
    piv = [ts for p in line for ts in pivots.get(p, []) if ts > s["fork"]] or \
          [ts for p in pivots for ts in pivots[p] if ts > s["fork"]]
    s["pivot"] = min(piv) if piv else None
    s["prog"] = t_prog
    s["prog_exit"] = min((ts for ts, _ in exits.get(ppid, []) if ts > t_prog), default=None)
    group = [p for p, r in proc_of.items() if r == root]
    ends = [ts for p in group for ts, dead in exits.get(p, []) if dead != "false"]
    s["end"] = max(ends) if ends else None
    # How the program came to be, task by task: the runtime's execs and
    # unshares, then each fork on the lineage with the namespaces it made,
    # and that task's unshares and execs, in order.
    chain = []
    for p in [root] + line[::-1]:
        step = [] if p == root else [(created[p], "fork" + namespaces(flags.get(p, 0)))]
        step += [(ts, "unshare" + namespaces(f)) for ts, f in unshares.get(p, [])]
        step += [(ts, "exec " + f) for ts, f in execs.get(p, [])]
        chain.append(", ".join(what for _, what in sorted(step)))
    lineage = {"stage_exec": stage_file, "chain": " → ".join(chain),
               "tasks": len(proc_of), "processes": len(set(proc_of.values()))}
    return s, lineage


def namespaces(flags):
    """The namespaces clone or unshare flags make, as (mnt,pid,...)."""
    made = [n for bit, n in NAMESPACES if flags & bit]
    return "(%s)" % ",".join(made) if made else ""


def phases_of(s):
    """The phases' durations in ms (None where the phase's step is absent)."""
    out, last = {}, s["t0"]
    for row, step in PHASES:
        if s[step] is None:
            out[row] = None
            continue
        out[row] = (s[step] - last) * 1000
        last = s[step]
    out["total"] = (s["end"] - s["t0"]) * 1000 if s["end"] is not None else None
    return out


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def table(names, med, lineages):
    fmt = lambda x: "—" if x is None else "%.2f" % x
    out = ["| phase, median ms | " + " | ".join(names) + " |",
           "|---|" + "---:|" * len(names)]
    for row, _ in PHASES:
        out.append("| %s | %s |" % (row, " | ".join(fmt(med[n][row]) for n in names)))
    out.append("| **total** (runtime exec → runtime exit) | %s |" %
               " | ".join("**%s**" % fmt(med[n]["total"]) for n in names))
    out.append("| init stage exec'd | %s |" %
               " | ".join("`%s`" % lineages[n]["stage_exec"]
                          if lineages[n]["stage_exec"] else "—" for n in names))
    return "\n".join(out)


def parse_args(args, opts, usage, keywords=None):
    """The options in opts (each name's default replaced by the value
    given) and the NAME=COMMAND pairs of args, in order; a word of
    keywords stands for its own pair. Exits with usage on anything else,
    or when no command is given."""
    cmds, args = {}, list(args)
    while args:
        a = args.pop(0)
        if a in opts and args:
            opts[a] = args.pop(0)
        elif keywords and a in keywords:
            cmds[a] = shlex.split(keywords[a])
        elif "=" in a and not a.startswith("-"):
            name, cmd = a.split("=", 1)
            cmds[name] = shlex.split(cmd)
        else:
            sys.exit(usage)
    if not cmds:
        sys.exit(usage)
    return opts, cmds


def main():
    args = sys.argv[1:]
    opts, cmds = parse_args(args, {"--runs": "50", "--warmup": "2", "--prog": "true", "--json": None, "--trace": None},
                            __doc__, {"floor": FLOOR})
    runs, warmup, prog = int(opts["--runs"]), int(opts["--warmup"]), opts["--prog"]
    if runs < 1:
        sys.exit("phases: --runs must be at least 1")
    if os.geteuid() != 0:
        sys.exit("phases: needs root (tracefs)")
    names = list(cmds)
    got = {n: [] for n in names}
    lineages, chains = {}, {n: {} for n in names}
    # A signal ends us through the finally below, which removes the
    # instance; the runtime we started gets the signal too (by its PID),
    # and is waited for, so that it removes its container as it ends.
    def stop(sig, _):
        if Tracer.child is not None and Tracer.child.poll() is None:
            Tracer.child.send_signal(sig)
        raise KeyboardInterrupt
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    trace = open(opts["--trace"], "w") if opts["--trace"] else None
    tracer = Tracer()
    try:
        for i in range(warmup + runs):
            k = i % len(names)
            for n in names[k:] + names[:k]:
                try:
                    pid, events, text = tracer.run(cmds[n])
                    if trace:
                        trace.write("# %s, round %d, PID %d\n%s" % (n, i + 1, pid, text))
                    s, lin = steps(pid, events, prog)
                except RuntimeError as e:
                    sys.exit("phases: %s, round %d: %s" % (n, i + 1, e))
                if i >= warmup:
                    got[n].append(s)
                    lineages[n] = lin
                    chains[n][lin["chain"]] = chains[n].get(lin["chain"], 0) + 1
    except KeyboardInterrupt:
        if Tracer.child is not None:
            try:
                Tracer.child.wait(10)
            except subprocess.TimeoutExpired:
                print("phases: %s (PID %d) still runs" % (Tracer.child.args[0], Tracer.child.pid), file=sys.stderr)
        sys.exit("phases: interrupted")
    finally:
        tracer.close()
        if trace:
            trace.close()
    med = {}
    for n in names:
        ph = [phases_of(s) for s in got[n]]
        med[n] = {k: median(p[k] for p in ph) for k in ph[0]}
        med[n]["runs"] = len(ph)
    print(table(names, med, lineages))
    print("\nFrom the runtime's exec to the program's, task by task:\n")
    for n in names:
        for chain, k in sorted(chains[n].items(), key=lambda c: -c[1]):
            print("- %s: %s%s" % (n, chain, "" if k == runs else " (%d of %d runs)" % (k, runs)))
    if opts["--json"]:
        doc = {"runs": runs, "warmup": warmup, "prog": prog, "clock": "mono",
               "commands": {n: " ".join(cmds[n]) for n in names},
               "median_ms": {n: {k: v for k, v in med[n].items() if k != "runs"} for n in names},
               "lineage": lineages, "chains": chains,
               "steps_s": {n: got[n] for n in names}}
        with open(opts["--json"], "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
