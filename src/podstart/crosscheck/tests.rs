//! The cross-check's rules on hand-built nodes: counts, the double count, quantiles at bucket
//! and timestamp resolution, the SLI's two meanings, and nodes that cannot be vouched for.

use super::*;
use crate::catalog::POD_START_BUCKETS;
use crate::podstart::{Milestone, Workload};

const T0: i64 = 1_000_000;
const STARTED: f64 = 999_000.0;
const READ: f64 = 1_100_000.0;

/// A pod on `node` created at T0 + `offset`, scheduled at once, running `running` s after creation.
fn pod(node: &str, offset: i64, running: Option<f64>, stateful: bool) -> PodStart {
    let reached = |s: f64| Latency::Seconds(s);
    let not_yet = Latency::Skipped { why: Skip::NotYet, at_most: None };
    PodStart {
        namespace: "default".into(),
        name: format!("p{offset}"),
        node: Some(node.into()),
        workload: Workload { kind: "Deployment".into(), name: "web".into() },
        phase: if running.is_some() { "Running".into() } else { "Pending".into() },
        created: Some(T0 + offset),
        stateful,
        init_containers: false,
        latencies: [reached(0.0), reached(0.0), running.map_or(not_yet, reached), not_yet, not_yet],
        running: running.map_or(not_yet, reached),
    }
}

/// A histogram of these observations in the ≥ 1.29 pod-start buckets.
fn histogram(observations: &[f64]) -> Histogram {
    let mut buckets: Vec<(f64, f64)> = POD_START_BUCKETS
        .iter()
        .map(|le| (*le, observations.iter().filter(|o| **o <= *le).count() as f64))
        .collect();
    buckets.push((f64::INFINITY, observations.len() as f64));
    Histogram::from_cumulative(&buckets, observations.iter().sum()).unwrap()
}

fn reading(node: &str, version: &str, duration: &[f64], sli: Option<&[f64]>) -> NodeReading {
    NodeReading {
        node: node.into(),
        kubelet_version: Some(version.into()),
        outcome: Ok(KubeletHistograms {
            started_at: Some(STARTED),
            read_between: (READ - 1.0, READ),
            duration: Some(histogram(duration)),
            sli: sli.map(histogram),
        }),
    }
}

/// Ten pods running 1..=10 s after creation; the kubelet saw each 0.4 s later than whole seconds.
fn ten_pods(node: &str) -> (Vec<PodStart>, Vec<f64>) {
    let pods = (1..=10).map(|i| pod(node, i * 100, Some(i as f64), false)).collect();
    let observed = (1..=10).map(|i| i as f64 + 0.4).collect();
    (pods, observed)
}

const Q: [f64; 3] = [0.5, 0.9, 0.99];

#[test]
fn a_kubelet_that_counts_each_pod_once_agrees() {
    let (pods, observed) = ten_pods("a");
    let check = cross_check(&[reading("a", "v1.32.7", &observed, Some(&observed))], &pods, &Q);
    let node = &check.nodes[0];
    assert_eq!(node.verdict, CheckVerdict::Agree, "{:?}", node.findings);
    let duration = node.duration.as_ref().unwrap();
    assert_eq!(
        (duration.count, duration.expected, duration.count_state),
        (10, (10, 10), CountState::Matches)
    );
    // p50: rank 5 of 10; the kubelet's 5.4 lies in (5, 6], the pods' 5 s stands for (4, 7).
    assert_eq!(duration.quantiles[0].bucket, Some((5.0, 6.0)));
    assert_eq!(duration.quantiles[0].pods, Some(5.0));
    assert!(duration.quantiles.iter().all(|q| q.state == Agreement::Agree));
    let sli = node.sli.as_ref().unwrap();
    assert_eq!(sli.meaning, Some(SliMeaning::EveryPod));
}

