/* do_check: the path-by-path simulation.  One current state walks the
 * program; a conditional jump it cannot decide pushes the other outcome on
 * a stack; at prune points the state is compared with checkpoints already
 * proven safe.  Every instruction is checked against the abstract state in
 * the kernel's order, with the kernel's messages.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "vinternal.h"
#include "prog_types.h"

#define COMPLEXITY_LIMIT 1000000u
#define MAX_VAR_OFF (1 << 29)
#define MAX_PACKET_OFF 0xffff

static const char *const alu_str[16] = {
	"+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=",
	"=", "s>>=", "endian", "?", "?",
};

/* ---- the exploration stack ------------------------------------------- */

int push_stack(struct verifier_env *env, u32 insn_idx, u32 prev_idx)
{
	if (env->stk_len == env->stk_cap) {
		u32 cap = env->stk_cap ? env->stk_cap * 2 : 64;
		struct stack_elem *p = realloc(env->stk, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		env->stk = p;
		env->stk_cap = cap;
	}
	struct vstate *st = state_dup(env->cur);
	if (!st)
		return -ENOMEM;
	if (env->stk_len > 8192) {
		state_free(st);
		verbose(env, "The sequence of %u jumps is too complex.\n",
			env->stk_len);
		return -E2BIG;
	}
	st->branches = 1;
	if (st->parent)
		st->parent->branches++;
	env->stk[env->stk_len++] = (struct stack_elem){
		st, insn_idx, prev_idx, (u32)vlog_pos(&env->log) };
	return 0;
}

/* The state of the last pushed path, or -ENOENT when none is left. */
static int pop_stack(struct verifier_env *env, u32 *insn_idx, u32 *prev_idx)
{
	if (!env->stk_len)
		return -ENOENT;
	struct stack_elem *e = &env->stk[--env->stk_len];
	state_free(env->cur);
	env->cur = e->st;
	*insn_idx = e->insn_idx;
	*prev_idx = e->prev_insn_idx;
	if (!(env->log.level & 2))
		vlog_reset(&env->log, e->log_pos);
	return 0;
}

/* The "other branch" just pushed, to refine it. */
static struct vstate *pushed_state(struct verifier_env *env)
{
	return env->stk[env->stk_len - 1].st;
}

/* ---- registers --------------------------------------------------------- */

bool reg_is_pkt(const struct bpf_reg *r)
{
	return r->type == PTR_TO_PACKET || r->type == PTR_TO_PACKET_META;
}

bool reg_is_ptr(const struct bpf_reg *r)
{
	return r->type != SCALAR_VALUE && r->type != NOT_INIT;
}

int check_reg_arg_read(struct verifier_env *env, int regno)
{
	if (regno > 10) {
		verbose(env, "R%d is invalid\n", regno);
		return -EINVAL;
	}
	if (cur_regs(env)[regno].type == NOT_INIT) {
		verbose(env, "R%d !read_ok\n", regno);
		return -EACCES;
	}
	mark_reg_read(cur_func(env), regno);
	env->scratched_regs |= (u16)(1u << regno);
	return 0;
}

static int check_reg_dst(struct verifier_env *env, int regno)
{
	if (regno > 10) {
		verbose(env, "R%d is invalid\n", regno);
		return -EINVAL;
	}
	if (regno == 10) {
		verbose(env, "frame pointer is read only\n");
		return -EACCES;
	}
	cur_func(env)->live[regno] |= LIVE_WRITTEN;
	env->scratched_regs |= (u16)(1u << regno);
	return 0;
}

/* r0-r5 after a call: written, unreadable until set again. */
static void clobber_caller_saved(struct verifier_env *env, struct func_state *f)
{
	for (int i = 0; i <= 5; i++) {
		mark_reg_not_init(&f->regs[i]);
		f->live[i] |= LIVE_WRITTEN;
	}
	env->scratched_regs |= 0x3f;
}

void mark_reg_written(struct verifier_env *env, int regno)
{
	mark_reg_unknown(&cur_regs(env)[regno]);
}

/* Apply fn to every register and spilled register of every frame. */
#define FOR_EACH_REG(st, r, body) do { \
	for (u32 fi_ = 0; fi_ <= (st)->curframe; fi_++) { \
		struct func_state *f_ = (st)->frame[fi_]; \
		for (int ri_ = 0; ri_ < 11; ri_++) { \
			struct bpf_reg *r = &f_->regs[ri_]; body; } \
		for (int si_ = 0; si_ < f_->allocated_stack / 8; si_++) { \
			if (f_->stack[si_].type[7] != STACK_SPILL) continue; \
			struct bpf_reg *r = &f_->stack[si_].spilled; body; } \
	} } while (0)

/* After a helper that may move the packet, its pointers are scalars. */
void clear_all_pkt_pointers(struct verifier_env *env)
{
	FOR_EACH_REG(env->cur, r, {
		if (reg_is_pkt(r) || r->type == PTR_TO_PACKET_END)
			mark_reg_unknown(r);
	});
}

/* ---- references --------------------------------------------------------- */

int acquire_reference(struct verifier_env *env, int insn_idx)
{
	struct vstate *st = env->cur;

	if (st->nrefs >= MAX_REFS) {
		verbose(env, "too many references\n");
		return -ENOMEM;
	}
	u32 id = ++env->id_gen;
	st->refs[st->nrefs++] = (struct ref_state){ id, insn_idx, 0 };
	return (int)id;
}

static bool drop_ref(struct vstate *st, u32 id)
{
	for (u32 i = 0; i < st->nrefs; i++) {
		if (st->refs[i].id == id) {
			memmove(&st->refs[i], &st->refs[i + 1],
				(st->nrefs - i - 1) * sizeof(st->refs[0]));
			st->nrefs--;
			return true;
		}
	}
	return false;
}

int release_reference(struct verifier_env *env, u32 ref_obj_id)
{
	if (!drop_ref(env->cur, ref_obj_id))
		return -EINVAL;
	FOR_EACH_REG(env->cur, r, {
		if (r->ref_obj_id == ref_obj_id)
			mark_reg_unknown(r);
	});
	return 0;
}

static void mark_ptr_or_null_reg(struct verifier_env *env, struct bpf_reg *r,
				 u32 id, bool is_null)
{
	if (!(r->flags & PTR_MAYBE_NULL) || r->id != id)
		return;
	if (is_null) {
		mark_reg_known(r, 0);
		return;
	}
	r->flags &= (u8)~PTR_MAYBE_NULL;
	if (r->type == PTR_TO_MAP_VALUE && r->map &&
	    (r->map->map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
	     r->map->map_type == BPF_MAP_TYPE_HASH_OF_MAPS)) {
		r->type = CONST_PTR_TO_MAP;
		r->map = env->opts->inner_map ?
			 env->opts->inner_map(env->opts->map_cookie, r->map) : NULL;
	} else if (r->type == PTR_TO_MAP_VALUE && r->map &&
		   r->map->map_type == BPF_MAP_TYPE_XSKMAP) {
		r->type = PTR_TO_XDP_SOCK;
	} else if (r->type == PTR_TO_MAP_VALUE && r->map &&
		   (r->map->map_type == BPF_MAP_TYPE_SOCKMAP ||
		    r->map->map_type == BPF_MAP_TYPE_SOCKHASH)) {
		r->type = PTR_TO_SOCKET;
	}
	/* a map value holding a spin lock keeps its id (lock pairing) */
	if (!(r->type == PTR_TO_MAP_VALUE && r->map && r->map->lock_off >= 0))
		r->id = 0;
}

