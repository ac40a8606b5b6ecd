//! Every fault kind, observed from outside: directly on the kubelet and through the API server proxy.

use std::time::{Duration, Instant};

use kubesim::{Cluster, Fault};

use crate::{api, eventually, kubelet_get, request, sa_token};

async fn faulty_cluster() -> Cluster {
    Cluster::builder()
        .nodes(12)
        .seed(4)
        .fault(1, Fault::Latency(Duration::from_millis(300)))
        .fault(2, Fault::Refuse)
        .fault(3, Fault::Hang)
        .fault(4, Fault::Reset)
        .fault(5, Fault::Status(503))
        .fault(6, Fault::TooManyRequests { retry_after: Duration::from_secs(2) })
        .fault(7, Fault::Truncate)
        .fault(8, Fault::Garbage)
        .fault("node-09", "huge:3MB".parse().expect("fault"))
        .fault(10, Fault::BadCert)
        .fault(11, Fault::NoAuth)
        .start()
        .await
        .expect("start")
}

#[tokio::test]
async fn every_fault_is_observable_directly() {
    let cluster = faulty_cluster().await;
    let token = sa_token(&cluster);
    let get = |node: &'static str| {
        let cluster = &cluster;
        let token = token.clone();
        async move { kubelet_get(cluster, node, "/metrics", Some(&token)).await }
    };
    let healthy = get("node-00").await.expect("healthy").body.expect("body");

    let start = Instant::now();
    assert_eq!(get("node-01").await.expect("latency").status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    let refused = get("node-02").await.expect_err("refused");
    assert!(refused.contains("onnection refused"), "{refused}");

    let addr = cluster.kubelet_addr("node-03").expect("addr");
    let hang = tokio::time::timeout(
        Duration::from_millis(500),
        request(addr, "GET", "/metrics", Some(&token), &cluster.kubelet_ca_path(), "127.0.0.1", None),
    )
    .await;
    assert!(hang.is_err(), "a hanging kubelet never answers");

    let reset = get("node-04").await;
    match reset {
        Ok(fetched) => assert!(fetched.body.is_err(), "the body must break off"),
        Err(err) => assert!(err.contains("request") || err.contains("body"), "{err}"),
    }

    let unavailable = get("node-05").await.expect("status");
    assert_eq!(unavailable.status, 503);

    let limited = get("node-06").await.expect("429");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.headers["retry-after"], "2");

    let truncated = get("node-07").await.expect("truncate");
    assert_eq!(truncated.status, 200);
    let truncated = truncated.body.expect("clean end");
    assert!(truncated.len() < healthy.len() && !truncated.ends_with(b"\n"));

    let garbage = get("node-08").await.expect("garbage").text();
    assert!(garbage.contains("this is not exposition text"));
    assert!(garbage.contains("kubelet_pod_start_duration_seconds_count"));

    let huge = get("node-09").await.expect("huge").body.expect("body");
    assert!(huge.len() >= 3_000_000 && huge.len() < 3_100_000, "{}", huge.len());

    let badcert = get("node-10").await.expect_err("badcert");
    assert!(badcert.contains("NotValidForName") || badcert.contains("not valid"), "{badcert}");
    let addr = cluster.kubelet_addr("node-10").expect("addr");
    let other_name = request(
        addr,
        "GET",
        "/metrics",
        Some(&token),
        &cluster.kubelet_ca_path(),
        "wrong.kubesim.invalid",
        None,
    )
    .await
    .expect("valid for its own name");
    assert_eq!(other_name.status, 200);

    let noauth = get("node-11").await.expect("noauth");
    assert_eq!(noauth.status, 401);
    assert_eq!(noauth.text(), "Unauthorized");
    cluster.shutdown().await;
}

