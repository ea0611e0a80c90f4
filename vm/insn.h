/* Instruction decoding: the tables generated from vm/opcodes.def.
 * Private to libbpfvm (the interpreter, assembler, disassembler, and later
 * the verifier and the JIT all read instructions through this header).
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_INSN_H
#define BPFVM_INSN_H

#include <stddef.h>
#include <stdint.h>
#include "bpfvm.h"

/* Instruction classes and fields (RFC 9669 section 3). */
#define BPF_CLASS(code) ((code) & 0x07)
#define BPF_LD 0x00
#define BPF_LDX 0x01
#define BPF_ST 0x02
#define BPF_STX 0x03
#define BPF_ALU 0x04
#define BPF_JMP 0x05
#define BPF_JMP32 0x06
#define BPF_ALU64 0x07
#define BPF_SIZE(code) ((code) & 0x18)
#define BPF_W 0x00
#define BPF_H 0x08
#define BPF_B 0x10
#define BPF_DW 0x18

/* Which field, besides the opcode byte, selects the form. */
enum bpfvm_key { K_NONE, K_OFF, K_IMM, K_SRC };

/* Operand formats.  The format fixes which fields are operands; every other
 * field is reserved and must be zero ("uses reserved fields"). */
enum bpfvm_fmt {
	F_ALU_K,  /* dst, imm            */
	F_ALU_X,  /* dst, src            */
	F_NEG,    /* dst                 */
	F_END,    /* dst (imm = width)   */
	F_JA,     /* off                 */
	F_JA32,   /* imm (gotol)         */
	F_JMP_K,  /* dst, imm, off       */
	F_JMP_X,  /* dst, src, off       */
	F_CALL,   /* imm (src = kind)    */
	F_CALLX,  /* dst                 */
	F_EXIT,   /* nothing             */
	F_LDDW,   /* dst, imm + next imm */
	F_LDABS,  /* imm                 */
	F_LDIND,  /* src, imm            */
	F_LDX,    /* dst, src, off       */
	F_ST,     /* dst, off, imm       */
	F_STX,    /* dst, src, off       */
	F_ATOMIC, /* dst, src, off (imm = operation) */
};

enum bpfvm_op {
#define OP(id, code, key, keyval, fmt, mnem, ksym) OP_##id,
#include "opcodes.def"
#undef OP
	OP__COUNT
};

struct bpfvm_opinfo {
	const char *name;  /* "ADD64_K" */
	uint8_t code;
	uint8_t key;       /* enum bpfvm_key */
	uint8_t fmt;       /* enum bpfvm_fmt */
	int32_t keyval;
	const char *mnem;  /* bpf_conformance mnemonic */
	const char *ksym;  /* kernel-syntax symbol */
};

extern const struct bpfvm_opinfo bpfvm_opinfo[OP__COUNT];

/* Helper names, from vm/helpers.def: bpfvm_helper_name() in the public API. */
#define BPFVM_HELPER_MAX 212

/* The op of insns[i], or -1 if no row of opcodes.def matches its opcode
 * byte and key field. */
int bpfvm_decode_op(const struct bpfvm_insn *insn);

/* Check instruction i of insns[0..n) in isolation from control flow:
 * known opcode, reserved fields zero, registers in range, ld_imm64 pair
 * complete.  Returns the op (>= 0), or -EINVAL with a message in err in the
 * kernel's words where the kernel has them ("unknown opcode 8d",
 * "BPF_ALU uses reserved fields", "invalid bpf_ld_imm64 insn"). */
int bpfvm_check_insn(const struct bpfvm_insn *insns, size_t n, size_t i,
		     char *err, size_t errlen);

/* The sign-extended immediate as the instruction uses it. */
static inline uint64_t bpfvm_imm64(const struct bpfvm_insn *insn)
{
	return (uint64_t)(int64_t)insn->imm;
}

/* The 64-bit value of an ld_imm64 pair starting at insn. */
static inline uint64_t bpfvm_lddw_value(const struct bpfvm_insn *insn)
{
	return (uint64_t)(uint32_t)insn[0].imm |
	       ((uint64_t)(uint32_t)insn[1].imm << 32);
}

static inline int bpfvm_is_alu32(uint8_t code)
{
	return BPF_CLASS(code) == BPF_ALU;
}

static inline int bpfvm_is_jmp32(uint8_t code)
{
	return BPF_CLASS(code) == BPF_JMP32;
}

/* Access size in bytes of a LD/LDX/ST/STX/atomic opcode. */
static inline unsigned bpfvm_access_size(uint8_t code)
{
	static const unsigned char sz[4] = { 4, 2, 1, 8 };
	return sz[BPF_SIZE(code) >> 3];
}

/* ---- the decoded program ----------------------------------------------- */

/* What the interpreter (and later the JIT) executes: one slot per original
 * instruction, so indices, jump offsets and error messages stay the same.
 * The second slot of an ld_imm64 is never executed. */
struct bpfvm_dinsn {
	uint8_t op;     /* enum bpfvm_op */
	uint8_t dst;
	uint8_t src;
	uint8_t pad;
	int32_t off;    /* memory offset; jumps and local calls: target index */
	uint64_t imm;   /* sign-extended imm; ld_imm64: the (resolved) value;
			   gotol: unused (target in off) */
};

#endif
