/* The map layer: one ops table per map type, in the shape of the kernel's
 * struct bpf_map_ops.  Create attributes are the kernel's union bpf_attr, so
 * the bpf(2) layer passes them straight through; every error is a negative
 * errno exactly as Linux 6.18 returns it for the same call.
 *
 * What this layer leaves to the bpf(2) layer: CHECK_ATTR (non-zero bytes past
 * a command's last field), descriptors (EBADF, EINVAL for a non-map fd),
 * read/write permissions of a descriptor (BPF_F_RDONLY/WRONLY -> EPERM),
 * MAP_FREEZE, BTF (btf_fd; it names a value's spin lock with
 * bpfvm_map_set_spin_lock), BPF_F_TOKEN_FD (strip it before calling
 * bpfvm_map_create), ids, and resolving descriptors stored in maps
 * (bpfvm_map_create_with).
 *
 * Concurrency: every call may come from any thread.  Values a program got
 * from bpfvm_map_lookup_prog() stay readable and writable until the map is
 * freed: elements that leave a map go to a per-map free list for reuse and
 * are only returned to malloc when the map is freed (see hash.c); with an
 * epoch domain (below), not reused while a run that saw them goes on.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_MAP_H
#define BPFVM_MAP_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kernel-internal errno that bpf(2) lets through (LRU without
 * preallocation, LOOKUP_AND_DELETE on a type that has none). */
#define BPFVM_ENOTSUPP 524

/* cpu argument of update: the value is a user-space buffer holding every
 * possible CPU's value (per-CPU types), not one program's value. */
#define BPFVM_ALL_CPUS UINT32_MAX

/* Types and flags newer than the system's 6.1 <linux/bpf.h>. */
#define BPFVM_MAP_TYPE_ARENA 33
#define BPFVM_MAP_TYPE__MAX 36 /* first type number 6.18 does not know */

#define BPFVM_F_ACCESS_MASK (BPF_F_RDONLY | BPF_F_RDONLY_PROG | \
			     BPF_F_WRONLY | BPF_F_WRONLY_PROG)

struct bpfvm_map;
struct bpfvm_fd_array_ops;
struct bpfvm_epoch;

/* The batch commands' attr.batch, with in-process pointers.  count: in,
 * how many at most; out, how many were done (as the kernel writes it back,
 * also on errors once the batch has started).  in_batch/out_batch: a key
 * for the generic walk (arrays), a u32 bucket for hash maps. */
struct bpfvm_batch {
	const void *in_batch; /* NULL: from the start */
	void *out_batch;
	void *keys;
	void *values;
	uint32_t count;
	uint64_t elem_flags;
	uint64_t flags;
};

/* bpf_for_each_map_elem's callback: 0 goes on, 1 stops. */
typedef long (*bpfvm_map_cb)(struct bpfvm_map *map, const void *key,
			     void *value, void *ctx);

