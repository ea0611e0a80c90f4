/* The map helpers programs call (maps/helpers.c): each helper on real maps
 * with the kernel's return values (kernel/bpf/helpers.c, arraymap.c,
 * hashtab.c, queue_stack_maps.c, ringbuf.c), tail calls through a program
 * array, for_each with a callback, spin locks, threads, and checked mode
 * stopping what the verifier would have refused.  Every functional test
 * runs unchecked and checked: a correct program must behave the same.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bpfvm.h"
#include "bpfvm_asm.h"
#include "helpers.h"
#include "map.h"
#include "testutil.h"

/* ---- programs ---------------------------------------------------------- */

/* In the assembly text, "r1 = MAP(n)" loads map n of the test's table
 * (patched into ld_imm64 BPF_PSEUDO_MAP_FD); "r2 = FUNC(k)" the callback
 * made of the program's last k instructions (BPF_PSEUDO_FUNC). */
#define MAP_MARK 0x6d617000u
#define FUNC_MARK 0x66756e63u
#define MAP(n) "0x6d617000" "0000000" #n " ll"
#define FUNC(k) "0x66756e63" "000000" #k " ll" /* k: two hex digits */

struct tmaps {
	struct bpfvm_map *m[8];
	size_t n;
};

static int ldimm64(void *cookie, unsigned src, int32_t imm, int32_t imm2,
		   uint64_t *value, char *err, size_t errlen)
{
	struct tmaps *t = cookie;
	if ((size_t)imm >= t->n) {
		snprintf(err, errlen, "no map %d", imm);
		return -EBADF;
	}
	struct bpfvm_map *m = t->m[imm];
	if (src == BPF_PSEUDO_MAP_FD) {
		*value = (uintptr_t)m;
		return 0;
	}
	void *a;
	int e = src == BPF_PSEUDO_MAP_VALUE
			? bpfvm_map_direct_value(m, (uint32_t)imm2, &a) : -EINVAL;
	if (!e)
		*value = (uintptr_t)a + (uint32_t)imm2;
	return e;
}

static struct bpfvm *load_insns(struct bpfvm_insn *p, size_t n,
				struct tmaps *t, bool checked)
{
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i].code != (BPF_LD | BPF_DW | BPF_IMM) || p[i].src_reg)
			continue;
		uint32_t hi = (uint32_t)p[i + 1].imm;
		if (hi == MAP_MARK) {
			p[i].src_reg = BPF_PSEUDO_MAP_FD;
			p[i + 1].imm = 0;
		} else if (hi == FUNC_MARK) {
			p[i].src_reg = BPF_PSEUDO_FUNC;
			p[i].imm = (int32_t)(n - (size_t)p[i].imm - (i + 1));
			p[i + 1].imm = 0;
		}
	}
	struct bpfvm *vm = bpfvm_create();
	ck_assert_ptr_nonnull(vm);
	bpfvm_set_checked(vm, checked);
	bpfvm_set_ldimm64_hook(vm, ldimm64, t);
	ck_assert_msg(bpfvm_load(vm, p, n) == 0, "load: %s", bpfvm_error(vm));
	ck_assert_int_eq(bpfvm_map_helpers_attach(vm, t->m, t->n), 0);
	return vm;
}

static struct bpfvm *load(const char *text, struct tmaps *t, bool checked)
{
	struct bpfvm_insn *p;
	size_t n;
	char err[256];
	ck_assert_msg(bpfvm_asm(text, &p, &n, err, sizeof err) == 0, "asm: %s",
		      err);
	struct bpfvm *vm = load_insns(p, n, t, checked);
	free(p);
	return vm;
}

static void unload(struct bpfvm *vm)
{
	bpfvm_map_helpers_detach(vm);
	bpfvm_destroy(vm);
}

/* Run, expecting no run error; r0. */
static int64_t run(struct bpfvm *vm, void *ctx, size_t len)
{
	struct bpfvm_result r;
	int e = bpfvm_run(vm, ctx, len, &r);
	ck_assert_msg(e == 0, "run: %d %s", e, r.msg);
	return (int64_t)r.r0;
}

/* Load, run once, unload: r0.  ctx: a u64[4] the program may use. */
static int64_t run_text(const char *text, struct tmaps *t, bool checked,
			uint64_t *ctx)
{
	struct bpfvm *vm = load(text, t, checked);
	int64_t r0 = run(vm, ctx, ctx ? 4 * sizeof(uint64_t) : 0);
	unload(vm);
	return r0;
}

/* Run expecting the run to be stopped with err; the message. */
static void run_fails(const char *text, struct tmaps *t, int err,
		      const char *msg_part)
{
	struct bpfvm *vm = load(text, t, true);
	struct bpfvm_result r;
	uint64_t ctx[4] = { 0 };
	ck_assert_int_eq(bpfvm_run(vm, ctx, sizeof ctx, &r), err);
	ck_assert_int_eq(r.error, err);
	ck_assert_msg(strstr(r.msg, msg_part), "message '%s' lacks '%s'",
		      r.msg, msg_part);
	unload(vm);
}

/* Run vm on 4 threads with ctx[0] = rounds, ctx[1] = thread number;
 * every run must end with r0 = 0. */
static void run_threads(const struct bpfvm *vm, uint64_t rounds);

static void free_maps(struct tmaps *t)
{
	for (size_t i = 0; i < t->n; i++)
		bpfvm_map_put(t->m[i]);
	t->n = 0;
}

/* One helper call on map 0 with a u32 key at fp-4 and a u64 value at
 * fp-16; r0 as the helper returned it, or for lookups the value read
 * through the pointer (-1 for NULL), for pop/peek the value popped. */
enum op { UPDATE, DELETE, LOOKUP, PUSH, POP, PEEK };

static int64_t op(struct tmaps *t, bool checked, enum op o, uint32_t key,
		  int32_t val, int32_t flags)
{
	static const char *const call[] = {
		[UPDATE] = "r1 = " MAP(0) "\n r2 = r10\n r2 += -4\n"
			   " r3 = r10\n r3 += -16\n r4 = %d\n call 2\n exit\n",
		[DELETE] = "r1 = " MAP(0) "\n r2 = r10\n r2 += -4\n"
			   " r3 = %d\n call 3\n exit\n",
		[LOOKUP] = "r1 = " MAP(0) "\n r2 = r10\n r2 += -4\n"
			   " r3 = %d\n call 1\n if r0 == 0 goto null\n"
			   " r0 = *(u64 *)(r0 + 0)\n exit\n"
			   "null: r0 = -1\n exit\n",
		[PUSH] = "r1 = " MAP(0) "\n r2 = r10\n r2 += -16\n r3 = %d\n"
			 " call 87\n exit\n",
		[POP] = "r1 = " MAP(0) "\n r2 = r10\n r2 += -16\n r3 = %d\n"
			" call 88\n if r0 != 0 goto out\n"
			" r0 = *(u64 *)(r10 - 16)\n out: exit\n",
		[PEEK] = "r1 = " MAP(0) "\n r2 = r10\n r2 += -16\n r3 = %d\n"
			 " call 89\n if r0 != 0 goto out\n"
			 " r0 = *(u64 *)(r10 - 16)\n out: exit\n",
	};
	char text[512], body[400];
	snprintf(body, sizeof body, call[o], flags);
	snprintf(text, sizeof text,
		 "*(u32 *)(r10 - 4) = %u\n *(u64 *)(r10 - 16) = %d\n %s", key,
		 val, body);
	return run_text(text, t, checked, NULL);
}

