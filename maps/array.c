/* ARRAY and PERCPU_ARRAY: max_entries preallocated, zeroed values of
 * round_up(value_size, 8) bytes, indexed by a u32 key.
 *
 * No lock, as in the kernel: a value is updated in place with memcpy, so a
 * reader racing a writer may see a mix of both (programs use atomics or
 * bpf_spin_lock when that matters).  Per-CPU arrays keep ncpus slots per
 * element, element-major.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "map.h"

#define ARRAY_CREATE_FLAG_MASK (BPF_F_NUMA_NODE | BPF_F_MMAPABLE | \
	BPFVM_F_ACCESS_MASK | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP)

#define PCPU_MIN_UNIT_SIZE 32768u /* the kernel's per-CPU value limit */

struct array {
	struct bpfvm_map map;
	uint32_t elem_size; /* round_up(value_size, 8) */
	int memfd;	    /* MMAPABLE: the values' backing, else -1 */
	size_t bytes;	    /* size of values */
	uint8_t *values;
};

static struct array *array_of(struct bpfvm_map *map)
{
	return (struct array *)map;
}

static int percpu(const struct bpfvm_map *map)
{
	return map->map_type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

int bpfvm_array_alloc_check(const union bpf_attr *attr)
{
	int pc = attr->map_type == BPF_MAP_TYPE_PERCPU_ARRAY;

	if (attr->max_entries == 0 || attr->key_size != 4 ||
	    attr->value_size == 0 ||
	    (attr->map_flags & ~ARRAY_CREATE_FLAG_MASK) ||
	    !bpfvm_map_flags_access_ok(attr->map_flags) ||
	    (pc && bpfvm_attr_numa_node(attr) >= 0))
		return -EINVAL;
	if (attr->map_type != BPF_MAP_TYPE_ARRAY &&
	    (attr->map_flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP)))
		return -EINVAL;
	/* only PERF_EVENT_ARRAY keeps its elements */
	if (attr->map_flags & BPF_F_PRESERVE_ELEMS)
		return -EINVAL;
	if (attr->value_size > INT_MAX)
		return -E2BIG;
	if (pc && bpfvm_round8(attr->value_size) > PCPU_MIN_UNIT_SIZE)
		return -E2BIG;
	return 0;
}

/* MMAPABLE values live in a memfd so the bpf(2) layer can map the same
 * pages into user space. */
static uint8_t *map_shared(size_t bytes, int *memfd)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	bytes = (bytes + page - 1) / page * page;
	int fd = memfd_create("bpfvm-array", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)bytes) < 0) {
		close(fd);
		return NULL;
	}
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	*memfd = fd;
	return p;
}

static int array_alloc(const union bpf_attr *attr, struct bpfvm_map **out)
{
	struct array *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	bpfvm_map_init(&a->map, attr);
	a->memfd = -1;
	a->elem_size = bpfvm_round8(attr->value_size);
	/* elem_size <= 2^31 and max_entries < 2^32: no u64 overflow */
	uint64_t bytes = (uint64_t)a->elem_size * attr->max_entries;
	if (percpu(&a->map))
		bytes *= a->map.ncpus;
	if (bpfvm_map_area_too_big(bytes)) {
		free(a);
		return -ENOMEM;
	}
	a->bytes = (size_t)bytes;
	if (attr->map_flags & BPF_F_MMAPABLE)
		a->values = map_shared(a->bytes, &a->memfd);
	else
		a->values = calloc(1, a->bytes);
	if (!a->values) {
		free(a);
		return -ENOMEM;
	}
	*out = &a->map;
	return 0;
}

static void array_free(struct bpfvm_map *map)
{
	struct array *a = array_of(map);
	if (a->memfd >= 0) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		munmap(a->values, (a->bytes + page - 1) / page * page);
		close(a->memfd);
	} else {
		free(a->values);
	}
	free(a);
}

int bpfvm_array_mmap_fd(struct bpfvm_map *map)
{
	if (map->map_type != BPF_MAP_TYPE_ARRAY || array_of(map)->memfd < 0)
		return -EINVAL;
	return array_of(map)->memfd;
}

static uint32_t key_index(const void *key)
{
	uint32_t i;
	memcpy(&i, key, sizeof(i));
	return i;
}

/* Element i's value for one CPU (cpu 0 for plain arrays). */
static uint8_t *slot(struct array *a, uint32_t i, uint32_t cpu)
{
	uint64_t n = (uint64_t)i * (percpu(&a->map) ? a->map.ncpus : 1) + cpu;
	return a->values + n * a->elem_size;
}

