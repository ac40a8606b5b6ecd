//! `doctor`'s judgement: the troubleshooting list as ordered checks, each PASS, WARN or FAIL
//! with its evidence and the exact fix. This module owns the check model ([`Status`], [`Check`],
//! [`Diagnosis`]) and the facts the checks judge ([`Problem`], [`Credentials`], [`NodesFound`],
//! [`TlsSetting`]); the verdicts live in `api` (credentials, API server, RBAC, nodes), `node`
//! (per-node proxy and direct probes) and `token` (the service-account JWT). Rendering the
//! checks as a table or JSON is [`crate::report::doctor`]'s job.
//!
//! Pure: every function here takes facts that `cluster::checks` gathered (an answer, a typed
//! problem, a decoded token) and returns a [`Check`]. Nothing here touches the network, the
//! clock or the environment; the time comes in as an argument.
//!
//! The checks, in order: credentials found (kubeconfig/context or in-cluster); API server
//! reachable (`/version`); credentials accepted; `can-i` for every permission in
//! [`crate::rbac::checked`] (SelfSubjectAccessReview); nodes found; per node: `/healthz` through the
//! proxy, TCP connect to the kubelet, TLS verification, direct `/healthz` and `/metrics`; and,
//! when a token file is in play (in a pod, or `--token-file`), the token's presence, expiry and
//! audience, read from the JWT without verifying it.
//!
//! A check that only the other access method needs never FAILs: its failure is a WARN that says
//! which method needs it. What each method needs comes from [`crate::rbac::required`], the same list
//! `kubelet-metrics rbac` grants, and an RBAC FAIL prints the `kubelet-metrics rbac ...`
//! invocation and the equivalent `kubectl create` lines that fix it.
//!
//! Exit status of `doctor`: 0 when no check FAILs (WARNs allowed); 1 when at least one FAILs;
//! 2 when doctor could not run at all (bad flags, output not writable).

mod api;
mod identity;
mod node;
mod token;

pub use api::{
    apiserver, authentication, can_i, can_run_pods, credentials, credentials_not_needed, nodes, rbac_fix,
};
pub use identity::{Identity, IdentityHints, IdentitySource, denied_user, identify, kubeconfig_guess};
pub use node::{
    direct_healthz, direct_metrics, kubelet_client, kubelet_credentials_withheld, proxy_healthz, tcp_connect,
    tls,
};
pub use token::{TokenClaims, TokenError, token, token_claims};

use crate::access::Method;
use crate::cluster::checks::{TlsFailure, TlsIssue};
use crate::cluster::{DeniedBy, FetchError, RequestContext, TlsProblem};
use crate::remedy;
use crate::scrape::FailureKind;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Pass,
    /// Works, or is not needed, but deserves attention.
    Warn,
    /// Broken: the selected method cannot work until the fix is applied.
    Fail,
}

impl Status {
    /// `PASS`, `WARN` or `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// Stable identifier for scripts: `credentials`, `apiserver`, `authentication`, `can-i`,
    /// `nodes`, `proxy-healthz`, `tcp`, `tls`, `direct-healthz`, `direct-metrics`, `token`.
    pub check: &'static str,
    /// What was checked, as a person reads it, e.g. `can-i get nodes/proxy`.
    pub title: String,
    /// The node the check is about, for per-node checks.
    pub node: Option<String>,
    /// PASS, WARN or FAIL.
    pub status: Status,
    /// What was seen: the answer, the error, the denial.
    pub evidence: String,
    /// The exact fix, one command or sentence per line; empty when nothing needs fixing.
    pub fix: Vec<String>,
}

impl Check {
    fn new(
        check: &'static str,
        title: impl Into<String>,
        status: Status,
        evidence: impl Into<String>,
    ) -> Check {
        Check { check, title: title.into(), node: None, status, evidence: evidence.into(), fix: Vec::new() }
    }

    fn on(mut self, node: &str) -> Check {
        self.node = Some(node.to_string());
        self
    }

    fn fix(mut self, lines: Vec<String>) -> Check {
        self.fix = lines;
        self
    }

    /// A FAIL becomes a WARN when only `needed_by` needs this check and another method is in use.
    fn for_method(mut self, needed_by: Method, selected: Method) -> Check {
        if needed_by != selected && self.status == Status::Fail {
            self.status = Status::Warn;
            self.evidence.push_str(&format!(" (only --method {} needs this)", needed_by.as_str()));
        }
        self
    }
}

/// Every check of one `doctor` run, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnosis {
    /// The method the run was asked about (`--method`).
    pub method: Method,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
}

impl Diagnosis {
    /// How many checks came out with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// True when any check FAILs (exit status 1).
    pub fn has_failures(&self) -> bool {
        self.count(Status::Fail) > 0
    }
}

