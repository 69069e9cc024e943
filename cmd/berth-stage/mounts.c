/*
 * The root filesystem: the Go stage's cgroups.Join, rootfs.Prepare,
 * rootfs.Pivot and rootfs.Finish (internal/rootfs), for the configs this
 * stage takes (no user namespace, so none of its fallbacks for one).
 *
 * Every destination is resolved inside the rootfs (openat2
 * RESOLVE_IN_ROOT) and handed to mount(2) as the number of its
 * descriptor, relative to thread-self/fd of the stage's own procfs
 * (proc_fd), which is the working directory while mounting: a hostile
 * image's symlinks, or anything mounted over the container's /proc,
 * cannot redirect a mount to the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/openat2.h>

#include "stage.h"

/* A descriptor's number as a path, for mount(2) inside in_fd_dir. */
typedef char fdname_t[16];

static const char *fdname(fdname_t buf, int fd)
{
	snprintf(buf, sizeof(fdname_t), "%d", fd);
	return buf;
}

/* clean_path is Go's path.Clean("/" + p) into out (PATH_MAX bytes):
 * absolute, no ".", "..", or repeated or trailing slashes. */
static void clean_path(const char *p, char *out)
{
	size_t n = 0;

	out[n++] = '/';
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);

		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 1 && out[n - 1] != '/')
				n--;
			if (n > 1)
				n--;
		} else if (n + len + 1 < PATH_MAX) {
			if (n > 1)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p = *end ? end + 1 : end;
	}
	out[n] = '\0';
}

static int is_dev(const struct mount *m)
{
	char p[PATH_MAX];

	clean_path(m->dest, p);
	return strcmp(p, "/dev") == 0;
}

/* ---- cgroups ---- */

void join_cgroups(const struct config *c)
{
	for (int i = 0; i < c->ncgroup_tasks; i++) {
		const char *f = c->cgroup_tasks[i];
		int fd = open(f, O_WRONLY | O_CLOEXEC | O_TRUNC);

		if (fd < 0)
			fail(125, errno, "join cgroup: open %s", f);
		/* "0" is the writing thread: this whole, single-threaded stage. */
		if (write(fd, "0", 1) != 1)
			fail(125, errno, "join cgroup: write \"0\" to %s", f);
		close(fd);
	}
}

/* ---- working in thread-self/fd ---- */

static int saved_cwd = -1;

/* enter_fd_dir makes thread-self/fd of the stage's procfs the working
 * directory (procfs.InFdDir), so that fdname names a descriptor's file. */
static void enter_fd_dir(void)
{
	int dir = openat(proc_fd, "thread-self/fd", O_DIRECTORY | O_RDONLY | O_CLOEXEC);

	if (dir < 0)
		fail(125, errno, "open thread-self/fd of the stage's procfs");
	saved_cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (saved_cwd < 0)
		fail(125, errno, "save working directory");
	if (fchdir(dir) < 0)
		fail(125, errno, "enter /proc/self/fd");
	close(dir);
}

static void leave_fd_dir(void)
{
	if (fchdir(saved_cwd) < 0)
		fail(125, errno, "restore working directory");
	close(saved_cwd);
	saved_cwd = -1;
}

/* fd_path is the kernel's name of fd's file (procfs.Readlink): a check,
 * never a path to open again. */
static void fd_path(int fd, char *out, const char *what)
{
	char name[64];
	ssize_t n;

	snprintf(name, sizeof(name), "thread-self/fd/%d", fd);
	n = readlinkat(proc_fd, name, out, PATH_MAX - 1);
	if (n < 0)
		fail(125, errno, "%s: readlink", what);
	out[n] = '\0';
}

/* ---- resolving inside the root ---- */

/* resolve_in_root opens p inside root as an O_PATH handle (plus flags),
 * symlinks and ".." confined to root and magic links refused, as
 * resolveInRoot does. Returns -1 with errno set. */
static int resolve_in_root(int root, const char *p, uint64_t flags)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | flags,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	for (int tries = 0;; tries++) {
		int fd = (int)syscall(SYS_openat2, root, p, &how, sizeof(how));

		if (fd >= 0)
			return fd;
		/* A rename or mount anywhere during the walk makes a scoped
		 * lookup fail with EAGAIN (or EXDEV): try again, a bounded
		 * number of times. */
		if ((errno == EAGAIN || errno == EXDEV) && tries < 128)
			continue;
		return -1;
	}
}

/* partial_lookup resolves the longest existing prefix of p inside root
 * (pathrs-lite's partialLookupInRoot) and leaves in *rest what is left. */
