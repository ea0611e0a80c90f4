/* bpfvm asm: assembly text to raw bytecode.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bpfvm_asm.h"
#include "cli.h"

static int asm_main(int argc, char **argv);

const struct cli_cmd cli_cmd_asm = {
	"asm", "assemble text into raw bytecode",
	"Usage: bpfvm asm [-o OUT] IN\n"
	"Assemble IN (bpf_conformance dialect `mov %r0, 1` or kernel dialect\n"
	"`r0 = 1`, mixed freely) into raw bytecode: 8-byte little-endian\n"
	"struct bpf_insn records, one after the other.\n\n"
	"  -o, --output OUT  write to OUT; '-' is standard output (not a\n"
	"                    terminal); the default is IN with its extension\n"
	"                    replaced by .bin (foo.s -> foo.bin)\n"
	"  -h, --help        this text\n",
	asm_main,
};

/* IN with its extension (if any, in the last path component) replaced. */
static char *default_output(const char *in)
{
	const char *slash = strrchr(in, '/'), *dot = strrchr(in, '.');
	size_t stem = dot && (!slash || dot > slash + 1) ? (size_t)(dot - in)
							 : strlen(in);
	char *out = malloc(stem + 5);
	if (out) {
		memcpy(out, in, stem);
		memcpy(out + stem, ".bin", 5);
	}
	return out;
}

/* Serialise as the kernel lays struct bpf_insn out, whatever our host. */
static void encode(const struct bpfvm_insn *insn, unsigned char b[8])
{
	uint16_t off = (uint16_t)insn->off;
	uint32_t imm = (uint32_t)insn->imm;
	b[0] = insn->code;
	b[1] = (uint8_t)(insn->dst_reg | insn->src_reg << 4);
	b[2] = (uint8_t)off;
	b[3] = (uint8_t)(off >> 8);
	for (int i = 0; i < 4; i++)
		b[4 + i] = (uint8_t)(imm >> (8 * i));
}

static int write_program(const char *path, const struct bpfvm_insn *insns,
			 size_t n)
{
	bool to_stdout = !strcmp(path, "-");
	FILE *f = to_stdout ? stdout : fopen(path, "wb");
	unsigned char b[8];
	int err = 0;

	if (to_stdout && isatty(STDOUT_FILENO))
		return cli_error("asm", CLI_USAGE, "not writing bytecode to a "
				 "terminal: redirect it or use -o FILE");
	if (!f)
		return cli_error("asm", CLI_FAILED, "cannot create %s: %s", path,
				 strerror(errno));
	for (size_t i = 0; i < n && !err; i++) {
		encode(&insns[i], b);
		errno = 0;
		if (fwrite(b, 1, 8, f) != 8)
			err = errno ? errno : EIO;
	}
	if (fflush(f) && !err)
		err = errno ? errno : EIO;
	if (!to_stdout && fclose(f) && !err)
		err = errno ? errno : EIO;
	if (err)
		return cli_error("asm", CLI_FAILED, "cannot write %s: %s",
				 to_stdout ? "standard output" : path,
				 strerror(err));
	return CLI_OK;
}

static int asm_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *out = NULL;
	struct bpfvm_insn *insns = NULL;
	char err[256] = "", *text, *def = NULL;
	size_t n, len;
	int c, ret = CLI_OK;

	while ((c = cli_getopt(&cli_cmd_asm, argc, argv, "o:h", longopts)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': return cli_help(&cli_cmd_asm);
		default: return CLI_USAGE;
		}
	}
	if (!cli_operands(&cli_cmd_asm, argc, argv, 1))
		return CLI_USAGE;
	const char *in = argv[optind];
	text = (char *)cli_read_file(&cli_cmd_asm, in, &len);
	if (!text)
		return CLI_USAGE;
	if (!out) {
		out = def = default_output(in);
		if (!def)
			ret = cli_error("asm", CLI_FAILED, "out of memory");
		else if (!strcmp(def, in))
			ret = cli_error("asm", CLI_USAGE, "%s already ends in "
					".bin: name the output with -o", in);
		if (!def || ret) {
			free(text);
			free(def);
			return ret;
		}
	}
	/* The assembler wants a C string. */
	char *s = realloc(text, len + 1);
	if (!s) {
		free(text);
		free(def);
		return cli_error("asm", CLI_FAILED, "out of memory");
	}
	s[len] = 0;
	if (strlen(s) != len) {
		ret = cli_error("asm", CLI_FAILED, "%s: not a text file", in);
	} else if ((ret = bpfvm_asm(s, &insns, &n, err, sizeof(err))) != 0) {
		ret = cli_error("asm", CLI_FAILED, "%s: %s", in,
				err[0] ? err : strerror(-ret));
	} else {
		ret = write_program(out, insns, n);
	}
	free(insns);
	free(s);
	free(def);
	return ret;
}
