//! Several clusters in one run: two simulated clusters and one unreachable API server, three
//! contexts of one kubeconfig, read by `histogram` and `get` with `--context` (repeated) and
//! `--all-contexts`.

use std::path::{Path, PathBuf};

use kubesim::{Cluster, Fault};

use crate::{bin, stderr, stdout};

/// Two clusters (`east`: 3 nodes; `west`: 2 nodes), and `down`, whose API server refuses
/// connections, in one kubeconfig.
pub(crate) struct Fleet {
    east: Cluster,
    west: Cluster,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fleet {
    pub(crate) async fn start(west_faults: &[(usize, Fault)]) -> Fleet {
        let east = Cluster::builder().nodes(3).seed(11).start().await.expect("east starts");
        let mut west = Cluster::builder().nodes(2).seed(12);
        for (index, fault) in west_faults {
            west = west.fault(*index, fault.clone());
        }
        let west = west.start().await.expect("west starts");
        let dir = tempfile::tempdir().expect("temp dir");
        // A port nothing listens on: bound, then released.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
        let entry = |name: &str, server: &str, ca: &Path, token: &str| {
            (
                format!(
                    "- name: {name}\n  cluster: {{server: \"{server}\", certificate-authority: \"{}\"}}\n",
                    ca.display()
                ),
                format!("- name: {name}\n  user: {{token: \"{token}\"}}\n"),
                format!("- name: {name}\n  context: {{cluster: {name}, user: {name}}}\n"),
            )
        };
        let entries = [
            entry("east", east.api_url(), &east.ca_path(), &east.admin_token()),
            entry("west", west.api_url(), &west.ca_path(), &west.admin_token()),
            entry("down", &format!("https://{closed}"), &east.ca_path(), "unused"),
        ];
        let section = |pick: fn(&(String, String, String)) -> &String| {
            entries.iter().map(pick).cloned().collect::<String>()
        };
        let kubeconfig = dir.path().join("config");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: east\nclusters:\n{}users:\n{}contexts:\n{}",
                section(|e| &e.0),
                section(|e| &e.1),
                section(|e| &e.2)
            ),
        )
        .expect("write kubeconfig");
        Fleet { east, west, kubeconfig, _dir: dir }
    }

    pub(crate) fn run(&self, args: &[&str]) -> std::process::Output {
        bin().args(args).arg("--kubeconfig").arg(&self.kubeconfig).output().expect("the binary runs")
    }

    /// `COMMAND --context east --context west --context down --timeout 5s ARGS...`.
    fn run_three(&self, command: &str, args: &[&str]) -> std::process::Output {
        let three = ["--context", "east", "--context", "west", "--context", "down", "--timeout", "5s"];
        self.run(&[&[command][..], &three, args].concat())
    }

    pub(crate) async fn shutdown(self) {
        self.east.shutdown().await;
        self.west.shutdown().await;
    }
}

fn pod_starts(cluster: &Cluster) -> u64 {
    cluster.truth().nodes.iter().map(|n| n.pod_start.count).sum()
}

/// The `clusters` of a command's JSON over several contexts, checked to be `contexts` in order.
fn clusters_of(out: &std::process::Output, contexts: &[&str]) -> Vec<serde_json::Value> {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let clusters = json["clusters"].as_array().expect("clusters").clone();
    let seen: Vec<&str> = clusters.iter().filter_map(|c| c["context"].as_str()).collect();
    assert_eq!(seen, contexts);
    clusters
}

