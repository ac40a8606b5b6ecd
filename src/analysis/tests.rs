//! The analysis pipeline end to end: scrapes in, report out, on hand-built and real payloads.

use super::*;
use crate::exposition::{Family, MetricKind, Sample};
use crate::scrape::{Failure, FailureKind, Scraped};
use approx::assert_relative_eq;

const SEED_BOUNDS: [&str; 26] = [
    "0.5", "1", "2", "3", "4", "5", "6", "8", "10", "20", "30", "45", "60", "120", "180", "240", "300",
    "360", "480", "600", "900", "1200", "1800", "2700", "3600", "+Inf",
];
const SEED_COUNTS: [f64; 26] = [
    39.0, 39.0, 43.0, 47.0, 53.0, 55.0, 56.0, 57.0, 57.0, 64.0, 71.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0,
    74.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0,
];

fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
    Sample {
        name: name.into(),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        value,
        timestamp_ms: None,
    }
}

fn family(name: &str, bounds: &[&str], counts: &[f64], sum: f64) -> Family {
    let mut samples: Vec<Sample> = bounds
        .iter()
        .zip(counts)
        .map(|(le, count)| sample(&format!("{name}_bucket"), &[("le", le)], *count))
        .collect();
    samples.push(sample(&format!("{name}_sum"), &[], sum));
    samples.push(sample(&format!("{name}_count"), &[], *counts.last().unwrap()));
    Family {
        name: name.to_string(),
        help: String::new(),
        kind: MetricKind::Histogram,
        unit: String::new(),
        samples,
    }
}

fn node(name: &str, version: Option<&str>, families: Vec<Family>) -> NodeScrape {
    NodeScrape {
        node: name.to_string(),
        kubelet_version: version.map(str::to_string),
        outcome: Ok(Scraped { families, ..Scraped::default() }),
    }
}

fn seed_node(name: &str) -> NodeScrape {
    node(
        name,
        Some("v1.31.4"),
        vec![family(catalog::POD_START_DURATION, &SEED_BOUNDS, &SEED_COUNTS, 442.6225922320001)],
    )
}

#[test]
fn seed_numbers() {
    let report = analyze(&[seed_node("node1")], &Query::new(catalog::POD_START_DURATION));
    assert!(report.errors.is_empty());
    let stats = &report.nodes[0].stats;
    assert_eq!(stats.count, 74.0);
    assert_relative_eq!(stats.sum, 442.62, epsilon = 0.005);
    // 442.6226 / 74 = 5.981
    assert_relative_eq!(stats.mean, 5.98, epsilon = 0.005);
    // 0.5 × 37/39; 10 + 10 × 9.6/7; 30 + 15 × 2.26/3 (see histogram tests).
    assert_relative_eq!(stats.quantile(0.5).unwrap(), 0.474, epsilon = 0.0005);
    assert_relative_eq!(stats.quantile(0.9).unwrap(), 23.71, epsilon = 0.005);
    assert_relative_eq!(stats.quantile(0.99).unwrap(), 41.3, epsilon = 0.05);
    let percent: Vec<f64> = stats.bands.iter().map(|b| (b.fraction * 1000.0).round() / 10.0).collect();
    assert_eq!(percent, vec![52.7, 21.6, 21.6, 4.1]);
    assert_eq!(report.cluster.stats, *stats);
    assert_eq!(report.unit, "s");
    assert!(report.caveats.iter().any(|c| c.id == "double-count"));
    assert!(report.warnings.is_empty());
}

#[test]
fn missing_metric_and_failed_nodes_are_errors() {
    let failed = NodeScrape {
        node: "n0".into(),
        kubelet_version: None,
        outcome: Err(Failure {
            kind: FailureKind::Timeout,
            message: "no answer within 10s".into(),
            fix: None,
        }),
    };
    let empty = node("n2", Some("v1.25.0"), vec![family("other_seconds", &["+Inf"], &[1.0], 1.0)]);
    let report = analyze(&[seed_node("n1"), empty, failed], &Query::new(catalog::POD_START_SLI_DURATION));
    let kinds: Vec<(&str, FailureKind)> = report.errors.iter().map(|e| (e.node.as_str(), e.kind)).collect();
    assert_eq!(
        kinds,
        vec![("n0", FailureKind::Timeout), ("n1", FailureKind::Missing), ("n2", FailureKind::Missing)]
    );
    assert!(report.errors[2].message.contains(catalog::POD_START_SLI_DURATION));
    let fix = report.errors[2].fix.as_deref().unwrap();
    assert!(fix.contains("from kubelet 1.26") && fix.contains("v1.25.0"), "{fix}");
    assert_eq!(report.node_count(), 3);
    assert!(report.nodes.is_empty());
    assert!(report.cluster.stats.count == 0.0 && report.cluster.layouts.is_empty());
}

