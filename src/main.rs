//! The `ssefeed` binary: parse arguments, set up logging, run the command,
//! map the outcome to the contract's exit codes. Everything else lives in the
//! library.

use std::process::ExitCode;

use clap::Parser;
use ssefeed::cli::{self, Cli, Exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not usage errors.
            let code = if e.use_stderr() { Exit::Usage as u8 } else { Exit::Ok as u8 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    cli::init_tracing(cli.log_format);
    match cli::execute(cli) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(Exit::Fatal as u8)
        }
    }
}
