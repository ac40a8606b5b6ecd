//! Simulated pods, consistent with the kubelets' pod-start histograms: every start a node's
//! kubelet recorded is one pod whose conditions and container states say the same thing at the
//! API's one-second resolution, plus pods that have not started yet (image still pulling, or no
//! node fits). Which workloads exist, how a pod's timeline is drawn, the `v1` `Pod` JSON the API
//! server lists, and the truth about each pod. Listing and selectors live in `apiserver::pods`.

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::http::rfc3339;
use crate::profile::SplitMix64;
use crate::truth::{PodLatencies, PodTruth};

/// What a workload's pods mount, which decides whether the pod-startup SLO calls them stateless
/// (volumes only from secrets, config maps, the downward API, emptyDir and projected sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Volumes {
    /// The service-account token (projected) and an emptyDir.
    Stateless,
    /// A persistent volume claim.
    Claim,
    /// A hostPath volume.
    HostPath,
}

/// One workload that owns simulated pods.
#[derive(Debug)]
pub(crate) struct Workload {
    pub namespace: &'static str,
    /// `Deployment`, `StatefulSet`, `DaemonSet` or `Job`.
    pub kind: &'static str,
    pub name: &'static str,
    /// Whether its pods run an init container first.
    pub init: bool,
    pub volumes: Volumes,
    /// Application containers.
    pub containers: &'static [&'static str],
    /// Relative share of the pods.
    pub weight: u64,
    /// The hash in its ReplicaSet's name or its controller revision.
    pub hash: &'static str,
}

/// The workloads of every simulated cluster.
pub(crate) const WORKLOADS: [Workload; 7] = [
    Workload {
        namespace: "default",
        kind: "Deployment",
        name: "web",
        init: false,
        volumes: Volumes::Stateless,
        containers: &["nginx"],
        weight: 30,
        hash: "7d4b9c6f5d",
    },
    Workload {
        namespace: "default",
        kind: "Deployment",
        name: "api",
        init: false,
        volumes: Volumes::Stateless,
        containers: &["api", "envoy"],
        weight: 20,
        hash: "5f8c7b9d46",
    },
    Workload {
        namespace: "shop",
        kind: "Deployment",
        name: "cart",
        init: true,
        volumes: Volumes::Stateless,
        containers: &["cart"],
        weight: 15,
        hash: "6c9d8f7b5",
    },
    Workload {
        namespace: "shop",
        kind: "StatefulSet",
        name: "db",
        init: false,
        volumes: Volumes::Claim,
        containers: &["postgres"],
        weight: 8,
        hash: "db-6b7f9c8d5",
    },
    Workload {
        namespace: "monitoring",
        kind: "DaemonSet",
        name: "node-exporter",
        init: false,
        volumes: Volumes::HostPath,
        containers: &["node-exporter"],
        weight: 7,
        hash: "8f5c6d9b7",
    },
    Workload {
        namespace: "batch",
        kind: "Job",
        name: "report",
        init: false,
        volumes: Volumes::Stateless,
        containers: &["report"],
        weight: 12,
        hash: "",
    },
    Workload {
        namespace: "kube-system",
        kind: "DaemonSet",
        name: "kube-proxy",
        init: false,
        volumes: Volumes::HostPath,
        containers: &["kube-proxy"],
        weight: 8,
        hash: "7b6d5c9f8",
    },
];

/// Where a pod is in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Phase {
    /// Started and running; `restart` is how long after creation its first container restarted.
    Running { restart: Option<f64> },
    /// Ran to completion (a Job's pod); `run` is how long its container ran.
    Succeeded { run: f64 },
    /// On a node, containers not started yet (image pulling).
    Starting,
    /// No node fits it.
    Unschedulable,
}

/// One simulated pod. Times are seconds; `created` is the exact instant, which the API writes
/// truncated to the second, like every other timestamp of the pod.
#[derive(Debug, Clone)]
pub(crate) struct SimPod {
    pub namespace: &'static str,
    pub name: String,
    pub serial: u64,
    pub workload: usize,
    /// The owner named in `ownerReferences` (ReplicaSet, StatefulSet, DaemonSet or Job).
    pub owner: String,
    pub node: Option<usize>,
    pub created: f64,
    /// What the kubelet's `kubelet_pod_start_duration_seconds` observed: creation to every
    /// container running (None when not started).
    pub kubelet_seconds: Option<f64>,
    /// Image pulling inside `kubelet_seconds`.
    pub pull_seconds: f64,
    /// The init container's run, from creation.
    pub init_seconds: f64,
    /// How long before the last container the first one started (0 with one container).
    pub first_lead: f64,
    /// From all containers running to ready (readiness probe).
    pub ready_delay: f64,
    pub phase: Phase,
    /// The pod's `v1` JSON, rendered when it is first listed: nothing in a simulated pod changes
    /// after it is drawn, so every later page splices these bytes instead of rendering again.
    pub rendered: OnceLock<Bytes>,
}

