/* bpfvm verify: load a program through bpfvm_bpf(BPF_PROG_LOAD), as the
 * kernel's bpf(2) would, and print the verifier's log.  The loading part
 * (type names, --map files, a log buffer that grows) is shared with the
 * typed `bpfvm run`.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_bpf.h"
#include "cli.h"
#include "mapfile.h"
#include "../verifier/prog_types.h"

static int verify_main(int argc, char **argv);

const struct cli_cmd cli_cmd_verify = {
	"verify", "verify a program as the kernel would and print the log",
	"Usage: bpfvm verify [OPTIONS] PROG\n"
	"Load PROG (raw bytecode or assembly text) through bpfvm_bpf's\n"
	"BPF_PROG_LOAD, which runs the verifier, and print the verifier's log\n"
	"(the kernel's format: at level 1 the error, or `processed N insns\n"
	"...` for an accepted program; at level 2 also a state line per\n"
	"instruction).\n\n"
	"  --type T         program type, as libbpf names it: socket_filter\n"
	"                   (the default, as in the kernel's test_verifier),\n"
	"                   sched_cls, sched_act, xdp, cgroup_skb, kprobe,\n"
	"                   tracepoint, raw_tracepoint, perf_event, ... (an\n"
	"                   unknown name lists them)\n"
	"  --log-level N    1 (default), 2 (every instruction's state), 4\n"
	"                   (statistics) or a sum of them\n"
	"  --map FILE       a map saved by `bpfvm map` (repeatable); the\n"
	"                   program names the i-th (from 0) with ld_imm64\n"
	"                   src_reg 5 imm i (`lddw map_idx %r1, i`), or\n"
	"                   src_reg 6 (map_idx_value): like libbpf, bpfvm\n"
	"                   puts the map's descriptor there (src_reg 1, 2)\n"
	"  -h, --help       this text\n"
	"Exit status 0 when the program is accepted, 1 when it is rejected\n"
	"(the reason on standard error), 2 for a usage error.\n",
	verify_main,
};

/* The program-type table's names (libbpf's), for the types bpfvm models. */
bool cli_prog_type(const struct cli_cmd *cmd, const char *name,
		   uint32_t *type)
{
	const struct bpfvm_prog_type *t = bpfvm_prog_type_by_name(name);
	if (t) {
		*type = t->id;
		return true;
	}
	char known[1024] = "";
	size_t len = 0;
	for (uint32_t id = 1; id < BPFVM_PROG_TYPE_MAX; id++)
		if ((t = bpfvm_prog_type(id)) && len < sizeof(known))
			len += (size_t)snprintf(known + len, sizeof(known) - len,
						"%s%s", len ? " " : "", t->name);
	cli_error(cmd->name, CLI_USAGE, "unknown program type '%s' (known: "
		  "%s)", name, known);
	return false;
}

int cli_add_map(const struct cli_cmd *cmd, struct cli_load *l,
		const char *path)
{
	char err[256] = "";
	int usage = 0;

	if (l->nmaps == CLI_MAX_MAPS)
		return cli_error(cmd->name, CLI_USAGE, "at most %d --map files",
				 CLI_MAX_MAPS);
	struct mapfile *mf = &l->maps[l->nmaps];
	mapfile_init(mf);
	if (mapfile_load(path, 0, mf, err, sizeof(err), &usage))
		return cli_error(cmd->name, usage ? CLI_USAGE : CLI_FAILED,
				 "%s", err);
	l->nmaps++;
	return CLI_OK;
}

/* The kernel refuses log buffers above UINT32_MAX >> 2 bytes. */
#define LOG_MIN (64u << 10)
#define LOG_MAX (UINT32_MAX >> 2)

/* The loader's relocation, as libbpf's: ld_imm64 map_idx i (src_reg 5,
 * 6) becomes the i-th map's descriptor (map_fd 1, map_value 2).  An index
 * out of range stays, for BPF_PROG_LOAD to refuse. */
static void relocate_maps(struct bpfvm_insn *in, size_t n,
			  const struct cli_load *l)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (in[i].code != (BPF_LD | BPF_IMM | BPF_DW))
			continue;
		uint32_t idx = (uint32_t)in[i].imm;
		if ((in[i].src_reg == BPF_PSEUDO_MAP_IDX ||
		     in[i].src_reg == BPF_PSEUDO_MAP_IDX_VALUE) &&
		    idx < (uint32_t)l->nmaps) {
			in[i].src_reg = in[i].src_reg == BPF_PSEUDO_MAP_IDX
						? BPF_PSEUDO_MAP_FD
						: BPF_PSEUDO_MAP_VALUE;
			in[i].imm = l->maps[idx].fd;
		}
		i++; /* the second half */
	}
}

