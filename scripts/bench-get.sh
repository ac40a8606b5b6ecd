#!/usr/bin/env bash
# `get` at fleet scale, whole process, in one run (peak RSS from /usr/bin/time -v's field):
#   1. `get --file` on the generated 64 MiB cadvisor-like payload, -o prom | json | csv, beside
#      Prometheus's Go text parsers (parse only, whole process: prometheus/common's expfmt, and
#      model/textparse, the one the Prometheus server scrapes with) and `grep -F` over the same
#      bytes; prints MB/s, CPU time (user + sys), peak RSS and ratios by wall and by CPU time.
#   2. `get` over kubesim clusters through the API server proxy: /metrics at 100, 300 and NODES
#      nodes and the cadvisor endpoint (~2.7 MB a node) at 100 nodes, for every -o; beside one
#      `curl --parallel` process fetching the same URLs (the fetch-only floor).
#
# Usage: scripts/bench-get.sh [NODES=1000]
# Environment: BENCH_WORK (scratch dir, default target/bench-get), CONCURRENCY (default 16),
# ONLY=file or ONLY=fleet (one of the two parts), SKIP_BUILD=1 (use the release binaries as built).
# Needs golang-go and golang-github-prometheus-common-dev (Debian) for the expfmt peer, and what
# scripts/textparse-peer fetches and builds for the textparse peer; a peer is skipped, said so,
# when they are missing. Everything binds 127.0.0.1 and is stopped on exit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
NODES=${1:-1000}
CONCURRENCY=${CONCURRENCY:-16}
target=${CARGO_TARGET_DIR:-$root/target}
scratch=${BENCH_WORK:-$target/bench-get}
mkdir -p "$scratch"
work=$scratch # for lib/measure.sh

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet -p kubelet-metrics -p kubesim --bins
KM=$target/release/kubelet-metrics
KUBESIM=$target/release/kubesim
# shellcheck source=scripts/lib/kubesim.sh
source scripts/lib/kubesim.sh
kubesim_setup

calc() { awk "BEGIN { print $* }"; }

RUNS=${RUNS:-3}
# shellcheck source=scripts/lib/measure.sh
source "$root/scripts/lib/measure.sh"

ONLY=${ONLY:-}
if [ "$ONLY" != fleet ]; then
echo "== 1. get --file on one 64 MiB cadvisor-like payload (best of $RUNS rounds, whole process)"
payload=$target/bench-parser/generated-cadvisor-64MiB
if [ ! -s "$payload" ]; then
  mkdir -p "$(dirname "$payload")"
  BENCH_WRITE_PAYLOAD=$payload BENCH_FIXTURES=$root/tests/fixtures/real BENCH_INPUT=generated \
    BENCH_METHOD=floor BENCH_SECONDS=0.01 cargo bench --bench parser --quiet >/dev/null
fi
size=$(stat -c %s "$payload")
mb=$(calc "$size / 1e6")
printf 'payload: %s (%.1f MB)\n' "$payload" "$mb"
declare -A wall cpu
row() { # NAME: records and prints the last measurement
  wall[$1]=$secs
  cpu[$1]=$cpu_secs
  printf '%-34s %7.3f s %8.0f MB/s   CPU %6.3f s   peak RSS %7.1f MB (%.2fx the input)\n' "$1" "$secs" \
    "$(calc "$mb / $secs")" "$cpu_secs" "$(calc "$rss_kb / 1024")" "$(calc "$rss_kb * 1024 / $size")"
}
peers=("grep -cF container_")
expfmt_peer=""
if command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/prometheus/common/expfmt ]; then
  GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$scratch/go-cache go build -o "$scratch/expfmt-peer" bench/peers/go/{expfmt,harness}.go
  expfmt_peer=$scratch/expfmt-peer
  peers+=("go expfmt (parse only)")
else
  echo "go expfmt peer skipped: apt-get install golang-go golang-github-prometheus-common-dev"
fi
if textparse_peer=$(scripts/textparse-peer); then
  peers+=("go textparse (parse only)")
else
  textparse_peer=""
  echo "go textparse peer skipped: needs golang-go and Debian's prometheus source package (see scripts/textparse-peer)"
fi
# Round after round, every command once: a slow spell of the machine hits all of them alike.
for _ in $(seq 1 "$RUNS"); do
  for output in prom json csv; do
    keep_best "get -o $output" "$KM" get --file "$payload" -o "$output"
  done
  keep_best "grep -cF container_" grep -cF 'container_' "$payload"
  [ -z "$expfmt_peer" ] || keep_best "go expfmt (parse only)" "$expfmt_peer" -once "$payload"
  [ -z "$textparse_peer" ] || keep_best "go textparse (parse only)" "$textparse_peer" -once "$payload"
