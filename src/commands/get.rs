//! `get`: one kubelet endpoint from every selected node, filtered by `-m`, with a `node` label
//! added — the cluster-wide `kubectl get --raw | grep`.

use std::io::Write;

use super::{Outcome, Terminals, collect_options, report_problems, write_failure};
use crate::cli::GetOutput;
use crate::cli::settings::{GetRead, GetSettings};
use crate::collect::Options;
use crate::exposition::{self, Family, format_value};
use crate::snapshot::label_by_node;
use crate::source::SourcePlan;
use crate::source::gather;

/// Runs `get`.
pub async fn run(
    settings: &GetSettings,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    let options = collect_options(terminals);
    let (plan, path) = (&settings.source, settings.path.as_str());
    let selector = match &settings.read {
        GetRead::Exposition(selector) => selector,
        GetRead::Raw => return run_raw(plan, path, settings.output, out, err, &options).await,
    };
    let gathered = gather(plan, path, selector, &options).await?;
    report_problems(&gathered, err)?;

    let nodes = crate::scrape::answered(&gathered.scrapes);
    match settings.output {
        GetOutput::Prom => exposition::write(&label_by_node(&nodes), None, &mut &mut *out)?,
        GetOutput::Json => write_json(&nodes, out)?,
        GetOutput::Csv => write_csv(&nodes, out)?,
    }
    out.flush()?;
    Ok(Outcome::from_scrapes(&gathered.scrapes))
}

/// `get --path` for a path that is not exposition text (`/healthz`, `/pods`, `/configz`):
/// each node's body as sent, one line per node when it is one line, else a block per node.
async fn run_raw(
    plan: &SourcePlan,
    path: &str,
    output: GetOutput,
    out: &mut dyn Write,
    err: &mut dyn Write,
    options: &Options,
) -> anyhow::Result<Outcome> {
    let SourcePlan::Cluster(cluster) = plan else {
        anyhow::bail!("--path {path} reads a cluster");
    };
    let collection = crate::collect::collect_raw(cluster, path, options).await?;
    for warning in &collection.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    if output == GetOutput::Csv {
        writeln!(out, "node,bytes,body")?;
    }
    for node in &collection.scrapes {
        let body = match &node.outcome {
            Ok(body) => String::from_utf8_lossy(body),
            Err(failure) => {
                write_failure(&node.node, failure, err)?;
                continue;
            }
        };
        match output {
            GetOutput::Json => {
                let line =
                    serde_json::json!({"node": node.node, "path": path, "bytes": body.len(), "body": body});
                serde_json::to_writer(&mut *out, &line)?;
                writeln!(out)?;
            }
            GetOutput::Csv => {
                writeln!(out, "{},{},{}", csv_field(&node.node), body.len(), csv_field(&body))?;
            }
            GetOutput::Prom if body.trim_end().contains('\n') => {
                writeln!(out, "==> {} <==\n{}", node.node, body.trim_end())?;
            }
            GetOutput::Prom => writeln!(out, "{}\t{}", node.node, body.trim_end())?,
        }
    }
    out.flush()?;
    let failed = collection.scrapes.iter().filter(|n| n.outcome.is_err()).count();
    Ok(Outcome::from_counts(collection.scrapes.len(), failed))
}

/// A sample value as JSON: a number, or `"NaN"`, `"+Inf"`, `"-Inf"` (JSON has no such numbers).
pub fn json_value(value: f64) -> serde_json::Value {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        serde_json::Number::from_f64(value).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
    }
}

/// One JSON object per sample per line: `{"node","name","labels","value","timestamp_ms"}`.
fn write_json(nodes: &[(&str, &[Family])], out: &mut dyn Write) -> anyhow::Result<()> {
    for (node, families) in nodes {
        for sample in families.iter().flat_map(|f| &f.samples) {
            let labels: serde_json::Map<String, serde_json::Value> =
                sample.labels.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
            let line = serde_json::json!({
                "node": node,
                "name": sample.name,
                "labels": labels,
                "value": json_value(sample.value),
                "timestamp_ms": sample.timestamp_ms,
            });
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

/// `node,name,labels,value,timestamp_ms`, labels as `a="x",b="y"` in one quoted field.
fn write_csv(nodes: &[(&str, &[Family])], out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "node,name,labels,value,timestamp_ms")?;
    for (node, families) in nodes {
        for sample in families.iter().flat_map(|f| &f.samples) {
            let labels: Vec<String> =
                sample.labels.iter().map(|(k, v)| format!("{k}={}", quote_label(v))).collect();
            let timestamp = sample.timestamp_ms.map(|t| t.to_string()).unwrap_or_default();
            writeln!(
                out,
                "{},{},{},{},{}",
                csv_field(node),
                csv_field(&sample.name),
                csv_field(&labels.join(",")),
                format_value(sample.value),
                timestamp
            )?;
        }
    }
    Ok(())
}

fn quote_label(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// RFC 4180: quote a field that holds a comma, a quote or a line break.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
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

    #[test]
    fn json_values_spell_non_finite_numbers_as_strings() {
        assert_eq!(json_value(f64::NAN), serde_json::json!("NaN"));
        assert_eq!(json_value(f64::NEG_INFINITY), serde_json::json!("-Inf"));
        assert_eq!(json_value(2.5), serde_json::json!(2.5));
    }

    #[test]
    fn csv_quotes_label_sets() {
        let fam = [family("up", &[(&[("a", "x,y"), ("b", "q\"")], 1.0)])];
        let mut out = Vec::new();
        write_csv(&[("n1", &fam)], &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert_eq!(text.lines().nth(1), Some(r#"n1,up,"a=""x,y"",b=""q\""""",1,"#));
    }
}
