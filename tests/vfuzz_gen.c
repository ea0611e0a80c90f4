/* Random verifier-test programs: see vfuzz_gen.h.
 *
 * A program is a prologue (r6 = ctx), a few snippets and an epilogue
 * (r0 = small constant; exit).  The generator keeps a rough idea of what
 * each register holds only to pick plausible operands; it never needs to
 * be right, the kernel is the judge.  Each snippet goes wrong on purpose
 * with probability g->bad percent (uninitialised reads, out-of-bounds
 * offsets, missing NULL or bounds checks, pointer misuse).
 * SPDX-License-Identifier: MIT */
#include <linux/bpf.h>
#include <string.h>
#include "vfuzz_gen.h"

enum kind { K_UNINIT, K_SCALAR, K_CTX, K_FP, K_PKT, K_PKT_END, K_MAPVAL,
	    K_MAPNULL, K_MAPPTR };

struct gen {
	struct vfuzz_prog *p;
	uint64_t *s;
	const struct vfuzz_maps *m;
	uint8_t kind[11];
	unsigned bad; /* percent */
};

uint64_t vfuzz_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint32_t rnd(struct gen *g, uint32_t n)
{
	return n ? (uint32_t)(vfuzz_rand(g->s) >> 33) % n : 0;
}

static int chance(struct gen *g, unsigned pct)
{
	return rnd(g, 100) < pct;
}

static int bad(struct gen *g)
{
	return chance(g, g->bad);
}

static const int32_t edge32[] = {
	0, 1, -1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 255, 256, 0x7fff,
	0x8000, 0xffff, 0x10000, 0x7fffffff, INT32_MIN, -2, -8, -512, 4096,
};
static const uint64_t edge64[] = {
	0, 1, ~0ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
	0xffffffffull, 0x100000000ull, 0x80000000ull, 0xffffffff80000000ull,
	0x00000000deadbeefull,
};

static int32_t edge(struct gen *g)
{
	return edge32[rnd(g, sizeof(edge32) / sizeof(edge32[0]))];
}

static void emit(struct gen *g, uint8_t code, int dst, int src, int off,
		 int32_t imm)
{
	struct vfuzz_prog *p = g->p;
	if (p->n >= VFUZZ_MAX_INSNS)
		return;
	p->insns[p->n++] = (struct bpfvm_insn){ .code = code,
		.dst_reg = (uint8_t)dst, .src_reg = (uint8_t)src,
		.off = (int16_t)off, .imm = imm };
}

