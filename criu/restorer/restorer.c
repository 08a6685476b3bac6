// SPDX-License-Identifier: GPL-2.0
/*
 * The restorer: the last code a restored task runs before it becomes the
 * dumped program again.
 *
 * criu forks the task with its dumped PID, restores what can be restored
 * from Python (fds, cwd, ...), then places this blob and its argument block
 * (restorer.h) in a region that no mapping of the target uses and calls
 * restorer_entry(args).  From there nothing of criu may be used: the blob
 * switches to its own stack, removes criu's mappings, moves the vdso/vvar
 * to the dumped addresses, maps the target's memory and fills it from the
 * pages image, sets mm fields, signal actions, rseq and credentials, writes
 * the rt_sigframe holding the dumped registers on the target's stack and
 * stops itself with SIGSTOP.  criu (its tracer) then unmaps this region and
 * makes the task run rt_sigreturn from the vdso, so no trace of the blob
 * remains.
 *
 * Any failure writes one line to log_fd and exits the task with status 1;
 * criu reports it and the images stay untouched.
 */

#include <compel/std.h>
#include <compel/sys.h>

#include "restorer.h"

_Static_assert(offsetof(struct restorer_args, stack_top) == 24,
	       "restorer_entry reads stack_top at 24(%rdi)");

#define PAGE_SIZE	4096UL
#define IOV_BATCH	512

#define ARCH_SET_GS	0x1001
#define ARCH_SET_FS	0x1002
#define ARCH_GET_FS	0x1003

#define PR_SET_DUMPABLE		4
#define PR_SET_NAME		15
#define PR_SET_PDEATHSIG	1
#define PR_TIMER_CREATE_RESTORE_IDS	77
#define SIGEV_THREAD_ID		4
#define PR_SET_MM		35
#define PR_SET_MM_MAP		14
#define PR_SET_SECUREBITS	28
#define PR_SET_KEEPCAPS		8
#define PR_CAPBSET_DROP		24
#define PR_CAP_AMBIENT		47
#define PR_CAP_AMBIENT_RAISE	2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#define PR_SET_SECCOMP		22
#define PR_SET_NO_NEW_PRIVS	38
#define SECCOMP_MODE_STRICT	1
#define SECCOMP_MODE_FILTER	2
#define SECCOMP_SET_MODE_FILTER	1

#define RSEQ_FLAG_UNREGISTER	1
#define SIGSTOP_NR		19
#define SEPARATE_HINT_BIT	(1ULL << 45)

#define MREMAP_MAYMOVE	1
#define MREMAP_FIXED	2
#define MAP_FIXED	0x10

#define CLONE_VM	0x00000100
#define CLONE_FS	0x00000200
#define CLONE_FILES	0x00000400
#define CLONE_SIGHAND	0x00000800
#define CLONE_THREAD	0x00010000
#define CLONE_SYSVSEM	0x00040000
#define THREAD_FLAGS	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | \
			 CLONE_THREAD | CLONE_SYSVSEM)

/* struct clone_args of clone3(2), CLONE_ARGS_SIZE_VER2. */
struct clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
	uint64_t cgroup;
};
_Static_assert(sizeof(struct clone_args) == 88, "clone_args v2");

#define _LINUX_CAPABILITY_VERSION_3	0x20080522
#define CAP_LAST_CAP_MAX		63

enum step {
	STEP_ARGS = 1,
	STEP_OWN_RSEQ,
	STEP_SIGMASK,
	STEP_UNMAP,
	STEP_MOVE_SCRATCH,
	STEP_MOVE_FINAL,
	STEP_MAP,
	STEP_PAGES,
	STEP_PROTECT,
	STEP_MM_MAP,
	STEP_SIGACTION,
	STEP_RSEQ,
	STEP_CREDS,
	STEP_DUMPABLE,
	STEP_TLS,
	STEP_RLIMIT,
	STEP_THREAD,
	STEP_ROBUST_LIST,
	STEP_SIGQUEUE,
	STEP_COMM,
	STEP_ITIMER,
	STEP_POSIX_TIMER,
	STEP_NO_NEW_PRIVS,
	STEP_SECCOMP,
	STEP_PDEATHSIG,
};

