/* The VM API and the interpreter (vm/vm.c, vm/interp.c, vm/helpers.c).
 *
 * Programs are built from struct bpfvm_insn initializers (the assembler is
 * not used).  Every expected value is worked out by hand from RFC 9669's
 * definitions, and every program runs in all four builds: computed goto and
 * switch, fast and checked.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bpfvm_bpf.h"
#include "vm_internal.h"
#include "../maps/helpers.h"
#include "fdtable.h"
#include "testutil.h"

/* ---- encoding ----------------------------------------------------------- */

#define INSN(c, d, s, o, i)                                              \
	((struct bpfvm_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
			      .off = (o), .imm = (i) })
/* operation nibbles */
enum { ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50,
       LSH = 0x60, RSH = 0x70, NEG = 0x80, MOD = 0x90, XOR = 0xa0, MOV = 0xb0,
       ARSH = 0xc0, END = 0xd0 };
enum { JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40, JNE = 0x50,
       JSGT = 0x60, JSGE = 0x70, JLT = 0xa0, JLE = 0xb0, JSLT = 0xc0,
       JSLE = 0xd0 };
enum { W = 0x00, H = 0x08, B = 0x10, DW = 0x18 };

#define ALU64_K(op, d, i) INSN(0x07 | (op), d, 0, 0, i)
#define ALU64_X(op, d, s) INSN(0x0f | (op), d, s, 0, 0)
#define ALU32_K(op, d, i) INSN(0x04 | (op), d, 0, 0, i)
#define ALU32_X(op, d, s) INSN(0x0c | (op), d, s, 0, 0)
#define SDIV64_X(d, s) INSN(0x3f, d, s, 1, 0)
#define SDIV64_K(d, i) INSN(0x37, d, 0, 1, i)
#define SMOD64_X(d, s) INSN(0x9f, d, s, 1, 0)
#define SDIV32_X(d, s) INSN(0x3c, d, s, 1, 0)
#define SDIV32_K(d, i) INSN(0x34, d, 0, 1, i)
#define SMOD32_X(d, s) INSN(0x9c, d, s, 1, 0)
#define SMOD32_K(d, i) INSN(0x94, d, 0, 1, i)
#define MOVSX64(d, s, bits) INSN(0xbf, d, s, bits, 0)
#define MOVSX32(d, s, bits) INSN(0xbc, d, s, bits, 0)
#define MOV64_K(d, i) ALU64_K(MOV, d, i)
#define MOV64_X(d, s) ALU64_X(MOV, d, s)
#define LDDW(d, v) INSN(0x18, d, 0, 0, (int32_t)(uint32_t)(uint64_t)(v)), \
		   INSN(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))
#define BE(d, bits) INSN(0xdc, d, 0, 0, bits)
#define LE(d, bits) INSN(0xd4, d, 0, 0, bits)
#define BSWAP(d, bits) INSN(0xd7, d, 0, 0, bits)
#define JMP_K(op, d, i, o) INSN(0x05 | (op), d, 0, o, i)
#define JMP_X(op, d, s, o) INSN(0x0d | (op), d, s, o, 0)
#define JMP32_K(op, d, i, o) INSN(0x06 | (op), d, 0, o, i)
#define JMP32_X(op, d, s, o) INSN(0x0e | (op), d, s, o, 0)
#define JA_(o) INSN(0x05, 0, 0, o, 0)
#define GOTOL(i) INSN(0x06, 0, 0, 0, i)
#define LDX(sz, d, s, o) INSN(0x61 | (sz), d, s, o, 0)
#define LDXS(sz, d, s, o) INSN(0x81 | (sz), d, s, o, 0)
#define ST(sz, d, o, i) INSN(0x62 | (sz), d, 0, o, i)
#define STX(sz, d, s, o) INSN(0x63 | (sz), d, s, o, 0)
#define ATOMIC(sz, d, s, o, op) INSN((sz) == DW ? 0xdb : 0xc3, d, s, o, op)
#define CALL(id) INSN(0x85, 0, 0, 0, id)
#define CALL_LOCAL(o) INSN(0x85, 0, 1, 0, o)
#define CALLX(d) INSN(0x8d, d, 0, 0, 0)
#define LDABS(sz, i) INSN(0x20 | (sz), 0, 0, 0, i)
#define LDIND(sz, s, i) INSN(0x40 | (sz), 0, s, 0, i)
#define EXIT INSN(0x95, 0, 0, 0, 0)
enum { A_FETCH = 0x01, A_XCHG = 0xe1, A_CMPXCHG = 0xf1 };

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- running ------------------------------------------------------------ */

/* The four builds: dispatch x checked. */
static const struct { enum bpfvm_dispatch d; bool checked; } modes[] = {
	{ BPFVM_DISPATCH_GOTO, false }, { BPFVM_DISPATCH_SWITCH, false },
	{ BPFVM_DISPATCH_GOTO, true }, { BPFVM_DISPATCH_SWITCH, true },
};

static struct bpfvm *load(const struct bpfvm_insn *p, size_t n)
{
	struct bpfvm *vm = bpfvm_create();
	ck_assert_ptr_nonnull(vm);
	ck_assert_msg(bpfvm_load(vm, p, n) == 0, "load: %s", bpfvm_error(vm));
	return vm;
}

/* Run p on a fresh copy of mem in every build; each must give r0 == want. */
static void expect_mem(const struct bpfvm_insn *p, size_t n, void *mem,
		       size_t len, uint64_t want, int line)
{
	struct bpfvm *vm = load(p, n);
	uint8_t *copy = len ? malloc(len) : NULL;
	for (size_t m = 0; m < LEN(modes); m++) {
		bpfvm_set_dispatch(vm, modes[m].d);
		bpfvm_set_checked(vm, modes[m].checked);
		if (len)
			memcpy(copy, mem, len);
		struct bpfvm_result res;
		int err = bpfvm_run_mem(vm, copy, len, &res);
		ck_assert_msg(err == 0, "line %d mode %zu: %s", line, m, res.msg);
		ck_assert_msg(res.r0 == want,
			      "line %d mode %zu: r0 = %#llx, want %#llx", line,
			      m, (unsigned long long)res.r0,
			      (unsigned long long)want);
	}
	free(copy);
	bpfvm_destroy(vm);
}
#define EXPECT(want, ...)                                                   \
	do {                                                                \
		const struct bpfvm_insn p_[] = { __VA_ARGS__ };             \
		expect_mem(p_, LEN(p_), NULL, 0, want, __LINE__);           \
	} while (0)
#define EXPECT_MEM(mem, want, ...)                                          \
	do {                                                                \
		const struct bpfvm_insn p_[] = { __VA_ARGS__ };             \
		expect_mem(p_, LEN(p_), mem, sizeof(mem), want, __LINE__);  \
	} while (0)

/* Run p once in one build; the result. */
static struct bpfvm_result run1(struct bpfvm *vm, size_t mode, void *mem,
				size_t len)
{
	struct bpfvm_result res;
	bpfvm_set_dispatch(vm, modes[mode].d);
	bpfvm_set_checked(vm, modes[mode].checked);
	bpfvm_run_mem(vm, mem, len, &res);
	return res;
}

/* ---- ALU ---------------------------------------------------------------- */

START_TEST(alu64_basics)
{
	EXPECT(9, MOV64_K(0, 6), ALU64_K(ADD, 0, 3), EXIT);
	EXPECT(UINT64_MAX, MOV64_K(0, 0), ALU64_K(SUB, 0, 1), EXIT);
	/* imm is sign-extended: mov r0, -1 then and with 0x7fffffff */
	EXPECT(0xffffffffffffffffull, MOV64_K(0, -1), EXIT);
	EXPECT(0x0000000180000000ull, LDDW(0, 0xc0000000), ALU64_K(MUL, 0, 2),
	       EXIT);
	EXPECT(6 ^ 3, MOV64_K(0, 6), MOV64_K(1, 3), ALU64_X(XOR, 0, 1), EXIT);
	EXPECT(7, MOV64_K(0, 6), ALU64_K(OR, 0, 3), EXIT);
	EXPECT(2, MOV64_K(0, 6), ALU64_K(AND, 0, 3), EXIT);
	EXPECT(0xfffffffffffffffaull, MOV64_K(0, 6), ALU64_K(NEG, 0, 0), EXIT);
	EXPECT(0x8000000000000000ull, LDDW(0, 0x8000000000000000ull),
	       ALU64_K(NEG, 0, 0), EXIT);
	/* add with a negative imm is a 64-bit subtraction */
	EXPECT(0xfffffffffffffffeull, MOV64_K(0, 1), ALU64_K(ADD, 0, -3), EXIT);
}
END_TEST

/* Every ALU32 op zero-extends: dst and src start with junk upper halves. */
START_TEST(alu32_zero_extends)
{
	static const struct { uint8_t op; uint64_t want; } t[] = {
		/* dst = 0xffffffff_00000006, src = 0xffffffff_00000003 */
		{ ADD, 9 }, { SUB, 3 }, { MUL, 18 }, { DIV, 2 }, { OR, 7 },
		{ AND, 2 }, { LSH, 48 }, { RSH, 0 }, { MOD, 0 }, { XOR, 5 },
		{ MOV, 3 }, { ARSH, 0 },
	};
	for (size_t i = 0; i < LEN(t); i++) {
		const struct bpfvm_insn x[] = {
			LDDW(0, 0xffffffff00000006ull),
			LDDW(1, 0xffffffff00000003ull),
			ALU32_X(t[i].op, 0, 1), EXIT,
		};
		expect_mem(x, LEN(x), NULL, 0, t[i].want, __LINE__ + (int)i);
		const struct bpfvm_insn k[] = {
			LDDW(0, 0xffffffff00000006ull), ALU32_K(t[i].op, 0, 3),
			EXIT,
		};
		expect_mem(k, LEN(k), NULL, 0, t[i].want, __LINE__ + (int)i);
	}
	/* neg32 and wrap-around */
	EXPECT(0xfffffffaull, LDDW(0, 0xffffffff00000006ull),
	       ALU32_K(NEG, 0, 0), EXIT);
	EXPECT(1, MOV64_K(0, -1), ALU32_K(ADD, 0, 2), EXIT);
	/* mov32 of a negative imm: 0xffffffff, not sign-extended */
	EXPECT(0xffffffffull, ALU32_K(MOV, 0, -1), EXIT);
	/* movsx32 forms: sign-extend to 32 bits, then zero-extend */
	EXPECT(0xfffffff0ull, LDDW(1, 0xffffffff123456f0ull),
	       MOVSX32(0, 1, 8), EXIT);
	EXPECT(0xffff8000ull, LDDW(1, 0xffffffff12348000ull),
	       MOVSX32(0, 1, 16), EXIT);
	EXPECT(0x70ull, LDDW(1, 0xffffffffffffff70ull), MOVSX32(0, 1, 8),
	       EXIT);
	/* movsx64 forms */
	EXPECT(0xfffffffffffffff0ull, MOV64_K(1, 0xf0), MOVSX64(0, 1, 8), EXIT);
	EXPECT(0xffffffffffff8000ull, MOV64_K(1, 0x8000), MOVSX64(0, 1, 16),
	       EXIT);
	EXPECT(0xffffffff80000000ull, LDDW(1, 0x1280000000ull),
	       MOVSX64(0, 1, 32), EXIT);
	EXPECT(0x7fffffffull, LDDW(1, 0xff7fffffffull), MOVSX64(0, 1, 32),
	       EXIT);
}
END_TEST

START_TEST(division_edge_cases)
{
	/* by zero: div gives 0, mod leaves dst */
	EXPECT(0, MOV64_K(0, 7), MOV64_K(1, 0), ALU64_X(DIV, 0, 1), EXIT);
	EXPECT(7, MOV64_K(0, 7), MOV64_K(1, 0), ALU64_X(MOD, 0, 1), EXIT);
	EXPECT(0, MOV64_K(0, 7), ALU64_K(DIV, 0, 0), EXIT);
	EXPECT(7, MOV64_K(0, 7), ALU64_K(MOD, 0, 0), EXIT);
	/* 32-bit: mod by zero keeps the low half only */
	EXPECT(0, LDDW(0, 0x100000007ull), MOV64_K(1, 0), ALU32_X(DIV, 0, 1),
	       EXIT);
	EXPECT(7, LDDW(0, 0x100000007ull), MOV64_K(1, 0), ALU32_X(MOD, 0, 1),
	       EXIT);
	/* a divisor whose low half is zero is zero for div32 */
	EXPECT(0, MOV64_K(0, 7), LDDW(1, 0x100000000ull), ALU32_X(DIV, 0, 1),
	       EXIT);
	/* div32 uses the low 32 bits of the divisor, div64 all of them */
	EXPECT(5, MOV64_K(0, 10), LDDW(1, 0x100000002ull), ALU32_X(DIV, 0, 1),
	       EXIT);
	EXPECT(0, MOV64_K(0, 10), LDDW(1, 0x100000002ull), ALU64_X(DIV, 0, 1),
	       EXIT);
	/* unsigned: -1 / 2 is 0x7fff... ; div by imm -1 (= 2^64-1) is 0 or 1 */
	EXPECT(0x7fffffffffffffffull, MOV64_K(0, -1), ALU64_K(DIV, 0, 2), EXIT);
	EXPECT(1, MOV64_K(0, -1), ALU64_K(DIV, 0, -1), EXIT);
	EXPECT(0x7fffffffull, MOV64_K(0, -1), ALU32_K(DIV, 0, 2), EXIT);

	/* signed: truncation toward zero; the remainder has the dividend's
	 * sign (-13 = 3 * -4 + -1; 13 = -3 * -4 + 1) */
	EXPECT((uint64_t)-4, MOV64_K(0, -13), MOV64_K(1, 3), SDIV64_X(0, 1),
	       EXIT);
	EXPECT((uint64_t)-1, MOV64_K(0, -13), MOV64_K(1, 3), SMOD64_X(0, 1),
	       EXIT);
	EXPECT(1, MOV64_K(0, 13), MOV64_K(1, -3), SMOD64_X(0, 1), EXIT);
	EXPECT((uint64_t)-4, MOV64_K(0, 13), SDIV64_K(0, -3), EXIT);
	EXPECT(0xfffffffcull, MOV64_K(0, -13), SDIV32_K(0, 3), EXIT);
	EXPECT(0xffffffffull, MOV64_K(0, -13), MOV64_K(1, 3), SMOD32_X(0, 1),
	       EXIT);
	EXPECT(1, MOV64_K(0, 13), SMOD32_K(0, -3), EXIT);
	/* INT_MIN / -1 = INT_MIN, INT_MIN % -1 = 0 */
	EXPECT(0x8000000000000000ull, LDDW(0, 0x8000000000000000ull),
	       MOV64_K(1, -1), SDIV64_X(0, 1), EXIT);
	EXPECT(0x8000000000000000ull, LDDW(0, 0x8000000000000000ull),
	       SDIV64_K(0, -1), EXIT);
	EXPECT(0, LDDW(0, 0x8000000000000000ull), MOV64_K(1, -1),
	       SMOD64_X(0, 1), EXIT);
	EXPECT(0x80000000ull, LDDW(0, 0xffffffff80000000ull), SDIV32_K(0, -1),
	       EXIT);
	EXPECT(0x80000000ull, ALU32_K(MOV, 0, (int32_t)0x80000000),
	       MOV64_K(1, -1), SDIV32_X(0, 1), EXIT);
	EXPECT(0, ALU32_K(MOV, 0, (int32_t)0x80000000), SMOD32_K(0, -1), EXIT);
	/* signed by zero: sdiv 0, smod keeps dst (32-bit: the low half) */
	EXPECT(0, MOV64_K(0, -5), MOV64_K(1, 0), SDIV64_X(0, 1), EXIT);
	EXPECT((uint64_t)-5, MOV64_K(0, -5), MOV64_K(1, 0), SMOD64_X(0, 1),
	       EXIT);
	EXPECT(0xfffffffbull, MOV64_K(0, -5), MOV64_K(1, 0), SMOD32_X(0, 1),
	       EXIT);
	EXPECT(0, MOV64_K(0, -5), SDIV32_K(0, 0), EXIT);
}
END_TEST

