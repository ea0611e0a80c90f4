/* bpfvm map: bpftool's map commands, in its words and output format, on a
 * map kept in a file between commands (tools/mapfile.c) where bpftool would
 * use a pin under /sys/fs/bpf.  Each command loads the file into a new map
 * (through bpfvm_bpf, or the kernel's bpf(2) with --kernel), runs, and
 * writes the map back, atomically, if the command changed it.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_bpf.h"
#include "cli.h"
#include "mapfile.h"

static int map_main(int argc, char **argv);

const struct cli_cmd cli_cmd_map = {
	"map", "create, update and dump maps kept in files, as bpftool map",
	"Usage: bpfvm map create  FILE type TYPE key KEY_SIZE value VALUE_SIZE \\\n"
	"                         entries MAX_ENTRIES [name NAME] [flags FLAGS]\n"
	"       bpfvm map show    FILE\n"
	"       bpfvm map dump    FILE\n"
	"       bpfvm map update  FILE [key DATA] [value DATA] [UPDATE_FLAGS]\n"
	"       bpfvm map lookup  FILE [key DATA]\n"
	"       bpfvm map getnext FILE [key DATA]\n"
	"       bpfvm map delete  FILE  key DATA\n"
	"       bpfvm map peek    FILE\n"
	"       bpfvm map push    FILE value DATA\n"
	"       bpfvm map pop     FILE [key DATA]\n"
	"       bpfvm map enqueue FILE value DATA   (push)\n"
	"       bpfvm map dequeue FILE              (pop)\n"
	"       bpfvm map help\n"
	"       bpfvm map --kernel COMMAND FILE ...\n"
	"\n"
	"       DATA := { [hex] BYTES }\n"
	"       UPDATE_FLAGS := { any | exist | noexist }\n"
	"       TYPE := { hash | array | percpu_hash | percpu_array | lru_hash |\n"
	"                 lru_percpu_hash | lpm_trie | queue | stack | ringbuf }\n"
	"\n"
	"FILE holds the map between commands, as a pin under /sys/fs/bpf does for\n"
	"bpftool (its format: README.md, section 'bpfvm map').  BYTES are numbers\n"
	"as C writes them (0x01, 1, 001), or hexadecimal after 'hex'.  Keywords\n"
	"may be shortened to a prefix.  Errors are the kernel's bpf(2) errno.\n"
	"The map is reached through bpfvm_bpf(); --kernel uses the running\n"
	"kernel's bpf(2) instead (root or CAP_BPF), the same file format: to\n"
	"check bpfvm's maps against the kernel's.\n"
	"Exit status: 0 success, 1 the operation failed (or the key was not\n"
	"found, or FILE is not a valid map file), 2 usage error.\n",
	map_main,
};

struct ctx {
	const char *path;
	int argc; /* the arguments after FILE */
	char **argv;
	struct mapfile mf;
	bool changed;
	uint8_t *key, *value, *next; /* buffers sized for the map */
};

static int p_err(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int p_err(int status, const char *fmt, ...)
{
	va_list ap;
	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* bpftool's: any non-empty beginning of word */
static bool is_prefix(const char *arg, const char *word)
{
	size_t n = strlen(arg);
	return n && !strncmp(arg, word, n);
}

/* bpftool's map type names, by type number (MAP_CREATE decides which
 * it has). */
static const char *const type_names[] = {
	"unspec", "hash", "array", "prog_array", "perf_event_array",
	"percpu_hash", "percpu_array", "stack_trace", "cgroup_array",
	"lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps",
	"hash_of_maps", "devmap", "sockmap", "cpumap", "xskmap", "sockhash",
	"cgroup_storage", "reuseport_sockarray", "percpu_cgroup_storage",
	"queue", "stack", "sk_storage", "devmap_hash", "struct_ops",
	"ringbuf", "inode_storage", "task_storage", "bloom_filter",
	"user_ringbuf", "cgrp_storage", "arena",
};
#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

/* bpftool's fprint_hex: "01 02", two spaces after 8 bytes, a line each 16 */
static void print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *sep = i == 0 ? "" : i % 16 == 0 ? "\n"
					      : i % 8 == 0 ? "  " : " ";
		printf("%s%02x", sep, p[i]);
	}
}

