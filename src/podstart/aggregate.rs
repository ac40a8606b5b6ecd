//! Many pods → exact quantiles per node, namespace and workload, the stateless/stateful split of
//! the pod-startup SLO, the slowest pods, and how many pods each milestone had to skip and why.
//! Quantiles are nearest-rank over the samples themselves (the smallest observed latency that at
//! least that share of pods did not exceed), never estimated from buckets.

use std::collections::BTreeMap;

use super::{Latency, Milestone, PodStart, Skip};
use crate::slo::{Objective, Statistic, Verdict};

/// What to aggregate and when "now" is.
#[derive(Debug, Clone, PartialEq)]
pub struct PodQuery {
    /// The milestone the groups are ordered by, the slowest pods are chosen by and the SLO judges.
    pub milestone: Milestone,
    /// Quantiles to report, each in [0, 1].
    pub quantiles: Vec<f64>,
    /// How many of the slowest pods to list.
    pub top: usize,
    /// The current time, Unix seconds (pods not there yet have waited `now - created` so far).
    pub now: f64,
    /// Only pods created within this many seconds before `now`.
    pub since: Option<f64>,
}

impl PodQuery {
    /// A query for `milestone` at `now`: p50, p90, p99, the ten slowest pods, every pod.
    pub fn new(milestone: Milestone, now: f64) -> PodQuery {
        PodQuery { milestone, quantiles: vec![0.5, 0.9, 0.99], top: 10, now, since: None }
    }

    /// Whether a pod created at `created` (Unix seconds) is in the window.
    pub fn in_window(&self, created: Option<i64>) -> bool {
        match (self.since, created) {
            (None, _) => true,
            (Some(since), Some(created)) => created as f64 >= self.now - since,
            (Some(_), None) => false,
        }
    }
}

/// One milestone over a group of pods.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MilestoneStats {
    /// Pods with a latency for it.
    pub count: usize,
    /// `(q, seconds)` for each asked quantile, nearest-rank; empty without samples.
    pub quantiles: Vec<(f64, f64)>,
    /// The mean, without samples `None`.
    pub mean: Option<f64>,
    /// The largest latency.
    pub max: Option<f64>,
    /// Pods without a latency for it, by why.
    pub skipped: BTreeMap<Skip, usize>,
}

impl MilestoneStats {
    /// The asked quantile `q`, when there were samples.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantiles.iter().find(|(k, _)| *k == q).map(|(_, v)| *v)
    }
}

/// The latencies of one group, known within bounds: what the SLO is judged on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bounds {
    /// Below each pod's true latency (open bound): a second under what its timestamps say,
    /// what a pod not there yet has waited so far, 0 when only an upper bound is known.
    pub low: Vec<f64>,
    /// Above each pod's true latency (open bound): a second over what its timestamps say,
    /// `+Inf` for a pod not there yet.
    pub high: Vec<f64>,
    /// Latencies read from the timestamps.
    pub observed: Vec<f64>,
}

/// A node, namespace or workload, or the whole set.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Its name (`all`, `stateless`, `stateful`, a node, a namespace, `KIND/NAME`).
    pub name: String,
    /// For a workload, its namespace.
    pub namespace: Option<String>,
    /// Pods in the group.
    pub pods: usize,
    /// One entry per [`Milestone`], in [`Milestone::ALL`] order.
    pub milestones: Vec<MilestoneStats>,
}

impl Group {
    /// The stats of one milestone.
    pub fn milestone(&self, milestone: Milestone) -> &MilestoneStats {
        &self.milestones[milestone as usize]
    }
}

/// A pod among the slowest.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowPod {
    /// `NAMESPACE/NAME`.
    pub pod: String,
    /// Its node.
    pub node: Option<String>,
    /// Its workload, `KIND/NAME`.
    pub workload: String,
    /// Seconds to the query's milestone.
    pub seconds: f64,
    /// Seconds to every milestone (in [`Milestone::ALL`] order), where known.
    pub milestones: Vec<Option<f64>>,
}

