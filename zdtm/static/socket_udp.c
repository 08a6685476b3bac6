// SPDX-License-Identifier: GPL-2.0
/*
 * socket_udp - UDP sockets survive a checkpoint: one bound to 127.0.0.1
 * on a port the kernel chose, and one connected to it.  After the restore the
 * names and the peer must be the same, and a datagram sent through the
 * connected socket must arrive at the bound one, whole.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET }, srv, cli, peer, x;
	socklen_t len = sizeof(x);
	struct pollfd pfd;
	char buf[64];
	int s, c;

	test_init(argc, argv);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || c < 0 || bind(s, (struct sockaddr *)&a, sizeof(a))) {
		pr_perror("setup");
		return 1;
	}
	len = sizeof(srv);
	getsockname(s, (struct sockaddr *)&srv, &len);
	if (connect(c, (struct sockaddr *)&srv, sizeof(srv))) {
		pr_perror("connect");
		return 1;
	}
	len = sizeof(cli);
	getsockname(c, (struct sockaddr *)&cli, &len);

	test_daemon();
	test_waitsig();

	len = sizeof(x);
	if (getsockname(s, (struct sockaddr *)&x, &len) ||
	    memcmp(&x, &srv, sizeof(x))) {
		fail("the bound socket's name changed");
		return 1;
	}
	len = sizeof(peer);
	if (getpeername(c, (struct sockaddr *)&peer, &len) ||
	    memcmp(&peer, &srv, sizeof(peer))) {
		fail("the connected socket's peer changed");
		return 1;
	}
	len = sizeof(x);
	if (getsockname(c, (struct sockaddr *)&x, &len) ||
	    memcmp(&x, &cli, sizeof(x))) {
		fail("the connected socket's own name changed");
		return 1;
	}
	if (send(c, "datagram", 8, 0) != 8) {
		fail("send failed");
		return 1;
	}
	pfd.fd = s;
	pfd.events = POLLIN;
	len = sizeof(x);
	if (poll(&pfd, 1, 5000) != 1 ||
	    recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&x, &len) != 8 ||
	    memcmp(buf, "datagram", 8) || memcmp(&x, &cli, sizeof(x))) {
		fail("the datagram did not arrive whole from the same sender");
		return 1;
	}
	pass();
	return 0;
}
