//! One module per subcommand: parse flags into a plan, wire the pieces, choose the outcome.
//! The exit status lives in `Outcome`; `main` maps it to a process code.

use std::io::Write;

use crate::cli::Command;
use crate::cluster::{ConfigError, ConnectError};
use crate::collect::Options;
use crate::remedy;
use crate::report::problems;
use crate::scrape::NodeScrape;
use crate::source::Gathered;

pub mod breakdown;
pub mod compare;
pub mod completions;
pub mod demo;
pub mod doctor;
pub mod get;
pub mod histogram;
pub mod pods;
pub mod rbac;
pub mod serve;
pub mod snapshot;
pub mod watch;

/// How a command ended when it could run at all (an `Err` means nothing could run: exit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every selected node answered.
    Complete,
    /// Some nodes failed; the rest are reported.
    Partial,
    /// Every node failed; the report lists why.
    AllFailed,
    /// The report is complete but the `--slo` does not hold.
    SloViolated,
    /// The report is complete enough but the `--slo` cannot be judged (never a pass).
    SloUnknown,
}

impl Outcome {
    /// The process exit status of this outcome (DESIGN §3).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Complete => 0,
            Outcome::Partial => 1,
            Outcome::AllFailed => 2,
            Outcome::SloViolated => 3,
            Outcome::SloUnknown => 4,
        }
    }

    /// The outcome of a run over several clusters, from each cluster's (a cluster that could
    /// not be read at all counts as [`Outcome::AllFailed`]): every cluster failed → all failed
    /// (2); else an SLO violated anywhere (3), else an SLO unknown anywhere (4) — each cluster is
    /// judged on its own — else partial (1) when any cluster or node failed, else complete (0).
    pub fn combine(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        let outcomes: Vec<Outcome> = outcomes.into_iter().collect();
        let any = |wanted: Outcome| outcomes.contains(&wanted);
        if outcomes.iter().all(|o| *o == Outcome::AllFailed) {
            Outcome::AllFailed
        } else if any(Outcome::SloViolated) {
            Outcome::SloViolated
        } else if any(Outcome::SloUnknown) {
            Outcome::SloUnknown
        } else if any(Outcome::Partial) || any(Outcome::AllFailed) {
            Outcome::Partial
        } else {
            Outcome::Complete
        }
    }

    /// Complete, partial or all-failed, from per-node results.
    pub fn from_scrapes(scrapes: &[NodeScrape]) -> Outcome {
        Outcome::from_counts(scrapes.len(), scrapes.iter().filter(|s| s.outcome.is_err()).count())
    }

    /// Complete, partial or all-failed, from how many nodes were asked and how many failed
    /// (asking no node at all is a failure: a selector that matches nothing is worth an exit 2).
    pub fn from_counts(asked: usize, failed: usize) -> Outcome {
        match failed {
            0 if asked > 0 => Outcome::Complete,
            n if n >= asked => Outcome::AllFailed,
            _ => Outcome::Partial,
        }
    }
}

/// Which of the process's output streams are terminals: asked once, in `main`, and passed down
/// (tests pass [`Terminals::NONE`] with in-memory writers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Terminals {
    /// Standard output is a terminal (`watch` clears the screen between tables).
    pub stdout: bool,
    /// Standard error is a terminal (a progress bar is drawn there).
    pub stderr: bool,
    /// Human-readable output is coloured (`--color`, `NO_COLOR`).
    pub color: bool,
}

impl Terminals {
    /// Neither stream is a terminal, and nothing is coloured.
    pub const NONE: Terminals = Terminals { stdout: false, stderr: false, color: false };
}

/// Writes `--plot`'s SVG whole or not at all: into `FILE.svg.partial`, then renamed.
pub(crate) fn write_plot(
    path: &std::path::Path,
    render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let cannot = || format!("cannot write the plot {}", path.display());
    let mut svg = Vec::new();
    render(&mut svg).with_context(cannot)?;
    let partial = path.with_extension("svg.partial");
    std::fs::write(&partial, &svg).with_context(cannot)?;
    std::fs::rename(&partial, path).with_context(cannot)
}

/// How one-shot reads of a cluster run: failures explained by [`crate::remedy`], a progress bar
/// when stderr is a terminal.
pub(crate) fn collect_options(terminals: Terminals) -> Options {
    Options::new(crate::remedy::fix).with_progress(terminals.stderr)
}

