//! `rbac`, `doctor` and `compare` against the simulated cluster: generated RBAC loaded into
//! kubesim grants exactly what its method needs; doctor's checks with admin, viewer and
//! service-account credentials and with the `noauth`, `badcert` and `refuse` faults, where
//! applying the printed fix turns the FAIL into a PASS; compare with latency on one side.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use kubelet_metrics::access::Method;
use kubelet_metrics::rbac;
use kubesim::{Attributes, Cluster, Fault, UserInfo};

use crate::{bin, stderr, stdout};

/// A kubesim cluster (on its own runtime threads) and a scratch directory, stopped on drop.
struct Sim {
    cluster: Option<Cluster>,
    runtime: tokio::runtime::Runtime,
    scratch: tempfile::TempDir,
}

impl Sim {
    fn start(nodes: usize, faults: &[(&str, Fault)]) -> Sim {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let mut builder = Cluster::builder().nodes(nodes).seed(5);
        for (node, fault) in faults {
            builder = builder.fault(*node, fault.clone());
        }
        let cluster = runtime.block_on(builder.start()).expect("kubesim starts");
        Sim { cluster: Some(cluster), runtime, scratch: tempfile::tempdir().expect("scratch dir") }
    }

    fn cluster(&self) -> &Cluster {
        self.cluster.as_ref().expect("running")
    }

    fn path(path: PathBuf) -> String {
        path.to_string_lossy().into_owned()
    }

    fn admin(&self) -> String {
        Self::path(self.cluster().admin_kubeconfig())
    }

    fn viewer(&self) -> String {
        Self::path(self.cluster().viewer_kubeconfig())
    }

    fn kubelet_ca(&self) -> String {
        Self::path(self.cluster().kubelet_ca_path())
    }

    /// A kubeconfig that authenticates with a token file only, as a pod's in-cluster config does.
    fn token_kubeconfig(&self, name: &str, token_file: &Path, server: &str) -> String {
        let path = self.scratch.path().join(format!("{name}.kubeconfig"));
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: {server}\n    \
             certificate-authority: {ca}\nusers:\n- name: {name}\n  user:\n    tokenFile: {token}\n\
             contexts:\n- name: {name}\n  context:\n    cluster: sim\n    user: {name}\ncurrent-context: {name}\n",
            ca = self.cluster().ca_path().display(),
            token = token_file.display(),
        );
        std::fs::write(&path, text).expect("kubeconfig written");
        path.to_string_lossy().into_owned()
    }

    /// The service account's token in a file, and a kubeconfig using only it.
    fn service_account(&self, namespace: &str, name: &str) -> (String, String) {
        let token = self.cluster().create_token(namespace, name).expect("token issued");
        let file = self.scratch.path().join(format!("{namespace}-{name}.token"));
        std::fs::write(&file, token).expect("token written");
        let kubeconfig =
            self.token_kubeconfig(&format!("{namespace}-{name}"), &file, self.cluster().api_url());
        (file.to_string_lossy().into_owned(), kubeconfig)
    }

    /// Runs a printed `kubelet-metrics rbac ... | kubectl apply -f -` line: the rbac part through
    /// the binary, its YAML into kubesim.
    fn apply_fix(&self, line: &str) {
        let command = line.trim().strip_suffix("| kubectl apply -f -").expect("an rbac | kubectl apply line");
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        assert!(args.iter().all(|a| !a.contains('\'')), "no quoting expected in {line}");
        let output = bin().args(&args).output().expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        self.cluster().apply_yaml(&stdout(&output)).expect("kubesim accepts the manifests");
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            self.runtime.block_on(cluster.shutdown());
        }
    }
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("runs")
}

fn can(cluster: &Cluster, user: &UserInfo, permission: &rbac::Permission) -> bool {
    let attrs = Attributes::resource(
        permission.verb,
        "",
        permission.resource,
        permission.subresource.unwrap_or(""),
        "node-0",
    );
    cluster.authorize(user, &attrs)
}

