/* The map layer (maps/): per type, every errno path, iteration order, the
 * map chapters' examples, threads, and the same operations on the running
 * kernel through bpf(2) in lock-step (skipped, with the reason, without
 * bpf(2) rights).  Expected errnos were first read off Linux 6.18.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "map.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------- */

struct cattr {
	uint32_t type, ks, vs, max, flags;
	const char *name;
	uint64_t extra;
};

static union bpf_attr attr_of(struct cattr c)
{
	union bpf_attr a = tu_map_attr(c.type, c.ks, c.vs, c.max, c.flags);
	a.map_extra = c.extra;
	if (c.name)
		memcpy(a.map_name, c.name, strnlen(c.name, BPF_OBJ_NAME_LEN));
	return a;
}

static int create(struct cattr c, struct bpfvm_map **m)
{
	union bpf_attr a = attr_of(c);
	return bpfvm_map_create(&a, m);
}

static int upd32(struct bpfvm_map *m, uint32_t k, uint64_t v, uint64_t fl)
{
	return bpfvm_map_update_elem(m, &k, &v, fl);
}

/* The kernel, through bpf(2). */
static int kbpf(int cmd, union bpf_attr *a)
{
	long r = syscall(__NR_bpf, cmd, a, sizeof(*a));
	return r < 0 ? -errno : (int)r;
}

static int kcreate(struct cattr c)
{
	union bpf_attr a = attr_of(c);
	return kbpf(BPF_MAP_CREATE, &a);
}

static int kop(int cmd, int fd, const void *key, void *val, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)key;
	if (cmd == BPF_MAP_GET_NEXT_KEY)
		a.next_key = (uint64_t)(uintptr_t)val;
	else
		a.value = (uint64_t)(uintptr_t)val;
	a.flags = flags;
	return kbpf(cmd, &a);
}

static const int batch_cmds[] = { BPF_MAP_LOOKUP_BATCH,
				  BPF_MAP_LOOKUP_AND_DELETE_BATCH,
				  BPF_MAP_UPDATE_BATCH, BPF_MAP_DELETE_BATCH };

static int kbatch(int cmd, int fd, struct bpfvm_batch *b)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.batch.map_fd = (uint32_t)fd;
	a.batch.in_batch = (uint64_t)(uintptr_t)b->in_batch;
	a.batch.out_batch = (uint64_t)(uintptr_t)b->out_batch;
	a.batch.keys = (uint64_t)(uintptr_t)b->keys;
	a.batch.values = (uint64_t)(uintptr_t)b->values;
	a.batch.count = b->count;
	a.batch.elem_flags = b->elem_flags;
	a.batch.flags = b->flags;
	int r = kbpf(cmd, &a);
	b->count = a.batch.count;
	return r;
}

static int mbatch(int cmd, struct bpfvm_map *m, struct bpfvm_batch *b)
{
	switch (cmd) {
	case BPF_MAP_LOOKUP_BATCH: return bpfvm_map_lookup_batch(m, b);
	case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
		return bpfvm_map_lookup_and_delete_batch(m, b);
	case BPF_MAP_UPDATE_BATCH: return bpfvm_map_update_batch(m, b);
	default: return bpfvm_map_delete_batch(m, b);
	}
}

/* bpf(2) usable?  If not, say why once and let the caller skip. */
static int kernel_ok(const char *test)
{
	int err = tu_kernel_maps();
	if (err)
		printf("%s: skipped: bpf(2) map create fails: %s\n", test,
		       strerror(-err));
	return !err;
}

/* ---- create-time checks ----------------------------------------------- */

#define NP BPF_F_NO_PREALLOC
static const struct ccase {
	struct cattr a;
	int err;
} create_cases[] = {
	/* common checks of map_create */
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, NULL, 1 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_RDONLY | BPF_F_WRONLY, 0, 0 }, -EINVAL },
	{ { 200, 4, 8, 1, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_UNSPEC, 4, 8, 1, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, "a-b", 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, "abcdefghijklmnop", 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, "abc.def_1", 0 }, 0 },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, "a\xe9", 0 }, 0 },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, "a\xd7", 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, "a\x80", 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_NUMA_NODE, NULL, 0 }, 0 },
	/* array */
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 0, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 8, 8, 1, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 0, 1, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 0x80000000u, 1, 0, NULL, 0 }, -E2BIG },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, NP, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_PRESERVE_ELEMS, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_INNER_MAP, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_MMAPABLE, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_WRONLY_PROG, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG, 0, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_ARRAY, 4, 1024, 0xffffffffu, 0, NULL, 0 }, -ENOMEM }, /* 4 TiB */
	{ { BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, BPF_F_MMAPABLE, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1, BPF_F_NUMA_NODE, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_PERCPU_ARRAY, 4, 32768, 1, 0, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_PERCPU_ARRAY, 4, 32769, 1, 0, NULL, 0 }, -E2BIG },
	/* hash */
	{ { BPF_MAP_TYPE_HASH, 0, 4, 3, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_HASH, 4, 0, 3, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_HASH, 4, 4, 0, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_HASH, 4, 4, 3, BPF_F_MMAPABLE, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_HASH, 4, 4, 3, BPF_F_NO_COMMON_LRU, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_HASH, 4, 4, 3, BPF_F_ZERO_SEED, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_HASH, 4, 4194251, 1, NP, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_HASH, 4, 4194252, 1, NP, NULL, 0 }, -E2BIG },
	{ { BPF_MAP_TYPE_HASH, 4, 4, 1u << 27, NP, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_HASH, 4, 4, (1u << 27) + 1, NP, NULL, 0 }, -E2BIG },
	{ { BPF_MAP_TYPE_HASH, 4, 4, 0xffffffffu, NP, NULL, 0 }, -E2BIG },
	{ { BPF_MAP_TYPE_PERCPU_HASH, 4, 32769, 1, 0, NULL, 0 }, -E2BIG },
	{ { BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 3, BPF_F_NUMA_NODE, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_LRU_HASH, 4, 4, 4, NP, NULL, 0 }, -BPFVM_ENOTSUPP },
	{ { BPF_MAP_TYPE_LRU_HASH, 4, 4, 3, BPF_F_NO_COMMON_LRU, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_LRU_PERCPU_HASH, 4, 4, 3,
	    BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE, NULL, 0 }, -EINVAL },
	/* queue and stack */
	{ { BPF_MAP_TYPE_QUEUE, 0, 4194305, 1, 0, NULL, 0 }, -E2BIG },
	{ { BPF_MAP_TYPE_QUEUE, 0, 4194304, 1, 0, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_QUEUE, 4, 4, 1, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_QUEUE, 0, 0, 1, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_QUEUE, 0, 4, 0, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_QUEUE, 0, 4, 1, NP, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_STACK, 0, 4, 1, BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG, 0, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_STACK, 0, 4, 1, BPF_F_MMAPABLE, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_STACK, 0, 4, 1, BPF_F_RDONLY_PROG, NULL, 0 }, 0 },
	/* LPM trie */
	{ { BPF_MAP_TYPE_LPM_TRIE, 8, 4, 1, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_LPM_TRIE, 4, 4, 1, NP, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_LPM_TRIE, 5, 4, 1, NP, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_LPM_TRIE, 260, 4, 1, NP, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_LPM_TRIE, 261, 4, 1, NP, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_LPM_TRIE, 8, 0, 1, NP, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_LPM_TRIE, 8, 4, 0, NP, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_LPM_TRIE, 8, 4194024, 1, NP, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_LPM_TRIE, 8, 4194025, 1, NP, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_LPM_TRIE, 8, 4, 1, NP | BPF_F_ZERO_SEED, NULL, 0 }, -EINVAL },
	/* program array: u32 keys, descriptors as values */
	{ { BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_PROG_ARRAY, 4, 8, 4, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_PROG_ARRAY, 8, 4, 4, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 0, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, BPF_F_RDONLY_PROG, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, BPF_F_INNER_MAP, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, BPF_F_MMAPABLE, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, BPF_F_PRESERVE_ELEMS, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, BPF_F_RDONLY | BPF_F_NUMA_NODE, 0, 0 }, 0 },
	/* ring buffer: a power-of-2 number of pages, no key, no value */
	{ { BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_RINGBUF, 0, 0, 1u << 20, BPF_F_NUMA_NODE, NULL, 0 }, 0 },
	{ { BPF_MAP_TYPE_RINGBUF, 4, 0, 4096, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_RINGBUF, 0, 4, 4096, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_RINGBUF, 0, 0, 0, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_RINGBUF, 0, 0, 2048, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_RINGBUF, 0, 0, 4095, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_RINGBUF, 0, 0, 3 * 8192, 0, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, BPF_F_RDONLY_PROG, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, BPF_F_MMAPABLE, NULL, 0 }, -EINVAL },
	{ { BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, NP, NULL, 0 }, -EINVAL },
};

START_TEST(create_checks)
{
	for (size_t i = 0; i < sizeof(create_cases) / sizeof(*create_cases); i++) {
		const struct ccase *c = &create_cases[i];
		struct bpfvm_map *m = NULL;
		int err = create(c->a, &m);
		ck_assert_msg(err == c->err, "case %zu (type %u): %d, want %d",
			      i, c->a.type, err, c->err);
		ck_assert(!err == !!m);
		bpfvm_map_free(m);
	}
}
END_TEST

START_TEST(create_checks_match_kernel)
{
	if (!kernel_ok("create_checks_match_kernel"))
		return;
	for (size_t i = 0; i < sizeof(create_cases) / sizeof(*create_cases); i++) {
		/* the kernel spends seconds zeroing 2^27 buckets: not here */
		if (create_cases[i].a.max == 1u << 27 && !create_cases[i].err)
			continue;
		int fd = kcreate(create_cases[i].a);
		if (fd >= 0)
			close(fd);
		ck_assert_msg((fd < 0 ? fd : 0) == create_cases[i].err,
			      "case %zu: the kernel says %d", i, fd);
	}
}
END_TEST

START_TEST(name_and_attrs_are_kept)
{
	struct bpfvm_map *m = NULL;
	ck_assert_int_eq(create((struct cattr){ BPF_MAP_TYPE_HASH, 4, 12, 7,
					      NP, "flows", 0 }, &m), 0);
	ck_assert_str_eq(m->name, "flows");
	ck_assert_uint_eq(m->key_size, 4);
	ck_assert_uint_eq(m->value_size, 12);
	ck_assert_uint_eq(m->max_entries, 7);
	ck_assert_uint_eq(m->map_flags, NP);
	bpfvm_map_free(m);
	/* the descriptor's access flags are not the map's (the kernel keeps
	 * them out of map_flags: an inner map's flags compare without them) */
	ck_assert_int_eq(create((struct cattr){ BPF_MAP_TYPE_ARRAY, 4, 8, 1,
					      BPF_F_RDONLY | BPF_F_RDONLY_PROG, 0, 0 }, &m), 0);
	ck_assert_uint_eq(m->map_flags, BPF_F_RDONLY_PROG);
	bpfvm_map_free(m);
}
END_TEST

/* Two holders: the map outlives the first put (ASan sees a use after
 * free otherwise), and goes with the second. */
static void *put_later(void *arg)
{
	struct bpfvm_map *m = arg;
	uint32_t k = 0;
	uint64_t v = 9;
	int err = bpfvm_map_update_elem(m, &k, &v, 0);
	bpfvm_map_put(m);
	return (void *)(intptr_t)err;
}

START_TEST(refcount)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	ck_assert_uint_eq(m->refcnt, 1);
	for (int i = 0; i < 8; i++) {
		bpfvm_map_get(m); /* a descriptor, a program */
		pthread_t t;
		ck_assert_int_eq(pthread_create(&t, NULL, put_later, m), 0);
		void *ret;
		pthread_join(t, &ret);
		ck_assert_ptr_null(ret);
	}
	ck_assert_uint_eq(m->refcnt, 1);
	uint32_t k = 0;
	uint64_t v;
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), 0);
	ck_assert_uint_eq(v, 9);
	bpfvm_map_put(m);
	bpfvm_map_put(NULL);
}
END_TEST

/* ---- array ------------------------------------------------------------ */

