//! Merging many histograms by `le` without mixing bucket layouts: one [`LayoutGroup`] per
//! layout (say a 1.28 and a 1.29 kubelet), each merged and naming its members.
//!
//! Whether two histograms share a layout, and how they merge, is [`Histogram::same_layout`] and
//! [`Histogram::merge`]; what a report says about several layouts lives in [`crate::analysis`].

use std::fmt;

use super::Histogram;

/// Histograms that share one bucket layout, merged.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutGroup {
    /// The finite bounds they share.
    pub bounds: Vec<f64>,
    /// Who is in the group (node names, or whatever the caller named them), in input order.
    pub members: Vec<String>,
    /// Their sum by `le`.
    pub merged: Histogram,
}

/// Merges histograms by `le`, one group per bucket layout, so that different layouts (say a
/// 1.28 and a 1.29 kubelet) are never mixed. Groups are ordered largest first, then by their
/// first member.
///
/// ```
/// use kubelet_metrics::histogram::{merge_by_layout, Histogram};
/// let old = Histogram::from_cumulative(&[(10.0, 2.0), (f64::INFINITY, 3.0)], 9.0)?;
/// let new = Histogram::from_cumulative(&[(3600.0, 5.0), (f64::INFINITY, 5.0)], 9.0)?;
/// let groups = merge_by_layout([("a", &new), ("b", &old), ("c", &new)]);
/// assert_eq!(groups.len(), 2);
/// assert_eq!(groups[0].members, vec!["a", "c"]);
/// assert_eq!(groups[0].merged.count(), 10.0);
/// # Ok::<(), kubelet_metrics::histogram::HistogramError>(())
/// ```
pub fn merge_by_layout<'a, N: fmt::Display + 'a>(
    items: impl IntoIterator<Item = (N, &'a Histogram)>,
) -> Vec<LayoutGroup> {
    let mut groups: Vec<LayoutGroup> = Vec::new();
    for (name, histogram) in items {
        match groups.iter_mut().find(|g| g.merged.same_layout(histogram)) {
            Some(group) => {
                group.merged = group.merged.merge(histogram).expect("same_layout was checked just above");
                group.members.push(name.to_string());
            }
            None => groups.push(LayoutGroup {
                bounds: histogram.bounds(),
                members: vec![name.to_string()],
                merged: histogram.clone(),
            }),
        }
    }
    groups.sort_by(|a, b| b.members.len().cmp(&a.members.len()).then_with(|| a.members.cmp(&b.members)));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::tests::{INF, h};

    #[test]
    fn layout_mismatch_groups_instead_of_mixing() {
        let old = h(&[(5.0, 1.0), (10.0, 2.0), (INF, 3.0)]);
        let new = h(&[(5.0, 1.0), (3600.0, 4.0), (INF, 4.0)]);
        let groups = merge_by_layout([("n1", &old), ("n2", &new), ("n3", &old)]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].members, vec!["n1", "n3"]);
        assert_eq!(groups[0].bounds, vec![5.0, 10.0]);
        assert_eq!(groups[0].merged.count(), 6.0);
        assert_eq!(groups[1].members, vec!["n2"]);
        assert_eq!(groups[1].merged.count(), 4.0);
    }
}
