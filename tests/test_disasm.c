/* The disassembler (vm/disasm.c).
 *
 * The reference is the Linux 6.18 verifier log at log_level 2:
 *   - golden: lines copied from that log on this machine, so the test means
 *     something without bpf(2);
 *   - kernel: every opcodes.def row the kernel accepts, in a few operand
 *     variants, loaded into the running kernel; every instruction line of
 *     its log must equal bpfvm_disasm's line byte for byte.  Without bpf(2)
 *     this test prints "SKIP: reason" and returns (Check cannot skip);
 *   - round trip: every conformance program, disassembled and assembled
 *     again, gives the same bytes;
 *   - the DOT graph of hand-checked programs, and malformed input.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bpfvm_asm.h"
#include "conformance.h"
#include "insn.h"
#include "kernel_util.h"
#include "testutil.h"

#define I(c, d, s, o, i)                                                   \
	((struct bpfvm_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
			      .off = (o), .imm = (i) })
#define LDDW_LO(d, v) I(0x18, d, 0, 0, (int32_t)(uint32_t)(v))
#define LDDW_HI(v) I(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))

/* A program printed by bpfvm_disasm, in a malloc'ed string. */
static char *disasm_text(const struct bpfvm_insn *p, size_t n, int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	*rc = bpfvm_disasm(p, n, f);
	fclose(f);
	return text;
}

/* ---- golden lines from the kernel's log -------------------------------- */

/* Each text below was printed by Linux 6.18 (log_level 2) for the insn. */
static const struct golden {
	struct bpfvm_insn in[2];
	const char *text;
} golden[] = {
	{ { I(0xb7, 0, 0, 0, 1) }, "r0 = 1" },
	{ { I(0xb7, 3, 0, 0, -3) }, "r3 = -3" },
	{ { I(0xb4, 4, 0, 0, -3) }, "w4 = -3" },
	{ { I(0x04, 0, 0, 0, -3) }, "w0 += -3" },
	{ { I(0x0c, 1, 2, 0, 0) }, "w1 += w2" },
	{ { I(0xbf, 6, 1, 0, 0) }, "r6 = r1" },
	{ { I(0x3f, 0, 2, 1, 0) }, "r0 s/= r2" },
	{ { I(0x3c, 0, 2, 1, 0) }, "w0 s/= w2" },
	{ { I(0x97, 3, 0, 1, -7) }, "r3 s%= -7" },
	{ { I(0x94, 3, 0, 1, 5) }, "w3 s%= 5" },
	{ { I(0xbf, 2, 0, 8, 0) }, "r2 = (s8)r0" },
	{ { I(0xbc, 2, 0, 16, 0) }, "w2 = (s16)w0" },
	{ { I(0xbf, 2, 1, 32, 0) }, "r2 = (s32)r1" },
	{ { I(0x84, 4, 0, 0, 0) }, "w4 = -w4" },
	{ { I(0x87, 4, 0, 0, 0) }, "r4 = -r4" },
	{ { I(0xd7, 0, 0, 0, 16) }, "r0 = bswap16 r0" },
	{ { I(0xd7, 0, 0, 0, 64) }, "r0 = bswap64 r0" },
	{ { I(0xd4, 5, 0, 0, 16) }, "r5 = le16 r5" },
	{ { I(0xdc, 5, 0, 0, 32) }, "r5 = be32 r5" },
	{ { I(0xc4, 3, 0, 0, 3) }, "w3 s>>= 3" },
	{ { I(0xcf, 3, 1, 0, 0) }, "r3 s>>= r1" },
	{ { LDDW_LO(7, 0x1122334455667788), LDDW_HI(0x1122334455667788) },
	  "r7 = 0x1122334455667788" },
	{ { LDDW_LO(8, -1), LDDW_HI(-1) }, "r8 = 0xffffffffffffffff" },
	{ { LDDW_LO(1, 0x11), LDDW_HI(0x11) }, "r1 = 0x11" },
	{ { I(0x91, 2, 10, -8, 0) }, "r2 = *(s8 *)(r10 -8)" },
	{ { I(0x89, 2, 10, -8, 0) }, "r2 = *(s16 *)(r10 -8)" },
	{ { I(0x81, 2, 10, -8, 0) }, "r2 = *(s32 *)(r10 -8)" },
	{ { I(0x79, 2, 10, -16, 0) }, "r2 = *(u64 *)(r10 -16)" },
	{ { I(0x7a, 10, 0, -8, 0) }, "*(u64 *)(r10 -8) = 0" },
	{ { I(0x62, 10, 0, -8, -5) }, "*(u32 *)(r10 -8) = -5" },
	{ { I(0x72, 10, 0, -7, 255) }, "*(u8 *)(r10 -7) = 255" },
	{ { I(0x63, 10, 3, -16, 0) }, "*(u32 *)(r10 -16) = r3" },
	{ { I(0x7b, 10, 1, -8, 0) }, "*(u64 *)(r10 -8) = r1" },
	{ { I(0xc3, 10, 1, -8, 0x00) }, "lock *(u32 *)(r10 -8) += r1" },
	{ { I(0xc3, 10, 1, -8, 0x50) }, "lock *(u32 *)(r10 -8) &= r1" },
	{ { I(0xdb, 10, 1, -8, 0x40) }, "lock *(u64 *)(r10 -8) |= r1" },
	{ { I(0xdb, 10, 1, -8, 0xa0) }, "lock *(u64 *)(r10 -8) ^= r1" },
	{ { I(0xc3, 10, 1, -8, 0x01) },
	  "r1 = atomic_fetch_add((u32 *)(r10 -8), r1)" },
	{ { I(0xc3, 10, 1, -8, 0x51) },
	  "r1 = atomic_fetch_and((u32 *)(r10 -8), r1)" },
	{ { I(0xdb, 10, 1, -8, 0xe1) },
	  "r1 = atomic64_xchg((u64 *)(r10 -8), r1)" },
	{ { I(0xc3, 10, 1, -8, 0xe1) }, "r1 = atomic_xchg((u32 *)(r10 -8), r1)" },
	{ { I(0xc3, 10, 1, -8, 0xf1) },
	  "r0 = atomic_cmpxchg((u32 *)(r10 -8), r0, r1)" },
	{ { I(0xdb, 10, 1, -8, 0xf1) },
	  "r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)" },
	{ { I(0x30, 0, 0, 0, 12) }, "r0 = *(u8 *)skb[12]" },
	{ { I(0x48, 0, 7, 0, -2) }, "r0 = *(u16 *)skb[r7 + -2]" },
	{ { I(0x15, 0, 0, 1, -1) }, "if r0 == 0xffffffff goto pc+1" },
	{ { I(0xa5, 0, 0, 1, -1) }, "if r0 < 0xffffffff goto pc+1" },
	{ { I(0xa5, 0, 0, -2, 3) }, "if r0 < 0x3 goto pc-2" },
	{ { I(0x5e, 0, 1, 1, 0) }, "if w0 != w1 goto pc+1" },
	{ { I(0x06, 0, 0, 0, 0) }, "gotol pc+0" },
	{ { I(0x85, 0, 0, 0, 7) }, "call bpf_get_prandom_u32#7" },
	{ { I(0x85, 0, 0, 0, 0) }, "call bpf_unspec#0" },
	{ { I(0x85, 0, 0, 0, 999) }, "call unknown#999" },
	{ { I(0x85, 0, 0, 0, -1) }, "call unknown#-1" },
	{ { I(0x85, 0, 1, 0, 2) }, "call pc+2" },
	{ { I(0x95, 0, 0, 0, 0) }, "exit" },
	/* not in the kernel: LLVM's syntax (see vm/disasm.c) */
	{ { I(0x8d, 2, 0, 0, 0) }, "callx r2" },
};

