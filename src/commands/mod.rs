//! One module per subcommand: parse flags into a plan, wire the pieces, choose the outcome.
//! The exit status lives in `Outcome`; `main` maps it to a process code.

use std::io::Write;

use crate::cli::Command;
use crate::collect::Options;
use crate::scrape::NodeScrape;
use crate::source::Gathered;

pub mod compare;
pub mod demo;
pub mod doctor;
pub mod get;
pub mod histogram;
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
}

impl Terminals {
    /// Neither stream is a terminal.
    pub const NONE: Terminals = Terminals { stdout: false, stderr: false };
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
        Command::Completions { shell } => {
            let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "kubelet-metrics", out);
            Ok(Outcome::Complete)
        }
        Command::Rbac(args) => rbac::run(&args, out, err).await,
        Command::Doctor(args) => doctor::run(&args.settings()?, out, err).await,
        Command::Compare(args) => compare::run(&args.settings()?, out, err).await,
        Command::Watch(args) => watch::run(&args.settings()?, out, err, terminals).await,
    }
}

/// Writes run-wide warnings, then each failed node and each parse warning, to `err`.
pub(crate) fn report_problems(gathered: &Gathered, err: &mut dyn Write) -> std::io::Result<()> {
    for warning in &gathered.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    for scrape in &gathered.scrapes {
        match &scrape.outcome {
            Ok(scraped) => {
                for warning in &scraped.warnings {
                    writeln!(err, "warning: node {}: {warning}", scrape.node)?;
                }
            }
            Err(failure) => write_failure(&scrape.node, failure, err)?,
        }
    }
    Ok(())
}

/// `error: node NODE: MESSAGE (KIND); fix: FIX` on one line.
pub(crate) fn write_failure(
    node: &str,
    failure: &crate::scrape::Failure,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    write!(err, "error: node {node}: {} ({})", failure.message, failure.kind)?;
    match &failure.fix {
        Some(fix) => writeln!(err, "; fix: {fix}"),
        None => writeln!(err),
    }
}
