//! The simulated API server: authentication, RBAC authorization, discovery, nodes (selectors, pagination,
//! Table output), the `nodes/{name}/proxy` subresource forwarded to kubelets, access and token reviews,
//! token requests, and the admin-only `/debug` controls. Errors are `Status` objects with the messages
//! a real kube-apiserver writes. Kubelet behaviour lives in `kubelet`; the rules themselves in `rbac`.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use base64::Engine;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::{
    Fault, Node, Shared,
    http::{Body, incoming, json, respond, rfc3339, status, unix_now},
    rbac::{Attributes, UserInfo},
};

/// The version the API server reports.
pub const SERVER_VERSION: &str = "v1.33.4";

/// What a request is, once the path is understood.
#[derive(Debug)]
enum Route {
    Version,
    Health,
    Discovery,
    ListNodes,
    GetNode(String),
    Proxy { name: String, rest: String },
    SelfSubjectAccessReview,
    SubjectAccessReview,
    TokenReview,
    SelfSubjectReview,
    SelfSubjectRulesReview,
    TokenRequest { namespace: String, name: String },
    Debug(String),
    NotFound { api: bool },
}

fn route(method: &Method, path: &str) -> (Route, Attributes) {
    let verb = match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    };
    let non_resource = |route: Route| {
        let http_verb = method.as_str().to_ascii_lowercase();
        (route, Attributes::non_resource(&http_verb, path))
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] | ["version", ""] => non_resource(Route::Version),
        ["healthz"] | ["livez"] | ["readyz"] => non_resource(Route::Health),
        ["api"] | ["api", "v1"] | ["apis"] => non_resource(Route::Discovery),
        ["apis", "authorization.k8s.io" | "authentication.k8s.io"]
        | ["apis", "authorization.k8s.io" | "authentication.k8s.io", "v1"] => non_resource(Route::Discovery),
        ["api", "v1", "nodes"] => (Route::ListNodes, Attributes::resource("list", "", "nodes", "", "")),
        ["api", "v1", "nodes", name] | ["api", "v1", "nodes", name, "status"] => {
            let sub = if segments.len() == 5 { "status" } else { "" };
            (Route::GetNode((*name).to_string()), Attributes::resource(verb, "", "nodes", sub, name))
        }
        ["api", "v1", "nodes", name, "proxy", rest @ ..] => {
            let rest = format!("/{}", rest.join("/"));
            (
                Route::Proxy { name: (*name).to_string(), rest },
                Attributes::resource(verb, "", "nodes", "proxy", name),
            )
        }
        ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"] => (
            Route::SelfSubjectAccessReview,
            Attributes::resource(verb, "authorization.k8s.io", "selfsubjectaccessreviews", "", ""),
        ),
        ["apis", "authorization.k8s.io", "v1", "subjectaccessreviews"] => (
            Route::SubjectAccessReview,
            Attributes::resource(verb, "authorization.k8s.io", "subjectaccessreviews", "", ""),
        ),
        ["apis", "authentication.k8s.io", "v1", "tokenreviews"] => {
            (Route::TokenReview, Attributes::resource(verb, "authentication.k8s.io", "tokenreviews", "", ""))
        }
        ["apis", "authorization.k8s.io", "v1", "selfsubjectrulesreviews"] => (
            Route::SelfSubjectRulesReview,
            Attributes::resource(verb, "authorization.k8s.io", "selfsubjectrulesreviews", "", ""),
        ),
        ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"] => (
            Route::SelfSubjectReview,
            Attributes::resource(verb, "authentication.k8s.io", "selfsubjectreviews", "", ""),
        ),
        ["api", "v1", "namespaces", namespace, "serviceaccounts", name, "token"] => {
            let mut attrs = Attributes::resource(verb, "", "serviceaccounts", "token", name);
            attrs.namespace = (*namespace).to_string();
            (Route::TokenRequest { namespace: (*namespace).to_string(), name: (*name).to_string() }, attrs)
        }
        ["debug", what] => non_resource(Route::Debug((*what).to_string())),
        ["api", ..] | ["apis", ..] => non_resource(Route::NotFound { api: true }),
        _ => non_resource(Route::NotFound { api: false }),
    }
}

