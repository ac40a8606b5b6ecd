//! What `serve` exposes to Prometheus, as exposition families: the collected kubelet histograms
//! with a `node` label (so PromQL can aggregate them by node or cluster-wide), the cluster-wide
//! numbers of our own analysis, and the health of each collection. Pure: the clock and the
//! collection come in as values; the HTTP server lives in `commands::serve`.

use crate::analysis::Report;
use crate::exposition::{Family, LabelSet, MetricKind, Sample};
use crate::histogram::format_number;
use crate::scrape::NodeScrape;
use crate::snapshot::label_by_node;

/// One finished collection cycle, as `serve` saw it.
#[derive(Debug, Clone)]
pub struct Cycle<'a> {
    /// `proxy`, `direct` or `file`.
    pub method: &'a str,
    /// Every node of this cycle, answered or not.
    pub scrapes: &'a [NodeScrape],
    /// One analysis per served histogram.
    pub reports: &'a [Report],
    /// How long the cycle took, in seconds.
    pub duration_seconds: f64,
    /// When it finished, in seconds since the Unix epoch.
    pub finished_unix_seconds: f64,
    /// Cycles finished since `serve` started, this one included.
    pub cycles: u64,
}

/// Prefix of every family `serve` adds of its own.
pub const PREFIX: &str = "kubelet_metrics";

/// The families to serve for `cycle`: health first, then the cluster-wide analysis, then the
/// kubelets' own histograms relabelled with `node`.
pub fn families(cycle: &Cycle<'_>) -> Vec<Family> {
    let mut out = health(cycle);
    out.extend(cluster_numbers(cycle.reports));
    let nodes = crate::scrape::answered(cycle.scrapes);
    out.extend(label_by_node(&nodes));
    out
}

fn family(name: &str, kind: MetricKind, help: &str, samples: Vec<Sample>) -> Family {
    Family { name: format!("{PREFIX}_{name}"), help: help.to_string(), kind, unit: String::new(), samples }
}

fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        name: format!("{PREFIX}_{name}").into(),
        labels: labels.iter().copied().collect(),
        value,
        timestamp_ms: None,
    }
}

fn health(cycle: &Cycle<'_>) -> Vec<Family> {
    let per_node = |name: &str, value: &dyn Fn(&NodeScrape) -> Option<f64>| -> Vec<Sample> {
        cycle
            .scrapes
            .iter()
            .filter_map(|s| value(s).map(|v| sample(name, &[("node", &s.node), ("method", cycle.method)], v)))
            .collect()
    };
    let up = per_node("node_up", &|s| Some(if s.outcome.is_ok() { 1.0 } else { 0.0 }));
    let duration = per_node("node_scrape_duration_seconds", &|s| {
        s.outcome.as_ref().ok().map(|ok| ok.elapsed.as_secs_f64())
    });
    let bytes = per_node("node_scrape_bytes", &|s| s.outcome.as_ref().ok().map(|ok| ok.bytes as f64));
    let errors: Vec<Sample> = cycle
        .scrapes
        .iter()
        .filter_map(|s| {
            let failure = s.outcome.as_ref().err()?;
            Some(sample("node_error", &[("node", &s.node), ("kind", failure.kind.as_str())], 1.0))
        })
        .collect();
    let ok = cycle.scrapes.iter().filter(|s| s.outcome.is_ok()).count() as f64;
    let failed = cycle.scrapes.len() as f64 - ok;
    vec![
        family(
            "node_up",
            MetricKind::Gauge,
            "Whether the last collection read this node (1) or not (0).",
            up,
        ),
        family(
            "node_scrape_duration_seconds",
            MetricKind::Gauge,
            "Time to fetch and parse this node's payload in the last collection.",
            duration,
        ),
        family(
            "node_scrape_bytes",
            MetricKind::Gauge,
            "Bytes read from this node in the last collection.",
            bytes,
        ),
        family(
            "node_error",
            MetricKind::Gauge,
            "Set to 1 for each node that failed the last collection, labelled with the kind of failure.",
            errors,
        ),
        family(
            "nodes",
            MetricKind::Gauge,
            "Nodes in the last collection, by outcome.",
            vec![sample("nodes", &[("state", "ok")], ok), sample("nodes", &[("state", "failed")], failed)],
        ),
        family(
            "collection_duration_seconds",
            MetricKind::Gauge,
            "Wall time of the last collection.",
            vec![sample("collection_duration_seconds", &[], cycle.duration_seconds)],
        ),
        family(
            "last_collection_timestamp_seconds",
            MetricKind::Gauge,
            "When the last collection finished, in seconds since the Unix epoch.",
            vec![sample("last_collection_timestamp_seconds", &[], cycle.finished_unix_seconds)],
        ),
        // Named with `_total`: the 0.0.4 text format's HELP and TYPE name the counter's series.
        family(
            "collections_total",
            MetricKind::Counter,
            "Collections finished since this process started.",
            vec![sample("collections_total", &[], cycle.cycles as f64)],
        ),
    ]
}

