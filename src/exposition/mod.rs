//! The Prometheus text exposition format (0.0.4) and OpenMetrics text: parsing and writing.
//! Knows nothing about kubelets, histograms' meaning or the network.
//!
//! - [`line`](mod@line): one line → a borrowed view ([`Line`], [`SampleRef`]); no allocation.
//! - [`stream`]: lines → [`Family`] values as byte chunks arrive ([`StreamParser`]), grouping
//!   `_bucket` / `_sum` / `_count` / `_created` (histograms), `quantile` series (summaries) and
//!   `_total` (OpenMetrics counters) under the family their TYPE line names. A sample with no
//!   matching TYPE line becomes an `Untyped` family named by the sample name.
//! - [`selector`]: which families and samples to keep ([`Selector`]); a skipped family's lines
//!   are recognised by name and never parsed further.
//! - [`write`](mod@write): families → exposition text, with an extra label injected.
//!
//! Owned [`Family`] / [`Sample`] values are built only for samples the selector keeps (a
//! sample's labels in one [`LabelSet`], shared with the samples before it whose label text the
//! parser found the same at the same place in their family, and its name shared within its
//! family); [`visit`] walks
//! the same grouping and checks without building any (zero-copy, for callers that only read
//! values), handing each sample's label positions over so a visitor never scans its labels again.
//! Lines are found with `memchr`, label values scanned eight bytes at a time, timestamps and
//! integer values parsed eight digits at a time; a label name equal to the one at its place in
//! the last label set seen skips its checks (consecutive samples repeat their names), and UTF-8
//! is checked over a window of the input at a time rather than name by name and comment by
//! comment. `cargo bench --bench parser` and `scripts/bench-parser.sh` measure it against a
//! memchr-only split and the peer parsers.
//!
//! # What is fatal and what is not
//!
//! The lenient entry points ([`StreamParser`], [`parse_bytes`], [`visit`]) never stop early:
//! every problem is confined to its line, recorded as a [`ParseError`] with the line number, and
//! that line is dropped while the other lines — and families — are kept:
//!
//! - a malformed sample line (bad name, label set, escape, duplicate label, value, timestamp,
//!   text after the value, invalid UTF-8) drops that sample;
//! - a histogram `_bucket` sample without a numeric `le` (or a summary quantile sample without a
//!   numeric `quantile`) drops that sample;
//! - lines of any length are read (Prometheus has no line limit; callers bound the body with
//!   `--max-body`); a [`StreamParser::with_max_line`] limit skips a longer line unbuffered;
//! - a second TYPE or HELP line for a family, a TYPE line after the family's samples, or a
//!   malformed HELP/TYPE line drops that metadata line (an unknown TYPE word too, so the samples
//!   that follow become `Untyped` families);
//! - after OpenMetrics `# EOF` the rest of the input is ignored (one error if it is not blank).
//!
//! At most [`MAX_ERRORS`] errors are kept; one final error counts the rest.
//! Lines of a family the selector skips are only matched by name, so their errors are not
//! reported. The strict [`parse`] keeps everything and fails on the first error.
//!
//! Samples of one family are expected to be contiguous; a family that resumes after another one
//! is merged into its first occurrence (as Prometheus's own text parser does).
//!
//! Accepted as exporters emit it: HELP/TYPE/UNIT and plain comments, escapes, `NaN`, `+Inf`,
//! `-Inf`, `Inf`, every Go and Python float spelling, integer millisecond timestamps, `{}` and
//! trailing commas, tabs or several blanks between tokens, leading blanks, CRLF, a missing final
//! newline, `# EOF`, exemplars (ignored), families with no TYPE line and empty HELP text.

use std::sync::Arc;

use smallvec::SmallVec;

pub mod line;
pub mod selector;
pub mod stream;
pub mod write;

pub use line::{
    Labels, Line, SampleRef, is_label_name, is_metric_name, parse_line, parse_value, unescape_help,
};
pub use selector::{Selector, SelectorError};

pub use stream::{
    FamilyHead, MAX_ERRORS, MAX_LINE_LEN, StreamParser, StreamVisitor, Visited, Visitor, parse_bytes, visit,
};
pub use write::{Injected, format_value, kind_name, write, write_head, write_sample};

/// What a family's `# TYPE` line says it is (`Untyped` when there is no TYPE line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricKind {
    /// A monotonically increasing counter.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative `_bucket{le=...}` series plus `_sum` and `_count`.
    Histogram,
    /// `{quantile=...}` series plus `_sum` and `_count`.
    Summary,
    /// No TYPE line, or `untyped` / `unknown`.
    Untyped,
    /// OpenMetrics `gaugehistogram`.
    GaugeHistogram,
    /// OpenMetrics `info`.
    Info,
    /// OpenMetrics `stateset`.
    StateSet,
}

