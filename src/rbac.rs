//! What each access method needs from Kubernetes RBAC, and the least-privilege manifests that
//! grant it. One source of truth: [`required`] is what `kubelet-metrics rbac` prints and what
//! `kubelet-metrics doctor` checks with SelfSubjectAccessReviews.
//!
//! Pure: builds text from values. Applying the manifests is left to `kubectl apply`; checking
//! what a caller may do is left to `cluster::checks`.
//!
//! The direct method (the default here) needs `get nodes/metrics` — the kubelet maps every
//! `/metrics*` path to that subresource — plus `list` and `get` on `nodes` to find the nodes.
//! The proxy method needs `get nodes/proxy` instead, which is far broader: through
//! `/api/v1/nodes/{node}/proxy/...` it reaches every kubelet API, including `/exec`, `/attach`,
//! `/portForward` and `/run` (a WebSocket upgrade is a GET), so it is printed only on request and
//! with [`PROXY_WARNING`].

use std::fmt;
use std::str::FromStr;

use crate::access::Method;

pub use crate::access::Permission;

/// `list nodes`: discover every node (names, addresses, kubelet ports, versions).
pub const LIST_NODES: Permission = Permission { verb: "list", resource: "nodes", subresource: None };
/// `get nodes`: look up nodes named on the command line.
pub const GET_NODES: Permission = Permission { verb: "get", resource: "nodes", subresource: None };
/// `get nodes/metrics`: the kubelet's `/metrics*` endpoints, read directly (direct method).
pub const GET_NODES_METRICS: Permission =
    Permission { verb: "get", resource: "nodes", subresource: Some("metrics") };
/// `get nodes/proxy`: every kubelet API through the API server (proxy method).
pub const GET_NODES_PROXY: Permission =
    Permission { verb: "get", resource: "nodes", subresource: Some("proxy") };
/// `list pods`: the pods' conditions and container states, for `kubelet-metrics pods` (granted
/// only on request: `rbac --with-pods`).
pub const LIST_PODS: Permission = Permission { verb: "list", resource: "pods", subresource: None };
/// `create pods/exec`: command execution in pods; no method needs it.
pub const CREATE_PODS_EXEC: Permission =
    Permission { verb: "create", resource: "pods", subresource: Some("exec") };

/// How `kubelet-metrics pods --cross-check` reads the kubelets: through the API server proxy,
/// whatever `--method` other commands use.
pub const CROSS_CHECK_METHOD: Method = Method::Proxy;

/// What `kubelet-metrics pods` needs: `list pods` in every namespace, and with `--cross-check`
/// what reading the kubelets through [`CROSS_CHECK_METHOD`] needs; `rbac --with-pods` grants
/// what its method covers and `doctor --pods` checks every one.
///
/// ```
/// use kubelet_metrics::rbac;
/// let needs: Vec<String> = rbac::pods_required(true).iter().map(ToString::to_string).collect();
/// assert_eq!(needs, ["list pods", "list nodes", "get nodes", "get nodes/proxy"]);
/// ```
pub fn pods_required(cross_check: bool) -> Vec<Permission> {
    let mut needs = vec![LIST_PODS];
    if cross_check {
        needs.extend_from_slice(required(CROSS_CHECK_METHOD));
    }
    needs
}

/// What `kubelet-metrics --method METHOD` needs, in the order `rbac` prints and `doctor` checks.
pub fn required(method: Method) -> &'static [Permission] {
    match method {
        Method::Direct => &[LIST_NODES, GET_NODES, GET_NODES_METRICS],
        Method::Proxy => &[LIST_NODES, GET_NODES, GET_NODES_PROXY],
    }
}

/// What `method` needs, as one phrase: `list nodes, get nodes, get nodes/metrics`.
///
/// ```
/// use kubelet_metrics::{access::Method, rbac};
/// assert_eq!(rbac::describe(Method::Direct), "list nodes, get nodes, get nodes/metrics");
/// ```
pub fn describe(method: Method) -> String {
    required(method).iter().map(Permission::to_string).collect::<Vec<_>>().join(", ")
}

/// What the manifests for `method` must not grant: least privilege, tested against kubesim.
pub fn denied(method: Method) -> &'static [Permission] {
    match method {
        Method::Direct => &[GET_NODES_PROXY, CREATE_PODS_EXEC],
        Method::Proxy => &[CREATE_PODS_EXEC],
    }
}

/// Every permission `doctor` asks about: what either method needs, without duplicates.
pub fn checked() -> Vec<Permission> {
    let mut all: Vec<Permission> = Vec::new();
    for permission in required(Method::Proxy).iter().chain(required(Method::Direct)) {
        if !all.contains(permission) {
            all.push(*permission);
        }
    }
    all
}

/// True for permissions only some invocations use: `get nodes` is needed only when nodes are
/// named on the command line (every other run lists them).
pub fn only_for_named_nodes(permission: &Permission) -> bool {
    *permission == GET_NODES
}

