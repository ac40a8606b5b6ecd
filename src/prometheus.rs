//! `--prometheus URL`: a Prometheus server's stored kubelet histograms as a source. For each
//! histogram family the selector keeps, the increase of every bucket over `--range` is read
//! with PromQL (`sum by (node, le) (increase(<metric>_bucket[<range>]))`, the same for `_sum`
//! and `_count` by node) and turned into one [`NodeScrape`] per node, holding ordinary
//! histogram families with cumulative buckets, so `histogram` and the analysis run unchanged.
//!
//! The pure part — building queries, parsing the HTTP API's JSON, turning instant vectors into
//! families — is separate from the one I/O function, [`gather`], which talks plain HTTP/1.1
//! through hyper-util's legacy client. Only `http://` URLs are supported (put an HTTPS-only
//! Prometheus behind a port-forward or a local proxy); the request carries no credentials.
//!
//! Decisions:
//! - Which families to read: the names Prometheus stores (`/api/v1/label/__name__/values`,
//!   restricted to `*_bucket`) whose family the selector keeps, so every command's selector
//!   works unchanged; label matchers of the selector are then applied to the built samples.
//! - The node is the value of `--prometheus-node-label` (default `node`, as `serve` labels it).
//!   Prometheus configurations that scrape kubelets directly usually only have `instance`
//!   (`host:port`); series without the label are dropped and a warning says to try
//!   `--prometheus-node-label instance`.
//! - `increase()` extrapolates to the edges of the range, so counts are usually not integers;
//!   they are kept as Prometheus computed them, so our quantiles equal PromQL's
//!   `histogram_quantile` over the same vectors.
//! - The kubelet version comes from `kubernetes_build_info` (`git_version`) when the selector
//!   keeps it and Prometheus stores it; its absence is not an error.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};

use crate::catalog::BUILD_INFO;
use crate::exposition::{Family, MetricKind, Sample, Selector, parse_value};
use crate::scrape::{NodeScrape, Scraped};
use crate::units::encode_component;

/// The default `--prometheus-node-label`: the label `serve` (and most relabelling configs) put
/// the node name in.
pub const DEFAULT_NODE_LABEL: &str = "node";
/// The default `--range`.
pub const DEFAULT_RANGE: Duration = Duration::from_secs(3600);
/// The `git_version` label of `kubernetes_build_info`.
const GIT_VERSION: &str = "git_version";

/// Where and how to read: a validated `--prometheus` plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The server's base URL, e.g. `http://prometheus.monitoring:9090` or
    /// `http://host/prometheus` behind a path prefix; no trailing `/`.
    pub url: String,
    /// How far back `increase()` looks.
    pub range: Duration,
    /// The label naming the node in the stored series.
    pub node_label: String,
    /// Deadline for each HTTP request.
    pub timeout: Duration,
}

/// Why reading Prometheus failed (the whole source, not one node).
#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    /// The request could not be sent or answered.
    #[error("could not reach Prometheus at {url}")]
    Transport {
        /// The request URL.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No answer in time.
    #[error("Prometheus at {url} did not answer within {after:?} (raise --timeout)")]
    Timeout {
        /// The request URL.
        url: String,
        /// The deadline.
        after: Duration,
    },
    /// An HTTP error status, with Prometheus' own error text when it sent one.
    #[error("Prometheus answered HTTP {status} to {url}: {message}")]
    Status {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The `error` field of the answer, or its first bytes.
        message: String,
    },
    /// The body is not the HTTP API's JSON.
    #[error("Prometheus at {url} sent an answer that is not its HTTP API's JSON")]
    Response {
        /// The request URL.
        url: String,
        /// What was wrong with it.
        #[source]
        source: ResponseError,
    },
}

/// What is wrong with an HTTP API answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Not JSON at all.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// `"status": "error"`.
    #[error("query failed ({error_type}): {message}")]
    Api {
        /// `errorType`, e.g. `bad_data`.
        error_type: String,
        /// `error`.
        message: String,
    },
    /// Valid JSON of an unexpected shape.
    #[error("unexpected shape: {0}")]
    Shape(String),
}

/// One element of an instant vector: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// The series' labels (no `__name__` after aggregation).
    pub labels: BTreeMap<String, String>,
    /// The value at the evaluation time.
    pub value: f64,
}

