/* Map types whose elements are kernel objects bpfvm does not have (sockets,
 * AF_XDP sockets, perf events, stacks, cgroups): SOCKMAP, SOCKHASH, XSKMAP,
 * STACK_TRACE, PERF_EVENT_ARRAY, REUSEPORT_SOCKARRAY, CGROUP_STORAGE,
 * PERCPU_CGROUP_STORAGE and SK_STORAGE.  What is modelled: creation, with Linux 6.18's
 * attribute checks and errnos, so programs using them load and verify.  What
 * is not: the maps stay empty.  From user space each command answers as
 * the kernel answers on an empty map given a descriptor that is not the
 * object it holds (no descriptor in bpfvm is a socket or a perf event):
 * the table below, measured on 6.18.  A program's lookup gets NULL.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "map.h"

#define BASE_FLAGS (BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY)
/* BPF_LOCAL_STORAGE_MAX_VALUE_SIZE: a u16 less struct
 * bpf_local_storage_elem, 128 bytes on x86-64 6.18 (65407, measured) */
#define LOCAL_STORAGE_MAX_VALUE (0xffffu - 128u)
#define PCPU_UNIT 32768u /* PCPU_MIN_UNIT_SIZE */
#define PERF_MAX_STACK 127u /* sysctl kernel.perf_event_max_stack default */
#define BUILD_ID_ELEM 32u /* struct bpf_stack_build_id */

/* kernel/bpf/sock_map.c: sock_map_alloc, sock_hash_alloc */
static int sockmap_check(const union bpf_attr *a)
{
	if (a->max_entries == 0 || a->key_size != 4 ||
	    (a->value_size != 4 && a->value_size != 8) ||
	    (a->map_flags & ~BASE_FLAGS))
		return -EINVAL;
	return 0;
}

static int sockhash_check(const union bpf_attr *a)
{
	if (a->max_entries == 0 || a->key_size == 0 ||
	    (a->value_size != 4 && a->value_size != 8) ||
	    (a->map_flags & ~BASE_FLAGS))
		return -EINVAL;
	if (a->key_size > 512) /* MAX_BPF_STACK */
		return -E2BIG;
	return 0;
}

/* kernel/bpf/xskmap.c: xsk_map_alloc */
static int xskmap_check(const union bpf_attr *a)
{
	if (a->max_entries == 0 || a->key_size != 4 || a->value_size != 4 ||
	    (a->map_flags & ~BASE_FLAGS))
		return -EINVAL;
	return 0;
}

/* kernel/bpf/stackmap.c: stack_map_alloc */
static int stack_trace_check(const union bpf_attr *a)
{
	if (a->map_flags & ~(BASE_FLAGS | BPF_F_STACK_BUILD_ID))
		return -EINVAL;
	if (a->max_entries == 0 || a->key_size != 4 || a->value_size < 8 ||
	    a->value_size % 8)
		return -EINVAL;
	uint32_t elem = (a->map_flags & BPF_F_STACK_BUILD_ID) ? BUILD_ID_ELEM : 8;
	if (a->value_size % elem || a->value_size / elem > PERF_MAX_STACK)
		return -EINVAL;
	return 0;
}

/* kernel/bpf/arraymap.c: fd_array_map_alloc_check then array_map_alloc_check
 * (PRESERVE_ELEMS is this type's own flag) */
static int perf_array_check(const union bpf_attr *a)
{
	if (a->value_size != 4 ||
	    (a->map_flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)))
		return -EINVAL;
	union bpf_attr b = *a;
	b.map_flags &= ~(uint32_t)BPF_F_PRESERVE_ELEMS;
	return bpfvm_array_alloc_check(&b);
}

/* kernel/bpf/reuseport_array.c: reuseport_array_alloc_check */
static int reuseport_check(const union bpf_attr *a)
{
	if (a->value_size != 4 && a->value_size != 8)
		return -EINVAL;
	return bpfvm_array_alloc_check(a);
}

/* kernel/bpf/local_storage.c: cgroup_storage_map_alloc.  The key is
 * struct bpf_cgroup_storage_key (16 bytes with its padding) or a cgroup
 * id (8). */
static int cgroup_storage_check(const union bpf_attr *a)
{
	uint32_t max = a->map_type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
		? PCPU_UNIT : LOCAL_STORAGE_MAX_VALUE;
	if (a->key_size != 16 && a->key_size != 8)
		return -EINVAL;
	if (a->value_size == 0)
		return -EINVAL;
	if (a->value_size > max)
		return -E2BIG;
	if ((a->map_flags & ~(uint32_t)(BPF_F_NUMA_NODE | BPFVM_F_ACCESS_MASK)) ||
	    !bpfvm_map_flags_access_ok(a->map_flags))
		return -EINVAL;
	if (a->max_entries)
		return -EINVAL; /* sized by the cgroups it is attached to */
	return 0;
}

