/* Decoding and encoding checks, driven by vm/opcodes.def.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include "insn.h"

const struct bpfvm_opinfo bpfvm_opinfo[OP__COUNT] = {
#define OP(id, code, key, keyval, fmt, mnem, ksym) \
	[OP_##id] = { #id, code, key, fmt, keyval, mnem, ksym },
#include "opcodes.def"
#undef OP
};

static const char *const helper_names[BPFVM_HELPER_MAX] = {
#define HELPER(id, name) [id] = #name,
#include "helpers.def"
#undef HELPER
};

const char *bpfvm_helper_name(uint32_t id)
{
	return id < BPFVM_HELPER_MAX ? helper_names[id] : NULL;
}

static int32_t key_field(const struct bpfvm_insn *insn, unsigned key)
{
	switch (key) {
	case K_OFF: return insn->off;
	case K_IMM: return insn->imm;
	case K_SRC: return insn->src_reg;
	default: return 0;
	}
}

/* Rows sharing an opcode byte are told apart by their key; the first row of
 * a byte whose key matches wins.  Linear: decoding happens once, at load. */
static int lookup(const struct bpfvm_insn *insn, int *code_known)
{
	*code_known = 0;
	for (int op = 0; op < OP__COUNT; op++) {
		const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
		if (oi->code != insn->code)
			continue;
		*code_known = 1;
		if (oi->key == K_NONE || key_field(insn, oi->key) == oi->keyval)
			return op;
	}
	return -1;
}

int bpfvm_decode_op(const struct bpfvm_insn *insn)
{
	int known;
	int op = lookup(insn, &known);
	if (op < 0)
		return -1;
	/* a K_NONE row matched by code alone still needs its key-less check:
	 * nothing to do; reserved fields are bpfvm_check_insn's business */
	return op;
}

/* The kernel's name for the part of the ISA an opcode belongs to, as its
 * "... uses reserved fields" messages say it. */
static const char *class_word(const struct bpfvm_insn *insn, unsigned fmt)
{
	switch (fmt) {
	case F_NEG: return "BPF_NEG";
	case F_END: return "BPF_END";
	case F_JA: case F_JA32: return "BPF_JA";
	case F_JMP_K: case F_JMP_X: return "BPF_JMP/JMP32";
	case F_CALL: return "BPF_CALL";
	case F_CALLX: return "BPF_CALL";
	case F_EXIT: return "BPF_EXIT";
	case F_LDABS: case F_LDIND: return "BPF_LD_[ABS|IND]";
	case F_LDX: return "BPF_LDX";
	case F_ST: return "BPF_ST";
	case F_STX: case F_ATOMIC: return "BPF_STX";
	case F_LDDW: return "BPF_LD_IMM";
	default:
		if ((insn->code & 0xf0) == 0xb0)
			return "BPF_MOV";
		return "BPF_ALU";
	}
}

/* Reserved fields per format: a bit per field that must be zero. */
enum { Z_DST = 1, Z_SRC = 2, Z_OFF = 4, Z_IMM = 8 };
static const unsigned char zero_fields[] = {
	[F_ALU_K] = Z_SRC | Z_OFF,
	[F_ALU_X] = Z_IMM | Z_OFF,
	[F_NEG] = Z_SRC | Z_OFF | Z_IMM,
	[F_END] = Z_SRC | Z_OFF,
	[F_JA] = Z_DST | Z_SRC | Z_IMM,
	[F_JA32] = Z_DST | Z_SRC | Z_OFF,
	[F_JMP_K] = Z_SRC,
	[F_JMP_X] = Z_IMM,
	[F_CALL] = Z_DST | Z_OFF,
	[F_CALLX] = Z_SRC | Z_OFF | Z_IMM,
	[F_EXIT] = Z_DST | Z_SRC | Z_OFF | Z_IMM,
	[F_LDDW] = Z_OFF,
	[F_LDABS] = Z_DST | Z_SRC | Z_OFF,
	[F_LDIND] = Z_DST | Z_OFF,
	[F_LDX] = Z_IMM,
	[F_ST] = Z_SRC,
	[F_STX] = Z_IMM,
	[F_ATOMIC] = 0,
};

int bpfvm_check_insn(const struct bpfvm_insn *insns, size_t n, size_t i,
		     char *err, size_t errlen)
{
	const struct bpfvm_insn *insn = &insns[i];
	int known;
	int op = lookup(insn, &known);

	if (op < 0) {
		if (!known) {
			snprintf(err, errlen, "unknown opcode %02x", insn->code);
		} else if (insn->code == 0xc3 || insn->code == 0xdb) {
			snprintf(err, errlen,
				 "BPF_ATOMIC uses invalid atomic opcode %02x",
				 (unsigned)insn->imm);
		} else if (insn->code == 0x18) {
			snprintf(err, errlen, "unrecognized bpf_ld_imm64 insn");
		} else {
			/* the byte is known but its key field is not: sdiv with
			 * off 2, a byte swap of width 8, call src 3 ... */
			int any = -1;
			for (int k = 0; k < OP__COUNT; k++)
				if (bpfvm_opinfo[k].code == insn->code) {
					any = k;
					break;
				}
			snprintf(err, errlen, "%s uses reserved fields",
				 class_word(insn, bpfvm_opinfo[any].fmt));
		}
		return -EINVAL;
	}

	const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
	unsigned z = zero_fields[oi->fmt];
	/* kfunc calls carry a BTF fd index in off */
	if (op == OP_CALL_KFUNC)
		z &= ~Z_OFF;
	/* the key field is checked by the lookup, not as a reserved field */
	if (oi->key == K_OFF)
		z &= ~Z_OFF;
	if (((z & Z_DST) && insn->dst_reg) || ((z & Z_SRC) && insn->src_reg) ||
	    ((z & Z_OFF) && insn->off) || ((z & Z_IMM) && insn->imm)) {
		snprintf(err, errlen, "%s uses reserved fields",
			 class_word(insn, oi->fmt));
		return -EINVAL;
	}
	if (insn->dst_reg > 10 || (!(z & Z_SRC) && insn->src_reg > 10 &&
				   oi->fmt != F_CALL && oi->fmt != F_LDDW)) {
		snprintf(err, errlen, "R%d is invalid",
			 insn->dst_reg > 10 ? insn->dst_reg : insn->src_reg);
		return -EINVAL;
	}
	if (oi->fmt == F_LDDW) {
		const struct bpfvm_insn *next = insn + 1;
		if (i + 1 >= n || next->code || next->dst_reg ||
		    next->src_reg || next->off) {
			snprintf(err, errlen, "invalid bpf_ld_imm64 insn");
			return -EINVAL;
		}
	}
	return op;
}
