//! The `kubelet-metrics` binary.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let _cli = kubelet_metrics::cli::Cli::parse();
    std::process::ExitCode::SUCCESS
}