/* bpftool's print_entry_plain */
static void print_entry(const struct mapfile *m, const uint8_t *key,
			const uint8_t *value)
{
	uint32_t ks = m->info.key_size, vs = m->info.value_size;

	if (mapfile_is_percpu(m->info.type)) {
		size_t step = ((size_t)vs + 7) / 8 * 8;
		if (ks) {
			printf("key:\n");
			print_hex(key, ks);
			printf("\n");
		}
		for (uint32_t i = 0; vs && i < m->ncpus; i++) {
			printf("value (CPU %02u):%c", i, vs > 16 ? '\n' : ' ');
			print_hex(value + (size_t)i * step, vs);
			printf("\n");
		}
		return;
	}
	bool break_names = ks > 16 || vs > 16;
	bool single_line = ks + (uint64_t)vs <= 24 && !break_names;
	if (ks) {
		printf("key:%c", break_names ? '\n' : ' ');
		print_hex(key, ks);
		printf(single_line ? "  " : "\n");
	}
	if (vs) {
		printf("value:%c", break_names ? '\n' : ' ');
		print_hex(value, vs);
	}
	printf("\n");
}

/* bpftool's "key:\nBYTES\n\nNot found" for a missing key; "empty map" for
 * a queue or stack. */
static int not_found(struct ctx *c)
{
	uint32_t ks = c->mf.info.key_size;
	if (!ks)
		return p_err(CLI_FAILED, "empty map");
	printf("key:\n");
	print_hex(c->key, ks);
	printf("\n\nNot found\n");
	return CLI_FAILED;
}

/* n bytes from *i on ("hex" first: base 16) */
static int parse_bytes(struct ctx *c, int *i, const char *name, uint8_t *val,
		       uint32_t n)
{
	int base = 0;
	uint32_t got = 0;

	if (*i < c->argc && is_prefix(c->argv[*i], "hex")) {
		base = 16;
		(*i)++;
	}
	for (; got < n && *i < c->argc; got++, (*i)++) {
		const char *s = c->argv[*i];
		char *end;
		errno = 0;
		unsigned long v = strtoul(s, &end, base);
		if (!*s || *end || errno || v > 0xff || s[strspn(s, " \t")] == '-')
			return p_err(CLI_USAGE, "error parsing byte: %s", s);
		val[got] = (uint8_t)v;
	}
	if (got != n)
		return p_err(CLI_USAGE, "%s expected %u bytes got %u", name, n,
			     got);
	return 0;
}

/* bpftool's parse_elem: the arguments after FILE give what is asked for
 * (key/value NULL: not wanted; flags NULL: none taken). */
static int parse_elem(struct ctx *c, uint8_t *key, uint8_t *value,
		      uint64_t *flags)
{
	const struct mapfile *m = &c->mf;
	uint32_t ks = m->info.key_size, vs = m->info.value_size;
	static const char *const flag_names[] = { "any", "noexist", "exist" };
	bool want_key = key, want_value = value, want_flags = flags;
	int i = 0, err;

	while (i < c->argc) {
		const char *a = c->argv[i];
		if (is_prefix(a, "key")) {
			if (!want_key)
				return p_err(CLI_USAGE, "%s key", ks &&
					     key ? "duplicate" : "unnecessary");
			i++;
			if ((err = parse_bytes(c, &i, "key", key, ks)))
				return err;
			want_key = false;
			continue;
		}
		if (is_prefix(a, "value")) {
			if (!want_value)
				return p_err(CLI_USAGE, "%s value", vs &&
					     value ? "duplicate" : "unnecessary");
			i++;
			if ((err = parse_bytes(c, &i, "value", value, vs)))
				return err;
			/* per-CPU maps: the same value on every CPU */
			for (uint32_t k = 1; k < m->ncpus; k++)
				memcpy(value + (size_t)k * ((vs + 7u) & ~7u),
				       value, vs);
			want_value = false;
			continue;
		}
		size_t f = 0;
		while (f < 3 && !is_prefix(a, flag_names[f]))
			f++;
		if (f < 3 && flags) {
			if (!want_flags)
				return p_err(CLI_USAGE, "flags specified "
					     "multiple times: %s", a);
			*flags = f; /* BPF_ANY, BPF_NOEXIST, BPF_EXIST */
			want_flags = false;
			i++;
			continue;
		}
		return p_err(CLI_USAGE, "expected %s, got: %s", value ?
			     "key or value" : "key", a);
	}
	if (want_key && ks)
		return p_err(CLI_USAGE, "did not find key");
	if (want_value && vs)
		return p_err(CLI_USAGE, "did not find value");
	return 0;
}

