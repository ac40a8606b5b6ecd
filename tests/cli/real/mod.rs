//! The conformance tier: the same cluster scenarios against kubesim's own API server and against
//! a real kube-apiserver (with kubesim's kubelets registered in it, as a real kubelet in webhook
//! mode would be). Each scenario asserts one outcome for both: where they differ, kubesim is
//! wrong. The real server needs `scripts/real-apiserver` (built once, cached); `scripts/test`
//! builds it and runs the ignored test below.

mod apf;
mod apiserver;
mod pods;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use apiserver::{ADMIN_TOKEN, RealApiServer};
use kubesim::{Cluster, Fault};

use crate::{bin, run_with_stdin, stderr, stdout};

/// More than one page of nodes (the API server's default page for our listing is 500).
const NODES: usize = 600;
/// The node whose kubelet serves a certificate for another name.
const BAD_CERT_NODE: usize = 7;
/// The node whose kubelet trickles its body for one scenario.
const SLOW_BODY_NODE: usize = 11;
/// The Prometheus Operator's ServiceMonitor CRD, vendored unchanged.
const SERVICE_MONITOR_CRD: &str =
    include_str!("../../fixtures/crds/monitoring.coreos.com_servicemonitors.yaml");

/// A cluster to run the scenarios on: kubesim's kubelets behind either API server.
struct Backend {
    name: &'static str,
    kubelets: Cluster,
    real: Option<RealApiServer>,
    /// The API server's URL and CA, for kubeconfigs made here.
    api_url: String,
    ca: PathBuf,
    /// Kubeconfigs: a cluster admin, and `viewer` (may list and get nodes, nothing more).
    admin: PathBuf,
    viewer: PathBuf,
    /// The CA of the kubelets' serving certificates.
    kubelet_ca: PathBuf,
    dir: tempfile::TempDir,
}

impl Backend {
    async fn kubesim() -> Backend {
        let kubelets = Cluster::builder()
            .nodes(NODES)
            .fault(BAD_CERT_NODE, Fault::BadCert)
            .start()
            .await
            .expect("kubesim starts");
        Backend {
            name: "kubesim",
            api_url: kubelets.api_url().to_string(),
            ca: kubelets.ca_path(),
            admin: kubelets.admin_kubeconfig(),
            viewer: kubelets.viewer_kubeconfig(),
            kubelet_ca: kubelets.kubelet_ca_path(),
            real: None,
            kubelets,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    async fn real() -> Backend {
        let server = RealApiServer::start();
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            path
        };
        let ca = write("ca.crt", &server.ca.cert_pem);
        let kubelet_ca = write("kubelet-ca.crt", &server.kubelet_ca.cert_pem);
        let kubelets = Cluster::builder()
            .nodes(NODES)
            .fault(BAD_CERT_NODE, Fault::BadCert)
            .external(server.external_api())
            .start()
            .await
            .expect("kubesim's kubelets register in the real API server");
        let admin = server.kubeconfig_token("admin", ADMIN_TOKEN);
        let viewer = server.kubeconfig_cert("viewer", &[]);
        let backend = Backend {
            name: "real",
            api_url: server.url.clone(),
            ca,
            admin,
            viewer,
            kubelet_ca,
            real: Some(server),
            kubelets,
            dir,
        };
        assert!(
            backend.real.as_ref().is_some_and(|s| s.version.starts_with("v1.")),
            "a real server answered /version"
        );
        let listed = backend.kubectl(&["get", "nodes", "-o", "name"]);
        assert_eq!(
            stdout(&listed).lines().count(),
            NODES,
            "the real server lists every kubelet kubesim registered"
        );
        // kubesim's viewer may list and get nodes; grant the real one the same.
        backend.apply(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: node-viewer}\nrules:\n- apiGroups: [\"\"]\n  resources: [nodes]\n  verbs: [get, list]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: node-viewer}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: node-viewer}\nsubjects:\n- {apiGroup: rbac.authorization.k8s.io, kind: User, name: viewer}\n",
        );
        backend
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.admin)
            .args(args)
            .output()
            .expect("kubectl runs")
    }

