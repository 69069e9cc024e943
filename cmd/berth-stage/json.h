/*
 * append_json, the JSON string escaping of both C stages' reports to
 * berth (berth-stage's report.c and berth-nsenter's, which includes this
 * file from here): one copy, so that the two cannot drift apart.
 *
 * Header-only (static inline), so that neither build needs another file.
 */
#ifndef BERTH_JSON_H
#define BERTH_JSON_H

#include <stddef.h>
#include <stdio.h>

/* append_json copies s into buf from at as the inside of a JSON string
 * and returns the new end (buf stays NUL-terminated; a long s is cut).
 * It escapes what JSON requires (", \ and control characters) and leaves
 * bytes from 0x7f up as they are, as Go's encoder (the Go stage's) does:
 * UTF-8 text, a path named in an error, arrives as it is, and berth's
 * decoder reads invalid UTF-8 as U+FFFD, as the Go stage's encoder would
 * have written it. A \u00XX escape of each byte would turn UTF-8 into
 * Latin-1. Nothing here allocates. */
static inline size_t append_json(char *buf, size_t at, size_t size, const char *s)
{
	for (; *s != '\0' && at + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[at++] = '\\';
			buf[at++] = (char)c;
		} else if (c < 0x20) {
			at += (size_t)snprintf(buf + at, size - at, "\\u%04x", c);
		} else {
			buf[at++] = (char)c;
		}
	}
	buf[at] = '\0';
	return at;
}

#endif
