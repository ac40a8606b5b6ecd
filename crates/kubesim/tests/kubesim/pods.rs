//! Pods agree with the kubelets' histograms and with truth.json, and list like kube-apiserver:
//! pages of `limit` with `continue`, label and field selectors, per namespace.

use std::collections::BTreeSet;

use kubesim::{Cluster, PodTruth};
use serde_json::Value;

use crate::{api, kubectl};

/// Every page of a list path (which carries its own query), following `continue`.
async fn all_pages(cluster: &Cluster, path: &str, limit: usize) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut token = String::new();
    let join = if path.contains('?') { '&' } else { '?' };
    for pages in 1..=10_000 {
        let url = if token.is_empty() {
            format!("{path}{join}limit={limit}")
        } else {
            format!("{path}{join}limit={limit}&continue={token}")
        };
        let page = api(cluster, "GET", &url, None).await;
        assert_eq!(page.status, 200, "{url}: {}", page.text());
        let list: Value = serde_json::from_str(&page.text()).expect("a PodList");
        assert_eq!(list["kind"], "PodList");
        let got = list["items"].as_array().expect("items");
        assert!(got.len() <= limit);
        items.extend(got.iter().cloned());
        match list["metadata"]["continue"].as_str() {
            Some(next) if !next.is_empty() => token = next.to_string(),
            _ => return (items, pages),
        }
    }
    panic!("more than 10,000 pages")
}

