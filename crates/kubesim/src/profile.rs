//! Node profiles (how fast a node starts pods, which kubelet version it runs) and the pod-start
//! histograms they produce, drawn from a seeded generator so a seed always gives the same cluster.
//! How the histograms are written out lives in `payload`; the ground truth types in `truth`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::truth::{Bucket, HistogramTruth};

/// `kubelet_pod_start_duration_seconds`.
pub const POD_START_DURATION: &str = "kubelet_pod_start_duration_seconds";
/// `kubelet_pod_start_sli_duration_seconds`.
pub const POD_START_SLI_DURATION: &str = "kubelet_pod_start_sli_duration_seconds";
/// `kubelet_pod_start_total_duration_seconds` (1.29+).
pub const POD_START_TOTAL_DURATION: &str = "kubelet_pod_start_total_duration_seconds";
/// `kubelet_image_pull_duration_seconds` (1.30+), by `image_size_in_bytes`.
pub const IMAGE_PULL_DURATION: &str = "kubelet_image_pull_duration_seconds";
/// `kubelet_run_podsandbox_duration_seconds`, by `runtime_handler`.
pub const RUN_PODSANDBOX_DURATION: &str = "kubelet_run_podsandbox_duration_seconds";
/// `kubelet_runtime_operations_duration_seconds`, by `operation_type`.
pub const RUNTIME_OPERATIONS_DURATION: &str = "kubelet_runtime_operations_duration_seconds";
/// `kubelet_pod_worker_duration_seconds`, by `operation_type` (every version).
pub const POD_WORKER_DURATION: &str = "kubelet_pod_worker_duration_seconds";
/// `kubelet_pleg_relist_duration_seconds` (every version).
pub const PLEG_RELIST_DURATION: &str = "kubelet_pleg_relist_duration_seconds";
/// PLEG relists per pod start: one a second while it starts, a few seconds each.
const RELISTS_PER_START: u32 = 5;
/// The CRI operations of a pod start, which kubesim records for each start; the captured
/// payload's other operations (listing, status polls, exec) are served as captured.
pub const START_OPERATIONS: [&str; 4] =
    ["create_container", "pull_image", "run_podsandbox", "start_container"];
/// CRI operation buckets from 1.21 on: `ExponentialBuckets(0.005, 2.5, 14)`, as the 1.21 capture spells them.
pub const RUNTIME_BUCKETS: [f64; 14] = [
    0.005,
    0.0125,
    0.03125,
    0.078125,
    0.1953125,
    0.48828125,
    1.220703125,
    3.0517578125,
    7.62939453125,
    19.073486328125,
    47.6837158203125,
    119.20928955078125,
    298.0232238769531,
    745.0580596923828,
];

/// Buckets of both pod-start histograms from Kubernetes 1.29 on (and of the SLI histogram since 1.27).
pub const NEW_BUCKETS: [f64; 25] = [
    0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0,
    480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0,
];
/// `kubelet_image_pull_duration_seconds` buckets (kubelet `imagePullDurationBuckets`).
pub const IMAGE_PULL_BUCKETS: [f64; 18] = [
    1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0,
    2700.0, 3600.0,
];
/// Prometheus' default buckets, used by `kubelet_pod_start_duration_seconds` before 1.29.
pub const OLD_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How a node behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Images cached, pods up in well under a second or two.
    Fast,
    /// Mostly quick starts, some image pulls of several seconds.
    Typical,
    /// Slow disk or registry: several seconds typical, tens of seconds often.
    Slow,
    /// Something is badly wrong: minutes-long starts, many containers.
    Pathological,
    /// A typical node still on a pre-1.29 kubelet (old pod-start buckets).
    Old,
}

