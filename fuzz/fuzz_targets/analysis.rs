//! The analysis over arbitrary bucket sets (any bounds, counts, sums, `_count`, duplicates,
//! decreasing buckets, NaN and infinities): no panic, no NaN in a verdict, and the cumulative
//! invariants the report promises hold.
#![no_main]

use kubelet_metrics::analysis::{Query, analyze};
use kubelet_metrics::exposition::{Family, MetricKind, Sample};
use kubelet_metrics::scrape::{NodeScrape, Scraped};
use kubelet_metrics::slo::{Objective, State};
use libfuzzer_sys::fuzz_target;

/// A number from one byte: small bounds and counts mostly, and every special value sometimes.
fn number(byte: u8) -> f64 {
    match byte {
        250 => f64::NAN,
        251 => f64::INFINITY,
        252 => f64::NEG_INFINITY,
        253 => -0.0,
        254 => 1e300,
        255 => -1.0,
        b => f64::from(b) / 4.0,
    }
}

fn sample(name: &str, le: Option<String>, value: f64) -> Sample {
    Sample {
        name: name.to_string(),
        labels: le.map(|le| vec![("le".to_string(), le)]).unwrap_or_default(),
        value,
        timestamp_ms: None,
    }
}

fuzz_target!(|data: &[u8]| {
    // Nodes separated by 0xFE; in a node: (bound, count) pairs, then sum and `_count`.
    let mut scrapes = Vec::new();
    for (index, node) in data.split(|b| *b == 0xFE).take(8).enumerate() {
        let mut samples = Vec::new();
        let pairs = node.len().saturating_sub(2) / 2;
        for pair in node[..pairs * 2].chunks_exact(2) {
            let le = if pair[0] == 251 { "+Inf".to_string() } else { number(pair[0]).to_string() };
            samples.push(sample("x_seconds_bucket", Some(le), number(pair[1])));
        }
        samples.push(sample("x_seconds_bucket", Some("+Inf".into()), number(*node.last().unwrap_or(&0))));
        if let [sum, count] = node[pairs * 2..] {
            samples.push(sample("x_seconds_sum", None, number(sum)));
            samples.push(sample("x_seconds_count", None, number(count)));
        }
        let family = Family {
            name: "x_seconds".into(),
            help: String::new(),
            kind: if index % 3 == 2 { MetricKind::Untyped } else { MetricKind::Histogram },
            unit: String::new(),
            samples,
        };
        scrapes.push(NodeScrape {
            node: format!("n{index}"),
            kubelet_version: None,
            outcome: Ok(Scraped { families: vec![family], ..Scraped::default() }),
        });
    }
    let mut query = Query::new("x_seconds");
    query.quantiles = vec![0.0, 0.5, 0.9, 0.99, 1.0];
    let report = analyze(&scrapes, &query);

    for row in report.nodes.iter().map(|n| &n.stats).chain(report.cluster.layouts.iter().map(|l| &l.stats)) {
        assert!(row.buckets.windows(2).all(|w| w[0].le < w[1].le), "bounds sorted and distinct");
        assert_eq!(row.buckets.last().map(|b| b.le), Some(f64::INFINITY), "ends with +Inf");
        let total = row.buckets.last().map_or(f64::NAN, |b| b.count);
        let finite = row.buckets.iter().all(|b| b.count.is_finite() && b.count >= 0.0);
        let cumulative = row.buckets.windows(2).all(|w| w[0].count <= w[1].count);
        if total.is_finite() && finite && cumulative {
            let bands: f64 = row.bands.iter().map(|b| b.count).sum();
            assert!((bands - total).abs() <= 1e-6 * total.max(1.0), "bands {bands} vs total {total}");
            // PromQL answers NaN for a rank of 0 in an empty lowest bucket (0/0) and for fewer
            // than two buckets; every number it does answer grows with q.
            let values: Vec<f64> = row.quantiles.iter().map(|(_, v)| *v).filter(|v| !v.is_nan()).collect();
            if total > 0.0 {
                assert!(values.windows(2).all(|w| w[0] <= w[1]), "quantiles grow with q: {values:?}");
            }
        }
    }
    for text in ["p99<=5s", "p50<1s", "mean<=3s", "p100<=1000s", "p0<=0s"] {
        let objective = Objective::parse(text).expect("valid objective");
        for verdict in objective.judge(&report) {
            assert!(verdict.observed.is_none_or(|v| !v.is_nan()), "{text}: NaN in {verdict:?}");
            if verdict.state != State::Unknown {
                assert!(verdict.observed.is_some_and(f64::is_finite), "{text}: judged without a value: {verdict:?}");
            }
            assert!(!verdict.reason.is_empty());
        }
    }
});
