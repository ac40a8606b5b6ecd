#!/usr/bin/env bash
# Reliability suite, full size (issue 12, item 7; the CI-sized checks are tests/cli/{limits,
# signals,credentials,serve,hygiene}.rs). Today it measures what item 1 promises: open files and
# peak RSS of the direct method at SMALL vs LARGE kubesim nodes, and whether every node answers
# under a 1,024 open-file limit. Release build; everything binds 127.0.0.1 and is stopped on exit.
#
# Usage: scripts/reliability.sh [SMALL=100] [LARGE=1000] [CONCURRENCY=64]   (SKIP_BUILD=1: use the built binaries)
set -euo pipefail
cd "$(dirname "$0")/.."
SMALL=${1:-100}
LARGE=${2:-1000}
CONCURRENCY=${3:-64}

[[ -n ${SKIP_BUILD:-} ]] || cargo build --release --quiet -p kubelet-metrics -p kubesim --bins
KM=$PWD/target/release/kubelet-metrics
KUBESIM=$PWD/target/release/kubesim
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start_cluster DIR NODES: starts kubesim and waits for its `ready` line.
start_cluster() {
  local dir=$1 nodes=$2
  mkdir -p "$dir"
  "$KUBESIM" --nodes "$nodes" --state-dir "$dir" >"$dir/stdout" 2>"$dir/stderr" &
  pids+=($!)
  for _ in $(seq 1 1200); do
    grep -q '^ready ' "$dir/stdout" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "kubesim did not start"; cat "$dir/stderr"; exit 1
}

# measure DIR: one direct run under `ulimit -n 1024`; prints nodes answered, peak open files
# (sampled from /proc every 10 ms) and peak RSS (/usr/bin/time).
measure() {
  local dir=$1
  ( ulimit -n 1024
    exec /usr/bin/time -f '%M' -o "$dir/time" "$KM" get -m kubelet_pod_start_duration_seconds_count \
      --method direct --kubeconfig "$dir/admin.kubeconfig" --token-file "$dir/sa.token" \
      --kubelet-ca "$dir/kubelet-ca.crt" --concurrency "$CONCURRENCY" >"$dir/out.prom" 2>"$dir/err" ) &
  local wrapper=$! peak=0 n km
  while kill -0 "$wrapper" 2>/dev/null; do
    km=$(pgrep -P "$wrapper" -x kubelet-metrics || true)
    if [[ -n $km ]]; then
      n=$(ls "/proc/$km/fd" 2>/dev/null | wc -l || echo 0)
      ((n > peak)) && peak=$n
    fi
    sleep 0.01
  done
  wait "$wrapper" || true
  local answered
  answered=$(grep -c "^kubelet_pod_start_duration_seconds_count{" "$dir/out.prom" || true)
  printf '%6d nodes: %6d answered, peak open files %4d, peak RSS %6.1f MB\n' \
    "$2" "$answered" "$peak" "$(awk '{print $1 / 1024}' "$dir/time")"
}

echo "== direct method, --concurrency $CONCURRENCY, ulimit -n 1024 (release build) =="
for nodes in "$SMALL" "$LARGE"; do
  start_cluster "$work/$nodes" "$nodes"
  measure "$work/$nodes" "$nodes"
  kill "${pids[-1]}" 2>/dev/null || true
done
