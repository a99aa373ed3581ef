#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The fake kube-apiserver (tests/tools/fake_apiserver*.c) on loopback, with
# curl and the real kubectl. No root needed. Usage:
#
#   tests/integration/fake_apiserver.sh FAKE_APISERVER
#
# Checks: the command line; discovery; seeding; kubectl create/get/apply/
# patch/delete; resourceVersion, uid, generation as the server sets them;
# 409 AlreadyExists and Conflict; strategic merge of status conditions by
# type; the main resource ignoring status; no revision for a no-op write;
# label and field selectors; limit/continue, Exact lists, 504 for a future
# revision; watch event sequences with selectors (objects moving out are
# DELETED), bookmarks, timeoutSeconds; 410 on compacted history for watch,
# list and continue; /fake/restart ending watches; request and watch
# counters; exit status 0 on SIGTERM.
# Prints one line per check and "N passed, N failed"; exit 1 on any failure.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[[ $# -eq 1 ]] || {
	echo "usage: $0 FAKE_APISERVER" >&2
	exit 2
}
FAKE=$(realpath -e "$1")
CW_KEEP_GOING=1
command -v kubectl >/dev/null || cw_fail "kubectl not found (Debian package kubernetes-client)"

tmp=$(mktemp -d /tmp/cw-fakeapi.XXXXXX)
cw_on_exit "rm -rf '$tmp'"
# shellcheck disable=SC2016 # expanded when the hook runs
cw_on_exit '((CW_FAILED == 0)) || for f in "$tmp"/server*.log; do echo "---- $f"; tail -n 40 "$f"; done >&2'

eq() { cw_check_eq "$@" || true; }

# j EXPR: evaluate Python EXPR over the JSON document on stdin (as d); a
# list prints space-separated, None prints nothing.
j()
{
	python3 -c '
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
if isinstance(v, list):
    print(" ".join(str(x) for x in v))
elif v is not None:
    print(v if not isinstance(v, bool) else str(v).lower())
' "$1"
}

