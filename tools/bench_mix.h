/* The dynamic instruction mix of one run: which ops execute most, and which
 * adjacent pairs (fusion candidates).  For finding what to speed up in the
 * interpreter; bpfvm-bench --mix prints it.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_BENCH_MIX_H
#define BPFVM_BENCH_MIX_H

#include <stdio.h>
#include "bpfvm.h"

/* Run vm once on ctx with a trace hook (the VM's trace setting is restored
 * to none) and print the `top` most executed ops and pairs to out.
 * 0, or a negative errno (no memory, a failed run). */
int bench_mix_print(struct bpfvm *vm, void *ctx, size_t ctx_len, int top,
		    FILE *out);

#endif
