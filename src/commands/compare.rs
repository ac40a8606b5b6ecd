//! `compare [NODE...]`: fetches the same kubelet endpoint through both methods, interleaved
//! round by round, and prints per-method latency, bytes, throughput and errors, the
//! comparison table of both methods with measured rows, and which method this setup favours (`-o table|json`).
//!
//! Glue: sources and discovery come from `cluster` (one [`cluster::connect`] per method), timing
//! from `cluster::checks`, the arithmetic from [`crate::compare`], the rendering from
//! [`crate::report::compare`]. Each attempt is
//! measured as it is: no retries. The direct-method flags (`--token-file`, `--kubelet-ca`, ...)
//! apply to the direct side; `--method` is ignored, since both methods are measured.
//!
//! Exit status: 0 every fetch of both methods succeeded; 1 some failed; 2 every fetch failed or
//! nothing could run.

use std::io::Write;

use anyhow::{Context, bail};

use super::Outcome;
use crate::access::Method;
use crate::cli::{CompareArgs, CompareOutput};
use crate::cluster::plan::NodeSelection;
use crate::cluster::{self, checks};
use crate::compare::{self, Fetch, FetchFailure};
use crate::report;
use crate::source::SourcePlan;

/// Runs `compare`.
pub async fn run(
    args: &CompareArgs,
    mut out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    // Validate as the direct method, so its flags are accepted; the proxy plan is a copy.
    let mut source = args.source.clone();
    source.method = Method::Direct;
    let direct_plan = match source.to_plan()? {
        SourcePlan::Cluster(plan) => plan,
        SourcePlan::Files { .. } => bail!("compare measures a live cluster; --file has nothing to measure"),
        SourcePlan::Prometheus { .. } => {
            bail!("compare measures a live cluster; --prometheus has nothing to measure")
        }
    };
    if matches!(direct_plan.nodes, NodeSelection::Addresses(_)) {
        bail!(
            "compare needs node names (the proxy addresses nodes by name): use NODE names or -l, not --node-ip"
        );
    }
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let path = cluster::request_path(args.path.as_deref().unwrap_or(args.endpoint.path()))
        .map_err(|reason| anyhow::anyhow!("invalid --path: {reason}"))?;
    let mut proxy_plan = direct_plan.clone();
    proxy_plan.method = Method::Proxy;

    let proxy = cluster::connect(&proxy_plan).await.context("cannot set up the proxy method")?;
    let direct = cluster::connect(&direct_plan).await.context("cannot set up the direct method")?;
    for warning in proxy.warnings.iter().chain(&direct.warnings) {
        writeln!(err, "warning: {warning}")?;
    }
    for (name, problem) in &proxy.discovery.unresolved {
        writeln!(err, "warning: node {name}: {problem}")?;
    }
    let nodes = &proxy.discovery.targets;
    if nodes.is_empty() {
        bail!("no node to measure");
    }

    let limits = &direct_plan.limits;
    let mut fetches = Vec::new();
    for round in 1..=args.rounds {
        for node in nodes {
            for method in compare::order(round) {
                let outcome = match method {
                    Method::Proxy => {
                        checks::timed_fetch(&proxy.source, node, &path, limits.max_body, limits.per_node)
                            .await
                    }
                    Method::Direct => {
                        checks::timed_fetch(&direct.source, node, &path, limits.max_body, limits.per_node)
                            .await
                    }
                };
                let outcome = outcome.map_err(|err| FetchFailure::from(&err));
                fetches.push(Fetch { method, node: node.name.clone(), round, outcome });
            }
        }
    }

    let names = nodes.iter().map(|n| n.name.clone()).collect();
    let comparison = compare::compare(&path, args.rounds, names, &fetches);
    match args.output {
        CompareOutput::Table => report::compare::render_table(&comparison, &mut out)?,
        CompareOutput::Json => report::compare::render_json(&comparison, &mut out)?,
    }
    out.flush()?;
    let failed = comparison.proxy.failed() + comparison.direct.failed();
    Ok(match failed {
        0 => Outcome::Complete,
        n if n == fetches.len() => Outcome::AllFailed,
        _ => Outcome::Partial,
    })
}
