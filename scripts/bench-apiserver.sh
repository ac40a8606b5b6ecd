#!/usr/bin/env bash
# API-server load benchmark: kubesim with N nodes on loopback, read by `kubelet-metrics histogram`
#   - through the API server proxy with the default --qps (100/s, burst 20)
#   - through the proxy without a limit (--qps 0)
#   - directly from the kubelets (the API server only lists nodes)
#   - curl --parallel straight to the kubelets (fetch only: the floor of the direct method)
# For each run: wall time, peak RSS, and what kubesim's API server saw (its request counter,
# `GET /debug/requests`, reset before every run): requests by kind, proxied requests per second
# over the run, and the most proxied requests that arrived within one second.
#
# Usage: scripts/bench-apiserver.sh [NODES=5000]
# Everything binds 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-5000}

cargo build --release --quiet -p kubelet-metrics -p kubesim --bins
KM=$PWD/target/release/kubelet-metrics
KUBESIM=$PWD/target/release/kubesim
# shellcheck source=scripts/lib/kubesim.sh
source scripts/lib/kubesim.sh
kubesim_setup

calc() { awk "BEGIN { print $* }"; }

kubesim_start "$work/sim" "$NODES"
printf 'kubesim: %d nodes ready in %.1f s\n\n' "$NODES" "$kubesim_ready_secs"
kc=$work/sim/admin.kubeconfig
token=$(awk '/token:/{print $2; exit}' "$kc")
debug() { curl -s --cacert "$work/sim/ca.crt" -H "Authorization: Bearer $token" -X "$1" "$api/debug/requests"; }

# run LABEL COMMAND...: resets kubesim's counter, runs the command, prints one line.
printf '%-34s %8s %9s %8s %8s %8s %10s %10s\n' "run" "wall s" "RSS MB" "lists" "gets" "proxied" "proxied/s" "peak/1s"
run() {
  local label=$1; shift
  debug DELETE >/dev/null
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || true
  read -r secs rss_kb <"$work/time"
  debug GET >"$work/requests.json"
  jq -r --arg name "$label" --argjson secs "$secs" --argjson rss "$rss_kb" '
    (.by_kind.proxy // 0) as $p
    | (if $p > 1 then ($p - 1) / (((.proxy_last_ms - .proxy_first_ms) / 1000) | if . > 0 then . else 1 end) else 0 end) as $rate
    | [$name, $secs, ($rss / 1024), (.by_kind.list // 0), (.by_kind.get // 0), $p, $rate, .proxy_peak_per_second]
    | @tsv' "$work/requests.json" |
    awk -F'\t' '{ printf "%-34s %8.2f %9.1f %8d %8d %8d %10.1f %10d\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
  local failed
  failed=$(jq '.errors | length' "$work/out" 2>/dev/null || echo "?")
  [[ $failed == 0 ]] || echo "  ($failed nodes failed: $(head -c 300 "$work/err"))"
}

run "histogram, proxy, default --qps" "$KM" histogram --kubeconfig "$kc" -o json
run "histogram, proxy, --qps 0" "$KM" histogram --kubeconfig "$kc" --qps 0 -o json
run "histogram, direct" "$KM" histogram --kubeconfig "$kc" --method direct \
  --token-file "$work/sim/sa.token" --kubelet-ca "$work/sim/kubelet-ca.crt" -o json

# The floor of the direct method: curl fetching every kubelet's /metrics, 64 at a time (the
# direct method's default concurrency), with the same token and CA. curl 7.88 draws its parallel
# progress meter even with -s; --no-progress-meter keeps it off the report.
kubectl --kubeconfig "$kc" get nodes -o jsonpath='{range .items[*]}{.status.daemonEndpoints.kubeletEndpoint.Port}{"\n"}{end}' >"$work/ports"
{
  echo "cacert = \"$work/sim/kubelet-ca.crt\""
  echo "header = \"Authorization: Bearer $(cat "$work/sim/sa.token")\""
  echo "silent"
  while read -r port; do echo "url = \"https://127.0.0.1:$port/metrics\""; echo "output = \"/dev/null\""; done <"$work/ports"
} >"$work/curl.cfg"
debug DELETE >/dev/null
/usr/bin/time -f '%e %M' -o "$work/time" curl -s --no-progress-meter --parallel --parallel-max 64 -K "$work/curl.cfg" || true
read -r secs rss_kb <"$work/time"
printf '%-34s %8.2f %9.1f\n' "curl --parallel-max 64 (direct)" "$secs" "$(calc "$rss_kb/1024")"
