//! What the kubelets serve: exposition text built from real captured payloads (tests/fixtures/real/)
//! shared by every node, with each node's own parts (pod-start histograms, build info, containers)
//! spliced in. Templates are parsed once; a response is a list of chunks, most of them static slices.
//! Faults that change a body (truncate, garbage, huge, reset, slowbody) are applied here to the chunk stream.

use std::{fmt::Write as _, sync::OnceLock, time::Duration};

use bytes::Bytes;
use futures::{Stream, StreamExt, stream};

use crate::profile::{
    Histogram, IMAGE_PULL_DURATION, PLEG_RELIST_DURATION, POD_START_DURATION, POD_START_SLI_DURATION,
    POD_START_TOTAL_DURATION, POD_WORKER_DURATION, RUN_PODSANDBOX_DURATION, RUNTIME_OPERATIONS_DURATION,
    START_OPERATIONS, SplitMix64,
};

const METRICS_NEW: &str = include_str!("../../../tests/fixtures/real/kubelet-1.21.2-metrics.prom");
const METRICS_OLD: &str = include_str!("../../../tests/fixtures/real/kubelet-1.14.10-metrics.prom");
const CADVISOR_NEW: &str = include_str!("../../../tests/fixtures/real/kubelet-1.35.0-cadvisor.prom");
const CADVISOR_OLD: &str = include_str!("../../../tests/fixtures/real/kubelet-1.27.5-cadvisor.prom");
const PROBES: &str = include_str!("../../../tests/fixtures/real/kubelet-gke-probes.prom");
const SLIS: &str = include_str!("../../../tests/fixtures/real/kubelet-slis.prom");

/// The content type kubelets send with exposition text.
pub const EXPOSITION_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A chunked body being produced: a stream of byte chunks, plus its length when known up front.
pub type Chunks = std::pin::Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// What one node puts into its payloads.
#[derive(Debug, Clone)]
pub struct NodeView<'a> {
    /// The node's name.
    pub name: &'a str,
    /// Its position in the cluster, for deterministic synthetic ids.
    pub index: usize,
    /// e.g. `v1.33.4`.
    pub version: &'a str,
    /// Whether it uses the pre-1.29 template.
    pub old: bool,
    /// `kubelet_pod_start_duration_seconds`.
    pub duration: &'a Histogram,
    /// `kubelet_pod_start_sli_duration_seconds`.
    pub sli: &'a Histogram,
    /// `kubelet_pod_start_total_duration_seconds`, on kubelets that have it (1.29+).
    pub total: Option<&'a Histogram>,
    /// `kubelet_image_pull_duration_seconds` by size class (empty before 1.30: no family).
    pub image_pull: &'a std::collections::BTreeMap<&'static str, Histogram>,
    /// `kubelet_run_podsandbox_duration_seconds{runtime_handler=""}`.
    pub sandbox: &'a Histogram,
    /// `kubelet_runtime_operations_duration_seconds` of the CRI operations of pod starts.
    pub runtime: &'a std::collections::BTreeMap<&'static str, Histogram>,
    /// How many synthetic pods (one container each) cadvisor describes.
    pub containers: u32,
    /// `process_start_time_seconds`.
    pub process_start: f64,
    /// `kubelet_pod_worker_duration_seconds` by `operation_type`.
    pub pod_worker: &'a std::collections::BTreeMap<&'static str, Histogram>,
    /// `kubelet_pleg_relist_duration_seconds`.
    pub pleg_relist: &'a Histogram,
}

struct MetricsTemplate {
    /// Static text before the pod-start family (without the capture's PLEG relist family), between
    /// it and build info (without the capture's own sandbox and pod worker families), and after
    /// build info: the node writes its own of each.
    before_pod_start: Bytes,
    between: Vec<Between>,
    /// After build info: the text up to the capture's `process_start_time_seconds` sample, and
    /// after it (the node writes its own start).
    after_build_info: Bytes,
    after_process_start: Bytes,
}

/// A piece of the text between the pod-start family and build info.
enum Between {
    /// Captured text, as it is.
    Text(Bytes),
    /// Where the node's series of the pod-start CRI operations go: at the end of the captured
    /// runtime operations family, whose own series of those operations are left out.
    StartOperations,
}

fn line_start(text: &str, needle: &str) -> usize {
    text.find(needle).unwrap_or_else(|| panic!("template lacks {needle:?}"))
}

