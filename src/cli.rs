//! The command line: clap types for every subcommand, and `Settings` — the validated plan that
//! commands run. Arguments are what the user typed; `*::from_args` turns them into a plan once,
//! reporting every conflict together, so commands never re-check flags.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Fetch kubelet metrics from every node of a Kubernetes cluster and turn them into answers.
#[derive(Debug, Parser)]
#[command(name = "kubelet-metrics", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch a kubelet endpoint from every selected node, filtered, with a `node` label added.
    Get(GetArgs),
    /// Per-node and cluster-wide histogram analysis: count, mean, quantiles, bands.
    #[command(visible_alias = "pod-start")]
    Histogram(HistogramArgs),
    /// Save the histograms `histogram --baseline` compares against (e.g. before a rollout).
    Snapshot(SnapshotArgs),
    /// Collect on an interval and serve the histograms and collection health to Prometheus.
    Serve(crate::commands::serve::ServeArgs),
    /// Run the main job against a built-in simulated cluster: no cluster needed.
    Demo(crate::commands::demo::DemoArgs),
    /// Print a shell completion script, e.g. `kubelet-metrics completions bash > /etc/bash_completion.d/kubelet-metrics`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print least-privilege RBAC manifests (and optionally a Deployment) for an access method.
    Rbac(crate::commands::rbac::RbacArgs),
    /// Check access step by step (credentials, RBAC, each kubelet) and print the exact fix for each failure.
    Doctor(crate::commands::doctor::DoctorArgs),
    /// Measure both access methods on the same nodes and fill in the seed's comparison table.
    Compare(crate::commands::compare::CompareArgs),
    /// A live per-node table of what changed in each interval (pod starts, quantiles, bands).
    Watch(crate::commands::watch::WatchArgs),
}

/// How kubelets are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Through the API server: `/api/v1/nodes/{node}/proxy/{path}` with kubeconfig credentials.
    Proxy,
    /// Straight to each kubelet: `https://{address}:{port}/{path}` with a bearer token.
    Direct,
}

impl Method {
    /// The lowercase name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Proxy => "proxy",
            Method::Direct => "direct",
        }
    }
}

/// Which node address the direct method connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AddressType {
    /// `status.addresses[type=InternalIP]`.
    #[value(name = "InternalIP")]
    InternalIp,
    /// `status.addresses[type=ExternalIP]`.
    #[value(name = "ExternalIP")]
    ExternalIp,
    /// `status.addresses[type=Hostname]`.
    #[value(name = "Hostname")]
    Hostname,
}

impl AddressType {
    /// The Kubernetes spelling of the address type.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressType::InternalIp => "InternalIP",
            AddressType::ExternalIp => "ExternalIP",
            AddressType::Hostname => "Hostname",
        }
    }
}

/// A kubelet endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Endpoint {
    /// `/metrics`: the kubelet's own metrics.
    Metrics,
    /// `/metrics/cadvisor`: container metrics.
    Cadvisor,
    /// `/metrics/resource`: resource usage summary.
    Resource,
    /// `/metrics/probes`: probe results.
    Probes,
}

impl Endpoint {
    /// The kubelet path of this endpoint.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Metrics => "/metrics",
            Endpoint::Cadvisor => "/metrics/cadvisor",
            Endpoint::Resource => "/metrics/resource",
            Endpoint::Probes => "/metrics/probes",
        }
    }
}