static void mark_null_regs(struct verifier_env *env, struct vstate *st,
			   int regno, bool is_null)
{
	struct bpf_reg *reg = &st->frame[st->curframe]->regs[regno];
	u32 id = reg->id, ref = reg->ref_obj_id;

	if (ref && ref == id && is_null)
		drop_ref(st, id);
	FOR_EACH_REG(st, r, mark_ptr_or_null_reg(env, r, id, is_null));
}

/* ---- ALU ---------------------------------------------------------------- */

static bool sane_offset(struct verifier_env *env, const struct bpf_reg *reg,
			const struct bpf_reg *ptr)
{
	char t[48];
	bool known = tnum_is_const(reg->var_off);
	s64 val = (s64)reg->var_off.value;

	reg_type_str(ptr, t, sizeof(t));
	if (known && (val >= MAX_VAR_OFF || val <= -MAX_VAR_OFF)) {
		verbose(env, "math between %s pointer and %lld is not allowed\n",
			t, (long long)val);
		return false;
	}
	if (reg->off >= MAX_VAR_OFF || reg->off <= -MAX_VAR_OFF) {
		verbose(env, "%s pointer offset %d is not allowed\n", t, reg->off);
		return false;
	}
	if (reg->smin == INT64_MIN) {
		verbose(env, "math between %s pointer and register with unbounded min value is not allowed\n", t);
		return false;
	}
	if (reg->smin >= MAX_VAR_OFF || reg->smin <= -MAX_VAR_OFF) {
		verbose(env, "value %lld makes %s pointer be out of bounds\n",
			(long long)reg->smin, t);
		return false;
	}
	return true;
}

/* dst = ptr op off (either may be the instruction's dst). */
static int adjust_ptr_alu(struct verifier_env *env, const struct bpfvm_insn *insn,
			  const struct bpf_reg *ptr_in, const struct bpf_reg *off_in,
			  bool scalar_dst)
{
	struct bpf_reg *dst = &cur_regs(env)[insn->dst_reg];
	struct bpf_reg ptr = *ptr_in, off = *off_in;
	u8 op = BPF_OP_(insn->code);
	bool known = tnum_is_const(off.var_off);
	s64 smin = off.smin, smax = off.smax;
	u64 umin = off.umin, umax = off.umax;
	char t[48];
	s64 a, b;

	if ((known && (smin != smax || umin != umax)) || smin > smax || umin > umax) {
		mark_reg_unknown(dst);
		return 0;
	}
	if (BPF_CLASS(insn->code) != BPF_ALU64) {
		if (op == 0x10) { /* root: ptr - ptr style results are scalars */
			mark_reg_unknown(dst);
			return 0;
		}
		verbose(env, "R%d 32-bit pointer arithmetic prohibited\n", insn->dst_reg);
		return -EACCES;
	}
	if (ptr.flags & PTR_MAYBE_NULL) {
		verbose(env, "R%d pointer arithmetic on %s prohibited, null-check it first\n",
			insn->dst_reg, reg_type_str(&ptr, t, sizeof(t)));
		return -EACCES;
	}
	switch (ptr.type) {
	case PTR_TO_CTX: case PTR_TO_MAP_VALUE: case PTR_TO_MAP_KEY:
	case PTR_TO_STACK: case PTR_TO_PACKET_META: case PTR_TO_PACKET:
	case PTR_TO_TP_BUFFER: case PTR_TO_BTF_ID: case PTR_TO_MEM:
	case PTR_TO_BUF: case PTR_TO_FUNC:
		break;
	case PTR_TO_FLOW_KEYS:
		if (known)
			break;
		/* fall through */
	case CONST_PTR_TO_MAP:
		if (known && smin == 0 && op == 0x00)
			break;
		/* fall through */
	default:
		verbose(env, "R%d pointer arithmetic on %s prohibited\n",
			insn->dst_reg, reg_type_str(&ptr, t, sizeof(t)));
		return -EACCES;
	}
	if (!sane_offset(env, &off, &ptr) || !sane_offset(env, &ptr, &ptr))
		return -EINVAL;
	*dst = ptr;
	dst->s32_min = INT32_MIN; dst->s32_max = INT32_MAX;
	dst->u32_min = 0; dst->u32_max = UINT32_MAX;
	switch (op) {
	case 0x00: /* ADD */
		if (known && (s64)ptr.off + smin == (s64)(s32)(ptr.off + smin)) {
			dst->off = (s32)(ptr.off + smin);
			break;
		}
		if (__builtin_add_overflow(ptr.smin, smin, &a) ||
		    __builtin_add_overflow(ptr.smax, smax, &b)) {
			dst->smin = INT64_MIN; dst->smax = INT64_MAX;
		} else {
			dst->smin = a; dst->smax = b;
		}
		if (ptr.umin + umin < ptr.umin || ptr.umax + umax < ptr.umax) {
			dst->umin = 0; dst->umax = UINT64_MAX;
		} else {
			dst->umin = ptr.umin + umin; dst->umax = ptr.umax + umax;
		}
		dst->var_off = tnum_add(ptr.var_off, off.var_off);
		if (reg_is_pkt(&ptr)) {
			dst->id = ++env->id_gen;
			dst->range = 0;
		}
		break;
	case 0x10: /* SUB */
		if (scalar_dst) {
			verbose(env, "R%d tried to subtract pointer from scalar\n",
				insn->dst_reg);
			return -EACCES;
		}
		if (ptr.type == PTR_TO_STACK) {
			verbose(env, "R%d subtraction from stack pointer prohibited\n",
				insn->dst_reg);
			return -EACCES;
		}
		if (known && (s64)ptr.off - smin == (s64)(s32)(ptr.off - smin)) {
			dst->off = (s32)(ptr.off - smin);
			break;
		}
		if (__builtin_sub_overflow(ptr.smin, smax, &a) ||
		    __builtin_sub_overflow(ptr.smax, smin, &b)) {
			dst->smin = INT64_MIN; dst->smax = INT64_MAX;
		} else {
			dst->smin = a; dst->smax = b;
		}
		if (ptr.umin < umax) {
			dst->umin = 0; dst->umax = UINT64_MAX;
		} else {
			dst->umin = ptr.umin - umax; dst->umax = ptr.umax - umin;
		}
		dst->var_off = tnum_sub(ptr.var_off, off.var_off);
		if (reg_is_pkt(&ptr)) {
			dst->id = ++env->id_gen;
			if (smin < 0)
				dst->range = 0;
		}
		break;
	case 0x50: case 0x40: case 0xa0:
		verbose(env, "R%d bitwise operator %s on pointer prohibited\n",
			insn->dst_reg, alu_str[op >> 4]);
		return -EACCES;
	default:
		verbose(env, "R%d pointer arithmetic with %s operator prohibited\n",
			insn->dst_reg, alu_str[op >> 4]);
		return -EACCES;
	}
	if (!sane_offset(env, dst, &ptr))
		return -EINVAL;
	reg_bounds_sync(dst);
	return 0;
}

