/* The `bpfvm` command ($BPFVM_BIN), run as a user would: exit statuses,
 * one-line errors, and outputs whose right values come from the ISA
 * (encodings, the kernel's disassembly syntax) or from the inputs.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "testutil.h"

static char out[1 << 16], err[1 << 12]; /* the last command's outputs */

/* tmpdir/name, in a rotating set of buffers so a call can use several. */
static const char *tmp(const char *name)
{
	static char paths[4][512];
	static int next;
	char *p = paths[next++ % 4];
	snprintf(p, 512, "%s/%s", tu_tmpdir(), name);
	return p;
}

/* A temp path that outlives the rotation of tmp()'s buffers. */
static void keep(char dst[512], const char *name)
{
	snprintf(dst, 512, "%s/%s", tu_tmpdir(), name);
}

static const char *example(const char *name)
{
	static char paths[2][512];
	static int next;
	char *p = paths[next++ % 2];
	snprintf(p, 512, "%s/../tools/examples/%s",
		 tu_env("BPFVM_TESTS", "tests"), name);
	return p;
}

#define write_str(path, s) tu_write_file(path, s, strlen(s))

/* Run bpfvm with the given arguments (NULL-terminated); capture stdout
 * and stderr in out and err; return the exit status. */
static int bpfvm(const char *arg, ...)
{
	const char *args[32];
	int argc = 0;
	va_list ap;

	va_start(ap, arg);
	for (; arg && argc < 31; arg = va_arg(ap, const char *))
		args[argc++] = arg;
	va_end(ap);
	args[argc] = NULL;
	return tu_bpfvm(args, NULL, out, sizeof(out), err, sizeof(err));
}

/* stderr holds exactly one line, which contains `want`. */
static void one_line_error(const char *want)
{
	size_t len = strlen(err);
	ck_assert_msg(len > 0 && err[len - 1] == '\n' &&
			      strchr(err, '\n') == err + len - 1,
		      "not one line: '%s'", err);
	ck_assert_msg(strstr(err, want), "'%s' lacks '%s'", err, want);
}

static const char *last_line(void)
{
	size_t len = strlen(out);
	ck_assert_msg(len && out[len - 1] == '\n', "no last line: '%s'", out);
	out[len - 1] = 0;
	char *nl = strrchr(out, '\n');
	return nl ? nl + 1 : out;
}

/* ---- help, version, usage errors -------------------------------------- */

