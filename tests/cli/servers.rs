//! Servers the tests start next to the binary — `kubelet-metrics serve` and a real Prometheus —
//! each bounded in time and stopped when its handle drops.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Reaped, bin, free_port, http_get};

/// Retries `attempt` every 200 ms until it answers or `limit` passes.
pub fn poll<T>(what: &str, limit: Duration, mut attempt: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Starts `serve` (1 s interval, bounded cycles) and returns it with its address; its stderr
/// is drained on a thread so it never blocks on a full pipe.
pub fn start_serve(kubeconfig: &str) -> (Reaped, SocketAddr) {
    start_serve_with(&["--kubeconfig", kubeconfig])
}

/// Starts `serve` as [`start_serve`] does, with `args` after its own.
pub fn start_serve_with(args: &[&str]) -> (Reaped, SocketAddr) {
    let mut all = vec!["--listen", "127.0.0.1:0", "--interval", "1s", "--max-cycles", "120"];
    all.extend(args);
    let (child, addr, _log) = spawn_serve(&all);
    (child, addr)
}

/// What `serve` wrote to stderr so far, one entry a line.
pub type Log = Arc<Mutex<Vec<String>>>;

/// Starts `serve` with `args` (which must include `--listen 127.0.0.1:0`) and returns it, its
/// address and its stderr, collected on a thread so it never blocks on a full pipe.
pub fn spawn_serve(args: &[&str]) -> (Reaped, SocketAddr, Log) {
    let mut child = bin()
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let child = Reaped(child);
    let line = lines.next().expect("serve prints its address").expect("utf-8");
    let log = Log::default();
    std::thread::spawn({
        let log = log.clone();
        move || lines.map_while(Result::ok).for_each(|line| log.lock().expect("log").push(line))
    });
    let addr =
        line.trim().strip_prefix("serving on http://").expect("address line").trim_end_matches("/metrics");
    (child, addr.parse().expect("socket address"), log)
}

/// Clients fetching `/metrics` back to back, each at most `per_client` times, until
/// [`Load::finish`]: a bounded load on `serve`.
pub struct Load {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    clients: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    /// Starts `clients` threads fetching `addr`'s `/metrics`.
    pub fn start(addr: SocketAddr, clients: usize, per_client: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let clients = (0..clients)
            .map(|_| {
                let (stop, served, failed) = (stop.clone(), served.clone(), failed.clone());
                std::thread::spawn(move || {
                    for _ in 0..per_client {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match http_get(addr, "/metrics") {
                            Ok((200, _)) => served.fetch_add(1, Ordering::Relaxed),
                            _ => failed.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            })
            .collect();
        Load { stop, served, failed, clients }
    }

    /// Pages answered 200 so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Stops the clients and returns how many requests were answered 200 and how many not.
    pub fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for client in self.clients {
            client.join().expect("client");
        }
        (self.served.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }
}

/// Starts Prometheus scraping `target` every second, storing in `dir`.
pub fn start_prometheus(dir: &std::path::Path, target: SocketAddr) -> (Reaped, SocketAddr) {
    start_prometheus_all(dir, &[target])
}

/// Starts Prometheus scraping every one of `targets` every second, storing in `dir`.
pub fn start_prometheus_all(dir: &std::path::Path, targets: &[SocketAddr]) -> (Reaped, SocketAddr) {
    let config = dir.join("prometheus.yml");
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n  - job_name: kubelet-metrics\n    static_configs: [{{targets: [{}]}}]\n",
            targets.join(", ")
        ),
    )
    .expect("config");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed (Debian package `prometheus`; scripts/test installs it)");
    (Reaped(child), addr)
}
