/* Seeded random programs in the style of the kernel's verifier self-tests,
 * for the differential verifier test (test_verifier_fuzz.c): snippets of
 * register setup, ALU, stack, map lookup, ctx, packet, jumps, loops,
 * helper calls and pointer arithmetic, each mostly valid and sometimes
 * deliberately wrong, so that about half the programs are accepted.
 * SPDX-License-Identifier: MIT */
#ifndef VFUZZ_GEN_H
#define VFUZZ_GEN_H

#include <stddef.h>
#include <stdint.h>
#include "bpfvm.h"

#define VFUZZ_MAX_INSNS 256

/* The maps the programs name (descriptors valid on both sides). */
struct vfuzz_maps {
	int array_fd; /* ARRAY, key 4, value VFUZZ_ARRAY_VALUE, 4 entries */
	int hash_fd;  /* HASH, key 8, value VFUZZ_HASH_VALUE, 8 entries */
};
#define VFUZZ_ARRAY_VALUE 48
#define VFUZZ_HASH_VALUE 16

struct vfuzz_prog {
	uint32_t prog_type; /* SOCKET_FILTER, SCHED_CLS or XDP */
	size_t n;
	struct bpfvm_insn insns[VFUZZ_MAX_INSNS];
};

/* xorshift64*: the generator's only state is the caller's seed word. */
uint64_t vfuzz_rand(uint64_t *s);

/* One program from *seed (advanced). */
void vfuzz_gen(uint64_t *seed, const struct vfuzz_maps *maps,
	       struct vfuzz_prog *p);

/* Remove insn i (two slots for an ld_imm64), fixing jump offsets so that
 * every jump keeps its target (one aimed at i lands on what follows). */
void vfuzz_remove(struct vfuzz_prog *p, size_t i);

#endif
