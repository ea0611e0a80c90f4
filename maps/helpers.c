/* The map helpers, by kernel id (kernel/bpf/helpers.c, ringbuf.c,
 * queue_stack_maps.c, bpf_for_each_map_elem), over the map layer's
 * *_prog entry points, which give the kernel's return values.
 *
 * Unchecked runs trust the program, as the kernel trusts verified code: a
 * helper casts r1 to the map and goes.  Checked runs check what the
 * verifier would have: r1 is one of the program's maps, the map type suits
 * the helper (the kernel's check_map_func_compatibility), every buffer lies
 * in the run's memory, and the values handed out become memory the program
 * may touch.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "helpers.h"
#include "vm_internal.h"

/* An array's values: one block of count slots of stride bytes, each
 * holding vsize bytes a program may touch (len 0: not an array). */
struct area {
	uintptr_t base;
	size_t len;
	uint32_t stride, vsize;
};

/* Checked runs: the value addresses handed out so far for one map that is
 * not an array.  Such a value stays the map's memory until the map is freed
 * (hash elements and trie nodes are only reused, see hash.c), and the
 * attached maps outlive the attachment, so once handed out an address may
 * be used by any later run.  Open addressing over bases, hashed by
 * base >> shift where 1 << shift >= value_size: an address inside a value
 * is in the base's bucket or the next.  Readers take no lock: entries are
 * only added (atomically), and a table outgrown is kept until detach. */
struct vtab {
	struct vtab *older; /* retired tables */
	size_t cap;	    /* a power of two */
	uintptr_t slot[];   /* 0: empty */
};

struct vset {
	pthread_mutex_t lock; /* writers */
	struct vtab *cur;     /* atomic */
	size_t n;	      /* entries, <= cap / 2 */
	unsigned shift;
	uint32_t vsize;
	bool used; /* the map's lookups give values and it is no array */
};

/* The per-VM state, the helpers' cookie.  Read-only once attached but for
 * the value sets.  What a run takes (spin locks, ring-buffer samples) is
 * the run's (bpfvm_call_hold), so a stopped run leaves nothing behind. */
struct state {
	size_t n;
	struct bpfvm_map **maps;
	struct area *areas;
	struct vset *sets; /* per map */
	/* the maps' epoch domains, each entered for every run (run scope) */
	struct bpfvm_epoch **doms;
	unsigned ndoms;
};

#define MAX_DOMS 64 /* one bit of the scope's token each */

/* ---- which helper may use which map type (checked runs) --------------- */

enum {
	H_LOOKUP, H_UPDATE, H_DELETE, H_PUSH, H_POP, H_PEEK, H_RB_OUTPUT,
	H_RB_RESERVE, H_RB_QUERY, H_FOR_EACH, H_LOOKUP_PERCPU,
};

#define B(h) (1u << (h))
#define PLAIN (B(H_LOOKUP) | B(H_UPDATE) | B(H_DELETE) | B(H_FOR_EACH))
#define QUEUE (B(H_PUSH) | B(H_POP) | B(H_PEEK))

/* kernel: check_map_func_compatibility, both directions; types missing
 * here allow nothing */
static const uint16_t type_helpers[] = {
	[BPF_MAP_TYPE_HASH] = PLAIN,
	[BPF_MAP_TYPE_ARRAY] = PLAIN,
	[BPF_MAP_TYPE_PERCPU_HASH] = PLAIN | B(H_LOOKUP_PERCPU),
	[BPF_MAP_TYPE_PERCPU_ARRAY] = PLAIN | B(H_LOOKUP_PERCPU),
	[BPF_MAP_TYPE_LRU_HASH] = PLAIN,
	[BPF_MAP_TYPE_LRU_PERCPU_HASH] = PLAIN | B(H_LOOKUP_PERCPU),
	[BPF_MAP_TYPE_LPM_TRIE] = B(H_LOOKUP) | B(H_UPDATE) | B(H_DELETE),
	[BPF_MAP_TYPE_ARRAY_OF_MAPS] = B(H_LOOKUP),
	[BPF_MAP_TYPE_HASH_OF_MAPS] = B(H_LOOKUP),
	[BPF_MAP_TYPE_QUEUE] = QUEUE,
	[BPF_MAP_TYPE_STACK] = QUEUE,
	[BPF_MAP_TYPE_RINGBUF] = B(H_RB_OUTPUT) | B(H_RB_RESERVE) |
				 B(H_RB_QUERY),
};