# api METHOD PATH [BODY [CONTENT_TYPE]]: the answer's body in $tmp/body,
# its status code on stdout.
api()
{
	local args=(-s -o "$tmp/body" -w '%{http_code}' -X "$1")

	[[ $# -ge 3 ]] && args+=(-H "Content-Type: ${4:-application/json}" --data-binary "$3")
	curl "${args[@]}" "$S$2"
}

body() { j "$1" <"$tmp/body"; }

# ---- command line ----
cw_section "command line"
rc=0
"$FAKE" >/dev/null 2>&1 || rc=$?
eq "no arguments: exit status" 2 "$rc"
rc=0
"$FAKE" --listen 127.0.0.1:1 --history 0 >/dev/null 2>&1 || rc=$?
eq "--history 0: exit status" 2 "$rc"
rc=0
"$FAKE" --help >"$tmp/help" || rc=$?
eq "--help: exit status" 0 "$rc"
cw_check "--help prints the usage" grep -q -- '--seed-dir DIR' "$tmp/help"

# ---- start, seeded with a node and two config maps (a List) ----
mkdir "$tmp/seed"
cat >"$tmp/seed/01-node.json" <<'EOF'
{"apiVersion":"v1","kind":"Node","metadata":{"name":"edge-1","labels":{"pool":"room-a"}},
 "spec":{},"status":{"conditions":[{"type":"Ready","status":"True"}]}}
EOF
cat >"$tmp/seed/02-cms.json" <<'EOF'
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-a","namespace":"default"},"data":{"k":"v"}},
 {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-b","namespace":"kube-system"}}]}
EOF
port=$(cw_free_ports 1)
S=http://127.0.0.1:$port
"$FAKE" --listen "127.0.0.1:$port" --seed-dir "$tmp/seed" --history 100 --bookmark-ms 200 \
	>"$tmp/server.log" 2>&1 &
FAKE_PID=$!
cw_track_pid "$FAKE_PID"
for ((i = 0; i < 100; i++)); do
	grep -q "ready on 127.0.0.1:$port" "$tmp/server.log" && break
	cw_alive "$FAKE_PID" || cw_fail "the fake apiserver exited: $(cat "$tmp/server.log")"
	sleep 0.05
done
grep -q "ready on 127.0.0.1:$port" "$tmp/server.log" || cw_fail "not ready after 5 s"

export KUBECONFIG=/dev/null
K=(kubectl --server "$S" --cache-dir "$tmp/kcache")

stat() { curl -s "$S/fake/stats" | j "$1"; }

cw_section "discovery and seed"
eq "/api/v1 resources" "pods pods/status nodes nodes/status services services/status configmaps secrets events namespaces" \
	"$(curl -s "$S/api/v1" | j '[r["name"] for r in d["resources"]]')"
eq "/apis groups" "coordination.k8s.io discovery.k8s.io" \
	"$(curl -s "$S/apis" | j '[g["name"] for g in d["groups"]]')"
eq "/apis/coordination.k8s.io/v1" "Lease" \
	"$(curl -s "$S/apis/coordination.k8s.io/v1" | j '[r["kind"] for r in d["resources"]]')"
eq "seeded: resourceVersion" 3 "$(stat 'd["resource_version"]')"
eq "kubectl get nodes -o name" node/edge-1 "$("${K[@]}" get nodes -o name)"
eq "kubectl get configmaps -A" "default/cm-a kube-system/cm-b" \
	"$("${K[@]}" get configmaps -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {end}' | sed 's/ $//')"

cw_section "kubectl create, get, apply"
cat >"$tmp/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: default
  labels: {app: web}
spec:
  nodeName: edge-1
  containers:
  - name: nginx
    image: nginx:1.25
EOF
# validation would need /openapi, which is not served
eq "kubectl create -f" "pod/web-1 created" "$("${K[@]}" create --validate=false -f "$tmp/pod.yaml")"
"${K[@]}" get pod web-1 -n default -o json >"$tmp/body"
eq "created: resourceVersion" 4 "$(body 'd["metadata"]["resourceVersion"]')"
eq "created: uid" 00000000-0000-4000-8000-000000000004 "$(body 'd["metadata"]["uid"]')"
eq "created: generation" 1 "$(body 'd["metadata"]["generation"]')"
cw_check "created: creationTimestamp is RFC 3339" \
	grep -Eq '"creationTimestamp": "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"' "$tmp/body"
"${K[@]}" get pods,nodes,configmaps -A >"$tmp/get-all"
eq "kubectl get pods,nodes,configmaps -A: rows" 4 "$(grep -cE 'web-1|edge-1|cm-a|cm-b' "$tmp/get-all")"
eq "kubectl get pods -n default -o json" "List web-1" \
	"$("${K[@]}" get pods -n default -o json | j '[d["kind"]] + [i["metadata"]["name"] for i in d["items"]]')"
rc=0
"${K[@]}" create --validate=false -f "$tmp/pod.yaml" 2>"$tmp/err" || rc=$?
eq "kubectl create again: exit status" 1 "$rc"
eq "kubectl create again: message" \
	"Error from server (AlreadyExists): error when creating \"$tmp/pod.yaml\": pods \"web-1\" already exists" \
	"$(cat "$tmp/err")"
eq "POST again: status" 409 \
	"$(api POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1"}}')"
eq "POST again: Status" "Status Failure AlreadyExists 409 pods web-1" \
	"$(body '[d["kind"], d["status"], d["reason"], d["code"], d["details"]["kind"], d["details"]["name"]]')"
eq "POST to another namespace than the object's" 400 \
	"$(api POST /api/v1/namespaces/other/pods '{"metadata":{"name":"x","namespace":"default"}}')"
eq "a protobuf body" "415 UnsupportedMediaType" \
	"$(api POST /api/v1/namespaces/default/configmaps k8s application/vnd.kubernetes.protobuf) $(body 'd["reason"]')"
eq "POST without a name" "422 Invalid" \
	"$(api POST /api/v1/namespaces/default/pods '{"metadata":{}}') $(body 'd["reason"]')"
eq "kubectl apply (create)" "configmap/cm-c created" \
	"$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-c, namespace: default}\ndata: {a: "1"}\n' | "${K[@]}" apply --validate=false -f -)"
eq "kubectl apply (update)" "configmap/cm-c configured" \
	"$(printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-c, namespace: default}\ndata: {a: "2"}\n' | "${K[@]}" apply --validate=false -f -)"
eq "applied data" 2 "$("${K[@]}" get cm cm-c -n default -o jsonpath='{.data.a}')"

cw_section "patch and update"
P=/api/v1/namespaces/default/pods/web-1
eq "kubectl patch (labels)" "pod/web-1 patched" \
	"$("${K[@]}" patch pod web-1 -n default -p '{"metadata":{"labels":{"tier":"fe"}}}')"
api GET $P >/dev/null
eq "labels merged; generation kept" "app=web tier=fe 1" \
	"$(body '["%s=%s" % kv for kv in sorted(d["metadata"]["labels"].items())] + [d["metadata"]["generation"]]')"
rv=$(body 'd["metadata"]["resourceVersion"]')
eq "strategic patch of a container by name" 200 \
	"$(api PATCH $P '{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}' application/strategic-merge-patch+json)"
eq "container merged; generation +1" "nginx nginx:1.27 2" \
	"$(body '[c["name"] for c in d["spec"]["containers"]] + [d["spec"]["containers"][0]["image"], d["metadata"]["generation"]]')"
eq "kubectl patch --subresource=status" "pod/web-1 patched" \
	"$("${K[@]}" patch pod web-1 -n default --subresource=status \
		-p '{"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"False"}]}}')"
