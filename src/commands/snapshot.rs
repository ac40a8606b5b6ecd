//! `snapshot`: save the histograms a later `histogram --baseline` compares against, as
//! exposition text with a `node` label (see `crate::snapshot`).

use std::io::Write;

use anyhow::Context;

use super::{Outcome, Terminals, collect_options, report_problems};
use crate::cli::settings::SnapshotSettings;
use crate::snapshot::label_by_node;
use crate::source::gather;

/// Runs `snapshot`.
pub async fn run(
    settings: &SnapshotSettings,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    let options = collect_options(terminals);
    let gathered = gather(&settings.source, settings.endpoint.path(), &settings.selector, &options).await?;
    report_problems(&gathered, err)?;
    if gathered.scrapes.is_empty()
        && let Some(why) = settings.source.nothing_found()
    {
        writeln!(err, "{why}")?;
    }

    let nodes = crate::scrape::answered(&gathered.scrapes);
    let families = label_by_node(&nodes);
    let mut text = Vec::new();
    writeln!(text, "# kubelet-metrics snapshot of {} node(s) via {}", nodes.len(), gathered.method)?;
    crate::exposition::write(&families, None, &mut text)?;
    if settings.output.as_os_str() == "-" {
        out.write_all(&text)?;
    } else {
        std::fs::write(&settings.output, &text)
            .with_context(|| format!("cannot write snapshot {}", settings.output.display()))?;
        writeln!(err, "saved {} node(s) to {}", nodes.len(), settings.output.display())?;
    }
    Ok(Outcome::from_scrapes(&gathered.scrapes))
}
