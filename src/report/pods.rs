//! `pods` output: the table (and its wide variant), JSON and CSV of a [`PodReport`]. Latencies
//! are whole seconds read from the pods' timestamps, so they print as `12s`; a group without a
//! latency for the milestone prints `-`. The numbers come from [`crate::podstart`].

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use crate::analysis::Stats;
use crate::catalog::POD_START_DURATION;
use crate::histogram::Histogram;
use crate::histogram::{format_number, quantile_name};
use crate::podstart::aggregate::nearest_rank;
use crate::podstart::aggregate::{Group, MilestoneStats, PodReport};
use crate::podstart::crosscheck::{Agreement, CheckVerdict, CrossCheck, MetricCheck, bucket_text};
use crate::podstart::{Latency, Milestone, Skip};
use crate::report::document::DocumentFormat;
use crate::report::json::number;
use crate::report::paint::{self, Tone};
use crate::report::{quantile_header, quantile_key};
use crate::slo::{Objective, Verdict};

/// Which groups a rendering shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    /// Per node.
    pub nodes: bool,
    /// Per namespace.
    pub namespaces: bool,
    /// Per workload.
    pub workloads: bool,
}

impl Sections {
    /// Every section.
    pub const ALL: Sections = Sections { nodes: true, namespaces: true, workloads: true };
}

/// `12s`, `0s`, `1.5s`, `-` when absent.
fn seconds(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{}s", format_number((v * 1000.0).round() / 1000.0)),
        Some(v) => format_number(v),
        None => "-".to_string(),
    }
}

/// A window as people say it: `2h`, `30m`, `90s`.
fn span(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    match whole {
        0 => format!("{}s", format_number(seconds)),
        w if w % 3600 == 0 => format!("{}h", w / 3600),
        w if w % 60 == 0 => format!("{}m", w / 60),
        w => format!("{w}s"),
    }
}

/// Writes the table; `wide` adds the mean and the skipped pods per group and every milestone
/// of the slowest pods.
pub fn table(
    report: &PodReport,
    sections: Sections,
    wide: bool,
    slo: Option<(&Objective, &Verdict)>,
    out: &mut (impl Write + ?Sized),
) -> io::Result<()> {
    let m = report.query.milestone;
    let window = match report.query.since {
        Some(since) => format!(", created in the last {}", span(since)),
        None => String::new(),
    };
    writeln!(
        out,
        "Pod start, creation → {m}: {} pods{window} (exact quantiles; timestamps have one-second resolution)",
        report.cluster.pods
    )?;
    writeln!(out)?;
    let quantiles = &report.query.quantiles;
    let all = [&report.cluster, &report.stateless, &report.stateful];
    groups(out, "SCOPE", &all, m, quantiles, wide, false)?;
    if sections.nodes {
        writeln!(out)?;
        groups(out, "NODE", &report.nodes.iter().collect::<Vec<_>>(), m, quantiles, wide, false)?;
    }
    if sections.namespaces {
        writeln!(out)?;
        groups(out, "NAMESPACE", &report.namespaces.iter().collect::<Vec<_>>(), m, quantiles, wide, false)?;
    }
    if sections.workloads {
        writeln!(out)?;
        groups(out, "WORKLOAD", &report.workloads.iter().collect::<Vec<_>>(), m, quantiles, wide, true)?;
    }
    if !report.slowest.is_empty() {
        writeln!(out)?;
        slowest(out, report, wide)?;
    }
    let skipped = &report.cluster.milestone(m).skipped;
    if !skipped.is_empty() {
        writeln!(out)?;
        let parts: Vec<String> = skipped.iter().map(|(why, n)| format!("{n} {}", why.as_str())).collect();
        writeln!(out, "Without a {m} latency: {}.", parts.join("; "))?;
    }
    if let Some((objective, verdict)) = slo {
        writeln!(out)?;
        writeln!(out, "{}", verdict_line(objective, m, verdict))?;
    }
    Ok(())
}

/// `SLO p99<=5s on ready of stateless pods: violated — …`: the verdict under the table, and on
/// stderr beside a document.
pub fn verdict_line(objective: &Objective, milestone: Milestone, verdict: &Verdict) -> String {
    format!(
        "SLO {objective} on {milestone} of stateless pods: {} — {}",
        verdict.state.as_str(),
        verdict.reason
    )
}