START_TEST(shifts_are_masked)
{
	/* K: 65 & 63 = 1, 33 & 31 = 1 */
	EXPECT(6, MOV64_K(0, 3), ALU64_K(LSH, 0, 65), EXIT);
	EXPECT(6, MOV64_K(0, 3), ALU32_K(LSH, 0, 33), EXIT);
	EXPECT(1, MOV64_K(0, 3), ALU64_K(RSH, 0, 65), EXIT);
	/* X */
	EXPECT(6, MOV64_K(0, 3), MOV64_K(1, 65), ALU64_X(LSH, 0, 1), EXIT);
	EXPECT(6, MOV64_K(0, 3), MOV64_K(1, 33), ALU32_X(LSH, 0, 1), EXIT);
	EXPECT(0x3fffffffull, MOV64_K(0, -1), MOV64_K(1, 34),
	       ALU32_X(RSH, 0, 1), EXIT);
	/* lsh32 drops the bits leaving the low half */
	EXPECT(0, ALU32_K(MOV, 0, (int32_t)0x80000000), ALU32_K(LSH, 0, 1),
	       EXIT);
	/* arsh is arithmetic */
	EXPECT(0xf8000000ull, ALU32_K(MOV, 0, (int32_t)0x80000000),
	       ALU32_K(ARSH, 0, 4), EXIT);
	EXPECT(0xffffffffffffffffull, LDDW(0, 0x8000000000000000ull),
	       ALU64_K(ARSH, 0, 63), EXIT);
	EXPECT(0xc000000000000000ull, LDDW(0, 0x8000000000000000ull),
	       MOV64_K(1, 65), ALU64_X(ARSH, 0, 1), EXIT);
	/* arsh32 ignores the upper half: 0x7fffffff is positive */
	EXPECT(0x3fffffffull, LDDW(0, 0xffffffff7fffffffull),
	       ALU32_K(ARSH, 0, 1), EXIT);
}
END_TEST

START_TEST(byte_order)
{
#define V LDDW(0, 0x0123456789abcdefull)
	EXPECT(0xefcdull, V, BE(0, 16), EXIT);
	EXPECT(0xefcdab89ull, V, BE(0, 32), EXIT);
	EXPECT(0xefcdab8967452301ull, V, BE(0, 64), EXIT);
	EXPECT(0xcdefull, V, LE(0, 16), EXIT);
	EXPECT(0x89abcdefull, V, LE(0, 32), EXIT);
	EXPECT(0x0123456789abcdefull, V, LE(0, 64), EXIT);
	EXPECT(0xefcdull, V, BSWAP(0, 16), EXIT);
	EXPECT(0xefcdab89ull, V, BSWAP(0, 32), EXIT);
	EXPECT(0xefcdab8967452301ull, V, BSWAP(0, 64), EXIT);
#undef V
}
END_TEST

/* ---- jumps -------------------------------------------------------------- */

/* r0 = 1 if the jump is taken, else 0 */
#define TAKEN(j) MOV64_K(0, 1), j, MOV64_K(0, 0), EXIT

START_TEST(jumps)
{
	/* r1 = 0x00000000_ffffffff: -1 as int32, huge positive as int64 */
	EXPECT(1, LDDW(1, 0xffffffffull), TAKEN(JMP32_K(JSLT, 1, 0, 1)));
	EXPECT(0, LDDW(1, 0xffffffffull), TAKEN(JMP_K(JSLT, 1, 0, 1)));
	EXPECT(1, LDDW(1, 0xffffffffull), TAKEN(JMP_K(JSGT, 1, 0, 1)));
	EXPECT(1, LDDW(1, 0xffffffffull), TAKEN(JMP32_K(JEQ, 1, -1, 1)));
	/* imm -1 is 2^64-1 for 64-bit compares */
	EXPECT(0, LDDW(1, 0xffffffffull), TAKEN(JMP_K(JEQ, 1, -1, 1)));
	EXPECT(1, MOV64_K(1, -1), TAKEN(JMP_K(JEQ, 1, -1, 1)));
	/* JMP32 ignores the upper half */
	EXPECT(1, LDDW(1, 0x500000003ull), TAKEN(JMP32_K(JEQ, 1, 3, 1)));
	EXPECT(0, LDDW(1, 0x500000003ull), TAKEN(JMP32_K(JGT, 1, 3, 1)));
	EXPECT(0, LDDW(1, 0x100000000ull), TAKEN(JMP32_K(JSET, 1, -1, 1)));
	EXPECT(1, LDDW(1, 0x100000000ull), TAKEN(JMP_K(JSET, 1, -1, 1)));
	EXPECT(1, MOV64_K(1, 5), MOV64_K(2, 7), TAKEN(JMP_X(JLT, 1, 2, 1)));
	EXPECT(1, MOV64_K(1, 7), MOV64_K(2, 7), TAKEN(JMP_X(JLE, 1, 2, 1)));
	EXPECT(0, MOV64_K(1, 7), MOV64_K(2, 7), TAKEN(JMP_X(JNE, 1, 2, 1)));
	EXPECT(1, MOV64_K(1, -2), MOV64_K(2, 1), TAKEN(JMP_X(JSLE, 1, 2, 1)));
	EXPECT(1, MOV64_K(1, -2), MOV64_K(2, 1), TAKEN(JMP_X(JGE, 1, 2, 1)));
	EXPECT(1, MOV64_K(1, -2), MOV64_K(2, 1),
	       TAKEN(JMP32_X(JSLT, 1, 2, 1)));
	EXPECT(1, MOV64_K(1, 1), TAKEN(JMP32_K(JSGE, 1, 1, 1)));
	/* ja and gotol, backwards and forwards */
	EXPECT(3, MOV64_K(0, 0), JA_(2), ALU64_K(ADD, 0, 1), EXIT,
	       ALU64_K(ADD, 0, 3), GOTOL(-3));
}
END_TEST

/* ---- memory ------------------------------------------------------------- */

