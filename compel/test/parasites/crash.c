// SPDX-License-Identifier: GPL-2.0
/* A parasite that crashes on demand: cure must still leave no trace. */
#include <compel/parasite.h>

int parasite_command(unsigned int cmd, void *args, size_t size,
		     const struct compel_fds *in, struct compel_fds *out)
{
	switch (cmd) {
	case COMPEL_USER_CMD_BASE:
		*(volatile int *)0 = 1;	/* SIGSEGV inside the victim */
		return 0;
	case COMPEL_USER_CMD_BASE + 1:
		return 42;
	}
	return -38;
}
