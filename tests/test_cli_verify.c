/* `bpfvm verify` and the typed `bpfvm run` ($BPFVM_BIN) as a user runs
 * them.  Expected logs, retvals and data_out are what Linux 6.18's bpf(2)
 * answers for the same programs and packets (checked with PROG_LOAD and
 * PROG_TEST_RUN on the running kernel): e.g. a socket filter's skb->len
 * is the packet minus the 14-byte Ethernet header (eth_type_trans pulls
 * it), a tc program's the whole packet, XDP wants at least 14 bytes.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static char out[1 << 21], err[1 << 14]; /* the last command's outputs */

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bpfvm-cliverify-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = 0;
}

static void spill(const char *name, const void *data, size_t len)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void prog(const char *name, const char *text)
{
	spill(name, text, strlen(text));
}

/* Run "bpfvm ARGS" in tmpdir (ARGS: a printf format, words split at
 * spaces); capture stdout and stderr; return the exit status. */
static int run(const char *fmt, ...)
{
	char line[1024], opath[300], epath[300], *argv[64], *save = NULL;
	const char *bin = getenv("BPFVM_BIN");
	int argc = 0, status;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	argv[argc++] = (char *)(bin ? bin : "build/bpfvm");
	for (char *w = strtok_r(line, " ", &save); w && argc < 63;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;

	snprintf(opath, sizeof(opath), "%s/.out", tmpdir);
	snprintf(epath, sizeof(epath), "%s/.err", tmpdir);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int o = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 ||
		    chdir(tmpdir) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "bpfvm %s: killed by signal %d",
		      fmt, WTERMSIG(status));
	slurp(opath, out, sizeof(out));
	slurp(epath, err, sizeof(err));
	ck_assert_msg(WEXITSTATUS(status) != 127, "cannot run %s", argv[0]);
	return WEXITSTATUS(status);
}

#define HAS(buf, s) ck_assert_msg(strstr(buf, s) != NULL, \
	"missing '%s' in:\n%s\n(stderr: %s)", s, buf, err)

/* The last line of the log: the kernel's statistics line. */
static const char *last_line(void)
{
	size_t n = strlen(out);
	ck_assert_msg(n && out[n - 1] == '\n', "no final newline: '%s'", out);
	const char *p = out + n - 1;
	while (p > out && p[-1] != '\n')
		p--;
	return p;
}

/* A 64-byte IPv4-looking frame: bytes i = i, ethertype 0x0800. */
static unsigned char packet[64];

static void setup(void)
{
	make_tmpdir();
	for (int i = 0; i < 64; i++)
		packet[i] = (unsigned char)i;
	packet[12] = 8;
	packet[13] = 0;
	spill("pkt", packet, sizeof(packet));
	spill("short", packet, 10);
	prog("ok.s", "r0 = 0\nexit\n");
	prog("uninit.s", "r0 = r2\nexit\n");
	prog("ctx.s", "r0 = *(u32 *)(r1 + 4000)\nexit\n");
	prog("pass.s", "r0 = 2\nexit\n");
	prog("len.s", "r0 = *(u32 *)(r1 + 0)\nexit\n");
	/* xdp: the first byte becomes 0xaa when the packet has one */
	prog("write.s", "r2 = *(u32 *)(r1 + 0)\n"
			"r3 = *(u32 *)(r1 + 4)\n"
			"r4 = r2\n"
			"r4 += 1\n"
			"if r4 > r3 goto +1\n"
			"*(u8 *)(r2 + 0) = 170\n"
			"r0 = 2\n"
			"exit\n");
}

static void teardown(void)
{
	remove_tmpdir();
}

/* The kernel's level-1 log of an accepted program is its statistics line
 * alone (the level-1 trace of a successful check is dropped). */
START_TEST(verify_accepts)
{
	ck_assert_int_eq(run("verify ok.s"), 0);
	ck_assert_str_eq(out, "processed 2 insns (limit 1000000) "
		"max_states_per_insn 0 total_states 0 peak_states 0 "
		"mark_read 0\n");
	ck_assert_str_eq(err, "");
	/* the same for the other types, and as raw bytecode */
	ck_assert_int_eq(run("asm -o ok.bin ok.s"), 0);
	ck_assert_int_eq(run("verify --type xdp ok.bin"), 0);
	ck_assert_int_eq(strncmp(last_line(), "processed 2 insns", 17), 0);
	ck_assert_int_eq(run("verify --type sched_cls ok.s"), 0);
	ck_assert_int_eq(strncmp(last_line(), "processed 2 insns", 17), 0);
}
END_TEST

