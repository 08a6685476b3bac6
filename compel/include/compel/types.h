/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Freestanding basic types for blobs (only the compiler's own headers).
 */
#ifndef COMPEL_TYPES_H
#define COMPEL_TYPES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifndef NULL
#define NULL ((void *)0)
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((a) - 1))

/* Entry points the host looks up by name must survive -fvisibility=hidden. */
#define COMPEL_EXPORT __attribute__((visibility("default"), used))

#endif