START_TEST(loads_and_stores)
{
	uint8_t mem[16] = { 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
			    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	EXPECT_MEM(mem, 0x80, LDX(B, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 0x8281, LDX(H, 0, 1, 1), EXIT); /* unaligned */
	EXPECT_MEM(mem, 0x84838281, LDX(W, 0, 1, 1), EXIT);
	EXPECT_MEM(mem, 0x1187868584838281ull, LDX(DW, 0, 1, 1), EXIT);
	/* sign-extending loads */
	EXPECT_MEM(mem, 0xffffffffffffff80ull, LDXS(B, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 0xffffffffffff8180ull, LDXS(H, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 0xffffffff83828180ull, LDXS(W, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 0x44332211ull, LDXS(W, 0, 1, 8), EXIT);
	/* negative offsets, dst == src */
	EXPECT_MEM(mem, 0x11, ALU64_K(ADD, 1, 10), LDX(B, 1, 1, -2),
		   MOV64_X(0, 1), EXIT);
	/* stores: st imm is truncated to the size; stx */
	EXPECT_MEM(mem, 0x8382ffffull, ST(H, 1, 0, -1), LDX(W, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 0xffffffffffffffffull, ST(DW, 1, 0, -1),
		   LDX(DW, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 0x83820102ull, MOV64_K(2, 0x0102), STX(H, 1, 2, 0),
		   LDX(W, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 0x0807060504030201ull,
		   LDDW(2, 0x0807060504030201ull), STX(DW, 1, 2, 3),
		   LDX(DW, 0, 1, 3), EXIT);
	/* the stack: r10 is the top of 512 bytes */
	EXPECT(0xabcd, MOV64_K(2, 0xabcd), STX(DW, 10, 2, -512),
	       LDX(DW, 0, 10, -512), EXIT);
	EXPECT(0xcd, ST(DW, 10, -16, 0xab), ST(DW, 10, -8, 0xcd),
	       MOV64_K(1, 51), ALU64_K(AND, 1, 1), ALU64_K(LSH, 1, 3),
	       MOV64_X(2, 10), ALU64_X(ADD, 2, 1), LDX(DW, 0, 2, -16), EXIT);
}
END_TEST

START_TEST(atomics)
{
	uint64_t mem[2];
	/* 64-bit add/or/and/xor without fetch leave src alone */
	mem[0] = 10;
	EXPECT_MEM(mem, 17, MOV64_K(2, 7), ATOMIC(DW, 1, 2, 0, ADD),
		   LDX(DW, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 7, MOV64_K(2, 7), ATOMIC(DW, 1, 2, 0, ADD),
		   MOV64_X(0, 2), EXIT);
	mem[0] = 0xf0;
	EXPECT_MEM(mem, 0xff, MOV64_K(2, 0x0f), ATOMIC(DW, 1, 2, 0, OR),
		   LDX(DW, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 0x30, MOV64_K(2, 0x3c), ATOMIC(DW, 1, 2, 0, AND),
		   LDX(DW, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 0xcc, MOV64_K(2, 0x3c), ATOMIC(DW, 1, 2, 0, XOR),
		   LDX(DW, 0, 1, 0), EXIT);
	/* fetch: old value in src */
	mem[0] = 0x100000005ull;
	EXPECT_MEM(mem, 0x100000005ull, MOV64_K(2, 1),
		   ATOMIC(DW, 1, 2, 0, ADD | A_FETCH), MOV64_X(0, 2), EXIT);
	EXPECT_MEM(mem, 0x100000005ull, MOV64_K(2, 1),
		   ATOMIC(DW, 1, 2, 0, OR | A_FETCH), MOV64_X(0, 2), EXIT);
	EXPECT_MEM(mem, 0x100000005ull, MOV64_K(2, 1),
		   ATOMIC(DW, 1, 2, 0, AND | A_FETCH), MOV64_X(0, 2), EXIT);
	EXPECT_MEM(mem, 0x100000004ull, MOV64_K(2, 1),
		   ATOMIC(DW, 1, 2, 0, XOR | A_FETCH), LDX(DW, 0, 1, 0), EXIT);
	/* 32-bit: operates on 4 bytes, fetch zero-extends the old value */
	mem[0] = 0xaaaaaaaaffffffffull;
	EXPECT_MEM(mem, 0xaaaaaaaa00000001ull, MOV64_K(2, 2),
		   ATOMIC(W, 1, 2, 0, ADD), LDX(DW, 0, 1, 0), EXIT);
	mem[0] = 0xaaaaaaaaffffffffull;
	EXPECT_MEM(mem, 0xffffffffull, LDDW(2, 0x7700000002ull),
		   ATOMIC(W, 1, 2, 0, ADD | A_FETCH), MOV64_X(0, 2), EXIT);
	EXPECT_MEM(mem, 0xaaaaaaaa00000001ull, LDDW(2, 0x7700000002ull),
		   ATOMIC(W, 1, 2, 0, ADD | A_FETCH), LDX(DW, 0, 1, 0), EXIT);
	mem[0] = 0x1111111180000000ull;
	EXPECT_MEM(mem, 0x80000000ull, MOV64_K(2, 1),
		   ATOMIC(W, 1, 2, 0, OR | A_FETCH), MOV64_X(0, 2), EXIT);
	/* xchg */
	mem[0] = 5;
	EXPECT_MEM(mem, 5 * 1000 + 9, MOV64_K(2, 9),
		   ATOMIC(DW, 1, 2, 0, A_XCHG), MOV64_X(0, 2),
		   ALU64_K(MUL, 0, 1000), LDX(DW, 3, 1, 0), ALU64_X(ADD, 0, 3),
		   EXIT);
	mem[0] = 0xaaaaaaaa00000005ull;
	EXPECT_MEM(mem, 0xaaaaaaaa00000009ull, MOV64_K(2, 9),
		   ATOMIC(W, 1, 2, 0, A_XCHG), LDX(DW, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 5, MOV64_K(2, 9), ATOMIC(W, 1, 2, 0, A_XCHG),
		   MOV64_X(0, 2), EXIT);
	/* cmpxchg: r0 = old; stored only when old == r0 */
	mem[0] = 42;
	EXPECT_MEM(mem, 42 + 7 * 1000, MOV64_K(0, 42), MOV64_K(2, 7),
		   ATOMIC(DW, 1, 2, 0, A_CMPXCHG), LDX(DW, 3, 1, 0),
		   ALU64_K(MUL, 3, 1000), ALU64_X(ADD, 0, 3), EXIT);
	EXPECT_MEM(mem, 42 + 42 * 1000, MOV64_K(0, 41), MOV64_K(2, 7),
		   ATOMIC(DW, 1, 2, 0, A_CMPXCHG), LDX(DW, 3, 1, 0),
		   ALU64_K(MUL, 3, 1000), ALU64_X(ADD, 0, 3), EXIT);
	/* 32-bit cmpxchg compares the low half of r0, returns it zero-extended */
	mem[0] = 0xbbbbbbbb0000002aull;
	EXPECT_MEM(mem, 0x2a, LDDW(0, 0x990000002aull), MOV64_K(2, 7),
		   ATOMIC(W, 1, 2, 0, A_CMPXCHG), EXIT);
	EXPECT_MEM(mem, 0xbbbbbbbb00000007ull, LDDW(0, 0x990000002aull),
		   MOV64_K(2, 7), ATOMIC(W, 1, 2, 0, A_CMPXCHG),
		   LDX(DW, 0, 1, 0), EXIT);
	EXPECT_MEM(mem, 0xbbbbbbbb0000002aull, MOV64_K(0, 3), MOV64_K(2, 7),
		   ATOMIC(W, 1, 2, 0, A_CMPXCHG), LDX(DW, 0, 1, 0), EXIT);
	/* misaligned atomics still work (no split lock) */
	uint8_t bytes[16] = { 0 };
	EXPECT_MEM(bytes, 5, MOV64_K(2, 5), ATOMIC(DW, 1, 2, 3, ADD),
		   LDX(DW, 0, 1, 3), EXIT);
}
END_TEST

START_TEST(lddw_and_packet_loads)
{
	EXPECT(0x1122334455667788ull, LDDW(0, 0x1122334455667788ull), EXIT);
	EXPECT(0xffffffff00000000ull, LDDW(0, 0xffffffff00000000ull), EXIT);
	uint8_t pkt[5] = { 0x12, 0x34, 0x56, 0x78, 0x9a };
	EXPECT_MEM(pkt, 0x12345678, LDABS(W, 0), EXIT);
	EXPECT_MEM(pkt, 0x789a, LDABS(H, 3), EXIT);
	EXPECT_MEM(pkt, 0x9a, LDABS(B, 4), EXIT);
	EXPECT_MEM(pkt, 0x5678, MOV64_K(3, 1), LDIND(H, 3, 1), EXIT);
	/* out of bounds: the program ends with r0 = 0 */
	EXPECT_MEM(pkt, 0, LDABS(W, 2), MOV64_K(0, 99), EXIT);
	EXPECT_MEM(pkt, 0, LDABS(B, 5), MOV64_K(0, 99), EXIT);
	EXPECT_MEM(pkt, 0, MOV64_K(3, -1), LDIND(B, 3, 0), MOV64_K(0, 99),
		   EXIT);
	/* the offset is src + imm truncated to 32 bits */
	EXPECT_MEM(pkt, 0x34, LDDW(3, 0x100000000ull), LDIND(B, 3, 1), EXIT);
	/* no packet at all */
	EXPECT(0, LDABS(B, 0), MOV64_K(0, 99), EXIT);
}
END_TEST

/* ---- superinstructions (fast builds only; checked runs the plain ops) --- */

START_TEST(superinstructions)
{
	uint8_t mem[8] = { 10, 11, 12, 13, 14, 15, 16, 17 };
	EXPECT(8, MOV64_K(1, 5), MOV64_X(0, 1), ALU64_K(ADD, 0, 3), EXIT);
	EXPECT(10, MOV64_K(1, 5), MOV64_X(0, 1), ALU64_X(ADD, 0, 0), EXIT);
	EXPECT(4, MOV64_K(1, 4), MOV64_X(0, 1), JMP_K(JEQ, 0, 4, 1),
	       MOV64_K(0, 0), EXIT);
	EXPECT_MEM(mem, 13, MOV64_K(2, 2), ALU64_X(ADD, 1, 2),
		   LDX(B, 0, 1, 1), EXIT);
	EXPECT_MEM(mem, 12, MOV64_K(2, 2), ALU64_X(ADD, 1, 2),
		   LDX(B, 1, 1, 0), MOV64_X(0, 1), EXIT);
	EXPECT(6, MOV64_K(0, 1), ALU64_K(ADD, 0, 2), ALU64_X(ADD, 0, 0), EXIT);
	/* the loop jumps back onto a fused slot */
	EXPECT(10, MOV64_K(0, 0), ALU64_K(ADD, 0, 1), JMP_K(JNE, 0, 10, -2),
	       EXIT);
	EXPECT(5, MOV64_K(0, 0), ALU64_K(ADD, 0, 5), JMP_K(JEQ, 0, 5, 1),
	       MOV64_K(0, 0), EXIT);
	EXPECT(8, MOV64_K(1, 7), ALU64_K(ADD, 1, 1), MOV64_X(0, 1), EXIT);
	EXPECT(4, MOV64_K(0, 6), ALU64_K(AND, 0, 4), JMP_K(JEQ, 0, 4, 1),
	       MOV64_K(0, 0), EXIT);
	EXPECT(0xffffffffull, MOV64_K(0, -1), ALU64_K(LSH, 0, 32),
	       ALU64_K(RSH, 0, 32), EXIT);
	EXPECT(4, MOV64_K(1, 16), ALU64_K(RSH, 1, 2), MOV64_X(0, 1), EXIT);
	EXPECT_MEM(mem, 10, LDX(B, 2, 1, 0), MOV64_X(0, 2), EXIT);
	EXPECT(3, MOV64_K(1, 3), MOV64_K(0, 9), JMP_K(JNE, 1, 3, 1),
	       MOV64_X(0, 1), EXIT);
	EXPECT(9, MOV64_K(1, 2), MOV64_K(0, 9), JMP_K(JNE, 1, 3, 1),
	       MOV64_X(0, 1), EXIT);
	EXPECT(9, MOV64_K(1, 3), MOV64_K(0, 9), JMP_K(JEQ, 1, 3, 1),
	       MOV64_X(0, 1), EXIT);
	EXPECT(2, MOV64_K(1, 2), MOV64_K(0, 9), JMP_K(JEQ, 1, 3, 1),
	       MOV64_X(0, 1), EXIT);
	/* 5 > 10? no; 5 > 2? yes */
	EXPECT(2, MOV64_K(1, 5), JMP_K(JSGT, 1, 10, 3), JMP_K(JSGT, 1, 2, 1),
	       EXIT, MOV64_K(0, 2), EXIT);
	EXPECT(1, MOV64_K(1, 50), JMP_K(JSGT, 1, 10, 2), JMP_K(JSGT, 1, 2, 2),
	       EXIT, MOV64_K(0, 1), EXIT);
	EXPECT(4, MOV64_K(1, 4), MOV64_K(2, 4), MOV64_X(0, 1),
	       JMP_X(JNE, 0, 2, 1), EXIT, MOV64_K(0, 1), EXIT);
	EXPECT(1, MOV64_K(1, 4), MOV64_K(2, 5), MOV64_X(0, 1),
	       JMP_X(JNE, 0, 2, 1), EXIT, MOV64_K(0, 1), EXIT);
	EXPECT(4, MOV64_K(1, 6), MOV64_X(0, 1), ALU64_K(AND, 0, 4), EXIT);
	EXPECT(0x600000000ull, MOV64_K(1, 6), MOV64_X(0, 1),
	       ALU64_K(LSH, 0, 32), EXIT);
	EXPECT(3, MOV64_K(1, 6), MOV64_X(0, 1), ALU64_K(RSH, 0, 1), EXIT);
	EXPECT(6, MOV64_K(1, 6), MOV64_X(0, 1), JA_(1), MOV64_K(0, 0), EXIT);
	EXPECT(22, MOV64_K(0, 7), ALU64_K(MUL, 0, 3), ALU64_K(ADD, 0, 1), EXIT);
	EXPECT(6 ^ 3, MOV64_K(0, 6), MOV64_K(1, 3), ALU64_X(XOR, 1, 0),
	       MOV64_X(0, 1), EXIT);
	EXPECT_MEM(mem, 10 ^ 3, MOV64_K(2, 3), LDX(B, 0, 1, 0),
		   ALU64_X(XOR, 0, 2), EXIT);
	EXPECT(4 + 3, MOV64_K(0, 6), MOV64_K(1, 3), ALU64_K(AND, 0, 4),
	       ALU64_X(ADD, 0, 1), EXIT);
	/* a jump onto the second half of a pair runs that half alone */
	const struct bpfvm_insn p[] = {
		MOV64_K(0, 1), MOV64_K(1, 100), JA_(1), MOV64_X(0, 1),
		ALU64_K(ADD, 0, 3), EXIT,
	};
	expect_mem(p, LEN(p), NULL, 0, 4, __LINE__);
	struct bpfvm *vm = load(p, LEN(p));
	ck_assert_uint_ge(vm->fast[3].op, OP__COUNT); /* fused indeed */
	ck_assert_uint_eq(vm->prog[3].op, OP_MOV64_X);
	ck_assert_uint_eq(vm->fast[4].op, OP_ADD64_K);
	bpfvm_destroy(vm);
}
END_TEST

/* ---- calls -------------------------------------------------------------- */

START_TEST(bpf_to_bpf_calls)
{
	/* r6-r9 survive the call, each frame has its own stack, and the
	 * callee may read the caller's frame through a pointer */
	EXPECT(121 + 30 + 111,
	       MOV64_K(6, 6), MOV64_K(7, 7), MOV64_K(8, 8), MOV64_K(9, 9),
	       ST(DW, 10, -8, 111), MOV64_K(1, 10), MOV64_X(2, 10),
	       ALU64_K(ADD, 2, -8), CALL_LOCAL(7),
	       ALU64_X(ADD, 0, 6), ALU64_X(ADD, 0, 7), ALU64_X(ADD, 0, 8),
	       ALU64_X(ADD, 0, 9), LDX(DW, 3, 10, -8), ALU64_X(ADD, 0, 3),
	       EXIT,
	       /* 16: the callee */
	       ST(DW, 10, -8, 222), LDX(DW, 3, 2, 0), MOV64_X(0, 1),
	       ALU64_X(ADD, 0, 3), MOV64_K(6, 0), MOV64_K(7, 0), MOV64_K(8, 0),
	       MOV64_K(9, 0), EXIT);
}
END_TEST

/* main calls f(n), f recurses down to 0: n + 2 frames in all */
static struct bpfvm *recursion(int n)
{
	const struct bpfvm_insn p[] = {
		MOV64_K(1, n), CALL_LOCAL(1), EXIT,
		JMP_K(JEQ, 1, 0, 2), ALU64_K(SUB, 1, 1), CALL_LOCAL(-3),
		MOV64_K(0, 42), EXIT,
	};
	return load(p, LEN(p));
}

START_TEST(call_depth_limit)
{
	struct bpfvm *ok = recursion(BPFVM_MAX_FRAMES - 2);
	struct bpfvm *deep = recursion(BPFVM_MAX_FRAMES - 1);
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(ok, m, NULL, 0);
		ck_assert_msg(r.error == 0, "%s", r.msg);
		ck_assert_uint_eq(r.r0, 42);
		r = run1(deep, m, NULL, 0);
		ck_assert_int_eq(r.error, -E2BIG);
		ck_assert_int_eq(r.pc, 5);
		ck_assert_msg(strstr(r.msg, "too deep"), "%s", r.msg);
	}
	bpfvm_destroy(ok);
	bpfvm_destroy(deep);
}
END_TEST

struct tail_ctx {
	const struct bpfvm *slot0;
	int calls;
};

static const struct bpfvm *tail_hook(void *cookie, uint64_t map,
				     uint32_t index)
{
	struct tail_ctx *t = cookie;
	(void)map;
	t->calls++;
	return index == 0 ? t->slot0 : NULL;
}

START_TEST(tail_calls)
{
	/* a program that tail-calls itself, counting runs in mem[0] */
	const struct bpfvm_insn self[] = {
		LDX(DW, 0, 1, 0), ALU64_K(ADD, 0, 1), STX(DW, 1, 0, 0),
		MOV64_K(2, 0), MOV64_K(3, 0), MOV64_K(0, 7), CALL(12), EXIT,
	};
	struct bpfvm *vm = load(self, LEN(self));
	struct tail_ctx t = { vm, 0 };
	bpfvm_set_tail_call_hook(vm, tail_hook, &t);
	for (size_t m = 0; m < LEN(modes); m++) {
		uint64_t mem[1] = { 0 };
		t.calls = 0;
		struct bpfvm_result r = run1(vm, m, mem, sizeof mem);
		ck_assert_msg(r.error == 0, "%s", r.msg);
		/* 1 run + 33 tail calls; the 34th call falls through with r0
		 * unchanged, and the hook is not even asked (as in Linux) */
		ck_assert_uint_eq(mem[0], 1 + BPFVM_MAX_TAIL_CALLS);
		ck_assert_int_eq(t.calls, BPFVM_MAX_TAIL_CALLS);
		ck_assert_uint_eq(r.r0, 7);
	}
	bpfvm_destroy(vm);

	/* failed attempts (an empty slot, an index beyond the array) do not
	 * count, as Linux 6.18 does: k of them on the first run, then the
	 * program tail-calls itself 33 times all the same */
	for (int k = 0; k <= 100; k += 25) {
		for (int32_t idx = 1; idx <= 4; idx += 3) {
			struct bpfvm_insn p[] = {
				LDX(DW, 0, 1, 0), ALU64_K(ADD, 0, 1),
				STX(DW, 1, 0, 0), JMP_K(JNE, 0, 1, 6),
				MOV64_K(6, k), MOV64_K(2, 0), MOV64_K(3, idx),
				CALL(12), ALU64_K(SUB, 6, 1),
				JMP_K(JNE, 6, 0, -5),
				MOV64_K(2, 0), MOV64_K(3, 0), MOV64_K(0, 7),
				CALL(12), EXIT,
			};
			if (k == 0)
				p[4] = JA_(5); /* no failed attempts at all */
			vm = load(p, LEN(p));
			t = (struct tail_ctx){ vm, 0 };
			bpfvm_set_tail_call_hook(vm, tail_hook, &t);
			for (size_t m = 0; m < LEN(modes); m++) {
				uint64_t mem[1] = { 0 };
				t.calls = 0;
				struct bpfvm_result r = run1(vm, m, mem,
							     sizeof mem);
				ck_assert_msg(r.error == 0, "%s", r.msg);
				ck_assert_uint_eq(mem[0], 34);
				ck_assert_uint_eq(r.r0, 7);
				ck_assert_int_eq(t.calls, k + 33);
			}
			bpfvm_destroy(vm);
		}
	}

	/* into another VM: it starts at insn 0 with r1 = ctx */
	const struct bpfvm_insn target[] = { LDX(B, 0, 1, 0), EXIT };
	const struct bpfvm_insn to[] = { MOV64_K(2, 0), MOV64_K(3, 0),
					 MOV64_K(0, 5), CALL(12), EXIT };
	struct bpfvm *tvm = load(target, LEN(target));
	vm = load(to, LEN(to));
	t = (struct tail_ctx){ tvm, 0 };
	bpfvm_set_tail_call_hook(vm, tail_hook, &t);
	for (size_t m = 0; m < LEN(modes); m++) {
		uint8_t mem[1] = { 99 };
		struct bpfvm_result r = run1(vm, m, mem, sizeof mem);
		ck_assert_msg(r.error == 0, "%s", r.msg);
		ck_assert_uint_eq(r.r0, 99);
	}
	bpfvm_destroy(vm);
	bpfvm_destroy(tvm);

	/* no hook: fall through */
	EXPECT(5, MOV64_K(0, 5), CALL(12), EXIT);
}
END_TEST

static uint64_t add_cookie(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			   uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	return r1 + *(uint64_t *)bpfvm_call_cookie(call);
}

static uint64_t sum5(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
		     uint64_t r5, struct bpfvm_call *call)
{
	(void)call;
	return r1 + 10 * r2 + 100 * r3 + 1000 * r4 + 10000 * r5;
}

static uint64_t aborter(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			uint64_t r5, struct bpfvm_call *call)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	bpfvm_call_abort(call, "boom");
	return 0;
}

/* In every build, running vm stops at insn pc with -EINVAL, the message
 * "insn PC: ..." naming want. */
static void call_fails_at(struct bpfvm *vm, int pc, const char *want)
{
	char at[32];
	snprintf(at, sizeof(at), "insn %d: ", pc);
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_int_eq(r.error, -EINVAL);
		ck_assert_int_eq(r.pc, pc);
		ck_assert_msg(strstr(r.msg, at) == r.msg && strstr(r.msg, want),
			      "%s", r.msg);
	}
}

START_TEST(helpers_and_callx)
{
	uint64_t cookie = 1000;
	const struct bpfvm_insn p[] = {
		MOV64_K(1, 5), CALL(100), MOV64_X(6, 0),
		MOV64_K(1, 1), MOV64_K(2, 2), MOV64_K(3, 3), MOV64_K(4, 4),
		MOV64_K(5, 5), MOV64_K(7, 101), CALLX(7), ALU64_X(ADD, 0, 6),
		EXIT,
	};
	struct bpfvm *vm = load(p, LEN(p));
	ck_assert_int_eq(bpfvm_register_helper(vm, 100, add_cookie, &cookie), 0);
	ck_assert_int_eq(bpfvm_register_helper(vm, 101, sum5, NULL), 0);
	ck_assert_int_eq(bpfvm_register_helper(vm, 65536, sum5, NULL), -EINVAL);
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_msg(r.error == 0, "%s", r.msg);
		ck_assert_uint_eq(r.r0, 1005 + 54321);
	}
	/* unregistering makes it unknown */
	bpfvm_register_helper(vm, 101, NULL, NULL);
	call_fails_at(vm, 9, "101");
	bpfvm_destroy(vm);

	/* callx with the conformance suite's program: helper 5 = ktime */
	EXPECT(2, MOV64_K(1, -1), MOV64_K(2, 5), CALLX(2), MOV64_K(0, 2), EXIT);

	/* unknown ids: a kernel helper we lack (named), and a made-up one */
	const struct bpfvm_insn u[] = { MOV64_K(0, 0), CALL(1), CALL(9999),
					EXIT };
	vm = load(u, LEN(u));
	call_fails_at(vm, 1, "map_lookup_elem");
	bpfvm_register_helper(vm, 1, sum5, NULL);
	call_fails_at(vm, 2, "9999");
	/* a helper stopping the run */
	bpfvm_register_helper(vm, 1, aborter, NULL);
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_int_eq(r.error, -EINVAL);
		ck_assert_int_eq(r.pc, 1);
		ck_assert_str_eq(r.msg, "insn 1: boom");
	}
	bpfvm_destroy(vm);

	/* kfuncs are not supported: an error, not a crash */
	const struct bpfvm_insn k[] = { INSN(0x85, 0, 2, 0, 1234), EXIT };
	vm = load(k, LEN(k));
	call_fails_at(vm, 0, "");
	bpfvm_destroy(vm);
}
END_TEST

/* bpf_loop-like helper: calls the callback r1 for i = 0, 1, 2 with r2 */
static uint64_t loop3(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
		      uint64_t r5, struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	uint64_t sum = 0;
	for (uint64_t i = 0; i < 3; i++) {
		uint64_t args[5] = { i, r2, 0, 0, 0 }, ret;
		if (bpfvm_call_callback(call, r1, args, &ret))
			return 0;
		sum += ret;
	}
	return sum;
}

START_TEST(pseudo_func_callbacks)
{
	const struct bpfvm_insn p[] = {
		INSN(0x18, 1, 4, 0, 4), INSN(0, 0, 0, 0, 0), MOV64_K(2, 10),
		CALL(1001), EXIT,
		/* 5: the callback, with its own stack */
		STX(DW, 10, 1, -8), LDX(DW, 0, 10, -8), ALU64_X(ADD, 0, 2),
		EXIT,
	};
	struct bpfvm *vm = load(p, LEN(p));
	ck_assert_uint_eq(bpfvm_dinsns(vm)[0].imm, BPFVM_FUNC_TAG | 5);
	bpfvm_register_helper(vm, 1001, loop3, NULL);
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_msg(r.error == 0, "%s", r.msg);
		ck_assert_uint_eq(r.r0, 10 + 11 + 12);
	}
	bpfvm_destroy(vm);
}
END_TEST

/* ---- loading ------------------------------------------------------------ */

static void load_fails(const struct bpfvm_insn *p, size_t n, int err,
		       const char *msg)
{
	struct bpfvm *vm = bpfvm_create();
	ck_assert_msg(bpfvm_load(vm, p, n) == err, "want %d for '%s': %s", err,
		      msg, bpfvm_error(vm));
	ck_assert_msg(strstr(bpfvm_error(vm), msg), "'%s' lacks '%s'",
		      bpfvm_error(vm), msg);
	ck_assert_ptr_null(bpfvm_insns(vm));
	bpfvm_destroy(vm);
}
#define LOAD_FAILS(err, msg, ...)                                           \
	do {                                                                \
		const struct bpfvm_insn p_[] = { __VA_ARGS__ };             \
		load_fails(p_, LEN(p_), err, msg);                          \
	} while (0)

static int ldimm64_hook(void *cookie, unsigned src, int32_t imm, int32_t imm2,
			uint64_t *value, char *err, size_t errlen)
{
	(void)cookie;
	if (src != 1) {
		snprintf(err, errlen, "no map %d", imm);
		return -ENOENT;
	}
	*value = 0x5000 + (uint64_t)imm + (uint64_t)imm2;
	return 0;
}

START_TEST(load_errors)
{
	LOAD_FAILS(-EINVAL, "jump out of range from insn 0 to 6", JA_(5), EXIT);
	LOAD_FAILS(-EINVAL, "jump out of range from insn 1 to -1",
		   MOV64_K(0, 0), JA_(-3), EXIT);
	LOAD_FAILS(-EINVAL, "jump out of range from insn 0 to 3",
		   JMP32_K(JEQ, 0, 0, 2), EXIT);
	LOAD_FAILS(-EINVAL, "jump out of range from insn 0 to 2",
		   CALL_LOCAL(1), EXIT);
	LOAD_FAILS(-EINVAL, "jump out of range from insn 1 to 100001",
		   MOV64_K(0, 0), GOTOL(99999), EXIT);
	LOAD_FAILS(-EINVAL, "jump into the middle of ldimm64 insn 1",
		   JMP_K(JEQ, 1, 0, 1), LDDW(0, 1), EXIT);
	LOAD_FAILS(-EINVAL, "last insn is not an exit or jmp", MOV64_K(0, 1));
	LOAD_FAILS(-EINVAL, "last insn is not an exit or jmp", EXIT,
		   LDDW(0, 1));
	LOAD_FAILS(-EINVAL, "insn 1: BPF_MOV uses reserved fields",
		   MOV64_K(0, 0), INSN(0xb7, 0, 1, 0, 0), EXIT);
	LOAD_FAILS(-EINVAL, "insn 0: unknown opcode ff", INSN(0xff, 0, 0, 0, 0),
		   EXIT);
	LOAD_FAILS(-EINVAL, "insn 0: invalid bpf_ld_imm64 insn",
		   INSN(0x18, 0, 0, 0, 0), EXIT);
	LOAD_FAILS(-EINVAL, "needs an ldimm64 hook", INSN(0x18, 0, 1, 0, 3),
		   INSN(0, 0, 0, 0, 0), EXIT);

	struct bpfvm *vm = bpfvm_create();
	ck_assert_int_eq(bpfvm_load(vm, NULL, 0), -EINVAL);
	ck_assert_str_eq(bpfvm_error(vm), "empty program");
	const struct bpfvm_insn one[] = { EXIT };
	ck_assert_int_eq(bpfvm_load(vm, one, BPFVM_MAX_INSNS + 1), -E2BIG);
	ck_assert_ptr_null(bpfvm_insns(vm));
	struct bpfvm_result r;
	ck_assert_int_eq(bpfvm_run_mem(vm, NULL, 0, &r), -EINVAL);

	/* the ldimm64 hook resolves map forms; its errors are passed on */
	bpfvm_set_ldimm64_hook(vm, ldimm64_hook, NULL);
	const struct bpfvm_insn m[] = { INSN(0x18, 0, 1, 0, 3),
					INSN(0, 0, 0, 0, 4), EXIT };
	ck_assert_int_eq(bpfvm_load(vm, m, LEN(m)), 0);
	ck_assert_int_eq(bpfvm_run_mem(vm, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.r0, 0x5007);
	ck_assert_uint_eq(bpfvm_insn_count(vm), 3);
	ck_assert_int_eq(memcmp(bpfvm_insns(vm), m, sizeof m), 0);
	/* a failed load keeps the previous program */
	const struct bpfvm_insn bad[] = { INSN(0x18, 0, 2, 0, 3),
					  INSN(0, 0, 0, 0, 4), EXIT };
	ck_assert_int_eq(bpfvm_load(vm, bad, LEN(bad)), -ENOENT);
	ck_assert_str_eq(bpfvm_error(vm), "insn 0: no map 3");
	ck_assert_int_eq(bpfvm_run_mem(vm, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.r0, 0x5007);
	bpfvm_destroy(vm);
}
END_TEST

/* ---- checked mode ------------------------------------------------------- */

/* Run p checked in both dispatches; expect err at pc with msg inside. */
static void checked_fails(const struct bpfvm_insn *p, size_t n, void *mem,
			  size_t len, int err, int64_t pc, const char *msg)
{
	struct bpfvm *vm = load(p, n);
	for (size_t m = 2; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, mem, len);
		ck_assert_msg(r.error == err, "error %d, want %d: %s", r.error,
			      err, r.msg);
		ck_assert_int_eq(r.pc, pc);
		ck_assert_msg(strstr(r.msg, msg), "'%s' lacks '%s'", r.msg, msg);
	}
	bpfvm_destroy(vm);
}
#define CHECKED_FAILS(mem, len, err, pc, msg, ...)                           \
	do {                                                                 \
		const struct bpfvm_insn p_[] = { __VA_ARGS__ };              \
		checked_fails(p_, LEN(p_), mem, len, err, pc, msg);          \
	} while (0)

START_TEST(checked_memory)
{
	uint8_t mem[8] = { 0 };
	char want[96];
	snprintf(want, sizeof want,
		 "insn 0: invalid read of 8 bytes at %p (not in any region)",
		 (void *)(mem + 1));
	CHECKED_FAILS(mem, 8, -EFAULT, 0, want, LDX(DW, 0, 1, 1), EXIT);
	snprintf(want, sizeof want,
		 "insn 1: invalid write of 4 bytes at %p (not in any region)",
		 (void *)(mem + 8));
	CHECKED_FAILS(mem, 8, -EFAULT, 1, want, MOV64_K(0, 0),
		      STX(W, 1, 0, 8), EXIT);
	/* the last byte is fine, one before the start is not */
	EXPECT_MEM(mem, 0, LDX(B, 0, 1, 7), EXIT);
	CHECKED_FAILS(mem, 8, -EFAULT, 0, "invalid write of 1 bytes",
		      ST(B, 1, -1, 0), EXIT);
	CHECKED_FAILS(mem, 8, -EFAULT, 1, "invalid read of 1 bytes at 0x0 ",
		      MOV64_K(1, 0), LDX(B, 0, 1, 0), EXIT);
	/* atomics and address wrap-around */
	CHECKED_FAILS(mem, 8, -EFAULT, 1, "invalid write of 8 bytes",
		      MOV64_K(2, 1), ATOMIC(DW, 1, 2, 4, ADD), EXIT);
	CHECKED_FAILS(mem, 8, -EFAULT, 1, "invalid read of 8 bytes",
		      MOV64_K(1, -4), LDX(DW, 0, 1, 0), EXIT);
	/* the stack: [r10-512, r10) only */
	CHECKED_FAILS(NULL, 0, -EFAULT, 0, "invalid write of 8 bytes",
		      STX(DW, 10, 1, -520), EXIT);
	CHECKED_FAILS(NULL, 0, -EFAULT, 0, "invalid read of 1 bytes",
		      LDX(B, 0, 10, 0), EXIT);
	CHECKED_FAILS(NULL, 0, -EFAULT, 0, "invalid write of 8 bytes",
		      STX(DW, 10, 1, -513), EXIT);
	/* a callee cannot reach below its own frame, may reach its caller's */
	CHECKED_FAILS(NULL, 0, -EFAULT, 2, "invalid write",
		      CALL_LOCAL(1), EXIT, ST(DW, 10, -520, 1), EXIT);
	EXPECT(7, ST(DW, 10, -8, 7), CALL_LOCAL(1), EXIT,
	       LDX(DW, 0, 10, 512 - 8), EXIT);
	/* the frame of a callee that returned is gone */
	CHECKED_FAILS(NULL, 0, -EFAULT, 1, "invalid read",
		      CALL_LOCAL(2), LDX(DW, 0, 10, -520), EXIT,
		      ST(DW, 10, -8, 7), EXIT);
	/* a pseudo-func value is not a pointer */
	CHECKED_FAILS(NULL, 0, -EFAULT, 2, "invalid read",
		      INSN(0x18, 1, 4, 0, 2), INSN(0, 0, 0, 0, 0),
		      LDX(B, 0, 1, 0), EXIT);
}
END_TEST

static bool hook_allows(void *cookie, uint64_t addr, size_t len, bool write)
{
	const uint8_t *buf = cookie;
	return !write && addr >= (uintptr_t)buf &&
	       addr + len <= (uintptr_t)buf + 16;
}

struct handout {
	uint64_t value;
};

static uint64_t hand_out(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			 uint64_t r5, struct bpfvm_call *call)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	struct handout *h = bpfvm_call_cookie(call);
	bpfvm_call_add_region(call, h, sizeof *h, false);
	return (uint64_t)(uintptr_t)h;
}

/* adds r1 distinct 8-byte regions of the cookie's buffer, then the first
 * one again; r0 = how many calls failed */
static uint64_t many_regions(uint64_t r1, uint64_t r2, uint64_t r3,
			     uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	uint64_t *buf = bpfvm_call_cookie(call), failed = 0;
	for (uint64_t i = 0; i < r1; i++)
		failed += bpfvm_call_add_region(call, &buf[i], 8, true) != 0;
	failed += bpfvm_call_add_region(call, &buf[0], 8, true) != 0;
	return failed;
}

START_TEST(checked_regions)
{
	/* per-run regions: BPFVM_RUN_REGIONS of them, repeats are free */
	static uint64_t buf[BPFVM_RUN_REGIONS + 8];
	const struct bpfvm_insn many[] = {
		MOV64_K(1, BPFVM_RUN_REGIONS), CALL(300), MOV64_X(6, 0),
		MOV64_K(1, BPFVM_RUN_REGIONS + 8), CALL(300),
		ALU64_K(LSH, 0, 8), ALU64_X(OR, 0, 6), EXIT,
	};
	struct bpfvm *mv = load(many, LEN(many));
	bpfvm_register_helper(mv, 300, many_regions, buf);
	struct bpfvm_result mr = run1(mv, 2, NULL, 0);
	ck_assert_int_eq(mr.error, 0);
	ck_assert_uint_eq(mr.r0, 8 << 8 | 0);
	bpfvm_destroy(mv);

	uint64_t ro[2] = { 0x1234, 0 }, rw[2] = { 0, 0 };
	uint8_t hooked[16] = { 0x42 };
	const struct bpfvm_insn p[] = {
		LDDW(1, (uintptr_t)ro), LDX(DW, 0, 1, 0),          /* ok */
		LDDW(2, (uintptr_t)rw), STX(DW, 2, 0, 8),          /* ok */
		LDDW(3, (uintptr_t)hooked), LDX(B, 4, 3, 0),       /* hook */
		ALU64_X(ADD, 0, 4), STX(DW, 1, 0, 0),              /* ro! */
		EXIT,
	};
	struct bpfvm *vm = load(p, LEN(p));
	bpfvm_add_region(vm, ro, sizeof ro, false);
	bpfvm_add_region(vm, rw, sizeof rw, true);
	bpfvm_set_region_hook(vm, hook_allows, hooked);
	for (size_t m = 2; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_int_eq(r.error, -EFAULT);
		ck_assert_int_eq(r.pc, 10);
		ck_assert_msg(strstr(r.msg, "(read-only region)"), "%s", r.msg);
		ck_assert_uint_eq(rw[1], 0x1234);
	}
	bpfvm_destroy(vm);

	/* memory a helper hands out is readable for the rest of the run only */
	struct handout h = { 77 };
	const struct bpfvm_insn q[] = { CALL(200), LDX(DW, 0, 0, 0), EXIT };
	vm = load(q, LEN(q));
	bpfvm_register_helper(vm, 200, hand_out, &h);
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_msg(r.error == 0, "%s", r.msg);
		ck_assert_uint_eq(r.r0, 77);
	}
	const struct bpfvm_insn q2[] = { LDDW(1, (uintptr_t)&h),
					 LDX(DW, 0, 1, 0), EXIT };
	bpfvm_load(vm, q2, LEN(q2));
	for (size_t m = 2; m < LEN(modes); m++)
		ck_assert_int_eq(run1(vm, m, NULL, 0).error, -EFAULT);
	bpfvm_destroy(vm);

	/* the context of bpfvm_run is a region */
	uint32_t ctx[2] = { 5, 6 };
	const struct bpfvm_insn c[] = { LDX(W, 0, 1, 4), LDX(W, 2, 1, 8),
					EXIT };
	vm = load(c, LEN(c));
	bpfvm_set_checked(vm, true);
	struct bpfvm_result r;
	ck_assert_int_eq(bpfvm_run(vm, ctx, sizeof ctx, &r), -EFAULT);
	ck_assert_int_eq(r.pc, 1);
	bpfvm_set_checked(vm, false);
	const struct bpfvm_insn c2[] = { LDX(W, 0, 1, 4), EXIT };
	bpfvm_load(vm, c2, LEN(c2));
	ck_assert_int_eq(bpfvm_run(vm, ctx, sizeof ctx, &r), 0);
	ck_assert_uint_eq(r.r0, 6);
	bpfvm_destroy(vm);
}
END_TEST

START_TEST(budget)
{
	const struct bpfvm_insn loop[] = { MOV64_K(0, 0), ALU64_K(ADD, 0, 1),
					   JA_(-2), EXIT };
	struct bpfvm *vm = load(loop, LEN(loop));
	bpfvm_set_budget(vm, 1001);
	/* with a budget set, fast mode counts too */
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_int_eq(r.error, -ELOOP);
		/* 1 mov + 500 (add, ja) pairs = 1001; the 1002nd is an add */
		ck_assert_int_eq(r.pc, 1);
		ck_assert_uint_eq(r.insns, 1001);
		ck_assert_msg(strstr(r.msg, "insn 1: "), "%s", r.msg);
	}
	/* the checked default, 1e8 insns, then ELOOP */
	bpfvm_set_budget(vm, 0);
	struct bpfvm *vm2 = load(loop, LEN(loop));
	for (size_t m = 2; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm2, m, NULL, 0);
		ck_assert_int_eq(r.error, -ELOOP);
		ck_assert_uint_eq(r.insns, BPFVM_DEFAULT_BUDGET);
	}
	bpfvm_destroy(vm2);
	bpfvm_destroy(vm);

	/* a program within budget: insns counted exactly */
	const struct bpfvm_insn p[] = { MOV64_K(0, 3), ALU64_K(SUB, 0, 1),
					JMP_K(JNE, 0, 0, -2), EXIT };
	vm = load(p, LEN(p));
	for (size_t m = 2; m < LEN(modes); m++) {
		struct bpfvm_result res = run1(vm, m, NULL, 0);
		ck_assert_int_eq(res.error, 0);
		ck_assert_uint_eq(res.insns, 1 + 3 * 2 + 1);
	}
	bpfvm_set_budget(vm, 8);
	ck_assert_int_eq(run1(vm, 2, NULL, 0).error, 0);
	bpfvm_set_budget(vm, 7);
	ck_assert_int_eq(run1(vm, 2, NULL, 0).error, -ELOOP);
	bpfvm_destroy(vm);
}
END_TEST

/* xorshift64*: the fuzz loop's fixed-seed generator */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static int fuzz_ldimm64(void *cookie, unsigned src, int32_t imm, int32_t imm2,
			uint64_t *value, char *err, size_t errlen)
{
	(void)src, (void)imm2, (void)err, (void)errlen;
	*value = (uint64_t)(uintptr_t)cookie + (uint64_t)(imm & 63);
	return 0;
}

static const struct bpfvm *fuzz_tail(void *cookie, uint64_t map,
				     uint32_t index)
{
	(void)map;
	return index & 1 ? cookie : NULL;
}

/* Random programs from the opcode table with random fields, then random
 * bytes: whatever loads must run in checked mode without crashing. */
START_TEST(fuzz_checked)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	static const int32_t imms[] = { 0, 1, -1, 8, 16, 32, 64, 5, 12,
					INT32_MIN, INT32_MAX, 0x10000 };
	unsigned loaded = 0, ran_ok = 0;
	/* BPFVM_FUZZ_ITERS=N for a longer local run (default 4000; the last
	 * quarter are raw bytes) */
	const char *env = getenv("BPFVM_FUZZ_ITERS");
	int iters = env ? atoi(env) : 4000;
	if (iters < 4000)
		iters = 4000;
	for (int iter = 0; iter < iters; iter++) {
		struct bpfvm_insn p[32];
		size_t n = 2 + rnd(&seed) % 30;
		for (size_t i = 0; i < n; i++) {
			uint64_t x = rnd(&seed);
			if (iter >= iters / 4 * 3) { /* raw bytes */
				memcpy(&p[i], &x, sizeof x);
				continue;
			}
			/* a row of the table with random fields, redrawn until
			 * decode.c accepts its reserved fields */
			const struct bpfvm_opinfo *oi;
			char err[128];
			for (int tries = 0;; tries++) {
				x = rnd(&seed);
				oi = &bpfvm_opinfo[x % OP__COUNT];
				p[i] = INSN(oi->code, (x >> 8) % 11,
					    (x >> 12) % 11,
					    (int16_t)((x >> 32) % 1100) - 600,
					    imms[(x >> 24) % LEN(imms)]);
				if ((x >> 31) & 1)
					p[i].imm = (int32_t)(x >> 40);
				if ((x >> 16) & 1)
					p[i].src_reg = 0;
				if ((x >> 17) & 1)
					p[i].off = 0;
				if ((x >> 18) & 1)
					p[i].imm = 0;
				if ((x >> 19) & 1)
					p[i].dst_reg = 0;
				switch (oi->key) {
				case K_OFF: p[i].off = (int16_t)oi->keyval; break;
				case K_IMM: p[i].imm = oi->keyval; break;
				case K_SRC: p[i].src_reg = (uint8_t)oi->keyval; break;
				}
				/* jumps and calls land inside the program */
				int32_t t = (int32_t)((x >> 44) % n) - (int32_t)i - 1;
				if (oi->fmt == F_JA || oi->fmt == F_JMP_K ||
				    oi->fmt == F_JMP_X)
					p[i].off = (int16_t)t;
				if (oi->fmt == F_JA32 ||
				    (oi->fmt == F_CALL && oi->keyval == 1))
					p[i].imm = t;
				if (oi->fmt == F_CALL && oi->keyval == 0)
					p[i].imm = (int32_t)((x >> 40) % 20);
				if (oi->fmt == F_LDDW) {
					if (i + 1 >= n - 1)
						continue;
					p[i + 1] = INSN(0, 0, 0, 0, (int32_t)x);
				}
				p[n - 1] = EXIT;
				if (bpfvm_check_insn(p, n, i, err, sizeof err) >= 0 ||
				    tries > 50)
					break;
			}
			if (oi->fmt == F_LDDW)
				i++;
		}
		p[n - 1] = EXIT;
		uint8_t mem[64];
		memset(mem, (int)iter, sizeof mem);
		struct bpfvm *vm = bpfvm_create();
		bpfvm_register_helper(vm, 6, NULL, NULL); /* no printing */
		bpfvm_set_ldimm64_hook(vm, fuzz_ldimm64, mem);
		bpfvm_set_tail_call_hook(vm, fuzz_tail, vm);
		bpfvm_set_budget(vm, 5000);
		if (bpfvm_load(vm, p, n) == 0) {
			loaded++;
			for (size_t m = 2; m < LEN(modes); m++) {
				struct bpfvm_result r = run1(vm, m, mem,
							     sizeof mem);
				ran_ok += r.error == 0;
				ck_assert(r.error == 0 || r.msg[0]);
			}
		}
		bpfvm_destroy(vm);
	}
	/* the generator must reach the interpreter often enough to matter */
	ck_assert_msg(loaded > 1000, "only %u programs loaded", loaded);
	ck_assert_msg(ran_ok > 200, "only %u runs succeeded", ran_ok);
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

/* Collatz steps of mem[0], then an atomic add of 1 to *mem[1]. */
static const struct bpfvm_insn collatz[] = {
	LDX(DW, 2, 1, 0), MOV64_K(0, 0),
	JMP_K(JLE, 2, 1, 9),
	MOV64_X(3, 2), ALU64_K(AND, 3, 1), JMP_K(JEQ, 3, 0, 3),
	ALU64_K(MUL, 2, 3), ALU64_K(ADD, 2, 1), JA_(1),
	ALU64_K(RSH, 2, 1),
	ALU64_K(ADD, 0, 1), JA_(-10),
	LDX(DW, 4, 1, 8), MOV64_K(5, 1), ATOMIC(DW, 4, 5, 0, ADD), EXIT,
};

static uint64_t collatz_c(uint64_t n)
{
	uint64_t steps = 0;
	for (; n > 1; steps++)
		n = n & 1 ? 3 * n + 1 : n / 2;
	return steps;
}

struct worker {
	const struct bpfvm *vm;
	uint64_t *counter;
	uint64_t first;
	int runs;
	int bad;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->runs; i++) {
		uint64_t mem[2] = { w->first + (uint64_t)i,
				    (uint64_t)(uintptr_t)w->counter };
		struct bpfvm_result r;
		if (bpfvm_run_mem(w->vm, mem, sizeof mem, &r) ||
		    r.r0 != collatz_c(mem[0]))
			w->bad++;
	}
	return NULL;
}

START_TEST(threads)
{
	ck_assert_uint_eq(collatz_c(27), 111); /* the well-known value */
	for (size_t m = 0; m < LEN(modes); m++) {
		/* one VM, four threads, one shared counter */
		uint64_t counter = 0;
		struct bpfvm *vm = load(collatz, LEN(collatz));
		bpfvm_set_dispatch(vm, modes[m].d);
		bpfvm_set_checked(vm, modes[m].checked);
		bpfvm_add_region(vm, &counter, sizeof counter, true);
		struct worker w[4];
		pthread_t th[4];
		for (int i = 0; i < 4; i++) {
			w[i] = (struct worker){ vm, &counter,
						1 + (uint64_t)i * 1000, 400, 0 };
			pthread_create(&th[i], NULL, work, &w[i]);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			ck_assert_int_eq(w[i].bad, 0);
		}
		ck_assert_uint_eq(counter, 4 * 400);
		bpfvm_destroy(vm);

		/* two VMs, two threads */
		uint64_t c1 = 0, c2 = 0;
		struct bpfvm *a = load(collatz, LEN(collatz));
		struct bpfvm *b = load(collatz, LEN(collatz));
		bpfvm_add_region(a, &c1, sizeof c1, true);
		bpfvm_add_region(b, &c2, sizeof c2, true);
		bpfvm_set_dispatch(a, modes[m].d);
		bpfvm_set_dispatch(b, modes[m].d);
		bpfvm_set_checked(a, modes[m].checked);
		bpfvm_set_checked(b, modes[m].checked);
		w[0] = (struct worker){ a, &c1, 7, 300, 0 };
		w[1] = (struct worker){ b, &c2, 97, 300, 0 };
		pthread_create(&th[0], NULL, work, &w[0]);
		pthread_create(&th[1], NULL, work, &w[1]);
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		ck_assert_int_eq(w[0].bad + w[1].bad, 0);
		ck_assert_uint_eq(c1, 300);
		ck_assert_uint_eq(c2, 300);
		bpfvm_destroy(a);
		bpfvm_destroy(b);
	}
}
END_TEST

/* ---- trace, default helpers, run hook ----------------------------------- */

struct trace_log {
	int n;
	size_t pc[8];
	uint64_t before0[8], after0[8];
	uint8_t code[8];
};

static void tracer(void *cookie, size_t pc, const struct bpfvm_insn *insn,
		   const uint64_t before[11], const uint64_t after[11])
{
	struct trace_log *t = cookie;
	if (t->n < 8) {
		t->pc[t->n] = pc;
		t->before0[t->n] = before[0];
		t->after0[t->n] = after[0];
		t->code[t->n] = insn->code;
	}
	t->n++;
}

START_TEST(trace)
{
	const struct bpfvm_insn p[] = { MOV64_K(0, 5), JA_(1), EXIT,
					ALU64_K(ADD, 0, 2), JA_(-3) };
	struct bpfvm *vm = load(p, LEN(p));
	struct trace_log t;
	bpfvm_set_trace(vm, tracer, &t);
	for (size_t m = 0; m < LEN(modes); m++) {
		memset(&t, 0, sizeof t);
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_int_eq(r.error, 0);
		ck_assert_uint_eq(r.r0, 7);
		ck_assert_int_eq(t.n, 5);
		ck_assert_uint_eq(r.insns, 5);
		static const size_t pcs[] = { 0, 1, 3, 4, 2 };
		for (int i = 0; i < 5; i++)
			ck_assert_uint_eq(t.pc[i], pcs[i]);
		ck_assert_uint_eq(t.before0[0], 0);
		ck_assert_uint_eq(t.after0[0], 5);
		ck_assert_uint_eq(t.before0[2], 5);
		ck_assert_uint_eq(t.after0[2], 7);
		ck_assert_uint_eq(t.code[2], 0x07);
		ck_assert_uint_eq(t.code[4], 0x95);
	}
	bpfvm_destroy(vm);
}
END_TEST

static uint64_t printk_run(const char *fmt, size_t size, uint64_t a,
			   uint64_t b, uint64_t c)
{
	char mem[64] = { 0 };
	memcpy(mem, fmt, size);
	strcpy(mem + 48, "hi");
	const struct bpfvm_insn p[] = {
		MOV64_K(2, (int32_t)size), LDDW(3, a), LDDW(4, b), LDDW(5, c),
		CALL(6), EXIT,
	};
	struct bpfvm *vm = load(p, LEN(p));
	uint64_t r0 = 0;
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, mem, sizeof mem);
		ck_assert_msg(r.error == 0, "%s", r.msg);
		if (m)
			ck_assert_uint_eq(r.r0, r0);
		r0 = r.r0;
	}
	bpfvm_destroy(vm);
	return r0;
}
#define PRINTK(fmt, a, b, c) printk_run(fmt, sizeof(fmt), a, b, c)