/// Why a resource is in the ClusterRole (a comment above its rule).
fn purpose(resource_path: &str) -> &'static str {
    match resource_path {
        "nodes" => {
            "Find nodes: names, addresses, kubelet ports and versions (list), and nodes named on the command line (get)."
        }
        "nodes/metrics" => {
            "Read the kubelet's /metrics, /metrics/cadvisor, /metrics/resource and /metrics/probes, directly on each node."
        }
        "nodes/proxy" => "Reach kubelets through the API server: /api/v1/nodes/{node}/proxy/metrics.",
        _ => "",
    }
}

/// The warning printed on stderr, and as a YAML comment, whenever `nodes/proxy` is granted.
pub const PROXY_WARNING: &str = "get nodes/proxy grants far more than metrics: through the API server it reaches every \
kubelet API, including /exec, /attach, /portForward and /run on every pod of every node (a WebSocket upgrade is a GET), \
i.e. command execution in any container. Prefer --method direct, which needs only get nodes/metrics.";

/// The comment on the `nodes/proxy` rule itself, so a copied rule keeps its warning.
const PROXY_RULE_WARNING: &str =
    "WARNING: this also grants /exec, /attach, /portForward and /run on every pod of every node.";

/// The image `--deployment` runs unless `--image` says otherwise.
pub const DEFAULT_IMAGE: &str =
    concat!("ghcr.io/kubelet-metrics/kubelet-metrics:", env!("CARGO_PKG_VERSION"));

/// The port `serve` listens on in the generated Deployment.
pub const SERVE_PORT: u16 = 9153;

/// A service account, `NAMESPACE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountRef {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl Default for ServiceAccountRef {
    fn default() -> Self {
        ServiceAccountRef { namespace: "monitoring".into(), name: "kubelet-metrics".into() }
    }
}

impl fmt::Display for ServiceAccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A `--service-account` value that is not `NAMESPACE/NAME` of valid Kubernetes names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid service account {input:?}: {reason}")]
pub struct ServiceAccountError {
    input: String,
    reason: String,
}

impl FromStr for ServiceAccountRef {
    type Err = ServiceAccountError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: &str| ServiceAccountError { input: input.into(), reason: reason.into() };
        let (namespace, name) = input.split_once('/').ok_or_else(|| fail("expected NAMESPACE/NAME"))?;
        if !is_dns_label(namespace) {
            return Err(fail(
                "the namespace must be a DNS label: lowercase letters, digits and '-', at most 63",
            ));
        }
        if !is_dns_subdomain(name) {
            return Err(fail("the name must be lowercase letters, digits, '-' and '.', at most 253"));
        }
        Ok(ServiceAccountRef { namespace: namespace.into(), name: name.into() })
    }
}

fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

fn is_dns_subdomain(text: &str) -> bool {
    !text.is_empty() && text.len() <= 253 && text.split('.').all(is_dns_label)
}

/// Who the ClusterRoleBinding grants the role to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A service account (the ServiceAccount object is generated too).
    ServiceAccount(ServiceAccountRef),
    /// A user as the API server authenticates it, e.g. `alice@example.com` or `viewer`.
    User(String),
}

impl Subject {
    /// The subject a Kubernetes user name stands for: `system:serviceaccount:NS:NAME` is a
    /// service account, anything else a user.
    pub fn from_username(username: &str) -> Subject {
        if let Some(rest) = username.strip_prefix("system:serviceaccount:")
            && let Some((namespace, name)) = rest.split_once(':')
        {
            return Subject::ServiceAccount(ServiceAccountRef {
                namespace: namespace.into(),
                name: name.into(),
            });
        }
        Subject::User(username.into())
    }

    /// The `kubectl create clusterrolebinding` flag naming this subject.
    pub fn kubectl_flag(&self) -> String {
        match self {
            Subject::ServiceAccount(sa) => format!("--serviceaccount={}:{}", sa.namespace, sa.name),
            Subject::User(user) => format!("--user={}", shell_word(user)),
        }
    }

    /// The `kubelet-metrics rbac` flag naming this subject.
    pub fn rbac_flag(&self) -> String {
        match self {
            Subject::ServiceAccount(sa) => format!("--service-account {sa}"),
            Subject::User(user) => format!("--user {}", shell_word(user)),
        }
    }

    /// The subject in an object name: `monitoring-kubelet-metrics`, or the user name made safe.
    pub fn slug(&self) -> String {
        let raw = match self {
            Subject::ServiceAccount(sa) => format!("{}-{}", sa.namespace, sa.name),
            Subject::User(user) => user.clone(),
        };
        let mut slug: String =
            raw.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
        slug = slug.trim_matches('-').to_string();
        if slug.is_empty() { "subject".into() } else { slug }
    }
}