/* kernel/bpf/bpf_local_storage.c: bpf_local_storage_map_alloc_check */
static int sk_storage_check(const union bpf_attr *a)
{
	if ((a->map_flags & ~(uint32_t)(BPF_F_NO_PREALLOC | BPF_F_CLONE)) ||
	    !(a->map_flags & BPF_F_NO_PREALLOC) || a->max_entries ||
	    a->key_size != 4 || !a->value_size ||
	    !a->btf_key_type_id || !a->btf_value_type_id)
		return -EINVAL; /* BTF is required: user space dumps it */
	if (a->value_size > LOCAL_STORAGE_MAX_VALUE)
		return -E2BIG;
	return 0;
}

/* user space on an empty map: -errno of lookup, update, delete */
static const struct { uint8_t lookup, update, delete; } user_err[] = {
	[BPF_MAP_TYPE_SOCKMAP] = { ENOENT, ENOTSOCK, EINVAL },
	[BPF_MAP_TYPE_SOCKHASH] = { ENOENT, ENOTSOCK, EINVAL },
	[BPF_MAP_TYPE_XSKMAP] = { EOPNOTSUPP, ENOTSOCK, EINVAL },
	[BPF_MAP_TYPE_STACK_TRACE] = { ENOENT, EINVAL, EINVAL },
	[BPF_MAP_TYPE_PERF_EVENT_ARRAY] = { 0, EBADF, EINVAL }, /* ENOTSUPP */
	[BPF_MAP_TYPE_REUSEPORT_SOCKARRAY] = { ENOENT, ENOTSOCK, EINVAL },
	[BPF_MAP_TYPE_CGROUP_STORAGE] = { ENOENT, ENOENT, EINVAL },
	[BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE] = { ENOENT, ENOENT, EINVAL },
	/* the key is a socket fd: none in bpfvm (not measured) */
	[BPF_MAP_TYPE_SK_STORAGE] = { EBADF, EBADF, EBADF },
};

static int empty_alloc(const union bpf_attr *attr, struct bpfvm_map **out)
{
	struct bpfvm_map *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	bpfvm_map_init(m, attr);
	*out = m;
	return 0;
}

static void empty_free(struct bpfvm_map *map)
{
	free(map);
}

static void *empty_lookup(struct bpfvm_map *map, const void *key, uint32_t cpu)
{
	(void)map, (void)key, (void)cpu;
	return NULL;
}

static int empty_copy(struct bpfvm_map *map, const void *key, void *out,
		      uint64_t flags)
{
	(void)key, (void)out, (void)flags;
	uint32_t t = map->map_type;
	if (t == BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return -BPFVM_ENOTSUPP; /* no lookup from user space */
	/* sockets come out as a u64 cookie: a smaller value cannot hold one */
	if ((t == BPF_MAP_TYPE_SOCKMAP || t == BPF_MAP_TYPE_SOCKHASH) &&
	    map->value_size != 8)
		return -ENOSPC;
	return -user_err[t].lookup;
}

static int no_update(struct bpfvm_map *map, const void *key,
		     const void *value, uint64_t flags, uint32_t cpu)
{
	(void)key, (void)value, (void)flags, (void)cpu;
	return -user_err[map->map_type].update;
}

static int empty_delete(struct bpfvm_map *map, const void *key)
{
	(void)key;
	return -user_err[map->map_type].delete;
}

static int empty_next(struct bpfvm_map *map, const void *key, void *next)
{
	(void)map, (void)key, (void)next;
	return -ENOENT;
}

/* Index-keyed types walk their slots as arrays do, empty or not. */
#define MISC_OPS(NAME, CHECK, NEXT)					\
	const struct bpfvm_map_ops NAME = {				\
		.alloc_check = CHECK,					\
		.alloc = empty_alloc,					\
		.free = empty_free,					\
		.lookup = empty_lookup,					\
		.copy_value = empty_copy,				\
		.update = no_update,					\
		.delete = empty_delete,					\
		.get_next_key = NEXT,					\
	}

MISC_OPS(bpfvm_sockmap_ops, sockmap_check, bpfvm_array_get_next_key);
MISC_OPS(bpfvm_sockhash_ops, sockhash_check, empty_next);
MISC_OPS(bpfvm_xskmap_ops, xskmap_check, bpfvm_array_get_next_key);
MISC_OPS(bpfvm_stack_trace_ops, stack_trace_check, empty_next);
MISC_OPS(bpfvm_perf_event_array_ops, perf_array_check, bpfvm_array_get_next_key);
MISC_OPS(bpfvm_reuseport_array_ops, reuseport_check, bpfvm_array_get_next_key);
MISC_OPS(bpfvm_cgroup_storage_ops, cgroup_storage_check, empty_next);
MISC_OPS(bpfvm_percpu_cgroup_storage_ops, cgroup_storage_check, empty_next);
MISC_OPS(bpfvm_sk_storage_ops, sk_storage_check, empty_next);
