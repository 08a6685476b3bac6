// SPDX-License-Identifier: GPL-2.0
/* maps.c - look a mapping up in /proc/self/maps. */
#include <stdio.h>

#include "zdtmtst.h"

int test_find_vma(unsigned long addr, struct test_vma *vma)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int ret = -1;

	if (!f) {
		pr_perror("can't open /proc/self/maps");
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, pgoff;
		char perms[5], path[256] = "";

		if (sscanf(line, "%lx-%lx %4s %lx %*s %*s %255s",
			   &start, &end, perms, &pgoff, path) < 4)
			continue;
		if (addr < start || addr >= end)
			continue;
		vma->start = start;
		vma->end = end;
		vma->pgoff = pgoff;
		memcpy(vma->perms, perms, sizeof(vma->perms));
		snprintf(vma->path, sizeof(vma->path), "%s", path);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}
