//! A simulated Kubernetes cluster on loopback, in the spirit of kwok: one HTTPS API server and N HTTPS
//! kubelets in one process, faithful enough that the real `kubectl` works against it.
//!
//! - `apiserver`: authentication (bearer token, client certificate), RBAC, discovery, nodes, the
//!   `nodes/{name}/proxy` subresource, access reviews, and the `/debug` test controls.
//! - `kubelet`: webhook-style authn/authz with the kubelet's path → subresource mapping, the metrics
//!   endpoints, `/healthz`, `/pods`, and the faults.
//! - `payload`: exposition text rendered from real kubelet captures shared by all nodes.
//! - `profile`: node profiles and the seeded pod-start histograms; `truth`: what the cluster reports
//!   about itself; `rbac`: users, tokens, roles and bindings; `pki`: certificates.
//! - `external`: kubelets-only mode, where the nodes live in another API server, which also reviews
//!   the kubelets' requests ([`ClusterBuilder::external`]).
//!
//! It shares no code with the kubelet-metrics parser: it only speaks the wire protocol.
//!
//! This file (about 820 lines before its tests) holds the cluster's life cycle only — builder,
//! start, the shared state the servers read, shutdown — which is one concern kept together.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let cluster = kubesim::Cluster::builder().nodes(3).seed(1).start().await?;
//! println!("kubectl --kubeconfig {} get nodes", cluster.admin_kubeconfig().display());
//! cluster.advance(10);
//! cluster.shutdown().await;
//! # Ok(()) }
//! ```

mod apiserver;
mod external;
mod fault;
mod http;
mod kubelet;
mod payload;
mod pki;
mod pods;
mod profile;
mod proto;
mod rbac;
mod traffic;
mod truth;

use std::{
    collections::{BTreeMap, HashMap},
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use base64::Engine;
use rustls::ServerConfig;
use tokio::{
    net::TcpListener,
    sync::{mpsc, watch},
};

pub use external::ExternalApi;
pub use fault::{Fault, ParseFaultError, parse_duration, parse_size};
pub use profile::{NEW_BUCKETS, OLD_BUCKETS, POD_START_DURATION, POD_START_SLI_DURATION, Profile};
pub use rbac::{Attributes, UserInfo};
pub use traffic::{Arrival, Requests};
pub use truth::{Bucket, HistogramTruth, NodeTruth, PodLatencies, PodTruth, Truth};

pub use apiserver::SERVER_VERSION;
use profile::{PodStarts, SplitMix64};

/// The namespace of the monitoring service account whose token is `sa.token`.
pub const SA_NAMESPACE: &str = "monitoring";
/// The name of that service account.
pub const SA_NAME: &str = "kubelet-metrics";

/// A node named or counted (0-based, in name order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRef {
    /// By name, e.g. `node-03`.
    Name(String),
    /// By position in `truth.json`.
    Index(usize),
}

impl From<&str> for NodeRef {
    fn from(name: &str) -> Self {
        NodeRef::Name(name.to_string())
    }
}

impl From<String> for NodeRef {
    fn from(name: String) -> Self {
        NodeRef::Name(name)
    }
}

impl From<usize> for NodeRef {
    fn from(index: usize) -> Self {
        NodeRef::Index(index)
    }
}

impl std::str::FromStr for NodeRef {
    type Err = std::convert::Infallible;

    /// All digits is an index, anything else a name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(i) => NodeRef::Index(i),
            Err(_) => NodeRef::Name(s.to_string()),
        })
    }
}

/// Configures and starts a [`Cluster`].
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    nodes: usize,
    seed: u64,
    state_dir: Option<PathBuf>,
    faults: Vec<(NodeRef, Fault)>,
    worker_threads: usize,
    external: Option<ExternalApi>,
    server_version: String,
    name_prefix: String,
    seats: Option<usize>,
}

impl ClusterBuilder {
    /// How many nodes (default 3).
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// The seed of profiles and pod starts (default 1).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Where kubeconfigs, tokens, CAs and truth.json go (default: a fresh temp dir the cluster removes).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }

    /// A fault on a node from the start.
    pub fn fault(mut self, node: impl Into<NodeRef>, fault: Fault) -> Self {
        self.faults.push((node.into(), fault));
        self
    }

    /// Kubelets-only mode: no API server of kubesim's own. Instead kubesim creates its nodes in `api`
    /// (`POST /api/v1/nodes`, then `PATCH /api/v1/nodes/{name}/status` with addresses, the kubelet
    /// port, `nodeInfo` and `Ready=True`, 16 requests at a time) and serves each kubelet as a
    /// webhook-mode kubelet: its serving certificate is signed by `api`'s kubelet CA, client
    /// certificates from `api`'s client CA are accepted, and bearer tokens and every request are
    /// checked with TokenReview and SubjectAccessReview against `api`. Dropping or shutting down the
    /// cluster deletes the nodes it created.
    ///
    /// The state directory then holds only `kubelet-ca.crt` and `truth.json`; the kubeconfigs, tokens
    /// and RBAC controls of [`Cluster`] belong to kubesim's own API server and do not apply.
    pub fn external(mut self, api: ExternalApi) -> Self {
        self.external = Some(api);
        self
    }

