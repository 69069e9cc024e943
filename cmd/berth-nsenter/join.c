/*
 * Joining: the v1 cgroups first (while this process is still the host's
 * root, which may write their tasks files), then the PID namespace for the
 * child to come, then the user namespace, whose root this process becomes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <unistd.h>

#include "nsenter.h"

void join_cgroups(const struct plan *p)
{
	for (int i = 0; i < p->ntasks; i++) {
		/* "0" is the calling thread, here the whole process. */
		if (write(p->tasks_fd[i], "0", 1) != 1)
			die(p->sync_fd, "join cgroup", errno);
		close(p->tasks_fd[i]);
	}
}

/* consume marks a descriptor used up here close-on-exec, so berth-init
 * does not inherit it (berth passes a pidfd it still needs separately). */
static void consume(int fd)
{
	fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void join_namespaces(const struct plan *p)
{
	if (p->pidns_fd != -1) {
		/* As the host's root, before the user namespace: applies to
		 * the children only. */
		if (setns(p->pidns_fd, CLONE_NEWPID) < 0)
			die(p->sync_fd, "join pid namespace", errno);
		consume(p->pidns_fd);
	}
	/* berth opened the namespace's file (/proc/PID/ns/user of a checked
	 * PID, or the config's path), checked to be a user namespace. */
	if (setns(p->userns_fd, CLONE_NEWUSER) < 0)
		die(p->sync_fd, "join user namespace", errno);
	consume(p->userns_fd);
}

/* become_root makes this process the user namespace's root: execve keeps
 * capabilities only for a process whose effective ID is that root's. */
void become_root(const struct plan *p)
{
	if (setresgid(0, 0, 0) < 0)
		die(p->sync_fd, "become root in the user namespace (gid 0 must be mapped)", errno);
	if (setresuid(0, 0, 0) < 0)
		die(p->sync_fd, "become root in the user namespace (uid 0 must be mapped)", errno);
	/* The host's groups mean nothing here; a namespace whose setgroups is
	 * denied keeps them (berth-init sets the process's own groups later). */
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		die(p->sync_fd, "drop supplementary groups", errno);
}
