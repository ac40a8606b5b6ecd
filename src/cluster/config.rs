//! Credentials and TLS: the kubeconfig exactly as kubectl reads it (`--kubeconfig`, else
//! `KUBECONFIG` with several files merged, else `~/.kube/config`; `--context`; tokens, client
//! certificates, exec plugins) or the in-cluster service account, turned into `kube::Client`s.
//!
//! The API-server client comes from kube's default stack. Which credentials kubelets receive,
//! and the direct method's client, live in [`super::credentials`] (re-exported here). What a
//! node answers is left to `proxy` and `direct`.

use std::path::{Path, PathBuf};

use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};

use super::plan::ApiRequests;

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
    /// `--all-contexts`, and the kubeconfig has no context.
    #[error("the kubeconfig ({origin}) has no contexts to read")]
    NoContexts {
        /// The kubeconfig file(s), for the message.
        origin: String,
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

/// The names of the kubeconfig's contexts, in file order, as kubectl finds the kubeconfig
/// (`--all-contexts`). A kubeconfig without contexts is an error: there is no cluster to read.
pub fn context_names(kubeconfig: Option<&Path>) -> Result<Vec<String>, ConfigError> {
    let (file, origin) = match kubeconfig {
        Some(path) => (
            Kubeconfig::read_from(path)
                .map_err(|source| ConfigError::ReadKubeconfig { path: path.to_path_buf(), source })?,
            path.display().to_string(),
        ),
        None => (
            Kubeconfig::read().map_err(|source| ConfigError::Kubeconfig { context: None, source })?,
            default_origin(),
        ),
    };
    let names: Vec<String> = file.contexts.iter().map(|c| c.name.clone()).collect();
    if names.is_empty() {
        return Err(ConfigError::NoContexts { origin });
    }
    Ok(names)
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

/// `base` as API server requests use it: impersonating `--as`/`--as-group` and bounded by
/// `--request-timeout`. Clients aimed at kubelets start from `base` itself.
pub fn for_api_server(base: &kube::Config, api: &ApiRequests) -> kube::Config {
    let mut config = base.clone();
    if let Some(user) = &api.impersonate_user {
        config.auth_info.impersonate = Some(user.clone());
        config.auth_info.impersonate_groups =
            (!api.impersonate_groups.is_empty()).then(|| api.impersonate_groups.clone());
    }
    if let Some(timeout) = api.request_timeout {
        // kubectl: zero means no timeout.
        let limit = (!timeout.is_zero()).then_some(timeout);
        config.connect_timeout = limit;
        config.read_timeout = limit;
        config.write_timeout = limit;
    }
    config
}

/// A `kube::Client` for the API server. `retry` enables kube's own retries on 429/503/504
/// (right for listing nodes; proxied fetches retry in `collect`, under the node's deadline).
pub fn api_client(config: &kube::Config, retry: bool) -> Result<kube::Client, ConfigError> {
    let mut config = config.clone();
    config.default_retry = retry;
    kube::Client::try_from(config).map_err(|source| ConfigError::Client { target: "the API server", source })
}

pub use super::credentials::{DirectPlan, DirectSetup, TokenFile, Withheld, direct, read_certificates};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_server_requests_impersonate_and_time_out_as_asked() {
        let base = kube::Config::new(http::Uri::from_static("https://127.0.0.1:6443"));
        let api = ApiRequests {
            impersonate_user: Some("alice".into()),
            impersonate_groups: vec!["ops".into()],
            request_timeout: Some(std::time::Duration::from_secs(3)),
        };
        let config = for_api_server(&base, &api);
        assert_eq!(config.auth_info.impersonate.as_deref(), Some("alice"));
        assert_eq!(config.auth_info.impersonate_groups, Some(vec!["ops".to_string()]));
        assert_eq!(config.read_timeout, Some(std::time::Duration::from_secs(3)));
        assert_eq!(base.auth_info.impersonate, None, "clients for kubelets start from the base");

        // kubectl: a zero timeout waits without limit; no flag keeps the client's defaults.
        let unlimited =
            ApiRequests { request_timeout: Some(std::time::Duration::ZERO), ..ApiRequests::default() };
        assert_eq!(for_api_server(&base, &unlimited).read_timeout, None);
        assert_eq!(for_api_server(&base, &ApiRequests::default()).read_timeout, base.read_timeout);
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
}
