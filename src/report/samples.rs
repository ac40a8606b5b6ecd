//! `get`'s samples as bytes, written node by node as each payload is parsed: one JSON object per
//! sample per line, CSV rows (node, name, label set, value, timestamp), or exposition text with a
//! `node` label merged across nodes. Nothing here holds owned samples: every writer is a
//! [`Visitor`] fed by the zero-copy parser, and the exposition merge keeps each family's
//! already-labelled lines in a [`Store`] (memory first, then a temporary file, chosen by the
//! caller), so memory stays flat in nodes × payload size. Which nodes and selectors apply is
//! decided by `commands::get`; the exposition format itself is written by
//! [`crate::exposition::write()`] and [`write_sample`].

// Family names are looked up several times per family and node: foldhash, not SipHash.
use foldhash::HashMap;
use std::io::{self, Write};

use crate::exposition::{
    FamilyHead, Injected, SampleRef, Visitor, write::push_value, write::write_help, write_head, write_sample,
};
use crate::report::document::{DocumentFormat, write_record};
use crate::scrape::Failure;
use crate::snapshot::{CONTEXT_LABEL, NODE_LABEL};

/// Which node a writer's samples come from: its name and, when several clusters are read in one
/// run, its cluster (kubeconfig context) with that context's place on the command line. Orders
/// as the output does: by context (in command-line order), then by node name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodeId {
    /// The context's place among the contexts, and its name; `None` for a single cluster.
    pub context: Option<(usize, String)>,
    /// The node name.
    pub node: String,
}

impl NodeId {
    /// A node of the only cluster read.
    pub fn node(node: &str) -> NodeId {
        NodeId { context: None, node: node.to_string() }
    }

    /// The context name, if several clusters are read.
    pub fn context(&self) -> Option<&str> {
        self.context.as_ref().map(|(_, name)| name.as_str())
    }
}

/// How one node's samples are written as records of their own (`-o json|yaml|csv|jsonpath=`).
#[derive(Debug, Clone)]
pub enum LineFormat {
    /// `{"labels","name","node","timestamp_ms","value"}`, one object per line, keys sorted.
    Json,
    /// `node,name,labels,value,timestamp_ms` (RFC 4180 quoting).
    Csv,
    /// The JSON line's object written another way: a YAML sequence item, or a `jsonpath=`
    /// template's line. Slower than [`LineFormat::Json`] (each record goes through a
    /// `serde_json::Value`), still one node at a time.
    Document(DocumentFormat),
}

/// The CSV header line.
pub const CSV_HEADER: &[u8] = b"node,name,labels,value,timestamp_ms\n";
/// The CSV header line when several clusters are read: a `context` column first.
pub const CSV_HEADER_IN_CONTEXTS: &[u8] = b"context,node,name,labels,value,timestamp_ms\n";

/// One node's samples as JSON or CSV lines, written into [`NodeLines::out`] as they are parsed;
/// the caller hands the bytes on when the node is done (or between chunks).
#[derive(Debug)]
pub struct NodeLines {
    format: LineFormat,
    /// `{"context":"CONTEXT","labels":{` or `{"labels":{` (JSON); empty for CSV.
    open: Vec<u8>,
    /// `,"node":"NAME"` (JSON) or `[CONTEXT,]NAME,` (CSV), rendered once.
    node_field: Vec<u8>,
    /// The lines written so far.
    pub out: Vec<u8>,
    /// Samples written so far.
    pub samples: u64,
    /// Scratch for one CSV label field, reused across samples.
    scratch: Vec<u8>,
}

impl NodeLines {
    /// A writer for node `id`: a `"context"` field (JSON) or column (CSV) when it has one.
    pub fn new(format: LineFormat, id: &NodeId) -> NodeLines {
        let (mut open, mut node_field) = (Vec::new(), Vec::new());
        match format {
            LineFormat::Json | LineFormat::Document(_) => {
                open.push(b'{');
                if let Some(context) = id.context() {
                    open.extend_from_slice(b"\"context\":");
                    json_string(context, &mut open);
                    open.push(b',');
                }
                open.extend_from_slice(b"\"labels\":{");
                node_field.extend_from_slice(b",\"node\":");
                json_string(&id.node, &mut node_field);
            }
            LineFormat::Csv => {
                if let Some(context) = id.context() {
                    csv_field(context.as_bytes(), &mut node_field);
                    node_field.push(b',');
                }
                csv_field(id.node.as_bytes(), &mut node_field);
                node_field.push(b',');
            }
        }
        NodeLines { format, open, node_field, out: Vec::new(), samples: 0, scratch: Vec::new() }
    }

