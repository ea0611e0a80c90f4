/* stub: replaced by the interpreter work */
#include "insn.h"
int bpfvm_stub_helpers(void);
int bpfvm_stub_helpers(void) { return 0; }
