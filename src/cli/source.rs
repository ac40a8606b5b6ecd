//! The source flags shared by every reading command (`--file`, a cluster, `--prometheus`) and
//! their validation into a [`SourcePlan`]: every conflict is reported together, once.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::access::{AddressType, Method};
use crate::cluster::plan::{
    ApiRequests, ClusterPlan, DIRECT_CONCURRENCY, KubeletAuth, KubeletTls, Limits, NodeSelection,
    PROXY_CONCURRENCY, PROXY_RATE, Rate, parse_node_ip,
};
use crate::files::{FileInput, node_name_from_path};
use crate::prometheus::Target;
use crate::source::{Contexts, FleetPlan, SourcePlan};
use crate::units::{parse_duration, parse_size};

/// Where metrics come from: saved files, a cluster (the default) or a Prometheus server. Each
/// group is its own struct, so a command that reads only a live cluster (`doctor`, `compare`)
/// flattens [`ClusterArgs`] alone and its help lists only the flags it accepts.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Saved payloads (`--file`, `--node`).
    #[command(flatten)]
    pub file: FileArgs,
    /// A live cluster: nodes, credentials, method and collection limits.
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// A Prometheus server's stored histograms.
    #[command(flatten)]
    pub prometheus: PrometheusArgs,
}

/// Saved payloads instead of a cluster.
#[derive(Debug, Clone, Default, Args)]
pub struct FileArgs {
    /// Read saved payloads instead of a cluster (repeatable; `-` is stdin), e.g. the output of
    /// `kubectl get --raw /api/v1/nodes/NODE/proxy/metrics`.
    #[arg(help_heading = "Saved payloads", long = "file", short = 'f', value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Node name for `--file` input (repeatable, in the order of the files); defaults to the
    /// file name without its extension (`stdin` for `-`).
    #[arg(help_heading = "Saved payloads", long = "node", value_name = "NAME")]
    pub file_nodes: Vec<String>,
}