/// Where metrics come from: saved files, or a cluster (the default).
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Read saved payloads instead of a cluster (repeatable; `-` is stdin), e.g. the output of
    /// `kubectl get --raw /api/v1/nodes/NODE/proxy/metrics`.
    #[arg(long = "file", short = 'f', value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Node name for `--file` input (repeatable, in the order of the files); defaults to the
    /// file name without its extension (`stdin` for `-`).
    #[arg(long = "node", value_name = "NAME")]
    pub file_nodes: Vec<String>,

    /// Nodes to read (default: every node the selector matches).
    #[arg(value_name = "NODE")]
    pub nodes: Vec<String>,

    /// Path to the kubeconfig file (default: $KUBECONFIG, several files merged, else ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// How to reach kubelets: through the API server proxy, or directly on each node.
    #[arg(long, value_enum, default_value_t = Method::Proxy)]
    pub method: Method,
    /// Bearer token file for the direct method (re-read when it changes, as projected
    /// service-account tokens rotate).
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// CA bundle that signed the kubelets' serving certificates (direct method).
    #[arg(long, value_name = "PATH")]
    pub kubelet_ca: Option<PathBuf>,
    /// Server name to verify kubelet certificates against (direct method).
    #[arg(long, value_name = "NAME")]
    pub kubelet_tls_server_name: Option<String>,
    /// Do not verify kubelet serving certificates (direct method). Insecure; warned.
    #[arg(long)]
    pub insecure_skip_tls_verify_kubelet: bool,
    /// Node address types to try, in order of preference (direct method).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [AddressType::InternalIp, AddressType::ExternalIp, AddressType::Hostname])]
    pub address_type: Vec<AddressType>,
    /// Kubelet port (default: the node's `status.daemonEndpoints.kubeletEndpoint.Port`, else 10250).
    #[arg(long, value_name = "PORT")]
    pub kubelet_port: Option<u16>,
    /// Label selector for nodes, e.g. `node-role.kubernetes.io/worker,topology.kubernetes.io/zone=a`.
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Kubelet address to read without listing nodes (direct method; repeatable), e.g.
    /// `10.0.0.7` or `[fd00::7]:10250`.
    #[arg(long, value_name = "IP[:PORT]")]
    pub node_ip: Vec<String>,
    /// How many nodes to fetch at once (default: 8 through the proxy, 64 direct).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Give up on a node after this long, e.g. 10s or 750ms (the API server never times out
    /// proxied requests, so this is always set).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// Retries per node on transient failures (connect errors, 429, 5xx), with backoff.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub retries: u32,
    /// Refuse payloads larger than this many bytes (suffixes K, M, G accepted).
    #[arg(long, default_value = "256M", value_parser = parse_size, value_name = "BYTES")]
    pub max_body: u64,

    /// Read a Prometheus server's stored kubelet histograms instead of a cluster: the increase
    /// of each bucket over --range, by node (plain http:// only), e.g. http://127.0.0.1:9090.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// How far back --prometheus looks, e.g. 5m or 24h [default: 1h].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub range: Option<Duration>,
    /// The label holding the node name in Prometheus [default: node]; configs that scrape
    /// kubelets directly often only have `instance`.
    #[arg(long, value_name = "LABEL")]
    pub prometheus_node_label: Option<String>,
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
    #[arg(long, short = 'o', value_enum, default_value_t = GetOutput::Prom)]
    pub output: GetOutput,
}

/// Output formats of `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GetOutput {
    /// The exposition format with a `node` label added to every sample.
    Prom,
    /// One JSON object per sample per line.
    Json,
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
    /// the exit status is 3 when it does not hold.
    #[arg(long, value_name = "OBJECTIVE", value_parser = crate::slo::Objective::parse)]
    pub slo: Option<crate::slo::Objective>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = HistogramOutput::Table)]
    pub output: HistogramOutput,
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
    /// The file to write (exposition text with a `node` label; `-` is stdout).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
}

impl HistogramArgs {
    /// The metric to analyse and the source flags (see [`metric_and_source`]).
    pub fn resolved(&self) -> (String, SourceArgs) {
        metric_and_source(self.metric.as_deref(), &self.source)
    }
}

/// The metric of `COMMAND [METRIC] [NODE...]` and the source flags: a first positional that is a
/// node name (no `_`: DNS-1123 names cannot hold one) moves back among the nodes, and the metric
/// defaults to `kubelet_pod_start_duration_seconds`.
pub fn metric_and_source(first: Option<&str>, source: &SourceArgs) -> (String, SourceArgs) {
    let mut source = source.clone();
    match first {
        Some(metric) if metric.contains('_') => (metric.to_string(), source),
        Some(node) => {
            source.nodes.insert(0, node.to_string());
            (crate::catalog::POD_START_DURATION.to_string(), source)
        }
        None => (crate::catalog::POD_START_DURATION.to_string(), source),
    }
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
    /// One CSV row per node plus the cluster.
    Csv,
}

