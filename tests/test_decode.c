/* The opcode table and the encoding checks (vm/decode.c).
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "insn.h"
#include "testutil.h"

/* An instruction built from a table row with its key field set. */
static struct bpfvm_insn from_row(int op)
{
	const struct bpfvm_opinfo *oi = &bpfvm_opinfo[op];
	struct bpfvm_insn insn = { .code = oi->code };
	switch (oi->key) {
	case K_OFF: insn.off = (int16_t)oi->keyval; break;
	case K_IMM: insn.imm = oi->keyval; break;
	case K_SRC: insn.src_reg = (uint8_t)oi->keyval; break;
	}
	return insn;
}

START_TEST(every_row_decodes_to_itself)
{
	for (int op = 0; op < OP__COUNT; op++) {
		struct bpfvm_insn insn[2] = { from_row(op), { 0 } };
		char err[128] = "";
		ck_assert_int_eq(bpfvm_decode_op(insn), op);
		ck_assert_msg(bpfvm_check_insn(insn, 2, 0, err, sizeof(err)) == op,
			      "%s: %s", bpfvm_opinfo[op].name, err);
	}
}
END_TEST

START_TEST(no_two_rows_share_an_encoding)
{
	for (int a = 0; a < OP__COUNT; a++)
		for (int b = a + 1; b < OP__COUNT; b++) {
			const struct bpfvm_opinfo *x = &bpfvm_opinfo[a];
			const struct bpfvm_opinfo *y = &bpfvm_opinfo[b];
			if (x->code != y->code)
				continue;
			/* same byte: both must be keyed by the same field, on
			 * different values */
			ck_assert_msg(x->key == y->key && x->key != K_NONE &&
					      x->keyval != y->keyval,
				      "%s and %s collide", x->name, y->name);
		}
}
END_TEST

static int check1(struct bpfvm_insn insn, char *err, size_t len)
{
	struct bpfvm_insn prog[2] = { insn, { .code = 0x95 } };
	return bpfvm_check_insn(prog, 2, 0, err, len);
}

