//! Which credentials kubelets receive and the direct method's client: only credentials meant for
//! kubelets (`--token-file`, else the in-cluster service-account token) unless the user opts in,
//! nothing to an unverified kubelet unless allowed twice (`docs/decisions.md`). The direct
//! client reuses kube's TLS and auth layers (`ConfigExt`) on one connection pool without kube's
//! base-URI layer, so each request goes to the kubelet its absolute URI names. Bearer-token
//! files are re-read on every request, so rotated projected tokens are picked up at once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kube::client::ConfigExt;
use kube::config::AuthInfo;

use super::config::{ConfigError, KubeconfigUser};
use crate::cluster::plan::{ClusterPlan, KubeletAuth, KubeletTls};

/// A bearer token read from a file on every use, so a rotated projected token is picked up
/// by the next request. If a later read fails, the last good token is kept (client-go does the
/// same, kubernetes issue 68164). The token never appears in `Debug` output.
pub struct TokenFile {
    path: PathBuf,
    last: Mutex<Arc<str>>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFile").field("path", &self.path).finish_non_exhaustive()
    }
}

impl TokenFile {
    /// Reads the token once, so a missing or empty file fails before any request.
    pub fn open(path: &Path) -> Result<TokenFile, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::ReadToken { path: path.to_path_buf(), source })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(ConfigError::EmptyToken { path: path.to_path_buf() });
        }
        Ok(TokenFile { path: path.to_path_buf(), last: Mutex::new(Arc::from(token)) })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current token: the file as it is now, else the last token read.
    pub async fn token(&self) -> Arc<str> {
        // A token file is a few hundred bytes on a local or projected volume: read in place, as
        // kube-rs reads its own token files. `tokio::fs` would hand every request to the
        // blocking pool, which grew a thread (and an allocator heap) per burst of requests:
        // 13 threads at 100 nodes, 24 at 1,000, and more resident memory with each.
        let fresh = std::fs::read_to_string(&self.path).ok();
        let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(text) = fresh {
            let token = text.trim();
            if !token.is_empty() && token != &**last {
                *last = Arc::from(token);
            }
        }
        last.clone()
    }

    /// The last token read, without touching the file (for redacting messages).
    pub fn last(&self) -> Arc<str> {
        self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

/// Everything the direct method needs to reach kubelets.
pub struct DirectSetup {
    /// One client for every kubelet (absolute URIs; kube's TLS and auth layers).
    pub client: kube::Client,
    /// The bearer token file sent to kubelets, when credentials come from one.
    pub token: Option<TokenFile>,
    /// Things the user must hear once (e.g. TLS verification is off).
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for DirectSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectSetup")
            .field("token", &self.token)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// How kubelets will be authenticated, decided from the plan; pure.
///
/// The policy (docs/decisions.md): kubelets receive only credentials meant for them — the
/// in-cluster service-account token or `--token-file`. The kubeconfig's own credentials go to
/// kubelets only with `--kubelet-auth kubeconfig`, and nothing goes to an unverified kubelet
/// (`--insecure-skip-tls-verify-kubelet`) without `--allow-credentials-to-unverified-kubelets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectPlan {
    /// The token file to send, if any: `--token-file`, else (in a pod) the service-account token.
    pub token_file: Option<PathBuf>,
    /// Whether the kubeconfig's own credentials (token, exec plugin, client certificate) are used.
    pub kubeconfig_credentials: bool,
    /// Whether any credentials are sent at all.
    pub has_credentials: bool,
    /// Credentials that exist but are deliberately not sent, and why.
    pub withheld: Option<Withheld>,
}

/// Why credentials that exist are not sent to kubelets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withheld {
    /// The kubeconfig user's credentials are meant for the API server, not for kubelets.
    Kubeconfig,
    /// Kubelet certificates are not verified, so anyone on the path could capture credentials.
    Unverified,
}

impl Withheld {
    /// Why nothing is sent, for warnings and doctor.
    pub fn reason(self) -> &'static str {
        match self {
            Withheld::Kubeconfig => {
                "the kubeconfig's credentials are meant for the API server and are not sent to kubelets"
            }
            Withheld::Unverified => {
                "kubelet certificates are not verified (--insecure-skip-tls-verify-kubelet), so no credentials are sent to them"
            }
        }
    }

    /// How to send credentials anyway.
    pub fn fix(self) -> &'static str {
        match self {
            Withheld::Kubeconfig => {
                "pass a token meant for kubelets with --token-file (kubectl create token NAME -n NAMESPACE), \
                 or, knowing every kubelet will see them, --kubelet-auth kubeconfig"
            }
            Withheld::Unverified => {
                "verify kubelets with --kubelet-ca instead, or, knowing the risk, add \
                 --allow-credentials-to-unverified-kubelets"
            }
        }
    }
}