    /// Applies manifests as the admin, with the real `kubectl` where the API server can take
    /// them (kubesim's API server keeps RBAC in memory: it is given the same YAML directly).
    fn apply(&self, yaml: &str) {
        if self.real.is_some() {
            let mut apply = Command::new("kubectl");
            apply.arg("--kubeconfig").arg(&self.admin).args(["apply", "-f", "-"]);
            let out = run_with_stdin(apply, yaml.as_bytes());
            assert!(out.status.success(), "{}: kubectl apply: {}", self.name, stderr(&out));
        } else {
            self.kubelets.apply_yaml(yaml).expect("kubesim takes the manifests");
        }
    }

    /// A token for a service account (TokenRequest on the real server).
    fn token(&self, namespace: &str, name: &str) -> PathBuf {
        let token = if self.real.is_some() {
            let out = self.kubectl(&["create", "token", name, "-n", namespace]);
            assert!(out.status.success(), "{}: kubectl create token: {}", self.name, stderr(&out));
            stdout(&out).trim().to_string()
        } else {
            self.kubelets.create_token(namespace, name).expect("kubesim issues the token")
        };
        let path = self.dir.path().join(format!("{namespace}-{name}.token"));
        std::fs::write(&path, token).expect("write token");
        path
    }

    /// A kubeconfig that authenticates with the token in `token_file`.
    fn token_kubeconfig(&self, token_file: &Path) -> PathBuf {
        let token = std::fs::read_to_string(token_file).expect("token");
        let path = token_file.with_extension("kubeconfig");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: {}, certificate-authority: {}}}\nusers:\n- name: u\n  user: {{token: {token}}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n",
                self.api_url,
                self.ca.display(),
            ),
        )
        .expect("write kubeconfig");
        path
    }

    /// Runs `kubelet-metrics ARGS`.
    fn run(&self, args: &[&str]) -> Output {
        bin().args(args).output().expect("the binary runs")
    }

    fn json(&self, output: &Output) -> serde_json::Value {
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!("{}: not JSON ({e}):\n{}\n{}", self.name, stdout(output), stderr(output))
        })
    }

    fn path(&self, p: &Path) -> String {
        p.display().to_string()
    }
}

/// `doctor -o json` found nothing to FAIL, and exited 0.
fn assert_doctor_passes(backend: &Backend, out: &Output) {
    let report = backend.json(out);
    let failed: Vec<&serde_json::Value> =
        report["checks"].as_array().expect("checks").iter().filter(|c| c["status"] == "FAIL").collect();
    assert!(failed.is_empty(), "{}: {failed:#?}", backend.name);
    assert_eq!(out.status.code(), Some(0), "{}: {}", backend.name, stdout(out));
}

