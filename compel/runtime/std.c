// SPDX-License-Identifier: GPL-2.0
/*
 * Memory/string helpers and printf-to-fd for blobs.  gcc may emit calls to
 * memcpy/memset itself, so these names are the standard ones.
 */
#include <compel/std.h>
#include <compel/sys.h>

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d < s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	const char *p = s;

	while (*p)
		p++;
	return p - s;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

char *strncpy_pad(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && src[i]; i++)
		dst[i] = src[i];
	for (; i < n; i++)
		dst[i] = '\0';
	return dst;
}

/* A sink that formats into a buffer and flushes to fd when full. */
struct out {
	char *buf;
	size_t size, len, total;
	int fd;		/* -1: buffer only (snprintf) */
	int err;
};

static void out_flush(struct out *o)
{
	size_t off = 0;
	long ret;

	if (o->fd < 0)
		return;
	while (off < o->len) {
		ret = sys_write(o->fd, o->buf + off, o->len - off);
		if (ret <= 0) {
			o->err = ret ? (int)ret : -5;
			break;
		}
		off += ret;
	}
	o->len = 0;
}

static void out_char(struct out *o, char c)
{
	o->total++;
	if (o->fd < 0) {
		if (o->len + 1 < o->size)
			o->buf[o->len++] = c;
		return;
	}
	if (o->len == o->size)
		out_flush(o);
	o->buf[o->len++] = c;
}

static void out_number(struct out *o, unsigned long long v, unsigned base,
		       int negative, int width, char pad)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (negative)
		digits[n++] = '-';
	while (width-- > n)
		out_char(o, pad);
	while (n)
		out_char(o, digits[--n]);
}

static void out_format(struct out *o, const char *fmt, va_list args)
{
	for (; *fmt; fmt++) {
		int longs = 0, width = 0;
		char pad = ' ';
		unsigned long long u;
		long long s;
		const char *str;

		if (*fmt != '%') {
			out_char(o, *fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l')
			longs++, fmt++;
		switch (*fmt) {
		case 'd':
		case 'i':
			s = longs ? va_arg(args, long long) : va_arg(args, int);
			out_number(o, s < 0 ? -(unsigned long long)s : s, 10,
				   s < 0, width, pad);
			break;
		case 'u':
		case 'x':
			u = longs ? va_arg(args, unsigned long long) :
				    va_arg(args, unsigned int);
			out_number(o, u, *fmt == 'u' ? 10 : 16, 0, width, pad);
			break;
		case 'p':
			out_char(o, '0');
			out_char(o, 'x');
			out_number(o, (unsigned long)va_arg(args, void *), 16, 0,
				   width, pad);
			break;
		case 's':
			str = va_arg(args, const char *);
			for (str = str ? str : "(null)"; *str; str++)
				out_char(o, *str);
			break;
		case 'c':
			out_char(o, (char)va_arg(args, int));
			break;
		case '%':
			out_char(o, '%');
			break;
		case '\0':
			return;
		default:
			out_char(o, '%');
			out_char(o, *fmt);
		}
	}
}

int std_vdprintf(int fd, const char *fmt, va_list args)
{
	char buf[256];
	struct out o = { .buf = buf, .size = sizeof(buf), .fd = fd };

	out_format(&o, fmt, args);
	out_flush(&o);
	return o.err ? o.err : (int)o.total;
}

int std_dprintf(int fd, const char *fmt, ...)
{
	va_list args;
	int ret;

	va_start(args, fmt);
	ret = std_vdprintf(fd, fmt, args);
	va_end(args);
	return ret;
}

int std_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	struct out o = { .buf = buf, .size = size, .fd = -1 };
	va_list args;

	va_start(args, fmt);
	out_format(&o, fmt, args);
	va_end(args);
	if (size)
		buf[o.len] = '\0';
	return (int)o.total;
}
