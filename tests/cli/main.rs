//! Integration tests: the built binary (and the library's I/O edges) against saved payloads and
//! the simulated cluster. One test binary; one module per area.

mod access;
mod breakdown;
mod cluster;
mod credentials;
mod deploy;
mod differential;
mod fleet;
mod hygiene;
mod layers;
mod limits;
mod live;
mod load;
mod node_local;
mod offline;
mod oracle;
mod packaging;
mod pods;
mod prometheus;
mod readable;
mod real;
mod reliability;
mod serve;
mod servers;
mod signals;
mod watch;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The `kubelet-metrics` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kubelet-metrics"))
}

/// A fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Runs the command with `stdin` as its input and returns what it printed.
pub fn run_with_stdin(mut command: Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child.stdin.take().expect("piped stdin").write_all(stdin).expect("stdin accepts the payload");
    child.wait_with_output().expect("the binary finishes")
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// A plain-HTTP GET on loopback, for servers the tests start (`serve`, Prometheus): the status
/// code and the body.
pub fn http_get(addr: std::net::SocketAddr, path_and_query: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(stream, "GET {path_and_query} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, body.to_string()))
}

/// Percent-encodes a PromQL query for a URL.
pub fn url_encode(text: &str) -> String {
    kubelet_metrics::units::encode_component(text)
}

/// Kills and reaps a child process when the test ends, however it ends.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port that was free a moment ago (for servers that need their port on the command
/// line, such as Prometheus).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}