fn next_help_after(text: &str, from: usize) -> usize {
    text[from + 1..].find("\n# HELP ").map(|i| from + 1 + i + 1).unwrap_or(text.len())
}

impl MetricsTemplate {
    fn parse(text: &'static str) -> Self {
        let pod_start = line_start(text, &format!("# HELP {POD_START_DURATION} "));
        let pod_start_end = next_help_after(text, pod_start);
        let build = line_start(text, "\nkubernetes_build_info{") + 1;
        let build_end = text[build..].find('\n').map(|i| build + i + 1).unwrap_or(text.len());
        assert!(pod_start_end <= build, "templates have pod-start before build info");
        let mut after = text[build_end..].to_string();
        if !after.is_empty() && !after.ends_with('\n') {
            // The 1.14 capture lacks its final newline; a kubelet always sends one.
            after.push('\n');
        }
        // Cut the capture's sandbox family (the node writes its own), and its runtime operations
        // family's series of the pod-start operations (the node's go at the family's end).
        let mut cuts: Vec<(usize, usize)> = Vec::new();
        if let Some(at) = text[pod_start_end..build].find(&format!("# HELP {POD_WORKER_DURATION} ")) {
            let worker = pod_start_end + at;
            cuts.push((worker, next_help_after(text, worker)));
        }
        if let Some(at) = text[pod_start_end..build].find(&format!("# HELP {RUN_PODSANDBOX_DURATION} ")) {
            let sandbox = pod_start_end + at;
            cuts.push((sandbox, next_help_after(text, sandbox)));
        }
        let runtime = text[pod_start_end..build]
            .find(&format!("# HELP {RUNTIME_OPERATIONS_DURATION} "))
            .map(|at| pod_start_end + at)
            .expect("templates have the runtime operations family");
        let runtime_end = next_help_after(text, runtime);
        assert!(cuts.iter().all(|(_, end)| *end <= runtime), "templates have the sandbox family first");
        let mut between = Vec::new();
        let mut from = pod_start_end;
        for (start, end) in cuts {
            between.push(Between::Text(Bytes::from_static(&text.as_bytes()[from..start])));
            from = end;
        }
        between.push(Between::Text(Bytes::from_static(&text.as_bytes()[from..runtime])));
        let kept: String = text[runtime..runtime_end]
            .lines()
            .filter(|line| {
                !START_OPERATIONS.iter().any(|op| line.contains(&format!("operation_type=\"{op}\"")))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        between.push(Between::Text(Bytes::from(kept)));
        between.push(Between::StartOperations);
        between.push(Between::Text(Bytes::from_static(&text.as_bytes()[runtime_end..build])));
        let sample = line_start(&after, "\nprocess_start_time_seconds ") + 1;
        let sample_end = after[sample..].find('\n').map_or(after.len(), |i| sample + i + 1);
        let pleg = line_start(text, &format!("# HELP {PLEG_RELIST_DURATION} "));
        assert!(pleg < pod_start, "templates have PLEG before pod-start");
        let before = format!("{}{}", &text[..pleg], &text[next_help_after(text, pleg)..pod_start]);
        Self {
            before_pod_start: Bytes::from(before),
            between,
            after_build_info: Bytes::from(after[..sample].to_string()),
            after_process_start: Bytes::from(after[sample_end..].to_string()),
        }
    }
}

fn metrics_template(old: bool) -> &'static MetricsTemplate {
    static NEW: OnceLock<MetricsTemplate> = OnceLock::new();
    static OLD: OnceLock<MetricsTemplate> = OnceLock::new();
    if old {
        OLD.get_or_init(|| MetricsTemplate::parse(METRICS_OLD))
    } else {
        NEW.get_or_init(|| MetricsTemplate::parse(METRICS_NEW))
    }
}

/// Writes one histogram family in the text format, as client_golang does.
pub fn write_histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    write_histogram_series(out, name, help, &[("", h)]);
}

