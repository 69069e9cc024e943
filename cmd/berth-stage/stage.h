/*
 * berth-stage: the C init stage of berth and berth-oci.
 *
 * berth forks this small static program, with the new namespaces already
 * made by clone, as the first process of a container whose config lies
 * within what it knows (internal/initproc's compact encoding decides). It
 * reads one message from berth: the compact config, already validated and
 * resolved by berth (wire.h). It joins its v1 cgroups, builds the root
 * filesystem, pivots into it, sets up the process's identity and execs the
 * program, which thereby becomes PID 1. Everything else, and any config
 * outside that subset, goes to berth-init, the Go init stage, which does
 * the same work and more. Both report to berth in the same messages
 * (internal/initproc Message, JSON), so berth reads either alike.
 *
 * Why a C stage: a Go init stage is a second Go runtime on every start
 * (about 1 ms) plus the decoding of the config's JSON; see docs/design.md.
 *
 * Files, one concern each:
 *   main.c     the order of the steps
 *   decode.c   the compact config's decoder (fuzzed: internal/initproc FuzzDecodeCompact)
 *   report.c   messages to berth, exit statuses
 *   json.h     their JSON string escaping, shared with berth-nsenter's report.c
 *   mounts.c   the root filesystem: mounts, devices, pivot_root, masks
 *   process.c  the process: limits, identity, capabilities, seccomp, exec
 *   proc.c     the stage's own procfs (proc_fd)
 */
#ifndef BERTH_STAGE_H
#define BERTH_STAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Mount kinds, decided by berth. */
enum mount_kind {
	MOUNT_FS = 1,     /* a new file system: mount(source, dest, type, flags, data) */
	MOUNT_BIND = 2,   /* a bind of source (a host path); flags may add MS_REC and remount flags */
	MOUNT_CGROUP = 3, /* the container's cgroups (cgroup_hierarchies / cgroup_path) */
};

#define MAX_PROPAGATION 4

struct mount {
	int kind;
	const char *source;      /* "" when none */
	const char *dest;        /* absolute, inside the rootfs */
	const char *type;        /* "" for binds */
	const char *data;        /* "" when none */
	unsigned long flags;     /* MS_* (MS_BIND/MS_REC for binds) */
	unsigned long propagation[MAX_PROPAGATION]; /* MS_PRIVATE|MS_REC, ... applied in order */
	int npropagation;
	uint64_t attr_set, attr_clr; /* mount_setattr(AT_RECURSIVE), when either is set */
};

struct device {
	const char *path; /* absolute, inside the rootfs */
	uint32_t mode;    /* file type and permission bits */
	uint32_t major, minor, uid, gid;
};

struct sysctl {
	const char *key;   /* as in the config: net.ipv4.ip_forward */
	const char *value;
};

struct rlimit_entry {
	uint32_t resource;
	uint64_t soft, hard;
};

/* Capability sets as bit masks (bit N = capability N). */
enum { CAP_BOUNDING, CAP_EFFECTIVE, CAP_INHERITABLE, CAP_PERMITTED, CAP_AMBIENT, NCAPSETS };

struct config {
	/* The stage itself. */
	int die_with_parent;       /* PR_SET_PDEATHSIG SIGKILL */
	int exec_fifo_fd;          /* -1, or an inherited O_PATH fd of the exec FIFO */
	int pids_fd;               /* -1, or an inherited fd of pids.max to write */
	const char *pids_value;    /* written there after the mounts */
	const char **cgroup_tasks; /* v1 tasks files to write "0" into */
	int ncgroup_tasks;
	int new_cgroupns;          /* unshare(CLONE_NEWCGROUP) after joining */
	int new_netns;             /* bring lo up */
	int netns_fd;              /* -1, or an inherited fd of the network namespace to enter
	                            * (berth made it, new, before the fork) */
	int new_keyring;           /* join a new session keyring */
	const char *hostname;      /* NULL when not set */
	const char *domainname;    /* NULL when not set */
	int hook_pause;            /* after the mounts, wait for berth's runtime hooks */
	struct sysctl *sysctls;    /* written after pivot_root, in this order */
	int nsysctls;

