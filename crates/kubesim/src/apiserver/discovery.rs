//! Discovery: `/version` and the legacy discovery documents (`/api`, `/api/v1`, `/apis`, the
//! authentication and authorization groups) that tell kubectl which resources exist. Serving those
//! resources is left to the parent module (`list`, `proxy`, the reviews).

use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::SERVER_VERSION;
use crate::{
    Shared,
    http::{Body, json, status},
};

/// The `/version` document.
pub(super) fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": SERVER_VERSION,
        "gitCommit": "6a9c5e5ff4b48d5ab1a0fa2a8aac9a0d7d6ff07b", "gitTreeState": "clean",
        "buildDate": "2025-07-15T18:39:04Z", "goVersion": "go1.24.4", "compiler": "gc", "platform": "linux/amd64",
    })
}

/// The legacy discovery documents kubectl reads: `/api`, `/api/v1`, `/apis` and the two auth groups.
pub(super) fn discovery(shared: &Shared, path: &str) -> Response<Body> {
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
