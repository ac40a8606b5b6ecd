//! What the kubelet's histograms measure, which versions have which buckets, and their known
//! defects. Metric names live here and nowhere else. Pure data plus [`caveats`], which picks the
//! defects that apply to the kubelet versions in a report; the analysis and the renderers decide
//! where to show them.

/// Duration from the kubelet first seeing a pod to the pod running (includes image pulls).
pub const POD_START_DURATION: &str = "kubelet_pod_start_duration_seconds";
/// Pod start latency for the pod-startup SLO: excludes image pulls (and init containers' pulls).
pub const POD_START_SLI_DURATION: &str = "kubelet_pod_start_sli_duration_seconds";
/// End-to-end pod start latency including image pulls, from pod creation.
pub const POD_START_TOTAL_DURATION: &str = "kubelet_pod_start_total_duration_seconds";
/// Time a pod worker spends syncing one pod, by `operation_type` (create, update, sync).
pub const POD_WORKER_DURATION: &str = "kubelet_pod_worker_duration_seconds";
/// Time from the kubelet seeing a pod to starting its worker.
pub const POD_WORKER_START_DURATION: &str = "kubelet_pod_worker_start_duration_seconds";
/// Latency of CRI runtime calls, by `operation_type`.
pub const RUNTIME_OPERATIONS_DURATION: &str = "kubelet_runtime_operations_duration_seconds";
/// Duration of one PLEG relist (listing every pod and container from the runtime).
pub const PLEG_RELIST_DURATION: &str = "kubelet_pleg_relist_duration_seconds";
/// Interval between PLEG relists.
pub const PLEG_RELIST_INTERVAL: &str = "kubelet_pleg_relist_interval_seconds";
/// Duration of image pulls, by image size class (`image_size_in_bytes`, e.g. `10MB-100MB`).
pub const IMAGE_PULL_DURATION: &str = "kubelet_image_pull_duration_seconds";
/// Duration of `RunPodSandbox` CRI calls, by runtime handler.
pub const RUN_PODSANDBOX_DURATION: &str = "kubelet_run_podsandbox_duration_seconds";
/// Duration of cgroup manager operations, by `operation_type`.
pub const CGROUP_MANAGER_DURATION: &str = "kubelet_cgroup_manager_duration_seconds";
/// The kubelet's healthcheck results on `/metrics/slis` (a gauge per check: 1 healthy).
pub const HEALTHCHECK: &str = "kubernetes_healthcheck";
/// The kubelet's healthcheck counts on `/metrics/slis`, by check and `status`.
pub const HEALTHCHECKS_TOTAL: &str = "kubernetes_healthchecks_total";
/// The family that carries the kubelet's own version (`gitVersion` / `git_version` label).
pub const BUILD_INFO: &str = "kubernetes_build_info";
/// When the kubelet process started (Unix seconds): its histograms count from then.
pub const PROCESS_START_TIME: &str = "process_start_time_seconds";

/// Prometheus client default buckets (`DefBuckets`), used by many kubelet histograms.
pub const DEFAULT_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Pod-start buckets from 0.5 s to an hour (the SLI metric, and pod start duration from 1.29).
pub const POD_START_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0,
    480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0,
];

/// CRI operation buckets: exponential from 5 ms, factor 2.5 (kubernetes PR 96054).
pub const RUNTIME_OPERATIONS_BUCKETS: &[f64] = &[
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

/// Image pull buckets from 1 s to an hour (kubelet `imagePullDurationBuckets`, from 1.30).
pub const IMAGE_PULL_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0,
    2700.0, 3600.0,
];

/// The values of `image_size_in_bytes` on `kubelet_image_pull_duration_seconds`, smallest first
/// (kubelet `imageSizeBuckets`).
pub const IMAGE_SIZE_CLASSES: &[&str] = &[
    "0-10MB",
    "10MB-100MB",
    "100MB-500MB",
    "500MB-1GB",
    "1GB-5GB",
    "5GB-10GB",
    "10GB-20GB",
    "20GB-30GB",
    "30GB-40GB",
    "40GB-60GB",
    "60GB-100GB",
    "GT100GB",
];