/// The `resourceVersion` of the pod with this serial: pods are written in serial order.
pub(crate) fn resource_version(serial: u64) -> u64 {
    5000 + serial
}

/// Pod-name suffix alphabet of Kubernetes (`utilrand.String`: no vowels, no look-alikes).
const ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

/// A five-character suffix unique per serial: a bijection of `serial mod 27^5`.
fn suffix(serial: u64) -> String {
    const SPACE: u64 = 27u64.pow(5);
    // 7_919 is prime and not 3, so multiplying by it permutes 0..27^5.
    let mut n = (serial % SPACE).wrapping_mul(7_919) % SPACE;
    let mut out = [0u8; 5];
    for byte in &mut out {
        *byte = ALPHABET[(n % 27) as usize];
        n /= 27;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl SimPod {
    /// Draws a pod of a weighted workload. `start` is the kubelet's (total, image pull) when it
    /// started; `created` the instant it was created.
    pub fn draw(
        rng: &mut SplitMix64,
        serial: u64,
        node: Option<usize>,
        created: f64,
        start: Option<(f64, f64)>,
    ) -> SimPod {
        let total_weight: u64 = WORKLOADS.iter().map(|w| w.weight).sum();
        let mut pick = rng.next() % total_weight;
        let mut workload = 0;
        for (index, w) in WORKLOADS.iter().enumerate() {
            if pick < w.weight {
                workload = index;
                break;
            }
            pick -= w.weight;
        }
        let w = &WORKLOADS[workload];
        let batch = serial / 400;
        let (owner, name) = match w.kind {
            "Deployment" => {
                let rs = format!("{}-{}", w.name, w.hash);
                (rs.clone(), format!("{rs}-{}", suffix(serial)))
            }
            "StatefulSet" => (w.name.to_string(), format!("{}-{serial}", w.name)),
            "Job" => {
                let job = format!("{}-{batch}", w.name);
                (job.clone(), format!("{job}-{}", suffix(serial)))
            }
            _ => (w.name.to_string(), format!("{}-{}", w.name, suffix(serial))),
        };
        let (kubelet_seconds, pull_seconds) = match start {
            Some((total, pull)) => (Some(total), pull),
            None => (None, 0.0),
        };
        let base = kubelet_seconds.map_or(1.0, |t| t - pull_seconds);
        let init_seconds = if w.init { (base * 0.4 * 1e6).round() / 1e6 } else { 0.0 };
        let first_lead = if w.containers.len() > 1 { kubelet_seconds.map_or(0.0, |t| t * 0.2) } else { 0.0 };
        let ready_delay = if rng.unit() < 0.5 { 0.0 } else { 0.5 + rng.unit() * 2.5 };
        let phase = match (node, kubelet_seconds) {
            (None, _) => Phase::Unschedulable,
            (Some(_), None) => Phase::Starting,
            (Some(_), Some(_)) if w.kind == "Job" => Phase::Succeeded { run: 5.0 + rng.unit() * 60.0 },
            (Some(_), Some(_)) => {
                let restart =
                    (w.kind == "Deployment" && rng.unit() < 0.03).then(|| 120.0 + rng.unit() * 600.0);
                Phase::Running { restart }
            }
        };
        SimPod {
            namespace: w.namespace,
            name,
            serial,
            workload,
            owner,
            node,
            created,
            kubelet_seconds,
            pull_seconds,
            init_seconds,
            first_lead,
            ready_delay,
            phase,
            rendered: OnceLock::new(),
        }
    }

    /// The workload this pod belongs to.
    pub fn workload(&self) -> &'static Workload {
        &WORKLOADS[self.workload]
    }

    /// The pod's labels.
    pub fn labels(&self) -> Vec<(&'static str, String)> {
        let w = self.workload();
        let mut labels = vec![("app", w.name.to_string())];
        match w.kind {
            "Deployment" => labels.push(("pod-template-hash", w.hash.to_string())),
            "StatefulSet" => {
                labels.push(("controller-revision-hash", w.hash.to_string()));
                labels.push(("statefulset.kubernetes.io/pod-name", self.name.clone()));
            }
            "DaemonSet" => labels.push(("controller-revision-hash", w.hash.to_string())),
            _ => {
                labels.push(("batch.kubernetes.io/job-name", self.owner.clone()));
                labels.push(("job-name", self.owner.clone()));
            }
        }
        labels
    }

    /// Whether the pod-startup SLO counts the pod as stateful (a volume other than secrets,
    /// config maps, downward API, emptyDir and projected sources).
    pub fn stateful(&self) -> bool {
        self.workload().volumes != Volumes::Stateless
    }

    /// `status.phase`.
    pub fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::Running { .. } => "Running",
            Phase::Succeeded { .. } => "Succeeded",
            Phase::Starting | Phase::Unschedulable => "Pending",
        }
    }

    /// The pod's IP (when it has one), derived from its serial.
    pub fn pod_ip(&self) -> Option<String> {
        let node = self.node?;
        matches!(self.phase, Phase::Running { .. })
            .then(|| format!("10.244.{}.{}", node % 256, 2 + self.serial % 250))
    }

    /// Seconds since creation, floored to the API's resolution: what a timestamp `offset`
    /// seconds after creation reads as.
    fn at(&self, offset: f64) -> u64 {
        (self.created + offset).floor().max(0.0) as u64
    }

    fn created_second(&self) -> u64 {
        self.created.floor().max(0.0) as u64
    }

    /// The `v1` `Pod` object, as the API server lists it. `node_name` and `host_ip` describe its
    /// node; `nodes` is the cluster's node count (for the scheduler's message).
    pub fn to_json(&self, node_name: Option<&str>, host_ip: &str, nodes: usize) -> Value {
        let w = self.workload();
        let labels: serde_json::Map<String, Value> =
            self.labels().into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
        let controller = match w.kind {
            "Deployment" => ("apps/v1", "ReplicaSet"),
            "Job" => ("batch/v1", "Job"),
            kind => ("apps/v1", kind),
        };
        let uid = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            self.serial.wrapping_mul(0x9e37_79b9) & 0xffff_ffff,
            (self.serial >> 3) & 0xffff,
            self.workload,
            self.serial & 0xfff,
            self.serial
        );
        let mut volumes = vec![
            json!({"name": format!("kube-api-access-{}", &suffix(self.serial + 7)), "projected": {"defaultMode": 420,
                   "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                               {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                               {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}),
            json!({"name": "tmp", "emptyDir": {}}),
        ];
        match w.volumes {
            Volumes::Claim => volumes.push(
                json!({"name": "data", "persistentVolumeClaim": {"claimName": format!("data-{}", self.name)}}),
            ),
            Volumes::HostPath => volumes.push(json!({"name": "host", "hostPath": {"path": "/", "type": ""}})),
            Volumes::Stateless => {}
        }
        let image = |container: &str| format!("registry.example.com/{}/{container}:1.4.2", w.namespace);
        let containers: Vec<Value> = w
            .containers
            .iter()
            .map(|c| {
                json!({"name": c, "image": image(c), "imagePullPolicy": "IfNotPresent",
                           "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}})
            })
            .collect();
        let mut spec = json!({
            "containers": containers,
            "volumes": volumes,
            "restartPolicy": if w.kind == "Job" { "Never" } else { "Always" },
            "schedulerName": "default-scheduler",
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "enableServiceLinks": true,
            "priority": 0,
        });
        if w.init {
            spec["initContainers"] =
                json!([{"name": "migrate", "image": image("migrate"), "imagePullPolicy": "IfNotPresent"}]);
        }
        if let Some(node) = node_name {
            spec["nodeName"] = node.into();
        }
        let status = self.status_json(host_ip, nodes, &image);
        json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "uid": uid,
                "resourceVersion": resource_version(self.serial).to_string(),
                "creationTimestamp": rfc3339(self.created_second()),
                "labels": labels,
                "ownerReferences": [{"apiVersion": controller.0, "kind": controller.1, "name": self.owner,
                                     "uid": format!("{:08x}-0000-4000-8000-{:012x}", self.workload, self.serial / 400),
                                     "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": spec,
            "status": status,
        })
    }

    fn status_json(&self, host_ip: &str, nodes: usize, image: &dyn Fn(&str) -> String) -> Value {
        let w = self.workload();
        let condition = |kind: &str, status: bool, offset: f64, reason: Option<&str>| {
            let mut c = json!({"type": kind, "status": if status { "True" } else { "False" },
                               "lastProbeTime": null, "lastTransitionTime": rfc3339(self.at(offset))});
            if let Some(reason) = reason {
                c["reason"] = reason.into();
            }
            c
        };
        if self.phase == Phase::Unschedulable {
            let mut scheduled = condition("PodScheduled", false, 0.0, Some("Unschedulable"));
            scheduled["message"] = format!("0/{nodes} nodes are available: {nodes} Insufficient cpu.").into();
            return json!({"phase": "Pending", "conditions": [scheduled], "qosClass": "Burstable"});
        }
        let total = self.kubelet_seconds.unwrap_or(0.0);
        let image_id =
            |c: &str| format!("{}@sha256:{:064x}", image(c), self.workload as u64 * 31 + c.len() as u64);
        let container_id = |index: usize| format!("containerd://{:016x}{:048x}", self.serial, index);
        let mut status = json!({"phase": self.phase_name(), "hostIP": host_ip, "startTime": rfc3339(self.created_second()), "qosClass": "Burstable"});
        if let Some(ip) = self.pod_ip() {
            status["podIP"] = ip.clone().into();
            status["podIPs"] = json!([{"ip": ip}]);
        }
        if w.init {
            let init = if self.phase == Phase::Starting && self.init_seconds <= 0.0 {
                json!({"running": {"startedAt": rfc3339(self.created_second())}})
            } else {
                json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": rfc3339(self.created_second()),
                                       "finishedAt": rfc3339(self.at(self.init_seconds)), "containerID": container_id(99)}})
            };
            status["initContainerStatuses"] = json!([{"name": "migrate", "image": image("migrate"), "imageID": image_id("migrate"),
                "ready": init.get("running").is_none(), "restartCount": 0, "started": false, "state": init,
                "lastState": {}}]);
        }
        let (conditions, states): (Vec<Value>, Vec<Value>) = match self.phase {
            Phase::Starting => {
                let waiting = json!({"waiting": {"reason": "ContainerCreating"}});
                let names = w.containers.join(" ");
                let not_ready = |kind: &str| {
                    let mut c = condition(kind, false, 0.0, Some("ContainersNotReady"));
                    c["message"] = format!("containers with unready status: [{names}]").into();
                    c
                };
                (
                    vec![
                        condition("Initialized", true, self.init_seconds, None),
                        not_ready("Ready"),
                        not_ready("ContainersReady"),
                        condition("PodScheduled", true, 0.0, None),
                    ],
                    w.containers.iter().map(|_| waiting.clone()).collect(),
                )
            }
            Phase::Succeeded { run } => {
                let done = total + run;
                (
                    vec![
                        condition("Initialized", true, self.init_seconds, None),
                        condition("Ready", false, done, Some("PodCompleted")),
                        condition("ContainersReady", false, done, Some("PodCompleted")),
                        condition("PodScheduled", true, 0.0, None),
                    ],
                    vec![
                        json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": rfc3339(self.at(total)),
                                               "finishedAt": rfc3339(self.at(done)), "containerID": container_id(0)}}),
                    ],
                )
            }
            Phase::Running { restart } => {
                let ready_at = match restart {
                    Some(at) => at + 1.0 + self.ready_delay,
                    None => total + self.ready_delay,
                };
                let states = (0..w.containers.len())
                    .map(|index| {
                        let started = if index == 0 { total - self.first_lead } else { total };
                        match restart.filter(|_| index == 0) {
                            Some(at) => json!({"running": {"startedAt": rfc3339(self.at(at + 1.0))}}),
                            None => json!({"running": {"startedAt": rfc3339(self.at(started))}}),
                        }
                    })
                    .collect();
                (
                    vec![
                        condition("Initialized", true, self.init_seconds, None),
                        condition("Ready", true, ready_at, None),
                        condition("ContainersReady", true, ready_at, None),
                        condition("PodScheduled", true, 0.0, None),
                    ],
                    states,
                )
            }
            Phase::Unschedulable => unreachable!("returned above"),
        };
        let ready = matches!(self.phase, Phase::Running { .. });
        let statuses: Vec<Value> = w
            .containers
            .iter()
            .zip(states)
            .enumerate()
            .map(|(index, (c, state))| {
                let restarted = matches!(self.phase, Phase::Running { restart: Some(_) }) && index == 0;
                let last_state = if let (true, Phase::Running { restart: Some(at) }) = (restarted, self.phase) {
                    json!({"terminated": {"exitCode": 137, "reason": "Error", "startedAt": rfc3339(self.at(total - self.first_lead)),
                                           "finishedAt": rfc3339(self.at(at)), "containerID": container_id(index + 50)}})
                } else {
                    json!({})
                };
                let waiting = self.phase == Phase::Starting;
                let mut status = json!({"name": c, "image": image(c), "imageID": if waiting { String::new() } else { image_id(c) },
                    "ready": ready, "restartCount": u32::from(restarted), "started": ready, "state": state, "lastState": last_state});
                if !waiting {
                    status["containerID"] = container_id(index).into();
                }
                status
            })
            .collect();
        status["conditions"] = conditions.into();
        status["containerStatuses"] = statuses.into();
        status
    }

    /// What this pod's timestamps say, and why a milestone is missing.
    pub fn truth(&self, node_name: Option<&str>) -> PodTruth {
        let w = self.workload();
        let created = self.created_second();
        let since = |offset: f64| self.at(offset).saturating_sub(created);
        let total = self.kubelet_seconds.unwrap_or(0.0);
        let latencies = match self.phase {
            Phase::Unschedulable => PodLatencies::default(),
            Phase::Starting => PodLatencies {
                scheduled: Some(0),
                initialized: Some(since(self.init_seconds)),
                ..PodLatencies::default()
            },
            Phase::Succeeded { .. } => PodLatencies {
                scheduled: Some(0),
                initialized: Some(since(self.init_seconds)),
                first_container_started: Some(since(total)),
                ..PodLatencies::default()
            },
            Phase::Running { restart: Some(_) } => PodLatencies {
                scheduled: Some(0),
                initialized: Some(since(self.init_seconds)),
                ..PodLatencies::default()
            },
            Phase::Running { restart: None } => PodLatencies {
                scheduled: Some(0),
                initialized: Some(since(self.init_seconds)),
                first_container_started: Some(since(total - self.first_lead)),
                containers_ready: Some(since(total + self.ready_delay)),
                ready: Some(since(total + self.ready_delay)),
            },
        };
        PodTruth {
            namespace: self.namespace.to_string(),
            name: self.name.clone(),
            node: node_name.map(str::to_string),
            // The workload people name: a Deployment (not its ReplicaSet), else the controller.
            workload: if w.kind == "Job" {
                format!("Job/{}", self.owner)
            } else {
                format!("{}/{}", w.kind, w.name)
            },
            phase: self.phase_name().to_string(),
            created: rfc3339(created),
            stateful: self.stateful(),
            init_containers: w.init,
            restarted: matches!(self.phase, Phase::Running { restart: Some(_) }),
            image_pull_seconds: self.pull_seconds,
            kubelet_seconds: self.kubelet_seconds,
            latencies,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_unique_and_use_the_alphabet() {
        let mut seen = std::collections::HashSet::new();
        for serial in 0..60_000 {
            let s = suffix(serial);
            assert!(s.bytes().all(|b| ALPHABET.contains(&b)), "{s}");
            assert!(seen.insert(s), "duplicate suffix at {serial}");
        }
    }

    #[test]
    fn a_running_pod_says_what_the_kubelet_observed_to_the_second() {
        let mut rng = SplitMix64::new(3);
        for serial in 0..200 {
            let pod = SimPod::draw(&mut rng, serial, Some(0), 1_000_000.25, Some((7.6, 2.0)));
            let truth = pod.truth(Some("node-0"));
            if let Phase::Running { restart: None } = pod.phase {
                // Created at .25 s, running 7.6 s later: 1_000_007.85 reads as 7 s after 1_000_000.
                if pod.first_lead == 0.0 {
                    assert_eq!(truth.latencies.first_container_started, Some(7));
                }
                assert!(truth.latencies.ready >= truth.latencies.first_container_started);
            }
            let json = pod.to_json(Some("node-0"), "127.0.0.1", 3);
            assert_eq!(json["metadata"]["name"], pod.name.as_str());
            assert_eq!(json["spec"]["nodeName"], "node-0");
        }
    }
}
