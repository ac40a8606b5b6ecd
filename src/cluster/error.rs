//! Why one node could not be read, as a typed value: the facts, never advice (the fix for each
//! kind is `remedy`'s).
//!
//! Classification is pure: HTTP answers are classified from their status, their body (a
//! Kubernetes `Status` object from the API server, plain text from a kubelet) and `Retry-After`;
//! transport failures from the error chain (rustls, io, hyper). Sources call these functions right
//! after the I/O; `collect` turns a [`FetchError`] into the report's `Failure`. No message ever
//! contains a credential: bodies are shortened, and sources that hold a token redact it.

use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, SystemTime};

use crate::access::Method;
use crate::scrape::FailureKind;

pub use super::denial::{Denial, DeniedBy};

/// Longest server message kept in an error (bodies can be whole HTML pages).
const MESSAGE_LIMIT: usize = 300;

/// Why fetching one (node, path) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No answer within the per-node deadline (all attempts included): not even the headers.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The server answered (status and headers arrived), but the body did not finish within the
    /// per-node deadline: a kubelet, API server or network too slow for this payload.
    #[error("answered, but the body did not finish within {limit:?} ({received} bytes received)")]
    SlowBody {
        /// The per-node deadline (`--timeout`).
        limit: Duration,
        /// Body bytes that had arrived when the deadline passed.
        received: u64,
    },
    /// The run was interrupted (Ctrl-C) before this node answered.
    #[error("cancelled before the node answered")]
    Cancelled,
    /// The TCP connection was refused.
    #[error("connection refused by {host}")]
    Refused {
        /// `host:port` that refused.
        host: String,
    },
    /// The host name did not resolve.
    #[error("cannot resolve {host}")]
    Dns {
        /// The name that did not resolve.
        host: String,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {host} failed: {problem}")]
    Tls {
        /// `host:port` of the server.
        host: String,
        /// What was wrong with the certificate or the handshake.
        problem: TlsProblem,
    },
    /// The node has none of the address types asked for (direct method).
    #[error("node has no address of type {types}")]
    NoAddress {
        /// The `--address-type` list, comma-separated.
        types: String,
    },
    /// Local credentials could not be produced (exec plugin failed, token file unreadable).
    #[error("no usable credentials: {message}")]
    Credentials {
        /// What went wrong, without the credential itself.
        message: String,
    },
    /// HTTP 401: no credentials, or credentials not accepted.
    #[error("unauthorized (HTTP 401): {message}")]
    Unauthorized {
        /// The server's message.
        message: String,
    },
    /// HTTP 403: authenticated but not allowed.
    #[error("forbidden (HTTP 403): {}", forbidden_text(.denial.as_ref(), .message))]
    Forbidden {
        /// Who was denied what, when the message says so.
        denial: Option<Denial>,
        /// The server's message.
        message: String,
    },
    /// HTTP 404: no such node, or no such kubelet path.
    #[error("not found (HTTP 404): {message}")]
    NotFound {
        /// The server's message.
        message: String,
    },
    /// HTTP 429, still refused after every retry the deadline allowed.
    #[error("too many requests (HTTP 429){}", retry_after_text(*.retry_after))]
    TooManyRequests {
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// HTTP 5xx, including the API server's 503 when it cannot reach the kubelet.
    #[error("server error (HTTP {status}): {message}")]
    ServerError {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Any other unexpected HTTP status.
    #[error("unexpected HTTP {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The body grew past `--max-body`.
    #[error("body larger than the --max-body limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The body is not Prometheus text: not one valid line among malformed ones.
    #[error("{message}")]
    Parse {
        /// 1-based line of the first problem.
        line: usize,
        /// What is wrong with it: the first few bad lines, and how many more.
        message: String,
    },
    /// The body ends in the middle of a line: the connection closed before the payload did.
    #[error("the payload ends in the middle of line {line}: it was cut short")]
    CutShort {
        /// 1-based number of the unfinished last line.
        line: usize,
    },
    /// The bearer token read from a token file cannot be sent in an HTTP header (a carriage
    /// return or another control character inside it, e.g. a file saved with CR-LF line ends).
    #[error("the token in {path} holds characters that cannot be sent in an HTTP header")]
    TokenFile {
        /// The token file.
        path: String,
    },
    /// The process ran out of file descriptors (EMFILE/ENFILE) opening a connection: a local
    /// limit, not the node's fault, and no retry helps.
    #[error("too many open files here, opening a connection to {host}")]
    TooManyOpenFiles {
        /// `host:port` the connection was for.
        host: String,
    },
    /// The connection broke (reset, closed mid-body) or another transport error.
    #[error("connection failed: {message}")]
    Io {
        /// The transport's description.
        message: String,
    },
}

/// What went wrong in a TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate is signed by a CA we were not told to trust.
    UnknownAuthority,
    /// The certificate is not valid for the name or IP we connected to.
    NameMismatch,
    /// The certificate has expired or is not valid yet.
    Expired,
    /// The certificate is not X.509 v3 (e.g. v1, as `openssl x509 -req` without `-extfile`
    /// issues): rustls-webpki refuses every other version, whatever it contains.
    UnsupportedVersion,
    /// Anything else, as rustls describes it.
    Other(String),
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsProblem::UnknownAuthority => f.write_str("certificate signed by unknown authority"),
            TlsProblem::NameMismatch => f.write_str("certificate is not valid for this name or IP"),
            TlsProblem::Expired => f.write_str("certificate expired or not yet valid"),
            TlsProblem::UnsupportedVersion => {
                f.write_str("the server's certificate is X.509 v1 or v2, which TLS libraries refuse (only v3 is accepted)")
            }
            TlsProblem::Other(message) => f.write_str(message),
        }
    }
}

