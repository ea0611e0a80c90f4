/* Shared plumbing of the `bpfvm` subcommands (see cli.h).
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bpfvm_asm.h"
#include "cli.h"
#include "vm_internal.h"

int cli_error(const char *cmd, int status, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "bpfvm %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int cli_getopt(const struct cli_cmd *cmd, int argc, char **argv,
	       const char *shortopts, const struct option *longopts)
{
	char opts[64];
	int c;

	/* A leading '+' stops at the first operand (no permutation: "run
	 * prog --x" keeps "--x" an error rather than a surprise); ':' makes a
	 * missing argument distinguishable. */
	snprintf(opts, sizeof(opts), "+:%s", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, opts, longopts, NULL);
	if (c == '?') {
		const char *arg = argv[optind - 1];
		bool is_long = !strncmp(arg, "--", 2);
		int namelen = (int)strcspn(arg, "=");
		if (is_long && optopt && arg[namelen])
			cli_error(cmd->name, CLI_USAGE, "option '%.*s' takes no "
				  "argument", namelen, arg);
		else if (is_long)
			cli_error(cmd->name, CLI_USAGE, "unknown option '%.*s' "
				  "(see --help)", namelen, arg);
		else
			cli_error(cmd->name, CLI_USAGE, "unknown option '-%c' "
				  "(see --help)", optopt);
	} else if (c == ':') {
		cli_error(cmd->name, CLI_USAGE, "option '%s' needs an argument",
			  argv[optind - 1]);
		c = '?';
	}
	return c;
}

int cli_help(const struct cli_cmd *cmd)
{
	fputs(cmd->help, stdout);
	return CLI_OK;
}

bool cli_operands(const struct cli_cmd *cmd, int argc, char **argv, int want)
{
	int have = argc - optind;
	if (have < want)
		cli_error(cmd->name, CLI_USAGE, "missing operand (see --help)");
	else if (have > want)
		cli_error(cmd->name, CLI_USAGE, "unexpected operand '%s' "
			  "(see --help)", argv[optind + want]);
	return have == want;
}

bool cli_can_open(const struct cli_cmd *cmd, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		err = errno;
	else if (fstat(fd, &st) < 0)
		err = errno;
	else if (S_ISDIR(st.st_mode))
		err = EISDIR;
	if (fd >= 0)
		close(fd);
	if (err)
		cli_error(cmd->name, CLI_USAGE, "cannot open %s: %s", path,
			  strerror(err));
	return !err;
}

/* Inputs are programs and packets: a bound keeps /dev/zero from eating
 * the memory. */
#define CLI_MAX_FILE (1u << 28)

uint8_t *cli_read_file(const struct cli_cmd *cmd, const char *path,
		       size_t *len)
{
	uint8_t *p = NULL, *q;
	size_t cap = 0, got;
	FILE *f;

	if (!cli_can_open(cmd, path))
		return NULL;
	f = fopen(path, "rb");
	if (!f) {
		cli_error(cmd->name, CLI_USAGE, "cannot open %s: %s", path,
			  strerror(errno));
		return NULL;
	}
	*len = 0;
	do {
		if (*len == cap) {
			if (cap >= CLI_MAX_FILE) {
				cli_error(cmd->name, CLI_USAGE, "%s: larger than "
					  "%u MiB", path, CLI_MAX_FILE >> 20);
				goto fail;
			}
			cap = cap ? 2 * cap : 4096;
			q = realloc(p, cap);
			if (!q) {
				cli_error(cmd->name, CLI_FAILED, "%s: out of memory",
					  path);
				goto fail;
			}
			p = q;
		}
		got = fread(p + *len, 1, cap - *len, f);
		*len += got;
	} while (got > 0);
	if (ferror(f)) {
		cli_error(cmd->name, CLI_USAGE, "cannot read %s: %s", path,
			  strerror(errno));
		goto fail;
	}
	fclose(f);
	return p;
fail:
	fclose(f);
	free(p);
	return NULL;
}

int cli_read_program(const struct cli_cmd *cmd, const char *path,
		     struct bpfvm_insn **insns, size_t *n)
{
	char err[256] = "";
	int ret;

	if (!cli_can_open(cmd, path))
		return CLI_USAGE;
	ret = bpfvm_read_program(path, insns, n, err, sizeof(err));
	if (ret == 0)
		return CLI_OK;
	*insns = NULL;
	/* The file opened: what is left is its content.  The reader names
	 * the file itself. */
	size_t plen = strlen(path);
	if (!strncmp(err, path, plen) && err[plen] == ':')
		return cli_error(cmd->name, CLI_FAILED, "%s", err);
	return cli_error(cmd->name, CLI_FAILED, "%s: %s", path,
			 err[0] ? err : strerror(-ret));
}

bool cli_parse_dispatch(const char *s, int *dispatch)
{
	static const struct { const char *name; int d; } names[] = {
		{ "goto", BPFVM_DISPATCH_GOTO },
		{ "switch", BPFVM_DISPATCH_SWITCH },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name)) {
			*dispatch = names[i].d;
			return true;
		}
	return false;
}
