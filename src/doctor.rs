//! `doctor`'s judgement: the seed's troubleshooting list as ordered checks, each PASS, WARN or
//! FAIL with its evidence and the exact fix, rendered as a table or JSON.
//!
//! Pure: every function here takes facts that `cluster::checks` gathered (an answer, a typed
//! problem, a decoded token) and returns a [`Check`]. Nothing here touches the network, the
//! clock or the environment; the time comes in as an argument.
//!
//! The checks, in order: credentials found (kubeconfig/context or in-cluster); API server
//! reachable (`/version`); credentials accepted; `can-i` for every permission in
//! [`rbac::checked`] (SelfSubjectAccessReview); nodes found; per node: `/healthz` through the
//! proxy, TCP connect to the kubelet, TLS verification, direct `/healthz` and `/metrics`; and,
//! when a token file is in play (in a pod, or `--token-file`), the token's presence, expiry and
//! audience, read from the JWT without verifying it.
//!
//! A check that only the other access method needs never FAILs: its failure is a WARN that says
//! which method needs it. What each method needs comes from [`rbac::required`], the same list
//! `kubelet-metrics rbac` grants, and an RBAC FAIL prints the `kubelet-metrics rbac ...`
//! invocation and the equivalent `kubectl create` lines that fix it.
//!
//! Exit status of `doctor`: 0 when no check FAILs (WARNs allowed); 1 when at least one FAILs;
//! 2 when doctor could not run at all (bad flags, output not writable).

use std::io::{self, Write};
use std::time::{Duration, SystemTime};

use crate::access::Method;
use crate::cluster::checks::{Access, Answer, TlsFailure, TlsIssue};
use crate::cluster::{FetchError, RequestContext, TlsProblem};
use crate::rbac::{self, Permission, Subject};
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
    /// For a TLS failure: what was wrong with the certificate.
    pub tls: Option<TlsIssue>,
    /// A generic fix from the fetch layer, used when doctor knows nothing more exact.
    pub fix: Option<String>,
}

