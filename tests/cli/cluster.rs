//! Cluster access at the library level against the simulated cluster: both methods, node
//! selection, every fault kind, RBAC and TLS failures, token rotation, `Retry-After`, and that
//! no token ever reaches a message. Each test starts its own cluster on loopback and stops it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kubelet_metrics::access::{AddressType, Method};
use kubelet_metrics::cluster::plan::{ClusterPlan, KubeletAuth, KubeletTls, Limits, NodeSelection};
use kubelet_metrics::cluster::{
    self, AddressPolicy, BodyStream, FetchError, MetricsSource, NodeTarget, Source, TlsProblem,
};
use kubelet_metrics::collect;
use kubelet_metrics::exposition::{Family, Selector};
use kubelet_metrics::scrape::{FailureKind, NodeScrape};
use kubesim::{Cluster, Fault, HistogramTruth};
use tokio_util::sync::CancellationToken;

const POD_START: &str = "kubelet_pod_start_duration_seconds";

async fn start(nodes: usize, faults: &[(usize, Fault)]) -> Cluster {
    let mut builder = Cluster::builder().nodes(nodes).seed(7);
    for (index, fault) in faults {
        builder = builder.fault(*index, fault.clone());
    }
    builder.start().await.expect("kubesim starts")
}

fn limits() -> Limits {
    Limits { concurrency: 16, per_node: Duration::from_secs(20), retries: 2, max_body: 64 << 20, rate: None }
}

fn proxy_plan(kubeconfig: PathBuf) -> ClusterPlan {
    ClusterPlan {
        kubeconfig: Some(kubeconfig),
        context: None,
        method: Method::Proxy,
        nodes: NodeSelection::All { selector: None },
        token_file: None,
        kubelet_tls: KubeletTls::Verify { ca: None, server_name: None },
        kubelet_auth: KubeletAuth::Token,
        credentials_to_unverified: false,
        address_types: AddressPolicy::default().types,
        kubelet_port: None,
        limits: limits(),
        api: Default::default(),
    }
}

fn direct_plan(cluster: &Cluster) -> ClusterPlan {
    ClusterPlan {
        method: Method::Direct,
        token_file: Some(cluster.sa_token_path()),
        kubelet_tls: KubeletTls::Verify { ca: Some(cluster.kubelet_ca_path()), server_name: None },
        ..proxy_plan(cluster.admin_kubeconfig())
    }
}

fn pod_start_selector() -> Selector {
    POD_START.parse().expect("a valid selector")
}

/// Collection options as the one-shot commands use them, without a progress bar.
fn options() -> collect::Options {
    collect::Options::new(kubelet_metrics::remedy::fix)
}

async fn run(plan: &ClusterPlan, selector: &Selector) -> collect::Collection {
    collect::collect(plan, "/metrics", selector, &options()).await.expect("the run can start")
}

/// Cumulative buckets, sum and count of one histogram family, in payload order.
fn histogram(families: &[Family], name: &str) -> (Vec<(f64, u64)>, f64, u64) {
    let family = families.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no family {name}"));
    let mut buckets = Vec::new();
    let (mut sum, mut count) = (f64::NAN, 0);
    for sample in &family.samples {
        if *sample.name == *format!("{name}_bucket") {
            let le = sample.label("le").expect("buckets have le");
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().expect("numeric le") };
            buckets.push((le, sample.value as u64));
        } else if *sample.name == *format!("{name}_sum") {
            sum = sample.value;
        } else if *sample.name == *format!("{name}_count") {
            count = sample.value as u64;
        }
    }
    (buckets, sum, count)
}