static const char *const step_names[] = {
	[STEP_ARGS] = "check arguments",
	[STEP_OWN_RSEQ] = "unregister criu's rseq",
	[STEP_SIGMASK] = "block signals",
	[STEP_UNMAP] = "unmap criu",
	[STEP_MOVE_SCRATCH] = "move vdso/vvar aside",
	[STEP_MOVE_FINAL] = "move vdso/vvar in place",
	[STEP_MAP] = "map vma",
	[STEP_PAGES] = "read pages",
	[STEP_PROTECT] = "protect vma",
	[STEP_MM_MAP] = "set mm fields (PR_SET_MM_MAP)",
	[STEP_SIGACTION] = "set signal action",
	[STEP_RSEQ] = "register rseq",
	[STEP_CREDS] = "set credentials",
	[STEP_DUMPABLE] = "set dumpable",
	[STEP_TLS] = "set fs/gs base",
	[STEP_RLIMIT] = "set resource limit",
	[STEP_THREAD] = "create thread",
	[STEP_ROBUST_LIST] = "set robust futex list",
	[STEP_SIGQUEUE] = "queue pending signal",
	[STEP_COMM] = "set thread name",
	[STEP_ITIMER] = "set interval timer",
	[STEP_POSIX_TIMER] = "create POSIX timer",
	[STEP_PDEATHSIG] = "set parent death signal",
	[STEP_NO_NEW_PRIVS] = "set no_new_privs",
	[STEP_SECCOMP] = "set seccomp mode",
};

struct iovec {
	void *iov_base;
	uint64_t iov_len;
};

struct cap_header {
	uint32_t version;
	int32_t pid;
};

struct cap_data {
	uint32_t effective;
	uint32_t permitted;
	uint32_t inheritable;
};

static int log_fd = -1;

/* Report "restorer: <step> failed at <addr>: errno <n>" and leave. */
static void __attribute__((noreturn)) fail(enum step step, uint64_t addr,
					   long ret)
{
	if (log_fd >= 0)
		std_dprintf(log_fd, "restorer: %s failed at 0x%lx: errno %ld\n",
			    step_names[step], (unsigned long)addr, -ret);
	sys_exit_group(1);
	for (;;)
		;
}

static void unregister_own_rseq(struct restorer_args *args)
{
	uint64_t tp;
	long ret;

	if (!args->own_rseq_size)
		return;
	ret = sys_arch_prctl(ARCH_GET_FS, (unsigned long)&tp);
	if (ret)
		fail(STEP_OWN_RSEQ, 0, ret);
	ret = sys_rseq(tp + args->own_rseq_offset, args->own_rseq_size,
		       RSEQ_FLAG_UNREGISTER, args->own_rseq_sig);
	if (ret)
		fail(STEP_OWN_RSEQ, tp + args->own_rseq_offset, ret);
}

static void remove_criu_mappings(struct restorer_args *args)
{
	struct rst_range *r = (struct rst_range *)args->unmap;
	uint64_t i;
	long ret;

	for (i = 0; i < args->nr_unmap; i++) {
		ret = sys_munmap(r[i].start, r[i].len);
		if (ret)
			fail(STEP_UNMAP, r[i].start, ret);
	}
}

/*
 * The vdso and vvar of criu's process become the target's: same kernel,
 * same contents, only the address changes.  They wait in the scratch part
 * of our own region while everything else of criu is unmapped, then go to
 * their dumped addresses.
 */
static void move_specials_aside(struct restorer_args *args)
{
	struct rst_move *m = (struct rst_move *)args->moves;
	uint64_t i, at = args->scratch;
	long ret;

	for (i = 0; i < args->nr_moves; i++) {
		ret = sys_mremap(m[i].from, m[i].len, m[i].len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, at);
		if (compel_is_error(ret))
			fail(STEP_MOVE_SCRATCH, m[i].from, ret);
		m[i].from = at;
		at += m[i].len;
	}
}

static void move_specials_in_place(struct restorer_args *args)
{
	struct rst_move *m = (struct rst_move *)args->moves;
	uint64_t i;
	long ret;

	for (i = 0; i < args->nr_moves; i++) {
		ret = sys_mremap(m[i].from, m[i].len, m[i].len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, m[i].to);
		if (compel_is_error(ret))
			fail(STEP_MOVE_FINAL, m[i].to, ret);
	}
}

