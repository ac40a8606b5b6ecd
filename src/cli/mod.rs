//! The command line: clap types for every subcommand. Arguments are what the user typed;
//! [`source::SourceArgs::to_plan`] and each command's settings turn them into a validated plan
//! once, reporting every conflict together, so commands never re-check flags. The library's own
//! closed sets (`Method`, `AddressType`, `Endpoint`) get their clap spelling in [`values`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::access::{Endpoint, Method};
use crate::rbac::{self, ServiceAccountRef};
use crate::units::{parse_duration, parse_quantile};

pub mod breakdown;
pub mod output;
pub mod pods;
pub mod settings;
pub mod source;
pub mod values;

pub use breakdown::{BreakdownArgs, BreakdownOutput, BreakdownSettings};
pub use output::{OutputArg, OutputParser};
pub use pods::{PodGroup, PodsArgs, PodsOutput};
pub use source::{ClusterArgs, FileArgs, PrometheusArgs, SourceArgs, UsageError, metric_and_source};

/// The version `--version` prints: the release, the commit and the build date.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("KUBELET_METRICS_COMMIT"),
    ", built ",
    env!("KUBELET_METRICS_BUILD_DATE"),
    ")"
);

/// Fetch kubelet metrics from every node of a Kubernetes cluster and turn them into answers.
#[derive(Debug, Parser)]
#[command(name = "kubelet-metrics", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Diagnostics on stderr: -v what the run does (nodes listed, retries), -vv each request,
    /// -vvv everything; `RUST_LOG` (e.g. `kubelet_metrics=debug,kube=info`) takes precedence.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Colour in human-readable output: `auto` (on a terminal, unless `NO_COLOR` is set),
    /// `always` or `never`.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// The name kubectl runs a plugin by: `kubectl kubelet-metrics ...` executes
/// `kubectl-kubelet_metrics` (a `-` in a command's name is a `_` in the plugin's file name).
pub const PLUGIN_FILE: &str = "kubectl-kubelet_metrics";

/// How usage and help name the program: `kubectl kubelet-metrics` when run as the kubectl
/// plugin (the file name of `argv[0]`, without an extension such as `.exe`), else `None`.
pub fn plugin_name(argv0: &std::ffi::OsStr) -> Option<&'static str> {
    let stem = std::path::Path::new(argv0).file_stem()?;
    (stem == PLUGIN_FILE).then_some("kubectl kubelet-metrics")
}

