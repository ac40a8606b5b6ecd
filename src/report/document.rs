//! A command's JSON document written the ways kubectl writes objects: as JSON, as YAML, or
//! through a `jsonpath=` template. What the document holds is each renderer's business
//! ([`super::json`], [`super::doctor`], [`super::compare`]); this module only writes it.
//!
//! Templates follow `kubectl -o jsonpath=`: text outside braces is printed as it is, `{.path}`
//! prints what the path selects (strings without quotes, other values as compact JSON, several
//! results separated by spaces), and `{"\n"}` prints a quoted literal. Paths are RFC 9535
//! JSONPath (`serde_json_path`) with kubectl's leading `$` optional; kubectl's `{range}` and
//! `{end}` are not supported (`[*]` selects every element instead).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;
use serde_json_path::JsonPath;

/// How a document is written.
#[derive(Debug, Clone)]
pub enum DocumentFormat {
    /// Pretty-printed JSON and a newline.
    Json,
    /// YAML (one document).
    Yaml,
    /// What a `jsonpath=` template selects.
    JsonPath(Template),
}

/// A parsed `-o jsonpath=` template.
#[derive(Debug, Clone)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Path(JsonPath),
}

/// Why a template cannot be used: the message names the offending piece.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

impl Template {
    /// Parses a template: `{.nodes[*].node}`, `{.cluster.mean}{"\n"}`, or a bare RFC 9535
    /// path such as `$.nodes[0].count`.
    ///
    /// ```
    /// use kubelet_metrics::report::document::Template;
    /// let template = Template::parse(r#"mean {.cluster.mean}{"\n"}"#).expect("valid");
    /// let document = serde_json::json!({"cluster": {"mean": 5.98}});
    /// assert_eq!(template.render(&document), "mean 5.98\n");
    /// assert!(Template::parse("{range .nodes[*]}{.node}{end}").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        if text.trim().is_empty() {
            return Err(TemplateError("the jsonpath template is empty".into()));
        }
        if text.starts_with('$') {
            return Ok(Template { text: text.to_string(), parts: vec![Part::Path(path(text)?)] });
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| TemplateError(format!("unclosed `{{` in {text:?}")))?;
            parts.push(expression(after[..close].trim())?);
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(TemplateError(format!("`}}` without `{{` in {text:?}")));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { text: text.to_string(), parts })
    }

    /// The template as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the template selects from `document`; a path that selects nothing prints nothing.
    pub fn render(&self, document: &Value) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Path(path) => {
                    let values: Vec<String> = path.query(document).all().into_iter().map(plain).collect();
                    out.push_str(&values.join(" "));
                }
            }
        }
        out
    }
}

/// One `{...}`: a quoted literal or a path.
fn expression(inner: &str) -> Result<Part, TemplateError> {
    if let Some(quoted) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Ok(Part::Text(unescape(quoted)));
    }
    let keyword = inner.split_whitespace().next().unwrap_or_default();
    if keyword == "range" || keyword == "end" {
        return Err(TemplateError(format!(
            "{{{keyword}}} is not supported; select every element with [*], e.g. {{.nodes[*].node}}"
        )));
    }
    if inner.starts_with('$') {
        return path(inner).map(Part::Path);
    }
    if inner.starts_with('.') || inner.starts_with('[') {
        return path(&format!("${inner}")).map(Part::Path);
    }
    Err(TemplateError(format!("{{{inner}}} is neither a path (starting with `.`) nor a quoted text")))
}

fn path(text: &str) -> Result<JsonPath, TemplateError> {
    JsonPath::parse(text).map_err(|e| TemplateError(format!("{text:?} is not a JSONPath: {e}")))
}

