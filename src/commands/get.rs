//! `get`: one kubelet endpoint from every selected node, filtered by `-m`, with a `node` label
//! added — the cluster-wide `kubectl get --raw | grep`.
//!
//! Nothing of a node is kept once it is written: each payload is parsed as it arrives by the
//! zero-copy visitor straight into its output bytes. `-o json` and `-o csv` write each node's
//! lines as soon as the node is done (in completion order; `--sort` orders them by node name
//! through a [`Spool`]), a node's lines past a megabyte waiting in a temporary file of its own
//! meanwhile; `-o prom` keeps each family's labelled lines in a [`Spool`] and writes
//! the merged text (HELP / TYPE once per family, nodes by name) at the end, except for a single
//! saved file, which has nothing to merge and is written as it is read.

use std::cell::RefCell;
use std::io::{self, Write};

use tokio_util::sync::CancellationToken;

use super::{Outcome, Terminals, collect_options, report_problems, write_failures};
use crate::access::Origin;
use crate::cli::GetOutput;
use crate::cli::settings::{GetRead, GetSettings};
use crate::collect::{NodeVisits, Options, collect_visits};
use crate::exposition::{self, FamilyHead, SampleRef, Selector, StreamVisitor, Visitor};
use crate::report::document::DocumentFormat;
use crate::report::samples::{
    self, CSV_HEADER, CSV_HEADER_IN_CONTEXTS, LineFormat, NodeId, NodeLines, PromLines, PromMerge, PromNode,
    Store,
};
use crate::scrape::NodeScrape;
use crate::source::{FleetPlan, Gathered, SourcePlan, gather};
use crate::spool::Spool;

/// A `-o prom` node's lines move into the spool past this many bytes.
const DRAIN_AT: usize = 256 * 1024;

/// Room in a `-o prom` node's buffer: the drain threshold and the chunk that crosses it, so the
/// buffer is allocated once per node instead of grown (and copied) by doubling.
const NODE_BUFFER: usize = DRAIN_AT + 64 * 1024;

/// A `-o json` / `-o csv` node's lines move into its own spool past this many bytes: a node's
/// lines go out together when it is done, and a cadvisor payload's JSON is several megabytes,
/// times `--concurrency`. A `/metrics` payload's lines (about 0.5 MB) stay under it.
const LINES_DRAIN_AT: usize = 1024 * 1024;

/// `-o json` / `-o csv` lines of one node: those not yet drained, and those that passed
/// [`LINES_DRAIN_AT`] while the node was read (in a spool of its own, a temporary file removed
/// with it), with their length.
#[derive(Debug)]
struct SpooledLines {
    lines: NodeLines,
    drained: Option<(Spool, usize)>,
}

impl SpooledLines {
    /// Moves the lines so far into the node's spool once they pass [`LINES_DRAIN_AT`].
    fn drain_if_large(&mut self) -> io::Result<()> {
        if self.lines.out.len() < LINES_DRAIN_AT {
            return Ok(());
        }
        let (spool, len) = self.drained.get_or_insert_with(|| (Spool::new(0, std::env::temp_dir()), 0));
        spool.append(&self.lines.out)?;
        *len += self.lines.out.len();
        self.lines.out.clear();
        Ok(())
    }