static void ld64(struct gen *g, int dst, int pseudo, uint64_t v)
{
	if (g->p->n + 2 > VFUZZ_MAX_INSNS)
		return;
	emit(g, BPF_LD | BPF_DW | BPF_IMM, dst, pseudo, 0, (int32_t)(uint32_t)v);
	emit(g, 0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
}

static void mov_imm(struct gen *g, int dst, int32_t imm)
{
	emit(g, BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
	g->kind[dst] = K_SCALAR;
}

static void mov_reg(struct gen *g, int dst, int src)
{
	emit(g, BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
	g->kind[dst] = g->kind[src];
}

static void call(struct gen *g, int32_t id)
{
	emit(g, BPF_JMP | BPF_CALL, 0, 0, 0, id);
	for (int r = 1; r <= 5; r++)
		g->kind[r] = K_UNINIT;
	g->kind[0] = id == BPF_FUNC_map_lookup_elem ? K_MAPNULL : K_SCALAR;
}

/* A register holding `k`, or -1. */
static int reg_of(struct gen *g, enum kind k)
{
	int c[11], n = 0;
	for (int r = 0; r < 10; r++)
		if (g->kind[r] == k)
			c[n++] = r;
	return n ? c[rnd(g, (uint32_t)n)] : -1;
}

/* A scratch register for a result: r0-r5, r7-r9 (r6 keeps ctx). */
static int scratch(struct gen *g)
{
	static const int r[] = { 0, 1, 2, 3, 4, 5, 7, 8, 9 };
	return r[rnd(g, 9)];
}

/* A scalar source; a bad one is whatever register comes up. */
static int scalar(struct gen *g)
{
	int r = reg_of(g, K_SCALAR);
	if (bad(g))
		r = (int)rnd(g, 10);
	if (r < 0) {
		r = scratch(g);
		mov_imm(g, r, edge(g));
	}
	return r;
}

static const uint8_t sizes[] = { BPF_B, BPF_H, BPF_W, BPF_DW };
static int size_bytes(uint8_t sz)
{
	return sz == BPF_B ? 1 : sz == BPF_H ? 2 : sz == BPF_W ? 4 : 8;
}

static int ctx_reg(struct gen *g)
{
	int r = reg_of(g, K_CTX);
	return r < 0 ? 6 : r;
}

/* ---- (a) register setup ------------------------------------------------ */

static void sn_init(struct gen *g)
{
	int r = scratch(g);
	switch (rnd(g, 4)) {
	case 0: mov_imm(g, r, edge(g)); break;
	case 1:
		emit(g, BPF_ALU | BPF_MOV | BPF_K, r, 0, 0, edge(g));
		g->kind[r] = K_SCALAR;
		break;
	case 2:
		ld64(g, r, 0, edge64[rnd(g, sizeof(edge64) / sizeof(edge64[0]))]);
		g->kind[r] = K_SCALAR;
		break;
	default: /* a copy; bad: of a register never written */
		if (bad(g))
			mov_reg(g, r, 1 + (int)rnd(g, 9));
		else
			mov_reg(g, r, scalar(g));
		break;
	}
}

/* ---- (b) ALU on scalars ------------------------------------------------ */

static const uint8_t alu_ops[] = { BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR,
	BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH,
	BPF_END };

static void sn_alu(struct gen *g)
{
	int dst = reg_of(g, K_SCALAR);
	if (dst < 0 || dst == 10) {
		dst = scratch(g);
		mov_imm(g, dst, edge(g));
	}
	if (bad(g))
		dst = (int)rnd(g, 11);
	uint8_t op = alu_ops[rnd(g, sizeof(alu_ops))];
	uint8_t cls = chance(g, 30) ? BPF_ALU : BPF_ALU64;
	int n = 1 + (int)rnd(g, 3);
	for (int i = 0; i < n; i++) {
		if (op == BPF_END) {
			static const int w[] = { 16, 32, 64 };
			emit(g, BPF_ALU | BPF_END | (chance(g, 50) ? BPF_X : BPF_K),
			     dst, 0, 0, bad(g) ? 8 : w[rnd(g, 3)]);
		} else if (op == BPF_NEG) {
			emit(g, cls | op, dst, 0, 0, 0);
		} else if (chance(g, 50)) {
			int32_t imm = edge(g);
			if (op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH)
				imm = bad(g) ? 64 + (int32_t)rnd(g, 3) : (int32_t)rnd(g, cls == BPF_ALU ? 32 : 64);
			emit(g, cls | op | BPF_K, dst, 0, 0, imm);
		} else {
			emit(g, cls | op | BPF_X, dst, scalar(g), 0, 0);
		}
		op = alu_ops[rnd(g, sizeof(alu_ops))];
	}
	if (g->kind[dst] == K_UNINIT || op == BPF_MOV)
		g->kind[dst] = K_SCALAR;
}

/* ---- (c) stack ---------------------------------------------------------- */

static int stack_off(struct gen *g, int size)
{
	if (bad(g))
		return -520 + (int)rnd(g, 530);
	int off = -8 * (1 + (int)rnd(g, 64));
	return off + (chance(g, 80) ? 0 : (int)rnd(g, 8 - (unsigned)size + 1));
}

static void sn_stack(struct gen *g)
{
	uint8_t sz = sizes[rnd(g, 4)];
	int off = stack_off(g, size_bytes(sz));
	int base = 10;
	if (chance(g, 20)) { /* through a copy of the frame pointer */
		base = scratch(g);
		mov_reg(g, base, 10);
		g->kind[base] = K_FP;
		if (chance(g, 50)) {
			emit(g, BPF_ALU64 | BPF_ADD | BPF_K, base, 0, 0, off);
			off = 0;
		}
	}
	switch (rnd(g, 4)) {
	case 0:
		emit(g, BPF_ST | BPF_MEM | sz, base, 0, off, edge(g));
		break;
	case 1:
		emit(g, BPF_STX | BPF_MEM | sz, base, scalar(g), off, 0);
		break;
	case 2: { /* spill a pointer, maybe fill it back */
		int src = reg_of(g, (enum kind)(K_CTX + rnd(g, 5)));
		if (src < 0)
			src = 6;
		if (!bad(g))
			sz = BPF_DW, off &= ~7;
		emit(g, BPF_STX | BPF_MEM | sz, base, src, off, 0);
		if (chance(g, 70)) {
			int dst = scratch(g);
			uint8_t lsz = bad(g) ? sizes[rnd(g, 4)] : sz;
			emit(g, BPF_LDX | BPF_MEM | lsz, dst, base, off, 0);
			g->kind[dst] = lsz == BPF_DW && sz == BPF_DW ? g->kind[src] : K_SCALAR;
		}
		break;
	}
	default: { /* a load, initialised or not */
		int dst = scratch(g);
		if (chance(g, 60) && !bad(g))
			emit(g, BPF_ST | BPF_MEM | sz, base, 0, off, edge(g));
		emit(g, BPF_LDX | BPF_MEM | sz, dst, base, off, 0);
		g->kind[dst] = K_SCALAR;
		break;
	}
	}
}

/* ---- (d) map lookup and value access ------------------------------------ */

static void map_value_access(struct gen *g, int r, int vsize)
{
	int n = 1 + (int)rnd(g, 3);
	for (int i = 0; i < n; i++) {
		uint8_t sz = sizes[rnd(g, 4)];
		int bytes = size_bytes(sz);
		switch (rnd(g, 4)) {
		case 0: case 1: { /* constant offset */
			int off = bad(g) ? -8 + (int)rnd(g, (unsigned)vsize + 16)
					 : (int)rnd(g, (unsigned)(vsize - bytes + 1));
			if (chance(g, 50))
				emit(g, BPF_LDX | BPF_MEM | sz, r == 3 ? 9 : 3, r, off, 0);
			else
				emit(g, BPF_ST | BPF_MEM | sz, r, 0, off, edge(g));
			break;
		}
		case 2: { /* variable offset from an AND mask */
			static const int32_t masks[] = { 3, 7, 15, 31, 63, 0xff, -1 };
			int32_t mask = masks[rnd(g, bad(g) ? 7 : 4)];
			emit(g, BPF_LDX | BPF_MEM | (chance(g, 50) ? BPF_W : BPF_DW), 3, r, 0, 0);
			emit(g, (chance(g, 30) ? BPF_ALU : BPF_ALU64) | BPF_AND | BPF_K, 3, 0, 0, mask);
			emit(g, BPF_ALU64 | BPF_ADD | BPF_X, r, 3, 0, 0);
			emit(g, BPF_LDX | BPF_MEM | sz, 4, r, (int)rnd(g, 8), 0);
			g->kind[3] = g->kind[4] = K_SCALAR;
			return; /* r moved */
		}
		default: { /* variable offset bounded by a compare */
			int lim = (int)rnd(g, (unsigned)vsize + 8);
			static const uint8_t cmp[] = { BPF_JGT, BPF_JGE, BPF_JSGT, BPF_JSGE };
			emit(g, BPF_LDX | BPF_MEM | BPF_W, 3, r, 0, 0);
			emit(g, BPF_JMP | cmp[rnd(g, bad(g) ? 4 : 2)] | BPF_K, 3, 0, 2, lim);
			emit(g, BPF_ALU64 | BPF_ADD | BPF_X, r, 3, 0, 0);
			emit(g, BPF_LDX | BPF_MEM | sz, 4, r, 0, 0);
			g->kind[3] = g->kind[4] = K_SCALAR;
			return;
		}
		}
	}
}

static void sn_map(struct gen *g)
{
	int hash = chance(g, 40);
	int vsize = hash ? VFUZZ_HASH_VALUE : VFUZZ_ARRAY_VALUE;
	int ksize = hash ? 8 : 4;
	if (!bad(g))
		emit(g, BPF_ST | BPF_MEM | (hash ? BPF_DW : BPF_W), 10, 0, -ksize,
		     (int32_t)rnd(g, 6));
	emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
	emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, bad(g) ? -(int)rnd(g, 4) : -ksize);
	if (bad(g))
		mov_reg(g, 1, ctx_reg(g));
	else
		ld64(g, 1, BPF_PSEUDO_MAP_FD, (uint64_t)(hash ? g->m->hash_fd : g->m->array_fd));
	call(g, BPF_FUNC_map_lookup_elem);
	if (chance(g, 50) && !bad(g)) { /* if r0 == NULL exit */
		emit(g, BPF_JMP | BPF_JNE | BPF_K, 0, 0, 2, 0);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
		emit(g, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		g->kind[0] = K_MAPVAL;
		if (chance(g, 50)) {
			mov_reg(g, 7, 0);
			map_value_access(g, 7, vsize);
		} else {
			map_value_access(g, 0, vsize);
		}
		return;
	}
	size_t j = g->p->n;
	int check = !bad(g);
	if (check)
		emit(g, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 0, 0);
	map_value_access(g, 0, vsize);
	if (check && j < g->p->n)
		g->p->insns[j].off = (int16_t)(g->p->n - j - 1);
	g->kind[0] = K_UNINIT; /* NULL on one path: leave it alone */
}

/* ---- (e) ctx fields ----------------------------------------------------- */

static int ctx_size(struct gen *g)
{
	return g->p->prog_type == BPF_PROG_TYPE_XDP ? 24 : 192;
}

static void sn_ctx(struct gen *g)
{
	uint8_t sz = chance(g, 60) ? BPF_W : sizes[rnd(g, 4)];
	int bytes = size_bytes(sz);
	int lim = ctx_size(g);
	int off = bad(g) ? -4 + (int)rnd(g, (unsigned)lim + 16)
			 : (int)rnd(g, (unsigned)(lim / bytes)) * bytes;
	if (chance(g, 85)) { /* a u32 field every type has */
		sz = BPF_W;
		off = 4 * (int)rnd(g, lim == 24 ? 6 : 18);
	}
	int c = ctx_reg(g);
	if (chance(g, 15)) { /* a store: only some fields allow it */
		emit(g, BPF_ST | BPF_MEM | sz, c, 0, off, edge(g));
		return;
	}
	int dst = scratch(g);
	emit(g, BPF_LDX | BPF_MEM | sz, dst, c, off, 0);
	g->kind[dst] = K_SCALAR;
}

/* ---- (f) packet --------------------------------------------------------- */

static void sn_ld_abs(struct gen *g)
{
	static const uint8_t sz[] = { BPF_B, BPF_H, BPF_W };
	if (chance(g, 50)) {
		emit(g, BPF_LD | BPF_ABS | sz[rnd(g, 3)], 0, 0, 0,
		     bad(g) ? edge(g) : (int32_t)rnd(g, 64));
	} else {
		int x = scalar(g);
		emit(g, BPF_LD | BPF_IND | sz[rnd(g, 3)], 0, x, 0, (int32_t)rnd(g, 32));
	}
	for (int r = 1; r <= 5; r++)
		g->kind[r] = K_UNINIT;
	g->kind[0] = K_SCALAR;
}

static void sn_pkt(struct gen *g)
{
	int xdp = g->p->prog_type == BPF_PROG_TYPE_XDP;
	if (!xdp && chance(g, g->p->prog_type == BPF_PROG_TYPE_SCHED_CLS ? 30 : 90))
		return sn_ld_abs(g);
	int c = ctx_reg(g);
	int data = xdp ? 0 : 76, end = xdp ? 4 : 80;
	emit(g, BPF_LDX | BPF_MEM | BPF_W, 2, c, data, 0);
	emit(g, BPF_LDX | BPF_MEM | BPF_W, 3, c, end, 0);
	g->kind[2] = K_PKT;
	g->kind[3] = K_PKT_END;
	int len = 8 + (int)rnd(g, 56);
	emit(g, BPF_ALU64 | BPF_MOV | BPF_X, 4, 2, 0, 0);
	emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, len);
	g->kind[4] = K_PKT;
	size_t j = g->p->n;
	int check = !bad(g);
	if (check) {
		switch (rnd(g, 4)) {
		case 0: emit(g, BPF_JMP | BPF_JGT | BPF_X, 4, 3, 0, 0); break;
		case 1: emit(g, BPF_JMP | BPF_JLT | BPF_X, 3, 4, 0, 0); break;
		case 2: emit(g, BPF_JMP | BPF_JGE | BPF_X, 4, 3, 0, 0); break;
		default: emit(g, BPF_JMP32 | BPF_JGT | BPF_X, 4, 3, 0, 0); break;
		}
	}
	int n = 1 + (int)rnd(g, 3);
	for (int i = 0; i < n; i++) {
		uint8_t sz = sizes[rnd(g, 4)];
		int bytes = size_bytes(sz);
		int off = bad(g) || len < bytes ? (int)rnd(g, (unsigned)len + 8) - 2
						: (int)rnd(g, (unsigned)(len - bytes + 1));
		if (chance(g, 70)) {
			emit(g, BPF_LDX | BPF_MEM | sz, 5, 2, off, 0);
			g->kind[5] = K_SCALAR;
		} else {
			emit(g, BPF_ST | BPF_MEM | sz, 2, 0, off, edge(g));
		}
	}
	if (check && j < g->p->n)
		g->p->insns[j].off = (int16_t)(g->p->n - j - 1);
}

/* ---- (g) jumps and loops ------------------------------------------------ */

static const uint8_t jops[] = { BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE,
	BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE };

static size_t cond_jump(struct gen *g)
{
	uint8_t cls = chance(g, 25) ? BPF_JMP32 : BPF_JMP;
	uint8_t op = jops[rnd(g, sizeof(jops))];
	int a = scalar(g);
	size_t j = g->p->n;
	if (chance(g, 20)) { /* pointer against pointer or scalar */
		int pa = reg_of(g, K_PKT), pb = reg_of(g, K_PKT_END);
		if (pa < 0)
			pa = ctx_reg(g);
		emit(g, cls | op | BPF_X, pa, pb < 0 ? scalar(g) : pb, 0, 0);
	} else if (chance(g, 50)) {
		emit(g, cls | op | BPF_K, a, 0, 0, edge(g));
	} else {
		emit(g, cls | op | BPF_X, a, scalar(g), 0, 0);
	}
	return j;
}

static void sn_loop(struct gen *g)
{
	int r = 7 + (int)rnd(g, 3);
	mov_imm(g, r, 0);
	size_t top = g->p->n;
	emit(g, BPF_ALU64 | BPF_ADD | BPF_K, r, 0, 0, 1 + (int)rnd(g, 3));
	if (chance(g, 50))
		emit(g, BPF_STX | BPF_MEM | BPF_DW, 10, r, -8 * (1 + (int)rnd(g, 8)), 0);
	size_t j = g->p->n;
	emit(g, (chance(g, 30) ? BPF_JMP32 : BPF_JMP) | (chance(g, 50) ? BPF_JLT : BPF_JSLT) | BPF_K,
	     r, 0, 0, 1 + (int)rnd(g, 16));
	if (j < g->p->n)
		g->p->insns[j].off = (int16_t)((int)top - (int)j - 1);
}

/* ---- (h) helper calls ---------------------------------------------------- */

static void arg_random(struct gen *g, int r)
{
	switch (rnd(g, 6)) {
	case 0: mov_reg(g, r, ctx_reg(g)); break;
	case 1:
		mov_reg(g, r, 10);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, r, 0, 0, -8 * (1 + (int)rnd(g, 8)));
		g->kind[r] = K_FP;
		break;
	case 2: mov_imm(g, r, edge(g)); break;
	case 3: ld64(g, r, BPF_PSEUDO_MAP_FD, (uint64_t)g->m->array_fd); break;
	case 4: {
		int p = reg_of(g, K_PKT);
		if (p >= 0)
			mov_reg(g, r, p);
		break;
	}
	default: break; /* as it is */
	}
}

static void sn_call(struct gen *g)
{
	static const int32_t any[] = { 1, 2, 3, 5, 6, 7, 8, 9, 14, 26, 28, 44, 113 };
	if (chance(g, 20)) {
		int n = 1 + (int)rnd(g, 5);
		for (int r = 1; r <= n; r++)
			arg_random(g, r);
		call(g, any[rnd(g, sizeof(any) / sizeof(any[0]))]);
		return;
	}
	int len = 1 + (int)rnd(g, 16);
	switch (rnd(g, 8)) {
	case 0: call(g, BPF_FUNC_ktime_get_ns); break;
	case 1: call(g, BPF_FUNC_get_prandom_u32); break;
	case 2: call(g, BPF_FUNC_get_smp_processor_id); break;
	case 3: /* trace_printk("hi\n") */
		ld64(g, 1, 0, 0x0a6968ull);
		emit(g, BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8, 0);
		mov_reg(g, 1, 10);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -8);
		mov_imm(g, 2, bad(g) ? 16 : 4);
		call(g, BPF_FUNC_trace_printk);
		break;
	case 4: /* skb_load_bytes(ctx, off, fp-16, len) */
		mov_reg(g, 1, ctx_reg(g));
		mov_imm(g, 2, (int32_t)rnd(g, 32));
		mov_reg(g, 3, 10);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -16);
		mov_imm(g, 4, bad(g) ? (chance(g, 50) ? 0 : 17 + (int)rnd(g, 8)) : len);
		call(g, BPF_FUNC_skb_load_bytes);
		break;
	case 5: /* csum_diff(fp-16, 16 or a bad size, NULL, 0, 0) */
		emit(g, BPF_ST | BPF_MEM | BPF_DW, 10, 0, -16, 0);
		emit(g, BPF_ST | BPF_MEM | BPF_DW, 10, 0, -8, 0);
		mov_reg(g, 1, 10);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, -16);
		mov_imm(g, 2, bad(g) ? len : 16);
		mov_imm(g, 3, 0);
		mov_imm(g, 4, 0);
		mov_imm(g, 5, 0);
		call(g, BPF_FUNC_csum_diff);
		break;
	case 6: /* map_update_elem(array, fp-4, fp-64, 0) */
		emit(g, BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, (int32_t)rnd(g, 4));
		for (int o = -64; o < -8; o += 8)
			if (!bad(g))
				emit(g, BPF_ST | BPF_MEM | BPF_DW, 10, 0, o, 0);
		ld64(g, 1, BPF_PSEUDO_MAP_FD, (uint64_t)g->m->array_fd);
		mov_reg(g, 2, 10);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4);
		mov_reg(g, 3, 10);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, bad(g) ? -40 : -64);
		mov_imm(g, 4, 0);
		call(g, BPF_FUNC_map_update_elem);
		break;
	default: /* xdp_adjust_head(ctx, delta): packet pointers die */
		mov_reg(g, 1, ctx_reg(g));
		mov_imm(g, 2, edge(g));
		call(g, BPF_FUNC_xdp_adjust_head);
		break;
	}
}

