/* SPDX-License-Identifier: GPL-2.0 */
/* fpu.h - shared pieces of the register-holding tests (fpu00, fpu01). */
#ifndef ZDTM_FPU_H
#define ZDTM_FPU_H

/*
 * Inline-asm body: while (!*stop) futex(stop, FUTEX_WAIT_PRIVATE, 0, NULL);
 *
 * The tests load vector registers, wait here for the checkpoint with the
 * registers live (the kernel, not the C compiler, must preserve them), and
 * store them after.  It takes the operands [stop] (a register holding an
 * int *), [nr_futex] and [op] (immediates) and clobbers rax, rcx, rdx, rsi,
 * rdi, r10, r11 and memory; labels 1 and 2 are its own.
 */
#define ZDTM_ASM_FUTEX_WAIT_LOOP			\
	"1:	cmpl	$0, (%[stop])\n\t"		\
	"jne	2f\n\t"					\
	"movl	%[nr_futex], %%eax\n\t"			\
	"movq	%[stop], %%rdi\n\t"			\
	"movl	%[op], %%esi\n\t"			\
	"xorl	%%edx, %%edx\n\t"			\
	"xorl	%%r10d, %%r10d\n\t"			\
	"syscall\n\t"					\
	"jmp	1b\n\t"					\
	"2:\n\t"

#endif /* ZDTM_FPU_H */
