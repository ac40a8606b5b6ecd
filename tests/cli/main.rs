//! Integration tests: the built binary (and the library's I/O edges) against saved payloads and
//! the simulated cluster. One test binary; one module per area.

mod live;
mod offline;

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
