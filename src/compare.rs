//! `compare`'s arithmetic: per-method latency (p50, p99, mean), bytes, throughput and errors over
//! interleaved fetches, and which method this setup favours and why. Rendering the comparison
//! table and JSON is [`crate::report::compare`]'s job.
//!
//! Pure: takes the fetches `commands::compare` timed through `cluster`, returns values.
//!
//! Percentiles are nearest-rank: the p-th percentile of n sorted latencies is the
//! ⌈p·n⌉-th smallest (so p99 of fewer than 100 fetches is the slowest one). Only successful
//! fetches have latencies; failures are counted by kind. Throughput is the successful fetches'
//! bytes over their summed time: one stream's rate, not the cluster's aggregate.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::access::Method;
use crate::cluster::FetchError;
pub use crate::cluster::checks::Fetched;
use crate::scrape::FailureKind;

/// Two methods' latencies within this ratio are "the same" (then the default, proxy, wins).
pub const SAME_LATENCY_RATIO: f64 = 1.10;

/// One timed fetch of one node through one method.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    /// Which method.
    pub method: Method,
    /// Which node.
    pub node: String,
    /// The round, from 1.
    pub round: u32,
    /// Bytes and time to the last byte, or why it failed.
    pub outcome: Result<Fetched, FetchFailure>,
}

/// A failed fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailure {
    /// The failure class.
    pub kind: FailureKind,
    /// What happened.
    pub message: String,
}

impl From<&FetchError> for FetchFailure {
    fn from(err: &FetchError) -> FetchFailure {
        FetchFailure { kind: err.kind(), message: err.to_string() }
    }
}

/// The order of the two methods in a round: proxy first on odd rounds, direct first on even
/// ones, so neither always pays for a cold connection or benefits from a warm kubelet.
pub fn order(round: u32) -> [Method; 2] {
    if round % 2 == 1 { [Method::Proxy, Method::Direct] } else { [Method::Direct, Method::Proxy] }
}

/// One method's measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodStats {
    /// Which method.
    pub method: Method,
    /// Fetches attempted.
    pub fetches: usize,
    /// Fetches that succeeded.
    pub ok: usize,
    /// Failed fetches by failure kind.
    pub errors: BTreeMap<FailureKind, usize>,
    /// The first failure's message, for the report.
    pub first_error: Option<String>,
    /// Median latency of the successful fetches.
    pub p50: Option<Duration>,
    /// 99th-percentile latency of the successful fetches.
    pub p99: Option<Duration>,
    /// Mean latency of the successful fetches.
    pub mean: Option<Duration>,
    /// Bytes received by the successful fetches.
    pub bytes: u64,
    /// Bytes per second over the successful fetches' summed time.
    pub throughput: Option<f64>,
}

impl MethodStats {
    /// Failed fetches.
    pub fn failed(&self) -> usize {
        self.fetches - self.ok
    }

    /// Mean bytes per successful fetch.
    pub fn bytes_per_fetch(&self) -> Option<u64> {
        (self.ok > 0).then(|| self.bytes / self.ok as u64)
    }

    /// `0 of 10`, or `3 of 10 (refused ×3)`.
    pub fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return format!("0 of {}", self.fetches);
        }
        format!("{} of {} ({})", self.failed(), self.fetches, self.kinds_text())
    }

    /// The failures by kind: `refused ×3, timeout ×1`.
    pub fn kinds_text(&self) -> String {
        let kinds: Vec<String> = self.errors.iter().map(|(kind, n)| format!("{kind} ×{n}")).collect();
        kinds.join(", ")
    }
}

/// The nearest-rank percentile of sorted latencies: the ⌈q·n⌉-th smallest; `None` when empty.
///
/// ```
/// use std::time::Duration;
/// let ms = |v| Duration::from_millis(v);
/// let sorted = [ms(1), ms(2), ms(3), ms(4)];
/// assert_eq!(kubelet_metrics::compare::percentile(&sorted, 0.5), Some(ms(2)));
/// assert_eq!(kubelet_metrics::compare::percentile(&sorted, 0.99), Some(ms(4)));
/// ```
pub fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Summarises one method's fetches (others are ignored).
pub fn stats(method: Method, fetches: &[Fetch]) -> MethodStats {
    let mine: Vec<&Fetch> = fetches.iter().filter(|f| f.method == method).collect();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut errors: BTreeMap<FailureKind, usize> = BTreeMap::new();
    let mut first_error = None;
    let mut bytes = 0u64;
    for fetch in &mine {
        match &fetch.outcome {
            Ok(ok) => {
                latencies.push(ok.elapsed);
                bytes += ok.bytes;
            }
            Err(failure) => {
                *errors.entry(failure.kind).or_default() += 1;
                first_error.get_or_insert_with(|| format!("{}: {}", fetch.node, failure.message));
            }
        }
    }
    latencies.sort_unstable();
    let total: Duration = latencies.iter().sum();
    let mean = (!latencies.is_empty()).then(|| total / latencies.len() as u32);
    let throughput = (total > Duration::ZERO).then(|| bytes as f64 / total.as_secs_f64());
    MethodStats {
        method,
        fetches: mine.len(),
        ok: latencies.len(),
        errors,
        first_error,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        mean,
        bytes,
        throughput,
    }
}

