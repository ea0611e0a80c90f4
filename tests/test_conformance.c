/* The bpf_conformance vectors (tools/conformance.c on the interpreter):
 * every vector passes in raw mode under both dispatches and in checked
 * mode, every negative vector is rejected, and malformed .data files give
 * errors.  The expected values are the vectors' own (upstream's).
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conformance.h"
#include "vm_internal.h"
#include "testutil.h"

#define N_TESTS 313
#define N_NEGATIVE 45

static const char *shared(void)
{
	return tu_env("BPFVM_SHARED", "../shared");
}

/* Run every .data file of shared()/sub; returns how many there were and
 * sets *passed.  Failing names (with why) are collected in `failures`. */
static int run_dir(const char *sub, const struct bpfvm_conf_opts *opts,
		   int *passed, char *failures, size_t len)
{
	char dir[512], path[1024], err[512], detail[512];
	struct dirent **names;
	size_t used = 0;
	int count;

	snprintf(dir, sizeof(dir), "%s/%s", shared(), sub);
	count = scandir(dir, &names, tu_data_file, alphasort);
	ck_assert_msg(count >= 0, "%s: %s", dir, strerror(errno));
	*passed = 0;
	failures[0] = 0;
	for (int i = 0; i < count; i++) {
		struct bpfvm_conf_test t;
		int pass = 0;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (bpfvm_conf_parse(path, &t, err, sizeof(err)) == 0) {
			pass = bpfvm_conf_run(&t, opts, detail, sizeof(detail));
			bpfvm_conf_free(&t);
		} else {
			memcpy(detail, err, sizeof(detail)); /* same size */
		}
		if (pass)
			(*passed)++;
		else if (used < len)
			used += (size_t)snprintf(failures + used, len - used,
						 "\n  %s: %.200s", names[i]->d_name,
						 detail);
		free(names[i]);
	}
	free(names);
	return count;
}

static void all_pass(const char *sub, int want, bool checked, int dispatch)
{
	struct bpfvm_conf_opts opts = { .checked = checked, .dispatch = dispatch };
	static char failures[4000]; /* Check's messages have a size limit */
	int passed, count = run_dir(sub, &opts, &passed, failures,
				    sizeof(failures));
	ck_assert_int_eq(count, want);
	ck_assert_msg(passed == count, "%d of %d failed (%s%s):%s",
		      count - passed, count, checked ? "checked" : "raw",
		      dispatch == BPFVM_DISPATCH_SWITCH ? ", switch" : "",
		      failures);
}

START_TEST(raw_goto) { all_pass("conformance/tests", N_TESTS, false, BPFVM_DISPATCH_GOTO); }
END_TEST
START_TEST(raw_switch) { all_pass("conformance/tests", N_TESTS, false, BPFVM_DISPATCH_SWITCH); }
END_TEST
START_TEST(checked_default) { all_pass("conformance/tests", N_TESTS, true, -1); }
END_TEST
START_TEST(checked_switch) { all_pass("conformance/tests", N_TESTS, true, BPFVM_DISPATCH_SWITCH); }
END_TEST
START_TEST(negative_rejected) { all_pass("conformance/negative", N_NEGATIVE, false, -1); }
END_TEST
START_TEST(negative_rejected_checked) { all_pass("conformance/negative", N_NEGATIVE, true, -1); }
END_TEST

/* Four threads run every vector at once, each on its own VMs, on the same
 * parsed tests (read-only): no shared mutable state anywhere. */
struct batch {
	struct bpfvm_conf_test *tests;
	int n, passed, dispatch;
};

static void *run_batch(void *arg)
{
	struct batch *b = arg;
	/* dispatch -1: the default one, in checked mode */
	struct bpfvm_conf_opts opts = { .checked = b->dispatch < 0,
					.dispatch = b->dispatch };
	char detail[512];
	for (int i = 0; i < b->n; i++)
		b->passed += bpfvm_conf_run(&b->tests[i], &opts, detail,
					    sizeof(detail));
	return NULL;
}