/// Writes one histogram family of several series, each given as its labels before `le`
/// (`image_size_in_bytes="0-10MB"`, or empty) and its histogram.
pub fn write_histogram_series(out: &mut String, name: &str, help: &str, series: &[(&str, &Histogram)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (labels, h) in series {
        let (open, braces) = if labels.is_empty() {
            (String::new(), String::new())
        } else {
            (format!("{labels},"), format!("{{{labels}}}"))
        };
        for (le, count) in h.bounds().iter().zip(h.cumulative()) {
            let _ = writeln!(out, "{name}_bucket{{{open}le=\"{le}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{open}le=\"+Inf\"}} {}", h.count());
        let _ = writeln!(out, "{name}_sum{braces} {}", h.sum());
        let _ = writeln!(out, "{name}_count{braces} {}", h.count());
    }
}

/// The two pod-start families of a node.
pub fn pod_start_text(node: &NodeView<'_>) -> String {
    let mut out = String::with_capacity(4096);
    let help = if node.old {
        "[ALPHA] Duration in seconds for a single pod to go from pending to running."
    } else {
        "[ALPHA] Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run"
    };
    write_histogram(&mut out, POD_START_DURATION, help, node.duration);
    write_histogram(
        &mut out,
        POD_START_SLI_DURATION,
        "[ALPHA] Duration in seconds to start a pod, excluding time to pull images and run init containers, \
         measured from pod creation timestamp to when all its containers are reported as started and observed \
         via watch",
        node.sli,
    );
    if let Some(total) = node.total {
        write_histogram(
            &mut out,
            POD_START_TOTAL_DURATION,
            "[ALPHA] Duration in seconds to start a pod since creation, including time to pull images and run init \
             containers, measured from pod creation timestamp to when all its containers are reported as started and \
             observed via watch",
            total,
        );
    }
    if !node.image_pull.is_empty() {
        let labels: Vec<(String, &Histogram)> = node
            .image_pull
            .iter()
            .map(|(class, h)| (format!("image_size_in_bytes=\"{class}\""), h))
            .collect();
        let series: Vec<(&str, &Histogram)> = labels.iter().map(|(l, h)| (l.as_str(), *h)).collect();
        write_histogram_series(
            &mut out,
            IMAGE_PULL_DURATION,
            "[ALPHA] Duration in seconds to pull an image.",
            &series,
        );
    }
    if !node.pod_worker.is_empty() {
        let labels: Vec<(String, &Histogram)> =
            node.pod_worker.iter().map(|(op, h)| (format!("operation_type=\"{op}\""), h)).collect();
        let series: Vec<(&str, &Histogram)> = labels.iter().map(|(l, h)| (l.as_str(), *h)).collect();
        write_histogram_series(
            &mut out,
            POD_WORKER_DURATION,
            "[ALPHA] Duration in seconds to sync a single pod. Broken down by operation type: create, update, or \
             sync",
            &series,
        );
    }
    write_histogram(
        &mut out,
        PLEG_RELIST_DURATION,
        "[ALPHA] Duration in seconds for relisting pods in PLEG.",
        node.pleg_relist,
    );
    write_histogram_series(
        &mut out,
        RUN_PODSANDBOX_DURATION,
        "[ALPHA] Duration in seconds of the run_podsandbox operations. Broken down by RuntimeClass.Handler.",
        &[("runtime_handler=\"\"", node.sandbox)],
    );
    out
}

/// The series of the pod-start CRI operations, without the family's HELP and TYPE (they are the
/// captured family's).
fn start_operations_text(node: &NodeView<'_>) -> String {
    let mut out = String::with_capacity(8192);
    let name = RUNTIME_OPERATIONS_DURATION;
    for (operation, h) in node.runtime {
        for (le, count) in h.bounds().iter().zip(h.cumulative()) {
            let _ = writeln!(out, "{name}_bucket{{operation_type=\"{operation}\",le=\"{le}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{operation_type=\"{operation}\",le=\"+Inf\"}} {}", h.count());
        let _ = writeln!(out, "{name}_sum{{operation_type=\"{operation}\"}} {}", h.sum());
        let _ = writeln!(out, "{name}_count{{operation_type=\"{operation}\"}} {}", h.count());
    }
    out
}

fn build_info_line(version: &str) -> String {
    let minor = version.trim_start_matches('v').split('.').nth(1).unwrap_or("0");
    let mut commit =
        SplitMix64::new(version.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)));
    let commit: String =
        (0..3).map(|_| format!("{:016x}", commit.next())).collect::<String>()[..40].to_string();
    format!(
        "kubernetes_build_info{{build_date=\"2025-07-15T18:39:04Z\",compiler=\"gc\",git_commit=\"{commit}\",\
         git_tree_state=\"clean\",git_version=\"{version}\",go_version=\"go1.24.4\",major=\"1\",minor=\"{minor}\",\
         platform=\"linux/amd64\"}} 1\n"
    )
}

/// `/metrics`: the real kubelet families of the node's version, with its pod-start histograms and build info.
pub fn metrics(node: &NodeView<'_>) -> Vec<Bytes> {
    let t = metrics_template(node.old);
    let mut chunks = vec![t.before_pod_start.clone(), Bytes::from(pod_start_text(node))];
    for piece in &t.between {
        chunks.push(match piece {
            Between::Text(text) => text.clone(),
            Between::StartOperations => Bytes::from(start_operations_text(node)),
        });
    }
    chunks.push(Bytes::from(build_info_line(node.version)));
    chunks.push(t.after_build_info.clone());
    chunks.push(Bytes::from(format!("process_start_time_seconds {}\n", node.process_start)));
    chunks.push(t.after_process_start.clone());
    chunks
}

/// A piece of a prototype line: literal text, or a value that differs per synthetic pod.
#[derive(Debug, Clone)]
enum Piece {
    Text(&'static str),
    PodName,
    PodUid,
    Container(usize),
}

struct Family {
    text: Bytes,
    prototype: Vec<Vec<Piece>>,
}

struct CadvisorTemplate {
    families: Vec<Family>,
}

impl CadvisorTemplate {
    fn parse(text: &'static str) -> Self {
        // The prototype pod: the one with the most series; its uid and container ids become holes.
        let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for line in text.lines() {
            if let Some(pod) = label(line, "pod").filter(|p| !p.is_empty()) {
                *counts.entry(pod).or_default() += 1;
            }
        }
        let pod = counts
            .iter()
            .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
            .map(|(p, _)| *p)
            .unwrap_or("");
        let proto_lines: Vec<&str> = text.lines().filter(|l| label(l, "pod") == Some(pod)).collect();
        let uid = proto_lines
            .iter()
            .filter_map(|l| label(l, "id"))
            .flat_map(|id| id.split('/'))
            .find_map(|part| part.strip_prefix("pod"))
            .unwrap_or("no-uid");
        let mut containers: Vec<&str> = Vec::new();
        for line in &proto_lines {
            if let Some(name) = label(line, "name").filter(|n| !n.is_empty() && !containers.contains(n)) {
                containers.push(name);
            }
        }
        let mut families = Vec::new();
        let mut start = 0;
        while start < text.len() {
            let end = next_help_after(text, start);
            let body = &text[start..end];
            let prototype = body
                .lines()
                .filter(|l| label(l, "pod") == Some(pod))
                .map(|l| split_holes(l, pod, uid, &containers))
                .collect();
            let mut owned = body.to_string();
            if !owned.ends_with('\n') {
                owned.push('\n');
            }
            families.push(Family { text: Bytes::from(owned), prototype });
            start = end;
        }
        Self { families }
    }
}

fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    if line.starts_with('#') {
        return None;
    }
    let open = line.find('{')?;
    let labels = &line[open..];
    let key = format!("{name}=\"");
    let at = labels
        .find(&format!("{{{key}"))
        .map(|i| i + 1)
        .or_else(|| labels.find(&format!(",{key}")).map(|i| i + 1))?;
    let value = &labels[at + key.len()..];
    value.find('"').map(|end| &value[..end])
}

fn split_holes(line: &'static str, pod: &str, uid: &str, containers: &[&str]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = line;
    loop {
        let mut best: Option<(usize, usize, Piece)> = None;
        let mut consider = |needle: &str, piece: Piece| {
            if needle.is_empty() {
                return;
            }
            if let Some(at) = rest.find(needle)
                && best.as_ref().is_none_or(|(b, _, _)| at < *b)
            {
                best = Some((at, needle.len(), piece));
            }
        };
        consider(&format!("\"{pod}\""), Piece::PodName);
        consider(uid, Piece::PodUid);
        for (i, c) in containers.iter().enumerate() {
            consider(c, Piece::Container(i));
        }
        match best {
            Some((at, len, piece)) => {
                pieces.push(Piece::Text(&rest[..at]));
                if matches!(piece, Piece::PodName) {
                    // Keep the quotes literal; the hole is the bare name.
                    pieces.push(Piece::Text("\""));
                    pieces.push(piece);
                    pieces.push(Piece::Text("\""));
                } else {
                    pieces.push(piece);
                }
                rest = &rest[at + len..];
            }
            None => {
                pieces.push(Piece::Text(rest));
                pieces.push(Piece::Text("\n"));
                return pieces;
            }
        }
    }
}

fn cadvisor_template(old: bool) -> &'static CadvisorTemplate {
    static NEW: OnceLock<CadvisorTemplate> = OnceLock::new();
    static OLD: OnceLock<CadvisorTemplate> = OnceLock::new();
    if old {
        OLD.get_or_init(|| CadvisorTemplate::parse(CADVISOR_OLD))
    } else {
        NEW.get_or_init(|| CadvisorTemplate::parse(CADVISOR_NEW))
    }
}

