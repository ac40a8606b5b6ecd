//! The cross-check: per node, the kubelet's own pod-start histograms beside the pods the API
//! server says started there, over the same window — since the kubelet started
//! (`process_start_time_seconds`), because its histograms count from then. Pure: the histograms
//! and the pods come in read; fetching lives in `commands::pods`, rendering in `report::pods`.
//!
//! What is compared, and the rules (docs/decisions.md says the same):
//! - **Pods**: those the API lists on the node, created at or after the kubelet started, whose
//!   containers had all started (the pod's phase turned Running) at least two seconds before the
//!   histograms were read. Pods created earlier and still listed may be observed once more when
//!   the kubelet restarts; pods that started within two seconds of the read, a restarted pod
//!   whose first start may be that close, or pods with unreadable timestamps may or may not be in
//!   the histograms. Both widen the count a histogram may have.
//! - **`kubelet_pod_start_duration_seconds`** times the kubelet first seeing a pod to its running,
//!   so each pod's API value is its latest container `startedAt` minus its `PodScheduled` time.
//!   Its count matches when it lies between the started pods and that plus the uncertain ones;
//!   it is a **double count** (kubernetes#132268: "may count a pod twice") when it is about twice
//!   the started pods — between 2 × started and that plus pending and uncertain pods, the pending
//!   ones being seen once at their first sync — and every extra observation fits in the buckets
//!   up to 0.5 s, where that first near-zero observation lands. A count above both is unknown:
//!   the API cannot list pods deleted since the kubelet started. A count below the started pods
//!   disagrees.
//! - **Quantiles, exactly**: the histogram's q-quantile is its rank-⌈q·n⌉ observation, which lies
//!   in one bucket (lo, hi]. The API's latencies are whole seconds of a truth within a second
//!   either way, and the kubelet notices a started container at its next relist (every second),
//!   so the same rank among the pods lies in (A − 1, A + 2) for the pods' latency A at that rank,
//!   widened to `(A[r − k] − 1, A[r] + 2)` when the histogram holds k observations the pods cannot
//!   place. The two **disagree** when these intervals do not meet: more than bucket resolution
//!   and timestamp resolution explain. Under a double count the extra observations are taken
//!   out of the lowest buckets first (they are the near-zero ones) and the rest is compared.
//! - **`kubelet_pod_start_sli_duration_seconds`** leaves out image pulls, which the API does not
//!   show, so it can only be checked from above: a pod's SLI value is at most its creation to
//!   running. Its q-quantile disagrees when its whole bucket lies at or above A + 2 for the
//!   pods' value A at the matching rank. What it counts depends on its meaning: before 1.36 every
//!   started pod; from 1.36 (kubernetes#131950, backported to 1.35.5 and a 1.34 patch release)
//!   only stateless pods, scheduled at once, with init containers' time left out too. The meaning
//!   is chosen by the kubelet's version and checked against the count; on 1.34 (whose patch
//!   release is not pinned here) and unknown versions the count alone decides, and where it
//!   cannot the meaning stays unknown.

use std::fmt;

use super::aggregate::{nearest_rank, nearest_rank_index};
use super::{Latency, PodStart, Skip};
use crate::catalog::{POD_START_DURATION, POD_START_SLI_DURATION, PROCESS_START_TIME, SliScope};
use crate::exposition::Family;
use crate::histogram::{Histogram, format_number, from_samples, quantile_name};

/// Pods whose start lies this close to the histograms' read may be on either side of it.
const IN_FLIGHT_SECONDS: f64 = 2.0;
/// Where the near-zero first observation of a double count lands: both bucket layouts of
/// `kubelet_pod_start_duration_seconds` have a bucket at 0.5 s.
const NEAR_ZERO_BOUND: f64 = 0.5;

/// What one node's kubelet said, or why it said nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReading {
    /// The node's name.
    pub node: String,
    /// `status.nodeInfo.kubeletVersion`, else the payload's `kubernetes_build_info`.
    pub kubelet_version: Option<String>,
    /// The histograms, or why they could not be read.
    pub outcome: Result<KubeletHistograms, String>,
}

