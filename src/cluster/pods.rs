//! Listing pods for `pods`: `GET /api/v1/pods` (or one namespace's), with the label and field
//! selectors, one request per page of `limit` pods, following `continue`. Each page is read
//! under `--max-body`, parsed into the few fields `podstart` needs, handed over pod by pod and
//! dropped before the next page is asked for, so memory follows the page size, not the cluster.
//! What a pod's fields mean lives in `podstart`; this module only fetches.

use serde::Deserialize;

use crate::cluster::FetchError;
use crate::podstart::PodObject;

/// Upper bound on list pages, so a server that keeps returning `continue` cannot loop us forever.
const MAX_PAGES: usize = 1_000_000;

/// Which pods to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSelection {
    /// One namespace, or every namespace (`None`).
    pub namespace: Option<String>,
    /// A label selector, e.g. `app=web`.
    pub label_selector: Option<String>,
    /// A field selector, e.g. `spec.nodeName=node-a`.
    pub field_selector: Option<String>,
    /// Pods per page (`limit`).
    pub page_size: u32,
}

impl PodSelection {
    /// The request path of one page; pure.
    ///
    /// ```
    /// use kubelet_metrics::cluster::pods::PodSelection;
    /// let selection = PodSelection { namespace: Some("shop".into()), label_selector: Some("app=db".into()),
    ///                                field_selector: None, page_size: 500 };
    /// assert_eq!(selection.page_path(Some("abc=")), "/api/v1/namespaces/shop/pods?limit=500&labelSelector=app%3Ddb&continue=abc%3D");
    /// ```
    pub fn page_path(&self, continue_token: Option<&str>) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let encode = |text: &str| utf8_percent_encode(text, NON_ALPHANUMERIC).to_string();
        let mut path = match &self.namespace {
            Some(namespace) => format!("/api/v1/namespaces/{}/pods", encode(namespace)),
            None => "/api/v1/pods".to_string(),
        };
        path.push_str(&format!("?limit={}", self.page_size.max(1)));
        if let Some(selector) = self.label_selector.as_deref().filter(|s| !s.trim().is_empty()) {
            path.push_str(&format!("&labelSelector={}", encode(selector)));
        }
        if let Some(selector) = self.field_selector.as_deref().filter(|s| !s.trim().is_empty()) {
            path.push_str(&format!("&fieldSelector={}", encode(selector)));
        }
        if let Some(token) = continue_token {
            path.push_str(&format!("&continue={}", encode(token)));
        }
        path
    }
}

/// One page of a pod list: the pods and where the next page starts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodPage {
    /// `metadata`.
    pub metadata: PageMetadata,
    /// `items`.
    pub items: Vec<PodObject>,
}

/// `metadata` of a list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageMetadata {
    /// `continue`.
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
}

/// What listing took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListStats {
    /// Requests made (one per page).
    pub pages: usize,
    /// Pods received.
    pub pods: usize,
    /// Bytes received.
    pub bytes: u64,
}

/// Lists every selected pod, one request per page, each page's body capped at `max_body` bytes
/// and given `per_page` to arrive; `each` receives the pods of a page before the next is asked for.
pub async fn list(
    client: &kube::Client,
    api_host: &str,
    selection: &PodSelection,
    max_body: u64,
    per_page: std::time::Duration,
    mut each: impl FnMut(PodObject),
) -> Result<ListStats, FetchError> {
    let mut stats = ListStats::default();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let path = selection.page_path(token.as_deref());
        let page = tokio::time::timeout(per_page, page(client, api_host, &path, max_body))
            .await
            .unwrap_or(Err(FetchError::Timeout(per_page)))?;
        let (body_len, page) = page;
        stats.pages += 1;
        stats.bytes += body_len;
        stats.pods += page.items.len();
        tracing::debug!(path, pods = page.items.len(), bytes = body_len, "pod list page");
        page.items.into_iter().for_each(&mut each);
        token = page.metadata.continue_token.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(stats);
        }
    }
    Ok(stats)
}

/// One page: its size in bytes and its pods.
async fn page(
    client: &kube::Client,
    api_host: &str,
    path: &str,
    max_body: u64,
) -> Result<(u64, PodPage), FetchError> {
    let request = http::Request::get(path)
        .header(http::header::ACCEPT, "application/json")
        .body(kube::client::Body::empty())
        .map_err(|err| FetchError::Io { message: format!("cannot build the pod list request: {err}") })?;
    let response = client.send(request).await.map_err(|err| FetchError::from_kube(&err, api_host))?;
    let body = crate::cluster::answer(response, api_host, max_body).await?.into_bytes().await?;
    let page = parse_page(&body).map_err(|err| FetchError::Parse {
        line: err.line(),
        message: format!("{path}: the answer is not a PodList: {err}"),
    })?;
    Ok((body.len() as u64, page))
}

/// Parses one page (or a saved `kubectl get pods -o json`, a `List` of pods); pure.
pub fn parse_page(body: &[u8]) -> Result<PodPage, serde_json::Error> {
    serde_json::from_slice(body)
}
