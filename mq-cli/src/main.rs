//! `mq`, the command line of the mq job queue.
//!
//! ```text
//! mq migrate
//! mq status
//! mq list [--channel NAME] [--state STATE] [--limit N] [--after CURSOR]
//! mq show ID
//! mq retry ID... | --failed [--channel NAME]
//! mq delete ID...
//! mq clear --channel NAME... | --all --yes
//! mq prune --older-than 7d [--state failed|completed]
//! mq dashboard [--listen 127.0.0.1:8080] [--read-only] [--auth USER:PASSWORD]
//! mq bench [ARGS...]
//! ```
//!
//! It reads the database URL from `DATABASE_URL` or `--database-url`, and
//! prints text for people, or JSON with `--json`. It works through
//! [`mq::admin`] and the sqlx driver.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cli;
mod commands;
mod dashboard;
mod error;
mod output;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::Cli;
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    let json = cli.json;
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
        .and_then(|runtime| runtime.block_on(commands::run(cli)));
    match result {
        Ok(done) => {
            let report = if json {
                if done.report.json.is_null() {
                    String::new()
                } else {
                    format!("{:#}\n", done.report.json)
                }
            } else {
                done.report.text
            };
            write_out(&mut std::io::stdout(), &report);
            match done.problem {
                Some(problem) => fail(&problem, json),
                None => ExitCode::from(done.exit_code),
            }
        }
        Err(error) => fail(&error, json),
    }
}

/// `--help` and `--version` print their text and exit with 0; a usage
/// error exits with 2, told as JSON when `--json` was among the arguments
/// (a script asking for JSON must get JSON for every error), else as clap
/// tells it.
fn usage_error(error: &clap::Error) -> ExitCode {
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        error.exit();
    }
    if json_requested(std::env::args_os().skip(1)) {
        return fail(&CliError::usage(error), true);
    }
    // clap repeats the offending argument, which may hold control or bidi
    // characters (an id or a duration from a script): then print its text
    // escaped, without colors, rather than as it is.
    let plain = error.render().to_string();
    if plain.chars().any(output::needs_escape_in_text) {
        let escaped: String = plain
            .lines()
            .map(|line| output::escape(line) + "\n")
            .collect();
        write_out(&mut std::io::stderr(), &escaped);
        return ExitCode::from(2);
    }
    error.exit()
}

/// Whether `--json` is among `args`, before a `--` that ends the options.
fn json_requested(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter()
        .take_while(|arg| arg != "--")
        .any(|arg| arg == "--json")
}

fn fail(error: &CliError, json: bool) -> ExitCode {
    let text = if json {
        format!("{:#}\n", error.json())
    } else {
        error.text()
    };
    write_out(&mut std::io::stderr(), &text);
    ExitCode::from(error.exit_code())
}

/// Writes without panicking when the reader went away (`mq list | head`).
fn write_out(out: &mut dyn Write, text: &str) {
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
