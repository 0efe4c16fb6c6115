//! The manual page and shell completion scripts, generated from the clap definitions in
//! [`crate::cli`] (so they cannot drift from what the parser accepts), plus the sections clap
//! does not know: exit status, environment, keys of the live view, examples.

use crate::cli::{Cli, Shell};
use clap::CommandFactory;
use clap_mangen::roff::{bold, roman, Roff};
use std::io::Write;

/// Exit statuses, as the code sets them (error.rs AppError and StopSignals, tui/app.rs ExitKind).
pub const EXIT_CODES: [(&str, &str); 7] = [
    (
        "0",
        "success (also when the answer is \"hidden by the kernel\" or \"could not evict\")",
    ),
    (
        "1",
        "failure at run time (the worker died, I/O error, memory ran low mid-comparison)",
    ),
    (
        "2",
        "usage error or bad input; for the live view also \"not a terminal\"",
    ),
    (
        "129",
        "SIGHUP (the terminal went away): the worker is stopped, the terminal restored",
    ),
    ("130", "SIGINT or Ctrl-C"),
    ("131", "SIGQUIT (live view: the terminal is restored first)"),
    ("143", "SIGTERM"),
];

/// Environment variables mmviz reads.
pub const ENVIRONMENT: [(&str, &str); 4] = [
    (
        "MMVIZ_THEME",
        "theme of the live view when --theme is not given: dark, light, projector, mono",
    ),
    (
        "NO_COLOR",
        "when set and non-empty (and neither --theme nor MMVIZ_THEME is), the mono theme",
    ),
    (
        "MMVIZ_DEMO_DIR",
        "where the built-in demo file is created (default $XDG_CACHE_HOME/mmviz or ~/.cache/mmviz)",
    ),
    ("XDG_CACHE_HOME", "see MMVIZ_DEMO_DIR"),
];

/// The subcommands a user types: not the hidden internal ones.
fn shown(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|c| !c.is_hide_set())
}

fn tagged(roff: &mut Roff, tag: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(tag)]);
    roff.text([roman(text)]);
}

/// Writes the whole man page (section 1) as roff.
pub fn manpage(w: &mut dyn Write) -> std::io::Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;

    // One page for everything: clap_mangen's subcommand list would point to mmviz-run(1)
    // pages that are not installed, so each subcommand is written out here.
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for sub in shown(&cmd) {
        let name = sub.get_name();
        roff.control("SS", [format!("mmviz {name}").as_str()]);
        let usage = sub.clone().render_usage().to_string();
        roff.text([bold(usage.trim_start_matches("Usage: ").trim())]);
        roff.control("br", []);
        if let Some(about) = sub.get_about() {
            roff.text([roman(about.to_string())]);
        }
        let opts: Vec<_> = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && a.get_id() != "help")
            .collect();
        for a in opts {
            let tag = match (a.get_long(), a.is_positional()) {
                (_, true) => a.get_id().as_str().to_uppercase(),
                (Some(l), false) => match a.get_value_names() {
                    Some(v) if a.get_num_args().is_some_and(|n| n.takes_values()) => {
                        format!("--{l} {}", v[0])
                    }
                    _ => format!("--{l}"),
                },
                (None, false) => a.get_id().to_string(),
            };
            let mut help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            let defaults = a.get_default_values();
            // Flags (no value) need no "[default: false]".
            if !defaults.is_empty() && !a.is_positional() && a.get_action().takes_values() {
                let d: Vec<_> = defaults.iter().map(|d| d.to_string_lossy()).collect();
                help.push_str(&format!(" [default: {}]", d.join(", ")));
            }
            let values: Vec<_> = a
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect();
            if !values.is_empty() && !help.contains(&values[0]) {
                help.push_str(&format!(" [values: {}]", values.join(", ")));
            }
            if !help.is_empty() {
                tagged(&mut roff, &tag, &help);
            }
        }
        if let Some(after) = sub.get_after_help() {
            roff.control("PP", []);
            for line in after.to_string().lines() {
                roff.text([roman(line.trim())]);
                roff.control("br", []);
            }
        }
    }

    roff.control("SH", ["KEYS (the live view)"]);
    for k in crate::tui::keymap::listed() {
        tagged(&mut roff, k.keys, k.long_help());
    }
    roff.control("SH", ["KEYS (mmviz replay)"]);
    for k in crate::tui::keymap::REPLAY_KEYMAP {
        tagged(&mut roff, k.keys, k.help);
    }

    roff.control("SH", ["EXIT STATUS"]);
    for (code, what) in EXIT_CODES {
        tagged(&mut roff, code, what);
    }

    roff.control("SH", ["ENVIRONMENT"]);
    for (var, what) in ENVIRONMENT {
        tagged(&mut roff, var, what);
    }

    roff.control("SH", ["EXAMPLES"]);
    if let Some(after) = cmd.get_after_help() {
        roff.text([roman(after.to_string().lines().nth(1).unwrap_or("").trim())]);
        roff.control("br", []);
    }
    for sub in shown(&cmd) {
        if let Some(after) = sub.get_after_help() {
            for line in after
                .to_string()
                .lines()
                .skip(1)
                .filter(|l| !l.trim().is_empty())
            {
                roff.text([roman(line.trim())]);
                roff.control("br", []);
            }
        }
    }
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "fincore(1), vmtouch(8), vmstat(8), mmap(2), madvise(2), mincore(2), cachestat(2), proc(5)",
    )]);
    roff.to_writer(w)?;
    man.render_version_section(w)
}

