/*
 * mounts_main: a test driver for mounts.c alone (internal/initproc's
 * stage_mounts_test builds it with ../mounts.c and ../proc.c). It fills a
 * Docker-like config by hand, provides what report.c would (fail,
 * sync_fd), runs the root filesystem's steps and execs the rest of its
 * arguments in the new root.
 *
 *   mounts_main ROOT SCENARIO PROGRAM ARGS...
 *
 * SCENARIO: "docker" (proc, /dev tmpfs with devices, devpts, shm, mqueue,
 * sysfs, v1 cgroups, masks, read-only /proc/sys), "nodev" (the same
 * without a /dev mount or devices: the image's /dev is used as it is),
 * "rodev" (docker with /dev read-only), "badopt" (a tmpfs with an option
 * the kernel does not know), "procescape" (a bind on /data/hostname, for
 * an image whose /data leads into /proc), "overlay" (the rootfs an
 * overlay of ROOT/../layers/lower), "cgpath" (cgroups bound from the
 * host's hierarchies), "shared" (an rshared tree), "badtask" (a tasks
 * file that does not exist). Every scenario makes the root read-only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../stage.h"

int sync_fd = -1;

void fail(int code, int err, const char *fmt, ...)
{
	va_list ap;

	fputs("berth-stage: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(code);
}

#define NOSUID_NODEV_NOEXEC (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static struct mount docker_mounts[] = {
	{.kind = MOUNT_FS, .source = "proc", .dest = "/proc", .type = "proc", .data = "", .flags = NOSUID_NODEV_NOEXEC},
	{.kind = MOUNT_FS, .source = "tmpfs", .dest = "/dev", .type = "tmpfs", .data = "size=65536k,mode=755", .flags = MS_NOSUID | MS_STRICTATIME},
	{.kind = MOUNT_FS, .source = "devpts", .dest = "/dev/pts", .type = "devpts", .data = "newinstance,ptmxmode=0666,mode=0620,gid=5", .flags = MS_NOSUID | MS_NOEXEC},
	{.kind = MOUNT_FS, .source = "shm", .dest = "/dev/shm", .type = "tmpfs", .data = "mode=1777,size=65536k", .flags = NOSUID_NODEV_NOEXEC},
	{.kind = MOUNT_FS, .source = "mqueue", .dest = "/dev/mqueue", .type = "mqueue", .data = "", .flags = NOSUID_NODEV_NOEXEC},
	{.kind = MOUNT_FS, .source = "sysfs", .dest = "/sys", .type = "sysfs", .data = "", .flags = NOSUID_NODEV_NOEXEC | MS_RDONLY},
	{.kind = MOUNT_CGROUP, .source = "cgroup", .dest = "/sys/fs/cgroup", .type = "cgroup", .data = "", .flags = NOSUID_NODEV_NOEXEC | MS_RDONLY},
	/* A file bind with a remount flag, and a propagation. */
	{.kind = MOUNT_BIND, .source = "/etc/hostname", .dest = "/etc/hostname", .type = "", .data = "", .flags = MS_BIND | MS_RDONLY,
	 .propagation = {MS_PRIVATE}, .npropagation = 1},
};

static const struct mount bad_option = {.kind = MOUNT_FS, .source = "tmpfs", .dest = "/tmp", .type = "tmpfs", .data = "size=1m,foo=bar", .flags = MS_NOSUID};
static const struct mount proc_escape = {.kind = MOUNT_BIND, .source = "/etc/hostname", .dest = "/data/hostname", .type = "", .data = "", .flags = MS_BIND};

static struct device docker_devices[] = {
	{.path = "/dev/null", .mode = S_IFCHR | 0666, .major = 1, .minor = 3},
	{.path = "/dev/zero", .mode = S_IFCHR | 0666, .major = 1, .minor = 5},
	{.path = "/dev/tty", .mode = S_IFCHR | 0666, .major = 5, .minor = 0},
};

