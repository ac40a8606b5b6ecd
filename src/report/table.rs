//! The `histogram` table: one row per node (and `--by` group), slowest first, then the cluster
//! row(s), then errors, warnings and caveats. Approximate bands carry `~`; a quantile above the
//! highest finite bucket bound carries `≥` (its value is a lower bound); a node marked `*`
//! restarted after the baseline. [`render`] shows count, mean, up to three
//! quantiles and the bands; [`render_wide`] adds the kubelet version, the sum and every
//! requested quantile. Layout and footers are decided here; the numbers come from the report.

use crate::text::{display_width, pad_end, pad_start, wrap};
use std::io::{self, Write};

use crate::analysis::{NodeReport, Report, Stats};
use crate::histogram::{Band, Reset};
use crate::report::problems;
use crate::report::{format_count, format_share, format_value, quantile_header};
use crate::slo::{Objective, Verdict};

/// How many quantile columns the narrow table shows.
const NARROW_QUANTILES: usize = 3;

/// How a table is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOptions {
    /// Every quantile and the kubelet version, sum columns (`-o wide`).
    pub wide: bool,
    /// The header row (`--no-headers` leaves it out).
    pub headers: bool,
}

/// Writes the table: `NODE COUNT MEAN P50 P90 P99 ≤1s 1–5s 5–30s >30s`.
pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    render_with(report, TableOptions { wide: false, headers: true }, out)
}

/// Writes the wide table: `NODE VERSION COUNT SUM MEAN` and every quantile, then the bands.
pub fn render_wide(report: &Report, out: &mut impl Write) -> io::Result<()> {
    render_with(report, TableOptions { wide: true, headers: true }, out)
}

/// Writes the table as `options` say.
pub fn render_with(report: &Report, options: TableOptions, out: &mut impl Write) -> io::Result<()> {
    write_table(report, options, out)
}

/// Which numeric columns a table has.
struct Columns {
    wide: bool,
    quantiles: Vec<f64>,
    bands: Vec<String>,
}

fn write_table(report: &Report, options: TableOptions, out: &mut impl Write) -> io::Result<()> {
    let columns = columns(report, options.wide);
    let mut rows: Vec<Vec<String>> = vec![header(report, &columns)];
    rows.extend(body_rows(report, &columns));
    if !options.headers {
        rows.remove(0);
    }
    write_aligned(&rows, out)?;
    write_footer(report, out)
}

/// Writes one table for several clusters (`--context A --context B`): a `CONTEXT` column first,
/// each cluster's node rows followed by its own cluster row(s), in the order given; then each
/// cluster's errors, warnings and caveats under its context's name. Every report answers the
/// same query, so they share the columns.
pub fn render_fleet(
    clusters: &[(&str, &Report)],
    options: TableOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    let Some((_, first)) = clusters.first() else { return Ok(()) };
    let template = clusters.iter().map(|(_, r)| *r).find(|r| !band_template(r).is_empty()).unwrap_or(first);
    let columns = columns(template, options.wide);
    let mut rows: Vec<Vec<String>> = Vec::new();
    if options.headers {
        let mut cells = vec!["CONTEXT".to_string()];
        cells.extend(header(first, &columns));
        rows.push(cells);
    }
    for (context, report) in clusters {
        for row in body_rows(report, &columns) {
            let mut cells = vec![(*context).to_string()];
            cells.extend(row);
            rows.push(cells);
        }
    }
    write_aligned_left(&rows, 2, out)?;
    for (context, report) in clusters {
        let mut footer = Vec::new();
        write_footer(report, &mut footer)?;
        let footer = String::from_utf8_lossy(&footer);
        if footer.trim().is_empty() {
            continue;
        }
        writeln!(out)?;
        writeln!(out, "{context}:")?;
        for line in footer.lines().skip_while(|l| l.is_empty()) {
            if line.is_empty() { writeln!(out)? } else { writeln!(out, "  {line}")? }
        }
    }
    Ok(())
}

/// An SLO and its verdicts on one report.
pub type Judgement = (Objective, Vec<Verdict>);

