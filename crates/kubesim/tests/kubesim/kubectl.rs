//! The real kubectl against the simulated API server: nodes, selectors, pagination, `get --raw` through
//! the proxy, `auth can-i`, and the API server's error messages.

use kubesim::Cluster;

use crate::{kubectl, kubelet_get, sa_token};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn get_nodes_lists_every_node_and_label_selectors_select() {
    let cluster = Cluster::builder().nodes(12).seed(3).start().await.expect("start");
    let admin = cluster.admin_kubeconfig();

    let all = kubectl(&cluster, &admin, &["get", "nodes", "-o", "name"]).await;
    assert!(all.status.success(), "{}", stderr(&all));
    let expected: Vec<String> = cluster.node_names().iter().map(|n| format!("node/{n}")).collect();
    assert_eq!(stdout(&all).lines().map(str::to_string).collect::<Vec<_>>(), expected);

    // The default table view, served as a meta.k8s.io Table.
    let table = kubectl(&cluster, &admin, &["get", "nodes"]).await;
    let text = stdout(&table);
    assert!(text.starts_with("NAME "), "{text}");
    assert!(text.contains("VERSION") && text.contains("Ready"), "{text}");
    assert_eq!(text.lines().count(), 13);

    // zone-b is every third node starting at 1.
    let zone_b = kubectl(
        &cluster,
        &admin,
        &["get", "nodes", "-l", "topology.kubernetes.io/zone=zone-b", "-o", "name"],
    )
    .await;
    assert_eq!(
        stdout(&zone_b).lines().collect::<Vec<_>>(),
        ["node/node-01", "node/node-04", "node/node-07", "node/node-10"]
    );

    let workers = kubectl(
        &cluster,
        &admin,
        &["get", "nodes", "-l", "!node-role.kubernetes.io/control-plane", "-o", "name"],
    )
    .await;
    assert_eq!(stdout(&workers).lines().count(), 11);

    let set = kubectl(
        &cluster,
        &admin,
        &[
            "get",
            "nodes",
            "-l",
            "topology.kubernetes.io/zone in (zone-a,zone-c),kubernetes.io/os==linux",
            "-o",
            "name",
        ],
    )
    .await;
    assert_eq!(stdout(&set).lines().count(), 8);

    let not_in = kubectl(
        &cluster,
        &admin,
        &[
            "get",
            "nodes",
            "-l",
            "topology.kubernetes.io/zone notin (zone-a),topology.kubernetes.io/zone!=zone-c",
            "-o",
            "name",
        ],
    )
    .await;
    assert_eq!(stdout(&not_in).lines().count(), 4);

    let by_name = kubectl(
        &cluster,
        &admin,
        &["get", "nodes", "--field-selector", "metadata.name=node-05", "-o", "name"],
    )
    .await;
    assert_eq!(stdout(&by_name).trim(), "node/node-05");

    // Pagination: kubectl follows `continue` tokens and still sees all twelve.
    let chunked = kubectl(&cluster, &admin, &["get", "nodes", "--chunk-size=5", "-o", "name"]).await;
    assert_eq!(stdout(&chunked).lines().count(), 12);

    // The Node objects carry what both access methods need.
    let json = kubectl(&cluster, &admin, &["get", "node", "node-03", "-o", "json"]).await;
    let node: serde_json::Value = serde_json::from_slice(&json.stdout).expect("node JSON");
    let port = cluster.kubelet_addr("node-03").expect("addr").port();
    assert_eq!(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], port);
    assert_eq!(node["status"]["addresses"][0]["type"], "InternalIP");
    assert_eq!(node["status"]["addresses"][0]["address"], "127.0.0.1");
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], cluster.truth().nodes[3].kubelet_version);

    let missing = kubectl(&cluster, &admin, &["get", "node", "node-99"]).await;
    assert!(
        stderr(&missing).contains(r#"Error from server (NotFound): nodes "node-99" not found"#),
        "{}",
        stderr(&missing)
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn get_raw_through_the_proxy_is_the_kubelets_payload_byte_for_byte() {
    let cluster = Cluster::builder().nodes(3).seed(11).start().await.expect("start");
    let token = sa_token(&cluster);
    for node in cluster.node_names() {
        let raw = kubectl(
            &cluster,
            &cluster.admin_kubeconfig(),
            &["get", "--raw", &format!("/api/v1/nodes/{node}/proxy/metrics")],
        )
        .await;
        assert!(raw.status.success(), "{}", stderr(&raw));
        let direct = kubelet_get(&cluster, &node, "/metrics", Some(&token)).await.expect("direct fetch");
        assert_eq!(direct.status, 200);
        let direct = direct.body.expect("body");
        assert!(raw.stdout == direct.as_ref(), "{node}: proxy and direct payloads differ");
        assert!((120_000..400_000).contains(&direct.len()), "{node}: {} bytes", direct.len());
    }
    // `{name}:{port}` addresses the same kubelet.
    let node = &cluster.node_names()[0];
    let port = cluster.kubelet_addr(node).expect("addr").port();
    let healthz = kubectl(
        &cluster,
        &cluster.admin_kubeconfig(),
        &["get", "--raw", &format!("/api/v1/nodes/{node}:{port}/proxy/healthz")],
    )
    .await;
    assert_eq!(stdout(&healthz), "ok");
    cluster.shutdown().await;
}

#[tokio::test]
async fn auth_can_i_and_the_viewers_forbidden_get_raw() {
    let cluster = Cluster::builder().nodes(2).start().await.expect("start");
    let admin = kubectl(
        &cluster,
        &cluster.admin_kubeconfig(),
        &["auth", "can-i", "get", "nodes", "--subresource=proxy"],
    )
    .await;
    assert_eq!(stdout(&admin).trim(), "yes");
    assert!(admin.status.success());

    let viewer = kubectl(
        &cluster,
        &cluster.viewer_kubeconfig(),
        &["auth", "can-i", "get", "nodes", "--subresource=proxy"],
    )
    .await;
    assert_eq!(stdout(&viewer).trim(), "no");
    assert_eq!(viewer.status.code(), Some(1));
    let viewer_list =
        kubectl(&cluster, &cluster.viewer_kubeconfig(), &["auth", "can-i", "list", "nodes"]).await;
    assert_eq!(stdout(&viewer_list).trim(), "yes");
    let viewer_metrics = kubectl(
        &cluster,
        &cluster.viewer_kubeconfig(),
        &["auth", "can-i", "get", "nodes", "--subresource=metrics"],
    )
    .await;
    assert_eq!(stdout(&viewer_metrics).trim(), "no");

    let list = kubectl(&cluster, &cluster.viewer_kubeconfig(), &["auth", "can-i", "--list"]).await;
    let rules = stdout(&list);
    assert!(rules.lines().any(|l| l.starts_with("nodes ") && l.contains("[get list watch]")), "{rules}");
    assert!(!rules.contains("nodes/proxy"), "{rules}");

    // `auth whoami` exists from kubectl 1.27 on; Debian's kubernetes-client (1.20) lacks it.
    let whoami = kubectl(
        &cluster,
        &cluster.viewer_kubeconfig(),
        &["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
    )
    .await;
    if whoami.status.success() {
        assert_eq!(stdout(&whoami), "viewer");
    }

    let node = &cluster.node_names()[0];
    let raw = kubectl(
        &cluster,
        &cluster.viewer_kubeconfig(),
        &["get", "--raw", &format!("/api/v1/nodes/{node}/proxy/metrics")],
    )
    .await;
    assert!(!raw.status.success());
    let expected = format!(
        "Error from server (Forbidden): nodes \"{node}\" is forbidden: User \"viewer\" cannot get resource \"nodes/proxy\" in API group \"\" at the cluster scope"
    );
    assert!(stderr(&raw).contains(&expected), "{}", stderr(&raw));

    // The viewer may still list nodes (client-certificate authentication works for kubectl).
    let nodes = kubectl(&cluster, &cluster.viewer_kubeconfig(), &["get", "nodes", "-o", "name"]).await;
    assert_eq!(stdout(&nodes).lines().count(), 2, "{}", stderr(&nodes));
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_bad_token_is_unauthorized_and_applied_rbac_takes_effect() {
    let cluster = Cluster::builder().nodes(2).start().await.expect("start");
    let bad = cluster.state_dir().join("bad.kubeconfig");
    let text = std::fs::read_to_string(cluster.admin_kubeconfig()).expect("kubeconfig");
    let token_line = text.lines().find(|l| l.trim().starts_with("token: ")).expect("token").to_string();
    std::fs::write(&bad, text.replace(&token_line, "    token: not-a-valid-token")).expect("write");
    let out = kubectl(&cluster, &bad, &["get", "--raw", "/api/v1/nodes"]).await;
    assert!(
        stderr(&out).contains("error: You must be logged in to the server (Unauthorized)"),
        "{}",
        stderr(&out)
    );
    let out = kubectl(&cluster, &bad, &["get", "nodes"]).await;
    assert!(stderr(&out).contains("You must be logged in to the server"), "{}", stderr(&out));

    // Grant the viewer nodes/proxy as a ClusterRole + ClusterRoleBinding document would.
    cluster
        .apply_yaml(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: proxy-reader\nrules:\n\
             - apiGroups: [\"\"]\n  resources: [\"nodes/proxy\"]\n  verbs: [\"get\"]\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: viewer-proxy\n\
             roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: proxy-reader\nsubjects:\n\
             - apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: viewer\n",
        )
        .expect("apply");
    let node = &cluster.node_names()[1];
    let raw = kubectl(
        &cluster,
        &cluster.viewer_kubeconfig(),
        &["get", "--raw", &format!("/api/v1/nodes/{node}/proxy/healthz")],
    )
    .await;
    assert_eq!(stdout(&raw), "ok", "{}", stderr(&raw));
    let can = kubectl(
        &cluster,
        &cluster.viewer_kubeconfig(),
        &["auth", "can-i", "get", "nodes", "--subresource=proxy"],
    )
    .await;
    assert_eq!(stdout(&can).trim(), "yes");
    cluster.shutdown().await;
}
