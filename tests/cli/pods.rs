//! `pods` against kubesim: every pod's milestones equal truth.json, selectors and paging reach
//! the API server, the SLO's three values set the exit status, and a user who may not list pods
//! is told how to fix it.

use std::collections::BTreeMap;

use kubesim::Cluster;
use serde_json::Value;

use crate::{bin, stderr, stdout};

async fn cluster() -> Cluster {
    Cluster::builder().nodes(6).seed(11).start().await.expect("kubesim starts")
}

fn pods(cluster: &Cluster, args: &[&str]) -> std::process::Output {
    bin().arg("pods").arg("--kubeconfig").arg(cluster.admin_kubeconfig()).args(args).output().expect("runs")
}

fn json(output: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| panic!("{e}: {}", stderr(output)))
}

#[tokio::test]
async fn every_pod_reads_as_truth_says_through_small_pages() {
    let cluster = cluster().await;
    let truth = cluster.truth();
    let output = pods(&cluster, &["-o", "json", "--chunk-size", "9", "--top", "3"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = json(&output);
    let listed: BTreeMap<(String, String), &Value> = report["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .map(|p| ((p["namespace"].as_str().unwrap().to_string(), p["name"].as_str().unwrap().to_string()), p))
        .collect();
    let expected: Vec<&kubesim::PodTruth> =
        truth.nodes.iter().flat_map(|n| n.pods.iter()).chain(truth.unscheduled_pods.iter()).collect();
    assert_eq!(listed.len(), expected.len());
    for pod in expected {
        let got = listed[&(pod.namespace.clone(), pod.name.clone())];
        let l = &pod.latencies;
        for (key, want) in [
            ("scheduled", l.scheduled),
            ("initialized", l.initialized),
            ("started", l.first_container_started),
            ("containers-ready", l.containers_ready),
            ("ready", l.ready),
        ] {
            assert_eq!(
                got["latencies"][key].as_f64(),
                want.map(|s| s as f64),
                "{}/{} {key}",
                pod.namespace,
                pod.name
            );
        }
        assert_eq!(got["workload"], pod.workload.as_str());
        assert_eq!(got["stateful"], pod.stateful);
        assert_eq!(got["node"].as_str(), pod.node.as_deref());
        if pod.restarted {
            assert_eq!(got["skipped"]["ready"], "restarted");
        }
    }
    // Per node: as many pods as truth lists there, and the exact p50 of their ready latencies.
    for node in &truth.nodes {
        let group = report["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == node.name.as_str())
            .expect("node");
        assert_eq!(group["pods"], node.pods.len());
        let mut ready: Vec<u64> = node.pods.iter().filter_map(|p| p.latencies.ready).collect();
        ready.sort_unstable();
        let p50 = ready[(ready.len() as f64 * 0.5 - 1e-9).ceil() as usize - 1];
        assert_eq!(
            group["milestones"]["ready"]["quantiles"]["0.5"].as_f64(),
            Some(p50 as f64),
            "{}",
            node.name
        );
    }
    assert_eq!(report["slowest"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn selectors_namespaces_and_the_window_choose_pods() {
    let cluster = cluster().await;
    let truth = cluster.truth();
    let node = &truth.nodes[2];
    let on_node =
        json(&pods(&cluster, &["-o", "json", "--field-selector", &format!("spec.nodeName={}", node.name)]));
    assert_eq!(on_node["cluster"]["pods"], node.pods.len());
    let all: Vec<&kubesim::PodTruth> =
        truth.nodes.iter().flat_map(|n| n.pods.iter()).chain(truth.unscheduled_pods.iter()).collect();
    let db = json(&pods(&cluster, &["-o", "json", "-l", "app=db"]));
    assert_eq!(db["cluster"]["pods"], all.iter().filter(|p| p.workload == "StatefulSet/db").count());
    assert_eq!(db["stateful"]["pods"], db["cluster"]["pods"], "a persistent volume claim is stateful");
    let shop = json(&pods(&cluster, &["-o", "json", "-n", "shop"]));
    let in_shop = all.iter().filter(|p| p.namespace == "shop").count();
    assert_eq!(shop["cluster"]["pods"], in_shop);
    // Everything was created within the last seven hours; nothing in the last second before truth.
    let recent = json(&pods(&cluster, &["-o", "json", "--since", "7h"]));
    assert_eq!(recent["cluster"]["pods"], recent["listed"]);

    let table = pods(&cluster, &["-n", "shop", "--by", "workload"]);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.contains("Deployment/cart") && text.contains("StatefulSet/db"), "{text}");
    assert!(!text.contains("\nNODE "), "only the workloads were asked for: {text}");
    assert!(text.contains("Slowest pods to ready:"), "{text}");
}

#[tokio::test]
async fn the_slo_sets_the_exit_status_and_never_passes_unknown() {
    let cluster = cluster().await;
    // Pods still starting or unschedulable have no end yet: the slowest pod (p100) cannot be known.
    let unknown = pods(&cluster, &["--slo", "p100<=1h"]);
    assert_eq!(unknown.status.code(), Some(4), "{}", stdout(&unknown));
    assert!(stdout(&unknown).contains("not there yet"), "{}", stdout(&unknown));
    assert_eq!(pods(&cluster, &["--slo", "p100<=1h", "--slo-unknown", "pass"]).status.code(), Some(0));
    // Fewer than 1 % of the pods are still on their way: p99 is decided by the others.
    assert_eq!(pods(&cluster, &["--slo", "p99<=1h"]).status.code(), Some(0));
    // The pods that have been scheduled decide a p50 either way.
    let holds = pods(
        &cluster,
        &["--slo", "p50<=1h", "--milestone", "scheduled", "--field-selector", "spec.nodeName!="],
    );
    assert_eq!(holds.status.code(), Some(0), "{}", stdout(&holds));
    let violated =
        pods(&cluster, &["--slo", "p99<0s", "--field-selector", "status.phase=Running", "-o", "json"]);
    assert_eq!(violated.status.code(), Some(3), "{}", stderr(&violated));
    assert_eq!(json(&violated)["slo"]["state"], "violated");
}

#[tokio::test]
async fn a_user_who_may_not_list_pods_is_told_the_fix() {
    let cluster = cluster().await;
    let output =
        bin().args(["pods", "--kubeconfig"]).arg(cluster.viewer_kubeconfig()).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("cannot list pods") && text.contains("rbac --with-pods"), "{text}");
}

#[test]
fn saved_pod_lists_are_read_offline() {
    let list = r#"{"kind": "List", "items": [
      {"metadata": {"name": "a", "namespace": "default", "creationTimestamp": "2025-01-01T00:00:00Z"},
       "spec": {"nodeName": "n1"},
       "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:03Z"}],
                  "containerStatuses": [{"name": "c", "restartCount": 0, "state": {"running": {"startedAt": "2025-01-01T00:00:02Z"}}}]}}]}"#;
    let output = crate::run_with_stdin(
        {
            let mut c = bin();
            c.args(["pods", "--file", "-", "-o", "csv", "--by", "node"]);
            c
        },
        list.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("\nnode,n1,,ready,1,1,3,3,3,3,3,0,0,0,0,0\n"), "{}", stdout(&output));
    let garbage = crate::run_with_stdin(
        {
            let mut c = bin();
            c.args(["pods", "--file", "-"]);
            c
        },
        b"<html>",
    );
    assert_eq!(garbage.status.code(), Some(2));
    assert!(stderr(&garbage).contains("-: line 1: not a pod list"), "{}", stderr(&garbage));
}

