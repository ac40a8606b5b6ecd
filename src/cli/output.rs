//! `-o/--output` of the commands that write a JSON document: one of the command's formats (a
//! `ValueEnum`), or `jsonpath=TEMPLATE` over that document, as `kubectl -o jsonpath=` does.

use std::ffi::OsStr;
use std::marker::PhantomData;

use clap::ValueEnum;
use clap::builder::{EnumValueParser, PossibleValue, TypedValueParser};
use clap::error::ErrorKind;

use crate::report::document::{DocumentFormat, Template};

/// What `-o` asked for.
#[derive(Debug, Clone)]
pub enum OutputArg<F> {
    /// One of the command's named formats.
    Format(F),
    /// `jsonpath=TEMPLATE`: what the template selects from the command's JSON document.
    JsonPath(Template),
}

impl<F: Copy + PartialEq> OutputArg<F> {
    /// The named format — `json` for a template, which selects from the JSON document — and
    /// how that command's document is written when the format is `json` or `yaml`.
    pub fn resolve(&self, json: F, yaml: F) -> (F, DocumentFormat) {
        match self {
            OutputArg::Format(format) if *format == yaml => (yaml, DocumentFormat::Yaml),
            OutputArg::Format(format) => (*format, DocumentFormat::Json),
            OutputArg::JsonPath(template) => (json, DocumentFormat::JsonPath(template.clone())),
        }
    }
}

/// Parses `-o` for a command whose named formats are `F`; its help lists them and
/// `jsonpath=TEMPLATE`.
#[derive(Debug)]
pub struct OutputParser<F>(PhantomData<fn() -> F>);

impl<F> Clone for OutputParser<F> {
    fn clone(&self) -> Self {
        OutputParser(PhantomData)
    }
}

impl<F> OutputParser<F> {
    /// The parser.
    pub fn new() -> Self {
        OutputParser(PhantomData)
    }
}

impl<F> Default for OutputParser<F> {
    fn default() -> Self {
        Self::new()
    }
}

/// The prefix of a template value.
const JSONPATH: &str = "jsonpath=";

impl<F: ValueEnum + Clone + Send + Sync + 'static> TypedValueParser for OutputParser<F> {
    type Value = OutputArg<F>;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        if let Some(template) = value.to_str().and_then(|text| text.strip_prefix(JSONPATH)) {
            return Template::parse(template).map(OutputArg::JsonPath).map_err(|e| {
                clap::Error::raw(ErrorKind::InvalidValue, format!("invalid -o jsonpath template: {e}\n"))
                    .with_cmd(cmd)
            });
        }
        EnumValueParser::<F>::new().parse_ref(cmd, arg, value).map(OutputArg::Format)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let named = F::value_variants().iter().filter_map(ValueEnum::to_possible_value);
        let template = PossibleValue::new("jsonpath=TEMPLATE").help(
            "What a kubectl-style template selects from the JSON document, e.g. jsonpath='{.cluster.mean}'",
        );
        Some(Box::new(named.chain(std::iter::once(template))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
    enum Format {
        Table,
        Json,
    }

    #[derive(Parser)]
    struct Wrapper {
        #[arg(short, value_parser = OutputParser::<Format>::new(), default_value = "table")]
        output: OutputArg<Format>,
    }

    fn parse(argv: &[&str]) -> Result<OutputArg<Format>, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("test").chain(argv.iter().copied())).map(|w| w.output)
    }

    #[test]
    fn named_formats_templates_and_mistakes() {
        assert!(matches!(parse(&[]), Ok(OutputArg::Format(Format::Table))));
        assert!(matches!(parse(&["-o", "json"]), Ok(OutputArg::Format(Format::Json))));
        let Ok(OutputArg::JsonPath(template)) = parse(&["-o", "jsonpath={.a}"]) else { panic!("template") };
        assert_eq!(template.as_str(), "{.a}");
        let err = parse(&["-o", "jsonpath={.a"]).expect_err("unclosed");
        assert!(err.to_string().contains("unclosed"), "{err}");
        let err = parse(&["-o", "yml"]).expect_err("unknown");
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
    }
}
