/*
 * The compact config's wire form: what berth (internal/initproc,
 * compact.go) sends berth-stage in one SOCK_SEQPACKET message.
 *
 *   message = magic record*
 *   magic   = u32 WIRE_MAGIC
 *   record  = u32 tag, u32 len, len bytes of payload
 *
 * Integers are in the machine's byte order (both ends run on it). A
 * string is its bytes, without a NUL, none inside. Payload forms per tag
 * are listed below: "flag" has no payload, "str" a string, "u32"/"i32"/
 * "u64" one integer, others as described. Tags marked "rep" may repeat
 * (in order); any other tag appears at most once. M_* tags describe the
 * mount that the last MOUNT record started. An unknown tag, a length
 * that does not fit its tag, a repeated tag, a string with a NUL or over
 * its limit, or a missing required record (ROOT, ARG, CWD, USER) makes
 * the whole message invalid.
 */
#ifndef BERTH_STAGE_WIRE_H
#define BERTH_STAGE_WIRE_H

#define WIRE_MAGIC 0x31435342u /* "BSC1" read as a little-endian u32 */

#define WIRE_MAX_MESSAGE (4u << 20) /* bytes */
#define WIRE_MAX_PATH 4096          /* a path or other short string, in bytes */
#define WIRE_MAX_ARG (128u << 10)   /* an argument or environment entry (MAX_ARG_STRLEN) */
#define WIRE_MAX_LIST 4096          /* entries of any repeated tag */
#define WIRE_MAX_SECCOMP 4096       /* instructions (BPF_MAXINSNS) */

enum wire_tag {
	/* the stage */
	T_DIE_WITH_PARENT = 1,  /* flag */
	T_EXEC_FIFO_FD = 2,     /* u32 */
	T_PIDS_LIMIT = 3,       /* u32 fd, then the value's bytes */
	T_CGROUP_TASK = 4,      /* str, rep */
	T_NEW_CGROUPNS = 5,     /* flag */
	T_NEW_NETNS = 6,        /* flag */
	T_NEW_KEYRING = 7,      /* flag */
	T_HOSTNAME = 8,         /* str */
	T_DOMAINNAME = 9,       /* str */
	T_SYSCTL = 10,          /* u32 n, the key's n bytes (n >= 1), the value's bytes (together a str); rep */
	T_HOOK_PAUSE = 11,      /* flag: stop after the mounts until berth has run its hooks */
	T_NETNS_FD = 12,        /* u32: an inherited fd of a new network namespace made by berth (lo up), entered first */

	/* the root filesystem */
	T_ROOT = 20,            /* str, required */
	T_READONLY_ROOT = 21,   /* flag */
	T_PROPAGATION = 22,     /* u64 */
	T_ROOT_PROPAGATION = 23,/* u64 */
	T_OVERLAY_DIR = 24,     /* str */
	T_OVERLAY_DATA = 25,    /* str */
	T_MOUNT = 26,           /* u32 kind (enum mount_kind), rep: starts a mount */
	T_M_SOURCE = 27,        /* str */
	T_M_DEST = 28,          /* str, required in each mount */
	T_M_TYPE = 29,          /* str */
	T_M_DATA = 30,          /* str */
	T_M_FLAGS = 31,         /* u64 */
	T_M_PROPAGATION = 32,   /* u64, rep (at most MAX_PROPAGATION per mount) */
	T_M_ATTR = 33,          /* u64 attr_set, u64 attr_clr */
	T_DEVICE = 34,          /* u32 mode, major, minor, uid, gid, then the path's bytes; rep */
	T_CGROUP_HIERARCHY = 35,/* str, rep */
	T_CGROUP_PATH = 36,     /* str */
	T_MASKED = 37,          /* str, rep */
	T_READONLY_PATH = 38,   /* str, rep */
	T_MKCWD = 39,           /* str */

	/* the process */
	T_ARG = 50,             /* str (up to WIRE_MAX_ARG), rep, at least one */
	T_ENV = 51,             /* str (up to WIRE_MAX_ARG), rep */
	T_CWD = 52,             /* str, required */
	T_USER = 53,            /* u32 uid, u32 gid; required */
	T_GIDS = 54,            /* n × u32 */
	T_UMASK = 55,           /* u32 */
	T_CAPS = 56,            /* 5 × u64: bounding, effective, inheritable, permitted, ambient */
	T_NO_NEW_PRIVS = 57,    /* flag */
	T_RLIMIT = 58,          /* u32 resource, u32 zero, u64 soft, u64 hard; rep */
	T_OOM_SCORE_ADJ = 59,   /* i32 */
	T_DEVNULL = 60,         /* u32 (0, 1 or 2), rep */
	T_SECCOMP = 61,         /* n × 8 bytes of struct sock_filter, 1 <= n <= WIRE_MAX_SECCOMP */
	T_SECCOMP_FLAGS = 62,   /* u32 */
	T_PRESERVE_FDS = 63,    /* u32 */
};

#endif
