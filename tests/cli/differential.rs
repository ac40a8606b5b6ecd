//! Our parser against an independent one: generated, valid exposition text (label values with
//! every escape and non-ASCII text, exotic numbers, timestamps, every family type, a family
//! resumed after another) is read by `exposition::parse` and by Python's `prometheus_client`
//! (`scripts/reference_parse.py`; `scripts/test` installs the package), sample for sample.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use kubelet_metrics::exposition;

/// Documents generated; each holds a few dozen samples.
const DOCUMENTS: usize = 300;

/// xorshift64*: deterministic, so a failure names a document that can be generated again.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A label value as written (escaped) in the text.
fn label_value(rng: &mut Rng) -> String {
    let pieces =
        ["a", "x y", "\\\\", "\\\"", "\\n", "é", "日本", "{}", ",=", "# not a comment", "", "0.5", "\t"];
    (0..rng.below(4)).map(|_| rng.pick(&pieces)).collect()
}

fn value(rng: &mut Rng) -> String {
    let exotic = [
        "NaN",
        "+Inf",
        "-Inf",
        "-0",
        "0",
        "1e-300",
        "1.7976931348623157e308",
        "2.592e+06",
        "-1.5",
        "0.1",
        "123456789012345678",
    ];
    if rng.below(3) == 0 {
        rng.pick(&exotic).to_string()
    } else {
        format!("{}.{}", rng.below(100_000), rng.below(1000))
    }
}

fn timestamp(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => format!(" {}", 1_600_000_000_000u64 + rng.next() % 100_000_000_000),
        1 => format!(" -{}", rng.below(1_000_000)),
        _ => String::new(),
    }
}

fn labels(rng: &mut Rng, extra: Option<(&str, String)>) -> String {
    let mut pairs: Vec<String> = Vec::new();
    for name in ["node", "operation_type", "a_b"].iter().take(rng.below(4)) {
        pairs.push(format!("{name}=\"{}\"", label_value(rng)));
    }
    if let Some((name, value)) = extra {
        pairs.push(format!("{name}=\"{value}\""));
    }
    if pairs.is_empty() { String::new() } else { format!("{{{}}}", pairs.join(",")) }
}

/// One document: families of every type, HELP with escapes, and the first gauge resumed at the end.
fn document(rng: &mut Rng) -> String {
    let mut text = String::new();
    let mut resumed = None;
    for index in 0..1 + rng.below(6) {
        let name = format!("family_{index}");
        if rng.below(2) == 0 {
            text.push_str(&format!("# HELP {name} Help with \\\\ and \\n and é.\n"));
        }
        match rng.below(5) {
            0 => {
                text.push_str(&format!("# TYPE {name} gauge\n"));
                for _ in 0..1 + rng.below(3) {
                    text.push_str(&format!("{name}{} {}{}\n", labels(rng, None), value(rng), timestamp(rng)));
                }
                resumed.get_or_insert(name);
            }
            1 => {
                text.push_str(&format!("# TYPE {name}_total counter\n"));
                text.push_str(&format!("{name}_total{} {}\n", labels(rng, None), value(rng)));
            }
            2 => {
                text.push_str(&format!("# TYPE {name} histogram\n"));
                let series = labels(rng, None);
                let inner = series.trim_start_matches('{').trim_end_matches('}');
                let with = |le: &str| {
                    if inner.is_empty() {
                        format!("{{le=\"{le}\"}}")
                    } else {
                        format!("{{{inner},le=\"{le}\"}}")
                    }
                };
                for (le, count) in [("0.5", 1), ("1", 3), ("+Inf", 4)] {
                    text.push_str(&format!("{name}_bucket{} {count}\n", with(le)));
                }
                text.push_str(&format!("{name}_sum{series} {}\n{name}_count{series} 4\n", value(rng)));
            }
            3 => {
                text.push_str(&format!("# TYPE {name} summary\n"));
                for q in ["0.5", "0.99"] {
                    text.push_str(&format!(
                        "{name}{} {}\n",
                        labels(rng, Some(("quantile", q.to_string()))),
                        value(rng)
                    ));
                }
                text.push_str(&format!("{name}_sum {}\n{name}_count 7\n", value(rng)));
            }
            _ => text.push_str(&format!("{name}{} {}{}\n", labels(rng, None), value(rng), timestamp(rng))),
        }
    }
    if let Some(name) = resumed {
        text.push_str(&format!("{name}{{resumed=\"yes\"}} {}\n", value(rng)));
    }
    text
}

/// One sample, comparable across the two parsers: name, sorted labels, value bits, timestamp bits
/// (seconds, as prometheus_client gives them).
type Key = (String, BTreeMap<String, String>, u64, Option<u64>);

fn bits(repr: &str) -> u64 {
    number_bits(repr.parse::<f64>().unwrap_or_else(|_| panic!("{repr:?} is a float")))
}

/// A number's bits, with -0 as 0: prometheus_client reads `-0` as the integer 0, where Go (and
/// so Prometheus, and we) read -0.0; the two are the same number.
fn number_bits(value: f64) -> u64 {
    if value == 0.0 { 0 } else { value.to_bits() }
}

#[test]
fn our_parse_matches_prometheus_client_sample_for_sample() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ours: BTreeMap<String, Vec<Key>> = BTreeMap::new();
    let mut paths = Vec::new();
    for n in 0..DOCUMENTS {
        let text = document(&mut rng);
        let path: PathBuf = dir.path().join(format!("doc-{n:03}.prom"));
        std::fs::write(&path, &text).expect("write");
        let families = exposition::parse(&text).unwrap_or_else(|e| panic!("document {n}: {e}\n{text}"));
        let mut keys: Vec<Key> = families
            .iter()
            .flat_map(|f| &f.samples)
            .map(|s| {
                let labels = s.labels.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
                (
                    s.name.to_string(),
                    labels,
                    number_bits(s.value),
                    s.timestamp_ms.map(|ms| number_bits(ms as f64 / 1000.0)),
                )
            })
            .collect();
        keys.sort();
        ours.insert(path.display().to_string(), keys);
        paths.push(path);
    }

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/reference_parse.py");
    let output = Command::new("python3").arg(script).args(&paths).output().unwrap_or_else(|e| {
        panic!("python3 is needed for the differential test ({e}); scripts/test installs prometheus_client")
    });
    assert!(
        output.status.success(),
        "the reference parser failed (scripts/test installs prometheus_client): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut theirs: BTreeMap<String, Vec<Key>> = BTreeMap::new();
    for line in String::from_utf8(output.stdout).expect("UTF-8").lines() {
        let sample: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let labels = sample["labels"]
            .as_object()
            .expect("labels")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_string()))
            .collect();
        let key = (
            sample["name"].as_str().expect("name").to_string(),
            labels,
            bits(sample["value"].as_str().expect("value")),
            sample["timestamp"].as_str().map(bits),
        );
        theirs.entry(sample["file"].as_str().expect("file").to_string()).or_default().push(key);
    }
    let mut compared = 0;
    for (path, mut keys) in theirs {
        keys.sort();
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(ours.get(&path), Some(&keys), "{path}:\n{text}");
        compared += keys.len();
    }
    let total: usize = ours.values().map(Vec::len).sum();
    assert_eq!(compared, total, "every document was read by both");
    assert!(total > DOCUMENTS * 5, "{total} samples compared");
}
