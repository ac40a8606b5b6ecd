//! Per-pod reading: milestones, skips and their reasons, workloads, the stateful split.

use super::*;

fn pod(json: &str) -> PodStart {
    PodStart::from_object(serde_json::from_str(json).expect("a pod object"))
}

const RUNNING: &str = r#"{
  "metadata": {"name": "web-7d4b9c6f5d-x2k4j", "namespace": "default", "creationTimestamp": "2025-03-01T10:00:00Z",
               "labels": {"app": "web", "pod-template-hash": "7d4b9c6f5d"},
               "ownerReferences": [{"kind": "ReplicaSet", "name": "web-7d4b9c6f5d", "controller": true}]},
  "spec": {"nodeName": "node-a", "volumes": [{"name": "token", "projected": {}}, {"name": "tmp", "emptyDir": {}}],
           "initContainers": [{"name": "migrate"}]},
  "status": {"phase": "Running",
    "conditions": [
      {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-03-01T10:00:01Z"},
      {"type": "Initialized", "status": "True", "lastTransitionTime": "2025-03-01T10:00:04Z"},
      {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2025-03-01T10:00:12Z"},
      {"type": "Ready", "status": "True", "lastTransitionTime": "2025-03-01T10:00:12Z"}],
    "containerStatuses": [
      {"name": "web", "restartCount": 0, "state": {"running": {"startedAt": "2025-03-01T10:00:09Z"}}},
      {"name": "envoy", "restartCount": 0, "state": {"running": {"startedAt": "2025-03-01T10:00:06Z"}}}]}}"#;

#[test]
fn a_running_pod_has_every_milestone() {
    let p = pod(RUNNING);
    let seconds: Vec<Option<f64>> = Milestone::ALL.iter().map(|m| p.latency(*m).seconds()).collect();
    // The first container started at :06, the earlier of the two.
    assert_eq!(seconds, [Some(1.0), Some(4.0), Some(6.0), Some(12.0), Some(12.0)]);
    // Running once the later of the two had started, at :09.
    assert_eq!(p.running.seconds(), Some(9.0));
    assert_eq!(p.workload.to_string(), "Deployment/web");
    assert!(!p.stateful && p.init_containers);
    assert_eq!(p.node.as_deref(), Some("node-a"));
    assert_eq!(p.created, Some(1_740_823_200));
}

#[test]
fn a_restarted_container_hides_the_first_start_but_bounds_it() {
    let p = pod(&RUNNING.replacen(r#""restartCount": 0"#, r#""restartCount": 2"#, 1));
    assert_eq!(p.latency(Milestone::Scheduled).seconds(), Some(1.0));
    assert_eq!(p.latency(Milestone::Started), Latency::Skipped { why: Skip::Restarted, at_most: Some(6.0) });
    assert_eq!(p.running, Latency::Skipped { why: Skip::Restarted, at_most: Some(9.0) });
    assert_eq!(p.latency(Milestone::Ready), Latency::Skipped { why: Skip::Restarted, at_most: Some(12.0) });
}

#[test]
fn pending_and_finished_pods_say_why() {
    let unschedulable = pod(
        r#"{"metadata": {"name": "x", "namespace": "default", "creationTimestamp": "2025-03-01T10:00:00Z"},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}}"#,
    );
    assert!(
        Milestone::ALL
            .iter()
            .all(|m| matches!(unschedulable.latency(*m), Latency::Skipped { why: Skip::NotYet, .. }))
    );
    assert_eq!(unschedulable.workload.to_string(), "Pod/x");
    let completed = pod(
        r#"{"metadata": {"name": "report-1-abcde", "namespace": "batch", "creationTimestamp": "2025-03-01T10:00:00Z",
                         "ownerReferences": [{"kind": "Job", "name": "report-1", "controller": true}]},
            "spec": {"nodeName": "n", "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "d"}}]},
            "status": {"phase": "Succeeded", "conditions": [
               {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-03-01T10:00:00Z"},
               {"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": "2025-03-01T10:01:00Z"}],
              "containerStatuses": [{"name": "r", "restartCount": 0, "state": {"terminated": {"startedAt": "2025-03-01T10:00:03Z"}}}]}}"#,
    );
    assert_eq!(completed.latency(Milestone::Started).seconds(), Some(3.0));
    assert!(matches!(completed.latency(Milestone::Ready), Latency::Skipped { why: Skip::Finished, .. }));
    assert_eq!(completed.workload.to_string(), "Job/report-1");
    assert!(completed.stateful, "a persistent volume claim makes a pod stateful");
}

#[test]
fn a_node_clock_behind_the_api_server_is_named() {
    let p = pod(&RUNNING.replace("2025-03-01T10:00:09Z", "2025-03-01T09:59:58Z"));
    assert!(matches!(p.latency(Milestone::Started), Latency::Skipped { why: Skip::BeforeCreation, .. }));
    let unreadable = pod(&RUNNING
        .replace(r#""creationTimestamp": "2025-03-01T10:00:00Z""#, r#""creationTimestamp": "yesterday""#));
    assert!(matches!(unreadable.latency(Milestone::Ready), Latency::Skipped { why: Skip::NoTimestamp, .. }));
}

#[test]
fn a_replica_set_without_the_hash_label_stays_a_replica_set() {
    let p = pod(&RUNNING.replace(r#""pod-template-hash": "7d4b9c6f5d""#, r#""tier": "x""#));
    assert_eq!(p.workload.to_string(), "ReplicaSet/web-7d4b9c6f5d");
}
