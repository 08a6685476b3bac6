// SPDX-License-Identifier: GPL-2.0
/*
 * pty03 - a pty's window size, packet mode, lock and exclusive mode.
 *
 * Pty A: a window size of its own, packet mode on (a read on the master
 * starts with a TIOCPKT_DATA byte), the slave in exclusive mode.  Pty B:
 * locked again (TIOCSPTLCK) once its slave was opened.  After the
 * restore: same size, packet mode still on and working, A's slave still
 * exclusive (a new open of it is refused) and A's master not, B still
 * locked while the slave the test holds still works (a new open of it is
 * refused); A is not locked, B not in packet mode.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "zdtmtst.h"

struct pty {
	int master, slave;
	unsigned int index;
	char name[64];
};

static int make_pty(struct pty *p)
{
	struct termios t;

	p->master = posix_openpt(O_RDWR | O_NOCTTY);
	if (p->master < 0 || grantpt(p->master) || unlockpt(p->master) ||
	    ioctl(p->master, TIOCGPTN, &p->index))
		return -1;
	snprintf(p->name, sizeof(p->name), "/dev/pts/%u", p->index);
	p->slave = open(p->name, O_RDWR | O_NOCTTY);
	if (p->slave < 0 || tcgetattr(p->slave, &t))
		return -1;
	cfmakeraw(&t);
	return tcsetattr(p->slave, TCSANOW, &t);
}

static int get_int(int fd, unsigned long req, int *val)
{
	*val = -1;
	return ioctl(fd, req, val);
}

int main(int argc, char **argv)
{
	struct winsize ws = { .ws_row = 37, .ws_col = 113, .ws_xpixel = 7,
			      .ws_ypixel = 9 }, got;
	struct pty a, b;
	char buf[16];
	int one = 1, val, fd;

	test_init(argc, argv);
	if (make_pty(&a) || make_pty(&b)) {
		pr_perror("can't make the ptys");
		return 1;
	}
	if (ioctl(a.master, TIOCSWINSZ, &ws) || ioctl(a.master, TIOCPKT, &one) ||
	    ioctl(a.slave, TIOCEXCL) || ioctl(b.master, TIOCSPTLCK, &one)) {
		pr_perror("can't set the ptys up");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (ioctl(a.slave, TIOCGWINSZ, &got) || got.ws_row != ws.ws_row ||
	    got.ws_col != ws.ws_col || got.ws_xpixel != ws.ws_xpixel ||
	    got.ws_ypixel != ws.ws_ypixel) {
		fail("A's window size changed: %ux%u (%ux%u)", got.ws_row,
		     got.ws_col, got.ws_xpixel, got.ws_ypixel);
		return 1;
	}
	if (get_int(a.master, TIOCGPKT, &val) || val != 1) {
		fail("A is no longer in packet mode (%d)", val);
		return 1;
	}
	if (get_int(b.master, TIOCGPKT, &val) || val != 0) {
		fail("B is in packet mode (%d)", val);
		return 1;
	}
	if (write(a.slave, "x", 1) != 1 || read(a.master, buf, 2) != 2 ||
	    buf[0] != TIOCPKT_DATA || buf[1] != 'x') {
		fail("A's master does not read packets");
		return 1;
	}
	if (get_int(a.slave, TIOCGEXCL, &val) || val != 1) {
		fail("A's slave is not exclusive (%d)", val);
		return 1;
	}
	if (get_int(a.master, TIOCGEXCL, &val) || val != 0) {
		fail("A's master is exclusive (%d)", val);
		return 1;
	}
	fd = open(a.name, O_RDWR | O_NOCTTY);
	if (fd >= 0 || errno != EBUSY) {
		fail("A's slave %s opened again though exclusive", a.name);
		return 1;
	}
	if (get_int(b.master, TIOCGPTLCK, &val) || val != 1) {
		fail("B is not locked (%d)", val);
		return 1;
	}
	if (get_int(a.master, TIOCGPTLCK, &val) || val != 0) {
		fail("A is locked (%d)", val);
		return 1;
	}
	if (write(b.master, "y", 1) != 1 || read(b.slave, buf, 1) != 1 ||
	    buf[0] != 'y') {
		fail("B's held slave does not work");
		return 1;
	}
	/* Last: a refused open leaves the slave in error (the kernel's way). */
	fd = open(b.name, O_RDWR | O_NOCTTY);
	if (fd >= 0 || errno != EIO) {
		fail("B's slave %s opened though locked", b.name);
		return 1;
	}
	pass();
	return 0;
}