START_TEST(golden_lines)
{
	const struct golden *g = &golden[_i];
	char buf[128];
	size_t n = g->in[0].code == 0x18 ? 2 : 1;
	int used = bpfvm_disasm_insn(g->in, n, 0, buf, sizeof(buf));
	ck_assert_msg(used == (int)n, "%s: returned %d (%s)", g->text, used, buf);
	ck_assert_str_eq(buf, g->text);
}
END_TEST

/* The program listing: index, opcode byte, text; ld_imm64 takes two. */
START_TEST(listing_format)
{
	struct bpfvm_insn p[] = {
		I(0xb7, 0, 0, 0, 1),
		LDDW_LO(1, 0x1122334455667788), LDDW_HI(0x1122334455667788),
		I(0x95, 0, 0, 0, 0),
	};
	int rc;
	char *text = disasm_text(p, 4, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(text, "0: (b7) r0 = 1\n"
			       "1: (18) r1 = 0x1122334455667788\n"
			       "3: (95) exit\n");
	free(text);
}
END_TEST

/* An instruction built from a table row with its key field set. */
static void from_row(int op, struct bpfvm_insn p[2])
{
	const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
	p[0] = I(oi->code, 0, 0, 0, 0);
	p[1] = I(0, 0, 0, 0, 0);
	switch (oi->key) {
	case K_OFF: p[0].off = (int16_t)oi->keyval; break;
	case K_IMM: p[0].imm = oi->keyval; break;
	case K_SRC: p[0].src_reg = (uint8_t)oi->keyval; break;
	}
}

/* Every row prints, and no two rows print alike. */
START_TEST(every_row_prints_distinctly)
{
	static char text[OP__COUNT][128];
	for (int op = 0; op < OP__COUNT; op++) {
		struct bpfvm_insn p[2];
		from_row(op, p);
		if (bpfvm_opinfo[op].fmt == F_CALL)
			p[0].imm = 1; /* kernel prints a kfunc by number */
		int used = bpfvm_disasm_insn(p, 2, 0, text[op], sizeof(text[op]));
		ck_assert_msg(used > 0, "%s: %s", bpfvm_opinfo[op].name, text[op]);
		for (int k = 0; k < op; k++)
			ck_assert_msg(strcmp(text[k], text[op]) ||
					      bpfvm_opinfo[op].fmt == F_LDDW,
				      "%s and %s both print %s",
				      bpfvm_opinfo[k].name,
				      bpfvm_opinfo[op].name, text[op]);
	}
}
END_TEST

/* ---- against the running kernel ---------------------------------------- */

#define PROG_SOCKET_FILTER 1 /* BPF_PROG_TYPE_SOCKET_FILTER */
#define KLOG_SIZE (1 << 20)
#define PROG_MAX 32

/* The operand variants of a row that the kernel is given. */
static int row_variants(int op, struct bpfvm_insn v[][2])
{
	const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
	unsigned opn = oi->code & 0xf0;
	int shift = opn == 0x60 || opn == 0x70 || opn == 0xc0;
	int n = 0;
	struct bpfvm_insn base[2];
	from_row(op, base);

#define V(d, s, o, i)                                                 \
	do {                                                          \
		v[n][0] = base[0];                                    \
		v[n][1] = base[1];                                    \
		v[n][0].dst_reg = (d);                                \
		v[n][0].src_reg = oi->key == K_SRC ? base[0].src_reg  \
						   : (s);             \
		if (oi->key != K_OFF)                                 \
			v[n][0].off = (int16_t)(o);                   \
		if (oi->key != K_IMM)                                 \
			v[n][0].imm = (i);                            \
		n++;                                                  \
	} while (0)

	switch (oi->fmt) {
	case F_ALU_K:
		V(0, 0, 0, shift ? 3 : 7);
		V(3, 0, 0, shift ? 31 : -3);
		if (!shift)
			V(9, 0, 0, INT32_MIN);
		break;
	case F_ALU_X:
		V(1, 2, 0, 0);
		V(9, 0, 0, 0);
		V(0, 10, 0, 0);
		break;
	case F_NEG: V(4, 0, 0, 0); break;
	case F_END: V(0, 0, 0, 0); V(5, 0, 0, 0); break;
	case F_JA: V(0, 0, 1, 0); break;
	case F_JA32: V(0, 0, 0, 1); break;
	case F_JMP_K:
		V(3, 0, 1, 5);
		V(0, 0, 1, -1);
		V(9, 0, 1, INT32_MIN);
		break;
	case F_JMP_X: V(3, 4, 1, 0); V(0, 10, 1, 0); break;
	case F_CALL:
		if (oi->keyval == 1) {
			V(0, 0, 0, 3); /* to the subprogram after the exit */
		} else if (oi->keyval == 0) {
			V(0, 0, 0, 7);
			V(0, 0, 0, 5);
			V(0, 0, 0, 0);
			V(0, 0, 0, 999);
			V(0, 0, 0, -1);
		}
		break;
	case F_EXIT: V(0, 0, 0, 0); break;
	case F_LDDW:
		if (oi->keyval == 0) {
			V(7, 0, 0, 0x55667788);
			v[n - 1][1].imm = 0x11223344;
			V(0, 0, 0, 0x11);
			V(8, 0, 0, -1);
			v[n - 1][1].imm = -1;
			V(1, 0, 0, 0);
			v[n - 1][1].imm = INT32_MIN;
		}
		break;
	case F_LDABS: V(0, 0, 0, 12); V(0, 0, 0, -4); break;
	case F_LDIND: V(0, 7, 0, -2); V(0, 1, 0, 14); break;
	case F_LDX:
		V(2, 10, -8, 0);
		V(0, 1, 32767, 0);
		V(9, 6, -32768, 0);
		break;
	case F_ST: V(10, 0, -8, -5); V(1, 0, 4, INT32_MAX); break;
	case F_STX: V(10, 3, -16, 0); V(2, 10, 0, 0); break;
	case F_ATOMIC: V(10, 1, -8, 0); V(2, 0, 16, 0); break;
	default: break; /* callx: not in the kernel */
	}
#undef V
	return n;
}

/* A socket filter around test instruction t (1 or 2 slots): the registers
 * set, a jump over t (so that whatever follows t is reachable), t, a filler,
 * r0 = 0, exit, and a subprogram for local calls.  Returns the length; *at
 * is t's index. */
static size_t wrap(const struct bpfvm_insn t[2], struct bpfvm_insn *p,
		   size_t *at)
{
	size_t n = 0, slots = t[0].code == 0x18 ? 2 : 1;
	p[n++] = I(0xbf, 6, 1, 0, 0);           /* r6 = ctx, for ld_abs */
	p[n++] = I(0x7a, 10, 0, -8, 0);
	p[n++] = I(0x7a, 10, 0, -16, 0);
	for (int r = 0; r <= 9; r++)
		if (r != 1 && r != 6)
			p[n++] = I(0xb7, r, 0, 0, r + 1);
	p[n++] = I(0x15, 9, 0, (int16_t)slots, 5); /* if r9 == 5 skip t */
	*at = n;
	for (size_t k = 0; k < slots; k++)
		p[n++] = t[k];
	p[n++] = I(0xb7, 0, 0, 0, 1);
	p[n++] = I(0xb7, 0, 0, 0, 0);
	p[n++] = I(0x95, 0, 0, 0, 0);
	if (t[0].code == 0x85 && t[0].src_reg == 1) {
		p[n++] = I(0xb7, 0, 0, 0, 0);
		p[n++] = I(0x95, 0, 0, 0, 0);
	}
	return n;
}

/* Parse one line of the verifier's log that shows an instruction, either
 * "12: (b7) r0 = 1   ; R0=1" (the trace) or "  1   12: 0.2....... (b7)
 * r0 = 1" (the live-registers listing).  Returns the index, or -1; *code
 * and text (without the state comment) are filled in. */
static long parse_log_line(char *line, unsigned *code, const char **text)
{
	char *colon = strchr(line, ':'), *p = colon;
	if (!colon || colon == line)
		return -1;
	while (p > line && p[-1] >= '0' && p[-1] <= '9')
		p--;
	if (p == colon || (p > line && p[-1] != ' '))
		return -1;
	long idx = strtol(p, NULL, 10);
	p = colon + 1;
	if (*p++ != ' ')
		return -1;
	if (*p != '(') { /* the live registers column */
		while (*p && *p != ' ')
			p++;
		if (*p++ != ' ')
			return -1;
	}
	int len = 0;
	if (sscanf(p, "(%2x) %n", code, &len) != 1 || !len)
		return -1;
	char *t = p + len, *end = strchr(t, ';');
	if (!end)
		end = t + strlen(t);
	while (end > t && end[-1] == ' ')
		end--;
	*end = 0;
	*text = t;
	return idx;
}

/* Load p with log_level 2; compare every instruction line the kernel
 * printed with bpfvm's.  Returns how many lines were compared; seen[i] is
 * set for each instruction i among them. */
static int compare_with_kernel(const struct bpfvm_insn *p, size_t n,
			       unsigned char *seen, char *log)
{
	int fd = bpfk_prog_load(PROG_SOCKET_FILTER, p, n, 2, log, KLOG_SIZE);
	if (fd >= 0)
		close(fd);
	int compared = 0;
	for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned code;
		const char *text;
		long idx = parse_log_line(line, &code, &text);
		if (idx < 0)
			continue;
		ck_assert_msg((size_t)idx < n && code == p[idx].code,
			      "kernel line for an unknown insn: %s", line);
		char mine[128];
		int used = bpfvm_disasm_insn(p, n, (size_t)idx, mine,
					     sizeof(mine));
		ck_assert_msg(used > 0, "insn %ld: %s", idx, mine);
		ck_assert_msg(!strcmp(mine, text),
			      "insn %ld (%02x): kernel \"%s\", bpfvm \"%s\"",
			      idx, code, text, mine);
		compared++;
		seen[idx] = 1;
	}
	return compared;
}

