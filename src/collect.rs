//! Fan-out over nodes: how many are fetched at once, how long each may take, when a failure is
//! retried, and what Ctrl-C leaves behind. How a node is reached lives in `cluster`; what its
//! text means lives in `exposition`; what to do about a failure is the caller's [`Advice`].
//!
//! One pipeline serves every cluster read: prepare (client, discovery) → fan out (bounded, one
//! deadline per node) → failures (with their fix) → nodes that could not be looked up → sort.
//! Every node gets one deadline covering all its attempts (the API server never times out a
//! proxied request). Transient failures are retried with exponential backoff and jitter, a
//! 429's `Retry-After` is honoured when it fits the deadline, and bodies are parsed chunk by
//! chunk as they arrive, so memory follows `--concurrency`, not node count or payload size.
//! A node that fails is a value in the result, never an early return.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
#[cfg(test)]
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures::{StreamExt, stream};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::access::Method;
use crate::cluster::plan::{ClusterPlan, Limits};
use crate::cluster::retry::Backoff;
use crate::cluster::throttle::Throttle;
use crate::cluster::{self, FetchError, MetricsSource, NodeTarget, Progress, RequestContext, Source};
use crate::exposition::{
    ParseError, Parsed, Selector, StreamParser, StreamVisitor, Visitor, not_prometheus_text,
};
use crate::scrape::{Failure, NodeScrape, Scraped};

/// The fix for a failed request, when one is known. Cluster code reports facts; the caller
/// decides the advice (the commands pass [`crate::remedy::fix`]).
pub type Advice = fn(&FetchError, &RequestContext<'_>) -> Option<String>;

/// What a cluster run gathered: one result per node, sorted by node name.
#[derive(Debug, Clone)]
pub struct Collection<T = Scraped> {
    /// The access method used.
    pub method: Method,
    /// One entry per node, sorted by node name; failures included.
    pub scrapes: Vec<NodeScrape<T>>,
    /// Warnings about the run as a whole (e.g. TLS verification off); never contain a secret.
    pub warnings: Vec<String>,
}

/// What a raw run (a non-exposition path such as `/healthz`) gathered: each body as sent.
pub type RawCollection = Collection<Bytes>;

/// How a run behaves beyond its plan, decided once by the command: when it stops, whether it
/// shows progress, and how failures are explained.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stops the run; nodes not finished are reported as cancelled.
    pub cancel: CancellationToken,
    /// Show a progress bar (rate, ETA, failures so far) on stderr. The caller sets it only when
    /// stderr is a terminal.
    pub progress: bool,
    /// The fix attached to each failure.
    pub advise: Advice,
    /// Stop on SIGINT and SIGTERM (recorded for [`interrupted`]). Long-running commands that
    /// handle signals themselves (`serve`, `watch`) turn it off.
    pub signals: bool,
}

impl Options {
    /// No progress, never cancelled, failures explained by `advise`.
    pub fn new(advise: Advice) -> Options {
        Options { cancel: CancellationToken::new(), progress: false, advise, signals: true }
    }

    /// With a progress bar when `progress` is true.
    pub fn with_progress(mut self, progress: bool) -> Options {
        self.progress = progress;
        self
    }

    /// Without its own SIGINT/SIGTERM handling: the caller stops the run (through `cancel`,
    /// or by dropping it).
    pub fn without_signals(mut self) -> Options {
        self.signals = false;
        self
    }

    /// Stopped by `cancel`.
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Options {
        self.cancel = cancel;
        self
    }
}

/// Reads `path` from every node the plan selects, keeping the families `selector` selects.
/// Ctrl-C or SIGTERM stops the run (as does `options.cancel`): finished nodes keep their
/// results, the others are reported as cancelled; while listing, the run ends at once. `Err`
/// only when nothing can run (configuration unusable, node listing failed or stopped).
pub async fn collect(
    plan: &ClusterPlan,
    path: &str,
    selector: &Selector,
    options: &Options,
) -> anyhow::Result<Collection> {
    let mut run = Run::start(plan, path, options).await?;
    let max_body = plan.limits.max_body;
    Ok(run
        .fan_out(&plan.limits, options, |source, path, node, progress| async move {
            scrape_once(source, &node, path, selector, max_body, &progress).await
        })
        .await)
}

