//! Discovery: `/version` and the legacy discovery documents (`/api`, `/api/v1`, `/apis`, the
//! apps, rbac, authentication and authorization groups) that tell kubectl which resources exist. Serving those
//! resources is left to the parent module (`list`, `proxy`, the reviews).

use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::{minor, parse_version, self_subject_review_version};
use crate::{
    Shared,
    http::{Body, json, status},
};

/// The groups served besides the core group, each with its versions, preferred version first.
fn groups(minor: u32) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut authentication = vec!["v1"];
    if self_subject_review_version(minor) == Some("v1beta1") {
        authentication.push("v1beta1");
    }
    vec![
        ("apps", vec!["v1"]),
        ("authentication.k8s.io", authentication),
        ("authorization.k8s.io", vec!["v1"]),
        ("rbac.authorization.k8s.io", vec!["v1"]),
    ]
}

/// The `/version` document of a server claiming `version` (e.g. `v1.33.4`).
pub(super) fn version(version: &str) -> Value {
    let (major, minor) = parse_version(version).unwrap_or((1, 0));
    json!({
        "major": major.to_string(), "minor": minor.to_string(), "gitVersion": version,
        "gitCommit": "6a9c5e5ff4b48d5ab1a0fa2a8aac9a0d7d6ff07b", "gitTreeState": "clean",
        "buildDate": "2025-07-15T18:39:04Z", "goVersion": "go1.24.4", "compiler": "gc", "platform": "linux/amd64",
    })
}