/* rX = rY (or a spill of rY): both get one id so a range learnt on either
 * applies to the other; a register that is already "id plus k" cannot be
 * the base of another link, so it starts afresh (the kernel's
 * assign_scalar_id_before_mov). */
void assign_scalar_id_before_mov(struct verifier_env *env, struct bpf_reg *src)
{
	if (src->type != SCALAR_VALUE)
		return;
	if (src->id & ID_ADD_CONST) {
		src->id = 0;
		src->off = 0;
	}
	if (!src->id && !tnum_is_const(src->var_off))
		src->id = ++env->id_gen;
}

/* After dst op= src on scalars, as Linux 6.18.y's adjust_reg_min_max_vals:
 * a linked dst plus or minus a constant stays linked as "id + off" (one
 * step only; 64-bit with an s32 constant, or 32-bit while the old value
 * fitted 32 bits); any other op breaks the link. */
static void link_const_delta(struct bpf_reg *d, const struct bpf_reg *s, u8 op,
			     bool w64, u32 id, u64 old_umax)
{
	d->id = 0;
	d->off = 0;
	if ((op != 0x00 && op != 0x10) || !id || !reg_is_const(s, !w64))
		return;
	u64 val = reg_const(s, !w64);
	if (w64 ? (s64)val < INT32_MIN || (s64)val > INT32_MAX : old_umax > UINT32_MAX)
		return;
	s32 off = (s32)(u32)val;
	if (op == 0x10) {
		if (off == INT32_MIN)
			return;
		off = -off;
	}
	if (id & ID_ADD_CONST)
		return;
	d->id = id | (w64 ? ID_ADD_CONST64 : ID_ADD_CONST32);
	d->off = off;
}

/* r is v: all of it, or (w32) its low half. */
static void set_known_part(struct bpf_reg *r, u64 v, bool w32)
{
	if (w32) {
		r->var_off = tnum_const_subreg(r->var_off, (u32)v);
		r->s32_min = r->s32_max = (s32)(u32)v;
		r->u32_min = r->u32_max = (u32)v;
		return;
	}
	bool precise = r->precise;
	mark_reg_known(r, v);
	r->precise = precise;
}

/* dst &= k or dst |= k with dst in [-1, 0] (the 64-bit value, else the low
 * half): the two values are walked apart, as 6.18.y's maybe_fork_scalars
 * (LLVM's (x s>> 63) & k idiom); the pushed state redoes this insn with
 * 0, this one goes on with -1. */
static int maybe_fork_scalars(struct verifier_env *env,
			      const struct bpfvm_insn *insn, struct bpf_reg *dst)
{
	bool w32;
	int err;

	if (dst->smin == -1 && dst->smax == 0)
		w32 = false;
	else if (dst->s32_min == -1 && dst->s32_max == 0)
		w32 = true;
	else
		return 0;
	if ((err = push_stack(env, env->insn_idx, env->insn_idx)))
		return err;
	struct vstate *other = pushed_state(env);
	set_known_part(&other->frame[other->curframe]->regs[insn->dst_reg], 0, w32);
	set_known_part(dst, ~0ull, w32);
	return 0;
}

static int adjust_reg_alu(struct verifier_env *env, const struct bpfvm_insn *insn)
{
	struct bpf_reg *regs = cur_regs(env), *dst = &regs[insn->dst_reg];
	u8 op = BPF_OP_(insn->code);
	bool w64 = BPF_CLASS(insn->code) == BPF_ALU64;
	struct bpf_reg src;

	if (insn->code & BPF_SRC_X) {
		src = regs[insn->src_reg];
	} else {
		mark_reg_known(&src, w64 ? (u64)(s64)insn->imm : (u32)insn->imm);
	}
	if (insn->code & BPF_SRC_X && src.type != SCALAR_VALUE) {
		if (dst->type != SCALAR_VALUE) {
			if (op == 0x10) { /* root: pointer - pointer */
				mark_reg_unknown(dst);
				return 0;
			}
			verbose(env, "R%d pointer %s pointer prohibited\n",
				insn->dst_reg, alu_str[op >> 4]);
			return -EACCES;
		}
		/* scalar op= pointer */
		mark_chain_precision(env, insn->dst_reg);
		struct bpf_reg s = *dst;
		return adjust_ptr_alu(env, insn, &src, &s, true);
	}
	if (dst->type != SCALAR_VALUE) {
		struct bpf_reg p = *dst;
		if (insn->code & BPF_SRC_X) {
			mark_chain_precision(env, insn->src_reg);
			src = regs[insn->src_reg];
		}
		return adjust_ptr_alu(env, insn, &p, &src, false);
	}
	if ((op == 0x40 || op == 0x50) && tnum_is_const(src.var_off)) {
		int err = maybe_fork_scalars(env, insn, dst);
		if (err)
			return err;
	}
	u32 id = dst->id;
	u64 old_umax = dst->umax;
	scalar_alu(dst, &src, op, w64);
	link_const_delta(dst, &src, op, w64, id, old_umax);
	return 0;
}

/* BPF_END on a scalar, as Linux 6.18: a swap (bswap, or to-big-endian on
 * this little-endian target) moves the known bits with their bytes and
 * forgets the range, which the tnum then gives back; 16 and 32 truncate. */
static void byte_swap(struct bpf_reg *d, const struct bpfvm_insn *insn)
{
	unsigned bits = (unsigned)insn->imm;
	bool swap = BPF_CLASS(insn->code) == BPF_ALU64 || (insn->code & BPF_SRC_X);
	struct tnum t = d->var_off;

	if (swap || bits < 64) {
		d->id = 0;
		d->off = 0;
	}
	if (swap) {
		if (bits == 16)
			t = (struct tnum){ __builtin_bswap16((uint16_t)t.value),
					   __builtin_bswap16((uint16_t)t.mask) };
		else if (bits == 32)
			t = (struct tnum){ __builtin_bswap32((uint32_t)t.value),
					   __builtin_bswap32((uint32_t)t.mask) };
		else
			t = (struct tnum){ __builtin_bswap64(t.value),
					   __builtin_bswap64(t.mask) };
		mark_reg_unknown(d);
		d->var_off = t;
	}
	if (bits < 64)
		coerce_reg_to_size(d, bits / 8);
	reg_bounds_sync(d);
}