START_TEST(array_ops)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_ARRAY, 4, 12, 4, 0);
	uint32_t k = 2, next;
	uint8_t v[12], out[12];
	memset(v, 0xab, sizeof(v));

	/* every element exists, zeroed */
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, out, 0), 0);
	ck_assert_int_eq(out[0] | out[11], 0);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, v, BPF_ANY), 0);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, v, BPF_EXIST), 0);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, v, BPF_NOEXIST), -EEXIST);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, v, 3), -EINVAL);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, v, BPF_F_LOCK), -EINVAL);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, out, 0), 0);
	ck_assert_mem_eq(out, v, sizeof(v));
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, out, 2), -EINVAL);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), -EINVAL);
	ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, &k, out, 0),
			 -BPFVM_ENOTSUPP);
	k = 4;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, v, BPF_ANY), -E2BIG);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, out, 0), -ENOENT);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), -EINVAL);
	ck_assert_ptr_null(bpfvm_map_lookup_prog(m, &k, 0));

	/* keys in order; NULL or out of range restarts at 0 */
	ck_assert_int_eq(bpfvm_map_get_next_key(m, NULL, &next), 0);
	ck_assert_uint_eq(next, 0);
	ck_assert_int_eq(bpfvm_map_get_next_key(m, &k, &next), 0);
	ck_assert_uint_eq(next, 0);
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert_int_eq(bpfvm_map_get_next_key(m, &i, &next), 0);
		ck_assert_uint_eq(next, i + 1);
	}
	k = 3;
	ck_assert_int_eq(bpfvm_map_get_next_key(m, &k, &next), -ENOENT);

	/* programs write the element in place */
	k = 1;
	uint8_t *p = bpfvm_map_lookup_prog(m, &k, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % 8, 0);
	p[0] = 7;
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, out, 0), 0);
	ck_assert_uint_eq(out[0], 7);
	bpfvm_map_free(m);
}
END_TEST

START_TEST(array_mmapable_shares_values)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 3, BPF_F_MMAPABLE);
	int fd = bpfvm_array_mmap_fd(m);
	ck_assert_int_ge(fd, 0);
	uint64_t *u = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(u, MAP_FAILED);
	ck_assert_int_eq(upd32(m, 2, 0x1122334455667788ull, 0), 0);
	ck_assert_uint_eq(u[2], 0x1122334455667788ull);
	u[1] = 42; /* user space writes, the map sees it */
	uint32_t k = 1;
	uint64_t v;
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), 0);
	ck_assert_uint_eq(v, 42);
	munmap(u, 4096);
	bpfvm_map_free(m);

	m = tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 3, 0);
	ck_assert_int_eq(bpfvm_array_mmap_fd(m), -EINVAL);
	bpfvm_map_free(m);
}
END_TEST

/* ---- per-CPU ---------------------------------------------------------- */

START_TEST(percpu_buffers)
{
	uint32_t n = bpfvm_possible_cpus();
	ck_assert_uint_ge(n, 1);
	/* value_size 12: user space sees 16-byte slots, one per CPU */
	uint32_t types[] = { BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH,
			     BPF_MAP_TYPE_LRU_PERCPU_HASH };
	for (size_t t = 0; t < 3; t++) {
		struct bpfvm_map *m = tu_map(types[t], 4, 12, 4, 0);
		ck_assert_uint_eq(bpfvm_map_value_size(m), 16u * n);
		uint8_t *in = calloc(n, 16), *out = calloc(n, 16);
		for (uint32_t c = 0; c < n; c++)
			memset(in + 16 * c, (int)c + 1, 16);
		uint32_t k = 1;
		ck_assert_int_eq(bpfvm_map_update_elem(m, &k, in, 0), 0);
		memset(out, 0xee, 16 * n);
		ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, out, 0), 0);
		for (uint32_t c = 0; c < n; c++) {
			ck_assert_uint_eq(out[16 * c], c + 1);
			ck_assert_uint_eq(out[16 * c + 11], c + 1);
			/* the padding is stored too, as the kernel does */
			ck_assert_uint_eq(out[16 * c + 15], c + 1);
		}
		/* a program sees and writes its CPU's slot only */
		uint8_t *p = bpfvm_map_lookup_prog(m, &k, n - 1);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(p[0], n);
		uint8_t pv[12];
		memset(pv, 0x77, sizeof(pv));
		ck_assert_int_eq(bpfvm_map_update_prog(m, &k, pv, 0, 0), 0);
		ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, out, 0), 0);
		ck_assert_uint_eq(out[0], 0x77);
		if (n > 1)
			ck_assert_uint_eq(out[16], 2);
		if (types[t] != BPF_MAP_TYPE_PERCPU_ARRAY) {
			/* a new element from a program: other CPUs zero */
			k = 2;
			ck_assert_int_eq(bpfvm_map_update_prog(m, &k, pv, 0, 0), 0);
			ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, out, 0), 0);
			ck_assert_uint_eq(out[0], 0x77);
			if (n > 1)
				ck_assert_uint_eq(out[16], 0);
			ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, &k, out, 0), 0);
			ck_assert_uint_eq(out[11], 0x77);
		}
		free(in);
		free(out);
		bpfvm_map_free(m);
	}
}
END_TEST

/* ---- hash ------------------------------------------------------------- */

static void hash_semantics(uint32_t flags)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_HASH, 4, 8, 3, flags);
	uint32_t k = 1, next;
	uint64_t v = 0;

	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), -ENOENT);
	ck_assert_int_eq(bpfvm_map_get_next_key(m, NULL, &next), -ENOENT);
	ck_assert_int_eq(upd32(m, 1, 10, BPF_EXIST), -ENOENT);
	ck_assert_int_eq(upd32(m, 1, 10, BPF_NOEXIST), 0);
	ck_assert_int_eq(upd32(m, 1, 11, BPF_NOEXIST), -EEXIST);
	ck_assert_int_eq(upd32(m, 1, 12, BPF_EXIST), 0);
	ck_assert_int_eq(upd32(m, 1, 12, 3), -EINVAL);
	ck_assert_int_eq(upd32(m, 1, 12, 8), -EINVAL);
	ck_assert_int_eq(upd32(m, 1, 12, BPF_F_LOCK), -EINVAL);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), 0);
	ck_assert_uint_eq(v, 12);
	ck_assert_int_eq(upd32(m, 2, 20, BPF_ANY), 0);
	ck_assert_int_eq(upd32(m, 3, 30, BPF_ANY), 0);
	/* full: a new key is E2BIG, replacing an old one is fine */
	ck_assert_int_eq(upd32(m, 4, 40, BPF_ANY), -E2BIG);
	ck_assert_int_eq(upd32(m, 4, 40, BPF_EXIST), -ENOENT);
	ck_assert_int_eq(upd32(m, 3, 40, BPF_NOEXIST), -EEXIST);
	ck_assert_int_eq(upd32(m, 3, 31, BPF_ANY), 0);
	ck_assert_int_eq(upd32(m, 3, 32, BPF_EXIST), 0);

	/* iteration: each key once, then ENOENT */
	uint32_t seen = 0, cur, n = 0;
	int r = bpfvm_map_get_next_key(m, NULL, &cur);
	while (r == 0) {
		ck_assert(cur >= 1 && cur <= 3 && !(seen & (1u << cur)));
		seen |= 1u << cur;
		n++;
		r = bpfvm_map_get_next_key(m, &cur, &next);
		cur = next;
	}
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_uint_eq(n, 3);
	/* a missing key restarts from the first key */
	uint32_t first, missing = 99;
	ck_assert_int_eq(bpfvm_map_get_next_key(m, NULL, &first), 0);
	ck_assert_int_eq(bpfvm_map_get_next_key(m, &missing, &next), 0);
	ck_assert_uint_eq(next, first);

	k = 2;
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), 0);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), -ENOENT);
	ck_assert_int_eq(upd32(m, 4, 40, BPF_ANY), 0); /* room again */
	k = 3;
	ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, &k, &v, 0), 0);
	ck_assert_uint_eq(v, 32);
	ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, &k, &v, 0), -ENOENT);
	ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, &k, &v, 1), -EINVAL);

	/* programs: a pointer to the value, updates and deletes */
	k = 4;
	uint64_t *p = bpfvm_map_lookup_prog(m, &k, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % 8, 0);
	ck_assert_uint_eq(*p, 40);
	*p = 41;
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), 0);
	ck_assert_uint_eq(v, 41);
	v = 5;
	ck_assert_int_eq(bpfvm_map_update_prog(m, &k, &v, BPF_NOEXIST, 0), -EEXIST);
	ck_assert_int_eq(bpfvm_map_delete_prog(m, &k), 0);
	ck_assert_ptr_null(bpfvm_map_lookup_prog(m, &k, 0));
	ck_assert_int_eq(bpfvm_map_push_prog(m, &v, 0), -EOPNOTSUPP);
	bpfvm_map_free(m);
}

START_TEST(hash_prealloc) { hash_semantics(0); }
END_TEST
START_TEST(hash_no_prealloc) { hash_semantics(BPF_F_NO_PREALLOC); }
END_TEST

START_TEST(hash_many_keys)
{
	/* odd key size (jhash's byte path), buckets with many keys */
	for (int pre = 0; pre < 2; pre++) {
		struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_HASH, 7, 4, 1000,
					     pre ? 0 : NP);
		uint8_t key[7] = { 0 };
		for (uint32_t i = 0; i < 1000; i++) {
			memcpy(key, &i, 4);
			ck_assert_int_eq(bpfvm_map_update_elem(m, key, &i, BPF_NOEXIST), 0);
		}
		key[0] = 0xff, key[1] = 0xff;
		ck_assert_int_eq(bpfvm_map_update_elem(m, key, key, 0), -E2BIG);
		uint8_t cur[7], next[7];
		uint32_t n = 0;
		static uint8_t seen[1000];
		memset(seen, 0, sizeof(seen));
		int r = bpfvm_map_get_next_key(m, NULL, cur);
		for (; r == 0; r = bpfvm_map_get_next_key(m, cur, next), memcpy(cur, next, 7)) {
			uint32_t i, v;
			memcpy(&i, cur, 4);
			ck_assert(i < 1000 && !seen[i]);
			seen[i] = 1;
			ck_assert_int_eq(bpfvm_map_lookup_elem(m, cur, &v, 0), 0);
			ck_assert_uint_eq(v, i);
			n++;
		}
		ck_assert_uint_eq(n, 1000);
		for (uint32_t i = 0; i < 1000; i += 2) {
			memcpy(key, &i, 4);
			key[4] = key[5] = key[6] = 0;
			ck_assert_int_eq(bpfvm_map_delete_elem(m, key), 0);
		}
		for (uint32_t i = 0; i < 1000; i++) {
			uint32_t v;
			memcpy(key, &i, 4);
			ck_assert_int_eq(bpfvm_map_lookup_elem(m, key, &v, 0),
					 i % 2 ? 0 : -ENOENT);
		}
		bpfvm_map_free(m);
	}
}
END_TEST

/* ---- LRU -------------------------------------------------------------- */

START_TEST(lru_evicts_instead_of_e2big)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_LRU_HASH, 4, 8, 4, 0);
	for (uint32_t k = 0; k < 4; k++)
		ck_assert_int_eq(upd32(m, k, k, BPF_NOEXIST), 0);
	/* key 0 is used by a program: the oldest unused one (1) goes */
	uint32_t k = 0;
	ck_assert_ptr_nonnull(bpfvm_map_lookup_prog(m, &k, 0));
	ck_assert_int_eq(upd32(m, 10, 10, BPF_NOEXIST), 0);
	uint64_t v;
	k = 1;
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), -ENOENT);
	k = 0;
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), 0);
	k = 10;
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(upd32(m, 11, 11, 3), -EINVAL);
	ck_assert_int_eq(upd32(m, 11, 11, BPF_F_LOCK), -EINVAL);
	/* never more than max_entries */
	for (uint32_t i = 100; i < 200; i++)
		ck_assert_int_eq(upd32(m, i, i, BPF_ANY), 0);
	uint32_t cur, next, n = 0;
	int r = bpfvm_map_get_next_key(m, NULL, &cur);
	for (; r == 0; r = bpfvm_map_get_next_key(m, &cur, &next), cur = next)
		n++;
	ck_assert_uint_eq(n, 4);
	k = 199; /* the newest is there */
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), 0);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), 0);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), -ENOENT);
	bpfvm_map_free(m);

	/* per-CPU LRU lists: max_entries a multiple of the CPU count */
	uint32_t c = bpfvm_possible_cpus();
	m = tu_map(BPF_MAP_TYPE_LRU_HASH, 4, 8, 3, BPF_F_NO_COMMON_LRU);
	ck_assert_uint_eq(m->max_entries, (3 + c - 1) / c * c);
	bpfvm_map_free(m);
}
END_TEST

/* ---- queue and stack -------------------------------------------------- */

