//! Output hygiene: control characters from payloads and node names are escaped in tables,
//! warnings and errors; JSON keeps them exact.

use crate::{bin, run_with_stdin};

const HOSTILE: &str = "evil\u{1b}]0;PWNED\u{7}\u{1b}[2J";

fn payload() -> String {
    let fixture = std::fs::read_to_string(crate::fixture("seed-node1.prom")).expect("fixture");
    // A malformed line carrying an escape sequence: reported as a warning naming it.
    format!("{fixture}bad_line\u{1b}[2J{{\n")
}

#[test]
fn tables_warnings_and_errors_show_control_characters_escaped() {
    let mut command = bin();
    command.args(["histogram", "--file", "-", "--node", HOSTILE]);
    let output = run_with_stdin(command, payload().as_bytes());
    let (stdout, stderr) = (output.stdout.clone(), output.stderr.clone());
    assert!(!stdout.contains(&0x1b) && !stdout.contains(&0x07), "{}", String::from_utf8_lossy(&stdout));
    assert!(!stderr.contains(&0x1b), "{}", String::from_utf8_lossy(&stderr));
    assert!(
        String::from_utf8_lossy(&stdout).contains("evil\\x1b]0;PWNED\\x07"),
        "{}",
        String::from_utf8_lossy(&stdout)
    );

    // A failure naming a hostile path is escaped in the table's error list and on stderr.
    let output =
        bin().args(["histogram", "--file", &format!("/nonexistent/{HOSTILE}")]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let all = [output.stdout, output.stderr].concat();
    assert!(!all.contains(&0x1b), "{}", String::from_utf8_lossy(&all));
    assert!(
        String::from_utf8_lossy(&all).contains("/nonexistent/evil\\x1b]0;PWNED"),
        "{}",
        String::from_utf8_lossy(&all)
    );

    // So is an error that ends the run.
    let output =
        bin().args(["histogram", "--kubeconfig", &format!("/nonexistent/{HOSTILE}")]).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(!output.stderr.contains(&0x1b), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        String::from_utf8_lossy(&output.stderr).starts_with("error: "),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn json_keeps_node_names_exact() {
    let mut command = bin();
    command.args(["histogram", "--file", "-", "--node", HOSTILE, "-o", "json"]);
    let output = run_with_stdin(command, payload().as_bytes());
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    // serde_json's own escapes, which read back as the exact name.
    assert!(text.contains("evil\\u001b]0;PWNED\\u0007\\u001b[2J"), "{text}");
    assert!(doc.to_string().contains("\\u001b]0;PWNED"));
}
