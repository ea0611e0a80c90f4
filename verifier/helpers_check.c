/* Helper calls (the kernel's check_helper_call): the prototype of the
 * helper as this program type sees it, each argument checked against its
 * kind, then the helper-specific rules (references, spin locks, callbacks),
 * r1-r5 clobbered and r0 typed from the return kind.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "vinternal.h"
#include "prog_types.h"
#include "helper_protos.h"

enum {
#define HELPER(id, name) FN_##name = id,
#include "helpers.def"
#undef HELPER
};

#define MAX_ERRNO 4095
#define MAX_VAR_SIZ (1 << 29)
#define T(type, flags) ((u16)((type) | ((flags) << 8)))

/* Register kinds an argument kind accepts, and how the log lists them. */
struct type_set {
	u16 types[10];
	const char *names;
};

static const struct type_set mem_types = {
	{ T(PTR_TO_STACK, 0), T(PTR_TO_PACKET, 0), T(PTR_TO_PACKET_META, 0),
	  T(PTR_TO_MAP_KEY, 0), T(PTR_TO_MAP_VALUE, 0), T(PTR_TO_MEM, 0),
	  T(PTR_TO_MEM, MEM_RINGBUF), T(PTR_TO_BUF, 0) },
	"fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_" };
static const struct type_set sock_types = {
	{ T(PTR_TO_SOCK_COMMON, 0), T(PTR_TO_SOCKET, 0), T(PTR_TO_TCP_SOCK, 0),
	  T(PTR_TO_XDP_SOCK, 0) },
	"sock_common, sock, tcp_sock, xdp_sock" };
static const struct type_set btf_sock_types = {
	{ T(PTR_TO_SOCK_COMMON, 0), T(PTR_TO_SOCKET, 0), T(PTR_TO_TCP_SOCK, 0),
	  T(PTR_TO_XDP_SOCK, 0), T(PTR_TO_BTF_ID, 0) },
	"sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_" };
static const struct type_set fullsock_types = { { T(PTR_TO_SOCKET, 0) }, "sock" };
static const struct type_set scalar_types = { { T(SCALAR_VALUE, 0) }, "scalar" };
static const struct type_set ctx_types = { { T(PTR_TO_CTX, 0) }, "ctx" };
static const struct type_set ringbuf_types = { { T(PTR_TO_MEM, MEM_RINGBUF) }, "ringbuf_mem" };
static const struct type_set map_ptr_types = { { T(CONST_PTR_TO_MAP, 0) }, "map_ptr" };
static const struct type_set btf_types = { { T(PTR_TO_BTF_ID, 0) }, "ptr_, trusted_ptr_, rcu_ptr_" };
static const struct type_set lock_types = { { T(PTR_TO_MAP_VALUE, 0) }, "map_value, ptr_" };
static const struct type_set func_types = { { T(PTR_TO_FUNC, 0) }, "func" };
static const struct type_set stack_types = { { T(PTR_TO_STACK, 0) }, "fp" };
static const struct type_set map_value_types = { { T(PTR_TO_MAP_VALUE, 0) }, "map_value" };

static const struct type_set *const compatible[BPFVM_ARG_TYPE_MAX] = {
	[BPFVM_ARG_PTR_TO_MAP_KEY] = &mem_types,
	[BPFVM_ARG_PTR_TO_MAP_VALUE] = &mem_types,
	[BPFVM_ARG_CONST_SIZE] = &scalar_types,
	[BPFVM_ARG_CONST_SIZE_OR_ZERO] = &scalar_types,
	[BPFVM_ARG_CONST_ALLOC_SIZE_OR_ZERO] = &scalar_types,
	[BPFVM_ARG_CONST_MAP_PTR] = &map_ptr_types,
	[BPFVM_ARG_PTR_TO_CTX] = &ctx_types,
	[BPFVM_ARG_PTR_TO_SOCK_COMMON] = &sock_types,
	[BPFVM_ARG_PTR_TO_BTF_ID_SOCK_COMMON] = &btf_sock_types,
	[BPFVM_ARG_PTR_TO_SOCKET] = &fullsock_types,
	[BPFVM_ARG_PTR_TO_BTF_ID] = &btf_types,
	[BPFVM_ARG_PTR_TO_SPIN_LOCK] = &lock_types,
	[BPFVM_ARG_PTR_TO_MEM] = &mem_types,
	[BPFVM_ARG_PTR_TO_RINGBUF_MEM] = &ringbuf_types,
	[BPFVM_ARG_PTR_TO_FUNC] = &func_types,
	[BPFVM_ARG_PTR_TO_STACK] = &stack_types,
	[BPFVM_ARG_PTR_TO_CONST_STR] = &map_value_types,
	[BPFVM_ARG_PTR_TO_TIMER] = &map_value_types,
};

