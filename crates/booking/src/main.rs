//! `booking`: reserve CPUs, memory and GPUs on this host. Thin glue: arguments in, one of
//! the library's flows, an exit code out.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use booking::interactive::{self, Say};
use booking::ops::LoginState;
use booking::{list, ops, Error, NEEDS_TTY};
use clap::{Parser, ValueEnum};
use hostinfo::schedule;
use hostinfo::Root;
use termcolor::{Ansi, ColorChoice, NoColor};

mod ssh;

const AFTER_HELP: &str = "\
Times: now (start only), N-day (1..14), N-week (1..2), combinations like `1-week 2-day`,
`YYYY MM DD hh mm` or `YYYY-MM-DD hh:mm`, minutes 00 or 30.
The original spellings -id, -use-opt, -ls and -rst work too.

Passwords: 4 to 128 bytes of printable characters. Five wrong passwords or codes in a row
lock the id out for 15 minutes (each later lock-out twice as long, up to a day).

Exit codes: 0 done (booked, or on the waitlist with --wait); 1 refused (a rule, a wrong
password or code, locked out, nothing to change); 2 error (bad input, files, usage);
130 interrupted (Ctrl-C or Esc): nothing booked (a sign-up, new password or new defaults
saved before it are kept, and the message says so).

User ids match allow_userIDs without regard to case, at the prompt and with --user-id alike;
the id is then used as the admin wrote it there.";