    /// Every line of the node, drained ones first, to `out`.
    fn write_to(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if let Some((spool, len)) = &mut self.drained {
            spool.copy_to(0, *len, out)?;
        }
        out.write_all(&self.lines.out)
    }
}

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
    let in_contexts = matches!(plan, SourcePlan::Fleet(_));
    // One saved file is read once, never retried, and has nothing to merge with.
    let one_payload = matches!(plan, SourcePlan::Files { inputs, .. } if inputs.len() == 1);
    let mut writer = Writer::new(
        settings.output,
        &settings.document,
        settings.sort,
        in_contexts,
        one_payload,
        out,
        options.cancel.clone(),
    )?;
    let gathered = match plan {
        SourcePlan::Fleet(fleet) => return run_fleet(fleet, path, selector, writer, &options, err).await,
        SourcePlan::Cluster(cluster) => {
            let collection = collect_visits(cluster, path, selector, &options, &mut writer).await;
            writer.check()?;
            let collection = collection?;
            Gathered {
                method: Origin::Cluster(cluster.method),
                scrapes: collection.scrapes,
                warnings: collection.warnings,
            }
        }
        SourcePlan::Files { inputs, max_body } => {
            let mut scrapes = Vec::with_capacity(inputs.len());
            for input in inputs {
                let visitor = writer.start(&input.node);
                let (scrape, visitor) =
                    crate::files::visit(input, selector, *max_body, visitor, |v| writer.stream(v));
                writer.done(&scrape, visitor);
                writer.check()?;
                scrapes.push(scrape);
            }
            scrapes.sort_by(|a, b| a.node.cmp(&b.node));
            Gathered { method: Origin::Files, scrapes, warnings: Vec::new() }
        }
        SourcePlan::Prometheus(_) => {
            let mut gathered = gather(plan, path, selector, &options).await?;
            for scrape in &mut gathered.scrapes {
                let families = scrape.outcome.as_mut().map(|ok| std::mem::take(&mut ok.families));
                let visitor = families.as_ref().ok().map(|families| {
                    let mut text = Vec::new();
                    exposition::write(families, None, &mut text).map(|()| {
                        let mut parser = StreamVisitor::new(writer.start(&scrape.node), Selector::all());
                        parser.feed(&text);
                        parser.finish().0
                    })
                });
                writer.done(scrape, visitor.transpose()?);
                writer.check()?;
            }
            gathered
        }
    };
    // Nothing read (a selector that matches no node, names the cluster does not have) is said
    // once, as `histogram` says it, instead of each missing node's error.
    match plan.nothing_found_in(&gathered.scrapes) {
        Some(why) => {
            super::report_warnings(&gathered, err)?;
            writeln!(err, "{why}")?;
        }
        None => report_problems(&gathered, err)?,
    }
    let answered = gathered.scrapes.iter().filter(|s| s.outcome.is_ok()).count();
    if !selector.is_all() && answered > 0 && writer.samples == 0 {
        writeln!(
            err,
            "warning: -m {selector} matched nothing on the {answered} node(s) that answered; list the names with `kubelet-metrics get | grep -v '^#' | cut -d'{{' -f1 | sort -u`",
        )?;
    }
    super::write_near_misses(&gathered.scrapes, err)?;
    writer.finish()?;
    Ok(Outcome::from_scrapes(&gathered.scrapes))
}

/// One node's output while its payload is parsed.
#[derive(Debug)]
enum NodeWriter {
    /// `-o json` / `-o csv`.
    Lines(SpooledLines),
    /// `-o prom`, merged across nodes.
    Prom(PromNode),
    /// `-o prom` of a single payload, written as it is parsed.
    PromLines(PromLines),
}

impl Visitor for NodeWriter {
    fn family(&mut self, head: &FamilyHead) {
        match self {
            NodeWriter::Lines(lines) => lines.lines.family(head),
            NodeWriter::Prom(prom) => prom.family(head),
            NodeWriter::PromLines(lines) => lines.family(head),
        }
    }

    #[inline]
    fn sample(&mut self, sample: &SampleRef<'_>) {
        match self {
            NodeWriter::Lines(lines) => lines.lines.sample(sample),
            NodeWriter::Prom(prom) => prom.sample(sample),
            NodeWriter::PromLines(lines) => lines.sample(sample),
        }
    }
}

/// Where finished nodes go.
enum Sink {
    /// JSON or CSV lines, straight to the output as each node is done.
    Lines(LineFormat),
    /// JSON or CSV lines of each node, held in a spool and written by node at the end.
    Sorted { format: LineFormat, spool: Spool, blocks: Vec<(NodeId, u64, usize)> },
    /// Exposition text merged across nodes.
    Prom(RefCell<PromMerge<Spool>>),
    /// Exposition text of a single payload, straight to the output as it is parsed.
    PromLines,
}

