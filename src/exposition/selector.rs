//! Which families and samples to keep: PromQL-style selectors (`name`, `name{label="v",
//! other=~"re.*", x!="y", y!~"z"}`) with globs (`*`, `?`) on the name. The parser asks the
//! selector once per family, so skipped families never build samples.

use std::fmt;
use std::str::FromStr;

use regex::Regex;

use super::line::{SampleRef, is_label_name, is_metric_name};
use super::{MetricKind, Sample};

/// Suffixes that attach a sample to a family of another name (histogram, summary, OpenMetrics
/// counter and info series).
const FAMILY_SUFFIXES: [&str; 8] =
    ["_bucket", "_sum", "_count", "_created", "_total", "_info", "_gsum", "_gcount"];

/// How many "did you mean" names a parse offers ([`Parsed::near_misses`](super::Parsed::near_misses)).
pub const NEAR_MISSES: usize = 3;

/// How alike a seen name must be to a wanted one to be offered (normalised Damerau-Levenshtein:
/// 1 is the same text; one typo in a 30-character name scores about 0.97).
const NEAR_MISS_SIMILARITY: f64 = 0.75;

/// How far behind the closest name another may score and still be offered.
const NEAR_MISS_MARGIN: f64 = 0.1;

/// How alike `name` reads to `wanted` when it is alike enough to be offered as "did you mean"
/// (normalised Damerau-Levenshtein of at least 0.75); `None` when it is not.
pub fn similarity(wanted: &str, name: &str) -> Option<f64> {
    let score = strsim::normalized_damerau_levenshtein(wanted, name);
    (score >= NEAR_MISS_SIMILARITY).then_some(score)
}

/// The names to offer as "did you mean" from candidates scored by [`similarity`]: closest
/// first (ties by name), at most [`NEAR_MISSES`], and none far behind the closest, which would
/// be noise beside it.
///
/// ```
/// use kubelet_metrics::exposition::selector::nearest;
/// assert_eq!(nearest(vec![(0.8, "b"), (0.95, "a"), (0.9, "c"), (0.9, "d")]), ["a", "c", "d"]);
/// assert_eq!(nearest(vec![(0.8, "far"), (0.99, "near")]), ["near"]);
/// ```
pub fn nearest(mut scored: Vec<(f64, &str)>) -> Vec<&str> {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let best = scored.first().map_or(0.0, |(score, _)| *score);
    scored
        .into_iter()
        .take_while(|(score, _)| best - score <= NEAR_MISS_MARGIN)
        .take(NEAR_MISSES)
        .map(|(_, name)| name)
        .collect()
}

/// Whether sample `sample` belongs to family `family` of kind `kind`.
#[inline]
pub(crate) fn belongs(family: &str, kind: MetricKind, sample: &str) -> bool {
    match sample.strip_prefix(family) {
        Some("") => true,
        Some(suffix) => suffix_belongs(kind, suffix.as_bytes()),
        None => false,
    }
}

/// Whether a sample named `family` + `suffix` belongs to a family of kind `kind`.
#[inline]
pub(crate) fn suffix_belongs(kind: MetricKind, suffix: &[u8]) -> bool {
    match kind {
        MetricKind::Histogram | MetricKind::GaugeHistogram => {
            matches!(suffix, b"_bucket" | b"_sum" | b"_count" | b"_created" | b"_gsum" | b"_gcount")
        }
        MetricKind::Summary => matches!(suffix, b"_sum" | b"_count" | b"_created"),
        MetricKind::Counter => matches!(suffix, b"_total" | b"_created"),
        MetricKind::Info => suffix == b"_info",
        MetricKind::Gauge | MetricKind::Untyped | MetricKind::StateSet => false,
    }
}

/// The family names a sample name could belong to when it carries a family suffix.
pub(crate) fn family_candidates(sample: &str) -> impl Iterator<Item = (&str, &'static str)> {
    FAMILY_SUFFIXES
        .iter()
        .filter_map(move |suffix| sample.strip_suffix(suffix).map(|family| (family, *suffix)))
}

/// A set of alternatives: a family or sample is kept when any of them keeps it.
///
/// ```
/// use kubelet_metrics::exposition::Selector;
/// let s: Selector = "kubelet_pod_*{operation_type=~\"create|update\"}".parse().unwrap();
/// assert!(s.keeps_family("kubelet_pod_start_duration_seconds"));
/// assert!(!s.keeps_family("go_goroutines"));
/// // A histogram's series name keeps its family.
/// let s: Selector = "x_bucket".parse().unwrap();
/// assert!(s.keeps_family("x"));
/// ```
#[derive(Debug, Clone)]
pub struct Selector {
    terms: Vec<Term>,
}

