#!/usr/bin/env bash
# Fan-out benchmark (issue 4, DESIGN §5): kubesim with N nodes on loopback, each `/metrics` about
# 250 KB, read through the API server proxy by
#   - kubelet-metrics histogram            (fetch + parse + analyse every node)
#   - a sequential `kubectl get --raw | grep` loop   (the seed's way)
#   - `xargs -P 16 kubectl get --raw | grep`
#   - one `curl --parallel --parallel-max 16` process (fetch only: the floor)
# then peak RSS at 100 vs N nodes and with 20 MB payloads, and one-node `get` against one
# `kubectl get --raw` and one `curl` (hyperfine). Prints ratios measured in this one run.
#
# The proxy runs pass --qps 0: this measures throughput against curl, which has no rate limit
# (scripts/bench-apiserver.sh measures the default --qps).
#
# Usage: scripts/bench-fanout.sh [NODES=1000] [KUBECTL_SAMPLE=100]
# The kubectl runs are slow (~90 ms a call), so they read KUBECTL_SAMPLE nodes and the time is
# scaled linearly to NODES (said in the output). Everything binds 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-1000}
SAMPLE=${2:-100}
CONCURRENCY=16

cargo build --release --quiet -p kubelet-metrics -p kubesim --bins
KM=$PWD/target/release/kubelet-metrics
KUBESIM=$PWD/target/release/kubesim
# shellcheck source=scripts/lib/kubesim.sh
source scripts/lib/kubesim.sh
kubesim_setup

# start_cluster DIR NODES [--fault ...]: starts kubesim, waits for `ready URL`, sets $api.
start_cluster() {
  kubesim_start "$@"
  printf 'kubesim: %d nodes ready in %.2f s\n' "$2" "$kubesim_ready_secs"
}

# wall SECONDS and peak RSS KB of a command: sets $secs and $rss_kb.
measure() {
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || true
  read -r secs rss_kb <"$work/time"
}

calc() { awk "BEGIN { print $* }"; }
# median wall SECONDS over RUNS runs (and the largest peak RSS): sets $secs and $rss_kb.
RUNS=5
measure_median() {
  local walls=() peak=0
  for _ in $(seq 1 "$RUNS"); do
    measure "$@"
    walls+=("$secs")
    ((rss_kb > peak)) && peak=$rss_kb
  done
  secs=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  rss_kb=$peak
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

start_cluster "$work/big" "$NODES"
kc=$work/big/admin.kubeconfig
big_api=$api
token=$(awk '/token:/{print $2; exit}' "$kc")
nodes=$(kubectl --kubeconfig "$kc" get nodes -o name | sed 's|node/||')
sample=$(echo "$nodes" | head -n "$SAMPLE")
echo "$sample" >"$work/sample"

echo
echo "== $NODES nodes, /metrics through the API server proxy =="
measure_median "$KM" histogram --kubeconfig "$kc" --concurrency "$CONCURRENCY" --qps 0 -o json
ours=$secs; ours_rss=$rss_kb
printf '%-44s %8.2f s   peak RSS %6.1f MB  (median of %d)\n' "kubelet-metrics histogram (-P $CONCURRENCY)" "$ours" "$(calc "$rss_kb/1024")" "$RUNS"

measure bash -c "while read -r n; do kubectl --kubeconfig '$kc' get --raw /api/v1/nodes/\$n/proxy/metrics | grep -i kubelet_pod_start_duration; done <'$work/sample'"
loop=$(calc "$secs * $NODES / $SAMPLE")
printf '%-44s %8.2f s   (%d nodes took %.2f s, scaled)\n' "kubectl get --raw loop" "$loop" "$SAMPLE" "$secs"

measure bash -c "xargs -P 16 -I{} sh -c \"kubectl --kubeconfig '$kc' get --raw /api/v1/nodes/{}/proxy/metrics | grep -i kubelet_pod_start_duration\" <'$work/sample'"
xargs_t=$(calc "$secs * $NODES / $SAMPLE")
printf '%-44s %8.2f s   (%d nodes took %.2f s, scaled)\n' "xargs -P 16 kubectl get --raw" "$xargs_t" "$SAMPLE" "$secs"

{
  echo "cacert = \"$work/big/ca.crt\""
  echo "header = \"Authorization: Bearer $token\""
  echo "silent"
  for n in $nodes; do echo "url = \"$big_api/api/v1/nodes/$n/proxy/metrics\""; echo "output = \"/dev/null\""; done
} >"$work/curl.cfg"
measure_median curl --no-progress-meter --parallel --parallel-max "$CONCURRENCY" -K "$work/curl.cfg"
floor=$secs
printf '%-44s %8.2f s   peak RSS %6.1f MB  (median of %d)\n' "curl --parallel-max $CONCURRENCY (fetch only)" "$floor" "$(calc "$rss_kb/1024")" "$RUNS"

echo
echo "kubelet-metrics vs kubectl loop:      $(ratio "$loop" "$ours")x faster   (target >= 50x)"
echo "kubelet-metrics vs xargs -P 16:       $(ratio "$xargs_t" "$ours")x faster   (target >= 25x)"
echo "kubelet-metrics / curl fetch floor:   $(ratio "$ours" "$floor")x           (target <= 1.5x)"

echo
echo "== peak RSS: a 100-node cluster vs the $NODES-node one =="
start_cluster "$work/small" 100
measure_median "$KM" histogram --kubeconfig "$work/small/admin.kubeconfig" --concurrency "$CONCURRENCY" --qps 0 -o json
small_rss=$rss_kb
printf '100 nodes: %.1f MB; %d nodes: %.1f MB; ratio %.2f (target < 2)\n' \
  "$(calc "$small_rss/1024")" "$NODES" "$(calc "$ours_rss/1024")" "$(calc "$ours_rss/$small_rss")"

echo
echo "== 20 MB /metrics payloads =="
huge=()
for i in $(seq 0 31); do huge+=(--fault "$i=huge:20MB"); done
start_cluster "$work/huge" 32 "${huge[@]}"
measure "$KM" histogram --kubeconfig "$work/huge/admin.kubeconfig" --concurrency "$CONCURRENCY" --qps 0
printf '32 nodes x 20 MB: %.2f s, peak RSS %.1f MB (target < 100 MB)\n' "$secs" "$(calc "$rss_kb/1024")"

echo
echo "== one node: kubelet-metrics get vs kubectl get --raw vs curl =="
one=$(head -n 1 <<<"$nodes")
hyperfine --warmup 3 --runs 30 --style basic --export-json "$work/one.json" \
  "$KM get --kubeconfig $kc $one -m kubelet_pod_start_duration_seconds" \
  "kubectl --kubeconfig $kc get --raw /api/v1/nodes/$one/proxy/metrics" \
  "curl -s --cacert $work/big/ca.crt -H 'Authorization: Bearer $token' $big_api/api/v1/nodes/$one/proxy/metrics -o /dev/null" \
  >"$work/hyperfine.log" 2>&1 || { cat "$work/hyperfine.log"; exit 1; }
jq -r '.results[] | [.mean] | @tsv' "$work/one.json" | {
  read -r km; read -r kubectl_t; read -r curl_t
  printf 'kubelet-metrics get: %.1f ms; kubectl get --raw: %.1f ms; curl: %.1f ms\n' \
    "$(calc "$km*1000")" "$(calc "$kubectl_t*1000")" "$(calc "$curl_t*1000")"
  echo "kubelet-metrics / curl: $(calc "$km/$curl_t")x (target <= 2x); kubectl / kubelet-metrics: $(calc "$kubectl_t/$km")x"
}