/// Count, sum and quantiles of each served histogram across the cluster, as our analysis computes
/// them (per bucket layout when layouts differ, labelled `layout="1"`, `"2"`, ...), as one
/// summary family: `quantile` is a label only summaries may carry, and `_sum`/`_count` are
/// suffixes only summaries and histograms may use (`promtool check metrics`). Unlike a client
/// library's summary, `_sum` and `_count` are the totals over the nodes read in the last
/// collection, so they drop when a node is not read: rates belong on the kubelets' own buckets.
fn cluster_numbers(reports: &[Report]) -> Vec<Family> {
    let mut summary = Vec::new();
    let mut lower_bounds = Vec::new();
    for report in reports {
        let metric = report.metric.as_str();
        let layouts: Vec<(String, &crate::analysis::Stats)> = if report.cluster.layouts.len() > 1 {
            report.cluster.layouts.iter().enumerate().map(|(i, l)| ((i + 1).to_string(), &l.stats)).collect()
        } else {
            vec![(String::new(), &report.cluster.stats)]
        };
        for (layout, stats) in layouts {
            let mut labels = vec![("metric", metric)];
            if !layout.is_empty() {
                labels.push(("layout", layout.as_str()));
            }
            for (q, value) in &stats.quantiles {
                let key = format_number(*q);
                let mut with_q = labels.clone();
                with_q.push(("quantile", key.as_str()));
                summary.push(sample(CLUSTER_SUMMARY, &with_q, *value));
                let mut with_q = labels.clone();
                with_q.push(("q", key.as_str()));
                let lower = if stats.is_lower_bound(*q) { 1.0 } else { 0.0 };
                lower_bounds.push(sample("cluster_quantile_lower_bound", &with_q, lower));
            }
            summary.push(sample(&format!("{CLUSTER_SUMMARY}_sum"), &labels, stats.sum));
            summary.push(sample(&format!("{CLUSTER_SUMMARY}_count"), &labels, stats.count));
        }
    }
    vec![
        family(
            CLUSTER_SUMMARY,
            MetricKind::Summary,
            "Cluster-wide quantiles (PromQL histogram_quantile over buckets merged by le), sum and count of the \
             histogram over every node read in the last collection.",
            summary,
        ),
        family(
            "cluster_quantile_lower_bound",
            MetricKind::Gauge,
            "1 when the cluster quantile q's rank lies in the +Inf bucket: its value, the highest finite bound, is \
             only a lower bound.",
            lower_bounds,
        ),
    ]
}

/// The summary family of the cluster-wide numbers, without the prefix:
/// `kubelet_metrics_cluster_observations{metric,quantile}`, `..._sum` and `..._count`.
pub const CLUSTER_SUMMARY: &str = "cluster_observations";

// --- serve's own health across cycles (honest during outages) ---

/// How `serve` has fared across cycles, including those where nothing could be collected (the
/// API server down, listing timed out): what Prometheus needs to see an outage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outage {
    /// Whether the last cycle could collect at all; `None` before the first cycle ends.
    pub last_succeeded: Option<bool>,
    /// Cycles that could not collect, by reason (a failure kind such as `timeout`, or `config`).
    pub failures: std::collections::BTreeMap<String, u64>,
    /// Failed cycles since the last one that collected.
    pub consecutive_failures: u64,
    /// Nodes of the last cycle that collected: after a failed cycle they are served as down,
    /// and their data is dropped rather than served as current.
    pub known_nodes: Vec<String>,
    /// The access method, for the `method` label of `node_up`.
    pub method: String,
}

