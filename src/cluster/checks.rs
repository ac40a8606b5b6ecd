//! The I/O behind `doctor` and `compare`: SelfSubjectReview and SelfSubjectAccessReviews,
//! `/version`, `/healthz` through the proxy and direct, a TCP connect, a TLS verification probe
//! that names what is wrong with a kubelet's certificate, timed fetches, and reading a token file.
//!
//! Each function performs one probe and hands back a plain fact ([`Answer`], [`Access`],
//! [`Fetched`], a [`FetchError`] or a [`TlsFailure`]); judging the facts and advising is
//! `doctor`'s, `compare`'s and `remedy`'s job. Clients, sources and discovery come from [`config`],
//! [`proxy`](super::proxy), [`direct`](super::direct) and [`discovery`](super::discovery); the
//! only client built here is [`token_client`], the API server seen with a token file's identity.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use crate::access::Permission;
use crate::cluster::config::{self, ConfigError};
use crate::cluster::{FetchError, MetricsSource, NodeTarget};

/// How much of a body is kept as evidence.
const SNIPPET_BYTES: usize = 200;

/// A successful HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status (2xx).
    pub status: u16,
    /// Bytes in the body.
    pub bytes: u64,
    /// The start of the body, one line, for evidence.
    pub snippet: String,
    /// Time to the last byte.
    pub elapsed: Duration,
}

/// What a SelfSubjectAccessReview said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Whether the permission is granted.
    pub allowed: bool,
    /// The authorizer's reason, when it gave one.
    pub reason: String,
}

/// A successful timed fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    /// Body bytes.
    pub bytes: u64,
    /// From the request to the last byte.
    pub elapsed: Duration,
}

/// What was wrong with a kubelet's serving certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsIssue {
    /// Signed by a CA we were not told to trust.
    UnknownAuthority,
    /// Not valid for the name or address dialled; the names it is valid for, when known.
    NameMismatch {
        /// The name or address we checked.
        expected: String,
        /// The DNS names and IP addresses in the certificate.
        presented: Vec<String>,
    },
    /// Expired or not yet valid.
    Expired,
    /// Not X.509 v3 (v1 or v2), which TLS libraries refuse.
    UnsupportedVersion,
    /// A CA certificate (basicConstraints CA:TRUE) presented as the serving certificate.
    CaAsServingCertificate,
    /// Anything else.
    Other(String),
}

/// Why a TLS probe failed: the handshake judged the certificate, or the connection failed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The handshake refused the certificate (or could not be set up).
    Certificate {
        /// What is wrong with it.
        issue: TlsIssue,
        /// `TLS handshake with HOST failed: ...`.
        message: String,
    },
    /// No handshake happened: timeout, refused connection, ...
    Fetch(FetchError),
}

/// `host:port` of the API server URL, for messages.
pub fn api_host(config: &kube::Config) -> String {
    config.cluster_url.authority().map(|a| a.to_string()).unwrap_or_else(|| config.cluster_url.to_string())
}

/// The API server's `gitVersion` from `/version`.
pub async fn version(client: &kube::Client, host: &str, limit: Duration) -> Result<String, FetchError> {
    match tokio::time::timeout(limit, client.apiserver_version()).await {
        Err(_) => Err(FetchError::Timeout(limit)),
        Ok(Err(err)) => Err(FetchError::from_kube(&err, host)),
        Ok(Ok(info)) => Ok(info.git_version),
    }
}

/// Who the API server says we are (SelfSubjectReview). `Ok(None)` when the server does not
/// offer the API (before Kubernetes 1.28) or does not say; a 401 is an `Err`.
pub async fn whoami(
    client: &kube::Client,
    host: &str,
    limit: Duration,
) -> Result<Option<String>, FetchError> {
    let api = Api::<SelfSubjectReview>::all(client.clone());
    let review = SelfSubjectReview::default();
    match tokio::time::timeout(limit, api.create(&PostParams::default(), &review)).await {
        Err(_) => Err(FetchError::Timeout(limit)),
        Ok(Err(kube::Error::Api(status))) if (403..=405).contains(&status.code) => Ok(None),
        Ok(Err(err)) => Err(FetchError::from_kube(&err, host)),
        Ok(Ok(review)) => Ok(review.status.and_then(|s| s.user_info).and_then(|u| u.username)),
    }
}

