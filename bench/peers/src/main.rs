//! Throughput of the Rust peers (`prometheus-parse`, `prometheus-wire`) in MB/s on each file
//! given as an argument; prints `RESULT <input> <peer> <MB/s> <bytes>` lines for
//! `scripts/bench-parser.sh`. `BENCH_SECONDS` is the time spent per measurement (default 0.4).

use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let budget = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(0.4);
    let budget = Duration::from_secs_f64(budget);
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let name =
            std::path::Path::new(&path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or(path);
        let (mbps, samples) = measure(&text, budget, prometheus_parse_samples);
        println!("RESULT\t{name}\tprometheus-parse\t{mbps:.1}\t{}\t{samples}", text.len());
        let (mbps, samples) = measure(&text, budget, prometheus_wire_samples);
        println!("RESULT\t{name}\tprometheus-wire\t{mbps:.1}\t{}\t{samples}", text.len());
    }
}

/// Best MB/s over repeated runs within `budget` (at least 2 runs), and the sample count.
fn measure(text: &str, budget: Duration, run: fn(&str) -> usize) -> (f64, usize) {
    let start = Instant::now();
    let mut best = Duration::MAX;
    let mut samples = 0;
    let mut runs = 0;
    while runs < 2 || start.elapsed() < budget {
        let t = Instant::now();
        samples = black_box(run(black_box(text)));
        best = best.min(t.elapsed());
        runs += 1;
    }
    (text.len() as f64 / best.as_secs_f64() / 1e6, samples)
}

/// `prometheus-parse`: its documented entry point takes lines as `io::Result<String>`.
fn prometheus_parse_samples(text: &str) -> usize {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    match prometheus_parse::Scrape::parse(lines) {
        Ok(scrape) => scrape.samples.len(),
        Err(_) => 0,
    }
}

/// `prometheus-wire`: a line parser; comments and samples are tried per line.
fn prometheus_wire_samples(text: &str) -> usize {
    let mut samples = 0;
    for line in text.lines() {
        if line.starts_with('#') {
            black_box(prometheus_wire::parser::try_read_comment(line));
        } else if let Some(sample) = prometheus_wire::parser::try_read_sample(line) {
            black_box(&sample);
            samples += 1;
        }
    }
    samples
}