/// Why a probe got no usable answer: the class, the message, and for 403s who was denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The failure class (`refused`, `tls`, `forbidden`, ...).
    pub kind: FailureKind,
    /// What happened, without secrets.
    pub message: String,
    /// For a 403: the user the server saw (e.g. `system:anonymous`), when the message says.
    pub denied_user: Option<String>,
    /// For a 403: which server's message named `denied_user`.
    pub denied_by: Option<DeniedBy>,
    /// For a TLS failure: what was wrong with the certificate.
    pub tls: Option<TlsIssue>,
    /// A generic fix from the fetch layer, used when doctor knows nothing more exact.
    pub fix: Option<String>,
}

impl Problem {
    /// A problem with only a class and a message.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Problem {
        Problem { kind, message: message.into(), denied_user: None, denied_by: None, tls: None, fix: None }
    }

    /// A probe's failure as doctor judges it: class, message, the denied user of a 403, the TLS
    /// problem, and the generic fix ([`remedy::fix`]) when `ctx` says where the request went.
    pub fn from_fetch(err: &FetchError, ctx: Option<&RequestContext<'_>>) -> Problem {
        let (denied_user, denied_by) = match err {
            FetchError::Forbidden { denial: Some(denial), .. } => {
                (Some(denial.user.clone()), Some(denial.by))
            }
            _ => (None, None),
        };
        let tls = match err {
            FetchError::Tls { problem, host } => Some(match problem {
                TlsProblem::UnknownAuthority => TlsIssue::UnknownAuthority,
                TlsProblem::NameMismatch => {
                    TlsIssue::NameMismatch { expected: host.clone(), presented: Vec::new() }
                }
                TlsProblem::Expired => TlsIssue::Expired,
                TlsProblem::UnsupportedVersion => TlsIssue::UnsupportedVersion,
                TlsProblem::Other(text) => TlsIssue::Other(text.clone()),
            }),
            _ => None,
        };
        Problem {
            kind: err.kind(),
            message: err.to_string(),
            denied_user,
            denied_by,
            tls,
            fix: ctx.and_then(|c| remedy::fix(err, c)),
        }
    }

    /// A failed TLS probe as doctor judges it.
    pub fn from_tls(failure: &TlsFailure) -> Problem {
        match failure {
            TlsFailure::Certificate { issue, message } => {
                Problem { tls: Some(issue.clone()), ..Problem::new(FailureKind::Tls, message.clone()) }
            }
            TlsFailure::Fetch(err) => Problem::from_fetch(err, None),
        }
    }
}

/// Where the credentials came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// e.g. `kubeconfig /home/me/.kube/config, context "prod"` or `in-cluster service account`.
    pub source: String,
    /// The API server URL.
    pub server: String,
    /// True in a pod (in-cluster configuration).
    pub in_cluster: bool,
}

/// Why no credentials could be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsProblem {
    /// No configuration could be loaded: the error and its causes.
    Unusable(String),
    /// The kubeconfig user's client certificate is not X.509 v3, which TLS libraries refuse.
    CertificateVersion {
        /// Where the certificate is (file, kubeconfig, user entry).
        location: String,
        /// Its X.509 version, 1-based.
        version: u32,
    },
}

/// The nodes found for checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodesFound {
    /// How many nodes matched.
    pub total: usize,
    /// The ones checked (all of them, or a sample in big clusters).
    pub checked: Vec<String>,
    /// Named nodes that could not be looked up, with why.
    pub unresolved: Vec<(String, Problem)>,
}
/// How kubelet certificates are verified, for evidence and fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSetting {
    /// `--kubelet-ca`, or `None` for the kubeconfig's (API server's) CA.
    pub ca: Option<String>,
    /// `--kubelet-tls-server-name`.
    pub server_name: Option<String>,
    /// `--insecure-skip-tls-verify-kubelet`.
    pub insecure: bool,
}

/// At most `n` of `items`, spread evenly (first, then every len/n-th), so a big cluster's sample
/// is not just its first nodes by name.
pub fn sample_evenly<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_clusters_are_sampled_evenly() {
        let nodes: Vec<u32> = (0..10).collect();
        assert_eq!(sample_evenly(&nodes, 4), [0, 2, 5, 7]);
        assert_eq!(sample_evenly(&nodes, 20), nodes);
    }

    #[test]
    fn forbidden_fetch_errors_carry_the_denied_user() {
        let err = FetchError::from_status(
            403,
            b"Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=metrics)",
            None,
        );
        let p = Problem::from_fetch(&err, None);
        assert_eq!((p.kind, p.denied_user.as_deref()), (FailureKind::Forbidden, Some("system:anonymous")));
    }
}