/// A validated plan for where metrics come from.
#[derive(Debug, Clone)]
pub enum SourcePlan {
    /// Saved payloads: each file with the node name it stands for.
    Files {
        /// The files, in command-line order.
        inputs: Vec<FileInput>,
        /// `--max-body`: larger inputs are refused.
        max_body: u64,
    },
    /// A live cluster.
    Cluster(ClusterPlan),
    /// A Prometheus server's stored histograms (`--prometheus`).
    Prometheus {
        /// The server's base URL, checked by [`crate::prometheus::base_url`].
        url: String,
        /// `--range`: how far back `increase()` looks.
        range: Duration,
        /// `--prometheus-node-label`.
        node_label: String,
        /// `--timeout`: the deadline of each HTTP request.
        timeout: Duration,
    },
}

/// One saved payload and the node it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInput {
    /// Path, or `-` for stdin.
    pub path: PathBuf,
    /// The node name to report it under.
    pub node: String,
}

/// Which nodes a cluster run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSelection {
    /// List nodes, optionally filtered by a label selector.
    All {
        /// The label selector, if any.
        selector: Option<String>,
    },
    /// These node names only (each still looked up, for its address and version).
    Names(Vec<String>),
    /// Kubelet addresses without listing nodes (direct method only).
    Addresses(Vec<(IpAddr, Option<u16>)>),
}

/// Direct-method TLS verification of kubelet serving certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeletTls {
    /// Verify against the kubeconfig's / in-cluster CA (rarely right: kubelets usually have
    /// their own CA).
    Verify {
        /// Extra CA bundle (`--kubelet-ca`).
        ca: Option<PathBuf>,
        /// Name to check the certificate against (`--kubelet-tls-server-name`).
        server_name: Option<String>,
    },
    /// `--insecure-skip-tls-verify-kubelet`.
    Insecure,
}

/// A validated plan for reading a cluster.
#[derive(Debug, Clone)]
pub struct ClusterPlan {
    /// `--kubeconfig`, else the environment's default.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
    /// Proxy or direct.
    pub method: Method,
    /// Which nodes.
    pub nodes: NodeSelection,
    /// `--token-file` (direct method).
    pub token_file: Option<PathBuf>,
    /// Kubelet TLS (direct method).
    pub kubelet_tls: KubeletTls,
    /// Address preference (direct method).
    pub address_types: Vec<AddressType>,
    /// `--kubelet-port` override.
    pub kubelet_port: Option<u16>,
    /// Concurrency, timeout, retries, body limit.
    pub limits: Limits,
}

/// How collection is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nodes fetched at once.
    pub concurrency: usize,
    /// Deadline per node (all attempts included).
    pub per_node: Duration,
    /// Retries on transient failures.
    pub retries: u32,
    /// Largest accepted body in bytes.
    pub max_body: u64,
}

/// Default concurrency through the API server proxy (every request loads the API server).
pub const PROXY_CONCURRENCY: usize = 8;
/// Default concurrency when talking to kubelets directly.
pub const DIRECT_CONCURRENCY: usize = 64;