api PATCH $P/status '{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}' \
	application/strategic-merge-patch+json >/dev/null
eq "status conditions merged by type" "Running PodScheduled=True Ready=True" \
	"$(body '[d["status"]["phase"]] + ["%s=%s" % (c["type"], c["status"]) for c in d["status"]["conditions"]]')"
# shellcheck disable=SC2016 # $patch is a strategic merge directive
api PATCH $P/status '{"status":{"conditions":[{"type":"Ready","$patch":"delete"}]}}' \
	application/strategic-merge-patch+json >/dev/null
eq "\$patch: delete removes a condition" PodScheduled "$(body '[c["type"] for c in d["status"]["conditions"]]')"
api PATCH $P/status '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}' \
	application/merge-patch+json >/dev/null
eq "merge patch replaces the list" Ready "$(body '[c["type"] for c in d["status"]["conditions"]]')"
eq "status patch: generation kept" 2 "$(body 'd["metadata"]["generation"]')"
api GET $P >/dev/null
cur=$(body 'd["metadata"]["resourceVersion"]')
body 'json.dumps(dict(d, status={"phase":"Failed"}))' >"$tmp/put.json"
eq "PUT: status" 200 "$(api PUT $P "$(<"$tmp/put.json")")"
eq "PUT on the main resource keeps status" Running "$(body 'd["status"]["phase"]')"
eq "PUT that changes nothing: no new revision" "$cur" "$(body 'd["metadata"]["resourceVersion"]')"
eq "PUT with a stale resourceVersion" "409 Conflict" \
	"$(api PUT $P "$(body 'json.dumps(dict(d, metadata=dict(d["metadata"], resourceVersion="'"$rv"'")))')") $(body 'd["reason"]')"
eq "patch with a stale resourceVersion" 409 \
	"$(api PATCH $P '{"metadata":{"resourceVersion":"'"$rv"'","labels":{"x":"y"}}}' application/merge-patch+json)"
eq "merge patch null deletes a label" "200 app" \
	"$(api PATCH $P '{"metadata":{"labels":{"tier":null}}}' application/merge-patch+json) $(body 'sorted(d["metadata"]["labels"])')"
eq "JSON patch is not supported" 415 "$(api PATCH $P '[]' application/json-patch+json)"
eq "PUT on a missing object" 404 "$(api PUT /api/v1/namespaces/default/pods/nope '{"metadata":{"name":"nope"}}')"
eq "pods/status POST" 405 "$(api POST $P/status '{}')"

cw_section "selectors and paging"
for p in a:edge-1:a b:edge-2:b c:edge-1:b; do
	IFS=: read -r n node app <<<"$p"
	api POST /api/v1/namespaces/kube-system/pods \
		'{"metadata":{"name":"p-'"$n"'","labels":{"app":"'"$app"'"}},"spec":{"nodeName":"'"$node"'"}}' >/dev/null
