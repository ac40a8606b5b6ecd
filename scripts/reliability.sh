#!/usr/bin/env bash
# The reliability suite at full size (CI runs the same checks smaller: tests/cli/reliability.rs,
# with signals.rs, limits.rs, credentials.rs and serve.rs). Release build; everything binds
# 127.0.0.1 and is stopped on exit (scripts/lib/kubesim.sh).
#
#  1. faults: NODES kubesim nodes, every fault kind on 6 of them, read by both methods; every
#     healthy node's count, sum and p99 checked against truth.json, every faulty node's kind.
#  2. open files and peak RSS, direct (--concurrency 64) and proxy (its default, 8), at SMALL vs
#     NODES nodes (median of 3 runs), and the direct method at BIG nodes, under `ulimit -n 1024`.
#  3. SIGINT and SIGTERM at each stage: listing stalled, mid fan-out, mid output.
#  4. `serve` under `wrk` (50 connections x 30 s) while the API server stops and starts again:
#     `node_up` and `/readyz` must follow.
#
# Usage: scripts/reliability.sh [NODES=1000] [SMALL=100] [BIG=5000]   (SKIP_BUILD=1: use the built binaries)
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-1000}
SMALL=${2:-100}
BIG=${3:-5000}
WRK_SECONDS=${WRK_SECONDS:-30}

[[ -n ${SKIP_BUILD:-} ]] || cargo build --release --quiet -p kubelet-metrics -p kubesim --bins
KM=$PWD/target/release/kubelet-metrics
KUBESIM=$PWD/target/release/kubesim
command -v wrk >/dev/null || { echo "wrk is needed (Debian: apt-get install wrk)"; exit 2; }
# shellcheck source=scripts/lib/kubesim.sh
source scripts/lib/kubesim.sh
kubesim_setup
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

direct_args() { echo --method direct --kubeconfig "$1/admin.kubeconfig" --token-file "$1/sa.token" --kubelet-ca "$1/kubelet-ca.crt"; }

echo "== 1. every fault kind, $NODES nodes, both methods =="
faults=(latency:20s refuse hang reset status:503 429:30s truncate garbage huge:3MB badcert noauth slowbody:60s)
direct_kinds='{"latency": "timeout", "refuse": "refused", "hang": "timeout", "reset": "io", "status": "server_error",
  "429": "too_many_requests", "truncate": "parse", "garbage": null, "huge": "too_large", "badcert": "tls",
  "noauth": "unauthorized", "slowbody": "slow_body"}'
proxy_kinds='{"latency": "timeout", "refuse": "server_error", "hang": "timeout", "reset": "io", "status": "server_error",
  "429": "too_many_requests", "truncate": "parse", "garbage": null, "huge": "too_large", "badcert": "server_error",
  "noauth": null, "slowbody": "slow_body"}'
fault_args=()
for i in "${!faults[@]}"; do
  for k in 0 1 2 3 4 5; do fault_args+=(--fault "$(((k * NODES / 6 + i * 13 + 5) % NODES))=${faults[$i]}"); done
done
dir=$work/faults
kubesim_start "$dir" "$NODES" "${fault_args[@]}"
# One attempt per node (a reset kubelet retried until the deadline ends mid-body: a slow body), and
# a deadline that 64 bodies sharing one thread still meet on a loaded machine (at 3 s a 3 MB
# payload was sometimes still arriving: slow_body, not too_large).
common=(histogram -o json --timeout 10s --max-body 2M --retries 0)
# shellcheck disable=SC2046
"$KM" "${common[@]}" $(direct_args "$dir") >"$dir/direct.json" 2>"$dir/direct.err" &
direct_pid=$!
"$KM" "${common[@]}" --kubeconfig "$dir/admin.kubeconfig" >"$dir/proxy.json" 2>"$dir/proxy.err" || true
wait "$direct_pid" || true
python3 scripts/lib/check_report.py "$dir/direct.json" "$dir/truth.json" direct "$direct_kinds" || fail "faults, direct"
python3 scripts/lib/check_report.py "$dir/proxy.json" "$dir/truth.json" proxy "$proxy_kinds" || fail "faults, proxy"
kubesim_stop "$kubesim_pid"

