/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The restorer blob's argument block, version RESTORER_ARGS_VERSION.
 *
 * criu (Python, criu/restorer/args.py) lays this block out in memory right
 * after the blob, in a region that collides with no mapping of the target,
 * and jumps to restorer_entry(args).  Every pointer-like field is an
 * absolute address inside that same region, so the block needs no
 * relocation.  Keep this file and args.py in step: the version number is
 * checked by the blob before it touches anything.
 */
#ifndef CRIU_RESTORER_H
#define CRIU_RESTORER_H

#include <stdint.h>

#define RESTORER_ARGS_MAGIC	0x52535452u	/* "RSTR" */
#define RESTORER_ARGS_VERSION	3u

/* rst_vma.kind */
#define RST_VMA_REGULAR		0u
#define RST_VMA_SPECIAL		1u	/* vdso/vvar: moved, not mapped */
/*
 * Flag of kind: pages go into this mapping.  It is mapped writable, filled,
 * then protected; a mapping without pages is mapped with its final
 * protection at once, so that, as in the dumped task, a never-writable
 * private mapping is not accounted (VM_ACCOUNT) and merges like it did.
 */
#define RST_VMA_FILL		2u
/*
 * Flag of kind: an anonymous mapping the dumped task had right after one
 * that looks the same, yet unmerged: their vm_pgoff were not contiguous
 * (one was moved by mremap).  The blob maps it elsewhere first and moves
 * it into place, which gives it the same property, so the kernel keeps
 * the two apart as it did.
 */
#define RST_VMA_SEPARATE	4u
/*
 * Flag of kind: with SEPARATE, the page faulted in before the move (the
 * kernel renumbers a never-faulted mapping when it moves) holds no dumped
 * data: drop it again.
 */
#define RST_VMA_DROP_FIRST	8u

/* One mapping of the target, to create at its address. */
struct rst_vma {
	uint64_t start;
	uint64_t end;
	uint64_t pgoff;		/* file offset in bytes */
	uint64_t madv;		/* MADV_* bits to apply (1 << advice) */
	uint32_t prot;		/* final PROT_* */
	uint32_t flags;		/* mmap MAP_* flags (MAP_FIXED added by the blob) */
	int32_t fd;		/* file to map, -1 for anonymous */
	uint32_t kind;		/* RST_VMA_* */
	uint32_t map_prot;	/* PROT_* while pages are filled */
	uint32_t pad;
};

/* An address range [start, start + len). */
struct rst_range {
	uint64_t start;
	uint64_t len;
};

/* Pages [start, start + len) are at offset off of the pages image. */
struct rst_run {
	uint64_t start;
	uint64_t len;
	uint64_t off;
};

/* A move of one of criu's special mappings (vdso, vvar) to the target's place. */
struct rst_move {
	uint64_t from;
	uint64_t to;
	uint64_t len;
};

/* The kernel's struct sigaction for rt_sigaction(2) on x86_64. */
struct rst_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

/* struct prctl_mm_map (PR_SET_MM, PR_SET_MM_MAP), linux/prctl.h. */
struct rst_mm_map {
	uint64_t start_code;
	uint64_t end_code;
	uint64_t start_data;
	uint64_t end_data;
	uint64_t start_brk;
	uint64_t brk;
	uint64_t start_stack;
	uint64_t arg_start;
	uint64_t arg_end;
	uint64_t env_start;
	uint64_t env_end;
	uint64_t auxv;		/* address of the auxv words */
	uint32_t auxv_size;	/* bytes */
	uint32_t exe_fd;
};

/* Credentials applied last (after PR_SET_MM_MAP, which needs privileges). */
struct rst_creds {
	uint32_t present;	/* 0: leave criu's credentials */
	uint32_t uid, euid, suid, fsuid;
	uint32_t gid, egid, sgid, fsgid;
	uint32_t ngroups;
	uint32_t groups[64];
	uint32_t secbits;
	uint32_t pad;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
};

/*
 * A resource limit, set by the blob once the target's memory is in place:
 * a limit of the target (RLIMIT_AS, RLIMIT_DATA, RLIMIT_NOFILE...) may be
 * lower than what criu itself uses until it jumps here.  criu has already
 * raised any hard limit that needs raising, so these only lower or keep.
 */
struct rst_rlimit {
	uint32_t resource;
	uint32_t pad;
	uint64_t cur;
	uint64_t max;
};

/* One setitimer() timer (ITIMER_REAL, _VIRTUAL, _PROF, in that order). */
struct rst_itimer {
	uint64_t isec, iusec;	/* interval */
	uint64_t vsec, vusec;	/* time left */
};

/* One POSIX timer, created again with its id (PR_TIMER_CREATE_RESTORE_IDS). */
struct rst_posix_timer {
	uint32_t id;
	uint32_t clock_id;
	uint32_t signo;
	uint32_t notify;	/* SIGEV_* */
	int32_t tid;		/* SIGEV_THREAD_ID target */
	uint32_t pad;
	uint64_t sival;
	uint64_t isec, insec;	/* interval */
	uint64_t vsec, vnsec;	/* time left, 0: disarmed */
};