#[test]
fn unusable_series_make_a_parse_error() {
    let broken = family(catalog::POD_START_DURATION, &["1", "5"], &[1.0, 2.0], 3.0);
    let report = analyze(&[node("n1", None, vec![broken])], &Query::new(catalog::POD_START_DURATION));
    assert_eq!(report.errors[0].kind, FailureKind::Parse);
    assert!(report.errors[0].message.contains("no `+Inf` bucket"), "{}", report.errors[0].message);
}

#[test]
fn rows_are_sorted_slowest_first() {
    let fast =
        node("a-fast", None, vec![family(catalog::POD_START_DURATION, &["1", "+Inf"], &[10.0, 10.0], 2.0)]);
    let slow =
        node("b-slow", None, vec![family(catalog::POD_START_DURATION, &["1", "+Inf"], &[1.0, 10.0], 50.0)]);
    // Same p99 as a-fast (both in (0, 1]: 0.99 × 10 = 9.9 → 0.99) but a higher mean.
    let meaner =
        node("c", None, vec![family(catalog::POD_START_DURATION, &["1", "+Inf"], &[10.0, 10.0], 9.0)]);
    let report = analyze(&[fast, slow, meaner], &Query::new(catalog::POD_START_DURATION));
    let order: Vec<&str> = report.nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(order, vec!["b-slow", "c", "a-fast"]);
}

#[test]
fn different_layouts_are_grouped_not_mixed() {
    let old = node(
        "old",
        Some("v1.28.2"),
        vec![family(catalog::POD_START_DURATION, &["5", "10", "+Inf"], &[2.0, 3.0, 4.0], 30.0)],
    );
    let report =
        analyze(&[seed_node("new1"), old, seed_node("new2")], &Query::new(catalog::POD_START_DURATION));
    let cluster = &report.cluster;
    assert_eq!(cluster.layouts.len(), 2);
    assert_eq!(cluster.layouts[0].members, vec!["new1", "new2"]);
    assert_eq!(cluster.layouts[1].members, vec!["old"]);
    // Count and sum still add up: 74 + 74 + 4.
    assert_eq!(cluster.stats.count, 152.0);
    assert!(cluster.stats.quantiles.is_empty() && cluster.stats.bands.is_empty());
    assert!(report.warnings.iter().any(|w| w.message.contains("bucket layouts differ")));
    assert!(report.caveats.iter().any(|c| c.id == "short-buckets" && c.versions == vec!["v1.28.2"]));
}

#[test]
fn by_label_splits_rows_and_groups() {
    let mut samples = Vec::new();
    for (op, counts, sum) in [("create", [1.0, 2.0], 3.0), ("sync", [5.0, 5.0], 1.0)] {
        samples.push(sample("rt_seconds_bucket", &[("operation_type", op), ("le", "1")], counts[0]));
        samples.push(sample("rt_seconds_bucket", &[("operation_type", op), ("le", "+Inf")], counts[1]));
        samples.push(sample("rt_seconds_sum", &[("operation_type", op)], sum));
        samples.push(sample("rt_seconds_count", &[("operation_type", op)], counts[1]));
    }
    let fam = Family {
        name: "rt_seconds".into(),
        help: String::new(),
        kind: MetricKind::Histogram,
        unit: String::new(),
        samples,
    };
    let mut query = Query::new("rt_seconds");
    query.by = Some("operation_type".into());
    let report = analyze(&[node("n1", None, vec![fam.clone()]), node("n2", None, vec![fam])], &query);
    assert_eq!(report.nodes.len(), 4);
    // create has an observation above 1 s, so its p99 (1.0, the highest finite bound) leads.
    assert_eq!(report.nodes[0].group.as_deref(), Some("create"));
    assert_eq!(report.groups["sync"].stats.count, 10.0);
    assert_eq!(report.cluster.stats.count, 14.0);
    assert_eq!(report.unit, "s");
}

#[test]
fn baseline_gives_deltas_and_reports_resets() {
    let name = catalog::POD_START_DURATION;
    let before = vec![
        node("n1", None, vec![family(name, &["1", "+Inf"], &[4.0, 6.0], 10.0)]),
        node("n2", None, vec![family(name, &["1", "+Inf"], &[4.0, 6.0], 10.0)]),
    ];
    let after = vec![
        node("n1", None, vec![family(name, &["1", "+Inf"], &[5.0, 9.0], 16.0)]),
        // Restarted: fewer observations than at the baseline.
        node("n2", None, vec![family(name, &["1", "+Inf"], &[1.0, 2.0], 3.0)]),
        node("n3", None, vec![family(name, &["1", "+Inf"], &[1.0, 1.0], 0.5)]),
    ];
    let mut query = Query::new(name);
    query.baseline = Some(before);
    let report = analyze(&after, &query);
    assert!(report.delta);
    let by_node: BTreeMap<&str, &NodeReport> = report.nodes.iter().map(|n| (n.node.as_str(), n)).collect();
    // n1: 9 − 6 = 3 observations, sum 16 − 10 = 6.
    assert_eq!((by_node["n1"].stats.count, by_node["n1"].stats.sum), (3.0, 6.0));
    assert_eq!(by_node["n2"].reset, Some(Reset::CountersDecreased));
    assert_eq!(by_node["n2"].stats.count, 2.0);
    assert!(
        report.warnings.iter().any(|w| w.node.as_deref() == Some("n2") && w.message.contains("restarted"))
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.node.as_deref() == Some("n3") && w.message.contains("no usable baseline"))
    );
}

