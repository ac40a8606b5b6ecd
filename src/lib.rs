//! kubelet-metrics: fetch kubelet metrics from every node of a Kubernetes cluster — through the
//! API server proxy or directly from each kubelet — and turn them into answers: per-node and
//! cluster-wide pod-start latency, rollout deltas, SLO checks and access diagnostics.
//!
//! Module map. Dependencies point one way, and `tests/cli/layers.rs` checks it:
//!
//! ```text
//! main → cli → commands → sources: source, cluster, collect, files, prometheus, spool
//!                       → tools (pure): rbac, doctor, compare, slo, snapshot, exporter, remedy
//!                       → report (every renderer)
//! all of those → core (pure): access, analysis, histogram, catalog, podstart, scrape, units, text
//!               → exposition
//! ```
//!
//! The library below `commands` never imports [`cli`] or [`commands`]; cluster code returns
//! facts (what was denied, which probe failed) and the pure tools turn them into advice.
//!
//! Core (pure: no network, runtime, clock or environment):
//! - [`exposition`] — streaming, zero-copy parser and writer for the Prometheus text format.
//! - [`histogram`] — cumulative `le` buckets: merge, mean, quantiles, bands, deltas.
//! - [`analysis`] — node scrapes → a per-node and cluster-wide report.
//! - [`catalog`] — what the kubelet's histograms measure and their known defects.
//! - [`podstart`] — per-pod startup latency from pod objects, aggregated into exact quantiles.
//! - [`scrape`] — what one node gave: parsed families or a typed failure.
//! - [`access`] — the access methods, address types, kubelet endpoints and RBAC permissions.
//! - [`units`] — durations, sizes, quantiles and timestamps as people type and read them.
//! - [`text`] — how text for people is shaped: bounded lists of node names.
//!
//! Renderers:
//! - [`report`] — reports to bytes: table, JSON, CSV, chart, SVG.
//!
//! Tools (pure):
//! - [`rbac`] — what each access method needs, and the least-privilege manifests granting it.
//! - [`remedy`] — the one-line fix for each way a node can fail, built from [`rbac`].
//! - [`doctor`] — the troubleshooting checks judged into verdicts with fixes.
//! - [`compare`] — latency statistics of both methods and the comparison table.
//! - [`slo`] — objectives such as `p99<=5s` judged against a report.
//! - [`snapshot`] — saved histograms for `--baseline`, as exposition text with a `node` label.
//! - [`exporter`] — what `serve` exposes to Prometheus.
//!
//! Sources (I/O):
//! - [`source`] — the validated plan of where metrics come from, and `gather`, its one entry.
//! - [`cluster`] — the only code that talks to Kubernetes or to kubelets; [`cluster::plan`] is
//!   the validated cluster plan.
//! - [`collect`] — bounded-concurrency fan-out over nodes: one pipeline for every cluster read.
//! - [`files`] — saved payloads (files, stdin).
//! - [`prometheus`] — a Prometheus server's stored histograms (`--prometheus`).
//! - [`spool`] — output held until every node is in: memory up to a bound, then a temporary file.
//!
//! Command line:
//! - [`cli`] — clap types and the settings each command runs, validated once.
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
pub mod podstart;
pub mod prometheus;
pub mod rbac;
pub mod remedy;
pub mod report;
pub mod scrape;
pub mod slo;
pub mod snapshot;
pub mod source;
pub mod spool;
pub mod text;
pub mod units;
