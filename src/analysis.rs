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
//! - A node whose payload lacks the metric is a [`FailureKind::Missing`] error naming it; a node
//!   whose series are all unusable (no `+Inf` bucket, bad `le`) is a [`FailureKind::Parse`]
//!   error; an unusable series next to usable ones, decreasing bucket counts, a negative `_sum`
//!   and a counter reset since the baseline are warnings.

use std::collections::BTreeMap;

use crate::catalog::{self, Caveat};
use crate::exposition::{Family, MetricKind, Sample};
use crate::histogram::{self, Band, Bucket, Histogram, Reset, format_bounds, format_number};
use crate::scrape::{Failure, FailureKind, NodeScrape};

/// What to analyse. Built from `histogram`'s flags by the command; knows nothing of clap.
#[derive(Debug, Clone)]
pub struct Query {
    /// The histogram family, e.g. `kubelet_pod_start_duration_seconds`.
    pub metric: String,
    /// How the metrics were fetched (`proxy`, `direct`, `file`, ...), echoed in the report.
    pub method: String,
    /// Quantiles to estimate, each in [0, 1].
    pub quantiles: Vec<f64>,
    /// Band edges, increasing: `1, 5, 30` → ≤1, 1–5, 5–30, >30.
    pub bands: Vec<f64>,
    /// Split each node's series by this label.
    pub by: Option<String>,
    /// Earlier scrapes of the same nodes; when set, the report shows what changed since.
    pub baseline: Option<Vec<NodeScrape>>,
}

/// A query that cannot be answered as given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// A quantile outside [0, 1] (or NaN).
    #[error("quantile {0} is outside [0, 1]")]
    Quantile(f64),
    /// A band edge that is not a finite number.
    #[error("band edge {0} is not a finite number")]
    BandEdge(f64),
    /// Band edges that do not increase.
    #[error("band edges must increase: {0}")]
    BandOrder(String),
}

impl Query {
    /// A query for `metric` with the command's defaults: quantiles 0.5, 0.9, 0.99; bands 1, 5,
    /// 30; no `--by`; no baseline; method `file`.
    pub fn new(metric: impl Into<String>) -> Query {
        Query {
            metric: metric.into(),
            method: "file".to_string(),
            quantiles: vec![0.5, 0.9, 0.99],
            bands: vec![1.0, 5.0, 30.0],
            by: None,
            baseline: None,
        }
    }

    /// Checks quantiles and band edges; [`analyze`] assumes a valid query.
    ///
    /// ```
    /// use kubelet_metrics::analysis::Query;
    /// assert!(Query::new("x").validate().is_ok());
    /// let mut q = Query::new("x");
    /// q.bands = vec![5.0, 1.0];
    /// assert!(q.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), QueryError> {
        if let Some(q) = self.quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return Err(QueryError::Quantile(*q));
        }
        if let Some(edge) = self.bands.iter().find(|e| !e.is_finite()) {
            return Err(QueryError::BandEdge(*edge));
        }
        if self.bands.windows(2).any(|w| w[0] >= w[1]) {
            return Err(QueryError::BandOrder(format_bounds(&self.bands)));
        }
        Ok(())
    }
}

/// The numbers for one histogram (a node, a node's `--by` group, or a cluster line).
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// `sum / count` (NaN without observations).
    pub mean: f64,
    /// `(q, value)` for every requested quantile, in the order requested.
    pub quantiles: Vec<(f64, f64)>,
    /// One band per interval between the edges.
    pub bands: Vec<Band>,
    /// The cumulative buckets, the last one `+Inf`.
    pub buckets: Vec<Bucket>,
    /// The requested quantiles whose rank lies in the `+Inf` bucket: their value (the highest
    /// finite bound, as PromQL answers) is only a lower bound.
    pub lower_bounds: Vec<f64>,
}

impl Stats {
    /// Computes every number the report shows for `histogram`.
    pub fn of(histogram: &Histogram, quantiles: &[f64], edges: &[f64]) -> Stats {
        Stats {
            count: histogram.count(),
            sum: histogram.sum(),
            mean: histogram.mean(),
            quantiles: quantiles.iter().map(|q| (*q, histogram.quantile(*q))).collect(),
            bands: histogram.bands(edges),
            buckets: histogram.buckets().to_vec(),
            lower_bounds: quantiles
                .iter()
                .copied()
                .filter(|q| histogram.quantile_beyond_bounds(*q))
                .collect(),
        }
    }

