//! `histogram -o csv`: one row per node (and `--by` group), then the cluster row(s), then one
//! row per failed node. Columns:
//!
//! `row,node,group,kubelet_version,count,sum,mean,p<q>...,<band label>...,approximate,lower_bound,kind,message,fix`
//!
//! `row` is `node`, `cluster`, `layout` (one per bucket layout when layouts differ; `node` then
//! lists its members separated by spaces) or `error`. Numbers are written in full precision;
//! band columns hold fractions (0..1); `approximate` lists the labels of approximate bands,
//! space-separated; `lower_bound` lists the quantile columns (`p0.99`) whose rank lies in the
//! `+Inf` bucket, so their value (the highest finite bound) is only a lower bound. An undefined number (NaN) is an empty cell, infinities are `+Inf` / `-Inf`.
//! Fields are quoted as RFC 4180 says when they hold a comma, a quote or a line break.
//!
//! Every CSV output of the project goes through [`writer`], so they all quote and end lines the
//! same way; the quoting itself is the `csv` crate's.

use std::io::{self, Write};

use crate::analysis::{ClusterReport, Report, Stats};
use crate::histogram::format_number;
use crate::report::quantile_key;

/// Writes the CSV document, header first.
pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let mut csv = writer(out);
    let band_labels: Vec<String> = report
        .nodes
        .iter()
        .map(|n| &n.stats.bands)
        .chain(report.cluster.layouts.iter().map(|l| &l.stats.bands))
        .find(|b| !b.is_empty())
        .map(|bands| bands.iter().map(|b| b.label(&report.unit)).collect())
        .unwrap_or_default();
    let mut header: Vec<String> = ["row", "node", "group", "kubelet_version", "count", "sum", "mean"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(report.quantiles.iter().map(|q| format!("p{}", quantile_key(*q))));
    header.extend(band_labels.iter().cloned());
    header.extend(["approximate", "lower_bound", "kind", "message", "fix"].iter().map(|s| s.to_string()));
    csv.write_record(&header)?;

    let row = |kind: &str, node: &str, group: &str, version: &str, stats: &Stats| -> Vec<String> {
        let mut cells = vec![kind.to_string(), node.to_string(), group.to_string(), version.to_string()];
        cells.extend([stats.count, stats.sum, stats.mean].iter().map(|v| cell(*v)));
        cells.extend(report.quantiles.iter().map(|q| stats.quantile(*q).map_or_else(String::new, cell)));
        cells.extend(
            (0..band_labels.len()).map(|i| stats.bands.get(i).map_or_else(String::new, |b| cell(b.fraction))),
        );
        let approximate: Vec<String> =
            stats.bands.iter().filter(|b| b.approximate).map(|b| b.label(&report.unit)).collect();
        cells.push(approximate.join(" "));
        let lower: Vec<String> =
            stats.lower_bounds.iter().map(|q| format!("p{}", quantile_key(*q))).collect();
        cells.push(lower.join(" "));
        cells.extend([String::new(), String::new(), String::new()]);
        cells
    };

    for node in &report.nodes {
        let version = node.kubelet_version.as_deref().unwrap_or("");
        let group = node.group.as_deref().unwrap_or("");
        csv.write_record(row("node", &node.node, group, version, &node.stats))?;
    }
    let cluster_rows =
        |cluster: &ClusterReport, group: &str, out: &mut dyn FnMut(Vec<String>) -> io::Result<()>| {
            out(row("cluster", "", group, "", &cluster.stats))?;
            if cluster.layouts.len() > 1 {
                for layout in &cluster.layouts {
                    out(row("layout", &layout.members.join(" "), group, "", &layout.stats))?;
                }
            }
            Ok::<(), io::Error>(())
        };
    let mut emit = |record: Vec<String>| Ok(csv.write_record(record)?);
    for (group, cluster) in &report.groups {
        cluster_rows(cluster, group, &mut emit)?;
    }
    cluster_rows(&report.cluster, "", &mut emit)?;
    let width = header.len();
    for error in &report.errors {
        let mut cells = vec![String::new(); width];
        cells[0] = "error".to_string();
        cells[1] = error.node.clone();
        cells[width - 3] = error.kind.as_str().to_string();
        cells[width - 2] = error.message.clone();
        cells[width - 1] = error.fix.clone().unwrap_or_default();
        csv.write_record(&cells)?;
    }
    csv.flush()
}