START_TEST(trace_printk)
{
	/* the return value is the length of the formatted text */
	ck_assert_uint_eq(PRINTK("x=%d y=%llx\n", 42, 0x1f, 0),
			  strlen("x=42 y=1f\n"));
	ck_assert_uint_eq(PRINTK("%d %u\n", 0xffffffff, 0xffffffff, 0),
			  strlen("-1 4294967295\n"));
	ck_assert_uint_eq(PRINTK("%ld %5d|%-3x|%%\n", -1, 7, 10),
			  strlen("-1     7|a  |%\n"));
	ck_assert_uint_eq(PRINTK("%lu\n", UINT64_MAX, 0, 0),
			  strlen("18446744073709551615\n"));
	ck_assert_uint_eq(PRINTK("%px\n", 0x1234, 0, 0), 17);
	ck_assert_uint_eq(PRINTK("%s\n", 0, 0, 0), 1); /* NULL: "" */
	/* bad formats: -EINVAL */
	ck_assert_uint_eq(PRINTK("%q\n", 0, 0, 0), (uint64_t)-EINVAL);
	ck_assert_uint_eq(PRINTK("%d%d%d%d\n", 0, 0, 0), (uint64_t)-EINVAL);
	ck_assert_uint_eq(PRINTK("%lllx\n", 0, 0, 0), (uint64_t)-EINVAL);
	ck_assert_uint_eq(PRINTK("%.2d\n", 0, 0, 0), (uint64_t)-EINVAL);
	ck_assert_uint_eq(PRINTK("%hd\n", 0, 0, 0), (uint64_t)-EINVAL);
	ck_assert_uint_eq(PRINTK("%pI4\n", 0, 0, 0), (uint64_t)-EINVAL);
	ck_assert_uint_eq(PRINTK("%c%c|\n", 'o', 'k', 0), 4);
	ck_assert_uint_eq(PRINTK("\x01\n", 0, 0, 0), (uint64_t)-EINVAL);
	ck_assert_uint_eq(printk_run("abc", 3, 0, 0, 0), (uint64_t)-EINVAL);
}
END_TEST

