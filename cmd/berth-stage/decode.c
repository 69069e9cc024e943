/*
 * The compact config's decoder (wire.h). The message comes from berth,
 * which validated the container's config and made this encoding of it, but
 * it is still decoded strictly: every record lies within the message,
 * every length fits its tag, every string is within its limit and free of
 * NULs, every integer is in range for the field it fills, and anything
 * unknown, repeated or missing makes the whole message invalid. Nothing is
 * read unaligned (memcpy) and no length is added before it is bounded, so
 * no arithmetic overflows.
 *
 * Two passes over the message: scan checks the records' framing and
 * counts them, so that fill can take every string and array from one
 * allocation of the right size and store the values, checking their
 * ranges. decode.c needs nothing but libc: the tests link it alone
 * (check/check.c).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"
#include "wire.h"

/* Every tag is below 64, so a set of tags is a 64-bit mask. */
#define NTAGS 64
#define BIT(tag) ((uint64_t)1 << (tag))

#define SECCOMP_FLAGS_OK (SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW)

/* What a tag's payload may be: min + k*unit bytes, at most max; a string
 * from byte str on (-1: none). */
struct rule {
	uint8_t known;
	uint8_t rep;      /* may repeat */
	uint8_t in_mount; /* an M_* field of the last MOUNT */
	int8_t str;
	uint32_t min, max, unit;
};

#define FLAG {1, 0, 0, -1, 0, 0, 1}
#define FIXED(n) {1, 0, 0, -1, (n), (n), 1}
#define STR {1, 0, 0, 0, 0, WIRE_MAX_PATH, 1}
#define STR_REP {1, 1, 0, 0, 0, WIRE_MAX_PATH, 1}
#define ARG_REP {1, 1, 0, 0, 0, WIRE_MAX_ARG, 1}
#define M_STR {1, 0, 1, 0, 0, WIRE_MAX_PATH, 1}
#define M_FIXED(n, rep) {1, (rep), 1, -1, (n), (n), 1}
/* n fixed bytes, then a string */
#define PREFIXED(n, rep) {1, (rep), 0, (n), (n), (n) + WIRE_MAX_PATH, 1}

static const struct rule rules[NTAGS] = {
	[T_DIE_WITH_PARENT] = FLAG,
	[T_EXEC_FIFO_FD] = FIXED(4),
	[T_PIDS_LIMIT] = PREFIXED(4, 0),
	[T_CGROUP_TASK] = STR_REP,
	[T_NEW_CGROUPNS] = FLAG,
	[T_NEW_NETNS] = FLAG,
	[T_NEW_KEYRING] = FLAG,
	[T_HOSTNAME] = STR,
	[T_DOMAINNAME] = STR,
	[T_SYSCTL] = PREFIXED(4, 1),
	[T_HOOK_PAUSE] = FLAG,
	[T_NETNS_FD] = FIXED(4),

	[T_ROOT] = STR,
	[T_READONLY_ROOT] = FLAG,
	[T_PROPAGATION] = FIXED(8),
	[T_ROOT_PROPAGATION] = FIXED(8),
	[T_OVERLAY_DIR] = STR,
	[T_OVERLAY_DATA] = STR,
	[T_MOUNT] = {1, 1, 0, -1, 4, 4, 1},
	[T_M_SOURCE] = M_STR,
	[T_M_DEST] = M_STR,
	[T_M_TYPE] = M_STR,
	[T_M_DATA] = M_STR,
	[T_M_FLAGS] = M_FIXED(8, 0),
	[T_M_PROPAGATION] = M_FIXED(8, 1),
	[T_M_ATTR] = M_FIXED(16, 0),
	[T_DEVICE] = PREFIXED(20, 1),
	[T_CGROUP_HIERARCHY] = STR_REP,
	[T_CGROUP_PATH] = STR,
	[T_MASKED] = STR_REP,
	[T_READONLY_PATH] = STR_REP,
	[T_MKCWD] = STR,

	[T_ARG] = ARG_REP,
	[T_ENV] = ARG_REP,
	[T_CWD] = STR,
	[T_USER] = FIXED(8),
	[T_GIDS] = {1, 0, 0, -1, 4, 4 * WIRE_MAX_LIST, 4},
	[T_UMASK] = FIXED(4),
	[T_CAPS] = FIXED(8 * NCAPSETS),
	[T_NO_NEW_PRIVS] = FLAG,
	[T_RLIMIT] = {1, 1, 0, -1, 24, 24, 1},
	[T_OOM_SCORE_ADJ] = FIXED(4),
	[T_DEVNULL] = {1, 1, 0, -1, 4, 4, 1},
	[T_SECCOMP] = {1, 0, 0, -1, 8, 8 * WIRE_MAX_SECCOMP, 8},
	[T_SECCOMP_FLAGS] = FIXED(4),
	[T_PRESERVE_FDS] = FIXED(4),
};

