//! What an analysis returns: the [`Report`] and its parts (one [`NodeReport`] per row, the
//! [`ClusterReport`] with its [`LayoutReport`]s, [`NodeError`]s, [`Warning`]s) and the
//! [`Stats`] shown for every histogram.
//!
//! How the numbers are decided lives in [`analyze`](super::analyze); turning a report into
//! bytes lives in [`crate::report`].

use std::collections::BTreeMap;

use crate::access::Origin;
use crate::catalog::Caveat;
use crate::histogram::{Band, Bucket, Histogram, Reset};
use crate::scrape::FailureKind;

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
    pub method: Origin,
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
    /// Nodes whose rows a `--top N` cut left out: still counted among the nodes asked about.
    pub hidden: Vec<String>,
}

impl Report {
    /// The nodes with an error, each once, in the order of their first error.
    pub fn failed_nodes(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.errors.iter().map(|e| e.node.as_str()).filter(|node| seen.insert(*node)).collect()
    }

    /// The number of nodes asked about (answered or not).
    pub fn node_count(&self) -> usize {
        let mut names: Vec<&str> = self
            .nodes
            .iter()
            .map(|n| n.node.as_str())
            .chain(self.errors.iter().map(|e| e.node.as_str()))
            .chain(self.hidden.iter().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    }
}
