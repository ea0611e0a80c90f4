/* stub: replaced by the CLI work */
#include "conformance.h"
int bpfvm_conformance_stub(void);
int bpfvm_conformance_stub(void) { return 0; }