#[test]
fn about_twice_the_pods_with_the_extra_near_zero_is_a_double_count() {
    let (pods, mut observed) = ten_pods("a");
    // Each pod is also observed at its first sync, a few milliseconds after the kubelet saw it.
    observed.extend([0.01; 10]);
    let check = cross_check(&[reading("a", "v1.33.4", &observed, None)], &pods, &Q);
    let node = &check.nodes[0];
    assert_eq!(node.verdict, CheckVerdict::DoubleCount, "{:?}", node.findings);
    let duration = node.duration.as_ref().unwrap();
    assert_eq!(duration.count_state, CountState::DoubleCount);
    // Without the ten near-zero observations the rest agrees: p50 is again rank 5 in (5, 6].
    assert_eq!(duration.quantiles[0].bucket, Some((5.0, 6.0)));
    assert!(duration.quantiles.iter().all(|q| q.state == Agreement::Agree));
    assert!(node.findings.iter().any(|f| f.contains("kubernetes#132268")));
}

#[test]
fn twice_the_pods_spread_over_the_buckets_is_not_a_double_count() {
    let (pods, mut observed) = ten_pods("a");
    // Ten more starts of pods deleted since: the API cannot list them, so nothing is vouched.
    observed.extend([30.0; 10]);
    let node = &cross_check(&[reading("a", "v1.33.4", &observed, None)], &pods, &Q).nodes[0];
    assert_eq!(node.duration.as_ref().unwrap().count_state, CountState::More);
    assert_eq!(node.verdict, CheckVerdict::Unknown);
}

#[test]
fn quantiles_beyond_bucket_and_timestamp_resolution_disagree() {
    let (pods, observed) = ten_pods("a");
    // The kubelet says every start took 20 s longer: p50 in (20, 30], the pods' 5 s in (4, 7).
    let slow: Vec<f64> = observed.iter().map(|o| o + 20.0).collect();
    let node = &cross_check(&[reading("a", "v1.32.7", &slow, None)], &pods, &Q).nodes[0];
    assert_eq!(node.verdict, CheckVerdict::Disagree);
    assert_eq!(node.duration.as_ref().unwrap().quantiles[0].state, Agreement::Disagree);
    // One second late is within what the kubelet's relist explains: (5, 6] meets (3, 6).
    let late: Vec<f64> = observed.iter().map(|o| o - 1.0).collect();
    let node = &cross_check(&[reading("a", "v1.32.7", &late, None)], &pods, &Q).nodes[0];
    assert_eq!(node.verdict, CheckVerdict::Agree, "{:?}", node.findings);
}

#[test]
fn fewer_starts_than_pods_disagree() {
    let (pods, observed) = ten_pods("a");
    let node = &cross_check(&[reading("a", "v1.32.7", &observed[..6], None)], &pods, &Q).nodes[0];
    assert_eq!(node.duration.as_ref().unwrap().count_state, CountState::Fewer);
    assert_eq!(node.verdict, CheckVerdict::Disagree);
}

#[test]
fn the_window_is_since_the_kubelet_started() {
    let (mut pods, observed) = ten_pods("a");
    // Created before the kubelet started, still listed: it may be observed once more at most.
    pods.push(pod("a", -(T0 - STARTED as i64) - 50, Some(2.0), false));
    // Running one second before the read: on either side of it.
    pods.push(pod("a", (READ as i64 - T0) - 3, Some(2.0), false));
    // Not running yet.
    pods.push(pod("a", 5000, None, false));
    let node = &cross_check(&[reading("a", "v1.32.7", &observed, None)], &pods, &Q).nodes[0];
    assert_eq!(
        (node.pods.started, node.pods.before_start, node.pods.uncertain, node.pods.pending),
        (10, 1, 1, 1)
    );
    assert_eq!(node.duration.as_ref().unwrap().expected, (10, 12));
    assert_eq!(node.verdict, CheckVerdict::Agree, "{:?}", node.findings);
}