static int check_alu_op(struct verifier_env *env, const struct bpfvm_insn *insn)
{
	struct bpf_reg *regs = cur_regs(env);
	u8 op = BPF_OP_(insn->code);
	bool w64 = BPF_CLASS(insn->code) == BPF_ALU64;
	int err;

	if (op == 0xd0 || op == 0x80) { /* END, NEG */
		if ((err = check_reg_arg_read(env, insn->dst_reg)) ||
		    (err = check_reg_dst(env, insn->dst_reg)))
			return err;
		struct bpf_reg *d = &regs[insn->dst_reg];
		if (op == 0x80 && d->type == SCALAR_VALUE) {
			scalar_alu(d, d, op, w64);
		} else if (op == 0xd0 && d->type == SCALAR_VALUE) {
			byte_swap(d, insn);
		} else {
			mark_reg_unknown(d);
		}
		return 0;
	}
	if (op == 0xb0) { /* MOV */
		if (insn->code & BPF_SRC_X)
			if ((err = check_reg_arg_read(env, insn->src_reg)))
				return err;
		if ((err = check_reg_dst(env, insn->dst_reg)))
			return err;
		struct bpf_reg *d = &regs[insn->dst_reg];
		if (!(insn->code & BPF_SRC_X)) {
			mark_reg_known(d, w64 ? (u64)(s64)insn->imm : (u32)insn->imm);
			return 0;
		}
		struct bpf_reg *s = &regs[insn->src_reg];
		/* a movsx that cannot extend a sign (the value is below it)
		 * is a copy, and links like one */
		bool no_sext = insn->off && s->umax < (1ull << (insn->off - 1));
		if (w64) {
			if (insn->off == 0) {
				assign_scalar_id_before_mov(env, s);
				*d = *s;
			} else if (s->type != SCALAR_VALUE) {
				mark_reg_unknown(d); /* root: movsx of a pointer */
			} else {
				if (no_sext)
					assign_scalar_id_before_mov(env, s);
				*d = *s;
				if (!no_sext) {
					d->id = 0;
					d->off = 0;
				}
				coerce_reg_to_size_sx(d, (unsigned)insn->off / 8);
			}
			return 0;
		}
		if (s->type != SCALAR_VALUE) {
			mark_reg_unknown(d);
			zext_32_to_64(d);
			return 0;
		}
		/* w = w links too when the value fits 32 bits */
		bool link = insn->off ? no_sext : s->umax <= UINT32_MAX;
		if (link)
			assign_scalar_id_before_mov(env, s);
		struct bpf_reg v = *s;
		if (!link) {
			v.id = 0;
			v.off = 0;
		}
		if (insn->off == 0) {
			*d = v;
			coerce_reg_to_size(d, 4);
		} else {
			coerce_subreg_to_size_sx(&v, (unsigned)insn->off / 8);
			*d = v;
			zext_32_to_64(d);
		}
		return 0;
	}
	if (op > 0xd0) {
		verbose(env, "invalid BPF_ALU opcode %x\n", op);
		return -EINVAL;
	}
	if (insn->code & BPF_SRC_X)
		if ((err = check_reg_arg_read(env, insn->src_reg)))
			return err;
	if ((err = check_reg_arg_read(env, insn->dst_reg)))
		return err;
	if ((op == 0x30 || op == 0x90) && !(insn->code & BPF_SRC_X) && insn->imm == 0) {
		verbose(env, "div by zero\n");
		return -EINVAL;
	}
	if ((op == 0x60 || op == 0x70 || op == 0xc0) && !(insn->code & BPF_SRC_X)) {
		int size = w64 ? 64 : 32;
		if (insn->imm < 0 || insn->imm >= size) {
			verbose(env, "invalid shift %d\n", insn->imm);
			return -EINVAL;
		}
	}
	if ((err = check_reg_dst(env, insn->dst_reg)))
		return err;
	return adjust_reg_alu(env, insn);
}

/* ---- conditional jumps ------------------------------------------------ */

/* Pointers the kernel knows cannot be NULL (reg_not_null: not ctx, stack
 * or packet pointers, which a comparison with 0 leaves undecided). */
static bool reg_not_null(const struct bpf_reg *r)
{
	if (r->flags & PTR_MAYBE_NULL)
		return false;
	switch (r->type) {
	case PTR_TO_SOCKET: case PTR_TO_TCP_SOCK: case PTR_TO_MAP_VALUE:
	case PTR_TO_MAP_KEY: case PTR_TO_SOCK_COMMON: case PTR_TO_MEM:
		return true;
	default:
		return false;
	}
}

/* The branch outcome with pointers involved: only "non-NULL ptr vs 0". */
static int ptr_branch_taken(const struct bpf_reg *a, const struct bpf_reg *b,
			    u8 op, bool w32)
{
	const struct bpf_reg *p = reg_is_ptr(a) ? a : b, *s = p == a ? b : a;

	if (w32 || reg_is_ptr(s) || !reg_is_const(s, false) || reg_const(s, false))
		return -1;
	if (!reg_not_null(p))
		return -1;
	if (op == 0x10)
		return 0;
	if (op == 0x50)
		return 1;
	return -1;
}

static void find_good_pkt_pointers(struct vstate *st, const struct bpf_reg *dst,
				   u8 type, bool right_open)
{
	if (dst->off < 0 || (dst->off == 0 && right_open))
		return;
	if (dst->umax > MAX_PACKET_OFF || dst->umax + (u64)dst->off > MAX_PACKET_OFF)
		return;
	int new_range = dst->off;
	if (right_open)
		new_range++;
	u32 id = dst->id;
	FOR_EACH_REG(st, r, {
		if (r->type == type && r->id == id && r->range < new_range)
			r->range = new_range;
	});
}

static bool is_init_pkt(const struct bpf_reg *r, u8 type)
{
	return r->type == type && r->off == 0 && tnum_equals_const(r->var_off, 0);
}

/* The other side of a comparison with pkt_end: this register is at or
 * beyond the end (the kernel's mark_pkt_end). */
static void mark_pkt_end(struct vstate *st, int regno, bool beyond)
{
	struct bpf_reg *r = &st->frame[st->curframe]->regs[regno];

	if (r->type == PTR_TO_PACKET)
		r->range = beyond ? BEYOND_PKT_END : AT_PKT_END;
}

/* Comparisons of packet pointers with pkt_end prove ranges: in the branch
 * where pkt' <= end every copy of pkt gets range off (off+1 for <). */
