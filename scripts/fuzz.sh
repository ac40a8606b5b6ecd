#!/usr/bin/env bash
# Runs every fuzz target for a set number of executions (default 10 million for the parser,
# 2 million for the others) and prints what each ran. Needs the nightly toolchain; installs
# cargo-fuzz from crates.io when it is missing. A crash leaves its input in
# fuzz/artifacts/<target>/: turn it into a regression test, then fix.
#
# Inputs are capped at 4 KiB (MAX_LEN): long enough for every line shape and chunk split, and
# about 15 times more executions per second than 64 KiB inputs. JOBS=N splits the executions
# over N processes (one per core).
#
#   scripts/fuzz.sh                 # every target
#   RUNS=100000 scripts/fuzz.sh analysis
#   JOBS=2 scripts/fuzz.sh parse_stream   # 10 million in about 20 minutes on 2 idle cores
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(parse_stream selector_and_slo analysis)
fi

for target in "${targets[@]}"; do
    runs=${RUNS:-$([ "$target" = parse_stream ] && echo 10000000 || echo 2000000)}
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    if [ "$target" = parse_stream ] && [ -z "$(ls -A "$corpus")" ]; then
        # Seed with the real payloads, so mutations start from kubelet-shaped text.
        cp tests/fixtures/*.prom tests/fixtures/real/*.prom "$corpus"/
    fi
    jobs=${JOBS:-1}
    echo "== $target: $runs executions in $jobs job(s)"
    # No sanitizer: the crate forbids unsafe code, so ASan would only slow the search down.
    # With -jobs, -runs counts per job and each job writes fuzz-N.log in the working directory.
    parallel=()
    [ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
    cargo +nightly fuzz run --sanitizer none "$target" "$corpus" -- \
        -runs="$((runs / jobs))" "${parallel[@]}" -max_len="${MAX_LEN:-4096}" \
        -print_final_stats=1 2>&1 |
        grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done|==|.*(panicked|crash|ERROR))' || true
    if [ "$jobs" -gt 1 ]; then
        grep -hE '^(stat::number_of_executed_units|Done|.*(panicked|ERROR))' fuzz-*.log || true
        rm -f fuzz-*.log
    fi
    if [ -n "$(ls -A "fuzz/artifacts/$target" 2>/dev/null)" ]; then
        echo "$target: crashes in fuzz/artifacts/$target" >&2
        exit 1
    fi
done
