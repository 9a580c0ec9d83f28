//! `kwire`: Kafka from one native binary.

mod args;
mod cmd;
mod config;
mod output;
mod signal;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`kwire topics list | head`), like cat or grep,
    // instead of panicking in println!.
    // SAFETY: setting a signal disposition to SIG_DFL before any thread starts.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    init_tracing(cli.global.verbose);
    // One thread is faster for most commands on small machines (no cross-thread
    // wake-ups or lock contention: measured 3x less CPU for `perf produce`).
    // Group members and streams get worker threads so heartbeats and timers
    // keep running while the command blocks writing output.
    let rt = if cli.command.needs_workers() {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kwire: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(cmd::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // One line, no backtrace: the cause chain joined with ": ".
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("kwire: error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version print as usual; any other usage error becomes one line.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            eprintln!("kwire: error: {} (see --help)", usage_message(&e));
            ExitCode::from(2)
        }
    }
}

/// clap's error as one line, keeping its "did you mean" (a flag, subcommand or
/// value close to what was typed), which its multi-line rendering puts on a
/// later line.
fn usage_message(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let text = e.render().to_string();
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_owned();
    // clap lists missing required arguments on the following lines: keep them.
    if let Some(ContextValue::Strings(missing)) = e.get(ContextKind::InvalidArg) {
        if e.kind() == clap::error::ErrorKind::MissingRequiredArgument && !missing.is_empty() {
            return format!("{}: {}", first.trim_end_matches(':'), missing.join(", "));
        }
    }
    let kinds = [ContextKind::SuggestedArg, ContextKind::SuggestedSubcommand, ContextKind::SuggestedValue];
    let suggested = kinds.iter().find_map(|k| match e.get(*k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) if !v.is_empty() => Some(v.join("' or '")),
        _ => None,
    });
    match suggested {
        Some(s) => format!("{first}; did you mean '{s}'?"),
        None => first,
    }
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("KWIRE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    use std::io::IsTerminal;
    let ansi = colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .try_init();
}

/// Colour (in logs) only on a terminal, and never with `NO_COLOR` set to
/// anything but the empty string (<https://no-color.org>): logs redirected to
/// a file or a pipe stay plain text.
fn colour(is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    fn message(argv: &[&str]) -> String {
        match crate::args::Cli::try_parse_from(argv) {
            Ok(_) => panic!("{argv:?} parsed"),
            Err(e) => super::usage_message(&e),
        }
    }

    #[test]
    fn missing_required_flags_are_named() {
        assert_eq!(
            message(&["kwire", "transactions", "describe-producers", "--topic", "t"]),
            "the following required arguments were not provided: --partition <PARTITION>"
        );
    }

    #[test]
    fn flag_typos_get_a_suggestion() {
        assert_eq!(
            message(&["kwire", "consume", "-t", "x", "--partiton", "1"]),
            "unexpected argument '--partiton' found; did you mean '--partition'?"
        );
        assert_eq!(
            message(&["kwire", "consume", "-t", "x", "--from-begining"]),
            "unexpected argument '--from-begining' found; did you mean '--from-beginning'?"
        );
        assert_eq!(
            message(&["kwire", "consme"]),
            "unrecognized subcommand 'consme'; did you mean 'consume'?"
        );
    }

    #[test]
    fn other_usage_errors_stay_one_line_without_a_tip() {
        let m = message(&["kwire", "consume", "-t", "x", "--zzzzzz"]);
        assert_eq!(m, "unexpected argument '--zzzzzz' found");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        use super::colour;
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())), "an empty NO_COLOR doesn't count");
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
        assert!(!colour(false, Some("1".into())));
    }
}
