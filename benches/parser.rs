//! Parser throughput in MB/s (10^6 bytes per second) on the real kubelet fixtures and on a
//! generated cadvisor-like payload of at least 64 MiB, beside a memchr-only line split of the
//! same bytes (the floor). Peers run from `scripts/bench-parser.sh`, which also reads the
//! `RESULT` lines this prints.
//!
//! Environment: `BENCH_WRITE_PAYLOAD=PATH` also writes the generated payload there (so the peers
//! read the same bytes); `BENCH_SECONDS` is the time spent per measurement (default 0.4);
//! `BENCH_INPUT=TEXT` runs only inputs whose name contains TEXT, `BENCH_METHOD=TEXT` only
//! methods whose name contains TEXT (others print 0).

#![allow(missing_docs)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kubelet_metrics::exposition::{Selector, parse_bytes, visit};

/// The family kept by the "selector keeps one family" measurement, first present wins.
const ONE_FAMILY: [&str; 3] = [
    "container_memory_working_set_bytes",
    "kubelet_pod_start_duration_seconds",
    "process_start_time_seconds",
];

/// Generated payload: at least this many bytes.
const GENERATED_MIN: usize = 64 << 20;

// The same allocator as the binary, so the numbers are the tool's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let budget = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(0.4);
    let budget = Duration::from_secs_f64(budget);
    let dir = fixture_dir();
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "prom"))
        .collect();
    names.sort();
    for path in &names {
        let bytes = std::fs::read(path).expect("fixture is readable");
        inputs.push((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), bytes));
    }
    let only = std::env::var("BENCH_INPUT").unwrap_or_default();
    if "generated-cadvisor-64MiB".contains(&only) {
        let cadvisor =
            std::fs::read(dir.join("kubelet-1.35.0-cadvisor.prom")).expect("1.35 cadvisor fixture");
        let generated = generate_cadvisor_like(&cadvisor, GENERATED_MIN);
        if let Ok(path) = std::env::var("BENCH_WRITE_PAYLOAD") {
            std::fs::write(&path, &generated).expect("payload written");
        }
        let check = parse_bytes(&generated, &Selector::all());
        assert!(check.errors.is_empty(), "generated payload: {:?}", &check.errors[..1]);
        let samples: usize = check.families.iter().map(|f| f.samples.len()).sum();
        println!(
            "generated payload: {} bytes, {} families, {samples} samples",
            generated.len(),
            check.families.len()
        );
        drop(check);
        inputs.push(("generated-cadvisor-64MiB".to_owned(), generated));
    }
    println!(
        "{:<32} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "input", "floor", "owned", "zero-copy", "one-family", ""
    );
    for (name, bytes) in inputs.iter().filter(|(name, _)| name.contains(&only)) {
        let one = ONE_FAMILY
            .iter()
            .find(|f| memchr::memmem::find(bytes, format!("# TYPE {f} ").as_bytes()).is_some())
            .copied()
            .unwrap_or("process_start_time_seconds");
        let selector: Selector = one.parse().expect("valid selector");
        let all = Selector::all();
        let floor = measure("floor", bytes, budget, || memchr_floor(bytes));
        let owned = measure("ours-owned", bytes, budget, || {
            let parsed = parse_bytes(bytes, &all);
            parsed.families.len() + parsed.errors.len()
        });
        let zero_copy = measure("ours-zero-copy", bytes, budget, || {
            let mut n = 0usize;
            let errors = visit(bytes, &all, |_, s| n += s.label_count() + s.value.is_nan() as usize);
            n + errors.len()
        });
        let one_family = measure("ours-one-family", bytes, budget, || {
            let parsed = parse_bytes(bytes, &selector);
            parsed.families.len()
        });
        println!(
            "{name:<32} {floor:>10.0} {owned:>10.0} {zero_copy:>10.0} {one_family:>10.0}  (one family: {one})"
        );
        for (method, mbps) in [
            ("floor", floor),
            ("ours-owned", owned),
            ("ours-zero-copy", zero_copy),
            ("ours-one-family", one_family),
        ] {
            println!("RESULT\t{name}\t{method}\t{mbps:.1}\t{}", bytes.len());
        }
    }
}

