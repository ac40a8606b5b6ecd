//! The pieces of Prometheus' `histogram_quantile` for classic histograms (`promql/quantile.go`)
//! that decide which bucket a rank falls in, ported step for step so that our answers are
//! PromQL's: float-noise smoothing, the monotonic repair and Go's `sort.Search`.
//!
//! The estimate built on them ([`Histogram::quantile`](super::Histogram::quantile), bands,
//! counts at an edge) lives in [`crate::histogram`]; nothing here knows about families or nodes.

use super::Bucket;

/// Relative difference below which neighbouring bucket counts are treated as equal, as in
/// Prometheus' `correctPrecisionErrors(buckets, 1e-12)`.
pub(super) const PRECISION_TOLERANCE: f64 = 1e-12;

/// Go's `sort.Search(n, f)`, step for step, so that the bucket PromQL picks is the bucket we
/// pick even when NaN counts make `f` non-monotonic.
pub(super) fn go_sort_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0usize, n);
    while i < j {
        let h = (i + j) / 2;
        if !f(h) {
            i = h + 1;
        } else {
            j = h;
        }
    }
    i
}

/// Prometheus' `correctPrecisionErrors`: a count within a relative `tolerance` of the previous
/// one is set equal to it, so float noise does not read as a decrease.
pub(super) fn correct_precision_errors(buckets: &mut [Bucket], tolerance: f64) -> bool {
    let mut fixed = false;
    let Some(first) = buckets.first() else { return false };
    let mut prev = first.count;
    for bucket in buckets.iter_mut().skip(1) {
        let curr = bucket.count;
        let delta = (curr - prev).abs();
        if delta == 0.0 {
            continue;
        }
        if delta / curr <= tolerance {
            bucket.count = prev;
            fixed = true;
        } else {
            prev = curr;
        }
    }
    fixed
}

/// Prometheus' `ensureMonotonic`: raises every count to the running maximum. Returns true when
/// something had to change.
pub(super) fn ensure_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut forced = false;
    let Some(first) = buckets.first() else { return false };
    let mut max = first.count;
    for bucket in buckets.iter_mut().skip(1) {
        if bucket.count > max {
            max = bucket.count;
        } else if bucket.count < max {
            bucket.count = max;
            forced = true;
        }
    }
    forced
}