/// Writes the completion script for `shell`.
pub fn completions(shell: Shell, w: &mut dyn Write) {
    use clap_complete::Shell as S;
    let s = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Elvish => S::Elvish,
        Shell::Powershell => S::PowerShell,
    };
    clap_complete::generate(s, &mut public_command(), "mmviz", w);
}

/// The command tree without the hidden internal subcommands: clap_complete offers hidden
/// subcommands too, and clap cannot remove one, so the tree is rebuilt from its parts.
fn public_command() -> clap::Command {
    let full = Cli::command();
    let mut cmd = clap::Command::new("mmviz")
        .args(full.get_arguments().cloned())
        .subcommands(shown(&full).cloned());
    if let Some(a) = full.get_about() {
        cmd = cmd.about(a.clone());
    }
    cmd.version(env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible_subcommands() -> Vec<String> {
        shown(&Cli::command())
            .map(|c| c.get_name().to_string())
            .collect()
    }

    #[test]
    fn manpage_has_every_subcommand_exit_codes_and_keys() {
        let mut out = Vec::new();
        manpage(&mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(
            page.starts_with(".ie") || page.contains(".TH mmviz"),
            "{page}"
        );
        for name in visible_subcommands() {
            assert!(page.contains(&format!("mmviz {name}")), "{name} missing");
        }
        assert!(!page.contains("__worker") && !page.contains("__compare"));
        for (code, _) in EXIT_CODES {
            assert!(
                page.contains(&format!("\\fB{code}\\fR")),
                "exit {code} missing"
            );
        }
        // roff writes an apostrophe as \*(Aq.
        let plain = page.replace("\\*(Aq", "'").replace("\\-", "-");
        for k in crate::tui::keymap::listed() {
            assert!(plain.contains(k.long_help()), "{} missing", k.keys);
        }
        for k in crate::tui::keymap::REPLAY_KEYMAP {
            assert!(plain.contains(k.help), "replay {} missing", k.keys);
        }
        assert!(page.contains("MMVIZ_THEME") && page.contains("NO_COLOR"));
    }

    #[test]
    fn every_visible_subcommand_has_an_example() {
        let cmd = Cli::command();
        for sub in shown(&cmd) {
            let after = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            let name = sub.get_name();
            assert!(
                after.starts_with("Example:") && after.contains(&format!("mmviz {name}")),
                "{name}: {after}"
            );
        }
    }

    #[test]
    fn completions_name_every_subcommand_in_every_shell() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::Powershell,
        ] {
            let mut out = Vec::new();
            completions(shell, &mut out);
            let script = String::from_utf8(out).unwrap();
            for name in visible_subcommands() {
                assert!(script.contains(&name), "{shell:?}: {name} missing");
            }
            assert!(
                !script.contains("__worker") && !script.contains("__compare"),
                "{shell:?} lists a hidden command"
            );
            assert!(script.contains("theme"), "{shell:?}: options missing");
        }
    }
}
