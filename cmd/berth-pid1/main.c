/*
 * berth-pid1: the init of `berth run --init`, as docker-init (tini) is
 * Docker's. It runs as the container's PID 1, starts the command as its
 * child, forwards it every signal it gets, reaps every process that ends
 * up its child (orphans are reparented to PID 1), and exits as the
 * command did (128+N after signal N). A process that is PID 1 of its
 * namespace gets no signal it has no handler for: without an init a
 * `sleep` ignores SIGINT and SIGTERM, and never reaps an orphan.
 *
 * Static and in C (no Go runtime): it stays for the container's whole
 * life, and costs some 100 KiB of memory where a Go program would cost
 * megabytes. berth bind-mounts it read-only at /dev/init.
 *
 * Usage: berth-pid1 [--] COMMAND [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Signals the kernel raises for a fault of the process itself, and the
 * terminal's stops: left unblocked, never forwarded (as tini). */
static const int own_signals[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU};

static int status_of(int ws)
{
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return 1;
}

/* child runs the command: in a process group of its own that owns the
 * terminal, if there is one, so that ctrl-c reaches it once (from the
 * terminal), not twice (again through PID 1). */
static void child(char **argv, const sigset_t *mask)
{
	if (setpgid(0, 0) == 0 && isatty(STDIN_FILENO)) {
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(STDIN_FILENO, getpgrp());
		signal(SIGTTOU, SIG_DFL);
	}
	sigprocmask(SIG_SETMASK, mask, NULL);
	execvp(argv[0], argv);
	int e = errno;
	fprintf(stderr, "berth-pid1: exec %s: %s\n", argv[0], strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

/* reap waits for every child that ended; it returns 1 and the status
 * when the command is one of them. */
static int reap(pid_t cmd, int *status)
{
	int ws, done = 0;
	pid_t pid;
	while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
		if (pid == cmd) {
			*status = status_of(ws);
			done = 1;
		}
	}
	return done;
}

int main(int argc, char **argv)
{
	int first = 1;
	if (argc > 1 && strcmp(argv[1], "--") == 0)
		first = 2;
	if (first >= argc) {
		fputs("berth-pid1: no command: berth-pid1 [--] COMMAND [ARG...]\n", stderr);
		return 125;
	}
	/* Not PID 1 (--pid host, or a shared PID namespace): orphans of the
	 * command still come here. */
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	sigset_t waited, old;
	sigfillset(&waited);
	for (size_t i = 0; i < sizeof(own_signals) / sizeof(own_signals[0]); i++)
		sigdelset(&waited, own_signals[i]);
	sigprocmask(SIG_SETMASK, &waited, &old);
	pid_t cmd = fork();
	if (cmd < 0) {
		perror("berth-pid1: fork");
		return 125;
	}
	if (cmd == 0)
		child(argv + first, &old);
	for (;;) {
		siginfo_t si;
		int status = 0, sig = sigwaitinfo(&waited, &si);
		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			kill(cmd, sig);
			continue;
		}
		if (reap(cmd, &status))
			return status;
	}
}
