//! Reading pods: `GET /api/v1/pods` and `GET /api/v1/namespaces/{namespace}/pods`, with label and
//! field selectors and `limit` / `continue` paging as kube-apiserver serves them from etcd: pods in
//! key order (namespace, then name), each page filled up to `limit` matching pods, a continue token
//! naming the last key whenever any key follows a full page, `remainingItemCount` only without
//! selectors. Each pod's JSON is rendered once and spliced into every page that lists it. The pods
//! themselves live in `crate::pods`; routing and authorization in the parent module.

use std::{collections::BTreeMap, ops::Bound, sync::atomic::Ordering};

use base64::Engine;
use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::{
    bad_request,
    selector::{FieldRequirement, Requirement, parse_label_selector, parse_pod_field_selector},
};
use crate::{
    Shared,
    http::{Body, respond},
    pods::SimPod,
};

/// `GET /api/v1/pods` (`namespace` empty) or `GET /api/v1/namespaces/{namespace}/pods`.
pub(super) fn list_pods(
    shared: &Shared,
    namespace: &str,
    query: &BTreeMap<String, String>,
) -> Response<Body> {
    let labels = match parse_label_selector(query.get("labelSelector").map(String::as_str).unwrap_or("")) {
        Ok(l) => l,
        Err(e) => return bad_request(&e),
    };
    let fields = match parse_pod_field_selector(query.get("fieldSelector").map(String::as_str).unwrap_or(""))
    {
        Ok(f) => f,
        Err(e) => return bad_request(&e),
    };
    let start = match query.get("continue").filter(|c| !c.is_empty()) {
        None => None,
        Some(token) => match decode_continue(token, namespace) {
            Some(key) => Some(key),
            None => {
                return bad_request(
                    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
                );
            }
        },
    };
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    let rv = shared.resource_version.load(Ordering::Relaxed);
    let pods = shared.pods.read().unwrap_or_else(|e| e.into_inner());
    let lower = match &start {
        Some(key) => Bound::Excluded(key.clone()),
        None => Bound::Included((namespace.to_string(), String::new())),
    };
    let unselected = labels.is_empty() && fields.is_empty();
    let mut page: Vec<&SimPod> = Vec::new();
    let mut last: Option<&(String, String)> = None;
    let mut more = false;
    let mut remaining = 0usize;
    for (key, pod) in pods.range((lower, Bound::Unbounded)) {
        if !namespace.is_empty() && key.0 != namespace {
            break;
        }
        // A full page ends the list as etcd's does: any key after it, matching or not, means a
        // continue token (the next page may then come back empty). Without selectors the server
        // also says how many remain; with them it does not count.
        if limit > 0 && page.len() == limit {
            more = true;
            if !unselected {
                break;
            }
            remaining += 1;
            continue;
        }
        if !matches(shared, pod, &labels, &fields) {
            continue;
        }
        page.push(pod);
        last = Some(key);
    }
    // The list in the order kube-apiserver writes it (kind, apiVersion, metadata, items), each
    // pod's JSON rendered once and spliced in.
    let mut metadata = format!("{{\"resourceVersion\":{}", Value::from(rv.to_string()));
    if more && let Some(key) = last {
        metadata.push_str(&format!(",\"continue\":{}", Value::from(encode_continue(rv, key, namespace))));
        if unselected {
            metadata.push_str(&format!(",\"remainingItemCount\":{remaining}"));
        }
    }
    metadata.push('}');
    let rendered: Vec<Bytes> = page.iter().map(|pod| rendered(shared, pod)).collect();
    let mut body = Vec::with_capacity(rendered.iter().map(|r| r.len() + 1).sum::<usize>() + 128);
    body.extend_from_slice(b"{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":");
    body.extend_from_slice(metadata.as_bytes());
    body.extend_from_slice(b",\"items\":[");
    for (index, pod) in rendered.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(pod);
    }
    body.extend_from_slice(b"]}");
    respond(StatusCode::OK, "application/json", body)
}

/// The `v1` `Pod` of a simulated pod as JSON bytes, rendered on its first listing and kept.
fn rendered(shared: &Shared, pod: &SimPod) -> Bytes {
    pod.rendered
        .get_or_init(|| {
            let node = pod.node.and_then(|i| shared.nodes.get(i));
            let host_ip = node.map(|n| n.addr.ip().to_string()).unwrap_or_default();
            let object = pod.to_json(node.map(|n| n.name.as_str()), &host_ip, shared.nodes.len());
            Bytes::from(serde_json::to_vec(&object).unwrap_or_default())
        })
        .clone()
}

/// Whether a pod meets every label and field requirement.
fn matches(shared: &Shared, pod: &SimPod, labels: &[Requirement], fields: &[FieldRequirement]) -> bool {
    if !labels.is_empty() {
        let own: BTreeMap<String, String> =
            pod.labels().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        if !labels.iter().all(|r| r.matches(&own)) {
            return false;
        }
    }
    fields.iter().all(|f| {
        let node = pod.node.and_then(|i| shared.nodes.get(i));
        let actual = match f.field() {
            "metadata.name" => pod.name.clone(),
            "metadata.namespace" => pod.namespace.to_string(),
            "spec.nodeName" => node.map(|n| n.name.clone()).unwrap_or_default(),
            "spec.restartPolicy" => if pod.workload().kind == "Job" { "Never" } else { "Always" }.to_string(),
            "spec.schedulerName" => "default-scheduler".to_string(),
            "spec.serviceAccountName" => "default".to_string(),
            "status.phase" => pod.phase_name().to_string(),
            "status.podIP" => pod.pod_ip().unwrap_or_default(),
            _ => String::new(),
        };
        f.accepts(&actual)
    })
}

/// A continue token in upstream's shape: base64 JSON with the last key relative to the listed
/// prefix (`namespace/name` across namespaces, `name` within one) and a NUL after it.
fn encode_continue(rv: u64, key: &(String, String), namespace: &str) -> String {
    let start =
        if namespace.is_empty() { format!("{}/{}\u{0}", key.0, key.1) } else { format!("{}\u{0}", key.1) };
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

/// The key a continue token resumes after, if it is one of ours for this prefix.
fn decode_continue(token: &str, namespace: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE.decode(token).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    if value.get("v")?.as_str()? != "meta.k8s.io/v1" {
        return None;
    }
    let start = value.get("start")?.as_str()?.trim_end_matches('\u{0}');
    if namespace.is_empty() {
        let (ns, name) = start.split_once('/')?;
        Some((ns.to_string(), name.to_string()))
    } else {
        Some((namespace.to_string(), start.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_name_the_key_under_the_prefix() {
        let key = ("shop".to_string(), "db-3".to_string());
        assert_eq!(decode_continue(&encode_continue(1, &key, ""), ""), Some(key.clone()));
        assert_eq!(decode_continue(&encode_continue(1, &key, "shop"), "shop"), Some(key));
        assert_eq!(decode_continue("garbage", ""), None);
    }
}