static void map_vmas(struct restorer_args *args)
{
	struct rst_vma *v = (struct rst_vma *)args->vmas;
	uint64_t i;
	long ret;

	for (i = 0; i < args->nr_vmas; i++) {
		if (v[i].kind & RST_VMA_SPECIAL)
			continue;
		uint64_t len = v[i].end - v[i].start;

		if (v[i].kind & RST_VMA_SEPARATE) {
			/* Born elsewhere, so its vm_pgoff does not follow on. */
			ret = sys_mmap(v[i].start ^ SEPARATE_HINT_BIT, len,
				       v[i].map_prot, v[i].flags, -1, 0);
			/* Faulted, or the move would renumber it. */
			if (!compel_is_error(ret))
				*(volatile char *)ret = 0;
			if (!compel_is_error(ret))
				ret = sys_mremap(ret, len, len,
						 MREMAP_MAYMOVE | MREMAP_FIXED,
						 v[i].start);
		} else {
			ret = sys_mmap(v[i].start, len, v[i].map_prot,
				       v[i].flags | MAP_FIXED, v[i].fd,
				       v[i].pgoff);
		}
		if (compel_is_error(ret) || (uint64_t)ret != v[i].start)
			fail(STEP_MAP, v[i].start, ret);
	}
}

/*
 * Fill the page runs from the pages image: runs that follow each other in
 * the file go together, IOV_BATCH at most, into one preadv.
 */
static void read_pages(struct restorer_args *args)
{
	struct rst_run *r = (struct rst_run *)args->runs;
	struct iovec iov[IOV_BATCH];
	uint64_t i = 0;

	while (i < args->nr_runs) {
		uint64_t n = 0, want = 0, off = r[i].off;

		while (n < IOV_BATCH && i + n < args->nr_runs &&
		       r[i + n].off == off + want) {
			iov[n].iov_base = (void *)r[i + n].start;
			iov[n].iov_len = r[i + n].len;
			want += r[i + n].len;
			n++;
		}
		/* A short read leaves the rest of the batch for the next call. */
		while (want) {
			long got = sys_preadv(args->pages_fd, (unsigned long)iov,
					      n, off, 0);
			uint64_t k = 0;

			if (got <= 0)
				fail(STEP_PAGES, (uint64_t)iov[0].iov_base,
				     got ? got : -5 /* EIO: image too short */);
			off += got;
			want -= got;
			while (k < n && (uint64_t)got >= iov[k].iov_len) {
				got -= iov[k].iov_len;
				k++;
			}
			if (k < n) {
				iov[k].iov_base = (char *)iov[k].iov_base + got;
				iov[k].iov_len -= got;
			}
			memmove(iov, iov + k, (n - k) * sizeof(iov[0]));
			i += k;
			n -= k;
		}
	}
}

static void protect_vmas(struct restorer_args *args)
{
	struct rst_vma *v = (struct rst_vma *)args->vmas;
	uint64_t i;
	long ret;
	int adv;

	for (i = 0; i < args->nr_vmas; i++) {
		if (v[i].kind & RST_VMA_SPECIAL)
			continue;
		if (v[i].kind & RST_VMA_DROP_FIRST) {
			ret = sys_madvise(v[i].start, PAGE_SIZE,
					  4 /* MADV_DONTNEED */);
			if (ret)
				fail(STEP_PROTECT, v[i].start, ret);
		}
		if (v[i].map_prot != v[i].prot) {
			ret = sys_mprotect(v[i].start, v[i].end - v[i].start,
					   v[i].prot);
			if (ret)
				fail(STEP_PROTECT, v[i].start, ret);
		}
		for (adv = 0; adv < 64; adv++) {
			if (!(v[i].madv & (1ULL << adv)))
				continue;
			ret = sys_madvise(v[i].start, v[i].end - v[i].start,
					  adv);
			if (ret)
				fail(STEP_PROTECT, v[i].start, ret);
		}
	}
}