/// Which method this setup favours, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The favoured method; `None` when neither worked.
    pub favours: Option<Method>,
    /// One sentence of evidence and reasoning.
    pub reason: String,
}

/// A duration in milliseconds with one decimal: `12.0 ms`.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Decides between the methods: a method that failed loses; otherwise the faster at p50 wins
/// when it is more than [`SAME_LATENCY_RATIO`] faster, else proxy (the default: no extra
/// RBAC, no node addresses, no kubelet CA).
pub fn verdict(proxy: &MethodStats, direct: &MethodStats) -> Verdict {
    let doctor = |m: Method| format!("`kubelet-metrics doctor --method {}` says why", m.as_str());
    match (proxy.ok, direct.ok) {
        (0, 0) => {
            return Verdict {
                favours: None,
                reason: format!(
                    "neither method worked (proxy {}; direct {}); {}",
                    proxy.errors_text(),
                    direct.errors_text(),
                    doctor(Method::Proxy)
                ),
            };
        }
        (_, 0) => {
            return Verdict {
                favours: Some(Method::Proxy),
                reason: format!(
                    "direct failed every fetch ({}); {}",
                    direct.kinds_text(),
                    doctor(Method::Direct)
                ),
            };
        }
        (0, _) => {
            return Verdict {
                favours: Some(Method::Direct),
                reason: format!(
                    "proxy failed every fetch ({}); {}",
                    proxy.kinds_text(),
                    doctor(Method::Proxy)
                ),
            };
        }
        _ => {}
    }
    match (proxy.failed(), direct.failed()) {
        (0, d) if d > 0 => {
            return Verdict {
                favours: Some(Method::Proxy),
                reason: format!("proxy answered every fetch while direct failed {}", direct.errors_text()),
            };
        }
        (p, 0) if p > 0 => {
            return Verdict {
                favours: Some(Method::Direct),
                reason: format!("direct answered every fetch while proxy failed {}", proxy.errors_text()),
            };
        }
        _ => {}
    }
    let (Some(p), Some(d)) = (proxy.p50, direct.p50) else {
        return Verdict { favours: Some(Method::Proxy), reason: "no latency to compare".into() };
    };
    let (p99p, p99d) = (proxy.p99.unwrap_or(p), direct.p99.unwrap_or(d));
    let ratio = |slow: Duration, fast: Duration| slow.as_secs_f64() / fast.as_secs_f64().max(1e-9);
    if ratio(p.max(d), p.min(d)) < SAME_LATENCY_RATIO {
        Verdict {
            favours: Some(Method::Proxy),
            reason: format!(
                "the latencies are within {:.0}% (p50 proxy {}, direct {}), so the default holds: the proxy \
                 needs no extra RBAC, node addresses or kubelet CA",
                (SAME_LATENCY_RATIO - 1.0) * 100.0,
                ms(p),
                ms(d)
            ),
        }
    } else if d < p {
        Verdict {
            favours: Some(Method::Direct),
            reason: format!(
                "direct is {:.1}× faster at p50 ({} vs {}; p99 {} vs {}): it skips the API server hop — worth it for \
                 in-cluster monitoring, with least-privilege RBAC (`kubelet-metrics rbac`)",
                ratio(p, d),
                ms(d),
                ms(p),
                ms(p99d),
                ms(p99p)
            ),
        }
    } else {
        Verdict {
            favours: Some(Method::Proxy),
            reason: format!(
                "proxy is {:.1}× faster at p50 ({} vs {}; p99 {} vs {}): from here the API server answers faster \
                 than the kubelets do directly, and the proxy needs no extra setup",
                ratio(d, p),
                ms(p),
                ms(d),
                ms(p99p),
                ms(p99d)
            ),
        }
    }
}

