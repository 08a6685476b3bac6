/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The small C library of blobs: memory and string helpers, and a printf
 * to a file descriptor for logs.  No allocation, no errno, no locale.
 */
#ifndef COMPEL_STD_H
#define COMPEL_STD_H

#include <compel/types.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *s, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
char *strncpy_pad(char *dst, const char *src, size_t n);

/*
 * Formats: %d %i %u %x %p %s %c %% with the l and ll size modifiers, and
 * a field width with optional zero padding (%08lx).  Returns bytes written
 * or a negative errno.
 */
int std_vdprintf(int fd, const char *fmt, va_list args);
int std_dprintf(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Same formats into a buffer; always NUL-terminated; returns the length. */
int std_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
