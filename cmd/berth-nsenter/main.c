/*
 * berth-nsenter: see nsenter.h for what it is for, args.c for how berth
 * calls it, and docs/design.md (Process model) for where it fits.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "nsenter.h"

int main(int argc, char **argv)
{
	struct plan p;
	const char *why = "";

	/* Nothing in a namespace joined below may ptrace this process or read
	 * its descriptors (berth's socket, berth-init's handle). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		perror("berth-nsenter: set non-dumpable");
		return 125;
	}
	if (decode_args(argc, argv, &p, &why) < 0) {
		fprintf(stderr, "berth-nsenter: bad arguments: %s (it is started by berth, not by hand)\n", why);
		return 2;
	}
	if (p.check) {
		print_plan(&p);
		return 0;
	}
	join_cgroups(&p);
	join_namespaces(&p);
	become_root(&p);
	if (CLONES(&p))
		clone_child(&p);
	exec_init(&p);
	return 125;
}
