//! Families → exposition text (format 0.0.4): HELP / TYPE / UNIT kept, escapes redone, values in
//! the spellings Prometheus reads back exactly, and an optional extra label (e.g. `node="n1"`).

use std::io::{self, Write};

use super::{Family, FamilyHead, MetricKind, SampleRef};

/// Writes `families` as exposition text.
///
/// `extra_label` is injected first in every sample's label set. A sample that already has a
/// label of that name keeps its value under `exported_<name>`, as Prometheus does when it
/// attaches target labels (`honor_labels: false`).
///
/// ```
/// use kubelet_metrics::exposition::{parse, write};
/// let families = parse("# HELP x Doc.\n# TYPE x gauge\nx{a=\"q\\\"\"} 1.5\n").unwrap();
/// let mut out = Vec::new();
/// write(&families, Some(("node", "n1")), &mut out).unwrap();
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     "# HELP x Doc.\n# TYPE x gauge\nx{node=\"n1\",a=\"q\\\"\"} 1.5\n"
/// );
/// ```
pub fn write(families: &[Family], extra_label: Option<(&str, &str)>, out: &mut impl Write) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let exported = extra_label.map(|(name, _)| format!("exported_{name}"));
    for family in families {
        write_family(family, extra_label, exported.as_deref(), &mut buf);
        if buf.len() >= 32 * 1024 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)
}

/// Labels injected first in every sample's label set written by [`write_sample`], e.g.
/// `node="n1"` (or `context="prod",node="n1"`), rendered once. A sample's own label of one of
/// these names is kept as `exported_<name>`, as Prometheus does when it attaches target labels.
#[derive(Debug, Clone)]
pub struct Injected {
    names: Vec<String>,
    /// `name="value",...` as written.
    rendered: Vec<u8>,
    /// `,name="` of each name: in a plain label set, a label of that name starts with it (a
    /// value cannot hold an unescaped `"`).
    clashes: Vec<memchr::memmem::Finder<'static>>,
}

impl Injected {
    /// The labels `labels`, in this order.
    pub fn new(labels: &[(&str, &str)]) -> Injected {
        let mut rendered = Vec::new();
        for (k, (name, value)) in labels.iter().enumerate() {
            if k > 0 {
                rendered.push(b',');
            }
            write_label(name, value, &mut rendered);
        }
        Injected {
            names: labels.iter().map(|(name, _)| (*name).to_string()).collect(),
            rendered,
            clashes: labels
                .iter()
                .map(|(name, _)| memchr::memmem::Finder::new(format!(",{name}=\"").as_bytes()).into_owned())
                .collect(),
        }
    }

    /// Whether `sample`'s plain label text `labels` holds a label named like an injected one.
    #[inline]
    fn clashes_with(&self, sample: &SampleRef<'_>, labels: &[u8]) -> bool {
        self.names.iter().zip(&self.clashes).any(|(name, finder)| {
            // The parser's filter of label names rules out almost every sample without a search.
            sample.may_have_label(name.as_bytes()) && {
                let needle = finder.needle();
                labels.starts_with(&needle[1..]) || finder.find(labels).is_some()
            }
        })
    }
}

