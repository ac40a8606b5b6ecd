# The same steps CI runs (.ci/run), one at a time.
default: check

check: fmt lint test doc

fmt:
    cargo fmt --all --check

lint:
    cargo clippy --workspace --all-targets -- -D warnings

test:
    scripts/test

doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

demo:
    cargo run --release -- demo

bench:
    scripts/bench-parser.sh
