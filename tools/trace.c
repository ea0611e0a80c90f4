/* `bpfvm run --trace`: each executed instruction as the verifier log
 * prints it, followed by the registers it changed.
 * SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "bpfvm_asm.h"
#include "cli.h"

#define TEXT_WIDTH 16 /* the change list starts in one column */
#define LD_IMM64 0x18   /* BPF_LD | BPF_DW | BPF_IMM: two slots */

void cli_trace(void *cookie, size_t pc, const struct bpfvm_insn *insn,
	       const uint64_t before[11], const uint64_t after[11])
{
	const struct cli_trace *t = cookie;
	const char *sep = " ; ";
	char text[128];
	size_t len;

	/* After a tail call, insn is in another program: disassemble it
	 * alone (a loaded ld_imm64 always has its second slot). */
	if (pc < t->n && &t->insns[pc] == insn)
		bpfvm_disasm_insn(t->insns, t->n, pc, text, sizeof(text));
	else
		bpfvm_disasm_insn(insn, insn->code == LD_IMM64 ? 2 : 1, 0, text,
				  sizeof(text));
	fprintf(t->out, "%4zu: (%02x) %s", pc, insn->code, text);
	len = strlen(text);
	for (int r = 0; r < 11; r++) {
		if (before[r] == after[r])
			continue;
		if (sep[1] == ';' && len < TEXT_WIDTH)
			fprintf(t->out, "%*s", (int)(TEXT_WIDTH - len), "");
		fprintf(t->out, "%sr%d: 0x%" PRIx64 " -> 0x%" PRIx64, sep, r,
			before[r], after[r]);
		sep = ", ";
	}
	fputc('\n', t->out);
}
