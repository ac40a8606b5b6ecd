//! Colour for people at a terminal: FAIL red, WARN yellow, PASS green; a violated SLO red and
//! the slowest nodes' rows yellow in `histogram`'s table. Off when the output is
//! not a terminal, with `NO_COLOR`, or `--color never`; decided once, in `main`. JSON, CSV and
//! piped text never carry escape codes.

use anstyle::{AnsiColor, Style};

use crate::report::escape_controls;

/// Whether to paint, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Palette {
    enabled: bool,
}

impl Palette {
    /// No colour at all.
    pub const PLAIN: Palette = Palette { enabled: false };

    /// Colour when `enabled`.
    pub fn new(enabled: bool) -> Palette {
        Palette { enabled }
    }

    /// `text` in red, bold: failures and violated objectives.
    pub fn bad(self, text: &str) -> String {
        self.paint(AnsiColor::Red.on_default().bold(), text)
    }

    /// `text` in yellow: warnings.
    pub fn warn(self, text: &str) -> String {
        self.paint(AnsiColor::Yellow.on_default(), text)
    }

    /// `text` in green: what passed.
    pub fn good(self, text: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), text)
    }

    /// Whether anything is coloured.
    pub fn enabled(self) -> bool {
        self.enabled
    }

    /// A rendered `histogram` table (already escaped for the terminal) with the rows of the
    /// `slowest` nodes in yellow and each SLO line coloured by its verdict: FAIL red, UNKNOWN
    /// yellow, PASS green. Columns stay aligned: colour codes take none.
    pub fn histogram(self, text: &str, slowest: &[String]) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let slowest: Vec<String> = slowest.iter().map(|node| escape_controls(node).into_owned()).collect();
        let mut out = String::with_capacity(text.len() + 64);
        for line in text.split_inclusive('\n') {
            let (body, end) = line.strip_suffix('\n').map_or((line, ""), |body| (body, "\n"));
            let slo = body.starts_with("SLO ") || body.contains(": SLO ");
            let painted = if slo && body.contains(": FAIL (") {
                self.bad(body)
            } else if slo && body.contains(": UNKNOWN (") {
                self.warn(body)
            } else if slo && body.contains(": PASS (") {
                self.good(body)
            } else if slowest
                .iter()
                .any(|node| body.strip_prefix(node.as_str()).is_some_and(|rest| rest.starts_with(' ')))
            {
                self.warn(body)
            } else {
                body.to_string()
            };
            out.push_str(&painted);
            out.push_str(end);
        }
        out
    }

    fn paint(self, style: Style, text: &str) -> String {
        if self.enabled { format!("{style}{text}{style:#}") } else { text.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_table_colours_the_slowest_rows_and_each_verdict() {
        let table = "NODE  P99\nn3    9s\nn10   1s\nn1    2s\n\nSLO p99<=5s on n3: FAIL (observed 9s): p99 9 > 5\n\
                     SLO p99<=5s on cluster: UNKNOWN (observed -): no observations\n";
        let painted = Palette::new(true).histogram(table, &["n3".to_string(), "n1".to_string()]);
        let lines: Vec<&str> = painted.lines().collect();
        assert_eq!(lines[0], "NODE  P99");
        assert_eq!(lines[1], Palette::new(true).warn("n3    9s"));
        assert_eq!(lines[2], "n10   1s", "a name that only starts with a slow one is not painted");
        assert_eq!(lines[3], Palette::new(true).warn("n1    2s"));
        assert!(lines[5].starts_with("\x1b[1m\x1b[31mSLO"), "{:?}", lines[5]);
        assert_eq!(
            lines[6],
            Palette::new(true).warn("SLO p99<=5s on cluster: UNKNOWN (observed -): no observations")
        );
        assert_eq!(Palette::PLAIN.histogram(table, &["n3".to_string()]), table);
    }

    #[test]
    fn plain_text_stays_plain_and_colour_wraps_it() {
        assert_eq!(Palette::PLAIN.bad("FAIL"), "FAIL");
        let red = Palette::new(true).bad("FAIL");
        assert!(red.starts_with("\x1b[") && red.ends_with("\x1b[0m") && red.contains("FAIL"), "{red:?}");
    }
}
