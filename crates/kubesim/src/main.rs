//! `kubesim`: run a simulated cluster until SIGINT/SIGTERM.
//! Prints `ready <api-server-url>` on stdout once the state directory is written and every port listens.

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use kubesim::{Cluster, Fault, NodeRef};

/// A simulated Kubernetes API server and kubelets on loopback, for tests, benchmarks and demos.
#[derive(Debug, Parser)]
#[command(name = "kubesim", version)]
struct Args {
    /// How many nodes (kubelets) to simulate.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Where to write admin.kubeconfig, viewer.kubeconfig, sa.token, ca.crt, kubelet-ca.crt and truth.json.
    #[arg(long)]
    state_dir: PathBuf,
    /// Seed of node profiles and pod starts; the same seed gives the same cluster.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A fault on one node, NODE=KIND[:ARG], NODE a name or 0-based index: latency:200ms, refuse, hang,
    /// reset, status:503, 429[:2s], truncate, garbage, huge:20MB, badcert, noauth. Repeatable.
    #[arg(long = "fault", value_parser = parse_fault)]
    faults: Vec<(NodeRef, Fault)>,
    /// Threads serving the cluster.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn parse_fault(text: &str) -> Result<(NodeRef, Fault), String> {
    let (node, fault) = text.split_once('=').ok_or_else(|| format!("{text:?} is not NODE=KIND[:ARG]"))?;
    let node: NodeRef = node.parse().map_err(|e| format!("{e:?}"))?;
    Ok((node, fault.parse().map_err(|e: kubesim::ParseFaultError| e.to_string())?))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start a runtime: {err}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async move {
        let mut builder = Cluster::builder()
            .nodes(args.nodes)
            .seed(args.seed)
            .state_dir(args.state_dir)
            .worker_threads(args.threads);
        for (node, fault) in args.faults {
            builder = builder.fault(node, fault);
        }
        let cluster = match builder.start().await {
            Ok(cluster) => cluster,
            Err(err) => {
                eprintln!("error: {err:#}");
                return ExitCode::from(2);
            }
        };
        println!("ready {}", cluster.api_url());
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(err) => {
                eprintln!("error: cannot watch SIGTERM: {err}");
                return ExitCode::from(2);
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        cluster.shutdown().await;
        ExitCode::SUCCESS
    })
}
