/* The control-flow passes that run before simulation: subprogram
 * boundaries (check_subprogs) and the depth-first walk of check_cfg, which
 * finds jumps out of range, unreachable instructions, jumps into the second
 * half of an ld_imm64, and marks the prune points do_check will checkpoint
 * at.  Back-edges are allowed (privileged loader): do_check proves loops end.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include "vinternal.h"

#define CODE_JA 0x00
#define CODE_CALL 0x80
#define CODE_EXIT 0x90
#define PSEUDO_CALL 1
#define PSEUDO_FUNC 4

static bool is_jmp_class(u8 code)
{
	return BPF_CLASS(code) == BPF_JMP || BPF_CLASS(code) == BPF_JMP32;
}

static bool is_ldimm64(const struct bpfvm_insn *in)
{
	return in->code == 0x18;
}

static bool is_pseudo_call(const struct bpfvm_insn *in)
{
	return in->code == (BPF_JMP | CODE_CALL) && in->src_reg == PSEUDO_CALL;
}

static int cmp_u32(const void *a, const void *b)
{
	const struct subprog_info *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int add_subprog(struct verifier_env *env, s64 off)
{
	if (off < 0 || off >= env->len) {
		verbose(env, "call to invalid destination\n");
		return -EINVAL;
	}
	for (u32 i = 0; i < env->subprog_cnt; i++)
		if (env->subprog[i].start == off)
			return 0;
	if (env->subprog_cnt >= MAX_SUBPROGS) {
		verbose(env, "too many subprograms\n");
		return -E2BIG;
	}
	env->subprog[env->subprog_cnt++].start = (u32)off;
	qsort(env->subprog, env->subprog_cnt, sizeof(env->subprog[0]), cmp_u32);
	return 0;
}

int find_subprog(struct verifier_env *env, u32 off)
{
	for (u32 i = 0; i < env->subprog_cnt; i++)
		if (env->subprog[i].start == off)
			return (int)i;
	return -1;
}

static s64 jmp_target(const struct bpfvm_insn *insns, u32 i)
{
	const struct bpfvm_insn *in = &insns[i];
	s64 off = (in->code == (BPF_JMP32 | CODE_JA)) ? in->imm : in->off;
	return (s64)i + off + 1;
}

int check_subprogs(struct verifier_env *env)
{
	const struct bpfvm_insn *insns = env->insns;
	int err;

	env->subprog_cnt = 0;
	if ((err = add_subprog(env, 0)))
		return err;
	for (u32 i = 0; i < env->len; i++) {
		const struct bpfvm_insn *in = &insns[i];
		if (is_pseudo_call(in) ||
		    (is_ldimm64(in) && in->src_reg == PSEUDO_FUNC))
			if ((err = add_subprog(env, (s64)i + in->imm + 1)))
				return err;
	}
	env->subprog[env->subprog_cnt].start = env->len; /* sentinel */

	u32 cur = 0, start = 0, end = env->subprog[1].start;
	for (u32 i = 0; i < env->len; i++) {
		const struct bpfvm_insn *in = &insns[i];
		u8 code = in->code;

		if (code == (BPF_JMP | CODE_CALL) && in->src_reg == 0 &&
		    in->imm == 12)
			env->subprog[cur].has_tail_call = true;
		if (BPF_CLASS(code) == BPF_LD &&
		    ((code & 0xe0) == 0x20 || (code & 0xe0) == 0x40))
			env->subprog[cur].has_ld_abs = true;
		if (!is_jmp_class(code))
			goto next;
		if (BPF_OP_(code) == CODE_CALL || BPF_OP_(code) == CODE_EXIT)
			goto next;
		s64 off = jmp_target(insns, i);
		if (off < start || off >= end) {
			verbose(env, "jump out of range from insn %u to %lld\n",
				i, (long long)off);
			return -EINVAL;
		}
next:
		if (i == end - 1) {
			/* the last insn must leave the subprogram */
			if (code != (BPF_JMP | CODE_EXIT) &&
			    code != (BPF_JMP | CODE_JA) &&
			    code != (BPF_JMP32 | CODE_JA)) {
				verbose(env, "last insn is not an exit or jmp\n");
				return -EINVAL;
			}
			cur++;
			start = end;
			if (cur < env->subprog_cnt)
				end = env->subprog[cur + 1].start;
		}
	}
	return 0;
}

enum { DISCOVERED = 1, EXPLORED = 2 };

static void mark_prune(struct verifier_env *env, s64 w)
{
	if (w >= 0 && w < env->len)
		env->aux[w].prune_point = true;
}

