//! `/openapi/v3`: the index of group-versions and, per group-version, an OpenAPI 3.0 document with the
//! named-object paths of the kinds kubesim lists in discovery. Each `PATCH` operation carries
//! `x-kubernetes-group-version-kind` and the `fieldValidation` query parameter, which is how kubectl
//! (1.27+) learns that the server validates fields itself, so `kubectl apply --dry-run=client` needs no
//! schema from it. The schemas are skeletons (the kind's top-level fields only), not upstream's.
//! What is served lives in `discovery`.

use http::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::{api_not_found, discovery::group_versions};
use crate::{
    Shared,
    http::{Body, json},
};

/// The first minor version that serves `/openapi/v3` by default (the OpenAPIV3 feature went beta, on
/// by default, in 1.24).
const FIRST_MINOR: u32 = 24;

/// The kinds of a group-version (`api/v1`, `apis/apps/v1`, ...) that have named-object paths:
/// `(kind, resource, namespaced)`.
fn kinds(group_version: &str) -> &'static [(&'static str, &'static str, bool)] {
    match group_version {
        "api/v1" => &[
            ("Namespace", "namespaces", false),
            ("Node", "nodes", false),
            ("ServiceAccount", "serviceaccounts", true),
        ],
        "apis/apps/v1" => &[("DaemonSet", "daemonsets", true), ("Deployment", "deployments", true)],
        "apis/rbac.authorization.k8s.io/v1" => &[
            ("ClusterRole", "clusterroles", false),
            ("ClusterRoleBinding", "clusterrolebindings", false),
            ("Role", "roles", true),
            ("RoleBinding", "rolebindings", true),
        ],
        _ => &[],
    }
}

/// Answers `/openapi/v3` and `/openapi/v3/{group-version}` for a server of this minor version.
pub(super) fn document(shared: &Shared, path: &str, minor: u32) -> Response<Body> {
    if minor < FIRST_MINOR {
        return api_not_found();
    }
    let served = group_versions(minor);
    let rest = path.trim_end_matches('/').trim_start_matches("/openapi/v3").trim_start_matches('/');
    if rest.is_empty() {
        let paths: Map<String, Value> = served
            .iter()
            .map(|gv| {
                (gv.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={}", hash(gv))}))
            })
            .collect();
        return json(StatusCode::OK, &json!({"paths": paths}));
    }
    if !served.iter().any(|gv| gv == rest) {
        return api_not_found();
    }
    json(StatusCode::OK, &group_version_document(rest, &shared.server_version))
}

/// A stable stand-in for upstream's content hash (clients only pass it back).
fn hash(group_version: &str) -> String {
    // FNV-1a, 64 bits.
    let h = group_version
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{h:016X}")
}

/// The OpenAPI 3.0 document of one group-version.
fn group_version_document(group_version: &str, server_version: &str) -> Value {
    let (group, version) = match group_version.split('/').collect::<Vec<_>>().as_slice() {
        ["api", version] => (String::new(), (*version).to_string()),
        ["apis", group, version] => ((*group).to_string(), (*version).to_string()),
        _ => (String::new(), String::new()),
    };
    let package = match group.as_str() {
        "" => "core".to_string(),
        other => other.trim_end_matches(".k8s.io").trim_end_matches(".authorization").to_string(),
    };
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for &(kind, resource, namespaced) in kinds(group_version) {
        let gvk = json!({"group": group, "version": version, "kind": kind});
        let schema_name = format!("io.k8s.api.{package}.{version}.{}", kind);
        let reference = json!({"$ref": format!("#/components/schemas/{schema_name}")});
        let response =
            json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}});
        let query = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
        let mut parameters = vec![
            json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}}),
        ];
        let namespace_part = if namespaced {
            parameters.push(json!({"name": "namespace", "in": "path", "required": true, "schema": {"type": "string", "uniqueItems": true}}));
            "namespaces/{namespace}/"
        } else {
            ""
        };
        let operation = |action: &str, extra: Vec<Value>| {
            json!({"operationId": format!("{action}{}", kind), "parameters": extra, "responses": response,
                   "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk})
        };
        paths.insert(
            format!("/{group_version}/{namespace_part}{}/{{name}}", resource),
            json!({
                "parameters": parameters,
                "get": operation("get", vec![]),
                "patch": operation("patch", vec![query("dryRun"), query("fieldManager"), query("fieldValidation"), query("force")]),
                "put": operation("put", vec![query("dryRun"), query("fieldManager"), query("fieldValidation")]),
                "delete": operation("delete", vec![query("dryRun")]),
            }),
        );
        schemas.insert(
            schema_name,
            json!({"type": "object", "properties": {
                       "apiVersion": {"type": "string"}, "kind": {"type": "string"},
                       "metadata": {"type": "object"}},
                   "x-kubernetes-group-version-kind": [gvk]}),
        );
    }
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": server_version},
           "paths": paths, "components": {"schemas": schemas}})
}