	/* The root filesystem. */
	const char *root;            /* host path of the rootfs */
	int readonly_root;
	unsigned long propagation;   /* applied to "/" recursively first */
	unsigned long root_propagation; /* 0, or applied to the new "/" alone after pivot */
	const char *overlay_dir;     /* NULL, or the layers directory to chdir to ... */
	const char *overlay_data;    /* ... and the overlay's mount data (lowerdir=...) */
	struct mount *mounts;
	int nmounts;
	struct device *devices;
	int ndevices;
	const char **cgroup_hierarchies; /* v1: "memory", "cpu,cpuacct", "name=systemd"; none on v2 */
	int ncgroup_hierarchies;
	const char *cgroup_path;     /* NULL, or the container's cgroup path to bind (no cgroupns) */
	const char *mkcwd;           /* NULL, or the working directory to create inside the rootfs */
	const char **masked;
	int nmasked;
	const char **readonly_paths;
	int nreadonly;

	/* The process. */
	char **argv;   /* NULL-terminated */
	int argc;
	char **envp;   /* NULL-terminated */
	int envc;
	const char *cwd;
	uint32_t uid, gid;
	uint32_t *gids;
	int ngids;
	int has_umask;
	uint32_t umask;
	uint64_t caps[NCAPSETS];
	int no_new_privs;
	struct rlimit_entry *rlimits;
	int nrlimits;
	int has_oom_score_adj;
	int oom_score_adj;
	int *devnull;  /* standard fds (0-2) to point at the container's /dev/null */
	int ndevnull;
	const unsigned char *seccomp; /* struct sock_filter instructions, 8 bytes each */
	size_t seccomp_len;           /* in bytes */
	uint32_t seccomp_flags;       /* SECCOMP_FILTER_FLAG_LOG|SPEC_ALLOW only */
	int preserve_fds;             /* fds 3..3+n-1 stay open for the program */
};

/* decode.c: decode buf (the whole message) into c. Strings and arrays are
 * allocated; buf may be freed after. Returns 0, or -1 with *why set to a
 * static description of the first problem. */
int decode_config(const unsigned char *buf, size_t len, struct config *c, const char **why);
/* print_config writes c in a stable text form (for --check and tests). */
void print_config(const struct config *c);

/* report.c: messages to berth over the sync socket (JSON, as berth-init's). */
extern int sync_fd;
/* fail reports "what: ERR" (ERR: the errno's text as Go words it; none when
 * err is 0) with exit status
 * code (125 berth's own, 126 cannot invoke, 127 not found) and exits. */
void fail(int code, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4), noreturn));
int report_created(void);
/* pause_for_hooks tells berth the mounts are done and waits until it has
 * run the runtime hooks (and berth's own networking); exits through fail
 * when it reports a failure. */
void pause_for_hooks(void);
/* read_message receives one message (the config) into a malloc'd buffer. */
unsigned char *read_message(size_t *len);

/* mounts.c */
void join_cgroups(const struct config *c);         /* write "0" to each tasks file */
void prepare_rootfs(const struct config *c);       /* propagation, root mount, mounts, devices, /dev links, cwd */
void enter_rootfs(const struct config *c);         /* pivot_root, detach the old root */
void finish_rootfs(const struct config *c);        /* masks, read-only paths, /dev and / read-only, root propagation */
/* open_dev_null opens the container's /dev/null (after enter_rootfs),
 * checked to be the null device (1:3), with flags. */
int open_dev_null(int flags);

/* process.c */
void setup_namespaces(const struct config *c);     /* cgroupns, hostname, domain, keyring, lo up */
void write_sysctls(const struct config *c);        /* through proc_fd, after pivot_root */
/* lookup_program finds argv[0] in the container (PATH of envp), exits
 * through fail(127/126) when it cannot. Returns a malloc'd path. */
char *lookup_program(const struct config *c);
void prepare_process(const struct config *c);      /* rlimits, oom, cwd, close_range, seccomp, identity, umask */
void reopen_devnull(const struct config *c);
void set_pids_limit(const struct config *c);       /* write pids_value to pids_fd, close it */
/* open_start_signal reopens the exec FIFO read-write through proc_fd
 * (-1 when the config has none); wait_for_start reports "created" and
 * blocks until `start` writes a byte, then closes it. */
int open_start_signal(const struct config *c);
void wait_for_start(int fd);
void exec_program(const struct config *c, const char *path) __attribute__((noreturn));

/* proc_fd is a handle of a procfs of the stage's own, made with fsopen
 * before any mount of the config (so nothing in the container can
 * replace what it names); process.c reaches /proc/thread-self through
 * it (oom_score_adj, reopening fds). main.c sets it, with
 * open_private_proc. */
extern int proc_fd;
/* proc.c: open_private_proc makes that procfs (fsopen/fsmount, mounted
 * nowhere) in the stage's PID namespace, or exits through fail. */
int open_private_proc(void);

#endif