/* The successors of t in the kernel's order; returns how many. */
static int successors(struct verifier_env *env, u32 t, s64 out[2])
{
	const struct bpfvm_insn *in = &env->insns[t];
	u8 code = in->code;

	if (is_ldimm64(in) && in->src_reg == PSEUDO_FUNC) {
		out[0] = t + 2;
		mark_prune(env, t + 2);
		mark_prune(env, t);
		return 1; /* the callee is reached as its own subprogram */
	}
	if (!is_jmp_class(code)) {
		out[0] = t + (is_ldimm64(in) ? 2 : 1);
		return 1;
	}
	switch (BPF_OP_(code)) {
	case CODE_EXIT:
		return 0;
	case CODE_CALL:
		/* after any call; the call itself only for bpf-to-bpf */
		out[0] = t + 1;
		mark_prune(env, t + 1);
		if (in->src_reg == PSEUDO_CALL) {
			mark_prune(env, t);
			out[1] = (s64)t + in->imm + 1;
			return 2;
		}
		return 1;
	case CODE_JA:
		out[0] = jmp_target(env->insns, t);
		mark_prune(env, out[0]);
		return 1;
	default:
		mark_prune(env, t);
		out[0] = t + 1;
		out[1] = jmp_target(env->insns, t);
		mark_prune(env, out[1]);
		return 2;
	}
}

/* Depth-first from entry; returns -EINVAL for a jump out of range. */
static int dfs(struct verifier_env *env, u32 entry, u8 *state, u8 *next,
	       u32 *stack)
{
	u32 sp = 0, n = env->len;

	state[entry] = DISCOVERED;
	stack[sp++] = entry;
	while (sp) {
		u32 t = stack[sp - 1];
		s64 succ[2];
		int cnt = successors(env, t, succ);
		bool pushed = false;

		while (next[t] < cnt) {
			s64 w = succ[next[t]++];
			if (w < 0 || w >= n) {
				verbose(env, "jump out of range from insn %u to %lld\n",
					t, (long long)w);
				return -EINVAL;
			}
			if (!state[w]) {
				state[w] = DISCOVERED;
				stack[sp++] = (u32)w;
				pushed = true;
				break;
			}
			/* DISCOVERED: a back-edge, allowed for root */
		}
		if (!pushed) {
			state[t] = EXPLORED;
			sp--;
		}
	}
	return 0;
}

int check_cfg(struct verifier_env *env)
{
	u32 n = env->len;
	u8 *state = calloc(n, 1);
	u8 *next = calloc(n, 1);
	u32 *stack = malloc(n * sizeof(*stack));
	int err = -ENOMEM;

	if (!state || !next || !stack)
		goto out;
	if ((err = dfs(env, 0, state, next, stack)))
		goto out;
	/* callbacks (ld_imm64 of a func) are entries of their own */
	for (u32 i = 0; i < n; i++) {
		const struct bpfvm_insn *in = &env->insns[i];
		s64 w = (s64)i + in->imm + 1;
		if (is_ldimm64(in) && in->src_reg == PSEUDO_FUNC &&
		    state[i] == EXPLORED && w >= 0 && w < n && !state[w]) {
			if ((err = dfs(env, (u32)w, state, next, stack)))
				goto out;
			i = 0; /* that callback may name another */
		}
	}
	for (u32 i = 0; i < n; i++) {
		if (state[i] != EXPLORED) {
			verbose(env, "unreachable insn %u\n", i);
			err = -EINVAL;
			goto out;
		}
		if (is_ldimm64(&env->insns[i])) {
			if (i + 1 < n && state[i + 1]) {
				verbose(env, "jump into the middle of ldimm64 insn %u\n", i);
				err = -EINVAL;
				goto out;
			}
			i++;
		}
	}
	err = 0;
out:
	free(state);
	free(next);
	free(stack);
	return err;
}

/* Which subprograms may change the packet, directly or through calls. */
void mark_changes_pkt_data(struct verifier_env *env)
{
	bool changed = true;

	for (u32 s = 0; s < env->subprog_cnt; s++)
		for (u32 i = env->subprog[s].start; i < env->subprog[s + 1].start; i++) {
			const struct bpfvm_insn *in = &env->insns[i];
			if (in->code == (BPF_JMP | CODE_CALL) && in->src_reg == 0 &&
			    helper_changes_pkt_data((u32)in->imm))
				env->subprog[s].changes_pkt_data = true;
		}
	while (changed) {
		changed = false;
		for (u32 s = 0; s < env->subprog_cnt; s++) {
			if (env->subprog[s].changes_pkt_data)
				continue;
			for (u32 i = env->subprog[s].start; i < env->subprog[s + 1].start; i++) {
				int c;
				if (!is_pseudo_call(&env->insns[i]))
					continue;
				c = find_subprog(env, i + (u32)env->insns[i].imm + 1);
				if (c >= 0 && env->subprog[c].changes_pkt_data) {
					env->subprog[s].changes_pkt_data = true;
					changed = true;
					break;
				}
			}
		}
	}
}
