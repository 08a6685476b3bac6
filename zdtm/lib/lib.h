/* SPDX-License-Identifier: GPL-2.0 */
/* Internals shared by the library's files; tests include zdtmtst.h only. */
#ifndef ZDTM_LIB_H
#define ZDTM_LIB_H

/* Where the verdict and messages go, and where the daemon's pid goes. */
extern const char *test_outfile;
extern const char *test_pidfile;

void test_parse_options(int argc, char **argv, const char *default_outfile,
			const char *default_pidfile);

#endif /* ZDTM_LIB_H */