#[tokio::test]
async fn faults_show_through_the_proxy_and_change_at_runtime() {
    let cluster = faulty_cluster().await;
    let proxy = |node: &str| format!("/api/v1/nodes/{node}/proxy/metrics");

    let refused = api(&cluster, "GET", &proxy("node-02"), None).await;
    assert_eq!(refused.status, 503);
    let status: serde_json::Value =
        serde_json::from_slice(refused.body.as_ref().expect("body")).expect("Status");
    let port = cluster.kubelet_addr("node-02").expect("addr").port();
    assert_eq!(
        status["message"],
        format!("error trying to reach service: dial tcp 127.0.0.1:{port}: connect: connection refused")
    );
    assert_eq!(status["reason"], "ServiceUnavailable");

    // Upstream statuses pass through.
    assert_eq!(api(&cluster, "GET", &proxy("node-05"), None).await.status, 503);
    let limited = api(&cluster, "GET", &proxy("node-06"), None).await;
    assert_eq!((limited.status, limited.headers["retry-after"].to_str().ok()), (429, Some("2")));
    assert!(
        api(&cluster, "GET", &proxy("node-04"), None).await.body.is_err(),
        "reset breaks the proxied body"
    );
    // The API server verifies kubelet certificates (--kubelet-certificate-authority).
    let badcert = api(&cluster, "GET", &proxy("node-10"), None).await;
    assert_eq!(badcert.status, 503);
    let status: serde_json::Value =
        serde_json::from_slice(badcert.body.as_ref().expect("body")).expect("Status");
    assert_eq!(
        status["message"],
        "error trying to reach service: tls: failed to verify certificate: \
         x509: certificate is valid for wrong.kubesim.invalid, not 127.0.0.1"
    );
    // noauth disables token authentication only; the API server's client certificate still works.
    assert_eq!(api(&cluster, "GET", &proxy("node-11"), None).await.status, 200);

    // Runtime changes: refuse → healthy, healthy → status:500, and through /debug/fault.
    cluster.set_fault("node-02", None);
    assert!(
        eventually(Duration::from_secs(5), async || api(&cluster, "GET", &proxy("node-02"), None)
            .await
            .status
            == 200)
        .await
    );
    cluster.set_fault("node-00", Some(Fault::Status(500)));
    assert_eq!(api(&cluster, "GET", &proxy("node-00"), None).await.status, 500);
    cluster.set_fault("node-00", Some(Fault::Refuse));
    assert!(
        eventually(Duration::from_secs(5), async || api(&cluster, "GET", &proxy("node-00"), None)
            .await
            .status
            == 503)
        .await
    );
    let cleared = api(&cluster, "POST", "/debug/fault?node=node-00&fault=none", None).await;
    assert_eq!(cleared.status, 200);
    assert!(
        eventually(Duration::from_secs(5), async || api(&cluster, "GET", &proxy("node-00"), None)
            .await
            .status
            == 200)
        .await
    );
    assert_eq!(cluster.truth().nodes[5].fault.as_deref(), Some("status:503"));
    cluster.shutdown().await;
}

#[tokio::test]
async fn pooled_proxy_connections_do_not_hide_fault_changes() {
    let cluster = Cluster::builder().nodes(1).start().await.expect("start");
    let path = "/api/v1/nodes/node-0/proxy/metrics";
    let first = api(&cluster, "GET", path, None).await.body.expect("body");
    for _ in 0..10 {
        let again = api(&cluster, "GET", path, None).await;
        assert_eq!(again.status, 200);
        assert!(again.body.expect("body") == first);
    }
    cluster.set_fault("node-0", Some(Fault::Refuse));
    assert!(
        eventually(Duration::from_secs(2), async || api(&cluster, "GET", path, None).await.status == 503)
            .await
    );
    cluster.set_fault("node-0", Some(Fault::Status(502)));
    assert!(
        eventually(Duration::from_secs(2), async || api(&cluster, "GET", path, None).await.status == 502)
            .await
    );
    cluster.set_fault("node-0", None);
    assert!(
        eventually(Duration::from_secs(2), async || api(&cluster, "GET", path, None).await.status == 200)
            .await
    );
    cluster.shutdown().await;
}
