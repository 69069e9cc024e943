/*
 * Reports to berth over the sync socket, in the init stage's own message
 * form (internal/initproc Message, JSON): an error with the exit status 125,
 * or the PID of the cloned child. berth reads them as it reads berth-init's.
 * The text is escaped as berth-stage's (append_json, shared): UTF-8 text,
 * such as a path, arrives as it is (internal/container
 * TestNsenterReportText, with check/report_main.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../berth-stage/json.h"
#include "nsenter.h"

void report_error(int sync_fd, const char *what, int err)
{
	char text[512], msg[1200];
	size_t n;

	snprintf(text, sizeof(text), "berth-nsenter: %s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
	n = (size_t)snprintf(msg, sizeof(msg), "{\"type\":\"error\",\"code\":125,\"error\":\"");
	n = append_json(msg, n, sizeof(msg) - 3, text);
	memcpy(msg + n, "\"}", 3);
	if (sync_fd < 0 || write(sync_fd, msg, n + 2) < 0)
		fprintf(stderr, "%s\n", text);
}

int report_pid(int sync_fd, int pid)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "{\"type\":\"forked\",\"pid\":%d}", pid);

	return write(sync_fd, msg, (size_t)n) == n ? 0 : -1;
}

void die(int sync_fd, const char *what, int err)
{
	report_error(sync_fd, what, err);
	exit(125);
}
