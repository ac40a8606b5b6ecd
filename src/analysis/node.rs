//! One node's payload: the metric's histograms by `--by` value, the kubelet version, or the
//! [`NodeError`] that says why the node gave nothing usable (with a hint when the metric is
//! younger than the kubelet).
//!
//! Reading series out of a family lives in [`crate::histogram`]; what happens to the histograms
//! afterwards (baseline, rows, cluster line) lives in [`analyze`](super::analyze).

use std::collections::BTreeMap;

use super::{NodeError, Query, Warning};
use crate::catalog;
use crate::exposition::{Family, MetricKind, Sample};
use crate::histogram::{self, Histogram};
use crate::scrape::{Failure, FailureKind};

/// A failed scrape as a report error: same node, kind, message and fix.
pub(super) fn node_error(node: &str, failure: &Failure) -> NodeError {
    NodeError {
        node: node.to_string(),
        kind: failure.kind,
        message: failure.message.clone(),
        fix: failure.fix.clone(),
    }
}

/// Adds what the catalogue knows about when a metric appeared to a `Missing` error.
pub(super) fn with_version_hint(mut error: NodeError, metric: &str, version: Option<&str>) -> NodeError {
    if error.kind != FailureKind::Missing {
        return error;
    }
    // Only when every known layout has a first version does the metric have a birthday.
    let since = catalog::lookup(metric).and_then(|info| {
        let firsts: Option<Vec<catalog::Version>> = info.layouts.iter().map(|l| l.versions.since).collect();
        firsts?.into_iter().min()
    });
    let mut fix = format!("check the name with `kubelet-metrics get -m '{}*'`", metric_prefix(metric));
    if let Some(since) = since {
        fix.push_str(&format!("; {metric} exists from kubelet {}.{}", since.major, since.minor));
        if let Some(version) = version {
            fix.push_str(&format!(" and this node runs {version}"));
        }
    }
    error.fix = Some(fix);
    error
}

/// `kubelet_pod_start_duration_seconds` → `kubelet_pod_start`.
fn metric_prefix(metric: &str) -> &str {
    let mut cut = metric.len();
    for _ in 0..2 {
        if let Some(index) = metric[..cut].rfind('_') {
            cut = index;
        }
    }
    if cut == 0 { metric } else { &metric[..cut] }
}

/// The kubelet version from a `kubernetes_build_info` family, when the payload has one.
pub(crate) fn build_version(families: &[Family]) -> Option<String> {
    families.iter().filter(|f| f.name == catalog::BUILD_INFO).flat_map(|f| &f.samples).find_map(|sample| {
        sample
            .labels
            .iter()
            .find(|&(k, _)| k == "gitVersion" || k == "git_version")
            .map(|(_, v)| v.to_owned())
    })
}

/// The metric's histograms on one node, by `--by` value, with warnings for unusable series.
pub(super) fn node_histograms(
    node: &str,
    families: &[Family],
    query: &Query,
    warnings: &mut Vec<Warning>,
) -> Result<BTreeMap<String, Histogram>, NodeError> {
    let metric = query.metric.as_str();
    let suffixed = [format!("{metric}_bucket"), format!("{metric}_sum"), format!("{metric}_count")];
    // The family itself, or (without a TYPE line) families named after its samples.
    let relevant: Vec<&Family> =
        families.iter().filter(|f| f.name == metric || suffixed.contains(&f.name)).collect();
    let missing = |message: String| NodeError {
        node: node.to_string(),
        kind: FailureKind::Missing,
        message,
        fix: None,
    };
    if relevant.is_empty() {
        return Err(missing(format!("the payload has no `{metric}` histogram")));
    }
    if let Some(family) =
        relevant.iter().find(|f| !matches!(f.kind, MetricKind::Histogram | MetricKind::Untyped))
    {
        return Err(missing(format!("`{metric}` is a {} here, not a histogram", kind_word(family.kind))));
    }
    let samples: Vec<&Sample> = relevant.iter().flat_map(|f| &f.samples).collect();
    let read = histogram::from_samples(metric, samples.iter().copied());
    if let Some(first) = read.duplicates.first() {
        warnings.push(Warning {
            node: Some(node.to_string()),
            message: format!(
                "{} sample(s) repeat a series already in this payload (first: {first}); each series keeps its first sample, as Prometheus rejects duplicates (two scrapes in one file?)",
                read.duplicates.len()
            ),
        });
    }
    for series in &read.series {
        let count = series.histogram.count();
        let inf = series.histogram.buckets().last().map_or(f64::NAN, |b| b.count);
        if count != inf && !(count.is_nan() && inf.is_nan()) {
            warnings.push(Warning {
                node: Some(node.to_string()),
                message: format!(
                    "series {}: `_count` ({}) differs from the `+Inf` bucket ({}); the mean uses `_count`, quantiles and bands the buckets",
                    format_labels(&series.labels),
                    histogram::format_number(count),
                    histogram::format_number(inf)
                ),
            });
        }
    }
    for problem in &read.problems {
        warnings.push(Warning {
            node: Some(node.to_string()),
            message: format!("series {}: {}; skipped", format_labels(&problem.labels), problem.error),
        });
    }
    if read.series.is_empty() {
        let why = read.problems.first().map_or_else(|| "no samples".to_string(), |p| p.error.to_string());
        return Err(NodeError {
            node: node.to_string(),
            kind: FailureKind::Parse,
            message: format!("no usable `{metric}` series: {why}"),
            fix: None,
        });
    }
    let mut histograms = BTreeMap::new();
    for (group, result) in histogram::group(&read.series, query.by.as_deref()) {
        match result {
            Ok(histogram) => {
                histograms.insert(group, histogram);
            }
            Err(error) => warnings.push(Warning {
                node: Some(node.to_string()),
                message: format!(
                    "series with {}: {error}; skipped rather than mixed",
                    group_words(query, &group)
                ),
            }),
        }
    }
    Ok(histograms)
}

fn group_words(query: &Query, group: &str) -> String {
    match &query.by {
        Some(label) => format!("{label}={group:?}"),
        None => "every label set".to_string(),
    }
}

fn kind_word(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
        MetricKind::Histogram => "histogram",
        MetricKind::Summary => "summary",
        MetricKind::Untyped => "untyped metric",
        MetricKind::GaugeHistogram => "gauge histogram",
        MetricKind::Info => "info metric",
        MetricKind::StateSet => "state set",
    }
}

/// `{a="1",b="2"}`, or `{}`.
fn format_labels(labels: &histogram::Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_prefix_drops_two_words() {
        assert_eq!(metric_prefix("kubelet_pod_start_duration_seconds"), "kubelet_pod_start");
        assert_eq!(metric_prefix("x"), "x");
    }
}
