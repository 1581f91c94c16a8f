//! The `run-container` binary the monitor spawns to start and close containers, bounded in
//! time like every docker call (those go through `docker_client`). No shell anywhere.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hostinfo::schedule::{format_time, Row};
use wait_timeout::ChildExt;

/// How long one `run-container` may take. A start imports at most 10 minutes of entries
/// and runs one bounded `docker run`; a close is an `inspect`, a `stop` (60 s), at most
/// 5 minutes of keeping entries all together, and an `rm` (120 s). This catches anything
/// past those and would otherwise hold up every tick; when it fires, the copy-out's
/// `docker cp` ends too, as its output pipe closes.
pub const RUN_CONTAINER_TIME: Duration = Duration::from_secs(15 * 60);

/// The `run-container` binary: `AIVC_RUN_CONTAINER`, else the one next to `monitor`.
#[derive(Debug, Clone)]
pub struct RunContainer {
    program: PathBuf,
    root: PathBuf,
    timeout: Duration,
}

impl RunContainer {
    pub fn locate(root: &Path) -> Self {
        let program = std::env::var_os("AIVC_RUN_CONTAINER")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::current_exe()
                    .ok()
                    .and_then(|p| p.parent().map(|d| d.join("run-container")))
            })
            .unwrap_or_else(|| PathBuf::from("run-container"));
        RunContainer {
            program,
            root: root.to_path_buf(),
            timeout: RUN_CONTAINER_TIME,
        }
    }

    /// The same runner with another time limit.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        RunContainer { timeout, ..self }
    }

    /// Runs `run-container --root ROOT args…`; its failure is the last line it printed.
    fn run(&self, args: &[String]) -> Result<(), String> {
        self.run_with(args, false).map(drop)
    }

    /// [`Self::run`], returning what it printed on stdout when `stdout` is set.
    fn run_with(&self, args: &[String], stdout: bool) -> Result<Vec<u8>, String> {
        let mut child = Command::new(&self.program)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(if stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        // Read both pipes while waiting, so a chatty child cannot fill one and stall.
        let read = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out = read(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let drain = read(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let status = match child.wait_timeout(self.timeout) {
            Ok(Some(status)) => status,
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "run-container did not finish within {} s and was stopped",
                    self.timeout.as_secs()
                ));
            }
        };
        if status.success() {
            return Ok(out.join().unwrap_or_default());
        }
        let err = String::from_utf8_lossy(&drain.join().unwrap_or_default()).into_owned();
        let line = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed without a message");
        Err(line
            .trim_start_matches("run-container: error: ")
            .to_string())
    }

    /// Starts the container of booking `row`.
    pub fn start(&self, row: &Row) -> Result<(), String> {
        self.run(&Self::start_args(row))
    }

    /// The `docker run` line that [`Self::start`] would run for `row`, as run-container's
    /// own `--dry-run` prints it (shell-quoted; the password is never on it).
    pub fn start_dry_run(&self, row: &Row) -> Result<String, String> {
        let mut args = Self::start_args(row);
        args.push("--dry-run".into());
        let out = self.run_with(&args, true)?;
        Ok(String::from_utf8_lossy(&out).trim_end().to_string())
    }

    /// The command line [`Self::close`] runs for `user` (run-container has no dry run of a
    /// close: it stops the container, keeps its backup entries, and removes it).
    pub fn close_line(&self, user: &str) -> String {
        let program = self.program.to_string_lossy();
        let root = self.root.to_string_lossy();
        [
            program.as_ref(),
            "--root",
            root.as_ref(),
            "close",
            &format!("--user-id={user}"),
        ]
        .map(shell_word)
        .join(" ")
    }

    fn start_args(row: &Row) -> Vec<String> {
        let mut args = vec![
            "--user-id".to_string(),
            row.user_id.clone(),
            "--start".into(),
            format_time(row.start),
            "--end".into(),
            format_time(row.end),
            "--cpus".into(),
            row.cpus.to_string(),
            "--memory".into(),
            row.memory.to_string(),
            "--forward-port".into(),
            row.forward_port.to_string(),
        ];
        if !row.gpus.is_empty() {
            let ids: Vec<String> = row.gpus.ids().iter().map(u32::to_string).collect();
            args.push("--gpu-ids".into());
            args.push(ids.join(","));
        }
        if let Some(image) = &row.image {
            args.push("--image".into());
            args.push(image.clone());
        }
        if let Some(command) = &row.extra_command {
            args.push(format!("--extra-command={command}"));
        }
        args
    }

    /// Closes `user`'s container (stop, keep the backup entries, remove; gone counts as
    /// done). run-container itself refuses a container that is not this installation's.
    pub fn close(&self, user: &str) -> Result<(), String> {
        self.run(&["close".into(), format!("--user-id={user}")])
    }
}

/// `word` as one shell word, for a line shown to a person.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@%+".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Held by each test from writing its script until its child has run: a script being
    /// written while another test forks can fail to run with "text file busy".
    static SCRIPTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn runner(dir: &Path, body: &str, timeout: Duration) -> RunContainer {
        use std::os::unix::fs::PermissionsExt;
        let program = dir.join("run-container");
        std::fs::write(&program, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        RunContainer {
            program,
            root: dir.to_path_buf(),
            timeout,
        }
    }

    #[test]
    fn a_run_container_that_hangs_is_stopped_and_reported() {
        let _one_at_a_time = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let r = runner(dir.path(), "exec sleep 30\n", Duration::from_secs(1));
        let began = std::time::Instant::now();
        let e = r.close("u1").unwrap_err();
        assert!(began.elapsed() < Duration::from_secs(10));
        assert_eq!(e, "run-container did not finish within 1 s and was stopped");
    }

    #[test]
    fn a_failure_is_reported_by_its_last_line() {
        let _one_at_a_time = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let r = runner(
            dir.path(),
            "echo noise >&2\necho 'run-container: error: docker: the port is taken' >&2\nexit 125\n",
            RUN_CONTAINER_TIME,
        );
        assert_eq!(r.close("u1").unwrap_err(), "docker: the port is taken");
    }
}
