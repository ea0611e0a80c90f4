/* bpfvm: assembler and disassembler.
 *
 * The assembler reads two dialects, line by line, mixed freely:
 *   - the bpf_conformance / uBPF dialect: `mov32 %r0, 1`, `ldxw %r1, [%r1+16]`,
 *     `jne %r0, 15, label`, `lock fetch add [%r10-8], %r1`, `call local f`;
 *   - the kernel / LLVM dialect, as the verifier log and llvm-objdump print
 *     it: `r0 = 1`, `if r1 > 0x5 goto +3`, `*(u32 *)(r10 -4) = r1`.
 * Labels (`name:`) work in both; `#`, `//` and `;` start comments.
 *
 * The disassembler prints the kernel verifier log's syntax (log_level 2),
 * v4 instructions included.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BPFVM_ASM_H
#define BPFVM_ASM_H

#include <stdio.h>
#include "bpfvm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Assemble `text`.  On success *out (malloc'ed, the caller frees) holds *n
 * instructions and 0 is returned.  On error returns -EINVAL (or -ENOMEM)
 * and writes "line N: what is wrong" into err. */
BPFVM_API int bpfvm_asm(const char *text, struct bpfvm_insn **out, size_t *n,
			char *err, size_t errlen);

/* Disassemble instruction i of insns[0..n) into buf in the kernel's syntax,
 * without the index and opcode prefix ("r0 = 1", "call bpf_map_lookup_elem#1").
 * Returns the number of slots it used (2 for ld_imm64), or -EINVAL for an
 * invalid instruction, in which case buf holds a description. */
BPFVM_API int bpfvm_disasm_insn(const struct bpfvm_insn *insns, size_t n,
				size_t i, char *buf, size_t len);

/* Disassemble a whole program, one line per instruction as the verifier
 * log prints it: "0: (b7) r0 = 1".  Returns 0 or -EINVAL (invalid
 * instructions are printed as "(xx) invalid ..." and make the result
 * -EINVAL; every line is still printed). */
BPFVM_API int bpfvm_disasm(const struct bpfvm_insn *insns, size_t n,
			   FILE *out);

/* Write the control-flow graph as a DOT digraph, one node per basic block,
 * as `bpftool prog dump xlated visual` does.  Writes nothing and returns
 * -EINVAL for an invalid instruction, a jump or call target out of range, or
 * a jump into the second half of an ld_imm64.
 *
 * Where the text differs from the kernel's: callx (not in the kernel) prints
 * "callx r2"; kfunc calls print "call kernel-function#N" (the kernel names
 * them from BTF); pseudo ld_imm64 forms print their raw value, as the kernel's
 * log cannot tell them apart either. */
BPFVM_API int bpfvm_disasm_dot(const struct bpfvm_insn *insns, size_t n,
			       FILE *out);

/* Read a program file.  Text (valid UTF-8, no control characters but blanks;
 * a leading BOM is skipped) is assembled; anything else is raw bytecode, a
 * non-zero multiple of 8 bytes of little-endian struct bpf_insn.  Returns 0
 * or -errno (-ENOENT..., -EISDIR, -EINVAL: empty file, bad size, assembly
 * error; -EFBIG: over 64 MiB), with "path: ..." in err. */
BPFVM_API int bpfvm_read_program(const char *path, struct bpfvm_insn **out,
				 size_t *n, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
