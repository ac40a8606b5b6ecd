//! One line of exposition text → a borrowed view: blank, comment, HELP, TYPE, UNIT, `# EOF` or
//! a sample. Validates names, label escapes, duplicate label names, values and timestamps; never
//! allocates per line (the label scratch is reused). Grouping lines into families lives in `stream`.
//!
//! Longer than most files here (about 1,100 lines before its tests) on purpose: the byte-level
//! grammar — name classes, label escapes, values, timestamps — is one hot loop's concern, and
//! splitting it would scatter the invariants the fast paths rely on.

use std::borrow::Cow;
use std::collections::HashSet;

use super::{Interner, MetricKind, ParseErrorKind, Sample};

/// Byte classes: bit 1 = may start a metric name, bit 2 = may continue one,
/// bit 4 = may start a label name, bit 8 = may continue one.
const NAME_START: u8 = 1;
const NAME_CONT: u8 = 2;
const LABEL_START: u8 = 4;
const LABEL_CONT: u8 = 8;

static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alpha = c.is_ascii_alphabetic() || c == b'_';
        let digit = c.is_ascii_digit();
        let mut class = 0;
        if alpha || c == b':' {
            class |= NAME_START | NAME_CONT;
        }
        if digit {
            class |= NAME_CONT | LABEL_CONT;
        }
        if alpha {
            class |= LABEL_START | LABEL_CONT;
        }
        table[b] = class;
        b += 1;
    }
    table
};

/// Longest offending token quoted back in an error message.
const QUOTE_MAX: usize = 64;

/// Quotes a piece of input in an error message, cut to a readable length.
pub(crate) fn quote(text: &str) -> String {
    match text.char_indices().nth(QUOTE_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Whether `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
///
/// ```
/// use kubelet_metrics::exposition::is_metric_name;
/// assert!(is_metric_name("kubelet_pod_start_duration_seconds"));
/// assert!(!is_metric_name("9lives"));
/// ```
pub fn is_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && CLASS[b[0] as usize] & NAME_START != 0
        && b[1..].iter().all(|&c| CLASS[c as usize] & NAME_CONT != 0)
}

/// Whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
///
/// ```
/// use kubelet_metrics::exposition::is_label_name;
/// assert!(is_label_name("le"));
/// assert!(!is_label_name("a-b"));
/// ```
pub fn is_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && CLASS[b[0] as usize] & LABEL_START != 0
        && b[1..].iter().all(|&c| CLASS[c as usize] & LABEL_CONT != 0)
}

/// Length of the metric-name prefix of `bytes` (0 when it does not start with a name).
#[inline]
pub(crate) fn metric_name_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(&c) if CLASS[c as usize] & NAME_START != 0 => {
            1 + bytes[1..].iter().position(|&c| CLASS[c as usize] & NAME_CONT == 0).unwrap_or(bytes.len() - 1)
        }
        _ => 0,
    }
}

/// One line, classified and validated, borrowing from the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    /// Empty or whitespace only.
    Blank,
    /// A `#` line that is not HELP, TYPE, UNIT or EOF.
    Comment,
    /// `# HELP name text`; `text` still escaped (`\\` and `\n`), see [`unescape_help`].
    Help {
        /// The family name.
        name: &'a str,
        /// Raw HELP text, trailing whitespace removed.
        text: &'a str,
    },
    /// `# TYPE name kind`.
    Type {
        /// The family name.
        name: &'a str,
        /// The declared kind.
        kind: MetricKind,
    },
    /// OpenMetrics `# UNIT name unit`.
    Unit {
        /// The family name.
        name: &'a str,
        /// The unit, e.g. `seconds`.
        unit: &'a str,
    },
    /// OpenMetrics `# EOF`.
    Eof,
    /// A sample line.
    Sample(SampleRef<'a>),
}

/// A sample line seen in place: name, validated raw label text, value and timestamp.
///
/// Label values stay escaped in the input; [`SampleRef::labels`] unescapes them lazily
/// (borrowing whenever a value has no escape).
#[derive(Debug, Clone, Copy)]
pub struct SampleRef<'a> {
    /// The sample's own name, e.g. `x_bucket`.
    pub name: &'a str,
    /// Text between `{` and `}`, already validated; empty when there is no label set.
    raw_labels: &'a [u8],
    /// `raw_labels` as text, when the line arrived already checked for UTF-8.
    labels_text: Option<&'a str>,
    /// Where each label is in `raw_labels`, when the parser handed its positions over
    /// ([`SampleRef::with_spans`]); `None`: they are found again by scanning.
    spans: Option<&'a [LabelSpan]>,
    /// How many label pairs `raw_labels` holds.
    label_count: usize,
    /// [`label_bit`] of each label name, OR-ed: a quick "certainly not" for a label name.
    label_filter: u64,
    /// `raw_labels` is written as a writer would write it: no blanks, no quoted label name, no
    /// trailing comma.
    plain: bool,
    /// The name was sent bare (so it is a legacy metric name), not quoted inside the label set.
    bare: bool,
    /// The value's text as sent.
    raw_value: &'a [u8],
    /// The value; `NaN` and infinities are kept.
    pub value: f64,
    /// Optional timestamp in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

/// Equal when the line says the same: the label text as text and the label positions are
/// what the parser knew on the way, not part of the sample.
impl PartialEq for SampleRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.name, self.raw_labels, self.label_count, self.plain, self.bare, self.raw_value)
            == (other.name, other.raw_labels, other.label_count, other.plain, other.bare, other.raw_value)
            && self.value == other.value
            && self.timestamp_ms == other.timestamp_ms
    }
}

