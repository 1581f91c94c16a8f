//! `checker`: the state of an AIVC booking host, as JSON for scripts or as a summary.
#![allow(clippy::print_stderr)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use termcolor::{ColorChoice, StandardStream};

const EXIT_CODES: &str = "Exit codes: 0 no problems, 1 problems found, 2 could not run \
(bad input, unreadable files, a lock held too long).";

/// Report the whole state of an AIVC booking host: capacity, GPUs, users, bookings, a
/// capacity timeline, and every problem found.
#[derive(Debug, Parser)]
#[command(version, after_help = EXIT_CODES)]
struct Cli {
    /// The installation's root folder (holds cfg/ and jobs/).
    #[arg(long, env = "AIVC_ROOT", value_name = "DIR", global = true)]
    root: Option<PathBuf>,
    /// Print the man page (roff) and exit; setup.sh installs it.
    #[arg(long, hide = true)]
    generate_man: bool,
    /// Print completions for SHELL and exit; setup.sh installs them.
    #[arg(long, hide = true, value_name = "SHELL")]
    generate_completions: Option<clap_complete::Shell>,
    /// Print one JSON document (schema: docs/file-formats.md) instead of the summary.
    #[arg(long)]
    json: bool,
    /// When to colour the summary.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    color: When,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Only load and check the configuration and schedule files; exit 0 or 2.
    Validate,
    /// Issue a one-time code with which ID signs up in `booking`; printed once on stdout,
    /// only its hash is kept (needed when host_deploy.yaml says `require_signup_code: true`).
    IssueSignupCode {
        /// The user id (in allow_userIDs, not signed up yet).
        id: String,
        /// Days the code stays valid.
        #[arg(long, default_value_t = checker::admin::DEFAULT_VALID_DAYS, value_parser = clap::value_parser!(u32).range(1..=90))]
        valid_days: u32,
    },
    /// Print each limit in force for ID (per-booking maximums and fairness policies) and
    /// where it comes from: the lab default, ID's group, or ID's exception and its reason.
    Limits {
        /// The user id.
        id: String,
        /// Print one JSON document instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// GPU-hours per user and per group over the last N days, booked against used (read
    /// from the usage samples in jobs/usage/), and busy GPU time no booking held.
    Usage {
        /// Days back from now, 1 to 90.
        #[arg(long, default_value_t = 30, value_name = "N")]
        days: u32,
        /// Print one JSON document instead of the tables.
        #[arg(long)]
        json: bool,
    },
    /// Clear ID's lock-out and its count of wrong passwords.
    Unlock {
        /// The user id.
        id: String,
    },
    /// Reset ID's password: the old one stops working, the lock-out is cleared, and a code
    /// is printed with which the user sets a new password in `booking`.
    ResetUser {
        /// The user id (signed up).
        id: String,
        /// Days the code stays valid.
        #[arg(long, default_value_t = checker::admin::DEFAULT_VALID_DAYS, value_parser = clap::value_parser!(u32).range(1..=90))]
        valid_days: u32,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum When {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.generate_man || cli.generate_completions.is_some() {
        use clap::CommandFactory;
        let mut out = std::io::stdout();
        let written = match cli.generate_completions {
            Some(shell) => {
                clap_complete::generate(shell, &mut Cli::command(), "checker", &mut out);
                Ok(())
            }
            None => clap_mangen::Man::new(Cli::command()).render(&mut out),
        };
        return if written.is_ok() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    }
    match run(&cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("checker: error: {message}");
            ExitCode::from(2)
        }
    }
}

/// The time in the configured zone (`AIVC_NOW` in debug builds), for the admin commands.
fn now(root: &hostinfo::Root) -> Result<chrono::NaiveDateTime, String> {
    let config = root.load_config().map_err(|e| e.to_string())?;
    Ok(config.clock().map_err(|e| e.to_string())?.now())
}

/// The code alone on stdout (for a script to pass on), what it is for on stderr.
fn print_code(id: &str, issued: &checker::admin::Issued, does: &str) -> Result<ExitCode, String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", issued.code.expose())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the code: {e}"))?;
    eprintln!(
        "checker: with this code {id} {does} in booking, once, until {}; it is not kept anywhere",
        issued.expires.format("%Y-%m-%d %H:%M")
    );
    Ok(ExitCode::SUCCESS)
}

