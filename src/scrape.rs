//! What one node gave us: its parsed families, or why it gave nothing. Plain data shared by the
//! sources (files, cluster) and the pure analysis; it holds no I/O.

use std::time::Duration;

use crate::exposition::Family;

/// The outcome of reading one node (or one saved payload standing for a node): by default its
/// parsed families; `NodeScrape<Bytes>` for a raw body.
#[derive(Debug, Clone)]
pub struct NodeScrape<T = Scraped> {
    /// The node name (or the name given to a saved payload).
    pub node: String,
    /// `status.nodeInfo.kubeletVersion`, when the source knows it.
    pub kubelet_version: Option<String>,
    /// The selected families (or the raw body), or a typed failure. A failure never aborts the
    /// other nodes.
    pub outcome: Result<T, Failure>,
}

/// The families of every node that answered, with its name, in scrape order.
pub fn answered(scrapes: &[NodeScrape]) -> Vec<(&str, &[Family])> {
    scrapes
        .iter()
        .filter_map(|s| s.outcome.as_ref().ok().map(|ok| (s.node.as_str(), ok.families.as_slice())))
        .collect()
}

/// A node's payload, parsed.
#[derive(Debug, Clone, Default)]
pub struct Scraped {
    /// The families the selector kept, in payload order.
    pub families: Vec<Family>,
    /// Bytes received.
    pub bytes: u64,
    /// Time from request to the last byte.
    pub elapsed: Duration,
    /// Non-fatal problems (a malformed line the parser skipped), each naming its line.
    pub warnings: Vec<String>,
    /// Family names in the payload close to a selected name it lacks: "did you mean".
    pub near_misses: Vec<String>,
}

/// Why a node gave nothing usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class of failure, stable for scripts (`kind` in JSON).
    pub kind: FailureKind,
    /// What happened, naming the node's method and URL path; never contains a secret.
    pub message: String,
    /// The one-line fix a user should try, when one is known.
    pub fix: Option<String>,
}

/// Classes of per-node failure. `as_str` is the stable spelling used in JSON and CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    /// No answer within the per-node deadline.
    Timeout,
    /// An answer whose body did not finish within the per-node deadline.
    SlowBody,
    /// The run was stopped (Ctrl-C) before this node answered.
    Cancelled,
    /// TCP connection refused.
    Refused,
    /// The name did not resolve.
    Dns,
    /// TLS failed: unknown authority, name mismatch, handshake.
    Tls,
    /// 401: credentials missing or not accepted.
    Unauthorized,
    /// 403: authenticated but not allowed.
    Forbidden,
    /// 404: no such node or path.
    NotFound,
    /// 429 after every retry.
    TooManyRequests,
    /// 5xx, including the API server's 503 when it cannot reach the kubelet.
    ServerError,
    /// Another unexpected HTTP status.
    Status,
    /// The body exceeded `--max-body`.
    TooLarge,
    /// The body is not valid exposition text.
    Parse,
    /// The connection broke mid-body, or a local read failed.
    Io,
    /// This process ran out of file descriptors (a local limit, not the node's fault).
    TooManyOpenFiles,
    /// The payload has no family the command needs.
    Missing,
}

impl FailureKind {
    /// The stable lowercase spelling (`timeout`, `tls`, `forbidden`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::SlowBody => "slow_body",
            FailureKind::Cancelled => "cancelled",
            FailureKind::Refused => "refused",
            FailureKind::Dns => "dns",
            FailureKind::Tls => "tls",
            FailureKind::Unauthorized => "unauthorized",
            FailureKind::Forbidden => "forbidden",
            FailureKind::NotFound => "not_found",
            FailureKind::TooManyRequests => "too_many_requests",
            FailureKind::ServerError => "server_error",
            FailureKind::Status => "status",
            FailureKind::TooLarge => "too_large",
            FailureKind::Parse => "parse",
            FailureKind::Io => "io",
            FailureKind::TooManyOpenFiles => "too_many_open_files",
            FailureKind::Missing => "missing",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