START_TEST(threads)
{
	static struct bpfvm_conf_test tests[N_TESTS];
	char dir[512], path[1024], err[512];
	struct batch b[4];
	pthread_t tid[4];
	struct dirent **names;
	int count;

	snprintf(dir, sizeof(dir), "%s/conformance/tests", shared());
	count = scandir(dir, &names, tu_data_file, alphasort);
	ck_assert_int_eq(count, N_TESTS);
	for (int i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		ck_assert_msg(bpfvm_conf_parse(path, &tests[i], err, sizeof(err))
			      == 0, "%s", err);
		free(names[i]);
	}
	free(names);
	for (int t = 0; t < 4; t++) {
		b[t] = (struct batch){ tests, count, 0, t % 2 ? -1 : t / 2 };
		ck_assert_int_eq(pthread_create(&tid[t], NULL, run_batch, &b[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
		ck_assert_int_eq(b[t].passed, count);
	}
	for (int i = 0; i < count; i++)
		bpfvm_conf_free(&tests[i]);
}
END_TEST

/* Linux 6.18 rejects every negative vector at load time
 * (kernel-6.18-negative.txt); so must we, not merely fail later. */
START_TEST(negative_rejected_at_load)
{
	struct bpfvm_conf_opts opts = { .dispatch = -1 };
	char dir[512], path[1024], err[512], detail[512];
	struct dirent **names;
	int count;

	snprintf(dir, sizeof(dir), "%s/conformance/negative", shared());
	count = scandir(dir, &names, tu_data_file, alphasort);
	ck_assert_int_eq(count, N_NEGATIVE);
	for (int i = 0; i < count; i++) {
		struct bpfvm_conf_test t;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		ck_assert_msg(bpfvm_conf_parse(path, &t, err, sizeof(err)) == 0,
			      "%s", err);
		ck_assert(t.expect_error);
		ck_assert_uint_eq(t.n, 2);
		ck_assert_int_eq(bpfvm_conf_run(&t, &opts, detail, sizeof(detail)), 1);
		ck_assert_msg(strstr(detail, "rejected at load"), "%s: %s",
			      names[i]->d_name, detail);
		bpfvm_conf_free(&t);
		free(names[i]);
	}
	free(names);
}
END_TEST

/* ---- the parser, on files written here -------------------------------- */

/* Write `text` as tmpdir/name.data and parse it. */
static int parse_text(const char *name, const char *text,
		      struct bpfvm_conf_test *t, char *err, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.data", tu_tmpdir(), name);
	tu_write_file(path, text, strlen(text));
	return bpfvm_conf_parse(path, t, err, len);
}

/* A malformed file: an error with a message containing `want`. */
static void rejects(const char *text, const char *want)
{
	struct bpfvm_conf_test t;
	char err[512] = "";
	int ret = parse_text("bad", text, &t, err, sizeof(err));
	ck_assert_msg(ret < 0, "accepted: %s", text);
	ck_assert_msg(strstr(err, want), "error '%s' lacks '%s'", err, want);
	ck_assert_ptr_null(t.insns);
	ck_assert_ptr_null(t.mem);
}

START_TEST(malformed_files_are_errors)
{
	rejects("-- asm\nexit\n", "no result");
	rejects("", "no result");
	rejects("# only a comment\n", "no result");
	rejects("-- result\n0x1\n", "no asm or raw");
	rejects("-- raw\n0x0000000000000095\n-- mem\nzz 01\n-- result\n1\n",
		"bad hex byte 'zz'");
	rejects("-- raw\n0x0000000000000095\n-- mem\n123\n-- result\n1\n",
		"bad hex byte '123'");
	rejects("-- raw\n0xnothex\n-- result\n1\n", "bad instruction word");
	rejects("-- raw\n0x12345678123456789\n-- result\n1\n",
		"bad instruction word");
	rejects("-- raw\n95 00 00 00\n-- result\n1\n", "multiple of 8");
	rejects("-- raw\n95 00 00 00 00 00 00 00 00\n-- result\n1\n",
		"more than 8 bytes");
	rejects("-- raw\n-- result\n1\n", "multiple of 8");
	rejects("-- raw\n0x95\n-- result\n1x\n", "bad result '1x'");
	rejects("-- raw\n0x95\n-- result\n0x\n", "bad result");
	rejects("-- raw\n0x95\n-- result\n18446744073709551616\n",
		"bad result");
	rejects("-- raw\n0x95\n-- result\n1\n2\n", "more than one result");
	rejects("mov %r0, 1\n-- raw\n0x95\n-- result\n1\n",
		"text before the first section");
	rejects("-- asm\nfrobnicate %r0, 1\nexit\n-- result\n1\n", "asm");
	/* the message names the file */
	char where[512];
	snprintf(where, sizeof(where), "%s/bad.data: ", tu_tmpdir());
	rejects("-- asm\n-- result\n1\n", where);
}
END_TEST

START_TEST(errors_name_file_and_line)
{
	struct bpfvm_conf_test t;
	char err[512], want[512];
	int ret = parse_text("line", "# c\n-- raw\n0x95\n-- mem\n00\n0g\n"
			     "-- result\n0\n", &t, err, sizeof(err));
	ck_assert_int_lt(ret, 0);
	snprintf(want, sizeof(want), "%s/line.data:6: bad hex byte '0g'", tu_tmpdir());
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(missing_and_binary_files)
{
	struct bpfvm_conf_test t;
	char err[512], path[512];

	snprintf(path, sizeof(path), "%s/none.data", tu_tmpdir());
	ck_assert_int_lt(bpfvm_conf_parse(path, &t, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "No such file"), "%s", err);

	snprintf(path, sizeof(path), "%s/bin.data", tu_tmpdir());
	tu_write_file(path, "-- raw\n\0\x95", 9);
	ck_assert_int_lt(bpfvm_conf_parse(path, &t, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "NUL"), "%s", err);
}
END_TEST

START_TEST(sections_and_numbers)
{
	struct bpfvm_conf_test t;
	char err[512] = "";
	/* both raw forms, mem over lines, a decimal negative result, notes
	 * and unknown sections skipped, comments after data */
	int ret = parse_text("forms",
			     "# SPDX\n-- c\nint x = 1; -- not a section\n"
			     "-- raw\n0x00000002000000b7 # r0 = 2\n"
			     "95 00 00 00 00 00 00 00\n"
			     "-- mem\naa bb\ncc # third\n\n-- frobnicate\nxyz\n"
			     "-- no register offset\n-- result\n-1\n",
			     &t, err, sizeof(err));
	ck_assert_msg(ret == 0, "%s", err);
	ck_assert_str_eq(t.name, "forms");
	ck_assert_uint_eq(t.n, 2);
	ck_assert_uint_eq(t.insns[0].code, 0xb7);
	ck_assert_int_eq(t.insns[0].imm, 2);
	ck_assert_uint_eq(t.insns[1].code, 0x95);
	ck_assert_uint_eq(t.mem_len, 3);
	ck_assert_uint_eq(t.mem[0], 0xaa);
	ck_assert_uint_eq(t.mem[2], 0xcc);
	ck_assert(t.has_result && !t.expect_error);
	ck_assert_uint_eq(t.result, UINT64_MAX);
	bpfvm_conf_free(&t);

	/* an empty error section is an expectation; no result needed */
	ret = parse_text("err", "-- raw\n0x95\n-- error\n", &t, err, sizeof(err));
	ck_assert_msg(ret == 0, "%s", err);
	ck_assert(t.expect_error && !t.has_result);
	ck_assert_ptr_null(t.mem);
	bpfvm_conf_free(&t);

	ret = parse_text("dec", "-- raw\n0x95\n-- result\n4294967296\n", &t,
			 err, sizeof(err));
	ck_assert_msg(ret == 0, "%s", err);
	ck_assert_uint_eq(t.result, 1ull << 32);
	bpfvm_conf_free(&t);

	/* CRLF line ends */
	ret = parse_text("crlf", "-- raw\r\n0x95\r\n-- mem\r\n01 02\r\n"
			 "-- result\r\n0x10\r\n", &t, err, sizeof(err));
	ck_assert_msg(ret == 0, "%s", err);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(t.mem_len, 2);
	ck_assert_uint_eq(t.result, 16);
	bpfvm_conf_free(&t);
}
END_TEST

/* The raw section wins over asm, as upstream's runner has it. */
START_TEST(raw_takes_precedence)
{
	struct bpfvm_conf_test t;
	char err[512] = "";
	int ret = parse_text("prec", "-- asm\nthis is not assembly\n"
			     "-- raw\n0x0000000000000095\n-- result\n0\n",
			     &t, err, sizeof(err));
	ck_assert_msg(ret == 0, "%s", err);
	ck_assert_uint_eq(t.n, 1);
	bpfvm_conf_free(&t);
}
END_TEST

/* The judge: a wrong result, an unexpected success, an expected error. */
START_TEST(judging)
{
	struct bpfvm_conf_opts opts = { .dispatch = -1 };
	struct bpfvm_conf_test t;
	char err[512] = "", detail[512];

	/* r0 = 7; exit */
	ck_assert_int_eq(parse_text("wrong", "-- raw\n0x00000007000000b7\n"
				    "0x95\n-- result\n0x8\n", &t, err,
				    sizeof(err)), 0);
	ck_assert_int_eq(bpfvm_conf_run(&t, &opts, detail, sizeof(detail)), 0);
	ck_assert_str_eq(detail, "got 0x7, expected 0x8");
	t.result = 7;
	ck_assert_int_eq(bpfvm_conf_run(&t, &opts, detail, sizeof(detail)), 1);
	ck_assert_str_eq(detail, "");
	t.expect_error = true;
	ck_assert_int_eq(bpfvm_conf_run(&t, &opts, detail, sizeof(detail)), 0);
	ck_assert_str_eq(detail, "expected an error; got 0x7");
	bpfvm_conf_free(&t);

	/* opcode 0x00 is no instruction: a load error */
	ck_assert_int_eq(parse_text("bad", "-- raw\n0x0\n0x95\n-- result\n0\n",
				    &t, err, sizeof(err)), 0);
	ck_assert_int_eq(bpfvm_conf_run(&t, &opts, detail, sizeof(detail)), 0);
	ck_assert_msg(strstr(detail, "rejected at load"), "%s", detail);
	t.expect_error = true;
	ck_assert_int_eq(bpfvm_conf_run(&t, &opts, detail, sizeof(detail)), 1);
	bpfvm_conf_free(&t);

	/* r0 = *(u64 *)(r1 + 0) with no memory: r1 is NULL, a run-time error
	 * in checked mode */
	ck_assert_int_eq(parse_text("null", "-- raw\n0x0000000000001079\n0x95\n"
				    "-- error\n", &t, err, sizeof(err)), 0);
	opts.checked = true;
	ck_assert_int_eq(bpfvm_conf_run(&t, &opts, detail, sizeof(detail)), 1);
	ck_assert_msg(strstr(detail, "run time"), "%s", detail);
	bpfvm_conf_free(&t);
}
END_TEST

/* An endless loop must not hang the runner, even in raw mode. */
START_TEST(endless_loop_ends)
{
	struct bpfvm_conf_opts opts = { .dispatch = -1 };
	struct bpfvm_conf_test t;
	char err[512] = "", detail[512];
	/* l: goto l (ja -1); exit */
	ck_assert_int_eq(parse_text("loop", "-- raw\n0x00000000ffff0005\n0x95\n"
				    "-- result\n0\n", &t, err, sizeof(err)), 0);
	ck_assert_int_eq(bpfvm_conf_run(&t, &opts, detail, sizeof(detail)), 0);
	ck_assert_msg(strstr(detail, "run time"), "%s", detail);
	bpfvm_conf_free(&t);
}
END_TEST

/* The program gets a copy: a vector that writes its memory leaves the
 * parsed bytes as they were, so it can run again. */
START_TEST(memory_is_copied)
{
	struct bpfvm_conf_opts opts = { .dispatch = -1 };
	struct bpfvm_conf_test t;
	char err[512] = "", detail[512];
	/* r0 = *(u8 *)(r1 + 0); *(u8 *)(r1 + 0) = 9; exit */
	ck_assert_int_eq(parse_text("copy", "-- raw\n0x0000000000001071\n"
				    "0x0000000900000172\n0x95\n-- mem\n05\n"
				    "-- result\n5\n", &t, err, sizeof(err)), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_msg(bpfvm_conf_run(&t, &opts, detail, sizeof(detail)),
			      "%s", detail);
	ck_assert_uint_eq(t.mem[0], 5);
	bpfvm_conf_free(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conformance");
	TCase *vec = tcase_create("vectors"), *parse = tcase_create("parser");

	tcase_set_timeout(vec, 60);
	tcase_add_test(vec, raw_goto);
	tcase_add_test(vec, raw_switch);
	tcase_add_test(vec, checked_default);
	tcase_add_test(vec, checked_switch);
	tcase_add_test(vec, negative_rejected);
	tcase_add_test(vec, negative_rejected_checked);
	tcase_add_test(vec, negative_rejected_at_load);
	tcase_add_test(vec, threads);
	suite_add_tcase(s, vec);

	tcase_add_checked_fixture(parse, tu_tmpdir_make, tu_tmpdir_remove);
	tcase_add_test(parse, malformed_files_are_errors);
	tcase_add_test(parse, errors_name_file_and_line);
	tcase_add_test(parse, missing_and_binary_files);
	tcase_add_test(parse, sections_and_numbers);
	tcase_add_test(parse, raw_takes_precedence);
	tcase_add_test(parse, judging);
	tcase_add_test(parse, memory_is_copied);
	tcase_add_test(parse, endless_loop_ends);
	suite_add_tcase(s, parse);

	return tu_run_suite(s);
}
