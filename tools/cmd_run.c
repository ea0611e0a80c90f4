/* bpfvm run: run a program on a memory block, print r0.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_asm.h"
#include "bpfvm_bpf.h"
#include "cli.h"
#include "vm_internal.h"

static int run_main(int argc, char **argv);

const struct cli_cmd cli_cmd_run = {
	"run", "run a program and print r0",
	"Usage: bpfvm run [OPTIONS] PROG\n"
	"       bpfvm run --type T [--data PACKET] [--repeat N] [--map FILE]\n"
	"                 PROG\n"
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
	"  -h, --help           this text\n\n"
	"Typed run (--type xdp, socket_filter, sched_cls, ...): as the kernel\n"
	"would, load PROG through bpfvm_bpf(BPF_PROG_LOAD), which verifies it\n"
	"(a rejection prints the verifier's log on standard error), then\n"
	"BPF_PROG_TEST_RUN it with data_in = the PACKET file's bytes, and\n"
	"print:\n"
	"  retval: 0x2            the program's return value (u32, hex)\n"
	"  data_out: 14 bytes     only when the packet changed (bytes or\n"
	"  0000: 00 11 ...        length): 16 bytes a line after the offset\n"
	"  duration: 25 ns        only with --repeat: mean ns per run\n"
	"  --data PACKET        the packet (data_in)\n"
	"  --repeat N           run N times (the kernel's repeat)\n"
	"  --map FILE           a map saved by `bpfvm map`, the i-th named by\n"
	"                       `lddw map_idx %r1, i` (see bpfvm verify)\n"
	"Exit status 1 if PROG is invalid, rejected at load or fails at run\n"
	"time (the error names the instruction).\n",
	run_main,
};

struct run_opts {
	const char *mem_path;
	const char *type_name, *data_path; /* typed run */
	bool has_repeat;
	uint32_t repeat;
	const char *maps[CLI_MAX_MAPS];
	int nmaps;
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
	       O_DISPATCH, O_TYPE, O_DATA, O_REPEAT, O_MAP };
	static const struct option longopts[] = {
		{ "mem", required_argument, NULL, O_MEM },
		{ "trace", no_argument, NULL, O_TRACE },
		{ "budget", required_argument, NULL, O_BUDGET },
		{ "unchecked", no_argument, NULL, O_UNCHECKED },
		{ "engine", required_argument, NULL, O_ENGINE },
		{ "dispatch", required_argument, NULL, O_DISPATCH },
		{ "type", required_argument, NULL, O_TYPE },
		{ "data", required_argument, NULL, O_DATA },
		{ "repeat", required_argument, NULL, O_REPEAT },
		{ "map", required_argument, NULL, O_MAP },
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
		case O_TYPE: o->type_name = optarg; break;
		case O_DATA: o->data_path = optarg; break;
		case O_REPEAT: {
			uint64_t v;
			if (!parse_u64(optarg, &v) || v > UINT32_MAX)
				return cli_error("run", CLI_USAGE, "bad repeat "
						 "'%s' (a decimal count)", optarg);
			o->repeat = (uint32_t)v;
			o->has_repeat = true;
			break;
		}
		case O_MAP:
			if (o->nmaps == CLI_MAX_MAPS)
				return cli_error("run", CLI_USAGE, "at most %d "
						 "--map files", CLI_MAX_MAPS);
			o->maps[o->nmaps++] = optarg;
			break;
		case 'h': cli_help(&cli_cmd_run); return HELP_DONE;
		default: return CLI_USAGE;
		}
	}
	if (!cli_operands(&cli_cmd_run, argc, argv, 1))
		return CLI_USAGE;
	/* The two modes' options do not mix: bpf(2) has no trace, budget
	 * or raw memory block; the raw run has no packet. */
	bool typed = o->type_name != NULL;
	if (typed && (o->mem_path || o->trace || o->unchecked ||
		      o->has_budget || o->dispatch >= 0))
		return cli_error("run", CLI_USAGE, "--type runs through "
				 "bpf(2): no --mem, --trace, --budget, "
				 "--unchecked or --dispatch");
	if (!typed && (o->data_path || o->has_repeat || o->nmaps))
		return cli_error("run", CLI_USAGE, "--data, --repeat and "
				 "--map need --type");
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

