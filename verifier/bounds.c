/* Scalar range tracking: every scalar register carries a tnum and signed
 * and unsigned bounds for its 64-bit value and its low 32 bits.  Each
 * operation computes all of them, then reg_bounds_sync() lets each view
 * tighten the others in the order and number of rounds of the kernel's
 * reg_bounds_sync (the order matters on dead branches).
 * SPDX-License-Identifier: MIT */
#include <string.h>
#include "vinternal.h"

#define U32_MAXV 0xffffffffu
#define S32_MINV INT32_MIN
#define S32_MAXV INT32_MAX

static void mark_unbounded(struct bpf_reg *r)
{
	r->smin = INT64_MIN; r->smax = INT64_MAX;
	r->umin = 0; r->umax = UINT64_MAX;
	r->s32_min = S32_MINV; r->s32_max = S32_MAXV;
	r->u32_min = 0; r->u32_max = U32_MAXV;
}

void mark_reg_unknown(struct bpf_reg *r)
{
	memset(r, 0, sizeof(*r));
	r->type = SCALAR_VALUE;
	r->var_off = TNUM_UNKNOWN;
	mark_unbounded(r);
}

void mark_reg_known(struct bpf_reg *r, u64 v)
{
	memset(r, 0, sizeof(*r));
	r->type = SCALAR_VALUE;
	r->var_off = tnum_const(v);
	r->smin = r->smax = (s64)v;
	r->umin = r->umax = v;
	r->s32_min = r->s32_max = (s32)(u32)v;
	r->u32_min = r->u32_max = (u32)v;
}

void mark_reg_not_init(struct bpf_reg *r)
{
	mark_reg_unknown(r);
	r->type = NOT_INIT;
}

/* The register holds exactly v: tnum and every bound (other fields stay,
 * as the kernel's ___mark_reg_known). */
static void set_known_bounds(struct bpf_reg *r, u64 v)
{
	r->var_off = tnum_const(v);
	r->smin = r->smax = (s64)v;
	r->umin = r->umax = v;
	r->s32_min = r->s32_max = (s32)(u32)v;
	r->u32_min = r->u32_max = (u32)v;
}

static u64 max64(u64 a, u64 b) { return a > b ? a : b; }
static u64 min64(u64 a, u64 b) { return a < b ? a : b; }
static s64 smax64(s64 a, s64 b) { return a > b ? a : b; }
static s64 smin64(s64 a, s64 b) { return a < b ? a : b; }

/* Bounds implied by the known bits (32-bit view first, as the kernel's
 * __update_reg_bounds).  Then, as Linux 6.18.y's __update_reg64_bounds:
 * when the unsigned range holds only one of the tnum's values, the
 * register is that constant (also on a dead branch, where they meet in
 * none: a consistent state rather than crossed bounds). */
void reg_bounds_from_tnum(struct bpf_reg *r)
{
	struct tnum v = r->var_off, s = tnum_subreg(v);

	r->s32_min = (s32)smax64(r->s32_min, (s32)(u32)(s.value | (s.mask & 0x80000000u)));
	r->s32_max = (s32)smin64(r->s32_max, (s32)(u32)(s.value | (s.mask & 0x7fffffffu)));
	r->u32_min = (u32)max64(r->u32_min, (u32)s.value);
	r->u32_max = (u32)min64(r->u32_max, (u32)(s.value | s.mask));
	r->smin = smax64(r->smin, (s64)(v.value | (v.mask & (1ull << 63))));
	r->smax = smin64(r->smax, (s64)(v.value | (v.mask & ~(1ull << 63))));
	r->umin = max64(r->umin, v.value);
	r->umax = min64(r->umax, v.value | v.mask);

	u64 next = tnum_step(v, r->umin), tmax = v.value | v.mask;
	bool umin_in = (r->umin & ~v.mask) == v.value;

	if (umin_in && next > r->umax)
		set_known_bounds(r, r->umin);
	else if (!umin_in && next == tmax)
		set_known_bounds(r, tmax);
	else if (!umin_in && next <= r->umax && tnum_step(v, next) > r->umax)
		set_known_bounds(r, next);
}

