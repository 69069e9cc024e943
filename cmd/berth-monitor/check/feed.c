/*
 * The differential test's driver (internal/logs TestMonitorLogMatchesGo):
 * berth-monitor's stream splitting and log writer fed from frames on
 * stdin instead of the container's pipes, so that the same bytes can go
 * through internal/logs and be compared.
 *
 *   feed LOG MAX-SIZE MAX-FILES < frames
 *
 * A frame is one byte (o: stdout, e: stderr, O or E: that stream ends),
 * then for o and e a 4-byte little-endian length and that many bytes.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../monitor.h"

static struct stream out = {.name = "stdout", .fd = -1}, err = {.name = "stderr", .fd = -1};
static char data[1 << 20];

int main(int argc, char **argv)
{
	struct log l = {0};
	unsigned char h[4];
	size_t n;
	int c;

	if (argc != 4)
		return 2;
	l.path = argv[1];
	l.max_size = atoll(argv[2]);
	l.max_files = atoi(argv[3]);
	if (log_open(&l) < 0) {
		perror("feed: open log");
		return 1;
	}
	while ((c = getchar()) != EOF) {
		struct stream *s = (c == 'o' || c == 'O') ? &out : &err;
		if (c == 'O' || c == 'E') {
			stream_end(s, &l);
			continue;
		}
		if (fread(h, 1, 4, stdin) != 4)
			return 1;
		n = h[0] | h[1] << 8 | h[2] << 16 | (size_t)h[3] << 24;
		if (n > sizeof(data) || fread(data, 1, n, stdin) != n)
			return 1;
		stream_take(s, &l, data, n);
	}
	return 0;
}