/* Key and value wanted only when the map has them. */
#define KEY(c) ((c)->mf.info.key_size ? (c)->key : NULL)
#define VALUE(c) ((c)->mf.info.value_size ? (c)->value : NULL)

static int no_more_args(struct ctx *c)
{
	if (c->argc)
		return p_err(CLI_USAGE, "what is '%s'?", c->argv[0]);
	return 0;
}

static int do_dump(struct ctx *c)
{
	const struct mapfile *m = &c->mf;
	unsigned n = 0;
	int err = no_more_args(c), r;

	if (err)
		return err;
	/* key and next apart, as bpf(2) copies them */
	for (r = mapfile_next_key(m, NULL, c->next); r == 0;
	     r = mapfile_next_key(m, c->key, c->next)) {
		memcpy(c->key, c->next, m->info.key_size);
		if (mapfile_lookup(m, c->key, c->value) == 0) {
			print_entry(m, c->key, c->value);
			n++;
		}
	}
	printf("Found %u element%s\n", n, n != 1 ? "s" : "");
	if (r != -ENOENT)
		return p_err(CLI_FAILED, "can't get next key: %s", strerror(-r));
	return CLI_OK;
}

/* bpftool's show_map_close_plain (the id is the descriptor's in this
 * process; no memlock line: bpfvm does not charge memory) */
static int do_show(struct ctx *c)
{
	const struct bpf_map_info *i = &c->mf.info;
	int err = no_more_args(c);

	if (err)
		return err;
	printf("%u: ", i->id);
	if (i->type < NTYPES)
		printf("%s  ", type_names[i->type]);
	else
		printf("type %u  ", i->type);
	if (i->name[0])
		printf("name %.*s  ", (int)sizeof(i->name), i->name);
	printf("flags 0x%x\n\tkey %uB  value %uB  max_entries %u\n",
	       i->map_flags, i->key_size, i->value_size, i->max_entries);
	return CLI_OK;
}

static int do_update(struct ctx *c)
{
	const struct mapfile *m = &c->mf;
	uint64_t flags = BPF_ANY;
	int err = parse_elem(c, KEY(c), VALUE(c), &flags);
	bool lru = m->info.type == BPF_MAP_TYPE_LRU_HASH ||
		   m->info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH;

	if (err)
		return err;
	/* an LRU per-CPU element updated in place keeps its LRU position */
	bool in_place = m->info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH &&
		mapfile_lookup(m, c->key, c->next) == 0;
	int r = mapfile_update(m, KEY(c), VALUE(c), flags);
	/* a failed LRU update may still have evicted an element */
	c->changed = !r || lru;
	if (!r && !in_place)
		c->mf.touched = c->key;
	if (r)
		return p_err(CLI_FAILED, "update failed: %s", strerror(-r));
	return CLI_OK;
}

static int do_lookup(struct ctx *c)
{
	int err = parse_elem(c, KEY(c), NULL, NULL);
	if (err)
		return err;
	int r = mapfile_lookup(&c->mf, KEY(c), c->value);
	if (r == -ENOENT)
		return not_found(c);
	if (r)
		return p_err(CLI_FAILED, "lookup failed: %s", strerror(-r));
	print_entry(&c->mf, c->key, c->value);
	return CLI_OK;
}