echo
echo "== 2. open files and peak RSS under ulimit -n 1024 (median of 3 runs) =="
# run_measured DIR NODES METHOD: one `get` under `ulimit -n 1024` (direct: --concurrency 64;
# proxy: its default, 8); prints "answered peak_fds rss_kb".
run_measured() {
  local dir=$1 nodes=$2 method=$3 args
  if [[ $method == direct ]]; then args="$(direct_args "$dir") --concurrency 64"; else args="--kubeconfig $dir/admin.kubeconfig"; fi
  # shellcheck disable=SC2086
  (ulimit -n 1024
    exec /usr/bin/time -f '%M' -o "$dir/time" "$KM" get -m kubelet_pod_start_duration_seconds_count \
      $args >"$dir/out.prom" 2>"$dir/err") &
  local wrapper=$! peak=0 n km
  while kill -0 "$wrapper" 2>/dev/null; do
    km=$(pgrep -P "$wrapper" -x kubelet-metrics || true)
    if [[ -n $km ]]; then
      n=$( (ls "/proc/$km/fd" 2>/dev/null || true) | wc -l)
      ((n > peak)) && peak=$n
    fi
    sleep 0.01
  done
  wait "$wrapper" || true
  echo "$(grep -c '^kubelet_pod_start_duration_seconds_count{' "$dir/out.prom" || true) $peak $(cat "$dir/time")"
}
# measure_median DIR NODES METHOD: prints a row and sets $median_kb.
measure_median() {
  local dir=$1 nodes=$2 method=$3 runs=()
  for _ in 1 2 3; do runs+=("$(run_measured "$dir" "$nodes" "$method")"); done
  local sorted answered fds
  sorted=$(printf '%s\n' "${runs[@]}" | sort -k3 -n)
  median_kb=$(sed -n 2p <<<"$sorted" | awk '{print $3}')
  answered=$(awk 'NR == 1 || $1 < m { m = $1 } END { print m }' <<<"$sorted")
  fds=$(awk '$2 > m { m = $2 } END { print m }' <<<"$sorted")
  printf '%-7s %6d nodes: %6d answered (fewest of 3), peak open files %4d, peak RSS %6.1f MB median (%s MB)\n' \
    "$method" "$nodes" "$answered" "$fds" "$(awk -v k="$median_kb" 'BEGIN { print k / 1024 }')" \
    "$(awk '{ printf "%s%.1f", sep, $3 / 1024; sep = ", " }' <<<"$sorted")"
  ((answered == nodes)) || fail "$method at $nodes nodes: $answered answered"
  ((fds <= 100)) || fail "$method at $nodes nodes: $fds open files"
}
declare -A rss
for nodes in "$SMALL" "$NODES"; do
  kubesim_start "$work/size-$nodes" "$nodes"
  for method in direct proxy; do
    measure_median "$work/size-$nodes" "$nodes" "$method"
    rss[$method-$nodes]=$median_kb
  done
  kubesim_stop "$kubesim_pid"
done
for method in direct proxy; do
  ratio=$(awk -v a="${rss[$method-$NODES]}" -v b="${rss[$method-$SMALL]}" 'BEGIN { printf "%.2f", a / b }')
  echo "$method: peak RSS at $NODES nodes / at $SMALL nodes = $ratio (target < 1.3)"
  awk -v r="$ratio" 'BEGIN { exit !(r < 1.3) }' || fail "$method RSS ratio $ratio"
done
kubesim_start "$work/size-$BIG" "$BIG"
measure_median "$work/size-$BIG" "$BIG" direct
awk -v k="$median_kb" 'BEGIN { exit !(k < 100 * 1024) }' || fail "direct at $BIG nodes: RSS $median_kb KB"
kubesim_stop "$kubesim_pid"

echo
echo "== 3. SIGINT and SIGTERM at each stage =="
dir=$work/signals
hangs=()
for i in 0 7 13 21; do hangs+=(--fault "$i=hang"); done
kubesim_start "$dir" 30 "${hangs[@]}"
KM="$KM" python3 - "$dir" <<'PY' || fail "signals"
import os, signal, socket, subprocess, sys, time
d = sys.argv[1]
km = os.environ["KM"]
kubeconfig = f"{d}/admin.kubeconfig"
# A server that accepts TCP connections and never answers: the listing stalls.
stall = socket.socket()
stall.bind(("127.0.0.1", 0))
stall.listen(64)
text = open(kubeconfig).read()
server = next(l.split("server:")[1].strip() for l in text.splitlines() if "server:" in l)
stalled = f"{d}/stalled.kubeconfig"
open(stalled, "w").write(text.replace(server, f"https://127.0.0.1:{stall.getsockname()[1]}"))
ok = True

