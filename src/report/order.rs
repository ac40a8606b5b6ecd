//! Which rows a human-readable report shows and in what order, as kubectl's `--sort-by` and a
//! `--top N` cut: by node name, pod starts, mean or a quantile, largest first. The analysis
//! already sorts slowest first; this only re-orders and cuts what is shown.

use std::cmp::Ordering;
use std::str::FromStr;

use crate::analysis::{NodeReport, Report};

/// A column to sort the rows by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortKey {
    /// Node name, A to Z.
    Node,
    /// Observations, most first.
    Count,
    /// Mean, largest first.
    Mean,
    /// A quantile (`p99` → 0.99), largest first.
    Quantile(f64),
}

impl FromStr for SortKey {
    type Err = String;

    /// `node`, `count`, `mean`, or `pNN` such as `p50`, `p99`, `p99.9`.
    fn from_str(text: &str) -> Result<SortKey, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "node" | "name" => Ok(SortKey::Node),
            "count" => Ok(SortKey::Count),
            "mean" => Ok(SortKey::Mean),
            other => other
                .strip_prefix('p')
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|p| (0.0..=100.0).contains(p))
                .map(|p| SortKey::Quantile(p / 100.0))
                .ok_or_else(|| format!("{text:?}: sort by node, count, mean or a quantile such as p99")),
        }
    }
}

impl SortKey {
    /// The quantile this key needs computed, if any.
    pub fn quantile(self) -> Option<f64> {
        match self {
            SortKey::Quantile(q) => Some(q),
            _ => None,
        }
    }
}

/// Sorts the node rows by `key` (ties by node name), largest first for numbers; a value that is
/// not known sorts last.
pub fn sort(report: &mut Report, key: SortKey) {
    let value = |row: &NodeReport| match key {
        SortKey::Node => None,
        SortKey::Count => Some(row.stats.count),
        SortKey::Mean => Some(row.stats.mean),
        SortKey::Quantile(q) => row.stats.quantile(q),
    };
    report.nodes.sort_by(|a, b| {
        let by_value = match (value(a).filter(|v| !v.is_nan()), value(b).filter(|v| !v.is_nan())) {
            (Some(x), Some(y)) => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_value.then_with(|| a.node.cmp(&b.node)).then_with(|| a.group.cmp(&b.group))
    });
}

/// Keeps the first `n` node rows; returns how many were cut. The cluster line still covers
/// every node, and the nodes cut still count among those asked about (`errors (50 of 500
/// nodes)`, not of the rows shown).
pub fn keep_top(report: &mut Report, n: usize) -> usize {
    let cut = report.nodes.len().saturating_sub(n);
    let hidden: Vec<String> = report.nodes.drain(n.min(report.nodes.len())..).map(|row| row.node).collect();
    report.hidden.extend(hidden);
    cut
}

/// The slowest tenth of the nodes (at least one) when the table has three nodes or more, as the
/// analysis ranks them (p99, then mean); none for fewer, where "slowest" says nothing.
pub fn slowest_nodes(report: &Report) -> Vec<String> {
    let mut nodes: Vec<&str> = report.nodes.iter().map(|row| row.node.as_str()).collect();
    nodes.dedup();
    if nodes.len() < 3 {
        return Vec::new();
    }
    nodes.iter().take(nodes.len().div_ceil(10)).map(|node| node.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_report;

    fn order(report: &Report) -> Vec<&str> {
        report.nodes.iter().map(|n| n.node.as_str()).collect()
    }

    #[test]
    fn keys_parse_like_kubectl_columns() {
        assert_eq!("node".parse(), Ok(SortKey::Node));
        assert_eq!("P99".parse(), Ok(SortKey::Quantile(0.99)));
        assert_eq!(
            "p99.9".parse::<SortKey>().map(|k| k.quantile().map(|q| (q * 1000.0).round())),
            Ok(Some(999.0))
        );
        assert!("p200".parse::<SortKey>().is_err());
        assert!("speed".parse::<SortKey>().is_err());
    }

    #[test]
    fn rows_sort_by_the_key_and_the_top_cut_keeps_the_cluster_line() {
        let mut report = sample_report();
        report.nodes.reverse();
        sort(&mut report, SortKey::Count);
        assert_eq!(order(&report), ["n1", "n2"]);
        sort(&mut report, SortKey::Node);
        assert_eq!(order(&report), ["n1", "n2"]);
        sort(&mut report, SortKey::Mean);
        assert_eq!(order(&report), ["n1", "n2"]);
        let (cluster, asked) = (report.cluster.stats.count, report.node_count());
        assert_eq!(keep_top(&mut report, 1), 1);
        assert_eq!(order(&report), ["n1"]);
        assert_eq!(report.cluster.stats.count, cluster);
        assert_eq!(report.node_count(), asked, "a row cut is still a node asked about");
    }
}
