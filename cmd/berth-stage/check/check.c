/*
 * decode_check: the compact config's decoder alone, for internal/initproc's
 * tests (compact_test.go): it reads one message from stdin, decodes it
 * and prints the config (exit 0), or says why it is invalid (exit 2).
 * Not part of berth-stage: the Makefile builds the .c files of
 * cmd/berth-stage only, not of this directory. It links with ../decode.c,
 * which needs nothing but libc.
 */
#include <stdio.h>
#include <stdlib.h>
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

int main(void)
{
	struct config c;
	const char *why = "";
	size_t len;
	unsigned char *buf = read_all(&len);

	if (buf == NULL) {
		perror("decode_check: read stdin");
		return 1;
	}
	if (decode_config(buf, len, &c, &why) < 0) {
		fprintf(stderr, "invalid: %s\n", why);
		return 2;
	}
	/* The config must not point into the message. */
	free(buf);
	print_config(&c);
	return fflush(stdout) == 0 ? 0 : 1;
}