/// The three instant vectors of one histogram family, as returned by [`queries`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramVectors {
    /// The family name, e.g. `kubelet_pod_start_duration_seconds`.
    pub metric: String,
    /// `sum by (node, le) (increase(<metric>_bucket[range]))`.
    pub buckets: Vec<VectorSample>,
    /// `sum by (node) (increase(<metric>_sum[range]))`.
    pub sums: Vec<VectorSample>,
    /// `sum by (node) (increase(<metric>_count[range]))`.
    pub counts: Vec<VectorSample>,
}

/// What the stored histograms became: one scrape per node, plus warnings about the run.
#[derive(Debug, Clone, Default)]
pub struct Converted {
    /// One entry per node, sorted by node name.
    pub scrapes: Vec<NodeScrape>,
    /// Source-wide warnings (series without the node label, nothing stored).
    pub warnings: Vec<String>,
}

/// Checks a `--prometheus` URL and returns it without a trailing `/`.
///
/// ```
/// use kubelet_metrics::prometheus::base_url;
/// assert_eq!(base_url("http://127.0.0.1:9090/").unwrap(), "http://127.0.0.1:9090");
/// assert_eq!(base_url("http://host/prom").unwrap(), "http://host/prom");
/// assert!(base_url("https://host").is_err());
/// assert!(base_url("http://host:9090?x=1").is_err());
/// ```
pub fn base_url(raw: &str) -> Result<String, String> {
    let uri: http::Uri = raw.parse().map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(format!(
                "{raw:?}: only plain http:// is supported; reach an HTTPS Prometheus through \
                 `kubectl port-forward` or a local proxy"
            ));
        }
        _ => return Err(format!("{raw:?} needs an http:// scheme, e.g. http://127.0.0.1:9090")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{raw:?} has no host"));
    }
    if uri.query().is_some() {
        return Err(format!("{raw:?}: give the server's base URL, without a query"));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// A duration as a PromQL range: whole seconds as `300s`, otherwise milliseconds (`1500ms`).
///
/// ```
/// use std::time::Duration;
/// use kubelet_metrics::prometheus::promql_range;
/// assert_eq!(promql_range(Duration::from_secs(300)), "300s");
/// assert_eq!(promql_range(Duration::from_millis(1500)), "1500ms");
/// ```
pub fn promql_range(range: Duration) -> String {
    if range.subsec_millis() == 0 {
        format!("{}s", range.as_secs())
    } else {
        format!("{}ms", range.as_millis())
    }
}

/// The bucket, sum and count queries for `metric`, in that order.
///
/// ```
/// use std::time::Duration;
/// use kubelet_metrics::prometheus::queries;
/// let [buckets, _, count] = queries("x_seconds", Duration::from_secs(300), "node");
/// assert_eq!(buckets, "sum by (node, le) (increase(x_seconds_bucket[300s]))");
/// assert_eq!(count, "sum by (node) (increase(x_seconds_count[300s]))");
/// ```
pub fn queries(metric: &str, range: Duration, node_label: &str) -> [String; 3] {
    let range = promql_range(range);
    [
        format!("sum by ({node_label}, le) (increase({metric}_bucket[{range}]))"),
        format!("sum by ({node_label}) (increase({metric}_sum[{range}]))"),
        format!("sum by ({node_label}) (increase({metric}_count[{range}]))"),
    ]
}

/// The query for each node's kubelet version over the range.
pub fn version_query(range: Duration, node_label: &str) -> String {
    format!("max by ({node_label}, {GIT_VERSION}) (last_over_time({BUILD_INFO}[{}]))", promql_range(range))
}

/// The histogram families to read: stored `*_bucket` names whose family the selector keeps,
/// sorted and deduplicated.
///
/// ```
/// use kubelet_metrics::exposition::Selector;
/// use kubelet_metrics::prometheus::histogram_families;
/// let names = ["a_seconds_bucket".to_string(), "b_bucket".into(), "a_seconds_count".into()];
/// let selector: Selector = "a_seconds".parse().unwrap();
/// assert_eq!(histogram_families(&names, &selector), ["a_seconds"]);
/// ```
pub fn histogram_families(names: &[String], selector: &Selector) -> Vec<String> {
    let mut families: Vec<String> = names
        .iter()
        .filter_map(|name| name.strip_suffix("_bucket"))
        .filter(|family| !family.is_empty() && selector.keeps_family(family))
        .map(str::to_string)
        .collect();
    families.sort();
    families.dedup();
    families
}

/// Parses an answer of `/api/v1/label/__name__/values`: the metric names.
pub fn parse_names(body: &str) -> Result<Vec<String>, ResponseError> {
    let data = parse_data(body)?;
    let names = data.as_array().ok_or_else(|| ResponseError::Shape("`data` is not a list".into()))?;
    names
        .iter()
        .map(|n| {
            n.as_str()
                .map(str::to_string)
                .ok_or_else(|| ResponseError::Shape("a name is not a string".into()))
        })
        .collect()
}

/// Parses an answer of `/api/v1/query` whose result is an instant vector.
///
/// ```
/// use kubelet_metrics::prometheus::parse_vector;
/// let body = r#"{"status":"success","data":{"resultType":"vector",
///   "result":[{"metric":{"node":"n1","le":"+Inf"},"value":[1700000000.5,"3"]}]}}"#;
/// let vector = parse_vector(body).unwrap();
/// assert_eq!(vector[0].labels["node"], "n1");
/// assert_eq!(vector[0].value, 3.0);
/// ```
pub fn parse_vector(body: &str) -> Result<Vec<VectorSample>, ResponseError> {
    let data = parse_data(body)?;
    let kind = data["resultType"].as_str().unwrap_or("");
    if kind != "vector" {
        return Err(ResponseError::Shape(format!("result type {kind:?}, expected \"vector\"")));
    }
    let result = data["result"]
        .as_array()
        .ok_or_else(|| ResponseError::Shape("`data.result` is not a list".into()))?;
    result
        .iter()
        .map(|element| {
            let labels = element["metric"]
                .as_object()
                .ok_or_else(|| ResponseError::Shape("a result has no `metric` object".into()))?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            let raw = element["value"][1]
                .as_str()
                .ok_or_else(|| ResponseError::Shape("a result has no `value` pair".into()))?;
            let value = parse_value(raw)
                .map_err(|_| ResponseError::Shape(format!("value {raw:?} is not a number")))?;
            Ok(VectorSample { labels, value })
        })
        .collect()
}

/// The `data` of a successful answer, or the API's own error.
fn parse_data(body: &str) -> Result<serde_json::Value, ResponseError> {
    let mut value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| ResponseError::Json(e.to_string()))?;
    match value["status"].as_str() {
        Some("success") => Ok(value["data"].take()),
        Some("error") => Err(ResponseError::Api {
            error_type: value["errorType"].as_str().unwrap_or("unknown").to_string(),
            message: value["error"].as_str().unwrap_or("").to_string(),
        }),
        _ => Err(ResponseError::Shape("no `status` field".into())),
    }
}