impl Problem {
    /// A problem with only a class and a message.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Problem {
        Problem { kind, message: message.into(), denied_user: None, tls: None, fix: None }
    }

    /// A probe's failure as doctor judges it: class, message, the denied user of a 403, the TLS
    /// problem, and the generic fix ([`remedy::fix`]) when `ctx` says where the request went.
    pub fn from_fetch(err: &FetchError, ctx: Option<&RequestContext<'_>>) -> Problem {
        let denied_user = match err {
            FetchError::Forbidden { denial: Some(denial), .. } => Some(denial.user.clone()),
            _ => None,
        };
        let tls = match err {
            FetchError::Tls { problem, host } => Some(match problem {
                TlsProblem::UnknownAuthority => TlsIssue::UnknownAuthority,
                TlsProblem::NameMismatch => {
                    TlsIssue::NameMismatch { expected: host.clone(), presented: Vec::new() }
                }
                TlsProblem::Expired => TlsIssue::Expired,
                TlsProblem::Other(text) => TlsIssue::Other(text.clone()),
            }),
            _ => None,
        };
        Problem {
            kind: err.kind(),
            message: err.to_string(),
            denied_user,
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

/// Check 1: credentials found.
pub fn credentials(found: &Result<Credentials, String>) -> Check {
    match found {
        Ok(c) => {
            Check::new("credentials", "credentials", Status::Pass, format!("{} → {}", c.source, c.server))
        }
        Err(reason) => Check::new("credentials", "credentials", Status::Fail, reason.clone()).fix(vec![
            "pass --kubeconfig PATH and --context NAME (kubectl config get-contexts lists them)".into(),
            "in a pod: set automountServiceAccountToken: true so the service-account token is mounted".into(),
        ]),
    }
}

/// Check 1 when no configuration was found but none is needed (`--node-ip` with `--token-file`):
/// the API server's checks are skipped.
pub fn credentials_not_needed(reason: &str) -> Check {
    Check::new(
        "credentials",
        "credentials",
        Status::Warn,
        format!("{reason}; --node-ip with --token-file needs no API server, so its checks are skipped"),
    )
}

/// Check 2: the API server answers `/version`.
pub fn apiserver(server: &str, version: &Result<String, Problem>) -> Check {
    let title = "api server /version";
    match version {
        Ok(v) => Check::new("apiserver", title, Status::Pass, format!("{server} answered: {v}")),
        Err(p) => {
            let fix = match p.kind {
                FailureKind::Tls => {
                    "the kubeconfig's certificate-authority does not match the API server: check \
                                     `kubectl config view --minify` for this context"
                        .to_string()
                }
                FailureKind::Refused | FailureKind::Dns | FailureKind::Timeout | FailureKind::Io => {
                    format!("check the server URL {server} and the network path to it (VPN, firewall)")
                }
                _ => p.fix.clone().unwrap_or_else(|| format!("check the API server at {server}")),
            };
            Check::new("apiserver", title, Status::Fail, format!("{server}: {}", p.message)).fix(vec![fix])
        }
    }
}

/// Check 3: the API server accepts the credentials (an authenticated request succeeded).
/// `user` is the authenticated user name when the server or the token reveals it.
pub fn authentication(result: &Result<Option<String>, Problem>) -> Check {
    let title = "credentials accepted";
    match result {
        Ok(Some(user)) => {
            Check::new("authentication", title, Status::Pass, format!("authenticated as {user:?}"))
        }
        Ok(None) => {
            Check::new("authentication", title, Status::Pass, "the API server accepted the credentials")
        }
        Err(p) if p.kind == FailureKind::Unauthorized => {
            Check::new("authentication", title, Status::Fail, format!("401 Unauthorized: {}", p.message)).fix(
                vec![
                "the token or certificate is expired or unknown: log in again (refresh the exec plugin or \
                 token), or choose another --context"
                    .into(),
            ],
            )
        }
        Err(p) => Check::new("authentication", title, Status::Fail, p.message.clone())
            .fix(p.fix.iter().cloned().collect()),
    }
}

/// The fix lines for a missing permission of `method`: the `kubelet-metrics rbac` invocation and
/// the equivalent `kubectl create` lines, for `user` when known (else a `USER` placeholder).
pub fn rbac_fix(method: Method, user: Option<&str>) -> Vec<String> {
    let subject = user.map(Subject::from_username).unwrap_or_else(|| Subject::User("USER".into()));
    let mut lines = vec![rbac::rbac_command(method, &subject)];
    for (i, line) in rbac::kubectl_commands(method, &subject).into_iter().enumerate() {
        lines.push(if i == 0 { format!("or: {line}") } else { format!("    {line}") });
    }
    lines
}

/// Check 4: may the caller `permission`? `named_nodes` is true when nodes were named (then
/// `get nodes` is needed); `user` names the caller in the fix.
pub fn can_i(
    permission: &Permission,
    method: Method,
    named_nodes: bool,
    user: Option<&str>,
    access: &Result<Access, Problem>,
) -> Check {
    let title = format!("can-i {permission}");
    let required = rbac::required(method).contains(permission);
    let over_privilege = rbac::denied(method).contains(permission);
    let reason = |a: &Access| if a.reason.is_empty() { String::new() } else { format!(": {}", a.reason) };
    match access {
        Err(p) => {
            Check::new("can-i", title, if required { Status::Fail } else { Status::Warn }, p.message.clone())
                .fix(p.fix.iter().cloned().collect())
        }
        Ok(a) if a.allowed && over_privilege => Check::new(
            "can-i",
            title,
            Status::Warn,
            format!(
                "allowed{}, but --method {} does not need it{}",
                reason(a),
                method.as_str(),
                if *permission == rbac::GET_NODES_PROXY {
                    ", and it opens every kubelet API (exec, attach, port-forward) to this identity"
                } else {
                    ""
                }
            ),
        ),
        Ok(a) if a.allowed => Check::new("can-i", title, Status::Pass, format!("allowed{}", reason(a))),
        Ok(_) if !required => Check::new(
            "can-i",
            title,
            Status::Pass,
            format!("denied, and --method {} does not need it", method.as_str()),
        ),
        Ok(_) if rbac::only_for_named_nodes(permission) && !named_nodes => Check::new(
            "can-i",
            title,
            Status::Warn,
            "denied: listing nodes works, but naming nodes on the command line will fail",
        )
        .fix(rbac_fix(method, user)),
        Ok(_) => Check::new(
            "can-i",
            title,
            Status::Fail,
            format!(
                "denied{}: --method {} needs it",
                user.map(|u| format!(" for {u:?}")).unwrap_or_default(),
                method.as_str()
            ),
        )
        .fix(rbac_fix(method, user)),
    }
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

/// Check 5: nodes found.
pub fn nodes(method: Method, user: Option<&str>, found: &Result<NodesFound, Problem>) -> Check {
    let title = "nodes";
    match found {
        Err(p) => {
            let fix = if p.kind == FailureKind::Forbidden {
                rbac_fix(method, user)
            } else {
                p.fix.iter().cloned().collect()
            };
            Check::new("nodes", title, Status::Fail, format!("cannot list nodes: {}", p.message)).fix(fix)
        }
        Ok(f) if f.total == 0 && f.unresolved.is_empty() => {
            Check::new("nodes", title, Status::Fail, "no node matched")
                .fix(vec!["check the label selector (-l) or the node names (kubectl get nodes)".into()])
        }
        Ok(f) => {
            let mut evidence = if f.checked.is_empty() {
                "no node found".to_string()
            } else if f.checked.len() < f.total {
                format!(
                    "{} nodes; checking a sample of {}: {}",
                    f.total,
                    f.checked.len(),
                    f.checked.join(", ")
                )
            } else {
                format!("{} node{}: {}", f.total, if f.total == 1 { "" } else { "s" }, f.checked.join(", "))
            };
            if f.unresolved.is_empty() {
                return Check::new("nodes", title, Status::Pass, evidence);
            }
            let missing: Vec<String> =
                f.unresolved.iter().map(|(n, p)| format!("{n} ({})", p.message)).collect();
            evidence.push_str(&format!("; not found: {}", missing.join(", ")));
            let forbidden = f.unresolved.iter().any(|(_, p)| p.kind == FailureKind::Forbidden);
            let fix = if forbidden {
                rbac_fix(method, user)
            } else {
                vec!["check the node names: kubectl get nodes".into()]
            };
            Check::new("nodes", title, Status::Fail, evidence).fix(fix)
        }
    }
}

fn answer_text(a: &Answer) -> String {
    let snippet = if a.snippet.is_empty() { String::new() } else { format!(" {:?}", a.snippet) };
    format!("HTTP {}{snippet}, {} bytes in {} ms", a.status, a.bytes, a.elapsed.as_millis())
}

/// Check 6: the kubelet's `/healthz` through the API server proxy.
pub fn proxy_healthz(
    node: &str,
    method: Method,
    user: Option<&str>,
    result: &Result<Answer, Problem>,
) -> Check {
    let title = "proxy /healthz";
    let check = match result {
        Ok(a) => Check::new("proxy-healthz", title, Status::Pass, answer_text(a)),
        Err(p) if p.kind == FailureKind::Forbidden => {
            Check::new("proxy-healthz", title, Status::Fail, p.message.clone()).fix(rbac_fix(Method::Proxy, user))
        }
        Err(p) if p.kind == FailureKind::ServerError && p.message.contains("x509") => {
            Check::new("proxy-healthz", title, Status::Fail, p.message.clone()).fix(vec![format!(
                "the API server does not trust the kubelet's serving certificate on {node}: it must be signed by the CA \
                 the API server is given with --kubelet-certificate-authority, and be valid for the node's address"
            )])
        }
        Err(p) if p.kind == FailureKind::ServerError => {
            Check::new("proxy-healthz", title, Status::Fail, p.message.clone()).fix(vec![
                format!("the API server cannot reach the kubelet of {node}: check the node is Ready (kubectl get node {node}), the kubelet runs on it (systemctl status kubelet) and its port is open to the control plane"),
            ])
        }
        Err(p) => Check::new("proxy-healthz", title, Status::Fail, p.message.clone()).fix(p.fix.iter().cloned().collect()),
    };
    check.on(node).for_method(Method::Proxy, method)
}

/// Check 7: a TCP connection to the kubelet's address and port.
pub fn tcp_connect(
    node: &str,
    method: Method,
    authority: Option<&str>,
    result: &Result<Duration, Problem>,
) -> Check {
    let title = "tcp connect";
    let Some(authority) = authority else {
        return Check::new(
            "tcp",
            title,
            Status::Fail,
            "the node reports no address of the --address-type types",
        )
        .fix(vec!["choose other types with --address-type, or give the address with --node-ip".into()])
        .on(node)
        .for_method(Method::Direct, method);
    };
    let check = match result {
        Ok(elapsed) => Check::new("tcp", title, Status::Pass, format!("{authority} accepted in {} ms", elapsed.as_millis())),
        Err(p) if p.kind == FailureKind::Refused => Check::new(
            "tcp",
            title,
            Status::Fail,
            format!("{authority}: connection refused"),
        )
        .fix(vec![format!(
            "nothing listens on {authority}: check the kubelet runs on {node} (kubectl get --raw /api/v1/nodes/{node}/proxy/healthz) and the port (--kubelet-port) and address (--address-type) are right"
        )]),
        Err(p) => Check::new("tcp", title, Status::Fail, format!("{authority}: {}", p.message)).fix(vec![format!(
            "check that this machine can reach {authority} (firewall, security groups, NetworkPolicy); from outside the cluster use --method proxy"
        )]),
    };
    check.on(node).for_method(Method::Direct, method)
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

/// Check 8: the kubelet's serving certificate verifies (always probed with verification on, so
/// the check tells whether `--insecure-skip-tls-verify-kubelet` could be dropped).
pub fn tls(node: &str, method: Method, setting: &TlsSetting, result: &Result<(), Problem>) -> Check {
    let title = "tls verify";
    let ca = match &setting.ca {
        Some(path) => format!("--kubelet-ca {path}"),
        None => "the kubeconfig's CA, as no --kubelet-ca was given".to_string(),
    };
    let check = match result {
        Ok(()) if setting.insecure => Check::new(
            "tls",
            title,
            Status::Warn,
            format!("the certificate verifies against {ca}, yet --insecure-skip-tls-verify-kubelet turns verification off"),
        )
        .fix(vec!["drop --insecure-skip-tls-verify-kubelet".into()]),
        Ok(()) => Check::new("tls", title, Status::Pass, format!("verified against {ca}")),
        Err(p) => {
            let (evidence, fix) = match &p.tls {
                Some(TlsIssue::UnknownAuthority) => (
                    format!("certificate signed by an unknown authority (checked against {ca})"),
                    vec![
                        "pass the CA that signed the kubelet serving certificates: --kubelet-ca PATH (kubeadm: \
                         kubelets self-sign unless serverTLSBootstrap is on; their CA is on each node)"
                            .to_string(),
                        "or, knowing the risk, --insecure-skip-tls-verify-kubelet".to_string(),
                    ],
                ),
                Some(TlsIssue::NameMismatch { expected, presented }) => {
                    let names = if presented.is_empty() { "other names".to_string() } else { presented.join(", ") };
                    let fix = match presented.first() {
                        Some(name) => format!("--kubelet-tls-server-name {name} (the name the certificate was issued for)"),
                        None => "--kubelet-tls-server-name NAME (the name the certificate was issued for)".to_string(),
                    };
                    (format!("the certificate is for {names}, not {expected}"), vec![fix])
                }
                Some(TlsIssue::Expired) => (
                    "the certificate is expired or not yet valid".to_string(),
                    vec!["renew the kubelet serving certificate (check the node's clock too)".to_string()],
                ),
                Some(TlsIssue::Other(text)) => (text.clone(), p.fix.iter().cloned().collect()),
                None => (p.message.clone(), p.fix.iter().cloned().collect()),
            };
            let status = if setting.insecure { Status::Warn } else { Status::Fail };
            let evidence = if setting.insecure {
                format!("{evidence} (ignored: --insecure-skip-tls-verify-kubelet)")
            } else {
                evidence
            };
            Check::new("tls", title, status, evidence).fix(fix)
        }
    };
    check.on(node).for_method(Method::Direct, method)
}

fn unauthorized_fix(token_sent: bool) -> Vec<String> {
    if token_sent {
        vec![
            "the kubelet rejected the token: pass a current one with --token-file (kubectl create token NAME -n NAMESPACE)".into(),
            "if fresh tokens are rejected too, the kubelet's webhook authentication is off: set authentication.webhook.enabled: true in its KubeletConfiguration (--authentication-token-webhook)".into(),
        ]
    } else {
        vec!["no credentials reached the kubelet: pass --token-file, or use a kubeconfig user with a bearer token".into()]
    }
}

/// Check 9: direct `/healthz`. The kubelet authorizes it as `nodes/healthz` (newer kubelets,
/// fine-grained authorization) or `nodes/proxy`; kubelet-metrics needs neither, so a 403 is a WARN.
pub fn direct_healthz(
    node: &str,
    method: Method,
    token_sent: bool,
    result: &Result<Answer, Problem>,
) -> Check {
    let title = "direct /healthz";
    let check = match result {
        Ok(a) => Check::new("direct-healthz", title, Status::Pass, answer_text(a)),
        Err(p)
            if p.kind == FailureKind::Forbidden && p.denied_user.as_deref() == Some("system:anonymous") =>
        {
            Check::new(
                "direct-healthz",
                title,
                Status::Fail,
                format!("{} (the token was not sent)", p.message),
            )
            .fix(unauthorized_fix(false))
        }
        Err(p) if p.kind == FailureKind::Forbidden => Check::new(
            "direct-healthz",
            title,
            Status::Warn,
            format!(
                "{}: the kubelet authorizes /healthz as nodes/healthz or nodes/proxy, which kubelet-metrics does not need",
                p.message
            ),
        ),
        Err(p) if p.kind == FailureKind::Unauthorized => {
            Check::new("direct-healthz", title, Status::Fail, p.message.clone())
                .fix(unauthorized_fix(token_sent))
        }
        Err(p) => Check::new("direct-healthz", title, Status::Fail, p.message.clone())
            .fix(p.fix.iter().cloned().collect()),
    };
    check.on(node).for_method(Method::Direct, method)
}

/// Check 10: direct `/metrics` — the seed's "direct access returns empty results".
pub fn direct_metrics(
    node: &str,
    method: Method,
    token_sent: bool,
    user: Option<&str>,
    result: &Result<Answer, Problem>,
) -> Check {
    let title = "direct /metrics";
    let check = match result {
        Ok(a) if a.bytes == 0 => Check::new("direct-metrics", title, Status::Fail, "HTTP 200 with an empty body")
            .fix(vec!["check the kubelet's /metrics on the node itself (curl -sk https://localhost:10250/metrics with a token)".into()]),
        Ok(a) => Check::new("direct-metrics", title, Status::Pass, format!("HTTP {}, {} bytes in {} ms", a.status, a.bytes, a.elapsed.as_millis())),
        Err(p) if p.kind == FailureKind::Forbidden && p.denied_user.as_deref() == Some("system:anonymous") => {
            Check::new("direct-metrics", title, Status::Fail, format!("{} (user=system:anonymous: the token was not sent)", p.message))
                .fix(unauthorized_fix(false))
        }
        Err(p) if p.kind == FailureKind::Forbidden => {
            let who = p.denied_user.as_deref().or(user);
            Check::new("direct-metrics", title, Status::Fail, p.message.clone()).fix(rbac_fix(Method::Direct, who))
        }
        Err(p) if p.kind == FailureKind::Unauthorized => {
            Check::new("direct-metrics", title, Status::Fail, format!("{} (bad token, or webhook authentication off)", p.message))
                .fix(unauthorized_fix(token_sent))
        }
        Err(p) => Check::new("direct-metrics", title, Status::Fail, p.message.clone()).fix(p.fix.iter().cloned().collect()),
    };
    check.on(node).for_method(Method::Direct, method)
}

/// The claims of a service-account JWT that matter here, read without verifying the signature.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenClaims {
    /// `sub`, e.g. `system:serviceaccount:monitoring:kubelet-metrics`.
    pub subject: Option<String>,
    /// `aud`: one string or several.
    pub audiences: Vec<String>,
    /// `exp`, seconds since the Unix epoch.
    pub expires: Option<u64>,
    /// `iss`.
    pub issuer: Option<String>,
}

/// Why a token's claims could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three dot-separated parts: an opaque token, not a JWT.
    #[error("not a JWT (an opaque token): its expiry and audience cannot be read")]
    NotJwt,
    /// The payload is not base64url JSON.
    #[error("the JWT payload is not valid: {0}")]
    Payload(String),
}

/// Decodes a JWT's payload claims without verifying it (the API server verifies; we only read).
pub fn token_claims(token: &str) -> Result<TokenClaims, TokenError> {
    use base64::Engine;
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [_, payload, _] = parts.as_slice() else { return Err(TokenError::NotJwt) };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| TokenError::Payload(e.to_string()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| TokenError::Payload(e.to_string()))?;
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let audiences = match value.get("aud") {
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        Some(serde_json::Value::Array(many)) => {
            many.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
        _ => Vec::new(),
    };
    Ok(TokenClaims {
        subject: text("sub"),
        audiences,
        expires: value.get("exp").and_then(serde_json::Value::as_u64),
        issuer: text("iss"),
    })
}

fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Check 11: the token file's presence, expiry and audience. `read` is the file's text or why
/// it could not be read; `now` is the current time.
pub fn token(path: &str, read: &Result<String, String>, now: SystemTime) -> Check {
    let title = "service-account token";
    let fix_new = || {
        vec![format!(
            "mount or write a current token at {path}: kubectl create token NAME -n NAMESPACE > {path}"
        )]
    };
    let text = match read {
        Err(reason) => {
            return Check::new("token", title, Status::Fail, format!("{path}: {reason}")).fix(fix_new());
        }
        Ok(text) if text.trim().is_empty() => {
            return Check::new("token", title, Status::Fail, format!("{path} is empty")).fix(fix_new());
        }
        Ok(text) => text,
    };
    let claims = match token_claims(text) {
        Ok(claims) => claims,
        Err(TokenError::NotJwt) => {
            return Check::new("token", title, Status::Warn, format!("{path}: {}", TokenError::NotJwt));
        }
        Err(e) => return Check::new("token", title, Status::Fail, format!("{path}: {e}")).fix(fix_new()),
    };
    let now = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut evidence = format!("{path}: sub {}", claims.subject.as_deref().unwrap_or("(none)"));
    if claims.audiences.is_empty() {
        evidence.push_str(", no audience");
    } else {
        evidence.push_str(&format!(", aud {}", claims.audiences.join(",")));
    }
    match claims.expires {
        Some(exp) if exp <= now => {
            evidence.push_str(&format!(", expired {} ago", human_duration(now - exp)));
            Check::new("token", title, Status::Fail, evidence).fix(vec![
                format!("the token expired: projected tokens are refreshed by the kubelet, so re-read {path} (kubelet-metrics does on every request); outside a pod: kubectl create token NAME -n NAMESPACE > {path}"),
            ])
        }
        Some(exp) => {
            evidence.push_str(&format!(", expires in {}", human_duration(exp - now)));
            Check::new("token", title, Status::Pass, evidence)
        }
        None => {
            evidence.push_str(", never expires");
            Check::new("token", title, Status::Warn, evidence).fix(vec![
                "a token that never expires is a legacy Secret-based token: prefer a projected service-account token (the default since Kubernetes 1.24)".into(),
            ])
        }
    }
}

/// The direct method's kubelet client could not be built (unreadable `--kubelet-ca` or token file).
pub fn kubelet_client(method: Method, reason: &str) -> Check {
    Check::new("kubelet-client", "kubelet client", Status::Fail, reason.to_string())
        .fix(vec!["check the paths given to --kubelet-ca and --token-file".into()])
        .for_method(Method::Direct, method)
}

/// At most `n` of `items`, spread evenly (first, then every len/n-th), so a big cluster's sample
/// is not just its first nodes by name.
pub fn sample_evenly<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

/// Renders the checks as a table: status, check, evidence, and the fix lines under a FAIL or WARN,
/// then a summary line.
pub fn render_table(diagnosis: &Diagnosis, out: &mut impl Write) -> io::Result<()> {
    let label = |c: &Check| match &c.node {
        Some(node) => format!("{node}: {}", c.title),
        None => c.title.clone(),
    };
    let width = diagnosis.checks.iter().map(|c| label(c).chars().count()).max().unwrap_or(5).clamp(5, 48);
    writeln!(out, "{:<8}{:<width$}  EVIDENCE", "STATUS", "CHECK")?;
    for check in &diagnosis.checks {
        writeln!(out, "{:<8}{:<width$}  {}", check.status.as_str(), label(check), check.evidence)?;
        for (i, line) in check.fix.iter().enumerate() {
            let lead = if i == 0 { "fix: " } else { "     " };
            writeln!(out, "{:<8}{lead}{line}", "")?;
        }
    }
    writeln!(
        out,
        "\n{} PASS, {} WARN, {} FAIL (--method {})",
        diagnosis.count(Status::Pass),
        diagnosis.count(Status::Warn),
        diagnosis.count(Status::Fail),
        diagnosis.method.as_str()
    )
}

/// Renders the checks as one JSON document:
/// `{"method", "summary": {"pass", "warn", "fail"}, "checks": [{"check", "title", "node",
/// "status", "evidence", "fix": [...]}]}`.
pub fn render_json(diagnosis: &Diagnosis, out: &mut impl Write) -> io::Result<()> {
    let document = serde_json::json!({
        "method": diagnosis.method,
        "summary": {
            "pass": diagnosis.count(Status::Pass),
            "warn": diagnosis.count(Status::Warn),
            "fail": diagnosis.count(Status::Fail),
        },
        "checks": diagnosis.checks,
    });
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(message: &str, user: &str) -> Problem {
        Problem { denied_user: Some(user.into()), ..Problem::new(FailureKind::Forbidden, message) }
    }

    fn jwt(payload: &str) -> String {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.sig", engine.encode(r#"{"alg":"RS256"}"#), engine.encode(payload))
    }

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn missing_proxy_permission_fails_with_both_fixes() {
        let check = can_i(
            &rbac::GET_NODES_PROXY,
            Method::Proxy,
            false,
            Some("viewer"),
            &Ok(Access { allowed: false, reason: String::new() }),
        );
        assert_eq!(check.status, Status::Fail);
        assert_eq!(check.evidence, "denied for \"viewer\": --method proxy needs it");
        assert_eq!(
            check.fix,
            [
                "kubelet-metrics rbac --method proxy --user viewer | kubectl apply -f -",
                "or: kubectl create clusterrole kubelet-metrics-proxy --verb=get,list --resource=nodes,nodes/proxy",
                "    kubectl create clusterrolebinding kubelet-metrics-proxy-viewer --clusterrole=kubelet-metrics-proxy --user=viewer",
            ]
        );
    }

    #[test]
    fn permissions_of_the_other_method_never_fail() {
        let denied = Ok(Access { allowed: false, reason: String::new() });
        let check = can_i(&rbac::GET_NODES_METRICS, Method::Proxy, false, None, &denied);
        assert_eq!(
            (check.status, check.evidence.as_str()),
            (Status::Pass, "denied, and --method proxy does not need it")
        );
        let allowed =
            Ok(Access { allowed: true, reason: "RBAC: allowed by ClusterRoleBinding \"x\"".into() });
        let check = can_i(&rbac::GET_NODES_PROXY, Method::Direct, false, None, &allowed);
        assert_eq!(check.status, Status::Warn);
        assert_eq!(
            check.evidence,
            "allowed: RBAC: allowed by ClusterRoleBinding \"x\", but --method direct does not need it, and it opens \
             every kubelet API (exec, attach, port-forward) to this identity"
        );
    }

    #[test]
    fn get_nodes_is_needed_only_when_nodes_are_named() {
        let denied = Ok(Access { allowed: false, reason: String::new() });
        let sa = Some("system:serviceaccount:monitoring:kubelet-metrics");
        let listed = can_i(&rbac::GET_NODES, Method::Direct, false, sa, &denied);
        assert_eq!(listed.status, Status::Warn);
        assert_eq!(
            listed.fix[0],
            "kubelet-metrics rbac --method direct --service-account monitoring/kubelet-metrics | kubectl apply -f -"
        );
        let named = can_i(&rbac::GET_NODES, Method::Direct, true, sa, &denied);
        assert_eq!(named.status, Status::Fail);
    }

    #[test]
    fn refused_kubelet_fails_direct_and_warns_for_proxy() {
        let refused = Err(Problem::new(FailureKind::Refused, "connection refused by 127.0.0.1:1"));
        let check = tcp_connect("node-1", Method::Direct, Some("127.0.0.1:1"), &refused);
        assert_eq!(check.status, Status::Fail);
        assert_eq!(check.evidence, "127.0.0.1:1: connection refused");
        assert_eq!(
            check.fix,
            [
                "nothing listens on 127.0.0.1:1: check the kubelet runs on node-1 (kubectl get --raw /api/v1/nodes/node-1/proxy/healthz) and the port (--kubelet-port) and address (--address-type) are right"
            ]
        );
        let check = tcp_connect("node-1", Method::Proxy, Some("127.0.0.1:1"), &refused);
        assert_eq!(check.status, Status::Warn);
        assert_eq!(check.evidence, "127.0.0.1:1: connection refused (only --method direct needs this)");
    }

    #[test]
    fn name_mismatch_names_the_certificate_and_the_flag() {
        let problem = Problem {
            tls: Some(TlsIssue::NameMismatch {
                expected: "127.0.0.3".into(),
                presented: vec!["wrong.kubesim.invalid".into()],
            }),
            ..Problem::new(FailureKind::Tls, "TLS handshake failed")
        };
        let setting = TlsSetting { ca: Some("/k/ca.crt".into()), server_name: None, insecure: false };
        let check = tls("node-2", Method::Direct, &setting, &Err(problem));
        assert_eq!(check.status, Status::Fail);
        assert_eq!(check.evidence, "the certificate is for wrong.kubesim.invalid, not 127.0.0.3");
        assert_eq!(
            check.fix,
            ["--kubelet-tls-server-name wrong.kubesim.invalid (the name the certificate was issued for)"]
        );
    }

    #[test]
    fn insecure_runs_still_learn_whether_verification_would_work() {
        let setting = TlsSetting { ca: None, server_name: None, insecure: true };
        let check = tls("n", Method::Direct, &setting, &Ok(()));
        assert_eq!(check.status, Status::Warn);
        assert_eq!(check.fix, ["drop --insecure-skip-tls-verify-kubelet"]);
        let unknown =
            Problem { tls: Some(TlsIssue::UnknownAuthority), ..Problem::new(FailureKind::Tls, "x") };
        let check = tls("n", Method::Direct, &setting, &Err(unknown));
        assert_eq!(check.status, Status::Warn);
        assert_eq!(
            check.evidence,
            "certificate signed by an unknown authority (checked against the kubeconfig's CA, as no --kubelet-ca \
             was given) (ignored: --insecure-skip-tls-verify-kubelet)"
        );
    }

    #[test]
    fn kubelet_401_points_at_the_token_and_webhook_authentication() {
        let problem = Problem::new(FailureKind::Unauthorized, "unauthorized (HTTP 401): Unauthorized");
        let check = direct_metrics("node-0", Method::Direct, true, None, &Err(problem));
        assert_eq!(check.status, Status::Fail);
        assert_eq!(
            check.evidence,
            "unauthorized (HTTP 401): Unauthorized (bad token, or webhook authentication off)"
        );
        assert!(check.fix[1].contains("authentication.webhook.enabled: true"));
    }

    #[test]
    fn anonymous_denial_says_the_token_was_not_sent() {
        let problem = forbidden(
            "Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=metrics)",
            "system:anonymous",
        );
        let check = direct_metrics("node-0", Method::Direct, false, None, &Err(problem));
        assert!(check.evidence.ends_with("(user=system:anonymous: the token was not sent)"));
        assert_eq!(
            check.fix,
            [
                "no credentials reached the kubelet: pass --token-file, or use a kubeconfig user with a bearer token"
            ]
        );
    }

    #[test]
    fn kubelet_403_fixes_rbac_for_the_denied_user() {
        let problem =
            forbidden("Forbidden (user=viewer, verb=get, resource=nodes, subresource=metrics)", "viewer");
        let check = direct_metrics("node-0", Method::Direct, true, None, &Err(problem));
        assert_eq!(check.fix[0], "kubelet-metrics rbac --method direct --user viewer | kubectl apply -f -");
        let healthz = direct_healthz(
            "node-0",
            Method::Direct,
            true,
            &Err(forbidden("Forbidden (user=viewer, verb=get, resource=nodes, subresource=proxy)", "viewer")),
        );
        assert_eq!(healthz.status, Status::Warn);
    }

    #[test]
    fn big_clusters_are_sampled_evenly() {
        let nodes: Vec<u32> = (0..10).collect();
        assert_eq!(sample_evenly(&nodes, 4), [0, 2, 5, 7]);
        assert_eq!(sample_evenly(&nodes, 20), nodes);
    }

    #[test]
    fn token_claims_are_read_without_verifying() {
        let raw = jwt(
            r#"{"aud":["https://kubernetes.default.svc"],"exp":1800003600,"iss":"https://kubernetes.default.svc","sub":"system:serviceaccount:monitoring:kubelet-metrics"}"#,
        );
        let claims = token_claims(&raw).expect("a JWT");
        assert_eq!(claims.subject.as_deref(), Some("system:serviceaccount:monitoring:kubelet-metrics"));
        assert_eq!(claims.audiences, ["https://kubernetes.default.svc"]);
        let check = token("/t", &Ok(raw), now());
        assert_eq!(check.status, Status::Pass);
        assert_eq!(
            check.evidence,
            "/t: sub system:serviceaccount:monitoring:kubelet-metrics, aud https://kubernetes.default.svc, expires in 60m"
        );
        assert_eq!(token_claims("opaque-token"), Err(TokenError::NotJwt));
        assert_eq!(token("/t", &Ok("opaque".into()), now()).status, Status::Warn);
    }

    #[test]
    fn expired_and_eternal_tokens_are_flagged() {
        let expired = jwt(&format!(r#"{{"aud":"api","exp":{},"sub":"s"}}"#, NOW - 7200));
        let check = token("/t", &Ok(expired), now());
        assert_eq!(
            (check.status, check.evidence.as_str()),
            (Status::Fail, "/t: sub s, aud api, expired 2h ago")
        );
        let eternal = jwt(r#"{"sub":"s"}"#);
        let check = token("/t", &Ok(eternal), now());
        assert_eq!(
            (check.status, check.evidence.as_str()),
            (Status::Warn, "/t: sub s, no audience, never expires")
        );
        let missing = token("/t", &Err("No such file or directory".into()), now());
        assert_eq!(missing.status, Status::Fail);
    }

    fn sample() -> Diagnosis {
        Diagnosis {
            method: Method::Proxy,
            checks: vec![
                credentials(&Ok(Credentials {
                    source: "kubeconfig /k/admin.kubeconfig".into(),
                    server: "https://127.0.0.1:6443".into(),
                    in_cluster: false,
                })),
                can_i(
                    &rbac::GET_NODES_PROXY,
                    Method::Proxy,
                    false,
                    Some("viewer"),
                    &Ok(Access { allowed: false, reason: String::new() }),
                ),
                proxy_healthz(
                    "node-0",
                    Method::Proxy,
                    None,
                    &Ok(Answer {
                        status: 200,
                        bytes: 2,
                        snippet: "ok".into(),
                        elapsed: Duration::from_millis(3),
                    }),
                ),
            ],
        }
    }

    #[test]
    fn table_shows_status_evidence_fix_and_summary() {
        let mut out = Vec::new();
        render_table(&sample(), &mut out).expect("rendered");
        let expected = "\
STATUS  CHECK                   EVIDENCE
PASS    credentials             kubeconfig /k/admin.kubeconfig → https://127.0.0.1:6443
FAIL    can-i get nodes/proxy   denied for \"viewer\": --method proxy needs it
        fix: kubelet-metrics rbac --method proxy --user viewer | kubectl apply -f -
             or: kubectl create clusterrole kubelet-metrics-proxy --verb=get,list --resource=nodes,nodes/proxy
                 kubectl create clusterrolebinding kubelet-metrics-proxy-viewer --clusterrole=kubelet-metrics-proxy --user=viewer
PASS    node-0: proxy /healthz  HTTP 200 \"ok\", 2 bytes in 3 ms

2 PASS, 0 WARN, 1 FAIL (--method proxy)
";
        assert_eq!(String::from_utf8(out).expect("utf-8"), expected);
    }

    #[test]
    fn json_has_a_summary_and_every_check() {
        let mut out = Vec::new();
        render_json(&sample(), &mut out).expect("rendered");
        let value: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(value["method"], "proxy");
        assert_eq!(value["summary"], serde_json::json!({"pass": 2, "warn": 0, "fail": 1}));
        assert_eq!(value["checks"][1]["check"], "can-i");
        assert_eq!(value["checks"][1]["status"], "fail");
        assert_eq!(value["checks"][1]["node"], serde_json::Value::Null);
        assert_eq!(value["checks"][2]["node"], "node-0");
        assert_eq!(value["checks"][2]["fix"], serde_json::json!([]));
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