#[tokio::test]
async fn histogram_reports_each_cluster_and_an_unreachable_one_fails_alone() {
    let fleet = Fleet::start(&[]).await;
    let out = fleet.run_three("histogram", &["-o", "json"]);
    // One cluster of three could not be read: a partial report.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let clusters = clusters_of(&out, &["east", "west", "down"]);
    assert_eq!(clusters[0]["cluster"]["count"].as_u64(), Some(pod_starts(&fleet.east)));
    assert_eq!(clusters[1]["cluster"]["count"].as_u64(), Some(pod_starts(&fleet.west)));
    assert_eq!(clusters[0]["nodes"].as_array().map(Vec::len), Some(3));
    assert_eq!(clusters[1]["nodes"].as_array().map(Vec::len), Some(2));
    let error = clusters[2]["error"].as_str().expect("down has an error");
    assert!(error.contains("\"down\""), "the error names the context: {error}");
    assert!(stderr(&out).contains("error: context down: "), "{}", stderr(&out));

    // Every context, as a table: one CONTEXT column, one cluster line per cluster.
    let out = fleet.run(&["histogram", "--all-contexts", "--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("CONTEXT  NODE"), "{text}");
    let cluster_lines: Vec<&str> =
        text.lines().filter(|l| l.split_whitespace().nth(1) == Some("CLUSTER")).collect();
    assert_eq!(cluster_lines.len(), 2, "{text}");
    assert!(cluster_lines[0].starts_with("east ") && cluster_lines[1].starts_with("west "), "{text}");
    assert!(text.contains("clusters that could not be read (1 of 3):\n  down: "), "{text}");
    fleet.shutdown().await;
}

#[tokio::test]
async fn the_slo_is_judged_per_cluster() {
    let fleet = Fleet::start(&[(1, Fault::Refuse)]).await;
    // Loose enough for any cluster (a mean is always known, where a p99 in the +Inf bucket is not):
    // it holds in both; west lost a node, so the run is partial.
    let out = fleet.run(&["histogram", "--context", "east", "--context", "west", "--slo", "mean<=1000s"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    for context in ["east", "west"] {
        assert!(text.contains(&format!("{context}: SLO mean<=1000s on cluster: PASS")), "{text}");
    }
    // Impossible: violated in each cluster, and that decides the exit status.
    let out = fleet.run(&[
        "histogram",
        "--context",
        "east",
        "--context",
        "west",
        "--slo",
        "p99<=1ms",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for cluster in json["clusters"].as_array().expect("clusters") {
        assert_eq!(cluster["slo"]["state"], "violated", "{}", cluster["context"]);
    }
    fleet.shutdown().await;
}

#[tokio::test]
async fn get_labels_every_sample_with_its_context() {
    let fleet = Fleet::start(&[]).await;
    let metric = "kubelet_pod_start_duration_seconds";
    let out = fleet.run(&["get", "--context", "east", "--context", "west", "-m", metric, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut seen: Vec<(String, String)> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("one object a line"))
        .map(|v| {
            (v["context"].as_str().unwrap_or("").to_string(), v["node"].as_str().unwrap_or("").to_string())
        })
        .collect();
    seen.sort();
    seen.dedup();
    let mut expected: Vec<(String, String)> = [("east", &fleet.east), ("west", &fleet.west)]
        .iter()
        .flat_map(|(context, cluster)| cluster.node_names().into_iter().map(|n| (context.to_string(), n)))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);

    // CSV with --sort: a context column first, rows by context as given, then node.
    let count = format!("{metric}_count");
    let out =
        fleet.run(&["get", "--context", "west", "--context", "east", "-m", &count, "-o", "csv", "--sort"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let mut rows = text.lines();
    assert_eq!(rows.next(), Some("context,node,name,labels,value,timestamp_ms"));
    let mut order: Vec<(String, String)> = rows
        .map(|row| {
            let mut fields = row.split(',');
            (fields.next().unwrap_or("").to_string(), fields.next().unwrap_or("").to_string())
        })
        .collect();
    order.dedup();
    let mut expected: Vec<(String, String)> = [("west", &fleet.west), ("east", &fleet.east)]
        .iter()
        .flat_map(|(context, cluster)| {
            let mut nodes = cluster.node_names();
            nodes.sort();
            nodes.into_iter().map(|n| (context.to_string(), n))
        })
        .collect();
    expected.dedup();
    assert_eq!(order, expected);

    // Exposition text: one family, a `context` label before the `node` label.
    let out = fleet.run(&["get", "--all-contexts", "--timeout", "5s", "-m", metric]);
    assert_eq!(out.status.code(), Some(1), "down failed, the rest answered: {}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("# TYPE").count(), 1, "{text}");
    let first_west = &fleet.west.node_names()[0];
    assert!(text.contains(&format!("{metric}_count{{context=\"west\",node=\"{first_west}\"")), "{text}");
    fleet.shutdown().await;
}

#[tokio::test]
async fn a_snapshot_of_several_clusters_is_each_clusters_baseline() {
    let fleet = Fleet::start(&[]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("before.prom");
    let path = file.to_string_lossy().to_string();
    let out = fleet.run_three("snapshot", &["--output-file", &path]);
    // down could not be read: the others are saved, and the run is partial.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("error: context down: "), "{}", stderr(&out));
    let saved = std::fs::read_to_string(&file).expect("snapshot written");
    assert!(saved.starts_with("# kubelet-metrics snapshot of 5 node(s) in 2 context(s): east (3 via proxy), west (2 via proxy)\n"), "{saved}");
    assert!(!saved.contains("context=\"down\""), "{saved}");
    for (context, cluster) in [("east", &fleet.east), ("west", &fleet.west)] {
        for node in cluster.node_names() {
            assert!(saved.contains(&format!("{{context=\"{context}\",node=\"{node}\"")), "{context}/{node}");
        }
    }

    let before = (pod_starts(&fleet.east), pod_starts(&fleet.west));
    fleet.east.advance(7);
    fleet.west.advance(3);
    let out = fleet.run(&[
        "histogram",
        "--context",
        "east",
        "--context",
        "west",
        "--baseline",
        &path,
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let clusters = json["clusters"].as_array().expect("clusters");
    // Each cluster counts only what it started since its own part of the snapshot.
    assert_eq!(clusters[0]["cluster"]["count"].as_u64(), Some(pod_starts(&fleet.east) - before.0));
    assert_eq!(clusters[1]["cluster"]["count"].as_u64(), Some(pod_starts(&fleet.west) - before.1));

    // One cluster against its part; the current context alone is ambiguous.
    let out = fleet.run(&["histogram", "--context", "west", "--baseline", &path, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["cluster"]["count"].as_u64(), Some(pod_starts(&fleet.west) - before.1));
    let out = fleet.run(&["histogram", "--baseline", &path]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a snapshot of several clusters (east, west); give the --context"),
        "{}",
        stderr(&out)
    );

    // A snapshot of one cluster is no baseline for several.
    let one = dir.path().join("east.prom");
    let out = fleet.run(&["snapshot", "--context", "east", "--output-file", &one.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = fleet.run(&["histogram", "--all-contexts", "--baseline", &one.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a snapshot of one cluster"), "{}", stderr(&out));
    fleet.shutdown().await;
}

#[tokio::test]
async fn doctor_checks_each_cluster_and_an_unreachable_one_fails_alone() {
    let fleet = Fleet::start(&[]).await;
    let out = fleet.run_three("doctor", &["-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "a check fails in down: {}", stderr(&out));
    let clusters = clusters_of(&out, &["east", "west", "down"]);
    for cluster in &clusters[..2] {
        assert_eq!(cluster["summary"]["fail"], 0, "{cluster}");
        assert!(cluster["summary"]["pass"].as_u64() > Some(3), "{cluster}");
    }
    assert!(clusters[2]["summary"]["fail"].as_u64() > Some(0), "{}", clusters[2]);

    // A table per cluster, each with its own summary; every cluster passes, so exit 0.
    let out = fleet.run(&["doctor", "--context", "east", "--context", "west"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.starts_with("context east:\nSTATUS  "), "{text}");
    assert!(text.contains("\n\ncontext west:\nSTATUS  "), "{text}");
    assert_eq!(text.lines().filter(|l| l.ends_with("FAIL (--method proxy)")).count(), 2, "{text}");
    fleet.shutdown().await;
}