fn forbidden_text(denial: Option<&Denial>, message: &str) -> String {
    match denial {
        Some(denial) if denial.is_anonymous() => {
            format!("the request carried no credentials (user=system:anonymous): {message}")
        }
        Some(denial) => format!("user {:?} lacks the RBAC rule `{}`: {message}", denial.user, denial.rule()),
        None => message.to_string(),
    }
}

fn retry_after_text(retry_after: Option<Duration>) -> String {
    retry_after.map(|d| format!(", server asked to retry after {d:?}")).unwrap_or_default()
}

/// Where a failed request went, for messages and fixes.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The node name.
    pub node: &'a str,
    /// Proxy or direct.
    pub method: Method,
    /// The URL path (proxy) or full URL (direct) that was requested.
    pub url: &'a str,
}

impl FetchError {
    /// The stable failure class used in reports.
    pub fn kind(&self) -> FailureKind {
        match self {
            FetchError::Timeout(_) => FailureKind::Timeout,
            FetchError::SlowBody { .. } => FailureKind::SlowBody,
            FetchError::Cancelled => FailureKind::Cancelled,
            FetchError::Refused { .. } => FailureKind::Refused,
            FetchError::Dns { .. } | FetchError::NoAddress { .. } => FailureKind::Dns,
            FetchError::Tls { .. } => FailureKind::Tls,
            FetchError::Credentials { .. } | FetchError::Unauthorized { .. } => FailureKind::Unauthorized,
            FetchError::Forbidden { .. } => FailureKind::Forbidden,
            FetchError::NotFound { .. } => FailureKind::NotFound,
            FetchError::TooManyRequests { .. } => FailureKind::TooManyRequests,
            FetchError::ServerError { .. } => FailureKind::ServerError,
            FetchError::Status { .. } => FailureKind::Status,
            FetchError::TooLarge { .. } => FailureKind::TooLarge,
            FetchError::Parse { .. } | FetchError::CutShort { .. } => FailureKind::Parse,
            FetchError::Io { .. } => FailureKind::Io,
            FetchError::TooManyOpenFiles { .. } => FailureKind::TooManyOpenFiles,
            FetchError::TokenFile { .. } => FailureKind::Unauthorized,
        }
    }

    /// Removes every occurrence of `secret` from the messages (a safeguard: servers do not
    /// echo tokens, but a message must never carry one).
    pub fn redact(self, secret: &str) -> FetchError {
        if secret.is_empty() {
            return self;
        }
        let clean = |s: String| if s.contains(secret) { s.replace(secret, "[redacted]") } else { s };
        match self {
            FetchError::Credentials { message } => FetchError::Credentials { message: clean(message) },
            FetchError::Unauthorized { message } => FetchError::Unauthorized { message: clean(message) },
            FetchError::Forbidden { denial, message } => {
                FetchError::Forbidden { denial, message: clean(message) }
            }
            FetchError::NotFound { message } => FetchError::NotFound { message: clean(message) },
            FetchError::ServerError { status, message } => {
                FetchError::ServerError { status, message: clean(message) }
            }
            FetchError::Status { status, message } => FetchError::Status { status, message: clean(message) },
            FetchError::Parse { line, message } => FetchError::Parse { line, message: clean(message) },
            FetchError::Io { message } => FetchError::Io { message: clean(message) },
            FetchError::Tls { host, problem: TlsProblem::Other(m) } => {
                FetchError::Tls { host, problem: TlsProblem::Other(clean(m)) }
            }
            other => other,
        }
    }

