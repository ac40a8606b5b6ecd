//! `histogram --prometheus`: kubesim → `serve` → a real Prometheus (Debian's `prometheus`)
//! scraping every second; pod starts recorded between scrapes must come back from Prometheus'
//! storage through `increase()`, per node, and agree with Prometheus' own `increase()` and
//! `histogram_quantile` over the same range.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Output;
use std::time::Duration;

use crate::servers::{poll, start_prometheus, start_serve};
use crate::{bin, free_port, http_get, stderr, url_encode};

const METRIC: &str = "kubelet_pod_start_duration_seconds";

/// An instant query's vector as `node → value` (one value per node).
pub(crate) fn by_node(prometheus: SocketAddr, query: &str) -> Option<BTreeMap<String, f64>> {
    let (status, body) = http_get(prometheus, &format!("/api/v1/query?query={}", url_encode(query))).ok()?;
    let json: serde_json::Value = serde_json::from_str(&body).ok().filter(|_| status == 200)?;
    json["data"]["result"]
        .as_array()?
        .iter()
        .map(|r| Some((r["metric"]["node"].as_str()?.to_string(), r["value"][1].as_str()?.parse().ok()?)))
        .collect()
}

fn histogram_json(prometheus: SocketAddr, extra: &[&str]) -> (Output, serde_json::Value) {
    let output = bin()
        .args(["histogram", "--prometheus", &format!("http://{prometheus}"), "--range", "5m", "-o", "json"])
        .args(extra)
        .output()
        .expect("runs");
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
    (output, json)
}

#[test]
fn histogram_reads_what_prometheus_stored_over_the_range() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime.block_on(kubesim::Cluster::builder().nodes(3).seed(21).start()).expect("kubesim");
    let nodes = cluster.node_names();
    let (serve, serve_addr) = start_serve(&cluster.admin_kubeconfig().to_string_lossy());
    let dir = tempfile::tempdir().expect("tempdir");
    let (_prometheus, prometheus) = start_prometheus(dir.path(), serve_addr);

    // At least two scrapes of every node before the pod starts, so the range sees them begin.
    let samples = format!("count_over_time({METRIC}_count[5m])");
    poll("two scrapes of every node", Duration::from_secs(60), || {
        let counts = by_node(prometheus, &samples)?;
        (counts.len() == nodes.len() && counts.values().all(|c| *c >= 2.0)).then_some(())
    });
    let before = cluster.truth();
    cluster.advance(40);
    let after = cluster.truth();
    // Wait until Prometheus holds the new counts (serve collected, Prometheus scraped).
    let expected: BTreeMap<String, f64> =
        after.nodes.iter().map(|n| (n.name.clone(), n.pod_start.count as f64)).collect();
    poll("Prometheus to store the pod starts", Duration::from_secs(30), || {
        (by_node(prometheus, &format!("{METRIC}_count"))? == expected).then_some(())
    });
    // Stop the scraped source, and wait until increase() no longer moves: its extrapolation
    // depends on how far the last sample is from the evaluation time, and settles past 1.1
    // scrape intervals.
    drop(serve);
    let increase = format!("sum by (node) (increase({METRIC}_count[5m]))");
    let mut last = None;
    let settled = poll("increase() to settle", Duration::from_secs(30), || {
        let now = by_node(prometheus, &increase)?;
        let stable = last.as_ref() == Some(&now);
        last = Some(now.clone());
        std::thread::sleep(Duration::from_millis(600));
        stable.then_some(now)
    });

    let (output, json) = histogram_json(prometheus, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(json["method"], "prometheus");
    let reported = json["nodes"].as_array().expect("nodes");
    assert_eq!(reported.len(), nodes.len(), "{json:#}");

    let p50 = by_node(
        prometheus,
        &format!("histogram_quantile(0.5, sum by (node, le) (increase({METRIC}_bucket[5m])))"),
    )
    .expect("Prometheus' p50 per node");
    for node in reported {
        let name = node["node"].as_str().expect("node name");
        let count = node["count"].as_f64().expect("count");
        // Exactly Prometheus' own increase() ...
        let theirs = settled[name];
        assert!(
            (count - theirs).abs() <= 1e-9 * theirs.max(1.0),
            "{name}: ours {count}, Prometheus {theirs}"
        );
        // ... and its histogram_quantile over the same buckets.
        let ours = node["quantiles"]["0.5"].as_f64().expect("p50");
        assert!(
            (ours - p50[name]).abs() <= 1e-9 * ours.abs().max(1.0),
            "{name}: p50 {ours} vs {}",
            p50[name]
        );

        // What increased is what the test recorded: the starts per node, scaled up by
        // increase()'s extrapolation past the first and last samples. With at least three
        // samples that is at most 1.1 + 0.5 average intervals over at least two intervals
        // (the start may extrapolate up to 1.1 intervals when the counter would reach zero).
        let truth =
            |t: &kubesim::Truth| t.nodes.iter().find(|n| n.name == name).expect("node").pod_start.clone();
        let recorded = (truth(&after).count - truth(&before).count) as f64;
        assert!(recorded > 0.0, "{name}: kubesim recorded pod starts");
        assert!(
            (recorded..=recorded * 1.8 + 1e-9).contains(&count),
            "{name}: {count} counted for {recorded} recorded; stored: {:?}",
            http_get(
                prometheus,
                &format!("/api/v1/query?query={}", url_encode(&format!("{METRIC}_count[5m]")))
            )
        );
        // Without extrapolation, the stored samples hold exactly the recorded starts.
        let raw = by_node(
            prometheus,
            &format!("sum by (node) (max_over_time({METRIC}_count[5m]) - min_over_time({METRIC}_count[5m]))"),
        )
        .expect("raw increase");
        assert_eq!(raw[name], recorded, "{name}");
        assert_eq!(node["kubelet_version"], serde_json::json!(now_version(&after, name)));
    }

    // The node label is configurable; a label the series lack explains itself.
    let (output, json) = histogram_json(prometheus, &["--prometheus-node-label", "hostname"]);
    assert_eq!(output.status.code(), Some(2), "no node answered");
    assert_eq!(json["nodes"].as_array().map(Vec::len), Some(0));
    assert!(stderr(&output).contains("no `hostname` label"), "{}", stderr(&output));
    runtime.block_on(cluster.shutdown());
}

fn now_version(truth: &kubesim::Truth, node: &str) -> String {
    truth.nodes.iter().find(|n| n.name == node).map(|n| n.kubelet_version.clone()).unwrap_or_default()
}

#[test]
fn an_unreachable_or_wrong_server_is_an_error_naming_it() {
    let port = free_port();
    let output = bin()
        .args(["histogram", "--prometheus", &format!("http://127.0.0.1:{port}"), "--timeout", "2s"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!("could not reach Prometheus at http://127.0.0.1:{port}/api/v1/")),
        "{}",
        stderr(&output)
    );

    let output = bin()
        .args(["histogram", "--prometheus", "http://127.0.0.1:1", "--file", "x.prom"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--file and --prometheus are two sources"), "{}", stderr(&output));
}