impl<'a> SampleRef<'a> {
    /// The label pairs in input order, values unescaped.
    pub fn labels(&self) -> Labels<'a> {
        Labels { text: self.raw_labels, pos: 0, spans: self.spans }
    }

    /// The same sample with the label positions the parser recorded for it, so that walking its
    /// labels slices them instead of scanning the label text again.
    #[inline]
    pub(crate) fn with_spans<'s>(&self, spans: &'s [LabelSpan]) -> SampleRef<'s>
    where
        'a: 's,
    {
        let spans = (spans.len() == self.label_count).then_some(spans);
        SampleRef { spans, ..*self }
    }

    /// How many labels the sample has.
    pub fn label_count(&self) -> usize {
        self.label_count
    }

    /// The value of label `name`, unescaped, if the sample has it.
    pub fn label(&self, name: &str) -> Option<Cow<'a, str>> {
        let mut labels = self.labels();
        while let Some((n, raw, escaped)) = labels.next_raw() {
            if n == name.as_bytes() {
                return decode_value(raw, escaped);
            }
        }
        None
    }

    /// Each label as sent: `(name, value still escaped)`, in input order. The exposition
    /// escapes (`\\`, `\"`, `\n`) are exactly the ones a writer would redo, so the raw value
    /// can be copied into exposition text unchanged.
    pub(crate) fn raw_labels(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let mut labels = self.labels();
        std::iter::from_fn(move || labels.next_raw().map(|(name, value, _)| (name, value)))
    }

    /// The label text between `{` and `}` as sent (validated), in whatever form it came.
    #[inline]
    pub(crate) fn label_text(&self) -> &'a [u8] {
        self.raw_labels
    }

    /// The label text between `{` and `}` as sent, when it is already in the form a writer
    /// produces (no blanks, no quoted names, no trailing comma); `None` otherwise.
    #[inline]
    pub(crate) fn plain_labels(&self) -> Option<&'a [u8]> {
        self.plain.then_some(self.raw_labels)
    }

    /// Whether the name was sent bare, before the label set (then it is a legacy metric name,
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`), rather than quoted inside it.
    #[inline]
    pub(crate) fn bare_name(&self) -> bool {
        self.bare
    }

    /// False when the sample certainly has no label called `name`; true when it may have one.
    #[inline]
    pub(crate) fn may_have_label(&self, name: &[u8]) -> bool {
        self.label_filter & label_bit(name) != 0
    }

    /// The value's text as sent (any float spelling Prometheus reads, `NaN`, `+Inf`, ...).
    #[inline]
    pub fn raw_value(&self) -> &'a [u8] {
        self.raw_value
    }

    /// Whether label `name`, found through the label positions `parse_line_in` recorded, holds a
    /// number (as [`parse_value`] reads one); `None` when the sample has no such label. Read from
    /// the bytes as sent unless the value has escapes.
    #[inline]
    pub(crate) fn label_is_number(&self, spans: &[LabelSpan], name: &str) -> Option<bool> {
        let text = self.raw_labels;
        let span = spans.iter().rev().find(|s| text.get(s.name.0..s.name.1) == Some(name.as_bytes()))?;
        let raw = text.get(span.value.0..span.value.1)?;
        Some(if span.escaped {
            decode_value(raw, true).is_some_and(|value| parse_value(&value).is_ok())
        } else {
            parse_value_bytes(raw).is_ok()
        })
    }

    /// An owned copy of this sample, from the label positions `parse_line_in` recorded for it
    /// (one UTF-8 check for the whole label text instead of one per name and value). Its label
    /// set is shared, through `interner`, with the samples before it whose label text the parser
    /// remembered as the same `text`.
    pub(crate) fn to_sample_with(
        self,
        spans: &[LabelSpan],
        text: Option<TextId>,
        interner: &mut Interner,
    ) -> Sample {
        let built = interner.labels(self.raw_labels, text, |labels| {
            let text = self.labels_text.or_else(|| std::str::from_utf8(self.raw_labels).ok())?;
            spans.iter().try_for_each(|span| {
                let name = text.get(span.name.0..span.name.1)?;
                let value = text.get(span.value.0..span.value.1)?;
                match span.escaped {
                    true => labels.push_with(name, |out| unescape_label_value_into(value, out)),
                    false => labels.push_with(name, |out| out.push_str(value)),
                }
                Some(())
            })
        });
        let Some(labels) = built else { return self.to_sample() };
        Sample { name: interner.name(self.name), labels, value: self.value, timestamp_ms: self.timestamp_ms }
    }

    /// An owned copy of this sample.
    pub fn to_sample(self) -> Sample {
        let labels = self.labels().collect();
        Sample { name: self.name.into(), labels, value: self.value, timestamp_ms: self.timestamp_ms }
    }
}

/// Where one label's name and value are, relative to the label text of its sample line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LabelSpan {
    /// Byte range of the name.
    pub name: (usize, usize),
    /// Byte range of the raw (still escaped) value.
    pub value: (usize, usize),
    /// Whether the value holds a backslash escape.
    pub escaped: bool,
}

/// What [`parse_line_in`] reuses between lines: where the current line's labels are, and the
/// label names of the last label set whose names differed from the one before it.
///
/// Consecutive samples of a family nearly always repeat their label names in the same order
/// (cadvisor's `container, id, image, name, namespace, pod`); a name that equals the one at the
/// same place in the remembered set, followed by `=`, is valid and — while every name so far
/// matched — distinct from the others, so it skips both the byte-by-byte name check and the
/// duplicate check.
///
/// It also keeps, by place in the family ([`LabelScratch::place`]), label sets already
/// validated: cadvisor lists the same containers in the same order in every family, so a line's
/// label text is most often the same bytes as that of the line at its place in the family
/// before. Those bytes scan to the same result, so they are compared, not scanned.
#[derive(Debug, Default)]
pub(crate) struct LabelScratch {
    /// The current line's labels, when they were scanned (see [`LabelScratch::spans`]).
    spans: Vec<LabelSpan>,
    /// Where the current line's labels are in the memo, when they were remembered.
    hit: Option<std::ops::Range<usize>>,
    /// The remembered label names, concatenated (bare names only, validated, no duplicates).
    names: Vec<u8>,
    /// Where each remembered name ends in `names`, with its [`label_bit`].
    shape: Vec<(usize, u64)>,
    /// Where the next line stands in its family (set by the caller; 0 when it does not count).
    pub place: usize,
    /// Which remembered label text the last line's labels are, when they are remembered.
    pub text: Option<TextId>,
    /// The label sets already validated, by place.
    memo: Memo,
}

/// A label text the parser remembers: the same id at the same place is the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextId {
    /// The place in the family it is remembered at.
    pub place: usize,
    /// Unique among the texts one parser remembers.
    pub id: u64,
}

/// Validated label texts by place, within a bound on the memory they hold. The texts and their
/// label positions sit in two arenas, so a parse allocates as the arenas grow, not per place; a
/// text that does not fit where its place's text was moves to the end, and the room it leaves is
/// taken back, in place, when the arenas are full and it is half of them.
#[derive(Debug, Default)]
struct Memo {
    /// By place: where its text and label positions are, and what scanning found.
    entries: Vec<MemoEntry>,
    /// The texts, each followed by its `}`.
    bytes: Vec<u8>,
    /// The label positions of the texts.
    spans: Vec<LabelSpan>,
    /// How much of `bytes` and of `spans` the entries use (the rest was left by texts that moved).
    used: (usize, usize),
    /// Bytes the three vectors hold (their capacities).
    held: usize,
    /// Most bytes they may hold.
    bound: usize,
    /// The last id given out (ids start at 1; an entry with id 0 holds nothing).
    last_id: u64,
    /// Whether a line of the current family was found here.
    family_hit: bool,
}

/// Where one remembered text is, and what scanning it found.
#[derive(Debug, Default, Clone, Copy)]
struct MemoEntry {
    /// Start, length and room of the text in [`Memo::bytes`].
    text: Slot,
    /// Start, length (the label count) and room of its labels in [`Memo::spans`].
    spans: Slot,
    filter: u64,
    plain: bool,
    id: u64,
}

/// A run of an arena: start, length, and how long it may grow in place.
#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    start: usize,
    len: usize,
    room: usize,
}

impl Slot {
    fn range(self) -> std::ops::Range<usize> {
        self.start..self.start + self.len
    }
}

impl Memo {
    /// The longest label text remembered.
    const TEXT: usize = 4096;
    /// The first places of a family are remembered whatever they find; the rest only once a
    /// line of the family was found remembered.
    const LEARN: usize = 4;

    /// The entry at `place` when `b[start..]` begins with its text.
    #[inline]
    fn find(&self, place: usize, b: &[u8], start: usize) -> Option<&MemoEntry> {
        let entry = self.entries.get(place).filter(|e| e.id != 0)?;
        let text = &self.bytes[entry.text.range()];
        let candidate = b.get(start..start.checked_add(text.len())?)?;
        // The `}` first: texts that differ mostly differ in length.
        (candidate.last() == text.last() && candidate == text).then_some(entry)
    }

    /// Remembers `text` (a validated label set and its `}`) and its label positions at `place`,
    /// when the bound allows; the id it is remembered under.
    fn store(&mut self, place: usize, text: &[u8], spans: &[LabelSpan], set: &SetScan) -> Option<TextId> {
        if place > self.entries.len() || text.len() > Self::TEXT {
            return None;
        }
        let rooms = |memo: &Memo| {
            let old = memo.entries.get(place).copied().unwrap_or_default();
            (old, grown(old.text.room, text.len(), 32), grown(old.spans.room, spans.len(), 4))
        };
        let (old, text_room, spans_room) = rooms(self);
        // A slot that moves takes its whole room at the end of its arena.
        let need = (
            usize::from(place == self.entries.len()),
            if text_room == old.text.room { 0 } else { text_room },
            if spans_room == old.spans.room { 0 } else { spans_room },
        );
        let room = self.reserve(need) || (self.compact() && self.reserve(need));
        if !room {
            return None;
        }
        // Taking room back moves slots: where this place's are now.
        let (old, text_room, spans_room) = rooms(self);
        let text = put(&mut self.bytes, &mut self.used.0, old.text, text_room, text);
        let spans = put(&mut self.spans, &mut self.used.1, old.spans, spans_room, spans);
        if place == self.entries.len() {
            self.entries.push(MemoEntry::default());
        }
        self.last_id += 1;
        let (filter, plain, id) = (set.filter, set.plain, self.last_id);
        self.entries[place] = MemoEntry { text, spans, filter, plain, id };
        Some(TextId { place, id })
    }

    /// Makes room for `(entries, bytes, spans)` more items, growing the vectors within the
    /// bound; whether there is room.
    fn reserve(&mut self, (entries, bytes, spans): (usize, usize, usize)) -> bool {
        grow(&mut self.entries, entries, &mut self.held, self.bound)
            && grow(&mut self.bytes, bytes, &mut self.held, self.bound)
            && grow(&mut self.spans, spans, &mut self.held, self.bound)
    }

    /// Takes back, in place, the room texts that moved left behind, when it is at least half
    /// the arenas; whether it did.
    fn compact(&mut self) -> bool {
        let span = size_of::<LabelSpan>();
        let left = (self.bytes.len() - self.used.0) + (self.spans.len() - self.used.1) * span;
        if left == 0 || left * 2 < self.bytes.len() + self.spans.len() * span {
            return false;
        }
        let mut order: Vec<usize> = (0..self.entries.len()).filter(|&k| self.entries[k].id != 0).collect();
        // Slots slide down in the order they sit, each onto room already read.
        order.sort_unstable_by_key(|&k| self.entries[k].text.start);
        let end = slide(&mut self.bytes, &order, &mut self.entries, |e| &mut e.text);
        self.bytes.truncate(end);
        order.sort_unstable_by_key(|&k| self.entries[k].spans.start);
        let end = slide(&mut self.spans, &order, &mut self.entries, |e| &mut e.spans);
        self.spans.truncate(end);
        true
    }
}

/// The room a slot of room `room` needs for `len` items: the same when they fit, else `len`
/// rounded up to a multiple of `step` (so that a text a little longer next time fits).
fn grown(room: usize, len: usize, step: usize) -> usize {
    if len <= room { room } else { len.next_multiple_of(step) }
}

/// Makes room for `extra` more items in `vec` (doubling it when it must grow), counting what it
/// adds in `held`, unless that passes `bound`; whether there is room.
fn grow<T>(vec: &mut Vec<T>, extra: usize, held: &mut usize, bound: usize) -> bool {
    let had = vec.capacity();
    if vec.len() + extra <= had {
        return true;
    }
    let want = (had * 2).max(vec.len() + extra).max(8);
    if *held + (want - had) * size_of::<T>() > bound {
        return false;
    }
    vec.reserve_exact(want - vec.len());
    *held += (vec.capacity() - had) * size_of::<T>();
    true
}

/// Writes `items` into `arena` where `old` was when they fit in `room`, else at the end with
/// that room; the slot they now take. `used` counts the room of every live slot.
fn put<T: Copy + Default>(arena: &mut Vec<T>, used: &mut usize, old: Slot, room: usize, items: &[T]) -> Slot {
    if room == old.room {
        arena[old.start..old.start + items.len()].copy_from_slice(items);
        return Slot { len: items.len(), ..old };
    }
    let start = arena.len();
    arena.extend_from_slice(items);
    arena.resize(start + room, T::default());
    *used = *used - old.room + room;
    Slot { start, len: items.len(), room }
}

/// Moves the slots `slot` picks from `entries`, taken in `order` (the order they sit in
/// `arena`), down to its start one after another; where the last now ends.
fn slide<T: Copy>(
    arena: &mut [T],
    order: &[usize],
    entries: &mut [MemoEntry],
    slot: fn(&mut MemoEntry) -> &mut Slot,
) -> usize {
    let mut end = 0;
    for &k in order {
        let slot = slot(&mut entries[k]);
        arena.copy_within(slot.start..slot.start + slot.room, end);
        slot.start = end;
        end += slot.room;
    }
    end
}

impl LabelScratch {
    /// A scratch that remembers validated label texts by place in up to `bytes` of memory (the
    /// default scratch remembers none).
    pub(crate) fn remembering(bytes: usize) -> Self {
        LabelScratch { memo: Memo { bound: bytes, ..Memo::default() }, ..LabelScratch::default() }
    }

    /// When `b[at..]` starts with the remembered name at `index` and its `=`: the name's length
    /// and bit.
    #[inline]
    fn known_at(&self, index: usize, b: &[u8], at: usize) -> Option<(usize, u64)> {
        let &(end, bit) = self.shape.get(index)?;
        let start = index.checked_sub(1).map_or(0, |k| self.shape[k].0);
        // `end` is past the name's `=`.
        same_prefix(b.get(at..)?, self.names.get(start..)?, end - start).then_some((end - start - 1, bit))
    }

    /// Validates the label set starting at `b[start]` (after `{`): the index of its `}` and
    /// what it holds, with [`LabelScratch::spans`] and [`LabelScratch::text`] set. A set whose
    /// text is the one remembered at [`LabelScratch::place`] is taken from there unscanned.
    #[inline]
    fn scan(&mut self, b: &[u8], start: usize, checked: bool) -> Result<(usize, SetScan), ParseErrorKind> {
        if self.place == 0 {
            self.memo.family_hit = false;
        }
        if let Some(entry) = self.memo.find(self.place, b, start).copied() {
            self.memo.family_hit = true;
            self.hit = Some(entry.spans.range());
            self.text = Some(TextId { place: self.place, id: entry.id });
            let set =
                SetScan { count: entry.spans.len, plain: entry.plain, filter: entry.filter, known: true };
            return Ok((start + entry.text.len - 1, set));
        }
        let (end, set) = scan_labels(b, start, checked, self)?;
        // A family whose first lines found nothing remembered (kubelet `/metrics`: each family
        // its own labels) would only pay for copies: it leaves the memo as it is.
        if self.place < Memo::LEARN || self.memo.family_hit {
            self.text = self.memo.store(self.place, &b[start..=end], &self.spans, &set);
        }
        Ok((end, set))
    }

    /// Where the last line's labels are, relative to its label text.
    #[inline]
    pub(crate) fn spans(&self) -> &[LabelSpan] {
        match &self.hit {
            Some(range) => &self.memo.spans[range.clone()],
            None => &self.spans,
        }
    }

    /// Forgets the last line's labels.
    #[inline]
    fn clear(&mut self) {
        self.spans.clear();
        self.hit = None;
        self.text = None;
    }

    /// Remembers the names of the label set just scanned (at `b[base..]`), each with its `=`,
    /// and eight bytes of padding after the last for [`same_prefix`].
    fn remember(&mut self, b: &[u8], base: usize) {
        self.names.clear();
        self.shape.clear();
        for span in &self.spans {
            let name = &b[base + span.name.0..base + span.name.1];
            self.names.extend_from_slice(name);
            self.names.push(b'=');
            self.shape.push((self.names.len(), label_bit(name)));
        }
        self.names.extend_from_slice(&[0; 8]);
    }
}

/// Iterator over a validated label set: `(name, unescaped value)` in input order.
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    text: &'a [u8],
    pos: usize,
    /// The labels still to come, when the parser's positions are known.
    spans: Option<&'a [LabelSpan]>,
}

impl<'a> Labels<'a> {
    /// The next `(name, raw value, has escapes)` without decoding anything.
    #[inline]
    fn next_raw(&mut self) -> Option<(&'a [u8], &'a [u8], bool)> {
        if let Some(spans) = self.spans {
            let (span, rest) = spans.split_first()?;
            self.spans = Some(rest);
            let (name, value) =
                (self.text.get(span.name.0..span.name.1)?, self.text.get(span.value.0..span.value.1)?);
            return Some((name, value, span.escaped));
        }
        // The text was validated by `parse_sample`, so this walk only finds boundaries; on any
        // surprise it stops instead of panicking.
        let b = self.text;
        let mut i = skip_ws_and(b, self.pos, b',');
        if i >= b.len() {
            return None;
        }
        let name = if b[i] == b'"' {
            let end = i + 1 + memchr::memchr(b'"', b.get(i + 1..)?)?;
            let name = b.get(i + 1..end)?;
            i = end + 1;
            name
        } else {
            let name_start = i;
            while i < b.len() && CLASS[b[i] as usize] & LABEL_CONT != 0 {
                i += 1;
            }
            b.get(name_start..i)?
        };
        i = skip_ws(b, i);
        i = skip_ws(b, i + 1);
        if b.get(i) != Some(&b'"') {
            self.pos = b.len();
            return None;
        }
        let value_start = i + 1;
        let mut j = value_start;
        let mut escaped = false;
        loop {
            match find_quote_or_backslash(b.get(j..)?).0 {
                Some(k) if b[j + k] == b'\\' => {
                    escaped = true;
                    j += k + 2;
                }
                Some(k) => {
                    j += k;
                    break;
                }
                None => {
                    self.pos = b.len();
                    return None;
                }
            }
        }
        self.pos = j + 1;
        Some((name, b.get(value_start..j)?, escaped))
    }
}

/// A validated raw label value, unescaped when needed.
fn decode_value(raw: &[u8], escaped: bool) -> Option<Cow<'_, str>> {
    let raw = std::str::from_utf8(raw).ok()?;
    Some(if escaped { Cow::Owned(unescape_label_value(raw)) } else { Cow::Borrowed(raw) })
}

impl<'a> Iterator for Labels<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let (name, raw, escaped) = self.next_raw()?;
        Some((std::str::from_utf8(name).ok()?, decode_value(raw, escaped)?))
    }
}

/// Unescapes a label value already checked to hold only `\\`, `\"` and `\n` escapes.
fn unescape_label_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    unescape_label_value_into(raw, &mut out);
    out
}

