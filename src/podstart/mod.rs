//! Pod-start truth from the API server: what one pod object says about its start (created →
//! scheduled → initialized → first container started → containers ready → ready), and the
//! aggregation of many pods into exact quantiles per node, namespace and workload ([`aggregate`]).
//! Pure: pod objects come in parsed, the clock comes in as a value; listing them lives in
//! `cluster::pods`, rendering in `report::pods`.
//!
//! Pod objects are read into [`PodObject`], which holds only the fields used here, so a page of
//! 500 pods costs a fraction of a full `Pod` to parse and nothing else of it is kept.
//!
//! Every timestamp of a pod (`creationTimestamp`, conditions' `lastTransitionTime`, containers'
//! `startedAt`) is written with one-second resolution, so a latency read from them is a whole
//! number of seconds and the true value lies within a second of it either way.

pub mod aggregate;
pub mod crosscheck;

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// The fields of a `v1` `Pod` that pod-start latency needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PodObject {
    /// `metadata`.
    pub metadata: PodMetadata,
    /// `spec`.
    pub spec: PodSpec,
    /// `status`.
    pub status: PodStatus,
}

/// `metadata` of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodMetadata {
    /// `name`.
    pub name: String,
    /// `namespace`.
    pub namespace: String,
    /// `creationTimestamp`.
    pub creation_timestamp: Option<String>,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// `ownerReferences`.
    pub owner_references: Vec<OwnerReference>,
}

/// One entry of `metadata.ownerReferences`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OwnerReference {
    /// e.g. `ReplicaSet`.
    pub kind: String,
    /// The owner's name.
    pub name: String,
    /// Whether this owner is the managing controller.
    pub controller: Option<bool>,
}

/// `spec` of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    /// `nodeName`.
    pub node_name: Option<String>,
    /// `volumes`, each an object naming its source (`secret`, `persistentVolumeClaim`, ...).
    pub volumes: Vec<BTreeMap<String, serde::de::IgnoredAny>>,
    /// `initContainers` (only their number matters here).
    pub init_containers: Vec<serde::de::IgnoredAny>,
}

/// `status` of a pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatus {
    /// `phase`: Pending, Running, Succeeded, Failed, Unknown.
    pub phase: Option<String>,
    /// `conditions`.
    pub conditions: Vec<PodCondition>,
    /// `containerStatuses`.
    pub container_statuses: Vec<ContainerStatus>,
}

/// One pod condition.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodCondition {
    /// `type`, e.g. `Ready`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// When the condition last changed.
    pub last_transition_time: Option<String>,
    /// Why, e.g. `Unschedulable`, `PodCompleted`.
    pub reason: Option<String>,
}

/// One container's status.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStatus {
    /// The container's name.
    pub name: String,
    /// How many times it restarted.
    pub restart_count: u32,
    /// Its current state.
    pub state: ContainerState,
}

/// A container's state: at most one of running, terminated, waiting.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContainerState {
    /// Running since `startedAt`.
    pub running: Option<StartedAt>,
    /// Terminated; it started at `startedAt`.
    pub terminated: Option<StartedAt>,
}

/// A state with a `startedAt`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StartedAt {
    /// When the container started.
    pub started_at: Option<String>,
}

/// The milestones of a pod's start, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Milestone {
    /// `PodScheduled=True`.
    Scheduled,
    /// `Initialized=True` (init containers done).
    Initialized,
    /// The earliest `startedAt` of its containers (running or terminated).
    Started,
    /// `ContainersReady=True`.
    ContainersReady,
    /// `Ready=True`.
    Ready,
}

impl Milestone {
    /// Every milestone, in order.
    pub const ALL: [Milestone; 5] = [
        Milestone::Scheduled,
        Milestone::Initialized,
        Milestone::Started,
        Milestone::ContainersReady,
        Milestone::Ready,
    ];

    /// Its name in output: `scheduled`, `initialized`, `started`, `containers-ready`, `ready`.
    pub fn as_str(self) -> &'static str {
        match self {
            Milestone::Scheduled => "scheduled",
            Milestone::Initialized => "initialized",
            Milestone::Started => "started",
            Milestone::ContainersReady => "containers-ready",
            Milestone::Ready => "ready",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The condition type that marks it, if any.
    fn condition(self) -> Option<&'static str> {
        match self {
            Milestone::Scheduled => Some("PodScheduled"),
            Milestone::Initialized => Some("Initialized"),
            Milestone::Started => None,
            Milestone::ContainersReady => Some("ContainersReady"),
            Milestone::Ready => Some("Ready"),
        }
    }
}

impl fmt::Display for Milestone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a pod has no latency for a milestone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// Not there yet: the pod is still pending or starting.
    NotYet,
    /// A container restarted, so the status shows a later start or readiness, not the first.
    Restarted,
    /// The pod finished (Succeeded or Failed) and its readiness conditions describe the end.
    Finished,
    /// A timestamp is missing or is not RFC 3339.
    NoTimestamp,
    /// A timestamp lies before the pod's creation (the node's clock is behind the API server's).
    BeforeCreation,
}

