//! The simulated API server's front door: authentication (client certificate, then bearer token),
//! routing a path to what it names plus the RBAC attributes it needs, authorization, the access and
//! token reviews, token requests, and the admin-only `/debug` controls. Errors are `Status` objects
//! with the messages a real kube-apiserver writes.
//!
//! The rest is left to the submodules: `discovery` (what exists), `list` and `selector` (reading
//! nodes), `proxy` (the `nodes/{name}/proxy` subresource). Kubelet behaviour lives in `kubelet`; the
//! RBAC rules themselves in `rbac`.

mod discovery;
mod list;
mod proxy;
mod selector;

use std::{collections::BTreeMap, sync::Arc};

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

pub(crate) use proxy::KubeletClient;

use crate::{
    Fault, Shared,
    http::{Body, json, respond, rfc3339, status, unix_now},
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
        Route::Version => json(StatusCode::OK, &discovery::version()),
        Route::Health => respond(StatusCode::OK, "text/plain; charset=utf-8", "ok"),
        Route::Discovery => discovery::discovery(&shared, &path),
        Route::ListNodes => list::list_nodes(&shared, &query, list::wants_table(&req)),
        Route::GetNode(name) => match shared.node(&name) {
            Some(node) if list::wants_table(&req) => {
                json(StatusCode::OK, &list::table(&shared, std::slice::from_ref(node), None, None))
            }
            Some(node) => json(StatusCode::OK, &list::node_json(&shared, node)),
            None => not_found("nodes", &name),
        },
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

/// The `/debug` test controls: truth, advance, restart and fault.
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
