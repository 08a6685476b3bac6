// SPDX-License-Identifier: GPL-2.0
/*
 * sockets00 - a listening unix stream socket bound to a path, with a
 * connection it accepted (data queued both ways) and a connection still
 * waiting in its queue, survives a checkpoint; so does one bound to an
 * abstract name with an accepted connection.
 *
 * After the restore: the socket file is a socket with the mode (0640)
 * and owner it had; the listening, accepted and client sockets have the names they
 * had (getsockname, getpeername); the queued bytes arrive on both sides
 * of the accepted connection; the waiting connection is accepted and
 * carries data both ways; and a new client connecting to the path (and to
 * the abstract name) is accepted by the listening socket.
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

static char *filename = "sockets00.sock";
TEST_OPTION(filename, string, "socket file name", 0);

static const char abstract[] = "\0zdtm-sockets00-abstract";
static char buf[256];

static socklen_t make_addr(struct sockaddr_un *addr, const char *name,
			   size_t len)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	memcpy(addr->sun_path, name, len);
	return offsetof(struct sockaddr_un, sun_path) + len;
}

static int listener(struct sockaddr_un *addr, socklen_t len)
{
	int sk = socket(AF_UNIX, SOCK_STREAM, 0);

	if (sk < 0 || bind(sk, (struct sockaddr *)addr, len) ||
	    listen(sk, 4)) {
		pr_perror("listening socket");
		return -1;
	}
	return sk;
}

static int client(struct sockaddr_un *addr, socklen_t len)
{
	int sk = socket(AF_UNIX, SOCK_STREAM, 0);

	if (sk < 0 || connect(sk, (struct sockaddr *)addr, len)) {
		pr_perror("connect");
		return -1;
	}
	return sk;
}

/* The name of sk (peer: of its peer) must be addr. */
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
	/* A path name may come back with its trailing NUL counted. */
	if (ret || got.sun_family != AF_UNIX ||
	    (got_len != len && got_len != len + 1) ||
	    memcmp(got.sun_path, addr->sun_path, len - sizeof(sa_family_t))) {
		fail("%s: %s is not the one it had", what,
		     peer ? "peer name" : "name");
		return -1;
	}
	return 0;
}

static int recv_exact(int sk, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(sk, buf + got, len - got, MSG_DONTWAIT);
		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

static int check_data(int sk, const char *want, const char *what)
{
	size_t len = strlen(want);

	if (recv_exact(sk, len) || memcmp(buf, want, len)) {
		fail("%s: the queued data is lost or differs", what);
		return -1;
	}
	if (recv(sk, buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EAGAIN) {
		fail("%s: more data than was queued", what);
		return -1;
	}
	return 0;
}

/* a and b are connected to each other. */
static int check_pair(int a, int b, const char *what)
{
	if (send(a, "ping", 4, 0) != 4 || recv_exact(b, 4) ||
	    memcmp(buf, "ping", 4) || send(b, "pong", 4, 0) != 4 ||
	    recv_exact(a, 4) || memcmp(buf, "pong", 4)) {
		fail("%s: the two ends are not connected", what);
		return -1;
	}
	return 0;
}

/* A new client is accepted by lsk and talks to it. */
static int check_listening(int lsk, struct sockaddr_un *addr, socklen_t len,
			   const char *what)
{
	int c, s, ret;

	c = client(addr, len);
	if (c < 0) {
		fail("%s: a new client cannot connect", what);
		return -1;
	}
	s = accept(lsk, NULL, NULL);
	if (s < 0) {
		fail("%s: the new client is not accepted", what);
		close(c);
		return -1;
	}
	ret = check_pair(c, s, what);
	close(c);
	close(s);
	return ret;
}

int main(int argc, char **argv)
{
	struct sockaddr_un paddr, aaddr;
	socklen_t plen, alen;
	int lsk, cli, srv, waiting, alsk, acli, asrv, pending;
	struct stat st;

	test_init(argc, argv);
	unlink(filename);
	plen = make_addr(&paddr, filename, strlen(filename));
	alen = make_addr(&aaddr, abstract, sizeof(abstract) - 1);

	lsk = listener(&paddr, plen);
	if (lsk < 0 || chmod(filename, 0640))
		return 1;
	cli = client(&paddr, plen);
	srv = accept(lsk, NULL, NULL);
	waiting = client(&paddr, plen);
	alsk = listener(&aaddr, alen);
	if (cli < 0 || srv < 0 || waiting < 0 || alsk < 0)
		return 1;
	acli = client(&aaddr, alen);
	asrv = accept(alsk, NULL, NULL);
	if (acli < 0 || asrv < 0) {
		pr_perror("abstract connection");
		return 1;
	}
	if (send(cli, "from the client", 15, 0) != 15 ||
	    send(srv, "from the server", 15, 0) != 15 ||
	    send(asrv, "abstract server", 15, 0) != 15) {
		pr_perror("send");
		return 1;
	}

	test_daemon();
	test_waitsig();

	if (stat(filename, &st) || !S_ISSOCK(st.st_mode) ||
	    (st.st_mode & 07777) != 0640 || st.st_uid != getuid()) {
		fail("%s is not the socket file it was (mode %o, uid %d)",
		     filename, st.st_mode, st.st_uid);
		return 1;
	}
	if (check_name(lsk, 0, &paddr, plen, "listening") ||
	    check_name(srv, 0, &paddr, plen, "accepted") ||
	    check_name(cli, 1, &paddr, plen, "client") ||
	    check_name(waiting, 1, &paddr, plen, "waiting client") ||
	    check_name(alsk, 0, &aaddr, alen, "abstract listening") ||
	    check_name(asrv, 0, &aaddr, alen, "abstract accepted") ||
	    check_name(acli, 1, &aaddr, alen, "abstract client"))
		return 1;
	if (check_data(srv, "from the client", "accepted") ||
	    check_data(cli, "from the server", "client") ||
	    check_data(acli, "abstract server", "abstract client") ||
	    check_pair(cli, srv, "accepted connection") ||
	    check_pair(acli, asrv, "abstract connection"))
		return 1;
	pending = accept(lsk, NULL, NULL);
	if (pending < 0) {
		fail("the waiting connection is gone");
		return 1;
	}
	if (check_pair(waiting, pending, "waiting connection") ||
	    check_listening(lsk, &paddr, plen, "path") ||
	    check_listening(alsk, &aaddr, alen, "abstract"))
		return 1;
	unlink(filename);
	pass();
	return 0;
}