    /// The format this node is written in.
    pub fn format(&self) -> &LineFormat {
        &self.format
    }

    /// Ends a node whose payload failed after some samples were written, when the format can
    /// say so: a JSON (or YAML, or template) record `{"error":{"kind","message"},"node"}` after
    /// its samples. Returns false for CSV, whose rows cannot carry the error.
    pub fn end_with_failure(&mut self, id: &NodeId, failure: &Failure) -> bool {
        match &self.format {
            LineFormat::Csv => false,
            LineFormat::Json => {
                write_json_failure(id, failure, &mut self.out);
                true
            }
            LineFormat::Document(format) => {
                let mut line = Vec::new();
                write_json_failure(id, failure, &mut line);
                convert_record(&line, format, &mut self.out);
                true
            }
        }
    }

    fn document(&mut self, sample: &SampleRef<'_>) {
        let start = self.out.len();
        self.json(sample);
        if let LineFormat::Document(format) = &self.format {
            let line = self.out.split_off(start);
            convert_record(&line, format, &mut self.out);
        }
    }

    fn json(&mut self, sample: &SampleRef<'_>) {
        let out = &mut self.out;
        out.extend_from_slice(&self.open);
        // Keys are sorted, as `serde_json` writes a map. Kubelets send labels sorted already, so
        // they are written as they come, and only a set found out of order is written again.
        let start = out.len();
        let mut previous: &[u8] = &[];
        let mut sorted = true;
        // One look for control characters over the whole label set, not one per name and value.
        let control = has_control(sample.label_text());
        for (name, value) in sample.raw_labels() {
            // Names almost always differ in their first byte: compare that before the slices.
            let in_order = match (name.first(), previous.first()) {
                (Some(a), Some(b)) if a != b => a > b,
                _ => name > previous,
            };
            if !in_order {
                sorted = false;
                break;
            }
            previous = name;
            json_pair(name, value, out.len() > start, control, out);
        }
        if !sorted {
            out.truncate(start);
            let mut labels: Vec<_> = sample.raw_labels().collect();
            labels.sort_by(|a, b| a.0.cmp(b.0));
            for (name, value) in labels {
                json_pair(name, value, out.len() > start, control, out);
            }
        }
        out.extend_from_slice(b"},\"name\":");
        json_raw(sample.name.as_bytes(), out);
        out.extend_from_slice(&self.node_field);
        out.extend_from_slice(b",\"timestamp_ms\":");
        match sample.timestamp_ms {
            Some(ts) => out.extend_from_slice(itoa::Buffer::new().format(ts).as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"value\":");
        json_number(sample.value, out);
        out.extend_from_slice(b"}\n");
    }

    fn csv(&mut self, sample: &SampleRef<'_>) {
        let out = &mut self.out;
        out.extend_from_slice(&self.node_field);
        csv_field(sample.name.as_bytes(), out);
        out.push(b',');
        // The label set in the exposition format's own escaping, which is how it was sent: as
        // sent when it is already in written form, else rebuilt pair by pair.
        if let Some(labels) = sample.plain_labels() {
            csv_field(labels, out);
        } else {
            let labels = &mut self.scratch;
            labels.clear();
            for (name, value) in sample.raw_labels() {
                if !labels.is_empty() {
                    labels.push(b',');
                }
                labels.extend_from_slice(name);
                labels.extend_from_slice(b"=\"");
                labels.extend_from_slice(value);
                labels.push(b'"');
            }
            csv_field(labels, out);
        }
        out.push(b',');
        push_value(sample.value, out);
        out.push(b',');
        if let Some(ts) = sample.timestamp_ms {
            out.extend_from_slice(itoa::Buffer::new().format(ts).as_bytes());
        }
        out.push(b'\n');
    }
}

impl Visitor for NodeLines {
    fn family(&mut self, _head: &FamilyHead) {}

