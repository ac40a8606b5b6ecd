//! A real kube-apiserver on loopback: the binary `scripts/real-apiserver` builds from Debian's
//! `kubernetes` source package, with Debian's etcd. A CA made at start signs the server's
//! certificate and every client certificate; a static token file, a service-account issuer and
//! signing key (so TokenRequest works), `--authorization-mode=Node,RBAC`, and the kubelet client
//! certificate and kubelet CA the node proxy uses. Everything it starts is stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};

/// The environment variable naming the kube-apiserver binary (`scripts/test` sets it).
pub const BINARY_VAR: &str = "KUBELET_METRICS_REAL_APISERVER";

/// A certificate authority: its certificate and what signs with it.
pub struct Authority {
    /// PEM of the CA certificate.
    pub cert_pem: String,
    /// PEM of the CA key.
    pub key_pem: String,
    issuer: rcgen::Issuer<'static, KeyPair>,
}

impl Authority {
    fn new(name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        let key_pem = key.serialize_pem();
        Authority { cert_pem: cert.pem(), key_pem, issuer: rcgen::Issuer::new(params, key) }
    }

    /// A client certificate for `user` in `groups`: (certificate PEM, key PEM).
    pub fn client(&self, user: &str, groups: &[&str]) -> (String, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, user);
        for group in groups {
            params.distinguished_name.push(DnType::OrganizationName, *group);
        }
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    /// A serving certificate for 127.0.0.1 and `names`.
    pub fn server(&self, names: &[&str]) -> (String, String) {
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("server params");
        params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("127.0.0.1"));
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> (String, String) {
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf certificate");
        (cert.pem(), key.serialize_pem())
    }
}

/// Static bearer tokens the server accepts (`--token-auth-file`).
pub const ADMIN_TOKEN: &str = "real-admin-token";
/// A user with no RBAC at all.
pub const VIEWER_TOKEN: &str = "real-viewer-token";

/// A running etcd + kube-apiserver pair.
pub struct RealApiServer {
    dir: tempfile::TempDir,
    etcd: Child,
    apiserver: Child,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The cluster CA: signs the server's certificate and every client certificate.
    pub ca: Authority,
    /// The CA that signs kubelet serving certificates (`--kubelet-certificate-authority`).
    pub kubelet_ca: Authority,
    /// The version the server reports, e.g. `v1.20.2`.
    pub version: String,
}

