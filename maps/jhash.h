/* Bob Jenkins' lookup3 hash (public domain), the kernel's jhash().  The
 * hash maps use it so that with BPF_F_ZERO_SEED their buckets, and so their
 * GET_NEXT_KEY order, are the kernel's.  On a little-endian host the
 * kernel's jhash2() over u32 words gives the same value as this.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_JHASH_H
#define BPFVM_JHASH_H

#include <stdint.h>
#include <string.h>

#define BPFVM_JHASH_INITVAL 0xdeadbeefu

static inline uint32_t bpfvm_rol32(uint32_t w, unsigned s)
{
	return (w << s) | (w >> (32 - s));
}

#define BPFVM_JHASH_MIX(a, b, c) do {			\
	a -= c; a ^= bpfvm_rol32(c, 4); c += b;		\
	b -= a; b ^= bpfvm_rol32(a, 6); a += c;		\
	c -= b; c ^= bpfvm_rol32(b, 8); b += a;		\
	a -= c; a ^= bpfvm_rol32(c, 16); c += b;	\
	b -= a; b ^= bpfvm_rol32(a, 19); a += c;	\
	c -= b; c ^= bpfvm_rol32(b, 4); b += a;		\
} while (0)

#define BPFVM_JHASH_FINAL(a, b, c) do {			\
	c ^= b; c -= bpfvm_rol32(b, 14);		\
	a ^= c; a -= bpfvm_rol32(c, 11);		\
	b ^= a; b -= bpfvm_rol32(a, 25);		\
	c ^= b; c -= bpfvm_rol32(b, 16);		\
	a ^= c; a -= bpfvm_rol32(c, 4);			\
	b ^= a; b -= bpfvm_rol32(a, 14);		\
	c ^= b; c -= bpfvm_rol32(b, 24);		\
} while (0)

static inline uint32_t bpfvm_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint32_t bpfvm_jhash(const void *key, uint32_t len,
				   uint32_t seed)
{
	const uint8_t *k = key;
	uint32_t a, b, c;

	a = b = c = BPFVM_JHASH_INITVAL + len + seed;
	while (len > 12) {
		a += bpfvm_le32(k);
		b += bpfvm_le32(k + 4);
		c += bpfvm_le32(k + 8);
		BPFVM_JHASH_MIX(a, b, c);
		len -= 12;
		k += 12;
	}
	if (len == 0)
		return c;
	/* u32 and u64 keys (or tails) without the padded copy below */
	if (len == 4 || len == 8) {
		a += bpfvm_le32(k);
		if (len == 8)
			b += bpfvm_le32(k + 4);
		BPFVM_JHASH_FINAL(a, b, c);
		return c;
	}
	/* the last 1..12 bytes, zero-padded, little-endian */
	uint8_t tail[12] = { 0 };
	memcpy(tail, k, len);
	a += bpfvm_le32(tail);
	b += bpfvm_le32(tail + 4);
	c += bpfvm_le32(tail + 8);
	BPFVM_JHASH_FINAL(a, b, c);
	return c;
}

#endif
