/*
 * The process: the namespaces' own settings, the program's lookup, its
 * limits, identity, capabilities and seccomp filter, the start signal and
 * the exec. A port of the Go stage's (internal/initproc init.go and
 * exec.go, internal/caps apply_linux.go, internal/seccomp install.go),
 * with the same order, checks and messages, for the configs berth hands
 * this stage: no terminal, no hooks, no seccomp listener.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

#include "stage.h"
#include "wire.h"

/* Integers passed to prctl and syscall, which read longs, are cast to
 * one: an int's upper half in the register is undefined. */

/* Exit statuses for a program that cannot be started, as in Docker. */
enum { CODE_CANNOT_INVOKE = 126, CODE_NOT_FOUND = 127 };

/* quote writes s as Go's %q would (strconv.Quote), for messages that
 * berth's tests and users match: in double quotes, with quotes,
 * backslashes and control characters escaped. Bytes from 0x80 up are
 * kept as they are (Go's matches for printable UTF-8). A long s is cut. */
static const char *quote(const char *s, char *buf, size_t size)
{
	static const char esc[] = "\a\b\f\n\r\t\v", letter[] = "abfnrtv";
	size_t at = 0;

	buf[at++] = '"';
	for (; *s != '\0' && at + 6 < size; s++) {
		unsigned char c = (unsigned char)*s;
		const char *e = c != 0 ? strchr(esc, c) : NULL;

		if (c == '"' || c == '\\') {
			buf[at++] = '\\';
			buf[at++] = (char)c;
		} else if (e != NULL) {
			buf[at++] = '\\';
			buf[at++] = letter[e - esc];
		} else if (c < 0x20 || c == 0x7f) {
			at += (size_t)snprintf(buf + at, size - at, "\\x%02x", c);
		} else {
			buf[at++] = (char)c;
		}
	}
	buf[at++] = '"';
	buf[at] = '\0';
	return buf;
}

/* A quoted name or path in a message: fail's own text is as long. */
static char quoted[8192];

/* ---- The namespaces ---- */

/* loopback_up brings lo up in the new network namespace with one ioctl, a
 * cheaper path than a netlink conversation. */
static void loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fail(125, errno, "loopback");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		fail(125, errno, "loopback flags");
	ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		fail(125, errno, "bring loopback up");
	close(fd);
}

void setup_namespaces(const struct config *c)
{
	/* The network namespace berth made for the container before the
	 * fork, its network already plugged in: entered instead of one made
	 * by clone, first, and its descriptor closed. */
	if (c->netns_fd >= 0) {
		if (setns(c->netns_fd, CLONE_NEWNET) < 0)
			fail(125, errno, "enter the container's network namespace");
		close(c->netns_fd);
	}
	/* The cgroup namespace is made after joining (main.c joins first),
	 * so that the container's own cgroup is its root. */
	if (c->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		fail(125, errno, "create cgroup namespace");
	if (c->hostname != NULL && c->hostname[0] != '\0' &&
	    sethostname(c->hostname, strlen(c->hostname)) < 0)
		fail(125, errno, "set hostname");
	if (c->domainname != NULL && c->domainname[0] != '\0' &&
	    setdomainname(c->domainname, strlen(c->domainname)) < 0)
		fail(125, errno, "set domain name");
	/* A session keyring of its own, so the container cannot read the
	 * keys of whoever started it. A kernel without keys has none to
	 * read. */
	if (c->new_keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "_ses.berth", 0, 0, 0) < 0 &&
	    errno != ENOSYS)
		fail(125, errno, "join session keyring");
	if (c->new_netns)
		loopback_up();
}

/* sysctl_path makes key's file under /proc in buf, as internal/procfs's
 * SysctlPath: "net.ipv4.ip_forward" is "sys/net/ipv4/ip_forward". A key
 * with an empty, "." or ".." part is refused: it would leave /proc/sys.
 * Returns 0, or -1 for such a key or one too long. */
static int sysctl_path(const char *key, char *buf, size_t size)
{
	size_t n = strlen(key);
	const char *part;

	if (n + sizeof("sys/") > size)
		return -1;
	memcpy(buf, "sys/", 4);
	for (size_t i = 0; i <= n; i++)
		buf[4 + i] = key[i] == '.' ? '/' : key[i];
	part = buf + 4;
	for (;;) {
		const char *end = strchrnul(part, '/');
		size_t len = (size_t)(end - part);

		if (len == 0 || (len == 1 && part[0] == '.') || (len == 2 && part[0] == '.' && part[1] == '.'))
			return -1;
		if (*end == '\0')
			return 0;
		part = end + 1;
	}
}