/// Everything `pods` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct PodReport {
    /// The query.
    pub query: PodQuery,
    /// Pods listed (before the `--since` window).
    pub listed: usize,
    /// Every pod in the window.
    pub cluster: Group,
    /// Pods the pod-startup SLO calls stateless (volumes only from secrets, config maps, the
    /// downward API, emptyDir and projected sources).
    pub stateless: Group,
    /// The other pods.
    pub stateful: Group,
    /// Per node (unscheduled pods have none), slowest first.
    pub nodes: Vec<Group>,
    /// Per namespace, slowest first.
    pub namespaces: Vec<Group>,
    /// Per workload, slowest first.
    pub workloads: Vec<Group>,
    /// The slowest pods to the query's milestone.
    pub slowest: Vec<SlowPod>,
    /// The stateless pods' latencies to the query's milestone, within bounds (for `--slo`).
    pub stateless_bounds: Bounds,
    /// Every pod in the window, in listing order.
    pub pods: Vec<PodStart>,
}

/// The nearest-rank quantile of sorted samples: the smallest sample such that at least a share
/// `q` of the samples are not above it.
///
/// ```
/// use kubelet_metrics::podstart::aggregate::nearest_rank;
/// let sorted = [1.0, 2.0, 3.0, 4.0, 10.0];
/// assert_eq!(nearest_rank(&sorted, 0.5), Some(3.0));
/// assert_eq!(nearest_rank(&sorted, 0.99), Some(10.0));
/// assert_eq!(nearest_rank(&sorted, 0.0), Some(1.0));
/// assert_eq!(nearest_rank(&[], 0.5), None);
/// ```
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    Some(sorted[nearest_rank_index(q, sorted.len()) - 1])
}

/// The 1-based rank of the q-quantile among `n` values: ⌈q·n⌉, at least 1 — where nearest rank
/// and PromQL's `histogram_quantile` both place it.
pub fn nearest_rank_index(q: f64, n: usize) -> usize {
    // q·n is a rank; the small allowance keeps 0.99 × 100 (99.00000000000001) at rank 99.
    ((q * n as f64) - 1e-9).ceil().clamp(1.0, n.max(1) as f64) as usize
}

/// Aggregates pods into a report. Pods outside the query's window are left out.
pub fn aggregate(pods: Vec<PodStart>, query: &PodQuery) -> PodReport {
    let listed = pods.len();
    let pods: Vec<PodStart> = pods.into_iter().filter(|p| query.in_window(p.created)).collect();
    let all: Vec<&PodStart> = pods.iter().collect();
    let cluster = group("all", None, &all, query);
    let stateless_pods: Vec<&PodStart> = pods.iter().filter(|p| !p.stateful).collect();
    let stateful_pods: Vec<&PodStart> = pods.iter().filter(|p| p.stateful).collect();
    let stateless = group("stateless", None, &stateless_pods, query);
    let stateful = group("stateful", None, &stateful_pods, query);
    let mut by_node: BTreeMap<&str, Vec<&PodStart>> = BTreeMap::new();
    let mut by_namespace: BTreeMap<&str, Vec<&PodStart>> = BTreeMap::new();
    let mut by_workload: BTreeMap<(&str, String), Vec<&PodStart>> = BTreeMap::new();
    for pod in &pods {
        if let Some(node) = &pod.node {
            by_node.entry(node).or_default().push(pod);
        }
        by_namespace.entry(&pod.namespace).or_default().push(pod);
        by_workload.entry((&pod.namespace, pod.workload.to_string())).or_default().push(pod);
    }
    let mut nodes: Vec<Group> = by_node.iter().map(|(n, p)| group(n, None, p, query)).collect();
    let mut namespaces: Vec<Group> = by_namespace.iter().map(|(n, p)| group(n, None, p, query)).collect();
    let mut workloads: Vec<Group> =
        by_workload.iter().map(|((ns, w), p)| group(w, Some(ns), p, query)).collect();
    for groups in [&mut nodes, &mut namespaces, &mut workloads] {
        slowest_first(groups, query.milestone);
    }
    let stateless_bounds = bounds(&stateless_pods, query);
    let slowest = slowest(&pods, query);
    PodReport {
        query: query.clone(),
        listed,
        cluster,
        stateless,
        stateful,
        nodes,
        namespaces,
        workloads,
        slowest,
        stateless_bounds,
        pods,
    }
}

