//! Who was denied what: the two real shapes of a 403 message (the API server's and the
//! kubelet's) parsed into a [`Denial`]. Pure; what to grant is `remedy`'s and `rbac`'s.

/// Who was denied what, parsed from an API server or kubelet 403 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The authenticated user, e.g. `system:serviceaccount:monitoring:kubelet-metrics`.
    pub user: String,
    /// The verb, e.g. `get`.
    pub verb: String,
    /// Resource with subresource, e.g. `nodes/proxy` or `nodes/metrics`.
    pub resource: String,
    /// Who refused: the API server (then `user` is the caller's identity at the API server) or
    /// a kubelet (through the proxy, the API server's own kubelet client is the user).
    pub by: DeniedBy,
}

/// Which server wrote a 403 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeniedBy {
    /// The API server's authorizer (`User "alice" cannot ...`).
    ApiServer,
    /// A kubelet's webhook authorizer (`Forbidden (user=alice, ...)`).
    Kubelet,
}

impl Denial {
    /// Parses the two real 403 message shapes:
    /// the API server's `... User "alice" cannot get resource "nodes/proxy" in API group "" at
    /// the cluster scope` and the kubelet's
    /// `Forbidden (user=alice, verb=get, resource=nodes, subresource=metrics)`.
    ///
    /// ```
    /// use kubelet_metrics::cluster::Denial;
    /// let kubelet = Denial::parse("Forbidden (user=alice, verb=get, resource=nodes, subresource=metrics)");
    /// assert_eq!(kubelet.unwrap().rule(), "get nodes/metrics");
    /// let apiserver = Denial::parse(
    ///     r#"nodes "n1" is forbidden: User "bob" cannot get resource "nodes/proxy" in API group "" at the cluster scope"#,
    /// );
    /// assert_eq!(apiserver.unwrap().user, "bob");
    /// ```
    pub fn parse(message: &str) -> Option<Denial> {
        Self::parse_kubelet(message).or_else(|| Self::parse_apiserver(message))
    }

    fn parse_kubelet(message: &str) -> Option<Denial> {
        // kubelet pkg/kubelet/server/auth.go: "Forbidden (user=%s, verb=%s, resource=%s, subresource=%s)"
        let start = message.find("Forbidden (")? + "Forbidden (".len();
        let inner = &message[start..];
        let inner = &inner[..inner.find(')')?];
        let field = |key: &str| {
            inner.split(", ").find_map(|pair| pair.strip_prefix(key)?.strip_prefix('=')).map(str::to_string)
        };
        let resource = field("resource")?;
        let subresource = field("subresource").unwrap_or_default();
        Some(Denial {
            user: field("user")?,
            verb: field("verb")?,
            resource: if subresource.is_empty() { resource } else { format!("{resource}/{subresource}") },
            by: DeniedBy::Kubelet,
        })
    }

    fn parse_apiserver(message: &str) -> Option<Denial> {
        // apiserver endpoints/handlers/responsewriters/errors.go (forbiddenMessage):
        // `User "%s" cannot %s resource "%s" in API group "%s" ...`; older servers say
        // `User "%s" cannot %s %s at the cluster scope`.
        let start = message.find("User \"")? + "User \"".len();
        let rest = &message[start..];
        let end = rest.find('"')?;
        let user = rest[..end].to_string();
        let rest = rest[end + 1..].trim_start().strip_prefix("cannot ")?;
        let (verb, rest) = rest.split_once(' ')?;
        let resource = match rest.strip_prefix("resource \"") {
            Some(quoted) => quoted[..quoted.find('"')?].to_string(),
            None => rest.split_whitespace().next()?.trim_end_matches([':', ',']).to_string(),
        };
        Some(Denial { user, verb: verb.to_string(), resource, by: DeniedBy::ApiServer })
    }

    /// The missing RBAC rule in `verb resource` form, e.g. `get nodes/proxy`.
    pub fn rule(&self) -> String {
        format!("{} {}", self.verb, self.resource)
    }

    /// True when the server saw no credentials at all.
    pub fn is_anonymous(&self) -> bool {
        self.user == "system:anonymous"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_apiserver_forbidden_shape_is_understood() {
        let denial = Denial::parse("User \"bob\" cannot list nodes at the cluster scope").expect("parsed");
        assert_eq!(denial.rule(), "list nodes");
        assert_eq!(denial.by, DeniedBy::ApiServer);
    }
}