done
for key in "get -o prom" "get -o json" "get -o csv" "${peers[@]}"; do
  secs=${best_secs[$key]} cpu_secs=${best_cpu[$key]} rss_kb=${best_rss[$key]}
  row "$key"
done
echo
echo "ours / peer, by wall time (by CPU time); the targets: -o prom >= 3x Go textparse, 1,000 MB/s; -o json 500 MB/s"
for output in prom json csv; do
  line="get -o $output:"
  for peer in "${peers[@]}"; do
    line+=" $(calc "${wall[$peer]} / ${wall[get -o $output]}" | xargs printf '%.2f')x"
    line+=" ($(calc "${cpu[$peer]} / ${cpu[get -o $output]}" | xargs printf '%.2f')x) ${peer% (parse only)};"
  done
  echo "${line%;}"
done
fi
[ "$ONLY" = file ] && exit 0

echo
echo "== 2. get over kubesim through the API server proxy (--concurrency $CONCURRENCY, best of $RUNS)"
# curl_config KUBECONFIG PATH: the config of one curl process fetching PATH from every node
# (written to $scratch/curl.cfg).
curl_config() {
  local dir token
  dir=$(dirname "$1")
  token=$(awk '/token:/{print $2; exit}' "$1")
  {
    echo "cacert = \"$dir/ca.crt\""
    echo "header = \"Authorization: Bearer $token\""
    echo "silent"
    "$KM" get --kubeconfig "$1" --path /healthz -o csv | tail -n +2 | cut -d, -f1 | while read -r n; do
      echo "url = \"$api/api/v1/nodes/$n/proxy$2\""
      echo "output = \"/dev/null\""
    done
  } >"$scratch/curl.cfg"
}
declare -A fleet
for nodes in 100 300 "$NODES"; do
  kubesim_start "$work/n$nodes" "$nodes"
  kc=$work/n$nodes/admin.kubeconfig
  for output in prom json csv; do
    measure "$KM" get --kubeconfig "$kc" --concurrency "$CONCURRENCY" -o "$output"
    fleet[$nodes-$output]=$rss_kb
    printf '%5d nodes /metrics  get -o %-4s %7.2f s   peak RSS %7.1f MB\n' "$nodes" "$output" "$secs" "$(calc "$rss_kb / 1024")"
  done
  ours=$secs
  if [ "$nodes" = "$NODES" ]; then
    # The default --qps (100/s through the proxy) paces the run; curl is not paced, so the floor
    # is compared with --qps 0.
    # Both in turn, round after round, so a slow spell of the machine hits both alike.
    curl_config "$kc" /metrics
    for _ in $(seq 1 "$RUNS"); do
      keep_best "get $nodes" "$KM" get --kubeconfig "$kc" --concurrency "$CONCURRENCY" --qps 0 -o prom
      keep_best "curl $nodes" curl --parallel --parallel-max "$CONCURRENCY" -K "$scratch/curl.cfg"
    done
    ours=${best_secs[get $nodes]} ours_cpu=${best_cpu[get $nodes]}
    printf '%5d nodes /metrics  get -o prom --qps 0 %6.2f s   CPU %6.2f s\n' "$nodes" "$ours" "$ours_cpu"
    secs=${best_secs[curl $nodes]} cpu_secs=${best_cpu[curl $nodes]}
    printf '%5d nodes /metrics  curl --parallel    %7.2f s   CPU %6.2f s (fetch only)\n' "$nodes" "$secs" "$cpu_secs"
    echo "get -o prom --qps 0 / curl fetch floor at $nodes nodes: $(calc "$ours / $secs" | xargs printf '%.2f')x wall (target <= 1.2x), $(calc "$ours_cpu / $cpu_secs" | xargs printf '%.2f')x CPU"
  fi
  if [ "$nodes" = 100 ]; then
    for output in prom json csv; do
      measure "$KM" get --kubeconfig "$kc" --concurrency "$CONCURRENCY" --endpoint cadvisor -o "$output"
      printf '%5d nodes cadvisor  get -o %-4s %7.2f s   peak RSS %7.1f MB\n' "$nodes" "$output" "$secs" "$(calc "$rss_kb / 1024")"
    done
  fi
  kubesim_stop "$kubesim_pid"
done
echo
for output in prom json csv; do
  echo "-o $output peak RSS $NODES / 100 nodes: $(calc "${fleet[$NODES-$output]} / ${fleet[100-$output]}" | xargs printf '%.2f') (target < 1.3)"
done
