//! Which credentials reach a kubelet in each mode of the direct method: a fake kubelet on loopback
//! records the `Authorization` header and the client certificate of every request, and each run
//! asserts what it saw.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{bin, stderr, stdout};

/// What one request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    authorization: Option<String>,
    client_certificate: bool,
}

/// A kubelet that answers `/metrics` and `/healthz` and remembers who asked.
struct Recorder {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

const BODY: &str = "# TYPE up gauge\nup 1\n";

impl Recorder {
    fn start() -> Recorder {
        let dir = tempfile::tempdir().expect("tempdir");
        let (server_ca, server_ca_key) = authority("recorder-ca");
        let (client_ca, client_ca_key) = authority("client-ca");
        let server_issuer = Issuer::new(server_ca.0, server_ca_key);
        let client_issuer = Issuer::new(client_ca.0, client_ca_key);

        let leaf_key = KeyPair::generate().expect("key");
        let mut leaf = CertificateParams::default();
        leaf.subject_alt_names = vec![SanType::IpAddress([127, 0, 0, 1].into())];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf.signed_by(&leaf_key, &server_issuer).expect("leaf");

        let user_key = KeyPair::generate().expect("key");
        let mut user = CertificateParams::default();
        user.distinguished_name.push(DnType::CommonName, "kubernetes-admin");
        user.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let user = user.signed_by(&user_key, &client_issuer).expect("client certificate");

        std::fs::write(dir.path().join("kubelet-ca.pem"), &server_ca.1).expect("write");
        std::fs::write(dir.path().join("token"), "kubelet-token\n").expect("write");
        let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        std::fs::write(
            dir.path().join("kubeconfig"),
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
                 clusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:9'}}}}]\n\
                 contexts: [{{name: c, context: {{cluster: c, user: admin}}}}]\n\
                 users: [{{name: admin, user: {{token: kubeconfig-secret, \
                 client-certificate-data: {}, client-key-data: {}}}}}]\n",
                b64(&user.pem()),
                b64(&user_key.serialize_pem())
            ),
        )
        .expect("write");

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(client_ca.2).expect("root");
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
                .allow_unauthenticated()
                .build()
                .expect("verifier");
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
            )
            .expect("serving certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, record) = (acceptor.clone(), record.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let client_certificate =
                        tls.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty());
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let authorization = head.lines().find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("authorization").then(|| value.trim().to_string())
                    });
                    record.lock().expect("lock").push(Seen { authorization, client_certificate });
                    let body = if head.starts_with("GET /healthz") { "ok" } else { BODY };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Recorder { addr, seen, dir, _runtime: runtime }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// Runs `get --method direct` against this kubelet with `args`; returns the exit code,
    /// stderr and what the kubelet saw.
    fn get(&self, args: &[&str]) -> (Option<i32>, String, Vec<Seen>) {
        self.seen.lock().expect("lock").clear();
        let output = bin()
            .args(["get", "-m", "up", "--method", "direct", "--timeout", "5s", "--retries", "0"])
            .args(["--node-ip", &self.addr.to_string(), "--kubeconfig", &self.path("kubeconfig")])
            .args(args)
            .output()
            .expect("runs");
        let seen = self.seen.lock().expect("lock").clone();
        (output.status.code(), stderr(&output), seen)
    }
}

