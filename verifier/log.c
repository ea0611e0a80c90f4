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

/* The whole log text lives in a growing buffer owned by the vlog. */
struct vlog_text { char *p; size_t len, cap; };

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

	log->true_size = (u32)(len + 1);
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

static int print_scalar(char *b, size_t n, const struct bpf_reg *r)
{
	const char *p = r->precise ? "P" : "";
	if (tnum_is_const(r->var_off))
		return snprintf(b, n, "%s%lld", p, (long long)r->var_off.value);
	int k = snprintf(b, n, "%sscalar(", p);
	const char *sep = "";
	if (r->smin != INT64_MIN || r->smax != INT64_MAX) {
		k += snprintf(b + k, n - (size_t)k, "%ssmin=%lld,smax=%lld", sep,
			      (long long)r->smin, (long long)r->smax);
		sep = ",";
	}
	if (r->umin || r->umax != UINT64_MAX) {
		k += snprintf(b + k, n - (size_t)k, "%sumin=%llu,umax=%llu", sep,
			      (unsigned long long)r->umin,
			      (unsigned long long)r->umax);
		sep = ",";
	}
	if (!tnum_is_unknown(r->var_off)) {
		char t[64];
		tnum_strn(t, sizeof(t), r->var_off);
		k += snprintf(b + k, n - (size_t)k, "%svar_off=%s", sep, t);
	}
	return k + snprintf(b + k, n - (size_t)k, ")");
}

void print_state(struct verifier_env *env, const struct func_state *f,
		 bool only_written)
{
	char b[256], t[48];
	(void)only_written;

	for (int i = 0; i < 11; i++) {
		const struct bpf_reg *r = &f->regs[i];
		if (r->type == NOT_INIT)
			continue;
		if (r->type == SCALAR_VALUE)
			print_scalar(b, sizeof(b), r);
		else if (r->type == PTR_TO_STACK)
			snprintf(b, sizeof(b), "fp%d", r->off);
		else
			snprintf(b, sizeof(b), "%s()", reg_type_str(r, t, sizeof(t)));
		verbose(env, " R%d=%s", i, b);
	}
	verbose(env, "\n");
}