/// `histogram`'s report for people: the table, the distribution chart when anything was
/// observed, then one line per SLO verdict.
pub fn render_judged(
    report: &Report,
    options: TableOptions,
    judgement: Option<&Judgement>,
    out: &mut impl Write,
) -> io::Result<()> {
    render_with(report, options, out)?;
    if report.cluster.stats.count > 0.0 {
        writeln!(out)?;
        super::chart::render(report, super::chart::ChartOptions::default(), out)?;
    }
    if let Some((slo, verdicts)) = judgement {
        writeln!(out)?;
        super::slo::write_lines(slo, verdicts, &report.unit, None, out)?;
    }
    Ok(())
}

/// One cluster of several: its report and SLO verdicts, or why it could not be read.
pub type FleetEntry<'a> = (&'a str, Result<(&'a Report, Option<&'a Judgement>), &'a str>);

/// `histogram` over several clusters for people: [`render_fleet`]'s table of the clusters that
/// were read, the clusters that could not be, then each cluster's SLO verdicts after its context.
pub fn render_fleet_judged(
    clusters: &[FleetEntry<'_>],
    options: TableOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    let reports: Vec<(&str, &Report)> =
        clusters.iter().filter_map(|(c, r)| Some((*c, r.as_ref().ok()?.0))).collect();
    render_fleet(&reports, options, out)?;
    let unread: Vec<(&str, &str)> =
        clusters.iter().filter_map(|(c, r)| Some((*c, *r.as_ref().err()?))).collect();
    if !unread.is_empty() {
        writeln!(out)?;
        writeln!(out, "clusters that could not be read ({} of {}):", unread.len(), clusters.len())?;
        for (context, message) in unread {
            writeln!(out, "  {context}: {message}")?;
        }
    }
    let judged: Vec<(&str, &Report, &Judgement)> = clusters
        .iter()
        .filter_map(|(c, r)| Some((*c, r.as_ref().ok()?)))
        .filter_map(|(c, (report, judgement))| Some((c, *report, (*judgement)?)))
        .collect();
    if !judged.is_empty() {
        writeln!(out)?;
    }
    for (context, report, (slo, verdicts)) in judged {
        super::slo::write_lines(slo, verdicts, &report.unit, Some(context), out)?;
    }
    Ok(())
}

/// The numeric columns of a report's table.
fn columns(report: &Report, wide: bool) -> Columns {
    let quantiles: Vec<f64> = if wide {
        report.quantiles.clone()
    } else {
        report.quantiles.iter().copied().take(NARROW_QUANTILES).collect()
    };
    let bands = band_template(report).iter().map(|b| b.display_label(&report.unit)).collect();
    Columns { wide, quantiles, bands }
}

/// The node rows, then the cluster row(s): per `--by` group, then all of them.
fn body_rows(report: &Report, columns: &Columns) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for node in &report.nodes {
        rows.push(node_row(report, node, columns));
    }
    let cluster_label = |suffix: &str| format!("CLUSTER{suffix}");
    if report.by.is_some() {
        for (group, cluster) in &report.groups {
            rows.push(cluster_row(report, &cluster_label(""), Some(group), None, &cluster.stats, columns));
            push_layout_rows(report, cluster, Some(group), columns, &mut rows);
        }
    }
    let all = report.by.as_ref().map(|_| "(all)");
    rows.push(cluster_row(report, &cluster_label(""), all, None, &report.cluster.stats, columns));
    push_layout_rows(report, &report.cluster, all, columns, &mut rows);
    rows
}

fn push_layout_rows(
    report: &Report,
    cluster: &crate::analysis::ClusterReport,
    group: Option<&str>,
    columns: &Columns,
    rows: &mut Vec<Vec<String>>,
) {
    if cluster.layouts.len() < 2 {
        return;
    }
    for (index, layout) in cluster.layouts.iter().enumerate() {
        let label = format!("CLUSTER[{}]", index + 1);
        rows.push(cluster_row(report, &label, group, None, &layout.stats, columns));
    }
}

/// The bands every row shares (the first row with bands; rows of another layout have the same
/// edges, so the same labels).
fn band_template(report: &Report) -> Vec<Band> {
    report
        .nodes
        .iter()
        .map(|n| &n.stats.bands)
        .chain(report.cluster.layouts.iter().map(|l| &l.stats.bands))
        .find(|bands| !bands.is_empty())
        .cloned()
        .unwrap_or_default()
}

