//! `serve` against the simulated cluster, scraped by a real Prometheus (Debian's `prometheus`):
//! the exposition it serves is accepted by the real scraper, and PromQL's own
//! `histogram_quantile` over the served buckets agrees with the cluster quantile we computed.

use std::time::Duration;

use crate::servers::{poll, start_prometheus, start_serve};
use crate::{http_get, url_encode};

#[test]
fn prometheus_scrapes_serve_and_agrees_with_its_cluster_quantile() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime.block_on(kubesim::Cluster::builder().nodes(4).seed(5).start()).expect("kubesim");
    let (_serve, serve_addr) = start_serve(&cluster.admin_kubeconfig().to_string_lossy());
    let page = poll("the first collection", Duration::from_secs(20), || {
        http_get(serve_addr, "/metrics").ok().filter(|(status, _)| *status == 200).map(|(_, body)| body)
    });
    let ours: f64 = page
        .lines()
        .find(|l| {
            l.starts_with("kubelet_metrics_cluster_quantile{metric=\"kubelet_pod_start_sli_duration_seconds\",quantile=\"0.99\"}")
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
