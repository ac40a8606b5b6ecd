//! The simulated API server's front door: authentication (client certificate, then bearer token),
//! routing a path to what it names plus the RBAC attributes it needs, authorization, the access and
//! token reviews, token requests, and the admin-only `/debug` controls. Errors are `Status` objects
//! with the messages a real kube-apiserver writes.
//!
//! The rest is left to the submodules: `discovery` (what exists), `list` and `selector` (reading
//! nodes), `proxy` (the `nodes/{name}/proxy` subresource). Kubelet behaviour lives in `kubelet`; the
//! RBAC rules themselves in `rbac`.

mod discovery;
mod impersonation;
mod list;
mod nodes;
mod openapi;
mod pods;
mod proxy;
mod selector;

use std::{collections::BTreeMap, sync::Arc};

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

pub(crate) use list::node_json;
pub(crate) use proxy::KubeletClient;

use crate::{
    Fault, Shared,
    http::{Body, json, respond, rfc3339, status, unix_now},
    rbac::{Attributes, UserInfo},
    traffic::{Kind, TOO_MANY_REQUESTS},
};

/// The version the API server reports unless the builder says otherwise.
pub const SERVER_VERSION: &str = "v1.33.4";

/// `(major, minor)` of a `vMAJOR.MINOR.PATCH` version (a `-suffix` is allowed after the patch).
pub(crate) fn parse_version(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.strip_prefix('v')?.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next()?;
    patch.split(['-', '+']).next()?.parse::<u32>().ok()?;
    Some((major, minor))
}

/// The minor version the API server claims (33 for `v1.33.4`).
fn minor(shared: &Shared) -> u32 {
    parse_version(&shared.server_version).map_or(0, |(_, minor)| minor)
}

/// The `authentication.k8s.io` version that serves `selfsubjectreviews` in a server of this minor
/// version: `v1beta1` in 1.27, `v1` from 1.28 on (KEP-3325), none before.
fn self_subject_review_version(minor: u32) -> Option<&'static str> {
    match minor {
        0..=26 => None,
        27 => Some("v1beta1"),
        _ => Some("v1"),
    }
}

/// What a request is, once the path is understood.
#[derive(Debug)]
enum Route {
    Version,
    Health,
    Discovery,
    ListNodes,
    /// `GET /api/v1/pods` (empty namespace) or `/api/v1/namespaces/{namespace}/pods`.
    ListPods {
        namespace: String,
    },
    CreateNode,
    Node {
        name: String,
        status: bool,
    },
    /// A named object of a kind kubesim knows but does not store (kubectl apply reads it first).
    Object {
        group: &'static str,
        resource: String,
        namespace: String,
        name: String,
    },
    OpenApi(String),
    Proxy {
        name: String,
        rest: String,
    },
    SelfSubjectAccessReview,
    SubjectAccessReview,
    TokenReview,
    SelfSubjectReview(String),
    SelfSubjectRulesReview,
    TokenRequest {
        namespace: String,
        name: String,
    },
    Debug(String),
    NotFound {
        api: bool,
    },
}

