//! Kubelets-only mode against kubesim's own API server standing in for a real one: one cluster serves
//! the API, a second registers its nodes there and asks it to review every kubelet request. Also the
//! node writes (create, status, delete) that mode relies on.

use kubesim::{Cluster, ExternalApi};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use serde_json::Value;

use crate::{api, kubelet_get, sa_token};

/// A fresh CA for the external cluster's kubelet serving certificates: (certificate, PKCS#8 key).
fn kubelet_ca() -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("self-signed CA");
    (cert.pem(), key.serialize_pem())
}

/// Everything a second kubesim needs to register its nodes in `host`, as an admin (system:masters).
fn external_api(host: &Cluster) -> ExternalApi {
    let ca_pem = std::fs::read_to_string(host.ca_path()).expect("ca.crt");
    let (client_cert_pem, client_key_pem) =
        host.client_certificate("kubesim-external", &["system:masters"]).expect("client certificate");
    let (kubelet_ca_cert_pem, kubelet_ca_key_pem) = kubelet_ca();
    ExternalApi {
        server: host.api_url().to_string(),
        client_ca_pem: ca_pem.clone(),
        ca_pem,
        client_cert_pem,
        client_key_pem,
        kubelet_ca_cert_pem,
        kubelet_ca_key_pem,
    }
}

/// `GET path` from a kubelet of `sim`, presenting a client certificate; the status code.
async fn get_with_certificate(sim: &Cluster, node: &str, path: &str, cert_pem: &str, key_pem: &str) -> u16 {
    use http_body_util::{BodyExt, Empty};
    let mut roots = rustls::RootCertStore::empty();
    let ca = std::fs::read(sim.kubelet_ca_path()).expect("kubelet-ca.crt");
    for cert in rustls_pemfile::certs(&mut ca.as_slice()) {
        roots.add(cert.expect("PEM")).expect("CA");
    }
    let chain = rustls_pemfile::certs(&mut cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>().expect("cert");
    let key = rustls_pemfile::private_key(&mut key_pem.as_bytes()).expect("key PEM").expect("a key");
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .expect("client certificate");
    let addr = sim.kubelet_addr(node).expect("node");
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
        let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(name, stream)
            .await
            .expect("TLS with a client certificate");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await.expect("HTTP");
        tokio::spawn(connection);
        let request = http::Request::get(path)
            .header("host", addr.to_string())
            .body(Empty::<bytes::Bytes>::new().map_err(|never| match never {}))
            .expect("request");
        sender.send_request(request).await.expect("response").status().as_u16()
    };
    tokio::time::timeout(crate::LIMIT, exchange).await.expect("in time")
}

fn json(fetched: &crate::Fetched) -> Value {
    serde_json::from_slice(fetched.body.as_ref().expect("a body")).expect("JSON")
}

