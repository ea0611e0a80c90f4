/* stub: replaced by the CLI work */
#ifndef BPFVM_CONFORMANCE_H
#define BPFVM_CONFORMANCE_H
#endif