START_TEST(queue_fifo_stack_lifo)
{
	for (int stack = 0; stack < 2; stack++) {
		struct bpfvm_map *m = tu_map(stack ? BPF_MAP_TYPE_STACK : BPF_MAP_TYPE_QUEUE,
					     0, 4, 5, 0);
		for (uint32_t i = 0; i < 5; i++)
			ck_assert_int_eq(bpfvm_map_update_elem(m, NULL, &i, BPF_ANY), 0);
		uint32_t v = 9;
		ck_assert_int_eq(bpfvm_map_update_elem(m, NULL, &v, BPF_ANY), -E2BIG);
		ck_assert_int_eq(bpfvm_map_lookup_elem(m, NULL, &v, 0), 0); /* peek */
		ck_assert_uint_eq(v, stack ? 4 : 0);
		for (uint32_t i = 0; i < 5; i++) {
			ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, NULL, &v, 0), 0);
			ck_assert_uint_eq(v, stack ? 4 - i : i);
		}
		v = 9;
		ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, NULL, &v, 0), -ENOENT);
		ck_assert_uint_eq(v, 0); /* the kernel zeroes the buffer */
		ck_assert_int_eq(bpfvm_map_lookup_elem(m, NULL, &v, 0), -ENOENT);
		ck_assert_int_eq(bpfvm_map_pop_prog(m, &v), -ENOENT);
		ck_assert_int_eq(bpfvm_map_peek_prog(m, &v), -ENOENT);
		bpfvm_map_free(m);
	}
}
END_TEST

START_TEST(queue_stack_errnos)
{
	for (int stack = 0; stack < 2; stack++) {
		struct bpfvm_map *m = tu_map(stack ? BPF_MAP_TYPE_STACK : BPF_MAP_TYPE_QUEUE,
					     0, 8, 3, 0);
		uint64_t v = 1, next;
		ck_assert_int_eq(bpfvm_map_update_elem(m, NULL, &v, BPF_NOEXIST), -EINVAL);
		ck_assert_int_eq(bpfvm_map_update_elem(m, NULL, &v, 3), -EINVAL);
		ck_assert_int_eq(bpfvm_map_update_elem(m, NULL, &v, BPF_F_LOCK), -EINVAL);
		ck_assert_int_eq(bpfvm_map_delete_elem(m, NULL), -EINVAL);
		ck_assert_int_eq(bpfvm_map_get_next_key(m, NULL, &next), -EINVAL);
		ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, NULL, &v, BPF_F_LOCK), -EINVAL);
		ck_assert_int_eq(bpfvm_map_lookup_elem(m, NULL, &v, 1), -EINVAL);
		/* programs: map_lookup/update/delete do not apply */
		ck_assert_ptr_null(bpfvm_map_lookup_prog(m, NULL, 0));
		ck_assert_int_eq(bpfvm_map_update_prog(m, NULL, &v, 0, 0), -EINVAL);
		ck_assert_int_eq(bpfvm_map_delete_prog(m, NULL), -EINVAL);

		/* BPF_EXIST on a full map drops the oldest element */
		for (v = 1; v <= 3; v++)
			ck_assert_int_eq(bpfvm_map_push_prog(m, &v, 0), 0);
		ck_assert_int_eq(bpfvm_map_push_prog(m, &v, 0), -E2BIG);
		ck_assert_int_eq(bpfvm_map_push_prog(m, &v, BPF_EXIST), 0); /* 4 */
		v = 5;
		ck_assert_int_eq(bpfvm_map_update_elem(m, NULL, &v, BPF_EXIST), 0);
		/* now 3 4 5: queue pops 3 4 5, stack 5 4 3 */
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(bpfvm_map_pop_prog(m, &v), 0);
			ck_assert_uint_eq(v, stack ? 5 - (uint64_t)i : 3 + (uint64_t)i);
		}
		ck_assert_int_eq(bpfvm_map_pop_prog(m, &v), -ENOENT);
		bpfvm_map_free(m);
	}
}
END_TEST

/* ---- LPM trie --------------------------------------------------------- */

struct ip4key {
	uint32_t prefixlen;
	uint8_t ip[4];
};

static struct ip4key ip4(unsigned a, unsigned b, unsigned c, unsigned d,
			 uint32_t plen)
{
	return (struct ip4key){ plen, { (uint8_t)a, (uint8_t)b, (uint8_t)c,
					(uint8_t)d } };
}

START_TEST(lpm_routes)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 16, NP);
	struct ip4key k16 = ip4(192, 168, 0, 0, 16), k0 = ip4(192, 168, 0, 0, 24),
		      k1 = ip4(192, 168, 1, 0, 24), q = ip4(192, 168, 1, 1, 32);
	uint64_t v;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k16, &(uint64_t){ 16 }, 0), 0);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k0, &(uint64_t){ 240 }, 0), 0);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k1, &(uint64_t){ 241 }, 0), 0);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &q, &v, 0), 0);
	ck_assert_uint_eq(v, 241);
	q = ip4(192, 168, 0, 77, 32);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &q, &v, 0), 0);
	ck_assert_uint_eq(v, 240);
	q = ip4(192, 168, 200, 1, 32);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &q, &v, 0), 0);
	ck_assert_uint_eq(v, 16);
	q = ip4(10, 0, 0, 1, 32);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &q, &v, 0), -ENOENT);
	/* a shorter lookup prefix cannot match a longer route */
	q = ip4(192, 168, 1, 1, 20);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &q, &v, 0), 0);
	ck_assert_uint_eq(v, 16);
	q = ip4(192, 168, 1, 1, 32);
	uint64_t *p = bpfvm_map_lookup_prog(m, &q, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(*p, 241);

	/* deleting the /24 falls back to the /16 */
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k1), 0);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k1), -ENOENT);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &q, &v, 0), 0);
	ck_assert_uint_eq(v, 16);
	struct ip4key k15 = ip4(192, 168, 0, 0, 15);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k15), -ENOENT);
	bpfvm_map_free(m);
}
END_TEST

START_TEST(lpm_errnos)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_LPM_TRIE, 8, 4, 2, NP);
	struct ip4key k = ip4(10, 0, 0, 0, 8);
	uint32_t v = 1;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, BPF_EXIST), -ENOENT);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, 3), -EINVAL);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, BPF_F_LOCK), -EINVAL);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, BPF_NOEXIST), 0);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, BPF_NOEXIST), -EEXIST);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, BPF_EXIST), 0);
	k.prefixlen = 16;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, 0), 0);
	k.prefixlen = 24; /* full: ENOSPC, not E2BIG */
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, 0), -ENOSPC);
	k.prefixlen = 33;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, 0), -EINVAL);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), -EINVAL);
	/* a lookup prefix past the maximum matches nothing */
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), -ENOENT);
	ck_assert_ptr_null(bpfvm_map_lookup_prog(m, &k, 0));
	k.prefixlen = 32;
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), 0); /* 10/16 */
	ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, &k, &v, 0),
			 -BPFVM_ENOTSUPP);
	bpfvm_map_free(m);
}
END_TEST

START_TEST(lpm_iteration_postorder)
{
	/* post-order: 10/8 sits left of 192.168/16 under the root fork, and
	 * the /16's more specific /24s come before it (order read off
	 * Linux 6.18 for these four keys) */
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_LPM_TRIE, 8, 4, 16, NP);
	struct ip4key keys[] = { ip4(192, 168, 0, 0, 16), ip4(10, 0, 0, 0, 8),
				 ip4(192, 168, 1, 0, 24), ip4(192, 168, 0, 0, 24) };
	struct ip4key want[] = { ip4(10, 0, 0, 0, 8), ip4(192, 168, 0, 0, 24),
				 ip4(192, 168, 1, 0, 24), ip4(192, 168, 0, 0, 16) };
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(bpfvm_map_update_elem(m, &keys[i], &v, 0), 0);
	struct ip4key cur, next;
	ck_assert_int_eq(bpfvm_map_get_next_key(m, NULL, &cur), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_mem_eq(&cur, &want[i], sizeof(cur));
		int r = bpfvm_map_get_next_key(m, &cur, &next);
		ck_assert_int_eq(r, i == 3 ? -ENOENT : 0);
		cur = next;
	}
	/* a missing key restarts at the leftmost */
	struct ip4key missing = ip4(172, 16, 0, 0, 12);
	ck_assert_int_eq(bpfvm_map_get_next_key(m, &missing, &next), 0);
	ck_assert_mem_eq(&next, &want[0], sizeof(next));
	missing.prefixlen = 40;
	ck_assert_int_eq(bpfvm_map_get_next_key(m, &missing, &next), 0);
	ck_assert_mem_eq(&next, &want[0], sizeof(next));
	bpfvm_map_free(m);

	m = tu_map(BPF_MAP_TYPE_LPM_TRIE, 8, 4, 16, NP);
	ck_assert_int_eq(bpfvm_map_get_next_key(m, NULL, &next), -ENOENT);
	bpfvm_map_free(m);
}
END_TEST

/* ---- helpers' extras: for_each, percpu lookup, direct value ----------- */

struct visit {
	uint32_t n, stop_at;
	uint64_t sum;
	int delete;
};

static long visit_cb(struct bpfvm_map *m, const void *key, void *value, void *ctx)
{
	struct visit *v = ctx;
	uint64_t x;
	memcpy(&x, value, 8);
	v->sum += x;
	if (v->delete) /* the callback may change the map it walks */
		ck_assert_int_eq(bpfvm_map_delete_prog(m, key), 0);
	return ++v->n == v->stop_at;
}

START_TEST(for_each_elem)
{
	struct bpfvm_map *a = tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 5, 0);
	for (uint32_t k = 0; k < 5; k++)
		ck_assert_int_eq(upd32(a, k, k + 1, 0), 0);
	struct visit v = { 0, 0, 0, 0 };
	ck_assert_int_eq(bpfvm_map_for_each_prog(a, visit_cb, &v, 0, 0), 5);
	ck_assert_uint_eq(v.sum, 15);
	v = (struct visit){ 0, 2, 0, 0 }; /* 1 stops, the stopping one counts */
	ck_assert_int_eq(bpfvm_map_for_each_prog(a, visit_cb, &v, 0, 0), 2);
	ck_assert_int_eq(bpfvm_map_for_each_prog(a, visit_cb, &v, 1, 0), -EINVAL);
	bpfvm_map_free(a);

	struct bpfvm_map *h = tu_map(BPF_MAP_TYPE_HASH, 4, 8, 100, 0);
	for (uint32_t k = 0; k < 40; k++)
		ck_assert_int_eq(upd32(h, k, k, 0), 0);
	v = (struct visit){ 0, 0, 0, 0 };
	ck_assert_int_eq(bpfvm_map_for_each_prog(h, visit_cb, &v, 0, 0), 40);
	ck_assert_uint_eq(v.sum, 39 * 40 / 2);
	v = (struct visit){ 0, 0, 0, 1 };
	ck_assert_int_eq(bpfvm_map_for_each_prog(h, visit_cb, &v, 0, 0), 40);
	uint32_t next;
	ck_assert_int_eq(bpfvm_map_get_next_key(h, NULL, &next), -ENOENT);
	bpfvm_map_free(h);

	struct bpfvm_map *q = tu_map(BPF_MAP_TYPE_QUEUE, 0, 8, 4, 0);
	ck_assert_int_eq(bpfvm_map_for_each_prog(q, visit_cb, &v, 0, 0), -EINVAL);
	bpfvm_map_free(q);
}
END_TEST

START_TEST(lookup_percpu_elem)
{
	uint32_t n = bpfvm_possible_cpus(), k = 0;
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 2, 0);
	uint64_t *all = calloc(n, 8);
	for (uint32_t c = 0; c < n; c++)
		all[c] = 100 + c;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, all, 0), 0);
	for (uint32_t c = 0; c < n; c++) {
		uint64_t *p = bpfvm_map_lookup_percpu_prog(m, &k, c);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(*p, 100 + c);
	}
	ck_assert_ptr_null(bpfvm_map_lookup_percpu_prog(m, &k, n));
	k = 2;
	ck_assert_ptr_null(bpfvm_map_lookup_percpu_prog(m, &k, 0));
	bpfvm_map_free(m);

	m = tu_map(BPF_MAP_TYPE_PERCPU_HASH, 4, 8, 2, 0);
	k = 1;
	ck_assert_ptr_null(bpfvm_map_lookup_percpu_prog(m, &k, 0));
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, all, 0), 0);
	uint64_t *p = bpfvm_map_lookup_percpu_prog(m, &k, n - 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(*p, 100 + n - 1);
	ck_assert_ptr_null(bpfvm_map_lookup_percpu_prog(m, &k, n));
	bpfvm_map_free(m);

	m = tu_map(BPF_MAP_TYPE_HASH, 4, 8, 2, 0); /* not per-CPU */
	ck_assert_int_eq(upd32(m, 1, 5, 0), 0);
	ck_assert_ptr_null(bpfvm_map_lookup_percpu_prog(m, &k, 0));
	bpfvm_map_free(m);
	free(all);
}
END_TEST

