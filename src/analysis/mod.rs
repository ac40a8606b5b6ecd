//! Node scrapes → a per-node and cluster-wide report, with the warnings and caveats that apply.
//! Pure: it takes what the nodes gave ([`NodeScrape`]) and a [`Query`], and returns a [`Report`]
//! that the renderers in [`crate::report`] turn into bytes. The histogram arithmetic lives in
//! [`crate::histogram`]; what each metric means lives in [`crate::catalog`].
//!
//! Decisions:
//! - A quantile whose rank lies in the `+Inf` bucket keeps PromQL's value (the highest finite
//!   bound) and is listed in [`Stats::lower_bounds`], so renderers can show it as `≥`.
//! - Rows (one per node, or per node and `--by` value) are sorted slowest first: by p99
//!   descending, then mean descending, then node name and group ascending. p99 is used even when
//!   it was not requested, so the order does not depend on `--quantiles`; NaN sorts last.
//! - Without `--by`, all series of a node are summed by `le` (PromQL `sum by (le)`).
//! - The cluster line merges every row by `le`. When bucket layouts differ, it carries only
//!   count, sum and mean; quantiles, bands and buckets are given per layout group
//!   ([`ClusterReport::layouts`]) and a warning names the groups.
//! - A node whose payload lacks the metric is a [`FailureKind::Missing`](crate::scrape::FailureKind::Missing) error naming it; a node
//!   whose series are all unusable (no `+Inf` bucket, bad `le`) is a
//!   [`FailureKind::Parse`](crate::scrape::FailureKind::Parse) error; an unusable series next to usable ones, decreasing bucket counts, a negative `_sum`
//!   and a counter reset since the baseline are warnings.
//!
//! [`analyze`] is a pipeline of named steps, each deciding one thing: `band_edges` →
//! `read_nodes` (per-node histograms, or a [`NodeError`]) and `baseline_histograms` →
//! `node_rows` (each node's rows since the baseline, with their warnings) →
//! `sort_slowest_first` → the cluster line and `group_lines` → `applicable_caveats` →
//! `sort_findings`. The query lives in `query.rs`, the report types in `report.rs`, reading one
//! node's payload in `node.rs` and merging rows into a cluster line in `cluster_line.rs`;
//! everything public is re-exported here, so every path stays `crate::analysis::…`.

pub mod breakdown;
mod cluster_line;
mod node;
mod query;
mod report;

pub(crate) use node::build_version;
pub use query::{Query, QueryError};
pub use report::{ClusterReport, LayoutReport, NodeError, NodeReport, Report, Stats, Warning};

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::catalog::{self, Caveat};
use crate::histogram::{Histogram, Reset, format_number};
use crate::scrape::NodeScrape;
use cluster_line::cluster_line;
use node::{node_error, node_histograms, with_version_hint};

/// A node that answered with the metric.
struct NodeHistograms<'a> {
    /// The node name.
    node: &'a str,
    /// From the source, else the payload's `kubernetes_build_info`.
    kubelet_version: Option<String>,
    /// By `--by` value (`""` without `--by`).
    histograms: BTreeMap<String, Histogram>,
}

/// What each node had at the baseline: node name → `--by` value → histogram.
type Baseline = BTreeMap<String, BTreeMap<String, Histogram>>;

