//! `histogram --plot FILE.svg`: a self-contained SVG of the distribution — one horizontal bar
//! per node (and `--by` group), then the cluster line, each split into the report's bands
//! (≤1s, 1–5s, ...) by their share of the row's observations, so slow nodes stand out as long
//! warm segments. Bars are ordered as in the table (slowest first); each segment carries a
//! `<title>` tooltip with its exact share and count, and the count and p99 are written at the
//! end of the row. Nothing is loaded from outside the file (no fonts, scripts or styles).
//!
//! Why bands rather than a CDF: bands are what the table prints, they compare nodes with
//! different bucket layouts on one scale, and they read the same on paper as on screen.

use std::io::{self, Write};

use crate::analysis::{Report, Stats};
use crate::report::{format_count, format_share, format_value};

/// Band colours from fast (green) to slow (red); reused cyclically for more bands.
const PALETTE: [&str; 6] = ["#2e7d32", "#9ccc65", "#ffb300", "#f4511e", "#b71c1c", "#6a1b9a"];
/// Total width of the picture, in pixels.
const WIDTH: usize = 860;
/// Width of the name column.
const LABEL_WIDTH: usize = 220;
/// Width of the bars.
const BAR_WIDTH: usize = 460;
/// Height of one row.
const ROW: usize = 26;
/// Space above the first row (title and legend).
const TOP: usize = 74;

/// Writes the SVG for `report`.
///
/// ```
/// use kubelet_metrics::analysis::{analyze, Query};
/// let report = analyze(&[], &Query::new("kubelet_pod_start_duration_seconds"));
/// let mut svg = Vec::new();
/// kubelet_metrics::report::svg::render(&report, &mut svg)?;
/// let svg = String::from_utf8(svg)?;
/// assert!(svg.starts_with("<svg ") && svg.contains("no nodes answered"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let delta = if report.delta { ", changes since the baseline" } else { "" };
    let heading = format!("{} ({}{delta})", report.metric, report.method.as_str());
    render_rows(&report.metric, &heading, &report.unit, &rows(report), out)
}

