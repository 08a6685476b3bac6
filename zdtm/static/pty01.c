// SPDX-License-Identifier: GPL-2.0
/*
 * pty01 - ptys whose two sides are in different processes.
 *
 * Pty A: the test keeps the master, its child the slave.  Pty B: the
 * child keeps the master, the test the slave.  Pty C: both keep both
 * sides (inherited at fork).  After the restore each pty must still be
 * one pty under its index: a line the test writes on A's master is read
 * by the child on A's slave, which answers it on B's master to the test's
 * B slave; and C's bytes are read once, by one side, not twice.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

struct shared {
	int go;
	int child_done;
	int test_done;
	unsigned int index[3];
	char got[64];
};

struct pty {
	int master, slave;
	unsigned int index;
};

static const char ping[] = "ping across A\n";
static const char pong[] = "pong across B\n";
static const char once[] = "C, read once\n";

/* A raw pty, so that lines cross unchanged and are not echoed. */
static int make_pty(struct pty *p)
{
	struct termios t;
	char name[64];

	p->master = posix_openpt(O_RDWR | O_NOCTTY);
	if (p->master < 0 || grantpt(p->master) || unlockpt(p->master) ||
	    ioctl(p->master, TIOCGPTN, &p->index))
		return -1;
	snprintf(name, sizeof(name), "/dev/pts/%u", p->index);
	p->slave = open(name, O_RDWR | O_NOCTTY);
	if (p->slave < 0 || tcgetattr(p->slave, &t))
		return -1;
	cfmakeraw(&t);
	return tcsetattr(p->slave, TCSANOW, &t);
}

static unsigned int slave_index(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return ~0u;
	return minor(st.st_rdev) + 256 * (major(st.st_rdev) - 136);
}

static unsigned int master_index(int fd)
{
	unsigned int index;

	return ioctl(fd, TIOCGPTN, &index) ? ~0u : index;
}

static int read_exact(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

/* All a non-blocking fd has until it stays empty for 100 ms. */
static ssize_t drain(int fd, char *buf, size_t len)
{
	size_t got = 0;
	int idle = 0;
	ssize_t n;

	while (got < len && idle < 10) {
		n = read(fd, buf + got, len - got);
		if (n > 0) {
			got += n;
			idle = 0;
		} else if (n < 0 && errno != EAGAIN) {
			return -1;
		} else {
			idle++;
			usleep(10000);
		}
	}
	return got;
}

static int child_main(struct shared *sh, struct pty *a, struct pty *b,
		      struct pty *c)
{
	char buf[64];

	task_wait_at_least(&sh->go, 1);
	if (slave_index(a->slave) != sh->index[0] ||
	    master_index(b->master) != sh->index[1] ||
	    master_index(c->master) != sh->index[2]) {
		fail("child: the ptys' indices changed");
		return 1;
	}
	if (read_exact(a->slave, buf, sizeof(ping) - 1) ||
	    memcmp(buf, ping, sizeof(ping) - 1)) {
		fail("child: A's line did not arrive");
		return 1;
	}
	if (write(b->master, pong, sizeof(pong) - 1) != sizeof(pong) - 1) {
		fail("child: can't write on B's master");
		return 1;
	}
	/* C: the test reads what it wrote; nothing for the child. */
	if (fcntl(c->slave, F_SETFL, O_NONBLOCK) ||
	    read(c->slave, buf, sizeof(buf)) != -1 || errno != EAGAIN) {
		fail("child: C's bytes arrived twice");
		return 1;
	}
	task_set_word(&sh->child_done, 1);
	/* B's master stays open until the test has read: closing it would
	 * hang the slave up, dropping what was not read yet. */
	task_wait_at_least(&sh->test_done, 1);
	return 0;
}

int main(int argc, char **argv)
{
	struct pty a, b, c;
	struct shared *sh;
	char buf[64];
	pid_t child;
	ssize_t got;
	int status;

	test_init(argc, argv);
	sh = task_shared_page();
	if (!sh)
		return 1;
	if (make_pty(&a) || make_pty(&b) || make_pty(&c)) {
		pr_perror("can't make the ptys");
		return 1;
	}
	sh->index[0] = a.index;
	sh->index[1] = b.index;
	sh->index[2] = c.index;
	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(a.master);
		close(b.slave);
		exit(child_main(sh, &a, &b, &c));
	}
	close(a.slave);
	close(b.master);
	if (write(c.master, once, sizeof(once) - 1) != sizeof(once) - 1) {
		pr_perror("write");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (master_index(a.master) != a.index ||
	    slave_index(b.slave) != b.index || slave_index(c.slave) != c.index) {
		fail("the ptys' indices changed");
		task_kill_child(child);
		return 1;
	}
	/*
	 * C's bytes queued at the checkpoint are not kept (as in CRIU), kept
	 * without one (--nocr): read all there is, one or two lines, here.
	 */
	if (write(c.master, once, sizeof(once) - 1) != sizeof(once) - 1 ||
	    fcntl(c.slave, F_SETFL, O_NONBLOCK)) {
		fail("C is not connected");
		task_kill_child(child);
		return 1;
	}
	got = drain(c.slave, buf, sizeof(buf));
	if (got != sizeof(once) - 1 && got != 2 * (sizeof(once) - 1)) {
		fail("C: %zd bytes read", got);
		task_kill_child(child);
		return 1;
	}
	task_set_word(&sh->go, 1);
	if (write(a.master, ping, sizeof(ping) - 1) != sizeof(ping) - 1) {
		fail("can't write on A's master");
		task_kill_child(child);
		return 1;
	}
	if (read_exact(b.slave, buf, sizeof(pong) - 1) ||
	    memcmp(buf, pong, sizeof(pong) - 1)) {
		fail("B's answer did not arrive");
		task_kill_child(child);
		return 1;
	}
	task_set_word(&sh->test_done, 1);
	if (task_reap_ms(child, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fail("the child failed (status %#x)", status);
		return 1;
	}
	pass();
	return 0;
}
