/* HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH.
 *
 * Buckets as the kernel's: roundup_pow_of_two(max_entries) chains, jhash of
 * the key with a random seed (0 with BPF_F_ZERO_SEED), new elements at the
 * head of their chain, so GET_NEXT_KEY walks the kernel's order.
 *
 * Locking: what changes a map (updates, deletes, evictions) holds its mutex
 * and makes its sequence count odd meanwhile.  Lookups take no lock, as the
 * kernel's run under RCU: they walk the chain, copy what they need and
 * start again if the count moved (after a few tries, or for values they
 * cannot copy that way, they take the mutex).  Elements are never unmapped
 * while the map lives, so a walk that raced a writer reads stale memory at
 * worst, and every field such a walk reads (heads, links, hashes, keys,
 * plain values) is written and read with atomic word accesses.  An update
 * fills a spare element and swaps it into the chain, so a reader sees the
 * old value or the new one; it writes a live element only for per-CPU
 * values and BPF_F_LOCK (in place, as the kernel) and for one-word values
 * of preallocated maps (one atomic store: see update_locked).
 *
 * Memory: an element leaving the map (delete, replace, eviction) goes to
 * the tail of a per-map free list, and is reused from its head only once 64
 * others (at most 1 MiB of them) wait behind it; elements go back to malloc
 * only when the map is freed.  So a value pointer a running program holds
 * always points into an element of the same map: memory-safe, and it keeps
 * the old value unless 64 more elements were freed meanwhile (the kernel
 * reuses preallocated elements at once; LRU maps here do too).  Without
 * BPF_F_NO_PREALLOC elements come from one block allocated at create time
 * with the buckets (carved on first use, so untouched memory stays
 * untouched; huge pages once it is big, see area_alloc); with it, from
 * malloc.  With an epoch domain (epoch.c), NO_PREALLOC elements instead
 * wait in limbo until no program run that might have seen them is left:
 * the kernel's RCU promise.
 *
 * LRU: a list of live elements, newest first; programs' lookups set a
 * reference bit; eviction takes from the old end, giving referenced elements
 * a second chance.  Like the kernel, an LRU update takes its new element
 * (evicting if needed) before it looks at the flags.  The kernel's LRU is
 * per-CPU and approximate: which element it evicts is not reproduced.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include "jhash.h"
#include "map.h"

#define HTAB_CREATE_FLAG_MASK (BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | \
	BPF_F_NUMA_NODE | BPFVM_F_ACCESS_MASK | BPF_F_ZERO_SEED)

#define KMALLOC_MAX_SIZE (4u << 20)
#define KERNEL_HTAB_ELEM_SIZE 48u /* sizeof(struct htab_elem) in 6.18 */
#define KERNEL_BUCKET_SIZE 16u	  /* sizeof(struct bucket) */
#define PCPU_MIN_UNIT_SIZE 32768u

/* 16 bytes before the key: a lookup's walk touches one cache line per
 * element of a small map (what only LRU and NO_PREALLOC maps need goes
 * after the values). */
struct elem {
	struct elem *next; /* bucket chain, or free list */
	uint32_t hash;
	uint8_t ref; /* LRU: looked up by a program since last scan */
	uint64_t data[]; /* key (round_up 8), then the value(s), then links */
};

/* After the values, in LRU and NO_PREALLOC maps only. */
struct links {
	struct elem *lru_prev, *lru_next;
	uint64_t tag; /* in limbo: the epoch it was retired in */
};

struct htab {
	struct bpfvm_map map;
	pthread_mutex_t lock; /* writers */
	uint32_t seq;	      /* atomic: odd while a writer changes the map */
	uint8_t wordcopy;     /* plain values: copied word by word, atomically */
	uint8_t inplace;      /* one-word values of a preallocated map */
	struct elem **buckets;
	uint32_t n_buckets;
	uint32_t seed;
	uint32_t count; /* live elements */
	size_t elem_size;
	size_t links_off; /* struct links, if any */
	size_t value_off;
	uint32_t vslot; /* round_up(value_size, 8) */
	uint8_t lru, pc;
	/* preallocated block, carved in order */
	uint8_t *pool;
	size_t pool_n, pool_used;
	void *area; /* one mapping: the buckets, then the pool */
	size_t area_len;
	struct elem *free_head, *free_tail; /* malloc'd elements */
	/* preallocated ones: a ring of pool_n, oldest at ring_head (the
	 * freed element itself is not written: its line stays clean) */
	struct elem **ring;
	size_t ring_head;
	size_t nfree, quarantine; /* free elements; how many wait unused */
	struct elem *limbo_head, *limbo_tail; /* epochs: retired, oldest first */
	struct elem *lru_head, *lru_tail; /* newest .. oldest */
	/* HASH_OF_MAPS: values are inner maps (pointers), resolved from
	 * descriptors and released through the bpf(2) layer's callbacks */
	uint8_t of_maps;
	const struct bpfvm_fd_array_ops *fops;
	void *fctx;
	struct bpfvm_map meta;
};

