//! Terminal safety for every human-readable output: text that came from elsewhere — payloads,
//! node names, labels, server and error messages — is shown, never obeyed. Control characters
//! (C0 but newline and tab, DEL, C1) and bidirectional overrides are written as visible escapes
//! (`\x1b`, `\u{202e}`), so `ESC ] 0 ; PWNED BEL` cannot retitle a terminal or clear it.
//! Machine formats keep their own exact escaping (JSON) and do not pass through here.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

/// Whether `c` must not reach a terminal raw.
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character and bidirectional override written as a visible escape;
/// borrowed when there is none.
///
/// ```
/// use kubelet_metrics::report::escape_controls;
/// assert_eq!(escape_controls("node-a"), "node-a");
/// assert_eq!(escape_controls("\u{1b}]0;PWNED\u{7}"), "\\x1b]0;PWNED\\x07");
/// assert_eq!(escape_controls("two\nlines\ttab"), "two\nlines\ttab");
/// ```
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !needs_escape(c) => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// A writer that passes text through [`escape_controls`] on its way to a terminal (or a file a
/// person will read); bytes that are not UTF-8 are written as `\xNN`.
#[derive(Debug)]
pub struct Escaped<W: io::Write> {
    inner: W,
    /// The start of a UTF-8 sequence split across two writes.
    pending: Vec<u8>,
}

impl<W: io::Write> Escaped<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Escaped<W> {
        Escaped { inner, pending: Vec::new() }
    }
}

impl<W: io::Write> io::Write for Escaped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let mut rest: &[u8] = &self.pending;
        let mut out = String::new();
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    out.push_str(&escape_controls(text));
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    out.push_str(&escape_controls(std::str::from_utf8(valid).unwrap_or_default()));
                    match e.error_len() {
                        // An incomplete sequence at the end: wait for the next write.
                        None => {
                            rest = after;
                            break;
                        }
                        Some(n) => {
                            for byte in &after[..n] {
                                let _ = write!(out, "\\x{byte:02x}");
                            }
                            rest = &after[n..];
                        }
                    }
                }
            }
        }
        let keep = rest.to_vec();
        self.inner.write_all(out.as_bytes())?;
        self.pending = keep;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn escape_sequences_from_payloads_are_shown_not_obeyed() {
        // The issue's example: set the title, ring the bell, clear the screen.
        let hostile = "node-\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{9b}31m\u{202e}";
        assert_eq!(escape_controls(hostile), "node-\\x1b]0;PWNED\\x07\\x1b[2J\\x9b31m\\u{202e}");
        assert!(matches!(escape_controls("plain ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_writer_escapes_across_split_writes_and_invalid_bytes() {
        let mut out = Escaped::new(Vec::new());
        let text = "é\u{1b}[2J".as_bytes();
        out.write_all(&text[..1]).expect("write");
        out.write_all(&text[1..]).expect("write");
        out.write_all(b"\xff!\n").expect("write");
        assert_eq!(String::from_utf8(out.inner).expect("utf-8"), "é\\x1b[2J\\xff!\n");
    }
}