struct bpfvm_map_ops {
	/* attribute checks done before allocation (may be NULL) */
	int (*alloc_check)(const union bpf_attr *attr);
	/* allocate and fill the common fields except ops/name */
	int (*alloc)(const union bpf_attr *attr, struct bpfvm_map **out);
	void (*free)(struct bpfvm_map *map);
	/* programs: the value (cpu's slot for per-CPU types) or NULL */
	void *(*lookup)(struct bpfvm_map *map, const void *key, uint32_t cpu);
	/* user space: copy the value out (every CPU's for per-CPU types) */
	int (*copy_value)(struct bpfvm_map *map, const void *key, void *out,
			  uint64_t flags);
	/* cpu: the program's CPU, or BPFVM_ALL_CPUS from user space */
	int (*update)(struct bpfvm_map *map, const void *key,
		      const void *value, uint64_t flags, uint32_t cpu);
	int (*delete)(struct bpfvm_map *map, const void *key);
	/* may be NULL: ENOTSUPP */
	int (*lookup_and_delete)(struct bpfvm_map *map, const void *key,
				 void *out, uint64_t flags);
	/* key NULL: the first key */
	int (*get_next_key)(struct bpfvm_map *map, const void *key,
			    void *next);
	/* bpf_map_lookup_percpu_elem: cpu's value; NULL past the CPUs (NULL
	 * for types that are not per-CPU) */
	void *(*lookup_percpu)(struct bpfvm_map *map, const void *key,
			       uint32_t cpu);
	/* bpf_for_each_map_elem: elements visited (NULL: not supported) */
	long (*for_each)(struct bpfvm_map *map, bpfvm_map_cb cb, void *ctx,
			 uint32_t cpu);
	/* ld_imm64 BPF_PSEUDO_MAP_VALUE: the value area (may be NULL) */
	int (*direct_value)(struct bpfvm_map *map, uint32_t off, void **addr);
	/* the batch commands (NULL: ENOTSUPP, as the kernel) */
	int (*lookup_batch)(struct bpfvm_map *map, struct bpfvm_batch *b);
	int (*lookup_and_delete_batch)(struct bpfvm_map *map,
				       struct bpfvm_batch *b);
	int (*update_batch)(struct bpfvm_map *map, struct bpfvm_batch *b);
	int (*delete_batch)(struct bpfvm_map *map, struct bpfvm_batch *b);
	/* object-valued maps (PROG_ARRAY, ARRAY/HASH_OF_MAPS): the bpf(2)
	 * layer's callbacks, and the inner map's meta (NULL: keep) */
	void (*bind)(struct bpfvm_map *map, const struct bpfvm_fd_array_ops *fops,
		     void *ctx, const struct bpfvm_map *meta);
	/* queue and stack only (NULL elsewhere) */
	int (*push)(struct bpfvm_map *map, const void *value, uint64_t flags);
	int (*pop)(struct bpfvm_map *map, void *value);
	int (*peek)(struct bpfvm_map *map, void *value);
};

/* The part every map type starts with (kernel: struct bpf_map). */
struct bpfvm_map {
	const struct bpfvm_map_ops *ops;
	uint32_t map_type;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries; /* as the kernel reports it (LRU may round) */
	uint32_t map_flags;
	uint32_t numa_node;
	uint64_t map_extra;
	uint32_t ncpus; /* possible CPUs: per-CPU value slots */
	char name[BPF_OBJ_NAME_LEN];
	uint32_t refcnt; /* atomic: descriptors and programs holding it */
	int32_t lock_off; /* the value's struct bpf_spin_lock, or -1 */
	struct bpfvm_epoch *epoch; /* reclamation domain, or NULL */
};

/* BPF_MAP_CREATE after CHECK_ATTR: 0 and *out, or -errno. */
int bpfvm_map_create(const union bpf_attr *attr, struct bpfvm_map **out);
/* The same, with the descriptor callbacks (struct bpfvm_fd_array_ops
 * below) that PROG_ARRAY, ARRAY_OF_MAPS and HASH_OF_MAPS need. */
int bpfvm_map_create_with(const union bpf_attr *attr,
			  const struct bpfvm_fd_array_ops *fops, void *ctx,
			  struct bpfvm_map **out);
/* A new map holds one reference; put frees it when the last goes (the
 * kernel's: a map lives while a descriptor or a loaded program uses it). */
void bpfvm_map_get(struct bpfvm_map *map);
void bpfvm_map_put(struct bpfvm_map *map);
/* Free now, whatever the references (create's error paths, tests). */
void bpfvm_map_free(struct bpfvm_map *map);

/* Size of the user-space value buffer (kernel: bpf_map_value_size). */
size_t bpfvm_map_value_size(const struct bpfvm_map *map);

/* The bpf(2) commands, once the descriptor is resolved. */
int bpfvm_map_lookup_elem(struct bpfvm_map *map, const void *key,
			  void *value, uint64_t flags);
