//! `histogram` (alias `pod-start`): per-node and cluster-wide count, mean, quantiles and bands,
//! optionally since a baseline snapshot and judged against an SLO.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Context;

use super::{Outcome, Terminals, collect_options, report_warnings};
use crate::analysis::{Report, analyze};
use crate::cli::settings::HistogramSettings;
use crate::cli::{HistogramOutput, SloUnknown};
use crate::exposition::{self, Family, Selector};
use crate::report;
use crate::report::document::DocumentFormat;
use crate::report::escape_controls;
use crate::report::paint::{self, Palette, Tone};
use crate::slo::{Objective, State, Verdict};
use crate::source::{ClusterGathered, FleetPlan, SourcePlan, gather, gather_fleet};

/// Runs `histogram`.
pub async fn run(
    settings: &HistogramSettings,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    let mut query = settings.query.clone();
    let baseline = match &settings.baseline {
        Some(path) => Some((path, read_baseline(path, &query.metric, &settings.selector)?)),
        None => None,
    };
    if let SourcePlan::Fleet(fleet) = &settings.source {
        let baseline = match baseline {
            Some((_, Baseline::Fleet(contexts))) => Some(contexts),
            Some((path, Baseline::One(_))) => anyhow::bail!(
                "baseline {} is a snapshot of one cluster; take one of these clusters with `kubelet-metrics \
                 snapshot` and the same --context flags",
                path.display()
            ),
            None => None,
        };
        return run_fleet(settings, fleet, query, baseline.as_ref(), terminals, out, err).await;
    }
    query.baseline = match baseline {
        Some((_, Baseline::One(scrapes))) => Some(scrapes),
        Some((path, Baseline::Fleet(contexts))) => Some(one_of(path, contexts, &settings.source)?),
        None => None,
    };
    let options = collect_options(terminals);
    let gathered = gather(&settings.source, settings.endpoint.path(), &settings.selector, &options).await?;
    query.method = gathered.method;
    report_warnings(&gathered, err)?;
    super::write_near_misses(&gathered.scrapes, err)?;
    if let Some(why) = settings.source.nothing_found_in(&gathered.scrapes) {
        writeln!(err, "{why}")?;
        if matches!(settings.output, HistogramOutput::Table | HistogramOutput::Wide) {
            return Ok(Outcome::AllFailed);
        }
    }
    let mut report = analyze(&gathered.scrapes, &query);
    let verdicts = settings.slo.map(|slo| (slo, slo.judge(&report)));
    let outcome = outcome(&report, verdicts.as_ref(), settings.slo_unknown);
    if !report.errors.is_empty() {
        // The report keeps the failures beside the numbers (the table's error list, JSON's
        // `errors`); stderr says that some nodes are missing, so a script sees it there too.
        let place = match settings.output {
            HistogramOutput::Table | HistogramOutput::Wide => "the errors under the table say why",
            HistogramOutput::Json | HistogramOutput::Yaml => "`errors` in the document says why",
            HistogramOutput::Csv => "the error rows say why",
        };
        writeln!(err, "error: {}; {place}", report::problems::failed_summary(&report))?;
    }
    // The analysis sorts slowest first; their rows are coloured whatever order is shown.
    let slowest = report::order::slowest_nodes(&report);
    if let Some(key) = settings.sort_by {
        report::order::sort(&mut report, key);
    }
    if let Some(top) = settings.top {
        let cut = report::order::keep_top(&mut report, top);
        if cut > 0 {
            writeln!(err, "showing {top} of {} rows (--top); the cluster line covers every node", top + cut)?;
        }
    }

    let table = report::table::TableOptions {
        wide: settings.output == HistogramOutput::Wide,
        headers: settings.headers,
    };
    let palette = Palette::new(terminals.color);
    if palette.enabled() && matches!(settings.output, HistogramOutput::Table | HistogramOutput::Wide) {
        let slowest = paint::escaped_names(&slowest);
        palette.render(
            |out| {
                render(&report, settings.output, &settings.document, table, verdicts.as_ref(), &mut &mut *out)
            },
            paint::verdict_or_row(&slowest),
            out,
        )?;
    } else {
        render(&report, settings.output, &settings.document, table, verdicts.as_ref(), &mut &mut *out)?;
    }
    out.flush()?;
    if let Some(path) = &settings.plot {
        write_plot(&report, path)?;
    }
    Ok(outcome)
}