/// Analyses `query.metric` across `scrapes`; see the module docs for the decisions it makes.
///
/// ```
/// use kubelet_metrics::analysis::{analyze, Query};
/// use kubelet_metrics::scrape::{NodeScrape, Scraped};
/// let scrapes = vec![NodeScrape { node: "n1".into(), kubelet_version: None, outcome: Ok(Scraped::default()) }];
/// let report = analyze(&scrapes, &Query::new("kubelet_pod_start_duration_seconds"));
/// assert_eq!(report.errors[0].kind.as_str(), "missing");
/// ```
pub fn analyze(scrapes: &[NodeScrape], query: &Query) -> Report {
    let edges = band_edges(&query.bands);
    let mut warnings: Vec<Warning> = Vec::new();
    let baseline = query.baseline.as_deref().map(|before| baseline_histograms(before, query));
    let (nodes, mut errors) = read_nodes(scrapes, query, &mut warnings);
    let mut rows: Vec<NodeReport> = Vec::new();
    for node in &nodes {
        rows.extend(node_rows(node, baseline.as_ref(), query, &edges, &mut warnings));
    }
    sort_slowest_first(&mut rows);
    let cluster = cluster_line(rows.iter(), query, &edges, &mut warnings, None);
    let groups = group_lines(&rows, query, &edges, &mut warnings);
    let caveats = applicable_caveats(&query.metric, &rows);
    sort_findings(&mut errors, &mut warnings);
    Report {
        metric: query.metric.clone(),
        method: query.method,
        unit: if query.metric.ends_with("_seconds") { "s".to_string() } else { String::new() },
        quantiles: query.quantiles.clone(),
        band_edges: edges,
        by: query.by.clone(),
        delta: query.baseline.is_some(),
        nodes: rows,
        cluster,
        groups,
        errors,
        warnings,
        caveats,
        hidden: Vec::new(),
    }
}

/// The band edges in use: the query's finite edges, sorted, each once.
fn band_edges(bands: &[f64]) -> Vec<f64> {
    let mut edges: Vec<f64> = bands.iter().copied().filter(|e| e.is_finite()).collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    edges
}

/// What each node had at the baseline; a node whose baseline scrape failed or has no usable
/// series is left out (its rows then count from the kubelet's start), and the baseline's own
/// problems are not warned about.
fn baseline_histograms(scrapes: &[NodeScrape], query: &Query) -> Baseline {
    scrapes
        .iter()
        .filter_map(|scrape| {
            let families = scrape.outcome.as_ref().ok()?;
            let histograms =
                node_histograms(&scrape.node, &families.families, query, &mut Vec::new()).ok()?;
            Some((scrape.node.clone(), histograms))
        })
        .collect()
}

/// Per-node histograms: a node that failed, lacks the metric or has no usable series becomes a
/// [`NodeError`] (with a version hint for a missing metric); every other node keeps its
/// histograms and kubelet version. The scrape's own warnings are passed on.
fn read_nodes<'a>(
    scrapes: &'a [NodeScrape],
    query: &Query,
    warnings: &mut Vec<Warning>,
) -> (Vec<NodeHistograms<'a>>, Vec<NodeError>) {
    let mut nodes = Vec::new();
    let mut errors = Vec::new();
    for scrape in scrapes {
        let scraped = match &scrape.outcome {
            Ok(scraped) => scraped,
            Err(failure) => {
                errors.push(node_error(&scrape.node, failure));
                continue;
            }
        };
        for message in &scraped.warnings {
            warnings.push(Warning { node: Some(scrape.node.clone()), message: message.clone() });
        }
        let kubelet_version = scrape.kubelet_version.clone().or_else(|| build_version(&scraped.families));
        match node_histograms(&scrape.node, &scraped.families, query, warnings) {
            Ok(histograms) => nodes.push(NodeHistograms { node: &scrape.node, kubelet_version, histograms }),
            Err(error) => errors.push(with_version_hint(error, &query.metric, kubelet_version.as_deref())),
        }
    }
    (nodes, errors)
}

/// One node's rows, one per `--by` value: what was observed since the baseline (everything, for
/// a series the baseline lacks; since the restart, after a reset) and its numbers. Warns when
/// the node has no usable baseline.
fn node_rows(
    node: &NodeHistograms,
    baseline: Option<&Baseline>,
    query: &Query,
    edges: &[f64],
    warnings: &mut Vec<Warning>,
) -> Vec<NodeReport> {
    let node_baseline = match baseline {
        None => None,
        Some(all) => {
            let found = all.get(node.node);
            if found.is_none() {
                warnings.push(Warning {
                    node: Some(node.node.to_string()),
                    message: "no usable baseline for this node: showing every observation since the kubelet started"
                        .to_string(),
                });
            }
            found
        }
    };
    let by = query.by.as_deref();
    let mut rows = Vec::new();
    for (group, histogram) in &node.histograms {
        let (histogram, reset) = match node_baseline.and_then(|base| base.get(group)) {
            // No baseline, or a series that did not exist at the baseline: it started from zero.
            None => (histogram.clone(), None),
            Some(before) => {
                let delta = histogram.delta(before);
                (delta.histogram, delta.reset)
            }
        };
        // Warnings carry the node; with --by they also name the group.
        let row_name = by.map(|label| format!("{label}={group:?}: ")).unwrap_or_default();
        row_warnings(node.node, &row_name, &histogram, reset, warnings);
        rows.push(NodeReport {
            node: node.node.to_string(),
            group: by.map(|_| group.clone()),
            kubelet_version: node.kubelet_version.clone(),
            stats: Stats::of(&histogram, &query.quantiles, edges),
            reset,
            p99: histogram.quantile(0.99),
        });
    }
    rows
}

