//! The streaming parser on arbitrary bytes cut into arbitrary chunks: it never panics, a split
//! never changes the result, and the zero-copy walk sees the samples (and labels) the owned parse
//! builds.
#![no_main]

use kubelet_metrics::exposition::{Selector, StreamParser, parse_bytes, visit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first two bytes choose the chunk sizes; the rest is the payload.
    let (seed, text) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (0, data),
    };
    let all = Selector::all();
    let whole = parse_bytes(text, &all);

    let mut parser = StreamParser::new(all.clone());
    let mut rest = text;
    let mut step = usize::from(seed % 61) + 1;
    while !rest.is_empty() {
        let cut = step.min(rest.len());
        parser.feed(&rest[..cut]);
        rest = &rest[cut..];
        step = (step * 7 + usize::from(seed >> 6)) % 67 + 1;
    }
    let chunked = parser.finish();
    // Debug spells NaN the same on both sides, where PartialEq would not.
    assert_eq!(format!("{whole:?}"), format!("{chunked:?}"), "a chunk split changed the parse");

    // Each owned sample holds the labels of its own line (sets are shared between samples).
    let mut visited: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let errors = visit(text, &all, |family, s| {
        visited
            .push((family.name.clone(), s.labels().map(|(n, v)| (n.to_owned(), v.into_owned())).collect()));
    });
    assert_eq!(errors, whole.errors, "visit and parse disagree on errors");
    // The parse merges a family that resumes into its first appearance; within one, input order.
    visited.sort_by_key(|(family, _)| whole.families.iter().position(|f| f.name == *family));
    let built: Vec<(String, Vec<(String, String)>)> = whole
        .families
        .iter()
        .flat_map(|f| {
            f.samples.iter().map(|s| {
                (f.name.clone(), s.labels.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect())
            })
        })
        .collect();
    assert_eq!(visited, built, "visit and parse disagree on samples or their labels");

    // Every family name the parse built is kept by a selector of that name: classic names bare,
    // other UTF-8 names in Prometheus 3's quoted form (`{"a{\t}"}`).
    let classic = |name: &str| {
        name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for family in whole.families.iter().filter(|f| !f.name.is_empty()) {
        let text = if classic(&family.name) {
            family.name.clone()
        } else {
            let escaped = family
                .name
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
                .replace('\t', "\\t");
            format!("{{\"{escaped}\"}}")
        };
        let selector: Selector = text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(selector.keeps_family(&family.name), "{text:?}");
    }
    let _ = whole.not_prometheus_text();
});
