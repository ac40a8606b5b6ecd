//! Deltas against a baseline: current minus baseline bucket by bucket, and the counter resets
//! (a kubelet restart) that make the current histogram the delta, as PromQL `increase()` does.
//!
//! Building, merging and reading histograms lives in [`crate::histogram`]; which baseline
//! belongs to which node, and how a reset is reported, lives in [`crate::analysis`].

use super::{Bucket, Histogram};

/// Why a delta is the current histogram rather than a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// A bucket, `_count` or the total went down: the kubelet restarted after the baseline.
    CountersDecreased,
    /// The bucket layout changed, which only happens with a new kubelet binary (a restart).
    LayoutChanged,
}

/// The change since a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta {
    /// What was observed since the baseline (or since the restart, when `reset` is set).
    pub histogram: Histogram,
    /// Set when the counters were reset after the baseline.
    pub reset: Option<Reset>,
}

impl Histogram {
    /// What was observed since `baseline`: current minus baseline per bucket, `_sum` and
    /// `_count`. If anything decreased (or the layout changed), the kubelet restarted after the
    /// baseline, so the current histogram is the delta, as PromQL `increase()` treats a reset;
    /// the whole histogram is taken, because a partly subtracted one would be inconsistent.
    /// (A restart followed by more observations than the baseline had in every bucket cannot be
    /// told from two snapshots, by this or by PromQL.)
    ///
    /// ```
    /// use kubelet_metrics::histogram::{Histogram, Reset};
    /// let before = Histogram::from_cumulative(&[(1.0, 4.0), (f64::INFINITY, 5.0)], 6.0)?;
    /// let after = Histogram::from_cumulative(&[(1.0, 7.0), (f64::INFINITY, 9.0)], 10.0)?;
    /// let delta = after.delta(&before);
    /// assert_eq!((delta.histogram.count(), delta.histogram.sum(), delta.reset), (4.0, 4.0, None));
    /// let restarted = Histogram::from_cumulative(&[(1.0, 1.0), (f64::INFINITY, 1.0)], 0.5)?;
    /// assert_eq!(restarted.delta(&before).reset, Some(Reset::CountersDecreased));
    /// # Ok::<(), kubelet_metrics::histogram::HistogramError>(())
    /// ```
    pub fn delta(&self, baseline: &Histogram) -> Delta {
        if !self.same_layout(baseline) {
            return Delta { histogram: self.clone(), reset: Some(Reset::LayoutChanged) };
        }
        let decreased = self.count < baseline.count
            || self.buckets.iter().zip(&baseline.buckets).any(|(now, then)| now.count < then.count);
        if decreased {
            return Delta { histogram: self.clone(), reset: Some(Reset::CountersDecreased) };
        }
        let buckets = self
            .buckets
            .iter()
            .zip(&baseline.buckets)
            .map(|(now, then)| Bucket { le: now.le, count: now.count - then.count })
            .collect();
        Delta {
            histogram: Histogram {
                buckets,
                sum: self.sum - baseline.sum,
                count: self.count - baseline.count,
            },
            reset: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::tests::{INF, arbitrary_bounds, arbitrary_histogram, h};
    use proptest::prelude::*;

    #[test]
    fn delta_subtracts_and_detects_resets() {
        let before = h(&[(1.0, 4.0), (5.0, 8.0), (INF, 10.0)]).with_count(10.0);
        let after = Histogram::from_cumulative(&[(1.0, 6.0), (5.0, 12.0), (INF, 15.0)], 5.0).unwrap();
        let delta = after.delta(&before);
        assert_eq!(delta.reset, None);
        // 6 − 4, 12 − 8, 15 − 10.
        assert_eq!(
            delta.histogram.buckets().iter().map(|b| b.count).collect::<Vec<_>>(),
            vec![2.0, 4.0, 5.0]
        );
        assert_eq!(delta.histogram.count(), 5.0);

        // The kubelet restarted: its ≤1 bucket went from 4 to 1 even though +Inf grew.
        let restarted = h(&[(1.0, 1.0), (5.0, 9.0), (INF, 11.0)]);
        let delta = restarted.delta(&before);
        assert_eq!(delta.reset, Some(Reset::CountersDecreased));
        assert_eq!(delta.histogram, restarted);

        let upgraded = h(&[(0.5, 1.0), (INF, 1.0)]);
        assert_eq!(upgraded.delta(&before).reset, Some(Reset::LayoutChanged));
    }

    proptest! {
        #[test]
        fn delta_from_itself_is_empty(h in arbitrary_bounds().prop_flat_map(arbitrary_histogram)) {
            let delta = h.delta(&h);
            prop_assert_eq!(delta.reset, None);
            prop_assert!(delta.histogram.buckets().iter().all(|b| b.count == 0.0));
        }
    }
}
