/* The disassembler: the kernel verifier log's syntax (kernel/bpf/disasm.c,
 * print_bpf_insn, Linux 6.18, as the verifier calls it: helper names, no
 * map or kfunc resolution), and a DOT control-flow graph in the style of
 * `bpftool prog dump xlated visual`.
 *
 * One printer per operand format; the operator, comparison, byte-swap name
 * or memory type comes from the KSYM column of vm/opcodes.def.
 *
 * Where bpfvm prints differently from the kernel, on purpose:
 *   - callx (0x8d) does not exist in the kernel: "callx r2" (LLVM's syntax);
 *   - ld_imm64 prints the raw 64-bit value for every pseudo source, as the
 *     verifier's formula does before the map fd became a pointer;
 *   - kfunc calls print "call kernel-function#IMM" (the kernel names them
 *     from BTF, which bpfvm does not have).
 *
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_asm.h"
#include "insn.h"

#define BPF_FETCH 0x01
#define LINE_MAX_LEN 160 /* longer than any instruction's text */

static const char *const mem_type[4] = { "u32", "u16", "u8", "u64" };

static char reg_prefix(uint8_t code)
{
	return bpfvm_is_alu32(code) || bpfvm_is_jmp32(code) ? 'w' : 'r';
}

typedef int (*printer)(char *b, size_t len, const struct bpfvm_insn *in,
		       const struct bpfvm_opinfo *oi);

static int p_alu_k(char *b, size_t len, const struct bpfvm_insn *in,
		   const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "%c%d %s %" PRId32, reg_prefix(in->code),
			in->dst_reg, oi->ksym, in->imm);
}

static int p_alu_x(char *b, size_t len, const struct bpfvm_insn *in,
		   const struct bpfvm_opinfo *oi)
{
	char w = reg_prefix(in->code);
	/* movsx: its KSYM is the source type, "s8" */
	if ((in->code & 0xf0) == 0xb0 && oi->keyval)
		return snprintf(b, len, "%c%d = (%s)%c%d", w, in->dst_reg,
				oi->ksym, w, in->src_reg);
	return snprintf(b, len, "%c%d %s %c%d", w, in->dst_reg, oi->ksym, w,
			in->src_reg);
}

static int p_neg(char *b, size_t len, const struct bpfvm_insn *in,
		 const struct bpfvm_opinfo *oi)
{
	char w = reg_prefix(in->code);
	(void)oi;
	return snprintf(b, len, "%c%d = -%c%d", w, in->dst_reg, w, in->dst_reg);
}

/* le16/be32/bswap64: always 'r', whatever the class */
static int p_end(char *b, size_t len, const struct bpfvm_insn *in,
		 const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "r%d = %s r%d", in->dst_reg, oi->ksym,
			in->dst_reg);
}

static int p_ja(char *b, size_t len, const struct bpfvm_insn *in,
		const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "%s pc%+d", oi->ksym, in->off);
}

static int p_ja32(char *b, size_t len, const struct bpfvm_insn *in,
		  const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "%s pc%+" PRId32, oi->ksym, in->imm);
}

/* the immediate of a compare is printed as unsigned hex */
static int p_jmp_k(char *b, size_t len, const struct bpfvm_insn *in,
		   const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "if %c%d %s 0x%" PRIx32 " goto pc%+d",
			reg_prefix(in->code), in->dst_reg, oi->ksym,
			(uint32_t)in->imm, in->off);
}

static int p_jmp_x(char *b, size_t len, const struct bpfvm_insn *in,
		   const struct bpfvm_opinfo *oi)
{
	char w = reg_prefix(in->code);
	return snprintf(b, len, "if %c%d %s %c%d goto pc%+d", w, in->dst_reg,
			oi->ksym, w, in->src_reg, in->off);
}

static int p_call(char *b, size_t len, const struct bpfvm_insn *in,
		  const struct bpfvm_opinfo *oi)
{
	(void)oi;
	if (in->src_reg == 1)
		return snprintf(b, len, "call pc%+" PRId32, in->imm);
	if (in->src_reg == 2)
		return snprintf(b, len, "call kernel-function#%" PRId32,
				in->imm);
	const char *name = bpfvm_helper_name((uint32_t)in->imm);
	return snprintf(b, len, "call %s%s#%" PRId32, name ? "bpf_" : "",
			name ? name : "unknown", in->imm);
}

static int p_callx(char *b, size_t len, const struct bpfvm_insn *in,
		   const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "%s r%d", oi->ksym, in->dst_reg);
}

static int p_exit(char *b, size_t len, const struct bpfvm_insn *in,
		  const struct bpfvm_opinfo *oi)
{
	(void)in;
	return snprintf(b, len, "%s", oi->ksym);
}

