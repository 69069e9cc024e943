/*
 * A container's output stream split into log entries as internal/logs
 * Writer.Copy splits it: bufio.Reader.ReadSlice('\n') over a MAX_LINE
 * buffer yields each line with its "\n", or MAX_LINE bytes of a longer
 * one, or at the end what is left. The entries depend only on the bytes,
 * never on how the reads cut them.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

/* emit logs every entry the buffer holds whole and keeps the rest. */
static void emit(struct stream *s, struct log *l)
{
	size_t off = 0;
	char *nl;

	while ((nl = memchr(s->buf + off, '\n', s->len - off)) != NULL) {
		size_t n = nl - (s->buf + off) + 1;
		log_entry(l, s->name, s->buf + off, n);
		off += n;
	}
	if (off == 0 && s->len == MAX_LINE) {
		log_entry(l, s->name, s->buf, s->len);
		off = s->len;
	}
	memmove(s->buf, s->buf + off, s->len - off);
	s->len -= off;
}

int stream_read(struct stream *s, struct log *l)
{
	ssize_t n;

	do
		n = read(s->fd, s->buf + s->len, MAX_LINE - s->len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return -1;
	if (n <= 0) {
		/* The end, or an error that ends the copy as Copy's does. */
		stream_end(s, l);
		close(s->fd);
		s->fd = -1;
		return 0;
	}
	s->len += n;
	emit(s, l);
	return 1;
}

void stream_take(struct stream *s, struct log *l, const char *data, size_t n)
{
	while (n > 0) {
		size_t k = MAX_LINE - s->len;
		if (k > n)
			k = n;
		memcpy(s->buf + s->len, data, k);
		s->len += k, data += k, n -= k;
		emit(s, l);
	}
}

void stream_end(struct stream *s, struct log *l)
{
	if (s->len > 0)
		log_entry(l, s->name, s->buf, s->len);
	s->len = 0;
}
