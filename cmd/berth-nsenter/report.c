/*
 * Reports to berth over the sync socket, in the init stage's own message
 * form (internal/initproc Message, JSON): an error with the exit status 125,
 * or the PID of the cloned child. berth reads them as it reads berth-init's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsenter.h"

/* append_json copies s into buf as the inside of a JSON string. */
static size_t append_json(char *buf, size_t at, size_t size, const char *s)
{
	for (; *s != '\0' && at + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[at++] = '\\';
			buf[at++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			at += (size_t)snprintf(buf + at, size - at, "\\u%04x", c);
		} else {
			buf[at++] = (char)c;
		}
	}
	buf[at] = '\0';
	return at;
}

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
