/* Conditional jumps on scalars: whether a branch is decided by the known
 * ranges (is_branch_taken), and what each outcome teaches about both
 * operands (reg_set_min_max).  Jumps are compared on the 32-bit view for
 * JMP32 and on the 64-bit view otherwise.
 * SPDX-License-Identifier: MIT */
#include "vinternal.h"

enum { J_EQ = 0x10, J_GT = 0x20, J_GE = 0x30, J_SET = 0x40, J_NE = 0x50,
       J_SGT = 0x60, J_SGE = 0x70, J_LT = 0xa0, J_LE = 0xb0, J_SLT = 0xc0,
       J_SLE = 0xd0, J_NSET = 0xf0 /* private: JSET not taken */ };

/* A comparison's view of a register. */
struct view { u64 umin, umax; s64 smin, smax; struct tnum t; };

static struct view view_of(const struct bpf_reg *r, bool w32)
{
	if (w32)
		return (struct view){ r->u32_min, r->u32_max, r->s32_min,
				      r->s32_max, tnum_subreg(r->var_off) };
	return (struct view){ r->umin, r->umax, r->smin, r->smax, r->var_off };
}

static int taken(struct view a, struct view b, u8 op)
{
	switch (op) {
	case J_EQ:
		if (tnum_is_const(a.t) && tnum_is_const(b.t))
			return a.t.value == b.t.value;
		if (a.umin > b.umax || a.umax < b.umin ||
		    a.smin > b.smax || a.smax < b.smin)
			return 0;
		if ((a.t.value & ~b.t.mask & ~a.t.mask) !=
		    (b.t.value & ~a.t.mask & ~b.t.mask))
			return 0;
		return -1;
	case J_NE: {
		int r = taken(a, b, J_EQ);
		return r < 0 ? -1 : !r;
	}
	case J_SET:
		if (!tnum_is_const(b.t))
			return -1;
		if (a.t.value & b.t.value)
			return 1;
		if (!((a.t.value | a.t.mask) & b.t.value))
			return 0;
		return -1;
	case J_GT:
		if (a.umin > b.umax) return 1;
		if (a.umax <= b.umin) return 0;
		return -1;
	case J_GE:
		if (a.umin >= b.umax) return 1;
		if (a.umax < b.umin) return 0;
		return -1;
	case J_LT:
		if (a.umax < b.umin) return 1;
		if (a.umin >= b.umax) return 0;
		return -1;
	case J_LE:
		if (a.umax <= b.umin) return 1;
		if (a.umin > b.umax) return 0;
		return -1;
	case J_SGT:
		if (a.smin > b.smax) return 1;
		if (a.smax <= b.smin) return 0;
		return -1;
	case J_SGE:
		if (a.smin >= b.smax) return 1;
		if (a.smax < b.smin) return 0;
		return -1;
	case J_SLT:
		if (a.smax < b.smin) return 1;
		if (a.smin >= b.smax) return 0;
		return -1;
	case J_SLE:
		if (a.smax <= b.smin) return 1;
		if (a.smin > b.smax) return 0;
		return -1;
	}
	return -1;
}

int is_branch_taken(const struct bpf_reg *a, const struct bpf_reg *b, u8 op,
		    bool w32)
{
	return taken(view_of(a, w32), view_of(b, w32), op);
}

static u8 flip(u8 op)
{
	switch (op) {
	case J_EQ: return J_NE;
	case J_NE: return J_EQ;
	case J_GT: return J_LE;
	case J_LE: return J_GT;
	case J_GE: return J_LT;
	case J_LT: return J_GE;
	case J_SGT: return J_SLE;
	case J_SLE: return J_SGT;
	case J_SGE: return J_SLT;
	case J_SLT: return J_SGE;
	case J_SET: return J_NSET;
	}
	return op;
}

static u64 umax_(u64 a, u64 b) { return a > b ? a : b; }
static u64 umin_(u64 a, u64 b) { return a < b ? a : b; }
static s64 smax_(s64 a, s64 b) { return a > b ? a : b; }
static s64 smin_(s64 a, s64 b) { return a < b ? a : b; }

