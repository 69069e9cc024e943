/*
 * berth-nsenter: the single-threaded stage of berth and berth-oci.
 *
 * A Go process is multi-threaded from its first instruction, and the
 * kernel refuses setns(CLONE_NEWUSER) to a multi-threaded process. berth
 * therefore forks this small static program where a process must enter an
 * existing user namespace: an exec into a container that has one, and a
 * container that joins one by path. It joins the v1 cgroups and the user
 * (and PID) namespace it is given, becomes the namespace's root, creates
 * the new namespaces a container asks for (so that they are owned by the
 * joined user namespace), and execs berth-init, the Go init stage, which
 * continues as always.
 *
 * Its only inputs are its arguments and descriptors, both from berth:
 * it reads nothing from the container, parses no file and no message.
 */
#ifndef BERTH_NSENTER_H
#define BERTH_NSENTER_H

#define MAX_TASKS 16

struct plan {
	int check;             /* --check: print the decoded plan, do nothing */
	int init_fd;           /* berth-init's read-only handle, run by execveat */
	int sync_fd;           /* the socket to berth: errors and the clone's PID */
	int userns_fd;         /* user namespace to join (its ns file); -1 */
	int pidns_fd;          /* PID namespace for the clone's child; -1 */
	int tasks_fd[MAX_TASKS]; /* v1 tasks files to write "0" into */
	int ntasks;
	unsigned long clone_flags; /* new namespaces for the child */
	char **init_argv;      /* berth-init's argv (after "--") */
};

/* args.c */
int decode_args(int argc, char **argv, struct plan *p, const char **why);
void print_plan(const struct plan *p);

/* report.c */
void report_error(int sync_fd, const char *what, int err);
int report_pid(int sync_fd, int pid);
void die(int sync_fd, const char *what, int err);

/* join.c */
void join_cgroups(const struct plan *p);
void join_namespaces(const struct plan *p);
void become_root(const struct plan *p);

/* spawn.c: a new container's init is a child (see spawn.c) */
#define CLONES(p) ((p)->clone_flags != 0 || (p)->pidns_fd != -1)
void clone_child(const struct plan *p);
void exec_init(const struct plan *p);

#endif