/// A Kubernetes minor version, e.g. `1.29`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version (1).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl Version {
    /// Reads the major and minor version from a kubelet version string such as
    /// `v1.29.3-eks-4f4795d` or `1.14.10`; `None` when it is not one.
    ///
    /// ```
    /// use kubelet_metrics::catalog::Version;
    /// assert_eq!(Version::parse("v1.29.3-eks-4f4795d"), Some(Version { major: 1, minor: 29 }));
    /// assert_eq!(Version::parse("unknown"), None);
    /// ```
    pub fn parse(raw: &str) -> Option<Version> {
        let raw = raw.trim().trim_start_matches('v');
        let mut parts = raw.split(['.', '-', '+']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(Version { major, minor })
    }
}

/// The patch number of a kubelet version string (`v1.35.5-gke.1` → 5), when it has one.
///
/// ```
/// use kubelet_metrics::catalog::patch;
/// assert_eq!(patch("v1.35.5-gke.1"), Some(5));
/// assert_eq!(patch("1.14"), None);
/// ```
pub fn patch(raw: &str) -> Option<u32> {
    let raw = raw.trim().trim_start_matches('v');
    let mut parts = raw.split(['.', '-', '+']);
    parts.nth(2)?.parse().ok()
}

/// Which pods `kubelet_pod_start_sli_duration_seconds` counts on a kubelet version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliScope {
    /// Every pod, with image pull time subtracted (before kubernetes PR 131950): can go negative.
    Broad,
    /// Only stateless, immediately schedulable pods, without init containers and image pulls
    /// (PR 131950: 1.36, backported to 1.35.5).
    Narrow,
    /// Cannot say: 1.34 got the change in a patch release, or the version is unreadable.
    Unsure,
}

/// Which pods the SLI histogram counts on kubelet `version` (see [`SliScope`]).
///
/// ```
/// use kubelet_metrics::catalog::{sli_scope, SliScope};
/// assert_eq!(sli_scope("v1.36.0"), SliScope::Narrow);
/// assert_eq!(sli_scope("v1.35.5"), SliScope::Narrow);
/// assert_eq!(sli_scope("v1.35.4"), SliScope::Broad);
/// assert_eq!(sli_scope("v1.34.2"), SliScope::Unsure);
/// assert_eq!(sli_scope("v1.33.9"), SliScope::Broad);
/// ```
pub fn sli_scope(version: &str) -> SliScope {
    match Version::parse(version) {
        Some(Version { major: 1, minor }) if minor >= 36 => SliScope::Narrow,
        Some(Version { major: 1, minor: 35 }) => match patch(version) {
            Some(p) if p >= 5 => SliScope::Narrow,
            Some(_) => SliScope::Broad,
            None => SliScope::Unsure,
        },
        Some(Version { major: 1, minor: 34 }) => SliScope::Unsure,
        Some(Version { major: 1, .. }) => SliScope::Broad,
        _ => SliScope::Unsure,
    }
}

/// Whether `defect` applies to a kubelet that reports `raw` as its version (an unreadable
/// version is assumed affected). The SLI defects follow [`sli_scope`], which knows patches.
fn applies(defect: &Defect, raw: &str) -> bool {
    let Some(version) = Version::parse(raw) else { return true };
    if defect.id == SLI_NARROWED.id {
        sli_scope(raw) != SliScope::Broad
    } else if defect.id == NEGATIVE_SLI.id {
        sli_scope(raw) != SliScope::Narrow
    } else {
        defect.versions.contains(version)
    }
}

/// A half-open range of versions `[since, until)`; `None` leaves a side open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// First version in the range.
    pub since: Option<Version>,
    /// First version after the range.
    pub until: Option<Version>,
}

impl Versions {
    /// Every version.
    pub const ALL: Versions = Versions { since: None, until: None };

    /// True when `version` lies in the range.
    pub fn contains(&self, version: Version) -> bool {
        self.since.is_none_or(|since| version >= since) && self.until.is_none_or(|until| version < until)
    }
}

const fn v(minor: u32) -> Option<Version> {
    Some(Version { major: 1, minor })
}

