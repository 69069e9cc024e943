/*
 * Messages to berth over the sync socket, in the Go stage's own form
 * (internal/initproc Message, JSON), so that berth reads either stage
 * alike: the config in, "created" and an error with its exit status out.
 *
 * Nothing here allocates: fail may run after the seccomp filter is in
 * place (a failed exec), where a profile need not allow brk or mmap.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json.h"
#include "stage.h"
#include "wire.h"

int sync_fd = -1;

/* errno_text is Go's text for err (syscall.Errno.Error), which berth's
 * tests and users match: the C library's description with its first
 * letter lowered unless the word is an acronym ("no such file or
 * directory", "permission denied"), or "errno N" for an unknown one.
 * strerrordesc_np, not strerror: it neither allocates nor localizes. */
static const char *errno_text(int err, char *buf, size_t size)
{
	const char *s = strerrordesc_np(err);

	if (s == NULL) {
		snprintf(buf, size, "errno %d", err);
		return buf;
	}
	snprintf(buf, size, "%s", s);
	if (buf[0] >= 'A' && buf[0] <= 'Z' && buf[1] >= 'a' && buf[1] <= 'z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* send_message writes one message whole: write(2), not send, as the Go
 * stage's send, for its filter: after the seccomp filter is in place this
 * stage makes only the syscalls runc's makes there (write, read, close,
 * execve), which profiles written for runc allow. A berth gone gives
 * EPIPE and no SIGPIPE: a SOCK_SEQPACKET socket of AF_UNIX never raises
 * it (unix_dgram_sendmsg), so fail can fall back to stderr. */
static int send_message(const char *msg, size_t n)
{
	ssize_t w;

	do
		w = write(sync_fd, msg, n);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	if ((size_t)w != n) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

void fail(int code, int err, const char *fmt, ...)
{
	/* Static: the text can be long (a path, an argument), and the
	 * stack of a process that failed deep inside is no place for it. */
	static char text[8192], msg[sizeof(text) * 6 + 64], line[sizeof(text) + 16];
	char etext[64];
	va_list ap;
	size_t n;
	int m;

	/* A text cut short still ends in the errno's. */
	va_start(ap, fmt);
	m = vsnprintf(text, sizeof(text) - sizeof(etext) - 2, fmt, ap);
	va_end(ap);
	if (m < 0)
		text[0] = '\0';
	n = strlen(text);
	if (err != 0)
		snprintf(text + n, sizeof(text) - n, ": %s", errno_text(err, etext, sizeof(etext)));

	n = (size_t)snprintf(msg, sizeof(msg), "{\"type\":\"error\",\"error\":\"");
	n = append_json(msg, n, sizeof(msg) - 32, text);
	n += (size_t)snprintf(msg + n, sizeof(msg) - n, "\",\"code\":%d}", code);
	if (sync_fd < 0 || send_message(msg, n) < 0) {
		/* Nobody is listening any more (berth is gone): the
		 * container's own stderr is all that is left. */
		m = snprintf(line, sizeof(line), "berth: %s\n", text);
		if (m > 0 && write(2, line, (size_t)m < sizeof(line) ? (size_t)m : sizeof(line) - 1) < 0) {
			/* Nothing else can be told. */
		}
	}
	exit(code);
}

int report_created(void)
{
	static const char msg[] = "{\"type\":\"created\"}";

	return send_message(msg, sizeof(msg) - 1);
}

/* recv_retry is recv, again after a signal. */
static ssize_t recv_retry(void *buf, size_t len, int flags);

void pause_for_hooks(void)
{
	static const char msg[] = "{\"type\":\"hooks\"}";
	char reply[16];
	ssize_t n;

	if (send_message(msg, sizeof(msg) - 1) < 0)
		fail(125, errno, "report to parent");
	n = recv_retry(reply, sizeof(reply), 0);
	if (n < 0)
		fail(125, errno, "wait for hooks");
	if (n != sizeof("continue") - 1 || memcmp(reply, "continue", (size_t)n) != 0)
		fail(125, 0, "runtime hooks failed");
}

/* recv_retry is recv, again after a signal. */
static ssize_t recv_retry(void *buf, size_t len, int flags)
{
	ssize_t n;

	do
		n = recv(sync_fd, buf, len, flags);
	while (n < 0 && errno == EINTR);
	return n;
}

unsigned char *read_message(size_t *len)
{
	unsigned char *buf;
	ssize_t n, got;

	/* SOCK_SEQPACKET keeps each message whole: peek for its size
	 * (MSG_TRUNC gives the real length), then take it in one read. */
	n = recv_retry(NULL, 0, MSG_PEEK | MSG_TRUNC);
	if (n < 0)
		fail(125, errno, "read config");
	if (n == 0)
		fail(125, 0, "read config: the parent closed the connection");
	/* berth never sends more; a bigger message is not the config. */
	if ((size_t)n > WIRE_MAX_MESSAGE)
		fail(125, 0, "read config: a message of %zd bytes, over the limit of %u", n, WIRE_MAX_MESSAGE);
	buf = malloc((size_t)n);
	if (buf == NULL)
		fail(125, errno, "read config");
	got = recv_retry(buf, (size_t)n, 0);
	if (got < 0)
		fail(125, errno, "read config");
	if (got != n)
		fail(125, 0, "read config: got %zd bytes of a message of %zd", got, n);
	*len = (size_t)n;
	return buf;
}