#define ENOTSUPP 524 /* the kernel's "no test run for this type" */

/* "0000: 00 11 22 ...", 16 bytes a line. */
static void hex_dump(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (i % 16 == 0)
			printf("%04zx:", i);
		printf(" %02x", p[i]);
		if (i % 16 == 15 || i + 1 == len)
			putchar('\n');
	}
}

/* BPF_PROG_TEST_RUN on a copy of the packet; data_out grows to what the
 * kernel says it needs (ENOSPC tells the size). */
static int test_run(int fd, const uint8_t *data, size_t len,
		    uint32_t repeat, union bpf_attr *a, uint8_t **out)
{
	uint32_t room = (uint32_t)len + 256;
	for (int tries = 0; tries < 3; tries++) {
		uint8_t *p = realloc(*out, room ? room : 1);
		if (!p)
			return -ENOMEM;
		*out = p;
		memset(a, 0, sizeof(*a));
		a->test.prog_fd = (uint32_t)fd;
		a->test.data_in = (uintptr_t)data;
		a->test.data_size_in = (uint32_t)len;
		a->test.data_out = (uintptr_t)p;
		a->test.data_size_out = room;
		a->test.repeat = repeat;
		if (!bpfvm_bpf(BPF_PROG_TEST_RUN, a, sizeof(*a)))
			return 0;
		if (errno != ENOSPC || a->test.data_size_out <= room)
			return -errno;
		room = a->test.data_size_out;
	}
	return -ENOSPC;
}

/* The typed run: verify through PROG_LOAD, run through PROG_TEST_RUN. */
static int run_typed(const char *path, const struct bpfvm_insn *insns,
		     size_t n, uint32_t type, const struct run_opts *o,
		     const uint8_t *data, size_t len)
{
	struct cli_load l;
	union bpf_attr a;
	uint8_t *out = NULL;
	int ret = CLI_OK;

	memset(&l, 0, sizeof(l));
	l.type = type;
	l.log_level = 1; /* a rejection says why */
	for (int i = 0; i < o->nmaps && !ret; i++)
		ret = cli_add_map(&cli_cmd_run, &l, o->maps[i]);
	if (ret)
		goto out;
	if (len > UINT32_MAX - 256) {
		ret = cli_error("run", CLI_USAGE, "%s: too big for data_in",
				o->data_path);
		goto out;
	}
	int fd = cli_load(insns, n, &l);
	if (fd < 0) {
		if (l.log && l.log[0]) {
			fflush(stdout);
			fputs(l.log, stderr);
		}
		ret = cli_error("run", CLI_FAILED, "%s: rejected: %s", path,
				strerror(l.err));
		goto out;
	}
	int err = test_run(fd, data, len, o->repeat, &a, &out);
	bpfvm_close(fd);
	if (err) {
		ret = cli_error("run", CLI_FAILED, "%s: test run: %s", path,
				err == -ENOTSUPP ? "Unknown error 524 (ENOTSUPP:"
				" no test run for this program type)"
					    : strerror(-err));
		goto out;
	}
	printf("retval: 0x%" PRIx32 "\n", a.test.retval);
	uint32_t olen = a.test.data_size_out;
	if (olen != len || (len && memcmp(out, data, len))) {
		printf("data_out: %" PRIu32 " bytes\n", olen);
		hex_dump(out, olen);
	}
	if (o->has_repeat)
		printf("duration: %" PRIu32 " ns\n", a.test.duration);
	if (fflush(stdout))
		ret = cli_error("run", CLI_FAILED, "cannot write standard output");
out:
	free(out);
	cli_load_release(&l);
	return ret;
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
	uint32_t type = 0;
	if (o.type_name && !cli_prog_type(&cli_cmd_run, o.type_name, &type))
		return CLI_USAGE;
	if (o.data_path)
		o.mem_path = o.data_path; /* read the same way */
	if (o.mem_path && !(mem = cli_read_file(&cli_cmd_run, o.mem_path,
						&mem_len)))
		return CLI_USAGE;
	ret = cli_read_program(&cli_cmd_run, path, &insns, &n);
	if (ret)
		goto out;
	if (o.type_name) {
		ret = run_typed(path, insns, n, type, &o, mem, mem_len);
		goto out;
	}
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