/// Serves one API server request.
pub async fn handle(
    shared: Arc<Shared>,
    cert_user: Option<UserInfo>,
    req: Request<Incoming>,
) -> Response<Body> {
    // Authentication, in kube-apiserver's order: x509 client certificate, then bearer token, else anonymous.
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let user = match (cert_user, bearer) {
        (Some(user), _) => user,
        (None, Some(token)) => {
            match shared.policy.read().unwrap_or_else(|e| e.into_inner()).authenticate_token(&token) {
                Some(user) => user,
                None => return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized", None),
            }
        }
        (None, None) => UserInfo::anonymous(),
    };

    let path = req.uri().path().to_string();
    let (route, attrs) = route(req.method(), &path);
    let allowed = shared.policy.read().unwrap_or_else(|e| e.into_inner()).authorize(&user, &attrs);
    if !allowed {
        return forbidden(&attrs, &user.name);
    }
    let query = parse_query(req.uri().query().unwrap_or(""));
    match route {
        Route::Version => json(StatusCode::OK, &version()),
        Route::Health => respond(StatusCode::OK, "text/plain; charset=utf-8", "ok"),
        Route::Discovery => discovery(&shared, &path),
        Route::ListNodes => list_nodes(&shared, &query, wants_table(&req)),
        Route::GetNode(name) => match shared.node(&name) {
            Some(node) if wants_table(&req) => {
                json(StatusCode::OK, &table(&shared, std::slice::from_ref(node), None, None))
            }
            Some(node) => json(StatusCode::OK, &node_json(&shared, node)),
            None => not_found("nodes", &name),
        },
        Route::Proxy { name, rest } => proxy(shared, &name, &rest, req).await,
        Route::SelfSubjectAccessReview => {
            let body = read_json(req).await;
            let spec = body.get("spec").cloned().unwrap_or_default();
            let allowed = review(&shared, &user, &spec);
            json(StatusCode::CREATED, &review_response("SelfSubjectAccessReview", &spec, allowed))
        }
        Route::SubjectAccessReview => {
            let body = read_json(req).await;
            let spec = body.get("spec").cloned().unwrap_or_default();
            let subject = UserInfo {
                name: spec.get("user").and_then(Value::as_str).unwrap_or("").to_string(),
                uid: spec.get("uid").and_then(Value::as_str).unwrap_or("").to_string(),
                groups: spec
                    .get("groups")
                    .and_then(Value::as_array)
                    .map(|g| g.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
            };
            let allowed = review(&shared, &subject, &spec);
            json(StatusCode::CREATED, &review_response("SubjectAccessReview", &spec, allowed))
        }
        Route::TokenReview => {
            let body = read_json(req).await;
            let token = body.pointer("/spec/token").and_then(Value::as_str).unwrap_or("");
            let found = shared.policy.read().unwrap_or_else(|e| e.into_inner()).authenticate_token(token);
            let status_value = match found {
                Some(u) => {
                    json!({"authenticated": true, "user": {"username": u.name, "uid": u.uid, "groups": u.groups},
                                  "audiences": ["https://kubernetes.default.svc.cluster.local"]})
                }
                None => json!({"authenticated": false, "error": "invalid bearer token"}),
            };
            json(
                StatusCode::CREATED,
                &json!({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {},
                        "spec": body.get("spec").cloned().unwrap_or_default(), "status": status_value}),
            )
        }
        Route::SelfSubjectRulesReview => {
            let body = read_json(req).await;
            let namespace =
                body.pointer("/spec/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
            let rules = shared.policy.read().unwrap_or_else(|e| e.into_inner()).rules_for(&user, &namespace);
            let (resource_rules, non_resource_rules): (Vec<_>, Vec<_>) =
                rules.into_iter().partition(|r| r.non_resource_urls.is_empty());
            let resource_rules: Vec<Value> = resource_rules
                .iter()
                .map(|r| json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources, "resourceNames": r.resource_names}))
                .collect();
            let non_resource_rules: Vec<Value> = non_resource_rules
                .iter()
                .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
                .collect();
            json(
                StatusCode::CREATED,
                &json!({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
                        "spec": {"namespace": namespace},
                        "status": {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": false}}),
            )
        }
        Route::SelfSubjectReview => json(
            StatusCode::CREATED,
            &json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {},
                    "status": {"userInfo": {"username": user.name, "uid": user.uid, "groups": user.groups}}}),
        ),
        Route::TokenRequest { namespace, name } => match shared.create_token(&namespace, &name) {
            Ok(token) => json(
                StatusCode::CREATED,
                &json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                        "metadata": {"name": name, "namespace": namespace},
                        "spec": {"audiences": ["https://kubernetes.default.svc.cluster.local"], "expirationSeconds": 3600},
                        "status": {"token": token, "expirationTimestamp": rfc3339(unix_now() + 3600)}}),
            ),
            Err(_) => not_found("serviceaccounts", &name),
        },
        Route::Debug(what) => debug(&shared, &what, &query, req).await,
        Route::NotFound { api: true } => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
            Some(json!({})),
        ),
        Route::NotFound { api: false } => {
            respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "404 page not found\n")
        }
    }
}

