//! Where pod-start time goes: every kubelet histogram that times a part of a pod start, per node
//! and cluster-wide, each number with the PromQL that gives it. Pure: node scrapes in, a
//! [`Breakdown`] out; [`crate::report::breakdown`] renders it.
//!
//! Decisions:
//! - The stages are fixed ([`STAGES`]): the three pod-start histograms (end to end), the phases
//!   inside a start (image pull by size class, sandbox by runtime handler, CRI operations by
//!   type, pod worker syncs by type) and PLEG relisting (background). A node shows the stages
//!   its payload has; a kubelet version without a family simply has no row for it.
//! - Numbers are over the payload as read (counters since the kubelet started), exactly what the
//!   printed PromQL returns over the same samples with a `node` label (as `get` adds it).
//! - The slowest phase of a node (and of the cluster) is the phase row with the largest mean:
//!   the mean is exact (`_sum / _count`), where quantiles are bucket estimates, and the pod
//!   worker's are capped at 10 s.
//! - The cluster rows merge the nodes' series by `le`, one per stage and label value. When
//!   nodes have different bucket layouts, the cluster row covers the largest group of nodes
//!   sharing one (its PromQL names them with `node=~`), and says how many it covers.
//! - Caveats follow each node's kubelet version ([`catalog::caveats_for`]) and what its payload
//!   shows: a negative SLI `_sum`, and a `kubelet_pod_start_duration_seconds` count near twice
//!   the count of pods the other pod-start histograms saw.

use std::collections::BTreeMap;

use super::NodeError;
use super::node::build_version;
use crate::catalog::{self, Caveat};
use crate::exposition::{Family, Selector};
use crate::histogram::{self, Histogram, Labels, merge_by_layout};
use crate::scrape::{FailureKind, NodeScrape};

/// What part of a pod start a stage times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A whole pod start, as one of the three pod-start histograms defines it.
    PodStart,
    /// A phase inside a pod start: these compete for "slowest phase".
    Phase,
    /// Work the kubelet does all the time (PLEG relisting), which delays every start a little.
    Background,
}

impl Role {
    /// `pod-start`, `phase` or `background`: the stable spelling in JSON and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PodStart => "pod-start",
            Role::Phase => "phase",
            Role::Background => "background",
        }
    }
}

/// One kind of row: a histogram family, and the label that splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// What the table calls it, e.g. `image pull`.
    pub name: &'static str,
    /// The histogram family.
    pub metric: &'static str,
    /// The label whose values get a row each, e.g. `image_size_in_bytes`.
    pub by: Option<&'static str>,
    /// Its role in a pod start.
    pub role: Role,
}

/// Every stage, in table order.
pub const STAGES: &[Stage] = &[
    Stage {
        name: "pod start (SLI)",
        metric: catalog::POD_START_SLI_DURATION,
        by: None,
        role: Role::PodStart,
    },
    Stage {
        name: "pod start (total)",
        metric: catalog::POD_START_TOTAL_DURATION,
        by: None,
        role: Role::PodStart,
    },
    Stage {
        name: "pod start (kubelet)",
        metric: catalog::POD_START_DURATION,
        by: None,
        role: Role::PodStart,
    },
    Stage {
        name: "image pull",
        metric: catalog::IMAGE_PULL_DURATION,
        by: Some("image_size_in_bytes"),
        role: Role::Phase,
    },
    Stage {
        name: "sandbox",
        metric: catalog::RUN_PODSANDBOX_DURATION,
        by: Some("runtime_handler"),
        role: Role::Phase,
    },
    Stage {
        name: "runtime",
        metric: catalog::RUNTIME_OPERATIONS_DURATION,
        by: Some("operation_type"),
        role: Role::Phase,
    },
    Stage {
        name: "pod worker",
        metric: catalog::POD_WORKER_DURATION,
        by: Some("operation_type"),
        role: Role::Phase,
    },
    Stage { name: "PLEG relist", metric: catalog::PLEG_RELIST_DURATION, by: None, role: Role::Background },
    Stage { name: "PLEG interval", metric: catalog::PLEG_RELIST_INTERVAL, by: None, role: Role::Background },
];

/// The CRI operations on the path of a pod start; the others (listing, status polls, exec,
/// stopping) run all the time and are [`Role::Background`].
pub const START_OPERATIONS: &[&str] =
    &["pull_image", "run_podsandbox", "create_container", "start_container"];