/// A self-signed CA: its parameters, PEM and DER.
fn authority(name: &str) -> ((CertificateParams, String, CertificateDer<'static>), KeyPair) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("CA");
    ((params, cert.pem(), cert.der().clone()), key)
}

fn bearer(token: &str) -> Seen {
    Seen { authorization: Some(format!("Bearer {token}")), client_certificate: false }
}

const ANONYMOUS: Seen = Seen { authorization: None, client_certificate: false };

#[test]
fn kubelets_receive_only_credentials_meant_for_them() {
    let kubelet = Recorder::start();
    let (ca, token) = (kubelet.path("kubelet-ca.pem"), kubelet.path("token"));

    // Default: the kubeconfig's token and client certificate stay home, and we say so.
    let (code, err, seen) = kubelet.get(&["--kubelet-ca", &ca]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(seen, [ANONYMOUS]);
    assert!(err.contains("not sent to kubelets") && err.contains("--kubelet-auth kubeconfig"), "{err}");

    // --token-file: that token only.
    let (code, err, seen) = kubelet.get(&["--kubelet-ca", &ca, "--token-file", &token]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(seen, [bearer("kubelet-token")]);
    assert!(!err.contains("kubeconfig-secret"));

    // --kubelet-auth kubeconfig: the kubeconfig's credentials, with a warning naming the identity.
    let (code, err, seen) = kubelet.get(&["--kubelet-ca", &ca, "--kubelet-auth", "kubeconfig"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        seen,
        [Seen { authorization: Some("Bearer kubeconfig-secret".into()), client_certificate: true }]
    );
    assert!(
        err.contains("user \"admin\"")
            && err.contains("CN=\"kubernetes-admin\"")
            && err.contains("every kubelet"),
        "{err}"
    );
    assert!(!err.contains("kubeconfig-secret"));

    // --kubelet-auth none: anonymous, as asked.
    let (code, err, seen) = kubelet.get(&["--kubelet-ca", &ca, "--kubelet-auth", "none"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(seen, [ANONYMOUS]);
}

#[test]
fn unverified_kubelets_get_credentials_only_when_the_user_says_so_twice() {
    let kubelet = Recorder::start();
    let token = kubelet.path("token");
    let insecure = "--insecure-skip-tls-verify-kubelet";

    for args in [&["--token-file", &token][..], &["--kubelet-auth", "kubeconfig"][..]] {
        let (code, err, seen) = kubelet.get(&[&[insecure][..], args].concat());
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(seen, [ANONYMOUS], "{args:?}");
        assert!(err.contains("no credentials are sent"), "{err}");
    }

    let allow = "--allow-credentials-to-unverified-kubelets";
    let (code, err, seen) = kubelet.get(&[insecure, allow, "--token-file", &token]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(seen, [bearer("kubelet-token")]);
    assert!(err.contains("capture the credentials"), "{err}");
}

#[test]
fn credential_flags_are_validated_together() {
    let output = bin()
        .args(["get", "--method", "proxy", "--kubelet-auth", "kubeconfig"])
        .args(["--allow-credentials-to-unverified-kubelets"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--kubelet-auth applies to --method direct only"), "{err}");
    assert!(
        err.contains(
            "--allow-credentials-to-unverified-kubelets applies to --insecure-skip-tls-verify-kubelet only"
        ),
        "{err}"
    );
    let output = bin()
        .args(["get", "--method", "direct", "--kubelet-auth", "kubeconfig", "--token-file", "/t"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("choose one"), "{}", stderr(&output));
}

#[test]
fn doctor_says_it_skipped_the_authenticated_checks_and_why() {
    let kubelet = Recorder::start();
    let nowhere: PathBuf = Path::new(&kubelet.path("no-such-kubeconfig")).to_path_buf();
    let output = bin()
        .args(["doctor", "--method", "direct", "--node-ip", &kubelet.addr.to_string()])
        .args(["--token-file", &kubelet.path("token"), "--insecure-skip-tls-verify-kubelet"])
        .env("KUBECONFIG", &nowhere)
        .env("HOME", kubelet.dir.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("runs");
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    let (line, _) = crate::access::check_block(&text, "kubelet credentials");
    assert!(line.starts_with("FAIL") && line.contains("no credentials are sent"), "{text}");
    assert!(line.contains("checks (/healthz, /metrics) are skipped"), "{text}");
    assert!(text.contains("--allow-credentials-to-unverified-kubelets"), "{text}");
    assert!(!text.contains("direct /metrics"), "{text}");
    let seen = kubelet.seen.lock().expect("lock").clone();
    assert!(seen.iter().all(|s| s.authorization.is_none()), "{seen:?}");
}

#[test]
fn a_token_file_with_crlf_inside_is_blamed_with_its_path() {
    let kubelet = Recorder::start();
    let token = kubelet.dir.path().join("crlf-token");
    std::fs::write(&token, "first-line\r\nsecond-line\r\n").expect("write");
    let token = token.to_string_lossy().into_owned();
    let (code, err, seen) =
        kubelet.get(&["--kubelet-ca", &kubelet.path("kubelet-ca.pem"), "--token-file", &token]);
    assert_eq!(code, Some(2), "{err}");
    assert!(seen.is_empty(), "nothing was sent: {seen:?}");
    assert!(
        err.contains(&token) && err.contains("carriage returns") && !err.contains("kubeconfig user"),
        "{err}"
    );
}