/// The kubelet's pod-start histograms and when they count from.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeletHistograms {
    /// `process_start_time_seconds` (Unix seconds), when the payload has it.
    pub started_at: Option<f64>,
    /// When the payload was read, Unix seconds: not before the first, not after the second.
    pub read_between: (f64, f64),
    /// `kubelet_pod_start_duration_seconds`, when the payload has it.
    pub duration: Option<Histogram>,
    /// `kubelet_pod_start_sli_duration_seconds`, when the payload has it.
    pub sli: Option<Histogram>,
}

/// How the pods and a kubelet's histograms compare on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckVerdict {
    /// Counts and quantiles agree within bucket and timestamp resolution.
    Agree,
    /// `kubelet_pod_start_duration_seconds` counts about twice the pods (kubernetes#132268).
    DoubleCount,
    /// The two disagree beyond what resolution explains.
    Disagree,
    /// Cannot be vouched for (no kubelet start time, pods deleted since, no histogram, a failed node).
    Unknown,
}

impl CheckVerdict {
    /// Its spelling in output: `agree`, `double-count`, `disagree`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckVerdict::Agree => "agree",
            CheckVerdict::DoubleCount => "double-count",
            CheckVerdict::Disagree => "disagree",
            CheckVerdict::Unknown => "unknown",
        }
    }
}

impl fmt::Display for CheckVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a histogram's count compares with the pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountState {
    /// Within the expected range.
    Matches,
    /// About twice the started pods, the extra observations near zero.
    DoubleCount,
    /// More than the pods explain: pods deleted since cannot be listed.
    More,
    /// Fewer than the pods that started.
    Fewer,
}

impl CountState {
    /// Its spelling in output: `matches`, `double-count`, `more`, `fewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            CountState::Matches => "matches",
            CountState::DoubleCount => "double-count",
            CountState::More => "more",
            CountState::Fewer => "fewer",
        }
    }
}

/// Whether two values agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// Within resolution.
    Agree,
    /// Beyond resolution.
    Disagree,
    /// Not compared (counts off, no pods, no observations).
    Unknown,
}

impl Agreement {
    /// `agree`, `disagree`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Agreement::Agree => "agree",
            Agreement::Disagree => "disagree",
            Agreement::Unknown => "unknown",
        }
    }
}

/// What the SLI histogram counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliMeaning {
    /// Before 1.36: every pod, image pulls left out.
    EveryPod,
    /// From 1.36 (and its backports): stateless pods scheduled at once, image pulls and init
    /// containers left out.
    StatelessOnly,
}

impl SliMeaning {
    /// `every-pod` or `stateless-only`.
    pub fn as_str(self) -> &'static str {
        match self {
            SliMeaning::EveryPod => "every-pod",
            SliMeaning::StatelessOnly => "stateless-only",
        }
    }

    /// What it leaves out, in words.
    pub fn excludes(self) -> &'static str {
        match self {
            SliMeaning::EveryPod => "image pulls",
            SliMeaning::StatelessOnly => {
                "image pulls, init containers, stateful pods and pods not scheduled at once"
            }
        }
    }

    fn other(self) -> SliMeaning {
        match self {
            SliMeaning::EveryPod => SliMeaning::StatelessOnly,
            SliMeaning::StatelessOnly => SliMeaning::EveryPod,
        }
    }

    /// The meaning a kubelet version has, when its version pins it: 1.36 and later, and 1.35.5
    /// and later 1.35 releases, leave stateful pods out; 1.33 and earlier, and 1.35.0–1.35.4, do
    /// not. 1.34 got the change in a patch release this tool does not pin, so `None` (as for a
    /// version it cannot read): the catalog's [`crate::catalog::sli_scope`] decides.
    ///
    /// ```
    /// use kubelet_metrics::podstart::crosscheck::SliMeaning;
    /// assert_eq!(SliMeaning::of_version("v1.36.0"), Some(SliMeaning::StatelessOnly));
    /// assert_eq!(SliMeaning::of_version("v1.35.5-eks-1"), Some(SliMeaning::StatelessOnly));
    /// assert_eq!(SliMeaning::of_version("v1.35.4"), Some(SliMeaning::EveryPod));
    /// assert_eq!(SliMeaning::of_version("v1.34.2"), None);
    /// assert_eq!(SliMeaning::of_version("v1.33.11"), Some(SliMeaning::EveryPod));
    /// ```
    pub fn of_version(version: &str) -> Option<SliMeaning> {
        match crate::catalog::sli_scope(version) {
            SliScope::Narrow => Some(SliMeaning::StatelessOnly),
            SliScope::Broad => Some(SliMeaning::EveryPod),
            SliScope::Unsure => None,
        }
    }
}