/// Runs one command, writing its report to `out` and diagnostics to `err`.
pub async fn run(
    command: Command,
    out: &mut dyn Write,
    err: &mut dyn Write,
    terminals: Terminals,
) -> anyhow::Result<Outcome> {
    match command {
        Command::Get(args) => get::run(&args.settings()?, out, err, terminals).await,
        Command::Histogram(args) => histogram::run(&args.settings()?, out, err, terminals).await,
        Command::Snapshot(args) => snapshot::run(&args.settings()?, out, err, terminals).await,
        Command::Demo(args) => demo::run(&args, out, err).await,
        Command::Serve(args) => serve::run(&args.settings()?, out, err).await,
        Command::Completions { shell } => completions::script(shell, out).map(|()| Outcome::Complete),
        Command::Man { subcommand } => {
            completions::man(subcommand.as_deref(), out).map(|()| Outcome::Complete)
        }
        Command::CompleteWords { words } => completions::words(&words, out).map(|()| Outcome::Complete),
        Command::Rbac(args) => rbac::run(&args, out, err).await,
        Command::Doctor(args) => doctor::run(&args.settings()?, out, err, terminals).await,
        Command::Compare(args) => compare::run(&args.settings()?, out, err, terminals).await,
        Command::Watch(args) => watch::run(&args.settings()?, out, err, terminals).await,
        Command::Pods(args) => pods::run(&args.settings()?, out, err, terminals).await,
        Command::Breakdown(args) => breakdown::run(&args.settings()?, out, err, terminals).await,
    }
}

/// Writes run-wide warnings, then the failed nodes and the parse warnings to `err`, identical
/// ones once with their nodes counted.
pub(crate) fn report_problems(gathered: &Gathered, err: &mut dyn Write) -> std::io::Result<()> {
    report_warnings(gathered, err)?;
    write_failures(
        gathered.scrapes.iter().filter_map(|s| Some((s.node.as_str(), s.outcome.as_ref().err()?))),
        err,
    )
}

/// Writes run-wide warnings, then the nodes' parse warnings to `err`, identical ones once with
/// their nodes counted (reports that list failed nodes themselves, under a table, take only
/// these).
pub(crate) fn report_warnings(gathered: &Gathered, err: &mut dyn Write) -> std::io::Result<()> {
    for warning in &gathered.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    let warnings = gathered.scrapes.iter().flat_map(|scrape| {
        let warnings = scrape.outcome.as_ref().map(|ok| ok.warnings.as_slice()).unwrap_or_default();
        warnings.iter().map(|warning| problems::Item {
            node: &scrape.node,
            kind: "warning",
            message: warning,
            fix: None,
        })
    });
    for group in problems::group(warnings) {
        let item = format!("{}: {}", problems::subject(&group), group.message);
        err.write_all(crate::text::wrap(&item, "warning: ", "  ").as_bytes())?;
    }
    Ok(())
}

/// One cluster of a fleet as a reading command takes it: its nodes, with their problems written
/// to `err` under the context's name; or `None` when the cluster could not be read, which is
/// written to `err` and counted in `outcomes` as all failed.
pub(crate) fn cluster_gathered<'a>(
    context: &str,
    gathered: &'a anyhow::Result<Gathered>,
    outcomes: &mut Vec<Outcome>,
    err: &mut dyn Write,
) -> std::io::Result<Option<&'a Gathered>> {
    match gathered {
        Ok(gathered) => {
            let mut problems = Vec::new();
            report_problems(gathered, &mut problems)?;
            write_near_misses(&gathered.scrapes, &mut problems)?;
            write_in_context(context, &problems, err)?;
            Ok(Some(gathered))
        }
        Err(error) => {
            writeln!(err, "error: context {context}: {}", error_text(error))?;
            outcomes.push(Outcome::AllFailed);
            Ok(None)
        }
    }
}

/// Writes diagnostics of one cluster of a fleet to `err`, each `error: `/`warning: ` line with
/// `context NAME: ` after its tag, so the clusters' lines can be told apart.
pub(crate) fn write_in_context(
    context: &str,
    diagnostics: &[u8],
    err: &mut dyn Write,
) -> std::io::Result<()> {
    for line in String::from_utf8_lossy(diagnostics).lines() {
        match ["error: ", "warning: "].iter().find_map(|tag| Some((*tag, line.strip_prefix(tag)?))) {
            Some((tag, rest)) => writeln!(err, "{tag}context {context}: {rest}")?,
            None => writeln!(err, "context {context}: {line}")?,
        }
    }
    Ok(())
}

/// "did you mean" once, on stderr, when no node that answered has a name the command asked for
/// (`-m` of `get`, `snapshot` and `serve`, the metric of `histogram` and `watch`; over several
/// clusters, once per cluster) and its payloads have names that read close to it: the names most
/// nodes offered, closest first, at most three.
pub(crate) fn write_near_misses(scrapes: &[NodeScrape], err: &mut dyn Write) -> std::io::Result<()> {
    let answered: Vec<&[String]> =
        scrapes.iter().filter_map(|s| Some(s.outcome.as_ref().ok()?.near_misses.as_slice())).collect();
    if answered.is_empty() || answered.iter().any(|names| names.is_empty()) {
        return Ok(());
    }
    // Each name by how many nodes offered it, then by its best rank on a node.
    let mut offered: Vec<(&str, usize, usize)> = Vec::new();
    for names in &answered {
        for (rank, name) in names.iter().enumerate() {
            match offered.iter_mut().find(|(n, _, _)| n == name) {
                Some((_, nodes, best)) => {
                    *nodes += 1;
                    *best = (*best).min(rank);
                }
                None => offered.push((name, 1, rank)),
            }
        }
    }
    offered.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)).then(a.0.cmp(b.0)));
    let names: Vec<&str> =
        offered.iter().take(crate::exposition::selector::NEAR_MISSES).map(|(n, _, _)| *n).collect();
    match crate::text::did_you_mean(&names) {
        Some(hint) => writeln!(err, "{hint} (the closest names in the payloads)"),
        None => Ok(()),
    }
}