static int do_getnext(struct ctx *c)
{
	uint32_t ks = c->mf.info.key_size;
	int err = c->argc ? parse_elem(c, KEY(c), NULL, NULL) : 0;

	if (err)
		return err;
	int r = mapfile_next_key(&c->mf, c->argc ? KEY(c) : NULL, c->next);
	if (r)
		return p_err(CLI_FAILED, "can't get next key: %s", strerror(-r));
	if (c->argc) {
		printf("key:\n");
		print_hex(c->key, ks);
		printf("\n");
	} else {
		printf("key: None\n");
	}
	printf("next key:\n");
	print_hex(c->next, ks);
	printf("\n");
	return CLI_OK;
}

static int do_delete(struct ctx *c)
{
	int err = parse_elem(c, KEY(c), NULL, NULL);
	if (err)
		return err;
	int r = mapfile_delete(&c->mf, KEY(c));
	if (r)
		return p_err(CLI_FAILED, "delete failed: %s", strerror(-r));
	c->changed = true;
	return CLI_OK;
}

/* bpftool's pop takes no key; a key is accepted here for maps that have
 * keys (BPF_MAP_LOOKUP_AND_DELETE_ELEM on a hash map). */
static int do_pop(struct ctx *c)
{
	int err = parse_elem(c, KEY(c), NULL, NULL);
	if (err)
		return err;
	int r = mapfile_pop(&c->mf, KEY(c), c->value);
	if (r == -ENOENT)
		return not_found(c);
	if (r)
		return p_err(CLI_FAILED, "pop failed: %s", strerror(-r));
	c->changed = true;
	print_entry(&c->mf, c->key, c->value);
	return CLI_OK;
}

static int parse_u32(const char *s, const char *what, uint32_t *v,
		     bool *seen)
{
	char *end;
	if (*seen)
		return p_err(CLI_USAGE, "%s already specified", what);
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (!*s || *end || errno || x > UINT32_MAX || strchr(s, '-'))
		return p_err(CLI_USAGE, "can't parse %s as %s", s, what);
	*v = (uint32_t)x;
	*seen = true;
	return 0;
}

static int do_create(struct ctx *c)
{
	union bpf_attr attr;
	bool seen[5] = { 0 };
	const char *name = NULL;
	int err;

	memset(&attr, 0, sizeof(attr));
	for (int i = 0; i < c->argc; i += 2) {
		const char *a = c->argv[i], *v = c->argv[i + 1];
		err = 0;
		if (!v)
			return p_err(CLI_USAGE, "'%s' needs an argument", a);
		if (is_prefix(a, "type")) {
			if (seen[0])
				return p_err(CLI_USAGE, "map type already "
					     "specified");
			size_t t = 0;
			while (t < NTYPES && strcmp(v, type_names[t]))
				t++;
			if (t == NTYPES)
				return p_err(CLI_USAGE, "unrecognized map type: "
					     "%s", v);
			attr.map_type = (uint32_t)t;
			seen[0] = true;
		} else if (is_prefix(a, "name")) {
			if (name)
				return p_err(CLI_USAGE, "map name already "
					     "specified");
			name = v;
		} else if (is_prefix(a, "key")) {
			err = parse_u32(v, "key size", &attr.key_size, &seen[1]);
		} else if (is_prefix(a, "value")) {
			err = parse_u32(v, "value size", &attr.value_size,
					&seen[2]);
		} else if (is_prefix(a, "entries")) {
			err = parse_u32(v, "max entries", &attr.max_entries,
					&seen[3]);
		} else if (is_prefix(a, "flags")) {
			err = parse_u32(v, "flags", &attr.map_flags, &seen[4]);
		} else {
			return p_err(CLI_USAGE, "unknown arg %s", a);
		}
		if (err)
			return err;
	}
	if (!seen[0])
		return p_err(CLI_USAGE, "map type not specified");
	if (attr.map_type == BPF_MAP_TYPE_PROG_ARRAY ||
	    attr.map_type == BPF_MAP_TYPE_ARRAY_OF_MAPS ||
	    attr.map_type == BPF_MAP_TYPE_HASH_OF_MAPS)
		return p_err(CLI_USAGE, "%s maps hold program or map "
			     "descriptors, which a map file cannot keep",
			     type_names[attr.map_type]);
	if (name) {
		if (strlen(name) > BPF_OBJ_NAME_LEN - 1)
			fprintf(stderr, "Warning: map name is longer than %u "
				"characters, it will be truncated.\n",
				BPF_OBJ_NAME_LEN - 1);
		strncpy(attr.map_name, name, BPF_OBJ_NAME_LEN - 1);
	}
	int r = mapfile_create(&c->mf, &attr);
	if (r)
		return p_err(CLI_FAILED, "map create failed: %s", strerror(-r));
	if (!mapfile_type_ok(attr.map_type))
		return p_err(CLI_FAILED, "map create failed: %s maps are not "
			     "supported by map files", type_names[attr.map_type]);
	r = mapfile_save(c->path, &c->mf, 1);
	if (r)
		return p_err(CLI_FAILED, "can't pin the object (%s): %s",
			     c->path, strerror(-r));
	return CLI_OK;
}