#[test]
fn the_sli_meaning_follows_the_version_and_the_count() {
    // Ten stateless pods and four stateful ones, all started.
    let (mut pods, observed) = ten_pods("a");
    pods.extend((11..=14).map(|i| pod("a", i * 100, Some(3.0), true)));
    let all: Vec<f64> = observed.iter().copied().chain([3.4; 4]).collect();
    let meaning = |version: &str, sli: &[f64]| {
        let node = &cross_check(&[reading("a", version, &all, Some(sli))], &pods, &Q).nodes[0];
        let sli = node.sli.clone().unwrap();
        (sli.meaning, sli.meaning_from)
    };
    // 1.36 leaves the stateful pods out, and the count of ten says so.
    assert_eq!(meaning("v1.36.0", &observed).0, Some(SliMeaning::StatelessOnly));
    // 1.33 counts every pod; a count of 14 fits.
    assert_eq!(meaning("v1.33.4", &all).0, Some(SliMeaning::EveryPod));
    // A 1.33 payload counting only the stateless pods: the payload wins, and says so.
    let (m, from) = meaning("v1.33.4", &observed);
    assert_eq!(m, Some(SliMeaning::StatelessOnly));
    assert!(from.contains("not what v1.33.4 implies"), "{from}");
    // 1.34's patch release is not pinned: the count decides either way.
    assert_eq!(meaning("v1.34.3", &observed).0, Some(SliMeaning::StatelessOnly));
    assert_eq!(meaning("v1.34.3", &all).0, Some(SliMeaning::EveryPod));
    // Without stateful pods both meanings fit, and 1.34 stays unknown.
    let (stateless, _) = ten_pods("a");
    let node = &cross_check(&[reading("a", "v1.34.3", &observed, Some(&observed))], &stateless, &Q).nodes[0];
    assert_eq!(node.sli.as_ref().unwrap().meaning, None);
    assert_eq!(node.verdict, CheckVerdict::Agree, "the duration histogram still agrees");
}

#[test]
fn an_sli_slower_than_the_pods_whole_start_disagrees() {
    let (pods, observed) = ten_pods("a");
    // Image pulls are left out, so the SLI can only be faster; one at 60 s for pods that ran
    // within 10 s of creation cannot be.
    let node = &cross_check(&[reading("a", "v1.32.7", &observed, Some(&[60.0; 10]))], &pods, &Q).nodes[0];
    assert_eq!(node.verdict, CheckVerdict::Disagree);
    assert!(node.findings.iter().any(|f| f.starts_with("SLI p50")), "{:?}", node.findings);
    // Faster than the pods is what leaving image pulls out looks like.
    let node = &cross_check(&[reading("a", "v1.32.7", &observed, Some(&[0.3; 10]))], &pods, &Q).nodes[0];
    assert_eq!(node.verdict, CheckVerdict::Agree, "{:?}", node.findings);
}

#[test]
fn a_node_without_a_start_time_or_an_answer_is_unknown_and_alone() {
    let (mut pods, observed) = ten_pods("a");
    pods.extend(ten_pods("b").0);
    let mut no_start = reading("b", "v1.32.7", &observed, None);
    if let Ok(h) = &mut no_start.outcome {
        h.started_at = None;
    }
    let failed = NodeReading { node: "c".into(), kubelet_version: None, outcome: Err("timeout".into()) };
    let check = cross_check(&[failed, no_start, reading("a", "v1.32.7", &observed, None)], &pods, &Q);
    let verdicts: Vec<(&str, CheckVerdict)> =
        check.nodes.iter().map(|n| (n.node.as_str(), n.verdict)).collect();
    assert_eq!(
        verdicts,
        [("a", CheckVerdict::Agree), ("b", CheckVerdict::Unknown), ("c", CheckVerdict::Unknown)]
    );
    assert!(check.nodes[1].findings[0].contains("process_start_time_seconds"));
    assert!(check.nodes[2].findings[0].contains("timeout"));
    assert_eq!(check.tally(CheckVerdict::Unknown), 2);
}

#[test]
fn the_duration_is_timed_from_scheduling() {
    // Scheduled 30 s after creation, running 32 s after: the kubelet times 2 s.
    let mut late = pod("a", 100, Some(32.0), false);
    late.latencies[Milestone::Scheduled as usize] = Latency::Seconds(30.0);
    let node = &cross_check(&[reading("a", "v1.32.7", &[2.3], None)], &[late], &Q).nodes[0];
    assert_eq!(node.duration.as_ref().unwrap().quantiles[0].pods, Some(2.0));
    assert_eq!(node.verdict, CheckVerdict::Agree, "{:?}", node.findings);
}