/* The kernel's __reg32_deduce_bounds: the 64-bit view and the other 32-bit
 * view tighten each 32-bit view. */
static void deduce_bounds32(struct bpf_reg *r)
{
	/* 64 -> 32: when the upper halves agree, the low halves are a range */
	if ((r->umin >> 32) == (r->umax >> 32)) {
		r->u32_min = (u32)max64(r->u32_min, (u32)r->umin);
		r->u32_max = (u32)min64(r->u32_max, (u32)r->umax);
		if ((s32)(u32)r->umin <= (s32)(u32)r->umax) {
			r->s32_min = (s32)smax64(r->s32_min, (s32)(u32)r->umin);
			r->s32_max = (s32)smin64(r->s32_max, (s32)(u32)r->umax);
		}
	}
	if (((u64)r->smin >> 32) == ((u64)r->smax >> 32)) {
		if ((u32)r->smin <= (u32)r->smax) {
			r->u32_min = (u32)max64(r->u32_min, (u32)r->smin);
			r->u32_max = (u32)min64(r->u32_max, (u32)r->smax);
		}
		if ((s32)r->smin <= (s32)r->smax) {
			r->s32_min = (s32)smax64(r->s32_min, (s32)r->smin);
			r->s32_max = (s32)smin64(r->s32_max, (s32)r->smax);
		}
	}
	/* upper halves one apart (0xffffffff then 0 counts) and the low
	 * halves going from negative to non-negative: still an s32 range */
	if ((u32)(r->umin >> 32) + 1 == (u32)(r->umax >> 32) &&
	    (s32)(u32)r->umin < 0 && (s32)(u32)r->umax >= 0) {
		r->s32_min = (s32)smax64(r->s32_min, (s32)(u32)r->umin);
		r->s32_max = (s32)smin64(r->s32_max, (s32)(u32)r->umax);
	}
	if ((u32)((u64)r->smin >> 32) + 1 == (u32)((u64)r->smax >> 32) &&
	    (s32)r->smin < 0 && (s32)r->smax >= 0) {
		r->s32_min = (s32)smax64(r->s32_min, (s32)r->smin);
		r->s32_max = (s32)smin64(r->s32_max, (s32)r->smax);
	}
	/* 32: signed <-> unsigned when the range does not cross the sign */
	if ((s32)r->u32_min <= (s32)r->u32_max) {
		r->s32_min = (s32)smax64(r->s32_min, (s32)r->u32_min);
		r->s32_max = (s32)smin64(r->s32_max, (s32)r->u32_max);
	}
	if ((u32)r->s32_min <= (u32)r->s32_max) {
		r->u32_min = (u32)max64(r->u32_min, (u32)r->s32_min);
		r->u32_max = (u32)min64(r->u32_max, (u32)r->s32_max);
	} else if (r->u32_max < (u32)r->s32_min) {
		/* a signed range across the sign is two unsigned pieces, the
		 * unsigned range may meet only one of them */
		r->s32_min = (s32)r->u32_min;
		r->u32_max = (u32)min64(r->u32_max, (u32)r->s32_max);
	} else if ((u32)r->s32_max < r->u32_min) {
		r->s32_max = (s32)r->u32_max;
		r->u32_min = (u32)max64(r->u32_min, (u32)r->s32_min);
	}
}

/* __reg64_deduce_bounds: 64-bit signed <-> unsigned. */
static void deduce_bounds64(struct bpf_reg *r)
{
	if ((s64)r->umin <= (s64)r->umax) {
		r->smin = smax64(r->smin, (s64)r->umin);
		r->smax = smin64(r->smax, (s64)r->umax);
	}
	if ((u64)r->smin <= (u64)r->smax) {
		r->umin = max64(r->umin, (u64)r->smin);
		r->umax = min64(r->umax, (u64)r->smax);
	} else if (r->umax < (u64)r->smin) {
		r->smin = (s64)r->umin;
		r->umax = min64(r->umax, (u64)r->smax);
	} else if ((u64)r->smax < r->umin) {
		r->smax = (s64)r->umax;
		r->umin = max64(r->umin, (u64)r->smin);
	}
}

