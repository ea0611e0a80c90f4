# 10! = 3628800 (0x375f00), by a bpf-to-bpf call to a function that keeps
# its running product in its own stack frame.  bpf_conformance dialect.
#   bpfvm run tools/examples/fact.s
#   bpfvm disasm tools/examples/fact.s
	mov %r1, 10
	call local fact
	exit

fact:				# r0 = r1!
	mov %r0, 1
	stxdw [%r10-8], %r0
loop:
	jeq %r1, 0, done
	ldxdw %r0, [%r10-8]
	mul %r0, %r1
	stxdw [%r10-8], %r0
	sub %r1, 1
	ja loop
done:
	ldxdw %r0, [%r10-8]
	exit
