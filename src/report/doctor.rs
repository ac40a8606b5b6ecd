//! `doctor`'s checks as bytes: an aligned table with the fix lines under each FAIL or WARN, or
//! one JSON document. What the checks say is decided in [`crate::doctor`]; this module only
//! decides how they look.

use std::io::{self, Write};

use crate::doctor::{Check, Diagnosis, Status};
use crate::report::paint::Palette;
use crate::report::problems::without_name;
use crate::report::terminal::escape_controls;
use crate::text::bounded_names;

/// One table row: a check, or the same verdict on several nodes.
struct Row<'a> {
    check: &'a Check,
    label: String,
    evidence: String,
    fix: Vec<String>,
    nodes: Vec<&'a str>,
}

/// The checks as rows: a per-node check that reads the same on several nodes (once each node's
/// name is taken out) is one row naming how many nodes and the first few.
fn rows(diagnosis: &Diagnosis) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = Vec::new();
    for check in &diagnosis.checks {
        let Some(node) = check.node.as_deref() else {
            rows.push(Row {
                check,
                label: check.title.clone(),
                evidence: check.evidence.clone(),
                fix: check.fix.clone(),
                nodes: vec![],
            });
            continue;
        };
        let evidence = without_name(&check.evidence, node);
        let fix: Vec<String> = check.fix.iter().map(|line| without_name(line, node)).collect();
        // A check that passed groups by the check alone: its evidence (an address, a time)
        // differs on every node and a pass needs no reading per node. Anything else groups only
        // when it reads the same.
        let same = rows.iter_mut().find(|row| {
            !row.nodes.is_empty()
                && row.check.check == check.check
                && row.check.status == check.status
                && row.check.title == check.title
                && (check.status == Status::Pass || (row.evidence == evidence && row.fix == fix))
        });
        match same {
            Some(row) => {
                if row.evidence != evidence {
                    // Show the first node's own evidence as an example.
                    row.evidence = format!("e.g. {}: {}", row.nodes[0], row.check.evidence);
                }
                row.nodes.push(node)
            }
            None => rows.push(Row { check, label: String::new(), evidence, fix, nodes: vec![node] }),
        }
    }
    for row in &mut rows {
        match row.nodes.as_slice() {
            [] => {}
            [node] => {
                row.label = format!("{node}: {}", row.check.title);
                row.evidence = row.check.evidence.clone();
                row.fix = row.check.fix.clone();
            }
            nodes => {
                row.label = format!("{} nodes ({}): {}", nodes.len(), bounded_names(nodes), row.check.title)
            }
        }
    }
    rows
}

/// Renders the checks as a table: status, check, evidence, and the fix lines under a FAIL or WARN,
/// then a summary line. The same verdict on several nodes is one row (JSON keeps every check).
pub fn render_table(diagnosis: &Diagnosis, out: &mut impl Write) -> io::Result<()> {
    render_table_painted(diagnosis, Palette::PLAIN, out)
}

/// The widest CHECK column: a longer label (a group of nodes, a long node name) takes a line of
/// its own, with its evidence under it, so the evidence keeps room to read.
const CHECK_WIDTH: usize = 32;

/// Where the STATUS column ends.
const STATUS_WIDTH: usize = 8;