/// One metric family: its metadata and every sample that belongs to it, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The family name (for histograms, without `_bucket` / `_sum` / `_count`).
    pub name: String,
    /// HELP text, unescaped; empty when absent.
    pub help: String,
    /// What the TYPE line says.
    pub kind: MetricKind,
    /// OpenMetrics UNIT, empty when absent.
    pub unit: String,
    /// Samples in input order.
    pub samples: Vec<Sample>,
}

/// One sample line: full sample name (e.g. `x_bucket`), labels as sent (unescaped), value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's own name, e.g. `kubelet_pod_start_duration_seconds_bucket` (shared by the
    /// samples of a family that carry it).
    pub name: Arc<str>,
    /// Label pairs in input order, values unescaped.
    pub labels: LabelSet,
    /// The value; `NaN` and infinities are kept.
    pub value: f64,
    /// Optional timestamp in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

/// A sample's label pairs in input order, values unescaped. Names and values live in one
/// shared string: cloning a set is a reference-count increment. A parse gives a sample whose
/// label text is the same bytes as that of a sample at the same place in an earlier family that
/// sample's set (a cadvisor payload lists the same containers in the same order in every
/// family), so a cadvisor payload's owned samples hold about one set per container.
///
/// ```
/// use kubelet_metrics::exposition::LabelSet;
/// let labels: LabelSet = [("le", "0.5"), ("op", "create")].into_iter().collect();
/// assert_eq!(labels.get("op"), Some("create"));
/// assert_eq!(labels.iter().collect::<Vec<_>>(), [("le", "0.5"), ("op", "create")]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LabelSet(Arc<Pairs>);

/// What a [`LabelSet`] shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pairs {
    /// Every name followed by its value, in order.
    text: String,
    /// Where each name ends and where its value ends, in `text` (a few inline: a set of up to
    /// four labels is one allocation beside its text).
    ends: SmallVec<[(usize, usize); 4]>,
}

impl LabelSet {
    /// An empty set with room for `labels` pairs holding `bytes` of names and values.
    pub fn with_capacity(labels: usize, bytes: usize) -> LabelSet {
        LabelSet(Arc::new(Pairs {
            text: String::with_capacity(bytes),
            ends: SmallVec::with_capacity(labels),
        }))
    }

    /// Adds a pair at the end (a name already present is not replaced). A set shared with
    /// other samples is copied first, so they keep their labels.
    pub fn push(&mut self, name: &str, value: &str) {
        Arc::make_mut(&mut self.0).push_with(name, |text| text.push_str(value));
    }

    /// The pairs, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone + '_ {
        let mut start = 0;
        let text = &self.0.text;
        self.0.ends.iter().map(move |&(name_end, value_end)| {
            let pair = (&text[start..name_end], &text[name_end..value_end]);
            start = value_end;
            pair
        })
    }

    /// The value of label `name`, if the set has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|&(n, _)| n == name).map(|(_, v)| v)
    }

    /// How many pairs the set holds.
    pub fn len(&self) -> usize {
        self.0.ends.len()
    }

    /// Whether the set holds no pair.
    pub fn is_empty(&self) -> bool {
        self.0.ends.is_empty()
    }
}

impl Pairs {
    /// Adds a pair whose value `write` appends to the text (e.g. unescaped in place).
    #[inline]
    pub(crate) fn push_with(&mut self, name: &str, write: impl FnOnce(&mut String)) {
        self.text.push_str(name);
        let name_end = self.text.len();
        write(&mut self.text);
        self.ends.push((name_end, self.text.len()));
    }
}

// Equal sets have equal text, so the text alone is a valid hash (and a cheaper one).
impl std::hash::Hash for LabelSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.text.hash(state);
    }
}

/// Shares label sets and sample names among the samples of a payload as it is parsed. A sample
/// whose label text the parser found remembered at its place ([`line::TextId`]: the same bytes
/// as a line at the same place in a family before, most often the family just before, since
/// cadvisor lists the same containers in the same order in every family) gets the set built
/// for that text; any other set is built. Nothing is hashed or looked up.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    /// The set made for each remembered place, with the id of the text it was made from.
    places: Vec<(u64, LabelSet)>,
    /// The set of every sample without labels.
    empty: LabelSet,
    /// The sample names of the current family (`_bucket`, `_sum`, `_count`... a handful).
    names: Vec<Arc<str>>,
}

impl Interner {
    /// Most sample names remembered for one family; past it the list starts again.
    const NAMES: usize = 8;