/// The route of a request and the attributes RBAC checks for it.
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
        // Group and group-version documents; discovery answers 404 for those it does not serve.
        ["apis", _] | ["apis", _, _] => non_resource(Route::Discovery),
        ["openapi", "v3", ..] => non_resource(Route::OpenApi(path.to_string())),
        ["api", "v1", "nodes"] if *method == Method::POST => {
            (Route::CreateNode, Attributes::resource("create", "", "nodes", "", ""))
        }
        ["api", "v1", "nodes"] => (Route::ListNodes, Attributes::resource("list", "", "nodes", "", "")),
        ["api", "v1", "pods"] if *method == Method::GET => {
            (Route::ListPods { namespace: String::new() }, Attributes::resource("list", "", "pods", "", ""))
        }
        ["api", "v1", "namespaces", namespace, "pods"] if *method == Method::GET => {
            let mut attrs = Attributes::resource("list", "", "pods", "", "");
            attrs.namespace = (*namespace).to_string();
            (Route::ListPods { namespace: (*namespace).to_string() }, attrs)
        }
        ["api", "v1", "nodes", name] | ["api", "v1", "nodes", name, "status"] => {
            let status = segments.len() == 5;
            (
                Route::Node { name: (*name).to_string(), status },
                Attributes::resource(verb, "", "nodes", if status { "status" } else { "" }, name),
            )
        }
        ["api", "v1", "namespaces", namespace, "serviceaccounts", name] => {
            let mut attrs = Attributes::resource(verb, "", "serviceaccounts", "", name);
            attrs.namespace = (*namespace).to_string();
            let route = Route::Object {
                group: "",
                resource: "serviceaccounts".into(),
                namespace: (*namespace).to_string(),
                name: (*name).to_string(),
            };
            (route, attrs)
        }
        ["api", "v1", "namespaces", name] => (
            Route::Object {
                group: "",
                resource: "namespaces".into(),
                namespace: String::new(),
                name: (*name).to_string(),
            },
            Attributes::resource(verb, "", "namespaces", "", name),
        ),
        ["apis", group @ ("rbac.authorization.k8s.io" | "apps"), "v1", rest @ ..]
            if matches!(rest, [_, _] | ["namespaces", _, _, _]) =>
        {
            let group: &'static str = if *group == "apps" { "apps" } else { "rbac.authorization.k8s.io" };
            let (namespace, resource, name) = match rest {
                [resource, name] => ("", *resource, *name),
                [_, namespace, resource, name] => (*namespace, *resource, *name),
                _ => unreachable!("matched above"),
            };
            let mut attrs = Attributes::resource(verb, group, resource, "", name);
            attrs.namespace = namespace.to_string();
            let route = Route::Object {
                group,
                resource: resource.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
            };
            (route, attrs)
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
        ["apis", "authentication.k8s.io", version, "selfsubjectreviews"] => (
            Route::SelfSubjectReview((*version).to_string()),
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

/// Serves one API server request, counted in the cluster's [`crate::traffic::Traffic`].
pub async fn handle(
    shared: Arc<Shared>,
    cert_user: Option<UserInfo>,
    req: Request<Incoming>,
) -> Response<Body> {
    let (route, _) = route(req.method(), req.uri().path());
    let kind = match route {
        Route::ListNodes => Kind::List,
        Route::Node { .. } if req.method() == Method::GET => Kind::Get,
        Route::Proxy { .. } => Kind::Proxy,
        _ => Kind::Other,
    };
    let arrival = shared.traffic.arrived(kind, req.uri().path());
    let response = serve(shared.clone(), cert_user, kind, req).await;
    shared.traffic.answered(arrival, response.status().as_u16());
    response
}

/// The 429 of kube-apiserver's max-in-flight and APF filters: plain text, `Retry-After: 1`.
fn too_many_requests() -> Response<Body> {
    let mut response = respond(StatusCode::TOO_MANY_REQUESTS, "text/plain; charset=utf-8", TOO_MANY_REQUESTS);
    response.headers_mut().insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    response
}

async fn serve(
    shared: Arc<Shared>,
    cert_user: Option<UserInfo>,
    kind: Kind,
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
    let user = {
        let policy = shared.policy.read().unwrap_or_else(|e| e.into_inner());
        match impersonation::impersonate(&policy, user, req.headers()) {
            Ok(user) => user,
            Err(refused) => return *refused,
        }
    };

    // Priority and fairness come after authentication and before authorization, as in
    // kube-apiserver's handler chain; long-running requests and system:masters are exempt.
    let exempt = kind == Kind::Proxy || user.groups.iter().any(|g| g == "system:masters");
    let _seat = if exempt {
        None
    } else {
        match shared.traffic.seat() {
            Some(seat) => Some(seat),
            None => return too_many_requests(),
        }
    };
    let path = req.uri().path().to_string();
    let (route, attrs) = route(req.method(), &path);
    let allowed = shared.policy.read().unwrap_or_else(|e| e.into_inner()).authorize(&user, &attrs);
    if !allowed {
        return forbidden(&attrs, &user.name);
    }
    let query = parse_query(req.uri().query().unwrap_or(""));
    match route {
        Route::Version => json(StatusCode::OK, &discovery::version(&shared.server_version)),
        Route::Health => respond(StatusCode::OK, "text/plain; charset=utf-8", "ok"),
        Route::Discovery => discovery::discovery(&shared, &path),
        Route::ListNodes => list::list_nodes(&shared, &query, list::wants_table(&req)),
        Route::ListPods { namespace } => pods::list_pods(&shared, &namespace, &query),
        Route::CreateNode => nodes::create(&shared, read_json(req).await),
        Route::Node { name, status } => match *req.method() {
            Method::GET | Method::HEAD => {
                let object = match shared.node(&name) {
                    Some(node) => list::node_json(&shared, node),
                    None => match nodes::registered(&shared, &name) {
                        Some(object) => object,
                        None => return not_found("nodes", &name),
                    },
                };
                if list::wants_table(&req) {
                    json(StatusCode::OK, &list::table(&shared, std::slice::from_ref(&object), None, None))
                } else {
                    json(StatusCode::OK, &object)
                }
            }
            Method::PUT => {
                let body = read_json(req).await;
                nodes::update(&shared, &name, status, nodes::Write::Replace, body)
            }
            Method::PATCH => {
                let body = read_json(req).await;
                nodes::update(&shared, &name, status, nodes::Write::Merge, body)
            }
            Method::DELETE if !status => nodes::delete(&shared, &name),
            _ => method_not_allowed(req.method()),
        },
        Route::Object { group, resource, namespace, name } => {
            object(&shared, req.method(), group, &resource, &namespace, &name)
        }
        Route::OpenApi(path) => openapi::document(&shared, &path, minor(&shared)),
        Route::Proxy { name, rest } => proxy::proxy(shared, &name, &rest, req).await,
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
        Route::SelfSubjectReview(version) => {
            if self_subject_review_version(minor(&shared)) != Some(version.as_str()) {
                return api_not_found();
            }
            json(
                StatusCode::CREATED,
                &json!({"kind": "SelfSubjectReview", "apiVersion": format!("authentication.k8s.io/{version}"),
                        "metadata": {}, "status": {"userInfo": {"username": user.name, "uid": user.uid, "groups": user.groups}}}),
            )
        }
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
        Route::NotFound { api: true } => api_not_found(),
        Route::NotFound { api: false } => {
            respond(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "404 page not found\n")
        }
    }
}

/// A 403 `Status` naming what `user` may not do, worded as kube-apiserver words it.
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

/// A named object of a kind kubesim lists in discovery but does not store. `GET` finds the service
/// accounts kubesim knows and their namespaces, and nothing else (roles and bindings included), which
/// is what `kubectl apply` needs to decide to create.
fn object(
    shared: &Shared,
    method: &Method,
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> Response<Body> {
    if *method != Method::GET {
        return method_not_allowed(method);
    }
    let policy = shared.policy.read().unwrap_or_else(|e| e.into_inner());
    // The namespaces every cluster has, and those holding a service account, exist.
    if resource == "namespaces"
        && (["default", "kube-node-lease", "kube-public", "kube-system"].contains(&name)
            || policy.namespaces().contains(name))
    {
        return json(
            StatusCode::OK,
            &json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        );
    }
    if let Some(sa) = policy.service_account(namespace, name).filter(|_| resource == "serviceaccounts") {
        return json(
            StatusCode::OK,
            &json!({"kind": "ServiceAccount", "apiVersion": "v1",
                    "metadata": {"name": name, "namespace": namespace, "uid": sa.uid}}),
        );
    }
    let qualified = if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") };
    let mut details = json!({"name": name, "kind": resource});
    if !group.is_empty() {
        details["group"] = group.into();
    }
    status(StatusCode::NOT_FOUND, "NotFound", &format!("{qualified} {name:?} not found"), Some(details))
}

/// The 404 of a path no API serves.
fn api_not_found() -> Response<Body> {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

/// A 405 `Status`.
fn method_not_allowed(method: &Method) -> Response<Body> {
    status(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        &format!("the server does not allow this method on the requested resource ({method})"),
        Some(json!({})),
    )
}

/// A 404 `Status` for a named object.
fn not_found(kind: &str, name: &str) -> Response<Body> {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{kind} {name:?} not found"),
        Some(json!({"name": name, "kind": kind})),
    )
}

/// A 400 `Status`.
fn bad_request(message: &str) -> Response<Body> {
    status(StatusCode::BAD_REQUEST, "BadRequest", message, None)
}

/// The query string as a map, decoded as Go's `url.ParseQuery` does (`+` is a space, `%XX` a byte).
fn parse_query(query: &str) -> BTreeMap<String, String> {
    let decode = |text: &str| percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
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

/// Whether an access review's subject may do what its spec describes.
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

/// The answer to an access review of `kind`.
fn review_response(kind: &str, spec: &Value, allowed: bool) -> Value {
    let status = if allowed { json!({"allowed": true}) } else { json!({"allowed": false}) };
    json!({"kind": kind, "apiVersion": "authorization.k8s.io/v1", "metadata": {}, "spec": spec, "status": status})
}

/// The `/debug` test controls: truth, requests (`DELETE` resets the counts), advance, restart and fault.
async fn debug(
    shared: &Arc<Shared>,
    what: &str,
    query: &BTreeMap<String, String>,
    req: Request<Incoming>,
) -> Response<Body> {
    let method = req.method().clone();
    match (what, method) {
        ("requests", Method::GET) => {
            json(StatusCode::OK, &serde_json::to_value(shared.traffic.requests()).unwrap_or_default())
        }
        ("requests", Method::DELETE) => {
            shared.traffic.reset();
            json(StatusCode::OK, &serde_json::to_value(shared.traffic.requests()).unwrap_or_default())
        }
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

    #[test]
    fn query_strings_are_decoded() {
        let q = parse_query("labelSelector=zone%3Da%2Crole&limit=2");
        assert_eq!(q["labelSelector"], "zone=a,role");
        assert_eq!(q["limit"], "2");
    }

    #[test]
    fn query_strings_decode_plus_and_keep_bad_escapes() {
        // As url.ParseQuery: `+` is a space and `%2B` a plus. A malformed escape is kept as text
        // (Go would reject the pair; kubesim has always been lenient here).
        let q = parse_query("a=x+y&b=1%2B1&c=100%&d=%zz");
        assert_eq!(q["a"], "x y");
        assert_eq!(q["b"], "1+1");
        assert_eq!(q["c"], "100%");
        assert_eq!(q["d"], "%zz");
    }

    #[test]
    fn forbidden_messages_match_the_api_server() {
        let response = forbidden(&Attributes::resource("get", "", "nodes", "proxy", "n1"), "viewer");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
}
