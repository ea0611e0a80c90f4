/* The interpreter: the semantics helpers shared by the four builds of
 * vm/interp_body.h (computed goto or switch, fast or slow), checked-mode
 * access rules, and the choice of build for a run.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "vm_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bpfvm's interpreter assumes a little-endian host (le16/32/64)"
#endif

/* ---- arithmetic without undefined behaviour ----------------------------- */

/* the low `bits` bits of v, sign-extended to 64 */
static inline uint64_t sext(uint64_t v, unsigned bits)
{
	uint64_t m = 1ull << (bits - 1);
	v &= (m << 1) - 1;
	return (v ^ m) - m;
}

static inline uint64_t div64(uint64_t a, uint64_t b) { return b ? a / b : 0; }
static inline uint64_t mod64(uint64_t a, uint64_t b) { return b ? a % b : a; }

static inline uint64_t div32(uint64_t a, uint64_t b)
{
	uint32_t x = (uint32_t)a, y = (uint32_t)b;
	return y ? x / y : 0;
}

static inline uint64_t mod32(uint64_t a, uint64_t b)
{
	uint32_t x = (uint32_t)a, y = (uint32_t)b;
	return y ? x % y : x;
}

/* -1 is special-cased: INT_MIN / -1 overflows in C (the result wraps to
 * INT_MIN, as -x does in unsigned arithmetic) and INT_MIN % -1 traps. */
static inline uint64_t sdiv64(uint64_t a, uint64_t b)
{
	if (!b)
		return 0;
	if (b == UINT64_MAX)
		return -a;
	return (uint64_t)((int64_t)a / (int64_t)b);
}

static inline uint64_t smod64(uint64_t a, uint64_t b)
{
	if (!b)
		return a;
	if (b == UINT64_MAX)
		return 0;
	return (uint64_t)((int64_t)a % (int64_t)b);
}

static inline uint64_t sdiv32(uint64_t a, uint64_t b)
{
	uint32_t x = (uint32_t)a, y = (uint32_t)b;
	if (!y)
		return 0;
	if (y == UINT32_MAX)
		return (uint32_t)-x;
	return (uint32_t)((int32_t)x / (int32_t)y);
}

static inline uint64_t smod32(uint64_t a, uint64_t b)
{
	uint32_t x = (uint32_t)a, y = (uint32_t)b;
	if (!y)
		return x;
	if (y == UINT32_MAX)
		return 0;
	return (uint32_t)((int32_t)x % (int32_t)y);
}

/* ---- memory ------------------------------------------------------------- */

#define LOAD(T, a)                                                      \
	({                                                              \
		T v_;                                                   \
		memcpy(&v_, (const void *)(uintptr_t)(a), sizeof v_);   \
		v_;                                                     \
	})
#define STORE(T, a, x)                                                  \
	do {                                                            \
		T v_ = (T)(x);                                          \
		memcpy((void *)(uintptr_t)(a), &v_, sizeof v_);         \
	} while (0)

/* Atomic read-modify-write returning the old value.  Aligned: real
 * atomics, so programs sharing a map value on several threads see the
 * kernel's semantics.  Misaligned (the verifier forbids it; raw programs
 * may do it): a plain read-modify-write, never a split-locked bus access. */
enum { A_ADD, A_OR, A_AND, A_XOR, A_XCHG };