struct call_meta {
	struct bpfvm_map *map;
	u32 func_id;
	int release_regno;
	u32 ref_obj_id;
	u64 msize_max;
	u32 mem_size;
	u32 subprog;
	bool pkt_access;
	s64 const_key; /* -1: not a constant */
};

/* The kernel's func_id_name without its "bpf_" (the formats add it). */
static const char *fname(u32 id)
{
	const char *n = bpfvm_helper_name(id);
	return n ? n : "unknown";
}

static bool is_null_reg(const struct bpf_reg *r)
{
	return r->type == SCALAR_VALUE && tnum_equals_const(r->var_off, 0);
}

static int check_reg_type(struct verifier_env *env, int regno, u32 arg_type)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];
	const struct type_set *set = compatible[BPFVM_BASE_TYPE(arg_type)];
	u8 flags = r->flags;
	char t[48];

	if (!set)
		return 0;
	if (arg_type & BPFVM_PTR_MAYBE_NULL)
		flags &= (u8)~PTR_MAYBE_NULL;
	if (arg_type & BPFVM_MEM_RDONLY)
		flags &= (u8)~MEM_RDONLY;
	u16 have = T(r->type, flags);
	for (int i = 0; i < 10 && set->types[i]; i++)
		if (set->types[i] == have)
			return 0;
	verbose(env, "R%d type=%s expected=%s\n", regno,
		reg_type_str(r, t, sizeof(t)), set->names);
	return -EACCES;
}

/* Pointers passed to helpers must be unmodified, except memory ones. */
static int check_arg_reg_off(struct verifier_env *env, int regno, u32 arg_type)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];
	char t[48], tn[48];

	if (arg_type & BPFVM_OBJ_RELEASE) {
		if (r->off || !tnum_is_const(r->var_off) || r->var_off.value) {
			verbose(env, "R%d must have zero offset when passed to release func or trusted arg to kfunc\n", regno);
			return -EINVAL;
		}
	}
	switch (r->type) {
	case PTR_TO_STACK: case PTR_TO_PACKET: case PTR_TO_PACKET_META:
	case PTR_TO_MAP_KEY: case PTR_TO_MAP_VALUE: case PTR_TO_MEM:
	case PTR_TO_BUF: case SCALAR_VALUE:
		return 0;
	default:
		break;
	}
	if (r->off < 0) {
		verbose(env, "negative offset %s ptr R%d off=%d disallowed\n",
			reg_type_str(r, t, sizeof(t)), regno, r->off);
		return -EACCES;
	}
	if (r->off) {
		verbose(env, "dereference of modified %s ptr R%d off=%d disallowed\n",
			reg_type_str(r, t, sizeof(t)), regno, r->off);
		return -EACCES;
	}
	if (!tnum_is_const(r->var_off) || r->var_off.value) {
		tnum_strn(tn, sizeof(tn), r->var_off);
		verbose(env, "variable %s access var_off=%s disallowed\n",
			reg_type_str(r, t, sizeof(t)), tn);
		return -EACCES;
	}
	return 0;
}

