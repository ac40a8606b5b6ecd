//! Service-level objectives on a histogram report, such as the Kubernetes pod-startup SLO
//! (`p99<=5s` on `kubelet_pod_start_sli_duration_seconds`). Parsing and judging only; pure.

use std::fmt;

use crate::analysis::{Report, Stats};
use crate::histogram::{Histogram, format_number, quantile_name};
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

/// Whether an objective holds: three values, because a histogram cannot always say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The observed value meets the bound.
    Holds,
    /// The observed value (or what is known of it) breaks the bound.
    Violated,
    /// The histogram cannot decide: a quantile known only to lie above a bound that is below
    /// the objective, a mean from a negative or non-finite sum, no observations, or a value
    /// that is not computed. Never a pass.
    Unknown,
}

impl State {
    /// `holds`, `violated`, `unknown`: the JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Holds => "holds",
            State::Violated => "violated",
            State::Unknown => "unknown",
        }
    }

    /// The worst of several states: violated, then unknown, then holds.
    pub fn worst(states: impl IntoIterator<Item = State>) -> State {
        states.into_iter().fold(State::Holds, |worst, state| match (worst, state) {
            (State::Violated, _) | (_, State::Violated) => State::Violated,
            (State::Unknown, _) | (_, State::Unknown) => State::Unknown,
            _ => State::Holds,
        })
    }
}

/// The judgement of one objective against one histogram (the cluster line, or a layout group).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What was judged: `cluster`, or `cluster[2]` for a layout group.
    pub scope: String,
    /// The observed value (`None` when the statistic is undefined, e.g. no observations).
    pub observed: Option<f64>,
    /// True when `observed` is only a lower bound: the quantile's rank lies in the `+Inf`
    /// bucket, and PromQL answers the highest finite bound.
    pub lower_bound: bool,
    /// Holds, violated or unknown.
    pub state: State,
    /// Why, in words: what was compared, or what could not be known.
    pub reason: String,
}

impl Verdict {
    /// True only when the objective holds (unknown is not a pass).
    pub fn holds(&self) -> bool {
        self.state == State::Holds
    }
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
        // A plain number, or a number of seconds (`5s`, what `Display` writes, also beyond what
        // a `Duration` holds), else a duration such as `500ms` or `2m`.
        let seconds = right.strip_suffix('s').filter(|number| !number.ends_with(['m', 'u', 'µ', 'n']));
        let bound =
            match right.parse::<f64>().or_else(|e| seconds.map_or(Err(e.clone()), |n| n.parse::<f64>())) {
                Ok(number) => number,
                Err(_) => parse_duration(right)?.as_secs_f64(),
            };
        if !bound.is_finite() {
            return Err(format!("{raw:?}: the bound must be a finite number"));
        }
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
        let unknown = |observed: Option<f64>, reason: String| Verdict {
            scope: scope.clone(),
            observed,
            lower_bound: false,
            state: State::Unknown,
            reason,
        };
        // NaN counts (no `_count` at all) are no observations either.
        if stats.count.is_nan() || stats.count <= 0.0 {
            return unknown(None, "no observations".into());
        }
        let bound = format_number(self.bound);
        let comparison = if self.strict { "<" } else { "<=" };
        match self.statistic {
            Statistic::Mean => {
                if !stats.sum.is_finite() || !stats.count.is_finite() {
                    return unknown(
                        None,
                        "the mean is not computed: `_sum` or `_count` is not a finite number".into(),
                    );
                }
                if stats.sum < 0.0 {
                    // kubernetes#130432: negative durations make `_sum` meaningless.
                    return unknown(
                        Some(stats.mean),
                        format!(
                            "the mean comes from a negative `_sum` ({}), which durations cannot add up to",
                            format_number(stats.sum)
                        ),
                    );
                }
                let state = self.compare(stats.mean);
                Verdict {
                    state,
                    reason: self.reason("mean", stats.mean, state),
                    scope,
                    observed: Some(stats.mean),
                    lower_bound: false,
                }
            }
            Statistic::Quantile(q) => {
                let buckets: Vec<(f64, f64)> = stats.buckets.iter().map(|b| (b.le, b.count)).collect();
                let Ok(histogram) = Histogram::from_cumulative(&buckets, stats.sum) else {
                    return unknown(
                        None,
                        "the quantile is not computed: no bucket layout to read it from".into(),
                    );
                };
                let value = histogram.quantile(q);
                if !value.is_finite() {
                    return unknown(
                        None,
                        "the quantile is not computed: fewer than two buckets or no total".into(),
                    );
                }
                let name = quantile_name(q);
                if histogram.quantile_beyond_bounds(q) {
                    // The rank lies in the +Inf bucket: the true value is above `value`, the highest
                    // finite bound, by an unknown amount.
                    let (state, reason) = if self.bound <= value {
                        (
                            State::Violated,
                            format!(
                                "{name} is above the largest finite bucket bound {}, which is not above {bound}",
                                format_number(value)
                            ),
                        )
                    } else {
                        (
                            State::Unknown,
                            format!(
                                "{name} is only known to be above the largest finite bucket bound {}; the buckets cannot say whether it is {comparison} {bound}",
                                format_number(value)
                            ),
                        )
                    };
                    return Verdict { scope, observed: Some(value), lower_bound: true, state, reason };
                }
                let state = self.compare(value);
                Verdict {
                    state,
                    reason: self.reason(&name, value, state),
                    scope,
                    observed: Some(value),
                    lower_bound: false,
                }
            }
        }
    }

    /// Judges a statistic known only within an open range `(low, high)` (e.g. latencies read
    /// from one-second timestamps, some pods not there yet): holds when `high` meets the bound,
    /// violated when `low` already breaks it, otherwise unknown. `what` names the samples
    /// (`ready of stateless pods`), `observed` is the statistic as read, `pending` how many
    /// samples have no upper bound yet. No range means no samples: unknown.
    pub fn judge_range(
        &self,
        scope: String,
        what: &str,
        observed: Option<f64>,
        range: Option<(f64, f64)>,
        pending: usize,
    ) -> Verdict {
        let name = match self.statistic {
            Statistic::Mean => format!("mean {what}"),
            Statistic::Quantile(q) => format!("{} {what}", quantile_name(q)),
        };
        let Some((low, high)) = range else {
            return Verdict {
                scope,
                observed,
                lower_bound: false,
                state: State::Unknown,
                reason: "no observations".into(),
            };
        };
        let comparison = if self.strict { "<" } else { "<=" };
        let bound = short(self.bound);
        let (state, reason) = if high <= self.bound {
            (State::Holds, format!("{name} is below {} {comparison} {bound}", short(high)))
        } else if low >= self.bound {
            (State::Violated, format!("{name} is above {} and so not {comparison} {bound}", short(low)))
        } else if high.is_infinite() {
            (
                State::Unknown,
                format!(
                    "{name} is above {} but {pending} pods are not there yet; cannot say whether it is {comparison} {bound}",
                    short(low)
                ),
            )
        } else {
            (
                State::Unknown,
                format!(
                    "{name} lies between {} and {} (timestamps have one-second resolution); cannot say whether it is {comparison} {bound}",
                    short(low),
                    short(high)
                ),
            )
        };
        Verdict { scope, observed, lower_bound: high.is_infinite(), state, reason }
    }

    /// `p99 3.2 <= 5` or `p99 41.3 is not <= 5`.
    fn reason(&self, name: &str, value: f64, state: State) -> String {
        let comparison = if self.strict { "<" } else { "<=" };
        let not = if state == State::Holds { "" } else { "is not " };
        format!("{name} {} {not}{comparison} {}", short(value), short(self.bound))
    }

    fn compare(&self, value: f64) -> State {
        let holds = if self.strict { value < self.bound } else { value <= self.bound };
        if holds { State::Holds } else { State::Violated }
    }
}

