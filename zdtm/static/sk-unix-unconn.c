// SPDX-License-Identifier: GPL-2.0
/*
 * sk-unix-unconn - unix sockets that are neither connected nor listening
 * survive a checkpoint with their type, name, flags and options.
 *
 * "plain" is an unbound stream socket, "bound" a stream socket bound to a
 * path but not listening, "dg" an unbound dgram socket with SO_PASSCRED,
 * buffer sizes and timeouts set, "seq" a non-blocking seqpacket socket
 * with SO_RCVLOWAT and SO_KEEPALIVE.  After the restore each has the same
 * type, name (none, or the path), O_NONBLOCK flag and options; "bound"
 * can then listen and accept "plain", which connects to it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *filename = "sk-unix-unconn.sock";
TEST_OPTION(filename, string, "socket file name", 0);

struct opt {
	int level, name;
	const char *what;
};

static const struct opt int_opts[] = {
	{ SOL_SOCKET, SO_TYPE, "SO_TYPE" },
	{ SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF" },
	{ SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF" },
	{ SOL_SOCKET, SO_PASSCRED, "SO_PASSCRED" },
	{ SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT" },
	{ SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE" },
	{ SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY" },
};

#define NR_INT_OPTS (sizeof(int_opts) / sizeof(int_opts[0]))
#define NR_SKS 4

struct state {
	int opts[NR_INT_OPTS];
	struct timeval snd, rcv;
	int fl;
	struct sockaddr_un name;
	socklen_t name_len;
};

static int read_state(int sk, struct state *st)
{
	socklen_t len;
	unsigned int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < NR_INT_OPTS; i++) {
		len = sizeof(int);
		if (getsockopt(sk, int_opts[i].level, int_opts[i].name,
			       &st->opts[i], &len)) {
			pr_perror("getsockopt %s", int_opts[i].what);
			return -1;
		}
	}
	len = sizeof(st->snd);
	if (getsockopt(sk, SOL_SOCKET, SO_SNDTIMEO, &st->snd, &len))
		return -1;
	len = sizeof(st->rcv);
	if (getsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &st->rcv, &len))
		return -1;
	st->fl = fcntl(sk, F_GETFL) & O_NONBLOCK;
	st->name_len = sizeof(st->name);
	return getsockname(sk, (struct sockaddr *)&st->name, &st->name_len);
}

static int compare(struct state *a, struct state *b, const char *what)
{
	unsigned int i;

	for (i = 0; i < NR_INT_OPTS; i++) {
		if (a->opts[i] != b->opts[i]) {
			fail("%s: %s is %d, it was %d", what, int_opts[i].what,
			     b->opts[i], a->opts[i]);
			return -1;
		}
	}
	if (memcmp(&a->snd, &b->snd, sizeof(a->snd)) ||
	    memcmp(&a->rcv, &b->rcv, sizeof(a->rcv))) {
		fail("%s: timeouts differ", what);
		return -1;
	}
	if (a->fl != b->fl) {
		fail("%s: O_NONBLOCK differs", what);
		return -1;
	}
	if (a->name_len != b->name_len ||
	    memcmp(&a->name, &b->name, a->name_len)) {
		fail("%s: name differs", what);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *names[NR_SKS] = { "plain", "bound", "dg", "seq" };
	struct timeval snd = { 3, 250000 }, rcv = { 7, 0 };
	struct state before[NR_SKS], after;
	struct sockaddr_un addr;
	socklen_t addr_len;
	int sk[NR_SKS], one = 1, val, i, srv;

	test_init(argc, argv);
	unlink(filename);
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	strncpy(addr.sun_path, filename, sizeof(addr.sun_path) - 1);
	addr_len = offsetof(struct sockaddr_un, sun_path) + strlen(filename);

	sk[0] = socket(AF_UNIX, SOCK_STREAM, 0);
	sk[1] = socket(AF_UNIX, SOCK_STREAM, 0);
	sk[2] = socket(AF_UNIX, SOCK_DGRAM, 0);
	sk[3] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
	if (sk[0] < 0 || sk[1] < 0 || sk[2] < 0 || sk[3] < 0 ||
	    bind(sk[1], (struct sockaddr *)&addr, addr_len)) {
		pr_perror("sockets");
		return 1;
	}
	val = 20000;
	if (setsockopt(sk[2], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    setsockopt(sk[2], SOL_SOCKET, SO_SNDBUF, &val, sizeof(val)) ||
	    setsockopt(sk[2], SOL_SOCKET, SO_RCVBUF, &val, sizeof(val)) ||
	    setsockopt(sk[2], SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof(snd)) ||
	    setsockopt(sk[2], SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv))) {
		pr_perror("dgram options");
		return 1;
	}
	val = 5;
	if (setsockopt(sk[3], SOL_SOCKET, SO_RCVLOWAT, &val, sizeof(val)) ||
	    setsockopt(sk[3], SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
	    setsockopt(sk[3], SOL_SOCKET, SO_PRIORITY, &val, sizeof(val))) {
		pr_perror("seqpacket options");
		return 1;
	}
	for (i = 0; i < NR_SKS; i++)
		if (read_state(sk[i], &before[i]))
			return 1;

	test_daemon();
	test_waitsig();

	for (i = 0; i < NR_SKS; i++)
		if (read_state(sk[i], &after) ||
		    compare(&before[i], &after, names[i]))
			return 1;
	if (listen(sk[1], 1) ||
	    connect(sk[0], (struct sockaddr *)&addr, addr_len)) {
		fail("the bound socket does not take a connection");
		return 1;
	}
	srv = accept(sk[1], NULL, NULL);
	if (srv < 0 || write(sk[0], "hi", 2) != 2 || read(srv, &val, 2) != 2) {
		fail("the connection does not carry data");
		return 1;
	}
	unlink(filename);
	pass();
	return 0;
}
