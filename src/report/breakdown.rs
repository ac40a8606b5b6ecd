//! `breakdown` output: one table (the cluster's rows, then each node's), its wide variant, the
//! JSON / YAML document and CSV of a [`Breakdown`]. Every number is shown with the series it
//! comes from; the document carries the PromQL of every number. The numbers themselves come
//! from [`crate::analysis::breakdown`].

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use crate::analysis::breakdown::{Breakdown, Role, Row, Scope};
use crate::catalog::RUNTIME_OPERATIONS_DURATION;
use crate::report::document::DocumentFormat;
use crate::report::json::number;
use crate::report::{format_count, format_value, quantile_header, quantile_key};
use crate::text::{bounded_names, wrap};

/// How the cluster's rows are named in the NODE column and in CSV.
pub const CLUSTER: &str = "(cluster)";

/// The table (`wide` adds the sum and the largest bucket, and the PromQL of every cluster row).
pub fn table(
    breakdown: &Breakdown,
    wide: bool,
    headers: bool,
    out: &mut (impl Write + ?Sized),
) -> io::Result<()> {
    writeln!(
        out,
        "Where pod-start time goes, from each kubelet's histograms (counts since the kubelet started)"
    )?;
    writeln!(out)?;
    let scopes: Vec<&Scope> = std::iter::once(&breakdown.cluster).chain(&breakdown.nodes).collect();
    // Runtime operations off the pod-start path (listing, status polls, exec) only in -o wide.
    let shown = |row: &&Row| wide || !off_start_path(row);
    let cells: Vec<Vec<String>> = scopes
        .iter()
        .flat_map(|scope| scope.rows.iter().filter(shown).map(move |row| cells(scope, row, wide)))
        .collect();
    let mut header: Vec<String> = ["NODE", "VERSION", "STAGE", "COUNT", "MEAN"].map(String::from).to_vec();
    header.extend(breakdown.quantiles.iter().map(|q| quantile_header(*q)));
    if wide {
        header.extend(["SUM", "LE MAX"].map(String::from));
    }
    header.push("SERIES".into());
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    // Text columns align left, numbers right; the last column is not padded.
    let left = |index: usize| index < 3 || index == widths.len() - 1;
    let line = |row: &[String]| -> String {
        let mut text = String::new();
        for (index, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if index > 0 {
                text.push_str("  ");
            }
            let pad = width.saturating_sub(cell.chars().count());
            if index == widths.len() - 1 {
                text.push_str(cell);
            } else if left(index) {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            } else {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            }
        }
        text.trim_end().to_string()
    };
    if headers {
        writeln!(out, "{}", line(&header))?;
    }
    for row in &cells {
        writeln!(out, "{}", line(row))?;
    }
    if cells.is_empty() {
        writeln!(out, "(no node has any of the histograms)")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "* the slowest phase of its node: the largest mean among image pull, sandbox, runtime and pod worker."
    )?;
    writeln!(out, "≥ the value is the largest finite bucket: the quantile lies above it.")?;
    let mut hidden: Vec<&str> = scopes
        .iter()
        .flat_map(|scope| &scope.rows)
        .filter(|row| !wide && off_start_path(row))
        .filter_map(|row| row.label.as_deref())
        .collect();
    hidden.sort_unstable();
    hidden.dedup();
    if !hidden.is_empty() {
        writeln!(
            out,
            "-o wide adds the runtime operations off the pod-start path: {}.",
            bounded_names(&hidden)
        )?;
    }
    footer(breakdown, wide, out)
}

fn off_start_path(row: &Row) -> bool {
    row.stage.metric == RUNTIME_OPERATIONS_DURATION && row.role == Role::Background
}

fn cells(scope: &Scope, row: &Row, wide: bool) -> Vec<String> {
    let mut title = row.title();
    if row.slowest {
        title.push_str(" *");
    }
    let mut cells = vec![
        scope.node.clone().unwrap_or_else(|| CLUSTER.to_string()),
        scope.kubelet_version.clone().unwrap_or_else(|| "-".to_string()),
        title,
        format_count(row.count),
        format_value(row.mean, "s"),
    ];
    for quantile in &row.quantiles {
        let at_least = if quantile.lower_bound { "≥" } else { "" };
        cells.push(format!("{at_least}{}", format_value(quantile.value, "s")));
    }
    if wide {
        cells.push(format_value(row.sum, "s"));
        cells.push(format_value(row.largest_bound, "s"));
    }
    cells.push(row.series());
    cells
}

