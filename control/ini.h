/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strict INI engine under causewayd's and the agent's configuration.
 *
 * A schema is a table of sections and a table of keys. A key row names its
 * section, how to parse and print it, and where its value lives (an offset
 * into the struct of its section), so the parser, the printer and the
 * duplicate-key check can never disagree about which keys exist.
 *
 * Syntax: "[name]" for a single section, "[name NAME]" for one instance of a
 * repeated named section (as "[port p0]"), "key = value" lines, comment
 * lines starting with '#' or ';', and a '#' after a blank that starts a
 * comment ("burst = 32  # per poll"); a '#' inside a value is kept.
 *
 * Every mistake is an error naming the file and line:
 *   "FILE:LINE: key 'KEY': reason", "FILE:LINE: reason" for lines without a
 *   key, "FILE: reason" for problems of the whole file.
 *
 * Limits: a file is at most CW_INI_FILE_MAX bytes, a line at most
 * CW_INI_LINE_MAX - 1 characters, a section instance name at most
 * CW_INI_NAME_MAX - 1 characters.
 */
#ifndef CW_INI_H
#define CW_INI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CW_INI_LINE_MAX 4096
#define CW_INI_FILE_MAX (1024 * 1024)
#define CW_INI_NAME_MAX 64

struct cw_ini; /* the state of one parse, handed to the schema's callbacks */
struct cw_ini_key;

/*
 * Parse @val (trimmed, never NULL; "" only for keys with empty_ok) into the
 * key's field of @base, the struct of the current section instance. Returns
 * 0, or the result of cw_ini_fail().
 */
typedef int cw_ini_parse_fn(struct cw_ini *p, const struct cw_ini_key *k, void *base,
			    const char *val);
/* Write "key = value\n" that the key's parser reads back to the same value. */
typedef void cw_ini_print_fn(const struct cw_ini_key *k, const void *base, FILE *out);

struct cw_ini_key {
	unsigned sect; /* index into the schema's section table */
	const char *name;
	cw_ini_parse_fn *parse;
	cw_ini_print_fn *print;
	size_t off, size;	  /* the field in the section's struct */
	uint32_t min, max;	  /* numbers: range; enums: max is the last value */
	const char *const *names; /* enums: names[value] */
	bool empty_ok;		  /* "key =" is a value, not a mistake */
	bool required;		  /* the section is incomplete without it */
	bool repeat;		  /* may appear more than once; each value is parsed */
};

struct cw_ini_sect {
	const char *name;
	unsigned max;	   /* 0: single section [name]; else [name NAME], at most max */
	unsigned name_max; /* named: NAME is 1..name_max characters (< CW_INI_NAME_MAX) */
};

struct cw_ini_schema {
	const struct cw_ini_sect *sects;
	unsigned n_sects;
	const struct cw_ini_key *keys;
	unsigned n_keys;
	/*
	 * The struct that holds instance @idx of section @sect (idx 0 for a
	 * single section). For a named section it is called once per instance,
	 * in file order, and sets the instance up (defaults, @name).
	 */
	void *(*open)(void *ctx, unsigned sect, unsigned idx, const char *name);
	/* Optional: checks of a whole section instance, at its end. */
	int (*close)(struct cw_ini *p, unsigned sect, unsigned idx, void *base);
	/* Optional: checks across sections, after the last line. */
	int (*finish)(struct cw_ini *p);
};

/* Field access: the key's field in its section struct @base. */
#define CW_INI_FIELD(type, f) offsetof(type, f), sizeof(((type *)0)->f)

/* Rows: number with range, power of two, enum with names, anything else,
 * required keys. */
/* clang-format off */
#define CW_INI_NUM(sect, name, fld, lo, hi) \
	{sect, name, cw_ini_parse_uint, cw_ini_print_uint, fld, lo, hi, NULL, false, false, false}
#define CW_INI_POW2(sect, name, fld, lo, hi) \
	{sect, name, cw_ini_parse_pow2, cw_ini_print_uint, fld, lo, hi, NULL, false, false, false}
#define CW_INI_ENUM(sect, name, fld, names) \
	{sect, name, cw_ini_parse_enum, cw_ini_print_enum, fld, 0, \
	 (uint32_t)(sizeof(names) / sizeof((names)[0])) - 1, names, false, false, false}
#define CW_INI_OTHER(sect, name, parse, print, fld, empty_ok) \
	{sect, name, parse, print, fld, 0, 0, NULL, empty_ok, false, false}
/* A key its section cannot do without; _LIST: may repeat, values add up. */
#define CW_INI_REQUIRED(sect, name, parse, print, fld) \
	{sect, name, parse, print, fld, 0, 0, NULL, false, true, false}
#define CW_INI_REQUIRED_LIST(sect, name, parse, print, fld) \
	{sect, name, parse, print, fld, 0, 0, NULL, false, true, true}
/* clang-format on */

/*
 * Parse @text against @s into the structs that s->open() hands out for
 * @ctx. @name is used in messages exactly as given. Stores nothing outside
 * those structs: a caller that wants all-or-nothing passes a scratch copy.
 * Returns 0; -EINVAL with the message in @err (truncated to @errlen,
 * always terminated; @err may be NULL); -ENOMEM.
 */
int cw_ini_parse(const struct cw_ini_schema *s, void *ctx, const char *name, const char *text,
		 char *err, size_t errlen);

/*
 * All or nothing: parse @text into a scratch copy of the @size-byte struct
 * that s->open() treats as its @ctx, first filled by @defaults, and copy it
 * to @out only on success. Returns as cw_ini_parse().
 */