/// The families `breakdown` reads (each stage's, also as untyped `_bucket`/`_sum`/`_count`
/// families, as `kubectl get --raw | grep` leaves them) plus the kubelet's build info.
pub fn selector() -> Selector {
    let family = |name: &str| -> Selector { name.parse().expect("catalog metric names are valid selectors") };
    let mut selectors = vec![family(catalog::BUILD_INFO)];
    for stage in STAGES {
        selectors.push(family(stage.metric));
        for suffix in ["_bucket", "_sum", "_count"] {
            selectors.push(family(&format!("{}{suffix}", stage.metric)));
        }
    }
    Selector::any_of(selectors)
}

/// One estimated quantile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantile {
    /// Which quantile, in [0, 1].
    pub q: f64,
    /// Its value, as PromQL's `histogram_quantile` gives it (NaN without observations).
    pub value: f64,
    /// The rank lies in the `+Inf` bucket: the value is the largest finite bound, a lower bound.
    pub lower_bound: bool,
}

/// The PromQL that gives each number of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promql {
    /// `sum(M_count{…})`.
    pub count: String,
    /// `sum(M_sum{…})`.
    pub sum: String,
    /// `sum(M_sum{…}) / sum(M_count{…})`.
    pub mean: String,
    /// `histogram_quantile(q, sum by (le) (M_bucket{…}))`, one per quantile in order.
    pub quantiles: Vec<String>,
}

/// One row: a stage (and one value of its label) on a node or the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The stage.
    pub stage: Stage,
    /// The row's role: the stage's, except runtime operations off the pod-start path
    /// (see [`START_OPERATIONS`]), which are background work.
    pub role: Role,
    /// The value of the stage's label (`""` where the kubelet leaves it empty); `None` for a
    /// stage without one.
    pub label: Option<String>,
    /// Observations.
    pub count: f64,
    /// Sum of observations, in seconds.
    pub sum: f64,
    /// `sum / count`, NaN without observations.
    pub mean: f64,
    /// The requested quantiles.
    pub quantiles: Vec<Quantile>,
    /// The largest finite bucket bound: no quantile can exceed it.
    pub largest_bound: f64,
    /// The slowest phase of its node (or of the cluster): the phase row with the largest mean.
    pub slowest: bool,
    /// The PromQL behind each number.
    pub promql: Promql,
}

impl Row {
    /// `runtime pull_image`, `pod start (SLI)`, `sandbox ""`: the row's name in a table.
    pub fn title(&self) -> String {
        match &self.label {
            Some(label) if label.is_empty() => format!("{} \"\"", self.stage.name),
            Some(label) => format!("{} {label}", self.stage.name),
            None => self.stage.name.to_string(),
        }
    }

    /// The series the row reads, as a PromQL selector without the node:
    /// `kubelet_image_pull_duration_seconds{image_size_in_bytes="0-10MB"}`.
    pub fn series(&self) -> String {
        match (self.stage.by, &self.label) {
            (Some(by), Some(value)) => format!("{}{{{by}={}}}", self.stage.metric, promql_string(value)),
            _ => self.stage.metric.to_string(),
        }
    }
}

/// A node's rows, or the cluster's.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// The node name; `None` for the cluster.
    pub node: Option<String>,
    /// The kubelet version, from the source or the payload's build info.
    pub kubelet_version: Option<String>,
    /// The rows, in [`STAGES`] order, then by label value.
    pub rows: Vec<Row>,
}

/// A cluster row that covers only some of the nodes with that series (their buckets differ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialRow {
    /// The row's title.
    pub title: String,
    /// The nodes the cluster row covers.
    pub covered: Vec<String>,
    /// The nodes left out, whose buckets differ.
    pub left_out: Vec<String>,
}

/// The whole breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// The requested quantiles.
    pub quantiles: Vec<f64>,
    /// The cluster: every node's series merged by `le`.
    pub cluster: Scope,
    /// One scope per node that answered, sorted by name.
    pub nodes: Vec<Scope>,
    /// Cluster rows that could not cover every node.
    pub partial: Vec<PartialRow>,
    /// The caveats that apply, each with the nodes it applies to.
    pub caveats: Vec<Finding>,
    /// Series that could not be read, as `node: metric{labels}: why`.
    pub warnings: Vec<String>,
    /// Nodes that failed or had none of the stages.
    pub errors: Vec<NodeError>,
}