static int p_lddw(char *b, size_t len, const struct bpfvm_insn *in,
		  const struct bpfvm_opinfo *oi)
{
	(void)oi;
	return snprintf(b, len, "r%d = 0x%" PRIx64, in->dst_reg,
			bpfvm_lddw_value(in));
}

static int p_ldabs(char *b, size_t len, const struct bpfvm_insn *in,
		   const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "r0 = *(%s *)skb[%" PRId32 "]", oi->ksym,
			in->imm);
}

static int p_ldind(char *b, size_t len, const struct bpfvm_insn *in,
		   const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "r0 = *(%s *)skb[r%d + %" PRId32 "]",
			oi->ksym, in->src_reg, in->imm);
}

static int p_ldx(char *b, size_t len, const struct bpfvm_insn *in,
		 const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "r%d = *(%s *)(r%d %+d)", in->dst_reg,
			oi->ksym, in->src_reg, in->off);
}

static int p_st(char *b, size_t len, const struct bpfvm_insn *in,
		const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "*(%s *)(r%d %+d) = %" PRId32, oi->ksym,
			in->dst_reg, in->off, in->imm);
}

static int p_stx(char *b, size_t len, const struct bpfvm_insn *in,
		 const struct bpfvm_opinfo *oi)
{
	return snprintf(b, len, "*(%s *)(r%d %+d) = r%d", oi->ksym,
			in->dst_reg, in->off, in->src_reg);
}

/* The compound-assignment operator of an atomic's ALU operation: the KSYM
 * of the ALU64 row with that operation nibble ("+=" for add). */
static const char *atomic_alu_sym(int32_t imm)
{
	uint8_t code = (uint8_t)((imm & 0xf0) | BPF_ALU64);
	for (int op = 0; op < OP__COUNT; op++)
		if (bpfvm_opinfo[op].code == code && bpfvm_opinfo[op].keyval == 0)
			return bpfvm_opinfo[op].ksym;
	return "?";
}

/* Registers are always 'r', even for the 32-bit forms. */
static int p_atomic(char *b, size_t len, const struct bpfvm_insn *in,
		    const struct bpfvm_opinfo *oi)
{
	const char *sz = mem_type[BPF_SIZE(in->code) >> 3];
	const char *w64 = BPF_SIZE(in->code) == BPF_DW ? "64" : "";
	int d = in->dst_reg, s = in->src_reg, off = in->off;

	if (!strcmp(oi->ksym, "cmpxchg"))
		return snprintf(b, len,
				"r0 = atomic%s_cmpxchg((%s *)(r%d %+d), r0, r%d)",
				w64, sz, d, off, s);
	if (!strcmp(oi->ksym, "xchg"))
		return snprintf(b, len, "r%d = atomic%s_xchg((%s *)(r%d %+d), r%d)",
				s, w64, sz, d, off, s);
	if (in->imm & BPF_FETCH)
		return snprintf(b, len,
				"r%d = atomic%s_fetch_%s((%s *)(r%d %+d), r%d)",
				s, w64, oi->ksym, sz, d, off, s);
	return snprintf(b, len, "lock *(%s *)(r%d %+d) %s r%d", sz, d, off,
			atomic_alu_sym(in->imm), s);
}

static const printer printers[F_ATOMIC + 1] = {
	[F_ALU_K] = p_alu_k, [F_ALU_X] = p_alu_x, [F_NEG] = p_neg,
	[F_END] = p_end,     [F_JA] = p_ja,       [F_JA32] = p_ja32,
	[F_JMP_K] = p_jmp_k, [F_JMP_X] = p_jmp_x, [F_CALL] = p_call,
	[F_CALLX] = p_callx, [F_EXIT] = p_exit,   [F_LDDW] = p_lddw,
	[F_LDABS] = p_ldabs, [F_LDIND] = p_ldind, [F_LDX] = p_ldx,
	[F_ST] = p_st,       [F_STX] = p_stx,     [F_ATOMIC] = p_atomic,
};

int bpfvm_disasm_insn(const struct bpfvm_insn *insns, size_t n, size_t i,
		      char *buf, size_t len)
{
	char err[128];
	int op;

	if (!insns || i >= n) {
		snprintf(buf, len, "invalid: no instruction %zu", i);
		return -EINVAL;
	}
	op = bpfvm_check_insn(insns, n, i, err, sizeof(err));
	if (op < 0) {
		snprintf(buf, len, "invalid: %s", err);
		return -EINVAL;
	}
	const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
	printers[oi->fmt](buf, len, &insns[i], oi);
	return oi->fmt == F_LDDW ? 2 : 1;
}

