// SPDX-License-Identifier: GPL-2.0
/*
 * oom_score_adj - /proc/PID/oom_score_adj of each task comes back as it
 * was.
 *
 * The test and a child set different values (an unprivileged task may
 * raise its own); after the restore each reads its own oom_score_adj and
 * the legacy oom_adj derived from it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "zdtmtst.h"
#include "tasks.h"

#define PARENT_ADJ	517
#define CHILD_ADJ	311

static int read_int(const char *path, int *val)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	*val = atoi(buf);
	return 0;
}

static int set_adj(int adj)
{
	char buf[32];
	int fd, n, ret = 0;

	fd = open("/proc/self/oom_score_adj", O_WRONLY);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%d", adj);
	if (write(fd, buf, n) != n)
		ret = -1;
	close(fd);
	return ret;
}

static int check(int adj, int legacy, const char *who)
{
	int now;

	if (read_int("/proc/self/oom_score_adj", &now)) {
		fail("%s: can't read oom_score_adj", who);
		return -1;
	}
	if (now != adj) {
		fail("%s: oom_score_adj %d, expected %d", who, now, adj);
		return -1;
	}
	if (read_int("/proc/self/oom_adj", &now) || now != legacy) {
		fail("%s: oom_adj %d, expected %d", who, now, legacy);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int legacy, child_legacy, adj;
	volatile int *ready;
	pid_t child;

	test_init(argc, argv);
	ready = task_fork_shared(&child);
	if (!ready)
		return 1;
	if (child == 0) {
		if (set_adj(CHILD_ADJ) ||
		    read_int("/proc/self/oom_adj", &child_legacy) ||
		    read_int("/proc/self/oom_score_adj", &adj) ||
		    adj != CHILD_ADJ) {
			pr_perror("child: can't set oom_score_adj");
			exit(1);
		}
		task_set_word(ready, 1);
		test_waitsig();
		exit(check(CHILD_ADJ, child_legacy, "child") ? 1 : 0);
	}

	if (set_adj(PARENT_ADJ) || read_int("/proc/self/oom_adj", &legacy) ||
	    read_int("/proc/self/oom_score_adj", &adj) || adj != PARENT_ADJ ||
	    task_wait_at_least_ms(ready, 1, 10000)) {
		pr_perror("can't set oom_score_adj");
		task_kill_child(child);
		return 1;
	}

	test_daemon();
	test_waitsig();

	return task_end_with_child(child, "child",
				   !check(PARENT_ADJ, legacy, "parent"));
}
