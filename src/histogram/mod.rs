//! Cumulative `le` histograms: building them from a parsed family, merging, mean, quantiles,
//! bands and deltas against a baseline. Pure: values in, values out.
//!
//! This file owns the bucket math ([`Histogram`], [`Bucket`], [`Band`]: construction, mean,
//! quantiles, bands, merge). Its neighbours each own one concern, re-exported here so every
//! path stays `crate::histogram::…`: `promql.rs` (the steps ported from Prometheus'
//! `histogram_quantile`), `delta.rs` ([`Delta`], [`Reset`]), `format.rs` ([`format_number`], [`quantile_name`],
//! band labels), `series.rs` (the family adapter: [`from_family`], [`Series`], [`group`]) and
//! `layout.rs` ([`merge_by_layout`]).
//!
//! What a kubelet histogram *means* (and its known defects) lives in [`crate::catalog`]; turning
//! many nodes into a report lives in [`crate::analysis`]; the text format lives in
//! [`crate::exposition`].
//!
//! # Semantics
//!
//! - [`Histogram::quantile`] is PromQL's `histogram_quantile` for classic histograms
//!   (Prometheus `promql/quantile.go`, `bucketQuantile`), step by step: buckets sorted by `le`,
//!   buckets with equal `le` coalesced, float-precision noise (relative 1e-12) smoothed, bucket
//!   counts forced monotonic, linear interpolation inside the bucket that holds the rank, the
//!   lowest bucket interpolated from 0 when its bound is positive, and a rank in the `+Inf`
//!   bucket answered with the highest finite bound.
//! - Bands ([`Histogram::bands`]) are exact when both edges are bucket bounds; otherwise the
//!   cumulative count at the edge is interpolated the same way and the band is marked
//!   approximate. An edge above the largest finite bound cannot be resolved at all: the
//!   observations in the `+Inf` bucket are counted *above* the edge (the slow side), and the
//!   band is approximate.
//! - Merging ([`Histogram::merge`]) adds counts bucket by bucket, like PromQL
//!   `sum by (le)`, but only between identical bucket layouts; [`merge_by_layout`] groups
//!   histograms by layout instead of mixing them.
//! - Deltas ([`Histogram::delta`]) subtract a baseline bucket by bucket; any decrease means the
//!   kubelet restarted, and then the current histogram *is* the delta (as PromQL `increase()`
//!   treats a counter reset).
//!
//! # Errors and warnings
//!
//! Structural problems that make a series unusable are typed errors ([`HistogramError`]): no
//! `+Inf` bucket, an `le` that is not a number (or NaN), a bucket without `le`, a series with no
//! buckets, two layouts where one is required. Bucket counts that decrease with `le` are not an
//! error: Prometheus repairs them (`ensureMonotonic`) and so does [`Histogram::quantile`];
//! [`Histogram::is_monotonic`] lets the caller report it as a warning.

mod delta;
mod format;
mod layout;
mod promql;
mod series;

pub use delta::{Delta, Reset};
pub use format::{format_bounds, format_number, quantile_name};
pub use layout::{LayoutGroup, merge_by_layout};
pub use series::{FamilySeries, Labels, Series, SeriesProblem, from_family, from_samples, group};

use promql::{PRECISION_TOLERANCE, correct_precision_errors, ensure_monotonic, go_sort_search};

/// One cumulative bucket: how many observations were `<= le`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The inclusive upper bound; the last bucket of a histogram is `+Inf`.
    pub le: f64,
    /// Cumulative count of observations `<= le` (a float, as in Prometheus).
    pub count: f64,
}

/// A classic Prometheus histogram: cumulative buckets (sorted by `le`, ending with `+Inf`),
/// `_sum` and `_count`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    buckets: Vec<Bucket>,
    sum: f64,
    count: f64,
}

/// Why a series cannot be read as a histogram, or two histograms cannot be combined.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistogramError {
    /// The series has no `le="+Inf"` bucket, so its total is unknown (PromQL returns NaN).
    #[error("no `+Inf` bucket")]
    MissingInfBucket,
    /// An `le` label that does not parse as a number.
    #[error("`le` is not a number: {0:?}")]
    BadLe(String),
    /// An `le` of `NaN`, which orders nowhere.
    #[error("`le` is NaN")]
    NanLe,
    /// A `_bucket` sample without an `le` label.
    #[error("bucket without an `le` label")]
    MissingLe,
    /// `_sum` / `_count` samples but no `_bucket` samples.
    #[error("no `_bucket` samples")]
    NoBuckets,
    /// Two histograms with different bucket bounds, where one layout is required.
    #[error("bucket layouts differ: [{left}] vs [{right}]")]
    LayoutMismatch {
        /// The first histogram's finite bounds, comma-separated.
        left: String,
        /// The second histogram's finite bounds, comma-separated.
        right: String,
    },
}