impl DirectPlan {
    /// Chooses the kubelet credentials for `plan`; `auth` is the loaded configuration's user
    /// and `in_cluster` says whether it is the pod's service account (whose token is meant for
    /// kubelets) rather than a kubeconfig user.
    pub fn choose(plan: &ClusterPlan, auth: &AuthInfo, in_cluster: bool) -> DirectPlan {
        let service_account = if in_cluster { auth.token_file.as_ref().map(PathBuf::from) } else { None };
        let kubeconfig_has = !in_cluster && has_credentials(auth);
        let (token_file, kubeconfig_credentials, mut withheld) = match plan.kubelet_auth {
            KubeletAuth::None => (None, false, None),
            KubeletAuth::Token => {
                let file = plan.token_file.clone().or(service_account);
                let withheld = (file.is_none() && kubeconfig_has).then_some(Withheld::Kubeconfig);
                (file, false, withheld)
            }
            // A kubeconfig user's `tokenFile` is re-read by us like `--token-file`.
            KubeletAuth::Kubeconfig => {
                match service_account.or_else(|| auth.token_file.as_ref().map(PathBuf::from)) {
                    Some(file) => (Some(file), false, None),
                    None => (None, kubeconfig_has, None),
                }
            }
        };
        let mut has_credentials = token_file.is_some() || kubeconfig_credentials;
        if has_credentials && plan.kubelet_tls == KubeletTls::Insecure && !plan.credentials_to_unverified {
            withheld = Some(Withheld::Unverified);
            has_credentials = false;
            return DirectPlan { token_file: None, kubeconfig_credentials: false, has_credentials, withheld };
        }
        DirectPlan { token_file, kubeconfig_credentials, has_credentials, withheld }
    }
}

fn has_credentials(auth: &AuthInfo) -> bool {
    auth.token.is_some()
        || auth.token_file.is_some()
        || auth.exec.is_some()
        || auth.auth_provider.is_some()
        || auth.client_certificate.is_some()
        || auth.client_certificate_data.is_some()
        || auth.username.is_some()
}

/// Builds the direct-method client from the loaded configuration, sending kubelets only the
/// credentials [`DirectPlan::choose`] allows.
///
/// TLS: `--kubelet-ca` replaces the API server's CA (kubelets usually have their own), the
/// server name is `--kubelet-tls-server-name` or the address dialled, and the kubeconfig's
/// `insecure-skip-tls-verify` (which is about the API server) is not inherited: only
/// `--insecure-skip-tls-verify-kubelet` turns verification off, with one warning.
pub fn direct(
    base: &kube::Config,
    plan: &ClusterPlan,
    in_cluster: bool,
    user: &KubeconfigUser,
) -> Result<DirectSetup, ConfigError> {
    let mut warnings = Vec::new();
    let mut config = base.clone();
    config.default_retry = false;
    config.proxy_url = None;
    let choice = DirectPlan::choose(plan, &config.auth_info, in_cluster);
    match &plan.kubelet_tls {
        KubeletTls::Insecure => {
            config.accept_invalid_certs = true;
            config.root_cert_file = None;
            config.tls_server_name = None;
            let credentials = if choice.withheld == Some(Withheld::Unverified) {
                "; no credentials are sent to them (--allow-credentials-to-unverified-kubelets would send them)"
            } else if choice.has_credentials {
                " and capture the credentials sent (--allow-credentials-to-unverified-kubelets)"
            } else {
                ""
            };
            warnings.push(format!(
                "kubelet serving certificates are not verified (--insecure-skip-tls-verify-kubelet): \
                 anyone on the path to a node can read or change its metrics{credentials}"
            ));
        }
        KubeletTls::Verify { ca, server_name } => {
            config.accept_invalid_certs = false;
            config.tls_server_name = server_name.clone();
            if let Some(path) = ca {
                config.root_cert = Some(read_certificates(path)?);
                config.root_cert_file = None;
            }
        }
    }

    let token = choice.token_file.as_deref().map(TokenFile::open).transpose()?;
    if choice.token_file.is_some() || !choice.kubeconfig_credentials {
        // Only the token file (if any) identifies us: the kubeconfig's token, exec plugin or
        // client certificate never reach a kubelet without --kubelet-auth kubeconfig (and a
        // client certificate would win kubelet authentication over --token-file anyway).
        config.auth_info = AuthInfo::default();
    }
    if plan.kubelet_auth == KubeletAuth::Kubeconfig && !in_cluster && choice.has_credentials {
        warnings.push(format!(
            "the kubeconfig's credentials ({}) are sent to every kubelet (--kubelet-auth kubeconfig): \
             a compromised node can use them against the API server",
            user.describe()
        ));
    }
    match choice.withheld {
        Some(Withheld::Kubeconfig) => warnings.push(format!(
            "no credentials for the kubelets: {}; requests are anonymous and most kubelets refuse them ({})",
            Withheld::Kubeconfig.reason(),
            Withheld::Kubeconfig.fix()
        )),
        Some(Withheld::Unverified) => {}
        None if !choice.has_credentials && plan.kubelet_auth != KubeletAuth::None => warnings.push(
            "no credentials for the kubelets: requests are anonymous and most kubelets refuse them \
             (pass --token-file)"
                .to_string(),
        ),
        None => {}
    }

    let client = direct_client(&config)?;
    Ok(DirectSetup { client, token, warnings })
}

