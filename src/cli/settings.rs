//! What commands run: each reading command's arguments validated once into settings — the
//! source plan, the analysis query, the selector — with every problem reported together. After
//! this, commands never re-check a flag.

use std::path::PathBuf;
use std::time::Duration;

use super::{
    CompareArgs, CompareOutput, DoctorArgs, DoctorOutput, GetArgs, GetOutput, HistogramArgs, HistogramOutput,
    LogFormat, ServeArgs, SloUnknown, SnapshotArgs, UsageError, WatchArgs,
};
use crate::access::{Endpoint, Method, is_exposition_path};
use crate::analysis::Query;
use crate::catalog::{BUILD_INFO, POD_START_DURATION, POD_START_SLI_DURATION};
use crate::cluster::plan::{ClusterPlan, NodeSelection};
use crate::exposition::Selector;
use crate::report::document::DocumentFormat;
use crate::report::order::SortKey;
use crate::slo::{Objective, Statistic};
use crate::source::{Contexts, SourcePlan};

pub use super::pods::{CrossCheckPlan, PodSource, PodsSettings};

/// `histogram`, validated.
#[derive(Debug, Clone)]
pub struct HistogramSettings {
    /// Where the metrics come from.
    pub source: SourcePlan,
    /// The metric, quantiles (including the SLO's), bands and `--by`.
    pub query: Query,
    /// The metric's family plus the kubelet's build info.
    pub selector: Selector,
    /// The endpoint the histogram is served on.
    pub endpoint: Endpoint,
    /// `--baseline`.
    pub baseline: Option<PathBuf>,
    /// `--slo`.
    pub slo: Option<Objective>,
    /// `--slo-unknown` (only with `--slo`).
    pub slo_unknown: Option<SloUnknown>,
    /// `--output`.
    pub output: HistogramOutput,
    /// How the JSON document (or, for `get`, each sample) is written for `-o json`, `-o yaml`
    /// and `-o jsonpath=`.
    pub document: DocumentFormat,
    /// `--plot`.
    pub plot: Option<PathBuf>,
    /// `--sort-by`, when given.
    pub sort_by: Option<SortKey>,
    /// `--top`, when given (at least 1).
    pub top: Option<usize>,
    /// Whether the table has its header row (`--no-headers` leaves it out).
    pub headers: bool,
}

/// `watch`, validated.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// Where the metrics come from (a cluster or files).
    pub source: SourcePlan,
    /// The metric, quantiles and bands.
    pub query: Query,
    /// The metric's family plus the kubelet's build info.
    pub selector: Selector,
    /// The endpoint the histogram is served on.
    pub endpoint: Endpoint,
    /// Time between tables (longer than 0).
    pub interval: Duration,
    /// How many tables, when bounded (at least 1).
    pub count: Option<u64>,
}

/// `serve`, validated.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Where the metrics come from.
    pub source: SourcePlan,
    /// The histogram families served.
    pub metrics: Vec<String>,
    /// Every served family plus the kubelet's build info.
    pub selector: Selector,
    /// Where `/metrics` is served.
    pub listen: std::net::SocketAddr,
    /// Time between collections (longer than 0).
    pub interval: Duration,
    /// Stop after this many collections.
    pub max_cycles: Option<u64>,
    /// `--log-format`: diagnostics for people, or JSON lines.
    pub log_format: LogFormat,
    /// `-m` was given: a name no payload has is worth a "did you mean" (the defaults are not:
    /// an older kubelet lacks the SLI histogram, and the other default would read close to it).
    pub metrics_named: bool,
}

/// `snapshot`, validated.
#[derive(Debug, Clone)]
pub struct SnapshotSettings {
    /// Where the metrics come from.
    pub source: SourcePlan,
    /// Every saved family plus the kubelet's build info.
    pub selector: Selector,
    /// The endpoint the histograms are served on.
    pub endpoint: Endpoint,
    /// The file to write, `-` for stdout.
    pub output: PathBuf,
    /// `-m` was given: a name no payload has is worth a "did you mean" (the defaults are not:
    /// an older kubelet lacks the SLI histogram, and the other default would read close to it).
    pub metrics_named: bool,
}

