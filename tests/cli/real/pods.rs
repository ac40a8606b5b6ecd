//! `pods` on both backends: every pod's milestones as its timestamps say and why the missing ones
//! are missing, across pages, with the label and field selectors and one namespace; pages as etcd
//! ends them; a user without `list pods` is told the fix. kubesim serves its simulated pods
//! (truth.json says what each must read as); the real API server has no scheduler or kubelet, so
//! the scenario creates pods bound to a node and writes their status through the `status`
//! subresource, as a kubelet would: running, starting, restarted, finished and unschedulable.

use std::collections::BTreeMap;

use super::Backend;
use crate::{run_with_stdin, stderr, stdout};

/// Expected per pod: (namespace, name) → [scheduled, initialized, started, containers-ready,
/// ready], why each missing one is missing (milestone → reason key), and the pod's node.
type Expected = BTreeMap<(String, String), ([Option<u64>; 5], BTreeMap<String, String>, Option<String>)>;

const NAMESPACE: &str = "podstart";
const MILESTONES: [&str; 5] = ["scheduled", "initialized", "started", "containers-ready", "ready"];

/// What a created pod's status says, as its kubelet (or the scheduler) would have written it.
#[derive(Clone, Copy)]
enum State {
    /// Running and ready this many seconds after creation.
    Ready(u64),
    /// Scheduled, its container still being created.
    Starting,
    /// Ready once, then its container restarted: the status keeps only the later start.
    Restarted,
    /// Ran to completion (restartPolicy Never).
    Finished,
    /// No node fits it.
    Unschedulable,
}

/// Pods created in the real server: name, node index, label, state.
const CREATED: [(&str, Option<usize>, &str, State); 8] = [
    ("web-a", Some(0), "web", State::Ready(3)),
    ("web-b", Some(0), "web", State::Ready(9)),
    ("web-c", Some(1), "web", State::Ready(4)),
    ("db-0", Some(1), "db", State::Ready(20)),
    ("starting", Some(0), "web", State::Starting),
    ("restarted", Some(1), "web", State::Restarted),
    ("finished", Some(1), "report", State::Finished),
    ("waiting", None, "web", State::Unschedulable),
];

/// Reasons keyed by milestone for every milestone of `latencies` that is missing.
fn reasons(latencies: &[Option<u64>; 5], why: &str) -> BTreeMap<String, String> {
    MILESTONES
        .iter()
        .zip(latencies)
        .filter(|(_, l)| l.is_none())
        .map(|(m, _)| (m.to_string(), why.to_string()))
        .collect()
}

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
        let (want, why, node) = &expected[&key];
        let got: Vec<Option<u64>> =
            MILESTONES.iter().map(|m| pod["latencies"][m].as_f64().map(|s| s as u64)).collect();
        assert_eq!(got, want.to_vec(), "{}: {key:?}", backend.name);
        let skipped: BTreeMap<String, String> = pod["skipped"]
            .as_object()
            .map(|o| o.iter().map(|(m, r)| (m.clone(), r.as_str().unwrap_or("").to_string())).collect())
            .unwrap_or_default();
        assert_eq!(&skipped, why, "{}: {key:?}", backend.name);
        assert_eq!(pod["node"].as_str(), node.as_deref(), "{}: {key:?}", backend.name);
    }
    pages_end_as_etcd_ends_them(backend, &namespace, &expected);
    // The field selector on the node and a label selector reach the server.
    let node = expected.values().find_map(|(_, _, n)| n.clone()).expect("a scheduled pod");
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
    let want = expected.values().filter(|(_, _, n)| n.as_deref() == Some(node.as_str())).count();
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