fn forbidden(attrs: &Attributes, user: &str) -> Response<Body> {
    let reason = attrs.forbidden_reason(user);
    if !attrs.is_resource() {
        return status(StatusCode::FORBIDDEN, "Forbidden", &format!("forbidden: {reason}"), Some(json!({})));
    }
    let mut resource = attrs.resource.clone();
    if !attrs.group.is_empty() {
        resource = format!("{resource}.{}", attrs.group);
    }
    let (message, details) = if attrs.name.is_empty() {
        (format!("{resource} is forbidden: {reason}"), json!({"kind": attrs.resource}))
    } else {
        (
            format!("{resource} {:?} is forbidden: {reason}", attrs.name),
            json!({"name": attrs.name, "kind": attrs.resource}),
        )
    };
    let mut details = details;
    if !attrs.group.is_empty() {
        details["group"] = attrs.group.clone().into();
    }
    status(StatusCode::FORBIDDEN, "Forbidden", &message, Some(details))
}

fn not_found(kind: &str, name: &str) -> Response<Body> {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{kind} {name:?} not found"),
        Some(json!({"name": name, "kind": kind})),
    )
}

fn bad_request(message: &str) -> Response<Body> {
    status(StatusCode::BAD_REQUEST, "BadRequest", message, None)
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn wants_table<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|accept| {
            accept.split(',').next().map(|first| first.contains("as=Table") && first.contains("v=v1"))
        })
        .unwrap_or(false)
}

/// The request body as JSON; protobuf review requests (kubectl sends those) are translated.
async fn read_json(req: Request<Incoming>) -> Value {
    let protobuf = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("protobuf"));
    let limited = http_body_util::Limited::new(req.into_body(), 1 << 20);
    match limited.collect().await {
        Ok(body) if protobuf => crate::proto::review_to_json(&body.to_bytes()).unwrap_or_default(),
        Ok(body) => serde_json::from_slice(&body.to_bytes()).unwrap_or_default(),
        Err(_) => Value::Null,
    }
}

fn review(shared: &Shared, user: &UserInfo, spec: &Value) -> bool {
    let attrs = if let Some(r) = spec.get("resourceAttributes") {
        let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut attrs = Attributes::resource(
            &field("verb"),
            &field("group"),
            &field("resource"),
            &field("subresource"),
            &field("name"),
        );
        attrs.namespace = field("namespace");
        attrs
    } else if let Some(n) = spec.get("nonResourceAttributes") {
        let field = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Attributes::non_resource(&field("verb"), &field("path"))
    } else {
        return false;
    };
    shared.policy.read().unwrap_or_else(|e| e.into_inner()).authorize(user, &attrs)
}

fn review_response(kind: &str, spec: &Value, allowed: bool) -> Value {
    let status = if allowed { json!({"allowed": true}) } else { json!({"allowed": false}) };
    json!({"kind": kind, "apiVersion": "authorization.k8s.io/v1", "metadata": {}, "spec": spec, "status": status})
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": SERVER_VERSION,
        "gitCommit": "6a9c5e5ff4b48d5ab1a0fa2a8aac9a0d7d6ff07b", "gitTreeState": "clean",
        "buildDate": "2025-07-15T18:39:04Z", "goVersion": "go1.24.4", "compiler": "gc", "platform": "linux/amd64",
    })
}