/* write_sysctls writes each sysctl through the stage's own procfs, which
 * nothing in the container can cover (the Go stage's WriteSysctls): after
 * pivot_root, the container's /proc is whatever its mounts put there.
 * Their /proc/sys/net is the new network namespace's, as this process is
 * in it. The file is opened beneath /proc/sys, no symlink followed. */
void write_sysctls(const struct config *c)
{
	for (int i = 0; i < c->nsysctls; i++) {
		const struct sysctl *s = &c->sysctls[i];
		struct open_how how = {
			.flags = O_WRONLY | O_TRUNC | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
		};
		char path[WIRE_MAX_PATH + sizeof("sys/")];
		size_t len = strlen(s->value);
		ssize_t n;
		int fd;

		if (sysctl_path(s->key, path, sizeof(path)) < 0)
			fail(125, 0, "sysctl %s: not a valid sysctl name", s->key);
		fd = (int)syscall(SYS_openat2, proc_fd, path, &how, sizeof(how));
		if (fd < 0)
			fail(125, errno, "sysctl %s: open /proc/%s", s->key, path);
		n = write(fd, s->value, len);
		if (n < 0 || (size_t)n != len)
			fail(125, n < 0 ? errno : EIO, "sysctl %s: write /proc/%s", s->key, path);
		close(fd);
	}
}

/* ---- Finding the program ---- */

/* exec_code maps a failed exec (or stat, or access check) to Docker's
 * exit statuses, as the Go stage's execError: 127 when the program (or
 * its interpreter) does not exist, 126 when it cannot run. */
static int exec_code(int err)
{
	return err == ENOENT || err == ENOTDIR ? CODE_NOT_FOUND : CODE_CANNOT_INVOKE;
}

/* check_executable says why path cannot run: 0 when it can, else an
 * errno, EISDIR for a directory (the Go stage's checkExecutable). */
static int check_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (S_ISDIR(st.st_mode))
		return EISDIR;
	/* As the effective user (root here): any execute bit will do for
	 * root, none will not. */
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
		return errno;
	return 0;
}

/* fail_exec reports why name cannot run, as the Go stage words it. */
static void fail_exec(const char *name, int err) __attribute__((noreturn));
static void fail_exec(const char *name, int err)
{
	quote(name, quoted, sizeof(quoted));
	if (err == EISDIR)
		fail(CODE_CANNOT_INVOKE, 0, "exec %s: is a directory", quoted);
	fail(exec_code(err), err, "exec %s", quoted);
}

/* path_of is the last PATH in env, "" when there is none (as Go's
 * lookPath reads it: a later entry wins). */
static const char *path_of(char **env)
{
	const char *path = "";

	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, "PATH=", 5) == 0)
			path = *env + 5;
	return path;
}

/* lookup_program finds the program as the container would: a name without
 * a slash is searched in the PATH of the process's own environment, an
 * empty entry meaning ".". A candidate that exists but cannot run is
 * reported (126) only when no later one can; none at all is 127. */
char *lookup_program(const struct config *c)
{
	const char *name = c->argv[0], *dir = path_of(c->envp), *end;
	size_t nlen = strlen(name);
	int denied = 0, err;
	char *candidate;

	if (strchr(name, '/') != NULL) {
		if ((err = check_executable(name)) != 0)
			fail_exec(name, err);
		if ((candidate = strdup(name)) == NULL)
			fail(125, errno, "look up the program");
		return candidate;
	}
	for (;; dir = end + 1) {
		size_t dlen;

		end = strchrnul(dir, ':');
		dlen = (size_t)(end - dir);
		if (dlen == 0) {
			dir = ".";
			dlen = 1;
		}
		candidate = malloc(dlen + nlen + 2);
		if (candidate == NULL)
			fail(125, errno, "look up the program");
		sprintf(candidate, "%.*s/%s", (int)dlen, dir, name);
		err = check_executable(candidate);
		if (err == 0)
			return candidate;
		free(candidate);
		if (denied == 0 && exec_code(err) == CODE_CANNOT_INVOKE)
			denied = err;
		if (*end == '\0')
			break;
	}
	if (denied != 0)
		fail_exec(name, denied);
	fail(CODE_NOT_FOUND, 0, "exec %s: executable file not found in $PATH", quote(name, quoted, sizeof(quoted)));
}