/* The kernel comparisons skip, saying why, where bpf(2) is refused. */
static bool kernel_here(void)
{
	char why[256];
	if (bpfk_available(why, sizeof(why)))
		return true;
	printf("SKIP: kernel comparison: %s\n", why);
	return false;
}

START_TEST(every_row_matches_the_kernel)
{
	if (!kernel_here())
		return;
	char *log = malloc(KLOG_SIZE);
	ck_assert_ptr_nonnull(log);
	int rows = 0, programs = 0, lines = 0;
	for (int op = 0; op < OP__COUNT; op++) {
		struct bpfvm_insn v[8][2], p[PROG_MAX];
		int nv = row_variants(op, v);
		for (int k = 0; k < nv; k++) {
			size_t at, n = wrap(v[k], p, &at);
			unsigned char seen[PROG_MAX] = { 0 };
			char err[128];
			ck_assert_msg(bpfvm_check_insn(p, n, at, err, sizeof(err)) == op,
				      "%s variant %d: %s", bpfvm_opinfo[op].name,
				      k, err);
			lines += compare_with_kernel(p, n, seen, log);
			ck_assert_msg(seen[at], "%s variant %d: the kernel did not "
				      "print it", bpfvm_opinfo[op].name, k);
			programs++;
		}
		rows += nv > 0;
	}
	free(log);
	/* all rows but callx, the kfunc call and the six pseudo ld_imm64
	 * forms (they need BTF or maps; the kernel prints resolved pointers) */
	ck_assert_int_eq(rows, OP__COUNT - 8);
	printf("kernel: %d rows, %d programs, %d lines identical\n", rows,
	       programs, lines);
}
END_TEST

