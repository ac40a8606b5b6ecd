//! `pods` on both backends: every pod's milestones as its timestamps say, across pages, with the
//! label and field selectors and one namespace; a user without `list pods` is told the fix.
//! kubesim serves its simulated pods (truth.json says what each must read as); the real API
//! server has no scheduler or kubelet, so the scenario creates pods bound to a node and writes
//! their status through the `status` subresource, as a kubelet would.

use std::collections::BTreeMap;

use super::Backend;
use crate::{run_with_stdin, stderr, stdout};

/// Expected latencies per pod: (namespace, name) → [scheduled, initialized, started,
/// containers-ready, ready], and each pod's node.
type Expected = BTreeMap<(String, String), ([Option<u64>; 5], Option<String>)>;

const NAMESPACE: &str = "podstart";

/// Pods created in the real server: name, node index, label, seconds to ready (None: pending).
const CREATED: [(&str, Option<usize>, &str, Option<u64>); 5] = [
    ("web-a", Some(0), "web", Some(3)),
    ("web-b", Some(0), "web", Some(9)),
    ("web-c", Some(1), "web", Some(4)),
    ("db-0", Some(1), "db", Some(20)),
    ("waiting", None, "web", None),
];

pub(super) fn pods_scenario(backend: &Backend) {
    let (expected, namespace) = if backend.real.is_some() { create(backend) } else { from_truth(backend) };
    let admin = backend.path(&backend.admin);
    let out =
        backend.run(&["pods", "--kubeconfig", &admin, "-o", "json", "--chunk-size", "2", "-n", &namespace]);
    assert_eq!(out.status.code(), Some(0), "{}: {}", backend.name, stderr(&out));
    let report = backend.json(&out);
    let pods = report["pods"].as_array().expect("pods");
    assert_eq!(pods.len(), expected.len(), "{}: every pod of {namespace}, across pages", backend.name);
    for pod in pods {
        let key = (
            pod["namespace"].as_str().expect("a string").to_string(),
            pod["name"].as_str().expect("a string").to_string(),
        );
        let (want, node) = &expected[&key];
        let got: Vec<Option<u64>> = ["scheduled", "initialized", "started", "containers-ready", "ready"]
            .iter()
            .map(|m| pod["latencies"][m].as_f64().map(|s| s as u64))
            .collect();
        assert_eq!(got, want.to_vec(), "{}: {key:?}", backend.name);
        assert_eq!(pod["node"].as_str(), node.as_deref(), "{}: {key:?}", backend.name);
    }
    // The field selector on the node and a label selector reach the server.
    let node = expected.values().find_map(|(_, n)| n.clone()).expect("a scheduled pod");
    let on_node = backend.json(&backend.run(&[
        "pods",
        "--kubeconfig",
        &admin,
        "-o",
        "json",
        "-n",
        &namespace,
        "--field-selector",
        &format!("spec.nodeName={node}"),
    ]));
    let want = expected.values().filter(|(_, n)| n.as_deref() == Some(node.as_str())).count();
    assert_eq!(on_node["cluster"]["pods"], want, "{}", backend.name);
    let db = backend.json(&backend.run(&[
        "pods",
        "--kubeconfig",
        &admin,
        "-o",
        "json",
        "-n",
        &namespace,
        "-l",
        "app=db",
    ]));
    let want = expected.keys().filter(|(_, name)| name.starts_with("db-")).count();
    assert_eq!(db["cluster"]["pods"], want, "{}", backend.name);
    // The cross-check reads the node's kubelet through the API server's proxy.
    let out = backend.run(&[
        "pods",
        "--kubeconfig",
        &admin,
        "--cross-check",
        "-o",
        "json",
        "--field-selector",
        &format!("spec.nodeName={node}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}: {}", backend.name, stderr(&out));
    let checked = backend.json(&out);
    let nodes = checked["cross_check"]["nodes"].as_array().expect("cross-check nodes");
    assert_eq!(nodes.len(), 1, "{}: only the node named", backend.name);
    let check = &nodes[0];
    assert_eq!(check["node"], node.as_str(), "{}", backend.name);
    assert!(check["duration"]["count"].as_u64() > Some(0), "{}: {check}", backend.name);
    if backend.real.is_some() {
        // These kubelets never ran the real server's pods; they recorded kubesim's own starts.
        // More starts than pods is what pods deleted since look like: unknown, never agree.
        assert_eq!(check["duration"]["count_state"], "more", "{}: {check}", backend.name);
        assert_eq!(check["verdict"], "unknown", "{}: {check}", backend.name);
    } else {
        let truth = backend.kubelets.truth();
        let double = truth.nodes.iter().find(|n| n.name == node).expect("the node").double_count;
        let want = if double { "double-count" } else { "agree" };
        assert_eq!(check["verdict"], want, "{}: {check}", backend.name);
    }
    // The viewer may list nodes, not pods.
    let viewer = backend.path(&backend.viewer);
    let denied = backend.run(&["pods", "--kubeconfig", &viewer]);
    assert_eq!(denied.status.code(), Some(2), "{}: {}", backend.name, stdout(&denied));
    assert!(stderr(&denied).contains("rbac --with-pods"), "{}: {}", backend.name, stderr(&denied));
}

/// kubesim's own pods in namespace `shop`, as truth.json has them.
fn from_truth(backend: &Backend) -> (Expected, String) {
    let truth = backend.kubelets.truth();
    let expected = truth
        .nodes
        .iter()
        .flat_map(|n| n.pods.iter())
        .chain(truth.unscheduled_pods.iter())
        .filter(|p| p.namespace == "shop")
        .map(|p| {
            let l = &p.latencies;
            (
                (p.namespace.clone(), p.name.clone()),
                (
                    [l.scheduled, l.initialized, l.first_container_started, l.containers_ready, l.ready],
                    p.node.clone(),
                ),
            )
        })
        .collect();
    (expected, "shop".to_string())
}

/// Creates the pods of [`CREATED`] in the real server and writes their status.
fn create(backend: &Backend) -> (Expected, String) {
    let nodes = backend.kubelets.node_names();
    let kubectl = |args: &[&str]| {
        let out = backend.kubectl(args);
        assert!(out.status.success(), "kubectl {args:?}: {}", stderr(&out));
        out
    };
    kubectl(&["create", "namespace", NAMESPACE]);
    // No controller manager runs: the namespace's default service account is made by hand.
    kubectl(&["create", "serviceaccount", "default", "-n", NAMESPACE]);
    let mut manifests = String::new();
    for (name, node, app, _) in CREATED {
        let node_line = node.map(|i| format!("  nodeName: {}\n", nodes[i])).unwrap_or_default();
        manifests.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\n  labels: {{app: {app}}}\nspec:\n{node_line}  automountServiceAccountToken: false\n  containers:\n  - name: main\n    image: registry.example.com/{app}:1\n"
        ));
    }
    let mut apply = std::process::Command::new("kubectl");
    apply.arg("--kubeconfig").arg(&backend.admin).args(["create", "-f", "-"]);
    let out = run_with_stdin(apply, manifests.as_bytes());
    assert!(out.status.success(), "kubectl create: {}", stderr(&out));
    let mut expected = Expected::new();
    for (name, node, _, ready) in CREATED {
        let created = stdout(&kubectl(&[
            "get",
            "pod",
            name,
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.metadata.creationTimestamp}",
        ]));
        let created: jiff::Timestamp = created.trim().parse().expect("an RFC 3339 creation time");
        let at = |seconds: u64| {
            created
                .checked_add(jiff::SignedDuration::from_secs(seconds as i64))
                .expect("in range")
                .to_string()
        };
        let status = match ready {
            Some(ready) => format!(
                r#"{{"status": {{"phase": "Running", "conditions": [
                    {{"type": "PodScheduled", "status": "True", "lastTransitionTime": "{s}"}},
                    {{"type": "Initialized", "status": "True", "lastTransitionTime": "{s}"}},
                    {{"type": "ContainersReady", "status": "True", "lastTransitionTime": "{r}"}},
                    {{"type": "Ready", "status": "True", "lastTransitionTime": "{r}"}}],
                  "containerStatuses": [{{"name": "main", "image": "registry.example.com/x:1", "imageID": "", "ready": true,
                    "restartCount": 0, "state": {{"running": {{"startedAt": "{c}"}}}}}}]}}}}"#,
                s = at(1),
                r = at(ready),
                c = at(ready - 1),
            ),
            None => r#"{"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/600 nodes are available"}]}}"#.to_string(),
        };
        kubectl(&[
            "patch",
            "pod",
            name,
            "-n",
            NAMESPACE,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ]);
        let latencies = match ready {
            Some(ready) => [Some(1), Some(1), Some(ready - 1), Some(ready), Some(ready)],
            None => [None; 5],
        };
        expected
            .insert((NAMESPACE.to_string(), name.to_string()), (latencies, node.map(|i| nodes[i].clone())));
    }
    (expected, NAMESPACE.to_string())
}