/* ---- (i) pointer arithmetic ---------------------------------------------- */

static void sn_ptr(struct gen *g)
{
	int p = -1;
	for (int t = 0; t < 4 && p < 0; t++)
		p = reg_of(g, (enum kind)(K_CTX + rnd(g, 5)));
	if (p < 0) {
		p = scratch(g);
		mov_reg(g, p, 10);
		g->kind[p] = K_FP;
	}
	int q = scratch(g);
	if (q != p && chance(g, 70))
		mov_reg(g, q, p);
	else
		q = p;
	if (q == 6 || q == 10)
		return;
	switch (rnd(g, bad(g) ? 9 : 4)) {
	case 0: emit(g, BPF_ALU64 | BPF_ADD | BPF_K, q, 0, 0, (int32_t)rnd(g, 32) - 8); break;
	case 1: { /* a bounded variable offset */
		int s = q == 3 ? 4 : 3;
		mov_imm(g, s, edge(g));
		emit(g, BPF_ALU64 | BPF_AND | BPF_K, s, 0, 0, 7);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_X, q, s, 0, 0);
		break;
	}
	case 2: { /* pointer - pointer of the same kind */
		int o = reg_of(g, (enum kind)g->kind[q]);
		emit(g, BPF_ALU64 | BPF_SUB | BPF_X, q, o < 0 ? q : o, 0, 0);
		g->kind[q] = K_SCALAR;
		return;
	}
	case 3: emit(g, BPF_ALU64 | BPF_SUB | BPF_K, q, 0, 0, (int32_t)rnd(g, 16)); break;
	case 4: emit(g, BPF_ALU64 | BPF_MUL | BPF_K, q, 0, 0, 1 + (int)rnd(g, 4)); break;
	case 5: emit(g, BPF_ALU | BPF_ADD | BPF_K, q, 0, 0, 4); break;
	case 6: emit(g, BPF_ALU64 | BPF_ADD | BPF_X, q, scalar(g), 0, 0); break;
	case 7: emit(g, BPF_ALU64 | BPF_AND | BPF_K, q, 0, 0, -8); break;
	default: mov_reg(g, 0, q); return; /* maybe returned */
	}
	if (chance(g, 60)) { /* and use it */
		uint8_t sz = sizes[rnd(g, 4)];
		int off = g->kind[q] == K_FP ? -8 * (1 + (int)rnd(g, 4)) : (int)rnd(g, 8);
		emit(g, BPF_LDX | BPF_MEM | sz, q == 5 ? 4 : 5, q, off, 0);
		g->kind[q == 5 ? 4 : 5] = K_SCALAR;
	}
}