/// [`unescape_label_value`], appending to `out`.
fn unescape_label_value_into(raw: &str, out: &mut String) {
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
}

/// Unescapes HELP text: `\\` → `\`, `\n` → newline; any other backslash is kept as sent
/// (Prometheus's own parser does the same).
///
/// ```
/// use kubelet_metrics::exposition::unescape_help;
/// assert_eq!(unescape_help(r"a\\b\nc\d"), "a\\b\nc\\d");
/// ```
pub fn unescape_help(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('\\') => {
                    out.push('\\');
                    chars.next();
                }
                Some('n') => {
                    out.push('\n');
                    chars.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[inline]
fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

#[inline]
fn skip_ws_and(b: &[u8], mut i: usize, also: u8) -> usize {
    while i < b.len() && (is_ws(b[i]) || b[i] == also) {
        i += 1;
    }
    i
}

/// Removes a trailing `\r` (CRLF input) and trailing spaces or tabs.
#[inline]
pub(crate) fn trim_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    &line[..end]
}

/// Parses one line (without its `\n`; a trailing `\r` is allowed).
///
/// ```
/// use kubelet_metrics::exposition::{parse_line, Line};
/// let Ok(Line::Sample(s)) = parse_line(b"up{job=\"kubelet\"} 1 1700000000000") else { panic!() };
/// assert_eq!((s.name, s.value, s.timestamp_ms), ("up", 1.0, Some(1_700_000_000_000)));
/// assert_eq!(s.label("job").as_deref(), Some("kubelet"));
/// ```
pub fn parse_line(line: &[u8]) -> Result<Line<'_>, ParseErrorKind> {
    parse_line_in(line, None, "", &mut LabelScratch::default())
}