impl Cli {
    /// Parses the process's arguments, naming the program as the user typed it (see
    /// [`plugin_name`]); exits with clap's usage message on a mistake.
    pub fn parse_args() -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Cli::command();
        if let Some(name) = std::env::args_os().next().as_deref().and_then(plugin_name) {
            command = command.name(name).bin_name(name).display_name(name);
        }
        let matches = command.get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

/// When to colour human-readable output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always, even piped.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour, given whether stdout is a terminal and `NO_COLOR`'s value.
    pub fn enabled(self, stdout_is_terminal: bool, no_color: Option<&str>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            // https://no-color.org: any non-empty NO_COLOR turns colour off.
            ColorChoice::Auto => stdout_is_terminal && no_color.is_none_or(str::is_empty),
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch a kubelet endpoint from every selected node, filtered, with a `node` label added.
    #[command(after_long_help = "Examples:
  kubelet-metrics get -m 'kubelet_pod_start_*'              # the pod-start families of every node
  kubelet-metrics get node-a --endpoint cadvisor -o json     # one node's container metrics as JSON
  kubelet-metrics get -l node-role.kubernetes.io/worker --path /healthz
  kubectl get --raw /api/v1/nodes/NODE/proxy/metrics | kubelet-metrics get --file - --node NODE -o csv")]
    Get(GetArgs),
    /// Per-node and cluster-wide histogram analysis: count, mean, quantiles, bands.
    #[command(visible_alias = "pod-start")]
    #[command(after_long_help = "Examples:
  kubelet-metrics histogram                                  # pod starts per node, slowest first
  kubelet-metrics histogram kubelet_pod_start_sli_duration_seconds --slo 'p99<=5s'
  kubelet-metrics histogram --baseline before.prom           # what changed since a snapshot
  kubelet-metrics histogram kubelet_runtime_operations_duration_seconds --by operation_type
  kubelet-metrics histogram --method direct --token-file sa.token --kubelet-ca kubelet-ca.crt")]
    Histogram(HistogramArgs),
    /// Save the histograms `histogram --baseline` compares against (e.g. before a rollout).
    #[command(after_long_help = "Examples:
  kubelet-metrics snapshot --output-file before.prom         # before a rollout
  kubelet-metrics histogram --baseline before.prom           # after it")]
    Snapshot(SnapshotArgs),
    /// Collect on an interval and serve the histograms and collection health to Prometheus.
    #[command(after_long_help = "Examples:
  kubelet-metrics serve --method direct --listen 0.0.0.0:9153 --interval 60s
  kubelet-metrics rbac --method direct --deployment | kubectl apply -f -   # run it in the cluster")]
    Serve(ServeArgs),
    /// Run the main job against a built-in simulated cluster: no cluster needed.
    #[command(after_long_help = "Examples:
  kubelet-metrics demo
  kubelet-metrics demo --nodes 200 --seed 3")]
    Demo(DemoArgs),
    /// Print a shell completion script, e.g. `kubelet-metrics completions bash > /etc/bash_completion.d/kubelet-metrics`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `kubelet-metrics man | man -l -`, or one subcommand's
    /// with `kubelet-metrics man serve`.
    Man {
        /// The subcommand whose page to print (default: the whole program).
        #[arg(value_name = "SUBCOMMAND")]
        subcommand: Option<String>,
    },
    /// Completion candidates for the words typed so far, one per line, then `:DIRECTIVE`: the
    /// protocol of kubectl's plugin completion (`kubectl_complete-kubelet_metrics`).
    #[command(hide = true)]
    CompleteWords {
        /// The words after the program name; the last one is being completed.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "WORD")]
        words: Vec<String>,
    },
    /// Print least-privilege RBAC manifests (and optionally a Deployment or a DaemonSet running `serve`) for an access method.
    #[command(after_long_help = "Examples:
  kubelet-metrics rbac --method direct --service-account monitoring/kubelet-metrics | kubectl apply -f -
  kubelet-metrics rbac --method proxy --user alice | kubectl apply -f -")]
    Rbac(RbacArgs),
    /// Check access step by step (credentials, RBAC, each kubelet) and print the exact fix for each failure.
    #[command(after_long_help = "Examples:
  kubelet-metrics doctor                                     # as your kubeconfig user, through the proxy
  kubelet-metrics doctor --method direct --token-file sa.token --kubelet-ca kubelet-ca.crt
  kubelet-metrics doctor node-a -o json")]
    Doctor(DoctorArgs),
    /// Measure both access methods on the same nodes and fill in the comparison table with the measured numbers.
    #[command(after_long_help = "Examples:
  kubelet-metrics compare --token-file sa.token --kubelet-ca kubelet-ca.crt --rounds 5
  kubelet-metrics compare node-a node-b --endpoint cadvisor")]
    Compare(CompareArgs),
    /// A live per-node table of what changed in each interval (pod starts, quantiles, bands).
    #[command(after_long_help = "Examples:
  kubelet-metrics watch --interval 10s                       # pod starts per node, every 10 seconds
  kubelet-metrics watch kubelet_pod_start_sli_duration_seconds -l topology.kubernetes.io/zone=a")]
    Watch(WatchArgs),
    /// Per-pod startup latency from the API server (created → scheduled → initialized → started
    /// → ready), with exact quantiles per node, namespace and workload, and the slowest pods.
    #[command(after_long_help = "Examples:
  kubelet-metrics pods                                       # every namespace, slowest groups first
  kubelet-metrics pods -n shop --since 1h --slo 'p99<=5s'    # the last hour of one namespace, judged
  kubelet-metrics pods --field-selector spec.nodeName=node-a --milestone started
  kubectl get pods -A -o json | kubelet-metrics pods --file - -o json")]
    Pods(PodsArgs),
    /// Where pod-start time goes, per node and cluster-wide: the SLI, total and kubelet
    /// pod-start histograms beside image pulls (by size), sandbox creation, runtime operations,
    /// pod worker syncs and PLEG relists, each number with the PromQL that gives it.
    #[command(after_long_help = "Examples:
  kubelet-metrics breakdown                                  # every node, through the API server proxy
  kubelet-metrics breakdown node-a -o wide                   # one node, with the PromQL of every cluster row
  kubelet-metrics breakdown --method direct --token-file sa.token --kubelet-ca kubelet-ca.crt -o json
  kubectl get --raw /api/v1/nodes/NODE/proxy/metrics | kubelet-metrics breakdown --file - --node NODE")]
    Breakdown(BreakdownArgs),
}

impl Command {
    /// Whether the command prints text for people on stdout (tables, doctor's checks), which
    /// must not carry raw control characters from payloads or servers; machine formats (JSON,
    /// CSV, exposition text) and `watch`'s redrawn screen are written as they are.
    pub fn stdout_is_for_people(&self) -> bool {
        match self {
            Command::Histogram(args) => {
                matches!(args.output, OutputArg::Format(HistogramOutput::Table | HistogramOutput::Wide))
            }
            Command::Doctor(args) => matches!(args.output, OutputArg::Format(DoctorOutput::Table)),
            Command::Compare(args) => matches!(args.output, OutputArg::Format(CompareOutput::Table)),
            Command::Pods(args) => matches!(args.output, PodsOutput::Table | PodsOutput::Wide),
            Command::Breakdown(args) => {
                matches!(args.output, OutputArg::Format(BreakdownOutput::Table | BreakdownOutput::Wide))
            }
            Command::Demo(_) | Command::Rbac(_) => true,
            _ => false,
        }
    }