/// Parses every template now, so the first request does not pay for it.
pub fn warm_up() {
    for old in [false, true] {
        metrics_template(old);
        cadvisor_template(old);
    }
}

struct Synthetic {
    pod: String,
    uid: String,
    containers: Vec<String>,
}

fn synthetic_pod(node: &str, index: usize, k: u32) -> Synthetic {
    let mut rng = SplitMix64::new(((index as u64) << 32) ^ k as u64 ^ 0xc0ff_ee00);
    let suffix: String = (0..5).map(|_| (b'a' + (rng.next() % 26) as u8) as char).collect();
    let uid = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        rng.next() as u32,
        rng.next() as u16,
        rng.next() % 0x1000,
        rng.next() % 0x1000,
        rng.next() % (1 << 48)
    );
    let containers = (0..2).map(|_| (0..4).map(|_| format!("{:016x}", rng.next())).collect()).collect();
    Synthetic { pod: format!("sim-{node}-{k:04}-{suffix}"), uid, containers }
}

/// `/metrics/cadvisor`: the real capture of the node's generation plus `containers` synthetic pods
/// shaped like its busiest pod, produced chunk by chunk (tens of MB never sit in memory at once).
pub fn cadvisor(node: &NodeView<'_>) -> Chunks {
    let template = cadvisor_template(node.old);
    let pods: Vec<Synthetic> =
        (0..node.containers).map(|k| synthetic_pod(node.name, node.index, k)).collect();
    let pods = std::sync::Arc::new(pods);
    Box::pin(stream::iter(template.families.iter()).flat_map(move |family| {
        let pods = pods.clone();
        let head = stream::once(async move { family.text.clone() });
        let chunk_pods = 64usize;
        let batches = if family.prototype.is_empty() { 0 } else { pods.len().div_ceil(chunk_pods) };
        let body = stream::iter(0..batches).map(move |batch| {
            let mut out = String::with_capacity(64 * 1024);
            for pod in pods.iter().skip(batch * chunk_pods).take(chunk_pods) {
                for line in &family.prototype {
                    for piece in line {
                        match piece {
                            Piece::Text(t) => out.push_str(t),
                            Piece::PodName => out.push_str(&pod.pod),
                            Piece::PodUid => out.push_str(&pod.uid),
                            Piece::Container(i) => out.push_str(&pod.containers[*i % pod.containers.len()]),
                        }
                    }
                }
            }
            Bytes::from(out)
        });
        head.chain(body)
    }))
}

