/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zdtmtst.h - the ZDTM test library.
 *
 * A ZDTM test is a small program that sets up one kind of resource, tells
 * the runner it is ready, waits while the runner checkpoints and restores
 * it, and then checks that the resource came back unchanged:
 *
 *	int main(int argc, char **argv)
 *	{
 *		test_init(argc, argv);	// options, output file, daemonize
 *		... set the resource up ...
 *		test_daemon();		// ready: the runner may dump now
 *		test_waitsig();		// the runner's SIGTERM after restore
 *		... check it ...
 *		pass();			// or fail("what differs")
 *		return 0;
 *	}
 *
 * The runner reads the verdict from the last line of the output file:
 * "PASS", "FAIL: ..." or "SKIP: ...".
 */
#ifndef ZDTM_ZDTMTST_H
#define ZDTM_ZDTMTST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Command line options declared by a test with TEST_OPTION(). */
enum test_opt_type {
	TEST_OPT_STRING,	/* char *		*/
	TEST_OPT_INT,		/* int			*/
	TEST_OPT_UINT,		/* unsigned int		*/
	TEST_OPT_LONG,		/* long			*/
	TEST_OPT_BOOL,		/* bool, no value	*/
};

struct test_option {
	const char *name;
	enum test_opt_type type;
	void *value;
	const char *doc;
	bool required;
	bool seen;
};

void test_register_option(struct test_option *opt);

#define TEST_OPT_TYPE_string	TEST_OPT_STRING
#define TEST_OPT_TYPE_int	TEST_OPT_INT
#define TEST_OPT_TYPE_uint	TEST_OPT_UINT
#define TEST_OPT_TYPE_long	TEST_OPT_LONG
#define TEST_OPT_TYPE_bool	TEST_OPT_BOOL

/*
 * TEST_OPTION(var, type, "doc", required) makes --var=VALUE (or --var VALUE)
 * set the test's global variable var; type is string, int, uint, long or
 * bool.  A missing required option is a usage error.
 */
#define TEST_OPTION(var, opt_type, doc_text, is_required)			\
	static struct test_option __test_opt_##var = {			\
		.name = #var,						\
		.type = TEST_OPT_TYPE_##opt_type,				\
		.value = &(var),					\
		.doc = (doc_text),					\
		.required = (is_required),				\
	};								\
	static void __attribute__((constructor))			\
	__test_opt_register_##var(void)					\
	{								\
		test_register_option(&__test_opt_##var);		\
	}

/* Parse options, open the output file, drop to the test uid, daemonize. */
void test_init(int argc, char **argv);
/* Tell the runner the test is ready to be checkpointed. */
void test_daemon(void);
/* Sleep until the runner's SIGTERM arrives. */
void test_waitsig(void);
/* True until the runner's SIGTERM arrived: for tests that loop. */
bool test_go(void);
/*
 * The word the SIGTERM handler sets to 1: for tests that must wait with
 * registers live (in assembly) and so cannot call test_waitsig().
 */
volatile int *test_stop_word(void);

/* The program name the test was started as (argv[0]'s base name). */
extern const char *test_name;

/* A line in the output file, prefixed with the time and pid. */
void test_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define pass()	test_msg("PASS\n")

#define fail(fmt, ...)							\
	test_msg("FAIL: %s:%d: " fmt " (errno = %d (%s))\n",		\
		 __FILE__, __LINE__, ##__VA_ARGS__, errno, strerror(errno))

#define skip(fmt, ...)	test_msg("SKIP: " fmt "\n", ##__VA_ARGS__)

#define pr_err(fmt, ...)						\
	test_msg("ERR: %s:%d: " fmt, __FILE__, __LINE__, ##__VA_ARGS__)

#define pr_perror(fmt, ...)						\
	test_msg("ERR: %s:%d: " fmt " (errno = %d (%s))\n",		\
		 __FILE__, __LINE__, ##__VA_ARGS__, errno, strerror(errno))

/* One line of /proc/self/maps. */
struct test_vma {
	unsigned long start, end, pgoff;
	char perms[5];
	char path[256];
};

/* The mapping that holds addr, from /proc/self/maps; -1 if none. */
int test_find_vma(unsigned long addr, struct test_vma *vma);

/* Sum of a memory area, for before/after comparisons of contents. */
unsigned long long test_checksum(const void *buf, size_t len);

#endif /* ZDTM_ZDTMTST_H */