static bool try_match_pkt(struct verifier_env *env, const struct bpfvm_insn *insn,
			  struct vstate *this_b, struct vstate *other_b)
{
	struct bpf_reg *regs = cur_regs(env);
	struct bpf_reg d, s;
	int dr = insn->dst_reg, sr = insn->src_reg;

	if (!(insn->code & BPF_SRC_X) || BPF_CLASS(insn->code) == BPF_JMP32)
		return false;
	d = regs[dr];
	s = regs[sr];
	bool d_pkt = (d.type == PTR_TO_PACKET && s.type == PTR_TO_PACKET_END) ||
		     (d.type == PTR_TO_PACKET_META && is_init_pkt(&s, PTR_TO_PACKET));
	bool s_pkt = (d.type == PTR_TO_PACKET_END && s.type == PTR_TO_PACKET) ||
		     (is_init_pkt(&d, PTR_TO_PACKET) && s.type == PTR_TO_PACKET_META);

	if (!d_pkt && !s_pkt)
		return false;
	switch (BPF_OP_(insn->code)) {
	case 0x20: /* JGT */
		if (d_pkt) {
			find_good_pkt_pointers(this_b, &d, d.type, false);
			mark_pkt_end(other_b, dr, true);
		} else {
			find_good_pkt_pointers(other_b, &s, s.type, true);
			mark_pkt_end(this_b, sr, false);
		}
		return true;
	case 0xa0: /* JLT */
		if (d_pkt) {
			find_good_pkt_pointers(other_b, &d, d.type, true);
			mark_pkt_end(this_b, dr, false);
		} else {
			find_good_pkt_pointers(this_b, &s, s.type, false);
			mark_pkt_end(other_b, sr, true);
		}
		return true;
	case 0x30: /* JGE */
		if (d_pkt) {
			find_good_pkt_pointers(this_b, &d, d.type, true);
			mark_pkt_end(other_b, dr, false);
		} else {
			find_good_pkt_pointers(other_b, &s, s.type, false);
			mark_pkt_end(this_b, sr, true);
		}
		return true;
	case 0xb0: /* JLE */
		if (d_pkt) {
			find_good_pkt_pointers(other_b, &d, d.type, false);
			mark_pkt_end(this_b, dr, true);
		} else {
			find_good_pkt_pointers(this_b, &s, s.type, true);
			mark_pkt_end(other_b, sr, false);
		}
		return true;
	}
	return false;
}

/* A packet pointer known to be at or past the end decides comparisons
 * with pkt_end (is_pkt_ptr_branch_taken). */
static int pkt_branch_taken(const struct bpf_reg *d, const struct bpf_reg *s, u8 op)
{
	const struct bpf_reg *pkt;

	if (s->type == PTR_TO_PACKET_END) {
		pkt = d;
	} else if (d->type == PTR_TO_PACKET_END) {
		pkt = s;
		switch (op) {
		case 0x20: op = 0xa0; break;
		case 0xa0: op = 0x20; break;
		case 0x30: op = 0xb0; break;
		case 0xb0: op = 0x30; break;
		}
	} else {
		return -1;
	}
	if (pkt->range >= 0)
		return -1;
	switch (op) {
	case 0xb0: case 0x20: /* <=, > */
		if (pkt->range == BEYOND_PKT_END)
			return op == 0x20;
		break;
	case 0xa0: case 0x30: /* <, >= */
		return op == 0x30;
	}
	return -1;
}

/* r, linked to k, learns k's range: a copy, or k's range moved by the
 * difference of their constants (the kernel's sync_linked_regs). */
static void sync_one(struct bpf_reg *r, const struct bpf_reg *k)
{
	if (r->type != SCALAR_VALUE ||
	    (r->id & ~ID_ADD_CONST) != (k->id & ~ID_ADD_CONST))
		return;
	/* a 32-bit and a 64-bit delta: no relation holds across widths */
	if (((r->id ^ k->id) & ID_ADD_CONST) == ID_ADD_CONST)
		return;
	if ((!(r->id & ID_ADD_CONST) && !(k->id & ID_ADD_CONST)) || r->off == k->off) {
		*r = *k;
		return;
	}
	struct bpf_reg delta;
	u32 id = r->id;
	s32 off = r->off;
	mark_reg_known(&delta, (u64)((s64)r->off - (s64)k->off));
	*r = *k;
	scalar_alu(r, &delta, 0x00, true);
	r->id = id;
	r->off = off;
	/* either side's w += k zero-extended */
	if ((r->id | k->id) & ID_ADD_CONST32)
		zext_32_to_64(r);
	reg_bounds_sync(r);
}

/* Registers that are copies of one scalar (same id) learn together. */
static void sync_linked(struct vstate *st, const struct bpf_reg *known)
{
	if (known->type != SCALAR_VALUE || !known->id)
		return;
	struct bpf_reg k = *known;
	FOR_EACH_REG(st, r, sync_one(r, &k));
}

static int check_cond_jmp(struct verifier_env *env, const struct bpfvm_insn *insn,
			  u32 *insn_idx)
{
	struct bpf_reg *regs = cur_regs(env);
	u8 op = BPF_OP_(insn->code);
	bool w32 = BPF_CLASS(insn->code) == BPF_JMP32;
	struct bpf_reg *dst = &regs[insn->dst_reg], src;
	int err, pred;

	if (op > 0xd0) {
		verbose(env, "invalid BPF_JMP/JMP32 opcode %x\n", op);
		return -EINVAL;
	}
	if ((err = check_reg_arg_read(env, insn->dst_reg)))
		return err;
	if (insn->code & BPF_SRC_X) {
		if (insn->imm) {
			verbose(env, "BPF_JMP/JMP32 uses reserved fields\n");
			return -EINVAL;
		}
		if ((err = check_reg_arg_read(env, insn->src_reg)))
			return err;
	} else if (insn->src_reg) {
		verbose(env, "BPF_JMP/JMP32 uses reserved fields\n");
		return -EINVAL;
	}
	if (insn->code & BPF_SRC_X)
		src = regs[insn->src_reg];
	else
		mark_reg_known(&src, (u64)(s64)insn->imm);

	bool pkt_any = (reg_is_pkt(dst) || dst->type == PTR_TO_PACKET_END) &&
		       (reg_is_pkt(&src) || src.type == PTR_TO_PACKET_END);
	if (dst->type == SCALAR_VALUE && src.type == SCALAR_VALUE)
		pred = is_branch_taken(dst, &src, op, w32);
	else if (pkt_any && !w32)
		pred = pkt_branch_taken(dst, &src, op);
	else if (reg_is_ptr(dst) && reg_is_ptr(&src))
		pred = -1;
	else
		pred = ptr_branch_taken(dst, &src, op, w32);
	if (pred >= 0) {
		/* the range decided the branch: it matters */
		if (dst->type == SCALAR_VALUE)
			mark_chain_precision(env, insn->dst_reg);
		if ((insn->code & BPF_SRC_X) && src.type == SCALAR_VALUE)
			mark_chain_precision(env, insn->src_reg);
	}
	if (pred == 1) {
		if (env->log.level & 3)
			print_insn_state(env);
		*insn_idx += (u32)insn->off;
		return 0;
	}
	if (pred == 0) {
		if (env->log.level & 3)
			print_insn_state(env);
		return 0;
	}

	if ((err = push_stack(env, *insn_idx + (u32)insn->off + 1, *insn_idx)))
		return err;
	struct vstate *other = pushed_state(env);
	struct bpf_reg *oregs = other->frame[other->curframe]->regs;

	if (dst->type == SCALAR_VALUE && src.type == SCALAR_VALUE) {
		if (insn->code & BPF_SRC_X) {
			reg_set_min_max(&oregs[insn->dst_reg], &oregs[insn->src_reg], op, w32);
			reg_set_min_max(dst, &regs[insn->src_reg], branch_flip(op), w32);
			sync_linked(other, &oregs[insn->src_reg]);
			sync_linked(env->cur, &regs[insn->src_reg]);
		} else {
			struct bpf_reg k1 = src, k2 = src;
			reg_set_min_max(&oregs[insn->dst_reg], &k1, op, w32);
			reg_set_min_max(dst, &k2, branch_flip(op), w32);
		}
		sync_linked(other, &oregs[insn->dst_reg]);
		sync_linked(env->cur, dst);
	}
	if (!w32 && !(insn->code & BPF_SRC_X) && insn->imm == 0 &&
	    (op == 0x10 || op == 0x50) && (dst->flags & PTR_MAYBE_NULL)) {
		mark_null_regs(env, env->cur, insn->dst_reg, op == 0x50);
		mark_null_regs(env, other, insn->dst_reg, op == 0x10);
	} else {
		try_match_pkt(env, insn, env->cur, other);
	}
	if (env->log.level & 3)
		print_insn_state(env);
	return 0;
}

