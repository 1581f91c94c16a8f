//! `run-container`: argument parsing only for now; its work comes with its own issue.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Build and run the docker command of one AIVC booking. Not implemented yet: this
/// build only resolves the root folder.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The installation's root folder (holds cfg/ and jobs/).
    #[arg(long, env = "AIVC_ROOT", value_name = "DIR")]
    root: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match hostinfo::Root::resolve(args.root) {
        Ok(_) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("run-container: error: not implemented yet");
            }
            ExitCode::from(2)
        }
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("run-container: error: {e}");
            }
            ExitCode::from(2)
        }
    }
}