/// [`parse_line`] for a line that probably starts with `family` (a valid metric name): that
/// prefix is compared instead of scanned byte by byte.
/// `text`, when the caller has it, is `line` already checked for UTF-8 (a whole chunk is
/// checked at once, faster than each name and comment on its own).
/// `scratch` receives where each label's name and value are (reused between lines).
#[inline]
pub(crate) fn parse_line_in<'a>(
    line: &'a [u8],
    text: Option<&'a str>,
    family: &str,
    scratch: &mut LabelScratch,
) -> Result<Line<'a>, ParseErrorKind> {
    let b = trim_end(line);
    let start = skip_ws(b, 0);
    let (b, text) = (&b[start..], text.and_then(|t| t.get(start..b.len())));
    match b.first() {
        None => Ok(Line::Blank),
        Some(b'#') => parse_comment(str_in(b, text, 1..b.len())?),
        Some(_) => parse_sample(b, text, family, scratch).map(Line::Sample),
    }
}

/// `b[range]` as text: sliced from `text` (the same bytes, already checked) when the caller has
/// it, else checked here.
#[inline]
fn str_in<'a>(
    b: &'a [u8],
    text: Option<&'a str>,
    range: std::ops::Range<usize>,
) -> Result<&'a str, ParseErrorKind> {
    match text.and_then(|t| t.get(range.clone())) {
        Some(piece) => Ok(piece),
        None => as_str(&b[range]),
    }
}

/// Parses the part of a `#` line after the `#`.
fn parse_comment(text: &str) -> Result<Line<'_>, ParseErrorKind> {
    let b = text.as_bytes();
    let i = skip_ws(b, 0);
    if i == 0 {
        // `#HELP` is a plain comment, as in Prometheus.
        return Ok(Line::Comment);
    }
    let rest = &text[i..];
    let (keyword, after) = match rest.find([' ', '\t']) {
        Some(k) => (&rest[..k], &rest[k..]),
        None => (rest, ""),
    };
    match keyword {
        "EOF" if after.trim().is_empty() => Ok(Line::Eof),
        "HELP" | "TYPE" | "UNIT" => {
            let ab = after.as_bytes();
            let name_start = skip_ws(ab, 0);
            if ab.get(name_start) == Some(&b'"') {
                // Prometheus 3 `escaping=allow-utf-8`: `# TYPE "my.metric" counter`.
                let (start, end) = quoted_name(ab, name_start)?;
                if start == end || ab.get(end + 1).is_some_and(|&c| !is_ws(c)) {
                    return Err(ParseErrorKind::InvalidMetricName(quote(&after[name_start..])));
                }
                return metadata_line(keyword, &after[start..end], &after[skip_ws(ab, end + 1)..]);
            }
            let name_len = metric_name_len(&ab[name_start..]);
            let name_end = name_start + name_len;
            if name_len == 0 || ab.get(name_end).is_some_and(|&c| !is_ws(c)) {
                let token = after[name_start..].split([' ', '\t']).next().unwrap_or("");
                return Err(if token.is_empty() {
                    ParseErrorKind::MissingName { keyword: keyword_static(keyword) }
                } else {
                    ParseErrorKind::InvalidMetricName(quote(token))
                });
            }
            let name = &after[name_start..name_end];
            // One separator, then the rest of the line (HELP text keeps inner spacing).
            let tail_start = skip_ws(ab, name_end);
            metadata_line(keyword, name, &after[tail_start..])
        }
        _ => Ok(Line::Comment),
    }
}

/// A HELP, TYPE or UNIT line for `name` with the rest of the line `tail`.
fn metadata_line<'a>(keyword: &str, name: &'a str, tail: &'a str) -> Result<Line<'a>, ParseErrorKind> {
    match keyword {
        "HELP" => Ok(Line::Help { name, text: tail }),
        "UNIT" => Ok(Line::Unit { name, unit: tail }),
        _ => match parse_kind(tail) {
            Some(kind) => Ok(Line::Type { name, kind }),
            None => Err(ParseErrorKind::UnknownType(quote(tail))),
        },
    }
}

fn keyword_static(keyword: &str) -> &'static str {
    match keyword {
        "HELP" => "HELP",
        "TYPE" => "TYPE",
        _ => "UNIT",
    }
}

/// The kind a TYPE line names, in either format.
fn parse_kind(word: &str) -> Option<MetricKind> {
    Some(match word {
        "counter" => MetricKind::Counter,
        "gauge" => MetricKind::Gauge,
        "histogram" => MetricKind::Histogram,
        "summary" => MetricKind::Summary,
        "untyped" | "unknown" => MetricKind::Untyped,
        "gaugehistogram" => MetricKind::GaugeHistogram,
        "info" => MetricKind::Info,
        "stateset" => MetricKind::StateSet,
        _ => return None,
    })
}

/// Quotes bytes that may not be UTF-8.
fn quote_bytes(b: &[u8]) -> String {
    quote(&String::from_utf8_lossy(b))
}

/// Bytes known to be ASCII (or checked UTF-8) as `&str`.
#[inline]
fn as_str(b: &[u8]) -> Result<&str, ParseErrorKind> {
    std::str::from_utf8(b).map_err(|_| ParseErrorKind::InvalidUtf8)
}

/// Parses a sample line that starts with its name (no leading blanks, no trailing blanks).
///
/// Works on bytes: names, values and timestamps are ASCII by their grammar, so only label
/// values (and an exemplar) that hold a non-ASCII byte are checked for UTF-8.
fn parse_sample<'a>(
    b: &'a [u8],
    text: Option<&'a str>,
    family: &str,
    scratch: &mut LabelScratch,
) -> Result<SampleRef<'a>, ParseErrorKind> {
    if b.first() == Some(&b'{') {
        return parse_quoted_name_sample(b, text, scratch);
    }
    let name_len = if !family.is_empty() && b.starts_with(family.as_bytes()) {
        let rest = &b[family.len()..];
        family.len() + rest.iter().position(|&c| CLASS[c as usize] & NAME_CONT == 0).unwrap_or(rest.len())
    } else {
        metric_name_len(b)
    };
    if name_len == 0 || b.get(name_len).is_some_and(|&c| !is_ws(c) && c != b'{') {
        let end = b.iter().position(|&c| is_ws(c) || c == b'{').unwrap_or(b.len());
        return Err(ParseErrorKind::InvalidMetricName(quote_bytes(&b[..end])));
    }
    let name = str_in(b, text, 0..name_len)?;
    scratch.clear();
    let mut i = skip_ws(b, name_len);
    let mut raw_labels: &[u8] = &[];
    let mut labels_text = text.map(|_| "");
    let mut label_count = 0;
    let mut label_filter = 0;
    let mut plain = true;
    if b.get(i) == Some(&b'{') {
        let (end, set) = scratch.scan(b, i + 1, text.is_some())?;
        raw_labels = &b[i + 1..end];
        labels_text = text.and_then(|t| t.get(i + 1..end));
        label_count = set.count;
        plain = set.plain;
        label_filter = set.filter;
        i = skip_ws(b, end + 1);
    }
    let (raw_value, value, timestamp_ms) = parse_value_and_rest(b, i, text.is_some())?;
    Ok(SampleRef {
        name,
        raw_labels,
        labels_text,
        spans: None,
        label_count,
        label_filter,
        plain,
        bare: true,
        raw_value,
        value,
        timestamp_ms,
    })
}

/// A Prometheus 3 sample whose (UTF-8) name is quoted inside the label set
/// (`{"my.metric", "other.label"="v"} 1`, sent with `escaping=allow-utf-8`).
fn parse_quoted_name_sample<'a>(
    b: &'a [u8],
    text: Option<&'a str>,
    scratch: &mut LabelScratch,
) -> Result<SampleRef<'a>, ParseErrorKind> {
    let start = skip_ws(b, 1);
    let (name_start, name_end) = quoted_name(b, start)?;
    let name = str_in(b, text, name_start..name_end)?;
    if name.is_empty() {
        return Err(ParseErrorKind::InvalidMetricName(quote(name)));
    }
    scratch.clear();
    let mut i = skip_ws(b, name_end + 1);
    let (raw_labels, labels_text, set) = match b.get(i) {
        Some(b'}') => {
            (&b[i..i], text.map(|_| ""), SetScan { count: 0, plain: true, filter: 0, known: false })
        }
        Some(b',') => {
            let (end, set) = scan_labels(b, i + 1, text.is_some(), scratch)?;
            let (labels, labels_text) = (&b[i + 1..end], text.and_then(|t| t.get(i + 1..end)));
            i = end;
            (labels, labels_text, set)
        }
        None => return Err(ParseErrorKind::UnterminatedLabelSet),
        Some(_) => return Err(ParseErrorKind::ExpectedCommaOrBrace),
    };
    let (raw_value, value, timestamp_ms) = parse_value_and_rest(b, skip_ws(b, i + 1), text.is_some())?;
    Ok(SampleRef {
        name,
        raw_labels,
        labels_text,
        spans: None,
        label_count: set.count,
        label_filter: set.filter,
        plain: set.plain,
        bare: false,
        raw_value,
        value,
        timestamp_ms,
    })
}