/* __reg_deduce_mixed_bounds: the 32-bit range back into the 64-bit one. */
static void deduce_bounds_mixed(struct bpf_reg *r)
{
	/* a bound's upper half with the low range in place is still a bound
	 * (any value above it in the upper half is above anyway) */
	r->umin = max64(r->umin, (r->umin & ~(u64)U32_MAXV) | r->u32_min);
	r->umax = min64(r->umax, (r->umax & ~(u64)U32_MAXV) | r->u32_max);
	r->smin = smax64(r->smin, (s64)(((u64)r->smin & ~(u64)U32_MAXV) | r->u32_min));
	r->smax = smin64(r->smax, (s64)(((u64)r->smax & ~(u64)U32_MAXV) | r->u32_max));
	/* As the kernel (for sign-extending loads): a non-negative s32 range
	 * with the 64-bit range inside [S32_MIN, S32_MAX] means the upper half
	 * is zero.  It assigns the 32-bit range rather than intersecting, so
	 * a tighter 64-bit range is lost; mirrored, as pruning depends on it. */
	if (r->s32_min >= 0 && r->smin >= S32_MINV && r->smax <= S32_MAXV) {
		r->smin = r->s32_min;
		r->smax = r->s32_max;
		r->umin = (u64)r->s32_min;
		r->umax = (u64)r->s32_max;
		r->var_off = tnum_intersect(r->var_off,
					    tnum_range((u64)r->smin, (u64)r->smax));
	}
}

/* In the kernel's order: on a contradiction (a dead branch) the result
 * depends on it. */
static void deduce_bounds(struct bpf_reg *r)
{
	deduce_bounds32(r);
	deduce_bounds64(r);
	deduce_bounds_mixed(r);
}

static void bound_offset(struct bpf_reg *r)
{
	struct tnum t64 = tnum_intersect(r->var_off, tnum_range(r->umin, r->umax));
	struct tnum t32 = tnum_intersect(tnum_subreg(t64),
					 tnum_range(r->u32_min, r->u32_max));

	r->var_off = tnum_or(tnum_clear_subreg(t64), t32);
}

void reg_bounds_sync(struct bpf_reg *r)
{
	reg_bounds_from_tnum(r);
	deduce_bounds(r);
	deduce_bounds(r);
	deduce_bounds(r);
	bound_offset(r);
	reg_bounds_from_tnum(r);
}

/* The 64-bit view becomes the zero-extended low half. */
void zext_32_to_64(struct bpf_reg *r)
{
	r->var_off = tnum_subreg(r->var_off);
	r->umin = r->u32_min;
	r->umax = r->u32_max;
	if (r->s32_min >= 0) {
		r->smin = r->s32_min;
		r->smax = r->s32_max;
	} else {
		r->smin = 0;
		r->smax = U32_MAXV;
	}
	reg_bounds_sync(r);
}

/* Truncate to size bytes, zero-extended (narrow loads, alu32 results). */
void coerce_reg_to_size(struct bpf_reg *r, unsigned size)
{
	u64 mask = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;

	if (size >= 8)
		return;
	r->var_off = tnum_cast(r->var_off, size);
	if ((r->umin & ~mask) == (r->umax & ~mask)) {
		r->umin &= mask;
		r->umax &= mask;
	} else {
		r->umin = 0;
		r->umax = mask;
	}
	r->smin = (s64)r->umin;
	r->smax = (s64)r->umax;
	if (size >= 4) {
		r->u32_min = (u32)r->umin; r->u32_max = (u32)r->umax;
		r->s32_min = S32_MINV; r->s32_max = S32_MAXV;
	} else {
		r->u32_min = (u32)r->umin; r->u32_max = (u32)r->umax;
		r->s32_min = (s32)r->umin; r->s32_max = (s32)r->umax;
	}
	reg_bounds_sync(r);
}

