//! The layering rules of `src/lib.rs`'s module map, checked on the source text so that they
//! stay true: the library never imports the command line, cluster code reports facts and never
//! advice, and the pure modules touch no network, runtime, clock or environment.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its path relative to `src/`.
fn rust_files(dir: &Path, src: &Path, found: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("src is readable").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, src, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src).expect("under src").to_string_lossy().replace('\\', "/");
            found.push((relative, std::fs::read_to_string(&path).expect("readable")));
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    rust_files(&src, &src, &mut found);
    assert!(found.len() > 30, "expected the whole source tree, found {} files", found.len());
    found
}

/// The top-level module a file belongs to: `cluster/proxy.rs` → `cluster`, `rbac.rs` → `rbac`.
fn module_of(file: &str) -> &str {
    file.split('/').next().unwrap_or(file).trim_end_matches(".rs")
}

/// Lines of code (not comments) in `text` that name `crate::{module}` for any of `modules`.
fn references<'a>(text: &'a str, modules: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .filter(|line| {
            modules.iter().any(|m| {
                line.contains(&format!("crate::{m}::"))
                    || line.contains(&format!("crate::{m};"))
                    || line.contains(&format!("crate::{{{m}"))
                    || line.contains(&format!("crate::{m}}}"))
            })
        })
        .collect()
}

fn violations(allowed: impl Fn(&str) -> bool, modules: &[&str]) -> Vec<String> {
    sources()
        .iter()
        .filter(|(file, _)| !allowed(file))
        .flat_map(|(file, text)| {
            references(text, modules).into_iter().map(move |line| format!("{file}: {}", line.trim()))
        })
        .collect()
}

#[test]
fn only_the_binary_the_cli_and_the_commands_import_the_cli_or_the_commands() {
    let allowed = |file: &str| file == "main.rs" || matches!(module_of(file), "cli" | "commands");
    assert_eq!(violations(allowed, &["cli", "commands"]), Vec::<String>::new());
}

#[test]
fn the_cli_imports_nothing_from_the_commands() {
    let allowed = |file: &str| module_of(file) != "cli";
    assert_eq!(violations(allowed, &["commands"]), Vec::<String>::new());
}

#[test]
fn cluster_code_reports_facts_and_never_advice() {
    let allowed = |file: &str| module_of(file) != "cluster";
    assert_eq!(violations(allowed, &["rbac", "doctor", "compare", "remedy", "report"]), Vec::<String>::new());
}

#[test]
fn the_pure_modules_touch_no_network_runtime_clock_or_environment() {
    const PURE: &[&str] = &[
        "exposition",
        "text",
        "histogram",
        "analysis",
        "catalog",
        "podstart",
        "scrape",
        "units",
        "access",
        "report",
        "rbac",
        "doctor",
        "compare",
        "remedy",
        "slo",
        "snapshot",
        "exporter",
    ];
    const IMPURE: &[&str] = &[
        "kube::",
        "tokio::",
        "hyper::",
        "std::net::TcpStream",
        "std::env::",
        "SystemTime::now",
        "Instant::now",
    ];
    let found: Vec<String> = sources()
        .iter()
        .filter(|(file, _)| PURE.contains(&module_of(file)))
        .flat_map(|(file, text)| {
            text.lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .filter(|line| IMPURE.iter().any(|word| line.contains(word)))
                .map(move |line| format!("{file}: {}", line.trim()))
        })
        .collect();
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn the_rules_see_an_import_when_there_is_one() {
    // The checks above pass on an empty match too; make sure the matcher itself works.
    let text = "use crate::cli::Method;\nuse crate::{cli, rbac};\n// use crate::cli::Old;\nlet x = crate::remedy::fix;";
    assert_eq!(references(text, &["cli"]).len(), 2);
    assert_eq!(references(text, &["remedy"]), ["let x = crate::remedy::fix;"]);
    assert_eq!(module_of("cluster/proxy.rs"), "cluster");
    assert_eq!(module_of("rbac.rs"), "rbac");
}
