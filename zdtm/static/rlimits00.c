// SPDX-License-Identifier: GPL-2.0
/*
 * rlimits00 - resource limits come back as they were.  The test lowers a
 * few soft and hard limits (which needs no privilege) so that they differ
 * from those a fresh task inherits, then compares every limit.
 */
#include <sys/resource.h>

#include "zdtmtst.h"

static const char *const names[RLIM_NLIMITS] = {
	"CPU", "FSIZE", "DATA", "STACK", "CORE", "RSS", "NPROC", "NOFILE",
	"MEMLOCK", "AS", "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO",
	"RTTIME",
};

static int lower(int res, rlim_t soft, rlim_t hard)
{
	struct rlimit r;

	if (getrlimit(res, &r))
		return -1;
	if (hard < r.rlim_max || r.rlim_max == RLIM_INFINITY)
		r.rlim_max = hard;
	r.rlim_cur = soft < r.rlim_max ? soft : r.rlim_max;
	return setrlimit(res, &r);
}

int main(int argc, char **argv)
{
	struct rlimit before[RLIM_NLIMITS], now;
	struct rlimit nofile;
	int res;

	test_init(argc, argv);

	getrlimit(RLIMIT_NOFILE, &nofile);
	if (lower(RLIMIT_CORE, 0, 10 << 20) ||
	    lower(RLIMIT_FSIZE, 1ULL << 30, 1ULL << 40) ||
	    lower(RLIMIT_NOFILE, 200, nofile.rlim_max) ||
	    lower(RLIMIT_CPU, 3600, 7200) ||
	    lower(RLIMIT_MSGQUEUE, 8192, 16384) ||
	    lower(RLIMIT_LOCKS, 1000, 2000)) {
		pr_perror("can't lower the limits");
		return 1;
	}
	for (res = 0; res < RLIM_NLIMITS; res++)
		if (getrlimit(res, &before[res])) {
			pr_perror("getrlimit(%d)", res);
			return 1;
		}

	test_daemon();
	test_waitsig();

	for (res = 0; res < RLIM_NLIMITS; res++) {
		if (getrlimit(res, &now)) {
			fail("getrlimit(%s)", names[res]);
			return 1;
		}
		if (now.rlim_cur != before[res].rlim_cur ||
		    now.rlim_max != before[res].rlim_max) {
			fail("RLIMIT_%s is %llu/%llu, expected %llu/%llu",
			     names[res], (unsigned long long)now.rlim_cur,
			     (unsigned long long)now.rlim_max,
			     (unsigned long long)before[res].rlim_cur,
			     (unsigned long long)before[res].rlim_max);
			return 1;
		}
	}
	pass();
	return 0;
}