/// `get`, validated.
#[derive(Debug, Clone)]
pub struct GetSettings {
    /// Where the metrics come from.
    pub source: SourcePlan,
    /// The kubelet path to read.
    pub path: String,
    /// What to read there: exposition text filtered by a selector, or raw bodies.
    pub read: GetRead,
    /// `--output`.
    pub output: GetOutput,
    /// How the JSON document (or, for `get`, each sample) is written for `-o json`, `-o yaml`
    /// and `-o jsonpath=`.
    pub document: DocumentFormat,
    /// `--sort`: JSON and CSV nodes in name order (context first) instead of as each finishes.
    pub sort: bool,
}

/// What `get` reads at its path.
#[derive(Debug, Clone)]
pub enum GetRead {
    /// Exposition text, keeping the families the selector selects.
    Exposition(Selector),
    /// Any other body (`/healthz`, `/configz`), as sent; from a cluster only.
    Raw,
}

/// `doctor`, validated.
#[derive(Debug, Clone)]
pub struct DoctorSettings {
    /// The cluster, credentials and method to check (for several clusters, everything but the
    /// context).
    pub plan: ClusterPlan,
    /// Several clusters, each checked on its own (`--context` repeated, `--all-contexts`).
    pub contexts: Option<Contexts>,
    /// How many nodes to check at most (at least 1).
    pub sample: usize,
    /// `--output`.
    pub output: DoctorOutput,
    /// How the JSON document (or, for `get`, each sample) is written for `-o json`, `-o yaml`
    /// and `-o jsonpath=`.
    pub document: DocumentFormat,
    /// `--pods`: also check `list pods`.
    pub pods: bool,
}

/// `compare`, validated.
#[derive(Debug, Clone)]
pub struct CompareSettings {
    /// The cluster read through the API server proxy.
    pub proxy: ClusterPlan,
    /// The same nodes read directly, with the direct method's flags.
    pub direct: ClusterPlan,
    /// Rounds (at least 1).
    pub rounds: u32,
    /// The kubelet path fetched, e.g. `/metrics`.
    pub path: String,
    /// `--output`.
    pub output: CompareOutput,
    /// How the JSON document (or, for `get`, each sample) is written for `-o json`, `-o yaml`
    /// and `-o jsonpath=`.
    pub document: DocumentFormat,
}

impl HistogramArgs {
    /// Validates `histogram`'s flags.
    pub fn settings(&self) -> Result<HistogramSettings, UsageError> {
        let (metric, source) = self.resolved();
        let mut problems = Vec::new();
        let plan = source.to_plan().map_err(|e| problems.extend(e.problems));
        if self.by.is_some() && matches!(plan, Ok(SourcePlan::Prometheus(_))) {
            problems.push(
                "--by is not available with --prometheus: its series are summed by node and `le`".into(),
            );
        }
        let mut query = Query::new(&metric);
        query.quantiles = self.quantiles.clone();
        query.bands = self.bands.clone();
        query.by = self.by.clone();
        if let Some(Objective { statistic: Statistic::Quantile(q), .. }) = self.slo
            && !query.quantiles.contains(&q)
        {
            query.quantiles.push(q);
        }
        if let Some(q) = self.sort_by.and_then(SortKey::quantile)
            && !query.quantiles.contains(&q)
        {
            query.quantiles.push(q);
        }
        if self.top == Some(0) {
            problems.push("--top must be at least 1".into());
        }
        if matches!(plan, Ok(SourcePlan::Fleet(_))) && self.plot.is_some() {
            problems.push("--plot is for one cluster; give one --context".into());
        }
        if self.slo_unknown.is_some() && self.slo.is_none() {
            problems.push("--slo-unknown needs --slo".into());
        }
        if let Err(e) = query.validate() {
            problems.push(e.to_string());
        }
        let selector = histogram_selector(&metric).map_err(|p| problems.push(p));
        let (Ok(source), Ok(selector)) = (plan, selector) else { return Err(UsageError { problems }) };
        UsageError::check(problems)?;
        let (output, document) = self.output.resolve(HistogramOutput::Json, HistogramOutput::Yaml);
        Ok(HistogramSettings {
            document,
            sort_by: self.sort_by,
            top: self.top,
            headers: !self.no_headers,
            source,
            query,
            selector,
            endpoint: self.endpoint,
            baseline: self.baseline.clone(),
            slo: self.slo,
            slo_unknown: self.slo_unknown,
            output,
            plot: self.plot.clone(),
        })
    }
}

