/*
 * decode_check: the compact config's decoder alone, for internal/initproc's
 * tests (compact_test.go): it reads one message from stdin, decodes it
 * and prints the config (exit 0), or says why it is invalid (exit 2).
 * With --framed, stdin is not a message but bytes to frame into one (see
 * frame), for the fuzz test.
 * Not part of berth-stage: the Makefile builds the .c files of
 * cmd/berth-stage only, not of this directory. It links with ../decode.c,
 * which needs nothing but libc.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../stage.h"
#include "../wire.h"

/* read_all reads stdin whole, up to one byte over the message limit, so
 * that an oversized message reaches the decoder and is refused there. */
static unsigned char *read_all(size_t *len)
{
	size_t cap = WIRE_MAX_MESSAGE + 1, n = 0;
	unsigned char *buf = malloc(cap);
	ssize_t r;

	if (buf == NULL)
		return NULL;
	while (n < cap && (r = read(0, buf + n, cap - n)) != 0) {
		if (r < 0) {
			free(buf);
			return NULL;
		}
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
	return p + 4;
}

/* put_record writes a record of tag with n bytes of payload. */
static unsigned char *put_record(unsigned char *p, uint32_t tag, const void *payload, uint32_t n)
{
	p = put32(put32(p, tag), n);
	memcpy(p, payload, n);
	return p + n;
}

/* frame makes a well-framed message of in: the required records, then
 * in read as records of a one-byte tag (modulo 64) and a one-byte
 * length. The fuzzer's mutations of in then reach the checks behind the
 * framing, which raw bytes rarely get past. Framing here, not in Go,
 * keeps the fuzz function's Go coverage the same for every input: new
 * coverage there would have the fuzzer minimize inputs, a process run per
 * step. Each input record of 2+n bytes makes one of 8+n. */
static unsigned char *frame(const unsigned char *in, size_t len, size_t *out_len)
{
	static const uint32_t user[2] = {0, 0};
	unsigned char *out = malloc(64 + 4 * len), *p = out;

	if (out == NULL)
		return NULL;
	p = put32(p, WIRE_MAGIC);
	p = put_record(p, T_ROOT, "/r", 2);
	p = put_record(p, T_ARG, "x", 1);
	p = put_record(p, T_CWD, "/", 1);
	p = put_record(p, T_USER, user, sizeof(user));
	while (len >= 2) {
		size_t n = in[1] < len - 2 ? in[1] : len - 2;

		p = put_record(p, in[0] % 64, in + 2, (uint32_t)n);
		in += 2 + n;
		len -= 2 + n;
	}
	*out_len = (size_t)(p - out);
	return out;
}

int main(int argc, char **argv)
{
	struct config c;
	const char *why = "";
	size_t len;
	unsigned char *buf = read_all(&len);
	int err;

	if (buf == NULL) {
		perror("decode_check: read stdin");
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "--framed") == 0) {
		unsigned char *msg = frame(buf, len, &len);

		free(buf);
		buf = msg;
		if (buf == NULL) {
			perror("decode_check: frame");
			return 1;
		}
	}
	err = decode_config(buf, len, &c, &why);

	/* The config must not point into the message. */
	free(buf);
	if (err < 0) {
		fprintf(stderr, "invalid: %s\n", why);
		return 2;
	}
	print_config(&c);
	return fflush(stdout) == 0 ? 0 : 1;
}