impl Profile {
    /// The profile's name in truth.json and node labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Fast => "fast",
            Profile::Typical => "typical",
            Profile::Slow => "slow",
            Profile::Pathological => "pathological",
            Profile::Old => "old",
        }
    }

    /// Whether the node runs a pre-1.29 kubelet.
    pub fn is_old(self) -> bool {
        self == Profile::Old
    }

    /// The kubelet version this profile runs (a choice among a few, by node index).
    pub fn kubelet_version(self, index: usize) -> &'static str {
        match self {
            Profile::Old => ["v1.28.9", "v1.28.15"][index % 2],
            _ => ["v1.33.4", "v1.32.7", "v1.34.1"][index % 3],
        }
    }

    /// Whether the kubelet serves `kubelet_pod_start_total_duration_seconds` (1.29+) and
    /// `kubelet_image_pull_duration_seconds` (1.30+): every profile but the pre-1.29 one.
    pub fn has_total_and_image_pulls(self) -> bool {
        !self.is_old()
    }

    /// Typical `RunPodSandbox` seconds on this profile.
    fn sandbox_median(self) -> f64 {
        match self {
            Profile::Fast => 0.08,
            Profile::Typical | Profile::Old => 0.2,
            Profile::Slow => 0.6,
            Profile::Pathological => 2.5,
        }
    }

    /// The buckets of `kubelet_runtime_operations_duration_seconds` on this node: those of the
    /// capture its payload is built from (1.14's default buckets for the pre-1.29 profile).
    pub fn runtime_buckets(self) -> &'static [f64] {
        if self.is_old() { &OLD_BUCKETS } else { &RUNTIME_BUCKETS }
    }

    /// The buckets of `kubelet_pod_start_duration_seconds` on this node.
    pub fn duration_buckets(self) -> &'static [f64] {
        if self.is_old() { &OLD_BUCKETS } else { &NEW_BUCKETS }
    }

    /// One pod start: (seconds until running, seconds spent pulling images).
    /// The SLI histogram records the first minus the second.
    fn draw(self, rng: &mut SplitMix64) -> (f64, f64) {
        let (median, sigma, pull_chance, pull_median) = match self {
            Profile::Fast => (0.45, 0.5, 0.05, 2.0),
            Profile::Typical | Profile::Old => (1.1, 0.6, 0.3, 6.0),
            Profile::Slow => (4.0, 0.7, 0.5, 15.0),
            Profile::Pathological => (12.0, 1.0, 0.7, 60.0),
        };
        let base = (median * (sigma * rng.normal()).exp()).min(3000.0);
        let pull = if rng.unit() < pull_chance {
            (pull_median * (0.8 * rng.normal()).exp()).min(3000.0)
        } else {
            0.0
        };
        // Microsecond resolution, like a clock, so sums print the way a kubelet's do.
        let round = |v: f64| (v * 1e6).round() / 1e6;
        let (base, pull) = (round(base.max(0.05)), round(pull));
        (base + pull, pull)
    }
}

/// The profiles of an `n`-node cluster, deterministic for `seed`: exactly one pathological node once
/// there are two, one old kubelet per eight nodes (at least one once there are three), the rest a mix
/// of typical, fast and slow; shuffled by the seed.
pub fn assign(n: usize, seed: u64) -> Vec<Profile> {
    const MIX: [Profile; 7] = [
        Profile::Typical,
        Profile::Fast,
        Profile::Slow,
        Profile::Typical,
        Profile::Fast,
        Profile::Typical,
        Profile::Slow,
    ];
    let pathological = usize::from(n >= 2);
    let old = if n >= 3 { (n / 8).max(1) } else { 0 };
    let mut profiles = vec![Profile::Pathological; pathological];
    profiles.extend(std::iter::repeat_n(Profile::Old, old));
    profiles.extend((0..n - pathological - old).map(|i| MIX[i % MIX.len()]));
    let mut rng = SplitMix64::new(seed ^ 0x5eed_0fc1);
    // Fisher-Yates, so which node gets which profile depends on the seed.
    for i in (1..n).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        profiles.swap(i, j);
    }
    profiles
}

