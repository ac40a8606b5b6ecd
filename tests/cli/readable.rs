//! Output that stays readable at hundreds of nodes: identical failures once with a count and a
//! few names, empty results said on stderr, bounded lists.

use kubesim::{Cluster, Fault};

use std::io::{BufRead, BufReader, Read};
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::{Reaped, bin, stderr, stdout};

const NODES: usize = 500;

/// The widest a human-readable line may be, table rows aside (`kubelet_metrics::text::MAX_LINE`).
const MAX_LINE: usize = kubelet_metrics::text::MAX_LINE;

/// Lines of `text` wider than `limit` columns that are not table rows. A table row starts at the
/// left margin and has at least three cells apart by two or more spaces; it is as wide as its
/// columns need. Messages, caveats and fixes start indented or have a single space between words.
fn lines_over(text: &str, limit: usize) -> Vec<&str> {
    let table_row = |line: &str| {
        !line.starts_with(char::is_whitespace)
            && line.split("  ").filter(|cell| !cell.trim().is_empty()).count() >= 3
    };
    text.lines()
        .filter(|line| kubelet_metrics::text::display_width(line) > limit && !table_row(line))
        .collect()
}

/// Asserts that what a user reads keeps every line but table rows within [`MAX_LINE`] columns.
pub fn assert_lines_fit(text: &str) {
    let over = lines_over(text, MAX_LINE);
    assert!(over.is_empty(), "lines over {MAX_LINE} columns:\n{}", over.join("\n"));
}

/// The human-readable text of every insta snapshot in the project, named by where it is: each
/// `.snap` file (JSON, YAML and SVG documents left out: they are for programs) and each inline
/// snapshot in the sources.
fn every_snapshot() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut pending = vec![root.join("src"), root.join("tests"), root.join("crates")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("source directory reads").flatten() {
            let path = entry.path();
            let name = path.display().to_string();
            if path.is_dir() {
                pending.push(path);
            } else if name.ends_with(".snap") {
                let text = std::fs::read_to_string(&path).expect("snapshot reads");
                // The header between `---` lines, then the snapshot itself.
                let body = text.splitn(3, "---\n").nth(2).unwrap_or_default().to_string();
                if !is_document(&body) {
                    found.push((name, body));
                }
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path).expect("source reads");
                for (index, body) in inline_snapshots(&text).into_iter().enumerate() {
                    if !is_document(&body) {
                        found.push((format!("{name} (inline snapshot {})", index + 1), body));
                    }
                }
            }
        }
    }
    found
}

/// JSON, YAML, CSV and SVG: documents for programs, not lines for people.
fn is_document(body: &str) -> bool {
    let start = body.trim_start();
    start.starts_with(['{', '[', '<']) || start.starts_with("apiVersion:") || start.starts_with("---")
}

/// The literal of every `assert_snapshot!(…, @"…")` / `@r"…"` / `@r#"…"#` in `source`.
fn inline_snapshots(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("assert_snapshot!(") {
        rest = &rest[at..];
        let Some(open) = rest.find(['@', ';']) else { break };
        if rest.as_bytes()[open] == b';' {
            rest = &rest[open..];
            continue;
        }
        let literal = &rest[open + 1..];
        let hashes = literal.strip_prefix('r').map(|r| r.len() - r.trim_start_matches('#').len());
        let opening = match hashes {
            Some(n) => 1 + n + 1,
            None => 1,
        };
        let closing = format!("\"{}", "#".repeat(hashes.unwrap_or(0)));
        let body = &literal[opening.min(literal.len())..];
        let end = if hashes.is_some() {
            body.find(&closing).unwrap_or(body.len())
        } else {
            // A plain literal ends at the first quote that no backslash escapes.
            body.char_indices()
                .scan(false, |escaped, (at, c)| {
                    let ends = c == '"' && !*escaped;
                    *escaped = c == '\\' && !*escaped;
                    Some((at, ends))
                })
                .find_map(|(at, ends)| ends.then_some(at))
                .unwrap_or(body.len())
        };
        found.push(body[..end].to_string());
        rest = &body[end..];
    }
    found
}

