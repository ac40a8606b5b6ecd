//! `compare`'s arithmetic and rendering: per-method latency (p50, p99, mean), bytes, throughput
//! and errors over interleaved fetches, which method this setup favours and why, and the seed's
//! comparison table with the measured rows filled in.
//!
//! Pure: takes the fetches `commands::compare` timed through `cluster`, returns values and text.
//!
//! Percentiles are nearest-rank: the p-th percentile of n sorted latencies is the
//! ⌈p·n⌉-th smallest (so p99 of fewer than 100 fetches is the slowest one). Only successful
//! fetches have latencies; failures are counted by kind. Throughput is the successful fetches'
//! bytes over their summed time: one stream's rate, not the cluster's aggregate.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use crate::access::Method;
use crate::cluster::FetchError;
pub use crate::cluster::checks::Fetched;
use crate::rbac;
use crate::scrape::FailureKind;

/// Two methods' latencies within this ratio are "the same" (then the seed's default, proxy, wins).
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

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Decides between the methods: a method that failed loses; otherwise the faster at p50 wins
/// when it is more than [`SAME_LATENCY_RATIO`] faster, else proxy (the seed's default: no extra
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
                "the latencies are within {:.0}% (p50 proxy {}, direct {}), so the seed's default holds: the proxy \
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

fn size(bytes: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{value:.0} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn opt_ms(d: Option<Duration>) -> String {
    d.map(ms).unwrap_or_else(|| "-".into())
}

fn latency_text(s: &MethodStats) -> String {
    match (s.p50, s.p99) {
        (Some(p50), Some(p99)) => format!("p50 {}, p99 {} (measured)", ms(p50), ms(p99)),
        _ => "no successful fetch (measured)".into(),
    }
}

fn rbac_text(method: Method, who: &str) -> String {
    let needs: Vec<String> = rbac::required(method).iter().map(|p| p.to_string()).collect();
    format!("{who}: {}", needs.join(", "))
}

/// The seed's comparison table, its Performance row replaced by the measured latencies and
/// measured rows added; its RBAC row comes from [`rbac::required`].
pub fn table_rows(c: &Comparison) -> Vec<[String; 3]> {
    let row = |a: &str, p: String, d: String| [a.to_string(), p, d];
    let s = |t: &str| t.to_string();
    let throughput =
        |m: &MethodStats| m.throughput.map(|t| format!("{}/s", size(t))).unwrap_or_else(|| "-".into());
    let per_fetch =
        |m: &MethodStats| m.bytes_per_fetch().map(|b| size(b as f64)).unwrap_or_else(|| "-".into());
    vec![
        row("Authentication", s("Your kubeconfig credentials"), s("Service account token")),
        row("Network Path", s("Via API server proxy"), s("Direct to kubelet")),
        row(
            "Where it works",
            s("From anywhere with kubectl access"),
            s("Where node addresses and the kubelet port are reachable"),
        ),
        row("Security", s("API server handles auth/authz"), s("Direct kubelet authentication")),
        row("Performance", latency_text(&c.proxy), latency_text(&c.direct)),
        row("RBAC", rbac_text(Method::Proxy, "your user"), rbac_text(Method::Direct, "the token's account")),
        row("Setup Complexity", s("No setup required"), s("Requires RBAC configuration")),
        row("IP Management", s("Uses node names"), s("Requires internal IPs")),
        row(
            "Use Case",
            s("General purpose, external access"),
            s("In-cluster monitoring, performance critical"),
        ),
        row("Bytes per fetch", per_fetch(&c.proxy), per_fetch(&c.direct)),
        row("Throughput", throughput(&c.proxy), throughput(&c.direct)),
        row("Errors", c.proxy.errors_text(), c.direct.errors_text()),
    ]
}

/// Renders the measurements, the seed's table with measured rows, and the verdict.
pub fn render_table(c: &Comparison, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "Measured {} GET {} on {} node{} × {} round{}, the methods interleaved.",
        c.proxy.fetches + c.direct.fetches,
        c.path,
        c.nodes.len(),
        if c.nodes.len() == 1 { "" } else { "s" },
        c.rounds,
        if c.rounds == 1 { "" } else { "s" }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<7}{:>8}{:>8}{:>11}{:>11}{:>11}{:>14}{:>14}",
        "METHOD", "FETCHES", "ERRORS", "P50", "P99", "MEAN", "BYTES/FETCH", "THROUGHPUT"
    )?;
    for m in [&c.proxy, &c.direct] {
        writeln!(
            out,
            "{:<7}{:>8}{:>8}{:>11}{:>11}{:>11}{:>14}{:>14}",
            m.method.as_str(),
            m.fetches,
            m.failed(),
            opt_ms(m.p50),
            opt_ms(m.p99),
            opt_ms(m.mean),
            m.bytes_per_fetch().map(|b| size(b as f64)).unwrap_or_else(|| "-".into()),
            m.throughput.map(|t| format!("{}/s", size(t))).unwrap_or_else(|| "-".into()),
        )?;
    }
    for m in [&c.proxy, &c.direct] {
        if let Some(first) = &m.first_error {
            writeln!(out, "{} error: {first}", m.method.as_str())?;
        }
    }
    writeln!(out)?;
    let rows = table_rows(c);
    let header = [
        "ASPECT".to_string(),
        "PROXY (kubectl get --raw)".to_string(),
        "DIRECT (kubelet :10250)".to_string(),
    ];
    let w0 = rows.iter().map(|r| r[0].chars().count()).chain([header[0].len()]).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r[1].chars().count()).chain([header[1].len()]).max().unwrap_or(0);
    for r in std::iter::once(&header).chain(rows.iter()) {
        writeln!(out, "{:<w0$}  {:<w1$}  {}", r[0], r[1], r[2])?;
    }
    writeln!(out)?;
    match c.verdict.favours {
        Some(m) => writeln!(out, "This setup favours {}: {}.", m.as_str(), c.verdict.reason),
        None => writeln!(out, "No method to favour: {}.", c.verdict.reason),
    }
}