/// `histogram` over several clusters: each analysed, sorted, cut and judged on its own, then one
/// table (a CONTEXT column, each cluster with its own cluster line), one JSON document or one
/// CSV. A cluster that cannot be read is reported and the others go on. On a terminal the SLO
/// lines are coloured by verdict and each cluster's slowest rows yellow, as for one cluster.
async fn run_fleet(
    settings: &HistogramSettings,
    fleet: &FleetPlan,
    query: crate::analysis::Query,
    baseline: Option<&BTreeMap<String, Vec<Family>>>,
    terminals: Terminals,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let options = collect_options(terminals);
    let palette = Palette::new(terminals.color);
    let clusters = gather_fleet(fleet, settings.endpoint.path(), &settings.selector, &options).await?;
    let mut analysed: Vec<(String, Result<Judged, String>)> = Vec::new();
    // (context, node) of each cluster's slowest rows, to colour them.
    let mut slow_rows: Vec<(String, String)> = Vec::new();
    let mut outcomes = Vec::new();
    for ClusterGathered { context, gathered } in clusters {
        // Each cluster is compared with its own part of the baseline; one the baseline lacks
        // cannot be, and fails alone.
        let own_baseline = match baseline.map(|contexts| contexts.get(&context)) {
            None => Ok(None),
            Some(Some(families)) => Ok(Some(crate::snapshot::split_by_node(families))),
            Some(None) => Err(anyhow::anyhow!(
                "the baseline has no context {context:?} (it has {})",
                baseline.map(|c| c.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
            )),
        };
        let (own_baseline, gathered) = match own_baseline.and_then(|own| Ok((own, gathered?))) {
            Ok(gathered) => gathered,
            Err(error) => {
                let message = super::error_text(&error);
                writeln!(err, "error: context {context}: {message}")?;
                outcomes.push(Outcome::AllFailed);
                analysed.push((context, Err(message)));
                continue;
            }
        };
        for warning in &gathered.warnings {
            writeln!(err, "warning: context {context}: {warning}")?;
        }
        for scrape in &gathered.scrapes {
            for warning in scrape.outcome.iter().flat_map(|ok| &ok.warnings) {
                writeln!(err, "warning: context {context}: node {}: {warning}", scrape.node)?;
            }
        }
        let mut hint = Vec::new();
        super::write_near_misses(&gathered.scrapes, &mut hint)?;
        super::write_in_context(&context, &hint, err)?;
        if gathered.scrapes.is_empty()
            && let Some(why) = fleet_nothing_found(fleet)
        {
            writeln!(err, "context {context}: {why}")?;
        }
        let mut query = query.clone();
        query.method = gathered.method;
        query.baseline = own_baseline;
        let mut report = analyze(&gathered.scrapes, &query);
        let verdicts = settings.slo.map(|slo| (slo, slo.judge(&report)));
        outcomes.push(outcome(&report, verdicts.as_ref(), settings.slo_unknown));
        if !report.errors.is_empty() {
            writeln!(err, "error: context {context}: {}", report::problems::failed_summary(&report))?;
        }
        slow_rows
            .extend(report::order::slowest_nodes(&report).into_iter().map(|node| (context.clone(), node)));
        if let Some(key) = settings.sort_by {
            report::order::sort(&mut report, key);
        }
        if let Some(top) = settings.top {
            report::order::keep_top(&mut report, top);
        }
        analysed.push((context, Ok((report, verdicts))));
    }
    match settings.output {
        HistogramOutput::Table | HistogramOutput::Wide => {
            let table = report::table::TableOptions {
                wide: settings.output == HistogramOutput::Wide,
                headers: settings.headers,
            };
            let clusters: Vec<report::table::FleetEntry<'_>> = analysed
                .iter()
                .map(|(c, r)| {
                    (c.as_str(), r.as_ref().map(|(report, j)| (report, j.as_ref())).map_err(String::as_str))
                })
                .collect();
            let slow_rows: Vec<(String, String)> = slow_rows
                .iter()
                .map(|(c, n)| (escape_controls(c).into_owned(), escape_controls(n).into_owned()))
                .collect();
            // A row reads `CONTEXT  NODE  …`: slow when that pair is one of the slowest.
            let slow = |line: &str| {
                let mut words = line.split_whitespace();
                let (context, node) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
                slow_rows.iter().any(|(c, n)| c == context && n == node)
            };
            palette.render(
                |out| report::table::render_fleet_judged(&clusters, table, &mut &mut *out),
                |line| paint::verdict_tone(line).or_else(|| slow(line).then_some(Tone::Warn)),
                out,
            )?;
        }
        HistogramOutput::Json | HistogramOutput::Yaml => {
            let clusters: Vec<report::json::FleetCluster<'_>> = analysed
                .iter()
                .map(|(context, result)| report::json::FleetCluster {
                    context,
                    outcome: match result {
                        Ok((report, verdicts)) => {
                            let mut extra = serde_json::Map::new();
                            if let Some((slo, verdicts)) = verdicts {
                                extra.insert("slo".into(), report::slo::to_value(slo, verdicts));
                            }
                            Ok((report, extra))
                        }
                        Err(message) => Err(message.clone()),
                    },
                })
                .collect();
            match &settings.document {
                DocumentFormat::Json => report::json::render_fleet(&query.metric, &clusters, &mut &mut *out)?,
                // YAML and templates: the same document, read back and written their way.
                document => {
                    let mut json = Vec::new();
                    report::json::render_fleet(&query.metric, &clusters, &mut json)?;
                    let value: serde_json::Value = serde_json::from_slice(&json)?;
                    report::document::write(&value, document, &mut &mut *out)?;
                }
            }
        }
        HistogramOutput::Csv => {
            let clusters: Vec<(&str, Result<&Report, &str>)> = analysed
                .iter()
                .map(|(c, r)| (c.as_str(), r.as_ref().map(|(report, _)| report).map_err(String::as_str)))
                .collect();
            report::csv::render_fleet(&clusters, &mut &mut *out)?;
        }
    }
    out.flush()?;
    Ok(Outcome::combine(outcomes))
}

/// One cluster's report and its SLO verdicts, when `--slo` was given.
type Judged = (Report, Option<report::table::Judgement>);

/// Why a cluster of the fleet read no node at all.
fn fleet_nothing_found(fleet: &FleetPlan) -> Option<String> {
    SourcePlan::Fleet(fleet.clone()).nothing_found()
}

fn write_plot(report: &Report, path: &std::path::Path) -> anyhow::Result<()> {
    super::write_plot(path, |svg| report::svg::render(report, svg))
}

/// A baseline snapshot: of one cluster (its nodes), or of several (each context's families,
/// still labelled by node).
enum Baseline {
    One(Vec<crate::scrape::NodeScrape>),
    Fleet(BTreeMap<String, Vec<Family>>),
}

/// Reads a `snapshot` file: the samples of `metric` by node, and by context when it has several.
fn read_baseline(path: &std::path::Path, metric: &str, selector: &Selector) -> anyhow::Result<Baseline> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read baseline {}", path.display()))?;
    let parsed = exposition::parse_bytes(&bytes, selector);
    if let Some(first) = parsed.errors.first() {
        anyhow::bail!("baseline {} is not a valid snapshot: {first}", path.display());
    }
    let nodes = crate::snapshot::split_by_node(&parsed.families);
    if nodes.is_empty() {
        anyhow::bail!(
            "baseline {} holds no {metric} samples with a `node` label; take one with `kubelet-metrics snapshot`",
            path.display()
        );
    }
    Ok(match crate::snapshot::split_by_context(&parsed.families) {
        Some(contexts) => Baseline::Fleet(contexts),
        None => Baseline::One(nodes),
    })
}

