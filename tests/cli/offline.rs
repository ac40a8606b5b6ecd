//! `get` and `histogram` over saved payloads (`--file`), the offline source.

use crate::{bin, fixture, run_with_stdin, stderr, stdout};

#[test]
fn get_adds_the_node_label_and_keeps_help_and_type() {
    let output = bin()
        .args(["get", "-m", "kubelet_pod_start_duration_seconds", "--file"])
        .arg(fixture("seed-node1.prom"))
        .args(["--node", "ip-10-0-17-199"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("# HELP kubelet_pod_start_duration_seconds "), "{text}");
    assert!(text.contains("# TYPE kubelet_pod_start_duration_seconds histogram\n"), "{text}");
    assert!(
        text.contains("kubelet_pod_start_duration_seconds_bucket{node=\"ip-10-0-17-199\",le=\"0.5\"} 39\n"),
        "{text}"
    );
    assert!(
        text.contains("kubelet_pod_start_duration_seconds_count{node=\"ip-10-0-17-199\"} 74\n"),
        "{text}"
    );
    assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 28, "26 buckets, sum and count");
}

#[test]
fn get_reads_stdin_and_names_it_stdin() {
    let mut command = bin();
    command.args(["get", "-m", "kubelet_pod_start_duration_seconds_count", "-o", "json", "--file", "-"]);
    let output = run_with_stdin(command, &std::fs::read(fixture("seed-node1.prom")).expect("fixture"));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let line: serde_json::Value = serde_json::from_str(stdout(&output).trim()).expect("one JSON line");
    assert_eq!(
        line,
        serde_json::json!({"node": "stdin", "name": "kubelet_pod_start_duration_seconds_count",
                           "labels": {}, "value": 74, "timestamp_ms": null})
    );
}

