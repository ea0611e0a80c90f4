/* stub: replaced by the kernel cross-check work */
#include <errno.h>
#include <stdio.h>
#include "kernel_util.h"
bool bpfk_available(char *why, size_t len) { snprintf(why, len, "not implemented"); return false; }
int bpfk_prog_load(int type, const struct bpfvm_insn *insns, size_t n, int log_level, char *log, size_t loglen) { (void)type; (void)insns; (void)n; (void)log_level; (void)log; (void)loglen; return -ENOSYS; }
int bpfk_run_r0(const struct bpfvm_insn *insns, size_t n, const void *mem, size_t mem_len, uint64_t *r0, char *log, size_t loglen) { (void)insns; (void)n; (void)mem; (void)mem_len; (void)r0; (void)log; (void)loglen; return -ENOSYS; }
