/* The verifier log, as the kernel's kernel/bpf/log.c keeps it: lines built
 * with verbose(), the level-1 log reset to a branch point whenever a path
 * ends (so a failure shows only its own path), and at the end the user's
 * buffer filled either from the start (BPF_LOG_FIXED) or with the tail
 * (rotating), ENOSPC when it did not hold everything.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_asm.h"
#include "vinternal.h"

#define LOG_FIXED 8u

/* The whole log text lives in a growing buffer owned by the vlog; max is
 * the furthest it ever reached, resets included, as the kernel's len_max:
 * log_true_size counts the text that went by, not only what was kept. */
struct vlog_text { char *p; size_t len, cap, max; };

void vlog_init(struct vlog *log, const struct bpfvm_verify_opts *opts)
{
	memset(log, 0, sizeof(*log));
	log->level = opts->log_level;
	log->buf = opts->log_buf;
	log->size = opts->log_size;
}

static void vlog_append(struct vlog *log, const char *s, size_t n)
{
	struct vlog_text *t = (struct vlog_text *)log->text;

	if (!log->level || !n)
		return;
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return;
		log->text = t;
	}
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *p = realloc(t->p, cap);
		if (!p)
			return;
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = 0;
	if (t->len > t->max)
		t->max = t->len;
}

u64 vlog_pos(const struct vlog *log)
{
	const struct vlog_text *t = log->text;
	return t ? t->len : 0;
}

void vlog_reset(struct vlog *log, u64 pos)
{
	struct vlog_text *t = log->text;
	if (t && pos < t->len) {
		t->len = (size_t)pos;
		t->p[t->len] = 0;
	}
}

void verbose(struct verifier_env *env, const char *fmt, ...)
{
	struct vlog *log = &env->log;
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	vlog_append(log, tmp, (size_t)n);
	/* remember the last complete line for the caller (any level) */
	for (int i = 0; i < n; i++) {
		if (tmp[i] == '\n') {
			if (log->line_len) {
				memcpy(log->last, log->line, log->line_len);
				log->last[log->line_len] = 0;
				if (strncmp(log->last, "processed ", 10) &&
				    strncmp(log->last, "verification time", 17) &&
				    strncmp(log->last, "stack depth", 11))
					memcpy(log->err_line, log->last, sizeof(log->err_line));
			}
			log->line_len = 0;
		} else if (log->line_len < sizeof(log->last) - 1) {
			log->line[log->line_len++] = tmp[i];
		}
	}
}

/* Copy into the user's buffer; -ENOSPC if it was too small. */
int vlog_finish(struct vlog *log)
{
	struct vlog_text *t = log->text;
	size_t len = t ? t->len : 0;
	int err = 0;

	size_t max = t && t->max > len ? t->max : len;

	log->true_size = max >= UINT32_MAX ? UINT32_MAX : (u32)(max + 1);
	if (log->buf && log->size) {
		if (len + 1 <= log->size) {
			if (len)
				memcpy(log->buf, t->p, len);
			log->buf[len] = 0;
		} else {
			size_t keep = log->size - 1;
			if (log->level & LOG_FIXED)
				memcpy(log->buf, t->p, keep);
			else
				memcpy(log->buf, t->p + len - keep, keep);
			log->buf[keep] = 0;
			err = -ENOSPC;
		}
	}
	if (t) {
		free(t->p);
		free(t);
		log->text = NULL;
	}
	return err;
}

void print_insn(struct verifier_env *env, u32 idx)
{
	char buf[160];

	bpfvm_disasm_insn(env->insns, env->len, idx, buf, sizeof(buf));
	verbose(env, "%u: (%02x) %s\n", idx, env->insns[idx].code, buf);
}

static const char *const type_names[REG_TYPE__COUNT] = {
	[NOT_INIT] = "?", [SCALAR_VALUE] = "scalar", [PTR_TO_CTX] = "ctx",
	[CONST_PTR_TO_MAP] = "map_ptr", [PTR_TO_MAP_VALUE] = "map_value",
	[PTR_TO_MAP_KEY] = "map_key", [PTR_TO_STACK] = "fp",
	[PTR_TO_PACKET_META] = "pkt_meta", [PTR_TO_PACKET] = "pkt",
	[PTR_TO_PACKET_END] = "pkt_end", [PTR_TO_FLOW_KEYS] = "flow_keys",
	[PTR_TO_SOCKET] = "sock", [PTR_TO_SOCK_COMMON] = "sock_common",
	[PTR_TO_TCP_SOCK] = "tcp_sock", [PTR_TO_TP_BUFFER] = "tp_buffer",
	[PTR_TO_XDP_SOCK] = "xdp_sock", [PTR_TO_BTF_ID] = "ptr_",
	[PTR_TO_MEM] = "mem", [PTR_TO_BUF] = "buf", [PTR_TO_FUNC] = "func",
};