    /// Whether the command colours its output when asked (the tables of `doctor`, `histogram`,
    /// `compare` and `pods`; `watch` escapes its screen itself anyway); it then escapes the text
    /// it prints itself, around its own colour codes.
    pub fn paints(&self) -> bool {
        match self {
            Command::Doctor(args) => matches!(args.output, OutputArg::Format(DoctorOutput::Table)),
            Command::Histogram(args) => {
                matches!(args.output, OutputArg::Format(HistogramOutput::Table | HistogramOutput::Wide))
            }
            Command::Compare(args) => matches!(args.output, OutputArg::Format(CompareOutput::Table)),
            Command::Pods(args) => matches!(args.output, PodsOutput::Table | PodsOutput::Wide),
            _ => false,
        }
    }
}

/// Arguments of `get`.
#[derive(Debug, Clone, Args)]
pub struct GetArgs {
    /// Where the metrics come from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Which kubelet endpoint to fetch.
    #[arg(long, value_enum, default_value_t = Endpoint::Metrics, conflicts_with = "path")]
    pub endpoint: Endpoint,
    /// Any kubelet path instead of an endpoint, e.g. `/healthz` (printed as is).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Keep only matching families (repeatable): `name`, `name{label="v",other=~"re.*"}`, or a
    /// glob on the name such as `kubelet_pod_*`.
    #[arg(long = "metric", short = 'm', value_name = "SELECTOR")]
    pub metrics: Vec<String>,
    /// Output format.
    #[arg(long, short = 'o', value_parser = OutputParser::<GetOutput>::new(), default_value = "prom", value_name = "FORMAT")]
    pub output: OutputArg<GetOutput>,
    /// With `-o json` or `-o csv`, write nodes in name order (by context as given, then name, over
    /// several clusters) instead of as each finishes (held in 16 MiB of memory, then in a
    /// temporary file in TMPDIR). `-o prom` is always in that order.
    #[arg(long)]
    pub sort: bool,
}

/// Output formats of `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetOutput {
    /// The exposition format with a `node` label added to every sample.
    Prom,
    /// One JSON object per sample per line.
    Json,
    /// One YAML sequence item per sample.
    Yaml,
    /// One CSV row per sample.
    Csv,
}