/// A series of a stage: the stage's index in [`STAGES`] and its label value (`None` for a stage
/// without a label).
type SeriesKey = (usize, Option<String>);

/// A node's histograms, by series.
type NodeSeries = BTreeMap<SeriesKey, Histogram>;

/// A cluster row's histogram, and the nodes it covers when not every node with the series.
type ClusterSeries = (SeriesKey, Histogram, Option<Vec<String>>);

/// Breaks pod starts down per node and cluster-wide (see the module docs).
///
/// ```
/// use kubelet_metrics::analysis::breakdown::breakdown;
/// use kubelet_metrics::exposition::parse;
/// use kubelet_metrics::scrape::{NodeScrape, Scraped};
/// let text = "# TYPE kubelet_run_podsandbox_duration_seconds histogram\n\
///     kubelet_run_podsandbox_duration_seconds_bucket{runtime_handler=\"\",le=\"1\"} 3\n\
///     kubelet_run_podsandbox_duration_seconds_bucket{runtime_handler=\"\",le=\"+Inf\"} 4\n\
///     kubelet_run_podsandbox_duration_seconds_sum{runtime_handler=\"\"} 6\n\
///     kubelet_run_podsandbox_duration_seconds_count{runtime_handler=\"\"} 4\n";
/// let scraped = Scraped { families: parse(text).unwrap(), ..Scraped::default() };
/// let scrapes = [NodeScrape { node: "n1".into(), kubelet_version: None, outcome: Ok(scraped) }];
/// let result = breakdown(&scrapes, &[0.5]);
/// let row = &result.nodes[0].rows[0];
/// assert_eq!((row.count, row.mean), (4.0, 1.5));
/// assert_eq!(row.promql.mean,
///     "sum(kubelet_run_podsandbox_duration_seconds_sum{node=\"n1\",runtime_handler=\"\"}) / \
///      sum(kubelet_run_podsandbox_duration_seconds_count{node=\"n1\",runtime_handler=\"\"})");
/// ```
pub fn breakdown(scrapes: &[NodeScrape], quantiles: &[f64]) -> Breakdown {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut read: Vec<ReadNode<'_>> = Vec::new();
    for scrape in scrapes {
        let scraped = match &scrape.outcome {
            Ok(scraped) => scraped,
            Err(failure) => {
                errors.push(NodeError {
                    node: scrape.node.clone(),
                    kind: failure.kind,
                    message: failure.message.clone(),
                    fix: failure.fix.clone(),
                });
                continue;
            }
        };
        let series = node_series(&scrape.node, &scraped.families, &mut warnings);
        if series.is_empty() {
            errors.push(NodeError {
                node: scrape.node.clone(),
                kind: FailureKind::Missing,
                message: "the payload has none of the pod-start, image pull, sandbox, runtime, pod worker \
                          or PLEG histograms"
                    .to_string(),
                fix: Some(
                    "read the kubelet's /metrics (--endpoint metrics); a /metrics/cadvisor payload has no \
                     kubelet histograms"
                        .to_string(),
                ),
            });
            continue;
        }
        let version = scrape.kubelet_version.clone().or_else(|| build_version(&scraped.families));
        read.push((&scrape.node, version, series));
    }

    let nodes: Vec<Scope> = read
        .iter()
        .map(|(node, version, series)| Scope {
            node: Some(node.to_string()),
            kubelet_version: version.clone(),
            rows: rows(series.iter().map(|(key, h)| (key.clone(), h.clone(), Some(*node))), quantiles),
        })
        .collect();

    // The cluster: per (stage, label), the nodes' histograms merged by layout.
    let mut by_key: BTreeMap<SeriesKey, Vec<(&str, &Histogram)>> = BTreeMap::new();
    for (node, _, series) in &read {
        for (key, histogram) in series {
            by_key.entry(key.clone()).or_default().push((node, histogram));
        }
    }
    let mut partial = Vec::new();
    let mut merged = Vec::new();
    for (key, members) in &by_key {
        let groups = merge_by_layout(members.iter().map(|(node, h)| (*node, *h)));
        let Some(largest) = groups.first() else { continue };
        // Nodes without the series add nothing to a sum, so only a cluster row that leaves out
        // nodes with other buckets needs to name the nodes it covers.
        let only = (groups.len() > 1).then(|| largest.members.clone());
        if groups.len() > 1 {
            let left_out: Vec<String> = groups[1..].iter().flat_map(|g| g.members.iter().cloned()).collect();
            let stage = STAGES[key.0];
            let title = Row { label: key.1.clone(), ..empty_row(stage) }.title();
            partial.push(PartialRow { title, covered: largest.members.clone(), left_out });
        }
        merged.push((key.clone(), largest.merged.clone(), only));
    }
    let cluster = Scope { node: None, kubelet_version: None, rows: cluster_rows(merged, quantiles) };
    let caveats = findings(&read);
    Breakdown { quantiles: quantiles.to_vec(), cluster, nodes, partial, caveats, warnings, errors }
}

