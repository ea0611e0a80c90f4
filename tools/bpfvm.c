/* bpfvm: the command-line tool.  One subcommand per tools/cmd_*.c; this
 * file only finds the subcommand and answers --help and --version.
 * SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include "cli.h"

#ifndef BPFVM_VERSION
#define BPFVM_VERSION "unknown"
#endif

static const struct cli_cmd *const commands[] = {
	&cli_cmd_asm, &cli_cmd_disasm, &cli_cmd_run, &cli_cmd_conformance,
	&cli_cmd_map, &cli_cmd_verify,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fputs("Usage: bpfvm COMMAND [OPTIONS] ARGS...\n"
	      "       bpfvm --help | --version\n"
	      "An eBPF virtual machine with the Linux kernel's semantics.\n\n"
	      "Commands:\n", out);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-12s %s\n", commands[i]->name,
			commands[i]->summary);
	fputs("\n'bpfvm COMMAND --help' describes a command.\n"
	      "Exit status: 0 success, 1 failure (invalid program, load or\n"
	      "run-time error, failed test), 2 usage error (bad option or\n"
	      "argument, a file that cannot be opened).\n", out);
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	if (!name) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(name, "--version")) {
		printf("bpfvm %s\n", BPFVM_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i]->name))
			return commands[i]->main(argc - 1, argv + 1);
	fprintf(stderr, "bpfvm: unknown %s '%s' (see bpfvm --help)\n",
		name[0] == '-' ? "option" : "command", name);
	return CLI_USAGE;
}
