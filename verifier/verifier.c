/* bpfvm_verify: the kernel's bpf_check, in its order -- the program as a
 * whole (opcodes, ld_imm64 pairs and their maps), subprograms, the
 * control-flow graph, the simulation, the combined stack depth -- then the
 * statistics line and the log handed back.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "vinternal.h"
#include "prog_types.h"

#define LOG_MASK 0xfu /* level 1, 2, stats 4, fixed 8 */

/* The kernel's bpf_opcode_in_insntable: opcodes.def's codes but callx
 * (0x8d), which bpfvm runs and Linux does not know. */
static bool opcode_known(u8 code)
{
	if (code == (BPF_JMP | 0x80 | BPF_SRC_X))
		return false;
	for (int k = 0; k < OP__COUNT; k++)
		if (bpfvm_opinfo[k].code == code)
			return true;
	return false;
}

/* The kernel's resolve_pseudo_ldimm64: checks every insn once, before the
 * control flow is looked at, and binds ld_imm64 map descriptors. */
static int resolve_ldimm64(struct verifier_env *env)
{
	const struct bpfvm_insn *insns = env->insns;

	for (u32 i = 0; i < env->len; i++) {
		const struct bpfvm_insn *in = &insns[i];
		u8 code = in->code;

		if (BPF_CLASS(code) == BPF_LDX &&
		    ((BPF_MODE_(code) != 0x60 && BPF_MODE_(code) != 0x80) || in->imm)) {
			verbose(env, "BPF_LDX uses reserved fields\n");
			return -EINVAL;
		}
		if (code == 0x18) {
			if (i == env->len - 1 || in[1].code || in[1].dst_reg ||
			    in[1].src_reg || in[1].off) {
				verbose(env, "invalid bpf_ld_imm64 insn\n");
				return -EINVAL;
			}
			u8 src = in->src_reg;
			if (src == 0 || src == 4) {
				i++;
				continue;
			}
			if (!(src == 1 || src == 2 || src == 5 || src == 6) ||
			    ((src == 1 || src == 5) && in[1].imm)) {
				verbose(env, "unrecognized bpf_ld_imm64 insn\n");
				return -EINVAL;
			}
			struct bpfvm_map *m = NULL;
			if ((src == 1 || src == 2) && env->opts->map_by_fd)
				m = env->opts->map_by_fd(env->opts->map_cookie, in->imm);
			if (!m) {
				if (src == 1 || src == 2)
					verbose(env, "fd %d is not pointing to valid bpf_map\n", in->imm);
				else
					verbose(env, "fd_idx without fd_array is invalid\n");
				return src == 1 || src == 2 ? -EINVAL : -EPROTO;
			}
			if (src == 2) {
				u32 off = (u32)in[1].imm;
				if (off >= (1u << 29)) {
					verbose(env, "direct value offset of %u is not allowed\n", off);
					return -EINVAL;
				}
				if (m->map_type != BPF_MAP_TYPE_ARRAY) {
					verbose(env, "no direct value access support for this map type\n");
					return -EINVAL;
				}
				/* the array's map_direct_value_addr refuses
				 * more than one entry with ENOTSUPP */
				if (m->max_entries != 1 || off >= m->value_size) {
					verbose(env, "invalid access to map value pointer, value_size=%u off=%u\n",
						m->value_size, off);
					return m->max_entries != 1 ? -524 /* ENOTSUPP */ : -EINVAL;
				}
			}
			env->ldmap[i] = m;
			i++;
			continue;
		}
		if (!opcode_known(code)) {
			verbose(env, "unknown opcode %02x\n", code);
			return -EINVAL;
		}
	}
	return 0;
}

static int round16(u32 d)
{
	return (int)((d + 15) & ~15u);
}

/* The deepest chain of static calls must fit in 512 bytes of stack. */
static int check_max_stack_depth(struct verifier_env *env, u32 sp, int frame,
				 int depth)
{
	depth += round16(env->subprog[sp].stack_depth);
	if (depth > MAX_BPF_STACK) {
		verbose(env, "combined stack size of %d calls is %d. Too large\n",
			frame + 1, depth);
		return -EACCES;
	}
	u32 end = env->subprog[sp + 1].start;
	for (u32 i = env->subprog[sp].start; i < end; i++) {
		const struct bpfvm_insn *in = &env->insns[i];
		bool call = in->code == (BPF_JMP | 0x80) && in->src_reg == 1;
		bool func = in->code == 0x18 && in->src_reg == 4;
		if (!call && !func)
			continue;
		int callee = find_subprog(env, i + (u32)in->imm + 1);
		if (callee < 0)
			continue;
		if (frame + 1 >= BPFVM_MAX_FRAMES) {
			verbose(env, "the call stack of %d frames is too deep !\n", frame + 1);
			return -E2BIG;
		}
		int err = check_max_stack_depth(env, (u32)callee, frame + 1, depth);
		if (err)
			return err;
	}
	return 0;
}