/// `/metrics/resource`, in the shape of a 1.29+ kubelet's resource metrics endpoint.
pub fn resource(node: &NodeView<'_>) -> Bytes {
    let ts = 1_767_225_600_000u64 + node.index as u64 * 1000;
    let pods: Vec<Synthetic> =
        (0..node.containers.min(50)).map(|k| synthetic_pod(node.name, node.index, k)).collect();
    let mut out = String::new();
    let mut rng = SplitMix64::new(node.index as u64 ^ 0x7e50);
    out.push_str("# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds\n# TYPE container_cpu_usage_seconds_total counter\n");
    for p in &pods {
        let _ = writeln!(
            out,
            "container_cpu_usage_seconds_total{{container=\"app\",namespace=\"sim\",pod=\"{}\"}} {:.6} {ts}",
            p.pod,
            rng.unit() * 500.0
        );
    }
    out.push_str("# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes\n# TYPE container_memory_working_set_bytes gauge\n");
    for p in &pods {
        let _ = writeln!(
            out,
            "container_memory_working_set_bytes{{container=\"app\",namespace=\"sim\",pod=\"{}\"}} {} {ts}",
            p.pod,
            rng.range(8 << 20, 512 << 20)
        );
    }
    out.push_str("# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds\n# TYPE container_start_time_seconds gauge\n");
    for p in &pods {
        let _ = writeln!(
            out,
            "container_start_time_seconds{{container=\"app\",namespace=\"sim\",pod=\"{}\"}} {} {ts}",
            p.pod,
            1_767_000_000 + rng.range(0, 200_000)
        );
    }
    out.push_str("# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds\n# TYPE node_cpu_usage_seconds_total counter\n");
    let _ = writeln!(out, "node_cpu_usage_seconds_total {:.6} {ts}", 10_000.0 + rng.unit() * 5000.0);
    out.push_str("# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes\n# TYPE node_memory_working_set_bytes gauge\n");
    let _ = writeln!(out, "node_memory_working_set_bytes {} {ts}", rng.range(2 << 30, 12 << 30));
    out.push_str("# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds\n# TYPE pod_cpu_usage_seconds_total counter\n");
    for p in &pods {
        let _ = writeln!(
            out,
            "pod_cpu_usage_seconds_total{{namespace=\"sim\",pod=\"{}\"}} {:.6} {ts}",
            p.pod,
            rng.unit() * 500.0
        );
    }
    out.push_str("# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes\n# TYPE pod_memory_working_set_bytes gauge\n");
    for p in &pods {
        let _ = writeln!(
            out,
            "pod_memory_working_set_bytes{{namespace=\"sim\",pod=\"{}\"}} {} {ts}",
            p.pod,
            rng.range(8 << 20, 512 << 20)
        );
    }
    out.push_str("# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n");
    Bytes::from(out)
}