/* ---- loads of constants and packets ----------------------------------- */

static int check_ld_imm(struct verifier_env *env, const struct bpfvm_insn *insn,
			u32 idx)
{
	struct bpf_reg *d;
	int err;

	if ((err = check_reg_dst(env, insn->dst_reg)))
		return err;
	d = &cur_regs(env)[insn->dst_reg];
	if (insn->src_reg == 0) {
		mark_reg_known(d, bpfvm_lddw_value(insn));
		return 0;
	}
	mark_reg_known(d, 0);
	switch (insn->src_reg) {
	case 4: { /* func */
		d->type = PTR_TO_FUNC;
		int sp = find_subprog(env, idx + (u32)insn->imm + 1);
		d->subprog = sp < 0 ? 0 : (u32)sp;
		return 0;
	}
	case 1: case 5:
		d->type = CONST_PTR_TO_MAP;
		d->map = env->ldmap[idx];
		return 0;
	case 2: case 6:
		d->type = PTR_TO_MAP_VALUE;
		d->map = env->ldmap[idx];
		d->off = insn[1].imm;
		return 0;
	}
	verbose(env, "unrecognized bpf_ld_imm64 insn\n");
	return -EINVAL;
}

static int check_resource_leak(struct verifier_env *env, bool check_lock,
			       const char *prefix)
{
	struct vstate *st = env->cur;

	if (check_lock && st->active_lock_id) {
		verbose(env, "%s cannot be used inside bpf_spin_lock-ed region\n", prefix);
		return -EINVAL;
	}
	if (st->curframe && !check_lock)
		return 0;
	if (!st->nrefs)
		return 0;
	for (u32 i = 0; i < st->nrefs; i++)
		verbose(env, "Unreleased reference id=%u alloc_insn=%d\n",
			st->refs[i].id, st->refs[i].insn_idx);
	verbose(env, "%s would lead to reference leak\n", prefix);
	return -EINVAL;
}

static int check_ld_abs(struct verifier_env *env, const struct bpfvm_insn *insn)
{
	const struct bpfvm_prog_type *pt = bpfvm_prog_type(env->opts->prog_type);
	struct bpf_reg *regs = cur_regs(env);
	bool ind = BPF_MODE_(insn->code) == 0x40;
	int err;

	if (!pt || !pt->may_access_skb) {
		verbose(env, "BPF_LD_[ABS|IND] instructions not allowed for this program type\n");
		return -EINVAL;
	}
	if (insn->dst_reg || insn->off || BPF_SIZE(insn->code) == BPF_DW ||
	    (!ind && insn->src_reg)) {
		verbose(env, "BPF_LD_[ABS|IND] uses reserved fields\n");
		return -EINVAL;
	}
	if ((err = check_reg_arg_read(env, 6)))
		return err;
	if ((err = check_resource_leak(env, true, "BPF_LD_[ABS|IND]")))
		return err;
	if (regs[6].type != PTR_TO_CTX) {
		verbose(env, "at the time of BPF_LD_ABS|IND R6 != pointer to skb\n");
		return -EINVAL;
	}
	if (ind && (err = check_reg_arg_read(env, insn->src_reg)))
		return err;
	/* the skb is R6 itself: no offset, fixed or variable */
	if ((err = check_ptr_off_reg(env, &regs[6], 6, false)))
		return err;
	clobber_caller_saved(env, cur_func(env));
	mark_reg_unknown(&regs[0]);
	return 0;
}

/* ---- calls and exits ---------------------------------------------------- */

static int check_func_call(struct verifier_env *env, const struct bpfvm_insn *insn,
			   u32 *insn_idx)
{
	struct vstate *st = env->cur;
	u32 target = *insn_idx + (u32)insn->imm + 1;
	int sp = find_subprog(env, target);

	if (st->curframe + 1 >= BPFVM_MAX_FRAMES) {
		verbose(env, "the call stack of %u frames is too deep\n",
			st->curframe + 2);
		return -E2BIG;
	}
	if (sp < 0) {
		verbose(env, "verifier bug. No program starts at insn %u\n", target);
		return -EFAULT;
	}
	if (env->subprog[sp].changes_pkt_data)
		clear_all_pkt_pointers(env);
	struct func_state *caller = st->frame[st->curframe];
	struct func_state *callee = func_new(st->curframe + 1, (int)*insn_idx, (u32)sp);
	if (!callee)
		return -ENOMEM;
	for (int i = 1; i <= 5; i++) {
		callee->regs[i] = caller->regs[i];
		/* the callee frame has no checkpoint of its own to mark */
		if (caller->regs[i].type != NOT_INIT)
			mark_reg_read(caller, i);
	}
	callee->regs[10].type = PTR_TO_STACK;
	mark_reg_known(&callee->regs[10], 0);
	callee->regs[10].type = PTR_TO_STACK;
	callee->regs[10].frameno = (u8)(st->curframe + 1);
	clobber_caller_saved(env, caller);
	st->curframe++;
	free(st->frame[st->curframe]);
	st->frame[st->curframe] = callee;
	*insn_idx = target - 1;
	if (env->log.level & 3) {
		verbose(env, "caller:\n");
		print_state(env, caller, true);
		verbose(env, "callee:\n");
		print_state(env, callee, true);
	}
	env->scratched_regs = 0x7ff;
	env->scratched_slots = ~0ull;
	return 0;
}

