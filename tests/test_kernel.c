/* stub: replaced by the kernel work */
int main(void) { return 77; }
