/* Map creation (the checks of the kernel's map_create, in its order) and the
 * per-command dispatch through each type's ops.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "map.h"

static const struct bpfvm_map_ops *const map_types[BPFVM_MAP_TYPE__MAX] = {
	[BPF_MAP_TYPE_HASH] = &bpfvm_hash_ops,
	[BPF_MAP_TYPE_ARRAY] = &bpfvm_array_ops,
	[BPF_MAP_TYPE_PERCPU_HASH] = &bpfvm_percpu_hash_ops,
	[BPF_MAP_TYPE_PERCPU_ARRAY] = &bpfvm_percpu_array_ops,
	[BPF_MAP_TYPE_LRU_HASH] = &bpfvm_lru_hash_ops,
	[BPF_MAP_TYPE_LRU_PERCPU_HASH] = &bpfvm_lru_percpu_hash_ops,
	[BPF_MAP_TYPE_LPM_TRIE] = &bpfvm_lpm_trie_ops,
	[BPF_MAP_TYPE_QUEUE] = &bpfvm_queue_ops,
	[BPF_MAP_TYPE_STACK] = &bpfvm_stack_ops,
	[BPF_MAP_TYPE_RINGBUF] = &bpfvm_ringbuf_ops,
	[BPF_MAP_TYPE_PROG_ARRAY] = &bpfvm_prog_array_ops,
	[BPF_MAP_TYPE_ARRAY_OF_MAPS] = &bpfvm_array_of_maps_ops,
	[BPF_MAP_TYPE_HASH_OF_MAPS] = &bpfvm_hash_of_maps_ops,
	[BPF_MAP_TYPE_SOCKMAP] = &bpfvm_sockmap_ops,
	[BPF_MAP_TYPE_SOCKHASH] = &bpfvm_sockhash_ops,
	[BPF_MAP_TYPE_XSKMAP] = &bpfvm_xskmap_ops,
	[BPF_MAP_TYPE_STACK_TRACE] = &bpfvm_stack_trace_ops,
	[BPF_MAP_TYPE_PERF_EVENT_ARRAY] = &bpfvm_perf_event_array_ops,
	[BPF_MAP_TYPE_REUSEPORT_SOCKARRAY] = &bpfvm_reuseport_array_ops,
	[BPF_MAP_TYPE_CGROUP_STORAGE] = &bpfvm_cgroup_storage_ops,
	[BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE] = &bpfvm_percpu_cgroup_storage_ops,
	[BPF_MAP_TYPE_SK_STORAGE] = &bpfvm_sk_storage_ops,
};

/* Bits set in a kernel cpu/node list file ("0-3,8"); -1 if unreadable. */
static int64_t list_count(const char *path, int64_t want, int *has_want)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int64_t n = 0;
	unsigned long a, b;
	char sep = '\n';
	while (fscanf(f, "%lu", &a) == 1) {
		b = a;
		if (fscanf(f, "%c", &sep) != 1)
			sep = '\n';
		if (sep == '-') {
			if (fscanf(f, "%lu", &b) != 1 || b < a)
				break;
			if (fscanf(f, "%c", &sep) != 1)
				sep = '\n';
		}
		n += (int64_t)(b - a + 1);
		if (has_want && want >= (int64_t)a && want <= (int64_t)b)
			*has_want = 1;
		if (sep != ',')
			break;
	}
	fclose(f);
	return n;
}

uint32_t bpfvm_possible_cpus(void)
{
	int64_t n = list_count("/sys/devices/system/cpu/possible", 0, NULL);
	if (n <= 0) {
		long c = sysconf(_SC_NPROCESSORS_CONF);
		n = c > 0 ? c : 1;
	}
	return n > 4096 ? 4096 : (uint32_t)n;
}

/* map_create: a node must exist and be online. */
static int numa_node_ok(int64_t node)
{
	if (node < 0)
		return 1;
	int has = 0;
	if (list_count("/sys/devices/system/node/online", node, &has) < 0)
		return node == 0; /* no NUMA in sysfs: one node */
	return has;
}

/* The kernel's isalnum is Latin-1: 0xc0-0xff are letters but for the
 * multiplication and division signs. */
static int name_char_ok(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '_' || c == '.')
		return 1;
	return c >= 0xc0 && c != 0xd7 && c != 0xf7;
}

