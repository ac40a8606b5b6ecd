//! `snapshot`: save the histograms a later `histogram --baseline` compares against, as
//! exposition text with a `node` label (see `crate::snapshot`).

use std::io::Write;

use anyhow::Context;

use super::{Outcome, Terminals, collect_options, report_problems};
use crate::catalog::{POD_START_DURATION, POD_START_SLI_DURATION};
use crate::cli::SnapshotArgs;
use crate::cli::settings::histogram_selector;
use crate::exposition::Selector;
use crate::snapshot::label_by_node;
use crate::source::gather;

/// Runs `snapshot`.
pub async fn run(
    args: &SnapshotArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    let plan = args.source.to_plan()?;
    let metrics: Vec<String> = if args.metrics.is_empty() {
        vec![POD_START_DURATION.to_string(), POD_START_SLI_DURATION.to_string()]
    } else {
        args.metrics.clone()
    };
    let selector = Selector::any_of(
        metrics
            .iter()
            .map(|m| histogram_selector(m).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?,
    );
    let gathered = gather(&plan, args.endpoint.path(), &selector, &collect_options(terminals)).await?;
    report_problems(&gathered, err)?;

    let nodes = crate::scrape::answered(&gathered.scrapes);
    let families = label_by_node(&nodes);
    let mut text = Vec::new();
    writeln!(text, "# kubelet-metrics snapshot of {} node(s) via {}", nodes.len(), gathered.method)?;
    crate::exposition::write(&families, None, &mut text)?;
    if args.output.as_os_str() == "-" {
        out.write_all(&text)?;
    } else {
        std::fs::write(&args.output, &text)
            .with_context(|| format!("cannot write snapshot {}", args.output.display()))?;
        writeln!(err, "saved {} node(s) to {}", nodes.len(), args.output.display())?;
    }
    Ok(Outcome::from_scrapes(&gathered.scrapes))
}
