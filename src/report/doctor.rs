//! `doctor`'s checks as bytes: an aligned table with the fix lines under each FAIL or WARN, or
//! one JSON document. What the checks say is decided in [`crate::doctor`]; this module only
//! decides how they look.

use std::io::{self, Write};

use crate::doctor::{Check, Diagnosis, Status};

/// Renders the checks as a table: status, check, evidence, and the fix lines under a FAIL or WARN,
/// then a summary line.
pub fn render_table(diagnosis: &Diagnosis, out: &mut impl Write) -> io::Result<()> {
    let label = |c: &Check| match &c.node {
        Some(node) => format!("{node}: {}", c.title),
        None => c.title.clone(),
    };
    let width = diagnosis.checks.iter().map(|c| label(c).chars().count()).max().unwrap_or(5).clamp(5, 48);
    writeln!(out, "{:<8}{:<width$}  EVIDENCE", "STATUS", "CHECK")?;
    for check in &diagnosis.checks {
        writeln!(out, "{:<8}{:<width$}  {}", check.status.as_str(), label(check), check.evidence)?;
        for (i, line) in check.fix.iter().enumerate() {
            let lead = if i == 0 { "fix: " } else { "     " };
            writeln!(out, "{:<8}{lead}{line}", "")?;
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

/// Renders the checks as one JSON document:
/// `{"method", "summary": {"pass", "warn", "fail"}, "checks": [{"check", "title", "node",
/// "status", "evidence", "fix": [...]}]}`.
pub fn render_json(diagnosis: &Diagnosis, out: &mut impl Write) -> io::Result<()> {
    let document = serde_json::json!({
        "method": diagnosis.method,
        "summary": {
            "pass": diagnosis.count(Status::Pass),
            "warn": diagnosis.count(Status::Warn),
            "fail": diagnosis.count(Status::Fail),
        },
        "checks": diagnosis.checks,
    });
    serde_json::to_writer_pretty(&mut *out, &document)?;
    writeln!(out)
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
}