/// What makes a row's numbers suspect, as warnings: a counter reset since the baseline, bucket
/// counts that decrease as `le` grows (repaired), a negative `_sum` (a meaningless mean).
fn row_warnings(
    node: &str,
    row_name: &str,
    histogram: &Histogram,
    reset: Option<Reset>,
    warnings: &mut Vec<Warning>,
) {
    if let Some(reset) = reset {
        let why = match reset {
            Reset::CountersDecreased => "counts went down since the baseline",
            Reset::LayoutChanged => "the bucket layout changed since the baseline",
        };
        warnings.push(Warning {
            node: Some(node.to_string()),
            message: format!(
                "{row_name}{why}: the kubelet restarted, so these are the observations since the restart"
            ),
        });
    }
    if !histogram.is_monotonic() {
        warnings.push(Warning {
            node: Some(node.to_string()),
            message: format!(
                "{row_name}bucket counts decrease as `le` grows; repaired as Prometheus does (each count raised to the largest count below it)"
            ),
        });
    }
    if histogram.sum() < 0.0 {
        warnings.push(Warning {
            node: Some(node.to_string()),
            message: format!(
                "{row_name}`_sum` is negative ({}): the kubelet recorded negative durations, so the mean is not meaningful",
                format_number(histogram.sum())
            ),
        });
    }
}

/// Orders rows slowest first: p99 descending, then mean descending (NaN after every number),
/// then node name and group ascending.
fn sort_slowest_first(rows: &mut [NodeReport]) {
    rows.sort_by(|a, b| {
        descending_nan_last(a.p99, b.p99)
            .then_with(|| descending_nan_last(a.stats.mean, b.stats.mean))
            .then_with(|| a.node.cmp(&b.node))
            .then_with(|| a.group.cmp(&b.group))
    });
}

/// Descending order with NaN after every number.
fn descending_nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => b.total_cmp(&a),
    }
}

/// With `--by`: one cluster line per label value, over that value's rows; none without `--by`.
fn group_lines(
    rows: &[NodeReport],
    query: &Query,
    edges: &[f64],
    warnings: &mut Vec<Warning>,
) -> BTreeMap<String, ClusterReport> {
    let mut groups = BTreeMap::new();
    if query.by.is_some() {
        let mut names: Vec<String> = rows.iter().filter_map(|r| r.group.clone()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let members = rows.iter().filter(|r| r.group.as_deref() == Some(name.as_str()));
            groups.insert(name.clone(), cluster_line(members, query, edges, warnings, Some(&name)));
        }
    }
    groups
}

/// The catalogue's caveats for `metric` on the rows that answered (`unknown` when a node's
/// version is not known): version-bound defects follow the versions, the short-buckets defect
/// follows the bucket layouts actually seen.
fn applicable_caveats(metric: &str, rows: &[NodeReport]) -> Vec<Caveat> {
    let nodes: Vec<(&str, Option<f64>)> = rows
        .iter()
        .map(|row| {
            let largest = row.stats.buckets.iter().rev().map(|b| b.le).find(|le| le.is_finite());
            (row.kubelet_version.as_deref().unwrap_or("unknown"), largest)
        })
        .collect();
    catalog::caveats_for(metric, &nodes)
}

/// Errors by node name (stable, so one node's errors keep their order); warnings sorted, each
/// once.
fn sort_findings(errors: &mut [NodeError], warnings: &mut Vec<Warning>) {
    errors.sort_by(|a, b| a.node.cmp(&b.node));
    warnings.sort();
    warnings.dedup();
}

#[cfg(test)]
mod tests;
