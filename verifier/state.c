/* Verifier states: copies for pushed branches and checkpoints, the
 * "is the old state at least as general" test (states_equal) used to prune
 * paths, and the branch counts that say when a checkpoint's subtree is fully
 * explored (only then may it prune; an unfinished one that equals the
 * current state exactly is an infinite loop).
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "vinternal.h"

struct func_state *func_new(u32 frameno, int callsite, u32 subprog)
{
	struct func_state *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	for (int i = 0; i < 11; i++)
		mark_reg_not_init(&f->regs[i]);
	f->frameno = frameno;
	f->callsite = callsite;
	f->subprog = subprog;
	return f;
}

struct vstate *state_new(void)
{
	return calloc(1, sizeof(struct vstate));
}

void state_free(struct vstate *s)
{
	if (!s)
		return;
	free(s->hist);
	for (u32 i = 0; i < BPFVM_MAX_FRAMES; i++)
		free(s->frame[i]);
	free(s);
}

/* dst becomes a deep copy of src (dst's frames reused where present). */
void state_copy(struct vstate *dst, const struct vstate *src)
{
	struct func_state *keep[BPFVM_MAX_FRAMES];

	memcpy(keep, dst->frame, sizeof(keep));
	free(dst->hist);
	memcpy(dst, src, sizeof(*dst));
	dst->hist = NULL;
	dst->caphist = 0;
	if (src->nhist) {
		dst->hist = malloc(src->nhist * sizeof(*dst->hist));
		if (dst->hist) {
			memcpy(dst->hist, src->hist, src->nhist * sizeof(*dst->hist));
			dst->caphist = src->nhist;
		} else {
			dst->nhist = 0;
		}
	}
	for (u32 i = 0; i < BPFVM_MAX_FRAMES; i++) {
		if (i <= src->curframe && src->frame[i]) {
			struct func_state *f = keep[i] ? keep[i] : malloc(sizeof(*f));
			if (f)
				memcpy(f, src->frame[i], sizeof(*f));
			dst->frame[i] = f;
		} else {
			free(keep[i]);
			dst->frame[i] = NULL;
		}
	}
}

struct vstate *state_dup(const struct vstate *s)
{
	struct vstate *d = state_new();

	if (d)
		state_copy(d, s);
	return d;
}

/* ---- equivalence ------------------------------------------------------ */

/* old ids map one-to-one onto cur ids within one comparison. */
static bool check_ids(struct verifier_env *env, u32 old, u32 cur)
{
	if (!old && !cur)
		return true;
	if (!old || !cur)
		return false;
	for (u32 i = 0; i < env->idmap_cnt; i++) {
		if (env->idmap_old[i] == old)
			return env->idmap_cur[i] == cur;
		if (env->idmap_cur[i] == cur)
			return false;
	}
	if (env->idmap_cnt >= 64)
		return false;
	env->idmap_old[env->idmap_cnt] = old;
	env->idmap_cur[env->idmap_cnt++] = cur;
	return true;
}

static bool regs_exact(struct verifier_env *env, const struct bpf_reg *o,
		       const struct bpf_reg *c)
{
	return o->type == c->type && o->flags == c->flags && o->off == c->off &&
	       o->range == c->range && o->map == c->map &&
	       o->subprog == c->subprog && o->frameno == c->frameno &&
	       o->var_off.value == c->var_off.value &&
	       o->var_off.mask == c->var_off.mask &&
	       o->smin == c->smin && o->smax == c->smax &&
	       o->umin == c->umin && o->umax == c->umax &&
	       o->s32_min == c->s32_min && o->s32_max == c->s32_max &&
	       o->u32_min == c->u32_min && o->u32_max == c->u32_max &&
	       check_ids(env, o->id, c->id) &&
	       check_ids(env, o->ref_obj_id, c->ref_obj_id);
}

static bool within(const struct bpf_reg *o, const struct bpf_reg *c)
{
	return range_within(o, c) && tnum_in(o->var_off, c->var_off);
}

static bool regsafe(struct verifier_env *env, const struct bpf_reg *o,
		    const struct bpf_reg *c, bool exact)
{
	if (exact)
		return regs_exact(env, o, c);
	if (o->type == NOT_INIT)
		return true;
	if (c->type == NOT_INIT)
		return false;
	if (o->type != c->type || o->flags != c->flags)
		return false;
	switch (o->type) {
	case SCALAR_VALUE:
		if (regs_exact(env, o, c))
			return true;
		/* no decision depended on its value */
		if (!o->precise)
			return true;
		/* a linked old register needs the same kind of link ("id",
		 * "id+k" 64-bit, 32-bit) and the same k */
		if (o->id && (o->id & ID_ADD_CONST) != (c->id & ID_ADD_CONST))
			return false;
		if ((o->id & ID_ADD_CONST) && o->off != c->off)
			return false;
		return within(o, c) && (!o->id || check_ids(env, o->id, c->id));
	case PTR_TO_MAP_KEY:
	case PTR_TO_MAP_VALUE:
	case PTR_TO_MEM:
	case PTR_TO_BUF:
		return o->off == c->off && o->map == c->map &&
		       o->mem_size == c->mem_size && within(o, c) &&
		       check_ids(env, o->id, c->id) &&
		       check_ids(env, o->ref_obj_id, c->ref_obj_id);
	case PTR_TO_PACKET_META:
	case PTR_TO_PACKET:
		if (o->range > c->range || o->off != c->off)
			return false;
		return check_ids(env, o->id, c->id) && within(o, c);
	default:
		return regs_exact(env, o, c);
	}
}