START_TEST(unknown_opcodes_are_named)
{
	char err[128];
	/* 0x8f: NEG with BPF_X; 0x38: LD_ABS of a double word; 0xe5: may_goto
	 * is not in RFC 9669; 0x00: nothing. */
	static const uint8_t bad[] = { 0x8f, 0x38, 0x58, 0x00, 0xf5, 0xe7 };
	for (size_t i = 0; i < sizeof(bad); i++) {
		struct bpfvm_insn insn = { .code = bad[i] };
		ck_assert_int_eq(check1(insn, err, sizeof(err)), -EINVAL);
		char want[64];
		snprintf(want, sizeof(want), "unknown opcode %02x", bad[i]);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

START_TEST(reserved_fields_are_rejected)
{
	char err[128];
	struct bpfvm_insn add_k_src = { .code = 0x07, .src_reg = 1, .imm = 1 };
	ck_assert_int_eq(check1(add_k_src, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "BPF_ALU uses reserved fields");

	struct bpfvm_insn mov_x_imm = { .code = 0xbf, .src_reg = 1, .imm = 1 };
	ck_assert_int_eq(check1(mov_x_imm, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "BPF_MOV uses reserved fields");

	struct bpfvm_insn sdiv_off2 = { .code = 0x3f, .off = 2 };
	ck_assert_int_eq(check1(sdiv_off2, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "BPF_ALU uses reserved fields");

	struct bpfvm_insn bswap8 = { .code = 0xd7, .imm = 8 };
	ck_assert_int_eq(check1(bswap8, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "BPF_END uses reserved fields");

	struct bpfvm_insn exit_imm = { .code = 0x95, .imm = 1 };
	ck_assert_int_eq(check1(exit_imm, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "BPF_EXIT uses reserved fields");

	struct bpfvm_insn bad_atomic = { .code = 0xdb, .imm = 0x02 };
	ck_assert_int_eq(check1(bad_atomic, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "BPF_ATOMIC uses invalid atomic opcode 02");

	struct bpfvm_insn call_dst = { .code = 0x85, .dst_reg = 1, .imm = 5 };
	ck_assert_int_eq(check1(call_dst, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "BPF_CALL uses reserved fields");

	struct bpfvm_insn big_reg = { .code = 0xbf, .dst_reg = 11 };
	ck_assert_int_eq(check1(big_reg, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "R11 is invalid");

	/* fields that are operands are not reserved */
	struct bpfvm_insn st = { .code = 0x7a, .dst_reg = 10, .off = -8, .imm = 7 };
	ck_assert_int_eq(check1(st, err, sizeof(err)), OP_STDW);
	struct bpfvm_insn kfunc = { .code = 0x85, .src_reg = 2, .off = 3, .imm = 9 };
	ck_assert_int_eq(check1(kfunc, err, sizeof(err)), OP_CALL_KFUNC);
}
END_TEST

START_TEST(ld_imm64_needs_its_second_half)
{
	char err[128];
	struct bpfvm_insn lone[1] = { { .code = 0x18, .imm = 1 } };
	ck_assert_int_eq(bpfvm_check_insn(lone, 1, 0, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "invalid bpf_ld_imm64 insn");

	struct bpfvm_insn bad_half[2] = { { .code = 0x18 }, { .code = 0x07 } };
	ck_assert_int_eq(bpfvm_check_insn(bad_half, 2, 0, err, sizeof(err)), -EINVAL);

	struct bpfvm_insn ok[2] = { { .code = 0x18, .imm = 1 }, { .imm = 2 } };
	ck_assert_int_eq(bpfvm_check_insn(ok, 2, 0, err, sizeof(err)), OP_LDDW);
	ck_assert_uint_eq(bpfvm_lddw_value(ok), 0x200000001ull);

	struct bpfvm_insn pseudo7[2] = { { .code = 0x18, .src_reg = 7 }, { 0 } };
	ck_assert_int_eq(bpfvm_check_insn(pseudo7, 2, 0, err, sizeof(err)), -EINVAL);
}
END_TEST

/* ../shared/conformance/negative: one instruction with a reserved field set,
 * then exit, as a "-- raw" byte stream.  Every one must be rejected by the
 * encoding check. */
static int parse_raw_bytes(const char *path, struct bpfvm_insn *out, size_t max)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[512];
	int in_raw = 0;
	size_t nbytes = 0;
	uint8_t bytes[8 * 16];
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "--", 2)) {
			in_raw = !strncmp(line, "-- raw", 6);
			continue;
		}
		if (!in_raw || line[0] == '#')
			continue;
		char *p = line, *end;
		for (;;) {
			unsigned long v = strtoul(p, &end, 16);
			if (end == p)
				break;
			if (nbytes < sizeof(bytes))
				bytes[nbytes++] = (uint8_t)v;
			p = end;
		}
	}
	fclose(f);
	size_t n = nbytes / 8;
	if (n > max)
		n = max;
	memcpy(out, bytes, n * 8);
	return (int)n;
}

START_TEST(negative_vectors_are_rejected)
{
	const char *shared = tu_env("BPFVM_SHARED", NULL);
	char dirpath[4096];
	snprintf(dirpath, sizeof(dirpath), "%s/conformance/negative", shared);
	DIR *d = opendir(dirpath);
	ck_assert_msg(d != NULL, "cannot open %s", dirpath);
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!tu_data_file(e))
			continue;
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name);
		struct bpfvm_insn prog[16];
		int n = parse_raw_bytes(path, prog, 16);
		ck_assert_msg(n >= 1, "%s: no raw section", e->d_name);
		int rejected = 0;
		char err[128];
		for (int i = 0; i < n; i++)
			if (bpfvm_check_insn(prog, (size_t)n, (size_t)i, err,
					     sizeof(err)) < 0)
				rejected = 1;
		ck_assert_msg(rejected, "%s accepted", e->d_name);
		count++;
	}
	closedir(d);
	ck_assert_int_eq(count, 45);
}
END_TEST

START_TEST(helper_names)
{
	ck_assert_str_eq(bpfvm_helper_name(1), "map_lookup_elem");
	ck_assert_str_eq(bpfvm_helper_name(5), "ktime_get_ns");
	ck_assert_str_eq(bpfvm_helper_name(12), "tail_call");
	ck_assert_str_eq(bpfvm_helper_name(211), "cgrp_storage_delete");
	ck_assert_ptr_null(bpfvm_helper_name(0x10000));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("decode");
	TCase *tc = tcase_create("table");
	tcase_add_test(tc, every_row_decodes_to_itself);
	tcase_add_test(tc, no_two_rows_share_an_encoding);
	tcase_add_test(tc, unknown_opcodes_are_named);
	tcase_add_test(tc, reserved_fields_are_rejected);
	tcase_add_test(tc, ld_imm64_needs_its_second_half);
	tcase_add_test(tc, negative_vectors_are_rejected);
	tcase_add_test(tc, helper_names);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
