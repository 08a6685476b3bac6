// SPDX-License-Identifier: GPL-2.0
/*
 * sockets_spair - unix socket pairs (stream, dgram, seqpacket) with data
 * queued in both directions survive a checkpoint.
 *
 * Before the checkpoint each end of each pair sends its peer a few
 * messages of different sizes (one empty for the dgram and seqpacket
 * pairs) that nobody reads.  After the restore every end must read
 * exactly what its peer sent: the same bytes, and for dgram and seqpacket
 * the same message boundaries, then nothing more.  The pairs must still be
 * connected to each other (a message sent now arrives at the other end),
 * and one more stream pair whose first end was shut down for writing must
 * give its data and then end-of-file, and refuse writes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NR_MSGS 4

static const size_t sizes[NR_MSGS] = { 1, 0, 4000, 70000 };
static char buf[80000];

static void fill(char *p, size_t len, int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)(seed * 31 + i * 7 + (i >> 8));
}

/* Queue the messages of end `seed` to its peer. */
static int send_msgs(int sk, int type, int seed)
{
	static char msg[80000];
	int i;

	for (i = 0; i < NR_MSGS; i++) {
		if (type == SOCK_STREAM && !sizes[i])
			continue;
		fill(msg, sizes[i], seed + i);
		if (send(sk, msg, sizes[i], MSG_DONTWAIT) != (ssize_t)sizes[i]) {
			pr_perror("send %zu bytes (type %d)", sizes[i], type);
			return -1;
		}
	}
	return 0;
}

static int recv_exact(int sk, char *p, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(sk, p + got, len - got, MSG_DONTWAIT);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

/* What end `sk` reads must be what the end `seed` sent, nothing more. */
static int check_msgs(int sk, int type, int seed, const char *what)
{
	static char want[80000];
	ssize_t n;
	int i;

	for (i = 0; i < NR_MSGS; i++) {
		if (type == SOCK_STREAM && !sizes[i])
			continue;
		fill(want, sizes[i], seed + i);
		if (type == SOCK_STREAM) {
			if (recv_exact(sk, buf, sizes[i])) {
				fail("%s: message %d: short read", what, i);
				return -1;
			}
			n = sizes[i];
		} else {
			n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);
		}
		if (n != (ssize_t)sizes[i] || memcmp(buf, want, n)) {
			fail("%s: message %d: %zd bytes, not the %zu sent",
			     what, i, n, sizes[i]);
			return -1;
		}
	}
	n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != -1 || errno != EAGAIN) {
		fail("%s: %zd more bytes queued", what, n);
		return -1;
	}
	return 0;
}

static int check_connected(int a, int b, const char *what)
{
	if (send(a, "ping", 4, MSG_DONTWAIT) != 4 ||
	    recv(b, buf, sizeof(buf), MSG_DONTWAIT) != 4 ||
	    memcmp(buf, "ping", 4)) {
		fail("%s: the ends are no longer connected", what);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
	static const char *names[] = { "stream", "dgram", "seqpacket" };
	int sk[3][2], shut[2], i, type, ok = 1;
	socklen_t len;

	test_init(argc, argv);
	for (i = 0; i < 3; i++) {
		if (socketpair(AF_UNIX, types[i], 0, sk[i])) {
			pr_perror("socketpair %s", names[i]);
			return 1;
		}
		if (send_msgs(sk[i][0], types[i], 10 * i) ||
		    send_msgs(sk[i][1], types[i], 10 * i + 5))
			return 1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, shut) ||
	    write(shut[0], "last words", 10) != 10 ||
	    shutdown(shut[0], SHUT_WR)) {
		pr_perror("the shut down pair");
		return 1;
	}

	test_daemon();
	test_waitsig();

	for (i = 0; i < 3 && ok; i++) {
		len = sizeof(type);
		if (getsockopt(sk[i][0], SOL_SOCKET, SO_TYPE, &type, &len) ||
		    type != types[i]) {
			fail("%s: the socket's type is now %d", names[i], type);
			ok = 0;
			break;
		}
		ok = !check_msgs(sk[i][1], types[i], 10 * i, names[i]) &&
		     !check_msgs(sk[i][0], types[i], 10 * i + 5, names[i]) &&
		     !check_connected(sk[i][0], sk[i][1], names[i]) &&
		     !check_connected(sk[i][1], sk[i][0], names[i]);
	}
	if (ok) {
		if (recv_exact(shut[1], buf, 10) || memcmp(buf, "last words", 10)) {
			fail("the shut down pair lost its data");
			ok = 0;
		} else if (recv(shut[1], buf, 1, MSG_DONTWAIT) != 0) {
			fail("no end-of-file after the peer's shutdown");
			ok = 0;
		} else if (send(shut[0], "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != -1 ||
			   errno != EPIPE) {
			fail("the end shut down for writing still writes");
			ok = 0;
		} else if (send(shut[1], "back", 4, MSG_DONTWAIT) != 4 ||
			   recv(shut[0], buf, 4, MSG_DONTWAIT) != 4) {
			fail("the shut down pair does not carry data the other way");
			ok = 0;
		}
	}
	if (!ok)
		return 1;
	pass();
	return 0;
}
