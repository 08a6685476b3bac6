// SPDX-License-Identifier: GPL-2.0
/*
 * test.c - the life cycle of a ZDTM test: set-up, daemonizing, waiting.
 *
 * test_init() turns the program started by the runner into a daemon:
 *
 *   runner ── starts ──> test (parent) ── fork ──> test (child, the real test)
 *
 * The parent only waits until the child says "ready", writes the child's pid
 * to the pidfile and exits 0; if the child dies first, the parent exits 1.
 * The runner waits for the parent, so once it has exited the pidfile is
 * complete and the test is ready to be checkpointed.  The child is then
 * orphaned and reparented to the runner, which is a child subreaper.
 *
 * "Ready" is a herald: test_daemon() clones a process with CLONE_PARENT, so
 * that it is the parent's child, and it exits at once; the parent, waiting
 * for any child, sees it go.  The handshake thus leaves the child nothing to
 * close (a pipe's end would still be open for a moment after "ready", seen
 * by the runner and dumped by criu) and needs no permission (a signal to the
 * parent would be refused once a root test has changed its uid).  The
 * task's fds are only 0 (/dev/null), 1 and 2 (the output file) plus whatever
 * the test opens itself.
 *
 * Unless ZDTM_LAUNCHER=0 is in the environment the test runs, as in CRIU, under
 * a launcher, which is the root of the tree to dump:
 *
 *   test (parent) ── fork ──> launcher ── fork ──> test (the real test)
 *
 * The launcher is the session leader; it maps a page shared with the test
 * (MAP_SHARED | MAP_ANONYMOUS) before it forks it, passes the runner's
 * SIGTERM on to it, and exits as the test did once it has.  The test marks
 * itself ready in the shared page and heralds to the launcher, which then
 * heralds to the parent: the pidfile names the launcher.
 */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "lib.h"

const char *test_name = "test";

/* Set by the SIGTERM handler; an int so that it can be a futex word. */
static volatile int sig_received;
/* Whether test_daemon() has yet to tell the parent "ready". */
static bool ready_pending;

/* The page the launcher shares with the test (ZDTM_LAUNCHER=1 only). */
struct launcher_page {
	volatile int ready;	/* set by test_daemon() before its herald */
	pid_t test;		/* the test under the launcher */
};

static struct launcher_page *launcher_page;
/* In the launcher: the test to pass SIGTERM on to. */
static volatile pid_t launched;

static void sigterm_handler(int signo)
{
	(void)signo;
	sig_received = 1;
}

/* Drop to the uid, gid and groups the runner asks for (non-root tests). */
static void switch_credentials(void)
{
	const char *groups = getenv("ZDTM_GROUPS");
	const char *gid = getenv("ZDTM_GID");
	const char *uid = getenv("ZDTM_UID");

	if (groups) {
		gid_t list[32];
		int n = 0;
		char *copy = strdup(groups), *tok, *save = NULL;

		for (tok = strtok_r(copy, " ,", &save); tok && n < 32;
		     tok = strtok_r(NULL, " ,", &save))
			list[n++] = (gid_t)strtoul(tok, NULL, 10);
		free(copy);
		if (setgroups(n, list)) {
			pr_perror("setgroups(%s)", groups);
			exit(1);
		}
	}
	if (gid && setresgid(atoi(gid), atoi(gid), atoi(gid))) {
		pr_perror("setresgid(%s)", gid);
		exit(1);
	}
	if (uid && setresuid(atoi(uid), atoi(uid), atoi(uid))) {
		pr_perror("setresuid(%s)", uid);
		exit(1);
	}
	/*
	 * Changing credentials clears the dumpable flag, which would make
	 * /proc/PID owned by root and hide the task from its own user.
	 */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)) {
		pr_perror("PR_SET_DUMPABLE");
		exit(1);
	}
}

/* stdin from /dev/null, stdout and stderr to the output file. */
static void redirect_std_fds(const char *outfile)
{
	int null_fd, out_fd;

	out_fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (out_fd < 0) {
		pr_perror("can't open output file %s", outfile);
		exit(1);
	}
	null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0) {
		pr_perror("can't open /dev/null");
		exit(1);
	}
	if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) {
		pr_perror("can't redirect standard fds");
		exit(1);
	}
	if (null_fd > 2)
		close(null_fd);
	if (out_fd > 2)
		close(out_fd);
}

/* Write the pid atomically: the runner must never read half a pidfile. */
static int write_pidfile(const char *path, pid_t pid)
{
	char tmp[PATH_MAX], buf[32];
	int fd, len;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		pr_perror("can't create pidfile %s", tmp);
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%d\n", pid);
	if (write(fd, buf, len) != len) {
		pr_perror("can't write pidfile %s", tmp);
		close(fd);
		return -1;
	}
	close(fd);
	if (rename(tmp, path)) {
		pr_perror("can't rename %s to %s", tmp, path);
		return -1;
	}
	return 0;
}

/*
 * The parent's side of daemonizing: wait for "ready", publish the pid.
 * The parent's only children are the test and the herald of its readiness.
 */
