//! Oracle: our quantiles equal those of a real Prometheus `histogram_quantile`, for every label
//! set of every histogram family in the fixtures (`tests/fixtures/real/*.prom` and the seed), at
//! q = 0.01, 0.25, 0.5, 0.9, 0.99 and 1, plus hand-written edge cases the fixtures lack.
//!
//! The engine is Debian's `promtool` (package `prometheus`; `.ci/run` installs it, `PROMTOOL`
//! overrides the path). For each fixture we write a `promtool test rules` group whose input
//! series are the fixture's `_bucket` samples (with their `le` spelled as sent, so Prometheus
//! parses it itself) and whose expected samples are our quantiles, compared exactly. Each
//! expression is `histogram_quantile(q, m_bucket) == histogram_quantile(q, m_bucket)`, which
//! drops NaN results: the label sets Prometheus returns must then be exactly those where our
//! quantile is a number, so NaN agreement is checked too. Without promtool the test fails with
//! the install command; it never skips silently.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kubelet_metrics::exposition::{self, MetricKind};
use kubelet_metrics::histogram;

/// The quantiles compared for every series.
const QUANTILES: [f64; 6] = [0.01, 0.25, 0.5, 0.9, 0.99, 1.0];
/// Upper bound on one promtool run, so a wedged process cannot hang the suite.
const PROMTOOL_TIMEOUT: Duration = Duration::from_secs(300);

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every fixture: `real/*.prom` in name order, then the seed.
fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join("real"))
        .expect("tests/fixtures/real exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "prom"))
        .collect();
    files.sort();
    files.push(fixtures_dir().join("seed-node1.prom"));
    files
}

/// `$PROMTOOL`, else `promtool` on `PATH`; a clear failure when neither exists.
pub fn promtool() -> PathBuf {
    if let Some(path) = std::env::var_os("PROMTOOL") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join("promtool")).find(|p| p.is_file()));
    found.flatten().unwrap_or_else(|| {
        panic!(
            "promtool not found: the quantile oracle needs real Prometheus. Install it with \
             `apt-get update && apt-get install -y prometheus` (Debian), or set PROMTOOL=/path/to/promtool"
        )
    })
}