#[tokio::test]
async fn external_mode_registers_nodes_and_reviews_requests_remotely() {
    let host = Cluster::builder().nodes(2).seed(4).start().await.expect("host starts");
    let sim = Cluster::builder()
        .nodes(3)
        .seed(5)
        .name_prefix("ext")
        .external(external_api(&host))
        .start()
        .await
        .expect("kubelets-only cluster starts");
    assert!(sim.is_external());
    assert_eq!(sim.api_url(), host.api_url());
    assert_eq!(sim.node_names(), ["ext-0", "ext-1", "ext-2"]);

    // The host lists its own nodes and the registered ones, in name order.
    let list = json(&api(&host, "GET", "/api/v1/nodes", None).await);
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["ext-0", "ext-1", "ext-2", "node-0", "node-1"]);
    let node = json(&api(&host, "GET", "/api/v1/nodes/ext-1", None).await);
    let port = sim.kubelet_addr("ext-1").expect("ext-1").port();
    assert_eq!(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], port);
    assert_eq!(
        node["status"]["addresses"][0],
        serde_json::json!({"type": "InternalIP", "address": "127.0.0.1"})
    );
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], sim.truth().nodes[1].kubelet_version);
    let ready =
        node["status"]["conditions"].as_array().expect("conditions").iter().find(|c| c["type"] == "Ready");
    assert_eq!(ready.expect("Ready")["status"], "True");
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], "ext-1");
    assert_eq!(node["metadata"]["labels"]["topology.kubernetes.io/zone"], "zone-b");
    let selected = json(
        &api(&host, "GET", "/api/v1/nodes?labelSelector=topology.kubernetes.io%2Fzone%3Dzone-b", None).await,
    );
    let selected: Vec<&str> = selected["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str())
        .collect();
    assert_eq!(selected, ["ext-1", "node-1"]);

    // The host's service-account token may get nodes/metrics: TokenReview and SubjectAccessReview
    // answered by the host.
    let token = sa_token(&host);
    let metrics = kubelet_get(&sim, "ext-1", "/metrics", Some(&token)).await.expect("fetch");
    assert_eq!(metrics.status, 200, "{}", metrics.text());
    assert!(metrics.text().contains("kubelet_pod_start_duration_seconds_bucket"));
    let again = kubelet_get(&sim, "ext-1", "/metrics/probes", Some(&token)).await.expect("fetch");
    assert_eq!(again.status, 200);
    let pods = kubelet_get(&sim, "ext-1", "/pods", Some(&token)).await.expect("fetch");
    assert_eq!(pods.status, 403);
    assert_eq!(
        pods.text(),
        "Forbidden (user=system:serviceaccount:monitoring:kubelet-metrics, verb=get, resource=nodes, subresource=proxy)"
    );

    // A token the host knows but whose account may not read metrics.
    host.apply_yaml(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: other\n  namespace: monitoring\n",
    )
    .expect("apply");
    let other = host.create_token("monitoring", "other").expect("token");
    let denied = kubelet_get(&sim, "ext-0", "/metrics", Some(&other)).await.expect("fetch");
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.text(),
        "Forbidden (user=system:serviceaccount:monitoring:other, verb=get, resource=nodes, subresource=metrics)"
    );
    // Tokens the host does not know, and no token at all.
    let unknown = kubelet_get(&sim, "ext-0", "/metrics", Some("not-a-token")).await.expect("fetch");
    assert_eq!((unknown.status, unknown.text().as_str()), (401, "Unauthorized"));
    let anonymous = kubelet_get(&sim, "ext-0", "/metrics", None).await.expect("fetch");
    assert_eq!(anonymous.status, 401);
    // The host's admin token is system:masters there.
    let admin = kubelet_get(&sim, "ext-2", "/pods", Some(&host.admin_token())).await.expect("fetch");
    assert_eq!(admin.status, 200);

    // Client certificates signed by the host's CA authenticate as CN / O, as the host's own proxy
    // identity does; the host still authorizes them.
    let (cert, key) =
        host.client_certificate("kube-apiserver-kubelet-client", &["system:masters"]).expect("cert");
    assert_eq!(get_with_certificate(&sim, "ext-0", "/pods", &cert, &key).await, 200);
    let (cert, key) = host.client_certificate("nobody", &[]).expect("cert");
    assert_eq!(get_with_certificate(&sim, "ext-0", "/metrics", &cert, &key).await, 403);

    // A second cluster with the same names is refused and deletes nothing it did not create.
    let clash = Cluster::builder().nodes(3).name_prefix("ext").external(external_api(&host)).start().await;
    let message = format!("{:#}", clash.expect_err("names are taken"));
    assert!(message.contains("already exists"), "{message}");
    assert_eq!(api(&host, "GET", "/api/v1/nodes/ext-2", None).await.status, 200);

    // Shutting down deletes the registered nodes.
    sim.shutdown().await;
    for name in ["ext-0", "ext-1", "ext-2"] {
        assert_eq!(api(&host, "GET", &format!("/api/v1/nodes/{name}"), None).await.status, 404, "{name}");
    }
    assert_eq!(api(&host, "GET", "/api/v1/nodes/node-1", None).await.status, 200);
    host.shutdown().await;
}

#[tokio::test]
async fn dropping_an_external_cluster_deletes_its_nodes() {
    let host = Cluster::builder().nodes(1).start().await.expect("host starts");
    let sim = Cluster::builder()
        .nodes(2)
        .name_prefix("gone")
        .external(external_api(&host))
        .start()
        .await
        .expect("start");
    assert_eq!(api(&host, "GET", "/api/v1/nodes/gone-1", None).await.status, 200);
    drop(sim);
    assert_eq!(api(&host, "GET", "/api/v1/nodes/gone-0", None).await.status, 404);
    assert_eq!(api(&host, "GET", "/api/v1/nodes/gone-1", None).await.status, 404);
    host.shutdown().await;
}