impl Skip {
    /// The reason in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NotYet => "not yet reached",
            Skip::Restarted => "a container restarted (the first start is no longer recorded)",
            Skip::Finished => "the pod finished (its conditions describe the end)",
            Skip::NoTimestamp => "no readable timestamp",
            Skip::BeforeCreation => "a timestamp before the pod's creation (node clock behind)",
        }
    }

    /// A short key for JSON and CSV: `not_yet`, `restarted`, `finished`, `no_timestamp`,
    /// `before_creation`.
    pub fn key(self) -> &'static str {
        match self {
            Skip::NotYet => "not_yet",
            Skip::Restarted => "restarted",
            Skip::Finished => "finished",
            Skip::NoTimestamp => "no_timestamp",
            Skip::BeforeCreation => "before_creation",
        }
    }
}

/// One milestone of one pod: whole seconds after creation, or why not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    /// Reached this many seconds (a whole number) after creation.
    Seconds(f64),
    /// Not known, and why. `at_most` is an upper bound when the status shows a later occurrence
    /// (a restarted container's current start).
    Skipped {
        /// Why.
        why: Skip,
        /// Seconds after creation that the milestone was reached by at the latest, when known.
        at_most: Option<f64>,
    },
}

impl Latency {
    /// The seconds, when reached and known.
    pub fn seconds(&self) -> Option<f64> {
        match self {
            Latency::Seconds(s) => Some(*s),
            Latency::Skipped { .. } => None,
        }
    }
}

/// What kind of owner a pod belongs to, resolved to the workload people name: a Deployment
/// through its ReplicaSet, else the controlling owner (StatefulSet, DaemonSet, Job, ...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Workload {
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `ReplicaSet`, ..., or `Pod` for a bare pod.
    pub kind: String,
    /// The workload's name (the pod's own name for a bare pod).
    pub name: String,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// What one pod says about its start: small, owned, and all that aggregation keeps of it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodStart {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `spec.nodeName`, when scheduled.
    pub node: Option<String>,
    /// The workload that owns it.
    pub workload: Workload,
    /// `status.phase` (empty when absent).
    pub phase: String,
    /// `creationTimestamp` as Unix seconds (`None` when missing or unreadable).
    pub created: Option<i64>,
    /// Whether a volume is of a kind the pod-startup SLO calls stateful.
    pub stateful: bool,
    /// Whether it has init containers.
    pub init_containers: bool,
    /// One latency per [`Milestone`], in [`Milestone::ALL`] order.
    pub latencies: [Latency; 5],
    /// When every container had started: the latest `startedAt`, the moment the kubelet turns
    /// the pod's phase to Running and what `kubelet_pod_start_duration_seconds` times to.
    pub running: Latency,
}

/// The volume sources the pod-startup SLO allows for stateless pods
/// (kubernetes/community sig-scalability/slos/pod_startup_latency.md).
const STATELESS_VOLUMES: [&str; 5] = ["secret", "configMap", "downwardAPI", "emptyDir", "projected"];

/// Unix seconds of an RFC 3339 timestamp (fractions are kept).
pub fn parse_time(text: &str) -> Option<f64> {
    let timestamp: jiff::Timestamp = text.trim().parse().ok()?;
    Some(timestamp.as_second() as f64 + f64::from(timestamp.subsec_nanosecond()) / 1e9)
}

impl PodStart {
    /// Reads one pod object.
    ///
    /// ```
    /// use kubelet_metrics::podstart::{Milestone, PodObject, PodStart};
    /// let pod: PodObject = serde_json::from_str(r#"{
    ///   "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": "2025-01-01T00:00:00Z"},
    ///   "spec": {"nodeName": "node-a"},
    ///   "status": {"phase": "Running",
    ///     "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:07Z"}],
    ///     "containerStatuses": [{"name": "web", "restartCount": 0,
    ///                            "state": {"running": {"startedAt": "2025-01-01T00:00:05Z"}}}]}}"#)?;
    /// let start = PodStart::from_object(pod);
    /// assert_eq!(start.latency(Milestone::Started).seconds(), Some(5.0));
    /// assert_eq!(start.latency(Milestone::Ready).seconds(), Some(7.0));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn from_object(pod: PodObject) -> PodStart {
        let PodObject { metadata, spec, status } = pod;
        let created = metadata.creation_timestamp.as_deref().and_then(parse_time);
        let workload = workload_of(&metadata);
        let stateful = spec
            .volumes
            .iter()
            .any(|volume| volume.keys().any(|k| k != "name" && !STATELESS_VOLUMES.contains(&k.as_str())));
        let phase = status.phase.clone().unwrap_or_default();
        let finished = matches!(phase.as_str(), "Succeeded" | "Failed");
        let restarted = status.container_statuses.iter().any(|c| c.restart_count > 0);
        let latencies = Milestone::ALL.map(|m| latency(m, created, &status, finished, restarted));
        let running = running(created, &status, finished, restarted);
        PodStart {
            namespace: metadata.namespace,
            name: metadata.name,
            node: spec.node_name.filter(|n| !n.is_empty()),
            workload,
            phase,
            created: created.map(|c| c.floor() as i64),
            stateful,
            init_containers: !spec.init_containers.is_empty(),
            latencies,
            running,
        }
    }

    /// The latency of one milestone.
    pub fn latency(&self, milestone: Milestone) -> Latency {
        self.latencies[milestone.index()]
    }
}