fn discovery(shared: &Shared, path: &str) -> Response<Body> {
    let group = |name: &str| {
        json!({"name": name, "versions": [{"groupVersion": format!("{name}/v1"), "version": "v1"}],
               "preferredVersion": {"groupVersion": format!("{name}/v1"), "version": "v1"}})
    };
    let resource = |name: &str, singular: &str, namespaced: bool, kind: &str, verbs: &[&str]| json!({"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": verbs});
    let address = shared.api_url.trim_start_matches("https://");
    let body = match path.trim_end_matches('/') {
        "/api" => json!({"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}),
        "/apis" => json!({"kind": "APIGroupList", "apiVersion": "v1",
                          "groups": [group("authentication.k8s.io"), group("authorization.k8s.io")]}),
        "/apis/authentication.k8s.io" => {
            let mut g = group("authentication.k8s.io");
            g["kind"] = "APIGroup".into();
            g["apiVersion"] = "v1".into();
            g
        }
        "/apis/authorization.k8s.io" => {
            let mut g = group("authorization.k8s.io");
            g["kind"] = "APIGroup".into();
            g["apiVersion"] = "v1".into();
            g
        }
        "/api/v1" => {
            let mut nodes = resource(
                "nodes",
                "node",
                false,
                "Node",
                &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            );
            nodes["shortNames"] = json!(["no"]);
            let mut sa = resource(
                "serviceaccounts",
                "serviceaccount",
                true,
                "ServiceAccount",
                &["create", "delete", "get", "list", "patch", "update", "watch"],
            );
            sa["shortNames"] = json!(["sa"]);
            let mut token = resource("serviceaccounts/token", "", true, "TokenRequest", &["create"]);
            token["group"] = "authentication.k8s.io".into();
            token["version"] = "v1".into();
            json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                resource("namespaces", "namespace", false, "Namespace", &["create", "delete", "get", "list", "patch", "update", "watch"]),
                nodes,
                resource("nodes/proxy", "", false, "NodeProxyOptions", &["create", "delete", "get", "patch", "update"]),
                resource("nodes/status", "", false, "Node", &["get", "patch", "update"]),
                sa,
                token,
            ]})
        }
        "/apis/authentication.k8s.io/v1" => json!({"kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": "authentication.k8s.io/v1", "resources": [
            resource("selfsubjectreviews", "selfsubjectreview", false, "SelfSubjectReview", &["create"]),
            resource("tokenreviews", "tokenreview", false, "TokenReview", &["create"]),
        ]}),
        "/apis/authorization.k8s.io/v1" => json!({"kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": "authorization.k8s.io/v1", "resources": [
            resource("localsubjectaccessreviews", "localsubjectaccessreview", true, "LocalSubjectAccessReview", &["create"]),
            resource("selfsubjectaccessreviews", "selfsubjectaccessreview", false, "SelfSubjectAccessReview", &["create"]),
            resource("selfsubjectrulesreviews", "selfsubjectrulesreview", false, "SelfSubjectRulesReview", &["create"]),
            resource("subjectaccessreviews", "subjectaccessreview", false, "SubjectAccessReview", &["create"]),
        ]}),
        _ => {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the server could not find the requested resource",
                Some(json!({})),
            );
        }
    };
    json(StatusCode::OK, &body)
}