impl WatchArgs {
    /// Validates `watch`'s flags.
    pub fn settings(&self) -> Result<WatchSettings, UsageError> {
        let (metric, source) = self.resolved();
        let mut problems = Vec::new();
        let plan = source.to_plan().map_err(|e| problems.extend(e.problems));
        one_cluster(plan.as_ref().ok(), "watch", &mut problems);
        if self.interval.is_zero() {
            problems.push("--interval must be longer than 0".into());
        }
        if self.count == Some(0) {
            problems.push("--count must be at least 1".into());
        }
        let mut query = Query::new(&metric);
        query.quantiles = self.quantiles.clone();
        query.bands = self.bands.clone();
        if let Err(e) = query.validate() {
            problems.push(e.to_string());
        }
        let selector = histogram_selector(&metric).map_err(|p| problems.push(p));
        let (Ok(source), Ok(selector)) = (plan, selector) else { return Err(UsageError { problems }) };
        UsageError::check(problems)?;
        Ok(WatchSettings {
            source,
            query,
            selector,
            endpoint: self.endpoint,
            interval: self.interval,
            count: self.count,
        })
    }
}

impl ServeArgs {
    /// Validates `serve`'s flags; `--node-local` takes the node from `$NODE_NAME` and
    /// `$HOST_IP` unless flags name it.
    pub fn settings(&self) -> Result<ServeSettings, UsageError> {
        self.settings_with_env(&|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Validates `serve`'s flags, reading the downward API's variables through `env`.
    pub fn settings_with_env(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ServeSettings, UsageError> {
        let mut problems = Vec::new();
        let plan = if self.node_local {
            self.node_local_plan(env).map_err(|e| problems.extend(e.problems))
        } else {
            for (set, flag) in
                [(self.node_name.is_some(), "--node-name"), (self.host_ip.is_some(), "--host-ip")]
            {
                if set {
                    problems.push(format!("{flag} applies to --node-local only"));
                }
            }
            self.source.to_plan().map_err(|e| problems.extend(e.problems))
        };
        one_cluster(plan.as_ref().ok(), "serve", &mut problems);
        if self.interval.is_zero() {
            problems.push("--interval must be longer than 0".into());
        }
        let metrics = histograms_or_pod_start(&self.metrics);
        let selector = histograms_selector(&metrics, &mut problems);
        let Ok(source) = plan else { return Err(UsageError { problems }) };
        UsageError::check(problems)?;
        Ok(ServeSettings {
            source,
            metrics,
            selector,
            listen: self.listen,
            interval: self.interval,
            max_cycles: self.max_cycles,
            log_format: self.log_format,
            metrics_named: !self.metrics.is_empty(),
        })
    }
}

impl ServeArgs {
    /// The plan of `serve --node-local`: the direct method, the one node named by the flags or
    /// the downward API's variables, and nothing that picks other nodes.
    fn node_local_plan(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<SourcePlan, UsageError> {
        let mut problems = Vec::new();
        let source = &self.source;
        for (set, flag) in [
            (!source.cluster.nodes.is_empty(), "NODE names"),
            (source.cluster.selector.is_some(), "--selector"),
            (!source.cluster.node_ip.is_empty(), "--node-ip"),
            (!source.file.files.is_empty(), "--file"),
            (source.prometheus.prometheus.is_some(), "--prometheus"),
        ] {
            if set {
                problems.push(format!(
                    "{flag} cannot be combined with --node-local, which reads only its own node"
                ));
            }
        }
        let name = self.node_name.clone().or_else(|| env("NODE_NAME"));
        if name.is_none() {
            problems.push(
                "--node-local needs the node's name: --node-name, or NODE_NAME set from the downward API \
                 (fieldRef spec.nodeName)"
                    .into(),
            );
        }
        let address = match (self.host_ip, env("HOST_IP")) {
            (Some(ip), _) => Some(ip),
            (None, Some(raw)) => match raw.trim().parse() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    problems.push(format!("HOST_IP {raw:?} is not an IP address"));
                    None
                }
            },
            (None, None) => None,
        };
        // The node is picked here, so the other ways to pick nodes (reported above) are not
        // reported again as conflicting with each other.
        let mut rest = source.cluster.clone();
        (rest.nodes, rest.selector, rest.node_ip) = (Vec::new(), None, Vec::new());
        let plan = rest
            .to_single_plan_as(Method::Direct, "serve --node-local")
            .map_err(|e| problems.extend(e.problems));
        UsageError::check(problems)?;
        let (Ok(mut plan), Some(name)) = (plan, name) else {
            return Err(UsageError { problems: vec!["--node-local reads a cluster".into()] });
        };
        plan.method = Method::Direct;
        plan.nodes = NodeSelection::Local { name, address };
        Ok(SourcePlan::Cluster(plan))
    }
}

impl SnapshotArgs {
    /// Validates `snapshot`'s flags.
    pub fn settings(&self) -> Result<SnapshotSettings, UsageError> {
        let mut problems = Vec::new();
        let plan = self.source.to_plan().map_err(|e| problems.extend(e.problems));
        let selector = histograms_selector(&histograms_or_pod_start(&self.metrics), &mut problems);
        let Ok(source) = plan else { return Err(UsageError { problems }) };
        UsageError::check(problems)?;
        Ok(SnapshotSettings {
            source,
            selector,
            endpoint: self.endpoint,
            output: self.output_file.clone(),
            metrics_named: !self.metrics.is_empty(),
        })
    }
}

impl GetArgs {
    /// Validates `get`'s flags.
    pub fn settings(&self) -> Result<GetSettings, UsageError> {
        let mut problems = Vec::new();
        let plan = self.source.to_plan().map_err(|e| problems.extend(e.problems));
        let path = self.path.clone().unwrap_or_else(|| self.endpoint.path().to_string());
        let read = if is_exposition_path(&path) {
            let mut selectors = Vec::new();
            for text in &self.metrics {
                match text.parse::<Selector>() {
                    Ok(selector) => selectors.push(selector),
                    Err(e) => problems.push(format!("invalid --metric {text:?}: {e}")),
                }
            }
            GetRead::Exposition(if self.metrics.is_empty() {
                Selector::all()
            } else {
                Selector::any_of(selectors)
            })
        } else {
            if matches!(plan, Ok(SourcePlan::Files { .. })) {
                problems
                    .push(format!("--path {path} reads a cluster; with --file, the files are the payloads"));
            }
            if matches!(plan, Ok(SourcePlan::Prometheus(_))) {
                problems.push(format!("--path {path} reads a cluster, not --prometheus"));
            }
            if matches!(plan, Ok(SourcePlan::Fleet(_))) {
                problems.push(format!("--path {path} reads one cluster at a time; give one --context"));
            }
            if !self.metrics.is_empty() {
                problems.push(format!("--metric filters exposition text, and {path} is not a metrics path"));
            }
            GetRead::Raw
        };
        let Ok(source) = plan else { return Err(UsageError { problems }) };
        UsageError::check(problems)?;
        let (output, document) = self.output.resolve(GetOutput::Json, GetOutput::Yaml);
        Ok(GetSettings { source, path, read, output, document, sort: self.sort })
    }
}

impl DoctorArgs {
    /// Validates `doctor`'s flags: a live cluster and a positive sample.
    pub fn settings(&self) -> Result<DoctorSettings, UsageError> {
        let mut problems = Vec::new();
        let plan = self.cluster.to_plan().map_err(|e| problems.extend(e.problems));
        if self.sample == 0 {
            problems.push("--sample must be at least 1".into());
        }
        let Ok(plan) = plan else { return Err(UsageError { problems }) };
        UsageError::check(problems)?;
        let (output, document) = self.output.resolve(DoctorOutput::Json, DoctorOutput::Yaml);
        Ok(DoctorSettings {
            plan,
            contexts: self.cluster.contexts(),
            sample: self.sample,
            output,
            document,
            pods: self.pods,
        })
    }
}

impl CompareArgs {
    /// Validates `compare`'s flags: a live cluster named by nodes or a selector (the proxy
    /// addresses nodes by name), read with the direct method's flags too; `--method` does not
    /// matter, since both methods are measured.
    pub fn settings(&self) -> Result<CompareSettings, UsageError> {
        let mut problems = Vec::new();
        let direct = self
            .cluster
            .to_single_plan_as(Method::Direct, "compare")
            .map_err(|e| problems.extend(e.problems))
            .ok();
        if direct.as_ref().is_some_and(|plan| matches!(plan.nodes, NodeSelection::Addresses(_))) {
            problems.push(
                "compare needs node names (the proxy addresses nodes by name): use NODE names or -l, not --node-ip"
                    .into(),
            );
        }
        if self.rounds == 0 {
            problems.push("--rounds must be at least 1".into());
        }
        let path = crate::cluster::request_path(self.path.as_deref().unwrap_or(self.endpoint.path()))
            .map_err(|reason| problems.push(format!("invalid --path: {reason}")));
        let (Some(direct), Ok(path)) = (direct, path) else { return Err(UsageError { problems }) };
        UsageError::check(problems)?;
        let proxy = ClusterPlan { method: Method::Proxy, ..direct.clone() };
        let (output, document) = self.output.resolve(CompareOutput::Json, CompareOutput::Yaml);
        Ok(CompareSettings { proxy, direct, rounds: self.rounds, path, output, document })
    }
}

/// Several contexts are for `histogram`, `get`, `snapshot` and `doctor`; other commands read one
/// cluster.
fn one_cluster(plan: Option<&SourcePlan>, command: &str, problems: &mut Vec<String>) {
    if matches!(plan, Some(SourcePlan::Fleet(_))) {
        problems.push(super::source::one_cluster_only(command));
    }
}

/// The histogram families asked for, or both pod-start histograms when none was.
fn histograms_or_pod_start(metrics: &[String]) -> Vec<String> {
    if metrics.is_empty() {
        vec![POD_START_DURATION.to_string(), POD_START_SLI_DURATION.to_string()]
    } else {
        metrics.to_vec()
    }
}

/// Every family of `metrics` plus the kubelet's build info; each invalid name is a problem.
fn histograms_selector(metrics: &[String], problems: &mut Vec<String>) -> Selector {
    let selectors = metrics
        .iter()
        .filter_map(|metric| histogram_selector(metric).map_err(|problem| problems.push(problem)).ok())
        .collect();
    Selector::any_of(selectors)
}

/// The family `metric` names plus the kubelet's build info (for each node's version).
pub fn histogram_selector(metric: &str) -> Result<Selector, String> {
    let family: Selector = metric.parse().map_err(|e| format!("invalid metric name {metric:?}: {e}"))?;
    let build_info: Selector = BUILD_INFO.parse().map_err(|e| format!("{BUILD_INFO}: {e}"))?;
    // Without a `# TYPE` line (e.g. `kubectl get --raw ... | grep _bucket`) each series is its own
    // untyped family, named `{metric}_bucket` and so on; PromQL's `histogram_quantile` reads them.
    let mut selectors = vec![family, build_info];
    for suffix in ["_bucket", "_sum", "_count"] {
        let name = format!("{metric}{suffix}");
        selectors.push(name.parse().map_err(|e| format!("invalid metric name {name:?}: {e}"))?);
    }
    Ok(Selector::any_of(selectors))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use crate::source::{Contexts, SourcePlan};

    fn command(argv: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("kubelet-metrics").chain(argv.iter().copied()))
            .expect("parses")
            .command
    }

    #[test]
    fn histogram_reports_every_problem_at_once() {
        let Command::Histogram(args) =
            command(&["histogram", "--prometheus", "http://p:9090", "--by", "op", "--bands", "5,1"])
        else {
            panic!("histogram")
        };
        let err = args.settings().expect_err("two problems");
        assert_eq!(err.problems.len(), 2, "{err}");
    }

    #[test]
    fn histogram_selector_keeps_untyped_bucket_sum_and_count_families() {
        // `kubectl get --raw /metrics | grep x_seconds_`: no TYPE line, so each series is its own family.
        let selector = super::histogram_selector("x_seconds").expect("valid");
        for name in
            ["x_seconds", "x_seconds_bucket", "x_seconds_sum", "x_seconds_count", "kubernetes_build_info"]
        {
            assert!(selector.keeps_family(name), "{name}");
        }
        assert!(!selector.keeps_family("y_seconds_bucket"));
    }

    #[test]
    fn histogram_adds_the_slo_quantile() {
        let Command::Histogram(args) = command(&["histogram", "--file", "n.prom", "--slo", "p95<=5s"]) else {
            panic!("histogram")
        };
        assert!(args.settings().expect("valid").query.quantiles.contains(&0.95));
    }

    #[test]
    fn watch_refuses_zero_interval_and_zero_count() {
        let Command::Watch(args) = command(&["watch", "--interval", "0", "--count", "0"]) else {
            panic!("watch")
        };
        assert_eq!(args.settings().expect_err("two problems").problems.len(), 2);
    }

    #[test]
    fn commands_accept_only_the_sources_they_read() {
        // `doctor` and `compare` check a live cluster; `watch` re-reads a cluster or files.
        for argv in [
            ["doctor", "--file", "n.prom"],
            ["doctor", "--prometheus", "http://p:9090"],
            ["compare", "--range", "5m"],
            ["watch", "--prometheus", "http://p:9090"],
        ] {
            let err = Cli::try_parse_from(std::iter::once("kubelet-metrics").chain(argv))
                .expect_err("not a flag of this command");
            assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument, "{argv:?}");
        }
    }

