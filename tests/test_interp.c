/* stub: replaced by the interp work */
int main(void) { return 77; }
