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

use super::{Outcome, Terminals};
use crate::access::Method;
use crate::cli::CompareOutput;
use crate::cli::settings::CompareSettings;
use crate::cluster::{self, checks};
use crate::compare::{self, Fetch, FetchFailure};
use crate::report;
use crate::report::paint::Palette;

/// Runs `compare`.
pub async fn run(
    settings: &CompareSettings,
    mut out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    let (proxy_plan, direct_plan, path) = (&settings.proxy, &settings.direct, &settings.path);
    let proxy = cluster::connect(proxy_plan).await.context("cannot set up the proxy method")?;
    let direct = cluster::connect(direct_plan).await.context("cannot set up the direct method")?;
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
    for round in 1..=settings.rounds {
        for node in nodes {
            for method in compare::order(round) {
                let outcome = match method {
                    Method::Proxy => {
                        checks::timed_fetch(&proxy.source, node, path, limits.max_body, limits.per_node).await
                    }
                    Method::Direct => {
                        checks::timed_fetch(&direct.source, node, path, limits.max_body, limits.per_node)
                            .await
                    }
                };
                let outcome = outcome.map_err(|err| FetchFailure::from(&err));
                fetches.push(Fetch { method, node: node.name.clone(), round, outcome });
            }
        }
    }

    let names = nodes.iter().map(|n| n.name.clone()).collect();
    let comparison = compare::compare(path, settings.rounds, names, &fetches);
    match settings.output {
        CompareOutput::Table => Palette::new(terminals.color).render(
            |out| report::compare::render_table(&comparison, &mut &mut *out),
            report::compare::tone(&comparison),
            out,
        )?,
        CompareOutput::Json | CompareOutput::Yaml => {
            report::document::write(&report::compare::to_value(&comparison), &settings.document, &mut out)?
        }
    }
    out.flush()?;
    let failed = comparison.proxy.failed() + comparison.direct.failed();
    Ok(match failed {
        0 => Outcome::Complete,
        n if n == fetches.len() => Outcome::AllFailed,
        _ => Outcome::Partial,
    })
}