/// Writes one sample seen in place as an exposition line, with `injected` first in its label
/// set: the name, the labels and the value as sent (a label already named like an injected one
/// is kept as `exported_<name>`; blanks and a trailing comma in the label set are dropped), and
/// the timestamp in milliseconds. Label values are copied as sent: their escapes are the ones
/// the writer would redo; so is the value's spelling, which reads back as the same number.
///
/// ```
/// use kubelet_metrics::exposition::{parse_line, write_sample, Injected, Line};
/// let Ok(Line::Sample(sample)) = parse_line(br#"x{node="old", a="q\""} 1.50"#) else { panic!() };
/// let mut out = Vec::new();
/// write_sample(&sample, &Injected::new(&[("node", "n1")]), &mut out);
/// assert_eq!(out, b"x{node=\"n1\",exported_node=\"old\",a=\"q\\\"\"} 1.50\n");
/// ```
#[inline]
pub fn write_sample(sample: &SampleRef<'_>, injected: &Injected, buf: &mut Vec<u8>) {
    if sample.bare_name() || is_legacy_name(sample.name) {
        buf.extend_from_slice(sample.name.as_bytes());
        buf.push(b'{');
    } else {
        buf.push(b'{');
        write_name(sample.name, buf);
        buf.push(b',');
    }
    buf.extend_from_slice(&injected.rendered);
    match sample.plain_labels() {
        Some([]) => {}
        Some(labels) if !injected.clashes_with(sample, labels) => {
            buf.push(b',');
            buf.extend_from_slice(labels);
        }
        _ => write_raw_labels(sample, injected, buf),
    }
    buf.extend_from_slice(b"} ");
    buf.extend_from_slice(sample.raw_value());
    if let Some(ts) = sample.timestamp_ms {
        buf.push(b' ');
        buf.extend_from_slice(itoa::Buffer::new().format(ts).as_bytes());
    }
    buf.push(b'\n');
}

/// A sample's labels one by one, each after a comma: names quoted when they must be, renamed
/// `exported_<name>` when injected labels take their name.
fn write_raw_labels(sample: &SampleRef<'_>, injected: &Injected, buf: &mut Vec<u8>) {
    for (name, value) in sample.raw_labels() {
        buf.push(b',');
        if injected.names.iter().any(|injected| injected.as_bytes() == name) {
            buf.extend_from_slice(b"exported_");
        }
        if name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
            && !name.first().is_some_and(u8::is_ascii_digit)
        {
            buf.extend_from_slice(name);
        } else {
            buf.push(b'"');
            buf.extend_from_slice(name);
            buf.push(b'"');
        }
        buf.extend_from_slice(b"=\"");
        buf.extend_from_slice(value);
        buf.push(b'"');
    }
}

/// The TYPE word for a kind.
pub fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
        MetricKind::Histogram => "histogram",
        MetricKind::Summary => "summary",
        MetricKind::Untyped => "untyped",
        MetricKind::GaugeHistogram => "gaugehistogram",
        MetricKind::Info => "info",
        MetricKind::StateSet => "stateset",
    }
}

/// Writes a family's metadata lines: HELP (when it has text), TYPE (unless untyped), UNIT (when
/// it has one), as [`write()`] writes them before the family's samples.
///
/// ```
/// use kubelet_metrics::exposition::{write_head, FamilyHead, MetricKind};
/// let head = FamilyHead { name: "x".into(), help: "Doc.".into(), kind: MetricKind::Gauge, unit: String::new() };
/// let mut out = Vec::new();
/// write_head(&head, &mut out);
/// assert_eq!(out, b"# HELP x Doc.\n# TYPE x gauge\n");
/// ```
pub fn write_head(head: &FamilyHead, buf: &mut Vec<u8>) {
    write_metadata(&head.name, &head.help, head.kind, &head.unit, buf);
}

/// A `# HELP name text` line.
pub(crate) fn write_help(name: &str, help: &str, buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"# HELP ");
    write_name(name, buf);
    buf.push(b' ');
    escape_into(help, false, buf);
    buf.push(b'\n');
}

fn write_metadata(name: &str, help: &str, kind: MetricKind, unit: &str, buf: &mut Vec<u8>) {
    if !help.is_empty() {
        write_help(name, help, buf);
    }
    if kind != MetricKind::Untyped {
        buf.extend_from_slice(b"# TYPE ");
        write_name(name, buf);
        buf.push(b' ');
        buf.extend_from_slice(kind_name(kind).as_bytes());
        buf.push(b'\n');
    }
    if !unit.is_empty() {
        buf.extend_from_slice(b"# UNIT ");
        write_name(name, buf);
        buf.push(b' ');
        buf.extend_from_slice(unit.as_bytes());
        buf.push(b'\n');
    }
}