fn ms_number(d: Option<Duration>) -> serde_json::Value {
    d.map(|d| serde_json::json!((d.as_secs_f64() * 1e6).round() / 1e3)).unwrap_or(serde_json::Value::Null)
}

fn stats_json(m: &MethodStats) -> serde_json::Value {
    let errors: BTreeMap<&str, usize> = m.errors.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    serde_json::json!({
        "fetches": m.fetches,
        "ok": m.ok,
        "errors": errors,
        "first_error": m.first_error,
        "p50_ms": ms_number(m.p50),
        "p99_ms": ms_number(m.p99),
        "mean_ms": ms_number(m.mean),
        "bytes": m.bytes,
        "bytes_per_fetch": m.bytes_per_fetch(),
        "throughput_bytes_per_second": m.throughput.map(f64::round),
    })
}

/// Renders the comparison as one JSON document: `{"path", "rounds", "nodes", "methods":
/// {"proxy": {...}, "direct": {...}}, "favours", "reason", "table": [[aspect, proxy, direct]]}`.
pub fn render_json(c: &Comparison, out: &mut impl Write) -> io::Result<()> {
    let document = serde_json::json!({
        "path": c.path,
        "rounds": c.rounds,
        "nodes": c.nodes,
        "methods": {"proxy": stats_json(&c.proxy), "direct": stats_json(&c.direct)},
        "favours": c.verdict.favours.map(Method::as_str),
        "reason": c.verdict.reason,
        "table": table_rows(c),
    });
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(method: Method, round: u32, millis: u64, bytes: u64) -> Fetch {
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

    fn sample() -> Comparison {
        let fetches = vec![
            ok(Method::Proxy, 1, 12, 250_000),
            ok(Method::Direct, 1, 3, 250_000),
            ok(Method::Direct, 2, 5, 250_000),
            ok(Method::Proxy, 2, 16, 250_000),
        ];
        compare("/metrics", 2, vec!["node-0".into()], &fetches)
    }

    #[test]
    fn table_fills_the_seed_rows_with_measurements() {
        let mut out = Vec::new();
        render_table(&sample(), &mut out).expect("rendered");
        let text = String::from_utf8(out).expect("utf-8");
        let expected = "\
Measured 4 GET /metrics on 1 node × 2 rounds, the methods interleaved.

METHOD  FETCHES  ERRORS        P50        P99       MEAN   BYTES/FETCH    THROUGHPUT
proxy         2       0    12.0 ms    16.0 ms    14.0 ms     244.1 KiB    17.0 MiB/s
direct        2       0     3.0 ms     5.0 ms     4.0 ms     244.1 KiB    59.6 MiB/s

ASPECT            PROXY (kubectl get --raw)                          DIRECT (kubelet :10250)
Authentication    Your kubeconfig credentials                        Service account token
Network Path      Via API server proxy                               Direct to kubelet
Where it works    From anywhere with kubectl access                  Where node addresses and the kubelet port are reachable
Security          API server handles auth/authz                      Direct kubelet authentication
Performance       p50 12.0 ms, p99 16.0 ms (measured)                p50 3.0 ms, p99 5.0 ms (measured)
RBAC              your user: list nodes, get nodes, get nodes/proxy  the token's account: list nodes, get nodes, get nodes/metrics
Setup Complexity  No setup required                                  Requires RBAC configuration
IP Management     Uses node names                                    Requires internal IPs
Use Case          General purpose, external access                   In-cluster monitoring, performance critical
Bytes per fetch   244.1 KiB                                          244.1 KiB
Throughput        17.0 MiB/s                                         59.6 MiB/s
Errors            0 of 2                                             0 of 2

This setup favours direct: direct is 4.0× faster at p50 (3.0 ms vs 12.0 ms; p99 5.0 ms vs 16.0 ms): it skips the API \
server hop — worth it for in-cluster monitoring, with least-privilege RBAC (`kubelet-metrics rbac`).
";
        assert_eq!(text, expected);
    }

    #[test]
    fn json_carries_stats_verdict_and_table() {
        let mut out = Vec::new();
        render_json(&sample(), &mut out).expect("rendered");
        let value: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(value["favours"], "direct");
        assert_eq!(value["methods"]["proxy"]["p50_ms"], 12.0);
        assert_eq!(value["methods"]["direct"]["p99_ms"], 5.0);
        assert_eq!(value["methods"]["direct"]["bytes_per_fetch"], 250_000);
        assert_eq!(value["methods"]["direct"]["errors"], serde_json::json!({}));
        assert_eq!(value["table"][4][0], "Performance");
    }
}