/// One band of a distribution: the observations in `(lower, upper]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Exclusive lower edge; `None` for the first band (everything up to `upper`).
    pub lower: Option<f64>,
    /// Inclusive upper edge; `None` for the last band (everything above `lower`).
    pub upper: Option<f64>,
    /// Observations in the band (interpolated when `approximate`).
    pub count: f64,
    /// `count` divided by the total; NaN when the histogram is empty.
    pub fraction: f64,
    /// True when an edge is not a bucket bound, so `count` is an estimate.
    pub approximate: bool,
}

impl Histogram {
    /// Builds a histogram from cumulative `(le, count)` pairs (any order) and the `_sum`; the
    /// count is the `+Inf` bucket's. Buckets with the same `le` are added up, as PromQL does.
    ///
    /// ```
    /// use kubelet_metrics::histogram::Histogram;
    /// let h = Histogram::from_cumulative(&[(1.0, 3.0), (f64::INFINITY, 4.0), (0.5, 1.0)], 2.5)?;
    /// assert_eq!(h.count(), 4.0);
    /// assert_eq!(h.bounds(), vec![0.5, 1.0]);
    /// assert!(Histogram::from_cumulative(&[(1.0, 3.0)], 2.5).is_err()); // no +Inf bucket
    /// # Ok::<(), kubelet_metrics::histogram::HistogramError>(())
    /// ```
    pub fn from_cumulative(buckets: &[(f64, f64)], sum: f64) -> Result<Histogram, HistogramError> {
        if buckets.iter().any(|(le, _)| le.is_nan()) {
            return Err(HistogramError::NanLe);
        }
        let mut sorted: Vec<Bucket> = buckets.iter().map(|&(le, count)| Bucket { le, count }).collect();
        // Stable sort by bound; NaN was rejected above, so the order is total.
        sorted.sort_by(|a, b| a.le.total_cmp(&b.le));
        let mut coalesced: Vec<Bucket> = Vec::with_capacity(sorted.len());
        for bucket in sorted {
            match coalesced.last_mut() {
                // Same as Prometheus' coalesceBuckets: equal bounds add up.
                Some(last) if last.le == bucket.le => last.count += bucket.count,
                _ => coalesced.push(bucket),
            }
        }
        let count = match coalesced.last() {
            Some(last) if last.le == f64::INFINITY => last.count,
            _ => return Err(HistogramError::MissingInfBucket),
        };
        Ok(Histogram { buckets: coalesced, sum, count })
    }

    /// Replaces the count with the family's `_count` sample (which the kubelet keeps equal to
    /// the `+Inf` bucket; mean uses it, quantiles use the buckets as PromQL does).
    pub fn with_count(mut self, count: f64) -> Histogram {
        self.count = count;
        self
    }

    /// The buckets, sorted by `le`, the last one `+Inf`, as received (not repaired).
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// The finite bucket bounds: the histogram's layout.
    pub fn bounds(&self) -> Vec<f64> {
        self.buckets.iter().map(|b| b.le).filter(|le| le.is_finite()).collect()
    }

    /// The number of observations (`_count`, else the `+Inf` bucket).
    pub fn count(&self) -> f64 {
        self.count
    }

    /// The sum of observations (`_sum`; NaN when the family has none).
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// `sum / count`; NaN when there are no observations.
    ///
    /// ```
    /// use kubelet_metrics::histogram::Histogram;
    /// let h = Histogram::from_cumulative(&[(1.0, 2.0), (f64::INFINITY, 4.0)], 10.0)?;
    /// assert_eq!(h.mean(), 2.5); // 10 / 4
    /// # Ok::<(), kubelet_metrics::histogram::HistogramError>(())
    /// ```
    pub fn mean(&self) -> f64 {
        self.sum / self.count
    }