int bpfvm_map_update_elem(struct bpfvm_map *map, const void *key,
			  const void *value, uint64_t flags);
int bpfvm_map_delete_elem(struct bpfvm_map *map, const void *key);
int bpfvm_map_get_next_key(struct bpfvm_map *map, const void *key,
			   void *next);
int bpfvm_map_lookup_and_delete_elem(struct bpfvm_map *map, const void *key,
				     void *value, uint64_t flags);

/* BPF_MAP_{LOOKUP,LOOKUP_AND_DELETE,UPDATE,DELETE}_BATCH. */
int bpfvm_map_lookup_batch(struct bpfvm_map *map, struct bpfvm_batch *b);
int bpfvm_map_lookup_and_delete_batch(struct bpfvm_map *map,
				      struct bpfvm_batch *b);
int bpfvm_map_update_batch(struct bpfvm_map *map, struct bpfvm_batch *b);
int bpfvm_map_delete_batch(struct bpfvm_map *map, struct bpfvm_batch *b);

/* The kernel's generic batch walks (get_next_key + lookup, one by one
 * update and delete), for the types' ops tables. */
int bpfvm_generic_lookup_batch(struct bpfvm_map *map, struct bpfvm_batch *b);
int bpfvm_generic_update_batch(struct bpfvm_map *map, struct bpfvm_batch *b);
int bpfvm_generic_delete_batch(struct bpfvm_map *map, struct bpfvm_batch *b);

/* The helpers, as programs see them (cpu < map->ncpus picks the per-CPU
 * slot; other types ignore it). */
void *bpfvm_map_lookup_prog(struct bpfvm_map *map, const void *key,
			    uint32_t cpu);
long bpfvm_map_update_prog(struct bpfvm_map *map, const void *key,
			   const void *value, uint64_t flags, uint32_t cpu);
long bpfvm_map_delete_prog(struct bpfvm_map *map, const void *key);
long bpfvm_map_push_prog(struct bpfvm_map *map, const void *value,
			 uint64_t flags);
long bpfvm_map_pop_prog(struct bpfvm_map *map, void *value);
long bpfvm_map_peek_prog(struct bpfvm_map *map, void *value);
void *bpfvm_map_lookup_percpu_prog(struct bpfvm_map *map, const void *key,
				   uint32_t cpu);
/* -EINVAL for flags, or for a type without iteration (the verifier
 * rejects those first) */
long bpfvm_map_for_each_prog(struct bpfvm_map *map, bpfvm_map_cb cb,
			     void *ctx, uint64_t flags, uint32_t cpu);

/* For the loader (ld_imm64 src 2, BPF_PSEUDO_MAP_VALUE): the address of
 * the map's value at off.  ARRAY with one entry only, as the kernel:
 * -EINVAL otherwise (ENOTSUPP for more entries, EINVAL for off past the
 * value, as the kernel's array_map_direct_value_addr). */
int bpfvm_map_direct_value(struct bpfvm_map *map, uint32_t off, void **addr);

/* Number of possible CPUs as the kernel reports them
 * (/sys/devices/system/cpu/possible). */
uint32_t bpfvm_possible_cpus(void);

/* For MMAPABLE arrays: a memfd holding the values (page-aligned, shared
 * with the map), for the bpf(2) layer's mmap; -EINVAL for other maps. */
int bpfvm_array_mmap_fd(struct bpfvm_map *map);

/* RINGBUF, for the helpers (kernel return values: reserve NULL on failure,
 * output -EINVAL/-EAGAIN, query 0 for an unknown flag).  submit/discard
 * find the map from the sample, as the kernel's. */
void *bpfvm_ringbuf_reserve(struct bpfvm_map *map, uint64_t size,
			    uint64_t flags);
void bpfvm_ringbuf_submit(void *sample, uint64_t flags);
void bpfvm_ringbuf_discard(void *sample, uint64_t flags);
long bpfvm_ringbuf_output(struct bpfvm_map *map, const void *data,
			  uint64_t size, uint64_t flags);
