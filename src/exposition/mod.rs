//! The Prometheus text exposition format (0.0.4) and OpenMetrics text: parsing and writing.
//! Knows nothing about kubelets, histograms' meaning or the network.

/// What a family's `# TYPE` line says it is (`Untyped` when there is no TYPE line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricKind {
    /// A monotonically increasing counter.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative `_bucket{le=...}` series plus `_sum` and `_count`.
    Histogram,
    /// `{quantile=...}` series plus `_sum` and `_count`.
    Summary,
    /// No TYPE line, or `untyped` / `unknown`.
    Untyped,
    /// OpenMetrics `gaugehistogram`.
    GaugeHistogram,
    /// OpenMetrics `info`.
    Info,
    /// OpenMetrics `stateset`.
    StateSet,
}

/// One metric family: its metadata and every sample that belongs to it, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The family name (for histograms, without `_bucket` / `_sum` / `_count`).
    pub name: String,
    /// HELP text, unescaped; empty when absent.
    pub help: String,
    /// What the TYPE line says.
    pub kind: MetricKind,
    /// OpenMetrics UNIT, empty when absent.
    pub unit: String,
    /// Samples in input order.
    pub samples: Vec<Sample>,
}

/// One sample line: full sample name (e.g. `x_bucket`), labels as sent (unescaped), value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's own name, e.g. `kubelet_pod_start_duration_seconds_bucket`.
    pub name: String,
    /// Label pairs in input order, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value; `NaN` and infinities are kept.
    pub value: f64,
    /// Optional timestamp in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}