static const char *const hname[] = {
	[H_LOOKUP] = "map_lookup_elem",
	[H_UPDATE] = "map_update_elem",
	[H_DELETE] = "map_delete_elem",
	[H_PUSH] = "map_push_elem",
	[H_POP] = "map_pop_elem",
	[H_PEEK] = "map_peek_elem",
	[H_RB_OUTPUT] = "ringbuf_output",
	[H_RB_RESERVE] = "ringbuf_reserve",
	[H_RB_QUERY] = "ringbuf_query",
	[H_FOR_EACH] = "for_each_map_elem",
	[H_LOOKUP_PERCPU] = "map_lookup_percpu_elem",
};

static struct state *state_of(struct bpfvm_call *call)
{
	return call->cookie;
}

static int of_maps(const struct bpfvm_map *m)
{
	return m->map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
	       m->map_type == BPF_MAP_TYPE_HASH_OF_MAPS;
}

/* Is inner a map that map-in-map outer holds now?  (Checked runs only:
 * a walk of outer, bounded: a key deleted meanwhile restarts the walk.) */
static int holds(struct bpfvm_map *outer, const struct bpfvm_map *inner)
{
	uint8_t stack_key[64];
	uint8_t *key = outer->key_size <= sizeof stack_key
			       ? stack_key : malloc(outer->key_size);
	int found = 0;
	if (!key)
		return 0;
	int err = bpfvm_map_get_next_key(outer, NULL, key);
	for (uint64_t i = 0; !err && !found && i <= outer->max_entries; i++) {
		found = bpfvm_map_lookup_prog(outer, key, 0) == inner;
		err = bpfvm_map_get_next_key(outer, key, key);
	}
	if (key != stack_key)
		free(key);
	return found;
}

/* Checked runs: an inner map a lookup handed out is the run's to use until
 * it ends, even once its outer slot changes (the kernel's RCU; the epoch
 * keeps it alive): a hold with nothing to release. */
static void inner_release(struct bpfvm_call *call, void *inner, int64_t pc)
{
	(void)call, (void)inner, (void)pc;
}

static int inner_seen(const struct bpfvm_run *run, uint64_t p)
{
	for (unsigned i = 0; i < run->nholds; i++)
		if (run->holds[i].release == inner_release &&
		    (uintptr_t)run->holds[i].obj == p)
			return 1;
	return 0;
}

static int known_map(struct bpfvm_call *call, uint64_t p)
{
	const struct state *s = state_of(call);
	for (size_t i = 0; i < s->n; i++)
		if ((uintptr_t)s->maps[i] == p)
			return 1;
	if (inner_seen(call->run, p))
		return 1;
	for (size_t i = 0; i < s->n; i++)
		if (of_maps(s->maps[i]) &&
		    holds(s->maps[i], (const struct bpfvm_map *)(uintptr_t)p))
			return 1;
	return 0;
}

/* r1 as a map for helper h, or NULL with the run stopped. */
static struct bpfvm_map *map_arg(struct bpfvm_call *call, uint64_t r1, int h)
{
	struct bpfvm_map *m = (struct bpfvm_map *)(uintptr_t)r1;
	if (!call->run->checked)
		return m;
	struct bpfvm_run *run = call->run;
	if (!known_map(call, r1)) {
		bpfvm_run_fail(run, -EINVAL, run->call_pc,
			       "%s: r1 0x%" PRIx64 " is not a map of this "
			       "program", hname[h], r1);
		return NULL;
	}
	if (m->map_type >= sizeof type_helpers / sizeof type_helpers[0] ||
	    !(type_helpers[m->map_type] & B(h))) {
		bpfvm_run_fail(run, -EINVAL, run->call_pc,
			       "%s: not allowed on a map of type %u",
			       hname[h], m->map_type);
		return NULL;
	}
	return m;
}