#[test]
fn get_json_spells_non_finite_values_as_strings_and_keeps_timestamps() {
    let output = bin()
        .args(["get", "-o", "json", "-m", "rest_client_exec_plugin_ttl_seconds", "--file"])
        .arg(fixture("real/kubelet-1.21.2-metrics.prom"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let line: serde_json::Value = serde_json::from_str(stdout(&output).trim()).expect("one JSON line");
    assert_eq!(line["value"], "+Inf");
    assert_eq!(line["node"], "kubelet-1.21.2-metrics");

    let output = bin()
        .args(["get", "-o", "json", "-m", "container_cpu_usage_seconds_total", "--file"])
        .arg(fixture("real/kubelet-1.35.0-cadvisor.prom"))
        .output()
        .expect("runs");
    let first: serde_json::Value =
        serde_json::from_str(stdout(&output).lines().next().expect("a sample")).expect("JSON");
    assert!(first["timestamp_ms"].is_i64(), "{first}");
}

#[test]
fn get_merges_families_of_several_files() {
    let output = bin()
        .args(["get", "-m", "machine_cpu_cores", "--file"])
        .arg(fixture("real/kubelet-1.16.15-cadvisor.prom"))
        .arg("--file")
        .arg(fixture("real/kubelet-1.27.5-cadvisor.prom"))
        .args(["--node", "old", "--node", "new"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.matches("# TYPE machine_cpu_cores gauge").count(), 1, "{text}");
    assert!(text.contains("machine_cpu_cores{node=\"old\"} 2\n"), "{text}");
    assert!(text.contains("machine_cpu_cores{node=\"new\","), "{text}");
}

#[test]
fn get_of_one_file_writes_as_it_reads_what_the_merge_writes() {
    // One file is written as it is read; beside a missing second file it goes through the
    // cross-node merge. Every real payload comes out the same both ways.
    for name in ["kubelet-1.21.2-metrics.prom", "kubelet-1.35.0-cadvisor.prom", "kubelet-slis.prom"] {
        let payload = fixture(&format!("real/{name}"));
        let one = bin().args(["get", "--node", "n1", "--file"]).arg(&payload).output().expect("runs");
        assert_eq!(one.status.code(), Some(0), "{name}: {}", stderr(&one));
        let merged = bin()
            .args(["get", "--node", "n1", "--node", "n2", "--file"])
            .arg(&payload)
            .args(["--file", "/nonexistent/n2.prom"])
            .output()
            .expect("runs");
        assert_eq!(merged.status.code(), Some(1), "{name}: n2 is missing");
        assert!(stdout(&one).contains("{node=\"n1\""), "{name}");
        assert_eq!(stdout(&one), stdout(&merged), "{name}");
    }
}

#[test]
fn a_missing_file_fails_that_node_only() {
    let output = bin()
        .args(["get", "-m", "machine_cpu_cores", "--file"])
        .arg(fixture("real/kubelet-1.16.15-cadvisor.prom"))
        .args(["--file", "/nonexistent/n2.prom"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "partial: one node failed");
    assert!(stdout(&output).contains("machine_cpu_cores{node=\"kubelet-1.16.15-cadvisor\"} 2"));
    let err = stderr(&output);
    assert!(err.contains("error: node n2: cannot read /nonexistent/n2.prom"), "{err}");
}

#[test]
fn conflicting_flags_exit_2_listing_every_problem() {
    let output = bin().args(["get", "--file", "x", "--context", "c", "-l", "a=b"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--context reads a cluster") && err.contains("--selector reads a cluster"), "{err}");
}

fn histogram_json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let output = bin().args(["histogram", "-o", "json"]).args(args).output().expect("runs");
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));
    (output.status.code(), json)
}

#[test]
fn histogram_reproduces_the_seed_numbers() {
    let seed = fixture("seed-node1.prom");
    let (code, json) = histogram_json(&["--file", seed.to_str().expect("utf8"), "--node", "node-1"]);
    assert_eq!(code, Some(0));
    let node = &json["nodes"][0];
    assert_eq!(node["node"], "node-1");
    assert_eq!(node["count"], 74.0);
    // 442.6225922320001 / 74 = 5.9814
    assert!((node["mean"].as_f64().expect("mean") - 5.9814).abs() < 1e-4, "{node}");
    let quantile = |q: &str| node["quantiles"][q].as_f64().expect("quantile");
    // p50: rank 37 of 39 in (0, 0.5] → 0.5 × 37/39 = 0.4744
    assert!((quantile("0.5") - 0.4744).abs() < 1e-3);
    // p90: rank 66.6, 64 ≤ 20 s, 71 ≤ 30 s → 20 + 10 × 2.6/7 = 23.71
    assert!((quantile("0.9") - 23.714).abs() < 1e-2);
    // p99: rank 73.26, 71 ≤ 30 s, 74 ≤ 45 s → 30 + 15 × 2.26/3 = 41.3
    assert!((quantile("0.99") - 41.3).abs() < 1e-2);
    let fractions: Vec<f64> =
        node["bands"].as_array().expect("bands").iter().map(|b| b["fraction"].as_f64().expect("f")).collect();
    // 39/74, 16/74, 16/74, 3/74
    let expected = [0.527, 0.216, 0.216, 0.041];
    for (got, want) in fractions.iter().zip(expected) {
        assert!((got - want).abs() < 5e-4, "{fractions:?}");
    }
    assert_eq!(json["method"], "file");
    assert_eq!(json["cluster"]["count"], 74.0);
}

#[test]
fn pod_start_alias_and_an_slo_that_fails_exit_3() {
    let output = bin()
        .args(["pod-start", "--slo", "p99<=5s", "--file"])
        .arg(fixture("seed-node1.prom"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("SLO p99<=5s on cluster: FAIL (observed 41.30s)"),
        "{}",
        stdout(&output)
    );

    let (code, json) =
        histogram_json(&["--slo", "p99<=60s", "--file", fixture("seed-node1.prom").to_str().expect("utf8")]);
    assert_eq!(code, Some(0));
    assert_eq!(json["slo"]["holds"], true);
}

#[test]
fn a_payload_without_the_metric_is_a_missing_node_not_a_crash() {
    let (code, json) = histogram_json(&[
        "--file",
        fixture("seed-node1.prom").to_str().expect("utf8"),
        "--file",
        fixture("real/kubelet-gke-probes.prom").to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(1), "partial");
    assert_eq!(json["errors"][0]["node"], "kubelet-gke-probes");
    assert_eq!(json["errors"][0]["kind"], "missing");
}

#[test]
fn snapshot_then_baseline_reports_what_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Before: a made-up earlier state of the seed node: 30 starts, all within 0.5 s.
    let seed = std::fs::read_to_string(fixture("seed-node1.prom")).expect("fixture");
    let before: String = seed
        .lines()
        .map(|line| match line.rsplit_once(' ') {
            Some((head, _)) if line.contains("_bucket") || line.contains("_count") => format!("{head} 30"),
            Some((head, _)) if line.contains("_sum") => format!("{head} 6"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let before_file = dir.path().join("node-1.prom");
    std::fs::write(&before_file, before).expect("write");
    let snapshot = dir.path().join("before.prom");
    let output = bin()
        .args(["snapshot", "-m", "kubelet_pod_start_duration_seconds", "--output-file"])
        .arg(&snapshot)
        .arg("--file")
        .arg(&before_file)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let saved = std::fs::read_to_string(&snapshot).expect("snapshot written");
    assert!(saved.contains("kubelet_pod_start_duration_seconds_count{node=\"node-1\"} 30"), "{saved}");

    let (code, json) = histogram_json(&[
        "--baseline",
        snapshot.to_str().expect("utf8"),
        "--file",
        fixture("seed-node1.prom").to_str().expect("utf8"),
        "--node",
        "node-1",
    ]);
    assert_eq!(code, Some(0));
    // 74 - 30 = 44 starts since the snapshot; 442.62 - 6 = 436.62 s.
    assert_eq!(json["nodes"][0]["count"], 44.0);
    assert!((json["nodes"][0]["sum"].as_f64().expect("sum") - 436.6226).abs() < 1e-3);
}

#[test]
fn kubectl_runs_it_as_a_plugin() {
    // kubectl finds plugins named kubectl-<name> on PATH, `_` standing for `-` in the command.
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_kubelet-metrics"),
        dir.path().join("kubectl-kubelet_metrics"),
    )
    .expect("symlink");
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let output = std::process::Command::new("kubectl")
        .args(["kubelet-metrics", "histogram", "-o", "csv", "--file"])
        .arg(fixture("seed-node1.prom"))
        .env("PATH", path)
        .output()
        .expect("kubectl is installed (scripts/test installs it)");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("seed-node1"), "{}", stdout(&output));
}

/// `kubelet_pod_start_sli_duration_seconds` with the given `(le, cumulative count)` buckets.
fn sli_payload(buckets: &[(&str, u64)], sum: &str) -> String {
    let name = "kubelet_pod_start_sli_duration_seconds";
    let mut text = format!("# TYPE {name} histogram\n");
    for (le, count) in buckets {
        text.push_str(&format!("{name}_bucket{{le=\"{le}\"}} {count}\n"));
    }
    let total = buckets.last().map_or(0, |(_, count)| *count);
    text.push_str(&format!("{name}_sum {sum}\n{name}_count {total}\n"));
    text
}

/// `histogram kubelet_pod_start_sli_duration_seconds --file - ARGS` over `payload`.
fn sli_histogram(payload: &str, args: &[&str]) -> std::process::Output {
    let mut command = bin();
    command.args(["histogram", "kubelet_pod_start_sli_duration_seconds", "--file", "-"]).args(args);
    run_with_stdin(command, payload.as_bytes())
}

#[test]
fn a_p99_above_the_largest_finite_bucket_never_passes() {
    // 12 starts, largest finite bucket 10 s, 2 above it: p99 is only known to be > 10 s.
    let payload = sli_payload(&[("5", 6), ("10", 10), ("+Inf", 12)], "150");
    let at = sli_histogram(&payload, &["--slo", "p99<=10s"]);
    assert_eq!(at.status.code(), Some(3), "{}", stdout(&at));
    assert!(stdout(&at).contains("SLO p99<=10s on cluster: FAIL (observed ≥10.00s)"), "{}", stdout(&at));

    let above = sli_histogram(&payload, &["--slo", "p99<=20s"]);
    assert_eq!(above.status.code(), Some(4), "{}", stdout(&above));
    assert!(
        stdout(&above).contains("SLO p99<=20s on cluster: UNKNOWN (observed ≥10.00s)"),
        "{}",
        stdout(&above)
    );

    assert_eq!(
        sli_histogram(&payload, &["--slo", "p99<=20s", "--slo-unknown", "pass"]).status.code(),
        Some(0)
    );
    assert_eq!(
        sli_histogram(&payload, &["--slo", "p99<=20s", "--slo-unknown", "fail"]).status.code(),
        Some(3)
    );

    let json = sli_histogram(&payload, &["--slo", "p99<=20s", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(json["slo"]["state"], "unknown");
    assert_eq!(json["slo"]["holds"], false);
    assert_eq!(json["slo"]["verdicts"][0]["lower_bound"], true);
    assert!(
        json["slo"]["verdicts"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("largest finite bucket bound 10")
    );
}

#[test]
fn a_mean_from_a_negative_sum_is_unknown_not_a_pass() {
    // The AKS payload of kubernetes#130432: a negative `_sum`.
    let payload = sli_payload(&[("1", 100), ("+Inf", 110)], "-1.8446742887692856e+10");
    let output = sli_histogram(&payload, &["--slo", "mean<=3s"]);
    assert_eq!(output.status.code(), Some(4), "{}", stdout(&output));
    assert!(stdout(&output).contains("UNKNOWN"), "{}", stdout(&output));
    assert!(stdout(&output).contains("negative `_sum`"), "{}", stdout(&output));
}

#[test]
fn no_pod_starts_is_unknown_not_a_failure() {
    let payload = sli_payload(&[("1", 0), ("+Inf", 0)], "0");
    let output = sli_histogram(&payload, &["--slo", "p99<=5s"]);
    assert_eq!(output.status.code(), Some(4), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("SLO p99<=5s on cluster: UNKNOWN (observed -): no observations"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn slo_unknown_needs_an_slo() {
    let output =
        bin().args(["histogram", "--file", "x.prom", "--slo-unknown", "pass"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--slo-unknown needs --slo"), "{}", stderr(&output));
}

#[test]
fn grep_output_without_a_type_line_is_a_histogram() {
    // `kubectl get --raw /api/v1/nodes/n/proxy/metrics | grep kubelet_pod_start_duration_seconds_`
    let seed = std::fs::read_to_string(fixture("seed-node1.prom")).expect("fixture");
    let grepped: String = seed.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    let mut command = bin();
    command.args(["histogram", "-o", "json", "--file", "-"]);
    let output = run_with_stdin(command, grepped.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["cluster"]["count"], 74);
}

#[test]
fn two_scrapes_in_one_file_are_not_summed() {
    let seed = std::fs::read_to_string(fixture("seed-node1.prom")).expect("fixture");
    let mut command = bin();
    command.args(["histogram", "-o", "json", "--file", "-"]);
    let output = run_with_stdin(command, format!("{seed}{seed}").as_bytes());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["cluster"]["count"], 74);
    assert_eq!(json["cluster"]["buckets"][25]["count"], 74, "+Inf is the first scrape's");
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("repeat a series already in this payload"), "{warnings}");
}

#[test]
fn a_file_with_no_valid_line_is_not_prometheus_text_and_exits_2() {
    let mut garbage: Vec<u8> = (0..200u32).flat_map(|i| format!("<p>line {i}</p>\n").into_bytes()).collect();
    garbage.extend_from_slice(&[0xff, 0xfe, 0x00, b'\n']);
    let mut command = bin();
    command.args(["get", "--file", "-"]);
    let output = run_with_stdin(command, &garbage);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    // The failure wraps at 100 columns: read it as one line.
    let joined = err.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(joined.contains("not Prometheus text: no valid line; line 1: "), "{err}");
    assert!(joined.contains("and 198 more malformed line(s)"), "{err}");
    assert_eq!(
        err.lines().filter(|l| !l.starts_with("  ")).count(),
        1,
        "one failure, not a warning per line: {err}"
    );
}

#[test]
fn get_with_a_selector_matching_nothing_says_so() {
    let output = bin()
        .args(["get", "-m", "no_such_metric", "--file"])
        .arg(fixture("seed-node1.prom"))
        .output()
        .expect("runs");
    assert!(stdout(&output).is_empty());
    assert!(stderr(&output).contains("-m no_such_metric matched nothing"), "{}", stderr(&output));
}

#[test]
fn a_line_longer_than_one_mebibyte_is_accepted() {
    let long = "x".repeat(2 << 20);
    let payload = format!("# TYPE big gauge\nbig{{v=\"{long}\"}} 1\nsmall 2\n");
    let mut command = bin();
    command.args(["get", "-m", "big", "-o", "json", "--file", "-"]);
    let output = run_with_stdin(command, payload.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let line: serde_json::Value = serde_json::from_str(stdout(&output).trim()).expect("one JSON line");
    assert_eq!(line["labels"]["v"].as_str().map(str::len), Some(2 << 20));
}
