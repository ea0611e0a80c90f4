/* Private state of a VM.  Owned by the interpreter work (vm/vm.c,
 * vm/interp.c); other parts use only what is declared here on purpose.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_VM_INTERNAL_H
#define BPFVM_VM_INTERNAL_H

#include "bpfvm.h"
#include "insn.h"

/* The two dispatch builds of one interpreter source. */
enum bpfvm_dispatch { BPFVM_DISPATCH_GOTO, BPFVM_DISPATCH_SWITCH };

/* Choose the dispatch for later runs (tests use it to run both). */
void bpfvm_set_dispatch(struct bpfvm *vm, enum bpfvm_dispatch d);

#endif