/// A live cluster: which nodes, whose credentials, which access method, and how the nodes are
/// collected (`--max-body` and `--timeout` also bound `--file` and `--prometheus` reads).
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Nodes to read (default: every node the selector matches).
    #[arg(help_heading = "Cluster", value_name = "NODE")]
    pub nodes: Vec<String>,

    /// Path to the kubeconfig file (default: $KUBECONFIG, several files merged, else ~/.kube/config).
    #[arg(help_heading = "Cluster", long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use; repeat it to read several clusters in one run (histogram,
    /// get, snapshot and doctor).
    #[arg(help_heading = "Cluster", long, value_name = "NAME")]
    pub context: Vec<String>,
    /// Read the cluster of every context in the kubeconfig (histogram, get, snapshot and doctor).
    #[arg(help_heading = "Cluster", long, conflicts_with = "context")]
    pub all_contexts: bool,
    /// Username to impersonate in requests to the API server (listing nodes, the proxy, doctor's
    /// access checks), as kubectl's --as; needs `impersonate` permission. Kubelets reached
    /// directly see only the kubelet credentials.
    #[arg(help_heading = "Cluster", long = "as", value_name = "USER")]
    pub impersonate_user: Option<String>,
    /// Group to impersonate with --as (repeatable), as kubectl's --as-group.
    #[arg(help_heading = "Cluster", long = "as-group", value_name = "GROUP")]
    pub impersonate_groups: Vec<String>,
    /// The longest wait to connect to the API server, or for it to take or send the next part
    /// of a request, e.g. 30s (kubectl's --request-timeout; 0 waits without limit). Each node's
    /// fetch is bounded by --timeout as well.
    #[arg(help_heading = "Cluster", long, value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: Option<Duration>,
    /// How to reach kubelets: through the API server proxy, or directly on each node.
    #[arg(help_heading = "Cluster", long, value_enum, default_value_t = Method::Proxy)]
    pub method: Method,
    /// Bearer token file for the direct method (re-read when it changes, as projected
    /// service-account tokens rotate).
    #[arg(help_heading = "Direct method", long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// CA bundle that signed the kubelets' serving certificates (direct method).
    #[arg(help_heading = "Direct method", long, value_name = "PATH")]
    pub kubelet_ca: Option<PathBuf>,
    /// Server name to verify kubelet certificates against (direct method).
    #[arg(help_heading = "Direct method", long, value_name = "NAME")]
    pub kubelet_tls_server_name: Option<String>,
    /// Do not verify kubelet serving certificates (direct method). Insecure; warned. No
    /// credentials are sent to unverified kubelets unless
    /// --allow-credentials-to-unverified-kubelets is given too.
    #[arg(help_heading = "Direct method", long)]
    pub insecure_skip_tls_verify_kubelet: bool,
    /// Which credentials kubelets receive (direct method): by default only credentials meant for
    /// them (--token-file, else the pod's service-account token), never the kubeconfig's.
    #[arg(help_heading = "Direct method", long, value_enum, default_value_t = KubeletAuth::Token, value_name = "SOURCE")]
    pub kubelet_auth: KubeletAuth,
    /// Send credentials to kubelets even though --insecure-skip-tls-verify-kubelet leaves them
    /// unverified: anyone on the path to a node can capture them.
    #[arg(help_heading = "Direct method", long)]
    pub allow_credentials_to_unverified_kubelets: bool,
    /// Node address types to try, in order of preference (direct method).
    #[arg(help_heading = "Direct method", long, value_enum, value_delimiter = ',', default_values_t = [AddressType::InternalIp, AddressType::ExternalIp, AddressType::Hostname])]
    pub address_type: Vec<AddressType>,
    /// Kubelet port (default: the node's `status.daemonEndpoints.kubeletEndpoint.Port`, else 10250).
    #[arg(help_heading = "Direct method", long, value_name = "PORT")]
    pub kubelet_port: Option<u16>,
    /// Label selector for nodes, e.g. `node-role.kubernetes.io/worker,topology.kubernetes.io/zone=a`.
    #[arg(help_heading = "Cluster", long, short = 'l', value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Kubelet address to read without listing nodes (direct method; repeatable), e.g.
    /// `10.0.0.7` or `[fd00::7]:10250`.
    #[arg(help_heading = "Cluster", long, value_name = "IP[:PORT]")]
    pub node_ip: Vec<String>,
    /// How many nodes to fetch at once (default: 8 through the proxy, 64 direct).
    #[arg(help_heading = "Collection", long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Give up on a node after this long, e.g. 10s or 750ms (the API server never times out
    /// proxied requests, so this is always set).
    #[arg(help_heading = "Collection", long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// Retries per node on transient failures (connect errors, 429, 5xx), with backoff.
    #[arg(help_heading = "Collection", long, default_value_t = 2, value_name = "N")]
    pub retries: u32,
    /// Requests per second across all nodes, 0 for no limit (default: 100 through the proxy,
    /// which does not limit proxied requests itself; none direct). A 429 from the API server
    /// pauses every node for its Retry-After and halves the rate.
    #[arg(help_heading = "Collection", long, value_name = "N")]
    pub qps: Option<u32>,
    /// Requests that may start at once before --qps paces them [default: 20].
    #[arg(help_heading = "Collection", long, value_name = "N")]
    pub burst: Option<u32>,
    /// Refuse payloads larger than this many bytes (suffixes K, M, G accepted).
    #[arg(help_heading = "Collection", long, default_value = "256M", value_parser = parse_size, value_name = "BYTES")]
    pub max_body: u64,
}

/// A Prometheus server's stored kubelet histograms instead of a cluster.
#[derive(Debug, Clone, Default, Args)]
pub struct PrometheusArgs {
    /// Read a Prometheus server's stored kubelet histograms instead of a cluster: the increase
    /// of each bucket over --range, by node (plain http:// only), e.g. http://127.0.0.1:9090.
    #[arg(help_heading = "Prometheus", long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// How far back --prometheus looks, e.g. 5m or 24h [default: 1h].
    #[arg(help_heading = "Prometheus", long, value_parser = parse_duration, value_name = "DURATION")]
    pub range: Option<Duration>,
    /// The label holding the node name in Prometheus [default: node]; configs that scrape
    /// kubelets directly often only have `instance`.
    #[arg(help_heading = "Prometheus", long, value_name = "LABEL")]
    pub prometheus_node_label: Option<String>,
}

/// The metric of `COMMAND [METRIC] [NODE...]` and the source flags: a first positional that is a
/// node name (no `_`: DNS-1123 names cannot hold one) moves back among the nodes, and the metric
/// defaults to `kubelet_pod_start_duration_seconds`.
pub fn metric_and_source(first: Option<&str>, source: &SourceArgs) -> (String, SourceArgs) {
    let mut source = source.clone();
    match first {
        Some(metric) if metric.contains('_') => (metric.to_string(), source),
        Some(node) => {
            source.cluster.nodes.insert(0, node.to_string());
            (crate::catalog::POD_START_DURATION.to_string(), source)
        }
        None => (crate::catalog::POD_START_DURATION.to_string(), source),
    }
}