/* A small deterministic generator (xorshift64), state on the stack. */
static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* A field value: zero half the time, else a small or a wild one. */
static int64_t rand_field(uint64_t *x)
{
	uint64_t r = next_rand(x);
	switch (r & 3) {
	case 0: case 1: return 0;
	case 2: return (int64_t)(r >> 8) % 64 - 32;
	default: return (int64_t)(int32_t)(r >> 16);
	}
}

/* A random instruction of row op that bpfvm_check_insn accepts, placed at
 * p[i] (and p[i + 1] for ld_imm64); jumps go nowhere (+0) so every
 * instruction stays reachable. */
static void rand_insn(int op, uint64_t *x, struct bpfvm_insn *p, size_t i)
{
	char err[128];
	struct bpfvm_insn row[2];
	from_row(op, row);
	for (int tries = 0;; tries++) {
		ck_assert_int_lt(tries, 10000);
		p[i] = row[0];
		p[i + 1] = row[1];
		p[i].dst_reg = next_rand(x) % 11;
		if (bpfvm_opinfo[op].key != K_SRC)
			p[i].src_reg = next_rand(x) % 11;
		if (bpfvm_opinfo[op].key != K_OFF)
			p[i].off = (int16_t)rand_field(x);
		if (bpfvm_opinfo[op].key != K_IMM)
			p[i].imm = (int32_t)rand_field(x);
		p[i + 1].imm = (int32_t)rand_field(x);
		switch (bpfvm_opinfo[op].fmt) {
		case F_JA: case F_JMP_K: case F_JMP_X: p[i].off = 0; break;
		case F_JA32: p[i].imm = 0; break;
		default: break;
		}
		if (bpfvm_check_insn(p, i + 2, i, err, sizeof(err)) == op)
			return;
	}
}