/// A small, fast, seedable generator (splitmix64, Vigna 2015).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator for this seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// One cumulative-on-output histogram: per-bucket counts, sum, count.
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Non-cumulative counts; one more than `bounds` for the +Inf bucket.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// An empty histogram with these finite bucket bounds.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self { bounds, counts: vec![0; bounds.len() + 1], sum: 0.0, count: 0 }
    }

    /// Records one observation, as Prometheus' client does (`le` is inclusive).
    pub fn observe(&mut self, value: f64) {
        let index = self.bounds.iter().position(|b| value <= *b).unwrap_or(self.bounds.len());
        self.counts[index] += 1;
        self.sum += value;
        self.count += 1;
    }

    /// The finite bounds.
    pub fn bounds(&self) -> &'static [f64] {
        self.bounds
    }

    /// Cumulative counts, one per finite bound and a last one for +Inf.
    pub fn cumulative(&self) -> Vec<u64> {
        self.counts
            .iter()
            .scan(0u64, |acc, c| {
                *acc += c;
                Some(*acc)
            })
            .collect()
    }

    /// The sum of observations.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// As truth.json reports it.
    pub fn truth(&self, metric: &str) -> HistogramTruth {
        let cumulative = self.cumulative();
        let buckets = self
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(cumulative)
            .map(|(le, count)| Bucket { le, count })
            .collect();
        HistogramTruth {
            metric: metric.to_string(),
            labels: BTreeMap::new(),
            buckets,
            sum: self.sum,
            count: self.count,
        }
    }
}

/// A node's pod-start counters and the generator that feeds them.
#[derive(Debug, Clone)]
pub struct PodStarts {
    profile: Profile,
    rng: SplitMix64,
    /// `kubelet_pod_start_duration_seconds`.
    pub duration: Histogram,
    /// `kubelet_pod_start_sli_duration_seconds`.
    pub sli: Histogram,
    /// `kubelet_pod_start_total_duration_seconds`: kubesim schedules at once, so a pod's total
    /// (from creation) equals what the kubelet measured.
    pub total: Histogram,
    /// `kubelet_image_pull_duration_seconds`, by size class: every pull of every start (empty
    /// on kubelets without the family).
    pub image_pull: BTreeMap<&'static str, Histogram>,
    /// `kubelet_run_podsandbox_duration_seconds{runtime_handler=""}`: one sandbox per start.
    pub sandbox: Histogram,
    /// `kubelet_runtime_operations_duration_seconds` of [`START_OPERATIONS`]: per start one
    /// sandbox (the same call as `sandbox`), one create and one start of its container, and its
    /// image pull if it pulled.
    pub runtime: BTreeMap<&'static str, Histogram>,
    /// `kubelet_pod_worker_duration_seconds` (Prometheus' default buckets, up to 10 s) by
    /// `operation_type`: per start one `create` sync, which starts the containers and lasts
    /// about as long as the start, and one short periodic `sync`.
    pub pod_worker: BTreeMap<&'static str, Histogram>,
    /// `kubelet_pleg_relist_duration_seconds` (default buckets): [`RELISTS_PER_START`] relists
    /// per start, each listing every pod and container of the node.
    pub pleg_relist: Histogram,
    /// Whether `kubelet_pod_start_duration_seconds` records each pod twice (kubernetes#132268).
    pub double_count: bool,
    /// `process_start_time_seconds`: when the kubelet process started (Unix seconds), which is
    /// when these counters began; a restart moves it to the moment of the restart.
    pub process_start: f64,
}

/// Whether a kubelet version records pods twice in `kubelet_pod_start_duration_seconds`
/// (kubernetes#132268, reported against 1.33; a maintainer could not reproduce it on kind): the
/// simulator gives it to 1.33 and 1.34 kubelets, and not to older ones.
pub fn double_counts(version: &str) -> bool {
    let minor = version.trim_start_matches('v').split('.').nth(1).and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 33)
}

/// The first observation of a double count: the kubelet's first sync of the pod, a few
/// milliseconds after it saw it. Derived from the start, so the generator's sequence is unchanged.
fn first_sync_seconds(total: f64) -> f64 {
    (0.002 + (total * 1e3).fract() * 0.05).min(0.5)
}

/// The size class (`image_size_in_bytes`) of an image that took `seconds` to pull: slower pulls
/// are of bigger images (kubelet `imageSizeBuckets` labels).
pub fn image_size_class(seconds: f64) -> &'static str {
    match seconds {
        s if s < 2.0 => "0-10MB",
        s if s < 8.0 => "10MB-100MB",
        s if s < 30.0 => "100MB-500MB",
        s if s < 120.0 => "500MB-1GB",
        _ => "1GB-5GB",
    }
}

