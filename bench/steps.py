#!/usr/bin/env python3
"""bench/steps.py: berth run against berth-oci, step by step, from the
kernel's tracing of function entries (uprobes) in unstripped builds.

Usage: bench/steps.py [--runs N] [--warmup N] [--json FILE]
                      NAME=COMMAND ...
  NAME=COMMAND  a start command whose program (argv[0]) is an unstripped
                berth or berth-oci (go build without -s -w: the probes are
                placed by symbol), e.g.
                berth='bin/berth --root R run --rm --network none --rootfs F true';
  --runs N      timed runs per command (default 50), round robin;
  --warmup N    untimed rounds first (default 2);
  --json FILE   also write the medians and every run's steps to FILE.
Needs root and tracefs. Prints a markdown table.

phases.py cuts a start at what the kernel does (fork, exec, pivot_root,
exit), which berth run and berth-oci do alike; what berth run does more
happens inside "runtime before fork" and "program exit → runtime exit".
This cuts those two apart at the entry of the Go functions that do each
step (STEPS), so that berth run's extra work shows step by step beside
berth-oci's same steps. A uprobe at each function's entry records a
tracefs event (in phases.py's instance, which traces our process tree
only), beside phases.py's fork, exec and exit events; a step absent from a
runtime (berth-oci has no record or name) is "—", and its time falls in
the next step's row. Each probe costs a breakpoint trap, a few
microseconds, a dozen per start, alike for both. The probes are defined
in tracefs's uprobe_events under a group of this process's own
(berth_steps_PID), removed at the end.
"""
import json, os, signal, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phases  # noqa: E402

PKG = "github.com/berth-runtime/berth/internal/"
# (probe name, function, the row of the step that ends where it is entered),
# in the order a start reaches them; then the kernel's steps, then the exit.
BEFORE = (
    ("main", "main.main", "exec → main: the Go runtime and package init"),
    ("command", "main.runContainer", "the command line: cobra's command tree and flags, parsed"),
    ("prepare_done", PKG + "engine.(*Engine).Create", "flags → the container's configuration"),
    ("store_create", PKG + "managed.Store.Create", "the ID, name and checks"),
    ("run_once", PKG + "engine.(*Engine).runOnce", "the record, its name and hint, the create event"),
    ("from_options", PKG + "spec.FromRunOptions", "the run's options: user namespace, mounts"),
    ("load_bundle", PKG + "spec.LoadBundle", "berth-oci: its command line"),
    ("run", PKG + "container.Run", "the OCI spec (berth: from the options, the user from /etc/passwd; "
                                     "berth-oci: config.json read and checked)"),
    ("fork_start", PKG + "container.(*initProcess).fork", "the state record, the cgroup, the init stage's config"),
)
AFTER = (
    ("release", PKG + "container.(*Container).release", "program exit → the exit status, poststop"),
    ("remove", PKG + "managed.Store.Remove", "the cgroup and state removed, the die event"),
)
KERNEL = (("fork", "the init stage forked: clone, the namespaces"),
          ("prog", "init stage → program exec: mounts, pivot_root"),
          ("prog_exit", "program run"))
END = "→ the runtime's exit (berth-oci: the cgroup and state removed; berth: the record removed, the destroy event)"