/* Random operands for every row the kernel takes: 100 programs of 60. */
START_TEST(random_operands_match_the_kernel)
{
	if (!kernel_here())
		return;
	char *log = malloc(KLOG_SIZE);
	ck_assert_ptr_nonnull(log);
	int ops[OP__COUNT], nops = 0;
	for (int op = 0; op < OP__COUNT; op++) {
		const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
		if (oi->fmt == F_CALLX || oi->fmt == F_EXIT ||
		    (oi->fmt == F_CALL && oi->keyval) ||
		    (oi->fmt == F_LDDW && oi->keyval))
			continue;
		ops[nops++] = op;
	}
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int lines = 0;
	for (int prog = 0; prog < 100; prog++) {
		struct bpfvm_insn p[64];
		size_t n = 0;
		p[n++] = I(0xbf, 6, 1, 0, 0);
		while (n < 60) {
			rand_insn(ops[next_rand(&x) % (uint64_t)nops], &x, p, n);
			n += p[n].code == 0x18 ? 2 : 1;
		}
		p[n++] = I(0x95, 0, 0, 0, 0);
		unsigned char seen[64] = { 0 };
		lines += compare_with_kernel(p, n, seen, log);
		for (size_t i = 0; i < n; i += p[i].code == 0x18 ? 2 : 1)
			ck_assert_msg(seen[i], "program %d: the kernel did not "
				      "print insn %zu", prog, i);
	}
	free(log);
	printf("kernel: random operands, %d lines identical\n", lines);
}
END_TEST

/* Every helper number the kernel knows, and a few past the end, by name. */
START_TEST(helper_names_match_the_kernel)
{
	if (!kernel_here())
		return;
	enum { N = BPFVM_HELPER_MAX + 4 };
	struct bpfvm_insn p[N + 2];
	unsigned char seen[N + 2] = { 0 };
	for (int k = 0; k < N; k++)
		p[k] = I(0x85, 0, 0, 0, k);
	p[N] = I(0xb7, 0, 0, 0, 0);
	p[N + 1] = I(0x95, 0, 0, 0, 0);
	char *log = malloc(KLOG_SIZE);
	ck_assert_ptr_nonnull(log);
	compare_with_kernel(p, N + 2, seen, log);
	free(log);
	for (int k = 0; k < N; k++)
		ck_assert_msg(seen[k], "the kernel did not print call #%d", k);
}
END_TEST

/* ---- round trip through the assembler ---------------------------------- */

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

START_TEST(conformance_round_trip)
{
	const char *shared = tu_env("BPFVM_SHARED", NULL);
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/conformance/tests", shared);
	struct dirent **ents;
	int ne = scandir(dir, &ents, NULL, by_name);
	ck_assert_msg(ne > 0, "%s: %s", dir, strerror(errno));
	int files = 0, same = 0, invalid = 0;
	char first[512] = "";
	for (int e = 0; e < ne; e++) {
		const char *name = ents[e]->d_name;
		if (!tu_data_file(ents[e])) {
			free(ents[e]);
			continue;
		}
		char path[8192], err[256] = "";
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		files++;
		struct bpfvm_conf_test t;
		memset(&t, 0, sizeof(t));
		if (bpfvm_conf_parse(path, &t, err, sizeof(err)) < 0) {
			if (!*first)
				snprintf(first, sizeof(first), "%.100s: parse: %.300s",
					 name, err);
			free(ents[e]);
			continue;
		}
		int rc;
		char *text = disasm_text(t.insns, t.n, &rc);
		if (rc < 0) {
			/* a deliberately invalid program: no syntax for it */
			invalid++;
			same++;
		} else {
			struct bpfvm_insn *back = NULL;
			size_t nb = 0;
			if (bpfvm_asm(text, &back, &nb, err, sizeof(err)) < 0) {
				if (!*first)
					snprintf(first, sizeof(first),
						 "%.100s: asm: %.300s", t.name, err);
			} else if (nb != t.n ||
				   memcmp(back, t.insns, nb * sizeof(*back))) {
				size_t k = 0;
				while (k < nb && k < t.n &&
				       !memcmp(&back[k], &t.insns[k], sizeof(*back)))
					k++;
				if (!*first)
					snprintf(first, sizeof(first),
						 "%.100s: insn %zu differs", t.name, k);
			} else {
				same++;
			}
			free(back);
		}
		free(text);
		bpfvm_conf_free(&t);
		free(ents[e]);
	}
	free(ents);
	printf("round trip: %d of %d files (%d invalid programs not "
	       "assembled)\n", same, files, invalid);
	ck_assert_int_ge(files, 300);
	ck_assert_msg(same == files, "%d of %d differ; first: %s",
		      files - same, files, first);
}
END_TEST