static int check_mem_size_reg(struct verifier_env *env, int regno, bool write,
			      bool zero_ok, struct call_meta *meta)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];

	meta->msize_max = r->umax;
	mark_chain_precision(env, regno);
	if (r->smin < 0) {
		verbose(env, "R%d min value is negative, either use unsigned or 'var &= const'\n", regno);
		return -EACCES;
	}
	if (r->umin == 0 && !zero_ok) {
		verbose(env, "R%d invalid zero-sized read: u64=[%llu,%llu]\n", regno,
			(unsigned long long)r->umin, (unsigned long long)r->umax);
		return -EACCES;
	}
	if (r->umax >= MAX_VAR_SIZ) {
		verbose(env, "R%d unbounded memory access, use 'var &= const' or 'if (var < const)'\n", regno);
		return -EACCES;
	}
	return check_helper_mem_access(env, regno - 1, (int)r->umax, write, zero_ok);
}

/* The constant a stack key holds, or -1 (get_constant_map_key). */
static s64 const_map_key(struct verifier_env *env, const struct bpf_reg *key,
			 u32 key_size)
{
	if (key->type != PTR_TO_STACK || !tnum_is_const(key->var_off))
		return -1;
	int off = key->off + (int)key->var_off.value;
	int slot = -off - 1, spi = slot / 8, o = slot % 8;
	if (slot < 0 || spi >= STACK_SLOTS)
		return -1;
	const struct stack_slot *s = &env->cur->frame[key->frameno]->stack[spi];
	u32 zeros = 0, spills = 0;
	for (int i = o; i >= 0 && s->type[i] == STACK_ZERO; i--)
		zeros++;
	if (zeros >= key_size)
		return 0;
	if (s->type[7] != STACK_SPILL || s->spilled.type != SCALAR_VALUE)
		return -1;
	for (int i = o; i >= 0 && s->type[i] == STACK_SPILL; i--)
		spills++;
	if (spills != key_size || !tnum_is_const(s->spilled.var_off))
		return -1;
	mark_slot_precision(env, key->frameno, (u32)spi);
	return (s64)s->spilled.var_off.value;
}

static int process_spin_lock(struct verifier_env *env, int regno, bool lock)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];
	struct vstate *st = env->cur;

	if (!tnum_is_const(r->var_off)) {
		verbose(env, "R%d doesn't have constant offset. bpf_spin_lock has to be at the constant offset\n", regno);
		return -EINVAL;
	}
	if (!r->map || r->map->lock_off < 0) {
		verbose(env, "map '%s' has to have BTF in order to use bpf_spin_lock\n",
			r->map ? r->map->name : "");
		return -EINVAL;
	}
	s64 off = (s64)r->var_off.value + r->off;
	if (off != r->map->lock_off) {
		verbose(env, "off %lld doesn't point to 'struct bpf_spin_lock' that is at %d\n",
			(long long)off, r->map->lock_off);
		return -EINVAL;
	}
	if (lock) {
		if (st->active_lock_id) {
			verbose(env, "Locking two bpf_spin_locks are not allowed\n");
			return -EINVAL;
		}
		st->active_lock_id = r->id ? r->id : 0xffffffffu;
		st->active_lock_map = r->map;
		return 0;
	}
	if (!st->active_lock_id) {
		verbose(env, "bpf_spin_unlock without taking a lock\n");
		return -EINVAL;
	}
	if (st->active_lock_map != r->map ||
	    st->active_lock_id != (r->id ? r->id : 0xffffffffu)) {
		verbose(env, "bpf_spin_unlock of different lock\n");
		return -EINVAL;
	}
	st->active_lock_id = 0;
	st->active_lock_map = NULL;
	return 0;
}