fn node_json(shared: &Shared, node: &Node) -> Value {
    let heartbeat = rfc3339(unix_now().saturating_sub(7));
    let created = rfc3339(node.created_unix);
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status, "lastHeartbeatTime": heartbeat, "lastTransitionTime": created,
               "reason": reason, "message": message})
    };
    let (cpu, memory) = match node.labels.get("node.kubernetes.io/instance-type").map(String::as_str) {
        Some("m5.xlarge") => ("4", "16106132Ki"),
        Some("c5.2xlarge") => ("8", "15950408Ki"),
        _ => ("2", "7910348Ki"),
    };
    let _ = shared;
    json!({
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": node.name,
            "uid": node.uid,
            "resourceVersion": (1000 + node.index).to_string(),
            "creationTimestamp": created,
            "labels": node.labels,
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                "kubesim.io/profile": node.profile.as_str(),
            },
        },
        "spec": {"podCIDR": format!("10.244.{}.0/24", node.index % 256), "podCIDRs": [format!("10.244.{}.0/24", node.index % 256)]},
        "status": {
            "capacity": {"cpu": cpu, "ephemeral-storage": "102350Mi", "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "ephemeral-storage": "94318671271", "memory": memory, "pods": "110"},
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": node.addr.ip().to_string()},
                {"type": "Hostname", "address": node.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": node.addr.port()}},
            "nodeInfo": {
                "machineID": format!("{:032x}", node.index + 1),
                "systemUUID": node.uid,
                "bootID": node.uid,
                "kernelVersion": "6.1.0-28-amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": node.version,
                "kubeProxyVersion": node.version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    })
}

/// One requirement of a label selector.
#[derive(Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
        }
    }
}

/// Parses a label selector: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-joined.
fn parse_label_selector(text: &str) -> Result<Vec<Requirement>, String> {
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    let valid_key =
        |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let invalid =
        |term: &str| format!("unable to parse requirement: found '{}', expected: identifier", term.trim());
    let values = |list: &str| -> Result<Vec<String>, String> {
        let inner = list
            .trim()
            .strip_prefix('(')
            .and_then(|l| l.strip_suffix(')'))
            .ok_or_else(|| "found ')', expected: '('".to_string())?;
        Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
    };
    let mut requirements = Vec::new();
    for term in terms {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        let requirement = if let Some(key) = term.strip_prefix('!') {
            Requirement::NotExists(key.trim().to_string())
        } else if let Some((k, v)) = term.split_once("!=") {
            Requirement::NotEquals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = term.split_once("==") {
            Requirement::Equals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = term.split_once('=') {
            Requirement::Equals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, list)) = term.split_once(" notin ") {
            Requirement::NotIn(k.trim().to_string(), values(list)?)
        } else if let Some((k, list)) = term.split_once(" in ") {
            Requirement::In(k.trim().to_string(), values(list)?)
        } else {
            Requirement::Exists(term.to_string())
        };
        let key = match &requirement {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::NotExists(k) => k,
        };
        if !valid_key(key) {
            return Err(invalid(term));
        }
        requirements.push(requirement);
    }
    Ok(requirements)
}

/// Parses a field selector on nodes: `metadata.name` (=, ==, !=) and `spec.unschedulable`.
fn parse_field_selector(text: &str) -> Result<Vec<(String, bool, String)>, String> {
    let mut out = Vec::new();
    for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
            (f, false, v)
        } else if let Some((f, v)) = term.split_once("==") {
            (f, true, v)
        } else if let Some((f, v)) = term.split_once('=') {
            (f, true, v)
        } else {
            return Err(format!("invalid selector: '{text}'; can't understand '{term}'"));
        };
        if !["metadata.name", "spec.unschedulable"].contains(&field.trim()) {
            return Err(format!("field label not supported: {}", field.trim()));
        }
        out.push((field.trim().to_string(), equal, value.trim().to_string()));
    }
    Ok(out)
}