/// How a run ended, in the terms both backends must agree on.
fn failed_nodes(report: &serde_json::Value) -> Vec<(String, String)> {
    report["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["node"].as_str().unwrap_or("").to_string(),
                        e["kind"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn bad_cert_node(backend: &Backend) -> String {
    backend.kubelets.node_names()[BAD_CERT_NODE].clone()
}

/// Every scenario, in order (later ones change RBAC).
fn scenarios(backend: &Backend) {
    node_lists_from_the_watch_cache_ignore_the_limit(backend);
    proxy_as_admin_reads_every_node_across_pages(backend);
    selectors_and_named_nodes(backend);
    doctor_as_admin(backend);
    doctor_as_a_user_without_proxy_rights_names_the_user(backend);
    doctor_impersonating_a_user_judges_that_user(backend);
    direct_with_a_service_account_from_our_rbac_output(backend);
    a_body_slower_than_the_timeout_is_a_slow_body_through_both_methods(backend);
    doctor_as_a_service_account(backend);
    proxy_with_a_service_account_from_our_rbac_output(backend);
    proxy_for_a_user_granted_by_our_rbac_output(backend);
    kubelets_refuse_tokens_without_rights_and_bad_tokens(backend);
    pods::pods_scenario(backend);
}

/// What our node listing relies on: `resourceVersion=0` is served from the watch cache, which
/// answers every node in one page whatever the limit; without it, the limit pages from etcd.
fn node_lists_from_the_watch_cache_ignore_the_limit(backend: &Backend) {
    let list = |query: &str| {
        let out = backend.kubectl(&["get", "--raw", &format!("/api/v1/nodes?{query}")]);
        assert!(out.status.success(), "{}: {}", backend.name, stderr(&out));
        let list = backend.json(&out);
        (list["items"].as_array().map_or(0, Vec::len), list["metadata"]["continue"].as_str().is_some())
    };
    assert_eq!(list("limit=100&resourceVersion=0"), (NODES, false), "{}", backend.name);
    assert_eq!(list("limit=100"), (100, true), "{}", backend.name);
}

fn proxy_as_admin_reads_every_node_across_pages(backend: &Backend) {
    let admin = backend.path(&backend.admin);
    let out = backend.run(&["histogram", "--kubeconfig", &admin, "--concurrency", "32", "-o", "json"]);
    // Every node but the one with the bad certificate: the API server refuses its kubelet.
    assert_eq!(out.status.code(), Some(1), "{}: {}", backend.name, stderr(&out));
    let report = backend.json(&out);
    let bad = bad_cert_node(backend);
    assert_eq!(report["nodes"].as_array().map(Vec::len), Some(NODES - 1), "{}", backend.name);
    assert_eq!(failed_nodes(&report), [(bad.clone(), "server_error".to_string())], "{}", backend.name);
    let truth = backend.kubelets.truth();
    let expected: u64 = truth.nodes.iter().filter(|n| n.name != bad).map(|n| n.pod_start.count).sum();
    assert_eq!(report["cluster"]["count"].as_u64(), Some(expected), "{}", backend.name);
    let fix = report["errors"][0]["fix"].as_str().unwrap_or_default();
    assert!(fix.contains("kubelet serving certificate"), "{}: {fix}", backend.name);
}

fn selectors_and_named_nodes(backend: &Backend) {
    let admin = backend.path(&backend.admin);
    let out = backend.run(&[
        "histogram",
        "--kubeconfig",
        &admin,
        "-l",
        "topology.kubernetes.io/zone=zone-b",
        "-o",
        "json",
    ]);
    let zone_b = (0..NODES).filter(|i| i % 3 == 1).count();
    let report = backend.json(&out);
    let answered = report["nodes"].as_array().map(Vec::len).unwrap_or(0) + failed_nodes(&report).len();
    assert_eq!(answered, zone_b, "{}: {}", backend.name, stderr(&out));

    let names = backend.kubelets.node_names();
    let out = backend.run(&["histogram", &names[1], &names[2], "--kubeconfig", &admin, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}: {}", backend.name, stderr(&out));
    let report = backend.json(&out);
    let nodes: Vec<&str> =
        report["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["node"].as_str()).collect();
    let mut expected = vec![names[1].as_str(), names[2].as_str()];
    expected.sort_unstable();
    let mut nodes = nodes;
    nodes.sort_unstable();
    assert_eq!(nodes, expected, "{}", backend.name);

    // A mistyped name: nothing to read, said as kubectl says it, with the name that was meant.
    let typo = format!("{}x", names[1]);
    let out = backend.run(&["histogram", &typo, "--kubeconfig", &admin]);
    assert_eq!(out.status.code(), Some(2), "{}: {}", backend.name, stderr(&out));
    assert_eq!(stdout(&out), "", "{}", backend.name);
    assert_eq!(
        stderr(&out).trim_end(),
        format!("No nodes match: node {typo:?} not found; did you mean {}?", names[1]),
        "{}",
        backend.name
    );
}

fn doctor_as_admin(backend: &Backend) {
    let admin = backend.path(&backend.admin);
    let names = backend.kubelets.node_names();
    let out =
        backend.run(&["doctor", &names[0], &names[1], "--kubeconfig", &admin, "--sample", "2", "-o", "json"]);
    assert_doctor_passes(backend, &out);
}

fn doctor_as_a_user_without_proxy_rights_names_the_user(backend: &Backend) {
    let viewer = backend.path(&backend.viewer);
    let out = backend.run(&["doctor", "--kubeconfig", &viewer, "--sample", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}: {}", backend.name, stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("rbac --method proxy --user viewer"), "{}: {text}", backend.name);
    assert!(!text.contains("--user USER"), "{}: {text}", backend.name);
}

/// `--as`: the API server runs the requests as the impersonated user, so doctor judges the
/// viewer's RBAC from the admin's kubeconfig; the viewer may not impersonate anyone.
fn doctor_impersonating_a_user_judges_that_user(backend: &Backend) {
    let admin = backend.path(&backend.admin);
    let out = backend.run(&["doctor", "--kubeconfig", &admin, "--as", "viewer", "--sample", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}: {}", backend.name, stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("rbac --method proxy --user viewer"), "{}: {text}", backend.name);

    let viewer = backend.path(&backend.viewer);
    let out = backend.run(&["doctor", "--kubeconfig", &viewer, "--as", "admin", "--sample", "2"]);
    // Doctor wraps its evidence: read it as one run of words.
    let all = format!("{}{}", stdout(&out), stderr(&out)).split_whitespace().collect::<Vec<_>>().join(" ");
    assert_ne!(out.status.code(), Some(0), "{}: {all}", backend.name);
    assert!(
        all.contains(
            "User \"viewer\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
        ),
        "{}: {all}",
        backend.name
    );
}

fn direct_with_a_service_account_from_our_rbac_output(backend: &Backend) {
    let rbac = backend.run(&["rbac", "--method", "direct", "--service-account", "monitoring/km-direct"]);
    assert!(rbac.status.success());
    backend.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: monitoring}}\n---\n{}",
        stdout(&rbac)
    ));
    let token = backend.token("monitoring", "km-direct");
    let kubeconfig = backend.path(&backend.token_kubeconfig(&token));
    let out = backend.run(&[
        "histogram",
        "--method",
        "direct",
        "--kubeconfig",
        &kubeconfig,
        "--token-file",
        &backend.path(&token),
        "--kubelet-ca",
        &backend.path(&backend.kubelet_ca),
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}: {}", backend.name, stderr(&out));
    let report = backend.json(&out);
    assert_eq!(report["nodes"].as_array().map(Vec::len), Some(NODES - 1), "{}", backend.name);
    assert_eq!(failed_nodes(&report), [(bad_cert_node(backend), "tls".to_string())], "{}", backend.name);
}

/// A kubelet that answers at once but trickles its body: both methods say it answered, and how
/// much arrived (the API server streams the kubelet's body as it comes).
fn a_body_slower_than_the_timeout_is_a_slow_body_through_both_methods(backend: &Backend) {
    let node = backend.kubelets.node_names()[SLOW_BODY_NODE].clone();
    backend.kubelets.set_fault(&node, Some(Fault::SlowBody(std::time::Duration::from_secs(60))));
    let token = backend.token("monitoring", "km-direct");
    let kubeconfig = backend.path(&backend.token_kubeconfig(&token));
    let (token, kubelet_ca, admin) =
        (backend.path(&token), backend.path(&backend.kubelet_ca), backend.path(&backend.admin));
    let proxy = ["histogram", &node, "--kubeconfig", &admin, "--timeout", "2s", "-o", "json"];
    let direct = [
        "histogram",
        &node,
        "--method",
        "direct",
        "--kubeconfig",
        &kubeconfig,
        "--token-file",
        &token,
        "--kubelet-ca",
        &kubelet_ca,
        "--timeout",
        "2s",
        "-o",
        "json",
    ];
    for (method, args) in [("proxy", &proxy[..]), ("direct", &direct[..])] {
        let out = backend.run(args);
        assert_eq!(out.status.code(), Some(2), "{} {method}: {}", backend.name, stderr(&out));
        let report = backend.json(&out);
        assert_eq!(
            failed_nodes(&report),
            [(node.clone(), "slow_body".to_string())],
            "{} {method}",
            backend.name
        );
        let message = report["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("answered, but the body did not finish within 2s"),
            "{}: {message}",
            backend.name
        );
    }
    backend.kubelets.set_fault(&node, None);
}

fn doctor_as_a_service_account(backend: &Backend) {
    let token = backend.token("monitoring", "km-direct");
    let kubeconfig = backend.path(&backend.token_kubeconfig(&token));
    let names = backend.kubelets.node_names();
    let out = backend.run(&[
        "doctor",
        &names[0],
        &names[1],
        "--method",
        "direct",
        "--kubeconfig",
        &kubeconfig,
        "--token-file",
        &backend.path(&token),
        "--kubelet-ca",
        &backend.path(&backend.kubelet_ca),
        "-o",
        "json",
    ]);
    assert_doctor_passes(backend, &out);
    let text = stdout(&out);
    assert!(text.contains("system:serviceaccount:monitoring:km-direct"), "{}: {text}", backend.name);
}

fn proxy_with_a_service_account_from_our_rbac_output(backend: &Backend) {
    let rbac = backend.run(&["rbac", "--method", "proxy", "--service-account", "monitoring/km-proxy"]);
    assert!(rbac.status.success());
    backend.apply(&stdout(&rbac));
    let token = backend.token("monitoring", "km-proxy");
    let kubeconfig = backend.path(&backend.token_kubeconfig(&token));
    let names = backend.kubelets.node_names();
    let out = backend.run(&["histogram", &names[0], &names[3], "--kubeconfig", &kubeconfig, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}: {}", backend.name, stderr(&out));
}

fn proxy_for_a_user_granted_by_our_rbac_output(backend: &Backend) {
    let viewer = backend.path(&backend.viewer);
    let names = backend.kubelets.node_names();
    let read = || backend.run(&["histogram", &names[4], &names[5], "--kubeconfig", &viewer, "-o", "json"]);
    let before = read();
    assert_eq!(before.status.code(), Some(2), "{}: {}", backend.name, stderr(&before));
    let kinds: Vec<String> = failed_nodes(&backend.json(&before)).into_iter().map(|(_, kind)| kind).collect();
    assert_eq!(kinds, ["forbidden", "forbidden"], "{}", backend.name);

    let rbac = backend.run(&["rbac", "--method", "proxy", "--user", "viewer"]);
    assert!(rbac.status.success());
    backend.apply(&stdout(&rbac));
    let after = read();
    assert_eq!(after.status.code(), Some(0), "{}: {}", backend.name, stderr(&after));
}

fn kubelets_refuse_tokens_without_rights_and_bad_tokens(backend: &Backend) {
    backend.apply("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: nobody, namespace: monitoring}\n");
    let token = backend.token("monitoring", "nobody");
    let admin = backend.path(&backend.admin);
    let ca = backend.path(&backend.kubelet_ca);
    let names = backend.kubelets.node_names();
    let direct = |token: &str| {
        backend.run(&[
            "histogram",
            &names[0],
            &names[1],
            "--method",
            "direct",
            "--kubeconfig",
            &admin,
            "--token-file",
            token,
            "--kubelet-ca",
            &ca,
            "-o",
            "json",
        ])
    };
    let out = direct(&backend.path(&token));
    assert_eq!(out.status.code(), Some(2), "{}: {}", backend.name, stderr(&out));
    let report = backend.json(&out);
    let kinds: Vec<String> = failed_nodes(&report).into_iter().map(|(_, kind)| kind).collect();
    assert_eq!(kinds, ["forbidden", "forbidden"], "{}", backend.name);
    let fix = report["errors"][0]["fix"].as_str().unwrap_or_default();
    assert!(fix.contains("--service-account monitoring/nobody"), "{}: {fix}", backend.name);

    let garbage = backend.dir.path().join("garbage.token");
    std::fs::write(&garbage, "not-a-token").expect("write");
    let out = direct(&backend.path(&garbage));
    assert_eq!(out.status.code(), Some(2), "{}: {}", backend.name, stderr(&out));
    let kinds: Vec<String> = failed_nodes(&backend.json(&out)).into_iter().map(|(_, kind)| kind).collect();
    assert_eq!(kinds, ["unauthorized", "unauthorized"], "{}", backend.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_kubesim() {
    let backend = Backend::kubesim().await;
    tokio::task::block_in_place(|| scenarios(&backend));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real kube-apiserver: scripts/test builds one and runs this"]
async fn conformance_on_a_real_api_server() {
    let mut backend = Backend::real().await;
    tokio::task::block_in_place(|| scenarios(&backend));
    // The control plane goes away: nothing can run, and the one error line says why.
    let admin = backend.path(&backend.admin);
    if let Some(server) = backend.real.as_mut() {
        server.stop_apiserver();
    }
    let out = tokio::task::block_in_place(|| {
        backend.run(&["histogram", "--kubeconfig", &admin, "--timeout", "2s"])
    });
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().filter(|l| l.starts_with("error:")).count(), 1, "{}", stderr(&out));
}

/// The manifests we ship — `deploy/kustomize` for both `serve` modes, rendered by `kubectl
/// kustomize`, and every workload `rbac` prints — are accepted by a real API server's
/// validation and admission (`kubectl apply --dry-run=server`), their ServiceMonitor against the
/// Prometheus Operator's own CRD (tests/fixtures/crds/SOURCES.md says which version).
#[test]
#[ignore = "needs a real kube-apiserver: scripts/test builds one and runs this"]
fn shipped_manifests_pass_a_real_api_servers_dry_run() {
    let server = RealApiServer::start();
    let admin = server.kubeconfig_token("admin", ADMIN_TOKEN);
    let kubectl = |args: &[&str], stdin: Option<&str>| {
        let mut command = Command::new("kubectl");
        command.arg("--kubeconfig").arg(&admin).args(args);
        let out = match stdin {
            Some(text) => run_with_stdin(command, text.as_bytes()),
            None => command.output().expect("kubectl runs"),
        };
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}{}\n{}",
            stdout(&out),
            stderr(&out),
            server.log_tail()
        );
        stdout(&out)
    };
    kubectl(&["create", "namespace", "monitoring"], None);
    kubectl(&["create", "-f", "-"], Some(SERVICE_MONITOR_CRD));
    kubectl(
        &[
            "wait",
            "--for=condition=established",
            "crd/servicemonitors.monitoring.coreos.com",
            "--timeout=60s",
        ],
        None,
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kustomize");
    let mut rendered = Vec::new();
    for mode in ["node-local", "cluster"] {
        rendered.push((mode.to_string(), kubectl(&["kustomize", &root.join(mode).to_string_lossy()], None)));
    }
    for args in [
        &["--daemonset", "--network-policy"][..],
        &["--deployment", "--network-policy"],
        &["--method", "proxy", "--deployment", "--network-policy"],
        &["--service-account", "monitoring/other", "--daemonset", "--image", "registry.example/km:1"],
    ] {
        let out = bin().arg("rbac").args(args).output().expect("runs");
        assert!(out.status.success(), "rbac {args:?}: {}", stderr(&out));
        rendered.push((format!("rbac {args:?}"), stdout(&out)));
    }
    for (what, yaml) in rendered {
        let applied = kubectl(&["apply", "--dry-run=server", "-f", "-"], Some(&yaml));
        for kind in ["clusterrole", "serviceaccount", "service/", "servicemonitor"] {
            assert!(applied.contains(kind), "{what}: {kind} in\n{applied}");
        }
        for line in applied.lines() {
            assert!(line.ends_with("(server dry run)"), "{what}: every object goes to the server: {line}");
        }
        assert!(applied.contains("daemonset") || applied.contains("deployment"), "{what}:\n{applied}");
    }
}
