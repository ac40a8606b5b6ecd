//! The pod-start histograms every kubelet serves equal truth.json, before and after advance and restart.

use kubesim::{Cluster, POD_START_DURATION, POD_START_SLI_DURATION, Truth};

use crate::{api, from_truth, kubectl, kubelet_get, parse_histogram, sa_token};

fn truth_file(cluster: &Cluster) -> Truth {
    serde_json::from_slice(&std::fs::read(cluster.state_dir().join("truth.json")).expect("truth.json"))
        .expect("parses")
}

/// Every node's payload, directly and through the proxy, matches truth.json.
async fn assert_payloads_match_truth(cluster: &Cluster) {
    let truth = truth_file(cluster);
    assert_eq!(truth, cluster.truth(), "truth.json follows the cluster");
    let token = sa_token(cluster);
    for node in &truth.nodes {
        let direct = kubelet_get(cluster, &node.name, "/metrics", Some(&token)).await.expect("fetch").text();
        let proxied = kubectl(
            cluster,
            &cluster.admin_kubeconfig(),
            &["get", "--raw", &format!("/api/v1/nodes/{}/proxy/metrics", node.name)],
        )
        .await;
        assert_eq!(String::from_utf8_lossy(&proxied.stdout), direct);
        let served = parse_histogram(&direct, POD_START_DURATION).expect("pod-start histogram");
        assert_eq!(served, from_truth(&node.pod_start), "{}", node.name);
        let sli = parse_histogram(&direct, POD_START_SLI_DURATION).expect("SLI histogram");
        assert_eq!(sli, from_truth(node.pod_start_sli.as_ref().expect("sli truth")), "{}", node.name);
        assert!(direct.contains(&format!("git_version=\"{}\"", node.kubelet_version)));
        // One start time, the truth's: the histograms count from then.
        let starts: Vec<&str> =
            direct.lines().filter(|l| l.starts_with("process_start_time_seconds ")).collect();
        assert_eq!(
            starts,
            [format!("process_start_time_seconds {}", node.process_start_time_seconds)],
            "{}",
            node.name
        );
    }
}

#[tokio::test]
async fn histograms_equal_truth_before_and_after_advance_and_restart() {
    let cluster = Cluster::builder().nodes(4).seed(21).start().await.expect("start");
    let truth = cluster.truth();
    assert!(truth.nodes.iter().any(|n| n.profile == "old"), "an old kubelet among four nodes");
    assert_eq!(truth.nodes.iter().filter(|n| n.profile == "pathological").count(), 1);
    for node in &truth.nodes {
        let les: Vec<f64> = node.pod_start.buckets.iter().map(|b| b.le).collect();
        let expected: Vec<f64> =
            if node.profile == "old" { kubesim::OLD_BUCKETS.to_vec() } else { kubesim::NEW_BUCKETS.to_vec() };
        assert_eq!(les[..les.len() - 1], expected[..]);
        assert!(node.pod_start.count > 0);
        // The kubelet started before the first pod it counts.
        let first_pod = node
            .pods
            .iter()
            .map(|p| p.created.parse::<jiff::Timestamp>().expect("RFC 3339").as_second() as f64)
            .fold(f64::INFINITY, f64::min);
        assert!(node.process_start_time_seconds < first_pod, "{}", node.name);
    }
    assert_payloads_match_truth(&cluster).await;

    // Through the API (admin only) and through the library.
    let before: Vec<u64> = truth.nodes.iter().map(|n| n.pod_start.count).collect();
    let advanced = api(&cluster, "POST", "/debug/advance", Some(r#"{"pods": 25}"#)).await;
    assert_eq!(advanced.status, 200);
    cluster.advance(5);
    let after: Vec<u64> = cluster.truth().nodes.iter().map(|n| n.pod_start.count).collect();
    // A double-counting kubelet (1.33, 1.34) records each of the 30 new starts twice.
    let recorded: Vec<u64> =
        truth.nodes.iter().zip(&before).map(|(n, c)| c + if n.double_count { 60 } else { 30 }).collect();
    assert_eq!(after, recorded);
    assert!(truth.nodes.iter().any(|n| n.double_count) && truth.nodes.iter().any(|n| !n.double_count));
    assert_payloads_match_truth(&cluster).await;

    let started_before = cluster.truth().nodes[1].process_start_time_seconds;
    let restarted = api(&cluster, "POST", "/debug/restart?node=node-1", None).await;
    assert_eq!(restarted.status, 200);
    assert_eq!(cluster.truth().nodes[1].pod_start.count, 0);
    // A restarted kubelet is a new process: its start time is the restart's, after every pod so far.
    let started_after = cluster.truth().nodes[1].process_start_time_seconds;
    assert!(started_after > started_before + 6.0 * 3600.0, "{started_before} → {started_after}");
    cluster.restart("node-2");
    cluster.advance(3);
    let t = cluster.truth();
    let recorded = |n: &kubesim::NodeTruth| if n.double_count { 6 } else { 3 };
    assert_eq!(
        (t.nodes[1].pod_start.count, t.nodes[2].pod_start.count),
        (recorded(&t.nodes[1]), recorded(&t.nodes[2]))
    );
    assert_payloads_match_truth(&cluster).await;

    let served_truth = api(&cluster, "GET", "/debug/truth", None).await;
    let served: Truth = serde_json::from_slice(served_truth.body.as_ref().expect("body")).expect("truth");
    assert_eq!(served, cluster.truth());

    // The viewer may not drive the cluster, nor read its truth.
    let viewer = kubectl(&cluster, &cluster.viewer_kubeconfig(), &["get", "--raw", "/debug/truth"]).await;
    assert!(
        String::from_utf8_lossy(&viewer.stderr).contains(
            r#"Error from server (Forbidden): forbidden: User "viewer" cannot get path "/debug/truth""#
        ),
        "{}",
        String::from_utf8_lossy(&viewer.stderr)
    );
    assert_eq!(api(&cluster, "POST", "/debug/restart?node=nope", None).await.status, 404);
    cluster.shutdown().await;
}