static int is_percpu(const struct bpfvm_map *m)
{
	return m->map_type == BPF_MAP_TYPE_PERCPU_HASH ||
	       m->map_type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       m->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* The calling program's CPU, for per-CPU maps' slot: below m->ncpus, so
 * the ops may be called directly (the map layer's entry points divide). */
static uint32_t cpu_of(const struct bpfvm_map *m)
{
	if (!is_percpu(m))
		return 0;
	int c = sched_getcpu();
	if (c < 0)
		return 0;
	return (uint32_t)c < m->ncpus ? (uint32_t)c : (uint32_t)c % m->ncpus;
}

/* ---- the value sets ----------------------------------------------------- */

static int vset_init(struct vset *v, const struct bpfvm_map *m)
{
	v->used = m->map_type == BPF_MAP_TYPE_HASH ||
		  m->map_type == BPF_MAP_TYPE_PERCPU_HASH ||
		  m->map_type == BPF_MAP_TYPE_LRU_HASH ||
		  m->map_type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
		  m->map_type == BPF_MAP_TYPE_LPM_TRIE;
	v->vsize = m->value_size;
	while ((1ull << v->shift) < m->value_size)
		v->shift++;
	return pthread_mutex_init(&v->lock, NULL) ? -ENOMEM : 0;
}

static size_t vtab_hash(const struct vtab *t, uintptr_t bucket)
{
	return (size_t)(((uint64_t)bucket * 0x9e3779b97f4a7c15ull) >> 32) &
	       (t->cap - 1);
}

/* With v->lock held: 1 if base is new. */
static int vtab_put(struct vtab *t, unsigned shift, uintptr_t base)
{
	size_t i = vtab_hash(t, base >> shift);
	while (t->slot[i] && t->slot[i] != base)
		i = (i + 1) & (t->cap - 1);
	if (t->slot[i])
		return 0;
	__atomic_store_n(&t->slot[i], base, __ATOMIC_RELEASE);
	return 1;
}

static bool vset_has(struct vset *v, uint64_t addr, size_t len)
{
	const struct vtab *t = __atomic_load_n(&v->cur, __ATOMIC_ACQUIRE);
	if (!t)
		return false;
	uintptr_t b = (uintptr_t)addr >> v->shift;
	for (uintptr_t k = 0; k < 2 && b >= k; k++) {
		uintptr_t base;
		for (size_t i = vtab_hash(t, b - k);
		     (base = __atomic_load_n(&t->slot[i], __ATOMIC_RELAXED));
		     i = (i + 1) & (t->cap - 1))
			if (addr >= base && addr - base < v->vsize &&
			    len <= v->vsize - (addr - base))
				return true;
	}
	return false;
}

static int vset_add(struct vset *v, void *value)
{
	uintptr_t base = (uintptr_t)value;
	if (vset_has(v, base, v->vsize))
		return 0;
	int err = 0;
	pthread_mutex_lock(&v->lock);
	struct vtab *t = v->cur;
	if (!t || 2 * (v->n + 1) > t->cap) {
		size_t cap = t ? 2 * t->cap : 64;
		struct vtab *big = calloc(1, sizeof(*big) + cap * sizeof(uintptr_t));
		if (big) {
			big->cap = cap;
			big->older = t;
			for (size_t i = 0; t && i < t->cap; i++)
				if (t->slot[i])
					vtab_put(big, v->shift, t->slot[i]);
			__atomic_store_n(&v->cur, big, __ATOMIC_RELEASE);
			t = big;
		} else {
			err = -ENOMEM;
		}
	}
	if (!err)
		v->n += (size_t)vtab_put(t, v->shift, base);
	pthread_mutex_unlock(&v->lock);
	return err;
}

static void vset_free(struct vset *v)
{
	pthread_mutex_destroy(&v->lock);
	for (struct vtab *t = v->cur, *o; t; t = o) {
		o = t->older;
		free(t);
	}
}

/* A value handed to a checked run: memory it may touch from now on.  An
 * attached array's values are the region hook's already; other attached
 * maps' go to their value set; values of maps found through a map-in-map
 * (which may go away), and any value in a tail-called program, only to
 * this run's regions.  0, or the run stopped. */
static bool region(void *cookie, uint64_t addr, size_t len, bool write);

static int expose(struct bpfvm_call *call, struct bpfvm_map *m, void *v)
{
	if (!call->run->checked || !v || of_maps(m))
		return 0;
	struct state *s = state_of(call);
	/* checked mode asks the running program's region hook (and the first
	 * program's): this state's, unless the embedder replaced it */
	const struct bpfvm *vm = call->run->vm;
	bool hooked = vm->region_fn == region && vm->region_cookie == s;
	for (size_t i = 0; hooked && i < s->n; i++) {
		if (s->maps[i] != m)
			continue;
		if (s->areas[i].len)
			return 0;
		if (!s->sets[i].used)
			break;
		if (!vset_add(&s->sets[i], v))
			return 0;
		bpfvm_run_fail(call->run, -ENOMEM, call->run->call_pc,
			       "checked mode: out of memory");
		return -1;
	}
	bool w = !(m->map_flags & BPF_F_RDONLY_PROG);
	if (bpfvm_call_add_region(call, v, m->value_size, w)) {
		bpfvm_run_fail(call->run, -E2BIG, call->run->call_pc,
			       "checked mode: more than %d memory regions "
			       "handed out in one run", BPFVM_RUN_REGIONS);
		return -1;
	}
	return 0;
}

/* a buffer argument; unchecked runs skip the call */
#define MEM(p, len, w) \
	(!call->run->checked || bpfvm_call_check_mem(call, p, len, w))

/* ---- #1-3: lookup, update, delete --------------------------------------- */

static uint64_t map_lookup_elem(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_LOOKUP);
	if (!m || !MEM(r2, m->key_size, false))
		return 0;
	void *v = m->ops->lookup(m, (const void *)(uintptr_t)r2, cpu_of(m));
	if (expose(call, m, v))
		return 0;
	/* full: later calls fall back to a walk of the outer map */
	if (v && of_maps(m) && call->run->checked &&
	    !inner_seen(call->run, (uintptr_t)v))
		bpfvm_call_hold(call, v, inner_release);
	return (uint64_t)(uintptr_t)v;
}

static uint64_t map_update_elem(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	(void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_UPDATE);
	if (!m || !MEM(r2, m->key_size, false) ||
	    !MEM(r3, m->value_size, false))
		return 0;
	return (uint64_t)(int64_t)m->ops->update(m, (const void *)(uintptr_t)r2,
						 (const void *)(uintptr_t)r3,
						 r4, cpu_of(m));
}

static uint64_t map_delete_elem(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_DELETE);
	if (!m || !MEM(r2, m->key_size, false))
		return 0;
	return (uint64_t)bpfvm_map_delete_prog(m, (const void *)(uintptr_t)r2);
}