/// Turns the vectors of every family (and the optional version vector) into one scrape per
/// node; series without `node_label` are dropped with a warning, and `selector`'s label
/// matchers apply to the built samples.
///
/// ```
/// use kubelet_metrics::exposition::Selector;
/// use kubelet_metrics::prometheus::{HistogramVectors, VectorSample, to_scrapes};
/// let at = |node: &str, le: Option<&str>, value: f64| VectorSample {
///     labels: [("node", node)].into_iter().chain(le.map(|le| ("le", le)))
///         .map(|(k, v)| (k.to_string(), v.to_string())).collect(),
///     value,
/// };
/// let vectors = HistogramVectors {
///     metric: "x_seconds".into(),
///     buckets: vec![at("n1", Some("1"), 2.0), at("n1", Some("+Inf"), 3.0)],
///     sums: vec![at("n1", None, 4.5)],
///     counts: vec![at("n1", None, 3.0)],
/// };
/// let converted = to_scrapes(&[vectors], &[], "node", &"x_seconds".parse::<Selector>()?);
/// assert_eq!(converted.scrapes[0].node, "n1");
/// # Ok::<(), kubelet_metrics::exposition::SelectorError>(())
/// ```
pub fn to_scrapes(
    histograms: &[HistogramVectors],
    versions: &[VectorSample],
    node_label: &str,
    selector: &Selector,
) -> Converted {
    let mut nodes: BTreeMap<String, Vec<Family>> = BTreeMap::new();
    let mut unlabelled = 0usize;
    for vectors in histograms {
        let metric = vectors.metric.as_str();
        let parts = [
            (format!("{metric}_bucket"), &vectors.buckets),
            (format!("{metric}_sum"), &vectors.sums),
            (format!("{metric}_count"), &vectors.counts),
        ];
        let mut per_node: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
        for (name, vector) in parts {
            let name: Arc<str> = name.as_str().into();
            for element in vector {
                let Some(node) = element.labels.get(node_label).filter(|n| !n.is_empty()) else {
                    unlabelled += 1;
                    continue;
                };
                let labels =
                    element.labels.iter().filter(|(k, _)| *k != node_label && *k != "__name__").collect();
                let sample = Sample { name: name.clone(), labels, value: element.value, timestamp_ms: None };
                if selector.keeps_sample(metric, &sample) {
                    per_node.entry(node.clone()).or_default().push(sample);
                }
            }
        }
        let bucket = format!("{metric}_bucket");
        for (node, mut samples) in per_node {
            // Buckets in `le` order, as an exposition lists them.
            samples.sort_by(|a, b| {
                let le = |s: &Sample| s.label("le").and_then(|le| parse_value(le).ok()).unwrap_or(f64::NAN);
                (*a.name != *bucket).cmp(&(*b.name != *bucket)).then_with(|| le(a).total_cmp(&le(b)))
            });
            nodes.entry(node).or_default().push(Family {
                name: metric.to_string(),
                help: String::new(),
                kind: MetricKind::Histogram,
                unit: String::new(),
                samples,
            });
        }
    }
    let version_of: BTreeMap<&str, &str> = versions
        .iter()
        .filter_map(|v| Some((v.labels.get(node_label)?.as_str(), v.labels.get(GIT_VERSION)?.as_str())))
        .collect();

    let mut warnings = Vec::new();
    if unlabelled > 0 {
        warnings.push(format!(
            "{unlabelled} stored series have no `{node_label}` label and were skipped; scrape configs \
             that read kubelets directly often name the node only in `instance` \
             (try --prometheus-node-label instance)"
        ));
    }
    if histograms.is_empty() {
        warnings.push("Prometheus stores no `*_bucket` series of the selected histogram".to_string());
    }
    let scrapes = nodes
        .into_iter()
        .map(|(node, families)| NodeScrape {
            kubelet_version: version_of.get(node.as_str()).map(|v| v.to_string()),
            node,
            outcome: Ok(Scraped { families, ..Scraped::default() }),
        })
        .collect();
    Converted { scrapes, warnings }
}

