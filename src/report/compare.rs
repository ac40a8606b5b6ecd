//! `compare`'s results as bytes: the measurements per method, the comparison table with its
//! measured rows, and the verdict, as aligned text or one JSON document. The arithmetic and the
//! verdict are decided in [`crate::compare`]; this module only decides how they look.

use crate::text::{display_width, pad_end};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use crate::access::Method;
use crate::compare::{Comparison, MethodStats, ms};
use crate::rbac;
use crate::report::paint::Tone;

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

/// The comparison table, its Performance row replaced by the measured latencies and
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

/// Renders the measurements, the comparison table with measured rows, and the verdict.
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
    let width =
        |column: usize| rows.iter().chain([&header]).map(|r| display_width(&r[column])).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    for r in std::iter::once(&header).chain(rows.iter()) {
        writeln!(out, "{}  {}  {}", pad_end(&r[0], w0), pad_end(&r[1], w1), r[2])?;
    }
    writeln!(out)?;
    let verdict = match c.verdict.favours {
        Some(m) => format!("This setup favours {}: {}.", m.as_str(), c.verdict.reason),
        None => format!("No method to favour: {}.", c.verdict.reason),
    };
    out.write_all(crate::text::wrap(&verdict, "", "").as_bytes())
}

/// How [`render_table`]'s lines are coloured on a terminal: a method's row red when every fetch
/// failed and yellow when some did, its first error red, and the verdict green when it favours
/// a method.
pub fn tone(c: &Comparison) -> impl Fn(&str) -> Option<Tone> + '_ {
    move |line| {
        if line.starts_with("This setup favours ") {
            return Some(Tone::Good);
        }
        let method = [&c.proxy, &c.direct]
            .into_iter()
            .find(|m| line.strip_prefix(m.method.as_str()).is_some_and(|rest| rest.starts_with(' ')))?;
        if line.starts_with(&format!("{} error: ", method.method.as_str())) {
            return Some(Tone::Bad);
        }
        match method.failed() {
            0 => None,
            n if n == method.fetches => Some(Tone::Bad),
            _ => Some(Tone::Warn),
        }
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
    super::document::write(&to_value(c), &super::document::DocumentFormat::Json, out)
}

/// The document [`render_json`] writes, for `-o yaml` and `-o jsonpath=` too.
pub fn to_value(c: &Comparison) -> serde_json::Value {
    serde_json::json!({
        "path": c.path,
        "rounds": c.rounds,
        "nodes": c.nodes,
        "methods": {"proxy": stats_json(&c.proxy), "direct": stats_json(&c.direct)},
        "favours": c.verdict.favours.map(Method::as_str),
        "reason": c.verdict.reason,
        "table": table_rows(c),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare;
    use crate::compare::tests::ok;

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
    fn table_fills_the_rows_with_measurements() {
        let mut out = Vec::new();
        render_table(&sample(), &mut out).expect("rendered");
        let text = String::from_utf8(out).expect("utf-8");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn on_a_terminal_errors_are_red_and_the_favoured_method_green() {
        let c = sample();
        let tone = tone(&c);
        assert_eq!(tone("proxy error: refused"), Some(Tone::Bad));
        assert_eq!(tone("proxy        2       0      12 ms"), None, "no failed fetch: plain");
        assert_eq!(tone("This setup favours direct: it is faster."), Some(Tone::Good));
        assert_eq!(tone("Performance  p50 12 ms"), None);
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

    #[test]
    fn json_snapshot() {
        let mut out = Vec::new();
        render_json(&sample(), &mut out).expect("rendered");
        insta::assert_snapshot!(String::from_utf8(out).expect("utf-8"));
    }
}