/// A value as people read it in a reason: at most three decimals (`31.5`, not the
/// `31.499999999999915` that interpolation gives).
fn short(value: f64) -> String {
    let rounded = (value * 1000.0).round() / 1000.0;
    if rounded.is_finite() { format_number(rounded) } else { format_number(value) }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.statistic {
            Statistic::Mean => write!(f, "mean")?,
            Statistic::Quantile(q) => write!(f, "{}", quantile_name(q))?,
        }
        write!(f, "{}{}", if self.strict { "<" } else { "<=" }, bound_text(self.bound))
    }
}

/// The bound as a user writes it: below a second in milliseconds (`p99<=250ms`) when that
/// spelling parses back to the same number, else in seconds (`p99<=5s`).
fn bound_text(bound: f64) -> String {
    if bound > 0.0 && bound < 1.0 {
        let millis = format!("{}ms", format_number(bound * 1000.0));
        if parse_duration(&millis).is_ok_and(|d| d.as_secs_f64() == bound) {
            return millis;
        }
    }
    format!("{}s", format_number(bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse_in_every_spelling() {
        assert_eq!(Objective::parse("p99 <= 5s").map(|o| o.to_string()), Ok("p99<=5s".to_string()));
        assert_eq!(Objective::parse("p99.9<10").map(|o| o.to_string()), Ok("p99.9<10s".to_string()));
        assert_eq!(Objective::parse("mean<=750ms").map(|o| o.bound), Ok(0.75));
        assert_eq!(Objective::parse("p99<=1ms").map(|o| o.to_string()), Ok("p99<=1ms".to_string()));
        assert_eq!(Objective::parse("p99<0.25").map(|o| o.to_string()), Ok("p99<250ms".to_string()));
        assert_eq!(Objective::parse("p99<=0.0001s").map(|o| o.to_string()), Ok("p99<=0.1ms".to_string()));
        // Below a nanosecond no duration spells it: the bound stays in seconds.
        assert_eq!(
            Objective::parse("p99<=1e-12").map(|o| o.to_string()),
            Ok("p99<=0.000000000001s".to_string())
        );
        assert!(Objective::parse("p99>=5s").is_err());
        assert!(Objective::parse("p101<=5s").is_err());
        assert!(Objective::parse("q99<=5s").is_err());
        assert!(Objective::parse("p99<=inf").is_err() && Objective::parse("p99<=NaN").is_err());
    }

    #[test]
    fn what_display_writes_parses_again() {
        // Found by fuzzing (fuzz/artifacts/selector_and_slo/crash-6f7422b1…): a bound beyond what
        // a Duration holds was written as `7.7e64s`, which did not parse back.
        let huge = Objective::parse(&format!("p10<{}", "7".repeat(66))).unwrap();
        assert_eq!(Objective::parse(&huge.to_string()), Ok(huge));
        assert_eq!(Objective::parse("p99<=1e3s").map(|o| o.bound), Ok(1000.0));
        assert_eq!(Objective::parse("p99<=500ms").map(|o| o.bound), Ok(0.5));
    }

    const INF: f64 = f64::INFINITY;

    fn stats(pairs: &[(f64, f64)], sum: f64, q: f64) -> Stats {
        Stats::of(&Histogram::from_cumulative(pairs, sum).unwrap(), &[q], &[])
    }

    fn judge(objective: &str, stats: &Stats) -> Verdict {
        Objective::parse(objective).unwrap().verdict("cluster".into(), stats)
    }

    #[test]
    fn a_quantile_above_the_largest_finite_bound_is_a_lower_bound() {
        // 12 observations, 10 ≤ 10 s, 2 above: p99 rank 11.88 lies in (10, +Inf], so p99 > 10 s.
        let s = stats(&[(5.0, 6.0), (10.0, 10.0), (INF, 12.0)], 150.0, 0.99);
        let at_bound = judge("p99<=10s", &s);
        assert_eq!(
            (at_bound.state, at_bound.lower_bound, at_bound.observed),
            (State::Violated, true, Some(10.0))
        );
        assert_eq!(judge("p99<=5s", &s).state, State::Violated);
        assert_eq!(judge("p99<10s", &s).state, State::Violated);
        let above = judge("p99<=20s", &s);
        assert_eq!(above.state, State::Unknown, "{above:?}");
        assert!(
            above.reason.contains("only known to be above the largest finite bucket bound 10"),
            "{}",
            above.reason
        );
        // p50 (rank 6, reached at le = 5) is known: it holds.
        let p50 = stats(&[(5.0, 6.0), (10.0, 10.0), (INF, 12.0)], 150.0, 0.5);
        assert_eq!(judge("p50<=20s", &p50).state, State::Holds);
    }

    #[test]
    fn a_mean_from_a_negative_sum_is_unknown() {
        // AKS, kubernetes#130432: _sum -1.8446742887692856e+10 over 110 starts.
        let s = stats(&[(1.0, 100.0), (INF, 110.0)], -1.844_674_288_769_285_6e10, 0.99);
        let verdict = judge("mean<=3s", &s);
        assert_eq!(verdict.state, State::Unknown);
        assert!(verdict.reason.contains("negative `_sum`"), "{}", verdict.reason);
        let nan = stats(&[(1.0, 100.0), (INF, 110.0)], f64::NAN, 0.99);
        assert_eq!(judge("mean<=3s", &nan).state, State::Unknown);
        let fine = stats(&[(1.0, 100.0), (INF, 110.0)], 110.0, 0.99);
        assert_eq!(judge("mean<=3s", &fine).state, State::Holds);
        assert_eq!(judge("mean<0.5s", &fine).state, State::Violated);
    }

    #[test]
    fn no_observations_is_unknown_not_a_failure() {
        let s = stats(&[(1.0, 0.0), (INF, 0.0)], 0.0, 0.99);
        for objective in ["p99<=5s", "mean<=3s"] {
            let verdict = judge(objective, &s);
            assert_eq!((verdict.state, verdict.observed), (State::Unknown, None), "{objective}");
            assert_eq!(verdict.reason, "no observations");
        }
    }

    #[test]
    fn a_quantile_that_is_not_computed_is_unknown() {
        // Only a +Inf bucket: histogram_quantile answers NaN.
        let s = stats(&[(INF, 5.0)], 10.0, 0.99);
        assert_eq!(judge("p99<=5s", &s).state, State::Unknown);
    }

    #[test]
    fn worst_state_orders_violated_unknown_holds() {
        assert_eq!(State::worst([State::Holds, State::Unknown]), State::Unknown);
        assert_eq!(State::worst([State::Unknown, State::Violated, State::Holds]), State::Violated);
        assert_eq!(State::worst([]), State::Holds);
    }

    #[test]
    fn reasons_round_what_interpolation_leaves() {
        assert_eq!(short(31.499999999999915), "31.5");
        assert_eq!(short(5.0), "5");
        assert_eq!(short(0.0004), "0");
        assert_eq!(short(f64::INFINITY), "+Inf");
    }
}
