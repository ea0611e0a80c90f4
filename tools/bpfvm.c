/* stub: replaced by the CLI work */
#include <stdio.h>
int main(void) { fprintf(stderr, "bpfvm: not implemented\n"); return 2; }