#define BOTH_MODES for (int checked = 0; checked < 2; checked++)

/* "r0 = lookup(map m, key k); if NULL goto null" */
#define LOOKUP(m, k) "*(u32 *)(r10 - 4) = " #k "\n r1 = " MAP(m) "\n" \
	" r2 = r10\n r2 += -4\n call 1\n if r0 == 0 goto null\n"
#define NULL_EXIT "null: r0 = -1\n exit\n"


/* ---- attach / detach --------------------------------------------------- */

START_TEST(attach_rules)
{
	struct bpfvm *vm = bpfvm_create();
	struct bpfvm_map *m = tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	struct bpfvm_map *none[1] = { NULL };
	ck_assert_int_eq(bpfvm_map_helpers_attach(NULL, &m, 1), -EINVAL);
	ck_assert_int_eq(bpfvm_map_helpers_attach(vm, NULL, 1), -EINVAL);
	ck_assert_int_eq(bpfvm_map_helpers_attach(vm, none, 1), -EINVAL);
	bpfvm_map_helpers_detach(vm); /* never attached: nothing happens */
	ck_assert_int_eq(bpfvm_map_helpers_attach(vm, NULL, 0), 0);
	ck_assert_int_eq(bpfvm_map_helpers_attach(vm, &m, 1), 0); /* again */
	bpfvm_map_helpers_detach(vm);
	/* detached: the helpers are gone, a call is an unknown helper */
	struct bpfvm_insn p[] = {
		{ BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem },
		{ BPF_JMP | BPF_EXIT, 0, 0, 0, 0 },
	};
	ck_assert_int_eq(bpfvm_load(vm, p, 2), 0);
	struct bpfvm_result r;
	ck_assert_int_ne(bpfvm_run(vm, NULL, 0, &r), 0);
	bpfvm_map_helpers_detach(vm);
	bpfvm_destroy(vm);
	bpfvm_map_put(m);
}
END_TEST

/* ---- #1-3 on hash and array ------------------------------------------- */

START_TEST(hash_lookup_update_delete)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_HASH, 4, 8, 2, 0) }, 1 };
		ck_assert_int_eq(op(&t, checked, UPDATE, 1, 10, BPF_NOEXIST), 0);
		ck_assert_int_eq(op(&t, checked, UPDATE, 1, 11, BPF_NOEXIST),
				 -EEXIST);
		ck_assert_int_eq(op(&t, checked, UPDATE, 2, 20, BPF_EXIST),
				 -ENOENT);
		ck_assert_int_eq(op(&t, checked, UPDATE, 2, 20, BPF_ANY), 0);
		ck_assert_int_eq(op(&t, checked, UPDATE, 3, 30, BPF_ANY), -E2BIG);
		ck_assert_int_eq(op(&t, checked, UPDATE, 3, 30, 3), -EINVAL);
		/* BPF_F_LOCK on a value without a spin lock */
		ck_assert_int_eq(op(&t, checked, UPDATE, 1, 30, BPF_F_LOCK),
				 -EINVAL);
		ck_assert_int_eq(op(&t, checked, LOOKUP, 1, 0, 0), 10);
		ck_assert_int_eq(op(&t, checked, UPDATE, 1, 12, BPF_EXIST), 0);
		ck_assert_int_eq(op(&t, checked, LOOKUP, 1, 0, 0), 12);
		ck_assert_int_eq(op(&t, checked, DELETE, 1, 0, 0), 0);
		ck_assert_int_eq(op(&t, checked, DELETE, 1, 0, 0), -ENOENT);
		ck_assert_int_eq(op(&t, checked, LOOKUP, 1, 0, 0), -1);
		/* user space sees what programs wrote */
		uint32_t k = 2;
		uint64_t v = 0;
		ck_assert_int_eq(bpfvm_map_lookup_elem(t.m[0], &k, &v, 0), 0);
		ck_assert_uint_eq(v, 20);
		free_maps(&t);
	}
}
END_TEST

START_TEST(array_lookup_update_delete)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0) }, 1 };
		ck_assert_int_eq(op(&t, checked, LOOKUP, 0, 0, 0), 0);
		ck_assert_int_eq(op(&t, checked, UPDATE, 3, 5, BPF_ANY), 0);
		ck_assert_int_eq(op(&t, checked, LOOKUP, 3, 0, 0), 5);
		ck_assert_int_eq(op(&t, checked, UPDATE, 1, 5, BPF_NOEXIST),
				 -EEXIST);
		ck_assert_int_eq(op(&t, checked, UPDATE, 1, 6, BPF_EXIST), 0);
		ck_assert_int_eq(op(&t, checked, UPDATE, 4, 5, BPF_ANY), -E2BIG);
		ck_assert_int_eq(op(&t, checked, UPDATE, 0, 5, 3), -EINVAL);
		ck_assert_int_eq(op(&t, checked, LOOKUP, 4, 0, 0), -1);
		ck_assert_int_eq(op(&t, checked, DELETE, 0, 0, 0), -EINVAL);
		free_maps(&t);
	}
}
END_TEST

/* ld_imm64 BPF_PSEUDO_MAP_VALUE: the value of a one-entry array, which
 * checked mode lets the program use (the region hook). */
START_TEST(direct_value)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0) }, 1 };
		uint32_t k = 0;
		uint64_t v[2] = { 5, 6 };
		ck_assert_int_eq(bpfvm_map_update_elem(t.m[0], &k, v, 0), 0);
		struct bpfvm_insn p[] = {
			{ BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_VALUE, 0, 0 },
			{ 0, 0, 0, 0, 8 },
			{ BPF_LDX | BPF_MEM | BPF_DW, 0, 1, 0, 0 },
			{ BPF_ST | BPF_MEM | BPF_DW, 1, 0, 0, 77 },
			{ BPF_JMP | BPF_EXIT, 0, 0, 0, 0 },
		};
		struct bpfvm *vm = load_insns(p, 5, &t, checked);
		ck_assert_int_eq(run(vm, NULL, 0), 6);
		unload(vm);
		ck_assert_int_eq(bpfvm_map_lookup_elem(t.m[0], &k, v, 0), 0);
		ck_assert_uint_eq(v[1], 77);
		free_maps(&t);
	}
}
END_TEST