/* bpf_obj_name_cpy: NUL-terminated within the field, allowed chars only. */
static int name_copy(char *dst, const char *src)
{
	memset(dst, 0, BPF_OBJ_NAME_LEN);
	for (size_t i = 0; i < BPF_OBJ_NAME_LEN; i++) {
		if (!src[i])
			return 0;
		if (!name_char_ok((unsigned char)src[i]))
			return -EINVAL;
		dst[i] = src[i];
	}
	return -EINVAL;
}

int bpfvm_map_area_too_big(uint64_t bytes)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || size <= 0)
		return bytes > SIZE_MAX / 2;
	return bytes > (uint64_t)pages * (uint64_t)size;
}

void bpfvm_map_init(struct bpfvm_map *map, const union bpf_attr *attr)
{
	map->map_type = attr->map_type;
	map->key_size = attr->key_size;
	map->value_size = attr->value_size;
	map->max_entries = attr->max_entries;
	/* RDONLY/WRONLY are the descriptor's, not the map's (the kernel's
	 * bpf_map_flags_retain_permanent) */
	map->map_flags = attr->map_flags & ~(uint32_t)(BPF_F_RDONLY | BPF_F_WRONLY);
	map->numa_node = (uint32_t)bpfvm_attr_numa_node(attr);
	map->map_extra = attr->map_extra;
	map->ncpus = bpfvm_possible_cpus();
	map->lock_off = -1;
}

void bpfvm_map_set_epoch(struct bpfvm_map *map, struct bpfvm_epoch *d)
{
	map->epoch = d;
}

bool bpfvm_map_spin_lock_ok(uint32_t map_type)
{
	/* the kernel's list (map_check_btf), less the storage types bpfvm
	 * does not have */
	return map_type == BPF_MAP_TYPE_HASH ||
	       map_type == BPF_MAP_TYPE_ARRAY ||
	       map_type == BPF_MAP_TYPE_CGROUP_STORAGE ||
	       map_type == BPF_MAP_TYPE_SK_STORAGE;
}

int bpfvm_map_set_spin_lock(struct bpfvm_map *map, uint32_t off)
{
	if (!bpfvm_map_spin_lock_ok(map->map_type))
		return -EOPNOTSUPP;
	if (off % 4 || (uint64_t)off + 4 > map->value_size)
		return -EINVAL;
	map->lock_off = (int32_t)off;
	return 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void bpfvm_spin_lock(void *lock)
{
	uint32_t *l = lock;
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(l, __ATOMIC_RELAXED))
			cpu_relax();
}

void bpfvm_spin_unlock(void *lock)
{
	__atomic_store_n((uint32_t *)lock, 0, __ATOMIC_RELEASE);
}

void bpfvm_copy_value(const struct bpfvm_map *map, void *dst, const void *src)
{
	if (map->lock_off < 0) {
		memcpy(dst, src, map->value_size);
		return;
	}
	size_t off = (size_t)map->lock_off, end = off + 4;
	memcpy(dst, src, off);
	memcpy((uint8_t *)dst + end, (const uint8_t *)src + end,
	       map->value_size - end);
}

void bpfvm_copy_value_locked(const struct bpfvm_map *map, void *dst,
			     const void *src, int lock_src)
{
	void *lock = (uint8_t *)(lock_src ? (void *)src : dst) + map->lock_off;
	bpfvm_spin_lock(lock);
	bpfvm_copy_value(map, dst, src);
	bpfvm_spin_unlock(lock);
}

void bpfvm_copy_value_out(const struct bpfvm_map *map, void *dst,
			  const void *src, uint64_t flags)
{
	if (flags & BPF_F_LOCK)
		bpfvm_copy_value_locked(map, dst, src, 1);
	else
		bpfvm_copy_value(map, dst, src);
	if (map->lock_off >= 0)
		memset((uint8_t *)dst + map->lock_off, 0, 4);
}

/* The inner map of a map-in-map, resolved at create: its header is the
 * meta every value must match (kernel: bpf_map_meta_alloc). */