/* ---- #87-89: queue and stack -------------------------------------------- */

static uint64_t map_push_elem(uint64_t r1, uint64_t r2, uint64_t r3,
			      uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r4, (void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_PUSH);
	if (!m || !MEM(r2, m->value_size, false))
		return 0;
	return (uint64_t)bpfvm_map_push_prog(m, (const void *)(uintptr_t)r2,
					     r3);
}

static uint64_t map_pop_elem(uint64_t r1, uint64_t r2, uint64_t r3,
			     uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_POP);
	if (!m || !MEM(r2, m->value_size, true))
		return 0;
	return (uint64_t)bpfvm_map_pop_prog(m, (void *)(uintptr_t)r2);
}

static uint64_t map_peek_elem(uint64_t r1, uint64_t r2, uint64_t r3,
			      uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_PEEK);
	if (!m || !MEM(r2, m->value_size, true))
		return 0;
	return (uint64_t)bpfvm_map_peek_prog(m, (void *)(uintptr_t)r2);
}

/* ---- #195: map_lookup_percpu_elem(map, key, cpu) ------------------------ */

static uint64_t map_lookup_percpu_elem(uint64_t r1, uint64_t r2, uint64_t r3,
				       uint64_t r4, uint64_t r5,
				       struct bpfvm_call *call)
{
	(void)r4, (void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_LOOKUP_PERCPU);
	if (!m || !MEM(r2, m->key_size, false))
		return 0;
	void *v = bpfvm_map_lookup_percpu_prog(m, (const void *)(uintptr_t)r2,
					       (uint32_t)r3);
	if (expose(call, m, v))
		return 0;
	return (uint64_t)(uintptr_t)v;
}