/// The read buffer of one kubelet connection (hyper's default grows to about 400 KB).
const DIRECT_READ_BUFFER: usize = 64 * 1024;

fn direct_client(config: &kube::Config) -> Result<kube::Client, ConfigError> {
    let wrap = |source: kube::Error| ConfigError::Client { target: "kubelets", source };
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(config.connect_timeout);
    let https = config.rustls_https_connector_with_connector(http).map_err(wrap)?;
    // Every kubelet is its own host, so a keep-alive pool would hold one idle connection per
    // node (1,000 nodes: 1,000 descriptors and ~0.3 MB each, whatever --concurrency says).
    // No idle connection is kept: open connections never exceed the requests in flight, which
    // `collect` bounds by --concurrency. A TLS handshake per request is cheap next to a
    // kubelet's /metrics; the session cache still resumes it.
    //
    // Each connection reads into a fixed 64 KiB buffer. hyper's default grows it adaptively
    // (8, 16, 32, ... up to about 400 KB) while a large body streams in; with a new connection
    // per node those buffers were allocated and freed again for every node: 16 of the 21 MB
    // of peak heap at --concurrency 64, and the churn across size classes left the allocator
    // holding more memory the more nodes a run read (peak RSS at 1,000 nodes 1.4-1.56x that
    // at 100). Chunks of 64 KiB cost the parser nothing.
    let pool = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .http1_read_buf_exact_size(DIRECT_READ_BUFFER)
        .build::<_, kube::client::Body>(https);
    let service = tower::ServiceBuilder::new()
        .option_layer(config.auth_layer().map_err(wrap)?)
        .layer(config.extra_headers_layer().map_err(wrap)?)
        .map_err(tower::BoxError::from)
        .service(pool);
    Ok(kube::Client::new(service, config.default_namespace.clone()))
}

/// Reads every PEM certificate in a CA bundle, as DER.
pub fn read_certificates(path: &Path) -> Result<Vec<Vec<u8>>, ConfigError> {
    let pem = std::fs::read(path)
        .map_err(|source| ConfigError::ReadKubeletCa { path: path.to_path_buf(), source })?;
    let certificates = pem_certificates(&pem);
    if certificates.is_empty() {
        return Err(ConfigError::EmptyKubeletCa { path: path.to_path_buf() });
    }
    Ok(certificates)
}