static int inner_meta(const union bpf_attr *attr,
		      const struct bpfvm_fd_array_ops *fops, void *ctx,
		      struct bpfvm_map *meta)
{
	int err = -EBADF;
	struct bpfvm_map *inner = fops && fops->get
		? fops->get(ctx, NULL, (int)attr->inner_map_fd, &err) : NULL;
	if (!inner)
		return err;
	err = 0;
	if (inner->map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
	    inner->map_type == BPF_MAP_TYPE_HASH_OF_MAPS)
		err = -EINVAL; /* one level only */
	else if (inner->map_type == BPF_MAP_TYPE_PROG_ARRAY)
		err = -BPFVM_ENOTSUPP; /* no meta comparison for it */
	else
		*meta = *inner;
	if (fops->put)
		fops->put(ctx, inner);
	return err;
}

int bpfvm_map_create(const union bpf_attr *attr, struct bpfvm_map **out)
{
	return bpfvm_map_create_with(attr, NULL, NULL, out);
}

int bpfvm_map_create_with(const union bpf_attr *attr,
			  const struct bpfvm_fd_array_ops *fops, void *ctx,
			  struct bpfvm_map **out)
{
	uint32_t type = attr->map_type;
	struct bpfvm_map meta;

	*out = NULL;
	if (attr->btf_vmlinux_value_type_id) {
		if (type != BPF_MAP_TYPE_STRUCT_OPS || attr->btf_key_type_id ||
		    attr->btf_value_type_id)
			return -EINVAL;
	} else if (attr->btf_key_type_id && !attr->btf_value_type_id) {
		return -EINVAL;
	}
	if (type != BPF_MAP_TYPE_BLOOM_FILTER &&
	    type != BPFVM_MAP_TYPE_ARENA && attr->map_extra)
		return -EINVAL;
	if ((attr->map_flags & BPF_F_RDONLY) && (attr->map_flags & BPF_F_WRONLY))
		return -EINVAL;
	if (!numa_node_ok(bpfvm_attr_numa_node(attr)))
		return -EINVAL;
	/* Types 6.18 has but bpfvm not yet: EINVAL too (see the report). */
	if (type >= BPFVM_MAP_TYPE__MAX || !map_types[type])
		return -EINVAL;
	const struct bpfvm_map_ops *ops = map_types[type];
	int err = ops->alloc_check ? ops->alloc_check(attr) : 0;
	if (err)
		return err;
	int of_maps = type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
		      type == BPF_MAP_TYPE_HASH_OF_MAPS;
	if (of_maps && (err = inner_meta(attr, fops, ctx, &meta)))
		return err;
	struct bpfvm_map *map = NULL;
	err = ops->alloc(attr, &map);
	if (err)
		return err;
	map->ops = ops;
	if (map->ops->bind)
		map->ops->bind(map, fops, ctx, of_maps ? &meta : NULL);
	map->refcnt = 1;
	err = name_copy(map->name, attr->map_name);
	if (err) {
		ops->free(map);
		return err;
	}
	*out = map;
	return 0;
}

int bpfvm_map_meta_equal(const struct bpfvm_map *meta,
			 const struct bpfvm_map *m)
{
	if (meta->map_type != m->map_type || meta->key_size != m->key_size ||
	    meta->value_size != m->value_size ||
	    meta->map_flags != m->map_flags || meta->lock_off != m->lock_off)
		return 0;
	if (meta->map_type != BPF_MAP_TYPE_ARRAY &&
	    meta->map_type != BPF_MAP_TYPE_PERCPU_ARRAY)
		return 1;
	/* arrays: the size too, unless the meta is BPF_F_INNER_MAP */
	return (meta->map_flags & BPF_F_INNER_MAP) ||
	       meta->max_entries == m->max_entries;
}

void bpfvm_fd_array_bind(struct bpfvm_map *map,
			 const struct bpfvm_fd_array_ops *ops, void *ctx)
{
	if (map->ops->bind)
		map->ops->bind(map, ops, ctx, NULL);
}

void bpfvm_map_free(struct bpfvm_map *map)
{
	if (map)
		map->ops->free(map);
}

void bpfvm_map_get(struct bpfvm_map *map)
{
	__atomic_add_fetch(&map->refcnt, 1, __ATOMIC_RELAXED);
}

