//! `kubesim`: run a simulated cluster until SIGINT/SIGTERM.
//! Prints `ready <api-server-url>` on stdout once the state directory is written and every port listens
//! (in kubelets-only mode: once every node is registered in the external API server).
//! SIGUSR1 stops the API server (its port closes; kubelets keep serving) and prints `api-server stopped`;
//! SIGUSR2 starts it again on the same address and prints `api-server started`.

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use kubesim::{Cluster, ExternalApi, Fault, NodeRef};

/// A simulated Kubernetes API server and kubelets on loopback, for tests, benchmarks and demos.
#[derive(Debug, Parser)]
#[command(name = "kubesim", version)]
struct Args {
    /// How many nodes (kubelets) to simulate.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Where to write admin.kubeconfig, viewer.kubeconfig, sa.token, ca.crt, kubelet-ca.crt and truth.json
    /// (in kubelets-only mode: kubelet-ca.crt and truth.json).
    #[arg(long)]
    state_dir: PathBuf,
    /// Seed of node profiles and pod starts; the same seed gives the same cluster.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A fault on one node, NODE=KIND[:ARG], NODE a name or 0-based index: latency:200ms, refuse, hang,
    /// reset, status:503, 429[:2s], truncate, garbage, huge:20MB, badcert, noauth, slowbody:30s,
    /// flaky[:N]. Repeatable.
    #[arg(long = "fault", value_parser = parse_fault)]
    faults: Vec<(NodeRef, Fault)>,
    /// API Priority and Fairness: serve at most this many requests at once, refusing more with 429
    /// and Retry-After: 1 (proxied requests and system:masters are exempt, as in kube-apiserver).
    #[arg(long, value_name = "N")]
    seats: Option<usize>,
    /// Threads serving the cluster.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The Kubernetes version kubesim's API server claims, e.g. v1.27.3; APIs it lacks answer 404.
    #[arg(long, conflicts_with = "external_kubeconfig")]
    server_version: Option<String>,
    /// The node names' prefix (`node` gives node-00, node-01, ...).
    #[arg(long, default_value = "node")]
    name_prefix: String,
    /// Kubelets-only mode: register the nodes in the API server of this kubeconfig's current context
    /// (client certificate auth; it must be allowed to create and delete nodes, patch nodes/status and
    /// create token and subject access reviews) instead of starting an API server.
    #[arg(long, requires_all = ["kubelet_ca_cert", "kubelet_ca_key", "kubelet_client_ca"])]
    external_kubeconfig: Option<PathBuf>,
    /// Kubelets-only mode: the CA certificate (PEM) that signs the kubelets' serving certificates, the
    /// API server's --kubelet-certificate-authority.
    #[arg(long, requires = "external_kubeconfig")]
    kubelet_ca_cert: Option<PathBuf>,
    /// Kubelets-only mode: that CA's PKCS#8 private key (PEM).
    #[arg(long, requires = "external_kubeconfig")]
    kubelet_ca_key: Option<PathBuf>,
    /// Kubelets-only mode: the CA (PEM) whose client certificates the kubelets accept; it signed the API
    /// server's --kubelet-client-certificate.
    #[arg(long, requires = "external_kubeconfig")]
    kubelet_client_ca: Option<PathBuf>,
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
        builder = builder.name_prefix(&args.name_prefix);
        if let Some(seats) = args.seats {
            builder = builder.seats(seats);
        }
        if let Some(version) = &args.server_version {
            builder = builder.server_version(version);
        }
        if let (Some(kubeconfig), Some(cert), Some(key), Some(client_ca)) =
            (&args.external_kubeconfig, &args.kubelet_ca_cert, &args.kubelet_ca_key, &args.kubelet_client_ca)
        {
            match ExternalApi::from_files(kubeconfig, cert, key, client_ca) {
                Ok(api) => builder = builder.external(api),
                Err(err) => {
                    eprintln!("error: {err:#}");
                    return ExitCode::from(2);
                }
            }
        }
        let cluster = match builder.start().await {
            Ok(cluster) => cluster,
            Err(err) => {
                eprintln!("error: {err:#}");
                return ExitCode::from(2);
            }
        };
        use tokio::signal::unix::{SignalKind, signal};
        let (term, stop_api, start_api) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::user_defined1()),
            signal(SignalKind::user_defined2()),
        ) {
            (Ok(term), Ok(stop), Ok(start)) => (term, stop, start),
            (Err(err), _, _) | (_, Err(err), _) | (_, _, Err(err)) => {
                eprintln!("error: cannot watch signals: {err}");
                return ExitCode::from(2);
            }
        };
        let (mut term, mut stop_api, mut start_api) = (term, stop_api, start_api);
        println!("ready {}", cluster.api_url());
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = stop_api.recv() => {
                    cluster.stop_api_server();
                    println!("api-server stopped");
                }
                _ = start_api.recv() => {
                    cluster.start_api_server();
                    println!("api-server started");
                }
            }
        }
        cluster.shutdown().await;
        ExitCode::SUCCESS
    })
}
