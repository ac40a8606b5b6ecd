//! Which nodes to read and how to address them: list nodes (label selector, paginated), look
//! up named nodes, or take `--node-ip` addresses as they are. The address and port policy is
//! the pure [`NodeTarget::from_node`]; this module never fetches metrics.

use std::net::IpAddr;

use futures::{StreamExt, stream};
use serde::Deserialize;

use crate::access::AddressType;
use crate::cluster::FetchError;
use crate::cluster::plan::{Limits, NodeSelection};

/// The kubelet's default HTTPS port, used when the node does not report one.
pub const DEFAULT_KUBELET_PORT: u16 = 10250;

/// Nodes per list page (the API server's chunking; kubectl uses 500 too).
const PAGE_SIZE: u32 = 500;

/// Upper bound on list pages, so a server that keeps returning `continue` cannot loop us forever.
const MAX_PAGES: usize = 100_000;
/// The smallest cap on one page of the node list, whatever `--max-body` (a kubelet payload's
/// cap) says: the watch cache serves the whole list in one page (it ignores `limit`), and a node
/// object is 5–20 KB, so 64 MiB holds several thousand nodes while an endless list still stops.
const LIST_PAGE_FLOOR: u64 = 64 << 20;

/// How many named nodes are looked up at once.
const LOOKUP_CONCURRENCY: usize = 8;

/// One node to read: its name, its addresses in preference order, and its kubelet port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTarget {
    /// The node name (for `--node-ip` targets, the address as given).
    pub name: String,
    /// Addresses of the preferred types, best first, without duplicates (direct method).
    pub addresses: Vec<String>,
    /// The kubelet's HTTPS port.
    pub port: u16,
    /// `status.nodeInfo.kubeletVersion`, when known.
    pub kubelet_version: Option<String>,
}

/// Which addresses and port the direct method uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Address types in order of preference (`--address-type`).
    pub types: Vec<AddressType>,
    /// `--kubelet-port`: overrides every node's reported port.
    pub port: Option<u16>,
}

impl Default for AddressPolicy {
    fn default() -> Self {
        AddressPolicy {
            types: vec![AddressType::InternalIp, AddressType::ExternalIp, AddressType::Hostname],
            port: None,
        }
    }
}

impl NodeTarget {
    /// The target for a node object: addresses of the policy's types in its order, the port
    /// from `--kubelet-port`, else `status.daemonEndpoints.kubeletEndpoint.Port`, else 10250.
    /// `None` when the object has no name.
    pub fn from_node(node: &NodeObject, policy: &AddressPolicy) -> Option<NodeTarget> {
        let status = node.status.as_ref();
        let reported = status.map(|s| s.addresses.as_slice()).unwrap_or_default();
        let mut addresses: Vec<String> = Vec::new();
        for wanted in &policy.types {
            for reported in reported.iter().filter(|a| a.type_ == wanted.as_str()) {
                let value = reported.address.trim();
                if !value.is_empty() && !addresses.iter().any(|a| a == value) {
                    addresses.push(value.to_string());
                }
            }
        }
        let reported_port = status
            .and_then(|s| s.daemon_endpoints.as_ref())
            .and_then(|d| d.kubelet_endpoint.as_ref())
            .and_then(|endpoint| u16::try_from(endpoint.port).ok())
            .filter(|port| *port != 0);
        let kubelet_version = status
            .and_then(|s| s.node_info.as_ref())
            .and_then(|info| info.kubelet_version.as_deref())
            .filter(|v| !v.is_empty());
        Some(NodeTarget {
            name: node.metadata.name.clone()?,
            addresses,
            port: policy.port.or(reported_port).unwrap_or(DEFAULT_KUBELET_PORT),
            kubelet_version: kubelet_version.map(str::to_string),
        })
    }

    /// A target for `--node-ip IP[:PORT]`, without listing nodes: its name is the address as
    /// given (`10.0.0.7`, or `10.0.0.7:10250` when a port was given, so that several kubelets
    /// on one host stay apart).
    pub fn from_address(ip: IpAddr, port: Option<u16>, policy: &AddressPolicy) -> NodeTarget {
        let name = match port {
            Some(port) => format!("{}:{port}", url_host(&ip.to_string())),
            None => ip.to_string(),
        };
        let port = port.or(policy.port).unwrap_or(DEFAULT_KUBELET_PORT);
        NodeTarget { name, addresses: vec![ip.to_string()], port, kubelet_version: None }
    }

