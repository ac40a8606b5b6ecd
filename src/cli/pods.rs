//! `pods`: its flags, and their validation into [`PodsSettings`] (re-exported by `settings`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::settings::histogram_selector;
use super::{SloUnknown, UsageError};
use crate::access::AddressType;
use crate::catalog::{POD_START_DURATION, POD_START_SLI_DURATION, PROCESS_START_TIME};
use crate::cluster::plan::{
    ApiRequests, ClusterPlan, KubeletAuth, KubeletTls, Limits, NodeSelection, PROXY_CONCURRENCY, PROXY_RATE,
};
use crate::cluster::pods::PodSelection;
use crate::exposition::Selector;
use crate::podstart::Milestone;
use crate::rbac;
use crate::slo::{Objective, Statistic};
use crate::units::{parse_duration, parse_quantile, parse_size};

/// Arguments of `pods`.
#[derive(Debug, Clone, Args)]
pub struct PodsArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, several files merged, else ~/.kube/config).
    #[arg(help_heading = "Cluster", long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(help_heading = "Cluster", long, value_name = "NAME")]
    pub context: Option<String>,
    /// Only pods of this namespace (default: every namespace).
    #[arg(help_heading = "Pods", long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Every namespace (the default; accepted as kubectl has it).
    #[arg(help_heading = "Pods", long, short = 'A', conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Label selector for pods, e.g. `app=web,tier!=cache`.
    #[arg(help_heading = "Pods", long, short = 'l', value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Field selector for pods, e.g. `spec.nodeName=node-a` or `status.phase!=Succeeded`.
    #[arg(help_heading = "Pods", long, value_name = "SELECTOR")]
    pub field_selector: Option<String>,
    /// Only pods created within this long before now, e.g. 30m or 24h.
    #[arg(help_heading = "Pods", long, value_parser = parse_duration, value_name = "DURATION")]
    pub since: Option<Duration>,
    /// Read saved pod lists instead of a cluster (repeatable; `-` is stdin), e.g. the output of
    /// `kubectl get pods -A -o json`.
    #[arg(help_heading = "Pods", long = "file", short = 'f', value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// The milestone that orders the groups, picks the slowest pods and is judged by --slo:
    /// created → scheduled, initialized, started (first container), containers-ready or ready.
    #[arg(long, value_enum, default_value_t = Milestone::Ready, value_name = "MILESTONE")]
    pub milestone: Milestone,
    /// Quantiles to report, comma-separated, each in [0, 1] (exact, from the pods themselves).
    #[arg(long, value_delimiter = ',', default_values_t = [0.5, 0.9, 0.99], value_parser = parse_quantile)]
    pub quantiles: Vec<f64>,
    /// Which groups to show, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [PodGroup::Node, PodGroup::Namespace, PodGroup::Workload], value_name = "GROUP")]
    pub by: Vec<PodGroup>,
    /// How many of the slowest pods to list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// A service-level objective on the stateless pods (as the pod-startup SLO scopes it), e.g.
    /// `p99<=5s`: exit 3 when it does not hold, 4 when the pods cannot say (pods not there yet,
    /// or a value within the timestamps' one-second resolution of the bound).
    #[arg(long, value_name = "OBJECTIVE", value_parser = Objective::parse)]
    pub slo: Option<Objective>,
    /// What an --slo that cannot be judged counts as: by default it exits 4; `pass` exits as if
    /// it held, `fail` as if it were violated (3). Needs --slo.
    #[arg(long, value_enum, value_name = "AS")]
    pub slo_unknown: Option<SloUnknown>,
    /// Also read each node's kubelet histograms (through the API server proxy: needs `get` on
    /// `nodes/proxy`) and set them beside the pods that started there since the kubelet did:
    /// counts, quantiles, a double count, what the SLI histogram leaves out, and nodes where the
    /// two disagree beyond bucket and timestamp resolution. Every pod of a node is needed, so
    /// only `--field-selector spec.nodeName=NODE` may narrow the pods. With -o csv, the cross-check
    /// rows alone.
    #[arg(long)]
    pub cross_check: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = PodsOutput::Table)]
    pub output: PodsOutput,
    /// Also write the milestone's latencies as a self-contained SVG: one bar per node split into
    /// ≤1s, 1–5s, 5–30s and >30s, then every pod.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Pods per list request (as kubectl's --chunk-size).
    #[arg(help_heading = "Collection", long, default_value_t = 500, value_name = "N")]
    pub chunk_size: u32,
    /// Give up on a list request (and, with --cross-check, on a node) after this long, e.g. 30s.
    #[arg(help_heading = "Collection", long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// Refuse a list page larger than this many bytes (suffixes K, M, G accepted).
    #[arg(help_heading = "Collection", long, default_value = "256M", value_parser = parse_size, value_name = "BYTES")]
    pub max_body: u64,
}