int cli_load(const struct bpfvm_insn *insns, size_t n, struct cli_load *l)
{
	uint32_t size = LOG_MIN;
	int fd = -1;

	struct bpfvm_insn *prog = malloc(n ? n * sizeof(*prog) : 1);
	if (!prog) {
		l->err = ENOMEM;
		return -1;
	}
	memcpy(prog, insns, n * sizeof(*prog));
	relocate_maps(prog, n, l);
	for (;;) {
		char *log = realloc(l->log, size);
		if (!log) {
			l->err = ENOMEM;
			break;
		}
		l->log = log;
		log[0] = '\0';
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.prog_type = l->type;
		a.insns = (uintptr_t)prog;
		a.insn_cnt = (uint32_t)n;
		a.license = (uintptr_t)"GPL";
		a.log_buf = (uintptr_t)log;
		a.log_size = size;
		a.log_level = l->log_level;
		fd = bpfvm_bpf(BPF_PROG_LOAD, &a, sizeof(a));
		if (fd >= 0)
			break;
		l->err = errno;
		/* ENOSPC: the log did not fit; the verdict is unknown */
		if (l->err != ENOSPC || !l->log_level || size > LOG_MAX / 2)
			break;
		size *= 2;
	}
	free(prog);
	return fd;
}

void cli_load_release(struct cli_load *l)
{
	for (int i = 0; i < l->nmaps; i++)
		mapfile_release(&l->maps[i]);
	l->nmaps = 0;
	free(l->log);
	l->log = NULL;
}

/* Print the log as the verifier wrote it, ending in a newline. */
int cli_print_log(const char *log)
{
	size_t len = strlen(log);
	fputs(log, stdout);
	if (len && log[len - 1] != '\n')
		putchar('\n');
	return 0;
}

static int verify_main(int argc, char **argv)
{
	enum { O_TYPE = 256, O_LOG_LEVEL, O_MAP };
	static const struct option longopts[] = {
		{ "type", required_argument, NULL, O_TYPE },
		{ "log-level", required_argument, NULL, O_LOG_LEVEL },
		{ "map", required_argument, NULL, O_MAP },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_load l;
	struct bpfvm_insn *insns = NULL;
	size_t n;
	int c, ret = CLI_OK;

	memset(&l, 0, sizeof(l));
	l.type = BPF_PROG_TYPE_SOCKET_FILTER;
	l.log_level = 1;
	while (!ret && (c = cli_getopt(&cli_cmd_verify, argc, argv, "h",
				       longopts)) != -1) {
		switch (c) {
		case O_TYPE:
			if (!cli_prog_type(&cli_cmd_verify, optarg, &l.type))
				ret = CLI_USAGE;
			break;
		case O_LOG_LEVEL: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			/* the kernel's BPF_LOG_LEVEL1 | LEVEL2 | STATS */
			if (*optarg < '0' || *optarg > '9' || *end || !v ||
			    v > 7)
				ret = cli_error("verify", CLI_USAGE, "bad log "
						"level '%s' (1, 2, 4 or a sum)",
						optarg);
			l.log_level = (uint32_t)v;
			break;
		}
		case O_MAP: ret = cli_add_map(&cli_cmd_verify, &l, optarg); break;
		case 'h': cli_help(&cli_cmd_verify); goto out;
		default: ret = CLI_USAGE; break;
		}
	}
	if (ret)
		goto out;
	if (!cli_operands(&cli_cmd_verify, argc, argv, 1)) {
		ret = CLI_USAGE;
		goto out;
	}
	const char *path = argv[optind];
	ret = cli_read_program(&cli_cmd_verify, path, &insns, &n);
	if (ret)
		goto out;
	int fd = cli_load(insns, n, &l);
	if (l.log)
		cli_print_log(l.log);
	if (fflush(stdout))
		ret = cli_error("verify", CLI_FAILED, "cannot write standard "
				"output");
	else if (fd < 0)
		ret = cli_error("verify", CLI_FAILED, "%s: rejected: %s", path,
				strerror(l.err));
	if (fd >= 0)
		bpfvm_close(fd);
out:
	free(insns);
	cli_load_release(&l);
	return ret;
}
