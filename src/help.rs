//! The command tree's one-line help in the reader's language. The English lines are the
//! doc comments of the clap tree (a test keeps `en.ftl` equal to them); the catalogue gives
//! the Chinese ones. Arguments' help stays as written in the tree.

use std::ffi::OsString;

use bidui_i18n::{t_in, Lang};
use clap::{CommandFactory, FromArgMatches};

use crate::Cli;

/// `--lang` as given on the command line, read before clap parses it, so that the help and
/// clap's own errors are already in that language.
pub fn language_asked(args: &[OsString]) -> Option<Lang> {
    let mut args = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        match arg {
            "--" => break,
            "--lang" => return args.next()?.parse().ok(),
            _ => {
                if let Some(value) = arg.strip_prefix("--lang=") {
                    return value.parse().ok();
                }
            }
        }
    }
    None
}

/// Each command (by its path in the tree) and its help line in `lang`.
fn abouts(lang: Lang) -> Vec<(&'static [&'static str], String)> {
    vec![
        (&[], t_in!(lang, "help-bidui")),
        (&["id"], t_in!(lang, "help-id")),
        (&["id", "check"], t_in!(lang, "help-id-check")),
        (&["bench"], t_in!(lang, "help-bench")),
        (&["agent"], t_in!(lang, "help-agent")),
        (&["agent", "init"], t_in!(lang, "help-agent-init")),
        (&["agent", "check"], t_in!(lang, "help-agent-check")),
        (&["agent", "serve"], t_in!(lang, "help-agent-serve")),
        (&["agent", "run"], t_in!(lang, "help-agent-run")),
        (&["matcher"], t_in!(lang, "help-matcher")),
        (&["matcher", "serve"], t_in!(lang, "help-matcher-serve")),
        (&["matcher", "enroll"], t_in!(lang, "help-matcher-enroll")),
        (&["matcher", "revoke"], t_in!(lang, "help-matcher-revoke")),
        (&["matcher", "trust-custodian"], t_in!(lang, "help-matcher-trust-custodian")),
        (&["matcher", "backup"], t_in!(lang, "help-matcher-backup")),
        (&["job"], t_in!(lang, "help-job")),
        (&["job", "create"], t_in!(lang, "help-job-create")),
        (&["job", "status"], t_in!(lang, "help-job-status")),
        (&["job", "resume"], t_in!(lang, "help-job-resume")),
        (&["job", "results"], t_in!(lang, "help-job-results")),
        (&["keys"], t_in!(lang, "help-keys")),
        (&["keys", "init-operator"], t_in!(lang, "help-keys-init-operator")),
        (&["keys", "tls-cert"], t_in!(lang, "help-keys-tls-cert")),
        (&["keys", "init"], t_in!(lang, "help-keys-init")),
        (&["keys", "enroll"], t_in!(lang, "help-keys-enroll")),
        (&["keys", "enroll-operator"], t_in!(lang, "help-keys-enroll-operator")),
        (&["keys", "revoke"], t_in!(lang, "help-keys-revoke")),
        (&["keys", "rotate"], t_in!(lang, "help-keys-rotate")),
        (&["keys", "status"], t_in!(lang, "help-keys-status")),
        (&["keys", "new-epoch"], t_in!(lang, "help-keys-new-epoch")),
        (&["synth"], t_in!(lang, "help-synth")),
        (&["demo"], t_in!(lang, "help-demo")),
        (&["report"], t_in!(lang, "help-report")),
        (&["report", "build"], t_in!(lang, "help-report-build")),
        (&["report", "resolve"], t_in!(lang, "help-report-resolve")),
        (&["report", "diff"], t_in!(lang, "help-report-diff")),
        (&["report", "upward"], t_in!(lang, "help-report-upward")),
        (&["report", "merge"], t_in!(lang, "help-report-merge")),
        (&["report", "claims"], t_in!(lang, "help-report-claims")),
        (&["report", "progress"], t_in!(lang, "help-report-progress")),
        (&["console"], t_in!(lang, "help-console")),
        (&["console", "account"], t_in!(lang, "help-console-account")),
        (&["console", "account", "add"], t_in!(lang, "help-console-account-add")),
        (&["console", "account", "list"], t_in!(lang, "help-console-account-list")),
        (&["console", "account", "remove"], t_in!(lang, "help-console-account-remove")),
        (&["console", "account", "passwd"], t_in!(lang, "help-console-account-passwd")),
        (&["console", "audit"], t_in!(lang, "help-console-audit")),
        (&["audit"], t_in!(lang, "help-audit")),
        (&["audit", "show"], t_in!(lang, "help-audit-show")),
        (&["audit", "verify"], t_in!(lang, "help-audit-verify")),
    ]
}

/// Sets the help line of the command at `path` under `command`; a path the tree no longer
/// has is left alone (its doc comment speaks).
fn with_about(command: clap::Command, path: &[&str], about: String) -> clap::Command {
    match path.split_first() {
        None => command.about(about).long_about(None),
        Some((first, rest)) if command.find_subcommand(first).is_some() => {
            command.mut_subcommand(*first, |sub| with_about(sub, rest, about))
        }
        Some(_) => command,
    }
}

/// The command tree, its help in the chosen language.
pub fn command() -> clap::Command {
    let lang = bidui_i18n::language();
    abouts(lang).into_iter().fold(Cli::command(), |command, (path, about)| with_about(command, path, about))
}

/// Parses the command line against [`command`]; exits with clap's message on an error.
pub fn parse(args: Vec<OsString>) -> Cli {
    let matches = command().get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(command: &'a clap::Command, path: &[&str]) -> &'a clap::Command {
        path.iter().fold(command, |c, name| c.find_subcommand(name).unwrap_or_else(|| panic!("no command {path:?}")))
    }

    /// `en.ftl` holds the tree's doc comments word for word, so neither drifts from the other.
    #[test]
    fn the_english_help_lines_are_the_doc_comments() {
        let tree = Cli::command();
        for (path, english) in abouts(Lang::En) {
            let doc = find(&tree, path).get_about().map(|a| a.to_string()).unwrap_or_default();
            assert_eq!(english, doc, "{path:?}");
        }
    }

    /// Every command of the tree has its help line in the catalogue.
    #[test]
    fn every_command_has_a_help_line() {
        let listed: Vec<Vec<&str>> = abouts(Lang::Zh).into_iter().map(|(path, _)| path.to_vec()).collect();
        let tree = Cli::command();
        let mut missing = Vec::new();
        for sub in tree.get_subcommands() {
            let name = sub.get_name();
            if !listed.contains(&vec![name]) {
                missing.push(name.to_owned());
            }
            // The benchmarks are for developers, in English.
            if name != "bench" {
                for leaf in sub.get_subcommands() {
                    if !listed.contains(&vec![name, leaf.get_name()]) {
                        missing.push(format!("{name} {}", leaf.get_name()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "commands without a help line in the catalogue: {missing:?}");
    }

    #[test]
    fn lang_is_read_before_parsing() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(language_asked(&args(&["bidui", "job", "--lang", "en", "status"])), Some(Lang::En));
        assert_eq!(language_asked(&args(&["bidui", "--lang=zh", "demo"])), Some(Lang::Zh));
        assert_eq!(language_asked(&args(&["bidui", "demo"])), None);
        assert_eq!(language_asked(&args(&["bidui", "id", "check", "--", "--lang", "en"])), None);
    }
}