/* ---- #87-89: queue and stack ------------------------------------------ */

START_TEST(queue_and_stack)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_QUEUE, 0, 8, 3, 0) }, 1 };
		for (int i = 1; i <= 3; i++)
			ck_assert_int_eq(op(&t, checked, PUSH, 0, i, 0), 0);
		ck_assert_int_eq(op(&t, checked, PUSH, 0, 4, 0), -E2BIG);
		ck_assert_int_eq(op(&t, checked, PUSH, 0, 4, BPF_NOEXIST),
				 -EINVAL);
		/* BPF_EXIST on a full queue drops the oldest */
		ck_assert_int_eq(op(&t, checked, PUSH, 0, 4, BPF_EXIST), 0);
		ck_assert_int_eq(op(&t, checked, PEEK, 0, 0, 0), 2);
		for (int i = 2; i <= 4; i++)
			ck_assert_int_eq(op(&t, checked, POP, 0, 0, 0), i);
		ck_assert_int_eq(op(&t, checked, POP, 0, 0, 0), -ENOENT);
		ck_assert_int_eq(op(&t, checked, PEEK, 0, 0, 0), -ENOENT);
		free_maps(&t);

		/* the map chapter's: 0..4 pushed, popped LIFO, then ENOENT */
		t = (struct tmaps){ { tu_map(BPF_MAP_TYPE_STACK, 0, 8, 5, 0) }, 1 };
		for (int i = 0; i < 5; i++)
			ck_assert_int_eq(op(&t, checked, PUSH, 0, i, 0), 0);
		ck_assert_int_eq(op(&t, checked, PEEK, 0, 0, 0), 4);
		for (int i = 4; i >= 0; i--)
			ck_assert_int_eq(op(&t, checked, POP, 0, 0, 0), i);
		ck_assert_int_eq(op(&t, checked, POP, 0, 0, 0), -ENOENT);
		free_maps(&t);
	}
}
END_TEST

/* ---- per-CPU maps: #1 on this CPU, #195 on any ------------------------- */

/* Pin the thread to one CPU it may run on; that CPU. */
static int pin(cpu_set_t *old)
{
	ck_assert_int_eq(sched_getaffinity(0, sizeof *old, old), 0);
	int c = 0;
	while (!CPU_ISSET(c, old))
		c++;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(c, &one);
	ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
	return c;
}

START_TEST(percpu_maps)
{
	static const uint32_t types[] = { BPF_MAP_TYPE_PERCPU_ARRAY,
					  BPF_MAP_TYPE_PERCPU_HASH };
	BOTH_MODES for (int ti = 0; ti < 2; ti++) {
		struct tmaps t = { { tu_map(types[ti], 4, 8, 2, 0) }, 1 };
		uint32_t ncpus = t.m[0]->ncpus, k = 1;
		uint64_t *buf = calloc(ncpus, 8);
		for (uint32_t c = 0; c < ncpus; c++)
			buf[c] = c * 10 + 1;
		ck_assert_int_eq(bpfvm_map_update_elem(t.m[0], &k, buf, 0), 0);
		char text[256];
		for (uint32_t c = 0; c <= ncpus; c++) {
			snprintf(text, sizeof text,
				 "*(u32 *)(r10 - 4) = 1\n r1 = " MAP(0) "\n"
				 " r2 = r10\n r2 += -4\n r3 = %u\n call 195\n"
				 " if r0 == 0 goto null\n"
				 " r0 = *(u64 *)(r0 + 0)\n exit\n"
				 "null: r0 = -1\n exit\n", c);
			ck_assert_int_eq(run_text(text, &t, checked, NULL),
					 c < ncpus ? (int64_t)c * 10 + 1 : -1);
		}
		/* lookup and update use the running CPU's slot */
		cpu_set_t old;
		int cpu = pin(&old);
		ck_assert_int_eq(op(&t, checked, LOOKUP, 1, 0, 0), cpu * 10 + 1);
		ck_assert_int_eq(op(&t, checked, UPDATE, 0, 77, BPF_ANY), 0);
		sched_setaffinity(0, sizeof old, &old);
		k = 0;
		ck_assert_int_eq(bpfvm_map_lookup_elem(t.m[0], &k, buf, 0), 0);
		for (uint32_t c = 0; c < ncpus; c++)
			ck_assert_uint_eq(buf[c], (int)c == cpu ? 77 : 0);
		free(buf);
		free_maps(&t);
	}
}
END_TEST

/* ---- #12: tail calls ---------------------------------------------------- */

/* The bpf(2) layer's part: "descriptor" i is program i. */
struct progs {
	struct bpfvm *vm[4];
};

static void *prog_get(void *ctx, struct bpfvm_map *map, int fd, int *err)
{
	struct progs *p = ctx;
	(void)map;
	if (fd < 0 || fd >= 4 || !p->vm[fd]) {
		*err = -EBADF;
		return NULL;
	}
	return p->vm[fd];
}

static void prog_put(void *ctx, void *obj)
{
	(void)ctx, (void)obj;
}

static uint32_t prog_id(void *ctx, void *obj)
{
	(void)ctx, (void)obj;
	return 1;
}

static const struct bpfvm_fd_array_ops prog_ops = { prog_get, prog_put,
						    prog_id };

static void slot(struct bpfvm_map *pa, uint32_t index, int fd)
{
	ck_assert_int_eq(bpfvm_map_update_elem(pa, &index, &fd, 0), 0);
}

