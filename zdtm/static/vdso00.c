// SPDX-License-Identifier: GPL-2.0
/*
 * vdso00 - time keeps working through the vDSO across a checkpoint.
 *
 * The test looks __vdso_clock_gettime up in the vDSO the kernel mapped
 * (AT_SYSINFO_EHDR) and keeps that address: after a restore the call must
 * still work at the same address even if the kernel's new vDSO lies
 * elsewhere.  Each vDSO reading must fall between two readings made with
 * the real system call, before and after; libc's clock_gettime and
 * gettimeofday (which go through the vDSO too) are checked the same way.
 */
#include <elf.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static long long ns_of(const struct timespec *ts)
{
	return ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* The address of a symbol of the vDSO image mapped at base, or NULL. */
static void *vdso_sym(unsigned long base, const char *name)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	unsigned long load_bias = base;
	int i;

	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD) {
			load_bias = base + ph[i].p_offset - ph[i].p_vaddr;
			break;
		}
	for (i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym;
		const char *strtab;
		size_t n, k;

		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		sym = (const Elf64_Sym *)(base + sh[i].sh_offset);
		strtab = (const char *)(base + sh[sh[i].sh_link].sh_offset);
		n = sh[i].sh_size / sizeof(*sym);
		for (k = 0; k < n; k++)
			if (sym[k].st_shndx != SHN_UNDEF &&
			    !strcmp(strtab + sym[k].st_name, name))
				return (void *)(load_bias + sym[k].st_value);
	}
	return NULL;
}

static int sys_clock_gettime(clockid_t clk, struct timespec *ts)
{
	return syscall(SYS_clock_gettime, clk, ts);
}

/* A reading through fn lies between two real system call readings. */
static int check_clock(clock_gettime_fn fn, clockid_t clk, const char *what)
{
	struct timespec a, v, b;

	if (sys_clock_gettime(clk, &a) || fn(clk, &v) ||
	    sys_clock_gettime(clk, &b)) {
		fail("%s(clock %d) failed", what, clk);
		return -1;
	}
	/* The vDSO may lag the syscall by less than a tick's rounding. */
	if (ns_of(&v) < ns_of(&a) - 1000000 || ns_of(&v) > ns_of(&b) + 1000000) {
		fail("%s(clock %d) = %lld ns, outside [%lld, %lld]", what, clk,
		     ns_of(&v), ns_of(&a), ns_of(&b));
		return -1;
	}
	return 0;
}

static int check_all(clock_gettime_fn vdso_fn)
{
	static const clockid_t clocks[] = {
		CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME,
	};
	struct timeval tv;
	struct timespec a;
	unsigned int i;

	for (i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++)
		if (check_clock(vdso_fn, clocks[i], "__vdso_clock_gettime") ||
		    check_clock(clock_gettime, clocks[i], "clock_gettime"))
			return -1;

	if (sys_clock_gettime(CLOCK_REALTIME, &a) || gettimeofday(&tv, NULL)) {
		fail("gettimeofday failed");
		return -1;
	}
	if (tv.tv_sec < a.tv_sec - 1 || tv.tv_sec > a.tv_sec + 1) {
		fail("gettimeofday says %ld s, the system call %ld s",
		     (long)tv.tv_sec, (long)a.tv_sec);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long base;
	clock_gettime_fn vdso_fn;
	struct timespec before, after;

	test_init(argc, argv);

	base = getauxval(AT_SYSINFO_EHDR);
	if (!base) {
		pr_err("no vDSO (AT_SYSINFO_EHDR is 0)\n");
		return 1;
	}
	vdso_fn = (clock_gettime_fn)vdso_sym(base, "__vdso_clock_gettime");
	if (!vdso_fn) {
		pr_err("no __vdso_clock_gettime in the vDSO\n");
		return 1;
	}
	if (check_all(vdso_fn))
		return 1;
	vdso_fn(CLOCK_MONOTONIC, &before);

	test_daemon();
	test_waitsig();

	if (check_all(vdso_fn))
		return 1;
	vdso_fn(CLOCK_MONOTONIC, &after);
	if (ns_of(&after) < ns_of(&before)) {
		fail("CLOCK_MONOTONIC went back from %lld to %lld ns",
		     ns_of(&before), ns_of(&after));
		return 1;
	}
	pass();
	return 0;
}