/// Book CPUs, memory and GPUs of this host in 30-minute slots, up to two weeks ahead.
/// Without flags it asks its questions at the terminal.
#[derive(Debug, Parser)]
#[command(version, after_help = AFTER_HELP)]
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
    /// Your user id (asked when not given); with --list-schedule, your group and limits are
    /// shown too.
    #[arg(long = "user-id", value_name = "ID")]
    user_id: Option<String>,
    /// Also ask for port, image, extra command and a password change.
    #[arg(long = "use-options")]
    use_options: bool,
    /// Show the booked and running schedule, who holds which GPU and what each group holds;
    /// no login.
    #[arg(long = "list-schedule")]
    list_schedule: bool,
    /// With --list-schedule: one JSON document instead of the table.
    #[arg(long, requires = "list_schedule")]
    json: bool,
    /// Ask the host to restart your running container.
    #[arg(long)]
    restart: bool,
    /// Cancel your booking that starts at START (not yet started).
    #[arg(long, value_name = "START")]
    cancel: Option<String>,
    /// Move the end of your running or future booking to WHEN.
    #[arg(long = "end-at", value_name = "WHEN")]
    end_at: Option<String>,
    /// With --end-at: which booking, by its start, when you have several.
    #[arg(long, value_name = "START", requires = "end_at")]
    which: Option<String>,
    /// With flags and --yes: when the host (or your group) is full, join the waitlist
    /// instead of being refused; you are booked as soon as it fits.
    #[arg(long)]
    wait: bool,
    /// With --wait: any start from --start up to WHEN will do; the earliest that fits is
    /// booked.
    #[arg(long = "latest-start", value_name = "WHEN", requires = "wait")]
    latest_start: Option<String>,
    /// List your waitlist entries.
    #[arg(long)]
    waitlist: bool,
    /// With --waitlist: take your entry N off the waitlist.
    #[arg(long = "cancel-entry", value_name = "N", requires = "waitlist")]
    cancel_entry: Option<u32>,
    /// CPUs to book (decimals allowed).
    #[arg(long)]
    cpus: Option<f64>,
    /// GB of memory to book.
    #[arg(long)]
    memory: Option<u32>,
    /// How many GPUs to book, a count like 1 (default 0); the host picks which ones.
    #[arg(long, value_name = "COUNT")]
    gpus: Option<u32>,
    /// Start of the booking.
    #[arg(long, value_name = "WHEN")]
    start: Option<String>,
    /// End of the booking.
    #[arg(long, value_name = "WHEN")]
    end: Option<String>,
    /// Forward port for this booking only.
    #[arg(long)]
    forward_port: Option<u16>,
    /// Image for this booking only.
    #[arg(long)]
    image: Option<String>,
    /// Command for this booking's container only.
    #[arg(long)]
    extra_command: Option<String>,
    /// On a cluster: the node to run on, or `any` (the default: the first node where the
    /// booking fits, else the earliest window on any node).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Set the address your notices are mailed to (when the lab sends e-mail); "" removes it.
    #[arg(long, value_name = "ADDRESS")]
    email: Option<String>,
    /// Read your password from standard input (its first line, at most 128 bytes); for a
    /// sign-up with a code, or after the admin reset your password, the code on the second.
    #[arg(long)]
    password_stdin: bool,
    /// Do it without asking: book with the flags, or cancel, end or restart.
    #[arg(long, short = 'y')]
    yes: bool,
    /// When to colour messages.
    #[arg(long, value_enum, default_value_t = When::Auto)]
    color: When,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum When {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    // The booking container's one way in (booking-shell): see ssh.rs.
    let args = match ssh::arguments(std::env::args_os()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("booking: error: {e}");
            return ExitCode::from(2);
        }
    };
    let cli = Cli::parse_from(booking::legacy::normalize(args));
    if cli.generate_man || cli.generate_completions.is_some() {
        use clap::CommandFactory;
        let mut out = std::io::stdout();
        let written = match cli.generate_completions {
            Some(shell) => {
                clap_complete::generate(shell, &mut Cli::command(), "booking", &mut out);
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
            match e.exit_code() {
                2 => eprintln!("booking: error: {e}"),
                _ => eprintln!("booking: {e}"),
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn color(when: When, terminal: bool) -> ColorChoice {
    match when {
        When::Always => ColorChoice::Always,
        When::Never => ColorChoice::Never,
        When::Auto if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) || !terminal => {
            ColorChoice::Never
        }
        When::Auto => ColorChoice::Auto,
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let root = Root::resolve(cli.root.clone())?;
    if cli.list_schedule {
        return print_listing(&root, &cli);
    }
    let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let say = Say::new(color(cli.color, std::io::stderr().is_terminal()));
    if !cli.yes && !tty {
        return Err(Error::Usage(NEEDS_TTY.into()));
    }
    let action = cli.restart
        || cli.cancel.is_some()
        || cli.end_at.is_some()
        || cli.waitlist
        || cli.email.is_some();
    let flags = cli.cpus.is_some()
        || cli.memory.is_some()
        || cli.gpus.is_some()
        || cli.start.is_some()
        || cli.end.is_some()
        || cli.node.is_some();
    if !action && !cli.yes {
        if flags {
            return Err(Error::Usage(
                "add --yes to book with flags, or leave the flags out to be asked".into(),
            ));
        }
        return interactive::run(&root, cli.user_id.clone(), cli.use_options, &say);
    }
    let id = match (&cli.user_id, tty && !cli.yes) {
        (Some(id), _) => id.clone(),
        (None, true) => interactive::user_id(None)?,
        (None, false) => return Err(Error::Usage("give --user-id".into())),
    };
    let config = root.load_config()?;
    let id = ops::resolve_user(&config, &id)?;
    // Bad input is refused before the password is read, so it never counts as a failure.
    ops::parse_node(&config, cli.node.as_deref())?;
    if let Some(why) = cli
        .extra_command
        .as_deref()
        .and_then(hostinfo::auth::extra_command_problem)
    {
        return Err(Error::Usage(format!("--extra-command {why}")));
    }
    if let Some(why) = cli
        .email
        .as_deref()
        .and_then(ops::typed_email)
        .and_then(|e| hostinfo::notify_config::email_problem(&e))
    {
        return Err(Error::Usage(format!("--email: the address {why}")));
    }
    let secrets = if cli.password_stdin {
        Some(booking::ask::read_secrets(std::io::stdin()).map_err(Error::Usage)?)
    } else if tty && !cli.yes {
        None
    } else {
        return Err(Error::Usage(
            "give --password-stdin to log in without a terminal".into(),
        ));
    };
    match secrets {
        Some(s) => match ops::login_state_in(&root, &config, &id)? {
            LoginState::Known => ops::authenticate_in(&root, &config, &id, &s.password)?,
            // One line is an old password, which the reset made void.
            LoginState::ResetPending if s.code.is_none() => {
                return Err(Error::ResetPending(id));
            }
            LoginState::ResetPending => {
                ops::sign_up(&root, &id, s.password, s.code.as_ref())?;
                say.line(&format!("The new password of {id} is set."));
            }
            LoginState::New { .. } if !action => {
                let done = ops::sign_up(&root, &id, s.password, s.code.as_ref())?;
                say.line(&format!(
                    "Signed up {id} with forward port {}.",
                    done.entry.forward_port
                ));
            }
            LoginState::New { .. } => {
                return Err(Error::Nothing(format!(
                    "`{id}` has not signed up; book once first"
                )))
            }
        },
        None => interactive::login(&root, &id, &say)?,
    }
    // Anything but a plain login wrote the users file (a sign-up, a new password): the
    // booking below reads it again.
    let config = if config.users.get(&id).is_some() {
        config
    } else {
        root.load_config()?
    };
    if let Some(start) = &cli.cancel {
        let row = ops::cancel(&root, &id, start)?;
        say.line(&format!("Cancelled: {}", booking::describe(&row)));
    } else if let Some(when) = &cli.end_at {
        let (old, new) = ops::end_at(&root, &id, cli.which.as_deref(), when)?;
        say.line(&format!(
            "The booking from {} now ends at {} (was {}).",
            schedule::format_time(old.start),
            schedule::format_time(new.end),
            schedule::format_time(old.end)
        ));
    } else if cli.restart {
        ops::restart(&root, &id)?;
        say.line("Your container will restart within seconds.");
    } else if cli.waitlist {
        show_or_leave_waitlist(&root, &id, cli.cancel_entry, &say)?;
    } else if let Some(typed) = &cli.email {
        let email = ops::typed_email(typed);
        let change = ops::UserChange {
            email: Some(email.clone()),
            ..Default::default()
        };
        ops::update_user(&root, &id, &change)?;
        say.line(&match email {
            Some(e) if ops::mails_notices(&root) => format!("Your notices are mailed to {e}."),
            Some(e) => format!("Saved {e}; this lab does not send e-mail (yet), so your notices stay in your container."),
            None => "Your notices are no longer mailed.".to_string(),
        });
    } else {
        book_with_flags(&root, &config, &cli, id, &say)?;
    }
    Ok(())
}

fn book_with_flags(
    root: &Root,
    config: &hostinfo::Config,
    cli: &Cli,
    id: String,
    say: &Say,
) -> Result<(), Error> {
    let missing: Vec<&str> = [
        ("--cpus", cli.cpus.is_none()),
        ("--memory", cli.memory.is_none()),
        ("--start", cli.start.is_none()),
        ("--end", cli.end.is_none()),
    ]
    .into_iter()
    .filter_map(|(f, m)| m.then_some(f))
    .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "booking with --yes needs {}",
            missing.join(", ")
        )));
    }
    let (request, latest) = ops::parse_typed(
        config,
        &ops::Typed {
            user_id: id,
            cpus: cli.cpus.unwrap_or_default(),
            memory: cli.memory.unwrap_or_default(),
            gpus: cli.gpus.unwrap_or(0),
            start: cli.start.as_deref().unwrap_or_default(),
            end: cli.end.as_deref().unwrap_or_default(),
            latest_start: cli.latest_start.as_deref(),
            wait: cli.wait,
            forward_port: cli.forward_port,
            image: cli.image.clone(),
            extra_command: cli.extra_command.clone(),
            node: cli.node.as_deref(),
        },
    )?;
    match ops::book_or_wait_in(root, config, &request, latest) {
        Ok(ops::Booked::Waiting(entry)) => {
            say.line(&booking::waitlist::joined_text(&entry));
            Ok(())
        }
        Ok(ops::Booked::Row(row)) => {
            say.green(booking::ask::SUCCESS);
            say.line(&booking::describe(&row));
            let mut line = Vec::new();
            schedule::append_rows_to(&mut line, std::slice::from_ref(&row));
            let _ = std::io::stdout().write_all(&line);
            Ok(())
        }
        Err(Error::Refused(r)) => {
            // The refusal itself, printed by main, names the earliest window that fits.
            if r.is_capacity() {
                say.red(booking::ask::NOT_ENOUGH);
            }
            Err(Error::Refused(r))
        }
        Err(e) => Err(e),
    }
}

