// SPDX-License-Identifier: GPL-2.0
/*
 * socket_queues - long queues of unix sockets survive a checkpoint byte
 * for byte, message by message.
 *
 * A stream pair holds 50 KiB written in 100 writes of varying sizes; a
 * dgram pair and a seqpacket pair hold 40 messages each, of sizes 0 to
 * 39 * 97 bytes, some of them empty; a stream socket whose peer has
 * closed still holds what the peer wrote before closing.  After the
 * restore the stream bytes must read back in order, each dgram and
 * seqpacket message must come back whole with its own length, in order,
 * and the orphaned stream socket must give its data and then end-of-file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdtmtst.h"

#define STREAM_WRITES	100
#define NR_MSGS		40

static char buf[1 << 18];

static size_t stream_len(int i)
{
	return (i * 131) % 1000 + 12;
}

static size_t msg_len(int i)
{
	return i % 7 == 3 ? 0 : i * 97;
}

static char byte_at(unsigned long pos, int seed)
{
	return (char)(pos * 13 + (pos >> 9) + seed);
}

static int fill_stream(int sk, int seed)
{
	unsigned long pos = 0;
	size_t len, j;
	int i;

	for (i = 0; i < STREAM_WRITES; i++) {
		len = stream_len(i);
		for (j = 0; j < len; j++)
			buf[j] = byte_at(pos + j, seed);
		if (write(sk, buf, len) != (ssize_t)len) {
			pr_perror("write");
			return -1;
		}
		pos += len;
	}
	return 0;
}

static int check_stream(int sk, int seed, const char *what)
{
	unsigned long total = 0, pos;
	ssize_t n;
	int i;

	for (i = 0; i < STREAM_WRITES; i++)
		total += stream_len(i);
	for (pos = 0; pos < total; pos += n) {
		n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0) {
			fail("%s: %lu bytes of %lu read back", what, pos, total);
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] != byte_at(pos + i, seed)) {
				fail("%s: byte %lu differs", what, pos + i);
				return -1;
			}
		}
	}
	return 0;
}

static int fill_msgs(int sk, int seed)
{
	size_t j;
	int i;

	for (i = 0; i < NR_MSGS; i++) {
		for (j = 0; j < msg_len(i); j++)
			buf[j] = byte_at(j, seed + i);
		if (send(sk, buf, msg_len(i), MSG_DONTWAIT) !=
		    (ssize_t)msg_len(i)) {
			pr_perror("send message %d", i);
			return -1;
		}
	}
	return 0;
}

static int check_msgs(int sk, int seed, const char *what)
{
	ssize_t n, j;
	int i;

	for (i = 0; i < NR_MSGS; i++) {
		n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);
		if (n != (ssize_t)msg_len(i)) {
			fail("%s: message %d has %zd bytes, not %zu", what, i, n,
			     msg_len(i));
			return -1;
		}
		for (j = 0; j < n; j++) {
			if (buf[j] != byte_at(j, seed + i)) {
				fail("%s: message %d differs at %zd", what, i, j);
				return -1;
			}
		}
	}
	return 0;
}

static int check_empty(int sk, const char *what)
{
	ssize_t n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);

	if (n != -1 || errno != EAGAIN) {
		fail("%s: something more is queued (%zd)", what, n);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int stream[2], dgram[2], seqpacket[2], orphan[2];
	int sndbuf = 1 << 20;

	test_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, stream) ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, dgram) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, seqpacket) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, orphan)) {
		pr_perror("socketpair");
		return 1;
	}
	/* Room for every message (the sender's buffer holds them). */
	if (setsockopt(dgram[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) ||
	    setsockopt(seqpacket[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
		       sizeof(sndbuf)) ||
	    setsockopt(stream[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
		       sizeof(sndbuf))) {
		pr_perror("SO_SNDBUF");
		return 1;
	}
	if (fill_stream(stream[0], 1) || fill_msgs(dgram[0], 2) ||
	    fill_msgs(seqpacket[0], 3) || fill_stream(orphan[0], 4))
		return 1;
	close(orphan[0]);

	test_daemon();
	test_waitsig();

	if (check_stream(stream[1], 1, "stream") ||
	    check_empty(stream[1], "stream") ||
	    check_msgs(dgram[1], 2, "dgram") || check_empty(dgram[1], "dgram") ||
	    check_msgs(seqpacket[1], 3, "seqpacket") ||
	    check_empty(seqpacket[1], "seqpacket") ||
	    check_stream(orphan[1], 4, "orphaned stream"))
		return 1;
	if (recv(orphan[1], buf, 1, MSG_DONTWAIT) != 0) {
		fail("orphaned stream: no end-of-file after its data");
		return 1;
	}
	pass();
	return 0;
}
