//! The reliability suite at the size CI affords (a few hundred kubesim nodes, seconds); the same
//! checks at full size (1,000 nodes, file descriptors and RSS at 100 vs 1,000 nodes, `wrk`
//! against `serve`) are `scripts/reliability.sh`. Every fault kind through both methods with
//! every healthy node checked against kubesim's truth; SIGINT and SIGTERM in the middle of the
//! fan-out and in the middle of the output; `serve` under load while the API server stops and
//! starts again. Stalled listing and `serve`'s shutdown are in `signals`, which credentials
//! reach a kubelet in `credentials`, open files in `limits`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kubesim::{Cluster, Fault, HistogramTruth, Truth};
use serde_json::Value;

use crate::servers::{Load, poll, spawn_serve};
use crate::{Reaped, bin, http_get, stderr};

/// Every fault kubesim can act out, the failure kind each gives through the direct method and
/// through the proxy (`None`: the node answers, and must match the truth), under
/// `--timeout 10s --max-body 1M --retries 0 --concurrency 16`: one attempt each (a reset
/// kubelet retried until the deadline ends mid-body, a slow body) and deadlines that a loaded
/// machine still meets.
fn faults() -> Vec<(Fault, Option<&'static str>, Option<&'static str>)> {
    vec![
        (Fault::Latency(Duration::from_secs(15)), Some("timeout"), Some("timeout")),
        (Fault::Refuse, Some("refused"), Some("server_error")),
        (Fault::Hang, Some("timeout"), Some("timeout")),
        (Fault::Reset, Some("io"), Some("io")),
        (Fault::Status(503), Some("server_error"), Some("server_error")),
        (
            Fault::TooManyRequests { retry_after: Duration::from_secs(5) },
            Some("too_many_requests"),
            Some("too_many_requests"),
        ),
        (Fault::Truncate, Some("parse"), Some("parse")),
        (Fault::Garbage, None, None),
        (Fault::Huge(1_500_000), Some("too_large"), Some("too_large")),
        (Fault::BadCert, Some("tls"), Some("server_error")),
        (Fault::NoAuth, Some("unauthorized"), None),
        (Fault::SlowBody(Duration::from_secs(60)), Some("slow_body"), Some("slow_body")),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime")
}

/// The kubeconfig and, for the direct method, the service-account token and kubelet CA.
fn cluster_args(cluster: &Cluster, direct: bool) -> Vec<String> {
    let mut args = vec!["--kubeconfig".to_string(), cluster.admin_kubeconfig().display().to_string()];
    if direct {
        args.extend(["--method", "direct", "--token-file"].map(str::to_string));
        args.push(cluster.sa_token_path().display().to_string());
        args.push("--kubelet-ca".to_string());
        args.push(cluster.kubelet_ca_path().display().to_string());
    }
    args
}

/// PromQL's `histogram_quantile` over cumulative `(le, count)` buckets ending with `+Inf`.
fn promql_quantile(q: f64, buckets: &[(f64, u64)]) -> f64 {
    let total = buckets.last().map_or(0, |b| b.1);
    if total == 0 {
        return f64::NAN;
    }
    let rank = q * total as f64;
    let finite = buckets.len() - 1;
    let b = buckets[..finite].iter().position(|(_, count)| *count as f64 >= rank).unwrap_or(finite);
    if b == finite {
        return buckets[finite - 1].0;
    }
    let (start, below) = if b == 0 { (0.0, 0) } else { buckets[b - 1] };
    let (end, count) = buckets[b];
    start + (end - start) * ((rank - below as f64) / (count - below) as f64)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Checks one method's `histogram -o json` against the truth: every node with no expected
/// failure has its count, sum and p99; every other node failed with its expected kind and a fix.
fn assert_report(report: &Value, truth: &Truth, expected: &[Option<&str>], method: &str) {
    let nodes = report["nodes"].as_array().expect("nodes");
    let errors = report["errors"].as_array().expect("errors");
    let mut answered = 0;
    for (index, node) in truth.nodes.iter().enumerate() {
        match expected[index] {
            Some(kind) => {
                let error = errors
                    .iter()
                    .find(|e| e["node"] == node.name.as_str())
                    .unwrap_or_else(|| panic!("{method}: {} ({:?}) did not fail", node.name, node.fault));
                assert_eq!(error["kind"], kind, "{method}: {} ({:?}): {error}", node.name, node.fault);
                assert!(error["fix"].is_string(), "{method}: {} has a fix: {error}", node.name);
            }
            None => {
                let row = nodes
                    .iter()
                    .find(|n| n["node"] == node.name.as_str())
                    .unwrap_or_else(|| panic!("{method}: {} ({:?}) has no row", node.name, node.fault));
                assert_matches(row, &node.pod_start, &format!("{method}: {}", node.name));
                answered += 1;
            }
        }
    }
    assert_eq!(nodes.len(), answered, "{method}: no row for a node that should have failed");
    assert_eq!(errors.len(), truth.nodes.len() - answered, "{method}: {errors:?}");
}

fn assert_matches(row: &Value, truth: &HistogramTruth, what: &str) {
    assert_eq!(row["count"].as_u64(), Some(truth.count), "{what}: count");
    let sum = row["sum"].as_f64().expect("sum");
    assert!(close(sum, truth.sum), "{what}: sum {sum} vs {}", truth.sum);
    let buckets: Vec<(f64, u64)> = truth.buckets.iter().map(|b| (b.le, b.count)).collect();
    let p99 = row["quantiles"]["0.99"].as_f64().expect("p99 is a number");
    let expected = promql_quantile(0.99, &buckets);
    assert!(close(p99, expected), "{what}: p99 {p99} vs {expected}");
}

#[test]
fn every_fault_kind_through_both_methods_and_every_healthy_node_matches_the_truth() {
    // 240 nodes; each fault on two of them, spread over the name order.
    let table = faults();
    let runtime = runtime();
    let mut builder = Cluster::builder().nodes(240).seed(12);
    let mut direct_expected = vec![None; 240];
    let mut proxy_expected = vec![None; 240];
    for (i, (fault, direct, proxy)) in table.iter().enumerate() {
        for index in [i * 7 + 3, 239 - i * 11] {
            builder = builder.fault(index, fault.clone());
            direct_expected[index] = *direct;
            proxy_expected[index] = *proxy;
        }
    }
    let cluster = runtime.block_on(builder.start()).expect("kubesim starts");
    let run = |direct: bool| {
        bin()
            .args(["histogram", "-o", "json", "--timeout", "10s", "--max-body", "1M", "--retries", "0"])
            .args(["--concurrency", "16"])
            .args(cluster_args(&cluster, direct))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts")
    };
    // Both methods at once, as two users would.
    let (direct, proxy) = (run(true), run(false));
    let (direct, proxy) =
        (direct.wait_with_output().expect("direct ends"), proxy.wait_with_output().expect("proxy ends"));
    let truth = cluster.truth();
    for (output, expected, method) in
        [(&direct, &direct_expected, "direct"), (&proxy, &proxy_expected, "proxy")]
    {
        assert_eq!(output.status.code(), Some(1), "{method}: a partial report: {}", stderr(output));
        let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
        assert_report(&report, &truth, expected, method);
    }
    runtime.block_on(cluster.shutdown());
}

/// Sends `signal` (`INT`, `TERM`) to a child.
fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status();
    assert!(status.expect("kill runs").success());
}

/// Waits up to `limit` for the child; `None` if it is still running then.
fn exit_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn sigint_and_sigterm_mid_fan_out_print_what_answered_and_cancel_the_rest() {
    // 40 nodes, 4 of them hanging: once the nodes are listed, the run waits on those four
    // (--timeout 60s) whatever the others do, so a signal then lands mid fan-out.
    let runtime = runtime();
    let mut builder = Cluster::builder().nodes(40).seed(5);
    for index in [0, 13, 26, 39] {
        builder = builder.fault(index, Fault::Hang);
    }
    let cluster = runtime.block_on(builder.start()).expect("kubesim starts");
    let truth = cluster.truth();
    for (name, code) in [("INT", 130), ("TERM", 143)] {
        for direct in [false, true] {
            let mut child = bin()
                .args(["histogram", "-o", "json", "--timeout", "60s", "-v"])
                .args(cluster_args(&cluster, direct))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the binary starts");
            let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
            let listed = lines.by_ref().map_while(Result::ok).any(|line| line.contains("nodes listed"));
            assert!(listed, "the run lists its nodes");
            std::thread::spawn(move || lines.for_each(drop));
            let mut stdout = child.stdout.take().expect("piped");
            let reader = std::thread::spawn(move || {
                let mut text = Vec::new();
                stdout.read_to_end(&mut text).map(|_| text)
            });
            signal(&child, name);
            let status = exit_within(&mut child, Duration::from_secs(5));
            let _child = Reaped(child);
            assert_eq!(status, Some(code), "SIGINT/SIGTERM mid fan-out exits 128 + the signal");
            let report: Value = serde_json::from_slice(&reader.join().expect("reader").expect("stdout"))
                .expect("a JSON report");
            let hanging: Vec<&str> = [0, 13, 26, 39].map(|i| truth.nodes[i].name.as_str()).to_vec();
            for node in &truth.nodes {
                let row = report["nodes"]
                    .as_array()
                    .expect("nodes")
                    .iter()
                    .find(|n| n["node"] == node.name.as_str());
                match row {
                    Some(row) => assert_matches(row, &node.pod_start, &node.name),
                    None => {
                        let error = report["errors"]
                            .as_array()
                            .expect("errors")
                            .iter()
                            .find(|e| e["node"] == node.name.as_str())
                            .unwrap_or_else(|| panic!("{} is neither answered nor failed", node.name));
                        assert_eq!(error["kind"], "cancelled", "{}: {error}", node.name);
                    }
                }
            }
            let cancelled: Vec<&str> = report["errors"]
                .as_array()
                .expect("errors")
                .iter()
                .filter_map(|e| e["node"].as_str())
                .collect();
            assert!(hanging.iter().all(|h| cancelled.contains(h)), "{cancelled:?}");
        }
    }
    runtime.block_on(cluster.shutdown());
}

#[test]
fn sigint_and_sigterm_mid_output_end_the_run_although_the_reader_stopped_reading() {
    // `get` of every family of 60 nodes is megabytes: a reader that stops after the first
    // bytes leaves the run blocked writing to a full pipe, where a signal used to be ignored.
    let runtime = runtime();
    let cluster = runtime.block_on(Cluster::builder().nodes(60).seed(6).start()).expect("kubesim starts");
    for (name, code) in [("INT", 130), ("TERM", 143)] {
        let mut child = bin()
            .arg("get")
            .args(cluster_args(&cluster, false))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let mut stdout = child.stdout.take().expect("piped");
        let mut first = [0u8; 4096];
        stdout.read_exact(&mut first).expect("output started");
        // The output is far larger than a pipe holds and nothing reads it any more: the run is
        // mid output, writing or blocked writing.
        signal(&child, name);
        let status = exit_within(&mut child, Duration::from_secs(5));
        let _child = Reaped(child);
        drop(stdout);
        assert_eq!(status, Some(code), "SIG{name} mid output ends the run with 128 + the signal");
    }
    runtime.block_on(cluster.shutdown());
}

fn node_up(page: &str) -> Vec<&str> {
    page.lines().filter(|l| l.starts_with("kubelet_metrics_node_up{")).collect()
}

#[test]
fn serve_under_load_follows_the_api_server_as_it_stops_and_starts_again() {
    let runtime = runtime();
    let cluster = runtime.block_on(Cluster::builder().nodes(20).seed(9).start()).expect("kubesim starts");
    let args = cluster_args(&cluster, false);
    let mut all =
        vec!["--listen", "127.0.0.1:0", "--interval", "300ms", "--timeout", "1s", "--max-cycles", "400"];
    all.extend(args.iter().map(String::as_str));
    let (_serve, addr, _log) = spawn_serve(&all);
    // Bounded load: 4 clients scraping /metrics back to back, at most 20,000 requests or
    // until the test ends; every request must be answered 200.
    let load = Load::start(addr, 4, 5_000);

    let ready = |expected: u16| move || (http_get(addr, "/readyz").ok()?.0 == expected).then_some(());
    let page = || http_get(addr, "/metrics").expect("/metrics").1;
    for round in 0..2 {
        // Up: ready, every node up.
        poll("ready", Duration::from_secs(30), ready(200));
        let up = poll("every node up", Duration::from_secs(30), || {
            let page = page();
            let up = node_up(&page);
            (up.len() == 20 && up.iter().all(|l| l.ends_with(" 1"))).then_some(page)
        });
        assert!(up.contains("kubelet_metrics_collection_success 1"), "round {round}: {up}");

        // Down: every node 0 and not ready, while the kubelets themselves still serve.
        cluster.stop_api_server();
        poll("not ready", Duration::from_secs(30), ready(503));
        let down = page();
        let up = node_up(&down);
        assert!(up.len() == 20 && up.iter().all(|l| l.ends_with(" 0")), "round {round}: {down}");
        assert!(down.contains("kubelet_metrics_collection_success 0"), "round {round}: {down}");
        cluster.start_api_server();
    }
    poll("ready again", Duration::from_secs(30), ready(200));
    let (served, failed) = load.finish();
    assert!(served > 0);
    assert_eq!(failed, 0, "every /metrics request answered 200 under load");
    runtime.block_on(cluster.shutdown());
}

/// The API server stops in the middle of a fan-out while `/metrics` is fetched back to back:
/// the nodes in flight give up after their retries and every node left fails at once (no
/// round of connection attempts per node, which at 1,000 nodes held the outage back for about
/// 40 s), then `/readyz` and `node_up` follow the failed cycles, and recover.
#[test]
fn serve_under_load_stops_trying_nodes_once_the_api_server_refuses_mid_fan_out() {
    const NODES: usize = 120;
    const CONCURRENCY: usize = 8;
    let runtime = runtime();
    // 100 ms per kubelet: a fan-out lasts about 1.5 s, so the stop below lands inside one.
    let mut builder = Cluster::builder().nodes(NODES).seed(12);
    for node in 0..NODES {
        builder = builder.fault(node, Fault::Latency(Duration::from_millis(100)));
    }
    let cluster = runtime.block_on(builder.start()).expect("kubesim starts");
    let args = cluster_args(&cluster, false);
    let concurrency = CONCURRENCY.to_string();
    let mut all = vec!["-v", "--listen", "127.0.0.1:0", "--interval", "300ms", "--timeout", "5s"];
    all.extend(["--max-cycles", "400", "--concurrency", &concurrency]);
    all.extend(args.iter().map(String::as_str));
    let (_serve, addr, log) = spawn_serve(&all);
    let logged = |what: &str| log.lock().expect("log").iter().filter(|l| l.contains(what)).count();
    // Bounded load: 8 clients fetching /metrics back to back, at most 40,000 requests in all.
    let load = Load::start(addr, 8, 5_000);

    let ready = |expected: u16| move || (http_get(addr, "/readyz").ok()?.0 == expected).then_some(());
    let every_node = |value: &'static str| {
        move || {
            let page = http_get(addr, "/metrics").ok()?.1;
            let up = node_up(&page);
            (up.len() == NODES && up.iter().all(|l| l.ends_with(value))).then_some(page)
        }
    };
    poll("ready", Duration::from_secs(60), ready(200));
    poll("every node up", Duration::from_secs(60), every_node(" 1"));

    // Stop the API server as soon as the next cycle has listed its nodes: mid fan-out.
    let listed = logged("nodes listed");
    poll("the next cycle", Duration::from_secs(30), || (logged("nodes listed") > listed).then_some(()));
    cluster.stop_api_server();
    let served_before = load.served();
    poll("not ready", Duration::from_secs(60), ready(503));
    let down = poll("every node down", Duration::from_secs(30), every_node(" 0"));
    assert!(down.contains("kubelet_metrics_collection_success 0"), "{down}");
    assert!(load.served() > served_before, "the page was fetched during the outage");

    // Only the nodes in flight retried against the closed port; the rest were not tried.
    let retried: std::collections::BTreeSet<String> = log
        .lock()
        .expect("log")
        .iter()
        .filter(|l| l.contains("retrying after: connection refused"))
        .filter_map(|l| l.split("node{node=").nth(1)?.split('}').next().map(str::to_string))
        .collect();
    // In flight: CONCURRENCY nodes; a node whose own request broke without a retry frees its
    // slot for one more before the first refusal ends the rest.
    assert!(retried.len() <= 2 * CONCURRENCY, "{} nodes retried: {retried:?}", retried.len());
    assert_eq!(logged("the API server refuses connections"), 1, "{:?}", log.lock().expect("log"));

    cluster.start_api_server();
    poll("ready again", Duration::from_secs(60), ready(200));
    poll("every node up again", Duration::from_secs(60), every_node(" 1"));
    let (_, failed) = load.finish();
    assert_eq!(failed, 0, "every /metrics request answered 200 under load");
    runtime.block_on(cluster.shutdown());
}
