// SPDX-License-Identifier: GPL-2.0
/*
 * sockets_dgram - unix dgram sockets bound to names, connected to one
 * another, with messages queued, survive a checkpoint.
 *
 * "server" is bound to a path, "abstract" to an abstract name; "conn" is
 * unbound and connected to server; "named" is bound to a second path and
 * connected to server; "loose" is unbound and not connected.  Before the
 * checkpoint conn, named and loose (sendto) queue messages on server,
 * server queues a message on named (sendto its path) and loose one on
 * abstract.  After the restore: every name and peer name is as before;
 * each socket reads exactly its queued messages, in order; conn and named
 * still send to server without an address, server and loose still reach
 * named and abstract by name.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"

static char *filename = "sockets_dgram.sock";
TEST_OPTION(filename, string, "socket file name", 0);

static char named_path[256];
static const char abstract[] = "\0zdtm-sockets_dgram";
static char buf[256];

static socklen_t make_addr(struct sockaddr_un *addr, const char *name,
			   size_t len)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, name, len);
	return offsetof(struct sockaddr_un, sun_path) + len;
}

static int dgram(struct sockaddr_un *bind_to, socklen_t blen,
		 struct sockaddr_un *peer, socklen_t plen)
{
	int sk = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (sk < 0 || (bind_to && bind(sk, (struct sockaddr *)bind_to, blen)) ||
	    (peer && connect(sk, (struct sockaddr *)peer, plen))) {
		pr_perror("dgram socket");
		return -1;
	}
	return sk;
}

static int check_name(int sk, int peer, struct sockaddr_un *addr,
		      socklen_t len, const char *what)
{
	struct sockaddr_un got;
	socklen_t got_len = sizeof(got);
	int ret;

	memset(&got, 0, sizeof(got));
	if (peer)
		ret = getpeername(sk, (struct sockaddr *)&got, &got_len);
	else
		ret = getsockname(sk, (struct sockaddr *)&got, &got_len);
	if (!addr) {
		if (!peer && !ret && got_len == sizeof(sa_family_t))
			return 0;
		if (peer && ret && errno == ENOTCONN)
			return 0;
		fail("%s: has a %s now", what, peer ? "peer" : "name");
		return -1;
	}
	if (ret || (got_len != len && got_len != len + 1) ||
	    memcmp(got.sun_path, addr->sun_path, len - sizeof(sa_family_t))) {
		fail("%s: %s differs", what, peer ? "peer name" : "name");
		return -1;
	}
	return 0;
}

static int check_msg(int sk, const char *want, const char *what)
{
	ssize_t n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n)) {
		fail("%s: got %zd bytes, expected \"%s\"", what, n, want);
		return -1;
	}
	return 0;
}

static int check_empty(int sk, const char *what)
{
	if (recv(sk, buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EAGAIN) {
		fail("%s: more messages than were queued", what);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un saddr, naddr, aaddr;
	socklen_t slen, nlen, alen;
	int server, abs, conn, named, loose;

	test_init(argc, argv);
	snprintf(named_path, sizeof(named_path), "%s.named", filename);
	unlink(filename);
	unlink(named_path);
	slen = make_addr(&saddr, filename, strlen(filename));
	nlen = make_addr(&naddr, named_path, strlen(named_path));
	alen = make_addr(&aaddr, abstract, sizeof(abstract) - 1);

	server = dgram(&saddr, slen, NULL, 0);
	abs = dgram(&aaddr, alen, NULL, 0);
	conn = dgram(NULL, 0, &saddr, slen);
	named = dgram(&naddr, nlen, &saddr, slen);
	loose = dgram(NULL, 0, NULL, 0);
	if (server < 0 || abs < 0 || conn < 0 || named < 0 || loose < 0)
		return 1;
	if (send(conn, "conn 1", 6, 0) != 6 ||
	    send(named, "named 1", 7, 0) != 7 ||
	    sendto(loose, "loose 1", 7, 0, (struct sockaddr *)&saddr,
		   slen) != 7 ||
	    send(conn, "conn 2", 6, 0) != 6 ||
	    sendto(server, "to named", 8, 0, (struct sockaddr *)&naddr,
		   nlen) != 8 ||
	    sendto(loose, "to abstract", 11, 0, (struct sockaddr *)&aaddr,
		   alen) != 11) {
		pr_perror("send");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (check_name(server, 0, &saddr, slen, "server") ||
	    check_name(server, 1, NULL, 0, "server") ||
	    check_name(abs, 0, &aaddr, alen, "abstract") ||
	    check_name(conn, 0, NULL, 0, "conn") ||
	    check_name(conn, 1, &saddr, slen, "conn") ||
	    check_name(named, 0, &naddr, nlen, "named") ||
	    check_name(named, 1, &saddr, slen, "named") ||
	    check_name(loose, 0, NULL, 0, "loose") ||
	    check_name(loose, 1, NULL, 0, "loose"))
		return 1;
	if (check_msg(server, "conn 1", "server") ||
	    check_msg(server, "named 1", "server") ||
	    check_msg(server, "loose 1", "server") ||
	    check_msg(server, "conn 2", "server") ||
	    check_empty(server, "server") ||
	    check_msg(named, "to named", "named") ||
	    check_empty(named, "named") ||
	    check_msg(abs, "to abstract", "abstract") ||
	    check_empty(abs, "abstract") || check_empty(conn, "conn") ||
	    check_empty(loose, "loose"))
		return 1;
	if (send(conn, "conn 3", 6, 0) != 6 || send(named, "named 2", 7, 0) != 7 ||
	    check_msg(server, "conn 3", "server after") ||
	    check_msg(server, "named 2", "server after") ||
	    sendto(server, "again", 5, 0, (struct sockaddr *)&naddr, nlen) != 5 ||
	    check_msg(named, "again", "named after") ||
	    sendto(loose, "again", 5, 0, (struct sockaddr *)&aaddr, alen) != 5 ||
	    check_msg(abs, "again", "abstract after"))
		return 1;
	unlink(filename);
	unlink(named_path);
	pass();
	return 0;
}
