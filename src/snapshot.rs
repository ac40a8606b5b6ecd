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
    let mut merged: Vec<Family> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (node, families) in nodes {
        for family in *families {
            let slot = *index.entry(family.name.as_str()).or_insert_with(|| {
                merged.push(empty_like(family));
                merged.len() - 1
            });
            merged[slot].samples.extend(family.samples.iter().map(|sample| {
                let mut sample = sample.clone();
                for (name, _) in &mut sample.labels {
                    if name == NODE_LABEL {
                        *name = EXPORTED_NODE_LABEL.to_string();
                    }
                }
                sample.labels.insert(0, (NODE_LABEL.to_string(), node.to_string()));
                sample
            }));
        }
    }
    merged
}

/// The inverse of [`label_by_node`]: one scrape per `node` label value, sorted by node, the
/// label removed (and `exported_node` restored). Samples without a `node` label are dropped.
pub fn split_by_node(families: &[Family]) -> Vec<NodeScrape> {
    let mut nodes: BTreeMap<String, Vec<Family>> = BTreeMap::new();
    for family in families {
        for sample in &family.samples {
            let Some(node) =
                sample.labels.iter().find(|(name, _)| name == NODE_LABEL).map(|(_, v)| v.clone())
            else {
                continue;
            };
            let mut sample = sample.clone();
            sample.labels.retain(|(name, _)| name != NODE_LABEL);
            for (name, _) in &mut sample.labels {
                if name == EXPORTED_NODE_LABEL {
                    *name = NODE_LABEL.to_string();
                }
            }
            let node_families = nodes.entry(node).or_default();
            match node_families.last_mut() {
                Some(last) if last.name == family.name => last.samples.push(sample),
                _ => node_families.push(Family { samples: vec![sample], ..empty_like(family) }),
            }
        }
    }
    nodes
        .into_iter()
        .map(|(node, families)| NodeScrape {
            node,
            kubelet_version: None,
            outcome: Ok(Scraped { families, ..Scraped::default() }),
        })
        .collect()
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
        assert_eq!(labelled[0].samples[0].labels[1], ("exported_node".to_string(), "inner".to_string()));

        let mut text = Vec::new();
        exposition::write(&labelled, None, &mut text).expect("write");
        let parsed = exposition::parse_bytes(&text, &Selector::all());
        assert!(parsed.errors.is_empty());
        let split = split_by_node(&parsed.families);
        assert_eq!(split.len(), 2);
        assert_eq!(split[0].outcome.as_ref().expect("n1").families, a);
        assert_eq!(split[1].outcome.as_ref().expect("n2").families, b);
    }
}
