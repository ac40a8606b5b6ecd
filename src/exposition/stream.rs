//! Lines → families, as bytes arrive: grouping of `_bucket`/`_sum`/`_count`/... series under
//! their TYPE line, the selector's per-family decision, metadata checks and chunk reassembly.
//! What a single line means lives in `line`; the owned output types live in `mod.rs`.

// Family names are looked up several times per family and node: foldhash, not SipHash.
use foldhash::HashMap;

use super::line::{self, Line, SampleRef};
use super::selector::{FamilyFilter, belongs, family_candidates, suffix_belongs};
use super::{Family, Interner, MetricKind, ParseError, ParseErrorKind, Parsed, Selector};

/// The longest line a [`StreamParser`] buffers by default: no limit of its own, because every
/// caller bounds the whole body (`--max-body`), and Prometheus accepts any line length.
/// [`StreamParser::with_max_line`] sets one.
pub const MAX_LINE_LEN: usize = usize::MAX;

/// Most errors kept in [`Parsed::errors`]; the rest are counted in one final error.
pub const MAX_ERRORS: usize = 1000;

/// A family's metadata, as its HELP / TYPE / UNIT lines gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyHead {
    /// The family name.
    pub name: String,
    /// HELP text, unescaped; empty when absent.
    pub help: String,
    /// What the TYPE line says (`Untyped` without one).
    pub kind: MetricKind,
    /// OpenMetrics UNIT, empty when absent.
    pub unit: String,
}

/// Receives what the parser keeps.
pub(crate) trait Sink {
    /// Memory the parser may spend remembering validated label texts by place
    /// ([`line::LabelScratch`]), per payload. Streams keep it small, since many are parsed at
    /// once (1 MiB holds a real cadvisor payload's largest family five times over); an owned
    /// parse, which holds every sample anyway, allows 32 MiB.
    const REMEMBER: usize = 1 << 20;
    /// A kept family starts (or resumes, when its name was seen before).
    fn family(&mut self, head: &FamilyHead);
    /// A kept sample of the last announced family, with where its labels are and, when the
    /// parser remembers its label text, under which id.
    fn sample(&mut self, sample: &SampleRef<'_>, spans: &[line::LabelSpan], text: Option<line::TextId>);
}

/// Builds owned families, merging a family that resumes after another one.
#[derive(Debug, Default)]
pub(crate) struct OwnedSink {
    pub families: Vec<Family>,
    index: HashMap<String, usize>,
    current: usize,
    interner: Interner,
}

impl Sink for OwnedSink {
    const REMEMBER: usize = 32 << 20;

    fn family(&mut self, head: &FamilyHead) {
        self.interner.new_family();
        if let Some(&k) = self.index.get(&head.name) {
            self.current = k;
            let family = &mut self.families[k];
            if family.help.is_empty() {
                family.help.clone_from(&head.help);
            }
            return;
        }
        self.current = self.families.len();
        self.index.insert(head.name.clone(), self.current);
        self.families.push(Family {
            name: head.name.clone(),
            help: head.help.clone(),
            kind: head.kind,
            unit: head.unit.clone(),
            samples: Vec::new(),
        });
    }

