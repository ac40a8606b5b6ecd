//! `watch [METRIC] --interval DURATION`: a live per-node table of what changed in each
//! interval. Each tick gathers from the source, analyses against the previous tick (the
//! analysis' baseline, so a kubelet restart is handled as in `histogram --baseline`) and draws
//! one table. On a terminal the screen is cleared before each table; otherwise tables follow
//! each other, each after a timestamp line, so the output can be logged. `--count N` stops
//! after N tables, Ctrl-C stops at once. The numbers and the table come from `analysis` and
//! `report::table`; this module only keeps time and the previous tick.

use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::bail;

use super::{Outcome, gather};
use crate::analysis::{Query, Report, analyze};
use crate::cli::{Endpoint, SourceArgs, SourcePlan, parse_duration};
use crate::scrape::NodeScrape;

/// Arguments of `watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// The histogram family to watch (default `kubelet_pod_start_duration_seconds`); a first
    /// argument without `_` is a node name, as in `histogram`.
    #[arg(value_name = "METRIC")]
    pub metric: Option<String>,
    /// Where the metrics come from.
    #[command(flatten)]
    pub source: SourceArgs,
    /// How often to read every node, e.g. 10s or 500ms.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Duration,
    /// Stop after this many tables (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Quantiles to estimate, comma-separated, each in [0, 1].
    #[arg(long, value_delimiter = ',', default_values_t = [0.5, 0.9, 0.99], value_parser = crate::cli::parse_quantile)]
    pub quantiles: Vec<f64>,
    /// Band edges in seconds, comma-separated and increasing.
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 5.0, 30.0])]
    pub bands: Vec<f64>,
    /// The kubelet endpoint the histogram is served on.
    #[arg(long, value_enum, default_value_t = Endpoint::Metrics)]
    pub endpoint: Endpoint,
}

impl WatchArgs {
    /// The metric and the source flags, a first positional without `_` moved among the nodes
    /// (the same rule as `histogram`).
    pub fn resolved(&self) -> (String, SourceArgs) {
        crate::cli::metric_and_source(self.metric.as_deref(), &self.source)
    }
}

/// Runs `watch`.
pub async fn run(args: &WatchArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Outcome> {
    let (metric, source) = args.resolved();
    let plan = source.to_plan()?;
    if matches!(plan, SourcePlan::Prometheus { .. }) {
        bail!(
            "watch reads a cluster or files; for stored history use `histogram --prometheus URL --range DURATION`"
        );
    }
    if args.interval.is_zero() {
        bail!("--interval must be longer than 0");
    }
    if args.count == Some(0) {
        bail!("--count must be at least 1");
    }
    let mut query = Query::new(&metric);
    query.quantiles = args.quantiles.clone();
    query.bands = args.bands.clone();
    query.validate()?;
    let selector = super::histogram::selector_for(&metric)?;
    let path = args.endpoint.path();
    let terminal = std::io::stdout().is_terminal();

    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let first = tokio::select! {
        gathered = gather(&plan, path, &selector) => gathered?,
        _ = &mut ctrl_c => return Ok(Outcome::Complete),
    };
    query.method = first.method.to_string();
    for warning in &first.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    writeln!(
        err,
        "watching {metric} on {} node(s) every {}; the first table follows one interval from now",
        first.scrapes.len(),
        crate::report::format_value(args.interval.as_secs_f64(), "s")
    )?;
    let mut baseline = first.scrapes;
    let mut outcome = Outcome::from_scrapes(&baseline);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + args.interval, args.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shown: u64 = 0;
    while args.count.is_none_or(|count| shown < count) {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut ctrl_c => break,
        }
        let gathered = tokio::select! {
            gathered = gather(&plan, path, &selector) => gathered?,
            _ = &mut ctrl_c => break,
        };
        query.baseline = Some(baseline.clone());
        let report = analyze(&gathered.scrapes, &query);
        shown += 1;
        let frame = Frame { at: SystemTime::now(), interval: args.interval, index: shown, count: args.count };
        render_frame(&report, &frame, terminal, &mut &mut *out)?;
        out.flush()?;
        outcome = Outcome::from_counts(report.node_count(), report.errors.len());
        baseline = next_baseline(baseline, gathered.scrapes);
    }
    Ok(outcome)
}

