/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Commands of compel's standard parasite and their result layouts in the
 * command area.  Python side: compel/stdparasite.py (same structs).
 */
#ifndef COMPEL_STD_PARASITE_H
#define COMPEL_STD_PARASITE_H

#include <compel/parasite.h>
#include <compel/uapi.h>

enum {
	STD_CMD_GET_SIGACTIONS = COMPEL_USER_CMD_BASE,	/* k_sigaction[64] */
	STD_CMD_GET_SIGALTSTACK,			/* k_stack */
	STD_CMD_GET_ITIMERS,				/* k_itimerval[3] */
	STD_CMD_DUMP_PAGES,	/* in: std_dump_pages; fd[0]: pipe */
	STD_CMD_GET_CREDS,				/* std_creds */
	STD_CMD_GET_MISC,				/* std_misc */
};

#define STD_NR_SIGNALS	64
#define STD_NR_GROUPS	256
#define STD_NR_RLIMITS	16

/* STD_CMD_DUMP_PAGES: vmsplice these ranges into the pipe fd[0]. */
struct std_dump_pages {
	uint32_t nr_iovs;
	uint32_t pad;
	struct k_iovec iovs[];
};

struct std_creds {
	uint32_t uid, euid, suid, fsuid;
	uint32_t gid, egid, sgid, fsgid;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd;
	uint32_t secbits;
	uint32_t ngroups;
	uint32_t groups[STD_NR_GROUPS];
};

struct std_misc {
	uint32_t umask;
	uint32_t personality;
	int32_t pdeathsig;
	int32_t dumpable;
	int32_t no_new_privs;
	int32_t child_subreaper;
	uint64_t clear_tid_addr;
	struct k_rlimit64 rlimits[STD_NR_RLIMITS];
};

#endif