static int check_func_arg(struct verifier_env *env, int arg,
			  const struct bpfvm_helper_proto *fn, struct call_meta *meta)
{
	int regno = 1 + arg;
	struct bpf_reg *r = &cur_regs(env)[regno];
	u32 at = fn->args[arg], base = BPFVM_BASE_TYPE(at);
	bool write = at & BPFVM_MEM_WRITE;
	int err;

	if (base == BPFVM_ARG_DONTCARE)
		return 0;
	if ((err = check_reg_arg_read(env, regno)))
		return err;
	if (base == BPFVM_ARG_ANYTHING)
		return 0;
	if (reg_is_pkt(r) && !meta->pkt_access) {
		verbose(env, "helper access to the packet is not allowed\n");
		return -EACCES;
	}
	if (base == BPFVM_ARG_PTR_TO_MAP_VALUE && meta->map &&
	    (meta->map->map_type == BPF_MAP_TYPE_SOCKMAP ||
	     meta->map->map_type == BPF_MAP_TYPE_SOCKHASH)) {
		at = BPFVM_ARG_PTR_TO_BTF_ID_SOCK_COMMON;
		base = at;
	}
	if (!(is_null_reg(r) && (at & BPFVM_PTR_MAYBE_NULL))) {
		if ((err = check_reg_type(env, regno, at)) ||
		    (err = check_arg_reg_off(env, regno, at)))
			return err;
	}
	if (at & BPFVM_OBJ_RELEASE) {
		if (!r->ref_obj_id && !is_null_reg(r)) {
			verbose(env, "R%d must be referenced when passed to release function\n", regno);
			return -EINVAL;
		}
		meta->release_regno = regno;
	}
	if (r->ref_obj_id) {
		if (meta->ref_obj_id) {
			verbose(env, "verifier internal error: more than one arg with ref_obj_id R%d %u %u",
				regno, r->ref_obj_id, meta->ref_obj_id);
			return -EFAULT;
		}
		meta->ref_obj_id = r->ref_obj_id;
	}
	switch (base) {
	case BPFVM_ARG_CONST_MAP_PTR:
		meta->map = r->map;
		break;
	case BPFVM_ARG_PTR_TO_MAP_KEY:
		if (!meta->map)
			return -EFAULT;
		if ((err = check_helper_mem_access(env, regno, (int)meta->map->key_size,
						   false, false)))
			return err;
		meta->const_key = const_map_key(env, r, meta->map->key_size);
		break;
	case BPFVM_ARG_PTR_TO_MAP_VALUE:
		if ((at & BPFVM_PTR_MAYBE_NULL) && is_null_reg(r))
			return 0;
		if (!meta->map)
			return -EFAULT;
		return check_helper_mem_access(env, regno, (int)meta->map->value_size,
					       write, false);
	case BPFVM_ARG_PTR_TO_SPIN_LOCK:
		return process_spin_lock(env, regno, meta->func_id == FN_spin_lock);
	case BPFVM_ARG_PTR_TO_FUNC:
		meta->subprog = r->subprog;
		break;
	case BPFVM_ARG_PTR_TO_MEM:
		if ((at & BPFVM_PTR_MAYBE_NULL) && is_null_reg(r))
			break;
		if (at & BPFVM_MEM_FIXED_SIZE) {
			if ((err = check_helper_mem_access(env, regno, fn->arg_size[arg],
							   write, false)))
				return err;
			if (at & BPFVM_MEM_ALIGNED)
				return check_ptr_alignment(env, r, 0, fn->arg_size[arg], true);
		}
		break;
	case BPFVM_ARG_CONST_SIZE:
	case BPFVM_ARG_CONST_SIZE_OR_ZERO: {
		u32 prev = fn->args[arg - 1];
		const struct bpf_reg *p = &cur_regs(env)[regno - 1];
		if ((prev & BPFVM_PTR_MAYBE_NULL) && is_null_reg(p)) {
			if (!is_null_reg(r) && base == BPFVM_ARG_CONST_SIZE_OR_ZERO)
				return check_mem_size_reg(env, regno, prev & BPFVM_MEM_WRITE,
							  true, meta);
			return 0;
		}
		return check_mem_size_reg(env, regno, prev & BPFVM_MEM_WRITE,
					  base == BPFVM_ARG_CONST_SIZE_OR_ZERO, meta);
	}
	case BPFVM_ARG_CONST_ALLOC_SIZE_OR_ZERO:
		if (!tnum_is_const(r->var_off)) {
			verbose(env, "R%d is not a known constant'\n", regno);
			return -EACCES;
		}
		meta->mem_size = (u32)r->var_off.value;
		mark_chain_precision(env, regno);
		break;
	case BPFVM_ARG_PTR_TO_CONST_STR:
		if (!r->map || !(r->map->map_flags & BPF_F_RDONLY_PROG)) {
			verbose(env, "R%d does not point to a readonly map'\n", regno);
			return -EACCES;
		}
		break;
	default:
		break;
	}
	return 0;
}

