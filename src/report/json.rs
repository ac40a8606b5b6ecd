//! `histogram -o json`: one JSON document in DESIGN §3's shape, extended.
//!
//! ```text
//! {"metric", "method", "unit", "by", "delta", "quantiles": [0.5, ...], "bands": [1, 5, 30],
//!  "nodes": [{"node", "group"?, "kubelet_version", "count", "sum", "mean",
//!             "quantiles": {"0.5": ...}, "lower_bound_quantiles": ["0.99"], "bands": [{"label", "count", "fraction", "approximate"}],
//!             "buckets": [{"le", "count"}], "reset"}],
//!  "cluster": {"count", "sum", "mean", "quantiles", "bands", "buckets",
//!              "layouts": [{"bounds", "nodes", "count", "sum", "mean", "quantiles", "bands", "buckets"}]},
//!  "groups"?: {"<by value>": <cluster>},
//!  "errors": [{"node", "kind", "message", "fix"}], "warnings": [{"node", "message"}],
//!  "caveats": [{"metric", "id", "text", "reference", "versions"}]}
//! ```
//!
//! JSON has no NaN or infinity, so every number goes through [`number`], the project's one
//! spelling of them (DESIGN §3): a value that is undefined (NaN: a mean or quantile without
//! observations, a `_sum` the payload lacked) is the string `"NaN"`; an infinite value is the
//! string `"+Inf"` / `"-Inf"`, like `le` of the last bucket. `get -o json` values are spelled the
//! same way. Whole numbers are written as integers (`"count": 74`). `lower_bound_quantiles` lists
//! the quantiles whose rank lies in the `+Inf` bucket: their value is PromQL's (the highest finite
//! bound) and only a lower bound. Band labels are ASCII (`<=1s`, `1-5s`, `>30s`). When bucket
//! layouts differ, `cluster` has count, sum and mean, empty `quantiles`, `bands` and `buckets`,
//! and one entry per layout in `layouts`. Object keys are sorted.

use std::io::{self, Write};

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value, json};

use crate::analysis::{ClusterReport, NodeReport, Report, Stats};
use crate::histogram::{Band, Bucket, Reset, format_number};
use crate::report::document::DocumentFormat;
use crate::report::quantile_key;

/// Writes the report as one pretty-printed JSON document and a newline.
pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    render_with(report, Map::new(), out)
}

/// [`render`] with extra top-level entries (e.g. the command's `slo` verdict). The `nodes`
/// array is streamed one node at a time, so memory does not grow with a thousand-node report.
pub fn render_with(report: &Report, extra: Map<String, Value>, out: &mut impl Write) -> io::Result<()> {
    render_as(report, extra, &DocumentFormat::Json, out)
}

/// [`render_with`] in any document format: JSON and YAML stream the `nodes` array; a
/// `jsonpath=` template selects from the whole document.
pub fn render_as(
    report: &Report,
    extra: Map<String, Value>,
    format: &DocumentFormat,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut rest = without_nodes(report);
    rest.extend(extra);
    match format {
        DocumentFormat::JsonPath(_) => {
            rest.insert("nodes".into(), Value::Array(report.nodes.iter().map(|n| node(report, n)).collect()));
            super::document::write(&rest, format, out)
        }
        DocumentFormat::Json | DocumentFormat::Yaml => {
            super::document::write(&Document { report, rest }, format, out)
        }
    }
}

/// One cluster of a fleet as [`render_fleet`] writes it: its context, and its report with the
/// command's extra entries (e.g. `slo`), or why it could not be read.
#[derive(Debug)]
pub struct FleetCluster<'a> {
    /// The kubeconfig context.
    pub context: &'a str,
    /// The report and its extra entries, or the error that stopped this cluster.
    pub outcome: Result<(&'a Report, Map<String, Value>), String>,
}

/// Writes several clusters as one JSON document, in the order given:
/// `{"metric", "clusters": [{"context", <every entry of a one-cluster document>}, {"context",
/// "error"}]}`; a cluster that could not be read has only its context and `error`.
pub fn render_fleet(metric: &str, clusters: &[FleetCluster<'_>], out: &mut impl Write) -> io::Result<()> {
    let clusters: Vec<Value> = clusters
        .iter()
        .map(|cluster| match &cluster.outcome {
            Ok((report, extra)) => {
                let mut object = match to_value(report) {
                    Value::Object(object) => object,
                    other => Map::from_iter([("report".to_string(), other)]),
                };
                object.extend(extra.clone());
                object.insert("context".into(), cluster.context.into());
                Value::Object(object)
            }
            Err(message) => json!({"context": cluster.context, "error": message}),
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &json!({"metric": metric, "clusters": clusters}))?;
    writeln!(out)
}

/// The report as a JSON value (what [`render`] writes).
pub fn to_value(report: &Report) -> Value {
    let mut root = without_nodes(report);
    root.insert("nodes".into(), Value::Array(report.nodes.iter().map(|n| node(report, n)).collect()));
    Value::Object(root)
}

/// The document as it is written: `rest` holds every top-level entry but `nodes`, in key order.
struct Document<'a> {
    report: &'a Report,
    rest: Map<String, Value>,
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.rest.len() + 1))?;
        let nodes = Nodes(self.report);
        let mut nodes_written = false;
        for (key, value) in &self.rest {
            // Keys are sorted (serde_json's map is a BTreeMap): `nodes` goes in its place.
            if !nodes_written && key.as_str() > "nodes" {
                map.serialize_entry("nodes", &nodes)?;
                nodes_written = true;
            }
            map.serialize_entry(key, value)?;
        }
        if !nodes_written {
            map.serialize_entry("nodes", &nodes)?;
        }
        map.end()
    }
}

