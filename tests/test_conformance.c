/* stub: replaced by the conformance work */
int main(void) { return 77; }