    /// True when quantile `q`'s value is only a lower bound (see `lower_bounds`).
    pub fn is_lower_bound(&self, q: f64) -> bool {
        self.lower_bounds.contains(&q)
    }

    /// The value of quantile `q`, if it was requested.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantiles.iter().find(|(requested, _)| *requested == q).map(|(_, value)| *value)
    }
}

/// One row of the report: a node, or one `--by` group of a node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReport {
    /// The node name.
    pub node: String,
    /// The value of the `--by` label (`""` when a series lacks it); `None` without `--by`.
    pub group: Option<String>,
    /// The kubelet version, from the source or the payload's `kubernetes_build_info`.
    pub kubelet_version: Option<String>,
    /// The numbers (since the baseline, when there is one).
    pub stats: Stats,
    /// Set when the counters were reset after the baseline (the numbers are since the restart).
    pub reset: Option<Reset>,
    /// p99, kept for ordering even when not requested.
    pub p99: f64,
}

impl NodeReport {
    /// `node` or `node/group`: how the row is named in warnings and layout groups.
    pub fn name(&self) -> String {
        match &self.group {
            Some(group) => format!("{}/{}", self.node, group),
            None => self.node.clone(),
        }
    }
}

/// Rows that share a bucket layout, merged.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutReport {
    /// The shared finite bounds.
    pub bounds: Vec<f64>,
    /// The rows in the group (`node` or `node/group`), in report order.
    pub members: Vec<String>,
    /// Their merged numbers.
    pub stats: Stats,
}

/// The cluster-wide line: every row merged by `le`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterReport {
    /// Count, sum and mean over every row; quantiles, bands and buckets only when every row
    /// has the same layout (else empty: see `layouts`).
    pub stats: Stats,
    /// One entry per bucket layout, largest first; a single entry when layouts agree.
    pub layouts: Vec<LayoutReport>,
}

/// A node that gave nothing usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeError {
    /// The node name.
    pub node: String,
    /// The class of failure.
    pub kind: FailureKind,
    /// What happened.
    pub message: String,
    /// What to try.
    pub fix: Option<String>,
}

/// Something the reader should know that did not stop the analysis.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// The node it concerns, if one.
    pub node: Option<String>,
    /// What happened and what it means for the numbers.
    pub message: String,
}

/// The analysis of one histogram across nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The family analysed.
    pub metric: String,
    /// How the metrics were fetched (from the query).
    pub method: String,
    /// `s` for `*_seconds` metrics, else empty: appended to band labels and durations.
    pub unit: String,
    /// The requested quantiles.
    pub quantiles: Vec<f64>,
    /// The band edges.
    pub band_edges: Vec<f64>,
    /// The `--by` label.
    pub by: Option<String>,
    /// True when the numbers are deltas against a baseline.
    pub delta: bool,
    /// One row per node (and `--by` group), slowest first.
    pub nodes: Vec<NodeReport>,
    /// Every row merged.
    pub cluster: ClusterReport,
    /// With `--by`: the cluster line of each group, by label value.
    pub groups: BTreeMap<String, ClusterReport>,
    /// Nodes that gave nothing usable, sorted by node name.
    pub errors: Vec<NodeError>,
    /// Non-fatal problems, sorted.
    pub warnings: Vec<Warning>,
    /// Known defects of the metric on these kubelet versions.
    pub caveats: Vec<Caveat>,
}