#[test]
fn warnings_for_non_monotonic_and_negative_sum() {
    let odd = family(catalog::POD_START_SLI_DURATION, &["1", "2", "+Inf"], &[5.0, 3.0, 6.0], -1.8e10);
    let report = analyze(&[node("aks", None, vec![odd])], &Query::new(catalog::POD_START_SLI_DURATION));
    let messages: Vec<&str> = report.warnings.iter().map(|w| w.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("decrease")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("negative")), "{messages:?}");
}

#[test]
fn version_comes_from_build_info_when_the_source_has_none() {
    let info = Family {
        name: catalog::BUILD_INFO.into(),
        help: String::new(),
        kind: MetricKind::Gauge,
        unit: String::new(),
        samples: vec![sample(catalog::BUILD_INFO, &[("gitVersion", "v1.14.10")], 1.0)],
    };
    let pod_start = family(catalog::POD_START_DURATION, &["10", "+Inf"], &[1.0, 1.0], 1.0);
    let report = analyze(&[node("n", None, vec![info, pod_start])], &Query::new(catalog::POD_START_DURATION));
    assert_eq!(report.nodes[0].kubelet_version.as_deref(), Some("v1.14.10"));
    assert!(report.caveats.iter().any(|c| c.id == "short-buckets"));
}

fn fixture_node(name: &str, text: &str) -> NodeScrape {
    let families = crate::exposition::parse(text).expect("fixture parses");
    NodeScrape {
        node: name.to_string(),
        kubelet_version: None,
        outcome: Ok(Scraped { families, ..Scraped::default() }),
    }
}

const SEED: &str = include_str!("../../tests/fixtures/seed-node1.prom");
const K114: &str = include_str!("../../tests/fixtures/real/kubelet-1.14.10-metrics.prom");
const K121: &str = include_str!("../../tests/fixtures/real/kubelet-1.21.2-metrics.prom");

#[test]
fn seed_fixture_through_the_parser() {
    // The payload read by the parser gives exactly the hand-built histogram of `seed_numbers`.
    let parsed = analyze(&[fixture_node("node1", SEED)], &Query::new(catalog::POD_START_DURATION));
    let built = analyze(&[seed_node("node1")], &Query::new(catalog::POD_START_DURATION));
    assert!(parsed.errors.is_empty() && parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.nodes[0].stats, built.nodes[0].stats);
}

#[test]
fn old_and_new_kubelets_are_grouped_by_layout() {
    let scrapes = [fixture_node("seed", SEED), fixture_node("k114", K114), fixture_node("k121", K121)];
    let report = analyze(&scrapes, &Query::new(catalog::POD_START_DURATION));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let layouts: Vec<&Vec<String>> = report.cluster.layouts.iter().map(|l| &l.members).collect();
    // 1.14 and 1.21 share DefBuckets (0.005 … 10); the seed has 0.5 … 3600.
    assert_eq!(layouts.len(), 2);
    assert_eq!(layouts[1], &vec!["seed".to_string()]);
    let mut old = layouts[0].clone();
    old.sort();
    assert_eq!(old, vec!["k114", "k121"]);
    // 74 + 30 + 60 observations.
    assert_eq!(report.cluster.stats.count, 164.0);
    let k114 = report.nodes.iter().find(|n| n.node == "k114").unwrap();
    assert_eq!(k114.kubelet_version.as_deref(), Some("v1.14.10"));
    // 1.14: 26 of 30 ≤ 10 s, the largest finite bound; >30 s cannot be resolved, so the 4
    // above 10 s are counted there: ~13.3 %, approximate.
    let over = k114.stats.bands.last().unwrap();
    assert!(over.approximate);
    assert_relative_eq!(over.fraction, 4.0 / 30.0);
    assert_eq!(k114.stats.quantile(0.99), Some(10.0));
    assert!(
        report
            .caveats
            .iter()
            .any(|c| c.id == "short-buckets" && c.versions.contains(&"v1.14.10".to_string()))
    );
    assert!(report.warnings.iter().any(|w| w.message.contains("bucket layouts differ")));
}

