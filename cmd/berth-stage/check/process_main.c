/*
 * process_check: report.c, process.c and proc.c alone, for internal/initproc's
 * tests (stage_process_test.go), with a config filled in by hand instead
 * of decoded, and mounts.c replaced by a stub (open_dev_null). Not part
 * of berth-stage: the Makefile builds the .c files of cmd/berth-stage
 * only, not of this directory.
 *
 *   process_check SYNCFD run DIR [privs]   the steps of main.c after
 *                                  the mounts, with the sysctls, identity,
 *                                  limits and filter below (run it in new PID,
 *                                  UTS and network namespaces); privs:
 *                                  without no_new_privs
 *   process_check SYNCFD lookup NAME [PATH]   lookup_program, then print
 *                                  the path found
 *   process_check SYNCFD exec PATH exec_program without a lookup
 *
 * Each first reads one message from SYNCFD (read_message) and wants "go".
 * run's descriptors: 3 a file to preserve, 5 an O_PATH handle of the exec
 * FIFO, 6 a file that stands for pids.max.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <signal.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/unistd.h>

#include "../stage.h"

/* The stub of mounts.c's: the host's /dev/null, checked as there. */
int open_dev_null(int flags)
{
	struct stat st;
	int fd = open("/dev/null", flags | O_CLOEXEC);

	if (fd < 0)
		fail(125, errno, "open /dev/null");
	if (fstat(fd, &st) < 0)
		fail(125, errno, "stat /dev/null");
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		fail(125, 0, "/dev/null is not the null device");
	return fd;
}

#define BIT(c) ((uint64_t)1 << (c))

/* filter fails mkdir and mkdirat with EPERM and allows the rest. */
static const struct sock_filter filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0), /* seccomp_data.nr */
#ifdef __NR_mkdir
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdir, 2, 0),
#else
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdirat, 2, 0),
#endif
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mkdirat, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
};

static void run(const char *dir, int no_new_privs)
{
	static char *argv[] = {"/bin/busybox", "sh", "-c",
		"id -u; id -g; id -G; grep -e Cap -e NoNewPrivs /proc/self/status; ulimit -n; ulimit -Hn; umask; pwd; hostname; "
		"cat /proc/sys/kernel/domainname; cat /proc/self/oom_score_adj; "
		"cat /proc/sys/net/ipv4/ip_default_ttl /proc/sys/net/ipv4/ip_unprivileged_port_start; cat /proc/self/cgroup; "
		"ip link show lo; readlink /proc/$$/fd/0; readlink /proc/$$/fd/3; "
		"test -e /proc/$$/fd/4 && echo sync-leaked; test -e /proc/$$/fd/5 && echo fifo-leaked; "
		"grep -c _ses.berth /proc/keys; echo pid $$; mkdir x; echo done", NULL};
	static char *envp[] = {"PATH=/usr/bin:/bin", "HOME=/", NULL};
	static uint32_t gids[] = {10, 20, 1000};
	static struct rlimit_entry rlimits[] = {{7 /* RLIMIT_NOFILE */, 1234, 2048}};
	static int devnull[] = {0};
	/* Of the new network namespace only: the run is in one. */
	static struct sysctl sysctls[] = {{"net.ipv4.ip_default_ttl", "77"}, {"net/ipv4/ip_unprivileged_port_start", "100"}};
	uint64_t keep = BIT(CAP_CHOWN) | BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE);
	struct config c;
	char *path;
	int start;

	memset(&c, 0, sizeof(c));
	c.exec_fifo_fd = 5;
	c.pids_fd = 6;
	c.netns_fd = -1;
	c.pids_value = "42";
	c.new_cgroupns = 1;
	c.new_netns = 1;
	c.new_keyring = 1;
	c.hostname = "stagetest";
	c.domainname = "stage.example";
	c.sysctls = sysctls;
	c.nsysctls = 2;
	c.argv = argv;
	c.argc = 3;
	c.envp = envp;
	c.envc = 2;
	c.cwd = dir;
	c.uid = 1000;
	c.gid = 1000;
	c.gids = gids;
	c.ngids = 3;
	c.has_umask = 1;
	c.umask = 027;
	/* Bit 63 is past any kernel's last capability: it must change
	 * nothing. Only ambient capabilities both permitted and inheritable
	 * are raised: not CAP_KILL (not inheritable), not CAP_SYS_ADMIN
	 * (neither). */
	c.caps[CAP_BOUNDING] = keep | BIT(CAP_NET_RAW) | BIT(63);
	c.caps[CAP_EFFECTIVE] = keep | BIT(63);
	c.caps[CAP_PERMITTED] = keep | BIT(63);
	c.caps[CAP_INHERITABLE] = BIT(CAP_CHOWN) | BIT(CAP_NET_BIND_SERVICE) | BIT(63);
	c.caps[CAP_AMBIENT] = BIT(CAP_CHOWN) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_KILL) | BIT(CAP_SYS_ADMIN) | BIT(63);
	c.no_new_privs = no_new_privs;
	c.rlimits = rlimits;
	c.nrlimits = 1;
	c.has_oom_score_adj = 1;
	c.oom_score_adj = 500;
	c.devnull = devnull;
	c.ndevnull = 1;
	c.seccomp = (const unsigned char *)filter;
	c.seccomp_len = sizeof(filter);
	c.preserve_fds = 1;

	/* main.c's steps, those of mounts.c left out. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(125, errno, "set parent death signal");
	umask(0);
	proc_fd = open_private_proc();
	setup_namespaces(&c);
	write_sysctls(&c);
	start = open_start_signal(&c);
	path = lookup_program(&c);
	set_pids_limit(&c);
	reopen_devnull(&c);
	prepare_process(&c);
	if (start >= 0)
		wait_for_start(start);
	exec_program(&c, path);
}

static void lookup(const char *name, const char *pathenv)
{
	char *argv[] = {(char *)name, NULL}, *envp[] = {NULL, NULL}, *path;
	struct config c;

	memset(&c, 0, sizeof(c));
	c.argv = argv;
	c.argc = 1;
	c.envp = envp;
	if (pathenv != NULL && asprintf(&envp[0], "PATH=%s", pathenv) < 0)
		return;
	path = lookup_program(&c);
	printf("%s\n", path);
}

static void exec_only(const char *path)
{
	char *argv[] = {(char *)path, NULL}, *envp[] = {NULL};
	struct config c;

	memset(&c, 0, sizeof(c));
	c.argv = argv;
	c.argc = 1;
	c.envp = envp;
	exec_program(&c, path);
}

int main(int argc, char **argv)
{
	unsigned char *msg;
	size_t len;

	if (argc < 4) {
		fprintf(stderr, "usage: process_check SYNCFD run DIR | lookup NAME [PATH] | exec PATH\n");
		return 2;
	}
	sync_fd = atoi(argv[1]);
	msg = read_message(&len);
	if (len != 2 || memcmp(msg, "go", 2) != 0)
		fail(125, 0, "want the message \"go\"");
	free(msg);
	if (strcmp(argv[2], "run") == 0)
		run(argv[3], !(argc > 4 && strcmp(argv[4], "privs") == 0));
	else if (strcmp(argv[2], "lookup") == 0)
		lookup(argv[3], argc > 4 ? argv[4] : NULL);
	else if (strcmp(argv[2], "exec") == 0)
		exec_only(argv[3]);
	return 0;
}
