//! A terminal distribution chart of the cluster-wide line: one horizontal bar per band, scaled
//! so the largest band fills the width. Unicode eighth blocks by default, `#` in ASCII mode.
//! When bucket layouts differ, one chart per layout group (the cluster line has no bands then).

use std::io::{self, Write};

use crate::analysis::{Report, Stats};
use crate::report::{format_count, format_share};

/// How the chart is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartOptions {
    /// Total line width in characters (at least 20 is honoured).
    pub width: usize,
    /// Plain ASCII (`#`) instead of Unicode blocks.
    pub ascii: bool,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions { width: 60, ascii: false }
    }
}

/// Unicode blocks from one eighth to a full cell.
const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

/// Writes the chart of the cluster line (or of each layout group).
pub fn render(report: &Report, options: ChartOptions, out: &mut impl Write) -> io::Result<()> {
    let cluster = &report.cluster;
    if cluster.layouts.len() > 1 {
        for (index, layout) in cluster.layouts.iter().enumerate() {
            if index > 0 {
                writeln!(out)?;
            }
            let title = format!("CLUSTER[{}] ({})", index + 1, crate::text::bounded_names(&layout.members));
            write_chart(&title, &layout.stats, &report.unit, options, out)?;
        }
        return Ok(());
    }
    write_chart("cluster", &cluster.stats, &report.unit, options, out)
}

fn write_chart(
    title: &str,
    stats: &Stats,
    unit: &str,
    options: ChartOptions,
    out: &mut impl Write,
) -> io::Result<()> {
    writeln!(out, "distribution, {title}: {} observations", format_count(stats.count))?;
    if stats.bands.is_empty() || stats.count.is_nan() || stats.count <= 0.0 {
        return writeln!(out, "  (no observations)");
    }
    let labels: Vec<String> = stats.bands.iter().map(|b| b.display_label(unit)).collect();
    let shares: Vec<String> = stats.bands.iter().map(format_share).collect();
    let label_width = labels.iter().map(|l| crate::text::display_width(l)).max().unwrap_or(0);
    let share_width = shares.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    // "  label  bar  share": two-space indent and two separators.
    let bar_width = options.width.max(20).saturating_sub(label_width + share_width + 6).max(1);
    let largest = stats.bands.iter().map(|b| b.fraction).fold(0.0, f64::max);
    for ((band, label), share) in stats.bands.iter().zip(&labels).zip(&shares) {
        let cells = if largest > 0.0 { (band.fraction / largest) * bar_width as f64 } else { 0.0 };
        let bar = draw_bar(cells, options.ascii);
        let pad = bar_width - bar.chars().count();
        let label = crate::text::pad_end(label, label_width);
        writeln!(out, "  {label}  {bar}{:pad$}  {share:>share_width$}", "")?;
    }
    Ok(())
}

/// A bar `cells` characters long (fractional cells in eighths, or rounded in ASCII).
fn draw_bar(cells: f64, ascii: bool) -> String {
    let cells = cells.max(0.0);
    if ascii {
        return "#".repeat(cells.round() as usize);
    }
    let eighths = (cells * 8.0).round() as usize;
    let mut bar = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        bar.push(EIGHTHS[eighths % 8 - 1]);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample_report;

    fn rendered(options: ChartOptions) -> String {
        let mut out = Vec::new();
        render(&sample_report(), options, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ascii_bars_scale_to_the_largest_band() {
        // Width 40 − label 5 − share 6 − 6 = 23 cells for the largest band (35.7 %);
        // 12.9/35.7 × 23 = 8.3 → 8 and 15.7/35.7 × 23 = 10.1 → 10.
        insta::assert_snapshot!(rendered(ChartOptions { width: 40, ascii: true }), @"
        distribution, cluster: 14 observations
          ≤1s    #######################   35.7%
          1–5s   #######################   35.7%
          5–20s  ########                 ~12.9%
          >20s   ##########               ~15.7%
        ");
    }

    #[test]
    fn unicode_bars_use_eighths() {
        // 60 − 17 = 43 cells; 1.8/5 × 43 = 15.48 → 15 full + 4/8; 2.2/5 × 43 = 18.92 → 18 + 7/8.
        insta::assert_snapshot!(rendered(ChartOptions::default()), @"
        distribution, cluster: 14 observations
          ≤1s    ███████████████████████████████████████████   35.7%
          1–5s   ███████████████████████████████████████████   35.7%
          5–20s  ███████████████▌                             ~12.9%
          >20s   ██████████████████▉                          ~15.7%
        ");
    }

    #[test]
    fn lines_never_exceed_the_width() {
        for width in [20, 33, 80] {
            let text = rendered(ChartOptions { width, ascii: false });
            assert!(text.lines().skip(1).all(|l| l.chars().count() <= width), "{text}");
        }
    }
}
