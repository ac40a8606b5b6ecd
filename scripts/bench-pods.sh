#!/usr/bin/env bash
# `pods` at scale, whole process, release build: a kubesim cluster grown to PODS pods (its nodes'
# own starts, then `advance` until there are enough), listed in pages of 500 as kubectl does.
# Prints wall time, CPU time (user + system) and peak RSS (/usr/bin/time -v) of `pods` (table,
# -o json, --cross-check), beside the peers measured in the same run: `kubectl get pods -A -o
# json` when kubectl is installed, and one `curl` per page (the fetch-only floor, following
# `continue` tokens); ratios are wall time over the floor's. kubesim renders each pod's JSON
# once, on its first listing, and splices it into every later page: one untimed listing comes
# first, so every row reads the same already-rendered pages (the simulator's one-time cost is in
# no row). The load average is printed before and after: the machine may be shared.
#
# Usage: scripts/bench-pods.sh [PODS=50000] [NODES=100]
# Environment: RUNS (best of, default 3). Everything binds 127.0.0.1 and is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
PODS=${1:-50000}
NODES=${2:-100}
RUNS=${RUNS:-3}
target=${CARGO_TARGET_DIR:-$root/target}

cargo build --release --quiet -p kubelet-metrics -p kubesim --bins
KM=$target/release/kubelet-metrics
KUBESIM=$target/release/kubesim
# shellcheck source=scripts/lib/kubesim.sh
source "$root/scripts/lib/kubesim.sh"
kubesim_setup

calc() { awk "BEGIN { print $* }"; }

# shellcheck source=scripts/lib/measure.sh
source "$root/scripts/lib/measure.sh"

# check CMD...: runs CMD once and stops the benchmark if it fails (1, a partial report, is not a
# failure: a node of the cross-check may fail), so no row times an error.
check() {
  local code=0
  "$@" >/dev/null 2>"$work/stderr" || code=$?
  if ((code > 1)); then
    echo "failed ($code): $*" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
}

kubesim_start "$work/sim" "$NODES" --seed 7
kc=$work/sim/admin.kubeconfig
token=$(awk '/token:/{print $2; exit}' "$kc")
debug() { curl -sf --cacert "$work/sim/ca.crt" -H "Authorization: Bearer $token" "$@"; }
pod_count() { debug "$api/debug/truth" | python3 -c 'import json, sys
t = json.load(sys.stdin)
print(sum(len(n["pods"]) for n in t["nodes"]) + len(t["unscheduled_pods"]))'; }
have=$(pod_count)
if ((have < PODS)); then
  per_node=$(((PODS - have + NODES - 1) / NODES))
  debug -X POST -H 'Content-Type: application/json' -d "{\"pods\": $per_node}" "$api/debug/advance" >/dev/null
fi
have=$(pod_count)
echo "kubesim: $NODES nodes, $have pods (release build, best of $RUNS, whole process)"
printf '%-44s %9s %9s %12s %8s\n' "command" "wall s" "cpu s" "peak RSS MB" "vs floor"

# The floor: fetch every page with curl, one request after another, as a pager does.
floor() {
  local cont="" page=$work/page
  while :; do
    curl -sf -G --cacert "$work/sim/ca.crt" -H "Authorization: Bearer $token" \
      --data-urlencode limit=500 ${cont:+--data-urlencode "continue=$cont"} "$api/api/v1/pods" >"$page"
    # The list's metadata may come before or after its items (kubesim writes keys sorted).
    cont=$({ head -c 4096 "$page"; tail -c 4096 "$page"; } | grep -o '"continue": *"[^"]*"' | head -1 | cut -d'"' -f4 || true)
    [ -z "$cont" ] && break
  done
}
export -f floor
export api token work
bash -c floor # untimed: kubesim renders every pod once
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
measure bash -c floor
floor_secs=$secs
printf '%-44s %9.2f %9.2f %12.1f %8s\n' "curl, page by page (fetch-only floor)" "$secs" "$cpu_secs" "$(calc "$rss_kb / 1024")" "1.00"

row() {
  local label=$1
  shift
  check "$@"
  measure "$@"
  printf '%-44s %9.2f %9.2f %12.1f %8.2f\n' "$label" "$secs" "$cpu_secs" "$(calc "$rss_kb / 1024")" "$(calc "$secs / $floor_secs")"
}
row "kubelet-metrics pods" "$KM" pods --kubeconfig "$kc"
row "kubelet-metrics pods -o json" "$KM" pods --kubeconfig "$kc" -o json
row "kubelet-metrics pods --cross-check" "$KM" pods --kubeconfig "$kc" --cross-check
if command -v kubectl >/dev/null; then
  row "kubectl get pods -A -o json --chunk-size 500" kubectl --kubeconfig "$kc" get pods -A -o json --chunk-size 500
else
  echo "kubectl not installed: its row is skipped"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "target: pods over 50,000 pods < 3 s and < 150 MB peak RSS"