/// One `name{matchers}` alternative.
#[derive(Debug, Clone)]
struct Term {
    name: NamePattern,
    matchers: Vec<LabelMatcher>,
}

/// A metric-name pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NamePattern {
    /// Exactly this name.
    Exact(String),
    /// A glob with `*` (any run) and `?` (one character).
    Glob(String),
}

impl NamePattern {
    fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(exact) => exact == name,
            NamePattern::Glob(glob) => glob_matches(glob.as_bytes(), name.as_bytes()),
        }
    }
}

/// How a label matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`, fully anchored as in PromQL.
    Regex,
    /// `!~`, fully anchored as in PromQL.
    NotRegex,
}

/// One label matcher; a missing label matches as the empty string, as in PromQL.
#[derive(Debug, Clone)]
struct LabelMatcher {
    name: String,
    op: MatchOp,
    value: String,
    regex: Option<Regex>,
}

impl LabelMatcher {
    fn matches(&self, value: Option<&str>) -> bool {
        let value = value.unwrap_or("");
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            (_, None) => false,
        }
    }
}

/// Why a selector could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The text is empty or starts with no name.
    #[error("selector `{0}` needs a metric name or glob (`*` keeps every family)")]
    MissingName(String),
    /// Unexpected text at a position.
    #[error("selector `{text}`: {reason} at column {column}")]
    Syntax {
        /// The whole selector.
        text: String,
        /// 1-based column of the problem.
        column: usize,
        /// What was expected.
        reason: &'static str,
    },
    /// A `=~` / `!~` value is not a valid regular expression.
    #[error("selector `{text}`: invalid regex `{regex}`: {reason}")]
    InvalidRegex {
        /// The whole selector.
        text: String,
        /// The regex as written.
        regex: String,
        /// What the regex engine said.
        reason: String,
    },
}

/// What a selector decided for one family; computed once when the family starts.
#[derive(Debug, Clone, Default)]
pub(crate) struct FamilyFilter {
    /// Whether any sample of the family can be kept.
    pub keep: bool,
    /// Every sample is kept: no per-sample test needed.
    pub pass_all: bool,
    /// The family is kept even with no samples (matched by its own name, no label matchers).
    pub keep_empty: bool,
    /// `(term index, whole family)`: terms that may keep samples; `whole` when the term's name
    /// matched the family name, otherwise the sample's own name must match.
    pub(crate) terms: Vec<(usize, bool)>,
}

impl Selector {
    /// Keeps every family and every sample.
    pub fn all() -> Self {
        Selector { terms: vec![Term { name: NamePattern::Glob("*".to_owned()), matchers: Vec::new() }] }
    }

    /// Keeps what any of `selectors` keeps (nothing when the list is empty).
    pub fn any_of(selectors: Vec<Selector>) -> Self {
        Selector { terms: selectors.into_iter().flat_map(|s| s.terms).collect() }
    }

    /// Whether this selector keeps everything, so the parser can skip all tests.
    pub fn is_all(&self) -> bool {
        self.terms
            .iter()
            .any(|t| t.matchers.is_empty() && matches!(&t.name, NamePattern::Glob(g) if g == "*"))
    }

    /// Whether any sample of family `family_name` can be kept: the name (or a glob) matches the
    /// family or one of its series (`_bucket`, `_sum`, `_count`, `_created`, `_total`, ...).
    pub fn keeps_family(&self, family_name: &str) -> bool {
        self.family_filter(family_name).keep
    }

    /// Whether `sample` of family `family_name` is kept (name and every label matcher).
    pub fn keeps_sample(&self, family_name: &str, sample: &Sample) -> bool {
        let filter = self.family_filter(family_name);
        filter.keep
            && (filter.pass_all
                || filter.terms.iter().any(|&(t, whole)| {
                    let term = &self.terms[t];
                    (whole || term.name.matches(&sample.name))
                        && term.matchers.iter().all(|m| m.matches(sample.labels.get(&m.name)))
                }))
    }

