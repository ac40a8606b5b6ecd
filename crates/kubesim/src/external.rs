//! Kubelets-only mode: kubesim's kubelets registered in an external API server (a real kube-apiserver,
//! or another kubesim), kwok-style. It owns the client towards that server, the `Node` objects kubesim
//! creates and deletes there, and the remote TokenReview / SubjectAccessReview calls with their cache.
//! What a kubelet does with a decision lives in `kubelet`; the node objects' content in `apiserver::list`.

use std::{
    collections::HashMap,
    path::Path,
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::Context;
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};
use serde_json::{Value, json};

use crate::{
    Node, Shared,
    rbac::{Attributes, UserInfo},
};

/// Requests in flight at once while nodes are created or deleted.
const CONCURRENCY: usize = 16;
/// How long one request to the external API server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a TokenReview answer is reused, authenticated or not (the kubelet's
/// `--authentication-token-webhook-cache-ttl`, 2 minutes, for both).
const TOKEN_TTL: Duration = Duration::from_secs(120);
/// How long an allowed SubjectAccessReview is reused (`--authorization-webhook-cache-authorized-ttl`).
const AUTHORIZED_TTL: Duration = Duration::from_secs(300);
/// How long a denied SubjectAccessReview is reused (`--authorization-webhook-cache-unauthorized-ttl`).
const UNAUTHORIZED_TTL: Duration = Duration::from_secs(30);
/// Cached answers kept per cache before expired ones are swept out.
const CACHE_LIMIT: usize = 10_000;

/// An external API server that kubesim registers its nodes in, and the credentials its kubelets use
/// (see [`ClusterBuilder::external`](crate::ClusterBuilder::external)). Every field is PEM text.
#[derive(Clone)]
pub struct ExternalApi {
    /// The API server's URL, e.g. `https://127.0.0.1:6443`.
    pub server: String,
    /// The CA that signed the API server's serving certificate.
    pub ca_pem: String,
    /// kubesim's client certificate towards the API server. Its user must be allowed to create, get and
    /// delete nodes, patch `nodes/status`, and create `tokenreviews` and `subjectaccessreviews`;
    /// `O=system:masters` is simplest.
    pub client_cert_pem: String,
    /// The key of `client_cert_pem` (PKCS#8, PKCS#1 or SEC1).
    pub client_key_pem: String,
    /// The CA certificate kubesim signs each kubelet's serving certificate with: the API server's
    /// `--kubelet-certificate-authority`.
    pub kubelet_ca_cert_pem: String,
    /// The key of that CA, PKCS#8 (`BEGIN PRIVATE KEY`).
    pub kubelet_ca_key_pem: String,
    /// The CA whose client certificates the kubelets accept (user = CN, groups = O): the CA that
    /// signed the API server's `--kubelet-client-certificate`, usually its `--client-ca-file`.
    pub client_ca_pem: String,
}

impl std::fmt::Debug for ExternalApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalApi").field("server", &self.server).finish_non_exhaustive()
    }
}

impl ExternalApi {
    /// Reads the server, its CA and the client certificate from a kubeconfig's current context
    /// (`certificate-authority[-data]`, `client-certificate[-data]`, `client-key[-data]`; relative
    /// paths are relative to the kubeconfig), and the three kubelet-side PEM files.
    pub fn from_files(
        kubeconfig: &Path,
        kubelet_ca_cert: &Path,
        kubelet_ca_key: &Path,
        client_ca: &Path,
    ) -> anyhow::Result<Self> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
        };
        let text = read(kubeconfig)?;
        let config: Value = serde_saphyr::from_str(&text)
            .with_context(|| format!("parsing kubeconfig {}", kubeconfig.display()))?;
        let base = kubeconfig.parent().unwrap_or(Path::new("."));
        let named = |list: &str, name: &str, field: &str| {
            config.get(list).and_then(Value::as_array).and_then(|items| {
                items
                    .iter()
                    .find(|i| i.get("name").and_then(Value::as_str) == Some(name))
                    .and_then(|i| i.get(field))
            })
        };
        let current = config
            .get("current-context")
            .and_then(Value::as_str)
            .context("kubeconfig has no current-context")?;
        let context =
            named("contexts", current, "context").context("kubeconfig: the current context is missing")?;
        let cluster_name =
            context.get("cluster").and_then(Value::as_str).context("kubeconfig: context without cluster")?;
        let user_name =
            context.get("user").and_then(Value::as_str).context("kubeconfig: context without user")?;
        let cluster = named("clusters", cluster_name, "cluster")
            .context("kubeconfig: the context's cluster is missing")?;
        let user = named("users", user_name, "user").context("kubeconfig: the context's user is missing")?;
        let pem = |section: &Value, key: &str| -> anyhow::Result<String> {
            if let Some(data) = section.get(format!("{key}-data")).and_then(Value::as_str) {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .with_context(|| format!("kubeconfig: {key}-data is not base64"))?;
                return String::from_utf8(bytes)
                    .with_context(|| format!("kubeconfig: {key}-data is not PEM"));
            }
            let file =
                section.get(key).and_then(Value::as_str).with_context(|| format!("kubeconfig: no {key}"))?;
            read(&base.join(file))
        };
        Ok(Self {
            server: cluster
                .get("server")
                .and_then(Value::as_str)
                .context("kubeconfig: no server")?
                .to_string(),
            ca_pem: pem(cluster, "certificate-authority")?,
            client_cert_pem: pem(user, "client-certificate")?,
            client_key_pem: pem(user, "client-key")?,
            kubelet_ca_cert_pem: read(kubelet_ca_cert)?,
            kubelet_ca_key_pem: read(kubelet_ca_key)?,
            client_ca_pem: read(client_ca)?,
        })
    }
}

