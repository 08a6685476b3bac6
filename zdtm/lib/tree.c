// SPDX-License-Identifier: GPL-2.0
/*
 * tree.c - build, check and tear down a test's process tree (see tree.h).
 *
 * The tree is built depth first, one task at a time.  Each child gets a
 * pipe of its own to its parent: once it has set itself up and built its
 * own subtree, it writes the records of its descendants and then its own,
 * and closes the pipe.  The parent reads to the end of the pipe, which
 * comes only once the child and all its descendants have closed their
 * copies, so it learns the pids of the whole subtree before it forks the
 * next child, and when the test has built everything no task of the tree
 * holds anything but its stdio: the test can say "ready".
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tree.h"

#define TT_SETTLE_MS	10000

struct tt_rec {
	int idx;
	int ok;
	pid_t pid, ppid, pgid, sid;
};

/* The write end of the pipe to the parent, in a task of the tree. */
static int tt_up = -1;

int tt_stat(pid_t pid, struct tt_stat *st)
{
	char path[64], buf[1024], *p, *tok, *save = NULL;
	int fd, len, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -1;
	memset(st, 0, sizeof(*st));
	/* Field 3 (the state) is the first after the command's ")". */
	for (field = 3, tok = strtok_r(p + 2, " \n", &save); tok;
	     field++, tok = strtok_r(NULL, " \n", &save)) {
		switch (field) {
		case 3:
			st->state = tok[0];
			break;
		case 4:
			st->ppid = atoi(tok);
			break;
		case 5:
			st->pgid = atoi(tok);
			break;
		case 6:
			st->sid = atoi(tok);
			break;
		case 52:
			st->exit_code = atoi(tok);
			break;
		}
	}
	return field > 6 ? 0 : -1;
}

int tt_status_mask(pid_t pid, const char *key, unsigned long long *mask)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	int ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		*mask = strtoull(line + klen + 1, NULL, 16);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

bool tt_alive_state(char state)
{
	return state == 'R' || state == 'S' || state == 'D';
}

int tt_wait_state(pid_t pid, const char *states, int timeout_ms)
{
	struct tt_stat st;
	int waited;

	for (waited = 0; waited <= timeout_ms; waited++) {
		if (tt_stat(pid, &st) == 0 && strchr(states, st.state))
			return 0;
		usleep(1000);
	}
	return -1;
}

int tt_zombie_status(const struct tt_task *t)
{
	return t->sig ? t->sig : (t->code & 0xff) << 8;
}

static bool tt_exits(const struct tt_task *t)
{
	return t->flags & (TT_ZOMBIE | TT_DEAD);
}

pid_t tt_expected_ppid(struct tt_task *tab, int i)
{
	int p = tab[i].parent;

	/* Orphans go to the nearest child subreaper: the test. */
	return tt_exits(&tab[p]) ? tab[0].pid : tab[p].pid;
}

/* The task that reaps task i: its parent, or the test if it exited. */
static int tt_reaper(struct tt_task *tab, int i)
{
	int p = tab[i].parent;

	return tt_exits(&tab[p]) ? 0 : p;
}

static bool tt_in_subtree(struct tt_task *tab, int k, int i)
{
	while (k > 0) {
		k = tab[k].parent;
		if (k == i)
			return true;
	}
	return false;
}

static int tt_write_rec(struct tt_task *tab, int k, int ok)
{
	struct tt_rec rec = {
		.idx = k, .ok = ok, .pid = tab[k].pid, .ppid = tab[k].ppid,
		.pgid = tab[k].pgid, .sid = tab[k].sid,
	};

	if (write(tt_up, &rec, sizeof(rec)) != sizeof(rec)) {
		pr_perror("task %d: can't report", k);
		return -1;
	}
	return 0;
}

/*
 * Read the records of child want's subtree into tab, to the end of the pipe
 * (when want and all its descendants have closed it); 0 if want's own
 * record came last and all were ok.
 */
