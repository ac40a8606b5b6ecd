//! The built binary against the simulated cluster: `get`, `histogram`, `snapshot` and `demo`
//! through both methods, with faults, wrong credentials and exit statuses.

use std::process::Output;
use std::time::Duration;

use kubesim::{Cluster, Fault};

use crate::{bin, stderr, stdout};

/// A cluster on its own runtime threads, so the test can block on the binary meanwhile.
struct Live {
    cluster: Option<Cluster>,
    runtime: tokio::runtime::Runtime,
}

impl Live {
    fn start(nodes: usize, faults: &[(&str, Fault)]) -> Live {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let mut builder = Cluster::builder().nodes(nodes).seed(11);
        for (node, fault) in faults {
            builder = builder.fault(*node, fault.clone());
        }
        let cluster = runtime.block_on(builder.start()).expect("kubesim starts");
        Live { cluster: Some(cluster), runtime }
    }

    fn cluster(&self) -> &Cluster {
        self.cluster.as_ref().expect("running")
    }

    fn admin(&self) -> String {
        self.cluster().admin_kubeconfig().to_string_lossy().into_owned()
    }

    /// Runs the binary with `args` plus the admin kubeconfig.
    fn run(&self, args: &[&str]) -> Output {
        bin().args(args).args(["--kubeconfig", &self.admin()]).output().expect("runs")
    }

    fn direct_args(&self) -> Vec<String> {
        let cluster = self.cluster();
        vec![
            "--method".into(),
            "direct".into(),
            "--token-file".into(),
            cluster.sa_token_path().to_string_lossy().into_owned(),
            "--kubelet-ca".into(),
            cluster.kubelet_ca_path().to_string_lossy().into_owned(),
        ]
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            self.runtime.block_on(cluster.shutdown());
        }
    }
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(output)))
}

