//! What a run costs the API server, as kubesim's request counter sees it: one node list from the
//! watch cache, proxied requests paced by `--qps`, and a 429 that holds back every node.

use std::time::Duration;

use kubesim::{Arrival, Cluster, Fault};

use crate::{bin, stderr};

fn proxied(log: &[Arrival]) -> Vec<&Arrival> {
    log.iter().filter(|a| a.kind == "proxy").collect()
}

#[tokio::test]
async fn qps_paces_proxied_requests_and_nodes_are_listed_once() {
    let cluster = Cluster::builder().nodes(30).seed(4).start().await.expect("kubesim starts");
    let out = bin()
        .args(["histogram", "--qps", "20", "--burst", "2", "-o", "json", "--kubeconfig"])
        .arg(cluster.admin_kubeconfig())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = cluster.requests();
    assert_eq!(requests.by_kind["list"], 1, "one list, from the watch cache");
    let arrivals: Vec<u64> = proxied(&requests.log).iter().map(|a| a.at_ms).collect();
    assert_eq!(arrivals.len(), 30);
    // 2 at once, then one every 50 ms: the last one no earlier than 28 × 50 ms after the first.
    let span = arrivals[arrivals.len() - 1] - arrivals[0];
    assert!(span >= 1_350, "30 requests at 20/s took only {span} ms");
    // No second of the run saw more than the rate plus the burst.
    let busiest =
        arrivals.iter().map(|start| arrivals.iter().filter(|t| (*start..start + 1000).contains(t)).count());
    assert!(busiest.clone().all(|n| n <= 22), "{:?}", busiest.collect::<Vec<_>>());
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_429_through_the_proxy_holds_back_every_node() {
    let cluster = Cluster::builder()
        .nodes(8)
        .seed(4)
        .fault(0, Fault::TooManyRequests { retry_after: Duration::from_secs(1) })
        .start()
        .await
        .expect("kubesim starts");
    let out = bin()
        .args([
            "histogram",
            "--qps",
            "0",
            "--concurrency",
            "2",
            "--retries",
            "1",
            "-o",
            "json",
            "--kubeconfig",
        ])
        .arg(cluster.admin_kubeconfig())
        .output()
        .expect("runs");
    // The node that always answers 429 fails; the others answer, later.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let requests = cluster.requests();
    let arrivals = proxied(&requests.log);
    let throttled = arrivals.iter().find(|a| a.status == 429).expect("a 429").at_ms;
    // After it, only the request already admitted beside it (--concurrency 2) may arrive before
    // the Retry-After second is over, and one more that the other slot started between the 429
    // leaving kubesim and reaching the client (a loaded machine delays the client that long);
    // without the shared pause the five others would follow within milliseconds.
    let early = arrivals.iter().filter(|a| a.at_ms > throttled && a.at_ms < throttled + 950).count();
    assert!(early <= 2, "{early} requests within the pause: {arrivals:?}");
    assert_eq!(arrivals.iter().filter(|a| a.status == 200).count(), 7, "{arrivals:?}");
    cluster.shutdown().await;
}
