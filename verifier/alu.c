/* Scalar ALU: the result range of dst op= src for two scalars.  The 64-bit
 * algorithm is the only one: a 32-bit operation runs it on the zero- and the
 * sign-extended low halves and keeps what survives truncation, then
 * zero-extends (the kernel computes the 32-bit bounds by separate code; the
 * results agree where they do not wrap).
 * SPDX-License-Identifier: MIT */
#include <string.h>
#include "vinternal.h"

enum { OP_ADD = 0x00, OP_SUB = 0x10, OP_MUL = 0x20, OP_OR = 0x40,
       OP_AND = 0x50, OP_LSH = 0x60, OP_RSH = 0x70, OP_NEG = 0x80,
       OP_XOR = 0xa0, OP_ARSH = 0xc0 };

static void full(struct bpf_reg *d, bool sgn, bool uns)
{
	if (sgn) { d->smin = INT64_MIN; d->smax = INT64_MAX; }
	if (uns) { d->umin = 0; d->umax = UINT64_MAX; }
}

static void minmax4(s64 a, s64 b, s64 c, s64 e, s64 *lo, s64 *hi)
{
	s64 v[4] = { a, b, c, e };
	*lo = *hi = a;
	for (int i = 1; i < 4; i++) {
		if (v[i] < *lo) *lo = v[i];
		if (v[i] > *hi) *hi = v[i];
	}
}

/* 64-bit bounds and tnum of d op s; false when unsafe (result unknown). */
static bool alu64(struct bpf_reg *d, const struct bpf_reg *s, u8 op)
{
	s64 a, b, c, e;
	bool lo, hi;
	u64 k = s->var_off.value;
	bool snonneg = d->smin >= 0 && s->smin >= 0;

	switch (op) {
	case OP_ADD:
		if (__builtin_add_overflow(d->smin, s->smin, &a) ||
		    __builtin_add_overflow(d->smax, s->smax, &b))
			full(d, true, false);
		else { d->smin = a; d->smax = b; }
		/* unsigned: when every sum wraps, or none, the wrapped bounds
		 * hold (as Linux 6.18's scalar_min_max_add) */
		lo = __builtin_add_overflow(d->umin, s->umin, &d->umin);
		hi = __builtin_add_overflow(d->umax, s->umax, &d->umax);
		if (!lo && hi)
			full(d, false, true);
		d->var_off = tnum_add(d->var_off, s->var_off);
		break;
	case OP_SUB:
		if (__builtin_sub_overflow(d->smin, s->smax, &a) ||
		    __builtin_sub_overflow(d->smax, s->smin, &b))
			full(d, true, false);
		else { d->smin = a; d->smax = b; }
		/* unsigned: when every difference wraps, or none, the wrapped
		 * bounds hold (scalar_min_max_sub) */
		lo = __builtin_sub_overflow(d->umin, s->umax, &d->umin);
		hi = __builtin_sub_overflow(d->umax, s->umin, &d->umax);
		if (lo && !hi)
			full(d, false, true);
		d->var_off = tnum_sub(d->var_off, s->var_off);
		break;
	case OP_MUL:
		d->var_off = tnum_mul(d->var_off, s->var_off);
		if (__builtin_mul_overflow(d->smin, s->smin, &a) ||
		    __builtin_mul_overflow(d->smin, s->smax, &b) ||
		    __builtin_mul_overflow(d->smax, s->smin, &c) ||
		    __builtin_mul_overflow(d->smax, s->smax, &e))
			full(d, true, false);
		else
			minmax4(a, b, c, e, &d->smin, &d->smax);
		if (__builtin_mul_overflow(d->umax, s->umax, &d->umax))
			full(d, false, true);
		else
			d->umin *= s->umin;
		break;
	case OP_AND:
		d->var_off = tnum_and(d->var_off, s->var_off);
		d->umin = d->var_off.value;
		d->umax = d->umax < s->umax ? d->umax : s->umax;
		if (snonneg) { d->smin = (s64)d->umin; d->smax = (s64)d->umax; }
		else full(d, true, false);
		break;
	case OP_OR:
		d->var_off = tnum_or(d->var_off, s->var_off);
		d->umin = d->umin > s->umin ? d->umin : s->umin;
		d->umax = d->var_off.value | d->var_off.mask;
		if (snonneg) { d->smin = (s64)d->umin; d->smax = (s64)d->umax; }
		else full(d, true, false);
		break;
	case OP_XOR:
		d->var_off = tnum_xor(d->var_off, s->var_off);
		d->umin = d->var_off.value;
		d->umax = d->var_off.value | d->var_off.mask;
		if (snonneg) { d->smin = (s64)d->umin; d->smax = (s64)d->umax; }
		else full(d, true, false);
		break;
	case OP_LSH:
		if (!tnum_is_const(s->var_off) || k > 63)
			return false;
		d->var_off = tnum_shl(d->var_off, (unsigned)k);
		/* <<32 then s>>32 sign-extends a subregister: the s32 bounds
		 * shifted by 32 keep their signs (Linux 6.18's
		 * __scalar64_min_max_lsh), negative ones too */
		a = k == 32 ? (s64)((u64)(s64)d->s32_min << 32) : INT64_MIN;
		b = k == 32 ? (s64)((u64)(s64)d->s32_max << 32) : INT64_MAX;
		d->smin = a;
		d->smax = b;
		/* the kernel's test: one bit short of the exact one */
		if (d->umax > (1ull << (63 - k)))
			full(d, false, true);
		else { d->umin <<= k; d->umax <<= k; }
		break;
	case OP_RSH:
		if (!tnum_is_const(s->var_off) || k > 63)
			return false;
		d->var_off = tnum_shr(d->var_off, (unsigned)k);
		full(d, true, false);
		d->umin >>= k;
		d->umax >>= k;
		break;
	case OP_ARSH:
		if (!tnum_is_const(s->var_off) || k > 63)
			return false;
		d->var_off = tnum_arshift(d->var_off, (unsigned)k, 64);
		d->smin >>= k;
		d->smax >>= k;
		full(d, false, true);
		break;
	default:
		return false;
	}
	d->s32_min = INT32_MIN; d->s32_max = INT32_MAX;
	d->u32_min = 0; d->u32_max = UINT32_MAX;
	reg_bounds_sync(d);
	return true;
}

