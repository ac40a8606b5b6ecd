//! Writing nodes: `POST /api/v1/nodes`, `PUT`/`PATCH` of a node and of its `status` subresource, and
//! `DELETE`, for nodes registered by a client (a kubelet, or another kubesim in kubelets-only mode).
//! Such nodes have no simulated kubelet behind them; they are stored as the JSON they were given.
//! Simulated nodes are read-only. Reading nodes lives in `list`; routing and authorization in the
//! parent module.

use std::sync::atomic::Ordering;

use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::{bad_request, not_found};
use crate::{
    Shared,
    http::{Body, json, rfc3339, status, unix_now},
};

/// How a write replaces or merges what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Write {
    /// `PUT`: the body replaces the object (or, on `status`, the status).
    Replace,
    /// `PATCH` with a JSON merge patch (RFC 7386). A strategic merge patch is applied the same way,
    /// so its lists replace instead of merging by key.
    Merge,
}

/// `POST /api/v1/nodes`: 201 with the stored object, 409 `AlreadyExists` when the name is taken.
pub(super) fn create(shared: &Shared, body: Value) -> Response<Body> {
    if body.get("kind").and_then(Value::as_str).is_some_and(|k| k != "Node") {
        return bad_request("the body of the request was in an unknown format");
    }
    let Some(name) = body.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string) else {
        return status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "Node \"\" is invalid: metadata.name: Required value: name or generateName is required",
            Some(json!({"kind": "Node", "causes": [{"reason": "FieldValueRequired",
                        "message": "Required value: name or generateName is required", "field": "metadata.name"}]})),
        );
    };
    let mut registered = shared.registered.write().unwrap_or_else(|e| e.into_inner());
    if shared.node(&name).is_some() || registered.contains_key(&name) {
        return status(
            StatusCode::CONFLICT,
            "AlreadyExists",
            &format!("nodes {name:?} already exists"),
            Some(json!({"name": name, "kind": "nodes"})),
        );
    }
    let mut object = body;
    object["kind"] = "Node".into();
    object["apiVersion"] = "v1".into();
    object["metadata"]["uid"] = shared.new_uid().into();
    object["metadata"]["creationTimestamp"] = rfc3339(unix_now()).into();
    // Nodes are the one kind whose status may be set on create (pkg/registry/core/node/strategy.go).
    if object.get("spec").is_none_or(Value::is_null) {
        object["spec"] = json!({});
    }
    if object.get("status").is_none_or(Value::is_null) {
        object["status"] = json!({});
    }
    stamp(shared, &mut object);
    registered.insert(name, object.clone());
    json(StatusCode::CREATED, &object)
}

/// `PUT`/`PATCH /api/v1/nodes/{name}[/status]`: only `status` changes on the status subresource, and
/// everything but `status` on the node itself.
pub(super) fn update(
    shared: &Shared,
    name: &str,
    status_only: bool,
    write: Write,
    body: Value,
) -> Response<Body> {
    if shared.node(name).is_some() {
        return read_only(name);
    }
    let mut registered = shared.registered.write().unwrap_or_else(|e| e.into_inner());
    let Some(stored) = registered.get_mut(name) else {
        return not_found("nodes", name);
    };
    let mut next = stored.clone();
    match (write, status_only) {
        (Write::Replace, true) => next["status"] = body.get("status").cloned().unwrap_or_else(|| json!({})),
        (Write::Merge, true) => {
            if let Some(patch) = body.get("status") {
                merge(&mut next["status"], patch);
            }
        }
        (Write::Replace, false) => {
            let status = next["status"].take();
            let (uid, created) =
                (next["metadata"]["uid"].take(), next["metadata"]["creationTimestamp"].take());
            next = body;
            next["status"] = status;
            next["metadata"]["uid"] = uid;
            next["metadata"]["creationTimestamp"] = created;
        }
        (Write::Merge, false) => {
            let status = next["status"].take();
            merge(&mut next, &body);
            next["status"] = status;
        }
    }
    next["metadata"]["name"] = name.into();
    next["kind"] = "Node".into();
    next["apiVersion"] = "v1".into();
    stamp(shared, &mut next);
    *stored = next.clone();
    json(StatusCode::OK, &next)
}

/// `DELETE /api/v1/nodes/{name}`: 200 with the deleted object.
pub(super) fn delete(shared: &Shared, name: &str) -> Response<Body> {
    if shared.node(name).is_some() {
        return read_only(name);
    }
    match shared.registered.write().unwrap_or_else(|e| e.into_inner()).remove(name) {
        Some(object) => json(StatusCode::OK, &object),
        None => not_found("nodes", name),
    }
}

/// A registered node, if one has this name.
pub(super) fn registered(shared: &Shared, name: &str) -> Option<Value> {
    shared.registered.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
}

/// Simulated nodes cannot be changed through the API (a deliberate difference from a real server).
fn read_only(name: &str) -> Response<Body> {
    status(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        &format!("kubesim: node {name:?} is simulated and cannot be changed through the API"),
        Some(json!({"name": name, "kind": "nodes"})),
    )
}

/// A new `resourceVersion` from the cluster's counter.
fn stamp(shared: &Shared, object: &mut Value) {
    let rv = shared.resource_version.fetch_add(1, Ordering::Relaxed) + 1;
    object["metadata"]["resourceVersion"] = rv.to_string().into();
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` deletes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (key, value) in fields {
        if value.is_null() {
            if let Some(map) = target.as_object_mut() {
                map.remove(key);
            }
        } else {
            merge(&mut target[key.as_str()], value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patches_follow_rfc_7386() {
        // RFC 7386 appendix A, a few of its cases.
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        merge(&mut doc, &json!({"a": "z", "c": {"f": null}, "l": [3], "n": {"m": 1}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "l": [3], "n": {"m": 1}}));
        let mut scalar = json!("x");
        merge(&mut scalar, &json!({"a": 1}));
        assert_eq!(scalar, json!({"a": 1}));
    }
}
