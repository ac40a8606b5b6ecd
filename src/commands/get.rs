//! `get`: one kubelet endpoint from every selected node, filtered by `-m`, with a `node` label
//! added — the cluster-wide `kubectl get --raw | grep`.

use std::io::Write;

use super::{Outcome, Terminals, collect_options, report_problems, write_failures};
use crate::cli::GetOutput;
use crate::cli::settings::{GetRead, GetSettings};
use crate::collect::Options;
use crate::exposition;
use crate::report::samples;
use crate::snapshot::label_by_node;
use crate::source::SourcePlan;
use crate::source::gather;

/// Runs `get`.
pub async fn run(
    settings: &GetSettings,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    let options = collect_options(terminals);
    let (plan, path) = (&settings.source, settings.path.as_str());
    let selector = match &settings.read {
        GetRead::Exposition(selector) => selector,
        GetRead::Raw => return run_raw(plan, path, settings, out, err, &options).await,
    };
    let gathered = gather(plan, path, selector, &options).await?;
    report_problems(&gathered, err)?;
    if gathered.scrapes.is_empty()
        && let Some(why) = plan.nothing_found()
    {
        writeln!(err, "{why}")?;
    }

    let nodes = crate::scrape::answered(&gathered.scrapes);
    if !selector.is_all()
        && !nodes.is_empty()
        && nodes.iter().all(|(_, families)| families.iter().all(|f| f.samples.is_empty()))
    {
        writeln!(
            err,
            "warning: -m {selector} matched nothing on the {} node(s) that answered; list the names with `kubelet-metrics get | grep -v '^#' | cut -d'{{' -f1 | sort -u`",
            nodes.len()
        )?;
    }
    match settings.output {
        GetOutput::Prom => exposition::write(&label_by_node(&nodes), None, &mut &mut *out)?,
        GetOutput::Json | GetOutput::Yaml => samples::write_records(&nodes, &settings.document, out)?,
        GetOutput::Csv => samples::write_csv(&nodes, out)?,
    }
    out.flush()?;
    Ok(Outcome::from_scrapes(&gathered.scrapes))
}

/// `get --path` for a path that is not exposition text (`/healthz`, `/pods`, `/configz`):
/// each node's body as sent, one line per node when it is one line, else a block per node.
async fn run_raw(
    plan: &SourcePlan,
    path: &str,
    settings: &GetSettings,
    out: &mut dyn Write,
    err: &mut dyn Write,
    options: &Options,
) -> anyhow::Result<Outcome> {
    let SourcePlan::Cluster(cluster) = plan else {
        anyhow::bail!("--path {path} reads a cluster");
    };
    let collection = crate::collect::collect_raw(cluster, path, options).await?;
    for warning in &collection.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    let output = settings.output;
    if output == GetOutput::Csv {
        samples::write_csv_record(&["node", "bytes", "body"], out)?;
    }
    for node in &collection.scrapes {
        let Ok(body) = &node.outcome else { continue };
        let body = String::from_utf8_lossy(body);
        match output {
            GetOutput::Json | GetOutput::Yaml => {
                let line =
                    serde_json::json!({"node": node.node, "path": path, "bytes": body.len(), "body": body});
                crate::report::document::write_record(&line, &settings.document, out)?;
            }
            GetOutput::Csv => {
                samples::write_csv_record(&[&node.node, &body.len().to_string(), &body], out)?;
            }
            GetOutput::Prom if body.trim_end().contains('\n') => {
                writeln!(out, "==> {} <==\n{}", node.node, body.trim_end())?;
            }
            GetOutput::Prom => writeln!(out, "{}\t{}", node.node, body.trim_end())?,
        }
    }
    out.flush()?;
    let failures =
        collection.scrapes.iter().filter_map(|s| Some((s.node.as_str(), s.outcome.as_ref().err()?)));
    write_failures(failures, err)?;
    let failed = collection.scrapes.iter().filter(|n| n.outcome.is_err()).count();
    Ok(Outcome::from_counts(collection.scrapes.len(), failed))
}