impl SourceArgs {
    /// Validates the source flags into a plan, reporting every conflict at once.
    pub fn to_plan(&self) -> Result<SourcePlan, UsageError> {
        let mut problems = Vec::new();
        let cluster_flags: Vec<&str> = [
            (!self.nodes.is_empty(), "NODE names"),
            (self.kubeconfig.is_some(), "--kubeconfig"),
            (self.context.is_some(), "--context"),
            (self.selector.is_some(), "--selector"),
            (!self.node_ip.is_empty(), "--node-ip"),
            (self.token_file.is_some(), "--token-file"),
            (self.kubelet_ca.is_some(), "--kubelet-ca"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();

        if let Some(url) = &self.prometheus {
            return self.prometheus_plan(url, &cluster_flags);
        }
        for (set, flag) in [
            (self.range.is_some(), "--range"),
            (self.prometheus_node_label.is_some(), "--prometheus-node-label"),
        ] {
            if set {
                problems.push(format!("{flag} applies to --prometheus only"));
            }
        }

        if !self.files.is_empty() {
            for flag in &cluster_flags {
                problems.push(format!("{flag} reads a cluster and cannot be combined with --file"));
            }
            if self.file_nodes.len() > self.files.len() {
                problems.push(format!(
                    "{} --node names for {} --file inputs",
                    self.file_nodes.len(),
                    self.files.len()
                ));
            }
            let stdin_count = self.files.iter().filter(|p| p.as_os_str() == "-").count();
            if stdin_count > 1 {
                problems.push("`-` (stdin) can be given to --file only once".to_string());
            }
            let inputs: Vec<FileInput> = self
                .files
                .iter()
                .enumerate()
                .map(|(i, path)| FileInput {
                    path: path.clone(),
                    node: self.file_nodes.get(i).cloned().unwrap_or_else(|| node_name_from_path(path)),
                })
                .collect();
            let mut names: Vec<&str> = inputs.iter().map(|f| f.node.as_str()).collect();
            names.sort_unstable();
            if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
                problems
                    .push(format!("two --file inputs are both node {:?}; name them with --node", pair[0]));
            }
            return UsageError::check(problems)
                .map(|()| SourcePlan::Files { inputs, max_body: self.max_body });
        }

        if !self.file_nodes.is_empty() {
            problems
                .push("--node names a --file input; to pick cluster nodes, pass them as arguments".into());
        }
        let direct = self.method == Method::Direct;
        if !direct {
            for (set, flag) in [
                (self.token_file.is_some(), "--token-file"),
                (self.kubelet_ca.is_some(), "--kubelet-ca"),
                (self.kubelet_tls_server_name.is_some(), "--kubelet-tls-server-name"),
                (self.insecure_skip_tls_verify_kubelet, "--insecure-skip-tls-verify-kubelet"),
                (!self.node_ip.is_empty(), "--node-ip"),
            ] {
                if set {
                    problems.push(format!("{flag} applies to --method direct only"));
                }
            }
        }
        if self.insecure_skip_tls_verify_kubelet
            && (self.kubelet_ca.is_some() || self.kubelet_tls_server_name.is_some())
        {
            problems.push(
                "--insecure-skip-tls-verify-kubelet cannot be combined with --kubelet-ca or --kubelet-tls-server-name"
                    .into(),
            );
        }
        let selections = [!self.nodes.is_empty(), self.selector.is_some(), !self.node_ip.is_empty()];
        if selections.iter().filter(|s| **s).count() > 1 {
            problems.push("choose nodes one way: NODE names, --selector, or --node-ip".into());
        }
        if self.concurrency == Some(0) {
            problems.push("--concurrency must be at least 1".into());
        }
        if self.timeout.is_zero() {
            problems.push("--timeout must be longer than 0".into());
        }
        if self.address_type.is_empty() {
            problems.push("--address-type needs at least one type".into());
        }
        let mut addresses = Vec::new();
        for raw in &self.node_ip {
            match parse_node_ip(raw) {
                Ok(address) => addresses.push(address),
                Err(reason) => problems.push(format!("--node-ip {raw:?}: {reason}")),
            }
        }
        UsageError::check(problems)?;

        let nodes = if !addresses.is_empty() {
            NodeSelection::Addresses(addresses)
        } else if !self.nodes.is_empty() {
            NodeSelection::Names(self.nodes.clone())
        } else {
            NodeSelection::All { selector: self.selector.clone() }
        };
        let kubelet_tls = if self.insecure_skip_tls_verify_kubelet {
            KubeletTls::Insecure
        } else {
            KubeletTls::Verify {
                ca: self.kubelet_ca.clone(),
                server_name: self.kubelet_tls_server_name.clone(),
            }
        };
        let default_concurrency = if direct { DIRECT_CONCURRENCY } else { PROXY_CONCURRENCY };
        Ok(SourcePlan::Cluster(ClusterPlan {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            method: self.method,
            nodes,
            token_file: self.token_file.clone(),
            kubelet_tls,
            address_types: self.address_type.clone(),
            kubelet_port: self.kubelet_port,
            limits: Limits {
                concurrency: self.concurrency.unwrap_or(default_concurrency),
                per_node: self.timeout,
                retries: self.retries,
                max_body: self.max_body,
            },
        }))
    }
}

impl SourceArgs {
    /// The `--prometheus` plan: no files, no cluster flags, a plain-HTTP URL, a positive range.
    fn prometheus_plan(&self, url: &str, cluster_flags: &[&str]) -> Result<SourcePlan, UsageError> {
        let mut problems = Vec::new();
        if !self.files.is_empty() {
            problems.push("--file and --prometheus are two sources; choose one".to_string());
        }
        let mut flags = cluster_flags.to_vec();
        for (set, flag) in [
            (self.method != Method::Proxy, "--method"),
            (self.kubelet_tls_server_name.is_some(), "--kubelet-tls-server-name"),
            (self.insecure_skip_tls_verify_kubelet, "--insecure-skip-tls-verify-kubelet"),
            (self.kubelet_port.is_some(), "--kubelet-port"),
            (self.concurrency.is_some(), "--concurrency"),
            (!self.file_nodes.is_empty(), "--node"),
        ] {
            if set {
                flags.push(flag);
            }
        }
        for flag in flags {
            problems.push(format!("{flag} reads a cluster and cannot be combined with --prometheus"));
        }
        let range = self.range.unwrap_or(crate::prometheus::DEFAULT_RANGE);
        if range < Duration::from_secs(1) {
            problems.push("--range must be at least 1s".to_string());
        }
        let node_label = self
            .prometheus_node_label
            .clone()
            .unwrap_or_else(|| crate::prometheus::DEFAULT_NODE_LABEL.to_string());
        if !crate::exposition::is_label_name(&node_label) || node_label.starts_with("__") {
            problems.push(format!("--prometheus-node-label {node_label:?} is not a label name"));
        }
        if self.timeout.is_zero() {
            problems.push("--timeout must be longer than 0".into());
        }
        let url = crate::prometheus::base_url(url).map_err(|p| problems.push(format!("--prometheus {p}")));
        // A bad URL is among the problems, so past this check `url` is `Ok`.
        UsageError::check(problems)?;
        Ok(SourcePlan::Prometheus { url: url.unwrap_or_default(), range, node_label, timeout: self.timeout })
    }
}

/// Flags that cannot run together; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.join("; "))]
pub struct UsageError {
    /// One sentence per problem.
    pub problems: Vec<String>,
}

impl UsageError {
    fn check(problems: Vec<String>) -> Result<(), UsageError> {
        if problems.is_empty() { Ok(()) } else { Err(UsageError { problems }) }
    }
}

/// The node a saved payload stands for: its file name without extension, `stdin` for `-`.
pub fn node_name_from_path(path: &std::path::Path) -> String {
    if path.as_os_str() == "-" {
        return "stdin".to_string();
    }
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Parses `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`.
pub fn parse_node_ip(raw: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    if let Ok(socket) = raw.parse::<std::net::SocketAddr>() {
        return Ok((socket.ip(), Some(socket.port())));
    }
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse::<IpAddr>().map(|ip| (ip, None)).map_err(|e| e.to_string());
    }
    Err("expected an IP address, IP:PORT or [IPv6]:PORT".into())
}

/// Parses a Go-style duration: `750ms`, `10s`, `1m30s`, `2h`, `1.5s`.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("empty duration".into());
    }
    if raw == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0.0_f64;
    let mut rest = raw;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{raw:?} needs a unit (ms, s, m, h)"))?;
        let (number, tail) = rest.split_at(number_len);
        let value: f64 = number.parse().map_err(|_| format!("{raw:?} is not a duration"))?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(format!("{raw:?}: unknown unit {unit:?} (use ms, s, m, h)")),
        };
        total += value * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|e| format!("{raw:?}: {e}"))
}

