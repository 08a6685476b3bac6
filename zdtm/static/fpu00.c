// SPDX-License-Identifier: GPL-2.0
/*
 * fpu00 - x87 and SSE registers hold their values across a checkpoint.
 *
 * The registers are loaded in assembly and stay live while the task waits
 * for the runner's SIGTERM in a futex system call made from the same
 * assembly block: no compiler-generated code runs in between, so whatever
 * the registers hold at the end is what the kernel (and a restore) kept.
 * Also kept: the x87 control word and MXCSR, set to non-default values.
 */
#include <stdint.h>
#include <sys/syscall.h>
#include <linux/futex.h>

#include "zdtmtst.h"
#include "fpu.h"

#define NXMM 16
#define NX87 8

struct fpu_state {
	uint8_t xmm[NXMM][16];
	double x87[NX87];
	uint32_t mxcsr;
	uint16_t fcw;
} __attribute__((aligned(16)));

static void wait_with_registers_live(const struct fpu_state *in,
				     struct fpu_state *out,
				     volatile int *stop)
{
	asm volatile(
		"fldcw	%c[fcw](%[in])\n\t"
		"ldmxcsr %c[mxcsr](%[in])\n\t"
		"fldl	%c[x87]+0*8(%[in])\n\t"
		"fldl	%c[x87]+1*8(%[in])\n\t"
		"fldl	%c[x87]+2*8(%[in])\n\t"
		"fldl	%c[x87]+3*8(%[in])\n\t"
		"fldl	%c[x87]+4*8(%[in])\n\t"
		"fldl	%c[x87]+5*8(%[in])\n\t"
		"fldl	%c[x87]+6*8(%[in])\n\t"
		"fldl	%c[x87]+7*8(%[in])\n\t"
		"movdqu	0*16(%[in]), %%xmm0\n\t"
		"movdqu	1*16(%[in]), %%xmm1\n\t"
		"movdqu	2*16(%[in]), %%xmm2\n\t"
		"movdqu	3*16(%[in]), %%xmm3\n\t"
		"movdqu	4*16(%[in]), %%xmm4\n\t"
		"movdqu	5*16(%[in]), %%xmm5\n\t"
		"movdqu	6*16(%[in]), %%xmm6\n\t"
		"movdqu	7*16(%[in]), %%xmm7\n\t"
		"movdqu	8*16(%[in]), %%xmm8\n\t"
		"movdqu	9*16(%[in]), %%xmm9\n\t"
		"movdqu	10*16(%[in]), %%xmm10\n\t"
		"movdqu	11*16(%[in]), %%xmm11\n\t"
		"movdqu	12*16(%[in]), %%xmm12\n\t"
		"movdqu	13*16(%[in]), %%xmm13\n\t"
		"movdqu	14*16(%[in]), %%xmm14\n\t"
		"movdqu	15*16(%[in]), %%xmm15\n\t"
		ZDTM_ASM_FUTEX_WAIT_LOOP
		"movdqu	%%xmm0, 0*16(%[out])\n\t"
		"movdqu	%%xmm1, 1*16(%[out])\n\t"
		"movdqu	%%xmm2, 2*16(%[out])\n\t"
		"movdqu	%%xmm3, 3*16(%[out])\n\t"
		"movdqu	%%xmm4, 4*16(%[out])\n\t"
		"movdqu	%%xmm5, 5*16(%[out])\n\t"
		"movdqu	%%xmm6, 6*16(%[out])\n\t"
		"movdqu	%%xmm7, 7*16(%[out])\n\t"
		"movdqu	%%xmm8, 8*16(%[out])\n\t"
		"movdqu	%%xmm9, 9*16(%[out])\n\t"
		"movdqu	%%xmm10, 10*16(%[out])\n\t"
		"movdqu	%%xmm11, 11*16(%[out])\n\t"
		"movdqu	%%xmm12, 12*16(%[out])\n\t"
		"movdqu	%%xmm13, 13*16(%[out])\n\t"
		"movdqu	%%xmm14, 14*16(%[out])\n\t"
		"movdqu	%%xmm15, 15*16(%[out])\n\t"
		"fstpl	%c[x87]+7*8(%[out])\n\t"
		"fstpl	%c[x87]+6*8(%[out])\n\t"
		"fstpl	%c[x87]+5*8(%[out])\n\t"
		"fstpl	%c[x87]+4*8(%[out])\n\t"
		"fstpl	%c[x87]+3*8(%[out])\n\t"
		"fstpl	%c[x87]+2*8(%[out])\n\t"
		"fstpl	%c[x87]+1*8(%[out])\n\t"
		"fstpl	%c[x87]+0*8(%[out])\n\t"
		"stmxcsr %c[mxcsr](%[out])\n\t"
		"fnstcw	%c[fcw](%[out])\n\t"
		:
		: [in] "r" (in), [out] "r" (out), [stop] "r" (stop),
		  [nr_futex] "i" (SYS_futex),
		  [op] "i" (FUTEX_WAIT | FUTEX_PRIVATE_FLAG),
		  [x87] "i" (offsetof(struct fpu_state, x87)),
		  [mxcsr] "i" (offsetof(struct fpu_state, mxcsr)),
		  [fcw] "i" (offsetof(struct fpu_state, fcw))
		: "rax", "rdi", "rsi", "rdx", "r10", "rcx", "r11", "memory",
		  "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
		  "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
		  "xmm14", "xmm15", "st", "st(1)", "st(2)", "st(3)", "st(4)",
		  "st(5)", "st(6)", "st(7)");
}

int main(int argc, char **argv)
{
	struct fpu_state in, out;
	int i, j;

	test_init(argc, argv);

	for (i = 0; i < NXMM; i++)
		for (j = 0; j < 16; j++)
			in.xmm[i][j] = (uint8_t)(i * 16 + j + 0x21);
	for (i = 0; i < NX87; i++)
		in.x87[i] = 1.0 / (i + 3) + i * 1000.25;
	/* Round toward zero, flush to zero, all exceptions masked. */
	in.mxcsr = 0x1f80 | 0x6000 | 0x8000;
	/* Extended precision, round up, all exceptions masked. */
	in.fcw = 0x037f | 0x0800;
	memset(&out, 0, sizeof(out));

	test_daemon();
	wait_with_registers_live(&in, &out, test_stop_word());

	for (i = 0; i < NXMM; i++)
		if (memcmp(in.xmm[i], out.xmm[i], 16)) {
			fail("xmm%d changed", i);
			return 1;
		}
	for (i = 0; i < NX87; i++)
		if (in.x87[i] != out.x87[i]) {
			fail("x87 st(%d) is %g, expected %g", NX87 - 1 - i,
			     out.x87[i], in.x87[i]);
			return 1;
		}
	if (in.mxcsr != (out.mxcsr & ~0x3fU)) {
		fail("mxcsr is %#x, expected %#x", out.mxcsr, in.mxcsr);
		return 1;
	}
	if (in.fcw != out.fcw) {
		fail("x87 control word is %#x, expected %#x", out.fcw, in.fcw);
		return 1;
	}
	pass();
	return 0;
}
