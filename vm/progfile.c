/* Reading a program file: raw bytecode or assembly text.
 *
 * The rule: a file is text when every byte could be in a source file,
 * that is it is valid UTF-8 and has no control characters other than
 * tab, newline, carriage return, form feed and vertical tab.  Text is
 * assembled (either dialect, see bpfvm_asm.h); a leading UTF-8 byte-order
 * mark is skipped.  Any other file is raw bytecode: a non-zero multiple of
 * 8 bytes, each 8 a little-endian struct bpf_insn.  Real bytecode always
 * has a NUL byte (exit is 95 00 00 00 00 00 00 00), so it is never taken
 * for text.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "bpfvm_asm.h"

/* Bigger files are refused rather than read: 8 MiB of bytecode is already
 * BPFVM_MAX_INSNS instructions, and text takes about 20 bytes a line. */
#define MAX_FILE (64u << 20)

/* Length of the UTF-8 sequence starting at s (n bytes left), or 0 if it is
 * not one: overlong forms, surrogates and values past U+10FFFF included. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = 0;
	unsigned min, cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2; min = 0x80; cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3; min = 0x800; cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4; min = 0x10000; cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static bool is_text(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' &&
		    c != '\f' && c != '\v')
			return false;
		if (c == 0x7f)
			return false;
		size_t len = utf8_len(s + i, n - i);
		if (!len)
			return false;
		i += len;
	}
	return true;
}

/* Decode little-endian instructions whatever the host's byte order. */
static void decode_raw(const unsigned char *b, size_t n,
		       struct bpfvm_insn *out)
{
	for (size_t i = 0; i < n; i++, b += 8) {
		out[i].code = b[0];
		out[i].dst_reg = b[1] & 0x0f;
		out[i].src_reg = b[1] >> 4;
		out[i].off = (int16_t)(uint16_t)(b[2] | b[3] << 8);
		out[i].imm = (int32_t)((uint32_t)b[4] | (uint32_t)b[5] << 8 |
				       (uint32_t)b[6] << 16 |
				       (uint32_t)b[7] << 24);
	}
}

/* The whole file into a NUL-terminated buffer. */
static int slurp(const char *path, unsigned char **buf, size_t *len,
		 char *err, size_t errlen)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (S_ISDIR(sb.st_mode)) {
		rc = -EISDIR;
		snprintf(err, errlen, "%s: %s", path, strerror(EISDIR));
		goto out;
	}
	size_t cap = 4096, n = 0;
	unsigned char *b = malloc(cap + 1);
	if (!b) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	/* read to the end rather than trust st_size: pipes, /proc files */
	for (;;) {
		if (n == cap) {
			if (cap >= MAX_FILE) {
				rc = -EFBIG;
				snprintf(err, errlen,
					 "%s: larger than %u MiB", path,
					 MAX_FILE >> 20);
				break;
			}
			unsigned char *nb = realloc(b, 2 * cap + 1);
			if (!nb) {
				rc = -ENOMEM;
				snprintf(err, errlen, "%s: out of memory",
					 path);
				break;
			}
			b = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (rc) {
		free(b);
		goto out;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
out:
	close(fd);
	return rc;
}

int bpfvm_read_program(const char *path, struct bpfvm_insn **out, size_t *n,
		       char *err, size_t errlen)
{
	char dummy[1];
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	if (!path || !out || !n) {
		snprintf(err, errlen, "no path or no place for the result");
		return -EINVAL;
	}
	*out = NULL;
	*n = 0;
	if ((rc = slurp(path, &buf, &len, err, errlen)))
		return rc;

	if (len == 0) {
		snprintf(err, errlen, "%s: empty file", path);
		rc = -EINVAL;
	} else if (is_text(buf, len)) {
		char msg[256];
		const char *text = (const char *)buf;
		if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
			text += 3;
		rc = bpfvm_asm(text, out, n, msg, sizeof(msg));
		if (rc)
			snprintf(err, errlen, "%s: %s", path, msg);
	} else if (len % 8) {
		snprintf(err, errlen,
			 "%s: binary file of %zu bytes: raw bytecode must be "
			 "a multiple of 8 bytes",
			 path, len);
		rc = -EINVAL;
	} else {
		*out = malloc(len);
		if (!*out) {
			snprintf(err, errlen, "%s: out of memory", path);
			rc = -ENOMEM;
		} else {
			*n = len / 8;
			decode_raw(buf, *n, *out);
		}
	}
	free(buf);
	return rc;
}
