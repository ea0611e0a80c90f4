/* bpfvm disasm: a program in the kernel verifier log's syntax, or its
 * control-flow graph in DOT.
 * SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include "bpfvm_asm.h"
#include "cli.h"

static int disasm_main(int argc, char **argv);

const struct cli_cmd cli_cmd_disasm = {
	"disasm", "print a program in the kernel verifier log's syntax",
	"Usage: bpfvm disasm [--visual] PROG\n"
	"Print PROG (raw bytecode or assembly text) one instruction a line as\n"
	"the kernel's verifier log does: \"0: (b7) r0 = 1\".\n\n"
	"  --visual    write the control-flow graph as a DOT digraph instead,\n"
	"              one node per basic block, as `bpftool prog dump xlated\n"
	"              visual` does (render with `dot -Tsvg`)\n"
	"  -h, --help  this text\n"
	"Exit status 1 if PROG holds an invalid instruction (still printed).\n",
	disasm_main,
};

static int disasm_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "visual", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct bpfvm_insn *insns;
	bool visual = false;
	size_t n;
	int c, ret;

	while ((c = cli_getopt(&cli_cmd_disasm, argc, argv, "h", longopts)) != -1) {
		switch (c) {
		case 'V': visual = true; break;
		case 'h': return cli_help(&cli_cmd_disasm);
		default: return CLI_USAGE;
		}
	}
	if (!cli_operands(&cli_cmd_disasm, argc, argv, 1))
		return CLI_USAGE;
	const char *path = argv[optind];
	ret = cli_read_program(&cli_cmd_disasm, path, &insns, &n);
	if (ret)
		return ret;
	ret = visual ? bpfvm_disasm_dot(insns, n, stdout)
		     : bpfvm_disasm(insns, n, stdout);
	free(insns);
	if (fflush(stdout))
		return cli_error("disasm", CLI_FAILED, "cannot write standard "
				 "output");
	if (ret)
		return cli_error("disasm", CLI_FAILED, "%s: invalid program",
				 path);
	return CLI_OK;
}
