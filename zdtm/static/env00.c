// SPDX-License-Identifier: GPL-2.0
/* env00 - an environment variable keeps its value across a checkpoint. */
#include <stdlib.h>

#include "zdtmtst.h"

static char *envname = "ZDTM_ENV00";
TEST_OPTION(envname, string, "name of the variable to set", 0);

int main(int argc, char **argv)
{
	static const char value[] = "env00: a value that must survive";
	const char *got;

	test_init(argc, argv);

	if (setenv(envname, value, 1)) {
		pr_perror("can't set %s", envname);
		return 1;
	}

	test_daemon();
	test_waitsig();

	got = getenv(envname);
	if (!got) {
		fail("%s is gone", envname);
		return 1;
	}
	if (strcmp(got, value)) {
		fail("%s is \"%s\", expected \"%s\"", envname, got, value);
		return 1;
	}
	pass();
	return 0;
}