impl Report {
    /// The number of nodes asked about (answered or not).
    pub fn node_count(&self) -> usize {
        let mut names: Vec<&str> = self
            .nodes
            .iter()
            .map(|n| n.node.as_str())
            .chain(self.errors.iter().map(|e| e.node.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    }
}

/// One node's histograms by `--by` value (`""` without `--by`), or why there are none.
type NodeHistograms = Result<BTreeMap<String, Histogram>, NodeError>;

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
    let by = query.by.as_deref();
    let mut edges: Vec<f64> = query.bands.iter().copied().filter(|e| e.is_finite()).collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    let mut warnings: Vec<Warning> = Vec::new();
    let mut errors: Vec<NodeError> = Vec::new();
    let mut rows: Vec<NodeReport> = Vec::new();

    let baseline: Option<BTreeMap<String, BTreeMap<String, Histogram>>> =
        query.baseline.as_ref().map(|scrapes| {
            scrapes
                .iter()
                .filter_map(|scrape| {
                    let families = scrape.outcome.as_ref().ok()?;
                    let histograms =
                        node_histograms(&scrape.node, &families.families, query, &mut Vec::new()).ok()?;
                    Some((scrape.node.clone(), histograms))
                })
                .collect()
        });

    let mut versions: Vec<String> = Vec::new();
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
        let histograms = match node_histograms(&scrape.node, &scraped.families, query, &mut warnings) {
            Ok(histograms) => histograms,
            Err(error) => {
                errors.push(with_version_hint(error, &query.metric, kubelet_version.as_deref()));
                continue;
            }
        };
        versions.push(kubelet_version.clone().unwrap_or_else(|| "unknown".to_string()));
        let node_baseline = match &baseline {
            None => None,
            Some(all) => {
                let found = all.get(&scrape.node);
                if found.is_none() {
                    warnings.push(Warning {
                        node: Some(scrape.node.clone()),
                        message: "no usable baseline for this node: showing every observation since the kubelet started"
                            .to_string(),
                    });
                }
                found
            }
        };
        for (group, histogram) in histograms {
            let (histogram, reset) = match node_baseline {
                None => (histogram, None),
                Some(base) => match base.get(&group) {
                    // A series that did not exist at the baseline started from zero.
                    None => (histogram, None),
                    Some(before) => {
                        let delta = histogram.delta(before);
                        (delta.histogram, delta.reset)
                    }
                },
            };
            // Warnings carry the node; with --by they also name the group.
            let row_name = by.map(|label| format!("{label}={group:?}: ")).unwrap_or_default();
            if let Some(reset) = reset {
                let why = match reset {
                    Reset::CountersDecreased => "counts went down since the baseline",
                    Reset::LayoutChanged => "the bucket layout changed since the baseline",
                };
                warnings.push(Warning {
                    node: Some(scrape.node.clone()),
                    message: format!(
                        "{row_name}{why}: the kubelet restarted, so these are the observations since the restart"
                    ),
                });
            }
            if !histogram.is_monotonic() {
                warnings.push(Warning {
                    node: Some(scrape.node.clone()),
                    message: format!(
                        "{row_name}bucket counts decrease as `le` grows; repaired as Prometheus does (each count raised to the largest count below it)"
                    ),
                });
            }
            if histogram.sum() < 0.0 {
                warnings.push(Warning {
                    node: Some(scrape.node.clone()),
                    message: format!(
                        "{row_name}`_sum` is negative ({}): the kubelet recorded negative durations, so the mean is not meaningful",
                        format_number(histogram.sum())
                    ),
                });
            }
            rows.push(NodeReport {
                node: scrape.node.clone(),
                group: by.map(|_| group.clone()),
                kubelet_version: kubelet_version.clone(),
                stats: Stats::of(&histogram, &query.quantiles, &edges),
                reset,
                p99: histogram.quantile(0.99),
            });
        }
    }

    rows.sort_by(|a, b| {
        descending_nan_last(a.p99, b.p99)
            .then_with(|| descending_nan_last(a.stats.mean, b.stats.mean))
            .then_with(|| a.node.cmp(&b.node))
            .then_with(|| a.group.cmp(&b.group))
    });

    let cluster = cluster_line(rows.iter(), query, &edges, &mut warnings, None);
    let mut groups = BTreeMap::new();
    if by.is_some() {
        let mut names: Vec<String> = rows.iter().filter_map(|r| r.group.clone()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let members = rows.iter().filter(|r| r.group.as_deref() == Some(name.as_str()));
            groups.insert(name.clone(), cluster_line(members, query, &edges, &mut warnings, Some(&name)));
        }
    }

    errors.sort_by(|a, b| a.node.cmp(&b.node));
    warnings.sort();
    warnings.dedup();
    let version_refs: Vec<&str> = versions.iter().map(String::as_str).collect();
    let largest_bounds: Vec<f64> = rows
        .iter()
        .filter_map(|row| row.stats.buckets.iter().rev().map(|b| b.le).find(|le| le.is_finite()))
        .collect();
    let mut caveats = catalog::caveats(&query.metric, &version_refs);
    caveats.retain(|caveat| catalog::applies_to_layouts(caveat, &largest_bounds));
    Report {
        metric: query.metric.clone(),
        method: query.method.clone(),
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
    }
}

/// Descending order with NaN after every number.
fn descending_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) => b.total_cmp(&a),
    }
}

fn node_error(node: &str, failure: &Failure) -> NodeError {
    NodeError {
        node: node.to_string(),
        kind: failure.kind,
        message: failure.message.clone(),
        fix: failure.fix.clone(),
    }
}