/// One quantile, from both sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantileCheck {
    /// The quantile, in [0, 1].
    pub q: f64,
    /// The pods' latency at that rank (whole seconds), when there are pods.
    pub pods: Option<f64>,
    /// The histogram's estimate (PromQL `histogram_quantile`), when it has observations.
    pub kubelet: Option<f64>,
    /// The bucket `(lo, hi]` holding the histogram's observation at that rank.
    pub bucket: Option<(f64, f64)>,
    /// The verdict.
    pub state: Agreement,
}

/// One histogram beside the pods.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCheck {
    /// Observations in the histogram.
    pub count: u64,
    /// The counts the pods explain, inclusive.
    pub expected: (usize, usize),
    /// How the count compares.
    pub count_state: CountState,
    /// One per asked quantile.
    pub quantiles: Vec<QuantileCheck>,
}

/// The SLI histogram beside the pods.
#[derive(Debug, Clone, PartialEq)]
pub struct SliCheck {
    /// What it counts, when known.
    pub meaning: Option<SliMeaning>,
    /// How the meaning was chosen.
    pub meaning_from: String,
    /// The comparison, against the pods of that meaning (every started pod when unknown).
    pub metric: MetricCheck,
}

/// How many pods of the node fall where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PodCounts {
    /// Created since the kubelet started, every container started before the read.
    pub started: usize,
    /// Of those, stateless (the pod-startup SLO's sense).
    pub stateless: usize,
    /// Of the stateless ones, scheduled within a second of creation.
    pub stateless_at_once: usize,
    /// Of the started ones, with init containers.
    pub with_init: usize,
    /// Created since the kubelet started, not running yet.
    pub pending: usize,
    /// Created before the kubelet started and still listed.
    pub before_start: usize,
    /// Started too close to the read to place, or with unreadable timestamps.
    pub uncertain: usize,
}

/// One node's cross-check.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCheck {
    /// The node.
    pub node: String,
    /// Its kubelet's version.
    pub kubelet_version: Option<String>,
    /// When its kubelet started (Unix seconds).
    pub kubelet_started: Option<f64>,
    /// The pods.
    pub pods: PodCounts,
    /// `kubelet_pod_start_duration_seconds` beside the pods.
    pub duration: Option<MetricCheck>,
    /// `kubelet_pod_start_sli_duration_seconds` beside the pods.
    pub sli: Option<SliCheck>,
    /// The node's verdict.
    pub verdict: CheckVerdict,
    /// Why, in sentences.
    pub findings: Vec<String>,
}

/// The cross-check of every node read.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossCheck {
    /// The quantiles compared.
    pub quantiles: Vec<f64>,
    /// One per node, sorted by name.
    pub nodes: Vec<NodeCheck>,
}

impl CrossCheck {
    /// How many nodes have each verdict.
    pub fn tally(&self, verdict: CheckVerdict) -> usize {
        self.nodes.iter().filter(|n| n.verdict == verdict).count()
    }
}

impl NodeReading {
    /// What a node's `/metrics` families say: both pod-start histograms, the kubelet's start and
    /// version (`kubelet_version` from the node's status, else the payload's build info). A
    /// histogram whose series cannot be read, or that splits into several series, makes the node
    /// unreadable rather than half-compared.
    pub fn from_families(
        node: &str,
        kubelet_version: Option<String>,
        families: &[Family],
        read_between: (f64, f64),
    ) -> NodeReading {
        let outcome = (|| {
            let started_at = families
                .iter()
                .filter(|f| f.name == PROCESS_START_TIME)
                .flat_map(|f| &f.samples)
                .map(|s| s.value)
                .find(|v| v.is_finite() && *v > 0.0);
            Ok(KubeletHistograms {
                started_at,
                read_between,
                duration: histogram_of(families, POD_START_DURATION)?,
                sli: histogram_of(families, POD_START_SLI_DURATION)?,
            })
        })();
        NodeReading {
            node: node.to_string(),
            kubelet_version: kubelet_version.or_else(|| crate::analysis::build_version(families)),
            outcome,
        }
    }
}

