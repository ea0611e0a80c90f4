/* The assembler: two dialects, one table.
 *
 * Every instruction form is a row of vm/opcodes.def.  From each row we
 * generate text templates, one per spelling: the bpf_conformance dialect
 * ("add %d, %i", from the MNEM column) and the kernel / LLVM dialect
 * ("%d += %i", from the KSYM column).  A line is matched against all
 * templates in table order and the first that matches in full gives the
 * instruction.  When none does, the failure that got furthest is reported,
 * a bad value (register r11, offset 70000) before a mere syntax mismatch.
 *
 * Template language: literal characters match themselves; a space matches
 * optional white space (required between two identifier characters);
 * "%%" is a literal '%'; placeholders:
 *   %d %s   dst / src register        %D %S  the same register as dst / src
 *   %z      r0 (or w0)
 *   %i      imm: any 32-bit value, signed or unsigned (0xffffffff is -1)
 *   %m      imm of a 64-bit mov: sign-extended, so -2^31 .. 2^31-1 (bigger
 *           values fall through to ld_imm64, which keeps the meaning)
 *   %q      64-bit immediate of ld_imm64 (two slots)
 *   %o %p   memory offset "+16", "- 4"; %p may be absent ("[%r1]")
 *   %j      jump target into off: label, pc+N, +N, -N, N
 *   %l      jump target into imm (gotol, local call)
 *   %h      helper: N, name, bpf_name, name#N
 *
 * A line may start with the verifier log's "N: (xx) " or llvm-objdump's
 * "N:  b7 00 00 00 01 00 00 00 " prefix; the opcode byte then picks the
 * form when the text alone is ambiguous ("r0 = 0x0": mov or ld_imm64).
 * Without it, "rN = V" is a mov when V fits the sign-extended imm and an
 * ld_imm64 otherwise or with LLVM's " ll".  Comments: ';', "//", and '#'
 * at the start of a line or after a blank ("call name#1" is no comment).
 *
 * Labels: "name:" alone or before an instruction, several allowed, also
 * llvm-objdump's "0000000000000000 <name>:".  A jump names one, or gives
 * a relative offset, which is only checked to fit its field: a target
 * outside the program is the loader's error to report, so such programs
 * can still be written.  As in bpf_conformance's assembler, "exit" names
 * the first exit instruction unless a label has that name.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_asm.h"
#include "insn.h"

#define OPMASK(code) ((code) & 0xf0)
#define BPF_MOV 0xb0
#define BPF_FETCH 0x01
#define BPF_XCHG (0xe0 | BPF_FETCH)
#define BPF_CMPXCHG (0xf0 | BPF_FETCH)

/* ---- templates ---------------------------------------------------------- */

/* Spelling families within one operand format. */
enum variant {
	V_ANY, /* pattern side only: every variant */
	V_PLAIN, V_MOV64K, V_MOVSX, V_HELPER, V_LOCAL, V_KFUNC, V_PSEUDO,
	V_LOCK, V_FETCH, V_XCHG, V_CMPXCHG,
};

/* Register spelling a template wants: 'c' the class's width (r for 64-bit
 * ALU and JMP, w for 32-bit), '?' r or w, '%' the conformance "%r". */
struct pattern {
	uint8_t fmt, variant;
	char reg;
	const char *text;
};

/* Substitutions made when a pattern is expanded for a row:
 *   @ MNEM   $ KSYM   & access type (u32, u64)   ! "64" for 64-bit atomics
 *   ~ "_64" / "32_32" (LLVM's xchg/cmpxchg names)   ^ an atomic's operator */
