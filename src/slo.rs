//! Service-level objectives on a histogram report, such as the Kubernetes pod-startup SLO
//! (`p99<=5s` on `kubelet_pod_start_sli_duration_seconds`). Parsing and judging only; pure.

use std::fmt;

use crate::analysis::{Report, Stats};
use crate::histogram::{Histogram, format_number};
use crate::units::parse_duration;

/// Which statistic of the cluster line an objective bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    /// A quantile in [0, 1] (`p99` is 0.99, `p99.9` is 0.999).
    Quantile(f64),
    /// `sum / count`.
    Mean,
}

/// An objective such as `p99<=5s`: a statistic, a comparison and a bound in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    /// What is bounded.
    pub statistic: Statistic,
    /// `<` instead of `<=`.
    pub strict: bool,
    /// The bound, in the metric's unit (seconds for `*_seconds`).
    pub bound: f64,
}

/// The judgement of one objective against one histogram (the cluster line, or a layout group).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What was judged: `cluster`, or `cluster[2]` for a layout group.
    pub scope: String,
    /// The observed value (`None` when the statistic is undefined, e.g. no observations).
    pub observed: Option<f64>,
    /// Whether the objective holds (an undefined value does not hold).
    pub holds: bool,
}

impl Objective {
    /// Parses `p99<=5s`, `p90<2s`, `p99.9<=10s`, `mean<=3s`, `p50<=500ms`.
    ///
    /// ```
    /// use kubelet_metrics::slo::{Objective, Statistic};
    /// let slo = Objective::parse("p99<=5s").unwrap();
    /// assert_eq!(slo.statistic, Statistic::Quantile(0.99));
    /// assert_eq!((slo.strict, slo.bound), (false, 5.0));
    /// ```
    pub fn parse(raw: &str) -> Result<Objective, String> {
        let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        let (left, strict, right) = if let Some((l, r)) = compact.split_once("<=") {
            (l, false, r)
        } else if let Some((l, r)) = compact.split_once('<') {
            (l, true, r)
        } else {
            return Err(format!("{raw:?}: expected STAT<=BOUND, e.g. p99<=5s or mean<3s"));
        };
        let statistic = match left.to_ascii_lowercase().as_str() {
            "mean" | "avg" => Statistic::Mean,
            other => {
                let digits =
                    other.strip_prefix('p').ok_or_else(|| format!("{raw:?}: {left:?} is not pNN or mean"))?;
                let percent: f64 =
                    digits.parse().map_err(|_| format!("{raw:?}: {left:?} is not pNN or mean"))?;
                if !(0.0..=100.0).contains(&percent) {
                    return Err(format!("{raw:?}: percentile {percent} is outside 0..100"));
                }
                Statistic::Quantile(percent / 100.0)
            }
        };
        let bound = match right.parse::<f64>() {
            Ok(number) => number,
            Err(_) => parse_duration(right)?.as_secs_f64(),
        };
        Ok(Objective { statistic, strict, bound })
    }

    /// Judges the cluster line of `report`; when bucket layouts differ (no single cluster
    /// quantile exists), every layout group is judged and each must hold.
    pub fn judge(&self, report: &Report) -> Vec<Verdict> {
        let layouts = &report.cluster.layouts;
        if layouts.len() > 1 && matches!(self.statistic, Statistic::Quantile(_)) {
            return layouts
                .iter()
                .enumerate()
                .map(|(index, layout)| self.verdict(format!("cluster[{}]", index + 1), &layout.stats))
                .collect();
        }
        vec![self.verdict("cluster".to_string(), &report.cluster.stats)]
    }

    fn verdict(&self, scope: String, stats: &Stats) -> Verdict {
        let value = match self.statistic {
            Statistic::Mean => stats.mean,
            Statistic::Quantile(q) => {
                let buckets: Vec<(f64, f64)> = stats.buckets.iter().map(|b| (b.le, b.count)).collect();
                Histogram::from_cumulative(&buckets, stats.sum).map(|h| h.quantile(q)).unwrap_or(f64::NAN)
            }
        };
        let observed = (!value.is_nan() && stats.count > 0.0).then_some(value);
        let holds = observed.is_some_and(|v| if self.strict { v < self.bound } else { v <= self.bound });
        Verdict { scope, observed, holds }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.statistic {
            Statistic::Mean => write!(f, "mean")?,
            Statistic::Quantile(q) => write!(f, "p{}", format_number(q * 100.0))?,
        }
        write!(f, "{}{}s", if self.strict { "<" } else { "<=" }, format_number(self.bound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse_in_every_spelling() {
        assert_eq!(Objective::parse("p99 <= 5s").map(|o| o.to_string()), Ok("p99<=5s".to_string()));
        assert_eq!(Objective::parse("p99.9<10").map(|o| o.to_string()), Ok("p99.9<10s".to_string()));
        assert_eq!(Objective::parse("mean<=750ms").map(|o| o.bound), Ok(0.75));
        assert!(Objective::parse("p99>=5s").is_err());
        assert!(Objective::parse("p101<=5s").is_err());
        assert!(Objective::parse("q99<=5s").is_err());
    }
}