/// The one histogram of `metric` in these families (also when each of its `_bucket`, `_sum`,
/// `_count` is a family of its own, as in grep'd text); `None` when there is none.
fn histogram_of(families: &[Family], metric: &str) -> Result<Option<Histogram>, String> {
    let suffixed = [format!("{metric}_bucket"), format!("{metric}_sum"), format!("{metric}_count")];
    let samples =
        families.iter().filter(|f| f.name == metric || suffixed.contains(&f.name)).flat_map(|f| &f.samples);
    let read = from_samples(metric, samples);
    if let Some(problem) = read.problems.first() {
        return Err(format!("{metric}: {}", problem.error));
    }
    match read.series.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.histogram.clone())),
        more => Err(format!("{metric}: {} series where the kubelet has one", more.len())),
    }
}

/// Cross-checks every node read against the pods listed (all of them; each is matched to its
/// `spec.nodeName`).
pub fn cross_check(readings: &[NodeReading], pods: &[PodStart], quantiles: &[f64]) -> CrossCheck {
    let mut nodes: Vec<NodeCheck> = readings
        .iter()
        .map(|reading| {
            let on_node: Vec<&PodStart> =
                pods.iter().filter(|p| p.node.as_deref() == Some(reading.node.as_str())).collect();
            check_node(reading, &on_node, quantiles)
        })
        .collect();
    nodes.sort_by(|a, b| a.node.cmp(&b.node));
    CrossCheck { quantiles: quantiles.to_vec(), nodes }
}

/// The pods of one node sorted into the window, with the latencies each histogram times.
struct Window {
    counts: PodCounts,
    /// Scheduled → running of the started pods, sorted.
    duration: Vec<f64>,
    /// Creation → running of the started pods, sorted.
    every: Vec<f64>,
    /// Creation → running of the started stateless pods, sorted.
    stateless: Vec<f64>,
}

fn window(pods: &[&PodStart], started_at: f64, (read_from, read_until): (f64, f64)) -> Window {
    let mut w = Window { counts: PodCounts::default(), duration: vec![], every: vec![], stateless: vec![] };
    for pod in pods {
        let Some(created) = pod.created.map(|c| c as f64) else {
            w.counts.uncertain += 1;
            continue;
        };
        if created < started_at.floor() {
            w.counts.before_start += 1;
            continue;
        }
        if created > read_until {
            // Created after the histograms were read: in neither.
            continue;
        }
        let scheduled = pod.latency(super::Milestone::Scheduled).seconds();
        let (running, exact) = match pod.running {
            Latency::Seconds(s) => (s, true),
            // A restarted container hides the first start; it happened by this time at the latest.
            Latency::Skipped { why: Skip::Restarted, at_most: Some(s) } => (s, false),
            Latency::Skipped { why: Skip::NotYet, .. } => {
                w.counts.pending += 1;
                continue;
            }
            Latency::Skipped { why: Skip::Finished, .. } => continue,
            Latency::Skipped { .. } => {
                w.counts.uncertain += 1;
                continue;
            }
        };
        let at = created + running;
        if at + IN_FLIGHT_SECONDS > read_from {
            if exact && at - IN_FLIGHT_SECONDS > read_until {
                w.counts.pending += 1;
            } else {
                w.counts.uncertain += 1;
            }
            continue;
        }
        w.counts.started += 1;
        w.counts.with_init += usize::from(pod.init_containers);
        if !pod.stateful {
            w.counts.stateless += 1;
            w.counts.stateless_at_once += usize::from(scheduled.is_some_and(|s| s <= 1.0));
        }
        if exact {
            w.duration.push((running - scheduled.unwrap_or(0.0)).max(0.0));
            w.every.push(running);
            if !pod.stateful {
                w.stateless.push(running);
            }
        }
    }
    for samples in [&mut w.duration, &mut w.every, &mut w.stateless] {
        samples.sort_by(f64::total_cmp);
    }
    w
}