#[test]
fn by_operation_type_on_a_real_payload() {
    let mut query = Query::new(catalog::RUNTIME_OPERATIONS_DURATION);
    query.by = Some("operation_type".to_string());
    let report = analyze(&[fixture_node("k121", K121)], &query);
    assert_eq!(report.nodes.len(), 17);
    let exec_sync = report.nodes.iter().find(|n| n.group.as_deref() == Some("exec_sync")).unwrap();
    assert_eq!(exec_sync.stats.count, 341720.0);
    assert_eq!(report.groups.len(), 17);
    // Without --by, every operation type is summed by `le` into one row.
    let all = analyze(&[fixture_node("k121", K121)], &Query::new(catalog::RUNTIME_OPERATIONS_DURATION));
    assert_eq!(all.nodes.len(), 1);
    let total: f64 = report.nodes.iter().map(|n| n.stats.count).sum();
    assert_eq!(all.nodes[0].stats.count, total);
}

#[test]
fn the_short_buckets_caveat_follows_the_buckets_seen() {
    let metric = catalog::POD_START_DURATION;
    let ids = |scrapes: &[NodeScrape]| -> Vec<String> {
        analyze(scrapes, &Query::new(metric)).caveats.into_iter().map(|c| c.id).collect()
    };
    // A node claiming v1.31 whose buckets stop at 10 s: the caveat applies, to that version.
    let short =
        node("n1", Some("v1.31.4"), vec![family(metric, &["5", "10", "+Inf"], &[1.0, 2.0, 3.0], 9.0)]);
    let report = analyze(std::slice::from_ref(&short), &Query::new(metric));
    let caveat = report.caveats.iter().find(|c| c.id == "short-buckets").expect("short-buckets");
    assert_eq!(caveat.versions, ["v1.31.4"]);
    // A node claiming v1.28 whose buckets reach 3600 s: it does not.
    let mut long = seed_node("n2");
    long.kubelet_version = Some("v1.28.3".into());
    assert!(!ids(&[long]).contains(&"short-buckets".to_string()));
}

#[test]
fn count_different_from_the_inf_bucket_is_a_warning_naming_the_series() {
    let metric = "x_seconds";
    let mut f = family(metric, &["1", "+Inf"], &[1.0, 116.0], 9.0);
    f.samples.last_mut().unwrap().value = 110.0; // `_count`
    let report = analyze(&[node("n1", None, vec![f])], &Query::new(metric));
    let warning = &report.warnings[0];
    assert_eq!(warning.node.as_deref(), Some("n1"));
    assert!(
        warning.message.contains("series {}: `_count` (110) differs from the `+Inf` bucket (116)"),
        "{warning:?}"
    );
}

#[test]
fn duplicate_series_are_not_summed_and_are_named() {
    // Two scrapes in one payload: +Inf 110 then 116. Summing would give 226.
    let metric = "x_seconds";
    let mut f = family(metric, &["1", "+Inf"], &[100.0, 110.0], 9.0);
    let again = family(metric, &["1", "+Inf"], &[104.0, 116.0], 10.0);
    f.samples.extend(again.samples);
    let report = analyze(&[node("n1", None, vec![f])], &Query::new(metric));
    assert_eq!(report.nodes[0].stats.count, 110.0);
    assert_eq!(report.nodes[0].stats.buckets.last().unwrap().count, 110.0);
    let warning = report.warnings.iter().find(|w| w.message.contains("repeat a series")).expect("warned");
    assert_eq!(warning.node.as_deref(), Some("n1"));
    assert!(
        warning.message.starts_with(
            "4 sample(s) repeat a series already in this payload (first: x_seconds_bucket{le=\"1\"})"
        ),
        "{warning:?}"
    );
}

#[test]
fn untyped_bucket_sum_and_count_families_are_a_histogram() {
    // `kubectl get --raw /metrics | grep x_seconds_` keeps no TYPE line: three untyped families.
    let text = "x_seconds_bucket{le=\"1\"} 3\nx_seconds_bucket{le=\"+Inf\"} 4\nx_seconds_sum 2.5\nx_seconds_count 4\n";
    let scrape = node("n1", None, crate::exposition::parse(text).unwrap());
    let report = analyze(&[scrape], &Query::new("x_seconds"));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.nodes[0].stats.count, 4.0);
}

#[test]
fn no_rows_is_zero_not_negative_zero() {
    // Every node lacks the metric: the cluster line sums nothing (`Iterator::sum` would give -0).
    let report = analyze(&[node("n1", None, Vec::new())], &Query::new("x_seconds"));
    assert!(report.cluster.stats.count.is_sign_positive() && report.cluster.stats.sum.is_sign_positive());
}