/// The span inside the quotes of a quoted name starting at `b[start] == '"'`. Escapes inside a
/// quoted name are not supported (no kubelet name needs one).
fn quoted_name(b: &[u8], start: usize) -> Result<(usize, usize), ParseErrorKind> {
    if b.get(start) != Some(&b'"') {
        let end = b[start.min(b.len())..]
            .iter()
            .position(|&c| is_ws(c) || c == b',' || c == b'}')
            .map_or(b.len(), |k| start + k);
        return Err(ParseErrorKind::InvalidMetricName(quote_bytes(&b[start.min(b.len())..end])));
    }
    match find_quote_or_backslash(&b[start + 1..]).0 {
        Some(k) if b[start + 1 + k] == b'"' => Ok((start + 1, start + 1 + k)),
        Some(_) => Err(ParseErrorKind::BadEscape("in a quoted name".to_string())),
        None => Err(ParseErrorKind::UnterminatedQuote),
    }
}

/// The value (its text and what it means), the optional timestamp and an optional exemplar from
/// `b[i..]` (after the name and label set). `checked`: `b` is known to be UTF-8.
fn parse_value_and_rest(
    b: &[u8],
    mut i: usize,
    checked: bool,
) -> Result<(&[u8], f64, Option<i64>), ParseErrorKind> {
    let value_start = i;
    while i < b.len() && !is_ws(b[i]) {
        i += 1;
    }
    if value_start == i {
        return Err(ParseErrorKind::MissingValue);
    }
    let raw_value = &b[value_start..i];
    let value = parse_value_bytes(raw_value)?;
    i = skip_ws(b, i);
    let mut timestamp_ms = None;
    if i < b.len() && b[i] != b'#' {
        let ts_start = i;
        while i < b.len() && !is_ws(b[i]) {
            i += 1;
        }
        let token = &b[ts_start..i];
        timestamp_ms =
            Some(parse_timestamp(token).ok_or_else(|| ParseErrorKind::InvalidTimestamp(quote_bytes(token)))?);
        i = skip_ws(b, i);
    }
    if i < b.len() {
        // Only an OpenMetrics exemplar may follow: ` # {labels} value [timestamp]`, ignored.
        let exemplar = &b[i + 1..];
        if b[i] != b'#' || exemplar.get(skip_ws(exemplar, 0)) != Some(&b'{') {
            return Err(ParseErrorKind::TrailingGarbage(quote_bytes(&b[i..])));
        }
        if !checked {
            as_str(exemplar)?;
        }
    }
    Ok((raw_value, value, timestamp_ms))
}

/// What [`scan_labels`] learnt of a label set besides where it ends.
struct SetScan {
    count: usize,
    /// No blanks, no quoted names, no trailing comma.
    plain: bool,
    /// [`label_bit`] of every label name, OR-ed (all bits once there are too many to track).
    filter: u64,
    /// The names are the remembered ones ([`LabelScratch`]), in the same order.
    known: bool,
}

/// A label name's bit in a 64-bit filter, from its length and its first, middle and last
/// bytes: a set whose filter lacks the bit has no label of that name. (Fibonacci hashing; with
/// these bytes `node` shares its bit with no label name the real kubelet payloads send, where
/// length, first and last byte alone gave it `name`'s, which every cadvisor sample has.)
#[inline]
pub(crate) fn label_bit(name: &[u8]) -> u64 {
    match (name.first(), name.get(name.len() / 2), name.last()) {
        (Some(&first), Some(&middle), Some(&last)) => {
            let key = u64::from(first)
                | u64::from(middle) << 8
                | u64::from(last) << 16
                | (name.len() as u64 & 0xff_ffff) << 24;
            1u64 << (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
        }
        _ => u64::MAX,
    }
}

/// Validates a label set starting after `{`; returns the index of `}` and what the set holds.
fn scan_labels(
    b: &[u8],
    i: usize,
    checked: bool,
    scratch: &mut LabelScratch,
) -> Result<(usize, SetScan), ParseErrorKind> {
    let (end, set) = scan_label_set(b, i, checked, scratch)?;
    // A set whose names differ from the remembered ones becomes the remembered one, when its
    // names are bare (a quoted name must not be taken for a bare one later).
    if set.plain && !set.known {
        scratch.remember(b, i);
    }
    Ok((end, set))
}

/// [`scan_labels`] without remembering the names.
fn scan_label_set(
    b: &[u8],
    mut i: usize,
    checked: bool,
    scratch: &mut LabelScratch,
) -> Result<(usize, SetScan), ParseErrorKind> {
    scratch.clear();
    let base = i;
    // Every name so far equals the remembered one at its place.
    let mut known = true;
    let mut many: Option<HashSet<&[u8]>> = None;
    let mut count = 0usize;
    let mut seen = 0u64;
    let mut plain = true;
    loop {
        // Blanks are allowed around every token; the common case has none, so test first.
        if b.get(i).is_some_and(|&c| is_ws(c)) {
            i = skip_ws(b, i);
            plain = false;
        }
        // The remembered name at this place, when this one equals it and `=` follows.
        let fast = if known { scratch.known_at(count, b, i) } else { None };
        let (name_start, name_end) = if let Some((len, _)) = fast {
            i += len;
            (i - len, i)
        } else {
            known = false;
            match scan_label_name(b, &mut i, &mut plain, checked)? {
                Some(name) => name,
                // After a comma: a trailing one.
                None => {
                    return Ok((
                        i,
                        SetScan { count, plain: plain && count == 0, filter: seen, known: false },
                    ));
                }
            }
        };
        i += 1;
        if b.get(i) != Some(&b'"') {
            i = skip_ws(b, i);
            plain = false;
            if b.get(i) != Some(&b'"') {
                return Err(if i >= b.len() {
                    ParseErrorKind::UnterminatedLabelSet
                } else {
                    ParseErrorKind::UnquotedLabelValue(quote_bytes(&b[name_start..name_end]))
                });
            }
        }
        i += 1;
        let value_start = i;
        let mut non_ascii = false;
        let mut escaped = false;
        loop {
            let (found, high) = find_quote_or_backslash(&b[i..]);
            non_ascii |= high;
            match found {
                Some(k) if b[i + k] == b'\\' => match b.get(i + k + 1) {
                    Some(b'\\' | b'"' | b'n') => {
                        escaped = true;
                        i += k + 2;
                    }
                    Some(&c) => {
                        let shown = if c.is_ascii_graphic() {
                            (c as char).to_string()
                        } else {
                            format!("\\x{c:02x}")
                        };
                        return Err(ParseErrorKind::BadEscape(shown));
                    }
                    None => return Err(ParseErrorKind::UnterminatedQuote),
                },
                Some(k) => {
                    i += k;
                    break;
                }
                None => return Err(ParseErrorKind::UnterminatedQuote),
            }
        }
        if non_ascii && !checked {
            as_str(&b[value_start..i])?;
        }
        let value_end = i;
        i += 1;
        // Duplicate label names: a 64-bit filter ([`label_bit`]) answers "new"
        // for almost every label; only a hit pays for comparing names. Past a few dozen labels
        // the filter is full, so a hash set keeps a hostile line from costing O(labels²).
        let name = &b[name_start..name_end];
        let duplicate = if let Some((_, bit)) = fast {
            // Distinct from the names before it: they all matched the remembered set too.
            seen |= bit;
            false
        } else if let Some(set) = &mut many {
            !set.insert(name)
        } else if count >= MANY_LABELS {
            let mut set: HashSet<&[u8]> =
                scratch.spans.iter().filter_map(|s| b.get(base + s.name.0..base + s.name.1)).collect();
            let duplicate = !set.insert(name);
            many = Some(set);
            // The filter stops here: from now on it answers "maybe" for every name.
            seen = u64::MAX;
            duplicate
        } else {
            let bit = label_bit(name);
            let hit = seen & bit != 0
                && scratch.spans.iter().any(|s| b.get(base + s.name.0..base + s.name.1) == Some(name));
            seen |= bit;
            hit
        };
        if duplicate {
            return Err(ParseErrorKind::DuplicateLabel(quote_bytes(name)));
        }
        scratch.spans.push(LabelSpan {
            name: (name_start - base, name_end - base),
            value: (value_start - base, value_end - base),
            escaped,
        });
        count += 1;
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                let known = known && count == scratch.shape.len();
                return Ok((i, SetScan { count, plain, filter: seen, known }));
            }
            _ => {
                i = skip_ws(b, i);
                plain = false;
                match b.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => {
                        let known = known && count == scratch.shape.len();
                        return Ok((i, SetScan { count, plain, filter: seen, known }));
                    }
                    None => return Err(ParseErrorKind::UnterminatedLabelSet),
                    Some(_) => return Err(ParseErrorKind::ExpectedCommaOrBrace),
                }
            }
        }
    }
}