/// The part of a snapshot of several clusters that one cluster is compared with: its
/// `--context`'s.
fn one_of(
    path: &std::path::Path,
    contexts: BTreeMap<String, Vec<Family>>,
    source: &SourcePlan,
) -> anyhow::Result<Vec<crate::scrape::NodeScrape>> {
    let context = match source {
        SourcePlan::Cluster(plan) => plan.context.as_deref(),
        _ => None,
    };
    match context.and_then(|context| contexts.get(context)) {
        Some(families) => Ok(crate::snapshot::split_by_node(families)),
        None => anyhow::bail!(
            "baseline {} is a snapshot of several clusters ({}); give the --context of the one to compare, \
             or the same --context flags to compare each",
            path.display(),
            contexts.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

fn render(
    report: &Report,
    output: HistogramOutput,
    document: &report::document::DocumentFormat,
    table: report::table::TableOptions,
    verdicts: Option<&(Objective, Vec<Verdict>)>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    match output {
        HistogramOutput::Table | HistogramOutput::Wide => {
            report::table::render_judged(report, table, verdicts, out)
        }
        HistogramOutput::Json | HistogramOutput::Yaml => {
            let mut extra = serde_json::Map::new();
            if let Some((slo, verdicts)) = verdicts {
                extra.insert("slo".into(), report::slo::to_value(slo, verdicts));
            }
            report::json::render_as(report, extra, document, out)
        }
        HistogramOutput::Csv => report::csv::render(report, out),
    }
}

/// Complete / partial / all failed from the report's nodes, then the SLO on top: violated
/// exits 3, unknown 4 unless `--slo-unknown` counts it as a pass or a failure.
fn outcome(
    report: &Report,
    verdicts: Option<&(Objective, Vec<Verdict>)>,
    unknown_as: Option<SloUnknown>,
) -> Outcome {
    let base = Outcome::from_counts(report.node_count(), report.errors.len());
    let Some((_, verdicts)) = verdicts else { return base };
    if base == Outcome::AllFailed {
        return base;
    }
    let state = State::worst(verdicts.iter().map(|v| match (v.state, unknown_as) {
        (State::Unknown, Some(SloUnknown::Pass)) => State::Holds,
        (State::Unknown, Some(SloUnknown::Fail)) => State::Violated,
        (state, _) => state,
    }));
    match state {
        State::Holds => base,
        State::Violated => Outcome::SloViolated,
        State::Unknown => Outcome::SloUnknown,
    }
}