START_TEST(direct_value)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0);
	void *addr = NULL;
	uint32_t k = 0;
	ck_assert_int_eq(bpfvm_map_direct_value(m, 15, &addr), 0);
	ck_assert_ptr_eq(addr, bpfvm_map_lookup_prog(m, &k, 0));
	ck_assert_int_eq(bpfvm_map_direct_value(m, 16, &addr), -EINVAL);
	bpfvm_map_free(m);
	m = tu_map(BPF_MAP_TYPE_ARRAY, 4, 16, 2, 0);
	ck_assert_int_eq(bpfvm_map_direct_value(m, 0, &addr), -BPFVM_ENOTSUPP);
	bpfvm_map_free(m);
	m = tu_map(BPF_MAP_TYPE_HASH, 4, 16, 1, 0);
	ck_assert_int_eq(bpfvm_map_direct_value(m, 0, &addr), -EINVAL);
	bpfvm_map_free(m);
}
END_TEST

/* ---- batch commands --------------------------------------------------- */

START_TEST(batch_array)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 5, 0);
	uint32_t keys[8] = { 0, 1, 2, 3, 4 }, tok;
	uint64_t vals[8] = { 10, 11, 12, 13, 14 };
	struct bpfvm_batch b = { NULL, &tok, keys, vals, 5, 0, 0 };
	ck_assert_int_eq(bpfvm_map_update_batch(m, &b), 0);
	ck_assert_uint_eq(b.count, 5);
	keys[1] = 9; /* stops at the bad key; the count says how far */
	b.count = 3;
	ck_assert_int_eq(bpfvm_map_update_batch(m, &b), -E2BIG);
	ck_assert_uint_eq(b.count, 1);
	b.count = 3;
	b.elem_flags = BPF_NOEXIST; /* batches take no update flags */
	ck_assert_int_eq(bpfvm_map_update_batch(m, &b), -EINVAL);
	ck_assert_uint_eq(b.count, 3);

	/* lookup two at a time: the token is the last key */
	memset(keys, 0xff, sizeof(keys));
	b = (struct bpfvm_batch){ NULL, &tok, keys, vals, 2, 0, 0 };
	ck_assert_int_eq(bpfvm_map_lookup_batch(m, &b), 0);
	ck_assert_uint_eq(b.count, 2);
	ck_assert_uint_eq(keys[1], 1);
	ck_assert_uint_eq(vals[1], 11);
	ck_assert_uint_eq(tok, 1);
	b.in_batch = &tok;
	b.keys = keys + 2;
	b.values = vals + 2;
	b.count = 5;
	ck_assert_int_eq(bpfvm_map_lookup_batch(m, &b), -ENOENT); /* the end */
	ck_assert_uint_eq(b.count, 3);
	ck_assert_uint_eq(keys[4], 4);
	ck_assert_uint_eq(vals[4], 14);
	ck_assert_int_eq(bpfvm_map_lookup_and_delete_batch(m, &b), -BPFVM_ENOTSUPP);
	ck_assert_int_eq(bpfvm_map_delete_batch(m, &b), -BPFVM_ENOTSUPP);
	bpfvm_map_free(m);
}
END_TEST

START_TEST(batch_hash)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_HASH, 4, 8, 64, 0);
	uint32_t keys[64], bucket;
	uint64_t vals[64];
	for (uint32_t i = 0; i < 40; i++)
		keys[i] = i, vals[i] = 100 + i;
	struct bpfvm_batch b = { NULL, &bucket, keys, vals, 40, 0, 0 };
	ck_assert_int_eq(bpfvm_map_update_batch(m, &b), 0);
	/* a zero count does nothing */
	b.count = 0;
	ck_assert_int_eq(bpfvm_map_lookup_batch(m, &b), 0);
	/* whole buckets: a count of 64 takes all and reaches the end */
	memset(keys, 0, sizeof(keys));
	b = (struct bpfvm_batch){ NULL, &bucket, keys, vals, 64, 0, 0 };
	ck_assert_int_eq(bpfvm_map_lookup_batch(m, &b), -ENOENT);
	ck_assert_uint_eq(b.count, 40);
	uint64_t seen = 0;
	for (uint32_t i = 0; i < 40; i++) {
		ck_assert_uint_eq(vals[i], 100 + keys[i]);
		seen |= 1ull << keys[i];
	}
	ck_assert_uint_eq(seen, (1ull << 40) - 1);
	b.flags = 1;
	ck_assert_int_eq(bpfvm_map_lookup_batch(m, &b), -EINVAL);
	/* one at a time, resuming from the bucket token, deleting */
	uint32_t got = 0, tok = 0;
	int r;
	do {
		b = (struct bpfvm_batch){ got ? &tok : NULL, &tok, keys + got,
					  vals + got, 1, 0, 0 };
		r = bpfvm_map_lookup_and_delete_batch(m, &b);
		/* a bucket of several: ask for more, as ENOSPC says */
		for (uint32_t want = 2; r == -ENOSPC && want <= 8; want++) {
			ck_assert_uint_eq(b.count, 0);
			b.count = want;
			r = bpfvm_map_lookup_and_delete_batch(m, &b);
		}
		got += b.count;
	} while (r == 0);
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_uint_eq(got, 40);
	uint32_t next;
	ck_assert_int_eq(bpfvm_map_get_next_key(m, NULL, &next), -ENOENT);
	/* a token past the buckets */
	tok = 1u << 20;
	b = (struct bpfvm_batch){ &tok, &tok, keys, vals, 4, 0, 0 };
	ck_assert_int_eq(bpfvm_map_lookup_batch(m, &b), -ENOENT);
	/* delete: stops at the first missing key */
	ck_assert_int_eq(upd32(m, 1, 1, 0), 0);
	ck_assert_int_eq(upd32(m, 2, 2, 0), 0);
	keys[0] = 1, keys[1] = 7, keys[2] = 2;
	b = (struct bpfvm_batch){ NULL, NULL, keys, NULL, 3, 0, 0 };
	ck_assert_int_eq(bpfvm_map_delete_batch(m, &b), -ENOENT);
	ck_assert_uint_eq(b.count, 1);
	bpfvm_map_free(m);

	m = tu_map(BPF_MAP_TYPE_QUEUE, 0, 8, 4, 0);
	b = (struct bpfvm_batch){ NULL, NULL, keys, vals, 1, 0, 0 };
	ck_assert_int_eq(bpfvm_map_lookup_batch(m, &b), -BPFVM_ENOTSUPP);
	ck_assert_int_eq(bpfvm_map_update_batch(m, &b), -BPFVM_ENOTSUPP);
	bpfvm_map_free(m);
}
END_TEST

/* ---- bpf_spin_lock in values ------------------------------------------ */

/* value: { u64 a; u32 lock; u32 pad; u64 b } (24 bytes), lock at 8 */
struct locked_val {
	uint64_t a;
	uint32_t lock, pad;
	uint64_t b;
};

START_TEST(spin_lock_rules)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_LRU_HASH, 4, 24, 4, 0);
	ck_assert_int_eq(bpfvm_map_set_spin_lock(m, 8), -EOPNOTSUPP);
	bpfvm_map_free(m);
	m = tu_map(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 24, 4, 0);
	ck_assert_int_eq(bpfvm_map_set_spin_lock(m, 8), -EOPNOTSUPP);
	bpfvm_map_free(m);

	uint32_t types[] = { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH };
	for (int t = 0; t < 2; t++) {
		m = tu_map(types[t], 4, 24, 4, 0);
		struct locked_val v = { 1, 0xffffffff, 2, 3 }, out;
		uint32_t k = 1;
		ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, BPF_F_LOCK), -EINVAL);
		ck_assert_int_eq(bpfvm_map_set_spin_lock(m, 6), -EINVAL);
		ck_assert_int_eq(bpfvm_map_set_spin_lock(m, 24), -EINVAL);
		ck_assert_int_eq(bpfvm_map_set_spin_lock(m, 8), 0);
		/* plain copies skip the lock word, reads give 0 there */
		ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, 0), 0);
		struct locked_val *p = bpfvm_map_lookup_prog(m, &k, 0);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(p->lock, 0);
		ck_assert_uint_eq(p->pad, 2);
		bpfvm_spin_lock(&p->lock);
		ck_assert_uint_eq(p->lock, 1);
		memset(&out, 0xee, sizeof(out));
		ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &out, 0), 0);
		ck_assert_uint_eq(out.lock, 0);
		ck_assert_uint_eq(out.b, 3);
		bpfvm_spin_unlock(&p->lock);
		/* BPF_F_LOCK: in place under the value's lock (a hash element is
		 * not replaced), with every flag check */
		v.a = 10;
		ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, BPF_F_LOCK | BPF_NOEXIST),
				 -EEXIST);
		ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, BPF_F_LOCK | BPF_EXIST), 0);
		ck_assert_ptr_eq(bpfvm_map_lookup_prog(m, &k, 0), p);
		ck_assert_uint_eq(p->a, 10);
		ck_assert_uint_eq(p->lock, 0);
		ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &out, BPF_F_LOCK), 0);
		ck_assert_uint_eq(out.a, 10);
		ck_assert_uint_eq(out.lock, 0);
		ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &out, 8), -EINVAL);
		/* arrays walk on from key 0 to 1; the hash holds key 1 only */
		uint32_t keys[1], tok, zero = 0;
		struct locked_val vals[1];
		struct bpfvm_batch b = { t ? NULL : &zero, &tok, keys, vals, 1,
					 BPF_F_LOCK, 0 };
		int r = bpfvm_map_lookup_batch(m, &b);
		ck_assert(r == 0 || r == -ENOENT);
		ck_assert_uint_eq(b.count, 1);
		ck_assert_uint_eq(keys[0], 1);
		ck_assert_uint_eq(vals[0].a, 10);
		if (types[t] == BPF_MAP_TYPE_HASH) {
			k = 2; /* a new key with BPF_F_LOCK is a plain insert */
			ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, BPF_F_LOCK), 0);
			ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, &k, &out,
									  BPF_F_LOCK), 0);
			ck_assert_uint_eq(out.a, 10);
			ck_assert_uint_eq(out.lock, 0);
		}
		bpfvm_map_free(m);
	}
}
END_TEST

/* Key 0: a writer fills a 4 KiB value with n under the lock, a reader must
 * never see two different n.  Key 1: programs' increments under
 * bpf_spin_lock add up. */
struct big_locked {
	uint64_t a;
	uint32_t lock, pad;
	uint64_t rest[510];
};

static int big_torn(const struct big_locked *v)
{
	for (int i = 0; i < 510; i++)
		if (v->rest[i] != v->a)
			return 1;
	return 0;
}

struct lockwork {
	struct bpfvm_map *m;
	int id, bad;
	pthread_barrier_t *go; /* all start together, so they overlap */
};

static void *lock_worker(void *arg)
{
	struct lockwork *w = arg;
	uint32_t k = 0;
	static __thread struct big_locked v;
	pthread_barrier_wait(w->go);
	for (uint64_t i = 1; i <= 20000; i++) {
		if (w->id == 0) {
			v.a = i;
			for (int j = 0; j < 510; j++)
				v.rest[j] = i;
			if (bpfvm_map_update_elem(w->m, &k, &v, BPF_F_LOCK))
				w->bad++;
		} else if (w->id == 1) {
			if (bpfvm_map_lookup_elem(w->m, &k, &v, BPF_F_LOCK) || big_torn(&v))
				w->bad++;
		} else {
			k = 1;
			struct big_locked *p = bpfvm_map_lookup_prog(w->m, &k, 0);
			bpfvm_spin_lock(&p->lock);
			p->pad++; /* not atomic: only the lock makes it right */
			bpfvm_spin_unlock(&p->lock);
		}
	}
	return NULL;
}