fn check_node(reading: &NodeReading, pods: &[&PodStart], quantiles: &[f64]) -> NodeCheck {
    let mut check = NodeCheck {
        node: reading.node.clone(),
        kubelet_version: reading.kubelet_version.clone(),
        kubelet_started: None,
        pods: PodCounts::default(),
        duration: None,
        sli: None,
        verdict: CheckVerdict::Unknown,
        findings: Vec::new(),
    };
    let histograms = match &reading.outcome {
        Ok(h) => h,
        Err(message) => {
            check.findings.push(format!("no histograms: {message}"));
            return check;
        }
    };
    check.kubelet_started = histograms.started_at;
    let Some(started_at) = histograms.started_at else {
        check.findings.push(
            "the payload has no process_start_time_seconds, so the window its histograms count \
             from is unknown"
                .to_string(),
        );
        return check;
    };
    let w = window(pods, started_at, histograms.read_between);
    check.pods = w.counts;
    let c = w.counts;
    let slack = c.before_start + c.uncertain;
    let mut verdicts = Vec::new();

    match &histograms.duration {
        None => check.findings.push("the payload has no kubelet_pod_start_duration_seconds".to_string()),
        Some(h) => {
            let (metric, verdict) = duration_check(h, &w, slack, quantiles, &mut check.findings);
            verdicts.push(verdict);
            check.duration = Some(metric);
        }
    }
    if let Some(h) = &histograms.sli {
        let (sli, verdict) = sli_check(h, &w, slack, reading.kubelet_version.as_deref(), quantiles);
        let stateful = c.started - c.stateless;
        check.findings.push(match sli.meaning {
            Some(SliMeaning::EveryPod) => format!(
                "kubelet_pod_start_sli_duration_seconds counts every pod with {} left out ({}): its {} pods \
                 with init containers count that time and its {stateful} stateful pods count, which the \
                 1.36 SLI leaves out",
                SliMeaning::EveryPod.excludes(),
                sli.meaning_from,
                c.with_init
            ),
            Some(SliMeaning::StatelessOnly) => format!(
                "kubelet_pod_start_sli_duration_seconds leaves out {} ({}): its {stateful} stateful pods \
                 are not in it",
                SliMeaning::StatelessOnly.excludes(),
                sli.meaning_from
            ),
            None => format!(
                "kubelet_pod_start_sli_duration_seconds: whether it leaves out stateful pods is unknown ({})",
                sli.meaning_from
            ),
        });
        for q in sli.metric.quantiles.iter().filter(|q| q.state == Agreement::Disagree) {
            check.findings.push(format!(
                "SLI {}: the kubelet's observation lies in {} but no pod took that long from creation to running ({})",
                quantile_name(q.q),
                bucket_text(q.bucket),
                seconds_text(q.pods)
            ));
        }
        if verdict == CheckVerdict::Disagree {
            verdicts.push(verdict);
        }
        check.sli = Some(sli);
    }
    check.verdict = if verdicts.contains(&CheckVerdict::Disagree) {
        CheckVerdict::Disagree
    } else if verdicts.contains(&CheckVerdict::DoubleCount) {
        CheckVerdict::DoubleCount
    } else if verdicts.contains(&CheckVerdict::Agree) {
        CheckVerdict::Agree
    } else {
        CheckVerdict::Unknown
    };
    check
}