/// A failed call to the external API server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("could not reach {url}")]
    Transport {
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{url} gave no answer within {0:?}", REQUEST_TIMEOUT)]
    Timeout { url: String },
    #[error("{method} {url} answered HTTP {status}: {message}")]
    Status { method: Method, url: String, status: StatusCode, message: String },
    #[error("reading the answer of {url}")]
    Body {
        url: String,
        #[source]
        source: hyper::Error,
    },
}

/// An HTTPS client of the external API server with kubesim's client certificate.
struct ApiClient {
    base: String,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl ApiClient {
    fn new(api: &ExternalApi) -> anyhow::Result<Self> {
        let server: http::Uri = api.server.parse().with_context(|| format!("server URL {:?}", api.server))?;
        anyhow::ensure!(
            server.scheme_str() == Some("https"),
            "the server URL {:?} must be https",
            api.server
        );
        let tls = crate::pki::client_config_from_pem(&api.ca_pem, &api.client_cert_pem, &api.client_key_pem)
            .context("the client identity towards the external API server")?;
        let mut tls = (*tls).clone();
        // The connector sets ALPN itself (http/1.1 only, as enabled below).
        tls.alpn_protocols.clear();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(CONCURRENCY)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_timer(TokioTimer::new())
            .build(https);
        Ok(Self { base: api.server.trim_end_matches('/').to_string(), client })
    }

    /// Sends one request; any status outside 2xx is an error carrying the `Status` message.
    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let url = format!("{}{path}", self.base);
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, content_type)
            .header(header::USER_AGENT, "kubesim (kubelets-only mode)")
            .body(Full::new(bytes))
            .expect("a method, a parsed base URL and constant headers always make a request");
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|source| ApiError::Transport { url: url.clone(), source })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|source| ApiError::Body { url: url.clone(), source })?
                .to_bytes();
            let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if !status.is_success() {
                let message = value
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
                return Err(ApiError::Status { method, url: url.clone(), status, message });
            }
            Ok(value)
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err(ApiError::Timeout { url: url.clone() }))
    }
}

/// Answers reused for a while, as the kubelet's webhook caches do.
struct Cache<V> {
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> Cache<V> {
    fn new() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }

    fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|(until, _)| *until > Instant::now()).map(|(_, v)| v.clone())
    }

    fn put(&self, key: String, value: V, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHE_LIMIT {
            let now = Instant::now();
            entries.retain(|_, (until, _)| *until > now);
            if entries.len() >= CACHE_LIMIT {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now() + ttl, value));
    }
}

/// The external API server as the kubelets' webhook authenticator and authorizer, and the registry of
/// the nodes kubesim created there.
pub(crate) struct Remote {
    client: ApiClient,
    tokens: Cache<Option<UserInfo>>,
    decisions: Cache<bool>,
    created: Mutex<Vec<String>>,
}

impl Remote {
    /// A client of `api`. Must be called inside the runtime that will use it.
    pub(crate) fn new(api: &ExternalApi) -> anyhow::Result<Self> {
        Ok(Self {
            client: ApiClient::new(api)?,
            tokens: Cache::new(),
            decisions: Cache::new(),
            created: Mutex::new(Vec::new()),
        })
    }

    /// `POST /apis/authentication.k8s.io/v1/tokenreviews`: who a bearer token belongs to, if anyone.
    pub(crate) async fn authenticate(&self, token: &str) -> Result<Option<UserInfo>, ApiError> {
        if let Some(known) = self.tokens.get(token) {
            return Ok(known);
        }
        let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
        let answer = self
            .client
            .send(
                Method::POST,
                "/apis/authentication.k8s.io/v1/tokenreviews",
                "application/json",
                Some(&review),
            )
            .await?;
        let user = user_from_token_review(&answer);
        self.tokens.put(token.to_string(), user.clone(), TOKEN_TTL);
        Ok(user)
    }

    /// `POST /apis/authorization.k8s.io/v1/subjectaccessreviews`: whether `user` may do `attrs`.
    pub(crate) async fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> Result<bool, ApiError> {
        let review = subject_access_review(user, attrs);
        let key = review["spec"].to_string();
        if let Some(known) = self.decisions.get(&key) {
            return Ok(known);
        }
        let answer = self
            .client
            .send(
                Method::POST,
                "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                "application/json",
                Some(&review),
            )
            .await?;
        let allowed = answer.pointer("/status/allowed").and_then(Value::as_bool).unwrap_or(false);
        self.decisions.put(key, allowed, if allowed { AUTHORIZED_TTL } else { UNAUTHORIZED_TTL });
        Ok(allowed)
    }