/// Adds what the catalogue knows about when a metric appeared to a `Missing` error.
fn with_version_hint(mut error: NodeError, metric: &str, version: Option<&str>) -> NodeError {
    if error.kind != FailureKind::Missing {
        return error;
    }
    // Only when every known layout has a first version does the metric have a birthday.
    let since = catalog::lookup(metric).and_then(|info| {
        let firsts: Option<Vec<catalog::Version>> = info.layouts.iter().map(|l| l.versions.since).collect();
        firsts?.into_iter().min()
    });
    let mut fix = format!("check the name with `kubelet-metrics get -m '{}*'`", metric_prefix(metric));
    if let Some(since) = since {
        fix.push_str(&format!("; {metric} exists from kubelet {}.{}", since.major, since.minor));
        if let Some(version) = version {
            fix.push_str(&format!(" and this node runs {version}"));
        }
    }
    error.fix = Some(fix);
    error
}

/// `kubelet_pod_start_duration_seconds` → `kubelet_pod_start`.
fn metric_prefix(metric: &str) -> &str {
    let mut cut = metric.len();
    for _ in 0..2 {
        if let Some(index) = metric[..cut].rfind('_') {
            cut = index;
        }
    }
    if cut == 0 { metric } else { &metric[..cut] }
}

/// The kubelet version from a `kubernetes_build_info` family, when the payload has one.
fn build_version(families: &[Family]) -> Option<String> {
    families.iter().filter(|f| f.name == catalog::BUILD_INFO).flat_map(|f| &f.samples).find_map(|sample| {
        sample.labels.iter().find(|(k, _)| k == "gitVersion" || k == "git_version").map(|(_, v)| v.clone())
    })
}

/// The metric's histograms on one node, by `--by` value, with warnings for unusable series.
fn node_histograms(
    node: &str,
    families: &[Family],
    query: &Query,
    warnings: &mut Vec<Warning>,
) -> NodeHistograms {
    let metric = query.metric.as_str();
    let suffixed = [format!("{metric}_bucket"), format!("{metric}_sum"), format!("{metric}_count")];
    // The family itself, or (without a TYPE line) families named after its samples.
    let relevant: Vec<&Family> =
        families.iter().filter(|f| f.name == metric || suffixed.contains(&f.name)).collect();
    let missing = |message: String| NodeError {
        node: node.to_string(),
        kind: FailureKind::Missing,
        message,
        fix: None,
    };
    if relevant.is_empty() {
        return Err(missing(format!("the payload has no `{metric}` histogram")));
    }
    if let Some(family) =
        relevant.iter().find(|f| !matches!(f.kind, MetricKind::Histogram | MetricKind::Untyped))
    {
        return Err(missing(format!("`{metric}` is a {} here, not a histogram", kind_word(family.kind))));
    }
    let samples: Vec<&Sample> = relevant.iter().flat_map(|f| &f.samples).collect();
    let read = histogram::from_samples(metric, samples.iter().copied());
    for problem in &read.problems {
        warnings.push(Warning {
            node: Some(node.to_string()),
            message: format!("series {}: {}; skipped", format_labels(&problem.labels), problem.error),
        });
    }
    if read.series.is_empty() {
        let why = read.problems.first().map_or_else(|| "no samples".to_string(), |p| p.error.to_string());
        return Err(NodeError {
            node: node.to_string(),
            kind: FailureKind::Parse,
            message: format!("no usable `{metric}` series: {why}"),
            fix: None,
        });
    }
    let mut histograms = BTreeMap::new();
    for (group, result) in histogram::group(&read.series, query.by.as_deref()) {
        match result {
            Ok(histogram) => {
                histograms.insert(group, histogram);
            }
            Err(error) => warnings.push(Warning {
                node: Some(node.to_string()),
                message: format!(
                    "series with {}: {error}; skipped rather than mixed",
                    group_words(query, &group)
                ),
            }),
        }
    }
    Ok(histograms)
}

fn group_words(query: &Query, group: &str) -> String {
    match &query.by {
        Some(label) => format!("{label}={group:?}"),
        None => "every label set".to_string(),
    }
}

fn kind_word(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
        MetricKind::Histogram => "histogram",
        MetricKind::Summary => "summary",
        MetricKind::Untyped => "untyped metric",
        MetricKind::GaugeHistogram => "gauge histogram",
        MetricKind::Info => "info metric",
        MetricKind::StateSet => "state set",
    }
}

