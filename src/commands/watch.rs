//! `watch [METRIC] --interval DURATION`: a live per-node table of what changed in each
//! interval. Each tick gathers from the source, analyses against the previous tick (the
//! analysis' baseline, so a kubelet restart is handled as in `histogram --baseline`) and draws
//! one table. On a terminal the screen is cleared before each table; otherwise tables follow
//! each other, each after a timestamp line, so the output can be logged. `--count N` stops
//! after N tables, Ctrl-C stops at once. The numbers and the table come from `analysis` and
//! `report::table`; this module only keeps time and the previous tick.

use std::io::Write;
use std::time::SystemTime;

use super::{Outcome, Terminals};
use crate::analysis::analyze;
use crate::cli::settings::WatchSettings;
use crate::collect::Options;
use crate::report;
use crate::report::paint::{self, Palette};
use crate::scrape::NodeScrape;
use crate::source::gather;

/// Runs `watch`.
pub async fn run(
    settings: &WatchSettings,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    let (plan, selector) = (&settings.source, &settings.selector);
    let mut query = settings.query.clone();
    let metric = query.metric.clone();
    let path = settings.endpoint.path();
    let terminal = terminals.stdout;
    let palette = Palette::new(terminals.color);
    // Tables redraw every interval: a progress bar between them would only flicker.
    let options = Options::new(crate::remedy::fix).without_signals();

    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let first = tokio::select! {
        gathered = gather(plan, path, selector, &options) => gathered?,
        _ = &mut ctrl_c => return Ok(Outcome::Complete),
    };
    query.method = first.method;
    for warning in &first.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    // Nothing to watch (a selector that matches no node, names the cluster does not have) is
    // said once, as `histogram` says it, instead of redrawing an empty table every interval.
    if let Some(why) = plan.nothing_found_in(&first.scrapes) {
        writeln!(err, "{why}")?;
        return Ok(Outcome::AllFailed);
    }
    super::write_near_misses(&first.scrapes, err)?;
    writeln!(
        err,
        "watching {metric} on {} node(s) every {}; the first table follows one interval from now",
        first.scrapes.len(),
        crate::report::format_value(settings.interval.as_secs_f64(), "s")
    )?;
    let mut baseline = first.scrapes;
    let mut outcome = Outcome::from_scrapes(&baseline);
    let mut ticker =
        tokio::time::interval_at(tokio::time::Instant::now() + settings.interval, settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shown: u64 = 0;
    let mut seen = std::collections::BTreeSet::new();
    while settings.count.is_none_or(|count| shown < count) {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut ctrl_c => break,
        }
        let gathered = tokio::select! {
            gathered = gather(plan, path, selector, &options) => gathered?,
            _ = &mut ctrl_c => break,
        };
        query.baseline = Some(baseline.clone());
        let mut report = analyze(&gathered.scrapes, &query);
        // A warning is news once: later frames leave out what an earlier one said.
        report.warnings.retain(|w| seen.insert(format!("{:?}: {}", w.node, w.message)));
        shown += 1;
        let frame = report::watch::Frame {
            at: SystemTime::now(),
            interval: settings.interval,
            index: shown,
            count: settings.count,
            max_rows: terminal.then(screen_rows).flatten(),
        };
        let mut text = Vec::new();
        report::watch::render_frame(&report, &frame, terminal, &mut text)?;
        // The screen-clearing prefix is ours; node names and messages after it are escaped, and
        // on a terminal the slowest nodes' rows are yellow.
        let ours = if terminal { report::watch::CLEAR_SCREEN.len() } else { 0 };
        out.write_all(&text[..ours])?;
        let slowest = paint::escaped_names(&report::order::slowest_nodes(&report));
        palette.render(|out| out.write_all(&text[ours..]), paint::verdict_or_row(&slowest), out)?;
        out.flush()?;
        outcome = Outcome::from_counts(report.node_count(), report.errors.len());
        baseline = next_baseline(baseline, gathered.scrapes);
    }
    Ok(outcome)
}

/// How many node rows fit the terminal: its height less the frame's own lines and a few for
/// the error and warning lists, so the header stays on screen.
fn screen_rows() -> Option<usize> {
    let (_, terminal_size::Height(height)) = terminal_size::terminal_size_of(std::io::stdout())?;
    Some(usize::from(height).saturating_sub(report::watch::FRAME_LINES + 6).max(1))
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
}
