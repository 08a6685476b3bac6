// SPDX-License-Identifier: GPL-2.0
/*
 * mprotect00 - pages of one mapping given different protections keep them,
 * and their contents (also under PROT_NONE), across a checkpoint.  Checked
 * both in /proc/self/maps and by touching: a read of a PROT_NONE page and
 * a write to a read-only page must still fault.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zdtmtst.h"

#define NPAGES 8

static const int prots[NPAGES] = {
	PROT_NONE,
	PROT_READ,
	PROT_READ | PROT_WRITE,
	PROT_READ | PROT_WRITE,
	PROT_READ | PROT_EXEC,
	PROT_NONE,
	PROT_READ | PROT_WRITE | PROT_EXEC,
	PROT_READ,
};

static sigjmp_buf fault_jmp;

static void segv_handler(int sig)
{
	siglongjmp(fault_jmp, 1);
}

/* 1 if touching p (reading, or writing if write) faults, 0 if not. */
static int faults(volatile char *p, int write)
{
	if (sigsetjmp(fault_jmp, 1))
		return 1;
	if (write)
		*p = *p;
	else
		(void)*p;
	return 0;
}

static void perms_of(int prot, char *out)
{
	out[0] = prot & PROT_READ ? 'r' : '-';
	out[1] = prot & PROT_WRITE ? 'w' : '-';
	out[2] = prot & PROT_EXEC ? 'x' : '-';
	out[3] = 'p';
	out[4] = '\0';
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = segv_handler };
	unsigned long long sums[NPAGES];
	long page = sysconf(_SC_PAGESIZE);
	char *map;
	int i;

	test_init(argc, argv);

	map = mmap(NULL, NPAGES * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		pr_perror("mmap");
		return 1;
	}
	for (i = 0; i < NPAGES; i++) {
		memset(map + i * page, 'a' + i, page);
		map[i * page + 17] = (char)i;
		sums[i] = test_checksum(map + i * page, page);
	}
	for (i = 0; i < NPAGES; i++)
		if (mprotect(map + i * page, page, prots[i])) {
			pr_perror("mprotect page %d", i);
			return 1;
		}

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL)) {
		pr_perror("sigaction");
		return 1;
	}

	test_daemon();
	test_waitsig();

	for (i = 0; i < NPAGES; i++) {
		char *p = map + i * page, want[5];
		struct test_vma vma;

		perms_of(prots[i], want);
		if (test_find_vma((unsigned long)p, &vma) ||
		    strcmp(vma.perms, want)) {
			fail("page %d: protection %s, expected %s", i,
			     vma.perms, want);
			return 1;
		}
		if (faults(p, 0) != !(prots[i] & PROT_READ)) {
			fail("page %d: a read %s", i,
			     prots[i] & PROT_READ ? "faults" : "does not fault");
			return 1;
		}
		if (faults(p, 1) != !(prots[i] & PROT_WRITE)) {
			fail("page %d: a write %s", i,
			     prots[i] & PROT_WRITE ? "faults" : "does not fault");
			return 1;
		}
		if (!(prots[i] & PROT_READ) && mprotect(p, page, PROT_READ)) {
			pr_perror("mprotect page %d back to read", i);
			return 1;
		}
		if (test_checksum(p, page) != sums[i]) {
			fail("page %d: contents changed", i);
			return 1;
		}
	}
	pass();
	return 0;
}