def run(stage, args, sig, expected, ready):
    global ok
    child = subprocess.Popen([km, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready(child)
    sent = time.monotonic()
    child.send_signal(sig)
    try:
        code = child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill(); child.wait(); code = None
    took = time.monotonic() - sent
    verdict = "ok" if code == expected and took < 2 else "FAIL"
    ok &= verdict == "ok"
    print(f"{stage:<18} {signal.Signals(sig).name:<7} exit {code} (expected {expected}) after {took:.2f} s  {verdict}")

def after(seconds):
    return lambda child: time.sleep(seconds)

def listed(child):
    for line in child.stderr:
        if b"nodes listed" in line:
            return

def output_started(child):
    child.stdout.read(4096)  # then stop reading: the run blocks writing

for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
    run("listing stalled", ["histogram", "--kubeconfig", stalled, "--timeout", "60s"], sig, code, after(1))
    run("mid fan-out", ["histogram", "-v", "--kubeconfig", kubeconfig, "--timeout", "60s"], sig, code, listed)
    run("mid output", ["get", "--kubeconfig", kubeconfig], sig, code, output_started)
sys.exit(0 if ok else 1)
PY
kubesim_stop "$kubesim_pid"

echo
echo "== 4. serve under wrk (50 connections x ${WRK_SECONDS} s) while the API server stops and starts =="
dir=$work/serve
kubesim_start "$dir" "$NODES"
"$KM" serve --listen 127.0.0.1:0 --interval 2s --timeout 3s --kubeconfig "$dir/admin.kubeconfig" \
  2>"$dir/serve.err" >/dev/null &
serve_pid=$!
kubesim_pids+=("$serve_pid")
for _ in $(seq 1 200); do grep -q 'serving on' "$dir/serve.err" && break; sleep 0.05; done
url=$(grep -o 'http://[0-9.:]*' "$dir/serve.err" | head -n 1)
# wait_for WHAT SECONDS CHECK...: runs CHECK every 0.2 s until it succeeds.
wait_for() {
  local what=$1 seconds=$2 _
  shift 2
  for _ in $(seq 1 $((seconds * 5))); do "$@" && return 0; sleep 0.2; done
  fail "serve: $what within $seconds s"
  return 1
}
readyz_is() { [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/readyz") == "$1" ]]; }
nodes_all() { # nodes_all 1|0: every node_up series has that value
  curl -s "$url/metrics" | awk -v want="$1" -v n="$NODES" \
    '/^kubelet_metrics_node_up\{/ { seen++; if ($2 != want) bad++ } END { exit !(seen == n && bad == 0) }'
}
wait_for "ready" 60 readyz_is 200
wait_for "every node up" 60 nodes_all 1
rss_before=$(awk '/VmRSS/ { print $2 }' "/proc/$serve_pid/status")
wrk -c 50 -t 2 -d "${WRK_SECONDS}s" "$url/metrics" >"$dir/wrk.log" 2>&1 &
wrk_pid=$!
started=$(date +%s)
kubesim_api "$dir" "$kubesim_pid" stop
wait_for "/readyz 503 after the API server stopped" 60 readyz_is 503 &&
  wait_for "node_up 0 while the API server is down" 30 nodes_all 0 &&
  echo "API server down: /readyz 503 and node_up 0 after $(($(date +%s) - started)) s"
kubesim_api "$dir" "$kubesim_pid" start
started=$(date +%s)
wait_for "/readyz 200 after the API server started" 60 readyz_is 200 &&
  wait_for "node_up 1 after the API server started" 60 nodes_all 1 &&
  echo "API server up again: /readyz 200 and node_up 1 after $(($(date +%s) - started)) s"
wait "$wrk_pid" || fail "wrk"
rss_after=$(awk '/VmRSS/ { print $2 }' "/proc/$serve_pid/status")
grep -E 'Requests/sec|Non-2xx|Socket errors|requests in' "$dir/wrk.log" | sed 's/^ */wrk: /'
! grep -q 'Non-2xx' "$dir/wrk.log" || fail "serve answered non-2xx under load"
printf 'serve RSS: %.1f MB before the load, %.1f MB after\n' "$(awk -v k="$rss_before" 'BEGIN { print k / 1024 }')" \
  "$(awk -v k="$rss_after" 'BEGIN { print k / 1024 }')"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "serve exit status after SIGTERM"
kubesim_stop "$kubesim_pid"

echo
if ((failures)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "every check passed"