struct record {
	uint32_t tag, len;
	const unsigned char *p;
};

/* next_record reads the record at *off. Returns 1 with r set, 0 at the
 * end of the message, -1 when the record does not lie within it. */
static int next_record(const unsigned char *buf, size_t len, size_t *off, struct record *r, const char **why)
{
	if (*off == len)
		return 0;
	if (len - *off < 8) {
		*why = "a truncated record header";
		return -1;
	}
	memcpy(&r->tag, buf + *off, 4);
	memcpy(&r->len, buf + *off + 4, 4);
	*off += 8;
	if (r->len > len - *off) {
		*why = "a record longer than the message";
		return -1;
	}
	r->p = buf + *off;
	*off += r->len;
	return 1;
}

/* What scan learns: how many records of each tag, and how many bytes
 * their strings take with their NULs. */
struct counts {
	uint32_t n[NTAGS];
	size_t strbytes;
	size_t gids_bytes, seccomp_bytes;
};

/* check_payload checks a record's length and string against its rule. */
static int check_payload(const struct record *r, const struct rule *ru, const char **why)
{
	if (r->len > ru->max && ru->str >= 0) {
		*why = "a string over its limit";
		return -1;
	}
	if (r->len < ru->min || r->len > ru->max || (r->len - ru->min) % ru->unit != 0) {
		*why = "a record whose length does not fit its tag";
		return -1;
	}
	if (ru->str >= 0 && memchr(r->p + ru->str, 0, r->len - (uint32_t)ru->str) != NULL) {
		*why = "a string with a NUL byte";
		return -1;
	}
	return 0;
}

/* check_repeat refuses a second record of a tag that may appear once: in
 * the message, or for M_* tags in the current mount (mount_seen). */
static int check_repeat(uint32_t tag, const struct rule *ru, uint64_t *seen, uint64_t *mount_seen,
			int *mount_props, const char **why)
{
	if (ru->in_mount && !(*seen & BIT(T_MOUNT))) {
		*why = "a mount field before any MOUNT record";
		return -1;
	}
	if (tag == T_M_PROPAGATION && ++*mount_props > MAX_PROPAGATION) {
		*why = "more propagation entries in a mount than MAX_PROPAGATION";
		return -1;
	}
	if (!ru->rep) {
		uint64_t *set = ru->in_mount ? mount_seen : seen;

		if (*set & BIT(tag)) {
			*why = ru->in_mount ? "a mount field given twice" : "a record given twice";
			return -1;
		}
		*set |= BIT(tag);
	}
	*seen |= BIT(tag);
	return 0;
}

/* scan checks every record's framing, length, strings and repetition, and
 * counts them. */