/// What every cluster read sets up before it fans out: Ctrl-C and SIGTERM watched, the cluster
/// connected and its nodes listed, the request path checked, the pace set.
struct Run {
    /// Kept for the run's length: dropping it stops watching signals.
    _signals: Signals,
    connected: cluster::Connected,
    path: String,
    throttle: Throttle,
}

impl Run {
    async fn start(plan: &ClusterPlan, path: &str, options: &Options) -> anyhow::Result<Run> {
        let signals = Signals::watch(options);
        let (connected, path) = prepare(plan, path, options).await?;
        let throttle = throttle(&connected.source, &plan.limits);
        Ok(Run { _signals: signals, connected, path, throttle })
    }

    /// Runs `attempt` on every listed node (with the source and the checked path), then
    /// assembles the collection.
    async fn fan_out<'r, T, F, Fut>(
        &'r mut self,
        limits: &Limits,
        options: &Options,
        attempt: F,
    ) -> Collection<T>
    where
        F: Fn(&'r Source, &'r str, Arc<NodeTarget>, Progress) -> Fut,
        Fut: Future<Output = Result<T, FetchError>>,
    {
        let targets = std::mem::take(&mut self.connected.discovery.targets);
        let unresolved = std::mem::take(&mut self.connected.discovery.unresolved);
        let warnings = std::mem::take(&mut self.connected.warnings);
        let (source, path, throttle) = (&self.connected.source, self.path.as_str(), &self.throttle);
        let results = fan_out(targets, limits, options, throttle, |node, progress| {
            attempt(source, path, node, progress)
        })
        .await;
        assemble(source, path, results, unresolved, warnings, options.advise)
    }
}

/// The pacing of a run: `--qps`, and through the API server proxy one pause for every node
/// when it answers 429 (every request goes through that one server).
fn throttle(source: &impl MetricsSource, limits: &Limits) -> Throttle {
    Throttle::new(limits.rate, source.method() == Method::Proxy)
}

/// Reads `path` from every node as raw bytes (for paths that are not exposition text, such as
/// `/healthz`), each body limited by `--max-body`. Stops as [`collect`] does.
pub async fn collect_raw(plan: &ClusterPlan, path: &str, options: &Options) -> anyhow::Result<RawCollection> {
    let mut run = Run::start(plan, path, options).await?;
    let max_body = plan.limits.max_body;
    Ok(run
        .fan_out(&plan.limits, options, |source, path, node, progress| async move {
            source.open(&node, path, max_body).await?.track(&progress).into_bytes().await
        })
        .await)
}

/// What a streaming run hands its caller for each node, as soon as the node is done.
pub trait NodeVisits {
    /// What reads one node's payload as it arrives.
    type Visitor: Visitor;
    /// A fresh visitor for one attempt at `node` (a retry starts over).
    fn start(&self, node: &str) -> Self::Visitor;
    /// Called between chunks of a body, e.g. to move what the visitor wrote somewhere else.
    fn chunk(&self, visitor: &mut Self::Visitor);
    /// A node is done: its outcome (without families), and the visitor of its last attempt —
    /// complete on success, partial when the body failed mid-way, `None` when no body was read.
    fn done(&mut self, scrape: &NodeScrape, visitor: Option<Self::Visitor>);
}

