//! `demo`: the main job against the built-in simulated cluster (kubesim), no cluster needed.
//! It starts kubesim in this process, then runs the very command lines a user would type —
//! `histogram` through the API server proxy, then directly to each kubelet, then a rollout
//! measured against a snapshot — printing each one before its report.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::Parser;

use super::Outcome;
use crate::cli::{Cli, DemoArgs};

/// Runs `demo`.
pub async fn run(args: &DemoArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Outcome> {
    let cluster = kubesim::Cluster::builder()
        .nodes(usize::from(args.nodes))
        .seed(args.seed)
        .start()
        .await
        .context("cannot start the simulated cluster")?;
    let state = cluster.state_dir().to_path_buf();
    writeln!(
        out,
        "Started a simulated cluster: an API server at {} and {} kubelets on loopback, each with its own\n\
         port and serving certificate, pod-start profiles from fast to pathological, a few on pre-1.29\n\
         kubelets. Its credentials are in {} while the demo runs; the commands below use them.\n",
        cluster.api_url(),
        args.nodes,
        state.display()
    )?;

    let result = scenes(args, &cluster, &state, out, err).await;
    cluster.shutdown().await;
    writeln!(
        out,
        "\nThe simulated cluster has stopped and {} (its credentials) is removed: the commands above\n\
         that name it work only while a demo runs. `kubesim --nodes 12 --state-dir DIR` keeps one running.",
        state.display()
    )?;
    result
}

async fn scenes(
    args: &DemoArgs,
    cluster: &kubesim::Cluster,
    state: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let admin = cluster.admin_kubeconfig();
    let admin = admin.to_string_lossy();
    let token = cluster.sa_token_path();
    let kubelet_ca = cluster.kubelet_ca_path();

    heading(out, "1. Pod-start latency on every node, through the API server proxy")?;
    let proxy = run_line(&["histogram", "--kubeconfig", &admin], out, err).await?;

    heading(out, "2. The same, straight to each kubelet with a service-account token")?;
    let direct = run_line(
        &[
            "histogram",
            "--method",
            "direct",
            "--kubeconfig",
            &admin,
            "--token-file",
            &token.to_string_lossy(),
            "--kubelet-ca",
            &kubelet_ca.to_string_lossy(),
            "-o",
            "wide",
        ],
        out,
        err,
    )
    .await?;

    heading(out, "3. A rollout: snapshot, pods start, then only what changed since the snapshot")?;
    let snapshot = state.join("before-rollout.prom");
    run_line(
        &[
            "snapshot",
            "--kubeconfig",
            &admin,
            "-m",
            crate::catalog::POD_START_SLI_DURATION,
            "--output-file",
            &snapshot.to_string_lossy(),
        ],
        out,
        err,
    )
    .await?;
    cluster.advance(args.rollout_pods);
    writeln!(out, "(the simulator records {} more pod starts on every node)\n", args.rollout_pods)?;
    let rollout = run_line(
        &[
            "histogram",
            crate::catalog::POD_START_SLI_DURATION,
            "--kubeconfig",
            &admin,
            "--baseline",
            &snapshot.to_string_lossy(),
            "--slo",
            "p99<=5s",
        ],
        out,
        err,
    )
    .await?;

    heading(out, "On a real cluster")?;
    writeln!(
        out,
        "  kubelet-metrics histogram                          # every node, your kubeconfig, via the API server\n  \
         kubelet-metrics histogram --method direct \\\n      \
         --kubelet-ca /path/to/kubelet-ca.crt              # in a pod: service-account token, nodes/metrics only\n  \
         kubelet-metrics snapshot --output-file before.prom && kubectl rollout restart deploy/app && \\\n      \
         kubelet-metrics histogram kubelet_pod_start_sli_duration_seconds --baseline before.prom --slo 'p99<=5s'\n  \
         kubelet-metrics rbac --method direct               # the least-privilege RBAC for the direct method"
    )?;
    // The demo succeeds when both methods reached every node; the SLO verdict is shown, not enforced.
    let worst = [proxy, direct, rollout]
        .into_iter()
        .map(|o| if matches!(o, Outcome::SloViolated | Outcome::SloUnknown) { Outcome::Complete } else { o })
        .max_by_key(|o| o.exit_code())
        .unwrap_or(Outcome::Complete);
    Ok(worst)
}

fn heading(out: &mut dyn Write, title: &str) -> std::io::Result<()> {
    writeln!(out, "━━ {title}")
}

/// Prints `line` as the user would type it, then runs it through the same code path.
async fn run_line(line: &[&str], out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Outcome> {
    writeln!(
        out,
        "$ kubelet-metrics {}\n",
        line.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" ")
    )?;
    let argv = std::iter::once("kubelet-metrics").chain(line.iter().copied());
    let cli = Cli::try_parse_from(argv).context("the demo's own command line parses")?;
    // The report goes to buffered stdout and diagnostics to stderr: flush so they interleave
    // in the order they happen.
    out.flush()?;
    let outcome = Box::pin(super::run(cli.command, out, err, super::Terminals::NONE)).await?;
    writeln!(out)?;
    out.flush()?;
    Ok(outcome)
}

fn shell_quote(arg: &str) -> String {
    if arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@".contains(c)) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