static void restore_sigactions(struct restorer_args *args)
{
	int sig;
	long ret;

	for (sig = 1; sig <= RST_NSIG; sig++) {
		if (!(args->sigaction_set & (1ULL << (sig - 1))))
			continue;
		ret = sys_rt_sigaction(sig,
				       (unsigned long)&args->sigactions[sig - 1],
				       0, 8);
		if (ret)
			fail(STEP_SIGACTION, sig, ret);
	}
}

/* Last of the memory steps: from here nothing maps or opens any more. */
static void restore_rlimits(struct restorer_args *args)
{
	struct rst_rlimit *r = (struct rst_rlimit *)args->rlimits;
	uint64_t i;
	long ret;

	for (i = 0; i < args->nr_rlimits; i++) {
		ret = sys_prlimit64(0, r[i].resource,
				    (unsigned long)&r[i].cur, 0);
		if (ret)
			fail(STEP_RLIMIT, r[i].resource, ret);
	}
}

static void restore_creds(struct rst_creds *c)
{
	struct cap_header hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct cap_data data[2];
	long ret;
	int cap;

	if (!c->present)
		return;
	/* Keep capabilities across the uid change; they are set below. */
	ret = sys_prctl(PR_SET_SECUREBITS, c->secbits | 0x10 /* KEEP_CAPS */,
			0, 0, 0);
	if (ret)
		fail(STEP_CREDS, 1, ret);
	for (cap = 0; cap <= CAP_LAST_CAP_MAX; cap++) {
		if (c->cap_bnd & (1ULL << cap))
			continue;
		ret = sys_prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
		if (ret && ret != -22 /* EINVAL: beyond the last cap */)
			fail(STEP_CREDS, 2, ret);
	}
	ret = sys_setgroups(c->ngroups, (unsigned long)c->groups);
	if (ret)
		fail(STEP_CREDS, 3, ret);
	ret = sys_setresgid(c->gid, c->egid, c->sgid);
	if (ret)
		fail(STEP_CREDS, 4, ret);
	ret = sys_setresuid(c->uid, c->euid, c->suid);
	if (ret)
		fail(STEP_CREDS, 5, ret);

	/*
	 * The uid change cleared the effective set; take back what is still
	 * permitted to set the final securebits (CAP_SETPCAP), then narrow
	 * the sets to the dumped ones.
	 */
	ret = sys_capget((unsigned long)&hdr, (unsigned long)data);
	if (ret)
		fail(STEP_CREDS, 6, ret);
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	ret = sys_capset((unsigned long)&hdr, (unsigned long)data);
	if (ret)
		fail(STEP_CREDS, 7, ret);
	/*
	 * setres[ug]id() made the fs ids the effective ones; others need
	 * CAP_SET[UG]ID, effective again only now.
	 */
	sys_setfsgid(c->fsgid);
	sys_setfsuid(c->fsuid);
	ret = sys_prctl(PR_SET_SECUREBITS, c->secbits, 0, 0, 0);
	if (ret)
		fail(STEP_CREDS, 8, ret);

	data[0].effective = c->cap_eff;
	data[0].permitted = c->cap_prm;
	data[0].inheritable = c->cap_inh;
	data[1].effective = c->cap_eff >> 32;
	data[1].permitted = c->cap_prm >> 32;
	data[1].inheritable = c->cap_inh >> 32;
	ret = sys_capset((unsigned long)&hdr, (unsigned long)data);
	if (ret)
		fail(STEP_CREDS, 9, ret);
	ret = sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (cap = 0; !ret && cap <= CAP_LAST_CAP_MAX; cap++)
		if (c->cap_amb & (1ULL << cap))
			ret = sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
					cap, 0, 0);
	if (ret)
		fail(STEP_CREDS, 10, ret);
}

/* struct sock_fprog of seccomp(2): unsigned short len; sock_filter *filter. */
struct sock_fprog {
	uint16_t len;
	uint16_t pad[3];
	uint64_t filter;
};

/*
 * no_new_privs and the seccomp filters of this thread, oldest first.  Before
 * the credentials: a filter installed without no_new_privs needs
 * CAP_SYS_ADMIN, which they may drop.  The filters do not stop the steps
 * after: criu traces us with PTRACE_O_SUSPEND_SECCOMP.
 */
