#!/usr/bin/env bash
# serve --node-local against one kubesim node: idle RSS and CPU per collection, as the
# exporter's own process metrics report them (process_resident_memory_bytes, and the growth of
# process_cpu_seconds_total over kubelet_metrics_collections_total). Targets: RSS < 30 MB,
# < 50 ms CPU per collection.
#   scripts/bench-node-local.sh            # builds and measures the release binary
#   BIN=target/debug/kubelet-metrics CYCLES=20 scripts/bench-node-local.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  cargo build --release --locked -p kubelet-metrics -p kubesim --bins
  BIN=target/release/kubelet-metrics
fi
KUBESIM=${KUBESIM:-$(dirname "$BIN")/kubesim}
CYCLES=${CYCLES:-30}
dir=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
"$KUBESIM" --nodes 1 --state-dir "$dir" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -s "$dir/truth.json" ] && [ -s "$dir/sa.token" ] && break; sleep 0.1; done
node=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"][0]["name"])' "$dir/truth.json")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --node-local --node-name "$node" --kubeconfig "$dir/admin.kubeconfig" \
  --token-file "$dir/sa.token" --kubelet-ca "$dir/kubelet-ca.crt" \
  --listen "127.0.0.1:$port" --interval 1s 2>/dev/null & pids+=($!)
metric() { curl -fsS "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
for _ in $(seq 100); do [ "$(metric kubelet_metrics_collections_total 2>/dev/null || true)" ] && break; sleep 0.1; done
sleep 2
c0=$(metric kubelet_metrics_collections_total); cpu0=$(metric process_cpu_seconds_total)
sleep "$CYCLES"
c1=$(metric kubelet_metrics_collections_total); cpu1=$(metric process_cpu_seconds_total)
rss=$(metric process_resident_memory_bytes)
python3 - "$c0" "$c1" "$cpu0" "$cpu1" "$rss" "$BIN" <<'PY'
import sys
c0, c1, cpu0, cpu1, rss = map(float, sys.argv[1:6])
per = (cpu1 - cpu0) / (c1 - c0) * 1000
print(f"{sys.argv[6]}: {int(c1 - c0)} collections, {per:.1f} ms CPU per collection (target < 50), "
      f"RSS {rss / 1e6:.1f} MB (target < 30)")
PY
