// Package initproc is the init stage: the first process inside a new
// container's namespaces. berth re-executes its own binary (from a sealed,
// read-only copy) under the name Argv0; the process reads a compact,
// already-validated Config from the parent over a socket, joins its
// cgroups, builds the root filesystem, drops privileges and execs the
// container's program, which thereby becomes PID 1. Everything that
// changes per-thread state (credentials, capabilities, namespaces) happens
// on the main thread, which is the one that calls execve.
package initproc

import (
	"github.com/berth-runtime/berth/internal/caps"
	"github.com/berth-runtime/berth/internal/rootfs"
	"github.com/berth-runtime/berth/internal/terminal"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Argv0 is the name the init stage runs under: berth's main checks it
// before doing anything else.
const Argv0 = "berth-init"

// The socket to the parent is passed as the descriptor named by argv[1]:
// it comes after any descriptors preserved for the program.

// Config is what the init stage is told to do. It is built by the parent
// from a validated OCI config, so the init stage neither parses nor
// re-validates JSON it did not produce itself.
type Config struct {
	Rootfs   rootfs.Config `json:"rootfs"`
	Hostname string        `json:"hostname,omitempty"`
	Domain   string        `json:"domainname,omitempty"`
	// CgroupTasks are the v1 tasks files to write 0 into.
	CgroupTasks []string `json:"cgroupTasks,omitempty"`
	NewCgroupNS bool     `json:"cgroupns,omitempty"`
	// PidsLimit is the container's pids limit, for the init stage to set
	// once it has finished: it runs in the container's cgroup with all
	// its threads (cgroup v2, or a user namespace), which must neither
	// count against the limit nor fail under it (see
	// cgroups.OpenPidsMax).
	PidsLimit *DeferredLimit `json:"pidsLimit,omitempty"`
	NewNetNS  bool           `json:"netns,omitempty"`
	// NetNSFD, when set, is an inherited descriptor of the container's
	// network namespace, new, that berth made (its loopback up, its
	// network plugged in meanwhile) before the fork: the init stage
	// enters it first, instead of clone making one. NewNetNS is then
	// false: the loopback is not the init stage's to bring up.
	NetNSFD int `json:"netnsFD,omitempty"`
	// Join are existing namespaces to enter, by path (a PID namespace
	// is entered by the parent before the fork).
	Join    []Namespace `json:"join,omitempty"`
	Process Process     `json:"process"`
	// DieWithParent kills the container when the berth process that
	// started it dies (berth run); berth-oci create leaves it running.
	DieWithParent bool `json:"dieWithParent,omitempty"`
	// ExecFifoFD, when set, is an inherited O_PATH descriptor of the exec
	// FIFO: the init stage reports "created" and waits until `start`
	// opens the FIFO before it execs. A descriptor, not a path, so that
	// the state directory can stay closed to a user namespace's root.
	ExecFifoFD int `json:"execFifoFD,omitempty"`
	// HookPause makes the init stage stop after mounting, so the parent
	// can run the prestart and createRuntime hooks.
	HookPause bool `json:"hookPause,omitempty"`
	// CreateContainerHooks run inside the container's namespaces before
	// pivot_root, StartContainerHooks after start, before the exec.
	CreateContainerHooks []specs.Hook      `json:"createContainerHooks,omitempty"`
	StartContainerHooks  []specs.Hook      `json:"startContainerHooks,omitempty"`
	State                specs.State       `json:"state"`
	NoPivot              bool              `json:"noPivot,omitempty"`
	NewKeyring           bool              `json:"newKeyring,omitempty"`
	Sysctl               map[string]string `json:"sysctl,omitempty"`
	// PreserveFDs is how many descriptors after stdio the program keeps.
	PreserveFDs int `json:"preserveFDs,omitempty"`
	// Exec starts a further process in a running container: the init
	// stage joins its cgroups and Target's namespaces, then forks the
	// program into its PID namespace (see runExec).
	Exec   bool    `json:"exec,omitempty"`
	Target *Target `json:"target,omitempty"`
}

// DeferredLimit is a cgroup limit the init stage writes, through an
// inherited descriptor of the cgroup file that the runtime opened.
type DeferredLimit struct {
	FD    int    `json:"fd"`
	Value string `json:"value"`
}

// Target is the running container an exec joins, named by a pidfd of its
// init process that the parent opened and checked: a recycled PID cannot
// redirect the exec into another process's namespaces.
type Target struct {
	PidFD int `json:"pidfd"` // an inherited descriptor
	// Pid is the same process, for kernels before 5.8, which cannot setns
	// through a pidfd: its /proc/PID/ns files are opened, then the pidfd
	// proves the PID still named it.
	Pid int `json:"pid"`
	// Namespaces are the CLONE_NEW* flags to join (PID among them: it
	// applies to the program forked afterwards).
	Namespaces uintptr `json:"namespaces"`
	// Chroot enters the init process's root: a container without a mount
	// namespace of its own chroots inside the host's, whose root joining
	// the namespace would give.
	Chroot bool `json:"chroot,omitempty"`
	// UserNamespace: berth-nsenter has made this stage the root of the
	// container's user namespace, which may not mount a procfs for the
	// host's PID namespace that this stage stays in; its procfs is opened
	// before it joins the container's mount namespace, whose /proc does
	// not show it.
	UserNamespace bool `json:"userns,omitempty"`
}

// Namespace is an existing namespace to join.
type Namespace struct {
	Type uintptr `json:"type"` // CLONE_NEW* flag
	Path string  `json:"path"`
}

// Process is the program to exec and the identity it runs with.
type Process struct {
	Args            []string      `json:"args"`
	Env             []string      `json:"env,omitempty"`
	Cwd             string        `json:"cwd"`
	UID             uint32        `json:"uid"`
	GID             uint32        `json:"gid"`
	AdditionalGids  []uint32      `json:"gids,omitempty"`
	Umask           *uint32       `json:"umask,omitempty"`
	Caps            caps.Sets     `json:"caps"`
	NoNewPrivileges bool          `json:"noNewPrivileges,omitempty"`
	Rlimits         []Rlimit      `json:"rlimits,omitempty"`
	OOMScoreAdj     *int          `json:"oomScoreAdj,omitempty"`
	Terminal        bool          `json:"terminal,omitempty"`
	ConsoleSize     terminal.Size `json:"consoleSize,omitempty"`
	// DevNull are standard descriptors (0-2) that get the container's
	// own /dev/null: what the parent passed there only held the place.
	DevNull []int `json:"devNull,omitempty"`
	// Seccomp is a compiled filter program (8 bytes an instruction, in
	// the kernel's struct sock_filter layout), installed last.
	Seccomp      []byte `json:"seccomp,omitempty"`
	SeccompFlags uint   `json:"seccompFlags,omitempty"`
}

// Rlimit is one resource limit.
type Rlimit struct {
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// Message is what the init stage reports to the parent before it execs.
// On success the socket simply closes at exec.
type Message struct {
	// Type is MsgHooks, MsgSeccomp, MsgCreated, MsgForked or MsgError.
	Type string `json:"type"`
	// Pid is the forked program's PID (MsgForked).
	Pid int `json:"pid,omitempty"`
	// FD is the seccomp listener's descriptor number in the init stage
	// (MsgSeccomp), for the parent to take with pidfd_getfd.
	FD int `json:"fd,omitempty"`
	// Error says why the container could not start; Code is the exit
	// status to give the user (125, 126 or 127).
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
}

// Messages between the init stage and its parent.
const (
	MsgHooks    = "hooks"    // init → parent: mounts are done, run the runtime hooks
	MsgContinue = "continue" // parent → init: hooks are done, or the seccomp agent has the listener
	MsgSeccomp  = "seccomp"  // init → parent: the filter is in place; pass its listener to the agent
	MsgCreated  = "created"  // init → parent: waiting on the exec FIFO
	MsgForked   = "forked"   // init → parent: exec's program runs, with this PID
	MsgError    = "error"    // init → parent: the container cannot start
)