/// `{a="1",b="2"}`, or `{}`.
fn format_labels(labels: &histogram::Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// Merges rows by `le`, one group per layout, and warns when layouts differ.
fn cluster_line<'a>(
    rows: impl Iterator<Item = &'a NodeReport> + Clone,
    query: &Query,
    edges: &[f64],
    warnings: &mut Vec<Warning>,
    group: Option<&str>,
) -> ClusterReport {
    let histograms: Vec<(String, Histogram)> = rows
        .filter_map(|row| {
            let pairs: Vec<(f64, f64)> = row.stats.buckets.iter().map(|b| (b.le, b.count)).collect();
            let histogram =
                Histogram::from_cumulative(&pairs, row.stats.sum).ok()?.with_count(row.stats.count);
            Some((row.name(), histogram))
        })
        .collect();
    let layouts: Vec<LayoutReport> = histogram::merge_by_layout(histograms.iter().map(|(name, h)| (name, h)))
        .into_iter()
        .map(|g| LayoutReport {
            bounds: g.bounds,
            members: g.members,
            stats: Stats::of(&g.merged, &query.quantiles, edges),
        })
        .collect();
    let count: f64 = layouts.iter().map(|l| l.stats.count).sum();
    let sum: f64 = layouts.iter().map(|l| l.stats.sum).sum();
    let stats = match layouts.as_slice() {
        [only] => only.stats.clone(),
        _ => Stats {
            count,
            sum,
            mean: sum / count,
            quantiles: Vec::new(),
            bands: Vec::new(),
            buckets: Vec::new(),
            lower_bounds: Vec::new(),
        },
    };
    if layouts.len() > 1 {
        let described: Vec<String> = layouts
            .iter()
            .map(|l| {
                format!(
                    "{} bucket(s) up to {}: {}",
                    l.bounds.len(),
                    describe_top(&l.bounds),
                    l.members.join(", ")
                )
            })
            .collect();
        let scope =
            group.map_or_else(String::new, |g| format!(" ({}={g:?})", query.by.as_deref().unwrap_or("")));
        warnings.push(Warning {
            node: None,
            message: format!(
                "bucket layouts differ across nodes{scope}, so the cluster line has count, sum and mean only; quantiles and bands are per layout: {}",
                described.join("; ")
            ),
        });
    }
    ClusterReport { stats, layouts }
}