fn duration_check(
    h: &Histogram,
    w: &Window,
    slack: usize,
    quantiles: &[f64],
    findings: &mut Vec<String>,
) -> (MetricCheck, CheckVerdict) {
    let c = w.counts;
    let count = h.count().max(0.0).round() as u64;
    let n = count as usize;
    let expected = (c.started, c.started + slack);
    let near_zero = h.count_le(NEAR_ZERO_BOUND).0.max(0.0).round() as usize;
    let double = (2 * c.started, 2 * c.started + c.pending + slack);
    let count_state = if n < expected.0 {
        CountState::Fewer
    } else if n <= expected.1 {
        CountState::Matches
    } else if c.started > 0 && (double.0..=double.1).contains(&n) && near_zero >= n - c.started {
        CountState::DoubleCount
    } else {
        CountState::More
    };
    let mut metric = MetricCheck { count, expected, count_state, quantiles: Vec::new() };
    let verdict = match count_state {
        CountState::Fewer => {
            findings.push(format!(
                "kubelet_pod_start_duration_seconds counts {count} starts, fewer than the {} pods \
                 that started here since the kubelet did",
                c.started
            ));
            metric.quantiles = quantiles.iter().map(|q| unknown_quantile(h, *q, &w.duration)).collect();
            return (metric, CheckVerdict::Disagree);
        }
        CountState::More => {
            findings.push(format!(
                "kubelet_pod_start_duration_seconds counts {count} starts for {} pods that started \
                 here (up to {} with those it may or may not hold): the API lists no pod deleted \
                 since, so the rest cannot be placed",
                c.started, expected.1
            ));
            metric.quantiles = quantiles.iter().map(|q| unknown_quantile(h, *q, &w.duration)).collect();
            return (metric, CheckVerdict::Unknown);
        }
        CountState::DoubleCount => {
            findings.push(format!(
                "kubelet_pod_start_duration_seconds counts {count} starts for {} pods that started \
                 here, the {} extra all at or below {NEAR_ZERO_BOUND}s: it counts pods twice \
                 (kubernetes#132268); quantiles compared without the extra ones",
                c.started,
                n - c.started
            ));
            CheckVerdict::DoubleCount
        }
        CountState::Matches => CheckVerdict::Agree,
    };
    let extra = if count_state == CountState::DoubleCount { n - c.started } else { 0 };
    let compared = without_lowest(h, extra as f64);
    let unplaced = (n - extra).saturating_sub(w.duration.len());
    metric.quantiles = quantiles.iter().map(|q| two_sided(&compared, *q, &w.duration, unplaced)).collect();
    for q in metric.quantiles.iter().filter(|q| q.state == Agreement::Disagree) {
        findings.push(format!(
            "{}: the kubelet's observation lies in {}, the pods' is {} (scheduled → running)",
            quantile_name(q.q),
            bucket_text(q.bucket),
            seconds_text(q.pods)
        ));
    }
    let disagrees = metric.quantiles.iter().any(|q| q.state == Agreement::Disagree);
    (metric, if disagrees { CheckVerdict::Disagree } else { verdict })
}

fn sli_check(
    h: &Histogram,
    w: &Window,
    slack: usize,
    version: Option<&str>,
    quantiles: &[f64],
) -> (SliCheck, CheckVerdict) {
    let c = w.counts;
    let count = h.count().max(0.0).round() as u64;
    let n = count as usize;
    let range = |meaning: SliMeaning| match meaning {
        SliMeaning::EveryPod => (c.started, c.started + slack),
        SliMeaning::StatelessOnly => (c.stateless_at_once, c.stateless + slack),
    };
    let fits = |meaning: SliMeaning| {
        let (lo, hi) = range(meaning);
        (lo..=hi).contains(&n)
    };
    let by_version = version.and_then(SliMeaning::of_version);
    let shown = version.unwrap_or("an unknown version");
    let (meaning, meaning_from) = match by_version {
        Some(m) if fits(m) => (Some(m), format!("{shown}, and its count fits")),
        Some(m) if fits(m.other()) => {
            (Some(m.other()), format!("its count fits {} pods, not what {shown} implies", m.other().as_str()))
        }
        Some(m) => (Some(m), format!("{shown}; its count fits neither meaning")),
        None => match (fits(SliMeaning::EveryPod), fits(SliMeaning::StatelessOnly)) {
            (true, false) => (Some(SliMeaning::EveryPod), format!("{shown} does not pin it; its count does")),
            (false, true) => {
                (Some(SliMeaning::StatelessOnly), format!("{shown} does not pin it; its count does"))
            }
            (true, true) => (None, format!("{shown} does not pin it, and its count fits both meanings")),
            (false, false) => (None, format!("{shown} does not pin it, and its count fits neither meaning")),
        },
    };
    let samples = match meaning {
        Some(SliMeaning::StatelessOnly) => &w.stateless,
        _ => &w.every,
    };
    let expected = range(meaning.unwrap_or(SliMeaning::EveryPod));
    let count_state = if n < expected.0 {
        CountState::Fewer
    } else if n <= expected.1 {
        CountState::Matches
    } else {
        CountState::More
    };
    let compare = meaning.is_some() && count_state == CountState::Matches;
    let quantiles: Vec<QuantileCheck> = quantiles
        .iter()
        .map(|q| if compare { from_above(h, *q, samples) } else { unknown_quantile(h, *q, samples) })
        .collect();
    let verdict = if quantiles.iter().any(|q| q.state == Agreement::Disagree)
        || (meaning.is_some()
            && !fits(SliMeaning::EveryPod)
            && !fits(SliMeaning::StatelessOnly)
            && n < expected.0)
    {
        CheckVerdict::Disagree
    } else if compare {
        CheckVerdict::Agree
    } else {
        CheckVerdict::Unknown
    };
    let metric = MetricCheck { count, expected, count_state, quantiles };
    (SliCheck { meaning, meaning_from, metric }, verdict)
}

