/* Memory access checks (the kernel's check_mem_access and friends): each
 * pointer kind has its own rule -- stack slots with spill tracking, the
 * context through the program-type table, map values and keys by size,
 * packets by the range comparisons proved, sockets through their uapi
 * structs.  Root semantics: uninitialised stack may be read.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include "vinternal.h"
#include "prog_types.h"
#include "ctx_access.h"

#define MAX_VAR_OFF (1 << 29)

static struct func_state *reg_frame(struct verifier_env *env,
				    const struct bpf_reg *r)
{
	return env->cur->frame[r->frameno];
}

/* ---- alignment ---------------------------------------------------------- */

int check_ptr_alignment(struct verifier_env *env, const struct bpf_reg *reg,
			int off, int size, bool strict)
{
	const char *desc = "";
	char tn[48];
	struct tnum t;

	strict = strict || env->strict_alignment;
	switch (reg->type) {
	case PTR_TO_PACKET:
	case PTR_TO_PACKET_META:
		if (!strict || size == 1)
			return 0;
		t = tnum_add(reg->var_off, tnum_const((u64)(s64)(2 + reg->off + off)));
		if (!tnum_is_aligned(t, (u64)size)) {
			tnum_strn(tn, sizeof(tn), reg->var_off);
			verbose(env, "misaligned packet access off %d+%s+%d+%d size %d\n",
				2, tn, reg->off, off, size);
			return -EACCES;
		}
		return 0;
	case PTR_TO_FLOW_KEYS: desc = "flow keys "; break;
	case PTR_TO_MAP_KEY: desc = "key "; break;
	case PTR_TO_MAP_VALUE: desc = "value "; break;
	case PTR_TO_CTX: desc = "context "; break;
	case PTR_TO_STACK: desc = "stack "; strict = true; break;
	case PTR_TO_SOCKET: desc = "sock "; break;
	case PTR_TO_SOCK_COMMON: desc = "sock_common "; break;
	case PTR_TO_TCP_SOCK: desc = "tcp_sock "; break;
	case PTR_TO_XDP_SOCK: desc = "xdp_sock "; break;
	default: break;
	}
	if (!strict || size == 1)
		return 0;
	t = tnum_add(reg->var_off, tnum_const((u64)(s64)(reg->off + off)));
	if (!tnum_is_aligned(t, (u64)size)) {
		tnum_strn(tn, sizeof(tn), reg->var_off);
		verbose(env, "misaligned %saccess off %s+%d+%d size %d\n", desc, tn,
			reg->off, off, size);
		return -EACCES;
	}
	return 0;
}

/* ---- sized regions: map values, keys, memory, packets ------------------ */

static int mem_bounds(struct verifier_env *env, int regno, s64 off, int size,
		      u32 mem_size, bool zero_ok)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];
	bool size_ok = size > 0 || (size == 0 && zero_ok);

	if (off >= 0 && size_ok && (u64)off + (u64)size <= mem_size)
		return 0;
	switch (r->type) {
	case PTR_TO_MAP_KEY:
		verbose(env, "invalid access to map key, key_size=%u off=%lld size=%d\n",
			mem_size, (long long)off, size);
		break;
	case PTR_TO_MAP_VALUE:
		verbose(env, "invalid access to map value, value_size=%u off=%lld size=%d\n",
			mem_size, (long long)off, size);
		break;
	case PTR_TO_PACKET:
	case PTR_TO_PACKET_META:
	case PTR_TO_PACKET_END:
		verbose(env, "invalid access to packet, off=%lld size=%d, R%d(id=%u,off=%lld,r=%u)\n",
			(long long)off, size, regno, r->id, (long long)off, mem_size);
		break;
	default:
		verbose(env, "invalid access to memory, mem_size=%u off=%lld size=%d\n",
			mem_size, (long long)off, size);
	}
	return -EACCES;
}