/// Reads `path` from every node the plan selects like [`collect`], but hands each body's kept
/// samples to a visitor as chunks arrive, and each finished node to `visits` at once, in
/// completion order: nothing of a node is held once it is done. The returned collection has
/// every node's outcome (families left empty), sorted by node name. Stops as [`collect`] does.
pub async fn collect_visits<N: NodeVisits>(
    plan: &ClusterPlan,
    path: &str,
    selector: &Selector,
    options: &Options,
    visits: &mut N,
) -> anyhow::Result<Collection> {
    let run = Run::start(plan, path, options).await?;
    let (source, path, max_body) = (&run.connected.source, run.path.as_str(), plan.limits.max_body);
    let method = source.method();
    // The visitor of an attempt that failed, for `done`; a single task polls every node.
    let parked: std::sync::Mutex<std::collections::HashMap<String, N::Visitor>> = Default::default();
    let mut scrapes = Vec::new();
    let visits = std::cell::RefCell::new(visits);
    let (parked, visits_ref) = (&parked, &visits);
    fan_out_each(
        run.connected.discovery.targets,
        &plan.limits,
        options,
        &run.throttle,
        |node, progress| async move {
            let visitor = visits_ref.borrow().start(&node.name);
            let result = visit_once(source, &node, path, selector, max_body, &progress, visitor, |v| {
                visits_ref.borrow().chunk(v);
            })
            .await;
            match result {
                Ok(done) => Ok(done),
                Err((err, visitor)) => {
                    if let (Some(visitor), Ok(mut parked)) = (visitor, parked.lock()) {
                        parked.insert(node.name.clone(), visitor);
                    }
                    Err(err)
                }
            }
        },
        |node, outcome| {
            let (outcome, visitor) = match outcome {
                Ok((visitor, scraped)) => {
                    // An earlier attempt's visitor is not needed any more: drop it now, with what
                    // it holds (a `get` node's lines past 1 MiB hold a temporary file open).
                    drop(parked.lock().ok().and_then(|mut parked| parked.remove(&node.name)));
                    (Ok(scraped), Some(visitor))
                }
                Err(err) => {
                    let url = source.url(&node, path);
                    let failure =
                        failure(err, &RequestContext { node: &node.name, method, url: &url }, options.advise);
                    let visitor = parked.lock().ok().and_then(|mut parked| parked.remove(&node.name));
                    (Err(failure), visitor)
                }
            };
            let scrape = NodeScrape { node: node.name, kubelet_version: node.kubelet_version, outcome };
            visits_ref.borrow_mut().done(&scrape, visitor);
            scrapes.push(scrape);
        },
    )
    .await;
    let visits = visits.into_inner();
    for (node, err) in run.connected.discovery.unresolved {
        let scrape = NodeScrape {
            outcome: Err(lookup_failure(&node, method, err, options.advise)),
            node,
            kubelet_version: None,
        };
        visits.done(&scrape, None);
        scrapes.push(scrape);
    }
    scrapes.sort_by(|a, b| a.node.cmp(&b.node));
    Ok(Collection { method, scrapes, warnings: run.connected.warnings })
}

/// Scrapes `targets` through a source the caller built (the fan-out behind [`collect`], for
/// `compare` and tests). Results come back sorted by node name.
pub async fn scrape(
    source: &impl MetricsSource,
    targets: Vec<NodeTarget>,
    path: &str,
    selector: &Selector,
    limits: &Limits,
    options: &Options,
) -> Vec<NodeScrape> {
    let throttle = throttle(source, limits);
    let results = fan_out(targets, limits, options, &throttle, |node, progress| async move {
        scrape_once(source, &node, path, selector, limits.max_body, &progress).await
    })
    .await;
    assemble(source, path, results, Vec::new(), Vec::new(), options.advise).scrapes
}

async fn prepare(
    plan: &ClusterPlan,
    path: &str,
    options: &Options,
) -> anyhow::Result<(cluster::Connected, String)> {
    let path = cluster::request_path(path).map_err(anyhow::Error::msg).context("invalid kubelet path")?;
    // Listing has its own deadline (--timeout, in `discovery`); a signal stops it at once.
    let connected = tokio::select! {
        biased;
        () = options.cancel.cancelled() => anyhow::bail!("stopped before the nodes were listed"),
        connected = cluster::connect(plan) => connected,
    };
    let connected = connected.with_context(|| match &plan.context {
        Some(context) => format!("cannot read the cluster of kube context {context:?}"),
        None => "cannot read the cluster".to_string(),
    })?;
    tracing::info!(
        method = plan.method.as_str(),
        nodes = connected.discovery.targets.len(),
        unresolved = connected.discovery.unresolved.len(),
        path = path.as_str(),
        "nodes listed"
    );
    Ok((connected, path))
}