/* One seccomp BPF program: len struct sock_filter (8 bytes each) at insns. */
struct rst_seccomp_filter {
	uint64_t len;
	uint64_t insns;
	uint32_t flags;		/* SECCOMP_FILTER_FLAG_* to install with */
	uint32_t pad;
};

/*
 * A thread's seccomp state.  no_new_privs and the filters (oldest first,
 * each thread its own chain) go in before the credentials, which may drop
 * the CAP_SYS_ADMIN a filter without no_new_privs needs; strict mode is the
 * last syscall before the final stop.  criu traces the task with
 * PTRACE_O_SUSPEND_SECCOMP, so nothing after is filtered until it detaches.
 */
struct rst_seccomp {
	uint32_t mode;		/* SECCOMP_MODE_*: 0 none, 1 strict, 2 filter */
	uint32_t no_new_privs;	/* PR_SET_NO_NEW_PRIVS first */
	uint64_t nr_filters;
	uint64_t filters;	/* struct rst_seccomp_filter[] */
};

#define RST_NSIG	64
#define RST_SIGINFO_SIZE	128

/*
 * One thread of the task, leader first.  Everything here is per thread in
 * the kernel: the leader applies its own part last, the others are created
 * by the leader with clone3(set_tid) and apply theirs on their own.
 */
struct rst_thread {
	int32_t tid;
	uint32_t has_comm;	/* comm below is to be set (non-leaders) */
	uint64_t stack_top;	/* this thread's restorer stack, 16-aligned */

	/* rt_sigframe built by criu: copied to frame_dst, then rt_sigreturn. */
	uint64_t frame_src;
	uint64_t frame_len;
	uint64_t frame_dst;

	uint64_t fs_base;
	uint64_t gs_base;
	uint64_t clear_tid_addr;	/* set_tid_address() */
	uint64_t robust_list;		/* set_robust_list(), 0: none */
	uint64_t robust_list_len;

	uint64_t rseq_ptr;
	uint32_t rseq_len;		/* 0: none */
	uint32_t rseq_sig;

	/* Signals queued to this thread only: siginfo_t[] (128 bytes each). */
	uint64_t sigpending;
	uint64_t nr_sigpending;

	char comm[16];

	int32_t pdeath_sig;	/* PR_SET_PDEATHSIG after creds (which clear it) */
	uint32_t pad;

	struct rst_creds creds;
	struct rst_seccomp seccomp;
};

struct restorer_args {
	uint32_t magic;
	uint32_t version;

	/* This region (blob, args, stacks): kept until the very end. */
	uint64_t self_start;
	uint64_t self_len;
	uint64_t stack_top;	/* the leader's stack, 16-byte aligned, in self */

	/* criu's own mappings to remove first (never self, never specials). */
	uint64_t unmap;		/* struct rst_range[] */
	uint64_t nr_unmap;

	/* criu's vdso/vvar: moved to scratch first, then to their place. */
	uint64_t moves;		/* struct rst_move[] */
	uint64_t nr_moves;
	uint64_t scratch;	/* free room in self for the moves */

	uint64_t vmas;		/* struct rst_vma[] */
	uint64_t nr_vmas;

	/* Page runs to read from pages_fd, in pages-image order. */
	uint64_t runs;		/* struct rst_run[] */
	uint64_t nr_runs;
	int32_t pages_fd;
	int32_t log_fd;		/* -1: silent */

	struct rst_mm_map mm;

	/* Own rseq area (glibc's, in criu's TLS) to unregister first. */
	int64_t own_rseq_offset;	/* from the thread pointer */
	uint32_t own_rseq_size;		/* 0: none registered */
	uint32_t own_rseq_sig;

	uint64_t sigaction_set;		/* bit (signo - 1): restore that action */
	struct rst_sigaction sigactions[RST_NSIG];

	int32_t dumpable;	/* PR_SET_DUMPABLE value after creds, -1: keep */
	uint32_t threads_done;	/* threads past their credentials (atomic) */

	uint64_t rlimits;		/* struct rst_rlimit[] */
	uint64_t nr_rlimits;

	/* Fds to close before the end (vma files, pages image, log). */
	uint64_t close_fds;	/* int32_t[] */
	uint64_t nr_close_fds;

	uint64_t threads;		/* struct rst_thread[], leader first */
	uint64_t nr_threads;

	/* Signals queued to the whole process: siginfo_t[] (128 bytes each). */
	uint64_t sigpending_shared;
	uint64_t nr_sigpending_shared;

	/* Timers, armed last of the process-wide steps. */
	struct rst_itimer itimers[3];
	uint64_t posix_timers;		/* struct rst_posix_timer[] */
	uint64_t nr_posix_timers;

	/* Set by the blob when it fails: step number and -errno. */
	int64_t error;
	uint64_t error_step;
};

#endif /* CRIU_RESTORER_H */