START_TEST(spin_lock_threads)
{
	uint32_t types[] = { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_HASH };
	for (int t = 0; t < 2; t++) {
		struct bpfvm_map *m = tu_map(types[t], 4, sizeof(struct big_locked), 2, 0);
		ck_assert_int_eq(bpfvm_map_set_spin_lock(m, 8), 0);
		static struct big_locked v;
		for (uint32_t k = 0; k < 2; k++)
			ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &v, 0), 0);
		/* two at a time, one per core: writer and reader, then two
		 * programs incrementing */
		pthread_t th[4];
		struct lockwork w[4];
		pthread_barrier_t go[2];
		for (int i = 0; i < 4; i++) {
			if (i % 2 == 0)
				pthread_barrier_init(&go[i / 2], NULL, 2);
			w[i] = (struct lockwork){ m, i < 2 ? i : 2, 0, &go[i / 2] };
			ck_assert_int_eq(pthread_create(&th[i], NULL, lock_worker, &w[i]), 0);
			if (i % 2) {
				pthread_join(th[i - 1], NULL);
				pthread_join(th[i], NULL);
				pthread_barrier_destroy(&go[i / 2]);
			}
		}
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(w[i].bad, 0);
		uint32_t k = 0;
		struct big_locked *p = bpfvm_map_lookup_prog(m, &k, 0);
		ck_assert_uint_eq(p->a, 20000);
		k = 1;
		p = bpfvm_map_lookup_prog(m, &k, 0);
		ck_assert_uint_eq(p->pad, 40000);
		bpfvm_map_free(m);
	}
}
END_TEST

/* ---- epochs ----------------------------------------------------------- */

START_TEST(epoch_grace)
{
	struct bpfvm_epoch *d = bpfvm_epoch_new();
	uint64_t t0 = bpfvm_epoch_retire(d);
	ck_assert(bpfvm_epoch_safe(d, t0)); /* nobody was running */
	unsigned run = bpfvm_epoch_enter(d);
	uint64_t t1 = bpfvm_epoch_retire(d);
	for (int i = 0; i < 5; i++)
		ck_assert(!bpfvm_epoch_safe(d, t1)); /* a run began before it */
	bpfvm_epoch_exit(d, run);
	ck_assert(bpfvm_epoch_safe(d, t1));
	/* runs that began later hold up only later tags */
	unsigned a = bpfvm_epoch_enter(d);
	uint64_t t2 = bpfvm_epoch_retire(d);
	bpfvm_epoch_exit(d, a);
	unsigned b = bpfvm_epoch_enter(d);
	ck_assert(bpfvm_epoch_safe(d, t1));
	bpfvm_epoch_exit(d, b);
	ck_assert(bpfvm_epoch_safe(d, t2));
	bpfvm_epoch_free(d);
}
END_TEST

/* A program's value pointer keeps its content while its run lasts, however
 * much the map churns; after the run the element is reused. */
START_TEST(epoch_keeps_values)
{
	struct bpfvm_epoch *d = bpfvm_epoch_new();
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_HASH, 4, 8, 16, NP);
	bpfvm_map_set_epoch(m, d);
	ck_assert_int_eq(upd32(m, 1, 111, 0), 0);
	unsigned run = bpfvm_epoch_enter(d);
	uint32_t k = 1;
	uint64_t *p = bpfvm_map_lookup_prog(m, &k, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), 0);
	for (uint32_t i = 0; i < 1000; i++) { /* far past the 64 of quarantine */
		ck_assert_int_eq(upd32(m, 2 + i % 8, i, 0), 0);
		ck_assert_int_eq(upd32(m, 1, i, 0), 0);
		ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), 0);
	}
	ck_assert_uint_eq(*p, 111);
	bpfvm_epoch_exit(d, run);
	ck_assert_int_eq(upd32(m, 100, 5, 0), 0); /* the oldest retired first */
	k = 100;
	ck_assert_ptr_eq(bpfvm_map_lookup_prog(m, &k, 0), p);
	bpfvm_map_free(m);

	m = tu_map(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 16, NP);
	bpfvm_map_set_epoch(m, d);
	struct ip4key r = ip4(10, 1, 0, 0, 16), q = ip4(10, 1, 2, 3, 32);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &r, &(uint64_t){ 16 }, 0), 0);
	run = bpfvm_epoch_enter(d);
	p = bpfvm_map_lookup_prog(m, &q, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &r), 0);
	for (uint64_t i = 0; i < 1000; i++) {
		struct ip4key o = ip4(10, 2, (unsigned)(i % 5), 0, 24);
		ck_assert_int_eq(bpfvm_map_update_elem(m, &o, &i, 0), 0);
		ck_assert_int_eq(bpfvm_map_delete_elem(m, &o), 0);
	}
	ck_assert_uint_eq(*p, 16);
	bpfvm_epoch_exit(d, run);
	bpfvm_map_free(m);
	bpfvm_epoch_free(d);
}
END_TEST

struct ework {
	struct bpfvm_map *m;
	struct bpfvm_epoch *d;
	uint32_t id;
	int bad;
};

/* Writers churn keys 0..63 (value key*1000+n); readers, inside a run, take
 * a value pointer and read it again later: it must not have moved to
 * another key. */
static void *epoch_worker(void *arg)
{
	struct ework *w = arg;
	for (uint32_t i = 0; i < 10000; i++) {
		uint32_t k = (i * 7 + w->id) % 64;
		if (w->id == 0) {
			uint64_t v = (uint64_t)k * 1000 + i % 1000;
			if (i % 3 == 2)
				bpfvm_map_delete_elem(w->m, &k);
			else if (bpfvm_map_update_elem(w->m, &k, &v, 0))
				w->bad++;
			continue;
		}
		unsigned run = bpfvm_epoch_enter(w->d);
		uint64_t *p = bpfvm_map_lookup_prog(w->m, &k, 0);
		if (p) {
			uint64_t a = __atomic_load_n(p, __ATOMIC_RELAXED);
			for (int spin = 0; spin < 3; spin++)
				sched_yield();
			uint64_t b = __atomic_load_n(p, __ATOMIC_RELAXED);
			if (a / 1000 != k || a != b)
				w->bad++;
		}
		bpfvm_epoch_exit(w->d, run);
	}
	return NULL;
}

START_TEST(epoch_threads)
{
	struct bpfvm_epoch *d = bpfvm_epoch_new();
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_HASH, 4, 8, 64, NP);
	bpfvm_map_set_epoch(m, d);
	/* one writer, one reader: one per core */
	pthread_t t[2];
	struct ework w[2];
	for (uint32_t i = 0; i < 2; i++) {
		w[i] = (struct ework){ m, d, i, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, epoch_worker, &w[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(w[i].bad, 0);
	bpfvm_map_free(m);
	bpfvm_epoch_free(d);
}
END_TEST

/* ---- threads ---------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 2000

struct worker {
	struct bpfvm_map *m;
	uint32_t id;
	int bad;
};

/* Each thread inserts its own keys, rewrites them, deletes half, and reads
 * the others' keys meanwhile: what user space reads must be a value some
 * thread wrote for that key (key * 10 + round), never a torn or foreign
 * one.  A program's pointer may meet a reused element (as with the
 * kernel's preallocated maps): it must still hold a whole value. */
static void *work(void *arg)
{
	struct worker *w = arg;
	for (uint32_t round = 1; round <= 3; round++)
		for (uint32_t i = 0; i < PER_THREAD; i++) {
			uint32_t k = w->id * PER_THREAD + i;
			uint64_t v = (uint64_t)k * 10 + round, got;
			if (bpfvm_map_update_elem(w->m, &k, &v, BPF_ANY))
				w->bad++;
			uint32_t other = ((w->id + 1) % THREADS) * PER_THREAD + i;
			int r = bpfvm_map_lookup_elem(w->m, &other, &got, 0);
			if (r == 0 && (got / 10 != other || got % 10 > 3))
				w->bad++;
			uint64_t *p = bpfvm_map_lookup_prog(w->m, &other, 0);
			uint64_t pv = p ? __atomic_load_n(p, __ATOMIC_RELAXED) : 11;
			if (pv / 10 >= THREADS * PER_THREAD || pv % 10 < 1 || pv % 10 > 3)
				w->bad++;
			if (round == 3 && i % 2 && bpfvm_map_delete_elem(w->m, &k))
				w->bad++;
		}
	return NULL;
}

static void threads_on(uint32_t flags)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_HASH, 4, 8, THREADS * PER_THREAD, flags);
	pthread_t t[THREADS];
	struct worker w[THREADS];
	for (uint32_t i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ m, i, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	/* all joined before any assertion: w[] lives on this stack */
	for (uint32_t i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (uint32_t i = 0; i < THREADS; i++)
		ck_assert_int_eq(w[i].bad, 0);
	/* nothing lost: every even key with its last value, no odd key */
	for (uint32_t k = 0; k < THREADS * PER_THREAD; k++) {
		uint64_t v;
		int r = bpfvm_map_lookup_elem(m, &k, &v, 0);
		if (k % 2) {
			ck_assert_int_eq(r, -ENOENT);
		} else {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(v, (uint64_t)k * 10 + 3);
		}
	}
	bpfvm_map_free(m);
}

/* Lookups take no lock: while two threads keep replacing 64 keys' values
 * (eight equal words, each naming the key and a counter), two others read
 * them back, and every read must be one whole value written for that key:
 * a copy that raced a replace is taken again. */
#define TORN_KEYS 64u
#define TORN_WORDS 8u
#define TORN_ROUNDS 100000u

struct torn {
	struct bpfvm_map *m;
	uint32_t id;
	int writer;
	long bad, reads;
};

static void *torn_work(void *arg)
{
	struct torn *w = arg;
	uint64_t v[TORN_WORDS];
	for (uint32_t r = 0; r < TORN_ROUNDS; r++) {
		uint32_t k = (r * 7 + w->id) % TORN_KEYS;
		if (w->writer) {
			for (uint32_t i = 0; i < TORN_WORDS; i++)
				v[i] = (uint64_t)k << 32 | (r * 2 + w->id);
			if (bpfvm_map_update_elem(w->m, &k, v, BPF_EXIST))
				w->bad++;
			continue;
		}
		if (bpfvm_map_lookup_elem(w->m, &k, v, 0)) {
			w->bad++; /* every key stays in the map */
			continue;
		}
		w->reads++;
		for (uint32_t i = 0; i < TORN_WORDS; i++)
			if (v[i] != v[0] || v[i] >> 32 != k)
				w->bad++;
	}
	return NULL;
}

START_TEST(threads_hash_whole_values)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_HASH, 4, 8 * TORN_WORDS,
				     TORN_KEYS, 0);
	uint64_t v[TORN_WORDS];
	for (uint32_t k = 0; k < TORN_KEYS; k++) {
		for (uint32_t i = 0; i < TORN_WORDS; i++)
			v[i] = (uint64_t)k << 32;
		ck_assert_int_eq(bpfvm_map_update_elem(m, &k, v, BPF_NOEXIST), 0);
	}
	pthread_t t[4];
	struct torn w[4];
	for (uint32_t i = 0; i < 4; i++) {
		w[i] = (struct torn){ m, i, i < 2, 0, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, torn_work, &w[i]), 0);
	}
	for (uint32_t i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_int_eq(w[i].bad, 0);
	ck_assert_int_eq(w[2].reads + w[3].reads, 2 * TORN_ROUNDS);
	bpfvm_map_free(m);
}
END_TEST

START_TEST(threads_hash) { threads_on(0); }
END_TEST
START_TEST(threads_hash_no_prealloc) { threads_on(BPF_F_NO_PREALLOC); }
END_TEST

/* LPM under churn: writers add and remove /16 and /24 routes inside
 * 10.0.0.0/8, which stays; readers must always match something, and the
 * value they get must belong to a route that contains the address. */
static void *lpm_writer(void *arg)
{
	struct worker *w = arg;
	for (uint32_t i = 0; i < PER_THREAD; i++) {
		uint8_t b = (uint8_t)(i % 50 + 50 * w->id);
		struct ip4key k = ip4(10, b, i % 3, 0, i % 2 ? 24 : 16);
		uint32_t v = k.prefixlen << 16 | (uint32_t)b << 8 | (i % 2 ? i % 3 : 0);
		if (bpfvm_map_update_elem(w->m, &k, &v, BPF_ANY))
			w->bad++;
		if (i % 3 == 0) {
			int r = bpfvm_map_delete_elem(w->m, &k);
			if (r && r != -ENOENT)
				w->bad++;
		}
	}
	return NULL;
}

static void *lpm_reader(void *arg)
{
	struct worker *w = arg;
	for (uint32_t i = 0; i < PER_THREAD * 2; i++) {
		uint8_t b = (uint8_t)(i % 100), c = (uint8_t)(i % 3);
		struct ip4key q = ip4(10, b, c, 9, 32);
		uint32_t v;
		if (bpfvm_map_lookup_elem(w->m, &q, &v, 0)) {
			w->bad++;
			continue;
		}
		uint32_t plen = v >> 16, vb = (v >> 8) & 0xff, vc = v & 0xff;
		if (!(plen == 8 || (plen == 16 && vb == b) ||
		      (plen == 24 && vb == b && vc == c)))
			w->bad++;
	}
	return NULL;
}