    /// Classifies a non-success HTTP answer from its status, body and `Retry-After`.
    pub fn from_status(status: u16, body: &[u8], retry_after: Option<Duration>) -> FetchError {
        FetchError::from_status_message(status, status_message(body), retry_after)
    }

    /// Classifies a non-success HTTP answer whose message is already extracted.
    pub fn from_status_message(status: u16, message: String, retry_after: Option<Duration>) -> FetchError {
        match status {
            401 => FetchError::Unauthorized { message },
            403 => FetchError::Forbidden { denial: Denial::parse(&message), message },
            404 => FetchError::NotFound { message },
            429 => FetchError::TooManyRequests { retry_after },
            500..=599 => FetchError::ServerError { status, message },
            _ => FetchError::Status { status, message },
        }
    }

    /// Classifies a transport failure (connect, TLS, broken body) from its error chain.
    /// `host` is the `host:port` the request went to.
    pub fn from_transport(err: &(dyn StdError + 'static), host: &str) -> FetchError {
        let mut found: Option<FetchError> = None;
        let mut chain: Vec<String> = Vec::new();
        let mut current: Option<&(dyn StdError + 'static)> = Some(err);
        // Error chains are short; the bound only guards against a cycle.
        for _ in 0..32 {
            let Some(e) = current else { break };
            let text = e.to_string();
            if !chain.iter().any(|seen| seen.contains(&text)) {
                chain.push(text.clone());
            }
            let candidate = classify_one(e, host, &text);
            if let Some(candidate) = candidate
                && rank(&candidate) > found.as_ref().map_or(0, rank)
            {
                found = Some(candidate);
            }
            // io::Error::source() skips the error it wraps, and connectors nest io::Errors
            // (hyper-rustls: Other(InvalidData(rustls::Error))): step into the wrapped one.
            current = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => e.source(),
            };
        }
        found.unwrap_or_else(|| FetchError::Io { message: shorten(&chain.join(": ")) })
    }

    /// Classifies an error from a `kube::Client` call (request failed before any answer, or
    /// the API returned a `Status`).
    pub fn from_kube(err: &kube::Error, host: &str) -> FetchError {
        match err {
            kube::Error::Api(status) => {
                FetchError::from_status_message(status.code, shorten(&status.message), None)
            }
            kube::Error::Auth(auth) => FetchError::Credentials { message: shorten(&auth.to_string()) },
            other => FetchError::from_transport(other, host),
        }
    }
}

/// Higher wins when several errors in a chain classify: the most specific cause is reported.
fn rank(err: &FetchError) -> u8 {
    match err {
        FetchError::TooManyOpenFiles { .. } => 6,
        FetchError::Tls { .. } => 5,
        FetchError::Refused { .. } => 4,
        FetchError::Dns { .. } => 3,
        FetchError::Timeout(_) => 2,
        _ => 1,
    }
}

fn classify_one(e: &(dyn StdError + 'static), host: &str, text: &str) -> Option<FetchError> {
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        return Some(FetchError::Tls { host: host.to_string(), problem: tls_problem(tls) });
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        use std::io::ErrorKind;
        // EMFILE (24) and ENFILE (23) on Linux and the BSDs; std has no ErrorKind for them.
        if matches!(io.raw_os_error(), Some(23 | 24)) {
            return Some(FetchError::TooManyOpenFiles { host: host.to_string() });
        }
        return Some(match io.kind() {
            ErrorKind::ConnectionRefused => FetchError::Refused { host: host.to_string() },
            ErrorKind::TimedOut => FetchError::Io { message: format!("{host}: {io}") },
            _ => FetchError::Io { message: shorten(&format!("{host}: {io}")) },
        });
    }
    if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
        if hyper.is_incomplete_message() {
            return Some(FetchError::Io { message: "connection closed before the message completed".into() });
        }
        return Some(FetchError::Io { message: shorten(text) });
    }
    // hyper-util's ConnectError is not exported; its message is stable ("dns error").
    if text == "dns error" {
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        return Some(FetchError::Dns { host: name.to_string() });
    }
    None
}

fn tls_problem(err: &rustls::Error) -> TlsProblem {
    use rustls::CertificateError;
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => TlsProblem::UnknownAuthority,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsProblem::NameMismatch
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => TlsProblem::Expired,
            other if is_unsupported_version(other) => TlsProblem::UnsupportedVersion,
            other => TlsProblem::Other(format!("invalid certificate: {other:?}")),
        },
        other => TlsProblem::Other(other.to_string()),
    }
}

