/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The served resources and the discovery documents kubectl reads before
 * anything else: /version, /api, /api/v1, /apis, /apis/GROUP and
 * /apis/GROUP/VERSION (the unaggregated forms; kubectl falls back to them
 * when the answer is not an APIGroupDiscoveryList).
 */
#include <stdio.h>
#include <string.h>

#include "tests/tools/fake_apiserver.h"

static const struct fa_resource resources[] = {
    {"pods", "pod", "Pod", "", "v1", "po", true, true},
    {"nodes", "node", "Node", "", "v1", "no", false, true},
    {"services", "service", "Service", "", "v1", "svc", true, true},
    {"configmaps", "configmap", "ConfigMap", "", "v1", "cm", true, false},
    {"secrets", "secret", "Secret", "", "v1", NULL, true, false},
    {"events", "event", "Event", "", "v1", "ev", true, false},
    {"namespaces", "namespace", "Namespace", "", "v1", "ns", false, false},
    {"endpointslices", "endpointslice", "EndpointSlice", "discovery.k8s.io", "v1", NULL, true,
     false},
    {"leases", "lease", "Lease", "coordination.k8s.io", "v1", NULL, true, false},
};

#define NRES (sizeof(resources) / sizeof(resources[0]))

static const char *const groups[] = {"coordination.k8s.io", "discovery.k8s.io"};

const struct fa_resource *fa_resource_at(size_t i)
{
	return i < NRES ? &resources[i] : NULL;
}

const struct fa_resource *fa_resource_find(const char *group, const char *version, const char *name)
{
	for (size_t i = 0; i < NRES; i++)
		if (!strcmp(resources[i].group, group) && !strcmp(resources[i].version, version) &&
		    !strcmp(resources[i].name, name))
			return &resources[i];
	return NULL;
}

const char *fa_api_version(const struct fa_resource *res, char *buf, size_t len)
{
	if (!*res->group)
		snprintf(buf, len, "%s", res->version);
	else
		snprintf(buf, len, "%s/%s", res->group, res->version);
	return buf;
}

const struct fa_resource *fa_resource_by_kind(const char *api_version, const char *kind)
{
	char av[64];

	for (size_t i = 0; i < NRES; i++)
		if (!strcmp(resources[i].kind, kind) &&
		    !strcmp(fa_api_version(&resources[i], av, sizeof(av)), api_version))
			return &resources[i];
	return NULL;
}

static json_t *resource_entry(const struct fa_resource *res, bool status)
{
	char name[64];
	json_t *e;

	snprintf(name, sizeof(name), "%s%s", res->name, status ? "/status" : "");
	e = json_pack("{s:s, s:s, s:b, s:s}", "name", name, "singularName",
		      status ? "" : res->singular, "namespaced", res->namespaced, "kind",
		      res->kind);
	if (!e)
		return NULL;
	if (status)
		json_object_set_new(e, "verbs", json_pack("[s,s,s]", "get", "patch", "update"));
	else
		json_object_set_new(e, "verbs",
				    json_pack("[s,s,s,s,s,s,s]", "create", "delete", "get", "list",
					      "patch", "update", "watch"));
	if (!status && res->short_name)
		json_object_set_new(e, "shortNames", json_pack("[s]", res->short_name));
	return e;
}

static json_t *resource_list(const char *group, const char *version)
{
	char gv[64];
	json_t *list = json_array(), *doc;

	snprintf(gv, sizeof(gv), "%s%s%s", group, *group ? "/" : "", version);
	for (size_t i = 0; list && i < NRES; i++) {
		if (strcmp(resources[i].group, group) || strcmp(resources[i].version, version))
			continue;
		json_array_append_new(list, resource_entry(&resources[i], false));
		if (resources[i].has_status)
			json_array_append_new(list, resource_entry(&resources[i], true));
	}
	if (!list || json_array_size(list) == 0) {
		json_decref(list);
		return NULL;
	}
	doc = json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
			"groupVersion", gv, "resources", list);
	return doc;
}

static json_t *group_doc(const char *group)
{
	char gv[64];

	snprintf(gv, sizeof(gv), "%s/v1", group);
	return json_pack("{s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "name", group, "versions",
			 "groupVersion", gv, "version", "v1", "preferredVersion", "groupVersion",
			 gv, "version", "v1");
}

static json_t *group_list(void)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < sizeof(groups) / sizeof(groups[0]); i++)
		json_array_append_new(list, group_doc(groups[i]));
	return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
			 list);
}

static json_t *group_by_path(const char *path)
{
	json_t *doc;

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (strcmp(path, groups[i]))
			continue;
		doc = group_doc(groups[i]);
		json_object_set_new(doc, "kind", json_string("APIGroup"));
		json_object_set_new(doc, "apiVersion", json_string("v1"));
		return doc;
	}
	return NULL;
}

json_t *fa_discovery(const char *path)
{
	char group[128], version[16];

	if (!strcmp(path, "/version"))
		return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor", "32",
				 "gitVersion", "v1.32.0-causeway-fake", "gitCommit", "",
				 "buildDate", "2026-01-01T00:00:00Z", "goVersion", "none",
				 "platform", "linux/amd64");
	if (!strcmp(path, "/api"))
		return json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions",
				 "v1", "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0",
				 "serverAddress", "");
	if (!strcmp(path, "/api/v1"))
		return resource_list("", "v1");
	if (!strcmp(path, "/apis"))
		return group_list();
	if (strncmp(path, "/apis/", 6))
		return NULL;
	if (sscanf(path + 6, "%127[^/]/%15[^/]", group, version) == 2 &&
	    strlen(path + 6) == strlen(group) + 1 + strlen(version))
		return resource_list(group, version);
	return group_by_path(path + 6);
}
