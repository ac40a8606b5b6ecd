//! The family adapter: a parsed family's `_bucket`, `_sum` and `_count` samples → one
//! [`Histogram`] per label set (without `le`), the series that could not be read, and PromQL
//! `sum by (label, le)` over them ([`group`]).
//!
//! The bucket math lives in [`crate::histogram`]; the text format and [`Family`] live in
//! [`crate::exposition`]; which family to read, and what a problem means for a report, is
//! [`crate::analysis`]'s call.

use std::collections::BTreeMap;

use super::{Histogram, HistogramError};
use crate::exposition::Family;

/// A series' identity: its labels without `le`, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// One histogram series of a family: its labels (without `le`) and its histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Labels without `le`.
    pub labels: Labels,
    /// The series' buckets, sum and count.
    pub histogram: Histogram,
}

/// A series that could not be read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesProblem {
    /// Labels without `le`.
    pub labels: Labels,
    /// What is wrong with it.
    pub error: HistogramError,
}

/// Every histogram series of one family, plus the series that could not be read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FamilySeries {
    /// Readable series, sorted by labels.
    pub series: Vec<Series>,
    /// Unreadable series, sorted by labels.
    pub problems: Vec<SeriesProblem>,
    /// Samples that repeat a series already seen (same name and labels, `le` as written), in
    /// the order met, spelled `x_bucket{le="0.5"}`. Prometheus rejects such duplicates, so the
    /// first sample of each series is kept and these are not added.
    pub duplicates: Vec<String>,
}

#[derive(Default)]
struct SeriesParts {
    buckets: Vec<(f64, f64)>,
    /// Each bucket's `le` as written: two samples with the same one are the same series.
    bucket_les: Vec<String>,
    sum: Option<f64>,
    count: Option<f64>,
    error: Option<HistogramError>,
}

/// Reads the `{name}_bucket`, `{name}_sum` and `{name}_count` samples of `name` out of
/// `samples` (usually one family's), one histogram per label set without `le` (labels with an
/// empty value dropped, as Prometheus does).
///
/// ```
/// use kubelet_metrics::exposition::Sample;
/// use kubelet_metrics::histogram::from_samples;
/// let sample = |name: &str, le: Option<&str>, value: f64| Sample {
///     name: name.into(),
///     labels: le.iter().map(|le| ("le", *le)).collect(),
///     value,
///     timestamp_ms: None,
/// };
/// let samples = [sample("x_bucket", Some("1"), 2.0), sample("x_bucket", Some("+Inf"), 3.0),
///                sample("x_sum", None, 2.5), sample("x_count", None, 3.0)];
/// let read = from_samples("x", samples.iter());
/// assert_eq!(read.series.len(), 1);
/// assert_eq!(read.series[0].histogram.mean(), 2.5 / 3.0);
/// ```
pub fn from_samples<'a>(
    name: &str,
    samples: impl IntoIterator<Item = &'a crate::exposition::Sample>,
) -> FamilySeries {
    let bucket_name = format!("{name}_bucket");
    let sum_name = format!("{name}_sum");
    let count_name = format!("{name}_count");
    let mut parts: BTreeMap<Labels, SeriesParts> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for sample in samples {
        let is_bucket = *sample.name == *bucket_name;
        if !is_bucket && *sample.name != *sum_name && *sample.name != *count_name {
            continue;
        }
        // As in Prometheus, a label with an empty value is the same as no label.
        let labels: Labels = sample
            .labels
            .iter()
            .filter(|&(k, v)| k != "le" && !v.is_empty())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let entry = parts.entry(labels).or_default();
        let duplicate = if is_bucket {
            match sample.labels.get("le") {
                None => {
                    entry.error = entry.error.take().or(Some(HistogramError::MissingLe));
                    false
                }
                Some(raw) if entry.bucket_les.iter().any(|le| le == raw) => true,
                Some(raw) => {
                    entry.bucket_les.push(raw.to_owned());
                    match parse_le(raw) {
                        Ok(le) => entry.buckets.push((le, sample.value)),
                        Err(error) => entry.error = entry.error.take().or(Some(error)),
                    }
                    false
                }
            }
        } else {
            let slot = if *sample.name == *sum_name { &mut entry.sum } else { &mut entry.count };
            let seen = slot.is_some();
            slot.get_or_insert(sample.value);
            seen
        };
        if duplicate {
            duplicates.push(series_name(sample));
        }
    }
    let mut read = FamilySeries { duplicates, ..FamilySeries::default() };
    for (labels, part) in parts {
        let built = match part.error {
            Some(error) => Err(error),
            None if part.buckets.is_empty() => Err(HistogramError::NoBuckets),
            None => Histogram::from_cumulative(&part.buckets, part.sum.unwrap_or(f64::NAN)),
        };
        match built {
            Ok(histogram) => {
                let histogram = match part.count {
                    Some(count) => histogram.with_count(count),
                    None => histogram,
                };
                read.series.push(Series { labels, histogram });
            }
            Err(error) => read.problems.push(SeriesProblem { labels, error }),
        }
    }
    read
}

