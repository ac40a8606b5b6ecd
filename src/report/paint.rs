//! Colour for people at a terminal: FAIL red, WARN yellow, PASS green; a violated SLO red and
//! the slowest rows yellow, in `histogram` (one cluster or several), `doctor`, `watch`, `compare`
//! and `pods`. Off when the output is
//! not a terminal, with `NO_COLOR`, or `--color never`; decided once, in `main`. JSON, CSV and
//! piped text never carry escape codes.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use crate::report::escape_controls;
use crate::report::terminal::Escaped;

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

    /// `text` in the colour of `tone`.
    pub fn tone(self, tone: Tone, text: &str) -> String {
        match tone {
            Tone::Bad => self.bad(text),
            Tone::Warn => self.warn(text),
            Tone::Good => self.good(text),
        }
    }

    /// Rendered text (already escaped for the terminal) with each line coloured as `tone_of`
    /// says, and left plain where it says nothing. Columns stay aligned: colour codes take none.
    pub fn lines(self, text: &str, tone_of: impl Fn(&str) -> Option<Tone>) -> String {
        if !self.enabled {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len() + 64);
        for line in text.split_inclusive('\n') {
            let (body, end) = line.strip_suffix('\n').map_or((line, ""), |body| (body, "\n"));
            match tone_of(body) {
                Some(tone) => out.push_str(&self.tone(tone, body)),
                None => out.push_str(body),
            }
            out.push_str(end);
        }
        out
    }

    /// What `render` writes, escaped for the terminal (text from nodes and servers never
    /// reaches it raw), then coloured line by line as `tone_of` says, written to `out`. Plain,
    /// it is only escaped.
    pub fn render(
        self,
        render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
        tone_of: impl Fn(&str) -> Option<Tone>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let mut plain = Vec::new();
        let mut escaped = Escaped::new(&mut plain);
        render(&mut escaped)?;
        escaped.flush()?;
        drop(escaped);
        out.write_all(self.lines(&String::from_utf8_lossy(&plain), tone_of).as_bytes())
    }

    fn paint(self, style: Style, text: &str) -> String {
        if self.enabled { format!("{style}{text}{style:#}") } else { text.to_string() }
    }
}

/// The colour a line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Red, bold: a failure, a violated objective.
    Bad,
    /// Yellow: a warning, a verdict that cannot be given, the slowest rows.
    Warn,
    /// Green: what passed.
    Good,
}

/// The tone of an SLO verdict line as the reports write it — `SLO p99<=5s on cluster: FAIL (…)`
/// (`histogram`, `CONTEXT: SLO …` over several clusters) or `SLO p99<=5s on ready of stateless
/// pods: violated — …` (`pods`); `None` for any other line.
pub fn verdict_tone(line: &str) -> Option<Tone> {
    if !(line.starts_with("SLO ") || line.contains(": SLO ")) {
        return None;
    }
    let said = |words: &[&str]| words.iter().any(|word| line.contains(word));
    if said(&[": FAIL (", ": violated \u{2014}"]) {
        Some(Tone::Bad)
    } else if said(&[": UNKNOWN (", ": unknown \u{2014}"]) {
        Some(Tone::Warn)
    } else if said(&[": PASS (", ": holds \u{2014}"]) {
        Some(Tone::Good)
    } else {
        None
    }
}

/// How `histogram`'s and `watch`'s tables are coloured: each SLO line by its verdict (FAIL red,
/// UNKNOWN yellow, PASS green) and the rows of the `slowest` nodes (as [`escaped_names`] gives
/// them) yellow.
pub fn verdict_or_row(slowest: &[String]) -> impl Fn(&str) -> Option<Tone> + '_ {
    move |line| verdict_tone(line).or_else(|| row_of(line, slowest).then_some(Tone::Warn))
}

/// Names as the escaped text shows them, to be found by [`row_of`].
pub fn escaped_names(names: &[String]) -> Vec<String> {
    names.iter().map(|name| escape_controls(name).into_owned()).collect()
}

/// Whether `line` is the table row of one of `names`: it starts with the name, then a space (a
/// name that only starts with another, `n10` for `n1`, is not its row).
pub fn row_of(line: &str, names: &[String]) -> bool {
    names.iter().any(|name| line.strip_prefix(name.as_str()).is_some_and(|rest| rest.starts_with(' ')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_table_colours_the_slowest_rows_and_each_verdict() {
        let table = "NODE  P99\nn3    9s\nn10   1s\nn1    2s\n\nSLO p99<=5s on n3: FAIL (observed 9s): p99 9 > 5\n\
                     SLO p99<=5s on cluster: UNKNOWN (observed -): no observations\n";
        let slowest = ["n3".to_string(), "n1".to_string()];
        let painted = Palette::new(true).lines(table, verdict_or_row(&slowest));
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
        assert_eq!(Palette::PLAIN.lines(table, verdict_or_row(&slowest)), table);
        let pods =
            "SLO p99<=5s on ready of stateless pods: violated \u{2014} p99 is 9s\nSlowest pods to ready:\n";
        assert!(Palette::new(true).lines(pods, verdict_tone).starts_with("\x1b[1m\x1b[31mSLO"));
        let mut out = Vec::new();
        Palette::new(true)
            .render(|out| out.write_all(b"n3 \x1b]0;x\x07 9s\n"), verdict_or_row(&slowest), &mut out)
            .expect("renders");
        assert_eq!(
            String::from_utf8_lossy(&out),
            format!("{}\n", Palette::new(true).warn("n3 \\x1b]0;x\\x07 9s"))
        );
    }

    #[test]
    fn plain_text_stays_plain_and_colour_wraps_it() {
        assert_eq!(Palette::PLAIN.bad("FAIL"), "FAIL");
        let red = Palette::new(true).bad("FAIL");
        assert!(red.starts_with("\x1b[") && red.ends_with("\x1b[0m") && red.contains("FAIL"), "{red:?}");
    }
}
