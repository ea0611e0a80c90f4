/* The batch commands: dispatch, and the kernel's generic walks that arrays
 * use for lookup and every hash map for update and delete (hash.c has its
 * own bucket-wise lookup).  Each mirrors the kernel's loop, so the count
 * and the errno at a partial stop are the kernel's.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "map.h"

#define BATCH(OP)							\
	int bpfvm_map_##OP(struct bpfvm_map *map, struct bpfvm_batch *b) \
	{								\
		if (!map->ops->OP)					\
			return -BPFVM_ENOTSUPP;				\
		return map->ops->OP(map, b);				\
	}

BATCH(lookup_batch)
BATCH(lookup_and_delete_batch)
BATCH(update_batch)
BATCH(delete_batch)

/* elem_flags may only be BPF_F_LOCK, which needs a spin lock */
static int elem_flags_ok(const struct bpfvm_map *map, uint64_t f)
{
	return !(f & ~(uint64_t)BPF_F_LOCK) && bpfvm_lock_flag_ok(map, f);
}

int bpfvm_generic_lookup_batch(struct bpfvm_map *map, struct bpfvm_batch *b)
{
	if (!elem_flags_ok(map, b->elem_flags))
		return -EINVAL;
	uint32_t max = b->count, cp = 0;
	if (!max)
		return 0;
	b->count = 0;
	size_t ks = map->key_size, vs = bpfvm_map_value_size(map);
	uint8_t *bufs = malloc(2 * ks + vs);
	if (!bufs)
		return -ENOMEM;
	/* prev and key swap roles as the walk goes on */
	uint8_t *prev = NULL, *spare = bufs, *key = bufs + ks, *value = bufs + 2 * ks;
	if (b->in_batch) {
		memcpy(spare, b->in_batch, ks);
		prev = spare;
	}
	int err = 0;
	while (cp < max) {
		err = map->ops->get_next_key(map, prev, key);
		if (err)
			break;
		err = bpfvm_map_lookup_elem(map, key, value, b->elem_flags);
		if (err && err != -ENOENT)
			goto out; /* the count stays 0, as the kernel's */
		if (!err) {
			memcpy((uint8_t *)b->keys + (size_t)cp * ks, key, ks);
			memcpy((uint8_t *)b->values + (size_t)cp * vs, value, vs);
			cp++;
		}
		if (!prev)
			prev = spare;
		uint8_t *t = prev;
		prev = key;
		key = t;
	}
	b->count = cp;
	if (cp)
		memcpy(b->out_batch, prev, ks);
out:
	free(bufs);
	return err;
}

int bpfvm_generic_update_batch(struct bpfvm_map *map, struct bpfvm_batch *b)
{
	if (!elem_flags_ok(map, b->elem_flags))
		return -EINVAL;
	uint32_t max = b->count, cp;
	if (!max)
		return 0;
	size_t ks = map->key_size, vs = bpfvm_map_value_size(map);
	int err = 0;
	for (cp = 0; cp < max; cp++) {
		err = bpfvm_map_update_elem(map, (uint8_t *)b->keys + cp * ks,
					    (uint8_t *)b->values + cp * vs,
					    b->elem_flags);
		if (err)
			break;
	}
	b->count = cp;
	return err;
}

int bpfvm_generic_delete_batch(struct bpfvm_map *map, struct bpfvm_batch *b)
{
	if (!elem_flags_ok(map, b->elem_flags))
		return -EINVAL;
	uint32_t max = b->count, cp;
	if (!max)
		return 0;
	size_t ks = map->key_size;
	int err = 0;
	for (cp = 0; cp < max; cp++) {
		err = map->ops->delete(map, (uint8_t *)b->keys + cp * ks);
		if (err)
			break;
	}
	b->count = cp;
	return err;
}