static int prepare_func_exit(struct verifier_env *env, u32 *insn_idx)
{
	struct vstate *st = env->cur;
	struct func_state *callee = st->frame[st->curframe];
	struct func_state *caller = st->frame[st->curframe - 1];
	struct bpf_reg *r0 = &callee->regs[0];

	if (r0->type == PTR_TO_STACK) {
		verbose(env, "cannot return stack pointer to the caller\n");
		return -EINVAL;
	}
	if (callee->in_callback) {
		if (r0->type != SCALAR_VALUE) {
			verbose(env, "R0 !read_ok\n");
			return -EACCES;
		}
	} else {
		caller->regs[0] = *r0;
	}
	mark_reg_read(callee, 0);
	caller->live[0] |= LIVE_WRITTEN;
	*insn_idx = (u32)callee->callsite;
	if (env->log.level & 3) {
		verbose(env, "returning from callee:\n");
		print_state(env, callee, true);
		verbose(env, "to caller at %u:\n", *insn_idx + 1);
		print_state(env, caller, true);
	}
	free(callee);
	st->frame[st->curframe] = NULL;
	st->curframe--;
	return 0;
}

static int check_return_code(struct verifier_env *env)
{
	const struct bpfvm_prog_type *pt = bpfvm_prog_type(env->opts->prog_type);
	struct bpfvm_prog_info info = { env->opts->prog_type, env->attach_type };
	struct bpfvm_ret_range rr = { 0 };
	struct bpf_reg *r0 = &cur_regs(env)[0];
	char t[48];
	int err;

	if ((err = check_reg_arg_read(env, 0)))
		return err;
	if (pt && pt->ret_range)
		pt->ret_range(&info, &rr);
	if (!rr.has_range)
		return 0;
	if (r0->type == SCALAR_VALUE)
		mark_chain_precision(env, 0);
	if (r0->type != SCALAR_VALUE) {
		verbose(env, "At program exit the register R0 is not a known value (%s)\n",
			reg_type_str(r0, t, sizeof(t)));
		return -EINVAL;
	}
	if (r0->smin >= rr.min && r0->smax <= rr.max)
		return 0;
	verbose(env, "At program exit the register R0 has");
	bool unknown = true;
	if (r0->smin > INT64_MIN) {
		verbose(env, " smin=%lld", (long long)r0->smin);
		unknown = false;
	}
	if (r0->smax < INT64_MAX) {
		verbose(env, " smax=%lld", (long long)r0->smax);
		unknown = false;
	}
	if (unknown)
		verbose(env, " unknown scalar value");
	verbose(env, " should have been in [%d, %d]\n", rr.min, rr.max);
	return -EINVAL;
}

/* ---- memory instructions ------------------------------------------------ */

static bool ptr_type_mismatch_ok(u16 t)
{
	switch (t & 0xff) {
	case PTR_TO_CTX: case PTR_TO_SOCKET: case PTR_TO_SOCK_COMMON:
	case PTR_TO_TCP_SOCK: case PTR_TO_XDP_SOCK: case PTR_TO_BTF_ID:
		return false;
	default:
		return true;
	}
}

static int save_aux_ptr_type(struct verifier_env *env, u32 idx,
			     const struct bpf_reg *r)
{
	u16 t = (u16)(r->type | (r->flags << 8));
	u16 *prev = &env->aux[idx].ptr_type;

	if (!*prev) {
		*prev = t;
		return 0;
	}
	if (*prev != t && (!ptr_type_mismatch_ok(t) || !ptr_type_mismatch_ok(*prev))) {
		verbose(env, "same insn cannot be used with different pointers\n");
		return -EINVAL;
	}
	return 0;
}

static int check_atomic(struct verifier_env *env, const struct bpfvm_insn *insn,
			u32 idx)
{
	struct bpf_reg *regs = cur_regs(env);
	int size = (int)bpfvm_access_size(insn->code);
	int imm = insn->imm, load_reg = -1, err;
	char t[48];

	if (BPF_SIZE(insn->code) != BPF_W && BPF_SIZE(insn->code) != BPF_DW) {
		verbose(env, "invalid atomic operand size\n");
		return -EINVAL;
	}
	if ((err = check_reg_arg_read(env, insn->src_reg)) ||
	    (err = check_reg_arg_read(env, insn->dst_reg)))
		return err;
	if (imm == 0xf1 && (err = check_reg_arg_read(env, 0)))
		return err;
	const struct bpf_reg *d = &regs[insn->dst_reg];
	if (d->type == PTR_TO_CTX || reg_is_pkt(d) || d->type == PTR_TO_FLOW_KEYS ||
	    d->type == PTR_TO_SOCKET || d->type == PTR_TO_SOCK_COMMON ||
	    d->type == PTR_TO_TCP_SOCK || d->type == PTR_TO_XDP_SOCK) {
		verbose(env, "BPF_ATOMIC stores into R%d %s is not allowed\n",
			insn->dst_reg, reg_type_str(d, t, sizeof(t)));
		return -EACCES;
	}
	if (imm & 1) { /* BPF_FETCH */
		load_reg = imm == 0xf1 ? 0 : insn->src_reg;
		if ((err = check_reg_dst(env, load_reg)))
			return err;
	}
	if ((err = check_mem_access(env, (int)idx, insn->dst_reg, insn->off, size,
				    false, -1, true, false)))
		return err;
	if (load_reg >= 0 &&
	    (err = check_mem_access(env, (int)idx, insn->dst_reg, insn->off, size,
				    false, load_reg, true, false)))
		return err;
	return check_mem_access(env, (int)idx, insn->dst_reg, insn->off, size,
				true, -1, true, false);
}

