/* bpfvm conformance: run a folder of bpf_conformance .data files.
 * SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "conformance.h"

static int conformance_main(int argc, char **argv);

const struct cli_cmd cli_cmd_conformance = {
	"conformance", "run bpf_conformance test vectors",
	"Usage: bpfvm conformance [--checked] [--dispatch goto|switch] DIR\n"
	"Run every DIR/*.data bpf_conformance test (or the one file DIR), in\n"
	"name order, each on a fresh VM in raw mode, and print one line per\n"
	"test, \"PASS name\" or \"FAIL name: why\", then \"N passed, M failed\".\n\n"
	"  --checked               run in checked mode\n"
	"  --dispatch goto|switch  the interpreter's dispatch\n"
	"  -h, --help              this text\n"
	"Exit status 0 iff no test failed.\n",
	conformance_main,
};

static int is_data(const struct dirent *d)
{
	size_t len = strlen(d->d_name);
	return len > 5 && !strcmp(d->d_name + len - 5, ".data");
}

/* Byte order, whatever the locale: the order of kernel-6.18.txt. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* One test: print its line, return 1 if it passed. */
static int run_one(const char *path, const struct bpfvm_conf_opts *opts)
{
	struct bpfvm_conf_test t;
	char err[512], detail[512];
	int pass;

	if (bpfvm_conf_parse(path, &t, err, sizeof(err))) {
		printf("FAIL %s: %s\n", t.name, err);
		return 0;
	}
	pass = bpfvm_conf_run(&t, opts, detail, sizeof(detail));
	printf("%s %s%s%s\n", pass ? "PASS" : "FAIL", t.name,
	       detail[0] ? ": " : "", detail);
	bpfvm_conf_free(&t);
	return pass;
}

static int run_dir(const char *dir, const struct bpfvm_conf_opts *opts)
{
	struct dirent **names;
	int count = scandir(dir, &names, is_data, by_name);
	unsigned passed = 0, failed = 0;

	if (count < 0)
		return cli_error("conformance", CLI_USAGE, "cannot open %s: %s",
				 dir, strerror(errno));
	if (count == 0) {
		free(names);
		return cli_error("conformance", CLI_USAGE, "no .data files in %s",
				 dir);
	}
	for (int i = 0; i < count; i++) {
		size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
		char *path = malloc(len);
		if (path) {
			snprintf(path, len, "%s/%s", dir, names[i]->d_name);
			if (run_one(path, opts))
				passed++;
			else
				failed++;
		} else {
			printf("FAIL %s: out of memory\n", names[i]->d_name);
			failed++;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? CLI_FAILED : CLI_OK;
}

static int conformance_main(int argc, char **argv)
{
	enum { O_CHECKED = 256, O_DISPATCH };
	static const struct option longopts[] = {
		{ "checked", no_argument, NULL, O_CHECKED },
		{ "dispatch", required_argument, NULL, O_DISPATCH },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct bpfvm_conf_opts opts = { .checked = false, .dispatch = -1 };
	struct stat st;
	int c, ret;

	while ((c = cli_getopt(&cli_cmd_conformance, argc, argv, "h",
			       longopts)) != -1) {
		switch (c) {
		case O_CHECKED: opts.checked = true; break;
		case O_DISPATCH:
			if (!cli_parse_dispatch(optarg, &opts.dispatch))
				return cli_error("conformance", CLI_USAGE,
						 "unknown dispatch '%s' (goto or "
						 "switch)", optarg);
			break;
		case 'h': return cli_help(&cli_cmd_conformance);
		default: return CLI_USAGE;
		}
	}
	if (!cli_operands(&cli_cmd_conformance, argc, argv, 1))
		return CLI_USAGE;
	const char *path = argv[optind];
	if (stat(path, &st) < 0)
		return cli_error("conformance", CLI_USAGE, "cannot open %s: %s",
				 path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return run_dir(path, &opts);
	if (!cli_can_open(&cli_cmd_conformance, path))
		return CLI_USAGE;
	ret = run_one(path, &opts);
	printf("%d passed, %d failed\n", ret, !ret);
	return ret ? CLI_OK : CLI_FAILED;
}