static int scan(const unsigned char *buf, size_t len, struct counts *n, const char **why)
{
	uint64_t seen = 0, mount_seen = 0;
	int mount_props = 0, more;
	size_t off = 4;
	struct record r;

	while ((more = next_record(buf, len, &off, &r, why)) > 0) {
		const struct rule *ru = r.tag < NTAGS ? &rules[r.tag] : NULL;

		if (ru == NULL || !ru->known) {
			*why = "an unknown tag";
			return -1;
		}
		if (check_payload(&r, ru, why) < 0)
			return -1;
		if (r.tag == T_MOUNT) {
			if ((seen & BIT(T_MOUNT)) && !(mount_seen & BIT(T_M_DEST))) {
				*why = "a mount without a destination";
				return -1;
			}
			mount_seen = 0;
			mount_props = 0;
		}
		if (check_repeat(r.tag, ru, &seen, &mount_seen, &mount_props, why) < 0)
			return -1;
		/* A mount's propagation has its own limit, checked above. */
		if (++n->n[r.tag] > WIRE_MAX_LIST && r.tag != T_M_PROPAGATION) {
			*why = "a list over its limit";
			return -1;
		}
		if (ru->str >= 0)
			n->strbytes += r.len - (uint32_t)ru->str + 1;
		if (r.tag == T_SYSCTL)
			n->strbytes++; /* the key's and the value's NULs */
		if (r.tag == T_GIDS)
			n->gids_bytes = r.len;
		if (r.tag == T_SECCOMP)
			n->seccomp_bytes = r.len;
	}
	if (more < 0)
		return -1;
	if ((seen & BIT(T_MOUNT)) && !(mount_seen & BIT(T_M_DEST))) {
		*why = "a mount without a destination";
		return -1;
	}
	if (!(seen & BIT(T_ROOT)) || !(seen & BIT(T_ARG)) || !(seen & BIT(T_CWD)) || !(seen & BIT(T_USER))) {
		*why = "a required record missing (ROOT, ARG, CWD, USER)";
		return -1;
	}
	if (!(seen & BIT(T_OVERLAY_DIR)) != !(seen & BIT(T_OVERLAY_DATA))) {
		*why = "an overlay without its directory or its data";
		return -1;
	}
	return 0;
}

/* One block holds every array and string of the config: arrays first,
 * each aligned for any type, then the strings, packed. A failed decode
 * frees it whole; a good one lives until the exec. */
struct arena {
	unsigned char *next; /* arrays */
	char *strings;
};

#define ALIGN(n) (((n) + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1))

/* Each size is bounded by the message's limits, far from overflowing. */
static size_t arrays_size(const struct counts *n)
{
	const uint32_t *k = n->n;

	return ALIGN(k[T_MOUNT] * sizeof(struct mount)) + ALIGN(k[T_DEVICE] * sizeof(struct device)) +
	       ALIGN(k[T_SYSCTL] * sizeof(struct sysctl)) +
	       ALIGN(k[T_RLIMIT] * sizeof(struct rlimit_entry)) + ALIGN((k[T_ARG] + 1) * sizeof(char *)) +
	       ALIGN((k[T_ENV] + 1) * sizeof(char *)) + ALIGN(k[T_CGROUP_TASK] * sizeof(char *)) +
	       ALIGN(k[T_CGROUP_HIERARCHY] * sizeof(char *)) + ALIGN(k[T_MASKED] * sizeof(char *)) +
	       ALIGN(k[T_READONLY_PATH] * sizeof(char *)) + ALIGN(k[T_DEVNULL] * sizeof(int)) +
	       ALIGN(n->gids_bytes) + ALIGN(n->seccomp_bytes);
}

/* take returns n bytes of the arena, or NULL for none: an empty list is
 * NULL. */
static void *take(struct arena *a, size_t n)
{
	void *p = a->next;

	if (n == 0)
		return NULL;
	a->next += ALIGN(n);
	return p;
}

