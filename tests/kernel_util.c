/* stub */
int bpfvm_kernel_util_stub(void);
int bpfvm_kernel_util_stub(void) { return 0; }