    /// The Kubernetes version kubesim's API server claims in `/version`, e.g. `v1.27.3` (default
    /// [`SERVER_VERSION`]). APIs that version lacks answer 404, as an old server does:
    /// `selfsubjectreviews` (`kubectl auth whoami`) is served from v1.28 (`authentication.k8s.io/v1`)
    /// and in v1.27 only as `v1beta1`.
    pub fn server_version(mut self, version: &str) -> Self {
        self.server_version = version.to_string();
        self
    }

    /// The node names' prefix (default `node`, giving `node-00`...). Two clusters registered in one
    /// external API server need different prefixes.
    pub fn name_prefix(mut self, prefix: &str) -> Self {
        self.name_prefix = prefix.to_string();
        self
    }

    /// API Priority and Fairness, as a client sees it: at most `seats` requests are served at once
    /// and one more is refused with `429` and `Retry-After: 1` (default: no limit). As in
    /// kube-apiserver, proxied requests (long-running) and `system:masters` are exempt.
    pub fn seats(mut self, seats: usize) -> Self {
        self.seats = Some(seats.max(1));
        self
    }

    /// Threads of the cluster's own tokio runtime (default 2).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = n.max(1);
        self
    }

    /// Binds every listener, writes the state directory, and starts serving.
    ///
    /// The cluster runs on its own runtime threads, so callers may block (e.g. run `kubectl` with
    /// `std::process::Command`) without stalling it.
    pub async fn start(self) -> anyhow::Result<Cluster> {
        anyhow::ensure!(self.nodes >= 1, "a cluster needs at least one node");
        apiserver::parse_version(&self.server_version)
            .with_context(|| format!("server version {:?} is not vMAJOR.MINOR.PATCH", self.server_version))?;
        raise_open_file_limit();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.worker_threads)
            .thread_name("kubesim")
            .enable_all()
            .build()
            .context("starting the kubesim runtime")?;
        let (temp, state_dir) = match &self.state_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                (None, dir.clone())
            }
            None => {
                let temp =
                    tempfile::Builder::new().prefix("kubesim-").tempdir().context("creating a temp dir")?;
                let path = temp.path().to_path_buf();
                (Some(temp), path)
            }
        };
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (alive_tx, alive_rx) = mpsc::channel::<()>(1);
        let started = runtime.spawn(build(self, state_dir, shutdown_rx, alive_tx)).await;
        let shared = match started {
            Ok(Ok(shared)) => shared,
            Ok(Err(err)) => {
                let _ = shutdown_tx.send(true);
                runtime.shutdown_background();
                return Err(err);
            }
            Err(join) => {
                runtime.shutdown_background();
                anyhow::bail!("kubesim setup panicked: {join}");
            }
        };
        Ok(Cluster {
            shared,
            runtime: Some(runtime),
            shutdown: shutdown_tx,
            alive: Some(alive_rx),
            _temp: temp,
        })
    }
}

/// A running simulated cluster. Dropping it stops every listener and task.
pub struct Cluster {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: watch::Sender<bool>,
    alive: Option<mpsc::Receiver<()>>,
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("api_url", &self.shared.api_url)
            .field("state_dir", &self.shared.state_dir)
            .field("nodes", &self.shared.nodes.len())
            .finish()
    }
}