static struct htab *htab_of(struct bpfvm_map *map)
{
	return (struct htab *)map;
}

static int htab_alloc_check(const union bpf_attr *attr)
{
	uint32_t t = attr->map_type;
	int pc = t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	int lru = t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	int percpu_lru = !!(attr->map_flags & BPF_F_NO_COMMON_LRU);
	int prealloc = !(attr->map_flags & BPF_F_NO_PREALLOC);

	/* BPF_F_ZERO_SEED needs CAP_SYS_ADMIN: bpfvm grants it */
	if ((attr->map_flags & ~HTAB_CREATE_FLAG_MASK) ||
	    !bpfvm_map_flags_access_ok(attr->map_flags))
		return -EINVAL;
	if (!lru && percpu_lru)
		return -EINVAL;
	if (lru && !prealloc)
		return -BPFVM_ENOTSUPP;
	if (bpfvm_attr_numa_node(attr) >= 0 && (pc || percpu_lru))
		return -EINVAL;
	if (attr->max_entries == 0 || attr->key_size == 0 ||
	    attr->value_size == 0)
		return -EINVAL;
	if ((uint64_t)attr->key_size + attr->value_size >=
	    KMALLOC_MAX_SIZE - KERNEL_HTAB_ELEM_SIZE)
		return -E2BIG;
	if (pc && bpfvm_round8(attr->value_size) > PCPU_MIN_UNIT_SIZE)
		return -E2BIG;
	return 0;
}

/* The largest value a lookup copies without the lock (through a buffer
 * on its stack: a lookup that fails leaves the caller's buffer alone). */
#define WORDCOPY_MAX 256u