static int mem_region_access(struct verifier_env *env, int regno, int off,
			     int size, u32 mem_size, bool zero_ok)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];
	int err;

	if (r->smin < 0 &&
	    (r->smin == INT64_MIN ||
	     (s64)off + r->smin != (s64)(s32)((s64)off + r->smin) ||
	     r->smin + off < 0)) {
		verbose(env, "R%d min value is negative, either use unsigned index or do a if (index >=0) check.\n", regno);
		return -EACCES;
	}
	if ((err = mem_bounds(env, regno, r->smin + off, size, mem_size, zero_ok))) {
		verbose(env, "R%d min value is outside of the allowed memory range\n", regno);
		return err;
	}
	if (r->umax >= MAX_VAR_OFF) {
		verbose(env, "R%d unbounded memory access, make sure to bounds check any such access\n", regno);
		return -EACCES;
	}
	if ((err = mem_bounds(env, regno, (s64)r->umax + off, size, mem_size, zero_ok))) {
		verbose(env, "R%d max value is outside of the allowed memory range\n", regno);
		return err;
	}
	return 0;
}

static int map_access(struct verifier_env *env, int regno, int off, int size,
		      bool zero_ok)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];
	int err;

	if ((err = mem_region_access(env, regno, off, size, r->map->value_size, zero_ok)))
		return err;
	if (r->map->lock_off >= 0) {
		s64 lo = r->smin + off, hi = (s64)r->umax + off + size;
		if (lo < r->map->lock_off + 4 && r->map->lock_off < hi) {
			verbose(env, "bpf_spin_lock cannot be accessed directly by load/store\n");
			return -EACCES;
		}
	}
	return 0;
}

static int map_access_type(struct verifier_env *env, int regno, int off,
			   int size, bool write)
{
	const struct bpfvm_map *m = cur_regs(env)[regno].map;

	if (write && (m->map_flags & BPF_F_RDONLY_PROG)) {
		verbose(env, "write into map forbidden, value_size=%u off=%d size=%d\n",
			m->value_size, off, size);
		return -EACCES;
	}
	if (!write && (m->map_flags & BPF_F_WRONLY_PROG)) {
		verbose(env, "read from map forbidden, value_size=%u off=%d size=%d\n",
			m->value_size, off, size);
		return -EACCES;
	}
	return 0;
}

static int packet_access(struct verifier_env *env, int regno, int off, int size,
			 bool zero_ok)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];

	if (r->smin < 0) {
		verbose(env, "R%d min value is negative, either use unsigned index or do a if (index >=0) check.\n", regno);
		return -EACCES;
	}
	if (r->range < 0) {
		verbose(env, "R%d offset is outside of the packet\n", regno);
		return -EINVAL;
	}
	if (mem_bounds(env, regno, off, size, (u32)r->range, zero_ok)) {
		verbose(env, "R%d offset is outside of the packet\n", regno);
		return -EACCES;
	}
	return 0;
}

static bool may_access_pkt(struct verifier_env *env, bool write, bool helper_ok)
{
	const struct bpfvm_prog_type *pt = bpfvm_prog_type(env->opts->prog_type);

	if (!pt)
		return false;
	if (helper_ok)
		return pt->pkt_access != BPFVM_PKT_NONE;
	if (write)
		return pt->pkt_access == BPFVM_PKT_RW;
	return pt->pkt_access != BPFVM_PKT_NONE;
}

/* ---- context -------------------------------------------------------------- */

