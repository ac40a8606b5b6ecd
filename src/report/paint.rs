//! Colour for people at a terminal: FAIL red, WARN yellow, PASS green. Off when the output is
//! not a terminal, with `NO_COLOR`, or `--color never`; decided once, in `main`. JSON, CSV and
//! piped text never carry escape codes.

use anstyle::{AnsiColor, Style};

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

    fn paint(self, style: Style, text: &str) -> String {
        if self.enabled { format!("{style}{text}{style:#}") } else { text.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_stays_plain_and_colour_wraps_it() {
        assert_eq!(Palette::PLAIN.bad("FAIL"), "FAIL");
        let red = Palette::new(true).bad("FAIL");
        assert!(red.starts_with("\x1b[") && red.ends_with("\x1b[0m") && red.contains("FAIL"), "{red:?}");
    }
}
