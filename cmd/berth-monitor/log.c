/*
 * The container's log in Docker's json-file format, byte for byte as
 * internal/logs writes it (encode in logs.go, Writer in writer.go):
 *
 *   {"log":"text\n","stream":"stdout","time":"2026-11-22T12:00:00.123456789Z"}
 *
 * The text is escaped as Go's encoding/json escapes a string, HTML-safe:
 * the differential test (internal/logs TestMonitorLogMatchesGo) holds the
 * two to the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

static const char hex[] = "0123456789abcdef";

/* utf8_len is the length of the valid UTF-8 sequence at p (n bytes left)
 * and its code point in *r, or 0 if it is not one: Go's
 * utf8.DecodeRuneInString rules (no overlongs, no surrogates, nothing
 * past U+10FFFF, no truncated sequence). p[0] is at least 0x80. */
static size_t utf8_len(const unsigned char *p, size_t n, unsigned *r)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, *r = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, *r = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, *r = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 1; i < len; i++) {
		if (i > 1 && (p[i] < 0x80 || p[i] > 0xbf))
			return 0;
		*r = *r << 6 | (p[i] & 0x3f);
	}
	return len;
}

/* put_string appends s as a JSON string, as Go's encoding/json does with
 * HTML escaping: <, > and & as \u003c..., invalid UTF-8 as \ufffd per
 * byte, U+2028 and U+2029 escaped, \b \f \n \r \t short. */
static char *put_string(char *o, const unsigned char *s, size_t n)
{
	size_t i = 0, k;
	unsigned r;

	*o++ = '"';
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
				*o++ = c;
				continue;
			}
			*o++ = '\\';
			switch (c) {
			case '"': case '\\': *o++ = c; break;
			case '\b': *o++ = 'b'; break;
			case '\f': *o++ = 'f'; break;
			case '\n': *o++ = 'n'; break;
			case '\r': *o++ = 'r'; break;
			case '\t': *o++ = 't'; break;
			default:
				memcpy(o, "u00", 3);
				o[3] = hex[c >> 4], o[4] = hex[c & 0xf];
				o += 5;
			}
			continue;
		}
		k = utf8_len(s + i, n - i, &r);
		if (k == 0) {
			memcpy(o, "\\ufffd", 6), o += 6, i++;
		} else if (r == 0x2028 || r == 0x2029) {
			memcpy(o, r == 0x2028 ? "\\u2028" : "\\u2029", 6), o += 6, i += k;
		} else {
			memcpy(o, s + i, k), o += k, i += k;
		}
	}
	*o++ = '"';
	return o;
}

static char *put_str(char *o, const char *s)
{
	size_t n = strlen(s);
	memcpy(o, s, n);
	return o + n;
}

static char *put_num(char *o, long long v, int width)
{
	int i;
	for (i = width - 1; i >= 0; i--, v /= 10)
		o[i] = '0' + v % 10;
	return o + width;
}

/* put_time appends t in UTC as "2006-01-02T15:04:05.000000000Z" (Go's
 * layout in logs.go), without libc's time zone machinery. The civil date
 * is Howard Hinnant's days-to-civil algorithm. */
static char *put_time(char *o, long long sec, long nsec)
{
	long long days = sec / 86400, s = sec % 86400, z, era, doe, yoe, y, doy, mp, d, m;

	if (s < 0)
		s += 86400, days--;
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	o = put_num(o, y, 4), *o++ = '-';
	o = put_num(o, m, 2), *o++ = '-';
	o = put_num(o, d, 2), *o++ = 'T';
	o = put_num(o, s / 3600, 2), *o++ = ':';
	o = put_num(o, s / 60 % 60, 2), *o++ = ':';
	o = put_num(o, s % 60, 2), *o++ = '.';
	o = put_num(o, nsec, 9), *o++ = 'Z';
	return o;
}

size_t json_entry(char *out, const char *stream, const char *text, size_t n, long long sec, long nsec)
{
	char *o = out;

	o = put_str(o, "{\"log\":");
	o = put_string(o, (const unsigned char *)text, n);
	o = put_str(o, ",\"stream\":");
	o = put_string(o, (const unsigned char *)stream, strlen(stream));
	o = put_str(o, ",\"time\":\"");
	o = put_time(o, sec, nsec);
	o = put_str(o, "\"}\n");
	return o - out;
}

int log_open(struct log *l)
{
	struct stat st;

	if (l->max_files < 1)
		l->max_files = 1;
	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -1;
	if (fstat(l->fd, &st) < 0)
		return -1;
	l->size = st.st_size;
	return 0;
}

/* rotated names the i-th rotated file of the log: path.i. */
static void rotated(char *out, size_t cap, const char *path, int i)
{
	snprintf(out, cap, "%s.%d", path, i);
}

/* log_rotate shifts path.N-1 to path.N ... path to path.1 and starts a
 * new file, as Writer.rotate does: renamed or removed, never truncated,
 * so that a reader following the file finishes it first. */
static int log_rotate(struct log *l)
{
	char from[4096], to[4096];
	int i, fd;

	for (i = l->max_files - 1; i > 1; i--) {
		rotated(from, sizeof(from), l->path, i - 1);
		rotated(to, sizeof(to), l->path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			return -1;
	}
	rotated(to, sizeof(to), l->path, 1);
	if ((l->max_files > 1 ? rename(l->path, to) : unlink(l->path)) < 0)
		return -1;
	fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	close(l->fd);
	l->fd = fd, l->size = 0;
	return 0;
}

void log_entry(struct log *l, const char *stream, const char *text, size_t n)
{
	static char entry[ENTRY_MAX];
	struct timespec ts;
	size_t len, done = 0;
	ssize_t w;

	clock_gettime(CLOCK_REALTIME, &ts);
	len = json_entry(entry, stream, text, n, ts.tv_sec, ts.tv_nsec);
	if (l->max_size > 0 && l->size > 0 && l->size + (long long)len > l->max_size && log_rotate(l) < 0)
		return;
	/* One write, as Go's File.Write: it retries only a short write. */
	while (done < len) {
		w = write(l->fd, entry + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		done += w;
		l->size += w;
	}
}
