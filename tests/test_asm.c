/* stub: replaced by the asm work */
int main(void) { return 77; }