/// Quotes a word for a POSIX shell when it holds anything but safe characters.
fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@' | '/' | '='));
    if safe { word.to_string() } else { format!("'{}'", word.replace('\'', "'\\''")) }
}

/// Which workload runs `kubelet-metrics serve` as the service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// One pod reading every node (`--deployment`).
    Deployment,
    /// One pod per node, each reading only its own kubelet (`--daemonset`, `serve --node-local`).
    DaemonSet,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRequest {
    /// Which method's permissions to grant.
    pub method: Method,
    /// Who gets them.
    pub subject: Subject,
    /// Add a workload running `kubelet-metrics serve` with the service account (a service
    /// account subject only), with its image; a Service and a ServiceMonitor come with it.
    pub workload: Option<(Workload, String)>,
    /// Add a NetworkPolicy: the workload's pods may reach only the kubelet port and the API
    /// server, and only Prometheus may reach their `/metrics`.
    pub network_policy: bool,
    /// Also grant `list pods`, for `kubelet-metrics pods`.
    pub with_pods: bool,
}

impl ManifestRequest {
    /// The permissions the manifests grant: a DaemonSet reads only `nodes/metrics` of its own
    /// node at the host IP the downward API gives it, so it needs neither `list` nor `get nodes`.
    pub fn granted(&self) -> Vec<Permission> {
        let mut granted = match self.workload {
            Some((Workload::DaemonSet, _)) => NODE_LOCAL.to_vec(),
            _ => required(self.method).to_vec(),
        };
        if self.with_pods {
            for permission in pods_required(false) {
                if !granted.contains(&permission) {
                    granted.push(permission);
                }
            }
        }
        granted
    }

    /// What `pods --cross-check` would still miss with these manifests (with `--with-pods`).
    pub fn cross_check_missing(&self) -> Vec<Permission> {
        if !self.with_pods {
            return Vec::new();
        }
        let granted = self.granted();
        pods_required(true).into_iter().filter(|p| !granted.contains(p)).collect()
    }

    /// The ClusterRole's name: `kubelet-metrics-direct`, `kubelet-metrics-proxy` or
    /// `kubelet-metrics-node-local`.
    pub fn role_name(&self) -> String {
        match self.workload {
            Some((Workload::DaemonSet, _)) => "kubelet-metrics-node-local".to_string(),
            _ => role_name(self.method),
        }
    }
}

/// What `serve --node-local` needs when the downward API gives it its host IP: `get
/// nodes/metrics` only. Without `HOST_IP` it also reads its node object (`get nodes`), which RBAC
/// cannot limit to the pod's own node: `resourceNames` are fixed names, not "this node".
pub const NODE_LOCAL: &[Permission] = &[GET_NODES_METRICS];

/// The ClusterRole's name for a method: `kubelet-metrics-direct` or `kubelet-metrics-proxy`.
pub fn role_name(method: Method) -> String {
    format!("kubelet-metrics-{}", method.as_str())
}

/// The ClusterRoleBinding's name: the role's name and the subject, e.g.
/// `kubelet-metrics-direct-monitoring-kubelet-metrics`.
pub fn binding_name(method: Method, subject: &Subject) -> String {
    format!("{}-{}", role_name(method), subject.slug())
}

/// The `kubelet-metrics rbac ...` invocation that prints the manifests granting `method` to
/// `subject`, piped into `kubectl apply`.
pub fn rbac_command(method: Method, subject: &Subject) -> String {
    format!("kubelet-metrics rbac --method {} {} | kubectl apply -f -", method.as_str(), subject.rbac_flag())
}

/// The equivalent `kubectl create` lines: a ClusterRole with every required verb on every
/// required resource (kubectl puts them in one rule), then its binding.
pub fn kubectl_commands(method: Method, subject: &Subject) -> Vec<String> {
    let mut verbs: Vec<&str> = Vec::new();
    let mut resources: Vec<String> = Vec::new();
    for permission in required(method) {
        if !verbs.contains(&permission.verb) {
            verbs.push(permission.verb);
        }
        let path = permission.resource_path();
        if !resources.contains(&path) {
            resources.push(path);
        }
    }
    verbs.sort_unstable();
    let role = role_name(method);
    vec![
        format!(
            "kubectl create clusterrole {role} --verb={} --resource={}",
            verbs.join(","),
            resources.join(",")
        ),
        format!(
            "kubectl create clusterrolebinding {} --clusterrole={role} {}",
            binding_name(method, subject),
            subject.kubectl_flag()
        ),
    ]
}

/// The rules of the ClusterRole: one per resource, verbs in the order `permissions` lists them.
fn rules(permissions: &[Permission]) -> Vec<(String, Vec<&'static str>)> {
    let mut rules: Vec<(String, Vec<&'static str>)> = Vec::new();
    for permission in permissions {
        let path = permission.resource_path();
        match rules.iter_mut().find(|(resource, _)| *resource == path) {
            Some((_, verbs)) => verbs.push(permission.verb),
            None => rules.push((path, vec![permission.verb])),
        }
    }
    rules
}

/// A YAML scalar: plain when it cannot be misread, double-quoted otherwise.
fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/' | '_'))
        && !matches!(text, "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n")
        && text.parse::<f64>().is_err();
    if plain { text.to_string() } else { serde_json::Value::String(text.to_string()).to_string() }
}