/* The low half as a 64-bit value, zero- or sign-extended. */
static void widen(struct bpf_reg *w, const struct bpf_reg *r, bool sx)
{
	struct tnum t = tnum_subreg(r->var_off);

	mark_reg_unknown(w);
	if (sx) {
		if (!(t.mask & 0x80000000u) && (t.value & 0x80000000u))
			t.value |= 0xffffffff00000000ull;
		else if (t.mask & 0x80000000u)
			t.mask |= 0xffffffff00000000ull;
		w->var_off = t;
		w->smin = r->s32_min;
		w->smax = r->s32_max;
	} else {
		w->var_off = t;
		w->umin = r->u32_min;
		w->umax = r->u32_max;
	}
	reg_bounds_sync(w);
}

void scalar_alu(struct bpf_reg *d, const struct bpf_reg *s, u8 op, bool w64)
{
	struct bpf_reg zd, zs, sd, ss, neg;

	if (op == OP_NEG) { /* 0 - d, on a copy: widen() below writes zs */
		neg = *d;
		mark_reg_known(d, 0);
		s = &neg;
		op = OP_SUB;
	}
	if (w64) {
		/* the low half of these depends on the low halves only: their
		 * 32-bit bounds are computed as a 32-bit op would (the kernel's
		 * scalar32_min_max_*), then both views tighten each other */
		bool low = op == OP_ADD || op == OP_SUB || op == OP_MUL ||
			   op == OP_AND || op == OP_OR || op == OP_XOR;
		struct bpf_reg t = *d;
		if (low)
			scalar_alu(&t, s, op, false);
		if (!alu64(d, s, op)) {
			mark_reg_unknown(d);
		} else if (low) {
			d->u32_min = t.u32_min;
			d->u32_max = t.u32_max;
			d->s32_min = t.s32_min;
			d->s32_max = t.s32_max;
			reg_bounds_sync(d);
		} else if (op == OP_LSH) {
			/* the low half shifted as the kernel's
			 * __scalar32_min_max_lsh: kept while its top bit
			 * cannot leave, the sign only from the tnum */
			u64 k = s->var_off.value;
			if (k <= 31 && t.u32_max <= (1ull << (31 - k))) {
				u32 lo = (u32)((u64)t.u32_min << k);
				u32 hi = (u32)((u64)t.u32_max << k);
				if (d->u32_min < lo)
					d->u32_min = lo;
				if (d->u32_max > hi)
					d->u32_max = hi;
				reg_bounds_sync(d);
			}
		}
		d->id = 0;
		d->off = 0;
		return;
	}
	/* a shift by the width or more: the result is not computed (and,
	 * as the kernel does, not even zero-extended); like the kernel's
	 * is_safe_to_compute_dst_reg_range, the amount's 64-bit umax counts */
	if ((op == OP_LSH || op == OP_RSH || op == OP_ARSH) &&
	    (!tnum_is_const(tnum_subreg(s->var_off)) || s->umax >= 32)) {
		mark_reg_unknown(d);
		return;
	}
	/* the kernel's __scalar32_min_max_lsh keeps u32 bounds only up to
	 * 1 << (31 - k), short of what the 64-bit view would keep */
	bool u32_ok = op != OP_LSH ||
		      d->u32_max <= (1ull << (31 - (u32)s->var_off.value));
	widen(&zd, d, false); widen(&zs, s, false);
	widen(&sd, d, true);  widen(&ss, s, true);
	if (!alu64(&zd, &zs, op) || !alu64(&sd, &ss, op)) {
		mark_reg_unknown(d);
		return;
	}
	mark_reg_unknown(d);
	d->var_off = tnum_subreg(op == OP_ARSH ? sd.var_off : zd.var_off);
	/* arsh works on the sign-extended view: its low half is the result */
	u64 lo = op == OP_ARSH ? (u64)sd.smin : zd.umin;
	u64 hi = op == OP_ARSH ? (u64)sd.smax : zd.umax;
	if (op == OP_ARSH && sd.smin > sd.smax)
		lo = 1, hi = 0;
	if (u32_ok && lo <= hi && (lo >> 32) == (hi >> 32) && (u32)lo <= (u32)hi) {
		d->u32_min = (u32)lo;
		d->u32_max = (u32)hi;
	}
	if (sd.smin >= INT32_MIN && sd.smax <= INT32_MAX) {
		d->s32_min = (s32)sd.smin;
		d->s32_max = (s32)sd.smax;
	}
	d->umin = 0; d->umax = UINT32_MAX;
	d->smin = 0; d->smax = UINT32_MAX;
	reg_bounds_sync(d);
	zext_32_to_64(d);
}
