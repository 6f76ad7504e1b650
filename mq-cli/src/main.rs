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
mod error;
mod output;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::error::CliError;

fn main() -> ExitCode {
    // Usage errors (and --help, --version) exit here, with status 2 (0).
    let cli = Cli::parse();
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

fn fail(error: &CliError, json: bool) -> ExitCode {
    let text = if json {
        format!("{:#}\n", error.json())
    } else {
        error.text()
    };
    write_out(&mut std::io::stderr(), &text);
    ExitCode::FAILURE
}

/// Writes without panicking when the reader went away (`mq list | head`).
fn write_out(out: &mut dyn Write, text: &str) {
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
