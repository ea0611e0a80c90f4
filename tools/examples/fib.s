# The 20th Fibonacci number: 6765 (0x1a6d).
# Kernel (verifier log) dialect.  Try:
#   bpfvm run tools/examples/fib.s
#   bpfvm run --trace tools/examples/fib.s
#   bpfvm disasm --visual tools/examples/fib.s | dot -Tsvg > fib.svg
	r0 = 0			# fib(i)
	r1 = 1			# fib(i + 1)
	r2 = 20			# steps left
loop:
	r3 = r0
	r3 += r1
	r0 = r1
	r1 = r3
	r2 -= 1
	if r2 != 0 goto loop
	exit