impl Cluster {
    /// A builder with the defaults: 3 nodes, seed 1, a temp state dir.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder {
            nodes: 3,
            seed: 1,
            state_dir: None,
            faults: Vec::new(),
            worker_threads: 2,
            external: None,
            server_version: SERVER_VERSION.to_string(),
            name_prefix: "node".to_string(),
            seats: None,
        }
    }

    /// The API server's URL: kubesim's own, `https://127.0.0.1:PORT`, or the external one.
    pub fn api_url(&self) -> &str {
        &self.shared.api_url
    }

    /// The directory holding the kubeconfigs, `sa.token`, the CAs and `truth.json`.
    pub fn state_dir(&self) -> &Path {
        &self.shared.state_dir
    }

    /// A kubeconfig for `admin`, who may do anything (bearer token).
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.shared.state_dir.join("admin.kubeconfig")
    }

    /// A kubeconfig for `viewer` (client certificate): may list and get nodes, not `nodes/proxy` nor `nodes/metrics`.
    pub fn viewer_kubeconfig(&self) -> PathBuf {
        self.shared.state_dir.join("viewer.kubeconfig")
    }

    /// The token of `monitoring/kubelet-metrics`: `list nodes` and `get nodes/metrics` only.
    pub fn sa_token_path(&self) -> PathBuf {
        self.shared.state_dir.join("sa.token")
    }

    /// The admin's bearer token (as in `admin.kubeconfig`).
    pub fn admin_token(&self) -> String {
        self.shared.admin_token.clone()
    }

    /// The current content of `sa.token`.
    pub fn sa_token(&self) -> String {
        std::fs::read_to_string(self.sa_token_path()).unwrap_or_default()
    }

    /// The cluster CA (signs the API server's certificate and client certificates).
    pub fn ca_path(&self) -> PathBuf {
        self.shared.state_dir.join("ca.crt")
    }

    /// The CA that signed the kubelets' serving certificates (not the cluster CA).
    pub fn kubelet_ca_path(&self) -> PathBuf {
        self.shared.state_dir.join("kubelet-ca.crt")
    }

    /// Node names, sorted.
    pub fn node_names(&self) -> Vec<String> {
        self.shared.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// What kubesim's API server was asked so far (also `GET /debug/requests`, admin only).
    pub fn requests(&self) -> Requests {
        self.shared.traffic.requests()
    }

    /// The ground truth, as in `truth.json`.
    pub fn truth(&self) -> Truth {
        self.shared.truth()
    }

    /// The kubelet address of a node (`127.0.0.1:PORT`).
    pub fn kubelet_addr(&self, node: &str) -> Option<SocketAddr> {
        self.shared.node(node).map(|n| n.addr)
    }

    /// Records `pods` more pod starts on every node, drawn from its profile; `truth.json` follows.
    pub fn advance(&self, pods: u64) {
        self.shared.advance(pods);
    }

    /// Restarts a node's kubelet: its counters start from zero and `process_start_time_seconds`
    /// moves to the new process's start. Unknown names are ignored.
    pub fn restart(&self, node: &str) {
        self.shared.restart(node);
    }

    /// Sets or clears a node's fault at runtime. Unknown names are ignored.
    pub fn set_fault(&self, node: &str, fault: Option<Fault>) {
        if let Some(n) = self.shared.node(node) {
            n.flaky_failed.store(0, std::sync::atomic::Ordering::SeqCst);
            n.fault.send_replace(fault);
            self.shared.write_truth();
        }
    }

    /// Stops kubesim's own API server: its port closes and open connections drop, as when
    /// kube-apiserver goes down; kubelets keep serving. No effect in kubelets-only mode.
    pub fn stop_api_server(&self) {
        self.shared.api_down.send_replace(true);
    }

    /// Starts the API server again on the same address (after [`Cluster::stop_api_server`]).
    pub fn start_api_server(&self) {
        self.shared.api_down.send_replace(false);
    }

    /// Rotates `sa.token`: `token` becomes valid for `monitoring/kubelet-metrics` and replaces the file.
    /// Earlier tokens stay valid.
    pub fn write_sa_token(&self, token: &str) {
        self.shared.register_sa_token(SA_NAMESPACE, SA_NAME, token);
        let _ = write_file(&self.sa_token_path(), token.as_bytes());
    }

    /// Issues a new token for a service account, as `kubectl create token` does.
    pub fn create_token(&self, namespace: &str, name: &str) -> anyhow::Result<String> {
        self.shared.create_token(namespace, name)
    }

    /// Applies ServiceAccount, ClusterRole, ClusterRoleBinding, Role and RoleBinding documents
    /// (multi-document YAML or a `List`); other kinds are accepted and ignored.
    pub fn apply_yaml(&self, yaml: &str) -> anyhow::Result<()> {
        self.shared.apply_yaml(yaml).map(|_| ())
    }

    /// A new client certificate and its key (PEM) for `user` in `groups`, signed by the cluster CA
    /// (`ca.crt`): the API server and the kubelets accept it, as kubeadm's certificates.
    pub fn client_certificate(&self, user: &str, groups: &[&str]) -> anyhow::Result<(String, String)> {
        let leaf = self.shared.cluster_ca.client(user, groups)?;
        Ok((leaf.cert_pem, leaf.key_pem))
    }

    /// Whether `user` may do `attrs` under the current RBAC rules (a SubjectAccessReview).
    pub fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> bool {
        self.shared.policy.read().is_ok_and(|p| p.authorize(user, attrs))
    }

    /// Whether the nodes live in an external API server (see [`ClusterBuilder::external`]).
    pub fn is_external(&self) -> bool {
        matches!(self.shared.access, kubelet::Access::Remote(_))
    }

    /// Deletes the nodes created in an external API server, then stops every listener and task, and
    /// waits until the listeners are closed.
    pub async fn shutdown(mut self) {
        if let (kubelet::Access::Remote(remote), Some(runtime)) = (&self.shared.access, &self.runtime) {
            let remote = remote.clone();
            let _ = runtime.spawn(async move { remote.unregister().await }).await;
        }
        let _ = self.shutdown.send(true);
        if let Some(mut alive) = self.alive.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), alive.recv()).await;
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let (kubelet::Access::Remote(remote), Some(runtime)) = (&self.shared.access, &self.runtime) {
            // Drop cannot await: the deletions run on the cluster's own runtime while this thread
            // waits for them, for a bounded time.
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let remote = remote.clone();
            runtime.spawn(async move {
                remote.unregister().await;
                let _ = done_tx.send(());
            });
            let _ = done_rx.recv_timeout(Duration::from_secs(20));
        }
        let _ = self.shutdown.send(true);
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// One simulated node and its kubelet.
pub(crate) struct Node {
    pub index: usize,
    pub name: String,
    pub profile: Profile,
    pub version: &'static str,
    pub addr: SocketAddr,
    pub containers: u32,
    pub labels: BTreeMap<String, String>,
    pub uid: String,
    pub created_unix: u64,
    pub starts: Mutex<PodStarts>,
    pub fault: watch::Sender<Option<Fault>>,
    /// Responses a `flaky` fault has failed since it was set.
    pub flaky_failed: std::sync::atomic::AtomicU32,
    pub tls: Arc<ServerConfig>,
    pub bad_tls: Arc<ServerConfig>,
}

