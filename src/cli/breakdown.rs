//! `breakdown`: its flags, and their validation into [`BreakdownSettings`].

use clap::{Args, ValueEnum};

use super::output::{OutputArg, OutputParser};
use super::{SourceArgs, UsageError};
use crate::report::document::DocumentFormat;
use crate::source::SourcePlan;
use crate::units::parse_quantile;

/// Arguments of `breakdown`.
#[derive(Debug, Clone, Args)]
pub struct BreakdownArgs {
    /// Where the metrics come from: a cluster (through the proxy or directly) or saved
    /// `/metrics` payloads.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Quantiles to estimate, comma-separated, each in [0, 1].
    #[arg(long, value_delimiter = ',', default_values_t = [0.5, 0.99], value_parser = parse_quantile)]
    pub quantiles: Vec<f64>,
    /// Output format.
    #[arg(long, short = 'o', value_parser = OutputParser::<BreakdownOutput>::new(), default_value = "table", value_name = "FORMAT")]
    pub output: OutputArg<BreakdownOutput>,
    /// Leave out the header row of the table.
    #[arg(long)]
    pub no_headers: bool,
}

/// Output formats of `breakdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BreakdownOutput {
    /// One table: the cluster's stages, then each node's; the slowest phase marked.
    Table,
    /// The table with the sum and largest bucket of every row, and the PromQL of the cluster rows.
    Wide,
    /// One JSON document with every number's PromQL.
    Json,
    /// The JSON document as YAML.
    Yaml,
    /// One CSV row per node (or cluster), stage and label value.
    Csv,
}

/// `breakdown`, validated.
#[derive(Debug, Clone)]
pub struct BreakdownSettings {
    /// Where the metrics come from (one cluster or files).
    pub source: SourcePlan,
    /// The quantiles, in the order given.
    pub quantiles: Vec<f64>,
    /// `--output`.
    pub output: BreakdownOutput,
    /// How the document is written for `-o json`, `-o yaml` and `-o jsonpath=`.
    pub document: DocumentFormat,
    /// Whether the table has its header row.
    pub headers: bool,
}

impl BreakdownArgs {
    /// Validates `breakdown`'s flags, every problem together.
    pub fn settings(&self) -> Result<BreakdownSettings, UsageError> {
        let mut problems = Vec::new();
        let plan = self.source.to_plan().map_err(|e| problems.extend(e.problems));
        match &plan {
            Ok(SourcePlan::Prometheus(_)) => problems.push(
                "breakdown splits each histogram by its label (image size, runtime handler, operation), \
                 which --prometheus does not keep (it sums series by node and le); use a cluster or --file"
                    .into(),
            ),
            Ok(SourcePlan::Fleet(_)) => problems.push(
                "breakdown reads one cluster at a time; several --context or --all-contexts are for histogram \
                 and get"
                    .into(),
            ),
            _ => {}
        }
        if self.quantiles.is_empty() {
            problems.push("--quantiles needs at least one quantile".into());
        }
        let Ok(source) = plan else { return Err(UsageError { problems }) };
        UsageError::check(problems)?;
        let (output, document) = self.output.resolve(BreakdownOutput::Json, BreakdownOutput::Yaml);
        Ok(BreakdownSettings {
            source,
            quantiles: self.quantiles.clone(),
            output,
            document,
            headers: !self.no_headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};

    fn settings(argv: &[&str]) -> Result<super::BreakdownSettings, super::UsageError> {
        let cli = Cli::try_parse_from(std::iter::once("kubelet-metrics").chain(argv.iter().copied()))
            .expect("parses");
        let Command::Breakdown(args) = cli.command else { panic!("breakdown") };
        args.settings()
    }

    #[test]
    fn prometheus_and_several_clusters_are_refused_with_why() {
        let err = settings(&["breakdown", "--prometheus", "http://127.0.0.1:9090"]).expect_err("refused");
        assert!(err.problems[0].contains("does not keep"), "{:?}", err.problems);
        let err = settings(&["breakdown", "--context", "a", "--context", "b"]).expect_err("refused");
        assert!(err.problems[0].contains("one cluster at a time"), "{:?}", err.problems);
    }

    #[test]
    fn files_and_quantiles_are_accepted() {
        let settings =
            settings(&["breakdown", "--file", "n1.prom", "--quantiles", "0.9", "-o", "yaml"]).expect("valid");
        assert_eq!(settings.quantiles, [0.9]);
        assert_eq!(settings.output, super::BreakdownOutput::Yaml);
    }
}