    #[inline]
    fn sample(&mut self, sample: &SampleRef<'_>, spans: &[line::LabelSpan], text: Option<line::TextId>) {
        let owned = sample.to_sample_with(spans, text, &mut self.interner);
        if let Some(family) = self.families.get_mut(self.current) {
            family.samples.push(owned);
        }
    }
}

/// A closure sink for [`visit`].
struct FnSink<F> {
    head: FamilyHead,
    on_sample: F,
}

impl<F: FnMut(&FamilyHead, &SampleRef<'_>)> Sink for FnSink<F> {
    fn family(&mut self, head: &FamilyHead) {
        self.head.clone_from(head);
    }

    #[inline]
    fn sample(&mut self, sample: &SampleRef<'_>, spans: &[line::LabelSpan], _: Option<line::TextId>) {
        (self.on_sample)(&self.head, &sample.with_spans(spans));
    }
}

/// What is remembered of a family once another one starts.
#[derive(Debug, Clone)]
struct Seen {
    head: FamilyHead,
    typed: bool,
    has_help: bool,
    has_samples: bool,
}

/// The family lines currently belong to.
#[derive(Debug)]
struct Current {
    head: FamilyHead,
    typed: bool,
    has_help: bool,
    has_samples: bool,
    announced: bool,
    filter: FamilyFilter,
    /// Sample lines of this family parsed since it became current: the next one's place.
    places: usize,
}

/// The line-by-line state machine shared by every entry point.
pub(crate) struct Core<S> {
    pub sink: S,
    selector: Selector,
    current: Option<Current>,
    seen: HashMap<String, Seen>,
    errors: Vec<ParseError>,
    omitted: usize,
    /// Lines that were Prometheus text: samples (kept or skipped), HELP, TYPE, UNIT, `# EOF`.
    valid_lines: usize,
    last_line: usize,
    eof: bool,
    after_eof_reported: bool,
    /// Where the current line's labels are, and the last label names seen, reused across lines.
    label_names: line::LabelScratch,
    /// Which selector terms kept some family, for "did you mean" when one kept none.
    matched_terms: Vec<bool>,
}

impl<S: Sink> Core<S> {
    pub fn new(sink: S, selector: Selector) -> Self {
        Core {
            sink,
            current: None,
            seen: HashMap::default(),
            errors: Vec::new(),
            omitted: 0,
            valid_lines: 0,
            last_line: 0,
            eof: false,
            after_eof_reported: false,
            label_names: line::LabelScratch::remembering(S::REMEMBER),
            matched_terms: vec![false; selector.term_count()],
            selector,
        }
    }