static const struct pattern patterns[] = {
	/* bpf_conformance dialect */
	{ F_ALU_K, V_ANY, '%', "@ %d , %i" },
	{ F_ALU_X, V_ANY, '%', "@ %d , %s" },
	{ F_NEG, V_ANY, '%', "@ %d" },
	{ F_END, V_ANY, '%', "@ %d" },
	{ F_JA, V_ANY, '%', "@ %j" },
	{ F_JA32, V_ANY, '%', "@ %l" },
	{ F_JMP_K, V_ANY, '%', "@ %d , %i , %j" },
	{ F_JMP_X, V_ANY, '%', "@ %d , %s , %j" },
	{ F_CALL, V_HELPER, '%', "@ %h" },
	{ F_CALL, V_LOCAL, '%', "@ %l" },
	{ F_CALL, V_KFUNC, '%', "@ %i" },
	{ F_CALLX, V_ANY, '%', "@ %d" },
	{ F_EXIT, V_ANY, '%', "@" },
	{ F_LDDW, V_ANY, '%', "@ %d , %q" },
	{ F_LDABS, V_ANY, '%', "@ %i" },
	{ F_LDIND, V_ANY, '%', "@ %s , %i" },
	{ F_LDX, V_ANY, '%', "@ %d , [ %s%p ]" },
	{ F_ST, V_ANY, '%', "@ [ %d%p ] , %i" },
	{ F_STX, V_ANY, '%', "@ [ %d%p ] , %s" },
	{ F_ATOMIC, V_ANY, '%', "@ [ %d%p ] , %s" },

	/* kernel verifier log and LLVM dialect */
	{ F_ALU_K, V_PLAIN, 'c', "%d $ %i" },
	{ F_ALU_K, V_MOV64K, 'c', "%d $ %m" },
	{ F_ALU_X, V_PLAIN, 'c', "%d $ %s" },
	{ F_ALU_X, V_MOVSX, 'c', "%d = ($)%s" },
	{ F_NEG, V_PLAIN, 'c', "%d = -%D" },
	{ F_END, V_PLAIN, '?', "%d = $ %D" },
	{ F_JA, V_PLAIN, '?', "$ %j" },
	{ F_JA32, V_PLAIN, '?', "$ %l" },
	{ F_JMP_K, V_PLAIN, 'c', "if %d $ %i goto %j" },
	{ F_JMP_X, V_PLAIN, 'c', "if %d $ %s goto %j" },
	{ F_CALL, V_HELPER, '?', "call %h" },
	{ F_CALL, V_LOCAL, '?', "call %l" },
	{ F_CALL, V_KFUNC, '?', "call kernel-function#%i" },
	{ F_CALLX, V_PLAIN, '?', "$ %d" },
	{ F_EXIT, V_PLAIN, '?', "$" },
	{ F_LDDW, V_PLAIN, 'r', "%d = %q ll" },
	{ F_LDDW, V_PLAIN, 'r', "%d = %q" },
	{ F_LDABS, V_PLAIN, '?', "r0 = *($ *)skb[%i]" },
	{ F_LDIND, V_PLAIN, '?', "r0 = *($ *)skb[%s + %i]" },
	{ F_LDIND, V_PLAIN, '?', "r0 = *($ *)skb[%s]" },
	{ F_LDX, V_PLAIN, '?', "%d = *($ *)(%s %o)" },
	{ F_ST, V_PLAIN, '?', "*($ *)(%d %o) = %i" },
	{ F_STX, V_PLAIN, '?', "*($ *)(%d %o) = %s" },
	{ F_ATOMIC, V_LOCK, '?', "lock *(& *)(%d %o) ^ %s" },
	{ F_ATOMIC, V_FETCH, '?', "%s = atomic!_fetch_$((& *)(%d %o), %S)" },
	{ F_ATOMIC, V_FETCH, '?', "%s = atomic_fetch_$((& *)(%d %o), %S)" },
	{ F_ATOMIC, V_XCHG, '?', "%s = atomic!_xchg((& *)(%d %o), %S)" },
	{ F_ATOMIC, V_XCHG, '?', "%s = xchg~(%d %o, %S)" },
	{ F_ATOMIC, V_CMPXCHG, '?', "%z = atomic!_cmpxchg((& *)(%d %o), %z, %s)" },
	{ F_ATOMIC, V_CMPXCHG, '?', "%z = cmpxchg~(%d %o, %z, %s)" },
};

/* Other names of a conformance mnemonic: uBPF's swapN, and "call %r2". */
static const struct { const char *alias, *mnem; } aliases[] = {
	{ "swap16", "bswap16" },
	{ "swap32", "bswap32" },
	{ "swap64", "bswap64" },
	{ "call", "callx" },
};

#define TMPL_LEN 64
struct tmpl {
	uint16_t op;
	char reg; /* 'r', 'w', '?', '%' */
	char text[TMPL_LEN];
};

static int variant_of(const struct bpfvm_opinfo *oi)
{
	switch (oi->fmt) {
	case F_ALU_K:
		return BPF_CLASS(oi->code) == BPF_ALU64 &&
				       OPMASK(oi->code) == BPF_MOV
			       ? V_MOV64K
			       : V_PLAIN;
	case F_ALU_X:
		return OPMASK(oi->code) == BPF_MOV && oi->keyval ? V_MOVSX
								 : V_PLAIN;
	case F_CALL: {
		static const uint8_t kind[] = { V_HELPER, V_LOCAL, V_KFUNC };
		return oi->keyval >= 0 && oi->keyval < 3 ? kind[oi->keyval]
							 : V_PSEUDO;
	}
	case F_LDDW:
		return oi->keyval ? V_PSEUDO : V_PLAIN;
	case F_ATOMIC:
		if (oi->keyval == BPF_XCHG)
			return V_XCHG;
		if (oi->keyval == BPF_CMPXCHG)
			return V_CMPXCHG;
		return oi->keyval & BPF_FETCH ? V_FETCH : V_LOCK;
	default:
		return V_PLAIN;
	}
}

/* The ksym of the first row with this format and a matching property:
 * the access type of a size, the operator of an atomic ALU op. */
static const char *size_type(uint8_t code)
{
	for (int op = 0; op < OP__COUNT; op++)
		if (bpfvm_opinfo[op].fmt == F_STX &&
		    BPF_SIZE(bpfvm_opinfo[op].code) == BPF_SIZE(code))
			return bpfvm_opinfo[op].ksym;
	return "?";
}

