//! The API server proxy method: `GET /api/v1/nodes/{node}/proxy/{path}` with the kubeconfig's
//! credentials. The API server reaches the kubelet with its own identity and streams the answer
//! back; the caller needs `get nodes/proxy`. Deadlines and retries belong to `collect`.

use crate::access::Method;
use crate::cluster::{ACCEPT_EXPOSITION, BodyStream, FetchError, MetricsSource, NodeTarget, answer};
use crate::units::encode_component;

/// Reads kubelets through the API server.
#[derive(Clone)]
pub struct ProxySource {
    client: kube::Client,
    api_host: String,
    port: Option<u16>,
}

impl std::fmt::Debug for ProxySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxySource").field("api_host", &self.api_host).finish_non_exhaustive()
    }
}

impl ProxySource {
    /// A proxy source over an API-server client; `api_host` (`host:port`) names the server in
    /// transport errors; `port` (`--kubelet-port`) makes the API server dial that kubelet port
    /// instead of the node's `daemonEndpoints` port.
    pub fn new(client: kube::Client, api_host: impl Into<String>, port: Option<u16>) -> ProxySource {
        ProxySource { client, api_host: api_host.into(), port }
    }

    /// The API-server client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }
}

/// The API path that proxies `path` to `node`'s kubelet, on `port` when given (the API
/// server's `nodes/{name}:{port}/proxy` form); pure.
pub fn proxy_path(node: &str, port: Option<u16>, path: &str) -> String {
    match port {
        Some(port) => format!("/api/v1/nodes/{}:{port}/proxy{path}", encode_component(node)),
        None => format!("/api/v1/nodes/{}/proxy{path}", encode_component(node)),
    }
}

impl MetricsSource for ProxySource {
    fn method(&self) -> Method {
        Method::Proxy
    }

    fn url(&self, node: &NodeTarget, path: &str) -> String {
        proxy_path(&node.name, self.port, path)
    }

    async fn open(&self, node: &NodeTarget, path: &str, max_body: u64) -> Result<BodyStream, FetchError> {
        let url = proxy_path(&node.name, self.port, path);
        let request = http::Request::get(url.as_str())
            .header(http::header::ACCEPT, ACCEPT_EXPOSITION)
            .body(kube::client::Body::empty())
            .map_err(|err| FetchError::Status {
                status: 0,
                message: format!("invalid request {url:?}: {err}"),
            })?;
        let response =
            self.client.send(request).await.map_err(|err| FetchError::from_kube(&err, &self.api_host))?;
        answer(response, &self.api_host, max_body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_paths_escape_node_names() {
        assert_eq!(proxy_path("node-01", None, "/metrics"), "/api/v1/nodes/node-01/proxy/metrics");
        assert_eq!(
            proxy_path("node-01", Some(10255), "/healthz"),
            "/api/v1/nodes/node-01:10255/proxy/healthz"
        );
        assert_eq!(
            proxy_path("ip-10-0-17-199.ap-northeast-2.compute.internal", None, "/metrics/cadvisor"),
            "/api/v1/nodes/ip-10-0-17-199.ap-northeast-2.compute.internal/proxy/metrics/cadvisor"
        );
        assert_eq!(proxy_path("a/b c", None, "/healthz"), "/api/v1/nodes/a%2Fb%20c/proxy/healthz");
    }
}