/// `--waitlist`: the user's entries on stdout, or with `--cancel-entry N` that entry left.
fn show_or_leave_waitlist(
    root: &Root,
    id: &str,
    leave: Option<u32>,
    say: &Say,
) -> Result<(), Error> {
    if let Some(number) = leave {
        let entry = booking::waitlist::leave(root, id, number)?;
        say.line(&format!(
            "Left the waitlist: #{}: {}.",
            entry.id,
            checker::waitlist::describe(&entry)
        ));
        return Ok(());
    }
    let entries = booking::waitlist::entries_of(root, id)?;
    if entries.is_empty() {
        say.line("You have no waitlist entries.");
        return Ok(());
    }
    let written = std::io::stdout()
        .lock()
        .write_all(booking::waitlist::table(&entries).as_bytes());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Usage(format!("cannot write the waitlist: {e}")))
        }
        _ => Ok(()),
    }
}

fn print_listing(root: &Root, cli: &Cli) -> Result<(), Error> {
    let listing = list::load(root, cli.user_id.as_deref())?;
    // Built in memory and written with one call: a line at a time cost two write calls a
    // row (20,124 for 10,000 rows).
    let capacity = 128 * (listing.rows.len() + 16);
    let bytes = if cli.json {
        let mut out = Vec::with_capacity(2 * capacity);
        serde_json::to_writer(&mut out, &listing)
            .map_err(std::io::Error::from)
            .map(|()| {
                out.push(b'\n');
                out
            })
    } else if color(cli.color, std::io::stdout().is_terminal()) == ColorChoice::Never {
        let mut out = NoColor::new(Vec::with_capacity(capacity));
        list::write(&listing, &mut out).map(|()| out.into_inner())
    } else {
        let mut out = Ansi::new(Vec::with_capacity(capacity));
        list::write(&listing, &mut out).map(|()| out.into_inner())
    };
    // The process ends next: freeing 10,000 rows one by one would cost more than a tenth
    // of the listing's time.
    std::mem::forget(listing);
    let written = bytes.and_then(|bytes| {
        let mut out = std::io::stdout().lock();
        out.write_all(&bytes).and_then(|()| out.flush())
    });
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Usage(format!("cannot write the schedule: {e}")))
        }
        _ => Ok(()),
    }
}
