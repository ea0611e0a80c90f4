/* stub: replaced by the interpreter work */
#include <errno.h>
#include <stdlib.h>
#include "insn.h"
struct bpfvm { int dummy; };
struct bpfvm *bpfvm_create(void) { return calloc(1, sizeof(struct bpfvm)); }
void bpfvm_destroy(struct bpfvm *vm) { free(vm); }
const char *bpfvm_error(const struct bpfvm *vm) { (void)vm; return "not implemented"; }
int bpfvm_load(struct bpfvm *vm, const struct bpfvm_insn *insns, size_t n) { (void)vm; (void)insns; (void)n; return -ENOSYS; }
int bpfvm_run_mem(const struct bpfvm *vm, void *mem, size_t mem_len, struct bpfvm_result *res) { (void)vm; (void)mem; (void)mem_len; (void)res; return -ENOSYS; }