fn header(report: &Report, columns: &Columns) -> Vec<String> {
    let mut cells = vec!["NODE".to_string()];
    if let Some(by) = &report.by {
        cells.push(by.to_uppercase());
    }
    if columns.wide {
        cells.push("VERSION".to_string());
    }
    cells.push("COUNT".to_string());
    if columns.wide {
        cells.push("SUM".to_string());
    }
    cells.push("MEAN".to_string());
    cells.extend(columns.quantiles.iter().map(|q| quantile_header(*q)));
    cells.extend(columns.bands.iter().cloned());
    cells
}

fn node_row(report: &Report, node: &NodeReport, columns: &Columns) -> Vec<String> {
    let marker = match node.reset {
        Some(Reset::CountersDecreased | Reset::LayoutChanged) => "*",
        None => "",
    };
    let name = format!("{}{marker}", node.node);
    let version = node.kubelet_version.as_deref().unwrap_or("-");
    cluster_row(report, &name, node.group.as_deref(), Some(version), &node.stats, columns)
}

fn cluster_row(
    report: &Report,
    name: &str,
    group: Option<&str>,
    version: Option<&str>,
    stats: &Stats,
    columns: &Columns,
) -> Vec<String> {
    let mut cells = vec![name.to_string()];
    if report.by.is_some() {
        cells.push(match group {
            Some("") => "\"\"".to_string(),
            Some(group) => group.to_string(),
            None => "-".to_string(),
        });
    }
    if columns.wide {
        cells.push(version.unwrap_or("-").to_string());
    }
    cells.push(format_count(stats.count));
    if columns.wide {
        cells.push(format_value(stats.sum, &report.unit));
    }
    cells.push(format_value(stats.mean, &report.unit));
    for q in &columns.quantiles {
        // A rank in the +Inf bucket: PromQL's answer is the highest finite bound, a lower bound.
        let at_least = if stats.is_lower_bound(*q) { "≥" } else { "" };
        cells.push(
            stats
                .quantile(*q)
                .map_or_else(|| "-".to_string(), |v| format!("{at_least}{}", format_value(v, &report.unit))),
        );
    }
    for index in 0..columns.bands.len() {
        cells.push(stats.bands.get(index).map_or_else(|| "-".to_string(), format_share));
    }
    cells
}

/// Writes rows with columns separated by two spaces: the first column left-aligned, the
/// others right-aligned; no trailing spaces.
fn write_aligned(rows: &[Vec<String>], out: &mut impl Write) -> io::Result<()> {
    write_aligned_left(rows, 1, out)
}