START_TEST(help_and_version)
{
	static const char *cmds[] = { "asm", "disasm", "run", "conformance" };
	char want[64];

	ck_assert_int_eq(bpfvm("--version", NULL), 0);
	ck_assert_msg(!strncmp(out, "bpfvm ", 6) && out[6] >= '0' &&
			      out[6] <= '9', "%s", out);
	ck_assert_int_eq(bpfvm("--help", NULL), 0);
	for (size_t i = 0; i < 4; i++) {
		snprintf(want, sizeof(want), "  %s ", cmds[i]);
		ck_assert_msg(strstr(out, want), "help lacks %s", cmds[i]);
	}
	ck_assert_str_eq(err, "");
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(bpfvm(cmds[i], "--help", NULL), 0);
		snprintf(want, sizeof(want), "Usage: bpfvm %s ", cmds[i]);
		ck_assert_msg(!strncmp(out, want, strlen(want)), "%s", out);
	}
	/* no command: the usage, on stderr */
	ck_assert_int_eq(bpfvm(NULL), 2);
	ck_assert_msg(strstr(err, "Usage: bpfvm"), "%s", err);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(usage_errors)
{
	ck_assert_int_eq(bpfvm("frobnicate", NULL), 2);
	one_line_error("unknown command 'frobnicate'");
	ck_assert_int_eq(bpfvm("--frobnicate", NULL), 2);
	one_line_error("unknown option '--frobnicate'");
	ck_assert_int_eq(bpfvm("run", "--frobnicate", example("fib.s"), NULL), 2);
	one_line_error("bpfvm run: unknown option '--frobnicate'");
	ck_assert_int_eq(bpfvm("asm", "-x", example("fib.s"), NULL), 2);
	one_line_error("bpfvm asm: unknown option '-x'");
	ck_assert_int_eq(bpfvm("run", NULL), 2);
	one_line_error("bpfvm run: missing operand");
	ck_assert_int_eq(bpfvm("disasm", "a", "b", NULL), 2);
	one_line_error("bpfvm disasm: unexpected operand 'b'");
	ck_assert_int_eq(bpfvm("run", example("fib.s"), "--mem", NULL), 2);
	one_line_error("bpfvm run: unexpected operand '--mem'");
	ck_assert_int_eq(bpfvm("run", "--trace=yes", example("fib.s"), NULL), 2);
	one_line_error("bpfvm run: option '--trace' takes no argument");
	ck_assert_int_eq(bpfvm("conformance", "--frob=1", "x", NULL), 2);
	one_line_error("bpfvm conformance: unknown option '--frob' ");
	ck_assert_int_eq(bpfvm("run", "--mem", NULL), 2);
	one_line_error("option '--mem' needs an argument");
	ck_assert_int_eq(bpfvm("run", "--engine", "jit", example("fib.s"), NULL), 2);
	one_line_error("bpfvm run: unknown engine 'jit'");
	ck_assert_int_eq(bpfvm("run", "--budget", "lots", example("fib.s"), NULL), 2);
	one_line_error("bpfvm run: bad budget 'lots'");
	ck_assert_int_eq(bpfvm("run", "--dispatch", "jump", example("fib.s"), NULL), 2);
	one_line_error("unknown dispatch 'jump'");
	ck_assert_int_eq(bpfvm("conformance", "--dispatch", "x", "dir", NULL), 2);
	one_line_error("unknown dispatch 'x'");
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(missing_files)
{
	char want[600];
	char none[512];
	keep(none, "none.bin");

	ck_assert_int_eq(bpfvm("run", none, NULL), 2);
	snprintf(want, sizeof(want), "bpfvm run: cannot open %s: No such file "
		 "or directory\n", none);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(bpfvm("run", "--mem", none, example("fib.s"), NULL), 2);
	one_line_error("No such file or directory");
	ck_assert_int_eq(bpfvm("disasm", none, NULL), 2);
	one_line_error("bpfvm disasm: cannot open");
	ck_assert_int_eq(bpfvm("asm", none, NULL), 2);
	one_line_error("bpfvm asm: cannot open");
	ck_assert_int_eq(bpfvm("run", tu_tmpdir(), NULL), 2);
	one_line_error("Is a directory");
	ck_assert_int_eq(bpfvm("conformance", none, NULL), 2);
	one_line_error("bpfvm conformance: cannot open");
	ck_assert_int_eq(bpfvm("conformance", tu_tmpdir(), NULL), 2);
	one_line_error("no .data files");
}
END_TEST

/* ---- run ------------------------------------------------------------- */

/* Kernel encodings (include/uapi/linux/bpf.h, RFC 9669):
 * b7 mov64 imm, bf mov64 reg, 07 add64 imm, 71 ldxb, 79 ldxdw, 95 exit. */
static const unsigned char ret42[] = {
	0xb7, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, /* r0 = 42 */
	0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* exit */
};

START_TEST(run_examples)
{
	char mem[256];
	size_t n = tu_read_file(example("hello.txt"), mem, sizeof(mem));
	unsigned sum = 0;
	char want[32];

	/* the 20th Fibonacci number */
	ck_assert_int_eq(bpfvm("run", example("fib.s"), NULL), 0);
	ck_assert_str_eq(out, "0x1a6d\n");
	ck_assert_str_eq(err, "");
	/* 10!, through a bpf-to-bpf call */
	ck_assert_int_eq(bpfvm("run", example("fact.s"), NULL), 0);
	ck_assert_str_eq(out, "0x375f00\n");
	for (size_t i = 0; i < n; i++)
		sum += (unsigned char)mem[i];
	snprintf(want, sizeof(want), "0x%x\n", sum);
	ck_assert_int_eq(bpfvm("run", "--mem", example("hello.txt"),
			       example("sum.s"), NULL), 0);
	ck_assert_str_eq(out, want);
	/* no memory: r2 = 0, the loop does not run */
	ck_assert_int_eq(bpfvm("run", example("sum.s"), NULL), 0);
	ck_assert_str_eq(out, "0x0\n");
	/* same answers raw, and on the other dispatch */
	ck_assert_int_eq(bpfvm("run", "--unchecked", "--dispatch", "switch",
			       "--mem", example("hello.txt"), example("sum.s"),
			       NULL), 0);
	ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(run_registers)
{
	char mem[512], prog[512], buf[16];
	keep(mem, "mem");
	keep(prog, "p.s");

	tu_write_file(mem, "\x11\x22\x33\x44\x55", 5);
	write_str(prog, "r0 = r2\nexit\n");
	ck_assert_int_eq(bpfvm("run", "--mem", mem, prog, NULL), 0);
	ck_assert_str_eq(out, "0x5\n");
	ck_assert_int_eq(bpfvm("run", prog, NULL), 0);
	ck_assert_str_eq(out, "0x0\n");
	write_str(prog, "r0 = r1\nexit\n");
	ck_assert_int_eq(bpfvm("run", prog, NULL), 0);
	ck_assert_str_eq(out, "0x0\n");
	write_str(prog, "r0 = *(u8 *)(r1 +2)\nexit\n");
	ck_assert_int_eq(bpfvm("run", "--mem", mem, prog, NULL), 0);
	ck_assert_str_eq(out, "0x33\n");
	/* the block is writable; the file is not touched */
	write_str(prog, "*(u8 *)(r1 +4) = 7\nr0 = *(u8 *)(r1 +4)\nexit\n");
	ck_assert_int_eq(bpfvm("run", "--mem", mem, prog, NULL), 0);
	ck_assert_str_eq(out, "0x7\n");
	ck_assert_uint_eq(tu_read_file(mem, buf, sizeof(buf)), 5);
	ck_assert(!memcmp(buf, "\x11\x22\x33\x44\x55", 5));
	/* all 64 bits, in hex */
	write_str(prog, "r0 = -1\nexit\n");
	ck_assert_int_eq(bpfvm("run", prog, NULL), 0);
	ck_assert_str_eq(out, "0xffffffffffffffff\n");
	/* raw bytecode */
	tu_write_file(tmp("p.bin"), ret42, sizeof(ret42));
	ck_assert_int_eq(bpfvm("run", tmp("p.bin"), NULL), 0);
	ck_assert_str_eq(out, "0x2a\n");
}
END_TEST

START_TEST(run_failures)
{
	char prog[512];
	keep(prog, "p.s");
	static const unsigned char bad_op[] = {
		0xff, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0,
	};

	/* not assembly */
	write_str(prog, "frobnicate r0\nexit\n");
	ck_assert_int_eq(bpfvm("run", prog, NULL), 1);
	one_line_error("bpfvm run: ");
	ck_assert_str_eq(out, "");
	/* not whole instructions */
	tu_write_file(tmp("p.bin"), ret42, 12);
	ck_assert_int_eq(bpfvm("run", tmp("p.bin"), NULL), 1);
	one_line_error("bpfvm run: ");
	/* an invalid opcode: rejected at load */
	tu_write_file(tmp("p.bin"), bad_op, sizeof(bad_op));
	ck_assert_int_eq(bpfvm("run", tmp("p.bin"), NULL), 1);
	one_line_error("bpfvm run: ");
	/* a NULL dereference: caught by checked mode, with its index */
	write_str(prog, "r0 = 0\nr0 = *(u64 *)(r1 +0)\nexit\n");
	ck_assert_int_eq(bpfvm("run", prog, NULL), 1);
	one_line_error("insn 1");
	ck_assert_str_eq(out, "");
	/* out of the memory block's bounds */
	write_str(tmp("mem"), "abcd");
	write_str(prog, "r0 = *(u32 *)(r1 +1)\nexit\n");
	ck_assert_int_eq(bpfvm("run", "--mem", tmp("mem"), prog, NULL), 1);
	one_line_error("bpfvm run: ");
	/* an endless loop ends at the budget */
	write_str(prog, "l: r0 += 1\ngoto l\nexit\n");
	ck_assert_int_eq(bpfvm("run", "--budget", "1000", prog, NULL), 1);
	one_line_error("bpfvm run: ");
}
END_TEST

START_TEST(trace)
{
	char prog[512];
	keep(prog, "t.s");
	write_str(prog, "r0 = 1\nr0 += 1\nr1 = r0\nexit\n");
	ck_assert_int_eq(bpfvm("run", "--trace", prog, NULL), 0);
	ck_assert_msg(strstr(out, "   1: (07) r0 += 1          ; r0: 0x1 -> 0x2\n"),
		      "%s", out);
	ck_assert_msg(strstr(out, "   2: (bf) r1 = r0          ; r1: 0x0 -> 0x2\n"),
		      "%s", out);
	ck_assert_msg(strstr(out, "   3: (95) exit\n"), "%s", out);
	ck_assert_str_eq(last_line(), "0x2");
	/* ld_imm64 takes two slots, shown as one line; stores change no
	 * register; long text is not padded */
	write_str(prog, "r0 = 0x1122334455667788 ll\n*(u64 *)(r10 -8) = r0\n"
		  "exit\n");
	ck_assert_int_eq(bpfvm("run", "--trace", prog, NULL), 0);
	ck_assert_str_eq(out, "   0: (18) r0 = 0x1122334455667788 ; r0: 0x0 -> "
			      "0x1122334455667788\n"
			      "   2: (7b) *(u64 *)(r10 -8) = r0\n"
			      "   3: (95) exit\n"
			      "0x1122334455667788\n");
}
END_TEST

/* ---- asm, disasm ------------------------------------------------------ */

START_TEST(asm_then_run)
{
	char bin[64];
	char src[512];
	keep(src, "x.s");

	write_str(src, "mov %r0, 42\nexit\n");
	ck_assert_int_eq(bpfvm("asm", "-o", tmp("y.bin"), src, NULL), 0);
	ck_assert_uint_eq(tu_read_file(tmp("y.bin"), bin, sizeof(bin)), 16);
	ck_assert(!memcmp(bin, ret42, 16));
	ck_assert_int_eq(bpfvm("run", tmp("y.bin"), NULL), 0);
	ck_assert_str_eq(out, "0x2a\n");
	/* default output: the extension replaced */
	ck_assert_int_eq(bpfvm("asm", src, NULL), 0);
	ck_assert_uint_eq(tu_read_file(tmp("x.bin"), bin, sizeof(bin)), 16);
	ck_assert(!memcmp(bin, ret42, 16));
	/* standard output */
	ck_assert_msg(bpfvm("asm", "-o", "-", src, NULL) == 0, "%s", err);
	ck_assert(!memcmp(out, ret42, 16));
	/* a .bin input would be overwritten */
	ck_assert_int_eq(bpfvm("asm", tmp("x.bin"), NULL), 2);
	one_line_error("-o");
	/* an assembler error names the line */
	write_str(src, "r0 = 1\nr0 +-= 2\nexit\n");
	ck_assert_int_eq(bpfvm("asm", "-o", tmp("z.bin"), src, NULL), 1);
	one_line_error("line 2");
	ck_assert_int_ne(access(tmp("z.bin"), F_OK), 0);
	/* the examples assemble and still run */
	ck_assert_int_eq(bpfvm("asm", "-o", tmp("fib.bin"), example("fib.s"), NULL), 0);
	ck_assert_int_eq(bpfvm("run", tmp("fib.bin"), NULL), 0);
	ck_assert_str_eq(out, "0x1a6d\n");
}
END_TEST

START_TEST(disasm)
{
	static const unsigned char prog[] = {
		0xb7, 0x01, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, /* r1 = 5 */
		0x15, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, /* if r1 == 0x0 goto pc+1 */
		0x07, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, /* r1 += -1 */
		0xbf, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* r0 = r1 */
		0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* exit */
	};
	tu_write_file(tmp("d.bin"), prog, sizeof(prog));
	ck_assert_int_eq(bpfvm("disasm", tmp("d.bin"), NULL), 0);
	/* the kernel verifier log's lines (kernel/bpf/disasm.c) */
	ck_assert_str_eq(out, "0: (b7) r1 = 5\n"
			      "1: (15) if r1 == 0x0 goto pc+1\n"
			      "2: (07) r1 += -1\n"
			      "3: (bf) r0 = r1\n"
			      "4: (95) exit\n");
	ck_assert_int_eq(bpfvm("disasm", "--visual", tmp("d.bin"), NULL), 0);
	ck_assert_msg(!strncmp(out, "digraph", 7), "%s", out);
	ck_assert_msg(strchr(out, '}'), "%s", out);
	/* assembly text too */
	ck_assert_int_eq(bpfvm("disasm", example("fib.s"), NULL), 0);
	ck_assert_msg(!strncmp(out, "0: (b7) r0 = 0\n1: (b7) r1 = 1\n", 30), "%s", out);
	/* an invalid instruction: still printed, exit 1 */
	tu_write_file(tmp("d.bin"), "\xff\0\0\0\0\0\0\0\x95\0\0\0\0\0\0\0", 16);
	ck_assert_int_eq(bpfvm("disasm", tmp("d.bin"), NULL), 1);
	ck_assert_msg(strstr(out, "1: (95) exit\n"), "%s", out);
	one_line_error("bpfvm disasm: ");
}
END_TEST

/* ---- conformance ------------------------------------------------------ */

START_TEST(conformance)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/conformance/tests",
		 tu_env("BPFVM_SHARED", "../shared"));
	ck_assert_int_eq(bpfvm("conformance", dir, NULL), 0);
	ck_assert_msg(!strncmp(out, "PASS add\nPASS add64\n", 20), "%.200s", out);
	ck_assert_str_eq(last_line(), "313 passed, 0 failed");
	ck_assert_int_eq(bpfvm("conformance", "--checked", "--dispatch",
			       "switch", dir, NULL), 0);
	ck_assert_str_eq(last_line(), "313 passed, 0 failed");
	snprintf(dir, sizeof(dir), "%s/conformance/negative",
		 tu_env("BPFVM_SHARED", "../shared"));
	ck_assert_int_eq(bpfvm("conformance", dir, NULL), 0);
	ck_assert_str_eq(last_line(), "45 passed, 0 failed");
}
END_TEST