/// [`render_table`] with FAIL, WARN and PASS in colour when `palette` says so. Evidence wraps
/// within its column and prose fixes under the row, so the table fits 100 columns; a fix that is
/// a command (`kubectl …`, `kubelet-metrics …`) stays on one line, to be copied whole.
pub fn render_table_painted(diagnosis: &Diagnosis, palette: Palette, out: &mut impl Write) -> io::Result<()> {
    let rows = rows(diagnosis);
    let width = rows
        .iter()
        .map(|r| crate::text::display_width(&r.label))
        .filter(|w| *w <= CHECK_WIDTH)
        .max()
        .unwrap_or(5)
        .max(5);
    let indent = " ".repeat(STATUS_WIDTH + width + 2);
    writeln!(out, "{:<STATUS_WIDTH$}{:<width$}  EVIDENCE", "STATUS", "CHECK")?;
    for row in &rows {
        let status = row.check.status.as_str();
        let painted = match row.check.status {
            Status::Fail => palette.bad(status),
            Status::Warn => palette.warn(status),
            Status::Pass => palette.good(status),
        };
        // Pad by the plain word: escape codes take no columns.
        let pad = " ".repeat(STATUS_WIDTH.saturating_sub(status.len()));
        // Painted output bypasses the escaping writer, so the text from nodes and servers is
        // escaped here.
        let (label, evidence) = (escape_controls(&row.label), escape_controls(&row.evidence));
        let evidence = crate::text::wrap(&evidence, &indent, &indent);
        let mut evidence = evidence.lines().map(|line| line.trim_start());
        if crate::text::display_width(&label) > width {
            writeln!(out, "{painted}{pad}{label}")?;
        } else {
            let first = evidence.next().unwrap_or_default();
            writeln!(
                out,
                "{}",
                format!("{painted}{pad}{}  {first}", crate::text::pad_end(&label, width)).trim_end()
            )?;
        }
        for line in evidence {
            writeln!(out, "{indent}{line}")?;
        }
        for (i, line) in row.fix.iter().enumerate() {
            let lead = if i == 0 { "fix: " } else { "     " };
            let first = format!("{:<STATUS_WIDTH$}{lead}", "");
            let line = escape_controls(line);
            if is_command(&line) {
                writeln!(out, "{first}{line}")?;
            } else {
                out.write_all(crate::text::wrap(&line, &first, &" ".repeat(STATUS_WIDTH + 5)).as_bytes())?;
            }
        }
    }
    writeln!(
        out,
        "\n{} PASS, {} WARN, {} FAIL (--method {})",
        diagnosis.count(Status::Pass),
        diagnosis.count(Status::Warn),
        diagnosis.count(Status::Fail),
        diagnosis.method.as_str()
    )
}

/// Whether a fix line is a command to copy (`kubectl …`, `kubelet-metrics …`, after an `or:`).
fn is_command(line: &str) -> bool {
    let line = line.trim_start();
    let line = line.strip_prefix("or: ").unwrap_or(line);
    line.starts_with("kubectl ") || line.starts_with("kubelet-metrics ")
}

/// Renders several clusters' checks: each under a `context NAME:` line, as [`render_table`]
/// renders one, separated by a blank line.
pub fn render_fleet_table(
    clusters: &[(&str, &Diagnosis)],
    palette: Palette,
    out: &mut impl Write,
) -> io::Result<()> {
    for (index, (context, diagnosis)) in clusters.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(out, "context {}:", escape_controls(context))?;
        render_table_painted(diagnosis, palette, out)?;
    }
    Ok(())
}

/// Several clusters' checks as one document: `{"clusters": [{"context", <every entry of a
/// one-cluster document>}]}`, in the order given.
pub fn fleet_to_value(clusters: &[(&str, &Diagnosis)]) -> serde_json::Value {
    let clusters: Vec<serde_json::Value> = clusters
        .iter()
        .map(|(context, diagnosis)| {
            let mut value = to_value(diagnosis);
            if let serde_json::Value::Object(object) = &mut value {
                object.insert("context".into(), (*context).into());
            }
            value
        })
        .collect();
    serde_json::json!({ "clusters": clusters })
}

/// Renders the checks as one JSON document:
/// `{"method", "summary": {"pass", "warn", "fail"}, "checks": [{"check", "title", "node",
/// "status", "evidence", "fix": [...]}]}`.
pub fn render_json(diagnosis: &Diagnosis, out: &mut impl Write) -> io::Result<()> {
    super::document::write(&to_value(diagnosis), &super::document::DocumentFormat::Json, out)
}

