//! How histogram numbers are written for people: bounds and edges (`0.5`, `30`, `+Inf`), a
//! layout as `0.5,1,2`, and band labels (`<=1s`, `1–5s`, `>30s`).
//!
//! The numbers themselves come from the bucket math in [`crate::histogram`]; tables, JSON and
//! charts that use these strings live in [`crate::report`].

use super::Band;

impl Band {
    /// A plain-ASCII label such as `<=1s`, `1-5s`, `>30s` (`unit` is appended to each edge).
    ///
    /// ```
    /// use kubelet_metrics::histogram::Band;
    /// let band = Band { lower: Some(1.0), upper: Some(5.0), count: 3.0, fraction: 0.5, approximate: false };
    /// assert_eq!(band.label("s"), "1-5s");
    /// assert_eq!(band.display_label("s"), "1–5s");
    /// ```
    pub fn label(&self, unit: &str) -> String {
        self.render_label(unit, "<=", "-")
    }

    /// The label for terminals: `≤1s`, `1–5s`, `>30s`.
    pub fn display_label(&self, unit: &str) -> String {
        self.render_label(unit, "≤", "–")
    }

    fn render_label(&self, unit: &str, le: &str, dash: &str) -> String {
        match (self.lower, self.upper) {
            (None, Some(upper)) => format!("{le}{}{unit}", format_number(upper)),
            (Some(lower), Some(upper)) => {
                format!("{}{dash}{}{unit}", format_number(lower), format_number(upper))
            }
            (Some(lower), None) => format!(">{}{unit}", format_number(lower)),
            (None, None) => "all".to_string(),
        }
    }
}

/// Formats a bound or edge the way people write it: `0.5`, `1`, `30`, `+Inf`.
///
/// ```
/// use kubelet_metrics::histogram::format_number;
/// assert_eq!(format_number(30.0), "30");
/// assert_eq!(format_number(0.005), "0.005");
/// assert_eq!(format_number(f64::INFINITY), "+Inf");
/// assert_eq!(format_number(-0.0), "0");
/// ```
pub fn format_number(value: f64) -> String {
    if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else if value.is_nan() {
        "NaN".to_string()
    } else {
        // Adding +0 turns -0 into 0: a computed zero is never printed as `-0`.
        format!("{}", value + 0.0)
    }
}

/// A quantile as people name it: `p50`, `p99`, `p99.9` (what `--slo` parses, CSV columns of
/// `pods`, and — upper-cased — table headers).
///
/// ```
/// use kubelet_metrics::histogram::quantile_name;
/// assert_eq!(quantile_name(0.5), "p50");
/// assert_eq!(quantile_name(0.999), "p99.9");
/// assert_eq!(quantile_name(1.0), "p100");
/// ```
pub fn quantile_name(q: f64) -> String {
    // Round away binary noise: 0.999 × 100 = 99.89999999999999.
    format!("p{}", format_number((q * 100.0 * 1e6).round() / 1e6))
}

/// Finite bounds as `0.5,1,2`.
pub fn format_bounds(bounds: &[f64]) -> String {
    bounds.iter().map(|b| format_number(*b)).collect::<Vec<_>>().join(",")
}