/// Parses a byte size: `1048576`, `512K`, `256M`, `1G` (powers of 1024; `Ki`/`Mi`/`Gi` too).
pub fn parse_size(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    let digits = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(digits);
    let number: u64 = number.parse().map_err(|_| format!("{raw:?} is not a size"))?;
    let factor: u64 = match unit.trim_end_matches(['i', 'B']).to_ascii_uppercase().as_str() {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("{raw:?}: unknown size unit (use K, M, G)")),
    };
    number.checked_mul(factor).ok_or_else(|| format!("{raw:?} is too large"))
}

/// Parses one quantile, which must lie in [0, 1].
pub fn parse_quantile(raw: &str) -> Result<f64, String> {
    let q: f64 = raw.trim().parse().map_err(|_| format!("{raw:?} is not a number"))?;
    if (0.0..=1.0).contains(&q) { Ok(q) } else { Err(format!("quantile {q} is outside [0, 1]")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(args: &[&str]) -> SourceArgs {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            source: SourceArgs,
        }
        let mut argv = vec!["test"];
        argv.extend_from_slice(args);
        Wrapper::try_parse_from(argv).expect("valid flags").source
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
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
            (metric, source.nodes)
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
    fn durations_follow_go_spelling() {
        assert_eq!(parse_duration("750ms"), Ok(Duration::from_millis(750)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn sizes_accept_binary_suffixes() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1Gi"), Ok(1 << 30));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("12X").is_err());
    }

    #[test]
    fn node_ip_accepts_ipv4_ipv6_and_ports() {
        assert_eq!(parse_node_ip("10.0.0.7"), Ok(("10.0.0.7".parse().expect("ip"), None)));
        assert_eq!(parse_node_ip("10.0.0.7:10250"), Ok(("10.0.0.7".parse().expect("ip"), Some(10250))));
        assert_eq!(parse_node_ip("[fd00::7]:1"), Ok(("fd00::7".parse().expect("ip"), Some(1))));
        assert_eq!(parse_node_ip("[fd00::7]"), Ok(("fd00::7".parse().expect("ip"), None)));
        assert!(parse_node_ip("node-a").is_err());
    }

    #[test]
    fn file_inputs_take_node_names_from_flags_then_file_names() {
        let plan = source(&["--file", "a/n1.prom", "--file", "-", "--file", "x.txt", "--node", "first"])
            .to_plan()
            .expect("valid");
        let SourcePlan::Files { inputs: files, .. } = plan else { panic!("expected files") };
        let nodes: Vec<&str> = files.iter().map(|f| f.node.as_str()).collect();
        assert_eq!(nodes, ["first", "stdin", "x"]);
    }

    #[test]
    fn every_conflict_is_reported_together() {
        let err =
            source(&["--token-file", "t", "--kubelet-ca", "c", "-l", "a=b", "n1"]).to_plan().unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.to_string().contains("--token-file applies to --method direct only"));
        assert!(err.to_string().contains("choose nodes one way"));
    }

    #[test]
    fn file_and_cluster_flags_conflict() {
        let err = source(&["--file", "x", "--context", "prod"]).to_plan().unwrap_err();
        assert!(err.to_string().contains("--context reads a cluster"));
    }

    #[test]
    fn duplicate_file_nodes_are_refused() {
        let err = source(&["--file", "a/n1.prom", "--file", "b/n1.prom"]).to_plan().unwrap_err();
        assert!(err.to_string().contains("both node \"n1\""));
    }

    #[test]
    fn direct_defaults_to_higher_concurrency() {
        let SourcePlan::Cluster(plan) = source(&["--method", "direct"]).to_plan().expect("valid") else {
            panic!("expected cluster")
        };
        assert_eq!(plan.limits.concurrency, DIRECT_CONCURRENCY);
        let SourcePlan::Cluster(plan) = source(&[]).to_plan().expect("valid") else {
            panic!("expected cluster")
        };
        assert_eq!(plan.limits.concurrency, PROXY_CONCURRENCY);
        assert_eq!(plan.nodes, NodeSelection::All { selector: None });
    }
}