    pub fn error(&mut self, line: usize, kind: ParseErrorKind) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(ParseError { line, kind });
        } else {
            self.omitted += 1;
        }
    }

    /// Handles one complete line (without `\n`), numbered from 1. `text(ahead)` gives the line
    /// as text when it is UTF-8, asked only when the line is parsed; `ahead` says that the lines
    /// after it will likely be asked for too (a sample's), so checking past it pays; a comment
    /// line asks for itself alone (the family it starts may be one the selector skips).
    #[inline]
    pub fn line<'a>(&mut self, line_no: usize, bytes: &'a [u8], text: impl FnOnce(bool) -> Option<&'a str>) {
        self.last_line = line_no;
        if self.eof {
            if !self.after_eof_reported && !line::trim_end(bytes).is_empty() {
                self.after_eof_reported = true;
                self.error(line_no, ParseErrorKind::ContentAfterEof);
            }
            return;
        }
        // Fast path: a sample of a family the selector skips is recognised by its name alone.
        if let Some(current) = &mut self.current
            && !current.filter.keep
            && skipped_sample(&current.head, bytes)
        {
            current.has_samples = true;
            self.valid_lines += 1;
            return;
        }
        let (family, place) = self.current.as_ref().map_or(("", 0), |c| (c.head.name.as_str(), c.places));
        self.label_names.place = place;
        let parsed =
            line::parse_line_in(bytes, text(bytes.first() != Some(&b'#')), family, &mut self.label_names);
        if matches!(
            parsed,
            Ok(Line::Eof | Line::Help { .. } | Line::Type { .. } | Line::Unit { .. } | Line::Sample(_))
        ) {
            self.valid_lines += 1;
        }
        match parsed {
            Err(kind) => self.error(line_no, kind),
            Ok(Line::Blank | Line::Comment) => {}
            Ok(Line::Eof) => self.eof = true,
            Ok(Line::Help { name, text }) => self.on_help(line_no, name, text),
            Ok(Line::Type { name, kind }) => self.on_type(line_no, name, kind),
            Ok(Line::Unit { name, unit }) => self.on_unit(name, unit),
            Ok(Line::Sample(sample)) => self.on_sample(line_no, &sample),
        }
    }

    /// Makes `name` the current family, resuming it when it was seen before.
    fn switch_to(&mut self, name: &str) -> &mut Current {
        self.close_current();
        let current = match self.seen.get(name) {
            Some(seen) => Current {
                head: seen.head.clone(),
                typed: seen.typed,
                has_help: seen.has_help,
                has_samples: seen.has_samples,
                announced: false,
                filter: self.selector.family_filter(name),
                places: 0,
            },
            None => Current {
                head: FamilyHead {
                    name: name.to_owned(),
                    help: String::new(),
                    kind: MetricKind::Untyped,
                    unit: String::new(),
                },
                typed: false,
                has_help: false,
                has_samples: false,
                announced: false,
                filter: self.selector.family_filter(name),
                places: 0,
            },
        };
        for &(term, _) in &current.filter.terms {
            self.matched_terms[term] = true;
        }
        self.current.insert(current)
    }

    /// Ends the current family: announces a kept family that has no sample, remembers it.
    fn close_current(&mut self) {
        let Some(current) = self.current.take() else { return };
        if current.filter.keep_empty && !current.announced {
            self.sink.family(&current.head);
        }
        let seen = Seen {
            typed: current.typed,
            has_help: current.has_help,
            has_samples: current.has_samples,
            head: current.head,
        };
        match self.seen.get_mut(&seen.head.name) {
            Some(slot) => *slot = seen,
            None => {
                self.seen.insert(seen.head.name.clone(), seen);
            }
        }
    }

    fn current_is(&self, name: &str) -> bool {
        self.current.as_ref().is_some_and(|c| c.head.name == name)
    }

    /// The family `name`, made current if it is not already.
    fn family_named(&mut self, name: &str) -> &mut Current {
        if self.current_is(name) {
            return self.current.as_mut().expect("current_is checked that a family is current");
        }
        self.switch_to(name)
    }

    fn on_help(&mut self, line_no: usize, name: &str, text: &str) {
        let already = if self.current_is(name) {
            self.current.as_ref().is_some_and(|c| c.has_help)
        } else {
            self.seen.get(name).is_some_and(|s| s.has_help)
        };
        if already {
            self.error(line_no, ParseErrorKind::DuplicateHelp(name.to_owned()));
            return;
        }
        let current = self.family_named(name);
        current.head.help = line::unescape_help(text).into_owned();
        current.has_help = true;
    }

    fn on_type(&mut self, line_no: usize, name: &str, kind: MetricKind) {
        let state = if self.current_is(name) {
            self.current.as_ref().map(|c| (c.typed, c.has_samples))
        } else {
            self.seen.get(name).map(|s| (s.typed, s.has_samples))
        };
        match state {
            Some((true, _)) => return self.error(line_no, ParseErrorKind::DuplicateType(name.to_owned())),
            Some((false, true)) => {
                return self.error(line_no, ParseErrorKind::TypeAfterSamples(name.to_owned()));
            }
            _ => {}
        }
        let current = self.family_named(name);
        current.head.kind = kind;
        current.typed = true;
    }

    fn on_unit(&mut self, name: &str, unit: &str) {
        let current = self.family_named(name);
        current.head.unit = unit.to_owned();
    }

    /// The family a sample that does not belong to the current one goes to.
    fn family_for(&self, sample: &str) -> Option<String> {
        if self.seen.contains_key(sample) {
            return Some(sample.to_owned());
        }
        family_candidates(sample)
            .find(|(family, suffix)| {
                self.seen.get(*family).is_some_and(|s| suffix_belongs(s.head.kind, suffix.as_bytes()))
            })
            .map(|(family, _)| family.to_owned())
    }

    fn on_sample(&mut self, line_no: usize, sample: &SampleRef<'_>) {
        let belongs_here =
            self.current.as_ref().is_some_and(|c| belongs(&c.head.name, c.head.kind, sample.name));
        if !belongs_here {
            let family = self.family_for(sample.name).unwrap_or_else(|| sample.name.to_owned());
            self.switch_to(&family);
        }
        let Some(current) = self.current.as_mut() else { return };
        current.has_samples = true;
        current.places += 1;
        if !current.filter.keep {
            return;
        }
        // Histogram buckets need a numeric `le`, summary quantiles a numeric `quantile`.
        let check = match current.head.kind {
            MetricKind::Histogram | MetricKind::GaugeHistogram
                if sample.name.len() == current.head.name.len() + 7 && sample.name.ends_with("_bucket") =>
            {
                Some(("le", ParseErrorKind::MissingLe, ParseErrorKind::InvalidLe))
            }
            MetricKind::Summary if sample.name.len() == current.head.name.len() => {
                Some(("quantile", ParseErrorKind::MissingQuantile, ParseErrorKind::InvalidQuantile))
            }
            _ => None,
        };
        if let Some((label, missing, invalid)) = check {
            match sample.label_is_number(self.label_names.spans(), label) {
                None => return self.error(line_no, missing),
                Some(false) => return self.error(line_no, invalid),
                Some(true) => {}
            }
        }
        let Some(current) = self.current.as_mut() else { return };
        if !self.selector.keeps_ref(&current.filter, sample) {
            return;
        }
        if !current.announced {
            current.announced = true;
            self.sink.family(&current.head);
        }
        self.sink.sample(sample, self.label_names.spans(), self.label_names.text);
    }

    /// Lines so far that were Prometheus text (samples, HELP, TYPE, UNIT, `# EOF`).
    pub fn valid_lines(&self) -> usize {
        self.valid_lines
    }

    /// The payload's family names closest to a name the selector asked for and did not find
    /// ([`Selector::near_misses`]); empty when every name was found, at no cost then.
    pub fn near_misses(&self) -> Vec<String> {
        if self.matched_terms.iter().all(|&hit| hit) {
            return Vec::new();
        }
        let current = self.current.as_ref().map(|c| c.head.name.as_str());
        self.selector.near_misses(&self.matched_terms, self.seen.keys().map(String::as_str).chain(current))
    }

    /// Ends the input: closes the last family and returns the errors.
    pub fn finish(mut self) -> (S, Vec<ParseError>) {
        self.close_current();
        if self.omitted > 0 {
            let omitted = self.omitted;
            self.errors
                .push(ParseError { line: self.last_line, kind: ParseErrorKind::TooManyErrors { omitted } });
        }
        (self.sink, self.errors)
    }
}

