//! Credentials and TLS: the kubeconfig exactly as kubectl reads it (`--kubeconfig`, else
//! `KUBECONFIG` with several files merged, else `~/.kube/config`; `--context`; tokens, client
//! certificates, exec plugins) or the in-cluster service account, turned into `kube::Client`s.
//!
//! The API-server client comes from kube's default stack. The direct client reuses kube's TLS
//! and auth layers (`ConfigExt`) on one shared connection pool, without kube's base-URI layer,
//! so each request goes to the kubelet its absolute URI names. Bearer-token files are re-read
//! on every request, so rotated projected tokens are picked up at once. What a node answers is
//! left to `proxy` and `direct`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kube::client::ConfigExt;
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};

use crate::cluster::plan::{ClusterPlan, KubeletAuth, KubeletTls};

/// Where the in-cluster service-account token lives.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Why no client could be built. Nothing can run after one of these.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--kubeconfig` could not be read or parsed.
    #[error("cannot read kubeconfig {}", .path.display())]
    ReadKubeconfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// `--context` names a context the kubeconfig does not have.
    #[error("the kubeconfig ({origin}) has no context {context:?}; its contexts: {}", if .known.is_empty() { "none".to_string() } else { crate::text::bounded_names(.known) })]
    UnknownContext {
        /// `--context`.
        context: String,
        /// The kubeconfig file(s), for the message.
        origin: String,
        /// The contexts it has, in file order.
        known: Vec<String>,
    },
    /// The kubeconfig (or the chosen context) is unusable.
    #[error("cannot use the kubeconfig{}", context_text(.context.as_deref()))]
    Kubeconfig {
        /// `--context`, when given.
        context: Option<String>,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// No kubeconfig was found and this is not a pod.
    #[error(
        "no kubeconfig found ($KUBECONFIG, ~/.kube/config: {kubeconfig}) and not running in a pod ({in_cluster}); pass --kubeconfig"
    )]
    NoConfig {
        /// Why the kubeconfig failed.
        kubeconfig: String,
        /// Why the in-cluster config failed.
        in_cluster: String,
    },
    /// `--kubelet-ca` could not be read.
    #[error("cannot read --kubelet-ca {}", .path.display())]
    ReadKubeletCa {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--kubelet-ca` holds no PEM certificate.
    #[error("--kubelet-ca {} holds no PEM certificate", .path.display())]
    EmptyKubeletCa {
        /// The file.
        path: PathBuf,
    },
    /// A token file could not be read at start.
    #[error("cannot read token file {}", .path.display())]
    ReadToken {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A token file is empty.
    #[error("token file {} is empty", .path.display())]
    EmptyToken {
        /// The file.
        path: PathBuf,
    },
    /// The kubeconfig user's client certificate is not X.509 v3: rustls (webpki) refuses it
    /// before any request, so nothing can run with it. kubectl (Go's crypto/x509) accepts it.
    #[error("the client certificate in {location} is X.509 v{version}, which TLS libraries refuse")]
    ClientCertificateVersion {
        /// Where the certificate is: its file, the kubeconfig and the user entry.
        location: String,
        /// The certificate's version, 1-based (1 for v1).
        version: u32,
    },
    /// kube could not build a client from the configuration (bad certificate data, ...).
    #[error("cannot build a client for {target}")]
    Client {
        /// `the API server` or `kubelets`.
        target: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

fn context_text(context: Option<&str>) -> String {
    context.map(|c| format!(" context {c:?}")).unwrap_or_default()
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration for the API server.
    pub config: kube::Config,
    /// True when it came from the pod's service account (no kubeconfig found).
    pub in_cluster: bool,
    /// What the kubeconfig says about the user (empty in a pod).
    pub user: KubeconfigUser,
}

/// What the kubeconfig says about the user of the chosen context: facts, not proof of who the
/// API server thinks we are (that is the server's SelfSubjectReview or its 403 messages).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeconfigUser {
    /// The name of the context's `users[]` entry, e.g. `viewer` or `gke_project_zone_cluster`.
    pub entry: Option<String>,
    /// The user's client certificate, when it has one that parses.
    pub certificate: Option<ClientCertificate>,
    /// The basic-auth `username`, when the user has one.
    pub username: Option<String>,
    /// True when the credentials come from an exec plugin or an auth provider, whose identity
    /// the kubeconfig does not know.
    pub external: bool,
}

impl KubeconfigUser {
    /// Who the kubeconfig says the user is, for warnings: the `users[]` entry, the client
    /// certificate's common name, the basic-auth name, or that an exec plugin decides.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(entry) = &self.entry {
            parts.push(format!("user {entry:?}"));
        }
        if let Some(name) = self.certificate.as_ref().and_then(|c| c.common_name.as_ref()) {
            parts.push(format!("client certificate CN={name:?}"));
        }
        if let Some(name) = &self.username {
            parts.push(format!("username {name:?}"));
        }
        if self.external {
            parts.push("an exec plugin or auth provider".to_string());
        }
        if parts.is_empty() { "an unnamed kubeconfig user".to_string() } else { parts.join(", ") }
    }
}

/// The facts of a client certificate that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The X.509 version, 1-based (3 for every certificate TLS libraries accept).
    pub version: u32,
    /// The subject's common name: the user name the API server authenticates it as.
    pub common_name: Option<String>,
}

impl ClientCertificate {
    /// Reads the first certificate of a PEM text; `None` when there is none or it does not
    /// parse (kube then reports the bad data itself).
    pub fn from_pem(pem: &[u8]) -> Option<ClientCertificate> {
        let block = x509_parser::pem::Pem::iter_from_buffer(pem)
            .filter_map(Result::ok)
            .find(|block| block.label == "CERTIFICATE")?;
        let certificate = block.parse_x509().ok()?;
        let common_name = certificate
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string);
        Some(ClientCertificate { version: certificate.version().0 + 1, common_name })
    }
}

/// Loads the configuration as kubectl would: `--kubeconfig`, else `KUBECONFIG` (files merged),
/// else `~/.kube/config`; `--context` picks the context. Without any kubeconfig, and when no
/// context was asked for, a pod's in-cluster service account is used.
///
/// A client certificate that is not X.509 v3 is refused here, with what to do about it, rather
/// than by rustls with `UnsupportedCertVersion` when the first client is built.
pub async fn load(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Loaded, ConfigError> {
    let options = KubeConfigOptions { context: context.map(str::to_string), ..KubeConfigOptions::default() };
    let (file, origin) = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|source| ConfigError::ReadKubeconfig { path: path.to_path_buf(), source })?;
            (Ok(file), path.display().to_string())
        }
        None => (Kubeconfig::read(), default_origin()),
    };
    let loaded = match file {
        Ok(file) => {
            if let Some(wanted) = context
                && !file.contexts.iter().any(|c| c.name == wanted)
            {
                let known = file.contexts.iter().map(|c| c.name.clone()).collect();
                return Err(ConfigError::UnknownContext { context: wanted.to_string(), origin, known });
            }
            let entry = user_entry(&file, context);
            match kube::Config::from_custom_kubeconfig(file, &options).await {
                Ok(config) => Ok((config, entry)),
                Err(source) => Err(source),
            }
        }
        Err(source) => Err(source),
    };
    match loaded {
        Ok((config, entry)) => {
            let user = kubeconfig_user(&config.auth_info, entry.clone());
            if let Some(certificate) = &user.certificate
                && certificate.version != 3
            {
                return Err(ConfigError::ClientCertificateVersion {
                    location: certificate_location(&config.auth_info, &origin, entry.as_deref()),
                    version: certificate.version,
                });
            }
            Ok(Loaded { config, in_cluster: false, user })
        }
        Err(source) if kubeconfig.is_some() || context.is_some() => {
            Err(ConfigError::Kubeconfig { context: options.context, source })
        }
        Err(kubeconfig_error) => match kube::Config::incluster() {
            Ok(config) => Ok(Loaded { config, in_cluster: true, user: KubeconfigUser::default() }),
            Err(in_cluster_error) => Err(ConfigError::NoConfig {
                kubeconfig: error_chain(&kubeconfig_error),
                in_cluster: error_chain(&in_cluster_error),
            }),
        },
    }
}

/// `$KUBECONFIG=...` or `~/.kube/config`, for messages.
fn default_origin() -> String {
    match std::env::var("KUBECONFIG") {
        Ok(value) if !value.is_empty() => format!("$KUBECONFIG={value}"),
        _ => "~/.kube/config".to_string(),
    }
}

/// The `users[]` entry name of `context`, else of the current context.
fn user_entry(file: &Kubeconfig, context: Option<&str>) -> Option<String> {
    let name = context.map(str::to_string).or_else(|| file.current_context.clone())?;
    file.contexts.iter().find(|c| c.name == name)?.context.as_ref()?.user.clone()
}

/// The facts about the user that the loaded configuration holds; pure apart from reading the
/// client certificate's file.
fn kubeconfig_user(auth: &AuthInfo, entry: Option<String>) -> KubeconfigUser {
    use base64::Engine;
    let pem = match (&auth.client_certificate_data, &auth.client_certificate) {
        (Some(data), _) => base64::engine::general_purpose::STANDARD.decode(data.trim()).ok(),
        (None, Some(path)) => std::fs::read(path).ok(),
        (None, None) => None,
    };
    KubeconfigUser {
        entry,
        certificate: pem.as_deref().and_then(ClientCertificate::from_pem),
        username: auth.username.clone(),
        external: auth.exec.is_some() || auth.auth_provider.is_some(),
    }
}

/// `/path/client.crt (user "viewer" of kubeconfig /path/config)`, or without the file when the
/// certificate is embedded.
fn certificate_location(auth: &AuthInfo, origin: &str, entry: Option<&str>) -> String {
    let user = match entry {
        Some(entry) => format!("user {entry:?} of kubeconfig {origin}"),
        None => format!("kubeconfig {origin}"),
    };
    match (&auth.client_certificate_data, &auth.client_certificate) {
        (None, Some(path)) => format!("{path} ({user})"),
        _ => user,
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    for _ in 0..8 {
        let Some(next) = source else { break };
        let next_text = next.to_string();
        if !text.contains(&next_text) {
            text.push_str(": ");
            text.push_str(&next_text);
        }
        source = next.source();
    }
    text
}

/// A `kube::Client` for the API server. `retry` enables kube's own retries on 429/503/504
/// (right for listing nodes; proxied fetches retry in `collect`, under the node's deadline).
pub fn api_client(config: &kube::Config, retry: bool) -> Result<kube::Client, ConfigError> {
    let mut config = config.clone();
    config.default_retry = retry;
    kube::Client::try_from(config).map_err(|source| ConfigError::Client { target: "the API server", source })
}

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
        let fresh = tokio::fs::read_to_string(&self.path).await.ok();
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
    let pool = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_max_idle_per_host(0)
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
            },
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

    #[test]
    fn kubeconfig_users_are_described_by_what_names_them() {
        let user = KubeconfigUser {
            entry: Some("admin".into()),
            certificate: Some(ClientCertificate { version: 3, common_name: Some("kubernetes-admin".into()) }),
            username: None,
            external: false,
        };
        assert_eq!(user.describe(), "user \"admin\", client certificate CN=\"kubernetes-admin\"");
        assert_eq!(KubeconfigUser::default().describe(), "an unnamed kubeconfig user");
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