/// The legacy discovery documents kubectl reads: `/api`, `/api/v1`, `/apis`, and each group's
/// `APIGroup` and `APIResourceList`.
pub(super) fn discovery(shared: &Shared, path: &str) -> Response<Body> {
    let minor = minor(shared);
    let groups = groups(minor);
    let group = |name: &str, versions: &[&str]| {
        let version = |v: &str| json!({"groupVersion": format!("{name}/{v}"), "version": v});
        json!({"name": name, "versions": versions.iter().map(|v| version(v)).collect::<Vec<_>>(),
               "preferredVersion": version(versions[0])})
    };
    let resource = |name: &str, singular: &str, namespaced: bool, kind: &str, verbs: &[&str]| json!({"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": verbs});
    let resource_list = |group_version: &str, resources: Vec<Value>| json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources});
    let all = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
    let address = shared.api_url.trim_start_matches("https://");
    let path = path.trim_end_matches('/');
    let body = match path {
        "/api" => json!({"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}),
        "/apis" => json!({"kind": "APIGroupList", "apiVersion": "v1",
                          "groups": groups.iter().map(|(name, versions)| group(name, versions)).collect::<Vec<_>>()}),
        "/api/v1" => {
            let mut nodes = resource("nodes", "node", false, "Node", &all);
            nodes["shortNames"] = json!(["no"]);
            let mut namespaces = resource(
                "namespaces",
                "namespace",
                false,
                "Namespace",
                &["create", "delete", "get", "list", "patch", "update", "watch"],
            );
            namespaces["shortNames"] = json!(["ns"]);
            let mut pods = resource("pods", "pod", true, "Pod", &["get", "list"]);
            pods["shortNames"] = json!(["po"]);
            pods["categories"] = json!(["all"]);
            let mut sa = resource("serviceaccounts", "serviceaccount", true, "ServiceAccount", &all);
            sa["shortNames"] = json!(["sa"]);
            let mut token = resource("serviceaccounts/token", "", true, "TokenRequest", &["create"]);
            token["group"] = "authentication.k8s.io".into();
            token["version"] = "v1".into();
            resource_list(
                "v1",
                vec![
                    namespaces,
                    nodes,
                    resource(
                        "nodes/proxy",
                        "",
                        false,
                        "NodeProxyOptions",
                        &["create", "delete", "get", "patch", "update"],
                    ),
                    resource("nodes/status", "", false, "Node", &["get", "patch", "update"]),
                    pods,
                    sa,
                    token,
                ],
            )
        }
        "/apis/apps/v1" => {
            let mut deployments = resource("deployments", "deployment", true, "Deployment", &all);
            deployments["shortNames"] = json!(["deploy"]);
            deployments["categories"] = json!(["all"]);
            let mut daemonsets = resource("daemonsets", "daemonset", true, "DaemonSet", &all);
            daemonsets["shortNames"] = json!(["ds"]);
            daemonsets["categories"] = json!(["all"]);
            resource_list(
                "apps/v1",
                vec![
                    daemonsets,
                    resource("daemonsets/status", "", true, "DaemonSet", &["get", "patch", "update"]),
                    deployments,
                    resource("deployments/scale", "", true, "Scale", &["get", "patch", "update"]),
                    resource("deployments/status", "", true, "Deployment", &["get", "patch", "update"]),
                ],
            )
        }
        "/apis/authentication.k8s.io/v1" => {
            let mut resources = Vec::new();
            if self_subject_review_version(minor) == Some("v1") {
                resources.push(resource(
                    "selfsubjectreviews",
                    "selfsubjectreview",
                    false,
                    "SelfSubjectReview",
                    &["create"],
                ));
            }
            resources.push(resource("tokenreviews", "tokenreview", false, "TokenReview", &["create"]));
            resource_list("authentication.k8s.io/v1", resources)
        }
        "/apis/authentication.k8s.io/v1beta1" if self_subject_review_version(minor) == Some("v1beta1") => {
            resource_list(
                "authentication.k8s.io/v1beta1",
                vec![resource(
                    "selfsubjectreviews",
                    "selfsubjectreview",
                    false,
                    "SelfSubjectReview",
                    &["create"],
                )],
            )
        }
        "/apis/authorization.k8s.io/v1" => resource_list(
            "authorization.k8s.io/v1",
            vec![
                resource(
                    "localsubjectaccessreviews",
                    "localsubjectaccessreview",
                    true,
                    "LocalSubjectAccessReview",
                    &["create"],
                ),
                resource(
                    "selfsubjectaccessreviews",
                    "selfsubjectaccessreview",
                    false,
                    "SelfSubjectAccessReview",
                    &["create"],
                ),
                resource(
                    "selfsubjectrulesreviews",
                    "selfsubjectrulesreview",
                    false,
                    "SelfSubjectRulesReview",
                    &["create"],
                ),
                resource(
                    "subjectaccessreviews",
                    "subjectaccessreview",
                    false,
                    "SubjectAccessReview",
                    &["create"],
                ),
            ],
        ),
        "/apis/rbac.authorization.k8s.io/v1" => resource_list(
            "rbac.authorization.k8s.io/v1",
            vec![
                resource("clusterrolebindings", "clusterrolebinding", false, "ClusterRoleBinding", &all),
                resource("clusterroles", "clusterrole", false, "ClusterRole", &all),
                resource("rolebindings", "rolebinding", true, "RoleBinding", &all),
                resource("roles", "role", true, "Role", &all),
            ],
        ),
        other => match groups.iter().find(|(name, _)| other.strip_prefix("/apis/") == Some(*name)) {
            Some((name, versions)) => {
                let mut g = group(name, versions);
                g["kind"] = "APIGroup".into();
                g["apiVersion"] = "v1".into();
                g
            }
            None => {
                return status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "the server could not find the requested resource",
                    Some(json!({})),
                );
            }
        },
    };
    json(StatusCode::OK, &body)
}

/// The group-versions served, as `api/v1` and `apis/{group}/{version}` (the keys of `/openapi/v3`).
pub(super) fn group_versions(minor: u32) -> Vec<String> {
    let mut all = vec!["api/v1".to_string()];
    for (name, versions) in groups(minor) {
        all.extend(versions.iter().map(|v| format!("apis/{name}/{v}")));
    }
    all
}
