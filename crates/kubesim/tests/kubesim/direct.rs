//! Direct kubelet access as an in-cluster pod does it: sa.token + kubelet-ca.crt, the kubelet's own
//! 401/403 bodies, and certificates that do not verify against the wrong CA.

use kubesim::Cluster;

use crate::{api, kubelet_get, request, sa_token};

#[tokio::test]
async fn service_account_token_reads_metrics_and_is_refused_elsewhere() {
    let cluster = Cluster::builder().nodes(2).seed(9).start().await.expect("start");
    let node = &cluster.node_names()[1];
    let token = sa_token(&cluster);
    assert!(token.starts_with("eyJ"), "a JWT-shaped token: {token}");

    for path in ["/metrics", "/metrics/cadvisor", "/metrics/resource", "/metrics/probes"] {
        let ok = kubelet_get(&cluster, node, path, Some(&token)).await.expect("fetch");
        assert_eq!(ok.status, 200, "{path}");
        assert_eq!(ok.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
        let text = ok.text();
        assert!(text.starts_with("# HELP "), "{path}");
        assert!(text.ends_with('\n'), "{path}");
    }

    let anonymous = kubelet_get(&cluster, node, "/metrics", None).await.expect("fetch");
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.text(), "Unauthorized");

    let wrong = kubelet_get(&cluster, node, "/metrics", Some("not-a-token")).await.expect("fetch");
    assert_eq!(wrong.status, 401);

    let pods = kubelet_get(&cluster, node, "/pods", Some(&token)).await.expect("fetch");
    assert_eq!(pods.status, 403);
    assert_eq!(
        pods.text(),
        "Forbidden (user=system:serviceaccount:monitoring:kubelet-metrics, verb=get, resource=nodes, subresource=proxy)"
    );
    let stats = kubelet_get(&cluster, node, "/stats/summary", Some(&token)).await.expect("fetch");
    assert_eq!(stats.status, 403);
    assert!(stats.text().ends_with("subresource=stats)"), "{}", stats.text());

    // The admin's token (system:masters) may see /pods.
    let admin_token = std::fs::read_to_string(cluster.admin_kubeconfig())
        .expect("kubeconfig")
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: ").map(str::to_string))
        .expect("token");
    let pods = kubelet_get(&cluster, node, "/pods", Some(&admin_token)).await.expect("fetch");
    assert_eq!(pods.status, 200);
    let list: serde_json::Value = serde_json::from_slice(pods.body.as_ref().expect("body")).expect("PodList");
    assert_eq!(list["kind"], "PodList");
    let summary = kubelet_get(&cluster, node, "/stats/summary", Some(&admin_token)).await.expect("fetch");
    let summary: serde_json::Value =
        serde_json::from_slice(summary.body.as_ref().expect("body")).expect("Summary");
    assert_eq!(summary["node"]["nodeName"], node.as_str());
    assert_eq!(kubelet_get(&cluster, node, "/nope", Some(&admin_token)).await.expect("fetch").status, 404);
    cluster.shutdown().await;
}

#[tokio::test]
async fn kubelet_certificates_verify_only_against_the_kubelet_ca() {
    let cluster = Cluster::builder().nodes(2).start().await.expect("start");
    let node = &cluster.node_names()[0];
    let addr = cluster.kubelet_addr(node).expect("addr");
    let token = sa_token(&cluster);
    let wrong_ca =
        request(addr, "GET", "/metrics", Some(&token), &cluster.ca_path(), "127.0.0.1", None).await;
    let err = wrong_ca.expect_err("the cluster CA did not sign kubelet certificates");
    assert!(err.contains("UnknownIssuer") || err.contains("unknown"), "{err}");
    // The serving certificate names the node too.
    let by_name = request(addr, "GET", "/healthz", Some(&token), &cluster.kubelet_ca_path(), node, None)
        .await
        .expect("fetch");
    assert_eq!(by_name.status, 403, "healthz needs nodes/healthz or nodes/proxy");
    // And the API server's certificate verifies against ca.crt for both 127.0.0.1 and localhost.
    let api_addr = cluster.api_url().trim_start_matches("https://").parse().expect("addr");
    for name in ["127.0.0.1", "localhost"] {
        let version =
            request(api_addr, "GET", "/version", None, &cluster.ca_path(), name, None).await.expect("fetch");
        assert_eq!(version.status, 200);
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn token_rotation_and_reviews() {
    let cluster = Cluster::builder().nodes(1).start().await.expect("start");
    let old = sa_token(&cluster);
    let new = cluster.create_token("monitoring", "kubelet-metrics").expect("token");
    cluster.write_sa_token(&new);
    assert_eq!(sa_token(&cluster), new);
    for token in [&old, &new] {
        let ok = kubelet_get(&cluster, "node-0", "/metrics", Some(token)).await.expect("fetch");
        assert_eq!(ok.status, 200);
    }
    let review = api(
        &cluster,
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        Some(&format!(
            r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{{"token":"{new}"}}}}"#
        )),
    )
    .await;
    let review: serde_json::Value =
        serde_json::from_slice(review.body.as_ref().expect("body")).expect("json");
    assert_eq!(review["status"]["user"]["username"], "system:serviceaccount:monitoring:kubelet-metrics");

    let sar = api(
        &cluster,
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        Some(r#"{"spec":{"user":"system:serviceaccount:monitoring:kubelet-metrics","groups":["system:serviceaccounts"],"resourceAttributes":{"verb":"get","resource":"nodes","subresource":"metrics","name":"node-0"}}}"#),
    )
    .await;
    let sar: serde_json::Value = serde_json::from_slice(sar.body.as_ref().expect("body")).expect("json");
    assert_eq!(sar["status"]["allowed"], true);

    let token_request = api(
        &cluster,
        "POST",
        "/api/v1/namespaces/monitoring/serviceaccounts/kubelet-metrics/token",
        Some("{}"),
    )
    .await;
    assert_eq!(token_request.status, 201);
    let missing =
        api(&cluster, "POST", "/api/v1/namespaces/monitoring/serviceaccounts/nobody/token", Some("{}")).await;
    assert_eq!(missing.status, 404);
    cluster.shutdown().await;
}
