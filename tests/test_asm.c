/* The assembler (vm/asm.c) and program files (vm/progfile.c).
 *
 * Expected encodings are built from the field values of RFC 9669 (spelled
 * out below), not from vm/opcodes.def, so a wrong table row shows up here.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_asm.h"
#include "insn.h"
#include "testutil.h"

/* RFC 9669 section 3: class, source, operation, size and mode values. */
enum { C_LD = 0x00, C_LDX = 0x01, C_ST = 0x02, C_STX = 0x03, C_ALU = 0x04,
       C_JMP = 0x05, C_JMP32 = 0x06, C_ALU64 = 0x07 };
enum { S_K = 0x00, S_X = 0x08, S_TO_LE = 0x00, S_TO_BE = 0x08 };
enum { A_ADD = 0x00, A_SUB = 0x10, A_MUL = 0x20, A_DIV = 0x30, A_OR = 0x40,
       A_AND = 0x50, A_LSH = 0x60, A_RSH = 0x70, A_NEG = 0x80, A_MOD = 0x90,
       A_XOR = 0xa0, A_MOV = 0xb0, A_ARSH = 0xc0, A_END = 0xd0 };
enum { J_JA = 0x00, J_JEQ = 0x10, J_JGT = 0x20, J_JGE = 0x30, J_JSET = 0x40,
       J_JNE = 0x50, J_JSGT = 0x60, J_JSGE = 0x70, J_CALL = 0x80,
       J_EXIT = 0x90, J_JLT = 0xa0, J_JLE = 0xb0, J_JSLT = 0xc0,
       J_JSLE = 0xd0 };
enum { Z_W = 0x00, Z_H = 0x08, Z_B = 0x10, Z_DW = 0x18 };
enum { M_IMM = 0x00, M_ABS = 0x20, M_IND = 0x40, M_MEM = 0x60,
       M_MEMSX = 0x80, M_ATOMIC = 0xc0 };
enum { AT_FETCH = 0x01, AT_XCHG = 0xe0 | AT_FETCH, AT_CMPXCHG = 0xf0 | AT_FETCH };

#define I(c, d, s, o, i) { .code = (c), .dst_reg = (d), .src_reg = (s), \
			   .off = (o), .imm = (i) }

struct enc {
	const char *text;
	int n; /* instructions */
	struct bpfvm_insn want[2];
};