fn assert_matches_truth(scrape: &NodeScrape, truth: &HistogramTruth) {
    let scraped = scrape.outcome.as_ref().unwrap_or_else(|f| panic!("{}: {f:?}", scrape.node));
    let (buckets, sum, count) = histogram(&scraped.families, &truth.metric);
    let expected: Vec<(f64, u64)> = truth.buckets.iter().map(|b| (b.le, b.count)).collect();
    assert_eq!(buckets, expected, "{}", scrape.node);
    assert_eq!(count, truth.count, "{}", scrape.node);
    assert!(
        (sum - truth.sum).abs() <= 1e-9 * truth.sum.abs().max(1.0),
        "{}: {sum} vs {}",
        scrape.node,
        truth.sum
    );
}

/// The admin kubeconfig's bearer token, the service-account token, and any other secret.
fn secrets(cluster: &Cluster) -> Vec<String> {
    let mut secrets =
        vec![std::fs::read_to_string(cluster.sa_token_path()).expect("sa.token").trim().to_string()];
    let kubeconfig = std::fs::read_to_string(cluster.admin_kubeconfig()).expect("admin kubeconfig");
    secrets.extend(
        kubeconfig
            .lines()
            .filter_map(|line| line.trim().strip_prefix("token:"))
            .map(|token| token.trim().trim_matches('"').to_string()),
    );
    assert!(secrets.iter().all(|s| s.len() >= 8), "tokens look like tokens");
    secrets
}

fn assert_no_secret(texts: &[String], secrets: &[String]) {
    for text in texts {
        for secret in secrets {
            assert!(!text.contains(secret.as_str()), "a token leaked into: {text}");
        }
    }
}

fn failure_texts(collection: &collect::Collection) -> Vec<String> {
    let mut texts = collection.warnings.clone();
    for scrape in &collection.scrapes {
        if let Err(failure) = &scrape.outcome {
            texts.push(failure.message.clone());
            texts.extend(failure.fix.clone());
        }
    }
    texts
}