impl SourceArgs {
    /// Validates the source flags into a plan, reporting every conflict at once.
    pub fn to_plan(&self) -> Result<SourcePlan, UsageError> {
        let mut problems = Vec::new();
        let cluster = &self.cluster;
        let cluster_flags: Vec<&str> = [
            (!cluster.nodes.is_empty(), "NODE names"),
            (cluster.kubeconfig.is_some(), "--kubeconfig"),
            (!cluster.context.is_empty(), "--context"),
            (cluster.all_contexts, "--all-contexts"),
            (cluster.selector.is_some(), "--selector"),
            (!cluster.node_ip.is_empty(), "--node-ip"),
            (cluster.token_file.is_some(), "--token-file"),
            (cluster.kubelet_ca.is_some(), "--kubelet-ca"),
            (cluster.impersonate_user.is_some(), "--as"),
            (!cluster.impersonate_groups.is_empty(), "--as-group"),
            (cluster.request_timeout.is_some(), "--request-timeout"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();

        if let Some(url) = &self.prometheus.prometheus {
            return self.prometheus_plan(url, &cluster_flags);
        }
        for (set, flag) in [
            (self.prometheus.range.is_some(), "--range"),
            (self.prometheus.prometheus_node_label.is_some(), "--prometheus-node-label"),
        ] {
            if set {
                problems.push(format!("{flag} applies to --prometheus only"));
            }
        }

        let file = &self.file;
        if !file.files.is_empty() {
            for flag in &cluster_flags {
                problems.push(format!("{flag} reads a cluster and cannot be combined with --file"));
            }
            if file.file_nodes.len() > file.files.len() {
                problems.push(format!(
                    "{} --node names for {} --file inputs",
                    file.file_nodes.len(),
                    file.files.len()
                ));
            }
            let stdin_count = file.files.iter().filter(|p| p.as_os_str() == "-").count();
            if stdin_count > 1 {
                problems.push("`-` (stdin) can be given to --file only once".to_string());
            }
            let inputs: Vec<FileInput> = file
                .files
                .iter()
                .enumerate()
                .map(|(i, path)| FileInput {
                    path: path.clone(),
                    node: file.file_nodes.get(i).cloned().unwrap_or_else(|| node_name_from_path(path)),
                })
                .collect();
            let mut names: Vec<&str> = inputs.iter().map(|f| f.node.as_str()).collect();
            names.sort_unstable();
            if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
                problems
                    .push(format!("two --file inputs are both node {:?}; name them with --node", pair[0]));
            }
            return UsageError::check(problems)
                .map(|()| SourcePlan::Files { inputs, max_body: cluster.max_body });
        }

        if !file.file_nodes.is_empty() {
            problems
                .push("--node names a --file input; to pick cluster nodes, pass them as arguments".into());
        }
        match cluster.to_source_plan() {
            Ok(plan) => UsageError::check(problems).map(|()| plan),
            Err(e) => {
                problems.extend(e.problems);
                Err(UsageError { problems })
            }
        }
    }

    /// The `--prometheus` plan: no files, no cluster flags, a plain-HTTP URL, a positive range.
    fn prometheus_plan(&self, url: &str, cluster_flags: &[&str]) -> Result<SourcePlan, UsageError> {
        let mut problems = Vec::new();
        if !self.file.files.is_empty() {
            problems.push("--file and --prometheus are two sources; choose one".to_string());
        }
        let cluster = &self.cluster;
        let mut flags = cluster_flags.to_vec();
        for (set, flag) in [
            (cluster.method != Method::Proxy, "--method"),
            (cluster.kubelet_tls_server_name.is_some(), "--kubelet-tls-server-name"),
            (cluster.insecure_skip_tls_verify_kubelet, "--insecure-skip-tls-verify-kubelet"),
            (cluster.kubelet_auth != KubeletAuth::Token, "--kubelet-auth"),
            (cluster.allow_credentials_to_unverified_kubelets, "--allow-credentials-to-unverified-kubelets"),
            (cluster.kubelet_port.is_some(), "--kubelet-port"),
            (cluster.concurrency.is_some(), "--concurrency"),
            (cluster.qps.is_some(), "--qps"),
            (cluster.burst.is_some(), "--burst"),
            (!self.file.file_nodes.is_empty(), "--node"),
        ] {
            if set {
                flags.push(flag);
            }
        }
        for flag in flags {
            problems.push(format!("{flag} reads a cluster and cannot be combined with --prometheus"));
        }
        let range = self.prometheus.range.unwrap_or(crate::prometheus::DEFAULT_RANGE);
        if range < Duration::from_secs(1) {
            problems.push("--range must be at least 1s".to_string());
        }
        let node_label = self
            .prometheus
            .prometheus_node_label
            .clone()
            .unwrap_or_else(|| crate::prometheus::DEFAULT_NODE_LABEL.to_string());
        if !crate::exposition::is_label_name(&node_label) || node_label.starts_with("__") {
            problems.push(format!("--prometheus-node-label {node_label:?} is not a label name"));
        }
        if cluster.timeout.is_zero() {
            problems.push("--timeout must be longer than 0".into());
        }
        let url = crate::prometheus::base_url(url).map_err(|p| problems.push(format!("--prometheus {p}")));
        // A bad URL is among the problems, so past this check `url` is `Ok`.
        UsageError::check(problems)?;
        Ok(SourcePlan::Prometheus(Target {
            url: url.unwrap_or_default(),
            range,
            node_label,
            timeout: cluster.timeout,
        }))
    }
}

impl ClusterArgs {
    /// Validates the cluster flags into a plan, reporting every conflict at once.
    pub fn to_plan(&self) -> Result<ClusterPlan, UsageError> {
        self.to_plan_as(self.method)
    }