/// Writes several clusters as one CSV document: a `context` column first, then each cluster's
/// rows as [`render`] writes them (one header); a cluster that could not be read is one `error`
/// row with its message.
pub fn render_fleet(clusters: &[(&str, Result<&Report, &str>)], out: &mut impl Write) -> io::Result<()> {
    let mut header: Option<Vec<String>> = None;
    // Each cluster's rows, or its context and why it could not be read.
    type Section<'a> = Result<Vec<Vec<String>>, (&'a str, &'a str)>;
    let mut sections: Vec<Section<'_>> = Vec::new();
    for (context, outcome) in clusters {
        let report = match outcome {
            Ok(report) => report,
            Err(message) => {
                sections.push(Err((context, message)));
                continue;
            }
        };
        let mut text = Vec::new();
        render(report, &mut text)?;
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_slice());
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(io::Error::other)?;
            rows.push(
                std::iter::once((*context).to_string()).chain(record.iter().map(str::to_string)).collect(),
            );
        }
        if !rows.is_empty() {
            let mut first: Vec<String> = rows.remove(0);
            first[0] = "context".to_string();
            header.get_or_insert(first);
        }
        sections.push(Ok(rows));
    }
    let header = header.unwrap_or_else(|| ["context", "row", "kind", "message"].map(str::to_string).to_vec());
    let mut csv = writer(out);
    csv.write_record(&header)?;
    for section in sections {
        match section {
            Ok(rows) => rows.iter().try_for_each(|row| csv.write_record(row))?,
            Err((context, message)) => {
                let mut cells = vec![String::new(); header.len()];
                cells[0] = context.to_string();
                for (name, value) in [("row", "error"), ("kind", "cluster"), ("message", message)] {
                    if let Some(index) = header.iter().position(|h| h == name) {
                        cells[index] = value.to_string();
                    }
                }
                csv.write_record(&cells)?;
            }
        }
    }
    csv.flush()
}

fn cell(value: f64) -> String {
    if value.is_nan() { String::new() } else { format_number(value) }
}

/// A CSV writer over `out` with the project's settings: `,` between fields, `\n` after each
/// record, a field quoted only when it holds a comma, a quote or a line break (quotes doubled, as
/// RFC 4180 says), and every record as long as the first. Call `flush` when done: the writer
/// buffers, and dropping it flushes but loses any error.
///
/// ```
/// let mut out = Vec::new();
/// let mut csv = kubelet_metrics::report::csv::writer(&mut out);
/// csv.write_record(["node", "message"])?;
/// csv.write_record(["n1", "no answer, \"slow\""])?;
/// csv.flush()?;
/// drop(csv);
/// assert_eq!(String::from_utf8(out)?, "node,message\nn1,\"no answer, \"\"slow\"\"\"\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .delimiter(b',')
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .double_quote(true)
        .flexible(false)
        .from_writer(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_report;

    #[test]
    fn rows_for_nodes_cluster_and_errors() {
        let mut out = Vec::new();
        render(&sample_report(), &mut out).unwrap();
        // Numbers as computed in the table test, in full precision.
        insta::assert_snapshot!(String::from_utf8(out).unwrap(), @"
        row,node,group,kubelet_version,count,sum,mean,p0.5,p0.9,p0.99,<=1s,1-5s,5-20s,>20s,approximate,lower_bound,kind,message,fix
        node,n1,,v1.30.2,10,60,6,4,30,30,0.2,0.4,0.18,0.22000000000000003,5-20s >20s,p0.99,,,
        node,n2,,v1.31.1,4,4,1,0.6666666666666666,3.4000000000000004,4.84,0.75,0.25,0,0,5-20s >20s,,,,
        cluster,,,,14,64,4.571428571428571,2.6,26.666666666666664,30,0.35714285714285715,0.35714285714285715,0.12857142857142861,0.15714285714285708,5-20s >20s,p0.99,,,
        error,n3,,,,,,,,,,,,,,,timeout,GET /api/v1/nodes/n3/proxy/metrics: no answer within 10s,raise --timeout
        ");
    }

    #[test]
    fn a_fleet_has_a_context_column_and_a_row_for_a_cluster_that_failed() {
        let report = sample_report();
        let mut out = Vec::new();
        render_fleet(&[("down", Err("cannot list nodes, x")), ("prod", Ok(&report))], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("context,row,node,group,"), "{text}");
        assert!(
            lines[1].starts_with("down,error,") && lines[1].contains(",cluster,\"cannot list nodes, x\","),
            "{text}"
        );
        assert!(lines[2].starts_with("prod,node,n1,,v1.30.2,10,60,6,"), "{text}");
        assert_eq!(lines.len(), 6, "header, the failed cluster, 2 nodes, the cluster row, 1 error: {text}");
    }

    #[test]
    fn fields_are_quoted_when_needed() {
        let mut out = Vec::new();
        let mut csv = writer(&mut out);
        csv.write_record(["a,b", "say \"hi\"", "plain", "two\nlines", "cr\r", ""]).unwrap();
        csv.flush().unwrap();
        drop(csv);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\",plain,\"two\nlines\",\"cr\r\",\n"
        );
    }

    #[test]
    fn no_negative_zero_in_table_or_csv() {
        use crate::analysis::{Query, analyze};
        use crate::scrape::{NodeScrape, Scraped};
        // The only node lacks the metric: `CLUSTER -0` was printed.
        let scrape = NodeScrape { node: "n1".into(), kubelet_version: None, outcome: Ok(Scraped::default()) };
        let report = analyze(&[scrape], &Query::new("x_seconds"));
        let mut table = Vec::new();
        crate::report::table::render(&report, &mut table).unwrap();
        let mut csv = Vec::new();
        render(&report, &mut csv).unwrap();
        for text in [String::from_utf8(table).unwrap(), String::from_utf8(csv).unwrap()] {
            assert!(!text.contains("-0"), "{text}");
        }
        assert_eq!(crate::report::format_count(-0.0), "0");
    }
}
