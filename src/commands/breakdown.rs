//! `breakdown`: read every node's `/metrics`, break pod starts down into their stages, render.

use std::io::Write;

use super::{Outcome, Terminals, collect_options};
use crate::access::Endpoint;
use crate::analysis::breakdown::{breakdown, selector};
use crate::cli::{BreakdownOutput, BreakdownSettings};
use crate::report;
use crate::source::gather;

/// Runs `breakdown`.
pub async fn run(
    settings: &BreakdownSettings,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    let options = collect_options(terminals);
    let gathered = gather(&settings.source, Endpoint::Metrics.path(), &selector(), &options).await?;
    super::report_warnings(&gathered, err)?;
    if let Some(why) = settings.source.nothing_found_in(&gathered.scrapes) {
        writeln!(err, "{why}")?;
        return Ok(Outcome::AllFailed);
    }
    let result = breakdown(&gathered.scrapes, &settings.quantiles);
    if !result.errors.is_empty() {
        let failed: Vec<&str> = result.errors.iter().map(|e| e.node.as_str()).collect();
        let place = match settings.output {
            BreakdownOutput::Table | BreakdownOutput::Wide => "the list under the table says why",
            BreakdownOutput::Json | BreakdownOutput::Yaml => "`errors` in the document says why",
            BreakdownOutput::Csv => "the error rows say why",
        };
        writeln!(
            err,
            "error: {} of {} nodes have no breakdown ({}); {place}",
            failed.len(),
            gathered.scrapes.len(),
            crate::text::bounded_names(&failed)
        )?;
    }
    let mut out = &mut *out;
    match settings.output {
        BreakdownOutput::Table | BreakdownOutput::Wide => report::breakdown::table(
            &result,
            settings.output == BreakdownOutput::Wide,
            settings.headers,
            &mut out,
        )?,
        BreakdownOutput::Json | BreakdownOutput::Yaml => {
            report::breakdown::document(&result, &settings.document, &mut out)?
        }
        BreakdownOutput::Csv => report::breakdown::csv(&result, &mut out)?,
    }
    out.flush()?;
    Ok(Outcome::from_counts(gathered.scrapes.len(), result.errors.len()))
}