#[test]
fn every_snapshot_keeps_its_lines_under_the_limit_except_tables() {
    let snapshots = every_snapshot();
    assert!(snapshots.len() >= 20, "the walk finds the project's snapshots: {}", snapshots.len());
    let over: Vec<String> = snapshots
        .iter()
        .flat_map(|(name, body)| {
            lines_over(body, MAX_LINE).into_iter().map(move |line| format!("{name}: {line}"))
        })
        .collect();
    assert!(over.is_empty(), "lines over {MAX_LINE} columns:\n{}", over.join("\n"));
}

#[test]
fn the_line_rule_tells_tables_from_messages() {
    let long_row = format!("node-a{}", "  12.3s".repeat(40));
    assert_eq!(lines_over(&long_row, MAX_LINE), Vec::<&str>::new());
    let long_message =
        format!("  forbidden on 500 nodes: {}", "user viewer cannot get nodes/proxy ".repeat(8));
    assert_eq!(lines_over(&long_message, MAX_LINE).len(), 1);
    assert_eq!(inline_snapshots("insta::assert_snapshot!(x, @r#\"a \"q\"\nb\"#);"), ["a \"q\"\nb"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_failures_print_once_with_a_count() {
    let cluster = Cluster::builder().nodes(NODES).start().await.expect("kubesim starts");
    let viewer = cluster.viewer_kubeconfig();
    let out = tokio::task::block_in_place(|| {
        bin().args(["histogram", "--concurrency", "32", "--kubeconfig"]).arg(&viewer).output().expect("runs")
    });
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    let forbidden: Vec<&str> = text.lines().filter(|l| l.starts_with("  forbidden")).collect();
    assert_eq!(forbidden.len(), 1, "{text}");
    // The group's message and fix, wrapped under its first line.
    let group = text.split("  forbidden").nth(1).and_then(|g| g.split("\n\n").next()).unwrap_or_default();
    assert!(
        forbidden[0].contains(&format!(
            "forbidden on {NODES} nodes (node-000, node-001, node-002, node-003, node-004 and {} more)",
            NODES - 5
        )),
        "{text}"
    );
    assert!(group.contains("/api/v1/nodes/NODE/proxy/metrics"), "{text}");
    assert!(group.contains("--user viewer"), "{text}");
    assert_lines_fit(&text);
    assert_lines_fit(&stderr(&out));
    // Everything a user sees at 500 nodes, reviewed as a whole: one line per failure group and
    // no node list longer than a few names.
    insta::assert_snapshot!(
        "histogram_forbidden_500_nodes",
        format!("stdout:\n{text}\nstderr:\n{}", stderr(&out))
    );
    assert!(
        stderr(&out).starts_with(&format!("error: {NODES} of {NODES} nodes failed (node-000,")),
        "{}",
        stderr(&out)
    );

    let out = tokio::task::block_in_place(|| {
        bin().args(["get", "--concurrency", "32", "--kubeconfig"]).arg(&viewer).output().expect("runs")
    });
    let errors: Vec<String> =
        stderr(&out).lines().filter(|l| l.starts_with("error:")).map(str::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with(&format!("error: forbidden on {NODES} nodes (")), "{errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_that_matches_nothing_is_said() {
    let cluster = Cluster::builder().nodes(3).start().await.expect("kubesim starts");
    let admin = cluster.admin_kubeconfig();
    let run = |command: &str, selection: &[&str]| {
        tokio::task::block_in_place(|| {
            let mut run = bin();
            run.arg(command).args(selection).arg("--kubeconfig").arg(&admin);
            match command {
                "snapshot" => run.args(["--output-file", "-"]),
                "watch" => run.args(["--interval", "1s", "--count", "1"]),
                _ => &mut run,
            };
            run.output().expect("runs")
        })
    };
    for command in ["histogram", "get", "snapshot", "breakdown", "watch"] {
        let out = run(command, &["-l", "team=nobody"]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        assert!(stderr(&out).contains("No nodes match -l team=nobody"), "{command}: {}", stderr(&out));
        // Nothing on stdout: no empty table, and no snapshot of no node for a later --baseline.
        assert_eq!(stdout(&out), "", "{command}");
    }
    for command in ["histogram", "get", "snapshot", "breakdown", "watch"] {
        let out = run(command, &["node-9"]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "No nodes match: node \"node-9\" not found; did you mean node-0, node-1 or node-2?\n",
            "{command}"
        );
        assert_eq!(stdout(&out), "", "{command}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_context_lists_the_contexts_there_are() {
    let cluster = Cluster::builder().nodes(1).start().await.expect("kubesim starts");
    let admin = cluster.admin_kubeconfig();
    let out = tokio::task::block_in_place(|| {
        bin().args(["histogram", "--context", "prod", "--kubeconfig"]).arg(&admin).output().expect("runs")
    });
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("has no context \"prod\"; its contexts: kubesim-admin"), "{text}");
}

#[test]
fn rows_sort_cut_and_lose_their_header_as_asked() {
    let files = ["real/kubelet-1.21.2-metrics.prom", "seed-node1.prom", "real/kubelet-1.14.10-metrics.prom"];
    let mut command = bin();
    command.args(["histogram", "--sort-by", "node", "--top", "2", "--no-headers"]);
    for (file, node) in files.iter().zip(["c-node", "a-node", "b-node"]) {
        command.arg("--file").arg(crate::fixture(file)).args(["--node", node]);
    }
    let out = command.output().expect("runs");
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
    assert!(rows[0].starts_with("a-node"), "{text}");
    assert!(rows[1].starts_with("b-node"), "{text}");
    assert!(rows[2].starts_with("CLUSTER"), "{text}");
    assert!(stderr(&out).contains("showing 2 of 3 rows (--top)"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colour_only_when_asked_or_on_a_terminal() {
    let cluster = Cluster::builder().nodes(1).start().await.expect("kubesim starts");
    let viewer = cluster.viewer_kubeconfig();
    let doctor = |colour: &str| {
        tokio::task::block_in_place(|| {
            bin().args(["doctor", "--color", colour, "--kubeconfig"]).arg(&viewer).output().expect("runs")
        })
    };
    assert!(
        stdout(&doctor("always")).contains("\x1b[1m\x1b[31mFAIL\x1b[0m"),
        "{:?}",
        stdout(&doctor("always"))
    );
    assert!(!stdout(&doctor("auto")).contains('\x1b'), "piped output has no colour");
    assert!(!stdout(&doctor("never")).contains('\x1b'));
}

#[test]
fn snapshot_output_is_a_format_and_the_file_is_named_apart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = bin()
        .current_dir(dir.path())
        .args(["snapshot", "--file"])
        .arg(crate::fixture("seed-node1.prom"))
        .args(["-o", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid value 'json'"), "{}", stderr(&out));
    assert!(!dir.path().join("json").exists(), "no file named after a format");
}

#[test]
fn yaml_and_jsonpath_write_the_json_document() {
    let seed = crate::fixture("seed-node1.prom");
    let run = |output: &str| {
        let out = bin()
            .args(["histogram", "--node", "n1", "-o", output, "--file"])
            .arg(&seed)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    // The seed's node 1: 74 starts, 442.62 s.
    let yaml = run("yaml");
    assert!(yaml.contains("- node: n1\n") || yaml.contains("  node: n1\n"), "{yaml}");
    assert!(yaml.contains("count: 74"), "{yaml}");
    assert_eq!(run("jsonpath={.nodes[*].node} {.cluster.count}"), "n1 74\n");
    assert!(run(r#"jsonpath={.nodes[0].sum}{"\n"}"#).starts_with("442.62"));

    let out = bin()
        .args(["get", "-m", "kubelet_pod_start_duration_seconds_count", "--node", "n1", "--file"])
        .arg(&seed)
        .args(["-o", "jsonpath={.node} {.name} {.value}"])
        .output()
        .expect("runs");
    assert_eq!(stdout(&out), "n1 kubelet_pod_start_duration_seconds_count 74\n", "{}", stderr(&out));

    let out = bin()
        .args(["histogram", "-o", "jsonpath={range .nodes[*]}{end}", "--file"])
        .arg(&seed)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("{range} is not supported"), "{}", stderr(&out));
}

#[test]
fn as_a_kubectl_plugin_usage_reads_kubectl_kubelet_metrics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plugin = dir.path().join("kubectl-kubelet_metrics");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kubelet-metrics"), &plugin).expect("symlink");
    let help = std::process::Command::new(&plugin).args(["histogram", "--help"]).output().expect("runs");
    assert!(
        stdout(&help).contains("Usage: kubectl kubelet-metrics histogram [OPTIONS]"),
        "{}",
        stdout(&help)
    );
    let mistake =
        std::process::Command::new(&plugin).args(["histogram", "--no-such-flag"]).output().expect("runs");
    assert_eq!(mistake.status.code(), Some(2));
    assert!(stderr(&mistake).contains("Usage: kubectl kubelet-metrics histogram"), "{}", stderr(&mistake));
    let plain = bin().args(["histogram", "--help"]).output().expect("runs");
    assert!(stdout(&plain).contains("Usage: kubelet-metrics histogram"), "{}", stdout(&plain));
}

#[test]
fn wide_node_names_keep_the_table_aligned() {
    let mut command = bin();
    command.arg("histogram");
    for (file, node) in [("seed-node1.prom", "節點-東京"), ("real/kubelet-1.21.2-metrics.prom", "node-b")]
    {
        command.arg("--file").arg(crate::fixture(file)).args(["--node", node]);
    }
    let out = command.output().expect("runs");
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().take_while(|l| !l.is_empty()).collect();
    assert!(rows.len() >= 4, "header, two nodes, cluster lines: {text}");
    let widths: Vec<usize> = rows.iter().map(|row| kubelet_metrics::text::display_width(row)).collect();
    assert!(widths.iter().all(|w| *w == widths[0]), "{widths:?}\n{text}");
}

#[test]
fn a_mistyped_metric_gets_did_you_mean_once_on_stderr() {
    let mut command = bin();
    command.args(["get", "-m", "kubelet_pod_strat_duration_seconds"]);
    // Three nodes, one line for all of them.
    for node in ["a", "b", "c"] {
        command.arg("--file").arg(crate::fixture("real/kubelet-1.21.2-metrics.prom")).args(["--node", node]);
    }
    let out = command.output().expect("runs");
    assert_eq!(stdout(&out), "");
    let text = stderr(&out);
    let hints: Vec<&str> = text.lines().filter(|l| l.starts_with("did you mean")).collect();
    assert_eq!(
        hints,
        ["did you mean kubelet_pod_start_duration_seconds? (the closest names in the payloads)"],
        "{text}"
    );

    let out = bin()
        .args(["histogram", "kubelet_pod_start_sli_duraton_seconds", "--node", "n1", "--file"])
        .arg(crate::fixture("seed-node1.prom"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean kubelet_pod_start_"), "{}", stderr(&out));

    // A name that is there, or nothing close: no guess.
    for metric in ["kubelet_pod_start_duration_seconds", "zzz_nothing_like_it"] {
        let out = bin()
            .args(["get", "-m", metric, "--file"])
            .arg(crate::fixture("seed-node1.prom"))
            .output()
            .expect("runs");
        assert!(!stderr(&out).contains("did you mean"), "{metric}: {}", stderr(&out));
    }
}

/// `--as` reaches the API server as kube-apiserver reads it: doctor judges the impersonated
/// user's RBAC, and a caller without `impersonate` is refused with the rule it lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_as_another_user_judges_that_users_access() {
    let cluster = Cluster::builder().nodes(2).start().await.expect("kubesim starts");
    let doctor = |kubeconfig: &std::path::Path, user: &str| {
        tokio::task::block_in_place(|| {
            bin().args(["doctor", "--as", user, "--kubeconfig"]).arg(kubeconfig).output().expect("runs")
        })
    };
    let admin = cluster.admin_kubeconfig();
    let plain = tokio::task::block_in_place(|| {
        bin().args(["doctor", "--kubeconfig"]).arg(&admin).output().expect("runs")
    });
    let failed =
        |text: &str| text.lines().filter(|l| l.starts_with("FAIL")).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(failed(&stdout(&plain)), Vec::<String>::new(), "the admin itself passes");

    let as_viewer = doctor(&admin, "viewer");
    let text = stdout(&as_viewer);
    assert!(failed(&text).iter().any(|l| l.contains("can-i get nodes/proxy")), "{text}");
    assert_lines_fit(&text);
    assert_ne!(as_viewer.status.code(), Some(0), "{text}");

    let viewer = cluster.viewer_kubeconfig();
    let refused = doctor(&viewer, "admin");
    let all = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(
        all.contains(r#"users \"admin\" is forbidden"#) || all.contains(r#"users "admin" is forbidden"#),
        "{all}"
    );
    assert!(all.contains("cannot impersonate resource"), "{all}");
}

#[test]
fn histogram_colours_a_violated_slo_and_the_slowest_rows_only_when_asked() {
    let files = ["seed-node1.prom", "real/kubelet-1.21.2-metrics.prom", "real/kubelet-1.14.10-metrics.prom"];
    let run = |colour: &str| {
        let mut command = bin();
        command.args(["histogram", "--slo", "p99<=1s", "--color", colour]);
        for (file, node) in files.iter().zip(["a-node", "b-node", "c-node"]) {
            command.arg("--file").arg(crate::fixture(file)).args(["--node", node]);
        }
        command.output().expect("runs")
    };
    let out = run("always");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    let red = "\x1b[1m\x1b[31m";
    let yellow = "\x1b[33m";
    assert!(
        text.lines().any(|l| l.starts_with(&format!("{red}SLO p99<=1s on ")) && l.contains(": FAIL (")),
        "{text:?}"
    );
    // Three nodes: the slowest one's row (the first the analysis ranks) is yellow, the others plain.
    let rows: Vec<&str> = text.lines().skip(1).take(3).collect();
    assert!(rows[0].starts_with(yellow), "{rows:?}");
    assert!(!rows[1].contains('\x1b') && !rows[2].contains('\x1b'), "{rows:?}");
    for colour in ["never", "auto"] {
        assert!(!stdout(&run(colour)).contains('\x1b'), "--color {colour} piped: no escape codes");
    }
    let plain = bin()
        .args(["histogram", "--slo", "p99<=1s", "--color", "always", "--node", "n1", "--file"])
        .arg(crate::fixture("seed-node1.prom"))
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    assert!(stdout(&plain).contains("\x1b"), "--color always wins over NO_COLOR, as in clap and cargo");

    // Coloured output still escapes what nodes send: only our own colour codes are raw.
    let hostile = bin()
        .args(["histogram", "--color", "always", "--node", "evil\u{1b}]0;PWNED\u{7}", "--file"])
        .arg(crate::fixture("seed-node1.prom"))
        .output()
        .expect("runs");
    let text = stdout(&hostile);
    assert!(text.contains("evil\\x1b]0;PWNED\\x07") && !text.contains("\u{7}"), "{text:?}");
}

/// What a user reads at 500 nodes with the numbers, paths, ports and timings that differ from run
/// to run taken out.
fn redacted(text: &str) -> String {
    let rules = [
        (r"/tmp/[^\s,)]+", "TMP"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:PORT"),
        (r"\d+(\.\d+)? ?ms\b", "N ms"),
        (r"v1\.\d+\.\d+", "vX"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "TIME"),
    ];
    rules.iter().fold(text.to_string(), |text, (pattern, with)| {
        regex::Regex::new(pattern).expect("valid pattern").replace_all(&text, *with).into_owned()
    })
}

/// Each case a user meets at 500 simulated nodes, as they read it: doctor's verdicts grouped
/// across the sampled nodes, a cluster-wide histogram, and every empty result explained on
/// stderr. No line but table rows over the limit, no message once per node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_nodes_read_as_a_few_lines_each() {
    let cluster = Cluster::builder().nodes(NODES).start().await.expect("kubesim starts");
    let admin = cluster.admin_kubeconfig();
    let viewer = cluster.viewer_kubeconfig();
    let cluster_run = |args: &[&str], kubeconfig: &std::path::Path| {
        let mut command = bin();
        command.args(args).arg("--kubeconfig").arg(kubeconfig);
        tokio::task::block_in_place(|| command.output().expect("runs"))
    };
    // Two bucket layouts, 250 nodes each: saved payloads, as `kubectl get --raw` writes them.
    let mut layouts = bin();
    layouts.args(["histogram", "--top", "3"]);
    for i in 0..NODES / 2 {
        layouts
            .arg("--file")
            .arg(crate::fixture("real/kubelet-1.21.2-metrics.prom"))
            .args(["--node", &format!("a-{i:03}")]);
        layouts.arg("--file").arg(crate::fixture("seed-node1.prom")).args(["--node", &format!("b-{i:03}")]);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let saved = dir.path().join("baseline.prom").to_string_lossy().into_owned();
    let cases: Vec<(&str, Output)> = vec![
        ("doctor_viewer", cluster_run(&["doctor", "--sample", "20", "--concurrency", "32"], &viewer)),
        ("histogram_top", cluster_run(&["histogram", "--top", "5", "--concurrency", "32"], &admin)),
        ("bucket_layouts", layouts.output().expect("runs")),
        ("empty_selector", cluster_run(&["histogram", "-l", "team=nobody"], &admin)),
        (
            "empty_metric",
            cluster_run(&["get", "-m", "kubelet_pod_start_duration_secnds", "--concurrency", "32"], &admin),
        ),
        ("empty_node", cluster_run(&["histogram", "node-9999"], &admin)),
        ("empty_nodes", cluster_run(&["histogram", "node-9999", "nod-001", "node-x"], &admin)),
        ("empty_since", cluster_run(&["pods", "--since", "1s"], &admin)),
        (
            "snapshot_mistyped_metric",
            cluster_run(
                &[
                    "snapshot",
                    "-m",
                    "kubelet_pod_strat_duration_seconds",
                    "--output-file",
                    &saved,
                    "--concurrency",
                    "32",
                ],
                &admin,
            ),
        ),
        (
            "watch_mistyped_metric",
            cluster_run(
                &[
                    "watch",
                    "kubelet_pod_strat_duration_seconds",
                    "--interval",
                    "100ms",
                    "--count",
                    "1",
                    "--concurrency",
                    "32",
                ],
                &admin,
            ),
        ),
    ];
    for (name, out) in cases {
        let (text, errors) = (stdout(&out), stderr(&out));
        assert_lines_fit(&text);
        assert_lines_fit(&errors);
        if name == "doctor_viewer" {
            // Evidence wraps in its column and prose fixes under the row; a command stays whole.
            for line in text.lines() {
                let command = line.trim_start().trim_start_matches("fix: ").trim_start_matches("or: ");
                let copied = command.starts_with("kubectl ") || command.starts_with("kubelet-metrics ");
                assert!(copied || kubelet_metrics::text::display_width(line) <= 100, "{line}\n{text}");
            }
        }
        // No line names a node beyond the first few of a list ("and N more").
        for line in text.lines().chain(errors.lines()) {
            let names =
                line.matches("node-").count() + line.matches("a-").count() + line.matches("b-").count();
            assert!(names <= 12 || lines_over(line, 0).is_empty(), "{name}: {line}");
        }
        let shown: String = text.lines().take(40).map(|l| format!("{l}\n")).collect();
        let more = text.lines().count().saturating_sub(40);
        insta::assert_snapshot!(
            format!("{name}_500_nodes"),
            redacted(&format!(
                "exit: {:?}\nstdout{}:\n{shown}\nstderr:\n{errors}",
                out.status.code(),
                if more > 0 { format!(" (first 40 lines of {})", 40 + more) } else { String::new() }
            ))
        );
    }
}

/// Ctrl-C at 500 nodes, 50 of them hanging: once the other 450 answered (the collection's debug
/// log counts them), SIGINT cancels the 50, and the report names them once, grouped, not once
/// per node; the exit status is 130 (README, exit status).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_at_500_nodes_groups_the_cancelled_nodes() {
    const HANGING: usize = NODES / 10;
    let mut builder = Cluster::builder().nodes(NODES);
    for index in (0..NODES).step_by(NODES / HANGING) {
        builder = builder.fault(index, Fault::Hang);
    }
    let cluster = builder.start().await.expect("kubesim starts");
    let mut child = Reaped(
        bin()
            .args(["histogram", "--top", "3", "--concurrency", "100", "--timeout", "120s", "--kubeconfig"])
            .arg(cluster.admin_kubeconfig())
            // The collection's own debug log says when each node answered; users see none of it.
            .env("RUST_LOG", "kubelet_metrics::collect=debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts"),
    );
    let (answered_tx, answered_rx) = std::sync::mpsc::channel();
    let errors = BufReader::new(child.0.stderr.take().expect("piped"));
    let errors = std::thread::spawn(move || {
        let (mut lines, mut answered) = (Vec::new(), 0);
        for line in errors.lines().map_while(Result::ok) {
            if line.contains("node answered") {
                answered += 1;
                if answered == NODES - HANGING {
                    let _ = answered_tx.send(());
                }
            }
            lines.push(line);
        }
        lines
    });
    let mut report = child.0.stdout.take().expect("piped");
    let report = std::thread::spawn(move || {
        let mut text = String::new();
        report.read_to_string(&mut text).map(|_| text)
    });
    tokio::task::block_in_place(|| {
        answered_rx.recv_timeout(Duration::from_secs(120)).expect("the 450 nodes that do not hang answer");
        crate::signals::signal(&child.0, "INT");
        let (code, _) = crate::signals::wait(&mut child.0, Duration::from_secs(10));
        assert_eq!(code, Some(130), "Ctrl-C exits 128 + SIGINT");
    });
    let text = report.join().expect("stdout reader").expect("stdout");
    let log = regex::Regex::new(r"^\S+Z\s+(TRACE|DEBUG|INFO|WARN|ERROR) ").expect("valid pattern");
    let errors: String = errors
        .join()
        .expect("stderr reader")
        .into_iter()
        .filter(|line| !log.is_match(line))
        .map(|line| format!("{line}\n"))
        .collect();
    let cancelled: Vec<&str> = text.lines().filter(|l| l.starts_with("  cancelled")).collect();
    assert_eq!(cancelled.len(), 1, "one line for every cancelled node:\n{text}");
    assert!(
        cancelled[0].contains(&format!(
            "cancelled on {HANGING} nodes (node-000, node-010, node-020, node-030, node-040 and {} more)",
            HANGING - 5
        )),
        "{text}"
    );
    assert!(text.contains(&format!("errors ({HANGING} of {NODES} nodes)")), "{text}");
    assert_lines_fit(&text);
    assert_lines_fit(&errors);
    insta::assert_snapshot!(
        "ctrl_c_500_nodes",
        redacted(&format!("exit: Some(130)\nstdout:\n{text}\nstderr:\n{errors}"))
    );
}

/// "did you mean" over several clusters: once per cluster, named by its context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_metric_over_several_clusters_gets_did_you_mean_per_cluster() {
    let fleet = crate::fleet::Fleet::start(&[]).await;
    let out = tokio::task::block_in_place(|| {
        fleet.run(&[
            "histogram",
            "kubelet_pod_strat_duration_seconds",
            "--context",
            "east",
            "--context",
            "west",
        ])
    });
    let text = stderr(&out);
    let hints: Vec<&str> = text.lines().filter(|l| l.contains("did you mean")).collect();
    assert_eq!(
        hints,
        [
            "context east: did you mean kubelet_pod_start_duration_seconds? (the closest names in the payloads)",
            "context west: did you mean kubelet_pod_start_duration_seconds? (the closest names in the payloads)"
        ],
        "{text}"
    );
    let out = tokio::task::block_in_place(|| {
        fleet.run(&[
            "get",
            "-m",
            "kubelet_pod_strat_duration_seconds",
            "--context",
            "east",
            "--context",
            "west",
        ])
    });
    assert_eq!(stderr(&out).matches("did you mean kubelet_pod_start_duration_seconds?").count(), 2);

    // The fleet table in colour: each cluster's SLO lines by verdict.
    let out = tokio::task::block_in_place(|| {
        fleet.run(&[
            "histogram",
            "--slo",
            "p99<=1s",
            "--color",
            "always",
            "--context",
            "east",
            "--context",
            "west",
        ])
    });
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    let red = "\x1b[1m\x1b[31m";
    for context in ["east", "west"] {
        assert!(text.lines().any(|l| l.starts_with(&format!("{red}{context}: SLO p99<=1s on "))), "{text:?}");
    }
    fleet.shutdown().await;
}

/// `pods`, `compare` and `watch` colour what the issue asks for, only when asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_compare_and_watch_colour_verdicts_errors_and_the_slowest_rows() {
    let cluster = Cluster::builder().nodes(3).start().await.expect("kubesim starts");
    let admin = cluster.admin_kubeconfig();
    let run = |args: &[&str]| {
        tokio::task::block_in_place(|| {
            bin().args(args).arg("--kubeconfig").arg(&admin).output().expect("runs")
        })
    };
    let (red, yellow) = ("\x1b[1m\x1b[31m", "\x1b[33m");

    let pods = run(&["pods", "--slo", "p99<=1s", "--top", "3", "--color", "always"]);
    let text = stdout(&pods);
    assert!(text.lines().any(|l| l.starts_with(&format!("{red}SLO p99<=1s on ready"))), "{text:?}");
    let slowest: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Slowest pods"))
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(!slowest.is_empty() && slowest.iter().all(|l| l.starts_with(yellow)), "{text:?}");
    let plain = run(&["pods", "--slo", "p99<=1s", "--top", "3"]);
    assert!(!stdout(&plain).contains('\x1b'), "piped: no colour");

    // Without the kubelets' CA every direct fetch fails: its row and its error are red.
    let token = cluster.sa_token_path();
    let token = token.to_string_lossy();
    let compare = run(&["compare", "--rounds", "1", "--token-file", &token, "--color", "always"]);
    let text = stdout(&compare);
    assert!(text.lines().any(|l| l.starts_with(&format!("{red}direct error: "))), "{text:?}");
    assert!(text.lines().any(|l| l.starts_with(&format!("{red}direct "))), "{text:?}");
    assert!(text.lines().any(|l| l.starts_with("proxy ")), "the proxy row is plain: {text:?}");

    let watch = run(&["watch", "--interval", "100ms", "--count", "1", "--color", "always"]);
    let text = stdout(&watch);
    let painted: Vec<&str> = text.lines().filter(|l| l.starts_with(yellow)).collect();
    assert_eq!(painted.len(), 1, "the slowest of three nodes: {text:?}");
    assert!(!stdout(&run(&["watch", "--interval", "100ms", "--count", "1"])).contains('\x1b'));
    cluster.shutdown().await;
}

/// `serve -m` with a name no kubelet has: one "did you mean", on the first collection, not one
/// per cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_says_did_you_mean_once_for_a_mistyped_metric() {
    let cluster = Cluster::builder().nodes(3).start().await.expect("kubesim starts");
    let out = tokio::task::block_in_place(|| {
        bin()
            .args(["serve", "--listen", "127.0.0.1:0", "--interval", "100ms", "--max-cycles", "3"])
            .args(["-m", "kubelet_pod_strat_duration_seconds", "--kubeconfig"])
            .arg(cluster.admin_kubeconfig())
            .output()
            .expect("runs")
    });
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let hints: Vec<String> =
        stderr(&out).lines().filter(|l| l.starts_with("did you mean")).map(str::to_string).collect();
    assert_eq!(
        hints,
        ["did you mean kubelet_pod_start_duration_seconds? (the closest names in the payloads)"]
    );
    cluster.shutdown().await;
}
