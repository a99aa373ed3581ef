/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for hub/list.c. A List the parser accepts must split
 * into items that lie inside the input, in order, without overlap, each
 * one a JSON object on its own that jansson parses back to the item it
 * found in the whole document. A violated invariant traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "hub/list.h"

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root, *items;
	struct cw_list l;
	size_t end = 0;

	if (cw_list_parse(data, size, &l) != 0)
		return 0;
	root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	check(root);
	items = json_object_get(root, "items");
	check(json_array_size(items) == l.n);
	for (size_t i = 0; i < l.n; i++) {
		json_t *one;

		check(l.items[i].off >= end && l.items[i].off + l.items[i].len <= size);
		end = l.items[i].off + l.items[i].len;
		check(data[l.items[i].off] == '{' && data[end - 1] == '}');
		one = json_loadb((const char *)data + l.items[i].off, l.items[i].len,
				 JSON_REJECT_DUPLICATES, NULL);
		check(one && json_equal(one, json_array_get(items, i)));
		json_decref(one);
	}
	json_decref(root);
	cw_list_release(&l);
	return 0;
}