/// True when rustls refused a certificate for its X.509 version. rustls-webpki's
/// `Error::UnsupportedCertVersion` reaches us wrapped in `CertificateError::Other`, and the
/// webpki crate is not a dependency of ours to downcast to, so its stable variant name is
/// matched in the debug text.
pub fn is_unsupported_version(err: &rustls::CertificateError) -> bool {
    matches!(err, rustls::CertificateError::Other(other) if format!("{other:?}").contains("UnsupportedCertVersion"))
}

/// The human part of an error body: a Kubernetes `Status` message, else the text itself,
/// on one line and shortened.
pub fn status_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct StatusBody {
        kind: Option<String>,
        #[serde(default)]
        message: String,
    }
    if let Ok(status) = serde_json::from_slice::<StatusBody>(body)
        && status.kind.as_deref() == Some("Status")
        && !status.message.is_empty()
    {
        return shorten(&status.message);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() { "(empty body)".to_string() } else { shorten(text) }
}

/// One line, control characters removed, at most [`MESSAGE_LIMIT`] characters.
fn shorten(text: &str) -> String {
    let one_line: String =
        text.split_whitespace().collect::<Vec<_>>().join(" ").chars().filter(|c| !c.is_control()).collect();
    if one_line.chars().count() <= MESSAGE_LIMIT {
        one_line
    } else {
        let cut: String = one_line.chars().take(MESSAGE_LIMIT).collect();
        format!("{cut}…")
    }
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date relative to `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_open_files_is_its_own_kind_not_io() {
        // As hyper-util reports a failed socket(): an io::Error wrapped in its ConnectError.
        let emfile = std::io::Error::other(std::io::Error::from_raw_os_error(24));
        let err = FetchError::from_transport(&emfile, "10.0.0.1:10250");
        assert_eq!(err, FetchError::TooManyOpenFiles { host: "10.0.0.1:10250".into() });
        assert_eq!(err.kind(), FailureKind::TooManyOpenFiles);
        assert!(!crate::cluster::retry::is_transient(&err));
    }

    #[test]
    fn transport_chain_finds_refused_and_tls() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            FetchError::from_transport(&refused, "127.0.0.1:1"),
            FetchError::Refused { host: "127.0.0.1:1".into() }
        );
        // As hyper-rustls reports it: Other wrapping InvalidData wrapping the rustls error.
        let tls = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        let err = FetchError::from_transport(&tls, "127.0.0.1:2");
        assert_eq!(
            err,
            FetchError::Tls { host: "127.0.0.1:2".into(), problem: TlsProblem::UnknownAuthority }
        );
    }

    #[test]
    fn a_v1_server_certificate_is_a_tls_problem_naming_the_version() {
        // As rustls reports a v1 certificate: webpki's UnsupportedCertVersion inside Other.
        #[derive(Debug)]
        struct UnsupportedCertVersion;
        impl fmt::Display for UnsupportedCertVersion {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("UnsupportedCertVersion")
            }
        }
        impl StdError for UnsupportedCertVersion {}
        let other = rustls::OtherError(std::sync::Arc::new(UnsupportedCertVersion));
        let tls = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)),
        ));
        let err = FetchError::from_transport(&tls, "127.0.0.1:6443");
        assert_eq!(
            err,
            FetchError::Tls { host: "127.0.0.1:6443".into(), problem: TlsProblem::UnsupportedVersion }
        );
        assert!(err.to_string().contains("X.509 v1 or v2"), "{err}");
    }

    #[test]
    fn statuses_map_to_kinds() {
        assert_eq!(FetchError::from_status(401, b"Unauthorized", None).kind(), FailureKind::Unauthorized);
        assert_eq!(FetchError::from_status(404, b"404 page not found", None).kind(), FailureKind::NotFound);
        let limited = FetchError::from_status(429, b"", Some(Duration::from_secs(2)));
        assert_eq!(limited, FetchError::TooManyRequests { retry_after: Some(Duration::from_secs(2)) });
        assert_eq!(FetchError::from_status(502, b"bad gateway", None).kind(), FailureKind::ServerError);
        assert_eq!(FetchError::from_status(418, b"teapot", None).kind(), FailureKind::Status);
    }

    #[test]
    fn long_bodies_are_shortened_to_one_line() {
        let body = format!("first\nsecond {}", "x".repeat(1000));
        let message = status_message(body.as_bytes());
        assert!(!message.contains('\n'));
        assert!(message.chars().count() <= MESSAGE_LIMIT + 1);
        assert_eq!(status_message(b"  "), "(empty body)");
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn redaction_removes_a_secret_from_messages() {
        let err = FetchError::Unauthorized { message: "token abc123 rejected".into() }.redact("abc123");
        assert!(!err.to_string().contains("abc123"));
    }
}