static void check_encodings(const struct enc *t, size_t count)
{
	for (size_t k = 0; k < count; k++) {
		struct bpfvm_insn *got = NULL;
		size_t n = 0;
		char err[256] = "";
		int rc = bpfvm_asm(t[k].text, &got, &n, err, sizeof(err));
		ck_assert_msg(rc == 0, "'%s': %s", t[k].text, err);
		ck_assert_msg(n == (size_t)t[k].n, "'%s': %zu insns",
			      t[k].text, n);
		for (int i = 0; i < t[k].n; i++) {
			const struct bpfvm_insn *a = &got[i], *b = &t[k].want[i];
			ck_assert_msg(a->code == b->code &&
					      a->dst_reg == b->dst_reg &&
					      a->src_reg == b->src_reg &&
					      a->off == b->off &&
					      a->imm == b->imm,
				      "'%s' [%d]: got %02x %d %d %d %d, want "
				      "%02x %d %d %d %d",
				      t[k].text, i, a->code, a->dst_reg,
				      a->src_reg, a->off, a->imm, b->code,
				      b->dst_reg, b->src_reg, b->off, b->imm);
		}
		free(got);
	}
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct bpfvm_insn *asm_ok(const char *text, size_t *n)
{
	struct bpfvm_insn *p = NULL;
	char err[256] = "";
	int rc = bpfvm_asm(text, &p, n, err, sizeof(err));
	ck_assert_msg(rc == 0, "'%.60s': %s", text, err);
	return p;
}

static const struct enc conformance_forms[] = {
	{ "mov32 %r0, 1", 1, { I(C_ALU | S_K | A_MOV, 0, 0, 0, 1) } },
	{ "mov %r0, 0xffffffff", 1, { I(C_ALU64 | S_K | A_MOV, 0, 0, 0, -1) } },
	{ "add %r0, -3", 1, { I(C_ALU64 | S_K | A_ADD, 0, 0, 0, -3) } },
	{ "add32 %r9, %r10", 1, { I(C_ALU | S_X | A_ADD, 9, 10, 0, 0) } },
	{ "sub %r1, 0X1F", 1, { I(C_ALU64 | S_K | A_SUB, 1, 0, 0, 31) } },
	{ "sdiv %r1, %r2", 1, { I(C_ALU64 | S_X | A_DIV, 1, 2, 1, 0) } },
	{ "smod32 %r1, 3", 1, { I(C_ALU | S_K | A_MOD, 1, 0, 1, 3) } },
	{ "div %r1, 3", 1, { I(C_ALU64 | S_K | A_DIV, 1, 0, 0, 3) } },
	{ "arsh32 %r4, %r5", 1, { I(C_ALU | S_X | A_ARSH, 4, 5, 0, 0) } },
	{ "neg %r0", 1, { I(C_ALU64 | A_NEG, 0, 0, 0, 0) } },
	{ "neg32 %r3", 1, { I(C_ALU | A_NEG, 3, 0, 0, 0) } },
	{ "be16 %r0", 1, { I(C_ALU | S_TO_BE | A_END, 0, 0, 0, 16) } },
	{ "le32 %r2", 1, { I(C_ALU | S_TO_LE | A_END, 2, 0, 0, 32) } },
	{ "bswap64 %r1", 1, { I(C_ALU64 | A_END, 1, 0, 0, 64) } },
	{ "swap16 %r1", 1, { I(C_ALU64 | A_END, 1, 0, 0, 16) } },
	{ "movsx864 %r0, %r1", 1, { I(C_ALU64 | S_X | A_MOV, 0, 1, 8, 0) } },
	{ "movsx3264 %r0, %r1", 1, { I(C_ALU64 | S_X | A_MOV, 0, 1, 32, 0) } },
	{ "movsx1632 %r0, %r1", 1, { I(C_ALU | S_X | A_MOV, 0, 1, 16, 0) } },
	{ "ldxw %r1, [%r1+16]", 1, { I(C_LDX | M_MEM | Z_W, 1, 1, 16, 0) } },
	{ "ldxdw %r0, [%r10-8]", 1, { I(C_LDX | M_MEM | Z_DW, 0, 10, -8, 0) } },
	{ "ldxb %r0, [%r1]", 1, { I(C_LDX | M_MEM | Z_B, 0, 1, 0, 0) } },
	{ "ldxh %r0, [%r1+0x2]", 1, { I(C_LDX | M_MEM | Z_H, 0, 1, 2, 0) } },
	{ "ldxsb %r0, [%r1+1]", 1, { I(C_LDX | M_MEMSX | Z_B, 0, 1, 1, 0) } },
	{ "ldxsw %r0, [%r1-32768]", 1,
	  { I(C_LDX | M_MEMSX | Z_W, 0, 1, -32768, 0) } },
	{ "stw [%r1+4], 5", 1, { I(C_ST | M_MEM | Z_W, 1, 0, 4, 5) } },
	{ "sth [%r1], 0x1234", 1, { I(C_ST | M_MEM | Z_H, 1, 0, 0, 0x1234) } },
	{ "stdw [%r10-8], -1", 1, { I(C_ST | M_MEM | Z_DW, 10, 0, -8, -1) } },
	{ "stxdw [%r10-8], %r1", 1, { I(C_STX | M_MEM | Z_DW, 10, 1, -8, 0) } },
	{ "stxb [%r1+32767], %r2", 1,
	  { I(C_STX | M_MEM | Z_B, 1, 2, 32767, 0) } },
	{ "lddw %r0, 0x1122334455667788", 2,
	  { I(C_LD | M_IMM | Z_DW, 0, 0, 0, 0x55667788),
	    I(0, 0, 0, 0, 0x11223344) } },
	{ "lddw %r1, 18446744073709551615", 2,
	  { I(C_LD | M_IMM | Z_DW, 1, 0, 0, -1), I(0, 0, 0, 0, -1) } },
	{ "lddw %r1, -2", 2,
	  { I(C_LD | M_IMM | Z_DW, 1, 0, 0, -2), I(0, 0, 0, 0, -1) } },
	/* RFC 9669 5.4: src 1 map by fd, src 2 map value by fd */
	{ "lddw map_fd %r1, 5", 2,
	  { I(C_LD | M_IMM | Z_DW, 1, 1, 0, 5), I(0, 0, 0, 0, 0) } },
	{ "lddw map_value %r1, 0x800000005", 2,
	  { I(C_LD | M_IMM | Z_DW, 1, 2, 0, 5), I(0, 0, 0, 0, 8) } },
	{ "jne %r0, 15, +2", 1, { I(C_JMP | S_K | J_JNE, 0, 0, 2, 15) } },
	{ "jeq %r1, %r2, -3", 1, { I(C_JMP | S_X | J_JEQ, 1, 2, -3, 0) } },
	{ "jsle32 %r1, -1, +0", 1, { I(C_JMP32 | S_K | J_JSLE, 1, 0, 0, -1) } },
	{ "jset32 %r1, %r2, +1", 1, { I(C_JMP32 | S_X | J_JSET, 1, 2, 1, 0) } },
	{ "ja +5", 1, { I(C_JMP | J_JA, 0, 0, 5, 0) } },
	{ "ja32 -7", 1, { I(C_JMP32 | J_JA, 0, 0, 0, -7) } },
	{ "exit", 1, { I(C_JMP | J_EXIT, 0, 0, 0, 0) } },
	{ "call 5", 1, { I(C_JMP | J_CALL, 0, 0, 0, 5) } },
	{ "call %r2", 1, { I(C_JMP | S_X | J_CALL, 2, 0, 0, 0) } },
	{ "call local +3", 1, { I(C_JMP | J_CALL, 0, 1, 0, 3) } },
	{ "lock add [%r10-8], %r1", 1,
	  { I(C_STX | M_ATOMIC | Z_DW, 10, 1, -8, A_ADD) } },
	{ "lock add32 [%r10-4], %r1", 1,
	  { I(C_STX | M_ATOMIC | Z_W, 10, 1, -4, A_ADD) } },
	{ "lock fetch add [%r10-8], %r1", 1,
	  { I(C_STX | M_ATOMIC | Z_DW, 10, 1, -8, A_ADD | AT_FETCH) } },
	{ "lock fetch xor32 [%r10-8], %r3", 1,
	  { I(C_STX | M_ATOMIC | Z_W, 10, 3, -8, A_XOR | AT_FETCH) } },
	{ "lock or [%r1], %r2", 1,
	  { I(C_STX | M_ATOMIC | Z_DW, 1, 2, 0, A_OR) } },
	{ "lock xchg [%r10-8], %r1", 1,
	  { I(C_STX | M_ATOMIC | Z_DW, 10, 1, -8, AT_XCHG) } },
	{ "lock cmpxchg32 [%r10-8], %r1", 1,
	  { I(C_STX | M_ATOMIC | Z_W, 10, 1, -8, AT_CMPXCHG) } },
	{ "ldabsw 12", 1, { I(C_LD | M_ABS | Z_W, 0, 0, 0, 12) } },
	{ "ldabsb 0x10", 1, { I(C_LD | M_ABS | Z_B, 0, 0, 0, 16) } },
	{ "ldindh %r1, 4", 1, { I(C_LD | M_IND | Z_H, 0, 1, 0, 4) } },
	{ "ldxw %r1 , [ %r2 + 4 ]", 1, { I(C_LDX | M_MEM | Z_W, 1, 2, 4, 0) } },
	{ "  mov %r0,1   # trailing comment", 1,
	  { I(C_ALU64 | S_K | A_MOV, 0, 0, 0, 1) } },
};

START_TEST(conformance_dialect_encodings)
{
	check_encodings(conformance_forms, N(conformance_forms));
}
END_TEST

static const struct enc kernel_forms[] = {
	{ "r0 = 1", 1, { I(C_ALU64 | S_K | A_MOV, 0, 0, 0, 1) } },
	{ "r0 = -1", 1, { I(C_ALU64 | S_K | A_MOV, 0, 0, 0, -1) } },
	{ "r0 = 0x1", 1, { I(C_ALU64 | S_K | A_MOV, 0, 0, 0, 1) } },
	{ "w0 = 1", 1, { I(C_ALU | S_K | A_MOV, 0, 0, 0, 1) } },
	{ "w0 = 0xffffffff", 1, { I(C_ALU | S_K | A_MOV, 0, 0, 0, -1) } },
	{ "r3 = r4", 1, { I(C_ALU64 | S_X | A_MOV, 3, 4, 0, 0) } },
	{ "r0 += r1", 1, { I(C_ALU64 | S_X | A_ADD, 0, 1, 0, 0) } },
	{ "r0 -= 7", 1, { I(C_ALU64 | S_K | A_SUB, 0, 0, 0, 7) } },
	{ "w2 *= w3", 1, { I(C_ALU | S_X | A_MUL, 2, 3, 0, 0) } },
	{ "w0 s/= w1", 1, { I(C_ALU | S_X | A_DIV, 0, 1, 1, 0) } },
	{ "r0 /= 3", 1, { I(C_ALU64 | S_K | A_DIV, 0, 0, 0, 3) } },
	{ "r0 s%= r1", 1, { I(C_ALU64 | S_X | A_MOD, 0, 1, 1, 0) } },
	{ "w0 %= 10", 1, { I(C_ALU | S_K | A_MOD, 0, 0, 0, 10) } },
	{ "r1 |= 2", 1, { I(C_ALU64 | S_K | A_OR, 1, 0, 0, 2) } },
	{ "r1 &= r2", 1, { I(C_ALU64 | S_X | A_AND, 1, 2, 0, 0) } },
	{ "r1 <<= 3", 1, { I(C_ALU64 | S_K | A_LSH, 1, 0, 0, 3) } },
	{ "w1 >>= w3", 1, { I(C_ALU | S_X | A_RSH, 1, 3, 0, 0) } },
	{ "r1 s>>= 63", 1, { I(C_ALU64 | S_K | A_ARSH, 1, 0, 0, 63) } },
	{ "r1 ^= -1", 1, { I(C_ALU64 | S_K | A_XOR, 1, 0, 0, -1) } },
	{ "r0 = -r0", 1, { I(C_ALU64 | A_NEG, 0, 0, 0, 0) } },
	{ "w5 = -w5", 1, { I(C_ALU | A_NEG, 5, 0, 0, 0) } },
	{ "r0 = (s8)r1", 1, { I(C_ALU64 | S_X | A_MOV, 0, 1, 8, 0) } },
	{ "r0 = (s32)r1", 1, { I(C_ALU64 | S_X | A_MOV, 0, 1, 32, 0) } },
	{ "w0 = (s16)w1", 1, { I(C_ALU | S_X | A_MOV, 0, 1, 16, 0) } },
	{ "r0 = be16 r0", 1, { I(C_ALU | S_TO_BE | A_END, 0, 0, 0, 16) } },
	{ "r0 = le64 r0", 1, { I(C_ALU | S_TO_LE | A_END, 0, 0, 0, 64) } },
	{ "r0 = bswap32 r0", 1, { I(C_ALU64 | A_END, 0, 0, 0, 32) } },
	{ "if r1 > 0x5 goto pc+3", 1, { I(C_JMP | S_K | J_JGT, 1, 0, 3, 5) } },
	{ "if r1 == 0xffffffff goto pc+0", 1,
	  { I(C_JMP | S_K | J_JEQ, 1, 0, 0, -1) } },
	{ "if w1 s< w2 goto pc-2", 1,
	  { I(C_JMP32 | S_X | J_JSLT, 1, 2, -2, 0) } },
	{ "if r1 & 0x1 goto +1", 1, { I(C_JMP | S_K | J_JSET, 1, 0, 1, 1) } },
	{ "if r1 s>= -5 goto -1", 1, { I(C_JMP | S_K | J_JSGE, 1, 0, -1, -5) } },
	{ "if w9 != w8 goto pc+4", 1, { I(C_JMP32 | S_X | J_JNE, 9, 8, 4, 0) } },
	{ "if r1 <= r2 goto +1", 1, { I(C_JMP | S_X | J_JLE, 1, 2, 1, 0) } },
	{ "goto pc+3", 1, { I(C_JMP | J_JA, 0, 0, 3, 0) } },
	{ "goto -1", 1, { I(C_JMP | J_JA, 0, 0, -1, 0) } },
	{ "gotol pc+3", 1, { I(C_JMP32 | J_JA, 0, 0, 0, 3) } },
	{ "r0 = *(u32 *)(r1 +16)", 1, { I(C_LDX | M_MEM | Z_W, 0, 1, 16, 0) } },
	{ "r0 = *(u32 *)(r1 + 16)", 1, { I(C_LDX | M_MEM | Z_W, 0, 1, 16, 0) } },
	{ "r0 = *(s8 *)(r1 -2)", 1, { I(C_LDX | M_MEMSX | Z_B, 0, 1, -2, 0) } },
	{ "w0 = *(u8 *)(r1 + 0)", 1, { I(C_LDX | M_MEM | Z_B, 0, 1, 0, 0) } },
	{ "*(u32 *)(r10 -4) = r1", 1, { I(C_STX | M_MEM | Z_W, 10, 1, -4, 0) } },
	{ "*(u64 *)(r10 - 8) = r1", 1,
	  { I(C_STX | M_MEM | Z_DW, 10, 1, -8, 0) } },
	{ "*(u64 *)(r10 -8) = 5", 1, { I(C_ST | M_MEM | Z_DW, 10, 0, -8, 5) } },
	{ "*(u16 *)(r1 +2) = -2", 1, { I(C_ST | M_MEM | Z_H, 1, 0, 2, -2) } },
	{ "lock *(u32 *)(r10 -8) += r1", 1,
	  { I(C_STX | M_ATOMIC | Z_W, 10, 1, -8, A_ADD) } },
	{ "lock *(u64 *)(r10 -8) |= r1", 1,
	  { I(C_STX | M_ATOMIC | Z_DW, 10, 1, -8, A_OR) } },
	{ "lock *(u64 *)(r1 +0) &= r2", 1,
	  { I(C_STX | M_ATOMIC | Z_DW, 1, 2, 0, A_AND) } },
	{ "lock *(u32 *)(r1 +0) ^= w2", 1,
	  { I(C_STX | M_ATOMIC | Z_W, 1, 2, 0, A_XOR) } },
	{ "r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)", 1,
	  { I(C_STX | M_ATOMIC | Z_DW, 10, 1, -8, A_ADD | AT_FETCH) } },
	{ "w1 = atomic_fetch_and((u32 *)(r10 -8), w1)", 1,
	  { I(C_STX | M_ATOMIC | Z_W, 10, 1, -8, A_AND | AT_FETCH) } },
	{ "r2 = atomic_fetch_or((u32 *)(r10 -8), r2)", 1,
	  { I(C_STX | M_ATOMIC | Z_W, 10, 2, -8, A_OR | AT_FETCH) } },
	{ "r1 = atomic64_xchg((u64 *)(r10 -8), r1)", 1,
	  { I(C_STX | M_ATOMIC | Z_DW, 10, 1, -8, AT_XCHG) } },
	{ "r1 = atomic_xchg((u32 *)(r10 -8), r1)", 1,
	  { I(C_STX | M_ATOMIC | Z_W, 10, 1, -8, AT_XCHG) } },
	{ "r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)", 1,
	  { I(C_STX | M_ATOMIC | Z_DW, 10, 1, -8, AT_CMPXCHG) } },
	{ "r0 = atomic_cmpxchg((u32 *)(r10 -8), r0, r1)", 1,
	  { I(C_STX | M_ATOMIC | Z_W, 10, 1, -8, AT_CMPXCHG) } },
	{ "call bpf_map_lookup_elem#1", 1, { I(C_JMP | J_CALL, 0, 0, 0, 1) } },
	{ "call map_lookup_elem", 1, { I(C_JMP | J_CALL, 0, 0, 0, 1) } },
	{ "call bpf_ktime_get_ns", 1, { I(C_JMP | J_CALL, 0, 0, 0, 5) } },
	{ "call 1", 1, { I(C_JMP | J_CALL, 0, 0, 0, 1) } },
	{ "call unknown#100000", 1, { I(C_JMP | J_CALL, 0, 0, 0, 100000) } },
	{ "call pc+2", 1, { I(C_JMP | J_CALL, 0, 1, 0, 2) } },
	{ "call pc-1", 1, { I(C_JMP | J_CALL, 0, 1, 0, -1) } },
	{ "call kernel-function#7", 1, { I(C_JMP | J_CALL, 0, 2, 0, 7) } },
	{ "callx r2", 1, { I(C_JMP | S_X | J_CALL, 2, 0, 0, 0) } },
	{ "exit", 1, { I(C_JMP | J_EXIT, 0, 0, 0, 0) } },
	{ "r1 = 0x1122334455667788", 2,
	  { I(C_LD | M_IMM | Z_DW, 1, 0, 0, 0x55667788),
	    I(0, 0, 0, 0, 0x11223344) } },
	/* a mov64 sign-extends its imm: 0x80000000 needs the ld_imm64 */
	{ "r1 = 0x80000000", 2,
	  { I(C_LD | M_IMM | Z_DW, 1, 0, 0, INT32_MIN), I(0, 0, 0, 0, 0) } },
	{ "r1 = 5 ll", 2,
	  { I(C_LD | M_IMM | Z_DW, 1, 0, 0, 5), I(0, 0, 0, 0, 0) } },
	{ "r0 = *(u32 *)skb[12]", 1, { I(C_LD | M_ABS | Z_W, 0, 0, 0, 12) } },
	{ "r0 = *(u8 *)skb[-1]", 1, { I(C_LD | M_ABS | Z_B, 0, 0, 0, -1) } },
	{ "r0 = *(u16 *)skb[r1 + 4]", 1,
	  { I(C_LD | M_IND | Z_H, 0, 1, 0, 4) } },
	/* the verifier log's prefix: the opcode byte picks the form */
	{ "5: (18) r0 = 0x0", 2,
	  { I(C_LD | M_IMM | Z_DW, 0, 0, 0, 0), I(0, 0, 0, 0, 0) } },
	{ "7: (b7) r0 = 0", 1, { I(C_ALU64 | S_K | A_MOV, 0, 0, 0, 0) } },
	{ "  12: (95) exit ; R0=0", 1, { I(C_JMP | J_EXIT, 0, 0, 0, 0) } },
	/* llvm-objdump's line: address, bytes, text */
	{ "       0:\tb7 00 00 00 01 00 00 00\tr0 = 1", 1,
	  { I(C_ALU64 | S_K | A_MOV, 0, 0, 0, 1) } },
	{ "r0 = 1 // comment", 1, { I(C_ALU64 | S_K | A_MOV, 0, 0, 0, 1) } },
};

START_TEST(kernel_dialect_encodings)
{
	check_encodings(kernel_forms, N(kernel_forms));
}
END_TEST

/* llvm-objdump lines: the bytes (written by hand from RFC 9669) must be
 * what the text assembles to; only the first byte is read as a hint. */
static const char *const objdump_lines[] = {
	"0:\t07 01 00 00 2a 00 00 00\tr1 += 0x2a",
	"1:\tb7 01 00 00 ff ff ff ff\tr1 = -0x1",
	"2:\t18 01 00 00 2a 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0x2a ll",
	"4:\t05 00 00 00 00 00 00 00\tgoto +0x0",
	"5:\t1d 21 03 00 00 00 00 00\tif r1 == r2 goto +0x3 <LBB0_2>",
	"6:\t85 00 00 00 2a 00 00 00\tcall 0x2a",
	"7:\t71 21 2a 00 00 00 00 00\tw1 = *(u8 *)(r2 + 0x2a)",
	"8:\t73 12 2a 00 00 00 00 00\t*(u8 *)(r2 + 0x2a) = w1",
	"9:\tc3 21 01 00 50 00 00 00\tlock *(u32 *)(r1 + 0x1) &= w2",
	"10:\tc3 01 00 00 a1 00 00 00\tw0 = atomic_fetch_xor((u32 *)(r1 + 0x0), w0)",
	"11:\tdb 01 00 00 01 00 00 00\tr0 = atomic_fetch_add((u64 *)(r1 + 0x0), r0)",
	"12:\tc3 01 00 00 e1 00 00 00\tw0 = xchg32_32(r1 + 0x0, w0)",
	"13:\tdb 21 f0 ff e1 00 00 00\tr2 = xchg_64(r1 - 0x10, r2)",
	"14:\tdb 11 00 00 f1 00 00 00\tr0 = cmpxchg_64(r1 + 0x0, r0, r1)",
	"15:\tc3 31 00 00 f1 00 00 00\tw0 = cmpxchg32_32(r1 + 0x0, w0, w3)",
	"16:\t30 00 00 00 2a 00 00 00\tr0 = *(u8 *)skb[0x2a]",
	"17:\t48 10 00 00 00 00 00 00\tr0 = *(u16 *)skb[r1]",
	"18:\tdc 02 00 00 20 00 00 00\tr2 = be32 r2",
	"19:\t84 01 00 00 00 00 00 00\tw1 = -w1",
	"20:\tbf 21 08 00 00 00 00 00\tr1 = (s8)r2",
	"21:\t06 00 00 00 05 00 00 00\tgotol +0x5",
	"22:\tad 21 fe ff 00 00 00 00\tif r1 < r2 goto -0x2 <LBB0_1>",
	"23:\t95 00 00 00 00 00 00 00\texit",
};

START_TEST(llvm_objdump_lines)
{
	for (size_t k = 0; k < N(objdump_lines); k++) {
		const char *line = objdump_lines[k];
		unsigned char want[16];
		size_t nb = 0;
		const char *p = strchr(line, '\t') + 1;
		/* "xx xx ... xx\t": pairs up to the tab */
		for (;;) {
			want[nb++] = (unsigned char)strtoul(p, NULL, 16);
			if (p[2] != ' ' || nb == sizeof(want))
				break;
			p += 3;
		}

		size_t n;
		struct bpfvm_insn *in = asm_ok(line, &n);
		ck_assert_msg(n * 8 == nb, "'%s': %zu insns", line, n);
		for (size_t i = 0; i < n; i++) {
			const unsigned char *w = want + 8 * i;
			ck_assert_msg(
				in[i].code == w[0] &&
					in[i].dst_reg == (w[1] & 15) &&
					in[i].src_reg == w[1] >> 4 &&
					(uint16_t)in[i].off ==
						(w[2] | w[3] << 8) &&
					(uint32_t)in[i].imm ==
						((uint32_t)w[4] |
						 (uint32_t)w[5] << 8 |
						 (uint32_t)w[6] << 16 |
						 (uint32_t)w[7] << 24),
				"'%s' [%zu]", line, i);
		}
		free(in);
	}
}
END_TEST

/* ---- labels -------------------------------------------------------------- */

START_TEST(labels_resolve_relative_to_the_next_insn)
{
	size_t n;
	struct bpfvm_insn *p = asm_ok(
		"start:\n"
		"  jeq %r1, 0, out   # forward: 2 insns to skip\n"
		"  lddw %r0, 1       # two slots\n"
		"  ja start\n"
		"out: exit\n"
		"  call local start\n"
		"  ja32 out\n",
		&n);
	ck_assert_uint_eq(n, 7);
	ck_assert_int_eq(p[0].off, 3);  /* 0 -> 4 */
	ck_assert_int_eq(p[3].off, -4); /* 3 -> 0 */
	ck_assert_int_eq(p[5].imm, -6); /* 5 -> 0 */
	ck_assert_int_eq(p[5].src_reg, 1);
	ck_assert_int_eq(p[6].imm, -3); /* 6 -> 4 */
	free(p);

	/* labels named like mnemonics, several on a line, in kernel text */
	p = asm_ok("if r1 == 0 goto exit\n"
		   "r0 = 1\n"
		   "a: exit: mov %r0, 2\n"
		   "goto a\n"
		   "exit\n",
		   &n);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(p[0].off, 1);
	ck_assert_int_eq(p[3].off, -2);
	free(p);
}
END_TEST

START_TEST(exit_names_the_first_exit_without_a_label)
{
	/* bpf_conformance's assembler: prime.data has "ja exit" and no
	 * label of that name */
	size_t n;
	struct bpfvm_insn *p = asm_ok("ja exit\nmov %r0, 1\nexit\nexit\n", &n);
	ck_assert_int_eq(p[0].off, 1);
	free(p);
}
END_TEST

/* "<first>\n" then 40000 exits, then "far: exit" (malloc'ed) */
static char *far_program(const char *first)
{
	char *text = malloc(strlen(first) + 40000 * 5 + 16);
	size_t n = (size_t)sprintf(text, "%s\n", first);
	for (int i = 0; i < 40000; i++)
		n += (size_t)sprintf(text + n, "exit\n");
	sprintf(text + n, "far: exit\n");
	return text;
}

START_TEST(jump_too_far_for_16_bits)
{
	char *text = far_program("ja far");
	struct bpfvm_insn *p = NULL;
	size_t n;
	char err[256] = "";
	ck_assert_int_eq(bpfvm_asm(text, &p, &n, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "line 1:") && strstr(err, "out of range"),
		      "%s", err);
	ck_assert_ptr_null(p);
	free(text);

	/* the same distance is fine for gotol, whose offset is 32 bits */
	text = far_program("ja32 far");
	p = asm_ok(text, &n);
	ck_assert_uint_eq(n, 40002);
	ck_assert_int_eq(p[0].imm, 40000);
	free(p);
	free(text);
}
END_TEST

START_TEST(many_labels_stay_fast)
{
	/* 30000 labels (offsets stay in 16 bits), each jumped to: a linear
	 * label search would take seconds here */
	enum { L = 30000 };
	char *text = malloc((size_t)L * 40);
	size_t n = 0;
	for (int i = 0; i < L; i++)
		n += (size_t)sprintf(text + n, "l%d: ja l%d\n", i, L - 1 - i);
	struct bpfvm_insn *p = asm_ok(text, &n);
	ck_assert_uint_eq(n, L);
	ck_assert_int_eq(p[0].off, L - 2);
	ck_assert_int_eq(p[L - 1].off, -L);
	free(p);
	free(text);
}
END_TEST

/* ---- both dialects ------------------------------------------------------- */

START_TEST(both_dialects_give_the_same_bytes)
{
	static const char conf[] =
		"mov %r0, 0\n"
		"mov32 %r1, -1\n"
		"lddw %r2, 0x100000000\n"
		"stxdw [%r10-8], %r2\n"
		"ldxw %r3, [%r10-8]\n"
		"stb [%r10-1], 7\n"
		"lock fetch add [%r10-8], %r3\n"
		"lock cmpxchg [%r10-8], %r1\n"
		"lock xchg32 [%r10-4], %r2\n"
		"sdiv32 %r3, %r1\n"
		"movsx1664 %r4, %r3\n"
		"be32 %r4\n"
		"bswap64 %r4\n"
		"jsgt %r4, %r3, l1\n"
		"jlt32 %r1, 0x10, l1\n"
		"call 7\n"
		"call local f\n"
		"l1: ja32 l2\n"
		"l2: exit\n"
		"f: ldabsh 3\n"
		"ldindb %r2, -1\n"
		"exit\n";
	static const char kern[] =
		"r0 = 0\n"
		"w1 = -1\n"
		"r2 = 0x100000000 ll\n"
		"*(u64 *)(r10 -8) = r2\n"
		"r3 = *(u32 *)(r10 -8)\n"
		"*(u8 *)(r10 -1) = 7\n"
		"r3 = atomic64_fetch_add((u64 *)(r10 -8), r3)\n"
		"r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)\n"
		"r2 = atomic_xchg((u32 *)(r10 -4), r2)\n"
		"w3 s/= w1\n"
		"r4 = (s16)r3\n"
		"r4 = be32 r4\n"
		"r4 = bswap64 r4\n"
		"if r4 s> r3 goto l1\n"
		"if w1 < 0x10 goto pc+2\n"
		"call bpf_get_prandom_u32#7\n"
		"call pc+2\n"
		"l1: gotol pc+0\n"
		"exit\n"
		"f: r0 = *(u16 *)skb[3]\n"
		"r0 = *(u8 *)skb[r2 + -1]\n"
		"exit\n";
	size_t n1, n2;
	struct bpfvm_insn *a = asm_ok(conf, &n1), *b = asm_ok(kern, &n2);
	ck_assert_uint_eq(n1, n2);
	for (size_t i = 0; i < n1; i++)
		ck_assert_msg(!memcmp(&a[i], &b[i], sizeof(a[i])),
			      "insn %zu differs", i);
	free(a);
	free(b);
}
END_TEST

/* Every row of the table, printed by the disassembler, comes back. */
START_TEST(every_row_round_trips_through_the_disassembler)
{
	for (int op = 0; op < OP__COUNT; op++) {
		const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
		struct bpfvm_insn in[2] = { { .code = oi->code } };
		switch (oi->key) {
		case K_OFF: in[0].off = (int16_t)oi->keyval; break;
		case K_IMM: in[0].imm = oi->keyval; break;
		case K_SRC: in[0].src_reg = (uint8_t)oi->keyval; break;
		}
		/* operands where the format has them */
		if (oi->fmt != F_JA && oi->fmt != F_JA32 &&
		    oi->fmt != F_CALL && oi->fmt != F_EXIT &&
		    oi->fmt != F_LDABS && oi->fmt != F_LDIND)
			in[0].dst_reg = 3;
		if (oi->fmt == F_ALU_X || oi->fmt == F_JMP_X ||
		    oi->fmt == F_LDX || oi->fmt == F_STX ||
		    oi->fmt == F_ATOMIC || oi->fmt == F_LDIND)
			in[0].src_reg = 4;
		if (oi->fmt == F_LDX || oi->fmt == F_ST || oi->fmt == F_STX ||
		    oi->fmt == F_ATOMIC || oi->fmt == F_JA ||
		    oi->fmt == F_JMP_K || oi->fmt == F_JMP_X)
			in[0].off = -6;
		if (oi->fmt == F_ALU_K || oi->fmt == F_JMP_K ||
		    oi->fmt == F_ST || oi->fmt == F_LDABS ||
		    oi->fmt == F_LDIND || oi->fmt == F_JA32 ||
		    (oi->fmt == F_CALL && oi->keyval != 1) ||
		    (oi->fmt == F_LDDW && oi->keyval == 0))
			in[0].imm = -9;
		if (op == OP_CALL_LOCAL)
			in[0].imm = 2;
		if (oi->fmt == F_ATOMIC && oi->keyval == 0xf1)
			in[0].dst_reg = 3; /* cmpxchg: r0 is implied */
		if (oi->fmt == F_LDDW) {
			if (oi->keyval)
				continue; /* pseudo forms: not assembled */
			in[1].imm = 0x12345;
		}
		char line[128];
		int slots = bpfvm_disasm_insn(in, 2, 0, line, sizeof(line));
		ck_assert_msg(slots > 0, "%s: %s", oi->name, line);

		char text[160];
		snprintf(text, sizeof(text), "0: (%02x) %s\n", oi->code, line);
		struct bpfvm_insn *p = NULL;
		size_t n = 0;
		char err[256] = "";
		int rc = bpfvm_asm(text, &p, &n, err, sizeof(err));
		ck_assert_msg(rc == 0, "%s: '%s': %s", oi->name, line, err);
		ck_assert_uint_eq(n, (size_t)slots);
		ck_assert_msg(!memcmp(p, in, n * sizeof(*p)), "%s: '%s'",
			      oi->name, line);
		free(p);

		/* and without the prefix, but for the mov/ld_imm64 pair */
		if (oi->fmt != F_LDDW) {
			rc = bpfvm_asm(line, &p, &n, err, sizeof(err));
			ck_assert_msg(rc == 0, "%s: '%s': %s", oi->name, line,
				      err);
			ck_assert_msg(!memcmp(p, in, n * sizeof(*p)),
				      "%s: '%s'", oi->name, line);
			free(p);
		}
	}
}
END_TEST

/* ---- conformance files --------------------------------------------------- */

/* The text of section "-- name" (malloc'ed), or NULL. */
static char *section(const char *file, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = file; p && *p;) {
		const char *eol = strchr(p, '\n');
		if (!strncmp(p, "-- ", 3) && !strncmp(p + 3, name, nl) &&
		    (p[3 + nl] == '\n' || p[3 + nl] == '\r' || !p[3 + nl])) {
			const char *s = eol ? eol + 1 : p + strlen(p), *e = s;
			while (*e && strncmp(e, "--", 2)) {
				const char *x = strchr(e, '\n');
				e = x ? x + 1 : e + strlen(e);
			}
			return strndup(s, (size_t)(e - s));
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

static const char *tests_dir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/conformance/tests",
		 tu_env("BPFVM_SHARED", "../shared"));
	return buf;
}

START_TEST(every_conformance_program_assembles)
{
	char dir[1024];
	DIR *d = opendir(tests_dir(dir, sizeof(dir)));
	ck_assert_msg(d != NULL, "%s: %s", dir, strerror(errno));
	int files = 0, raws = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!tu_data_file(e))
			continue;
		char path[2048];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		char *file = tu_read_all(path, NULL);
		char *text = section(file, "asm");
		ck_assert_msg(text != NULL, "%s: no asm", e->d_name);

		struct bpfvm_insn *p = NULL;
		size_t n = 0;
		char err[256] = "";
		int rc = bpfvm_asm(text, &p, &n, err, sizeof(err));
		ck_assert_msg(rc == 0, "%s: %s", e->d_name, err);
		/* everything produced is a valid encoding */
		for (size_t i = 0; i < n; i++) {
			int op = bpfvm_check_insn(p, n, i, err, sizeof(err));
			ck_assert_msg(op >= 0, "%s[%zu]: %s", e->d_name, i, err);
			if (bpfvm_opinfo[op].fmt == F_LDDW)
				i++;
		}

		/* "-- raw": 64-bit words, the instruction in the low byte up */
		char *raw = section(file, "raw");
		if (raw) {
			size_t k = 0;
			char *s = raw, *endp;
			for (;;) {
				while (*s == ' ' || *s == '\n' || *s == '\r' ||
				       *s == '\t')
					s++;
				if (!*s)
					break;
				unsigned long long w = strtoull(s, &endp, 0);
				ck_assert_msg(endp != s, "%s: bad raw", e->d_name);
				s = endp;
				ck_assert_msg(k < n, "%s: raw is longer",
					      e->d_name);
				const struct bpfvm_insn *in = &p[k++];
				unsigned long long mine =
					(unsigned long long)in->code |
					(unsigned long long)in->dst_reg << 8 |
					(unsigned long long)in->src_reg << 12 |
					(unsigned long long)(uint16_t)in->off
						<< 16 |
					(unsigned long long)(uint32_t)in->imm
						<< 32;
				ck_assert_msg(mine == w,
					      "%s[%zu]: %#llx, raw %#llx",
					      e->d_name, k - 1, mine, w);
			}
			ck_assert_uint_eq(k, n);
			raws++;
			free(raw);
		}
		free(p);
		free(text);
		free(file);
		files++;
	}
	closedir(d);
	ck_assert_int_eq(files, 313);
	ck_assert_int_ge(raws, 1); /* lddw.data */
}
END_TEST

