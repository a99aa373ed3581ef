/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for hub/selector.c. The first input byte picks the
 * grammar ('F': field selector, anything else: label selector), the rest is
 * the selector text up to the first NUL. A parse must return 0 or -EINVAL;
 * -EINVAL leaves no selector and a one-line message; a parsed selector must
 * match the same way as a second parse of the same text against a few
 * objects, and an empty selector must match everything. A violated
 * invariant traps.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/selector.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static const char *const objects[] = {
    "{}",
    "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"labels\":{\"a\":\"\",\"b\":\"x\","
    "\"c\":\"6\",\"app.kubernetes.io/name\":\"web\",\"environment\":\"production\"}},"
    "\"spec\":{\"nodeName\":\"edge-1\"},\"status\":{\"phase\":\"Running\"}}",
    "{\"metadata\":{\"name\":\"a,b=c\\\\\",\"labels\":{\"tier\":\"frontend\",\"d\":\"-1\"}}}",
};

typedef int parse_fn(const char *, struct cw_selector **, char *, size_t);

static struct cw_selector *parse(parse_fn *fn, const char *text)
{
	char err[CW_SELECTOR_ERR_MAX];
	struct cw_selector *sel = (struct cw_selector *)&err;
	int rc;

	err[0] = '\0';
	rc = fn(text, &sel, err, sizeof(err));
	check(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc == 0) {
		check(sel != NULL);
		return sel;
	}
	check(sel == NULL);
	if (rc == -EINVAL)
		check(err[0] && strlen(err) < sizeof(err) && !strchr(err, '\n'));
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_fn *fn;
	struct cw_selector *a, *b;
	char *text;

	if (size < 1)
		return 0;
	fn = data[0] == 'F' ? cw_field_selector_parse : cw_label_selector_parse;
	text = strndup((const char *)data + 1, size - 1);
	if (!text)
		return 0;
	a = parse(fn, text);
	b = parse(fn, text);
	check(!a == !b);
	for (size_t i = 0; a && i < sizeof(objects) / sizeof(objects[0]); i++) {
		json_t *o = json_loads(objects[i], 0, NULL);
		json_t *labels = json_object_get(json_object_get(o, "metadata"), "labels");
		bool m = cw_selector_match(a, o);

		check(o);
		check(m == cw_selector_match(b, o));
		check(!cw_selector_empty(a) || m);
		if (fn == cw_label_selector_parse)
			check(cw_selector_match_labels(a, labels) == m);
		json_decref(o);
	}
	cw_selector_free(a);
	cw_selector_free(b);
	free(text);
	return 0;
}