fn empty_row(stage: Stage) -> Row {
    Row {
        stage,
        role: stage.role,
        label: None,
        count: f64::NAN,
        sum: f64::NAN,
        mean: f64::NAN,
        quantiles: Vec::new(),
        largest_bound: f64::NAN,
        slowest: false,
        promql: Promql {
            count: String::new(),
            sum: String::new(),
            mean: String::new(),
            quantiles: Vec::new(),
        },
    }
}

/// Every stage's series on one node, by label value; unreadable series become warnings.
fn node_series(node: &str, families: &[Family], warnings: &mut Vec<String>) -> NodeSeries {
    let mut found = NodeSeries::new();
    for (index, stage) in STAGES.iter().enumerate() {
        let metric = stage.metric;
        let suffixed = [format!("{metric}_bucket"), format!("{metric}_sum"), format!("{metric}_count")];
        let samples = families
            .iter()
            .filter(|f| f.name == metric || suffixed.contains(&f.name))
            .flat_map(|f| f.samples.iter());
        let read = histogram::from_samples(metric, samples);
        for problem in &read.problems {
            warnings.push(format!("{node}: {metric}{}: {}", labels_text(&problem.labels), problem.error));
        }
        for series in read.series {
            let label = stage.by.map(|by| series.labels.get(by).cloned().unwrap_or_default());
            // Any other label (none on today's kubelets) is summed away, as `sum by (le)` does.
            match found.get_mut(&(index, label.clone())) {
                Some(sum) => match sum.merge(&series.histogram) {
                    Ok(merged) => *sum = merged,
                    Err(error) => warnings.push(format!("{node}: {metric}: {error}")),
                },
                None => {
                    found.insert((index, label), series.histogram);
                }
            }
        }
    }
    found
}

fn labels_text(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", promql_string(v))).collect();
    format!("{{{}}}", inner.join(","))
}

/// A node's rows, in stage order, the slowest phase marked.
fn rows<'a>(
    series: impl Iterator<Item = ((usize, Option<String>), Histogram, Option<&'a str>)>,
    quantiles: &[f64],
) -> Vec<Row> {
    let mut rows: Vec<Row> = series
        .map(|((index, label), histogram, node)| {
            let matchers: Vec<String> =
                node.map(|n| format!("node={}", promql_string(n))).into_iter().collect();
            row(STAGES[index], label, &histogram, &matchers, quantiles)
        })
        .collect();
    sort_rows(&mut rows);
    mark_slowest(&mut rows);
    rows
}

fn cluster_rows(merged: Vec<ClusterSeries>, quantiles: &[f64]) -> Vec<Row> {
    let mut rows: Vec<Row> = merged
        .into_iter()
        .map(|((index, label), histogram, only)| {
            let matchers: Vec<String> = only
                .map(|nodes| {
                    let names: Vec<String> = nodes.iter().map(|n| regex_escape(n)).collect();
                    format!("node=~{}", promql_string(&names.join("|")))
                })
                .into_iter()
                .collect();
            row(STAGES[index], label, &histogram, &matchers, quantiles)
        })
        .collect();
    sort_rows(&mut rows);
    mark_slowest(&mut rows);
    rows
}