START_TEST(trace_printk_string)
{
	/* %s reads the program's memory: mem + 48 holds "hi" */
	char mem[64] = "<%s>\n";
	strcpy(mem + 48, "hi");
	const struct bpfvm_insn p[] = {
		MOV64_K(2, 6), MOV64_X(3, 1), ALU64_K(ADD, 3, 48), CALL(6),
		EXIT,
	};
	expect_mem(p, LEN(p), mem, sizeof mem, 5, __LINE__);
}
END_TEST

START_TEST(current_task_helpers)
{
	char old[17] = "";
	prctl(PR_GET_NAME, old, 0, 0, 0);
	prctl(PR_SET_NAME, "bpfvm-comm-test", 0, 0, 0);
	uint64_t want;
	memcpy(&want, "bpfvm-co", 8);
	/* 16 bytes: the whole name, then the first 8 as r0 */
	EXPECT(want, MOV64_X(1, 10), ALU64_K(ADD, 1, -16), MOV64_K(2, 16),
	       CALL(16), LDX(DW, 0, 10, -16), EXIT);
	/* 4 bytes: "bpf" and a NUL, the rest of the slot untouched */
	EXPECT(0xffffffff00667062ull, ST(DW, 10, -8, -1), MOV64_X(1, 10),
	       ALU64_K(ADD, 1, -8), MOV64_K(2, 4), CALL(16),
	       LDX(DW, 0, 10, -8), EXIT);
	/* size 0: -EINVAL */
	EXPECT((uint64_t)-EINVAL, MOV64_X(1, 10), ALU64_K(ADD, 1, -8),
	       MOV64_K(2, 0), CALL(16), EXIT);
	prctl(PR_SET_NAME, old, 0, 0, 0);
	/* checked mode checks the helper's pointer */
	CHECKED_FAILS(NULL, 0, -EFAULT, 2, "invalid write of 16 bytes",
		      MOV64_X(1, 10), MOV64_K(2, 16), CALL(16), EXIT);

	/* pid/tgid, uid/gid */
	uint64_t pt = (uint64_t)getpid() << 32 | (uint32_t)gettid();
	EXPECT(pt, CALL(14), EXIT);
	EXPECT((uint64_t)getgid() << 32 | getuid(), CALL(15), EXIT);
	/* prandom: 32-bit values that are not all the same */
	const struct bpfvm_insn r[] = { CALL(7), MOV64_X(6, 0), CALL(7),
					ALU64_K(LSH, 0, 32), ALU64_X(OR, 0, 6),
					EXIT };
	struct bpfvm *vm = load(r, LEN(r));
	const struct bpfvm_insn k[] = { CALL(5), MOV64_X(6, 0), CALL(5),
					ALU64_X(SUB, 0, 6), EXIT };
	struct bpfvm *kvm = load(k, LEN(k));
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result a = run1(vm, m, NULL, 0);
		ck_assert_int_eq(a.error, 0);
		ck_assert_uint_ne(a.r0 >> 32, (uint32_t)a.r0);
		/* ktime is monotonic: the difference is small, not negative */
		a = run1(kvm, m, NULL, 0);
		ck_assert_int_eq(a.error, 0);
		ck_assert_uint_lt(a.r0, 1000000000ull);
	}
	bpfvm_destroy(vm);
	bpfvm_destroy(kvm);
	EXPECT(1, CALL(8), JMP_K(JLT, 0, 4096, 1), EXIT, MOV64_K(0, 1), EXIT);
}
END_TEST

