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
    // From the watch cache (`resourceVersion=0`) the limit is ignored: one page, no continue token.
    let cached =
        kubectl(&cluster, &admin, &["get", "--raw", "/api/v1/nodes?limit=5&resourceVersion=0"]).await;
    let list: serde_json::Value = serde_json::from_slice(&cached.stdout).expect("NodeList");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(12));
    assert_eq!(list["metadata"].get("continue"), None);
    let paged = kubectl(&cluster, &admin, &["get", "--raw", "/api/v1/nodes?limit=5"]).await;
    let list: serde_json::Value = serde_json::from_slice(&paged.stdout).expect("NodeList");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(5));
    assert!(list["metadata"]["continue"].is_string());
    // Every request was counted, by kind.
    let requests = cluster.requests();
    assert!(requests.by_kind["list"] >= 4, "{:?}", requests.by_kind);
    assert_eq!(requests.by_kind.get("proxy"), None);
    assert!(requests.log.iter().all(|a| a.status != 0), "every logged request was answered");

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

/// What `kubelet-metrics rbac` prints for the direct method: a ServiceAccount, a ClusterRole, its
/// binding, and the Deployment that runs `serve`.
const RBAC_MANIFEST: &str = r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: kubelet-metrics
  namespace: monitoring
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: kubelet-metrics-direct
rules:
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["nodes/metrics"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kubelet-metrics-direct
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: kubelet-metrics-direct
subjects:
- kind: ServiceAccount
  name: kubelet-metrics
  namespace: monitoring
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kubelet-metrics
  namespace: monitoring
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: kubelet-metrics}
  template:
    metadata:
      labels: {app.kubernetes.io/name: kubelet-metrics}
    spec:
      serviceAccountName: kubelet-metrics
      containers:
      - name: kubelet-metrics
        image: kubelet-metrics:latest
        args: ["serve", "--method", "direct"]
"#;

/// The client's minor version, from `kubectl version --client -o json`.
async fn kubectl_minor(cluster: &Cluster) -> u32 {
    let version = kubectl(cluster, &cluster.admin_kubeconfig(), &["version", "--client", "-o", "json"]).await;
    let json: serde_json::Value = serde_json::from_slice(&version.stdout).expect("kubectl version JSON");
    json["clientVersion"]["minor"]
        .as_str()
        .and_then(|m| m.trim_end_matches('+').parse().ok())
        .expect("a minor")
}

#[tokio::test]
async fn apply_dry_run_client_accepts_the_rbac_manifest() {
    let cluster = Cluster::builder().nodes(1).start().await.expect("start");
    let path = cluster.state_dir().join("rbac.yaml");
    std::fs::write(&path, RBAC_MANIFEST).expect("manifest written");
    let path = path.to_string_lossy().into_owned();
    // kubectl 1.27+ learns from /openapi/v3 that the server validates fields itself. Older clients
    // want the protobuf /openapi/v2 document, which kubesim does not serve.
    let mut args = vec!["apply", "--dry-run=client", "-f", &path];
    if kubectl_minor(&cluster).await < 27 {
        args.push("--validate=false");
    }
    let applied = kubectl(&cluster, &cluster.admin_kubeconfig(), &args).await;
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert_eq!(
        stdout(&applied),
        "serviceaccount/kubelet-metrics configured (dry run)\n\
         clusterrole.rbac.authorization.k8s.io/kubelet-metrics-direct created (dry run)\n\
         clusterrolebinding.rbac.authorization.k8s.io/kubelet-metrics-direct created (dry run)\n\
         deployment.apps/kubelet-metrics created (dry run)\n"
    );
    let resources = kubectl(&cluster, &cluster.admin_kubeconfig(), &["api-resources", "-o", "name"]).await;
    let names = stdout(&resources);
    for name in ["clusterroles.rbac.authorization.k8s.io", "deployments.apps", "daemonsets.apps", "nodes"] {
        assert!(names.lines().any(|l| l == name), "{name} in {names}");
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn self_subject_reviews_exist_only_from_the_version_that_has_them() {
    let review = r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#;
    for (version, v1, v1beta1) in [("v1.26.15", 404, 404), ("v1.27.16", 404, 201), ("v1.28.0", 201, 404)] {
        let cluster = Cluster::builder().nodes(1).server_version(version).start().await.expect("start");
        let info = crate::api(&cluster, "GET", "/version", None).await;
        let info: serde_json::Value =
            serde_json::from_slice(info.body.as_ref().expect("body")).expect("JSON");
        assert_eq!(info["gitVersion"], version);
        let minor = version.split('.').nth(1).expect("minor");
        assert_eq!(info["minor"], minor);
        for (group_version, expected) in [("v1", v1), ("v1beta1", v1beta1)] {
            let path = format!("/apis/authentication.k8s.io/{group_version}/selfsubjectreviews");
            let answer = crate::api(&cluster, "POST", &path, Some(review)).await;
            assert_eq!(answer.status, expected, "{version} {path}: {}", answer.text());
        }
        let whoami = kubectl(&cluster, &cluster.viewer_kubeconfig(), &["auth", "whoami"]).await;
        if v1 == 404 && v1beta1 == 404 {
            assert!(!whoami.status.success(), "{version}: {}", stdout(&whoami));
        }
        cluster.shutdown().await;
    }
    assert!(Cluster::builder().server_version("1.28").start().await.is_err());
}
