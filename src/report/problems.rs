//! Failure lists that stay readable at hundreds of nodes: identical failures — the same kind,
//! message and fix once each node's own name is taken out — print once, with how many nodes and
//! the first few names; every list of node names is bounded. JSON keeps every node.

use crate::analysis::Report;
use crate::text::bounded_names;

/// What stands for a node's own name in a grouped message.
const NODE: &str = "NODE";

/// One failure as reports hold it.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// The node.
    pub node: &'a str,
    /// The stable failure kind, e.g. `forbidden`.
    pub kind: &'a str,
    /// What happened.
    pub message: &'a str,
    /// The fix, when one is known.
    pub fix: Option<&'a str>,
}

/// Failures that read the same on every node they hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group<'a> {
    /// The failure kind.
    pub kind: &'a str,
    /// The message; with several nodes, each node's name reads `NODE`.
    pub message: String,
    /// The fix, likewise.
    pub fix: Option<String>,
    /// Every node, in the order they came.
    pub nodes: Vec<&'a str>,
}

/// Groups identical failures, in the order each group first appears.
pub fn group<'a>(items: impl IntoIterator<Item = Item<'a>>) -> Vec<Group<'a>> {
    let mut groups: Vec<(Group<'a>, Item<'a>)> = Vec::new();
    for item in items {
        let message = without_name(item.message, item.node);
        let fix = item.fix.map(|fix| without_name(fix, item.node));
        match groups.iter_mut().find(|(g, _)| g.kind == item.kind && g.message == message && g.fix == fix) {
            Some((group, _)) => group.nodes.push(item.node),
            None => groups.push((Group { kind: item.kind, message, fix, nodes: vec![item.node] }, item)),
        }
    }
    groups
        .into_iter()
        .map(|(group, first)| match group.nodes.len() {
            // One node: its own words, name included.
            1 => Group { message: first.message.to_string(), fix: first.fix.map(str::to_string), ..group },
            _ => group,
        })
        .collect()
}

/// `text` with every whole-word occurrence of `node` replaced by `NODE` (a name inside a longer
/// name, such as `n1` in `n10`, is left alone).
pub(crate) fn without_name(text: &str, node: &str) -> String {
    if node.is_empty() {
        return text.to_string();
    }
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(node) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + node.len()..].chars().next();
        out.push_str(&rest[..at]);
        if before.is_some_and(part_of_name) || after.is_some_and(part_of_name) {
            out.push_str(node);
        } else {
            out.push_str(NODE);
        }
        rest = &rest[at + node.len()..];
    }
    out.push_str(rest);
    out
}

/// The subject of a group's line: `node n3` for one node, `forbidden on 12 nodes (n0, …)` for
/// several.
pub fn subject(group: &Group<'_>) -> String {
    match group.nodes.as_slice() {
        [one] => format!("node {one}"),
        nodes => format!("{} on {} nodes ({})", group.kind, nodes.len(), bounded_names(nodes)),
    }
}

/// `3 of 12 nodes failed (n1, n4, n9)`: how much of a report is missing, names bounded, as
/// `histogram` says it on stderr for one cluster and for each cluster of a fleet. Its counts are
/// the ones the table's `errors (N of M nodes)` shows.
pub fn failed_summary(report: &Report) -> String {
    let failed = report.failed_nodes();
    format!("{} of {} nodes failed ({})", failed.len(), report.node_count(), bounded_names(&failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<'a>(node: &'a str, message: &'a str, fix: Option<&'a str>) -> Item<'a> {
        Item { node, kind: "forbidden", message, fix }
    }

    #[test]
    fn identical_failures_group_with_the_node_name_taken_out() {
        let messages: Vec<(String, String)> = (0..12)
            .map(|i| {
                let node = format!("node-{i:02}");
                (node.clone(), format!("proxy GET /api/v1/nodes/{node}/proxy/metrics: forbidden"))
            })
            .collect();
        let fix = Some("kubelet-metrics rbac --method proxy --user viewer");
        let groups = group(messages.iter().map(|(node, message)| item(node, message, fix)));
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].message, "proxy GET /api/v1/nodes/NODE/proxy/metrics: forbidden");
        assert_eq!(
            subject(&groups[0]),
            "forbidden on 12 nodes (node-00, node-01, node-02, node-03, node-04 and 7 more)"
        );
    }

    #[test]
    fn different_messages_stay_apart_and_a_lone_node_keeps_its_words() {
        let groups = group([
            item("n1", "GET /nodes/n1: refused", None),
            item("n10", "GET /nodes/n10: refused", None),
            item("n2", "GET /nodes/n2: reset", None),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].nodes, ["n1", "n10"]);
        assert_eq!(groups[1].message, "GET /nodes/n2: reset");
        assert_eq!(subject(&groups[1]), "node n2");
    }

    #[test]
    fn the_failed_summary_counts_each_node_once() {
        // Two errors on n3 (a `--by` report fails per group): one failed node of three.
        let mut report = crate::report::sample_report();
        let extra = report.errors[0].clone();
        report.errors.push(extra);
        let failed = report.failed_nodes().len();
        assert_eq!(failed, 1);
        assert_eq!(failed_summary(&report), format!("1 of {} nodes failed (n3)", report.node_count()));
    }

    #[test]
    fn a_name_inside_a_longer_name_is_not_replaced() {
        assert_eq!(without_name("n1 and n10 and n1.x and (n1)", "n1"), "NODE and n10 and n1.x and (NODE)");
    }
}
