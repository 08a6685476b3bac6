/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Writing a parasite: define parasite_command(); the runtime (linked in by
 * `compel build --parasite`) connects to the host, receives commands with
 * their file descriptors, calls parasite_command() and sends back its
 * return value and any file descriptors it puts in `out`.
 *
 * Arguments and results travel through shared memory: `args` points to the
 * command area, shared with the host (cmd_area_size bytes).
 */
#ifndef COMPEL_PARASITE_H
#define COMPEL_PARASITE_H

#include <compel/types.h>

#define COMPEL_PARASITE_MAGIC	0x50524153u	/* "SARP" */
#define COMPEL_PARASITE_VERSION	1
#define COMPEL_MAX_FDS		16

/* Commands below this are the runtime's own. */
#define COMPEL_CMD_FINI		1
#define COMPEL_CMD_PING		2
#define COMPEL_USER_CMD_BASE	16

/* The start of the shared args area; Python: compel.infect.ParasiteHeader. */
struct compel_parasite_header {
	uint32_t magic;
	uint32_t version;
	int32_t status;			/* 0, or -errno of socket()/connect() */
	uint32_t addr_len;
	uint16_t sun_family;		/* where to connect: the host's socket */
	char sun_path[108];
	uint16_t pad;
	uint64_t cmd_area_offset;	/* from the start of this header */
	uint64_t cmd_area_size;
};

/* One message each way on the control socket. */
struct compel_msg {
	uint32_t cmd;
	int32_t ret;
	uint32_t nr_fds;
	uint32_t pad;
};

struct compel_fds {
	int nr;
	int fds[COMPEL_MAX_FDS];
};

/*
 * Implemented by the parasite.  `in` holds fds sent with the command (the
 * runtime closes them afterwards; dup them to keep one); fds put in `out`
 * are sent to the host, then closed here.  Return >= 0 or -errno.
 */
int parasite_command(unsigned int cmd, void *args, size_t args_size,
		     const struct compel_fds *in, struct compel_fds *out);

/* The size of the command area, for parasites that check their input. */
extern size_t compel_cmd_area_size;

#endif
