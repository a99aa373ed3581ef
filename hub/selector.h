/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes label and field selectors, as k8s.io/apimachinery parses and
 * matches them, compiled once and then matched against many objects.
 *
 * Label selectors (labels.Parse): comma-separated requirements, all of which
 * must hold (an empty selector matches everything):
 *   key=value, key==value    the label is present with that value
 *   key!=value               the label is absent, or has another value
 *   key in (v1,v2)           present with one of the values
 *   key notin (v1,v2)        absent, or present with none of the values
 *   key                      present
 *   !key                     absent
 *   key>N, key<N             present, an integer, greater/less than N
 * Keys are [prefix/]name: prefix a DNS-1123 subdomain of at most 253
 * characters, name at most 63 characters of [A-Za-z0-9_.-] starting and
 * ending with an alphanumeric. Values are empty or follow the name rule.
 * "key in ()" means key in ("") as in apimachinery.
 *
 * Field selectors (fields.ParseSelector): comma-separated field=value,
 * field==value or field!=value terms; "\," "\=" and "\\" escape those
 * characters in a value. The fields are the ones the hub and its tests
 * select on: metadata.name, metadata.namespace, spec.nodeName and
 * status.phase; a field the object does not have compares as "" (so
 * spec.nodeName= selects unscheduled pods, as on kube-apiserver).
 *
 * Not thread-safe to build; a compiled selector is immutable and can be
 * matched from many threads at once.
 */
#ifndef CW_SELECTOR_H
#define CW_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define CW_SELECTOR_ERR_MAX 256

struct cw_selector;

/*
 * Parse label selector @text (NUL-terminated; NULL or "" selects
 * everything) into *@out. Returns 0, -EINVAL for a syntax or validation
 * error (then @err, if not NULL, holds a one-line message of at most @errlen
 * bytes including the NUL, and *@out is NULL), or -ENOMEM.
 */
int cw_label_selector_parse(const char *text, struct cw_selector **out, char *err, size_t errlen);

/* Parse field selector @text; same contract as cw_label_selector_parse. */
int cw_field_selector_parse(const char *text, struct cw_selector **out, char *err, size_t errlen);

/* True if the selector has no requirement (it matches every object). */
bool cw_selector_empty(const struct cw_selector *sel);

/*
 * Label selector only: true if the labels object @labels (a JSON object of
 * strings; NULL or not an object counts as no labels) satisfies @sel.
 */
bool cw_selector_match_labels(const struct cw_selector *sel, const json_t *labels);

/*
 * True if object @obj satisfies @sel: a label selector against
 * obj.metadata.labels, a field selector against the fields it names.
 */
bool cw_selector_match(const struct cw_selector *sel, const json_t *obj);

/* Free a selector; NULL is a no-op. */
void cw_selector_free(struct cw_selector *sel);

#endif
