/* stub: replaced by the cli work */
int main(void) { return 77; }
