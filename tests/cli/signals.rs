//! Deadlines and signals at every stage: a stalled API server, an endless node list, SIGINT and
//! SIGTERM while listing, and `serve` stopping within 2 s in every state.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Reaped, bin, stderr};

/// An API server on loopback (plain HTTP) that `answer`s each connection on its own thread.
struct FakeApi {
    dir: tempfile::TempDir,
}

impl FakeApi {
    fn start(answer: fn(std::net::TcpStream)) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || answer(stream));
            }
        });
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("kubeconfig"),
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
                 clusters: [{{name: c, cluster: {{server: 'http://{addr}'}}}}]\n\
                 contexts: [{{name: c, context: {{cluster: c, user: u}}}}]\n\
                 users: [{{name: u, user: {{token: t}}}}]\n"
            ),
        )
        .expect("write");
        FakeApi { dir }
    }

    fn kubeconfig(&self) -> String {
        self.dir.path().join("kubeconfig").to_string_lossy().into_owned()
    }
}

/// Reads the request, then says nothing for a minute.
fn stall(mut stream: std::net::TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    std::thread::sleep(Duration::from_secs(60));
}

/// Answers 200 with a NodeList that never ends.
fn endless(mut stream: std::net::TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"kind\":\"NodeList\",\"items\":[";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let filler = [b' '; 64 * 1024];
    while stream.write_all(&filler).is_ok() {}
}

pub(crate) fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status();
    assert!(status.is_ok_and(|s| s.success()), "kill -{name}");
}

/// Waits for the child to exit, at most `limit`; returns its exit code and how long it took.
pub(crate) fn wait(child: &mut Child, limit: Duration) -> (Option<i32>, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return (status.code(), started.elapsed());
        }
        assert!(started.elapsed() < limit, "still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn listing_honours_the_timeout_as_its_budget() {
    let api = FakeApi::start(stall);
    let started = Instant::now();
    let output = bin()
        .args(["get", "--timeout", "1s", "--retries", "0", "--kubeconfig", &api.kubeconfig()])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let err = stderr(&output);
    assert!(err.contains("cannot list nodes") && err.contains("no answer within 1s"), "{err}");
}

#[test]
fn an_endless_node_list_is_cut_at_max_body() {
    let api = FakeApi::start(endless);
    let output = bin()
        .args(["get", "--timeout", "30s", "--max-body", "1M", "--kubeconfig", &api.kubeconfig()])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("cannot list nodes") && err.contains("--max-body"), "{err}");
}

#[test]
fn sigint_while_listing_exits_130_at_once() {
    let api = FakeApi::start(stall);
    let mut child = Reaped(
        bin()
            .args(["get", "--timeout", "60s", "--kubeconfig", &api.kubeconfig()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs"),
    );
    std::thread::sleep(Duration::from_millis(500));
    signal(&child.0, "INT");
    let (code, took) = wait(&mut child.0, Duration::from_secs(2));
    assert_eq!(code, Some(130));
    assert!(took < Duration::from_secs(2));
}

/// `serve` with the API server stalled: started, then SIGTERM while its first cycle is listing.
fn stalled_serve(api: &FakeApi, extra: &[&str]) -> Reaped {
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--interval", "1s", "--kubeconfig", &api.kubeconfig()])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
    let line = lines.next().expect("serve prints its address").expect("utf-8");
    assert!(line.starts_with("serving on"), "{line}");
    std::thread::spawn(move || lines.for_each(drop));
    Reaped(child)
}

#[test]
fn serve_stops_within_two_seconds_of_sigterm_while_listing() {
    let api = FakeApi::start(stall);
    let mut child = stalled_serve(&api, &["--timeout", "60s"]);
    std::thread::sleep(Duration::from_millis(500));
    signal(&child.0, "TERM");
    let (code, _) = wait(&mut child.0, Duration::from_secs(2));
    assert_eq!(code, Some(0));
}

#[test]
fn serve_max_cycles_counts_failed_cycles() {
    let api = FakeApi::start(stall);
    let mut child = stalled_serve(&api, &["--timeout", "300ms", "--max-cycles", "2"]);
    let (code, _) = wait(&mut child.0, Duration::from_secs(10));
    assert_eq!(code, Some(0));
}