/// One label name at `b[*i..]`, checked byte by byte (quoted or bare), up to its `=`: its span,
/// with `*i` at the `=`; `None` when the set ends there (`}`).
fn scan_label_name(
    b: &[u8],
    i: &mut usize,
    plain: &mut bool,
    checked: bool,
) -> Result<Option<(usize, usize)>, ParseErrorKind> {
    match b.get(*i) {
        Some(&c) if CLASS[c as usize] & LABEL_START != 0 => {}
        Some(b'"') => *plain = false,
        None => return Err(ParseErrorKind::UnterminatedLabelSet),
        Some(b'}') => return Ok(None),
        Some(_) => {
            let end =
                b[*i..].iter().position(|&c| c == b'=' || c == b',' || c == b'}').map_or(b.len(), |k| *i + k);
            return Err(ParseErrorKind::InvalidLabelName(quote_bytes(&b[*i..end])));
        }
    }
    let (name_start, name_end) = if b[*i] == b'"' {
        // Prometheus 3 `escaping=allow-utf-8`: a quoted (UTF-8) label name.
        let (start, end) = quoted_name(b, *i)?;
        if !checked {
            as_str(&b[start..end])?;
        }
        if start == end {
            return Err(ParseErrorKind::InvalidLabelName(quote("")));
        }
        *i = end + 1;
        (start, end)
    } else {
        let start = *i;
        *i += 1;
        while *i < b.len() && CLASS[b[*i] as usize] & LABEL_CONT != 0 {
            *i += 1;
        }
        (start, *i)
    };
    if b.get(*i) != Some(&b'=') {
        *i = skip_ws(b, *i);
        *plain = false;
        match b.get(*i) {
            Some(b'=') => {}
            None => return Err(ParseErrorKind::UnterminatedLabelSet),
            Some(_) => {
                let end = b[name_start..]
                    .iter()
                    .position(|&c| c == b'=' || c == b',' || c == b'}')
                    .map_or(b.len(), |k| name_start + k);
                return Err(ParseErrorKind::InvalidLabelName(quote_bytes(&b[name_start..end])));
            }
        }
    }
    Ok(Some((name_start, name_end)))
}

/// Whether the first `len` bytes of `a` and `b` are equal, eight at a time: label names are
/// short, and a call to `memcmp` for each costs more than the comparison itself.
#[inline]
fn same_prefix(a: &[u8], b: &[u8], len: usize) -> bool {
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()).map(u64::from_le_bytes)
    };
    let by_words = match len {
        1..=8 => word(a, 0).zip(word(b, 0)).map(|(x, y)| (x ^ y) & (u64::MAX >> (64 - 8 * len)) == 0),
        9..=16 => word(a, 0)
            .zip(word(b, 0))
            .zip(word(a, len - 8).zip(word(b, len - 8)))
            .map(|((x, y), (z, w))| (x ^ y) | (z ^ w) == 0),
        _ => None,
    };
    // Too short to read whole words from, or too long to be worth it: compare the slices.
    by_words.unwrap_or_else(|| a.get(..len).is_some_and(|a| b.get(..len) == Some(a)))
}

/// Label count from which duplicates are found with a hash set.
const MANY_LABELS: usize = 32;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `word` equal to `byte` (exact for the lowest such byte, which is
/// all the callers use).
#[inline]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The first `"` or `\` in `b`, eight bytes at a time (label values are short, so this beats a
/// vectorised search's set-up), and whether a non-ASCII byte may come before it.
#[inline]
fn find_quote_or_backslash(b: &[u8]) -> (Option<usize>, bool) {
    let mut high = 0u64;
    let mut chunks = b.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else { break };
        let word = u64::from_le_bytes(bytes);
        high |= word & HIGHS;
        let hits = bytes_equal(word, b'"') | bytes_equal(word, b'\\');
        if hits != 0 {
            return (Some(offset + (hits.trailing_zeros() / 8) as usize), high != 0);
        }
        offset += 8;
    }
    for (k, &c) in chunks.remainder().iter().enumerate() {
        if c == b'"' || c == b'\\' {
            return (Some(offset + k), high != 0);
        }
        high |= u64::from(c & 0x80);
    }
    (None, high != 0)
}

/// Parses a sample value: every float spelling Go and Python print, `NaN`, `+Inf`, `-Inf`, `Inf`.
///
/// ```
/// use kubelet_metrics::exposition::parse_value;
/// assert_eq!(parse_value("2.592e+06"), Ok(2_592_000.0));
/// assert_eq!(parse_value(".5"), Ok(0.5));
/// assert_eq!(parse_value("+Inf"), Ok(f64::INFINITY));
/// assert!(parse_value("NaN").unwrap().is_nan());
/// assert!(parse_value("1,5").is_err());
/// ```
pub fn parse_value(token: &str) -> Result<f64, ParseErrorKind> {
    parse_value_bytes(token.as_bytes())
}

/// [`parse_value`] on bytes.
#[inline]
fn parse_value_bytes(b: &[u8]) -> Result<f64, ParseErrorKind> {
    // Fast path: a plain integer is exact in a u64, and `as f64` rounds it to nearest as
    // decimal parsing would.
    if let Some(n) = parse_digits(b) {
        return Ok(n as f64);
    }
    // Rust rejects `0x..` and `_` like Prometheus; it also accepts every spelling of
    // infinity and NaN that Go's strconv.ParseFloat does.
    let invalid = || ParseErrorKind::InvalidValue(quote_bytes(b));
    match b.first() {
        Some(c) if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'i' | b'I' | b'n' | b'N') => {
            std::str::from_utf8(b).map_err(|_| invalid())?.parse::<f64>().map_err(|_| invalid())
        }
        _ => Err(invalid()),
    }
}

/// Parses a timestamp into milliseconds: an integer is milliseconds (text format 0.0.4); a
/// number with a fraction or an exponent is OpenMetrics seconds (`1700000000.123`), rounded to
/// the millisecond.
fn parse_timestamp(token: &[u8]) -> Option<i64> {
    if token.iter().any(|&c| matches!(c, b'.' | b'e' | b'E')) {
        let seconds: f64 = std::str::from_utf8(token).ok()?.parse().ok()?;
        let ms = (seconds * 1000.0).round();
        // Outside i64 (or NaN, infinite) is not a timestamp.
        return (ms.is_finite() && ms.abs() < 9.2e18).then_some(ms as i64);
    }
    let (negative, digits) = match token {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    let n = i64::try_from(parse_digits(digits)?).ok()?;
    Some(if negative { -n } else { n })
}

/// Parses 1 to 19 ASCII digits (always fits a `u64`), eight at a time.
#[inline]
fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: u64 = 0;
    let mut chunks = digits.chunks_exact(8);
    for chunk in &mut chunks {
        let bytes = <[u8; 8]>::try_from(chunk).ok()?;
        n = n.wrapping_mul(100_000_000).wrapping_add(eight_digits(u64::from_le_bytes(bytes))?);
    }
    for &c in chunks.remainder() {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.wrapping_mul(10).wrapping_add(u64::from(d));
    }
    Some(n)
}

