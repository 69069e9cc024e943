/*
 * berth-stage: see stage.h for what it is, wire.h for what berth sends
 * it, and docs/design.md (Process model) for where it fits.
 *
 * The steps below are the Go stage's (internal/initproc run), in the same
 * order, for the configs berth hands this stage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include "stage.h"

int main(int argc, char **argv)
{
	struct config c;
	unsigned char *msg;
	size_t len;
	const char *why = "";
	char *path;
	int start;

	/* Nothing in the container may ptrace this process or read its
	 * descriptors while it holds berth's socket; exec makes it dumpable
	 * again. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		perror("berth-stage: set non-dumpable");
		return 125;
	}
	if (argc != 2 || (sync_fd = atoi(argv[1])) < 3) {
		fprintf(stderr, "berth-stage: bad arguments (it is started by berth, not by hand)\n");
		return 2;
	}
	msg = read_message(&len);
	if (decode_config(msg, len, &c, &why) < 0)
		fail(125, 0, "decode config: %s", why);
	free(msg);
	/* A parent that died before this point closed the socket, and the
	 * read above failed. */
	if (c.die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(125, errno, "set parent death signal");
	/* Device nodes and mount points get exactly the modes asked for; the
	 * process's own umask is set just before exec. */
	umask(0);
	proc_fd = open_private_proc();
	join_cgroups(&c);
	setup_namespaces(&c);
	prepare_rootfs(&c);
	if (c.hook_pause)
		pause_for_hooks();
	start = open_start_signal(&c);
	enter_rootfs(&c);
	write_sysctls(&c);
	finish_rootfs(&c);
	/* The program is found before "created" is reported, so that create
	 * fails, as engines expect, when it does not exist. */
	path = lookup_program(&c);
	/* Set now that this stage's own work is done, as runc sets it. */
	set_pids_limit(&c);
	reopen_devnull(&c);
	prepare_process(&c);
	if (start >= 0)
		wait_for_start(start);
	exec_program(&c, path);
}
