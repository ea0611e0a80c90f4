/* Level-2 log preamble, as Linux 6.18 prints it before the walk.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_VERIFIER_LOG_H
#define BPFVM_VERIFIER_LOG_H

struct verifier_env;

/* "func#N @START" per subprogram (the kernel's check_subprogs). */
void log_subprogs(struct verifier_env *env);

/* "Live regs before insn:" and the table of registers live before each
 * instruction (the kernel's compute_live_registers); needs a checked CFG. */
void log_live_regs(struct verifier_env *env);

#endif