/// The last steps of every run: each failure becomes a report [`Failure`] with its fix, nodes
/// that could not be looked up join as failures, and everything is sorted by node name.
fn assemble<T>(
    source: &impl MetricsSource,
    path: &str,
    results: Vec<(NodeTarget, Result<T, FetchError>)>,
    unresolved: Vec<(String, FetchError)>,
    warnings: Vec<String>,
    advise: Advice,
) -> Collection<T> {
    let method = source.method();
    let mut scrapes: Vec<NodeScrape<T>> = results
        .into_iter()
        .map(|(node, outcome)| {
            let outcome = outcome.map_err(|err| {
                let url = source.url(&node, path);
                failure(err, &RequestContext { node: &node.name, method, url: &url }, advise)
            });
            NodeScrape { node: node.name, kubelet_version: node.kubelet_version, outcome }
        })
        .collect();
    scrapes.extend(unresolved.into_iter().map(|(node, err)| NodeScrape {
        outcome: Err(lookup_failure(&node, method, err, advise)),
        node,
        kubelet_version: None,
    }));
    scrapes.sort_by(|a, b| a.node.cmp(&b.node));
    Collection { method, scrapes, warnings }
}

/// The report's view of a failure: the message names the method and URL (every report prints
/// the node beside it), plus the fix.
fn failure(err: FetchError, ctx: &RequestContext<'_>, advise: Advice) -> Failure {
    Failure {
        kind: err.kind(),
        message: format!("{} GET {}: {err}", ctx.method.as_str(), ctx.url),
        fix: advise(&err, ctx),
    }
}

/// A named node that could not be looked up, as a report failure. The lookup went to the API
/// server whatever the method, so the message and fix speak of the API server.
pub(crate) fn lookup_failure(node: &str, method: Method, err: FetchError, advise: Advice) -> Failure {
    let url = format!("/api/v1/nodes/{node}");
    let fix = advise(&err, &RequestContext { node, method: Method::Proxy, url: &url });
    Failure { kind: err.kind(), message: format!("{} node lookup GET {url}: {err}", method.as_str()), fix }
}

/// The part of a named node's failure after "no such node" (`""`, or `; did you mean …?`) when
/// the API server does not have the node (a lookup answered 404); `None` for any other failure,
/// a kubelet's 404 for a path included.
pub fn missing_node(failure: &Failure) -> Option<&str> {
    if failure.kind != crate::scrape::FailureKind::NotFound || !failure.message.contains(" node lookup GET ")
    {
        return None;
    }
    let at = failure.message.rfind(cluster::discovery::NO_SUCH_NODE)?;
    Some(&failure.message[at + cluster::discovery::NO_SUCH_NODE.len()..])
}

/// One attempt: open, stream every chunk into the parser, finish.
async fn scrape_once(
    source: &impl MetricsSource,
    node: &NodeTarget,
    path: &str,
    selector: &Selector,
    max_body: u64,
    progress: &Progress,
) -> Result<Scraped, FetchError> {
    let started = Instant::now();
    let mut body = source.open(node, path, max_body).await?.track(progress);
    let mut parser = StreamParser::new(selector.clone());
    let mut last_byte = None;
    while let Some(chunk) = body.next_chunk().await? {
        last_byte = chunk.last().copied();
        parser.feed(&chunk);
    }
    let newlines = parser.lines();
    let parsed = parser.finish();
    judge_payload(last_byte, newlines, &parsed)?;
    Ok(Scraped {
        families: parsed.families,
        bytes: body.received(),
        elapsed: started.elapsed(),
        warnings: parsed.errors.iter().map(ToString::to_string).collect(),
        near_misses: parsed.near_misses,
    })
}