START_TEST(verify_rejects)
{
	ck_assert_int_eq(run("verify uninit.s"), 1);
	ck_assert_str_eq(out, "0: R1=ctx() R10=fp0\n"
		"0: (bf) r0 = r2\n"
		"R2 !read_ok\n"
		"processed 1 insns (limit 1000000) max_states_per_insn 0 "
		"total_states 0 peak_states 0 mark_read 0\n");
	HAS(err, "uninit.s: rejected: Permission denied");

	ck_assert_int_eq(run("verify ctx.s"), 1);
	ck_assert_str_eq(out, "0: R1=ctx() R10=fp0\n"
		"0: (61) r0 = *(u32 *)(r1 +4000)\n"
		"invalid bpf_context access off=4000 size=4\n"
		"processed 1 insns (limit 1000000) max_states_per_insn 0 "
		"total_states 0 peak_states 0 mark_read 0\n");
	ck_assert_int_eq(run("verify --type xdp ctx.s"), 1);
	HAS(out, "invalid bpf_context access off=4000 size=4\n");
}
END_TEST

START_TEST(verify_level2)
{
	ck_assert_int_eq(run("verify --log-level 2 ok.s"), 0);
	/* the initial state, a line per instruction with the registers it
	 * changed after ';' (the kernel's level 2 also starts with its
	 * liveness table, which bpfvm does not print) */
	HAS(out, "0: R1=ctx() R10=fp0\n"
		 "0: (b7) r0 = 0                        ; R0=0\n"
		 "1: (95) exit\n"
		 "processed 2 insns (limit 1000000) max_states_per_insn 0 "
		 "total_states 0 peak_states 0 mark_read 0\n");
	ck_assert_int_eq(strncmp(last_line(), "processed 2 insns", 17), 0);
	/* level 1 has no state lines */
	ck_assert_int_eq(run("verify --log-level 1 ok.s"), 0);
	ck_assert_ptr_null(strstr(out, "; R0=0"));
	/* level 2 of a rejected program: the state before the error */
	ck_assert_int_eq(run("verify --log-level 2 ctx.s"), 1);
	HAS(out, "0: R1=ctx() R10=fp0\n0: (61) r0 = *(u32 *)(r1 +4000)\n"
		 "invalid bpf_context access off=4000 size=4\n");
}
END_TEST

/* Level 4: the statistics alone (verification time varies). */
START_TEST(verify_level4)
{
	unsigned us;
	int used = 0;
	ck_assert_int_eq(run("verify --log-level 4 ok.s"), 0);
	ck_assert_int_eq(sscanf(out, "verification time %u usec\nstack depth 0\n%n",
				&us, &used), 1);
	ck_assert_int_gt(used, 0);
	ck_assert_str_eq(out + used, "processed 2 insns (limit 1000000) "
		"max_states_per_insn 0 total_states 0 peak_states 0 "
		"mark_read 0\n");
	/* a rejection: the error line first, then the statistics */
	ck_assert_int_eq(run("verify --log-level 4 uninit.s"), 1);
	ck_assert_int_eq(strncmp(out, "R2 !read_ok\nverification time ", 30),
			 0);
}
END_TEST

/* A level-2 log bigger than the first buffer (64 KiB): the command grows
 * the buffer on ENOSPC and prints the whole log once. */
START_TEST(verify_big_log)
{
	static char text[5000 * 7 + 6];
	char *p = text;
	for (int i = 0; i < 5000; i++)
		p += sprintf(p, "r0 = 0\n");
	strcpy(p, "exit\n");
	prog("big.s", text);
	ck_assert_int_eq(run("verify --log-level 2 big.s"), 0);
	ck_assert_uint_gt(strlen(out), 64u << 10);
	HAS(out, "0: (b7) r0 = 0");
	HAS(out, "\n4999: (b7) r0 = 0");
	/* each instruction once: no leftover of a truncated attempt */
	int lines = 0;
	for (const char *q = out; (q = strstr(q, ": (b7) r0 = 0")); q++)
		lines++;
	ck_assert_int_eq(lines, 5000);
	ck_assert_str_eq(last_line(), "processed 5001 insns (limit 1000000) "
		"max_states_per_insn 0 total_states 0 peak_states 0 "
		"mark_read 0\n");
}
END_TEST