impl Node {
    pub fn fault(&self) -> Option<Fault> {
        self.fault.borrow().clone()
    }

    fn truth(&self, pods: Vec<PodTruth>) -> NodeTruth {
        let starts = self.starts.lock().unwrap_or_else(|e| e.into_inner());
        NodeTruth {
            name: self.name.clone(),
            internal_ip: self.addr.ip().to_string(),
            kubelet_port: self.addr.port(),
            kubelet_version: self.version.to_string(),
            profile: self.profile.as_str().to_string(),
            containers: self.containers,
            fault: self.fault().map(|f| f.to_string()),
            pod_start: starts.duration.truth(POD_START_DURATION),
            pod_start_sli: Some(starts.sli.truth(POD_START_SLI_DURATION)),
            double_count: starts.double_count,
            process_start_time_seconds: starts.process_start,
            stages: starts.stage_truths(),
            pods,
        }
    }
}

/// Everything the servers share.
pub(crate) struct Shared {
    pub api_url: String,
    pub admin_token: String,
    pub state_dir: PathBuf,
    pub nodes: Vec<Arc<Node>>,
    pub by_name: HashMap<String, usize>,
    pub policy: RwLock<Policy>,
    /// The API server's client towards kubelets, with its pool of idle connections.
    pub kubelet_client: apiserver::KubeletClient,
    /// Who answers the kubelets' TokenReviews and SubjectAccessReviews.
    pub access: kubelet::Access,
    /// Nodes created through `POST /api/v1/nodes` (not simulated: no kubelet of this cluster), by name.
    pub registered: RwLock<BTreeMap<String, serde_json::Value>>,
    /// The version the API server claims, e.g. `v1.33.4`.
    pub server_version: String,
    /// The cluster CA: it signs the API server's certificate and client certificates.
    pub cluster_ca: pki::Authority,
    pub rng: Mutex<SplitMix64>,
    /// Every pod, by namespace and name (the order the API server lists them in).
    pub pods: RwLock<BTreeMap<(String, String), pods::SimPod>>,
    /// The serial of the next pod (names and uids derive from it).
    pub pod_serial: AtomicU64,
    /// Draws the workload and timeline of pods created by `advance`.
    pub pod_rng: Mutex<SplitMix64>,
    pub truth_lock: Mutex<()>,
    pub resource_version: AtomicU64,
    pub shutdown: watch::Receiver<bool>,
    /// True while the API server is stopped ([`Cluster::stop_api_server`]): its port is closed.
    pub api_down: watch::Sender<bool>,
    /// Requests counted, and the priority-and-fairness seats.
    pub traffic: traffic::Traffic,
}

use rbac::Policy;

impl Shared {
    pub fn node(&self, name: &str) -> Option<&Arc<Node>> {
        self.by_name.get(name).map(|i| &self.nodes[*i])
    }

    pub fn truth(&self) -> Truth {
        let mut by_node: Vec<Vec<PodTruth>> = vec![Vec::new(); self.nodes.len()];
        let mut unscheduled = Vec::new();
        for pod in self.pods.read().unwrap_or_else(|e| e.into_inner()).values() {
            match pod.node.filter(|i| *i < self.nodes.len()) {
                Some(i) => by_node[i].push(pod.truth(Some(&self.nodes[i].name))),
                None => unscheduled.push(pod.truth(None)),
            }
        }
        Truth {
            api_url: self.api_url.clone(),
            nodes: self.nodes.iter().zip(by_node).map(|(n, pods)| n.truth(pods)).collect(),
            unscheduled_pods: unscheduled,
        }
    }

    pub fn write_truth(&self) {
        let _guard = self.truth_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(json) = serde_json::to_vec_pretty(&self.truth()) {
            let _ = write_file(&self.state_dir.join("truth.json"), &json);
        }
    }

