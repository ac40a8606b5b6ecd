//! kubelet-metrics: fetch kubelet metrics from every node of a Kubernetes cluster — through the
//! API server proxy or directly from each kubelet — and turn them into answers: per-node and
//! cluster-wide pod-start latency, rollout deltas, SLO checks and access diagnostics.
//!
//! Module map (dependencies point one way: `commands → collect, cluster, analysis, report`;
//! `analysis → histogram → exposition`):
//!
//! - [`exposition`] — streaming, zero-copy parser and writer for the Prometheus text format.
//! - [`histogram`] — cumulative `le` buckets: merge, mean, quantiles, bands, deltas.
//! - [`catalog`] — what the kubelet's histograms measure and their known defects.
//! - [`analysis`] — node scrapes → a per-node and cluster-wide report; pure.
//! - [`report`] — renderers from reports to bytes (table, JSON, CSV, chart, SVG).
//! - [`files`] — saved payloads (files, stdin) as a source.
//! - [`cluster`] — the only code that talks to Kubernetes or to kubelets.
//! - [`collect`] — bounded-concurrency fan-out over nodes.
//! - [`prometheus`] — a Prometheus server's stored histograms as a source (`--prometheus`).
//! - [`scrape`] — what one node gave: parsed families or a typed failure.
//! - [`slo`] — objectives such as `p99<=5s` judged against a report.
//! - [`snapshot`] — saved histograms for `--baseline`, as exposition text with a `node` label.
//! - [`exporter`] — what `serve` exposes to Prometheus; pure.
//! - [`rbac`] — what each access method needs, and the least-privilege manifests granting it.
//! - [`doctor`] — the troubleshooting checks, their verdicts and fixes; pure (I/O in
//!   `cluster::checks`).
//! - [`compare`] — latency statistics of both methods and the seed's comparison table; pure.
//! - [`cli`] — command-line types and validated settings.
//! - [`commands`] — one module per subcommand: glue only.

pub mod access;
pub mod analysis;
pub mod catalog;
pub mod cli;
pub mod cluster;
pub mod collect;
pub mod commands;
pub mod compare;
pub mod doctor;
pub mod exporter;
pub mod exposition;
pub mod files;
pub mod histogram;
pub mod prometheus;
pub mod rbac;
pub mod remedy;
pub mod report;
pub mod scrape;
pub mod slo;
pub mod snapshot;
pub mod source;
pub mod units;