static int check_mem_insn(struct verifier_env *env, const struct bpfvm_insn *insn,
			  u32 idx)
{
	u8 cls = BPF_CLASS(insn->code);
	int size = (int)bpfvm_access_size(insn->code);
	struct bpf_reg *regs = cur_regs(env);
	struct bpf_reg ptr;
	int err;

	if (cls == BPF_LDX) {
		bool sx = BPF_MODE_(insn->code) == 0x80;
		if ((err = check_reg_arg_read(env, insn->src_reg)) ||
		    (err = check_reg_dst(env, insn->dst_reg)))
			return err;
		ptr = regs[insn->src_reg];
		err = check_mem_access(env, (int)idx, insn->src_reg, insn->off, size,
				       false, insn->dst_reg, false, sx);
		return err ? err : save_aux_ptr_type(env, idx, &ptr);
	}
	if (cls == BPF_STX) {
		if (BPF_MODE_(insn->code) == 0xc0)
			return check_atomic(env, insn, idx);
		if ((err = check_reg_arg_read(env, insn->src_reg)) ||
		    (err = check_reg_arg_read(env, insn->dst_reg)))
			return err;
		ptr = regs[insn->dst_reg];
		err = check_mem_access(env, (int)idx, insn->dst_reg, insn->off, size,
				       true, insn->src_reg, false, false);
		return err ? err : save_aux_ptr_type(env, idx, &ptr);
	}
	/* ST */
	if ((err = check_reg_arg_read(env, insn->dst_reg)))
		return err;
	ptr = regs[insn->dst_reg];
	err = check_mem_access(env, (int)idx, insn->dst_reg, insn->off, size,
			       true, -1, false, false);
	return err ? err : save_aux_ptr_type(env, idx, &ptr);
}

/* ---- the main loop ------------------------------------------------------ */

static int do_check(struct verifier_env *env)
{
	u32 idx = 0, prev = 0;
	bool have_prev = false;
	char msg[128];
	int err;

	for (;;) {
		if (idx >= env->len) {
			verbose(env, "invalid insn idx %u insn_cnt %u\n", idx, env->len);
			return -EFAULT;
		}
		const struct bpfvm_insn *insn = &env->insns[idx];
		u8 cls = BPF_CLASS(insn->code);
		u32 cur_idx = idx;

		if (++env->insn_processed > COMPLEXITY_LIMIT) {
			verbose(env, "BPF program is too large. Processed %u insn\n",
				env->insn_processed);
			return -E2BIG;
		}
		env->aux[idx].seen = true;
		env->insn_idx = idx;
		env->prev_insn_idx = prev;
		/* how this insn was reached, for backtracking */
		if (have_prev && idx != prev + (env->insns[prev].code == 0x18 ? 2 : 1) &&
		    hist_push(env->cur, idx, prev, 0))
			return -ENOMEM;
		have_prev = true;
		if (env->aux[idx].prune_point) {
			err = is_state_visited(env, idx);
			if (err < 0)
				return err;
			if (err == 1) {
				if (env->log.level & 2)
					verbose(env, "%u: safe\n", idx);
				goto process_exit;
			}
		}
		if (env->log.level & 3) {
			print_insn_state(env);
			env->prev_log_pos = vlog_pos(&env->log);
			print_insn(env, idx);
			env->prev_insn_print_pos = (u32)(vlog_pos(&env->log) - env->prev_log_pos);
			env->prev_log_pos = vlog_pos(&env->log);
		}
		if (insn->code == 0x18 && insn->off) {
			verbose(env, "BPF_LD_IMM64 uses reserved fields\n");
			return -EINVAL;
		}
		/* conditional jumps check their fields in operand order */
		bool cond = (cls == BPF_JMP || cls == BPF_JMP32) &&
			    BPF_OP_(insn->code) != 0x00 && BPF_OP_(insn->code) != 0x80 &&
			    BPF_OP_(insn->code) != 0x90 && BPF_OP_(insn->code) <= 0xd0;
		if (!cond && bpfvm_check_insn(env->insns, env->len, idx, msg, sizeof(msg)) < 0) {
			verbose(env, "%s\n", msg);
			return -EINVAL;
		}

		switch (cls) {
		case BPF_ALU:
		case BPF_ALU64:
			err = check_alu_op(env, insn);
			break;
		case BPF_LDX:
		case BPF_STX:
		case BPF_ST:
			err = check_mem_insn(env, insn, idx);
			break;
		case BPF_LD:
			if (BPF_MODE_(insn->code) == 0x20 || BPF_MODE_(insn->code) == 0x40) {
				err = check_ld_abs(env, insn);
			} else if (BPF_MODE_(insn->code) == 0x00) {
				err = check_ld_imm(env, insn, idx);
				idx++;
			} else {
				verbose(env, "invalid BPF_LD mode\n");
				err = -EINVAL;
			}
			break;
		default: { /* JMP, JMP32 */
			u8 op = BPF_OP_(insn->code);
			env->jmps_processed++;
			if (op == 0x80) {
				if (env->cur->active_lock_id &&
				    (insn->src_reg != 0 || insn->imm != 94)) {
					verbose(env, "function calls are not allowed while holding a lock\n");
					return -EINVAL;
				}
				if (insn->src_reg == 1)
					err = check_func_call(env, insn, &idx);
				else if (insn->src_reg == 2) {
					verbose(env, "calling kernel function is not supported without BTF\n");
					err = -EINVAL;
				} else
					err = check_helper_call(env, (int)idx, &idx);
				break;
			}
			if (op == 0x00) {
				prev = idx;
				idx += 1 + (u32)(cls == BPF_JMP ? insn->off : insn->imm);
				continue;
			}
			if (op == 0x90) {
				struct vstate *st = env->cur;
				if ((err = check_resource_leak(env, !st->curframe,
						"BPF_EXIT instruction in main prog")))
					return err;
				if (st->curframe) {
					prev = idx;
					if ((err = prepare_func_exit(env, &idx)))
						return err;
					idx++;
					continue;
				}
				if ((err = check_return_code(env)))
					return err;
				goto process_exit;
			}
			err = check_cond_jmp(env, insn, &idx);
		}
		}
		if (err)
			return err;
		prev = cur_idx;
		idx++;
		continue;
process_exit:
		update_branch_counts(env, env->cur);
		err = pop_stack(env, &idx, &prev);
		if (err == -ENOENT)
			return 0;
		if (err)
			return err;
		env->scratched_regs = 0x7ff;
		env->scratched_slots = ~0ull;
		if (env->log.level & 2) {
			verbose(env, "\nfrom %u to %u:", prev, idx);
			print_state(env, cur_func(env), true);
		}
	}
}

int do_check_main(struct verifier_env *env)
{
	struct vstate *st = state_new();
	struct func_state *f = st ? func_new(0, -1, 0) : NULL;
	int err;

	if (!f) {
		free(st);
		return -ENOMEM;
	}
	st->frame[0] = f;
	st->branches = 1;
	mark_reg_known(&f->regs[10], 0);
	f->regs[10].type = PTR_TO_STACK;
	mark_reg_known(&f->regs[1], 0);
	f->regs[1].type = PTR_TO_CTX;
	env->cur = st;
	env->scratched_regs = 0x7ff;
	env->scratched_slots = ~0ull;
	err = do_check(env);
	/* level 1 shows the path of a failure only: nothing when accepted */
	if (!err && !(env->log.level & 2))
		vlog_reset(&env->log, 0);
	state_free(env->cur);
	env->cur = NULL;
	while (env->stk_len)
		state_free(env->stk[--env->stk_len].st);
	return err;
}