int cw_ini_parse_struct(const struct cw_ini_schema *s, void *out, size_t size,
			void (*defaults)(void *), const char *name, const char *text, char *err,
			size_t errlen);

/*
 * cw_ini_parse_struct() on the file at @path, which messages name. Returns
 * as cw_ini_read_file() or cw_ini_parse_struct().
 */
int cw_ini_load_struct(const struct cw_ini_schema *s, void *out, size_t size,
		       void (*defaults)(void *), const char *path, char *err, size_t errlen);

/*
 * Read the file at @path, NUL-terminated, into *@text (free() it). Returns
 * 0; -errno when it cannot be read, -EFBIG over CW_INI_FILE_MAX bytes (with
 * "PATH: strerror" in @err); -EINVAL for a NUL byte
 * ("PATH:LINE: control character 0x00 in line"); -ENOMEM.
 */
int cw_ini_read_file(const char *path, char **text, char *err, size_t errlen);

/*
 * Print "[name]" (or "[name NAME]" when @inst_name is not NULL) and every
 * key of section @sect from @base, in table order.
 */
void cw_ini_print_section(const struct cw_ini_schema *s, unsigned sect, const char *inst_name,
			  const void *base, FILE *out);

/* ---- for the schema's callbacks ---- */

/*
 * Report "NAME:LINE: key 'KEY': reason"; @line 0 leaves out ":LINE",
 * @key NULL leaves out "key '...': ". Always returns -EINVAL.
 */
__attribute__((format(printf, 4, 5))) int cw_ini_fail(struct cw_ini *p, unsigned line,
						      const char *key, const char *fmt, ...);
/* The line being parsed (during close/finish: the last line read). */
unsigned cw_ini_line(const struct cw_ini *p);
/* The index of the current instance within its section (0 for single). */
unsigned cw_ini_index(const struct cw_ini *p);
/* The ctx given to cw_ini_parse(). */
void *cw_ini_ctx(const struct cw_ini *p);
/* The line of instance @idx of section @sect's header; 0 = not seen. */
unsigned cw_ini_sect_line(const struct cw_ini *p, unsigned sect, unsigned idx);
/* The first line that set key @key (an index into the key table) in
 * instance @idx of its section; 0 = not set. */
unsigned cw_ini_key_line(const struct cw_ini *p, unsigned idx, unsigned key);

/* ---- value parsers and printers for the usual kinds of keys ---- */

/* Decimal number within k->min..k->max into a uint16_t or uint32_t field. */
cw_ini_parse_fn cw_ini_parse_uint;
/* As cw_ini_parse_uint, and a power of two. */
cw_ini_parse_fn cw_ini_parse_pow2;
/* One of k->names[0..k->max], stored as its index (uint32_t-sized enums). */
cw_ini_parse_fn cw_ini_parse_enum;
/* Any text shorter than the char array field. */
cw_ini_parse_fn cw_ini_parse_str;
/* 1..size-1 characters of A-Z a-z 0-9 _ - into a char array field. */
cw_ini_parse_fn cw_ini_parse_ident;
/* a.b.c.d into a uint32_t field, network byte order. */
cw_ini_parse_fn cw_ini_parse_ipv4;
/* An IPv4 listening address: "a.b.c.d:port", or "" (port 0: off). */
struct cw_ini_listen {
	uint32_t addr; /* network byte order */
	uint16_t port; /* host order; 0 = the listener is off */
};
/* "a.b.c.d:port" or "" into a struct cw_ini_listen field. */
cw_ini_parse_fn cw_ini_parse_listen;
/* "" or an absolute path, into a char array field. */
cw_ini_parse_fn cw_ini_parse_path;

cw_ini_print_fn cw_ini_print_uint;
cw_ini_print_fn cw_ini_print_enum;
cw_ini_print_fn cw_ini_print_str;
cw_ini_print_fn cw_ini_print_ipv4;
cw_ini_print_fn cw_ini_print_listen;

/* ---- lexical helpers ---- */

bool cw_ini_is_blank(char ch);
bool cw_ini_is_digit(char ch);
/* Strip blanks (space, tab) from both ends, in place. */
char *cw_ini_trim(char *s);
/* 1..@maxlen characters of A-Z a-z 0-9 _ -. */
bool cw_ini_is_ident(const char *s, size_t maxlen);
/*
 * Decimal digits only: no sign, no 0x, nothing after. -EINVAL otherwise.
 * Values that do not fit 32 bits become UINT64_MAX, out of any range.
 */
int cw_ini_parse_dec(const char *s, uint64_t *v);
/*
 * a.b.c.d (no leading zeros: inet_aton() would read them as octal) into
 * network byte order; *@end is left after the last octet. -EINVAL.
 */
int cw_ini_parse_ip(const char *s, const char **end, uint32_t *addr);
/* Dotted quad of a network-order address, into @buf. */
const char *cw_ini_ip_str(uint32_t addr, char buf[16]);

void *cw_ini_field(void *base, const struct cw_ini_key *k);
const void *cw_ini_cfield(const void *base, const struct cw_ini_key *k);
/* uint16_t or uint32_t (by @size) fields. */
void cw_ini_store_uint(void *f, size_t size, uint32_t v);
uint32_t cw_ini_load_uint(const void *f, size_t size);
/* @s (shorter than @size) into a char array, zero-filled. */
void cw_ini_store_str(void *f, size_t size, const char *s);

#endif