    /// True when bucket counts never decrease as `le` grows (after the same float-noise
    /// smoothing Prometheus applies). When false, quantiles and bands use the repaired
    /// envelope, as Prometheus does, and the caller should warn.
    pub fn is_monotonic(&self) -> bool {
        let mut buckets = self.buckets.clone();
        correct_precision_errors(&mut buckets, PRECISION_TOLERANCE);
        !ensure_monotonic(&mut buckets)
    }

    /// The buckets as PromQL sees them: float noise smoothed, counts forced monotonic.
    fn repaired(&self) -> Vec<Bucket> {
        let mut buckets = self.buckets.clone();
        correct_precision_errors(&mut buckets, PRECISION_TOLERANCE);
        ensure_monotonic(&mut buckets);
        buckets
    }

    /// The `q`-quantile, exactly as PromQL `histogram_quantile(q, ...)` computes it for these
    /// buckets: NaN for q NaN, no observations, or fewer than two buckets; `-Inf` for q < 0 and
    /// `+Inf` for q > 1; the highest finite bound when the rank lands in the `+Inf` bucket.
    ///
    /// ```
    /// use kubelet_metrics::histogram::Histogram;
    /// // 10 observations: 4 in (0, 0.5], 6 in (0.5, 1]. Rank 5 lies 1/6 into the second bucket.
    /// let h = Histogram::from_cumulative(&[(0.5, 4.0), (1.0, 10.0), (f64::INFINITY, 10.0)], 7.1)?;
    /// assert!((h.quantile(0.5) - (0.5 + 0.5 / 6.0)).abs() < 1e-12);
    /// assert!(h.quantile(2.0).is_infinite());
    /// # Ok::<(), kubelet_metrics::histogram::HistogramError>(())
    /// ```
    pub fn quantile(&self, q: f64) -> f64 {
        if q.is_nan() {
            return f64::NAN;
        }
        if q < 0.0 {
            return f64::NEG_INFINITY;
        }
        if q > 1.0 {
            return f64::INFINITY;
        }
        let buckets = self.repaired();
        let n = buckets.len();
        if n < 2 {
            return f64::NAN;
        }
        let observations = buckets[n - 1].count;
        if observations == 0.0 {
            return f64::NAN;
        }
        let mut rank = q * observations;
        let b = go_sort_search(n - 1, |i| buckets[i].count >= rank);
        if b == n - 1 {
            // Same estimate as PromQL: a rank in the +Inf bucket reports the highest finite bound.
            return buckets[n - 2].le;
        }
        if b == 0 && buckets[0].le <= 0.0 {
            return buckets[0].le;
        }
        let bucket_end = buckets[b].le;
        let mut bucket_start = 0.0;
        let mut count = buckets[b].count;
        if b > 0 {
            bucket_start = buckets[b - 1].le;
            count -= buckets[b - 1].count;
            rank -= buckets[b - 1].count;
        }
        bucket_start + (bucket_end - bucket_start) * (rank / count)
    }

    /// True when the `q`-quantile's rank lands in the `+Inf` bucket: [`Histogram::quantile`]
    /// then answers the highest finite bound, which is only a lower bound of the true value.
    ///
    /// ```
    /// use kubelet_metrics::histogram::Histogram;
    /// // 8 of 10 observations ≤ 10: the p90 rank (9) is above the highest finite bound.
    /// let h = Histogram::from_cumulative(&[(10.0, 8.0), (f64::INFINITY, 10.0)], 99.0)?;
    /// assert!(h.quantile_beyond_bounds(0.9) && !h.quantile_beyond_bounds(0.5));
    /// # Ok::<(), kubelet_metrics::histogram::HistogramError>(())
    /// ```
    pub fn quantile_beyond_bounds(&self, q: f64) -> bool {
        let buckets = self.repaired();
        let n = buckets.len();
        if !(0.0..=1.0).contains(&q) || n < 2 || buckets[n - 1].count == 0.0 {
            return false;
        }
        let rank = q * buckets[n - 1].count;
        go_sort_search(n - 1, |i| buckets[i].count >= rank) == n - 1
    }

