//! `monitor`: one tick (systemd runs it every :00 and :30, and when jobs/monitor_exec
//! changes), or with `--deliver` one delivery of the notices (every 5 minutes, and when
//! jobs/notices.csv changes), or with `--sample` one usage sampling (every 5 minutes). Exit codes: 0 the tick did its work (warnings included), 2 a
//! fatal error.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hostinfo::Root;

/// How many ticks one run makes at most while requests keep arriving.
const MAX_ROUNDS: usize = 5;

/// Start and stop the containers of AIVC bookings: one tick, then another while requests
/// arrived during it.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 the tick (or --deliver, --sample) did its work (warnings and channels that failed included); 2 a fatal error."
)]
struct Cli {
    /// The installation's root folder (holds cfg/ and jobs/).
    #[arg(long, env = "AIVC_ROOT", value_name = "DIR")]
    root: Option<PathBuf>,
    /// Print the man page (roff) and exit; setup.sh installs it.
    #[arg(long, hide = true)]
    generate_man: bool,
    /// Print completions for SHELL and exit; setup.sh installs them.
    #[arg(long, hide = true, value_name = "SHELL")]
    generate_completions: Option<clap_complete::Shell>,
    /// Show what a tick would do; change nothing.
    #[arg(long, conflicts_with_all = ["deliver", "sample"])]
    dry_run: bool,
    /// Deliver the pending notices (jobs/notices.csv) and exit, without a tick
    /// (aivc-notices.path and aivc-notices.timer run this).
    #[arg(long, conflicts_with = "sample")]
    deliver: bool,
    /// Sample the GPUs and the running bookings' containers into jobs/usage/ and exit,
    /// without a tick (aivc-usage.timer runs this every 5 minutes).
    #[arg(long)]
    sample: bool,
    /// Cluster mode: check that slurm.conf (SLURM_CONF, else /etc/slurm/slurm.conf) gives
    /// each node of cfg/cluster.yaml its GPU license; one line per mismatch, exit 2
    /// (`scripts/setup.sh --slurm` runs it).
    #[arg(long, conflicts_with_all = ["dry_run", "deliver", "sample"])]
    check_cluster: bool,
    /// Tell the admins that a tick failed, then deliver (aivc-monitor-failed.service runs
    /// this when aivc-monitor.service fails).
    #[arg(long, conflicts_with_all = ["dry_run", "deliver", "sample"])]
    tick_failed: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.generate_man || cli.generate_completions.is_some() {
        use clap::CommandFactory;
        let mut out = std::io::stdout();
        let written = match cli.generate_completions {
            Some(shell) => {
                clap_complete::generate(shell, &mut Cli::command(), "monitor", &mut out);
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
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("monitor: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<(), monitor::Error> {
    let root = Root::resolve(cli.root.clone())?;
    if cli.tick_failed {
        // Run by aivc-monitor-failed.service (OnFailure= of the tick's unit): the failing
        // tick itself changes no file, so the admins' notice is posted from here.
        // The configuration may be what failed: then the host's own clock.
        let now = root
            .load_config()
            .ok()
            .and_then(|c| c.clock().ok())
            .map_or_else(|| chrono::Local::now().naive_local(), |c| c.now());
        root.notify(&[monitor::events::tick_failed(now)]);
        notices::deliver_to_admins(&root, now)?;
        return Ok(());
    }
    if cli.check_cluster {
        return check_cluster(&root);
    }
    if cli.sample {
        let now = root.load_config()?.clock()?.now();
        let report = usage::sample(&root, now)?;
        // Idle reclaim (issue 16) reads the samples just taken: next.
        monitor::idle::check(&root, now)?;
        let _ = report;
        // The metrics carry the newest samples: the textfile follows each sampling.
        if let Some(line) = monitor::export::write_metrics(&root, now) {
            eprintln!("{line}");
            root.append_log(&line)?;
        }
        return Ok(());
    }
    if cli.deliver {
        let now = root.load_config()?.clock()?.now();
        monitor::events::post_reminders(&root, now)?;
        let report = notices::deliver(&root, now)?;
        // journald keeps this line (the failures are in monitor.log as well).
        if report.delivered + report.gave_up > 0 || !report.failing.is_empty() {
            eprintln!(
                "monitor: notices: {} delivered, {} given up, {} pending",
                report.delivered, report.gave_up, report.pending
            );
        }
        return Ok(());
    }
    if cli.dry_run {
        let (report, lines) = monitor::tick::tick(&root, true)?;
        println!("{}", monitor::tick::describe(&report));
        for command in &report.would_run {
            println!("would run: {command}");
        }
        for line in lines {
            println!("would log: {line}");
        }
        return Ok(());
    }
    for _ in 0..MAX_ROUNDS {
        monitor::tick::tick(&root, false)?;
        // A request written during the tick (the path unit may have fired then) gets a tick
        // now rather than waiting for the timer.
        let lock = root.lock_shared()?;
        let pending = root.read_requests(&lock)?;
        if pending.is_empty() {
            break;
        }
    }
    Ok(())
}

/// `--check-cluster`: slurm.conf's licenses against cfg/cluster.yaml.
fn check_cluster(root: &Root) -> Result<(), monitor::Error> {
    let config = root.load_config()?;
    let Some(cluster) = &config.cluster else {
        eprintln!(
            "monitor: error: {} does not exist: this installation is a single host",
            root.cluster_config_path().display()
        );
        std::process::exit(2);
    };
    let path = std::env::var_os("SLURM_CONF")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from("/etc/slurm/slurm.conf"), PathBuf::from);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("monitor: error: {}: {e}", path.display());
            std::process::exit(2);
        }
    };
    let found = cluster::check::mismatches(cluster, &path.display().to_string(), &text);
    let cgroup = std::fs::read_to_string(path.with_file_name("cgroup.conf")).ok();
    for missing in cluster::check::device_isolation_missing(&text, cgroup.as_deref()) {
        eprintln!(
            "monitor: warning: without {missing}, a job outside the bookings can open a booked GPU's device (docs/cluster.md, Limits)"
        );
    }
    if found.is_empty() {
        println!(
            "{}: the licenses of all {} nodes match cfg/cluster.yaml",
            path.display(),
            cluster.nodes.len()
        );
        return Ok(());
    }
    for line in found {
        eprintln!("monitor: error: {line}");
    }
    std::process::exit(2);
}
