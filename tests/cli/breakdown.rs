//! `breakdown`: every number it prints equals the PromQL it prints for it, evaluated by a real
//! Prometheus (`promtool test rules`) over the same samples (as `get` writes them, with a `node`
//! label), to 1e-12 relatively (floating-point sums in another order); the table's shape as a
//! snapshot; kubesim's new histograms as truth.json says.

use std::fmt::Write as _;

use kubelet_metrics::exposition;
use serde_json::Value;

use crate::oracle::{label_set, promtool, run_promtool, yaml_quote};
use crate::{bin, fixture, stderr, stdout};

/// The families a breakdown reads, as `get -m` selects them.
const FAMILIES: &[&str] = &[
    "kubelet_pod_start_sli_duration_seconds",
    "kubelet_pod_start_total_duration_seconds",
    "kubelet_pod_start_duration_seconds",
    "kubelet_image_pull_duration_seconds",
    "kubelet_run_podsandbox_duration_seconds",
    "kubelet_runtime_operations_duration_seconds",
    "kubelet_pod_worker_duration_seconds",
    "kubelet_pleg_relist_duration_seconds",
    "kubelet_pleg_relist_interval_seconds",
];

fn json(output: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| panic!("{e}: {}", stderr(output)))
}

/// A JSON number of the document as promtool's expected value: the shortest decimal that reads
/// back as the same f64; `None` for `"NaN"` (PromQL's `x == x` drops NaN results).
fn expected(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.as_f64().expect("finite").to_string()),
        Value::String(s) if s == "NaN" => None,
        Value::String(s) => Some(s.clone()),
        other => panic!("not a number: {other}"),
    }
}

/// One `promtool test rules` file: the samples of `get -o prom` as input series, and for every
/// row of the breakdown document each number's printed PromQL, expected to give that number.
/// Returns the file and how many numbers it checks.
fn rules_test(samples: &str, document: &Value) -> (String, usize) {
    let families = exposition::parse(samples).expect("get -o prom parses");
    let mut input = String::new();
    for family in &families {
        for sample in &family.samples {
            let series = format!("{}{}", sample.name, label_set(sample.labels.iter()));
            writeln!(input, "      - series: {}\n        values: '{}'", yaml_quote(&series), sample.value)
                .expect("writing to a String");
        }
    }
    let mut exprs = String::new();
    let mut checked = 0;
    let scopes = std::iter::once(&document["cluster"]).chain(document["nodes"].as_array().expect("nodes"));
    for scope in scopes {
        for row in scope["rows"].as_array().expect("rows") {
            let promql = &row["promql"];
            let mut pairs = vec![(&promql["count"], &row["count"]), (&promql["mean"], &row["mean"])];
            for (q, expr) in promql["quantiles"].as_object().expect("quantiles") {
                pairs.push((expr, &row["quantiles"][q]));
            }
            for (expr, value) in pairs {
                let expr = expr.as_str().expect("PromQL text");
                checked += 1;
                // A number: within 1e-12 of ours, relatively (a cluster's sums add the nodes in
                // another order than PromQL's `sum`, which can move the last bit). NaN: PromQL's
                // is NaN too (`x == x` drops it).
                let (check, samples) = match expected(value) {
                    Some(v) => (
                        format!(
                            "abs(({expr}) - ({v})) <= bool {}",
                            1e-12 * v.parse::<f64>().expect("a number").abs()
                        ),
                        "\n          - labels: '{}'\n            value: 1".to_string(),
                    ),
                    None => (format!("({expr}) == ({expr})"), " []".to_string()),
                };
                writeln!(
                    exprs,
                    "      - expr: {}\n        eval_time: 0\n        exp_samples:{samples}",
                    yaml_quote(&check)
                )
                .expect("writing to a String");
            }
        }
    }
    let file = format!(
        "evaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    promql_expr_test:\n{exprs}"
    );
    (file, checked)
}

/// `breakdown -o json` and `get -o prom` with the same source arguments.
fn document_and_samples(source: &[&str]) -> (Value, String) {
    let document = bin()
        .arg("breakdown")
        .args(source)
        .args(["-o", "json", "--quantiles", "0.5,0.9,0.99"])
        .output()
        .expect("runs");
    assert!(document.status.success(), "{}", stderr(&document));
    let mut get = bin();
    get.arg("get").args(source);
    for family in FAMILIES {
        get.args(["-m", family]);
    }
    let samples = get.output().expect("runs");
    assert!(samples.status.success(), "{}", stderr(&samples));
    (json(&document), stdout(&samples))
}

/// Whether promtool agrees with every number of `document` over `samples`, its output, and how
/// many numbers were checked.
fn promtool_agrees(samples: &str, document: &Value) -> (bool, String, usize) {
    let (file, checked) = rules_test(samples, document);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("breakdown_test.yml");
    std::fs::write(&path, file).expect("writing the promtool test");
    let (success, output) = run_promtool(&promtool(), &path);
    (success, output, checked)
}

/// Checks every number of `breakdown` against its PromQL over `get`'s samples with promtool.
fn every_number_equals_its_promql(source: &[&str]) -> usize {
    let (document, samples) = document_and_samples(source);
    let (success, output, checked) = promtool_agrees(&samples, &document);
    assert!(success, "promtool disagrees with breakdown ({checked} numbers):\n{output}");
    checked
}