fn list_nodes(shared: &Shared, query: &BTreeMap<String, String>, table_wanted: bool) -> Response<Body> {
    let labels = match parse_label_selector(query.get("labelSelector").map(String::as_str).unwrap_or("")) {
        Ok(l) => l,
        Err(e) => return bad_request(&e),
    };
    let fields = match parse_field_selector(query.get("fieldSelector").map(String::as_str).unwrap_or("")) {
        Ok(f) => f,
        Err(e) => return bad_request(&e),
    };
    let rv = shared.resource_version.load(Ordering::Relaxed);
    let start_after = match query.get("continue").filter(|c| !c.is_empty()) {
        None => None,
        Some(token) => match decode_continue(token) {
            Some(start) => Some(start),
            None => {
                return bad_request(
                    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
                );
            }
        },
    };
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    let matching: Vec<Arc<Node>> = shared
        .nodes
        .iter()
        .filter(|n| labels.iter().all(|r| r.matches(&n.labels)))
        .filter(|n| {
            fields.iter().all(|(field, equal, value)| {
                let actual = if field == "metadata.name" { n.name.as_str() } else { "false" };
                (actual == value) == *equal
            })
        })
        .filter(|n| start_after.as_ref().is_none_or(|s| n.name.as_str() > s.as_str()))
        .cloned()
        .collect();
    let (page, rest) =
        if limit > 0 && matching.len() > limit { matching.split_at(limit) } else { (&matching[..], &[][..]) };
    let continue_token = (!rest.is_empty()).then(|| encode_continue(rv, &page[page.len() - 1].name));
    let remaining = (!rest.is_empty() && labels.is_empty() && fields.is_empty()).then_some(rest.len());
    if table_wanted {
        return json(StatusCode::OK, &table(shared, page, continue_token, remaining));
    }
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(token) = continue_token {
        metadata["continue"] = token.into();
    }
    if let Some(remaining) = remaining {
        metadata["remainingItemCount"] = remaining.into();
    }
    let items: Vec<Value> = page.iter().map(|n| node_json(shared, n)).collect();
    json(
        StatusCode::OK,
        &json!({"kind": "NodeList", "apiVersion": "v1", "metadata": metadata, "items": items}),
    )
}

fn encode_continue(rv: u64, last: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{last}\u{0}")});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE.decode(token).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    if value.get("v")?.as_str()? != "meta.k8s.io/v1" {
        return None;
    }
    Some(value.get("start")?.as_str()?.trim_end_matches('\u{0}').to_string())
}