/// Writes the SVG of any rows of distributions: `name` is the picture's title, `heading` the
/// line above the legend, each row a bar split into its bands; a row named `CLUSTER...` or
/// `ALL` is bold. `pods --plot` draws its nodes this way.
pub fn render_rows(
    name: &str,
    heading: &str,
    unit: &str,
    rows: &[(String, &Stats)],
    out: &mut impl Write,
) -> io::Result<()> {
    let height = TOP + ROW * rows.len().max(1) + 40;
    writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(out, r#"<title>{}</title>"#, escape(name))?;
    writeln!(out, r##"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>"##)?;
    writeln!(out, r#"<text x="10" y="22" font-size="15" font-weight="bold">{}</text>"#, escape(heading))?;
    write_legend(rows, unit, out)?;
    writeln!(
        out,
        r##"<text x="{}" y="{}" fill="#555555">count · p99</text>"##,
        LABEL_WIDTH + BAR_WIDTH + 16,
        TOP - 8
    )?;
    if rows.is_empty() {
        writeln!(out, r#"<text x="10" y="{}">no nodes answered</text>"#, TOP + 16)?;
    }
    for (index, (row, stats)) in rows.iter().enumerate() {
        write_row(unit, index, row, stats, out)?;
    }
    writeln!(out, "</svg>")
}

/// `(name, stats)` per bar: every node row, then the cluster line (or each layout group).
fn rows(report: &Report) -> Vec<(String, &Stats)> {
    let mut rows: Vec<(String, &Stats)> = report.nodes.iter().map(|n| (n.name(), &n.stats)).collect();
    if report.cluster.layouts.len() > 1 {
        for (index, layout) in report.cluster.layouts.iter().enumerate() {
            rows.push((format!("CLUSTER[{}]", index + 1), &layout.stats));
        }
    } else if !report.nodes.is_empty() {
        rows.push(("CLUSTER".to_string(), &report.cluster.stats));
    }
    rows
}

fn write_legend(rows: &[(String, &Stats)], unit: &str, out: &mut impl Write) -> io::Result<()> {
    let bands = rows.iter().map(|(_, stats)| &stats.bands).find(|b| !b.is_empty());
    let Some(bands) = bands else { return Ok(()) };
    let mut x = 10;
    for (index, band) in bands.iter().enumerate() {
        let label = band.display_label(unit);
        writeln!(
            out,
            r#"<rect x="{x}" y="36" width="12" height="12" fill="{}"/><text x="{}" y="46">{}</text>"#,
            PALETTE[index % PALETTE.len()],
            x + 16,
            escape(&label)
        )?;
        x += 28 + 8 * label.chars().count();
    }
    Ok(())
}

fn write_row(unit: &str, index: usize, name: &str, stats: &Stats, out: &mut impl Write) -> io::Result<()> {
    let y = TOP + index * ROW;
    let cluster = name.starts_with("CLUSTER") || name == "ALL";
    let weight = if cluster { r#" font-weight="bold""# } else { "" };
    writeln!(out, r#"<g>"#)?;
    writeln!(out, r#"<text x="10" y="{}"{weight}>{}</text>"#, y + 16, escape(&truncate(name, 32)))?;
    if stats.count.is_nan() || stats.count <= 0.0 || stats.bands.is_empty() {
        writeln!(out, r##"<text x="{LABEL_WIDTH}" y="{}" fill="#777777">no observations</text>"##, y + 16)?;
    } else {
        let mut x = LABEL_WIDTH as f64;
        for (band_index, band) in stats.bands.iter().enumerate() {
            let fraction = if band.fraction.is_finite() { band.fraction.clamp(0.0, 1.0) } else { 0.0 };
            let width = fraction * BAR_WIDTH as f64;
            writeln!(
                out,
                r#"<rect x="{x:.2}" y="{}" width="{width:.2}" height="{}" fill="{}"><title>{}: {} ({})</title></rect>"#,
                y + 3,
                ROW - 6,
                PALETTE[band_index % PALETTE.len()],
                escape(&band.display_label(unit)),
                escape(&format_share(band)),
                format_count(band.count),
            )?;
            x += width;
        }
    }
    // A rank in the +Inf bucket: the value is the highest finite bound, only a lower bound.
    let at_least = if stats.is_lower_bound(0.99) { "≥" } else { "" };
    let p99 = stats
        .quantile(0.99)
        .map(|v| format!("{at_least}{}", format_value(v, unit)))
        .unwrap_or_else(|| "-".to_string());
    writeln!(
        out,
        r#"<text x="{}" y="{}">{} · {}</text>"#,
        LABEL_WIDTH + BAR_WIDTH + 16,
        y + 16,
        format_count(stats.count),
        escape(&p99)
    )?;
    writeln!(out, "</g>")
}

/// At most `max` characters, with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// Escapes text for XML character data and attribute values.
///
/// ```
/// use kubelet_metrics::report::svg::escape;
/// assert_eq!(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
/// ```
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal well-formedness check: every tag closes in order, attributes are quoted, and
    /// `&` only starts one of the five XML entities. Returns the element names seen.
    fn check_xml(text: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            check_text(&rest[..open]);
            let close = rest[open..].find('>').expect("every tag ends") + open;
            let tag = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "closing tag matches");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split_whitespace().next().expect("a tag name").to_string();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "tag name {name:?}");
            assert_eq!(body.matches('"').count() % 2, 0, "attributes quoted: {body}");
            assert!(!body.contains('<'));
            seen.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        check_text(rest);
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        seen
    }

    fn check_text(text: &str) {
        assert!(!text.contains('>'), "a bare > in {text:?}");
        for (index, _) in text.match_indices('&') {
            let entity = &text[index..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].iter().any(|e| entity.starts_with(e)),
                "a bare & in {text:?}"
            );
        }
    }

    #[test]
    fn the_plot_is_well_formed_and_names_every_node() {
        let report = crate::report::sample_report();
        let mut svg = Vec::new();
        render(&report, &mut svg).expect("render");
        let svg = String::from_utf8(svg).expect("utf-8");
        let tags = check_xml(&svg);
        assert_eq!(tags.first().map(String::as_str), Some("svg"));
        for node in ["n1", "n2", "CLUSTER"] {
            assert!(svg.contains(&format!(">{node}</text>")), "{node} in\n{svg}");
        }
        // n1: 10 observations, bands ≤1 2, 1–5 4, 5–20 ~2.33, >20 ~1.67 → segments 20 %, 40 %...
        assert!(svg.contains("width=\"92.00\""), "a 20 % segment of the 460 px bar:\n{svg}");
        assert!(svg.contains("<title>"), "tooltips");
    }

    #[test]
    fn the_sample_plot() {
        let mut svg = Vec::new();
        render(&crate::report::sample_report(), &mut svg).expect("render");
        insta::assert_snapshot!("sample_report", String::from_utf8(svg).expect("utf-8"));
    }

    #[test]
    fn names_are_escaped() {
        let mut report = crate::report::sample_report();
        report.nodes[0].node = "<node&\"1\">".to_string();
        report.metric = "a<b>&c".to_string();
        let mut svg = Vec::new();
        render(&report, &mut svg).expect("render");
        let svg = String::from_utf8(svg).expect("utf-8");
        check_xml(&svg);
        assert!(svg.contains("&lt;node&amp;&quot;1&quot;&gt;"), "{svg}");
        assert!(svg.contains("a&lt;b&gt;&amp;c"));
        assert!(!svg.contains("<node"));
    }

    #[test]
    fn an_empty_report_still_draws() {
        let mut report = crate::report::sample_report();
        report.nodes.clear();
        let mut svg = Vec::new();
        render(&report, &mut svg).expect("render");
        let svg = String::from_utf8(svg).expect("utf-8");
        check_xml(&svg);
        assert!(svg.contains("no nodes answered"));
    }
}
