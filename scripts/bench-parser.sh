#!/usr/bin/env bash
# Parser throughput beside its peers, on the same bytes, in one run.
#
# Builds the release benchmark (benches/parser.rs) and the Rust peers (bench/peers), installs
# Python prometheus_client into a venv, then measures in MB/s on every real fixture and on a
# generated cadvisor-like payload of at least 64 MiB:
#   floor            memchr-only split of every line into name, labels and value
#   ours-zero-copy   full parse and validation, grouped into families, samples seen in place
#   ours-owned       full parse into owned Vec<Family> (a String per sample name, one LabelSet per label set)
#   ours-one-family  parse keeping one family through a selector (the rest skipped by name)
#   prometheus-parse, prometheus-wire (crates.io), prometheus_client (PyPI)
#   go-expfmt        Prometheus's Go text parser (prometheus/common expfmt), built from Debian's
#                    golang-github-prometheus-common-dev (installed when apt-get is there)
#   go-textparse     the Prometheus server scraper's Go parser (model/textparse PromParser), built
#                    by scripts/textparse-peer from Debian's prometheus source package
# and prints ratios: ours / floor and ours / each peer ("-" where a peer rejected the input).
#
# Environment: BENCH_SECONDS (time per measurement, default 0.4), BENCH_WORK (scratch dir,
# default $CARGO_TARGET_DIR/bench-parser or target/bench-parser).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=${BENCH_WORK:-$target/bench-parser}
manifest=${BENCH_MANIFEST:-$root/Cargo.toml}
export BENCH_SECONDS=${BENCH_SECONDS:-0.4}
mkdir -p "$work"
results=$work/results.tsv
: >"$results"

echo "== building (release)" >&2
cargo bench --manifest-path "$manifest" --bench parser --no-run --quiet
cargo build --manifest-path "$root/bench/peers/Cargo.toml" --release --quiet --target-dir "$target"

if [ ! -x "$work/venv/bin/python" ]; then
    echo "== installing prometheus_client into $work/venv" >&2
    python3 -m venv "$work/venv"
fi
"$work/venv/bin/pip" install --quiet --disable-pip-version-check prometheus_client >&2

payload=$work/generated-cadvisor-64MiB
echo "== ours (cargo bench)" >&2
BENCH_WRITE_PAYLOAD=$payload BENCH_FIXTURES=$root/tests/fixtures/real \
    cargo bench --manifest-path "$manifest" --bench parser --quiet >"$work/ours.txt"
tee -a "$results" <"$work/ours.txt" | grep -v '^RESULT' >&2

fixtures=("$root"/tests/fixtures/real/*.prom "$payload")
echo "== prometheus-parse, prometheus-wire" >&2
"$target/release/parser-peers" "${fixtures[@]}" | tee -a "$results" >&2
echo "== go-expfmt (Go)" >&2
if ! [ -d /usr/share/gocode/src/github.com/prometheus/common/expfmt ] && command -v apt-get >/dev/null; then
    apt-get install -y -q golang-go golang-github-prometheus-common-dev >&2 || true
fi
if command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/prometheus/common/expfmt ]; then
    GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$work/go-cache \
        go build -o "$work/expfmt-peer" "$root"/bench/peers/go/{expfmt,harness}.go
    "$work/expfmt-peer" "${fixtures[@]}" | tee -a "$results" >&2
else
    echo "skipped: needs golang-go and golang-github-prometheus-common-dev" >&2
fi
echo "== go-textparse (Go)" >&2
if textparse_peer=$("$root/scripts/textparse-peer"); then
    "$textparse_peer" "${fixtures[@]}" | tee -a "$results" >&2
else
    echo "skipped: needs golang-go and Debian's prometheus source package (see scripts/textparse-peer)" >&2
fi
echo "== prometheus_client (Python)" >&2
"$work/venv/bin/python" "$root/bench/peers/prometheus_client_bench.py" "${fixtures[@]}" | tee -a "$results" >&2

python3 - "$results" <<'EOF'
import sys
from collections import defaultdict

rows = defaultdict(dict)
order = []
for line in open(sys.argv[1]):
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 4 or parts[0] != "RESULT":
        continue
    name, method, mbps = parts[1], parts[2], float(parts[3])
    if name not in rows:
        order.append(name)
    rows[name][method] = mbps

ours = ["ours-zero-copy", "ours-owned", "ours-one-family"]
peers = ["prometheus-parse", "prometheus-wire", "prometheus_client", "go-expfmt", "go-textparse"]
cols = ["floor"] + ours + peers
print()
print("MB/s (10^6 bytes/s, best run)")
print(f"{'input':<30}" + "".join(f"{c:>18}" for c in cols))
for name in order:
    r = rows[name]
    print(f"{name:<30}" + "".join(f"{r[c]:>18.0f}" if c in r else f"{'-':>18}" for c in cols))
print()
print("ratios (zc = ours-zero-copy, own = ours-owned, one = ours-one-family;")
print("        pparse = prometheus-parse, pwire = prometheus-wire, pyclient = prometheus_client,")
print("        goexpfmt = Go prometheus/common expfmt, gotp = Go prometheus model/textparse)")
short = {"floor": "floor", "prometheus-parse": "pparse", "prometheus-wire": "pwire", "prometheus_client": "pyclient",
         "go-expfmt": "goexpfmt", "go-textparse": "gotp"}
ratio_cols = [("zc", "ours-zero-copy", b) for b in ["floor"] + peers]
ratio_cols += [("own", "ours-owned", b) for b in ["floor"] + peers]
ratio_cols += [("one", "ours-one-family", "floor")]
print(f"{'input':<30}" + "".join(f"{tag + '/' + short[b]:>13}" for tag, _, b in ratio_cols))
for name in order:
    r = rows[name]
    cells = []
    for _, a, b in ratio_cols:
        cells.append(f"{r[a] / r[b]:>12.2f}x" if r.get(a) and r.get(b) else f"{'-':>13}")
    print(f"{name:<30}" + "".join(cells))
EOF
