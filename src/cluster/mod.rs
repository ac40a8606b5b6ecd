//! The only code that talks to Kubernetes or to kubelets.
//!
//! - [`config`]: kubeconfig / `--context` / in-cluster → `kube::Client`s; kubelet TLS and token.
//! - [`discovery`]: which nodes, at which address and port ([`NodeTarget`]).
//! - [`proxy`] and [`direct`]: the two access methods, behind one seam, [`MetricsSource`],
//!   chosen at run time as the [`Source`] enum.
//! - [`error`]: why a node could not be read ([`FetchError`]) and the fix for each kind.
//! - [`retry`] and [`throttle`]: when a failure is tried again, and how fast requests go.
//!
//! A source opens a (node, path) and hands back a [`BodyStream`] of chunks as they arrive;
//! parsing, deadlines, retries and fan-out belong to `collect`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use crate::access::Method;
use crate::cluster::plan::{ClusterPlan, NodeSelection};

pub mod checks;
pub mod config;
pub mod credentials;
pub mod denial;
pub mod direct;
pub mod discovery;
pub mod error;
pub mod plan;
pub mod pods;
pub mod proxy;
pub mod retry;
pub mod throttle;

pub use config::ConfigError;
pub use direct::DirectSource;
pub use discovery::{AddressPolicy, Discovery, DiscoveryError, NodeTarget};
pub use error::{Denial, DeniedBy, FetchError, RequestContext, TlsProblem};
pub use proxy::ProxySource;

/// What we ask kubelets for: the classic text format, which every kubelet version serves.
pub const ACCEPT_EXPOSITION: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";

/// How much of an error body is read to classify it.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// One way of reaching kubelets.
pub trait MetricsSource {
    /// Proxy or direct.
    fn method(&self) -> Method;

    /// What a request for `path` on `node` is called in messages: the API path (proxy) or the
    /// full URL (direct). Never contains a credential.
    fn url(&self, node: &NodeTarget, path: &str) -> String;

    /// Sends `GET path` to the node's kubelet. On a 2xx answer, returns its body as a stream
    /// that refuses to grow past `max_body` bytes; otherwise the classified error.
    fn open(
        &self,
        node: &NodeTarget,
        path: &str,
        max_body: u64,
    ) -> impl Future<Output = Result<BodyStream, FetchError>> + Send;
}

/// The access method chosen for a run.
#[derive(Debug)]
pub enum Source {
    /// Through the API server proxy.
    Proxy(ProxySource),
    /// Straight to each kubelet.
    Direct(DirectSource),
}

impl MetricsSource for Source {
    fn method(&self) -> Method {
        match self {
            Source::Proxy(source) => source.method(),
            Source::Direct(source) => source.method(),
        }
    }

    fn url(&self, node: &NodeTarget, path: &str) -> String {
        match self {
            Source::Proxy(source) => source.url(node, path),
            Source::Direct(source) => source.url(node, path),
        }
    }

    async fn open(&self, node: &NodeTarget, path: &str, max_body: u64) -> Result<BodyStream, FetchError> {
        match self {
            Source::Proxy(source) => source.open(node, path, max_body).await,
            Source::Direct(source) => source.open(node, path, max_body).await,
        }
    }
}

/// How far one attempt got, shared with whoever enforces its deadline: whether the server
/// answered (a [`BodyStream`] was opened) and how many body bytes arrived. It tells "no answer"
/// from "answered, but the body was too slow" when the deadline passes mid-body.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<ProgressCounts>);

#[derive(Debug, Default)]
struct ProgressCounts {
    answered: AtomicBool,
    received: AtomicU64,
}

impl Progress {
    /// Whether the server answered (status and headers arrived).
    pub fn answered(&self) -> bool {
        self.0.answered.load(Ordering::Relaxed)
    }

    /// Body bytes received so far.
    pub fn received(&self) -> u64 {
        self.0.received.load(Ordering::Relaxed)
    }
}

/// A response body read chunk by chunk, with `--max-body` enforced as bytes arrive.
pub struct BodyStream {
    body: kube::client::Body,
    limit: u64,
    received: u64,
    host: String,
    progress: Option<Progress>,
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream").field("received", &self.received).field("limit", &self.limit).finish()
    }
}

impl BodyStream {
    /// Wraps a response body; `host` names the peer in transport errors.
    pub fn new(body: kube::client::Body, limit: u64, host: impl Into<String>) -> BodyStream {
        BodyStream { body, limit, received: 0, host: host.into(), progress: None }
    }

    /// Reports to `progress` that the server answered, and every body byte as it arrives.
    pub fn track(mut self, progress: &Progress) -> BodyStream {
        progress.0.answered.store(true, Ordering::Relaxed);
        progress.0.received.store(self.received, Ordering::Relaxed);
        self.progress = Some(progress.clone());
        self
    }