    /// The per-family decision, made once when a family starts.
    pub(crate) fn family_filter(&self, family: &str) -> FamilyFilter {
        if self.is_all() {
            return FamilyFilter { keep: true, pass_all: true, keep_empty: true, terms: Vec::new() };
        }
        let mut filter = FamilyFilter::default();
        let mut series = String::with_capacity(family.len() + 8);
        for (index, term) in self.terms.iter().enumerate() {
            let whole = term.name.matches(family);
            let some = whole
                || FAMILY_SUFFIXES.iter().any(|suffix| {
                    series.clear();
                    series.push_str(family);
                    series.push_str(suffix);
                    term.name.matches(&series)
                });
            if some {
                filter.keep = true;
                if whole && term.matchers.is_empty() {
                    filter.pass_all = true;
                    filter.keep_empty = true;
                }
                filter.terms.push((index, whole));
            }
        }
        filter
    }

    /// How many terms this selector has (the parser notes which of them matched a family).
    pub(crate) fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// The names in `seen` that read closest to a name this selector asks for but no family in
    /// the payload has: "did you mean" for a mistyped `-m` or histogram metric. `matched[t]` says
    /// whether term `t` kept some family. A histogram's series names (`x_bucket`, `x_sum`,
    /// `x_count`) stand for one name with the family's own, so `x` found as an untyped
    /// `x_bucket` family is found. At most [`NEAR_MISSES`] names, closest first; none when every
    /// name was found or nothing is close.
    pub(crate) fn near_misses<'a>(
        &self,
        matched: &[bool],
        seen: impl Iterator<Item = &'a str> + Clone,
    ) -> Vec<String> {
        if self.is_all() {
            return Vec::new();
        }
        fn base(term: &Term) -> &str {
            let text = match &term.name {
                NamePattern::Exact(name) | NamePattern::Glob(name) => name.as_str(),
            };
            ["_bucket", "_sum", "_count"].iter().find_map(|suffix| text.strip_suffix(suffix)).unwrap_or(text)
        }
        let mut missing: Vec<(&str, bool)> = Vec::new();
        for term in &self.terms {
            let name = base(term);
            let found = self.terms.iter().zip(matched).any(|(other, &hit)| hit && base(other) == name);
            let glob = matches!(term.name, NamePattern::Glob(_));
            if !found && !missing.iter().any(|(n, _)| *n == name) {
                missing.push((name, glob));
            }
        }
        let mut scored: Vec<(f64, &str)> = Vec::new();
        for (wanted, glob) in missing {
            let literal: String = wanted.chars().filter(|c| !matches!(c, '*' | '?')).collect();
            for name in seen.clone() {
                // A glob's literal part is compared with as much of the name, so `kubelet_pod_strat*`
                // finds `kubelet_pod_start_duration_seconds`.
                let compared = match glob {
                    true => name.get(..literal.len().min(name.len())).unwrap_or(name),
                    false => name,
                };
                if let Some(score) = similarity(&literal, compared)
                    && !scored.iter().any(|(_, n)| *n == name)
                {
                    scored.push((score, name));
                }
            }
        }
        nearest(scored).into_iter().map(str::to_owned).collect()
    }

    /// Whether a sample of a family with `filter` is kept.
    #[inline]
    pub(crate) fn keeps_ref(&self, filter: &FamilyFilter, sample: &SampleRef<'_>) -> bool {
        filter.pass_all
            || filter.terms.iter().any(|&(t, whole)| {
                let term = &self.terms[t];
                (whole || term.name.matches(sample.name))
                    && term.matchers.iter().all(|m| m.matches(sample.label(&m.name).as_deref()))
            })
    }
}