/* ---- (b, d, g) bounds: an unknown scalar, narrowed, used as an offset ---- */

static void narrow(struct gen *g, int r)
{
	static const uint8_t ops[] = { BPF_AND, BPF_RSH, BPF_ARSH, BPF_LSH, BPF_ADD,
		BPF_SUB, BPF_MUL, BPF_OR, BPF_XOR, BPF_NEG, BPF_MOD, BPF_DIV, BPF_MOV };
	int n = 1 + (int)rnd(g, 4);
	for (int i = 0; i < n; i++) {
		uint8_t cls = chance(g, 35) ? BPF_ALU : BPF_ALU64;
		if (chance(g, 45)) { /* if r op k exit: a branch narrows it */
			uint8_t op = jops[rnd(g, sizeof(jops))];
			emit(g, (chance(g, 30) ? BPF_JMP32 : BPF_JMP) | op | BPF_K, r, 0, 2,
			     chance(g, 60) ? (int32_t)rnd(g, 80) - 8 : edge(g));
			emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
			emit(g, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
			continue;
		}
		if (chance(g, 20)) { /* cpu v4: movsx, sdiv/smod, bswap */
			switch (rnd(g, 4)) {
			case 0: {
				static const int w[] = { 8, 16, 32 };
				emit(g, cls | BPF_MOV | BPF_X, r, r, cls == BPF_ALU ? w[rnd(g, 2)] : w[rnd(g, 3)], 0);
				break;
			}
			case 1:
				emit(g, cls | (chance(g, 50) ? BPF_DIV : BPF_MOD) | BPF_K, r, 0, 1,
				     chance(g, 50) ? -(int32_t)rnd(g, 8) - 1 : (int32_t)rnd(g, 16) + 1);
				break;
			case 2: {
				static const int w[] = { 16, 32, 64 };
				emit(g, BPF_ALU64 | BPF_END, r, 0, 0, w[rnd(g, 3)]);
				break;
			}
			default: /* against a second unknown */
				emit(g, cls | (chance(g, 50) ? BPF_AND : chance(g, 50) ? BPF_OR : BPF_ADD) | BPF_X,
				     r, 9, 0, 0);
				break;
			}
			continue;
		}
		if (chance(g, 10)) { /* compare two unknowns */
			emit(g, (chance(g, 30) ? BPF_JMP32 : BPF_JMP) | jops[rnd(g, sizeof(jops))] | BPF_X,
			     r, 9, 2, 0);
			emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
			emit(g, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
			continue;
		}
		uint8_t op = ops[rnd(g, sizeof(ops))];
		int32_t imm = op == BPF_AND ? (int32_t)rnd(g, 64)
			    : op == BPF_LSH || op == BPF_RSH || op == BPF_ARSH
				? (int32_t)rnd(g, cls == BPF_ALU ? 32 : 64)
			    : chance(g, 70) ? (int32_t)rnd(g, 16) : edge(g);
		if (op == BPF_MOV)
			op = BPF_AND, imm = 0xff;
		if ((op == BPF_DIV || op == BPF_MOD) && imm == 0)
			imm = 3;
		emit(g, cls | op | BPF_K, r, 0, 0, op == BPF_NEG ? 0 : imm);
	}
}

static void sn_bounds(struct gen *g)
{
	int r = 8;
	switch (rnd(g, 3)) {
	case 0:
		call(g, BPF_FUNC_get_prandom_u32);
		mov_reg(g, r, 0);
		break;
	case 1:
		emit(g, BPF_LDX | BPF_MEM | BPF_W, r, ctx_reg(g), 0, 0);
		break;
	default: /* an unknown from the stack, maybe sign-extended (MEMSX) */
		emit(g, BPF_LDX | (chance(g, 30) ? 0x80 | sizes[rnd(g, 3)] : BPF_MEM | BPF_DW),
		     r, 10, -8 * (1 + (int)rnd(g, 4)), 0);
		break;
	}
	/* a second unknown, r9, a byte, for the register operands */
	emit(g, BPF_LDX | BPF_MEM | BPF_B, 9, 10, -8 * (5 + (int)rnd(g, 3)), 0);
	g->kind[9] = K_SCALAR;
	g->kind[r] = K_SCALAR;
	narrow(g, r);
	if (chance(g, 80)) { /* and mostly a final bound */
		if (chance(g, 50)) {
			emit(g, (chance(g, 30) ? BPF_ALU : BPF_ALU64) | BPF_AND | BPF_K, r, 0, 0,
			     (int32_t)rnd(g, 48));
		} else {
			emit(g, (chance(g, 30) ? BPF_JMP32 : BPF_JMP) | BPF_JGT | BPF_K, r, 0,
			     2, (int32_t)rnd(g, 48));
			emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
			emit(g, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		}
	}
	switch (rnd(g, 3)) {
	case 0: { /* array value + r */
		emit(g, BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0);
		mov_reg(g, 2, 10);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4);
		ld64(g, 1, BPF_PSEUDO_MAP_FD, (uint64_t)g->m->array_fd);
		call(g, BPF_FUNC_map_lookup_elem);
		emit(g, BPF_JMP | BPF_JNE | BPF_K, 0, 0, 2, 0);
		emit(g, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
		emit(g, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_X, 0, r, 0, 0);
		emit(g, chance(g, 50) ? BPF_LDX | BPF_MEM | sizes[rnd(g, 4)] : BPF_ST | BPF_MEM | sizes[rnd(g, 4)],
		     chance(g, 50) ? 0 : 3, 0, (int)rnd(g, 16), 0);
		g->kind[0] = K_MAPVAL;
		g->kind[3] = K_SCALAR;
		break;
	}
	case 1: { /* fp - 64 + r */
		for (int o = -64; o < 0; o += 8)
			emit(g, BPF_ST | BPF_MEM | BPF_DW, 10, 0, o, 0);
		mov_reg(g, 3, 10);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, -64);
		emit(g, BPF_ALU64 | BPF_ADD | BPF_X, 3, r, 0, 0);
		emit(g, BPF_LDX | BPF_MEM | sizes[rnd(g, 4)], 4, 3, 0, 0);
		g->kind[4] = K_SCALAR;
		break;
	}
	default: /* a shift, a compare, a division: values only */
		mov_reg(g, 0, r);
		narrow(g, 0);
		break;
	}
}

/* ---- the program --------------------------------------------------------- */

typedef void (*snippet)(struct gen *);
static const snippet snippets[] = { sn_init, sn_alu, sn_alu, sn_stack, sn_stack,
	sn_map, sn_map, sn_ctx, sn_pkt, sn_pkt, sn_loop, sn_call, sn_call, sn_ptr,
	sn_bounds, sn_bounds, sn_bounds, sn_bounds };

void vfuzz_gen(uint64_t *seed, const struct vfuzz_maps *maps,
	       struct vfuzz_prog *p)
{
	static const uint32_t types[] = { BPF_PROG_TYPE_SOCKET_FILTER,
		BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_XDP };
	struct gen g = { .p = p, .s = seed, .m = maps, .bad = 3 };
	memset(p, 0, sizeof(*p));
	p->prog_type = types[rnd(&g, 3)];
	g.kind[1] = K_CTX;
	g.kind[10] = K_FP;
	if (chance(&g, 97))
		mov_reg(&g, 6, 1);
	int n = 1 + (int)rnd(&g, 7);
	for (int i = 0; i < n && p->n < VFUZZ_MAX_INSNS - 64; i++) {
		size_t j = 0;
		int skip = chance(&g, 20);
		uint8_t before[11];
		if (skip)
			j = cond_jump(&g);
		memcpy(before, g.kind, sizeof(before));
		snippets[rnd(&g, sizeof(snippets) / sizeof(snippets[0]))](&g);
		if (skip && j < p->n) {
			p->insns[j].off = (int16_t)(p->n - j - 1);
			/* set only on one path: unknown after the join */
			for (int r = 0; r < 10; r++)
				if (g.kind[r] != before[r])
					g.kind[r] = K_UNINIT;
		}
	}
	if (!bad(&g))
		mov_imm(&g, 0, (int32_t)rnd(&g, 4));
	emit(&g, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* ---- reduction ----------------------------------------------------------- */

static int is_jump(const struct bpfvm_insn *in)
{
	uint8_t cls = in->code & 7, op = in->code & 0xf0;
	return (cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_CALL && op != BPF_EXIT;
}

void vfuzz_remove(struct vfuzz_prog *p, size_t i)
{
	if (i >= p->n)
		return;
	size_t w = p->insns[i].code == (BPF_LD | BPF_DW | BPF_IMM) && i + 1 < p->n ? 2 : 1;
	for (size_t k = 0; k < p->n; k++) {
		struct bpfvm_insn *in = &p->insns[k];
		if (k >= i && k < i + w)
			continue;
		if (!is_jump(in) && !(in->code == (BPF_JMP | BPF_CALL) && in->src_reg == 1))
			continue;
		long off = in->code == (BPF_JMP | BPF_CALL) ? in->imm : in->off;
		long t = (long)k + 1 + off;
		long nk = (long)k - ((long)k > (long)i ? (long)w : 0);
		long nt = t - (t > (long)i ? (t >= (long)(i + w) ? (long)w : t - (long)i) : 0);
		if (in->code == (BPF_JMP | BPF_CALL))
			in->imm = (int32_t)(nt - nk - 1);
		else
			in->off = (int16_t)(nt - nk - 1);
	}
	memmove(&p->insns[i], &p->insns[i + w], (p->n - i - w) * sizeof(p->insns[0]));
	p->n -= w;
}