static void pkt_hook(void *cookie, struct bpfvm_call *call, void *ctx,
		     size_t ctx_len)
{
	(void)ctx, (void)ctx_len;
	bpfvm_call_set_packet(call, cookie, 4);
}

START_TEST(run_hook_packet)
{
	uint8_t pkt[4] = { 0xde, 0xad, 0xbe, 0xef };
	uint64_t ctx = 0;
	const struct bpfvm_insn p[] = { LDABS(H, 2), EXIT };
	struct bpfvm *vm = load(p, LEN(p));
	struct bpfvm_result r;
	/* no hook: no packet, r0 = 0 */
	ck_assert_int_eq(bpfvm_run(vm, &ctx, sizeof ctx, &r), 0);
	ck_assert_uint_eq(r.r0, 0);
	bpfvm_set_run_hook(vm, pkt_hook, pkt);
	for (size_t m = 0; m < LEN(modes); m++) {
		bpfvm_set_dispatch(vm, modes[m].d);
		bpfvm_set_checked(vm, modes[m].checked);
		ck_assert_int_eq(bpfvm_run(vm, &ctx, sizeof ctx, &r), 0);
		ck_assert_uint_eq(r.r0, 0xbeef);
	}
	bpfvm_destroy(vm);
}
END_TEST

/* ---- the run's scope and holds ------------------------------------------- */

/* What the scope hooks and the releases saw, in order: 'E' enter, 'X' exit,
 * a letter per release (the held item's). */
struct item {
	struct scope_log *log;
	char name;
};

struct scope_log {
	char seq[64];
	size_t n;
	int enters, exits;
	uint64_t last_token;
	int64_t release_pc[BPFVM_RUN_HOLDS + 1];
	struct item items[BPFVM_RUN_HOLDS + 1];
	bool abort_in_hook;
};

static void log_event(struct scope_log *l, char c)
{
	if (l->n + 1 < sizeof l->seq)
		l->seq[l->n++] = c;
	l->seq[l->n] = 0;
}

static uint64_t log_enter(void *cookie, struct bpfvm_call *call)
{
	struct scope_log *l = cookie;
	ck_assert_ptr_nonnull(call->run);
	log_event(l, 'E');
	return 0x5eed0000u + (uint64_t)++l->enters;
}

static void log_exit(void *cookie, struct bpfvm_call *call, uint64_t token)
{
	struct scope_log *l = cookie;
	(void)call;
	log_event(l, 'X');
	l->exits++;
	l->last_token = token;
}

static void log_release(struct bpfvm_call *call, void *obj, int64_t pc)
{
	(void)call;
	struct item *it = obj;
	log_event(it->log, it->name);
	it->log->release_pc[it - it->log->items] = pc;
}

/* #300 hold(i), #301 drop(i): items of the cookie's log */
static uint64_t hold_item(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			  uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	struct scope_log *l = bpfvm_call_cookie(call);
	return (uint64_t)(int64_t)bpfvm_call_hold(call, &l->items[r1],
						   log_release);
}

static uint64_t drop_item(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			  uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	struct scope_log *l = bpfvm_call_cookie(call);
	return bpfvm_call_drop(call, &l->items[r1]);
}

static void abort_hook(void *cookie, struct bpfvm_call *call, void *ctx,
		       size_t ctx_len)
{
	(void)ctx, (void)ctx_len;
	struct scope_log *l = cookie;
	if (l->abort_in_hook)
		bpfvm_call_abort(call, "no context");
}

static struct bpfvm *scoped(const struct bpfvm_insn *p, size_t n,
			    struct scope_log *l)
{
	memset(l, 0, sizeof *l);
	for (size_t i = 0; i < LEN(l->items); i++)
		l->items[i] = (struct item){ l, (char)('a' + i) };
	struct bpfvm *vm = load(p, n);
	bpfvm_register_helper(vm, 300, hold_item, l);
	bpfvm_register_helper(vm, 301, drop_item, l);
	bpfvm_set_run_scope(vm, log_enter, log_exit, l);
	return vm;
}

/* Run in mode m; the log's sequence must be want, and exit must have got
 * enter's value. */
static struct bpfvm_result scoped_run(struct bpfvm *vm, struct scope_log *l,
				      size_t m, const char *want, int line)
{
	l->n = 0;
	l->seq[0] = 0;
	uint64_t ctx = 0;
	struct bpfvm_result r;
	bpfvm_set_dispatch(vm, modes[m].d);
	bpfvm_set_checked(vm, modes[m].checked);
	if (m % 2)
		bpfvm_run(vm, &ctx, sizeof ctx, &r);
	else
		bpfvm_run_mem(vm, &ctx, sizeof ctx, &r);
	ck_assert_msg(!strcmp(l->seq, want), "line %d mode %zu: '%s', want "
		      "'%s' (%s)", line, m, l->seq, want, r.msg);
	ck_assert_int_eq(l->enters, l->exits);
	ck_assert_uint_eq(l->last_token, 0x5eed0000u + (uint64_t)l->enters);
	return r;
}

START_TEST(run_scope_and_holds)
{
	struct scope_log l;
	/* a ends held, b is dropped: a released (pc of its call), then the
	 * scope's exit; a drop of what is not held is false */
	const struct bpfvm_insn ok[] = {
		MOV64_K(1, 0), CALL(300), MOV64_K(1, 1), CALL(300),
		MOV64_K(1, 1), CALL(301), MOV64_X(6, 0),
		MOV64_K(1, 1), CALL(301), ALU64_K(LSH, 6, 4),
		ALU64_X(OR, 0, 6), EXIT,
	};
	struct bpfvm *vm = scoped(ok, LEN(ok), &l);
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = scoped_run(vm, &l, m, "EaX", __LINE__);
		ck_assert_int_eq(r.error, 0);
		ck_assert_uint_eq(r.r0, 0x10);
		ck_assert_int_eq(l.release_pc[0], 1);
	}
	bpfvm_destroy(vm);

	/* runs that fail release too, latest first: an unknown helper, the
	 * budget, a fault (checked), a helper stopping the run */
	const struct bpfvm_insn unknown[] = {
		MOV64_K(1, 0), CALL(300), MOV64_K(1, 2), CALL(300),
		CALL(999), EXIT,
	};
	vm = scoped(unknown, LEN(unknown), &l);
	for (size_t m = 0; m < LEN(modes); m++)
		ck_assert_int_eq(scoped_run(vm, &l, m, "EcaX", __LINE__).error,
				 -EINVAL);
	bpfvm_destroy(vm);
	const struct bpfvm_insn forever[] = {
		MOV64_K(1, 3), CALL(300), JA_(-1), EXIT,
	};
	vm = scoped(forever, LEN(forever), &l);
	bpfvm_set_budget(vm, 1000);
	for (size_t m = 0; m < LEN(modes); m++)
		ck_assert_int_eq(scoped_run(vm, &l, m, "EdX", __LINE__).error,
				 -ELOOP);
	bpfvm_destroy(vm);
	const struct bpfvm_insn fault[] = {
		MOV64_K(1, 4), CALL(300), LDX(DW, 0, 6, 0), EXIT,
	};
	vm = scoped(fault, LEN(fault), &l);
	for (size_t m = 2; m < LEN(modes); m++)
		ck_assert_int_eq(scoped_run(vm, &l, m, "EeX", __LINE__).error,
				 -EFAULT);
	bpfvm_destroy(vm);
	const struct bpfvm_insn abort_[] = {
		MOV64_K(1, 5), CALL(300), CALL(6), EXIT,
	};
	vm = scoped(abort_, LEN(abort_), &l);
	bpfvm_register_helper(vm, 6, aborter, NULL);
	for (size_t m = 0; m < LEN(modes); m++)
		ck_assert_int_eq(scoped_run(vm, &l, m, "EfX", __LINE__).error,
				 -EINVAL);
	/* a run hook that stops the run before its first instruction: the
	 * scope still closes (bpfvm_run only calls the run hook) */
	bpfvm_set_run_hook(vm, abort_hook, &l);
	l.abort_in_hook = true;
	for (size_t m = 1; m < LEN(modes); m += 2)
		ck_assert_int_eq(scoped_run(vm, &l, m, "EX", __LINE__).error,
				 -EINVAL);
	bpfvm_destroy(vm);

	/* BPFVM_RUN_HOLDS at most: the next is -ENOSPC; all released,
	 * latest first; r0 = the failures */
	const struct bpfvm_insn many[] = {
		MOV64_K(6, 0), MOV64_K(7, 0),
		MOV64_X(1, 6), CALL(300), ALU64_X(SUB, 7, 0),
		ALU64_K(ADD, 6, 1), JMP_K(JLE, 6, BPFVM_RUN_HOLDS, -5),
		MOV64_X(0, 7), EXIT,
	};
	vm = scoped(many, LEN(many), &l);
	char want[BPFVM_RUN_HOLDS + 3] = "E";
	for (int i = BPFVM_RUN_HOLDS - 1; i >= 0; i--)
		want[strlen(want)] = (char)('a' + i);
	strcat(want, "X");
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = scoped_run(vm, &l, m, want, __LINE__);
		ck_assert_int_eq(r.error, 0);
		ck_assert_uint_eq(r.r0, ENOSPC); /* one failure of -ENOSPC */
	}
	/* no scope: runs as before, holds still released */
	bpfvm_set_run_scope(vm, NULL, NULL, NULL);
	l.n = 0;
	ck_assert_int_eq(run1(vm, 0, NULL, 0).error, 0);
	ck_assert_uint_eq(l.n, BPFVM_RUN_HOLDS);
	bpfvm_destroy(vm);
}
END_TEST

/* ---- map helpers: what stopped runs leave behind ----------------------- */

/* A program on the maps given (ld_imm64 of a map: its address). */
static struct bpfvm *with_maps(const struct bpfvm_insn *p, size_t n,
			       struct bpfvm_map **maps, size_t nmaps,
			       bool checked)
{
	struct bpfvm *vm = load(p, n);
	bpfvm_set_checked(vm, checked);
	ck_assert_int_eq(bpfvm_map_helpers_attach(vm, maps, nmaps), 0);
	return vm;
}

static void unload_maps(struct bpfvm *vm)
{
	bpfvm_map_helpers_detach(vm);
	bpfvm_destroy(vm);
}

struct locked_update {
	struct bpfvm_map *m;
	int err, done; /* done: atomic */
};