/// Which buckets a metric has in a range of kubelet versions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// The versions with these buckets.
    pub versions: Versions,
    /// The finite bucket bounds (the `+Inf` bucket is implied).
    pub bounds: &'static [f64],
    /// Where this layout comes from.
    pub source: &'static str,
}

/// A known problem with a metric, and the text a report shows for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defect {
    /// A stable short name, e.g. `double-count`.
    pub id: &'static str,
    /// The kubelet versions known to have it.
    pub versions: Versions,
    /// What a reader of the report must know, in one or two sentences.
    pub text: &'static str,
    /// Where it is documented (an issue or PR URL).
    pub reference: &'static str,
}

/// One kubelet histogram this tool knows about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricInfo {
    /// The family name.
    pub name: &'static str,
    /// What one observation is.
    pub measures: &'static str,
    /// Labels that split its series (useful with `--by`).
    pub labels: &'static [&'static str],
    /// Bucket layouts by version, oldest first.
    pub layouts: &'static [Layout],
    /// Known defects.
    pub defects: &'static [Defect],
}

const DOUBLE_COUNT: Defect = Defect {
    id: "double-count",
    versions: Versions::ALL,
    text: "may count a pod twice, once near zero when the pod is first synced and once when it \
           runs, so `count` can overstate pod starts and low quantiles be pulled towards 0 (reported \
           open; a maintainer could not reproduce it on kind); for the pod-startup SLO use \
           kubelet_pod_start_sli_duration_seconds",
    reference: "https://github.com/kubernetes/kubernetes/issues/132268",
};

const INCLUDES_IMAGE_PULLS: Defect = Defect {
    id: "includes-image-pulls",
    versions: Versions::ALL,
    text: "includes image pulls, so slow registries look like slow nodes; the SLO metric \
           kubelet_pod_start_sli_duration_seconds excludes them (pod-startup SLO: p99 <= 5s)",
    reference: "https://github.com/kubernetes/community/blob/master/sig-scalability/slos/pod_startup_latency.md",
};

const SHORT_BUCKETS: Defect = Defect {
    id: "short-buckets",
    versions: Versions { since: None, until: v(29) },
    text: "before 1.29 the largest finite bucket is 10s, so any quantile or band above 10s is \
           reported as 10s or marked approximate",
    reference: "https://github.com/kubernetes/kubernetes/pull/120680",
};

const NEGATIVE_SLI: Defect = Defect {
    id: "negative-durations",
    versions: Versions { since: None, until: v(36) },
    text: "can record negative durations (seen as a negative `_sum` on AKS) when images are \
           pulled in parallel (serializeImagePulls=false), which drags the mean and low \
           quantiles down (also kubernetes#114903); the 1.36 rework of the SLI (PR 131950) \
           stops subtracting pull time",
    reference: "https://github.com/kubernetes/kubernetes/issues/130432",
};

const SLI_NARROWED: Defect = Defect {
    id: "sli-narrowed",
    versions: Versions { since: v(34), until: None },
    text: "from 1.36, and from 1.35.5 and the 1.34 patch releases that carry the backport, counts \
           only stateless, immediately schedulable pods and excludes init containers and image \
           pulls (PR 131950): its count is below the pods started, and its numbers are not \
           comparable across that upgrade",
    reference: "https://github.com/kubernetes/kubernetes/pull/131950",
};

const WORKER_CAP: Defect = Defect {
    id: "ten-second-cap",
    versions: Versions::ALL,
    text: "the largest finite bucket is 10s, so a quantile can never exceed 10s: an alert on \
           p99 > 60s (KubeletPodStartUpLatencyHigh) can never fire; slower syncs only show in \
           the +Inf bucket and the mean",
    reference: "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubeletpodstartuplatencyhigh/",
};

const SLO_NOTE: Defect = Defect {
    id: "slo",
    versions: Versions::ALL,
    text: "this is the pod-startup SLO metric: the Kubernetes SLO is p99 <= 5s over stateless \
           pods with pre-pulled images (image pulls are excluded)",
    reference: "https://github.com/kubernetes/community/blob/master/sig-scalability/slos/pod_startup_latency.md",
};