    pub fn advance(&self, pods: u64) {
        let now = http::unix_now_precise();
        let mut created = Vec::new();
        {
            let mut rng = self.pod_rng.lock().unwrap_or_else(|e| e.into_inner());
            for node in &self.nodes {
                let (drawn, kubelet_start) = {
                    let mut starts = node.starts.lock().unwrap_or_else(|e| e.into_inner());
                    (starts.record(pods), starts.process_start)
                };
                for (total, pull) in drawn {
                    let serial = self.pod_serial.fetch_add(1, Ordering::Relaxed);
                    // Created long enough ago to be running and ready by now; but never before
                    // the kubelet that recorded it started (a pod created earlier belongs to the
                    // process before a restart): then a second after it, and a long start may
                    // still be under way.
                    let at = (now - total - 4.0 - rng.unit()).max(kubelet_start.floor() + 1.0).min(now);
                    created.push(pods::SimPod::draw(
                        &mut rng,
                        serial,
                        Some(node.index),
                        at,
                        Some((total, pull)),
                    ));
                }
            }
        }
        let mut all = self.pods.write().unwrap_or_else(|e| e.into_inner());
        for pod in created {
            // A list's resourceVersion is never older than an object in it.
            self.resource_version.fetch_max(pods::resource_version(pod.serial), Ordering::Relaxed);
            all.insert((pod.namespace.to_string(), pod.name.clone()), pod);
        }
        drop(all);
        self.write_truth();
    }

    pub fn restart(&self, name: &str) -> bool {
        let Some(node) = self.node(name) else { return false };
        // The new process started after the last pod its node was given (that pod belongs to the
        // process before) and at most 30 s ago, so pods drawn from now on can fit their whole
        // start between it and now.
        let now = http::unix_now_precise();
        let last_pod = self
            .pods
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|p| p.node == Some(node.index))
            .map(|p| p.created)
            .fold(f64::NEG_INFINITY, f64::max);
        let started = (last_pod + 0.5).max(now - 30.0).min(now - 1.0);
        node.starts.lock().unwrap_or_else(|e| e.into_inner()).restart(started);
        self.write_truth();
        true
    }

    fn random_hex(&self, bytes: usize) -> String {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        (0..bytes.div_ceil(8)).map(|_| format!("{:016x}", rng.next())).collect::<String>()[..bytes * 2]
            .to_string()
    }

    pub fn new_uid(&self) -> String {
        let h = self.random_hex(16);
        format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
    }

    pub fn register_sa_token(&self, namespace: &str, name: &str, token: &str) {
        let mut policy = self.policy.write().unwrap_or_else(|e| e.into_inner());
        let uid = policy.service_account(namespace, name).map(|sa| sa.uid.clone()).unwrap_or_default();
        policy.add_token(token, UserInfo::service_account(namespace, name, &uid));
    }

    /// A JWT-shaped service-account token (header.claims.signature, base64url), registered as valid.
    pub fn create_token(&self, namespace: &str, name: &str) -> anyhow::Result<String> {
        let uid = {
            let policy = self.policy.read().unwrap_or_else(|e| e.into_inner());
            policy
                .service_account(namespace, name)
                .with_context(|| format!("serviceaccounts {name:?} not found in namespace {namespace:?}"))?
                .uid
                .clone()
        };
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = http::unix_now();
        let header = serde_json::json!({"alg": "RS256", "kid": self.random_hex(8)});
        let claims = serde_json::json!({
            "aud": ["https://kubernetes.default.svc.cluster.local"],
            "exp": now + 3600,
            "iat": now,
            "iss": "https://kubernetes.default.svc.cluster.local",
            "jti": self.new_uid(),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
            "nbf": now,
            "sub": format!("system:serviceaccount:{namespace}:{name}"),
        });
        let token = format!(
            "{}.{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string()),
            b64.encode(self.random_hex(64))
        );
        self.register_sa_token(namespace, name, &token);
        Ok(token)
    }

    pub fn apply_yaml(&self, yaml: &str) -> anyhow::Result<usize> {
        let mut uids = Vec::new();
        for _ in 0..yaml.matches("kind:").count() {
            uids.push(self.new_uid());
        }
        let mut policy = self.policy.write().unwrap_or_else(|e| e.into_inner());
        policy.apply_yaml(yaml, &mut || uids.pop().unwrap_or_else(|| "uid".to_string()))
    }
}

/// Raises the soft limit on open files to the hard limit, as the Go runtime does at start: a thousand
/// kubelets listen on a thousand sockets, more than the common soft limit of 1024.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let _ = setrlimit(Resource::Nofile, rustix::process::Rlimit { current: limit.maximum, ..limit });
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// How long before the start the initial pods were created, in seconds.
const INITIAL_PODS_SPREAD: f64 = 6.0 * 3600.0;