    /// `host:port` of the preferred address, IPv6 bracketed; `None` without an address.
    pub fn authority(&self) -> Option<String> {
        self.addresses.first().map(|address| format!("{}:{}", url_host(address), self.port))
    }
}

/// An address as it appears in a URL: IPv6 literals bracketed, everything else unchanged.
///
/// ```
/// use kubelet_metrics::cluster::discovery::url_host;
/// assert_eq!(url_host("fd00::7"), "[fd00::7]");
/// assert_eq!(url_host("10.0.0.7"), "10.0.0.7");
/// ```
pub fn url_host(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => address.to_string(),
    }
}

/// The nodes a run reads: targets found, and named nodes that could not be looked up.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Nodes to read, sorted by name.
    pub targets: Vec<NodeTarget>,
    /// Named nodes that do not exist or could not be looked up, with why.
    pub unresolved: Vec<(String, FetchError)>,
}

impl Discovery {
    /// Targets for `--node-ip` addresses, without asking the API server; pure.
    pub fn from_addresses(addresses: &[(IpAddr, Option<u16>)], policy: &AddressPolicy) -> Discovery {
        let mut targets: Vec<NodeTarget> =
            addresses.iter().map(|(ip, port)| NodeTarget::from_address(*ip, *port, policy)).collect();
        targets.sort_by(|a, b| a.name.cmp(&b.name));
        Discovery { targets, unresolved: Vec::new() }
    }
}

impl Discovery {
    /// The node this process runs on, at its host IP, without asking the API server; pure.
    /// The port is `--kubelet-port`, else the kubelet's default.
    pub fn local(name: &str, ip: IpAddr, policy: &AddressPolicy) -> Discovery {
        let target = NodeTarget {
            name: name.to_string(),
            addresses: vec![ip.to_string()],
            port: policy.port.unwrap_or(DEFAULT_KUBELET_PORT),
            kubelet_version: None,
        };
        Discovery { targets: vec![target], unresolved: Vec::new() }
    }
}

/// Listing nodes failed: nothing can run.
#[derive(Debug, thiserror::Error)]
#[error("cannot list nodes{}: {reason}", selector_text(.selector.as_deref()))]
pub struct DiscoveryError {
    /// The label selector, when one was given.
    pub selector: Option<String>,
    /// The classified reason (e.g. forbidden, naming the missing `list nodes` rule).
    pub reason: FetchError,
}

fn selector_text(selector: Option<&str>) -> String {
    selector.map(|s| format!(" matching {s:?}")).unwrap_or_default()
}

/// Finds the nodes a selection names. Listing errors end the run; a named node that is
/// missing or cannot be read only fails that node.
pub async fn discover(
    client: &kube::Client,
    api_host: &str,
    selection: &NodeSelection,
    policy: &AddressPolicy,
    limits: &Limits,
) -> Result<Discovery, DiscoveryError> {
    let selector = match selection {
        NodeSelection::All { selector } => selector.clone(),
        _ => None,
    };
    // --timeout is the budget of the whole listing (every page, every named lookup, kube's
    // retries included): a stalled API server must not hold the run longer than a node may.
    let found =
        tokio::time::timeout(limits.per_node, find(client, api_host, selection, policy, limits.max_body));
    let mut discovery = match found.await {
        Ok(found) => found,
        Err(_) => Err(FetchError::Timeout(limits.per_node)),
    }
    .map_err(|reason| DiscoveryError { selector, reason })?;
    discovery.targets.sort_by(|a, b| a.name.cmp(&b.name));
    discovery.targets.dedup_by(|a, b| a.name == b.name);
    discovery.unresolved.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(discovery)
}