const DEFAULT_LAYOUT_ALL: &[Layout] =
    &[Layout { versions: Versions::ALL, bounds: DEFAULT_BUCKETS, source: "Prometheus client DefBuckets" }];

/// Every kubelet histogram the tool knows, sorted by name.
pub const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: CGROUP_MANAGER_DURATION,
        measures: "duration of a cgroup manager operation (create, update, destroy)",
        labels: &["operation_type"],
        layouts: DEFAULT_LAYOUT_ALL,
        defects: &[],
    },
    MetricInfo {
        name: IMAGE_PULL_DURATION,
        measures: "duration of one image pull, by image_size_in_bytes (a size class such as \
                   10MB-100MB, not a number of bytes)",
        labels: &["image_size_in_bytes"],
        layouts: &[Layout {
            versions: Versions { since: v(30), until: None },
            bounds: IMAGE_PULL_BUCKETS,
            source: "kubelet imagePullDurationBuckets (pkg/kubelet/metrics)",
        }],
        defects: &[],
    },
    MetricInfo {
        name: PLEG_RELIST_DURATION,
        measures: "duration of one PLEG relist: listing every pod and container from the runtime; \
                   relists slower than 3 minutes make the node NotReady (PLEG is not healthy)",
        labels: &[],
        layouts: DEFAULT_LAYOUT_ALL,
        defects: &[],
    },
    MetricInfo {
        name: PLEG_RELIST_INTERVAL,
        measures: "interval between the start of two PLEG relists (1s plus the relist duration \
                   when healthy)",
        labels: &[],
        layouts: DEFAULT_LAYOUT_ALL,
        defects: &[],
    },
    MetricInfo {
        name: POD_START_DURATION,
        measures: "time from the kubelet first seeing a pod to the pod running, image pulls included",
        labels: &[],
        layouts: &[
            Layout {
                versions: Versions { since: None, until: v(29) },
                bounds: DEFAULT_BUCKETS,
                source: "Prometheus client DefBuckets (e.g. the 1.14 and 1.21 fixtures)",
            },
            Layout {
                versions: Versions { since: v(29), until: None },
                bounds: POD_START_BUCKETS,
                source: "kubernetes PR 120680",
            },
        ],
        defects: &[DOUBLE_COUNT, INCLUDES_IMAGE_PULLS, SHORT_BUCKETS],
    },
    MetricInfo {
        name: POD_START_SLI_DURATION,
        measures: "time from pod creation to the pod running and watched, image pulls excluded \
                   (the pod-startup SLI)",
        labels: &[],
        layouts: &[Layout {
            versions: Versions { since: v(26), until: None },
            bounds: POD_START_BUCKETS,
            source: "kubernetes PR 111930",
        }],
        defects: &[SLO_NOTE, NEGATIVE_SLI, SLI_NARROWED],
    },
    MetricInfo {
        name: POD_START_TOTAL_DURATION,
        measures: "time from pod creation to the pod running, image pulls included (end to end)",
        labels: &[],
        layouts: &[Layout {
            versions: Versions { since: v(29), until: None },
            bounds: POD_START_BUCKETS,
            source: "kubernetes PR 121041",
        }],
        defects: &[],
    },
    MetricInfo {
        name: POD_WORKER_DURATION,
        measures: "time a pod worker spends in one sync of one pod, by operation_type (create, \
                   update, sync)",
        labels: &["operation_type"],
        layouts: DEFAULT_LAYOUT_ALL,
        defects: &[WORKER_CAP],
    },
    MetricInfo {
        name: POD_WORKER_START_DURATION,
        measures: "time from the kubelet seeing a pod to starting its worker",
        labels: &[],
        layouts: DEFAULT_LAYOUT_ALL,
        defects: &[],
    },
    MetricInfo {
        name: RUN_PODSANDBOX_DURATION,
        measures: "duration of the CRI RunPodSandbox call, by runtime_handler",
        labels: &["runtime_handler"],
        layouts: DEFAULT_LAYOUT_ALL,
        defects: &[],
    },
    MetricInfo {
        name: RUNTIME_OPERATIONS_DURATION,
        measures: "latency of one CRI runtime call, by operation_type (pull_image, \
                   container_status, ...)",
        labels: &["operation_type"],
        layouts: &[
            Layout {
                versions: Versions { since: None, until: v(21) },
                bounds: DEFAULT_BUCKETS,
                source: "Prometheus client DefBuckets",
            },
            Layout {
                versions: Versions { since: v(21), until: None },
                bounds: RUNTIME_OPERATIONS_BUCKETS,
                source: "kubernetes PR 96054 (present in the 1.21 fixture)",
            },
        ],
        defects: &[],
    },
];