/* Every variant the kernel is shown, plus the forms it is not (callx, the
 * kfunc call, the pseudo ld_imm64s, which the kernel's syntax cannot tell
 * apart from their plain forms: those must at least assemble). */
START_TEST(every_variant_round_trips)
{
	int bad = 0;
	char first[512] = "";
	for (int op = 0; op < OP__COUNT; op++) {
		struct bpfvm_insn v[8][2];
		int nv = row_variants(op, v);
		if (!nv) {
			from_row(op, v[0]);
			nv = 1;
		}
		int lossy = bpfvm_opinfo[op].fmt == F_LDDW && bpfvm_opinfo[op].keyval;
		lossy |= op == OP_CALL_KFUNC;
		for (int k = 0; k < nv; k++) {
			size_t n = v[k][0].code == 0x18 ? 2 : 1;
			char text[128], line[160], err[256] = "";
			struct bpfvm_insn *back = NULL;
			size_t nb = 0;
			ck_assert_int_eq(bpfvm_disasm_insn(v[k], n, 0, text,
							   sizeof(text)), (int)n);
			/* as bpfvm_disasm prints it: the opcode byte tells
			 * ld_imm64 "r0 = 0x11" from mov */
			snprintf(line, sizeof(line), "0: (%02x) %s", v[k][0].code,
				 text);
			int rc = bpfvm_asm(line, &back, &nb, err, sizeof(err));
			if (rc == 0 && lossy)
				rc = nb == n ? 0 : -1;
			else if (rc == 0)
				rc = nb == n && !memcmp(back, v[k], n * sizeof(*back))
					     ? 0 : -1;
			if (rc && !bad++)
				snprintf(first, sizeof(first), "%s \"%s\": %s",
					 bpfvm_opinfo[op].name, line,
					 *err ? err : "other bytes");
			if (rc)
				printf("round trip: %s \"%s\": %s\n",
				       bpfvm_opinfo[op].name, line,
				       *err ? err : "other bytes");
			free(back);
		}
	}
	ck_assert_msg(!bad, "%d forms do not round trip; first: %s", bad, first);
}
END_TEST

/* ---- DOT ----------------------------------------------------------------- */

/* noinline: gcc -O3 otherwise mistakes the memstream's buffer for a
 * pointer to the local `text` (-Wdangling-pointer). */
static __attribute__((noinline)) char *dot_text(const struct bpfvm_insn *p,
						 size_t n, int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	*rc = bpfvm_disasm_dot(p, n, f);
	fclose(f);
	return text;
}

/* Braces balance outside quoted strings, quotes close. */
static void check_dot_syntax(const char *s)
{
	int depth = 0, quoted = 0;
	ck_assert_msg(!strncmp(s, "digraph ", 8), "%s", s);
	for (; *s; s++) {
		if (quoted && *s == '\\' && s[1])
			s++;
		else if (*s == '"')
			quoted = !quoted;
		else if (!quoted && *s == '{')
			depth++;
		else if (!quoted && *s == '}')
			ck_assert_int_ge(--depth, 0);
	}
	ck_assert_int_eq(quoted, 0);
	ck_assert_int_eq(depth, 0);
}

/* Does graphviz, if installed, accept it? */
static void check_with_graphviz(const char *s)
{
	if (access("/usr/bin/dot", X_OK))
		return;
	char path[] = "/tmp/bpfvm-dot-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "/usr/bin/dot -Tcanon %s >/dev/null", path);
	int st = system(cmd);
	unlink(path);
	ck_assert_msg(st == 0, "dot rejected the graph");
}

static int count(const char *s, const char *what)
{
	int k = 0;
	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		k++;
	return k;
}

/* 0: r0 = 0; 1: if r1 == 0 goto 4; 2: r0 = 1; 3: goto 5; 4: r0 = 2;
 * 5: exit.  Blocks {0,1} {2,3} {4} {5} are bb_2..bb_5; by hand the edges
 * are ENTRY->2, 2->3 (fall), 2->4 (taken), 3->5, 4->5, 5->EXIT. */
START_TEST(dot_if_else)
{
	struct bpfvm_insn p[] = {
		I(0xb7, 0, 0, 0, 0), I(0x15, 1, 0, 2, 0), I(0xb7, 0, 0, 0, 1),
		I(0x05, 0, 0, 1, 0), I(0xb7, 0, 0, 0, 2), I(0x95, 0, 0, 0, 0),
	};
	int rc;
	char *s = dot_text(p, 6, &rc);
	ck_assert_int_eq(rc, 0);
	check_dot_syntax(s);
	ck_assert_int_eq(count(s, "subgraph"), 1);
	ck_assert_int_eq(count(s, "[shape="), 6);
	ck_assert_int_eq(count(s, "shape=record"), 4);
	ck_assert_int_eq(count(s, "style=\"solid,bold\""), 6);
	static const char *const edges[] = { "0:s -> fn_0_bb_2:n",
		"2:s -> fn_0_bb_3:n", "2:s -> fn_0_bb_4:n",
		"3:s -> fn_0_bb_5:n", "4:s -> fn_0_bb_5:n",
		"5:s -> fn_0_bb_1:n" };
	for (size_t k = 0; k < sizeof(edges) / sizeof(*edges); k++)
		ck_assert_msg(count(s, edges[k]) == 1, "no edge %s in\n%s",
			      edges[k], s);
	/* the comparison's '=' and the jump's text, escaped for a record */
	ck_assert_ptr_nonnull(strstr(s, "   1: (15) if r1 == 0x0 goto pc+2\\l"));
	check_with_graphviz(s);
	free(s);
}
END_TEST

