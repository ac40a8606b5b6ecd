//! Snapshots: the families `histogram --baseline` compares against, saved as plain exposition
//! text with a `node` label on every sample — readable by `get --file`, `grep` and promtool.
//! Turning text into families lives in `exposition`; this module only adds and removes the
//! node label. Pure.

use std::collections::BTreeMap;

use crate::exposition::Family;
use crate::scrape::{NodeScrape, Scraped};

/// The label naming the node of each sample in a snapshot (the same one `get` adds).
pub const NODE_LABEL: &str = "node";
/// Where a payload's own `node` label is kept (as Prometheus renames clashing labels).
pub const EXPORTED_NODE_LABEL: &str = "exported_node";

/// Merges the nodes' families by name (first-seen order, so HELP/TYPE appear once), with a
/// `node` label first on every sample; a payload's own `node` label becomes `exported_node`.
pub fn label_by_node(nodes: &[(&str, &[Family])]) -> Vec<Family> {
    label_first(nodes.iter().copied(), NODE_LABEL, EXPORTED_NODE_LABEL)
}

/// The label naming the cluster (kubeconfig context) of each sample when `get` reads several.
pub const CONTEXT_LABEL: &str = "context";
/// Where a payload's own `context` label is kept.
pub const EXPORTED_CONTEXT_LABEL: &str = "exported_context";

/// Merges several clusters' families (each already labelled by [`label_by_node`]) by name, in
/// first-seen order, with a `context` label first on every sample; a payload's own `context`
/// label becomes `exported_context`.
pub fn label_by_context(clusters: &[(&str, Vec<Family>)]) -> Vec<Family> {
    label_first(
        clusters.iter().map(|(context, families)| (*context, families.as_slice())),
        CONTEXT_LABEL,
        EXPORTED_CONTEXT_LABEL,
    )
}

/// Merges groups of families by name (first-seen order), with `label` = the group's name first
/// on every sample; a sample's own `label` is renamed `exported`, as Prometheus does with
/// `honor_labels: false`.
fn label_first<'a>(
    groups: impl Iterator<Item = (&'a str, &'a [Family])>,
    label: &str,
    exported: &str,
) -> Vec<Family> {
    let mut merged: Vec<Family> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (group, families) in groups {
        for family in families {
            let slot = *index.entry(family.name.as_str()).or_insert_with(|| {
                merged.push(empty_like(family));
                merged.len() - 1
            });
            merged[slot].samples.extend(family.samples.iter().map(|sample| {
                let mut sample = sample.clone();
                let renamed = sample
                    .labels
                    .iter()
                    .map(|(name, value)| (if name == label { exported } else { name }, value));
                sample.labels = std::iter::once((label, group)).chain(renamed).collect();
                sample
            }));
        }
    }
    merged
}

/// The inverse of [`label_by_node`]: one scrape per `node` label value, sorted by node, the
/// label removed (and `exported_node` restored). Samples without a `node` label are dropped.
pub fn split_by_node(families: &[Family]) -> Vec<NodeScrape> {
    split_by_label(families, NODE_LABEL, EXPORTED_NODE_LABEL)
        .into_iter()
        .map(|(node, families)| NodeScrape {
            node,
            kubelet_version: None,
            outcome: Ok(Scraped { families, ..Scraped::default() }),
        })
        .collect()
}

/// The inverse of [`label_by_context`]: each context's families (still labelled by node), the
/// `context` label removed (and `exported_context` restored); `None` when no sample has a
/// `context` label (a snapshot of one cluster).
pub fn split_by_context(families: &[Family]) -> Option<BTreeMap<String, Vec<Family>>> {
    let contexts = split_by_label(families, CONTEXT_LABEL, EXPORTED_CONTEXT_LABEL);
    (!contexts.is_empty()).then_some(contexts)
}

/// The families of each value of `label`, by value, with `label` removed and `exported` renamed
/// back to `label`. Samples without `label` are dropped.
fn split_by_label(families: &[Family], label: &str, exported: &str) -> BTreeMap<String, Vec<Family>> {
    let mut groups: BTreeMap<String, Vec<Family>> = BTreeMap::new();
    for family in families {
        for sample in &family.samples {
            let Some(group) = sample.labels.get(label).map(str::to_owned) else {
                continue;
            };
            let mut sample = sample.clone();
            sample.labels = sample
                .labels
                .iter()
                .filter(|&(name, _)| name != label)
                .map(|(name, value)| (if name == exported { label } else { name }, value))
                .collect();
            let group_families = groups.entry(group).or_default();
            match group_families.last_mut() {
                Some(last) if last.name == family.name => last.samples.push(sample),
                _ => group_families.push(Family { samples: vec![sample], ..empty_like(family) }),
            }
        }
    }
    groups
}

/// A family's metadata with no samples.
fn empty_like(family: &Family) -> Family {
    Family {
        name: family.name.clone(),
        help: family.help.clone(),
        kind: family.kind,
        unit: family.unit.clone(),
        samples: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{self, Selector};

    #[test]
    fn split_inverts_label() {
        let a = exposition::parse("# TYPE up gauge\nup{node=\"inner\"} 1\n# TYPE x counter\nx 3\n")
            .expect("valid");
        let b = exposition::parse("# TYPE up gauge\nup 0\n").expect("valid");
        let labelled = label_by_node(&[("n1", &a), ("n2", &b)]);
        assert_eq!(labelled.len(), 2, "one `up` family for both nodes");
        assert_eq!(labelled[0].samples[0].labels.iter().nth(1), Some(("exported_node", "inner")));

        let mut text = Vec::new();
        exposition::write(&labelled, None, &mut text).expect("write");
        let parsed = exposition::parse_bytes(&text, &Selector::all());
        assert!(parsed.errors.is_empty());
        let split = split_by_node(&parsed.families);
        assert_eq!(split.len(), 2);
        assert_eq!(split[0].outcome.as_ref().expect("n1").families, a);
        assert_eq!(split[1].outcome.as_ref().expect("n2").families, b);
    }

    #[test]
    fn clusters_merge_by_family_with_a_context_label_first() {
        let a = exposition::parse(
            "# TYPE up gauge
up{context=\"own\"} 1
",
        )
        .expect("valid");
        let b = exposition::parse(
            "# TYPE up gauge
up 0
",
        )
        .expect("valid");
        let merged = label_by_context(&[
            ("prod", label_by_node(&[("n1", &a)])),
            ("staging", label_by_node(&[("n1", &b)])),
        ]);
        assert_eq!(merged.len(), 1, "one `up` family for both clusters");
        let labels: Vec<Vec<(&str, &str)>> =
            merged[0].samples.iter().map(|s| s.labels.iter().collect()).collect();
        assert_eq!(
            labels,
            [
                vec![("context", "prod"), ("node", "n1"), ("exported_context", "own")],
                vec![("context", "staging"), ("node", "n1")],
            ]
        );
        // And back: each context's nodes, the payload's own `context` label restored.
        let contexts = split_by_context(&merged).expect("context labels");
        assert_eq!(contexts.keys().collect::<Vec<_>>(), ["prod", "staging"]);
        let prod = split_by_node(&contexts["prod"]);
        let Ok(scraped) = &prod[0].outcome else { panic!("scraped") };
        assert_eq!(prod[0].node, "n1");
        assert_eq!(scraped.families[0].samples[0].labels.iter().collect::<Vec<_>>(), [("context", "own")]);
        assert!(split_by_context(&label_by_node(&[("n1", &b)])).is_none(), "one cluster's snapshot");
    }
}
