//! Who is calling and what they may do: bearer tokens, service accounts, and RBAC rules in the shape of
//! ClusterRole / ClusterRoleBinding (and Role / RoleBinding), loaded from YAML as `kubectl apply` would.
//! The HTTP side (which request needs which attributes) lives in `apiserver` and `kubelet`.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// An authenticated user, as a TokenReview reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The user name, e.g. `admin` or `system:serviceaccount:monitoring:kubelet-metrics`.
    #[serde(rename = "username")]
    pub name: String,
    /// A unique id (empty for users from client certificates).
    #[serde(default)]
    pub uid: String,
    /// Group memberships, including `system:authenticated`.
    #[serde(default)]
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The unauthenticated user a request without credentials becomes.
    pub fn anonymous() -> Self {
        Self {
            name: "system:anonymous".into(),
            uid: String::new(),
            groups: vec!["system:unauthenticated".into()],
        }
    }

    /// The user a service account's token authenticates as.
    pub fn service_account(namespace: &str, name: &str, uid: &str) -> Self {
        Self {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            uid: uid.to_string(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        }
    }
}

/// What a request wants to do, as the authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Attributes {
    /// `get`, `list`, `create`, ...
    pub verb: String,
    /// The API group (`""` for the core group); resource requests only.
    pub group: String,
    /// e.g. `nodes`; empty for a non-resource request.
    pub resource: String,
    /// e.g. `proxy` or `metrics`.
    pub subresource: String,
    /// The object's name, if one.
    pub name: String,
    /// The namespace, empty at the cluster scope.
    pub namespace: String,
    /// The URL path of a non-resource request (when `resource` is empty).
    pub path: String,
}

impl Attributes {
    /// A request on a resource.
    pub fn resource(verb: &str, group: &str, resource: &str, subresource: &str, name: &str) -> Self {
        Self {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: name.into(),
            ..Self::default()
        }
    }

    /// A request on a non-resource URL such as `/version`.
    pub fn non_resource(verb: &str, path: &str) -> Self {
        Self { verb: verb.into(), path: path.into(), ..Self::default() }
    }

    /// Whether this is a resource request.
    pub fn is_resource(&self) -> bool {
        !self.resource.is_empty()
    }

    /// The API server's message for a denial, without the `... is forbidden: ` prefix
    /// (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters.forbiddenMessage).
    pub fn forbidden_reason(&self, user: &str) -> String {
        if !self.is_resource() {
            return format!("User {user:?} cannot {} path {:?}", self.verb, self.path);
        }
        let mut resource = self.resource.clone();
        if !self.subresource.is_empty() {
            resource = format!("{resource}/{}", self.subresource);
        }
        if self.namespace.is_empty() {
            format!(
                "User {user:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
                self.verb, self.group
            )
        } else {
            format!(
                "User {user:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
                self.verb, self.group, self.namespace
            )
        }
    }
}

/// One rule of a (Cluster)Role.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyRule {
    /// Verbs, or `*`.
    pub verbs: Vec<String>,
    /// API groups, or `*`.
    pub api_groups: Vec<String>,
    /// Resources (`nodes`, `nodes/proxy`, `*/metrics`, `*`).
    pub resources: Vec<String>,
    /// Object names the rule is limited to (empty: all).
    pub resource_names: Vec<String>,
    /// Non-resource URLs (`/metrics`, `/api/*`, `*`).
    #[serde(rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

impl PolicyRule {
    fn allows(&self, attrs: &Attributes) -> bool {
        if !self.verbs.iter().any(|v| v == "*" || *v == attrs.verb) {
            return false;
        }
        if !attrs.is_resource() {
            return self.non_resource_urls.iter().any(|url| {
                url == "*"
                    || *url == attrs.path
                    || url.strip_suffix('*').is_some_and(|prefix| attrs.path.starts_with(prefix))
            });
        }
        let group = self.api_groups.iter().any(|g| g == "*" || *g == attrs.group);
        let combined = if attrs.subresource.is_empty() {
            attrs.resource.clone()
        } else {
            format!("{}/{}", attrs.resource, attrs.subresource)
        };
        // Same as rbac's ResourceMatches: `*`, the exact resource, or `*/subresource`.
        let resource = self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!attrs.subresource.is_empty() && r.strip_prefix("*/") == Some(attrs.subresource.as_str()))
        });
        let name = self.resource_names.is_empty() || self.resource_names.contains(&attrs.name);
        group && resource && name
    }
}