static void *update_locked(void *arg)
{
	struct locked_update *u = arg;
	uint32_t k = 0;
	uint64_t v[2] = { 0, 0x600d };
	u->err = bpfvm_map_update_elem(u->m, &k, v, BPF_F_LOCK);
	__atomic_store_n(&u->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A BPF_F_LOCK update of m's value 0 completes within 5 s (it waits for
 * ever on a lock left held). */
static void lock_is_free(struct bpfvm_map *m, int line)
{
	struct locked_update u = { m, -1, 0 };
	pthread_t t;
	pthread_create(&t, NULL, update_locked, &u);
	for (int i = 0; i < 500 && !__atomic_load_n(&u.done, __ATOMIC_ACQUIRE);
	     i++)
		usleep(10000);
	ck_assert_msg(__atomic_load_n(&u.done, __ATOMIC_ACQUIRE),
		      "line %d: BPF_F_LOCK update still waiting on the lock",
		      line);
	pthread_join(t, NULL);
	ck_assert_int_eq(u.err, 0);
}

static int take_u64(void *ctx, void *data, size_t size)
{
	ck_assert_uint_eq(size, 8);
	memcpy(ctx, data, 8);
	return 0;
}

/* lookup(m, key 0) into r0; to `miss` (an offset from the jump) if NULL */
#define LOOKUP0(m, miss)                                                     \
	ST(W, 10, -4, 0), LDDW(1, (uintptr_t)(m)), MOV64_X(2, 10),           \
	ALU64_K(ADD, 2, -4), CALL(1), JMP_K(JEQ, 0, 0, miss)

START_TEST(stopped_runs_release)
{
	/* value { struct bpf_spin_lock; u32 pad; u64 n } */
	struct bpfvm_map *am = tu_map(BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0);
	ck_assert_int_eq(bpfvm_map_set_spin_lock(am, 0), 0);
	struct bpfvm_map *rb = tu_map(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0);
	struct bpfvm_map *maps[] = { am, rb };
	uint32_t k0 = 0;
	const uint32_t *lockw = bpfvm_map_lookup_prog(am, &k0, 0);
	ck_assert_ptr_nonnull(lockw);

	/* the lock taken, then the run stops: a fault (checked), the budget
	 * (both modes), or exit with the lock held (checked: the verifier's
	 * "bpf_spin_unlock is missing") */
	const struct bpfvm_insn fault[] = {
		LOOKUP0(am, 3), MOV64_X(1, 0), CALL(93), LDX(DW, 0, 6, 0),
		EXIT,
	};
	const struct bpfvm_insn loop[] = {
		LOOKUP0(am, 3), MOV64_X(1, 0), CALL(93), JA_(-1), EXIT,
	};
	const struct bpfvm_insn held[] = {
		LOOKUP0(am, 3), MOV64_X(1, 0), CALL(93), MOV64_K(0, 1), EXIT,
	};
	struct {
		const struct bpfvm_insn *p;
		size_t n;
		bool checked;
		int err;
	} lock_cases[] = {
		{ fault, LEN(fault), true, -EFAULT },
		{ loop, LEN(loop), false, -ELOOP },
		{ loop, LEN(loop), true, -ELOOP },
		{ held, LEN(held), true, -EINVAL },
		{ held, LEN(held), false, 0 },
	};
	for (size_t i = 0; i < LEN(lock_cases); i++) {
		struct bpfvm *vm = with_maps(lock_cases[i].p, lock_cases[i].n,
					     maps, 2, lock_cases[i].checked);
		bpfvm_set_budget(vm, 10000);
		struct bpfvm_result r;
		ck_assert_int_eq(bpfvm_run(vm, NULL, 0, &r), lock_cases[i].err);
		if (lock_cases[i].err == -EINVAL)
			ck_assert_msg(strstr(r.msg, "insn 8: spin_lock: still "
					     "held"), "%s", r.msg);
		ck_assert_uint_eq(__atomic_load_n(lockw, __ATOMIC_ACQUIRE), 0);
		lock_is_free(am, (int)i);
		unload_maps(vm);
	}

	/* a sample reserved, then the run stops: discarded, so what comes
	 * after it reaches the consumer (the ring stays stuck otherwise) */
	const struct bpfvm_insn rfault[] = {
		LDDW(1, (uintptr_t)rb), MOV64_K(2, 8), MOV64_K(3, 0),
		CALL(131), JMP_K(JEQ, 0, 0, 1), LDX(DW, 0, 6, 0), EXIT,
	};
	const struct bpfvm_insn rloop[] = {
		LDDW(1, (uintptr_t)rb), MOV64_K(2, 8), MOV64_K(3, 0),
		CALL(131), JMP_K(JEQ, 0, 0, 1), JA_(-1), EXIT,
	};
	const struct bpfvm_insn rheld[] = {
		LDDW(1, (uintptr_t)rb), MOV64_K(2, 8), MOV64_K(3, 0),
		CALL(131), JMP_K(JEQ, 0, 0, 1), MOV64_K(0, 1), EXIT,
	};
	const struct bpfvm_insn output[] = {
		ST(DW, 10, -8, 0x5a5a), LDDW(1, (uintptr_t)rb),
		MOV64_X(2, 10), ALU64_K(ADD, 2, -8), MOV64_K(3, 8),
		MOV64_K(4, 0), CALL(130), EXIT,
	};
	struct {
		const struct bpfvm_insn *p;
		size_t n;
		bool checked;
		int err;
	} rb_cases[] = {
		{ rfault, LEN(rfault), true, -EFAULT },
		{ rloop, LEN(rloop), false, -ELOOP },
		{ rloop, LEN(rloop), true, -ELOOP },
		{ rheld, LEN(rheld), true, -EINVAL },
		{ rheld, LEN(rheld), false, 0 },
	};
	struct bpfvm *out = with_maps(output, LEN(output), maps, 2, true);
	for (size_t i = 0; i < LEN(rb_cases); i++) {
		struct bpfvm *vm = with_maps(rb_cases[i].p, rb_cases[i].n,
					     maps, 2, rb_cases[i].checked);
		bpfvm_set_budget(vm, 10000);
		struct bpfvm_result r;
		ck_assert_int_eq(bpfvm_run(vm, NULL, 0, &r), rb_cases[i].err);
		if (rb_cases[i].err == -EINVAL)
			ck_assert_msg(strstr(r.msg, "insn 4: ringbuf_reserve: "
					     "sample neither submitted"),
				      "%s", r.msg);
		ck_assert_int_eq(bpfvm_run(out, NULL, 0, &r), 0);
		ck_assert_uint_eq(r.r0, 0);
		uint64_t got = 0;
		ck_assert_int_eq(bpfvm_ringbuf_consume(rb, take_u64, &got), 1);
		ck_assert_uint_eq(got, 0x5a5a);
		unload_maps(vm);
	}
	unload_maps(out);

	/* checked: a sample or a lock this run does not hold cannot be
	 * given back (one of another run, say) */
	const struct bpfvm_insn keep[] = {
		LDDW(1, (uintptr_t)rb), MOV64_K(2, 8), MOV64_K(3, 0),
		CALL(131), EXIT,
	};
	struct bpfvm *k = with_maps(keep, LEN(keep), maps, 2, false);
	struct bpfvm_result r;
	ck_assert_int_eq(bpfvm_run(k, NULL, 0, &r), 0); /* discarded at exit */
	ck_assert_uint_ne(r.r0, 0);
	char text[16];
	snprintf(text, sizeof text, "%llx", (unsigned long long)r.r0);
	const struct bpfvm_insn submit[] = {
		LDDW(1, r.r0), MOV64_K(2, 0), CALL(132), EXIT,
	};
	struct bpfvm *sv = with_maps(submit, LEN(submit), maps, 2, true);
	ck_assert_int_eq(bpfvm_run(sv, NULL, 0, &r), -EINVAL);
	ck_assert_msg(strstr(r.msg, "is no sample reserved") &&
		      strstr(r.msg, text), "%s", r.msg);
	unload_maps(sv);
	unload_maps(k);
	const struct bpfvm_insn unlock[] = {
		LOOKUP0(am, 2), MOV64_X(1, 0), CALL(94), EXIT,
	};
	struct bpfvm *uv = with_maps(unlock, LEN(unlock), maps, 2, true);
	ck_assert_int_eq(bpfvm_run(uv, NULL, 0, &r), -EINVAL);
	ck_assert_msg(strstr(r.msg, "is no lock this run holds"), "%s", r.msg);
	unload_maps(uv);

	bpfvm_map_put(am);
	bpfvm_map_put(rb);
}
END_TEST

/* ---- checked mode after a tail call ------------------------------------- */

/* The running program's regions count: its static ones and its region
 * hook's, beside the first program's. */
START_TEST(tail_call_regions)
{
	uint8_t hooked[16] = { 40 };
	uint64_t ro[1] = { 2 }, mine[1] = { 100 };
	const struct bpfvm_insn target[] = {
		LDDW(1, (uintptr_t)hooked), LDX(B, 0, 1, 0),
		LDDW(2, (uintptr_t)ro), LDX(DW, 3, 2, 0), ALU64_X(ADD, 0, 3),
		LDDW(4, (uintptr_t)mine), LDX(DW, 3, 4, 0), ALU64_X(ADD, 0, 3),
		EXIT,
	};
	const struct bpfvm_insn writes[] = {
		LDDW(2, (uintptr_t)ro), ST(DW, 2, 0, 9), MOV64_K(0, 0), EXIT,
	};
	const struct bpfvm_insn first[] = {
		MOV64_K(2, 0), MOV64_K(3, 0), CALL(12), MOV64_K(0, 1), EXIT,
	};
	struct bpfvm *t = load(target, LEN(target));
	bpfvm_set_region_hook(t, hook_allows, hooked);
	bpfvm_add_region(t, ro, sizeof ro, false);
	struct bpfvm *w = load(writes, LEN(writes));
	bpfvm_add_region(w, ro, sizeof ro, false);
	struct bpfvm *vm = load(first, LEN(first));
	bpfvm_add_region(vm, mine, sizeof mine, false); /* still the run's */
	struct tail_ctx tc = { t, 0 };
	bpfvm_set_tail_call_hook(vm, tail_hook, &tc);
	for (size_t m = 0; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_msg(r.error == 0, "mode %zu: %s", m, r.msg);
		ck_assert_uint_eq(r.r0, 142);
	}
	/* read-only in the target's regions stays read-only */
	tc.slot0 = w;
	for (size_t m = 2; m < LEN(modes); m++) {
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_int_eq(r.error, -EFAULT);
		ck_assert_msg(strstr(r.msg, "insn 2: invalid write of 8 bytes") &&
			      strstr(r.msg, "(read-only region)"), "%s", r.msg);
	}
	/* and without the tail call the first program may not touch them */
	const struct bpfvm_insn direct[] = {
		LDDW(1, (uintptr_t)hooked), LDX(B, 0, 1, 0), EXIT,
	};
	ck_assert_int_eq(bpfvm_load(vm, direct, LEN(direct)), 0);
	for (size_t m = 2; m < LEN(modes); m++)
		ck_assert_int_eq(run1(vm, m, NULL, 0).error, -EFAULT);
	bpfvm_destroy(vm);
	bpfvm_destroy(w);
	bpfvm_destroy(t);
}
END_TEST

/* ---- bpf(2) ------------------------------------------------------------- */

static int sys_map(uint32_t type, uint32_t key, uint32_t value,
		   uint32_t entries, uint32_t flags)
{
	union bpf_attr a = tu_map_attr(type, key, value, entries, flags);
	int fd = bpfvm_bpf(BPF_MAP_CREATE, &a, sizeof a);
	ck_assert_msg(fd >= 0, "MAP_CREATE: %s", strerror(errno));
	return fd;
}

/* An array of one map shaped as tmpl, through bpf(2). */
static int sys_map_of_maps(int tmpl)
{
	union bpf_attr a = tu_map_attr(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, 0);
	a.inner_map_fd = (uint32_t)tmpl;
	int outer = bpfvm_bpf(BPF_MAP_CREATE, &a, sizeof a);
	ck_assert_msg(outer >= 0, "%s", strerror(errno));
	return outer;
}

static int sys_elem(int cmd, int fd, const void *key, const void *value,
		    uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.map_fd = (uint32_t)fd;
	a.key = (uintptr_t)key;
	a.value = (uintptr_t)value;
	a.flags = flags;
	return bpfvm_bpf(cmd, &a, sizeof a) ? -errno : 0;
}

static int sys_prog(const struct bpfvm_insn *p, size_t n)
{
	static char log[1 << 16];
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)p;
	a.insn_cnt = (uint32_t)n;
	a.license = (uintptr_t)"GPL";
	int fd = bpfvm_bpf(BPF_PROG_LOAD, &a, sizeof a);
	if (fd < 0) { /* again for the verifier's log */
		int e = errno;
		a.log_buf = (uintptr_t)log;
		a.log_size = sizeof log;
		a.log_level = 1;
		bpfvm_bpf(BPF_PROG_LOAD, &a, sizeof a);
		ck_abort_msg("PROG_LOAD: %s\n%.2000s", strerror(e), log);
	}
	return fd;
}

/* ld_imm64 of a map descriptor, and of the address of its value + off */
#define LD_MAP_FD(d, fd) INSN(0x18, d, 1, 0, fd), INSN(0, 0, 0, 0, 0)
#define LD_MAP_VALUE(d, fd, off) INSN(0x18, d, 2, 0, fd), INSN(0, 0, 0, 0, off)

/* A tail-called program's ld_imm64 map value and its own maps' values
 * through bpf(2) (verified, so unchecked; checked mode after a tail call
 * is tail_call_regions' above, and test_map_helpers'). */
START_TEST(tail_call_map_values)
{
	int arr = sys_map(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int hash = sys_map(BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_NO_PREALLOC);
	int pa = sys_map(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	uint32_t k0 = 0, k = 1;
	uint64_t v = 40;
	ck_assert_int_eq(sys_elem(BPF_MAP_UPDATE_ELEM, arr, &k0, &v, 0), 0);
	v = 2;
	ck_assert_int_eq(sys_elem(BPF_MAP_UPDATE_ELEM, hash, &k, &v, 0), 0);
	/* the array's value through ld_imm64 (read, then 41 written), hash
	 * value 1 through lookup; r0 = their sum */
	const struct bpfvm_insn target[] = {
		LD_MAP_VALUE(6, arr, 0), LDX(DW, 7, 6, 0), ST(DW, 6, 0, 41),
		ST(W, 10, -4, 1), LD_MAP_FD(1, hash), MOV64_X(2, 10),
		ALU64_K(ADD, 2, -4), CALL(1), JMP_K(JEQ, 0, 0, 3),
		LDX(DW, 0, 0, 0), ALU64_X(ADD, 0, 7), EXIT,
		MOV64_K(0, -1), EXIT,
	};
	const struct bpfvm_insn first[] = {
		LD_MAP_FD(2, pa), MOV64_K(3, 0), CALL(12), MOV64_K(0, 1), EXIT,
	};
	int tfd = sys_prog(target, LEN(target));
	int ffd = sys_prog(first, LEN(first));
	ck_assert_int_eq(sys_elem(BPF_MAP_UPDATE_ELEM, pa, &k0, &tfd, 0), 0);
	for (int i = 0; i < 2; i++) {
		struct bpfvm_result r;
		ck_assert_int_eq(bpfvm_bpf_prog_run(ffd, NULL, 0, &r), 0);
		ck_assert_msg(r.error == 0, "%s", r.msg);
		ck_assert_uint_eq(r.r0, 42 + (uint64_t)i);
	}
	ck_assert_int_eq(sys_elem(BPF_MAP_LOOKUP_ELEM, arr, &k0, &v, 0), 0);
	ck_assert_uint_eq(v, 41);
	bpfvm_close(ffd);
	bpfvm_close(tfd);
	bpfvm_close(pa);
	bpfvm_close(hash);
	bpfvm_close(arr);
}
END_TEST

/* The kernel's RCU promise through bpf(2): a NO_PREALLOC hash element a
 * run holds is not reused while the run goes on, however the run is
 * started (bpfvm_bpf_prog_run, PROG_TEST_RUN): the program keeps reading
 * the value's canary while another thread deletes and re-adds the keys
 * with new canaries.  Reused under it, the canary would change. */
#define CANARY_LOOPS 2000

struct churn {
	int prog, map;
	const struct bpfvm *vm; /* else prog */
	char msg[sizeof(((struct bpfvm_result *)0)->msg)];
	int stop;             /* atomic */
	uint64_t r0_count[3]; /* runs that returned 0 (kept), 1 (changed), 2 */
	uint64_t updates;
	bool test_run;
	int err;
};

static void *canary_reader(void *arg)
{
	struct churn *c = arg;
	uint8_t data[16] = { 0 };
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		uint64_t r0;
		int err;
		if (c->vm) {
			struct bpfvm_result r;
			err = bpfvm_run(c->vm, NULL, 0, &r);
			r0 = r.r0;
			if (err)
				memcpy(c->msg, r.msg, sizeof c->msg);
		} else if (c->test_run) {
			union bpf_attr a;
			memset(&a, 0, sizeof a);
			a.test.prog_fd = (uint32_t)c->prog;
			a.test.data_in = (uintptr_t)data;
			a.test.data_size_in = sizeof data;
			err = bpfvm_bpf(BPF_PROG_TEST_RUN, &a, sizeof a) ? -errno
									 : 0;
			r0 = a.test.retval;
		} else {
			struct bpfvm_result r;
			err = bpfvm_bpf_prog_run(c->prog, NULL, 0, &r);
			r0 = r.r0;
		}
		if (err || r0 > 2) {
			c->err = err ? err : -1;
			break;
		}
		c->r0_count[r0]++;
	}
	return NULL;
}

static void *canary_writer(void *arg)
{
	struct churn *c = arg;
	for (uint64_t i = 1; !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); i++) {
		uint32_t k = (uint32_t)(i & 7);
		uint64_t canary = i * 0x9e3779b97f4a7c15ull;
		sys_elem(BPF_MAP_DELETE_ELEM, c->map, &k, NULL, 0);
		if (sys_elem(BPF_MAP_UPDATE_ELEM, c->map, &k, &canary, 0))
			c->err = -2;
		/* and a replacement: the old element leaves too */
		canary = ~canary;
		if (sys_elem(BPF_MAP_UPDATE_ELEM, c->map, &k, &canary, 0))
			c->err = -3;
		c->updates++;
	}
	return NULL;
}

/* write against the two readers for 0.4 s: the writer did more than
 * min_updates, and no reader (names[i]) saw its canary change ("runs saw
 * what") but each saw it hold in more than 20 runs. */