    /// Samples from here on belong to another family.
    pub(crate) fn new_family(&mut self) {
        self.names.clear();
    }

    /// The shared copy of sample name `name`.
    #[inline]
    pub(crate) fn name(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.names.iter().find(|n| ***n == *name) {
            return shared.clone();
        }
        if self.names.len() == Self::NAMES {
            self.names.clear();
        }
        let shared: Arc<str> = name.into();
        self.names.push(shared.clone());
        shared
    }

    /// The set of a sample whose label text as sent is `raw`, remembered by the parser as
    /// `text`: the set made before for that text, else the set `fill` writes into an empty one
    /// (`None` when `fill` gives up).
    #[inline]
    pub(crate) fn labels(
        &mut self,
        raw: &[u8],
        text: Option<line::TextId>,
        fill: impl FnOnce(&mut Pairs) -> Option<()>,
    ) -> Option<LabelSet> {
        if raw.is_empty() {
            return Some(self.empty.clone());
        }
        if let Some(text) = text
            && let Some((id, set)) = self.places.get(text.place)
            && *id == text.id
        {
            return Some(set.clone());
        }
        // Unescaping only shortens a value, and names and values are within `raw`.
        let mut pairs = Pairs { text: String::with_capacity(raw.len()), ends: SmallVec::new() };
        fill(&mut pairs)?;
        let set = LabelSet(Arc::new(pairs));
        if let Some(text) = text {
            match self.places.get_mut(text.place) {
                Some(slot) => *slot = (text.id, set.clone()),
                None => {
                    let empty = self.empty.clone();
                    self.places.resize_with(text.place, || (0, empty.clone()));
                    self.places.push((text.id, set.clone()));
                }
            }
        }
        Some(set)
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for LabelSet {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> LabelSet {
        let mut set = LabelSet::default();
        for (name, value) in pairs {
            set.push(name.as_ref(), value.as_ref());
        }
        set
    }
}

impl std::fmt::Debug for LabelSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Family {
    /// The samples named exactly `name` (e.g. `x_bucket`), in input order.
    pub fn samples_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| &*s.name == name)
    }
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    ///
    /// ```
    /// use kubelet_metrics::exposition::parse;
    /// let families = parse("x{le=\"0.5\"} 1\n").unwrap();
    /// assert_eq!(families[0].samples[0].label("le"), Some("0.5"));
    /// ```
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name)
    }
}

/// What a lenient parse kept, and the line errors it met on the way.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// Families the selector kept, in payload order.
    pub families: Vec<Family>,
    /// Non-fatal errors, in line order.
    pub errors: Vec<ParseError>,
    /// Lines that were Prometheus text (samples of any family, kept or not, HELP, TYPE, UNIT,
    /// `# EOF`): none at all, beside malformed lines, means the payload is not Prometheus text.
    pub valid_lines: usize,
    /// Family names in the payload that read closest to a name the selector asked for and the
    /// payload lacks, closest first (at most [`selector::NEAR_MISSES`]): "did you mean".
    pub near_misses: Vec<String>,
}

impl Parsed {
    /// Why the payload is not Prometheus text at all — malformed lines and not one valid line —
    /// naming the first few bad lines and counting the rest; `None` when it is (an empty payload
    /// is valid: a kubelet with nothing to report).
    ///
    /// ```
    /// use kubelet_metrics::exposition::{parse_bytes, Selector};
    /// let garbage = parse_bytes(b"<html>\n<body>\n</html>\n<p>\n", &Selector::all());
    /// let why = garbage.not_prometheus_text().unwrap();
    /// assert!(why.starts_with("not Prometheus text: no valid line; line 1: "), "{why}");
    /// assert!(why.ends_with("; and 1 more malformed line(s)"), "{why}");
    /// assert!(parse_bytes(b"a 1\n<b>\n", &Selector::all()).not_prometheus_text().is_none());
    /// ```
    pub fn not_prometheus_text(&self) -> Option<String> {
        not_prometheus_text(&self.errors, self.valid_lines)
    }
}

/// Why a payload with these line errors and valid lines is not Prometheus text at all (see
/// [`Parsed::not_prometheus_text`]); `None` when it is.
pub fn not_prometheus_text(errors: &[ParseError], valid_lines: usize) -> Option<String> {
    /// How many bad lines are quoted.
    const SHOWN: usize = 3;
    if valid_lines > 0 || errors.is_empty() {
        return None;
    }
    let omitted: usize = errors
        .iter()
        .map(|e| match e.kind {
            ParseErrorKind::TooManyErrors { omitted } => omitted,
            _ => 1,
        })
        .sum();
    let shown: Vec<String> = errors
        .iter()
        .filter(|e| !matches!(e.kind, ParseErrorKind::TooManyErrors { .. }))
        .take(SHOWN)
        .map(ToString::to_string)
        .collect();
    let mut message = format!("not Prometheus text: no valid line; {}", shown.join("; "));
    let rest = omitted.saturating_sub(shown.len());
    if rest > 0 {
        message.push_str(&format!("; and {rest} more malformed line(s)"));
    }
    Some(message)
}