/// The families describing `serve`'s collections across cycles. After a failed cycle they also
/// carry `node_up 0` for every node last seen (the cycle's own families are then not served).
pub fn outage_families(outage: &Outage) -> Vec<Family> {
    let mut out = Vec::new();
    if let Some(succeeded) = outage.last_succeeded {
        out.push(family(
            "collection_success",
            MetricKind::Gauge,
            "Whether the last collection could run at all (1) or failed before reading any node (0).",
            vec![sample("collection_success", &[], if succeeded { 1.0 } else { 0.0 })],
        ));
    }
    // Named with `_total`: the 0.0.4 text format's HELP and TYPE name the counter's series.
    out.push(family(
        "collection_failures_total",
        MetricKind::Counter,
        "Collections that could not run since this process started, by reason.",
        outage
            .failures
            .iter()
            .map(|(reason, n)| sample("collection_failures_total", &[("reason", reason)], *n as f64))
            .collect(),
    ));
    out.push(family(
        "consecutive_failed_collections",
        MetricKind::Gauge,
        "Failed collections since the last one that ran; /readyz fails once it reaches the limit.",
        vec![sample("consecutive_failed_collections", &[], outage.consecutive_failures as f64)],
    ));
    if outage.last_succeeded == Some(false) && !outage.known_nodes.is_empty() {
        out.push(family(
            "node_up",
            MetricKind::Gauge,
            "Whether the last collection read this node (1) or not (0).",
            outage
                .known_nodes
                .iter()
                .map(|node| sample("node_up", &[("node", node), ("method", &outage.method)], 0.0))
                .collect(),
        ));
    }
    out
}

// --- the process itself: build info and the standard process metrics ---

/// `kubelet_metrics_build_info{version}` with value 1: which release is running, for joins.
pub fn build_info(version: &str) -> Family {
    family(
        "build_info",
        MetricKind::Gauge,
        "Always 1; the labels say which kubelet-metrics release is running.",
        vec![sample("build_info", &[("version", version)], 1.0)],
    )
}

/// What the kernel says about this process, for the standard `process_*` metrics that client
/// libraries export (names and units as in the Prometheus client libraries' process collector).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Resident memory, in bytes.
    pub resident_memory_bytes: u64,
    /// Virtual memory, in bytes.
    pub virtual_memory_bytes: u64,
    /// Start time, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
    /// OS threads.
    pub threads: u64,
    /// Open file descriptors, when they could be counted.
    pub open_fds: Option<u64>,
    /// The soft limit on open file descriptors, when there is one.
    pub max_fds: Option<u64>,
}

/// What the kernel reports, as text and numbers, for [`ProcessStats::from_proc`].
#[derive(Debug, Clone, Copy)]
pub struct ProcText<'a> {
    /// `/proc/self/stat`.
    pub stat: &'a str,
    /// `/proc/stat` (for `btime`, the boot time).
    pub system_stat: &'a str,
    /// `/proc/self/limits`.
    pub limits: &'a str,
    /// Entries in `/proc/self/fd`, when the directory could be read.
    pub open_fds: Option<u64>,
    /// `sysconf(_SC_CLK_TCK)`.
    pub ticks_per_second: u64,
    /// `sysconf(_SC_PAGESIZE)`.
    pub page_size: u64,
}

