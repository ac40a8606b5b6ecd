//! `watch`'s frames: a timestamp line, then the per-node table of what changed in the interval.
//! On a terminal the screen is cleared first; piped, frames follow one another.

use std::io::Write;
use std::time::{Duration, SystemTime};

use crate::analysis::Report;
use crate::units::rfc3339;

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
    /// The most node rows that fit the screen (a terminal's height), if it is bounded.
    pub max_rows: Option<usize>,
}

/// Lines a frame spends around its node rows: the timestamp, the header, the cluster line and
/// the "… N more nodes" line.
pub const FRAME_LINES: usize = 4;

/// ANSI: cursor home, then erase the screen.
pub const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

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
        super::format_value(frame.interval.as_secs_f64(), "s"),
        frame.index,
    )?;
    // The header says these are changes; caveats were for the whole history and repeat
    // every tick, so the table leaves both out.
    let mut shown = report.clone();
    shown.delta = false;
    shown.caveats.clear();
    // Rows stay where they are from one frame to the next: by node, not slowest first.
    shown.nodes.sort_by(|a, b| a.node.cmp(&b.node).then_with(|| a.group.cmp(&b.group)));
    let hidden = frame.max_rows.map_or(0, |rows| shown.nodes.len().saturating_sub(rows));
    shown.nodes.truncate(shown.nodes.len() - hidden);
    super::table::render(&shown, out)?;
    if hidden > 0 {
        writeln!(out, "… {hidden} more nodes (a taller terminal, -l or NODE names show them)")?;
    }
    if report.nodes.iter().any(|n| n.reset.is_some()) {
        writeln!(out, "* the kubelet restarted during this interval: counted since the restart")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_clear_the_screen_only_on_a_terminal() {
        let report = crate::report::sample_report();
        let frame = Frame {
            at: std::time::UNIX_EPOCH,
            interval: Duration::from_millis(500),
            index: 2,
            count: Some(3),
            max_rows: None,
        };
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
        insta::assert_snapshot!(piped);
    }

    #[test]
    fn a_short_screen_shows_the_first_rows_and_says_how_many_more() {
        let report = crate::report::sample_report();
        let frame = Frame {
            at: std::time::UNIX_EPOCH,
            interval: Duration::from_secs(10),
            index: 1,
            count: None,
            max_rows: Some(1),
        };
        let mut out = Vec::new();
        render_frame(&report, &frame, false, &mut out).expect("render");
        let text = String::from_utf8(out).expect("utf-8");
        let rows: Vec<&str> = text.lines().skip(2).take(3).collect();
        assert!(rows[0].starts_with("n1 "), "{text}");
        assert!(rows[1].starts_with("CLUSTER"), "{text}");
        assert!(text.contains("… 1 more nodes"), "{text}");
    }
}