/// Writes `text` as `#` comment lines, wrapped at about 100 columns.
fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 100 && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// The `kubelet-metrics rbac ...` invocation that prints these manifests.
fn invocation(request: &ManifestRequest) -> String {
    let mut text =
        format!("kubelet-metrics rbac --method {} {}", request.method.as_str(), request.subject.rbac_flag());
    if request.with_pods {
        text.push_str(" --with-pods");
    }
    if let Some((workload, image)) = &request.workload {
        text.push_str(match workload {
            Workload::Deployment => " --deployment",
            Workload::DaemonSet => " --daemonset",
        });
        if image != DEFAULT_IMAGE {
            text.push_str(&format!(" --image {}", shell_word(image)));
        }
    }
    if request.network_policy {
        text.push_str(" --network-policy");
    }
    text
}

/// The manifests as YAML documents: ServiceAccount (for a service account), ClusterRole,
/// ClusterRoleBinding, and when asked for the workload running `serve` with its Service and
/// ServiceMonitor, and a NetworkPolicy.
pub fn manifests(request: &ManifestRequest) -> String {
    let method = request.method;
    let role = request.role_name();
    let mut out = String::new();

    let needs: Vec<String> = request.granted().iter().map(Permission::to_string).collect();
    out.push_str(&format!("# Generated by: {}\n", invocation(request)));
    match request.workload {
        Some((Workload::DaemonSet, _)) => comment(
            &mut out,
            &format!(
                "Least privilege for `kubelet-metrics serve --node-local` (one pod per node, each reading its own \
                 kubelet directly): {}.",
                needs.join(", ")
            ),
        ),
        _ => comment(
            &mut out,
            &format!(
                "Least privilege for `kubelet-metrics --method {}`: {}.",
                method.as_str(),
                needs.join(", ")
            ),
        ),
    }
    let missing: Vec<String> = request.cross_check_missing().iter().map(Permission::to_string).collect();
    if !missing.is_empty() {
        comment(
            &mut out,
            &format!(
                "`kubelet-metrics pods --cross-check` reads the kubelets through the API server proxy and also \
                 needs {}, which these manifests do not grant (`--method {} --with-pods` does).",
                missing.join(", "),
                CROSS_CHECK_METHOD.as_str()
            ),
        );
    }
    if method == Method::Proxy {
        comment(&mut out, &format!("WARNING: {PROXY_WARNING}"));
    }
    if let Subject::ServiceAccount(sa) = &request.subject {
        comment(&mut out, &format!("The namespace must exist: kubectl create namespace {}", sa.namespace));
    }
    if let (Some(_), Method::Direct, Subject::ServiceAccount(sa)) =
        (&request.workload, method, &request.subject)
    {
        comment(
            &mut out,
            &format!(
                "Kubelet serving certificates are verified against the CA in the ConfigMap {KUBELET_CA_CONFIGMAP} \
                 (key ca.crt), which must exist: kubectl -n {} create configmap {KUBELET_CA_CONFIGMAP} \
                 --from-file=ca.crt=PATH-TO-KUBELET-CA. Kubelets with serverTLSBootstrap are signed by the \
                 cluster CA, the ca.crt of the kube-root-ca.crt ConfigMap.",
                sa.namespace
            ),
        );
    }
    if request.workload.is_some() {
        comment(
            &mut out,
            "The ServiceMonitor needs the Prometheus Operator's CRDs; without them, drop that document and \
             scrape the Service's endpoints.",
        );
    }
    out.push_str("# Apply with: ... | kubectl apply -f -\n");

    if let Subject::ServiceAccount(sa) = &request.subject {
        out.push_str("---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n");
        out.push_str(&format!("  name: {}\n  namespace: {}\n", sa.name, sa.namespace));
        out.push_str("  labels:\n    app.kubernetes.io/name: kubelet-metrics\n");
    }

    out.push_str("---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n");
    out.push_str(&format!("  name: {role}\n"));
    out.push_str("  labels:\n    app.kubernetes.io/name: kubelet-metrics\nrules:\n");
    if matches!(request.workload, Some((Workload::DaemonSet, _))) {
        let mut note = String::new();
        comment(
            &mut note,
            "No list or get on nodes: each pod is told its node's name and address by the downward API \
             (NODE_NAME, HOST_IP), and RBAC cannot limit get to a pod's own node.",
        );
        for line in note.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    for (resource, verbs) in rules(&request.granted()) {
        let mut note = String::new();
        comment(&mut note, purpose(&resource));
        if resource == GET_NODES_PROXY.resource_path() {
            comment(&mut note, PROXY_RULE_WARNING);
        }
        for line in note.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str("  - apiGroups:\n      - \"\"\n    resources:\n");
        out.push_str(&format!("      - {}\n    verbs:\n", yaml_scalar(&resource)));
        for verb in verbs {
            out.push_str(&format!("      - {verb}\n"));
        }
    }

    out.push_str("---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n");
    let binding = match request.workload {
        Some((Workload::DaemonSet, _)) => format!("{role}-{}", request.subject.slug()),
        _ => binding_name(method, &request.subject),
    };
    out.push_str(&format!("  name: {binding}\n"));
    out.push_str("  labels:\n    app.kubernetes.io/name: kubelet-metrics\n");
    out.push_str("roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n");
    out.push_str(&format!("  name: {role}\nsubjects:\n"));
    match &request.subject {
        Subject::ServiceAccount(sa) => {
            out.push_str("  - kind: ServiceAccount\n");
            out.push_str(&format!("    name: {}\n    namespace: {}\n", sa.name, sa.namespace));
        }
        Subject::User(user) => {
            out.push_str("  - apiGroup: rbac.authorization.k8s.io\n    kind: User\n");
            out.push_str(&format!("    name: {}\n", yaml_scalar(user)));
        }
    }

    if let (Some((workload, image)), Subject::ServiceAccount(sa)) = (&request.workload, &request.subject) {
        out.push_str(&workload_manifest(*workload, method, sa, image));
        out.push_str(&service(*workload, sa));
        out.push_str(&service_monitor(*workload, sa));
        if request.network_policy {
            out.push_str(&network_policy(*workload, method, sa));
        }
    }
    out
}

/// The ConfigMap holding the kubelets' CA (key `ca.crt`) that the workloads mount.
pub const KUBELET_CA_CONFIGMAP: &str = "kubelet-metrics-kubelet-ca";

/// Where the workloads mount [`KUBELET_CA_CONFIGMAP`].
const KUBELET_CA_DIR: &str = "/etc/kubelet-metrics/kubelet-ca";

/// The kubelet's HTTPS port, which the NetworkPolicy opens.
const KUBELET_PORT: u16 = 10250;

/// `app.kubernetes.io/component` of each workload, so both can run side by side.
fn component(workload: Workload) -> &'static str {
    match workload {
        Workload::Deployment => "cluster",
        Workload::DaemonSet => "node-local",
    }
}