static void run_churn(void *(*write)(void *), struct churn *writer,
		      uint64_t min_updates, struct churn readers[2],
		      const char *const names[2], const char *what)
{
	pthread_t th[3];
	pthread_create(&th[0], NULL, write, writer);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[1 + i], NULL, canary_reader, &readers[i]);
	usleep(400000);
	__atomic_store_n(&writer->stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		__atomic_store_n(&readers[i].stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(writer->err, 0);
	ck_assert_uint_gt(writer->updates, min_updates);
	for (int i = 0; i < 2; i++) {
		struct churn *c = &readers[i];
		ck_assert_msg(c->err == 0, "%d %s", c->err, c->msg);
		ck_assert_msg(c->r0_count[1] == 0, "%s: %llu of %llu runs saw %s",
			      names[i], (unsigned long long)c->r0_count[1],
			      (unsigned long long)(c->r0_count[0] +
						   c->r0_count[1]), what);
		ck_assert_uint_gt(c->r0_count[0], 20);
	}
}

START_TEST(epoch_no_prealloc_reuse)
{
	int map = sys_map(BPF_MAP_TYPE_HASH, 4, 8, 16, BPF_F_NO_PREALLOC);
	/* r0: 0 the canary held, 1 it changed, 2 no such key */
	const struct bpfvm_insn p[] = {
		CALL(7), ALU64_K(AND, 0, 7), STX(W, 10, 0, -4),
		LD_MAP_FD(1, map), MOV64_X(2, 10), ALU64_K(ADD, 2, -4),
		CALL(1), JMP_K(JEQ, 0, 0, 10),
		LDX(DW, 7, 0, 0), MOV64_K(8, CANARY_LOOPS),
		LDX(DW, 9, 0, 0), JMP_X(JNE, 9, 7, 4),
		ALU64_K(ADD, 8, -1), JMP_K(JNE, 8, 0, -4),
		MOV64_K(0, 0), EXIT,
		MOV64_K(0, 1), EXIT,
		MOV64_K(0, 2), EXIT,
	};
	int prog = sys_prog(p, LEN(p));
	struct churn readers[2] = {
		{ .prog = prog, .map = map, .test_run = false },
		{ .prog = prog, .map = map, .test_run = true },
	};
	struct churn writer = { .prog = prog, .map = map };
	static const char *const names[2] = { "bpfvm_bpf_prog_run",
					      "PROG_TEST_RUN" };
	run_churn(canary_writer, &writer, 100, readers, names,
		  "their element reused");
	bpfvm_close(prog);
	bpfvm_close(map);
}
END_TEST

/* The same for inner maps: the outer array's slot is replaced by a new
 * inner map (its descriptor closed at once, so the old one goes with its
 * slot) while runs read the old one's value; it is freed only after them
 * (ASan sees a use after free otherwise, a plain build a new canary).
 * The program is loaded by hand, checked and unchecked, on the bpf(2)
 * maps: PROG_LOAD's verifier does not take lookups in an inner map yet
 * (Linux 6.18 does). */
static int outer_fd_hook(void *cookie, unsigned src, int32_t imm,
			 int32_t imm2, uint64_t *value, char *msg, size_t len)
{
	(void)imm2, (void)msg, (void)len;
	struct bpfvm_map **m = cookie;
	int err;
	struct bpfvm_obj *o = bpfvm_fd_get(imm, BPFVM_OBJ_MAP, NULL, &err);
	if (!o || src != 1)
		return o ? -EINVAL : err;
	*m = o->ptr;
	bpfvm_obj_put(o); /* the descriptor stays open meanwhile */
	*value = (uintptr_t)*m;
	return 0;
}

static void *inner_writer(void *arg)
{
	struct churn *c = arg;
	for (uint64_t i = 1; !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); i++) {
		int inner = sys_map(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
		uint32_t k = 0;
		uint64_t canary = i * 0x9e3779b97f4a7c15ull;
		if (sys_elem(BPF_MAP_UPDATE_ELEM, inner, &k, &canary, 0) ||
		    sys_elem(BPF_MAP_UPDATE_ELEM, c->map, &k, &inner, 0))
			c->err = -2;
		bpfvm_close(inner);
		c->updates++;
	}
	return NULL;
}

START_TEST(epoch_inner_map_release)
{
	int tmpl = sys_map(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int outer = sys_map_of_maps(tmpl);
	bpfvm_close(tmpl);
	/* r0: 0 the canary held, 1 it changed, 2 no inner map yet */
	const struct bpfvm_insn p[] = {
		ST(W, 10, -4, 0), LD_MAP_FD(1, outer), MOV64_X(2, 10),
		ALU64_K(ADD, 2, -4), CALL(1), JMP_K(JEQ, 0, 0, 15),
		MOV64_X(1, 0), MOV64_X(2, 10), ALU64_K(ADD, 2, -4), CALL(1),
		JMP_K(JEQ, 0, 0, 10),
		LDX(DW, 7, 0, 0), MOV64_K(8, CANARY_LOOPS),
		LDX(DW, 9, 0, 0), JMP_X(JNE, 9, 7, 4),
		ALU64_K(ADD, 8, -1), JMP_K(JNE, 8, 0, -4),
		MOV64_K(0, 0), EXIT,
		MOV64_K(0, 1), EXIT,
		MOV64_K(0, 2), EXIT,
	};
	struct bpfvm *vms[2];
	struct bpfvm_map *om = NULL;
	struct churn readers[2], writer = { .map = outer };
	for (int i = 0; i < 2; i++) {
		vms[i] = bpfvm_create();
		bpfvm_set_checked(vms[i], i == 1);
		bpfvm_set_ldimm64_hook(vms[i], outer_fd_hook, &om);
		ck_assert_int_eq(bpfvm_load(vms[i], p, LEN(p)), 0);
		ck_assert_int_eq(bpfvm_map_helpers_attach(vms[i], &om, 1), 0);
		readers[i] = (struct churn){ .map = outer, .vm = vms[i] };
	}
	static const char *const names[2] = { "unchecked", "checked" };
	run_churn(inner_writer, &writer, 20, readers, names,
		  "their inner map freed");
	for (int i = 0; i < 2; i++)
		unload_maps(vms[i]);
	bpfvm_close(outer);
}
END_TEST

/* Deterministic: a helper replaces the outer slot between the program's
 * lookup of the inner map and its use of it.  The old inner map stays the
 * run's (checked mode knows it though the outer map no longer holds it;
 * the epoch keeps it alive), the next run sees the new one. */
struct swap {
	int outer, next_inner;
};

static uint64_t swap_inner(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			   uint64_t r5, struct bpfvm_call *call)
{
	(void)r1, (void)r2, (void)r3, (void)r4, (void)r5;
	struct swap *sw = bpfvm_call_cookie(call);
	uint32_t k = 0;
	int err = sys_elem(BPF_MAP_UPDATE_ELEM, sw->outer, &k, &sw->next_inner,
			   0);
	bpfvm_close(sw->next_inner); /* the old one's last reference went */
	return (uint64_t)(int64_t)err;
}

START_TEST(inner_map_replaced_mid_run)
{
	int tmpl = sys_map(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int outer = sys_map_of_maps(tmpl);
	uint32_t k = 0;
	uint64_t v = 11;
	ck_assert_int_eq(sys_elem(BPF_MAP_UPDATE_ELEM, tmpl, &k, &v, 0), 0);
	ck_assert_int_eq(sys_elem(BPF_MAP_UPDATE_ELEM, outer, &k, &tmpl, 0), 0);
	bpfvm_close(tmpl);
	/* r6 = lookup(outer, 0); swap; r0 = *lookup(r6, 0) + swap's r0 */
	const struct bpfvm_insn p[] = {
		ST(W, 10, -4, 0), LD_MAP_FD(1, outer), MOV64_X(2, 10),
		ALU64_K(ADD, 2, -4), CALL(1), JMP_K(JEQ, 0, 0, 11),
		MOV64_X(6, 0), CALL(300), MOV64_X(7, 0), MOV64_X(1, 6),
		MOV64_X(2, 10), ALU64_K(ADD, 2, -4), CALL(1),
		JMP_K(JEQ, 0, 0, 3), LDX(DW, 0, 0, 0), ALU64_X(ADD, 0, 7),
		EXIT, MOV64_K(0, -1), EXIT,
	};
	struct bpfvm_map *om = NULL;
	struct swap sw = { outer, -1 };
	struct bpfvm *vm = bpfvm_create();
	bpfvm_set_ldimm64_hook(vm, outer_fd_hook, &om);
	ck_assert_int_eq(bpfvm_load(vm, p, LEN(p)), 0);
	ck_assert_int_eq(bpfvm_map_helpers_attach(vm, &om, 1), 0);
	bpfvm_register_helper(vm, 300, swap_inner, &sw);
	for (size_t m = 0; m < LEN(modes); m++) {
		sw.next_inner = sys_map(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
		uint64_t next = 20 + m;
		ck_assert_int_eq(sys_elem(BPF_MAP_UPDATE_ELEM, sw.next_inner,
					  &k, &next, 0), 0);
		struct bpfvm_result r = run1(vm, m, NULL, 0);
		ck_assert_msg(r.error == 0, "mode %zu: %s", m, r.msg);
		ck_assert_uint_eq(r.r0, m ? 20 + m - 1 : 11);
	}
	unload_maps(vm);
	bpfvm_close(outer);
}
END_TEST

/* ---- the kernel as the oracle -------------------------------------------- */

/* The parts of union bpf_attr used here (uapi layout; the rest zero), so
 * <linux/bpf.h>, whose BPF_* macros meet vm/insn.h's, stays out. */
union kattr {
	struct {
		uint32_t prog_type, insn_cnt;
		uint64_t insns, license;
		uint32_t log_level, log_size;
		uint64_t log_buf;
	} load;
	struct {
		uint32_t prog_fd, retval, data_size_in, data_size_out;
		uint64_t data_in, data_out;
		uint32_t repeat, duration;
	} test;
	uint8_t raw[128];
};

/* r0 of p as a socket filter run by Linux (32 bits), or -errno */
static int64_t kernel_r0(const struct bpfvm_insn *p, size_t n)
{
	union kattr a;
	memset(&a, 0, sizeof a);
	a.load.prog_type = 1; /* BPF_PROG_TYPE_SOCKET_FILTER */
	a.load.insn_cnt = (uint32_t)n;
	a.load.insns = (uintptr_t)p;
	a.load.license = (uintptr_t)"GPL";
	int fd = (int)syscall(__NR_bpf, 5 /* BPF_PROG_LOAD */, &a, sizeof a);
	if (fd < 0)
		return -errno;
	uint8_t data[64] = { 0 };
	memset(&a, 0, sizeof a);
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)data;
	a.test.data_size_in = sizeof data;
	a.test.repeat = 1;
	long rc = syscall(__NR_bpf, 10 /* BPF_PROG_TEST_RUN */, &a, sizeof a);
	int err = errno;
	close(fd);
	return rc ? -err : (int64_t)a.test.retval;
}

/* Random straight-line programs (ALU 32/64 with every op and edge-case
 * immediates, byte swaps, forward JMP/JMP32, stack loads, stores and
 * atomics) that fold all registers into the 32-bit r0: Linux and every
 * bpfvm build must agree.  Skipped without bpf(2) rights. */
START_TEST(kernel_differential)
{
	const struct bpfvm_insn probe[] = { MOV64_K(0, 0), EXIT };
	int64_t rc = kernel_r0(probe, LEN(probe));
	if (rc < 0) {
		fprintf(stderr, "kernel_differential skipped: bpf(2): %s\n",
			strerror((int)-rc));
		return;
	}
	static const int32_t imms[] = { 0, 1, -1, 2, 3, 7, 8, 16, 31, 32, 63,
					64, INT32_MIN, INT32_MAX, -2, 0x7f,
					0x80, 0xff, 0x8000, 0xffff };
	static const uint8_t alu[] = { ADD, SUB, MUL, DIV, OR, AND, LSH, RSH,
				       NEG, MOD, XOR, MOV, ARSH };
	static const uint8_t jmp[] = { JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE,
				       JLT, JLE, JSLT, JSLE };
	static const uint8_t sizes[] = { W, H, B, DW }, bytes[] = { 4, 2, 1, 8 };
	static const int32_t aops[] = { ADD, OR, AND, XOR, ADD | A_FETCH,
					OR | A_FETCH, AND | A_FETCH,
					XOR | A_FETCH, A_XCHG, A_CMPXCHG };
	uint64_t seed = 88172645463325252ull;
	int rejected = 0, compared = 0;
	for (int it = 0; it < 400; it++) {
		struct bpfvm_insn p[200];
		size_t n = 0;
		for (int r = 0; r <= 9; r++) {
			uint64_t v = rnd(&seed);
			if (v & 1)
				v = (uint64_t)(int64_t)imms[(v >> 8) % LEN(imms)];
			p[n++] = INSN(0x18, r, 0, 0, (int32_t)v);
			p[n++] = INSN(0, 0, 0, 0, (int32_t)(v >> 32));
		}
		for (int o = 8; o <= 64; o += 8)
			p[n++] = STX(DW, 10, o / 8 % 10, -o);
		int body = 20 + (int)(rnd(&seed) % 40);
		for (int k = 0; k < body; k++) {
			uint64_t x = rnd(&seed);
			uint8_t d = x % 10, s = (x >> 4) % 10;
			int32_t imm = (x >> 8) & 1 ? imms[(x >> 9) % LEN(imms)]
						   : (int32_t)(x >> 32);
			unsigned cls = (x >> 14) % 10;
			bool is64 = (x >> 22) & 1, isx = (x >> 23) & 1;
			if (cls < 6) {
				uint8_t op = alu[(x >> 18) % LEN(alu)];
				struct bpfvm_insn in = INSN(
					(is64 ? 0x07 : 0x04) | op | (isx ? 8 : 0),
					d, isx ? s : 0, 0, isx ? 0 : imm);
				if (op == NEG)
					in = INSN(is64 ? 0x87 : 0x84, d, 0, 0, 0);
				/* the verifier rejects these K forms */
				if (!isx && (op == LSH || op == RSH || op == ARSH))
					in.imm = imm & (is64 ? 63 : 31);
				if (!isx && (op == DIV || op == MOD) && !in.imm)
					in.imm = 3;
				if ((op == DIV || op == MOD) && ((x >> 24) & 1))
					in.off = 1; /* sdiv, smod */
				if (op == MOV && isx && ((x >> 25) & 1))
					in.off = (int16_t)(8 << ((x >> 26) %
								 (is64 ? 3 : 2)));
				p[n++] = in;
			} else if (cls < 8 && (x >> 60) & 1) {
				unsigned si = (x >> 18) % 4;
				int16_t off = (int16_t)(-8 * (int)(1 + (x >> 24) % 8) +
					(int)((x >> 28) % (8 / bytes[si])) * bytes[si]);
				switch ((x >> 32) % 5) {
				case 0: p[n++] = LDX(sizes[si], d, 10, off); break;
				case 1:
					if (si != 3)
						p[n++] = LDXS(sizes[si], d, 10, off);
					break;
				case 2: p[n++] = STX(sizes[si], 10, s, off); break;
				case 3: p[n++] = ST(sizes[si], 10, off, imm); break;
				default: {
					bool w64 = (x >> 36) & 1;
					int16_t ao = (int16_t)(-8 * (int)(1 + (x >> 24) % 8) +
						(w64 ? 0 : (int)((x >> 40) & 1) * 4));
					p[n++] = ATOMIC(w64 ? DW : W, 10, s, ao,
							aops[(x >> 44) % LEN(aops)]);
				}
				}
			} else if (cls < 7) {
				static const uint8_t c[] = { 0xd4, 0xdc, 0xd7 };
				p[n++] = INSN(c[(x >> 18) % 3], d, 0, 0,
					      16 << ((x >> 20) % 3));
			} else {
				int off = 1 + (int)((x >> 40) % 4);
				if (k + off >= body)
					off = body - k - 1;
				p[n++] = INSN((is64 ? 0x05 : 0x06) |
						      jmp[(x >> 18) % LEN(jmp)] |
						      (isx ? 8 : 0),
					      d, isx ? s : 0, (int16_t)off,
					      isx ? 0 : imm);
			}
		}
		/* r0 = fold of r0-r9, 64 bits to 32 */
		for (int r = 1; r <= 9; r++) {
			p[n++] = ALU64_K(MUL, 0, 31);
			p[n++] = ALU64_X(XOR, 0, r);
		}
		p[n++] = MOV64_X(1, 0);
		p[n++] = ALU64_K(RSH, 1, 32);
		p[n++] = ALU64_X(XOR, 0, 1);
		p[n++] = ALU32_X(MOV, 0, 0);
		p[n++] = EXIT;
		int64_t want = kernel_r0(p, n);
		if (want < 0) {
			rejected++;
			continue;
		}
		compared++;
		expect_mem(p, n, NULL, 0, (uint64_t)want, it);
	}
	ck_assert_msg(compared > 300, "only %d programs compared (%d rejected)",
		      compared, rejected);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("interp");
	TCase *tc = tcase_create("isa");
	tcase_add_test(tc, alu64_basics);
	tcase_add_test(tc, alu32_zero_extends);
	tcase_add_test(tc, division_edge_cases);
	tcase_add_test(tc, shifts_are_masked);
	tcase_add_test(tc, byte_order);
	tcase_add_test(tc, jumps);
	tcase_add_test(tc, loads_and_stores);
	tcase_add_test(tc, atomics);
	tcase_add_test(tc, lddw_and_packet_loads);
	tcase_add_test(tc, superinstructions);
	suite_add_tcase(s, tc);

	tc = tcase_create("calls");
	tcase_add_test(tc, bpf_to_bpf_calls);
	tcase_add_test(tc, call_depth_limit);
	tcase_add_test(tc, tail_calls);
	tcase_add_test(tc, helpers_and_callx);
	tcase_add_test(tc, pseudo_func_callbacks);
	suite_add_tcase(s, tc);

	tc = tcase_create("vm");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, load_errors);
	tcase_add_test(tc, checked_memory);
	tcase_add_test(tc, checked_regions);
	tcase_add_test(tc, budget);
	tcase_add_test(tc, fuzz_checked);
	tcase_add_test(tc, threads);
	tcase_add_test(tc, trace);
	tcase_add_test(tc, trace_printk);
	tcase_add_test(tc, trace_printk_string);
	tcase_add_test(tc, current_task_helpers);
	tcase_add_test(tc, run_hook_packet);
	tcase_add_test(tc, run_scope_and_holds);
	tcase_add_test(tc, stopped_runs_release);
	tcase_add_test(tc, tail_call_regions);
	tcase_add_test(tc, tail_call_map_values);
	tcase_add_test(tc, epoch_no_prealloc_reuse);
	tcase_add_test(tc, epoch_inner_map_release);
	tcase_add_test(tc, inner_map_replaced_mid_run);
	tcase_add_test(tc, kernel_differential);
	suite_add_tcase(s, tc);

	return tu_run_suite(s);
}
