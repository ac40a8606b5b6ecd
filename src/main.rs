//! The `kubelet-metrics` binary: parse arguments, run one command, map the outcome to an exit
//! status (0 complete, 1 partial, 2 nothing could run, 3 SLO violated, 4 SLO could not be judged;
//! 130/143 stopped by SIGINT/SIGTERM, after printing what was collected).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use kubelet_metrics::cli::{Cli, Command, LogFormat};
use kubelet_metrics::commands;
use kubelet_metrics::report::escape_controls;
use kubelet_metrics::report::terminal::Escaped;

// The parser allocates many small strings when a command keeps whole families (`get` without
// `-m`); glibc's malloc took about 60% of that time. mimalloc: 400 → 630–920 MB/s (README).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    init_logging(cli.verbose, cli.command.log_format());
    raise_open_file_limit();
    if !matches!(cli.command, Command::Serve(_) | Command::Watch(_)) {
        exit_on_unwatched_signals();
    }
    // One thread: every body chunk is parsed where it is decrypted. With a thread pool each chunk
    // crossed threads to reach the fan-out task, which cost more than the parsing (1,000 nodes
    // through the proxy: 0.35 s of system time down to 0.13 s).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    // Text for people never carries raw control characters from payloads, node names or
    // server messages: stderr always, stdout when the output is a table.
    let stdout = std::io::stdout();
    let stdout_is_terminal = stdout.is_terminal();
    let no_color = std::env::var("NO_COLOR").ok();
    let color = cli.color.enabled(stdout_is_terminal, no_color.as_deref());
    // A command that paints its own output escapes what it prints itself: the wrapper would
    // escape the colours too.
    let stdout: Box<dyn Write> = if cli.command.stdout_is_for_people() && !(color && cli.command.paints()) {
        Box::new(Escaped::new(stdout.lock()))
    } else {
        Box::new(stdout.lock())
    };
    let mut out = std::io::BufWriter::new(stdout);
    let mut err = Escaped::new(std::io::stderr());
    let terminals =
        commands::Terminals { stdout: stdout_is_terminal, stderr: std::io::stderr().is_terminal(), color };
    let result = runtime.block_on(commands::run(cli.command, &mut out, &mut err, terminals));
    let flushed = out.flush();
    // A run stopped by SIGINT or SIGTERM printed what it had; the status says it was stopped.
    let interrupted =
        kubelet_metrics::collect::interrupted().and_then(|signal| u8::try_from(128 + signal).ok());
    let code = match result {
        Ok(outcome) => match flushed {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write the output: {e}");
                ExitCode::from(2)
            }
            Ok(()) => ExitCode::from(outcome.exit_code()),
        },
        // `... | head` closing the pipe early is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", escape_controls(&commands::error_text(&e)));
            ExitCode::from(2)
        }
    };
    match interrupted {
        Some(status) => ExitCode::from(status),
        None => code,
    }
}

/// Ends the process with 128 + the signal on a SIGINT or SIGTERM that no run is watching
/// (`collect` stops itself on one and prints what it has): before the nodes are listed, or
/// while the output is written. tokio keeps both signals caught once a run has watched them,
/// so a run blocked writing to a reader that stopped reading ignored them for ever. A thread of
/// its own, because the main one may be the blocked writer. `serve` and `watch` treat the
/// signals as their normal end and handle them themselves.
fn exit_on_unwatched_signals() {
    #[cfg(unix)]
    let _ = std::thread::Builder::new().name("signals".into()).spawn(|| {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        runtime.block_on(async {
            let (Ok(mut interrupt), Ok(mut terminate)) =
                (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
            else {
                return;
            };
            // A run that stopped on a signal prints what it collected, then exits 128 + it. This
            // thread hears the same signal, maybe only after that run has ended (a loaded
            // machine): that one delivery is the run's, not a second Ctrl-C.
            let mut taken_by_run = false;
            loop {
                let number = tokio::select! {
                    _ = interrupt.recv() => 2,
                    _ = terminate.recv() => 15,
                };
                if kubelet_metrics::collect::watching_signals() {
                    taken_by_run = true;
                    continue;
                }
                if kubelet_metrics::collect::interrupted().is_some() && !taken_by_run {
                    taken_by_run = true;
                    continue;
                }
                // No message: stderr may be the very pipe nobody reads.
                std::process::exit(128 + number);
            }
        });
    });
}

/// Raises the soft open-file limit to the hard limit, where the system allows it, as Go programs
/// do at start (Go 1.19+): the soft limit is often 1,024 while a fan-out over thousands of nodes,
/// bounded by --concurrency, may need more. Failure changes nothing: a node that still hits the
/// limit fails as `too_many_open_files`, with its fix.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // An unlimited hard limit is refused for RLIMIT_NOFILE (Linux: nr_open; macOS: OPEN_MAX):
    // keep the soft limit then.
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(maximum), maximum: Some(maximum) });
    }
}

/// Diagnostics go to stderr through `tracing`: quiet but for warnings unless `-v` or `RUST_LOG`
/// ask for more. Credentials never reach them (requests are logged by node and path).
fn init_logging(verbose: u8, format: LogFormat) {
    // Other crates' logs (kube logs every failed request at ERROR) repeat what the report says,
    // so they show only from -vvv on.
    let default = match verbose {
        // A log pipeline wants each collection's outcome.
        0 if format == LogFormat::Json => "kubelet_metrics=info",
        0 => "kubelet_metrics=warn",
        1 => "kubelet_metrics=info",
        2 => "kubelet_metrics=debug",
        3 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        // One object per line: timestamp, level, fields (the event's `message` among them).
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