done
names() { j '[i["metadata"]["namespace"] + "/" + i["metadata"]["name"] for i in d["items"]]'; }
eq "fieldSelector spec.nodeName=edge-1" "default/web-1 kube-system/p-a kube-system/p-c" \
	"$(curl -s "$S/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1" | names)"
eq "labelSelector app in (a,b),app!=b" kube-system/p-a \
	"$(curl -s "$S/api/v1/pods?labelSelector=app+in+(a,b),app!%3Db" | names)"
eq "both, in one namespace" kube-system/p-c \
	"$(curl -s "$S/api/v1/namespaces/kube-system/pods?labelSelector=app%3Db&fieldSelector=spec.nodeName%3Dedge-1" | names)"
eq "bad label selector" "400 BadRequest" "$(api GET '/api/v1/pods?labelSelector=a%20in%20(b' ) $(body 'd["reason"]')"
eq "unsupported field" 400 "$(api GET '/api/v1/pods?fieldSelector=spec.host%3Dx')"
api GET '/api/v1/pods?limit=2' >/dev/null
eq "limit=2: page 1" "default/web-1 kube-system/p-a" "$(names <"$tmp/body")"
eq "limit=2: remainingItemCount" 2 "$(body 'd["metadata"]["remainingItemCount"]')"
snap=$(body 'd["metadata"]["resourceVersion"]')
tok=$(body 'd["metadata"]["continue"]')
api DELETE /api/v1/namespaces/kube-system/pods/p-c >/dev/null
api GET "/api/v1/pods?limit=2&continue=$tok" >/dev/null
eq "page 2 is served from the snapshot (p-c deleted since)" "kube-system/p-b kube-system/p-c" "$(names <"$tmp/body")"
eq "page 2: same resourceVersion, no continue" "$snap" \
	"$(body 'd["metadata"]["resourceVersion"] + (d["metadata"].get("continue") or "")')"
eq "list Exact at the snapshot" "default/web-1 kube-system/p-a kube-system/p-b kube-system/p-c" \
	"$(curl -s "$S/api/v1/pods?resourceVersion=$snap&resourceVersionMatch=Exact" | names)"
eq "list Exact before p-a existed" "default/web-1" \
	"$(curl -s "$S/api/v1/pods?resourceVersion=$((snap - 3))&resourceVersionMatch=Exact" | names)"
now=$(stat 'd["resource_version"]')
eq "list NotOlderThan a future revision" "504 Timeout" \
	"$(api GET "/api/v1/pods?resourceVersion=$((now + 5))&resourceVersionMatch=NotOlderThan") $(body 'd["reason"]')"
eq "list NotOlderThan: current" "$now" \
	"$(curl -s "$S/api/v1/pods?resourceVersion=1&resourceVersionMatch=NotOlderThan" | j 'd["metadata"]["resourceVersion"]')"

cw_section "watch"
# from the current revision, selecting kube-system pods with app=b
curl -sN "$S/api/v1/namespaces/kube-system/pods?watch=1&resourceVersion=$now&labelSelector=app%3Db&timeoutSeconds=2" \
	>"$tmp/watch1" &
w1=$!
for ((i = 0; i < 50; i++)); do
	[[ "$(stat 'd["watches_open"].get("pods", 0)')" == 1 ]] && break
	sleep 0.05
done
eq "open watches while watching" 1 "$(stat 'd["watches_open"].get("pods", 0)')"
api POST /api/v1/namespaces/kube-system/pods '{"metadata":{"name":"p-d","labels":{"app":"b"}}}' >/dev/null
api POST /api/v1/namespaces/default/pods '{"metadata":{"name":"p-e","labels":{"app":"b"}}}' >/dev/null
api PATCH /api/v1/namespaces/kube-system/pods/p-d '{"metadata":{"annotations":{"n":"1"}}}' application/merge-patch+json >/dev/null
api PATCH /api/v1/namespaces/kube-system/pods/p-a '{"metadata":{"labels":{"app":"b"}}}' application/merge-patch+json >/dev/null
api PATCH /api/v1/namespaces/kube-system/pods/p-b '{"metadata":{"labels":{"app":"c"}}}' application/merge-patch+json >/dev/null
api DELETE /api/v1/namespaces/kube-system/pods/p-d >/dev/null
last=$(stat 'd["resource_version"]')
t0=$EPOCHREALTIME
wait "$w1" || true
eq "timeoutSeconds=2 ends the stream" 1 \
	"$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print (b - a < 2.5) ? 1 : 0 }')"