/// Whether `bytes` is a sample line of family `head` (checked by name only).
#[inline]
fn skipped_sample(head: &FamilyHead, bytes: &[u8]) -> bool {
    let name = head.name.as_bytes();
    if !bytes.starts_with(name) {
        return false;
    }
    let rest = &bytes[name.len()..];
    match rest.first() {
        Some(b'{' | b' ' | b'\t') => true,
        Some(b'_') => {
            let len = line::metric_name_len(rest);
            matches!(rest.get(len), Some(b'{' | b' ' | b'\t')) && suffix_belongs(head.kind, &rest[..len])
        }
        _ => false,
    }
}

/// Chunk reassembly shared by [`StreamParser`] and [`StreamVisitor`]: complete lines go to the
/// core at once, the incomplete tail waits for the next chunk.
struct Feeder<S> {
    core: Core<S>,
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The pending line passed `max_line`: drop bytes up to its end.
    overlong: bool,
    /// The longest line buffered; a longer one is reported and skipped.
    max_line: usize,
    /// Lines completed so far.
    lines: usize,
    bytes_seen: u64,
}

impl<S: Sink> Feeder<S> {
    fn new(sink: S, selector: Selector) -> Self {
        Feeder {
            core: Core::new(sink, selector),
            partial: Vec::new(),
            overlong: false,
            max_line: MAX_LINE_LEN,
            lines: 0,
            bytes_seen: 0,
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        self.bytes_seen += chunk.len() as u64;
        let mut rest = chunk;
        if !self.partial.is_empty() || self.overlong {
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                self.push_partial(rest);
                return;
            };
            self.push_partial(&rest[..nl]);
            self.end_partial();
            rest = &rest[nl + 1..];
        }
        let consumed = feed_lines(&mut self.core, &mut self.lines, rest, self.max_line);
        self.push_partial(&rest[consumed..]);
    }

