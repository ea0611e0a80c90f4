/* The map helpers a program calls (bpf_map_lookup_elem and friends, the
 * ring buffer, spin locks, for_each_map_elem), bpf_tail_call's program
 * array, and checked mode's view of map values, for one loaded VM.
 *
 * The bpf(2) layer (or an embedder) loads the program, resolving ld_imm64
 * BPF_PSEUDO_MAP_FD to the struct bpfvm_map pointer and MAP_VALUE to the
 * value's address, then attaches the maps the program uses.  It keeps those
 * maps alive (the kernel's used_maps references) until it detaches.
 *
 * Program arrays: a slot's object (what the bpf(2) layer's fops->get gave
 * for a program descriptor) is the target's `struct bpfvm *`.
 *
 * Checked mode (bpfvm_set_checked): every pointer a helper is given must lie
 * in memory the run may touch; r1 must be one of the attached maps (or a map
 * a map-in-map of them holds); a helper may only be used on the map types
 * the kernel's verifier allows; ring-buffer samples submitted must come
 * from ringbuf_reserve; a spin lock held for more than a second stops the
 * run (-EDEADLK) instead of hanging it.  Map values a program may touch
 * (the region hook): any value of an attached array, and any value of an
 * attached hash map or LPM trie once a helper handed it out (it stays the
 * map's memory); inner maps' values: for the rest of the run; a
 * tail-called program's maps: its own value sets.
 *
 * What a run takes (spin locks, ring-buffer samples) is the run's: a run that
 * ends with one, stopped or not, releases it (a checked run that ended well
 * then fails with -EINVAL).  Every run enters the epoch domains of the
 * attached maps (run scope); set them (bpfvm_map_set_epoch) before attaching.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_MAP_HELPERS_H
#define BPFVM_MAP_HELPERS_H

#include <stddef.h>
#include "bpfvm.h"
#include "map.h"

/* Register the map helpers on vm (ids 1-3, 87-89, 93-94, 130-134, 164,
 * 195) with a per-VM state listing maps[0..n), set the tail-call hook and
 * the region hook.  Attaching again replaces the previous state.  0, or
 * -EINVAL (NULL vm, NULL map), -ENOMEM.  Configure before runs start. */
int bpfvm_map_helpers_attach(struct bpfvm *vm, struct bpfvm_map *const *maps,
			     size_t n);

/* Undo attach and free its state (no run may be in flight).  Call before
 * bpfvm_destroy(); a VM never attached is left alone. */
void bpfvm_map_helpers_detach(struct bpfvm *vm);

/* Is map one of the maps attached to vm (the program's used maps)?  For
 * other helpers' checked runs. */
bool bpfvm_map_helpers_uses(const struct bpfvm *vm, const void *map);

#endif