static int tt_read_subtree(int fd, struct tt_task *tab, int n, int want)
{
	struct tt_rec rec = { .idx = -1 };
	int last = -1, ok = 1;
	ssize_t ret;

	for (;;) {
		ret = read(fd, &rec, sizeof(rec));
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret == 0)
			break;
		if (ret != sizeof(rec) || rec.idx <= 0 || rec.idx >= n) {
			pr_err("bad record from the subtree of task %d\n", want);
			return -1;
		}
		tab[rec.idx].pid = rec.pid;
		tab[rec.idx].ppid = rec.ppid;
		tab[rec.idx].pgid = rec.pgid;
		tab[rec.idx].sid = rec.sid;
		if (!rec.ok)
			ok = 0;
		last = rec.idx;
	}
	if (last != want) {
		pr_err("task %d vanished while the tree was built\n", want);
		return -1;
	}
	return ok ? 0 : -1;
}

static void __attribute__((noreturn)) tt_child(struct tt_task *tab, int n,
					      int i);

/* Fork the children of task i, one subtree after the other. */
static int tt_build(struct tt_task *tab, int n, int i)
{
	int j, status, p[2], ret;
	pid_t pid;

	for (j = 1; j < n; j++) {
		if (tab[j].parent != i)
			continue;
		if (pipe(p)) {
			pr_perror("task %d: pipe", i);
			return -1;
		}
		pid = fork();
		if (pid < 0) {
			pr_perror("task %d: can't fork task %d", i, j);
			close(p[0]);
			close(p[1]);
			return -1;
		}
		if (pid == 0) {
			close(p[0]);
			if (tt_up >= 0)
				close(tt_up);
			tt_up = p[1];
			tt_child(tab, n, j);
		}
		close(p[1]);
		tab[j].pid = pid;
		ret = tt_read_subtree(p[0], tab, n, j);
		close(p[0]);
		if (ret)
			return -1;
		if ((tab[j].flags & TT_DEAD) &&
		    waitpid(pid, &status, 0) != pid) {
			pr_perror("task %d: can't reap task %d", i, j);
			return -1;
		}
	}
	return 0;
}

static int tt_wait_child(pid_t pid, int *status)
{
	pid_t got;

	do {
		got = waitpid(pid, status, 0);
	} while (got < 0 && errno == EINTR);
	return got == pid ? 0 : -1;
}

/* Reap the tasks task i is the reaper of; the number of failures. */
static int tt_reap(struct tt_task *tab, int n, int i)
{
	int k, status, want, errs = 0;

	for (k = 1; k < n; k++) {
		if (tt_reaper(tab, k) != i || (tab[k].flags & TT_DEAD))
			continue;
		want = (tab[k].flags & TT_ZOMBIE) ? tt_zombie_status(&tab[k])
						   : 0;
		if (tt_wait_child(tab[k].pid, &status)) {
			pr_perror("task %d: can't reap task %d (pid %d)", i, k,
				  tab[k].pid);
			errs++;
		} else if (status != want) {
			pr_err("task %d (pid %d): wait status %#x, expected %#x\n",
			       k, tab[k].pid, status, want);
			errs++;
		}
	}
	return errs;
}

/* A live task, after SIGTERM: is it still itself? */
static int tt_self_check(struct tt_task *tab, int n, int i)
{
	struct tt_task *t = &tab[i];
	int errs = 0;

	if (getpid() != t->pid) {
		pr_err("task %d: pid %d, expected %d\n", i, getpid(), t->pid);
		errs++;
	}
	if (getppid() != tt_expected_ppid(tab, i)) {
		pr_err("task %d (pid %d): ppid %d, expected %d\n", i, t->pid,
		       getppid(), tt_expected_ppid(tab, i));
		errs++;
	}
	if (getpgid(0) != t->pgid) {
		pr_err("task %d (pid %d): pgid %d, expected %d\n", i, t->pid,
		       getpgid(0), t->pgid);
		errs++;
	}
	if (getsid(0) != t->sid) {
		pr_err("task %d (pid %d): sid %d, expected %d\n", i, t->pid,
		       getsid(0), t->sid);
		errs++;
	}
	return errs + tt_reap(tab, n, i);
}