    /// The next chunk, `None` at the end. Fails when the connection breaks or the body passes
    /// the limit.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, FetchError> {
        // Trailers and empty frames are skipped; every data frame counts against the limit.
        loop {
            let Some(frame) = self.body.frame().await else { return Ok(None) };
            let frame = frame.map_err(|err| FetchError::from_kube(&err, &self.host))?;
            let Ok(data) = frame.into_data() else { continue };
            if data.is_empty() {
                continue;
            }
            self.received += data.len() as u64;
            if let Some(progress) = &self.progress {
                progress.0.received.store(self.received, Ordering::Relaxed);
            }
            if self.received > self.limit {
                return Err(FetchError::TooLarge { limit: self.limit });
            }
            return Ok(Some(data));
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The whole body in memory (for small raw paths such as `/healthz`), still limited.
    pub async fn into_bytes(mut self) -> Result<Bytes, FetchError> {
        let mut all = BytesMut::new();
        while let Some(chunk) = self.next_chunk().await? {
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }
}

/// Turns an HTTP answer into a body stream (2xx) or a classified error (anything else).
pub(crate) async fn answer(
    response: http::Response<kube::client::Body>,
    host: &str,
    limit: u64,
) -> Result<BodyStream, FetchError> {
    let (parts, body) = response.into_parts();
    if parts.status.is_success() {
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        return Ok(BodyStream::new(body, limit, host));
    }
    let retry_after = parts
        .headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| error::parse_retry_after(v, SystemTime::now()));
    let text = error_body(body).await;
    Err(FetchError::from_status(parts.status.as_u16(), &text, retry_after))
}

/// The start of an error body (enough to classify it); a broken body yields what arrived.
async fn error_body(mut body: kube::client::Body) -> Vec<u8> {
    let mut text = Vec::new();
    while text.len() < ERROR_BODY_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = ERROR_BODY_LIMIT - text.len();
                    text.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    text
}

/// A kubelet path as requests use it: one leading `/`, no spaces or control characters.
pub fn request_path(path: &str) -> Result<String, String> {
    let path = path.trim();
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{path:?} is not a URL path"));
    }
    if path.starts_with("http://") || path.starts_with("https://") {
        return Err(format!("{path:?} is a URL; give the kubelet path only, e.g. /metrics"));
    }
    let path = path.trim_start_matches('/');
    Ok(format!("/{path}"))
}

/// A source with the nodes it will read and what the user must be told.
#[derive(Debug)]
pub struct Connected {
    /// The chosen access method.
    pub source: Source,
    /// Nodes to read, and named nodes that could not be looked up.
    pub discovery: Discovery,
    /// Warnings to print once (e.g. TLS verification is off); never contain a secret.
    pub warnings: Vec<String>,
}

/// Why nothing can run.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Listing nodes failed.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
}

/// Loads the configuration, builds the plan's source and finds its nodes.
pub async fn connect(plan: &ClusterPlan) -> Result<Connected, ConnectError> {
    let policy = AddressPolicy { types: plan.address_types.clone(), port: plan.kubelet_port };
    let loaded = config::load(plan.kubeconfig.as_deref(), plan.context.as_deref()).await;
    let (base, in_cluster, user) = match loaded {
        Ok(loaded) => (loaded.config, loaded.in_cluster, loaded.user),
        // `--node-ip` with `--token-file` needs no API server at all (e.g. a pod without RBAC
        // to list nodes), so a missing kubeconfig is no obstacle there.
        Err(_)
            if matches!(
                plan.nodes,
                NodeSelection::Addresses(_) | NodeSelection::Local { address: Some(_), .. }
            ) && plan.token_file.is_some()
                && plan.kubeconfig.is_none() =>
        {
            let base = kube::Config::new(http::Uri::from_static("https://kubernetes.invalid"));
            (base, false, config::KubeconfigUser::default())
        }
        Err(err) => return Err(err.into()),
    };
    let api_host = authority_of(&base.cluster_url);
    let api = config::for_api_server(&base, &plan.api);
    let mut warnings = Vec::new();
    let source = match plan.method {
        Method::Proxy => Source::Proxy(ProxySource::new(
            config::api_client(&api, false)?,
            api_host.clone(),
            plan.kubelet_port,
        )),
        Method::Direct => {
            let setup = config::direct(&base, plan, in_cluster, &user)?;
            warnings.extend(setup.warnings);
            Source::Direct(DirectSource::new(setup.client, setup.token, &plan.address_types))
        }
    };
    let discovery = match &plan.nodes {
        NodeSelection::Addresses(addresses) => Discovery::from_addresses(addresses, &policy),
        NodeSelection::Local { name, address: Some(ip) } => Discovery::local(name, *ip, &policy),
        selection => {
            let lister = config::api_client(&api, true)?;
            discovery::discover(&lister, &api_host, selection, &policy, &plan.limits).await?
        }
    };
    Ok(Connected { source, discovery, warnings })
}

/// `host:port` of a URL, for messages.
fn authority_of(uri: &http::Uri) -> String {
    uri.authority().map(|a| a.to_string()).unwrap_or_else(|| uri.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_are_normalised() {
        assert_eq!(request_path("metrics/cadvisor"), Ok("/metrics/cadvisor".into()));
        assert_eq!(request_path("/healthz"), Ok("/healthz".into()));
        assert_eq!(request_path("//metrics"), Ok("/metrics".into()));
        assert!(request_path("/a b").is_err());
        assert!(request_path("https://10.0.0.1:10250/metrics").is_err());
    }
}
