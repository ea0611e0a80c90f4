/* bpf_conformance .data files: parse one (conformance_run.c runs it).
 *
 * A file is a list of sections, each opened by a line "-- name".  We read
 * asm, raw, mem, result and error; everything else (c, "no register
 * offset", future notes) is skipped, as upstream's runner does.  `#` starts
 * a comment in raw, mem and result; the asm text goes to the assembler
 * untouched, which knows its own comments.
 * SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_asm.h"
#include "conformance.h"

enum sect { S_NONE, S_ASM, S_RAW, S_MEM, S_RESULT, S_ERROR, S_OTHER };

static const struct { const char *name; enum sect s; } sections[] = {
	{ "asm", S_ASM }, { "raw", S_RAW }, { "mem", S_MEM },
	{ "result", S_RESULT }, { "error", S_ERROR },
};

/* A growable byte buffer. */
struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_put(struct buf *b, const void *src, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len + 1)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, len);
	b->len += len;
	b->p[b->len] = 0; /* the asm buffer is used as a C string */
	return 0;
}

struct parser {
	const char *path;
	unsigned line;
	char *err;
	size_t errlen;
	struct buf asm_text, raw, mem;
	bool has_asm, has_raw;
};

static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n = ps->line ? snprintf(ps->err, ps->errlen, "%s:%u: ", ps->path,
				    ps->line)
			 : snprintf(ps->err, ps->errlen, "%s: ", ps->path);
	if (n < 0 || (size_t)n >= ps->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool parse_hex(const char *s, size_t maxdigits, uint64_t *v)
{
	size_t n = 0;
	*v = 0;
	for (; isxdigit((unsigned char)*s); s++, n++) {
		int d = isdigit((unsigned char)*s) ? *s - '0'
						   : (tolower((unsigned char)*s) - 'a' + 10);
		*v = *v << 4 | (uint64_t)d;
	}
	return *s == 0 && n > 0 && n <= maxdigits;
}

/* "0x..." hex or decimal, optionally negative (two's complement). */
static bool parse_number(const char *s, uint64_t *v)
{
	bool neg = *s == '-';
	s += neg;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!parse_hex(s + 2, 16, v))
			return false;
	} else {
		uint64_t x = 0;
		if (!isdigit((unsigned char)*s))
			return false;
		for (; isdigit((unsigned char)*s); s++) {
			unsigned d = (unsigned)(*s - '0');
			if (x > (UINT64_MAX - d) / 10)
				return false;
			x = x * 10 + d;
		}
		if (*s)
			return false;
		*v = x;
	}
	if (neg)
		*v = 0 - *v;
	return true;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Tokens of one data line (comment stripped), at most `max`. */
static size_t tokens(char *line, char **tok, size_t max)
{
	size_t n = 0;
	char *hash = strchr(line, '#'), *save = NULL;
	if (hash)
		*hash = 0;
	for (char *t = strtok_r(line, " \t\r", &save); t;
	     t = strtok_r(NULL, " \t\r", &save)) {
		if (n == max)
			return max + 1;
		tok[n++] = t;
	}
	return n;
}

/* raw: either one 64-bit word "0x..." per line (the instruction read as a
 * little-endian u64, as upstream writes it), or hex bytes, as negative/
 * does ("07 00 01 00 01 00 00 00"). */
static int raw_line(struct parser *ps, char *line)
{
	char *tok[9];
	size_t n = tokens(line, tok, 8);
	uint8_t bytes[8];
	uint64_t v;

	if (n == 0)
		return 0;
	if (n == 1 && tok[0][0] == '0' && (tok[0][1] == 'x' || tok[0][1] == 'X')) {
		if (!parse_hex(tok[0] + 2, 16, &v))
			return fail(ps, "bad instruction word '%s'", tok[0]);
		put_le64(bytes, v);
		return buf_put(&ps->raw, bytes, 8);
	}
	if (n > 8)
		return fail(ps, "more than 8 bytes on a raw line");
	for (size_t i = 0; i < n; i++) {
		if (!parse_hex(tok[i], 2, &v))
			return fail(ps, "bad hex byte '%s'", tok[i]);
		bytes[i] = (uint8_t)v;
	}
	return buf_put(&ps->raw, bytes, n);
}

static int mem_line(struct parser *ps, char *line)
{
	char *save = NULL, *hash = strchr(line, '#');
	uint64_t v;
	if (hash)
		*hash = 0;
	for (char *t = strtok_r(line, " \t\r", &save); t;
	     t = strtok_r(NULL, " \t\r", &save)) {
		uint8_t b;
		if (!parse_hex(t, 2, &v))
			return fail(ps, "bad hex byte '%s'", t);
		b = (uint8_t)v;
		int err = buf_put(&ps->mem, &b, 1);
		if (err)
			return err;
	}
	return 0;
}

static int result_line(struct parser *ps, struct bpfvm_conf_test *t,
		       char *line)
{
	char *tok[2];
	size_t n = tokens(line, tok, 1);
	if (n == 0)
		return 0;
	if (n > 1 || t->has_result)
		return fail(ps, "more than one result");
	if (!parse_number(tok[0], &t->result))
		return fail(ps, "bad result '%s'", tok[0]);
	t->has_result = true;
	return 0;
}