/* The kernel's reg_type_str: prefixes for memory flags, "_or_null". */
const char *reg_type_str(const struct bpf_reg *r, char *buf, size_t n)
{
	const char *pre = "";

	if (r->flags & MEM_RDONLY)
		pre = "rdonly_";
	if (r->flags & MEM_RINGBUF)
		pre = "ringbuf_";
	if (r->flags & MEM_ALLOC)
		pre = "alloc_";
	snprintf(buf, n, "%s%s%s", pre, type_names[r->type],
		 !(r->flags & PTR_MAYBE_NULL) ? "" :
		 r->type == PTR_TO_BTF_ID ? "or_null_" : "_or_null");
	return buf;
}

/* Numbers as the kernel's log prints them: 16-bit ones in decimal. */
static void snum(struct verifier_env *env, s64 v)
{
	if (v >= INT16_MIN && v <= INT16_MAX)
		verbose(env, "%lld", (long long)v);
	else
		verbose(env, "%#llx", (unsigned long long)v);
}

static void unum(struct verifier_env *env, u64 v)
{
	if (v <= UINT16_MAX)
		verbose(env, "%llu", (unsigned long long)v);
	else
		verbose(env, "%#llx", (unsigned long long)v);
}

/* The kernel's print_scalar_ranges: bounds that are not the type's
 * extremes, equal ones of the same sign merged ("smax=umax=0xffffffff"). */
static void scalar_ranges(struct verifier_env *env, const struct bpf_reg *r,
			  const char **sep)
{
	struct { const char *name; u64 val; bool omit; } m[8] = {
		{ "smin", (u64)r->smin, r->smin == INT64_MIN },
		{ "smax", (u64)r->smax, r->smax == INT64_MAX },
		{ "umin", r->umin, r->umin == 0 },
		{ "umax", r->umax, r->umax == UINT64_MAX },
		{ "smin32", (u64)(s64)r->s32_min, r->s32_min == INT32_MIN },
		{ "smax32", (u64)(s64)r->s32_max, r->s32_max == INT32_MAX },
		{ "umin32", r->u32_min, r->u32_min == 0 },
		{ "umax32", r->u32_max, r->u32_max == UINT32_MAX },
	};

	for (int i = 0; i < 8; i++) {
		if (m[i].omit)
			continue;
		bool neg1 = m[i].name[0] == 's' && (s64)m[i].val < 0;
		verbose(env, "%s%s=", *sep, m[i].name);
		*sep = ",";
		for (int j = i + 2; j < 8; j += 2) {
			bool neg2 = m[j].name[0] == 's' && (s64)m[j].val < 0;
			if (m[j].omit || m[j].val != m[i].val || neg1 != neg2)
				continue;
			m[j].omit = true;
			verbose(env, "%s=", m[j].name);
		}
		if (m[i].name[0] == 's')
			snum(env, (s64)m[i].val);
		else
			unum(env, m[i].val);
	}
}