/// `\n`, `\t`, `\"` and `\\` in a quoted literal, as kubectl reads them.
fn unescape(quoted: &str) -> String {
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// A string without its quotes, anything else as compact JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Writes `document` in `format`. A template's output ends with a newline unless it ends with
/// one already, so the shell prompt does not follow it on the same line.
pub fn write<T: Serialize>(document: &T, format: &DocumentFormat, out: &mut impl Write) -> io::Result<()> {
    match format {
        DocumentFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, document)?;
            writeln!(out)
        }
        DocumentFormat::Yaml => serde_norway::to_writer(&mut *out, document).map_err(io::Error::other),
        DocumentFormat::JsonPath(template) => {
            let value = serde_json::to_value(document).map_err(io::Error::other)?;
            let text = template.render(&value);
            out.write_all(text.as_bytes())?;
            if text.ends_with('\n') { Ok(()) } else { writeln!(out) }
        }
    }
}

/// Writes one record of a stream (`get`'s samples): a JSON line, one item of a YAML sequence,
/// or one line from the template.
pub fn write_record<T: Serialize>(
    record: &T,
    format: &DocumentFormat,
    out: &mut (impl Write + ?Sized),
) -> io::Result<()> {
    match format {
        DocumentFormat::Json => {
            serde_json::to_writer(&mut *out, record)?;
            out.write_all(b"\n")
        }
        DocumentFormat::Yaml => serde_norway::to_writer(&mut *out, &[record]).map_err(io::Error::other),
        DocumentFormat::JsonPath(template) => {
            let value = serde_json::to_value(record).map_err(io::Error::other)?;
            let text = template.render(&value);
            out.write_all(text.as_bytes())?;
            if text.ends_with('\n') { Ok(()) } else { out.write_all(b"\n") }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn written(document: &Value, format: &DocumentFormat) -> String {
        let mut out = Vec::new();
        write(document, format, &mut out).expect("written");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn yaml_keeps_the_json_shape() {
        let document = json!({"metric": "m", "nodes": [{"node": "n1", "count": 74}], "errors": []});
        let yaml = written(&document, &DocumentFormat::Yaml);
        // serde_json's map keeps keys sorted, as the JSON output does.
        insta::assert_snapshot!(yaml, @r"
        errors: []
        metric: m
        nodes:
        - count: 74
          node: n1
        ");
        let back: Value = serde_norway::from_str(&yaml).expect("YAML parses back");
        assert_eq!(back, document);
    }

    #[test]
    fn templates_print_selections_like_kubectl() {
        let document = json!({"nodes": [{"node": "a", "mean": 1.5}, {"node": "b", "mean": 2}]});
        let render = |text: &str| Template::parse(text).expect("valid").render(&document);
        // Several results are separated by spaces; strings lose their quotes.
        assert_eq!(render("{.nodes[*].node}"), "a b");
        assert_eq!(render(r#"{.nodes[0].node}{"\t"}{.nodes[0].mean}"#), "a\t1.5");
        assert_eq!(render("$.nodes[1].mean"), "2");
        assert_eq!(render("{$.nodes[?@.mean > 1.9].node}"), "b");
        assert_eq!(render("none: {.missing}"), "none: ");
        assert_eq!(render("{.nodes[1]}"), r#"{"mean":2,"node":"b"}"#);
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        for (text, expected) in [
            ("{.nodes", "unclosed"),
            ("{range .nodes[*]}{.node}{end}", "not supported"),
            ("{nodes}", "neither a path"),
            ("{.nodes[}", "not a JSONPath"),
            ("", "empty"),
            ("a}", "without"),
        ] {
            let err = Template::parse(text).expect_err(text);
            assert!(err.to_string().contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn a_template_ends_its_output_with_one_newline() {
        let document = json!({"a": "x"});
        let template = |t: &str| DocumentFormat::JsonPath(Template::parse(t).expect("valid"));
        assert_eq!(written(&document, &template("{.a}")), "x\n");
        assert_eq!(written(&document, &template(r#"{.a}{"\n"}"#)), "x\n");
    }

    #[test]
    fn records_stream_as_lines_or_sequence_items() {
        let mut out = Vec::new();
        for node in ["a", "b"] {
            write_record(&json!({"node": node}), &DocumentFormat::Yaml, &mut out).expect("written");
        }
        assert_eq!(String::from_utf8(out).expect("utf-8"), "- node: a\n- node: b\n");
    }
}