static int bpf_check(struct verifier_env *env)
{
	int err;

	if ((err = check_subprogs(env)))
		return err;
	log_subprogs(env);
	if ((err = resolve_ldimm64(env)))
		return err;
	if ((err = check_cfg(env)))
		return err;
	log_live_regs(env);
	mark_changes_pkt_data(env);
	if ((err = do_check_main(env)))
		return err;
	return check_max_stack_depth(env, 0, 0, 0);
}

int bpfvm_verify(const struct bpfvm_insn *insns, size_t n,
		 const struct bpfvm_verify_opts *opts,
		 struct bpfvm_verify_result *res)
{
	struct verifier_env *env;
	struct timespec t0, t1;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(res, 0, sizeof(*res));
	if (!!opts->log_buf != !!opts->log_size ||
	    (opts->log_buf && !opts->log_level) || (opts->log_level & ~LOG_MASK) ||
	    opts->log_size > (UINT32_MAX >> 2)) {
		res->err = -EINVAL;
		return res->err;
	}
	if (n == 0 || n > BPFVM_MAX_INSNS) {
		res->err = -E2BIG;
		return res->err;
	}
	u32 attach = opts->expected_attach_type;
	if (!bpfvm_prog_type(opts->prog_type) ||
	    bpfvm_prog_check_attach(opts->prog_type, &attach)) {
		res->err = -EINVAL;
		return res->err;
	}
	env = calloc(1, sizeof(*env));
	if (!env) {
		res->err = -ENOMEM;
		return res->err;
	}
	env->insns = insns;
	env->len = (u32)n;
	env->opts = opts;
	env->attach_type = attach;
	env->strict_alignment = (opts->prog_flags & BPF_F_STRICT_ALIGNMENT) &&
				!(opts->prog_flags & BPF_F_ANY_ALIGNMENT);
	vlog_init(&env->log, opts);
	env->aux = calloc(n, sizeof(*env->aux));
	env->ldmap = calloc(n, sizeof(*env->ldmap));
	env->explored = calloc(n, sizeof(*env->explored));
	if (!env->aux || !env->ldmap || !env->explored)
		err = -ENOMEM;
	else
		err = bpf_check(env);

	if (opts->log_level & 4) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		verbose(env, "verification time %lld usec\n",
			(long long)((t1.tv_sec - t0.tv_sec) * 1000000 +
				    (t1.tv_nsec - t0.tv_nsec) / 1000));
		verbose(env, "stack depth ");
		for (u32 i = 0; i < env->subprog_cnt; i++)
			verbose(env, "%u%s", env->subprog[i].stack_depth,
				i + 1 < env->subprog_cnt ? "+" : "");
		verbose(env, "\n");
	}
	verbose(env, "processed %u insns (limit %u) max_states_per_insn %u total_states %u peak_states %u mark_read %u\n",
		env->insn_processed, 1000000u, env->max_states_per_insn,
		env->total_states, env->peak_states, 0u);
	res->insn_processed = env->insn_processed;
	res->max_states_per_insn = env->max_states_per_insn;
	res->total_states = env->total_states;
	res->peak_states = env->peak_states;
	/* the error line: the last line before the statistics */
	memcpy(res->last_msg, env->log.err_line, sizeof(res->last_msg));
	int lerr = vlog_finish(&env->log);
	res->log_true_size = env->log.true_size;
	if (lerr)
		err = lerr;
	for (u32 i = 0; opts->insn_aux && !err && i < n; i++)
		opts->insn_aux[i] = (env->aux[i].ptr_type & 0xff) == PTR_TO_CTX ?
				    BPFVM_AUX_CTX : 0;
	free_explored(env);
	free(env->stk);
	free(env->aux);
	free(env->ldmap);
	free(env);
	res->err = err;
	return err;
}