fn group(name: &str, namespace: Option<&str>, pods: &[&PodStart], query: &PodQuery) -> Group {
    let milestones = Milestone::ALL
        .iter()
        .map(|m| {
            let mut samples = Vec::with_capacity(pods.len());
            let mut skipped: BTreeMap<Skip, usize> = BTreeMap::new();
            for pod in pods {
                match pod.latency(*m) {
                    Latency::Seconds(s) => samples.push(s),
                    Latency::Skipped { why, .. } => *skipped.entry(why).or_default() += 1,
                }
            }
            samples.sort_by(f64::total_cmp);
            let quantiles =
                query.quantiles.iter().filter_map(|q| nearest_rank(&samples, *q).map(|v| (*q, v))).collect();
            let mean = (!samples.is_empty()).then(|| samples.iter().sum::<f64>() / samples.len() as f64);
            MilestoneStats { count: samples.len(), quantiles, mean, max: samples.last().copied(), skipped }
        })
        .collect();
    Group { name: name.to_string(), namespace: namespace.map(str::to_string), pods: pods.len(), milestones }
}

/// Slowest first: by the highest asked quantile of the milestone, then the mean, then the name;
/// groups without samples last.
fn slowest_first(groups: &mut [Group], milestone: Milestone) {
    let key = |g: &Group| {
        let stats = g.milestone(milestone);
        (stats.quantiles.last().map(|(_, v)| *v), stats.mean)
    };
    groups.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let order = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        order(ka.0, kb.0).then(order(ka.1, kb.1)).then(a.name.cmp(&b.name))
    });
}

fn slowest(pods: &[PodStart], query: &PodQuery) -> Vec<SlowPod> {
    let mut reached: Vec<(&PodStart, f64)> =
        pods.iter().filter_map(|p| p.latency(query.milestone).seconds().map(|s| (p, s))).collect();
    reached.sort_by(|a, b| {
        b.1.total_cmp(&a.1).then_with(|| (&a.0.namespace, &a.0.name).cmp(&(&b.0.namespace, &b.0.name)))
    });
    reached
        .into_iter()
        .take(query.top)
        .map(|(pod, seconds)| SlowPod {
            pod: format!("{}/{}", pod.namespace, pod.name),
            node: pod.node.clone(),
            workload: pod.workload.to_string(),
            seconds,
            milestones: Milestone::ALL.iter().map(|m| pod.latency(*m).seconds()).collect(),
        })
        .collect()
}

/// Each pod's latency to the milestone within open bounds. Timestamps have one-second
/// resolution, so a latency read as `d` lies in (d − 1, d + 1). A pod not there yet has waited
/// more than `now − created − 1` and its end is unbounded; a pod whose container restarted
/// reached the milestone by its current timestamp at the latest. Finished pods and unreadable
/// timestamps say nothing about the start and are left out.
fn bounds(pods: &[&PodStart], query: &PodQuery) -> Bounds {
    let mut out = Bounds::default();
    for pod in pods {
        match pod.latency(query.milestone) {
            Latency::Seconds(d) => {
                out.low.push((d - 1.0).max(0.0));
                out.high.push(d + 1.0);
                out.observed.push(d);
            }
            Latency::Skipped { why: Skip::NotYet, .. } => {
                let waited = pod.created.map_or(0.0, |c| (query.now - c as f64 - 1.0).max(0.0));
                out.low.push(waited);
                out.high.push(f64::INFINITY);
            }
            Latency::Skipped { why: Skip::Restarted, at_most } => {
                out.low.push(0.0);
                out.high.push(at_most.map_or(f64::INFINITY, |u| u + 1.0));
            }
            Latency::Skipped { .. } => {}
        }
    }
    for samples in [&mut out.low, &mut out.high, &mut out.observed] {
        samples.sort_by(f64::total_cmp);
    }
    out
}

impl PodReport {
    /// Judges an objective on the stateless pods' latencies to the query's milestone, as the
    /// pod-startup SLO scopes it: holds only when even the upper bounds meet it, violated when
    /// even the lower bounds break it, otherwise unknown.
    pub fn judge(&self, objective: &Objective) -> Verdict {
        let b = &self.stateless_bounds;
        let stat = |samples: &[f64]| match objective.statistic {
            Statistic::Quantile(q) => nearest_rank(samples, q),
            Statistic::Mean => {
                (!samples.is_empty()).then(|| samples.iter().sum::<f64>() / samples.len() as f64)
            }
        };
        let range = stat(&b.low).zip(stat(&b.high));
        let pending = b.high.iter().filter(|h| h.is_infinite()).count();
        let what = format!("{} of stateless pods", self.query.milestone);
        objective.judge_range("stateless".to_string(), &what, stat(&b.observed), range, pending)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PodStart, Workload};
    use super::*;

