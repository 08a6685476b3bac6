/* SPDX-License-Identifier: GPL-2.0 */
/*
 * seccomp.h - seccomp filters for the seccomp tests: each filter makes one
 * system call return an error, trap (SIGSYS) or kill the process, and
 * allows everything else.
 *
 * The system calls filtered are ones that neither the tests, nor libc,
 * nor a checkpointer's code run in the task plausibly make on their own:
 * times, sysinfo, syslog, getcpu.  They are made with syscall(), never
 * through the vDSO.
 */
#ifndef ZDTM_SECCOMP_H
#define ZDTM_SECCOMP_H

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"
#include "tasks.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1	/* si_code of a SECCOMP_RET_TRAP SIGSYS */
#endif

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif

/* Install a filter: system call nr gets action (SECCOMP_RET_*). */
static inline int seccomp_filter_one(int nr, unsigned int action,
				     unsigned int flags)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, action),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(insns) / sizeof(insns[0]),
		.filter = insns,
	};

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* errno of a filtered call: the call with no arguments, or 0 if it worked. */
static inline int seccomp_errno_of(int nr)
{
	char buf[512];
	long ret;

	switch (nr) {
	case SYS_times:
		ret = syscall(nr, NULL);
		break;
	case SYS_sysinfo:
		ret = syscall(nr, buf);
		break;
	case SYS_syslog:
		ret = syscall(nr, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
		break;
	default:
		ret = syscall(nr, 0, 0, 0);
	}
	if (ret == -1 && errno == EPERM && nr == SYS_syslog)
		return 0;	/* allowed, but not to us: not filtered */
	return ret == -1 ? errno : 0;
}

/* The "Seccomp" and "Seccomp_filters" lines of a thread (0: ours). */
static inline int seccomp_status(pid_t tid, int *mode, int *filters)
{
	char buf[32];

	if (task_status_field(tid, "Seccomp", buf, sizeof(buf)))
		return -1;
	*mode = atoi(buf);
	if (task_status_field(tid, "Seccomp_filters", buf, sizeof(buf)))
		*filters = -1;
	else
		*filters = atoi(buf);
	return 0;
}

#endif /* ZDTM_SECCOMP_H */