/* The kernel selftests' programs (hex in corpus.tsv), printed by the
 * disassembler and assembled back: the same bytes.  Programs with an
 * invalid instruction or an ld_imm64 pseudo form (printed as its value
 * only) are left out. */
START_TEST(verifier_corpus_round_trips)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/verifier-corpus/corpus.tsv",
		 tu_env("BPFVM_SHARED", "../shared"));
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	int done = 0;
	while (getline(&line, &cap, f) > 0) {
		char *h = strstr(line, "\tinsns=");
		if (line[0] == '#' || !h)
			continue;
		h += 7;
		size_t n = strcspn(h, "\t\n") / 16;
		if (!n)
			continue;
		struct bpfvm_insn *in = calloc(n, sizeof(*in));
		for (size_t i = 0; i < n; i++) {
			unsigned char b[8];
			for (int j = 0; j < 8; j++) {
				char x[3] = { h[16 * i + 2 * j],
					      h[16 * i + 2 * j + 1], 0 };
				b[j] = (unsigned char)strtoul(x, NULL, 16);
			}
			in[i] = (struct bpfvm_insn)I(b[0], b[1] & 15, b[1] >> 4,
						     (int16_t)(b[2] | b[3] << 8),
						     (int32_t)((uint32_t)b[4] |
							       (uint32_t)b[5] << 8 |
							       (uint32_t)b[6] << 16 |
							       (uint32_t)b[7] << 24));
		}
		bool valid = true;
		char err[256];
		for (size_t i = 0; i < n && valid; i++) {
			int op = bpfvm_check_insn(in, n, i, err, sizeof(err));
			valid = op >= 0;
			if (valid && bpfvm_opinfo[op].fmt == F_LDDW)
				valid = !in[i++].src_reg;
		}
		if (valid) {
			char *text;
			size_t tl;
			FILE *m = open_memstream(&text, &tl);
			ck_assert_int_eq(bpfvm_disasm(in, n, m), 0);
			fclose(m);
			struct bpfvm_insn *back = NULL;
			size_t nb;
			int rc = bpfvm_asm(text, &back, &nb, err, sizeof(err));
			ck_assert_msg(rc == 0, "%.60s: %s", line, err);
			ck_assert_msg(nb == n && !memcmp(back, in, n * sizeof(*in)),
				      "%.60s: differs", line);
			free(back);
			free(text);
			done++;
		}
		free(in);
	}
	free(line);
	fclose(f);
	ck_assert_int_ge(done, 900); /* 914 of 1338 with Linux 6.18's corpus */
}
END_TEST

