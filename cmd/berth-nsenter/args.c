/*
 * Argument decoding. The arguments come from berth, never from a
 * container or a config, but they are still decoded strictly: every
 * number is a plain decimal in range, every option appears once (but
 * --tasks), and anything else is refused with a reason.
 *
 *   berth-nsenter [--check] --init FD --sync FD [--userns FD] [--pidns FD]
 *                 [--tasks FD]... [--clone FLAGS] -- INIT-ARGV...
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "nsenter.h"

/* The namespaces a clone may create here. The cgroup namespace is made by
 * berth-init after it joins its cgroups; a user namespace is joined, not
 * made, on this path. */
#define CLONE_ALLOWED (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID)

/* parse_uint reads a decimal number of at most 10 digits, no sign, no
 * leading zero, no trailing text, not above max. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 10 || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* parse_fd reads a descriptor number above the standard three. */
static int parse_fd(const char *s, int *out)
{
	unsigned long v;

	if (parse_uint(s, 1 << 20, &v) < 0 || v < 3)
		return -1;
	*out = (int)v;
	return 0;
}

int decode_args(int argc, char **argv, struct plan *p, const char **why)
{
	int i = 1;

	memset(p, 0, sizeof(*p));
	p->init_fd = p->sync_fd = p->userns_fd = p->pidns_fd = -1;
	if (i < argc && strcmp(argv[i], "--check") == 0) {
		p->check = 1;
		i++;
	}
	for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int *fd = NULL;

		if (val == NULL) {
			*why = "an option without a value";
			return -1;
		}
		if (strcmp(opt, "--init") == 0)
			fd = &p->init_fd;
		else if (strcmp(opt, "--sync") == 0)
			fd = &p->sync_fd;
		else if (strcmp(opt, "--userns") == 0)
			fd = &p->userns_fd;
		else if (strcmp(opt, "--pidns") == 0)
			fd = &p->pidns_fd;
		if (fd != NULL) {
			if (*fd != -1) {
				*why = "an option given twice";
				return -1;
			}
			if (parse_fd(val, fd) < 0) {
				*why = "a descriptor that is not a number above 2";
				return -1;
			}
		} else if (strcmp(opt, "--tasks") == 0) {
			if (p->ntasks == MAX_TASKS) {
				*why = "too many --tasks";
				return -1;
			}
			if (parse_fd(val, &p->tasks_fd[p->ntasks]) < 0) {
				*why = "a descriptor that is not a number above 2";
				return -1;
			}
			p->ntasks++;
		} else if (strcmp(opt, "--clone") == 0) {
			if (p->clone_flags != 0) {
				*why = "an option given twice";
				return -1;
			}
			if (parse_uint(val, 0xffffffffUL, &p->clone_flags) < 0 || p->clone_flags == 0 ||
			    (p->clone_flags & ~(unsigned long)CLONE_ALLOWED) != 0) {
				*why = "--clone flags other than new mount, uts, ipc, net and pid namespaces";
				return -1;
			}
		} else {
			*why = "an unknown option";
			return -1;
		}
	}
	if (i >= argc || i + 1 >= argc) {
		*why = "no berth-init argv after --";
		return -1;
	}
	if (p->init_fd == -1 || p->sync_fd == -1) {
		*why = "--init and --sync are required";
		return -1;
	}
	if (p->userns_fd == -1) {
		*why = "nothing to join: --userns is required";
		return -1;
	}
	if (p->pidns_fd != -1 && (p->clone_flags & CLONE_NEWPID)) {
		*why = "--pidns and a new PID namespace are exclusive";
		return -1;
	}
	p->init_argv = argv + i + 1;
	return 0;
}

/* print_plan shows what was decoded, for berth's tests (--check). */
void print_plan(const struct plan *p)
{
	printf("init=%d sync=%d userns=%d pidns=%d clone=%#lx tasks=", p->init_fd, p->sync_fd, p->userns_fd,
	       p->pidns_fd, p->clone_flags);
	for (int i = 0; i < p->ntasks; i++)
		printf("%s%d", i ? "," : "", p->tasks_fd[i]);
	printf(" argv=");
	for (char **a = p->init_argv; *a != NULL; a++)
		printf("%s[%s]", a == p->init_argv ? "" : ",", *a);
	printf("\n");
}