/* One register as the kernel's print_reg_state writes it. */
static void print_reg(struct verifier_env *env, const struct func_state *f,
		      const struct bpf_reg *r)
{
	const char *sep = "";
	char t[48];

	if (r->type == SCALAR_VALUE && r->precise)
		verbose(env, "P");
	if (r->type == SCALAR_VALUE && tnum_is_const(r->var_off)) {
		snum(env, (s64)r->var_off.value);
		return;
	}
	verbose(env, "%s", reg_type_str(r, t, sizeof(t)));
	if (r->type == PTR_TO_STACK) {
		if (f->frameno != r->frameno)
			verbose(env, "[%d]", r->frameno);
		if (tnum_is_const(r->var_off)) {
			snum(env, (s64)r->var_off.value + r->off);
			return;
		}
	}
	verbose(env, "(");
	if (r->id) {
		verbose(env, "%sid=%u", sep, r->id & ~ID_ADD_CONST);
		if (r->id & ID_ADD_CONST)
			verbose(env, "%+d", r->off);
		sep = ",";
	}
	if (r->ref_obj_id) {
		verbose(env, "%sref_obj_id=%u", sep, r->ref_obj_id);
		sep = ",";
	}
	if ((r->type == CONST_PTR_TO_MAP || r->type == PTR_TO_MAP_KEY ||
	     r->type == PTR_TO_MAP_VALUE) && r->map) {
		if (r->map->name[0]) {
			verbose(env, "%smap=%s", sep, r->map->name);
			sep = ",";
		}
		verbose(env, "%sks=%u,vs=%u", sep, r->map->key_size, r->map->value_size);
		sep = ",";
	}
	if (r->type != SCALAR_VALUE && r->off) {
		verbose(env, "%soff=", sep);
		snum(env, r->off);
		sep = ",";
	}
	if (reg_is_pkt(r)) {
		verbose(env, "%sr=", sep);
		unum(env, (u64)(s64)r->range);
		sep = ",";
	}
	if (r->type == PTR_TO_MEM) {
		verbose(env, "%ssz=", sep);
		unum(env, r->mem_size);
		sep = ",";
	}
	if (tnum_is_const(r->var_off)) {
		if (r->var_off.value) {
			verbose(env, "%simm=", sep);
			snum(env, (s64)r->var_off.value);
		}
	} else {
		scalar_ranges(env, r, &sep);
		if (!tnum_is_unknown(r->var_off)) {
			char tn[64];
			tnum_strn(tn, sizeof(tn), r->var_off);
			verbose(env, "%svar_off=%s", sep, tn);
		}
	}
	verbose(env, ")");
}

/* The kernel's print_verifier_state for frame f: registers, then stack
 * slots (all of them, or only those this insn touched). */
void print_state(struct verifier_env *env, const struct func_state *f,
		 bool all)
{
	static const char slot_char[4] = { '?', 'r', 'm', '0' };

	if (f->frameno)
		verbose(env, " frame%u:", f->frameno);
	for (int i = 0; i < 11; i++) {
		const struct bpf_reg *r = &f->regs[i];
		if (r->type == NOT_INIT || (!all && !(env->scratched_regs >> i & 1)))
			continue;
		verbose(env, " R%d=", i);
		print_reg(env, f, r);
	}
	for (int i = 0; i < f->allocated_stack / 8; i++) {
		const struct stack_slot *s = &f->stack[i];
		char types[9];
		bool valid = false;
		if (!all && !(env->scratched_slots >> i & 1))
			continue;
		/* the kernel's slot_type[j] is our type[j]: byte -(8*i+1+j) */
		for (int j = 0; j < 8; j++) {
			valid |= s->type[j] != STACK_INVALID;
			types[j] = slot_char[s->type[j]];
		}
		types[8] = 0;
		if (!valid)
			continue;
		verbose(env, " fp%d=", (-i - 1) * 8);
		if (s->type[7] == STACK_SPILL) {
			int j = 0;
			while (j < 8 && s->type[j] != STACK_SPILL)
				j++;
			types[j] = 0;
			verbose(env, "%s", types);
			print_reg(env, f, &s->spilled);
		} else {
			verbose(env, "%s", types);
		}
	}
	if (env->cur && env->cur->nrefs) {
		verbose(env, " refs=%u", env->cur->refs[0].id);
		for (u32 i = 1; i < env->cur->nrefs; i++)
			verbose(env, ",%u", env->cur->refs[i].id);
	}
	if (f->in_callback)
		verbose(env, " cb");
	verbose(env, "\n");
	/* as the kernel's: a whole-state print ("from 4 to 7:") leaves the
	 * marks, so the next insn repeats its state on a line of its own */
	if (!all) {
		env->scratched_regs = 0;
		env->scratched_slots = 0;
	}
}

/* After an insn: what it touched, on its line when nothing came between
 * (aligned as the kernel's vlog_alignment), else on a line of its own. */
void print_insn_state(struct verifier_env *env)
{
	if (!env->scratched_regs && !env->scratched_slots)
		return;
	if (env->prev_log_pos && env->prev_log_pos == vlog_pos(&env->log)) {
		u32 pos = env->prev_insn_print_pos;
		u32 w = ((pos + 4 > 40 ? pos + 4 : 40) + 7) / 8 * 8 - pos - 1;
		vlog_reset(&env->log, env->prev_log_pos - 1);
		verbose(env, "%*c;", (int)w, ' ');
	} else {
		verbose(env, "%u:", env->insn_idx);
	}
	print_state(env, cur_func(env), false);
}
