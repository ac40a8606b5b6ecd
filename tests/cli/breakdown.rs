//! `breakdown`: every number it prints equals the PromQL it prints for it, evaluated by a real
//! Prometheus (`promtool test rules`) over the same samples (as `get` writes them, with a `node`
//! label); the table's shape as a snapshot; kubesim's new histograms as truth.json says.

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
            let series = format!("{}{}", sample.name, label_set(sample.labels.iter().map(|(k, v)| (k, v))));
            writeln!(input, "      - series: {}\n        values: '{}'", yaml_quote(&series), sample.value)
                .unwrap();
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
                let samples = match expected(value) {
                    Some(v) => format!("\n          - labels: '{{}}'\n            value: {v}"),
                    None => " []".to_string(),
                };
                writeln!(
                    exprs,
                    "      - expr: {}\n        eval_time: 0\n        exp_samples:{samples}",
                    yaml_quote(&format!("({expr}) == ({expr})"))
                )
                .unwrap();
            }
        }
    }
    let file = format!(
        "evaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    promql_expr_test:\n{exprs}"
    );
    (file, checked)
}

/// Runs `breakdown -o json` and `get -o prom` with the same source arguments, and checks every
/// number of the first against its PromQL over the second with promtool.
fn every_number_equals_its_promql(source: &[&str]) -> usize {
    let promtool = promtool();
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
    let (file, checked) = rules_test(&stdout(&samples), &json(&document));
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("breakdown_test.yml");
    std::fs::write(&path, file).expect("writing the promtool test");
    let (success, output) = run_promtool(&promtool, &path);
    assert!(success, "promtool disagrees with breakdown ({checked} numbers):\n{output}");
    checked
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