static void restore_seccomp_filters(struct rst_seccomp *sc)
{
	struct rst_seccomp_filter *f = (struct rst_seccomp_filter *)sc->filters;
	uint64_t i;
	long ret;

	if (sc->no_new_privs) {
		ret = sys_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (ret)
			fail(STEP_NO_NEW_PRIVS, 1, ret);
	}
	if (sc->mode != SECCOMP_MODE_FILTER)
		return;
	for (i = 0; i < sc->nr_filters; i++) {
		struct sock_fprog prog = {
			.len = (uint16_t)f[i].len,
			.filter = f[i].insns,
		};

		ret = sys_seccomp(SECCOMP_SET_MODE_FILTER, f[i].flags,
				  (unsigned long)&prog);
		if (ret)
			fail(STEP_SECCOMP, i, ret);
	}
}

static void close_fds(struct restorer_args *args)
{
	int32_t *fds = (int32_t *)args->close_fds;
	uint64_t i;

	for (i = 0; i < args->nr_close_fds; i++)
		sys_close(fds[i]);
}

/* Queue siginfo_t[] again: to the whole process (tid 0) or one thread. */
static void queue_signals(long pid, long tid, uint64_t infos, uint64_t nr)
{
	uint64_t i;
	long ret;

	for (i = 0; i < nr; i++) {
		char *info = (char *)infos + i * RST_SIGINFO_SIZE;
		int sig = *(int32_t *)info;

		if (tid)
			ret = sys_rt_tgsigqueueinfo(pid, tid, sig,
						    (unsigned long)info);
		else
			ret = sys_rt_sigqueueinfo(pid, sig,
						  (unsigned long)info);
		if (ret)
			fail(STEP_SIGQUEUE, sig, ret);
	}
}

/*
 * The per-thread part, run by every thread on its own restorer stack (the
 * leader last, after creating the others).  Ends stopped by a SIGSTOP to
 * itself, with rsp on the dumped frame; criu takes over there.
 */
static void __attribute__((noreturn, used))
restore_thread(struct restorer_args *args, struct rst_thread *t)
{
	long pid = sys_getpid();
	long tid = sys_gettid();
	long ret;

	if (tid != t->tid)
		fail(STEP_THREAD, t->tid, -22 /* EINVAL: wrong tid */);
	sys_set_tid_address(t->clear_tid_addr);
	if (t->robust_list) {
		ret = sys_set_robust_list(t->robust_list, t->robust_list_len);
		if (ret)
			fail(STEP_ROBUST_LIST, t->robust_list, ret);
	}
	if (t->rseq_len) {
		ret = sys_rseq(t->rseq_ptr, t->rseq_len, 0, t->rseq_sig);
		if (ret)
			fail(STEP_RSEQ, t->rseq_ptr, ret);
	}
	if (t->has_comm) {
		ret = sys_prctl(PR_SET_NAME, (unsigned long)t->comm, 0, 0, 0);
		if (ret)
			fail(STEP_COMM, tid, ret);
	}
	/* Every signal is blocked here: they stay queued until sigreturn. */
	queue_signals(pid, tid, t->sigpending, t->nr_sigpending);
	restore_seccomp_filters(&t->seccomp);
	restore_creds(&t->creds);
	if (t->pdeath_sig) {
		ret = sys_prctl(PR_SET_PDEATHSIG, t->pdeath_sig, 0, 0, 0);
		if (ret)
			fail(STEP_PDEATHSIG, t->pdeath_sig, ret);
	}
	/*
	 * A uid change resets the mm's dumpable flag: whichever thread is the
	 * last past its credentials sets the dumped value.
	 */
	if (__atomic_add_fetch(&args->threads_done, 1, __ATOMIC_SEQ_CST) ==
	    args->nr_threads && args->dumpable >= 0) {
		ret = sys_prctl(PR_SET_DUMPABLE, args->dumpable, 0, 0, 0);
		if (ret)
			fail(STEP_DUMPABLE, args->dumpable, ret);
	}

	memcpy((void *)t->frame_dst, (void *)t->frame_src, t->frame_len);
	/* The leader closes criu's fds (pages image, log) last of its steps. */
	if (t == (struct rst_thread *)args->threads)
		close_fds(args);

	ret = sys_arch_prctl(ARCH_SET_GS, t->gs_base);
	if (ret)
		fail(STEP_TLS, t->gs_base, ret);
	ret = sys_arch_prctl(ARCH_SET_FS, t->fs_base);
	if (ret)
		fail(STEP_TLS, t->fs_base, ret);
	/*
	 * Strict mode allows only read, write, exit and sigreturn: the last
	 * syscall before the final stop (tgkill below, criu's munmap and
	 * rt_sigreturn pass thanks to PTRACE_O_SUSPEND_SECCOMP).
	 */
	if (t->seccomp.mode == SECCOMP_MODE_STRICT) {
		ret = sys_prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);
		if (ret)
			fail(STEP_SECCOMP, SECCOMP_MODE_STRICT, ret);
	}

	/*
	 * rsp points just past the frame's return address, as after a signal
	 * handler's ret.  criu takes over at the SIGSTOP we send this thread
	 * (not a trap: a forced SIGTRAP would reset the task's SIGTRAP
	 * action; a thread-directed signal stops only this thread under
	 * ptrace): once every thread of the tree is there, it unmaps this
	 * region (r12, r13 say which) and runs rt_sigreturn at a syscall
	 * instruction of the vdso in each thread.
	 */
	{
		register uint64_t r12 asm("r12") = args->self_start;
		register uint64_t r13 asm("r13") = args->self_len;

		asm volatile("mov %[sp], %%rsp\n\t"
			     "syscall\n\t"
			     "ud2\n\t"
			     :
			     : [sp] "r"(t->frame_dst + 8), "a"(__NR_tgkill),
			       "D"(pid), "S"(tid), "d"(SIGSTOP_NR), "r"(r12),
			       "r"(r13)
			     : "memory", "rcx", "r11");
	}
	for (;;)
		;
}

