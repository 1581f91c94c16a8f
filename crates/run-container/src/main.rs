//! `run-container`: start one booking's container (or a maintainer's without a booking),
//! or close one. Exit codes: 0 done, 2 refused or bad input, docker's own when docker failed.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use hostinfo::config::Secret;
use hostinfo::schedule::{parse_time, GpuSet};
use hostinfo::Root;
use run_container::plan::{self, Ask};
use run_container::Error;

const EXIT_CODES: &str =
    "Exit codes: 0 done; 2 refused or bad input; docker's own code when docker failed.\n\
slurm-prolog and slurm-epilog always exit 0 (a non-zero exit would drain the Slurm node); \
they log failures to jobs/monitor.log.\n\
The password never appears on a command line: it reaches docker through its environment.";

/// Build and run the `docker run` of one AIVC booking, or close a user's container.
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
    #[command(flatten)]
    run: RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Copy out what the user's backup folder lacks, then stop and remove the container.
    Close {
        #[arg(long = "user-id", value_name = "ID")]
        user_id: String,
    },
    /// Cluster mode, as Slurm's root Prolog on a node: start the container of the booking
    /// whose job begins here, with the GPUs Slurm bound. Reads SLURM_JOB_ID,
    /// SLURMD_NODENAME, SLURM_JOB_USER and SLURM_JOB_GPUS; ignores jobs the monitor did not
    /// submit. Always exits 0.
    SlurmProlog,
    /// Cluster mode, as Slurm's root Epilog on a node: back up and remove the container of
    /// the booking whose job ended here. Always exits 0.
    SlurmEpilog,
    /// Cluster mode: print the guard job_submit.lua, filled in from cfg/cluster.yaml
    /// (scripts/setup.sh --slurm installs it next to slurm.conf).
    SlurmJobSubmit,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Whose container (also its name).
    #[arg(long = "user-id", value_name = "ID", required = false)]
    user_id: Option<String>,
    /// Host port forwarded to the container's ssh (default: the user's).
    #[arg(long, value_name = "PORT")]
    forward_port: Option<u16>,
    /// Read the container's password from standard input (default: the user's).
    #[arg(long)]
    password_stdin: bool,
    /// CPUs, decimals allowed (default 1).
    #[arg(long)]
    cpus: Option<f64>,
    /// GB of memory, RAM plus swap (default 1).
    #[arg(long)]
    memory: Option<u32>,
    /// Which GPUs, by device id: `--gpu-ids 0,3` exposes GPUs 0 and 3 — ids, not a count
    /// (booking's `--gpus 2` is a count). Default none. `--gpus` is an old name for it.
    #[arg(long = "gpu-ids", alias = "gpus", value_name = "ID,ID,...")]
    gpu_ids: Option<String>,
    /// One of host_deploy.yaml's images (default: the user's, else the first).
    #[arg(long)]
    image: Option<String>,
    /// Run with `bash -c` inside the container at start (default: the user's).
    #[arg(long)]
    extra_command: Option<String>,
    /// The booking's start, `YYYY-MM-DD HH:MM:SS` (labels the container; with --end).
    #[arg(long, requires = "end")]
    start: Option<String>,
    /// The booking's end.
    #[arg(long, requires = "start")]
    end: Option<String>,
    /// Print the docker command line instead of running it; creates nothing.
    #[arg(long)]
    dry_run: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.generate_man || cli.generate_completions.is_some() {
        use clap::CommandFactory;
        let mut out = std::io::stdout();
        let written = match cli.generate_completions {
            Some(shell) => {
                clap_complete::generate(shell, &mut Cli::command(), "run-container", &mut out);
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
    let r = &cli.run;
    let run_flags = r.user_id.is_some()
        || r.forward_port.is_some()
        || r.password_stdin
        || r.cpus.is_some()
        || r.memory.is_some()
        || r.gpu_ids.is_some()
        || r.image.is_some()
        || r.extra_command.is_some()
        || r.start.is_some()
        || r.dry_run;
    if cli.command.is_some() && run_flags {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "the subcommands take none of the start options (`close` takes --user-id after it)",
            )
            .exit();
    }
    if let Some(side @ (Command::SlurmProlog | Command::SlurmEpilog)) = &cli.command {
        slurm_side(cli.root.clone(), matches!(side, Command::SlurmProlog));
        return ExitCode::SUCCESS;
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("run-container: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let root = Root::resolve(cli.root)?;
    let config = root.load_config()?;
    let a = cli.run;
    match cli.command {
        Some(Command::Close { user_id }) => return close(&root, &config, &user_id),
        Some(Command::SlurmJobSubmit) => return job_submit(&config),
        _ => {}
    }
    let user_id = a.user_id.ok_or_else(|| Error::BadUserId {
        id: String::new(),
        why: "is missing (give --user-id)",
    })?;
    let bad_time = |t: &str, why: String| Error::BadPath {
        path: PathBuf::from(t),
        why,
    };
    let window = match (a.start, a.end) {
        (Some(s), Some(e)) => Some((
            parse_time(&s).map_err(|why| bad_time(&s, why))?,
            parse_time(&e).map_err(|why| bad_time(&e, why))?,
        )),
        _ => None,
    };
    let gpus = match a.gpu_ids.as_deref() {
        None | Some("") => GpuSet::default(),
        Some(list) => GpuSet::parse(&format!("[{list}]")).map_err(|why| bad_time(list, why))?,
    };
    let password = if a.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| Error::Prepare {
                path: "standard input".into(),
                source,
            })?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        Some(Secret::new(text))
    } else {
        None
    };
    let ask = Ask {
        user_id,
        forward_port: a.forward_port,
        password,
        cpus: a.cpus,
        memory: a.memory,
        gpus,
        image: a.image,
        extra_command: a.extra_command,
        window,
        gpu_count: None,
    };
    let mut plan = plan::plan(&root, &config, ask)?;
    let docker = docker_client::Client::from_env();
    if a.dry_run {
        let refused = plan.collect_mounts();
        for r in refused {
            eprintln!(
                "run-container: warning: backup entry `{}` refused: {}",
                r.entry, r.why
            );
        }
        let mut line = vec![run_container::argv::shell_quote(
            &docker.program().to_string_lossy(),
        )];
        line.extend(
            plan.args()
                .iter()
                .map(|a| run_container::argv::shell_quote(a)),
        );
        println!("{}", line.join(" "));
        eprintln!("run-container: PASSWORD reaches docker through its environment, never the command line");
        return Ok(());
    }
    let started = run_container::session::start(&root, &config, plan, &docker)?;
    for line in &started.logged {
        eprintln!("{line}");
    }
    println!("{}", started.id);
    Ok(())
}

/// The Prolog or Epilog: whatever happens, the caller exits 0, since a non-zero exit drains
/// the node for every user; what went wrong is in jobs/monitor.log and on stderr (slurmd's
/// log, at its debug level).
fn slurm_side(root: Option<PathBuf>, prolog: bool) {
    use run_container::slurm_node::{self, JobEnv};
    let name = if prolog {
        "slurm-prolog"
    } else {
        "slurm-epilog"
    };
    let env = match JobEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("run-container: {name}: nothing done: {e}");
            return;
        }
    };
    let root = match Root::resolve(root) {
        Ok(root) => root,
        Err(e) => {
            eprintln!(
                "run-container: {name}: nothing done for job {}: {e}",
                env.job_id
            );
            return;
        }
    };
    let docker = docker_client::Client::from_env();
    let outcome = if prolog {
        slurm_node::prolog(&root, &env, &docker)
    } else {
        slurm_node::epilog(&root, &env, &docker)
    };
    eprintln!("run-container: {name}: job {}: {outcome:?}", env.job_id);
}

fn job_submit(config: &hostinfo::Config) -> Result<(), Error> {
    let Some(cluster) = &config.cluster else {
        return Err(Error::BadPath {
            path: "cfg/cluster.yaml".into(),
            why: "is missing: the Slurm guard is for cluster mode".into(),
        });
    };
    let lua = run_container::slurm_guard::render(run_container::slurm_guard::TEMPLATE, cluster)
        .map_err(|why| Error::BadPath {
            path: "cfg/cluster.yaml".into(),
            why,
        })?;
    print!("{lua}");
    Ok(())
}

fn close(root: &Root, config: &hostinfo::Config, user_id: &str) -> Result<(), Error> {
    let client = docker_client::Client::from_env();
    let done = run_container::session::close(root, config, user_id, &client, &|_, _| true)?;
    for line in &done.logged {
        eprintln!("{line}");
    }
    if done.closed.existed {
        eprintln!(
            "run-container: closed {user_id} ({} backup entries newly kept)",
            done.closed.kept.len()
        );
    } else {
        eprintln!("run-container: no container {user_id}; nothing to close");
    }
    Ok(())
}
