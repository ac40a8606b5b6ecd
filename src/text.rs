//! How text for people is shaped, in one place: lists of node names stay short however many
//! nodes there are. Pure; JSON output keeps every name.

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