static void __attribute__((noreturn)) tt_child(struct tt_task *tab, int n,
					      int i)
{
	struct tt_task *t = &tab[i];
	int k, ok = 1;

	if ((t->flags & TT_SETSID) && setsid() < 0) {
		pr_perror("task %d: setsid", i);
		ok = 0;
	} else if ((t->flags & TT_SETPGID) && setpgid(0, 0)) {
		pr_perror("task %d: setpgid(0, 0)", i);
		ok = 0;
	} else if ((t->flags & TT_JOIN) && setpgid(0, tab[t->join].pgid)) {
		pr_perror("task %d: can't join the group of task %d (%d)", i,
			  t->join, tab[t->join].pgid);
		ok = 0;
	}
	t->pid = getpid();
	t->ppid = getppid();
	t->pgid = getpgid(0);
	t->sid = getsid(0);

	if (ok && tt_build(tab, n, i))
		ok = 0;

	/* The subtree's records first: the parent waits for ours. */
	for (k = 1; k < n; k++)
		if (tab[k].pid > 0 && tt_in_subtree(tab, k, i))
			tt_write_rec(tab, k, 1);
	tt_write_rec(tab, i, ok);
	close(tt_up);

	if (!ok)
		_exit(1);
	if (t->flags & TT_DEAD)
		_exit(0);
	if (t->flags & TT_ZOMBIE) {
		if (t->sig) {
			sigset_t set;

			signal(t->sig, SIG_DFL);
			sigemptyset(&set);
			sigaddset(&set, t->sig);
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			kill(getpid(), t->sig);
		}
		_exit(t->code);
	}

	test_waitsig();
	_exit(tt_self_check(tab, n, i) ? 1 : 0);
}

/* Did every task end up where the table says? */
static int tt_check_layout(struct tt_task *tab, int n)
{
	int i, errs = 0;

	for (i = 1; i < n; i++) {
		struct tt_task *t = &tab[i], *p = &tab[t->parent];
		pid_t sid = p->sid, pgid = p->pgid;

		if (t->flags & TT_SETSID)
			sid = pgid = t->pid;
		else if (t->flags & TT_SETPGID)
			pgid = t->pid;
		else if (t->flags & TT_JOIN)
			pgid = tab[t->join].pgid;
		if (t->sid != sid || t->pgid != pgid) {
			pr_err("set-up: task %d (pid %d) in session %d group %d, expected %d %d\n",
			       i, t->pid, t->sid, t->pgid, sid, pgid);
			errs++;
		}
		if (t->ppid != p->pid) {
			pr_err("set-up: task %d (pid %d) forked by %d, not %d\n",
			       i, t->pid, t->ppid, p->pid);
			errs++;
		}
	}
	return errs;
}

int tt_settle(struct tt_task *tab, int n)
{
	int i;

	for (i = 1; i < n; i++) {
		const char *want = NULL;

		if (tab[i].flags & TT_ZOMBIE)
			want = "Z";
		else if (tab[i].flags & TT_STOP)
			want = "T";
		if (want && tt_wait_state(tab[i].pid, want, TT_SETTLE_MS)) {
			pr_err("task %d (pid %d) is not in state %s after %d ms\n",
			       i, tab[i].pid, want, TT_SETTLE_MS);
			return -1;
		}
	}
	return 0;
}

int tt_create(struct tt_task *tab, int n)
{
	bool subreaper = false;
	int i;

	tab[0].pid = getpid();
	tab[0].ppid = getppid();
	tab[0].pgid = getpgid(0);
	tab[0].sid = getsid(0);
	for (i = 1; i < n; i++) {
		tab[i].pid = 0;
		if (tt_exits(&tab[tab[i].parent]))
			subreaper = true;
	}
	if (subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		pr_perror("PR_SET_CHILD_SUBREAPER");
		return -1;
	}
	if (tt_build(tab, n, 0))
		goto err;

	for (i = 1; i < n; i++)
		if ((tab[i].flags & TT_STOP) &&
		    kill(tab[i].pid, tab[i].stopsig ?: SIGSTOP)) {
			pr_perror("can't stop task %d", i);
			goto err;
		}
	if (tt_settle(tab, n) || tt_check_layout(tab, n) ||
	    tt_verify(tab, n, "set-up"))
		goto err;
	return 0;
err:
	tt_kill(tab, n);
	return -1;
}