/// A label value as PromQL / series notation spells it inside double quotes.
fn escape_label_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A YAML single-quoted scalar.
pub fn yaml_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub fn label_set<K: AsRef<str>, V: AsRef<str>>(labels: impl IntoIterator<Item = (K, V)>) -> String {
    let inner: Vec<String> = labels
        .into_iter()
        .filter(|(_, v)| !v.as_ref().is_empty())
        .map(|(k, v)| format!("{}=\"{}\"", k.as_ref(), escape_label_value(v.as_ref())))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// One `promtool test rules` group for a fixture, and how many (series, q) pairs it checks.
fn test_group(path: &Path) -> (String, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    test_group_for(&path.display().to_string(), &text)
}

/// Edge cases the fixtures lack: decreasing bucket counts (ensureMonotonic), a lowest bound at
/// or below zero, one `le` spelled two ways (coalesced), only a `+Inf` bucket, no observations,
/// and ranks in the `+Inf` bucket.
const EDGE_CASES: &str = r#"# TYPE edge_seconds histogram
edge_seconds_bucket{case="decreasing",le="1"} 5
edge_seconds_bucket{case="decreasing",le="2"} 3
edge_seconds_bucket{case="decreasing",le="4"} 7
edge_seconds_bucket{case="decreasing",le="+Inf"} 8
edge_seconds_bucket{case="negative",le="-1"} 2
edge_seconds_bucket{case="negative",le="1"} 4
edge_seconds_bucket{case="negative",le="+Inf"} 4
edge_seconds_bucket{case="zero",le="0"} 2
edge_seconds_bucket{case="zero",le="1"} 4
edge_seconds_bucket{case="zero",le="+Inf"} 4
edge_seconds_bucket{case="spelled",le="1"} 2
edge_seconds_bucket{case="spelled",le="1.0"} 3
edge_seconds_bucket{case="spelled",le="2"} 6
edge_seconds_bucket{case="spelled",le="+Inf"} 9
edge_seconds_bucket{case="only_inf",le="+Inf"} 5
edge_seconds_bucket{case="empty",le="1"} 0
edge_seconds_bucket{case="empty",le="+Inf"} 0
edge_seconds_bucket{case="tail",le="0.5"} 1
edge_seconds_bucket{case="tail",le="10"} 2
edge_seconds_bucket{case="tail",le="+Inf"} 10
"#;

fn test_group_for(name: &str, text: &str) -> (String, usize) {
    let families = exposition::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut input = String::new();
    let mut exprs = String::new();
    let mut checked = 0;
    for family in families.iter().filter(|f| f.kind == MetricKind::Histogram) {
        let read = histogram::from_family(family);
        assert!(read.problems.is_empty(), "{name}: {}: {:?}", family.name, read.problems);
        if read.series.is_empty() {
            continue;
        }
        let bucket_name = format!("{}_bucket", family.name);
        for sample in family.samples.iter().filter(|s| *s.name == *bucket_name) {
            let series = format!("{bucket_name}{}", label_set(sample.labels.iter()));
            writeln!(input, "      - series: {}\n        values: '{}'", yaml_quote(&series), sample.value)
                .expect("writing to a String");
        }
        for q in QUANTILES {
            let quantile = format!("histogram_quantile({q}, {bucket_name})");
            writeln!(exprs, "      - expr: {}", yaml_quote(&format!("{quantile} == {quantile}")))
                .expect("writing to a String");
            writeln!(exprs, "        eval_time: 0\n        exp_samples:").expect("writing to a String");
            let mut any = false;
            for series in &read.series {
                let ours = series.histogram.quantile(q);
                checked += 1;
                if ours.is_nan() {
                    continue;
                }
                any = true;
                // `{}` prints the shortest decimal that reads back as the same f64, so the
                // comparison in promtool is exact.
                writeln!(
                    exprs,
                    "          - labels: {}\n            value: {ours}",
                    yaml_quote(&label_set(&series.labels))
                )
                .expect("writing to a String");
            }
            if !any {
                exprs.truncate(exprs.trim_end_matches("        exp_samples:\n").len());
                writeln!(exprs, "        exp_samples: []").expect("writing to a String");
            }
        }
    }
    if input.is_empty() {
        return (String::new(), 0);
    }
    let group =
        format!("  # {name}\n  - interval: 1m\n    input_series:\n{input}    promql_expr_test:\n{exprs}");
    (group, checked)
}

/// Runs `promtool test rules FILE` with a deadline; returns (success, stdout + stderr).
/// Output goes to files next to `file`, so a long failure report cannot fill a pipe and stall.
pub fn run_promtool(promtool: &Path, file: &Path) -> (bool, String) {
    let log = file.with_extension("log");
    let stdout = std::fs::File::create(&log).expect("creating the promtool log");
    let stderr = stdout.try_clone().expect("sharing the promtool log");
    let mut child = Command::new(promtool)
        .arg("test")
        .arg("rules")
        .arg(file)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", promtool.display()));
    let started = Instant::now();
    let status = loop {
        match child.try_wait().expect("waiting for promtool") {
            Some(status) => break status,
            None if started.elapsed() > PROMTOOL_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("promtool did not finish within {PROMTOOL_TIMEOUT:?}");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    (status.success(), text)
}

#[test]
fn quantiles_match_prometheus_histogram_quantile() {
    let promtool = promtool();
    let mut yaml = String::from("evaluation_interval: 1m\ntests:\n");
    let mut checked = 0;
    let mut files_with_histograms = 0;
    for path in fixtures() {
        let (group, count) = test_group(&path);
        if count > 0 {
            files_with_histograms += 1;
        }
        yaml.push_str(&group);
        checked += count;
    }
    let (group, count) = test_group_for("edge cases", EDGE_CASES);
    assert_eq!(count, 7 * QUANTILES.len(), "every edge case is a series");
    yaml.push_str(&group);
    checked += count;
    // 1.10, 1.14 and 1.21 /metrics plus the seed carry histograms; the cadvisor, probes and
    // slis payloads have none.
    assert_eq!(files_with_histograms, 4, "fixtures with histogram families");
    assert!(checked > 1000, "only {checked} (series, q) pairs compared");

    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("histogram_quantile_test.yml");
    std::fs::write(&file, &yaml).expect("writing the promtool test file");
    let (success, output) = run_promtool(&promtool, &file);
    eprintln!("compared {checked} (series, q) pairs from {files_with_histograms} fixtures with promtool");
    assert!(success, "promtool disagrees with our quantiles ({checked} pairs):\n{output}");
}

#[test]
fn the_oracle_catches_a_wrong_answer() {
    // Guards the oracle itself: a deliberately wrong expected value must fail in promtool.
    let promtool = promtool();
    let yaml = "evaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n      \
                - series: 'x_bucket{le=\"1\"}'\n        values: '4'\n      \
                - series: 'x_bucket{le=\"+Inf\"}'\n        values: '4'\n    promql_expr_test:\n      \
                - expr: 'histogram_quantile(0.5, x_bucket)'\n        eval_time: 0\n        exp_samples:\n          \
                - labels: '{}'\n            value: 0.6\n";
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("wrong.yml");
    std::fs::write(&file, yaml).expect("writing the promtool test file");
    let (success, output) = run_promtool(&promtool, &file);
    // The right answer is 0.5 (rank 2 of 4 in (0, 1]).
    assert!(!success, "promtool accepted a wrong quantile:\n{output}");
    assert!(output.contains("0.5"), "{output}");
}