    /// Appends to the pending line, switching to overlong mode past `max_line`.
    fn push_partial(&mut self, bytes: &[u8]) {
        if self.overlong {
            return;
        }
        if self.partial.len().saturating_add(bytes.len()) > self.max_line {
            self.overlong = true;
            self.partial = Vec::new();
            return;
        }
        self.partial.extend_from_slice(bytes);
    }

    /// The pending line is complete.
    fn end_partial(&mut self) {
        self.lines += 1;
        if self.overlong {
            self.overlong = false;
            self.core.error(self.lines, ParseErrorKind::LineTooLong { max: self.max_line });
        } else {
            self.core.line(self.lines, &self.partial, |_| None);
        }
        self.partial.clear();
    }

    /// Ends the input (a last line without `\n` counts): the sink, the errors, the valid lines,
    /// the near misses.
    fn finish(mut self) -> (S, Vec<ParseError>, usize, Vec<String>) {
        if !self.partial.is_empty() || self.overlong {
            self.end_partial();
        }
        let valid_lines = self.core.valid_lines();
        let near_misses = self.core.near_misses();
        let (sink, errors) = self.core.finish();
        (sink, errors, valid_lines, near_misses)
    }
}

/// Incremental parser: feed byte chunks as they arrive, then [`finish`](StreamParser::finish).
///
/// A line split across chunks parses exactly as if it had arrived whole.
///
/// ```
/// use kubelet_metrics::exposition::{Selector, StreamParser};
/// let mut parser = StreamParser::new("x".parse().unwrap());
/// parser.feed(b"# TYPE x histogram\nx_bucket{le=\"+Inf\"} 3\nx_su");
/// parser.feed(b"m 1.5\nx_count 3\ny 1\n");
/// let parsed = parser.finish();
/// assert!(parsed.errors.is_empty());
/// assert_eq!(parsed.families.len(), 1);
/// assert_eq!(parsed.families[0].samples.len(), 3);
/// ```
pub struct StreamParser {
    feeder: Feeder<OwnedSink>,
}

impl std::fmt::Debug for StreamParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamParser")
            .field("lines", &self.feeder.lines)
            .field("bytes_seen", &self.feeder.bytes_seen)
            .finish()
    }
}

impl StreamParser {
    /// A parser that keeps what `selector` keeps.
    pub fn new(selector: Selector) -> Self {
        StreamParser { feeder: Feeder::new(OwnedSink::default(), selector) }
    }

    /// The same parser, but a line longer than `max` bytes is reported as an error and skipped
    /// without being buffered (for callers that do not bound the body themselves).
    pub fn with_max_line(mut self, max: usize) -> Self {
        self.feeder.max_line = max;
        self
    }

    /// Bytes fed so far.
    pub fn bytes_seen(&self) -> u64 {
        self.feeder.bytes_seen
    }

    /// Lines completed so far: the newlines fed (a last line without one is not counted).
    pub fn lines(&self) -> usize {
        self.feeder.lines
    }

    /// Parses the complete lines in `chunk` and keeps the incomplete tail for the next one.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.feeder.feed(chunk);
    }

    /// Ends the input (a last line without `\n` counts) and returns what was kept.
    pub fn finish(self) -> Parsed {
        let (sink, errors, valid_lines, near_misses) = self.feeder.finish();
        Parsed { families: sink.families, errors, valid_lines, near_misses }
    }
}

/// Receives what a [`StreamVisitor`] keeps, in payload order, without owned samples.
pub trait Visitor {
    /// A kept family starts, or resumes after another family (then `head` is the same family
    /// again, possibly with HELP text it lacked before).
    fn family(&mut self, head: &FamilyHead);
    /// A kept sample of the family last announced, seen in place.
    fn sample(&mut self, sample: &SampleRef<'_>);
}

/// Adapts a [`Visitor`] to the parser's sink.
struct VisitorSink<V>(V);

impl<V: Visitor> Sink for VisitorSink<V> {
    fn family(&mut self, head: &FamilyHead) {
        self.0.family(head);
    }

