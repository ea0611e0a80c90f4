/* Maps for the bench programs, until libbpfvm has its own: maps of the map
 * layer (maps/map.h) behind helpers #1 map_lookup_elem and #2
 * map_update_elem, and an ld_imm64 hook that turns "map fd" N into the
 * address of the bench's map N.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_BENCH_MAPS_H
#define BPFVM_BENCH_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include "bpfvm.h"

#define BENCH_MAPS_MAX 8

struct bench_maps;

struct bench_maps *bench_maps_new(void);
void bench_maps_free(struct bench_maps *bm);

/* Create map number bm's count (0, 1, ...) from a .meta "map" line's
 * fields: type "hash" or "array".  0, or a negative errno with err set. */
int bench_maps_add(struct bench_maps *bm, const char *type, uint32_t key_size,
		   uint32_t value_size, uint32_t max_entries, char *err,
		   size_t errlen);

/* Mark the ld_imm64 at insns[at] as loading map `idx` (a .meta "reloc"
 * line), for bench_maps_attach's hook.  -EINVAL if it is no ld_imm64. */
int bench_maps_reloc(struct bpfvm_insn *insns, size_t n, size_t at,
		     uint32_t idx);

/* Give vm the hook and the two helpers; before bpfvm_load. */
int bench_maps_attach(struct bench_maps *bm, struct bpfvm *vm);

#endif