    /// Estimated number of observations `<= x`, and whether it is exact (`x` is a bucket bound,
    /// or ±Inf). Interpolates linearly inside a bucket (from 0 in the lowest one, as
    /// `histogram_quantile` does); above the highest finite bound, the `+Inf` bucket's
    /// observations count as greater than `x`.
    ///
    /// ```
    /// use kubelet_metrics::histogram::Histogram;
    /// let h = Histogram::from_cumulative(&[(1.0, 4.0), (3.0, 8.0), (f64::INFINITY, 10.0)], 20.0)?;
    /// assert_eq!(h.count_le(3.0), (8.0, true));
    /// assert_eq!(h.count_le(2.0), (6.0, false)); // halfway through (1, 3]: 4 + 4/2
    /// assert_eq!(h.count_le(5.0), (8.0, false)); // the 2 in (3, +Inf] are counted above 5
    /// # Ok::<(), kubelet_metrics::histogram::HistogramError>(())
    /// ```
    pub fn count_le(&self, x: f64) -> (f64, bool) {
        cumulative_at(&self.repaired(), x)
    }

    /// Splits the observations at `edges` (increasing): `1, 5, 30` gives `≤1`, `1–5`, `5–30`,
    /// `>30`. Each band is exact when its edges are bucket bounds, else approximate.
    ///
    /// ```
    /// use kubelet_metrics::histogram::Histogram;
    /// let h = Histogram::from_cumulative(&[(1.0, 4.0), (5.0, 6.0), (f64::INFINITY, 8.0)], 20.0)?;
    /// let bands = h.bands(&[1.0, 5.0]);
    /// assert_eq!(bands.iter().map(|b| b.count).collect::<Vec<_>>(), vec![4.0, 2.0, 2.0]);
    /// assert_eq!(bands[0].fraction, 0.5); // 4 of 8
    /// assert!(bands.iter().all(|b| !b.approximate));
    /// # Ok::<(), kubelet_metrics::histogram::HistogramError>(())
    /// ```
    pub fn bands(&self, edges: &[f64]) -> Vec<Band> {
        let buckets = self.repaired();
        let total = buckets.last().map_or(f64::NAN, |b| b.count);
        let mut bounds: Vec<Option<f64>> = Vec::with_capacity(edges.len() + 2);
        bounds.push(None);
        bounds.extend(edges.iter().copied().map(Some));
        bounds.push(None);
        bounds
            .windows(2)
            .map(|pair| {
                let (lower, upper) = (pair[0], pair[1]);
                let (below, lower_exact) = lower.map_or((0.0, true), |x| cumulative_at(&buckets, x));
                let (through, upper_exact) = upper.map_or((total, true), |x| cumulative_at(&buckets, x));
                let count = through - below;
                Band {
                    lower,
                    upper,
                    count,
                    fraction: count / total,
                    approximate: !(lower_exact && upper_exact),
                }
            })
            .collect()
    }

    /// True when both histograms have the same finite bucket bounds.
    pub fn same_layout(&self, other: &Histogram) -> bool {
        self.buckets.len() == other.buckets.len()
            && self.buckets.iter().zip(&other.buckets).all(|(a, b)| a.le == b.le)
    }

    fn layout_mismatch(&self, other: &Histogram) -> HistogramError {
        HistogramError::LayoutMismatch {
            left: format_bounds(&self.bounds()),
            right: format_bounds(&other.bounds()),
        }
    }

    /// Adds two histograms bucket by bucket (PromQL `sum by (le)`); refuses different layouts
    /// rather than mixing them.
    ///
    /// ```
    /// use kubelet_metrics::histogram::Histogram;
    /// let a = Histogram::from_cumulative(&[(1.0, 1.0), (f64::INFINITY, 2.0)], 3.0)?;
    /// let b = Histogram::from_cumulative(&[(1.0, 5.0), (f64::INFINITY, 5.0)], 1.0)?;
    /// let both = a.merge(&b)?;
    /// assert_eq!((both.count(), both.sum()), (7.0, 4.0));
    /// let other = Histogram::from_cumulative(&[(2.0, 1.0), (f64::INFINITY, 2.0)], 3.0)?;
    /// assert!(a.merge(&other).is_err());
    /// # Ok::<(), kubelet_metrics::histogram::HistogramError>(())
    /// ```
    pub fn merge(&self, other: &Histogram) -> Result<Histogram, HistogramError> {
        if !self.same_layout(other) {
            return Err(self.layout_mismatch(other));
        }
        let buckets = self
            .buckets
            .iter()
            .zip(&other.buckets)
            .map(|(a, b)| Bucket { le: a.le, count: a.count + b.count })
            .collect();
        Ok(Histogram { buckets, sum: self.sum + other.sum, count: self.count + other.count })
    }
}

