// SPDX-License-Identifier: GPL-2.0
/*
 * tty00 - a pty slave as the controlling terminal of the test's session.
 *
 * The test starts a session of its own (setsid), makes a pty's slave its
 * controlling terminal (TIOCSCTTY) and forks a child, which inherits it
 * and starts a process group of its own; the test makes that group the
 * foreground one (tcsetpgrp) and opens /dev/tty.  After the restore, in
 * both processes: /dev/tty opens again and is that pty (what is written
 * on it is read on the master), the terminal's session (TIOCGSID) is the
 * test's and its foreground group (TIOCGPGRP) the child's, as before; the
 * /dev/tty the test held still is that terminal too.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

struct shared {
	int ready;
	int go;
	int child_done;
	pid_t sid, pgrp;
};

/* What a write on fd (the terminal) puts on the master, whole. */
static int through(int fd, int master, const char *msg)
{
	size_t len = strlen(msg);
	char buf[64];
	size_t got = 0;
	int tries = 0;
	ssize_t n;

	if (write(fd, msg, len) != (ssize_t)len)
		return -1;
	while (got < len && tries++ < 500) {
		n = read(master, buf + got, len - got);
		if (n > 0)
			got += n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		else
			usleep(10000);
	}
	return got == len && !memcmp(buf, msg, len) ? 0 : -1;
}

/* Session and foreground group of the terminal behind fd. */
static int check_tty(int fd, struct shared *sh, const char *who)
{
	pid_t sid = -1, pgrp = -1;

	if (ioctl(fd, TIOCGSID, &sid) || ioctl(fd, TIOCGPGRP, &pgrp)) {
		fail("%s: the terminal has no session", who);
		return -1;
	}
	if (sid != sh->sid || pgrp != sh->pgrp) {
		fail("%s: session %d foreground %d, was %d %d", who, sid, pgrp,
		     sh->sid, sh->pgrp);
		return -1;
	}
	return 0;
}

static int child_main(struct shared *sh, int master)
{
	int fd;

	if (setpgid(0, 0)) {
		pr_perror("setpgid");
		return 1;
	}
	task_set_word(&sh->ready, 1);
	task_wait_at_least(&sh->go, 1);
	if (getsid(0) != sh->sid || getpgid(0) != getpid()) {
		fail("child: session %d group %d", getsid(0), getpgid(0));
		return 1;
	}
	fd = open("/dev/tty", O_RDWR);
	if (fd < 0) {
		fail("child: no controlling terminal");
		return 1;
	}
	if (check_tty(fd, sh, "child") ||
	    through(fd, master, "child's line\n")) {
		fail("child: /dev/tty is not the pty");
		return 1;
	}
	task_set_word(&sh->child_done, 1);
	return 0;
}

int main(int argc, char **argv)
{
	struct shared *sh;
	int master, slave, held, fd, status;
	unsigned int index;
	struct termios t;
	char name[64];
	pid_t child;

	test_init(argc, argv);
	sh = task_shared_page();
	if (!sh)
		return 1;
	if (setsid() < 0) {
		pr_perror("setsid");
		return 1;
	}
	master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (master < 0 || grantpt(master) || unlockpt(master) ||
	    ioctl(master, TIOCGPTN, &index)) {
		pr_perror("can't make a pty");
		return 1;
	}
	snprintf(name, sizeof(name), "/dev/pts/%u", index);
	slave = open(name, O_RDWR | O_NOCTTY);
	if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) || tcgetattr(slave, &t)) {
		pr_perror("can't make %s the controlling terminal", name);
		return 1;
	}
	cfmakeraw(&t);
	if (tcsetattr(slave, TCSANOW, &t)) {
		pr_perror("tcsetattr");
		return 1;
	}
	sh->sid = getpid();
	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(slave);
		exit(child_main(sh, master));
	}
	task_wait_at_least(&sh->ready, 1);
	if (tcsetpgrp(slave, child)) {
		pr_perror("tcsetpgrp");
		task_kill_child(child);
		return 1;
	}
	sh->pgrp = child;
	held = open("/dev/tty", O_RDWR);
	if (held < 0) {
		pr_perror("open /dev/tty");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (getsid(0) != getpid()) {
		fail("not a session leader any more");
		task_kill_child(child);
		return 1;
	}
	if (check_tty(slave, sh, "slave") || check_tty(held, sh, "held")) {
		task_kill_child(child);
		return 1;
	}
	fd = open("/dev/tty", O_RDWR);
	if (fd < 0) {
		fail("no controlling terminal");
		task_kill_child(child);
		return 1;
	}
	if (check_tty(fd, sh, "/dev/tty") ||
	    through(fd, master, "test's line\n") ||
	    through(held, master, "held line\n")) {
		fail("/dev/tty is not the pty");
		task_kill_child(child);
		return 1;
	}
	task_set_word(&sh->go, 1);
	if (task_reap_ms(child, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fail("the child failed (status %#x)", status);
		return 1;
	}
	pass();
	return 0;
}