/* take_arrays gives each list of c its place; fill appends to them. */
static void take_arrays(struct arena *a, const struct counts *n, struct config *c)
{
	const uint32_t *k = n->n;

	c->mounts = take(a, k[T_MOUNT] * sizeof(struct mount));
	c->devices = take(a, k[T_DEVICE] * sizeof(struct device));
	c->sysctls = take(a, k[T_SYSCTL] * sizeof(struct sysctl));
	c->rlimits = take(a, k[T_RLIMIT] * sizeof(struct rlimit_entry));
	c->argv = take(a, (k[T_ARG] + 1) * sizeof(char *));
	c->envp = take(a, (k[T_ENV] + 1) * sizeof(char *));
	c->cgroup_tasks = take(a, k[T_CGROUP_TASK] * sizeof(char *));
	c->cgroup_hierarchies = take(a, k[T_CGROUP_HIERARCHY] * sizeof(char *));
	c->masked = take(a, k[T_MASKED] * sizeof(char *));
	c->readonly_paths = take(a, k[T_READONLY_PATH] * sizeof(char *));
	c->devnull = take(a, k[T_DEVNULL] * sizeof(int));
	c->gids = take(a, n->gids_bytes);
	c->seccomp = take(a, n->seccomp_bytes);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* copy_string copies n bytes at p to the arena, as a string. */
static char *copy_string(struct arena *a, const unsigned char *p, size_t n)
{
	char *s = a->strings;

	memcpy(s, p, n);
	s[n] = '\0';
	a->strings += n + 1;
	return s;
}

/* string copies the record's string, from byte from on, to the arena. */
static char *string(struct arena *a, const struct record *r, uint32_t from)
{
	return copy_string(a, r->p + from, r->len - from);
}

/* fill_sysctl splits a SYSCTL record's string at the key's length. */
static int fill_sysctl(struct arena *a, const struct record *r, struct config *c, const char **why)
{
	struct sysctl *s = &c->sysctls[c->nsysctls++];
	uint32_t n = get32(r->p);

	if (n == 0 || n > r->len - 4) {
		*why = "a sysctl whose key length does not fit";
		return -1;
	}
	s->key = copy_string(a, r->p + 4, n);
	s->value = copy_string(a, r->p + 4 + n, r->len - 4 - n);
	return 0;
}

/* get_int reads a descriptor number or count, an int here. */
static int get_int(const unsigned char *p, int max, int *out, const char **why)
{
	uint32_t v = get32(p);

	if (v > (uint32_t)max) {
		*why = "a descriptor number or count out of range";
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* get_ulong reads mount flags, which mount(2) takes as unsigned long. */
static int get_ulong(const unsigned char *p, unsigned long *out, const char **why)
{
	uint64_t v = get64(p);

	if ((unsigned long)v != v) {
		*why = "mount flags out of range";
		return -1;
	}
	*out = (unsigned long)v;
	return 0;
}

/* fill_mount stores MOUNT and M_* records; scan saw a MOUNT first. */
static int fill_mount(struct arena *a, const struct record *r, struct config *c, const char **why)
{
	struct mount *m;

	if (r->tag == T_MOUNT) {
		uint32_t kind = get32(r->p);

		if (kind != MOUNT_FS && kind != MOUNT_BIND && kind != MOUNT_CGROUP) {
			*why = "an unknown mount kind";
			return -1;
		}
		m = &c->mounts[c->nmounts++];
		m->kind = (int)kind;
		m->source = m->type = m->data = "";
		return 0;
	}
	m = &c->mounts[c->nmounts - 1];
	switch (r->tag) {
	case T_M_SOURCE:
		m->source = string(a, r, 0);
		return 0;
	case T_M_DEST:
		m->dest = string(a, r, 0);
		return 0;
	case T_M_TYPE:
		m->type = string(a, r, 0);
		return 0;
	case T_M_DATA:
		m->data = string(a, r, 0);
		return 0;
	case T_M_FLAGS:
		return get_ulong(r->p, &m->flags, why);
	case T_M_PROPAGATION:
		return get_ulong(r->p, &m->propagation[m->npropagation++], why);
	case T_M_ATTR:
		m->attr_set = get64(r->p);
		m->attr_clr = get64(r->p + 8);
		return 0;
	}
	return 0;
}

/* fill_stage stores the stage's own records. */
static int fill_stage(struct arena *a, const struct record *r, struct config *c, const char **why)
{
	switch (r->tag) {
	case T_DIE_WITH_PARENT:
		c->die_with_parent = 1;
		return 0;
	case T_EXEC_FIFO_FD:
		return get_int(r->p, INT_MAX, &c->exec_fifo_fd, why);
	case T_PIDS_LIMIT:
		c->pids_value = string(a, r, 4);
		return get_int(r->p, INT_MAX, &c->pids_fd, why);
	case T_CGROUP_TASK:
		c->cgroup_tasks[c->ncgroup_tasks++] = string(a, r, 0);
		return 0;
	case T_NEW_CGROUPNS:
		c->new_cgroupns = 1;
		return 0;
	case T_NEW_NETNS:
		c->new_netns = 1;
		return 0;
	case T_NEW_KEYRING:
		c->new_keyring = 1;
		return 0;
	case T_NETNS_FD:
		return get_int(r->p, INT_MAX, &c->netns_fd, why);
	case T_HOSTNAME:
		c->hostname = string(a, r, 0);
		return 0;
	case T_DOMAINNAME:
		c->domainname = string(a, r, 0);
		return 0;
	case T_SYSCTL:
		return fill_sysctl(a, r, c, why);
	case T_HOOK_PAUSE:
		c->hook_pause = 1;
		return 0;
	}
	return 0;
}

/* fill_rootfs stores the root filesystem's records but the mounts'. */
static int fill_rootfs(struct arena *a, const struct record *r, struct config *c, const char **why)
{
	struct device *d;

	switch (r->tag) {
	case T_ROOT:
		c->root = string(a, r, 0);
		return 0;
	case T_READONLY_ROOT:
		c->readonly_root = 1;
		return 0;
	case T_PROPAGATION:
		return get_ulong(r->p, &c->propagation, why);
	case T_ROOT_PROPAGATION:
		return get_ulong(r->p, &c->root_propagation, why);
	case T_OVERLAY_DIR:
		c->overlay_dir = string(a, r, 0);
		return 0;
	case T_OVERLAY_DATA:
		c->overlay_data = string(a, r, 0);
		return 0;
	case T_DEVICE:
		d = &c->devices[c->ndevices++];
		d->mode = get32(r->p);
		d->major = get32(r->p + 4);
		d->minor = get32(r->p + 8);
		d->uid = get32(r->p + 12);
		d->gid = get32(r->p + 16);
		d->path = string(a, r, 20);
		return 0;
	case T_CGROUP_HIERARCHY:
		c->cgroup_hierarchies[c->ncgroup_hierarchies++] = string(a, r, 0);
		return 0;
	case T_CGROUP_PATH:
		c->cgroup_path = string(a, r, 0);
		return 0;
	case T_MASKED:
		c->masked[c->nmasked++] = string(a, r, 0);
		return 0;
	case T_READONLY_PATH:
		c->readonly_paths[c->nreadonly++] = string(a, r, 0);
		return 0;
	case T_MKCWD:
		c->mkcwd = string(a, r, 0);
		return 0;
	}
	return fill_mount(a, r, c, why);
}

/* fill_identity stores the process's identity and limits. */
static int fill_identity(const struct record *r, struct config *c, const char **why)
{
	struct rlimit_entry *l;

	switch (r->tag) {
	case T_USER:
		c->uid = get32(r->p);
		c->gid = get32(r->p + 4);
		return 0;
	case T_GIDS:
		c->ngids = (int)(r->len / 4);
		memcpy(c->gids, r->p, r->len);
		return 0;
	case T_UMASK:
		c->has_umask = 1;
		c->umask = get32(r->p);
		return 0;
	case T_CAPS:
		for (int i = 0; i < NCAPSETS; i++)
			c->caps[i] = get64(r->p + 8 * i);
		return 0;
	case T_NO_NEW_PRIVS:
		c->no_new_privs = 1;
		return 0;
	case T_RLIMIT:
		if (get32(r->p + 4) != 0) {
			*why = "an rlimit whose padding is not zero";
			return -1;
		}
		l = &c->rlimits[c->nrlimits++];
		l->resource = get32(r->p);
		l->soft = get64(r->p + 8);
		l->hard = get64(r->p + 16);
		return 0;
	case T_OOM_SCORE_ADJ:
		c->has_oom_score_adj = 1;
		c->oom_score_adj = (int)(int32_t)get32(r->p);
		return 0;
	}
	return 0;
}

/* fill_process stores the process's records. */
static int fill_process(struct arena *a, const struct record *r, struct config *c, const char **why)
{
	switch (r->tag) {
	case T_ARG:
		c->argv[c->argc++] = string(a, r, 0);
		return 0;
	case T_ENV:
		c->envp[c->envc++] = string(a, r, 0);
		return 0;
	case T_CWD:
		c->cwd = string(a, r, 0);
		return 0;
	case T_DEVNULL:
		if (get32(r->p) > 2) {
			*why = "/dev/null for a descriptor other than 0, 1 or 2";
			return -1;
		}
		c->devnull[c->ndevnull++] = (int)get32(r->p);
		return 0;
	case T_SECCOMP:
		/* take_arrays gave it r->len bytes of the arena. */
		memcpy((void *)c->seccomp, r->p, r->len);
		c->seccomp_len = r->len;
		return 0;
	case T_SECCOMP_FLAGS:
		c->seccomp_flags = get32(r->p);
		if (c->seccomp_flags & ~(uint32_t)SECCOMP_FLAGS_OK) {
			*why = "seccomp flags other than LOG and SPEC_ALLOW";
			return -1;
		}
		return 0;
	case T_PRESERVE_FDS:
		/* 3 + preserve_fds must stay an int. */
		return get_int(r->p, INT_MAX - 3, &c->preserve_fds, why);
	}
	return fill_identity(r, c, why);
}

/* fill stores every record of a message that scan accepted. */
static int fill(struct arena *a, const unsigned char *buf, size_t len, struct config *c, const char **why)
{
	size_t off = 4;
	struct record r;

	while (next_record(buf, len, &off, &r, why) > 0) {
		int err;

		if (r.tag < T_ROOT)
			err = fill_stage(a, &r, c, why);
		else if (r.tag < T_ARG)
			err = fill_rootfs(a, &r, c, why);
		else
			err = fill_process(a, &r, c, why);
		if (err < 0)
			return -1;
	}
	c->argv[c->argc] = NULL;
	c->envp[c->envc] = NULL;
	return 0;
}

int decode_config(const unsigned char *buf, size_t len, struct config *c, const char **why)
{
	struct counts n;
	struct arena a;
	size_t arrays;
	void *block;

	memset(c, 0, sizeof(*c));
	c->exec_fifo_fd = c->pids_fd = c->netns_fd = -1;
	if (len > WIRE_MAX_MESSAGE) {
		*why = "a message over WIRE_MAX_MESSAGE";
		return -1;
	}
	if (len < 4 || get32(buf) != WIRE_MAGIC) {
		*why = "no magic number: not a compact config";
		return -1;
	}
	memset(&n, 0, sizeof(n));
	if (scan(buf, len, &n, why) < 0)
		return -1;
	arrays = arrays_size(&n);
	block = calloc(1, arrays + n.strbytes);
	if (block == NULL) {
		*why = "out of memory";
		return -1;
	}
	a.next = block;
	a.strings = (char *)block + arrays;
	take_arrays(&a, &n, c);
	if (fill(&a, buf, len, c, why) < 0) {
		free(block);
		memset(c, 0, sizeof(*c));
		c->exec_fifo_fd = c->pids_fd = c->netns_fd = -1;
		return -1;
	}
	return 0;
}

/* print_string prints s quoted: printable ASCII as itself (but " and \),
 * any other byte as \xHH; NULL as null. internal/initproc's tests print
 * the same. */
static void print_string(const char *s)
{
	if (s == NULL) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p >= 0x20 && *p < 0x7f)
			putchar(*p);
		else
			printf("\\x%02x", *p);
	}
	putchar('"');
}

/* print_field prints "name STRING" on a line. */
static void print_field(const char *name, const char *s)
{
	printf("%s ", name);
	print_string(s);
	putchar('\n');
}

static void print_list(const char *name, const char *const *list, int n)
{
	for (int i = 0; i < n; i++)
		print_field(name, list[i]);
}

static void print_mount(const struct mount *m)
{
	printf("mount kind=%d source=", m->kind);
	print_string(m->source);
	fputs(" dest=", stdout);
	print_string(m->dest);
	fputs(" type=", stdout);
	print_string(m->type);
	fputs(" data=", stdout);
	print_string(m->data);
	printf(" flags=0x%lx propagation=[", m->flags);
	for (int i = 0; i < m->npropagation; i++)
		printf("%s0x%lx", i ? "," : "", m->propagation[i]);
	printf("] attr_set=0x%" PRIx64 " attr_clr=0x%" PRIx64 "\n", m->attr_set, m->attr_clr);
}

static void print_stage(const struct config *c)
{
	printf("die_with_parent %d\nexec_fifo_fd %d\npids_fd %d\n", c->die_with_parent, c->exec_fifo_fd, c->pids_fd);
	print_field("pids_value", c->pids_value);
	print_list("cgroup_task", c->cgroup_tasks, c->ncgroup_tasks);
	printf("new_cgroupns %d\nnew_netns %d\nnetns_fd %d\nnew_keyring %d\n", c->new_cgroupns, c->new_netns, c->netns_fd,
	       c->new_keyring);
	print_field("hostname", c->hostname);
	print_field("domainname", c->domainname);
	printf("hook_pause %d\n", c->hook_pause);
	for (int i = 0; i < c->nsysctls; i++) {
		fputs("sysctl ", stdout);
		print_string(c->sysctls[i].key);
		putchar(' ');
		print_string(c->sysctls[i].value);
		putchar('\n');
	}
}

static void print_rootfs(const struct config *c)
{
	print_field("root", c->root);
	printf("readonly_root %d\npropagation 0x%lx\nroot_propagation 0x%lx\n", c->readonly_root, c->propagation,
	       c->root_propagation);
	print_field("overlay_dir", c->overlay_dir);
	print_field("overlay_data", c->overlay_data);
	for (int i = 0; i < c->nmounts; i++)
		print_mount(&c->mounts[i]);
	for (int i = 0; i < c->ndevices; i++) {
		const struct device *d = &c->devices[i];

		fputs("device ", stdout);
		print_string(d->path);
		printf(" mode=0%o major=%u minor=%u uid=%u gid=%u\n", (unsigned)d->mode, (unsigned)d->major,
		       (unsigned)d->minor, (unsigned)d->uid, (unsigned)d->gid);
	}
	print_list("cgroup_hierarchy", c->cgroup_hierarchies, c->ncgroup_hierarchies);
	print_field("cgroup_path", c->cgroup_path);
	print_field("mkcwd", c->mkcwd);
	print_list("masked", c->masked, c->nmasked);
	print_list("readonly_path", c->readonly_paths, c->nreadonly);
}

static void print_process(const struct config *c)
{
	print_list("arg", (const char *const *)c->argv, c->argc);
	print_list("env", (const char *const *)c->envp, c->envc);
	print_field("cwd", c->cwd);
	printf("uid %u\ngid %u\ngids", (unsigned)c->uid, (unsigned)c->gid);
	for (int i = 0; i < c->ngids; i++)
		printf(" %u", (unsigned)c->gids[i]);
	if (c->has_umask)
		printf("\numask 0%o\n", (unsigned)c->umask);
	else
		printf("\numask none\n");
	printf("caps bounding=0x%" PRIx64 " effective=0x%" PRIx64 " inheritable=0x%" PRIx64 " permitted=0x%" PRIx64
	       " ambient=0x%" PRIx64 "\n",
	       c->caps[CAP_BOUNDING], c->caps[CAP_EFFECTIVE], c->caps[CAP_INHERITABLE], c->caps[CAP_PERMITTED],
	       c->caps[CAP_AMBIENT]);
	printf("no_new_privs %d\n", c->no_new_privs);
	for (int i = 0; i < c->nrlimits; i++)
		printf("rlimit resource=%u soft=%" PRIu64 " hard=%" PRIu64 "\n", (unsigned)c->rlimits[i].resource,
		       c->rlimits[i].soft, c->rlimits[i].hard);
	if (c->has_oom_score_adj)
		printf("oom_score_adj %d\n", c->oom_score_adj);
	else
		printf("oom_score_adj none\n");
	for (int i = 0; i < c->ndevnull; i++)
		printf("devnull %d\n", c->devnull[i]);
	printf("seccomp %zu ", c->seccomp_len);
	for (size_t i = 0; i < c->seccomp_len; i++)
		printf("%02x", c->seccomp[i]);
	printf("\nseccomp_flags 0x%x\npreserve_fds %d\n", (unsigned)c->seccomp_flags, c->preserve_fds);
}

void print_config(const struct config *c)
{
	print_stage(c);
	print_rootfs(c);
	print_process(c);
}