fn fixture_dir() -> PathBuf {
    match std::env::var("BENCH_FIXTURES") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real"),
    }
}

/// Best MB/s over repeated runs within `budget` (at least 5 runs: the machine may be shared,
/// and the best run is the one least disturbed).
fn measure(method: &str, bytes: &[u8], budget: Duration, mut run: impl FnMut() -> usize) -> f64 {
    if !method.contains(&std::env::var("BENCH_METHOD").unwrap_or_default()) {
        return 0.0;
    }
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut runs = 0;
    while runs < 5 || start.elapsed() < budget {
        let t = Instant::now();
        black_box(run());
        best = best.min(t.elapsed());
        runs += 1;
    }
    bytes.len() as f64 / best.as_secs_f64() / 1e6
}

/// The floor: split every line into name, label text and value with memchr alone.
fn memchr_floor(bytes: &[u8]) -> usize {
    let mut acc = 0usize;
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', bytes) {
        let line = &bytes[start..nl];
        start = nl + 1;
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let Some(name_end) = memchr::memchr2(b'{', b' ', line) else { continue };
        let mut rest = &line[name_end..];
        let mut labels = 0;
        if rest[0] == b'{' {
            let Some(close) = memchr::memrchr(b'}', rest) else { continue };
            labels = close;
            rest = &rest[close + 1..];
        }
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        let value_end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        acc = acc.wrapping_add(name_end + labels + value_end);
    }
    acc
}

/// One family's lines in a payload: its HELP/TYPE lines, then its sample lines.
type Block<'a> = (Vec<&'a [u8]>, Vec<&'a [u8]>);

/// A cadvisor-like payload: each family of `fixture` keeps its HELP/TYPE lines once, followed by
/// its samples repeated with varied `id` / `pod` / `name` label values until `min` bytes.
fn generate_cadvisor_like(fixture: &[u8], min: usize) -> Vec<u8> {
    // Families as (header lines, sample lines).
    let mut families: Vec<Block<'_>> = Vec::new();
    for line in fixture.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
        if line[0] == b'#' {
            if families.last().is_none_or(|(_, samples)| !samples.is_empty()) {
                families.push((Vec::new(), Vec::new()));
            }
            if let Some(last) = families.last_mut() {
                last.0.push(line);
            }
        } else if let Some(last) = families.last_mut() {
            last.1.push(line);
        }
    }
    let replicas = min.div_ceil(fixture.len()) + 1;
    let mut out = Vec::with_capacity(min + fixture.len() * 2);
    for (headers, samples) in &families {
        for h in headers {
            out.extend_from_slice(h);
            out.push(b'\n');
        }
        for r in 0..replicas {
            for s in samples {
                vary(s, r, &mut out);
                out.push(b'\n');
            }
        }
    }
    out
}

/// Copies sample line `s`, appending `-r<r>` to non-empty `id`, `pod` and `name` label values.
fn vary(s: &[u8], r: usize, out: &mut Vec<u8>) {
    if r == 0 {
        out.extend_from_slice(s);
        return;
    }
    let suffix = format!("-r{r}");
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        out.push(c);
        i += 1;
        if c == b'"' && i >= 3 && s[i - 2] == b'=' && s.get(i) != Some(&b'"') {
            let before = &s[..i - 2];
            let varied = [&b"{id"[..], b",id", b"{pod", b",pod", b"{name", b",name"]
                .iter()
                .any(|k| before.ends_with(k));
            if varied {
                let Some(end) = memchr::memchr(b'"', &s[i..]) else { continue };
                out.extend_from_slice(&s[i..i + end]);
                out.extend_from_slice(suffix.as_bytes());
                i += end;
            }
        }
    }
}