/* Tighten views a and b to "a op b" holding. */
static void refine(struct view *a, struct view *b, u8 op, bool w32)
{
	u64 umaxv = w32 ? UINT32_MAX : UINT64_MAX;
	s64 sminv = w32 ? INT32_MIN : INT64_MIN, smaxv = w32 ? INT32_MAX : INT64_MAX;

	switch (op) {
	case J_EQ:
		a->umin = b->umin = umax_(a->umin, b->umin);
		a->umax = b->umax = umin_(a->umax, b->umax);
		a->smin = b->smin = smax_(a->smin, b->smin);
		a->smax = b->smax = smin_(a->smax, b->smax);
		a->t = b->t = tnum_intersect(a->t, b->t);
		break;
	case J_NE:
		/* only a constant at a range's end teaches anything */
		if (tnum_is_const(b->t)) {
			u64 v = b->t.value;
			if (a->umin == v && a->umin < umaxv) a->umin++;
			else if (a->umax == v && a->umax > 0) a->umax--;
			s64 sv = w32 ? (s32)(u32)v : (s64)v;
			if (a->smin == sv && a->smin < smaxv) a->smin++;
			else if (a->smax == sv && a->smax > sminv) a->smax--;
		}
		if (tnum_is_const(a->t)) {
			u64 v = a->t.value;
			if (b->umin == v && b->umin < umaxv) b->umin++;
			else if (b->umax == v && b->umax > 0) b->umax--;
			s64 sv = w32 ? (s32)(u32)v : (s64)v;
			if (b->smin == sv && b->smin < smaxv) b->smin++;
			else if (b->smax == sv && b->smax > sminv) b->smax--;
		}
		break;
	case J_SET:
		if (tnum_is_const(b->t) && b->t.value &&
		    !(b->t.value & (b->t.value - 1)))
			a->t = tnum_or(a->t, b->t);
		break;
	case J_NSET:
		if (tnum_is_const(b->t))
			a->t = tnum_and(a->t, tnum_const(~b->t.value));
		break;
	case J_GT:
		if (b->umin < umaxv) a->umin = umax_(a->umin, b->umin + 1);
		if (a->umax > 0) b->umax = umin_(b->umax, a->umax - 1);
		break;
	case J_GE:
		a->umin = umax_(a->umin, b->umin);
		b->umax = umin_(b->umax, a->umax);
		break;
	case J_LT:
		refine(b, a, J_GT, w32);
		break;
	case J_LE:
		refine(b, a, J_GE, w32);
		break;
	case J_SGT:
		if (b->smin < smaxv) a->smin = smax_(a->smin, b->smin + 1);
		if (a->smax > sminv) b->smax = smin_(b->smax, a->smax - 1);
		break;
	case J_SGE:
		a->smin = smax_(a->smin, b->smin);
		b->smax = smin_(b->smax, a->smax);
		break;
	case J_SLT:
		refine(b, a, J_SGT, w32);
		break;
	case J_SLE:
		refine(b, a, J_SGE, w32);
		break;
	}
}

static void store(struct bpf_reg *r, const struct view *v, bool w32)
{
	if (r->type != SCALAR_VALUE)
		return;
	if (w32) {
		r->u32_min = (u32)v->umin; r->u32_max = (u32)v->umax;
		r->s32_min = (s32)v->smin; r->s32_max = (s32)v->smax;
		r->var_off = tnum_with_subreg(r->var_off, v->t);
	} else {
		r->umin = v->umin; r->umax = v->umax;
		r->smin = v->smin; r->smax = v->smax;
		r->var_off = v->t;
	}
	reg_bounds_sync(r);
}

/* op as the instruction has it when taken; flip it for the fall-through. */
void reg_set_min_max(struct bpf_reg *a, struct bpf_reg *b, u8 op, bool w32)
{
	struct view va = view_of(a, w32), vb = view_of(b, w32);

	refine(&va, &vb, op, w32);
	store(a, &va, w32);
	/* a register against itself: as the kernel, what it learns as the
	 * left operand (from its old bounds as the right one) stays */
	if (b != a)
		store(b, &vb, w32);
}

u8 branch_flip(u8 op)
{
	return flip(op);
}