int check_ptr_off_reg(struct verifier_env *env, const struct bpf_reg *r,
		      int regno, bool fixed_ok)
{
	char t[48], tn[48];

	if (r->off < 0) {
		verbose(env, "negative offset %s ptr R%d off=%d disallowed\n",
			reg_type_str(r, t, sizeof(t)), regno, r->off);
		return -EACCES;
	}
	if (!fixed_ok && r->off) {
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

int check_ctx_access(struct verifier_env *env, int insn_idx, int off, int size,
		     bool write, struct bpf_reg *out)
{
	struct bpfvm_prog_info info = { env->opts->prog_type, env->attach_type };
	struct bpfvm_ctx_access acc = { 0 };

	(void)insn_idx;
	if (!bpfvm_ctx_access_ok(&info, off, size,
				 write ? BPFVM_ACCESS_WRITE : BPFVM_ACCESS_READ, &acc)) {
		verbose(env, "invalid bpf_context access off=%d size=%d\n", off, size);
		return -EACCES;
	}
	if (!out)
		return 0;
	switch (acc.reg_type) {
	case BPFVM_CTX_SCALAR:
		mark_reg_unknown(out);
		return 0;
	case BPFVM_CTX_PTR_TO_PACKET: mark_reg_known(out, 0); out->type = PTR_TO_PACKET; break;
	case BPFVM_CTX_PTR_TO_PACKET_END: mark_reg_known(out, 0); out->type = PTR_TO_PACKET_END; break;
	case BPFVM_CTX_PTR_TO_PACKET_META: mark_reg_known(out, 0); out->type = PTR_TO_PACKET_META; break;
	case BPFVM_CTX_PTR_TO_SOCK_COMMON_OR_NULL:
		mark_reg_known(out, 0); out->type = PTR_TO_SOCK_COMMON;
		out->flags = PTR_MAYBE_NULL; break;
	case BPFVM_CTX_PTR_TO_SOCKET: mark_reg_known(out, 0); out->type = PTR_TO_SOCKET; break;
	case BPFVM_CTX_PTR_TO_SOCKET_OR_NULL:
		mark_reg_known(out, 0); out->type = PTR_TO_SOCKET;
		out->flags = PTR_MAYBE_NULL; break;
	case BPFVM_CTX_PTR_TO_FLOW_KEYS: mark_reg_known(out, 0); out->type = PTR_TO_FLOW_KEYS; break;
	case BPFVM_CTX_PTR_TO_TP_BUFFER: mark_reg_known(out, 0); out->type = PTR_TO_TP_BUFFER; break;
	}
	if (out->flags & PTR_MAYBE_NULL)
		out->id = ++env->id_gen;
	return 0;
}

/* ---- stack ------------------------------------------------------------------ */

static void scratch_slot(struct verifier_env *env, s64 off)
{
	s64 spi = (-off - 1) / 8;
	if (spi >= 0 && spi < 64)
		env->scratched_slots |= 1ull << spi;
}

static void grow_stack(struct verifier_env *env, struct func_state *f, int size)
{
	size = (size + 7) & ~7;
	if (size > MAX_BPF_STACK)
		size = MAX_BPF_STACK;
	if (f->allocated_stack >= size)
		return;
	f->allocated_stack = size;
	if (env->subprog[f->subprog].stack_depth < (u32)size)
		env->subprog[f->subprog].stack_depth = (u32)size;
}

/* type: 0 read, 1 write, 2 helper */
static int stack_within_bounds(struct verifier_env *env, int regno, int off,
			       int size, int type)
{
	static const char *const extra[3] = { " read from", " write to",
					      " indirect access to" };
	const struct bpf_reg *r = &cur_regs(env)[regno];
	s64 min_off, max_off;
	int err = 0;
	char tn[48];

	if (tnum_is_const(r->var_off)) {
		min_off = (s64)r->var_off.value + off;
		max_off = min_off + size;
		if (min_off < 0 && min_off >= -MAX_BPF_STACK)
			scratch_slot(env, min_off);
	} else {
		if (r->smax >= MAX_VAR_OFF || r->smin <= -MAX_VAR_OFF) {
			verbose(env, "invalid unbounded variable-offset%s stack R%d\n",
				extra[type], regno);
			return -EACCES;
		}
		min_off = r->smin + off;
		max_off = r->smax + off + size;
	}
	if (min_off >= 0 || min_off < -MAX_BPF_STACK)
		err = -EACCES;
	else if (max_off > 0 || size < 0)
		err = -EINVAL;
	if (err) {
		if (tnum_is_const(r->var_off)) {
			verbose(env, "invalid%s stack R%d off=%d size=%d\n", extra[type],
				regno, off, size);
		} else {
			tnum_strn(tn, sizeof(tn), r->var_off);
			verbose(env, "invalid variable-offset%s stack R%d var_off=%s off=%d size=%d\n",
				extra[type], regno, tn, off, size);
		}
		return err;
	}
	grow_stack(env, reg_frame(env, r), (int)-min_off);
	return 0;
}

#define SLOT_TYPE(f, o) ((f)->stack[(-(o) - 1) / 8].type[(-(o) - 1) % 8])

static void spill_reg(struct func_state *f, int spi, const struct bpf_reg *r,
		      int size)
{
	struct stack_slot *s = &f->stack[spi];

	s->spilled = *r;
	for (int i = 8; i > 8 - size; i--)
		s->type[i - 1] = STACK_SPILL;
	for (int i = 8 - size; i > 0; i--)
		if (s->type[i - 1] != STACK_ZERO && s->type[i - 1] != STACK_INVALID)
			s->type[i - 1] = STACK_MISC;
}

static bool reg_is_zero(const struct bpf_reg *r)
{
	return r->type == SCALAR_VALUE && tnum_equals_const(r->var_off, 0);
}

static int reg_width(const struct bpf_reg *r)
{
	u64 m = r->umax;
	return m ? 64 - __builtin_clzll(m) : 0;
}

static int stack_write_fixed(struct verifier_env *env, struct func_state *f,
			     int off, int size, int value_regno, int insn_idx)
{
	int slot = -off - 1, spi = slot / 8;

	/* only a whole-slot write hides the slot's earlier value */
	if (size == 8)
		f->slot_live[spi] |= LIVE_WRITTEN;
	struct bpf_reg *r = value_regno >= 0 ? &cur_regs(env)[value_regno] : NULL;
	const struct bpfvm_insn *insn = &env->insns[insn_idx];
	bool is_st = BPF_CLASS(insn->code) == BPF_ST;
	struct stack_slot *s = &f->stack[spi];

	u32 hflags = HIST_STACK | f->frameno << 8 | (u32)spi << 16;
	if (r && !(off % 8) && r->type == SCALAR_VALUE) {
		bool fits = reg_width(r) <= 8 * size;
		if (hist_push(env->cur, (u32)insn_idx, env->prev_insn_idx, hflags))
			return -ENOMEM;
		if (fits)
			assign_scalar_id_before_mov(env, r);
		spill_reg(f, spi, r, size);
		if (!fits)
			s->spilled.id = 0;
	} else if (!r && !(off % 8) && is_st) {
		struct bpf_reg k;
		if (hist_push(env->cur, (u32)insn_idx, env->prev_insn_idx, hflags))
			return -ENOMEM;
		mark_reg_known(&k, (u64)(s64)insn->imm);
		spill_reg(f, spi, &k, size);
	} else if (r && r->type != SCALAR_VALUE && r->type != NOT_INIT) {
		if (size != 8) {
			verbose(env, "invalid size of register spill\n");
			return -EACCES;
		}
		if (f != cur_func(env) && r->type == PTR_TO_STACK) {
			verbose(env, "cannot spill pointers to stack into stack frame of the caller\n");
			return -EINVAL;
		}
		if (hist_push(env->cur, (u32)insn_idx, env->prev_insn_idx, hflags))
			return -ENOMEM;
		spill_reg(f, spi, r, size);
	} else {
		u8 type = STACK_MISC;
		mark_reg_not_init(&s->spilled);
		if (s->type[7] == STACK_SPILL)
			for (int i = 0; i < 8; i++)
				if (s->type[i] == STACK_SPILL)
					s->type[i] = STACK_MISC;
		if ((r && reg_is_zero(r)) || (!r && is_st && insn->imm == 0))
			type = STACK_ZERO;
		for (int i = 0; i < size; i++)
			s->type[(slot - i) % 8] = type;
	}
	return 0;
}

static int stack_write_var(struct verifier_env *env, struct func_state *f,
			   const struct bpf_reg *ptr, int off, int size,
			   int value_regno, int insn_idx)
{
	s64 min_off = ptr->smin + off, max_off = ptr->smax + off + size;
	const struct bpfvm_insn *insn = &env->insns[insn_idx];
	struct bpf_reg *v = value_regno >= 0 ? &cur_regs(env)[value_regno] : NULL;
	bool zero = (v && reg_is_zero(v)) ||
		    (!v && BPF_CLASS(insn->code) == BPF_ST && insn->imm == 0);

	for (s64 i = min_off; i < max_off; i++) {
		int slot = (int)(-i - 1), spi = slot / 8;
		struct stack_slot *sl = &f->stack[spi];
		u8 *t = &sl->type[slot % 8];
		/* zero over a spilled zero keeps the spill */
		if (zero && *t == STACK_SPILL && sl->type[7] == STACK_SPILL &&
		    reg_is_zero(&sl->spilled))
			continue;
		mark_reg_not_init(&sl->spilled);
		*t = (zero && *t == STACK_ZERO) ? STACK_ZERO : STACK_MISC;
	}
	return 0;
}

/* The value of bytes [min, max) of frame f: zero when all are zero. */
static void stack_read_value(struct func_state *f, s64 min, s64 max,
			     struct bpf_reg *dst)
{
	int zeros = 0;
	for (s64 i = min; i < max; i++) {
		mark_slot_read(f, (int)((-i - 1) / 8));
		if (SLOT_TYPE(f, i) == STACK_ZERO)
			zeros++;
	}
	if (zeros == max - min)
		mark_reg_known(dst, 0);
	else
		mark_reg_unknown(dst);
}

static int stack_read_fixed(struct verifier_env *env, struct func_state *f,
			    int off, int size, int dst_regno)
{
	int slot = -off - 1, spi = slot / 8;

	mark_slot_read(f, spi);
	struct stack_slot *s = &f->stack[spi];
	struct bpf_reg *dst = dst_regno >= 0 ? &cur_regs(env)[dst_regno] : NULL;

	if (s->type[7] == STACK_SPILL) {
		int spill_size = 1;
		if (dst && hist_push(env->cur, env->insn_idx, env->prev_insn_idx,
				     HIST_STACK | f->frameno << 8 | (u32)spi << 16))
			return -ENOMEM;
		for (int i = 7; i > 0 && s->type[i - 1] == STACK_SPILL; i--)
			spill_size++;
		if (size != 8 || spill_size != 8) {
			if (s->spilled.type != SCALAR_VALUE) {
				verbose(env, "invalid size of register fill\n");
				return -EACCES;
			}
			if (!dst)
				return 0;
			if (size <= spill_size && !(off % 8)) {
				*dst = s->spilled;
				if (reg_width(&s->spilled) > size * 8) {
					dst->id = 0;
					dst->off = 0;
				}
			} else {
				int spills = 0, zeros = 0;
				for (int i = 0; i < size; i++) {
					u8 t = s->type[(slot - i) % 8];
					spills += t == STACK_SPILL;
					zeros += t == STACK_ZERO;
				}
				if (spills == size && tnum_equals_const(s->spilled.var_off, 0))
					mark_reg_known(dst, 0);
				else if (zeros == size)
					mark_reg_known(dst, 0);
				else
					mark_reg_unknown(dst);
			}
		} else if (dst) {
			*dst = s->spilled;
		}
		return 0;
	}
	if (dst)
		stack_read_value(f, off, off + size, dst);
	return 0;
}

/* Helper access to [reg+off, +size) of the stack.  write: the helper
 * fills it (raw mode: only bounds). */
int check_stack_range(struct verifier_env *env, int regno, int off, int size,
		      bool write)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];
	struct func_state *f = reg_frame(env, r);
	s64 min_off, max_off;
	int err;

	u64 scratched = env->scratched_slots; /* helpers' access is not shown */
	err = stack_within_bounds(env, regno, off, size, write ? 1 : 0);
	env->scratched_slots = scratched;
	if (err)
		return err;
	if (tnum_is_const(r->var_off)) {
		min_off = max_off = (s64)r->var_off.value + off;
	} else {
		min_off = r->smin + off;
		max_off = r->smax + off;
	}
	for (s64 i = min_off; i < max_off + size; i++) {
		int slot = (int)(-i - 1), spi = slot / 8;
		struct stack_slot *s = &f->stack[spi];
		u8 *t = &s->type[slot % 8];
		mark_slot_read(f, spi);
		if (*t == STACK_MISC)
			continue;
		if (*t == STACK_ZERO || *t == STACK_INVALID) {
			if (write)
				*t = STACK_MISC;
			continue;
		}
		/* a spilled register: root may pass pointers too */
		if (write) {
			mark_reg_unknown(&s->spilled);
			for (int j = 0; j < 8; j++)
				if (s->type[j] == STACK_SPILL)
					s->type[j] = STACK_MISC;
		}
	}
	return 0;
}