/// Reads every selected histogram family from Prometheus over `target.range`.
pub async fn gather(target: &Target, selector: &Selector) -> Result<Converted, PrometheusError> {
    let client = Client::new(target);
    let names_path =
        format!("/api/v1/label/__name__/values?{}", encode_pair("match[]", "{__name__=~\".+_bucket\"}"));
    let names = client.get(&names_path, parse_names).await?;
    let mut histograms = Vec::new();
    for metric in histogram_families(&names, selector) {
        let [buckets, sums, counts] = queries(&metric, target.range, &target.node_label);
        histograms.push(HistogramVectors {
            buckets: client.query(&buckets).await?,
            sums: client.query(&sums).await?,
            counts: client.query(&counts).await?,
            metric,
        });
    }
    let versions = if selector.keeps_family(BUILD_INFO) && !histograms.is_empty() {
        // Best effort: a Prometheus without the build info still has the histograms.
        client.query(&version_query(target.range, &target.node_label)).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(to_scrapes(&histograms, &versions, &target.node_label, selector))
}

fn encode_pair(key: &str, value: &str) -> String {
    format!("{}={}", encode_component(key), encode_component(value))
}

/// A plain-HTTP client aimed at one Prometheus.
struct Client<'a> {
    target: &'a Target,
    http:
        hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
}

