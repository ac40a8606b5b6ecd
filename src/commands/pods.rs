//! `pods`: list pods from the API server (or saved pod lists), read each pod's start, aggregate
//! them into exact quantiles, render, and judge `--slo`.

use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::{Outcome, Terminals, collect_options};
use crate::cli::settings::{CrossCheckPlan, PodSource, PodsSettings};
use crate::cli::{PodGroup, PodsOutput, SloUnknown};
use crate::cluster::{self, FetchError, config};
use crate::podstart::aggregate::{PodQuery, aggregate};
use crate::podstart::crosscheck::{NodeReading, cross_check};
use crate::podstart::{PodObject, PodStart};
use crate::report::paint::Palette;
use crate::report::pods::{self as render, Sections};
use crate::slo::State;

/// Runs `pods`.
pub async fn run(
    settings: &PodsSettings,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    // The kubelets are read before the pods are listed, so a pod that started after its
    // kubelet's histograms were read is seen running and left out of the comparison.
    let readings = match &settings.cross_check {
        Some(plan) => Some(read_kubelets(plan, terminals, err).await?),
        None => None,
    };
    let now = unix_now();
    let query = PodQuery {
        milestone: settings.milestone,
        quantiles: settings.quantiles.clone(),
        top: settings.top,
        now,
        since: settings.since.map(|s| s.as_secs_f64()),
    };
    // Pods outside the window are dropped as they arrive; only the small per-pod record is kept.
    let mut starts: Vec<PodStart> = Vec::new();
    let mut listed = 0usize;
    let mut keep = |pod: PodObject| {
        listed += 1;
        let start = PodStart::from_object(pod);
        if query.in_window(start.created) {
            starts.push(start);
        }
    };
    match &settings.source {
        PodSource::Cluster { kubeconfig, context, selection, timeout, max_body } => {
            let loaded = config::load(kubeconfig.as_deref(), context.as_deref())
                .await
                .with_context(|| format!("cannot use kube context {context:?}"))?;
            let api_host = loaded
                .config
                .cluster_url
                .authority()
                .map(|a| a.to_string())
                .unwrap_or_else(|| loaded.config.cluster_url.to_string());
            let client = config::api_client(&loaded.config, true)?;
            let stats = cluster::pods::list(&client, &api_host, selection, *max_body, *timeout, &mut keep)
                .await
                .map_err(|e| list_error(e, &api_host, selection.page_path(None).as_str()))?;
            tracing::info!(pages = stats.pages, pods = stats.pods, bytes = stats.bytes, "listed pods");
        }
        PodSource::Files(paths) => {
            for path in paths {
                let body = read_input(path)?;
                let page = cluster::pods::parse_page(&body).map_err(|e| {
                    anyhow::anyhow!(
                        "{}: line {}: not a pod list (kubectl get pods -o json): {e}",
                        path.display(),
                        e.line()
                    )
                })?;
                page.items.into_iter().for_each(&mut keep);
            }
        }
    }
    let mut report = aggregate(starts, &query);
    report.listed = listed;
    let cross_check =
        readings.as_ref().map(|(readings, _)| cross_check(readings, &report.pods, &settings.quantiles));
    // No pod to report: said on stderr with what selected them, and, as for nodes (`-l` that
    // matches none), nothing could run: no table, exit 2. Documents are still written.
    let nothing = report.cluster.pods == 0;
    if nothing {
        let filters = match &settings.source {
            PodSource::Cluster { selection, .. } => render::filters(
                selection.namespace.as_deref(),
                selection.label_selector.as_deref(),
                selection.field_selector.as_deref(),
            ),
            PodSource::Files(_) => Vec::new(),
        };
        writeln!(err, "{}", render::nothing_found(&filters, query.since, listed))?;
    }
    let verdict = settings.slo.map(|objective| (objective, report.judge(&objective)));
    let slo = verdict.as_ref().map(|(o, v)| (o, v));
    let sections = Sections {
        nodes: settings.by.contains(&PodGroup::Node),
        namespaces: settings.by.contains(&PodGroup::Namespace),
        workloads: settings.by.contains(&PodGroup::Workload),
    };
    match settings.output {
        PodsOutput::Table | PodsOutput::Wide if nothing => {}
        PodsOutput::Table | PodsOutput::Wide => {
            let wide = settings.output == PodsOutput::Wide;
            Palette::new(terminals.color).render(
                |out| {
                    render::table(&report, sections, wide, slo, out)?;
                    if let Some(check) = &cross_check {
                        writeln!(out)?;
                        render::cross_check_table(check, wide, out)?;
                    }
                    Ok(())
                },
                render::tone(&report),
                out,
            )?;
        }
        PodsOutput::Json | PodsOutput::Yaml => {
            let now = jiff::Timestamp::from_second(now as i64).map(|t| t.to_string()).unwrap_or_default();
            let encoding = if settings.output == PodsOutput::Json {
                render::Encoding::Json
            } else {
                render::Encoding::Yaml
            };
            render::document(&report, sections, slo, cross_check.as_ref(), &now, encoding, out)?
        }
        PodsOutput::Csv => match &cross_check {
            Some(check) => render::cross_check_csv(check, out)?,
            None => render::csv(&report, sections, out)?,
        },
    }
    if let Some(path) = &settings.plot {
        super::write_plot(path, |svg| render::plot(&report, svg))?;
    }
    if let Some((objective, verdict)) = &verdict
        && !matches!(settings.output, PodsOutput::Table | PodsOutput::Wide)
    {
        writeln!(err, "{}", render::verdict_line(objective, settings.milestone, verdict))?;
    }
    let slo_outcome = match verdict.map(|(_, v)| (v.state, settings.slo_unknown)) {
        None | Some((State::Holds, _)) | Some((State::Unknown, Some(SloUnknown::Pass))) => Outcome::Complete,
        Some((State::Violated, _)) | Some((State::Unknown, Some(SloUnknown::Fail))) => Outcome::SloViolated,
        Some((State::Unknown, None)) => Outcome::SloUnknown,
    };
    Ok(match readings {
        _ if nothing => Outcome::AllFailed,
        Some((_, kubelets)) => Outcome::combine([slo_outcome, kubelets]),
        None => slo_outcome,
    })
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Reads every selected kubelet's pod-start histograms for `--cross-check`; a node that fails is
/// a reading that says why (and the outcome says the run is partial), never the end of the run.
async fn read_kubelets(
    plan: &CrossCheckPlan,
    terminals: Terminals,
    err: &mut dyn Write,
) -> anyhow::Result<(Vec<NodeReading>, Outcome)> {
    let from = unix_now();
    let collection =
        crate::collect::collect(&plan.cluster, "/metrics", &plan.selector, &collect_options(terminals))
            .await?;
    let until = unix_now();
    for warning in &collection.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    let readings: Vec<NodeReading> = collection
        .scrapes
        .iter()
        .map(|scrape| match &scrape.outcome {
            Ok(scraped) => NodeReading::from_families(
                &scrape.node,
                scrape.kubelet_version.clone(),
                &scraped.families,
                (from, until),
            ),
            Err(failure) => NodeReading {
                node: scrape.node.clone(),
                kubelet_version: scrape.kubelet_version.clone(),
                outcome: Err(match &failure.fix {
                    Some(fix) => format!("{}; fix: {fix}", failure.message),
                    None => failure.message.clone(),
                }),
            },
        })
        .collect();
    let failed: Vec<&str> =
        collection.scrapes.iter().filter(|s| s.outcome.is_err()).map(|s| s.node.as_str()).collect();
    if !failed.is_empty() {
        writeln!(
            err,
            "error: {} of {} kubelets could not be read ({}); the cross-check says why",
            failed.len(),
            collection.scrapes.len(),
            crate::text::bounded_names(&failed)
        )?;
    }
    Ok((readings, Outcome::from_scrapes(&collection.scrapes)))
}

/// The error of a failed listing, with the fix a user needs.
fn list_error(err: FetchError, api_host: &str, path: &str) -> anyhow::Error {
    let fix = match &err {
        FetchError::Forbidden { .. } => {
            "; fix: grant `list` on `pods` (`kubelet-metrics rbac --with-pods` prints a role that does)"
        }
        FetchError::Timeout(_) => "; fix: a longer --timeout, or a smaller --chunk-size",
        FetchError::TooLarge { .. } => "; fix: a smaller --chunk-size, or a larger --max-body",
        _ => "",
    };
    anyhow::anyhow!("cannot list pods: GET {path} on {api_host}: {err}{fix}")
}

/// A file's bytes, or stdin's for `-`.
fn read_input(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut body = Vec::new();
        std::io::stdin().read_to_end(&mut body).context("reading stdin")?;
        return Ok(body);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}