/// A problem at one line of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub kind: ParseErrorKind,
}

/// What is wrong with a line. Quoted input is cut to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The line is not valid UTF-8.
    #[error("line is not valid UTF-8")]
    InvalidUtf8,
    /// The line is longer than the parser buffers.
    #[error("line is longer than {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// A metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name `{0}`")]
    InvalidMetricName(String),
    /// A HELP / TYPE / UNIT line names no family.
    #[error("`# {keyword}` line without a metric name")]
    MissingName {
        /// `HELP`, `TYPE` or `UNIT`.
        keyword: &'static str,
    },
    /// A label name does not match `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name `{0}`")]
    InvalidLabelName(String),
    /// A label value is not in double quotes.
    #[error("value of label `{0}` is not quoted")]
    UnquotedLabelValue(String),
    /// A backslash escape other than `\\`, `\"` or `\n` in a label value.
    #[error("invalid escape `\\{0}` in label value (only \\\\, \\\" and \\n are allowed)")]
    BadEscape(String),
    /// A label value has no closing quote.
    #[error("label value is not closed with `\"`")]
    UnterminatedQuote,
    /// A label set has no closing brace.
    #[error("label set is not closed with `}}`")]
    UnterminatedLabelSet,
    /// Something other than `,` or `}` after a label value.
    #[error("expected `,` or `}}` after a label value")]
    ExpectedCommaOrBrace,
    /// The same label name twice in one label set.
    #[error("duplicate label `{0}`")]
    DuplicateLabel(String),
    /// A sample line has no value.
    #[error("sample has no value")]
    MissingValue,
    /// A value is not a float.
    #[error("value `{0}` is not a number")]
    InvalidValue(String),
    /// A timestamp is neither integer milliseconds nor OpenMetrics float seconds.
    #[error("timestamp `{0}` is not a number of milliseconds or seconds")]
    InvalidTimestamp(String),
    /// Text after the value and timestamp that is not an exemplar.
    #[error("unexpected text `{0}` after the value")]
    TrailingGarbage(String),
    /// A TYPE line names an unknown kind.
    #[error("unknown metric type `{0}`")]
    UnknownType(String),
    /// A histogram `_bucket` sample without `le`.
    #[error("histogram bucket has no `le` label")]
    MissingLe,
    /// A histogram `_bucket` sample whose `le` is not a float.
    #[error("`le` is not a number")]
    InvalidLe,
    /// A summary quantile sample without `quantile`.
    #[error("summary sample has no `quantile` label")]
    MissingQuantile,
    /// A summary sample whose `quantile` is not a float.
    #[error("`quantile` is not a number")]
    InvalidQuantile,
    /// A TYPE line after samples of its family.
    #[error("TYPE line for `{0}` after its samples")]
    TypeAfterSamples(String),
    /// A second TYPE line for a family.
    #[error("second TYPE line for `{0}`")]
    DuplicateType(String),
    /// A second HELP line for a family.
    #[error("second HELP line for `{0}`")]
    DuplicateHelp(String),
    /// Non-blank input after OpenMetrics `# EOF`.
    #[error("content after `# EOF`")]
    ContentAfterEof,
    /// More errors than [`MAX_ERRORS`]; this many were not kept.
    #[error("{omitted} more errors not shown")]
    TooManyErrors {
        /// How many errors were dropped.
        omitted: usize,
    },
}

/// Parses a whole payload strictly: every family, or the first error.
///
/// ```
/// use kubelet_metrics::exposition::{parse, MetricKind};
/// let text = "# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 3\nx_sum 4.5\nx_count 3\n";
/// let families = parse(text).unwrap();
/// assert_eq!((families[0].name.as_str(), families[0].kind), ("x", MetricKind::Histogram));
/// assert_eq!(families[0].samples.len(), 4);
/// let err = parse("# TYPE x histogram\nx_bucket{le=\"big\"} 1\n").unwrap_err();
/// assert_eq!(err.to_string(), "line 2: `le` is not a number");
/// ```
pub fn parse(text: &str) -> Result<Vec<Family>, ParseError> {
    let parsed = parse_bytes(text.as_bytes(), &Selector::all());
    match parsed.errors.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(parsed.families),
    }
}

#[cfg(test)]
mod tests;