/// The `nodes` array, built one element at a time while it is written.
struct Nodes<'a>(&'a Report);

impl Serialize for Nodes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.nodes.len()))?;
        for row in &self.0.nodes {
            seq.serialize_element(&node(self.0, row))?;
        }
        seq.end()
    }
}

/// Every top-level entry but `nodes`.
fn without_nodes(report: &Report) -> Map<String, Value> {
    let mut root = Map::new();
    root.insert("metric".into(), json!(report.metric));
    root.insert("method".into(), json!(report.method));
    root.insert("unit".into(), json!(report.unit));
    root.insert("by".into(), json!(report.by));
    root.insert("delta".into(), json!(report.delta));
    root.insert("quantiles".into(), Value::Array(report.quantiles.iter().map(|q| number(*q)).collect()));
    root.insert("bands".into(), Value::Array(report.band_edges.iter().map(|e| number(*e)).collect()));
    root.insert("cluster".into(), cluster(report, &report.cluster));
    if report.by.is_some() {
        let groups: Map<String, Value> =
            report.groups.iter().map(|(name, c)| (name.clone(), cluster(report, c))).collect();
        root.insert("groups".into(), Value::Object(groups));
    }
    root.insert(
        "errors".into(),
        report
            .errors
            .iter()
            .map(|e| json!({"node": e.node, "kind": e.kind.as_str(), "message": e.message, "fix": e.fix}))
            .collect(),
    );
    root.insert(
        "warnings".into(),
        report.warnings.iter().map(|w| json!({"node": w.node, "message": w.message})).collect(),
    );
    root.insert(
        "caveats".into(),
        report
            .caveats
            .iter()
            .map(|c| {
                json!({"metric": c.metric, "id": c.id, "text": c.text, "reference": c.reference, "versions": c.versions})
            })
            .collect(),
    );
    root
}

/// A number as JSON, the one spelling every JSON output uses (DESIGN §3: a value is a number or
/// one of the strings `"NaN"`, `"+Inf"`, `"-Inf"`): NaN → `"NaN"`, ±Inf → `"+Inf"` / `"-Inf"`,
/// whole numbers as integers, others as the shortest decimal that reads back the same.
///
/// ```
/// use kubelet_metrics::report::json::number;
/// assert_eq!(number(74.0).to_string(), "74");
/// assert_eq!(number(0.5).to_string(), "0.5");
/// assert_eq!(number(f64::NAN).to_string(), "\"NaN\"");
/// assert_eq!(number(f64::INFINITY).to_string(), "\"+Inf\"");
/// assert_eq!(number(f64::NEG_INFINITY).to_string(), "\"-Inf\"");
/// ```
pub fn number(value: f64) -> Value {
    if !value.is_finite() {
        // `format_number` spells these `NaN`, `+Inf`, `-Inf`, as the exposition format does.
        Value::String(format_number(value))
    } else if value.fract() == 0.0 && value.abs() < 9.007_199_254_740_992e15 {
        // Exactly representable as i64 (|value| < 2^53), so the cast is lossless.
        json!(value as i64)
    } else {
        json!(value)
    }
}

fn node(report: &Report, row: &NodeReport) -> Value {
    let mut object = stats(report, &row.stats);
    object.insert("node".into(), json!(row.node));
    if report.by.is_some() {
        object.insert("group".into(), json!(row.group));
    }
    object.insert("kubelet_version".into(), json!(row.kubelet_version));
    let reset = row.reset.map(|reset| match reset {
        Reset::CountersDecreased => "counters_decreased",
        Reset::LayoutChanged => "layout_changed",
    });
    object.insert("reset".into(), json!(reset));
    Value::Object(object)
}

fn cluster(report: &Report, cluster: &ClusterReport) -> Value {
    let mut object = stats(report, &cluster.stats);
    let layouts: Vec<Value> = cluster
        .layouts
        .iter()
        .map(|layout| {
            let mut entry = stats(report, &layout.stats);
            entry.insert("bounds".into(), layout.bounds.iter().map(|b| number(*b)).collect());
            entry.insert("nodes".into(), json!(layout.members));
            Value::Object(entry)
        })
        .collect();
    object.insert("layouts".into(), Value::Array(layouts));
    Value::Object(object)
}