START_TEST(tail_calls)
{
	BOTH_MODES {
		struct bpfvm_map *pa = tu_map(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0);
		struct progs p = { { NULL } };
		bpfvm_fd_array_bind(pa, &prog_ops, &p);
		/* map 1 is no program array: a tail call through it falls
		 * through */
		struct tmaps t = { { pa, tu_map(BPF_MAP_TYPE_ARRAY, 4, 4, 4, 0) },
				   2 };
		/* 0: counts its runs in ctx[0], then tail-calls slot 0 (itself) */
		p.vm[0] = load("r6 = r1\n r2 = *(u64 *)(r6 + 0)\n r2 += 1\n"
			       " *(u64 *)(r6 + 0) = r2\n r1 = r6\n"
			       " r2 = " MAP(0) "\n r3 = 0\n call 12\n"
			       " r0 = 7\n exit\n", &t, checked);
		/* 1: tail-calls slot ctx[1] through map ctx[2], else 1 */
		p.vm[1] = load("r6 = r1\n r3 = *(u64 *)(r6 + 8)\n"
			       " r2 = " MAP(0) "\n"
			       " r4 = *(u64 *)(r6 + 16)\n if r4 == 0 goto go\n"
			       " r2 = " MAP(1) "\n"
			       "go: call 12\n r0 = 1\n exit\n", &t, checked);
		p.vm[2] = load("r0 = 2\n exit\n", &t, checked);
		slot(pa, 0, 0);
		slot(pa, 1, 1);
		slot(pa, 2, 2);
		/* a chain of itself: the first run and 33 tail calls */
		uint64_t ctx[4] = { 0 };
		ck_assert_int_eq(run(p.vm[0], ctx, sizeof ctx), 7);
		ck_assert_uint_eq(ctx[0], 1 + 33);
		/* 1 -> 2 */
		memset(ctx, 0, sizeof ctx);
		ctx[1] = 2;
		ck_assert_int_eq(run(p.vm[1], ctx, sizeof ctx), 2);
		/* 1 -> 1 -> ... -> 1: 33 succeed, then it falls through */
		ctx[1] = 1;
		ck_assert_int_eq(run(p.vm[1], ctx, sizeof ctx), 1);
		/* 1 -> 0 -> 0 ...: the count is per run, across programs */
		ctx[1] = 0;
		ck_assert_int_eq(run(p.vm[1], ctx, sizeof ctx), 7);
		ck_assert_uint_eq(ctx[0], 33);
		/* an empty slot, an index past the array, not a prog array */
		ctx[1] = 3;
		ck_assert_int_eq(run(p.vm[1], ctx, sizeof ctx), 1);
		ctx[1] = 4;
		ck_assert_int_eq(run(p.vm[1], ctx, sizeof ctx), 1);
		ctx[1] = 2;
		ctx[2] = 1;
		ck_assert_int_eq(run(p.vm[1], ctx, sizeof ctx), 1);
		bpfvm_fd_array_clear(pa);
		for (int i = 0; i < 3; i++)
			unload(p.vm[i]);
		free_maps(&t);
	}
}
END_TEST

/* A tail-called program with maps of its own: checked mode lets it use
 * their values too (the run's regions; the hook is the first program's). */
START_TEST(tail_call_target_maps)
{
	BOTH_MODES {
		struct bpfvm_map *pa = tu_map(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
		struct progs p = { { NULL } };
		bpfvm_fd_array_bind(pa, &prog_ops, &p);
		struct tmaps root = { { pa }, 1 };
		struct tmaps tgt = { { pa, tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0),
				       tu_map(BPF_MAP_TYPE_HASH, 4, 8, 2, 0) }, 3 };
		uint32_t k = 1;
		uint64_t v = 40;
		ck_assert_int_eq(bpfvm_map_update_elem(tgt.m[1], &k, &v, 0), 0);
		v = 2;
		ck_assert_int_eq(bpfvm_map_update_elem(tgt.m[2], &k, &v, 0), 0);
		p.vm[0] = load(LOOKUP(1, 1) "r6 = *(u64 *)(r0 + 0)\n"
			       LOOKUP(2, 1) "r0 = *(u64 *)(r0 + 0)\n"
			       " r0 += r6\n exit\n" NULL_EXIT, &tgt, checked);
		slot(pa, 0, 0);
		struct bpfvm *vm = load("r2 = " MAP(0) "\n r3 = 0\n call 12\n"
					" r0 = 1\n exit\n", &root, checked);
		ck_assert_int_eq(run(vm, NULL, 0), 42);
		unload(vm);
		bpfvm_fd_array_clear(pa);
		unload(p.vm[0]);
		free_maps(&tgt);
	}
}
END_TEST

/* ---- #164: for_each_map_elem -------------------------------------------- */

/* Sums values into the caller's stack (fp-8), adds 100 to each value it
 * sees, stops after key 4; r0 = visited * 1000 + sum, or the error. */
static const char for_each_text[] =
	"*(u64 *)(r10 - 8) = 0\n"
	" r1 = " MAP(0) "\n r2 = " FUNC(0c) "\n"
	" r3 = r10\n r3 += -8\n r4 = %d\n call 164\n"
	" if r0 s< 0 goto out\n"
	" r0 *= 1000\n r1 = *(u64 *)(r10 - 8)\n r0 += r1\n"
	"out: exit\n"
	/* callback(map, key, value, ctx): 12 insns */
	" r5 = *(u64 *)(r3 + 0)\n r0 = *(u64 *)(r4 + 0)\n r0 += r5\n"
	" *(u64 *)(r4 + 0) = r0\n r5 += 100\n *(u64 *)(r3 + 0) = r5\n"
	" r0 = *(u32 *)(r2 + 0)\n if r0 == 4 goto stop\n r0 = 0\n exit\n"
	"stop: r0 = 1\n exit\n";

static int64_t for_each_run(struct tmaps *t, bool checked, int flags)
{
	char text[sizeof for_each_text + 16];
	snprintf(text, sizeof text, for_each_text, flags);
	return run_text(text, t, checked, NULL);
}

START_TEST(for_each)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 10, 0) }, 1 };
		uint64_t v;
		for (uint32_t k = 0; k < 10; k++) {
			v = k * 2;
			ck_assert_int_eq(bpfvm_map_update_elem(t.m[0], &k, &v, 0),
					 0);
		}
		/* keys 0..4 visited, the callback stopped the walk at 4 */
		ck_assert_int_eq(for_each_run(&t, checked, 0), 5 * 1000 + 20);
		for (uint32_t k = 0; k < 10; k++) {
			ck_assert_int_eq(bpfvm_map_lookup_elem(t.m[0], &k, &v, 0),
					 0);
			ck_assert_uint_eq(v, k * 2 + (k <= 4 ? 100 : 0));
		}
		ck_assert_int_eq(for_each_run(&t, checked, 1), -EINVAL);
		free_maps(&t);

		/* a hash map: every element once */
		t = (struct tmaps){ { tu_map(BPF_MAP_TYPE_HASH, 4, 8, 8, 0) }, 1 };
		for (uint32_t k = 1; k <= 3; k++) {
			v = k * 10;
			ck_assert_int_eq(bpfvm_map_update_elem(t.m[0], &k, &v, 0),
					 0);
		}
		ck_assert_int_eq(for_each_run(&t, checked, 0), 3 * 1000 + 60);
		for (uint32_t k = 1; k <= 3; k++) {
			ck_assert_int_eq(bpfvm_map_lookup_elem(t.m[0], &k, &v, 0),
					 0);
			ck_assert_uint_eq(v, k * 10 + 100);
		}
		free_maps(&t);
	}
}
END_TEST

/* The callback deletes the element it is given: the walk goes on over
 * the rest (the kernel's RCU walk allows it), and the map ends empty. */
START_TEST(for_each_deleting)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_HASH, 4, 8, 64, 0) }, 1 };
		for (uint32_t k = 0; k < 40; k++) {
			uint64_t v = k;
			ck_assert_int_eq(bpfvm_map_update_elem(t.m[0], &k, &v, 0),
					 0);
		}
		ck_assert_int_eq(run_text(
			"r1 = " MAP(0) "\n r2 = " FUNC(03) "\n r3 = 0\n r4 = 0\n"
			" call 164\n exit\n"
			/* callback: delete(map, key) */
			" call 3\n r0 = 0\n exit\n", &t, checked, NULL), 40);
		uint32_t k;
		ck_assert_int_eq(bpfvm_map_get_next_key(t.m[0], NULL, &k),
				 -ENOENT);
		free_maps(&t);
	}
}
END_TEST