impl Default for Selector {
    fn default() -> Self {
        Selector::all()
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let b = text.as_bytes();
        let syntax = |column: usize, reason: &'static str| SelectorError::Syntax {
            text: text.to_owned(),
            column: column + 1,
            reason,
        };
        let mut i = skip_blank(b, 0);
        let name_start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b':' | b'*' | b'?')) {
            i += 1;
        }
        let bare = &text[name_start..i];
        if bare.as_bytes().first().is_some_and(u8::is_ascii_digit) {
            return Err(SelectorError::MissingName(text.to_owned()));
        }
        let mut name = match bare {
            "" => None,
            glob if glob.contains(['*', '?']) => Some(NamePattern::Glob(glob.to_owned())),
            exact => Some(NamePattern::Exact(exact.to_owned())),
        };
        let mut matchers = Vec::new();
        i = skip_blank(b, i);
        if b.get(i) == Some(&b'{') {
            i += 1;
            loop {
                i = skip_blank(b, i);
                match b.get(i) {
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    None => return Err(syntax(i, "unterminated `{`")),
                    Some(_) => {}
                }
                // A label name, bare or quoted (Prometheus 3 allows any UTF-8 name in quotes); a
                // quoted string alone is the metric name: `{"my.metric", code="200"}`.
                let label_start = i;
                let label = if let Some((quoted, next)) = parse_quoted(text, i) {
                    i = next;
                    quoted
                } else {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                    let label = &text[label_start..i];
                    if !is_label_name(label) {
                        return Err(syntax(label_start, "expected a label name"));
                    }
                    label.to_owned()
                };
                i = skip_blank(b, i);
                let op = match (b.get(i), b.get(i + 1)) {
                    (Some(b'='), Some(b'~')) => MatchOp::Regex,
                    (Some(b'!'), Some(b'~')) => MatchOp::NotRegex,
                    (Some(b'!'), Some(b'=')) => MatchOp::NotEqual,
                    (Some(b'='), _) => MatchOp::Equal,
                    (Some(b',' | b'}'), _) if b[label_start] != b'\'' && b[label_start] != b'"' => {
                        return Err(syntax(i, "expected `=`, `!=`, `=~` or `!~`"));
                    }
                    (Some(b',' | b'}'), _) => {
                        if name.is_some() {
                            return Err(syntax(label_start, "the metric name is given twice"));
                        }
                        name = Some(NamePattern::Exact(label));
                        if b[i] == b',' {
                            i += 1;
                        }
                        continue;
                    }
                    _ => return Err(syntax(i, "expected `=`, `!=`, `=~` or `!~`")),
                };
                i += if op == MatchOp::Equal { 1 } else { 2 };
                i = skip_blank(b, i);
                let (value, next) =
                    parse_quoted(text, i).ok_or_else(|| syntax(i, "expected a quoted value"))?;
                i = skip_blank(b, next);
                if label == "__name__" {
                    // `{__name__="x"}` names the metric, as in PromQL; only equality can pick a
                    // family before its samples are read.
                    if op != MatchOp::Equal {
                        return Err(syntax(
                            label_start,
                            "`__name__` takes `=` only; use a glob for patterns",
                        ));
                    }
                    if name.is_some() {
                        return Err(syntax(label_start, "the metric name is given twice"));
                    }
                    name = Some(NamePattern::Exact(value));
                } else {
                    let regex = match op {
                        MatchOp::Regex | MatchOp::NotRegex => {
                            Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| {
                                SelectorError::InvalidRegex {
                                    text: text.to_owned(),
                                    regex: value.clone(),
                                    reason: e.to_string(),
                                }
                            })?)
                        }
                        _ => None,
                    };
                    matchers.push(LabelMatcher { name: label, op, value, regex });
                }
                match b.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    _ => return Err(syntax(i, "expected `,` or `}`")),
                }
            }
        }
        i = skip_blank(b, i);
        if i < b.len() {
            return Err(syntax(i, "unexpected text after the selector"));
        }
        match name {
            Some(name) if !matches!(&name, NamePattern::Exact(n) if n.is_empty()) => {
                Ok(Selector { terms: vec![Term { name, matchers }] })
            }
            _ => Err(SelectorError::MissingName(text.to_owned())),
        }
    }
}

impl fmt::Display for Selector {
    /// Prints text that parses back to the same selector: classic names bare, other names in
    /// Prometheus 3's quoted form (`{"my.metric"}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, term) in self.terms.iter().enumerate() {
            if n > 0 {
                f.write_str(" or ")?;
            }
            let mut items = Vec::with_capacity(term.matchers.len() + 1);
            match &term.name {
                NamePattern::Glob(s) => f.write_str(s)?,
                NamePattern::Exact(s) if is_metric_name(s) => f.write_str(s)?,
                NamePattern::Exact(s) => items.push(quote(s)),
            }
            for m in &term.matchers {
                let op = match m.op {
                    MatchOp::Equal => "=",
                    MatchOp::NotEqual => "!=",
                    MatchOp::Regex => "=~",
                    MatchOp::NotRegex => "!~",
                };
                let label = if is_label_name(&m.name) { m.name.clone() } else { quote(&m.name) };
                items.push(format!("{label}{op}{}", quote(&m.value)));
            }
            if !items.is_empty() {
                write!(f, "{{{}}}", items.join(","))?;
            }
        }
        Ok(())
    }
}