async fn find(
    client: &kube::Client,
    api_host: &str,
    selection: &NodeSelection,
    policy: &AddressPolicy,
    max_body: u64,
) -> Result<Discovery, FetchError> {
    Ok(match selection {
        NodeSelection::All { selector } => Discovery {
            targets: list_paged(client, api_host, selector.as_deref(), PAGE_SIZE, max_body, policy).await?,
            unresolved: Vec::new(),
        },
        NodeSelection::Names(names) => lookup(client, api_host, names, policy, max_body).await,
        NodeSelection::Addresses(addresses) => Discovery::from_addresses(addresses, policy),
        NodeSelection::Local { name, address: Some(ip) } => Discovery::local(name, *ip, policy),
        NodeSelection::Local { name, address: None } => {
            lookup(client, api_host, std::slice::from_ref(name), policy, max_body).await
        }
    })
}

/// Lists every node matching the selector as targets, `page_size` nodes per request. The
/// first request is served from the API server's watch cache (`resourceVersion=0`, see
/// [`page_path`]), so a fleet of clients listing nodes does not make etcd read every node each
/// time. Each page becomes targets before the next is requested, and only the fields a target
/// needs are parsed ([`NodeObject`]): memory follows the page size, not the node count. Each
/// page's body is limited as it arrives (to `--max-body`, but never below 64 MiB): a server
/// that sends an endless list fails the run instead of filling memory.
pub async fn list_paged(
    client: &kube::Client,
    api_host: &str,
    selector: Option<&str>,
    page_size: u32,
    max_body: u64,
    policy: &AddressPolicy,
) -> Result<Vec<NodeTarget>, FetchError> {
    let mut targets = Vec::new();
    let cap = max_body.max(LIST_PAGE_FLOOR);
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let path = page_path(selector, token.as_deref(), page_size);
        let page: NodeList = get_json(client, api_host, &path, "NodeList", cap).await.map_err(|err| match err {
            FetchError::TooLarge { limit } => FetchError::Io {
                message: format!(
                    "the node list passed {limit} bytes (the larger of --max-body and 64 MiB), more than a node list holds"
                ),
            },
            err => err,
        })?;
        targets.extend(page.items.iter().filter_map(|node| NodeTarget::from_node(node, policy)));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(targets)
}

/// `GET path` on the API server, its body capped at `max_body` bytes as it arrives, read as
/// `T`: the `kind` asked for (a `Node`, or a `NodeList` page).
async fn get_json<T: serde::de::DeserializeOwned>(
    client: &kube::Client,
    api_host: &str,
    path: &str,
    kind: &str,
    max_body: u64,
) -> Result<T, FetchError> {
    let request = http::Request::get(path)
        .header(http::header::ACCEPT, "application/json")
        .body(kube::client::Body::empty())
        .map_err(|err| FetchError::Io { message: format!("cannot build the request for {path}: {err}") })?;
    let response = client.send(request).await.map_err(|err| FetchError::from_kube(&err, api_host))?;
    let body = crate::cluster::answer(response, api_host, max_body).await?.into_bytes().await?;
    parse_object(&body, path, kind)
}

/// `body` read as `T`, the `kind` the API server was asked for at `path`.
fn parse_object<T: serde::de::DeserializeOwned>(
    body: &[u8],
    path: &str,
    kind: &str,
) -> Result<T, FetchError> {
    serde_json::from_slice(body).map_err(|err| FetchError::Parse {
        line: err.line(),
        message: format!("the answer to {path} is not a {kind}: {err}"),
    })
}

/// A node object as the API server serves it (`GET /api/v1/nodes/NAME`, or an item of the
/// list), reduced to the fields a [`NodeTarget`] is built from: serde skips the rest
/// (conditions, images, labels, ...) without allocating it, so a page of 500 nodes costs what
/// their names and addresses do.
#[derive(Debug, Default, Deserialize)]
pub struct NodeObject {
    #[serde(default)]
    metadata: Meta,
    status: Option<Status>,
}

#[derive(Debug, Default, Deserialize)]
struct NodeList {
    #[serde(default)]
    items: Vec<NodeObject>,
    #[serde(default)]
    metadata: ListMeta,
}