impl ProcessStats {
    /// Reads the numbers out of Linux's `/proc` text (see proc_pid_stat(5)); `None` when the
    /// text is not what the kernel writes.
    ///
    /// ```
    /// use kubelet_metrics::exporter::{ProcText, ProcessStats};
    /// // Fields 14/15 utime/stime = 150/50 ticks, 20 threads = 4, 22 starttime = 1000 ticks,
    /// // 23 vsize = 8192 bytes, 24 rss = 3 pages.
    /// let stat = "42 (kubelet-metrics) S 1 42 42 0 -1 0 0 0 0 0 150 50 0 0 20 0 4 0 1000 8192 3 0";
    /// let stats = ProcessStats::from_proc(&ProcText {
    ///     stat,
    ///     system_stat: "cpu 1 2 3\nbtime 1700000000\n",
    ///     limits: "Max open files            1024                 524288               files\n",
    ///     open_fds: Some(9),
    ///     ticks_per_second: 100,
    ///     page_size: 4096,
    /// })
    /// .unwrap();
    /// assert_eq!(stats.cpu_seconds, 2.0);
    /// assert_eq!(stats.start_time_seconds, 1_700_000_010.0);
    /// assert_eq!(stats.resident_memory_bytes, 3 * 4096);
    /// assert_eq!(stats.max_fds, Some(1024));
    /// ```
    pub fn from_proc(text: &ProcText<'_>) -> Option<ProcessStats> {
        // The command name (field 2) is in parentheses and may hold spaces or parentheses:
        // the fields after it start past the last `)`, with field 3 (state) first.
        let rest = &text.stat[text.stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| -> Option<u64> { fields.get(n.checked_sub(3)?)?.parse().ok() };
        let ticks = text.ticks_per_second.max(1) as f64;
        let boot_time: u64 = text
            .system_stat
            .lines()
            .find_map(|line| line.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())?;
        let max_fds = text
            .limits
            .lines()
            .find_map(|line| line.strip_prefix("Max open files"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok());
        Some(ProcessStats {
            cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
            threads: field(20)?,
            start_time_seconds: boot_time as f64 + field(22)? as f64 / ticks,
            virtual_memory_bytes: field(23)?,
            resident_memory_bytes: field(24)? * text.page_size,
            open_fds: text.open_fds,
            max_fds,
        })
    }
}

/// The standard `process_*` families for `stats`.
pub fn process_families(stats: &ProcessStats) -> Vec<Family> {
    let plain = |name: &str, kind: MetricKind, help: &str, value: f64| Family {
        name: name.to_string(),
        help: help.to_string(),
        kind,
        unit: String::new(),
        samples: vec![Sample { name: name.into(), labels: LabelSet::default(), value, timestamp_ms: None }],
    };
    let mut out = vec![
        plain(
            "process_cpu_seconds_total",
            MetricKind::Counter,
            "Total user and system CPU time spent in seconds.",
            stats.cpu_seconds,
        ),
        plain(
            "process_resident_memory_bytes",
            MetricKind::Gauge,
            "Resident memory size in bytes.",
            stats.resident_memory_bytes as f64,
        ),
        plain(
            "process_virtual_memory_bytes",
            MetricKind::Gauge,
            "Virtual memory size in bytes.",
            stats.virtual_memory_bytes as f64,
        ),
        plain(
            "process_start_time_seconds",
            MetricKind::Gauge,
            "Start time of the process since unix epoch in seconds.",
            stats.start_time_seconds,
        ),
        plain(
            "process_threads",
            MetricKind::Gauge,
            "Number of OS threads in the process.",
            stats.threads as f64,
        ),
    ];
    if let Some(open) = stats.open_fds {
        out.push(plain(
            "process_open_fds",
            MetricKind::Gauge,
            "Number of open file descriptors.",
            open as f64,
        ));
    }
    if let Some(max) = stats.max_fds {
        out.push(plain(
            "process_max_fds",
            MetricKind::Gauge,
            "Maximum number of open file descriptors.",
            max as f64,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::analysis::{Query, analyze};
    use crate::exposition::{self, Selector};
    use crate::scrape::{Failure, FailureKind, Scraped};

    const SEED: &str = include_str!("../tests/fixtures/seed-node1.prom");

    #[test]
    fn serves_health_cluster_numbers_and_relabelled_histograms() {
        let parsed = exposition::parse(SEED).expect("seed parses");
        let scrapes = vec![
            NodeScrape {
                node: "n1".into(),
                kubelet_version: None,
                outcome: Ok(Scraped {
                    families: parsed,
                    bytes: 2048,
                    elapsed: Duration::from_millis(250),
                    ..Scraped::default()
                }),
            },
            NodeScrape {
                node: "n2".into(),
                kubelet_version: None,
                outcome: Err(Failure { kind: FailureKind::Timeout, message: "slow".into(), fix: None }),
            },
        ];
        let report = analyze(&scrapes, &Query::new(crate::catalog::POD_START_DURATION));
        let cycle = Cycle {
            method: "proxy",
            scrapes: &scrapes,
            reports: std::slice::from_ref(&report),
            duration_seconds: 0.5,
            finished_unix_seconds: 1_800_000_000.0,
            cycles: 3,
        };
        let mut text = Vec::new();
        exposition::write(&families(&cycle), None, &mut text).expect("write");
        let text = String::from_utf8(text).expect("utf8");
        insta::assert_snapshot!("seed_and_a_timeout", text);
        // The output is itself valid exposition text.
        let reparsed = exposition::parse_bytes(text.as_bytes(), &Selector::all());
        assert!(reparsed.errors.is_empty(), "{:?}", reparsed.errors);
    }
}