uint64_t bpfvm_ringbuf_query(struct bpfvm_map *map, uint64_t flags);
/* For the embedder (one consumer at a time): cb for each committed record
 * in order, skipping discarded ones; the count, or cb's negative return
 * (that record is consumed too, as with libbpf's ring_buffer__consume).
 * wait_fd: an eventfd, readable after a producer's wakeup. */
int bpfvm_ringbuf_consume(struct bpfvm_map *map,
			  int (*cb)(void *ctx, void *data, size_t size),
			  void *ctx);
int bpfvm_ringbuf_wait_fd(struct bpfvm_map *map);

/* PROG_ARRAY, ARRAY_OF_MAPS, HASH_OF_MAPS: values are objects of the
 * bpf(2) layer (programs; maps), which resolves descriptors and owns
 * references through these callbacks (bpfvm_map_create_with binds them).
 * Without them, updates are EBADF (no descriptor can be resolved) and
 * lookups give id 0.  A program's lookup in a map of maps gives the inner
 * struct bpfvm_map itself. */
struct bpfvm_fd_array_ops {
	/* the object behind fd with a reference, or NULL and *err (-EBADF,
	 * -EINVAL for a descriptor of the wrong kind): a program for a
	 * PROG_ARRAY, a struct bpfvm_map for maps of maps and when map is
	 * NULL (create's inner_map_fd) */
	void *(*get)(void *ctx, struct bpfvm_map *map, int fd, int *err);
	/* a running program may still hold obj (a tail call target): the
	 * kernel frees it only after an RCU grace period, so should this */
	void (*put)(void *ctx, void *obj);
	uint32_t (*id)(void *ctx, void *obj); /* what LOOKUP returns */
};
void bpfvm_fd_array_bind(struct bpfvm_map *map,
			 const struct bpfvm_fd_array_ops *ops, void *ctx);
/* Maps of maps: may m be a value, given the inner map at create?
 * (kernel: bpf_map_meta_equal, array_map_meta_equal) */
int bpfvm_map_meta_equal(const struct bpfvm_map *meta,
			 const struct bpfvm_map *m);
/* Maps of maps: the inner map's meta kept at create (what the verifier
 * checks a lookup's result against); NULL for any other map. */
struct bpfvm_map *bpfvm_map_inner_meta(struct bpfvm_map *outer);
struct bpfvm_map *bpfvm_hash_of_maps_meta(struct bpfvm_map *outer);
/* tail_call: the object at index, NULL if none. */
void *bpfvm_prog_array_get(struct bpfvm_map *map, uint32_t index);
/* Release every object (the kernel clears a program array when its last
 * user-space reference goes). */
void bpfvm_fd_array_clear(struct bpfvm_map *map);

/* Per-type ops, indexed by map type in map.c. */
extern const struct bpfvm_map_ops bpfvm_array_ops, bpfvm_percpu_array_ops,
	bpfvm_hash_ops, bpfvm_percpu_hash_ops, bpfvm_lru_hash_ops,
	bpfvm_lru_percpu_hash_ops, bpfvm_queue_ops, bpfvm_stack_ops,
	bpfvm_lpm_trie_ops, bpfvm_ringbuf_ops, bpfvm_prog_array_ops,
	bpfvm_array_of_maps_ops, bpfvm_hash_of_maps_ops,
	/* misc_maps.c: created, never filled */
	bpfvm_sockmap_ops, bpfvm_sockhash_ops, bpfvm_xskmap_ops,
	bpfvm_stack_trace_ops, bpfvm_perf_event_array_ops,
	bpfvm_reuseport_array_ops, bpfvm_cgroup_storage_ops,
	bpfvm_percpu_cgroup_storage_ops, bpfvm_sk_storage_ops;

/* Shared by the types. */
static inline uint32_t bpfvm_round8(uint32_t n)
{
	return (n + 7u) & ~7u; /* callers keep n <= INT_MAX */
}

