// SPDX-License-Identifier: GPL-2.0
/*
 * sk-unix-fork - unix sockets whose ends are in two processes survive a
 * checkpoint as one connection, not two.
 *
 * The test makes a stream pair and a seqpacket pair and forks: it keeps
 * one end of each, its child the other.  It also listens on a path; the
 * child connects there and the test accepts.  Before the checkpoint each
 * side queues a message on every connection.  After the restore each side
 * reads exactly the message the other queued, then the child answers
 * every message it read on the same connection and the test must read
 * the answers: the ends found each other again across the processes.
 * Last, the child exits: the test must see end-of-file on every
 * connection (no copy of the child's ends was left open elsewhere).
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

static char *filename = "sk-unix-fork.sock";
TEST_OPTION(filename, string, "socket file name", 0);

#define NR_CONNS 3

struct shared {
	int ready;
	int go;
	int answered;
};

static const char *names[NR_CONNS] = { "stream pair", "seqpacket pair",
				       "accepted connection" };

static int read_msg(int sk, char *buf, size_t len, const char *want)
{
	size_t got = 0, wlen = strlen(want);
	ssize_t n;

	while (got < wlen) {
		struct pollfd pfd = { .fd = sk, .events = POLLIN };

		/* Fail, not hang, when the message never comes. */
		if (poll(&pfd, 1, 5000) != 1)
			return -1;
		n = read(sk, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += n;
	}
	return got == wlen && !memcmp(buf, want, wlen) ? 0 : -1;
}

static int child_main(struct shared *sh, int *sk)
{
	char buf[64], msg[64];
	int i;

	for (i = 0; i < NR_CONNS; i++) {
		snprintf(msg, sizeof(msg), "child on %d", i);
		if (write(sk[i], msg, strlen(msg)) != (ssize_t)strlen(msg))
			return 2;
	}
	task_set_word(&sh->ready, 1);
	task_wait_at_least(&sh->go, 1);
	for (i = 0; i < NR_CONNS; i++) {
		snprintf(msg, sizeof(msg), "parent on %d", i);
		if (read_msg(sk[i], buf, sizeof(buf), msg)) {
			fail("child: %s: the parent's message is lost",
			     names[i]);
			return 3;
		}
		snprintf(msg, sizeof(msg), "answer on %d", i);
		if (write(sk[i], msg, strlen(msg)) != (ssize_t)strlen(msg))
			return 4;
	}
	task_set_word(&sh->answered, 1);
	return 0;
}

int main(int argc, char **argv)
{
	int stream[2], seq[2], lsk, cli, mine[NR_CONNS], theirs[NR_CONNS];
	struct sockaddr_un addr;
	socklen_t addr_len;
	struct shared *sh;
	char buf[64], msg[64];
	pid_t child;
	int i, status;

	test_init(argc, argv);
	unlink(filename);
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	strncpy(addr.sun_path, filename, sizeof(addr.sun_path) - 1);
	addr_len = offsetof(struct sockaddr_un, sun_path) + strlen(filename);

	sh = task_shared_page();
	lsk = socket(AF_UNIX, SOCK_STREAM, 0);
	if (!sh || socketpair(AF_UNIX, SOCK_STREAM, 0, stream) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, seq) || lsk < 0 ||
	    bind(lsk, (struct sockaddr *)&addr, addr_len) || listen(lsk, 2)) {
		pr_perror("setup");
		return 1;
	}
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (cli < 0 || connect(cli, (struct sockaddr *)&addr, addr_len)) {
		pr_perror("connect");
		return 1;
	}
	mine[0] = stream[0];
	mine[1] = seq[0];
	mine[2] = accept(lsk, NULL, NULL);
	theirs[0] = stream[1];
	theirs[1] = seq[1];
	theirs[2] = cli;
	if (mine[2] < 0) {
		pr_perror("accept");
		return 1;
	}

	child = task_fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		for (i = 0; i < NR_CONNS; i++)
			close(mine[i]);
		close(lsk);
		exit(child_main(sh, theirs));
	}
	for (i = 0; i < NR_CONNS; i++) {
		close(theirs[i]);
		snprintf(msg, sizeof(msg), "parent on %d", i);
		if (write(mine[i], msg, strlen(msg)) != (ssize_t)strlen(msg)) {
			pr_perror("write");
			task_kill_child(child);
			return 1;
		}
	}
	task_wait_at_least(&sh->ready, 1);

	test_daemon();
	test_waitsig();

	for (i = 0; i < NR_CONNS; i++) {
		snprintf(msg, sizeof(msg), "child on %d", i);
		if (read_msg(mine[i], buf, sizeof(buf), msg)) {
			fail("%s: the child's message is lost", names[i]);
			task_kill_child(child);
			return 1;
		}
	}
	task_set_word(&sh->go, 1);
	if (task_wait_at_least_ms(&sh->answered, 1, 10000)) {
		fail("the child did not answer");
		task_kill_child(child);
		return 1;
	}
	for (i = 0; i < NR_CONNS; i++) {
		snprintf(msg, sizeof(msg), "answer on %d", i);
		if (read_msg(mine[i], buf, sizeof(buf), msg)) {
			fail("%s: the child's answer is lost", names[i]);
			task_kill_child(child);
			return 1;
		}
	}
	if (task_reap_ms(child, &status, 10000) || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fail("the child failed (status %#x)", status);
		return 1;
	}
	for (i = 0; i < NR_CONNS; i++) {
		fcntl(mine[i], F_SETFL, O_NONBLOCK);
		if (read(mine[i], buf, sizeof(buf)) != 0) {
			fail("%s: no end-of-file once the child exited",
			     names[i]);
			return 1;
		}
	}
	unlink(filename);
	pass();
	return 0;
}