/// What the catalogue knows about `metric`, if anything.
///
/// ```
/// use kubelet_metrics::catalog::{lookup, POD_START_DURATION};
/// assert!(lookup(POD_START_DURATION).is_some());
/// assert!(lookup("made_up_seconds").is_none());
/// ```
pub fn lookup(metric: &str) -> Option<&'static MetricInfo> {
    METRICS.iter().find(|info| info.name == metric)
}

/// The bucket bounds `metric` is expected to have on a kubelet `version`, if known.
///
/// ```
/// use kubelet_metrics::catalog::{expected_bounds, POD_START_DURATION};
/// assert_eq!(expected_bounds(POD_START_DURATION, "v1.28.4").unwrap().last(), Some(&10.0));
/// assert_eq!(expected_bounds(POD_START_DURATION, "v1.29.0").unwrap().last(), Some(&3600.0));
/// ```
pub fn expected_bounds(metric: &str, version: &str) -> Option<&'static [f64]> {
    let version = Version::parse(version)?;
    lookup(metric)?
        .layouts
        .iter()
        .find(|layout| layout.versions.contains(version))
        .map(|layout| layout.bounds)
}

/// A caveat to print with a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caveat {
    /// The metric it is about.
    pub metric: String,
    /// The defect's stable short name.
    pub id: String,
    /// What the reader must know.
    pub text: String,
    /// Where it is documented.
    pub reference: String,
    /// The given kubelet versions it applies to, sorted; `unknown` stands for a version that
    /// could not be read (a defect is assumed to apply when the version is unknown).
    pub versions: Vec<String>,
}

/// The known defects of `metric` that apply to any of `kubelet_versions` (version strings as the
/// nodes report them). A version that cannot be read is treated as affected; with no versions
/// at all, every defect of the metric is returned.
///
/// ```
/// use kubelet_metrics::catalog::{caveats, POD_START_DURATION};
/// let old = caveats(POD_START_DURATION, &["v1.28.3"]);
/// assert!(old.iter().any(|c| c.id == "short-buckets"));
/// let new = caveats(POD_START_DURATION, &["v1.30.1"]);
/// assert!(new.iter().any(|c| c.reference.ends_with("/132268")));
/// assert!(!new.iter().any(|c| c.id == "short-buckets"));
/// ```
pub fn caveats(metric: &str, kubelet_versions: &[&str]) -> Vec<Caveat> {
    let Some(info) = lookup(metric) else { return Vec::new() };
    info.defects
        .iter()
        .filter_map(|defect| {
            let mut versions: Vec<String> = kubelet_versions
                .iter()
                .filter(|raw| applies(defect, raw))
                .map(
                    |raw| if Version::parse(raw).is_some() { raw.to_string() } else { "unknown".to_string() },
                )
                .collect();
            versions.sort();
            versions.dedup();
            (kubelet_versions.is_empty() || !versions.is_empty()).then(|| Caveat {
                metric: metric.to_string(),
                id: defect.id.to_string(),
                text: defect.text.to_string(),
                reference: defect.reference.to_string(),
                versions,
            })
        })
        .collect()
}