/// Nodes as a `meta.k8s.io/v1` Table, the columns `kubectl get nodes` prints.
fn table(
    shared: &Shared,
    nodes: &[Arc<Node>],
    continue_token: Option<String>,
    remaining: Option<usize>,
) -> Value {
    let column = |name: &str, kind: &str, format: &str, priority: u8, description: &str| json!({"name": name, "type": kind, "format": format, "description": description, "priority": priority});
    let now = unix_now();
    let rows: Vec<Value> = nodes
        .iter()
        .map(|node| {
            let roles: Vec<&str> =
                node.labels.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect();
            let roles = if roles.is_empty() { "<none>".to_string() } else { roles.join(",") };
            let full = node_json(shared, node);
            json!({
                "cells": [node.name, "Ready", roles, crate::http::human_duration(now.saturating_sub(node.created_unix)),
                          node.version, "127.0.0.1", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0-28-amd64",
                          "containerd://1.7.24"],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": full["metadata"]},
            })
        })
        .collect();
    let mut metadata =
        json!({"resourceVersion": shared.resource_version.load(Ordering::Relaxed).to_string()});
    if let Some(token) = continue_token {
        metadata["continue"] = token.into();
    }
    if let Some(remaining) = remaining {
        metadata["remainingItemCount"] = remaining.into();
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [
            column("Name", "string", "name", 0, "Name must be unique within a namespace."),
            column("Status", "string", "", 0, "The status of the node"),
            column("Roles", "string", "", 0, "The roles of the node"),
            column("Age", "string", "", 0, "CreationTimestamp is a timestamp representing the server time when this object was created."),
            column("Version", "string", "", 0, "Kubelet Version reported by the node."),
            column("Internal-IP", "string", "", 1, "List of internal IPs."),
            column("External-IP", "string", "", 1, "List of external IPs."),
            column("OS-Image", "string", "", 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
            column("Kernel-Version", "string", "", 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
            column("Container-Runtime", "string", "", 1, "Container runtime version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
        ],
        "rows": rows,
    })
}

/// Forwards a request to a kubelet with the API server's client certificate, streaming the answer back.
async fn proxy(shared: Arc<Shared>, name_part: &str, rest: &str, req: Request<Incoming>) -> Response<Body> {
    // `node`, `node:port`, `https:node:port`, as the API server's ResourceLocation accepts.
    let without_scheme =
        name_part.strip_prefix("https:").or_else(|| name_part.strip_prefix("http:")).unwrap_or(name_part);
    let (name, port) = match without_scheme.split_once(':') {
        Some((name, port)) => (name, port.parse::<u16>().ok()),
        None => (without_scheme, None),
    };
    let Some(node) = shared.node(name).cloned() else {
        return not_found("nodes", name);
    };
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port.unwrap_or(node.addr.port())));
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let unreachable = |detail: String| {
        status(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &format!("error trying to reach service: {detail}"),
            None,
        )
    };
    let (parts, body) = req.into_parts();
    // Requests without a body can be retried on a fresh connection if a pooled one has just closed.
    let replayable = parts.method == Method::GET || parts.method == Method::HEAD;
    let mut body = Some(if replayable { crate::http::full("") } else { incoming(body) });
    let upstream = |body: Body| {
        let mut upstream = Request::builder().method(parts.method.clone()).uri(path_and_query.as_str());
        for (key, value) in &parts.headers {
            if !is_hop_by_hop(key)
                && key != header::AUTHORIZATION
                && key != header::HOST
                && !key.as_str().starts_with("impersonate-")
            {
                upstream = upstream.header(key, value);
            }
        }
        upstream.header(header::HOST, target.to_string()).body(body)
    };
    // Only connections to the kubelet's own port are pooled (one pool per node).
    let pool = (target.port() == node.addr.port()).then_some(node.index);
    for attempt in 0..2 {
        let pooled = pool.and_then(|index| shared.take_connection(index));
        let reused = pooled.is_some();
        let mut sender = match pooled {
            Some(sender) => sender,
            None => match connect(&shared, &node, target).await {
                Ok(sender) => sender,
                Err(detail) => return unreachable(detail),
            },
        };
        let request_body = if replayable {
            crate::http::full("")
        } else {
            body.take().unwrap_or_else(|| crate::http::full(""))
        };
        let request = match upstream(request_body) {
            Ok(r) => r,
            Err(err) => return unreachable(err.to_string()),
        };
        match sender.send_request(request).await {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let body = match pool {
                    Some(index) => Pooled { inner: body, give_back: Some((sender, shared.clone(), index)) }
                        .boxed_unsync(),
                    None => incoming(body),
                };
                let mut out = Response::new(body);
                *out.status_mut() = parts.status;
                for (key, value) in &parts.headers {
                    if !is_hop_by_hop(key) {
                        out.headers_mut().append(key, value.clone());
                    }
                }
                return out;
            }
            Err(_) if reused && replayable && attempt == 0 => continue,
            Err(err) => {
                let reset = std::error::Error::source(&err)
                    .and_then(|s| s.downcast_ref::<std::io::Error>())
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset);
                let detail =
                    if reset { "read: connection reset by peer".to_string() } else { err.to_string() };
                return unreachable(format!("read tcp 127.0.0.1->{target}: {detail}"));
            }
        }
    }
    unreachable(format!("dial tcp {target}: no usable connection"))
}

/// A new TLS connection to a kubelet, with the API server's client certificate.
async fn connect(
    shared: &Arc<Shared>,
    node: &Node,
    target: SocketAddr,
) -> Result<hyper::client::conn::http1::SendRequest<Body>, String> {
    let stream = match tokio::time::timeout(Duration::from_secs(30), TcpStream::connect(target)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(format!("dial tcp {target}: connect: connection refused"));
        }
        Ok(Err(err)) => return Err(format!("dial tcp {target}: {err}")),
        Err(_) => return Err(format!("dial tcp {target}: i/o timeout")),
    };
    let _ = stream.set_nodelay(true);
    let connector = TlsConnector::from(shared.kubelet_client.clone());
    let server_name = ServerName::IpAddress(target.ip().into());
    let tls =
        match tokio::time::timeout(Duration::from_secs(10), connector.connect(server_name, stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(err)) => return Err(tls_message(&err, node, target)),
            Err(_) => return Err("net/http: TLS handshake timeout".into()),
        };
    let (sender, connection) = hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(tls))
        .await
        .map_err(|err| err.to_string())?;
    let mut shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = crate::http::stopped(&mut shutdown) => {}
            _ = connection => {}
        }
    });
    Ok(sender)
}