START_TEST(verify_usage)
{
	ck_assert_int_eq(run("verify --type nosuch ok.s"), 2);
	HAS(err, "unknown program type 'nosuch'");
	HAS(err, "(known: socket_filter ");
	HAS(err, " xdp ");
	const char *nl = strchr(err, '\n'); /* one line */
	ck_assert(nl && !nl[1]);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(run("verify --log-level 0 ok.s"), 2);
	ck_assert_int_eq(run("verify --log-level 8 ok.s"), 2);
	ck_assert_int_eq(run("verify --log-level x ok.s"), 2);
	ck_assert_int_eq(run("verify"), 2);
	ck_assert_int_eq(run("verify ok.s ok.s"), 2);
	ck_assert_int_eq(run("verify missing.s"), 2);
	ck_assert_int_eq(run("verify --map missing.map ok.s"), 2);
	ck_assert_int_eq(run("verify --bogus ok.s"), 2);
	ck_assert_int_eq(run("verify --help"), 0);
	HAS(out, "Usage: bpfvm verify");
	/* a file that opens but is no program: read, then failed */
	spill("junk.s", "this is not bpf\n", 16);
	ck_assert_int_eq(run("verify junk.s"), 1);
}
END_TEST

/* A map from a `bpfvm map` file, named through fd_array (map_idx 0).  A
 * hash map: 6.18 knows an array lookup with a constant key in range
 * cannot be NULL, a hash lookup can. */
START_TEST(verify_map)
{
	ck_assert_int_eq(run("map create m type hash key 4 value 8 entries 1"),
			 0);
	ck_assert_int_eq(run("map update m key 0 0 0 0 value 42 0 0 0 0 0 0 0"),
			 0);
	prog("lookup.s", "*(u32 *)(r10 - 4) = 0\n"
			 "r2 = r10\n"
			 "r2 += -4\n"
			 "lddw map_idx %r1, 0\n"
			 "call 1\n"
			 "if r0 == 0 goto +2\n"
			 "r0 = *(u64 *)(r0 + 0)\n"
			 "exit\n"
			 "r0 = 0\n"
			 "exit\n");
	ck_assert_int_eq(run("verify --map m lookup.s"), 0);
	ck_assert_int_eq(strncmp(last_line(), "processed ", 10), 0);
	/* without the map the fd_array is missing */
	ck_assert_int_ne(run("verify lookup.s"), 0);
	/* and it runs: the value the map file holds */
	ck_assert_int_eq(run("run --type xdp --map m --data pkt lookup.s"), 0);
	ck_assert_str_eq(out, "retval: 0x2a\n");
	/* an unchecked NULL: the kernel's message for it */
	prog("nullderef.s", "*(u32 *)(r10 - 4) = 0\n"
			    "r2 = r10\n"
			    "r2 += -4\n"
			    "lddw map_idx %r1, 0\n"
			    "call 1\n"
			    "r0 = *(u64 *)(r0 + 0)\n"
			    "exit\n");
	ck_assert_int_eq(run("verify --map m nullderef.s"), 1);
	/* the kernel's level-1 path (its line 3 shows a kernel address) */
	HAS(out, "0: R1=ctx() R10=fp0\n"
		 "0: (62) *(u32 *)(r10 -4) = 0          ; R10=fp0 fp-8=0000????\n"
		 "1: (bf) r2 = r10                      ; R2=fp0 R10=fp0\n"
		 "2: (07) r2 += -4                      ; R2=fp-4\n");
	HAS(out, "; R1=map_ptr(ks=4,vs=8)\n"
		 "5: (85) call bpf_map_lookup_elem#1    ; "
		 "R0=map_value_or_null(id=1,ks=4,vs=8)\n"
		 "6: (79) r0 = *(u64 *)(r0 +0)\n"
		 "R0 invalid mem access 'map_value_or_null'\n");
	/* the second map, by its value's address (map_idx_value): the
	 * kernel's direct value access wants a one-element array */
	ck_assert_int_eq(run("map create a type array key 4 value 8 entries 1"),
			 0);
	ck_assert_int_eq(run("map update a key 0 0 0 0 value 7 0 0 0 0 0 0 0"),
			 0);
	prog("value.s", "lddw map_idx_value %r1, 1\n"
			"r0 = *(u64 *)(r1 + 0)\n"
			"exit\n");
	ck_assert_int_eq(run("run --type xdp --map m --map a --data pkt "
			     "value.s"), 0);
	ck_assert_str_eq(out, "retval: 0x7\n");
	ck_assert_int_eq(run("verify --map a --map m value.s"), 1);
	HAS(out, "no direct value access support for this map type\n");
	/* no second map: the index stays, PROG_LOAD refuses it (EPROTO: an
	 * fd index without fd_array, as Linux 6.18 says) */
	ck_assert_int_eq(run("verify --map a value.s"), 1);
	HAS(err, "Protocol error");
}
END_TEST

