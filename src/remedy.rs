//! The one-line fix for each way a node can fail to answer. Cluster code reports facts
//! ([`FetchError`]: what the server said, who was denied what); this module turns them into
//! advice, with RBAC fixes generated from [`rbac::required`], the single source of truth for
//! what each method needs. Pure.

use crate::access::Method;
use crate::cluster::{ConfigError, FetchError, RequestContext, TlsProblem};
use crate::rbac;
use crate::scrape::Failure;

/// The one-line fix a user should try, when one is known.
pub fn fix(err: &FetchError, ctx: &RequestContext<'_>) -> Option<String> {
    let node = ctx.node;
    let direct = ctx.method == Method::Direct;
    Some(match err {
        // Not the /proxy/healthz command for the direct method: it needs nodes/proxy, which
        // the direct method's least-privilege RBAC does not grant.
        FetchError::Timeout(limit) if direct => format!(
            "raise --timeout (now {limit:?}) or check the kubelet answers at {}: kubelet-metrics doctor --method direct {node}",
            ctx.url
        ),
        FetchError::Timeout(limit) => format!(
            "raise --timeout (now {limit:?}) or check the kubelet: kubectl get --raw /api/v1/nodes/{node}/proxy/healthz"
        ),
        FetchError::SlowBody { limit, received } if direct => format!(
            "the kubelet of {node} answered but sent only {received} bytes in {limit:?}: raise --timeout if its payload is that large, else check the node's load and the network to it (kubelet-metrics doctor --method direct {node})"
        ),
        FetchError::SlowBody { limit, received } => format!(
            "{node} answered through the API server but only {received} bytes arrived in {limit:?}: raise --timeout if its payload is that large, else check the load of the node and of the API server (time it: time kubectl get --raw {} > /dev/null)",
            ctx.url
        ),
        FetchError::Cancelled => return None,
        FetchError::Refused { host } if direct => format!(
            "nothing listens on {host}: check the kubelet runs and the port (--kubelet-port) and address (--address-type) are right"
        ),
        FetchError::Refused { host } => {
            format!("the API server at {host} refused the connection: check the kubeconfig server URL and --context")
        }
        FetchError::Dns { host } if direct => {
            format!("{host} does not resolve here: use --address-type InternalIP or --node-ip")
        }
        FetchError::Dns { host } => format!("{host} does not resolve: check the kubeconfig server URL"),
        FetchError::NoAddress { .. } => {
            "choose other types with --address-type, or give the address with --node-ip".to_string()
        }
        FetchError::Tls { problem: TlsProblem::UnsupportedVersion, .. } if direct => {
            format!("the kubelet serving certificate of {node} is not X.509 v3: {REISSUE_SERVING_CERTIFICATE}")
        }
        FetchError::Tls { problem: TlsProblem::UnsupportedVersion, .. } => {
            format!("the API server's serving certificate is not X.509 v3: {REISSUE_SERVING_CERTIFICATE}")
        }
        FetchError::Tls { .. } if direct => "pass the CA that signed the kubelet serving certificates with --kubelet-ca (and --kubelet-tls-server-name if they name another host), or skip verification with --insecure-skip-tls-verify-kubelet".to_string(),
        FetchError::Tls { .. } => {
            "check the kubeconfig's certificate-authority for this cluster (kubectl config view --minify)".to_string()
        }
        FetchError::TokenFile { path } => format!(
            "rewrite {path} as the token alone on one line, without carriage returns (e.g. sed -i 's/\\r$//' {path}, or kubectl create token NAME > {path})"
        ),
        FetchError::Credentials { .. } => {
            "check the kubeconfig user's credentials (exec plugin, token file) with kubectl get nodes".to_string()
        }
        FetchError::Unauthorized { .. } if direct => "the kubelet rejected the credentials: pass a current service-account token with --token-file (kubectl create token NAME), and check the kubelet has webhook authentication enabled".to_string(),
        FetchError::Unauthorized { .. } => {
            "the credentials were rejected: log in again or choose another --context".to_string()
        }
        FetchError::Forbidden { denial: Some(denial), .. } if denial.is_anonymous() => {
            "no token reached the kubelet: pass --token-file, or use a kubeconfig user with a bearer token".to_string()
        }
        FetchError::Forbidden { denial: Some(denial), .. } => format!(
            "grant `{}` (--method {} needs {}): {}",
            denial.rule(),
            ctx.method.as_str(),
            rbac::describe(ctx.method),
            rbac::rbac_command(ctx.method, &rbac::Subject::from_username(&denial.user)),
        ),
        FetchError::Forbidden { denial: None, .. } => format!(
            "grant what --method {} needs ({}): kubelet-metrics rbac --method {} prints the manifests; check with kubectl auth can-i",
            ctx.method.as_str(),
            rbac::describe(ctx.method),
            ctx.method.as_str(),
        ),
        FetchError::NotFound { .. } if direct => {
            format!("the kubelet has no such path: check --endpoint / --path (requested {})", ctx.url)
        }
        // The node lookup (`/api/v1/nodes/NAME`, no proxy path): the name is what is wrong.
        FetchError::NotFound { .. } if !ctx.url.contains("/proxy/") => {
            "check the node name: kubectl get nodes lists the nodes the cluster has".to_string()
        }
        FetchError::NotFound { .. } => format!(
            "check the node exists (kubectl get node {node}) and the path is a kubelet path (--endpoint / --path)"
        ),
        FetchError::TooManyRequests { .. } => {
            "lower --concurrency, or raise --timeout so retries can wait as the server asks".to_string()
        }
        FetchError::ServerError { message, .. }
            if !direct && message.contains("error trying to reach service") && message.contains("x509") =>
        {
            format!(
                "the API server rejects the kubelet serving certificate of {node}: renew it so that it names the node's address and is signed by the CA the API server trusts (--kubelet-certificate-authority)"
            )
        }
        FetchError::ServerError { message, .. }
            if !direct && message.contains("error trying to reach service") =>
        {
            format!(
                "the API server cannot reach the kubelet of {node}: check the node is Ready (kubectl get node {node}) and its kubelet port is open to the control plane, or try --method direct"
            )
        }
        FetchError::ServerError { .. } => {
            format!("retry later; if it persists, read the kubelet's log on {node}")
        }
        FetchError::Status { .. } => return None,
        FetchError::TooLarge { limit } => {
            format!("raise --max-body (now {limit} bytes) if this payload is expected")
        }
        FetchError::Parse { .. } => {
            "this is not Prometheus text: check --endpoint / --path, or save the payload with kubectl get --raw and inspect it".to_string()
        }
        FetchError::CutShort { .. } => format!(
            "the body stopped mid-line (the kubelet, the API server or a proxy closed the connection early): run again; if it keeps happening, check {node}'s kubelet log and any proxy's response size or time limits"
        ),
        FetchError::Io { .. } => {
            "retry (raise --retries); the connection broke, often a kubelet restart or a proxy reset".to_string()
        }
        FetchError::TooManyOpenFiles { .. } => {
            "this process hit its open-file limit: lower --concurrency, or raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd, or the container runtime's nofile ulimit); kubelet-metrics already raises its soft limit to the hard one".to_string()
        }
    })
}