/// A page filled by a label selector ends the way etcd paging ends it: with a continue token when
/// any key follows, matching or not, and no `remainingItemCount` (the next page comes back empty);
/// without a selector the page says how many remain. `expected` holds every pod of `namespace`.
fn pages_end_as_etcd_ends_them(backend: &Backend, namespace: &str, expected: &Expected) {
    let raw = |query: &str| {
        let out = backend.kubectl(&["get", "--raw", &format!("/api/v1/namespaces/{namespace}/pods?{query}")]);
        assert!(out.status.success(), "{}: {query}: {}", backend.name, stderr(&out));
        backend.json(&out)
    };
    // The pods of the first app in key order, which others follow.
    let first = &expected.keys().next().expect("pods").1;
    let app = first.split('-').next().expect("a name");
    let matching = expected.keys().filter(|(_, name)| name.starts_with(&format!("{app}-"))).count();
    assert!(matching < expected.len(), "{}: other pods follow {app}", backend.name);
    let full = raw(&format!("labelSelector=app%3D{app}&limit={matching}"));
    assert_eq!(full["items"].as_array().map(Vec::len), Some(matching), "{}: {full}", backend.name);
    assert!(full["metadata"].get("remainingItemCount").is_none(), "{}: {full}", backend.name);
    let token =
        full["metadata"]["continue"].as_str().unwrap_or_else(|| panic!("{}: no continue", backend.name));
    let rest = raw(&format!("labelSelector=app%3D{app}&limit={matching}&continue={token}"));
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(0), "{}: {rest}", backend.name);
    assert!(rest["metadata"].get("continue").is_none(), "{}: {rest}", backend.name);
    let counted = raw("limit=1");
    assert_eq!(counted["metadata"]["remainingItemCount"], expected.len() - 1, "{}: {counted}", backend.name);
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
            let latencies =
                [l.scheduled, l.initialized, l.first_container_started, l.containers_ready, l.ready];
            // What truth.json says of the pod is why a milestone is missing.
            let why = if p.restarted {
                "restarted"
            } else if p.phase == "Succeeded" {
                "finished"
            } else {
                "not_yet"
            };
            ((p.namespace.clone(), p.name.clone()), (latencies, reasons(&latencies, why), p.node.clone()))
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
    for (name, node, app, state) in CREATED {
        let node_line = node.map(|i| format!("  nodeName: {}\n", nodes[i])).unwrap_or_default();
        let restart = if matches!(state, State::Finished) { "Never" } else { "Always" };
        manifests.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\n  labels: {{app: {app}}}\nspec:\n{node_line}  restartPolicy: {restart}\n  automountServiceAccountToken: false\n  containers:\n  - name: main\n    image: registry.example.com/{app}:1\n"
        ));
    }
    let mut apply = std::process::Command::new("kubectl");
    apply.arg("--kubeconfig").arg(&backend.admin).args(["create", "-f", "-"]);
    let out = run_with_stdin(apply, manifests.as_bytes());
    assert!(out.status.success(), "kubectl create: {}", stderr(&out));
    let mut expected = Expected::new();
    for (name, node, _, state) in CREATED {
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
        let condition = |kind: &str, status: bool, seconds: u64, reason: &str| {
            let reason = if reason.is_empty() { String::new() } else { format!(r#", "reason": "{reason}""#) };
            let status = if status { "True" } else { "False" };
            format!(
                r#"{{"type": "{kind}", "status": "{status}", "lastTransitionTime": "{}"{reason}}}"#,
                at(seconds)
            )
        };
        let container = |ready: bool, restarts: u32, state: String| {
            format!(
                r#"[{{"name": "main", "image": "registry.example.com/x:1", "imageID": "", "ready": {ready},
                     "restartCount": {restarts}, "state": {state}}}]"#
            )
        };
        let status = |phase: &str, conditions: [String; 4], containers: String| {
            format!(
                r#"{{"status": {{"phase": "{phase}", "conditions": [{}], "containerStatuses": {containers}}}}}"#,
                conditions.join(", ")
            )
        };
        let scheduled = || (condition("PodScheduled", true, 1, ""), condition("Initialized", true, 1, ""));
        let (status, latencies, why) = match state {
            State::Ready(ready) => {
                let (s, i) = scheduled();
                let running = format!(r#"{{"running": {{"startedAt": "{}"}}}}"#, at(ready - 1));
                let conditions =
                    [s, i, condition("ContainersReady", true, ready, ""), condition("Ready", true, ready, "")];
                let latencies = [Some(1), Some(1), Some(ready - 1), Some(ready), Some(ready)];
                (status("Running", conditions, container(true, 0, running)), latencies, "")
            }
            State::Starting => {
                let (s, i) = scheduled();
                let waiting = r#"{"waiting": {"reason": "ContainerCreating"}}"#.to_string();
                let conditions = [
                    s,
                    i,
                    condition("ContainersReady", false, 1, "ContainersNotReady"),
                    condition("Ready", false, 1, "ContainersNotReady"),
                ];
                (status("Pending", conditions, container(false, 0, waiting)), [Some(1), Some(1), None, None, None], "not_yet")
            }
            State::Restarted => {
                // Ready at 5 s, then the container restarted at 60 s and was ready again at 62 s.
                let (s, i) = scheduled();
                let running = format!(r#"{{"running": {{"startedAt": "{}"}}}}"#, at(61));
                let conditions = [s, i, condition("ContainersReady", true, 62, ""), condition("Ready", true, 62, "")];
                (status("Running", conditions, container(true, 1, running)), [Some(1), Some(1), None, None, None], "restarted")
            }
            State::Finished => {
                let (s, i) = scheduled();
                let done = format!(
                    r#"{{"terminated": {{"exitCode": 0, "reason": "Completed", "startedAt": "{}", "finishedAt": "{}"}}}}"#,
                    at(2),
                    at(30)
                );
                let conditions = [
                    s,
                    i,
                    condition("ContainersReady", false, 30, "PodCompleted"),
                    condition("Ready", false, 30, "PodCompleted"),
                ];
                (status("Succeeded", conditions, container(false, 0, done)), [Some(1), Some(1), Some(2), None, None], "finished")
            }
            State::Unschedulable => (
                r#"{"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/600 nodes are available"}]}}"#.to_string(),
                [None; 5],
                "not_yet",
            ),
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
        expected.insert(
            (NAMESPACE.to_string(), name.to_string()),
            (latencies, reasons(&latencies, why), node.map(|i| nodes[i].clone())),
        );
    }
    (expected, NAMESPACE.to_string())
}