/// `get`'s output: what each node writes, where it goes, and the first error on the way (a
/// failed write stops the run through `cancel`).
struct Writer<'a> {
    sink: Sink,
    out: &'a mut dyn Write,
    /// Samples written so far, over every node.
    samples: u64,
    error: RefCell<Option<io::Error>>,
    cancel: CancellationToken,
}

impl<'a> Writer<'a> {
    /// A writer for `output`; `in_contexts` when several clusters are read (a `context` column
    /// in the CSV header), `one_payload` when a single saved file is (`-o prom` goes straight
    /// out).
    fn new(
        output: GetOutput,
        document: &DocumentFormat,
        sort: bool,
        in_contexts: bool,
        one_payload: bool,
        out: &'a mut dyn Write,
        cancel: CancellationToken,
    ) -> io::Result<Self> {
        let format = match (output, document) {
            (GetOutput::Csv, _) => LineFormat::Csv,
            (GetOutput::Prom, _) | (_, DocumentFormat::Json) => LineFormat::Json,
            (GetOutput::Json | GetOutput::Yaml, document) => LineFormat::Document(document.clone()),
        };
        if output == GetOutput::Csv {
            out.write_all(if in_contexts { CSV_HEADER_IN_CONTEXTS } else { CSV_HEADER })?;
        }
        let sink = match output {
            GetOutput::Prom if one_payload => Sink::PromLines,
            GetOutput::Prom => Sink::Prom(RefCell::new(PromMerge::new(Spool::in_temp_dir()))),
            _ if sort => Sink::Sorted { format, spool: Spool::in_temp_dir(), blocks: Vec::new() },
            _ => Sink::Lines(format),
        };
        Ok(Writer { sink, out, samples: 0, error: RefCell::new(None), cancel })
    }

    /// Records the first error and stops the run.
    fn fail(&self, err: io::Error) {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(err);
        }
        self.cancel.cancel();
    }

    /// The first error, if a write failed.
    fn check(&self) -> io::Result<()> {
        match self.error.borrow_mut().take() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Writes what must wait for every node (`-o prom`, `--sort`), then flushes.
    fn finish(self) -> io::Result<()> {
        self.check()?;
        match self.sink {
            Sink::Lines(_) | Sink::PromLines => {}
            Sink::Sorted { mut spool, mut blocks, .. } => {
                blocks.sort_by(|a, b| a.0.cmp(&b.0));
                for (_, offset, len) in blocks {
                    spool.copy_to(offset, len, self.out)?;
                }
            }
            Sink::Prom(merge) => merge.into_inner().write(self.out)?,
        }
        self.out.flush()
    }

    /// Between chunks of a saved file (read one at a time, never retried): JSON and CSV lines go
    /// straight out, so even a huge file costs one chunk of memory.
    fn stream(&mut self, visitor: &mut NodeWriter) {
        match (&mut *visitor, &self.sink) {
            (NodeWriter::Lines(SpooledLines { lines: NodeLines { out, .. }, .. }), Sink::Lines(_))
            | (NodeWriter::PromLines(PromLines { out, .. }), Sink::PromLines) => {
                if let Err(err) = self.out.write_all(out) {
                    self.fail(err);
                }
                out.clear();
            }
            _ => self.chunk(visitor),
        }
    }

    /// A fresh visitor for node `id`.
    fn start_node(&self, id: &NodeId) -> NodeWriter {
        match &self.sink {
            Sink::Lines(format) | Sink::Sorted { format, .. } => {
                NodeWriter::Lines(SpooledLines { lines: NodeLines::new(format.clone(), id), drained: None })
            }
            Sink::Prom(_) => NodeWriter::Prom(PromNode::with_capacity(id.clone(), NODE_BUFFER)),
            Sink::PromLines => NodeWriter::PromLines(PromLines::new(id)),
        }
    }

    /// Node `id` is done: its lines go out (or into the spool or the merge).
    fn finish_node(&mut self, id: NodeId, scrape: &NodeScrape, visitor: Option<NodeWriter>) {
        let result = match visitor {
            Some(NodeWriter::Lines(lines)) => self.done_lines(id, scrape, lines),
            // A node that failed mid-way is dropped whole: exposition text has no way to mark it.
            Some(NodeWriter::Prom(node)) if scrape.outcome.is_ok() => {
                self.samples += node.samples;
                match &self.sink {
                    Sink::Prom(merge) => merge.borrow_mut().commit(node),
                    _ => Ok(()),
                }
            }
            // A file that failed mid-way keeps what was written as it was read, as CSV does.
            Some(NodeWriter::PromLines(lines)) => {
                self.samples += lines.samples;
                if scrape.outcome.is_ok() { self.out.write_all(&lines.out) } else { Ok(()) }
            }
            Some(NodeWriter::Prom(_)) | None => Ok(()),
        };
        if let Err(err) = result {
            self.fail(err);
        }
    }

    fn done_lines(&mut self, id: NodeId, scrape: &NodeScrape, mut node: SpooledLines) -> io::Result<()> {
        if let Err(failure) = &scrape.outcome {
            // JSON lines can say where a node stopped: its lines so far, then its error. A CSV
            // row cannot carry the error: the node's partial rows are dropped.
            if node.lines.samples == 0 || !node.lines.end_with_failure(&id, failure) {
                return Ok(());
            }
        }
        self.samples += node.lines.samples;
        match &mut self.sink {
            Sink::Sorted { spool, blocks, .. } => node.write_to(&mut IntoSpool { spool, blocks, id: &id }),
            _ => node.write_to(self.out),
        }
    }
}

