//! Renderers from reports to bytes. Renderers never print; they write to a writer, so tests
//! read their output directly. Each format has its module: [`table`] (and its wide variant),
//! [`json`], [`csv`], [`chart`], a terminal distribution chart, and [`svg`], the same distribution as
//! a picture for `--plot`. The numbers come from
//! [`crate::analysis`]; this module only decides how they look.
//!
//! Number formats shared by the human-readable renderers:
//! - durations: 2 decimals from 1 up (`5.98s`, `23.71s`), 3 significant digits below without
//!   trailing zeros (`0.474s`, `0.005s`), `-` when undefined (no observations);
//! - counts: integers when integral (`74`), else 2 decimals;
//! - fractions: percentages with one decimal (`52.7%`), `~` in front when approximate.

pub mod breakdown;
pub mod chart;
pub mod compare;
pub mod csv;
pub mod doctor;
pub mod document;
pub mod json;
pub mod order;
pub mod paint;
pub mod pods;
pub mod problems;
pub mod samples;
pub mod slo;
pub mod svg;
pub mod table;
pub mod terminal;
pub mod watch;

pub use terminal::escape_controls;

use crate::histogram::Band;

/// Formats a duration-like value with its unit: `5.98s`, `0.474s`, `0s`, `-` for NaN.
///
/// ```
/// use kubelet_metrics::report::format_value;
/// assert_eq!(format_value(5.981, "s"), "5.98s");
/// assert_eq!(format_value(0.47436, "s"), "0.474s");
/// assert_eq!(format_value(41.3, "s"), "41.30s");
/// assert_eq!(format_value(0.005, "s"), "0.005s");
/// assert_eq!(format_value(f64::NAN, "s"), "-");
/// ```
pub fn format_value(value: f64, unit: &str) -> String {
    if value.is_nan() {
        return "-".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf".to_string() } else { "-Inf".to_string() };
    }
    if value == 0.0 {
        return format!("0{unit}");
    }
    if value.abs() >= 1.0 {
        return format!("{value:.2}{unit}");
    }
    // Three significant digits below 1, trailing zeros dropped: 0.474, 0.0123, 0.005.
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = usize::try_from(2 - magnitude).unwrap_or(2).min(12);
    let digits = format!("{value:.decimals$}");
    let digits = digits.trim_end_matches('0').trim_end_matches('.');
    format!("{digits}{unit}")
}

/// Formats a count: `74`, or `2.50` when it is not whole (rates, interpolations).
///
/// ```
/// use kubelet_metrics::report::format_count;
/// assert_eq!(format_count(74.0), "74");
/// assert_eq!(format_count(2.5), "2.50");
/// ```
pub fn format_count(value: f64) -> String {
    if value.is_nan() {
        "-".to_string()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        // Adding +0 turns -0 into 0: `CLUSTER -0` is never printed.
        format!("{:.0}", value + 0.0)
    } else {
        format!("{value:.2}")
    }
}

/// Formats a band's share: `52.7%`, `~4.1%` when approximate, `-` without observations.
///
/// ```
/// use kubelet_metrics::histogram::Band;
/// use kubelet_metrics::report::format_share;
/// let band = Band { lower: None, upper: Some(1.0), count: 39.0, fraction: 39.0 / 74.0, approximate: false };
/// assert_eq!(format_share(&band), "52.7%");
/// ```
pub fn format_share(band: &Band) -> String {
    if band.fraction.is_nan() {
        return "-".to_string();
    }
    let tilde = if band.approximate { "~" } else { "" };
    format!("{tilde}{:.1}%", band.fraction * 100.0)
}

/// The column header of a quantile: `P50`, `P99`, `P99.9`, `P100`.
///
/// ```
/// use kubelet_metrics::report::quantile_header;
/// assert_eq!(quantile_header(0.5), "P50");
/// assert_eq!(quantile_header(0.999), "P99.9");
/// ```
pub fn quantile_header(q: f64) -> String {
    crate::histogram::quantile_name(q).to_uppercase()
}

/// The key of a quantile in JSON and the suffix in CSV: `0.5`, `0.99`, `1`.
pub fn quantile_key(q: f64) -> String {
    format!("{q}")
}

/// A small report shared by the renderer tests: two nodes, one failure, exact and approximate
/// bands. Hand arithmetic for every number is in the table test.
#[cfg(test)]
pub(crate) fn sample_report() -> crate::analysis::Report {
    use crate::analysis::{Query, analyze};
    use crate::exposition::{Family, MetricKind, Sample};
    use crate::scrape::{Failure, FailureKind, NodeScrape, Scraped};

    let metric = crate::catalog::POD_START_SLI_DURATION;
    let node = |name: &str, version: &str, counts: [f64; 4], sum: f64| {
        let sample = |suffix: &str, le: Option<&str>, value: f64| Sample {
            name: format!("{metric}{suffix}").into(),
            labels: le.iter().map(|le| ("le", *le)).collect(),
            value,
            timestamp_ms: None,
        };
        let mut samples: Vec<Sample> = ["1", "5", "30", "+Inf"]
            .iter()
            .zip(counts)
            .map(|(le, c)| sample("_bucket", Some(le), c))
            .collect();
        samples.push(sample("_sum", None, sum));
        samples.push(sample("_count", None, counts[3]));
        let family = Family {
            name: metric.to_string(),
            help: String::new(),
            kind: MetricKind::Histogram,
            unit: String::new(),
            samples,
        };
        NodeScrape {
            node: name.to_string(),
            kubelet_version: Some(version.to_string()),
            outcome: Ok(Scraped { families: vec![family], ..Scraped::default() }),
        }
    };
    let failed = NodeScrape {
        node: "n3".to_string(),
        kubelet_version: None,
        outcome: Err(Failure {
            kind: FailureKind::Timeout,
            message: "GET /api/v1/nodes/n3/proxy/metrics: no answer within 10s".to_string(),
            fix: Some("raise --timeout".to_string()),
        }),
    };
    let scrapes = vec![
        node("n2", "v1.31.1", [3.0, 4.0, 4.0, 4.0], 4.0),
        failed,
        node("n1", "v1.30.2", [2.0, 6.0, 9.0, 10.0], 60.0),
    ];
    let mut query = Query::new(metric);
    query.method = crate::access::Origin::Cluster(crate::access::Method::Proxy);
    query.bands = vec![1.0, 5.0, 20.0];
    analyze(&scrapes, &query)
}
