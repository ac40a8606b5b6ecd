//! The ground truth a simulated cluster reports about itself (`truth.json`, `GET /debug/truth`):
//! its nodes, their addresses and versions, and the exact pod-start histograms their kubelets serve.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Everything `truth.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// The API server's URL.
    #[serde(default)]
    pub api_url: String,
    /// Every node, sorted by name; a node's position is its index for `--fault INDEX=...`.
    pub nodes: Vec<NodeTruth>,
    /// Pods no node fits (`PodScheduled=False`, reason `Unschedulable`), by namespace and name.
    #[serde(default)]
    pub unscheduled_pods: Vec<PodTruth>,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeTruth {
    /// The node's name, e.g. `node-07`.
    pub name: String,
    /// Its InternalIP (always `127.0.0.1`).
    pub internal_ip: String,
    /// The kubelet's HTTPS port (`status.daemonEndpoints.kubeletEndpoint.Port`).
    pub kubelet_port: u16,
    /// e.g. `v1.33.4`.
    pub kubelet_version: String,
    /// `fast`, `typical`, `slow`, `pathological` or `old`.
    #[serde(default)]
    pub profile: String,
    /// How many simulated containers `/metrics/cadvisor` describes.
    #[serde(default)]
    pub containers: u32,
    /// The fault in effect, in its `--fault` spelling, if any.
    #[serde(default)]
    pub fault: Option<String>,
    /// `kubelet_pod_start_duration_seconds` exactly as the kubelet serves it now.
    pub pod_start: HistogramTruth,
    /// `kubelet_pod_start_sli_duration_seconds` exactly as the kubelet serves it now.
    #[serde(default)]
    pub pod_start_sli: Option<HistogramTruth>,
    /// Whether this kubelet records pods twice in `kubelet_pod_start_duration_seconds`
    /// (kubernetes#132268; kubesim's 1.33 and 1.34 kubelets do): once at its first sync, a few
    /// milliseconds after seeing it, and once when it runs. Its count is then twice its started
    /// pods plus its pods still starting; the SLI histogram counts each pod once.
    #[serde(default)]
    pub double_count: bool,
    /// `process_start_time_seconds` as the kubelet serves it: when it started (before its first
    /// pod), or when it last restarted; its histograms count from then.
    #[serde(default)]
    pub process_start_time_seconds: f64,
    /// The other pod-start stages the kubelet serves, exactly: `kubelet_pod_start_total_duration_seconds`
    /// and `kubelet_image_pull_duration_seconds` by `image_size_in_bytes` (1.29+ / 1.30+ kubelets),
    /// `kubelet_run_podsandbox_duration_seconds`, `kubelet_runtime_operations_duration_seconds` of
    /// the pod-start CRI operations, `kubelet_pod_worker_duration_seconds` by `operation_type` and
    /// `kubelet_pleg_relist_duration_seconds` (every version).
    #[serde(default)]
    pub stages: Vec<HistogramTruth>,
    /// The pods on this node, by namespace and name: one per start its kubelet recorded (a
    /// restart of the kubelet zeroes its histograms but keeps its pods), plus pods still starting.
    #[serde(default)]
    pub pods: Vec<PodTruth>,
}

/// One pod, and what its API object says about its start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodTruth {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `spec.nodeName`, when scheduled.
    pub node: Option<String>,
    /// The owning workload, `KIND/NAME`: a Deployment (not its ReplicaSet), else the controller
    /// (`StatefulSet/db`, `DaemonSet/kube-proxy`, `Job/report-3`).
    pub workload: String,
    /// `status.phase`.
    pub phase: String,
    /// `metadata.creationTimestamp`.
    pub created: String,
    /// Whether it mounts a volume other than secrets, config maps, the downward API, emptyDir
    /// and projected sources (the pod-startup SLO's stateful pods).
    pub stateful: bool,
    /// Whether it runs init containers.
    pub init_containers: bool,
    /// Whether a container restarted (its first start is no longer in the pod's status).
    pub restarted: bool,
    /// Seconds its kubelet spent pulling images for it (not visible in the pod object).
    pub image_pull_seconds: f64,
    /// What its kubelet's `kubelet_pod_start_duration_seconds` observed, exactly; `None` when
    /// it has not started.
    pub kubelet_seconds: Option<f64>,
    /// Whole seconds from creation to each milestone, as its timestamps (one-second resolution) say.
    pub latencies: PodLatencies,
}

/// Whole seconds from `metadata.creationTimestamp` to each milestone; `None` where the pod's
/// status does not say (not reached, or overwritten by a later transition).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodLatencies {
    /// `PodScheduled=True`.
    pub scheduled: Option<u64>,
    /// `Initialized=True`.
    pub initialized: Option<u64>,
    /// The earliest `startedAt` of its containers.
    pub first_container_started: Option<u64>,
    /// `ContainersReady=True`.
    pub containers_ready: Option<u64>,
    /// `Ready=True`.
    pub ready: Option<u64>,
}

/// One histogram's cumulative buckets, sum and count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramTruth {
    /// The metric family name.
    pub metric: String,
    /// The series' labels besides `le` (none for the pod-start histograms).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Cumulative buckets, ending with `+Inf`.
    pub buckets: Vec<Bucket>,
    /// The sum of observations.
    pub sum: f64,
    /// The number of observations.
    pub count: u64,
}

impl HistogramTruth {
    /// The same histogram with one more label.
    pub fn with_label(mut self, name: &str, value: &str) -> Self {
        self.labels.insert(name.to_string(), value.to_string());
        self
    }
}

/// One cumulative bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The upper bound; `+Inf` in JSON for the last bucket.
    #[serde(serialize_with = "serialize_le", deserialize_with = "deserialize_le")]
    pub le: f64,
    /// Observations less than or equal to `le`.
    pub count: u64,
}

fn serialize_le<S: Serializer>(le: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if le.is_infinite() { serializer.serialize_str("+Inf") } else { serializer.serialize_f64(*le) }
}

fn deserialize_le<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Le {
        Number(f64),
        Text(String),
    }
    match Le::deserialize(deserializer)? {
        Le::Number(n) => Ok(n),
        Le::Text(t) if t == "+Inf" => Ok(f64::INFINITY),
        Le::Text(t) => t.parse().map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inf_bucket_is_a_string() {
        let b = [Bucket { le: 0.5, count: 1 }, Bucket { le: f64::INFINITY, count: 2 }];
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, r#"[{"le":0.5,"count":1},{"le":"+Inf","count":2}]"#);
        let back: Vec<Bucket> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, b);
    }
}
