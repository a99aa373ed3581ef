#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The route table live in causewayd (socket backend, loopback only):
#
#   cw-api-client (edge-1, edge-2: agent sessions sending API requests)
#     --UDP 127.0.0.1--> causewayd tunnel: every request routed by [route]
#
# Two route files that disagree on /api/v1/pods (A: upstream, which the
# worker hands to the control thread over the rings, where no upstream is
# configured, so Error UPSTREAM_UNAVAILABLE; B: deny, so 403) are swapped
# in with SIGHUP while
# the client keeps requests in flight. Checks: no request is lost or left
# unanswered across the reloads, both answers are seen, secrets are denied
# by both; the gateway's per-action counters add up to what the client
# sent; a file with a broken rule is refused on SIGHUP and changes nothing.
#
# Usage: routes.sh CAUSEWAYD API_CLIENT
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[[ $# -eq 2 ]] || {
	echo "usage: $0 CAUSEWAYD API_CLIENT" >&2
	exit 2
}
[[ $EUID -eq 0 ]] || {
	echo "SKIP: needs root"
	exit 77
}
DAEMON=$(realpath -e "$1")
CLIENT=$(realpath -e "$2")
command -v openssl >/dev/null || cw_fail "openssl not found (run scripts/deps.sh)"
CW_KEEP_GOING=1
base=$(cw_free_ports 2)
TUN_PORT=$base ADMIN_PORT=$((base + 1))

cw_tmpdir routes

cw_section "certificates"
"$here/../../scripts/pki.sh" "$tmp" 127.0.0.1 edge-1 edge-2
cw_check "certificates made" test -s "$tmp/edge-2.crt"

# conf ROUTES: the gateway's file with [route] section ROUTES.
conf()
{
	cat <<EOF
$(cw_loopback_conf routes)
# Handshakes on the worker itself: the path without handshake threads.
handshake_threads = 0
[ingress]
listen =
[admin]
listen = 127.0.0.1:$ADMIN_PORT
[route]
$1
[log]
level = info
EOF
}
conf $'rule = * ^/api/v1/(namespaces/[^/]+/)?secrets(/|$) deny\ndefault = upstream' >"$tmp/a.conf"
conf $'rule = GET ^/api/v1/(namespaces/[^/]+/)?(secrets|pods)(/|$) deny\ndefault = upstream' \
	>"$tmp/b.conf"
conf $'rule = GET ^/api/v1/(pods deny' >"$tmp/broken.conf"
cp "$tmp/a.conf" "$tmp/causeway.conf"
CW_FILE_PREFIX=cwt-routes-$$
cw_start_daemon "$DAEMON" "$tmp/causeway.conf" "$tmp/causewayd.log"

# client PATH [OPTION...]: two agent sessions sending GET PATH.
client()
{
	local path=$1

	shift
	"$CLIENT" --gateway "127.0.0.1:$TUN_PORT" --server-name 127.0.0.1 --ca "$tmp/ca.crt" \
		--certs "$tmp" --node edge-1 --node edge-2 --inflight 4 --timeout-ms 3000 \
		--request "GET $path" "$@"
}
PODS=/api/v1/namespaces/default/pods
SECRETS=/api/v1/namespaces/kube-system/secrets/token
sent=0
# run NAME PATH SECONDS: a client run whose JSON line lands in $out.
run()
{
	out=$(client "$2" --seconds "$3" 2>"$tmp/$1.log") || cw_fail "cw-api-client failed: $out"
	cw_log "client: $out"
	sent=$((sent + $(cw_json "$out" sent)))
	cw_check_eq "$1: both sessions up" 2 "$(cw_json "$out" up)"
	cw_check_eq "$1: every request answered" "$(cw_json "$out" sent)" "$(cw_json "$out" answered)"
}

cw_section "routes of file A"
run secrets-a "$SECRETS" 1
cw_check_eq "secrets denied (403)" "$(cw_json "$out" sent)" "$(cw_json "$out" status.403)"
run pods-a "$PODS" 1
cw_check_eq "pods: upstream, answered by the control thread (none configured)" \
	"$(cw_json "$out" sent)" "$(cw_json "$out" errors.11)"

cw_section "reloads under traffic"
client "$PODS" --seconds 6 >"$tmp/client2.json" 2>"$tmp/client2.log" &
CLIENT_PID=$!
cw_track_pid "$CLIENT_PID"
# applied N: wait (3 s at most) until the log shows N reloads of the routes.
applied()
{
	local i

	for ((i = 0; i < 30; i++)); do
		(($(grep -c 'routes: 1 rules, default upstream' "$tmp/causewayd.log") >= $1)) && return 0
		sleep 0.1
	done
	return 1
}
# Reload only once the client's requests flow (its handshakes come first).
before=$(cw_metric 'causeway_api_requests_total{action="upstream"}')
for ((i = 0; i < 100; i++)); do
	(($(cw_metric 'causeway_api_requests_total{action="upstream"}') > before)) && break
	sleep 0.1
done
reloads=0
for ((i = 0; i < 12; i++)); do
	sleep 0.2
	if ((i % 2 == 0)); then cp "$tmp/b.conf" "$tmp/causeway.conf"; else cp "$tmp/a.conf" "$tmp/causeway.conf"; fi
	kill -HUP "$CW_DAEMON_PID"
	reloads=$((reloads + 1))
	applied "$reloads" || break
done
rc=0
wait "$CLIENT_PID" || rc=$?
out=$(cat "$tmp/client2.json")
cw_log "client: $out"
sent=$((sent + $(cw_json "$out" sent)))
cw_check_eq "client exit status (0: nothing lost)" 0 "$rc"
cw_check_eq "no request lost across $reloads reloads" 0 "$(cw_json "$out" lost)"
cw_check_eq "every request answered" "$(cw_json "$out" sent)" "$(cw_json "$out" answered)"
cw_check "pods denied under B" test "$(cw_json "$out" status.403)" -gt 0
cw_check "pods upstream under A" test "$(cw_json "$out" errors.11)" -gt 0
cw_check_eq "no other answer" "$(cw_json "$out" sent)" \
	"$(($(cw_json "$out" status.403) + $(cw_json "$out" errors.11)))"
cw_check_eq "every reload applied" 12 "$(grep -c 'routes: 1 rules, default upstream' "$tmp/causewayd.log")"

cw_section "a broken rule changes nothing"
cp "$tmp/broken.conf" "$tmp/causeway.conf"
kill -HUP "$CW_DAEMON_PID"
sleep 0.3
cw_check "reload refused with the rule's line" \
	grep -q "reload refused, configuration unchanged: $tmp/causeway.conf:[0-9]*: key 'rule': pattern" \
	"$tmp/causewayd.log"
run pods-after "$PODS" 1
cw_check_eq "file A's routes still in force (pods upstream)" "$(cw_json "$out" sent)" \
	"$(cw_json "$out" errors.11)"

cw_section "counters"
deny=$(cw_metric 'causeway_api_requests_total{action="deny"}')
up=$(cw_metric 'causeway_api_requests_total{action="upstream"}')
hub=$(cw_metric 'causeway_api_requests_total{action="hub"}')
cw_check_eq "every request the clients sent was routed once" "$sent" "$((deny + up + hub))"
cw_check_eq "no request routed to the hub" 0 "$hub"
# Each went to the control thread over the rings and its answer came back.
cw_check_eq "upstream requests handed to the control thread" "$up" \
	"$(cw_metric 'causeway_api_forwarded_total{action="upstream"}')"
cw_check_eq "... answered UPSTREAM_UNAVAILABLE there" "$up" \
	"$(cw_metric causeway_api_unavailable_total)"
cw_check_eq "none refused on the worker" 0 "$(cw_metric causeway_api_refused_total)"
cw_stop_daemon
cw_summary
