// SPDX-License-Identifier: GPL-2.0
/*
 * fpu01 - AVX state holds its values across a checkpoint: the upper halves
 * of ymm0-15 live in their own XSAVE component, which a dump that saves
 * only the legacy FXSAVE area loses.  Where the CPU has AVX-512, the test
 * loads all of zmm0-31 and the opmask registers k1-k7 instead, which
 * covers the AVX, ZMM_Hi256, Hi16_ZMM and opmask components.
 *
 * As in fpu00, the registers are loaded in assembly and stay live across
 * the wait (a futex system call in the same block) for the runner's SIGTERM.
 */
#include <stdint.h>
#include <sys/syscall.h>
#include <linux/futex.h>

#include "zdtmtst.h"
#include "fpu.h"

struct avx_state {
	uint8_t ymm[16][32];
} __attribute__((aligned(64)));

struct avx512_state {
	uint8_t zmm[32][64];
	uint16_t k[7];
} __attribute__((aligned(64)));

static void avx_wait(const struct avx_state *in, struct avx_state *out,
		     volatile int *stop)
{
	asm volatile(
		"vmovdqu	0*32(%[in]), %%ymm0\n\t"
		"vmovdqu	1*32(%[in]), %%ymm1\n\t"
		"vmovdqu	2*32(%[in]), %%ymm2\n\t"
		"vmovdqu	3*32(%[in]), %%ymm3\n\t"
		"vmovdqu	4*32(%[in]), %%ymm4\n\t"
		"vmovdqu	5*32(%[in]), %%ymm5\n\t"
		"vmovdqu	6*32(%[in]), %%ymm6\n\t"
		"vmovdqu	7*32(%[in]), %%ymm7\n\t"
		"vmovdqu	8*32(%[in]), %%ymm8\n\t"
		"vmovdqu	9*32(%[in]), %%ymm9\n\t"
		"vmovdqu	10*32(%[in]), %%ymm10\n\t"
		"vmovdqu	11*32(%[in]), %%ymm11\n\t"
		"vmovdqu	12*32(%[in]), %%ymm12\n\t"
		"vmovdqu	13*32(%[in]), %%ymm13\n\t"
		"vmovdqu	14*32(%[in]), %%ymm14\n\t"
		"vmovdqu	15*32(%[in]), %%ymm15\n\t"
		ZDTM_ASM_FUTEX_WAIT_LOOP
		"vmovdqu	%%ymm0, 0*32(%[out])\n\t"
		"vmovdqu	%%ymm1, 1*32(%[out])\n\t"
		"vmovdqu	%%ymm2, 2*32(%[out])\n\t"
		"vmovdqu	%%ymm3, 3*32(%[out])\n\t"
		"vmovdqu	%%ymm4, 4*32(%[out])\n\t"
		"vmovdqu	%%ymm5, 5*32(%[out])\n\t"
		"vmovdqu	%%ymm6, 6*32(%[out])\n\t"
		"vmovdqu	%%ymm7, 7*32(%[out])\n\t"
		"vmovdqu	%%ymm8, 8*32(%[out])\n\t"
		"vmovdqu	%%ymm9, 9*32(%[out])\n\t"
		"vmovdqu	%%ymm10, 10*32(%[out])\n\t"
		"vmovdqu	%%ymm11, 11*32(%[out])\n\t"
		"vmovdqu	%%ymm12, 12*32(%[out])\n\t"
		"vmovdqu	%%ymm13, 13*32(%[out])\n\t"
		"vmovdqu	%%ymm14, 14*32(%[out])\n\t"
		"vmovdqu	%%ymm15, 15*32(%[out])\n\t"
		"vzeroupper\n\t"
		:
		: [in] "r" (in), [out] "r" (out), [stop] "r" (stop),
		  [nr_futex] "i" (SYS_futex),
		  [op] "i" (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
		: "rax", "rdi", "rsi", "rdx", "r10", "rcx", "r11", "memory",
		  "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* The target attribute lets the asm name zmm16-31 and k1-7 as clobbered. */
static void __attribute__((target("avx512f"))) avx512_wait(const struct avx512_state *in,
						       struct avx512_state *out,
						       volatile int *stop)
{
	asm volatile(
		"vmovdqu64	0*64(%[in]), %%zmm0\n\t"
		"vmovdqu64	1*64(%[in]), %%zmm1\n\t"
		"vmovdqu64	2*64(%[in]), %%zmm2\n\t"
		"vmovdqu64	3*64(%[in]), %%zmm3\n\t"
		"vmovdqu64	4*64(%[in]), %%zmm4\n\t"
		"vmovdqu64	5*64(%[in]), %%zmm5\n\t"
		"vmovdqu64	6*64(%[in]), %%zmm6\n\t"
		"vmovdqu64	7*64(%[in]), %%zmm7\n\t"
		"vmovdqu64	8*64(%[in]), %%zmm8\n\t"
		"vmovdqu64	9*64(%[in]), %%zmm9\n\t"
		"vmovdqu64	10*64(%[in]), %%zmm10\n\t"
		"vmovdqu64	11*64(%[in]), %%zmm11\n\t"
		"vmovdqu64	12*64(%[in]), %%zmm12\n\t"
		"vmovdqu64	13*64(%[in]), %%zmm13\n\t"
		"vmovdqu64	14*64(%[in]), %%zmm14\n\t"
		"vmovdqu64	15*64(%[in]), %%zmm15\n\t"
		"vmovdqu64	16*64(%[in]), %%zmm16\n\t"
		"vmovdqu64	17*64(%[in]), %%zmm17\n\t"
		"vmovdqu64	18*64(%[in]), %%zmm18\n\t"
		"vmovdqu64	19*64(%[in]), %%zmm19\n\t"
		"vmovdqu64	20*64(%[in]), %%zmm20\n\t"
		"vmovdqu64	21*64(%[in]), %%zmm21\n\t"
		"vmovdqu64	22*64(%[in]), %%zmm22\n\t"
		"vmovdqu64	23*64(%[in]), %%zmm23\n\t"
		"vmovdqu64	24*64(%[in]), %%zmm24\n\t"
		"vmovdqu64	25*64(%[in]), %%zmm25\n\t"
		"vmovdqu64	26*64(%[in]), %%zmm26\n\t"
		"vmovdqu64	27*64(%[in]), %%zmm27\n\t"
		"vmovdqu64	28*64(%[in]), %%zmm28\n\t"
		"vmovdqu64	29*64(%[in]), %%zmm29\n\t"
		"vmovdqu64	30*64(%[in]), %%zmm30\n\t"
		"vmovdqu64	31*64(%[in]), %%zmm31\n\t"
		"kmovw	0+%c[koff](%[in]), %%k1\n\t"
		"kmovw	2+%c[koff](%[in]), %%k2\n\t"
		"kmovw	4+%c[koff](%[in]), %%k3\n\t"
		"kmovw	6+%c[koff](%[in]), %%k4\n\t"
		"kmovw	8+%c[koff](%[in]), %%k5\n\t"
		"kmovw	10+%c[koff](%[in]), %%k6\n\t"
		"kmovw	12+%c[koff](%[in]), %%k7\n\t"
		ZDTM_ASM_FUTEX_WAIT_LOOP
		"vmovdqu64	%%zmm0, 0*64(%[out])\n\t"
		"vmovdqu64	%%zmm1, 1*64(%[out])\n\t"
		"vmovdqu64	%%zmm2, 2*64(%[out])\n\t"
		"vmovdqu64	%%zmm3, 3*64(%[out])\n\t"
		"vmovdqu64	%%zmm4, 4*64(%[out])\n\t"
		"vmovdqu64	%%zmm5, 5*64(%[out])\n\t"
		"vmovdqu64	%%zmm6, 6*64(%[out])\n\t"
		"vmovdqu64	%%zmm7, 7*64(%[out])\n\t"
		"vmovdqu64	%%zmm8, 8*64(%[out])\n\t"
		"vmovdqu64	%%zmm9, 9*64(%[out])\n\t"
		"vmovdqu64	%%zmm10, 10*64(%[out])\n\t"
		"vmovdqu64	%%zmm11, 11*64(%[out])\n\t"
		"vmovdqu64	%%zmm12, 12*64(%[out])\n\t"
		"vmovdqu64	%%zmm13, 13*64(%[out])\n\t"
		"vmovdqu64	%%zmm14, 14*64(%[out])\n\t"
		"vmovdqu64	%%zmm15, 15*64(%[out])\n\t"
		"vmovdqu64	%%zmm16, 16*64(%[out])\n\t"
		"vmovdqu64	%%zmm17, 17*64(%[out])\n\t"
		"vmovdqu64	%%zmm18, 18*64(%[out])\n\t"
		"vmovdqu64	%%zmm19, 19*64(%[out])\n\t"
		"vmovdqu64	%%zmm20, 20*64(%[out])\n\t"
		"vmovdqu64	%%zmm21, 21*64(%[out])\n\t"
		"vmovdqu64	%%zmm22, 22*64(%[out])\n\t"
		"vmovdqu64	%%zmm23, 23*64(%[out])\n\t"
		"vmovdqu64	%%zmm24, 24*64(%[out])\n\t"
		"vmovdqu64	%%zmm25, 25*64(%[out])\n\t"
		"vmovdqu64	%%zmm26, 26*64(%[out])\n\t"
		"vmovdqu64	%%zmm27, 27*64(%[out])\n\t"
		"vmovdqu64	%%zmm28, 28*64(%[out])\n\t"
		"vmovdqu64	%%zmm29, 29*64(%[out])\n\t"
		"vmovdqu64	%%zmm30, 30*64(%[out])\n\t"
		"vmovdqu64	%%zmm31, 31*64(%[out])\n\t"
		"kmovw	%%k1, 0+%c[koff](%[out])\n\t"
		"kmovw	%%k2, 2+%c[koff](%[out])\n\t"
		"kmovw	%%k3, 4+%c[koff](%[out])\n\t"
		"kmovw	%%k4, 6+%c[koff](%[out])\n\t"
		"kmovw	%%k5, 8+%c[koff](%[out])\n\t"
		"kmovw	%%k6, 10+%c[koff](%[out])\n\t"
		"kmovw	%%k7, 12+%c[koff](%[out])\n\t"
		"vzeroupper\n\t"
		:
		: [in] "r" (in), [out] "r" (out), [stop] "r" (stop),
		  [nr_futex] "i" (SYS_futex),
		  [op] "i" (FUTEX_WAIT | FUTEX_PRIVATE_FLAG),
		  [koff] "i" (offsetof(struct avx512_state, k))
		: "rax", "rdi", "rsi", "rdx", "r10", "rcx", "r11", "memory",
		  "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
		  "k1", "k2", "k3", "k4", "k5", "k6", "k7");
}

static int check_avx(void)
{
	struct avx_state in, out;
	int i, j;

	for (i = 0; i < 16; i++)
		for (j = 0; j < 32; j++)
			in.ymm[i][j] = (uint8_t)(i * 32 + j * 5 + 0x11);
	memset(&out, 0, sizeof(out));

	test_daemon();
	avx_wait(&in, &out, test_stop_word());

	for (i = 0; i < 16; i++)
		if (memcmp(in.ymm[i], out.ymm[i], 32)) {
			fail("ymm%d changed%s", i,
			     memcmp(in.ymm[i], out.ymm[i], 16) ? "" :
			     " (upper 128 bits)");
			return 1;
		}
	return 0;
}

static int check_avx512(void)
{
	struct avx512_state in, out;
	int i, j;

	for (i = 0; i < 32; i++)
		for (j = 0; j < 64; j++)
			in.zmm[i][j] = (uint8_t)(i * 64 + j * 3 + 0x42);
	for (i = 0; i < 7; i++)
		in.k[i] = (uint16_t)(0x1234 * (i + 1) + i);
	memset(&out, 0, sizeof(out));

	test_daemon();
	avx512_wait(&in, &out, test_stop_word());

	for (i = 0; i < 32; i++)
		if (memcmp(in.zmm[i], out.zmm[i], 64)) {
			fail("zmm%d changed", i);
			return 1;
		}
	for (i = 0; i < 7; i++)
		if (in.k[i] != out.k[i]) {
			fail("k%d is %#x, expected %#x", i + 1, out.k[i],
			     in.k[i]);
			return 1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	test_init(argc, argv);
	__builtin_cpu_init();

	if (__builtin_cpu_supports("avx512f")) {
		test_msg("checking zmm0-31 and k1-7 (AVX-512)\n");
		ret = check_avx512();
	} else if (__builtin_cpu_supports("avx")) {
		test_msg("checking ymm0-15 (AVX)\n");
		ret = check_avx();
	} else {
		test_daemon();
		test_waitsig();
		skip("the CPU has no AVX");
		return 0;
	}
	if (!ret)
		pass();
	return ret;
}
