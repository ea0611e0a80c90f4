/* PROG_ARRAY and ARRAY_OF_MAPS: arrays of object pointers (programs, for
 * tail calls; maps, for programs to look into).  The values user space
 * passes are descriptors; the bpf(2) layer resolves them and holds
 * references through bpfvm_fd_array_ops.  A slot is swapped atomically, so
 * a reader gets the old object or the new one.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "map.h"

struct fd_array {
	struct bpfvm_map map;
	const struct bpfvm_fd_array_ops *fops;
	void *ctx;
	void **slots; /* atomic */
	struct bpfvm_map meta; /* ARRAY_OF_MAPS: what a value must match */
};

static int of_maps(const struct bpfvm_map *map)
{
	return map->map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS;
}

static int fd_array(const struct bpfvm_map *map)
{
	return map->map_type == BPF_MAP_TYPE_PROG_ARRAY || of_maps(map);
}

static struct fd_array *fa_of(struct bpfvm_map *map)
{
	return (struct fd_array *)map;
}

static int fa_alloc_check(const union bpf_attr *attr)
{
	if (attr->value_size != 4)
		return -EINVAL; /* a descriptor */
	if (attr->map_flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG))
		return -EINVAL;
	return bpfvm_array_alloc_check(attr);
}

static int fa_alloc(const union bpf_attr *attr, struct bpfvm_map **out)
{
	uint64_t bytes = (uint64_t)attr->max_entries * sizeof(void *);
	if (bpfvm_map_area_too_big(bytes))
		return -ENOMEM;
	struct fd_array *a = calloc(1, sizeof(*a));
	if (!a || !(a->slots = calloc(attr->max_entries, sizeof(void *)))) {
		free(a);
		return -ENOMEM;
	}
	bpfvm_map_init(&a->map, attr);
	*out = &a->map;
	return 0;
}

static void fa_bind(struct bpfvm_map *map, const struct bpfvm_fd_array_ops *ops,
		    void *ctx, const struct bpfvm_map *meta)
{
	fa_of(map)->fops = ops;
	fa_of(map)->ctx = ctx;
	if (meta)
		fa_of(map)->meta = *meta;
}

struct bpfvm_map *bpfvm_map_inner_meta(struct bpfvm_map *outer)
{
	if (outer->map_type == BPF_MAP_TYPE_HASH_OF_MAPS)
		return bpfvm_hash_of_maps_meta(outer);
	return of_maps(outer) ? &fa_of(outer)->meta : NULL;
}

static uint32_t index_of(const void *key)
{
	uint32_t i;
	memcpy(&i, key, sizeof(i));
	return i;
}

static void put(struct fd_array *a, void *obj)
{
	if (obj && a->fops && a->fops->put)
		a->fops->put(a->ctx, obj);
}

void bpfvm_fd_array_clear(struct bpfvm_map *map)
{
	if (!fd_array(map))
		return;
	struct fd_array *a = fa_of(map);
	for (uint32_t i = 0; i < map->max_entries; i++)
		put(a, __atomic_exchange_n(&a->slots[i], NULL, __ATOMIC_ACQ_REL));
}

static void fa_free(struct bpfvm_map *map)
{
	bpfvm_fd_array_clear(map);
	free(fa_of(map)->slots);
	free(map);
}

static void *slot_get(struct bpfvm_map *map, uint32_t index)
{
	if (index >= map->max_entries)
		return NULL;
	return __atomic_load_n(&fa_of(map)->slots[index], __ATOMIC_ACQUIRE);
}

void *bpfvm_prog_array_get(struct bpfvm_map *map, uint32_t index)
{
	return map->map_type == BPF_MAP_TYPE_PROG_ARRAY ? slot_get(map, index)
							: NULL;
}

/* A program gets the inner map itself; a program array it cannot look
 * into (the verifier says so first). */
static void *fa_lookup(struct bpfvm_map *map, const void *key, uint32_t cpu)
{
	(void)cpu;
	return of_maps(map) ? slot_get(map, index_of(key)) : NULL;
}

/* User space gets the object's id. */
static int fa_copy_value(struct bpfvm_map *map, const void *key, void *out,
			 uint64_t flags)
{
	struct fd_array *a = fa_of(map);
	(void)flags;
	void *obj = slot_get(map, index_of(key));
	if (!obj)
		return -ENOENT;
	uint32_t id = a->fops && a->fops->id ? a->fops->id(a->ctx, obj) : 0;
	memcpy(out, &id, sizeof(id));
	return 0;
}

static int fa_update(struct bpfvm_map *map, const void *key,
		     const void *value, uint64_t flags, uint32_t cpu)
{
	struct fd_array *a = fa_of(map);
	uint32_t i = index_of(key);
	int32_t fd;
	(void)cpu;
	if (flags != BPF_ANY)
		return -EINVAL;
	if (i >= map->max_entries)
		return -E2BIG;
	memcpy(&fd, value, sizeof(fd));
	int err = -EBADF;
	void *obj = a->fops && a->fops->get ? a->fops->get(a->ctx, map, fd, &err)
					     : NULL;
	if (!obj)
		return err;
	if (of_maps(map) && !bpfvm_map_meta_equal(&a->meta, obj)) {
		put(a, obj);
		return -EINVAL;
	}
	put(a, __atomic_exchange_n(&a->slots[i], obj, __ATOMIC_ACQ_REL));
	return 0;
}

static int fa_delete(struct bpfvm_map *map, const void *key)
{
	struct fd_array *a = fa_of(map);
	uint32_t i = index_of(key);
	if (i >= map->max_entries)
		return -E2BIG;
	void *old = __atomic_exchange_n(&a->slots[i], NULL, __ATOMIC_ACQ_REL);
	if (!old)
		return -ENOENT;
	put(a, old);
	return 0;
}

/* Both fd arrays: slots of references, bound to the map's owner. */
#define FD_ARRAY_OPS \
	.alloc_check = fa_alloc_check, \
	.alloc = fa_alloc, \
	.free = fa_free, \
	.lookup = fa_lookup, \
	.copy_value = fa_copy_value, \
	.update = fa_update, \
	.delete = fa_delete, \
	.get_next_key = bpfvm_array_get_next_key, \
	.bind = fa_bind

const struct bpfvm_map_ops bpfvm_prog_array_ops = {
	FD_ARRAY_OPS,
	/* no batch commands, as the kernel's */
};

const struct bpfvm_map_ops bpfvm_array_of_maps_ops = {
	FD_ARRAY_OPS,
	/* the kernel's: generic lookup and update batches only */
	.lookup_batch = bpfvm_generic_lookup_batch,
	.update_batch = bpfvm_generic_update_batch,
};