/* ---- malformed input ----------------------------------------------------- */

static const struct {
	const char *text;
	const char *msg; /* in the error, after "line N: " */
	int line;
} bad[] = {
	{ "foo %r0, 1\nexit", "unknown instruction 'foo'", 1 },
	{ "exit\nr0 ?= 1", "expected", 2 },
	{ "mov %r11, 1", "bad register '%r11'", 1 },
	{ "mov %r99, 1", "bad register '%r99'", 1 },
	{ "r11 = 1", "bad register 'r11'", 1 },
	{ "ldxw %r1, [%r12+4]", "bad register '%r12'", 1 },
	{ "mov %r0", "missing operand", 1 },
	{ "exit\nr0 = ", "missing operand", 2 },
	{ "if r1 > 5 goto", "missing operand", 1 },
	{ "mov %r0, 1, 2", "extra operand", 1 },
	{ "exit 1", "extra operand", 1 },
	{ "r0 = r1 + 1", "extra operand", 1 },
	{ "mov %r0, 0x1ffffffff", "out of 32-bit range", 1 },
	{ "mov32 %r0, -2147483649", "out of 32-bit range", 1 },
	{ "w0 = 4294967296", "out of 32-bit range", 1 },
	{ "lddw %r0, 0x10000000000000000", "out of 64-bit range", 1 },
	{ "lddw %r0, -9223372036854775809", "out of 64-bit range", 1 },
	{ "r0 = 0x10000000000000000", "out of 64-bit range", 1 },
	{ "lddw map_fd %r1, 5\n3: (b7) r1 = 0x80000000", "opcode (b7)", 2 },
	{ "ldxw %r1, [%r1+32768]", "offset '+32768' out of 16-bit range", 1 },
	{ "r0 = *(u32 *)(r1 -32769)", "out of 16-bit range", 1 },
	{ "jne %r0, 1, +32768", "out of range", 1 },
	{ "goto pc-32769", "out of range", 1 },
	{ "ja nowhere\nexit", "undefined label 'nowhere'", 1 },
	{ "exit\ncall local nowhere", "undefined label 'nowhere'", 2 },
	{ "a: exit\na: exit", "duplicate label 'a' (first on line 1)", 2 },
	{ "mov %r0, 1 $", "extra operand '$'", 1 },
	{ "mov %r0, 12abc", "unexpected '12abc'", 1 },
	{ "mov %r0, 1\x01", "unexpected character 0x01", 1 },
	{ "exit\n\xc3\xa9", "unexpected character 0xc3", 2 },
	{ "", "empty program", 1 },
	{ "\n# nothing\n  \n", "empty program", 3 },
	{ "lab:", "empty program", 1 },
	{ "w0 = -w1", "'w1' must be the destination", 1 },
	{ "w0 += r1", "expected a 32-bit w register, not 'r1'", 1 },
	{ "r1 = atomic64_xchg((u64 *)(r10 -8), r2)", "must be the source", 1 },
	{ "call foo#3", "unknown helper 'foo'", 1 },
	{ "call bpf_map_lookup_elem#2", "is #1, not #2", 1 },
	{ "r1 = map[id:5]", "map references cannot be assembled", 1 },
	{ "5: (b7) r0 = 0x100000000", "opcode (b7) does not match", 1 },
	{ "5: (18) r0 += 1", "opcode (18) does not match", 1 },
	{ "ldxw %r1 [%r1+4]", "expected ',' at '[%r1+4]'", 1 },
	{ "stw [%r1+4], %r2", "unexpected '%r2'", 1 },
	{ "r0 = *(u32 *)(r1 16)", "expected '+'", 1 },
	{ "mov %r0, 0x", "unexpected '0x'", 1 },
	{ "mov %r0, --1", "unexpected", 1 },
};

