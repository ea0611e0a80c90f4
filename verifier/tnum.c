/* Tristate numbers: each bit known 0, known 1 or unknown.  The arithmetic
 * keeps every value the operands may hold (the kernel's tnum.c semantics,
 * written afresh from the definitions).
 * SPDX-License-Identifier: MIT */
#include <stdio.h>
#include "vinternal.h"

struct tnum tnum_const(u64 v)
{
	return (struct tnum){ v, 0 };
}

/* The smallest tnum holding [min, max]: the bits below the highest bit in
 * which min and max differ are unknown. */
struct tnum tnum_range(u64 min, u64 max)
{
	u64 chi = min ^ max, delta;
	unsigned bits = chi ? 64 - (unsigned)__builtin_clzll(chi) : 0;

	if (bits > 63)
		return TNUM_UNKNOWN;
	delta = (1ull << bits) - 1;
	return (struct tnum){ min & ~delta, delta };
}

/* The smallest member of t above z (t's largest if none is, t's smallest
 * if z is below it).  Members are t.value + s for the submasks s of
 * t.mask, so this is the smallest submask above d = z - t.value: d counted
 * up by one with the non-mask bits filled so the carry runs through them;
 * below the highest non-mask bit set in d nothing smaller can exceed d,
 * so those bits fill too. */
u64 tnum_step(struct tnum t, u64 z)
{
	u64 tmax = t.value | t.mask, d, h, fill;

	if (z >= tmax)
		return tmax;
	if (z < t.value)
		return t.value;
	d = z - t.value;
	h = d & ~t.mask;
	fill = h ? ~0ull >> __builtin_clzll(h) : 0;
	return t.value | (((d | fill | ~t.mask) + 1) & t.mask);
}

struct tnum tnum_shl(struct tnum a, unsigned s)
{
	return (struct tnum){ a.value << s, a.mask << s };
}

struct tnum tnum_shr(struct tnum a, unsigned s)
{
	return (struct tnum){ a.value >> s, a.mask >> s };
}

struct tnum tnum_arshift(struct tnum a, unsigned s, unsigned bits)
{
	if (bits == 32)
		return (struct tnum){ (u32)((s32)(u32)a.value >> s),
				      (u32)((s32)(u32)a.mask >> s) };
	return (struct tnum){ (u64)((s64)a.value >> s), (u64)((s64)a.mask >> s) };
}

struct tnum tnum_add(struct tnum a, struct tnum b)
{
	u64 sm = a.mask + b.mask, sv = a.value + b.value;
	u64 sigma = sm + sv, chi = sigma ^ sv;
	u64 mu = chi | a.mask | b.mask;

	return (struct tnum){ sv & ~mu, mu };
}

struct tnum tnum_sub(struct tnum a, struct tnum b)
{
	u64 dv = a.value - b.value;
	u64 alpha = dv + a.mask, beta = dv - b.mask;
	u64 chi = alpha ^ beta, mu = chi | a.mask | b.mask;

	return (struct tnum){ dv & ~mu, mu };
}

struct tnum tnum_and(struct tnum a, struct tnum b)
{
	u64 alpha = a.value | a.mask, beta = b.value | b.mask;
	u64 v = a.value & b.value;

	return (struct tnum){ v, alpha & beta & ~v };
}

struct tnum tnum_or(struct tnum a, struct tnum b)
{
	u64 v = a.value | b.value, mu = a.mask | b.mask;

	return (struct tnum){ v, mu & ~v };
}

struct tnum tnum_xor(struct tnum a, struct tnum b)
{
	u64 v = a.value ^ b.value, mu = a.mask | b.mask;

	return (struct tnum){ v & ~mu, mu };
}

/* Every value either tnum holds (bits that differ become unknown). */
static struct tnum tnum_union(struct tnum a, struct tnum b)
{
	u64 mu = (a.value ^ b.value) | a.mask | b.mask;

	return (struct tnum){ a.value & b.value & ~mu, mu };
}

/* Shift-and-add over a's bits: a known 1 adds b; an unknown bit gives
 * "added or not", the union of both partial sums (as Linux 6.18's
 * tnum_mul, which is more precise than adding b's bits as unknown). */
struct tnum tnum_mul(struct tnum a, struct tnum b)
{
	struct tnum acc = tnum_const(0);

	while (a.value || a.mask) {
		if (a.value & 1)
			acc = tnum_add(acc, b);
		else if (a.mask & 1)
			acc = tnum_union(acc, tnum_add(acc, b));
		a = tnum_shr(a, 1);
		b = tnum_shl(b, 1);
	}
	return acc;
}

struct tnum tnum_intersect(struct tnum a, struct tnum b)
{
	u64 v = a.value | b.value, mu = a.mask & b.mask;

	return (struct tnum){ v & ~mu, mu };
}

struct tnum tnum_cast(struct tnum a, unsigned size)
{
	u64 keep = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;

	return (struct tnum){ a.value & keep, a.mask & keep };
}

bool tnum_is_aligned(struct tnum a, u64 size)
{
	if (!size)
		return true;
	return !((a.value | a.mask) & (size - 1));
}

bool tnum_in(struct tnum a, struct tnum b)
{
	if (b.mask & ~a.mask)
		return false;
	b.value &= ~a.mask;
	return a.value == b.value;
}

struct tnum tnum_subreg(struct tnum a)
{
	return tnum_cast(a, 4);
}

struct tnum tnum_clear_subreg(struct tnum a)
{
	return tnum_shl(tnum_shr(a, 32), 32);
}

struct tnum tnum_with_subreg(struct tnum reg, struct tnum subreg)
{
	return tnum_or(tnum_clear_subreg(reg), tnum_subreg(subreg));
}

struct tnum tnum_const_subreg(struct tnum a, u32 value)
{
	return tnum_with_subreg(a, tnum_const(value));
}

/* As the kernel's log shows it: a constant as its value, else
 * "(0xVALUE; 0xMASK)". */
int tnum_strn(char *buf, size_t n, struct tnum a)
{
	if (tnum_is_const(a))
		return snprintf(buf, n, "%llu", (unsigned long long)a.value);
	return snprintf(buf, n, "(0x%llx; 0x%llx)", (unsigned long long)a.value,
			(unsigned long long)a.mask);
}