#[tokio::test]
async fn both_methods_read_every_node_and_agree_with_truth() {
    let cluster = start(4, &[]).await;
    let truth = cluster.truth();
    let selector = Selector::all();
    let proxy = run(&proxy_plan(cluster.admin_kubeconfig()), &selector).await;
    let direct = run(&direct_plan(&cluster), &selector).await;
    assert_eq!((proxy.method, direct.method), (Method::Proxy, Method::Direct));
    assert!(proxy.warnings.is_empty() && direct.warnings.is_empty(), "{:?}", direct.warnings);
    for collection in [&proxy, &direct] {
        let names: Vec<&str> = collection.scrapes.iter().map(|s| s.node.as_str()).collect();
        assert_eq!(names, cluster.node_names());
        for (scrape, node) in collection.scrapes.iter().zip(&truth.nodes) {
            assert_eq!(scrape.kubelet_version.as_deref(), Some(node.kubelet_version.as_str()));
            assert_matches_truth(scrape, &node.pod_start);
            if let Some(sli) = &node.pod_start_sli {
                assert_matches_truth(scrape, sli);
            }
        }
    }
    for (p, d) in proxy.scrapes.iter().zip(&direct.scrapes) {
        let (p, d) = (p.outcome.as_ref().expect("proxy"), d.outcome.as_ref().expect("direct"));
        let pod_start = |families: &[Family]| -> Vec<Family> {
            families.iter().filter(|f| f.name.starts_with(POD_START)).cloned().collect()
        };
        assert!(!pod_start(&p.families).is_empty(), "the pod-start histograms are there");
        assert_eq!(pod_start(&p.families), pod_start(&d.families), "both methods see the same histograms");
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn selectors_keep_only_the_chosen_families() {
    let cluster = start(2, &[]).await;
    let collection = run(&proxy_plan(cluster.admin_kubeconfig()), &pod_start_selector()).await;
    for scrape in &collection.scrapes {
        let names: Vec<&str> =
            scrape.outcome.as_ref().expect("ok").families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, [POD_START]);
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn label_selector_and_node_names_choose_nodes() {
    let cluster = start(6, &[]).await;
    let names = cluster.node_names();
    let mut plan = direct_plan(&cluster);
    plan.nodes = NodeSelection::All { selector: Some("topology.kubernetes.io/zone=zone-b".into()) };
    let zone_b = run(&plan, &pod_start_selector()).await;
    let chosen: Vec<&str> = zone_b.scrapes.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(chosen, [names[1].as_str(), names[4].as_str()]);
    assert!(zone_b.scrapes.iter().all(|s| s.outcome.is_ok()));

    let mut plan = proxy_plan(cluster.admin_kubeconfig());
    plan.nodes = NodeSelection::Names(vec!["no-such-node".into(), names[2].clone()]);
    let named = run(&plan, &pod_start_selector()).await;
    let chosen: Vec<&str> = named.scrapes.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(chosen, ["no-such-node", names[2].as_str()], "sorted by name");
    assert!(named.scrapes[1].outcome.is_ok());
    let missing = named.scrapes[0].outcome.as_ref().expect_err("no such node");
    assert_eq!(missing.kind, FailureKind::NotFound);
    assert!(missing.message.contains("no-such-node"), "{}", missing.message);

    let mut plan = proxy_plan(cluster.admin_kubeconfig());
    plan.nodes = NodeSelection::All { selector: Some("kubesim.io/profile=none-such".into()) };
    assert!(run(&plan, &pod_start_selector()).await.scrapes.is_empty());
    cluster.shutdown().await;
}

#[tokio::test]
async fn listing_reads_the_watch_cache_whatever_the_page_size() {
    let cluster = start(5, &[]).await;
    let loaded = cluster::config::load(Some(&cluster.admin_kubeconfig()), None).await.expect("kubeconfig");
    let client = cluster::config::api_client(&loaded.config, true).expect("client");
    let policy = cluster::discovery::AddressPolicy::default();
    let nodes =
        cluster::discovery::list_paged(&client, "kubesim", None, 2, 64 << 20, &policy).await.expect("list");
    let mut names: Vec<String> = nodes.into_iter().map(|n| n.name).collect();
    names.sort();
    assert_eq!(names, cluster.node_names());
    // `resourceVersion=0` is answered from the watch cache, which ignores the limit: one request.
    let requests = cluster.requests();
    let lists: Vec<&str> =
        requests.log.iter().filter(|a| a.kind == "list").map(|a| a.path.as_str()).collect();
    assert_eq!(lists, ["/api/v1/nodes"]);
    cluster.shutdown().await;
}

#[tokio::test]
async fn node_ip_targets_need_no_listing() {
    let cluster = start(3, &[]).await;
    let names = cluster.node_names();
    let addresses: Vec<_> = names[..2]
        .iter()
        .map(|n| cluster.kubelet_addr(n).expect("address"))
        .map(|a| (a.ip(), Some(a.port())))
        .collect();
    let mut plan = direct_plan(&cluster);
    plan.kubeconfig = None;
    plan.nodes = NodeSelection::Addresses(addresses.clone());
    let collection = run(&plan, &pod_start_selector()).await;
    let expected: Vec<String> = {
        let mut v: Vec<String> =
            addresses.iter().map(|(ip, port)| format!("{ip}:{}", port.expect("port"))).collect();
        v.sort();
        v
    };
    let got: Vec<&str> = collection.scrapes.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(got, expected);
    assert!(collection.scrapes.iter().all(|s| s.outcome.is_ok()), "{:?}", failure_texts(&collection));
    cluster.shutdown().await;
}

#[tokio::test]
async fn an_address_type_the_nodes_lack_fails_each_node_with_a_fix() {
    let cluster = start(2, &[]).await;
    let plan = ClusterPlan { address_types: vec![AddressType::ExternalIp], ..direct_plan(&cluster) };
    let collection = run(&plan, &pod_start_selector()).await;
    assert_eq!(collection.scrapes.len(), 2);
    for scrape in &collection.scrapes {
        let failure = scrape.outcome.as_ref().expect_err("no ExternalIP");
        assert!(failure.message.contains("no address of type ExternalIP"), "{}", failure.message);
        assert!(failure.fix.as_deref().is_some_and(|f| f.contains("--address-type")));
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn raw_paths_return_bodies() {
    let cluster = start(2, &[]).await;
    // The service account may read nodes/metrics only; /healthz needs more, so the direct run
    // uses the admin kubeconfig's own credentials (no --token-file), which takes
    // --kubelet-auth kubeconfig.
    let direct_as_admin =
        ClusterPlan { token_file: None, kubelet_auth: KubeletAuth::Kubeconfig, ..direct_plan(&cluster) };
    for plan in [proxy_plan(cluster.admin_kubeconfig()), direct_as_admin] {
        let raw = collect::collect_raw(&plan, "healthz", &options()).await.expect("the run can start");
        assert_eq!(raw.scrapes.len(), 2);
        for node in &raw.scrapes {
            assert_eq!(node.outcome.as_deref().expect("healthy"), b"ok");
        }
    }
    cluster.shutdown().await;
}

/// Faults by node index, and the failure kind each gives through each method.
fn fault_table() -> Vec<(Fault, FailureKind, FailureKind)> {
    vec![
        (Fault::Refuse, FailureKind::Refused, FailureKind::ServerError),
        (Fault::Hang, FailureKind::Timeout, FailureKind::Timeout),
        (Fault::Reset, FailureKind::Io, FailureKind::Io),
        (Fault::Status(500), FailureKind::ServerError, FailureKind::ServerError),
        (Fault::Status(404), FailureKind::NotFound, FailureKind::NotFound),
        (Fault::Truncate, FailureKind::Parse, FailureKind::Parse),
        (Fault::Huge(3 << 20), FailureKind::TooLarge, FailureKind::TooLarge),
        (Fault::BadCert, FailureKind::Tls, FailureKind::ServerError),
        // Headers at once, then a body far slower than --timeout: not "no answer".
        (Fault::SlowBody(Duration::from_secs(60)), FailureKind::SlowBody, FailureKind::SlowBody),
    ]
}

#[tokio::test]
async fn each_fault_fails_only_its_node_with_a_typed_error_and_fix() {
    let table = fault_table();
    let faults: Vec<(usize, Fault)> = table.iter().enumerate().map(|(i, (f, _, _))| (i, f.clone())).collect();
    // One more node than faults: the last one is healthy, and must stay so.
    let cluster = start(table.len() + 1, &faults).await;
    let secrets = secrets(&cluster);
    let fast = Limits { per_node: Duration::from_secs(2), max_body: 2 << 20, ..limits() };
    let direct = ClusterPlan { limits: fast, ..direct_plan(&cluster) };
    let proxy = ClusterPlan { limits: fast, ..proxy_plan(cluster.admin_kubeconfig()) };
    let selector = pod_start_selector();
    let (direct, proxy) = tokio::join!(run(&direct, &selector), run(&proxy, &selector));
    for (collection, method) in [(&direct, Method::Direct), (&proxy, Method::Proxy)] {
        assert_eq!(collection.scrapes.len(), table.len() + 1);
        for (scrape, (fault, direct_kind, proxy_kind)) in collection.scrapes.iter().zip(&table) {
            let expected = if method == Method::Direct { *direct_kind } else { *proxy_kind };
            let failure = scrape.outcome.as_ref().expect_err(&format!("{fault} fails via {method:?}"));
            assert_eq!(failure.kind, expected, "{fault} via {method:?}: {}", failure.message);
            assert!(failure.message.starts_with(&format!("{} GET ", method.as_str())), "{}", failure.message);
            assert!(failure.message.contains("/metrics"), "{}", failure.message);
            assert!(failure.fix.is_some(), "{fault} via {method:?} has a fix");
        }
        let healthy = collection.scrapes.last().expect("healthy node");
        assert!(healthy.outcome.is_ok(), "{:?}", healthy.outcome);
        assert_no_secret(&failure_texts(collection), &secrets);
    }
    let bad_cert = direct.scrapes[7].outcome.as_ref().expect_err("badcert");
    assert!(bad_cert.message.contains("not valid for this name"), "{}", bad_cert.message);
    let truncated = direct.scrapes[5].outcome.as_ref().expect_err("truncate");
    assert!(truncated.message.contains("cut short"), "{}", truncated.message);
    // A slow body says it answered and how much arrived, and its fix is not the no-answer one.
    for collection in [&direct, &proxy] {
        let slow = collection.scrapes[8].outcome.as_ref().expect_err("slowbody");
        assert!(
            slow.message.contains("answered, but the body did not finish within 2s ("),
            "{}",
            slow.message
        );
        let received: u64 = slow
            .message
            .rsplit_once('(')
            .and_then(|(_, tail)| tail.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a byte count in {}", slow.message));
        assert!(received > 0, "some of the body arrived: {}", slow.message);
        let fix = slow.fix.as_deref().expect("a fix");
        assert!(fix.contains("raise --timeout") && fix.contains("bytes"), "{fix}");
        assert!(!fix.contains("/proxy/healthz"), "{fix}");
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn malformed_lines_are_warnings_and_the_rest_is_kept() {
    let cluster = start(1, &[(0, Fault::Garbage)]).await;
    let truth = cluster.truth();
    for plan in [proxy_plan(cluster.admin_kubeconfig()), direct_plan(&cluster)] {
        let collection = run(&plan, &Selector::all()).await;
        let scraped = collection.scrapes[0].outcome.as_ref().expect("garbage is skipped");
        assert!(!scraped.warnings.is_empty());
        assert!(scraped.warnings.iter().all(|w| w.starts_with("line ")), "{:?}", scraped.warnings);
        assert_matches_truth(&collection.scrapes[0], &truth.nodes[0].pod_start);
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn kubelet_without_webhook_authn_is_unauthorized_directly_but_fine_through_the_proxy() {
    let cluster = start(1, &[(0, Fault::NoAuth)]).await;
    let direct = run(&direct_plan(&cluster), &pod_start_selector()).await;
    let failure = direct.scrapes[0].outcome.as_ref().expect_err("401");
    assert_eq!(failure.kind, FailureKind::Unauthorized);
    assert!(failure.fix.as_deref().is_some_and(|f| f.contains("--token-file")));
    assert_no_secret(&failure_texts(&direct), &secrets(&cluster));
    // The API server authenticates to kubelets with its client certificate.
    let proxy = run(&proxy_plan(cluster.admin_kubeconfig()), &pod_start_selector()).await;
    assert!(proxy.scrapes[0].outcome.is_ok());
    cluster.shutdown().await;
}

#[tokio::test]
async fn viewer_is_forbidden_and_told_about_nodes_proxy() {
    let cluster = start(2, &[]).await;
    let collection = run(&proxy_plan(cluster.viewer_kubeconfig()), &pod_start_selector()).await;
    assert_eq!(collection.scrapes.len(), 2, "the viewer may list nodes");
    for scrape in &collection.scrapes {
        let failure = scrape.outcome.as_ref().expect_err("forbidden");
        assert_eq!(failure.kind, FailureKind::Forbidden);
        assert!(failure.message.contains("`get nodes/proxy`"), "{}", failure.message);
        let fix = failure.fix.as_deref().expect("a fix");
        assert!(fix.contains("kubelet-metrics rbac --method proxy --user viewer"), "{fix}");
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn direct_without_kubelet_ca_is_a_tls_error_naming_both_flags() {
    let cluster = start(2, &[]).await;
    let plan = ClusterPlan {
        kubelet_tls: KubeletTls::Verify { ca: None, server_name: None },
        ..direct_plan(&cluster)
    };
    let collection = run(&plan, &pod_start_selector()).await;
    for scrape in &collection.scrapes {
        let failure = scrape.outcome.as_ref().expect_err("unknown authority");
        assert_eq!(failure.kind, FailureKind::Tls);
        assert!(failure.message.contains("unknown authority"), "{}", failure.message);
        let fix = failure.fix.as_deref().expect("a fix");
        assert!(fix.contains("--kubelet-ca") && fix.contains("--insecure-skip-tls-verify-kubelet"), "{fix}");
    }

    let insecure = ClusterPlan {
        kubelet_tls: KubeletTls::Insecure,
        credentials_to_unverified: true,
        ..direct_plan(&cluster)
    };
    let collection = run(&insecure, &pod_start_selector()).await;
    assert!(collection.scrapes.iter().all(|s| s.outcome.is_ok()));
    assert_eq!(collection.warnings.len(), 1, "{:?}", collection.warnings);
    assert!(collection.warnings[0].contains("--insecure-skip-tls-verify-kubelet"));

    // Without --allow-credentials-to-unverified-kubelets the token stays home: anonymous.
    let withheld = ClusterPlan { kubelet_tls: KubeletTls::Insecure, ..direct_plan(&cluster) };
    let collection = run(&withheld, &pod_start_selector()).await;
    for scrape in &collection.scrapes {
        let failure = scrape.outcome.as_ref().expect_err("anonymous requests are refused");
        assert!(matches!(failure.kind, FailureKind::Unauthorized | FailureKind::Forbidden), "{failure:?}");
    }
    assert!(collection.warnings[0].contains("no credentials are sent"), "{:?}", collection.warnings);
    cluster.shutdown().await;
}

#[tokio::test]
async fn server_name_override_verifies_against_that_name() {
    let cluster = start(1, &[]).await;
    let name = cluster.node_names()[0].clone();
    let plan = ClusterPlan {
        kubelet_tls: KubeletTls::Verify { ca: Some(cluster.kubelet_ca_path()), server_name: Some(name) },
        ..direct_plan(&cluster)
    };
    assert!(run(&plan, &pod_start_selector()).await.scrapes[0].outcome.is_ok());
    let plan = ClusterPlan {
        kubelet_tls: KubeletTls::Verify {
            ca: Some(cluster.kubelet_ca_path()),
            server_name: Some("elsewhere.example".into()),
        },
        ..direct_plan(&cluster)
    };
    let collection = run(&plan, &pod_start_selector()).await;
    let failure = collection.scrapes[0].outcome.as_ref().expect_err("name mismatch");
    assert_eq!(failure.kind, FailureKind::Tls);
    cluster.shutdown().await;
}

/// Connects the plan and returns its source and targets (the pieces `collect` uses).
async fn connect(plan: &ClusterPlan) -> (Source, Vec<NodeTarget>) {
    let connected = cluster::connect(plan).await.expect("connects");
    (connected.source, connected.discovery.targets)
}

async fn fetch(source: &impl MetricsSource, targets: Vec<NodeTarget>) -> Vec<NodeScrape> {
    collect::scrape(source, targets, "/metrics", &pod_start_selector(), &limits(), &options()).await
}

#[tokio::test]
async fn a_rotated_token_file_is_used_by_the_next_request() {
    let cluster = start(1, &[]).await;
    let path = cluster.sa_token_path();
    let (source, targets) = connect(&direct_plan(&cluster)).await;
    assert!(fetch(&source, targets.clone()).await[0].outcome.is_ok());

    // A token of an account without `nodes/metrics`: the kubelet's denial names who it saw.
    cluster
        .apply_yaml("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: nobody\n  namespace: default\n")
        .expect("service account");
    let other = cluster.create_token("default", "nobody").expect("token");
    std::fs::write(&path, &other).expect("rotate");
    let scrapes = fetch(&source, targets.clone()).await;
    let failure = scrapes[0].outcome.as_ref().expect_err("forbidden");
    assert_eq!(failure.kind, FailureKind::Forbidden);
    assert!(failure.message.contains("system:serviceaccount:default:nobody"), "{}", failure.message);
    assert!(failure.message.contains("`get nodes/metrics`"), "{}", failure.message);
    assert_no_secret(&[failure.message.clone(), failure.fix.clone().unwrap_or_default()], &[other]);

    // An unknown token: rejected, and never echoed.
    std::fs::write(&path, "not-a-valid-token-0123456789").expect("rotate");
    let scrapes = fetch(&source, targets.clone()).await;
    let failure = scrapes[0].outcome.as_ref().expect_err("unauthorized");
    assert_eq!(failure.kind, FailureKind::Unauthorized);
    assert!(!failure.message.contains("not-a-valid-token"));

    // The rotated, valid token works again without rebuilding anything.
    cluster.write_sa_token("rotated-token-abcdefghijklmnop");
    assert!(fetch(&source, targets).await[0].outcome.is_ok());
    cluster.shutdown().await;
}

/// Wraps a source, and clears the node's 429 fault once the first 429 has been answered.
struct ClearsAfterFirst429<'a> {
    inner: &'a Source,
    cluster: &'a Cluster,
    opened: AtomicUsize,
    limited: AtomicBool,
}

impl MetricsSource for ClearsAfterFirst429<'_> {
    fn method(&self) -> Method {
        self.inner.method()
    }

    fn url(&self, node: &NodeTarget, path: &str) -> String {
        self.inner.url(node, path)
    }

    async fn open(&self, node: &NodeTarget, path: &str, max_body: u64) -> Result<BodyStream, FetchError> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let result = self.inner.open(node, path, max_body).await;
        if let Err(FetchError::TooManyRequests { retry_after }) = &result {
            assert_eq!(*retry_after, Some(Duration::from_secs(1)), "Retry-After is read");
            self.limited.store(true, Ordering::SeqCst);
            self.cluster.set_fault(&node.name, None);
        }
        result
    }
}

#[tokio::test]
async fn retry_after_is_honoured_then_the_retry_succeeds() {
    let cluster = start(1, &[(0, Fault::TooManyRequests { retry_after: Duration::from_secs(1) })]).await;
    for plan in [direct_plan(&cluster), proxy_plan(cluster.admin_kubeconfig())] {
        cluster.set_fault(
            &cluster.node_names()[0],
            Some(Fault::TooManyRequests { retry_after: Duration::from_secs(1) }),
        );
        let (source, targets) = connect(&plan).await;
        let wrapper = ClearsAfterFirst429 {
            inner: &source,
            cluster: &cluster,
            opened: AtomicUsize::new(0),
            limited: AtomicBool::new(false),
        };
        let started = tokio::time::Instant::now();
        let scrapes = fetch(&wrapper, targets).await;
        assert!(scrapes[0].outcome.is_ok(), "{:?}", scrapes[0].outcome);
        assert!(wrapper.limited.load(Ordering::SeqCst));
        assert_eq!(wrapper.opened.load(Ordering::SeqCst), 2, "one 429, then one retry");
        assert!(started.elapsed() >= Duration::from_secs(1), "waited as Retry-After asked");
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_gives_up_at_once() {
    let cluster = start(1, &[(0, Fault::TooManyRequests { retry_after: Duration::from_secs(30) })]).await;
    let plan = ClusterPlan {
        limits: Limits { per_node: Duration::from_secs(5), ..limits() },
        ..direct_plan(&cluster)
    };
    let started = tokio::time::Instant::now();
    let collection = run(&plan, &pod_start_selector()).await;
    let failure = collection.scrapes[0].outcome.as_ref().expect_err("429");
    assert_eq!(failure.kind, FailureKind::TooManyRequests);
    assert!(failure.message.contains("30s"), "{}", failure.message);
    assert!(started.elapsed() < Duration::from_secs(5), "no wait past the deadline");
    cluster.shutdown().await;
}

#[tokio::test]
async fn cancellation_reports_every_node() {
    let cluster = start(3, &[(1, Fault::Hang)]).await;
    // Stopped before the nodes are listed: nothing to report, and no wait for the listing.
    let cancel = CancellationToken::new();
    cancel.cancel();
    let plan = direct_plan(&cluster);
    let early = collect::collect(&plan, "/metrics", &Selector::all(), &options().with_cancel(cancel)).await;
    let err = early.expect_err("stopped before listing");
    assert!(format!("{err:#}").contains("stopped before the nodes were listed"), "{err:#}");

    // Stopped mid fan-out: the hanging node is reported as cancelled, the others answered.
    let cancel = CancellationToken::new();
    let stopper = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stopper.cancel();
    });
    let collection = collect::collect(&plan, "/metrics", &Selector::all(), &options().with_cancel(cancel))
        .await
        .expect("the run can start");
    assert_eq!(collection.scrapes.len(), 3);
    let failure = collection.scrapes[1].outcome.as_ref().expect_err("cancelled");
    assert!(failure.message.contains("cancelled"), "{}", failure.message);
    assert!(collection.scrapes[0].outcome.is_ok() && collection.scrapes[2].outcome.is_ok());
    cluster.shutdown().await;
}

/// Cancels the run when it reaches the node that hangs (nodes go one at a time, in order).
struct CancelsAtHang<'a> {
    inner: &'a Source,
    hanging: String,
    cancel: CancellationToken,
}

impl MetricsSource for CancelsAtHang<'_> {
    fn method(&self) -> Method {
        self.inner.method()
    }

    fn url(&self, node: &NodeTarget, path: &str) -> String {
        self.inner.url(node, path)
    }

    async fn open(&self, node: &NodeTarget, path: &str, max_body: u64) -> Result<BodyStream, FetchError> {
        if node.name == self.hanging {
            self.cancel.cancel();
        }
        self.inner.open(node, path, max_body).await
    }
}

#[tokio::test]
async fn cancelling_mid_run_keeps_finished_nodes_and_stops_the_rest() {
    let cluster = start(3, &[(2, Fault::Hang)]).await;
    let (source, targets) = connect(&direct_plan(&cluster)).await;
    let cancel = CancellationToken::new();
    let wrapper =
        CancelsAtHang { inner: &source, hanging: cluster.node_names()[2].clone(), cancel: cancel.clone() };
    let one_at_a_time = Limits { concurrency: 1, per_node: Duration::from_secs(60), ..limits() };
    let started = tokio::time::Instant::now();
    let scrapes = collect::scrape(
        &wrapper,
        targets,
        "/metrics",
        &pod_start_selector(),
        &one_at_a_time,
        &options().with_cancel(cancel.clone()),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(30), "Ctrl-C does not wait for the deadline");
    assert!(scrapes[0].outcome.is_ok() && scrapes[1].outcome.is_ok());
    let failure = scrapes[2].outcome.as_ref().expect_err("cancelled");
    assert!(failure.message.contains("cancelled"), "{}", failure.message);
    cluster.shutdown().await;
}

#[tokio::test]
async fn unusable_configuration_is_an_error_not_a_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing: &Path = &dir.path().join("absent.kubeconfig");
    let plan = proxy_plan(missing.to_path_buf());
    let err =
        collect::collect(&plan, "/metrics", &Selector::all(), &options()).await.expect_err("no kubeconfig");
    assert!(format!("{err:#}").contains("absent.kubeconfig"), "{err:#}");
}

#[test]
fn tls_problems_read_as_users_expect() {
    assert_eq!(TlsProblem::UnknownAuthority.to_string(), "certificate signed by unknown authority");
}
