// SPDX-License-Identifier: GPL-2.0
/*
 * compel's standard parasite: the state of a task that only the task itself
 * can see (signal actions, alternate stack, itimers, credentials, umask,
 * rlimits ...) and its memory, spliced into a pipe without copies.
 */
#include <compel/parasite.h>
#include <compel/std.h>
#include <compel/sys.h>
#include <compel/uapi.h>

#include "std.h"

#define SIGKILL 9
#define SIGSTOP 19
#define PR_GET_PDEATHSIG 2
#define PR_GET_DUMPABLE 3
#define PR_CAPBSET_READ 23
#define PR_GET_SECUREBITS 27
#define PR_GET_CHILD_SUBREAPER 37
#define PR_GET_NO_NEW_PRIVS 39
#define PR_GET_TID_ADDRESS 40
#define LINUX_CAPABILITY_VERSION_3 0x20080522

static long get_sigactions(struct k_sigaction *acts)
{
	long ret;
	int sig;

	for (sig = 1; sig <= STD_NR_SIGNALS; sig++) {
		memset(&acts[sig - 1], 0, sizeof(acts[0]));
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		ret = sys_rt_sigaction(sig, NULL, &acts[sig - 1], 8);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static long get_itimers(struct k_itimerval *t)
{
	long ret;
	int i;

	for (i = 0; i < 3; i++) {
		ret = sys_getitimer(i, &t[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static long dump_pages(struct std_dump_pages *args, size_t size,
		       const struct compel_fds *in)
{
	struct k_iovec *iov = args->iovs;
	unsigned long nr = args->nr_iovs, done = 0;
	long ret;

	if (in->nr != 1)
		return -EBADF;
	if (sizeof(*args) + nr * sizeof(*iov) > size)
		return -EINVAL;
	while (nr) {
		ret = sys_vmsplice(in->fds[0], iov, nr < 1024 ? nr : 1024, 0);
		if (ret < 0)
			return ret;
		done += ret;
		/* skip what went in; a partial iovec is advanced in place */
		while (nr && (size_t)ret >= iov->iov_len) {
			ret -= iov->iov_len;
			iov++;
			nr--;
		}
		if (nr && ret) {
			iov->iov_base = (char *)iov->iov_base + ret;
			iov->iov_len -= ret;
		}
	}
	return done;
}

static long get_creds(struct std_creds *c)
{
	struct { uint32_t version; int pid; } hdr = {
		LINUX_CAPABILITY_VERSION_3, 0 };
	struct { uint32_t eff, prm, inh; } data[2];
	long ret;
	int i;

	sys_getresuid(&c->uid, &c->euid, &c->suid);
	sys_getresgid(&c->gid, &c->egid, &c->sgid);
	c->fsuid = sys_setfsuid(-1);	/* -1 is invalid: only reports */
	c->fsgid = sys_setfsgid(-1);
	ret = sys_getgroups(STD_NR_GROUPS, c->groups);
	if (ret < 0)
		return ret;
	c->ngroups = ret;
	ret = sys_capget(&hdr, data);
	if (ret < 0)
		return ret;
	c->cap_eff = data[0].eff | (uint64_t)data[1].eff << 32;
	c->cap_prm = data[0].prm | (uint64_t)data[1].prm << 32;
	c->cap_inh = data[0].inh | (uint64_t)data[1].inh << 32;
	c->cap_bnd = 0;
	for (i = 0; i < 64; i++) {
		ret = sys_prctl(PR_CAPBSET_READ, i, 0, 0, 0);
		if (ret < 0)
			break;	/* past the last capability the kernel knows */
		if (ret)
			c->cap_bnd |= 1ULL << i;
	}
	c->secbits = sys_prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	return 0;
}

static long get_misc(struct std_misc *m)
{
	long ret;
	int i;

	m->umask = sys_umask(0);
	sys_umask(m->umask);
	m->personality = sys_personality(0xffffffff);
	m->pdeathsig = 0;
	sys_prctl(PR_GET_PDEATHSIG, &m->pdeathsig, 0, 0, 0);
	m->dumpable = sys_prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	m->no_new_privs = sys_prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	m->child_subreaper = 0;
	sys_prctl(PR_GET_CHILD_SUBREAPER, &m->child_subreaper, 0, 0, 0);
	m->clear_tid_addr = 0;
	sys_prctl(PR_GET_TID_ADDRESS, &m->clear_tid_addr, 0, 0, 0);
	for (i = 0; i < STD_NR_RLIMITS; i++) {
		ret = sys_prlimit64(0, i, NULL, &m->rlimits[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int parasite_command(unsigned int cmd, void *args, size_t size,
		     const struct compel_fds *in, struct compel_fds *out)
{
	switch (cmd) {
	case STD_CMD_GET_SIGACTIONS:
		return get_sigactions(args);
	case STD_CMD_GET_SIGALTSTACK:
		return sys_sigaltstack(NULL, args);
	case STD_CMD_GET_ITIMERS:
		return get_itimers(args);
	case STD_CMD_DUMP_PAGES:
		return dump_pages(args, size, in);
	case STD_CMD_GET_CREDS:
		return get_creds(args);
	case STD_CMD_GET_MISC:
		return get_misc(args);
	}
	return -ENOSYS;
}