/* ---- map in map --------------------------------------------------------- */

static void *map_get(void *ctx, struct bpfvm_map *map, int fd, int *err)
{
	(void)map;
	if (fd != 0) {
		*err = -EBADF;
		return NULL;
	}
	bpfvm_map_get(ctx);
	return ctx;
}

static void map_put(void *ctx, void *obj)
{
	(void)ctx;
	bpfvm_map_put(obj);
}

static const struct bpfvm_fd_array_ops map_ops = { map_get, map_put,
						   prog_id };

/* A program looks the inner map up in the outer and its value in the
 * inner: checked mode takes the inner map as r1 (the outer holds it). */
START_TEST(map_in_map)
{
	struct bpfvm_map *inner = tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
	uint32_t k = 1;
	uint64_t v = 99;
	ck_assert_int_eq(bpfvm_map_update_elem(inner, &k, &v, 0), 0);
	union bpf_attr a = tu_map_attr(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 2, 0);
	struct bpfvm_map *outer;
	ck_assert_int_eq(bpfvm_map_create_with(&a, &map_ops, inner, &outer), 0);
	int32_t fd = 0;
	k = 0;
	ck_assert_int_eq(bpfvm_map_update_elem(outer, &k, &fd, 0), 0);
	struct tmaps t = { { outer }, 1 };
	BOTH_MODES {
		ck_assert_int_eq(run_text(
			"*(u32 *)(r10 - 4) = 0\n r1 = " MAP(0) "\n"
			" r2 = r10\n r2 += -4\n call 1\n if r0 == 0 goto null\n"
			" *(u32 *)(r10 - 4) = 1\n r1 = r0\n"
			" r2 = r10\n r2 += -4\n call 1\n if r0 == 0 goto null\n"
			" r0 = *(u64 *)(r0 + 0)\n exit\n"
			"null: r0 = -1\n exit\n", &t, checked, NULL), 99);
	}
	/* the map itself is no memory for the program */
	run_fails("*(u32 *)(r10 - 4) = 0\n r1 = " MAP(0) "\n"
		  " r2 = r10\n r2 += -4\n call 1\n if r0 == 0 goto null\n"
		  " r0 = *(u64 *)(r0 + 0)\n null: exit\n", &t, -EFAULT,
		  "invalid read of 8 bytes");
	/* an empty slot: NULL */
	ck_assert_int_eq(run_text(
		"*(u32 *)(r10 - 4) = 1\n r1 = " MAP(0) "\n"
		" r2 = r10\n r2 += -4\n call 1\n exit\n", &t, true, NULL), 0);
	free_maps(&t);
	bpfvm_map_put(inner);
}
END_TEST

/* ---- #130-134: ring buffer ---------------------------------------------- */

struct drained {
	int n;
	size_t size[4];
	uint64_t first[4];
};

static int drain(void *ctx, void *data, size_t size)
{
	struct drained *d = ctx;
	if (d->n < 4) {
		d->size[d->n] = size;
		memcpy(&d->first[d->n], data, 8);
	}
	d->n++;
	return 0;
}

START_TEST(ringbuf)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0) },
				   1 };
		/* reserve+submit 16, reserve+discard 16, output 8, a reserve
		 * too big for the ring; r0 = the producer position */
		int64_t r0 = run_text(
			"r1 = " MAP(0) "\n r2 = 16\n r3 = 0\n call 131\n"
			" if r0 == 0 goto fail\n r6 = r0\n"
			" *(u64 *)(r6 + 0) = 0x1111\n *(u64 *)(r6 + 8) = 0x2222\n"
			" r1 = r6\n r2 = 0\n call 132\n"
			" r1 = " MAP(0) "\n r2 = 16\n r3 = 0\n call 131\n"
			" if r0 == 0 goto fail\n r1 = r0\n r2 = 0\n call 133\n"
			" *(u64 *)(r10 - 8) = 0x3333\n"
			" r1 = " MAP(0) "\n r2 = r10\n r2 += -8\n r3 = 8\n"
			" r4 = 0\n call 130\n if r0 != 0 goto out\n"
			" r1 = " MAP(0) "\n r2 = r10\n r2 += -8\n r3 = 8\n"
			" r4 = 4\n call 130\n if r0 != -22 goto fail\n"
			" r1 = " MAP(0) "\n r2 = 4096\n r3 = 0\n call 131\n"
			" if r0 != 0 goto fail\n"
			" r1 = " MAP(0) "\n r2 = 8\n r3 = 1\n call 131\n"
			" if r0 != 0 goto fail\n"
			" r1 = " MAP(0) "\n r2 = 1\n call 134\n"
			" if r0 != 4096 goto fail\n"
			" r1 = " MAP(0) "\n r2 = 0\n call 134\n"
			" if r0 != 64 goto fail\n"
			" r1 = " MAP(0) "\n r2 = 3\n call 134\n"
			"out: exit\n"
			"fail: r0 = -1\n exit\n", &t, checked, NULL);
		/* records are 8-byte rounded and have an 8-byte header */
		ck_assert_int_eq(r0, 24 + 24 + 16);
		struct drained d = { 0 };
		ck_assert_int_eq(bpfvm_ringbuf_consume(t.m[0], drain, &d), 2);
		ck_assert_int_eq(d.n, 2);
		ck_assert_uint_eq(d.size[0], 16);
		ck_assert_uint_eq(d.first[0], 0x1111);
		ck_assert_uint_eq(d.size[1], 8);
		ck_assert_uint_eq(d.first[1], 0x3333);
		free_maps(&t);
	}
}
END_TEST

/* 4 programs output records while user space consumes them: each
 * thread's records arrive, in order, none lost.  A full ring is -EAGAIN:
 * the program tries again. */
static const char output_text[] =
	"r6 = *(u64 *)(r1 + 0)\n r7 = *(u64 *)(r1 + 8)\n r7 <<= 32\n"
	"loop: *(u64 *)(r10 - 8) = r7\n"
	"again: r1 = " MAP(0) "\n r2 = r10\n r2 += -8\n r3 = 8\n r4 = 0\n"
	" call 130\n if r0 == -11 goto again\n if r0 != 0 goto fail\n"
	" r7 += 1\n r6 += -1\n if r6 != 0 goto loop\n r0 = 0\n exit\n"
	"fail: r0 = 1\n exit\n";

struct consumed {
	uint64_t next[4];
	long n, bad;
};

static int consume_one(void *ctx, void *data, size_t size)
{
	struct consumed *c = ctx;
	uint64_t v;
	memcpy(&v, data, 8);
	uint32_t th = (uint32_t)(v >> 32);
	if (size != 8 || th >= 4 || (uint32_t)v != c->next[th])
		c->bad++;
	else
		c->next[th]++;
	c->n++;
	return 0;
}

