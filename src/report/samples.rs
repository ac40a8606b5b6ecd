//! `get`'s samples as bytes: one JSON object per sample per line, or CSV rows with the node,
//! name, label set, value and timestamp. Which samples are written (nodes, `-m` selectors) is
//! decided by `commands::get`; the exposition format itself is written by
//! [`crate::exposition::write()`].

use std::io::{self, Write};

use crate::exposition::{Family, format_value};
use crate::report::json::number;

/// One JSON object per sample per line: `{"node","name","labels","value","timestamp_ms"}`.
pub fn write_json(nodes: &[(&str, &[Family])], out: &mut dyn Write) -> io::Result<()> {
    write_json_in(None, nodes, out)
}

/// [`write_json`] for one cluster of several: each object also has `"context"`.
pub fn write_json_in(
    context: Option<&str>,
    nodes: &[(&str, &[Family])],
    out: &mut dyn Write,
) -> io::Result<()> {
    for (node, families) in nodes {
        for sample in families.iter().flat_map(|f| &f.samples) {
            let labels: serde_json::Map<String, serde_json::Value> =
                sample.labels.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
            let mut line = serde_json::json!({
                "node": node,
                "name": sample.name,
                "labels": labels,
                "value": number(sample.value),
                "timestamp_ms": sample.timestamp_ms,
            });
            if let Some(context) = context {
                line["context"] = context.into();
            }
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// `node,name,labels,value,timestamp_ms`, labels as `a="x",b="y"` (exposition escaping) in one
/// field, quoted by CSV's rules (RFC 4180) when it holds a comma, a quote or a line break.
pub fn write_csv(nodes: &[(&str, &[Family])], out: &mut dyn Write) -> io::Result<()> {
    write_csv_in(None, true, nodes, out)
}

/// [`write_csv`] for one cluster of several: a `context` column first; the header only when
/// `header` (the first cluster's rows).
pub fn write_csv_in(
    context: Option<&str>,
    header: bool,
    nodes: &[(&str, &[Family])],
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    let first = context.map(|_| "context");
    if header {
        writer.write_record(first.into_iter().chain(["node", "name", "labels", "value", "timestamp_ms"]))?;
    }
    for (node, families) in nodes {
        for sample in families.iter().flat_map(|f| &f.samples) {
            let labels: Vec<String> =
                sample.labels.iter().map(|(k, v)| format!("{k}={}", quote_label(v))).collect();
            let timestamp = sample.timestamp_ms.map(|t| t.to_string()).unwrap_or_default();
            let value = format_value(sample.value);
            let fields = [*node, sample.name.as_str(), &labels.join(","), &value, &timestamp];
            writer.write_record(context.into_iter().chain(fields))?;
        }
    }
    writer.flush()
}

/// One CSV record (RFC 4180 quoting), for callers that write rows as they arrive, such as
/// `get --path` with `-o csv` (`node,bytes,body`).
pub fn write_csv_record(fields: &[&str], out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    writer.write_record(fields)?;
    writer.flush()
}

// The exposition format's label-value escaping: backslash, double quote and line feed.
fn quote_label(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{MetricKind, Sample};

    fn family(name: &str, samples: &[(&[(&str, &str)], f64)]) -> Family {
        Family {
            name: name.into(),
            help: "help".into(),
            kind: MetricKind::Gauge,
            unit: String::new(),
            samples: samples
                .iter()
                .map(|(labels, value)| Sample {
                    name: name.into(),
                    labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                    value: *value,
                    timestamp_ms: None,
                })
                .collect(),
        }
    }

    fn sample_nodes() -> (Vec<Family>, Vec<Family>) {
        let mut a = vec![
            family("up", &[(&[("job", "kubelet")], 1.0)]),
            family("temp", &[(&[("path", "C:\\dir"), ("note", "say \"hi\"\nbye")], 0.25)]),
        ];
        a[1].samples[0].timestamp_ms = Some(1_700_000_000_000);
        let b = vec![family("ratio", &[(&[], f64::NAN), (&[("le", "+Inf")], f64::INFINITY)])];
        (a, b)
    }

    #[test]
    fn csv_quotes_label_sets() {
        let fam = [family("up", &[(&[("a", "x,y"), ("b", "q\"")], 1.0)])];
        let mut out = Vec::new();
        write_csv(&[("n1", &fam)], &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text.lines().nth(1), Some(r#"n1,up,"a=""x,y"",b=""q\""""",1,"#));
    }

    #[test]
    fn csv_snapshot() {
        let (a, b) = sample_nodes();
        let mut out = Vec::new();
        write_csv(&[("node-a", &a), ("node-b", &b)], &mut out).expect("write");
        insta::assert_snapshot!(String::from_utf8(out).expect("utf8"));
    }

    #[test]
    fn json_snapshot() {
        let (a, b) = sample_nodes();
        let mut out = Vec::new();
        write_json(&[("node-a", &a), ("node-b", &b)], &mut out).expect("write");
        insta::assert_snapshot!(String::from_utf8(out).expect("utf8"));
    }

    #[test]
    fn raw_records_quote_bodies() {
        let mut out = Vec::new();
        write_csv_record(&["node", "bytes", "body"], &mut out).expect("write");
        write_csv_record(&["n1", "3", "ok"], &mut out).expect("write");
        write_csv_record(&["n2", "4", "a,\"b\"\n"], &mut out).expect("write");
        insta::assert_snapshot!(String::from_utf8(out).expect("utf8"), @r#"
        node,bytes,body
        n1,3,ok
        n2,4,"a,""b""
        "
        "#);
    }
}