/// The pods of node `index` at the start: one per start its kubelet recorded (`drawn`, as (seconds
/// until running, seconds pulling)), created over the six hours before `now` and running and ready
/// by `now`; and, on about one node in seven, one pod still pulling its image.
fn initial_pods(
    rng: &mut SplitMix64,
    serial: &mut u64,
    index: usize,
    now: f64,
    drawn: &[(f64, f64)],
) -> Vec<pods::SimPod> {
    const SPREAD: f64 = INITIAL_PODS_SPREAD;
    let mut out = Vec::with_capacity(drawn.len() + 1);
    for (k, (total, pull)) in drawn.iter().copied().enumerate() {
        let spread = now - SPREAD + SPREAD * k as f64 / drawn.len().max(1) as f64 + rng.unit() * 60.0;
        let created = spread.min(now - total - 4.0 - rng.unit());
        out.push(pods::SimPod::draw(rng, *serial, Some(index), created, Some((total, pull))));
        *serial += 1;
    }
    if rng.unit() < 0.15 {
        let created = now - 2.0 - (rng.unit() * 20.0).floor() - 0.5;
        out.push(pods::SimPod::draw(rng, *serial, Some(index), created, None));
        *serial += 1;
    }
    out
}

/// The node names of an `n`-node cluster: `node-{i}` zero-padded to the width of `n - 1`.
pub fn node_name(i: usize, n: usize) -> String {
    prefixed_node_name("node", i, n)
}

/// `node_name` with another prefix than `node`.
fn prefixed_node_name(prefix: &str, i: usize, n: usize) -> String {
    let width = (n.saturating_sub(1)).to_string().len();
    format!("{prefix}-{i:0width$}")
}

const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];
const INSTANCE_TYPES: [&str; 3] = ["m5.large", "m5.xlarge", "c5.2xlarge"];