/* Helpers that may move or resize the packet: every packet pointer is
 * invalid after them (the kernel's bpf_helper_changes_pkt_data). */
bool helper_changes_pkt_data(u32 id)
{
	switch (id) {
	case FN_skb_store_bytes: case FN_skb_change_head: case FN_skb_change_tail:
	case FN_skb_pull_data: case FN_skb_change_proto: case FN_skb_vlan_push:
	case FN_skb_vlan_pop: case FN_l3_csum_replace: case FN_l4_csum_replace:
	case FN_xdp_adjust_head: case FN_xdp_adjust_meta: case FN_xdp_adjust_tail:
	case FN_msg_pull_data: case FN_msg_push_data: case FN_msg_pop_data:
	case FN_skb_adjust_room: case FN_clone_redirect: case FN_lwt_push_encap:
	case FN_lwt_seg6_store_bytes: case FN_lwt_seg6_adjust_srh:
	case FN_lwt_seg6_action: case FN_store_hdr_opt:
		return true;
	default:
		return false;
	}
}

static bool is_acquire(u32 id, const struct bpfvm_map *map)
{
	if (id == FN_map_lookup_elem && map &&
	    (map->map_type == BPF_MAP_TYPE_SOCKMAP ||
	     map->map_type == BPF_MAP_TYPE_SOCKHASH))
		return true;
	return id == FN_sk_lookup_tcp || id == FN_sk_lookup_udp ||
	       id == FN_skc_lookup_tcp || id == FN_ringbuf_reserve;
}

static bool is_ptr_cast(u32 id)
{
	return id == FN_tcp_sock || id == FN_sk_fullsock ||
	       id == FN_skc_to_tcp_sock || id == FN_skc_to_tcp6_sock ||
	       id == FN_skc_to_udp6_sock || id == FN_skc_to_mptcp_sock ||
	       id == FN_skc_to_tcp_timewait_sock || id == FN_skc_to_tcp_request_sock;
}

/* bpf_loop and friends: enter the callback as a call from this insn; the
 * path where it is never called goes on the stack. */
static int enter_callback(struct verifier_env *env, int insn_idx,
			  const struct call_meta *meta, u32 *next)
{
	struct vstate *st = env->cur;
	struct func_state *caller = st->frame[st->curframe];
	struct bpf_reg args[6];
	int err;

	if (st->curframe + 1 >= BPFVM_MAX_FRAMES) {
		verbose(env, "the call stack of %u frames is too deep\n", st->curframe + 2);
		return -E2BIG;
	}
	memcpy(args, caller->regs, sizeof(args));
	for (int i = 1; i <= 5; i++)
		if (args[i].type != NOT_INIT)
			mark_reg_read(caller, i);
	/* the state after the helper returns, callback not run */
	for (int i = 0; i <= 5; i++) {
		mark_reg_not_init(&caller->regs[i]);
		caller->live[i] |= LIVE_WRITTEN;
	}
	mark_reg_unknown(&caller->regs[0]);
	if ((err = push_stack(env, (u32)insn_idx + 1, (u32)insn_idx)))
		return err;
	struct func_state *cb = func_new(st->curframe + 1, insn_idx, meta->subprog);
	if (!cb)
		return -ENOMEM;
	cb->in_callback = true;
	mark_reg_known(&cb->regs[10], 0);
	cb->regs[10].type = PTR_TO_STACK;
	cb->regs[10].frameno = (u8)(st->curframe + 1);
	if (meta->func_id == FN_loop) {
		mark_reg_unknown(&cb->regs[1]);
		cb->regs[2] = args[3];
	} else if (meta->func_id == FN_for_each_map_elem) {
		mark_reg_known(&cb->regs[1], 0);
		cb->regs[1].type = CONST_PTR_TO_MAP;
		cb->regs[1].map = meta->map;
		mark_reg_known(&cb->regs[2], 0);
		cb->regs[2].type = PTR_TO_MAP_KEY;
		cb->regs[2].map = meta->map;
		mark_reg_known(&cb->regs[3], 0);
		cb->regs[3].type = PTR_TO_MAP_VALUE;
		cb->regs[3].map = meta->map;
		cb->regs[4] = args[3];
	} else {
		for (int i = 1; i <= 5; i++)
			mark_reg_unknown(&cb->regs[i]);
	}
	st->curframe++;
	free(st->frame[st->curframe]);
	st->frame[st->curframe] = cb;
	*next = env->subprog[meta->subprog].start - 1;
	return 0;
}

