//! The API-server side of `doctor`: credentials found, API server reachable, credentials
//! accepted, `can-i` for each permission, and nodes found. Per-node probes live in `node`, the
//! token file in `token`; the model they return is in the parent module.

use super::{Check, Credentials, CredentialsProblem, Identity, NodesFound, Problem, Status};
use crate::access::Method;
use crate::cluster::checks::{Access, TlsIssue};
use crate::rbac::{self, Permission, Subject};
use crate::remedy;
use crate::scrape::FailureKind;
use crate::text::bounded_names;

/// Check 1: credentials found.
pub fn credentials(found: &Result<Credentials, CredentialsProblem>) -> Check {
    match found {
        Ok(c) => {
            Check::new("credentials", "credentials", Status::Pass, format!("{} → {}", c.source, c.server))
        }
        Err(CredentialsProblem::CertificateVersion { location, version }) => Check::new(
            "credentials",
            "credentials",
            Status::Fail,
            format!("the client certificate in {location} is X.509 v{version}, which TLS libraries refuse"),
        )
        .fix(vec![remedy::REISSUE_CLIENT_CERTIFICATE.to_string()]),
        Err(CredentialsProblem::Unusable(reason)) => {
            Check::new("credentials", "credentials", Status::Fail, reason.clone()).fix(vec![
                "pass --kubeconfig PATH and --context NAME (kubectl config get-contexts lists them)".into(),
                "in a pod: set automountServiceAccountToken: true so the service-account token is mounted"
                    .into(),
            ])
        }
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
                FailureKind::Tls if p.tls == Some(TlsIssue::UnsupportedVersion) => format!(
                    "the API server's serving certificate is not X.509 v3: {}",
                    remedy::REISSUE_SERVING_CERTIFICATE
                ),
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
/// `result` holds the user name SelfSubjectReview answered, if the server has it; `identity` is
/// who the run found the caller to be, from whatever source ([`super::identify`]).
pub fn authentication(result: &Result<Option<String>, Problem>, identity: Option<&Identity>) -> Check {
    let title = "credentials accepted";
    match result {
        Ok(Some(user)) => {
            Check::new("authentication", title, Status::Pass, format!("authenticated as {user:?}"))
        }
        Ok(None) => Check::new(
            "authentication",
            title,
            Status::Pass,
            match identity {
                Some(identity) => format!("the API server accepted the credentials of user {identity}"),
                None => "the API server accepted the credentials".to_string(),
            },
        ),
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
/// `get nodes` is needed); `identity` names the caller in the evidence and the fix.
pub fn can_i(
    permission: &Permission,
    method: Method,
    named_nodes: bool,
    identity: Option<&Identity>,
    access: &Result<Access, Problem>,
) -> Check {
    let user = identity.map(|i| i.name.as_str());
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
                identity.map(|i| format!(" for {i}")).unwrap_or_default(),
                method.as_str()
            ),
        )
        .fix(rbac_fix(method, user)),
    }
}

/// With `doctor --pods`: may the caller do what `kubelet-metrics pods` needs ([`rbac::pods_required`])
/// beyond what `method` needs (those are checked already)? Without `list pods`, `pods` cannot run:
/// FAIL; without what the cross-check alone needs, only `--cross-check` fails: WARN. `user` names
/// the caller in the fix when known.
pub fn can_run_pods(
    permission: &Permission,
    method: Method,
    user: Option<&str>,
    access: &Result<Access, Problem>,
) -> Check {
    let title = format!("can-i {permission}");
    let list = *permission == rbac::LIST_PODS;
    let denied_status = if list { Status::Fail } else { Status::Warn };
    let subject = user.map(Subject::from_username).unwrap_or_else(|| Subject::User("USER".into()));
    let fix_method = if list { method } else { rbac::CROSS_CHECK_METHOD };
    let mut fix = vec![format!(
        "kubelet-metrics rbac --method {} {} --with-pods | kubectl apply -f -",
        fix_method.as_str(),
        subject.rbac_flag()
    )];
    if list {
        let slug = subject.slug();
        fix.push(
            "or: kubectl create clusterrole kubelet-metrics-pods --verb=list --resource=pods".to_string(),
        );
        fix.push(format!(
            "    kubectl create clusterrolebinding kubelet-metrics-pods-{slug} --clusterrole=kubelet-metrics-pods {}",
            subject.kubectl_flag()
        ));
    }
    match access {
        Err(p) => Check::new("can-i", title, denied_status, p.message.clone()).fix(p.fix.iter().cloned().collect()),
        Ok(a) if a.allowed && list => {
            Check::new("can-i", title, Status::Pass, "allowed: `kubelet-metrics pods` can list pods")
        }
        Ok(a) if a.allowed => Check::new(
            "can-i",
            title,
            Status::Pass,
            "allowed: `kubelet-metrics pods --cross-check` can read the kubelets through the API server proxy",
        ),
        Ok(_) if list => {
            Check::new("can-i", title, Status::Fail, "denied: `kubelet-metrics pods` needs it in every namespace")
                .fix(fix)
        }
        Ok(_) => Check::new(
            "can-i",
            title,
            Status::Warn,
            format!(
                "denied: `kubelet-metrics pods` works, but `--cross-check` reads the kubelets through the API \
                 server proxy (whatever --method {} says) and needs it",
                method.as_str()
            ),
        )
        .fix(fix),
    }
}

/// Check 5: nodes found. `identity` names the caller in an RBAC fix; a 403 from the API server
/// names the user itself, and its name wins.
pub fn nodes(method: Method, identity: Option<&Identity>, found: &Result<NodesFound, Problem>) -> Check {
    let title = "nodes";
    let user = identity.map(|i| i.name.as_str());
    match found {
        Err(p) => {
            let fix = if p.kind == FailureKind::Forbidden {
                rbac_fix(method, super::denied_user([p]).as_deref().or(user))
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
                    bounded_names(&f.checked)
                )
            } else {
                format!(
                    "{} node{}: {}",
                    f.total,
                    if f.total == 1 { "" } else { "s" },
                    bounded_names(&f.checked)
                )
            };
            if f.unresolved.is_empty() {
                return Check::new("nodes", title, Status::Pass, evidence);
            }
            let missing: Vec<String> =
                f.unresolved.iter().map(|(n, p)| format!("{n} ({})", p.message)).collect();
            evidence.push_str(&format!("; not found: {}", bounded_names(&missing)));
            let forbidden = f.unresolved.iter().any(|(_, p)| p.kind == FailureKind::Forbidden);
            let fix = if forbidden {
                let denied = super::denied_user(f.unresolved.iter().map(|(_, p)| p));
                rbac_fix(method, denied.as_deref().or(user))
            } else {
                vec!["check the node names: kubectl get nodes".into()]
            };
            Check::new("nodes", title, Status::Fail, evidence).fix(fix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::IdentitySource;

    #[test]
    fn missing_proxy_permission_fails_with_both_fixes() {
        let check = can_i(
            &rbac::GET_NODES_PROXY,
            Method::Proxy,
            false,
            Some(&Identity::new("viewer", IdentitySource::SelfSubjectReview)),
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
        let sa =
            Identity::new("system:serviceaccount:monitoring:kubelet-metrics", IdentitySource::TokenClaims);
        let sa = Some(&sa);
        let listed = can_i(&rbac::GET_NODES, Method::Direct, false, sa, &denied);
        assert_eq!(listed.status, Status::Warn);
        assert_eq!(
            listed.fix[0],
            "kubelet-metrics rbac --method direct --service-account monitoring/kubelet-metrics | kubectl apply -f -"
        );
        let named = can_i(&rbac::GET_NODES, Method::Direct, true, sa, &denied);
        assert_eq!(named.status, Status::Fail);
    }
}