/// The name of each workload's objects.
fn workload_name(workload: Workload) -> String {
    match workload {
        Workload::Deployment => "kubelet-metrics".to_string(),
        Workload::DaemonSet => "kubelet-metrics-node".to_string(),
    }
}

fn labels(indent: usize, workload: Workload) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{pad}app.kubernetes.io/name: kubelet-metrics\n{pad}app.kubernetes.io/component: {}\n",
        component(workload)
    )
}

/// A hardened workload running `kubelet-metrics serve` as the service account: non-root,
/// read-only root filesystem, no capabilities, resource requests, the kubelet CA mounted (direct
/// method), and probes on `serve`'s `/readyz` (a collection finished) and `/healthz`. The
/// DaemonSet tolerates every taint, so every node is read, and learns its node from the
/// downward API.
fn workload_manifest(workload: Workload, method: Method, sa: &ServiceAccountRef, image: &str) -> String {
    let mut out = String::new();
    out.push_str("---\n");
    let (kind, what) = match workload {
        Workload::Deployment => {
            ("Deployment", "Runs `kubelet-metrics serve`, reading every node, and exposes kubelet histograms")
        }
        Workload::DaemonSet => (
            "DaemonSet",
            "Runs `kubelet-metrics serve --node-local` on every node (every taint tolerated), each pod reading only \
             its own kubelet, and exposes its histograms",
        ),
    };
    comment(&mut out, &format!("{what} and collection health on /metrics for Prometheus."));
    out.push_str(&format!(
        "apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {}\n",
        workload_name(workload)
    ));
    out.push_str(&format!("  namespace: {}\n", sa.namespace));
    out.push_str(&format!("  labels:\n{}", labels(4, workload)));
    out.push_str("spec:\n");
    match workload {
        Workload::Deployment => out.push_str("  replicas: 1\n"),
        Workload::DaemonSet => out.push_str(
            "  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxUnavailable: 10%\n",
        ),
    }
    out.push_str(&format!("  selector:\n    matchLabels:\n{}", labels(6, workload)));
    out.push_str(&format!("  template:\n    metadata:\n      labels:\n{}", labels(8, workload)));
    out.push_str("    spec:\n");
    out.push_str(&format!("      serviceAccountName: {}\n", sa.name));
    out.push_str(
        "      securityContext:\n        runAsNonRoot: true\n        runAsUser: 65532\n        runAsGroup: 65532\n        \
         seccompProfile:\n          type: RuntimeDefault\n",
    );
    if workload == Workload::DaemonSet {
        out.push_str("      tolerations:\n        - operator: Exists\n");
    }
    out.push_str("      containers:\n        - name: kubelet-metrics\n");
    out.push_str(&format!("          image: {}\n", yaml_scalar(image)));
    out.push_str("          args:\n            - serve\n");
    match workload {
        Workload::Deployment => out.push_str(&format!("            - --method={}\n", method.as_str())),
        Workload::DaemonSet => out.push_str("            - --node-local\n"),
    }
    if method == Method::Direct {
        out.push_str(&format!("            - --kubelet-ca={KUBELET_CA_DIR}/ca.crt\n"));
    }
    out.push_str(&format!("            - --listen=0.0.0.0:{SERVE_PORT}\n"));
    out.push_str("            - --interval=60s\n");
    if workload == Workload::DaemonSet {
        out.push_str(
            "          env:\n            - name: NODE_NAME\n              valueFrom:\n                fieldRef:\n                  \
             fieldPath: spec.nodeName\n            - name: HOST_IP\n              valueFrom:\n                fieldRef:\n                  \
             fieldPath: status.hostIP\n",
        );
    }
    out.push_str(&format!(
        "          ports:\n            - name: metrics\n              containerPort: {SERVE_PORT}\n"
    ));
    out.push_str(
        "          readinessProbe:\n            httpGet:\n              path: /readyz\n              port: metrics\n            \
         periodSeconds: 30\n",
    );
    out.push_str(
        "          livenessProbe:\n            httpGet:\n              path: /healthz\n              port: metrics\n            \
         periodSeconds: 30\n",
    );
    match workload {
        Workload::Deployment => out.push_str(
            "          resources:\n            requests:\n              cpu: 50m\n              memory: 64Mi\n            \
             limits:\n              memory: 256Mi\n",
        ),
        Workload::DaemonSet => out.push_str(
            "          resources:\n            requests:\n              cpu: 5m\n              memory: 24Mi\n            \
             limits:\n              memory: 64Mi\n",
        ),
    }
    out.push_str(
        "          securityContext:\n            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n            \
         capabilities:\n              drop:\n                - ALL\n",
    );
    if method == Method::Direct {
        out.push_str(&format!(
            "          volumeMounts:\n            - name: kubelet-ca\n              mountPath: {KUBELET_CA_DIR}\n              \
             readOnly: true\n      volumes:\n        - name: kubelet-ca\n          configMap:\n            \
             name: {KUBELET_CA_CONFIGMAP}\n"
        ));
    }
    out
}

