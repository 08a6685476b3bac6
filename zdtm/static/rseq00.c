// SPDX-License-Identifier: GPL-2.0
/*
 * rseq00 - the restartable-sequences registration survives a checkpoint.
 *
 * glibc registers an rseq area for every thread (at the thread pointer plus
 * __rseq_offset).  A registration is checked by asking the kernel to
 * register the same area again: it answers EBUSY only if exactly that area,
 * length and signature are registered.  The kernel must also keep updating
 * the area: its cpu_id field matches the CPU we run on.  If glibc did not
 * register (tunable off), the test registers its own area.
 */
#include <sched.h>
#include <stdint.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zdtmtst.h"

#define RSEQ_SIG_X86 0x53053053

static struct rseq own_area __attribute__((aligned(32)));

static int sys_rseq(void *area, uint32_t len, int flags, uint32_t sig)
{
	return syscall(SYS_rseq, area, len, flags, sig);
}

/* The registered length if area is registered with our signature, or 0. */
static uint32_t registered_len(void *area)
{
	uint32_t lens[] = { 32, __rseq_size, sizeof(struct rseq) };
	unsigned int i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		if (!lens[i])
			continue;
		if (sys_rseq(area, lens[i], 0, RSEQ_SIG_X86) == 0) {
			/* We just registered it: it was not registered. */
			sys_rseq(area, lens[i], RSEQ_FLAG_UNREGISTER,
				 RSEQ_SIG_X86);
			return 0;
		}
		if (errno == EBUSY)
			return lens[i];
	}
	return 0;
}

/* cpu_id in the area agrees with getcpu (retried: we may migrate). */
static int cpu_id_tracks(volatile struct rseq *rs)
{
	unsigned int cpu;
	int i;

	for (i = 0; i < 100; i++) {
		if (syscall(SYS_getcpu, &cpu, NULL, NULL))
			return 0;
		if (rs->cpu_id == cpu && rs->cpu_id_start == cpu)
			return 1;
		sched_yield();
	}
	return 0;
}

int main(int argc, char **argv)
{
	volatile struct rseq *rs;
	uint32_t len, len_after;

	test_init(argc, argv);

	if (__rseq_size) {
		rs = (struct rseq *)((char *)__builtin_thread_pointer() +
				     __rseq_offset);
	} else {
		rs = &own_area;
		if (sys_rseq(&own_area, sizeof(own_area), 0, RSEQ_SIG_X86)) {
			pr_perror("can't register rseq");
			return 1;
		}
	}
	len = registered_len((void *)rs);
	if (!len) {
		pr_err("rseq area %p is not registered\n", rs);
		return 1;
	}
	if (!cpu_id_tracks(rs)) {
		pr_err("rseq cpu_id does not track the cpu before dump\n");
		return 1;
	}

	test_daemon();
	test_waitsig();

	len_after = registered_len((void *)rs);
	if (len_after != len) {
		fail("rseq area %p: registered with length %u, expected %u",
		     rs, len_after, len);
		return 1;
	}
	/* Make the kernel update the area after the restore. */
	sched_yield();
	if (!cpu_id_tracks(rs)) {
		fail("rseq cpu_id %u does not track the cpu", rs->cpu_id);
		return 1;
	}
	pass();
	return 0;
}