/// `text` in double quotes with the escapes [`parse_quoted`] reads back.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn skip_blank(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// A `"..."` or `'...'` string at `start` (escapes `\\`, `\"`, `\'`, `\n`, `\t`); returns it
/// and the index after the closing quote.
fn parse_quoted(text: &str, start: usize) -> Option<(String, usize)> {
    let quote = *text.as_bytes().get(start)?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c if c as u32 == u32::from(quote) => return Some((out, start + 1 + k + 1)),
            c => out.push(c),
        }
    }
    None
}

/// Glob match with `*` (any run, possibly empty) and `?` (one byte); linear backtracking.
fn glob_matches(glob: &[u8], name: &[u8]) -> bool {
    let (mut g, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if g < glob.len() && (glob[g] == b'?' || glob[g] == name[n]) {
            g += 1;
            n += 1;
        } else if g < glob.len() && glob[g] == b'*' {
            star = Some((g, n));
            g += 1;
        } else if let Some((sg, sn)) = star {
            g = sg + 1;
            n = sn + 1;
            star = Some((sg, sn + 1));
        } else {
            return false;
        }
    }
    glob[g..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {

    fn near_misses(selector: &str, seen: &[&str]) -> Vec<String> {
        let selector: Selector = selector.parse().expect("valid selector");
        let matched: Vec<bool> = (0..selector.term_count())
            .map(|t| seen.iter().any(|name| selector.family_filter(name).terms.iter().any(|&(i, _)| i == t)))
            .collect();
        selector.near_misses(&matched, seen.iter().copied())
    }

    #[test]
    fn a_mistyped_name_is_offered_the_names_that_read_closest() {
        let seen = [
            "kubelet_pod_start_duration_seconds",
            "kubelet_pod_start_sli_duration_seconds",
            "kubelet_pod_worker_duration_seconds",
            "go_goroutines",
        ];
        // One transposed pair in 34 characters: 1 - 1/34 ≈ 0.97; `_sli` adds four inserts to the
        // transposition, 1 - 5/38 ≈ 0.87, more than 0.1 behind.
        assert_eq!(
            near_misses("kubelet_pod_strat_duration_seconds", &seen),
            ["kubelet_pod_start_duration_seconds"]
        );
        // A glob's literal part against as much of each name: both pod-start names alike.
        assert_eq!(
            near_misses("kubelet_pod_strat*", &seen),
            ["kubelet_pod_start_duration_seconds", "kubelet_pod_start_sli_duration_seconds"]
        );
        assert_eq!(
            near_misses("kubelet_pod_start_duration_seconds_bucket", &seen),
            Vec::<String>::new(),
            "found"
        );
        assert_eq!(near_misses("something_else_entirely", &seen), Vec::<String>::new(), "nothing close");
        assert_eq!(near_misses("go_goroutines", &seen), Vec::<String>::new());
    }
    use super::*;

    fn sample(name: &str, labels: &[(&str, &str)]) -> Sample {
        Sample {
            name: name.into(),
            labels: labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            value: 1.0,
            timestamp_ms: None,
        }
    }

    #[test]
    fn quoted_utf8_names_select_like_prometheus_3() {
        // Prometheus 3 selects a UTF-8 name with `{"name", ...}` or `{__name__="name"}`, and a
        // UTF-8 label name in quotes.
        let s: Selector = r#"{"http.server.duration", "service.name"="api"}"#.parse().unwrap();
        assert!(s.keeps_family("http.server.duration"));
        assert!(!s.keeps_family("http_server_duration"));
        assert!(s.keeps_sample(
            "http.server.duration",
            &sample("http.server.duration", &[("service.name", "api")])
        ));
        assert!(!s.keeps_sample("http.server.duration", &sample("http.server.duration", &[])));
        let s: Selector = r#"{__name__="a b", code!="500"}"#.parse().unwrap();
        assert!(s.keeps_family("a b"));
        // A quoted name is literal: `*` in it is not a glob.
        let s: Selector = r#"{"a*"}"#.parse().unwrap();
        assert!(s.keeps_family("a*"));
        assert!(!s.keeps_family("ab"));
    }

    #[test]
    fn quoted_names_with_selector_syntax_inside_are_selected_whole() {
        // Two fuzzer findings: family names `caec_vfo{\t\t\t}` and `cadvisAoo{\t\t\t\t\x0c\t}`
        // (from `# HELP "..."` lines) hold braces and blanks; typed bare they read as a selector
        // with matchers, quoted they select exactly that family.
        for name in ["caec_vfo{\t\t\t}", "cadvisAoo{\t\t\t\t\x0c\t}"] {
            let text = format!("{{{}}}", quote(name));
            let s: Selector = text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert!(s.keeps_family(name), "{text:?}");
            assert!(!s.keeps_family(name.split('{').next().unwrap()), "{text:?}");
        }
    }

    #[test]
    fn a_selector_prints_text_that_parses_back() {
        for text in [
            "x",
            "kubelet_*{le=\"1\",operation_type=~\"create|update\"}",
            r#"{"my.metric"}"#,
            r#"{"a\"b\\c\nd", "dotted.label"!~"x|y"}"#,
            "x{a=\"tab\\there\"}",
        ] {
            let s: Selector = text.parse().unwrap();
            let shown = s.to_string();
            let again: Selector = shown.parse().unwrap_or_else(|e| panic!("{text} → {shown}: {e}"));
            assert_eq!(again.to_string(), shown, "{text}");
        }
        assert_eq!(
            r#"{"my.metric",code="200"}"#.parse::<Selector>().unwrap().to_string(),
            r#"{"my.metric",code="200"}"#
        );
        assert_eq!(r#"{__name__="up"}"#.parse::<Selector>().unwrap().to_string(), "up");
    }

    #[test]
    fn a_name_given_twice_or_missing_is_refused() {
        for text in [
            r#"x{"y"}"#,
            r#"{"x", __name__="y"}"#,
            "{code=\"200\"}",
            r#"{""}"#,
            "{}",
            r#"{__name__=~"x.*"}"#,
            "{code}",
        ] {
            assert!(text.parse::<Selector>().is_err(), "{text}");
        }
    }

    #[test]
    fn globs_match_names() {
        assert!(glob_matches(b"kubelet_pod_*", b"kubelet_pod_start_duration_seconds"));
        assert!(glob_matches(b"*_seconds", b"x_seconds"));
        assert!(glob_matches(b"*", b""));
        assert!(glob_matches(b"a?c", b"abc"));
        assert!(!glob_matches(b"a?c", b"ac"));
        assert!(glob_matches(b"*a*b*", b"xxaxxbxx"));
        assert!(!glob_matches(b"*_seconds", b"x_seconds_total"));
    }

    #[test]
    fn histogram_names_keep_their_family() {
        let s: Selector = "x".parse().unwrap();
        assert!(s.keeps_family("x"));
        assert!(!s.keeps_family("xy"));
        let s: Selector = "x_bucket".parse().unwrap();
        assert!(s.keeps_family("x"));
        assert!(s.keeps_sample("x", &sample("x_bucket", &[("le", "1")])));
        assert!(!s.keeps_sample("x", &sample("x_sum", &[])));
        let s: Selector = "*_seconds".parse().unwrap();
        assert!(s.keeps_family("a_seconds"));
        assert!(s.keeps_sample("a_seconds", &sample("a_seconds_bucket", &[])));
    }

    #[test]
    fn label_matchers_are_anchored_like_promql() {
        let s: Selector = r#"x{a="1", b=~"fo.", c!="z", d!~"q.*"}"#.parse().unwrap();
        assert!(s.keeps_sample("x", &sample("x", &[("a", "1"), ("b", "foo"), ("c", "y")])));
        assert!(!s.keeps_sample("x", &sample("x", &[("a", "1"), ("b", "fooo")])));
        assert!(!s.keeps_sample("x", &sample("x", &[("a", "1"), ("b", "foo"), ("d", "qq")])));
        assert!(!s.keeps_sample("x", &sample("x", &[("a", "1"), ("b", "foo"), ("c", "z")])));
        let s: Selector = r#"x{missing=""}"#.parse().unwrap();
        assert!(s.keeps_sample("x", &sample("x", &[])));
    }

    #[test]
    fn any_of_keeps_either() {
        let s = Selector::any_of(vec!["a".parse().unwrap(), "b{k='v'}".parse().unwrap()]);
        assert!(s.keeps_family("a") && s.keeps_family("b") && !s.keeps_family("c"));
        assert!(!Selector::any_of(vec![]).keeps_family("a"));
        assert!(Selector::all().is_all());
        assert_eq!(s.to_string(), r#"a or b{k="v"}"#);
    }

    #[test]
    fn bad_selectors_say_why() {
        for bad in ["", "{a=\"b\"}", "x{", "x{a}", "x{a=b}", "x{a=~\"(\"}", "x y", "x{a=\"b\" c=\"d\"}", "9x"]
        {
            let err = bad.parse::<Selector>().expect_err(bad);
            assert!(!err.to_string().is_empty());
        }
    }
}