impl<'a> Client<'a> {
    fn new(target: &'a Target) -> Client<'a> {
        let http =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        Client { target, http }
    }

    async fn query(&self, promql: &str) -> Result<Vec<VectorSample>, PrometheusError> {
        self.get(&format!("/api/v1/query?{}", encode_pair("query", promql)), parse_vector).await
    }

    /// GETs `path_and_query` under the base URL and parses the body with `parse`.
    async fn get<T>(
        &self,
        path_and_query: &str,
        parse: impl Fn(&str) -> Result<T, ResponseError>,
    ) -> Result<T, PrometheusError> {
        let url = format!("{}{path_and_query}", self.target.url);
        let transport = |source: Box<dyn std::error::Error + Send + Sync>| PrometheusError::Transport {
            url: url.clone(),
            source,
        };
        let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| transport(e.into()))?;
        let request = async {
            let response = self.http.get(uri).await.map_err(|e| transport(e.into()))?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|e| transport(e.into()))?.to_bytes();
            Ok::<_, PrometheusError>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.target.timeout, request)
            .await
            .map_err(|_| PrometheusError::Timeout { url: url.clone(), after: self.target.timeout })??;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            let message = match parse(&text).err() {
                Some(ResponseError::Api { error_type, message }) => format!("{error_type}: {message}"),
                _ => text.chars().take(200).collect(),
            };
            return Err(PrometheusError::Status { url, status: status.as_u16(), message });
        }
        parse(&text).map_err(|source| PrometheusError::Response { url, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Query, analyze};

    fn sample(labels: &[(&str, &str)], value: f64) -> VectorSample {
        VectorSample { labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), value }
    }

    fn vectors() -> HistogramVectors {
        HistogramVectors {
            metric: "m_seconds".into(),
            buckets: vec![
                sample(&[("node", "b"), ("le", "+Inf")], 4.0),
                sample(&[("node", "b"), ("le", "1")], 3.0),
                sample(&[("node", "a"), ("le", "0.5")], 1.0),
                sample(&[("node", "a"), ("le", "1")], 2.0),
                sample(&[("node", "a"), ("le", "+Inf")], 2.0),
                sample(&[("le", "+Inf")], 9.0),
            ],
            sums: vec![sample(&[("node", "a")], 1.2), sample(&[("node", "b")], 5.0)],
            counts: vec![sample(&[("node", "a")], 2.0), sample(&[("node", "b")], 4.0)],
        }
    }

    #[test]
    fn vectors_become_cumulative_families_per_node() {
        let selector: Selector = "m_seconds".parse().expect("selector");
        let versions = [sample(&[("node", "a"), ("git_version", "v1.33.4")], 1.0)];
        let converted = to_scrapes(&[vectors()], &versions, "node", &selector);
        let nodes: Vec<&str> = converted.scrapes.iter().map(|s| s.node.as_str()).collect();
        assert_eq!(nodes, ["a", "b"]);
        assert_eq!(converted.scrapes[0].kubelet_version.as_deref(), Some("v1.33.4"));
        let family = &converted.scrapes[0].outcome.as_ref().expect("ok").families[0];
        assert_eq!(family.kind, MetricKind::Histogram);
        let les: Vec<&str> = family.samples_named("m_seconds_bucket").filter_map(|s| s.label("le")).collect();
        assert_eq!(les, ["0.5", "1", "+Inf"], "sorted by bound");
        assert!(
            converted.warnings[0].contains("1 stored series have no `node` label"),
            "{:?}",
            converted.warnings
        );
        assert!(converted.warnings[0].contains("--prometheus-node-label instance"));

        // The analysis reads them as any payload: node a has 2 observations summing to 1.2;
        // its median is rank 1 → the top of the (0, 0.5] bucket.
        let report = analyze(&converted.scrapes, &Query::new("m_seconds"));
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let a = report.nodes.iter().find(|n| n.node == "a").expect("a");
        assert_eq!(a.stats.count, 2.0);
        assert!((a.stats.quantile(0.5).expect("p50") - 0.5).abs() < 1e-12);
        assert_eq!(report.cluster.stats.count, 6.0);
    }

    #[test]
    fn label_matchers_of_the_selector_still_apply() {
        let selector: Selector = "m_seconds_bucket{le=\"1\"}".parse().expect("selector");
        let converted = to_scrapes(&[vectors()], &[], "node", &selector);
        let samples: usize =
            converted.scrapes.iter().map(|s| s.outcome.as_ref().expect("ok").families[0].samples.len()).sum();
        assert_eq!(samples, 2, "only the le=\"1\" bucket of each node");
    }

    #[test]
    fn api_errors_and_other_shapes_are_typed() {
        let error = r#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#;
        assert_eq!(
            parse_vector(error),
            Err(ResponseError::Api {
                error_type: "bad_data".into(),
                message: "parse error at char 4".into()
            })
        );
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(matches!(parse_vector(matrix), Err(ResponseError::Shape(_))));
        assert!(matches!(parse_vector("<html>"), Err(ResponseError::Json(_))));
        let nan = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#;
        assert!(parse_vector(nan).expect("parses")[0].value.is_nan());
        let names = r#"{"status":"success","data":["a_bucket","b"]}"#;
        assert_eq!(parse_names(names).expect("names"), ["a_bucket", "b"]);
    }

    #[test]
    fn an_empty_store_is_explained() {
        let selector: Selector = "m_seconds".parse().expect("selector");
        let converted = to_scrapes(&[], &[], "node", &selector);
        assert!(converted.scrapes.is_empty());
        assert!(converted.warnings[0].contains("stores no"));
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            encode_pair("query", "sum by (node) (x[5m])"),
            "query=sum%20by%20%28node%29%20%28x%5B5m%5D%29"
        );
    }
}