    #[test]
    fn several_contexts_are_for_histogram_get_snapshot_and_doctor() {
        let Command::Histogram(args) = command(&["histogram", "--context", "a", "--context", "b"]) else {
            panic!("histogram")
        };
        let settings = args.settings().expect("a fleet");
        let SourcePlan::Fleet(fleet) = settings.source else { panic!("a fleet plan") };
        assert_eq!(fleet.contexts, Contexts::Named(vec!["a".into(), "b".into()]));
        assert_eq!(fleet.cluster.context, None);
        let Command::Get(args) = command(&["get", "--all-contexts"]) else { panic!("get") };
        assert!(matches!(args.settings().expect("a fleet").source, SourcePlan::Fleet(_)));
        let Command::Snapshot(args) = command(&["snapshot", "--all-contexts", "--output-file", "x"]) else {
            panic!("snapshot")
        };
        assert!(matches!(args.settings().expect("a fleet").source, SourcePlan::Fleet(_)));
        let Command::Doctor(args) = command(&["doctor", "--context", "a", "--context", "b"]) else {
            panic!("doctor")
        };
        let settings = args.settings().expect("a fleet");
        assert_eq!(settings.contexts, Some(Contexts::Named(vec!["a".into(), "b".into()])));
        assert_eq!(settings.plan.context, None);
        let Command::Watch(args) = command(&["watch", "--all-contexts"]) else { panic!("watch") };
        assert!(args.settings().expect_err("one cluster").to_string().contains("one cluster at a time"));
        let Command::Histogram(args) = command(&["histogram", "--context", "a", "--context", "a"]) else {
            panic!("histogram")
        };
        assert!(args.settings().expect_err("twice").to_string().contains("given twice"));
        assert!(
            Cli::try_parse_from(["kubelet-metrics", "get", "--all-contexts", "--context", "a"]).is_err(),
            "--all-contexts or --context"
        );
    }