fn row(
    stage: Stage,
    label: Option<String>,
    histogram: &Histogram,
    matchers: &[String],
    quantiles: &[f64],
) -> Row {
    let mut all = matchers.to_vec();
    if let (Some(by), Some(value)) = (stage.by, &label) {
        all.push(format!("{by}={}", promql_string(value)));
    }
    let selector = if all.is_empty() { String::new() } else { format!("{{{}}}", all.join(",")) };
    let metric = stage.metric;
    let count = format!("sum({metric}_count{selector})");
    let sum = format!("sum({metric}_sum{selector})");
    let promql = Promql {
        mean: format!("{sum} / {count}"),
        quantiles: quantiles
            .iter()
            .map(|q| format!("histogram_quantile({q}, sum by (le) ({metric}_bucket{selector}))"))
            .collect(),
        count,
        sum,
    };
    let off_start_path = stage.metric == catalog::RUNTIME_OPERATIONS_DURATION
        && label.as_deref().is_some_and(|op| !START_OPERATIONS.contains(&op));
    Row {
        stage,
        role: if off_start_path { Role::Background } else { stage.role },
        label,
        count: histogram.count(),
        sum: histogram.sum(),
        mean: histogram.mean(),
        quantiles: quantiles
            .iter()
            .map(|q| Quantile {
                q: *q,
                value: histogram.quantile(*q),
                lower_bound: histogram.quantile_beyond_bounds(*q),
            })
            .collect(),
        largest_bound: histogram.bounds().last().copied().unwrap_or(f64::NAN),
        slowest: false,
        promql,
    }
}

/// Stage order, then label values: image size classes smallest first, others by name.
fn sort_rows(rows: &mut [Row]) {
    let rank = |row: &Row| {
        let stage = STAGES.iter().position(|s| *s == row.stage).unwrap_or(STAGES.len());
        let size =
            row.label.as_deref().and_then(|l| catalog::IMAGE_SIZE_CLASSES.iter().position(|c| *c == l));
        (stage, size.unwrap_or(usize::MAX), row.label.clone())
    };
    rows.sort_by_key(rank);
}

/// Marks the phase row with the largest mean (rows without observations never win).
fn mark_slowest(rows: &mut [Row]) {
    let slowest = rows
        .iter()
        .enumerate()
        .filter(|(_, row)| row.role == Role::Phase && row.count > 0.0 && row.mean.is_finite())
        .max_by(|(_, a), (_, b)| a.mean.total_cmp(&b.mean))
        .map(|(index, _)| index);
    if let Some(index) = slowest {
        rows[index].slowest = true;
    }
}

/// A PromQL string literal: double-quoted, backslashes and quotes escaped.
fn promql_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// A node name as a literal inside a RE2 alternation.
fn regex_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A caveat, and the nodes it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The metric it is about.
    pub metric: String,
    /// A stable short name: a catalog defect's (`double-count`, `ten-second-cap`, ...), or
    /// `negative-sum-seen` / `double-count-seen` for what a payload shows.
    pub id: String,
    /// What the reader must know, with the metric as its subject.
    pub text: String,
    /// Where it is documented.
    pub reference: String,
    /// The nodes it applies to, sorted.
    pub nodes: Vec<String>,
}

type ReadNode<'a> = (&'a str, Option<String>, NodeSeries);