START_TEST(threads_lpm)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_LPM_TRIE, 8, 4, 1000, NP);
	struct ip4key k8 = ip4(10, 0, 0, 0, 8);
	uint32_t v8 = 8u << 16;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k8, &v8, 0), 0);
	pthread_t t[4];
	struct worker w[4];
	for (uint32_t i = 0; i < 4; i++) {
		w[i] = (struct worker){ m, i % 2, 0 };
		ck_assert_int_eq(pthread_create(&t[i], NULL,
				 i < 2 ? lpm_writer : lpm_reader, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(w[i].bad, 0);
	bpfvm_map_free(m);
}
END_TEST

/* Producers push distinct values, consumers pop: each value comes out
 * exactly once. */
struct qworker {
	struct bpfvm_map *m;
	uint32_t id;
	uint8_t *seen; /* consumers: per value, atomically counted */
	int bad;
};

static void *qproduce(void *arg)
{
	struct qworker *w = arg;
	for (uint32_t i = 0; i < PER_THREAD; i++) {
		uint32_t v = w->id * PER_THREAD + i;
		while (bpfvm_map_push_prog(w->m, &v, 0) == -E2BIG)
			sched_yield();
	}
	return NULL;
}

static void *qconsume(void *arg)
{
	struct qworker *w = arg;
	for (uint32_t got = 0; got < PER_THREAD;) {
		uint32_t v;
		int r = bpfvm_map_pop_prog(w->m, &v);
		if (r == -ENOENT) {
			sched_yield();
			continue;
		}
		if (r || v >= 2 * PER_THREAD)
			w->bad++;
		else
			__atomic_add_fetch(&w->seen[v], 1, __ATOMIC_RELAXED);
		got++;
	}
	return NULL;
}

START_TEST(threads_queue)
{
	for (int stack = 0; stack < 2; stack++) {
		struct bpfvm_map *m = tu_map(stack ? BPF_MAP_TYPE_STACK : BPF_MAP_TYPE_QUEUE,
					     0, 4, 64, 0);
		uint8_t *seen = calloc(2 * PER_THREAD, 1);
		pthread_t t[4];
		struct qworker w[4];
		for (uint32_t i = 0; i < 4; i++) {
			w[i] = (struct qworker){ m, i % 2, seen, 0 };
			ck_assert_int_eq(pthread_create(&t[i], NULL,
					 i < 2 ? qproduce : qconsume, &w[i]), 0);
		}
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(w[i].bad, 0);
		for (uint32_t v = 0; v < 2 * PER_THREAD; v++)
			ck_assert_msg(seen[v] == 1, "value %u popped %u times", v, seen[v]);
		uint32_t v;
		ck_assert_int_eq(bpfvm_map_pop_prog(m, &v), -ENOENT);
		free(seen);
		bpfvm_map_free(m);
	}
}
END_TEST

/* ---- program array ---------------------------------------------------- */

/* A stand-in for the bpf(2) layer: descriptor n >= 100 is object n. */
struct fake_objs {
	int refs[8];
};

static void *fake_get(void *ctx, struct bpfvm_map *map, int fd, int *err)
{
	struct fake_objs *o = ctx;
	(void)map;
	if (fd < 100 || fd >= 108) {
		*err = fd == 7 ? -EINVAL : -EBADF; /* 7: not a program */
		return NULL;
	}
	o->refs[fd - 100]++;
	return &o->refs[fd - 100];
}

static void fake_put(void *ctx, void *obj)
{
	(void)ctx;
	(*(int *)obj)--;
}

static uint32_t fake_id(void *ctx, void *obj)
{
	return (uint32_t)((int *)obj - ((struct fake_objs *)ctx)->refs) + 1000;
}

static const struct bpfvm_fd_array_ops fake_ops = { fake_get, fake_put, fake_id };

START_TEST(prog_array)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0);
	struct fake_objs o = { { 0 } };
	uint32_t k = 1, v;
	int32_t fd = 101;
	/* unbound: no descriptor resolves */
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &fd, 0), -EBADF);
	bpfvm_fd_array_bind(m, &fake_ops, &o);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), -ENOENT);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &fd, BPF_NOEXIST), -EINVAL);
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &fd, BPF_EXIST), -EINVAL);
	k = 4; /* the index is checked before the descriptor */
	fd = 7;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &fd, 0), -E2BIG);
	k = 1;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &fd, 0), -EINVAL);
	fd = 3;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &fd, 0), -EBADF);
	fd = 101;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &fd, 0), 0);
	ck_assert_int_eq(o.refs[1], 1);
	ck_assert_ptr_eq(bpfvm_prog_array_get(m, 1), &o.refs[1]);
	ck_assert_ptr_null(bpfvm_prog_array_get(m, 0));
	ck_assert_ptr_null(bpfvm_prog_array_get(m, 4));
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), 0);
	ck_assert_uint_eq(v, 1001);
	ck_assert_ptr_null(bpfvm_map_lookup_prog(m, &k, 0));
	/* replacing releases the old program */
	fd = 102;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &fd, 0), 0);
	ck_assert_int_eq(o.refs[1], 0);
	ck_assert_int_eq(o.refs[2], 1);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), 0);
	ck_assert_int_eq(o.refs[2], 0);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), -ENOENT);
	k = 9;
	ck_assert_int_eq(bpfvm_map_delete_elem(m, &k), -E2BIG);
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, &k, &v, 0), -ENOENT);
	/* clearing, then freeing, releases everything */
	for (k = 0; k < 4; k++) {
		fd = 104 + (int32_t)k;
		ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &fd, 0), 0);
	}
	bpfvm_fd_array_clear(m);
	for (int i = 4; i < 8; i++)
		ck_assert_int_eq(o.refs[i], 0);
	k = 0;
	fd = 100;
	ck_assert_int_eq(bpfvm_map_update_elem(m, &k, &fd, 0), 0);
	struct bpfvm_batch b = { NULL, &v, &k, &v, 1, 0, 0 };
	ck_assert_int_eq(bpfvm_map_lookup_batch(m, &b), -BPFVM_ENOTSUPP);
	bpfvm_map_free(m);
	ck_assert_int_eq(o.refs[0], 0);
}
END_TEST

/* ---- maps of maps, against the kernel ---------------------------------- */

/* Twins: a kernel map and ours of the same shape.  Values (descriptors)
 * are the kernel's fd numbers; our resolver maps them to the twin, and our
 * ids are the kernel's, so LOOKUP bytes compare too. */
#define TWINS 48
struct twins {
	int n;
	int fd[TWINS];
	struct bpfvm_map *m[TWINS];
};

static void *twin_get(void *ctx, struct bpfvm_map *map, int fd, int *err)
{
	struct twins *tw = ctx;
	(void)map;
	for (int i = 0; i < tw->n; i++)
		if (tw->fd[i] == fd && tw->m[i]) {
			bpfvm_map_get(tw->m[i]);
			return tw->m[i];
		}
	*err = fd >= 0 && fd < 3 ? -EINVAL : -EBADF; /* stdio: not maps */
	return NULL;
}

static void twin_put(void *ctx, void *obj)
{
	(void)ctx;
	bpfvm_map_put(obj);
}

static uint32_t twin_id(void *ctx, void *obj)
{
	struct twins *tw = ctx;
	for (int i = 0; i < tw->n; i++)
		if (tw->m[i] == obj) {
			struct bpf_map_info info;
			union bpf_attr a;
			memset(&info, 0, sizeof(info));
			memset(&a, 0, sizeof(a));
			a.info.bpf_fd = (uint32_t)tw->fd[i];
			a.info.info_len = sizeof(info);
			a.info.info = (uint64_t)(uintptr_t)&info;
			return kbpf(BPF_OBJ_GET_INFO_BY_FD, &a) ? 0 : info.id;
		}
	return 0;
}

static const struct bpfvm_fd_array_ops twin_ops = { twin_get, twin_put, twin_id };

static void twin_add(struct twins *tw, struct cattr c, int inner)
{
	union bpf_attr a = attr_of(c);
	a.inner_map_fd = (uint32_t)inner;
	int fd = kbpf(BPF_MAP_CREATE, &a);
	struct bpfvm_map *m = NULL;
	int err = bpfvm_map_create_with(&a, &twin_ops, tw, &m);
	ck_assert_msg((fd < 0 ? fd : 0) == err, "create type %u inner %d: %d, kernel %d",
		      c.type, inner, err, fd);
	if (fd >= 0) {
		ck_assert_int_lt(tw->n, TWINS);
		tw->fd[tw->n] = fd;
		tw->m[tw->n++] = m;
	}
}

START_TEST(maps_of_maps_match_kernel)
{
	if (!kernel_ok("maps_of_maps_match_kernel"))
		return;
	struct twins tw = { 0 };
	const struct cattr inner[] = {
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0, 0, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 5, 0, 0, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 4, BPF_F_INNER_MAP, 0, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 5, BPF_F_INNER_MAP, 0, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 8, 4, 0, 0, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 8, 9, 0, 0, 0 },
		{ BPF_MAP_TYPE_QUEUE, 0, 8, 4, 0, 0, 0 },
		{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(inner) / sizeof(*inner); i++)
		twin_add(&tw, inner[i], 0);
	int ninner = tw.n;
	/* outer maps of both kinds over each inner shape (hash: zero seed, so
	 * the kernel's order), and the create errors */
	int outer[TWINS], nouter = 0;
	for (int i = 0; i < ninner; i++)
		for (int hash = 0; hash < 2; hash++) {
			int before = tw.n;
			twin_add(&tw, (struct cattr){ hash ? BPF_MAP_TYPE_HASH_OF_MAPS
							   : BPF_MAP_TYPE_ARRAY_OF_MAPS,
						      4, 4, 3, hash ? BPF_F_ZERO_SEED : 0,
						      0, 0 }, tw.fd[i]);
			if (tw.n > before)
				outer[nouter++] = before;
		}
	ck_assert_int_ge(nouter, 12);
	twin_add(&tw, (struct cattr){ BPF_MAP_TYPE_HASH_OF_MAPS, 4, 8, 3, 0, 0, 0 }, tw.fd[0]);
	twin_add(&tw, (struct cattr){ BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 3, 0, 0, 0 },
		 tw.fd[outer[1]]); /* a hash of maps inside: EINVAL */
	twin_add(&tw, (struct cattr){ BPF_MAP_TYPE_HASH_OF_MAPS, 4, 4, 3, 0, 0, 0 }, 999);
	twin_add(&tw, (struct cattr){ BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 3, 0, 0, 0 },
		 tw.fd[outer[0]]); /* nested: EINVAL */
	twin_add(&tw, (struct cattr){ BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 3, 0, 0, 0 }, 999);
	twin_add(&tw, (struct cattr){ BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 3, 0, 0, 0 }, 1);
	twin_add(&tw, (struct cattr){ BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 8, 3, 0, 0, 0 }, tw.fd[0]);
	twin_add(&tw, (struct cattr){ BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 3,
				      BPF_F_INNER_MAP, 0, 0 }, tw.fd[0]);

	/* the kernel waits for an RCU grace period on each map-in-map write
	 * (maybe_wait_bpf_programs): few steps go a long way */
	uint64_t seed = 42;
	for (int step = 0; step < 800; step++) {
		int o = outer[tu_rnd(&seed) % (uint64_t)nouter];
		struct bpfvm_map *m = tw.m[o];
		int fd = tw.fd[o];
		uint32_t key = (uint32_t)(tu_rnd(&seed) % 5), mine = 0x5a5a5a5a, theirs = mine;
		/* a value: some map's fd, or a bad one */
		uint64_t r = tu_rnd(&seed) % (uint64_t)(tw.n + 2);
		uint32_t val = r < (uint64_t)tw.n ? (uint32_t)tw.fd[r] : r == (uint64_t)tw.n ? 999u : 1u;
		uint64_t fl = tu_rnd(&seed) % 4 ? 0 : tu_rnd(&seed) % 5;
		int op = (int)(tu_rnd(&seed) % 7), a, b;
		switch (op) {
		case 0: case 1:
			a = bpfvm_map_update_elem(m, &key, &val, fl);
			b = kop(BPF_MAP_UPDATE_ELEM, fd, &key, &val, fl);
			break;
		case 2:
			a = bpfvm_map_lookup_elem(m, &key, &mine, 0);
			b = kop(BPF_MAP_LOOKUP_ELEM, fd, &key, &theirs, 0);
			break;
		case 3:
			a = bpfvm_map_delete_elem(m, &key);
			b = kop(BPF_MAP_DELETE_ELEM, fd, &key, NULL, 0);
			break;
		case 4:
			a = bpfvm_map_lookup_and_delete_elem(m, &key, &mine, 0);
			b = kop(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, &key, &theirs, 0);
			break;
		case 5: {
			const void *from = tu_rnd(&seed) % 4 ? &key : NULL;
			a = bpfvm_map_get_next_key(m, from, &mine);
			b = kop(BPF_MAP_GET_NEXT_KEY, fd, from, &theirs, 0);
			break;
		}
		default: {
			int cmd = batch_cmds[tu_rnd(&seed) % 4];
			uint32_t keys[2][3] = { { 0, 1, 2 }, { 0, 1, 2 } }, vals[2][3],
				 ob[2] = { 7, 7 };
			for (int i = 0; i < 3; i++)
				vals[0][i] = vals[1][i] = (uint32_t)tw.fd[tu_rnd(&seed) % (uint64_t)tw.n];
			struct bpfvm_batch mb = { NULL, &ob[0], keys[0], vals[0], 3, 0, 0 };
			struct bpfvm_batch kb = { NULL, &ob[1], keys[1], vals[1], 3, 0, 0 };
			a = mbatch(cmd, m, &mb);
			b = kbatch(cmd, fd, &kb);
			ck_assert_msg(a == b && mb.count == kb.count &&
				      !memcmp(vals[0], vals[1], sizeof(vals[0])) &&
				      ob[0] == ob[1],
				      "step %d batch %d: %d/%u, kernel %d/%u", step, cmd,
				      a, mb.count, b, kb.count);
			continue;
		}
		}
		ck_assert_msg(a == b, "step %d op %d key %u val %u flags %llu: %d, kernel %d",
			      step, op, key, val, (unsigned long long)fl, a, b);
		ck_assert_uint_eq(mine, theirs);
		/* a program sees the inner map itself */
		if (op == 2 && !a && mine) {
			struct bpfvm_map *in = bpfvm_map_lookup_prog(m, &key, 0);
			ck_assert_ptr_nonnull(in);
			ck_assert_uint_eq(twin_id(&tw, in), mine);
		}
	}
	for (int i = tw.n - 1; i >= 0; i--) {
		close(tw.fd[i]);
		bpfvm_fd_array_clear(tw.m[i]);
	}
	for (int i = tw.n - 1; i >= 0; i--) {
		ck_assert_uint_eq(tw.m[i]->refcnt, 1); /* every reference given back */
		bpfvm_map_put(tw.m[i]);
	}
}
END_TEST