/// How `pods`' table is coloured on a terminal: its SLO line by verdict (violated red, unknown
/// yellow, holds green) and the rows of the slowest pods yellow.
pub fn tone(report: &PodReport) -> impl Fn(&str) -> Option<Tone> {
    let pods: Vec<String> = report.slowest.iter().map(|pod| pod.pod.clone()).collect();
    let pods = paint::escaped_names(&pods);
    move |line| paint::verdict_tone(line).or_else(|| paint::row_of(line, &pods).then_some(Tone::Warn))
}

/// The pod selection as it was typed: `-n NAMESPACE`, `-l SELECTOR`, `--field-selector SELECTOR`.
pub fn filters(namespace: Option<&str>, labels: Option<&str>, fields: Option<&str>) -> Vec<String> {
    [("-n", namespace), ("-l", labels), ("--field-selector", fields)]
        .into_iter()
        .filter_map(|(flag, value)| Some(format!("{flag} {}", value?)))
        .collect()
}

/// What `pods` says when no pod is left to report, the selection echoed:
/// `No pods match -l app=web --since 1s (12 pods listed, none created in the last 1s)`.
pub fn nothing_found(filters: &[String], since: Option<f64>, listed: usize) -> String {
    let mut asked = filters.to_vec();
    if let Some(since) = since {
        asked.push(format!("--since {}", span(since)));
    }
    match (asked.is_empty(), since) {
        (true, _) => "No pods found".to_string(),
        (false, Some(since)) if listed > 0 => format!(
            "No pods match {} ({listed} pod{} listed, none created in the last {})",
            asked.join(" "),
            if listed == 1 { "" } else { "s" },
            span(since)
        ),
        (false, _) => format!("No pods match {}", asked.join(" ")),
    }
}