/// The caveats for the stages each node has, chosen by its kubelet version and largest bucket
/// ([`catalog::caveats_for`]), then what the payloads themselves show.
fn findings(read: &[ReadNode<'_>]) -> Vec<Finding> {
    let mut found: Vec<Finding> = Vec::new();
    for (index, stage) in STAGES.iter().enumerate() {
        for (node, version, series) in read {
            let Some(largest) = series
                .iter()
                .filter(|((i, _), _)| *i == index)
                .filter_map(|(_, h)| h.bounds().last().copied())
                .reduce(f64::max)
            else {
                continue;
            };
            let version = version.as_deref().unwrap_or("unknown");
            for caveat in catalog::caveats_for(stage.metric, &[(version, Some(largest))]) {
                add(&mut found, caveat, node);
            }
        }
    }
    found.extend(payload_findings(read));
    found
}

fn add(found: &mut Vec<Finding>, caveat: Caveat, node: &str) {
    match found.iter_mut().find(|f| f.metric == caveat.metric && f.id == caveat.id) {
        Some(finding) => finding.nodes.push(node.to_string()),
        None => found.push(Finding {
            metric: caveat.metric,
            id: caveat.id,
            text: caveat.text,
            reference: caveat.reference,
            nodes: vec![node.to_string()],
        }),
    }
}

/// How much larger than the other pod-start counts `kubelet_pod_start_duration_seconds`'s count
/// must be to look like the double count: 1.8× leaves room for pods the others exclude.
const DOUBLE_COUNT_RATIO: f64 = 1.8;

fn payload_findings(read: &[ReadNode<'_>]) -> Vec<Finding> {
    let whole = |series: &NodeSeries, metric: &str| -> Option<Histogram> {
        let index = STAGES.iter().position(|s| s.metric == metric)?;
        series.get(&(index, None)).cloned()
    };
    let mut negative = Vec::new();
    let mut doubled = Vec::new();
    for (node, _, series) in read {
        if whole(series, catalog::POD_START_SLI_DURATION).is_some_and(|sli| sli.sum() < 0.0) {
            negative.push(node.to_string());
        }
        let reference = whole(series, catalog::POD_START_TOTAL_DURATION)
            .or_else(|| whole(series, catalog::POD_START_SLI_DURATION));
        if let (Some(kubelet), Some(reference)) = (whole(series, catalog::POD_START_DURATION), reference)
            && reference.count() > 0.0
            && kubelet.count() >= DOUBLE_COUNT_RATIO * reference.count()
        {
            doubled.push(node.to_string());
        }
    }
    let mut findings = Vec::new();
    if !negative.is_empty() {
        findings.push(Finding {
            metric: catalog::POD_START_SLI_DURATION.to_string(),
            id: "negative-sum-seen".to_string(),
            text: "has a negative `_sum` here: it recorded negative durations, so its mean is wrong and \
                   its low quantiles are too low"
                .to_string(),
            reference: "https://github.com/kubernetes/kubernetes/issues/130432".to_string(),
            nodes: negative,
        });
    }
    if !doubled.is_empty() {
        findings.push(Finding {
            metric: catalog::POD_START_DURATION.to_string(),
            id: "double-count-seen".to_string(),
            text: format!(
                "counts at least {DOUBLE_COUNT_RATIO}× the pods the other pod-start histogram counts \
                 here: it may count a pod twice, so read its count and low quantiles with care"
            ),
            reference: "https://github.com/kubernetes/kubernetes/issues/132268".to_string(),
            nodes: doubled,
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::parse;
    use crate::scrape::Scraped;

    fn scrape(node: &str, text: &str) -> NodeScrape {
        let families = parse(text).expect("fixture parses");
        NodeScrape {
            node: node.into(),
            kubelet_version: None,
            outcome: Ok(Scraped { families, ..Default::default() }),
        }
    }

    const V121: &str = include_str!("../../tests/fixtures/real/kubelet-1.21.2-metrics.prom");
    const V114: &str = include_str!("../../tests/fixtures/real/kubelet-1.14.10-metrics.prom");

    #[test]
    fn a_1_21_kubelet_has_sandbox_runtime_pleg_and_pod_start_but_no_sli_or_image_pull() {
        let result = breakdown(&[scrape("n121", V121)], &[0.5, 0.99]);
        let node = &result.nodes[0];
        assert_eq!(node.kubelet_version.as_deref(), Some("v1.21.2"));
        let titles: Vec<String> = node.rows.iter().map(Row::title).collect();
        assert!(titles.contains(&"pod start (kubelet)".to_string()));
        assert!(titles.contains(&"sandbox \"\"".to_string()));
        assert!(titles.contains(&"runtime pull_image".to_string()));
        assert!(titles.contains(&"PLEG relist".to_string()));
        assert!(!titles.iter().any(|t| t.starts_with("image pull") || t.starts_with("pod start (SLI)")));
        // kubelet-1.21.2-metrics.prom: pod start count 60, sum 202.36887400600008.
        let start = node.rows.iter().find(|r| r.stage.metric == catalog::POD_START_DURATION).unwrap();
        assert_eq!(start.count, 60.0);
        assert!((start.mean - 202.36887400600008 / 60.0).abs() < 1e-12);
        // Exactly one phase is the slowest, and it has the largest mean of the phases.
        let slowest: Vec<&Row> = node.rows.iter().filter(|r| r.slowest).collect();
        assert_eq!(slowest.len(), 1);
        let max = node.rows.iter().filter(|r| r.role == Role::Phase).map(|r| r.mean).fold(f64::MIN, f64::max);
        assert_eq!(slowest[0].mean, max);
        // stop_container (10.94 s mean) is slower, but stopping is not part of starting a pod.
        assert_eq!(slowest[0].title(), "runtime pull_image");
    }

    #[test]
    fn the_pod_worker_quantiles_stop_at_ten_seconds_and_say_so() {
        let result = breakdown(&[scrape("n114", V114)], &[0.99]);
        let worker =
            result.nodes[0].rows.iter().find(|r| r.stage.metric == catalog::POD_WORKER_DURATION).unwrap();
        assert_eq!(worker.largest_bound, 10.0);
        assert!(worker.quantiles[0].value <= 10.0);
        assert!(result.caveats.iter().any(|c| c.id == "ten-second-cap"));
        assert!(result.caveats.iter().any(|c| c.id == "short-buckets"));
    }

    #[test]
    fn the_cluster_covers_the_largest_layout_group_and_names_it_in_promql() {
        // Both fixtures have the runtime histogram, with different buckets (1.14: DefBuckets,
        // 1.21: exponential): the cluster row is one node's, and says so.
        let result = breakdown(&[scrape("a", V114), scrape("b", V121)], &[0.5]);
        let runtime = result
            .cluster
            .rows
            .iter()
            .find(|r| {
                r.stage.metric == catalog::RUNTIME_OPERATIONS_DURATION
                    && r.label.as_deref() == Some("pull_image")
            })
            .unwrap();
        let node_a = result.nodes[0].rows.iter().find(|r| r.title() == "runtime pull_image").unwrap();
        assert_eq!(runtime.count, node_a.count);
        assert!(runtime.promql.count.contains("node=~\"a\""), "{}", runtime.promql.count);
        assert!(result.partial.iter().any(|p| p.title == "runtime pull_image" && p.left_out == ["b"]));
        // PLEG relist: same layout on both, merged, no node matcher.
        let pleg =
            result.cluster.rows.iter().find(|r| r.stage.metric == catalog::PLEG_RELIST_DURATION).unwrap();
        assert_eq!(pleg.count, 42893.0 + 1.67195e6);
        assert_eq!(pleg.promql.count, "sum(kubelet_pleg_relist_duration_seconds_count)");
    }

    #[test]
    fn a_payload_without_any_stage_is_missing_and_the_others_go_on() {
        let cadvisor = "# TYPE machine_cpu_cores gauge\nmachine_cpu_cores 2\n";
        let result = breakdown(&[scrape("cad", cadvisor), scrape("ok", V121)], &[0.5]);
        assert_eq!(result.errors.len(), 1);
        assert_eq!(result.errors[0].kind, FailureKind::Missing);
        assert_eq!(result.nodes.len(), 1);
    }

    #[test]
    fn negative_sli_sums_and_doubled_counts_are_found_in_the_payload() {
        let text = "# TYPE kubelet_pod_start_sli_duration_seconds histogram\n\
            kubelet_pod_start_sli_duration_seconds_bucket{le=\"1\"} 4\n\
            kubelet_pod_start_sli_duration_seconds_bucket{le=\"+Inf\"} 5\n\
            kubelet_pod_start_sli_duration_seconds_sum -1.8e10\n\
            kubelet_pod_start_sli_duration_seconds_count 5\n\
            # TYPE kubelet_pod_start_duration_seconds histogram\n\
            kubelet_pod_start_duration_seconds_bucket{le=\"1\"} 9\n\
            kubelet_pod_start_duration_seconds_bucket{le=\"+Inf\"} 10\n\
            kubelet_pod_start_duration_seconds_sum 12\n\
            kubelet_pod_start_duration_seconds_count 10\n";
        let result = breakdown(&[scrape("aks", text)], &[0.5]);
        let ids: Vec<&str> = result.caveats.iter().map(|c| c.id.as_str()).collect();
        assert!(ids.contains(&"negative-sum-seen"), "{ids:?}");
        assert!(ids.contains(&"double-count-seen"), "{ids:?}");
        let doubled = result.caveats.iter().find(|c| c.id == "double-count-seen").unwrap();
        assert!(doubled.text.contains("may count a pod twice"));
        assert_eq!(doubled.nodes, ["aks"]);
    }

    #[test]
    fn label_values_are_quoted_for_promql() {
        assert_eq!(promql_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(regex_escape("ip-10.0.0.1"), "ip-10\\.0\\.0\\.1");
    }
}
