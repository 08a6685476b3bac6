// SPDX-License-Identifier: GPL-2.0
/*
 * options.c - command line parsing for tests.
 *
 * Every test accepts --pidfile=PATH and --outfile=PATH (set by the runner)
 * and --help; a test adds its own options with TEST_OPTION(), whose
 * constructors register them here before main() runs.
 */
#include <stdio.h>
#include <stdlib.h>

#include "zdtmtst.h"
#include "lib.h"

#define MAX_TEST_OPTIONS 32

const char *test_outfile;
const char *test_pidfile;

static struct test_option *options[MAX_TEST_OPTIONS];
static int nr_options;

void test_register_option(struct test_option *opt)
{
	if (nr_options == MAX_TEST_OPTIONS) {
		fprintf(stderr, "too many test options (max %d)\n",
			MAX_TEST_OPTIONS);
		exit(1);
	}
	options[nr_options++] = opt;
}

static void __attribute__((noreturn)) usage(const char *prog, int status)
{
	FILE *f = status ? stderr : stdout;
	int i;

	fprintf(f, "usage: %s [--pidfile=PATH] [--outfile=PATH]", prog);
	for (i = 0; i < nr_options; i++)
		fprintf(f, " %s--%s%s%s", options[i]->required ? "" : "[",
			options[i]->name,
			options[i]->type == TEST_OPT_BOOL ? "" : "=VALUE",
			options[i]->required ? "" : "]");
	fputc('\n', f);
	for (i = 0; i < nr_options; i++)
		fprintf(f, "  --%-20s %s\n", options[i]->name, options[i]->doc);
	exit(status);
}

static int set_value(struct test_option *opt, const char *value)
{
	char *end;

	switch (opt->type) {
	case TEST_OPT_STRING:
		*(const char **)opt->value = value;
		return 0;
	case TEST_OPT_INT:
		*(int *)opt->value = (int)strtol(value, &end, 0);
		break;
	case TEST_OPT_UINT:
		*(unsigned int *)opt->value = (unsigned int)strtoul(value, &end, 0);
		break;
	case TEST_OPT_LONG:
		*(long *)opt->value = strtol(value, &end, 0);
		break;
	case TEST_OPT_BOOL:
		*(bool *)opt->value = true;
		return 0;
	default:
		return -1;
	}
	return (*value && !*end) ? 0 : -1;
}

/* Split "--name=value" / "--name value"; returns the index of the next arg. */
static int parse_one(int argc, char **argv, int i)
{
	const char *arg = argv[i] + 2, *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	const char *value = eq ? eq + 1 : NULL;
	struct test_option *opt = NULL;
	int k;

	if (len == 7 && !strncmp(arg, "pidfile", 7)) {
		if (!value && i + 1 < argc)
			value = argv[++i];
		if (!value)
			usage(argv[0], 1);
		test_pidfile = value;
		return i + 1;
	}
	if (len == 7 && !strncmp(arg, "outfile", 7)) {
		if (!value && i + 1 < argc)
			value = argv[++i];
		if (!value)
			usage(argv[0], 1);
		test_outfile = value;
		return i + 1;
	}
	if (len == 4 && !strncmp(arg, "help", 4))
		usage(argv[0], 0);

	for (k = 0; k < nr_options; k++)
		if (strlen(options[k]->name) == len &&
		    !strncmp(options[k]->name, arg, len))
			opt = options[k];
	if (!opt) {
		fprintf(stderr, "%s: unknown option --%.*s\n", argv[0],
			(int)len, arg);
		usage(argv[0], 1);
	}
	if (opt->type != TEST_OPT_BOOL && !value) {
		if (i + 1 >= argc) {
			fprintf(stderr, "%s: --%s needs a value\n", argv[0],
				opt->name);
			usage(argv[0], 1);
		}
		value = argv[++i];
	}
	if (set_value(opt, value)) {
		fprintf(stderr, "%s: bad value for --%s: %s\n", argv[0],
			opt->name, value);
		usage(argv[0], 1);
	}
	opt->seen = true;
	return i + 1;
}

void test_parse_options(int argc, char **argv, const char *default_outfile,
			const char *default_pidfile)
{
	int i = 1, k;

	test_outfile = default_outfile;
	test_pidfile = default_pidfile;

	while (i < argc) {
		if (strncmp(argv[i], "--", 2) || !argv[i][2]) {
			fprintf(stderr, "%s: unexpected argument %s\n",
				argv[0], argv[i]);
			usage(argv[0], 1);
		}
		i = parse_one(argc, argv, i);
	}

	for (k = 0; k < nr_options; k++)
		if (options[k]->required && !options[k]->seen) {
			fprintf(stderr, "%s: --%s is required\n", argv[0],
				options[k]->name);
			usage(argv[0], 1);
		}
}
