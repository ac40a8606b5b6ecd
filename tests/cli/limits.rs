//! Open files follow `--concurrency`, not the node count: the direct method keeps no idle
//! kubelet connection, and the binary raises its soft open-file limit to the hard one. Each run
//! is a shell that lowers the limit, then `exec`s the binary.

use std::process::{Command, Output};

use kubesim::{Cluster, Fault};

use crate::stderr;

/// `kubelet-metrics ARGS` under `ulimit ULIMIT` (e.g. `-n 48`: soft and hard).
fn limited(ulimit: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit {ulimit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_kubelet-metrics"))
        .args(args)
        .output()
        .expect("sh runs")
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn direct_reads_more_nodes_than_open_files_allow() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
    let cluster: Cluster =
        runtime.block_on(Cluster::builder().nodes(120).seed(3).start()).expect("kubesim starts");
    let (kubeconfig, token, ca) = (
        cluster.admin_kubeconfig().to_string_lossy().into_owned(),
        cluster.sa_token_path().to_string_lossy().into_owned(),
        cluster.kubelet_ca_path().to_string_lossy().into_owned(),
    );
    let direct = |concurrency: &str| -> Vec<String> {
        [
            "get",
            "-m",
            "kubelet_pod_start_duration_seconds_count",
            "--method",
            "direct",
            "--kubeconfig",
            &kubeconfig,
            "--token-file",
            &token,
            "--kubelet-ca",
            &ca,
            "--concurrency",
            concurrency,
        ]
        .map(str::to_string)
        .to_vec()
    };

    // 48 descriptors in all, 120 kubelets, 16 at a time: a pool holding one idle connection
    // per kubelet ran out at about node 40.
    let output = limited("-n 48", &strs(&direct("16")));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).matches("kubelet_pod_start_duration_seconds_count{").count(),
        120
    );

    // A soft limit of 40 below a higher hard one: 64 connections at once fit once the binary
    // raises its soft limit.
    let output = limited("-S -n 40", &strs(&direct("64")));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // A hard limit too low for --concurrency: the failure is named and its fix is not --retries.
    let output = limited("-n 24", &strs(&direct("64")));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("too many open files") && err.contains("--concurrency"), "{err}");
    assert!(!err.contains("raise --retries"), "{err}");
    runtime.block_on(cluster.shutdown());
}

#[test]
fn a_node_list_larger_than_max_body_is_still_read() {
    // `--max-body` caps kubelet payloads. The watch cache serves the node list in one page
    // whatever `limit` says, so a 1,000-node list (over 2 MiB) once failed every run that set
    // `--max-body 2M` with "cannot list nodes".
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
    let cluster: Cluster =
        runtime.block_on(Cluster::builder().nodes(12).seed(5).start()).expect("kubesim starts");
    let kubeconfig = cluster.admin_kubeconfig().to_string_lossy().into_owned();
    let output = limited(
        "-n 1024",
        &["get", "--path", "/healthz", "--max-body", "1K", "--qps", "0", "--kubeconfig", &kubeconfig],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().filter(|l| l.ends_with("\tok")).count(), 12, "{stdout}");
}

#[test]
fn a_retried_node_closes_its_failed_attempts_spool_when_the_retry_succeeds() {
    // Every node's first cadvisor response stops after 1.5 MB with a reset, and the retry gets
    // the whole payload. By then the failed attempt's JSON lines had passed 1 MiB, so they were
    // in a temporary file of their own. Those files were once kept open until the end of the
    // run: one per flaky node, and 24 nodes under 24 open files failed with "cannot spill".
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
    let mut builder = Cluster::builder().nodes(24).seed(3);
    for node in 0..24 {
        builder = builder.fault(node, Fault::Flaky(1));
    }
    let cluster: Cluster = runtime.block_on(builder.start()).expect("kubesim starts");
    let kubeconfig = cluster.admin_kubeconfig().to_string_lossy().into_owned();
    let get =
        ["get", "--endpoint", "cadvisor", "-o", "json", "--sort", "--concurrency", "2", "--retries", "1"];
    let get: Vec<&str> = get.into_iter().chain(["--qps", "0", "-v", "--kubeconfig", &kubeconfig]).collect();
    let flaky = limited("-n 24", &get);
    assert_eq!(flaky.status.code(), Some(0), "{}", stderr(&flaky));
    assert_eq!(stderr(&flaky).matches("retrying after").count(), 24, "{}", stderr(&flaky));
    // Each node's lines once, whole: the same output as a run where every node answers at once
    // (each kubelet failed its one response already).
    let whole = limited("-n 1024", &get);
    assert_eq!(stderr(&whole).matches("retrying after").count(), 0, "{}", stderr(&whole));
    assert!(whole.stdout.len() > 24 * (1 << 20), "every node's lines pass 1 MiB");
    assert!(flaky.stdout == whole.stdout, "the retried run's output differs from a clean one");
    runtime.block_on(cluster.shutdown());
}
