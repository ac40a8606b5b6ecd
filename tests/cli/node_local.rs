//! `serve --node-local`, one per kubesim node as a DaemonSet runs it, scraped by a real
//! Prometheus (Debian's `prometheus`): `histogram --prometheus` over what Prometheus stored
//! equals `histogram` read directly from the same kubelets over the same window.
//!
//! The window starts with every kubelet restarted (its counters at zero), so a direct read is
//! exactly what happened in the window. `increase()` then extrapolates nothing at the start
//! (a counter's first sample of 0 is where it would reach zero) and the same stretch at the
//! end for every series of one target, whose samples share timestamps: each node's buckets,
//! sum and count are the direct ones times one factor f ≥ 1. The factor is at most
//! 1 + 0.5 / (N − 1) for N stored samples (half an average interval past the last sample, once
//! that sample is older than 1.1 intervals), and quantiles and the mean, which do not change
//! when every bucket is scaled alike, are equal.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::prometheus::by_node;
use crate::servers::{poll, start_prometheus_all, start_serve_with};
use crate::{bin, http_get, stderr};

const METRIC: &str = "kubelet_pod_start_duration_seconds";

/// `histogram ARGS -o json`, exit 0, as JSON nodes by name.
fn histogram(args: &[&str]) -> BTreeMap<String, serde_json::Value> {
    let output = bin().arg("histogram").args(args).args(["-o", "json"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "histogram {args:?}: {}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    json["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| (n["node"].as_str().expect("name").to_string(), n.clone()))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn prometheus_over_node_local_exporters_equals_a_direct_read_of_the_window() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime.block_on(kubesim::Cluster::builder().nodes(3).seed(31).start()).expect("kubesim");
    let nodes = cluster.node_names();
    for node in &nodes {
        cluster.restart(node);
    }
    let kubeconfig = cluster.admin_kubeconfig().to_string_lossy().to_string();
    let token = cluster.sa_token_path().to_string_lossy().to_string();
    let ca = cluster.kubelet_ca_path().to_string_lossy().to_string();

    // One exporter per node. The first finds its node's address and kubelet port with one
    // `get` of its node object (no HOST_IP); the others are told it, as the downward API does, and need no
    // API server at all.
    let mut exporters = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let port = cluster.kubelet_addr(node).expect("kubelet address").port().to_string();
        let mut args = vec!["--node-local", "--node-name", node, "--token-file", &token, "--kubelet-ca", &ca];
        if i == 0 {
            args.extend(["--kubeconfig", &kubeconfig]);
        } else {
            args.extend(["--host-ip", "127.0.0.1", "--kubelet-port", &port]);
        }
        exporters.push(start_serve_with(&args));
    }
    for (_, addr) in &exporters {
        let page = poll("a node-local collection", Duration::from_secs(20), || {
            http_get(*addr, "/metrics")
                .ok()
                .filter(|(_, body)| body.contains("kubelet_metrics_nodes{state=\"ok\"} 1"))
        });
        assert!(page.1.contains("kubelet_metrics_nodes{state=\"failed\"} 0"), "{}", page.1);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let targets: Vec<SocketAddr> = exporters.iter().map(|(_, addr)| *addr).collect();
    let (_prometheus, prometheus) = start_prometheus_all(dir.path(), &targets);

    // Two scrapes of every node at zero before the pod starts, so the window sees them begin.
    let samples = format!("count_over_time({METRIC}_count[5m])");
    poll("two scrapes of every node", Duration::from_secs(60), || {
        let counts = by_node(prometheus, &samples)?;
        (counts.len() == nodes.len() && counts.values().all(|c| *c >= 2.0)).then_some(())
    });
    cluster.advance(40);
    let expected: BTreeMap<String, f64> =
        cluster.truth().nodes.iter().map(|n| (n.name.clone(), n.pod_start.count as f64)).collect();
    assert!(expected.values().all(|c| *c > 0.0), "{expected:?}");
    poll("Prometheus to store the pod starts", Duration::from_secs(30), || {
        (by_node(prometheus, &format!("{METRIC}_count"))? == expected).then_some(())
    });
    // The direct read of the window, then the exporters stop and increase() settles (its end
    // extrapolation is fixed once the last sample is older than 1.1 intervals).
    let direct = histogram(&[
        "--method",
        "direct",
        "--kubeconfig",
        &kubeconfig,
        "--token-file",
        &token,
        "--kubelet-ca",
        &ca,
    ]);
    drop(exporters);
    let increase = format!("sum by (node) (increase({METRIC}_count[5m]))");
    let mut last = None;
    poll("increase() to settle", Duration::from_secs(30), || {
        let now = by_node(prometheus, &increase)?;
        let stable = last.as_ref() == Some(&now);
        last = Some(now);
        std::thread::sleep(Duration::from_millis(600));
        stable.then_some(())
    });
    let stored = by_node(prometheus, &samples).expect("samples per node");
    let through_prometheus = histogram(&["--prometheus", &format!("http://{prometheus}"), "--range", "5m"]);

    assert_eq!(direct.keys().collect::<Vec<_>>(), through_prometheus.keys().collect::<Vec<_>>());
    for (name, ours) in &direct {
        let theirs = &through_prometheus[name];
        let count = ours["count"].as_f64().expect("count");
        assert_eq!(count, expected[name], "{name}: the direct read is the window");
        let factor = theirs["count"].as_f64().expect("count") / count;
        let n = stored[name];
        assert!(
            factor >= 1.0 - 1e-9 && factor <= 1.0 + 0.5 / (n - 1.0) + 1e-9,
            "{name}: increase() scaled the count by {factor} over {n} samples"
        );
        assert!(
            close(theirs["sum"].as_f64().expect("sum"), ours["sum"].as_f64().expect("sum") * factor),
            "{name}"
        );
        let buckets = |node: &serde_json::Value| -> Vec<(String, f64)> {
            node["buckets"]
                .as_array()
                .expect("buckets")
                .iter()
                .map(|b| (b["le"].to_string(), b["count"].as_f64().expect("bucket count")))
                .collect()
        };
        let (mine, stored_buckets) = (buckets(ours), buckets(theirs));
        assert_eq!(mine.len(), stored_buckets.len(), "{name}: the same layout");
        for ((le, a), (le_b, b)) in mine.iter().zip(&stored_buckets) {
            assert_eq!(le, le_b, "{name}");
            assert!(close(*b, a * factor), "{name} le={le}: {b} stored vs {a} read × {factor}");
        }
        assert!(
            close(theirs["mean"].as_f64().expect("mean"), ours["mean"].as_f64().expect("mean")),
            "{name}"
        );
        for (q, value) in ours["quantiles"].as_object().expect("quantiles") {
            let (a, b) =
                (value.as_f64().expect("quantile"), theirs["quantiles"][q].as_f64().expect("quantile"));
            assert!(close(a, b), "{name} q{q}: direct {a} vs Prometheus {b}");
        }
    }
    runtime.block_on(cluster.shutdown());
}
