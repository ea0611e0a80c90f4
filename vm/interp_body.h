/* The interpreter loop.  Not a header: vm/interp.c includes it four times,
 * with
 *   NAME     the function's name
 *   IS_GOTO  1: computed goto, one jump table generated from opcodes.def
 *            and an indirect jump at the end of every handler;
 *            0: the same handlers as the cases of a switch
 *   IS_SLOW  1: before each instruction count it against the budget and
 *            trace it; check every access in checked mode.  0: nothing
 *            (the fast path of verified programs).
 *
 * Registers live in a local array; the decoded program (struct bpfvm_dinsn,
 * vm/insn.h) carries sign-extended immediates and absolute jump targets, so
 * a handler is one line of C.  Widths follow RFC 9669: ALU32 operates on the
 * low halves and zero-extends, JMP32 compares the low halves.  The fast
 * builds run vm->fast, the program with superinstructions (interp.c); the
 * slow builds run vm->prog, one instruction per dispatch.
 *
 * Every exit from the loop goes through `done` (EXIT of the entry frame:
 * return r0) or `out` (run->res->error is set: the value is ignored).
 * SPDX-License-Identifier: MIT */

static uint64_t NAME(struct bpfvm_run *run, size_t start,
		     const uint64_t args[5], uint64_t fp)
{
#if IS_SLOW
#define PROG(vm) ((vm)->prog)
#else
#define PROG(vm) ((vm)->fast)
#endif
	const struct bpfvm *vm = run->vm;
	const struct bpfvm_dinsn *base = PROG(vm);
	const struct bpfvm_dinsn *insn = base + start;
	uint64_t reg[11] = { 0, args[0], args[1], args[2], args[3], args[4],
			     0, 0, 0, 0, fp };

#define DST reg[insn->dst]
#define SRC reg[insn->src]
#define IMM insn->imm                          /* sign-extended to 64 */
#define OFF ((uint64_t)(int64_t)insn->off)     /* memory offset */
#define PC ((int64_t)(insn - base))
#define U32(x) ((uint64_t)(uint32_t)(x))
#define S32(x) ((int32_t)(uint32_t)(x))
#define S64(x) ((int64_t)(x))

#if IS_SLOW
#define STEP()                                                          \
	do {                                                            \
		if (!slow_step(run, (size_t)PC, reg))                   \
			goto out;                                       \
	} while (0)
#define CHECK(a, len, w)                                                \
	do {                                                            \
		if (run->checked && !access_ok(run, a, len, w)) {       \
			fault(run, PC, a, len, w);                      \
			goto out;                                       \
		}                                                       \
	} while (0)
#else
#define STEP() do { } while (0)
#define CHECK(a, len, w) do { } while (0)
#endif

/* a helper by id from the running VM's table; a helper may stop the run */
#define HELPER(id)                                                            \
	do {                                                                  \
		const struct bpfvm_helper *h_ = bpfvm_helper_get(vm, id);     \
		if (!h_) {                                                    \
			unknown_helper(run, PC, id);                          \
			goto out;                                             \
		}                                                             \
		run->call.cookie = h_->cookie;                                \
		run->call_pc = PC;                                            \
		reg[0] = h_->fn(reg[1], reg[2], reg[3], reg[4], reg[5],       \
				&run->call);                                  \
		if (run->res->error)                                          \
			goto out;                                             \
	} while (0)

#if IS_GOTO
	static const void *const labels[OP_FZ__END] = {
#define OP(id, ...) [OP_##id] = &&op_##id,
#include "opcodes.def"
#undef OP
#define X(a, b) [OP_FZ_##a##__##b] = &&op_FZ_##a##__##b,
		FUSED_PAIRS(X)
#undef X
	};
#define OPCASE(id) op_##id
#define DISPATCH()                                                      \
	do {                                                            \
		STEP();                                                 \
		goto *labels[insn->op];                                 \
	} while (0)
#else
#define OPCASE(id) case OP_##id
#define DISPATCH() goto dispatch
#endif
#define NEXT() do { insn++; DISPATCH(); } while (0)
#define JUMP() do { insn = base + insn->off; DISPATCH(); } while (0)

	DISPATCH();
#if !IS_GOTO
dispatch:
	STEP();
	switch (insn->op) {
#endif

	/* ---- ALU: 64-bit forms wrap modulo 2^64; 32-bit forms compute on
	 * the low halves and zero-extend (mov32 and neg32 too). ----------- */
#define ALU(ID, op)                                                           \
	OPCASE(ID##64_K): DST = DST op IMM; NEXT();                           \
	OPCASE(ID##64_X): DST = DST op SRC; NEXT();                           \
	OPCASE(ID##32_K): DST = U32((uint32_t)DST op (uint32_t)IMM); NEXT();  \
	OPCASE(ID##32_X): DST = U32((uint32_t)DST op (uint32_t)SRC); NEXT();
	ALU(ADD, +)
	ALU(SUB, -)
	ALU(MUL, *)
	ALU(OR, |)
	ALU(AND, &)
	ALU(XOR, ^)
#undef ALU

	/* Shift counts are masked to the width, K and X alike (the kernel's
	 * verifier rejects out-of-range K; uBPF and hardware mask). */
#define SHIFT(ID, op)                                                         \
	OPCASE(ID##64_K): DST = DST op (IMM & 63); NEXT();                    \
	OPCASE(ID##64_X): DST = DST op (SRC & 63); NEXT();                    \
	OPCASE(ID##32_K): DST = U32((uint32_t)DST op (IMM & 31)); NEXT();     \
	OPCASE(ID##32_X): DST = U32((uint32_t)DST op (SRC & 31)); NEXT();
	SHIFT(LSH, <<)
	SHIFT(RSH, >>)
#undef SHIFT
	/* arsh: arithmetic (gcc defines >> of a negative value as such) */
	OPCASE(ARSH64_K): DST = (uint64_t)(S64(DST) >> (IMM & 63)); NEXT();
	OPCASE(ARSH64_X): DST = (uint64_t)(S64(DST) >> (SRC & 63)); NEXT();
	OPCASE(ARSH32_K): DST = U32(S32(DST) >> (IMM & 31)); NEXT();
	OPCASE(ARSH32_X): DST = U32(S32(DST) >> (SRC & 31)); NEXT();

	/* Division never traps: x/0 = 0, x%0 = x; sdiv INT_MIN/-1 = INT_MIN,
	 * smod INT_MIN%-1 = 0; smod's sign follows the dividend (C).  The
	 * 32-bit forms use the low 32 bits of dividend and divisor. */
#define DIV(ID, fn64, fn32)                                                   \
	OPCASE(ID##64_K): DST = fn64(DST, IMM); NEXT();                       \
	OPCASE(ID##64_X): DST = fn64(DST, SRC); NEXT();                       \
	OPCASE(ID##32_K): DST = fn32(DST, IMM); NEXT();                       \
	OPCASE(ID##32_X): DST = fn32(DST, SRC); NEXT();
	DIV(DIV, div64, div32)
	DIV(MOD, mod64, mod32)
	DIV(SDIV, sdiv64, sdiv32)
	DIV(SMOD, smod64, smod32)
#undef DIV

	OPCASE(NEG64): DST = -DST; NEXT();
	OPCASE(NEG32): DST = U32(-(uint32_t)DST); NEXT();
	OPCASE(MOV64_K): DST = IMM; NEXT();
	OPCASE(MOV64_X): DST = SRC; NEXT();
	OPCASE(MOV32_K): DST = U32(IMM); NEXT();
	OPCASE(MOV32_X): DST = U32(SRC); NEXT();
	/* movsx: sign-extend the low 8/16/32 bits of src; the 32-bit forms
	 * then zero-extend the 32-bit result */
	OPCASE(MOVSX8_64): DST = sext(SRC, 8); NEXT();
	OPCASE(MOVSX16_64): DST = sext(SRC, 16); NEXT();
	OPCASE(MOVSX32_64): DST = sext(SRC, 32); NEXT();
	OPCASE(MOVSX8_32): DST = U32(sext(SRC, 8)); NEXT();
	OPCASE(MOVSX16_32): DST = U32(sext(SRC, 16)); NEXT();

	/* Byte order.  The host is little-endian (checked in interp.c): le
	 * truncates to the width, be and bswap swap; every result is
	 * zero-extended from its width. */
	OPCASE(LE16): DST = (uint16_t)DST; NEXT();
	OPCASE(LE32): DST = U32(DST); NEXT();
	OPCASE(LE64): NEXT();
	OPCASE(BE16): OPCASE(BSWAP16): DST = __builtin_bswap16((uint16_t)DST); NEXT();
	OPCASE(BE32): OPCASE(BSWAP32): DST = __builtin_bswap32((uint32_t)DST); NEXT();
	OPCASE(BE64): OPCASE(BSWAP64): DST = __builtin_bswap64(DST); NEXT();

	/* ---- jumps: off holds the absolute target ------------------------ */
	OPCASE(JA): OPCASE(JA32): JUMP();
#define JCMP(ID, T, op)                                                       \
	OPCASE(ID##_K): if ((T)DST op (T)IMM) JUMP(); NEXT();                 \
	OPCASE(ID##_X): if ((T)DST op (T)SRC) JUMP(); NEXT();
	JCMP(JEQ, uint64_t, ==)
	JCMP(JNE, uint64_t, !=)
	JCMP(JGT, uint64_t, >)
	JCMP(JGE, uint64_t, >=)
	JCMP(JLT, uint64_t, <)
	JCMP(JLE, uint64_t, <=)
	JCMP(JSGT, int64_t, >)
	JCMP(JSGE, int64_t, >=)
	JCMP(JSLT, int64_t, <)
	JCMP(JSLE, int64_t, <=)
	JCMP(JEQ32, uint32_t, ==)
	JCMP(JNE32, uint32_t, !=)
	JCMP(JGT32, uint32_t, >)
	JCMP(JGE32, uint32_t, >=)
	JCMP(JLT32, uint32_t, <)
	JCMP(JLE32, uint32_t, <=)
	JCMP(JSGT32, int32_t, >)
	JCMP(JSGE32, int32_t, >=)
	JCMP(JSLT32, int32_t, <)
	JCMP(JSLE32, int32_t, <=)
#undef JCMP
	OPCASE(JSET_K): if (DST & IMM) JUMP(); NEXT();
	OPCASE(JSET_X): if (DST & SRC) JUMP(); NEXT();
	OPCASE(JSET32_K): if ((uint32_t)(DST & IMM)) JUMP(); NEXT();
	OPCASE(JSET32_X): if ((uint32_t)(DST & SRC)) JUMP(); NEXT();

	/* ---- calls ------------------------------------------------------ */
	/* helper by id (imm = id as u32); #12 tail_call is the VM's own */
	OPCASE(CALL): {
		uint64_t id = IMM;
		if (id == BPFVM_FUNC_TAIL_CALL)
			goto tail_call;
		HELPER(id);
		NEXT();
	}
	/* callx: the helper id is in dst (bpf_conformance's callx.data) */
	OPCASE(CALLX): {
		uint64_t id = DST;
		if (id == BPFVM_FUNC_TAIL_CALL)
			goto tail_call;
		HELPER(id);
		NEXT();
	}
	/* bpf-to-bpf: a new frame with its own stack; r1-r5 are passed as
	 * they are, r6-r9 restored at EXIT, r0 returned */
	OPCASE(CALL_LOCAL): {
		if (run->depth + 1 >= BPFVM_MAX_FRAMES) {
			bpfvm_run_fail(run, -E2BIG, PC,
				       "the call stack of %d frames is too deep",
				       BPFVM_MAX_FRAMES + 1);
			goto out;
		}
		struct bpfvm_frame *f = &run->frames[run->depth++];
		f->ret = insn + 1;
		f->vm = vm;
		memcpy(f->saved, &reg[6], sizeof f->saved);
		reg[10] = BPFVM_STACK_TOP(run) -
			  (uint64_t)run->depth * BPFVM_STACK_SIZE;
		JUMP();
	}
	OPCASE(CALL_KFUNC):
		bpfvm_run_fail(run, -EINVAL, PC,
			       "kfunc calls are not supported (btf id %d)",
			       (int)IMM);
		goto out;
	OPCASE(EXIT): {
		if (run->depth == run->base_depth)
			goto done;
		const struct bpfvm_frame *f = &run->frames[--run->depth];
		memcpy(&reg[6], f->saved, sizeof f->saved);
		insn = f->ret;
		vm = run->vm = f->vm;
		base = PROG(vm);
		DISPATCH();
	}

	/* ---- loads and stores: unaligned allowed (memcpy) ---------------- */
#define LDX(ID, T, conv)                                                      \
	OPCASE(ID): {                                                         \
		uint64_t a = SRC + OFF;                                       \
		CHECK(a, sizeof(T), false);                                   \
		DST = conv(LOAD(T, a));                                       \
		NEXT();                                                       \
	}
#define ZX(x) ((uint64_t)(x))
#define SX8(x) sext(x, 8)
#define SX16(x) sext(x, 16)
#define SX32(x) sext(x, 32)
	LDX(LDXB, uint8_t, ZX)
	LDX(LDXH, uint16_t, ZX)
	LDX(LDXW, uint32_t, ZX)
	LDX(LDXDW, uint64_t, ZX)
	LDX(LDXSB, uint8_t, SX8)
	LDX(LDXSH, uint16_t, SX16)
	LDX(LDXSW, uint32_t, SX32)
#undef LDX
#undef ZX
#undef SX8
#undef SX16
#undef SX32
#define ST(ID, T, val)                                                        \
	OPCASE(ID): {                                                         \
		uint64_t a = DST + OFF;                                       \
		CHECK(a, sizeof(T), true);                                    \
		STORE(T, a, val);                                             \
		NEXT();                                                       \
	}
	ST(STB, uint8_t, IMM)
	ST(STH, uint16_t, IMM)
	ST(STW, uint32_t, IMM)
	ST(STDW, uint64_t, IMM)
	ST(STXB, uint8_t, SRC)
	ST(STXH, uint16_t, SRC)
	ST(STXW, uint32_t, SRC)
	ST(STXDW, uint64_t, SRC)
#undef ST

	/* ---- atomics on *(dst + off): FETCH forms put the old value in src
	 * (32-bit: zero-extended); cmpxchg compares with r0 (low 32 bits for
	 * the 32-bit form) and always puts the old value in r0. ------------ */
#define AMO(ID, W, kind, fetch)                                               \
	OPCASE(ID): {                                                         \
		uint64_t a = DST + OFF;                                       \
		CHECK(a, W / 8, true);                                        \
		uint64_t old = amo##W(a, kind, (uint##W##_t)SRC);             \
		if (fetch)                                                    \
			SRC = old;                                            \
		NEXT();                                                       \
	}
	AMO(AADD32, 32, A_ADD, 0)
	AMO(AOR32, 32, A_OR, 0)
	AMO(AAND32, 32, A_AND, 0)
	AMO(AXOR32, 32, A_XOR, 0)
	AMO(AFADD32, 32, A_ADD, 1)
	AMO(AFOR32, 32, A_OR, 1)
	AMO(AFAND32, 32, A_AND, 1)
	AMO(AFXOR32, 32, A_XOR, 1)
	AMO(AXCHG32, 32, A_XCHG, 1)
	AMO(AADD64, 64, A_ADD, 0)
	AMO(AOR64, 64, A_OR, 0)
	AMO(AAND64, 64, A_AND, 0)
	AMO(AXOR64, 64, A_XOR, 0)
	AMO(AFADD64, 64, A_ADD, 1)
	AMO(AFOR64, 64, A_OR, 1)
	AMO(AFAND64, 64, A_AND, 1)
	AMO(AFXOR64, 64, A_XOR, 1)
	AMO(AXCHG64, 64, A_XCHG, 1)
#undef AMO
	OPCASE(ACMPXCHG32): {
		uint64_t a = DST + OFF;
		CHECK(a, 4, true);
		reg[0] = cas32(a, (uint32_t)reg[0], (uint32_t)SRC);
		NEXT();
	}
	OPCASE(ACMPXCHG64): {
		uint64_t a = DST + OFF;
		CHECK(a, 8, true);
		reg[0] = cas64(a, reg[0], SRC);
		NEXT();
	}

	/* ---- ld_imm64: the value was resolved at load; skip the 2nd slot -- */
	OPCASE(LDDW): OPCASE(LDDW_MAP_FD): OPCASE(LDDW_MAP_VALUE):
	OPCASE(LDDW_BTF_ID): OPCASE(LDDW_FUNC): OPCASE(LDDW_MAP_IDX):
	OPCASE(LDDW_MAP_IDX_VALUE):
		DST = IMM;
		insn += 2;
		DISPATCH();

	/* ---- legacy packet loads: r0 = big-endian value at packet + offset
	 * (ABS: imm; IND: src + imm, truncated to a signed 32-bit offset as the
	 * kernel's int argument does).  Out of bounds, or no packet: the
	 * program ends with r0 = 0, as the kernel's rewritten code does. ---- */
#define LDPKT(ID, size, offexpr)                                              \
	OPCASE(ID): {                                                         \
		if (!ld_pkt(run, offexpr, size, &reg[0])) {                   \
			reg[0] = 0;                                           \
			goto done_all;                                        \
		}                                                             \
		NEXT();                                                       \
	}
	LDPKT(LDABSB, 1, IMM)
	LDPKT(LDABSH, 2, IMM)
	LDPKT(LDABSW, 4, IMM)
	LDPKT(LDINDB, 1, SRC + IMM)
	LDPKT(LDINDH, 2, SRC + IMM)
	LDPKT(LDINDW, 4, SRC + IMM)
#undef LDPKT

	/* ---- superinstructions (interp.c's FUSED_PAIRS): the two
	 * instructions as above, with one dispatch ------------------------- */
#define FUSED(a, b) OPCASE(FZ_##a##__##b)
#define SECOND() insn++
	FUSED(MOV64_X, ADD64_K): DST = SRC; SECOND(); DST += IMM; NEXT();
	FUSED(MOV64_X, ADD64_X): DST = SRC; SECOND(); DST += SRC; NEXT();
	FUSED(MOV64_X, JEQ_K): DST = SRC; SECOND(); if (DST == IMM) JUMP(); NEXT();
	FUSED(MOV64_X, JNE_X): DST = SRC; SECOND(); if (DST != SRC) JUMP(); NEXT();
	FUSED(MOV64_X, AND64_K): DST = SRC; SECOND(); DST &= IMM; NEXT();
	FUSED(MOV64_X, LSH64_K): DST = SRC; SECOND(); DST <<= IMM & 63; NEXT();
	FUSED(MOV64_X, RSH64_K): DST = SRC; SECOND(); DST >>= IMM & 63; NEXT();
	FUSED(MOV64_X, JA): DST = SRC; SECOND(); JUMP();
	FUSED(MUL64_K, ADD64_K): DST *= IMM; SECOND(); DST += IMM; NEXT();
	FUSED(XOR64_X, MOV64_X): DST ^= SRC; SECOND(); DST = SRC; NEXT();
	FUSED(LDXB, XOR64_X): {
		uint64_t a = SRC + OFF;
		CHECK(a, 1, false);
		DST = LOAD(uint8_t, a);
		SECOND();
		DST ^= SRC;
		NEXT();
	}
	FUSED(AND64_K, ADD64_X): DST &= IMM; SECOND(); DST += SRC; NEXT();
	FUSED(ADD64_X, LDXB): {
		DST += SRC;
		SECOND();
		uint64_t a = SRC + OFF;
		CHECK(a, 1, false);
		DST = LOAD(uint8_t, a);
		NEXT();
	}
	FUSED(ADD64_K, ADD64_X): DST += IMM; SECOND(); DST += SRC; NEXT();
	FUSED(ADD64_K, JNE_K): DST += IMM; SECOND(); if (DST != IMM) JUMP(); NEXT();
	FUSED(ADD64_K, JEQ_K): DST += IMM; SECOND(); if (DST == IMM) JUMP(); NEXT();
	FUSED(ADD64_K, MOV64_X): DST += IMM; SECOND(); DST = SRC; NEXT();
	FUSED(AND64_K, JEQ_K): DST &= IMM; SECOND(); if (DST == IMM) JUMP(); NEXT();
	FUSED(LSH64_K, RSH64_K):
		DST <<= IMM & 63; SECOND(); DST >>= IMM & 63; NEXT();
	FUSED(RSH64_K, MOV64_X): DST >>= IMM & 63; SECOND(); DST = SRC; NEXT();
	FUSED(LDXB, MOV64_X): {
		uint64_t a = SRC + OFF;
		CHECK(a, 1, false);
		DST = LOAD(uint8_t, a);
		SECOND();
		DST = SRC;
		NEXT();
	}
	FUSED(JNE_K, MOV64_X): if (DST != IMM) JUMP(); SECOND(); DST = SRC; NEXT();
	FUSED(JEQ_K, MOV64_X): if (DST == IMM) JUMP(); SECOND(); DST = SRC; NEXT();
	FUSED(JSGT_K, JSGT_K):
		if (S64(DST) > S64(IMM)) JUMP();
		SECOND();
		if (S64(DST) > S64(IMM)) JUMP();
		NEXT();
#undef FUSED
#undef SECOND

#if !IS_GOTO
	case OP__COUNT:
	case OP_FZ__END:
		break;
	}
	bpfvm_run_fail(run, -EINVAL, PC, "bad decoded op %d", insn->op);
	goto out;
#endif

	/* bpf_tail_call(ctx, map, index), as Linux 6.18 does it: once
	 * BPFVM_MAX_TAIL_CALLS have succeeded in this run, further calls fall
	 * through without asking the hook; only successful calls count (an
	 * empty slot or an index beyond the array falls through uncounted).
	 * The target starts at insn 0 with every register and the stack frame
	 * as they are (r1 = ctx); a failed call continues after the call with
	 * r0 unchanged. */
tail_call: {
		if (run->tail_calls >= BPFVM_MAX_TAIL_CALLS || !vm->tail_fn)
			NEXT();
		const struct bpfvm *t = vm->tail_fn(vm->tail_cookie, reg[2],
						    (uint32_t)reg[3]);
		if (!t || !t->prog)
			NEXT();
		run->tail_calls++;
		vm = run->vm = t;
		base = insn = PROG(t);
		DISPATCH();
	}

done_all:
	/* LD_ABS failure ends the whole program, whatever the frame */
	run->depth = run->base_depth;
done:
#if IS_SLOW
	if (run->trace_pending)
		trace_flush(run, reg);
#endif
	return reg[0];
out:
	return 0;

#undef DST
#undef SRC
#undef IMM
#undef OFF
#undef PC
#undef U32
#undef S32
#undef S64
#undef STEP
#undef CHECK
#undef OPCASE
#undef DISPATCH
#undef NEXT
#undef JUMP
#undef HELPER
#undef PROG
}