/// When and which table this is.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// When the tick's collection finished.
    pub at: SystemTime,
    /// The interval the numbers cover.
    pub interval: Duration,
    /// 1 for the first table.
    pub index: u64,
    /// `--count`, if given.
    pub count: Option<u64>,
}

/// ANSI: cursor home, then erase the screen.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

/// Writes one table: a timestamp line, then the per-node table of the interval's changes.
/// `terminal` clears the screen first; otherwise a blank line separates tables.
pub fn render_frame(
    report: &Report,
    frame: &Frame,
    terminal: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if terminal {
        write!(out, "{CLEAR_SCREEN}")?;
    } else if frame.index > 1 {
        writeln!(out)?;
    }
    let of = frame.count.map(|c| format!("/{c}")).unwrap_or_default();
    writeln!(
        out,
        "--- {}  {}: changes in the last {} ({}{of}) ---",
        rfc3339(frame.at),
        report.metric,
        crate::report::format_value(frame.interval.as_secs_f64(), "s"),
        frame.index,
    )?;
    // The header says these are changes; caveats were for the whole history and repeat
    // every tick, so the table leaves both out.
    let mut shown = report.clone();
    shown.delta = false;
    shown.caveats.clear();
    crate::report::table::render(&shown, out)?;
    if report.nodes.iter().any(|n| n.reset.is_some()) {
        writeln!(out, "* the kubelet restarted during this interval: counted since the restart")?;
    }
    Ok(())
}

/// The baseline for the next tick: this tick's scrapes, except that a node that failed now
/// keeps its last good scrape (so its next answer covers everything it missed).
pub fn next_baseline(previous: Vec<NodeScrape>, current: Vec<NodeScrape>) -> Vec<NodeScrape> {
    let mut kept: std::collections::BTreeMap<String, NodeScrape> =
        previous.into_iter().filter(|s| s.outcome.is_ok()).map(|s| (s.node.clone(), s)).collect();
    for scrape in current {
        if scrape.outcome.is_ok() {
            kept.insert(scrape.node.clone(), scrape);
        }
    }
    kept.into_values().collect()
}

/// `2026-11-27T09:20:00Z` (UTC, whole seconds).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use kubelet_metrics::commands::watch::rfc3339;
/// assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_700_000_000)), "2023-11-14T22:13:20Z");
/// ```
pub fn rfc3339(at: SystemTime) -> String {
    let seconds = at.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::{Failure, FailureKind, Scraped};

    fn ok(node: &str, bytes: u64) -> NodeScrape {
        NodeScrape {
            node: node.into(),
            kubelet_version: None,
            outcome: Ok(Scraped { bytes, ..Scraped::default() }),
        }
    }

    #[test]
    fn a_failed_node_keeps_its_last_good_baseline() {
        let failed = NodeScrape {
            node: "a".into(),
            kubelet_version: None,
            outcome: Err(Failure { kind: FailureKind::Timeout, message: "late".into(), fix: None }),
        };
        let next = next_baseline(vec![ok("a", 1), ok("b", 1)], vec![failed, ok("b", 2)]);
        let bytes: Vec<(&str, u64)> =
            next.iter().map(|s| (s.node.as_str(), s.outcome.as_ref().expect("ok").bytes)).collect();
        assert_eq!(bytes, [("a", 1), ("b", 2)]);
    }

    #[test]
    fn dates_cross_leap_years_and_centuries() {
        let at = |s: u64| rfc3339(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_768_586), "2026-11-27T08:36:26Z");
    }

    #[test]
    fn frames_clear_the_screen_only_on_a_terminal() {
        let report = crate::report::sample_report();
        let frame = Frame { at: UNIX_EPOCH, interval: Duration::from_millis(500), index: 2, count: Some(3) };
        let mut piped = Vec::new();
        render_frame(&report, &frame, false, &mut piped).expect("render");
        let piped = String::from_utf8(piped).expect("utf-8");
        assert!(piped.starts_with("\n--- 1970-01-01T00:00:00Z  "), "{piped}");
        assert!(piped.contains("changes in the last 0.5s (2/3)"), "{piped}");
        assert!(!piped.contains('\x1b'));
        assert!(!piped.contains("caveats"));
        let mut terminal = Vec::new();
        render_frame(&report, &frame, true, &mut terminal).expect("render");
        assert!(terminal.starts_with(CLEAR_SCREEN.as_bytes()));
    }
}