impl RealApiServer {
    /// The binary to run: the one the environment names, else the one `scripts/real-apiserver`
    /// caches.
    pub fn binary() -> Option<PathBuf> {
        let cached = || {
            let cache = std::env::var_os("KUBELET_METRICS_CACHE").map(PathBuf::from).or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/kubelet-metrics"))
            })?;
            Some(cache.join("kube-apiserver"))
        };
        std::env::var_os(BINARY_VAR).map(PathBuf::from).or_else(cached).filter(|p| p.is_file())
    }

    /// Starts etcd and the API server and waits until `/readyz` is ok (RBAC bootstrapped).
    /// API Priority and Fairness is off: the scenarios measure our client, not the server's
    /// queues ([`RealApiServer::start_with_flags`] turns it on).
    pub fn start() -> RealApiServer {
        Self::start_with_flags(&[])
    }

    /// [`RealApiServer::start`] with more flags, which win over the defaults (the last of a
    /// repeated flag counts), e.g. `--enable-priority-and-fairness=true`.
    pub fn start_with_flags(extra: &[&str]) -> RealApiServer {
        let binary = Self::binary()
            .unwrap_or_else(|| panic!("no kube-apiserver: run scripts/real-apiserver or set {BINARY_VAR}"));
        let dir = tempfile::tempdir().expect("temp dir");
        let path = |name: &str| dir.path().join(name);
        let write = |name: &str, text: &str| std::fs::write(path(name), text).expect("write");

        let ca = Authority::new("real-apiserver-ca");
        let kubelet_ca = Authority::new("real-kubelet-ca");
        write("ca.crt", &ca.cert_pem);
        write("kubelet-ca.crt", &kubelet_ca.cert_pem);
        let (cert, key) = ca.server(&["kubernetes", "kubernetes.default", "localhost"]);
        write("apiserver.crt", &cert);
        write("apiserver.key", &key);
        let (cert, key) = ca.client("kube-apiserver-kubelet-client", &["system:masters"]);
        write("kubelet-client.crt", &cert);
        write("kubelet-client.key", &key);
        let sa_key = KeyPair::generate().expect("service-account key");
        write("sa.key", &sa_key.serialize_pem());
        write("sa.pub", &sa_key.public_key_pem());
        write(
            "tokens.csv",
            &format!("{ADMIN_TOKEN},admin,admin-uid,\"system:masters\"\n{VIEWER_TOKEN},viewer,viewer-uid\n"),
        );

        let etcd_port = crate::free_port();
        let etcd_peer = crate::free_port();
        let etcd = Command::new("etcd")
            .arg("--data-dir")
            .arg(path("etcd"))
            .args(["--listen-client-urls", &format!("http://127.0.0.1:{etcd_port}")])
            .args(["--advertise-client-urls", &format!("http://127.0.0.1:{etcd_port}")])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{etcd_peer}")])
            .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{etcd_peer}")])
            .args(["--initial-cluster", &format!("default=http://127.0.0.1:{etcd_peer}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(path("etcd.log")).expect("log"))
            .spawn()
            .expect("etcd starts (Debian's etcd-server)");
        let port = crate::free_port();
        let arg = |flag: &str, file: &str| format!("--{flag}={}", path(file).display());
        let apiserver = Command::new(binary)
            .args([
                &format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                &format!("--secure-port={port}"),
                "--insecure-port=0",
                &arg("cert-dir", "certs"),
                &arg("tls-cert-file", "apiserver.crt"),
                &arg("tls-private-key-file", "apiserver.key"),
                &arg("client-ca-file", "ca.crt"),
                &arg("token-auth-file", "tokens.csv"),
                "--authorization-mode=Node,RBAC",
                "--service-cluster-ip-range=10.96.0.0/24",
                "--service-account-issuer=https://kubernetes.default.svc",
                &arg("service-account-key-file", "sa.pub"),
                &arg("service-account-signing-key-file", "sa.key"),
                "--api-audiences=https://kubernetes.default.svc",
                &arg("kubelet-client-certificate", "kubelet-client.crt"),
                &arg("kubelet-client-key", "kubelet-client.key"),
                &arg("kubelet-certificate-authority", "kubelet-ca.crt"),
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(path("apiserver.log")).expect("log"))
            .spawn()
            .expect("kube-apiserver starts");
        let mut server = RealApiServer {
            dir,
            etcd,
            apiserver,
            url: format!("https://127.0.0.1:{port}"),
            ca,
            kubelet_ca,
            version: String::new(),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let admin = self.kubeconfig_token("admin", ADMIN_TOKEN);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let ready = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&admin)
                .args(["get", "--raw", "/readyz"])
                .output()
                .is_ok_and(|out| out.status.success());
            if ready {
                break;
            }
            if let Ok(Some(status)) = self.apiserver.try_wait() {
                panic!("kube-apiserver exited ({status}):\n{}", self.log_tail());
            }
            assert!(Instant::now() < deadline, "kube-apiserver not ready after 90s:\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(250));
        }
        let version = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&admin)
            .args(["get", "--raw", "/version"])
            .output()
            .expect("kubectl runs");
        let info: serde_json::Value = serde_json::from_slice(&version.stdout).expect("version JSON");
        self.version = info["gitVersion"].as_str().unwrap_or_default().to_string();
    }

    /// The last lines of the API server's log (or where it crashed), for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("apiserver.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        // A crash: where it began (Go prints every goroutine after it).
        if let Some(start) =
            lines.iter().position(|l| l.starts_with("panic:") || l.starts_with("fatal error:"))
        {
            return lines[start.saturating_sub(5)..(start + 40).min(lines.len())].join("\n");
        }
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// What kubesim needs to register its kubelets here: the server, its CA, a `system:masters`
    /// client certificate, and the kubelet CA that signs their serving certificates.
    pub fn external_api(&self) -> kubesim::ExternalApi {
        let (client_cert_pem, client_key_pem) = self.ca.client("kubesim", &["system:masters"]);
        kubesim::ExternalApi {
            server: self.url.clone(),
            ca_pem: self.ca.cert_pem.clone(),
            client_cert_pem,
            client_key_pem,
            kubelet_ca_cert_pem: self.kubelet_ca.cert_pem.clone(),
            kubelet_ca_key_pem: self.kubelet_ca.key_pem.clone(),
            client_ca_pem: self.ca.cert_pem.clone(),
        }
    }

    /// A kubeconfig authenticating with a client certificate for `user` in `groups`.
    pub fn kubeconfig_cert(&self, user: &str, groups: &[&str]) -> PathBuf {
        let (cert, key) = self.ca.client(user, groups);
        let file = self.dir.path().join(format!("{user}.kubeconfig"));
        std::fs::write(
            &file,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: real\n  context: {{cluster: real, user: {user}}}\ncurrent-context: real\n",
                self.url,
                b64(&self.ca.cert_pem),
                b64(&cert),
                b64(&key),
            ),
        )
        .expect("write kubeconfig");
        file
    }

    /// A kubeconfig authenticating with a bearer token.
    pub fn kubeconfig_token(&self, name: &str, token: &str) -> PathBuf {
        let file = self.dir.path().join(format!("{name}-token.kubeconfig"));
        std::fs::write(
            &file,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: {name}\n  user:\n    token: {token}\ncontexts:\n- name: real\n  context: {{cluster: real, user: {name}}}\ncurrent-context: real\n",
                self.url,
                b64(&self.ca.cert_pem),
            ),
        )
        .expect("write kubeconfig");
        file
    }

    /// Stops the API server (etcd keeps running), as when the control plane goes away.
    pub fn stop_apiserver(&mut self) {
        let _ = self.apiserver.kill();
        let _ = self.apiserver.wait();
    }
}

impl Drop for RealApiServer {
    fn drop(&mut self) {
        for child in [&mut self.apiserver, &mut self.etcd] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