fn write_family(family: &Family, extra: Option<(&str, &str)>, exported: Option<&str>, buf: &mut Vec<u8>) {
    write_metadata(&family.name, &family.help, family.kind, &family.unit, buf);
    for sample in &family.samples {
        // A UTF-8 name (Prometheus 3) goes quoted inside the label set: `{"a.b",x="1"}`.
        let quoted = !is_legacy_name(&sample.name);
        if !quoted {
            buf.extend_from_slice(sample.name.as_bytes());
        }
        if quoted || !sample.labels.is_empty() || extra.is_some() {
            buf.push(b'{');
            let mut first = true;
            if quoted {
                write_name(&sample.name, buf);
                first = false;
            }
            if let Some((name, value)) = extra {
                if !first {
                    buf.push(b',');
                }
                write_label(name, value, buf);
                first = false;
            }
            for (name, value) in sample.labels.iter() {
                if !first {
                    buf.push(b',');
                }
                first = false;
                let name = match (extra, exported) {
                    (Some((extra_name, _)), Some(exported)) if name == extra_name => exported,
                    _ => name,
                };
                write_label(name, value, buf);
            }
            buf.push(b'}');
        }
        buf.push(b' ');
        push_value(sample.value, buf);
        if let Some(ts) = sample.timestamp_ms {
            buf.push(b' ');
            let _ = write!(buf, "{ts}");
        }
        buf.push(b'\n');
    }
}