#[tokio::test]
async fn rbac_with_pods_grants_what_pods_needs_and_doctor_checks_it() {
    let cluster = cluster().await;
    let doctor = |kubeconfig: &std::path::Path| {
        let out = bin()
            .args(["doctor", "--pods", "-o", "json", "--kubeconfig"])
            .arg(kubeconfig)
            .output()
            .expect("runs");
        let report = json(&out);
        report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["title"] == "can-i list pods")
            .cloned()
            .unwrap_or_else(|| panic!("no pods check: {report}"))
    };
    assert_eq!(doctor(&cluster.admin_kubeconfig())["status"], "pass");
    let denied = doctor(&cluster.viewer_kubeconfig());
    assert_eq!(denied["status"], "fail");
    assert!(denied["fix"].to_string().contains("--with-pods"), "{denied}");

    // The manifests of `rbac --with-pods`, applied, let the service account list pods; without
    // the flag they do not.
    let token = cluster.state_dir().join("sa.token");
    let kubeconfig = cluster.state_dir().join("sa-pods.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: {}, certificate-authority: {}}}\nusers:\n- name: u\n  user: {{tokenFile: {}}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n",
            cluster.api_url(),
            cluster.ca_path().display(),
            token.display()
        ),
    )
    .expect("kubeconfig written");
    let as_sa =
        || bin().args(["pods", "-o", "json", "--kubeconfig"]).arg(&kubeconfig).output().expect("runs");
    let plain = bin().args(["rbac", "--method", "direct"]).output().expect("runs");
    cluster.apply_yaml(&stdout(&plain)).expect("applied");
    assert_eq!(as_sa().status.code(), Some(2), "no `list pods` without --with-pods");
    let with_pods = bin().args(["rbac", "--method", "direct", "--with-pods"]).output().expect("runs");
    cluster.apply_yaml(&stdout(&with_pods)).expect("applied");
    let listed = as_sa();
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    assert!(json(&listed)["cluster"]["pods"].as_u64().unwrap_or(0) > 0);

    // The cross-check reads kubelets through the proxy whatever --method says: a direct role
    // with --with-pods says so, doctor --pods warns and names the role that grants it, and with
    // that role applied the cross-check reads every kubelet.
    assert!(stdout(&with_pods).contains("--cross-check` reads the kubelets through the API server proxy"));
    let cross_check = || {
        bin()
            .args(["pods", "--cross-check", "-o", "json", "--kubeconfig"])
            .arg(&kubeconfig)
            .output()
            .expect("runs")
    };
    let checks = |method: &str| {
        let out = bin()
            .args(["doctor", "--pods", "-o", "json", "--method", method, "--kubeconfig"])
            .arg(&kubeconfig)
            .output()
            .expect("runs");
        json(&out)["checks"].as_array().expect("checks").clone()
    };
    let titled = |checks: &[serde_json::Value], title: &str| -> Vec<serde_json::Value> {
        checks.iter().filter(|c| c["title"] == title).cloned().collect()
    };
    let direct = checks("direct");
    assert_eq!(titled(&direct, "can-i list pods")[0]["status"], "pass");
    let proxy = titled(&direct, "can-i get nodes/proxy");
    let warned = proxy.iter().find(|c| c["evidence"].to_string().contains("--cross-check")).expect("a check");
    assert_eq!(warned["status"], "warn", "{warned}");
    assert!(warned["fix"].to_string().contains("rbac --method proxy"), "{warned}");
    assert_ne!(cross_check().status.code(), Some(0), "no kubelet answers without nodes/proxy");
    let proxy_role = bin().args(["rbac", "--method", "proxy", "--with-pods"]).output().expect("runs");
    cluster.apply_yaml(&stdout(&proxy_role)).expect("applied");
    let after = checks("proxy");
    assert_eq!(titled(&after, "can-i list pods")[0]["status"], "pass");
    assert!(titled(&after, "can-i get nodes/proxy").iter().all(|c| c["status"] == "pass"), "{after:?}");
    let read = cross_check();
    assert_eq!(read.status.code(), Some(0), "{}", stderr(&read));
}