/// The Service in front of the workload's pods, for Prometheus to find them.
fn service(workload: Workload, sa: &ServiceAccountRef) -> String {
    let mut out = String::from("---\napiVersion: v1\nkind: Service\nmetadata:\n");
    out.push_str(&format!("  name: {}\n  namespace: {}\n", workload_name(workload), sa.namespace));
    out.push_str(&format!("  labels:\n{}", labels(4, workload)));
    out.push_str("spec:\n");
    if workload == Workload::DaemonSet {
        // Every pod is its own target: no virtual IP to balance over.
        out.push_str("  clusterIP: None\n");
    }
    out.push_str(&format!("  selector:\n{}", labels(4, workload)));
    out.push_str(&format!(
        "  ports:\n    - name: metrics\n      port: {SERVE_PORT}\n      targetPort: metrics\n      protocol: TCP\n"
    ));
    out
}

/// The Prometheus Operator's ServiceMonitor scraping every pod behind the Service. Our own
/// `node` label is kept (`honorLabels`), so PromQL aggregates by the kubelet's node, not by the
/// pod that read it.
fn service_monitor(workload: Workload, sa: &ServiceAccountRef) -> String {
    let mut out =
        String::from("---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n");
    out.push_str(&format!("  name: {}\n  namespace: {}\n", workload_name(workload), sa.namespace));
    out.push_str(&format!("  labels:\n{}", labels(4, workload)));
    out.push_str(&format!("spec:\n  selector:\n    matchLabels:\n{}", labels(6, workload)));
    out.push_str("  endpoints:\n    - port: metrics\n      path: /metrics\n      interval: 60s\n      honorLabels: true\n");
    out
}