/* ---- sockets ---------------------------------------------------------------- */

static int sock_access(struct verifier_env *env, int regno, int off, int size,
		       bool write)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];
	struct bpfvm_ctx_access acc;
	char t[48];
	bool ok;

	if (r->smin < 0) {
		verbose(env, "R%d min value is negative, either use unsigned index or do a if (index >=0) check.\n", regno);
		return -EACCES;
	}
	switch (r->type) {
	case PTR_TO_SOCK_COMMON:
		/* struct bpf_sock but type, protocol, mark, priority */
		ok = !(off >= 8 && off < 24) &&
		     bpfvm_ctx_sock(off, size, BPFVM_ACCESS_READ, &acc);
		break;
	case PTR_TO_SOCKET:
		ok = bpfvm_ctx_sock(off, size, write ? BPFVM_ACCESS_WRITE : BPFVM_ACCESS_READ, &acc);
		break;
	case PTR_TO_TCP_SOCK:
		/* struct bpf_tcp_sock: u32 fields but bytes_received and
		 * bytes_acked (u64 at 80, 88), up to icsk_retransmits (108) */
		ok = off >= 0 && off < 112 && size > 0 && !(off % size) &&
		     size == ((off == 80 || off == 88) ? 8 : 4);
		break;
	case PTR_TO_XDP_SOCK:
		ok = off == 0 && size == 4;
		break;
	default:
		ok = false;
	}
	if (ok)
		return 0;
	verbose(env, "R%d invalid %s access off=%d size=%d\n", regno,
		reg_type_str(r, t, sizeof(t)), off, size);
	return -EACCES;
}

