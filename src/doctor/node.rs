//! The node side of `doctor`: per node, `/healthz` through the API server proxy, a TCP connect
//! to the kubelet, TLS verification, direct `/healthz` and `/metrics`, and whether the direct
//! method's kubelet client could be built. The API-server checks live in `api`, the token file
//! in `token`; the model they return is in the parent module.

use std::time::Duration;

use super::{Check, Identity, Problem, Status, TlsSetting, api::rbac_fix};
use crate::access::Method;
use crate::cluster::checks::{Answer, TlsIssue};
use crate::remedy;
use crate::scrape::FailureKind;

fn answer_text(a: &Answer) -> String {
    let snippet = if a.snippet.is_empty() { String::new() } else { format!(" {:?}", a.snippet) };
    format!("HTTP {}{snippet}, {} bytes in {} ms", a.status, a.bytes, a.elapsed.as_millis())
}

/// Check 6: the kubelet's `/healthz` through the API server proxy. `identity` names the caller
/// in an RBAC fix, unless the API server's 403 names the user itself.
pub fn proxy_healthz(
    node: &str,
    method: Method,
    identity: Option<&Identity>,
    result: &Result<Answer, Problem>,
) -> Check {
    let title = "proxy /healthz";
    let check = match result {
        Ok(a) => Check::new("proxy-healthz", title, Status::Pass, answer_text(a)),
        Err(p) if p.kind == FailureKind::Forbidden => {
            let user = super::denied_user([p]).or_else(|| identity.map(|i| i.name.clone()));
            Check::new("proxy-healthz", title, Status::Fail, p.message.clone())
                .fix(rbac_fix(Method::Proxy, user.as_deref()))
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
                    // Not "trust whatever name the certificate claims": any kubelet certificate
                    // from the same CA would then pass for this node.
                    let fix = vec![
                        format!(
                            "reissue the kubelet serving certificate of {node} with {expected} in its subjectAltName \
                             (serverTLSBootstrap: true in the KubeletConfiguration makes kubelets request one naming their addresses)"
                        ),
                        "or, only if every kubelet's certificate carries one name you trust, --kubelet-tls-server-name NAME"
                            .to_string(),
                    ];
                    (format!("the certificate is for {names}, not {expected}"), fix)
                }
                Some(TlsIssue::Expired) => (
                    "the certificate is expired or not yet valid".to_string(),
                    vec!["renew the kubelet serving certificate (check the node's clock too)".to_string()],
                ),
                Some(TlsIssue::UnsupportedVersion) => (
                    "the certificate is X.509 v1 or v2, which TLS libraries refuse (only v3 is accepted)".to_string(),
                    vec![format!("the kubelet serving certificate of {node}: {}", remedy::REISSUE_SERVING_CERTIFICATE)],
                ),
                Some(TlsIssue::CaAsServingCertificate) => (
                    "the kubelet presents a CA certificate (CA:TRUE) as its serving certificate, which TLS libraries refuse".to_string(),
                    vec![format!("the kubelet serving certificate of {node}: issue a leaf certificate (CA:FALSE) signed by that CA; {}", remedy::REISSUE_SERVING_CERTIFICATE)],
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

/// Check 10: direct `/metrics` — the "direct access returns empty results" case of the troubleshooting list.
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
/// Credentials exist but are kept from kubelets by the credential policy, so the direct
/// `/healthz` and `/metrics` checks (which need them) are skipped; `reason` says why and `fix`
/// how to send credentials meant for kubelets.
pub fn kubelet_credentials_withheld(method: Method, reason: &str, fix: &str) -> Check {
    Check::new(
        "kubelet-credentials",
        "kubelet credentials",
        Status::Fail,
        format!("{reason}; the authenticated direct checks (/healthz, /metrics) are skipped"),
    )
    .fix(vec![fix.to_string()])
    .for_method(Method::Direct, method)
}

/// The direct method's kubelet client could not be built (unreadable `--kubelet-ca` or token file).
pub fn kubelet_client(method: Method, reason: &str) -> Check {
    Check::new("kubelet-client", "kubelet client", Status::Fail, reason.to_string())
        .fix(vec!["check the paths given to --kubelet-ca and --token-file".into()])
        .for_method(Method::Direct, method)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Problem;

    fn forbidden(message: &str, user: &str) -> Problem {
        Problem { denied_user: Some(user.into()), ..Problem::new(FailureKind::Forbidden, message) }
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
        assert!(
            check.fix[0].starts_with("reissue the kubelet serving certificate of node-2 with 127.0.0.3"),
            "{:?}",
            check.fix
        );
        assert!(
            !check.fix.iter().any(|f| f.contains("wrong.kubesim.invalid")),
            "never trust the name it claims"
        );
    }

    #[test]
    fn a_ca_certificate_served_by_a_kubelet_is_named_not_dumped() {
        let problem =
            Problem { tls: Some(TlsIssue::CaAsServingCertificate), ..Problem::new(FailureKind::Tls, "x") };
        let setting = TlsSetting { ca: Some("/k/ca.crt".into()), server_name: None, insecure: false };
        let check = tls("node-2", Method::Direct, &setting, &Err(problem));
        assert!(
            check.evidence.contains("CA certificate (CA:TRUE)") && !check.evidence.contains("OtherError")
        );
        assert!(check.fix[0].contains("leaf certificate (CA:FALSE)"), "{:?}", check.fix);
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
}