async fn build(
    config: ClusterBuilder,
    state_dir: PathBuf,
    shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) -> anyhow::Result<Arc<Shared>> {
    let loopback = std::net::IpAddr::V4(Ipv4Addr::LOCALHOST);
    payload::warm_up();
    let cluster_ca = pki::Authority::new("kubesim-ca")?;
    let kubelet_ca = match &config.external {
        Some(api) => pki::Authority::from_pem(&api.kubelet_ca_cert_pem, &api.kubelet_ca_key_pem)
            .context("the kubelet CA of the external API server")?,
        None => pki::Authority::new("kubesim-kubelet-ca")?,
    };
    let cluster_roots = cluster_ca.roots()?;
    let kubelet_roots = kubelet_ca.roots()?;
    // The CA whose client certificates kubelets accept (the kubelet's --client-ca-file).
    let kubelet_client_roots = match &config.external {
        Some(api) => {
            pki::roots_from_pem(&api.client_ca_pem).context("the client CA of the external API server")?
        }
        None => cluster_roots.clone(),
    };
    let access = match &config.external {
        Some(api) => kubelet::Access::Remote(Arc::new(external::Remote::new(api)?)),
        None => kubelet::Access::Local,
    };

    let api_key = rcgen::KeyPair::generate()?;
    let api_cert = cluster_ca.server(
        "kube-apiserver",
        &["localhost", "kubernetes", "kubernetes.default"],
        &[loopback],
        &api_key,
    )?;
    let api_tls = pki::server_config(&api_cert, &cluster_roots)?;
    let (api_listener, api_url) = match &config.external {
        Some(api) => (None, api.server.trim_end_matches('/').to_string()),
        None => {
            let listener =
                TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.context("binding the API server")?;
            let url = format!("https://{}", listener.local_addr()?);
            (Some(listener), url)
        }
    };

    // The API server's own identity towards kubelets (kubeadm's apiserver-kubelet-client).
    let api_client = cluster_ca.client("kube-apiserver-kubelet-client", &["system:masters"])?;
    let kubelet_client = pki::client_config(&kubelet_roots, &api_client)?;

    let n = config.nodes;
    let profiles = profile::assign(n, config.seed);
    let mut faults: Vec<Option<Fault>> = vec![None; n];
    for (node, fault) in &config.faults {
        let index = match node {
            NodeRef::Index(i) if *i < n => *i,
            NodeRef::Name(name) => (0..n)
                .find(|i| prefixed_node_name(&config.name_prefix, *i, n) == *name)
                .with_context(|| format!("--fault names {name:?}, which is not a node"))?,
            NodeRef::Index(i) => anyhow::bail!("--fault names node index {i}, but there are {n} nodes"),
        };
        faults[index] = Some(fault.clone());
    }

    let serving_key = rcgen::KeyPair::generate()?;
    let wrong = kubelet_ca.server(pki::WRONG_NAME, &[pki::WRONG_NAME], &[], &serving_key)?;
    let bad_tls = pki::server_config(&wrong, &kubelet_client_roots)?;
    let now = http::unix_now();
    let mut rng = SplitMix64::new(config.seed ^ 0xa11ce);
    let mut pod_rng = SplitMix64::new(config.seed ^ 0x90d5_5eed);
    let mut all_pods = BTreeMap::new();
    let mut pod_serial = 0u64;
    let mut nodes = Vec::with_capacity(n);
    let mut listeners = Vec::with_capacity(n);
    for (i, profile) in profiles.iter().copied().enumerate() {
        let name = prefixed_node_name(&config.name_prefix, i, n);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .with_context(|| format!("binding kubelet {name}"))?;
        let addr = listener.local_addr()?;
        let leaf = kubelet_ca.server(&name, &[name.as_str()], &[loopback], &serving_key)?;
        let tls = pki::server_config(&leaf, &kubelet_client_roots)?;
        let containers = match profile {
            Profile::Pathological => 250,
            Profile::Fast => rng.range(3, 12) as u32,
            _ => rng.range(8, 30) as u32,
        };
        let mut labels = BTreeMap::new();
        labels.insert("kubernetes.io/arch".into(), "amd64".into());
        labels.insert("kubernetes.io/hostname".into(), name.clone());
        labels.insert("kubernetes.io/os".into(), "linux".into());
        labels.insert("kubesim.io/profile".into(), profile.as_str().into());
        let role = if i == 0 && n > 1 { "control-plane" } else { "worker" };
        labels.insert(format!("node-role.kubernetes.io/{role}"), String::new());
        labels.insert("node.kubernetes.io/instance-type".into(), INSTANCE_TYPES[(i / 3) % 3].into());
        labels.insert("topology.kubernetes.io/zone".into(), ZONES[i % 3].into());
        let created_unix = now - rng.range(86_400 * 2, 86_400 * 60);
        let uid_bits = rng.next();
        let (fault_tx, _) = watch::channel(faults[i].clone());
        let (mut starts, drawn) = PodStarts::new(profile, config.seed, i);
        // The kubelet started before the first of its pods (created over the six hours before
        // now), at a moment of its own.
        starts.process_start = now as f64 - INITIAL_PODS_SPREAD - 600.0 - (i % 600) as f64 - 0.37;
        for pod in initial_pods(&mut pod_rng, &mut pod_serial, i, now as f64, &drawn) {
            if pod.kubelet_seconds.is_none() {
                starts.first_sync();
            }
            all_pods.insert((pod.namespace.to_string(), pod.name.clone()), pod);
        }
        nodes.push(Arc::new(Node {
            index: i,
            version: profile.kubelet_version(i),
            profile,
            addr,
            containers,
            labels,
            uid: format!(
                "{:08x}-{:04x}-4{:03x}-9{:03x}-{:012x}",
                uid_bits >> 32,
                (uid_bits >> 16) & 0xffff,
                i % 4096,
                (uid_bits >> 4) & 0xfff,
                i
            ),
            created_unix,
            starts: Mutex::new(starts),
            fault: fault_tx,
            flaky_failed: std::sync::atomic::AtomicU32::new(0),
            tls,
            bad_tls: bad_tls.clone(),
            name,
        }));
        listeners.push(listener);
    }
    // Pods no node fits: the scheduler's, not a kubelet's.
    for _ in 0..2 {
        let pod = pods::SimPod::draw(&mut pod_rng, pod_serial, None, now as f64 - 300.5, None);
        pod_serial += 1;
        all_pods.insert((pod.namespace.to_string(), pod.name.clone()), pod);
    }
    let by_name = nodes.iter().map(|n| (n.name.clone(), n.index)).collect();
    let port_bits = match &api_listener {
        Some(listener) => u64::from(listener.local_addr()?.port()) << 40,
        None => 0,
    };
    let mut rng_tokens =
        SplitMix64::new(config.seed ^ now.rotate_left(29) ^ u64::from(std::process::id()) << 7 ^ port_bits);
    let admin_token = format!("kubesim-admin-{:016x}{:016x}", rng_tokens.next(), rng_tokens.next());
    let shared = Arc::new(Shared {
        admin_token: admin_token.clone(),
        api_url: api_url.clone(),
        state_dir: state_dir.clone(),
        nodes,
        by_name,
        policy: RwLock::new(Policy::default()),
        kubelet_client: apiserver::KubeletClient::new(kubelet_client),
        access,
        registered: RwLock::new(BTreeMap::new()),
        server_version: config.server_version.clone(),
        cluster_ca,
        rng: Mutex::new(SplitMix64::new(config.seed ^ now.rotate_left(17) ^ u64::from(std::process::id()))),
        pods: RwLock::new(all_pods),
        pod_serial: AtomicU64::new(pod_serial),
        pod_rng: Mutex::new(pod_rng),
        truth_lock: Mutex::new(()),
        // Newer than every node (1000 + index) and pod (see `pods::resource_version`) made so far.
        resource_version: AtomicU64::new(
            (1000 + n as u64).max(pods::resource_version(pod_serial)) + config.seed % 1000,
        ),
        shutdown: shutdown.clone(),
        api_down: watch::channel(false).0,
        traffic: traffic::Traffic::new(config.seats),
    });
    shared.apply_yaml(rbac::BOOTSTRAP_YAML).context("loading the bootstrap policy")?;

    if let kubelet::Access::Remote(remote) = &shared.access {
        // Kubelets-only mode: serve the kubelets, then register their nodes.
        write_file(&state_dir.join("kubelet-ca.crt"), kubelet_ca.pem.as_bytes())?;
        shared.write_truth();
        for (node, listener) in shared.nodes.iter().zip(listeners) {
            tokio::spawn(kubelet::run(
                shared.clone(),
                node.clone(),
                listener,
                shutdown.clone(),
                alive.clone(),
            ));
        }
        if let Err(err) = remote.register(&shared).await {
            remote.unregister().await;
            return Err(err.context(format!("registering nodes in {api_url}")));
        }
        return Ok(shared);
    }
    let Some(api_listener) = api_listener else {
        anyhow::bail!("kubesim's own API server has no listener");
    };

    // Credentials.
    shared.policy.write().unwrap_or_else(|e| e.into_inner()).add_token(
        &admin_token,
        UserInfo {
            name: "admin".into(),
            uid: shared.new_uid(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        },
    );
    let viewer = shared.cluster_ca.client("viewer", &["kubesim:viewers"])?;
    let sa_token = shared.create_token(SA_NAMESPACE, SA_NAME)?;

    let b64 = base64::engine::general_purpose::STANDARD;
    let ca_data = b64.encode(&shared.cluster_ca.pem);
    let admin_user = format!("    token: {admin_token}\n");
    let viewer_user = format!(
        "    client-certificate-data: {}\n    client-key-data: {}\n",
        b64.encode(&viewer.cert_pem),
        b64.encode(&viewer.key_pem)
    );
    let kubeconfig = |user: &str, credentials: &str| {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n    server: {api_url}\n    \
             certificate-authority-data: {ca_data}\ncontexts:\n- name: kubesim-{user}\n  context:\n    cluster: kubesim\n    \
             user: {user}\ncurrent-context: kubesim-{user}\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n{credentials}"
        )
    };
    write_file(&state_dir.join("admin.kubeconfig"), kubeconfig("admin", &admin_user).as_bytes())?;
    write_file(&state_dir.join("viewer.kubeconfig"), kubeconfig("viewer", &viewer_user).as_bytes())?;
    write_file(&state_dir.join("sa.token"), sa_token.as_bytes())?;
    write_file(&state_dir.join("ca.crt"), shared.cluster_ca.pem.as_bytes())?;
    write_file(&state_dir.join("kubelet-ca.crt"), kubelet_ca.pem.as_bytes())?;
    shared.write_truth();

    // Serve.
    for (node, listener) in shared.nodes.iter().zip(listeners) {
        tokio::spawn(kubelet::run(shared.clone(), node.clone(), listener, shutdown.clone(), alive.clone()));
    }
    tokio::spawn(run_api_server(shared.clone(), api_listener, api_tls, alive));
    Ok(shared)
}