/// A number in [0, 1) that depends only on `value` and `salt`: derived values (sandbox time)
/// stay consistent with each start without drawing from the generator, so the sequence of
/// starts for a seed is unchanged.
fn hashed_unit(value: f64, salt: u64) -> f64 {
    SplitMix64::new(value.to_bits() ^ salt).unit()
}

/// The seconds of the CRI call `operation` (create or start a container) in a start of `total`
/// seconds on `profile`: a tenth of the sandbox's time, give or take half.
pub fn container_call_seconds(profile: Profile, total: f64, operation: &str) -> f64 {
    let salt = operation.bytes().fold(0x00c0_ffee_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let seconds = profile.sandbox_median() * 0.1 * (0.5 + hashed_unit(total, salt));
    (seconds * 1e6).round() / 1e6
}

/// The `RunPodSandbox` seconds of a start of `total` seconds on `profile`.
pub fn sandbox_seconds(profile: Profile, total: f64) -> f64 {
    let seconds = profile.sandbox_median() * (0.5 + hashed_unit(total, 0x5a4d_b0c5));
    (seconds * 1e6).round() / 1e6
}

impl PodStarts {
    /// Counters for a node of this profile, with the starts it made before the simulation began,
    /// and those starts as (seconds until running, seconds pulling images).
    pub fn new(profile: Profile, seed: u64, index: usize) -> (Self, Vec<(f64, f64)>) {
        let mut rng =
            SplitMix64::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ (index as u64).wrapping_add(1) << 20);
        let initial = match profile {
            Profile::Pathological => rng.range(15, 40),
            _ => rng.range(20, 160),
        };
        let mut starts = Self {
            profile,
            rng,
            duration: Histogram::new(profile.duration_buckets()),
            sli: Histogram::new(&NEW_BUCKETS),
            double_count: double_counts(profile.kubelet_version(index)),
            total: Histogram::new(&NEW_BUCKETS),
            image_pull: BTreeMap::new(),
            sandbox: Histogram::new(&OLD_BUCKETS),
            runtime: START_OPERATIONS
                .iter()
                .map(|op| (*op, Histogram::new(profile.runtime_buckets())))
                .collect(),
            pod_worker: ["create", "sync"].into_iter().map(|op| (op, Histogram::new(&OLD_BUCKETS))).collect(),
            pleg_relist: Histogram::new(&OLD_BUCKETS),
            process_start: 0.0,
        };
        let drawn = starts.record(initial);
        (starts, drawn)
    }

    /// Records `pods` more pod starts; returns each as (seconds until running, seconds pulling).
    pub fn record(&mut self, pods: u64) -> Vec<(f64, f64)> {
        (0..pods)
            .map(|_| {
                let (total, pull) = self.profile.draw(&mut self.rng);
                if self.double_count {
                    self.duration.observe(first_sync_seconds(total));
                }
                self.duration.observe(total);
                self.sli.observe(((total - pull) * 1e6).round() / 1e6);
                let newer = self.profile.has_total_and_image_pulls();
                if newer {
                    self.total.observe(total);
                }
                if newer && pull > 0.0 {
                    self.image_pull
                        .entry(image_size_class(pull))
                        .or_insert_with(|| Histogram::new(&IMAGE_PULL_BUCKETS))
                        .observe(pull);
                }
                let sandbox = sandbox_seconds(self.profile, total);
                self.sandbox.observe(sandbox);
                let mut call = |operation: &str, seconds: f64| {
                    if let Some(histogram) = self.runtime.get_mut(operation) {
                        histogram.observe(seconds);
                    }
                };
                call("run_podsandbox", sandbox);
                if pull > 0.0 {
                    call("pull_image", pull);
                }
                for operation in ["create_container", "start_container"] {
                    call(operation, container_call_seconds(self.profile, total, operation));
                }
                let sync = container_call_seconds(self.profile, total, "sync");
                for (operation, seconds) in
                    [("create", ((total - sync).max(sync) * 1e6).round() / 1e6), ("sync", sync)]
                {
                    if let Some(histogram) = self.pod_worker.get_mut(operation) {
                        histogram.observe(seconds);
                    }
                }
                for relist in 0..RELISTS_PER_START {
                    self.pleg_relist.observe(container_call_seconds(
                        self.profile,
                        total + f64::from(relist),
                        "relist",
                    ));
                }
                (total, pull)
            })
            .collect()
    }

    /// A pod the kubelet has seen and not started yet: a double-counting kubelet has already
    /// recorded its first sync.
    pub fn first_sync(&mut self) {
        if self.double_count {
            self.duration.observe(first_sync_seconds(0.0));
        }
    }

    /// Zeroes every counter, as a kubelet restart at `now` (Unix seconds) does, and moves
    /// `process_start` there. The generator continues.
    pub fn restart(&mut self, now: f64) {
        self.process_start = now;
        self.duration = Histogram::new(self.duration.bounds());
        self.sli = Histogram::new(self.sli.bounds());
        self.total = Histogram::new(self.total.bounds());
        self.image_pull.clear();
        self.sandbox = Histogram::new(self.sandbox.bounds());
        for histogram in self.runtime.values_mut().chain(self.pod_worker.values_mut()) {
            *histogram = Histogram::new(histogram.bounds());
        }
        self.pleg_relist = Histogram::new(self.pleg_relist.bounds());
    }

    /// The histograms besides the two pod-start ones that this node's kubelet serves, as
    /// truth.json reports them: the total pod start and image pulls (1.29+ / 1.30+ kubelets), the
    /// sandbox, the CRI operations of pod starts, the pod worker's syncs and the PLEG relists.
    pub fn stage_truths(&self) -> Vec<HistogramTruth> {
        let mut truths = Vec::new();
        if self.profile.has_total_and_image_pulls() {
            truths.push(self.total.truth(POD_START_TOTAL_DURATION));
            for (class, histogram) in &self.image_pull {
                truths.push(histogram.truth(IMAGE_PULL_DURATION).with_label("image_size_in_bytes", class));
            }
        }
        truths.push(self.sandbox.truth(RUN_PODSANDBOX_DURATION).with_label("runtime_handler", ""));
        for (operation, histogram) in &self.runtime {
            truths.push(histogram.truth(RUNTIME_OPERATIONS_DURATION).with_label("operation_type", operation));
        }
        for (operation, histogram) in &self.pod_worker {
            truths.push(histogram.truth(POD_WORKER_DURATION).with_label("operation_type", operation));
        }
        truths.push(self.pleg_relist.truth(PLEG_RELIST_DURATION));
        truths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignment_is_deterministic_and_has_one_pathological_node() {
        let a = assign(12, 7);
        assert_eq!(a, assign(12, 7));
        assert_eq!(a.iter().filter(|p| **p == Profile::Pathological).count(), 1);
        assert!(a.contains(&Profile::Old));
        assert!(a.contains(&Profile::Fast));
        assert_ne!(assign(12, 7), assign(12, 8));
    }

    #[test]
    fn histograms_are_cumulative_and_le_is_inclusive() {
        let mut h = Histogram::new(&OLD_BUCKETS);
        h.observe(0.005);
        h.observe(20.0);
        let c = h.cumulative();
        assert_eq!(c[0], 1);
        assert_eq!(*c.last().unwrap(), 2);
        assert_eq!(c[c.len() - 2], 1);
        assert_eq!(h.count(), 2);
    }

    #[test]
    fn kubelets_from_1_33_count_each_start_twice_once_near_zero() {
        // Node index 0 runs v1.33.4, index 1 v1.32.7 (Profile::kubelet_version).
        let (twice, drawn) = PodStarts::new(Profile::Typical, 1, 0);
        assert!(twice.double_count);
        assert_eq!(twice.duration.count(), 2 * drawn.len() as u64);
        assert_eq!(twice.sli.count(), drawn.len() as u64, "the SLI histogram counts each pod once");
        assert!(twice.duration.cumulative()[0] >= drawn.len() as u64, "the extra ones are <= 0.5s");
        let (once, drawn) = PodStarts::new(Profile::Typical, 1, 1);
        assert!(!once.double_count);
        assert_eq!(once.duration.count(), drawn.len() as u64);
        assert!(!double_counts("v1.28.15") && double_counts("v1.34.1"));
    }

    #[test]
    fn every_start_has_a_sandbox_a_total_and_its_pulls_by_size() {
        let (p, drawn) = PodStarts::new(Profile::Slow, 3, 2);
        assert_eq!(p.sandbox.count(), drawn.len() as u64);
        assert_eq!(p.total.count(), drawn.len() as u64);
        // The total histogram counts each pod once, also on kubelets that count pods twice.
        let totals: f64 = drawn.iter().map(|(total, _)| *total).sum();
        assert!((p.total.sum() - totals).abs() < 1e-6);
        let pulls: Vec<f64> = drawn.iter().map(|(_, pull)| *pull).filter(|pull| *pull > 0.0).collect();
        assert_eq!(p.image_pull.values().map(Histogram::count).sum::<u64>(), pulls.len() as u64);
        let pulled: f64 = p.image_pull.values().map(Histogram::sum).sum();
        assert!((pulled - pulls.iter().sum::<f64>()).abs() < 1e-6);
        // Same start, same sandbox time: derived, not drawn.
        assert_eq!(sandbox_seconds(Profile::Slow, 4.5), sandbox_seconds(Profile::Slow, 4.5));
        let truths = p.stage_truths();
        assert_eq!(truths[0].metric, POD_START_TOTAL_DURATION);
        assert!(
            truths
                .iter()
                .any(|t| t.metric == IMAGE_PULL_DURATION && t.labels.contains_key("image_size_in_bytes"))
        );
        // One sandbox call per start, in both histograms; a pull_image call per pull.
        assert_eq!(p.runtime["run_podsandbox"].sum(), p.sandbox.sum());
        assert_eq!(p.runtime["pull_image"].count(), pulls.len() as u64);
        assert_eq!(p.runtime["start_container"].count(), drawn.len() as u64);
        let (old, _) = PodStarts::new(Profile::Old, 3, 2);
        let metrics: Vec<String> = old.stage_truths().into_iter().map(|t| t.metric).collect();
        assert_eq!(metrics[0], RUN_PODSANDBOX_DURATION);
        let tail = [POD_WORKER_DURATION, POD_WORKER_DURATION, PLEG_RELIST_DURATION];
        assert_eq!(metrics[metrics.len() - 3..], tail);
        assert!(metrics[1..metrics.len() - 3].iter().all(|m| m == RUNTIME_OPERATIONS_DURATION));
        // Every start: one create sync as long as the start (beyond the 10 s buckets when longer),
        // one short sync, and five relists.
        assert_eq!(p.pod_worker["create"].count(), drawn.len() as u64);
        assert_eq!(p.pod_worker["sync"].count(), drawn.len() as u64);
        assert_eq!(p.pleg_relist.count(), 5 * drawn.len() as u64);
        let slow = drawn
            .iter()
            .filter(|(total, _)| *total - container_call_seconds(Profile::Slow, *total, "sync") > 10.0)
            .count() as u64;
        let cumulative = p.pod_worker["create"].cumulative();
        assert!(slow > 0, "a slow node has starts beyond the 10 s bucket");
        assert_eq!(cumulative[cumulative.len() - 1] - cumulative[cumulative.len() - 2], slow);
    }

    #[test]
    fn restart_zeroes_and_counts_grow_again() {
        let (mut p, drawn) = PodStarts::new(Profile::Typical, 1, 1);
        assert_eq!(drawn.len() as u64, p.duration.count());
        let before = p.duration.count();
        p.record(5);
        assert_eq!(p.duration.count(), before + 5);
        assert_eq!(p.sli.count(), before + 5);
        p.restart(1_700_000_000.25);
        assert_eq!(p.process_start, 1_700_000_000.25);
        assert_eq!(p.duration.count(), 0);
        assert_eq!(p.sandbox.count(), 0);
        assert!(p.image_pull.is_empty());
        p.record(3);
        assert_eq!(p.duration.count(), 3);
    }
}