/* A local call makes a second cluster; a helper call does not end a
 * block; ld_imm64 stays one line. */
START_TEST(dot_subprogram)
{
	struct bpfvm_insn p[] = {
		I(0x85, 0, 1, 0, 4),                   /* call pc+4 -> 5 */
		LDDW_LO(1, 0x100000002), LDDW_HI(0x100000002),
		I(0xa5, 1, 0, 0, 7),                   /* if r1 < 7 goto +0 */
		I(0x95, 0, 0, 0, 0),
		I(0x85, 0, 0, 0, 7), I(0x95, 0, 0, 0, 0),
	};
	int rc;
	char *s = dot_text(p, 7, &rc);
	ck_assert_int_eq(rc, 0);
	check_dot_syntax(s);
	ck_assert_int_eq(count(s, "subgraph"), 2);
	ck_assert_int_eq(count(s, "label=\"ENTRY\""), 2);
	ck_assert_int_eq(count(s, "label=\"EXIT\""), 2);
	/* func 0: {0..3} {4}; func 1: {5,6} */
	ck_assert_int_eq(count(s, "shape=record"), 3);
	ck_assert_int_eq(count(s, "   1: (18) r1 = 0x100000002\\l"), 1);
	ck_assert_int_eq(count(s, "(00)"), 0);
	ck_assert_int_eq(count(s, "fn_0_bb_2:s -> fn_0_bb_3:n"), 2);
	ck_assert_int_eq(count(s, "fn_1_bb_2:s -> fn_1_bb_1:n"), 1);
	ck_assert_int_eq(count(s, "if r1 \\< 0x7"), 1);
	check_with_graphviz(s);
	free(s);
}
END_TEST

START_TEST(dot_rejects_bad_programs)
{
	struct bpfvm_insn out_of_range[] = { I(0x05, 0, 0, 5, 0),
					     I(0x95, 0, 0, 0, 0) };
	struct bpfvm_insn into_lddw[] = { I(0x05, 0, 0, 1, 0), LDDW_LO(0, 1),
					  LDDW_HI(1), I(0x95, 0, 0, 0, 0) };
	struct bpfvm_insn unknown[] = { I(0x8f, 0, 0, 0, 0),
					I(0x95, 0, 0, 0, 0) };
	int rc;
	free(dot_text(out_of_range, 2, &rc));
	ck_assert_int_eq(rc, -EINVAL);
	free(dot_text(into_lddw, 4, &rc));
	ck_assert_int_eq(rc, -EINVAL);
	free(dot_text(unknown, 2, &rc));
	ck_assert_int_eq(rc, -EINVAL);
	char *s = dot_text(NULL, 0, &rc);
	ck_assert_int_eq(rc, 0);
	check_dot_syntax(s);
	ck_assert_int_eq(count(s, "->"), 0);
	free(s);
}
END_TEST

/* ---- malformed input ----------------------------------------------------- */

START_TEST(invalid_instructions)
{
	char buf[128];
	struct bpfvm_insn unknown[] = { I(0x8f, 0, 0, 0, 0) };
	ck_assert_int_eq(bpfvm_disasm_insn(unknown, 1, 0, buf, sizeof(buf)),
			 -EINVAL);
	ck_assert_str_eq(buf, "invalid: unknown opcode 8f");

	struct bpfvm_insn reserved[] = { I(0xb7, 0, 1, 0, 0) };
	ck_assert_int_eq(bpfvm_disasm_insn(reserved, 1, 0, buf, sizeof(buf)),
			 -EINVAL);
	ck_assert_str_eq(buf, "invalid: BPF_MOV uses reserved fields");

	struct bpfvm_insn atomic[] = { I(0xdb, 10, 1, -8, 0x10) };
	ck_assert_int_eq(bpfvm_disasm_insn(atomic, 1, 0, buf, sizeof(buf)),
			 -EINVAL);
	ck_assert_str_eq(buf, "invalid: BPF_ATOMIC uses invalid atomic opcode 10");

	struct bpfvm_insn truncated[] = { LDDW_LO(0, 1) };
	ck_assert_int_eq(bpfvm_disasm_insn(truncated, 1, 0, buf, sizeof(buf)),
			 -EINVAL);
	ck_assert_str_eq(buf, "invalid: invalid bpf_ld_imm64 insn");

	ck_assert_int_eq(bpfvm_disasm_insn(unknown, 1, 1, buf, sizeof(buf)),
			 -EINVAL);
	ck_assert_int_eq(bpfvm_disasm_insn(NULL, 0, 0, buf, sizeof(buf)),
			 -EINVAL);
}
END_TEST

