/* Precision tracking (the kernel's mark_chain_precision): a scalar is
 * "precise" when some decision depended on its exact range -- a branch the
 * range decided, a pointer offset, a helper size, the return value.  Only
 * precise scalars must be range-included for a checkpoint to prune a path;
 * the others may hold anything.  When a register becomes precise, the
 * instructions that computed it are walked backwards (through the jump
 * history each state records) and the registers and stack slots they read
 * are marked precise in every checkpoint on the way.
 *
 * Simplification: a walk that meets a bpf-to-bpf call or exit, a callback,
 * an atomic or a legacy packet load marks every scalar on the path precise
 * instead (sound, prunes less).
 * SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include "vinternal.h"

struct bt {
	u32 frame;                     /* the frame the walk is in */
	u16 regs[BPFVM_MAX_FRAMES];    /* registers still to explain */
	u64 slots[BPFVM_MAX_FRAMES];   /* stack slots (spi) still to explain */
};

enum { BT_OK = 0, BT_FALLBACK = 1 };

int hist_push(struct vstate *st, u32 idx, u32 prev, u32 flags)
{
	if (st->nhist && st->hist[st->nhist - 1].idx == idx &&
	    st->hist[st->nhist - 1].prev == prev && flags) {
		st->hist[st->nhist - 1].flags |= flags;
		return 0;
	}
	if (st->nhist == st->caphist) {
		u32 cap = st->caphist ? st->caphist * 2 : 16;
		struct hist_entry *h = realloc(st->hist, cap * sizeof(*h));
		if (!h)
			return -1;
		st->hist = h;
		st->caphist = cap;
	}
	st->hist[st->nhist++] = (struct hist_entry){ idx, prev, flags };
	return 0;
}

static bool bt_empty(const struct bt *bt)
{
	for (int f = 0; f < BPFVM_MAX_FRAMES; f++)
		if (bt->regs[f] || bt->slots[f])
			return false;
	return true;
}

static void mark_all_precise(struct verifier_env *env)
{
	/* checkpoints only: the current state's marks would leak into the
	 * next checkpoint, whose future did not ask for them */
	for (struct vstate *st = env->cur->parent; st; st = st->parent)
		for (u32 f = 0; f <= st->curframe; f++) {
			struct func_state *fs = st->frame[f];
			for (int r = 0; r < 11; r++)
				if (fs->regs[r].type == SCALAR_VALUE)
					fs->regs[r].precise = true;
			for (int s = 0; s < fs->allocated_stack / 8; s++)
				if (fs->stack[s].type[7] == STACK_SPILL &&
				    fs->stack[s].spilled.type == SCALAR_VALUE)
					fs->stack[s].spilled.precise = true;
		}
}

/* Undo one instruction's effect on what must be explained. */
static int backtrack_insn(struct verifier_env *env, u32 i,
			  const struct hist_entry *e, struct bt *bt)
{
	const struct bpfvm_insn *in = &env->insns[i];
	u8 cls = BPF_CLASS(in->code), op = BPF_OP_(in->code);
	u16 *regs = &bt->regs[bt->frame];
	u16 dbit = (u16)(1u << in->dst_reg), sbit = (u16)(1u << in->src_reg);
	bool x = in->code & BPF_SRC_X;
	bool stack = e && (e->flags & HIST_STACK);
	u32 sfr = e ? (e->flags >> 8) & 7 : 0, spi = e ? (e->flags >> 16) & 63 : 0;

	switch (cls) {
	case BPF_ALU:
	case BPF_ALU64:
		if (!(*regs & dbit))
			return BT_OK;
		if (op == 0xb0) { /* mov */
			*regs &= (u16)~dbit;
			if (x)
				*regs |= sbit;
		} else if (op != 0x80 && op != 0xd0 && x) {
			*regs |= sbit;
		}
		return BT_OK;
	case BPF_LDX:
		if (!(*regs & dbit))
			return BT_OK;
		*regs &= (u16)~dbit;
		if (stack)
			bt->slots[sfr] |= 1ull << spi;
		return BT_OK;
	case BPF_STX:
		if (BPF_MODE_(in->code) == 0xc0) {
			if ((stack && (bt->slots[sfr] >> spi & 1)) ||
			    (*regs & (sbit | 1u)))
				return BT_FALLBACK;
			return BT_OK;
		}
		/* fall through */
	case BPF_ST:
		if (!stack || !(bt->slots[sfr] >> spi & 1))
			return BT_OK;
		bt->slots[sfr] &= ~(1ull << spi);
		if (cls == BPF_STX)
			*regs |= sbit;
		return BT_OK;
	case BPF_LD:
		if (in->code == 0x18) {
			*regs &= (u16)~dbit;
			return BT_OK;
		}
		return (*regs & 0x3f) ? BT_FALLBACK : BT_OK; /* ld_abs/ind */
	default: /* JMP, JMP32 */
		if (op == 0x80) {
			if (in->src_reg != 0)
				return BT_FALLBACK;
			if (in->imm == 181 /* loop */ || in->imm == 164 /* for_each */)
				return BT_FALLBACK;
			*regs &= (u16)~1u;
			return (*regs & 0x3e) ? BT_FALLBACK : BT_OK;
		}
		if (op == 0x90)
			return BT_FALLBACK;
		if (op != 0x00 && x && (*regs & (dbit | sbit)))
			*regs |= dbit | sbit;
		return BT_OK;
	}
}

static bool is_ldimm64_tail(const struct verifier_env *env, u32 i)
{
	return i > 0 && env->insns[i - 1].code == 0x18 && env->insns[i].code == 0;
}

/* Mark at checkpoint st what is still to explain; drop what was already
 * precise there (its own history was walked when it became so). */