void bpfvm_map_put(struct bpfvm_map *map)
{
	/* acq_rel: every use by the other holders happens before the free */
	if (map && __atomic_sub_fetch(&map->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
		map->ops->free(map);
}

static int is_percpu(const struct bpfvm_map *map)
{
	return map->map_type == BPF_MAP_TYPE_PERCPU_HASH ||
	       map->map_type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       map->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static int is_queue_stack(const struct bpfvm_map *map)
{
	return map->map_type == BPF_MAP_TYPE_QUEUE ||
	       map->map_type == BPF_MAP_TYPE_STACK;
}

size_t bpfvm_map_value_size(const struct bpfvm_map *map)
{
	if (is_percpu(map))
		return (size_t)bpfvm_round8(map->value_size) * map->ncpus;
	return map->value_size;
}

int bpfvm_map_lookup_elem(struct bpfvm_map *map, const void *key,
			  void *value, uint64_t flags)
{
	if ((flags & ~(uint64_t)BPF_F_LOCK) || !bpfvm_lock_flag_ok(map, flags))
		return -EINVAL;
	if (is_queue_stack(map))
		return map->ops->peek(map, value);
	return map->ops->copy_value(map, key, value, flags);
}

int bpfvm_map_update_elem(struct bpfvm_map *map, const void *key,
			  const void *value, uint64_t flags)
{
	if (!bpfvm_lock_flag_ok(map, flags))
		return -EINVAL;
	if (is_queue_stack(map))
		return map->ops->push(map, value, flags);
	return map->ops->update(map, key, value, flags, BPFVM_ALL_CPUS);
}

int bpfvm_map_delete_elem(struct bpfvm_map *map, const void *key)
{
	return map->ops->delete(map, key);
}

int bpfvm_map_get_next_key(struct bpfvm_map *map, const void *key, void *next)
{
	return map->ops->get_next_key(map, key, next);
}

int bpfvm_map_lookup_and_delete_elem(struct bpfvm_map *map, const void *key,
				     void *value, uint64_t flags)
{
	if (flags & ~(uint64_t)BPF_F_LOCK)
		return -EINVAL;
	if (flags && is_queue_stack(map))
		return -EINVAL;
	if (!bpfvm_lock_flag_ok(map, flags))
		return -EINVAL;
	if (is_queue_stack(map))
		return map->ops->pop(map, value);
	if (!map->ops->lookup_and_delete)
		return -BPFVM_ENOTSUPP;
	return map->ops->lookup_and_delete(map, key, value, flags);
}

void *bpfvm_map_lookup_prog(struct bpfvm_map *map, const void *key,
			    uint32_t cpu)
{
	return map->ops->lookup(map, key, cpu % map->ncpus);
}

long bpfvm_map_update_prog(struct bpfvm_map *map, const void *key,
			   const void *value, uint64_t flags, uint32_t cpu)
{
	return map->ops->update(map, key, value, flags, cpu % map->ncpus);
}

long bpfvm_map_delete_prog(struct bpfvm_map *map, const void *key)
{
	return map->ops->delete(map, key);
}

/* The push/pop/peek helpers exist for every map; other types say so. */
long bpfvm_map_push_prog(struct bpfvm_map *map, const void *value,
			 uint64_t flags)
{
	return map->ops->push ? map->ops->push(map, value, flags) : -EOPNOTSUPP;
}

long bpfvm_map_pop_prog(struct bpfvm_map *map, void *value)
{
	return map->ops->pop ? map->ops->pop(map, value) : -EOPNOTSUPP;
}

long bpfvm_map_peek_prog(struct bpfvm_map *map, void *value)
{
	return map->ops->peek ? map->ops->peek(map, value) : -EOPNOTSUPP;
}

void *bpfvm_map_lookup_percpu_prog(struct bpfvm_map *map, const void *key,
				   uint32_t cpu)
{
	return map->ops->lookup_percpu ? map->ops->lookup_percpu(map, key, cpu)
				       : NULL;
}

long bpfvm_map_for_each_prog(struct bpfvm_map *map, bpfvm_map_cb cb,
			     void *ctx, uint64_t flags, uint32_t cpu)
{
	if (flags || !map->ops->for_each)
		return -EINVAL;
	return map->ops->for_each(map, cb, ctx, cpu % map->ncpus);
}

int bpfvm_map_direct_value(struct bpfvm_map *map, uint32_t off, void **addr)
{
	if (!map->ops->direct_value)
		return -EINVAL;
	return map->ops->direct_value(map, off, addr);
}