/// Arguments of `histogram`.
#[derive(Debug, Clone, Args)]
pub struct HistogramArgs {
    /// The histogram family to analyse (default `kubelet_pod_start_duration_seconds`). Metric
    /// names contain `_` and node names cannot, so `histogram node-a node-b` reads two nodes.
    #[arg(value_name = "METRIC")]
    pub metric: Option<String>,
    /// Where the metrics come from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Quantiles to estimate, comma-separated, each in [0, 1].
    #[arg(long, value_delimiter = ',', default_values_t = [0.5, 0.9, 0.99], value_parser = parse_quantile)]
    pub quantiles: Vec<f64>,
    /// Band edges in seconds, comma-separated and increasing: `1,5,30` gives ≤1s, 1–5s, 5–30s, >30s.
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 5.0, 30.0])]
    pub bands: Vec<f64>,
    /// Split each node's series by this label (e.g. `operation_type`).
    #[arg(long, value_name = "LABEL")]
    pub by: Option<String>,
    /// The kubelet endpoint the histogram is served on.
    #[arg(long, value_enum, default_value_t = Endpoint::Metrics)]
    pub endpoint: Endpoint,
    /// A `snapshot` taken earlier: report what changed since (counters are cumulative since
    /// each kubelet started; a decrease means it restarted, and the report says so).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// A service-level objective on the cluster line, e.g. `p99<=5s`, `p90<2s`, `mean<=3s`;
    /// the exit status is 3 when it does not hold and 4 when the histogram cannot say (a
    /// quantile above the largest finite bucket, a mean from a negative sum, no observations).
    #[arg(long, value_name = "OBJECTIVE", value_parser = crate::slo::Objective::parse)]
    pub slo: Option<crate::slo::Objective>,
    /// What an `--slo` that cannot be judged counts as: by default it exits 4; `pass` exits as
    /// if it held, `fail` as if it were violated (3). Needs `--slo`.
    #[arg(long, value_enum, value_name = "AS")]
    pub slo_unknown: Option<SloUnknown>,
    /// Output format.
    #[arg(long, short = 'o', value_parser = OutputParser::<HistogramOutput>::new(), default_value = "table", value_name = "FORMAT")]
    pub output: OutputArg<HistogramOutput>,
    /// Order the rows by `node`, `count`, `mean` or a quantile such as `p99` (largest first);
    /// default: slowest first.
    #[arg(long, value_name = "KEY", value_parser = crate::report::order::SortKey::from_str)]
    pub sort_by: Option<crate::report::order::SortKey>,
    /// Show only the first N rows (the cluster line still covers every node).
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Leave out the header row of the table.
    #[arg(long)]
    pub no_headers: bool,
    /// Also write the distribution as a self-contained SVG: one bar per node split into the
    /// bands, then the cluster line.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// Arguments of `snapshot`.
#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// A histogram family to save (repeatable; default: the pod-start histograms).
    #[arg(long = "metric", short = 'm', value_name = "METRIC")]
    pub metrics: Vec<String>,
    /// Where the metrics come from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// The kubelet endpoint to read.
    #[arg(long, value_enum, default_value_t = Endpoint::Metrics)]
    pub endpoint: Endpoint,
    /// The file to write, `-` for stdout.
    #[arg(long, value_name = "FILE")]
    pub output_file: PathBuf,
    /// Output format: exposition text with a `node` label, what `--baseline` reads.
    #[arg(long, short = 'o', value_enum, default_value_t = SnapshotOutput::Prom)]
    pub output: SnapshotOutput,
}

