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
        "pods" => {
            "List pods in every namespace for `kubelet-metrics pods`: names, labels, owners, conditions and container states (no logs, no exec)."
        }
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

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRequest {
    /// Which method's permissions to grant.
    pub method: Method,
    /// Who gets them.
    pub subject: Subject,
    /// Add a Deployment running `kubelet-metrics serve` with the service account, using this image.
    pub deployment_image: Option<String>,
    /// Also grant `list pods`, for `kubelet-metrics pods`.
    pub with_pods: bool,
}

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

/// The rules of the ClusterRole: one per resource, verbs in the order `required` lists them,
/// then `list pods` when asked for.
fn rules(method: Method, with_pods: bool) -> Vec<(String, Vec<&'static str>)> {
    let mut rules: Vec<(String, Vec<&'static str>)> = Vec::new();
    let pods = [LIST_PODS];
    let extra: &[Permission] = if with_pods { &pods } else { &[] };
    for permission in required(method).iter().chain(extra) {
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

/// The manifests as YAML documents: ServiceAccount (for a service account), ClusterRole,
/// ClusterRoleBinding, and the Deployment when asked for.
pub fn manifests(request: &ManifestRequest) -> String {
    let method = request.method;
    let role = role_name(method);
    let mut out = String::new();

    let invocation = {
        let mut text =
            format!("kubelet-metrics rbac --method {} {}", method.as_str(), request.subject.rbac_flag());
        if request.with_pods {
            text.push_str(" --with-pods");
        }
        if let Some(image) = &request.deployment_image {
            text.push_str(" --deployment");
            if image != DEFAULT_IMAGE {
                text.push_str(&format!(" --image {}", shell_word(image)));
            }
        }
        text
    };
    let mut needs: Vec<String> = required(method).iter().map(Permission::to_string).collect();
    if request.with_pods {
        needs.push(format!("{LIST_PODS} (for `kubelet-metrics pods`)"));
    }
    out.push_str(&format!("# Generated by: {invocation}\n"));
    comment(
        &mut out,
        &format!("Least privilege for `kubelet-metrics --method {}`: {}.", method.as_str(), needs.join(", ")),
    );
    if method == Method::Proxy {
        comment(&mut out, &format!("WARNING: {PROXY_WARNING}"));
    }
    if let Subject::ServiceAccount(sa) = &request.subject {
        comment(&mut out, &format!("The namespace must exist: kubectl create namespace {}", sa.namespace));
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
    for (resource, verbs) in rules(method, request.with_pods) {
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
    out.push_str(&format!("  name: {}\n", binding_name(method, &request.subject)));
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

    if let (Some(image), Subject::ServiceAccount(sa)) = (&request.deployment_image, &request.subject) {
        out.push_str(&deployment(method, sa, image));
    }
    out
}

/// A hardened Deployment running `kubelet-metrics serve` as the service account: non-root,
/// read-only root filesystem, no capabilities, resource requests, and probes on `serve`'s
/// `/readyz` (a collection finished) and `/healthz`.
fn deployment(method: Method, sa: &ServiceAccountRef, image: &str) -> String {
    let mut out = String::new();
    out.push_str("---\n");
    comment(
        &mut out,
        "Runs `kubelet-metrics serve` and exposes aggregated kubelet histograms and collection health on \
         /metrics for Prometheus. Kubelet serving certificates are verified: if yours are signed by their \
         own CA, mount it and add --kubelet-ca=PATH.",
    );
    out.push_str("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kubelet-metrics\n");
    out.push_str(&format!("  namespace: {}\n", sa.namespace));
    out.push_str("  labels:\n    app.kubernetes.io/name: kubelet-metrics\n");
    out.push_str("spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: kubelet-metrics\n");
    out.push_str(
        "  template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: kubelet-metrics\n",
    );
    out.push_str("    spec:\n");
    out.push_str(&format!("      serviceAccountName: {}\n", sa.name));
    out.push_str(
        "      securityContext:\n        runAsNonRoot: true\n        runAsUser: 65532\n        runAsGroup: 65532\n        \
         seccompProfile:\n          type: RuntimeDefault\n",
    );
    out.push_str("      containers:\n        - name: kubelet-metrics\n");
    out.push_str(&format!("          image: {}\n", yaml_scalar(image)));
    out.push_str("          args:\n            - serve\n");
    out.push_str(&format!("            - --method={}\n", method.as_str()));
    out.push_str(&format!("            - --listen=0.0.0.0:{SERVE_PORT}\n"));
    out.push_str("            - --interval=60s\n");
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
    out.push_str(
        "          resources:\n            requests:\n              cpu: 50m\n              memory: 64Mi\n            \
         limits:\n              memory: 256Mi\n",
    );
    out.push_str(
        "          securityContext:\n            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n            \
         capabilities:\n              drop:\n                - ALL\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct_default() -> ManifestRequest {
        ManifestRequest {
            method: Method::Direct,
            subject: Subject::ServiceAccount(ServiceAccountRef::default()),
            deployment_image: None,
            with_pods: false,
        }
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
            deployment_image: None,
            with_pods: false,
        };
        let yaml = manifests(&request);
        assert!(yaml.contains("# WARNING: get nodes/proxy grants far more than metrics"), "{yaml}");
        insta::assert_snapshot!("proxy_user", yaml);
    }

    #[test]
    fn deployment_is_hardened_and_runs_serve_as_the_account() {
        let request = ManifestRequest {
            deployment_image: Some("registry.example/kubelet-metrics:1.2".into()),
            subject: Subject::ServiceAccount("ops/scraper".parse().expect("valid")),
            ..direct_default()
        };
        let yaml = manifests(&request);
        insta::assert_snapshot!("direct_deployment", yaml);
        assert_eq!(yaml.matches("\n---\n").count(), 4, "ServiceAccount, ClusterRole, binding, Deployment");
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
}