START_TEST(malformed_input_is_rejected_with_its_line)
{
	for (size_t k = 0; k < N(bad); k++) {
		struct bpfvm_insn *p = (void *)1;
		size_t n = 7;
		char err[256] = "";
		int rc = bpfvm_asm(bad[k].text, &p, &n, err, sizeof(err));
		ck_assert_msg(rc == -EINVAL, "'%s': rc %d", bad[k].text, rc);
		ck_assert_ptr_null(p);
		ck_assert_uint_eq(n, 0);
		char want[32];
		snprintf(want, sizeof(want), "line %d: ", bad[k].line);
		ck_assert_msg(!strncmp(err, want, strlen(want)) &&
				      strstr(err, bad[k].msg),
			      "'%s': got \"%s\", want \"%s%s\"", bad[k].text,
			      err, want, bad[k].msg);
	}
}
END_TEST

/* Every prefix of a program is assembled or rejected, never read past
 * (the ASan build checks the "never"). */
START_TEST(truncated_text_never_crashes)
{
	static const char prog[] =
		"0: (18) r1 = 0x1122334455667788\n"
		"lock fetch add32 [%r10-8], %r1 # c\n"
		"r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)\n"
		"  9:\tb7 00 00 00 01 00 00 00\tr0 = 1\n"
		"if w1 s< 0xffffffff goto pc-2 <LBB0_1>\n"
		"call bpf_map_lookup_elem#1\n"
		"0000000000000000 <fn>:\n"
		"ja32 fn\n";
	size_t len = strlen(prog);
	for (size_t cut = 0; cut <= len; cut++) {
		char *t = malloc(cut + 1);
		memcpy(t, prog, cut);
		t[cut] = 0;
		struct bpfvm_insn *p = NULL;
		size_t n;
		char err[64];
		int rc = bpfvm_asm(t, &p, &n, err, sizeof(err));
		ck_assert(rc == 0 || rc == -EINVAL);
		ck_assert(rc == 0 ? p != NULL : p == NULL);
		free(p);
		free(t);
	}
	/* a NULL or tiny error buffer is fine */
	struct bpfvm_insn *p;
	size_t n;
	char one[1];
	ck_assert_int_eq(bpfvm_asm("bogus", &p, &n, NULL, 0), -EINVAL);
	ck_assert_int_eq(bpfvm_asm("bogus", &p, &n, one, 1), -EINVAL);
	ck_assert_int_eq(one[0], 0);
	ck_assert_int_eq(bpfvm_asm(NULL, &p, &n, NULL, 0), -EINVAL);
	ck_assert_int_eq(bpfvm_asm("exit", NULL, &n, NULL, 0), -EINVAL);
	ck_assert_int_eq(bpfvm_asm("exit", &p, NULL, NULL, 0), -EINVAL);
}
END_TEST

