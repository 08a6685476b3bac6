// SPDX-License-Identifier: GPL-2.0
/* msg.c - messages to the output file, and a checksum helper. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "zdtmtst.h"

void test_msg(const char *fmt, ...)
{
	char buf[4096];
	struct timeval tv;
	struct tm tm;
	int saved_errno = errno;
	va_list args;
	int off;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	off = snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld: %5d: ",
		       tm.tm_hour, tm.tm_min, tm.tm_sec,
		       (long)(tv.tv_usec / 1000), getpid());
	va_start(args, fmt);
	off += vsnprintf(buf + off, sizeof(buf) - off, fmt, args);
	va_end(args);
	if (off >= (int)sizeof(buf)) {
		off = sizeof(buf) - 1;
		buf[off - 1] = '\n';
	}
	/* One write on an O_APPEND file: lines of parent and child never mix. */
	if (write(STDERR_FILENO, buf, off) < 0)
		(void)0;
	errno = saved_errno;
}

unsigned long long test_checksum(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	unsigned long long h = 14695981039346656037ULL;
	size_t i;

	/* FNV-1a: order-sensitive, so swapped pages change the sum. */
	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}