static inline int bpfvm_map_flags_access_ok(uint32_t flags)
{
	return (flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) !=
	       (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG);
}

/* The NUMA node of a create attr (-1: none). */
static inline int64_t bpfvm_attr_numa_node(const union bpf_attr *attr)
{
	return (attr->map_flags & BPF_F_NUMA_NODE) ? (int64_t)attr->numa_node
						   : -1;
}

/* Would an area of this size fail in the kernel?  The kernel's vmalloc
 * cannot overcommit: past the machine's memory it is ENOMEM.  Checked before
 * calloc, which here would overcommit (and under ASan, abort). */
int bpfvm_map_area_too_big(uint64_t bytes);

/* The array checks and key walk, shared with PROG_ARRAY. */
int bpfvm_array_alloc_check(const union bpf_attr *attr);
int bpfvm_array_get_next_key(struct bpfvm_map *map, const void *key,
			     void *next);

/* Epochs (epoch.c): the kernel's RCU promise for programs.  The VM wraps
 * every program run in enter/exit of one domain shared with the maps the
 * program may use (bpfvm_map_set_epoch, before first use).  Then an element
 * removed from a NO_PREALLOC hash map or an LPM trie is reused only after
 * every run that might have seen it has ended, so a value pointer keeps its
 * content for the whole run (preallocated maps reuse at once, as the
 * kernel's).  Without a domain, a freed element waits behind 64 others. */
struct bpfvm_epoch *bpfvm_epoch_new(void);
void bpfvm_epoch_free(struct bpfvm_epoch *d);
unsigned bpfvm_epoch_enter(struct bpfvm_epoch *d); /* a token for exit */
void bpfvm_epoch_exit(struct bpfvm_epoch *d, unsigned token);
/* the tag of something unlinked now; safe: no run can still hold it */
uint64_t bpfvm_epoch_retire(struct bpfvm_epoch *d);
int bpfvm_epoch_safe(struct bpfvm_epoch *d, uint64_t tag);
void bpfvm_map_set_epoch(struct bpfvm_map *map, struct bpfvm_epoch *d);

/* bpf_spin_lock in values: the bpf(2) layer finds it in the value's BTF
 * and tells the map before first use.  HASH and ARRAY only (-EOPNOTSUPP
 * otherwise, as the kernel); off must be 4-aligned inside the value.
 * Then BPF_F_LOCK works, and copies to and from user space skip the lock
 * word (reads give 0 there), as the kernel's copy_map_value. */
/* May a value of this map type hold a struct bpf_spin_lock? */
bool bpfvm_map_spin_lock_ok(uint32_t map_type);
int bpfvm_map_set_spin_lock(struct bpfvm_map *map, uint32_t off);
/* The helpers bpf_spin_lock / bpf_spin_unlock (a u32, 1 while held). */
void bpfvm_spin_lock(void *lock);
void bpfvm_spin_unlock(void *lock);
/* Value copies for the types: the lock word skipped; locked: under the
 * lock of the value (src if lock_src, else dst); out: zero the lock word
 * in dst (a read for user space). */
void bpfvm_copy_value(const struct bpfvm_map *map, void *dst, const void *src);
void bpfvm_copy_value_locked(const struct bpfvm_map *map, void *dst,
			     const void *src, int lock_src);
void bpfvm_copy_value_out(const struct bpfvm_map *map, void *dst,
			  const void *src, uint64_t flags);
/* BPF_F_LOCK allowed: the map has a spin lock. */
static inline int bpfvm_lock_flag_ok(const struct bpfvm_map *map,
				     uint64_t flags)
{
	return !(flags & BPF_F_LOCK) || map->lock_off >= 0;
}

/* Fill the common fields from attr (kernel: bpf_map_init_from_attr). */
void bpfvm_map_init(struct bpfvm_map *map, const union bpf_attr *attr);

#endif