static void *array_lookup(struct bpfvm_map *map, const void *key, uint32_t cpu)
{
	struct array *a = array_of(map);
	uint32_t i = key_index(key);
	if (i >= map->max_entries)
		return NULL;
	return slot(a, i, percpu(map) ? cpu : 0);
}

static int array_copy_value(struct bpfvm_map *map, const void *key, void *out,
			    uint64_t flags)
{
	struct array *a = array_of(map);
	uint32_t i = key_index(key);
	if (i >= map->max_entries)
		return -ENOENT;
	if (!percpu(map)) {
		bpfvm_copy_value_out(map, out, slot(a, i, 0), flags);
		return 0;
	}
	/* every CPU's round_up(value_size, 8) bytes, padding zero */
	memcpy(out, slot(a, i, 0), (size_t)a->elem_size * map->ncpus);
	return 0;
}

static int array_update(struct bpfvm_map *map, const void *key,
			const void *value, uint64_t flags, uint32_t cpu)
{
	struct array *a = array_of(map);
	uint32_t i = key_index(key);

	if ((flags & ~(uint64_t)BPF_F_LOCK) > BPF_EXIST)
		return -EINVAL;
	if (i >= map->max_entries)
		return -E2BIG;
	if (flags & BPF_NOEXIST)
		return -EEXIST;
	if (!bpfvm_lock_flag_ok(map, flags))
		return -EINVAL;
	if (flags & BPF_F_LOCK) {
		bpfvm_copy_value_locked(map, slot(a, i, 0), value, 0);
	} else if (!percpu(map)) {
		bpfvm_copy_value(map, slot(a, i, 0), value);
	} else if (cpu != BPFVM_ALL_CPUS) {
		memcpy(slot(a, i, cpu), value, map->value_size);
	} else {
		/* whole 8-byte slots, padding included, as the kernel */
		memcpy(slot(a, i, 0), value, (size_t)a->elem_size * map->ncpus);
	}
	return 0;
}

static int array_delete(struct bpfvm_map *map, const void *key)
{
	(void)map;
	(void)key;
	return -EINVAL;
}

int bpfvm_array_get_next_key(struct bpfvm_map *map, const void *key,
			     void *next)
{
	uint32_t i = key ? key_index(key) : UINT32_MAX, n;
	if (i >= map->max_entries)
		n = 0;
	else if (i == map->max_entries - 1)
		return -ENOENT;
	else
		n = i + 1;
	memcpy(next, &n, sizeof(n));
	return 0;
}

static void *array_lookup_percpu(struct bpfvm_map *map, const void *key,
				 uint32_t cpu)
{
	if (cpu >= map->ncpus)
		return NULL;
	return array_lookup(map, key, cpu);
}

static long array_for_each(struct bpfvm_map *map, bpfvm_map_cb cb, void *ctx,
			   uint32_t cpu)
{
	struct array *a = array_of(map);
	long n = 0;
	for (uint32_t i = 0; i < map->max_entries; i++) {
		n++;
		if (cb(map, &i, slot(a, i, percpu(map) ? cpu : 0), ctx))
			break;
	}
	return n;
}

static int array_direct_value(struct bpfvm_map *map, uint32_t off, void **addr)
{
	if (map->max_entries != 1)
		return -BPFVM_ENOTSUPP;
	if (off >= map->value_size)
		return -EINVAL;
	*addr = array_of(map)->values;
	return 0;
}

const struct bpfvm_map_ops bpfvm_array_ops = {
	.alloc_check = bpfvm_array_alloc_check,
	.alloc = array_alloc,
	.free = array_free,
	.lookup = array_lookup,
	.copy_value = array_copy_value,
	.update = array_update,
	.delete = array_delete,
	.get_next_key = bpfvm_array_get_next_key,
	.for_each = array_for_each,
	.direct_value = array_direct_value,
	.lookup_batch = bpfvm_generic_lookup_batch,
	.update_batch = bpfvm_generic_update_batch,
};

const struct bpfvm_map_ops bpfvm_percpu_array_ops = {
	.alloc_check = bpfvm_array_alloc_check,
	.alloc = array_alloc,
	.free = array_free,
	.lookup = array_lookup,
	.copy_value = array_copy_value,
	.update = array_update,
	.delete = array_delete,
	.get_next_key = bpfvm_array_get_next_key,
	.lookup_percpu = array_lookup_percpu,
	.for_each = array_for_each,
	.lookup_batch = bpfvm_generic_lookup_batch,
	.update_batch = bpfvm_generic_update_batch,
};