/// [`write_aligned`] with the first `left` columns left-aligned (names), the rest right-aligned.
fn write_aligned_left(rows: &[Vec<String>], left: usize, out: &mut impl Write) -> io::Result<()> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|cell| display_width(cell)).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            let width = widths[index];
            if index == 0 {
                line.push_str(&pad_end(cell, width));
            } else if index < left {
                line.push_str("  ");
                line.push_str(&pad_end(cell, width));
            } else {
                line.push_str("  ");
                line.push_str(&pad_start(cell, width));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn write_footer(report: &Report, out: &mut impl Write) -> io::Result<()> {
    if report.delta {
        writeln!(out)?;
        writeln!(out, "numbers are changes since the baseline")?;
        if report.nodes.iter().any(|n| n.reset.is_some()) {
            writeln!(out, "* the kubelet restarted after the baseline: counted since the restart")?;
        }
    }
    if !report.errors.is_empty() {
        writeln!(out)?;
        writeln!(out, "errors ({} of {} nodes):", report.failed_nodes().len(), report.node_count())?;
        let items = report.errors.iter().map(|error| problems::Item {
            node: &error.node,
            kind: error.kind.as_str(),
            message: &error.message,
            fix: error.fix.as_deref(),
        });
        for group in problems::group(items) {
            let mut item = match group.nodes.as_slice() {
                [node] => format!("{node}: {}: {}", group.kind, group.message),
                _ => format!("{}: {}", problems::subject(&group), group.message),
            };
            if let Some(fix) = &group.fix {
                item.push_str(&format!(" (fix: {fix})"));
            }
            out.write_all(wrap(&item, "  ", "    ").as_bytes())?;
        }
    }
    if !report.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "warnings:")?;
        for warning in &report.warnings {
            let item = match &warning.node {
                Some(node) => format!("{node}: {}", warning.message),
                None => warning.message.clone(),
            };
            out.write_all(wrap(&item, "  ", "    ").as_bytes())?;
        }
    }
    if !report.caveats.is_empty() {
        writeln!(out)?;
        writeln!(out, "caveats ({}):", report.metric)?;
        for caveat in &report.caveats {
            let versions = if caveat.versions.is_empty() {
                String::new()
            } else {
                format!(" [kubelet {}]", caveat.versions.join(", "))
            };
            let item = format!("{}{versions} ({})", caveat.text, caveat.reference);
            out.write_all(wrap(&item, "  - ", "    ").as_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_report;

    fn rendered(render: fn(&Report, &mut Vec<u8>) -> io::Result<()>, report: &Report) -> String {
        let mut out = Vec::new();
        render(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_fleet_table_has_a_context_column_and_a_cluster_line_per_cluster() {
        let report = sample_report();
        let mut out = Vec::new();
        let options = TableOptions { wide: false, headers: true };
        render_fleet(&[("eu", &report), ("us-east", &report)], options, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("CONTEXT  NODE     COUNT"), "{text}");
        assert!(lines[1].starts_with("eu       n1"), "{text}");
        let clusters: Vec<&str> = lines.iter().copied().filter(|l| l.contains(" CLUSTER ")).collect();
        assert_eq!(clusters.len(), 2, "{text}");
        assert!(clusters[1].starts_with("us-east  CLUSTER"), "{text}");
        // Each cluster's errors under its name.
        assert!(text.contains("\neu:\n  errors (1 of 3 nodes):\n    n3: timeout: "), "{text}");
        assert!(text.contains("\nus-east:\n  errors (1 of 3 nodes):"), "{text}");
    }

    #[test]
    fn table_rows_slowest_first_with_cluster_errors_and_caveats() {
        // Buckets le = 1, 5, 30, +Inf. n1: 2, 6, 9, 10 (sum 60); n2: 3, 4, 4, 4 (sum 4).
        // n1: mean 60/10 = 6; p50 rank 5 in (1,5]: 1 + 4 × 3/4 = 4; p90 rank 9 in (5,30]:
        //     5 + 25 × 3/3 = 30; p99 rank 9.9 in +Inf → 30, a lower bound (≥). Bands 2, 4, then 20 s is not a
        //     bound: F(20) = 6 + 3 × 15/25 = 7.8 → 1.8 (18 %) and 10 − 7.8 = 2.2 (22 %), both ~.
        // n2: mean 1; p50 rank 2 in (0,1]: 2/3 = 0.667; p90 rank 3.6: 1 + 4 × 0.6 = 3.4;
        //     p99 rank 3.96: 1 + 4 × 0.96 = 4.84. Bands 75 %, 25 %, ~0 %, ~0 %.
        // Cluster 5, 10, 13, 14 (sum 64): mean 4.571; p50 rank 7: 1 + 4 × 2/5 = 2.6; p90 rank
        //     12.6: 5 + 25 × 2.6/3 = 26.67; p99 → ≥30. F(20) = 10 + 3 × 0.6 = 11.8: 5/14 = 35.7 %,
        //     35.7 %, 1.8/14 = 12.9 %, 2.2/14 = 15.7 %.
        insta::assert_snapshot!(rendered(render, &sample_report()), @"
        NODE     COUNT   MEAN     P50     P90      P99    ≤1s   1–5s   5–20s    >20s
        n1          10  6.00s   4.00s  30.00s  ≥30.00s  20.0%  40.0%  ~18.0%  ~22.0%
        n2           4  1.00s  0.667s   3.40s    4.84s  75.0%  25.0%   ~0.0%   ~0.0%
        CLUSTER     14  4.57s   2.60s  26.67s  ≥30.00s  35.7%  35.7%  ~12.9%  ~15.7%

        errors (1 of 3 nodes):
          n3: timeout: GET /api/v1/nodes/n3/proxy/metrics: no answer within 10s (fix: raise --timeout)

        caveats (kubelet_pod_start_sli_duration_seconds):
          - this is the pod-startup SLO metric: the Kubernetes SLO is p99 <= 5s over stateless pods with
            pre-pulled images (image pulls are excluded) [kubelet v1.30.2, v1.31.1]
            (https://github.com/kubernetes/community/blob/master/sig-scalability/slos/pod_startup_latency.md)
          - can record negative durations (seen as a negative `_sum` on AKS) when images are pulled in
            parallel (serializeImagePulls=false), which drags the mean and low quantiles down (also
            kubernetes#114903); the 1.36 rework of the SLI (PR 131950) stops subtracting pull time [kubelet
            v1.30.2, v1.31.1] (https://github.com/kubernetes/kubernetes/issues/130432)
        ");
    }

    #[test]
    fn wide_table_adds_version_and_sum() {
        insta::assert_snapshot!(rendered(render_wide, &sample_report()), @"
        NODE     VERSION  COUNT     SUM   MEAN     P50     P90      P99    ≤1s   1–5s   5–20s    >20s
        n1       v1.30.2     10  60.00s  6.00s   4.00s  30.00s  ≥30.00s  20.0%  40.0%  ~18.0%  ~22.0%
        n2       v1.31.1      4   4.00s  1.00s  0.667s   3.40s    4.84s  75.0%  25.0%   ~0.0%   ~0.0%
        CLUSTER        -     14  64.00s  4.57s   2.60s  26.67s  ≥30.00s  35.7%  35.7%  ~12.9%  ~15.7%

        errors (1 of 3 nodes):
          n3: timeout: GET /api/v1/nodes/n3/proxy/metrics: no answer within 10s (fix: raise --timeout)

        caveats (kubelet_pod_start_sli_duration_seconds):
          - this is the pod-startup SLO metric: the Kubernetes SLO is p99 <= 5s over stateless pods with
            pre-pulled images (image pulls are excluded) [kubelet v1.30.2, v1.31.1]
            (https://github.com/kubernetes/community/blob/master/sig-scalability/slos/pod_startup_latency.md)
          - can record negative durations (seen as a negative `_sum` on AKS) when images are pulled in
            parallel (serializeImagePulls=false), which drags the mean and low quantiles down (also
            kubernetes#114903); the 1.36 rework of the SLI (PR 131950) stops subtracting pull time [kubelet
            v1.30.2, v1.31.1] (https://github.com/kubernetes/kubernetes/issues/130432)
        ");
    }

    #[test]
    fn narrow_table_shows_three_quantiles_wide_shows_all() {
        let mut report = sample_report();
        for node in &mut report.nodes {
            node.stats.quantiles.push((0.999, 1.0));
        }
        report.quantiles.push(0.999);
        assert!(!rendered(render, &report).contains("P99.9"));
        assert!(rendered(render_wide, &report).lines().next().unwrap().contains("P99.9"));
    }

    /// `--by operation_type` against a baseline: node a restarted (its pull counts went down),
    /// node b has another bucket layout and no baseline.
    fn by_report() -> Report {
        use crate::analysis::{Query, analyze};
        use crate::exposition::{Family, MetricKind, Sample};
        use crate::scrape::{NodeScrape, Scraped};

        let series = |op: &str, buckets: &[(&str, f64)], sum: f64| -> Vec<Sample> {
            let sample = |suffix: &str, le: Option<&str>, value: f64| Sample {
                name: format!("op_seconds{suffix}").into(),
                labels: std::iter::once(("operation_type".to_string(), op.to_string()))
                    .chain(le.map(|le| ("le".to_string(), le.to_string())))
                    .collect(),
                value,
                timestamp_ms: None,
            };
            let mut samples: Vec<Sample> =
                buckets.iter().map(|(le, count)| sample("_bucket", Some(le), *count)).collect();
            samples.push(sample("_sum", None, sum));
            samples
        };
        let node = |name: &str, samples: Vec<Sample>| NodeScrape {
            node: name.to_string(),
            kubelet_version: Some("v1.30.0".to_string()),
            outcome: Ok(Scraped {
                families: vec![Family {
                    name: "op_seconds".to_string(),
                    help: String::new(),
                    kind: MetricKind::Histogram,
                    unit: String::new(),
                    samples,
                }],
                ..Scraped::default()
            }),
        };
        let a = [
            series("pull", &[("1", 1.0), ("+Inf", 2.0)], 5.0),
            series("sync", &[("1", 3.0), ("+Inf", 3.0)], 1.0),
        ];
        let b = series("pull", &[("2", 1.0), ("+Inf", 1.0)], 1.5);
        let mut query = Query::new("op_seconds");
        query.by = Some("operation_type".to_string());
        query.baseline = Some(vec![node("a", series("pull", &[("1", 2.0), ("+Inf", 3.0)], 9.0))]);
        analyze(&[node("a", a.concat()), node("b", b)], &query)
    }

    #[test]
    fn by_groups_layout_groups_and_restarts() {
        // a/pull restarted (3 → 2 observations): its current buckets are the delta: 1 ≤ 1 s, 1
        //   above; mean 5/2; p50 rank 1 → 1; p90 and p99 ranks lie above 1 s → ≥1. Edge 5 s is
        //   above the largest bound (1 s), so the observation above 1 s counts as >30 s (~).
        // a/sync had no baseline series, so all of it is new: 3 ≤ 1 s, mean 1/3; p50 rank 1.5
        //   → 0.5; p90 2.7 → 0.9; p99 2.97 → 0.99.
        // b/pull (le 2, no baseline): 1 observation; ≤1 s interpolates 1 × 1/2 (~50 %);
        //   p50 0.5 × 2 = 1; p90 1.8; p99 1.98 — the slowest row.
        // Cluster pull: two layouts, so count 3, mean 6.5/3 = 2.17 and per-layout rows.
        // Cluster (all): a/pull + a/sync share le 1: 4 ≤ 1 of 5, sum 6: p50 rank 2.5 → 0.625.
        insta::assert_snapshot!(rendered(render, &by_report()), @r#"
        NODE        OPERATION_TYPE  COUNT    MEAN     P50     P90     P99     ≤1s    1–5s  5–30s    >30s
        b                     pull      1   1.50s   1.00s   1.80s   1.98s  ~50.0%  ~50.0%  ~0.0%   ~0.0%
        a*                    pull      2   2.50s   1.00s  ≥1.00s  ≥1.00s   50.0%   ~0.0%  ~0.0%  ~50.0%
        a                     sync      3  0.333s    0.5s    0.9s   0.99s  100.0%   ~0.0%  ~0.0%   ~0.0%
        CLUSTER               pull      3   2.17s       -       -       -       -       -      -       -
        CLUSTER[1]            pull      2   2.50s   1.00s  ≥1.00s  ≥1.00s   50.0%   ~0.0%  ~0.0%  ~50.0%
        CLUSTER[2]            pull      1   1.50s   1.00s   1.80s   1.98s  ~50.0%  ~50.0%  ~0.0%   ~0.0%
        CLUSTER               sync      3  0.333s    0.5s    0.9s   0.99s  100.0%   ~0.0%  ~0.0%   ~0.0%
        CLUSTER              (all)      6   1.25s       -       -       -       -       -      -       -
        CLUSTER[1]           (all)      5   1.20s  0.625s  ≥1.00s  ≥1.00s   80.0%   ~0.0%  ~0.0%  ~20.0%
        CLUSTER[2]           (all)      1   1.50s   1.00s   1.80s   1.98s  ~50.0%  ~50.0%  ~0.0%   ~0.0%

        numbers are changes since the baseline
        * the kubelet restarted after the baseline: counted since the restart

        warnings:
          bucket layouts differ across nodes (operation_type="pull"), so the cluster line has count, sum and
            mean only; quantiles and bands are per layout: 1 bucket(s) up to 1: a/pull; 1 bucket(s) up to 2:
            b/pull
          bucket layouts differ across nodes, so the cluster line has count, sum and mean only; quantiles
            and bands are per layout: 1 bucket(s) up to 1: a/pull, a/sync; 1 bucket(s) up to 2: b/pull
          a: operation_type="pull": counts went down since the baseline: the kubelet restarted, so these are
            the observations since the restart
          b: no usable baseline for this node: showing every observation since the kubelet started
        "#);
    }
}
