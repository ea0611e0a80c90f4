/* Epoch-based reclamation: the kernel's RCU guarantee for map elements, in
 * user space.  A domain counts the program runs in progress by the parity
 * of the epoch they entered in.  The epoch advances from g to g+1 only once
 * no run of epoch g-1 is left, so when it reaches t+2 every run that began
 * in epoch t or before has ended: something unlinked and retired in epoch
 * t can then be reused, since runs that began later never saw it linked.
 *
 * enter/exit are two atomic operations on a shared counter; advancing and
 * checking are lock-free.  Nothing here blocks: an element that is not yet
 * safe just waits on its map's list (see hash.c).
 * SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include "map.h"

struct bpfvm_epoch {
	uint64_t gen;	    /* atomic */
	uint64_t active[2]; /* atomic: runs in progress, by epoch parity */
};

struct bpfvm_epoch *bpfvm_epoch_new(void)
{
	return calloc(1, sizeof(struct bpfvm_epoch));
}

void bpfvm_epoch_free(struct bpfvm_epoch *d)
{
	free(d);
}

unsigned bpfvm_epoch_enter(struct bpfvm_epoch *d)
{
	for (;;) {
		uint64_t g = __atomic_load_n(&d->gen, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&d->active[g & 1], 1, __ATOMIC_SEQ_CST);
		/* counted in the epoch that is current now, or try again */
		if (__atomic_load_n(&d->gen, __ATOMIC_SEQ_CST) == g)
			return (unsigned)(g & 1);
		__atomic_sub_fetch(&d->active[g & 1], 1, __ATOMIC_SEQ_CST);
	}
}

void bpfvm_epoch_exit(struct bpfvm_epoch *d, unsigned token)
{
	__atomic_sub_fetch(&d->active[token & 1], 1, __ATOMIC_SEQ_CST);
}

/* g -> g+1 once the runs of epoch g-1 (same parity as g+1) are gone. */
static uint64_t advance(struct bpfvm_epoch *d)
{
	uint64_t g = __atomic_load_n(&d->gen, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&d->active[(g + 1) & 1], __ATOMIC_SEQ_CST) == 0 &&
	    __atomic_compare_exchange_n(&d->gen, &g, g + 1, 0, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST))
		g++;
	return g;
}

uint64_t bpfvm_epoch_retire(struct bpfvm_epoch *d)
{
	return __atomic_load_n(&d->gen, __ATOMIC_SEQ_CST);
}

int bpfvm_epoch_safe(struct bpfvm_epoch *d, uint64_t tag)
{
	uint64_t g = __atomic_load_n(&d->gen, __ATOMIC_SEQ_CST);
	/* at most two steps are ever needed */
	for (int i = 0; i < 2 && g < tag + 2; i++)
		g = advance(d);
	return g >= tag + 2;
}