/* ---- map pointers ----------------------------------------------------------- */

/* The kernel struct behind a map of this type, as its BTF names it. */
static const char *map_struct_name(u32 type)
{
	switch (type) {
	case BPF_MAP_TYPE_ARRAY: case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_PROG_ARRAY: case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
	case BPF_MAP_TYPE_CGROUP_ARRAY: case BPF_MAP_TYPE_ARRAY_OF_MAPS:
		return "bpf_array";
	case BPF_MAP_TYPE_HASH: case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_HASH: case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_HASH_OF_MAPS:
		return "bpf_htab";
	case BPF_MAP_TYPE_RINGBUF:
		return "bpf_ringbuf_map";
	case BPF_MAP_TYPE_STACK_TRACE:
		return "bpf_stack_map";
	case BPF_MAP_TYPE_LPM_TRIE:
		return "lpm_trie";
	default:
		return "bpf_map";
	}
}

/* Reads of the map's kernel struct (check_ptr_to_map_access): root may
 * read at non-negative offsets; what is read is not modelled (no BTF). */
static int map_ptr_access(struct verifier_env *env, int regno, int off, bool write)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];
	const char *tname = map_struct_name(r->map ? r->map->map_type : 0);

	if (off < 0) {
		verbose(env, "R%d is %s invalid negative access: off=%d\n", regno,
			tname, off);
		return -EACCES;
	}
	if (write) {
		verbose(env, "only read from %s is supported\n", tname);
		return -EACCES;
	}
	return 0;
}