/// The line of `text` (a doctor table) for `check`, with runs of spaces collapsed, and the fix
/// lines under it. A per-node check such as `node-1: tls verify` is also found in the row that
/// groups the same verdict on several nodes (`2 nodes (node-0, node-1): tls verify`).
pub(crate) fn check_block(text: &str, check: &str) -> (String, Vec<String>) {
    let grouped = |label: &str| match check.split_once(": ") {
        Some((node, title)) => {
            label.contains(" nodes (") && label.contains(node) && label.contains(&format!("): {title}"))
        }
        None => false,
    };
    let mut lines = text.lines();
    let line = lines
        .by_ref()
        .find(|l| l.len() > 8 && (l[8..].starts_with(check) || grouped(&l[8..])))
        .unwrap_or_else(|| panic!("no check {check:?} in:\n{text}"));
    // The evidence wraps under its column until the fix; a prose fix wraps too, while each
    // alternative (`or: …`) and each command starts a line of its own.
    let under: Vec<&str> = lines.take_while(|l| l.starts_with("        ") && !l.trim().is_empty()).collect();
    let (evidence, fix_lines) =
        under.split_at(under.iter().position(|l| l.trim().starts_with("fix: ")).unwrap_or(under.len()));
    let line = std::iter::once(line).chain(evidence.iter().copied()).collect::<Vec<_>>().join(" ");
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut fix: Vec<String> = Vec::new();
    for l in fix_lines {
        let text = l.trim().trim_start_matches("fix: ");
        let starts = l.trim().starts_with("fix: ")
            || ["or: ", "kubectl ", "kubelet-metrics "].iter().any(|lead| text.starts_with(lead));
        match fix.last_mut() {
            Some(last) if !starts => {
                last.push(' ');
                last.push_str(text);
            }
            _ => fix.push(text.to_string()),
        }
    }
    (line, fix)
}

fn status_of(text: &str, check: &str) -> String {
    check_block(text, check).0[..4].to_string()
}