#[tokio::test]
async fn the_cross_check_flags_the_double_count_and_agrees_elsewhere() {
    // Node 3's kubelet refuses connections: it is reported, and the other nodes are still checked.
    let cluster =
        Cluster::builder().nodes(6).seed(11).fault(3, kubesim::Fault::Refuse).start().await.expect("start");
    let truth = cluster.truth();
    let output = pods(&cluster, &["--cross-check", "-o", "json", "--timeout", "5s"]);
    assert_eq!(output.status.code(), Some(1), "one kubelet failed: a partial report\n{}", stderr(&output));
    assert!(stderr(&output).contains("1 of 6 kubelets could not be read"), "{}", stderr(&output));
    let report = json(&output);
    let nodes = report["cross_check"]["nodes"].as_array().expect("cross-check nodes");
    assert_eq!(nodes.len(), truth.nodes.len());
    for (node, check) in truth.nodes.iter().zip(nodes) {
        assert_eq!(check["node"], node.name.as_str());
        if node.fault.is_some() {
            assert_eq!(check["verdict"], "unknown", "{check}");
            assert!(check["findings"][0].as_str().unwrap().contains("no histograms"), "{check}");
            continue;
        }
        // Truth: which kubelets count twice, and every pod started there since the kubelet did.
        let started = node.pods.iter().filter(|p| p.kubelet_seconds.is_some()).count() as u64;
        let want = if node.double_count { "double-count" } else { "agree" };
        assert_eq!(check["verdict"], want, "{} ({}): {check}", node.name, node.kubelet_version);
        assert_eq!(check["pods"]["started"], started, "{check}");
        assert_eq!(check["duration"]["count"], node.pod_start.count, "{check}");
        assert!(
            check["duration"]["quantiles"].as_array().unwrap().iter().all(|q| q["state"] == "agree"),
            "{} quantiles agree within resolution: {check}",
            node.name
        );
        // kubesim's kubelets (1.28 to 1.34) count every pod in the SLI histogram, image pulls left out.
        assert_eq!(check["sli"]["count"], started, "{check}");
        if !node.kubelet_version.starts_with("v1.34") {
            assert_eq!(check["sli"]["meaning"], "every-pod", "{check}");
        }
    }
    assert!(truth.nodes.iter().any(|n| n.double_count && n.fault.is_none()));
    assert!(truth.nodes.iter().any(|n| !n.double_count && n.fault.is_none()));

    // The table names the verdicts and the rule; CSV is one row per node.
    let table = pods(&cluster, &["--cross-check", "--timeout", "5s", "--by", "node"]);
    let text = stdout(&table);
    assert!(text.contains("Cross-check with each kubelet's histograms"), "{text}");
    assert!(text.contains("kubernetes#132268"), "{text}");
    let csv = pods(&cluster, &["--cross-check", "-o", "csv", "--timeout", "5s"]);
    let csv = stdout(&csv);
    assert!(csv.starts_with("node,kubelet_version,verdict,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + truth.nodes.len());
    cluster.shutdown().await;
}

#[test]
fn the_cross_check_needs_every_pod_of_a_node() {
    let output = bin()
        .args([
            "pods",
            "--cross-check",
            "-n",
            "shop",
            "--since",
            "1h",
            "--field-selector",
            "status.phase=Running",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    for flag in ["--namespace", "--since", "--field-selector may only name the node"] {
        assert!(err.contains(flag), "{flag}: {err}");
    }
}

#[test]
fn saved_pods_as_yaml_and_as_a_plot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = dir.path().join("pods.json");
    std::fs::write(&list, SAVED_PODS).expect("write");
    let svg = dir.path().join("ready.svg");
    let output = bin()
        .args(["pods", "-o", "yaml", "--file"])
        .arg(&list)
        .arg("--plot")
        .arg(&svg)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let yaml: Value = serde_norway::from_str(&stdout(&output)).expect("one YAML document");
    assert_eq!(yaml["pods"].as_array().map(Vec::len), Some(2));
    assert_eq!(yaml["cluster"]["milestones"]["ready"]["count"], 2);
    let svg = std::fs::read_to_string(&svg).expect("the plot is written");
    assert!(svg.starts_with("<svg ") && svg.contains("node-a") && svg.contains(">ALL<"), "{svg}");
    // Ready after 3 s and after 40 s: one pod in 1–5s, one in >30s.
    assert!(svg.contains("1–5s: 50.0% (1)") && svg.contains("&gt;30s: 50.0% (1)"), "{svg}");
}

const SAVED_PODS: &str = r#"{"kind": "List", "items": [
  {"metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": "2025-03-01T10:00:00Z"},
   "spec": {"nodeName": "node-a"},
   "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2025-03-01T10:00:03Z"}]}},
  {"metadata": {"name": "web-2", "namespace": "default", "creationTimestamp": "2025-03-01T10:00:00Z"},
   "spec": {"nodeName": "node-b"},
   "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2025-03-01T10:00:40Z"}]}}]}"#;