/// Whether we may `permission` at the cluster scope (SelfSubjectAccessReview, as
/// `kubectl auth can-i` asks).
pub async fn access(
    client: &kube::Client,
    host: &str,
    permission: &Permission,
    limit: Duration,
) -> Result<Access, FetchError> {
    let api = Api::<SelfSubjectAccessReview>::all(client.clone());
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(permission.verb.to_string()),
                group: Some(String::new()),
                resource: Some(permission.resource.to_string()),
                subresource: permission.subresource.map(str::to_string),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    match tokio::time::timeout(limit, api.create(&PostParams::default(), &review)).await {
        Err(_) => Err(FetchError::Timeout(limit)),
        Ok(Err(err)) => Err(FetchError::from_kube(&err, host)),
        Ok(Ok(review)) => {
            let status = review.status.unwrap_or_default();
            let reason = status.reason.or(status.evaluation_error).unwrap_or_default();
            Ok(Access { allowed: status.allowed, reason })
        }
    }
}

/// A client for the API server that authenticates with only the bearer token in `token_file`
/// (re-read by kube as it rotates): the identity the direct method shows kubelets.
pub fn token_client(base: &kube::Config, token_file: &Path) -> Result<kube::Client, ConfigError> {
    let mut config = base.clone();
    config.auth_info = kube::config::AuthInfo {
        token_file: Some(token_file.to_string_lossy().into_owned()),
        ..kube::config::AuthInfo::default()
    };
    config::api_client(&config, false)
}

/// `GET path` on `node` through `source`, read to the end (at most `max_body` bytes); the
/// start of the body is kept as evidence.
pub async fn get(
    source: &impl MetricsSource,
    node: &NodeTarget,
    path: &str,
    max_body: u64,
    limit: Duration,
) -> Result<Answer, FetchError> {
    let start = Instant::now();
    let work = async {
        let mut body = source.open(node, path, max_body).await?;
        let mut head: Vec<u8> = Vec::new();
        while let Some(chunk) = body.next_chunk().await? {
            if head.len() < SNIPPET_BYTES {
                head.extend_from_slice(&chunk[..chunk.len().min(SNIPPET_BYTES - head.len())]);
            }
        }
        Ok::<_, FetchError>((head, body.received()))
    };
    match tokio::time::timeout(limit, work).await {
        Err(_) => Err(FetchError::Timeout(limit)),
        Ok(Err(err)) => Err(err),
        Ok(Ok((head, bytes))) => {
            let text = String::from_utf8_lossy(&head);
            let snippet: String = text.lines().next().unwrap_or("").chars().take(60).collect();
            Ok(Answer { status: 200, bytes, snippet, elapsed: start.elapsed() })
        }
    }
}

/// `GET path` on `node` through `source`, streamed to the end and timed (no retries: `compare`
/// measures each attempt as it is).
pub async fn timed_fetch(
    source: &impl MetricsSource,
    node: &NodeTarget,
    path: &str,
    max_body: u64,
    limit: Duration,
) -> Result<Fetched, FetchError> {
    let start = Instant::now();
    let work = async {
        let mut body = source.open(node, path, max_body).await?;
        while body.next_chunk().await?.is_some() {}
        Ok::<u64, FetchError>(body.received())
    };
    let result = match tokio::time::timeout(limit, work).await {
        Err(_) => Err(FetchError::Timeout(limit)),
        Ok(result) => result,
    };
    let elapsed = start.elapsed();
    result.map(|bytes| Fetched { bytes, elapsed })
}

/// A TCP connection to `authority` (`host:port`); how long it took.
pub async fn tcp_connect(authority: &str, limit: Duration) -> Result<Duration, FetchError> {
    let start = Instant::now();
    match tokio::time::timeout(limit, tokio::net::TcpStream::connect(authority)).await {
        Err(_) => Err(FetchError::Timeout(limit)),
        Ok(Err(err)) => Err(FetchError::from_transport(&err, authority)),
        Ok(Ok(_stream)) => Ok(start.elapsed()),
    }
}

/// The CA certificates the direct method verifies kubelets against: `--kubelet-ca`, else the
/// configuration's CA (inline data, or the in-cluster CA file).
pub fn kubelet_roots(base: &kube::Config, kubelet_ca: Option<&Path>) -> Result<Vec<Vec<u8>>, ConfigError> {
    if let Some(path) = kubelet_ca {
        return config::read_certificates(path);
    }
    if let Some(certs) = &base.root_cert {
        return Ok(certs.clone());
    }
    match &base.root_cert_file {
        Some(path) => config::read_certificates(path),
        None => Ok(Vec::new()),
    }
}