#[derive(Debug, Default, Deserialize)]
struct ListMeta {
    #[serde(rename = "continue")]
    continue_: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(default)]
    addresses: Vec<Address>,
    daemon_endpoints: Option<DaemonEndpoints>,
    node_info: Option<NodeInfo>,
}

#[derive(Debug, Deserialize)]
struct Address {
    #[serde(rename = "type")]
    type_: String,
    address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DaemonEndpoints {
    kubelet_endpoint: Option<Endpoint>,
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    #[serde(rename = "Port")]
    port: i32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeInfo {
    kubelet_version: Option<String>,
}

/// The path and query of one page of the node list; pure.
///
/// The first page asks for `resourceVersion=0`: any version is recent enough, so the API server
/// answers from its watch cache instead of a quorum read of etcd (what kubectl's and kube-rs'
/// lists with a `limit` do). kube-apiserver v1.20 serves such a list whole and ignores `limit`;
/// a server that pages it anyway sends a continue token, and later pages carry that token alone,
/// since a continue token cannot be combined with a resource version.
///
/// ```
/// use kubelet_metrics::cluster::discovery::page_path;
/// assert_eq!(page_path(Some("zone=a"), None, 500), "/api/v1/nodes?labelSelector=zone%3Da&limit=500&resourceVersion=0");
/// assert_eq!(page_path(None, Some("abc"), 500), "/api/v1/nodes?limit=500&continue=abc");
/// ```
pub fn page_path(selector: Option<&str>, continue_token: Option<&str>, page_size: u32) -> String {
    let encode = crate::units::encode_component;
    let mut query = Vec::new();
    if let Some(selector) = selector.filter(|s| !s.trim().is_empty()) {
        query.push(format!("labelSelector={}", encode(selector)));
    }
    query.push(format!("limit={}", page_size.max(1)));
    match continue_token {
        Some(token) => query.push(format!("continue={}", encode(token))),
        None => query.push("resourceVersion=0".to_string()),
    }
    format!("/api/v1/nodes?{}", query.join("&"))
}

/// Looks up named nodes, [`LOOKUP_CONCURRENCY`] at a time, each object read as a [`NodeObject`].
async fn lookup(
    client: &kube::Client,
    api_host: &str,
    names: &[String],
    policy: &AddressPolicy,
    max_body: u64,
) -> Discovery {
    let cap = max_body.max(LIST_PAGE_FLOOR);
    let results: Vec<(String, Result<NodeObject, FetchError>)> = stream::iter(names.iter().cloned())
        .map(|name| async move {
            let path = format!("/api/v1/nodes/{}", crate::units::encode_component(&name));
            let found = get_json(client, api_host, &path, "Node", cap).await;
            (name, found)
        })
        .buffer_unordered(LOOKUP_CONCURRENCY)
        .collect()
        .await;
    let missing =
        |result: &Result<NodeObject, FetchError>| matches!(result, Err(FetchError::NotFound { .. }));
    // A name the cluster does not have is most often mistyped: one page of node names (a
    // single request, asked only then) gives the closest as a "did you mean".
    let known: Vec<String> = match results.iter().any(|(_, result)| missing(result)) {
        true => get_json::<NodeList>(
            client,
            api_host,
            &format!("/api/v1/nodes?limit={NAME_PAGE}"),
            "NodeList",
            cap,
        )
        .await
        .map(|list| list.items.into_iter().filter_map(|node| node.metadata.name).collect())
        .unwrap_or_default(),
        false => Vec::new(),
    };
    let mut discovery = Discovery::default();
    for (name, result) in results {
        match result {
            Ok(node) => match NodeTarget::from_node(&node, policy) {
                Some(target) => discovery.targets.push(target),
                None => discovery.unresolved.push((name, no_such_node(&[]))),
            },
            Err(FetchError::NotFound { .. }) => {
                let near = crate::text::closest(&name, known.iter().map(String::as_str));
                discovery.unresolved.push((name, no_such_node(&near)));
            }
            Err(err) => discovery.unresolved.push((name, err)),
        }
    }
    discovery
}

/// How many node names a lookup reads to suggest one for a name that is not there.
const NAME_PAGE: u32 = 500;

/// What a named node the API server does not have fails with: [`NO_SUCH_NODE`], then the
/// closest names it has, if any.
fn no_such_node(near: &[&str]) -> FetchError {
    let message = match crate::text::did_you_mean(near) {
        Some(hint) => format!("{NO_SUCH_NODE}; {hint}"),
        None => NO_SUCH_NODE.to_string(),
    };
    FetchError::NotFound { message }
}

/// The message of a named node that does not exist (HTTP 404 on `GET /api/v1/nodes/NAME`).
pub const NO_SUCH_NODE: &str = "no such node";

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        DaemonEndpoint, Node, NodeAddress, NodeDaemonEndpoints, NodeStatus, NodeSystemInfo,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    #[test]
    fn a_missing_node_offers_the_closest_names_the_cluster_has() {
        let near = crate::text::closest("node-01", ["node-0", "node-1", "node-10", "worker"]);
        assert_eq!(near, ["node-0", "node-1", "node-10"]);
        let err = no_such_node(&near);
        assert_eq!(
            err.to_string(),
            "not found (HTTP 404): no such node; did you mean node-0, node-1 or node-10?"
        );
        assert_eq!(no_such_node(&[]).to_string(), "not found (HTTP 404): no such node");
    }

    /// A full `Node` as k8s-openapi models it, so the fields [`NodeObject`] reads are checked
    /// against the real type's serialization.
    fn full_node(addresses: &[(&str, &str)], port: Option<i32>) -> Node {
        Node {
            metadata: ObjectMeta { name: Some("node-a".into()), ..ObjectMeta::default() },
            spec: None,
            status: Some(NodeStatus {
                addresses: Some(
                    addresses
                        .iter()
                        .map(|(t, a)| NodeAddress { type_: (*t).into(), address: (*a).into() })
                        .collect(),
                ),
                daemon_endpoints: port
                    .map(|port| NodeDaemonEndpoints { kubelet_endpoint: Some(DaemonEndpoint { port }) }),
                node_info: Some(NodeSystemInfo {
                    kubelet_version: "v1.31.2".into(),
                    ..NodeSystemInfo::default()
                }),
                ..NodeStatus::default()
            }),
        }
    }

    fn served(node: &Node) -> NodeObject {
        serde_json::from_value(serde_json::to_value(node).expect("serializes")).expect("a node object")
    }

    fn node(addresses: &[(&str, &str)], port: Option<i32>) -> NodeObject {
        served(&full_node(addresses, port))
    }

    fn policy(types: &[AddressType], port: Option<u16>) -> AddressPolicy {
        AddressPolicy { types: types.to_vec(), port }
    }

    #[test]
    fn a_listed_page_gives_the_targets_its_objects_give() {
        let nodes = [
            full_node(
                &[("Hostname", "node-a"), ("ExternalIP", "203.0.113.4"), ("InternalIP", "10.0.0.4")],
                Some(11250),
            ),
            full_node(&[("InternalIP", "10.0.0.5")], None),
            Node { status: None, ..full_node(&[], None) },
            Node { metadata: ObjectMeta::default(), ..full_node(&[("InternalIP", "10.0.0.6")], Some(0)) },
        ];
        let page = serde_json::json!({
            "kind": "NodeList", "apiVersion": "v1", "metadata": {"continue": "next"}, "items": nodes,
        });
        let path = "/api/v1/nodes?limit=500";
        let listed: NodeList =
            parse_object(page.to_string().as_bytes(), path, "NodeList").expect("a node list");
        assert_eq!(listed.metadata.continue_.as_deref(), Some("next"));
        for types in [AddressPolicy::default().types, vec![AddressType::ExternalIp]] {
            let policy = policy(&types, None);
            let one_by_one: Vec<_> =
                nodes.iter().map(|n| NodeTarget::from_node(&served(n), &policy)).collect();
            let from_page: Vec<_> = listed.items.iter().map(|n| NodeTarget::from_node(n, &policy)).collect();
            assert_eq!(from_page, one_by_one);
            assert_eq!(from_page.iter().flatten().count(), 3, "the nameless node has no target");
        }
        let not_a_list = parse_object::<NodeList>(b"{\"items\": 7}", path, "NodeList").expect_err("refused");
        assert_eq!(not_a_list.kind(), crate::scrape::FailureKind::Parse);
        assert!(
            not_a_list.to_string().contains("the answer to /api/v1/nodes?limit=500 is not a NodeList"),
            "{not_a_list}"
        );
    }

    #[test]
    fn addresses_follow_the_preference_order() {
        let n =
            node(&[("Hostname", "node-a"), ("ExternalIP", "203.0.113.4"), ("InternalIP", "10.0.0.4")], None);
        let target = NodeTarget::from_node(&n, &AddressPolicy::default()).expect("named");
        assert_eq!(target.addresses, ["10.0.0.4", "203.0.113.4", "node-a"]);
        let target =
            NodeTarget::from_node(&n, &policy(&[AddressType::ExternalIp, AddressType::InternalIp], None))
                .expect("named");
        assert_eq!(target.addresses, ["203.0.113.4", "10.0.0.4"]);
        assert_eq!(target.kubelet_version.as_deref(), Some("v1.31.2"));
    }

    #[test]
    fn missing_type_leaves_no_address() {
        let n = node(&[("InternalIP", "10.0.0.4")], None);
        let target = NodeTarget::from_node(&n, &policy(&[AddressType::ExternalIp], None)).expect("named");
        assert!(target.addresses.is_empty());
        assert_eq!(target.authority(), None);
    }

    #[test]
    fn port_comes_from_override_then_daemon_endpoints_then_default() {
        let reported = node(&[("InternalIP", "10.0.0.4")], Some(11250));
        assert_eq!(NodeTarget::from_node(&reported, &AddressPolicy::default()).expect("named").port, 11250);
        let overridden = NodeTarget::from_node(&reported, &policy(&[AddressType::InternalIp], Some(9999)));
        assert_eq!(overridden.expect("named").port, 9999);
        let unreported = node(&[("InternalIP", "10.0.0.4")], None);
        assert_eq!(NodeTarget::from_node(&unreported, &AddressPolicy::default()).expect("named").port, 10250);
        let zero = node(&[("InternalIP", "10.0.0.4")], Some(0));
        assert_eq!(NodeTarget::from_node(&zero, &AddressPolicy::default()).expect("named").port, 10250);
    }

    #[test]
    fn ipv6_addresses_are_bracketed_in_urls() {
        let n = node(&[("InternalIP", "fd00::4")], Some(10250));
        let target = NodeTarget::from_node(&n, &AddressPolicy::default()).expect("named");
        assert_eq!(target.authority().as_deref(), Some("[fd00::4]:10250"));
        assert_eq!(url_host("10.0.0.4"), "10.0.0.4");
        assert_eq!(url_host("node-a.example"), "node-a.example");
    }

    #[test]
    fn node_ip_targets_are_named_by_their_address() {
        let ip: IpAddr = "fd00::7".parse().expect("ip");
        let target = NodeTarget::from_address(ip, Some(1), &AddressPolicy::default());
        assert_eq!(target.name, "[fd00::7]:1");
        assert_eq!(target.authority().as_deref(), Some("[fd00::7]:1"));
        let target = NodeTarget::from_address("10.0.0.7".parse().expect("ip"), None, &policy(&[], Some(5)));
        assert_eq!(target.authority().as_deref(), Some("10.0.0.7:5"));
        assert_eq!(target.name, "10.0.0.7");
    }

    #[test]
    fn pages_come_from_the_watch_cache_then_follow_continue_tokens() {
        assert_eq!(page_path(None, None, 500), "/api/v1/nodes?limit=500&resourceVersion=0");
        assert_eq!(page_path(Some(" "), None, 0), "/api/v1/nodes?limit=1&resourceVersion=0");
        assert_eq!(
            page_path(Some("node-role.kubernetes.io/worker,zone in (a b)"), Some("eyJ2Ij=="), 2),
            "/api/v1/nodes?labelSelector=node-role.kubernetes.io%2Fworker%2Czone%20in%20%28a%20b%29&limit=2&continue=eyJ2Ij%3D%3D"
        );
    }
}