/// Each failure as `error: node NODE: MESSAGE (KIND); fix: FIX`, and identical failures of several
/// nodes once: `error: KIND on N nodes (a, b, … and M more): MESSAGE; fix: FIX`.
pub(crate) fn write_failures<'a>(
    failures: impl IntoIterator<Item = (&'a str, &'a crate::scrape::Failure)>,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    let items = failures.into_iter().map(|(node, failure)| problems::Item {
        node,
        kind: failure.kind.as_str(),
        message: &failure.message,
        fix: failure.fix.as_deref(),
    });
    for group in problems::group(items) {
        let mut item = match group.nodes.as_slice() {
            [_] => format!("{}: {} ({})", problems::subject(&group), group.message, group.kind),
            _ => format!("{}: {}", problems::subject(&group), group.message),
        };
        if let Some(fix) = &group.fix {
            item.push_str(&format!("; fix: {fix}"));
        }
        err.write_all(crate::text::wrap(&item, "error: ", "  ").as_bytes())?;
    }
    Ok(())
}

/// What `main` prints after `error: `: the error and its causes, `: `-separated, on one line.
/// A cause whose text the previous one already contains is skipped: kube's errors (and other
/// crates') repeat their source in their own message and chain it too, which printed the same
/// rustls text three times. A configuration error with a known fix ends with it, after `; `.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut previous: Option<String> = None;
    for cause in err.chain() {
        let current = cause.to_string();
        if previous.as_deref().is_none_or(|p| !p.contains(&current)) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&current);
        }
        previous = Some(current);
    }
    // `ConnectError` is transparent: its `ConfigError` is not a cause of its own in the chain.
    let fix = err.chain().find_map(|cause| {
        let config = match cause.downcast_ref::<ConnectError>() {
            Some(ConnectError::Config(config)) => Some(config),
            _ => cause.downcast_ref::<ConfigError>(),
        };
        config.and_then(remedy::config_fix)
    });
    if let Some(fix) = fix {
        text.push_str("; ");
        text.push_str(&fix);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("rustls tls error: {0}")]
    struct Repeats(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("invalid private key: peer certificate: UnsupportedCertVersion")]
    struct Inner(#[source] Leaf);

    #[derive(Debug, thiserror::Error)]
    #[error("peer certificate: UnsupportedCertVersion")]
    struct Leaf;

    #[test]
    fn a_fleet_fails_only_when_every_cluster_does_and_any_slo_verdict_counts() {
        use Outcome::*;
        assert_eq!(Outcome::combine([Complete, Complete]), Complete);
        assert_eq!(Outcome::combine([Complete, AllFailed]), Partial);
        assert_eq!(Outcome::combine([Partial, Complete]), Partial);
        assert_eq!(Outcome::combine([AllFailed, AllFailed]), AllFailed);
        assert_eq!(Outcome::combine([]), AllFailed);
        assert_eq!(Outcome::combine([SloViolated, AllFailed, SloUnknown]), SloViolated);
        assert_eq!(Outcome::combine([Complete, SloUnknown]), SloUnknown);
    }

    #[test]
    fn a_clusters_diagnostics_name_its_context_after_their_tag() {
        let mut err = Vec::new();
        write_in_context("east", b"warning: node a: odd\nerror: node b: refused\nNo nodes\n", &mut err)
            .expect("writes");
        assert_eq!(
            String::from_utf8(err).expect("utf-8"),
            "warning: context east: node a: odd\nerror: context east: node b: refused\ncontext east: No nodes\n"
        );
    }

    #[test]
    fn each_cause_is_printed_once() {
        let err = anyhow::Error::new(Repeats(Inner(Leaf))).context("cannot read the cluster");
        assert_eq!(
            error_text(&err),
            "cannot read the cluster: rustls tls error: invalid private key: peer certificate: UnsupportedCertVersion"
        );
        let distinct = anyhow::Error::new(std::io::Error::other("refused")).context("cannot connect");
        assert_eq!(error_text(&distinct), "cannot connect: refused");
    }

    #[test]
    fn a_v1_client_certificate_error_ends_with_how_to_reissue_it() {
        let err = anyhow::Error::new(ConnectError::Config(ConfigError::ClientCertificateVersion {
            location: "/k/v1.crt (user \"v\" of kubeconfig /k/config)".into(),
            version: 1,
        }))
        .context("cannot read the cluster");
        assert_eq!(
            error_text(&err),
            format!(
                "cannot read the cluster: the client certificate in /k/v1.crt (user \"v\" of kubeconfig /k/config) is \
                 X.509 v1, which TLS libraries refuse; {}",
                remedy::REISSUE_CLIENT_CERTIFICATE
            )
        );
    }
}