fn groups(
    out: &mut (impl Write + ?Sized),
    title: &str,
    rows: &[&Group],
    m: Milestone,
    quantiles: &[f64],
    wide: bool,
    with_namespace: bool,
) -> io::Result<()> {
    let width = rows.iter().map(|g| g.name.chars().count()).max().unwrap_or(0).clamp(title.len(), 60);
    let ns_width = rows
        .iter()
        .filter_map(|g| g.namespace.as_deref().map(|n| n.chars().count()))
        .max()
        .unwrap_or(0)
        .max("NAMESPACE".len());
    let mut header = format!("{title:<width$}");
    if with_namespace {
        header.push_str(&format!("  {:<ns_width$}", "NAMESPACE"));
    }
    header.push_str(&format!(
        "  {:>6}  {:>6}",
        "PODS",
        m.as_str().to_uppercase().chars().take(6).collect::<String>()
    ));
    for q in quantiles {
        header.push_str(&format!("  {:>7}", quantile_header(*q)));
    }
    header.push_str(&format!("  {:>7}", "MAX"));
    if wide {
        header.push_str(&format!("  {:>7}  {:>7}", "MEAN", "SKIPPED"));
    }
    writeln!(out, "{}", header.trim_end())?;
    for group in rows {
        let stats = group.milestone(m);
        let mut line = format!("{:<width$}", group.name);
        if with_namespace {
            line.push_str(&format!("  {:<ns_width$}", group.namespace.as_deref().unwrap_or("")));
        }
        line.push_str(&format!("  {:>6}  {:>6}", group.pods, stats.count));
        for q in quantiles {
            line.push_str(&format!("  {:>7}", seconds(stats.quantile(*q))));
        }
        line.push_str(&format!("  {:>7}", seconds(stats.max)));
        if wide {
            let skipped: usize = stats.skipped.values().sum();
            line.push_str(&format!("  {:>7}  {:>7}", seconds(stats.mean), skipped));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn slowest(out: &mut (impl Write + ?Sized), report: &PodReport, wide: bool) -> io::Result<()> {
    let m = report.query.milestone;
    let pod_width = report.slowest.iter().map(|p| p.pod.chars().count()).max().unwrap_or(0).clamp(3, 80);
    let node_width = report
        .slowest
        .iter()
        .map(|p| p.node.as_deref().unwrap_or("-").chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let workload_width = report.slowest.iter().map(|p| p.workload.chars().count()).max().unwrap_or(0).max(8);
    writeln!(out, "Slowest pods to {m}:")?;
    let mut header =
        format!("{:<pod_width$}  {:<node_width$}  {:<workload_width$}", "POD", "NODE", "WORKLOAD");
    if wide {
        for milestone in Milestone::ALL {
            header.push_str(&format!("  {:>16}", milestone.as_str().to_uppercase()));
        }
    } else {
        header.push_str(&format!("  {:>7}", m.as_str().to_uppercase()));
    }
    writeln!(out, "{}", header.trim_end())?;
    for pod in &report.slowest {
        let mut line = format!(
            "{:<pod_width$}  {:<node_width$}  {:<workload_width$}",
            pod.pod,
            pod.node.as_deref().unwrap_or("-"),
            pod.workload
        );
        if wide {
            for value in &pod.milestones {
                line.push_str(&format!("  {:>16}", seconds(*value)));
            }
        } else {
            line.push_str(&format!("  {:>7}", seconds(Some(pod.seconds))));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn stats_json(stats: &MilestoneStats) -> Value {
    let quantiles: Map<String, Value> =
        stats.quantiles.iter().map(|(q, v)| (quantile_key(*q), number(*v))).collect();
    let skipped: Map<String, Value> =
        stats.skipped.iter().map(|(why, n)| (why.key().to_string(), json!(n))).collect();
    json!({
        "count": stats.count,
        "mean": stats.mean.map_or(Value::Null, number),
        "max": stats.max.map_or(Value::Null, number),
        "quantiles": quantiles,
        "skipped": skipped,
    })
}

fn group_json(group: &Group) -> Value {
    let milestones: Map<String, Value> =
        Milestone::ALL.iter().map(|m| (m.as_str().to_string(), stats_json(group.milestone(*m)))).collect();
    let mut value = json!({"name": group.name, "pods": group.pods, "milestones": milestones});
    if let Some(namespace) = &group.namespace {
        value["namespace"] = namespace.clone().into();
    }
    value
}

/// The verdict as JSON: `{"objective", "scope", "state", "observed", "lower_bound", "reason"}`.
pub fn verdict_json(objective: &Objective, verdict: &Verdict) -> Value {
    json!({
        "objective": objective.to_string(),
        "scope": verdict.scope,
        "state": verdict.state.as_str(),
        "observed": verdict.observed.map_or(Value::Null, number),
        "lower_bound": verdict.lower_bound,
        "reason": verdict.reason,
    })
}

/// How [`document`] is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One JSON object on one line.
    Json,
    /// One YAML document.
    Yaml,
}

/// Writes one document: the query, every group with every milestone, the slowest pods, the
/// verdict, the cross-check when asked, and every pod with its latencies (`null` and a
/// `skipped` reason where unknown). The pods come last and are written one by one, so the
/// document never holds 50,000 pods at once.
pub fn document(
    report: &PodReport,
    sections: Sections,
    slo: Option<(&Objective, &Verdict)>,
    cross_check: Option<&CrossCheck>,
    now_rfc3339: &str,
    encoding: Encoding,
    out: &mut (impl Write + ?Sized),
) -> io::Result<()> {
    let head = head_document(report, sections, slo, cross_check, now_rfc3339);
    if encoding == Encoding::Yaml {
        serde_norway::to_writer(&mut *out, &head).map_err(io::Error::other)?;
        if report.pods.is_empty() {
            return out.write_all(b"pods: []\n");
        }
        out.write_all(b"pods:\n")?;
        for pod in &report.pods {
            crate::report::document::write_record(&pod_json(pod), &DocumentFormat::Yaml, out)?;
        }
        return Ok(());
    }
    let head = serde_json::to_string(&head)?;
    out.write_all(head.strip_suffix('}').unwrap_or(&head).as_bytes())?;
    out.write_all(b",\"pods\":[")?;
    for (index, pod) in report.pods.iter().enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &pod_json(pod))?;
    }
    out.write_all(b"]}\n")
}

/// Everything of the document but the pods.
fn head_document(
    report: &PodReport,
    sections: Sections,
    slo: Option<(&Objective, &Verdict)>,
    cross_check: Option<&CrossCheck>,
    now_rfc3339: &str,
) -> Value {
    let groups = |rows: &[Group], on: bool| -> Value {
        if on { Value::Array(rows.iter().map(group_json).collect()) } else { Value::Null }
    };
    let slowest: Vec<Value> = report
        .slowest
        .iter()
        .map(|p| {
            let milestones: Map<String, Value> = Milestone::ALL
                .iter()
                .zip(&p.milestones)
                .map(|(m, v)| (m.as_str().to_string(), v.map_or(Value::Null, number)))
                .collect();
            json!({"pod": p.pod, "node": p.node, "workload": p.workload, "seconds": number(p.seconds), "milestones": milestones})
        })
        .collect();
    let mut document = json!({
        "milestone": report.query.milestone.as_str(),
        "now": now_rfc3339,
        "since_seconds": report.query.since.map_or(Value::Null, number),
        "listed": report.listed,
        "cluster": group_json(&report.cluster),
        "stateless": group_json(&report.stateless),
        "stateful": group_json(&report.stateful),
        "nodes": groups(&report.nodes, sections.nodes),
        "namespaces": groups(&report.namespaces, sections.namespaces),
        "workloads": groups(&report.workloads, sections.workloads),
        "slowest": slowest,
    });
    if let Some((objective, verdict)) = slo {
        document["slo"] = verdict_json(objective, verdict);
    }
    if let Some(check) = cross_check {
        document["cross_check"] = cross_check_json(check);
    }
    document
}

/// One pod: its latencies (`null` where unknown) and why each unknown one was skipped.
fn pod_json(p: &crate::podstart::PodStart) -> Value {
    let mut latencies = Map::new();
    let mut skipped = Map::new();
    for m in Milestone::ALL {
        match p.latency(m) {
            Latency::Seconds(s) => {
                latencies.insert(m.as_str().into(), number(s));
            }
            Latency::Skipped { why, .. } => {
                latencies.insert(m.as_str().into(), Value::Null);
                skipped.insert(m.as_str().into(), why.key().into());
            }
        }
    }
    json!({"namespace": p.namespace, "name": p.name, "node": p.node, "workload": p.workload.to_string(),
           "phase": p.phase, "stateful": p.stateful, "init_containers": p.init_containers,
           "latencies": latencies, "skipped": skipped})
}

/// Writes one CSV row per group: `group,name,namespace,pods,count,mean,max,p50,...,skipped`,
/// for the query's milestone.
pub fn csv(report: &PodReport, sections: Sections, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    let m = report.query.milestone;
    let mut writer = crate::report::csv::writer(out);
    let mut header: Vec<String> = ["group", "name", "namespace", "milestone", "pods", "count", "mean", "max"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(report.query.quantiles.iter().map(|q| quantile_name(*q)));
    header.extend(
        [Skip::NotYet, Skip::Restarted, Skip::Finished, Skip::NoTimestamp, Skip::BeforeCreation]
            .iter()
            .map(|s| format!("skipped_{}", s.key())),
    );
    writer.write_record(&header)?;
    let cell = |v: Option<f64>| v.map(format_number).unwrap_or_default();
    let mut write = |kind: &str, group: &Group| -> io::Result<()> {
        let stats = group.milestone(m);
        let mut row = vec![
            kind.to_string(),
            group.name.clone(),
            group.namespace.clone().unwrap_or_default(),
            m.as_str().to_string(),
            group.pods.to_string(),
            stats.count.to_string(),
            cell(stats.mean),
            cell(stats.max),
        ];
        for q in &report.query.quantiles {
            row.push(cell(stats.quantile(*q)));
        }
        for why in [Skip::NotYet, Skip::Restarted, Skip::Finished, Skip::NoTimestamp, Skip::BeforeCreation] {
            row.push(stats.skipped.get(&why).copied().unwrap_or(0).to_string());
        }
        writer.write_record(&row).map_err(io::Error::other)
    };
    for group in [&report.cluster, &report.stateless, &report.stateful] {
        write("scope", group)?;
    }
    for (kind, rows, on) in [
        ("node", &report.nodes, sections.nodes),
        ("namespace", &report.namespaces, sections.namespaces),
        ("workload", &report.workloads, sections.workloads),
    ] {
        if on {
            for group in rows {
                write(kind, group)?;
            }
        }
    }
    writer.flush()
}

/// The band edges of `pods --plot`, in seconds: whole seconds, so every band is exact.
const PLOT_BANDS: [f64; 3] = [1.0, 5.0, 30.0];

/// Writes `pods --plot`: one bar per node, slowest first as in the table, then every pod (`ALL`),
/// each split into the bands ≤1s, 1–5s, 5–30s and >30s of the milestone's latencies, with the
/// pods counted and their exact p99.
pub fn plot(report: &PodReport, out: &mut impl Write) -> io::Result<()> {
    let m = report.query.milestone;
    let stats = |node: Option<&str>| -> Stats {
        let mut latencies: Vec<f64> = report
            .pods
            .iter()
            .filter(|p| node.is_none() || p.node.as_deref() == node)
            .filter_map(|p| p.latency(m).seconds())
            .collect();
        latencies.sort_by(f64::total_cmp);
        let mut buckets: Vec<(f64, f64)> = PLOT_BANDS
            .iter()
            .map(|edge| (*edge, latencies.partition_point(|l| *l <= *edge) as f64))
            .collect();
        buckets.push((f64::INFINITY, latencies.len() as f64));
        let histogram = Histogram::from_cumulative(&buckets, latencies.iter().sum())
            .expect("the buckets end with +Inf and no bound is NaN");
        let mut stats = Stats::of(&histogram, &[], &PLOT_BANDS);
        stats.quantiles = nearest_rank(&latencies, 0.99).map(|v| (0.99, v)).into_iter().collect();
        stats
    };
    let mut rows: Vec<(String, Stats)> =
        report.nodes.iter().map(|g| (g.name.clone(), stats(Some(&g.name)))).collect();
    rows.push(("ALL".to_string(), stats(None)));
    let rows: Vec<(String, &Stats)> = rows.iter().map(|(name, stats)| (name.clone(), stats)).collect();
    let heading = format!("Pod start, creation → {m}, per node (from the API server)");
    crate::report::svg::render_rows(&format!("pods: creation → {m}"), &heading, "s", &rows, out)
}

/// Writes the cross-check: one row per node (the pods that started there since its kubelet did,
/// the histograms' counts, and each quantile from both sides), then each node's findings. `wide`
/// adds the pods the window could not place and the bucket of each kubelet quantile.
pub fn cross_check_table(check: &CrossCheck, wide: bool, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    writeln!(
        out,
        "Cross-check with each kubelet's histograms, over the pods created since it started \
         ({}: scheduled → running, timestamps within a second, buckets as served):",
        POD_START_DURATION
    )?;
    let width = check.nodes.iter().map(|n| n.node.chars().count()).max().unwrap_or(0).max(4);
    let version_width = check
        .nodes
        .iter()
        .map(|n| n.kubelet_version.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(0)
        .max(7);
    let mut header = format!(
        "{:<width$}  {:<version_width$}  {:<12}  {:>6}  {:>6}  {:>6}",
        "NODE", "VERSION", "VERDICT", "PODS", "COUNT", "SLI"
    );
    if wide {
        header.push_str(&format!(
            "  {:>7}  {:>7}  {:>9}  {:<14}",
            "BEFORE", "PENDING", "UNCERTAIN", "SLI MEANING"
        ));
    }
    for q in &check.quantiles {
        let name = quantile_header(*q);
        header.push_str(&format!("  {:>9}  {:>11}", format!("{name} PODS"), format!("{name} KUBELET")));
        if wide {
            header.push_str(&format!("  {:>15}", format!("{name} BUCKET")));
        }
    }
    writeln!(out, "{}", header.trim_end())?;
    for node in &check.nodes {
        let count = |m: Option<&MetricCheck>| m.map_or("-".to_string(), |m| m.count.to_string());
        let mut line = format!(
            "{:<width$}  {:<version_width$}  {:<12}  {:>6}  {:>6}  {:>6}",
            node.node,
            node.kubelet_version.as_deref().unwrap_or("-"),
            node.verdict.as_str(),
            node.kubelet_started.map_or("-".to_string(), |_| node.pods.started.to_string()),
            count(node.duration.as_ref()),
            count(node.sli.as_ref().map(|s| &s.metric)),
        );
        if wide {
            let meaning = node.sli.as_ref().and_then(|s| s.meaning).map_or("unknown", |m| m.as_str());
            line.push_str(&format!(
                "  {:>7}  {:>7}  {:>9}  {:<14}",
                node.pods.before_start, node.pods.pending, node.pods.uncertain, meaning
            ));
        }
        for (index, _) in check.quantiles.iter().enumerate() {
            let q = node.duration.as_ref().and_then(|d| d.quantiles.get(index));
            let mark = if q.is_some_and(|q| q.state == Agreement::Disagree) { "!" } else { "" };
            // A rank in the +Inf bucket: the estimate is the highest finite bound, a lower bound.
            let at_least =
                if q.and_then(|q| q.bucket).is_some_and(|(_, hi)| hi.is_infinite()) { "≥" } else { "" };
            line.push_str(&format!(
                "  {:>9}  {:>11}",
                seconds(q.and_then(|q| q.pods)),
                format!("{at_least}{}{mark}", seconds(q.and_then(|q| q.kubelet)))
            ));
            if wide {
                line.push_str(&format!("  {:>15}", q.map_or("-".to_string(), |q| bucket_text(q.bucket))));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    let verdicts =
        [CheckVerdict::Agree, CheckVerdict::DoubleCount, CheckVerdict::Disagree, CheckVerdict::Unknown];
    let tally: Vec<String> = verdicts
        .iter()
        .filter(|v| check.tally(**v) > 0)
        .map(|v| format!("{} {}", check.tally(*v), v.as_str()))
        .collect();
    if !tally.is_empty() {
        writeln!(out, "{} nodes: {}.", check.nodes.len(), tally.join(", "))?;
    }
    if check.nodes.iter().any(|n| {
        n.duration.as_ref().is_some_and(|d| d.quantiles.iter().any(|q| q.state == Agreement::Disagree))
    }) {
        writeln!(out, "! the kubelet's quantile lies outside what bucket and timestamp resolution explain.")?;
    }
    for node in check.nodes.iter().filter(|n| !n.findings.is_empty()) {
        for finding in &node.findings {
            writeln!(out, "{}: {finding}.", node.node)?;
        }
    }
    Ok(())
}

fn metric_check_json(metric: &MetricCheck) -> Value {
    let quantiles: Vec<Value> = metric
        .quantiles
        .iter()
        .map(|q| {
            json!({
                "q": number(q.q),
                "pods": q.pods.map_or(Value::Null, number),
                "kubelet": q.kubelet.map_or(Value::Null, number),
                "bucket": q.bucket.map_or(Value::Null, |(lo, hi)| json!([number(lo), number(hi)])),
                "state": q.state.as_str(),
            })
        })
        .collect();
    json!({
        "count": metric.count,
        "expected": [metric.expected.0, metric.expected.1],
        "count_state": metric.count_state.as_str(),
        "quantiles": quantiles,
    })
}

/// The cross-check as JSON: one object per node with its pods, both histograms' comparisons,
/// the verdict and the findings.
pub fn cross_check_json(check: &CrossCheck) -> Value {
    let nodes: Vec<Value> = check
        .nodes
        .iter()
        .map(|node| {
            let p = node.pods;
            json!({
                "node": node.node,
                "kubelet_version": node.kubelet_version,
                "kubelet_started": node.kubelet_started.map_or(Value::Null, number),
                "verdict": node.verdict.as_str(),
                "pods": {"started": p.started, "stateless": p.stateless, "stateless_scheduled_at_once": p.stateless_at_once,
                         "with_init_containers": p.with_init, "pending": p.pending, "before_kubelet_start": p.before_start,
                         "uncertain": p.uncertain},
                "duration": node.duration.as_ref().map_or(Value::Null, metric_check_json),
                "sli": node.sli.as_ref().map_or(Value::Null, |sli| {
                    let mut value = metric_check_json(&sli.metric);
                    value["meaning"] = sli.meaning.map_or(Value::Null, |m| m.as_str().into());
                    value["excludes"] = sli.meaning.map_or(Value::Null, |m| m.excludes().into());
                    value["meaning_from"] = sli.meaning_from.clone().into();
                    value
                }),
                "findings": node.findings,
            })
        })
        .collect();
    json!({"quantiles": check.quantiles.iter().map(|q| number(*q)).collect::<Vec<_>>(), "nodes": nodes})
}

/// Writes the cross-check as CSV, one row per node: the pods, both histograms' counts, each
/// quantile of `kubelet_pod_start_duration_seconds` from both sides with its bucket and state,
/// and the findings joined by `; `.
pub fn cross_check_csv(check: &CrossCheck, out: &mut (impl Write + ?Sized)) -> io::Result<()> {
    let mut writer = crate::report::csv::writer(out);
    let mut header: Vec<String> = [
        "node",
        "kubelet_version",
        "verdict",
        "pods_started",
        "pods_pending",
        "pods_before_kubelet_start",
        "pods_uncertain",
        "count",
        "count_expected_min",
        "count_expected_max",
        "count_state",
        "sli_count",
        "sli_meaning",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for q in &check.quantiles {
        let name = quantile_name(*q);
        header
            .extend(["pods", "kubelet", "bucket_low", "bucket_high", "state"].map(|k| format!("{name}_{k}")));
    }
    header.push("findings".to_string());
    writer.write_record(&header)?;
    let cell = |v: Option<f64>| v.map(format_number).unwrap_or_default();
    for node in &check.nodes {
        let d = node.duration.as_ref();
        let mut row = vec![
            node.node.clone(),
            node.kubelet_version.clone().unwrap_or_default(),
            node.verdict.as_str().to_string(),
            node.pods.started.to_string(),
            node.pods.pending.to_string(),
            node.pods.before_start.to_string(),
            node.pods.uncertain.to_string(),
            d.map(|d| d.count.to_string()).unwrap_or_default(),
            d.map(|d| d.expected.0.to_string()).unwrap_or_default(),
            d.map(|d| d.expected.1.to_string()).unwrap_or_default(),
            d.map(|d| d.count_state.as_str().to_string()).unwrap_or_default(),
            node.sli.as_ref().map(|s| s.metric.count.to_string()).unwrap_or_default(),
            node.sli.as_ref().and_then(|s| s.meaning).map(|m| m.as_str().to_string()).unwrap_or_default(),
        ];
        for index in 0..check.quantiles.len() {
            let q = d.and_then(|d| d.quantiles.get(index));
            row.push(cell(q.and_then(|q| q.pods)));
            row.push(cell(q.and_then(|q| q.kubelet)));
            row.push(cell(q.and_then(|q| q.bucket).map(|b| b.0)));
            row.push(cell(q.and_then(|q| q.bucket).map(|b| b.1)));
            row.push(q.map(|q| q.state.as_str().to_string()).unwrap_or_default());
        }
        row.push(node.findings.join("; "));
        writer.write_record(&row).map_err(io::Error::other)?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_pod_to_report_is_said_with_the_selection_echoed() {
        let filters = filters(Some("shop"), Some("app=web"), None);
        assert_eq!(
            nothing_found(&filters, Some(3600.0), 1286),
            "No pods match -n shop -l app=web --since 1h (1286 pods listed, none created in the last 1h)"
        );
        assert_eq!(nothing_found(&filters, None, 0), "No pods match -n shop -l app=web");
        assert_eq!(nothing_found(&[], Some(1.0), 0), "No pods match --since 1s");
        assert_eq!(nothing_found(&[], None, 0), "No pods found");
    }
    use crate::podstart::aggregate::{PodQuery, aggregate};
    use crate::podstart::{PodStart, Workload};

    fn sample() -> PodReport {
        let pod = |name: &str, node: &str, ns: &str, ready: Option<f64>, stateful: bool| PodStart {
            namespace: ns.into(),
            name: name.into(),
            node: Some(node.into()),
            workload: Workload { kind: "Deployment".into(), name: "web".into() },
            phase: "Running".into(),
            created: Some(1000),
            stateful,
            init_containers: false,
            latencies: [
                Latency::Seconds(0.0),
                Latency::Seconds(0.0),
                Latency::Seconds(ready.unwrap_or(1.0) - 1.0),
                ready.map_or(Latency::Skipped { why: Skip::NotYet, at_most: None }, Latency::Seconds),
                ready.map_or(Latency::Skipped { why: Skip::NotYet, at_most: None }, Latency::Seconds),
            ],
            running: Latency::Seconds(ready.unwrap_or(1.0) - 1.0),
        };
        let pods = vec![
            pod("web-1", "node-a", "default", Some(2.0), false),
            pod("web-2", "node-a", "default", Some(4.0), false),
            pod("db-0", "node-b", "shop", Some(30.0), true),
            pod("web-3", "node-b", "default", None, false),
        ];
        let mut query = PodQuery::new(Milestone::Ready, 1010.0);
        query.top = 2;
        aggregate(pods, &query)
    }

    #[test]
    fn the_table_shows_groups_slowest_first_and_the_slowest_pods() {
        let mut out = Vec::new();
        table(&sample(), Sections::ALL, false, None, &mut out).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap(), @"
        Pod start, creation → ready: 4 pods (exact quantiles; timestamps have one-second resolution)

        SCOPE        PODS   READY      P50      P90      P99      MAX
        all             4       3       4s      30s      30s      30s
        stateless       3       2       2s       4s       4s       4s
        stateful        1       1      30s      30s      30s      30s

        NODE      PODS   READY      P50      P90      P99      MAX
        node-b       2       1      30s      30s      30s      30s
        node-a       2       2       2s       4s       4s       4s

        NAMESPACE    PODS   READY      P50      P90      P99      MAX
        shop            1       1      30s      30s      30s      30s
        default         3       2       2s       4s       4s       4s

        WORKLOAD        NAMESPACE    PODS   READY      P50      P90      P99      MAX
        Deployment/web  shop            1       1      30s      30s      30s      30s
        Deployment/web  default         3       2       2s       4s       4s       4s

        Slowest pods to ready:
        POD            NODE    WORKLOAD          READY
        shop/db-0      node-b  Deployment/web      30s
        default/web-2  node-a  Deployment/web       4s

        Without a ready latency: 1 not yet reached.
        ");
    }

    #[test]
    fn json_and_csv_carry_every_group() {
        let report = sample();
        let mut out = Vec::new();
        document(&report, Sections::ALL, None, None, "2025-01-01T00:00:00Z", Encoding::Json, &mut out)
            .unwrap();
        let value: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["cluster"]["milestones"]["ready"]["quantiles"]["0.5"].as_f64(), Some(4.0));
        assert_eq!(value["cluster"]["milestones"]["ready"]["skipped"]["not_yet"], json!(1));
        assert_eq!(value["pods"][3]["skipped"]["ready"], "not_yet");
        assert_eq!(value["nodes"][0]["name"], "node-b");
        let mut out = Vec::new();
        csv(&report, Sections::ALL, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "group,name,namespace,milestone,pods,count,mean,max,p50,p90,p99,skipped_not_yet,"
            )
        );
        assert!(text.contains("\nscope,all,,ready,4,3,12,30,4,30,30,1,0,0,0,0\n"), "{text}");
    }

    #[test]
    fn the_cross_check_table_marks_what_resolution_cannot_explain() {
        use crate::podstart::crosscheck::{KubeletHistograms, NodeReading, cross_check};
        let histogram = |observations: &[f64]| {
            let mut buckets: Vec<(f64, f64)> = [1.0, 2.0, 5.0, 10.0]
                .iter()
                .map(|le| (*le, observations.iter().filter(|o| **o <= *le).count() as f64))
                .collect();
            buckets.push((f64::INFINITY, observations.len() as f64));
            Histogram::from_cumulative(&buckets, observations.iter().sum()).unwrap()
        };
        let reading = |node: &str, duration: &[f64]| NodeReading {
            node: node.into(),
            kubelet_version: Some("v1.32.7".into()),
            outcome: Ok(KubeletHistograms {
                started_at: Some(0.0),
                read_between: (5000.0, 5000.0),
                duration: Some(histogram(duration)),
                sli: None,
            }),
        };
        // sample(): node-a's pods ran 1 s and 3 s after creation (running = ready − 1), node-b's
        // 0 s and 29 s. node-b's kubelet says both took over 10 s: its p50 (rank 1) lies in
        // (10, +Inf), the pods' in (-1, 2).
        let report = sample();
        let readings = [
            reading("node-a", &[1.2, 1.4]),
            reading("node-b", &[60.0, 60.0]),
            NodeReading { node: "node-c".into(), kubelet_version: None, outcome: Err("timeout".into()) },
        ];
        let check = cross_check(&readings, &report.pods, &[0.5]);
        let mut out = Vec::new();
        cross_check_table(&check, false, &mut out).unwrap();
        insta::assert_snapshot!(String::from_utf8(out).unwrap(), @"
        Cross-check with each kubelet's histograms, over the pods created since it started (kubelet_pod_start_duration_seconds: scheduled → running, timestamps within a second, buckets as served):
        NODE    VERSION  VERDICT         PODS   COUNT     SLI   P50 PODS  P50 KUBELET
        node-a  v1.32.7  agree              2       2       -         1s         1.5s
        node-b  v1.32.7  disagree           2       2       -         0s        ≥10s!
        node-c  -        unknown            -       -       -          -            -
        3 nodes: 1 agree, 1 disagree, 1 unknown.
        ! the kubelet's quantile lies outside what bucket and timestamp resolution explain.
        node-b: p50: the kubelet's observation lies in (10s, +Inf), the pods' is 0s (scheduled → running).
        node-c: no histograms: timeout.
        ");
    }
}