#define DEFINE_AMO(W)                                                         \
	static inline uint64_t amo##W(uint64_t a, int kind, uint##W##_t v)    \
	{                                                                     \
		uint##W##_t old, *p = (uint##W##_t *)(uintptr_t)a;            \
		if (a & (W / 8 - 1)) {                                        \
			old = LOAD(uint##W##_t, a);                           \
			uint##W##_t n = kind == A_ADD ? old + v :             \
					kind == A_OR  ? (old | v) :           \
					kind == A_AND ? (old & v) :           \
					kind == A_XOR ? (old ^ v) : v;        \
			STORE(uint##W##_t, a, n);                             \
			return old;                                           \
		}                                                             \
		switch (kind) {                                               \
		case A_ADD: return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);\
		case A_OR: return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);  \
		case A_AND: return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);\
		case A_XOR: return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);\
		default: return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);  \
		}                                                             \
	}                                                                     \
	static inline uint64_t cas##W(uint64_t a, uint##W##_t expect,         \
				      uint##W##_t desired)                    \
	{                                                                     \
		if (a & (W / 8 - 1)) {                                        \
			uint##W##_t old = LOAD(uint##W##_t, a);               \
			if (old == expect)                                    \
				STORE(uint##W##_t, a, desired);               \
			return old;                                           \
		}                                                             \
		__atomic_compare_exchange_n((uint##W##_t *)(uintptr_t)a,      \
					    &expect, desired, false,          \
					    __ATOMIC_SEQ_CST,                 \
					    __ATOMIC_SEQ_CST);                \
		return expect; /* the old value either way */                 \
	}
DEFINE_AMO(32)
DEFINE_AMO(64)
#undef DEFINE_AMO

#define SKF_NET_OFF (-0x100000)
#define SKF_LL_OFF (-0x200000)

/* A negative offset: relative to the network header from SKF_NET_OFF up,
 * to the mac header from SKF_LL_OFF up (bpf_skb_load_helper_convert_offset),
 * then the one bound of the linear data (headlen - off >= size), so the
 * bytes before the data from those headers on are readable. */
static __attribute__((noinline, cold)) const uint8_t *
ld_pkt_neg(const struct bpfvm_run *run, int32_t o, unsigned size)
{
	int64_t off;
	if (!run->pkt_hdrs || !run->pkt || o < SKF_LL_OFF)
		return NULL;
	off = o >= SKF_NET_OFF ? (int64_t)o - SKF_NET_OFF + run->pkt_net
			       : (int64_t)o - SKF_LL_OFF + run->pkt_mac;
	if ((int64_t)run->pkt_len - off < (int64_t)size)
		return NULL;
	return run->pkt + off;
}

/* LD_ABS/LD_IND: the kernel passes the offset as an int */
static inline bool ld_pkt(const struct bpfvm_run *run, uint64_t off,
			  unsigned size, uint64_t *r0)
{
	int32_t o = (int32_t)(uint32_t)off;
	const uint8_t *p;
	if (o < 0) {
		p = ld_pkt_neg(run, o, size);
		if (!p)
			return false;
	} else {
		if (!run->pkt || (uint64_t)o + size > run->pkt_len)
			return false;
		p = run->pkt + o;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v = v << 8 | p[i];
	*r0 = v;
	return true;
}

/* ---- superinstructions ------------------------------------------------- */

/* Pairs frequent in clang's output (the bench programs' dynamic mix).  The
 * fast builds' copy of the program has slot i of such a pair replaced by
 * one handler doing both and continuing at i + 2; slot i + 1 is unchanged,
 * so a jump to it still works.  The slow builds run the plain program, so
 * counting, tracing and checks stay per instruction. */
#define FUSED_PAIRS(X)                                                        \
	X(MOV64_X, ADD64_K)                                                   \
	X(MOV64_X, ADD64_X)                                                   \
	X(MOV64_X, JEQ_K)                                                     \
	X(MOV64_X, JNE_X)                                                     \
	X(MOV64_X, AND64_K)                                                   \
	X(MOV64_X, LSH64_K)                                                   \
	X(MOV64_X, RSH64_K)                                                   \
	X(MOV64_X, JA)                                                        \
	X(MUL64_K, ADD64_K)                                                   \
	X(XOR64_X, MOV64_X)                                                   \
	X(LDXB, XOR64_X)                                                      \
	X(AND64_K, ADD64_X)                                                   \
	X(ADD64_X, LDXB)                                                      \
	X(ADD64_K, ADD64_X)                                                   \
	X(ADD64_K, JNE_K)                                                     \
	X(ADD64_K, JEQ_K)                                                     \
	X(ADD64_K, MOV64_X)                                                   \
	X(AND64_K, JEQ_K)                                                     \
	X(LSH64_K, RSH64_K)                                                   \
	X(RSH64_K, MOV64_X)                                                   \
	X(LDXB, MOV64_X)                                                      \
	X(JNE_K, MOV64_X)                                                     \
	X(JEQ_K, MOV64_X)                                                     \
	X(JSGT_K, JSGT_K)

enum {
	OP_FZ__FIRST = OP__COUNT, /* OP__COUNT itself marks lddw's 2nd slot */
#define X(a, b) OP_FZ_##a##__##b,
	FUSED_PAIRS(X)
#undef X
	OP_FZ__END
};
_Static_assert(OP_FZ__END <= 256, "ops must fit the decoded op byte");

void bpfvm_fuse(struct bpfvm_dinsn *prog, size_t n)
{
	static const struct { uint8_t a, b, fz; } pairs[] = {
#define X(a, b) { OP_##a, OP_##b, OP_FZ_##a##__##b },
		FUSED_PAIRS(X)
#undef X
	};
	/* left to right, so both ops compared are still the original ones */
	for (size_t i = 0; i + 1 < n; i++)
		for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
			if (prog[i].op == pairs[k].a &&
			    prog[i + 1].op == pairs[k].b) {
				prog[i].op = pairs[k].fz;
				break;
			}
}

/* ---- errors ------------------------------------------------------------- */

void bpfvm_run_fail(struct bpfvm_run *run, int err, int64_t pc,
		    const char *fmt, ...)
{
	struct bpfvm_result *res = run->res;
	if (res->error)
		return; /* keep the first error */
	res->error = err;
	res->pc = pc;
	int n = snprintf(res->msg, sizeof res->msg, "insn %" PRId64 ": ", pc);
	if (n < 0 || (size_t)n >= sizeof res->msg)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->msg + n, sizeof res->msg - (size_t)n, fmt, ap);
	va_end(ap);
}

static void unknown_helper(struct bpfvm_run *run, int64_t pc, uint64_t id)
{
	const char *name = id <= UINT32_MAX ? bpfvm_helper_name((uint32_t)id)
					    : NULL;
	if (name)
		bpfvm_run_fail(run, -EINVAL, pc,
			       "helper %" PRIu64 " (%s) is not registered",
			       id, name);
	else
		bpfvm_run_fail(run, -EINVAL, pc,
			       "unknown helper %" PRIu64, id);
}

/* ---- checked mode ------------------------------------------------------- */

static inline bool within(uint64_t a, size_t len, uintptr_t base,
			  size_t blen)
{
	return base && a >= base && a - base <= blen && len <= blen - (a - base);
}

/* A VM's static regions (bpfvm_add_region). */
static bool vm_regions(const struct bpfvm *vm, uint64_t a, size_t len,
		       bool write, bool *ro)
{
	for (size_t i = 0; i < vm->nregions; i++) {
		const struct bpfvm_region *r = &vm->regions[i];
		if (within(a, len, r->base, r->len)) {
			if (!write || r->writable)
				return true;
			*ro = true;
		}
	}
	return false;
}

/* Region lookup.  *ro is set when [a, a+len) is in a read-only region.
 * After a tail call the program running is run->vm's: its own regions
 * (e.g. its ld_imm64 map values) count, beside the first program's. */
static bool find_region(const struct bpfvm_run *run, uint64_t a, size_t len,
			bool write, bool *ro)
{
	/* the live frames: the current one and every caller's */
	uint64_t top = BPFVM_STACK_TOP(run);
	size_t live = (size_t)(run->depth + 1) * BPFVM_STACK_SIZE;
	if (within(a, len, (uintptr_t)(top - live), live))
		return true;
	if (within(a, len, (uintptr_t)run->ctx, run->ctx_len) ||
	    within(a, len, (uintptr_t)run->mem, run->mem_len) ||
	    within(a, len, (uintptr_t)run->pkt, run->pkt_len))
		return true;
	if (vm_regions(run->root, a, len, write, ro) ||
	    (run->vm != run->root && vm_regions(run->vm, a, len, write, ro)))
		return true;
	for (unsigned i = 0; i < run->nregions; i++) {
		const struct bpfvm_region *r = &run->regions[i];
		if (within(a, len, r->base, r->len)) {
			if (!write || r->writable)
				return true;
			*ro = true;
		}
	}
	return false;
}

bool bpfvm_access_ok(const struct bpfvm_run *run, uint64_t addr, size_t len,
		     bool write)
{
	bool ro = false;
	if (find_region(run, addr, len, write, &ro))
		return true;
	if (ro)
		return false;
	/* the first program's hook, then (after a tail call) the running
	 * program's, unless it is the same hook */
	const struct bpfvm *root = run->root, *vm = run->vm;
	if (root->region_fn &&
	    root->region_fn(root->region_cookie, addr, len, write))
		return true;
	return vm != root && vm->region_fn &&
	       (vm->region_fn != root->region_fn ||
		vm->region_cookie != root->region_cookie) &&
	       vm->region_fn(vm->region_cookie, addr, len, write);
}

/* The common cases inline (the current frame, the memory block or the
 * context), the rest out of line. */
static inline bool access_ok(const struct bpfvm_run *run, uint64_t a,
			     size_t len, bool write)
{
	uint64_t top = BPFVM_STACK_TOP(run);
	uint64_t fp = top - (uint64_t)run->depth * BPFVM_STACK_SIZE;
	return within(a, len, (uintptr_t)(fp - BPFVM_STACK_SIZE),
		      BPFVM_STACK_SIZE) ||
	       within(a, len, (uintptr_t)run->mem, run->mem_len) ||
	       within(a, len, (uintptr_t)run->ctx, run->ctx_len) ||
	       bpfvm_access_ok(run, a, len, write);
}

static void fault(struct bpfvm_run *run, int64_t pc, uint64_t a, size_t len,
		  bool write)
{
	bool ro = false;
	find_region(run, a, len, write, &ro);
	bpfvm_run_fail(run, -EFAULT, pc,
		       "invalid %s of %zu bytes at 0x%" PRIx64 " (%s)",
		       write ? "write" : "read", len, a,
		       ro ? "read-only region" : "not in any region");
}

/* ---- slow-path bookkeeping ---------------------------------------------- */

static void trace_flush(struct bpfvm_run *run, const uint64_t *reg)
{
	const struct bpfvm *root = run->root;
	run->trace_pending = false;
	root->trace_fn(root->trace_cookie, run->trace_pc, run->trace_insn,
		       run->trace_before, reg);
}

/* Before each instruction of a slow run: report the previous one, count
 * this one against the budget, remember the registers it starts with. */
static inline bool slow_step(struct bpfvm_run *run, size_t pc,
			     const uint64_t *reg)
{
	if (run->trace_pending)
		trace_flush(run, reg);
	if (run->insns >= run->budget) {
		bpfvm_run_fail(run, -ELOOP, (int64_t)pc,
			       "instruction budget exhausted (%" PRIu64
			       " insns)", run->insns);
		return false;
	}
	run->insns++;
	if (run->root->trace_fn) {
		run->trace_pending = true;
		run->trace_pc = pc;
		run->trace_insn = &run->vm->insns[pc];
		memcpy(run->trace_before, reg, sizeof run->trace_before);
	}
	return true;
}

/* ---- the four builds ---------------------------------------------------- */

#define NAME interp_goto_fast
#define IS_GOTO 1
#define IS_SLOW 0
#include "interp_body.h"
#undef NAME
#undef IS_GOTO
#undef IS_SLOW

#define NAME interp_switch_fast
#define IS_GOTO 0
#define IS_SLOW 0
#include "interp_body.h"
#undef NAME
#undef IS_GOTO
#undef IS_SLOW

#define NAME interp_goto_slow
#define IS_GOTO 1
#define IS_SLOW 1
#include "interp_body.h"
#undef NAME
#undef IS_GOTO
#undef IS_SLOW

#define NAME interp_switch_slow
#define IS_GOTO 0
#define IS_SLOW 1
#include "interp_body.h"
#undef NAME
#undef IS_GOTO
#undef IS_SLOW

uint64_t bpfvm_interp(struct bpfvm_run *run, size_t start,
		      const uint64_t args[5], uint64_t fp)
{
	const struct bpfvm *root = run->root;
	bool slow = run->checked || run->budget != UINT64_MAX ||
		    root->trace_fn;
	if (root->dispatch == BPFVM_DISPATCH_SWITCH)
		return slow ? interp_switch_slow(run, start, args, fp)
			    : interp_switch_fast(run, start, args, fp);
	return slow ? interp_goto_slow(run, start, args, fp)
		    : interp_goto_fast(run, start, args, fp);
}

/* ---- callbacks (bpf_loop & co.) ----------------------------------------- */

int bpfvm_call_callback(struct bpfvm_call *call, uint64_t fn,
			const uint64_t args[5], uint64_t *ret)
{
	struct bpfvm_run *run = call->run;
	const struct bpfvm *vm = run->vm;
	uint64_t idx = fn & BPFVM_FUNC_MASK;
	if ((fn & ~BPFVM_FUNC_MASK) != BPFVM_FUNC_TAG || idx >= vm->n) {
		bpfvm_run_fail(run, -EINVAL, run->call_pc,
			       "invalid callback 0x%" PRIx64, fn);
		return -EINVAL;
	}
	if (run->depth + 1 >= BPFVM_MAX_FRAMES) {
		bpfvm_run_fail(run, -E2BIG, run->call_pc,
			       "the call stack of %d frames is too deep",
			       BPFVM_MAX_FRAMES + 1);
		return -E2BIG;
	}
	unsigned depth = run->depth, base_depth = run->base_depth;
	int64_t call_pc = run->call_pc;
	void *cookie = call->cookie;
	run->depth = run->base_depth = depth + 1;
	uint64_t fp = BPFVM_STACK_TOP(run) -
		      (uint64_t)run->depth * BPFVM_STACK_SIZE;
	uint64_t r0 = bpfvm_interp(run, (size_t)idx, args, fp);
	run->depth = depth;
	run->base_depth = base_depth;
	run->vm = vm;
	run->call_pc = call_pc;
	call->cookie = cookie;
	if (run->res->error)
		return run->res->error;
	*ret = r0;
	return 0;
}