fn describe_top(bounds: &[f64]) -> String {
    bounds.last().map_or_else(|| "+Inf".to_string(), |b| format_number(*b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::Scraped;
    use approx::assert_relative_eq;

    const SEED_BOUNDS: [&str; 26] = [
        "0.5", "1", "2", "3", "4", "5", "6", "8", "10", "20", "30", "45", "60", "120", "180", "240", "300",
        "360", "480", "600", "900", "1200", "1800", "2700", "3600", "+Inf",
    ];
    const SEED_COUNTS: [f64; 26] = [
        39.0, 39.0, 43.0, 47.0, 53.0, 55.0, 56.0, 57.0, 57.0, 64.0, 71.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0,
        74.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0,
    ];

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            name: name.to_string(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            value,
            timestamp_ms: None,
        }
    }

    fn family(name: &str, bounds: &[&str], counts: &[f64], sum: f64) -> Family {
        let mut samples: Vec<Sample> = bounds
            .iter()
            .zip(counts)
            .map(|(le, count)| sample(&format!("{name}_bucket"), &[("le", le)], *count))
            .collect();
        samples.push(sample(&format!("{name}_sum"), &[], sum));
        samples.push(sample(&format!("{name}_count"), &[], *counts.last().unwrap()));
        Family {
            name: name.to_string(),
            help: String::new(),
            kind: MetricKind::Histogram,
            unit: String::new(),
            samples,
        }
    }

    fn node(name: &str, version: Option<&str>, families: Vec<Family>) -> NodeScrape {
        NodeScrape {
            node: name.to_string(),
            kubelet_version: version.map(str::to_string),
            outcome: Ok(Scraped { families, ..Scraped::default() }),
        }
    }

    fn seed_node(name: &str) -> NodeScrape {
        node(
            name,
            Some("v1.31.4"),
            vec![family(catalog::POD_START_DURATION, &SEED_BOUNDS, &SEED_COUNTS, 442.6225922320001)],
        )
    }

    #[test]
    fn seed_numbers() {
        let report = analyze(&[seed_node("node1")], &Query::new(catalog::POD_START_DURATION));
        assert!(report.errors.is_empty());
        let stats = &report.nodes[0].stats;
        assert_eq!(stats.count, 74.0);
        assert_relative_eq!(stats.sum, 442.62, epsilon = 0.005);
        // 442.6226 / 74 = 5.981
        assert_relative_eq!(stats.mean, 5.98, epsilon = 0.005);
        // 0.5 × 37/39; 10 + 10 × 9.6/7; 30 + 15 × 2.26/3 (see histogram tests).
        assert_relative_eq!(stats.quantile(0.5).unwrap(), 0.474, epsilon = 0.0005);
        assert_relative_eq!(stats.quantile(0.9).unwrap(), 23.71, epsilon = 0.005);
        assert_relative_eq!(stats.quantile(0.99).unwrap(), 41.3, epsilon = 0.05);
        let percent: Vec<f64> = stats.bands.iter().map(|b| (b.fraction * 1000.0).round() / 10.0).collect();
        assert_eq!(percent, vec![52.7, 21.6, 21.6, 4.1]);
        assert_eq!(report.cluster.stats, *stats);
        assert_eq!(report.unit, "s");
        assert!(report.caveats.iter().any(|c| c.id == "double-count"));
        assert!(report.warnings.is_empty());
    }

    #[test]
    fn missing_metric_and_failed_nodes_are_errors() {
        let failed = NodeScrape {
            node: "n0".into(),
            kubelet_version: None,
            outcome: Err(Failure {
                kind: FailureKind::Timeout,
                message: "no answer within 10s".into(),
                fix: None,
            }),
        };
        let empty = node("n2", Some("v1.25.0"), vec![family("other_seconds", &["+Inf"], &[1.0], 1.0)]);
        let report = analyze(&[seed_node("n1"), empty, failed], &Query::new(catalog::POD_START_SLI_DURATION));
        let kinds: Vec<(&str, FailureKind)> =
            report.errors.iter().map(|e| (e.node.as_str(), e.kind)).collect();
        assert_eq!(
            kinds,
            vec![("n0", FailureKind::Timeout), ("n1", FailureKind::Missing), ("n2", FailureKind::Missing)]
        );
        assert!(report.errors[2].message.contains(catalog::POD_START_SLI_DURATION));
        let fix = report.errors[2].fix.as_deref().unwrap();
        assert!(fix.contains("from kubelet 1.26") && fix.contains("v1.25.0"), "{fix}");
        assert_eq!(report.node_count(), 3);
        assert!(report.nodes.is_empty());
        assert!(report.cluster.stats.count == 0.0 && report.cluster.layouts.is_empty());
    }

    #[test]
    fn unusable_series_make_a_parse_error() {
        let broken = family(catalog::POD_START_DURATION, &["1", "5"], &[1.0, 2.0], 3.0);
        let report = analyze(&[node("n1", None, vec![broken])], &Query::new(catalog::POD_START_DURATION));
        assert_eq!(report.errors[0].kind, FailureKind::Parse);
        assert!(report.errors[0].message.contains("no `+Inf` bucket"), "{}", report.errors[0].message);
    }

    #[test]
    fn rows_are_sorted_slowest_first() {
        let fast = node(
            "a-fast",
            None,
            vec![family(catalog::POD_START_DURATION, &["1", "+Inf"], &[10.0, 10.0], 2.0)],
        );
        let slow = node(
            "b-slow",
            None,
            vec![family(catalog::POD_START_DURATION, &["1", "+Inf"], &[1.0, 10.0], 50.0)],
        );
        // Same p99 as a-fast (both in (0, 1]: 0.99 × 10 = 9.9 → 0.99) but a higher mean.
        let meaner =
            node("c", None, vec![family(catalog::POD_START_DURATION, &["1", "+Inf"], &[10.0, 10.0], 9.0)]);
        let report = analyze(&[fast, slow, meaner], &Query::new(catalog::POD_START_DURATION));
        let order: Vec<&str> = report.nodes.iter().map(|n| n.node.as_str()).collect();
        assert_eq!(order, vec!["b-slow", "c", "a-fast"]);
    }

    #[test]
    fn different_layouts_are_grouped_not_mixed() {
        let old = node(
            "old",
            Some("v1.28.2"),
            vec![family(catalog::POD_START_DURATION, &["5", "10", "+Inf"], &[2.0, 3.0, 4.0], 30.0)],
        );
        let report =
            analyze(&[seed_node("new1"), old, seed_node("new2")], &Query::new(catalog::POD_START_DURATION));
        let cluster = &report.cluster;
        assert_eq!(cluster.layouts.len(), 2);
        assert_eq!(cluster.layouts[0].members, vec!["new1", "new2"]);
        assert_eq!(cluster.layouts[1].members, vec!["old"]);
        // Count and sum still add up: 74 + 74 + 4.
        assert_eq!(cluster.stats.count, 152.0);
        assert!(cluster.stats.quantiles.is_empty() && cluster.stats.bands.is_empty());
        assert!(report.warnings.iter().any(|w| w.message.contains("bucket layouts differ")));
        assert!(report.caveats.iter().any(|c| c.id == "short-buckets" && c.versions == vec!["v1.28.2"]));
    }

    #[test]
    fn by_label_splits_rows_and_groups() {
        let mut samples = Vec::new();
        for (op, counts, sum) in [("create", [1.0, 2.0], 3.0), ("sync", [5.0, 5.0], 1.0)] {
            samples.push(sample("rt_seconds_bucket", &[("operation_type", op), ("le", "1")], counts[0]));
            samples.push(sample("rt_seconds_bucket", &[("operation_type", op), ("le", "+Inf")], counts[1]));
            samples.push(sample("rt_seconds_sum", &[("operation_type", op)], sum));
            samples.push(sample("rt_seconds_count", &[("operation_type", op)], counts[1]));
        }
        let fam = Family {
            name: "rt_seconds".into(),
            help: String::new(),
            kind: MetricKind::Histogram,
            unit: String::new(),
            samples,
        };
        let mut query = Query::new("rt_seconds");
        query.by = Some("operation_type".into());
        let report = analyze(&[node("n1", None, vec![fam.clone()]), node("n2", None, vec![fam])], &query);
        assert_eq!(report.nodes.len(), 4);
        // create has an observation above 1 s, so its p99 (1.0, the highest finite bound) leads.
        assert_eq!(report.nodes[0].group.as_deref(), Some("create"));
        assert_eq!(report.groups["sync"].stats.count, 10.0);
        assert_eq!(report.cluster.stats.count, 14.0);
        assert_eq!(report.unit, "s");
    }

    #[test]
    fn baseline_gives_deltas_and_reports_resets() {
        let name = catalog::POD_START_DURATION;
        let before = vec![
            node("n1", None, vec![family(name, &["1", "+Inf"], &[4.0, 6.0], 10.0)]),
            node("n2", None, vec![family(name, &["1", "+Inf"], &[4.0, 6.0], 10.0)]),
        ];
        let after = vec![
            node("n1", None, vec![family(name, &["1", "+Inf"], &[5.0, 9.0], 16.0)]),
            // Restarted: fewer observations than at the baseline.
            node("n2", None, vec![family(name, &["1", "+Inf"], &[1.0, 2.0], 3.0)]),
            node("n3", None, vec![family(name, &["1", "+Inf"], &[1.0, 1.0], 0.5)]),
        ];
        let mut query = Query::new(name);
        query.baseline = Some(before);
        let report = analyze(&after, &query);
        assert!(report.delta);
        let by_node: BTreeMap<&str, &NodeReport> =
            report.nodes.iter().map(|n| (n.node.as_str(), n)).collect();
        // n1: 9 − 6 = 3 observations, sum 16 − 10 = 6.
        assert_eq!((by_node["n1"].stats.count, by_node["n1"].stats.sum), (3.0, 6.0));
        assert_eq!(by_node["n2"].reset, Some(Reset::CountersDecreased));
        assert_eq!(by_node["n2"].stats.count, 2.0);
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.node.as_deref() == Some("n2") && w.message.contains("restarted"))
        );
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.node.as_deref() == Some("n3") && w.message.contains("no usable baseline"))
        );
    }

    #[test]
    fn warnings_for_non_monotonic_and_negative_sum() {
        let odd = family(catalog::POD_START_SLI_DURATION, &["1", "2", "+Inf"], &[5.0, 3.0, 6.0], -1.8e10);
        let report = analyze(&[node("aks", None, vec![odd])], &Query::new(catalog::POD_START_SLI_DURATION));
        let messages: Vec<&str> = report.warnings.iter().map(|w| w.message.as_str()).collect();
        assert!(messages.iter().any(|m| m.contains("decrease")), "{messages:?}");
        assert!(messages.iter().any(|m| m.contains("negative")), "{messages:?}");
    }

    #[test]
    fn version_comes_from_build_info_when_the_source_has_none() {
        let info = Family {
            name: catalog::BUILD_INFO.into(),
            help: String::new(),
            kind: MetricKind::Gauge,
            unit: String::new(),
            samples: vec![sample(catalog::BUILD_INFO, &[("gitVersion", "v1.14.10")], 1.0)],
        };
        let pod_start = family(catalog::POD_START_DURATION, &["10", "+Inf"], &[1.0, 1.0], 1.0);
        let report =
            analyze(&[node("n", None, vec![info, pod_start])], &Query::new(catalog::POD_START_DURATION));
        assert_eq!(report.nodes[0].kubelet_version.as_deref(), Some("v1.14.10"));
        assert!(report.caveats.iter().any(|c| c.id == "short-buckets"));
    }

    #[test]
    fn metric_prefix_drops_two_words() {
        assert_eq!(metric_prefix("kubelet_pod_start_duration_seconds"), "kubelet_pod_start");
        assert_eq!(metric_prefix("x"), "x");
    }

    fn fixture_node(name: &str, text: &str) -> NodeScrape {
        let families = crate::exposition::parse(text).expect("fixture parses");
        NodeScrape {
            node: name.to_string(),
            kubelet_version: None,
            outcome: Ok(Scraped { families, ..Scraped::default() }),
        }
    }

    const SEED: &str = include_str!("../tests/fixtures/seed-node1.prom");
    const K114: &str = include_str!("../tests/fixtures/real/kubelet-1.14.10-metrics.prom");
    const K121: &str = include_str!("../tests/fixtures/real/kubelet-1.21.2-metrics.prom");

    #[test]
    fn seed_fixture_through_the_parser() {
        // The payload read by the parser gives exactly the hand-built histogram of `seed_numbers`.
        let parsed = analyze(&[fixture_node("node1", SEED)], &Query::new(catalog::POD_START_DURATION));
        let built = analyze(&[seed_node("node1")], &Query::new(catalog::POD_START_DURATION));
        assert!(parsed.errors.is_empty() && parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert_eq!(parsed.nodes[0].stats, built.nodes[0].stats);
    }

    #[test]
    fn old_and_new_kubelets_are_grouped_by_layout() {
        let scrapes = [fixture_node("seed", SEED), fixture_node("k114", K114), fixture_node("k121", K121)];
        let report = analyze(&scrapes, &Query::new(catalog::POD_START_DURATION));
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let layouts: Vec<&Vec<String>> = report.cluster.layouts.iter().map(|l| &l.members).collect();
        // 1.14 and 1.21 share DefBuckets (0.005 … 10); the seed has 0.5 … 3600.
        assert_eq!(layouts.len(), 2);
        assert_eq!(layouts[1], &vec!["seed".to_string()]);
        let mut old = layouts[0].clone();
        old.sort();
        assert_eq!(old, vec!["k114", "k121"]);
        // 74 + 30 + 60 observations.
        assert_eq!(report.cluster.stats.count, 164.0);
        let k114 = report.nodes.iter().find(|n| n.node == "k114").unwrap();
        assert_eq!(k114.kubelet_version.as_deref(), Some("v1.14.10"));
        // 1.14: 26 of 30 ≤ 10 s, the largest finite bound; >30 s cannot be resolved, so the 4
        // above 10 s are counted there: ~13.3 %, approximate.
        let over = k114.stats.bands.last().unwrap();
        assert!(over.approximate);
        assert_relative_eq!(over.fraction, 4.0 / 30.0);
        assert_eq!(k114.stats.quantile(0.99), Some(10.0));
        assert!(
            report
                .caveats
                .iter()
                .any(|c| c.id == "short-buckets" && c.versions.contains(&"v1.14.10".to_string()))
        );
        assert!(report.warnings.iter().any(|w| w.message.contains("bucket layouts differ")));
    }

    #[test]
    fn by_operation_type_on_a_real_payload() {
        let mut query = Query::new(catalog::RUNTIME_OPERATIONS_DURATION);
        query.by = Some("operation_type".to_string());
        let report = analyze(&[fixture_node("k121", K121)], &query);
        assert_eq!(report.nodes.len(), 17);
        let exec_sync = report.nodes.iter().find(|n| n.group.as_deref() == Some("exec_sync")).unwrap();
        assert_eq!(exec_sync.stats.count, 341720.0);
        assert_eq!(report.groups.len(), 17);
        // Without --by, every operation type is summed by `le` into one row.
        let all = analyze(&[fixture_node("k121", K121)], &Query::new(catalog::RUNTIME_OPERATIONS_DURATION));
        assert_eq!(all.nodes.len(), 1);
        let total: f64 = report.nodes.iter().map(|n| n.stats.count).sum();
        assert_eq!(all.nodes[0].stats.count, total);
    }
}