/// A TLS handshake with `authority`, verifying its certificate against `roots` for
/// `server_name` (else the host dialled). A failure says what is wrong with the certificate,
/// including the names it is valid for when the name does not match.
pub async fn tls_probe(
    authority: &str,
    server_name: Option<&str>,
    roots: &[Vec<u8>],
    limit: Duration,
) -> Result<(), TlsFailure> {
    use rustls::pki_types::{CertificateDer, ServerName};

    let tls_problem = |issue: TlsIssue, text: String| TlsFailure::Certificate {
        issue,
        message: format!("TLS handshake with {authority} failed: {text}"),
    };
    let mut store = rustls::RootCertStore::empty();
    for der in roots {
        // A certificate the store rejects simply does not help verification.
        let _ = store.add(CertificateDer::from(der.clone()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_problem(TlsIssue::Other(e.to_string()), e.to_string()))?
        .with_root_certificates(store)
        .with_no_client_auth();
    let host = authority.rsplit_once(':').map_or(authority, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name_text = server_name.unwrap_or(host).to_string();
    let name = ServerName::try_from(name_text.clone()).map_err(|e| {
        tls_problem(TlsIssue::Other(e.to_string()), format!("invalid server name {name_text:?}"))
    })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let work = async {
        let tcp = tokio::net::TcpStream::connect(authority).await?;
        connector.connect(name, tcp).await
    };
    match tokio::time::timeout(limit, work).await {
        Err(_) => Err(TlsFailure::Fetch(FetchError::Timeout(limit))),
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(err)) => {
            let rustls_error = err.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
            match rustls_error {
                Some(rustls::Error::InvalidCertificate(cert)) => {
                    use rustls::CertificateError as C;
                    let issue = match cert {
                        C::UnknownIssuer | C::BadSignature => TlsIssue::UnknownAuthority,
                        C::NotValidForName => {
                            TlsIssue::NameMismatch { expected: name_text.clone(), presented: Vec::new() }
                        }
                        C::NotValidForNameContext { presented, .. } => TlsIssue::NameMismatch {
                            expected: name_text.clone(),
                            presented: presented.iter().filter_map(|p| presented_name(p)).collect(),
                        },
                        C::Expired
                        | C::ExpiredContext { .. }
                        | C::NotValidYet
                        | C::NotValidYetContext { .. } => TlsIssue::Expired,
                        other if crate::cluster::error::is_unsupported_version(other) => {
                            TlsIssue::UnsupportedVersion
                        }
                        // rustls-webpki's CaUsedAsEndEntity reaches us only as `Other(OtherError(..))`.
                        other if format!("{other:?}").contains("CaUsedAsEndEntity") => {
                            TlsIssue::CaAsServingCertificate
                        }
                        other => TlsIssue::Other(format!("invalid certificate: {other:?}")),
                    };
                    Err(tls_problem(issue, cert.to_string()))
                }
                Some(other) => Err(tls_problem(TlsIssue::Other(other.to_string()), other.to_string())),
                None => Err(TlsFailure::Fetch(FetchError::from_transport(&err, authority))),
            }
        }
    }
}

/// A certificate name as rustls-webpki reports it (`DnsName("a.b")`, `IpAddress(10.0.0.1)`)
/// as plain text; other kinds (directory names, URIs) are dropped.
fn presented_name(raw: &str) -> Option<String> {
    if let Some(inner) = raw.strip_prefix("DnsName(\"").and_then(|r| r.strip_suffix("\")")) {
        return Some(inner.to_string());
    }
    raw.strip_prefix("IpAddress(").and_then(|r| r.strip_suffix(')')).map(str::to_string)
}

/// A token file's text, or why it cannot be read.
pub async fn read_token(path: &Path) -> Result<String, String> {
    tokio::fs::read_to_string(path).await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_lose_their_webpki_wrapping() {
        assert_eq!(
            presented_name("DnsName(\"wrong.kubesim.invalid\")").as_deref(),
            Some("wrong.kubesim.invalid")
        );
        assert_eq!(presented_name("IpAddress(127.0.0.1)").as_deref(), Some("127.0.0.1"));
        assert_eq!(presented_name("DirectoryName"), None);
    }
}