/* bpfvm_disasm prints invalid instructions and goes on. */
START_TEST(listing_goes_on_after_invalid)
{
	struct bpfvm_insn p[] = { I(0x8f, 0, 0, 0, 0), I(0xb7, 0, 0, 0, 2),
				  LDDW_LO(3, 7) };
	int rc;
	char *text = disasm_text(p, 3, &rc);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_str_eq(text, "0: (8f) invalid: unknown opcode 8f\n"
			       "1: (b7) r0 = 2\n"
			       "2: (18) invalid: invalid bpf_ld_imm64 insn\n");
	free(text);
	text = disasm_text(p, 0, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(text, "");
	free(text);
	ck_assert_int_eq(bpfvm_disasm(NULL, 1, stdout), -EINVAL);
}
END_TEST

/* Every length of buffer: NUL-terminated prefix, nothing written past it. */
START_TEST(tiny_buffers_truncate_safely)
{
	for (int op = 0; op < OP__COUNT; op++) {
		struct bpfvm_insn p[2];
		char full[128], buf[130];
		/* long operands where the format allows them */
		from_row(op, p);
		p[0].dst_reg = 10;
		if (!p[0].off)
			p[0].off = -32768;
		int used = bpfvm_disasm_insn(p, 2, 0, full, sizeof(full));
		if (used < 0) {
			from_row(op, p);
			used = bpfvm_disasm_insn(p, 2, 0, full, sizeof(full));
		}
		ck_assert_int_gt(used, 0);
		size_t fl = strlen(full);
		for (size_t len = 0; len <= fl + 1; len++) {
			memset(buf, 'X', sizeof(buf));
			ck_assert_int_eq(bpfvm_disasm_insn(p, 2, 0, len ? buf : NULL,
							   len), used);
			if (len) {
				ck_assert_uint_eq(strlen(buf), len - 1 < fl ? len - 1 : fl);
				ck_assert(!strncmp(buf, full, strlen(buf)));
			}
			ck_assert_int_eq(buf[len + (len == 0)], 'X');
		}
	}
}
END_TEST

/* Random words: never a crash; -EINVAL exactly when the decoder refuses;
 * the DOT graph is either refused or well formed. */
START_TEST(random_words)
{
	uint64_t x = 0x2545f4914f6cdd1dull;
	struct bpfvm_insn p[16];
	int graphs = 0;
	for (int round = 0; round < 20000; round++) {
		size_t n = 1 + next_rand(&x) % 16;
		for (size_t i = 0; i < n; i++) {
			uint64_t w = next_rand(&x);
			memcpy(&p[i], &w, sizeof(w));
			if (!(w & 3))
				continue;
			/* mostly: a table row with small, often zero, operands */
			struct bpfvm_insn row[2];
			from_row((int)((w >> 8) % OP__COUNT), row);
			p[i] = row[0];
			if (w & 0x10000)
				p[i].dst_reg = (w >> 20) % 11;
			if (w & 0x20000 && !p[i].src_reg)
				p[i].src_reg = (w >> 24) % 11;
			if (w & 0x40000 && !p[i].off)
				p[i].off = (int16_t)((w >> 28) % 8) - 4;
			if (w & 0x80000 && !p[i].imm)
				p[i].imm = (int32_t)((w >> 32) % 8) - 4;
		}
		char buf[128], err[128];
		for (size_t i = 0; i < n; i++) {
			int used = bpfvm_disasm_insn(p, n, i, buf, sizeof(buf));
			int op = bpfvm_check_insn(p, n, i, err, sizeof(err));
			ck_assert_int_eq(used < 0, op < 0);
			ck_assert(memchr(buf, 0, sizeof(buf)) != NULL);
		}
		int rc;
		char *s = dot_text(p, n, &rc);
		if (rc == 0) {
			check_dot_syntax(s);
			if (graphs++ % 50 == 0)
				check_with_graphviz(s);
		} else
			ck_assert_int_eq(rc, -EINVAL);
		free(s);
	}
	printf("random words: %d graphs drawn\n", graphs);
	ck_assert_int_gt(graphs, 100);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("disasm");
	TCase *tc = tcase_create("text");
	tcase_add_loop_test(tc, golden_lines, 0,
			    (int)(sizeof(golden) / sizeof(*golden)));
	tcase_add_test(tc, listing_format);
	tcase_add_test(tc, every_row_prints_distinctly);
	tcase_add_test(tc, invalid_instructions);
	tcase_add_test(tc, listing_goes_on_after_invalid);
	tcase_add_test(tc, tiny_buffers_truncate_safely);
	suite_add_tcase(s, tc);

	tc = tcase_create("dot");
	/* random_words runs graphviz: seconds, more on a loaded machine than
	 * Check's default 4 s */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dot_if_else);
	tcase_add_test(tc, dot_subprogram);
	tcase_add_test(tc, dot_rejects_bad_programs);
	tcase_add_test(tc, random_words);
	suite_add_tcase(s, tc);

	/* prints "SKIP: reason" and passes when bpf(2) is unavailable */
	tc = tcase_create("kernel");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_row_matches_the_kernel);
	tcase_add_test(tc, random_operands_match_the_kernel);
	tcase_add_test(tc, helper_names_match_the_kernel);
	suite_add_tcase(s, tc);

	tc = tcase_create("round_trip");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, conformance_round_trip);
	tcase_add_test(tc, every_variant_round_trips);
	suite_add_tcase(s, tc);

	return tu_run_suite(s);
}