/* ---- #130-134: the ring buffer ------------------------------------------ */

/* A sample reserved is the run's until submitted or discarded (checked
 * runs: only such a sample may be, so a forged pointer never reaches the
 * map layer, which finds the ring from the sample's header).  One the run
 * ended with is discarded, else the ring would stay stuck behind it; for a
 * checked run that ended well that is the verifier's "unreleased
 * reference". */
static void sample_release(struct bpfvm_call *call, void *p, int64_t pc)
{
	bpfvm_ringbuf_discard(p, 0);
	struct bpfvm_run *run = call->run;
	if (run->checked)
		bpfvm_run_fail(run, -EINVAL, pc, "ringbuf_reserve: sample "
			       "neither submitted nor discarded by the end of "
			       "the run (discarded)");
}

static uint64_t ringbuf_output(uint64_t r1, uint64_t r2, uint64_t r3,
			       uint64_t r4, uint64_t r5,
			       struct bpfvm_call *call)
{
	(void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_RB_OUTPUT);
	if (!m || (r3 && !MEM(r2, (size_t)r3, false)))
		return 0;
	return (uint64_t)bpfvm_ringbuf_output(m, (const void *)(uintptr_t)r2,
					      r3, r4);
}

static uint64_t ringbuf_reserve(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	(void)r4, (void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_RB_RESERVE);
	if (!m)
		return 0;
	void *p = bpfvm_ringbuf_reserve(m, r2, r3);
	if (!p)
		return 0;
	int held = !bpfvm_call_hold(call, p, sample_release);
	if (!call->run->checked)
		return (uint64_t)(uintptr_t)p; /* trusted, held or not */
	/* a sample the run cannot use is given back: NULL, as when full */
	if (!held || (r2 && bpfvm_call_add_region(call, p, (size_t)r2, true))) {
		if (held)
			bpfvm_call_drop(call, p);
		bpfvm_ringbuf_discard(p, BPF_RB_NO_WAKEUP);
		return 0;
	}
	return (uint64_t)(uintptr_t)p;
}

static uint64_t commit(struct bpfvm_call *call, uint64_t r1, uint64_t r2,
		       int discard)
{
	void *p = (void *)(uintptr_t)r1;
	if (!bpfvm_call_drop(call, p) && call->run->checked) {
		bpfvm_run_fail(call->run, -EINVAL, call->run->call_pc,
			       "ringbuf_%s: 0x%" PRIx64 " is no sample "
			       "reserved and pending", discard ? "discard"
							       : "submit", r1);
		return 0;
	}
	if (discard)
		bpfvm_ringbuf_discard(p, r2);
	else
		bpfvm_ringbuf_submit(p, r2);
	return 0;
}

static uint64_t ringbuf_submit(uint64_t r1, uint64_t r2, uint64_t r3,
			       uint64_t r4, uint64_t r5,
			       struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	return commit(call, r1, r2, 0);
}

static uint64_t ringbuf_discard(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	return commit(call, r1, r2, 1);
}

static uint64_t ringbuf_query(uint64_t r1, uint64_t r2, uint64_t r3,
			      uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_RB_QUERY);
	return m ? bpfvm_ringbuf_query(m, r2) : 0;
}

/* ---- #93-94: bpf_spin_lock / bpf_spin_unlock ---------------------------- */

/* The map layer's lock word (a u32, 1 while held), so BPF_F_LOCK from user
 * space and programs exclude each other. */
#define LOCK_PATIENCE_NS 1000000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A lock taken is the run's until unlocked; one the run ended with is
 * unlocked, else the next BPF_F_LOCK copy would wait for ever; for a
 * checked run that ended well, that is the verifier's "bpf_spin_unlock is
 * missing". */
static void lock_release(struct bpfvm_call *call, void *l, int64_t pc)
{
	bpfvm_spin_unlock(l);
	struct bpfvm_run *run = call->run;
	if (run->checked)
		bpfvm_run_fail(run, -EINVAL, pc, "spin_lock: still held at the "
			       "end of the run (released)");
}

