/*
 * berth-monitor: see monitor.h for what it is and its command line, and
 * docs/design.md (Process model) for where it fits.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor.h"

/* The signals berth's monitor passes on to the container's PID 1
 * (internal/container ForwardedSignals), as docker run does. */
static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static struct stream out = {.name = "stdout"}, err = {.name = "stderr"};

/* stopped: SIGTERM or SIGINT came, which ends a Go monitor's restarts
 * (berth passes it on as --stopped). */
static int stopped;

#define STOP_LOCK "--stop-lock="

static void usage(void)
{
	fprintf(stderr, "berth-monitor: bad arguments (it is started by berth, not by hand)\n");
	exit(2);
}

/* number reads a decimal argument in [min, max], or quits. */
static long long number(const char *s, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage();
	return v;
}

/* reap collects every child that exited: the container, whose status is
 * kept, and any other (none is expected; a zombie must not stay). */
static int reap(pid_t pid, int *status)
{
	int st, done = 0;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p == pid)
			*status = st, done = 1;
	}
	return done;
}

/* watch copies the streams to the log, forwards signals, and returns the
 * container's wait status once it exited. */
static int watch(pid_t pid, struct log *l, int sfd)
{
	struct pollfd p[3];
	struct signalfd_siginfo si;
	int status = 0;

	if (reap(pid, &status))
		return status; /* it exited before the signalfd existed */
	for (;;) {
		p[0] = (struct pollfd){.fd = out.fd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = err.fd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = sfd, .events = POLLIN};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("berth-monitor: poll");
			exit(125);
		}
		if (p[0].revents)
			stream_read(&out, l);
		if (p[1].revents)
			stream_read(&err, l);
		if (!(p[2].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGCHLD) {
			if (reap(pid, &status))
				return status;
			continue;
		}
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			stopped = 1;
		/* Not yet reaped: the PID is still the container's. */
		kill(pid, si.ssi_signo);
	}
}

/* drain logs what the pipes still hold without waiting for their end: a
 * process that escaped the container and keeps a pipe open must not hold
 * the monitor. */
static void drain(struct stream *s, struct log *l)
{
	if (s->fd < 0)
		return;
	fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
	while (s->fd >= 0 && stream_read(s, l) > 0)
		;
	stream_end(s, l);
	if (s->fd >= 0)
		close(s->fd);
}

/* handed_back reports whether a berth stop (or rm -f) holds the stop
 * lock STOP: it then records the exit itself, faster than a berth
 * started anew, and is given the wait status st in that file, written
 * only after the container was reaped. A stop lock that is free (none,
 * or its stopper died) leaves the exit to the berth exec'd back. */
static int handed_back(const char *stop, int st)
{
	char buf[16];
	int fd, n, r = 0;

	if (!stop || (fd = open(stop, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		n = snprintf(buf, sizeof(buf), "%d\n", st);
		r = pwrite(fd, buf, n, 0) == n;
	}
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	struct log l = {0};
	sigset_t set;
	char status[16];
	const char *stop;
	char **next;
	pid_t pid;
	int sfd, st;
	size_t i;

	if (argc < 8)
		usage();
	pid = number(argv[1], 1, INT_MAX);
	out.fd = number(argv[2], 3, INT_MAX);
	err.fd = number(argv[3], 3, INT_MAX);
	l.path = argv[4];
	l.max_size = number(argv[5], 0, LLONG_MAX);
	l.max_files = number(argv[6], 1, INT_MAX);
	/* --stop-lock=FILE, optional: a berth before it passes none. */
	next = argv + 7;
	stop = NULL;
	if (!strncmp(*next, STOP_LOCK, sizeof(STOP_LOCK) - 1))
		stop = *next++ + sizeof(STOP_LOCK) - 1;
	if (!*next)
		usage();
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		perror("berth-monitor: signalfd");
		return 125;
	}
	/* PID must be this process's child, unreaped, or it would wait for
	 * ever. */
	{
		siginfo_t si = {0};
		if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
			fprintf(stderr, "berth-monitor: process %d is not its child: %s\n", (int)pid, strerror(errno));
			return 2;
		}
	}
	fcntl(out.fd, F_SETFD, FD_CLOEXEC);
	fcntl(err.fd, F_SETFD, FD_CLOEXEC);
	if (log_open(&l) < 0)
		perror("berth-monitor: open log"); /* entries are dropped */
	st = watch(pid, &l, sfd);
	drain(&out, &l);
	drain(&err, &l);
	close(sfd);
	if (l.fd >= 0)
		close(l.fd);
	/* The container is gone: a signal pending or sent now (berth stop
	 * finding no process to signal) is dropped, not left to kill berth
	 * before it recorded the exit; berth ignores them too as it starts
	 * (engine.MonitorExited). Go's runtime unblocks them whatever the
	 * mask it starts with, and would die of a pending one. Of these it
	 * keeps only SIGHUP and SIGINT ignored until it asks for them, which
	 * is why berth stop sends a monitor SIGINT (engine.monitorStopSignal). */
	for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		signal(forwarded[i], SIG_IGN);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	/* Its locks go with this process: the stopper, woken by the
	 * lifetime lock, takes each in turn. */
	if (handed_back(stop, st))
		return 0;
	snprintf(status, sizeof(status), "%d", st);
	{
		/* BERTH ARG... STATUS [--stopped] */
		size_t n = argc - (next - argv);
		char *args[n + 3];
		memcpy(args, next, n * sizeof(char *));
		args[n++] = status;
		if (stopped)
			args[n++] = "--stopped";
		args[n] = NULL;
		execv(args[0], args);
	}
	perror("berth-monitor: exec berth");
	return 125;
}