/// A NetworkPolicy for the workload's pods: in, only Prometheus on the metrics port; out, only
/// the kubelet port (direct method) and the API server. NetworkPolicy cannot select nodes (the
/// kubelet and the API server's endpoints are host addresses, outside pod selectors), so egress
/// is limited by port.
fn network_policy(workload: Workload, method: Method, sa: &ServiceAccountRef) -> String {
    let mut out = String::from("---\n");
    let api_server = workload == Workload::Deployment || method == Method::Proxy;
    let egress = match (method == Method::Direct, api_server) {
        (true, true) => {
            "the kubelet port and the API server (443 through the kubernetes Service, 6443 at its \
                         endpoints)"
        }
        (true, false) => "the kubelet port: with HOST_IP from the downward API no API server is needed",
        (false, _) => "the API server (443 through the kubernetes Service, 6443 at its endpoints)",
    };
    comment(
        &mut out,
        &format!(
            "Only pods labelled app.kubernetes.io/name=prometheus (any namespace) may scrape /metrics; adjust \
             the from selector to your Prometheus. Out, only {egress}. No DNS is needed: the in-cluster client \
             uses the service IP."
        ),
    );
    out.push_str("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n");
    out.push_str(&format!("  name: {}\n  namespace: {}\n", workload_name(workload), sa.namespace));
    out.push_str(&format!("  labels:\n{}", labels(4, workload)));
    out.push_str(&format!("spec:\n  podSelector:\n    matchLabels:\n{}", labels(6, workload)));
    out.push_str("  policyTypes:\n    - Ingress\n    - Egress\n");
    out.push_str(
        "  ingress:\n    - from:\n        - namespaceSelector: {}\n          podSelector:\n            matchLabels:\n              \
         app.kubernetes.io/name: prometheus\n",
    );
    out.push_str(&format!("      ports:\n        - protocol: TCP\n          port: {SERVE_PORT}\n"));
    out.push_str("  egress:\n");
    if method == Method::Direct {
        out.push_str(&format!("    - ports:\n        - protocol: TCP\n          port: {KUBELET_PORT}\n"));
    }
    if api_server {
        out.push_str("    - ports:\n        - protocol: TCP\n          port: 443\n        - protocol: TCP\n          port: 6443\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct_default() -> ManifestRequest {
        ManifestRequest {
            method: Method::Direct,
            subject: Subject::ServiceAccount(ServiceAccountRef::default()),
            workload: None,
            network_policy: false,
            with_pods: false,
        }
    }

    #[test]
    fn the_cross_check_needs_are_granted_by_proxy_and_named_by_direct() {
        let proxy = ManifestRequest { method: Method::Proxy, with_pods: true, ..direct_default() };
        assert!(proxy.cross_check_missing().is_empty());
        assert!(pods_required(true).iter().all(|p| proxy.granted().contains(p)));
        let direct = ManifestRequest { with_pods: true, ..direct_default() };
        assert_eq!(direct.cross_check_missing(), [GET_NODES_PROXY]);
        assert!(!direct.granted().contains(&GET_NODES_PROXY), "least privilege: never granted unasked");
        let yaml = manifests(&direct);
        assert!(yaml.contains("needs get nodes/proxy, which these manifests do not grant"), "{yaml}");
        assert!(!manifests(&direct_default()).contains("--cross-check"));
    }

    #[test]
    fn list_pods_is_granted_only_when_asked() {
        assert!(!manifests(&direct_default()).contains("pods"));
        let yaml = manifests(&ManifestRequest { with_pods: true, ..direct_default() });
        assert!(yaml.contains("# Generated by: kubelet-metrics rbac --method direct --service-account monitoring/kubelet-metrics --with-pods"), "{yaml}");
        assert!(yaml.contains("      - pods\n    verbs:\n      - list\n"), "{yaml}");
        assert!(!yaml.contains("- watch") && !yaml.contains("pods/"), "{yaml}");
    }

    #[test]
    fn direct_needs_metrics_and_node_discovery_only() {
        let needs: Vec<String> = required(Method::Direct).iter().map(Permission::to_string).collect();
        assert_eq!(needs, ["list nodes", "get nodes", "get nodes/metrics"]);
        let needs: Vec<String> = required(Method::Proxy).iter().map(Permission::to_string).collect();
        assert_eq!(needs, ["list nodes", "get nodes", "get nodes/proxy"]);
        let checked: Vec<String> = checked().iter().map(Permission::to_string).collect();
        assert_eq!(checked, ["list nodes", "get nodes", "get nodes/proxy", "get nodes/metrics"]);
    }

    #[test]
    fn no_method_requires_what_it_must_deny() {
        for method in [Method::Direct, Method::Proxy] {
            assert!(denied(method).iter().all(|p| !required(method).contains(p)), "{method:?}");
        }
    }

    #[test]
    fn direct_manifests_are_exact() {
        insta::assert_snapshot!("direct_service_account", manifests(&direct_default()));
    }

    #[test]
    fn proxy_manifests_warn_in_a_comment_and_bind_a_user() {
        let request = ManifestRequest {
            method: Method::Proxy,
            subject: Subject::User("alice@example.com".into()),
            workload: None,
            network_policy: false,
            with_pods: false,
        };
        let yaml = manifests(&request);
        assert!(yaml.contains("# WARNING: get nodes/proxy grants far more than metrics"), "{yaml}");
        insta::assert_snapshot!("proxy_user", yaml);
    }

    #[test]
    fn deployment_is_hardened_and_runs_serve_as_the_account() {
        let request = ManifestRequest {
            workload: Some((Workload::Deployment, "registry.example/kubelet-metrics:1.2".into())),
            subject: Subject::ServiceAccount("ops/scraper".parse().expect("valid")),
            ..direct_default()
        };
        let yaml = manifests(&request);
        insta::assert_snapshot!("direct_deployment", yaml);
        assert_eq!(
            yaml.matches("\n---\n").count(),
            6,
            "ServiceAccount, ClusterRole, binding, Deployment, Service, ServiceMonitor"
        );
    }

    #[test]
    fn fixes_name_the_subject_exactly() {
        let sa = Subject::from_username("system:serviceaccount:monitoring:kubelet-metrics");
        assert_eq!(
            rbac_command(Method::Direct, &sa),
            "kubelet-metrics rbac --method direct --service-account monitoring/kubelet-metrics | kubectl apply -f -"
        );
        assert_eq!(
            kubectl_commands(Method::Direct, &sa),
            [
                "kubectl create clusterrole kubelet-metrics-direct --verb=get,list --resource=nodes,nodes/metrics",
                "kubectl create clusterrolebinding kubelet-metrics-direct-monitoring-kubelet-metrics \
                 --clusterrole=kubelet-metrics-direct --serviceaccount=monitoring:kubelet-metrics",
            ]
        );
        let user = Subject::from_username("system:node admin");
        assert_eq!(
            rbac_command(Method::Proxy, &user),
            "kubelet-metrics rbac --method proxy --user 'system:node admin' | kubectl apply -f -"
        );
        assert_eq!(
            kubectl_commands(Method::Proxy, &user)[1],
            "kubectl create clusterrolebinding kubelet-metrics-proxy-system-node-admin \
             --clusterrole=kubelet-metrics-proxy --user='system:node admin'"
        );
    }

    #[test]
    fn service_accounts_parse_and_reject_bad_names() {
        assert_eq!(
            "ops/scraper.v2".parse::<ServiceAccountRef>(),
            Ok(ServiceAccountRef { namespace: "ops".into(), name: "scraper.v2".into() })
        );
        for bad in ["scraper", "Ops/scraper", "ops/", "/x", "ops/a_b", "-ops/x"] {
            assert!(bad.parse::<ServiceAccountRef>().is_err(), "{bad}");
        }
    }

    fn daemonset(network_policy: bool) -> ManifestRequest {
        ManifestRequest {
            workload: Some((Workload::DaemonSet, DEFAULT_IMAGE.into())),
            network_policy,
            ..direct_default()
        }
    }

    #[test]
    fn daemonset_grants_only_nodes_metrics_and_runs_on_every_node() {
        let yaml = manifests(&daemonset(false));
        let request = daemonset(false);
        assert_eq!(request.granted(), [GET_NODES_METRICS]);
        assert_eq!(request.role_name(), "kubelet-metrics-node-local");
        for needed in [
            "kind: DaemonSet",
            "- --node-local",
            "tolerations:\n        - operator: Exists\n",
            "fieldPath: spec.nodeName",
            "fieldPath: status.hostIP",
            "runAsNonRoot: true",
            "readOnlyRootFilesystem: true",
            "requests:",
            "kind: Service\n",
            "clusterIP: None",
            "kind: ServiceMonitor",
            "--kubelet-ca=/etc/kubelet-metrics/kubelet-ca/ca.crt",
        ] {
            assert!(yaml.contains(needed), "{needed}:\n{yaml}");
        }
        assert!(
            !yaml.contains("- list") && !yaml.contains("nodes/proxy") && !yaml.contains("NetworkPolicy"),
            "{yaml}"
        );
        insta::assert_snapshot!("daemonset", yaml);
    }

    #[test]
    fn network_policies_open_only_what_each_workload_reaches() {
        let policy = |yaml: &str| yaml[yaml.find("kind: NetworkPolicy").expect("a policy")..].to_string();
        let node_local = policy(&manifests(&daemonset(true)));
        assert!(node_local.contains("port: 10250") && !node_local.contains("port: 443"), "{node_local}");
        assert!(node_local.contains("app.kubernetes.io/name: prometheus"), "{node_local}");
        let direct = ManifestRequest {
            workload: Some((Workload::Deployment, DEFAULT_IMAGE.into())),
            network_policy: true,
            ..direct_default()
        };
        let direct = policy(&manifests(&direct));
        assert!(direct.contains("port: 10250") && direct.contains("port: 443"), "{direct}");
        let proxy = ManifestRequest {
            method: Method::Proxy,
            workload: Some((Workload::Deployment, DEFAULT_IMAGE.into())),
            network_policy: true,
            ..direct_default()
        };
        let proxy = policy(&manifests(&proxy));
        assert!(!proxy.contains("port: 10250") && proxy.contains("port: 6443"), "{proxy}");
        insta::assert_snapshot!("daemonset_network_policy", node_local);
    }
}