/// One streaming attempt: open, hand every chunk to the visitor, judge. On failure the visitor
/// comes back with what it saw, when the body had started.
#[expect(
    clippy::too_many_arguments,
    reason = "one attempt's inputs, each used once; a struct would only rename them"
)]
async fn visit_once<V: Visitor>(
    source: &impl MetricsSource,
    node: &NodeTarget,
    path: &str,
    selector: &Selector,
    max_body: u64,
    progress: &Progress,
    visitor: V,
    mut between: impl FnMut(&mut V),
) -> Result<(V, Scraped), (FetchError, Option<V>)> {
    let started = Instant::now();
    let mut body = match source.open(node, path, max_body).await {
        Ok(body) => body.track(progress),
        Err(err) => return Err((err, None)),
    };
    let mut parser = StreamVisitor::new(visitor, selector.clone());
    let mut last_byte = None;
    loop {
        match body.next_chunk().await {
            Ok(Some(chunk)) => {
                last_byte = chunk.last().copied();
                parser.feed(&chunk);
                between(parser.visitor());
            }
            Ok(None) => break,
            Err(err) => return Err((err, Some(parser.finish().0))),
        }
    }
    let newlines = parser.lines();
    let (visitor, visited) = parser.finish();
    if let Err(err) = judge(last_byte, newlines, &visited.errors, visited.valid_lines) {
        return Err((err, Some(visitor)));
    }
    let scraped = Scraped {
        families: Vec::new(),
        bytes: body.received(),
        elapsed: started.elapsed(),
        warnings: visited.errors.iter().map(ToString::to_string).collect(),
        near_misses: visited.near_misses,
    };
    Ok((visitor, scraped))
}

/// Whether a complete answer is usable; pure. A body whose last line has no newline was cut
/// short (the text format ends every line with one), so its families may be incomplete: refused.
/// Malformed lines are skipped with a warning each, as for saved files, unless not one line is
/// Prometheus text (an HTML error page, garbage): then the payload is refused.
fn judge_payload(last_byte: Option<u8>, newlines: usize, parsed: &Parsed) -> Result<(), FetchError> {
    judge(last_byte, newlines, &parsed.errors, parsed.valid_lines)
}

/// [`judge_payload`] on the parts of a parse.
fn judge(
    last_byte: Option<u8>,
    newlines: usize,
    errors: &[ParseError],
    valid_lines: usize,
) -> Result<(), FetchError> {
    if last_byte.is_some_and(|byte| byte != b'\n') {
        return Err(FetchError::CutShort { line: newlines + 1 });
    }
    match not_prometheus_text(errors, valid_lines) {
        Some(message) => Err(FetchError::Parse { line: errors.first().map_or(1, |e| e.line), message }),
        None => Ok(()),
    }
}

/// Runs `attempt` for every target, `limits.concurrency` at a time, each under its deadline
/// and retry policy, with a progress bar when the options ask for one.
async fn fan_out<T, F, Fut>(
    targets: Vec<NodeTarget>,
    limits: &Limits,
    options: &Options,
    throttle: &Throttle,
    attempt: F,
) -> Vec<(NodeTarget, Result<T, FetchError>)>
where
    F: Fn(Arc<NodeTarget>, Progress) -> Fut,
    Fut: Future<Output = Result<T, FetchError>>,
{
    let mut results = Vec::new();
    fan_out_each(targets, limits, options, throttle, attempt, |node, outcome| results.push((node, outcome)))
        .await;
    results
}

/// [`fan_out`], handing each node's result to `each` as soon as it is done, in completion order.
async fn fan_out_each<T, F, Fut>(
    targets: Vec<NodeTarget>,
    limits: &Limits,
    options: &Options,
    throttle: &Throttle,
    attempt: F,
    mut each: impl FnMut(NodeTarget, Result<T, FetchError>),
) where
    F: Fn(Arc<NodeTarget>, Progress) -> Fut,
    Fut: Future<Output = Result<T, FetchError>>,
{
    let bar = progress_bar(options.progress, targets.len());
    let mut failed: u64 = 0;
    let attempt = &attempt;
    let cancel = &options.cancel;
    stream::iter(targets.into_iter().map(Arc::new))
        .map(|node| {
            let span = tracing::info_span!("node", node = %node.name);
            async move {
                let started = Instant::now();
                let outcome = with_retries(limits, cancel, throttle, |progress| attempt(node.clone(), progress)).await;
                match &outcome {
                    Ok(_) => tracing::debug!(elapsed = ?started.elapsed(), "node answered"),
                    Err(err) => {
                        tracing::debug!(elapsed = ?started.elapsed(), kind = %err.kind(), "node failed: {err}")
                    }
                }
                (node, outcome)
            }
            .instrument(span)
        })
        .buffer_unordered(limits.concurrency.max(1))
        .for_each(|(node, outcome)| {
            if outcome.is_err() {
                failed += 1;
                bar.set_message(format!(", {failed} failed"));
            }
            bar.inc(1);
            each(Arc::unwrap_or_clone(node), outcome);
            std::future::ready(())
        })
        .await;
    bar.finish_and_clear();
}

