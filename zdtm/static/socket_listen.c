// SPDX-License-Identifier: GPL-2.0
/*
 * socket_listen - listening TCP sockets survive a checkpoint: one on
 * 127.0.0.1 (SO_REUSEADDR, non-blocking) and one on :: with IPV6_V6ONLY
 * (on a specific address the kernel would set it by itself), each on a
 * port the kernel chose, and a TCP socket bound but never connected.  After the restore each must have the same name and
 * options, and a connection to each listener must be accepted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

static int name_of(int sk, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	return getsockname(sk, (struct sockaddr *)ss, &len);
}

static int try_accept(int lsk, struct sockaddr_storage *ss, const char *what)
{
	struct pollfd pfd = { .fd = lsk, .events = POLLIN };
	int c, a;

	c = socket(ss->ss_family, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)ss,
			     ss->ss_family == AF_INET ?
			     sizeof(struct sockaddr_in) :
			     sizeof(struct sockaddr_in6))) {
		fail("%s: cannot connect to it", what);
		return -1;
	}
	if (poll(&pfd, 1, 5000) != 1) {
		fail("%s: no connection to accept", what);
		return -1;
	}
	a = accept(lsk, NULL, NULL);
	if (a < 0) {
		fail("%s: accept failed", what);
		return -1;
	}
	close(a);
	close(c);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage n4, n6, nb, after;
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	int l4, l6, b, one = 1, v;
	socklen_t len = sizeof(v);

	test_init(argc, argv);
	a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a6.sin6_addr = in6addr_any;
	l4 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	l6 = socket(AF_INET6, SOCK_STREAM, 0);
	b = socket(AF_INET, SOCK_STREAM, 0);
	if (l4 < 0 || l6 < 0 || b < 0 ||
	    setsockopt(l4, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) ||
	    bind(l4, (struct sockaddr *)&a4, sizeof(a4)) ||
	    bind(l6, (struct sockaddr *)&a6, sizeof(a6)) ||
	    bind(b, (struct sockaddr *)&a4, sizeof(a4)) ||
	    listen(l4, 5) || listen(l6, 9)) {
		pr_perror("setup");
		return 1;
	}
	name_of(l4, &n4);
	name_of(l6, &n6);
	name_of(b, &nb);

	test_daemon();
	test_waitsig();

	if (name_of(l4, &after) || memcmp(&after, &n4, sizeof(after)) ||
	    name_of(l6, &after) || memcmp(&after, &n6, sizeof(after)) ||
	    name_of(b, &after) || memcmp(&after, &nb, sizeof(after))) {
		fail("a socket's name changed");
		return 1;
	}
	if (getsockopt(l4, SOL_SOCKET, SO_REUSEADDR, &v, &len) || !v ||
	    !(fcntl(l4, F_GETFL) & O_NONBLOCK)) {
		fail("the IPv4 listener lost SO_REUSEADDR or O_NONBLOCK");
		return 1;
	}
	if (getsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len) || !v) {
		fail("the IPv6 listener lost IPV6_V6ONLY");
		return 1;
	}
	if (getsockopt(l4, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) || !v ||
	    getsockopt(b, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) || v) {
		fail("listening states differ");
		return 1;
	}
	if (try_accept(l4, &n4, "IPv4 listener") ||
	    try_accept(l6, &n6, "IPv6 listener"))
		return 1;
	pass();
	return 0;
}
