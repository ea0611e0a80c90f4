/* bpf_conformance test vectors (.data files): parse and run.
 * Used by `bpfvm conformance`, the conformance test and the kernel
 * cross-check.  Format: ../shared/conformance/tests/ORIGIN.md.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_CONFORMANCE_H
#define BPFVM_CONFORMANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bpfvm.h"

struct bpfvm_conf_test {
	char name[256];           /* file name without directory and ".data" */
	struct bpfvm_insn *insns; /* "-- raw" if present, else the assembled
				     "-- asm" section (malloc'ed) */
	size_t n;
	uint8_t *mem;             /* "-- mem" bytes (malloc'ed), NULL if none */
	size_t mem_len;
	uint64_t result;          /* "-- result" */
	bool has_result;
	bool expect_error;        /* "-- error" section present */
};

/* Parse and assemble one .data file.  0, or a negative errno with a
 * message in err (a malformed file, an assembler error). */
int bpfvm_conf_parse(const char *path, struct bpfvm_conf_test *t, char *err,
		     size_t errlen);
void bpfvm_conf_free(struct bpfvm_conf_test *t);

/* How to run a test in bpfvm. */
struct bpfvm_conf_opts {
	bool checked;    /* checked mode */
	int dispatch;    /* -1 default, else enum bpfvm_dispatch (vm_internal.h) */
};

/* Run t on a fresh VM in raw mode and judge it: returns 1 pass, 0 fail,
 * with a one-line explanation in detail ("got 0x1, expected 0x2",
 * "load failed: ..."). */
int bpfvm_conf_run(const struct bpfvm_conf_test *t,
		   const struct bpfvm_conf_opts *opts, char *detail,
		   size_t detaillen);

#endif