#[tokio::test]
async fn nodes_are_created_patched_and_deleted_with_kubernetes_semantics() {
    let cluster = Cluster::builder().nodes(1).start().await.expect("start");
    let body =
        r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"extra","labels":{"a":"b"}},"spec":{}}"#;
    let created = api(&cluster, "POST", "/api/v1/nodes", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let object = json(&created);
    assert!(object["metadata"]["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(object["metadata"]["resourceVersion"].as_str().is_some());

    let again = api(&cluster, "POST", "/api/v1/nodes", Some(body)).await;
    assert_eq!(again.status, 409);
    let status = json(&again);
    assert_eq!(status["reason"], "AlreadyExists");
    assert_eq!(status["message"], "nodes \"extra\" already exists");
    let simulated = api(&cluster, "POST", "/api/v1/nodes", Some(&body.replace("extra", "node-0"))).await;
    assert_eq!(simulated.status, 409);

    // The status subresource changes the status only; the node itself everything but the status.
    let patch = r#"{"status":{"nodeInfo":{"kubeletVersion":"v1.20.2"}},"metadata":{"labels":{"a":"c"}}}"#;
    let patched = api(&cluster, "PATCH", "/api/v1/nodes/extra/status", Some(patch)).await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    let object = json(&patched);
    assert_eq!(object["status"]["nodeInfo"]["kubeletVersion"], "v1.20.2");
    assert_eq!(object["metadata"]["labels"]["a"], "b");
    let relabelled = json(&api(&cluster, "PATCH", "/api/v1/nodes/extra", Some(patch)).await);
    assert_eq!(relabelled["metadata"]["labels"]["a"], "c");
    assert_eq!(relabelled["status"]["nodeInfo"]["kubeletVersion"], "v1.20.2");

    let deleted = api(&cluster, "DELETE", "/api/v1/nodes/extra", None).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(api(&cluster, "DELETE", "/api/v1/nodes/extra", None).await.status, 404);
    assert_eq!(api(&cluster, "GET", "/api/v1/nodes/extra/status", None).await.status, 404);
    cluster.shutdown().await;
}

#[tokio::test]
async fn binary_registers_nodes_from_a_kubeconfig_and_deletes_them_on_sigterm() {
    use base64::Engine;
    use tokio::io::AsyncBufReadExt;
    let host = Cluster::builder().nodes(1).start().await.expect("host starts");
    let api = external_api(&host);
    let dir = tempfile::tempdir().expect("temp dir");
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: host\nclusters:\n- name: host\n  cluster:\n    server: {}\n    \
         certificate-authority-data: {}\ncontexts:\n- name: host\n  context: {{cluster: host, user: kubesim}}\nusers:\n\
         - name: kubesim\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        api.server,
        b64(&api.ca_pem),
        b64(&api.client_cert_pem),
        b64(&api.client_key_pem)
    );
    let files = [
        ("host.kubeconfig", kubeconfig.as_str()),
        ("kubelet-ca.pem", api.kubelet_ca_cert_pem.as_str()),
        ("kubelet-ca-key.pem", api.kubelet_ca_key_pem.as_str()),
        ("client-ca.pem", api.client_ca_pem.as_str()),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("written");
    }
    let state = dir.path().join("state");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_kubesim"))
        .args(["--nodes", "2", "--name-prefix", "cli", "--state-dir"])
        .arg(&state)
        .arg("--external-kubeconfig")
        .arg(dir.path().join("host.kubeconfig"))
        .arg("--kubelet-ca-cert")
        .arg(dir.path().join("kubelet-ca.pem"))
        .arg("--kubelet-ca-key")
        .arg(dir.path().join("kubelet-ca-key.pem"))
        .arg("--kubelet-client-ca")
        .arg(dir.path().join("client-ca.pem"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kubesim starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line =
        tokio::time::timeout(crate::LIMIT, lines.next_line()).await.expect("ready in time").expect("a line");
    assert_eq!(line.as_deref(), Some(format!("ready {}", host.api_url()).as_str()));
    assert!(state.join("kubelet-ca.crt").exists() && state.join("truth.json").exists());
    assert!(!state.join("admin.kubeconfig").exists());
    assert_eq!(api_status(&host, "/api/v1/nodes/cli-1").await, 200);

    let pid = child.id().expect("pid").to_string();
    let kill = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill runs");
    assert!(kill.success());
    let status =
        tokio::time::timeout(crate::LIMIT, child.wait()).await.expect("exits in time").expect("status");
    assert!(status.success(), "{status:?}");
    assert_eq!(api_status(&host, "/api/v1/nodes/cli-0").await, 404);
    assert_eq!(api_status(&host, "/api/v1/nodes/cli-1").await, 404);
    host.shutdown().await;
}

async fn api_status(host: &Cluster, path: &str) -> u16 {
    api(host, "GET", path, None).await.status
}