static enum sect section_of(const char *name)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (!strcmp(name, sections[i].name))
			return sections[i].s;
	return S_OTHER;
}

#define MAX_FILE (64u << 20) /* a test vector is a few KiB */

static char *slurp(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct buf b = { 0 };
	char chunk[4096];
	size_t got;

	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len > MAX_FILE) {
			snprintf(err, errlen, "%s: larger than %u MiB", path,
				 MAX_FILE >> 20);
			goto fail;
		}
		if (buf_put(&b, chunk, got)) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	if (!b.p && buf_put(&b, "", 0)) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	if (strlen((char *)b.p) != b.len) {
		snprintf(err, errlen, "%s: not a text file (NUL byte)", path);
		free(b.p);
		return NULL;
	}
	return (char *)b.p;
fail:
	fclose(f);
	free(b.p);
	return NULL;
}

static void set_name(struct bpfvm_conf_test *t, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;
	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && !strcmp(base + len - 5, ".data"))
		len -= 5;
	if (len >= sizeof(t->name))
		len = sizeof(t->name) - 1;
	memcpy(t->name, base, len);
	t->name[len] = 0;
}

static int parse_lines(struct parser *ps, struct bpfvm_conf_test *t,
		       char *text)
{
	enum sect s = S_NONE;
	char *next;
	int err = 0;

	for (char *line = text; line && !err; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		ps->line++;
		if (!strncmp(line, "--", 2)) {
			char *name = line + 2, *end;
			while (*name == ' ' || *name == '\t')
				name++;
			end = name + strlen(name);
			while (end > name && isspace((unsigned char)end[-1]))
				*--end = 0;
			s = section_of(name);
			ps->has_asm |= s == S_ASM;
			ps->has_raw |= s == S_RAW;
			t->expect_error |= s == S_ERROR;
			continue;
		}
		switch (s) {
		case S_ASM:
			err = buf_put(&ps->asm_text, line, strlen(line));
			if (!err)
				err = buf_put(&ps->asm_text, "\n", 1);
			break;
		case S_RAW: err = raw_line(ps, line); break;
		case S_MEM: err = mem_line(ps, line); break;
		case S_RESULT: err = result_line(ps, t, line); break;
		case S_NONE: {
			/* Before the first section: comments and blank lines. */
			char *tok[1];
			if (tokens(line, tok, 0) != 0)
				err = fail(ps, "text before the first section");
			break;
		}
		default: break; /* error text and notes are not judged */
		}
	}
	return err;
}

/* Turn the parsed sections into instructions. */
static int build_program(struct parser *ps, struct bpfvm_conf_test *t)
{
	ps->line = 0; /* errors below are about the file as a whole */
	if (ps->has_raw) {
		if (ps->raw.len == 0 || ps->raw.len % 8)
			return fail(ps, "raw section holds %zu bytes, not a "
				    "positive multiple of 8", ps->raw.len);
		t->n = ps->raw.len / 8;
		t->insns = malloc(ps->raw.len);
		if (!t->insns)
			return -ENOMEM;
		memcpy(t->insns, ps->raw.p, ps->raw.len);
		return 0;
	}
	if (!ps->has_asm)
		return fail(ps, "no asm or raw section");
	char aerr[200] = "";
	int err = bpfvm_asm(ps->asm_text.p ? (char *)ps->asm_text.p : "",
			    &t->insns, &t->n, aerr, sizeof(aerr));
	if (err) {
		t->insns = NULL;
		snprintf(ps->err, ps->errlen, "%s: asm section: %s", ps->path,
			 aerr[0] ? aerr : strerror(-err));
		return err;
	}
	if (t->n == 0)
		return fail(ps, "empty program");
	return 0;
}

int bpfvm_conf_parse(const char *path, struct bpfvm_conf_test *t, char *err,
		     size_t errlen)
{
	struct parser ps = { .path = path, .err = err, .errlen = errlen };
	char *text;
	int ret;

	memset(t, 0, sizeof(*t));
	set_name(t, path);
	if (errlen)
		err[0] = 0;
	text = slurp(path, err, errlen);
	if (!text)
		return -EINVAL;
	ret = parse_lines(&ps, t, text);
	if (!ret && !t->has_result && !t->expect_error) {
		ps.line = 0;
		ret = fail(&ps, "no result section");
	}
	if (!ret)
		ret = build_program(&ps, t);
	if (!ret && ps.mem.len) {
		t->mem = ps.mem.p;
		t->mem_len = ps.mem.len;
		ps.mem.p = NULL;
	}
	if (ret == -ENOMEM && errlen)
		snprintf(err, errlen, "%s: out of memory", path);
	free(text);
	free(ps.asm_text.p);
	free(ps.raw.p);
	free(ps.mem.p);
	if (ret)
		bpfvm_conf_free(t);
	return ret;
}

void bpfvm_conf_free(struct bpfvm_conf_test *t)
{
	free(t->insns);
	free(t->mem);
	t->insns = NULL;
	t->mem = NULL;
	t->n = t->mem_len = 0;
}