/// A metric name as written: bare when it is a legacy name, else quoted (Prometheus 3).
fn write_name(name: &str, buf: &mut Vec<u8>) {
    if is_legacy_name(name) {
        buf.extend_from_slice(name.as_bytes());
    } else {
        buf.push(b'"');
        escape_into(name, true, buf);
        buf.push(b'"');
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`: a name that needs no quotes.
fn is_legacy_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

fn write_label(name: &str, value: &str, buf: &mut Vec<u8>) {
    if is_legacy_name(name) && !name.contains(':') {
        buf.extend_from_slice(name.as_bytes());
    } else {
        buf.push(b'"');
        escape_into(name, true, buf);
        buf.push(b'"');
    }
    buf.extend_from_slice(b"=\"");
    escape_into(value, true, buf);
    buf.push(b'"');
}

/// Escapes `\` and newline (and `"` in label values).
fn escape_into(text: &str, quote: bool, buf: &mut Vec<u8>) {
    for &c in text.as_bytes() {
        match c {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'"' if quote => buf.extend_from_slice(b"\\\""),
            c => buf.push(c),
        }
    }
}

/// Formats a value as the exposition format spells it: `NaN`, `+Inf`, `-Inf`, or the shortest
/// text that reads back as the same `f64`.
///
/// ```
/// use kubelet_metrics::exposition::format_value;
/// assert_eq!(format_value(f64::INFINITY), "+Inf");
/// assert_eq!(format_value(2_592_000.0), "2592000");
/// assert_eq!(format_value(1e-9), "1e-9");
/// assert_eq!(format_value(0.25), "0.25");
/// ```
pub fn format_value(value: f64) -> String {
    let mut buf = Vec::new();
    push_value(value, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

pub(crate) fn push_value(value: f64, buf: &mut Vec<u8>) {
    // Writing into a `Vec` cannot fail, so the `write!` results are ignored.
    if value.is_nan() {
        buf.extend_from_slice(b"NaN");
    } else if value == f64::INFINITY {
        buf.extend_from_slice(b"+Inf");
    } else if value == f64::NEG_INFINITY {
        buf.extend_from_slice(b"-Inf");
    } else if value.fract() == 0.0 && value.abs() < 1e15 && !(value == 0.0 && value.is_sign_negative()) {
        // Most kubelet values are counts: exactly an integer below 2^53, printed as one.
        buf.extend_from_slice(itoa::Buffer::new().format(value as i64).as_bytes());
    } else {
        let abs = value.abs();
        // Rust's `{}` never uses an exponent; keep huge and tiny numbers short with `{:e}`.
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            let _ = write!(buf, "{value:e}");
        } else {
            let _ = write!(buf, "{value}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::Sample;

    fn family(kind: MetricKind, samples: Vec<Sample>) -> Family {
        Family { name: "x".into(), help: "a\\b\nc".into(), kind, unit: String::new(), samples }
    }

    #[test]
    fn escapes_and_existing_label_renamed() {
        let s = Sample {
            name: "x".into(),
            labels: [("node", "old"), ("v", "q\"\\\n")].into_iter().collect(),
            value: f64::NEG_INFINITY,
            timestamp_ms: Some(-5),
        };
        let mut out = Vec::new();
        write(&[family(MetricKind::Gauge, vec![s])], Some(("node", "n")), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# HELP x a\\\\b\\nc\n# TYPE x gauge\nx{node=\"n\",exported_node=\"old\",v=\"q\\\"\\\\\\n\"} -Inf -5\n"
        );
    }

    /// `text`'s one sample written with `node="n1"` injected.
    fn injected(text: &str) -> String {
        let Ok(crate::exposition::Line::Sample(sample)) = crate::exposition::parse_line(text.as_bytes())
        else {
            panic!("{text} is a sample line")
        };
        let mut out = Vec::new();
        write_sample(&sample, &Injected::new(&[("node", "n1")]), &mut out);
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn a_sample_keeps_its_labels_and_value_as_sent_and_its_label_set_in_written_form() {
        // Plain label sets are copied; a value that merely mentions `,node="` is no clash.
        assert_eq!(injected(r#"x{a="1",b="2"} 2.592e+06"#), "x{node=\"n1\",a=\"1\",b=\"2\"} 2.592e+06\n");
        assert_eq!(injected(r#"x{a="v,node=\"q\""} 1"#), "x{node=\"n1\",a=\"v,node=\\\"q\\\"\"} 1\n");
        assert_eq!(injected("x 1 -5"), "x{node=\"n1\"} 1 -5\n");
        assert_eq!(injected("x{} NaN"), "x{node=\"n1\"} NaN\n");
        // Blanks, a trailing comma, a quoted name that needs no quotes: written as write() would.
        assert_eq!(injected(r#"x{ a = "1" , "b"="2", } 1"#), "x{node=\"n1\",a=\"1\",b=\"2\"} 1\n");
        assert_eq!(injected(r#"x{"a.b"="1"} 1"#), "x{node=\"n1\",\"a.b\"=\"1\"} 1\n");
        // The payload's own `node` label, first or later, is kept as `exported_node`.
        assert_eq!(injected(r#"x{node="a",b="2"} 1"#), "x{node=\"n1\",exported_node=\"a\",b=\"2\"} 1\n");
        assert_eq!(injected(r#"x{b="2",node="a"} 1"#), "x{node=\"n1\",b=\"2\",exported_node=\"a\"} 1\n");
        assert_eq!(injected(r#"x{nodes="a"} 1"#), "x{node=\"n1\",nodes=\"a\"} 1\n");
        // Past the parser's label-name filter (more than 32 labels), a clash is still found.
        let many: Vec<String> = (0..40).map(|k| format!("l{k}=\"{k}\"")).collect();
        let many = many.join(",");
        assert_eq!(
            injected(&format!("x{{{many},node=\"a\"}} 1")),
            format!("x{{node=\"n1\",{many},exported_node=\"a\"}} 1\n")
        );
        // OpenMetrics seconds become milliseconds, as the text format 0.0.4 has them.
        assert_eq!(injected("x 1 1700000000.5"), "x{node=\"n1\"} 1 1700000000500\n");
    }

    #[test]
    fn values_read_back_exactly() {
        for v in [0.1, 1e21, 1.7976931348623157e308, 5e-324, -0.0, 123456789.123, 1e-7, 9.999999999999999e-06]
        {
            let text = format_value(v);
            assert_eq!(text.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{text}");
        }
        assert_eq!(format_value(f64::NAN), "NaN");
    }
}