/* Checked runs: the verifier's promises (a lock in memory the program
 * owns, released before the next is taken) are not there, so a lock that
 * stays held stops the run rather than hang it. */
static int checked_lock(struct bpfvm_call *call, uint64_t r1)
{
	if (!MEM(r1, 4, true))
		return -1;
	if (r1 % 4) {
		bpfvm_run_fail(call->run, -EINVAL, call->run->call_pc,
			       "spin_lock: 0x%" PRIx64 " is not 4-byte aligned",
			       r1);
		return -1;
	}
	uint32_t *l = (uint32_t *)(uintptr_t)r1;
	uint64_t start = 0;
	for (unsigned i = 0; __atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE); i++) {
		if (i % 1024)
			continue;
		uint64_t t = now_ns();
		if (!start)
			start = t;
		else if (t - start > LOCK_PATIENCE_NS) {
			bpfvm_run_fail(call->run, -EDEADLK, call->run->call_pc,
				       "spin_lock: held for over a second");
			return -1;
		}
		sched_yield();
	}
	return 0;
}

static uint64_t spin_lock(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			  uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	void *l = (void *)(uintptr_t)r1;
	if (!call->run->checked) {
		bpfvm_spin_lock(l);
		bpfvm_call_hold(call, l, lock_release); /* trusted if full */
		return 0;
	}
	if (checked_lock(call, r1))
		return 0;
	if (bpfvm_call_hold(call, l, lock_release)) {
		bpfvm_spin_unlock(l);
		bpfvm_run_fail(call->run, -E2BIG, call->run->call_pc,
			       "spin_lock: more than %d locks and samples "
			       "held", BPFVM_RUN_HOLDS);
	}
	return 0;
}

static uint64_t spin_unlock(uint64_t r1, uint64_t r2, uint64_t r3,
			    uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	void *l = (void *)(uintptr_t)r1;
	if (!bpfvm_call_drop(call, l) && call->run->checked) {
		bpfvm_run_fail(call->run, -EINVAL, call->run->call_pc,
			       "spin_unlock: 0x%" PRIx64 " is no lock this run "
			       "holds", r1);
		return 0;
	}
	bpfvm_spin_unlock(l);
	return 0;
}

/* ---- #164: for_each_map_elem(map, callback_fn, callback_ctx, flags) ---- */

struct walk {
	struct bpfvm_call *call;
	uint64_t fn, ctx;
	int failed;
};

/* The callback gets (map, key, value, ctx) and returns 0 to go on, 1 to
 * stop (the verifier holds it to [0, 1]; other values stop too).  Checked
 * runs: the key, and a value the region hook does not know, are the
 * callback's for its call only (an array's key lives in the walk's C
 * frame; a long walk must not fill the run's regions). */
static long walk_one(struct bpfvm_map *m, const void *key, void *value,
		     void *cookie)
{
	struct walk *w = cookie;
	struct bpfvm_call *call = w->call;
	struct bpfvm_run *run = call->run;
	unsigned nregions = run->nregions;
	if (run->checked &&
	    (bpfvm_call_add_region(call, (void *)key, m->key_size, false) ||
	     expose(call, m, value))) {
		if (!run->res->error)
			bpfvm_run_fail(run, -E2BIG, run->call_pc,
				       "checked mode: more than %d memory "
				       "regions handed out in one run",
				       BPFVM_RUN_REGIONS);
		w->failed = 1;
		return 1;
	}
	const uint64_t args[5] = { (uintptr_t)m, (uintptr_t)key,
				   (uintptr_t)value, w->ctx, 0 };
	uint64_t ret;
	int err = bpfvm_call_callback(call, w->fn, args, &ret);
	if (run->nregions > nregions)
		run->nregions = nregions;
	if (err) {
		w->failed = 1;
		return 1;
	}
	return ret != 0;
}

static uint64_t for_each_map_elem(uint64_t r1, uint64_t r2, uint64_t r3,
				  uint64_t r4, uint64_t r5,
				  struct bpfvm_call *call)
{
	(void)r5;
	struct bpfvm_map *m = map_arg(call, r1, H_FOR_EACH);
	if (!m)
		return 0;
	struct walk w = { call, r2, r3, 0 };
	long n = bpfvm_map_for_each_prog(m, walk_one, &w, r4, cpu_of(m));
	return w.failed ? 0 : (uint64_t)n;
}

