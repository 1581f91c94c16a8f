//! The monitor's own Docker calls — listing the containers it labelled and restarting one —
//! and the `run-container` binary it spawns to start and close them. No shell anywhere.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::NaiveDateTime;
use hostinfo::schedule::{format_time, parse_time, Row};

/// A container carrying our `aivc.user` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The full id (`--no-trunc`).
    pub id: String,
    pub name: String,
    pub running: bool,
    pub user: String,
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
    /// Started by a maintainer without a booking: never stopped by the reconcile.
    pub manual: bool,
}

impl Container {
    /// Whether this is the container of the booking `row`.
    pub fn serves(&self, row: &Row) -> bool {
        self.user == row.user_id && self.start == Some(row.start)
    }
}

/// `docker` or `AIVC_DOCKER`.
#[derive(Debug, Clone)]
pub struct Docker {
    program: OsString,
}

const FORMAT: &str = "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Label \"aivc.user\"}}\t{{.Label \"aivc.start\"}}\t{{.Label \"aivc.end\"}}\t{{.Label \"aivc.manual\"}}";

impl Docker {
    pub fn from_env() -> Self {
        Docker {
            program: std::env::var_os("AIVC_DOCKER")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "docker".into()),
        }
    }

    fn run(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.program)
            .args(args)
            .stdin(Stdio::null())
            .env_remove("PASSWORD")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.program.to_string_lossy()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(err
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("docker failed")
                .trim()
                .to_string())
        }
    }

    /// Every container with an `aivc.user` label; unlabelled ones are never seen.
    pub fn list(&self) -> Result<Vec<Container>, String> {
        let text = self.run(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            "label=aivc.user",
            "--format",
            FORMAT,
        ])?;
        Ok(parse_list(&text))
    }

    pub fn restart(&self, name: &str) -> Result<(), String> {
        self.run(&["restart", "-t", "30", name]).map(|_| ())
    }
}

/// Parses the `docker ps` lines of [`FORMAT`].
pub fn parse_list(text: &str) -> Vec<Container> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [id, name, state, user, start, end, manual] = f.as_slice() else {
                return None;
            };
            if user.is_empty() {
                return None;
            }
            Some(Container {
                id: id.to_string(),
                name: name.to_string(),
                running: *state == "running" || *state == "restarting",
                user: user.to_string(),
                start: parse_time(start).ok(),
                end: parse_time(end).ok(),
                manual: *manual == "true",
            })
        })
        .collect()
}

/// The `run-container` binary: `AIVC_RUN_CONTAINER`, else the one next to `monitor`.
#[derive(Debug, Clone)]
pub struct RunContainer {
    program: PathBuf,
    root: PathBuf,
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
        }
    }

    fn run(&self, args: &[String]) -> Result<(), String> {
        let out = Command::new(&self.program)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
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
            args.push("--gpus".into());
            args.push(ids.join(","));
        }
        if let Some(image) = &row.image {
            args.push("--image".into());
            args.push(image.clone());
        }
        if let Some(command) = &row.extra_command {
            args.push(format!("--extra-command={command}"));
        }
        self.run(&args)
    }

    /// Closes `user`'s container (copy out, stop, remove; gone counts as done).
    pub fn close(&self, user: &str) -> Result<(), String> {
        self.run(&["close".into(), format!("--user-id={user}")])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ps_lines_and_skips_unlabelled_ones() {
        let text = "a1\tu1\trunning\tu1\t2026-11-23 09:00:00\t2026-11-23 11:00:00\t\n\
                    b2\tu2\texited\tu2\t\t\ttrue\n\
                    c3\tother\trunning\t\t\t\t\n";
        let list = parse_list(text);
        assert_eq!(list.len(), 2);
        assert!(list[0].running && !list[0].manual);
        assert_eq!(
            list[0].start.map(format_time).as_deref(),
            Some("2026-11-23 09:00:00")
        );
        assert!(!list[1].running && list[1].manual && list[1].start.is_none());
    }
}
