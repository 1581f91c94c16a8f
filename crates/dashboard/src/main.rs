//! `dashboard`: serves the lab's read-only web pages, JSON API and Prometheus metrics
//! (docs/dashboard.md). Exit codes: 0 stopped by a signal; 2 it could not start.
#![allow(clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use hostinfo::Root;

/// The lab's read-only dashboard: timeline, now, waitlist, problems, usage, a JSON API and
/// Prometheus metrics. It writes nothing.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 stopped by SIGTERM or SIGINT; 2 it could not start (a bad root, an address in use)."
)]
struct Cli {
    /// The installation's root folder (holds cfg/ and jobs/).
    #[arg(long, env = "AIVC_ROOT", value_name = "DIR")]
    root: Option<PathBuf>,
    /// The address and port to listen on; loopback unless the admin puts a reverse proxy
    /// in front (docs/dashboard.md).
    #[arg(long, value_name = "ADDR:PORT", default_value = dashboard::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Print the man page (roff) and exit; setup.sh installs it.
    #[arg(long, hide = true)]
    generate_man: bool,
    /// Print completions for SHELL and exit; setup.sh installs them.
    #[arg(long, hide = true, value_name = "SHELL")]
    generate_completions: Option<clap_complete::Shell>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.generate_man || cli.generate_completions.is_some() {
        use clap::CommandFactory;
        let mut out = std::io::stdout();
        let written = match cli.generate_completions {
            Some(shell) => {
                clap_complete::generate(shell, &mut Cli::command(), "dashboard", &mut out);
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
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dashboard: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let root = Root::resolve(cli.root).map_err(|e| e.to_string())?;
    // The configuration must read before the port opens: a typo is an error at start.
    root.load_config().map_err(|e| e.to_string())?;
    let app = Arc::new(dashboard::App::new(root).map_err(|e| e.to_string())?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cli.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
        eprintln!("dashboard: listening on http://{}", cli.listen);
        dashboard::serve::serve(listener, dashboard::router(app), stopped())
            .await
            .map_err(|e| format!("serving failed: {e}"))
    })
}

/// SIGTERM (systemd) or SIGINT (a terminal).
async fn stopped() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