/* ---- program files ------------------------------------------------------- */

static const char *put(const char *name, const void *data, size_t len)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", tu_tmpdir(), name);
	tu_write_file(path, data, len);
	return path;
}

static int read_prog(const char *path, struct bpfvm_insn **p, size_t *n,
		     char *err, size_t len)
{
	*p = NULL;
	return bpfvm_read_program(path, p, n, err, len);
}

START_TEST(program_files_text_and_raw)
{
	struct bpfvm_insn *p;
	size_t n;
	char err[512];

	tu_tmpdir_make();
	static const char text[] = "mov %r0, 1\r\nr0 += 2\nexit\n";
	const char *path = put("prog.s", text, strlen(text));
	ck_assert_int_eq(read_prog(path, &p, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(p[1].code, C_ALU64 | S_K | A_ADD);
	ck_assert_int_eq(p[1].imm, 2);
	free(p);

	/* raw little-endian: r1 = -2 (b7 01 00 00 fe ff ff ff); exit */
	static const unsigned char raw[] = {
		0xb7, 0x01, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff,
		0x7b, 0xa1, 0xf8, 0xff, 0x00, 0x00, 0x00, 0x00,
		0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	path = put("prog.bin", raw, sizeof(raw));
	ck_assert_int_eq(read_prog(path, &p, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(p[0].code, 0xb7);
	ck_assert_int_eq(p[0].dst_reg, 1);
	ck_assert_int_eq(p[0].imm, -2);
	ck_assert_int_eq(p[1].dst_reg, 1); /* low nibble of byte 1 */
	ck_assert_int_eq(p[1].src_reg, 10);
	ck_assert_int_eq(p[1].off, -8);
	ck_assert_int_eq(p[2].code, 0x95);
	free(p);

	/* UTF-8 in comments and a byte-order mark are still text */
	static const char utf[] = "\xef\xbb\xbf# caf\xc3\xa9\nexit\n";
	path = put("utf.s", utf, strlen(utf));
	ck_assert_int_eq(read_prog(path, &p, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	free(p);

	/* no NUL, but invalid UTF-8 and 8 bytes: bytecode */
	static const unsigned char hi[] = { 0xb7, 0xff, 0xff, 0xff,
					    0xff, 0xff, 0xff, 0xff };
	path = put("hi.bin", hi, sizeof(hi));
	ck_assert_int_eq(read_prog(path, &p, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(p[0].imm, -1);
	free(p);
	tu_tmpdir_remove();
}
END_TEST

START_TEST(program_files_errors)
{
	struct bpfvm_insn *p;
	size_t n;
	char err[512];

	tu_tmpdir_make();
	char missing[300];
	snprintf(missing, sizeof(missing), "%s/missing.s", tu_tmpdir());
	ck_assert_int_eq(read_prog(missing, &p, &n, err, sizeof(err)),
			 -ENOENT);
	ck_assert_msg(strstr(err, missing) &&
			      strstr(err, strerror(ENOENT)), "%s", err);

	ck_assert_int_eq(read_prog(tu_tmpdir(), &p, &n, err, sizeof(err)),
			 -EISDIR);
	ck_assert_int_eq(read_prog(NULL, &p, &n, err, sizeof(err)), -EINVAL);

	const char *path = put("empty", "", 0);
	ck_assert_int_eq(read_prog(path, &p, &n, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "empty file"), "%s", err);

	static const unsigned char odd[] = { 0x95, 0, 0, 0, 0, 0, 0, 0, 0 };
	path = put("odd.bin", odd, sizeof(odd));
	ck_assert_int_eq(read_prog(path, &p, &n, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "9 bytes") && strstr(err, "multiple of 8"),
		      "%s", err);

	static const char bad_text[] = "exit\nmov %r0, %r11\n";
	path = put("bad.s", bad_text, strlen(bad_text));
	ck_assert_int_eq(read_prog(path, &p, &n, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, path) && strstr(err, "line 2: bad register"),
		      "%s", err);

	/* whitespace only is text, and an empty program */
	path = put("blank.s", "\n\n", 2);
	ck_assert_int_eq(read_prog(path, &p, &n, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "empty program"), "%s", err);
	ck_assert_ptr_null(p);
	tu_tmpdir_remove();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("asm");
	TCase *tc = tcase_create("asm");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, conformance_dialect_encodings);
	tcase_add_test(tc, kernel_dialect_encodings);
	tcase_add_test(tc, llvm_objdump_lines);
	tcase_add_test(tc, labels_resolve_relative_to_the_next_insn);
	tcase_add_test(tc, exit_names_the_first_exit_without_a_label);
	tcase_add_test(tc, jump_too_far_for_16_bits);
	tcase_add_test(tc, many_labels_stay_fast);
	tcase_add_test(tc, both_dialects_give_the_same_bytes);
	tcase_add_test(tc, every_row_round_trips_through_the_disassembler);
	tcase_add_test(tc, every_conformance_program_assembles);
	tcase_add_test(tc, verifier_corpus_round_trips);
	tcase_add_test(tc, malformed_input_is_rejected_with_its_line);
	tcase_add_test(tc, truncated_text_never_crashes);
	tcase_add_test(tc, program_files_text_and_raw);
	tcase_add_test(tc, program_files_errors);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