    /// Creates a `Node` for every simulated node (`POST /api/v1/nodes`), then sets its status
    /// (`PATCH /api/v1/nodes/{name}/status`), [`CONCURRENCY`] requests at a time. A name that already
    /// exists is an error: kubesim deletes only what it created.
    pub(crate) async fn register(&self, shared: &Shared) -> anyhow::Result<()> {
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(shared.nodes.iter().cloned())
            .map(|node| async move { self.register_one(shared, &node).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn register_one(&self, shared: &Shared, node: &Node) -> anyhow::Result<()> {
        let full = crate::apiserver::node_json(shared, node);
        let object = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node.name,
                "labels": full["metadata"]["labels"],
                "annotations": full["metadata"]["annotations"],
            },
            "spec": {},
        });
        self.client
            .send(Method::POST, "/api/v1/nodes", "application/json", Some(&object))
            .await
            .with_context(|| format!("creating node {}", node.name))?;
        self.created.lock().unwrap_or_else(|e| e.into_inner()).push(node.name.clone());
        let status = json!({"status": full["status"]});
        let path = format!("/api/v1/nodes/{}/status", node.name);
        self.client
            .send(Method::PATCH, &path, "application/merge-patch+json", Some(&status))
            .await
            .with_context(|| format!("setting the status of node {}", node.name))?;
        Ok(())
    }

    /// Deletes the nodes kubesim created (`DELETE /api/v1/nodes/{name}`), best effort.
    pub(crate) async fn unregister(&self) {
        let names = std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()));
        futures::stream::iter(names)
            .map(|name| async move {
                let path = format!("/api/v1/nodes/{name}");
                let _ = self.client.send(Method::DELETE, &path, "application/json", None).await;
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<()>>()
            .await;
    }
}

/// The user a TokenReview answer names, if it authenticated the token.
fn user_from_token_review(answer: &Value) -> Option<UserInfo> {
    let status = answer.get("status")?;
    if status.get("authenticated").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let user = status.get("user")?;
    Some(UserInfo {
        name: user.get("username").and_then(Value::as_str)?.to_string(),
        uid: user.get("uid").and_then(Value::as_str).unwrap_or("").to_string(),
        groups: user
            .get("groups")
            .and_then(Value::as_array)
            .map(|g| g.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
    })
}

/// The SubjectAccessReview a webhook-mode kubelet sends for `user` and `attrs`.
fn subject_access_review(user: &UserInfo, attrs: &Attributes) -> Value {
    let mut spec = json!({"user": user.name, "groups": user.groups});
    if !user.uid.is_empty() {
        spec["uid"] = user.uid.clone().into();
    }
    if attrs.is_resource() {
        let mut resource = json!({"verb": attrs.verb, "resource": attrs.resource});
        for (key, value) in [
            ("group", &attrs.group),
            ("subresource", &attrs.subresource),
            ("name", &attrs.name),
            ("namespace", &attrs.namespace),
        ] {
            if !value.is_empty() {
                resource[key] = value.clone().into();
            }
        }
        spec["resourceAttributes"] = resource;
    } else {
        spec["nonResourceAttributes"] = json!({"verb": attrs.verb, "path": attrs.path});
    }
    json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_reviews_carry_the_kubelet_attributes() {
        let user = UserInfo::service_account("monitoring", "kubelet-metrics", "u1");
        let review =
            subject_access_review(&user, &Attributes::resource("get", "", "nodes", "metrics", "node-1"));
        assert_eq!(
            review["spec"],
            json!({"user": "system:serviceaccount:monitoring:kubelet-metrics", "uid": "u1",
                   "groups": user.groups,
                   "resourceAttributes": {"verb": "get", "resource": "nodes", "subresource": "metrics", "name": "node-1"}})
        );
    }

    #[test]
    fn token_reviews_name_a_user_only_when_authenticated() {
        let yes = json!({"status": {"authenticated": true, "user": {"username": "u", "groups": ["g"]}}});
        assert_eq!(
            user_from_token_review(&yes),
            Some(UserInfo { name: "u".into(), uid: String::new(), groups: vec!["g".into()] })
        );
        assert_eq!(user_from_token_review(&json!({"status": {"authenticated": false}})), None);
        assert_eq!(user_from_token_review(&json!({})), None);
    }

    #[test]
    fn cached_answers_expire() {
        let cache = Cache::new();
        cache.put("a".into(), true, Duration::from_secs(60));
        cache.put("b".into(), false, Duration::ZERO);
        assert_eq!(cache.get("a"), Some(true));
        assert_eq!(cache.get("b"), None);
        assert_eq!(cache.get("c"), None);
    }
}
