/* The level-2 "Live regs before insn:" table: which of r0-r9 may still be
 * read before being written, per instruction, by the usual backward
 * dataflow (in = use | (out & ~def), out = union of the successors' in)
 * iterated to a fixed point.  use/def per opcode as Linux 6.18 counts them:
 * what it does not model (ld_abs/ind, unknown calls) is "uses everything".
 * The first column numbers the loops (strongly connected components), in
 * the order the kernel's compute_scc finds them.
 * SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include "bpfvm_asm.h"
#include "helper_protos.h"
#include "log.h"
#include "vinternal.h"

#define R(n) ((u16)(1u << (n)))
#define CALLER_SAVED 0x3fu /* r0-r5 */

void log_subprogs(struct verifier_env *env)
{
	if (!(env->log.level & 2))
		return;
	for (u32 i = 0; i < env->subprog_cnt; i++)
		verbose(env, "func#%u @%u\n", i, env->subprog[i].start);
}

static void use_def(const struct bpfvm_insn *in, u16 *use, u16 *def)
{
	u8 cls = in->code & 7, op = in->code & 0xf0, mode = in->code & 0xe0;
	u16 src = R(in->src_reg), dst = R(in->dst_reg);
	bool k = !(in->code & 0x08);

	*use = 0xffff;
	*def = 0;
	switch (cls) {
	case 0: /* LD: imm64 only; abs/ind keep the defaults */
		if (in->code == 0x18) {
			*def = dst;
			*use = 0;
		}
		break;
	case 1: /* LDX mem / memsx */
		if (mode == 0x60 || mode == 0x80) {
			*def = dst;
			*use = src;
		}
		break;
	case 2: /* ST */
		if (mode == 0x60)
			*use = dst;
		break;
	case 3: /* STX */
		if (mode == 0x60) {
			*use = dst | src;
		} else if (mode == 0xc0) {
			*use = dst | src;
			if (in->imm == 0xf1) { /* cmpxchg */
				*use |= R(0);
				*def = R(0);
			} else if (in->imm == 0x100) { /* load-acquire */
				*use = src;
				*def = dst;
			} else if (in->imm != 0x110 && (in->imm & 1)) {
				*def = src; /* fetch */
			}
		}
		break;
	case 4: case 7: /* ALU, ALU64 */
		*def = dst;
		*use = op == 0xd0 ? dst : op == 0xb0 ? (k ? 0 : src)
					 : (k ? dst : dst | src);
		break;
	case 5: case 6: /* JMP, JMP32 */
		if (op == 0x00) {
			*use = k ? 0 : dst;
		} else if (op == 0xe0) {
			*use = 0;
		} else if (op == 0x90) {
			*use = R(0);
		} else if (op == 0x80) {
			const struct bpfvm_helper_proto *p = NULL;
			*def = CALLER_SAVED;
			*use = CALLER_SAVED & ~R(0);
			if (in->src_reg == 0 && (p = bpfvm_helper_proto_any((u32)in->imm))) {
				*use = 0;
				for (int a = 0; a < 5 && p->args[a]; a++)
					*use |= R(a + 1);
			}
		} else {
			*use = k ? dst : dst | src;
		}
		break;
	}
}

/* Up to two successors of insn i; returns how many. */
static int successors(const struct bpfvm_insn *in, u32 i, u32 n, u32 s[2])
{
	u8 cls = in->code & 7, op = in->code & 0xf0;
	int c = 0;

	if (cls == 0 && in->code == 0x18) {
		s[c++] = i + 2;
	} else if (cls == 5 || cls == 6) {
		if (op == 0x90)
			return 0;
		if (op == 0x00) {
			s[c++] = i + 1 + (u32)(cls == 6 ? in->imm : in->off);
		} else if (op == 0x80) {
			s[c++] = i + 1;
		} else {
			s[c++] = i + 1;
			s[c++] = i + 1 + (u32)(int32_t)in->off;
		}
	} else {
		s[c++] = i + 1;
	}
	for (int j = 0; j < c; j++)
		if (s[j] >= n)
			s[j--] = s[--c]; /* off the end: check_cfg rejected it */
	return c;
}