    #[test]
    fn get_raw_paths_need_a_cluster_and_no_metric_filter() {
        let Command::Get(args) = command(&["get", "--file", "n.prom", "--path", "/healthz", "-m", "up"])
        else {
            panic!("get")
        };
        assert_eq!(args.settings().expect_err("two problems").problems.len(), 2);
    }

    fn serve(argv: &[&str]) -> super::super::ServeArgs {
        let Command::Serve(args) = command(argv) else { panic!("serve") };
        args
    }

    #[test]
    fn node_local_reads_its_node_from_the_downward_api_directly() {
        use crate::access::Method;
        use crate::cluster::plan::NodeSelection;
        use crate::source::SourcePlan;
        let env = |name: &str| match name {
            "NODE_NAME" => Some("node-7".to_string()),
            "HOST_IP" => Some("10.0.0.7".to_string()),
            _ => None,
        };
        let settings = serve(&["serve", "--node-local"]).settings_with_env(&env).expect("valid");
        let SourcePlan::Cluster(plan) = settings.source else { panic!("a cluster") };
        assert_eq!(plan.method, Method::Direct);
        let ip = "10.0.0.7".parse().expect("ip");
        assert_eq!(plan.nodes, NodeSelection::Local { name: "node-7".into(), address: Some(ip) });
        // Flags win over the environment; without an address the node object is read.
        let settings = serve(&["serve", "--node-local", "--node-name", "n1"])
            .settings_with_env(&|_| None)
            .expect("valid");
        let SourcePlan::Cluster(plan) = settings.source else { panic!("a cluster") };
        assert_eq!(plan.nodes, NodeSelection::Local { name: "n1".into(), address: None });
    }

    #[test]
    fn node_local_refuses_other_nodes_and_needs_a_name() {
        let err = serve(&["serve", "--node-local", "--selector", "a=b", "node-a"])
            .settings_with_env(&|_| None)
            .expect_err("three problems");
        assert_eq!(err.problems.len(), 3, "{err}");
        assert!(err.problems.iter().any(|p| p.contains("NODE_NAME")), "{err}");
        let bad_ip = |name: &str| (name == "HOST_IP").then(|| "not-an-ip".to_string());
        let err = serve(&["serve", "--node-local", "--node-name", "n"])
            .settings_with_env(&bad_ip)
            .expect_err("bad");
        assert_eq!(err.problems, ["HOST_IP \"not-an-ip\" is not an IP address"]);
        // The downward API's variables are set in every pod; only the flags need --node-local.
        let downward = |name: &str| (name == "NODE_NAME").then(|| "n".to_string());
        assert!(serve(&["serve"]).settings_with_env(&downward).is_ok());
        let err = serve(&["serve", "--node-name", "n"]).settings_with_env(&|_| None).expect_err("flag");
        assert_eq!(err.problems, ["--node-name applies to --node-local only"]);
    }
}