    fn pod(name: &str, node: &str, stateful: bool, ready: Latency) -> PodStart {
        let seconds = |s: f64| Latency::Seconds(s);
        PodStart {
            namespace: "default".into(),
            name: name.into(),
            node: Some(node.into()),
            workload: Workload { kind: "Deployment".into(), name: "web".into() },
            phase: "Running".into(),
            created: Some(1000),
            stateful,
            init_containers: false,
            latencies: [seconds(0.0), seconds(0.0), seconds(1.0), ready, ready],
            running: seconds(1.0),
        }
    }

    #[test]
    fn quantiles_are_nearest_rank_over_the_samples() {
        // 100 pods: 1..=100 s. p50 = 50, p90 = 90, p99 = 99 (rank 99 of 100), never interpolated.
        let pods: Vec<PodStart> =
            (1..=100).map(|i| pod(&format!("p{i}"), "n1", false, Latency::Seconds(f64::from(i)))).collect();
        let report = aggregate(pods, &PodQuery::new(Milestone::Ready, 5000.0));
        let ready = report.cluster.milestone(Milestone::Ready);
        assert_eq!(ready.quantiles, vec![(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)]);
        assert_eq!((ready.mean, ready.max), (Some(50.5), Some(100.0)));
        assert_eq!(report.slowest[0].seconds, 100.0);
        assert_eq!(report.slowest.len(), 10);
    }

    #[test]
    fn groups_are_slowest_first_and_stateful_pods_are_apart() {
        let pods = vec![
            pod("a", "fast", false, Latency::Seconds(1.0)),
            pod("b", "slow", false, Latency::Seconds(30.0)),
            pod("c", "slow", true, Latency::Seconds(60.0)),
        ];
        let report = aggregate(pods, &PodQuery::new(Milestone::Ready, 5000.0));
        assert_eq!(report.nodes.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["slow", "fast"]);
        assert_eq!((report.stateless.pods, report.stateful.pods), (2, 1));
        assert_eq!(report.workloads[0].name, "Deployment/web");
        assert_eq!(report.workloads[0].namespace.as_deref(), Some("default"));
    }

    #[test]
    fn the_slo_is_three_valued_at_one_second_resolution() {
        let judge = |ready: &[f64], pending: usize, objective: &str| {
            let mut pods: Vec<PodStart> = ready
                .iter()
                .enumerate()
                .map(|(i, s)| pod(&format!("p{i}"), "n", false, Latency::Seconds(*s)))
                .collect();
            for i in 0..pending {
                pods.push(pod(
                    &format!("q{i}"),
                    "n",
                    false,
                    Latency::Skipped { why: Skip::NotYet, at_most: None },
                ));
            }
            aggregate(pods, &PodQuery::new(Milestone::Ready, 1003.0))
                .judge(&Objective::parse(objective).unwrap())
        };
        use crate::slo::State;
        // Read as 3 s: the truth lies in (2, 4), which is <= 5 whatever it is.
        assert_eq!(judge(&[3.0; 10], 0, "p99<=5s").state, State::Holds);
        // Read as 5 s: the truth lies in (4, 6); <= 5 cannot be decided.
        assert_eq!(judge(&[5.0; 10], 0, "p99<=5s").state, State::Unknown);
        // Read as 7 s: the truth is above 6, so above 5.
        assert_eq!(judge(&[7.0; 10], 0, "p99<=5s").state, State::Violated);
        // A pod not ready after 3 s (created at 1000, now 1003) may end anywhere above 2 s: p99 unknown.
        assert_eq!(judge(&[1.0; 10], 1, "p99<=5s").state, State::Unknown);
        // ... but p50 is decided by the ten ready pods.
        assert_eq!(judge(&[1.0; 10], 1, "p50<=5s").state, State::Holds);
        // No pods: unknown, never a pass.
        assert_eq!(judge(&[], 0, "p99<=5s").state, State::Unknown);
    }

    #[test]
    fn the_window_keeps_pods_created_since() {
        let mut old = pod("old", "n", false, Latency::Seconds(1.0));
        old.created = Some(100);
        let new = pod("new", "n", false, Latency::Seconds(1.0));
        let mut query = PodQuery::new(Milestone::Ready, 1100.0);
        query.since = Some(600.0);
        let report = aggregate(vec![old, new], &query);
        assert_eq!((report.listed, report.cluster.pods), (2, 1));
    }
}