int bpfvm_disasm(const struct bpfvm_insn *insns, size_t n, FILE *out)
{
	char line[LINE_MAX_LEN];
	int rc = 0;

	if (!out || (!insns && n))
		return -EINVAL;
	for (size_t i = 0; i < n;) {
		int used = bpfvm_disasm_insn(insns, n, i, line, sizeof(line));
		fprintf(out, "%zu: (%02x) %s\n", i, insns[i].code, line);
		if (used < 0) {
			rc = -EINVAL;
			used = 1;
		}
		i += (size_t)used;
	}
	return ferror(out) ? -EIO : rc;
}

/* ---- the control-flow graph ---------------------------------------------
 * Blocks start at instruction 0, at every jump target and local-call
 * target, and after every jump and exit.  A local-call target also starts
 * a function (a DOT cluster, as bpftool draws subprograms).  Each function
 * has ENTRY (block 0) and EXIT (block 1) nodes; its code blocks count from
 * 2.  Unlike bpftool, instruction indices in the labels are absolute, as
 * bpfvm_disasm prints them. */

enum { BB_ENTRY, BB_EXIT, BB_FIRST };
enum { L_BLOCK = 1, L_FUNC = 2, L_SLOT2 = 4 }; /* per-instruction marks */

struct cfg {
	const struct bpfvm_insn *insns;
	size_t n;
	unsigned char *mark;
	uint32_t *func;  /* function of each instruction */
	uint32_t *bb;    /* block number of each instruction, in its function */
};

#define NO_TARGET INT64_MIN

/* Where instruction i jumps or calls to: an index, possibly out of range,
 * or NO_TARGET. */
static int64_t jump_target(const struct bpfvm_insn *in, int fmt, size_t i)
{
	switch (fmt) {
	case F_JA: case F_JMP_K: case F_JMP_X:
		return (int64_t)i + 1 + in->off;
	case F_JA32:
		return (int64_t)i + 1 + in->imm;
	case F_CALL:
		return in->src_reg == 1 ? (int64_t)i + 1 + in->imm : NO_TARGET;
	default:
		return NO_TARGET;
	}
}

static int fmt_of(const struct cfg *g, size_t i)
{
	return bpfvm_opinfo[bpfvm_decode_op(&g->insns[i])].fmt;
}

/* How each format ends a block; zero: it does not (control goes on). */
enum { BR_JUMP = 1, BR_STOP = 2, BR_EXIT = 4 };
static const unsigned char branch[F_ATOMIC + 1] = {
	[F_JA] = BR_JUMP | BR_STOP,  [F_JA32] = BR_JUMP | BR_STOP,
	[F_JMP_K] = BR_JUMP,         [F_JMP_X] = BR_JUMP,
	[F_EXIT] = BR_EXIT | BR_STOP,
};

/* Mark block and function starts; -EINVAL for an invalid instruction or a
 * target outside the program or inside an ld_imm64. */
static int cfg_mark(struct cfg *g)
{
	char err[128];
	g->mark[0] = L_BLOCK | L_FUNC;
	for (size_t i = 0; i < g->n; i++) {
		if (g->mark[i] & L_SLOT2)
			continue;
		int op = bpfvm_check_insn(g->insns, g->n, i, err, sizeof(err));
		if (op < 0)
			return -EINVAL;
		int fmt = bpfvm_opinfo[op].fmt;
		if (fmt == F_LDDW)
			g->mark[i + 1] |= L_SLOT2;
		int64_t t = jump_target(&g->insns[i], fmt, i);
		if (t != NO_TARGET) {
			if (t < 0 || (uint64_t)t >= g->n)
				return -EINVAL;
			g->mark[t] |= fmt == F_CALL ? L_BLOCK | L_FUNC : L_BLOCK;
		}
		if (branch[fmt] && i + 1 < g->n)
			g->mark[i + 1] |= L_BLOCK;
	}
	for (size_t i = 0; i < g->n; i++)
		if ((g->mark[i] & L_SLOT2) && (g->mark[i] & L_BLOCK))
			return -EINVAL;
	uint32_t f = 0, b = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (i && (g->mark[i] & L_FUNC)) {
			f++;
			b = 0;
		}
		if (g->mark[i] & L_BLOCK)
			b++;
		g->func[i] = f;
		g->bb[i] = BB_FIRST + b - 1;
	}
	return 0;
}

/* bpftool escapes these in record labels */
static void put_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (strchr("<>|&{}\"\\", *s))
			fputc('\\', out);
		fputc(*s, out);
	}
}