static const char *atomic_operator(const char *name)
{
	for (int op = 0; op < OP__COUNT; op++) {
		const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
		if (oi->fmt == F_ALU_X && BPF_CLASS(oi->code) == BPF_ALU64 &&
		    !strcmp(oi->mnem, name))
			return oi->ksym;
	}
	return "?";
}

/* Expand pattern p for row op (mnemonic mnem) into t; 0 if too long. */
static int expand(struct tmpl *t, const struct pattern *p, int op,
		  const char *mnem)
{
	const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
	bool dw = BPF_SIZE(oi->code) == BPF_DW;
	size_t n = 0;

	t->op = (uint16_t)op;
	t->reg = p->reg;
	if (p->reg == 'c')
		t->reg = BPF_CLASS(oi->code) == BPF_ALU ||
				 BPF_CLASS(oi->code) == BPF_JMP32
			 ? 'w'
			 : 'r';
	for (const char *s = p->text; *s; s++) {
		const char *sub = NULL;
		switch (*s) {
		case '@': sub = mnem; break;
		case '$': sub = oi->ksym; break;
		case '&': sub = size_type(oi->code); break;
		case '!': sub = dw ? "64" : ""; break;
		case '~': sub = dw ? "_64" : "32_32"; break;
		case '^': sub = atomic_operator(oi->ksym); break;
		}
		if (!sub) {
			if (n + 1 >= TMPL_LEN)
				return 0;
			t->text[n++] = *s;
			continue;
		}
		for (; *sub; sub++) {
			if (n + 2 >= TMPL_LEN)
				return 0;
			if (*sub == '%') /* "%=" is an operator, not a hole */
				t->text[n++] = '%';
			t->text[n++] = *sub;
		}
	}
	t->text[n] = 0;
	return 1;
}

/* All templates, in table order.  Returns the count or -ENOMEM. */
static int build_templates(struct tmpl **out)
{
	size_t cap = 0, n = 0;
	struct tmpl *v = NULL;

	for (int op = 0; op < OP__COUNT; op++) {
		const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
		int var = variant_of(oi);
		for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]);
		     k++) {
			const struct pattern *p = &patterns[k];
			if (p->fmt != oi->fmt ||
			    (p->variant != V_ANY && p->variant != var))
				continue;
			/* one spelling per name: the row's, then its aliases */
			for (int a = -1;
			     a < (int)(sizeof(aliases) / sizeof(aliases[0]));
			     a++) {
				const char *name = oi->mnem;
				if (a >= 0) {
					if (p->reg != '%' ||
					    strcmp(aliases[a].mnem, oi->mnem))
						continue;
					name = aliases[a].alias;
				}
				if (n == cap) {
					cap = cap ? 2 * cap : 256;
					struct tmpl *nv =
						realloc(v, cap * sizeof(*v));
					if (!nv) {
						free(v);
						return -ENOMEM;
					}
					v = nv;
				}
				if (expand(&v[n], p, op, name))
					n++;
				if (p->reg != '%')
					break; /* kernel text has no aliases */
			}
		}
	}
	*out = v;
	return (int)n;
}

/* ---- scanning ------------------------------------------------------------ */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.';
}

