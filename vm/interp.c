/* stub: replaced by the interpreter work */
#include "insn.h"
int bpfvm_stub_interp(void);
int bpfvm_stub_interp(void) { return 0; }
