//! How kubelets are reached: the access method, which node address the direct method uses, the
//! kubelet endpoints, and the shape of an RBAC permission. Pure values shared by `rbac`, `doctor`, `compare` and `cluster`; the
//! command line converts its flags into them once (`cli`).

/// How kubelets are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Through the API server: `/api/v1/nodes/{node}/proxy/{path}` with kubeconfig credentials.
    Proxy,
    /// Straight to each kubelet: `https://{address}:{port}/{path}` with a bearer token.
    Direct,
}

impl Method {
    /// Both methods, proxy first.
    pub const ALL: [Method; 2] = [Method::Proxy, Method::Direct];

    /// The lowercase name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Proxy => "proxy",
            Method::Direct => "direct",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a report's metrics came from: saved files, a cluster by one method, or Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// Saved payloads (`--file`).
    #[default]
    Files,
    /// A live cluster, read by this method.
    Cluster(Method),
    /// A Prometheus server's stored histograms (`--prometheus`).
    Prometheus,
}

impl Origin {
    /// `file`, `proxy`, `direct` or `prometheus`, as reports print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Files => "file",
            Origin::Cluster(method) => method.as_str(),
            Origin::Prometheus => "prometheus",
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Which node address the direct method connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressType {
    /// `status.addresses[type=InternalIP]`.
    InternalIp,
    /// `status.addresses[type=ExternalIP]`.
    ExternalIp,
    /// `status.addresses[type=Hostname]`.
    Hostname,
}

impl AddressType {
    /// Every type, in the default order of preference.
    pub const ALL: [AddressType; 3] =
        [AddressType::InternalIp, AddressType::ExternalIp, AddressType::Hostname];

    /// The Kubernetes spelling of the address type.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressType::InternalIp => "InternalIP",
            AddressType::ExternalIp => "ExternalIP",
            AddressType::Hostname => "Hostname",
        }
    }
}

/// A kubelet metrics endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/metrics`: the kubelet's own metrics.
    Metrics,
    /// `/metrics/cadvisor`: container metrics.
    Cadvisor,
    /// `/metrics/resource`: resource usage summary.
    Resource,
    /// `/metrics/probes`: probe results.
    Probes,
    /// `/metrics/slis`: the kubelet's healthcheck SLIs (`kubernetes_healthcheck`, GA in 1.29).
    Slis,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 5] =
        [Endpoint::Metrics, Endpoint::Cadvisor, Endpoint::Resource, Endpoint::Probes, Endpoint::Slis];

    /// The name used on the command line (`--endpoint`).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Metrics => "metrics",
            Endpoint::Cadvisor => "cadvisor",
            Endpoint::Resource => "resource",
            Endpoint::Probes => "probes",
            Endpoint::Slis => "slis",
        }
    }

    /// The kubelet path of this endpoint.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Metrics => "/metrics",
            Endpoint::Cadvisor => "/metrics/cadvisor",
            Endpoint::Resource => "/metrics/resource",
            Endpoint::Probes => "/metrics/probes",
            Endpoint::Slis => "/metrics/slis",
        }
    }
}

/// One RBAC permission on a core-group (`""`) resource, at the cluster scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    /// The verb: `get`, `list`, `create`, ...
    pub verb: &'static str,
    /// The resource, e.g. `nodes` or `pods`.
    pub resource: &'static str,
    /// The subresource, e.g. `metrics`, `proxy` or `exec`.
    pub subresource: Option<&'static str>,
}

impl Permission {
    /// The resource as RBAC rules spell it: `nodes` or `nodes/metrics`.
    pub fn resource_path(&self) -> String {
        match self.subresource {
            Some(sub) => format!("{}/{sub}", self.resource),
            None => self.resource.to_string(),
        }
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb, self.resource_path())
    }
}

/// Whether a kubelet path serves exposition text (`/metrics` and everything under it).
pub fn is_exposition_path(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    path == "/metrics" || path.starts_with("/metrics/")
}