/* Tarjan's SCC search without recursion (Pearce's variant: low[w] takes
 * low[s] of any visited successor, off-stack ones being U32_MAX).  Only
 * components of two or more insns, or one jumping to itself, get a number,
 * 1, 2, ... in the order they complete; scc[] is 0 elsewhere. */
static void find_loops(const struct bpfvm_insn *insns, u32 n, u32 *scc)
{
	u32 *pre = calloc(n, sizeof(u32)), *low = calloc(n, sizeof(u32));
	u32 *stk = calloc(n, sizeof(u32)), *dfs = calloc(n, sizeof(u32));
	u32 next_pre = 1, next_scc = 1;

	if (!pre || !low || !stk || !dfs)
		goto out;
	for (u32 i = 0; i < n; i++) {
		if (pre[i])
			continue;
		u32 nstk = 0, ndfs = 1;
		dfs[0] = i;
		while (ndfs) {
			u32 w = dfs[ndfs - 1], s[2];
			int c = successors(&insns[w], w, n, s), j;
			if (!pre[w]) {
				pre[w] = low[w] = next_pre++;
				stk[nstk++] = w;
			}
			for (j = 0; j < c; j++) {
				if (!pre[s[j]])
					break;
				if (low[s[j]] < low[w])
					low[w] = low[s[j]];
			}
			if (j < c) { /* descend; w is seen again afterwards */
				dfs[ndfs++] = s[j];
				continue;
			}
			ndfs--;
			if (low[w] < pre[w])
				continue; /* part of a component rooted lower */
			bool loop = stk[nstk - 1] != w;
			for (j = 0; j < c; j++)
				loop |= s[j] == w;
			u32 t;
			do {
				t = stk[--nstk];
				low[t] = UINT32_MAX;
				if (loop)
					scc[t] = next_scc;
			} while (t != w);
			next_scc += loop;
		}
	}
out:
	free(pre);
	free(low);
	free(stk);
	free(dfs);
}

void log_live_regs(struct verifier_env *env)
{
	const struct bpfvm_insn *insns = env->insns;
	u32 n = env->len;

	if (!(env->log.level & 2) || !n)
		return;
	u16 *use = calloc(n, sizeof(*use)), *def = calloc(n, sizeof(*def));
	u16 *live = calloc(n, sizeof(*live));
	u32 *scc = calloc(n, sizeof(*scc));
	if (!use || !def || !live || !scc)
		goto out;
	find_loops(insns, n, scc);
	for (u32 i = 0; i < n; i++)
		use_def(&insns[i], &use[i], &def[i]);
	for (bool changed = true; changed;) {
		changed = false;
		for (u32 i = n; i-- > 0;) {
			u32 s[2];
			u16 out = 0;
			int c = successors(&insns[i], i, n, s);
			for (int j = 0; j < c; j++)
				out |= live[s[j]];
			u16 in = (u16)((out & ~def[i]) | use[i]);
			if (in != live[i]) {
				live[i] = in;
				changed = true;
			}
		}
	}
	verbose(env, "Live regs before insn:\n");
	for (u32 i = 0; i < n; i++) {
		char regs[11], text[160];
		for (int r = 0; r < 10; r++)
			regs[r] = live[i] & R(r) ? (char)('0' + r) : '.';
		regs[10] = 0;
		bpfvm_disasm_insn(insns, n, i, text, sizeof(text));
		if (scc[i])
			verbose(env, "%3u ", scc[i]);
		else
			verbose(env, "    ");
		verbose(env, "%3u: %s (%02x) %s\n", i, regs, insns[i].code, text);
		if (insns[i].code == 0x18)
			i++;
	}
out:
	free(use);
	free(def);
	free(live);
	free(scc);
}
