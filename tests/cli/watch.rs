//! `watch` against the simulated cluster: one table per interval, each holding what changed in
//! that interval, read line by line from the running binary's stdout.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::bin;

/// Kills and reaps the child when the test ends, however it ends.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn watch_shows_the_pod_starts_of_each_interval() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime.block_on(kubesim::Cluster::builder().nodes(3).seed(8).start()).expect("kubesim");
    let mut child = Reaped(
        bin()
            .args(["watch", "--interval", "500ms", "--count", "2", "--kubeconfig"])
            .arg(cluster.admin_kubeconfig())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("watch starts"),
    );

    // Lines arrive on a thread, so every wait below is bounded.
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.0.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(30)).expect("watch keeps printing");

    let mut lines = vec![next()];
    assert!(lines[0].starts_with("--- "), "a timestamp line opens each table: {lines:?}");
    // The first table is on its way: record pod starts for the second interval.
    let before = cluster.truth();
    cluster.advance(6);
    let after = cluster.truth();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        lines.push(line);
    }
    let status = child.0.wait().expect("watch exits");
    let _ = reader.join();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().expect("piped"), &mut err).expect("stderr");
    assert_eq!(status.code(), Some(0), "{err}");

    let tables: Vec<&[String]> = split_tables(&lines);
    assert_eq!(tables.len(), 2, "--count 2 prints two tables:\n{}", lines.join("\n"));
    assert!(tables[0][0].contains("(1/2)") && tables[1][0].contains("(2/2)"), "{lines:#?}");
    let recorded: BTreeMap<String, String> = after
        .nodes
        .iter()
        .zip(&before.nodes)
        .map(|(now, was)| (now.name.clone(), (now.pod_start.count - was.pod_start.count).to_string()))
        .collect();
    assert!(recorded.values().all(|n| n != "0"), "kubesim recorded starts: {recorded:?}");
    let zeros: BTreeMap<String, String> = recorded.keys().map(|n| (n.clone(), "0".to_string())).collect();
    assert_eq!(counts(tables[0], &recorded), zeros, "nothing started in the first interval");
    assert_eq!(counts(tables[1], &recorded), recorded, "the second interval holds the recorded starts");
    runtime.block_on(cluster.shutdown());
}

/// The lines of each table, each starting with its `--- ` timestamp line.
fn split_tables(lines: &[String]) -> Vec<&[String]> {
    let starts: Vec<usize> =
        lines.iter().enumerate().filter(|(_, l)| l.starts_with("--- ")).map(|(i, _)| i).collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| &lines[s..starts.get(k + 1).copied().unwrap_or(lines.len())])
        .collect()
}

/// `node → COUNT column` for the rows naming one of `nodes`.
fn counts(table: &[String], nodes: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let header: Vec<&str> =
        table.iter().find(|l| l.starts_with("NODE")).expect("a header").split_whitespace().collect();
    let column = header.iter().position(|c| *c == "COUNT").expect("a COUNT column");
    table
        .iter()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            let node = cells.first()?.trim_end_matches('*');
            nodes
                .contains_key(node)
                .then(|| (node.to_string(), cells.get(column).copied().unwrap_or("").to_string()))
        })
        .collect()
}
