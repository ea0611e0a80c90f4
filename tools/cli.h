/* What the `bpfvm` subcommands share: the command table, error reporting
 * with the exit-status convention, and file reading.
 *
 * Exit status: 0 success; 1 the input was read but failed (not a valid
 * program, rejected at load, error at run time, a conformance failure,
 * an output write error); 2 usage error (unknown option, missing or bad
 * argument, a file named on the command line that cannot be opened).
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_CLI_H
#define BPFVM_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "bpfvm.h"
#include "mapfile.h"

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

struct cli_cmd {
	const char *name;
	const char *summary;     /* one line for the top-level help */
	const char *help;        /* the subcommand's --help text */
	int (*main)(int argc, char **argv); /* argv[0] is the command name */
};

extern const struct cli_cmd cli_cmd_asm, cli_cmd_disasm, cli_cmd_run,
	cli_cmd_conformance, cli_cmd_map, cli_cmd_verify;

/* "bpfvm CMD: message" on stderr; return the status given. */
int cli_error(const char *cmd, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* getopt_long with our messages: returns the option, -1 at the end of the
 * options, or '?' after reporting an unknown option or a missing argument
 * (then return CLI_USAGE).  "--help" must be in longopts as 'h'. */
int cli_getopt(const struct cli_cmd *cmd, int argc, char **argv,
	       const char *shortopts, const struct option *longopts);

/* Print the command's help to stdout; returns CLI_OK. */
int cli_help(const struct cli_cmd *cmd);

/* Exactly `want` operands left after the options, or a usage error. */
bool cli_operands(const struct cli_cmd *cmd, int argc, char **argv, int want);

/* Is path an openable regular file?  Else reports "cannot open PATH: why"
 * and returns false (the caller exits CLI_USAGE). */
bool cli_can_open(const struct cli_cmd *cmd, const char *path);

/* Read a whole file (malloc'ed; *len bytes).  NULL after reporting. */
uint8_t *cli_read_file(const struct cli_cmd *cmd, const char *path,
		       size_t *len);

/* Read a program (raw bytecode or assembly text).  Returns CLI_OK, or the
 * exit status after reporting the error. */
int cli_read_program(const struct cli_cmd *cmd, const char *path,
		     struct bpfvm_insn **insns, size_t *n);

/* The --trace printer (bpfvm_trace_fn; cookie: struct cli_trace):
 * "   3: (07) r0 += 1          ; r0: 0x1 -> 0x2". */
struct cli_trace {
	const struct bpfvm_insn *insns; /* the program, to disassemble */
	size_t n;
	FILE *out;
};
void cli_trace(void *cookie, size_t pc, const struct bpfvm_insn *insn,
	       const uint64_t before[11], const uint64_t after[11]);

/* Parse "goto" or "switch" into enum bpfvm_dispatch; false if neither. */
bool cli_parse_dispatch(const char *s, int *dispatch);

/* Loading through bpfvm_bpf(BPF_PROG_LOAD), which verifies (verify and
 * the typed run; defined in cmd_verify.c). */
#define CLI_MAX_MAPS 64
struct cli_load {
	uint32_t type;       /* BPF_PROG_TYPE_* */
	uint32_t log_level;  /* 0: no log */
	struct mapfile maps[CLI_MAX_MAPS]; /* --map files, map_idx 0.. */
	int nmaps;
	char *log;           /* the verifier's log (malloc'ed) */
	int err;             /* errno of a failed load */
};
/* libbpf's type name ("xdp", "socket_filter", ...) to BPF_PROG_TYPE_*;
 * false after reporting an unknown one (then exit CLI_USAGE). */
bool cli_prog_type(const struct cli_cmd *cmd, const char *name,
		   uint32_t *type);
/* Open a `bpfvm map` file as the next map_idx: CLI_OK or status. */
int cli_add_map(const struct cli_cmd *cmd, struct cli_load *l,
		const char *path);
/* BPF_PROG_LOAD of a copy with map_idx relocated to the maps'
 * descriptors (the log grows until it fits): the fd, or -1 and l->err. */
int cli_load(const struct bpfvm_insn *insns, size_t n, struct cli_load *l);
void cli_load_release(struct cli_load *l);
/* The log on stdout, ending in a newline. */
int cli_print_log(const char *log);

#endif
