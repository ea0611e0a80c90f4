/* bpf(2) on the running kernel, for differential tests.  Owned by the
 * kernel cross-check work; the API below is agreed with its users.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_KERNEL_UTIL_H
#define BPFVM_KERNEL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bpfvm.h"

/* Can this process use bpf(2) (map create + prog load)?  If not, false and
 * a one-line reason in why (for the test's skip message). */
bool bpfk_available(char *why, size_t len);

/* Program types, so callers need not include <linux/bpf.h> (whose
 * BPF_* macros would meet vm/insn.h's). */
#define BPFK_PROG_TYPE_SOCKET_FILTER 1
#define BPFK_PROG_TYPE_XDP 6

/* BPF_PROG_LOAD of `type` (BPF_PROG_TYPE_*), license "GPL", with a verifier
 * log at log_level into log (may be NULL).  Returns the fd, or -errno. */
int bpfk_prog_load(int type, const struct bpfvm_insn *insns, size_t n,
		   int log_level, char *log, size_t loglen);

/* Run `insns` on the kernel the bpf_conformance way: as a subprogram of an
 * XDP program whose wrapper stores the full 64-bit r0 in a one-entry array
 * map; with mem, r1/r2 = packet data and its length.  0 and *r0, or -errno
 * with the verifier log in log (may be NULL). */
int bpfk_run_r0(const struct bpfvm_insn *insns, size_t n, const void *mem,
		size_t mem_len, uint64_t *r0, char *log, size_t loglen);

/* The program bpfk_run_r0 loads, for a loader other than the kernel's:
 * the wrapper storing r0 at map_fd's value (a one-entry array map of one
 * u64), with mem_len the packet prolog (r1 = data, r2 = mem_len), then
 * insns.  out has room for n + BPFK_WRAP_MAX; returns its length. */
#define BPFK_WRAP_MAX 14
size_t bpfk_wrap(const struct bpfvm_insn *insns, size_t n, size_t mem_len,
		 int map_fd, struct bpfvm_insn *out);

/* bpfk_run_r0, and also the memory as the program left it in mem_out
 * (mem_len bytes, may be NULL). */
int bpfk_run(const struct bpfvm_insn *insns, size_t n, const void *mem,
	     size_t mem_len, void *mem_out, uint64_t *r0, char *log,
	     size_t loglen);

/* bpf(2) on the running kernel and bpfvm_bpf, each as the result or
 * -errno, so one differential sequence runs on either. */
typedef int (*bpfk_fn)(int cmd, void *attr, unsigned size);
int bpfk_kcall(int cmd, void *attr, unsigned size);
int bpfk_vcall(int cmd, void *attr, unsigned size);

/* BTF_LOAD through call (bpf(2) or bpfvm_bpf, returning the fd or -errno)
 * of the selftests' spin-lock BTF: [1] int, [2] struct bpf_spin_lock
 * { int val; }, [3] struct val { int cnt; struct bpf_spin_lock l; }, the
 * value type of their map_spin_lock and sk_storage_map. */
int bpfk_spin_lock_btf(int (*call)(int cmd, void *attr, unsigned size));

#endif