struct drainer {
	struct bpfvm_map *m;
	struct consumed c;
	long want;
};

static void *drain_all(void *arg)
{
	struct drainer *d = arg;
	while (d->c.n < d->want && !d->c.bad)
		if (bpfvm_ringbuf_consume(d->m, consume_one, &d->c) == 0)
			sched_yield();
	return NULL;
}

START_TEST(ringbuf_threads)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_RINGBUF, 0, 0, 16384, 0) },
				   1 };
		struct bpfvm *vm = load(output_text, &t, checked);
		const uint64_t n = 20000;
		struct drainer d = { t.m[0], { { 0 }, 0, 0 }, 4 * (long)n };
		pthread_t th;
		ck_assert_int_eq(pthread_create(&th, NULL, drain_all, &d), 0);
		run_threads(vm, n);
		pthread_join(th, NULL);
		ck_assert_int_eq(d.c.bad, 0);
		ck_assert_int_eq(d.c.n, 4 * (long)n);
		for (int i = 0; i < 4; i++)
			ck_assert_uint_eq(d.c.next[i], n);
		unload(vm);
		free_maps(&t);
	}
}
END_TEST

/* ---- #93-94: spin locks ------------------------------------------------- */

/* Value: { struct bpf_spin_lock; u32 pad; u64 count }; ctx[0] rounds of
 * lock, count += 1 (a plain read-modify-write), unlock. */
static const char locked_add_text[] =
	"r6 = *(u64 *)(r1 + 0)\n *(u32 *)(r10 - 4) = 0\n"
	" r1 = " MAP(0) "\n r2 = r10\n r2 += -4\n call 1\n"
	" if r0 == 0 goto fail\n r7 = r0\n"
	"loop: r1 = r7\n call 93\n"
	" r1 = *(u64 *)(r7 + 8)\n r1 += 1\n *(u64 *)(r7 + 8) = r1\n"
	" r1 = r7\n call 94\n"
	" r6 += -1\n if r6 != 0 goto loop\n r0 = 0\n exit\n"
	"fail: r0 = -1\n exit\n";

struct worker {
	const struct bpfvm *vm;
	uint64_t ctx[4];
	int64_t r0;
	int err;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct bpfvm_result r;
	w->err = bpfvm_run(w->vm, w->ctx, sizeof w->ctx, &r);
	w->r0 = (int64_t)r.r0;
	return NULL;
}

static void run_threads(const struct bpfvm *vm, uint64_t rounds)
{
	struct worker w[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ vm, { rounds, (uint64_t)i, 0, 0 }, 0, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(w[i].err, 0);
		ck_assert_int_eq(w[i].r0, 0);
	}
}

START_TEST(spin_lock_threads)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0) }, 1 };
		ck_assert_int_eq(bpfvm_map_set_spin_lock(t.m[0], 0), 0);
		struct bpfvm *vm = load(locked_add_text, &t, checked);
		uint64_t n = checked ? 20000 : 100000;
		run_threads(vm, n);
		uint32_t k = 0;
		uint64_t v[2];
		/* BPF_F_LOCK from user space takes the same lock */
		ck_assert_int_eq(bpfvm_map_lookup_elem(t.m[0], &k, v, BPF_F_LOCK),
				 0);
		ck_assert_uint_eq(v[1], 4 * n);
		ck_assert_uint_eq(v[0], 0); /* the lock word reads as 0 */
		unload(vm);
		free_maps(&t);
	}
}
END_TEST

/* Programs keep a == b under the lock (lock; a += 1; b = a; unlock) while
 * user space reads and writes the value with BPF_F_LOCK: no torn pair. */
static const char pair_text[] =
	"r6 = *(u64 *)(r1 + 0)\n *(u32 *)(r10 - 4) = 0\n"
	" r1 = " MAP(0) "\n r2 = r10\n r2 += -4\n call 1\n"
	" if r0 == 0 goto fail\n r7 = r0\n"
	"loop: r1 = r7\n call 93\n"
	" r1 = *(u64 *)(r7 + 8)\n r1 += 1\n *(u64 *)(r7 + 8) = r1\n"
	" *(u64 *)(r7 + 16) = r1\n r1 = r7\n call 94\n"
	" r6 += -1\n if r6 != 0 goto loop\n r0 = 0\n exit\n"
	"fail: r0 = -1\n exit\n";

struct pair_reader {
	struct bpfvm_map *m;
	int stop;
	long reads, torn;
};

static void *read_pairs(void *arg)
{
	struct pair_reader *p = arg;
	uint32_t k = 0;
	uint64_t v[3];
	/* at least 1000 reads, however late the thread is scheduled: the
	 * check below must not depend on timing */
	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE) || p->reads < 1000) {
		if (bpfvm_map_lookup_elem(p->m, &k, v, BPF_F_LOCK) ||
		    v[1] != v[2])
			p->torn++;
		if (++p->reads % 64 == 0) {
			uint64_t z[3] = { 0, 1000, 1000 };
			if (bpfvm_map_update_elem(p->m, &k, z, BPF_F_LOCK))
				p->torn++;
		}
	}
	return NULL;
}

START_TEST(spin_lock_with_f_lock)
{
	struct tmaps t = { { tu_map(BPF_MAP_TYPE_ARRAY, 4, 24, 1, 0) }, 1 };
	ck_assert_int_eq(bpfvm_map_set_spin_lock(t.m[0], 0), 0);
	struct bpfvm *vm = load(pair_text, &t, false);
	struct pair_reader p = { t.m[0], 0, 0, 0 };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, read_pairs, &p), 0);
	run_threads(vm, 50000);
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	ck_assert_int_gt(p.reads, 0);
	ck_assert_int_eq(p.torn, 0);
	unload(vm);
	free_maps(&t);
}
END_TEST

/* ---- LPM trie and LRU hash from programs -------------------------------- */

/* The map chapter's routes; the value of the longest prefix of addr (a
 * u32 holding the address bytes in memory order), -1 for none. */
static int64_t route(struct tmaps *t, bool checked, uint32_t addr)
{
	char text[320];
	snprintf(text, sizeof text,
		 "*(u32 *)(r10 - 8) = 32\n *(u32 *)(r10 - 4) = %d\n"
		 " r1 = " MAP(0) "\n r2 = r10\n r2 += -8\n call 1\n"
		 " if r0 == 0 goto null\n r0 = *(u64 *)(r0 + 0)\n exit\n"
		 NULL_EXIT, (int32_t)addr);
	return run_text(text, t, checked, NULL);
}

static uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint8_t bytes[4] = { a, b, c, d };
	uint32_t u;
	memcpy(&u, bytes, 4);
	return u;
}

