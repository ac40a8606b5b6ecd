//! The direct method: `GET https://{address}:{port}/{path}` on each kubelet, with a bearer token
//! (`--token-file`, the pod's service-account token, or the kubeconfig's credentials). TLS is
//! verified against `--kubelet-ca` unless `--insecure-skip-tls-verify-kubelet`; the client is
//! built in `config`. The caller needs `get nodes/metrics` on the kubelet's webhook authorizer.

use crate::access::{AddressType, Method};
use crate::cluster::config::TokenFile;
use crate::cluster::{ACCEPT_EXPOSITION, BodyStream, FetchError, MetricsSource, NodeTarget, answer};

/// Reads kubelets directly.
pub struct DirectSource {
    client: kube::Client,
    token: Option<TokenFile>,
    address_types: String,
}

impl std::fmt::Debug for DirectSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectSource")
            .field("token_file", &self.token.as_ref().map(TokenFile::path))
            .finish_non_exhaustive()
    }
}

impl DirectSource {
    /// A direct source over a kubelet client (see `config::direct`); `token` is sent as a
    /// bearer token, re-read before each request.
    pub fn new(
        client: kube::Client,
        token: Option<TokenFile>,
        address_types: &[AddressType],
    ) -> DirectSource {
        let address_types = address_types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(",");
        DirectSource { client, token, address_types }
    }

    /// The kubelet client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    async fn send(&self, authority: &str, url: &str, max_body: u64) -> Result<BodyStream, FetchError> {
        let mut request = http::Request::get(url)
            .header(http::header::ACCEPT, ACCEPT_EXPOSITION)
            .body(kube::client::Body::empty())
            .map_err(|_| FetchError::Dns { host: authority.to_string() })?;
        if let Some(file) = &self.token {
            let token = file.token().await;
            let mut value = http::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| FetchError::TokenFile { path: file.path().display().to_string() })?;
            value.set_sensitive(true);
            request.headers_mut().insert(http::header::AUTHORIZATION, value);
        }
        let response =
            self.client.send(request).await.map_err(|err| FetchError::from_kube(&err, authority))?;
        answer(response, authority, max_body).await
    }
}

/// The kubelet URL for `path` on `node`, IPv6 bracketed; `None` without an address.
pub fn kubelet_url(node: &NodeTarget, path: &str) -> Option<String> {
    node.authority().map(|authority| format!("https://{authority}{path}"))
}

impl MetricsSource for DirectSource {
    fn method(&self) -> Method {
        Method::Direct
    }

    fn url(&self, node: &NodeTarget, path: &str) -> String {
        kubelet_url(node, path).unwrap_or_else(|| format!("https://<no address>{path}"))
    }

    async fn open(&self, node: &NodeTarget, path: &str, max_body: u64) -> Result<BodyStream, FetchError> {
        let Some(authority) = node.authority() else {
            return Err(FetchError::NoAddress { types: self.address_types.clone() });
        };
        let url = format!("https://{authority}{path}");
        let result = self.send(&authority, &url, max_body).await;
        match (&self.token, result) {
            (Some(token), Err(err)) => Err(err.redact(&token.last())),
            (_, result) => result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_bracket_ipv6_and_use_the_port() {
        let node = NodeTarget {
            name: "n".into(),
            addresses: vec!["fd00::1".into(), "10.0.0.1".into()],
            port: 10250,
            kubelet_version: None,
        };
        assert_eq!(kubelet_url(&node, "/metrics").as_deref(), Some("https://[fd00::1]:10250/metrics"));
        let none = NodeTarget { addresses: vec![], ..node };
        assert_eq!(kubelet_url(&none, "/metrics"), None);
    }
}