/// `/metrics/probes`: the real GKE capture.
pub fn probes() -> Bytes {
    Bytes::from_static(PROBES.as_bytes())
}

/// `/metrics/slis`: the real capture of a kubelet's healthchecks (`log`, `ping`, `syncloop`).
pub fn slis() -> Bytes {
    Bytes::from_static(SLIS.as_bytes())
}

/// `/pods`: a PodList of the node's synthetic pods.
pub fn pods(node: &NodeView<'_>) -> Bytes {
    let items: Vec<serde_json::Value> = (0..node.containers.min(20))
        .map(|k| {
            let p = synthetic_pod(node.name, node.index, k);
            serde_json::json!({
                "metadata": {"name": p.pod, "namespace": "sim", "uid": p.uid},
                "spec": {"nodeName": node.name, "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]},
                "status": {"phase": "Running"}
            })
        })
        .collect();
    let list = serde_json::json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items});
    Bytes::from(serde_json::to_vec(&list).unwrap_or_default())
}

/// `/stats/summary`: the Summary API's node part and the node's synthetic pods, in brief.
pub fn summary(node: &NodeView<'_>) -> Bytes {
    let time = "2026-01-01T00:00:00Z";
    let pods: Vec<serde_json::Value> = (0..node.containers.min(20))
        .map(|k| {
            let p = synthetic_pod(node.name, node.index, k);
            serde_json::json!({
                "podRef": {"name": p.pod, "namespace": "sim", "uid": p.uid},
                "startTime": time,
                "cpu": {"time": time, "usageNanoCores": 1_000_000 + u64::from(k) * 1000},
                "memory": {"time": time, "workingSetBytes": 16_777_216 + u64::from(k) * 4096},
            })
        })
        .collect();
    let summary = serde_json::json!({
        "node": {
            "nodeName": node.name,
            "startTime": time,
            "cpu": {"time": time, "usageNanoCores": 250_000_000u64, "usageCoreNanoSeconds": 123_456_789_000u64},
            "memory": {"time": time, "workingSetBytes": 2_147_483_648u64, "rssBytes": 1_073_741_824u64},
        },
        "pods": pods,
    });
    Bytes::from(serde_json::to_vec(&summary).unwrap_or_default())
}

/// Malformed lines a `garbage` kubelet inserts.
pub const GARBAGE: &str = "kubelet_garbage{le=\"0.5\" 12 !!\n\u{1}\u{2} this is not exposition text\n{broken=\"x\"} NaNx\nkubelet_runtime_operations_total{operation_type=\"list\"\n";

/// Inserts malformed lines after the first chunk and before the last.
pub fn garbage(chunks: Chunks) -> Chunks {
    let garbage = Bytes::from_static(GARBAGE.as_bytes());
    Box::pin(chunks.enumerate().flat_map(move |(i, chunk)| {
        let extra = if i == 0 { vec![chunk, garbage.clone()] } else { vec![chunk] };
        stream::iter(extra)
    }))
}

