//! Cumulative `le` histograms: merge, mean, quantiles, bands, deltas. Pure.