events() { python3 -c 'import json,sys
print(" ".join("%s:%s@%s" % (e["type"], e["object"]["metadata"].get("name", ""), e["object"]["metadata"]["resourceVersion"]) for e in map(json.loads, sys.stdin)))'; }
eq "watch events (selectors; moved in = ADDED, moved out = DELETED)" \
	"ADDED:p-d@$((now + 1)) MODIFIED:p-d@$((now + 3)) ADDED:p-a@$((now + 4)) DELETED:p-b@$((now + 5)) DELETED:p-d@$((now + 6))" \
	"$(events <"$tmp/watch1")"
eq "open watches after the timeout" 0 "$(stat 'd["watches_open_total"]')"
eq "watch from an old revision replays history" \
	"ADDED:p-d@$((now + 1)) ADDED:p-e@$((now + 2))" \
	"$(curl -sN "$S/api/v1/pods?watch=true&resourceVersion=$now&timeoutSeconds=1&labelSelector=app%3Db" | events | cut -d' ' -f1-2)"
eq "watch without resourceVersion starts with ADDED for each object" \
	"ADDED:p-a@$((now + 4)) ADDED:p-e@$((now + 2))" \
	"$(curl -sN "$S/api/v1/pods?watch=1&timeoutSeconds=1&labelSelector=app%3Db" | events | tr ' ' '\n' | sort | paste -sd' ')"
curl -sN --max-time 0.5 "$S/api/v1/nodes?watch=1" >/dev/null || true
for ((i = 0; i < 50; i++)); do
	[[ "$(stat 'd["watches_open_total"]')" == 0 ]] && break
	sleep 0.05
done
eq "a watch the client hangs up on is closed" 0 "$(stat 'd["watches_open_total"]')"
curl -sN "$S/api/v1/nodes?watch=1&resourceVersion=$last&allowWatchBookmarks=true&timeoutSeconds=1" >"$tmp/bm"
cw_check_ge "bookmarks in 1 s at 200 ms" 3 "$(grep -c '"type":"BOOKMARK"' "$tmp/bm")"
eq "bookmarks carry the current revision" "$last" \
	"$(head -n1 "$tmp/bm" | j 'd["object"]["kind"] + " " + d["object"]["metadata"]["resourceVersion"]' | sed 's/^Node //')"

cw_section "410 Gone"
curl -s -X POST "$S/fake/compact?keep=2" >"$tmp/body"
eq "compact keep=2: compacted revision" $((last - 2)) "$(body 'd["compacted_revision"]')"
curl -sN "$S/api/v1/pods?watch=1&resourceVersion=$now" >"$tmp/w410"
eq "watch from a compacted revision: one ERROR event" "1 ERROR Status Expired 410" \
	"$(wc -l <"$tmp/w410") $(j '[d["type"], d["object"]["kind"], d["object"]["reason"], d["object"]["code"]]' <"$tmp/w410")"
eq "watch from the compaction point still works" "" \
	"$(curl -sN "$S/api/v1/pods?watch=1&resourceVersion=$((last - 2))&timeoutSeconds=1" | grep ERROR || true)"
eq "list Exact at a compacted revision" "410 Expired" \
	"$(api GET "/api/v1/pods?resourceVersion=$now&resourceVersionMatch=Exact") $(body 'd["reason"]')"
eq "continue from a compacted snapshot" "410 Expired" \
	"$(api GET "/api/v1/pods?limit=2&continue=$tok") $(body 'd["reason"]')"
curl -sN "$S/api/v1/pods?watch=1&resourceVersion=$last&timeoutSeconds=20" >"$tmp/w-restart" &
w2=$!
for ((i = 0; i < 50; i++)); do
	[[ "$(stat 'd["watches_open_total"]')" == 1 ]] && break
	sleep 0.05
done
t0=$EPOCHREALTIME
curl -s -X POST "$S/fake/restart" >"$tmp/body"
wait "$w2" || true
eq "restart ends open watches at once" 1 \
	"$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print (b - a < 2) ? 1 : 0 }')"
eq "restart: no history, no watches" "$last 0 0" "$(body '[d["compacted_revision"], d["history"], d["watches_open_total"]]')"
eq "watch from before the restart" 410 \
	"$(curl -sN "$S/api/v1/pods?watch=1&resourceVersion=$((last - 1))" | j 'd["object"]["code"]')"

cw_section "delete and counters"
eq "kubectl delete" 'pod "web-1" deleted' "$("${K[@]}" delete pod web-1 -n default --wait=false)"
eq "get after delete" "404 NotFound pods web-1" \
	"$(api GET $P) $(body '[d["reason"], d["details"]["kind"], d["details"]["name"]]')"
eq "delete again" 404 "$(api DELETE $P)"
eq "delete returns the last state at the deletion revision" "200 $((last + 2))" \
	"$(api DELETE /api/v1/namespaces/default/pods/p-e) $(body 'd["metadata"]["resourceVersion"]')"
eq "delete with a stale precondition" 409 \
	"$(api DELETE /api/v1/namespaces/kube-system/pods/p-a '{"preconditions":{"resourceVersion":"1"}}')"
curl -s "$S/fake/stats" >"$tmp/body"
eq "counted: creates of pods" 10 "$(body 'd["requests"]["create"]["pods"]')"
eq "counted: pods/status patches" 4 "$(body 'd["requests"]["patch"]["pods/status"]')"
eq "counted: pod watches" 7 "$(body 'd["requests"]["watch"]["pods"]')"
eq "counted: watches ever opened" 9 "$(body 'd["watches_total"]')"
cw_check_ge "counted: requests in all" 60 "$(body 'd["requests_total"]')"

kill -TERM "$FAKE_PID"
rc=0
wait "$FAKE_PID" || rc=$?
eq "exit status on SIGTERM" 0 "$rc"

cw_section "HTTPS and a bearer token"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=fake-apiserver -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null
rc=0
"$FAKE" --listen "127.0.0.1:$port" --tls-cert "$tmp/tls.crt" >/dev/null 2>&1 || rc=$?
eq "--tls-cert without --tls-key: exit status" 2 "$rc"
"$FAKE" --listen "127.0.0.1:$port" --seed-dir "$tmp/seed" --tls-cert "$tmp/tls.crt" \
	--tls-key "$tmp/tls.key" --token s3cret >"$tmp/server-tls.log" 2>&1 &
FAKE_PID=$!
cw_track_pid "$FAKE_PID"
for ((i = 0; i < 100; i++)); do
	grep -q "ready on 127.0.0.1:$port" "$tmp/server-tls.log" && break
	sleep 0.05
done
S=https://127.0.0.1:$port
eq "kubectl over HTTPS with the token" node/edge-1 \
	"$(kubectl --server "$S" --cache-dir "$tmp/kcache-tls" --certificate-authority "$tmp/tls.crt" \
		--token s3cret get nodes -o name)"
eq "no token: 401 Unauthorized" "401 Unauthorized" \
	"$(curl -s --cacert "$tmp/tls.crt" -o "$tmp/body" -w '%{http_code}' "$S/api/v1/nodes") $(body 'd["reason"]')"
eq "wrong token: 401" 401 \
	"$(curl -s --cacert "$tmp/tls.crt" -H 'Authorization: Bearer nope' -o /dev/null -w '%{http_code}' "$S/api")"
eq "watch over HTTPS" "ADDED:edge-1@1" \
	"$(curl -sN --cacert "$tmp/tls.crt" -H 'Authorization: Bearer s3cret' "$S/api/v1/nodes?watch=1&timeoutSeconds=1" | events)"
eq "plain HTTP to the HTTPS port fails" 000 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/version" || true)"
kill -TERM "$FAKE_PID"
rc=0
wait "$FAKE_PID" || rc=$?
eq "HTTPS server: exit status on SIGTERM" 0 "$rc"
cw_summary