/// Ends the stream after `limit` bytes, never just after a newline, so the last line is cut.
pub fn truncate(chunks: Chunks, limit: u64) -> Chunks {
    Box::pin(
        chunks
            .scan(0u64, move |sent, chunk| {
                if *sent >= limit {
                    return std::future::ready(None);
                }
                let room = (limit - *sent) as usize;
                let mut chunk = if chunk.len() > room { chunk.slice(..room) } else { chunk };
                *sent += chunk.len() as u64;
                if *sent >= limit && chunk.ends_with(b"\n") {
                    chunk = chunk.slice(..chunk.len() - 1);
                }
                std::future::ready(Some(chunk))
            })
            .filter(|c| std::future::ready(!c.is_empty())),
    )
}

/// How many pieces a `slowbody` kubelet splits its body into.
pub const TRICKLE_PIECES: u64 = 100;

/// Sends the body in [`TRICKLE_PIECES`] even pieces, each after a pause of `over / TRICKLE_PIECES`, so
/// the whole body takes `over` (bodies of unknown length go in 16 KiB pieces at the same pace).
pub fn trickle(chunks: Chunks, known_len: Option<u64>, over: Duration) -> Chunks {
    let piece = known_len.map_or(16 * 1024, |len| len.div_ceil(TRICKLE_PIECES).max(1)) as usize;
    let pause = over / TRICKLE_PIECES as u32;
    // Pieces are cut across chunk boundaries, so their number does not depend on how the
    // payload happens to be chunked.
    let pieces = stream::unfold(
        (chunks, bytes::BytesMut::new(), false),
        move |(mut chunks, mut buf, mut done)| async move {
            while !done && buf.len() < piece {
                match chunks.next().await {
                    Some(chunk) => buf.extend_from_slice(&chunk),
                    None => done = true,
                }
            }
            if buf.is_empty() {
                return None;
            }
            let next = buf.split_to(piece.min(buf.len())).freeze();
            tokio::time::sleep(pause).await;
            Some((next, (chunks, buf, done)))
        },
    );
    Box::pin(pieces)
}

