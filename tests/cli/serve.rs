//! `serve` against the simulated cluster, scraped by a real Prometheus (Debian's `prometheus`):
//! the exposition it serves is accepted by the real scraper, and PromQL's own
//! `histogram_quantile` over the served buckets agrees with the cluster quantile we computed.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::servers::{poll, spawn_serve, start_prometheus, start_serve};
use crate::{bin, http_get, url_encode};

#[test]
fn prometheus_scrapes_serve_and_agrees_with_its_cluster_quantile() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime.block_on(kubesim::Cluster::builder().nodes(4).seed(5).start()).expect("kubesim");
    let (_serve, serve_addr) = start_serve(&cluster.admin_kubeconfig().to_string_lossy());
    let page = poll("the first collection", Duration::from_secs(20), || {
        http_get(serve_addr, "/metrics")
            .ok()
            .filter(|(status, body)| *status == 200 && body.contains("kubelet_metrics_cluster_observations{"))
            .map(|(_, body)| body)
    });
    let ours: f64 = page
        .lines()
        .find(|l| {
            l.starts_with(
                "kubelet_metrics_cluster_observations{metric=\"kubelet_pod_start_sli_duration_seconds\",quantile=\"0.99\"}",
            )
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("cluster p99 served:\n{page}"));

    let dir = tempfile::tempdir().expect("tempdir");
    let (_prometheus, prometheus_addr) = start_prometheus(dir.path(), serve_addr);

    let query = "histogram_quantile(0.99, sum by (le) (kubelet_pod_start_sli_duration_seconds_bucket))";
    let theirs: f64 = poll("Prometheus to scrape serve", Duration::from_secs(60), || {
        let (status, body) =
            http_get(prometheus_addr, &format!("/api/v1/query?query={}", url_encode(query))).ok()?;
        let json: serde_json::Value = serde_json::from_str(&body).ok().filter(|_| status == 200)?;
        json["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    });
    assert!((ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0), "ours {ours} vs Prometheus {theirs}");

    let up = poll("the up series", Duration::from_secs(20), || {
        let (_, body) =
            http_get(prometheus_addr, &format!("/api/v1/query?query={}", url_encode("up"))).ok()?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        json["data"]["result"][0]["value"][1].as_str().map(str::to_string)
    });
    assert_eq!(up, "1", "Prometheus accepted the page");
    runtime.block_on(cluster.shutdown());
}

/// `promtool check metrics` (Prometheus' own linter) passes on the live page: the cluster
/// numbers are a summary, counters are named `_total` in HELP and TYPE, every family has help,
/// and the build and process families are there.
#[test]
fn promtool_finds_nothing_to_lint_on_the_served_page() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime.block_on(kubesim::Cluster::builder().nodes(3).seed(2).start()).expect("kubesim");
    let (_serve, addr) = start_serve(&cluster.admin_kubeconfig().to_string_lossy());
    let page = poll("the first collection", Duration::from_secs(20), || {
        http_get(addr, "/metrics")
            .ok()
            .filter(|(status, body)| *status == 200 && body.contains("kubelet_metrics_cluster_observations{"))
            .map(|(_, body)| body)
    });
    for family in [
        "kubelet_metrics_build_info{version=\"",
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_start_time_seconds ",
        "process_open_fds ",
    ] {
        assert!(page.contains(family), "{family} is served:\n{page}");
    }
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian package `prometheus`)");
    lint.stdin.take().expect("piped").write_all(page.as_bytes()).expect("page written");
    let lint = lint.wait_with_output().expect("promtool ends");
    assert!(
        lint.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    runtime.block_on(cluster.shutdown());
}

#[test]
fn serve_answers_health_probes_and_refuses_other_paths() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime.block_on(kubesim::Cluster::builder().nodes(2).start()).expect("kubesim");
    let (_serve, addr) = start_serve(&cluster.admin_kubeconfig().to_string_lossy());
    assert_eq!(http_get(addr, "/healthz").expect("healthz").0, 200);
    poll("readiness", Duration::from_secs(20), || (http_get(addr, "/readyz").ok()?.0 == 200).then_some(()));
    assert_eq!(http_get(addr, "/nope").expect("404").0, 404);
    runtime.block_on(cluster.shutdown());
}

/// Forwards loopback TCP connections to `target` while `up`; refuses (accepts and closes) them
/// while down: an API server that can be stopped and started again.
fn switchable_forwarder(target: std::net::SocketAddr, up: Arc<AtomicBool>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            if !up.load(Ordering::SeqCst) {
                drop(client);
                continue;
            }
            let Ok(server) = TcpStream::connect(target) else { continue };
            for (mut from, mut to) in
                [(client.try_clone().expect("clone"), server.try_clone().expect("clone")), (server, client)]
            {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    addr
}

/// `promtool check metrics` on a page: every problem it reports.
fn promtool_problems(page: &str) -> String {
    let promtool = std::env::var_os("PROMTOOL").unwrap_or_else(|| "promtool".into());
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (apt-get install prometheus)");
    child.stdin.take().expect("stdin").write_all(page.as_bytes()).expect("page to promtool");
    let output = child.wait_with_output().expect("promtool ends");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn node_up(page: &str) -> Vec<&str> {
    page.lines().filter(|l| l.starts_with("kubelet_metrics_node_up{")).collect()
}

#[test]
fn serve_is_honest_while_the_api_server_is_down_and_recovers() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime.block_on(kubesim::Cluster::builder().nodes(2).start()).expect("kubesim");
    let api: std::net::SocketAddr =
        cluster.api_url().trim_start_matches("https://").parse().expect("API address");
    let up = Arc::new(AtomicBool::new(true));
    let forwarder = switchable_forwarder(api, up.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let admin = std::fs::read_to_string(cluster.admin_kubeconfig()).expect("admin kubeconfig");
    std::fs::write(&kubeconfig, admin.replace(&api.to_string(), &forwarder.to_string())).expect("write");

    let kubeconfig = kubeconfig.to_string_lossy();
    let (_serve, addr, _log) = spawn_serve(&[
        "--listen",
        "127.0.0.1:0",
        "--interval",
        "500ms",
        "--timeout",
        "2s",
        "--max-cycles",
        "200",
        "--kubeconfig",
        &kubeconfig,
    ]);

    // Up: every node up, the collection counted as a success.
    let page = poll("a collection", Duration::from_secs(20), || {
        let (status, body) = http_get(addr, "/metrics").ok()?;
        assert_eq!(status, 200, "/metrics answers from the start");
        (body.contains("kubelet_metrics_collection_success 1")).then_some(body)
    });
    assert!(node_up(&page).iter().all(|l| l.ends_with(" 1")) && node_up(&page).len() == 2, "{page}");
    // The health families are lint-clean (the cluster quantiles' own lint is issue 10's).
    let ours = ["kubelet_metrics_collection_", "kubelet_metrics_consecutive", "kubelet_metrics_node_up"];
    let problems = promtool_problems(&page);
    assert!(!problems.lines().any(|l| ours.iter().any(|f| l.starts_with(f))), "{problems}");
    poll("ready", Duration::from_secs(10), || (http_get(addr, "/readyz").ok()?.0 == 200).then_some(()));

    // Down: node_up 0, failures counted by reason, old data dropped, then not ready.
    up.store(false, Ordering::SeqCst);
    let page = poll("the outage on /readyz", Duration::from_secs(30), || {
        let (status, _) = http_get(addr, "/readyz").ok()?;
        (status == 503).then(|| http_get(addr, "/metrics").expect("metrics").1)
    });
    assert!(page.contains("kubelet_metrics_collection_success 0"), "{page}");
    assert!(node_up(&page).iter().all(|l| l.ends_with(" 0")) && node_up(&page).len() == 2, "{page}");
    assert!(page.contains("kubelet_metrics_collection_failures_total{reason="), "{page}");
    assert!(!page.contains("kubelet_pod_start_duration_seconds_bucket"), "stale data is dropped:\n{page}");
    assert_eq!(promtool_problems(&page), "", "{page}");

    // Back: ready again, nodes up.
    up.store(true, Ordering::SeqCst);
    poll("recovery", Duration::from_secs(30), || (http_get(addr, "/readyz").ok()?.0 == 200).then_some(()));
    let page = http_get(addr, "/metrics").expect("metrics").1;
    assert!(node_up(&page).iter().all(|l| l.ends_with(" 1")), "{page}");
    runtime.block_on(cluster.shutdown());
}

#[test]
fn serve_writes_json_logs_when_asked() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime.block_on(kubesim::Cluster::builder().nodes(2).start()).expect("kubesim");
    let out = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "100ms",
            "--max-cycles",
            "2",
            "--log-format",
            "json",
        ])
        .arg("--kubeconfig")
        .arg(cluster.admin_kubeconfig())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", crate::stderr(&out));
    let events: Vec<serde_json::Value> = crate::stderr(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}")))
        .collect();
    let messages: Vec<&str> = events.iter().filter_map(|e| e["message"].as_str()).collect();
    assert_eq!(messages.first(), Some(&"serving"), "{events:?}");
    assert!(events[0]["url"].as_str().is_some_and(|url| url.starts_with("http://127.0.0.1:")), "{events:?}");
    let finished: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["message"] == "collection finished").collect();
    assert_eq!(finished.len(), 2, "{events:?}");
    assert_eq!((finished[1]["cycle"].as_u64(), finished[1]["nodes"].as_u64()), (Some(2), Some(2)));
    assert!(events.iter().all(|e| e["level"].is_string() && e["timestamp"].is_string()), "{events:?}");
    runtime.block_on(cluster.shutdown());
}
