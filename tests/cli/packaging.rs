//! Packaging: the Dockerfile's structure (no container engine runs in the tests, and hadolint
//! is not packaged, so its rules that matter here are checked on the text), the kustomize
//! bases equal to what `rbac` prints and rendered by `kubectl kustomize`, the krew manifest
//! template, and shell completion below the top level, in bash and in kubectl plugin mode.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{bin, stderr, stdout};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_as_non_root_in_a_small_one() {
    let text = read("Dockerfile");
    let instructions: Vec<(String, String)> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_once(' ').map(|(i, rest)| (i.to_ascii_uppercase(), rest.trim().to_string())))
        .collect();
    let stages: Vec<usize> =
        instructions.iter().enumerate().filter(|(_, (i, _))| i == "FROM").map(|(n, _)| n).collect();
    assert_eq!(stages.len(), 2, "a build stage and a runtime stage");
    let (build, runtime) = (&instructions[stages[0]].1, &instructions[stages[1]].1);
    assert!(build.ends_with(" AS build"), "{build}");
    assert!(runtime.contains("distroless/static") && runtime.contains(":nonroot"), "{runtime}");
    for (_, from) in [&instructions[stages[0]], &instructions[stages[1]]] {
        assert!(!from.contains(":latest"), "pinned base images: {from}");
    }
    let final_stage = &instructions[stages[1]..];
    let user = final_stage.iter().find(|(i, _)| i == "USER").map(|(_, u)| u.as_str()).expect("a USER");
    let uid: u32 = user.split(':').next().and_then(|u| u.parse().ok()).expect("a numeric UID");
    assert_ne!(uid, 0, "not root");
    assert!(
        final_stage.iter().any(|(i, a)| i == "COPY" && a.starts_with("--from=build ")),
        "{final_stage:?}"
    );
    assert!(final_stage.iter().all(|(i, _)| i != "RUN"), "nothing runs in the runtime image");
    let entrypoint = final_stage.iter().find(|(i, _)| i == "ENTRYPOINT").expect("an ENTRYPOINT");
    assert!(entrypoint.1.starts_with('['), "exec form: {}", entrypoint.1);
    assert!(text.contains("--locked"), "the lock file is honoured");
    // What the build stage copies exists, and the context leaves target/ out.
    for (_, args) in instructions.iter().filter(|(i, a)| i == "COPY" && !a.starts_with("--from")) {
        let words: Vec<&str> = args.split_whitespace().collect();
        for source in &words[..words.len() - 1] {
            assert!(repo(source).exists(), "COPY {source}");
        }
    }
    assert!(read(".dockerignore").lines().any(|l| l.trim() == "target"));
    // The port it exposes is the one `rbac` manifests scrape.
    assert!(text.contains(&format!("EXPOSE {}", kubelet_metrics::rbac::SERVE_PORT)));
}

#[test]
fn the_kustomize_bases_are_what_rbac_prints_and_render() {
    for (mode, flag) in [("node-local", "--daemonset"), ("cluster", "--deployment")] {
        let output = bin().args(["rbac", flag, "--network-policy"]).output().expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let shipped = read(&format!("deploy/kustomize/{mode}/manifests.yaml"));
        assert!(
            shipped == stdout(&output),
            "deploy/kustomize/{mode}/manifests.yaml is stale: regenerate it with \
             `kubelet-metrics rbac {flag} --network-policy > deploy/kustomize/{mode}/manifests.yaml`"
        );
        let rendered = Command::new("kubectl")
            .args(["kustomize", &repo(&format!("deploy/kustomize/{mode}")).to_string_lossy()])
            .output()
            .expect("kubectl is installed");
        assert!(rendered.status.success(), "{}", stderr(&rendered));
        let text = stdout(&rendered);
        for kind in
            ["Namespace", "ServiceAccount", "ClusterRole", "Service", "ServiceMonitor", "NetworkPolicy"]
        {
            assert!(text.contains(&format!("kind: {kind}\n")), "{mode}: {kind}");
        }
    }
}

#[test]
fn the_krew_template_installs_the_plugin_binary_and_its_completion() {
    let text = read("deploy/krew/kubelet-metrics.yaml");
    let platforms = text.matches("- selector:").count();
    assert!(platforms >= 2, "{text}");
    assert_eq!(text.matches("bin: kubectl-kubelet_metrics\n").count(), platforms);
    assert_eq!(text.matches("{{ addURIAndSha ").count(), platforms);
    assert!(text.contains("version: {{ .TagName }}"));
    let helper = repo("deploy/krew/kubectl_complete-kubelet_metrics");
    let script = std::fs::read_to_string(&helper).expect("helper");
    assert!(
        script.starts_with("#!/bin/sh\n")
            && script.contains("kubectl-kubelet_metrics complete-words -- \"$@\"")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&helper).expect("helper").permissions().mode();
        assert!(mode & 0o111 != 0, "executable");
    }
}

/// Completes the last of `words` with the generated bash script, as bash's `complete` does.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let script = stdout(&bin().args(["completions", "bash"]).output().expect("runs"));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("completion.bash");
    std::fs::write(&file, script).expect("script");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source {file}\nCOMP_WORDS=({words})\nCOMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n\
         func=$(complete -p {name} | sed 's/.*-F \\([^ ]*\\) .*/\\1/')\n\
         \"$func\" {name} \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        file = file.display(),
        words = quoted.join(" "),
        name = words[0],
    );
    let output = Command::new("bash").args(["-c", &program]).output().expect("bash runs");
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[test]
fn bash_completes_below_the_top_level_under_both_names() {
    assert_eq!(bash_complete(&["kubelet-metrics", "hist"]), ["histogram"]);
    assert_eq!(bash_complete(&["kubelet-metrics", "histogram", "--time"]), ["--timeout"]);
    assert_eq!(bash_complete(&["kubectl-kubelet_metrics", "serve", "--node-l"]), ["--node-local"]);
    assert_eq!(bash_complete(&["kubelet-metrics", "rbac", "--daem"]), ["--daemonset"]);
}

#[test]
fn kubectl_plugin_completion_speaks_kubectls_protocol() {
    let output = bin().args(["complete-words", "--", "serve", "--node-l"]).output().expect("runs");
    assert_eq!(stdout(&output), "--node-local\n:4\n");
    let output = bin().args(["complete-words", "--", "histogram", "--method", "d"]).output().expect("runs");
    assert_eq!(stdout(&output), "direct\n:4\n");
}

#[test]
fn the_man_page_documents_every_subcommand() {
    let page = stdout(&bin().arg("man").output().expect("runs"));
    assert!(page.contains(".TH kubelet-metrics 1"), "{page}");
    for sub in ["histogram", "serve", "rbac", "doctor"] {
        assert!(page.contains(&format!("kubelet\\-metrics\\-{sub}(1)")) || page.contains(sub), "{sub}");
    }
    let serve = stdout(&bin().args(["man", "serve"]).output().expect("runs"));
    assert!(serve.contains(".TH kubelet-metrics-serve 1") && serve.contains("node\\-local"), "{serve}");
}