    /// Validates the cluster flags as if `--method method` had been given: `compare` reads the
    /// cluster both ways, so it accepts the direct method's flags whatever `--method` says.
    pub fn to_plan_as(&self, method: Method) -> Result<ClusterPlan, UsageError> {
        let mut problems = Vec::new();
        let direct = method == Method::Direct;
        if !direct {
            for (set, flag) in [
                (self.token_file.is_some(), "--token-file"),
                (self.kubelet_ca.is_some(), "--kubelet-ca"),
                (self.kubelet_tls_server_name.is_some(), "--kubelet-tls-server-name"),
                (self.insecure_skip_tls_verify_kubelet, "--insecure-skip-tls-verify-kubelet"),
                (self.kubelet_auth != KubeletAuth::Token, "--kubelet-auth"),
                (self.allow_credentials_to_unverified_kubelets, "--allow-credentials-to-unverified-kubelets"),
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
        if self.allow_credentials_to_unverified_kubelets && !self.insecure_skip_tls_verify_kubelet {
            problems.push(
                "--allow-credentials-to-unverified-kubelets applies to --insecure-skip-tls-verify-kubelet only"
                    .into(),
            );
        }
        if self.token_file.is_some() && self.kubelet_auth != KubeletAuth::Token {
            problems.push(format!(
                "--token-file and --kubelet-auth {} are two sources of kubelet credentials; choose one",
                self.kubelet_auth.as_str()
            ));
        }
        let selections = [!self.nodes.is_empty(), self.selector.is_some(), !self.node_ip.is_empty()];
        if selections.iter().filter(|s| **s).count() > 1 {
            problems.push("choose nodes one way: NODE names, --selector, or --node-ip".into());
        }
        if !self.impersonate_groups.is_empty() && self.impersonate_user.is_none() {
            problems.push("--as-group impersonates groups of a user: give --as USER too".into());
        }
        if self.burst.is_some() && (self.qps == Some(0) || (direct && self.qps.is_none())) {
            problems.push("--burst applies only with a --qps limit".into());
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
        let mut names: Vec<&str> = self.context.iter().map(String::as_str).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            problems.push(format!("--context {:?} is given twice", pair[0]));
        }
        let fleet = self.all_contexts || self.context.len() > 1;
        if fleet && !self.node_ip.is_empty() {
            problems.push("--node-ip addresses one cluster's kubelets; give one --context".into());
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
        let default_rate = (!direct).then_some(PROXY_RATE);
        let rate = match self.qps {
            Some(0) => None,
            Some(qps) => Some(Rate { qps, burst: self.burst.unwrap_or(PROXY_RATE.burst).max(1) }),
            None => default_rate.map(|rate| Rate { burst: self.burst.unwrap_or(rate.burst).max(1), ..rate }),
        };
        Ok(ClusterPlan {
            kubeconfig: self.kubeconfig.clone(),
            context: if fleet { None } else { self.context.first().cloned() },
            method,
            nodes,
            token_file: self.token_file.clone(),
            kubelet_tls,
            kubelet_auth: self.kubelet_auth,
            credentials_to_unverified: self.allow_credentials_to_unverified_kubelets,
            address_types: self.address_type.clone(),
            kubelet_port: self.kubelet_port,
            api: ApiRequests {
                impersonate_user: self.impersonate_user.clone(),
                impersonate_groups: self.impersonate_groups.clone(),
                request_timeout: self.request_timeout,
            },
            limits: Limits {
                concurrency: self.concurrency.unwrap_or(default_concurrency),
                per_node: self.timeout,
                retries: self.retries,
                max_body: self.max_body,
                rate,
            },
        })
    }

    /// Validates the cluster flags into the plan of one cluster, or of several (`--context`
    /// repeated, `--all-contexts`) read in one run.
    pub fn to_source_plan(&self) -> Result<SourcePlan, UsageError> {
        let cluster = self.to_plan()?;
        Ok(match self.contexts() {
            Some(contexts) => SourcePlan::Fleet(FleetPlan { cluster, contexts }),
            None => SourcePlan::Cluster(cluster),
        })
    }

    /// The contexts of a run over several clusters (`--context` repeated, `--all-contexts`), or
    /// `None` for one cluster.
    pub fn contexts(&self) -> Option<Contexts> {
        match (self.all_contexts, self.context.len()) {
            (true, _) => Some(Contexts::All),
            (false, 0 | 1) => None,
            (false, _) => Some(Contexts::Named(self.context.clone())),
        }
    }

    /// Validates the flags of a command that reads one cluster (`doctor`, `compare`, `watch`):
    /// several contexts are refused, naming `command`.
    pub fn to_single_plan_as(&self, method: Method, command: &str) -> Result<ClusterPlan, UsageError> {
        let several = self.contexts().map(|_| one_cluster_only(command));
        match (self.to_plan_as(method), several) {
            (Ok(plan), None) => Ok(plan),
            (Ok(_), Some(problem)) => Err(UsageError { problems: vec![problem] }),
            (Err(mut e), problem) => {
                e.problems.extend(problem);
                Err(e)
            }
        }
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
    /// `Ok` when there is no problem.
    pub(crate) fn check(problems: Vec<String>) -> Result<(), UsageError> {
        if problems.is_empty() { Ok(()) } else { Err(UsageError { problems }) }
    }
}

/// Why `command` refuses several contexts.
pub(super) fn one_cluster_only(command: &str) -> String {
    format!(
        "{command} reads one cluster at a time; several --context or --all-contexts are for histogram, get, \
         snapshot and doctor"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

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
    fn impersonation_reaches_the_plan_and_groups_need_a_user() {
        let SourcePlan::Cluster(plan) =
            source(&["--as", "alice", "--as-group", "ops", "--request-timeout", "5s"])
                .to_plan()
                .expect("valid")
        else {
            panic!("expected cluster")
        };
        assert_eq!(plan.api.impersonate_user.as_deref(), Some("alice"));
        assert_eq!(plan.api.impersonate_groups, ["ops"]);
        assert_eq!(plan.api.request_timeout, Some(Duration::from_secs(5)));
        let err = source(&["--as-group", "ops"]).to_plan().unwrap_err();
        assert!(err.to_string().contains("give --as USER too"), "{err}");
        let err = source(&["--file", "x", "--as", "alice"]).to_plan().unwrap_err();
        assert!(err.to_string().contains("--as reads a cluster"), "{err}");
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

    #[test]
    fn the_plan_has_defaults_and_lists_every_conflict() {
        let SourcePlan::Prometheus(crate::prometheus::Target { url, range, node_label, .. }) =
            source(&["--prometheus", "http://127.0.0.1:9090/"]).to_plan().expect("valid")
        else {
            panic!("expected a Prometheus plan")
        };
        assert_eq!(
            (url.as_str(), range, node_label.as_str()),
            ("http://127.0.0.1:9090", crate::prometheus::DEFAULT_RANGE, "node")
        );

        let err = source(&[
            "--prometheus",
            "https://p",
            "--file",
            "x.prom",
            "--context",
            "prod",
            "--method",
            "direct",
            "--range",
            "500ms",
        ])
        .to_plan()
        .expect_err("conflicts");
        let text = err.to_string();
        assert_eq!(err.problems.len(), 5, "{text}");
        for expected in [
            "--file and --prometheus",
            "--context reads a cluster",
            "--method reads",
            "at least 1s",
            "only plain http://",
        ] {
            assert!(text.contains(expected), "{expected:?} in {text}");
        }
        let err = source(&["--range", "5m", "--prometheus-node-label", "instance"])
            .to_plan()
            .expect_err("needs --prometheus");
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(err.to_string().contains("--range applies to --prometheus only"));
    }
}