/* ---- Capabilities (internal/caps) ---- */

/* cap_names is indexed by capability number (linux/capability.h), for
 * messages. */
static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};
#define NCAP_NAMES ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

/* cap_name is the name of capability c, also for one newer than the list. */
static const char *cap_name(int c, char *buf, size_t size)
{
	if (c < NCAP_NAMES)
		return cap_names[c];
	snprintf(buf, size, "capability %d", c);
	return buf;
}

/* last_cap is the highest capability number the running kernel knows,
 * from this stage's own procfs: the container's /proc (absent, or a
 * file mounted there that says 0) would keep every other capability in
 * the bounding set, which a root exec without no_new_privs turns into a
 * full capability set. Bits above it name nothing: they are not dropped
 * (there is nothing to drop), capset ignores them, and none is raised. */
static int last_cap(void)
{
	static int last = -1;
	char buf[16];
	ssize_t n;
	int fd;

	if (last >= 0)
		return last;
	fd = openat(proc_fd, "sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail(125, errno, "open /proc/sys/kernel/cap_last_cap");
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		fail(125, errno, "read /proc/sys/kernel/cap_last_cap");
	close(fd);
	buf[n] = '\0';
	if (sscanf(buf, "%d", &last) != 1 || last < 0)
		fail(125, 0, "read /proc/sys/kernel/cap_last_cap: %.*s is not a number", (int)n, buf);
	/* The masks have 64 bits. */
	if (last > 63)
		last = 63;
	return last;
}

/* drop_bounding removes every capability not in keep from the bounding
 * set. It needs CAP_SETPCAP, so it runs before the user changes. */
static void drop_bounding(uint64_t keep)
{
	char buf[32];

	for (int c = 0; c <= last_cap(); c++) {
		if (keep & ((uint64_t)1 << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0 && errno != EINVAL)
			fail(125, errno, "drop %s from the bounding set", cap_name(c, buf, sizeof(buf)));
	}
}

/* apply_caps sets the effective, permitted and inheritable sets, then
 * raises the ambient ones. */
static void apply_caps(const uint64_t *caps)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	uint64_t ambient;
	char buf[32];

	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(caps[CAP_EFFECTIVE] >> (32 * i));
		data[i].permitted = (uint32_t)(caps[CAP_PERMITTED] >> (32 * i));
		data[i].inheritable = (uint32_t)(caps[CAP_INHERITABLE] >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail(125, errno, "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(125, errno, "clear ambient capabilities");
	/* The kernel keeps ambient within permitted and inheritable; a config
	 * that lists more (runc's own default does) gets what the kernel
	 * allows, as with runc. */
	ambient = caps[CAP_AMBIENT] & caps[CAP_PERMITTED] & caps[CAP_INHERITABLE];
	for (int c = 0; c <= last_cap(); c++) {
		if (!(ambient & ((uint64_t)1 << c)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)c, 0, 0) < 0)
			fail(125, errno, "raise ambient %s", cap_name(c, buf, sizeof(buf)));
	}
}

/* ---- Identity ---- */

static void set_groups(const struct config *c)
{
	if (setgroups((size_t)c->ngids, (const gid_t *)c->gids) == 0)
		return;
	if (errno == EPERM && c->ngids == 0)
		/* A user namespace whose gid_map its unprivileged creator wrote
		 * denies setgroups for good (the Go stage's rule; this stage
		 * runs in none, where root may). */
		return;
	if (errno == EPERM)
		fail(125, 0, "setgroups: operation not permitted (the user namespace denies it: "
			     "rootless berth without subordinate IDs cannot give the process additional groups)");
	fail(125, errno, "setgroups");
}

/* set_identity drops the bounding set, switches to the container user
 * and sets the capability sets. */
static void set_identity(const struct config *c)
{
	int death_signal = 0;

	/* Changing credentials clears the parent-death signal; keep it. */
	(void)prctl(PR_GET_PDEATHSIG, &death_signal, 0, 0, 0);
	drop_bounding(c->caps[CAP_BOUNDING]);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail(125, errno, "keep capabilities");
	set_groups(c);
	if (setresgid(c->gid, c->gid, c->gid) < 0)
		fail(125, errno, "setgid %u", c->gid);
	if (setresuid(c->uid, c->uid, c->uid) < 0)
		fail(125, errno, "setuid %u", c->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail(125, errno, "clear keep capabilities");
	apply_caps(c->caps);
	if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(125, errno, "set no_new_privs");
	if (death_signal != 0 && prctl(PR_SET_PDEATHSIG, (unsigned long)death_signal, 0, 0, 0) < 0)
		fail(125, errno, "set parent death signal");
}

/* ---- seccomp (internal/seccomp Install) ---- */

/* install_filter loads the process's filter, if it has one, into this
 * (the only) thread and what it execs. A listener (SCMP_ACT_NOTIFY) is
 * the Go stage's work: berth sends such a config there. */
static void install_filter(const struct config *c)
{
	struct sock_filter *prog;
	struct sock_fprog fprog;
	size_t n = c->seccomp_len / sizeof(struct sock_filter);
	uint32_t rest;

	if (c->seccomp_len == 0)
		return;
	if (n == 0 || n > BPF_MAXINSNS || c->seccomp_len % sizeof(struct sock_filter) != 0)
		fail(125, 0, "seccomp: install: the program has %zu bytes, want 1 to %d instructions of %zu",
		     c->seccomp_len, BPF_MAXINSNS, sizeof(struct sock_filter));
	if (c->seccomp_flags & SECCOMP_FILTER_FLAG_TSYNC)
		fail(125, 0, "seccomp: install: SECCOMP_FILTER_FLAG_TSYNC is not supported: the filter belongs to the thread that execs");
	rest = c->seccomp_flags & ~(uint32_t)(SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW);
	if (rest != 0)
		fail(125, 0, "seccomp: install: unsupported flags %#x", rest);
	/* The message's bytes need not be aligned for struct sock_filter. */
	prog = malloc(c->seccomp_len);
	if (prog == NULL)
		fail(125, errno, "seccomp: install");
	memcpy(prog, c->seccomp, c->seccomp_len);
	fprog.len = (unsigned short)n;
	fprog.filter = prog;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned long)c->seccomp_flags, &fprog) < 0) {
		if (errno == EACCES)
			fail(125, 0, "seccomp: install: permission denied (set no_new_privs first, or keep CAP_SYS_ADMIN)");
		fail(125, errno, "seccomp: install");
	}
	free(prog);
}