    #[inline]
    fn sample(&mut self, sample: &SampleRef<'_>, spans: &[line::LabelSpan], _: Option<line::TextId>) {
        self.0.sample(&sample.with_spans(spans));
    }
}

/// What a [`StreamVisitor`] saw besides the samples it handed over.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Visited {
    /// Non-fatal errors, in line order.
    pub errors: Vec<ParseError>,
    /// Lines that were Prometheus text (see [`Parsed::valid_lines`]).
    pub valid_lines: usize,
    /// Names in the payload close to a selected name it lacks (see [`Parsed::near_misses`]).
    pub near_misses: Vec<String>,
}

impl Visited {
    /// Why the payload is not Prometheus text at all, as [`Parsed::not_prometheus_text`] says.
    pub fn not_prometheus_text(&self) -> Option<String> {
        super::not_prometheus_text(&self.errors, self.valid_lines)
    }
}

/// Zero-copy incremental parser: feed byte chunks as they arrive; each kept sample goes to a
/// [`Visitor`] in place, so memory stays that of the longest line, whatever the payload size.
/// Same grouping, selection and checks as [`StreamParser`].
///
/// ```
/// use kubelet_metrics::exposition::{FamilyHead, SampleRef, Selector, StreamVisitor, Visitor};
/// #[derive(Default)]
/// struct Names(Vec<String>);
/// impl Visitor for Names {
///     fn family(&mut self, head: &FamilyHead) { self.0.push(head.name.clone()) }
///     fn sample(&mut self, sample: &SampleRef<'_>) { self.0.push(format!("{} {}", sample.name, sample.value)) }
/// }
/// let mut parser = StreamVisitor::new(Names::default(), Selector::all());
/// parser.feed(b"# TYPE x counter\nx_total{a=\"1\"} 2\nx_to");
/// parser.feed(b"tal{a=\"2\"} 3\n");
/// let (names, visited) = parser.finish();
/// assert!(visited.errors.is_empty());
/// assert_eq!(names.0, ["x", "x_total 2", "x_total 3"]);
/// ```
pub struct StreamVisitor<V> {
    feeder: Feeder<VisitorSink<V>>,
}

impl<V: Visitor> StreamVisitor<V> {
    /// A parser handing `visitor` what `selector` keeps.
    pub fn new(visitor: V, selector: Selector) -> Self {
        StreamVisitor { feeder: Feeder::new(VisitorSink(visitor), selector) }
    }

    /// The visitor, between chunks.
    pub fn visitor(&mut self) -> &mut V {
        &mut self.feeder.core.sink.0
    }

    /// Lines completed so far: the newlines fed (a last line without one is not counted).
    pub fn lines(&self) -> usize {
        self.feeder.lines
    }

    /// Parses the complete lines in `chunk` and keeps the incomplete tail for the next one.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.feeder.feed(chunk);
    }

    /// Ends the input (a last line without `\n` counts): the visitor and what else was seen.
    pub fn finish(self) -> (V, Visited) {
        let (sink, errors, valid_lines, near_misses) = self.feeder.finish();
        (sink.0, Visited { errors, valid_lines, near_misses })
    }
}

/// Feeds every complete line of `bytes`; returns how many bytes were consumed.
#[inline]
fn feed_lines<S: Sink>(core: &mut Core<S>, lines: &mut usize, bytes: &[u8], max_line: usize) -> usize {
    let mut start = 0;
    let mut checked = Checked { bytes, from: 0, text: "" };
    for nl in memchr::memchr_iter(b'\n', bytes) {
        *lines += 1;
        let line = &bytes[start..nl];
        if line.len() > max_line {
            core.error(*lines, ParseErrorKind::LineTooLong { max: max_line });
        } else {
            core.line(*lines, line, |ahead| checked.text(start, nl, ahead));
        }
        start = nl + 1;
    }
    start
}