/* ---- ring buffer ------------------------------------------------------ */

struct drain {
	uint32_t n;
	uint8_t last[64];
	size_t last_size;
	uint64_t sum;
	int fail_at;
};

static int drain_cb(void *ctx, void *data, size_t size)
{
	struct drain *d = ctx;
	if (d->fail_at && (int)d->n + 1 == d->fail_at)
		return -42;
	d->n++;
	d->last_size = size;
	memcpy(d->last, data, size < 64 ? size : 64);
	if (size >= 8) {
		uint64_t v;
		memcpy(&v, data, 8);
		d->sum += v;
	}
	return 0;
}

/* A record of bytes 0, 1, 2, ... in one piece. */
static int check_seq(void *ctx, void *data, size_t size)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < size; i++)
		if (p[i] != (uint8_t)i)
			return 0;
	*(int *)ctx = size == 2000;
	return 0;
}

static uint64_t wakeups(int efd)
{
	uint64_t n = 0;
	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

START_TEST(ringbuf_records)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	int efd = bpfvm_ringbuf_wait_fd(m);
	ck_assert_int_ge(efd, 0);
	ck_assert_uint_eq(bpfvm_ringbuf_query(m, BPF_RB_RING_SIZE), 4096);
	ck_assert_uint_eq(bpfvm_ringbuf_query(m, BPF_RB_AVAIL_DATA), 0);
	ck_assert_uint_eq(bpfvm_ringbuf_query(m, 99), 0);

	/* reserve, fill, submit: one record of 8 + 8 bytes */
	uint64_t *a = bpfvm_ringbuf_reserve(m, 8, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq((uintptr_t)a % 8, 0);
	*a = 7;
	ck_assert_uint_eq(bpfvm_ringbuf_query(m, BPF_RB_PROD_POS), 16);
	struct drain d = { 0 };
	ck_assert_int_eq(bpfvm_ringbuf_consume(m, drain_cb, &d), 0); /* busy */
	bpfvm_ringbuf_submit(a, 0);
	ck_assert_uint_eq(wakeups(efd), 1); /* the consumer was waiting for it */
	/* a discarded record is skipped; output copies */
	void *b = bpfvm_ringbuf_reserve(m, 3, 0);
	ck_assert_ptr_nonnull(b);
	bpfvm_ringbuf_discard(b, BPF_RB_NO_WAKEUP);
	char msg[5] = "abcd";
	ck_assert_int_eq(bpfvm_ringbuf_output(m, msg, 5, BPF_RB_NO_WAKEUP), 0);
	ck_assert_int_eq(bpfvm_ringbuf_output(m, msg, 5, 4), -EINVAL);
	ck_assert_ptr_null(bpfvm_ringbuf_reserve(m, 8, 1));
	ck_assert_uint_eq(bpfvm_ringbuf_query(m, BPF_RB_AVAIL_DATA), 16 + 16 + 16);
	ck_assert_int_eq(bpfvm_ringbuf_consume(m, drain_cb, &d), 2);
	ck_assert_uint_eq(d.sum, 7);
	ck_assert_uint_eq(d.last_size, 5);
	ck_assert_str_eq((char *)d.last, "abcd");
	ck_assert_uint_eq(bpfvm_ringbuf_query(m, BPF_RB_CONS_POS), 48);
	ck_assert_uint_eq(bpfvm_ringbuf_query(m, BPF_RB_AVAIL_DATA), 0);
	/* the consumer is not level with a record behind another: no wakeup
	 * for the second, FORCE wakes anyway */
	void *c1 = bpfvm_ringbuf_reserve(m, 8, 0), *c2 = bpfvm_ringbuf_reserve(m, 8, 0);
	bpfvm_ringbuf_submit(c2, 0);
	ck_assert_uint_eq(wakeups(efd), 0);
	bpfvm_ringbuf_submit(c1, BPF_RB_NO_WAKEUP);
	ck_assert_uint_eq(wakeups(efd), 0);
	ck_assert_int_eq(bpfvm_ringbuf_output(m, msg, 1, BPF_RB_FORCE_WAKEUP), 0);
	ck_assert_uint_eq(wakeups(efd), 1);
	/* a callback error stops the walk; as with libbpf, the record it
	 * failed on is consumed too */
	d = (struct drain){ .fail_at = 2 };
	ck_assert_int_eq(bpfvm_ringbuf_consume(m, drain_cb, &d), -42);
	ck_assert_uint_eq(d.n, 1);
	d.fail_at = 0;
	ck_assert_int_eq(bpfvm_ringbuf_consume(m, drain_cb, &d), 1);
	ck_assert_uint_eq(d.last_size, 1);

	/* user space: every command is ENOTSUPP */
	uint64_t v;
	ck_assert_int_eq(bpfvm_map_lookup_elem(m, NULL, &v, 0), -BPFVM_ENOTSUPP);
	ck_assert_int_eq(bpfvm_map_update_elem(m, NULL, &v, 0), -BPFVM_ENOTSUPP);
	ck_assert_int_eq(bpfvm_map_delete_elem(m, NULL), -BPFVM_ENOTSUPP);
	ck_assert_int_eq(bpfvm_map_get_next_key(m, NULL, &v), -BPFVM_ENOTSUPP);
	ck_assert_int_eq(bpfvm_map_lookup_and_delete_elem(m, NULL, &v, 0),
			 -BPFVM_ENOTSUPP);
	bpfvm_map_free(m);
}
END_TEST

START_TEST(ringbuf_full_and_wrap)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	/* too big for the ring, or for any record */
	ck_assert_ptr_null(bpfvm_ringbuf_reserve(m, 4096, 0));
	ck_assert_ptr_null(bpfvm_ringbuf_reserve(m, 1ull << 31, 0));
	ck_assert_int_eq(bpfvm_ringbuf_output(m, "", 4096, 0), -EAGAIN);
	/* 4088 + 8 would fill the ring exactly: the kernel keeps one byte */
	ck_assert_ptr_null(bpfvm_ringbuf_reserve(m, 4088, 0));
	/* 4 records of 1000 + 8 (4032 bytes), then the next does not fit */
	uint8_t buf[1000];
	for (int i = 0; i < 4; i++) {
		memset(buf, i + 1, sizeof(buf));
		ck_assert_int_eq(bpfvm_ringbuf_output(m, buf, 1000, 0), 0);
	}
	ck_assert_int_eq(bpfvm_ringbuf_output(m, buf, 1000, 0), -EAGAIN);
	struct drain d = { 0 };
	ck_assert_int_eq(bpfvm_ringbuf_consume(m, drain_cb, &d), 4);
	/* this one starts at 4032 and wraps: still contiguous */
	uint8_t *w = bpfvm_ringbuf_reserve(m, 2000, 0);
	ck_assert_ptr_nonnull(w);
	for (int i = 0; i < 2000; i++)
		w[i] = (uint8_t)i;
	bpfvm_ringbuf_submit(w, 0);
	int ok = 0;
	ck_assert_int_eq(bpfvm_ringbuf_consume(m, check_seq, &ok), 1);
	ck_assert_int_eq(ok, 1);
	/* the next record starts where the wrapped one ends, in the first
	 * mapping */
	uint8_t *again = bpfvm_ringbuf_reserve(m, 8, 0);
	ck_assert_ptr_eq(again, w + 2000 + 8 - 4096);
	bpfvm_ringbuf_discard(again, 0);
	bpfvm_map_free(m);
}
END_TEST

/* Producers on two threads, the consumer on a third: every record once. */
static void *rb_produce(void *arg)
{
	struct bpfvm_map *m = ((struct worker *)arg)->m;
	uint32_t id = ((struct worker *)arg)->id;
	for (uint32_t i = 0; i < PER_THREAD; i++) {
		uint64_t v = (uint64_t)id << 32 | i;
		uint64_t *p;
		while (!(p = bpfvm_ringbuf_reserve(m, 8, 0)))
			sched_yield();
		*p = v;
		if (i % 5 == 0)
			bpfvm_ringbuf_discard(p, 0);
		else
			bpfvm_ringbuf_submit(p, 0);
	}
	return NULL;
}

struct seen_ids {
	uint8_t *seen;
	int bad;
};

static int rb_seen(void *ctx, void *data, size_t size)
{
	struct seen_ids *s = ctx;
	uint64_t v;
	memcpy(&v, data, 8);
	uint32_t id = (uint32_t)(v >> 32), i = (uint32_t)v;
	if (size != 8 || id > 1 || i >= PER_THREAD || i % 5 == 0)
		s->bad++;
	else
		s->seen[id * PER_THREAD + i]++;
	return 0;
}

START_TEST(ringbuf_threads)
{
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	pthread_t t[2];
	struct worker w[2] = { { m, 0, 0 }, { m, 1, 0 } };
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, rb_produce, &w[i]), 0);
	struct seen_ids s = { calloc(2 * PER_THREAD, 1), 0 };
	uint32_t want = 2 * (PER_THREAD - PER_THREAD / 5), got = 0;
	while (got < want) {
		int n = bpfvm_ringbuf_consume(m, rb_seen, &s);
		ck_assert_int_ge(n, 0);
		got += (uint32_t)n;
		if (!n)
			sched_yield();
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(s.bad, 0);
	for (uint32_t i = 0; i < 2 * PER_THREAD; i++)
		ck_assert_uint_eq(s.seen[i], i % PER_THREAD % 5 ? 1 : 0);
	free(s.seen);
	bpfvm_map_free(m);
}
END_TEST

/* ---- the kernel in lock-step ------------------------------------------ */


/* Every key in iteration order, as a byte string; -errno of the end. */
static int walk_ours(struct bpfvm_map *m, uint8_t *out, size_t *n)
{
	uint8_t cur[64], next[64];
	int r = bpfvm_map_get_next_key(m, NULL, cur);
	*n = 0;
	while (r == 0 && *n < 64) {
		memcpy(out + *n * m->key_size, cur, m->key_size);
		(*n)++;
		r = bpfvm_map_get_next_key(m, cur, next);
		memcpy(cur, next, m->key_size);
	}
	return r;
}