/* ---- The process ---- */

static void set_rlimits(const struct config *c)
{
	for (int i = 0; i < c->nrlimits; i++) {
		/* prlimit64: the limits are 64-bit on every architecture. */
		struct { uint64_t soft, hard; } rl = {c->rlimits[i].soft, c->rlimits[i].hard};

		if (syscall(SYS_prlimit64, 0, (unsigned long)c->rlimits[i].resource, &rl, NULL) < 0)
			fail(125, errno, "set rlimit %u", c->rlimits[i].resource);
	}
}

/* set_oom_score_adj writes through the stage's own procfs: after
 * pivot_root, /proc is whatever the container's mounts put there. */
static void set_oom_score_adj(int adj)
{
	char buf[16];
	ssize_t w;
	int fd, n;

	fd = openat(proc_fd, "thread-self/oom_score_adj", O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		fail(125, errno, "set oom_score_adj: open /proc/thread-self/oom_score_adj");
	n = snprintf(buf, sizeof(buf), "%d", adj);
	w = write(fd, buf, (size_t)n);
	if (w != n)
		fail(125, w < 0 ? errno : EIO, "set oom_score_adj: write /proc/thread-self/oom_score_adj");
	close(fd);
}

static void change_dir(const char *cwd)
{
	if (chdir(cwd) < 0)
		fail(125, errno, "chdir to working directory %s", quote(cwd, quoted, sizeof(quoted)));
}

/* prepare_process applies everything about the process but the exec. It
 * runs before `start` is awaited, so a config the kernel refuses fails
 * `create`, not silently after `start`.
 *
 * The filter is in place before the exec FIFO is waited on, as in runc,
 * which engines expect. Without no_new_privs, installing it needs
 * CAP_SYS_ADMIN, so it precedes the capability drop; with no_new_privs it
 * comes after the user switch, so that fewer of this stage's own syscalls
 * are judged. */
/* reset_signals gives the program every signal's default action and an
 * empty signal mask, as a process a daemon started would have: what
 * berth's caller ignored or blocked (nohup ignores SIGHUP, a shell's
 * background job SIGINT) is nothing of the container's, and runc and crun
 * reset them too. An ignored signal and the mask survive execve; a
 * handled one does not. Raw system calls: libc refuses its own two
 * signals (32 and 33), which a caller may have ignored all the same. A
 * zeroed kernel struct sigaction is SIG_DFL on every architecture. */
static void reset_signals(void)
{
	unsigned long dfl[4] = {0}, none = 0;

	for (int sig = 1; sig <= 64; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, dfl, NULL, sizeof(none));
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(none)) < 0)
		fail(125, errno, "reset the signal mask");
}