#[test]
fn rbac_direct_grants_exactly_what_the_direct_method_needs() {
    let sim = Sim::start(2, &[]);
    let output = run(&["rbac", "--service-account", "team/scraper"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "the direct method needs no warning");
    sim.cluster().apply_yaml(&stdout(&output)).expect("kubesim accepts the manifests");

    let user = UserInfo::service_account("team", "scraper", "");
    for permission in rbac::required(Method::Direct) {
        assert!(can(sim.cluster(), &user, permission), "{permission} should be granted");
    }
    for permission in rbac::denied(Method::Direct) {
        assert!(!can(sim.cluster(), &user, permission), "{permission} must be denied");
    }

    // The method works with nothing but the account's token, listing nodes and naming them.
    let (_, kubeconfig) = sim.service_account("team", "scraper");
    let ca = sim.kubelet_ca();
    for nodes in [&[][..], &["node-1"][..]] {
        let mut args = vec!["get", "-m", "kubelet_pod_start_duration_seconds_count", "--method", "direct"];
        // The kubeconfig's token is the service account's: meant for kubelets, so say so.
        args.extend(["--kubelet-ca", &ca, "--kubeconfig", &kubeconfig, "--kubelet-auth", "kubeconfig"]);
        args.extend(nodes);
        let output = run(&args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        assert!(stdout(&output).contains("node=\"node-1\""), "{}", stdout(&output));
    }
    // ...and the proxy does not: nodes/proxy was not granted.
    let output = run(&["get", "--kubeconfig", &kubeconfig, "--method", "proxy"]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(stderr(&output).contains("nodes/proxy"), "{}", stderr(&output));
}

#[test]
fn rbac_proxy_warns_and_grants_the_proxy_but_not_pod_exec() {
    let sim = Sim::start(2, &[]);
    let output = run(&["rbac", "--method", "proxy", "--service-account", "team/proxied"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), format!("warning: {}\n", rbac::PROXY_WARNING));
    let yaml = stdout(&output);
    assert!(yaml.contains("# WARNING: get nodes/proxy grants far more than metrics"), "{yaml}");
    sim.cluster().apply_yaml(&yaml).expect("kubesim accepts the manifests");

    let user = UserInfo::service_account("team", "proxied", "");
    for permission in rbac::required(Method::Proxy) {
        assert!(can(sim.cluster(), &user, permission), "{permission} should be granted");
    }
    for permission in rbac::denied(Method::Proxy) {
        assert!(!can(sim.cluster(), &user, permission), "{permission} must be denied");
    }
    assert!(!can(sim.cluster(), &user, &rbac::GET_NODES_METRICS), "the proxy role grants no direct access");

    let (_, kubeconfig) = sim.service_account("team", "proxied");
    let output = run(&["get", "-m", "kubelet_pod_start_duration_seconds_count", "--kubeconfig", &kubeconfig]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn rbac_deployment_runs_serve_as_the_account() {
    let sim = Sim::start(1, &[]);
    let output = run(&["rbac", "--service-account", "ops/collector", "--deployment"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let yaml = stdout(&output);
    assert!(
        yaml.contains("kind: Deployment\n") && yaml.contains("serviceAccountName: collector\n"),
        "{yaml}"
    );
    assert!(yaml.contains("readOnlyRootFilesystem: true") && yaml.contains("runAsNonRoot: true"), "{yaml}");
    assert!(yaml.contains(&format!("image: \"{}\"", rbac::DEFAULT_IMAGE)), "{yaml}");
    // The container's arguments are a valid `serve` invocation.
    let args: Vec<&str> = yaml
        .lines()
        .skip_while(|l| l.trim() != "args:")
        .skip(1)
        .map_while(|l| l.trim().strip_prefix("- "))
        .collect();
    assert_eq!(args[0], "serve", "{yaml}");
    let parsed = <kubelet_metrics::cli::Cli as clap::Parser>::try_parse_from(
        std::iter::once("kubelet-metrics").chain(args.iter().copied()),
    );
    assert!(parsed.is_ok(), "{args:?}: {:?}", parsed.err());
    // kubesim ignores the Deployment and stores the rest, as `kubectl apply` would.
    sim.cluster().apply_yaml(&yaml).expect("kubesim accepts the manifests");
    assert!(can(sim.cluster(), &UserInfo::service_account("ops", "collector", ""), &rbac::GET_NODES_METRICS));

    let output = run(&["rbac", "--user", "alice", "--deployment"]);
    assert_eq!(output.status.code(), Some(2), "a user cannot run a Deployment");
}

/// `rbac --daemonset` grants `get nodes/metrics` only, and that is enough for `serve
/// --node-local` with the downward API's variables: the pod's token reads its own kubelet and
/// nothing lists nodes.
#[test]
fn rbac_daemonset_grants_exactly_what_serve_node_local_uses() {
    let sim = Sim::start(2, &[]);
    let output = run(&["rbac", "--daemonset", "--network-policy", "--service-account", "ops/node-reader"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let yaml = stdout(&output);
    assert!(yaml.contains("kind: DaemonSet\n") && yaml.contains("kind: NetworkPolicy\n"), "{yaml}");
    let args: Vec<&str> = yaml
        .lines()
        .skip_while(|l| l.trim() != "args:")
        .skip(1)
        .map_while(|l| l.trim().strip_prefix("- "))
        .collect();
    let parsed = <kubelet_metrics::cli::Cli as clap::Parser>::try_parse_from(
        std::iter::once("kubelet-metrics").chain(args.iter().copied()),
    );
    assert!(parsed.is_ok(), "{args:?}: {:?}", parsed.err());
    sim.cluster().apply_yaml(&yaml).expect("kubesim accepts the manifests");
    let account = UserInfo::service_account("ops", "node-reader", "");
    assert!(can(sim.cluster(), &account, &rbac::GET_NODES_METRICS));
    for denied in [rbac::LIST_NODES, rbac::GET_NODES, rbac::GET_NODES_PROXY] {
        assert!(!can(sim.cluster(), &account, &denied), "{denied}");
    }

    // The container's own invocation, with the pod's token, its node's name and host IP.
    let (token, _) = sim.service_account("ops", "node-reader");
    let node = &sim.cluster().node_names()[1];
    let port = sim.cluster().kubelet_addr(node).expect("kubelet").port().to_string();
    let output = bin()
        .args(["serve", "--node-local", "--listen", "127.0.0.1:0", "--max-cycles", "1"])
        .args(["--token-file", &token, "--kubelet-ca", &sim.kubelet_ca(), "--kubelet-port", &port])
        .env("NODE_NAME", node)
        .env("HOST_IP", "127.0.0.1")
        .env("KUBECONFIG", sim.scratch.path().join("absent"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("failed"), "{}", stderr(&output));
}

#[test]
fn doctor_passes_for_admin_through_the_proxy() {
    let sim = Sim::start(2, &[]);
    let output = run(&["doctor", "--kubeconfig", &sim.admin()]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    for check in
        ["credentials", "api server /version", "can-i get nodes/proxy", "nodes", "node-0: proxy /healthz"]
    {
        assert_eq!(status_of(&text, check), "PASS", "{check}:\n{text}");
    }
    assert!(check_block(&text, "credentials accepted").0.contains("authenticated as \"admin\""), "{text}");
    // Without --kubelet-ca the direct checks cannot verify kubelets: a WARN, as proxy is in use.
    let (line, fix) = check_block(&text, "node-1: tls verify");
    assert!(line.starts_with("WARN") && line.contains("unknown authority"), "{line}");
    assert!(fix[0].contains("--kubelet-ca"), "{fix:?}");
}

#[test]
fn doctor_fails_the_viewer_on_nodes_proxy_and_its_fix_makes_it_pass() {
    let sim = Sim::start(2, &[]);
    let viewer = sim.viewer();
    let output = run(&["doctor", "--kubeconfig", &viewer]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let (line, fix) = check_block(&text, "can-i get nodes/proxy");
    assert_eq!(line, "FAIL can-i get nodes/proxy denied for \"viewer\": --method proxy needs it");
    assert_eq!(
        fix,
        [
            "kubelet-metrics rbac --method proxy --user viewer | kubectl apply -f -",
            "or: kubectl create clusterrole kubelet-metrics-proxy --verb=get,list --resource=nodes,nodes/proxy",
            "kubectl create clusterrolebinding kubelet-metrics-proxy-viewer --clusterrole=kubelet-metrics-proxy --user=viewer",
        ]
    );
    assert_eq!(status_of(&text, "node-0: proxy /healthz"), "FAIL", "{text}");

    sim.apply_fix(&fix[0]);
    let output = run(&["doctor", "--kubeconfig", &viewer]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(status_of(&text, "can-i get nodes/proxy"), "PASS", "{text}");
    assert_eq!(status_of(&text, "node-0: proxy /healthz"), "PASS", "{text}");
}

#[test]
fn doctor_service_account_direct_needs_get_nodes_for_named_nodes_until_fixed() {
    let sim = Sim::start(2, &[]);
    let token = Path::new(&sim.cluster().sa_token_path()).to_path_buf();
    let kubeconfig = sim.token_kubeconfig("sa", &token, sim.cluster().api_url());
    let ca = sim.kubelet_ca();
    let args = [
        "doctor",
        "--kubeconfig",
        &kubeconfig,
        "--method",
        "direct",
        "--kubelet-ca",
        &ca,
        "--kubelet-auth",
        "kubeconfig",
        "node-0",
    ];
    let output = run(&args);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let (line, _) = check_block(&text, "service-account token");
    assert!(
        line.starts_with("PASS") && line.contains("sub system:serviceaccount:monitoring:kubelet-metrics"),
        "{line}"
    );
    assert!(line.contains("expires in"), "{line}");
    assert_eq!(status_of(&text, "can-i get nodes/metrics"), "PASS", "{text}");
    assert_eq!(
        status_of(&text, "can-i get nodes/proxy"),
        "PASS",
        "denied, as least privilege wants:\n{text}"
    );
    let (line, fix) = check_block(&text, "can-i get nodes ");
    assert!(line.starts_with("FAIL"), "{line}");
    assert_eq!(
        fix[0],
        "kubelet-metrics rbac --method direct --service-account monitoring/kubelet-metrics | kubectl apply -f -"
    );

    sim.apply_fix(&fix[0]);
    let output = run(&args);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(status_of(&text, "can-i get nodes "), "PASS", "{text}");
    assert_eq!(status_of(&text, "node-0: direct /metrics"), "PASS", "{text}");
    // The kubelet authorizes /healthz as nodes/healthz or nodes/proxy, which least privilege omits.
    assert_eq!(status_of(&text, "node-0: direct /healthz"), "WARN", "{text}");
}

#[test]
fn doctor_direct_with_an_unprivileged_token_fails_until_its_rbac_is_applied() {
    // The seed's "direct access returns empty results": a service account nobody granted anything.
    let sim = Sim::start(1, &[]);
    let account = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: scraper\n  namespace: team\n";
    sim.cluster().apply_yaml(account).expect("kubesim accepts the account");
    let (token, _) = sim.service_account("team", "scraper");
    let (admin, ca) = (sim.admin(), sim.kubelet_ca());
    let args =
        ["doctor", "--kubeconfig", &admin, "--method", "direct", "--token-file", &token, "--kubelet-ca", &ca];
    let output = run(&args);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let (line, fix) = check_block(&text, "can-i get nodes/metrics");
    assert_eq!(
        line,
        "FAIL can-i get nodes/metrics denied for \"system:serviceaccount:team:scraper\": --method direct needs \
         it (asked as the --token-file identity)"
    );
    assert_eq!(
        fix[0],
        "kubelet-metrics rbac --method direct --service-account team/scraper | kubectl apply -f -"
    );
    let (line, metrics_fix) = check_block(&text, "node-0: direct /metrics");
    assert!(line.starts_with("FAIL") && line.contains("subresource=metrics"), "{line}");
    assert_eq!(metrics_fix, fix, "both checks print the same fix");

    sim.apply_fix(&fix[0]);
    let output = run(&args);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(status_of(&text, "can-i get nodes/metrics"), "PASS", "{text}");
    assert_eq!(status_of(&text, "node-0: direct /metrics"), "PASS", "{text}");
}

#[test]
fn doctor_turns_kubelet_faults_into_fails_whose_fixes_work() {
    let sim =
        Sim::start(4, &[("node-1", Fault::NoAuth), ("node-2", Fault::BadCert), ("node-3", Fault::Refuse)]);
    let admin = sim.admin();
    let ca = sim.kubelet_ca();
    let direct = [
        "doctor",
        "--kubeconfig",
        &admin,
        "--method",
        "direct",
        "--kubelet-ca",
        &ca,
        "--kubelet-auth",
        "kubeconfig",
    ];
    let output = run(&direct);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_eq!(status_of(&text, "node-0: direct /metrics"), "PASS", "{text}");

    let (line, fix) = check_block(&text, "node-1: direct /metrics");
    assert!(
        line.starts_with("FAIL") && line.contains("401") && line.contains("webhook authentication off"),
        "{line}"
    );
    assert!(fix.iter().any(|f| f.contains("authentication.webhook.enabled: true")), "{fix:?}");

    let (line, fix) = check_block(&text, "node-2: tls verify");
    assert_eq!(line, "FAIL node-2: tls verify the certificate is for wrong.kubesim.invalid, not 127.0.0.1");
    // The fix does not trust the name the certificate claims: it could be anyone's.
    assert!(
        fix[0].starts_with("reissue the kubelet serving certificate of node-2 with 127.0.0.1"),
        "{fix:?}"
    );
    assert!(!fix.iter().any(|f| f.contains("wrong.kubesim.invalid")), "{fix:?}");

    let (line, fix) = check_block(&text, "node-3: tcp connect");
    assert!(line.starts_with("FAIL") && line.ends_with("connection refused"), "{line}");
    assert!(fix[0].starts_with("nothing listens on 127.0.0.1:"), "{fix:?}");
    // Through the proxy the same refusal is the API server's 503, the seed's "connection refused".
    let (line, _) = check_block(&text, "node-3: proxy /healthz");
    assert!(line.starts_with("WARN") && line.contains("503"), "{line}");

    // JSON carries the same verdicts.
    let mut json_args = direct.to_vec();
    json_args.extend(["-o", "json"]);
    let output = run(&json_args);
    assert_eq!(output.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let failed: Vec<(String, String)> = doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| {
            (c["node"].as_str().unwrap_or("").to_string(), c["check"].as_str().unwrap_or("").to_string())
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("node-1".to_string(), "direct-healthz".to_string()),
            ("node-1".to_string(), "direct-metrics".to_string()),
            ("node-2".to_string(), "tls".to_string()),
            ("node-3".to_string(), "tcp".to_string()),
        ]
    );
    assert_eq!(doc["summary"]["fail"], 4);

    // Applying each fix makes its check pass.
    let output =
        run(&[&direct[..], &["--kubelet-tls-server-name", "wrong.kubesim.invalid", "node-2"]].concat());
    assert_eq!(status_of(&stdout(&output), "node-2: tls verify"), "PASS", "{}", stdout(&output));
    sim.cluster().set_fault("node-1", None); // webhook authentication back on
    sim.cluster().set_fault("node-3", None); // the kubelet listens again
    let output = run(&[&direct[..], &["node-1", "node-3"]].concat());
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(status_of(&text, "node-1: direct /metrics"), "PASS", "{text}");
    assert_eq!(status_of(&text, "node-3: tcp connect"), "PASS", "{text}");
}

#[test]
fn doctor_samples_big_clusters_and_reaches_node_ips_without_a_kubeconfig() {
    let sim = Sim::start(3, &[]);
    let output = run(&["doctor", "--kubeconfig", &sim.admin(), "--sample", "2", "-o", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let nodes =
        doc["checks"].as_array().expect("checks").iter().find(|c| c["check"] == "nodes").expect("nodes");
    assert_eq!(nodes["evidence"], "3 nodes; checking a sample of 2: node-0, node-1");

    // In a pod without RBAC to list nodes: --node-ip and --token-file, no kubeconfig at all.
    let address = sim.cluster().kubelet_addr("node-2").expect("node-2 listens").to_string();
    let token = sim.cluster().sa_token_path().to_string_lossy().into_owned();
    let nowhere = sim.scratch.path().join("no-such-kubeconfig");
    let output = bin()
        .args(["doctor", "--method", "direct", "--node-ip", &address, "--token-file", &token])
        .args(["--kubelet-ca", &sim.kubelet_ca()])
        .env("KUBECONFIG", &nowhere)
        .env("HOME", sim.scratch.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("runs");
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(check_block(&text, "credentials").0.starts_with("WARN"), "{text}");
    assert_eq!(status_of(&text, "service-account token"), "PASS", "{text}");
    assert_eq!(status_of(&text, &format!("{address}: direct /metrics")), "PASS", "{text}");
}

#[test]
fn doctor_without_credentials_fails_the_first_check() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("nope.kubeconfig");
    let output = run(&["doctor", "--kubeconfig", &missing.to_string_lossy(), "-o", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["checks"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["checks"][0]["check"], "credentials");
    assert_eq!(doc["checks"][0]["status"], "fail");
}

/// A TCP relay to `upstream` that holds every client→server chunk for `delay`: added latency
/// on one side only (each request crosses it once). Runs on `runtime` until it is dropped.
fn delaying_relay(runtime: &tokio::runtime::Runtime, upstream: String, delay: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    runtime.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n) = client_read.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    if server_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

#[test]
fn compare_sees_latency_added_to_the_api_server_side() {
    let sim = Sim::start(2, &[]);
    let upstream = sim.cluster().api_url().trim_start_matches("https://").trim_end_matches('/').to_string();
    let relay = delaying_relay(&sim.runtime, upstream, Duration::from_millis(150));
    let token = sim.cluster().sa_token_path();
    // Admin's credentials through the slow relay: the proxy pays the delay, direct does not.
    let admin_token = sim.scratch.path().join("admin.token");
    let admin_text = std::fs::read_to_string(sim.cluster().admin_kubeconfig()).expect("admin kubeconfig");
    let bearer = admin_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("the admin kubeconfig holds a bearer token");
    std::fs::write(&admin_token, bearer.trim_matches('"')).expect("token written");
    let kubeconfig = sim.token_kubeconfig("slow", &admin_token, &format!("https://{relay}"));
    let ca = sim.kubelet_ca();
    let token = token.to_string_lossy();
    let args = [
        "compare",
        "--kubeconfig",
        &kubeconfig,
        "--kubelet-ca",
        &ca,
        "--token-file",
        &token,
        "--rounds",
        "3",
    ];
    let output = run(&[&args[..], &["-o", "json"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["nodes"], serde_json::json!(["node-0", "node-1"]));
    assert_eq!(doc["methods"]["proxy"]["fetches"], 6);
    assert_eq!(doc["methods"]["direct"]["ok"], 6);
    let proxy_p50 = doc["methods"]["proxy"]["p50_ms"].as_f64().expect("p50");
    let direct_p50 = doc["methods"]["direct"]["p50_ms"].as_f64().expect("p50");
    assert!(proxy_p50 >= 150.0 && direct_p50 < proxy_p50, "proxy {proxy_p50} ms, direct {direct_p50} ms");
    assert_eq!(doc["favours"], "direct", "{}", doc["reason"]);
    assert!(doc["methods"]["direct"]["bytes_per_fetch"].as_u64().expect("bytes") > 10_000);

    let output = run(&args);
    let text = stdout(&output);
    assert!(
        text.starts_with("Measured 12 GET /metrics on 2 nodes × 3 rounds, the methods interleaved.\n"),
        "{text}"
    );
    assert!(text.contains("\nPerformance       p50 "), "{text}");
    assert!(text.contains("\nThis setup favours direct: direct is "), "{text}");
}

#[test]
fn compare_without_the_kubelet_ca_favours_the_proxy_and_says_why() {
    let sim = Sim::start(1, &[]);
    let token = sim.cluster().sa_token_path().to_string_lossy().into_owned();
    let output = run(&[
        "compare",
        "--kubeconfig",
        &sim.admin(),
        "--token-file",
        &token,
        "--rounds",
        "2",
        "-o",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(doc["methods"]["direct"]["ok"], 0);
    assert_eq!(doc["methods"]["proxy"]["ok"], 2);
    assert_eq!(doc["favours"], "proxy");
    let reason = doc["reason"].as_str().expect("a reason");
    assert!(reason.starts_with("direct failed every fetch ("), "{reason}");
    assert!(reason.ends_with("); `kubelet-metrics doctor --method direct` says why"), "{reason}");
    let first = doc["methods"]["direct"]["first_error"].as_str().expect("first error");
    assert!(first.contains("UnknownIssuer") || first.contains("unknown authority"), "{first}");
}

/// `openssl` on the PATH, or why the test is skipped.
fn openssl_available() -> bool {
    let found =
        std::process::Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "skipped: this test issues an X.509 v1 certificate with the openssl command, which is not installed"
        );
    }
    found
}

/// Runs `openssl` with `args` through `sh -c` (the request is piped into `openssl x509 -req`).
fn openssl(script: &str, dir: &Path) {
    let output =
        std::process::Command::new("sh").arg("-c").arg(script).current_dir(dir).output().expect("sh runs");
    assert!(output.status.success(), "{script}: {}", stderr(&output));
}

#[test]
fn x509_v1_client_certificate_fails_in_one_line_with_how_to_reissue_it() {
    if !openssl_available() {
        return;
    }
    let sim = Sim::start(1, &[]);
    let dir = sim.scratch.path();
    // As the reporter made it: no -extfile, so openssl issues an X.509 v1 certificate.
    openssl(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=test-ca -days 1 && \
         openssl genrsa -out viewer.key 2048 && \
         openssl req -new -key viewer.key -subj /CN=viewer | \
         openssl x509 -req -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out viewer.crt",
        dir,
    );
    let kubeconfig = dir.join("v1.kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: {server}\n    \
         certificate-authority: {ca}\nusers:\n- name: v1-user\n  user:\n    client-certificate: {crt}\n    \
         client-key: {key}\ncontexts:\n- name: v1\n  context:\n    cluster: sim\n    user: v1-user\n\
         current-context: v1\n",
        server = sim.cluster().api_url(),
        ca = sim.cluster().ca_path().display(),
        crt = dir.join("viewer.crt").display(),
        key = dir.join("viewer.key").display(),
    );
    std::fs::write(&kubeconfig, text).expect("kubeconfig written");
    let kubeconfig = Sim::path(kubeconfig);
    let location = format!(
        "the client certificate in {} (user \"v1-user\" of kubeconfig {kubeconfig}) is X.509 v1, which TLS \
         libraries refuse",
        dir.join("viewer.crt").display()
    );
    let reissue = "reissue it as v3 with extendedKeyUsage=clientAuth (openssl x509 -req ... -extfile <(printf \"extendedKeyUsage=clientAuth\"))";

    let output = run(&["get", "--kubeconfig", &kubeconfig]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(stderr(&output), format!("error: cannot read the cluster: {location}; {reissue}\n"));

    let output = run(&["doctor", "--kubeconfig", &kubeconfig]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let (line, fix) = check_block(&text, "credentials");
    assert_eq!(line, format!("FAIL credentials {location}"));
    assert_eq!(fix, [reissue]);
}

#[test]
fn forbidden_node_listing_fixes_rbac_for_the_real_user() {
    // A service account nobody granted anything: the API server refuses to list nodes, and both
    // doctor and get name the account in the fix, never a USER placeholder.
    let sim = Sim::start(1, &[]);
    let account = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: nobody\n  namespace: team\n";
    sim.cluster().apply_yaml(account).expect("kubesim accepts the account");
    let (_, kubeconfig) = sim.service_account("team", "nobody");

    let output = run(&["doctor", "--kubeconfig", &kubeconfig]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let (line, fix) = check_block(&text, "nodes");
    assert!(line.starts_with("FAIL nodes") && line.contains("cannot list nodes"), "{line}");
    assert_eq!(
        fix[0],
        "kubelet-metrics rbac --method proxy --service-account team/nobody | kubectl apply -f -"
    );
    assert!(!text.contains("USER"), "{text}");

    let output = run(&["get", "--kubeconfig", &kubeconfig]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("system:serviceaccount:team:nobody"), "{message}");
}
