/*
 * report_check: report.c alone, for internal/container's tests
 * (nsenter_test.go): what berth reads of an error of berth-nsenter's.
 * Not part of berth-nsenter: the Makefile builds the .c files of
 * cmd/berth-nsenter only, not of this directory.
 *
 *   report_check SYNCFD ERRNO WHAT   die(SYNCFD, WHAT, ERRNO): report
 *                                    WHAT (and ERRNO's text unless 0)
 *                                    on SYNCFD and exit 125
 */
#include <stdio.h>
#include <stdlib.h>

#include "../nsenter.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: report_check SYNCFD ERRNO WHAT\n");
		return 2;
	}
	die(atoi(argv[1]), argv[3], atoi(argv[2]));
	return 125;
}