/// The value of eight ASCII digits loaded little-endian, or `None` if one is not a digit
/// (the SWAR method from Lemire's "fast number parsing").
#[inline]
fn eight_digits(word: u64) -> Option<u64> {
    let all_digits = (word & 0xF0F0_F0F0_F0F0_F0F0) == 0x3030_3030_3030_3030
        && (word.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) == 0x3030_3030_3030_3030;
    if !all_digits {
        return None;
    }
    let mut v = (word & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
    v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    v = (v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32;
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(line: &str) -> SampleRef<'_> {
        match parse_line(line.as_bytes()) {
            Ok(Line::Sample(s)) => s,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    fn err(line: &str) -> ParseErrorKind {
        parse_line(line.as_bytes()).expect_err(line)
    }

    #[test]
    fn float_spellings_go_and_python_print() {
        for (text, want) in [
            ("1e+06", 1e6),
            ("2.592e+06", 2.592e6),
            (".5", 0.5),
            ("-0", 0.0),
            ("9.999999999999999e-06", 9.999999999999999e-06),
            ("1.24416e+08", 1.24416e8),
            ("-1", -1.0),
            ("+Inf", f64::INFINITY),
            ("Inf", f64::INFINITY),
            ("-Inf", f64::NEG_INFINITY),
            ("1.686306e+06", 1_686_306.0),
            ("123456789012345678", 123_456_789_012_345_680.0),
        ] {
            assert_eq!(parse_value(text), Ok(want), "{text}");
        }
        assert!(parse_value("NaN").unwrap().is_nan());
        assert!(parse_value("-0").unwrap().is_sign_negative());
        for bad in ["", "1,5", "0x10", "one", "1_000", "--1", "1e"] {
            assert!(parse_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn many_labels_stay_linear_and_duplicates_are_still_found() {
        let labels: Vec<String> = (0..50_000).map(|n| format!("l{n}=\"\"")).collect();
        let line = format!("x{{{}}} 1", labels.join(","));
        assert_eq!(sample(&line).label_count(), 50_000);
        let line = format!("x{{{},l7=\"again\"}} 1", labels.join(","));
        assert_eq!(err(&line), ParseErrorKind::DuplicateLabel("l7".into()));
        let line = "x{a=\"\",b=\"\",a=\"\"} 1";
        assert_eq!(err(line), ParseErrorKind::DuplicateLabel("a".into()));
    }

    #[test]
    fn digits_parse_eight_at_a_time() {
        for text in
            ["0", "7", "12345678", "123456789", "1782468875486", "9999999999999999999", "0000000000000000001"]
        {
            assert_eq!(parse_digits(text.as_bytes()), Some(text.parse::<u64>().unwrap()), "{text}");
        }
        for bad in ["", "1234567a", "12345678x", "/0000000", ":9999999", "12345678901234567890"] {
            assert_eq!(parse_digits(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(parse_timestamp(b"-1782468875486"), Some(-1_782_468_875_486));
        assert_eq!(parse_timestamp(b"9999999999999999999"), None, "beyond i64");
        assert_eq!(parse_value("12345678901234567890"), Ok(12_345_678_901_234_567_890.0));
    }

    #[test]
    fn quote_finder_sees_every_position() {
        for len in 0..40 {
            let mut value = vec![b'a'; len];
            value.push(b'"');
            value.extend_from_slice(b"tail\\");
            assert_eq!(find_quote_or_backslash(&value), (Some(len), false), "{len}");
            value[len / 2] = 0xC3;
            assert!(find_quote_or_backslash(&value).1 || len == 0, "{len}");
        }
        assert_eq!(find_quote_or_backslash(b"abcdefghijkl"), (None, false));
        let s = sample("x{a=\"\u{e9}t\u{e9}\"} 1");
        assert_eq!(s.label("a").as_deref(), Some("\u{e9}t\u{e9}"));
    }

    #[test]
    fn names_remembered_from_the_line_before_still_catch_every_error() {
        let mut scratch = LabelScratch::default();
        let mut parse = |line: &'static str| match parse_line_in(line.as_bytes(), None, "x", &mut scratch) {
            Ok(Line::Sample(s)) => Ok(s.label_count()),
            Ok(other) => panic!("{other:?}"),
            Err(kind) => Err(kind),
        };
        assert_eq!(parse("x{a=\"1\",b=\"2\"} 1"), Ok(2));
        assert_eq!(parse("x{a=\"1\",a=\"2\"} 1"), Err(ParseErrorKind::DuplicateLabel("a".into())));
        assert_eq!(parse("x{a=\"1\",b=\"2\",a=\"3\"} 1"), Err(ParseErrorKind::DuplicateLabel("a".into())));
        assert_eq!(parse("x{a=\"1\",b=\"2\",b=\"3\"} 1"), Err(ParseErrorKind::DuplicateLabel("b".into())));
        assert_eq!(parse("x{a=\"1\",b=\"2\",c=\"3\"} 1"), Ok(3));
        assert_eq!(parse("x{ab=\"1\"} 1"), Ok(1));
        assert_eq!(parse("x{a=\"1\"} 1"), Ok(1));
        // A quoted name is never remembered as a bare one.
        assert_eq!(parse("x{\"a.b\"=\"1\"} 1"), Ok(1));
        assert_eq!(parse("x{a.b=\"1\"} 1"), Err(ParseErrorKind::InvalidLabelName("a.b".into())));
        assert_eq!(parse("x{a =\"1\", a=\"2\"} 1"), Err(ParseErrorKind::DuplicateLabel("a".into())));
        assert_eq!(parse("x{a=1} 1"), Err(ParseErrorKind::UnquotedLabelValue("a".into())));
        assert_eq!(parse("x{a=\"1\"} 1"), Ok(1));
        assert_eq!(parse("x{a=\"1\",} 1"), Ok(1));
    }

    #[test]
    fn a_label_text_remembered_at_its_place_is_taken_unscanned_and_only_when_every_byte_matches() {
        let mut scratch = LabelScratch::remembering(1 << 20);
        let mut parse = |place: usize, line: &'static str| {
            scratch.place = place;
            let parsed = match parse_line_in(line.as_bytes(), None, "x", &mut scratch) {
                Ok(Line::Sample(s)) => {
                    let labels =
                        |s: SampleRef<'_>| s.labels().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>();
                    // Where the parser says the labels are is where a walk of the text finds them.
                    assert_eq!(labels(s.with_spans(scratch.spans())), labels(s));
                    Ok(labels(s))
                }
                Ok(other) => panic!("{other:?}"),
                Err(kind) => Err(kind),
            };
            (parsed, scratch.text)
        };
        let (first, id) = parse(0, "x{a=\"1\",b=\"\\n\"} 1");
        let id = id.expect("remembered");
        assert_eq!(first, Ok(vec!["a=1".to_string(), "b=\n".to_string()]));
        // The same text at the same place: the same id, the same labels, escapes included.
        assert_eq!(parse(0, "x_total{a=\"1\",b=\"\\n\"} 2 17"), (first.clone(), Some(id)));
        // At another place it is scanned and remembered there.
        let (other, elsewhere) = parse(1, "x{a=\"1\",b=\"\\n\"} 1");
        assert_eq!(other, first);
        assert_ne!(elsewhere.map(|t| t.place), Some(0));
        // A text that starts with the remembered one but goes on is scanned, and its errors found.
        assert_eq!(
            parse(0, "x{a=\"1\",b=\"\\n\",a=\"2\"} 1").0,
            Err(ParseErrorKind::DuplicateLabel("a".into()))
        );
        assert_eq!(parse(0, "x{a=\"1\",b=\"\\n\"").0, Err(ParseErrorKind::UnterminatedLabelSet));
        // A failed line leaves what was remembered alone.
        assert_eq!(parse(0, "x{a=\"1\",b=\"\\n\"} 3"), (first, Some(id)));
        // A bad value after a remembered label text is still found.
        let (bad, none) = parse(0, "x{a=\"1\",b=\"\\n\"} one");
        assert_eq!((bad, none), (Err(ParseErrorKind::InvalidValue("one".into())), Some(id)));
        // A label text over the bound is scanned every time and never remembered.
        let long: &'static str = format!("x{{a=\"{}\"}} 1", "v".repeat(Memo::TEXT)).leak();
        assert_eq!(parse(2, long).1, None);
        assert_eq!(parse(2, long).1, None);
        // A family whose first lines find nothing remembered stops remembering past them, until
        // one of its lines is found.
        let fresh = |place: usize| format!("x{{f=\"{place}\"}} 1").leak() as &'static str;
        let remembered: Vec<bool> = (0..6).map(|place| parse(place, fresh(place)).1.is_some()).collect();
        assert_eq!(remembered, [true, true, true, true, false, false]);
        assert!(parse(3, fresh(3)).1.is_some() && parse(4, fresh(4)).1.is_some());
    }

    #[test]
    fn the_memo_stays_within_its_bound_and_finds_what_it_kept_after_taking_back_room() {
        // Room for every place's longest text (about 30 KB, twice over as vectors double), not
        // for every text each place ever had (600 KB).
        let bound = 128 << 10;
        let mut memo = Memo { bound, ..Memo::default() };
        let set = SetScan { count: 1, plain: true, filter: 1, known: false };
        let text = |place: usize, len: usize| format!("a=\"{place}{}\"}}", "x".repeat(len)).into_bytes();
        let span = |text: &[u8]| LabelSpan { name: (0, 1), value: (3, text.len() - 2), escaped: false };
        let mut kept = std::collections::BTreeMap::new();
        // Texts that grow at their place each round move and leave room behind.
        for round in 0..40 {
            for place in 0..24 {
                let t = text(place, round * 31 + place);
                let id = memo.store(place, &t, &[span(&t)], &set).expect("room taken back");
                assert_eq!(id.place, place);
                kept.insert(place, (t, id.id));
                assert!(memo.held <= bound, "round {round}, place {place}: {} bytes", memo.held);
            }
        }
        // Whatever it said it kept, it finds: the last text stored at each place.
        for (&place, (t, id)) in &kept {
            let mut line = t.clone();
            line.extend_from_slice(b" 1");
            let entry = memo.find(place, &line, 0).expect("kept");
            assert_eq!((entry.id, &memo.bytes[entry.text.range()]), (*id, &t[..]));
            assert_eq!(memo.spans[entry.spans.range()], [span(t)]);
            assert!(memo.find(place, &line[1..], 0).is_none());
        }
        // Past the bound a new place is refused, not grown into.
        assert_eq!(memo.store(kept.len() + 1, b"}", &[], &set), None);
        let big = text(99, Memo::TEXT);
        assert_eq!(memo.store(0, &big, &[span(&big)], &set), None);
    }

    #[test]
    fn a_sample_is_the_same_whether_its_line_came_checked_or_not() {
        let line = "x{a=\"\u{e9}\",b=\"2\"} 1 1700000000000";
        let (mut one, mut two) = (LabelScratch::default(), LabelScratch::default());
        let checked = parse_line_in(line.as_bytes(), Some(line), "", &mut one).expect("valid");
        let unchecked = parse_line_in(line.as_bytes(), None, "", &mut two).expect("valid");
        assert_eq!(checked, unchecked);
        let (Line::Sample(with), Line::Sample(without)) = (checked, unchecked) else { panic!("samples") };
        assert_eq!(with.with_spans(one.spans()), without);
        assert_eq!(
            with.with_spans(one.spans()).labels().collect::<Vec<_>>(),
            without.labels().collect::<Vec<_>>()
        );
        assert_eq!(with.to_sample_with(one.spans(), one.text, &mut Interner::default()), without.to_sample());
    }

    #[test]
    fn many_remembered_labels_stay_linear_and_duplicates_are_still_found() {
        let labels: Vec<String> = (0..50_000).map(|n| format!("l{n}=\"\"")).collect();
        let mut scratch = LabelScratch::default();
        let line = format!("x{{{}}} 1", labels.join(","));
        assert!(
            matches!(parse_line_in(line.as_bytes(), None, "", &mut scratch), Ok(Line::Sample(s)) if s.label_count() == 50_000)
        );
        let line = format!("x{{{},l7=\"again\"}} 1", labels.join(","));
        assert_eq!(
            parse_line_in(line.as_bytes(), None, "", &mut scratch).err(),
            Some(ParseErrorKind::DuplicateLabel("l7".into()))
        );
    }

    proptest::proptest! {
        /// Lines parsed one after another with the names of the line before remembered read
        /// exactly as each line parsed alone.
        #[test]
        fn remembered_names_never_change_a_result(
            sets in proptest::collection::vec(
                proptest::collection::vec(("a|b|ab|b_|\"a\"|a b|1", "[a\\\\\"]{0,3}", " ?"), 0..5),
                1..8,
            ),
        ) {
            let mut scratch = LabelScratch::default();
            for set in &sets {
                let labels: Vec<String> =
                    set.iter().map(|(name, value, blank)| format!("{name}{blank}=\"{value}\"")).collect();
                let line = format!("x{{{}}} 1", labels.join(","));
                let alone = parse_line(line.as_bytes());
                let after = parse_line_in(line.as_bytes(), None, "", &mut scratch);
                proptest::prop_assert_eq!(after, alone, "{}", line);
            }
        }

        #[test]
        fn word_comparison_agrees_with_slices(
            a in proptest::collection::vec(0u8..3, 0..30),
            b in proptest::collection::vec(0u8..3, 0..30),
            len in 1usize..25,
        ) {
            let slices = a.get(..len).is_some_and(|a| b.get(..len) == Some(a));
            proptest::prop_assert_eq!(same_prefix(&a, &b, len), slices);
        }

        #[test]
        fn digit_parsing_agrees_with_std(text in "[0-9]{1,20}|[0-9a/:]{1,12}") {
            proptest::prop_assert_eq!(parse_digits(text.as_bytes()), text.parse::<u64>().ok().filter(|_| text.len() <= 19));
        }

        #[test]
        fn quote_finder_agrees_with_a_plain_search(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let want = bytes.iter().position(|&c| c == b'"' || c == b'\\');
            let (found, high) = find_quote_or_backslash(&bytes);
            proptest::prop_assert_eq!(found, want);
            let before = &bytes[..want.unwrap_or(bytes.len())];
            proptest::prop_assert!(high || before.is_ascii());
        }
    }

    #[test]
    fn samples_with_every_separator_and_trailing_comma() {
        let s = sample("x{a=\"1\",b=\"2\",} 3");
        assert_eq!(s.labels().collect::<Vec<_>>(), vec![("a", "1".into()), ("b", "2".into())]);
        let s = sample("x\t{ a = \"1\" , }\t 3  \t 17\r");
        assert_eq!((s.value, s.timestamp_ms, s.label_count()), (3.0, Some(17), 1));
        let s = sample("x{} 3");
        assert_eq!(s.label_count(), 0);
        let s = sample("  x 3");
        assert_eq!(s.name, "x");
    }

    #[test]
    fn escapes_in_label_values_are_undone() {
        let s = sample(r#"x{path="C:\\dir\"q\"\nz",ok=""} 1"#);
        let labels: Vec<_> = s.labels().collect();
        assert_eq!(labels[0], ("path", Cow::Owned::<str>("C:\\dir\"q\"\nz".into())));
        assert_eq!(labels[1].1, "");
    }

    #[test]
    fn exemplars_are_accepted_and_ignored() {
        let s = sample(r#"x_bucket{le="1"} 5 # {trace_id="abc"} 0.5 123"#);
        assert_eq!((s.value, s.timestamp_ms), (5.0, None));
        let s = sample(r#"x_total 5 1700 # {trace_id="abc"} 1.0"#);
        assert_eq!(s.timestamp_ms, Some(1700));
    }

    #[test]
    fn comments_help_type_unit_eof() {
        assert_eq!(parse_line(b"# HELP x [ALPHA] "), Ok(Line::Help { name: "x", text: "[ALPHA]" }));
        assert_eq!(parse_line(b"# HELP x"), Ok(Line::Help { name: "x", text: "" }));
        assert_eq!(
            parse_line(b"# TYPE x histogram"),
            Ok(Line::Type { name: "x", kind: MetricKind::Histogram })
        );
        assert_eq!(parse_line(b"# UNIT x seconds"), Ok(Line::Unit { name: "x", unit: "seconds" }));
        assert_eq!(parse_line(b"# EOF"), Ok(Line::Eof));
        assert_eq!(parse_line(b"#HELP x y"), Ok(Line::Comment));
        assert_eq!(parse_line(b"# just words"), Ok(Line::Comment));
        assert_eq!(parse_line(b"  \t\r"), Ok(Line::Blank));
        assert_eq!(unescape_help(r"a\nb"), "a\nb");
    }

    #[test]
    fn malformed_lines_name_the_reason() {
        assert_eq!(err(r#"x{a="\q"} 1"#), ParseErrorKind::BadEscape("q".into()));
        assert_eq!(err(r#"x{a="1" 1"#), ParseErrorKind::ExpectedCommaOrBrace);
        assert_eq!(err(r#"x{a="1","#), ParseErrorKind::UnterminatedLabelSet);
        assert_eq!(err(r#"x{a="1} 1"#), ParseErrorKind::UnterminatedQuote);
        assert_eq!(err(r#"x{a="1",a="2"} 1"#), ParseErrorKind::DuplicateLabel("a".into()));
        assert_eq!(err(r#"9x 1"#), ParseErrorKind::InvalidMetricName("9x".into()));
        assert_eq!(err(r#"x-y 1"#), ParseErrorKind::InvalidMetricName("x-y".into()));
        assert_eq!(err(r#"x{a-b="1"} 1"#), ParseErrorKind::InvalidLabelName("a-b".into()));
        assert_eq!(err(r#"x{1a="1"} 1"#), ParseErrorKind::InvalidLabelName("1a".into()));
        assert_eq!(err(r#"x{a=1} 1"#), ParseErrorKind::UnquotedLabelValue("a".into()));
        assert_eq!(err("x abc"), ParseErrorKind::InvalidValue("abc".into()));
        assert_eq!(err("x"), ParseErrorKind::MissingValue);
        assert_eq!(err("x{}"), ParseErrorKind::MissingValue);
        assert_eq!(err("x 1 1.5x"), ParseErrorKind::InvalidTimestamp("1.5x".into()));
        assert_eq!(err("x 1 1e400"), ParseErrorKind::InvalidTimestamp("1e400".into()));
        // OpenMetrics float seconds.
        assert_eq!(sample("x 1 1.5").timestamp_ms, Some(1500));
        assert_eq!(err("x 1 2 3"), ParseErrorKind::TrailingGarbage("3".into()));
        assert_eq!(err("# TYPE x hist"), ParseErrorKind::UnknownType("hist".into()));
        assert_eq!(err("# TYPE 1x counter"), ParseErrorKind::InvalidMetricName("1x".into()));
        assert_eq!(err("# HELP"), ParseErrorKind::MissingName { keyword: "HELP" });
        assert_eq!(parse_line(b"x{a=\"\xff\"} 1"), Err(ParseErrorKind::InvalidUtf8));
    }
}