static int mark_in_state(struct vstate *st, struct bt *bt)
{
	if (st->curframe != bt->frame)
		return BT_FALLBACK;
	for (u32 f = 0; f <= st->curframe; f++) {
		struct func_state *fs = st->frame[f];
		for (int r = 0; r < 11; r++) {
			if (!(bt->regs[f] >> r & 1))
				continue;
			struct bpf_reg *reg = &fs->regs[r];
			if (reg->type != SCALAR_VALUE || reg->precise)
				bt->regs[f] &= (u16)~(1u << r);
			else
				reg->precise = true;
		}
		for (int s = 0; s < 64; s++) {
			if (!(bt->slots[f] >> s & 1))
				continue;
			if (s >= fs->allocated_stack / 8 || fs->stack[s].type[7] != STACK_SPILL) {
				bt->slots[f] &= ~(1ull << s);
				continue;
			}
			struct bpf_reg *reg = &fs->stack[s].spilled;
			if (reg->type != SCALAR_VALUE || reg->precise)
				bt->slots[f] &= ~(1ull << s);
			else
				reg->precise = true;
		}
	}
	return BT_OK;
}

/* Walk st's segment back from insn i (included) to its first insn. */
static int walk_segment(struct verifier_env *env, struct vstate *st, u32 i,
			u32 cursor, struct bt *bt)
{
	for (u32 steps = 0;; steps++) {
		const struct hist_entry *e = NULL;
		if (cursor && st->hist[cursor - 1].idx == i)
			e = &st->hist[cursor - 1];
		if (backtrack_insn(env, i, e, bt) != BT_OK)
			return BT_FALLBACK;
		if (i == st->first_insn_idx || bt_empty(bt))
			return BT_OK;
		if (steps > 2000000) /* a history that does not lead back */
			return BT_FALLBACK;
		if (e) {
			cursor--;
			i = e->prev;
		} else if (i > 0) {
			i -= is_ldimm64_tail(env, i - 1) ? 2 : 1;
		} else {
			return BT_FALLBACK;
		}
	}
}

/* The previous insn of X in cur's segment, or false if X starts it. */
static bool prev_of(struct verifier_env *env, struct vstate *st, u32 x,
		    u32 *cursor, u32 *out)
{
	if (x == st->first_insn_idx)
		return false;
	if (*cursor && st->hist[*cursor - 1].idx == x) {
		*out = st->hist[--*cursor].prev;
		return true;
	}
	if (!x)
		return false;
	*out = x - (is_ldimm64_tail(env, x - 1) ? 2 : 1);
	return true;
}

static void backtrack(struct verifier_env *env, struct bt *bt)
{
	struct vstate *st = env->cur;
	u32 cursor = st->nhist, i;

	if (prev_of(env, st, env->insn_idx, &cursor, &i) &&
	    walk_segment(env, st, i, cursor, bt) != BT_OK) {
		mark_all_precise(env);
		return;
	}
	while (!bt_empty(bt) && (st = st->parent)) {
		if (mark_in_state(st, bt) != BT_OK) {
			mark_all_precise(env);
			return;
		}
		if (bt_empty(bt))
			return;
		if (walk_segment(env, st, st->last_insn_idx, st->nhist, bt) != BT_OK) {
			mark_all_precise(env);
			return;
		}
	}
}

void mark_chain_precision(struct verifier_env *env, int regno)
{
	struct vstate *st = env->cur;
	struct bpf_reg *r = &st->frame[st->curframe]->regs[regno];
	struct bt bt = { .frame = st->curframe };

	/* the current state is not marked: precision is for checkpoints,
	 * whose futures the decision at this insn belongs to */
	if (r->type != SCALAR_VALUE)
		return;
	bt.regs[st->curframe] = (u16)(1u << regno);
	backtrack(env, &bt);
}

void mark_slot_precision(struct verifier_env *env, u32 frameno, u32 spi)
{
	struct vstate *st = env->cur;
	struct func_state *f = st->frame[frameno];
	struct bt bt = { .frame = st->curframe };

	if (spi >= 64 || (int)spi >= f->allocated_stack / 8 ||
	    f->stack[spi].type[7] != STACK_SPILL ||
	    f->stack[spi].spilled.type != SCALAR_VALUE)
		return;
	bt.slots[frameno] = 1ull << spi;
	backtrack(env, &bt);
}

/* A path pruned by old relies on old's precise scalars: make the same
 * registers and slots precise on the current path (propagate_precision). */
void propagate_precision(struct verifier_env *env, const struct vstate *old)
{
	struct vstate *st = env->cur;
	struct bt bt = { .frame = st->curframe };

	for (u32 f = 0; f <= old->curframe; f++) {
		const struct func_state *o = old->frame[f];
		struct func_state *c = st->frame[f];
		for (int r = 0; r < 11; r++)
			if (o->regs[r].type == SCALAR_VALUE && o->regs[r].precise &&
			    c->regs[r].type == SCALAR_VALUE) {
				bt.regs[f] |= (u16)(1u << r);
			}
		for (int s = 0; s < o->allocated_stack / 8 && s < 64; s++)
			if (o->stack[s].type[7] == STACK_SPILL &&
			    o->stack[s].spilled.type == SCALAR_VALUE &&
			    o->stack[s].spilled.precise && s < c->allocated_stack / 8 &&
			    c->stack[s].type[7] == STACK_SPILL &&
			    c->stack[s].spilled.type == SCALAR_VALUE) {
				bt.slots[f] |= 1ull << s;
			}
	}
	for (u32 f = 0; f < st->curframe; f++)
		if (bt.regs[f]) {
			/* caller registers: not walked through calls */
			mark_all_precise(env);
			return;
		}
	if (!bt_empty(&bt))
		backtrack(env, &bt);
}
