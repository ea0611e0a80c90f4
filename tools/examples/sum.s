# The sum of the bytes of the memory block (r1 = its address, r2 = its
# length), in the bpf_conformance dialect.  Try:
#   bpfvm run --mem tools/examples/hello.txt tools/examples/sum.s
	mov %r0, 0
	jeq %r2, 0, done
loop:
	ldxb %r3, [%r1+0]
	add %r0, %r3
	add %r1, 1
	sub %r2, 1
	jne %r2, 0, loop
done:
	exit