static const char *hierarchies[] = {"memory", "pids", "cpu", "name=systemd"};
static const char *masked[] = {"/proc/kcore", "/proc/asound", "/proc/acpi", "/proc/timer_list", "/proc/keys", "/proc/nonexistent"};
static const char *readonly[] = {"/proc/sys", "/proc/sysrq-trigger", "/proc/nonexistent"};
static const char *bad_tasks[] = {"/sys/fs/cgroup/nonexistent/tasks"};

int main(int argc, char **argv)
{
	struct config c;
	int null;

	if (argc < 4) {
		fprintf(stderr, "usage: mounts_main ROOT SCENARIO PROGRAM ARGS...\n");
		return 2;
	}
	memset(&c, 0, sizeof(c));
	c.root = argv[1];
	c.propagation = MS_PRIVATE | MS_REC;
	c.mounts = docker_mounts;
	c.nmounts = sizeof(docker_mounts) / sizeof(docker_mounts[0]);
	c.devices = docker_devices;
	c.ndevices = sizeof(docker_devices) / sizeof(docker_devices[0]);
	c.cgroup_hierarchies = hierarchies;
	c.ncgroup_hierarchies = sizeof(hierarchies) / sizeof(hierarchies[0]);
	c.masked = masked;
	c.nmasked = sizeof(masked) / sizeof(masked[0]);
	c.readonly_paths = readonly;
	c.nreadonly = sizeof(readonly) / sizeof(readonly[0]);
	c.mkcwd = "/work/dir";
	c.root_propagation = MS_SLAVE | MS_REC;
	c.readonly_root = 1;
	if (strcmp(argv[2], "nodev") == 0) {
		/* Without /dev and its submounts (entries 1-4) or devices. */
		memmove(&docker_mounts[1], &docker_mounts[5], sizeof(docker_mounts[0]) * (size_t)(c.nmounts - 5));
		c.nmounts -= 4;
		c.ndevices = 0;
	} else if (strcmp(argv[2], "rodev") == 0) {
		docker_mounts[1].flags |= MS_RDONLY;
	} else if (strcmp(argv[2], "badopt") == 0) {
		/* The last entry (the file bind) becomes a tmpfs the kernel refuses. */
		docker_mounts[c.nmounts - 1] = bad_option;
	} else if (strcmp(argv[2], "procescape") == 0) {
		/* The image's /data is a symlink into /proc/sys. */
		docker_mounts[c.nmounts - 1] = proc_escape;
	} else if (strcmp(argv[2], "overlay") == 0) {
		/* ROOT/../layers holds lower (the image), upper and work. */
		static char layers[4096];

		snprintf(layers, sizeof(layers), "%s/../layers", c.root);
		c.overlay_dir = layers;
		c.overlay_data = "lowerdir=lower,upperdir=upper,workdir=work";
	} else if (strcmp(argv[2], "cgpath") == 0) {
		/* No cgroup namespace: each hierarchy's directory is bound. */
		c.cgroup_path = "/";
	} else if (strcmp(argv[2], "shared") == 0) {
		c.propagation = MS_SHARED | MS_REC;
		c.root_propagation = MS_SHARED;
	} else if (strcmp(argv[2], "badtask") == 0) {
		c.cgroup_tasks = bad_tasks;
		c.ncgroup_tasks = 1;
	} else if (strcmp(argv[2], "docker") != 0) {
		fprintf(stderr, "unknown scenario %s\n", argv[2]);
		return 2;
	}
	umask(0);
	proc_fd = open_private_proc();
	join_cgroups(&c);
	prepare_rootfs(&c);
	enter_rootfs(&c);
	finish_rootfs(&c);
	null = open_dev_null(O_RDWR);
	if (dup2(null, 0) < 0)
		fail(125, errno, "dup2 /dev/null");
	if (chdir("/work/dir") < 0)
		fail(125, errno, "chdir /work/dir");
	execv(argv[3], argv + 3);
	fail(127, errno, "exec %s", argv[3]);
}