/// `x_bucket{op="a",le="0.5"}`: a sample's series as the exposition format writes it.
fn series_name(sample: &crate::exposition::Sample) -> String {
    let labels: Vec<String> = sample.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{}{{{}}}", sample.name, labels.join(","))
}

/// [`from_samples`] over one family's samples, named by the family.
pub fn from_family(family: &Family) -> FamilySeries {
    from_samples(&family.name, family.samples.iter())
}

/// Parses an `le` value as Prometheus does (`strconv.ParseFloat`: `+Inf`, `1e+06`, `.5`, ...).
fn parse_le(raw: &str) -> Result<f64, HistogramError> {
    match raw.trim().parse::<f64>() {
        Ok(le) if le.is_nan() => Err(HistogramError::NanLe),
        Ok(le) => Ok(le),
        Err(_) => Err(HistogramError::BadLe(raw.to_string())),
    }
}

/// Sums series into one histogram per value of label `by` (a missing label counts as `""`), or
/// into a single histogram under `""` when `by` is `None` — PromQL `sum by (by, le)`. A group
/// whose series have different layouts is an error rather than a mix.
///
/// ```
/// use kubelet_metrics::histogram::{group, Histogram, Series};
/// let series = |op: &str, n: f64| Series {
///     labels: [("operation_type".to_string(), op.to_string())].into(),
///     histogram: Histogram::from_cumulative(&[(1.0, n), (f64::INFINITY, n)], n).unwrap(),
/// };
/// let all = [series("create", 1.0), series("sync", 2.0), series("sync", 3.0)];
/// let by_op = group(&all, Some("operation_type"));
/// assert_eq!(by_op["sync"].as_ref().unwrap().count(), 5.0);
/// assert_eq!(group(&all, None)[""].as_ref().unwrap().count(), 6.0);
/// ```
pub fn group(series: &[Series], by: Option<&str>) -> BTreeMap<String, Result<Histogram, HistogramError>> {
    let mut groups: BTreeMap<String, Result<Histogram, HistogramError>> = BTreeMap::new();
    for one in series {
        let key = by.map(|label| one.labels.get(label).cloned().unwrap_or_default()).unwrap_or_default();
        match groups.get_mut(&key) {
            None => {
                groups.insert(key, Ok(one.histogram.clone()));
            }
            Some(Err(_)) => {}
            Some(Ok(sum)) => match sum.merge(&one.histogram) {
                Ok(merged) => *sum = merged,
                Err(error) => {
                    groups.insert(key, Err(error));
                }
            },
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{MetricKind, Sample};
    use crate::histogram::Bucket;
    use crate::histogram::tests::{INF, h};

    #[test]
    fn structural_errors_are_typed() {
        assert_eq!(Histogram::from_cumulative(&[(1.0, 1.0)], 0.0), Err(HistogramError::MissingInfBucket));
        assert_eq!(
            Histogram::from_cumulative(&[(f64::NAN, 1.0), (INF, 1.0)], 0.0),
            Err(HistogramError::NanLe)
        );
        let samples = [
            sample("x_bucket", &[("op", "a"), ("le", "one")], 1.0),
            sample("x_bucket", &[("op", "a"), ("le", "+Inf")], 1.0),
            sample("x_bucket", &[("op", "b")], 1.0),
            sample("x_bucket", &[("op", "c"), ("le", "1")], 1.0),
            sample("x_sum", &[("op", "d")], 1.0),
            sample("x_bucket", &[("op", "e"), ("le", "1")], 1.0),
            sample("x_bucket", &[("op", "e"), ("le", "+Inf")], 2.0),
        ];
        let read = from_samples("x", samples.iter());
        let errors: Vec<(&str, &HistogramError)> =
            read.problems.iter().map(|p| (p.labels["op"].as_str(), &p.error)).collect();
        assert_eq!(
            errors,
            vec![
                ("a", &HistogramError::BadLe("one".into())),
                ("b", &HistogramError::MissingLe),
                ("c", &HistogramError::MissingInfBucket),
                ("d", &HistogramError::NoBuckets),
            ]
        );
        assert_eq!(read.series.len(), 1);
        assert!(read.series[0].histogram.sum().is_nan()); // no _sum sample
    }

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            name: name.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            value,
            timestamp_ms: None,
        }
    }

    #[test]
    fn from_family_reads_every_label_set_and_by_groups_them() {
        let mut samples = Vec::new();
        for (op, ready, total, sum) in
            [("create", 1.0, 2.0, 3.0), ("sync", 4.0, 4.0, 1.0), ("create", 0.0, 1.0, 9.0)]
        {
            let node = if sum == 9.0 { "b" } else { "a" };
            samples.push(sample("rt_bucket", &[("op", op), ("x", node), ("le", "1")], ready));
            samples.push(sample("rt_bucket", &[("op", op), ("x", node), ("le", "+Inf")], total));
            samples.push(sample("rt_sum", &[("op", op), ("x", node)], sum));
            samples.push(sample("rt_count", &[("op", op), ("x", node)], total));
        }
        let family = Family {
            name: "rt".into(),
            help: String::new(),
            kind: MetricKind::Histogram,
            unit: String::new(),
            samples,
        };
        let read = from_family(&family);
        assert_eq!(read.series.len(), 3);
        assert!(read.problems.is_empty());
        let by_op = group(&read.series, Some("op"));
        let create = by_op["create"].as_ref().unwrap();
        // create: (1 + 0) ≤ 1, (2 + 1) total, sum 3 + 9.
        assert_eq!(create.buckets(), &[Bucket { le: 1.0, count: 1.0 }, Bucket { le: INF, count: 3.0 }]);
        assert_eq!(create.sum(), 12.0);
        let all = group(&read.series, None);
        assert_eq!(all[""].as_ref().unwrap().count(), 7.0);
        assert_eq!(group(&read.series, Some("missing"))[""].as_ref().unwrap().count(), 7.0);
    }

    #[test]
    fn duplicate_series_keep_their_first_sample_and_are_listed() {
        // Two scrapes concatenated: 2 then 3 in `le="1"`, 2 then 6 in `+Inf`; Prometheus keeps
        // the first sample of a series and rejects the rest, and so do we (no 2 + 3).
        let samples = [
            sample("x_bucket", &[("le", "1")], 2.0),
            sample("x_bucket", &[("le", "+Inf")], 2.0),
            sample("x_sum", &[], 1.5),
            sample("x_count", &[], 2.0),
            sample("x_bucket", &[("le", "1")], 3.0),
            sample("x_bucket", &[("le", "+Inf")], 6.0),
            sample("x_sum", &[], 9.0),
            sample("x_count", &[], 6.0),
        ];
        let read = from_samples("x", samples.iter());
        let x = &read.series[0].histogram;
        assert_eq!((x.buckets()[0].count, x.buckets()[1].count, x.count(), x.sum()), (2.0, 2.0, 2.0, 1.5));
        assert_eq!(read.duplicates, ["x_bucket{le=\"1\"}", "x_bucket{le=\"+Inf\"}", "x_sum{}", "x_count{}"]);
        // `le="1"` and `le="1.0"` are different series (PromQL adds them up): not duplicates.
        let spelled = [sample("x_bucket", &[("le", "1")], 1.0), sample("x_bucket", &[("le", "1.0")], 1.0)];
        assert!(from_samples("x", spelled.iter()).duplicates.is_empty());
    }

    #[test]
    fn group_refuses_mixed_layouts() {
        let series = vec![
            Series { labels: Labels::new(), histogram: h(&[(1.0, 1.0), (INF, 1.0)]) },
            Series {
                labels: [("a".to_string(), "1".to_string())].into(),
                histogram: h(&[(2.0, 1.0), (INF, 1.0)]),
            },
        ];
        let groups = group(&series, None);
        assert_eq!(groups[""], Err(HistogramError::LayoutMismatch { left: "1".into(), right: "2".into() }));
    }
}
