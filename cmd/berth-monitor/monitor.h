/*
 * berth-monitor: the monitor of a detached container once it runs, in
 * place of berth's Go monitor, which costs six times the memory for the
 * container's whole life (docs/design.md, Process model).
 *
 * berth's Go monitor starts the container and then execs this program in
 * the same process: the container stays its child, and the container's
 * lifetime lock and runtime-state lock (inherited descriptors) stay held.
 * This program copies the container's stdout and stderr into its log,
 * in exactly the json-file format of internal/logs, forwards the signals
 * berth's monitor forwards, reaps the container, and then execs berth
 * again to record the exit and release what the container held:
 *
 *   berth-monitor PID STDOUT-FD STDERR-FD LOG MAX-SIZE MAX-FILES [--stop-lock=STOP] BERTH ARG...
 *
 * runs "BERTH ARG... STATUS" once PID has exited, STATUS its wait status,
 * with "--stopped" after it if SIGTERM or SIGINT came (no restart then).
 * If a berth stop or rm -f holds the flock of the file STOP (none
 * given, or a missing file: none), it writes STATUS into that file instead and just
 * exits: the stopper, already running, records the exit and releases
 * what the container held (engine.Stop), some 15 ms sooner than a berth
 * started anew.
 *
 * Single-threaded, no allocation after start: one file per concern.
 */
#ifndef BERTH_MONITOR_H
#define BERTH_MONITOR_H

#include <stddef.h>

/* The longest text one entry holds (internal/logs MaxLine): a longer line
 * is split into entries of this size, only the last ending in "\n". */
#define MAX_LINE (16 << 10)

/* log.c: the json-file log (internal/logs/writer.go). */
struct log {
	const char *path;
	int fd;
	long long size;
	long long max_size; /* 0: never rotate */
	int max_files;      /* at least 1 */
};

/* log_open opens the log for appending; -1 with errno on failure. The Go
 * side has already ended a torn last line and removed stale rotations. */
int log_open(struct log *l);

/* log_entry appends one entry of stream with one write, rotating first if
 * the entry would take the file past max_size. Failures drop the entry:
 * the container must never block on its log. */
void log_entry(struct log *l, const char *stream, const char *text, size_t n);

/* json_entry renders one line of the log file into out (which holds
 * ENTRY_MAX bytes) and returns its length; t is the time in nanoseconds
 * since the epoch. */
#define ENTRY_MAX (MAX_LINE * 6 + 128)
size_t json_entry(char *out, const char *stream, const char *text, size_t n, long long sec, long nsec);

/* stream.c: one of the container's output streams, split into entries as
 * internal/logs Writer.Copy splits them (bufio.Reader.ReadSlice('\n') with
 * a MAX_LINE buffer). */
struct stream {
	const char *name; /* "stdout" or "stderr" */
	int fd;           /* -1 once it ended */
	size_t len;       /* bytes buffered in buf */
	char buf[MAX_LINE];
};

/* stream_read reads what fd has once: 1 if it read data, 0 at its end
 * (the partial line is then logged and fd closed), -1 if nothing was
 * there (EAGAIN) or on an error other than EINTR. */
int stream_read(struct stream *s, struct log *l);

/* stream_take adds n bytes as if read from the stream (the test driver). */
void stream_take(struct stream *s, struct log *l, const char *data, size_t n);

/* stream_end logs what is left of a line that never ended. */
void stream_end(struct stream *s, struct log *l);

#endif
