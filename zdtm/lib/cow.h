/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cow.h - page patterns for the copy-on-write tests (cow00, cow01): every
 * 64-bit word of a page holds a value made of the page's index, the word's
 * index and the "generation" of the last writer, so that a page seen by
 * the wrong task, or one left at an older generation, does not check.
 */
#ifndef ZDTM_COW_H
#define ZDTM_COW_H

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "zdtmtst.h"

#define COW_WORDS(psz) ((psz) / sizeof(uint64_t))

static inline uint64_t cow_word(unsigned long page, unsigned long word,
				unsigned int gen)
{
	return (page * 0x9e3779b97f4a7c15ULL) ^ (word << 20) ^
	       ((uint64_t)gen << 56) ^ 0x0123456789abcdefULL;
}

static inline void cow_fill(uint8_t *base, unsigned long page,
			    unsigned int gen)
{
	size_t psz = getpagesize(), i;
	uint64_t *p = (uint64_t *)(base + page * psz);

	for (i = 0; i < COW_WORDS(psz); i++)
		p[i] = cow_word(page, i, gen);
}

/* 0 if the page holds generation gen, else -1 and why. */
static inline int cow_check(const uint8_t *base, unsigned long page,
			    unsigned int gen, char *why, size_t len)
{
	size_t psz = getpagesize(), i;
	const uint64_t *p = (const uint64_t *)(base + page * psz);

	for (i = 0; i < COW_WORDS(psz); i++)
		if (p[i] != cow_word(page, i, gen)) {
			snprintf(why, len, "page %lu word %zu is %#llx, "
				 "expected %#llx (generation %u)", page, i,
				 (unsigned long long)p[i],
				 (unsigned long long)cow_word(page, i, gen),
				 gen);
			return -1;
		}
	return 0;
}

/*
 * 0 if each of the n pages holds generation gen(page), else -1 with the
 * first difference failed for who.
 */
static inline int cow_check_pages(const uint8_t *base, unsigned long n,
				  unsigned int (*gen)(unsigned long),
				  const char *who)
{
	char why[256];
	unsigned long i;

	for (i = 0; i < n; i++)
		if (cow_check(base, i, gen(i), why, sizeof(why))) {
			fail("%s: %s", who, why);
			return -1;
		}
	return 0;
}

#endif /* ZDTM_COW_H */