fn run(cli: &Cli) -> Result<ExitCode, String> {
    let root = hostinfo::Root::resolve(cli.root.clone()).map_err(|e| e.to_string())?;
    match &cli.command {
        Some(Command::Validate) => {
            let s = checker::validate(&root).map_err(|e| e.to_string())?;
            eprintln!(
                "checker: ok: {} users, {} waiting, {} running, {} in history, {} pending requests, {} on the waitlist",
                s.users, s.booking, s.using, s.used, s.requests, s.waitlist
            );
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::IssueSignupCode { id, valid_days }) => {
            let issued = checker::admin::issue_signup_code(&root, id, *valid_days, now(&root)?)
                .map_err(|e| e.to_string())?;
            return print_code(id, &issued, "signs up");
        }
        Some(Command::ResetUser { id, valid_days }) => {
            let issued = checker::admin::reset_user(&root, id, *valid_days, now(&root)?)
                .map_err(|e| e.to_string())?;
            return print_code(id, &issued, "sets a new password");
        }
        Some(Command::Limits { id, json }) => {
            let config = root.load_config().map_err(|e| e.to_string())?;
            let explained = checker::limits::explain(&config.capability, id)
                .with_nodes(config.cluster.as_ref());
            let text = if *json || cli.json {
                serde_json::to_string(&explained).map_err(|e| e.to_string())? + "\n"
            } else {
                explained.to_text()
            };
            let mut out = std::io::stdout().lock();
            return match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(format!("cannot write the limits: {e}"))
                }
                _ => Ok(ExitCode::SUCCESS),
            };
        }
        Some(Command::Usage { days, json }) => {
            // Checked here, not by clap, for a one-line error.
            if !(1..=90).contains(days) {
                return Err(format!("--days must be 1 to 90, not {days}"));
            }
            let report = checker::usage::load(&root, *days).map_err(|e| e.to_string())?;
            let text = if *json || cli.json {
                serde_json::to_string(&report).map_err(|e| e.to_string())? + "\n"
            } else {
                report.to_text()
            };
            let mut out = std::io::stdout().lock();
            return match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(format!("cannot write the usage report: {e}"))
                }
                _ => Ok(ExitCode::SUCCESS),
            };
        }
        Some(Command::Unlock { id }) => {
            let cleared =
                checker::admin::unlock(&root, id, now(&root)?).map_err(|e| e.to_string())?;
            eprintln!(
                "checker: {}",
                if cleared {
                    format!("{id} is unlocked")
                } else {
                    format!("{id} had no wrong passwords to forget")
                }
            );
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    let snapshot = checker::Snapshot::load(root).map_err(|e| e.to_string())?;
    let inventory = hostinfo::gpu::inventory(
        &hostinfo::gpu::NvmlProbe,
        snapshot.config.fallback_gpu_count(),
    );
    let report = checker::report::build(&snapshot, inventory);
    let written = if cli.json {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        serde_json::to_writer(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush())
    } else {
        let choice = match cli.color {
            When::Always => ColorChoice::Always,
            When::Never => ColorChoice::Never,
            When::Auto if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => {
                ColorChoice::Never
            }
            When::Auto if !std::io::stdout().is_terminal() => ColorChoice::Never,
            When::Auto => ColorChoice::Auto,
        };
        let mut out = StandardStream::stdout(choice);
        checker::summary::write(&report, &mut out).and_then(|()| out.flush())
    };
    match written {
        Ok(()) => {}
        // A reader that stopped early (`checker | head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(format!("cannot write the report: {e}")),
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