/// Retries per node of `--cross-check`, as `histogram`'s default `--retries`.
const CROSS_CHECK_RETRIES: u32 = 2;

/// A grouping of pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PodGroup {
    /// Per node (`spec.nodeName`).
    Node,
    /// Per namespace.
    Namespace,
    /// Per owning workload (a Deployment through its ReplicaSet, StatefulSet, DaemonSet, Job).
    Workload,
}

/// Output formats of `pods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PodsOutput {
    /// The chosen milestone per group, slowest first, then the slowest pods.
    Table,
    /// The table with the mean, the skipped pods, and every milestone of the slowest pods.
    Wide,
    /// One JSON document with every group, every milestone and every pod.
    Json,
    /// One CSV row per group.
    Csv,
    /// The JSON document as YAML.
    Yaml,
}

impl ValueEnum for Milestone {
    fn value_variants<'a>() -> &'a [Self] {
        &Milestone::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self {
            Milestone::Scheduled => "PodScheduled=True",
            Milestone::Initialized => "Initialized=True (init containers done)",
            Milestone::Started => "the first container's startedAt",
            Milestone::ContainersReady => "ContainersReady=True",
            Milestone::Ready => "Ready=True",
        };
        Some(clap::builder::PossibleValue::new(self.as_str()).help(help))
    }
}

/// Where `pods` reads pods from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodSource {
    /// A cluster's API server.
    Cluster {
        /// `--kubeconfig`.
        kubeconfig: Option<PathBuf>,
        /// `--context`.
        context: Option<String>,
        /// Namespace and selectors, page size.
        selection: PodSelection,
        /// Per list request.
        timeout: Duration,
        /// Per page.
        max_body: u64,
    },
    /// Saved pod lists (`-` is stdin).
    Files(Vec<PathBuf>),
}

/// What `--cross-check` reads from the kubelets.
#[derive(Debug, Clone)]
pub struct CrossCheckPlan {
    /// Which nodes, through the API server proxy.
    pub cluster: ClusterPlan,
    /// The pod-start histograms, the build info and `process_start_time_seconds`.
    pub selector: Selector,
}

/// `pods`, validated.
#[derive(Debug, Clone)]
pub struct PodsSettings {
    /// Where pods come from.
    pub source: PodSource,
    /// The milestone ordering and judged.
    pub milestone: Milestone,
    /// Quantiles to report (including the SLO's).
    pub quantiles: Vec<f64>,
    /// Groups to show.
    pub by: Vec<PodGroup>,
    /// Slowest pods to list.
    pub top: usize,
    /// `--since`.
    pub since: Option<Duration>,
    /// `--slo`.
    pub slo: Option<Objective>,
    /// `--slo-unknown`.
    pub slo_unknown: Option<SloUnknown>,
    /// `--output`.
    pub output: PodsOutput,
    /// `--cross-check`.
    pub cross_check: Option<CrossCheckPlan>,
    /// `--plot`.
    pub plot: Option<PathBuf>,
}

impl PodsArgs {
    /// Validates `pods`' flags, every problem together.
    pub fn settings(&self) -> Result<PodsSettings, UsageError> {
        let mut problems = Vec::new();
        if self.chunk_size == 0 {
            problems.push("--chunk-size must be at least 1".into());
        }
        if self.timeout.is_zero() {
            problems.push("--timeout must be longer than 0".into());
        }
        if self.slo_unknown.is_some() && self.slo.is_none() {
            problems.push("--slo-unknown needs --slo".into());
        }
        if self.since.is_some_and(|s| s.is_zero()) {
            problems.push("--since must be longer than 0".into());
        }
        if !self.files.is_empty() {
            for (flag, given) in [
                ("--kubeconfig", self.kubeconfig.is_some()),
                ("--context", self.context.is_some()),
                ("--namespace", self.namespace.is_some()),
                ("--selector", self.selector.is_some()),
                ("--field-selector", self.field_selector.is_some()),
            ] {
                if given {
                    problems.push(format!("{flag} selects pods in a cluster; it does not apply to --file"));
                }
            }
        }
        if let Some(namespace) = self.namespace.as_deref()
            && (namespace.is_empty() || namespace.contains('/'))
        {
            problems.push(format!("--namespace {namespace:?} is not a namespace name"));
        }
        let cross_check_nodes = if self.cross_check { self.cross_check_nodes(&mut problems) } else { None };
        let mut quantiles = self.quantiles.clone();
        if let Some(Objective { statistic: Statistic::Quantile(q), .. }) = self.slo
            && !quantiles.contains(&q)
        {
            quantiles.push(q);
        }
        UsageError::check(problems)?;
        let source = if self.files.is_empty() {
            PodSource::Cluster {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
                selection: PodSelection {
                    namespace: self.namespace.clone(),
                    label_selector: self.selector.clone(),
                    field_selector: self.field_selector.clone(),
                    page_size: self.chunk_size,
                },
                timeout: self.timeout,
                max_body: self.max_body,
            }
        } else {
            PodSource::Files(self.files.clone())
        };
        let mut by = self.by.clone();
        by.dedup();
        let cross_check = match cross_check_nodes {
            Some(nodes) => {
                Some(self.cross_check_plan(nodes).map_err(|problem| UsageError { problems: vec![problem] })?)
            }
            None => None,
        };
        Ok(PodsSettings {
            source,
            milestone: self.milestone,
            quantiles,
            by,
            top: self.top,
            since: self.since,
            slo: self.slo,
            slo_unknown: self.slo_unknown,
            output: self.output,
            cross_check,
            plot: self.plot.clone(),
        })
    }