/// Serves the API server until shutdown, closing its port (and every open connection) while it is
/// stopped and binding the same address again when it starts, as a restarted kube-apiserver does.
async fn run_api_server(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    _alive: mpsc::Sender<()>,
) {
    let mut shutdown = shared.shutdown.clone();
    let mut down = shared.api_down.subscribe();
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(_) => return,
    };
    let mut listener = Some(listener);
    loop {
        if *down.borrow_and_update() {
            listener = None;
            tokio::select! {
                _ = http::stopped(&mut shutdown) => return,
                changed = down.changed() => if changed.is_err() { return },
            }
            continue;
        }
        let active = match listener.take() {
            Some(active) => active,
            None => match TcpListener::bind(addr).await {
                Ok(active) => active,
                Err(_) => {
                    // The port is briefly taken (TIME_WAIT or another process); try again shortly.
                    tokio::select! {
                        _ = http::stopped(&mut shutdown) => return,
                        _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                    }
                }
            },
        };
        // This generation's connections watch `stop`: dropping its sender ends them all.
        let (stop, stopped) = watch::channel(false);
        let handler_shared = shared.clone();
        let tls = tls.clone();
        let serving = http::serve(
            active,
            move || tls.clone(),
            move |user, req| apiserver::handle(handler_shared.clone(), user, req),
            stopped,
        );
        tokio::select! {
            _ = http::stopped(&mut shutdown) => return,
            went_down = down.wait_for(|down| *down) => if went_down.is_err() { return },
            () = serving => return,
        }
        drop(stop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_can_be_shared_between_tasks() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Cluster>();
        shareable::<Truth>();
    }

    #[test]
    fn node_names_sort_by_name() {
        assert_eq!(node_name(0, 1), "node-0");
        assert_eq!(node_name(9, 10), "node-9");
        assert_eq!(node_name(0, 12), "node-00");
        assert_eq!(node_name(11, 12), "node-11");
        assert_eq!(node_name(7, 1000), "node-007");
        assert_eq!(node_name(0, 1001), "node-0000");
    }
}
