//! The cluster line: rows merged by `le`, one [`LayoutReport`] per bucket layout, and the
//! warning that names the layouts when they differ (the line then has count, sum and mean only).
//!
//! Merging by layout lives in [`crate::histogram`]; which rows go into a line (all of them, or
//! one `--by` value's) is [`analyze`](super::analyze)'s call.

use super::{ClusterReport, LayoutReport, NodeReport, Query, Stats, Warning};
use crate::histogram::{self, Histogram, format_number};

/// Merges rows by `le`, one group per layout, and warns when layouts differ.
pub(super) fn cluster_line<'a>(
    rows: impl Iterator<Item = &'a NodeReport> + Clone,
    query: &Query,
    edges: &[f64],
    warnings: &mut Vec<Warning>,
    group: Option<&str>,
) -> ClusterReport {
    let histograms: Vec<(String, Histogram)> = rows
        .filter_map(|row| {
            let pairs: Vec<(f64, f64)> = row.stats.buckets.iter().map(|b| (b.le, b.count)).collect();
            let histogram =
                Histogram::from_cumulative(&pairs, row.stats.sum).ok()?.with_count(row.stats.count);
            Some((row.name(), histogram))
        })
        .collect();
    let layouts: Vec<LayoutReport> = histogram::merge_by_layout(histograms.iter().map(|(name, h)| (name, h)))
        .into_iter()
        .map(|g| LayoutReport {
            bounds: g.bounds,
            members: g.members,
            stats: Stats::of(&g.merged, &query.quantiles, edges),
        })
        .collect();
    // `Iterator::sum` of no f64 is -0.0 (the additive identity of IEEE 754); no rows is 0.
    let count: f64 = layouts.iter().fold(0.0, |total, l| total + l.stats.count);
    let sum: f64 = layouts.iter().fold(0.0, |total, l| total + l.stats.sum);
    let stats = match layouts.as_slice() {
        [only] => only.stats.clone(),
        _ => Stats {
            count,
            sum,
            mean: sum / count,
            quantiles: Vec::new(),
            bands: Vec::new(),
            buckets: Vec::new(),
            lower_bounds: Vec::new(),
        },
    };
    if layouts.len() > 1 {
        let described: Vec<String> = layouts
            .iter()
            .map(|l| {
                format!(
                    "{} bucket(s) up to {}: {}",
                    l.bounds.len(),
                    describe_top(&l.bounds),
                    crate::text::bounded_names(&l.members)
                )
            })
            .collect();
        let scope =
            group.map_or_else(String::new, |g| format!(" ({}={g:?})", query.by.as_deref().unwrap_or("")));
        warnings.push(Warning {
            node: None,
            message: format!(
                "bucket layouts differ across nodes{scope}, so the cluster line has count, sum and mean only; quantiles and bands are per layout: {}",
                described.join("; ")
            ),
        });
    }
    ClusterReport { stats, layouts }
}

fn describe_top(bounds: &[f64]) -> String {
    bounds.last().map_or_else(|| "+Inf".to_string(), |b| format_number(*b))
}