static bool is_ident_start(char c)
{
	return is_ident(c) && !(c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	return p;
}

static const char *ident_end(const char *p, const char *end)
{
	while (p < end && is_ident(*p))
		p++;
	return p;
}

/* A number: magnitude and sign, so every spelling from -2^64+1 to 2^64-1
 * is representable before the range check of its field. */
struct num {
	uint64_t mag;
	bool neg;
	bool over; /* more than 64 bits */
};

/* Unsigned decimal or 0x-hex at *pp.  Returns 0 if there is none (or it runs
 * into identifier characters, "12ab"), 1 otherwise. */
static int scan_mag(const char **pp, const char *end, struct num *n)
{
	const char *p = *pp, *digits;
	unsigned base = 10;
	uint64_t v = 0;

	n->over = false;
	if (end - p >= 2 && p[0] == '0' && (p[1] | 0x20) == 'x') {
		base = 16;
		p += 2;
	}
	for (digits = p; p < end; p++) {
		int d = hex_value(*p);
		if (d < 0 || (unsigned)d >= base)
			break;
		if (v > (UINT64_MAX - (unsigned)d) / base)
			n->over = true;
		v = v * base + (unsigned)d;
	}
	if (p == digits || (p < end && is_ident(*p)))
		return 0;
	n->mag = v;
	*pp = p;
	return 1;
}

/* Optionally signed number; with `spaced`, blanks may follow the sign. */
static int scan_num(const char **pp, const char *end, struct num *n,
		    bool spaced)
{
	const char *p = *pp;
	bool neg = false;

	if (p < end && (*p == '-' || *p == '+')) {
		neg = *p == '-';
		p++;
		if (spaced)
			p = skip_space(p, end);
	}
	if (!scan_mag(&p, end, n))
		return 0;
	n->neg = neg;
	*pp = p;
	return 1;
}

/* Is n within [lo, hi]?  lo <= 0. */
static bool fits(const struct num *n, int64_t lo, uint64_t hi)
{
	if (n->over)
		return false;
	if (!n->neg || n->mag == 0)
		return n->mag <= hi;
	return n->mag - 1 <= (uint64_t)(-(lo + 1));
}

static uint64_t num_value(const struct num *n)
{
	return n->neg ? 0 - n->mag : n->mag;
}

static int helper_by_name(const char *s, size_t len)
{
	if (len > 4 && !memcmp(s, "bpf_", 4)) {
		s += 4;
		len -= 4;
	}
	for (uint32_t id = 0; id < BPFVM_HELPER_MAX; id++) {
		const char *h = bpfvm_helper_name(id);
		if (h && strlen(h) == len && !memcmp(h, s, len))
			return (int)id;
	}
	return -1;
}

/* ---- matching ------------------------------------------------------------ */

enum { SYN_EXPECT, SYN_MISSING, SYN_EXTRA, SYN_MSG };

/* The most telling failure over all templates tried on a line. */
struct failure {
	const char *at; /* NULL: none yet */
	bool semantic;  /* a bad value, not a syntax mismatch */
	int kind;       /* SYN_* */
	char expect;
	char msg[160];
};

static void fail_syntax(struct failure *f, const char *at, int kind,
			char expect)
{
	if (f->at && (f->semantic || f->at >= at))
		return;
	f->at = at;
	f->semantic = false;
	f->kind = kind;
	f->expect = expect;
}

/* A syntax failure that says more than "unexpected" (a w register where
 * an r register goes). */
__attribute__((format(printf, 3, 4))) static void
fail_syntax_msg(struct failure *f, const char *at, const char *fmt, ...)
{
	va_list ap;
	if (f->at && (f->semantic || f->at > at ||
		      (f->at == at && f->kind == SYN_MSG)))
		return;
	f->at = at;
	f->semantic = false;
	f->kind = SYN_MSG;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void
fail_value(struct failure *f, const char *at, const char *fmt, ...)
{
	va_list ap;
	if (f->at && f->semantic && f->at >= at)
		return;
	f->at = at;
	f->semantic = true;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
}

/* A label reference waiting for pass 2. */
enum { REF_NONE, REF_OFF, REF_IMM };

struct parsed {
	struct bpfvm_insn insn[2];
	int slots;
	int ref; /* REF_* */
	const char *label;
	size_t label_len;
};

/* Length of the token at p, for messages. */
static int token_len(const char *p, const char *end)
{
	const char *q = p;
	if (q < end && !is_ident(*q) && !is_space(*q))
		q++;
	while (q < end && is_ident(*q))
		q++;
	return (int)(q - p);
}

/* A register spelled for template letter `want`; *reg gets its number. */
static int scan_reg(const char **pp, const char *end, char want, int *reg,
		    struct failure *f)
{
	const char *p = *pp, *start = *pp;
	struct num n;

	if (want == '%') {
		if (p >= end || *p != '%')
			return 0;
		p++;
	}
	if (p >= end || (*p != 'r' && *p != 'w'))
		return 0;
	char letter = *p++;
	if (p >= end || !is_digit(*p) || !scan_mag(&p, end, &n))
		return 0;
	if (n.over || n.mag > 10) {
		fail_value(f, start, "bad register '%.*s'",
			   (int)(p - start), start);
		return 0;
	}
	if (want == '%' && letter != 'r')
		return 0;
	if ((want == 'r' || want == 'w') && letter != want) {
		fail_syntax_msg(f, start, "expected a %s register, not '%.*s'",
			   want == 'r' ? "64-bit r" : "32-bit w",
			   (int)(p - start), start);
		return 0;
	}
	*reg = (int)n.mag;
	*pp = p;
	return 1;
}

/* A memory offset: sign, optional blanks, number; `optional` allows none
 * (the conformance "[%r1]"). */
static int scan_offset(const char **pp, const char *end, bool optional,
		       int16_t *off, struct failure *f)
{
	const char *p = skip_space(*pp, end);
	struct num n;

	if (optional && p < end && *p == ']') {
		*off = 0;
		*pp = p;
		return 1;
	}
	if (p >= end || (*p != '+' && *p != '-')) {
		fail_syntax(f, p, p >= end ? SYN_MISSING : SYN_EXPECT, '+');
		return 0;
	}
	const char *start = p;
	if (!scan_num(&p, end, &n, true)) {
		fail_syntax(f, p, p >= end ? SYN_MISSING : SYN_EXPECT, 0);
		return 0;
	}
	if (!fits(&n, INT16_MIN, INT16_MAX)) {
		fail_value(f, start, "offset '%.*s' out of 16-bit range",
			   (int)(p - start), start);
		return 0;
	}
	*off = (int16_t)num_value(&n);
	*pp = p;
	return 1;
}

/* A jump target: label, pc+N, pc-N, +N, -N, N; then llvm-objdump's
 * optional " <label>" annotation.  Relative values go to *rel. */
static int scan_target(const char **pp, const char *end, bool wide,
		       struct parsed *out, int64_t *rel, struct failure *f)
{
	const char *p = *pp, *start = *pp;
	struct num n;

	if (end - p >= 3 && p[0] == 'p' && p[1] == 'c' &&
	    (p[2] == '+' || p[2] == '-'))
		p += 2;
	if (p < end && (is_digit(*p) || *p == '+' || *p == '-')) {
		if (!scan_num(&p, end, &n, false)) {
			fail_syntax(f, p, SYN_EXPECT, 0);
			return 0;
		}
		if (wide ? !fits(&n, INT32_MIN, INT32_MAX)
			 : !fits(&n, INT16_MIN, INT16_MAX)) {
			fail_value(f, start, "jump offset '%.*s' out of range",
				   (int)(p - start), start);
			return 0;
		}
		*rel = (int64_t)num_value(&n);
		out->ref = REF_NONE;
	} else if (p < end && is_ident_start(*p)) {
		const char *e = ident_end(p, end);
		out->ref = wide ? REF_IMM : REF_OFF;
		out->label = p;
		out->label_len = (size_t)(e - p);
		*rel = 0;
		p = e;
	} else {
		fail_syntax(f, p, p >= end ? SYN_MISSING : SYN_EXPECT, 0);
		return 0;
	}
	const char *q = skip_space(p, end);
	if (q < end && *q == '<') {
		const char *gt = memchr(q, '>', (size_t)(end - q));
		if (gt)
			p = gt + 1;
	}
	*pp = p;
	return 1;
}

/* A helper: number, name, bpf_name, name#N. */
static int scan_helper(const char **pp, const char *end, int32_t *imm,
		       struct failure *f)
{
	const char *p = *pp, *start = *pp;
	struct num n;

	if (p < end && (is_digit(*p) || *p == '-' || *p == '+')) {
		if (!scan_num(&p, end, &n, false))
			return 0;
		if (!fits(&n, INT32_MIN, UINT32_MAX)) {
			fail_value(f, start, "helper id '%.*s' out of range",
				   (int)(p - start), start);
			return 0;
		}
		*imm = (int32_t)(uint32_t)num_value(&n);
		*pp = p;
		return 1;
	}
	if (p >= end || !is_ident_start(*p))
		return 0;
	const char *e = ident_end(p, end);
	int id = helper_by_name(p, (size_t)(e - p));
	if (e < end && *e == '#') {
		const char *q = e + 1;
		if (!scan_num(&q, end, &n, false) ||
		    !fits(&n, INT32_MIN, UINT32_MAX)) {
			fail_value(f, e, "bad helper id after '#'");
			return 0;
		}
		int64_t v = (int32_t)(uint32_t)num_value(&n);
		bool unknown = (size_t)(e - p) == 7 && !memcmp(p, "unknown", 7);
		if (!unknown && id < 0) {
			fail_value(f, start, "unknown helper '%.*s'",
				   (int)(e - p), p);
			return 0;
		}
		if (!unknown && id != v) {
			fail_value(f, start, "helper '%.*s' is #%d, not #%lld",
				   (int)(e - p), p, id, (long long)v);
			return 0;
		}
		*imm = (int32_t)v;
		*pp = q;
		return 1;
	}
	if (id < 0)
		return 0; /* maybe a label: the local-call template decides */
	*imm = id;
	*pp = e;
	return 1;
}

/* Match one template against [in, end).  Fills *out on success. */
static int match(const struct tmpl *t, const char *in, const char *end,
		 struct parsed *out, struct failure *f)
{
	const struct bpfvm_opinfo *oi = &bpfvm_opinfo[t->op];
	const char *p = in;
	struct bpfvm_insn *insn = &out->insn[0];
	int reg;
	int64_t rel;
	struct num n;

	memset(out, 0, sizeof(*out));
	out->slots = oi->fmt == F_LDDW ? 2 : 1;
	insn->code = oi->code;
	switch (oi->key) {
	case K_OFF: insn->off = (int16_t)oi->keyval; break;
	case K_IMM: insn->imm = oi->keyval; break;
	case K_SRC: insn->src_reg = (uint8_t)oi->keyval & 0xf; break;
	}

	for (const char *s = t->text; *s; s++) {
		const char *start;
		if (*s == ' ') {
			const char *q = skip_space(p, end);
			if (q == p && p > in && p < end && is_ident(p[-1]) &&
			    is_ident(*p)) {
				fail_syntax(f, p, SYN_EXPECT, ' ');
				return 0;
			}
			p = q;
			continue;
		}
		if (*s != '%' || s[1] == '%') {
			if (*s == '%')
				s++;
			if (p >= end || *p != *s) {
				fail_syntax(f, p,
					    p >= end ? SYN_MISSING : SYN_EXPECT,
					    *s);
				return 0;
			}
			p++;
			continue;
		}
		start = p;
		switch (*++s) {
		case 'd':
		case 's':
		case 'D':
		case 'S':
		case 'z': {
			char want = t->reg;
			if (!scan_reg(&p, end, want, &reg, f)) {
				fail_syntax(f, start,
					    p >= end ? SYN_MISSING : SYN_EXPECT,
					    0);
				return 0;
			}
			int must = *s == 'D' ? insn->dst_reg
				   : *s == 'S' ? insn->src_reg
				   : *s == 'z' ? 0
					       : -1;
			if (must >= 0 && reg != must) {
				fail_value(f, start,
					   "'%.*s' must be %s",
					   (int)(p - start), start,
					   *s == 'D'   ? "the destination"
					   : *s == 'S' ? "the source register"
						       : "r0");
				return 0;
			}
			if (*s == 'd')
				insn->dst_reg = (uint8_t)reg;
			else if (*s == 's')
				insn->src_reg = (uint8_t)reg;
			break;
		}
		case 'i':
		case 'm':
		case 'q':
			if (*s == 'q' && end - p >= 4 && !memcmp(p, "map[", 4)) {
				fail_value(f, p, "ld_imm64 map references "
						 "cannot be assembled");
				return 0;
			}
			if (!scan_num(&p, end, &n, false)) {
				fail_syntax(f, p,
					    p >= end ? SYN_MISSING : SYN_EXPECT,
					    0);
				return 0;
			}
			if (*s == 'q') {
				if (!fits(&n, INT64_MIN, UINT64_MAX)) {
					fail_value(f, start,
						   "immediate '%.*s' out of "
						   "64-bit range",
						   (int)(p - start), start);
					return 0;
				}
				uint64_t v = num_value(&n);
				insn->imm = (int32_t)(uint32_t)v;
				out->insn[1].imm = (int32_t)(uint32_t)(v >> 32);
			} else if (*s == 'm' && !fits(&n, INT32_MIN, INT32_MAX)) {
				/* not a bad value: the ld_imm64 form takes it */
				fail_syntax_msg(f, start,
						"immediate '%.*s' does not fit "
						"a sign-extended 32-bit mov",
						(int)(p - start), start);
				return 0;
			} else if (!fits(&n, INT32_MIN, UINT32_MAX)) {
				fail_value(f, start,
					   "immediate '%.*s' out of 32-bit "
					   "range",
					   (int)(p - start), start);
				return 0;
			} else {
				insn->imm = (int32_t)(uint32_t)num_value(&n);
			}
			break;
		case 'o':
		case 'p':
			if (!scan_offset(&p, end, *s == 'p', &insn->off, f))
				return 0;
			break;
		case 'j':
		case 'l':
			if (!scan_target(&p, end, *s == 'l', out, &rel, f))
				return 0;
			if (*s == 'j')
				insn->off = (int16_t)rel;
			else
				insn->imm = (int32_t)rel;
			break;
		case 'h':
			if (!scan_helper(&p, end, &insn->imm, f)) {
				fail_syntax(f, p,
					    p >= end ? SYN_MISSING : SYN_EXPECT,
					    0);
				return 0;
			}
			break;
		}
	}
	p = skip_space(p, end);
	if (p != end) {
		fail_syntax(f, p, SYN_EXTRA, 0);
		return 0;
	}
	return 1;
}

/* ---- lines --------------------------------------------------------------- */

struct label {
	const char *name;
	size_t len;
	size_t index; /* instruction it names */
	unsigned line;
};

struct fixup {
	size_t index;
	const char *name;
	size_t len;
	int ref;
	unsigned line;
};

struct asm_state {
	struct tmpl *tmpl;
	int ntmpl;
	struct bpfvm_insn *insns;
	size_t n, cap;
	struct label *labels;
	size_t nlabels, caplabels;
	uint32_t *buckets; /* open addressing over labels, index + 1 */
	size_t nbuckets;
	struct fixup *fixups;
	size_t nfixups, capfixups;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int
error(struct asm_state *st, unsigned line, const char *fmt, ...)
{
	va_list ap;
	char msg[256];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (st->err && st->errlen)
		snprintf(st->err, st->errlen, "line %u: %s", line, msg);
	return -EINVAL;
}

/* Grow *v (of *cap elements of size sz) to hold one more. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? 2 * *cap : 64;
	if (nc > SIZE_MAX / sz)
		return -ENOMEM;
	void *nv = realloc(*v, nc * sz);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

static uint32_t name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* The hash slot of name: the label's index + 1 there, or an empty slot. */
static uint32_t *label_slot(const struct asm_state *st, const char *name,
			    size_t len)
{
	size_t mask = st->nbuckets - 1;
	for (size_t i = name_hash(name, len) & mask;; i = (i + 1) & mask) {
		uint32_t k = st->buckets[i];
		if (!k || (st->labels[k - 1].len == len &&
			   !memcmp(st->labels[k - 1].name, name, len)))
			return &st->buckets[i];
	}
}

static const struct label *find_label(const struct asm_state *st,
				      const char *name, size_t len)
{
	if (!st->nbuckets)
		return NULL;
	uint32_t k = *label_slot(st, name, len);
	return k ? &st->labels[k - 1] : NULL;
}

/* Keep the table at most half full. */
static int rehash(struct asm_state *st)
{
	if (2 * (st->nlabels + 1) <= st->nbuckets)
		return 0;
	size_t nb = st->nbuckets ? 2 * st->nbuckets : 64;
	if (nb > UINT32_MAX)
		return -ENOMEM;
	uint32_t *b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	free(st->buckets);
	st->buckets = b;
	st->nbuckets = nb;
	for (size_t i = 0; i < st->nlabels; i++)
		*label_slot(st, st->labels[i].name, st->labels[i].len) =
			(uint32_t)i + 1;
	return 0;
}

static int add_label(struct asm_state *st, const char *name, size_t len,
		     unsigned line)
{
	const struct label *old = find_label(st, name, len);
	if (old)
		return error(st, line,
			     "duplicate label '%.*s' (first on line %u)",
			     (int)len, name, old->line);
	if (rehash(st) ||
	    grow((void **)&st->labels, &st->caplabels, st->nlabels,
		 sizeof(*st->labels)))
		return -ENOMEM;
	st->labels[st->nlabels] = (struct label){ name, len, st->n, line };
	*label_slot(st, name, len) = (uint32_t)++st->nlabels;
	return 0;
}

/* Where the comment of [p, end) starts: ';', "//", or '#' at the start or
 * after a blank ("call bpf_map_lookup_elem#1" keeps its '#'). */
static const char *comment_start(const char *p, const char *end)
{
	for (const char *q = p; q < end; q++) {
		if (*q == ';' || (*q == '/' && q + 1 < end && q[1] == '/'))
			return q;
		if (*q == '#' && (q == p || is_space(q[-1])))
			return q;
	}
	return end;
}

/* Skip "N: (xx) " or llvm-objdump's "N: xx xx ..." prefix; *hint gets the
 * opcode byte, or -1. */
static const char *skip_prefix(const char *p, const char *end, int *hint)
{
	const char *q = p;
	*hint = -1;
	while (q < end && is_digit(*q))
		q++;
	if (q == p || q >= end || *q != ':')
		return p;
	q = skip_space(q + 1, end);
	if (end - q >= 4 && q[0] == '(' && hex_value(q[1]) >= 0 &&
	    hex_value(q[2]) >= 0 && q[3] == ')') {
		*hint = hex_value(q[1]) * 16 + hex_value(q[2]);
		return skip_space(q + 4, end);
	}
	while (end - q >= 2 && hex_value(q[0]) >= 0 && hex_value(q[1]) >= 0 &&
	       (end - q == 2 || is_space(q[2]))) {
		if (*hint < 0)
			*hint = hex_value(q[0]) * 16 + hex_value(q[1]);
		q = skip_space(q + 2, end);
	}
	return q;
}

/* The first template (of opcode `hint` if >= 0) matching [p, end). */
static int try_templates(const struct asm_state *st, const char *p,
			 const char *end, int hint, struct parsed *out,
			 struct failure *f)
{
	for (int k = 0; k < st->ntmpl; k++) {
		const struct tmpl *t = &st->tmpl[k];
		if (hint >= 0 && bpfvm_opinfo[t->op].code != hint)
			continue;
		if (match(t, p, end, out, f))
			return k;
	}
	return -1;
}

/* Assemble the instruction text [p, end) of line `line`. */
static int assemble_insn(struct asm_state *st, const char *p, const char *end,
			 int hint, unsigned line)
{
	struct failure f = { 0 };
	struct parsed out;
	int found = try_templates(st, p, end, hint, &out, &f);

	if (found < 0 && hint >= 0) {
		/* say so if the text is fine but the opcode byte is not */
		memset(&f, 0, sizeof(f));
		found = try_templates(st, p, end, -1, &out, &f);
		if (found >= 0)
			return error(st, line,
				     "opcode (%02x) does not match '%.*s' "
				     "(%02x)",
				     hint, (int)(end - p), p,
				     bpfvm_opinfo[st->tmpl[found].op].code);
	}
	if (found < 0) {
		if (f.semantic)
			return error(st, line, "%s", f.msg);
		if (!f.at || f.at == p)
			return error(st, line, "unknown instruction '%.*s'",
				     token_len(p, end), p);
		const char *at = skip_space(f.at, end);
		if (at >= end)
			return error(st, line, "missing operand in '%.*s'",
				     (int)(end - p), p);
		if (f.kind == SYN_MSG)
			return error(st, line, "%s", f.msg);
		if (f.kind == SYN_EXTRA)
			return error(st, line, "extra operand '%.*s'",
				     (int)(end - at), at);
		if (f.expect && f.expect != ' ' && at == f.at)
			return error(st, line, "expected '%c' at '%.*s'",
				     f.expect, (int)(end - at), at);
		return error(st, line, "unexpected '%.*s'",
			     (int)(end - at), at);
	}

	if (out.ref != REF_NONE) {
		if (grow((void **)&st->fixups, &st->capfixups, st->nfixups,
			 sizeof(*st->fixups)))
			return -ENOMEM;
		st->fixups[st->nfixups++] = (struct fixup){
			st->n, out.label, out.label_len, out.ref, line
		};
	}
	for (int s = 0; s < out.slots; s++) {
		if (grow((void **)&st->insns, &st->cap, st->n,
			 sizeof(*st->insns)))
			return -ENOMEM;
		st->insns[st->n++] = out.insn[s];
	}
	return 0;
}

static int assemble_line(struct asm_state *st, const char *p, const char *end,
			 unsigned line)
{
	int hint, rc;

	end = comment_start(p, end);
	while (end > p && is_space(end[-1]))
		end--;
	for (const char *q = p; q < end; q++)
		if ((unsigned char)*q < 0x20 ? !is_space(*q)
					     : (unsigned char)*q > 0x7e)
			return error(st, line, "unexpected character 0x%02x",
				     (unsigned char)*q);
	p = skip_space(p, end);

	/* llvm-objdump's "0000000000000000 <name>:" starts a function */
	const char *q = p;
	while (q < end && hex_value(*q) >= 0)
		q++;
	if (q > p && q < end && is_space(*q)) {
		const char *nm = skip_space(q, end), *ne;
		if (nm < end && *nm == '<' &&
		    (ne = ident_end(nm + 1, end)) > nm + 1 && end - ne == 2 &&
		    ne[0] == '>' && ne[1] == ':')
			return add_label(st, nm + 1, (size_t)(ne - nm - 1),
					 line);
	}

	p = skip_prefix(p, end, &hint);
	/* labels: "name:", possibly several, possibly before an insn */
	for (;;) {
		const char *e = ident_end(p, end), *c;
		if (e == p || !is_ident_start(*p))
			break;
		c = skip_space(e, end);
		if (c >= end || *c != ':')
			break;
		if ((rc = add_label(st, p, (size_t)(e - p), line)))
			return rc;
		p = skip_space(c + 1, end);
	}
	if (p == end)
		return 0;
	return assemble_insn(st, p, end, hint, line);
}

/* Pass 2: labels into offsets.  "exit" names the first exit instruction
 * when no label has that name, as bpf_conformance's assembler has it. */
static int resolve(struct asm_state *st)
{
	size_t first_exit = SIZE_MAX;
	for (size_t i = 0; i < st->n && first_exit == SIZE_MAX; i++)
		if (st->insns[i].code == bpfvm_opinfo[OP_EXIT].code)
			first_exit = i;

	for (size_t k = 0; k < st->nfixups; k++) {
		const struct fixup *fx = &st->fixups[k];
		const struct label *l = find_label(st, fx->name, fx->len);
		size_t target;
		if (l)
			target = l->index;
		else if (fx->len == 4 && !memcmp(fx->name, "exit", 4) &&
			 first_exit != SIZE_MAX)
			target = first_exit;
		else
			return error(st, fx->line, "undefined label '%.*s'",
				     (int)fx->len, fx->name);
		/* both at most 2^63, so the difference is exact */
		int64_t rel = (int64_t)target - (int64_t)fx->index - 1;
		struct bpfvm_insn *insn = &st->insns[fx->index];
		if (fx->ref == REF_OFF) {
			if (rel < INT16_MIN || rel > INT16_MAX)
				return error(st, fx->line,
					     "jump to '%.*s' out of range "
					     "(%lld instructions)",
					     (int)fx->len, fx->name,
					     (long long)rel);
			insn->off = (int16_t)rel;
		} else {
			if (rel < INT32_MIN || rel > INT32_MAX)
				return error(st, fx->line,
					     "jump to '%.*s' out of range",
					     (int)fx->len, fx->name);
			insn->imm = (int32_t)rel;
		}
	}
	return 0;
}

int bpfvm_asm(const char *text, struct bpfvm_insn **out, size_t *n,
	      char *err, size_t errlen)
{
	struct asm_state st = { .err = err, .errlen = errlen };
	unsigned line = 0;
	int rc = 0;

	if (err && errlen)
		err[0] = 0;
	if (!out || !n)
		return error(&st, 1, "no place for the result");
	*out = NULL;
	*n = 0;
	if (!text)
		return error(&st, 1, "no text");
	st.ntmpl = build_templates(&st.tmpl);
	if (st.ntmpl < 0)
		return st.ntmpl;

	const char *end = text + strlen(text);
	for (const char *p = text; p < end && !rc;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		rc = assemble_line(&st, p, le, ++line);
		p = nl ? nl + 1 : end;
	}
	if (!rc && st.n == 0)
		rc = error(&st, line ? line : 1, "empty program");
	if (!rc)
		rc = resolve(&st);

	free(st.tmpl);
	free(st.labels);
	free(st.buckets);
	free(st.fixups);
	if (rc) {
		if (rc == -ENOMEM && err && errlen)
			snprintf(err, errlen, "line %u: out of memory", line);
		free(st.insns);
		return rc;
	}
	*out = st.insns;
	*n = st.n;
	return 0;
}