    #[inline]
    fn sample(&mut self, sample: &SampleRef<'_>) {
        self.samples += 1;
        match self.format {
            LineFormat::Json => self.json(sample),
            LineFormat::Csv => self.csv(sample),
            LineFormat::Document(_) => self.document(sample),
        }
    }
}

/// The JSON line that ends a node whose payload failed after some of its samples were written:
/// `{["context",]"error":{"kind","message"},"node"}`.
pub fn write_json_failure(id: &NodeId, failure: &Failure, out: &mut Vec<u8>) {
    out.push(b'{');
    if let Some(context) = id.context() {
        out.extend_from_slice(b"\"context\":");
        json_string(context, out);
        out.push(b',');
    }
    out.extend_from_slice(b"\"error\":{\"kind\":");
    json_string(failure.kind.as_str(), out);
    out.extend_from_slice(b",\"message\":");
    json_string(&failure.message, out);
    out.extend_from_slice(b"},\"node\":");
    json_string(&id.node, out);
    out.extend_from_slice(b"}\n");
}

/// One JSON line (as [`NodeLines`] writes it) rewritten in `format`.
fn convert_record(line: &[u8], format: &DocumentFormat, out: &mut Vec<u8>) {
    // The line was built as JSON a moment ago; if it ever failed to read back, the JSON itself
    // is the most faithful thing to write.
    match serde_json::from_slice::<serde_json::Value>(line) {
        Ok(value) => {
            if write_record(&value, format, out).is_err() {
                out.extend_from_slice(line);
            }
        }
        Err(_) => out.extend_from_slice(line),
    }
}

/// `"name":"value"` of one label as sent, after a comma when `comma`.
#[inline]
/// `"name":"value"` (after a comma when `comma`); `control`: the label set may hold a control
/// character (else neither is looked at again).
fn json_pair(name: &[u8], value: &[u8], comma: bool, control: bool, out: &mut Vec<u8>) {
    if comma {
        out.push(b',');
    }
    if control {
        json_raw_checked(name, true, out);
        out.push(b':');
        json_raw_checked(value, true, out);
    } else {
        // One pass of pushes for the common case, which `json_raw_checked` twice costs 5% more.
        out.push(b'"');
        out.extend_from_slice(name);
        out.extend_from_slice(b"\":\"");
        out.extend_from_slice(value);
        out.push(b'"');
    }
}

/// Whether `bytes` holds a byte below 0x20, eight bytes at a time (the "has less than" word
/// trick: a byte below 0x20 is the only way a borrow reaches its high bit without it being set).
#[inline]
fn has_control(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut chunks = bytes.chunks_exact(8);
    let mut found = 0u64;
    for chunk in &mut chunks {
        let word = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
        found |= word.wrapping_sub(ONES * 0x20) & !word;
    }
    found & (ONES * 0x80) != 0 || chunks.remainder().iter().any(|&c| c < 0x20)
}

/// A name or a label value as sent in exposition text, as a JSON string. The exposition escapes
/// (`\\`, `\"`, `\n`) are JSON's own, so only other control characters (a tab) need escaping.
/// The parser has checked that the text is UTF-8 (label values and quoted names are checked,
/// bare names are ASCII by their grammar), and a quoted name cannot hold `"` or `\`.
#[inline]
fn json_raw(raw: &[u8], out: &mut Vec<u8>) {
    json_raw_checked(raw, has_control(raw), out);
}

/// [`json_raw`] when the caller already knows whether `raw` may hold a control character
/// (`control` false: it holds none).
#[inline]
fn json_raw_checked(raw: &[u8], control: bool, out: &mut Vec<u8>) {
    out.push(b'"');
    if !control {
        out.extend_from_slice(raw);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &c) in raw.iter().enumerate() {
        if c < 0x20 {
            out.extend_from_slice(&raw[start..i]);
            match c {
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\n' => out.extend_from_slice(b"\\n"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                c => {
                    let _ = write!(out, "\\u{c:04x}");
                }
            }
            start = i + 1;
        }
    }
    out.extend_from_slice(&raw[start..]);
    out.push(b'"');
}

/// A JSON string, escaped as `serde_json` escapes it.
fn json_string(text: &str, out: &mut Vec<u8>) {
    // Writing into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// A value as [`crate::report::json::number`] spells it: integers below 2^53 without a
/// fraction, other finite values as `serde_json` writes them, `NaN` / `+Inf` / `-Inf` as strings.
fn json_number(value: f64, out: &mut Vec<u8>) {
    if value.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"\"+Inf\"" } else { b"\"-Inf\"" });
    } else if value.fract() == 0.0 && value.abs() < 9.007_199_254_740_992e15 {
        // Exactly representable as i64 (|value| < 2^53), so the cast is lossless.
        out.extend_from_slice(itoa::Buffer::new().format(value as i64).as_bytes());
    } else {
        let _ = serde_json::to_writer(&mut *out, &value);
    }
}