fn footer(breakdown: &Breakdown, wide: bool, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Every number is PromQL over the same samples with a node label (as `kubelet-metrics get` writes them):"
    )?;
    writeln!(
        out,
        "  COUNT = sum(SERIES_count{{node=\"NODE\"}})   MEAN = sum(SERIES_sum{{…}}) / sum(SERIES_count{{…}})"
    )?;
    writeln!(
        out,
        "  Pq = histogram_quantile(q, sum by (le) (SERIES_bucket{{…}}))   (the cluster rows: without node=)"
    )?;
    writeln!(
        out,
        "  In Prometheus, wrap each vector in increase(…[RANGE]) for a window. -o json gives every row's queries."
    )?;
    let example =
        breakdown.cluster.rows.iter().find(|r| r.slowest).or_else(|| breakdown.cluster.rows.first());
    if let Some(row) = example
        && !wide
    {
        let example = format!("e.g. MEAN of {} {}: {}", CLUSTER, row.title(), row.promql.mean);
        out.write_all(wrap(&example, "  ", "      ").as_bytes())?;
    }
    if wide && !breakdown.cluster.rows.is_empty() {
        writeln!(out)?;
        writeln!(out, "PromQL of the cluster rows:")?;
        for row in &breakdown.cluster.rows {
            writeln!(out, "  {}:", row.title())?;
            out.write_all(wrap(&format!("COUNT {}", row.promql.count), "    ", "          ").as_bytes())?;
            out.write_all(wrap(&format!("MEAN  {}", row.promql.mean), "    ", "          ").as_bytes())?;
            for (q, expr) in breakdown.quantiles.iter().zip(&row.promql.quantiles) {
                let line = format!("{:<5} {expr}", quantile_header(*q));
                out.write_all(wrap(&line, "    ", "          ").as_bytes())?;
            }
        }
    }
    // One line per stage and split of nodes: `runtime` has one row per operation.
    // (stage, nodes covered, nodes left out, label values).
    type Split<'a> = (&'a str, &'a [String], &'a [String], Vec<&'a str>);
    let mut splits: Vec<Split<'_>> = Vec::new();
    for partial in &breakdown.partial {
        let title = partial.title.as_str();
        let (stage, value) =
            title.split_once(' ').filter(|_| !title.starts_with("pod ")).unwrap_or((title, ""));
        match splits
            .iter_mut()
            .find(|(s, c, l, _)| *s == stage && *c == partial.covered && *l == partial.left_out)
        {
            Some((_, _, _, values)) => values.push(value),
            None => splits.push((stage, &partial.covered, &partial.left_out, vec![value])),
        }
    }
    if !splits.is_empty() {
        writeln!(out)?;
    }
    for (stage, covered, left_out, values) in splits {
        let values: Vec<&str> = values.into_iter().filter(|v| !v.is_empty()).collect();
        let which = if values.is_empty() { String::new() } else { format!(" ({})", bounded_names(&values)) };
        let line = format!(
            "The cluster rows of {stage}{which} cover {} only: {} {} other buckets.",
            bounded_names(covered),
            bounded_names(left_out),
            if left_out.len() == 1 { "has" } else { "have" }
        );
        out.write_all(wrap(&line, "", "  ").as_bytes())?;
    }
    if !breakdown.caveats.is_empty() {
        writeln!(out)?;
        writeln!(out, "Caveats:")?;
        for caveat in &breakdown.caveats {
            let line = format!("{}: {} ({}).", caveat.metric, caveat.text, caveat.reference);
            out.write_all(wrap(&line, "  ", "    ").as_bytes())?;
            writeln!(out, "    on {}", bounded_names(&caveat.nodes))?;
        }
    }
    if !breakdown.warnings.is_empty() {
        writeln!(out)?;
        for warning in &breakdown.warnings {
            out.write_all(wrap(&format!("warning: {warning}"), "", "  ").as_bytes())?;
        }
    }
    if !breakdown.errors.is_empty() {
        writeln!(out)?;
        writeln!(out, "nodes without a breakdown ({}):", breakdown.errors.len())?;
        for error in &breakdown.errors {
            let line = match &error.fix {
                Some(fix) => format!("{}: {} ({}); fix: {fix}", error.node, error.message, error.kind),
                None => format!("{}: {} ({})", error.node, error.message, error.kind),
            };
            out.write_all(wrap(&line, "  ", "    ").as_bytes())?;
        }
    }
    Ok(())
}

