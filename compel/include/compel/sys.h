/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Raw system calls for blobs: sys_<name>(args...) for every syscall listed
 * in compel/arch/<arch>/syscalls.tbl.  They return the kernel's raw result:
 * a negative errno on failure, no errno variable, no libc.
 */
#ifndef COMPEL_SYS_H
#define COMPEL_SYS_H

#include <compel/types.h>
#include <compel/asm/syscall.h>
#include <compel/syscall-nr.h>	/* generated from syscalls.tbl */

#define __COMPEL_COUNT(...) __COMPEL_COUNT_(__VA_ARGS__, 6, 5, 4, 3, 2, 1, 0)
#define __COMPEL_COUNT_(a0, a1, a2, a3, a4, a5, a6, n, ...) n
#define __COMPEL_CAT(a, b) __COMPEL_CAT_(a, b)
#define __COMPEL_CAT_(a, b) a##b

#define __compel_sc0(n) __compel_syscall0(n)
#define __compel_sc1(n, a) __compel_syscall1(n, (long)(a))
#define __compel_sc2(n, a, b) __compel_syscall2(n, (long)(a), (long)(b))
#define __compel_sc3(n, a, b, c) \
	__compel_syscall3(n, (long)(a), (long)(b), (long)(c))
#define __compel_sc4(n, a, b, c, d) \
	__compel_syscall4(n, (long)(a), (long)(b), (long)(c), (long)(d))
#define __compel_sc5(n, a, b, c, d, e) \
	__compel_syscall5(n, (long)(a), (long)(b), (long)(c), (long)(d), \
			  (long)(e))
#define __compel_sc6(n, a, b, c, d, e, f) \
	__compel_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), \
			  (long)(e), (long)(f))

/* compel_syscall(nr, args...): any syscall by number, 0 to 6 arguments. */
#define compel_syscall(...) \
	__COMPEL_CAT(__compel_sc, __COMPEL_COUNT(__VA_ARGS__))(__VA_ARGS__)

static inline int compel_is_error(long ret)
{
	return (unsigned long)ret > (unsigned long)-4096L;
}

#endif