/*
 * clone3() a thread of ours with the dumped tid, on its own restorer stack.
 * The child returns from the syscall on that fresh stack, so it must not
 * return from here: it calls restore_thread() straight from the asm.
 */
static long clone_thread(struct restorer_args *args, struct rst_thread *t,
			 struct clone_args *ca)
{
	register uint64_t r12 asm("r12") = (uint64_t)args;
	register uint64_t r13 asm("r13") = (uint64_t)t;
	long ret;

	asm volatile("syscall\n\t"
		     "test %%rax, %%rax\n\t"
		     "jnz 1f\n\t"
		     "xor %%rbp, %%rbp\n\t"
		     "mov %%r12, %%rdi\n\t"
		     "mov %%r13, %%rsi\n\t"
		     "call restore_thread\n\t"
		     "ud2\n"
		     "1:\n\t"
		     : "=a"(ret)
		     : "a"(__NR_clone3), "D"(ca), "S"(sizeof(*ca)), "r"(r12),
		       "r"(r13)
		     : "memory", "rcx", "r11");
	return ret;
}

static void create_threads(struct restorer_args *args)
{
	struct rst_thread *t = (struct rst_thread *)args->threads;
	uint64_t i;
	long ret;

	for (i = 1; i < args->nr_threads; i++) {
		int32_t tid = t[i].tid;
		struct clone_args ca = {
			.flags = THREAD_FLAGS,
			.stack = t[i].stack_top - 8192,
			.stack_size = 8192,
			.set_tid = (uint64_t)&tid,
			.set_tid_size = 1,
		};

		ret = clone_thread(args, &t[i], &ca);
		if (ret != tid)
			fail(STEP_THREAD, tid, compel_is_error(ret) ? ret : -22);
	}
}

struct kernel_timeval {
	int64_t sec, usec;
};

struct kernel_timespec {
	int64_t sec, nsec;
};

struct kernel_sigevent {
	uint64_t value;
	int32_t signo;
	int32_t notify;
	int32_t tid;
	int32_t pad[11];
};
_Static_assert(sizeof(struct kernel_sigevent) == 64, "sigevent");

