//! What `deploy/` ships: the Prometheus rules pass `promtool check rules`, and `promtool test
//! rules` evaluates them on the series our own `serve` produced from kubesim (one node
//! unreachable, pod starts recorded in between), expecting exactly the alerts our own analysis
//! of the same page predicts. The Grafana dashboard is JSON whose queries name series `serve`
//! exports or the rules record.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kubelet_metrics::analysis::{Query, analyze};
use kubelet_metrics::exposition::{self, Family, LabelSet};
use kubelet_metrics::snapshot::split_by_node;

use crate::http_get;
use crate::servers::{poll, start_serve};

const SLI: &str = "kubelet_pod_start_sli_duration_seconds";
/// The objective the rules hold, in seconds.
const SLO_SECONDS: f64 = 5.0;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(path)
}

fn promtool(args: &[&str]) -> String {
    let output =
        Command::new("promtool").args(args).output().expect("promtool is installed (Debian `prometheus`)");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn the_rules_pass_promtool_check() {
    let rules = deploy("prometheus/kubelet-metrics.rules.yaml");
    let text = promtool(&["check", "rules", &rules.to_string_lossy()]);
    assert!(text.contains("SUCCESS"), "{text}");
}

/// `name{labels}` as PromQL writes a series, with Prometheus' `job` and `instance` added.
fn series(name: &str, labels: &LabelSet) -> String {
    let all = labels.iter().chain([("job", "kubelet-metrics"), ("instance", "serve:9153")]);
    let inner: Vec<String> = all.map(|(k, v)| format!("{k}={}", serde_json::Value::from(v))).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// Every sample of `families` by its series text.
fn values(families: &[Family]) -> BTreeMap<String, f64> {
    families.iter().flat_map(|f| &f.samples).map(|s| (series(&s.name, &s.labels), s.value)).collect()
}

fn page(addr: std::net::SocketAddr, accept: impl Fn(&str) -> bool) -> String {
    poll("a collection", Duration::from_secs(30), || {
        http_get(addr, "/metrics")
            .ok()
            .filter(|(status, body)| *status == 200 && accept(body))
            .map(|(_, b)| b)
    })
}

fn sample_value(text: &str, prefix: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn promtool_fires_the_alerts_our_analysis_predicts_on_series_serve_produced() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime
        .block_on(kubesim::Cluster::builder().nodes(5).seed(11).fault(4, kubesim::Fault::Refuse).start())
        .expect("kubesim");
    for node in cluster.node_names() {
        cluster.restart(&node);
    }
    let (_serve, addr) = start_serve(&cluster.admin_kubeconfig().to_string_lossy());
    let collections = "kubelet_metrics_collections_total ";
    let before = page(addr, |body| body.contains(collections));
    let first = sample_value(&before, collections).expect("collections");
    cluster.advance(60);
    let after = page(addr, |body| sample_value(body, collections).is_some_and(|n| n >= first + 2.0));
    let parse = |text: &str| exposition::parse(text).expect("serve's page parses");
    let (before, after) = (parse(&before), parse(&after));

    // The input: every series of the later page, at its value in the earlier page for ten
    // minutes (0 when absent: the kubelets were just restarted) and at its later value for
    // fifty. The collection timestamp advances with the evaluation clock, as it does live.
    let (old, new) = (values(&before), values(&after));
    let mut input = String::new();
    for (name, value) in &new {
        let values = if name.starts_with("kubelet_metrics_last_collection_timestamp_seconds") {
            "0+60x60".to_string()
        } else {
            // promtool's series notation has no NaN (an empty summary's quantiles): `_` is
            // a missing sample.
            let notation = |v: f64| if v.is_finite() { v.to_string() } else { "_".to_string() };
            format!("{}x10 {}x50", notation(old.get(name).copied().unwrap_or(0.0)), notation(*value))
        };
        writeln!(input, "      - series: '{name}'\n        values: '{values}'").expect("string");
    }
    writeln!(
        input,
        "      - series: 'up{{job=\"kubelet-metrics\",instance=\"serve:9153\"}}'\n        values: '1x60'"
    )
    .expect("string");

    // What our analysis of the later page says (the earlier page is all zeros, so the later one
    // is the increase over the window).
    let scrapes = split_by_node(&after);
    let report = analyze(&scrapes, &Query::new(SLI));
    let p99 = |stats: &kubelet_metrics::analysis::Stats| {
        stats.quantiles.iter().find(|(q, _)| *q == 0.99).map(|(_, v)| *v).expect("p99 computed")
    };
    let cluster_p99 = p99(&report.cluster.stats);
    let mut alerts: Alerts = BTreeMap::new();
    for node in cluster.node_names() {
        if !report.nodes.iter().any(|n| n.node == node) {
            expect(
                &mut alerts,
                "KubeletMetricsKubeletNotRead",
                &[("node", node.clone()), ("severity", "warning".into())],
            );
        }
    }
    assert_eq!(alerts.len(), 1, "the refusing node is not read");
    assert!(
        (cluster_p99 - SLO_SECONDS).abs() > 1e-6,
        "seed puts p99 {cluster_p99} on the objective; pick another"
    );
    if cluster_p99 > SLO_SECONDS {
        expect(&mut alerts, "PodStartSLOViolated", &[("severity", "critical".into())]);
    }
    for node in &report.nodes {
        let (node_p99, starts) = (p99(&node.stats), node.stats.count);
        if starts >= 10.0 && node_p99 > SLO_SECONDS {
            expect(
                &mut alerts,
                "PodStartSLOViolatedOnNode",
                &[("node", node.node.clone()), ("severity", "warning".into())],
            );
        }
        if starts >= 10.0 && node_p99 > 3.0 * cluster_p99 {
            expect(
                &mut alerts,
                "PodStartNodeSlowerThanTheRest",
                &[("node", node.node.clone()), ("severity", "warning".into())],
            );
        }
    }
    let annotations = rule_annotations();
    let mut tests = String::new();
    for alert in annotations.keys() {
        writeln!(tests, "      - eval_time: 35m\n        alertname: {alert}\n        exp_alerts:")
            .expect("string");
        for labels in alerts.get(alert.as_str()).into_iter().flatten() {
            let labels_yaml: Vec<String> =
                labels.iter().map(|(k, v)| format!("{k}: {}", serde_json::Value::from(v.as_str()))).collect();
            let node = labels.get("node").cloned().unwrap_or_default();
            let texts: Vec<String> = annotations[alert]
                .iter()
                .map(|(k, v)| {
                    let text = v
                        .replace("{{ $labels.node }}", &node)
                        .replace("{{ $labels.instance }}", "serve:9153");
                    format!("{k}: {}", serde_json::Value::from(text))
                })
                .collect();
            writeln!(
                tests,
                "          - exp_labels: {{{}}}\n            exp_annotations: {{{}}}",
                labels_yaml.join(", "),
                texts.join(", ")
            )
            .expect("string");
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("generated.test.yaml");
    std::fs::write(
        &file,
        format!(
            "rule_files:\n  - {}\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    alert_rule_test:\n{tests}",
            deploy("prometheus/kubelet-metrics.rules.yaml").display()
        ),
    )
    .expect("test file");
    let text = promtool(&["test", "rules", &file.to_string_lossy()]);
    assert!(text.contains("SUCCESS"), "{text}");
    eprintln!("expected alerts (cluster p99 {cluster_p99:.3}s): {alerts:?}");
    runtime.block_on(cluster.shutdown());
}

/// Expected alerts: name → the label sets of its firing instances.
type Alerts = BTreeMap<&'static str, Vec<BTreeMap<&'static str, String>>>;

fn expect(alerts: &mut Alerts, alert: &'static str, labels: &[(&'static str, String)]) {
    alerts.entry(alert).or_default().push(labels.iter().cloned().collect());
}

/// Each alert's annotations as the rules file writes them (templates unexpanded).
fn rule_annotations() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(deploy("prometheus/kubelet-metrics.rules.yaml")).expect("rules");
    let output = Command::new("python3")
        .args(["-c", "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("piped").write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("python3 with PyYAML reads the rules");
    let rules: serde_json::Value = serde_json::from_slice(&output.stdout).expect("rules as JSON");
    let mut out = BTreeMap::new();
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let Some(alert) = rule["alert"].as_str() else { continue };
            let annotations = rule["annotations"]
                .as_object()
                .map(|a| {
                    a.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
                })
                .unwrap_or_default();
            out.insert(alert.to_string(), annotations);
        }
    }
    out
}

/// The dashboard is Grafana JSON whose every query names a series `serve` exports or the rules
/// record, with unique panel ids, and each query parses as PromQL (`promtool`'s own parser,
/// through `promtool check rules` on a rule per query).
#[test]
fn the_dashboard_queries_what_serve_exports_or_the_rules_record() {
    let text = std::fs::read_to_string(deploy("grafana/kubelet-metrics.json")).expect("dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let rules = std::fs::read_to_string(deploy("prometheus/kubelet-metrics.rules.yaml")).expect("rules");
    let known = |name: &str| {
        name.starts_with("kubelet_metrics_")
            || name.starts_with("kubelet_pod_start_")
            || name.starts_with("process_")
            || rules.contains(&format!("record: {name}\n"))
    };
    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids: Vec<i64> = panels.iter().map(|p| p["id"].as_i64().expect("id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), panels.len(), "unique panel ids");
    let mut check = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in panels
        .iter()
        .flat_map(|p| p["targets"].as_array().expect("targets"))
        .map(|t| t["expr"].as_str().expect("expr"))
        .enumerate()
    {
        let names: Vec<&str> = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| w.contains('_') && w.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
            .collect();
        assert!(names.iter().all(|n| known(n) || !n.contains("kubelet")), "{expr}: {names:?}");
        writeln!(
            check,
            "      - record: dashboard:query{i}\n        expr: {}",
            serde_json::Value::from(expr)
        )
        .expect("string");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("dashboard.rules.yaml");
    std::fs::write(&file, check).expect("rules");
    promtool(&["check", "rules", &file.to_string_lossy()]);
}
