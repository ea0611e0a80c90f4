/* The static verifier: the kernel's BPF_PROG_LOAD decision in user space.
 *
 * bpfvm_verify() runs the kernel's two passes: check_cfg (the control-flow
 * graph: targets in range, no unreachable insn, loops only where bounded)
 * then do_check (every path simulated with abstract register and stack
 * state, pruned where a state already proven safe covers the current one).
 * It answers as Linux 6.18 does for a privileged (root) loader: the same
 * verdict, errno and log text.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_VERIFIER_H
#define BPFVM_VERIFIER_H

#include <stddef.h>
#include <stdint.h>
#include "bpfvm.h"

struct bpfvm_map;

/* A map descriptor in an ld_imm64 (src 1 or 2) -> the map, or NULL when
 * the fd names no map ("fd %d is not pointing to valid bpf_map"). */
typedef struct bpfvm_map *(*bpfvm_map_by_fd_fn)(void *cookie, int fd);

struct bpfvm_verify_opts {
	uint32_t prog_type;            /* enum bpf_prog_type */
	uint32_t expected_attach_type;
	uint32_t prog_flags;           /* BPF_F_STRICT_ALIGNMENT, ... */
	uint32_t log_level;            /* 0, 1, 2 (| 4: stats only) */
	char *log_buf;                 /* NULL with log_level 0 */
	uint32_t log_size;
	bpfvm_map_by_fd_fn map_by_fd;
	/* a map of maps -> the inner map given at its creation (its meta) */
	struct bpfvm_map *(*inner_map)(void *cookie, struct bpfvm_map *outer);
	void *map_cookie;
	/* NULL, or n bytes the verifier fills for an accepted program: per
	 * insn, the BPFVM_AUX_* flags the fixups after verification need */
	uint8_t *insn_aux;
};
#define BPFVM_AUX_CTX 1  /* a load/store through the context: rewrite it */

struct bpfvm_verify_result {
	int err;                 /* 0, or -EACCES / -EINVAL / -E2BIG / -ENOSPC */
	uint32_t insn_processed;
	uint32_t max_states_per_insn;
	uint32_t total_states;
	uint32_t peak_states;
	uint32_t log_true_size;  /* bytes the whole log needs, with the NUL */
	char last_msg[256];      /* the error line (also with log_level 0) */
};

/* Verify insns[0..n).  Returns res->err. */
int bpfvm_verify(const struct bpfvm_insn *insns, size_t n,
		 const struct bpfvm_verify_opts *opts,
		 struct bpfvm_verify_result *res);

#endif