/// One CSV field, quoted by RFC 4180 when it holds a comma, a quote or a line break.
fn csv_field(field: &[u8], out: &mut Vec<u8>) {
    // Folded rather than short-circuited, so the check runs on whole words.
    if !field.iter().fold(false, |any, &c| any | matches!(c, b',' | b'"' | b'\n' | b'\r')) {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    let mut start = 0;
    for quote in memchr::memchr_iter(b'"', field) {
        // Up to and including the quote, then the quote again.
        out.extend_from_slice(&field[start..=quote]);
        out.push(b'"');
        start = quote + 1;
    }
    out.extend_from_slice(&field[start..]);
    out.push(b'"');
}

/// One CSV record (RFC 4180 quoting), for callers that write rows as they arrive, such as
/// `get --path` with `-o csv` (`node,bytes,body`).
pub fn write_csv_record(fields: &[&str], out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    writer.write_record(fields)?;
    writer.flush()
}

/// Where the exposition merge keeps labelled lines until every node is in: append-only bytes
/// read back by offset. `Vec<u8>` is one (all in memory); the command uses a store that moves
/// to a temporary file past a bound.
pub trait Store {
    /// Appends `bytes`; returns the offset they start at.
    fn append(&mut self, bytes: &[u8]) -> io::Result<u64>;
    /// Copies `len` bytes from `offset` to `out`.
    fn copy_to(&mut self, offset: u64, len: usize, out: &mut dyn Write) -> io::Result<()>;
}

impl Store for Vec<u8> {
    fn append(&mut self, bytes: &[u8]) -> io::Result<u64> {
        let offset = self.len() as u64;
        self.extend_from_slice(bytes);
        Ok(offset)
    }

    fn copy_to(&mut self, offset: u64, len: usize, out: &mut dyn Write) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        let bytes = self
            .get(start..start.saturating_add(len))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "offset past the stored bytes"))?;
        out.write_all(bytes)
    }
}

/// A run of one family's labelled lines: where they are (in a node's buffer, then in the store).
#[derive(Debug, Clone, Copy)]
struct Segment {
    family: u32,
    offset: u64,
    len: u32,
}

/// One node's samples as exposition lines with its `node` label, grouped into runs per family.
/// [`PromNode::drain`] moves the lines written so far into a [`Store`] (call it between chunks
/// to keep the buffer small); [`PromMerge::commit`] adds the node once its payload is complete.
#[derive(Debug)]
pub struct PromNode {
    id: NodeId,
    /// `[context="CONTEXT",]node="NAME"`, written first in every sample's label set.
    injected: Injected,
    /// Families in the order this payload announced them.
    heads: Vec<FamilyHead>,
    index: HashMap<String, u32>,
    current: u32,
    /// Labelled lines not yet in the store.
    buf: Vec<u8>,
    /// Runs in `buf` (offsets relative to it).
    pending: Vec<Segment>,
    /// Runs already in the store.
    stored: Vec<Segment>,
    /// Samples written so far.
    pub samples: u64,
}

impl PromNode {
    /// A writer for node `id`: its samples get a `node` label, after a `context` label when it
    /// has a context.
    pub fn new(id: NodeId) -> PromNode {
        PromNode::with_capacity(id, 0)
    }

    /// [`PromNode::new`] with room for `bytes` of lines before the buffer grows: a caller that
    /// drains at a known size saves the copies of growing to it, for every node.
    pub fn with_capacity(id: NodeId, bytes: usize) -> PromNode {
        PromNode {
            injected: injected_for(&id),
            id,
            heads: Vec::new(),
            index: HashMap::default(),
            current: 0,
            buf: Vec::with_capacity(bytes),
            pending: Vec::new(),
            stored: Vec::new(),
            samples: 0,
        }
    }

    /// Bytes written and not yet drained.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Moves the buffered lines into `store`.
    pub fn drain(&mut self, store: &mut impl Store) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let base = store.append(&self.buf)?;
        self.stored.extend(self.pending.drain(..).map(|s| Segment { offset: base + s.offset, ..s }));
        self.buf.clear();
        Ok(())
    }
}

impl Visitor for PromNode {
    fn family(&mut self, head: &FamilyHead) {
        self.current = match self.index.get(&head.name) {
            Some(&k) => {
                let known = &mut self.heads[k as usize];
                if known.help.is_empty() {
                    known.help.clone_from(&head.help);
                }
                k
            }
            None => {
                let k = u32::try_from(self.heads.len()).unwrap_or(u32::MAX);
                self.index.insert(head.name.clone(), k);
                self.heads.push(head.clone());
                k
            }
        };
    }

