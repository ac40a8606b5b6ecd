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
use crate::source::{ClusterGathered, FleetPlan, SourcePlan, gather, gather_fleet};

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
        GetRead::Raw => return run_raw(plan, path, settings.output, out, err, &options).await,
    };
    if let SourcePlan::Fleet(fleet) = plan {
        return run_fleet(fleet, path, selector, settings.output, &options, out, err).await;
    }
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
        GetOutput::Json => samples::write_json(&nodes, out)?,
        GetOutput::Csv => samples::write_csv(&nodes, out)?,
    }
    out.flush()?;
    Ok(Outcome::from_scrapes(&gathered.scrapes))
}

/// `get` over several clusters: the same output with a `context` label (`-o prom`), a
/// `"context"` field (`-o json`) or a `context` column (`-o csv`); diagnostics on stderr name the
/// context. A cluster that cannot be read is reported and the others go on.
async fn run_fleet(
    fleet: &FleetPlan,
    path: &str,
    selector: &crate::exposition::Selector,
    output: GetOutput,
    options: &Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let clusters = gather_fleet(fleet, path, selector, options).await?;
    let mut outcomes = Vec::new();
    let mut labelled = Vec::new();
    let mut header = true;
    for ClusterGathered { context, gathered } in &clusters {
        let gathered = match gathered {
            Ok(gathered) => gathered,
            Err(error) => {
                writeln!(err, "error: context {context}: {}", super::error_text(error))?;
                outcomes.push(Outcome::AllFailed);
                continue;
            }
        };
        let mut problems = Vec::new();
        report_problems(gathered, &mut problems)?;
        for line in String::from_utf8_lossy(&problems).lines() {
            match line.split_once(": ") {
                Some((level, rest)) => writeln!(err, "{level}: context {context}: {rest}")?,
                None => writeln!(err, "context {context}: {line}")?,
            }
        }
        outcomes.push(Outcome::from_scrapes(&gathered.scrapes));
        let nodes = crate::scrape::answered(&gathered.scrapes);
        match output {
            GetOutput::Prom => labelled.push((context.as_str(), label_by_node(&nodes))),
            GetOutput::Json => samples::write_json_in(Some(context), &nodes, out)?,
            GetOutput::Csv => {
                samples::write_csv_in(Some(context), header, &nodes, out)?;
                header = false;
            }
        }
    }
    if output == GetOutput::Prom {
        exposition::write(&crate::snapshot::label_by_context(&labelled), None, &mut &mut *out)?;
    }
    out.flush()?;
    Ok(Outcome::combine(outcomes))
}

/// `get --path` for a path that is not exposition text (`/healthz`, `/pods`, `/configz`):
/// each node's body as sent, one line per node when it is one line, else a block per node.
async fn run_raw(
    plan: &SourcePlan,
    path: &str,
    output: GetOutput,
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
    if output == GetOutput::Csv {
        samples::write_csv_record(&["node", "bytes", "body"], out)?;
    }
    for node in &collection.scrapes {
        let Ok(body) = &node.outcome else { continue };
        let body = String::from_utf8_lossy(body);
        match output {
            GetOutput::Json => {
                let line =
                    serde_json::json!({"node": node.node, "path": path, "bytes": body.len(), "body": body});
                serde_json::to_writer(&mut *out, &line)?;
                writeln!(out)?;
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