/// Appends what is written to the `--sort` spool, each piece a block of node `id`.
struct IntoSpool<'a> {
    spool: &'a mut Spool,
    blocks: &'a mut Vec<(NodeId, u64, usize)>,
    id: &'a NodeId,
}

impl Write for IntoSpool<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if !bytes.is_empty() {
            let offset = self.spool.append(bytes)?;
            self.blocks.push((self.id.clone(), offset, bytes.len()));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl NodeVisits for Writer<'_> {
    type Visitor = NodeWriter;

    fn start(&self, node: &str) -> NodeWriter {
        self.start_node(&NodeId::node(node))
    }

    fn chunk(&self, visitor: &mut NodeWriter) {
        let drained = match (visitor, &self.sink) {
            (NodeWriter::Prom(node), Sink::Prom(merge)) if node.buffered() >= DRAIN_AT => {
                node.drain(merge.borrow_mut().store())
            }
            (NodeWriter::Lines(lines), _) => lines.drain_if_large(),
            _ => Ok(()),
        };
        if let Err(err) = drained {
            self.fail(err);
        }
    }

    fn done(&mut self, scrape: &NodeScrape, visitor: Option<NodeWriter>) {
        self.finish_node(NodeId::node(&scrape.node), scrape, visitor);
    }
}

/// One cluster's nodes of a multi-cluster run, written through the run's one [`Writer`] with
/// their context.
struct InContext<'w, 'o> {
    writer: &'w RefCell<Writer<'o>>,
    /// The context's place on the command line, and its name.
    context: (usize, String),
}

impl InContext<'_, '_> {
    fn id(&self, node: &str) -> NodeId {
        NodeId { context: Some(self.context.clone()), node: node.to_string() }
    }
}

impl NodeVisits for InContext<'_, '_> {
    type Visitor = NodeWriter;

    fn start(&self, node: &str) -> NodeWriter {
        self.writer.borrow().start_node(&self.id(node))
    }

    fn chunk(&self, visitor: &mut NodeWriter) {
        self.writer.borrow().chunk(visitor);
    }

    fn done(&mut self, scrape: &NodeScrape, visitor: Option<NodeWriter>) {
        let id = self.id(&scrape.node);
        self.writer.borrow_mut().finish_node(id, scrape, visitor);
    }
}

