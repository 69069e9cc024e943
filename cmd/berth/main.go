// Command berth runs containers for people, the way docker run does,
// without a daemon.
package main

import (
	"os"
	"runtime"

	"github.com/berth-runtime/berth/internal/engine"
	"github.com/berth-runtime/berth/internal/initproc"
	"github.com/berth-runtime/berth/internal/network/nft"
	"github.com/berth-runtime/berth/internal/rootless"
	"github.com/berth-runtime/berth/internal/selfexe"

	// One P when the CPUs are all taken as it starts: no spinning threads
	// and handoffs taking CPU from the other starts (docs/design.md,
	// Process model).
	_ "github.com/berth-runtime/berth/internal/cpubusy"
)

func init() {
	// The main thread is the process as others see it: /proc/PID/net,
	// /proc/PID/ns and the listening sockets of published ports are read
	// through it. Keep it on the main goroutine, so that a goroutine that
	// enters a container's network namespace on a thread it then discards
	// (link.handleAt) can never land there: Go cannot discard the main
	// thread, and would leave it in the container's namespace.
	runtime.LockOSThread()
}

func main() {
	// The holder of a finished command's netfilter sockets (nft.HandOff).
	nft.HoldStage()
	// Rootless berth entering its user namespace: wait to be mapped,
	// then re-execute as the namespace's root.
	rootless.ContinueStage()
	// The stages the user's berth vouched for before entering it.
	selfexe.Adopt(rootless.Inside())
	// The init stage is berth re-executed inside the container's
	// namespaces; it must not pay for the command-line machinery.
	if initproc.IsInitStage() {
		initproc.Main()
	}
	// A detached container's monitor stays for the container's life:
	// it skips the command tree, whose memory it would hold all along.
	if opts, id, restore, ok := engine.ParseMonitorArgs(os.Args[1:]); ok && (!rootless.Active() || rootless.Inside()) {
		exitOffMain(func() int { return monitor(opts, id, restore) })
	}
	// The monitor again, exec'd by berth-monitor once the container exited.
	if opts, exited, ok := engine.ParseMonitorExitedArgs(os.Args[1:]); ok && !rootless.Active() {
		opts.Warn = printWarning
		exitOffMain(func() int { return cli.Report(engine.New(opts).MonitorExited(exited)) })
	}
	if startsContainer(os.Args[1:]) {
		go engine.WarmEncoders()
	}
	exitOffMain(func() int { return execute(os.Args[1:]) })
}

// exitOffMain runs the command on a goroutine of its own and exits with
// its status, while the main goroutine, locked to the main thread (see
// init), waits there for good. A locked goroutine pays for each of its
// waits (a channel, a poller read, a child's exit) with a handoff between
// two OS threads, two context switches: about 45 per berth run.
func exitOffMain(command func() int) {
	go func() { os.Exit(command()) }()
	select {}
}

// startsContainer guesses, before the command line is parsed, whether the
// command starts a container: any argument naming such a command will do,
// since a wrong guess costs only some CPU on another core.
func startsContainer(args []string) bool {
	for _, a := range args {
		switch a {
		case "run", "create", "start", "restart":
			return true
		}
	}
	return false
}

// monitor is berth run --monitor: container id's monitor (engine.Monitor).
func monitor(opts engine.Options, id string, restore *engine.Restore) int {
	opts.Warn = printWarning
	return cli.Report(engine.New(opts).Monitor(id, restore))
}