/// Observations `<= x` in repaired, sorted buckets ending with `+Inf`; see [`Histogram::count_le`].
fn cumulative_at(buckets: &[Bucket], x: f64) -> (f64, bool) {
    let Some(last) = buckets.last() else { return (f64::NAN, false) };
    if x == f64::INFINITY {
        return (last.count, true);
    }
    if x == f64::NEG_INFINITY {
        return (0.0, true);
    }
    let Some(index) = buckets.iter().position(|b| b.le >= x) else { return (last.count, true) };
    let bucket = buckets[index];
    if bucket.le == x {
        return (bucket.count, true);
    }
    if bucket.le == f64::INFINITY {
        // Above the highest finite bound: where those observations lie is unknown. Count them
        // above `x`, so the slow band is never understated.
        let below = if index > 0 { buckets[index - 1].count } else { 0.0 };
        return (below, false);
    }
    if index == 0 {
        // Like histogram_quantile: the lowest bucket spans (0, le] when le > 0.
        if bucket.le > 0.0 && x > 0.0 {
            return (bucket.count * (x / bucket.le), false);
        }
        return (0.0, false);
    }
    let previous = buckets[index - 1];
    if previous.le == f64::NEG_INFINITY {
        // A `-Inf` bound leaves nothing to interpolate from: where in (-Inf, le] the
        // observations lie is unknown, so count them above `x` (the slow side), as for `+Inf`.
        return (previous.count, false);
    }
    let share = (x - previous.le) / (bucket.le - previous.le);
    (previous.count + (bucket.count - previous.count) * share, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use proptest::prelude::*;

    pub(super) const INF: f64 = f64::INFINITY;

    fn seed() -> Histogram {
        // tests/fixtures/seed-node1.prom
        let bounds = [
            0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0, 300.0,
            360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, INF,
        ];
        let counts = [
            39.0, 39.0, 43.0, 47.0, 53.0, 55.0, 56.0, 57.0, 57.0, 64.0, 71.0, 74.0, 74.0, 74.0, 74.0, 74.0,
            74.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0, 74.0,
        ];
        let pairs: Vec<(f64, f64)> = bounds.into_iter().zip(counts).collect();
        Histogram::from_cumulative(&pairs, 442.6225922320001).unwrap().with_count(74.0)
    }

    pub(super) fn h(pairs: &[(f64, f64)]) -> Histogram {
        Histogram::from_cumulative(pairs, 0.0).unwrap()
    }

    #[test]
    fn seed_count_sum_mean() {
        let h = seed();
        assert_eq!(h.count(), 74.0);
        assert_relative_eq!(h.sum(), 442.62, epsilon = 0.005);
        // 442.6225922320001 / 74 = 5.98138...
        assert_relative_eq!(h.mean(), 5.98, epsilon = 0.005);
    }

    #[test]
    fn seed_quantiles() {
        let h = seed();
        // p50: rank 0.5 × 74 = 37 lies in (0, 0.5] holding 39: 0.5 × 37/39 = 0.47436.
        assert_relative_eq!(h.quantile(0.5), 0.5 * 37.0 / 39.0, epsilon = 1e-12);
        assert_relative_eq!(h.quantile(0.5), 0.474, epsilon = 0.0005);
        // p90: rank 66.6 lies in (10, 20] (57 → 64): 10 + 10 × (66.6 − 57)/7 = 23.714.
        assert_relative_eq!(h.quantile(0.9), 10.0 + 10.0 * 9.6 / 7.0, epsilon = 1e-9);
        assert_relative_eq!(h.quantile(0.9), 23.71, epsilon = 0.005);
        // p99: rank 73.26 lies in (30, 45] (71 → 74): 30 + 15 × 2.26/3 = 41.3.
        assert_relative_eq!(h.quantile(0.99), 41.3, epsilon = 1e-9);
    }

    #[test]
    fn seed_bands() {
        let bands = seed().bands(&[1.0, 5.0, 30.0]);
        let counts: Vec<f64> = bands.iter().map(|b| b.count).collect();
        // ≤1: 39; (1,5]: 55 − 39 = 16; (5,30]: 71 − 55 = 16; >30: 74 − 71 = 3.
        assert_eq!(counts, vec![39.0, 16.0, 16.0, 3.0]);
        let percent: Vec<f64> = bands.iter().map(|b| (b.fraction * 1000.0).round() / 10.0).collect();
        // 39/74 = 52.70 %, 16/74 = 21.62 %, 3/74 = 4.05 %.
        assert_eq!(percent, vec![52.7, 21.6, 21.6, 4.1]);
        assert!(bands.iter().all(|b| !b.approximate));
        let labels: Vec<String> = bands.iter().map(|b| b.display_label("s")).collect();
        assert_eq!(labels, vec!["≤1s", "1–5s", "5–30s", ">30s"]);
    }

    #[test]
    fn bands_beyond_largest_finite_bound_are_approximate() {
        // 1.14 layout ending at 10 s: 26 ≤ 10, 4 above.
        let old = h(&[(0.005, 4.0), (5.0, 15.0), (10.0, 26.0), (INF, 30.0)]);
        let bands = old.bands(&[1.0, 5.0, 30.0]);
        // ≤1 interpolates inside (0.005, 5]: 4 + 11 × (0.995/4.995) = 6.191...
        assert_relative_eq!(bands[0].count, 4.0 + 11.0 * 0.995 / 4.995, epsilon = 1e-9);
        assert!(bands[0].approximate && bands[1].approximate);
        // 5–30: only (5, 10] is known: 26 − 15 = 11; the 4 in +Inf count as >30.
        assert_eq!((bands[2].count, bands[2].approximate), (11.0, true));
        assert_eq!((bands[3].count, bands[3].approximate), (4.0, true));
        assert_eq!(bands[3].display_label("s"), ">30s");
    }

    #[test]
    fn a_minus_inf_bound_gives_no_nan_band() {
        // Found by fuzzing (fuzz/artifacts/analysis/crash-dd4ad341…): (1 − (−Inf)) / (18.25 − (−Inf))
        // is NaN. The 16.75 observations in (−Inf, 18.25] count above the edge 1.
        let x = h(&[(f64::NEG_INFINITY, 10.75), (18.25, 27.5), (INF, 53.5)]);
        let bands = x.bands(&[1.0, 5.0, 30.0]);
        assert!(bands.iter().all(|b| !b.count.is_nan()), "{bands:?}");
        assert_eq!(bands.iter().map(|b| b.count).sum::<f64>(), 53.5);
        assert_eq!(bands[0].count, 10.75);
    }

    #[test]
    fn lowest_bucket_interpolates_from_zero() {
        // 4 observations in (0, 2]: rank 1 (q = 0.25) is a quarter of the way: 0.5.
        let x = h(&[(2.0, 4.0), (INF, 4.0)]);
        assert_relative_eq!(x.quantile(0.25), 0.5);
        // Lowest bound ≤ 0: PromQL returns the bound itself.
        let negative = h(&[(-1.0, 4.0), (1.0, 8.0), (INF, 8.0)]);
        assert_eq!(negative.quantile(0.25), -1.0);
    }

    #[test]
    fn rank_in_inf_bucket_returns_highest_finite_bound() {
        // 2 of 10 observations are above 10: p90 rank 9 lands in (10, +Inf].
        let x = h(&[(5.0, 4.0), (10.0, 8.0), (INF, 10.0)]);
        assert_eq!(x.quantile(0.9), 10.0);
        assert_eq!(x.quantile(1.0), 10.0);
        assert!(x.quantile_beyond_bounds(0.9) && x.quantile_beyond_bounds(1.0));
        // Rank 8 is reached exactly at le = 10: inside the bounds.
        assert!(!x.quantile_beyond_bounds(0.8));
    }

    #[test]
    fn quantile_special_cases() {
        let x = h(&[(1.0, 1.0), (INF, 2.0)]);
        assert!(x.quantile(f64::NAN).is_nan());
        assert_eq!(x.quantile(-0.1), f64::NEG_INFINITY);
        assert_eq!(x.quantile(1.1), INF);
        // No observations, or only a +Inf bucket: NaN.
        assert!(h(&[(1.0, 0.0), (INF, 0.0)]).quantile(0.5).is_nan());
        assert!(h(&[(INF, 5.0)]).quantile(0.5).is_nan());
        // q = 0: rank 0 is reached by the first bucket → interpolation gives its start.
        assert_eq!(x.quantile(0.0), 0.0);
    }

    #[test]
    fn nan_total_returns_highest_finite_bound() {
        // observations NaN → rank NaN → sort.Search finds nothing → last finite bound, as in Go.
        let x = h(&[(1.0, 1.0), (2.0, 2.0), (INF, f64::NAN)]);
        assert_eq!(x.quantile(0.5), 2.0);
    }

    #[test]
    fn non_monotonic_buckets_are_repaired_and_flagged() {
        // 5 then 3: Prometheus raises the 3 to 5 (the envelope).
        let x = h(&[(1.0, 5.0), (2.0, 3.0), (4.0, 8.0), (INF, 8.0)]);
        assert!(!x.is_monotonic());
        let repaired = h(&[(1.0, 5.0), (2.0, 5.0), (4.0, 8.0), (INF, 8.0)]);
        assert!(repaired.is_monotonic());
        for q in [0.1, 0.5, 0.7, 0.99] {
            assert_eq!(x.quantile(q), repaired.quantile(q));
        }
    }

    #[test]
    fn float_noise_is_not_a_decrease() {
        // 1e15 then 1e15 − 0.125: a relative difference of 1.25e-16, below 1e-12.
        let x = h(&[(1.0, 1e15), (2.0, 1e15 - 0.125), (INF, 1e15)]);
        assert!(x.is_monotonic());
    }

    #[test]
    fn equal_bounds_coalesce_and_order_does_not_matter() {
        let x = Histogram::from_cumulative(&[(INF, 6.0), (1.0, 1.0), (1.0, 2.0)], 1.0).unwrap();
        assert_eq!(x.buckets(), &[Bucket { le: 1.0, count: 3.0 }, Bucket { le: INF, count: 6.0 }]);
    }

    pub(super) fn arbitrary_histogram(bounds: Vec<f64>) -> impl Strategy<Value = Histogram> {
        let n = bounds.len() + 1;
        (proptest::collection::vec(0u32..1000, n), 0.0f64..1e4).prop_map(move |(increments, sum)| {
            let mut total = 0.0;
            let mut pairs = Vec::with_capacity(n);
            for (i, inc) in increments.into_iter().enumerate() {
                total += f64::from(inc);
                pairs.push((bounds.get(i).copied().unwrap_or(INF), total));
            }
            Histogram::from_cumulative(&pairs, sum).unwrap()
        })
    }

    pub(super) fn arbitrary_bounds() -> impl Strategy<Value = Vec<f64>> {
        proptest::collection::btree_set(1u32..100_000, 1..20)
            .prop_map(|set| set.into_iter().map(|x| f64::from(x) / 1000.0).collect())
    }

    proptest! {
        #[test]
        fn quantiles_are_monotonic_in_q(
            h in arbitrary_bounds().prop_flat_map(arbitrary_histogram),
            mut qs in proptest::collection::vec(0.0f64..=1.0, 2..20),
        ) {
            qs.sort_by(f64::total_cmp);
            let values: Vec<f64> = qs.iter().map(|q| h.quantile(*q)).collect();
            if h.count() > 0.0 {
                for pair in values.windows(2) {
                    prop_assert!(pair[0] <= pair[1], "{values:?} for {qs:?}");
                }
            } else {
                prop_assert!(values.iter().all(|v| v.is_nan()));
            }
        }

        #[test]
        fn merge_is_commutative(
            (a, b) in arbitrary_bounds().prop_flat_map(|bounds| (arbitrary_histogram(bounds.clone()), arbitrary_histogram(bounds))),
        ) {
            prop_assert_eq!(a.merge(&b).unwrap(), b.merge(&a).unwrap());
        }

        #[test]
        fn bands_add_up_to_the_total(
            h in arbitrary_bounds().prop_flat_map(arbitrary_histogram),
            edges in proptest::collection::btree_set(1u32..200_000, 0..5),
        ) {
            let edges: Vec<f64> = edges.into_iter().map(|x| f64::from(x) / 1000.0).collect();
            let bands = h.bands(&edges);
            let total: f64 = bands.iter().map(|b| b.count).sum();
            prop_assert!((total - h.count()).abs() <= 1e-9 * h.count().max(1.0));
            prop_assert!(bands.iter().all(|b| b.count >= -1e-9));
        }
    }
}