/// A subject of a binding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: String,
    /// The user, group or service account name.
    pub name: String,
    /// The service account's namespace.
    #[serde(default)]
    pub namespace: String,
}

impl Subject {
    fn matches(&self, user: &UserInfo, binding_namespace: &str) -> bool {
        match self.kind.as_str() {
            "User" => self.name == user.name,
            "Group" => user.groups.contains(&self.name),
            "ServiceAccount" => {
                let namespace = if self.namespace.is_empty() { binding_namespace } else { &self.namespace };
                user.name == format!("system:serviceaccount:{namespace}:{}", self.name)
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct RoleRef {
    #[serde(default)]
    kind: String,
    name: String,
}

#[derive(Debug, Clone)]
struct Binding {
    namespace: String,
    role_kind: String,
    role_name: String,
    subjects: Vec<Subject>,
}

/// A service account's identity.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// Its uid, carried in its tokens.
    pub uid: String,
}

/// Tokens, service accounts, roles and bindings: the API server's whole authn/authz state.
#[derive(Debug, Default)]
pub struct Policy {
    tokens: HashMap<String, UserInfo>,
    service_accounts: BTreeMap<(String, String), ServiceAccount>,
    cluster_roles: BTreeMap<String, Vec<PolicyRule>>,
    roles: BTreeMap<(String, String), Vec<PolicyRule>>,
    cluster_bindings: BTreeMap<String, Binding>,
    bindings: BTreeMap<(String, String), Binding>,
}

/// The roles and bindings every cluster starts with: the relevant bootstrap policy of a real API server,
/// plus the viewer's and the monitoring service account's grants.
pub const BOOTSTRAP_YAML: &str = include_str!("bootstrap.yaml");

impl Policy {
    /// A token authenticates as `user` from now on.
    pub fn add_token(&mut self, token: &str, user: UserInfo) {
        self.tokens.insert(token.to_string(), user);
    }

    /// TokenReview: who a bearer token belongs to.
    pub fn authenticate_token(&self, token: &str) -> Option<UserInfo> {
        self.tokens.get(token).cloned()
    }

    /// A service account, if it exists.
    pub fn service_account(&self, namespace: &str, name: &str) -> Option<&ServiceAccount> {
        self.service_accounts.get(&(namespace.to_string(), name.to_string()))
    }

    /// The namespaces that hold a service account.
    pub fn namespaces(&self) -> std::collections::BTreeSet<String> {
        self.service_accounts.keys().map(|(namespace, _)| namespace.clone()).collect()
    }

    /// SelfSubjectRulesReview: every rule that applies to `user` in `namespace` (cluster-wide ones included).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> Vec<PolicyRule> {
        let mut rules = Vec::new();
        for binding in
            self.cluster_bindings.values().filter(|b| b.subjects.iter().any(|s| s.matches(user, "")))
        {
            rules.extend(self.cluster_roles.get(&binding.role_name).into_iter().flatten().cloned());
        }
        for binding in self.bindings.values().filter(|b| b.namespace == namespace) {
            if binding.subjects.iter().any(|s| s.matches(user, &binding.namespace)) {
                let role = match binding.role_kind.as_str() {
                    "ClusterRole" => self.cluster_roles.get(&binding.role_name),
                    _ => self.roles.get(&(binding.namespace.clone(), binding.role_name.clone())),
                };
                rules.extend(role.into_iter().flatten().cloned());
            }
        }
        rules
    }

    /// SubjectAccessReview: whether `user` may do `attrs`. Deny by default; any matching rule allows.
    pub fn authorize(&self, user: &UserInfo, attrs: &Attributes) -> bool {
        let cluster =
            self.cluster_bindings.values().filter(|b| b.subjects.iter().any(|s| s.matches(user, "")));
        for binding in cluster {
            if self
                .cluster_roles
                .get(&binding.role_name)
                .is_some_and(|rules| rules.iter().any(|r| r.allows(attrs)))
            {
                return true;
            }
        }
        if attrs.namespace.is_empty() {
            return false;
        }
        self.bindings.values().filter(|b| b.namespace == attrs.namespace).any(|binding| {
            binding.subjects.iter().any(|s| s.matches(user, &binding.namespace))
                && match binding.role_kind.as_str() {
                    "ClusterRole" => self.cluster_roles.get(&binding.role_name),
                    _ => self.roles.get(&(binding.namespace.clone(), binding.role_name.clone())),
                }
                .is_some_and(|rules| rules.iter().any(|r| r.allows(attrs)))
        })
    }

    /// Applies YAML documents as `kubectl apply` would: ServiceAccount, ClusterRole, ClusterRoleBinding,
    /// Role and RoleBinding are stored (replacing objects of the same name); other kinds (Namespace,
    /// Deployment, ...) are accepted and ignored. Returns how many objects were stored.
    pub fn apply_yaml(&mut self, yaml: &str, new_uid: &mut dyn FnMut() -> String) -> anyhow::Result<usize> {
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(yaml).context("parsing YAML")?;
        let mut stored = 0;
        for doc in docs {
            if doc.is_null() {
                continue;
            }
            if doc.get("kind").and_then(|k| k.as_str()) == Some("List") {
                for item in doc.get("items").and_then(|i| i.as_array()).into_iter().flatten() {
                    stored += self.apply_object(item, new_uid)?;
                }
                continue;
            }
            stored += self.apply_object(&doc, new_uid)?;
        }
        Ok(stored)
    }

    fn apply_object(
        &mut self,
        doc: &serde_json::Value,
        new_uid: &mut dyn FnMut() -> String,
    ) -> anyhow::Result<usize> {
        let kind = doc.get("kind").and_then(|k| k.as_str()).context("a document has no kind")?;
        let meta = doc.get("metadata");
        let field =
            |key: &str| meta.and_then(|m| m.get(key)).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let name = field("name");
        let namespace = field("namespace");
        if name.is_empty() && kind != "List" {
            bail!("a {kind} has no metadata.name");
        }
        let rules = || -> anyhow::Result<Vec<PolicyRule>> {
            match doc.get("rules") {
                Some(rules) if !rules.is_null() => {
                    serde_json::from_value(rules.clone()).with_context(|| format!("{kind} {name:?}: rules"))
                }
                _ => Ok(Vec::new()),
            }
        };
        let binding = |namespace: String| -> anyhow::Result<Binding> {
            let role_ref: RoleRef = serde_json::from_value(doc.get("roleRef").cloned().unwrap_or_default())
                .with_context(|| format!("{kind} {name:?}: roleRef"))?;
            let subjects: Vec<Subject> = match doc.get("subjects") {
                Some(s) if !s.is_null() => {
                    serde_json::from_value(s.clone()).with_context(|| format!("{kind} {name:?}: subjects"))?
                }
                _ => Vec::new(),
            };
            Ok(Binding { namespace, role_kind: role_ref.kind, role_name: role_ref.name, subjects })
        };
        let namespace_or_default =
            if namespace.is_empty() { "default".to_string() } else { namespace.clone() };
        match kind {
            "ClusterRole" => {
                let rules = rules()?;
                self.cluster_roles.insert(name.clone(), rules);
            }
            "Role" => {
                let rules = rules()?;
                self.roles.insert((namespace_or_default, name.clone()), rules);
            }
            "ClusterRoleBinding" => {
                let binding = binding(String::new())?;
                self.cluster_bindings.insert(name.clone(), binding);
            }
            "RoleBinding" => {
                let binding = binding(namespace_or_default.clone())?;
                self.bindings.insert((namespace_or_default, name.clone()), binding);
            }
            "ServiceAccount" => {
                let key = (namespace_or_default, name.clone());
                self.service_accounts.entry(key).or_insert_with(|| ServiceAccount { uid: new_uid() });
            }
            _ => return Ok(0),
        }
        Ok(1)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The bootstrap policy, with numbered uids: the starting point of every RBAC test.
    pub(crate) fn policy() -> Policy {
        let mut policy = Policy::default();
        let mut n = 0;
        policy
            .apply_yaml(BOOTSTRAP_YAML, &mut || {
                n += 1;
                format!("uid-{n}")
            })
            .unwrap();
        policy
    }

    fn viewer() -> UserInfo {
        UserInfo { name: "viewer".into(), uid: String::new(), groups: vec!["system:authenticated".into()] }
    }

    #[test]
    fn admin_may_do_anything() {
        let admin = UserInfo { name: "admin".into(), uid: "1".into(), groups: vec!["system:masters".into()] };
        let p = policy();
        assert!(p.authorize(&admin, &Attributes::resource("get", "", "nodes", "proxy", "node-0")));
        assert!(p.authorize(&admin, &Attributes::non_resource("create", "/debug/advance")));
    }

    #[test]
    fn viewer_lists_nodes_but_not_their_proxy() {
        let p = policy();
        assert!(p.authorize(&viewer(), &Attributes::resource("list", "", "nodes", "", "")));
        assert!(p.authorize(&viewer(), &Attributes::non_resource("get", "/api/v1")));
        assert!(!p.authorize(&viewer(), &Attributes::resource("get", "", "nodes", "proxy", "node-0")));
        assert!(!p.authorize(&viewer(), &Attributes::resource("get", "", "nodes", "metrics", "node-0")));
    }

    #[test]
    fn service_account_gets_metrics_only() {
        let p = policy();
        let sa = UserInfo::service_account("monitoring", "kubelet-metrics", "x");
        assert!(p.authorize(&sa, &Attributes::resource("get", "", "nodes", "metrics", "node-0")));
        assert!(p.authorize(&sa, &Attributes::resource("list", "", "nodes", "", "")));
        assert!(!p.authorize(&sa, &Attributes::resource("get", "", "nodes", "proxy", "node-0")));
        assert!(!p.authorize(&sa, &Attributes::resource("get", "", "nodes", "stats", "node-0")));
    }

    #[test]
    fn applied_yaml_grants_and_star_subresources_match() {
        let mut p = policy();
        let yaml = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: scraper\n  namespace: ops\n---\n\
            apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\nrules:\n\
            - apiGroups: [\"\"]\n  resources: [\"*/proxy\"]\n  verbs: [\"get\"]\n---\n\
            apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: b\n\
            roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: r\nsubjects:\n\
            - kind: ServiceAccount\n  name: scraper\n  namespace: ops\n";
        assert_eq!(p.apply_yaml(yaml, &mut || "u".into()).unwrap(), 3);
        let sa = UserInfo::service_account("ops", "scraper", "u");
        assert!(p.service_account("ops", "scraper").is_some());
        assert!(p.authorize(&sa, &Attributes::resource("get", "", "nodes", "proxy", "node-0")));
        assert!(!p.authorize(&sa, &Attributes::resource("list", "", "nodes", "", "")));
    }

    #[test]
    fn other_kinds_comments_and_lists_are_accepted() {
        let mut p = policy();
        let yaml = r#"# Generated by kubelet-metrics rbac
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  template:
    spec:
      containers:
      - name: c
        args: ["serve", "--listen=:9100"]
        resources: {}
        ports:
        - containerPort: 9100
---
apiVersion: v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: listed}
  rules: []
"#;
        assert_eq!(p.apply_yaml(yaml, &mut || "u".into()).unwrap(), 1);
        assert!(p.apply_yaml("kind: ClusterRole\nmetadata: {}\n", &mut || "u".into()).is_err());
        assert!(p.apply_yaml(": not yaml: [", &mut || "u".into()).is_err());
    }

    #[test]
    fn forbidden_reasons_match_the_api_server() {
        let attrs = Attributes::resource("get", "", "nodes", "proxy", "n1");
        assert_eq!(
            attrs.forbidden_reason("viewer"),
            r#"User "viewer" cannot get resource "nodes/proxy" in API group "" at the cluster scope"#
        );
        assert_eq!(
            Attributes::non_resource("get", "/").forbidden_reason("system:anonymous"),
            r#"User "system:anonymous" cannot get path "/""#
        );
    }
}
