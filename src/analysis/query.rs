//! What to analyse: the metric, quantiles, band edges, `--by` label and baseline
//! ([`Query`]), and the ways a query can be wrong ([`QueryError`]).
//!
//! The command builds the query from its flags (this module knows nothing of clap);
//! [`analyze`](super::analyze) answers it.

use crate::access::Origin;
use crate::histogram::format_bounds;
use crate::scrape::NodeScrape;

/// What to analyse. Built from `histogram`'s flags by the command; knows nothing of clap.
#[derive(Debug, Clone)]
pub struct Query {
    /// The histogram family, e.g. `kubelet_pod_start_duration_seconds`.
    pub metric: String,
    /// How the metrics were fetched (`proxy`, `direct`, `file`, ...), echoed in the report.
    pub method: Origin,
    /// Quantiles to estimate, each in [0, 1].
    pub quantiles: Vec<f64>,
    /// Band edges, increasing: `1, 5, 30` → ≤1, 1–5, 5–30, >30.
    pub bands: Vec<f64>,
    /// Split each node's series by this label.
    pub by: Option<String>,
    /// Earlier scrapes of the same nodes; when set, the report shows what changed since.
    pub baseline: Option<Vec<NodeScrape>>,
}

/// A query that cannot be answered as given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// A quantile outside [0, 1] (or NaN).
    #[error("quantile {0} is outside [0, 1]")]
    Quantile(f64),
    /// A band edge that is not a finite number.
    #[error("band edge {0} is not a finite number")]
    BandEdge(f64),
    /// Band edges that do not increase.
    #[error("band edges must increase: {0}")]
    BandOrder(String),
}

impl Query {
    /// A query for `metric` with the command's defaults: quantiles 0.5, 0.9, 0.99; bands 1, 5,
    /// 30; no `--by`; no baseline; method `file`.
    pub fn new(metric: impl Into<String>) -> Query {
        Query {
            metric: metric.into(),
            method: Origin::Files,
            quantiles: vec![0.5, 0.9, 0.99],
            bands: vec![1.0, 5.0, 30.0],
            by: None,
            baseline: None,
        }
    }

    /// Checks quantiles and band edges; [`analyze`](super::analyze) assumes a valid query.
    ///
    /// ```
    /// use kubelet_metrics::analysis::Query;
    /// assert!(Query::new("x").validate().is_ok());
    /// let mut q = Query::new("x");
    /// q.bands = vec![5.0, 1.0];
    /// assert!(q.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), QueryError> {
        if let Some(q) = self.quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return Err(QueryError::Quantile(*q));
        }
        if let Some(edge) = self.bands.iter().find(|e| !e.is_finite()) {
            return Err(QueryError::BandEdge(*edge));
        }
        if self.bands.windows(2).any(|w| w[0] >= w[1]) {
            return Err(QueryError::BandOrder(format_bounds(&self.bands)));
        }
        Ok(())
    }
}