static int partial_lookup(int root, const char *p, char *buf, const char **rest)
{
	size_t len;

	snprintf(buf, PATH_MAX, "%s", p);
	len = strlen(buf);
	for (;;) {
		int fd;
		char saved;

		/* Try buf[0:len]. */
		saved = buf[len];
		buf[len] = '\0';
		fd = resolve_in_root(root, len ? buf : "/", O_DIRECTORY);
		buf[len] = saved;
		if (fd >= 0) {
			*rest = p + len;
			return fd;
		}
		if ((errno != ENOENT && errno != ENOTDIR) || len == 0)
			return -1;
		/* Drop the last component (and the slashes before it). */
		while (len > 0 && buf[len - 1] == '/')
			len--;
		while (len > 0 && buf[len - 1] != '/')
			len--;
	}
}

/* has_dotdot reports whether relative path p has a ".." component. */
static int has_dotdot(const char *p)
{
	while (*p) {
		const char *end = strchrnul(p, '/');

		if (end - p == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* mkdir_in_root creates directory p and its parents inside root
 * (mkdirInRoot, pathrs.MkdirAllHandle) and returns an O_PATH handle of
 * it: the existing part is resolved in root, then each new component is
 * made and opened with O_NOFOLLOW, so that no symlink is followed that
 * was not resolved in root. Returns -1 with errno set. */
static int mkdir_in_root(int root, const char *p)
{
	char buf[PATH_MAX], part[PATH_MAX];
	const char *rest;
	int dir;

	/* Most directories exist: one openat2 finds them. */
	dir = resolve_in_root(root, p, O_DIRECTORY);
	if (dir >= 0)
		return dir;
	dir = partial_lookup(root, p, buf, &rest);
	if (dir < 0)
		return -1;
	/* A ".." in what does not exist yet cannot be resolved safely:
	 * refused before anything is made, as pathrs does. */
	if (has_dotdot(rest)) {
		close(dir);
		errno = ENOENT;
		return -1;
	}
	while (*rest) {
		const char *end = strchrnul(rest, '/');
		size_t len = (size_t)(end - rest);
		int next;

		memcpy(part, rest, len);
		part[len] = '\0';
		rest = *end ? end + 1 : end;
		if (len == 0 || strcmp(part, ".") == 0)
			continue;
		/* mkdir does not follow a trailing symlink. */
		if (mkdirat(dir, part, 0755) < 0 && errno != EEXIST) {
			int err = errno;
			close(dir);
			errno = err;
			return -1;
		}
		next = openat(dir, part, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		close(dir);
		if (next < 0)
			return -1;
		dir = next;
	}
	return dir;
}

/* create_file_in_root makes sure a file exists at p inside root, for
 * bind mounts of files, and returns an O_PATH handle to it. */
static int create_file_in_root(int root, const char *p)
{
	char clean[PATH_MAX], *slash;
	int dir, fd, err;

	clean_path(p, clean);
	slash = strrchr(clean, '/');
	*slash = '\0';
	dir = mkdir_in_root(root, clean[0] ? clean : "/");
	if (dir < 0)
		return -1;
	fd = openat(dir, slash + 1, O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0644);
	err = errno;
	close(dir);
	if (fd < 0 && err != EISDIR) {
		errno = err;
		return -1;
	}
	if (fd >= 0)
		close(fd);
	return resolve_in_root(root, p, 0);
}

/* ---- mount flags ---- */

/* statfs_flags turns statfs's ST_* flags into the MS_* flags a remount
 * must repeat to keep them (the kernel refuses to clear locked ones). */
static unsigned long statfs_flags(const struct statfs *st)
{
	static const unsigned long map[][2] = {
		{ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV},
		{ST_NOEXEC, MS_NOEXEC}, {ST_NOATIME, MS_NOATIME},
		{ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
		{ST_RDONLY, MS_RDONLY},
	};
	unsigned long flags = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if ((unsigned long)st->f_flags & map[i][0])
			flags |= map[i][1];
	return flags;
}

/* open_mounted resolves m's destination again after a mount, so that a
 * remount names the new mount, not the directory beneath it. */
static int open_mounted(int root, const struct mount *m)
{
	int fd = resolve_in_root(root, m->dest, 0);

	if (fd < 0)
		fail(125, errno, "mount %s: openat2 %s", m->dest, m->dest);
	return fd;
}

/* ---- /proc rules (procmount.go) ---- */

static const char *const lxcfs_proc_files[] = {
	"/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat",
	"/proc/swaps", "/proc/uptime", "/proc/loadavg", "/proc/slabinfo",
	"/proc/sys/kernel/ns_last_pid", "/proc/sys/crypto/fips_enabled",
};
#define NLXCFS (sizeof(lxcfs_proc_files) / sizeof(lxcfs_proc_files[0]))

static int inside_proc(const char *p)
{
	return strcmp(p, "/proc") == 0 || strncmp(p, "/proc/", 6) == 0;
}

/* check_proc_destination is CheckProcDestination: at /proc itself only a
 * proc file system (a new one, or a bind of a procfs root), inside it
 * only the files lxcfs provides. */
static void check_proc_destination(const char *mdest, const char *dst, const char *type, int bind)
{
	char list[1024] = "";

	if (!inside_proc(dst))
		return;
	if (strcmp(dst, "/proc") == 0) {
		if (bind || strcmp(type, "proc") == 0)
			return;
		fail(125, 0, "mount %s: \"%s\": only a proc file system may be mounted there", mdest, dst);
	}
	for (size_t i = 0; i < NLXCFS; i++) {
		if (strcmp(dst, lxcfs_proc_files[i]) == 0)
			return;
		if (i)
			strcat(list, ", ");
		strcat(list, lxcfs_proc_files[i]);
	}
	fail(125, 0, "mount %s: \"%s\" is inside /proc, where only the files lxcfs provides may be mounted on (%s)", mdest, dst, list);
}

/* path_in_root is where target, resolved inside root, is as the
 * container will see it (pathInRoot). */
static void path_in_root(int root, int target, const char *mdest, char *out)
{
	char rootp[PATH_MAX], p[PATH_MAX];
	size_t n;

	fd_path(root, rootp, "resolve rootfs");
	fd_path(target, p, "resolve destination");
	if (strcmp(rootp, "/") == 0) {
		clean_path(p, out);
		return;
	}
	n = strlen(rootp);
	if (strncmp(p, rootp, n) != 0 || (p[n] && p[n] != '/'))
		fail(125, 0, "mount %s: destination resolved to %s, outside the rootfs %s", mdest, p, rootp);
	clean_path(p + n, out);
}

/* check_proc_root_source accepts a bind at /proc only of the root of a
 * proc file system (its root directory has inode 1). */
static void check_proc_root_source(const char *mdest, const char *src)
{
	struct statfs fs;
	struct stat st;

	if (statfs(src, &fs) < 0 || stat(src, &st) < 0)
		fail(125, errno, "mount %s: bind source %s", mdest, src);
	if (fs.f_type != PROC_SUPER_MAGIC || st.st_ino != 1)
		fail(125, 0, "mount %s: /proc: a bind mount there must be of the root of a proc file system, not \"%s\"", mdest, src);
}

/* check_proc_target checks where the mount really lands (checkProcTarget):
 * a symlink in the image (/data -> /proc/sys) must not lead around the
 * /proc rules, and nothing may be mounted on a procfs mounted elsewhere. */
static void check_proc_target(int root, int target, const struct mount *m)
{
	char dst[PATH_MAX];
	struct statfs fs;
	int bind = m->kind == MOUNT_BIND;

	path_in_root(root, target, m->dest, dst);
	check_proc_destination(m->dest, dst, m->type, bind);
	if (fstatfs(target, &fs) < 0)
		fail(125, errno, "mount %s: statfs", m->dest);
	if (fs.f_type == PROC_SUPER_MAGIC && !inside_proc(dst))
		fail(125, 0, "mount %s: \"%s\" is on a proc file system: nothing may be mounted on it", m->dest, dst);
	if (strcmp(dst, "/proc") == 0 && bind)
		check_proc_root_source(m->dest, m->source);
}

/* ---- the destination ---- */

/* refuse_symlinks fails if any existing component of a proc or sysfs
 * destination is a symlink: a hostile image could otherwise have /proc
 * point somewhere the masks and read-only paths would miss. */
static void refuse_symlinks(int root, const char *dest, const char *type)
{
	char p[PATH_MAX];
	struct stat st;

	clean_path(dest, p);
	while (strcmp(p, "/") != 0) {
		char *slash;

		if (fstatat(root, p + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			/* runc compat: runc's bats tests (mask.bats) match these words. */
			fail(125, 0, "mount %s: filesystem \"%s\" must be mounted on ordinary directory: %s is a symlink inside the rootfs",
			     dest, type, p);
		slash = strrchr(p, '/');
		if (slash == p)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

/* mount_target creates the destination inside root (a file when a file
 * is bound, else a directory) and returns a handle to it. */
static int mount_target(int root, const struct mount *m)
{
	int fd;

	if (strcmp(m->type, "proc") == 0 || strcmp(m->type, "sysfs") == 0)
		refuse_symlinks(root, m->dest, m->type);
	if (m->kind == MOUNT_BIND) {
		struct stat st;

		if (stat(m->source, &st) < 0)
			fail(125, errno, "mount %s: bind source: stat %s", m->dest, m->source);
		if (!S_ISDIR(st.st_mode)) {
			fd = create_file_in_root(root, m->dest);
			if (fd < 0)
				fail(125, errno, "mount %s", m->dest);
			return fd;
		}
	}
	fd = mkdir_in_root(root, m->dest);
	if (fd < 0)
		fail(125, errno, "mount %s", m->dest);
	return fd;
}

/* with_dir_mode is a tmpfs's data with the mode of the directory it
 * covers first, so the tmpfs keeps it unless the data sets its own (the
 * last one counts); runc 1.2 does the same. Returns a malloc'd string. */
static char *with_dir_mode(int root, const struct mount *m)
{
	struct stat st;
	char *data;
	int dir = resolve_in_root(root, m->dest, O_DIRECTORY);
	int ok = dir >= 0 && fstat(dir, &st) == 0;

	if (dir >= 0)
		close(dir);
	if (!ok)
		data = strdup(m->data);
	else if (m->data[0] == '\0' ? asprintf(&data, "mode=%04o", st.st_mode & 07777) < 0
				     : asprintf(&data, "mode=%04o,%s", st.st_mode & 07777, m->data) < 0)
		data = NULL;
	if (!data)
		fail(125, ENOMEM, "mount %s", m->dest);
	return data;
}

/* ---- explaining a refused option ---- */

/* kernel_log reads what a file system context logged ("e tmpfs: Unknown
 * parameter 'foo'"), without the severity prefix, joined by "; ". */
static void kernel_log(int fd, char *out, size_t size)
{
	char buf[257];

	out[0] = '\0';
	for (int i = 0; i < 8; i++) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		char *msg = buf;
		size_t len;

		if (n <= 0)
			break;
		buf[n] = '\0';
		if (n > 2 && buf[1] == ' ')
			msg += 2;
		while (*msg == ' ' || *msg == '\n' || *msg == '\t')
			msg++;
		len = strlen(msg);
		while (len && (msg[len - 1] == ' ' || msg[len - 1] == '\n' || msg[len - 1] == '\t'))
			msg[--len] = '\0';
		snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? "; " : "", msg);
	}
}

/* explain_data finds, after the kernel refused a mount with EINVAL, the
 * data option it refused, by handing the options one by one to a new
 * file system context, whose log says why. It returns where it cannot
 * tell (no fsopen, or every option passes alone). */
static void explain_data(const struct mount *m)
{
	char *data, *opt, *next, why[2048];
	int fd;

	if (m->data[0] == '\0')
		return;
	fd = fsopen(m->type, FSOPEN_CLOEXEC);
	if (fd < 0)
		return;
	data = strdup(m->data);
	if (!data)
		fail(125, ENOMEM, "mount %s", m->dest);
	for (opt = data; opt; opt = next) {
		char *eq, *key = opt;
		int r;

		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		eq = strchr(opt, '=');
		if (eq) {
			*eq = '\0';
			r = fsconfig(fd, FSCONFIG_SET_STRING, key, eq + 1, 0);
		} else {
			r = fsconfig(fd, FSCONFIG_SET_FLAG, key, NULL, 0);
		}
		if (r == 0)
			continue;
		r = errno;
		if (eq)
			*eq = '=';
		kernel_log(fd, why, sizeof(why));
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "%s", strerror(r));
		/* UnknownOptionError's words. */
		if (strcasestr(why, "unknown parameter"))
			fail(125, 0, "mount %s: unknown option \"%s\": %s", m->dest, opt, why);
		fail(125, 0, "mount %s: option \"%s\": %s", m->dest, opt, why);
	}
	free(data);
	close(fd);
}

/* ---- kinds of mounts ---- */

/* bind_mount binds the source, then remounts with the config's other
 * flags, keeping the flags the kernel locked (all but read-only). */
static void bind_mount(int root, const struct mount *m, int target)
{
	unsigned long extra = m->flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
	fdname_t t, mt;
	struct statfs fs;
	int mounted;

	if (mount(m->source, fdname(t, target), NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
		fail(125, errno, "mount %s on %s", m->type, m->dest);
	if (extra == 0)
		return;
	mounted = open_mounted(root, m);
	if (fstatfs(mounted, &fs) < 0)
		fail(125, errno, "mount %s on %s: statfs %s", m->type, m->dest, m->dest);
	if (mount("", fdname(mt, mounted), NULL, MS_BIND | MS_REMOUNT | extra | (statfs_flags(&fs) & ~(unsigned long)MS_RDONLY), NULL) < 0)
		fail(125, errno, "mount %s on %s", m->type, m->dest);
	close(mounted);
}

/* check_cgroup_dir: a bound cgroup directory must be one. */
static void check_cgroup_dir(int fd, const char *what, const char *source)
{
	struct statfs st;

	if (fstatfs(fd, &st) < 0)
		fail(125, errno, "%s: %s", what, source);
	if (st.f_type != CGROUP_SUPER_MAGIC && st.f_type != CGROUP2_SUPER_MAGIC)
		fail(125, 0, "%s: %s is not a cgroup directory", what, source);
}

/* bind_cgroup binds a host cgroup directory, which must be a directory
 * of a cgroup file system, on target. Returns -1 with errno set when the
 * mount fails; what names the step for the other errors. */
static int bind_cgroup(const char *source, int target, const char *what)
{
	fdname_t s, t;
	int src, r;

	src = open(source, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		fail(125, errno, "%s: open %s", what, source);
	check_cgroup_dir(src, what, source);
	r = mount(fdname(s, src), fdname(t, target), NULL, MS_BIND, NULL);
	close(src);
	return r;
}

/* refused_to_userns: how the kernel refuses a cgroup mount in a user
 * namespace (which this stage never has, but a kernel may answer so). */
static int refused_to_userns(int err)
{
	return err == EPERM || err == EBUSY || err == EACCES;
}

#define CGROUP_ROOT "/sys/fs/cgroup"

/* mount_cgroup2 mounts cgroup2, or where the kernel refuses, binds the
 * container's own cgroup directory (runc binds the whole tree there). */
static void mount_cgroup2(int root, const struct mount *m, int target, unsigned long flags, const char *path)
{
	char source[PATH_MAX], joined[PATH_MAX], what[PATH_MAX];
	fdname_t t;
	int mounted;

	if (mount("cgroup2", fdname(t, target), "cgroup2", flags, NULL) == 0)
		return;
	if (!refused_to_userns(errno))
		fail(125, errno, "mount %s on %s", m->type, m->dest);
	snprintf(joined, sizeof(joined), "%s/%s", CGROUP_ROOT, path ? path : "");
	clean_path(joined, source);
	snprintf(what, sizeof(what), "mount %s on %s", m->type, m->dest);
	if (bind_cgroup(source, target, what) < 0)
		fail(125, errno, "mount %s on %s", m->type, m->dest);
	mounted = open_mounted(root, m);
	if (mount("", fdname(t, mounted), NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
		fail(125, errno, "mount %s on %s", m->type, m->dest);
	close(mounted);
}

/* mount_hierarchy mounts v1 hierarchy h in dir, in a directory named
 * without "name=": a new mount of it (whose root is the cgroup
 * namespace's), or, with path set (no cgroup namespace), the container's
 * own directory bound from the host's mount of h. Errors name the
 * config's mount m first, as mountOne wraps them. */
static void mount_hierarchy(int dir, const char *h, const char *path, unsigned long flags, const struct mount *m)
{
	const char *name = strncmp(h, "name=", 5) == 0 ? h + 5 : h;
	char joined[PATH_MAX], source[PATH_MAX], what[PATH_MAX];
	fdname_t s;
	int sub;

	snprintf(what, sizeof(what), "mount %s on %s: cgroup hierarchy %s", m->type, m->dest, h);
	if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST)
		fail(125, errno, "mount %s on %s: create %s", m->type, m->dest, name);
	sub = resolve_in_root(dir, name, 0);
	if (sub < 0)
		fail(125, errno, "mount %s on %s: openat2 %s", m->type, m->dest, name);
	if (!path) {
		if (mount("cgroup", fdname(s, sub), "cgroup", flags, h) < 0)
			fail(125, errno, "%s", what);
	} else {
		int mounted;

		snprintf(joined, sizeof(joined), "%s/%s/%s", CGROUP_ROOT, name, path);
		clean_path(joined, source);
		if (bind_cgroup(source, sub, what) < 0)
			fail(125, errno, "%s", what);
		/* The flags take a remount, of the new mount, not the
		 * directory beneath it. */
		mounted = resolve_in_root(dir, name, 0);
		if (mounted < 0 || mount("", fdname(s, mounted), NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
			fail(125, errno, "%s", what);
		close(mounted);
	}
	close(sub);
	/* Co-mounted controllers are also reachable by each name, as on hosts. */
	if (strchr(name, ',')) {
		char names[PATH_MAX], *n, *save = NULL;

		snprintf(names, sizeof(names), "%s", name);
		for (n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save))
			symlinkat(h, dir, n);
	}
}

/* mount_cgroup shows the container its cgroups: cgroup2 on v2, or a
 * tmpfs holding one mount per v1 hierarchy. */
static void mount_cgroup(int root, const struct mount *m, int target, const struct config *c)
{
	unsigned long flags = m->flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
	fdname_t t;
	int dir;

	if (c->ncgroup_hierarchies == 0) {
		mount_cgroup2(root, m, target, flags, c->cgroup_path);
		return;
	}
	if (mount("cgroup", fdname(t, target), "tmpfs", flags & ~(unsigned long)MS_RDONLY, "mode=755") < 0)
		fail(125, errno, "mount %s on %s", m->type, m->dest);
	dir = open_mounted(root, m);
	for (int i = 0; i < c->ncgroup_hierarchies; i++)
		mount_hierarchy(dir, c->cgroup_hierarchies[i], c->cgroup_path, flags, m);
	if ((flags & MS_RDONLY) && mount("", fdname(t, dir), NULL, MS_REMOUNT | flags, "mode=755") < 0)
		fail(125, errno, "mount %s on %s", m->type, m->dest);
	close(dir);
}

/* mount_fs mounts a new file system of the config's; where the kernel
 * refuses its data, explain_data says which option. */
static void mount_fs(const struct mount *m, int target, const char *data)
{
	unsigned long flags = m->flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT);
	fdname_t t;
	int err;

	if (mount(m->source, fdname(t, target), m->type, flags, data) == 0)
		return;
	err = errno;
	if (err == EINVAL)
		explain_data(m);
	fail(125, err, "mount %s on %s", m->type, m->dest);
}

static void set_propagation(int root, const struct mount *m)
{
	fdname_t t;
	int mounted;

	if (m->npropagation == 0)
		return;
	mounted = open_mounted(root, m);
	for (int i = 0; i < m->npropagation; i++)
		if (mount("", fdname(t, mounted), NULL, m->propagation[i], NULL) < 0)
			fail(125, errno, "set propagation of %s", m->dest);
	close(mounted);
}

/* set_recursive_attrs applies the r-prefixed options (rro, rnoexec, ...)
 * to the new mount and every mount below it. */
static void set_recursive_attrs(int root, const struct mount *m)
{
	struct mount_attr attr = {.attr_set = m->attr_set, .attr_clr = m->attr_clr};
	int mounted;

	if (m->attr_set == 0 && m->attr_clr == 0)
		return;
	mounted = open_mounted(root, m);
	if (mount_setattr(mounted, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0) {
		if (errno == ENOSYS)
			fail(125, 0, "mount %s: recursive mount options (rro, rnoexec, ...) need mount_setattr(2), Linux 5.12 or later", m->dest);
		fail(125, errno, "mount %s: set recursive attributes", m->dest);
	}
	close(mounted);
}

/* mount_one is mountOne for this stage's kinds of mounts. */
static void mount_one(int root, const struct mount *m, const struct config *c)
{
	char *data = NULL;
	int target;

	if (m->kind == MOUNT_FS && strcmp(m->type, "tmpfs") == 0)
		data = with_dir_mode(root, m);
	target = mount_target(root, m);
	check_proc_target(root, target, m);
	switch (m->kind) {
	case MOUNT_BIND:
		bind_mount(root, m, target);
		break;
	case MOUNT_CGROUP:
		mount_cgroup(root, m, target, c);
		break;
	case MOUNT_FS:
		mount_fs(m, target, data ? data : m->data);
		break;
	default:
		fail(125, 0, "mount %s: unknown kind %d", m->dest, m->kind);
	}
	free(data);
	close(target);
	set_propagation(root, m);
	set_recursive_attrs(root, m);
}

/* ---- devices ---- */

static void split_path(const char *p, char *dir, const char **name)
{
	char *slash;

	clean_path(p, dir);
	slash = strrchr(dir, '/');
	*slash = '\0';
	*name = p + strlen(p);
	while (*name > p && (*name)[-1] != '/')
		(*name)--;
	if (dir[0] == '\0')
		strcpy(dir, "/");
}

/* bind_host_device is the fallback where mknod is not allowed: the
 * host's node is bound instead. */
static void bind_host_device(int root, const struct device *d)
{
	fdname_t t;
	int target = create_file_in_root(root, d->path);

	if (target < 0)
		fail(125, errno, "create device %s", d->path);
	if (mount(d->path, fdname(t, target), NULL, MS_BIND, NULL) < 0)
		fail(125, errno, "create device %s", d->path);
	close(target);
}

static void create_device(int root, const struct device *d)
{
	char dirpath[PATH_MAX], clean[PATH_MAX];
	const char *name;
	int dir;

	clean_path(d->path, clean);
	split_path(clean, dirpath, &name);
	dir = mkdir_in_root(root, dirpath);
	if (dir < 0)
		fail(125, errno, "create device %s", d->path);
	unlinkat(dir, name, 0);
	if (mknodat(dir, name, d->mode, makedev(d->major, d->minor)) < 0) {
		if (errno != EPERM)
			fail(125, errno, "create device %s", d->path);
		close(dir);
		bind_host_device(root, d);
		return;
	}
	if (fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dir, name, d->mode & 07777, 0) < 0)
		fail(125, errno, "create device %s", d->path);
	close(dir);
}

/* dev_symlinks adds the links every /dev has, when the config gives the
 * container its own /dev. */
static void dev_symlinks(int root, const struct config *c)
{
	static const char *const links[][2] = {
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
		{"pts/ptmx", "ptmx"},
	};
	int own = 0, dev;

	for (int i = 0; i < c->nmounts; i++)
		own |= is_dev(&c->mounts[i]);
	if (!own)
		return;
	dev = resolve_in_root(root, "/dev", 0);
	if (dev < 0)
		fail(125, errno, "open /dev");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
			fail(125, errno, "symlink /dev/%s", links[i][1]);
	close(dev);
}

static void create_cwd(int root, const char *cwd)
{
	int fd;

	if (!cwd || cwd[0] == '\0' || strcmp(cwd, "/") == 0)
		return;
	fd = resolve_in_root(root, cwd, 0);
	if (fd < 0)
		fd = mkdir_in_root(root, cwd);
	if (fd < 0)
		fail(125, errno, "create working directory %s", cwd);
	close(fd);
}

/* ---- Prepare ---- */

/* root_parent_private makes the mount holding root private when the tree
 * was made shared, as runc does: pivot_root refuses a shared parent. */
static void root_parent_private(const char *root)
{
	char dir[PATH_MAX];

	clean_path(root, dir);
	for (;;) {
		char *slash;

		if (mount("", dir, NULL, MS_PRIVATE, NULL) == 0)
			return;
		/* EINVAL: dir is not a mount point; its parent may be. */
		if (errno != EINVAL || strcmp(dir, "/") == 0)
			fail(125, errno, "make the mount holding %s private", root);
		slash = strrchr(dir, '/');
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

/* count_layers counts the lower layers in overlay data "lowerdir=a:b,...". */
static int count_layers(const char *data)
{
	const char *p = strstr(data, "lowerdir=");
	int n = 1;

	if (!p)
		return 0;
	for (p += 9; *p && *p != ','; p++)
		n += *p == ':';
	return n;
}

/* mount_root makes root a mount point, as pivot_root needs: the overlay
 * of an image's layers, or the directory bound onto itself. */
static void mount_root(const struct config *c)
{
	if (!c->overlay_dir) {
		if (mount(c->root, c->root, NULL, MS_BIND | MS_REC, NULL) < 0)
			fail(125, errno, "bind rootfs %s", c->root);
		return;
	}
	/* The lower layers are named relative to the working directory; it
	 * changes again (to the container's root) before anything runs. */
	if (chdir(c->overlay_dir) < 0)
		fail(125, errno, "image layers: chdir %s", c->overlay_dir);
	/* The kernel takes one page of mount data. */
	if (c->overlay_data && strlen(c->overlay_data) >= (size_t)getpagesize())
		fail(125, 0, "mount overlay root: the image has too many layers (%d) for one overlay mount", count_layers(c->overlay_data));
	if (mount("overlay", c->root, "overlay", 0, c->overlay_data) < 0)
		fail(125, errno, "mount overlay root on %s", c->root);
}

void prepare_rootfs(const struct config *c)
{
	int root;

	if (mount("", "/", NULL, c->propagation, NULL) < 0)
		fail(125, errno, "set the propagation of the mount tree");
	if (c->propagation & MS_SHARED)
		root_parent_private(c->root);
	mount_root(c);
	root = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		fail(125, errno, "open rootfs: open %s", c->root);
	enter_fd_dir();
	for (int i = 0; i < c->nmounts; i++) {
		struct mount m = c->mounts[i];

		/* Devices, /dev/pts and the console go in first; finish_rootfs
		 * makes /dev read-only (runc does the same). */
		if (is_dev(&m))
			m.flags &= ~(unsigned long)MS_RDONLY;
		mount_one(root, &m, c);
	}
	for (int i = 0; i < c->ndevices; i++)
		create_device(root, &c->devices[i]);
	dev_symlinks(root, c);
	create_cwd(root, c->mkcwd);
	leave_fd_dir();
	close(root);
}

/* ---- pivot_root ---- */

void enter_rootfs(const struct config *c)
{
	int old_root, new_root;

	old_root = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (old_root < 0)
		fail(125, errno, "open old root");
	new_root = open(c->root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (new_root < 0)
		fail(125, errno, "open new root");
	if (fchdir(new_root) < 0)
		fail(125, errno, "chdir to new root");
	/* pivot_root(".", ".") stacks the old root on top of the new one; it
	 * is then unmounted from there without a directory for it. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail(125, errno, "pivot_root");
	if (fchdir(old_root) < 0)
		fail(125, errno, "chdir to old root");
	/* Unmount events must not reach the host. */
	if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		fail(125, errno, "make old root a slave");
	if (umount2(".", MNT_DETACH) < 0)
		fail(125, errno, "detach old root");
	if (chdir("/") < 0)
		fail(125, errno, "chdir /");
	close(old_root);
	close(new_root);
}

/* ---- Finish ---- */

static const char *describe(const struct stat *st, char *buf, size_t size)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFDIR: return "a directory";
	case S_IFLNK: return "a symbolic link";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFBLK:
		snprintf(buf, size, "block device %u:%u", major(st->st_rdev), minor(st->st_rdev));
		return buf;
	case S_IFCHR:
		snprintf(buf, size, "character device %u:%u", major(st->st_rdev), minor(st->st_rdev));
		return buf;
	}
	return "an unknown kind of file";
}

/* open_null_handle opens the container's /dev/null, resolved inside
 * root, as an O_PATH handle, and checks that it is the null device
 * (CVE-2025-31133: a /dev/null swapped for a symlink to a host file or a
 * writable /proc file would be mounted over the masked paths). prefix
 * says for what. */
static int open_null_handle(int root, const char *prefix)
{
	struct stat st;
	char desc[64];
	int fd = resolve_in_root(root, "/dev/null", 0);

	if (fd < 0)
		fail(125, errno, "%sopen /dev/null", prefix);
	if (fstat(fd, &st) < 0)
		fail(125, errno, "%sstat /dev/null", prefix);
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		fail(125, 0, "%sunsafe device: /dev/null in the container is %s, not the null device (character 1:3); the config's devices, mounts or hooks replaced it",
		     prefix, describe(&st, desc, sizeof(desc)));
	return fd;
}

/* mask_one hides p: a directory under an empty read-only tmpfs, anything
 * else under the container's /dev/null. A missing path is skipped. */
static void mask_one(int root, const char *p, int *null)
{
	char prefix[PATH_MAX + 16];
	fdname_t t, n;
	struct stat st;
	int target = resolve_in_root(root, p, 0), r;

	if (target < 0 && errno == ENOENT)
		return;
	if (target < 0 || fstat(target, &st) < 0)
		fail(125, errno, "mask %s", p);
	if (S_ISDIR(st.st_mode)) {
		r = mount("tmpfs", fdname(t, target), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=755");
	} else {
		if (*null < 0) {
			snprintf(prefix, sizeof(prefix), "mask %s: ", p);
			*null = open_null_handle(root, prefix);
		}
		r = mount(fdname(n, *null), fdname(t, target), NULL, MS_BIND, NULL);
	}
	if (r < 0)
		fail(125, errno, "mask %s", p);
	close(target);
}

/* readonly binds p onto itself and remounts the bind read-only. */
static void make_readonly(int root, const char *p)
{
	fdname_t t;
	struct statfs fs;
	int target = resolve_in_root(root, p, 0), mounted;

	if (target < 0 && errno == ENOENT)
		return;
	if (target < 0 || mount(fdname(t, target), t, NULL, MS_BIND | MS_REC, NULL) < 0)
		fail(125, errno, "make %s read-only", p);
	close(target);
	/* The remount must name the new mount, not the one beneath it. */
	mounted = resolve_in_root(root, p, 0);
	if (mounted < 0 || fstatfs(mounted, &fs) < 0 ||
	    mount("", fdname(t, mounted), NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | statfs_flags(&fs), NULL) < 0)
		fail(125, errno, "make %s read-only", p);
	close(mounted);
}

/* remount_readonly remounts the mount at p read-only, keeping the flags
 * a remount would otherwise clear. */
static void remount_readonly(const char *p, const char *what)
{
	struct statfs st;

	if (statfs(p, &st) < 0)
		fail(125, errno, "%s: statfs %s", what, p);
	if (mount("", p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | statfs_flags(&st), NULL) < 0)
		fail(125, errno, "%s", what);
}

void finish_rootfs(const struct config *c)
{
	if (c->nmasked + c->nreadonly > 0) {
		int null = -1, root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (root < 0)
			fail(125, errno, "open root");
		enter_fd_dir();
		for (int i = 0; i < c->nmasked; i++)
			mask_one(root, c->masked[i], &null);
		for (int i = 0; i < c->nreadonly; i++)
			make_readonly(root, c->readonly_paths[i]);
		leave_fd_dir();
		if (null >= 0)
			close(null);
		close(root);
	}
	for (int i = 0; i < c->nmounts; i++)
		if (is_dev(&c->mounts[i]) && (c->mounts[i].flags & MS_RDONLY))
			remount_readonly("/dev", "make /dev read-only");
	if (c->readonly_root)
		remount_readonly("/", "make root read-only");
	/* On / alone: applied recursively it would override the propagation
	 * each bind asked for. prepare_rootfs applied it to the tree first. */
	if (c->root_propagation &&
	    mount("", "/", NULL, c->root_propagation & ~(unsigned long)MS_REC, NULL) < 0)
		fail(125, errno, "set root propagation");
}

int open_dev_null(int flags)
{
	char name[64];
	int root, null, fd;

	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		fail(125, errno, "open root");
	null = open_null_handle(root, "");
	close(root);
	/* Reopened through the stage's own procfs: the very file checked. */
	snprintf(name, sizeof(name), "thread-self/fd/%d", null);
	fd = openat(proc_fd, name, flags | O_CLOEXEC);
	if (fd < 0)
		fail(125, errno, "reopen /dev/null");
	close(null);
	return fd;
}