/* ---- hooks -------------------------------------------------------------- */

/* Every run is inside the epochs of the maps (the kernel's RCU read side):
 * an element a run may hold is not reused, nor a program or map it may
 * reach freed, before it ends.  Token bit i: domain i's. */
static uint64_t scope_enter(void *cookie, struct bpfvm_call *call)
{
	(void)call;
	const struct state *s = cookie;
	uint64_t token = 0;
	for (unsigned i = 0; i < s->ndoms; i++)
		token |= (uint64_t)(bpfvm_epoch_enter(s->doms[i]) & 1) << i;
	return token;
}

static void scope_exit(void *cookie, struct bpfvm_call *call, uint64_t token)
{
	(void)call;
	const struct state *s = cookie;
	for (unsigned i = 0; i < s->ndoms; i++)
		bpfvm_epoch_exit(s->doms[i], (unsigned)(token >> i) & 1);
}

/* bpf_tail_call: the program in slot index of a program array attached to
 * this VM; anything else falls through. */
static const struct bpfvm *tail_call(void *cookie, uint64_t map,
				     uint32_t index)
{
	struct state *s = cookie;
	for (size_t i = 0; i < s->n; i++)
		if ((uintptr_t)s->maps[i] == map)
			return bpfvm_prog_array_get(s->maps[i], index);
	return NULL;
}

/* Checked mode: [addr, addr+len) inside one value of an attached map (an
 * array's, or one handed out), with the program's access rights to it. */
static bool rights(const struct bpfvm_map *m, bool write)
{
	return write ? !(m->map_flags & BPF_F_RDONLY_PROG)
		     : !(m->map_flags & BPF_F_WRONLY_PROG);
}

static bool region(void *cookie, uint64_t addr, size_t len, bool write)
{
	struct state *s = cookie;
	for (size_t i = 0; i < s->n; i++) {
		const struct area *a = &s->areas[i];
		if (addr < a->base || addr - a->base >= a->len)
			continue;
		uint64_t in = (addr - a->base) % a->stride;
		return len <= a->vsize - in && rights(s->maps[i], write);
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->sets[i].used && vset_has(&s->sets[i], addr, len))
			return rights(s->maps[i], write);
	return false;
}

/* An array's values are one block of equal slots: found from the first
 * and last slot, and trusted only if they agree with that layout. */
static struct area array_area(struct bpfvm_map *m)
{
	struct area a = { 0 };
	if (m->map_type != BPF_MAP_TYPE_ARRAY &&
	    m->map_type != BPF_MAP_TYPE_PERCPU_ARRAY)
		return a;
	uint32_t ncpus = is_percpu(m) ? m->ncpus : 1;
	uint32_t first = 0, last = m->max_entries - 1;
	uint8_t *lo = bpfvm_map_lookup_prog(m, &first, 0);
	uint8_t *hi = bpfvm_map_lookup_prog(m, &last, ncpus - 1);
	uint64_t stride = bpfvm_round8(m->value_size);
	uint64_t slots = (uint64_t)m->max_entries * ncpus;
	if (!lo || !hi ||
	    (uint64_t)(hi - lo) != (slots - 1) * stride)
		return a;
	a.base = (uintptr_t)lo;
	a.len = (size_t)(slots * stride);
	a.stride = (uint32_t)stride;
	a.vsize = m->value_size;
	return a;
}

static const struct {
	uint32_t id;
	bpfvm_helper_fn fn;
} table[] = {
	{ BPF_FUNC_map_lookup_elem, map_lookup_elem },
	{ BPF_FUNC_map_update_elem, map_update_elem },
	{ BPF_FUNC_map_delete_elem, map_delete_elem },
	{ BPF_FUNC_map_push_elem, map_push_elem },
	{ BPF_FUNC_map_pop_elem, map_pop_elem },
	{ BPF_FUNC_map_peek_elem, map_peek_elem },
	{ BPF_FUNC_spin_lock, spin_lock },
	{ BPF_FUNC_spin_unlock, spin_unlock },
	{ BPF_FUNC_ringbuf_output, ringbuf_output },
	{ BPF_FUNC_ringbuf_reserve, ringbuf_reserve },
	{ BPF_FUNC_ringbuf_submit, ringbuf_submit },
	{ BPF_FUNC_ringbuf_discard, ringbuf_discard },
	{ BPF_FUNC_ringbuf_query, ringbuf_query },
	{ BPF_FUNC_for_each_map_elem, for_each_map_elem },
	{ BPF_FUNC_map_lookup_percpu_elem, map_lookup_percpu_elem },
};

