//! kubesim judged from outside: the real `kubectl` against the API server, our own small HTTPS client
//! against the kubelets, and a few lines of exposition parsing of our own (no dependency on the main
//! crate's parser). Every cluster binds 127.0.0.1:0; every wait is bounded.

mod direct;
mod external;
mod faults;
mod kubectl;
mod pods;
mod truth;

use std::{
    path::Path,
    process::Output,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use kubesim::Cluster;
use rustls::{ClientConfig, RootCertStore, pki_types::ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Upper bound of any single kubectl run or HTTP exchange in these tests.
pub(crate) const LIMIT: Duration = Duration::from_secs(30);

/// Runs the real kubectl with this kubeconfig; a private discovery cache per cluster.
pub(crate) async fn kubectl(cluster: &Cluster, kubeconfig: &Path, args: &[&str]) -> Output {
    let cache = cluster.state_dir().join("kubectl-cache");
    let child = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--request-timeout=20s")
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", cluster.state_dir())
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .output();
    tokio::time::timeout(LIMIT, child)
        .await
        .expect("kubectl finished in time")
        .expect("kubectl runs (it must be on PATH: install Debian's kubernetes-client)")
}

/// What one HTTPS request returned.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    /// The body, or the error that interrupted it.
    pub(crate) body: Result<Bytes, String>,
}

impl Fetched {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(self.body.as_ref().expect("a complete body")).into_owned()
    }
}

/// TLS config trusting the PEM CA at `ca`, with no client certificate.
pub(crate) fn tls(ca: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    let pem = std::fs::read(ca).expect("CA file");
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.expect("PEM certificate")).expect("CA accepted");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// One request over a fresh connection: `server_name` is what the certificate must be valid for.
pub(crate) async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    ca: &Path,
    server_name: &str,
    body: Option<&str>,
) -> Result<Fetched, String> {
    let exchange = async {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from(server_name.to_string()).map_err(|e| e.to_string())?;
        let tls = TlsConnector::from(tls(ca)).connect(name, stream).await.map_err(|e| format!("tls: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("http: {e}"))?;
        tokio::spawn(connection);
        let mut builder = http::Request::builder().method(method).uri(path).header("host", addr.to_string());
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(b) => builder
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(b.to_string())).map_err(|never| match never {}).boxed()),
            None => builder.body(Empty::new().map_err(|never| match never {}).boxed()),
        }
        .map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| format!("request: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).map_err(|e| format!("body: {e}"));
        Ok(Fetched { status: parts.status.as_u16(), headers: parts.headers, body })
    };
    tokio::time::timeout(LIMIT, exchange).await.map_err(|_| "timed out".to_string())?
}

/// GET a kubelet path directly, verifying its certificate against kubelet-ca.crt for 127.0.0.1.
pub(crate) async fn kubelet_get(
    cluster: &Cluster,
    node: &str,
    path: &str,
    token: Option<&str>,
) -> Result<Fetched, String> {
    let addr = cluster.kubelet_addr(node).expect("node exists");
    request(addr, "GET", path, token, &cluster.kubelet_ca_path(), "127.0.0.1", None).await
}

/// A request to the API server with the admin token.
pub(crate) async fn api(cluster: &Cluster, method: &str, path: &str, body: Option<&str>) -> Fetched {
    let addr: std::net::SocketAddr =
        cluster.api_url().trim_start_matches("https://").parse().expect("api address");
    let kubeconfig = std::fs::read_to_string(cluster.admin_kubeconfig()).expect("admin kubeconfig");
    let token =
        kubeconfig.lines().find_map(|l| l.trim().strip_prefix("token: ")).expect("admin token").to_string();
    request(addr, method, path, Some(&token), &cluster.ca_path(), "127.0.0.1", body)
        .await
        .expect("API server answers")
}

/// The service account token.
pub(crate) fn sa_token(cluster: &Cluster) -> String {
    std::fs::read_to_string(cluster.sa_token_path()).expect("sa.token")
}

/// A histogram as read from exposition text: cumulative (le, count) pairs, sum, count.
#[derive(Debug, PartialEq)]
pub(crate) struct Parsed {
    pub(crate) buckets: Vec<(f64, u64)>,
    pub(crate) sum: f64,
    pub(crate) count: u64,
}

/// Reads one unlabelled histogram family from exposition text, in a few lines of our own.
pub(crate) fn parse_histogram(text: &str, metric: &str) -> Option<Parsed> {
    let mut parsed = Parsed { buckets: Vec::new(), sum: f64::NAN, count: u64::MAX };
    let bucket_prefix = format!("{metric}_bucket{{le=\"");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(&bucket_prefix) {
            let (le, value) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            parsed.buckets.push((le, value.trim().parse().ok()?));
        } else if let Some(v) = line.strip_prefix(&format!("{metric}_sum ")) {
            parsed.sum = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix(&format!("{metric}_count ")) {
            parsed.count = v.trim().parse().ok()?;
        }
    }
    (!parsed.buckets.is_empty()).then_some(parsed)
}

/// The truth's histogram in the same shape.
pub(crate) fn from_truth(h: &kubesim::HistogramTruth) -> Parsed {
    Parsed { buckets: h.buckets.iter().map(|b| (b.le, b.count)).collect(), sum: h.sum, count: h.count }
}

/// Runs `f` until it returns true or `limit` passes.
pub(crate) async fn eventually(limit: Duration, mut f: impl AsyncFnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test]
async fn binary_prints_ready_and_stops_on_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["--nodes", "2", "--seed", "5", "--fault", "1=status:503", "--state-dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kubesim starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(LIMIT, lines.next_line()).await.expect("ready in time").expect("a line");
    let url = line.as_deref().and_then(|l| l.strip_prefix("ready ")).expect("ready <url>").to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    for file in
        ["admin.kubeconfig", "viewer.kubeconfig", "sa.token", "ca.crt", "kubelet-ca.crt", "truth.json"]
    {
        assert!(dir.path().join(file).exists(), "{file} written");
    }
    let truth: kubesim::Truth =
        serde_json::from_slice(&std::fs::read(dir.path().join("truth.json")).expect("truth"))
            .expect("truth parses");
    assert_eq!(truth.nodes.len(), 2);
    assert_eq!(truth.nodes[1].fault.as_deref(), Some("status:503"));
    let pid = child.id().expect("pid").to_string();
    let kill = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill runs");
    assert!(kill.success());
    let status =
        tokio::time::timeout(LIMIT, child.wait()).await.expect("exits in time").expect("exit status");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn same_seed_same_cluster() {
    let a = Cluster::builder().nodes(5).seed(42).start().await.expect("start");
    let b = Cluster::builder().nodes(5).seed(42).start().await.expect("start");
    let strip = |t: kubesim::Truth| {
        t.nodes
            .into_iter()
            .map(|n| (n.name, n.profile, n.kubelet_version, n.pod_start, n.containers))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(a.truth()), strip(b.truth()));
    let body_a = kubelet_get(&a, "node-2", "/metrics", Some(&sa_token(&a))).await.expect("a").text();
    let body_b = kubelet_get(&b, "node-2", "/metrics", Some(&sa_token(&b))).await.expect("b").text();
    // The kubelet's start follows the clock when the cluster starts: two clusters started either
    // side of a second boundary differ there and nowhere else.
    let timeless = |body: &str| {
        body.lines().filter(|l| !l.starts_with("process_start_time_seconds ")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(timeless(&body_a), timeless(&body_b));
    assert_ne!(timeless(&body_a), body_a.trim_end(), "the start time is in the body");
    a.shutdown().await;
    b.shutdown().await;
}