/// The DER bytes of every `CERTIFICATE` block in a PEM text; pure.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem).filter_map(Result::ok).map(|der| der.to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::config::SERVICE_ACCOUNT_TOKEN;

    fn plan(token_file: Option<&str>, auth: KubeletAuth, tls: KubeletTls, allow: bool) -> ClusterPlan {
        ClusterPlan {
            kubeconfig: None,
            context: None,
            method: crate::access::Method::Direct,
            nodes: crate::cluster::plan::NodeSelection::All { selector: None },
            token_file: token_file.map(PathBuf::from),
            kubelet_tls: tls,
            kubelet_auth: auth,
            credentials_to_unverified: allow,
            address_types: vec![],
            kubelet_port: None,
            limits: crate::cluster::plan::Limits {
                concurrency: 1,
                per_node: std::time::Duration::from_secs(1),
                retries: 0,
                max_body: 1,
                rate: None,
            },
            api: Default::default(),
        }
    }

    fn verify() -> KubeletTls {
        KubeletTls::Verify { ca: None, server_name: None }
    }

    fn admin() -> AuthInfo {
        AuthInfo { client_certificate_data: Some("x".into()), ..AuthInfo::default() }
    }

    #[test]
    fn token_file_flag_is_sent_and_kubeconfig_credentials_are_not() {
        let auth = AuthInfo { token: Some("secret".to_string().into()), ..AuthInfo::default() };
        let chosen = DirectPlan::choose(&plan(Some("/t"), KubeletAuth::Token, verify(), false), &auth, false);
        assert_eq!(chosen.token_file.as_deref(), Some(Path::new("/t")));
        assert!(!chosen.kubeconfig_credentials && chosen.has_credentials && chosen.withheld.is_none());
    }

    #[test]
    fn in_cluster_token_file_is_reread_by_us() {
        let auth = AuthInfo { token_file: Some(SERVICE_ACCOUNT_TOKEN.into()), ..AuthInfo::default() };
        let chosen = DirectPlan::choose(&plan(None, KubeletAuth::Token, verify(), false), &auth, true);
        assert_eq!(chosen.token_file.as_deref(), Some(Path::new(SERVICE_ACCOUNT_TOKEN)));
    }

    #[test]
    fn a_kubeconfig_token_file_is_not_the_service_account_token() {
        let auth = AuthInfo { token_file: Some("/home/me/token".into()), ..AuthInfo::default() };
        let chosen = DirectPlan::choose(&plan(None, KubeletAuth::Token, verify(), false), &auth, false);
        assert_eq!(chosen.token_file, None);
        assert_eq!(chosen.withheld, Some(Withheld::Kubeconfig));
    }

    #[test]
    fn kubeconfig_credentials_need_the_explicit_flag() {
        let by_default =
            DirectPlan::choose(&plan(None, KubeletAuth::Token, verify(), false), &admin(), false);
        assert!(!by_default.has_credentials && !by_default.kubeconfig_credentials);
        assert_eq!(by_default.withheld, Some(Withheld::Kubeconfig));
        let asked =
            DirectPlan::choose(&plan(None, KubeletAuth::Kubeconfig, verify(), false), &admin(), false);
        assert!(asked.kubeconfig_credentials && asked.has_credentials && asked.token_file.is_none());
        let none = DirectPlan::choose(&plan(None, KubeletAuth::None, verify(), false), &admin(), false);
        assert!(!none.has_credentials && none.withheld.is_none());
        let nothing =
            DirectPlan::choose(&plan(None, KubeletAuth::Token, verify(), false), &AuthInfo::default(), false);
        assert!(!nothing.has_credentials && nothing.withheld.is_none());
    }

    #[test]
    fn unverified_kubelets_get_no_credentials_unless_allowed() {
        for (token, auth) in [(Some("/t"), KubeletAuth::Token), (None, KubeletAuth::Kubeconfig)] {
            let withheld =
                DirectPlan::choose(&plan(token, auth, KubeletTls::Insecure, false), &admin(), false);
            assert!(
                !withheld.has_credentials
                    && withheld.token_file.is_none()
                    && !withheld.kubeconfig_credentials
            );
            assert_eq!(withheld.withheld, Some(Withheld::Unverified));
            let allowed = DirectPlan::choose(&plan(token, auth, KubeletTls::Insecure, true), &admin(), false);
            assert!(allowed.has_credentials && allowed.withheld.is_none());
        }
    }

    #[tokio::test]
    async fn token_file_is_reread_and_keeps_the_last_good_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").expect("write");
        let file = TokenFile::open(&path).expect("open");
        assert_eq!(&*file.token().await, "first");
        std::fs::write(&path, "second").expect("write");
        assert_eq!(&*file.token().await, "second");
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(&*file.token().await, "second");
        assert!(!format!("{file:?}").contains("second"));
    }

    #[test]
    fn empty_token_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, " \n").expect("write");
        assert!(matches!(TokenFile::open(&path), Err(ConfigError::EmptyToken { .. })));
    }

    #[test]
    fn pem_without_certificates_yields_nothing() {
        assert!(pem_certificates(b"not a pem").is_empty());
    }
}