    /// The nodes `--cross-check` reads, or a problem: it needs every pod of a node, so the pods
    /// may be narrowed to one node's, and no further.
    fn cross_check_nodes(&self, problems: &mut Vec<String>) -> Option<NodeSelection> {
        let why = "--cross-check sets every pod of a node beside its kubelet's histograms";
        if !self.files.is_empty() {
            problems.push(format!("{why}: it reads a cluster, not --file"));
        }
        if self.since.is_some() {
            problems.push(format!(
                "{why} since the kubelet started (its histograms count from then); --since does not apply"
            ));
        }
        for (flag, given) in
            [("--namespace", self.namespace.is_some()), ("--selector", self.selector.is_some())]
        {
            if given {
                problems.push(format!("{why}; {flag} would leave some of them out"));
            }
        }
        match self.field_selector.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Some(NodeSelection::All { selector: None }),
            Some(selector) => {
                let node = selector
                    .strip_prefix("spec.nodeName==")
                    .or_else(|| selector.strip_prefix("spec.nodeName="))
                    .filter(|n| !n.is_empty() && !n.contains([',', '=', '!']));
                match node {
                    Some(node) => Some(NodeSelection::Names(vec![node.to_string()])),
                    None => {
                        problems.push(format!(
                            "{why}; --field-selector may only name the node (spec.nodeName=NODE)"
                        ));
                        None
                    }
                }
            }
        }
    }

    /// The plan of `--cross-check`: the kubelets of `nodes`, through the API server proxy, with
    /// the proxy's default pacing and this command's timeout per node.
    fn cross_check_plan(&self, nodes: NodeSelection) -> Result<CrossCheckPlan, String> {
        let mut selectors = Vec::new();
        for metric in [POD_START_DURATION, POD_START_SLI_DURATION] {
            selectors.push(histogram_selector(metric)?);
        }
        selectors.push(PROCESS_START_TIME.parse().map_err(|e| format!("{PROCESS_START_TIME}: {e}"))?);
        let cluster = ClusterPlan {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            method: rbac::CROSS_CHECK_METHOD,
            nodes,
            token_file: None,
            kubelet_tls: KubeletTls::Verify { ca: None, server_name: None },
            kubelet_auth: KubeletAuth::default(),
            credentials_to_unverified: false,
            address_types: AddressType::ALL.to_vec(),
            kubelet_port: None,
            api: ApiRequests::default(),
            limits: Limits {
                concurrency: PROXY_CONCURRENCY,
                per_node: self.timeout,
                retries: CROSS_CHECK_RETRIES,
                max_body: self.max_body,
                rate: Some(PROXY_RATE),
            },
        };
        Ok(CrossCheckPlan { cluster, selector: Selector::any_of(selectors) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn settings(argv: &[&str]) -> Result<PodsSettings, UsageError> {
        let mut full = vec!["kubelet-metrics", "pods"];
        full.extend_from_slice(argv);
        let Command::Pods(args) = Cli::try_parse_from(full).expect("parses").command else { panic!("pods") };
        args.settings()
    }

    #[test]
    fn selectors_and_the_namespace_reach_the_listing() {
        let s = settings(&[
            "-n",
            "shop",
            "-l",
            "app=db",
            "--field-selector",
            "spec.nodeName=a",
            "--chunk-size",
            "50",
        ])
        .unwrap();
        let PodSource::Cluster { selection, .. } = s.source else { panic!("a cluster") };
        assert_eq!(selection.namespace.as_deref(), Some("shop"));
        assert_eq!(selection.page_size, 50);
        assert_eq!(s.milestone, Milestone::Ready);
    }

    #[test]
    fn every_problem_is_reported_together() {
        let problems =
            settings(&["--file", "pods.json", "-l", "app=x", "--chunk-size", "0", "--slo-unknown", "pass"])
                .unwrap_err()
                .problems;
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn the_slo_quantile_is_reported() {
        let s = settings(&["--slo", "p95<=5s", "--milestone", "started"]).unwrap();
        assert_eq!(s.quantiles, vec![0.5, 0.9, 0.99, 0.95]);
        assert_eq!(s.milestone, Milestone::Started);
    }
}