/// `get` over several clusters at once (each with its own `--concurrency` and `--qps`: they are
/// different API servers), streamed like one cluster: a `context` label before the `node` label
/// (`-o prom`), a `"context"` field (`-o json`) or a `context` column first (`-o csv`). `--sort`
/// and `-o prom` order by context (as given), then node. Diagnostics on stderr name the
/// context; a cluster that cannot be read is reported and the others go on. Progress bars are not
/// drawn: several at once would garble the terminal.
async fn run_fleet(
    fleet: &FleetPlan,
    path: &str,
    selector: &Selector,
    writer: Writer<'_>,
    options: &Options,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let contexts = fleet.context_names()?;
    let options = options.clone().with_progress(false);
    let writer = RefCell::new(writer);
    let runs = contexts.iter().enumerate().map(|(rank, context)| {
        let (plan, writer, options) = (fleet.cluster_in(context), &writer, &options);
        async move {
            let mut visits = InContext { writer, context: (rank, context.clone()) };
            let collection = collect_visits(&plan, path, selector, options, &mut visits).await;
            (context, plan.method, collection)
        }
    });
    let clusters = futures::future::join_all(runs).await;
    let writer = writer.into_inner();
    writer.check()?;
    let mut outcomes = Vec::new();
    for (context, method, collection) in clusters {
        let gathered = collection.map(|collection| Gathered {
            method: Origin::Cluster(method),
            scrapes: collection.scrapes,
            warnings: collection.warnings,
        });
        if let Some(gathered) = super::cluster_gathered(context, &gathered, &mut outcomes, err)? {
            outcomes.push(Outcome::from_scrapes(&gathered.scrapes));
        }
    }
    writer.finish()?;
    Ok(Outcome::combine(outcomes))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::Scraped;

    fn done(name: &str) -> NodeScrape {
        NodeScrape { node: name.to_string(), kubelet_version: None, outcome: Ok(Scraped::default()) }
    }

    /// A node's JSON lines as one unbroken parse writes them.
    fn whole(name: &str, text: &str) -> Vec<u8> {
        let mut parser =
            StreamVisitor::new(NodeLines::new(LineFormat::Json, &NodeId::node(name)), Selector::all());
        parser.feed(text.as_bytes());
        parser.finish().0.out
    }

    #[test]
    fn a_node_past_the_drain_bound_writes_every_line_once_and_together() {
        // About 3 MB of JSON lines: drained to the node's spool twice while it is read.
        let big: String =
            (0..40_000).map(|n| format!("x{{pod=\"pod-{n}\",namespace=\"ns\"}} {n}\n")).collect();
        let small = "y 1\n";
        for sort in [false, true] {
            let mut out = Vec::new();
            let mut writer = Writer::new(
                GetOutput::Json,
                &DocumentFormat::Json,
                sort,
                false,
                false,
                &mut out,
                CancellationToken::new(),
            )
            .expect("writer");
            let mut b = StreamVisitor::new(writer.start("b"), Selector::all());
            let (first, rest) = big.as_bytes().split_at(big.len() / 2);
            for chunk in first.chunks(64 * 1024) {
                b.feed(chunk);
                writer.chunk(b.visitor());
            }
            // Node c starts and finishes while b is still being read.
            let mut c = StreamVisitor::new(writer.start("c"), Selector::all());
            c.feed(small.as_bytes());
            writer.done(&done("c"), Some(c.finish().0));
            for chunk in rest.chunks(64 * 1024) {
                b.feed(chunk);
                writer.chunk(b.visitor());
            }
            assert!(
                matches!(b.visitor(), NodeWriter::Lines(SpooledLines { drained: Some((_, len)), .. }) if *len > LINES_DRAIN_AT)
            );
            writer.done(&done("b"), Some(b.finish().0));
            writer.finish().expect("written");
            let (b, c) = (whole("b", &big), whole("c", small));
            let expected = if sort { [b, c].concat() } else { [c, b].concat() };
            assert!(out == expected, "sort {sort}: {} bytes, expected {}", out.len(), expected.len());
        }
    }
}