int tt_verify(struct tt_task *tab, int n, const char *when)
{
	struct tt_stat st;
	int i, errs = 0;

	for (i = 0; i < n; i++) {
		struct tt_task *t = &tab[i];

		if (t->flags & TT_DEAD)
			continue;
		if (tt_stat(t->pid, &st)) {
			pr_err("%s: task %d (pid %d) is gone\n", when, i, t->pid);
			errs++;
			continue;
		}
		if (t->flags & TT_ZOMBIE) {
			if (st.state != 'Z') {
				pr_err("%s: task %d (pid %d) is in state %c, not a zombie\n",
				       when, i, t->pid, st.state);
				errs++;
			} else if (st.exit_code != tt_zombie_status(t)) {
				pr_err("%s: zombie %d (pid %d) has wait status %#x, expected %#x\n",
				       when, i, t->pid, st.exit_code,
				       tt_zombie_status(t));
				errs++;
			}
		} else if (t->flags & TT_STOP) {
			if (st.state != 'T') {
				pr_err("%s: task %d (pid %d) is in state %c, not stopped\n",
				       when, i, t->pid, st.state);
				errs++;
			}
		} else if (!tt_alive_state(st.state)) {
			pr_err("%s: task %d (pid %d) is in state %c, not alive\n",
			       when, i, t->pid, st.state);
			errs++;
		}
		if (i && st.ppid != tt_expected_ppid(tab, i)) {
			pr_err("%s: task %d (pid %d) has parent %d, expected %d\n",
			       when, i, t->pid, st.ppid,
			       tt_expected_ppid(tab, i));
			errs++;
		}
		if (st.pgid != t->pgid || st.sid != t->sid) {
			pr_err("%s: task %d (pid %d) in session %d group %d, expected %d %d\n",
			       when, i, t->pid, st.sid, st.pgid, t->sid,
			       t->pgid);
			errs++;
		}
	}
	return errs;
}

int tt_finish(struct tt_task *tab, int n)
{
	int i, status, errs;
	pid_t stray;

	for (i = 1; i < n; i++)
		if ((tab[i].flags & TT_STOP) && kill(tab[i].pid, SIGCONT))
			pr_perror("can't continue task %d (pid %d)", i,
				  tab[i].pid);
	for (i = 1; i < n; i++)
		if (!tt_exits(&tab[i]) && kill(tab[i].pid, SIGTERM))
			pr_perror("can't terminate task %d (pid %d)", i,
				  tab[i].pid);
	errs = tt_reap(tab, n, 0);
	while ((stray = waitpid(-1, &status, WNOHANG)) > 0) {
		pr_err("a stray child %d (status %#x)\n", stray, status);
		errs++;
	}
	return errs;
}

void tt_kill(struct tt_task *tab, int n)
{
	int i, waited;

	/* The orphans of the killed become ours, not the runner's. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	for (i = 1; i < n; i++)
		if (tab[i].pid > 0)
			kill(tab[i].pid, SIGKILL);
	/* Our children, and orphans given to us; bounded, to never hang. */
	for (waited = 0; waited < 2000; waited++) {
		pid_t got = waitpid(-1, NULL, WNOHANG);

		if (got < 0)
			break;
		if (got == 0)
			usleep(1000);
	}
}

int tt_run(int argc, char **argv, struct tt_task *tab, int n)
{
	int errs;

	test_init(argc, argv);
	if (tt_create(tab, n))
		return 1;

	test_daemon();
	test_waitsig();

	errs = tt_verify(tab, n, "restored");
	errs += tt_finish(tab, n);
	if (errs) {
		fail("%d differences in the process tree (see above)", errs);
		return 1;
	}
	pass();
	return 0;
}

int tt_check_parents(const struct tt_expect *t, int n, const char *when)
{
	struct tt_stat st;
	int i, errs = 0;

	for (i = 0; i < n; i++)
		if (tt_stat(t[i].pid, &st) || !tt_alive_state(st.state) ||
		    st.ppid != t[i].ppid) {
			pr_err("%s: %s (%d) is in state %c under %d, expected alive under %d\n",
			       when, t[i].name, t[i].pid, st.state, st.ppid,
			       t[i].ppid);
			errs++;
		}
	return errs;
}

int tt_reap_child(const char *who, pid_t pid)
{
	int status;
	pid_t got;

	do {
		got = waitpid(pid, &status, 0);
	} while (got < 0 && errno == EINTR);
	if (got != pid) {
		pr_perror("%s: can't reap %d", who, pid);
		return 1;
	}
	if (status) {
		pr_err("%s: %d exited with status %#x\n", who, pid, status);
		return 1;
	}
	return 0;
}