#[test]
fn the_promql_check_catches_a_wrong_number() {
    // Guards the check itself: one mean off by one part in a million must fail in promtool.
    let v121 = fixture("real/kubelet-1.21.2-metrics.prom");
    let (mut document, samples) = document_and_samples(&["--file", v121.to_str().unwrap(), "--node", "eks"]);
    let mean = &mut document["nodes"][0]["rows"][0]["mean"];
    *mean = serde_json::json!(mean.as_f64().expect("a mean") * (1.0 + 1e-6));
    let (success, output, _) = promtool_agrees(&samples, &document);
    assert!(!success, "promtool accepted a wrong mean:\n{output}");
}

#[test]
fn every_number_of_saved_payloads_equals_promql() {
    let v114 = fixture("real/kubelet-1.14.10-metrics.prom");
    let v121 = fixture("real/kubelet-1.21.2-metrics.prom");
    let (v114, v121) = (v114.to_str().unwrap(), v121.to_str().unwrap());
    // Two kubelets with different runtime buckets: the cluster rows name the nodes they cover.
    let checked =
        every_number_equals_its_promql(&["--file", v114, "--file", v121, "--node", "old", "--node", "eks"]);
    assert!(checked > 150, "only {checked} numbers checked");
}

#[tokio::test]
async fn every_number_over_kubesim_equals_promql_and_the_stages_equal_truth() {
    let cluster = kubesim::Cluster::builder().nodes(4).seed(5).start().await.expect("kubesim starts");
    let kubeconfig = cluster.admin_kubeconfig();
    let kubeconfig = kubeconfig.to_str().expect("UTF-8 path");
    let checked = every_number_equals_its_promql(&["--kubeconfig", kubeconfig]);
    assert!(checked > 100, "only {checked} numbers checked");

    let output = bin().args(["breakdown", "--kubeconfig", kubeconfig, "-o", "json"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let document = json(&output);
    let truth = cluster.truth();
    let mut compared = 0;
    for node in &truth.nodes {
        let scope = document["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["node"] == node.name.as_str())
            .unwrap_or_else(|| panic!("{} is in the breakdown", node.name));
        assert_eq!(scope["kubelet_version"], node.kubelet_version.as_str());
        let pod_start = [&node.pod_start].into_iter().chain(node.pod_start_sli.as_ref());
        for histogram in pod_start.chain(&node.stages) {
            let row = scope["rows"]
                .as_array()
                .expect("rows")
                .iter()
                .find(|row| {
                    row["metric"] == histogram.metric.as_str()
                        && histogram.labels.values().all(|value| row["label"]["value"] == value.as_str())
                })
                .unwrap_or_else(|| {
                    panic!("{}: no row for {} {:?}", node.name, histogram.metric, histogram.labels)
                });
            assert_eq!(
                row["count"].as_f64(),
                Some(histogram.count as f64),
                "{}: {}",
                node.name,
                histogram.metric
            );
            let sum = row["sum"].as_f64().expect("a sum");
            assert!(
                (sum - histogram.sum).abs() < 1e-9,
                "{}: {} sum {sum} vs {}",
                node.name,
                histogram.metric,
                histogram.sum
            );
            compared += 1;
        }
        // The pre-1.29 kubelet has neither the total nor the image pull histogram, and no row for them.
        let has =
            |metric: &str| scope["rows"].as_array().expect("rows").iter().any(|row| row["metric"] == metric);
        let newer = node.profile != "old";
        assert_eq!(has("kubelet_pod_start_total_duration_seconds"), newer, "{}", node.name);
        if !newer {
            assert!(!has("kubelet_image_pull_duration_seconds"), "{}", node.name);
        }
    }
    assert!(compared >= 4 * 3, "only {compared} histograms compared with truth");
    cluster.shutdown().await;
}

#[test]
fn the_table_names_every_number_s_series_and_marks_the_slowest_phase() {
    let v114 = fixture("real/kubelet-1.14.10-metrics.prom");
    let v121 = fixture("real/kubelet-1.21.2-metrics.prom");
    let output = bin()
        .arg("breakdown")
        .arg("--file")
        .arg(&v114)
        .arg("--file")
        .arg(&v121)
        .args(["--node", "old", "--node", "eks"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    insta::assert_snapshot!(stdout(&output));
}

#[test]
fn a_payload_without_the_histograms_is_a_named_failure_and_the_rest_is_reported() {
    let cadvisor = fixture("real/kubelet-1.35.0-cadvisor.prom");
    let v121 = fixture("real/kubelet-1.21.2-metrics.prom");
    let output = bin()
        .arg("breakdown")
        .arg("--file")
        .arg(&cadvisor)
        .arg("--file")
        .arg(&v121)
        .args(["--node", "cad", "--node", "eks", "-o", "csv"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("1 of 2 nodes have no breakdown (cad)"), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.lines().any(|l| l.starts_with("node,cad,") && l.contains("missing:")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("node,eks,v1.21.2,sandbox,phase,")), "{text}");
}

#[tokio::test]
async fn get_reads_the_kubelets_healthcheck_slis() {
    let cluster = kubesim::Cluster::builder().nodes(2).seed(5).start().await.expect("kubesim starts");
    let output = bin()
        .args(["get", "--endpoint", "slis", "-m", "kubernetes_healthcheck", "--kubeconfig"])
        .arg(cluster.admin_kubeconfig())
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    for node in cluster.node_names() {
        // kubelet-slis.prom: the log, ping and syncloop checks, each healthy.
        for check in ["log", "ping", "syncloop"] {
            let line =
                format!("kubernetes_healthcheck{{node=\"{node}\",name=\"{check}\",type=\"healthz\"}} 1");
            assert!(text.contains(&line), "{line} in:\n{text}");
        }
    }
    cluster.shutdown().await;
}