/// The histogram with `extra` observations taken out of its lowest buckets.
fn without_lowest(h: &Histogram, extra: f64) -> Histogram {
    if extra <= 0.0 {
        return h.clone();
    }
    let buckets: Vec<(f64, f64)> = h.buckets().iter().map(|b| (b.le, (b.count - extra).max(0.0))).collect();
    Histogram::from_cumulative(&buckets, h.sum()).unwrap_or_else(|_| h.clone())
}

/// The bucket `(lo, hi]` holding the observation of rank `r`.
fn bucket_of_rank(h: &Histogram, r: usize) -> Option<(f64, f64)> {
    let mut lo = 0.0;
    for bucket in h.buckets() {
        if bucket.count >= r as f64 {
            return Some((lo, bucket.le));
        }
        lo = bucket.le;
    }
    None
}

fn kubelet_side(h: &Histogram, q: f64) -> (usize, Option<f64>, Option<(f64, f64)>) {
    let n = h.count().max(0.0).round() as usize;
    if n == 0 {
        return (0, None, None);
    }
    let r = nearest_rank_index(q, n);
    (r, Some(h.quantile(q)).filter(|v| v.is_finite()), bucket_of_rank(h, r))
}

fn unknown_quantile(h: &Histogram, q: f64, samples: &[f64]) -> QuantileCheck {
    let (_, kubelet, bucket) = kubelet_side(h, q);
    QuantileCheck { q, pods: nearest_rank(samples, q), kubelet, bucket, state: Agreement::Unknown }
}

/// Both sides must meet: the bucket of rank r against (A[r − k] − 1, A[r] + 2).
fn two_sided(h: &Histogram, q: f64, samples: &[f64], unplaced: usize) -> QuantileCheck {
    let (r, kubelet, bucket) = kubelet_side(h, q);
    let pods = nearest_rank(samples, q);
    let state = match bucket {
        Some((lo, hi)) if !samples.is_empty() => {
            let low = r.checked_sub(unplaced).filter(|i| *i >= 1).map_or(0.0, |i| samples[i - 1] - 1.0);
            let high = samples.get(r - 1).map_or(f64::INFINITY, |a| a + 2.0);
            if low < hi && high > lo { Agreement::Agree } else { Agreement::Disagree }
        }
        _ => Agreement::Unknown,
    };
    QuantileCheck { q, pods, kubelet, bucket, state }
}

/// From above only: the bucket of rank r must start below A[r + max(S − n, 0)] + 2.
fn from_above(h: &Histogram, q: f64, samples: &[f64]) -> QuantileCheck {
    let (r, kubelet, bucket) = kubelet_side(h, q);
    let pods = nearest_rank(samples, q);
    let n = h.count().max(0.0).round() as usize;
    let index = r + samples.len().saturating_sub(n);
    let state = match (bucket, samples.get(index.wrapping_sub(1))) {
        (Some((lo, _)), Some(a)) if index >= 1 => {
            if lo >= a + 2.0 {
                Agreement::Disagree
            } else {
                Agreement::Agree
            }
        }
        _ => Agreement::Unknown,
    };
    QuantileCheck { q, pods, kubelet, bucket, state }
}

/// `(2, 3]`, `(600, +Inf)`.
pub fn bucket_text(bucket: Option<(f64, f64)>) -> String {
    match bucket {
        Some((lo, hi)) if hi.is_infinite() => format!("({}s, +Inf)", format_number(lo)),
        Some((lo, hi)) => format!("({}s, {}s]", format_number(lo), format_number(hi)),
        None => "no bucket".to_string(),
    }
}

fn seconds_text(value: Option<f64>) -> String {
    value.map_or("-".to_string(), |v| format!("{}s", format_number(v)))
}

#[cfg(test)]
mod tests;
