//! `snapshot`: save the histograms a later `histogram --baseline` compares against, as
//! exposition text with a `node` label (see `crate::snapshot`), and a `context` label too when
//! several clusters are read.

use std::io::Write;

use anyhow::Context;

use super::{Outcome, Terminals, collect_options, report_problems};
use crate::cli::settings::SnapshotSettings;
use crate::exposition::Family;
use crate::snapshot::{label_by_context, label_by_node};
use crate::source::{ClusterGathered, SourcePlan, gather, gather_fleet};

/// Runs `snapshot`.
pub async fn run(
    settings: &SnapshotSettings,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    let options = collect_options(terminals);
    if let SourcePlan::Fleet(fleet) = &settings.source {
        let mut clusters =
            gather_fleet(fleet, settings.endpoint.path(), &settings.selector, &options).await?;
        if !settings.metrics_named {
            for cluster in &mut clusters {
                if let Ok(gathered) = &mut cluster.gathered {
                    no_hints(&mut gathered.scrapes);
                }
            }
        }
        return save_fleet(settings, &clusters, out, err);
    }
    let mut gathered =
        gather(&settings.source, settings.endpoint.path(), &settings.selector, &options).await?;
    if !settings.metrics_named {
        no_hints(&mut gathered.scrapes);
    }
    // Nothing to save (a selector that matches no node, names the cluster does not have) is said
    // once, and no file is written that a later --baseline would take for a snapshot.
    if let Some(why) = settings.source.nothing_found_in(&gathered.scrapes) {
        super::report_warnings(&gathered, err)?;
        writeln!(err, "{why}")?;
        return Ok(Outcome::AllFailed);
    }
    report_problems(&gathered, err)?;
    super::write_near_misses(&gathered.scrapes, err)?;

    let nodes = crate::scrape::answered(&gathered.scrapes);
    let families = label_by_node(&nodes);
    let header = format!("snapshot of {} node(s) via {}", nodes.len(), gathered.method);
    save(settings, &header, &families, nodes.len(), out, err)?;
    Ok(Outcome::from_scrapes(&gathered.scrapes))
}

/// Forgets the names that read close to a missing one: the default histograms are not worth a
/// "did you mean" (an older kubelet lacks the SLI histogram, and the other default reads close
/// to it); only names given with `-m` are.
fn no_hints(scrapes: &mut [crate::scrape::NodeScrape]) {
    for scraped in scrapes.iter_mut().filter_map(|s| s.outcome.as_mut().ok()) {
        scraped.near_misses.clear();
    }
}

/// Several clusters in one snapshot: every sample labelled with its context and node. A
/// cluster that cannot be read is reported and left out; the others are saved.
fn save_fleet(
    settings: &SnapshotSettings,
    clusters: &[ClusterGathered],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let mut labelled: Vec<(&str, Vec<Family>)> = Vec::new();
    let mut outcomes = Vec::new();
    let mut saved = Vec::new();
    let mut total = 0;
    for ClusterGathered { context, gathered } in clusters {
        let Some(gathered) = super::cluster_gathered(context, gathered, &mut outcomes, err)? else {
            continue;
        };
        let nodes = crate::scrape::answered(&gathered.scrapes);
        saved.push(format!("{context} ({} via {})", nodes.len(), gathered.method));
        total += nodes.len();
        labelled.push((context, label_by_node(&nodes)));
        outcomes.push(Outcome::from_scrapes(&gathered.scrapes));
    }
    let families = label_by_context(&labelled);
    let header =
        format!("snapshot of {total} node(s) in {} context(s): {}", labelled.len(), saved.join(", "));
    save(settings, &header, &families, total, out, err)?;
    Ok(Outcome::combine(outcomes))
}

/// Writes the snapshot, headed by a `# kubelet-metrics HEADER` comment, to the file or stdout.
fn save(
    settings: &SnapshotSettings,
    header: &str,
    families: &[Family],
    nodes: usize,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut text = Vec::new();
    writeln!(text, "# kubelet-metrics {header}")?;
    crate::exposition::write(families, None, &mut text)?;
    if settings.output.as_os_str() == "-" {
        out.write_all(&text)?;
    } else {
        std::fs::write(&settings.output, &text)
            .with_context(|| format!("cannot write snapshot {}", settings.output.display()))?;
        writeln!(err, "saved {nodes} node(s) to {}", settings.output.display())?;
    }
    Ok(())
}