static uint64_t roundup_pow2(uint64_t n)
{
	uint64_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

static void htab_free(struct bpfvm_map *map);

/* Zeroed memory, touched only when used.  A big area (a mapping) is 2 MiB
 * aligned and asks for huge pages: a lookup's two random accesses (bucket,
 * element) then cost no page walks, which in a virtual machine are slow.
 * A small one comes from calloc (sanitizers see its bounds). */
#define HUGE_PAGE ((size_t)2 << 20)
static int area_mapped(size_t len)
{
	return len >= HUGE_PAGE / 2;
}

static void *area_alloc(size_t *len)
{
	size_t n = *len;
	if (!area_mapped(n))
		return calloc(1, n);
	n = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uint8_t *p = mmap(NULL, n + HUGE_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	size_t head = (HUGE_PAGE - (uintptr_t)p % HUGE_PAGE) % HUGE_PAGE;
	if (head)
		munmap(p, head);
	if (HUGE_PAGE - head)
		munmap(p + head + n, HUGE_PAGE - head);
	madvise(p + head, n, MADV_HUGEPAGE); /* a hint: fine if refused */
	*len = n;
	return p + head;
}

static int htab_alloc(const union bpf_attr *attr, struct bpfvm_map **out)
{
	struct htab *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	bpfvm_map_init(&h->map, attr);
	uint32_t t = attr->map_type;
	h->pc = t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	h->lru = t == BPF_MAP_TYPE_LRU_HASH || t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
	h->of_maps = t == BPF_MAP_TYPE_HASH_OF_MAPS;
	if (pthread_mutex_init(&h->lock, NULL)) {
		free(h);
		return -ENOMEM;
	}

	if (attr->map_flags & BPF_F_NO_COMMON_LRU) {
		/* each CPU's LRU list gets the same number of elements */
		uint32_t n = h->map.ncpus, m = attr->max_entries;
		uint64_t up = ((uint64_t)m + n - 1) / n * n;
		h->map.max_entries = up <= UINT32_MAX ? (uint32_t)up : m / n * n;
	}
	int err = -E2BIG;
	uint64_t nb = roundup_pow2(h->map.max_entries);
	if (h->map.max_entries > (1u << 31) || nb > UINT32_MAX / KERNEL_BUCKET_SIZE)
		goto fail;
	h->n_buckets = (uint32_t)nb;
	/* a map of maps keeps a pointer where user space sees a u32 fd/id */
	h->vslot = h->of_maps ? 8 : bpfvm_round8(attr->value_size);
	h->value_off = bpfvm_round8(attr->key_size);
	h->links_off = sizeof(struct elem) + h->value_off +
		       (size_t)h->vslot * (h->pc ? h->map.ncpus : 1);
	h->elem_size = h->links_off;
	/* values lock-free lookups may copy out (locks, per-CPU values and
	 * inner maps take the mutex) */
	h->wordcopy = !h->pc && !h->of_maps && h->vslot <= WORDCOPY_MAX;
	h->inplace = h->wordcopy && !h->lru && h->vslot == 8 &&
		     !(attr->map_flags & BPF_F_NO_PREALLOC);
	if (h->lru || (attr->map_flags & BPF_F_NO_PREALLOC))
		h->elem_size += sizeof(struct links);
	if (attr->map_flags & BPF_F_ZERO_SEED)
		h->seed = 0;
	else if (getrandom(&h->seed, sizeof(h->seed), 0) != sizeof(h->seed))
		h->seed = (uint32_t)(uintptr_t)h ^ 0x9e3779b9u;

	/* up to 64 freed elements (at most 1 MiB of them) wait before reuse */
	h->quarantine = ((size_t)1 << 20) / h->elem_size;
	if (h->quarantine > 64)
		h->quarantine = 64;
	if (h->lru)
		h->quarantine = 0; /* exactly max_entries elements, as the kernel */

	err = -ENOMEM;
	size_t blen = ((size_t)h->n_buckets * sizeof(*h->buckets) + 63) & ~(size_t)63;
	if (!(attr->map_flags & BPF_F_NO_PREALLOC)) {
		/* one spare element: a replace fills it before the old goes */
		h->pool_n = (size_t)h->map.max_entries +
			    (h->lru ? 0 : 1 + h->quarantine);
		if (bpfvm_map_area_too_big((uint64_t)h->pool_n * h->elem_size))
			goto fail;
	}
	h->area_len = blen + h->pool_n * h->elem_size; /* <= 1 GiB + the limit */
	h->area = area_alloc(&h->area_len);
	if (!h->area)
		goto fail;
	h->buckets = h->area;
	if (h->pool_n) {
		h->pool = (uint8_t *)h->area + blen;
		if (!(h->ring = malloc(h->pool_n * sizeof(*h->ring))))
			goto fail;
	}
	*out = &h->map;
	return 0;
fail:
	htab_free(&h->map);
	return err;
}

static void *obj_of(struct htab *h, struct elem *e);
static void obj_put(struct htab *h, void *obj);

static void htab_free(struct bpfvm_map *map)
{
	struct htab *h = htab_of(map);
	for (uint32_t b = 0; h->of_maps && h->buckets && b < h->n_buckets; b++)
		for (struct elem *e = h->buckets[b]; e; e = e->next)
			obj_put(h, obj_of(h, e));
	if (!h->pool) {
		/* malloc'd elements are either in a chain or free */
		for (uint32_t b = 0; h->buckets && b < h->n_buckets; b++)
			for (struct elem *e = h->buckets[b], *n; e; e = n) {
				n = e->next;
				free(e);
			}
		for (struct elem *e = h->free_head, *n; e; e = n) {
			n = e->next;
			free(e);
		}
		for (struct elem *e = h->limbo_head, *n; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	if (h->area && area_mapped(h->area_len))
		munmap(h->area, h->area_len);
	else
		free(h->area);
	pthread_mutex_destroy(&h->lock);
	free(h->ring);
	free(h);
}

static uint8_t *key_of(struct elem *e)
{
	return (uint8_t *)e->data;
}

static uint8_t *value_of(struct htab *h, struct elem *e, uint32_t cpu)
{
	return (uint8_t *)e->data + h->value_off + (size_t)h->vslot * cpu;
}

static uint32_t hash_key(struct htab *h, const void *key)
{
	return bpfvm_jhash(key, h->map.key_size, h->seed);
}

static struct elem **bucket(struct htab *h, uint32_t hash)
{
	return &h->buckets[hash & (h->n_buckets - 1)];
}

/* ---- what lock-free lookups read: atomic words ---------------------------- */

static struct elem *ld(struct elem **p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void st(struct elem **p, struct elem *e)
{
	__atomic_store_n(p, e, __ATOMIC_RELEASE);
}

/* n bytes from src into element words (the tail word zero-padded). */
static void words_store(uint64_t *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	size_t i = 0;
	uint64_t w;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		__atomic_store_n(&dst[i / 8], w, __ATOMIC_RELEASE);
	}
	if (i < n) {
		w = 0;
		memcpy(&w, s + i, n - i);
		__atomic_store_n(&dst[i / 8], w, __ATOMIC_RELEASE);
	}
}

/* n bytes of element words into dst. */
static void words_load(void *dst, const uint64_t *src, size_t n)
{
	uint8_t *d = dst;
	size_t i = 0;
	uint64_t w;
	for (; i + 8 <= n; i += 8) {
		w = __atomic_load_n(&src[i / 8], __ATOMIC_ACQUIRE);
		memcpy(d + i, &w, 8);
	}
	if (i < n) {
		w = __atomic_load_n(&src[i / 8], __ATOMIC_ACQUIRE);
		memcpy(d + i, &w, n - i);
	}
}

/* Whether the element's key is key (u32 and u64 keys inline). */
static int key_eq(const uint64_t *a, const void *key, uint32_t size)
{
	uint64_t w, k;
	uint32_t lo, k32;
	switch (size) {
	case 4:
		w = __atomic_load_n(a, __ATOMIC_ACQUIRE);
		memcpy(&lo, &w, 4);
		memcpy(&k32, key, 4);
		return lo == k32;
	case 8:
		memcpy(&k, key, 8);
		return __atomic_load_n(a, __ATOMIC_ACQUIRE) == k;
	default:
		for (size_t i = 0; i < size; i += 8) {
			size_t n = size - i < 8 ? size - i : 8;
			w = __atomic_load_n(&a[i / 8], __ATOMIC_ACQUIRE);
			if (memcmp(&w, (const uint8_t *)key + i, n))
				return 0;
		}
		return 1;
	}
}

/* Longer walks (or a walk gone round a recycled element) take the lock. */
#define WALK_MAX 64
#define READ_TRIES 4

/* The element of key: 0 and *out (NULL if none), or -1 if the walk went
 * on too long.  Exact under the mutex; without it, only if the sequence
 * count did not move meanwhile. */
static int walk(struct htab *h, uint32_t hash, const void *key,
		struct elem **out)
{
	struct elem *e = ld(bucket(h, hash));
	for (int n = 0; e; n++, e = ld(&e->next)) {
		if (n == WALK_MAX)
			return -1;
		if (__atomic_load_n(&e->hash, __ATOMIC_ACQUIRE) == hash &&
		    key_eq(e->data, key, h->map.key_size))
			break;
	}
	*out = e;
	return 0;
}

/* Under the mutex. */
static struct elem *find(struct htab *h, uint32_t hash, const void *key)
{
	for (struct elem *e = *bucket(h, hash); e; e = e->next)
		if (e->hash == hash && key_eq(e->data, key, h->map.key_size))
			return e;
	return NULL;
}

/* The sequence count: writers (under the mutex) make it odd while they
 * change the map; a reader's copy is good if it saw the same even count
 * before and after.  No fences: writers store what readers read with
 * release, readers load it with acquire (plain moves on x86), so a reader
 * that saw any store of a writer sees at least its odd count after. */
static void write_begin(struct htab *h)
{
	pthread_mutex_lock(&h->lock);
	uint32_t q = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&h->seq, q + 1, __ATOMIC_RELAXED);
}

static void write_end(struct htab *h)
{
	uint32_t q = __atomic_load_n(&h->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&h->seq, q + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&h->lock);
}

static uint32_t read_begin(struct htab *h)
{
	return __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
}

static int read_ok(struct htab *h, uint32_t q)
{
	return !(q & 1) && __atomic_load_n(&h->seq, __ATOMIC_RELAXED) == q;
}

static void chain_remove(struct htab *h, struct elem *e)
{
	struct elem **p = bucket(h, e->hash);
	while (*p != e)
		p = &(*p)->next;
	st(p, e->next);
}

static struct links *links_of(struct htab *h, struct elem *e)
{
	return (struct links *)((uint8_t *)e + h->links_off);
}

static void lru_unlink(struct htab *h, struct elem *e)
{
	struct links *l = links_of(h, e);
	if (l->lru_prev)
		links_of(h, l->lru_prev)->lru_next = l->lru_next;
	else
		h->lru_head = l->lru_next;
	if (l->lru_next)
		links_of(h, l->lru_next)->lru_prev = l->lru_prev;
	else
		h->lru_tail = l->lru_prev;
	l->lru_prev = l->lru_next = NULL;
}

static void lru_push_head(struct htab *h, struct elem *e)
{
	struct links *l = links_of(h, e);
	l->lru_prev = NULL;
	l->lru_next = h->lru_head;
	if (h->lru_head)
		links_of(h, h->lru_head)->lru_prev = e;
	else
		h->lru_tail = e;
	h->lru_head = e;
}

/* Link a filled element in as live. */
static void link_elem(struct htab *h, struct elem *e)
{
	struct elem **b = bucket(h, e->hash);
	st(&e->next, *b);
	st(b, e);
	if (h->lru)
		lru_push_head(h, e);
}

/* With epochs, a NO_PREALLOC element waits in limbo until no run can hold
 * it; preallocated ones are reused at once, as the kernel's. */
static int uses_epochs(struct htab *h)
{
	return h->map.epoch && !h->pool;
}

static void free_push(struct htab *h, struct elem *e)
{
	if (uses_epochs(h)) {
		st(&e->next, NULL);
		links_of(h, e)->tag = bpfvm_epoch_retire(h->map.epoch);
		if (h->limbo_tail)
			st(&h->limbo_tail->next, e);
		else
			h->limbo_head = e;
		h->limbo_tail = e;
		return;
	}
	if (h->ring) {
		size_t i = h->ring_head + h->nfree;
		h->ring[i < h->pool_n ? i : i - h->pool_n] = e;
		h->nfree++;
		return;
	}
	st(&e->next, NULL);
	if (h->free_tail)
		st(&h->free_tail->next, e);
	else
		h->free_head = e;
	h->free_tail = e;
	h->nfree++;
}

/* A map of maps' value: the inner map. */
static void *obj_of(struct htab *h, struct elem *e)
{
	return __atomic_load_n((void **)value_of(h, e, 0), __ATOMIC_ACQUIRE);
}

static void obj_put(struct htab *h, void *obj)
{
	if (obj && h->fops && h->fops->put)
		h->fops->put(h->fctx, obj);
}

/* A live element leaves the map (its inner map is released). */
static void unlink_elem(struct htab *h, struct elem *e)
{
	if (h->of_maps)
		obj_put(h, obj_of(h, e));
	chain_remove(h, e);
	if (h->lru)
		lru_unlink(h, e);
	h->count--;
	free_push(h, e);
}

static struct elem *free_pop(struct htab *h)
{
	if (h->ring) {
		if (!h->nfree)
			return NULL;
		struct elem *e = h->ring[h->ring_head];
		if (++h->ring_head == h->pool_n)
			h->ring_head = 0;
		h->nfree--;
		return e;
	}
	struct elem *e = h->free_head;
	if (e) {
		h->free_head = e->next;
		if (!h->free_head)
			h->free_tail = NULL;
		h->nfree--;
	}
	return e;
}

/* An unused element.  A freed one is reused only once `quarantine` others
 * wait behind it (oldest first), so a program still reading it most likely
 * has finished; until then new ones come from the block or malloc. */
static struct elem *elem_get(struct htab *h)
{
	struct elem *e = NULL;
	if (uses_epochs(h)) {
		e = h->limbo_head;
		if (e && bpfvm_epoch_safe(h->map.epoch, links_of(h, e)->tag)) {
			h->limbo_head = e->next;
			if (!h->limbo_head)
				h->limbo_tail = NULL;
			return e;
		}
		return calloc(1, h->elem_size);
	}
	if (h->nfree > h->quarantine)
		return free_pop(h);
	if (h->pool && h->pool_used < h->pool_n)
		e = (struct elem *)(h->pool + h->pool_used++ * h->elem_size);
	else if (!h->pool)
		e = calloc(1, h->elem_size);
	return e ? e : free_pop(h);
}

/* LRU: a free element, evicting the least recently used if none. */
static struct elem *lru_pop(struct htab *h)
{
	struct elem *e = elem_get(h);
	while (!e && h->lru_tail) {
		struct elem *old = h->lru_tail;
		if (__atomic_load_n(&old->ref, __ATOMIC_RELAXED)) {
			__atomic_store_n(&old->ref, 0, __ATOMIC_RELAXED);
			lru_unlink(h, old);
			lru_push_head(h, old);
			continue;
		}
		unlink_elem(h, old);
		e = elem_get(h);
	}
	return e;
}

static int check_flags(struct elem *old, uint64_t flags)
{
	if (old && (flags & ~(uint64_t)BPF_F_LOCK) == BPF_NOEXIST)
		return -EEXIST;
	if (!old && (flags & ~(uint64_t)BPF_F_LOCK) == BPF_EXIST)
		return -ENOENT;
	return 0;
}

/* Per-CPU values: one CPU's from a program, every CPU's from user space
 * (whole round_up(value_size, 8) slots, padding included, as the kernel
 * copies them).  init: a new element, other CPUs 0. */
static void pcpu_copy(struct htab *h, struct elem *e, const void *value,
		      uint32_t cpu, int init)
{
	const uint8_t *v = value;
	for (uint32_t c = 0; c < h->map.ncpus; c++) {
		uint8_t *dst = value_of(h, e, c);
		if (cpu == BPFVM_ALL_CPUS)
			memcpy(dst, v + (size_t)c * h->vslot, h->vslot);
		else if (c == cpu)
			memcpy(dst, v, h->map.value_size);
		else if (init)
			memset(dst, 0, h->vslot);
	}
}

static void fill(struct htab *h, struct elem *e, uint32_t hash,
		 const void *key, const void *value, uint32_t cpu)
{
	__atomic_store_n(&e->hash, hash, __ATOMIC_RELEASE);
	__atomic_store_n(&e->ref, 0, __ATOMIC_RELAXED);
	words_store(e->data, key, h->map.key_size);
	if (h->pc) {
		pcpu_copy(h, e, value, cpu, 1);
	} else if (h->of_maps) {
		void *obj;
		memcpy(&obj, value, sizeof(obj));
		__atomic_store_n((void **)value_of(h, e, 0), obj, __ATOMIC_RELEASE);
	} else if (h->wordcopy && h->map.lock_off < 0) {
		words_store((uint64_t *)value_of(h, e, 0), value, h->map.value_size);
	} else {
		uint8_t *v = value_of(h, e, 0);
		bpfvm_copy_value(&h->map, v, value);
		if (h->map.lock_off >= 0) /* a reused element's lock is free */
			memset(v + h->map.lock_off, 0, 4);
	}
}

static int update_locked(struct htab *h, const void *key, uint32_t hash,
			 const void *value, uint64_t flags, uint32_t cpu)
{
	struct elem *old = find(h, hash, key), *e;
	int err = check_flags(old, flags);
	if (err)
		return err;
	if (old && h->pc) {
		pcpu_copy(h, old, value, cpu, 0);
		return 0;
	}
	if (old && (flags & BPF_F_LOCK)) {
		/* in place, under the value's own lock, as the kernel */
		bpfvm_copy_value_locked(&h->map, value_of(h, old, 0), value, 0);
		return 0;
	}
	if (old && h->inplace && h->map.lock_off < 0) {
		/* a one-word value of a preallocated map: the element moves
		 * to the head of its chain (where a replace puts the new one,
		 * so GET_NEXT_KEY's order is the kernel's) and takes the value
		 * in one atomic store.  Readers see the old value or the new
		 * one (user space through the sequence count, programs through
		 * the single store); a program's pointer into the element may
		 * see the new value, as the kernel's preallocated maps, which
		 * reuse a freed element at once, may show it a later value */
		struct elem **b = bucket(h, hash);
		if (*b != old) {
			chain_remove(h, old);
			st(&old->next, *b);
			st(b, old);
		}
		uint64_t w = 0;
		if (h->map.value_size == 8) /* the usual u64: no call */
			memcpy(&w, value, 8);
		else
			memcpy(&w, value, h->map.value_size);
		__atomic_store_n((uint64_t *)value_of(h, old, 0), w,
				 __ATOMIC_RELEASE);
		return 0;
	}
	if (!old && h->count >= h->map.max_entries)
		return -E2BIG;
	e = elem_get(h);
	if (!e)
		return -ENOMEM;
	fill(h, e, hash, key, value, cpu);
	link_elem(h, e);
	h->count++;
	if (old)
		unlink_elem(h, old);
	return 0;
}

/* LRU: the new element first, then the flags (as the kernel: a failing
 * update of a full map still evicts). */
static int lru_update_locked(struct htab *h, const void *key, uint32_t hash,
			     const void *value, uint64_t flags, uint32_t cpu)
{
	struct elem *e = NULL, *old;
	if (!h->pc || (flags & ~(uint64_t)BPF_F_LOCK) != BPF_EXIST) {
		e = lru_pop(h);
		if (!e)
			return -ENOMEM;
	}
	old = find(h, hash, key);
	int err = check_flags(old, flags);
	if (!err && old && h->pc) {
		__atomic_store_n(&old->ref, 1, __ATOMIC_RELAXED);
		pcpu_copy(h, old, value, cpu, 0);
	} else if (!err) {
		fill(h, e, hash, key, value, cpu);
		link_elem(h, e);
		h->count++;
		if (old) {
			e->ref = 1;
			unlink_elem(h, old);
		}
		e = NULL;
	}
	if (e)
		free_push(h, e);
	return err;
}

static int update(struct htab *h, const void *key, const void *value,
		  uint64_t flags, uint32_t cpu);

/* A map of maps: the descriptor first (EBADF, EINVAL for a map of another
 * shape), then the update proper with the inner map's pointer, as the
 * kernel's bpf_fd_htab_map_update_elem. */
static int of_maps_update(struct htab *h, const void *key, const void *value,
			  uint64_t flags)
{
	int32_t fd;
	int err = -EBADF;
	memcpy(&fd, value, sizeof(fd));
	void *obj = h->fops && h->fops->get
		? h->fops->get(h->fctx, &h->map, fd, &err) : NULL;
	if (!obj)
		return err;
	if (!bpfvm_map_meta_equal(&h->meta, obj)) {
		obj_put(h, obj);
		return -EINVAL;
	}
	err = update(h, key, &obj, flags, 0);
	if (err)
		obj_put(h, obj);
	return err;
}

static int htab_update(struct bpfvm_map *map, const void *key,
		       const void *value, uint64_t flags, uint32_t cpu)
{
	struct htab *h = htab_of(map);
	if (h->of_maps) /* programs cannot store maps (the verifier agrees) */
		return cpu == BPFVM_ALL_CPUS ? of_maps_update(h, key, value, flags)
					     : -EINVAL;
	return update(h, key, value, flags, cpu);
}

static int update(struct htab *h, const void *key, const void *value,
		  uint64_t flags, uint32_t cpu)
{
	struct bpfvm_map *map = &h->map;
	if (h->lru ? flags > BPF_EXIST : (flags & ~(uint64_t)BPF_F_LOCK) > BPF_EXIST)
		return -EINVAL;
	if (!bpfvm_lock_flag_ok(map, flags))
		return -EINVAL;
	uint32_t hash = hash_key(h, key);
	write_begin(h);
	int err = h->lru ? lru_update_locked(h, key, hash, value, flags, cpu)
			 : update_locked(h, key, hash, value, flags, cpu);
	write_end(h);
	return err;
}

/* A program's lookup: the value's address (memory of the map for as long
 * as the map lives), or for a map of maps the inner map itself. */
static void *htab_lookup(struct bpfvm_map *map, const void *key, uint32_t cpu)
{
	struct htab *h = htab_of(map);
	uint32_t hash = hash_key(h, key);
	struct elem *e;
	void *obj = NULL;
	for (int t = 0; t < READ_TRIES; t++) {
		uint32_t q = read_begin(h);
		if (walk(h, hash, key, &e))
			break;
		if (e && h->of_maps)
			obj = obj_of(h, e);
		if (read_ok(h, q))
			goto found;
	}
	pthread_mutex_lock(&h->lock);
	e = find(h, hash, key);
	if (e && h->of_maps)
		obj = obj_of(h, e);
	pthread_mutex_unlock(&h->lock);
found:
	if (!e)
		return NULL;
	if (h->lru && !__atomic_load_n(&e->ref, __ATOMIC_RELAXED))
		__atomic_store_n(&e->ref, 1, __ATOMIC_RELAXED);
	return h->of_maps ? obj : value_of(h, e, h->pc ? cpu : 0);
}

/* The value as user space gets it (every CPU's, 8-byte slots). */
static void copy_out(struct htab *h, struct elem *e, void *out, uint64_t flags)
{
	if (h->pc) {
		memcpy(out, value_of(h, e, 0), (size_t)h->vslot * h->map.ncpus);
	} else if (h->of_maps) { /* the inner map's id */
		void *obj = obj_of(h, e);
		uint32_t id = h->fops && h->fops->id ? h->fops->id(h->fctx, obj) : 0;
		memcpy(out, &id, sizeof(id));
	} else {
		bpfvm_copy_value_out(&h->map, out, value_of(h, e, 0), flags);
	}
}

static int htab_copy_value(struct bpfvm_map *map, const void *key, void *out,
			   uint64_t flags)
{
	struct htab *h = htab_of(map);
	uint32_t hash = hash_key(h, key);
	struct elem *e;
	if (h->wordcopy && h->map.lock_off < 0) {
		/* lock-free: into a buffer, handed out once known good */
		uint64_t buf[WORDCOPY_MAX / 8];
		for (int t = 0; t < READ_TRIES; t++) {
			uint32_t q = read_begin(h);
			if (walk(h, hash, key, &e))
				break;
			if (e)
				words_load(buf, (uint64_t *)value_of(h, e, 0),
					   map->value_size);
			if (read_ok(h, q)) {
				if (!e)
					return -ENOENT;
				if (map->value_size == 8) /* no call */
					memcpy(out, buf, 8);
				else
					memcpy(out, buf, map->value_size);
				return 0;
			}
		}
	}
	pthread_mutex_lock(&h->lock);
	e = find(h, hash, key);
	if (e)
		copy_out(h, e, out, flags);
	pthread_mutex_unlock(&h->lock);
	return e ? 0 : -ENOENT;
}

static int htab_delete(struct bpfvm_map *map, const void *key)
{
	struct htab *h = htab_of(map);
	uint32_t hash = hash_key(h, key);
	write_begin(h);
	struct elem *e = find(h, hash, key);
	if (e)
		unlink_elem(h, e);
	write_end(h);
	return e ? 0 : -ENOENT;
}

static int htab_lookup_and_delete(struct bpfvm_map *map, const void *key,
				  void *out, uint64_t flags)
{
	struct htab *h = htab_of(map);
	uint32_t hash = hash_key(h, key);
	write_begin(h);
	struct elem *e = find(h, hash, key);
	if (e) {
		copy_out(h, e, out, flags);
		unlink_elem(h, e);
	}
	write_end(h);
	return e ? 0 : -ENOENT;
}

/* The kernel's order: the rest of the key's chain, then the next non-empty
 * buckets.  A key not in the map (or NULL) restarts from the first. */
static int htab_get_next_key(struct bpfvm_map *map, const void *key,
			     void *next)
{
	struct htab *h = htab_of(map);
	struct elem *e = NULL;
	uint32_t b = 0;
	pthread_mutex_lock(&h->lock);
	if (key) {
		uint32_t hash = hash_key(h, key);
		struct elem *cur = find(h, hash, key);
		if (cur) {
			e = cur->next;
			b = (hash & (h->n_buckets - 1)) + 1;
		}
	}
	for (; !e && b < h->n_buckets; b++)
		e = h->buckets[b];
	if (e)
		memcpy(next, key_of(e), map->key_size);
	pthread_mutex_unlock(&h->lock);
	return e ? 0 : -ENOENT;
}

static void *htab_lookup_percpu(struct bpfvm_map *map, const void *key,
				uint32_t cpu)
{
	if (cpu >= map->ncpus || !htab_of(map)->pc)
		return NULL;
	return htab_lookup(map, key, cpu);
}

/* Bucket by bucket: the chain's elements are noted under the lock and the
 * callback runs without it, so it may update or delete in this map (as the
 * kernel's RCU walk allows).  An element deleted meanwhile may be seen with
 * its old or a reused content, never unmapped memory. */
static long htab_for_each(struct bpfvm_map *map, bpfvm_map_cb cb, void *ctx,
			  uint32_t cpu)
{
	struct htab *h = htab_of(map);
	struct elem *local[16], **snap = local;
	size_t cap = 16;
	long n = 0;
	for (uint32_t b = 0; b < h->n_buckets; b++) {
		size_t len = 0;
		pthread_mutex_lock(&h->lock);
		for (struct elem *e = h->buckets[b]; e; e = e->next) {
			if (len == cap) {
				struct elem **big = malloc(2 * cap * sizeof(*big));
				if (!big)
					break; /* the rest of this chain is skipped */
				memcpy(big, snap, len * sizeof(*big));
				if (snap != local)
					free(snap);
				snap = big;
				cap *= 2;
			}
			snap[len++] = e;
		}
		pthread_mutex_unlock(&h->lock);
		for (size_t i = 0; i < len; i++) {
			n++;
			if (cb(map, key_of(snap[i]),
			       value_of(h, snap[i], h->pc ? cpu : 0), ctx))
				goto out;
		}
	}
out:
	if (snap != local)
		free(snap);
	return n;
}

/* Bucket-wise batch, as the kernel: whole buckets only (ENOSPC if the
 * first does not fit), in_batch/out_batch a u32 bucket index, ENOENT once
 * the last bucket is done. */
static int htab_batch(struct bpfvm_map *map, struct bpfvm_batch *b, int delete)
{
	struct htab *h = htab_of(map);
	if ((b->elem_flags & ~(uint64_t)BPF_F_LOCK) ||
	    !bpfvm_lock_flag_ok(map, b->elem_flags))
		return -EINVAL;
	if (b->flags)
		return -EINVAL;
	uint32_t max = b->count, total = 0, bucket = 0;
	if (!max)
		return 0;
	b->count = 0;
	if (b->in_batch)
		memcpy(&bucket, b->in_batch, sizeof(bucket));
	if (bucket >= h->n_buckets)
		return -ENOENT;
	size_t ks = map->key_size, vs = bpfvm_map_value_size(map);
	int err = 0;
	if (delete)
		write_begin(h);
	else
		pthread_mutex_lock(&h->lock);
	for (;;) {
		uint32_t n = 0;
		for (struct elem *e = h->buckets[bucket]; e; e = e->next)
			n++;
		if (n > max - total) {
			if (!total)
				err = -ENOSPC;
			break;
		}
		for (struct elem *e = h->buckets[bucket], *next; e; e = next) {
			next = e->next;
			memcpy((uint8_t *)b->keys + (size_t)total * ks, key_of(e), ks);
			copy_out(h, e, (uint8_t *)b->values + (size_t)total * vs,
				 b->elem_flags);
			total++;
			if (delete)
				unlink_elem(h, e);
		}
		if (++bucket >= h->n_buckets) {
			err = -ENOENT;
			break;
		}
	}
	if (delete)
		write_end(h);
	else
		pthread_mutex_unlock(&h->lock);
	memcpy(b->out_batch, &bucket, sizeof(bucket));
	b->count = total;
	return err;
}

static int htab_lookup_batch(struct bpfvm_map *map, struct bpfvm_batch *b)
{
	return htab_batch(map, b, 0);
}

static int htab_lookup_and_delete_batch(struct bpfvm_map *map,
					struct bpfvm_batch *b)
{
	return htab_batch(map, b, 1);
}

#define HTAB_OPS(NAME)					\
	const struct bpfvm_map_ops NAME = {		\
		.alloc_check = htab_alloc_check,	\
		.alloc = htab_alloc,			\
		.free = htab_free,			\
		.lookup = htab_lookup,			\
		.copy_value = htab_copy_value,		\
		.update = htab_update,			\
		.delete = htab_delete,			\
		.lookup_and_delete = htab_lookup_and_delete, \
		.get_next_key = htab_get_next_key,	\
		.lookup_percpu = htab_lookup_percpu,	\
		.for_each = htab_for_each,		\
		.lookup_batch = htab_lookup_batch,	\
		.lookup_and_delete_batch = htab_lookup_and_delete_batch, \
		.update_batch = bpfvm_generic_update_batch, \
		.delete_batch = bpfvm_generic_delete_batch, \
	}

HTAB_OPS(bpfvm_hash_ops);
HTAB_OPS(bpfvm_percpu_hash_ops);
HTAB_OPS(bpfvm_lru_hash_ops);
HTAB_OPS(bpfvm_lru_percpu_hash_ops);

static int hom_alloc_check(const union bpf_attr *attr)
{
	if (attr->value_size != 4)
		return -EINVAL; /* a descriptor */
	return htab_alloc_check(attr);
}

static void hom_bind(struct bpfvm_map *map, const struct bpfvm_fd_array_ops *fops,
		     void *ctx, const struct bpfvm_map *meta)
{
	struct htab *h = htab_of(map);
	h->fops = fops;
	h->fctx = ctx;
	if (meta)
		h->meta = *meta;
}

struct bpfvm_map *bpfvm_hash_of_maps_meta(struct bpfvm_map *outer)
{
	return &htab_of(outer)->meta;
}

/* The kernel's HASH_OF_MAPS: no LOOKUP_AND_DELETE, no for_each. */
const struct bpfvm_map_ops bpfvm_hash_of_maps_ops = {
	.alloc_check = hom_alloc_check,
	.alloc = htab_alloc,
	.free = htab_free,
	.lookup = htab_lookup,
	.copy_value = htab_copy_value,
	.update = htab_update,
	.delete = htab_delete,
	.get_next_key = htab_get_next_key,
	.lookup_batch = htab_lookup_batch,
	.lookup_and_delete_batch = htab_lookup_and_delete_batch,
	.update_batch = bpfvm_generic_update_batch,
	.delete_batch = bpfvm_generic_delete_batch,
	.bind = hom_bind,
};