/* ---- the dispatcher ----------------------------------------------------------- */

int check_mem_access(struct verifier_env *env, int insn_idx, int regno, int off,
		     int size, bool write, int value_regno, bool strict, bool sx)
{
	struct bpf_reg *regs = cur_regs(env), *r = &regs[regno];
	char t[48];
	int err;

	if ((err = check_ptr_alignment(env, r, off, size, strict)))
		return err;
	off += r->off;

	if (r->flags & PTR_MAYBE_NULL) {
		verbose(env, "R%d invalid mem access '%s'\n", regno,
			reg_type_str(r, t, sizeof(t)));
		return -EACCES;
	}
	switch (r->type) {
	case PTR_TO_MAP_KEY:
		if (write) {
			verbose(env, "write to change key R%d not allowed\n", regno);
			return -EACCES;
		}
		if ((err = mem_region_access(env, regno, off, size, r->map->key_size, false)))
			return err;
		if (value_regno >= 0)
			mark_reg_unknown(&regs[value_regno]);
		break;
	case PTR_TO_MAP_VALUE:
		if ((err = map_access_type(env, regno, off, size, write)) ||
		    (err = map_access(env, regno, off, size, false)))
			return err;
		if (!write && value_regno >= 0)
			mark_reg_unknown(&regs[value_regno]);
		break;
	case PTR_TO_MEM:
		if (write && (r->flags & MEM_RDONLY)) {
			verbose(env, "R%d cannot write into %s\n", regno,
				reg_type_str(r, t, sizeof(t)));
			return -EACCES;
		}
		if ((err = mem_region_access(env, regno, off, size, r->mem_size, false)))
			return err;
		if (!write && value_regno >= 0)
			mark_reg_unknown(&regs[value_regno]);
		break;
	case PTR_TO_CTX: {
		struct bpf_reg out;
		if ((err = check_ptr_off_reg(env, r, regno, false)))
			return err;
		if ((err = check_ctx_access(env, insn_idx, off, size, write,
					    (!write && value_regno >= 0) ? &out : NULL)))
			return err;
		if (!write && value_regno >= 0)
			regs[value_regno] = out;
		break;
	}
	case PTR_TO_STACK: {
		struct func_state *f = reg_frame(env, r);
		if ((err = stack_within_bounds(env, regno, off, size, write)))
			return err;
		if (tnum_is_const(r->var_off)) {
			int o = off + (int)r->var_off.value;
			err = write ? stack_write_fixed(env, f, o, size, value_regno, insn_idx)
				    : stack_read_fixed(env, f, o, size, value_regno);
		} else if (write) {
			err = stack_write_var(env, f, r, off, size, value_regno, insn_idx);
		} else if (value_regno >= 0) {
			stack_read_value(f, r->smin + off, r->smax + off + size,
					 &regs[value_regno]);
		}
		if (err)
			return err;
		break;
	}
	case PTR_TO_PACKET:
	case PTR_TO_PACKET_META:
		if (write && !may_access_pkt(env, true, false)) {
			verbose(env, "cannot write into packet\n");
			return -EACCES;
		}
		if ((err = packet_access(env, regno, off, size, false)))
			return err;
		if (!write && value_regno >= 0)
			mark_reg_unknown(&regs[value_regno]);
		break;
	case PTR_TO_FLOW_KEYS:
		if (off < 0 || size < 0 || off + size > 56) {
			verbose(env, "invalid access to flow keys off=%d size=%d\n", off, size);
			return -EACCES;
		}
		if (!write && value_regno >= 0)
			mark_reg_unknown(&regs[value_regno]);
		break;
	case PTR_TO_SOCKET:
	case PTR_TO_SOCK_COMMON:
	case PTR_TO_TCP_SOCK:
	case PTR_TO_XDP_SOCK:
		if (write) {
			verbose(env, "R%d cannot write into %s\n", regno,
				reg_type_str(r, t, sizeof(t)));
			return -EACCES;
		}
		if ((err = sock_access(env, regno, off, size, write)))
			return err;
		if (value_regno >= 0)
			mark_reg_unknown(&regs[value_regno]);
		break;
	case PTR_TO_TP_BUFFER:
		if (off < 0) {
			verbose(env, "R%d invalid tracepoint buffer access: off=%d, size=%d\n",
				regno, off, size);
			return -EACCES;
		}
		if (!tnum_is_const(r->var_off) || r->var_off.value) {
			char tn[48];
			tnum_strn(tn, sizeof(tn), r->var_off);
			verbose(env, "R%d invalid variable buffer offset: off=%d, var_off=%s\n",
				regno, off, tn);
			return -EACCES;
		}
		if (!write && value_regno >= 0)
			mark_reg_unknown(&regs[value_regno]);
		break;
	case CONST_PTR_TO_MAP:
		if ((err = map_ptr_access(env, regno, off, write)))
			return err;
		if (value_regno >= 0)
			mark_reg_unknown(&regs[value_regno]);
		break;
	default:
		verbose(env, "R%d invalid mem access '%s'\n", regno,
			reg_type_str(r, t, sizeof(t)));
		return -EACCES;
	}
	if (size < 8 && value_regno >= 0 && !write &&
	    regs[value_regno].type == SCALAR_VALUE) {
		if (sx)
			coerce_reg_to_size_sx(&regs[value_regno], (unsigned)size);
		else
			coerce_reg_to_size(&regs[value_regno], (unsigned)size);
	}
	return 0;
}