/// How many bytes from a line on are checked for UTF-8 at once when a line is asked for as text.
const CHECK_WINDOW: usize = 64 * 1024;

/// A piece of `bytes` known to be UTF-8: lines inside it are text at no further cost. Checked a
/// window at a time when a parsed line needs it, so the lines of skipped families that are never
/// parsed are never checked either.
struct Checked<'a> {
    bytes: &'a [u8],
    /// Where `text` starts in `bytes`.
    from: usize,
    text: &'a str,
}

impl<'a> Checked<'a> {
    /// `bytes[start..end]` as text, or `None` when it is not UTF-8 (the line parser then says so).
    /// Outside the window checked last, a new window is checked from `start` when `ahead`, else
    /// the line alone.
    #[inline]
    fn text(&mut self, start: usize, end: usize, ahead: bool) -> Option<&'a str> {
        if start < self.from || end > self.from + self.text.len() {
            if !ahead {
                return std::str::from_utf8(&self.bytes[start..end]).ok();
            }
            let limit = end.max(start.saturating_add(CHECK_WINDOW)).min(self.bytes.len());
            // The window ends after a line, so never inside a character.
            let cut = memchr::memrchr(b'\n', &self.bytes[end..limit]).map_or(end, |nl| end + nl);
            let window = &self.bytes[start..cut];
            // SIMD check first; a window with a bad line keeps what is valid before it (the
            // standard check says where that ends).
            self.text = simdutf8::basic::from_utf8(window).unwrap_or_else(|_| {
                let valid = std::str::from_utf8(window).map_or_else(|e| e.valid_up_to(), str::len);
                std::str::from_utf8(&window[..valid]).unwrap_or_default()
            });
            self.from = start;
        }
        self.text.get(start - self.from..end - self.from)
    }
}

/// Parses a whole payload: what `selector` keeps, in payload order, and every line error.
///
/// ```
/// use kubelet_metrics::exposition::{parse_bytes, Selector};
/// let parsed = parse_bytes(b"a 1\nb{a=\"1\"\nc 3", &Selector::all());
/// assert_eq!(parsed.families.len(), 2);
/// assert_eq!(parsed.errors[0].to_string(), "line 2: label set is not closed with `}`");
/// ```
pub fn parse_bytes(bytes: &[u8], selector: &Selector) -> Parsed {
    let mut parser = StreamParser::new(selector.clone());
    let feeder = &mut parser.feeder;
    feeder.bytes_seen = bytes.len() as u64;
    let consumed = feed_lines(&mut feeder.core, &mut feeder.lines, bytes, feeder.max_line);
    feeder.push_partial(&bytes[consumed..]);
    parser.finish()
}

/// Zero-copy walk: calls `on_sample` with each kept sample and its family's metadata, without
/// building owned samples; returns the line errors. Same grouping, selection and checks as
/// [`parse_bytes`].
///
/// ```
/// use kubelet_metrics::exposition::{visit, Selector};
/// let mut sum = 0.0;
/// let errors = visit(b"# TYPE x counter\nx_total{a=\"1\"} 2\nx_total{a=\"2\"} 3\n", &Selector::all(), |family, sample| {
///     assert_eq!(family.name, "x");
///     sum += sample.value;
/// });
/// assert!(errors.is_empty());
/// assert_eq!(sum, 5.0);
/// ```
pub fn visit(
    bytes: &[u8],
    selector: &Selector,
    on_sample: impl FnMut(&FamilyHead, &SampleRef<'_>),
) -> Vec<ParseError> {
    let head = FamilyHead {
        name: String::new(),
        help: String::new(),
        kind: MetricKind::Untyped,
        unit: String::new(),
    };
    let mut core = Core::new(FnSink { head, on_sample }, selector.clone());
    let mut lines = 0;
    let consumed = feed_lines(&mut core, &mut lines, bytes, MAX_LINE_LEN);
    let tail = &bytes[consumed..];
    if !tail.is_empty() {
        lines += 1;
        core.line(lines, tail, |_| std::str::from_utf8(tail).ok());
    }
    core.finish().1
}