#[tokio::test]
async fn a_restarted_kubelet_is_checked_against_the_pods_since_its_restart() {
    // A restart zeroes the histograms and moves process_start_time_seconds: the pods from before
    // are outside the window, the starts after it are in both.
    let cluster = Cluster::builder().nodes(3).seed(5).start().await.expect("start");
    let node = cluster.truth().nodes[1].name.clone();
    cluster.restart(&node);
    let check = |cluster: &Cluster| {
        let output = pods(
            cluster,
            &["--cross-check", "-o", "json", "--field-selector", &format!("spec.nodeName={node}")],
        );
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        json(&output)["cross_check"]["nodes"][0].clone()
    };
    let fresh = check(&cluster);
    assert_eq!(fresh["duration"]["count"], 0, "{fresh}");
    assert_eq!(fresh["pods"]["started"], 0, "{fresh}");
    assert_ne!(fresh["verdict"], "disagree", "{fresh}");
    cluster.advance(4);
    let after = check(&cluster);
    let recorded = if cluster.truth().nodes[1].double_count { 8 } else { 4 };
    assert_eq!(after["duration"]["count"], recorded, "{after}");
    // Started after the restart; within its second, a pod's one-second timestamps cannot say.
    let started =
        after["pods"]["started"].as_u64().unwrap_or(0) + after["pods"]["uncertain"].as_u64().unwrap_or(0);
    assert_eq!(started, 4, "{after}");
    assert_ne!(after["verdict"], "disagree", "{after}");
}