/// Valid padding series appended to reach `total` bytes, in 64 KB chunks.
pub fn pad_to(chunks: Chunks, already: u64, total: u64) -> Chunks {
    const HEAD: &str = "# HELP kubesim_padding_info Padding added by the huge fault of kubesim.\n# TYPE kubesim_padding_info gauge\n";
    if total <= already {
        return chunks;
    }
    let missing = total - already;
    let padding = stream::unfold((0u64, 0u64), move |(written, line)| async move {
        if written >= missing {
            return None;
        }
        let mut out = String::with_capacity(65 * 1024);
        if line == 0 {
            out.push_str(HEAD);
        }
        let mut line = line;
        while out.len() < 64 * 1024 && written + (out.len() as u64) < missing {
            let _ =
                writeln!(out, "kubesim_padding_info{{line=\"{line:010}\",filler=\"{}\"}} 1", "x".repeat(64));
            line += 1;
        }
        let len = out.len() as u64;
        Some((Bytes::from(out), (written + len, line)))
    });
    Box::pin(chunks.chain(padding))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{NEW_BUCKETS, OLD_BUCKETS};

    static NO_PULLS: std::collections::BTreeMap<&'static str, Histogram> = std::collections::BTreeMap::new();
    static NO_WORKER: std::collections::BTreeMap<&'static str, Histogram> = std::collections::BTreeMap::new();

    fn view<'a>(d: &'a Histogram, s: &'a Histogram, old: bool) -> NodeView<'a> {
        NodeView {
            name: "node-1",
            index: 1,
            version: "v1.33.4",
            old,
            duration: d,
            sli: s,
            total: (!old).then_some(d),
            image_pull: &NO_PULLS,
            sandbox: s,
            runtime: &NO_PULLS,
            containers: 3,
            process_start: 1_700_000_000.5,
            pod_worker: &NO_WORKER,
            pleg_relist: s,
        }
    }

    #[test]
    fn metrics_keep_the_real_families_and_replace_pod_start() {
        let mut d = Histogram::new(&NEW_BUCKETS);
        d.observe(0.7);
        let s = Histogram::new(&NEW_BUCKETS);
        let body: Vec<u8> = metrics(&view(&d, &s, false)).concat();
        let text = String::from_utf8(body).unwrap();
        assert!(text.len() > 230_000, "{}", text.len());
        assert_eq!(text.matches("# HELP kubelet_pod_start_duration_seconds ").count(), 1);
        assert!(text.contains("kubelet_pod_start_duration_seconds_bucket{le=\"1\"} 1\n"));
        assert!(text.contains("kubelet_pod_start_sli_duration_seconds_count 0\n"));
        assert!(text.contains("git_version=\"v1.33.4\""));
        assert_eq!(text.matches("\nprocess_start_time_seconds ").count(), 1);
        assert!(
            text.contains("\nprocess_start_time_seconds 1700000000.5\n# HELP process_virtual_memory_bytes ")
        );
        // The capture's own sandbox family is replaced by the node's, never repeated.
        assert_eq!(text.matches("# TYPE kubelet_run_podsandbox_duration_seconds histogram").count(), 1);
        assert!(text.contains("kubelet_run_podsandbox_duration_seconds_count{runtime_handler=\"\"} 0\n"));
        assert!(text.contains("kubelet_pod_start_total_duration_seconds_bucket{le=\"1\"} 1\n"));
        // The captured pull_image series are left out (the node's own go in their place); the
        // captured listing series stay.
        assert!(
            !text
                .contains("kubelet_runtime_operations_duration_seconds_bucket{operation_type=\"pull_image\"")
        );
        assert!(text.contains(
            "kubelet_runtime_operations_duration_seconds_count{operation_type=\"list_images\"} 316914\n"
        ));
        assert!(!text.contains("git_version=\"v1.21.2\""));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn old_metrics_have_old_buckets_and_a_final_newline() {
        let d = Histogram::new(&OLD_BUCKETS);
        let s = Histogram::new(&NEW_BUCKETS);
        let text = String::from_utf8(metrics(&view(&d, &s, true)).concat()).unwrap();
        assert!(text.contains("kubelet_pod_start_duration_seconds_bucket{le=\"0.005\"} 0\n"));
        assert!(!text.contains("gitVersion=\"v1.14.10\""));
        assert!(text.ends_with("kubelet_evictions{eviction_signal=\"memory.available\"} 3\n"));
    }

    #[tokio::test]
    async fn cadvisor_grows_with_containers() {
        let d = Histogram::new(&NEW_BUCKETS);
        let mut v = view(&d, &d, false);
        v.containers = 0;
        let base: usize = cadvisor(&v).map(|c| c.len()).collect::<Vec<_>>().await.iter().sum();
        v.containers = 10;
        let text: Vec<Bytes> = cadvisor(&v).collect().await;
        let text = String::from_utf8(text.concat()).unwrap();
        assert!(text.len() > base + 10 * 50_000, "{} vs {base}", text.len());
        assert!(text.contains("pod=\"sim-node-1-0009-"));
        assert!(text.lines().all(|l| l.is_empty() || l.starts_with('#') || l.contains(' ')));
    }

    #[tokio::test]
    async fn truncate_cuts_mid_line_and_pad_reaches_size() {
        let chunks: Chunks = Box::pin(stream::iter(vec![Bytes::from_static(b"a 1\nb 2\n")]));
        let cut: Vec<Bytes> = truncate(chunks, 4).collect().await;
        assert_eq!(cut.concat(), b"a 1");
        let chunks: Chunks = Box::pin(stream::iter(vec![Bytes::from_static(b"a 1\n")]));
        let padded: Vec<Bytes> = pad_to(chunks, 4, 200_000).collect().await;
        let len: usize = padded.iter().map(|c| c.len()).sum();
        assert!((200_000..200_200).contains(&len), "{len}");
    }

    #[tokio::test]
    async fn trickle_sends_the_same_bytes_in_even_pieces_over_the_duration() {
        // 1,000 bytes in uneven chunks: 100 pieces of 10 bytes, 1 ms apart.
        let body: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let chunks: Chunks = Box::pin(stream::iter(vec![
            Bytes::copy_from_slice(&body[..7]),
            Bytes::copy_from_slice(&body[7..]),
        ]));
        let started = std::time::Instant::now();
        let pieces: Vec<Bytes> = trickle(chunks, Some(1000), Duration::from_millis(100)).collect().await;
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(pieces.len(), 100);
        assert!(pieces.iter().all(|p| p.len() == 10));
        assert_eq!(pieces.concat(), body);
    }
}