/* A slot as a scalar register: a 64-bit scalar spill, or eight MISC bytes
 * (which load as an unknown scalar); NULL otherwise. */
static const struct bpf_reg *slot_scalar(const struct stack_slot *s,
					 const struct bpf_reg *unknown)
{
	int spill = 0, misc = 0;

	for (int i = 0; i < 8; i++) {
		spill += s->type[i] == STACK_SPILL;
		misc += s->type[i] == STACK_MISC;
	}
	if (spill == 8 && s->spilled.type == SCALAR_VALUE)
		return &s->spilled;
	return misc == 8 ? unknown : NULL;
}

static bool stacksafe(struct verifier_env *env, const struct func_state *o,
		      const struct func_state *c, bool exact)
{
	struct bpf_reg unknown;

	mark_reg_unknown(&unknown);
	for (int spi = 0; spi < o->allocated_stack / 8; spi++) {
		const struct stack_slot *os = &o->stack[spi], *cs = &c->stack[spi];
		bool cur_has = spi < c->allocated_stack / 8;

		if (!exact && !(o->slot_live[spi] & LIVE_READ))
			continue;
		if (!exact && cur_has) {
			/* a scalar spill and plain bytes load alike */
			const struct bpf_reg *or = slot_scalar(os, &unknown);
			const struct bpf_reg *cr = slot_scalar(cs, &unknown);
			if (or && cr) {
				if (!regsafe(env, or, cr, false))
					return false;
				continue;
			}
		}

		for (int i = 0; i < 8; i++) {
			u8 ot = os->type[i], ct = cur_has ? cs->type[i] : STACK_INVALID;
			if (exact) {
				if (ot != ct)
					return false;
				continue;
			}
			if (ot == STACK_INVALID)
				continue;
			if (ot == STACK_MISC) /* privileged: uninit reads allowed */
				continue;
			if (!cur_has)
				return false;
			if (ot != ct)
				return false;
		}
		if (os->type[7] == STACK_SPILL &&
		    !regsafe(env, &os->spilled, &cs->spilled, exact))
			return false;
	}
	if (exact && o->allocated_stack != c->allocated_stack)
		return false;
	return true;
}

static bool func_equal(struct verifier_env *env, const struct func_state *o,
		       const struct func_state *c, bool exact)
{
	if (o->callsite != c->callsite)
		return false;
	for (int i = 0; i < 11; i++) {
		/* never read after the checkpoint: any value will do */
		if (!exact && !(o->live[i] & LIVE_READ))
			continue;
		if (!regsafe(env, &o->regs[i], &c->regs[i], exact))
			return false;
	}
	return stacksafe(env, o, c, exact);
}

bool states_equal(struct verifier_env *env, const struct vstate *o,
		  const struct vstate *c, bool exact)
{
	env->idmap_cnt = 0;
	if (o->curframe != c->curframe || o->nrefs != c->nrefs ||
	    o->active_lock_id != c->active_lock_id ||
	    o->active_lock_map != c->active_lock_map)
		return false;
	for (u32 i = 0; i < o->nrefs; i++)
		if (!check_ids(env, o->refs[i].id, c->refs[i].id))
			return false;
	for (u32 i = 0; i <= o->curframe; i++)
		if (!func_equal(env, o->frame[i], c->frame[i], exact))
			return false;
	return true;
}

/* ---- liveness ------------------------------------------------------------ */

/* A read of regno: every checkpoint up to the one whose segment wrote it
 * depends on its value (the kernel's mark_reg_read). */
void mark_reg_read(struct func_state *f, int regno)
{
	for (; f->parent; f = f->parent) {
		if (f->live[regno] & LIVE_WRITTEN)
			break;
		if (f->parent->live[regno] & LIVE_READ)
			break;
		f->parent->live[regno] |= LIVE_READ;
	}
}

void mark_slot_read(struct func_state *f, int spi)
{
	if (spi < 0 || spi >= STACK_SLOTS)
		return;
	for (; f->parent; f = f->parent) {
		if (f->slot_live[spi] & LIVE_WRITTEN)
			break;
		if (f->parent->slot_live[spi] & LIVE_READ)
			break;
		f->parent->slot_live[spi] |= LIVE_READ;
	}
}