START_TEST(lpm_and_lru)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_LPM_TRIE, 8, 8, 16,
					BPF_F_NO_PREALLOC) }, 1 };
		struct { uint32_t len, addr; } k[] = {
			{ 16, ip(192, 168, 0, 0) }, { 24, ip(192, 168, 0, 0) },
			{ 24, ip(192, 168, 1, 0) },
		};
		uint64_t v[] = { 16, 24, 241 };
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(bpfvm_map_update_elem(t.m[0], &k[i],
							       &v[i], 0), 0);
		ck_assert_int_eq(route(&t, checked, ip(192, 168, 1, 1)), 241);
		ck_assert_int_eq(route(&t, checked, ip(192, 168, 0, 9)), 24);
		ck_assert_int_eq(route(&t, checked, ip(192, 168, 7, 7)), 16);
		ck_assert_int_eq(route(&t, checked, ip(192, 169, 0, 1)), -1);
		free_maps(&t);

		/* LRU: a full map evicts instead of E2BIG; the program's
		 * lookup of key 1 keeps it over key 2 */
		t = (struct tmaps){ { tu_map(BPF_MAP_TYPE_LRU_HASH, 4, 8, 2, 0) },
				    1 };
		ck_assert_int_eq(op(&t, checked, UPDATE, 1, 10, BPF_ANY), 0);
		ck_assert_int_eq(op(&t, checked, UPDATE, 2, 20, BPF_ANY), 0);
		ck_assert_int_eq(op(&t, checked, LOOKUP, 1, 0, 0), 10);
		ck_assert_int_eq(op(&t, checked, UPDATE, 3, 30, BPF_ANY), 0);
		ck_assert_int_eq(op(&t, checked, LOOKUP, 3, 0, 0), 30);
		ck_assert_int_eq(op(&t, checked, LOOKUP, 1, 0, 0), 10);
		ck_assert_int_eq(op(&t, checked, LOOKUP, 2, 0, 0), -1);
		free_maps(&t);
	}
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

/* ctx[0] times: look the value up, lock xadd 1 into it. */
static const char xadd_text[] =
	"r6 = *(u64 *)(r1 + 0)\n *(u32 *)(r10 - 4) = 0\n"
	"loop: r1 = " MAP(0) "\n r2 = r10\n r2 += -4\n call 1\n"
	" if r0 == 0 goto fail\n r1 = 1\n lock *(u64 *)(r0 + 0) += r1\n"
	" r6 += -1\n if r6 != 0 goto loop\n r0 = 0\n exit\n"
	"fail: r0 = -1\n exit\n";

START_TEST(threads_xadd)
{
	BOTH_MODES {
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0) }, 1 };
		struct bpfvm *vm = load(xadd_text, &t, checked);
		uint64_t n = checked ? 50000 : 200000;
		run_threads(vm, n);
		uint32_t k = 0;
		uint64_t v;
		ck_assert_int_eq(bpfvm_map_lookup_elem(t.m[0], &k, &v, 0), 0);
		ck_assert_uint_eq(v, 4 * n);
		unload(vm);
		free_maps(&t);
	}
}
END_TEST

/* Thread i owns keys [i*ctx[0], (i+1)*ctx[0]): for each, update key ->
 * key*3 + round, then look it up and check; ctx[2] rounds. */
static const char hash_text[] =
	"r6 = *(u64 *)(r1 + 0)\n r7 = *(u64 *)(r1 + 8)\n r7 *= r6\n"
	" r6 += r7\n r9 = 0\n"
	"round: r8 = r7\n"
	"loop: *(u32 *)(r10 - 4) = r8\n r1 = r8\n r1 *= 3\n r1 += r9\n"
	" *(u64 *)(r10 - 16) = r1\n"
	" r1 = " MAP(0) "\n r2 = r10\n r2 += -4\n r3 = r10\n r3 += -16\n"
	" r4 = 0\n call 2\n if r0 != 0 goto fail\n"
	" r1 = " MAP(0) "\n r2 = r10\n r2 += -4\n call 1\n"
	" if r0 == 0 goto fail\n r1 = *(u64 *)(r0 + 0)\n"
	" r2 = *(u64 *)(r10 - 16)\n if r1 != r2 goto fail\n"
	" r8 += 1\n if r8 < r6 goto loop\n"
	" r9 += 1\n if r9 < 4 goto round\n r0 = 0\n exit\n"
	"fail: r0 = 1\n exit\n";

START_TEST(threads_hash)
{
	static const uint32_t flags[] = { 0, BPF_F_NO_PREALLOC };
	BOTH_MODES for (int f = 0; f < 2; f++) {
		uint32_t per = 2000;
		struct tmaps t = { { tu_map(BPF_MAP_TYPE_HASH, 4, 8, 4 * per,
					flags[f]) }, 1 };
		struct bpfvm *vm = load(hash_text, &t, checked);
		run_threads(vm, per);
		uint64_t v;
		for (uint32_t k = 0; k < 4 * per; k++) {
			ck_assert_int_eq(bpfvm_map_lookup_elem(t.m[0], &k, &v, 0),
					 0);
			ck_assert_uint_eq(v, k * 3 + 3);
		}
		uint32_t k = 4 * per;
		ck_assert_int_eq(bpfvm_map_lookup_elem(t.m[0], &k, &v, 0),
				 -ENOENT);
		unload(vm);
		free_maps(&t);
	}
}
END_TEST

/* ---- checked mode stops what the verifier would refuse ------------------ */

START_TEST(checked_values)
{
	/* 0: values of 12 bytes (slots of 16); 1: a hash; 2: read-only */
	struct tmaps t = { { tu_map(BPF_MAP_TYPE_ARRAY, 4, 12, 2, 0),
			     tu_map(BPF_MAP_TYPE_HASH, 4, 8, 4, 0),
			     tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG) },
			   3 };
	uint32_t k = 1;
	uint64_t v = 5;
	ck_assert_int_eq(bpfvm_map_update_elem(t.m[1], &k, &v, 0), 0);
	/* inside a value: fine */
	ck_assert_int_eq(run_text(LOOKUP(0, 1) "r0 = *(u32 *)(r0 + 8)\n exit\n"
				  NULL_EXIT, &t, true, NULL), 0);
	ck_assert_int_eq(run_text(LOOKUP(1, 1) "r0 = *(u64 *)(r0 + 0)\n exit\n"
				  NULL_EXIT, &t, true, NULL), 5);
	ck_assert_int_eq(run_text(LOOKUP(2, 0) "r0 = *(u64 *)(r0 + 0)\n exit\n"
				  NULL_EXIT, &t, true, NULL), 0);
	/* past the value, into the padding, before it */
	run_fails(LOOKUP(0, 1) "r0 = *(u64 *)(r0 + 8)\n exit\n" NULL_EXIT, &t,
		  -EFAULT, "invalid read of 8 bytes");
	run_fails(LOOKUP(0, 0) "r0 = *(u32 *)(r0 + 12)\n exit\n" NULL_EXIT, &t,
		  -EFAULT, "invalid read of 4 bytes");
	run_fails(LOOKUP(0, 0) "r0 = *(u8 *)(r0 - 1)\n exit\n" NULL_EXIT, &t,
		  -EFAULT, "invalid read of 1 bytes");
	run_fails(LOOKUP(1, 1) "r0 = *(u64 *)(r0 + 8)\n exit\n" NULL_EXIT, &t,
		  -EFAULT, "invalid read of 8 bytes");
	run_fails(LOOKUP(1, 1) "*(u32 *)(r0 + 6) = 1\n exit\n" NULL_EXIT, &t,
		  -EFAULT, "invalid write of 4 bytes");
	/* BPF_F_RDONLY_PROG */
	run_fails(LOOKUP(2, 0) "*(u64 *)(r0 + 0) = 1\n exit\n" NULL_EXIT, &t,
		  -EFAULT, "invalid write of 8 bytes");
	free_maps(&t);
}
END_TEST

