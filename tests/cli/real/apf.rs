//! API Priority and Fairness on a real kube-apiserver, as our fan-out meets it: a priority level
//! for our user with a single seat that rejects (429, `Retry-After: 1`) whatever does not fit.
//!
//! What the real server shows, and kubesim's `seats` mirror: a proxied fetch
//! (`nodes/{name}/proxy`) is a long-running request, which the APF filter never queues nor
//! rejects — so nothing but our own `--qps` paces a proxy fan-out — while node lists and node
//! `get`s go through APF and are rejected when they do not fit; those are retried, and every node
//! is still read.

use std::process::Command;
use std::time::{Duration, Instant};

use super::apiserver::{ADMIN_TOKEN, RealApiServer, VIEWER_TOKEN};
use crate::{bin, run_with_stdin, stderr, stdout};

const NODES: usize = 120;
/// The priority level and flow schema the test makes for the user `viewer`.
const LEVEL: &str = "kubelet-metrics-one-seat";

/// The sum of a counter's samples whose labels name our priority level.
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .filter(|l| l.contains(&format!("\"{LEVEL}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
#[ignore = "needs a real kube-apiserver: scripts/test builds one and runs this"]
fn priority_and_fairness_rejects_node_lookups_that_we_retry_and_never_sees_proxied_fetches() {
    // 1 + 1 seats in all: APF gives each priority level ceil(2 × its shares / all shares) seats,
    // so ours (1 share) has exactly one. `system:masters` (the harness, kubesim) is exempt.
    let server = RealApiServer::start_with_flags(&[
        "--enable-priority-and-fairness=true",
        "--max-requests-inflight=1",
        "--max-mutating-requests-inflight=1",
    ]);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let kubelets = runtime
        .block_on(kubesim::Cluster::builder().nodes(NODES).seed(15).external(server.external_api()).start())
        .expect("kubesim's kubelets register in the real API server");
    let admin = server.kubeconfig_token("admin", ADMIN_TOKEN);
    let viewer = server.kubeconfig_token("viewer", VIEWER_TOKEN);
    let kubectl = |kubeconfig: &std::path::Path, args: &[&str], stdin: Option<&str>| {
        let mut command = Command::new("kubectl");
        command.arg("--kubeconfig").arg(kubeconfig).args(args);
        match stdin {
            Some(text) => run_with_stdin(command, text.as_bytes()),
            None => command.output().expect("kubectl runs"),
        }
    };
    let applied = kubectl(
        &admin,
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: node-reader}}\n\
             rules:\n- apiGroups: [\"\"]\n  resources: [nodes, nodes/proxy]\n  verbs: [get, list]\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: node-reader}}\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-reader}}\n\
             subjects:\n- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: viewer}}\n---\n\
             apiVersion: flowcontrol.apiserver.k8s.io/v1beta1\nkind: PriorityLevelConfiguration\n\
             metadata: {{name: {LEVEL}}}\nspec:\n  type: Limited\n  limited:\n    assuredConcurrencyShares: 1\n\
             \x20   limitResponse: {{type: Reject}}\n---\n\
             apiVersion: flowcontrol.apiserver.k8s.io/v1beta1\nkind: FlowSchema\nmetadata: {{name: {LEVEL}}}\n\
             spec:\n  priorityLevelConfiguration: {{name: {LEVEL}}}\n  matchingPrecedence: 100\n\
             \x20 distinguisherMethod: {{type: ByUser}}\n  rules:\n  - subjects: [{{kind: User, user: {{name: viewer}}}}]\n\
             \x20   resourceRules: [{{verbs: [\"*\"], apiGroups: [\"*\"], resources: [\"*\"], clusterScope: true, namespaces: [\"*\"]}}]\n\
             \x20   nonResourceRules: [{{verbs: [\"*\"], nonResourceURLs: [\"*\"]}}]\n"
        )),
    );
    assert!(applied.status.success(), "{}", stderr(&applied));
    let metrics = || stdout(&kubectl(&admin, &["get", "--raw", "/metrics"], None));
    // The configuration is in force once a request of `viewer` is dispatched at our level.
    let deadline = Instant::now() + Duration::from_secs(60);
    while counter(&metrics(), "apiserver_flowcontrol_dispatched_requests_total") == 0.0 {
        kubectl(&viewer, &["get", "--raw", "/api/v1/nodes?limit=1"], None);
        assert!(Instant::now() < deadline, "our flow schema never took effect:\n{}", server.log_tail());
        std::thread::sleep(Duration::from_millis(250));
    }

    // 1. A proxy fan-out of every node, 64 at once and no --qps: APF sees only the node list.
    let before = metrics();
    let started = Instant::now();
    let out = bin()
        .args([
            "histogram",
            "--concurrency",
            "64",
            "--qps",
            "0",
            "--timeout",
            "30s",
            "-o",
            "json",
            "--kubeconfig",
        ])
        .arg(&viewer)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["nodes"].as_array().map(Vec::len), Some(NODES), "every node answered");
    let after = metrics();
    let dispatched = counter(&after, "apiserver_flowcontrol_dispatched_requests_total")
        - counter(&before, "apiserver_flowcontrol_dispatched_requests_total");
    assert!(
        dispatched < 5.0,
        "{NODES} proxied fetches, yet APF dispatched only the node list ({dispatched} requests at {LEVEL})"
    );
    eprintln!("{NODES} nodes listed: APF dispatched {dispatched}; {:?}", started.elapsed());

    // 2. The same nodes by name: one `get` each, 8 at once, through APF's single seat. Those
    // that do not fit are rejected with 429 and Retry-After, retried, and every node is read.
    let names: Vec<String> = kubelets.node_names();
    let before = metrics();
    let started = Instant::now();
    let out = bin()
        .arg("histogram")
        .args(&names)
        .args(["--concurrency", "64", "--qps", "0", "--timeout", "30s", "-o", "json", "--kubeconfig"])
        .arg(&viewer)
        .output()
        .expect("runs");
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["nodes"].as_array().map(Vec::len), Some(NODES), "every node answered");
    let after = metrics();
    let rejected = counter(&after, "apiserver_flowcontrol_rejected_requests_total")
        - counter(&before, "apiserver_flowcontrol_rejected_requests_total");
    let dispatched = counter(&after, "apiserver_flowcontrol_dispatched_requests_total")
        - counter(&before, "apiserver_flowcontrol_dispatched_requests_total");
    eprintln!("{NODES} nodes by name: APF dispatched {dispatched} and rejected {rejected} lookups; {took:?}");
    assert!(dispatched >= NODES as f64, "one get per node went through APF: {dispatched}");
    // Eight lookups at once against one seat: the server did say 429, and the run still read
    // every node (kube's client retries a 429 after its `Retry-After`).
    assert!(rejected > 0.0, "APF rejected none of {NODES} lookups through one seat");
    runtime.block_on(kubelets.shutdown());
}
