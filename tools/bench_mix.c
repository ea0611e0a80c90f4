/* Dynamic instruction mix through the trace hook (see bench_mix.h).
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include "bench_mix.h"
#include "vm_internal.h"

struct mix {
	uint64_t total, taken; /* executed; control left the fall-through */
	size_t last_pc;
	int last_op;           /* -1 before the first instruction */
	uint64_t op[OP__COUNT];
	uint64_t *pair;        /* [OP__COUNT * OP__COUNT] */
};

static void on_insn(void *cookie, size_t pc, const struct bpfvm_insn *insn,
		    const uint64_t before[11], const uint64_t after[11])
{
	struct mix *m = cookie;
	int op = bpfvm_decode_op(insn);
	(void)before;
	(void)after;
	if (op < 0)
		return;
	m->total++;
	m->op[op]++;
	if (m->last_op >= 0) {
		m->pair[(size_t)m->last_op * OP__COUNT + (size_t)op]++;
		/* lddw is two slots; anything else falls through to pc+1 */
		size_t next = m->last_pc +
			      (bpfvm_opinfo[m->last_op].fmt == F_LDDW ? 2 : 1);
		m->taken += pc != next;
	}
	m->last_op = op;
	m->last_pc = pc;
}

/* Index of the largest of counts[0..n) not yet printed (zeroed as taken). */
static size_t take_max(uint64_t *counts, size_t n, uint64_t *val)
{
	size_t best = 0;
	for (size_t i = 1; i < n; i++)
		if (counts[i] > counts[best])
			best = i;
	*val = counts[best];
	counts[best] = 0;
	return best;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

int bench_mix_print(struct bpfvm *vm, void *ctx, size_t ctx_len, int top,
		    FILE *out)
{
	struct mix *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	m->pair = calloc((size_t)OP__COUNT * OP__COUNT, sizeof *m->pair);
	if (!m->pair) {
		free(m);
		return -ENOMEM;
	}
	m->last_op = -1;
	struct bpfvm_result res;
	bpfvm_set_trace(vm, on_insn, m);
	int rc = bpfvm_run(vm, ctx, ctx_len, &res);
	bpfvm_set_trace(vm, NULL, NULL);
	if (!rc && res.error)
		rc = res.error;
	if (!rc) {
		fprintf(out, "  %" PRIu64 " insns executed, %.1f%% of them "
			"jumped (taken branches, calls, exits)\n", m->total,
			pct(m->taken, m->total));
		fprintf(out, "  top ops:  ");
		for (int i = 0; i < top; i++) {
			uint64_t v;
			size_t op = take_max(m->op, OP__COUNT, &v);
			if (!v)
				break;
			fprintf(out, "%s %s %.1f%%", i ? "," : "",
				bpfvm_opinfo[op].name, pct(v, m->total));
		}
		fprintf(out, "\n  top pairs:");
		for (int i = 0; i < top; i++) {
			uint64_t v;
			size_t p = take_max(m->pair,
					    (size_t)OP__COUNT * OP__COUNT, &v);
			if (!v)
				break;
			fprintf(out, "%s %s+%s %.1f%%", i ? "," : "",
				bpfvm_opinfo[p / OP__COUNT].name,
				bpfvm_opinfo[p % OP__COUNT].name,
				pct(v, m->total));
		}
		fprintf(out, "\n");
	}
	free(m->pair);
	free(m);
	return rc;
}
