// SPDX-License-Identifier: GPL-2.0
/*
 * memfd01 - memfd seals come back, and what they forbid stays forbidden.
 *
 * Four memfds, each with CONTENTS:
 *  - "sealed": F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
 *  - "unsealable": made without MFD_ALLOW_SEALING (reports F_SEAL_SEAL);
 *  - "grow": F_SEAL_GROW alone, more seals may still be added;
 *  - "noexec": MFD_NOEXEC_SEAL (F_SEAL_EXEC, mode 0666; Linux 6.3+,
 *    left out where the kernel refuses it).
 * After the restore each has its seals (F_GET_SEALS) and contents, and:
 * writes, truncation and growth of "sealed" fail with EPERM; "unsealable"
 * takes no seal; "grow" is written within its size but not past it, and
 * F_SEAL_WRITE can still be added to it; "noexec" has mode 0666 and
 * cannot be made executable.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zdtmtst.h"

#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008
#endif

#define CONTENTS "what a memfd holds stays held"
#define ALL_SEALS (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static int make(const char *name, unsigned int flags, int seals)
{
	int fd = memfd_create(name, flags);

	if (fd < 0)
		return -1;
	if (write(fd, CONTENTS, sizeof(CONTENTS)) != sizeof(CONTENTS) ||
	    (seals && fcntl(fd, F_ADD_SEALS, seals))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int check(int fd, int seals, const char *what)
{
	char buf[sizeof(CONTENTS)];
	int got = fcntl(fd, F_GET_SEALS);

	if (got != seals) {
		fail("%s: seals %#x, they were %#x", what, got, seals);
		return -1;
	}
	if (pread(fd, buf, sizeof(buf), 0) != sizeof(buf) ||
	    memcmp(buf, CONTENTS, sizeof(buf))) {
		fail("%s: contents changed", what);
		return -1;
	}
	return 0;
}

static int refused(int ret, const char *what)
{
	if (ret == 0 || errno != EPERM) {
		fail("%s was not refused with EPERM (%d)", what, ret);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int sealed, unsealable, grow, noexec, noexec_seals = 0;
	struct stat st;

	test_init(argc, argv);
	sealed = make("sealed", MFD_ALLOW_SEALING, ALL_SEALS);
	unsealable = make("unsealable", 0, 0);
	grow = make("grow", MFD_ALLOW_SEALING, F_SEAL_GROW);
	if (sealed < 0 || unsealable < 0 || grow < 0) {
		pr_perror("memfd");
		return 1;
	}
	noexec = make("noexec", MFD_NOEXEC_SEAL, 0);
	if (noexec < 0)
		test_msg("no MFD_NOEXEC_SEAL here\n");
	else
		noexec_seals = fcntl(noexec, F_GET_SEALS);

	test_daemon();
	test_waitsig();

	if (check(sealed, ALL_SEALS, "sealed") ||
	    check(unsealable, F_SEAL_SEAL, "unsealable") ||
	    check(grow, F_SEAL_GROW, "grow"))
		return 1;
	if (refused(pwrite(sealed, "x", 1, 0), "a write to a write-sealed memfd") ||
	    refused(ftruncate(sealed, 1), "shrinking a shrink-sealed memfd") ||
	    refused(ftruncate(sealed, 1 << 20), "growing a grow-sealed memfd") ||
	    refused(fcntl(sealed, F_ADD_SEALS, F_SEAL_FUTURE_WRITE),
		    "a seal on an F_SEAL_SEAL memfd") ||
	    refused(fcntl(unsealable, F_ADD_SEALS, F_SEAL_WRITE),
		    "a seal on a memfd made without MFD_ALLOW_SEALING") ||
	    refused(pwrite(grow, "xy", 2, sizeof(CONTENTS) - 1),
		    "growing a grow-sealed memfd by a write"))
		return 1;
	if (pwrite(grow, "W", 1, 0) != 1) {
		fail("a write within a grow-sealed memfd");
		return 1;
	}
	if (fcntl(grow, F_ADD_SEALS, F_SEAL_WRITE) ||
	    fcntl(grow, F_GET_SEALS) != (F_SEAL_GROW | F_SEAL_WRITE)) {
		fail("F_SEAL_WRITE could not be added to \"grow\"");
		return 1;
	}
	if (noexec >= 0) {
		if (check(noexec, noexec_seals, "noexec"))
			return 1;
		if (fstat(noexec, &st) || (st.st_mode & 07777) != 0666) {
			fail("noexec: mode %o, it was 0666", st.st_mode & 07777);
			return 1;
		}
		if (refused(fchmod(noexec, 0755), "chmod +x of a noexec memfd"))
			return 1;
	}
	pass();
	return 0;
}
