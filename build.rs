//! Stamps the binary with the commit it was built from and the build date, for `--version`.
//! Outside a git checkout (a source tarball) the commit reads `unknown`.

use std::path::Path;
use std::process::Command;

fn main() {
    let run = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|text| text.trim().to_string())
            .filter(|text| !text.is_empty())
    };
    let commit = run("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // SOURCE_DATE_EPOCH keeps reproducible builds reproducible.
    let date = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => run("date", &["-u", "-d", &format!("@{epoch}"), "+%Y-%m-%d"]),
        Err(_) => run("date", &["-u", "+%Y-%m-%d"]),
    }
    .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KUBELET_METRICS_COMMIT={commit}");
    println!("cargo:rustc-env=KUBELET_METRICS_BUILD_DATE={date}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A new commit changes HEAD's target; watch only what exists, or cargo reruns every build.
    let git = run("git", &["rev-parse", "--git-dir"]).unwrap_or_default();
    for file in ["HEAD", "index"] {
        let path = Path::new(&git).join(file);
        if !git.is_empty() && path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