/// A bar on stderr showing nodes done, the rate, the time left and failures so far; hidden
/// unless `shown` (the caller asks only when stderr is a terminal).
fn progress_bar(shown: bool, total: usize) -> ProgressBar {
    if !shown || total == 0 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{bar:30} {pos}/{len} nodes, {per_sec}, ETA {eta}{msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// One node's attempts under one deadline: each attempt waits for its turn (`--qps`, a shared
/// pause), transient failures are retried with backoff and jitter (honouring `Retry-After`, and
/// telling the throttle when the answer was 429), and `cancel` stops it at once. The deadline
/// starts when the first attempt is let through: waiting for a turn is not the node's slowness.
/// Each attempt reports its [`Progress`], so a deadline passed mid-body is told from one passed
/// waiting.
async fn with_retries<T, Fut>(
    limits: &Limits,
    cancel: &CancellationToken,
    throttle: &Throttle,
    mut attempt: impl FnMut(Progress) -> Fut,
) -> Result<T, FetchError>
where
    Fut: Future<Output = Result<T, FetchError>>,
{
    // Checked before waiting for a turn too: at `--qps 100`, 1,000 nodes that each waited for
    // theirs before failing without trying still took 10 s.
    if let Some(refused) = throttle.refusal() {
        return Err(refused);
    }
    tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(FetchError::Cancelled),
        () = throttle.admit() => {}
    }
    let deadline = Instant::now() + limits.per_node;
    let backoff = Backoff::default();
    let mut tries: u32 = 0;
    // The node's final failure, told to the throttle (a refusing API server ends the others).
    let give_up = |err: FetchError| {
        throttle.gave_up(&err);
        Err(err)
    };
    loop {
        if let Some(refused) = throttle.refusal() {
            return Err(refused);
        }
        let progress = Progress::default();
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(FetchError::Cancelled),
            outcome = tokio::time::timeout_at(deadline, attempt(progress.clone())) => outcome,
        };
        let err = match outcome {
            Err(_elapsed) if progress.answered() => {
                return Err(FetchError::SlowBody { limit: limits.per_node, received: progress.received() });
            }
            Err(_elapsed) => return Err(FetchError::Timeout(limits.per_node)),
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => err,
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let wait = backoff.delay(&err, tries, limits.retries, fastrand::f64(), remaining);
        if let FetchError::TooManyRequests { retry_after } = &err {
            throttle.overloaded(retry_after.or(wait).unwrap_or(backoff.base));
        }
        let Some(wait) = wait else {
            return give_up(err);
        };
        tries += 1;
        tracing::info!(attempt = tries, wait = ?wait, "retrying after: {err}");
        let next = async {
            tokio::time::sleep(wait).await;
            throttle.admit().await;
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(FetchError::Cancelled),
            () = tokio::time::sleep_until(deadline) => return give_up(err),
            () = next => {}
        }
    }
}

/// The signal that stopped a run (2 for SIGINT, 15 for SIGTERM), 0 when none did.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

/// How many runs of this process watch SIGINT and SIGTERM right now.
static WATCHING: AtomicUsize = AtomicUsize::new(0);

/// Whether a run of this process is watching SIGINT and SIGTERM now: it stops on one and
/// reports what it collected. Outside such a run (before listing, while printing) `main` ends
/// the process on a signal instead.
pub fn watching_signals() -> bool {
    WATCHING.load(Ordering::SeqCst) > 0
}

/// The signal number that stopped a run of this process, if one did: `main` prints what was
/// collected, then exits with 128 + it (130 for Ctrl-C), as shells do.
pub fn interrupted() -> Option<i32> {
    match INTERRUPTED.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}

/// Cancels the run on SIGINT or SIGTERM while it lives (when the options ask for it); the
/// watcher task stops when this is dropped.
struct Signals(Option<tokio::task::JoinHandle<()>>);

impl Signals {
    fn watch(options: &Options) -> Signals {
        if !options.signals {
            return Signals(None);
        }
        let cancel = options.cancel.clone();
        // Registered before the run counts as watching, so no signal falls between this run
        // and `main`'s watcher.
        let stop = registered_stop_signal();
        WATCHING.fetch_add(1, Ordering::SeqCst);
        Signals(Some(tokio::spawn(async move {
            let signal = stop.await;
            INTERRUPTED.store(signal, Ordering::Relaxed);
            cancel.cancel();
        })))
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
            WATCHING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Resolves with the number of the first SIGINT or SIGTERM.
pub async fn stop_signal() -> i32 {
    registered_stop_signal().await
}

/// Registers for SIGINT and SIGTERM now (not when first polled) and resolves with the number of
/// the first that arrives.
fn registered_stop_signal() -> impl Future<Output = i32> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn first(stream: std::io::Result<Signal>) {
            match stream {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        }
        let (interrupt, terminate) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
        async move {
            tokio::select! {
                () = first(interrupt) => 2,
                () = first(terminate) => 15,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlimited() -> Throttle {
        Throttle::new(None, true)
    }

    fn limits(per_node: Duration, retries: u32) -> Limits {
        Limits { concurrency: 4, per_node, retries, max_body: 1 << 20, rate: None }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let cancel = CancellationToken::new();
        let result = with_retries(&limits(Duration::from_secs(30), 3), &cancel, &unlimited(), |_| {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { if n < 2 { Err(FetchError::Refused { host: "h:1".into() }) } else { Ok(n) } }
        })
        .await;
        assert_eq!(result, Ok(2));
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let cancel = CancellationToken::new();
        let result: Result<(), _> =
            with_retries(&limits(Duration::from_secs(30), 3), &cancel, &unlimited(), |_| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { Err(FetchError::Forbidden { denial: None, message: "no".into() }) }
            })
            .await;
        assert!(matches!(result, Err(FetchError::Forbidden { .. })));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_covers_every_attempt() {
        let cancel = CancellationToken::new();
        let result: Result<(), _> =
            with_retries(&limits(Duration::from_millis(300), 5), &cancel, &unlimited(), |_| {
                std::future::pending()
            })
            .await;
        assert_eq!(result, Err(FetchError::Timeout(Duration::from_millis(300))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_passed_mid_body_is_a_slow_body_not_a_timeout() {
        // The attempt "answers" (as a source does once headers arrive), receives 4,096 bytes,
        // then stalls: the deadline finds it mid-body.
        let cancel = CancellationToken::new();
        let result: Result<(), _> = with_retries(
            &limits(Duration::from_millis(300), 5),
            &cancel,
            &unlimited(),
            |progress| async move {
                let body = kube::client::Body::from(vec![b'#'; 4096]);
                let mut body = cluster::BodyStream::new(body, 1 << 20, "127.0.0.1:1").track(&progress);
                while body.next_chunk().await?.is_some() {}
                std::future::pending().await
            },
        )
        .await;
        assert_eq!(result, Err(FetchError::SlowBody { limit: Duration::from_millis(300), received: 4096 }));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_through_the_proxy_holds_back_every_node() {
        let throttle = Throttle::new(None, true);
        let cancel = CancellationToken::new();
        let limits = limits(Duration::from_secs(30), 2);
        let start = Instant::now();
        let limited = with_retries(&limits, &cancel, &throttle, |_| async {
            Err::<(), _>(FetchError::TooManyRequests { retry_after: Some(Duration::from_secs(1)) })
        });
        let other = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            with_retries(&limits, &cancel, &throttle, |_| async { Ok::<_, FetchError>(Instant::now()) }).await
        };
        let (limited, other) = tokio::join!(limited, other);
        assert!(matches!(limited, Err(FetchError::TooManyRequests { .. })), "{limited:?}");
        let waited = other.expect("answers") - start;
        assert!(waited >= Duration::from_secs(1), "another node waited out the Retry-After: {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn once_the_api_server_refused_every_attempt_of_a_node_the_others_are_not_tried() {
        // One request a second: a node that waited for its turn would show it.
        let rate = crate::cluster::throttle::Rate { qps: 1, burst: 1 };
        let throttle = Throttle::new(Some(rate), true);
        let cancel = CancellationToken::new();
        let limits = limits(Duration::from_secs(30), 2);
        let calls = std::sync::atomic::AtomicU32::new(0);
        let refuse = |_| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Err::<(), _>(FetchError::Refused { host: "127.0.0.1:6443".into() }) }
        };
        // The first node tries three times (two retries), then gives up.
        let first = with_retries(&limits, &cancel, &throttle, refuse).await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        // The next one is told the same refusal without a connection attempt, and without
        // waiting for a turn.
        let asked = Instant::now();
        let next = with_retries(&limits, &cancel, &throttle, refuse).await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert_eq!(asked.elapsed(), Duration::ZERO);
        assert_eq!(first, next);
        assert!(matches!(next, Err(FetchError::Refused { .. })), "{next:?}");
    }

    #[tokio::test]
    async fn cancellation_stops_waiting_nodes() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let result: Result<(), _> =
            with_retries(&limits(Duration::from_secs(30), 0), &cancel, &unlimited(), |_| {
                std::future::pending()
            })
            .await;
        assert_eq!(result, Err(FetchError::Cancelled));
    }

    #[test]
    fn cut_payloads_and_payloads_with_nothing_usable_are_refused() {
        let parse = |text: &[u8]| crate::exposition::parse_bytes(text, &Selector::all());
        assert_eq!(judge_payload(Some(b'\n'), 1, &parse(b"a 1\n")), Ok(()));
        assert_eq!(judge_payload(None, 0, &parse(b"")), Ok(()));
        let cut = judge_payload(Some(b'7'), 10, &parse(b"a 1\nb 2")).unwrap_err();
        assert!(matches!(cut, FetchError::CutShort { line: 11 }), "{cut:?}");
        // Malformed lines beside good ones are warnings, not a failure.
        assert_eq!(judge_payload(Some(b'\n'), 3, &parse(b"a 1\nb{ 2\nc 3\n")), Ok(()));
        let garbage = judge_payload(Some(b'\n'), 2, &parse(b"<html>\n<body>\n")).unwrap_err();
        assert!(matches!(garbage, FetchError::Parse { line: 1, .. }), "{garbage:?}");
        assert!(garbage.to_string().starts_with("not Prometheus text: no valid line; line 1: "), "{garbage}");
        // A valid line of a family the selector skips still makes it Prometheus text.
        let other = crate::exposition::parse_bytes(b"a 1\n<b>\n", &"zzz".parse::<Selector>().unwrap());
        assert_eq!(judge_payload(Some(b'\n'), 2, &other), Ok(()));
    }

    #[tokio::test]
    async fn fan_out_returns_every_node_with_its_own_outcome() {
        let targets: Vec<NodeTarget> = (0..10)
            .map(|i| NodeTarget { name: format!("n{i}"), addresses: vec![], port: 1, kubelet_version: None })
            .collect();
        let options = Options::new(crate::remedy::fix);
        let results = fan_out(
            targets,
            &limits(Duration::from_secs(5), 0),
            &options,
            &unlimited(),
            |node, _| async move {
                if node.name == "n3" {
                    Err(FetchError::NotFound { message: "gone".into() })
                } else {
                    Ok(node.name.len())
                }
            },
        )
        .await;
        assert_eq!(results.len(), 10);
        let failed: Vec<&str> =
            results.iter().filter(|(_, r)| r.is_err()).map(|(n, _)| n.name.as_str()).collect();
        assert_eq!(failed, ["n3"]);
    }
}
