//! Label and field selectors on nodes, as `kubectl get nodes -l ...` and `--field-selector ...` send them:
//! parsing the text and matching one node. Which nodes are listed, and how they are paged, lives in `list`.

use std::collections::BTreeMap;

/// One requirement of a label selector.
#[derive(Debug, PartialEq)]
pub(super) enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    /// Whether a node with these labels meets the requirement.
    pub(super) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
        }
    }
}

/// Parses a label selector: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-joined.
pub(super) fn parse_label_selector(text: &str) -> Result<Vec<Requirement>, String> {
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    let valid_key =
        |k: &str| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let invalid =
        |term: &str| format!("unable to parse requirement: found '{}', expected: identifier", term.trim());
    let values = |list: &str| -> Result<Vec<String>, String> {
        let inner = list
            .trim()
            .strip_prefix('(')
            .and_then(|l| l.strip_suffix(')'))
            .ok_or_else(|| "found ')', expected: '('".to_string())?;
        Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
    };
    let mut requirements = Vec::new();
    for term in terms {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        let requirement = if let Some(key) = term.strip_prefix('!') {
            Requirement::NotExists(key.trim().to_string())
        } else if let Some((k, v)) = term.split_once("!=") {
            Requirement::NotEquals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = term.split_once("==") {
            Requirement::Equals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = term.split_once('=') {
            Requirement::Equals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, list)) = term.split_once(" notin ") {
            Requirement::NotIn(k.trim().to_string(), values(list)?)
        } else if let Some((k, list)) = term.split_once(" in ") {
            Requirement::In(k.trim().to_string(), values(list)?)
        } else {
            Requirement::Exists(term.to_string())
        };
        let key = match &requirement {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::NotExists(k) => k,
        };
        if !valid_key(key) {
            return Err(invalid(term));
        }
        requirements.push(requirement);
    }
    Ok(requirements)
}

/// One term of a field selector on nodes: `field` equals (or, when `equal` is false, differs from) `value`.
#[derive(Debug, PartialEq)]
pub(super) struct FieldRequirement {
    field: String,
    equal: bool,
    value: String,
}

impl FieldRequirement {
    /// Whether the node named `name` meets the requirement. Simulated nodes are never unschedulable,
    /// so `spec.unschedulable` is always `false`.
    pub(super) fn matches(&self, name: &str) -> bool {
        let actual = if self.field == "metadata.name" { name } else { "false" };
        (actual == self.value) == self.equal
    }
}

impl FieldRequirement {
    /// The field it tests, e.g. `spec.nodeName`.
    pub(super) fn field(&self) -> &str {
        &self.field
    }

    /// Whether a field whose value is `actual` meets the requirement.
    pub(super) fn accepts(&self, actual: &str) -> bool {
        (actual == self.value) == self.equal
    }
}

/// The fields a pod list can be selected by, as kube-apiserver's `PodToSelectableFields` has
/// them (pkg/registry/core/pod/strategy.go) besides the generic `metadata.name` and
/// `metadata.namespace`.
pub(super) const POD_FIELDS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

/// Parses a field selector on nodes: `metadata.name` (=, ==, !=) and `spec.unschedulable`.
pub(super) fn parse_field_selector(text: &str) -> Result<Vec<FieldRequirement>, String> {
    parse_fields(text, &["metadata.name", "spec.unschedulable"])
}

/// Parses a field selector on pods: the fields of [`POD_FIELDS`] with `=`, `==` or `!=`.
pub(super) fn parse_pod_field_selector(text: &str) -> Result<Vec<FieldRequirement>, String> {
    parse_fields(text, &POD_FIELDS)
}

fn parse_fields(text: &str, supported: &[&str]) -> Result<Vec<FieldRequirement>, String> {
    let mut out = Vec::new();
    for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
            (f, false, v)
        } else if let Some((f, v)) = term.split_once("==") {
            (f, true, v)
        } else if let Some((f, v)) = term.split_once('=') {
            (f, true, v)
        } else {
            return Err(format!("invalid selector: '{text}'; can't understand '{term}'"));
        };
        if !supported.contains(&field.trim()) {
            return Err(format!("field label not supported: {}", field.trim()));
        }
        out.push(FieldRequirement {
            field: field.trim().to_string(),
            equal,
            value: value.trim().to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_selectors_cover_every_operator() {
        let l = labels(&[("zone", "a"), ("role", "worker")]);
        let ok = |s: &str| parse_label_selector(s).unwrap().iter().all(|r| r.matches(&l));
        assert!(ok("zone=a"));
        assert!(ok("zone==a"));
        assert!(!ok("zone!=a"));
        assert!(ok("zone in (a, b),role"));
        assert!(!ok("zone notin (a)"));
        assert!(ok("!gpu"));
        assert!(!ok("!zone"));
        assert!(ok(""));
        assert!(parse_label_selector("zone=a,=b").is_err());
    }

    #[test]
    fn field_selectors_match_names_and_never_unschedulable() {
        let ok = |s: &str, name: &str| parse_field_selector(s).unwrap().iter().all(|r| r.matches(name));
        assert!(ok("metadata.name=node-1", "node-1"));
        assert!(!ok("metadata.name!=node-1", "node-1"));
        assert!(ok("spec.unschedulable=false", "node-1"));
        assert!(!ok("spec.unschedulable==true", "node-1"));
        assert!(parse_field_selector("status.phase=Running").is_err());
        assert!(parse_field_selector("metadata.name").is_err());
    }

    #[test]
    fn pod_field_selectors_take_the_pod_fields() {
        let nodes = parse_pod_field_selector("spec.nodeName=node-1,status.phase!=Pending").unwrap();
        assert_eq!(
            nodes.iter().map(FieldRequirement::field).collect::<Vec<_>>(),
            ["spec.nodeName", "status.phase"]
        );
        assert!(nodes[0].accepts("node-1") && !nodes[1].accepts("Pending"));
        assert_eq!(
            parse_pod_field_selector("spec.unschedulable=false").unwrap_err(),
            "field label not supported: spec.unschedulable"
        );
    }
}