static void put_block(const struct cfg *g, size_t start, size_t end, FILE *out)
{
	char line[LINE_MAX_LEN];
	fprintf(out, "\tfn_%" PRIu32 "_bb_%" PRIu32
		" [shape=record,style=filled,label=\"{\\\n",
		g->func[start], g->bb[start]);
	for (size_t i = start; i < end;) {
		int used = bpfvm_disasm_insn(g->insns, g->n, i, line,
					     sizeof(line));
		if (i != start)
			fputs(" | ", out);
		fprintf(out, "%4zu: (%02x) ", i, g->insns[i].code);
		put_escaped(out, line);
		fputs("\\l\\\n", out);
		i += used > 0 ? (size_t)used : 1;
	}
	fputs("}\"];\n\n", out);
}

static void put_edge(FILE *out, uint32_t f1, uint32_t b1, uint32_t f2,
		     uint32_t b2)
{
	fprintf(out, "\tfn_%" PRIu32 "_bb_%" PRIu32 ":s -> fn_%" PRIu32
		"_bb_%" PRIu32 ":n [style=\"solid,bold\", color=black, "
		"weight=10, constraint=true];\n", f1, b1, f2, b2);
}

/* Edges out of the block [start, end) whose last instruction is last. */
static void put_succs(const struct cfg *g, size_t start, size_t end,
		      size_t last, FILE *out)
{
	uint32_t f = g->func[start], b = g->bb[start];
	int fmt = fmt_of(g, last);
	int64_t t = jump_target(&g->insns[last], fmt, last);

	if (branch[fmt] & BR_EXIT)
		put_edge(out, f, b, f, BB_EXIT);
	/* falling out of a function (or the program) has nowhere to go */
	if (!(branch[fmt] & BR_STOP) && end < g->n && g->func[end] == f)
		put_edge(out, f, b, f, g->bb[end]);
	if (branch[fmt] & BR_JUMP)
		put_edge(out, f, b, g->func[t], g->bb[t]);
}

static void put_func(const struct cfg *g, size_t fstart, size_t fend,
		     FILE *out)
{
	uint32_t f = g->func[fstart];
	fprintf(out, "subgraph \"cluster_%" PRIu32 "\" {\n\tstyle=\"dashed\";\n"
		"\tcolor=\"black\";\n\tlabel=\"func_%" PRIu32 " ()\";\n", f, f);
	fprintf(out, "\tfn_%" PRIu32 "_bb_%d [shape=Mdiamond,style=filled,"
		"label=\"ENTRY\"];\n\n", f, BB_ENTRY);
	for (size_t s = fstart; s < fend;) {
		size_t e = s + 1;
		while (e < fend && !(g->mark[e] & L_BLOCK))
			e++;
		put_block(g, s, e, out);
		s = e;
	}
	fprintf(out, "\tfn_%" PRIu32 "_bb_%d [shape=Mdiamond,style=filled,"
		"label=\"EXIT\"];\n\n", f, BB_EXIT);
	put_edge(out, f, BB_ENTRY, f, BB_FIRST);
	for (size_t s = fstart; s < fend;) {
		size_t e = s + 1, last = s;
		while (e < fend && !(g->mark[e] & L_BLOCK)) {
			if (!(g->mark[e] & L_SLOT2))
				last = e;
			e++;
		}
		put_succs(g, s, e, last, out);
		s = e;
	}
	/* as bpftool: an invisible edge for a better layout */
	fprintf(out, "\tfn_%" PRIu32 "_bb_%d:s -> fn_%" PRIu32 "_bb_%d:n "
		"[style=\"invis\", constraint=true];\n}\n",
		f, BB_ENTRY, f, BB_EXIT);
}

int bpfvm_disasm_dot(const struct bpfvm_insn *insns, size_t n, FILE *out)
{
	struct cfg g = { .insns = insns, .n = n };
	int rc;

	if (!out || (!insns && n))
		return -EINVAL;
	if (n) {
		g.mark = calloc(n, 1);
		g.func = calloc(n, sizeof(*g.func));
		g.bb = calloc(n, sizeof(*g.bb));
		rc = !g.mark || !g.func || !g.bb ? -ENOMEM : cfg_mark(&g);
		if (rc)
			goto out;
	}
	fputs("digraph \"DOT graph for eBPF program\" {\n", out);
	for (size_t s = 0; s < n;) {
		size_t e = s + 1;
		while (e < n && !(g.mark[e] & L_FUNC))
			e++;
		put_func(&g, s, e, out);
		s = e;
	}
	fputs("}\n", out);
	rc = ferror(out) ? -EIO : 0;
out:
	free(g.mark);
	free(g.func);
	free(g.bb);
	return rc;
}