/// Output formats of `snapshot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SnapshotOutput {
    /// Exposition text with a `node` label on every sample.
    Prom,
}

impl HistogramArgs {
    /// The metric to analyse and the source flags (see [`metric_and_source`]).
    pub fn resolved(&self) -> (String, SourceArgs) {
        metric_and_source(self.metric.as_deref(), &self.source)
    }
}

/// What an SLO that cannot be judged counts as (`--slo-unknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SloUnknown {
    /// Count it as holding: exit as if the objective held.
    Pass,
    /// Count it as violated: exit 3.
    Fail,
}

/// Output formats of `histogram`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistogramOutput {
    /// One row per node, slowest first, a cluster row, then a distribution chart.
    Table,
    /// The table with more columns (kubelet version, sum, every quantile).
    Wide,
    /// One JSON document (shape documented in the README).
    Json,
    /// The JSON document as YAML.
    Yaml,
    /// One CSV row per node plus the cluster.
    Csv,
}

/// Arguments of `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// A histogram family to collect and serve (repeatable; default: both pod-start histograms).
    #[arg(long = "metric", short = 'm', value_name = "METRIC")]
    pub metrics: Vec<String>,
    /// Where the metrics come from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Address to serve `/metrics`, `/healthz` and `/readyz` on.
    #[arg(long, default_value = "0.0.0.0:9153", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Time between collections, e.g. 30s or 2m.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Duration,
    /// Stop after this many collections (default: run until SIGINT/SIGTERM).
    #[arg(long, value_name = "N")]
    pub max_cycles: Option<u64>,
    /// How diagnostics are written on stderr: `text` for people, `json` (one object per line,
    /// with timestamp, level and fields) for a log pipeline.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,
    /// Read only the kubelet of the node this runs on, directly (one pod per node, e.g. the
    /// DaemonSet of `rbac --daemonset`): the node named by --node-name or $NODE_NAME, at
    /// --host-ip or $HOST_IP, else at the address of its node object (one `get`). Lists no
    /// nodes; always the direct method.
    #[arg(help_heading = "Node-local", long)]
    pub node_local: bool,
    /// The node this runs on (--node-local; default: $NODE_NAME, from the downward API's
    /// `spec.nodeName`).
    #[arg(help_heading = "Node-local", long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// The address of the node this runs on (--node-local; default: $HOST_IP, from the
    /// downward API's `status.hostIP`).
    #[arg(help_heading = "Node-local", long, value_name = "IP")]
    pub host_ip: Option<std::net::IpAddr>,
}

/// How diagnostics are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line.
    Json,
}

impl Command {
    /// How this command's diagnostics are written (`serve --log-format`; text elsewhere).
    pub fn log_format(&self) -> LogFormat {
        match self {
            Command::Serve(args) => args.log_format,
            _ => LogFormat::Text,
        }
    }
}

/// Arguments of `demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// How many simulated nodes.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u16).range(1..=2000))]
    pub nodes: u16,
    /// Seed of the simulated node profiles (the same seed gives the same cluster).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Pod starts recorded on every node during the simulated rollout.
    #[arg(long, default_value_t = 40)]
    pub rollout_pods: u64,
}