fn stats(report: &Report, stats: &Stats) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert("count".into(), number(stats.count));
    object.insert("sum".into(), number(stats.sum));
    object.insert("mean".into(), number(stats.mean));
    let quantiles: Map<String, Value> =
        stats.quantiles.iter().map(|(q, v)| (quantile_key(*q), number(*v))).collect();
    object.insert("quantiles".into(), Value::Object(quantiles));
    object.insert(
        "lower_bound_quantiles".into(),
        stats.lower_bounds.iter().map(|q| json!(quantile_key(*q))).collect(),
    );
    object.insert("bands".into(), stats.bands.iter().map(|b| band(report, b)).collect());
    object.insert("buckets".into(), stats.buckets.iter().map(bucket).collect());
    object
}

fn band(report: &Report, band: &Band) -> Value {
    json!({
        "label": band.label(&report.unit),
        "count": number(band.count),
        "fraction": number(band.fraction),
        "approximate": band.approximate,
    })
}

fn bucket(bucket: &Bucket) -> Value {
    json!({"le": number(bucket.le), "count": number(bucket.count)})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Query, analyze};
    use crate::exposition::{Family, MetricKind, Sample};
    use crate::report::sample_report;
    use crate::scrape::{Failure, FailureKind, NodeScrape, Scraped};

    /// One node with buckets le=1 → 1 and +Inf → 2 (sum 3), one node with no observations, one
    /// failed node.
    fn tiny_report() -> Report {
        let sample = |suffix: &str, le: Option<&str>, value: f64| Sample {
            name: format!("x_seconds{suffix}").into(),
            labels: le.iter().map(|le| ("le", *le)).collect(),
            value,
            timestamp_ms: None,
        };
        let node = |name: &str, counts: [f64; 2], sum: f64| NodeScrape {
            node: name.to_string(),
            kubelet_version: None,
            outcome: Ok(Scraped {
                families: vec![Family {
                    name: "x_seconds".to_string(),
                    help: String::new(),
                    kind: MetricKind::Histogram,
                    unit: String::new(),
                    samples: vec![
                        sample("_bucket", Some("1"), counts[0]),
                        sample("_bucket", Some("+Inf"), counts[1]),
                        sample("_sum", None, sum),
                        sample("_count", None, counts[1]),
                    ],
                }],
                ..Scraped::default()
            }),
        };
        let failed = NodeScrape {
            node: "n3".to_string(),
            kubelet_version: Some("v1.30.0".to_string()),
            outcome: Err(Failure { kind: FailureKind::Forbidden, message: "403".to_string(), fix: None }),
        };
        let mut query = Query::new("x_seconds");
        query.quantiles = vec![0.5];
        query.bands = vec![1.0];
        analyze(&[node("n1", [1.0, 2.0], 3.0), node("n2", [0.0, 0.0], 0.0), failed], &query)
    }

    #[test]
    fn exact_document_spells_undefined_numbers_nan() {
        // n1: 1 of 2 observations ≤ 1 s, sum 3: mean 1.5; p50 rank 1 in (0, 1] → 1 × 1/1 = 1.
        // n2: no observations: mean, p50 and fractions are NaN → "NaN". n3 failed.
        let mut out = Vec::new();
        render(&tiny_report(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n"), "one document and a newline");
        insta::assert_snapshot!("tiny_report", text);
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["nodes"][1]["mean"], json!("NaN"));
        assert_eq!(value["nodes"][1]["quantiles"]["0.5"], json!("NaN"));
        assert_eq!(value["nodes"][0]["buckets"][1]["le"], json!("+Inf"));
    }

    #[test]
    fn design_shape_keys_are_present() {
        let value = to_value(&sample_report());
        for key in ["metric", "method", "nodes", "cluster", "errors"] {
            assert!(value.get(key).is_some(), "{key}");
        }
        let node = &value["nodes"][0];
        for key in ["node", "count", "sum", "mean", "quantiles", "bands", "buckets"] {
            assert!(node.get(key).is_some(), "{key}");
        }
        assert_eq!(node["quantiles"]["0.5"], json!(4));
        // n1's p99 rank (9.9 of 10) lies above the 30 s bound.
        assert_eq!(node["lower_bound_quantiles"], json!(["0.99"]));
        assert_eq!(
            node["bands"][0],
            json!({"label": "<=1s", "count": 2, "fraction": 0.2, "approximate": false})
        );
        assert_eq!(node["buckets"][3], json!({"le": "+Inf", "count": 10}));
        assert_eq!(value["errors"][0]["kind"], json!("timeout"));
        assert_eq!(value["method"], json!("proxy"));
    }
}