/// A proxied response body that hands its connection back to the node's pool once read to the end.
struct Pooled {
    inner: Incoming,
    give_back: Option<(hyper::client::conn::http1::SendRequest<Body>, Arc<Shared>, usize)>,
}

impl hyper::body::Body for Pooled {
    type Data = bytes::Bytes;
    type Error = crate::http::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(None) = polled
            && let Some((sender, shared, index)) = self.give_back.take()
        {
            shared.return_connection(index, sender);
        }
        polled.map(|frame| frame.map(|f| f.map_err(|e| Box::new(e) as crate::http::BoxError)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

fn tls_message(err: &std::io::Error, node: &Node, target: SocketAddr) -> String {
    let text = err.to_string();
    if text.contains("NotValidForName") || text.contains("not valid for") {
        let names = if node.fault() == Some(Fault::BadCert) {
            crate::pki::WRONG_NAME.to_string()
        } else {
            node.name.clone()
        };
        return format!(
            "tls: failed to verify certificate: x509: certificate is valid for {names}, not {}",
            target.ip()
        );
    }
    if text.contains("UnknownIssuer") {
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority".into();
    }
    format!("remote error: {text}")
}

fn is_hop_by_hop(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

async fn debug(
    shared: &Arc<Shared>,
    what: &str,
    query: &BTreeMap<String, String>,
    req: Request<Incoming>,
) -> Response<Body> {
    let method = req.method().clone();
    match (what, method) {
        ("truth", Method::GET) => {
            json(StatusCode::OK, &serde_json::to_value(shared.truth()).unwrap_or_default())
        }
        ("advance", Method::POST) => {
            let body = read_json(req).await;
            let pods = body
                .get("pods")
                .and_then(Value::as_u64)
                .or_else(|| query.get("pods").and_then(|p| p.parse().ok()))
                .unwrap_or(0);
            shared.advance(pods);
            json(StatusCode::OK, &serde_json::to_value(shared.truth()).unwrap_or_default())
        }
        ("restart", Method::POST) => {
            let node = query.get("node").cloned().unwrap_or_default();
            if shared.restart(&node) {
                json(StatusCode::OK, &serde_json::to_value(shared.truth()).unwrap_or_default())
            } else {
                not_found("nodes", &node)
            }
        }
        ("fault", Method::POST) => {
            let node = query.get("node").cloned().unwrap_or_default();
            let fault = match query.get("fault").map(String::as_str) {
                None | Some("") | Some("none") => None,
                Some(text) => match text.parse::<Fault>() {
                    Ok(f) => Some(f),
                    Err(e) => return bad_request(&e.to_string()),
                },
            };
            match shared.node(&node) {
                Some(n) => {
                    n.fault.send_replace(fault);
                    shared.write_truth();
                    json(StatusCode::OK, &serde_json::to_value(shared.truth()).unwrap_or_default())
                }
                None => not_found("nodes", &node),
            }
        }
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!("{what}: method not allowed"),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_selectors_cover_every_operator() {
        let l = labels(&[("zone", "a"), ("role", "worker")]);
        let ok = |s: &str| parse_label_selector(s).unwrap().iter().all(|r| r.matches(&l));
        assert!(ok("zone=a"));
        assert!(ok("zone==a"));
        assert!(!ok("zone!=a"));
        assert!(ok("zone in (a, b),role"));
        assert!(!ok("zone notin (a)"));
        assert!(ok("!gpu"));
        assert!(!ok("!zone"));
        assert!(ok(""));
        assert!(parse_label_selector("zone=a,=b").is_err());
    }

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(7, "node-03");
        assert_eq!(decode_continue(&token).as_deref(), Some("node-03"));
        assert_eq!(decode_continue("garbage"), None);
    }

    #[test]
    fn query_strings_are_decoded() {
        let q = parse_query("labelSelector=zone%3Da%2Crole&limit=2");
        assert_eq!(q["labelSelector"], "zone=a,role");
        assert_eq!(q["limit"], "2");
    }

    #[test]
    fn forbidden_messages_match_the_api_server() {
        let response = forbidden(&Attributes::resource("get", "", "nodes", "proxy", "n1"), "viewer");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
}
