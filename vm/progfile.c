/* stub: replaced by the assembler work */
#include <errno.h>
#include <stdio.h>
#include "bpfvm_asm.h"
int bpfvm_read_program(const char *path, struct bpfvm_insn **out, size_t *n, char *err, size_t errlen) { (void)path; (void)out; (void)n; snprintf(err, errlen, "not implemented"); return -ENOSYS; }