/// Arguments of `rbac`.
#[derive(Debug, Clone, clap::Args)]
pub struct RbacArgs {
    /// The access method to grant: `direct` needs only `get nodes/metrics` (plus `list`/`get
    /// nodes`); `proxy` needs `get nodes/proxy`, which also opens the kubelet's exec, attach and
    /// port-forward endpoints.
    #[arg(long, value_enum, default_value_t = Method::Direct)]
    pub method: Method,
    /// The service account to create and bind.
    #[arg(
        long,
        value_name = "NAMESPACE/NAME",
        default_value = "monitoring/kubelet-metrics",
        conflicts_with = "user"
    )]
    pub service_account: ServiceAccountRef,
    /// Bind a user (as the API server authenticates it) instead of a service account.
    #[arg(long, value_name = "NAME", conflicts_with = "deployment")]
    pub user: Option<String>,
    /// Add a Deployment that runs `kubelet-metrics serve` as the service account, reading every
    /// node, with a Service and a ServiceMonitor.
    #[arg(long)]
    pub deployment: bool,
    /// Also grant `list pods` in every namespace, which `kubelet-metrics pods` needs (pod names,
    /// labels, owners and status; not logs, not exec). Its --cross-check reads the kubelets
    /// through the API server proxy: `--method proxy --with-pods` grants all it needs.
    #[arg(long)]
    pub with_pods: bool,
    /// Add a DaemonSet that runs `kubelet-metrics serve --node-local` on every node as the
    /// service account, each pod reading only its own kubelet (needs only `get nodes/metrics`),
    /// with a Service and a ServiceMonitor.
    #[arg(long, conflicts_with_all = ["deployment", "user"])]
    pub daemonset: bool,
    /// Add a NetworkPolicy: the pods may reach only the kubelet port and the API server, and
    /// only Prometheus may reach their /metrics (with --deployment or --daemonset).
    #[arg(long)]
    pub network_policy: bool,
    /// The container image of the Deployment or DaemonSet.
    #[arg(long, value_name = "IMAGE", default_value = rbac::DEFAULT_IMAGE)]
    pub image: String,
}

/// Arguments of `doctor`.
#[derive(Debug, Clone, clap::Args)]
pub struct DoctorArgs {
    /// The cluster, credentials and method to check (`--method` decides which failures are
    /// FAILs; the other method's are WARNs).
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Check at most this many nodes, spread evenly over the cluster.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub sample: usize,
    /// Also check what `kubelet-metrics pods` needs: `list pods` in every namespace, and for its
    /// --cross-check, which reads the kubelets through the API server proxy, `get nodes/proxy`.
    #[arg(long)]
    pub pods: bool,
    /// Output format.
    #[arg(long, short = 'o', value_parser = OutputParser::<DoctorOutput>::new(), default_value = "table", value_name = "FORMAT")]
    pub output: OutputArg<DoctorOutput>,
}

/// Output formats of `doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DoctorOutput {
    /// One line per check, fixes under failures, a summary line.
    Table,
    /// One JSON document (`method`, `summary`, `checks`).
    Json,
    /// The JSON document as YAML.
    Yaml,
}

/// Arguments of `compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// The cluster and nodes to measure (both methods are measured, whatever `--method` says).
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Rounds: each fetches every node once through each method, alternating which goes first.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub rounds: u32,
    /// Which kubelet endpoint to fetch.
    #[arg(long, value_enum, default_value_t = Endpoint::Metrics, conflicts_with = "path")]
    pub endpoint: Endpoint,
    /// Any kubelet path instead of an endpoint, e.g. `/healthz`.
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_parser = OutputParser::<CompareOutput>::new(), default_value = "table", value_name = "FORMAT")]
    pub output: OutputArg<CompareOutput>,
}

/// Output formats of `compare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompareOutput {
    /// The measurements, the comparison table of both methods with measured rows, and the verdict.
    Table,
    /// One JSON document.
    Json,
    /// The JSON document as YAML.
    Yaml,
}

