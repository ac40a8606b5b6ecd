//! SLO verdicts as text and as JSON: one line per verdict under `histogram`'s table (and over
//! several clusters, each line after its context), and the `slo` object of its document. What a
//! verdict is lives in [`crate::slo`]; this module only decides how it reads.

use std::io::{self, Write};

use crate::slo::{Objective, State, Verdict};

/// `SLO p99<=5s on cluster: PASS (observed 3.20s): p99 3.2 <= 5`; a lower bound is `≥10.00s`
/// and a verdict the histogram cannot give is `UNKNOWN`.
pub fn line(slo: &Objective, verdict: &Verdict, unit: &str) -> String {
    let at_least = if verdict.lower_bound { "≥" } else { "" };
    let observed = verdict
        .observed
        .map(|v| format!("{at_least}{}", super::format_value(v, unit)))
        .unwrap_or_else(|| "-".into());
    let result = match verdict.state {
        State::Holds => "PASS",
        State::Violated => "FAIL",
        State::Unknown => "UNKNOWN",
    };
    format!("SLO {slo} on {}: {result} (observed {observed}): {}", verdict.scope, verdict.reason)
}

/// Each verdict's [`line()`], after `CONTEXT: ` when `context` is given.
pub fn write_lines(
    slo: &Objective,
    verdicts: &[Verdict],
    unit: &str,
    context: Option<&str>,
    out: &mut (impl Write + ?Sized),
) -> io::Result<()> {
    for verdict in verdicts {
        match context {
            Some(context) => writeln!(out, "{context}: {}", line(slo, verdict, unit))?,
            None => writeln!(out, "{}", line(slo, verdict, unit))?,
        }
    }
    Ok(())
}

/// The `slo` object of `histogram`'s document: `{"objective", "state", "holds", "verdicts":
/// [{"scope", "observed", "lower_bound", "state", "reason", "holds"}]}`.
pub fn to_value(slo: &Objective, verdicts: &[Verdict]) -> serde_json::Value {
    let state = State::worst(verdicts.iter().map(|v| v.state));
    serde_json::json!({
        "objective": slo.to_string(),
        "state": state.as_str(),
        "holds": state == State::Holds,
        "verdicts": verdicts.iter().map(|v| serde_json::json!({
            "scope": v.scope,
            "observed": v.observed.map(super::json::number),
            "lower_bound": v.lower_bound,
            "state": v.state.as_str(),
            "reason": v.reason,
            "holds": v.holds(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_reads_as_one_line_with_its_state_and_what_was_observed() {
        let slo = Objective::parse("p99<=5s").expect("objective");
        let verdict = Verdict {
            scope: "cluster".into(),
            observed: Some(10.0),
            lower_bound: true,
            state: State::Violated,
            reason: "p99 is at least 10 > 5".into(),
        };
        assert_eq!(
            line(&slo, &verdict, "s"),
            "SLO p99<=5s on cluster: FAIL (observed ≥10.00s): p99 is at least 10 > 5"
        );
        let mut out = Vec::new();
        write_lines(&slo, std::slice::from_ref(&verdict), "s", Some("east"), &mut out).expect("writes");
        assert!(String::from_utf8_lossy(&out).starts_with("east: SLO p99<=5s on cluster: FAIL"));
        let value = to_value(&slo, &[verdict]);
        assert_eq!(value["state"], "violated");
        assert_eq!(value["holds"], false);
        assert_eq!(value["verdicts"][0]["lower_bound"], true);
    }
}