static const struct {
	const char *name;
	int (*fn)(struct ctx *c);
	bool writes; /* may save: lock the file from load to save */
} cmds[] = {
	{ "create", do_create, false }, { "dump", do_dump, false },
	{ "show", do_show, false }, { "list", do_show, false },
	{ "update", do_update, true }, { "lookup", do_lookup, false },
	{ "getnext", do_getnext, false }, { "delete", do_delete, true },
	{ "peek", do_lookup, false }, { "push", do_update, true },
	{ "enqueue", do_update, true }, { "pop", do_pop, true },
	{ "dequeue", do_pop, true },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* exact name, else a prefix of only one */
static int find_cmd(const char *s)
{
	int found = -1;
	for (size_t i = 0; i < NCMDS; i++) {
		if (!strcmp(s, cmds[i].name))
			return (int)i;
		if (is_prefix(s, cmds[i].name))
			found = found == -1 ? (int)i : -2;
	}
	return found;
}

/* Load FILE, make buffers for one key (three) and one value. */
static int load(struct ctx *c, bool lock)
{
	char err[512];
	int usage;

	if (mapfile_load(c->path, lock, &c->mf, err, sizeof(err), &usage))
		return p_err(usage ? CLI_USAGE : CLI_FAILED, "%s", err);
	size_t ks = c->mf.info.key_size, vb = c->mf.value_bytes;
	c->key = calloc(1, ks + 1);
	c->next = calloc(1, ks + vb + 1);
	c->value = calloc(1, vb + 1);
	if (!c->key || !c->next || !c->value)
		return p_err(CLI_FAILED, "out of memory");
	return 0;
}

static int map_main(int argc, char **argv)
{
	struct ctx c = { 0 };
	int ret;

	bool kernel = argc > 1 && !strcmp(argv[1], "--kernel");
	if (kernel) {
		argc--;
		argv++;
	}
	if (argc < 2)
		return p_err(CLI_USAGE, "missing command (see bpfvm map help)");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help"))
		return cli_help(&cli_cmd_map);
	int k = find_cmd(cmd);
	if (k < 0)
		return p_err(CLI_USAGE, "%s command '%s' (see bpfvm map help)",
			     k == -2 ? "ambiguous" : "unknown", cmd);
	if (argc < 3)
		return p_err(CLI_USAGE, "'%s' needs a map FILE (see bpfvm map "
			     "help)", cmds[k].name);
	/* this process closes its one descriptor through bpfvm_close: no
	 * need to fstat it on every call */
	bpfvm_bpf_set_fd_check(false);
	mapfile_init(&c.mf);
	c.mf.kernel = kernel;
	c.path = argv[2];
	c.argc = argc - 3;
	c.argv = argv + 3;
	if (cmds[k].fn == do_create)
		ret = do_create(&c);
	else if (!(ret = load(&c, cmds[k].writes)))
		ret = cmds[k].fn(&c);
	if (c.changed) {
		int r = mapfile_save(c.path, &c.mf, 0);
		if (r)
			ret = p_err(CLI_FAILED, "can't save map file %s: %s",
				    c.path, strerror(-r));
	}
	mapfile_release(&c.mf);
	free(c.key);
	free(c.value);
	free(c.next);
	if (fflush(stdout) && !ret)
		ret = p_err(CLI_FAILED, "cannot write standard output");
	return ret;
}
