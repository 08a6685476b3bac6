// SPDX-License-Identifier: GPL-2.0
/*
 * del_standalone_un - unix sockets whose socket file was unlinked after
 * bind survive a checkpoint with their name, and without the file.
 *
 * A dgram socket is bound to a path, a client connects to it and queues
 * a message, then the file is unlinked.  A listening socket "old" is bound
 * to a second path, a client waits in its queue, the file is unlinked
 * and a new listening socket "new" is bound to the same path.  After the
 * restore: the dgram path does not exist, the server still has its name,
 * reads the queued message and the client still reaches it; the second
 * path is a socket file again, reaching "new" (not "old"); "old" still
 * has the name and accepts its waiting client, which talks to it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *filename = "del_standalone_un.sock";
TEST_OPTION(filename, string, "socket file name", 0);

static char lpath[256];
static char buf[64];

static socklen_t make_addr(struct sockaddr_un *addr, const char *path)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	strncpy(addr->sun_path, path, sizeof(addr->sun_path) - 1);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path);
}

static int has_name(int sk, const char *path)
{
	struct sockaddr_un got;
	socklen_t len = sizeof(got);

	memset(&got, 0, sizeof(got));
	return !getsockname(sk, (struct sockaddr *)&got, &len) &&
	       !strcmp(got.sun_path, path);
}

static int talk(int a, int b)
{
	return send(a, "hi", 2, MSG_DONTWAIT) == 2 &&
	       recv(b, buf, sizeof(buf), MSG_DONTWAIT) == 2 &&
	       send(b, "ho", 2, MSG_DONTWAIT) == 2 &&
	       recv(a, buf, sizeof(buf), MSG_DONTWAIT) == 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_un daddr, laddr;
	socklen_t dlen, llen;
	int srv, cli, old, waiting, new, c, s;
	struct stat st;

	test_init(argc, argv);
	snprintf(lpath, sizeof(lpath), "%s.listen", filename);
	unlink(filename);
	unlink(lpath);
	dlen = make_addr(&daddr, filename);
	llen = make_addr(&laddr, lpath);

	srv = socket(AF_UNIX, SOCK_DGRAM, 0);
	cli = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (srv < 0 || cli < 0 || bind(srv, (struct sockaddr *)&daddr, dlen) ||
	    connect(cli, (struct sockaddr *)&daddr, dlen) ||
	    send(cli, "queued", 6, 0) != 6 || unlink(filename)) {
		pr_perror("dgram sockets");
		return 1;
	}
	old = socket(AF_UNIX, SOCK_STREAM, 0);
	waiting = socket(AF_UNIX, SOCK_STREAM, 0);
	new = socket(AF_UNIX, SOCK_STREAM, 0);
	if (old < 0 || waiting < 0 || new < 0 ||
	    bind(old, (struct sockaddr *)&laddr, llen) || listen(old, 2) ||
	    connect(waiting, (struct sockaddr *)&laddr, llen) || unlink(lpath) ||
	    bind(new, (struct sockaddr *)&laddr, llen) || listen(new, 2)) {
		pr_perror("stream sockets");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (!stat(filename, &st)) {
		fail("%s exists again", filename);
		return 1;
	}
	if (!has_name(srv, filename) || !has_name(old, lpath) ||
	    !has_name(new, lpath)) {
		fail("a socket lost its name");
		return 1;
	}
	if (recv(srv, buf, sizeof(buf), MSG_DONTWAIT) != 6 ||
	    memcmp(buf, "queued", 6) || send(cli, "more", 4, 0) != 4 ||
	    recv(srv, buf, sizeof(buf), MSG_DONTWAIT) != 4) {
		fail("the dgram server lost its queue or its client");
		return 1;
	}
	if (stat(lpath, &st) || !S_ISSOCK(st.st_mode)) {
		fail("%s is not a socket file", lpath);
		return 1;
	}
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&laddr, llen)) {
		fail("cannot connect to %s", lpath);
		return 1;
	}
	/* Never wait for a connection that is not there. */
	fcntl(new, F_SETFL, O_NONBLOCK);
	fcntl(old, F_SETFL, O_NONBLOCK);
	s = accept4(new, NULL, NULL, SOCK_NONBLOCK);
	if (s < 0 || !talk(c, s)) {
		fail("the path does not lead to the new listening socket");
		return 1;
	}
	s = accept4(old, NULL, NULL, SOCK_NONBLOCK);
	if (s < 0 || !talk(waiting, s)) {
		fail("the old listening socket lost its waiting client");
		return 1;
	}
	if (accept4(old, NULL, NULL, SOCK_NONBLOCK) >= 0) {
		fail("the old listening socket got a client it did not have");
		return 1;
	}
	unlink(lpath);
	pass();
	return 0;
}