#define NTABLE (sizeof table / sizeof table[0])

static void state_free(struct state *s)
{
	for (size_t i = 0; i < s->n; i++)
		vset_free(&s->sets[i]);
	free(s->doms);
	free(s->sets);
	free(s->areas);
	free(s->maps);
	free(s);
}

/* The state attached to vm, found through helper #1's cookie. */
static struct state *attached(struct bpfvm *vm)
{
	const struct bpfvm_helper *h = bpfvm_helper_get(vm, table[0].id);
	return h && h->fn == table[0].fn ? h->cookie : NULL;
}

bool bpfvm_map_helpers_uses(const struct bpfvm *vm, const void *map)
{
	const struct state *s = vm ? attached((struct bpfvm *)vm) : NULL;
	for (size_t i = 0; s && i < s->n; i++)
		if (s->maps[i] == map)
			return true;
	return false;
}

void bpfvm_map_helpers_detach(struct bpfvm *vm)
{
	struct state *s = vm ? attached(vm) : NULL;
	if (!s)
		return;
	for (size_t i = 0; i < NTABLE; i++)
		bpfvm_register_helper(vm, table[i].id, NULL, NULL);
	if (vm->tail_cookie == s)
		bpfvm_set_tail_call_hook(vm, NULL, NULL);
	if (vm->region_cookie == s)
		bpfvm_set_region_hook(vm, NULL, NULL);
	if (vm->scope_cookie == s)
		bpfvm_set_run_scope(vm, NULL, NULL, NULL);
	state_free(s);
}

int bpfvm_map_helpers_attach(struct bpfvm *vm, struct bpfvm_map *const *maps,
			     size_t n)
{
	if (!vm || (n && !maps))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!maps[i])
			return -EINVAL;
	struct state *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->maps = calloc(n ? n : 1, sizeof(*s->maps));
	s->areas = calloc(n ? n : 1, sizeof(*s->areas));
	s->sets = calloc(n ? n : 1, sizeof(*s->sets));
	s->doms = calloc(n ? n : 1, sizeof(*s->doms));
	if (!s->maps || !s->areas || !s->sets || !s->doms) {
		free(s->doms);
		free(s->sets);
		free(s->areas);
		free(s->maps);
		free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		s->maps[i] = maps[i];
		s->areas[i] = array_area(maps[i]);
		if (vset_init(&s->sets[i], maps[i])) {
			s->n = i;
			state_free(s);
			return -ENOMEM;
		}
	}
	s->n = n;
	/* the distinct epoch domains (the bpf(2) layer's maps share one) */
	for (size_t i = 0; i < n; i++) {
		struct bpfvm_epoch *d = maps[i]->epoch;
		unsigned k = 0;
		while (d && k < s->ndoms && s->doms[k] != d)
			k++;
		if (!d || k < s->ndoms)
			continue;
		if (s->ndoms == MAX_DOMS) {
			state_free(s);
			return -EINVAL;
		}
		s->doms[s->ndoms++] = d;
	}
	bpfvm_map_helpers_detach(vm);
	for (size_t i = 0; i < NTABLE; i++) {
		int err = bpfvm_register_helper(vm, table[i].id, table[i].fn,
						s);
		if (err) {
			while (i--)
				bpfvm_register_helper(vm, table[i].id, NULL,
						      NULL);
			state_free(s);
			return err;
		}
	}
	bpfvm_set_tail_call_hook(vm, tail_call, s);
	bpfvm_set_region_hook(vm, region, s);
	if (s->ndoms)
		bpfvm_set_run_scope(vm, scope_enter, scope_exit, s);
	return 0;
}