/* A helper's pointer-to-memory argument (check_helper_mem_access). */
int check_helper_mem_access(struct verifier_env *env, int regno, int size,
			    bool write, bool zero_ok)
{
	const struct bpf_reg *r = &cur_regs(env)[regno];
	char t[48];

	switch (r->type) {
	case PTR_TO_PACKET:
	case PTR_TO_PACKET_META:
		return packet_access(env, regno, r->off, size, zero_ok);
	case PTR_TO_MAP_KEY:
		if (write) {
			verbose(env, "R%d cannot write into %s\n", regno,
				reg_type_str(r, t, sizeof(t)));
			return -EACCES;
		}
		return mem_region_access(env, regno, r->off, size, r->map->key_size, false);
	case PTR_TO_MAP_VALUE:
		if (map_access_type(env, regno, r->off, size, write))
			return -EACCES;
		return map_access(env, regno, r->off, size, zero_ok);
	case PTR_TO_MEM:
		if (write && (r->flags & MEM_RDONLY)) {
			verbose(env, "R%d cannot write into %s\n", regno,
				reg_type_str(r, t, sizeof(t)));
			return -EACCES;
		}
		return mem_region_access(env, regno, r->off, size, r->mem_size, zero_ok);
	case PTR_TO_STACK:
		if (size == 0 && !zero_ok) {
			verbose(env, "invalid zero-sized read\n");
			return -EACCES;
		}
		return check_stack_range(env, regno, r->off, size, write);
	default:
		if (zero_ok && size == 0 && reg_is_zero(r))
			return 0;
		verbose(env, "R%d type=%s ", regno, reg_type_str(r, t, sizeof(t)));
		verbose(env, "expected=fp\n");
		return -EACCES;
	}
}