int check_helper_call(struct verifier_env *env, int insn_idx, u32 *next)
{
	const struct bpfvm_insn *insn = &env->insns[insn_idx];
	struct bpfvm_prog_info info = { env->opts->prog_type, env->attach_type };
	const struct bpfvm_prog_type *pt = bpfvm_prog_type(info.type);
	u32 id = (u32)insn->imm;
	struct call_meta meta = { .const_key = -1, .func_id = id };
	struct bpf_reg *regs;
	int err;

	if (insn->imm < 0 || id >= BPFVM_FUNC_MAX_ID) {
		verbose(env, "invalid func unknown#%d\n", insn->imm);
		return -EINVAL;
	}
	const struct bpfvm_helper_proto *fn = bpfvm_helper_proto(&info, id);
	if (!fn) {
		verbose(env, "program of this type cannot use helper bpf_%s#%u\n",
			fname(id), id);
		return -EINVAL;
	}
	meta.pkt_access = (fn->flags & BPFVM_PROTO_PKT_ACCESS) && pt &&
			  pt->pkt_access != BPFVM_PKT_NONE;
	for (int i = 0; i < 5; i++)
		if ((err = check_func_arg(env, i, fn, &meta)))
			return err;
	if (meta.map && (id == FN_map_update_elem || id == FN_map_delete_elem ||
			 id == FN_map_push_elem || id == FN_map_pop_elem) &&
	    (meta.map->map_flags & BPF_F_RDONLY_PROG)) {
		verbose(env, "write into map forbidden\n");
		return -EACCES;
	}
	regs = cur_regs(env);
	if (meta.release_regno) {
		err = -EINVAL;
		if (meta.ref_obj_id)
			err = release_reference(env, meta.ref_obj_id);
		else if (is_null_reg(&regs[meta.release_regno]))
			err = 0;
		if (err) {
			verbose(env, "func bpf_%s#%u reference has not been acquired before\n",
				fname(id), id);
			return err;
		}
	}
	switch (id) {
	case FN_tail_call:
		if (env->cur->active_lock_id) {
			verbose(env, "tail_call cannot be used inside bpf_spin_lock-ed region\n");
			return -EINVAL;
		}
		if (env->cur->nrefs) {
			for (u32 i = 0; i < env->cur->nrefs; i++)
				verbose(env, "Unreleased reference id=%u alloc_insn=%d\n",
					env->cur->refs[i].id, env->cur->refs[i].insn_idx);
			verbose(env, "tail_call would lead to reference leak\n");
			return -EINVAL;
		}
		break;
	case FN_get_local_storage:
		if (!is_null_reg(&regs[2])) {
			verbose(env, "get_local_storage() doesn't support non-zero flags\n");
			return -EINVAL;
		}
		break;
	}
	if (meta.map && !bpfvm_helper_map_compatible(id, meta.map->map_type, info.type)) {
		verbose(env, "cannot pass map_type %u into func bpf_%s#%u\n",
			meta.map->map_type, fname(id), id);
		return -EINVAL;
	}
	if (id == FN_loop || id == FN_for_each_map_elem)
		return enter_callback(env, insn_idx, &meta, next);
	if (helper_changes_pkt_data(id))
		clear_all_pkt_pointers(env);

	for (int i = 0; i <= 5; i++) {
		mark_reg_not_init(&regs[i]);
		cur_func(env)->live[i] |= LIVE_WRITTEN;
	}
	env->scratched_regs |= 0x3f;
	struct bpf_reg *r0 = &regs[0];
	u32 ret = fn->ret;
	u8 flags = 0;
	if (ret & BPFVM_PTR_MAYBE_NULL) flags |= PTR_MAYBE_NULL;
	if (ret & BPFVM_MEM_RINGBUF) flags |= MEM_RINGBUF;
	if (ret & BPFVM_MEM_RDONLY) flags |= MEM_RDONLY;
	switch (BPFVM_BASE_TYPE(ret)) {
	case BPFVM_RET_INTEGER:
		mark_reg_unknown(r0);
		break;
	case BPFVM_RET_VOID:
		break;
	case BPFVM_RET_PTR_TO_MAP_VALUE:
		if (!meta.map) {
			verbose(env, "kernel subsystem misconfigured verifier\n");
			return -EINVAL;
		}
		if (id == FN_map_lookup_elem && meta.const_key >= 0 &&
		    (meta.map->map_type == BPF_MAP_TYPE_ARRAY ||
		     meta.map->map_type == BPF_MAP_TYPE_PERCPU_ARRAY) &&
		    (u64)meta.const_key < meta.map->max_entries)
			flags &= (u8)~PTR_MAYBE_NULL;
		mark_reg_known(r0, 0);
		r0->type = PTR_TO_MAP_VALUE;
		r0->map = meta.map;
		if (!(flags & PTR_MAYBE_NULL) && meta.map->lock_off >= 0)
			r0->id = ++env->id_gen;
		break;
	case BPFVM_RET_PTR_TO_SOCKET:
		mark_reg_known(r0, 0);
		r0->type = PTR_TO_SOCKET;
		break;
	case BPFVM_RET_PTR_TO_SOCK_COMMON:
		mark_reg_known(r0, 0);
		r0->type = PTR_TO_SOCK_COMMON;
		break;
	case BPFVM_RET_PTR_TO_TCP_SOCK:
		mark_reg_known(r0, 0);
		r0->type = PTR_TO_TCP_SOCK;
		break;
	case BPFVM_RET_PTR_TO_MEM:
		mark_reg_known(r0, 0);
		r0->type = PTR_TO_MEM;
		r0->mem_size = fn->ret_size ? fn->ret_size : meta.mem_size;
		break;
	default:
		mark_reg_known(r0, 0);
		r0->type = PTR_TO_BTF_ID;
		break;
	}
	if (r0->type != SCALAR_VALUE && r0->type != NOT_INIT)
		r0->flags = flags;
	if (flags & PTR_MAYBE_NULL && r0->type != SCALAR_VALUE)
		r0->id = ++env->id_gen;
	if (is_ptr_cast(id)) {
		r0->ref_obj_id = meta.ref_obj_id;
	} else if (is_acquire(id, meta.map)) {
		int rid = acquire_reference(env, insn_idx);
		if (rid < 0)
			return rid;
		r0->id = (u32)rid;
		r0->ref_obj_id = (u32)rid;
	}
	if (id == FN_get_smp_processor_id) {
		/* as the kernel's do_refine_retval_range: [0, nr_cpu_ids - 1],
		 * the possible CPUs the maps' per-CPU slots also count */
		u32 top = bpfvm_possible_cpus() - 1;
		r0->umin = r0->u32_min = 0;
		r0->smin = r0->s32_min = 0;
		r0->umax = r0->u32_max = top;
		r0->smax = r0->s32_max = (s32)top;
		reg_bounds_sync(r0);
	}
	if (BPFVM_BASE_TYPE(ret) == BPFVM_RET_INTEGER &&
	    (id == FN_get_stack || id == FN_probe_read_str ||
	     id == FN_probe_read_kernel_str || id == FN_probe_read_user_str)) {
		r0->smax = (s64)meta.msize_max;
		r0->s32_max = (s32)meta.msize_max;
		r0->smin = -MAX_ERRNO;
		r0->s32_min = -MAX_ERRNO;
		reg_bounds_sync(r0);
	}
	return 0;
}
