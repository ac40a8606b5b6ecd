//! Which nodes to read and how to address them: list nodes (label selector, paginated), look
//! up named nodes, or take `--node-ip` addresses as they are. The address and port policy is
//! the pure [`NodeTarget::from_node`]; this module never fetches metrics.

use std::net::IpAddr;

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, ObjectList};

use crate::access::AddressType;
use crate::cluster::FetchError;
use crate::cluster::plan::{Limits, NodeSelection};

/// The kubelet's default HTTPS port, used when the node does not report one.
pub const DEFAULT_KUBELET_PORT: u16 = 10250;

/// Nodes per list page (the API server's chunking; kubectl uses 500 too).
const PAGE_SIZE: u32 = 500;

/// Upper bound on list pages, so a server that keeps returning `continue` cannot loop us forever.
const MAX_PAGES: usize = 100_000;

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
    pub fn from_node(node: &Node, policy: &AddressPolicy) -> Option<NodeTarget> {
        let name = node.metadata.name.clone()?;
        let status = node.status.as_ref();
        let reported = status.and_then(|s| s.addresses.as_deref()).unwrap_or_default();
        let mut addresses: Vec<String> = Vec::new();
        for wanted in &policy.types {
            for address in reported.iter().filter(|a| a.type_ == wanted.as_str()) {
                let value = address.address.trim();
                if !value.is_empty() && !addresses.iter().any(|a| a == value) {
                    addresses.push(value.to_string());
                }
            }
        }
        let reported_port = status
            .and_then(|s| s.daemon_endpoints.as_ref())
            .and_then(|d| d.kubelet_endpoint.as_ref())
            .and_then(|e| u16::try_from(e.port).ok())
            .filter(|port| *port != 0);
        let kubelet_version = status
            .and_then(|s| s.node_info.as_ref())
            .map(|info| info.kubelet_version.clone())
            .filter(|v| !v.is_empty());
        Some(NodeTarget {
            name,
            addresses,
            port: policy.port.or(reported_port).unwrap_or(DEFAULT_KUBELET_PORT),
            kubelet_version,
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
        NodeSelection::All { selector } => {
            let nodes = list_paged(client, api_host, selector.as_deref(), PAGE_SIZE, max_body).await?;
            Discovery {
                targets: nodes.iter().filter_map(|n| NodeTarget::from_node(n, policy)).collect(),
                unresolved: Vec::new(),
            }
        }
        NodeSelection::Names(names) => lookup(client, api_host, names, policy).await,
        NodeSelection::Addresses(addresses) => Discovery::from_addresses(addresses, policy),
        NodeSelection::Local { name, address: Some(ip) } => Discovery::local(name, *ip, policy),
        NodeSelection::Local { name, address: None } => {
            lookup(client, api_host, std::slice::from_ref(name), policy).await
        }
    })
}

/// Lists every node matching the selector, `page_size` nodes per request. Each page's body is
/// limited to `max_body` bytes as it arrives (`--max-body`), like a kubelet's: a server that
/// sends an endless list fails the run instead of filling memory.
pub async fn list_paged(
    client: &kube::Client,
    api_host: &str,
    selector: Option<&str>,
    page_size: u32,
    max_body: u64,
) -> Result<Vec<Node>, FetchError> {
    let mut nodes = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = list_params(selector, token.as_deref()).limit(page_size.max(1));
        let page = list_page(client, api_host, &params, max_body).await?;
        nodes.extend(page.items);
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    Ok(nodes)
}

/// One page of `GET /api/v1/nodes`, its body capped at `max_body` bytes.
async fn list_page(
    client: &kube::Client,
    api_host: &str,
    params: &ListParams,
    max_body: u64,
) -> Result<ObjectList<Node>, FetchError> {
    let request = kube::core::Request::new("/api/v1/nodes")
        .list(params)
        .map_err(|err| FetchError::Io { message: format!("cannot build the node list request: {err}") })?;
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .map_err(|err| FetchError::from_kube(&err, api_host))?;
    let body = crate::cluster::answer(response, api_host, max_body).await?.into_bytes().await?;
    serde_json::from_slice(&body).map_err(|err| FetchError::Parse {
        line: err.line(),
        message: format!("the node list is not a NodeList: {err}"),
    })
}

/// The list parameters for one page; pure.
pub fn list_params(selector: Option<&str>, continue_token: Option<&str>) -> ListParams {
    let mut params = ListParams::default().limit(PAGE_SIZE);
    if let Some(selector) = selector.filter(|s| !s.trim().is_empty()) {
        params = params.labels(selector);
    }
    if let Some(token) = continue_token {
        params = params.continue_token(token);
    }
    params
}

async fn lookup(
    client: &kube::Client,
    api_host: &str,
    names: &[String],
    policy: &AddressPolicy,
) -> Discovery {
    let api = Api::<Node>::all(client.clone());
    let results: Vec<(String, Result<Option<Node>, kube::Error>)> = stream::iter(names.iter().cloned())
        .map(|name| {
            let api = api.clone();
            async move {
                let found = api.get_opt(&name).await;
                (name, found)
            }
        })
        .buffer_unordered(LOOKUP_CONCURRENCY)
        .collect()
        .await;
    let mut discovery = Discovery::default();
    for (name, result) in results {
        match result {
            Ok(Some(node)) => match NodeTarget::from_node(&node, policy) {
                Some(target) => discovery.targets.push(target),
                None => discovery.unresolved.push((name, no_such_node())),
            },
            Ok(None) => discovery.unresolved.push((name, no_such_node())),
            Err(err) => discovery.unresolved.push((name, FetchError::from_kube(&err, api_host))),
        }
    }
    discovery
}

fn no_such_node() -> FetchError {
    FetchError::NotFound { message: "no such node".to_string() }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{
        DaemonEndpoint, NodeAddress, NodeDaemonEndpoints, NodeStatus, NodeSystemInfo,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn node(addresses: &[(&str, &str)], port: Option<i32>) -> Node {
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

    fn policy(types: &[AddressType], port: Option<u16>) -> AddressPolicy {
        AddressPolicy { types: types.to_vec(), port }
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
    fn list_params_page_and_select() {
        let params = list_params(Some("zone=a"), Some("abc"));
        assert_eq!(params.limit, Some(PAGE_SIZE));
        assert_eq!(params.label_selector.as_deref(), Some("zone=a"));
        assert_eq!(params.continue_token.as_deref(), Some("abc"));
        assert_eq!(list_params(Some(" "), None).label_selector, None);
    }
}