static int walk_kernel(int fd, uint32_t ks, uint8_t *out, size_t *n)
{
	uint8_t cur[64], next[64];
	int r = kop(BPF_MAP_GET_NEXT_KEY, fd, NULL, cur, 0);
	*n = 0;
	while (r == 0 && *n < 64) {
		memcpy(out + *n * ks, cur, ks);
		(*n)++;
		r = kop(BPF_MAP_GET_NEXT_KEY, fd, cur, next, 0);
		memcpy(cur, next, ks);
	}
	return r;
}

/* The kernel writes round_up(value_size, 8) bytes per possible CPU: as
 * many as bpfvm_possible_cpus() says, not one more. */
START_TEST(possible_cpus_match_kernel)
{
	if (!kernel_ok("possible_cpus_match_kernel"))
		return;
	uint32_t n = bpfvm_possible_cpus();
	int fd = kcreate((struct cattr){ BPF_MAP_TYPE_PERCPU_ARRAY, 4, 4, 1, 0, 0, 0 });
	ck_assert_int_ge(fd, 0);
	uint8_t *buf = malloc((size_t)(n + 1) * 8);
	memset(buf, 0xa5, (size_t)(n + 1) * 8);
	uint32_t k = 0;
	ck_assert_int_eq(kop(BPF_MAP_LOOKUP_ELEM, fd, &k, buf, 0), 0);
	ck_assert_uint_eq(buf[(size_t)n * 8 - 1], 0);	/* last CPU's slot */
	ck_assert_uint_eq(buf[(size_t)n * 8], 0xa5);	/* nothing past it */
	free(buf);
	close(fd);
}
END_TEST

static const struct cattr lockstep_maps[] = {
	{ BPF_MAP_TYPE_HASH, 4, 8, 8, BPF_F_ZERO_SEED, NULL, 0 },
	{ BPF_MAP_TYPE_HASH, 4, 12, 16, BPF_F_ZERO_SEED | NP, NULL, 0 },
	{ BPF_MAP_TYPE_HASH, 6, 4, 5, BPF_F_ZERO_SEED, NULL, 0 },
	{ BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 6, BPF_F_ZERO_SEED, NULL, 0 },
	{ BPF_MAP_TYPE_PERCPU_HASH, 4, 12, 6, BPF_F_ZERO_SEED | NP, NULL, 0 },
	{ BPF_MAP_TYPE_HASH, 16, 4, 10, BPF_F_ZERO_SEED, NULL, 0 },
	{ BPF_MAP_TYPE_HASH, 4, 8, 1, BPF_F_ZERO_SEED | NP, NULL, 0 },
	{ BPF_MAP_TYPE_ARRAY, 4, 8, 6, 0, NULL, 0 },
	{ BPF_MAP_TYPE_PERCPU_ARRAY, 4, 12, 6, 0, NULL, 0 },
	{ BPF_MAP_TYPE_QUEUE, 0, 4, 4, 0, NULL, 0 },
	{ BPF_MAP_TYPE_STACK, 0, 4, 4, 0, NULL, 0 },
	{ BPF_MAP_TYPE_LPM_TRIE, 8, 4, 12, NP, NULL, 0 },
	{ BPF_MAP_TYPE_LPM_TRIE, 5, 4, 6, NP, NULL, 0 },
	{ BPF_MAP_TYPE_LPM_TRIE, 7, 8, 10, NP, NULL, 0 },
	{ BPF_MAP_TYPE_LPM_TRIE, 20, 4, 20, NP, NULL, 0 },
	{ BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_MMAPABLE, NULL, 0 },
	{ BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0, NULL, 0 }, /* all ENOTSUPP */
	{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, NULL, 0 }, /* no descriptors */
};

static const uint64_t lockstep_flags[] = { BPF_ANY, BPF_NOEXIST, BPF_EXIST,
					   BPF_F_LOCK, 3, 8 };

START_TEST(lockstep_with_kernel)
{
	if (!kernel_ok("lockstep_with_kernel"))
		return;
	for (size_t t = 0; t < sizeof(lockstep_maps) / sizeof(*lockstep_maps); t++) {
		const struct cattr *c = &lockstep_maps[t];
		struct bpfvm_map *m = NULL;
		ck_assert_int_eq(create(*c, &m), 0);
		int fd = kcreate(*c);
		ck_assert_int_ge(fd, 0);
		size_t vsz = bpfvm_map_value_size(m);
		int keyless = c->ks == 0;
		/* out buffers take a value or a key (get_next_key) */
		size_t osz = vsz > 64 ? vsz : 64;
		uint8_t *v = malloc(vsz), *mine = malloc(osz), *theirs = malloc(osz);
		uint64_t seed = 0x9e3779b97f4a7c15ull + t;
		uint8_t token[64];
		int have_tok = 0;
		for (int step = 0; step < 3000; step++) {
			uint8_t key[64];
			tu_rand_map_key(&seed, c->type, c->ks, c->max, key);
			const void *k = keyless ? NULL : key;
			for (size_t i = 0; i < vsz; i++)
				v[i] = (uint8_t)tu_rnd(&seed);
			uint64_t fl = lockstep_flags[tu_rnd(&seed) % 6];
			if (tu_rnd(&seed) % 3)
				fl = BPF_ANY;
			int op = (int)(tu_rnd(&seed) % 7), a = 0, b = 0;
			memset(mine, 0x5a, vsz);
			memset(theirs, 0x5a, vsz);
			switch (op) {
			case 0: case 1:
				a = bpfvm_map_update_elem(m, k, v, fl);
				b = kop(BPF_MAP_UPDATE_ELEM, fd, k, v, fl);
				break;
			case 2:
				a = bpfvm_map_lookup_elem(m, k, mine, fl == BPF_ANY ? 0 : fl);
				b = kop(BPF_MAP_LOOKUP_ELEM, fd, k, theirs, fl == BPF_ANY ? 0 : fl);
				break;
			case 3:
				a = bpfvm_map_delete_elem(m, k);
				b = kop(BPF_MAP_DELETE_ELEM, fd, k, NULL, 0);
				break;
			case 4:
				fl = fl == BPF_F_LOCK || fl == 1 ? fl : 0;
				a = bpfvm_map_lookup_and_delete_elem(m, k, mine, fl);
				b = kop(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, k, theirs, fl);
				break;
			case 5:
				if (keyless) {
					a = bpfvm_map_get_next_key(m, NULL, mine);
					b = kop(BPF_MAP_GET_NEXT_KEY, fd, NULL, theirs, 0);
				} else {
					a = bpfvm_map_get_next_key(m, k, mine);
					b = kop(BPF_MAP_GET_NEXT_KEY, fd, k, theirs, 0);
				}
				break;
			}
			if (op == 6) { /* a batch command, both ways */
				int cmd = batch_cmds[tu_rnd(&seed) % 4];
				static uint8_t bk[2][8 * 64], bv[2][8 * 64 * 16], ob[2][64];
				uint32_t cnt = (uint32_t)(tu_rnd(&seed) % 9);
				size_t vb = vsz * 8 > sizeof(bv[0]) ? 0 : vsz;
				if (!vb)
					continue;
				for (uint32_t i = 0; i < cnt; i++)
					tu_rand_map_key(&seed, c->type, c->ks, c->max,
								bk[0] + i * c->ks);
				for (size_t i = 0; i < cnt * vb; i++)
					bv[0][i] = (uint8_t)tu_rnd(&seed);
				memcpy(bk[1], bk[0], sizeof(bk[0]));
				memcpy(bv[1], bv[0], sizeof(bv[0]));
				memset(ob, 0x5a, sizeof(ob));
				int tok = tu_rnd(&seed) % 2 && have_tok;
				struct bpfvm_batch mb = { tok ? token : NULL, ob[0], bk[0], bv[0], cnt,
							  fl == BPF_F_LOCK || fl == 1 ? fl : 0,
							  tu_rnd(&seed) % 8 ? 0 : 1 };
				struct bpfvm_batch kb = mb;
				kb.out_batch = ob[1];
				kb.keys = bk[1];
				kb.values = bv[1];
				a = mbatch(cmd, m, &mb);
				b = kbatch(cmd, fd, &kb);
				ck_assert_msg(a == b && mb.count == kb.count,
					      "map %zu step %d batch %d count %u flags %llu/%llu: %d/%u, kernel %d/%u",
					      t, step, cmd, cnt, (unsigned long long)mb.elem_flags,
					      (unsigned long long)mb.flags, a, mb.count, b, kb.count);
				ck_assert_msg(!memcmp(bk[0], bk[1], sizeof(bk[0])) &&
					      !memcmp(bv[0], bv[1], sizeof(bv[0])) &&
					      !memcmp(ob[0], ob[1], sizeof(ob[0])),
					      "map %zu step %d batch %d: bytes differ", t, step, cmd);
				if (cmd <= BPF_MAP_LOOKUP_AND_DELETE_BATCH && mb.count) {
					memcpy(token, ob[0], sizeof(token));
					have_tok = 1;
				}
				continue;
			}
			ck_assert_msg(a == b, "map %zu step %d op %d flags %llu key %02x%02x%02x%02x %02x%02x%02x%02x: %d, kernel %d",
				      t, step, op, (unsigned long long)fl,
				      key[0], key[1], key[2], key[3], key[4],
				      key[5], key[6], key[7], a, b);
			if (a == 0 && op != 3 && op < 6 && op >= 2) {
				size_t n = op == 5 ? c->ks : vsz;
				ck_assert_msg(!memcmp(mine, theirs, n),
					      "map %zu step %d op %d: bytes differ", t, step, op);
			}
			if (step % 50 == 0 && !keyless) {
				static uint8_t ko[64 * 64], kk[64 * 64];
				size_t na, nb;
				int ra = walk_ours(m, ko, &na), rb = walk_kernel(fd, c->ks, kk, &nb);
				ck_assert_int_eq(ra, rb);
				ck_assert_msg(na == nb && !memcmp(ko, kk, na * c->ks),
					      "map %zu step %d: key order differs", t, step);
			}
		}
		free(v);
		free(mine);
		free(theirs);
		close(fd);
		bpfvm_map_free(m);
	}
}
END_TEST

static Suite *maps_suite(void)
{
	Suite *s = suite_create("maps");
	TCase *tc = tcase_create("maps");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, create_checks);
	tcase_add_test(tc, create_checks_match_kernel);
	tcase_add_test(tc, name_and_attrs_are_kept);
	tcase_add_test(tc, refcount);
	tcase_add_test(tc, array_ops);
	tcase_add_test(tc, array_mmapable_shares_values);
	tcase_add_test(tc, percpu_buffers);
	tcase_add_test(tc, hash_prealloc);
	tcase_add_test(tc, hash_no_prealloc);
	tcase_add_test(tc, hash_many_keys);
	tcase_add_test(tc, lru_evicts_instead_of_e2big);
	tcase_add_test(tc, queue_fifo_stack_lifo);
	tcase_add_test(tc, queue_stack_errnos);
	tcase_add_test(tc, lpm_routes);
	tcase_add_test(tc, lpm_errnos);
	tcase_add_test(tc, lpm_iteration_postorder);
	tcase_add_test(tc, for_each_elem);
	tcase_add_test(tc, lookup_percpu_elem);
	tcase_add_test(tc, direct_value);
	tcase_add_test(tc, batch_array);
	tcase_add_test(tc, batch_hash);
	tcase_add_test(tc, prog_array);
	tcase_add_test(tc, ringbuf_records);
	tcase_add_test(tc, ringbuf_full_and_wrap);
	tcase_add_test(tc, ringbuf_threads);
	tcase_add_test(tc, spin_lock_rules);
	tcase_add_test(tc, spin_lock_threads);
	tcase_add_test(tc, epoch_grace);
	tcase_add_test(tc, epoch_keeps_values);
	tcase_add_test(tc, epoch_threads);
	tcase_add_test(tc, threads_hash);
	tcase_add_test(tc, threads_hash_whole_values);
	tcase_add_test(tc, threads_hash_no_prealloc);
	tcase_add_test(tc, threads_queue);
	tcase_add_test(tc, threads_lpm);
	tcase_add_test(tc, possible_cpus_match_kernel);
	tcase_add_test(tc, maps_of_maps_match_kernel);
	tcase_add_test(tc, lockstep_with_kernel);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(maps_suite());
}