/// The caveats of `metric` for the nodes that answered, each given as its kubelet version (as
/// reported, `unknown` when not known) and its histogram's largest finite bucket bound. Defects
/// tied to versions follow the versions ([`caveats`]); the short-buckets defect is visible in the
/// data itself, so it follows the buckets seen: it applies exactly to the nodes whose buckets
/// stop at 10 s, whatever their versions claim. With no nodes, every defect of the metric.
///
/// ```
/// use kubelet_metrics::catalog::{caveats_for, POD_START_DURATION};
/// let ids = |nodes: &[(&str, Option<f64>)]| -> Vec<String> {
///     caveats_for(POD_START_DURATION, nodes).into_iter().map(|c| c.id).collect()
/// };
/// assert!(ids(&[("v1.30.1", Some(10.0))]).contains(&"short-buckets".to_string()));
/// assert!(!ids(&[("v1.28.3", Some(3600.0))]).contains(&"short-buckets".to_string()));
/// ```
pub fn caveats_for(metric: &str, nodes: &[(&str, Option<f64>)]) -> Vec<Caveat> {
    if nodes.is_empty() {
        return caveats(metric, &[]);
    }
    let versions: Vec<&str> = nodes.iter().map(|(version, _)| *version).collect();
    let by_version = caveats(metric, &versions);
    let mut short: Vec<String> = nodes
        .iter()
        .filter(|(_, largest)| largest.is_some_and(|bound| bound <= SHORT_BUCKETS_LARGEST_BOUND))
        .map(
            |(version, _)| {
                if Version::parse(version).is_some() { version.to_string() } else { "unknown".to_string() }
            },
        )
        .collect();
    short.sort();
    short.dedup();
    caveats(metric, &[])
        .into_iter()
        .filter_map(|caveat| {
            if caveat.id == SHORT_BUCKETS.id {
                (!short.is_empty()).then(|| Caveat { versions: short.clone(), ..caveat })
            } else {
                by_version.iter().find(|c| c.id == caveat.id).cloned()
            }
        })
        .collect()
}

/// The largest finite bucket bound of the pod-start histogram before 1.29.
const SHORT_BUCKETS_LARGEST_BOUND: f64 = 10.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_sorted_and_unique() {
        let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn layouts_are_increasing() {
        for info in METRICS {
            for layout in info.layouts {
                assert!(layout.bounds.windows(2).all(|w| w[0] < w[1]), "{}", info.name);
            }
        }
    }

    #[test]
    fn caveats_follow_versions() {
        let ids = |versions: &[&str]| -> Vec<String> {
            caveats(POD_START_DURATION, versions).into_iter().map(|c| c.id).collect()
        };
        assert_eq!(ids(&["v1.14.10"]), vec!["double-count", "includes-image-pulls", "short-buckets"]);
        assert_eq!(ids(&["v1.31.2"]), vec!["double-count", "includes-image-pulls"]);
        // Unknown versions are assumed affected; no versions → every defect.
        assert_eq!(ids(&["garbage"]), ids(&[]));
        let mixed = caveats(POD_START_DURATION, &["v1.31.2", "v1.28.1", "v1.28.1", "??"]);
        let short = mixed.iter().find(|c| c.id == "short-buckets").unwrap();
        assert_eq!(short.versions, vec!["unknown", "v1.28.1"]);
        assert!(caveats("not_a_kubelet_metric", &["v1.30.0"]).is_empty());
    }

    #[test]
    fn sli_caveats_mention_slo_and_negative_sums() {
        let text: Vec<String> =
            caveats(POD_START_SLI_DURATION, &["v1.31.0"]).into_iter().map(|c| c.text).collect();
        assert!(text.iter().any(|t| t.contains("p99 <= 5s")));
        assert!(text.iter().any(|t| t.contains("negative `_sum` on AKS")));
    }

    #[test]
    fn expected_layouts_match_fixtures() {
        // tests/fixtures/real/kubelet-1.14.10-metrics.prom and the seed (a 1.29+ kubelet).
        assert_eq!(expected_bounds(POD_START_DURATION, "v1.14.10"), Some(DEFAULT_BUCKETS));
        assert_eq!(expected_bounds(POD_START_DURATION, "v1.33.1"), Some(POD_START_BUCKETS));
        assert_eq!(expected_bounds(RUNTIME_OPERATIONS_DURATION, "v1.21.2"), Some(RUNTIME_OPERATIONS_BUCKETS));
        assert_eq!(expected_bounds(POD_START_DURATION, "nonsense"), None);
    }
}