/* Sign-extend from size bytes (movsx, ldsx).  As Linux 6.18: when the
 * bits above the sign agree at both signed bounds and the extended bounds
 * have one sign, the result is that range and its tnum is the range's (the
 * old known bits are dropped); otherwise only the size's signed range. */
void coerce_reg_to_size_sx(struct bpf_reg *r, unsigned size)
{
	unsigned bits = size * 8;
	s64 lo = -(1ll << (bits - 1)), hi = (1ll << (bits - 1)) - 1;

	if (reg_is_const(r, false)) {
		u64 v = r->var_off.value << (64 - bits);
		mark_reg_known(r, (u64)((s64)v >> (64 - bits)));
		return;
	}
	if (((u64)r->smin >> bits) == ((u64)r->smax >> bits)) {
		s64 a = (s64)((u64)r->smin << (64 - bits)) >> (64 - bits);
		s64 b = (s64)((u64)r->smax << (64 - bits)) >> (64 - bits);
		s64 mn = a < b ? a : b, mx = a < b ? b : a;
		if ((mn >= 0) == (mx >= 0)) {
			r->smin = mn; r->smax = mx;
			r->umin = (u64)mn; r->umax = (u64)mx;
			r->s32_min = (s32)mn; r->s32_max = (s32)mx;
			r->u32_min = (u32)mn; r->u32_max = (u32)mx;
			r->var_off = tnum_range((u64)mn, (u64)mx);
			return;
		}
	}
	mark_reg_unknown(r);
	r->smin = r->s32_min = (s32)lo;
	r->smax = r->s32_max = (s32)hi;
}

/* The 32-bit movsx (size 1 or 2) on the low half, the same way; the caller
 * zero-extends. */
void coerce_subreg_to_size_sx(struct bpf_reg *r, unsigned size)
{
	unsigned bits = size * 8;
	s32 lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;

	if (tnum_is_const(tnum_subreg(r->var_off))) {
		u32 v = (u32)r->var_off.value << (32 - bits);
		v = (u32)((s32)v >> (32 - bits));
		mark_reg_known(r, v);
		return;
	}
	if (((u32)r->s32_min >> bits) == ((u32)r->s32_max >> bits)) {
		s32 a = (s32)((u32)r->s32_min << (32 - bits)) >> (32 - bits);
		s32 b = (s32)((u32)r->s32_max << (32 - bits)) >> (32 - bits);
		s32 mn = a < b ? a : b, mx = a < b ? b : a;
		if ((mn >= 0) == (mx >= 0)) {
			r->s32_min = mn; r->s32_max = mx;
			r->u32_min = (u32)mn; r->u32_max = (u32)mx;
			r->var_off = tnum_subreg(tnum_range((u64)(s64)mn, (u64)(s64)mx));
			return;
		}
	}
	r->s32_min = lo; r->s32_max = hi;
	r->u32_min = 0; r->u32_max = U32_MAXV;
	r->var_off = tnum_subreg(TNUM_UNKNOWN);
}

bool reg_is_const(const struct bpf_reg *r, bool w32)
{
	return r->type == SCALAR_VALUE &&
	       tnum_is_const(w32 ? tnum_subreg(r->var_off) : r->var_off);
}

u64 reg_const(const struct bpf_reg *r, bool w32)
{
	return w32 ? (u32)r->var_off.value : r->var_off.value;
}

bool range_within(const struct bpf_reg *o, const struct bpf_reg *c)
{
	return o->umin <= c->umin && o->umax >= c->umax &&
	       o->smin <= c->smin && o->smax >= c->smax &&
	       o->u32_min <= c->u32_min && o->u32_max >= c->u32_max &&
	       o->s32_min <= c->s32_min && o->s32_max >= c->s32_max;
}