class Probes:
    """uprobes at function entries of the binaries given, in tracer's
    instance; the definitions are global to tracefs, so they are made
    under a group of our own and removed at the end."""

    def __init__(self, tracer):
        self.root = os.path.dirname(os.path.dirname(tracer.dir))
        self.group = "berth_steps_%d" % os.getpid()
        self.tracer, self.defined, self.enabled = tracer, [], []
        self.names = {}  # event name -> probe name

    def place(self, binaries):
        for b in binaries:
            syms = symbols(b)
            for probe, func, _ in BEFORE + AFTER:
                if func not in syms:
                    continue
                event = "%s_%d" % (probe, len(self.defined))
                self.define("p:%s/%s %s:0x%x" % (self.group, event, b, syms[func]))
                self.defined.append(event)
                self.names[event] = probe
        for event in self.defined:
            self.tracer.write("events/%s/%s/enable" % (self.group, event), "1")
            self.enabled.append(event)

    def define(self, line):
        # os.open: Python's append mode seeks to the end, which tracefs
        # refuses.
        try:
            fd = os.open(os.path.join(self.root, "uprobe_events"), os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        except OSError as e:
            raise RuntimeError("uprobe_events: %s: %s" % (line, e.strerror))

    def close(self):
        for event in self.enabled:
            self.tracer.write("events/%s/%s/enable" % (self.group, event), "0")
        for event in self.defined:
            self.define("-:%s/%s" % (self.group, event))


def symbols(binary):
    """Function symbol → file offset of its entry, from go tool nm and the
    ELF's load segments."""
    out = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout
    segs = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            segs.append((int(f[2], 16), int(f[4], 16), int(f[1], 16)))  # vaddr, filesz, offset
    nm = subprocess.run(["go", "tool", "nm", binary], capture_output=True, text=True)
    if nm.returncode != 0 or not nm.stdout:
        sys.exit("steps: %s has no symbols (build it without -s -w): %s" % (binary, nm.stderr.strip()))
    syms = {}
    for line in nm.stdout.splitlines():
        f = line.split(None, 2)
        if len(f) == 3 and f[1] == "T":
            addr = int(f[0], 16)
            for vaddr, size, off in segs:
                if vaddr <= addr < vaddr + size:
                    syms[f[2]] = addr - vaddr + off
    return syms


def run_steps(root, events, names):
    """One run's steps: the function entries (first hit of each, in the
    runtime's own process) and phases.py's kernel steps, in seconds."""
    s, _ = phases.steps(root, events, "true")
    got = {"t0": s["t0"], "fork": s["fork"], "prog": s["prog"], "prog_exit": s["prog_exit"], "end": s["end"]}
    for ts, pid, comm, name, rest in events:
        probe = names.get(name)
        if probe and probe not in got:
            got[probe] = ts
    return got


def rows_of(got):
    """The rows' durations in ms for one run: each step's time from the
    step before it that this runtime reached."""
    order = [p for p, _, _ in BEFORE] + [k for k, _ in KERNEL] + [p for p, _, _ in AFTER] + ["end"]
    out, last = {}, got["t0"]
    for step in order:
        if got.get(step) is None:
            out[step] = None
            continue
        out[step] = (got[step] - last) * 1000
        last = got[step]
    out["total"] = (got["end"] - got["t0"]) * 1000
    return out


def table(names, med):
    fmt = lambda x: "—" if x is None else "%.2f" % x
    labels = [(p, l) for p, _, l in BEFORE] + list(KERNEL) + [(p, l) for p, _, l in AFTER] + [("end", END)]
    out = ["| step, median ms | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for step, label in labels:
        if all(med[n][step] is None for n in names):
            continue
        out.append("| %s | %s |" % (label, " | ".join(fmt(med[n][step]) for n in names)))
    out.append("| **total** (exec → exit) | %s |" % " | ".join("**%s**" % fmt(med[n]["total"]) for n in names))
    return "\n".join(out)


def main():
    opts, cmds = phases.parse_args(sys.argv[1:], {"--runs": "50", "--warmup": "2", "--json": None}, __doc__)
    if os.geteuid() != 0:
        sys.exit("steps: needs root (tracefs)")
    runs, warmup = int(opts["--runs"]), int(opts["--warmup"])
    names = list(cmds)
    got = {n: [] for n in names}

    def stop(sig, _):
        if phases.Tracer.child is not None and phases.Tracer.child.poll() is None:
            phases.Tracer.child.send_signal(sig)
        raise KeyboardInterrupt
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    tracer = phases.Tracer()
    probes = Probes(tracer)
    try:
        probes.place(sorted({os.path.realpath(c[0]) for c in cmds.values()}))
        for i in range(warmup + runs):
            k = i % len(names)
            for n in names[k:] + names[:k]:
                try:
                    pid, events, _ = tracer.run(cmds[n])
                    s = run_steps(pid, events, probes.names)
                except RuntimeError as e:
                    sys.exit("steps: %s, round %d: %s" % (n, i + 1, e))
                if i >= warmup:
                    got[n].append(s)
    except KeyboardInterrupt:
        if phases.Tracer.child is not None:
            phases.Tracer.child.wait(10)
        sys.exit("steps: interrupted")
    finally:
        try:
            probes.close()
        finally:
            tracer.close()
    med = {}
    for n in names:
        rows = [rows_of(s) for s in got[n]]
        med[n] = {k: phases.median(r[k] for r in rows) for k in rows[0]}
    print(table(names, med))
    if opts["--json"]:
        with open(opts["--json"], "w") as f:
            json.dump({"runs": runs, "warmup": warmup, "commands": {n: " ".join(cmds[n]) for n in names},
                       "median_ms": med, "steps_s": got}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
