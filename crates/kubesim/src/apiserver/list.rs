//! Reading nodes: `GET /api/v1/nodes` (selectors applied, `limit` / `continue` paging with
//! `remainingItemCount`, except from the watch cache: `resourceVersion=0` answers everything at once), the `Node` JSON of one node, and the `meta.k8s.io/v1` Table kubectl prints.
//! Selector syntax lives in `selector`; routing and authorization in the parent module.

use std::{
    collections::BTreeMap,
    sync::{Arc, atomic::Ordering},
};

use base64::Engine;
use http::{Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::{
    bad_request,
    selector::{parse_field_selector, parse_label_selector},
};
use crate::{
    Node, Shared,
    http::{Body, human_duration, json, rfc3339, unix_now},
};

/// Whether the client asked for a `meta.k8s.io/v1` Table first (`kubectl get` does).
pub(super) fn wants_table<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|accept| {
            accept.split(',').next().map(|first| first.contains("as=Table") && first.contains("v=v1"))
        })
        .unwrap_or(false)
}

/// A simulated node as the `v1` `Node` object kubectl reads.
pub(crate) fn node_json(shared: &Shared, node: &Node) -> Value {
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

/// `GET /api/v1/nodes`: the nodes the selectors match, one page of them, as a `NodeList` or a Table.
pub(super) fn list_nodes(
    shared: &Shared,
    query: &BTreeMap<String, String>,
    table_wanted: bool,
) -> Response<Body> {
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
    // `resourceVersion=0` is served from the watch cache, which ignores `limit` and answers every
    // match in one page (kube-apiserver v1.20's cacher delegates to etcd only when a limit comes
    // with another resource version, or with a continue token); the conformance tier checks it.
    let from_cache = start_after.is_none() && query.get("resourceVersion").is_some_and(|rv| rv == "0");
    let limit: usize =
        if from_cache { 0 } else { query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0) };
    let mut everything: Vec<Listed> = shared.nodes.iter().cloned().map(Listed::Simulated).collect();
    let registered =
        shared.registered.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect::<Vec<_>>();
    everything.extend(registered.into_iter().map(Listed::Registered));
    everything.sort_by(|a, b| a.name().cmp(b.name()));
    let matching: Vec<Listed> = everything
        .into_iter()
        .filter(|n| labels.iter().all(|r| r.matches(&n.labels())))
        .filter(|n| fields.iter().all(|r| r.matches(n.name())))
        .filter(|n| start_after.as_ref().is_none_or(|s| n.name() > s.as_str()))
        .collect();
    let (page, rest) =
        if limit > 0 && matching.len() > limit { matching.split_at(limit) } else { (&matching[..], &[][..]) };
    let continue_token = (!rest.is_empty()).then(|| encode_continue(rv, page[page.len() - 1].name()));
    let remaining = (!rest.is_empty() && labels.is_empty() && fields.is_empty()).then_some(rest.len());
    let items: Vec<Value> = page.iter().map(|n| n.object(shared)).collect();
    if table_wanted {
        return json(StatusCode::OK, &table(shared, &items, continue_token, remaining));
    }
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(token) = continue_token {
        metadata["continue"] = token.into();
    }
    if let Some(remaining) = remaining {
        metadata["remainingItemCount"] = remaining.into();
    }
    json(
        StatusCode::OK,
        &json!({"kind": "NodeList", "apiVersion": "v1", "metadata": metadata, "items": items}),
    )
}

/// A node in a list: simulated (with a kubelet here) or registered through `POST /api/v1/nodes`.
enum Listed {
    Simulated(Arc<Node>),
    Registered(Value),
}

impl Listed {
    fn name(&self) -> &str {
        match self {
            Listed::Simulated(node) => &node.name,
            Listed::Registered(object) => {
                object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
            }
        }
    }

    fn labels(&self) -> BTreeMap<String, String> {
        match self {
            Listed::Simulated(node) => node.labels.clone(),
            Listed::Registered(object) => labels_of(object),
        }
    }

    fn object(&self, shared: &Shared) -> Value {
        match self {
            Listed::Simulated(node) => node_json(shared, node),
            Listed::Registered(object) => object.clone(),
        }
    }
}

/// `metadata.labels` of a node object.
fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| labels.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default()
}

/// A continue token in upstream's shape: base64 JSON naming the last key of the page.
fn encode_continue(rv: u64, last: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{last}\u{0}")});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

/// The key a continue token resumes after, if it is one of ours.
fn decode_continue(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE.decode(token).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    if value.get("v")?.as_str()? != "meta.k8s.io/v1" {
        return None;
    }
    Some(value.get("start")?.as_str()?.trim_end_matches('\u{0}').to_string())
}

/// Node objects as a `meta.k8s.io/v1` Table, the columns `kubectl get nodes` prints
/// (pkg/printers/internalversion: printNode).
pub(super) fn table(
    shared: &Shared,
    nodes: &[Value],
    continue_token: Option<String>,
    remaining: Option<usize>,
) -> Value {
    let column = |name: &str, kind: &str, format: &str, priority: u8, description: &str| json!({"name": name, "type": kind, "format": format, "description": description, "priority": priority});
    let now = unix_now();
    let rows: Vec<Value> = nodes
        .iter()
        .map(|node| {
            let text = |pointer: &str| node.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string();
            let labels = labels_of(node);
            let roles: Vec<&str> = labels.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect();
            let roles = if roles.is_empty() { "<none>".to_string() } else { roles.join(",") };
            let conditions = node.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
            let ready = conditions.iter().find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"));
            let status = match ready.and_then(|c| c.get("status")).and_then(Value::as_str) {
                Some("True") => "Ready",
                Some("False") => "NotReady",
                _ => "Unknown",
            };
            let address = |kind: &str| {
                node.pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .and_then(|a| a.iter().find(|a| a.get("type").and_then(Value::as_str) == Some(kind)))
                    .and_then(|a| a.get("address").and_then(Value::as_str))
                    .unwrap_or("<none>")
                    .to_string()
            };
            let created = text("/metadata/creationTimestamp")
                .parse::<jiff::Timestamp>()
                .map(|t| u64::try_from(t.as_second()).unwrap_or(0))
                .unwrap_or(now);
            let or_unknown = |value: String| if value.is_empty() { "<unknown>".to_string() } else { value };
            json!({
                "cells": [text("/metadata/name"), status, roles, human_duration(now.saturating_sub(created)),
                          text("/status/nodeInfo/kubeletVersion"), address("InternalIP"), address("ExternalIP"),
                          or_unknown(text("/status/nodeInfo/osImage")), or_unknown(text("/status/nodeInfo/kernelVersion")),
                          or_unknown(text("/status/nodeInfo/containerRuntimeVersion"))],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": node["metadata"]},
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(7, "node-03");
        assert_eq!(decode_continue(&token).as_deref(), Some("node-03"));
        assert_eq!(decode_continue("garbage"), None);
    }
}