/// The workload owning a pod: its controller, a ReplicaSet named `DEPLOYMENT-HASH` (the pod's
/// `pod-template-hash` label) counted as that Deployment.
fn workload_of(metadata: &PodMetadata) -> Workload {
    let owner = metadata
        .owner_references
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| metadata.owner_references.first());
    let Some(owner) = owner else {
        return Workload { kind: "Pod".into(), name: metadata.name.clone() };
    };
    if owner.kind == "ReplicaSet"
        && let Some(hash) = metadata.labels.get("pod-template-hash")
        && let Some(deployment) = owner.name.strip_suffix(&format!("-{hash}"))
    {
        return Workload { kind: "Deployment".into(), name: deployment.to_string() };
    }
    Workload { kind: owner.kind.clone(), name: owner.name.clone() }
}

/// The latest `startedAt` of its containers, once none is waiting: a pod whose containers have
/// not all started has not reached Running.
fn running(created: Option<f64>, status: &PodStatus, finished: bool, restarted: bool) -> Latency {
    let skip = |why: Skip| Latency::Skipped { why, at_most: None };
    let Some(created) = created else { return skip(Skip::NoTimestamp) };
    let states: Vec<Option<&str>> = status
        .container_statuses
        .iter()
        .map(|c| c.state.running.as_ref().or(c.state.terminated.as_ref()).map(|s| s.started_at.as_deref()))
        .map(|started| started.map(|at| at.unwrap_or_default()))
        .collect();
    if states.is_empty() || states.iter().any(Option::is_none) {
        return skip(if finished { Skip::Finished } else { Skip::NotYet });
    }
    let mut latest = 0.0f64;
    for text in states.into_iter().flatten() {
        let Some(at) = parse_time(text) else { return skip(Skip::NoTimestamp) };
        let seconds = at.floor() - created.floor();
        if seconds < 0.0 {
            return skip(Skip::BeforeCreation);
        }
        latest = latest.max(seconds);
    }
    if restarted {
        Latency::Skipped { why: Skip::Restarted, at_most: Some(latest) }
    } else {
        Latency::Seconds(latest)
    }
}

fn latency(
    milestone: Milestone,
    created: Option<f64>,
    status: &PodStatus,
    finished: bool,
    restarted: bool,
) -> Latency {
    let skip = |why: Skip| Latency::Skipped { why, at_most: None };
    let Some(created) = created else { return skip(Skip::NoTimestamp) };
    let since = |text: Option<&str>| -> Result<f64, Skip> {
        let at = text.and_then(parse_time).ok_or(Skip::NoTimestamp)?;
        let seconds = at.floor() - created.floor();
        if seconds < 0.0 { Err(Skip::BeforeCreation) } else { Ok(seconds) }
    };
    let Some(kind) = milestone.condition() else {
        // The first container start: the earliest `startedAt`, running or terminated.
        let starts: Vec<&str> = status
            .container_statuses
            .iter()
            .filter_map(|c| c.state.running.as_ref().or(c.state.terminated.as_ref()))
            .filter_map(|s| s.started_at.as_deref())
            .collect();
        if starts.is_empty() {
            return skip(if finished { Skip::Finished } else { Skip::NotYet });
        }
        let mut earliest: Option<f64> = None;
        for text in starts {
            match since(Some(text)) {
                Ok(s) => earliest = Some(earliest.map_or(s, |e: f64| e.min(s))),
                Err(why) => return skip(why),
            }
        }
        let earliest = earliest.expect("at least one start was read");
        return if restarted {
            Latency::Skipped { why: Skip::Restarted, at_most: Some(earliest) }
        } else {
            Latency::Seconds(earliest)
        };
    };
    let condition = status.conditions.iter().find(|c| c.kind == kind);
    match condition {
        Some(c) if c.status == "True" => match since(c.last_transition_time.as_deref()) {
            // Readiness follows restarts; scheduling and initialization do not.
            Ok(s) if restarted && matches!(milestone, Milestone::ContainersReady | Milestone::Ready) => {
                Latency::Skipped { why: Skip::Restarted, at_most: Some(s) }
            }
            Ok(s) => Latency::Seconds(s),
            Err(why) => skip(why),
        },
        _ if finished => skip(Skip::Finished),
        _ => skip(Skip::NotYet),
    }
}

#[cfg(test)]
mod tests;