/// How to reissue a client certificate that TLS libraries refuse for its version (kubectl, on
/// Go's crypto/x509, accepts v1; rustls-webpki accepts only v3). `openssl x509 -req` issues v1
/// unless extensions are given.
pub const REISSUE_CLIENT_CERTIFICATE: &str = "reissue it as v3 with extendedKeyUsage=clientAuth \
     (openssl x509 -req ... -extfile <(printf \"extendedKeyUsage=clientAuth\"))";

/// How to reissue a serving certificate refused for its version.
pub const REISSUE_SERVING_CERTIFICATE: &str = "reissue it as v3 with its names in subjectAltName and \
     extendedKeyUsage=serverAuth (openssl x509 -req ... -extfile <(printf \"subjectAltName=IP:...,DNS:...\\nextendedKeyUsage=serverAuth\"))";

/// The fix for a configuration that cannot be used, when one is known beyond the message.
pub fn config_fix(err: &ConfigError) -> Option<String> {
    match err {
        ConfigError::ClientCertificateVersion { .. } => Some(REISSUE_CLIENT_CERTIFICATE.to_string()),
        _ => None,
    }
}

/// The report's view of a failure: the message names the method and URL (every report prints
/// the node beside it), plus the fix.
pub fn failure(err: FetchError, ctx: &RequestContext<'_>) -> Failure {
    Failure {
        kind: err.kind(),
        message: format!("{} GET {}: {err}", ctx.method.as_str(), ctx.url),
        fix: fix(&err, ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::TlsProblem;
    use crate::scrape::FailureKind;

    fn ctx(method: Method) -> RequestContext<'static> {
        RequestContext { node: "node-01", method, url: "/api/v1/nodes/node-01/proxy/metrics" }
    }

    #[test]
    fn apiserver_forbidden_status_names_the_missing_rule() {
        let body = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes \"node-01\" is forbidden: User \"viewer\" cannot get resource \"nodes/proxy\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{"name":"node-01","kind":"nodes"},"code":403}"#;
        let err = FetchError::from_status(403, body, None);
        let FetchError::Forbidden { denial: Some(denial), .. } = &err else { panic!("{err:?}") };
        assert_eq!(denial.user, "viewer");
        assert_eq!(denial.rule(), "get nodes/proxy");
        let failure = failure(err, &ctx(Method::Proxy));
        assert_eq!(failure.kind, FailureKind::Forbidden);
        assert!(failure.message.contains("`get nodes/proxy`"), "{}", failure.message);
        assert!(failure.message.starts_with("proxy GET /api/v1/nodes/node-01/proxy/metrics: "));
        let fix = failure.fix.expect("a fix");
        assert!(
            fix.contains("kubelet-metrics rbac --method proxy --user viewer | kubectl apply -f -"),
            "{fix}"
        );
    }

    #[test]
    fn kubelet_forbidden_text_names_the_rule_and_service_account() {
        let body = b"Forbidden (user=system:serviceaccount:monitoring:scraper, verb=get, resource=nodes, subresource=metrics)";
        let err = FetchError::from_status(403, body, None);
        let FetchError::Forbidden { denial: Some(denial), .. } = &err else { panic!("{err:?}") };
        assert_eq!(denial.rule(), "get nodes/metrics");
        let fix = fix(&err, &ctx(Method::Direct)).expect("a fix");
        assert!(fix.contains("rbac --method direct --service-account monitoring/scraper"), "{fix}");
    }

    #[test]
    fn anonymous_denial_says_no_token_was_sent() {
        let body = b"Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=metrics)";
        let err = FetchError::from_status(403, body, None);
        assert!(err.to_string().contains("no credentials"), "{err}");
        assert!(fix(&err, &ctx(Method::Direct)).expect("fix").contains("--token-file"));
    }

    #[test]
    fn unparseable_forbidden_still_names_what_the_method_needs() {
        let err = FetchError::from_status(403, b"denied", None);
        assert!(fix(&err, &ctx(Method::Direct)).expect("fix").contains("nodes/metrics"));
    }

    #[test]
    fn apiserver_cannot_reach_kubelet_is_a_server_error_with_a_reachability_fix() {
        let body = br#"{"kind":"Status","status":"Failure","message":"error trying to reach service: dial tcp 127.0.0.1:1: connect: connection refused","reason":"ServiceUnavailable","code":503}"#;
        let err = FetchError::from_status(503, body, None);
        assert_eq!(err.kind(), crate::scrape::FailureKind::ServerError);
        assert!(fix(&err, &ctx(Method::Proxy)).expect("fix").contains("cannot reach the kubelet"));
    }

    #[test]
    fn v1_certificates_are_reissued_not_blamed_on_the_ca() {
        let err = FetchError::Tls { host: "127.0.0.1:6443".into(), problem: TlsProblem::UnsupportedVersion };
        let proxy = fix(&err, &ctx(Method::Proxy)).expect("fix");
        assert!(
            proxy.starts_with("the API server's serving certificate is not X.509 v3: reissue it as v3"),
            "{proxy}"
        );
        let direct = fix(&err, &ctx(Method::Direct)).expect("fix");
        assert!(direct.starts_with("the kubelet serving certificate of node-01 is not X.509 v3"), "{direct}");
        let config = ConfigError::ClientCertificateVersion { location: "x".into(), version: 1 };
        assert_eq!(config_fix(&config).as_deref(), Some(REISSUE_CLIENT_CERTIFICATE));
    }

    #[test]
    fn a_direct_timeout_does_not_suggest_the_proxy() {
        let ctx =
            RequestContext { node: "node-01", method: Method::Direct, url: "https://10.0.0.1:10250/metrics" };
        let fix = fix(&FetchError::Timeout(std::time::Duration::from_secs(10)), &ctx).expect("fix");
        assert!(!fix.contains("/proxy/") && fix.contains("doctor --method direct node-01"), "{fix}");
        let proxy = fix_for_proxy_timeout();
        assert!(proxy.contains("/proxy/healthz"), "{proxy}");
    }

    #[test]
    fn a_missing_node_is_blamed_on_its_name_a_missing_path_on_the_path() {
        let not_found = FetchError::NotFound { message: "no such node".to_string() };
        let lookup = RequestContext { node: "nod-1", method: Method::Proxy, url: "/api/v1/nodes/nod-1" };
        let fix_lookup = fix(&not_found, &lookup).expect("fix");
        assert!(fix_lookup.contains("kubectl get nodes") && !fix_lookup.contains("--path"), "{fix_lookup}");
        let proxied = RequestContext {
            node: "node-1",
            method: Method::Proxy,
            url: "/api/v1/nodes/node-1/proxy/metricz",
        };
        let fix_path = fix(&not_found, &proxied).expect("fix");
        assert!(fix_path.contains("--endpoint / --path"), "{fix_path}");
    }

    fn fix_for_proxy_timeout() -> String {
        fix(&FetchError::Timeout(std::time::Duration::from_secs(10)), &ctx(Method::Proxy)).expect("fix")
    }

    #[test]
    fn a_token_file_with_carriage_returns_is_blamed_not_the_kubeconfig() {
        let err = FetchError::TokenFile { path: "/var/run/token".into() };
        let fix = fix(&err, &ctx(Method::Direct)).expect("fix");
        assert!(
            fix.contains("/var/run/token") && fix.contains("carriage returns") && !fix.contains("kubeconfig"),
            "{fix}"
        );
    }

    #[test]
    fn too_many_open_files_is_not_fixed_by_retrying() {
        let err = FetchError::TooManyOpenFiles { host: "10.0.0.1:10250".into() };
        let fix = fix(&err, &ctx(Method::Direct)).expect("fix");
        assert!(
            fix.contains("--concurrency") && fix.contains("open-file limit") && !fix.contains("--retries"),
            "{fix}"
        );
    }

    #[test]
    fn tls_failures_point_at_the_kubelet_ca() {
        let err = FetchError::Tls { host: "127.0.0.1:2".into(), problem: TlsProblem::UnknownAuthority };
        let fix = fix(&err, &ctx(Method::Direct)).expect("fix");
        assert!(fix.contains("--kubelet-ca") && fix.contains("--insecure-skip-tls-verify-kubelet"));
    }

    #[test]
    fn cut_short_and_not_prometheus_text_have_different_fixes() {
        let cut = fix(&FetchError::CutShort { line: 9 }, &ctx(Method::Proxy)).expect("a fix");
        let garbage =
            fix(&FetchError::Parse { line: 1, message: "not Prometheus text".into() }, &ctx(Method::Proxy))
                .expect("a fix");
        assert!(cut.contains("stopped mid-line") && !cut.contains("not Prometheus text"), "{cut}");
        assert!(garbage.contains("not Prometheus text"), "{garbage}");
    }
}