START_TEST(checked_arguments)
{
	struct tmaps t = { { tu_map(BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0),
			     tu_map(BPF_MAP_TYPE_HASH, 4, 8, 4, 0),
			     tu_map(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0) }, 3 };
	struct bpfvm_map *other = tu_map(BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	/* r1 not a map, or a map the program was not given */
	run_fails("r1 = r10\n r1 += -8\n r2 = r10\n r2 += -4\n call 1\n exit\n",
		  &t, -EINVAL, "is not a map of this program");
	char text[256];
	snprintf(text, sizeof text, "r1 = 0x%llx ll\n r2 = r10\n r2 += -4\n"
		 " call 1\n exit\n", (unsigned long long)(uintptr_t)other);
	run_fails(text, &t, -EINVAL, "is not a map of this program");
	/* key and value buffers outside the run's memory */
	run_fails("r1 = " MAP(1) "\n r2 = 4096\n call 1\n exit\n", &t, -EFAULT,
		  "helper: invalid read of 4 bytes at 0x1000");
	run_fails("r1 = " MAP(1) "\n r2 = r10\n r2 += -4\n r3 = r10\n r3 += -4\n"
		  " r4 = 0\n call 2\n exit\n", &t, -EFAULT,
		  "helper: invalid read of 8 bytes");
	run_fails("r1 = " MAP(2) "\n r2 = r10\n r2 += -4\n r3 = 8\n r4 = 0\n"
		  " call 130\n exit\n", &t, -EFAULT,
		  "helper: invalid read of 8 bytes");
	/* helpers on map types the verifier refuses */
	run_fails("r1 = " MAP(1) "\n r2 = r10\n r2 += -16\n r3 = 0\n"
		  " call 87\n exit\n", &t, -EINVAL,
		  "map_push_elem: not allowed on a map of type 1");
	run_fails("r1 = " MAP(2) "\n r2 = r10\n r2 += -4\n call 1\n exit\n", &t,
		  -EINVAL, "map_lookup_elem: not allowed on a map of type 27");
	run_fails("r1 = " MAP(0) "\n r2 = 8\n r3 = 0\n call 131\n exit\n", &t,
		  -EINVAL, "ringbuf_reserve: not allowed on a map of type 2");
	run_fails("r1 = " MAP(1) "\n r2 = r10\n r2 += -4\n r3 = 0\n"
		  " call 195\n exit\n", &t, -EINVAL,
		  "map_lookup_percpu_elem: not allowed on a map of type 1");
	/* a callback that is no function */
	run_fails("r1 = " MAP(0) "\n r2 = 0\n r3 = 0\n r4 = 0\n call 164\n"
		  " exit\n", &t, -EINVAL, "invalid callback");
	/* ring-buffer samples: forged, submitted twice, written past */
	run_fails("r1 = r10\n r1 += -16\n r2 = 0\n call 132\n exit\n", &t,
		  -EINVAL, "ringbuf_submit: 0x");
	run_fails("r1 = " MAP(2) "\n r2 = 8\n r3 = 0\n call 131\n"
		  " if r0 == 0 goto out\n r6 = r0\n r1 = r6\n r2 = 0\n call 132\n"
		  " r1 = r6\n r2 = 0\n call 133\n out: exit\n", &t, -EINVAL,
		  "ringbuf_discard: 0x");
	run_fails("r1 = " MAP(2) "\n r2 = 8\n r3 = 0\n call 131\n"
		  " if r0 == 0 goto out\n *(u64 *)(r0 + 8) = 1\n out: exit\n", &t,
		  -EFAULT, "invalid write of 8 bytes");
	/* the stopped runs' samples are still reserved: the ring is stuck
	 * behind them, as the kernel's would be */
	bpfvm_map_put(other);
	free_maps(&t);
}
END_TEST

START_TEST(checked_spin_lock)
{
	struct tmaps t = { { tu_map(BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0) }, 1 };
	ck_assert_int_eq(bpfvm_map_set_spin_lock(t.m[0], 0), 0);
	run_fails(LOOKUP(0, 0) "r1 = r0\n call 94\n exit\n" NULL_EXIT, &t,
		  -EINVAL, "spin_unlock: 0x");
	run_fails(LOOKUP(0, 0) "r1 = r0\n r1 += 1\n call 93\n exit\n" NULL_EXIT,
		  &t, -EINVAL, "not 4-byte aligned");
	run_fails("r1 = 0x100 ll\n call 93\n exit\n", &t, -EFAULT,
		  "helper: invalid write of 4 bytes");
	/* taken twice: stopped after a second instead of hanging */
	run_fails(LOOKUP(0, 0) "r6 = r0\n r1 = r6\n call 93\n r1 = r6\n"
		  " call 93\n exit\n" NULL_EXIT, &t, -EDEADLK,
		  "held for over a second");
	free_maps(&t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("map_helpers");
	TCase *tc = tcase_create("map_helpers");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, attach_rules);
	tcase_add_test(tc, hash_lookup_update_delete);
	tcase_add_test(tc, array_lookup_update_delete);
	tcase_add_test(tc, direct_value);
	tcase_add_test(tc, queue_and_stack);
	tcase_add_test(tc, percpu_maps);
	tcase_add_test(tc, tail_calls);
	tcase_add_test(tc, tail_call_target_maps);
	tcase_add_test(tc, for_each);
	tcase_add_test(tc, for_each_deleting);
	tcase_add_test(tc, map_in_map);
	tcase_add_test(tc, ringbuf);
	tcase_add_test(tc, ringbuf_threads);
	tcase_add_test(tc, spin_lock_threads);
	tcase_add_test(tc, spin_lock_with_f_lock);
	tcase_add_test(tc, lpm_and_lru);
	tcase_add_test(tc, threads_xadd);
	tcase_add_test(tc, threads_hash);
	tcase_add_test(tc, checked_values);
	tcase_add_test(tc, checked_arguments);
	tcase_add_test(tc, checked_spin_lock);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(suite());
}
