/*
 * The new namespaces and the exec of berth-init.
 *
 * A new container's init is cloned when it has new namespaces to make or a
 * PID namespace joined by path to be born in; an exec's stage, and a
 * container that only joins namespaces, exec berth-init in place.
 *
 * A PID namespace applies to children, and a Go runtime may not create
 * threads once its PID namespace for children differs from its own: the
 * container's init is therefore a child, cloned with the new namespaces
 * (owned by the user namespace just joined) and CLONE_PARENT, so that berth
 * stays its parent and waits for it. This process reports the child's PID
 * and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>

#include "nsenter.h"

void clone_child(const struct plan *p)
{
	/* A raw clone without a new stack behaves as fork; the child only
	 * calls execveat. */
	long pid = syscall(SYS_clone, p->clone_flags | CLONE_PARENT | SIGCHLD, 0, NULL, NULL, 0);

	if (pid < 0)
		die(p->sync_fd, "clone the container's namespaces", errno);
	if (pid == 0)
		return;
	if (report_pid(p->sync_fd, (int)pid) < 0) {
		/* berth is gone and would never wait for the child. */
		kill((pid_t)pid, SIGKILL);
		exit(125);
	}
	exit(0);
}

void exec_init(const struct plan *p)
{
	char *envp[] = {NULL};

	syscall(SYS_execveat, p->init_fd, "", p->init_argv, envp, AT_EMPTY_PATH);
	die(p->sync_fd, "exec berth-init", errno);
}