#[test]
fn both_methods_report_exactly_the_simulated_truth() {
    let live = Live::start(6, &[]);
    let proxy = live.run(&["histogram", "-o", "json"]);
    assert_eq!(proxy.status.code(), Some(0), "{}", stderr(&proxy));
    let direct_args = live.direct_args();
    let mut args = vec!["histogram", "-o", "json"];
    args.extend(direct_args.iter().map(String::as_str));
    let direct = live.run(&args);
    assert_eq!(direct.status.code(), Some(0), "{}", stderr(&direct));

    let (proxy, direct) = (json(&proxy), json(&direct));
    assert_eq!(proxy["method"], "proxy");
    assert_eq!(direct["method"], "direct");
    assert_eq!(proxy["nodes"], direct["nodes"], "both methods read the same kubelets");

    let truth = live.cluster().truth();
    assert_eq!(proxy["nodes"].as_array().expect("nodes").len(), truth.nodes.len());
    for node in &truth.nodes {
        let reported = proxy["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["node"] == node.name.as_str())
            .unwrap_or_else(|| panic!("{} reported", node.name));
        assert_eq!(reported["count"], node.pod_start.count as f64, "{}", node.name);
        assert!(
            (reported["sum"].as_f64().expect("sum") - node.pod_start.sum).abs()
                < 1e-6 * node.pod_start.sum.max(1.0)
        );
        assert_eq!(reported["kubelet_version"], node.kubelet_version.as_str());
        let buckets: Vec<(String, f64)> = reported["buckets"]
            .as_array()
            .expect("buckets")
            .iter()
            .map(|b| (b["le"].to_string().trim_matches('"').to_string(), b["count"].as_f64().expect("count")))
            .collect();
        let expected: Vec<(String, f64)> = node
            .pod_start
            .buckets
            .iter()
            .map(|b| (if b.le.is_infinite() { "+Inf".into() } else { format!("{}", b.le) }, b.count as f64))
            .collect();
        assert_eq!(buckets.len(), expected.len(), "{}", node.name);
        for ((le, count), (want_le, want_count)) in buckets.iter().zip(&expected) {
            assert_eq!(le.parse::<f64>().ok(), want_le.parse::<f64>().ok(), "{}", node.name);
            assert_eq!(count, want_count, "{} le={le}", node.name);
        }
    }
}

#[test]
fn faulty_nodes_are_reported_and_the_rest_analysed() {
    let live = Live::start(
        5,
        &[("node-1", Fault::Hang), ("node-2", Fault::Status(500)), ("node-3", Fault::Garbage)],
    );
    let output = live.run(&["histogram", "-o", "json", "--timeout", "1s", "--retries", "0"]);
    assert_eq!(output.status.code(), Some(1), "partial report: {}", stderr(&output));
    let report = json(&output);
    let errors = report["errors"].as_array().expect("errors");
    let kind = |node: &str| errors.iter().find(|e| e["node"] == node).map(|e| e["kind"].clone());
    assert_eq!(kind("node-1"), Some("timeout".into()), "{errors:?}");
    assert_eq!(kind("node-2"), Some("server_error".into()), "{errors:?}");
    let reported: Vec<&str> =
        report["nodes"].as_array().expect("nodes").iter().filter_map(|n| n["node"].as_str()).collect();
    assert!(reported.contains(&"node-0") && reported.contains(&"node-4"), "{reported:?}");
    // Garbage lines are dropped with a warning naming the node and the line; the rest is kept.
    assert!(stderr(&output).contains("warning: node node-3: line "), "{}", stderr(&output));
}

#[test]
fn the_viewer_is_forbidden_and_told_which_rule_is_missing() {
    let live = Live::start(2, &[]);
    let viewer = live.cluster().viewer_kubeconfig();
    let output = bin().args(["histogram", "-o", "json", "--kubeconfig"]).arg(&viewer).output().expect("runs");
    assert_eq!(output.status.code(), Some(2), "every node failed: {}", stderr(&output));
    let report = json(&output);
    let error = &report["errors"][0];
    assert_eq!(error["kind"], "forbidden");
    let text = format!("{} {}", error["message"], error["fix"]);
    assert!(text.contains("nodes/proxy"), "{text}");
}

#[test]
fn direct_without_the_kubelet_ca_names_the_flags_that_fix_it() {
    let live = Live::start(2, &[]);
    let token = live.cluster().sa_token_path();
    let output = live.run(&[
        "get",
        "--path",
        "/healthz",
        "--method",
        "direct",
        "--token-file",
        &token.to_string_lossy(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("(tls)"), "{err}");
    assert!(err.contains("--kubelet-ca") && err.contains("--insecure-skip-tls-verify-kubelet"), "{err}");
}

#[test]
fn get_healthz_selects_nodes_by_label_and_name() {
    let live = Live::start(6, &[]);
    let output = live.run(&["get", "--path", "/healthz", "-l", "topology.kubernetes.io/zone=zone-a"]);
    let zone_a: Vec<String> = stdout(&output).lines().map(|l| l.to_string()).collect();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!zone_a.is_empty() && zone_a.len() < 6, "{zone_a:?}");
    assert!(zone_a.iter().all(|l| l.ends_with("\tok")), "{zone_a:?}");

    let output = live.run(&["get", "--path", "/healthz", "node-2", "node-4"]);
    assert_eq!(stdout(&output), "node-2\tok\nnode-4\tok\n", "{}", stderr(&output));
}

#[test]
fn get_through_both_methods_returns_the_same_samples() {
    let live = Live::start(3, &[]);
    let metric = "kubelet_pod_start_sli_duration_seconds_count";
    let proxy = live.run(&["get", "-m", metric, "-o", "json", "--sort"]);
    let direct_args = live.direct_args();
    let mut args = vec!["get", "-m", metric, "-o", "json", "--sort"];
    args.extend(direct_args.iter().map(String::as_str));
    let direct = live.run(&args);
    assert_eq!(proxy.status.code(), Some(0), "{}", stderr(&proxy));
    assert_eq!(stdout(&proxy), stdout(&direct));
    assert_eq!(stdout(&proxy).lines().count(), 3, "one count per node");
}

#[test]
fn no_token_ever_reaches_the_output() {
    let live = Live::start(3, &[("node-1", Fault::NoAuth), ("node-2", Fault::Status(403))]);
    let token = std::fs::read_to_string(live.cluster().sa_token_path()).expect("token");
    let token = token.trim();
    assert!(token.len() > 16, "a real token to look for");
    let direct_args = live.direct_args();
    for output_format in ["table", "json", "csv"] {
        let mut args = vec!["histogram", "-o", output_format];
        args.extend(direct_args.iter().map(String::as_str));
        let output = live.run(&args);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(!stdout(&output).contains(token) && !stderr(&output).contains(token));
    }
}

#[test]
fn a_rollout_measured_from_a_snapshot_counts_only_new_pod_starts() {
    let live = Live::start(3, &[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshot = dir.path().join("before.prom");
    let output = live.run(&["snapshot", "--output-file", &snapshot.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    live.cluster().advance(25);
    live.cluster().restart("node-2");
    live.cluster().advance(5);
    let output = live.run(&["histogram", "-o", "json", "--baseline", &snapshot.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let count = |node: &str| {
        report["nodes"].as_array().expect("nodes").iter().find(|n| n["node"] == node).expect("node")["count"]
            .as_f64()
            .expect("count")
    };
    let truth = live.cluster().truth();
    let restarted = truth.nodes.iter().find(|n| n.name == "node-2").expect("node-2");
    // node-2 restarted after 25 starts: its counters restarted from zero, so the delta is what it
    // recorded since (increase() semantics).
    assert_eq!(count("node-2"), restarted.pod_start.count as f64);
    assert!(count("node-0") >= 30.0, "30 pod starts, each recorded at least once");
}

#[test]
fn demo_runs_both_methods_against_the_simulated_cluster() {
    let output = bin().args(["demo", "--nodes", "4"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("$ kubelet-metrics histogram --kubeconfig"), "{text}");
    assert!(text.contains("--method direct"), "{text}");
    assert!(text.contains("CLUSTER"), "{text}");
    assert!(text.contains("On a real cluster"), "{text}");
}

#[test]
fn a_slow_node_under_a_short_timeout_does_not_hold_up_the_rest() {
    let live = Live::start(3, &[("node-0", Fault::Latency(Duration::from_secs(30)))]);
    let output = live.run(&["get", "--path", "/healthz", "--timeout", "500ms", "--retries", "0"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stdout(&output), "node-1\tok\nnode-2\tok\n");
    assert!(stderr(&output).contains("error: node node-0:"), "{}", stderr(&output));
}

#[test]
fn get_keeps_a_cut_nodes_samples_only_where_the_format_can_mark_them() {
    let live = Live::start(2, &[("node-1", Fault::Truncate)]);
    let json = live.run(&["get", "-o", "json", "--sort", "--retries", "0"]);
    assert_eq!(json.status.code(), Some(1), "partial: {}", stderr(&json));
    let lines: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of = |node: &str| lines.iter().filter(|l| l["node"] == node).collect::<Vec<_>>();
    let (healthy, cut) = (of("node-0"), of("node-1"));
    assert!(healthy.iter().all(|l| l.get("error").is_none()) && !healthy.is_empty());
    // The cut node's samples before the cut are kept, and its last line says why it stops there.
    let last = cut.last().expect("node-1 lines");
    assert!(cut.len() > 1, "samples before the cut");
    assert_eq!(last["error"]["kind"], "parse", "{last}");
    assert!(last["error"]["message"].as_str().is_some_and(|m| m.contains("cut short")), "{last}");

    let prom = live.run(&["get", "--retries", "0"]);
    assert_eq!(prom.status.code(), Some(1), "partial: {}", stderr(&prom));
    let text = stdout(&prom);
    assert!(text.contains("node=\"node-0\""));
    // Exposition text cannot mark a partial node: all of it is dropped, and it is reported failed.
    assert!(!text.contains("node=\"node-1\""), "partial samples of the cut node are dropped");
    assert!(stderr(&prom).contains("node-1"), "{}", stderr(&prom));
    let families = kubelet_metrics::exposition::parse(&text).expect("valid exposition text");
    assert!(families.iter().all(|f| f.samples.iter().all(|s| s.label("node") == Some("node-0"))));
}

#[test]
fn get_writes_json_and_csv_nodes_as_they_finish_and_sorted_on_request() {
    let live = Live::start(4, &[]);
    let metric = "kubelet_pod_start_sli_duration_seconds_count";
    for format in ["json", "csv"] {
        let unsorted = live.run(&["get", "-m", metric, "-o", format]);
        let sorted = live.run(&["get", "-m", metric, "-o", format, "--sort"]);
        assert_eq!(sorted.status.code(), Some(0), "{}", stderr(&sorted));
        let mut a: Vec<String> = stdout(&unsorted).lines().map(String::from).collect();
        let b: Vec<String> = stdout(&sorted).lines().map(String::from).collect();
        let nodes: Vec<&str> = b.iter().filter_map(|l| l.split("node-").nth(1)).collect();
        assert!(nodes.windows(2).all(|w| w[0] <= w[1]), "{format} sorted by node: {b:?}");
        a.sort();
        let mut b_sorted = b.clone();
        b_sorted.sort();
        assert_eq!(a, b_sorted, "{format}: the same lines either way");
    }
}