START_TEST(run_xdp_pass)
{
	ck_assert_int_eq(run("run --type xdp --data pkt pass.s"), 0);
	ck_assert_str_eq(out, "retval: 0x2\n");
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(run_skb_len)
{
	ck_assert_int_eq(run("run --type socket_filter --data pkt len.s"), 0);
	/* 64 - ETH_HLEN; the kernel's socket-filter test run also changes
	 * the frame it gives back, so only the first line is asserted */
	ck_assert_int_eq(strncmp(out, "retval: 0x32\n", 13), 0);
	ck_assert_int_eq(run("run --type sched_cls --data pkt len.s"), 0);
	ck_assert_str_eq(out, "retval: 0x40\n");
}
END_TEST

START_TEST(run_data_out)
{
	char want[1024], *w = want; /* the packet with byte 0 = 0xaa */
	unsigned char p[64];
	memcpy(p, packet, sizeof(p));
	p[0] = 0xaa;
	w += sprintf(w, "retval: 0x2\ndata_out: 64 bytes\n");
	for (int i = 0; i < 64; i++) {
		if (i % 16 == 0)
			w += sprintf(w, "%04x:", i);
		w += sprintf(w, " %02x", p[i]);
		if (i % 16 == 15)
			w += sprintf(w, "\n");
	}
	ck_assert_int_eq(run("run --type xdp --data pkt write.s"), 0);
	ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(run_repeat)
{
	unsigned long ns;
	char tail;
	ck_assert_int_eq(run("run --type xdp --data pkt --repeat 1000 pass.s"),
			 0);
	ck_assert_int_eq(sscanf(out, "retval: 0x2\nduration: %lu ns%c", &ns,
				&tail), 2);
	ck_assert_int_eq(tail, '\n');
	/* without --repeat no duration */
	ck_assert_int_eq(run("run --type xdp --data pkt pass.s"), 0);
	ck_assert_ptr_null(strstr(out, "duration"));
}
END_TEST

START_TEST(run_typed_errors)
{
	/* verified first: the rejection and its log */
	ck_assert_int_eq(run("run --type xdp --data pkt uninit.s"), 1);
	HAS(err, "R2 !read_ok");
	HAS(err, "rejected: Permission denied");
	ck_assert_str_eq(out, "");
	/* XDP wants a whole Ethernet header: EINVAL */
	ck_assert_int_eq(run("run --type xdp --data short pass.s"), 1);
	HAS(err, "Invalid argument");
	/* the kernel has no test run for kprobes: ENOTSUPP */
	ck_assert_int_eq(run("run --type kprobe --data pkt ok.s"), 1);
	HAS(err, "524");
	/* the two modes' options do not mix */
	ck_assert_int_eq(run("run --data pkt pass.s"), 2);
	ck_assert_int_eq(run("run --repeat 3 pass.s"), 2);
	ck_assert_int_eq(run("run --type xdp --trace --data pkt pass.s"), 2);
	ck_assert_int_eq(run("run --type xdp --mem pkt pass.s"), 2);
	ck_assert_int_eq(run("run --type nosuch --data pkt pass.s"), 2);
	ck_assert_int_eq(run("run --type xdp --repeat x --data pkt pass.s"),
			 2);
	ck_assert_int_eq(run("run --type xdp --data nofile pass.s"), 2);
	/* the raw mode is unchanged */
	ck_assert_int_eq(run("run pass.s"), 0);
	ck_assert_str_eq(out, "0x2\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_verify");
	TCase *tc = tcase_create("cli_verify");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, verify_accepts);
	tcase_add_test(tc, verify_rejects);
	tcase_add_test(tc, verify_level2);
	tcase_add_test(tc, verify_level4);
	tcase_add_test(tc, verify_big_log);
	tcase_add_test(tc, verify_usage);
	tcase_add_test(tc, verify_map);
	tcase_add_test(tc, run_xdp_pass);
	tcase_add_test(tc, run_skb_len);
	tcase_add_test(tc, run_data_out);
	tcase_add_test(tc, run_repeat);
	tcase_add_test(tc, run_typed_errors);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
