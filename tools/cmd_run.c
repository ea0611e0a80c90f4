/* bpfvm run: run a program on a memory block, print r0.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_asm.h"
#include "cli.h"
#include "vm_internal.h"

static int run_main(int argc, char **argv);

const struct cli_cmd cli_cmd_run = {
	"run", "run a program and print r0",
	"Usage: bpfvm run [OPTIONS] PROG\n"
	"Run PROG (raw bytecode or assembly text, told apart by content) with\n"
	"r1 = a pointer to a copy of the --mem file's bytes and r2 = their\n"
	"number (no --mem: r1 = 0, r2 = 0), and print r0 in hex (0x2a).\n\n"
	"PROG is not verified, so by default it runs in checked mode: every\n"
	"load and store must hit the stack or the memory block, and the run\n"
	"stops after a budget of instructions (default 100000000).\n\n"
	"  --mem FILE           the memory block (r1, r2)\n"
	"  --trace              print each executed instruction with the\n"
	"                       registers it changed, before r0\n"
	"  --budget N           stop after N executed instructions (0: none)\n"
	"  --unchecked          raw mode: no memory checks and no default\n"
	"                       budget; only for trusted (verified) programs\n"
	"  --engine interp      the execution engine (only the interpreter\n"
	"                       for now)\n"
	"  --dispatch goto|switch  the interpreter's dispatch\n"
	"  -h, --help           this text\n"
	"Exit status 1 if PROG is invalid, rejected at load or fails at run\n"
	"time (the error names the instruction).\n",
	run_main,
};

struct run_opts {
	const char *mem_path;
	bool trace, unchecked, has_budget;
	uint64_t budget;
	int dispatch; /* -1: the build's default */
};

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

#define HELP_DONE (-1) /* parse_options printed --help: exit 0 */

static int parse_options(int argc, char **argv, struct run_opts *o)
{
	enum { O_MEM = 256, O_TRACE, O_BUDGET, O_UNCHECKED, O_ENGINE,
	       O_DISPATCH };
	static const struct option longopts[] = {
		{ "mem", required_argument, NULL, O_MEM },
		{ "trace", no_argument, NULL, O_TRACE },
		{ "budget", required_argument, NULL, O_BUDGET },
		{ "unchecked", no_argument, NULL, O_UNCHECKED },
		{ "engine", required_argument, NULL, O_ENGINE },
		{ "dispatch", required_argument, NULL, O_DISPATCH },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = cli_getopt(&cli_cmd_run, argc, argv, "h", longopts)) != -1) {
		switch (c) {
		case O_MEM: o->mem_path = optarg; break;
		case O_TRACE: o->trace = true; break;
		case O_UNCHECKED: o->unchecked = true; break;
		case O_BUDGET:
			if (!parse_u64(optarg, &o->budget))
				return cli_error("run", CLI_USAGE, "bad budget "
						 "'%s' (a decimal count)", optarg);
			o->has_budget = true;
			break;
		case O_ENGINE:
			/* "jit" is reserved for the JIT, not built yet. */
			if (strcmp(optarg, "interp"))
				return cli_error("run", CLI_USAGE, "unknown engine "
						 "'%s' (available: interp)", optarg);
			break;
		case O_DISPATCH:
			if (!cli_parse_dispatch(optarg, &o->dispatch))
				return cli_error("run", CLI_USAGE, "unknown dispatch "
						 "'%s' (goto or switch)", optarg);
			break;
		case 'h': cli_help(&cli_cmd_run); return HELP_DONE;
		default: return CLI_USAGE;
		}
	}
	if (!cli_operands(&cli_cmd_run, argc, argv, 1))
		return CLI_USAGE;
	return CLI_OK;
}

/* Load, run, report. */
static int execute(const char *path, struct bpfvm *vm,
		   const struct bpfvm_insn *insns, size_t n,
		   const struct run_opts *o, uint8_t *mem, size_t mem_len)
{
	struct cli_trace trace = { NULL, 0, stdout };
	struct bpfvm_result res = { 0 };
	int ret;

	bpfvm_set_checked(vm, !o->unchecked);
	if (o->has_budget)
		bpfvm_set_budget(vm, o->budget);
	if (o->dispatch >= 0)
		bpfvm_set_dispatch(vm, (enum bpfvm_dispatch)o->dispatch);
	if (o->trace)
		bpfvm_set_trace(vm, cli_trace, &trace);
	ret = bpfvm_load(vm, insns, n);
	if (ret)
		return cli_error("run", CLI_FAILED, "%s: %s", path,
				 bpfvm_error(vm)[0] ? bpfvm_error(vm)
						    : strerror(-ret));
	/* The trace sees the VM's copy of the program. */
	trace.insns = bpfvm_insns(vm);
	trace.n = bpfvm_insn_count(vm);
	ret = bpfvm_run_mem(vm, mem, mem_len, &res);
	if (ret || res.error) {
		fflush(stdout); /* the trace up to the failure comes first */
		return cli_error("run", CLI_FAILED, "%s: %s", path,
				 res.msg[0] ? res.msg
					    : strerror(-(res.error ? res.error : ret)));
	}
	printf("0x%" PRIx64 "\n", res.r0);
	if (fflush(stdout))
		return cli_error("run", CLI_FAILED, "cannot write standard output");
	return CLI_OK;
}

static int run_main(int argc, char **argv)
{
	struct run_opts o = { .dispatch = -1 };
	struct bpfvm_insn *insns = NULL;
	uint8_t *mem = NULL;
	size_t n, mem_len = 0;
	struct bpfvm *vm;
	int ret;

	ret = parse_options(argc, argv, &o);
	if (ret)
		return ret == HELP_DONE ? CLI_OK : ret;
	const char *path = argv[optind];
	/* Check both files open before reporting on either's content. */
	if (!cli_can_open(&cli_cmd_run, path))
		return CLI_USAGE;
	if (o.mem_path && !(mem = cli_read_file(&cli_cmd_run, o.mem_path,
						&mem_len)))
		return CLI_USAGE;
	ret = cli_read_program(&cli_cmd_run, path, &insns, &n);
	if (ret)
		goto out;
	vm = bpfvm_create();
	if (!vm) {
		ret = cli_error("run", CLI_FAILED, "out of memory");
		goto out;
	}
	ret = execute(path, vm, insns, n, &o, mem_len ? mem : NULL, mem_len);
	bpfvm_destroy(vm);
out:
	free(insns);
	free(mem);
	return ret;
}
