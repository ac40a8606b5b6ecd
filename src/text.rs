//! How text for people is shaped, in one place: lists of node names stay short however many
//! nodes there are, and columns line up by the columns a terminal gives each character (a CJK
//! file name takes two per character, a combining accent none). Pure; JSON output keeps every
//! name.

use std::fmt::Write as _;

/// How many names a human-readable list shows before "and N more".
pub const SHOWN_NAMES: usize = 5;

/// At most [`SHOWN_NAMES`] names, then how many more: `a, b, c, d, e and 7 more`.
///
/// ```
/// use kubelet_metrics::text::bounded_names;
/// assert_eq!(bounded_names(&["a", "b"]), "a, b");
/// let many: Vec<String> = (0..8).map(|i| format!("n{i}")).collect();
/// assert_eq!(bounded_names(&many), "n0, n1, n2, n3, n4 and 3 more");
/// ```
pub fn bounded_names<S: AsRef<str>>(names: &[S]) -> String {
    let mut text = names.iter().take(SHOWN_NAMES).map(AsRef::as_ref).collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN_NAMES {
        let _ = write!(text, " and {} more", names.len() - SHOWN_NAMES);
    }
    text
}

/// `did you mean a, b or c?` for names that read close to one the user typed; `None` for no
/// name.
///
/// ```
/// use kubelet_metrics::text::did_you_mean;
/// assert_eq!(did_you_mean(&["node-1"]).as_deref(), Some("did you mean node-1?"));
/// assert_eq!(did_you_mean(&["a", "b", "c"]).as_deref(), Some("did you mean a, b or c?"));
/// assert_eq!(did_you_mean::<&str>(&[]), None);
/// ```
pub fn did_you_mean<S: AsRef<str>>(names: &[S]) -> Option<String> {
    let (last, first) = names.split_last()?;
    let first: Vec<&str> = first.iter().map(AsRef::as_ref).collect();
    Some(match first.is_empty() {
        true => format!("did you mean {}?", last.as_ref()),
        false => format!("did you mean {} or {}?", first.join(", "), last.as_ref()),
    })
}

/// The names in `known` that read closest to `wanted` (a mistyped node name), chosen as the
/// metric-name hints choose theirs ([`similarity`](crate::exposition::selector::similarity),
/// [`nearest`](crate::exposition::selector::nearest)): closest first, at most three, none far
/// behind the closest.
///
/// ```
/// use kubelet_metrics::text::closest;
/// let known = ["node-000", "node-001", "node-499", "worker-a"];
/// assert_eq!(closest("node-0001", known), ["node-000", "node-001"]);
/// assert!(closest("zzz", known).is_empty());
/// ```
pub fn closest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    use crate::exposition::selector::{nearest, similarity};
    let scored = known
        .into_iter()
        .filter(|name| *name != wanted)
        .filter_map(|name| Some((similarity(wanted, name)?, name)))
        .collect();
    nearest(scored)
}

/// How many terminal columns `text` takes (Unicode East Asian Width, as terminals draw it).
///
/// ```
/// use kubelet_metrics::text::display_width;
/// assert_eq!(display_width("node-a"), 6);
/// assert_eq!(display_width("節點"), 4);
/// ```
pub fn display_width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// `text` followed by spaces up to `width` columns (nothing added when it is wider).
///
/// ```
/// use kubelet_metrics::text::pad_end;
/// assert_eq!(pad_end("節點", 6), "節點  ");
/// ```
pub fn pad_end(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(display_width(text))))
}

/// Spaces up to `width` columns, then `text` (right-aligned).
///
/// ```
/// use kubelet_metrics::text::pad_start;
/// assert_eq!(pad_start("≤1s", 5), "  ≤1s");
/// ```
pub fn pad_start(text: &str, width: usize) -> String {
    format!("{}{text}", " ".repeat(width.saturating_sub(display_width(text))))
}

/// The widest a line of human-readable text (not a table row) may be, in columns. Messages from
/// the API server can run to hundreds of characters; [`wrap`] keeps them under this.
pub const MAX_LINE: usize = 200;

/// How wide [`wrap`] fills lines: most terminals show 100 columns or more.
pub const WRAP_WIDTH: usize = 100;

/// `text` broken at spaces into lines of at most [`WRAP_WIDTH`] columns: the first line starts
/// with `first`, the others with `rest` (a deeper indent, so a wrapped item reads as one). A word
/// longer than a line (a URL) is kept whole, and hyphenated words are not split. Each line ends with `\n`.
///
/// ```
/// use kubelet_metrics::text::wrap;
/// let text = "forbidden on 12 nodes: ".repeat(6);
/// let wrapped = wrap(text.trim_end(), "  ", "    ");
/// assert!(wrapped.lines().all(|line| line.len() <= 100));
/// assert!(wrapped.starts_with("  forbidden") && wrapped.lines().nth(1).unwrap().starts_with("    forbidden"));
/// ```
pub fn wrap(text: &str, first: &str, rest: &str) -> String {
    let options = textwrap::Options::new(WRAP_WIDTH)
        .initial_indent(first)
        .subsequent_indent(rest)
        .break_words(false)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .word_separator(textwrap::WordSeparator::AsciiSpace);
    let mut out = String::with_capacity(text.len() + 16);
    for line in textwrap::wrap(text, options) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
