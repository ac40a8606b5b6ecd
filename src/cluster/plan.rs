//! A validated plan for reading a cluster: which nodes, how kubelets are reached and verified,
//! and how collection is bounded. The command line builds it once (`cli`); `cluster` and
//! `collect` only read it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::access::{AddressType, Method};
pub use crate::cluster::throttle::Rate;

/// Which nodes a cluster run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSelection {
    /// List nodes, optionally filtered by a label selector.
    All {
        /// The label selector, if any.
        selector: Option<String>,
    },
    /// These node names only (each still looked up, for its address and version).
    Names(Vec<String>),
    /// Kubelet addresses without listing nodes (direct method only).
    Addresses(Vec<(IpAddr, Option<u16>)>),
    /// The one node this process runs on (`serve --node-local`, direct method only): named by
    /// the downward API, at its host IP when known, else at the address of its node object,
    /// read with one `get`. Nodes are never listed.
    Local {
        /// The node's name (`spec.nodeName`).
        name: String,
        /// The node's address (`status.hostIP`), when known.
        address: Option<IpAddr>,
    },
}

/// Direct-method TLS verification of kubelet serving certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeletTls {
    /// Verify against the kubeconfig's / in-cluster CA (rarely right: kubelets usually have
    /// their own CA).
    Verify {
        /// Extra CA bundle (`--kubelet-ca`).
        ca: Option<PathBuf>,
        /// Name to check the certificate against (`--kubelet-tls-server-name`).
        server_name: Option<String>,
    },
    /// `--insecure-skip-tls-verify-kubelet`.
    Insecure,
}

/// Which credentials the direct method sends to kubelets. Kubelets receive only credentials
/// meant for them unless the user says otherwise: a compromised node must not collect the
/// kubeconfig user's (often cluster-admin) credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KubeletAuth {
    /// `--token-file`, else the pod's service-account token (in a pod); nothing else.
    #[default]
    Token,
    /// The kubeconfig user's own credentials as well (`--kubelet-auth kubeconfig`), with a
    /// warning naming the identity.
    Kubeconfig,
    /// No credentials at all: anonymous requests.
    None,
}

impl KubeletAuth {
    /// Every value, in the order help lists them.
    pub const ALL: [KubeletAuth; 3] = [KubeletAuth::Token, KubeletAuth::Kubeconfig, KubeletAuth::None];

    /// `token`, `kubeconfig` or `none`, as the command line spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            KubeletAuth::Token => "token",
            KubeletAuth::Kubeconfig => "kubeconfig",
            KubeletAuth::None => "none",
        }
    }
}

/// A validated plan for reading a cluster.
#[derive(Debug, Clone)]
pub struct ClusterPlan {
    /// `--kubeconfig`, else the environment's default.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
    /// Proxy or direct.
    pub method: Method,
    /// Which nodes.
    pub nodes: NodeSelection,
    /// `--token-file` (direct method).
    pub token_file: Option<PathBuf>,
    /// Kubelet TLS (direct method).
    pub kubelet_tls: KubeletTls,
    /// Which credentials kubelets receive (direct method, and doctor's direct checks).
    pub kubelet_auth: KubeletAuth,
    /// `--allow-credentials-to-unverified-kubelets`: send credentials even when
    /// `--insecure-skip-tls-verify-kubelet` leaves the kubelet unverified.
    pub credentials_to_unverified: bool,
    /// Address preference (direct method).
    pub address_types: Vec<AddressType>,
    /// `--kubelet-port` override.
    pub kubelet_port: Option<u16>,
    /// Concurrency, timeout, retries, body limit.
    pub limits: Limits,
    /// Impersonation and timeouts of requests to the API server (`--as`, `--as-group`,
    /// `--request-timeout`).
    pub api: ApiRequests,
}

/// How requests to the API server are made, as kubectl's flags of the same names say. They
/// never reach kubelets: the direct method's requests go out under the kubelet credentials only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiRequests {
    /// `--as`: the user to impersonate.
    pub impersonate_user: Option<String>,
    /// `--as-group`: the groups to impersonate (with `--as`).
    pub impersonate_groups: Vec<String>,
    /// `--request-timeout`: the longest wait to connect to the API server, or for it to accept
    /// or send the next part of a request; `None` keeps the client's defaults, `Some(ZERO)`
    /// waits without limit.
    pub request_timeout: Option<Duration>,
}

/// How collection is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nodes fetched at once.
    pub concurrency: usize,
    /// Deadline per node (all attempts included).
    pub per_node: Duration,
    /// Retries on transient failures.
    pub retries: u32,
    /// Largest accepted body in bytes.
    pub max_body: u64,
    /// Requests per second across the whole fan-out (`--qps`, `--burst`); `None`: no limit.
    pub rate: Option<Rate>,
}

/// Default concurrency through the API server proxy (every request loads the API server).
pub const PROXY_CONCURRENCY: usize = 8;
/// Default concurrency when talking to kubelets directly.
pub const DIRECT_CONCURRENCY: usize = 64;
/// Default rate through the API server proxy, which does not limit proxied requests itself
/// (they are long-running, exempt from its priority and fairness): 100 per second, 20 at once.
pub const PROXY_RATE: Rate = Rate { qps: 100, burst: 20 };

/// Parses `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`.
pub fn parse_node_ip(raw: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    if let Ok(socket) = raw.parse::<std::net::SocketAddr>() {
        return Ok((socket.ip(), Some(socket.port())));
    }
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse::<IpAddr>().map(|ip| (ip, None)).map_err(|e| e.to_string());
    }
    Err("expected an IP address, IP:PORT or [IPv6]:PORT".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ip_accepts_ipv4_ipv6_and_ports() {
        assert_eq!(parse_node_ip("10.0.0.7"), Ok(("10.0.0.7".parse().expect("ip"), None)));
        assert_eq!(parse_node_ip("10.0.0.7:10250"), Ok(("10.0.0.7".parse().expect("ip"), Some(10250))));
        assert_eq!(parse_node_ip("[fd00::7]:1"), Ok(("fd00::7".parse().expect("ip"), Some(1))));
        assert_eq!(parse_node_ip("[fd00::7]"), Ok(("fd00::7".parse().expect("ip"), None)));
        assert!(parse_node_ip("node-a").is_err());
    }
}
