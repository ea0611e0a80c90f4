/* stub: replaced by the disassembler work */
#include <errno.h>
#include <stdio.h>
#include "bpfvm_asm.h"
int bpfvm_disasm_insn(const struct bpfvm_insn *insns, size_t n, size_t i, char *buf, size_t len) { (void)insns; (void)n; (void)i; snprintf(buf, len, "?"); return -ENOSYS; }
int bpfvm_disasm(const struct bpfvm_insn *insns, size_t n, FILE *out) { (void)insns; (void)n; (void)out; return -ENOSYS; }
int bpfvm_disasm_dot(const struct bpfvm_insn *insns, size_t n, FILE *out) { (void)insns; (void)n; (void)out; return -ENOSYS; }
