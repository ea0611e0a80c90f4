/* stub: replaced by the disasm work */
int main(void) { return 77; }