/* ITIMER_REAL, _VIRTUAL, _PROF with their time left and interval. */
static void restore_itimers(struct restorer_args *args)
{
	int which;
	long ret;

	for (which = 0; which < 3; which++) {
		struct rst_itimer *t = &args->itimers[which];
		struct kernel_timeval val[2] = {
			{ t->isec, t->iusec }, { t->vsec, t->vusec },
		};

		if (!t->vsec && !t->vusec)
			continue;	/* disarmed, as a new task's are */
		ret = sys_setitimer(which, (unsigned long)val, 0);
		if (ret)
			fail(STEP_ITIMER, which, ret);
	}
}

/*
 * POSIX timers with their ids: the kernel takes the id timer_create()
 * finds in *timerid while PR_TIMER_CREATE_RESTORE_IDS is on.  After the
 * threads exist: a SIGEV_THREAD_ID timer names one of them.
 */
static void restore_posix_timers(struct restorer_args *args)
{
	struct rst_posix_timer *t = (struct rst_posix_timer *)args->posix_timers;
	uint64_t i;
	long ret;

	if (!args->nr_posix_timers)
		return;
	ret = sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0);
	if (ret)
		fail(STEP_POSIX_TIMER, 0, ret);
	for (i = 0; i < args->nr_posix_timers; i++) {
		struct kernel_sigevent sev = {
			.value = t[i].sival,
			.signo = t[i].signo,
			.notify = t[i].notify,
			.tid = t[i].tid,
		};
		struct kernel_timespec its[2] = {
			{ t[i].isec, t[i].insec }, { t[i].vsec, t[i].vnsec },
		};
		int32_t id = t[i].id;

		ret = sys_timer_create(t[i].clock_id, (unsigned long)&sev,
				       (unsigned long)&id);
		if (ret || id != (int32_t)t[i].id)
			fail(STEP_POSIX_TIMER, t[i].id, ret ? ret : -17);
		if (!t[i].vsec && !t[i].vnsec)
			continue;	/* created disarmed */
		ret = sys_timer_settime(id, 0, (unsigned long)its, 0);
		if (ret)
			fail(STEP_POSIX_TIMER, t[i].id, ret);
	}
	ret = sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0);
	if (ret)
		fail(STEP_POSIX_TIMER, 0, ret);
}

static void __attribute__((noreturn, used)) restore_main(struct restorer_args *args)
{
	uint64_t all = ~0ULL;
	long ret;

	log_fd = args->log_fd;
	if (args->magic != RESTORER_ARGS_MAGIC ||
	    args->version != RESTORER_ARGS_VERSION || !args->nr_threads)
		fail(STEP_ARGS, args->version, -22);

	/* criu's glibc registered rseq in memory about to disappear. */
	unregister_own_rseq(args);
	ret = sys_rt_sigprocmask(0 /* SIG_BLOCK */, (unsigned long)&all, 0, 8);
	if (ret)
		fail(STEP_SIGMASK, 0, ret);

	move_specials_aside(args);
	remove_criu_mappings(args);
	move_specials_in_place(args);
	/*
	 * Before the target's files are mapped: the kernel refuses to replace
	 * the exe link while the old exe (criu's interpreter, maybe the very
	 * binary the target runs) is still mapped.
	 */
	ret = sys_prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&args->mm,
			sizeof(args->mm), 0);
	if (ret)
		fail(STEP_MM_MAP, args->mm.start_brk, ret);
	map_vmas(args);
	read_pages(args);
	protect_vmas(args);
	restore_sigactions(args);
	queue_signals(sys_getpid(), 0, args->sigpending_shared,
		      args->nr_sigpending_shared);

	/* With criu's credentials still: set_tid needs them. */
	create_threads(args);
	restore_posix_timers(args);
	restore_itimers(args);
	/* prlimit64 on oneself never needs more than we have here. */
	restore_rlimits(args);
	restore_thread(args, (struct rst_thread *)args->threads);
}

/*
 * restorer_entry(args): called on criu's stack; moves to the blob's own
 * stack at once, since criu's stack is about to be unmapped.
 */
asm(".text\n"
    ".globl restorer_entry\n"
    ".type restorer_entry, @function\n"
    "restorer_entry:\n"
    "	mov 24(%rdi), %rsp\n"		/* args->stack_top */
    "	xor %rbp, %rbp\n"
    "	call restore_main\n"
    "	ud2\n"
    ".size restorer_entry, .-restorer_entry\n");