/// Arguments of `watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// The histogram family to watch (default `kubelet_pod_start_duration_seconds`); a first
    /// argument without `_` is a node name, as in `histogram`.
    #[arg(value_name = "METRIC")]
    pub metric: Option<String>,
    /// Saved payloads to read instead of a cluster.
    #[command(flatten)]
    pub file: FileArgs,
    /// The cluster to read (the default).
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// How often to read every node, e.g. 10s or 500ms.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Duration,
    /// Stop after this many tables (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Quantiles to estimate, comma-separated, each in [0, 1].
    #[arg(long, value_delimiter = ',', default_values_t = [0.5, 0.9, 0.99], value_parser = parse_quantile)]
    pub quantiles: Vec<f64>,
    /// Band edges in seconds, comma-separated and increasing.
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 5.0, 30.0])]
    pub bands: Vec<f64>,
    /// The kubelet endpoint the histogram is served on.
    #[arg(long, value_enum, default_value_t = Endpoint::Metrics)]
    pub endpoint: Endpoint,
}

impl WatchArgs {
    /// The metric and the source flags, a first positional without `_` moved among the nodes
    /// (the same rule as `histogram`).
    pub fn resolved(&self) -> (String, SourceArgs) {
        let source = SourceArgs {
            file: self.file.clone(),
            cluster: self.cluster.clone(),
            prometheus: PrometheusArgs::default(),
        };
        crate::cli::metric_and_source(self.metric.as_deref(), &source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// The long help of the top level and of every subcommand, at a fixed width so the snapshots
    /// do not depend on the terminal. A changed help text shows up in review as a snapshot diff.
    #[test]
    fn help_texts() {
        use clap::CommandFactory;
        let mut cli = Cli::command().term_width(100);
        cli.build();
        insta::assert_snapshot!("help", cli.render_long_help().to_string());
        let names: Vec<String> = cli
            .get_subcommands()
            .map(|sub| sub.get_name().to_string())
            .filter(|name| name != "help")
            .collect();
        assert!(names.len() >= 10, "{names:?}");
        for name in names {
            let sub = cli.find_subcommand_mut(&name).expect("listed above");
            // The default image carries the crate version: a release must not change a snapshot.
            let image = rbac::DEFAULT_IMAGE.replace(env!("CARGO_PKG_VERSION"), "<version>");
            let help = sub.render_long_help().to_string().replace(rbac::DEFAULT_IMAGE, &image);
            insta::assert_snapshot!(format!("help_{name}"), help);
        }
    }

    #[test]
    fn histogram_tells_metrics_from_node_names() {
        let parse = |argv: &[&str]| {
            let mut full = vec!["kubelet-metrics", "histogram"];
            full.extend_from_slice(argv);
            let Command::Histogram(args) = Cli::try_parse_from(full).expect("valid").command else {
                panic!("histogram")
            };
            let (metric, source) = args.resolved();
            (metric, source.cluster.nodes)
        };
        let default = crate::catalog::POD_START_DURATION.to_string();
        assert_eq!(parse(&["node-a", "node-b"]), (default.clone(), vec!["node-a".into(), "node-b".into()]));
        assert_eq!(
            parse(&["kubelet_x_seconds", "node-a"]),
            ("kubelet_x_seconds".into(), vec!["node-a".into()])
        );
        assert_eq!(parse(&[]), (default, vec![]));
    }

    #[test]
    fn the_kubectl_plugin_is_named_as_kubectl_runs_it() {
        use std::ffi::OsStr;
        assert_eq!(
            plugin_name(OsStr::new("/usr/local/bin/kubectl-kubelet_metrics")),
            Some("kubectl kubelet-metrics")
        );
        assert_eq!(plugin_name(OsStr::new("kubectl-kubelet_metrics.exe")), Some("kubectl kubelet-metrics"));
        assert_eq!(plugin_name(OsStr::new("/usr/bin/kubelet-metrics")), None);
    }

    #[test]
    fn colour_follows_the_terminal_and_no_color() {
        assert!(ColorChoice::Auto.enabled(true, None));
        assert!(ColorChoice::Auto.enabled(true, Some("")));
        assert!(!ColorChoice::Auto.enabled(true, Some("1")));
        assert!(!ColorChoice::Auto.enabled(false, None));
        assert!(ColorChoice::Always.enabled(false, Some("1")));
        assert!(!ColorChoice::Never.enabled(true, None));
    }
}