/* A path pruned by old needs what old's continuations read. */
void propagate_liveness(struct verifier_env *env, const struct vstate *old)
{
	struct vstate *cur = env->cur;

	for (u32 fr = 0; fr <= old->curframe; fr++) {
		const struct func_state *o = old->frame[fr];
		struct func_state *c = cur->frame[fr];
		for (int i = 0; i < 11; i++)
			if (o->live[i] & LIVE_READ)
				mark_reg_read(c, i);
		for (int k = 0; k < STACK_SLOTS; k++)
			if (o->slot_live[k] & LIVE_READ)
				mark_slot_read(c, k);
	}
}

/* ---- checkpoints ------------------------------------------------------ */

void update_branch_counts(struct verifier_env *env, struct vstate *st)
{
	(void)env;
	while (st) {
		if (--st->branches)
			break;
		st = st->parent;
	}
}

/* 1: pruned (an explored state covers this one), 0: go on, <0: error. */
int is_state_visited(struct verifier_env *env, u32 insn_idx)
{
	struct vstate *cur = env->cur;
	bool add_new = false;
	u32 n = 0;

	if (env->jmps_processed - env->prev_jmps_processed >= 2 &&
	    env->insn_processed - env->prev_insn_processed >= 8)
		add_new = true;
	struct ckpt **pprev = &env->explored[insn_idx], *sl;
	while ((sl = *pprev)) {
		n++;
		if (sl->st->branches) {
			/* still being explored: a loop back to it */
			if (states_equal(env, sl->st, cur, true)) {
				verbose(env, "infinite loop detected at insn %u\n",
					insn_idx);
				verbose(env, "cur state:");
				print_state(env, cur->frame[cur->curframe], true);
				verbose(env, "old state:");
				print_state(env, sl->st->frame[cur->curframe], true);
				return -EINVAL;
			}
			/* iterations differ: checkpoint them sparsely */
			if (env->jmps_processed - env->prev_jmps_processed < 20 &&
			    env->insn_processed - env->prev_insn_processed < 100)
				add_new = false;
		} else if (states_equal(env, sl->st, cur, false)) {
			sl->hit_cnt++;
			propagate_liveness(env, sl->st);
			propagate_precision(env, sl->st);
			return 1;
		}
		/* a state that keeps missing is dropped from the list */
		if (add_new)
			sl->miss_cnt++;
		if (sl->miss_cnt > sl->hit_cnt * 3 + 3) {
			*pprev = sl->next;
			if (!sl->st->branches) {
				env->cur_states--;
				state_free(sl->st);
				free(sl);
			} else {
				/* a live path's parent: freed at the end */
				sl->next = env->evicted;
				env->evicted = sl;
			}
			continue;
		}
		pprev = &sl->next;
	}
	if (n > env->max_states_per_insn)
		env->max_states_per_insn = n;
	if (!add_new)
		return 0;

	sl = calloc(1, sizeof(*sl));
	struct vstate *st = sl ? state_dup(cur) : NULL;
	if (!st) {
		free(sl);
		return -ENOMEM;
	}
	env->total_states++;
	env->cur_states++;
	if (env->cur_states > env->peak_states)
		env->peak_states = env->cur_states;
	env->prev_jmps_processed = env->jmps_processed;
	env->prev_insn_processed = env->insn_processed;
	st->branches = 1;
	st->parent = cur->parent;
	st->insn_idx = insn_idx;
	st->last_insn_idx = env->prev_insn_idx;
	/* the step into insn_idx belongs to the new segment, not this one */
	if (st->nhist && st->hist[st->nhist - 1].idx == insn_idx &&
	    st->hist[st->nhist - 1].prev == env->prev_insn_idx)
		st->nhist--;
	cur->parent = st;
	cur->first_insn_idx = insn_idx;
	cur->nhist = 0;
	/* precision marks belong to the checkpoint now; the new segment
	 * starts imprecise (the kernel's mark_all_scalars_imprecise) */
	for (u32 f = 0; f <= cur->curframe; f++) {
		struct func_state *fs = cur->frame[f];
		/* reads from here on are reads of the new checkpoint */
		fs->parent = st->frame[f];
		memset(fs->live, 0, sizeof(fs->live));
		memset(fs->slot_live, 0, sizeof(fs->slot_live));
		for (int r = 0; r < 11; r++)
			fs->regs[r].precise = false;
		for (int k = 0; k < fs->allocated_stack / 8; k++)
			fs->stack[k].spilled.precise = false;
	}
	sl->st = st;
	sl->next = env->explored[insn_idx];
	env->explored[insn_idx] = sl;
	return 0;
}

void free_explored(struct verifier_env *env)
{
	if (!env->explored)
		return;
	for (u32 i = 0; i < env->len; i++) {
		struct ckpt *sl = env->explored[i];
		while (sl) {
			struct ckpt *next = sl->next;
			state_free(sl->st);
			free(sl);
			sl = next;
		}
	}
	free(env->explored);
	env->explored = NULL;
	while (env->evicted) {
		struct ckpt *next = env->evicted->next;
		state_free(env->evicted->st);
		free(env->evicted);
		env->evicted = next;
	}
}