fn names(items: &[Value]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|p| {
            (
                p["metadata"]["namespace"].as_str().unwrap_or("").to_string(),
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn truth_names<'a>(pods: impl Iterator<Item = &'a PodTruth>) -> BTreeSet<(String, String)> {
    pods.map(|p| (p.namespace.clone(), p.name.clone())).collect()
}

#[tokio::test]
async fn pods_match_the_histograms_and_list_like_the_api_server() {
    let cluster = Cluster::builder().nodes(5).seed(4).start().await.expect("start");
    let truth = cluster.truth();
    let everything: Vec<&PodTruth> =
        truth.nodes.iter().flat_map(|n| n.pods.iter()).chain(truth.unscheduled_pods.iter()).collect();
    for node in &truth.nodes {
        // One pod per start the kubelet recorded, plus pods still starting (not in the histogram
        // unless the kubelet double counts: then each pod is also recorded at its first sync).
        let started = node.pods.iter().filter(|p| p.kubelet_seconds.is_some()).count() as u64;
        let starting = node.pods.len() as u64 - started;
        let recorded = if node.double_count { 2 * started + starting } else { started };
        assert_eq!(recorded, node.pod_start.count, "{}", node.name);
        assert_eq!(started, node.pod_start_sli.as_ref().expect("sli").count, "{}", node.name);
        assert!(node.pods.iter().all(|p| p.node.as_deref() == Some(node.name.as_str())));
        for pod in node.pods.iter().filter(|p| p.phase == "Running" && !p.restarted) {
            // The API's one-second timestamps never disagree with the kubelet by a second or more.
            let kubelet = pod.kubelet_seconds.expect("started");
            let ready = pod.latencies.ready.expect("ready") as f64;
            assert!(ready + 1.0 > kubelet, "{}: ready {ready} s, kubelet {kubelet} s", pod.name);
        }
    }
    assert_eq!(truth.unscheduled_pods.len(), 2);
    assert!(everything.iter().any(|p| p.stateful) && everything.iter().any(|p| p.init_containers));

    // Paged: every pod exactly once, in key order.
    let (items, pages) = all_pages(&cluster, "/api/v1/pods", 37).await;
    assert_eq!(names(&items), truth_names(everything.iter().copied()));
    assert_eq!(items.len(), everything.len());
    assert_eq!(pages, everything.len().div_ceil(37));
    let keys: Vec<(String, String)> = names(&items).into_iter().collect();
    let listed: Vec<(String, String)> = items
        .iter()
        .map(|p| {
            (
                p["metadata"]["namespace"].as_str().unwrap().into(),
                p["metadata"]["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(listed, keys, "listed in namespace/name order");

    // Field selector on the node, label selector on the workload, one namespace.
    let node = &truth.nodes[1];
    let (on_node, _) =
        all_pages(&cluster, &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{}", node.name), 10).await;
    assert_eq!(names(&on_node), truth_names(node.pods.iter()));
    let (db, _) = all_pages(&cluster, "/api/v1/pods?labelSelector=app%3Ddb", 7).await;
    assert_eq!(
        names(&db),
        truth_names(everything.iter().copied().filter(|p| p.workload == "StatefulSet/db"))
    );
    let (shop, _) = all_pages(&cluster, "/api/v1/namespaces/shop/pods", 5).await;
    assert_eq!(names(&shop), truth_names(everything.iter().copied().filter(|p| p.namespace == "shop")));
    let (pending, _) = all_pages(&cluster, "/api/v1/pods?fieldSelector=spec.nodeName%3D", 100).await;
    assert_eq!(names(&pending), truth_names(truth.unscheduled_pods.iter()));

    // Without selectors a page says how many remain; with one it does not (as kube-apiserver).
    let first: Value =
        serde_json::from_str(&api(&cluster, "GET", "/api/v1/pods?limit=10", None).await.text()).unwrap();
    assert_eq!(first["metadata"]["remainingItemCount"], everything.len() - 10);
    let filtered: Value = serde_json::from_str(
        &api(&cluster, "GET", "/api/v1/pods?limit=1&labelSelector=app", None).await.text(),
    )
    .unwrap();
    assert!(filtered["metadata"].get("remainingItemCount").is_none());
    // A full page with keys after it continues, even when none of them match (etcd cannot know):
    // every cart pod fills the page, the db pods follow, and the next page comes back empty.
    let carts = everything.iter().filter(|p| p.workload == "Deployment/cart").count();
    let sim = &cluster;
    let page = |path: String| async move {
        let answer = api(sim, "GET", &path, None).await;
        serde_json::from_str::<Value>(&answer.text()).expect("a PodList")
    };
    let full = page(format!("/api/v1/namespaces/shop/pods?labelSelector=app%3Dcart&limit={carts}")).await;
    assert_eq!(full["items"].as_array().map(Vec::len), Some(carts));
    let token = full["metadata"]["continue"].as_str().expect("a continue token after a full page");
    let rest =
        page(format!("/api/v1/namespaces/shop/pods?labelSelector=app%3Dcart&limit={carts}&continue={token}"))
            .await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(0), "{rest}");
    assert!(rest["metadata"].get("continue").is_none(), "{rest}");
    // No pod is newer than the list that holds it, before and after new pods.
    let newest = |list: &Value| {
        let version = |v: &Value| v.as_str().and_then(|s| s.parse::<u64>().ok()).expect("a number");
        let items = list["items"].as_array().expect("items");
        (
            version(&list["metadata"]["resourceVersion"]),
            items.iter().map(|p| version(&p["metadata"]["resourceVersion"])).max(),
        )
    };
    let all: Value = serde_json::from_str(&api(&cluster, "GET", "/api/v1/pods", None).await.text()).unwrap();
    let (list, pod) = newest(&all);
    assert!(pod.is_some_and(|p| p <= list), "{list} {pod:?}");
    // The list is written in kube-apiserver's field order: metadata before items.
    let text = api(&cluster, "GET", "/api/v1/pods?limit=1", None).await.text();
    assert!(
        text.starts_with(r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"#),
        "{text}"
    );

    let unsupported =
        api(&cluster, "GET", "/api/v1/pods?fieldSelector=spec.unschedulable%3Dfalse", None).await;
    assert_eq!(unsupported.status, 400);
    assert!(unsupported.text().contains("field label not supported: spec.unschedulable"));

    // The viewer may list nodes, not pods.
    let denied =
        kubectl(&cluster, &cluster.viewer_kubeconfig(), &["get", "--raw", "/api/v1/pods?limit=1"]).await;
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("Forbidden"), "{denied:?}");

    // New starts are new pods, and truth.json follows.
    cluster.advance(3);
    let all: Value = serde_json::from_str(&api(&cluster, "GET", "/api/v1/pods", None).await.text()).unwrap();
    let (later, pod) = newest(&all);
    assert!(pod.is_some_and(|p| p <= later) && later > list, "{list} → {later}, newest pod {pod:?}");
    let after = cluster.truth();
    for (before, now) in truth.nodes.iter().zip(&after.nodes) {
        assert_eq!(now.pods.len(), before.pods.len() + 3);
        let started = now.pods.iter().filter(|p| p.kubelet_seconds.is_some()).count() as u64;
        let starting = now.pods.len() as u64 - started;
        // Twice per started pod and once per pod still starting on a double-counting kubelet.
        let recorded = if now.double_count { 2 * started + starting } else { started };
        assert_eq!(recorded, now.pod_start.count, "{}", now.name);
        assert_eq!(started, now.pod_start_sli.as_ref().expect("sli").count);
    }
    let file: kubesim::Truth =
        serde_json::from_slice(&std::fs::read(cluster.state_dir().join("truth.json")).unwrap()).unwrap();
    assert_eq!(file, after);
}
