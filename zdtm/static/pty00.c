// SPDX-License-Identifier: GPL-2.0
/*
 * pty00 - a pty pair held by one process survives a checkpoint.
 *
 * The test opens a pty (master and slave) and changes the slave's modes:
 * no echo, no canonical input, no output processing, other control
 * characters and input flags.  After the restore the pair must still be
 * one pty under the same index (/dev/pts/N with N the master's TIOCGPTN),
 * with exactly the modes the test left, owned by the test's user, and
 * connected: bytes written on the master are read on the slave and back.
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

static const char down[] = "to the slave\x03\x7f";
static const char up[] = "to the master\n";

/* Read exactly len bytes, with a few seconds' patience. */
static int read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	int tries = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n > 0) {
			got += n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (++tries > 500)
			return -1;
		usleep(10000);
	}
	return 0;
}

static int same_termios(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag &&
	       a->c_cflag == b->c_cflag && a->c_lflag == b->c_lflag &&
	       !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc));
}

int main(int argc, char **argv)
{
	struct termios before, after;
	char name[64], buf[64];
	struct stat st;
	int master, slave;
	unsigned int index, index_after;

	test_init(argc, argv);

	master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (master < 0 || grantpt(master) || unlockpt(master) ||
	    ioctl(master, TIOCGPTN, &index)) {
		pr_perror("can't make a pty");
		return 1;
	}
	snprintf(name, sizeof(name), "/dev/pts/%u", index);
	slave = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (slave < 0) {
		pr_perror("can't open %s", name);
		return 1;
	}
	if (tcgetattr(slave, &before)) {
		pr_perror("tcgetattr");
		return 1;
	}
	/* Raw both ways, so that the bytes cross unchanged. */
	before.c_lflag &= ~(ECHO | ICANON | ISIG | IEXTEN);
	before.c_iflag &= ~(ICRNL | IXON);
	before.c_iflag |= IXANY | IUTF8;
	before.c_oflag &= ~OPOST;
	before.c_cc[VMIN] = 1;
	before.c_cc[VTIME] = 0;
	before.c_cc[VINTR] = 0x07;
	before.c_cc[VEOF] = 0x05;
	if (tcsetattr(slave, TCSANOW, &before) || tcgetattr(slave, &before)) {
		pr_perror("tcsetattr");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (ioctl(master, TIOCGPTN, &index_after)) {
		fail("the master is no pty master any more");
		return 1;
	}
	if (index_after != index) {
		fail("the pty was %u, is %u", index, index_after);
		return 1;
	}
	if (fstat(slave, &st) ||
	    minor(st.st_rdev) + 256 * (major(st.st_rdev) - 136) != index) {
		fail("the slave is not /dev/pts/%u", index);
		return 1;
	}
	if (st.st_uid != getuid()) {
		fail("the slave is owned by %d, not %d", st.st_uid, getuid());
		return 1;
	}
	if (tcgetattr(slave, &after)) {
		fail("tcgetattr after the restore");
		return 1;
	}
	if (!same_termios(&before, &after)) {
		fail("modes changed: iflag %#x/%#x oflag %#x/%#x lflag %#x/%#x cc[VINTR] %#x/%#x",
		     before.c_iflag, after.c_iflag, before.c_oflag,
		     after.c_oflag, before.c_lflag, after.c_lflag,
		     before.c_cc[VINTR], after.c_cc[VINTR]);
		return 1;
	}
	if (write(master, down, sizeof(down) - 1) != sizeof(down) - 1 ||
	    read_all(slave, buf, sizeof(down) - 1) ||
	    memcmp(buf, down, sizeof(down) - 1)) {
		fail("master to slave: the bytes did not cross");
		return 1;
	}
	if (write(slave, up, sizeof(up) - 1) != sizeof(up) - 1 ||
	    read_all(master, buf, sizeof(up) - 1) ||
	    memcmp(buf, up, sizeof(up) - 1)) {
		fail("slave to master: the bytes did not cross");
		return 1;
	}
	/* Nothing more: no echo of what the master wrote. */
	if (read(master, buf, sizeof(buf)) != -1 || errno != EAGAIN) {
		fail("the master reads more than the slave wrote");
		return 1;
	}
	pass();
	return 0;
}