/// The document `-o json` and `-o yaml` write.
pub fn to_value(breakdown: &Breakdown) -> Value {
    let scope = |scope: &Scope| -> Value {
        let mut object = Map::new();
        if let Some(node) = &scope.node {
            object.insert("node".into(), json!(node));
            object.insert("kubelet_version".into(), json!(scope.kubelet_version));
        }
        object.insert("rows".into(), Value::Array(scope.rows.iter().map(row_value).collect()));
        Value::Object(object)
    };
    json!({
        "quantiles": breakdown.quantiles,
        "cluster": scope(&breakdown.cluster),
        "nodes": breakdown.nodes.iter().map(scope).collect::<Vec<_>>(),
        "partial": breakdown.partial.iter().map(|p| json!({
            "stage": p.title, "covered": p.covered, "left_out": p.left_out,
        })).collect::<Vec<_>>(),
        "caveats": breakdown.caveats.iter().map(|c| json!({
            "metric": c.metric, "id": c.id, "text": c.text, "reference": c.reference, "nodes": c.nodes,
        })).collect::<Vec<_>>(),
        "warnings": breakdown.warnings,
        "errors": breakdown.errors.iter().map(|e| json!({
            "node": e.node, "kind": e.kind.as_str(), "message": e.message, "fix": e.fix,
        })).collect::<Vec<_>>(),
    })
}

fn row_value(row: &Row) -> Value {
    let quantiles: Map<String, Value> =
        row.quantiles.iter().map(|q| (quantile_key(q.q), number(q.value))).collect();
    let lower_bounds: Vec<f64> = row.quantiles.iter().filter(|q| q.lower_bound).map(|q| q.q).collect();
    let promql_quantiles: Map<String, Value> = row
        .quantiles
        .iter()
        .zip(&row.promql.quantiles)
        .map(|(q, expr)| (quantile_key(q.q), json!(expr)))
        .collect();
    json!({
        "stage": row.stage.name,
        "role": row.role.as_str(),
        "metric": row.stage.metric,
        "label": row.stage.by.map(|by| json!({"name": by, "value": row.label})),
        "series": row.series(),
        "count": number(row.count),
        "sum": number(row.sum),
        "mean": number(row.mean),
        "quantiles": quantiles,
        "lower_bounds": lower_bounds,
        "largest_bucket": number(row.largest_bound),
        "slowest": row.slowest,
        "promql": {
            "count": row.promql.count,
            "sum": row.promql.sum,
            "mean": row.promql.mean,
            "quantiles": promql_quantiles,
        },
    })
}

/// `-o json`, `-o yaml` or `-o jsonpath=…`.
pub fn document(breakdown: &Breakdown, format: &DocumentFormat, out: &mut impl Write) -> io::Result<()> {
    crate::report::document::write(&to_value(breakdown), format, out)
}

/// `-o csv`: one row per (scope, stage, label value); errors as rows with `error` set.
pub fn csv(breakdown: &Breakdown, out: &mut impl Write) -> io::Result<()> {
    let mut csv = crate::report::csv::writer(out);
    let mut header: Vec<String> = [
        "scope",
        "node",
        "kubelet_version",
        "stage",
        "role",
        "metric",
        "label",
        "label_value",
        "count",
        "sum",
        "mean",
    ]
    .map(String::from)
    .to_vec();
    header.extend(breakdown.quantiles.iter().map(|q| format!("p{}", quantile_key(*q))));
    header.extend(["slowest", "promql_mean", "error"].map(String::from));
    csv.write_record(&header)?;
    let scopes = std::iter::once(&breakdown.cluster).chain(&breakdown.nodes);
    for scope in scopes {
        for row in &scope.rows {
            let mut record = vec![
                if scope.node.is_some() { "node" } else { "cluster" }.to_string(),
                scope.node.clone().unwrap_or_default(),
                scope.kubelet_version.clone().unwrap_or_default(),
                row.stage.name.to_string(),
                row.role.as_str().to_string(),
                row.stage.metric.to_string(),
                row.stage.by.unwrap_or_default().to_string(),
                row.label.clone().unwrap_or_default(),
                plain(row.count),
                plain(row.sum),
                plain(row.mean),
            ];
            record.extend(row.quantiles.iter().map(|q| plain(q.value)));
            record.extend([row.slowest.to_string(), row.promql.mean.clone(), String::new()]);
            csv.write_record(&record)?;
        }
    }
    for error in &breakdown.errors {
        let mut record = vec![String::new(); header.len()];
        record[0] = "node".into();
        record[1] = error.node.clone();
        if let Some(last) = record.last_mut() {
            *last = format!("{}: {}", error.kind, error.message);
        }
        csv.write_record(&record)?;
    }
    csv.flush()
}

/// A number as CSV carries it: shortest round-trip decimal, `NaN`, `+Inf`.
fn plain(value: f64) -> String {
    crate::histogram::format_number(value)
}
