//! `completions`, `man` and kubectl's plugin completion: what shells and `man` need, generated
//! from the clap command tree so they never drift from the real flags.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// The name the program is installed under, and the name kubectl runs it as a plugin.
const NAMES: [&str; 2] = ["kubelet-metrics", "kubectl-kubelet_metrics"];

/// Writes the completion script for `shell`, for both names the program runs under.
pub fn script(shell: clap_complete::Shell, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut command, NAMES[0], &mut text);
    let text = String::from_utf8(text)?;
    out.write_all(fix_script(shell, &text).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Repairs and extends clap_complete's script. Its bash script names the subcommands' states
/// `kubelet__subcmd__metrics__subcmd__...` in the `case` that lists their flags, but
/// `kubelet__metrics__subcmd__...` where it walks the words typed, so nothing after a
/// subcommand completed (the `-` of the name is escaped two ways). Both names the program runs
/// under are registered: `kubelet-metrics` and the kubectl plugin `kubectl-kubelet_metrics`.
fn fix_script(shell: clap_complete::Shell, text: &str) -> String {
    match shell {
        clap_complete::Shell::Bash => {
            let fixed = text.replace("kubelet__subcmd__metrics", "kubelet__metrics");
            fixed
                .lines()
                .map(|line| {
                    if line.trim_start().starts_with("complete -F") && line.ends_with(NAMES[0]) {
                        format!("{line} {}", NAMES[1])
                    } else {
                        line.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        }
        clap_complete::Shell::Fish => {
            let plugin =
                text.replace(&format!("complete -c {}", NAMES[0]), &format!("complete -c {}", NAMES[1]));
            format!("{text}{plugin}")
        }
        clap_complete::Shell::Zsh => text.replacen(
            &format!("#compdef {}", NAMES[0]),
            &format!("#compdef {} {}", NAMES[0], NAMES[1]),
            1,
        ),
        _ => text.to_string(),
    }
}

/// Writes the manual page of the program, or of one subcommand (`kubelet-metrics-serve(1)`).
pub fn man(subcommand: Option<&str>, out: &mut dyn Write) -> anyhow::Result<()> {
    let command = Cli::command();
    let page = match subcommand {
        None => clap_mangen::Man::new(command),
        Some(name) => {
            let found = command
                .get_subcommands()
                .find(|c| c.get_name() == name || c.get_all_aliases().any(|a| a == name))
                .ok_or_else(|| {
                    anyhow::anyhow!("no subcommand {name:?}; `kubelet-metrics --help` lists them")
                })?;
            let title = format!("{}-{}", NAMES[0], found.get_name());
            let synopsis = format!("{} {}", NAMES[0], found.get_name());
            clap_mangen::Man::new(found.clone().bin_name(synopsis)).title(title)
        }
    };
    let mut text = Vec::new();
    page.render(&mut text)?;
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}

/// How kubectl's completion treats the candidates (cobra's `ShellCompDirective`).
const NO_FILE_COMPLETION: u8 = 4;
/// Candidates are not exhaustive: let the shell complete file names.
const DEFAULT_DIRECTIVE: u8 = 0;

/// Writes the completion candidates for `words` (the last is being typed) in kubectl's plugin
/// protocol: one per line, then `:DIRECTIVE`.
pub fn words(words: &[String], out: &mut dyn Write) -> anyhow::Result<()> {
    let (candidates, directive) = candidates(&Cli::command(), words);
    for candidate in candidates {
        writeln!(out, "{candidate}")?;
    }
    writeln!(out, ":{directive}")?;
    out.flush()?;
    Ok(())
}

/// The candidates for the last of `words` below `root`, and the directive: subcommands and
/// flags by prefix, and the values of a flag with a closed set (e.g. `--method`). File names
/// are left to the shell where a flag takes a path or a free value.
pub fn candidates(root: &clap::Command, words: &[String]) -> (Vec<String>, u8) {
    let (typed, current) = match words.split_last() {
        Some((current, typed)) => (typed, current.as_str()),
        None => (&[][..], ""),
    };
    let mut command = root;
    for word in typed {
        if let Some(sub) =
            command.get_subcommands().find(|c| c.get_name() == word || c.get_all_aliases().any(|a| a == word))
        {
            command = sub;
        }
    }
    // The value of the flag just typed.
    if let Some(previous) = typed.last().and_then(|w| w.strip_prefix("--"))
        && let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(previous))
        && arg.get_action().takes_values()
    {
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .filter(|v| v.starts_with(current))
            .collect();
        return if arg.get_possible_values().is_empty() {
            (Vec::new(), DEFAULT_DIRECTIVE)
        } else {
            (values, NO_FILE_COMPLETION)
        };
    }
    if current.starts_with('-') {
        let flags = command
            .get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long())
            .map(|long| format!("--{long}"))
            .chain(["--help".to_string()])
            .filter(|flag| flag.starts_with(current));
        let mut flags: Vec<String> = flags.collect();
        flags.sort();
        flags.dedup();
        return (flags, NO_FILE_COMPLETION);
    }
    let subcommands: Vec<String> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .filter(|name| name.starts_with(current))
        .collect();
    if subcommands.is_empty() { (Vec::new(), DEFAULT_DIRECTIVE) } else { (subcommands, NO_FILE_COMPLETION) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(words: &[&str]) -> (Vec<String>, u8) {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        candidates(&Cli::command(), &words)
    }

    #[test]
    fn kubectl_plugin_completion_walks_below_the_top_level() {
        assert_eq!(complete(&["hist"]), (vec!["histogram".to_string()], NO_FILE_COMPLETION));
        let (flags, _) = complete(&["serve", "--node-l"]);
        assert_eq!(flags, ["--node-local"]);
        let (values, directive) = complete(&["histogram", "--method", ""]);
        assert_eq!(
            (values, directive),
            (vec!["proxy".to_string(), "direct".to_string()], NO_FILE_COMPLETION)
        );
        // A path is the shell's to complete.
        assert_eq!(complete(&["histogram", "--kubeconfig", ""]), (Vec::new(), DEFAULT_DIRECTIVE));
        // Hidden commands are not offered.
        assert!(!complete(&[""]).0.contains(&"complete-words".to_string()));
    }

    #[test]
    fn the_bash_script_completes_subcommand_flags_under_both_names() {
        let mut out = Vec::new();
        script(clap_complete::Shell::Bash, &mut out).expect("script");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(!text.contains("kubelet__subcmd__metrics"), "one spelling of the states");
        assert!(text.contains("        kubelet__metrics__subcmd__serve)\n"), "serve's flags have a state");
        assert!(text.contains("kubelet-metrics kubectl-kubelet_metrics\n"), "both names registered");
    }

    #[test]
    fn man_pages_name_the_program_and_each_subcommand() {
        let mut out = Vec::new();
        man(None, &mut out).expect("page");
        let page = String::from_utf8(out).expect("utf-8");
        assert!(page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH kubelet-metrics 1"), "{page}");
        let mut out = Vec::new();
        man(Some("serve"), &mut out).expect("page");
        let page = String::from_utf8(out).expect("utf-8");
        assert!(page.contains(".TH kubelet-metrics-serve 1"), "{page}");
        assert!(page.contains("node\\-local"), "{page}");
        assert!(man(Some("nope"), &mut Vec::new()).is_err());
    }
}
