/*
 * The stage's own procfs (proc_fd), opened by main.c and by the check
 * drivers (check/process_main.c, check/mounts_main.c) alike.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#include "stage.h"

int proc_fd = -1;

/* open_private_proc makes a procfs of the stage's own, mounted nowhere:
 * a detached mount that nothing in the container can reach, cover or
 * replace, as internal/procfs's verified handle is for the Go stage.
 * It is made in the new PID namespace, so thread-self names this
 * process. */
int open_private_proc(void)
{
	int fs, mnt;

	fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
	if (fs < 0)
		fail(125, errno, "open a private procfs: fsopen");
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		fail(125, errno, "open a private procfs: create");
	mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		fail(125, errno, "open a private procfs: fsmount");
	close(fs);
	return mnt;
}