    #[inline]
    fn sample(&mut self, sample: &SampleRef<'_>) {
        self.samples += 1;
        let start = self.buf.len();
        write_sample(sample, &self.injected, &mut self.buf);
        let len = (self.buf.len() - start) as u32;
        match self.pending.last_mut() {
            Some(last)
                if last.family == self.current && last.offset + u64::from(last.len) == start as u64 =>
            {
                last.len += len;
            }
            _ => self.pending.push(Segment { family: self.current, offset: start as u64, len }),
        }
    }
}

/// `[context="CONTEXT",]node="NAME"` for node `id`, written first in every sample's label set.
fn injected_for(id: &NodeId) -> Injected {
    match id.context() {
        Some(context) => Injected::new(&[(CONTEXT_LABEL, context), (NODE_LABEL, &id.node)]),
        None => Injected::new(&[(NODE_LABEL, &id.node)]),
    }
}

/// One payload as exposition text with its `node` label, written in payload order as it is
/// parsed into [`PromLines::out`]: `-o prom` when a single payload is read, so there is nothing
/// to merge and nothing to hold. HELP / TYPE / UNIT come once, before a family's first sample; a
/// family the payload splits (its lines resumed after another family's) stays split, as sent,
/// which Prometheus's parsers and ours read as one family; HELP text that only arrives with the
/// resumed part is written there.
#[derive(Debug)]
pub struct PromLines {
    injected: Injected,
    /// The families written so far, and whether their HELP line was.
    written: HashMap<String, bool>,
    /// The lines written so far.
    pub out: Vec<u8>,
    /// Samples written so far.
    pub samples: u64,
}

impl PromLines {
    /// A writer for node `id`: its samples get a `node` label, after a `context` label when it
    /// has a context.
    pub fn new(id: &NodeId) -> PromLines {
        PromLines { injected: injected_for(id), written: HashMap::default(), out: Vec::new(), samples: 0 }
    }
}

impl Visitor for PromLines {
    fn family(&mut self, head: &FamilyHead) {
        match self.written.get_mut(&head.name) {
            None => {
                write_head(head, &mut self.out);
                self.written.insert(head.name.clone(), !head.help.is_empty());
            }
            Some(help_written) if !*help_written && !head.help.is_empty() => {
                write_help(&head.name, &head.help, &mut self.out);
                *help_written = true;
            }
            Some(_) => {}
        }
    }

    #[inline]
    fn sample(&mut self, sample: &SampleRef<'_>) {
        self.samples += 1;
        write_sample(sample, &self.injected, &mut self.out);
    }
}

/// A family of the merge: its metadata, taken from the first node (by name) that has it.
#[derive(Debug)]
struct MergedFamily {
    head: FamilyHead,
    /// The node whose metadata `head` is.
    owner: NodeId,
}

/// A node whose payload is complete.
#[derive(Debug)]
struct Committed {
    id: NodeId,
    /// Its families, as merge indices, in payload order.
    families: Vec<u32>,
    /// Its runs, family as merge indices, in payload order.
    segments: Vec<Segment>,
}

/// `-o prom` across nodes: HELP / TYPE once per family, then every node's samples of that family
/// with its `node` label; families in order of first appearance, nodes sorted by name — what
/// [`crate::exposition::write()`] writes for [`crate::snapshot::label_by_node`], without owned
/// samples. The lines live in the [`Store`]; memory holds metadata and run positions only.
#[derive(Debug)]
pub struct PromMerge<S> {
    store: S,
    families: Vec<MergedFamily>,
    index: HashMap<String, u32>,
    nodes: Vec<Committed>,
}

impl<S: Store> PromMerge<S> {
    /// An empty merge keeping its lines in `store`.
    pub fn new(store: S) -> PromMerge<S> {
        PromMerge { store, families: Vec::new(), index: HashMap::default(), nodes: Vec::new() }
    }

    /// Where lines are kept, for [`PromNode::drain`].
    pub fn store(&mut self) -> &mut S {
        &mut self.store
    }