START_TEST(conformance_failures)
{
	/* r0 = 42; exit, claimed to return 43; and a malformed file */
	write_str(tmp("a-wrong.data"), "-- raw\n0x0000002a000000b7\n0x95\n"
		   "-- result\n0x2b\n");
	write_str(tmp("b-bad.data"), "-- raw\n0x95\n");
	write_str(tmp("c-right.data"), "-- asm\nmov %r0, 43\nexit\n"
		   "-- result\n43\n");
	write_str(tmp("d-ignored.txt"), "x");
	ck_assert_int_eq(bpfvm("conformance", tu_tmpdir(), NULL), 1);
	ck_assert_msg(strstr(out, "FAIL a-wrong: got 0x2a, expected 0x2b\n"),
		      "%s", out);
	ck_assert_msg(strstr(out, "FAIL b-bad: "), "%s", out);
	ck_assert_msg(strstr(out, "PASS c-right\n"), "%s", out);
	ck_assert_str_eq(last_line(), "1 passed, 2 failed");
	/* one file */
	ck_assert_int_eq(bpfvm("conformance", tmp("c-right.data"), NULL), 0);
	ck_assert_str_eq(out, "PASS c-right\n1 passed, 0 failed\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, tu_tmpdir_make, tu_tmpdir_remove);
	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, missing_files);
	tcase_add_test(tc, run_examples);
	tcase_add_test(tc, run_registers);
	tcase_add_test(tc, run_failures);
	tcase_add_test(tc, trace);
	tcase_add_test(tc, asm_then_run);
	tcase_add_test(tc, disasm);
	tcase_add_test(tc, conformance);
	tcase_add_test(tc, conformance_failures);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