void prepare_process(const struct config *c)
{
	int chdir_err = 0;

	/* Read now, before any filter judges this stage's syscalls: the
	 * bounding set is dropped under it. */
	(void)last_cap();
	set_rlimits(c);
	if (c->has_oom_score_adj)
		set_oom_score_adj(c->oom_score_adj);
	/* The working directory is entered as root first, as runc does: a
	 * directory the user may not search is still the process's cwd; one
	 * only the user may enter (a volume chowned to it, root_squash) is
	 * entered again below, as the user. */
	if (chdir(c->cwd) < 0) {
		chdir_err = errno;
		if (chdir_err != EACCES)
			fail(125, chdir_err, "chdir to working directory %s", quote(c->cwd, quoted, sizeof(quoted)));
	}
	/* Before any filter, which may not know rt_sigaction's use here. */
	reset_signals();
	/* Nothing the parent (or its caller) left open may reach the
	 * program. Before any filter: older profiles do not know
	 * close_range. */
	if (syscall(SYS_close_range, (unsigned long)(3 + c->preserve_fds), ~0UL, CLOSE_RANGE_CLOEXEC) < 0)
		fail(125, errno, "close inherited files");
	if (!c->no_new_privs)
		install_filter(c);
	set_identity(c);
	if (chdir_err != 0)
		change_dir(c->cwd);
	umask(c->has_umask ? (mode_t)c->umask : 022);
	if (c->no_new_privs)
		install_filter(c);
}

/* reopen_devnull puts the container's own /dev/null on the standard
 * descriptors listed, whose inherited files only held their places. */
void reopen_devnull(const struct config *c)
{
	int null;

	if (c->ndevnull == 0)
		return;
	null = open_dev_null(O_RDWR);
	for (int i = 0; i < c->ndevnull; i++)
		if (dup3(null, c->devnull[i], 0) < 0)
			fail(125, errno, "/dev/null on fd %d", c->devnull[i]);
	close(null);
}

/* set_pids_limit writes the pids limit through the descriptor berth
 * opened for it, and closes that. */
void set_pids_limit(const struct config *c)
{
	size_t len, done = 0;

	if (c->pids_fd < 0)
		return;
	len = strlen(c->pids_value);
	while (done < len) {
		ssize_t n = write(c->pids_fd, c->pids_value + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail(125, errno, "set the pids limit");
		done += (size_t)n;
	}
	close(c->pids_fd);
}

/* open_start_signal reopens the exec FIFO read-write while still root: a
 * FIFO held for both ends never blocks on open, and the container's user
 * may not be able to reach it later. The reopen goes through the stage's
 * own procfs, not the container's /proc/self/fd. */
int open_start_signal(const struct config *c)
{
	char name[64];
	int fd;

	if (c->exec_fifo_fd < 0)
		return -1;
	snprintf(name, sizeof(name), "thread-self/fd/%d", c->exec_fifo_fd);
	fd = openat(proc_fd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fail(125, errno, "open exec fifo: reopen exec.fifo");
	close(c->exec_fifo_fd);
	return fd;
}

/* wait_for_start reports "created" and blocks until `start` writes a byte
 * into the FIFO. */
void wait_for_start(int fd)
{
	char b;

	if (report_created() < 0)
		fail(125, errno, "report created");
	while (read(fd, &b, 1) < 0)
		if (errno != EINTR)
			fail(125, errno, "wait for start");
	close(fd);
}

/* exec_program execs the program, under the filter installed before. */
void exec_program(const struct config *c, const char *path)
{
	execve(path, c->argv, c->envp);
	fail_exec(c->argv[0], errno);
}