static void __attribute__((noreturn)) wait_for_ready(pid_t child,
						     const char *pidfile)
{
	int status;
	pid_t got;

	do {
		got = waitpid(-1, &status, 0);
		if (got < 0 && errno != EINTR) {
			pr_perror("can't wait for the test to be ready");
			exit(1);
		}
	} while (got < 0);

	if (got != child)
		exit(write_pidfile(pidfile, child) ? 1 : 0);

	if (WIFEXITED(status))
		test_msg("ERR: test exited with %d before it was ready\n",
			 WEXITSTATUS(status));
	else
		test_msg("ERR: test killed by signal %d before it was ready\n",
			 WTERMSIG(status));
	exit(1);
}

/* Tell our parent we are ready: a child of its that exits at once. */
static void herald(void)
{
	/* No stack given: like fork(), the herald runs on a copy of ours. */
	long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL,
			   NULL);

	if (pid < 0) {
		pr_perror("can't tell the runner we are ready");
		exit(1);
	}
	if (pid == 0)
		syscall(SYS_exit, 0);
}

static void launcher_sigterm(int signo)
{
	int saved = errno;

	(void)signo;
	if (launched > 0)
		kill(launched, SIGTERM);
	errno = saved;
}

/*
 * The launcher: wait for the test, passing "ready" up (its herald is our
 * child) and SIGTERM down, and end as it ended.
 */
static void __attribute__((noreturn)) run_launcher(pid_t test)
{
	struct sigaction sa = { .sa_handler = launcher_sigterm };
	bool told = false;
	int status;
	pid_t got;

	launched = test;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL)) {
		pr_perror("launcher: can't set the SIGTERM handler");
		kill(test, SIGKILL);
		exit(1);
	}
	for (;;) {
		got = waitpid(-1, &status, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			pr_perror("launcher: wait");
			kill(test, SIGKILL);
			exit(1);
		}
		if (got != test) {
			/* The test's herald: it is ready, so are we. */
			if (!told && launcher_page->ready) {
				herald();
				told = true;
			}
			continue;
		}
		if (WIFEXITED(status))
			exit(WEXITSTATUS(status));
		/* Die of the test's signal, for the runner to see. */
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
		exit(128 + WTERMSIG(status));
	}
}

/* Split into the launcher (which never returns) and the test under it. */
static void start_launcher(void)
{
	pid_t pid;

	launcher_page = mmap(NULL, sysconf(_SC_PAGESIZE),
			     PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (launcher_page == MAP_FAILED) {
		pr_perror("launcher: can't map the shared page");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("launcher: can't fork the test");
		exit(1);
	}
	if (pid > 0)
		run_launcher(pid);
	launcher_page->test = getpid();
}

void test_init(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = sigterm_handler };
	const char *slash = strrchr(argv[0], '/');
	char default_out[PATH_MAX], default_pid[PATH_MAX];
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old_chld;
	const char *launcher;
	pid_t pid;

	test_name = slash ? slash + 1 : argv[0];
	snprintf(default_out, sizeof(default_out), "%s.out", test_name);
	snprintf(default_pid, sizeof(default_pid), "%s.pid", test_name);
	test_parse_options(argc, argv, default_out, default_pid);

	switch_credentials();
	redirect_std_fds(test_outfile);

	/*
	 * With SIGCHLD ignored (inherited from whoever started us) children
	 * are reaped unseen: the parent could wait for neither the test nor
	 * its herald.
	 */
	if (sigaction(SIGCHLD, &dfl, &old_chld)) {
		pr_perror("can't reset SIGCHLD");
		exit(1);
	}

	pid = fork();
	if (pid < 0) {
		pr_perror("can't fork the test daemon");
		exit(1);
	}
	if (pid > 0)
		wait_for_ready(pid, test_pidfile);

	if (setsid() < 0) {
		pr_perror("setsid");
		exit(1);
	}
	/* The launcher is the session leader, with SIGCHLD to wait. */
	/* By default, as in CRIU; ZDTM_LAUNCHER=0 runs the test alone. */
	launcher = getenv("ZDTM_LAUNCHER");
	if (!launcher || strcmp(launcher, "0"))
		start_launcher();

	/* The test's SIGCHLD is the one it was started with. */
	if (sigaction(SIGCHLD, &old_chld, NULL)) {
		pr_perror("can't restore SIGCHLD");
		exit(1);
	}
	ready_pending = true;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL)) {
		pr_perror("can't set the SIGTERM handler");
		exit(1);
	}
}

void test_daemon(void)
{
	if (!ready_pending)
		return;
	if (launcher_page)
		launcher_page->ready = 1;
	herald();
	ready_pending = false;
}

bool test_go(void)
{
	return !sig_received;
}

volatile int *test_stop_word(void)
{
	return &sig_received;
}

void test_waitsig(void)
{
	/*
	 * FUTEX_WAIT compares the word and sleeps atomically, so a SIGTERM
	 * that arrives before the call makes it return at once (EAGAIN) and
	 * one that arrives during it interrupts it (EINTR): no lost wake-up.
	 */
	while (!sig_received)
		syscall(SYS_futex, &sig_received, FUTEX_WAIT_PRIVATE, 0,
			NULL, NULL, 0);
	/* The EINTR of the wait is no news to the checks that follow. */
	errno = 0;
}