/// A whole comparison: what was measured and the outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The kubelet path fetched, e.g. `/metrics`.
    pub path: String,
    /// Rounds run.
    pub rounds: u32,
    /// The nodes measured, sorted.
    pub nodes: Vec<String>,
    /// The proxy method's measurements.
    pub proxy: MethodStats,
    /// The direct method's measurements.
    pub direct: MethodStats,
    /// Which method this setup favours.
    pub verdict: Verdict,
}

/// Builds the comparison from every fetch of both methods.
pub fn compare(path: &str, rounds: u32, nodes: Vec<String>, fetches: &[Fetch]) -> Comparison {
    let proxy = stats(Method::Proxy, fetches);
    let direct = stats(Method::Direct, fetches);
    let verdict = verdict(&proxy, &direct);
    Comparison { path: path.to_string(), rounds, nodes, proxy, direct, verdict }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fetch that took `millis` and brought `bytes`.
    pub(crate) fn ok(method: Method, round: u32, millis: u64, bytes: u64) -> Fetch {
        Fetch {
            method,
            node: "node-0".into(),
            round,
            outcome: Ok(Fetched { bytes, elapsed: Duration::from_millis(millis) }),
        }
    }

    fn failed(method: Method, round: u32, kind: FailureKind) -> Fetch {
        Fetch {
            method,
            node: "node-1".into(),
            round,
            outcome: Err(FetchFailure { kind, message: "connection refused by 127.0.0.1:9".into() }),
        }
    }

    #[test]
    fn rounds_alternate_which_method_goes_first() {
        assert_eq!(order(1), [Method::Proxy, Method::Direct]);
        assert_eq!(order(2), [Method::Direct, Method::Proxy]);
    }

    #[test]
    fn nearest_rank_percentiles() {
        // 10 latencies 1..=10 ms: p50 is the 5th (5 ms), p99 the 10th (10 ms).
        let sorted: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.5), Some(Duration::from_millis(5)));
        assert_eq!(percentile(&sorted, 0.99), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&sorted, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn stats_count_bytes_errors_and_throughput() {
        let fetches = vec![
            ok(Method::Direct, 1, 10, 1000),
            ok(Method::Direct, 2, 30, 3000),
            failed(Method::Direct, 3, FailureKind::Refused),
            ok(Method::Proxy, 1, 50, 1000),
        ];
        let s = stats(Method::Direct, &fetches);
        assert_eq!((s.fetches, s.ok, s.failed(), s.bytes), (3, 2, 1, 4000));
        assert_eq!(s.mean, Some(Duration::from_millis(20)));
        // 4000 bytes in 40 ms of transfer = 100,000 B/s.
        assert!((s.throughput.expect("measured") - 100_000.0).abs() < 1e-6);
        assert_eq!(s.errors_text(), "1 of 3 (refused ×1)");
        assert_eq!(s.first_error.as_deref(), Some("node-1: connection refused by 127.0.0.1:9"));
    }

    #[test]
    fn verdict_prefers_what_works_then_what_is_clearly_faster() {
        let run =
            |fetches: &[Fetch]| verdict(&stats(Method::Proxy, fetches), &stats(Method::Direct, fetches));
        let v = run(&[ok(Method::Proxy, 1, 10, 1), failed(Method::Direct, 1, FailureKind::Tls)]);
        assert_eq!(v.favours, Some(Method::Proxy));
        assert_eq!(
            v.reason,
            "direct failed every fetch (tls ×1); `kubelet-metrics doctor --method direct` says why"
        );
        let v = run(&[ok(Method::Proxy, 1, 40, 1), ok(Method::Direct, 1, 10, 1)]);
        assert_eq!(v.favours, Some(Method::Direct));
        assert!(v.reason.starts_with("direct is 4.0× faster at p50 (10.0 ms vs 40.0 ms;"), "{}", v.reason);
        let v = run(&[ok(Method::Proxy, 1, 10, 1), ok(Method::Direct, 1, 50, 1)]);
        assert_eq!(v.favours, Some(Method::Proxy));
        assert!(v.reason.starts_with("proxy is 5.0× faster"), "{}", v.reason);
        let v = run(&[ok(Method::Proxy, 1, 10, 1), ok(Method::Direct, 1, 10, 1)]);
        assert_eq!(v.favours, Some(Method::Proxy));
        assert!(v.reason.starts_with("the latencies are within 10%"), "{}", v.reason);
        let v = run(&[
            failed(Method::Proxy, 1, FailureKind::Forbidden),
            failed(Method::Direct, 1, FailureKind::Refused),
        ]);
        assert_eq!(v.favours, None);
    }
}