/// The document [`render_json`] writes, for `-o yaml` and `-o jsonpath=` too.
pub fn to_value(diagnosis: &Diagnosis) -> serde_json::Value {
    serde_json::json!({
        "method": diagnosis.method,
        "summary": {
            "pass": diagnosis.count(Status::Pass),
            "warn": diagnosis.count(Status::Warn),
            "fail": diagnosis.count(Status::Fail),
        },
        "checks": diagnosis.checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::access::Method;
    use crate::cluster::checks::{Access, Answer};
    use crate::doctor::{Credentials, Identity, IdentitySource, can_i, credentials, proxy_healthz};
    use crate::rbac;

    fn sample() -> Diagnosis {
        Diagnosis {
            method: Method::Proxy,
            checks: vec![
                credentials(&Ok(Credentials {
                    source: "kubeconfig /k/admin.kubeconfig".into(),
                    server: "https://127.0.0.1:6443".into(),
                    in_cluster: false,
                })),
                can_i(
                    &rbac::GET_NODES_PROXY,
                    Method::Proxy,
                    false,
                    Some(&Identity::new("viewer", IdentitySource::SelfSubjectReview)),
                    &Ok(Access { allowed: false, reason: String::new() }),
                ),
                proxy_healthz(
                    "node-0",
                    Method::Proxy,
                    None,
                    &Ok(Answer {
                        status: 200,
                        bytes: 2,
                        snippet: "ok".into(),
                        elapsed: Duration::from_millis(3),
                    }),
                ),
            ],
        }
    }

    #[test]
    fn table_shows_status_evidence_fix_and_summary() {
        let mut out = Vec::new();
        render_table(&sample(), &mut out).expect("rendered");
        insta::assert_snapshot!(String::from_utf8(out).expect("utf-8"));
    }

    #[test]
    fn json_has_a_summary_and_every_check() {
        let mut out = Vec::new();
        render_json(&sample(), &mut out).expect("rendered");
        let value: serde_json::Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(value["method"], "proxy");
        assert_eq!(value["summary"], serde_json::json!({"pass": 2, "warn": 0, "fail": 1}));
        assert_eq!(value["checks"][1]["check"], "can-i");
        assert_eq!(value["checks"][1]["status"], "fail");
        assert_eq!(value["checks"][1]["node"], serde_json::Value::Null);
        assert_eq!(value["checks"][2]["node"], "node-0");
        assert_eq!(value["checks"][2]["fix"], serde_json::json!([]));
    }

    #[test]
    fn json_snapshot() {
        let mut out = Vec::new();
        render_json(&sample(), &mut out).expect("rendered");
        insta::assert_snapshot!(String::from_utf8(out).expect("utf-8"));
    }

    #[test]
    fn the_same_verdict_on_many_nodes_is_one_row() {
        let answer =
            Ok(Answer { status: 200, bytes: 2, snippet: "ok".into(), elapsed: Duration::from_millis(3) });
        let mut diagnosis = sample();
        diagnosis.checks.truncate(2);
        for i in 0..8 {
            diagnosis.checks.push(proxy_healthz(&format!("node-{i}"), Method::Proxy, None, &answer));
        }
        let mut out = Vec::new();
        render_table(&diagnosis, &mut out).expect("rendered");
        insta::assert_snapshot!(String::from_utf8(out).expect("utf-8"), @r#"
        STATUS  CHECK                  EVIDENCE
        PASS    credentials            kubeconfig /k/admin.kubeconfig → https://127.0.0.1:6443
        FAIL    can-i get nodes/proxy  denied for "viewer": --method proxy needs it
                fix: kubelet-metrics rbac --method proxy --user viewer | kubectl apply -f -
                     or: kubectl create clusterrole kubelet-metrics-proxy --verb=get,list --resource=nodes,nodes/proxy
                         kubectl create clusterrolebinding kubelet-metrics-proxy-viewer --clusterrole=kubelet-metrics-proxy --user=viewer
        PASS    8 nodes (node-0, node-1, node-2, node-3, node-4 and 3 more): proxy /healthz
                                       HTTP 200 "ok", 2 bytes in 3 ms

        9 PASS, 0 WARN, 1 FAIL (--method proxy)
        "#);
    }
}