    /// Adds a node whose payload is complete. A node that failed is never committed: the lines
    /// it had drained stay unreferenced in the store and are never written.
    pub fn commit(&mut self, mut node: PromNode) -> io::Result<()> {
        node.drain(&mut self.store)?;
        let mut global = Vec::with_capacity(node.heads.len());
        for head in node.heads {
            let k = match self.index.get(&head.name) {
                Some(&k) => {
                    let family = &mut self.families[k as usize];
                    if node.id < family.owner {
                        family.owner.clone_from(&node.id);
                        family.head = head;
                    }
                    k
                }
                None => {
                    let k = u32::try_from(self.families.len()).unwrap_or(u32::MAX);
                    self.index.insert(head.name.clone(), k);
                    self.families.push(MergedFamily { head, owner: node.id.clone() });
                    k
                }
            };
            global.push(k);
        }
        let segments =
            node.stored.into_iter().map(|s| Segment { family: global[s.family as usize], ..s }).collect();
        self.nodes.push(Committed { id: node.id, families: global, segments });
        Ok(())
    }

    /// Writes the merged exposition text.
    pub fn write(mut self, out: &mut dyn Write) -> io::Result<()> {
        self.nodes.sort_by(|a, b| a.id.cmp(&b.id));
        let mut rank = vec![u32::MAX; self.families.len()];
        let mut order = Vec::with_capacity(self.families.len());
        for node in &self.nodes {
            for &k in &node.families {
                if rank[k as usize] == u32::MAX {
                    rank[k as usize] = u32::try_from(order.len()).unwrap_or(u32::MAX);
                    order.push(k);
                }
            }
        }
        let mut runs: Vec<(u32, u32, Segment)> = Vec::new();
        for (n, node) in self.nodes.iter().enumerate() {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            runs.extend(node.segments.iter().map(|s| (rank[s.family as usize], n, *s)));
        }
        // Stable: a node's runs of one family stay in payload order.
        runs.sort_by_key(|&(family, node, _)| (family, node));
        let mut runs = runs.into_iter().peekable();
        let mut out = io::BufWriter::with_capacity(256 * 1024, out);
        let mut head = Vec::new();
        for (r, &k) in order.iter().enumerate() {
            head.clear();
            write_head(&self.families[k as usize].head, &mut head);
            out.write_all(&head)?;
            while let Some((_, _, run)) = runs.next_if(|&(family, _, _)| family as usize == r) {
                self.store.copy_to(run.offset, run.len as usize, &mut out)?;
            }
        }
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{Family, Selector, StreamVisitor, parse};
    use crate::scrape::FailureKind;

    const NODE_A: &str =
        "up{job=\"kubelet\"} 1\ntemp{path=\"C:\\\\dir\",note=\"say \\\"hi\\\"\\nbye\"} 0.25 1700000000000\n";
    const NODE_B: &str = "ratio NaN\nratio{le=\"+Inf\"} +Inf\n";

    /// Parses `text` in chunks of `chunk` bytes into `visitor`.
    fn feed<V: Visitor>(visitor: V, text: &str, chunk: usize) -> V {
        let mut parser = StreamVisitor::new(visitor, Selector::all());
        text.as_bytes().chunks(chunk).for_each(|c| parser.feed(c));
        let (visitor, visited) = parser.finish();
        assert!(visited.errors.is_empty(), "{:?}", visited.errors);
        visitor
    }

    fn lines(format: LineFormat, nodes: &[(&str, &str)]) -> String {
        let mut out = Vec::new();
        if matches!(format, LineFormat::Csv) {
            out.extend_from_slice(CSV_HEADER);
        }
        for (node, text) in nodes {
            out.extend(feed(NodeLines::new(format.clone(), &NodeId::node(node)), text, 7).out);
        }
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn csv_quotes_label_sets() {
        let text = lines(LineFormat::Csv, &[("n1", "up{a=\"x,y\",b=\"q\\\"\"} 1\n")]);
        assert_eq!(text.lines().nth(1), Some(r#"n1,up,"a=""x,y"",b=""q\""""",1,"#));
    }

    #[test]
    fn csv_snapshot() {
        insta::assert_snapshot!(lines(LineFormat::Csv, &[("node-a", NODE_A), ("node-b", NODE_B)]));
    }

    #[test]
    fn json_snapshot() {
        insta::assert_snapshot!(lines(LineFormat::Json, &[("node-a", NODE_A), ("node-b", NODE_B)]));
    }

    #[test]
    fn json_lines_match_serde_json_for_every_value_and_label_order() {
        let text = "x{b=\"2\",a=\"\\\\\",t=\"tab\there \\\"q\\\" é\"} 0.1\nx{a=\"1\",b=\"cr\rtab\tlast\"} 2\n\
                    x 1e-9\nx -0\nx 123456789012\nx -Inf\nx 1.5e300 -5\n";
        let got = lines(LineFormat::Json, &[("n\"1", text)]);
        let families = parse(text).expect("valid");
        let expected: Vec<String> = families[0]
            .samples
            .iter()
            .map(|s| {
                let labels: serde_json::Map<String, serde_json::Value> =
                    s.labels.iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
                serde_json::json!({"node": "n\"1", "name": &*s.name, "labels": labels,
                    "value": crate::report::json::number(s.value), "timestamp_ms": s.timestamp_ms})
                .to_string()
            })
            .collect();
        assert_eq!(got.lines().collect::<Vec<_>>(), expected);
    }

    proptest::proptest! {
        #[test]
        fn control_characters_are_found_in_any_label_text(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            proptest::prop_assert_eq!(has_control(&bytes), bytes.iter().any(|&c| c < 0x20));
        }
    }

    #[test]
    fn yaml_and_template_records_carry_the_json_lines_objects() {
        let text = "x{a=\"1\"} 0.5\nx{a=\"2\"} +Inf\n";
        let json: Vec<serde_json::Value> = lines(LineFormat::Json, &[("n1", text)])
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        let yaml = lines(LineFormat::Document(DocumentFormat::Yaml), &[("n1", text)]);
        let back: Vec<serde_json::Value> = serde_norway::from_str(&yaml).expect("one YAML sequence");
        assert_eq!(back, json);
        let template =
            crate::report::document::Template::parse("{.node} {.labels.a} {.value}").expect("valid");
        let shown = lines(LineFormat::Document(DocumentFormat::JsonPath(template)), &[("n1", text)]);
        assert_eq!(shown, "n1 1 0.5\nn1 2 +Inf\n");
    }

    #[test]
    fn a_failed_node_is_marked_after_its_samples() {
        let failure = Failure { kind: FailureKind::Io, message: "body cut at line 3".into(), fix: None };
        let mut out = Vec::new();
        write_json_failure(&NodeId::node("n1"), &failure, &mut out);
        let line: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(line["node"], "n1");
        assert_eq!(line["error"]["kind"], "io");
        assert_eq!(line["error"]["message"], "body cut at line 3");
    }

    #[test]
    fn prom_merge_writes_what_label_by_node_writes() {
        let a = "# HELP x Doc.\n# TYPE x gauge\nx{node=\"old\",a=\"q\\\"\"} 1.5\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\ny 7 100\n";
        let b = "# HELP x Other doc.\n# TYPE x gauge\nx 2\nz{\"dotted.name\"=\"v\"} 0.25\n";
        let c = "y 1\n";
        let mut merge = PromMerge::new(Vec::new());
        // Committed out of name order, as nodes finish; small drains mix nodes in the store.
        let mut pending: Vec<PromNode> = Vec::new();
        for (node, text) in [("node-c", c), ("node-a", a), ("node-b", b)] {
            let mut parser = StreamVisitor::new(PromNode::new(NodeId::node(node)), Selector::all());
            for chunk in text.as_bytes().chunks(5) {
                parser.feed(chunk);
                parser.visitor().drain(merge.store()).expect("drain");
            }
            pending.push(parser.finish().0);
        }
        for node in pending {
            merge.commit(node).expect("commit");
        }
        let mut out = Vec::new();
        merge.write(&mut out).expect("write");

        let nodes: Vec<(&str, Vec<Family>)> =
            [("node-a", a), ("node-b", b), ("node-c", c)].map(|(n, t)| (n, parse(t).expect("valid"))).into();
        let nodes: Vec<(&str, &[Family])> = nodes.iter().map(|(n, f)| (*n, f.as_slice())).collect();
        let mut expected = Vec::new();
        crate::exposition::write(&crate::snapshot::label_by_node(&nodes), None, &mut expected)
            .expect("write");
        assert_eq!(String::from_utf8(out).expect("utf8"), String::from_utf8(expected).expect("utf8"));
    }

    #[test]
    fn prom_lines_of_one_payload_write_what_the_merge_writes() {
        let text = "# HELP x Doc.\n# TYPE x gauge\nx{node=\"old\",a=\"q\\\"\"} 1.5\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n# UNIT u seconds\nu 1e-9 100\n";
        let mut merge = PromMerge::new(Vec::new());
        merge.commit(feed(PromNode::new(NodeId::node("n1")), text, 5)).expect("commit");
        let mut merged = Vec::new();
        merge.write(&mut merged).expect("write");
        let streamed = feed(PromLines::new(&NodeId::node("n1")), text, 5).out;
        assert_eq!(String::from_utf8(streamed).expect("utf8"), String::from_utf8(merged).expect("utf8"));
    }

    #[test]
    fn prom_lines_keep_a_split_family_split_with_its_metadata_once() {
        // `x` resumes after `y`; its HELP arrives only with the resumed part.
        let text = "# TYPE x gauge\nx{a=\"1\"} 1\ny 2\n# HELP x Late doc.\nx{a=\"2\"} 3\n";
        let streamed = feed(PromLines::new(&NodeId::node("n1")), text, 4).out;
        let streamed = String::from_utf8(streamed).expect("utf8");
        assert_eq!(
            streamed,
            "# TYPE x gauge\nx{node=\"n1\",a=\"1\"} 1\ny{node=\"n1\"} 2\n# HELP x Late doc.\nx{node=\"n1\",a=\"2\"} 3\n"
        );
        // Read back, it is the payload with a `node` label: one family `x` with both samples.
        let nodes = [("n1", parse(text).expect("valid"))];
        let nodes: Vec<(&str, &[Family])> = nodes.iter().map(|(n, f)| (*n, f.as_slice())).collect();
        assert_eq!(parse(&streamed).expect("valid"), crate::snapshot::label_by_node(&nodes));
    }

    #[test]
    fn prom_merge_in_contexts_writes_what_label_by_context_writes() {
        let a = "# TYPE x gauge\nx{context=\"own\",node=\"old\"} 1\n";
        let b = "# TYPE x gauge\nx 2\ny 3\n";
        let mut merge = PromMerge::new(Vec::new());
        let nodes = [(1, "west", "n1", a), (0, "east", "n2", b), (0, "east", "n1", a)];
        for (rank, context, node, text) in nodes {
            let id = NodeId { context: Some((rank, context.to_string())), node: node.to_string() };
            merge.commit(feed(PromNode::new(id), text, 3)).expect("commit");
        }
        let mut out = Vec::new();
        merge.write(&mut out).expect("write");

        let (a, b) = (parse(a).expect("valid"), parse(b).expect("valid"));
        let east = crate::snapshot::label_by_node(&[("n1", &a), ("n2", &b)]);
        let west = crate::snapshot::label_by_node(&[("n1", &a)]);
        let mut expected = Vec::new();
        let families = crate::snapshot::label_by_context(&[("east", east), ("west", west)]);
        crate::exposition::write(&families, None, &mut expected).expect("write");
        assert_eq!(String::from_utf8(out).expect("utf8"), String::from_utf8(expected).expect("utf8"));
    }

    #[test]
    fn lines_in_contexts_carry_the_context_first() {
        let id = NodeId { context: Some((0, "prod".to_string())), node: "n1".to_string() };
        let json = feed(NodeLines::new(LineFormat::Json, &id), "x{a=\"1\"} 2\n", 4).out;
        let line: serde_json::Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(line["context"], "prod");
        assert_eq!(line["node"], "n1");
        assert_eq!(
            String::from_utf8(json).expect("utf8"),
            serde_json::to_string(&line).expect("json") + "\n",
            "keys sorted, as serde_json writes a map"
        );
        let csv = feed(NodeLines::new(LineFormat::Csv, &id), "x{a=\"1\"} 2\n", 4).out;
        assert_eq!(String::from_utf8(csv).expect("utf8"), "prod,n1,x,\"a=\"\"1\"\"\",2,\n");
        let failure = Failure { kind: FailureKind::Io, message: "cut".into(), fix: None };
        let mut out = Vec::new();
        write_json_failure(&id, &failure, &mut out);
        let line: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!((line["context"].as_str(), line["node"].as_str()), (Some("prod"), Some("n1")));
    }

    #[test]
    fn raw_records_quote_bodies() {
        let mut out = Vec::new();
        write_csv_record(&["node", "bytes", "body"], &mut out).expect("write");
        write_csv_record(&["n1", "3", "ok"], &mut out).expect("write");
        write_csv_record(&["n2", "4", "a,\"b\"\n"], &mut out).expect("write");
        insta::assert_snapshot!(String::from_utf8(out).expect("utf8"), @r#"
        node,bytes,body
        n1,3,ok
        n2,4,"a,""b""
        "
        "#);
    }
}
