/* Bench maps on the map layer (see bench_maps.h).
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_maps.h"
#include "map.h"

#define PSEUDO_MAP_FD 1 /* BPF_PSEUDO_MAP_FD */

struct bench_maps {
	struct bpfvm_map *map[BENCH_MAPS_MAX];
	uint32_t count;
};

struct bench_maps *bench_maps_new(void)
{
	return calloc(1, sizeof(struct bench_maps));
}

void bench_maps_free(struct bench_maps *bm)
{
	if (!bm)
		return;
	for (uint32_t i = 0; i < bm->count; i++)
		bpfvm_map_free(bm->map[i]);
	free(bm);
}

int bench_maps_add(struct bench_maps *bm, const char *type, uint32_t key_size,
		   uint32_t value_size, uint32_t max_entries, char *err,
		   size_t errlen)
{
	static const struct {
		const char *name;
		uint32_t type;
	} types[] = { { "hash", BPF_MAP_TYPE_HASH },
		      { "array", BPF_MAP_TYPE_ARRAY } };
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	for (size_t i = 0; i < sizeof types / sizeof *types; i++)
		if (!strcmp(type, types[i].name))
			attr.map_type = types[i].type;
	if (!attr.map_type || bm->count == BENCH_MAPS_MAX) {
		snprintf(err, errlen, "map %u: %s", bm->count,
			 attr.map_type ? "too many maps" : "unknown type");
		return -EINVAL;
	}
	attr.key_size = key_size;
	attr.value_size = value_size;
	attr.max_entries = max_entries;
	int rc = bpfvm_map_create(&attr, &bm->map[bm->count]);
	if (rc) {
		snprintf(err, errlen, "map %u (%s %u %u %u): %s", bm->count,
			 type, key_size, value_size, max_entries,
			 strerror(-rc));
		return rc;
	}
	bm->count++;
	return 0;
}

int bench_maps_reloc(struct bpfvm_insn *insns, size_t n, size_t at,
		     uint32_t idx)
{
	if (at + 1 >= n || insns[at].code != 0x18) /* BPF_LD|BPF_IMM|BPF_DW */
		return -EINVAL;
	insns[at].src_reg = PSEUDO_MAP_FD;
	insns[at].imm = (int32_t)idx;
	insns[at + 1].imm = 0;
	return 0;
}

static int resolve(void *cookie, unsigned src, int32_t imm, int32_t imm2,
		   uint64_t *value, char *err, size_t errlen)
{
	const struct bench_maps *bm = cookie;
	if (src != PSEUDO_MAP_FD || imm2 || (uint32_t)imm >= bm->count) {
		snprintf(err, errlen, "no bench map %d (src %u)", imm, src);
		return -EINVAL;
	}
	*value = (uint64_t)(uintptr_t)bm->map[imm];
	return 0;
}

/* r1 must be one of our maps: anything else stops the run. */
static struct bpfvm_map *map_arg(struct bpfvm_call *call, uint64_t r1)
{
	const struct bench_maps *bm = bpfvm_call_cookie(call);
	for (uint32_t i = 0; i < bm->count; i++)
		if ((uintptr_t)bm->map[i] == r1)
			return bm->map[i];
	bpfvm_call_abort(call, "r1 is not a map");
	return NULL;
}

static uint64_t map_lookup(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			   uint64_t r5, struct bpfvm_call *call)
{
	struct bpfvm_map *m = map_arg(call, r1);
	(void)r3, (void)r4, (void)r5;
	return m ? (uint64_t)(uintptr_t)bpfvm_map_lookup_prog(
			   m, (const void *)(uintptr_t)r2, 0)
		 : 0;
}

static uint64_t map_update(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			   uint64_t r5, struct bpfvm_call *call)
{
	struct bpfvm_map *m = map_arg(call, r1);
	(void)r5;
	return m ? (uint64_t)bpfvm_map_update_prog(
			   m, (const void *)(uintptr_t)r2,
			   (const void *)(uintptr_t)r3, r4, 0)
		 : 0;
}

int bench_maps_attach(struct bench_maps *bm, struct bpfvm *vm)
{
	bpfvm_set_ldimm64_hook(vm, resolve, bm);
	int rc = bpfvm_register_helper(vm, 1, map_lookup, bm);
	return rc ? rc : bpfvm_register_helper(vm, 2, map_update, bm);
}
