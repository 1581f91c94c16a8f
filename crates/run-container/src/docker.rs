//! Running `docker` (or `AIVC_DOCKER`) without a shell, turning its failures into one clear
//! line with its exit code, and the close path the monitor uses: copy out what the backup
//! folder lacks, stop, remove — where "no such container" counts as done.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hostinfo::config::{BackupSpec, Secret};

use crate::backup::{check_relative, resolves_inside, Refused};
use crate::Error;

/// The docker client to call.
#[derive(Debug, Clone)]
pub struct Docker {
    program: OsString,
}

impl Docker {
    /// `AIVC_DOCKER` when set (tests point it at a recorder), else `docker`.
    pub fn from_env() -> Self {
        Docker {
            program: std::env::var_os("AIVC_DOCKER")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "docker".into()),
        }
    }

    pub fn program(&self) -> &OsString {
        &self.program
    }

    fn output(&self, args: &[&str], password: Option<&Secret>) -> Result<Output, Error> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args).stdin(Stdio::null());
        // Only for `docker run`: `-e PASSWORD` reads it from here, not from argv.
        match password {
            Some(p) => cmd.env("PASSWORD", p.expose()),
            None => cmd.env_remove("PASSWORD"),
        };
        cmd.output().map_err(|source| Error::Spawn {
            program: self.program.to_string_lossy().into_owned(),
            source,
        })
    }

    /// Runs `docker run ...`; on success, the new container's id.
    pub fn run(&self, args: &[String], password: &Secret) -> Result<String, Error> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.output(&args, Some(password))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(failure(&out))
        }
    }

    /// The `aivc.user` label of container `name`: `None` when there is no such container,
    /// `Some("")` when it has no such label.
    pub fn user_label(&self, name: &str) -> Result<Option<String>, Error> {
        let out = self.output(
            &[
                "inspect",
                "--type",
                "container",
                "--format",
                "{{index .Config.Labels \"aivc.user\"}}",
                name,
            ],
            None,
        )?;
        if out.status.success() {
            return Ok(Some(
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            ));
        }
        if no_such_container(&out) {
            return Ok(None);
        }
        Err(failure(&out))
    }

    /// Closes `user_id`'s container: copies each backup entry the backup folder lacks out
    /// of the container, then `stop -t 30` and `rm`. Closing what is gone succeeds.
    pub fn close(
        &self,
        user_id: &str,
        backup: Option<(&Path, &BackupSpec)>,
    ) -> Result<Closed, Error> {
        let mut closed = Closed::default();
        match self.user_label(user_id)? {
            None => return Ok(closed),
            Some(label) if label != user_id => return Err(Error::NotOurs(user_id.to_string())),
            Some(_) => closed.existed = true,
        }
        if let Some((dir, spec)) = backup {
            self.copy_out(user_id, dir, spec, &mut closed);
        }
        for args in [&["stop", "-t", "30", user_id][..], &["rm", user_id][..]] {
            let out = self.output(args, None)?;
            if !out.status.success() && !no_such_container(&out) {
                return Err(failure(&out));
            }
        }
        Ok(closed)
    }

    fn copy_out(&self, user_id: &str, dir: &Path, spec: &BackupSpec, closed: &mut Closed) {
        let Ok(dir) = dir.canonicalize() else {
            return;
        };
        for (rel, container) in spec.dirs.iter().chain(&spec.files) {
            let entry = format!("{} -> {}", rel.display(), container.display());
            if let Err(why) = check_relative(rel) {
                closed.refused.push(Refused { entry, why });
                continue;
            }
            let host = dir.join(rel);
            if host.symlink_metadata().is_ok() {
                continue;
            }
            // The parent may be a link the user planted through /root/Backup: resolve it
            // before docker writes anything there.
            let parent = host.parent().unwrap_or(&dir).to_path_buf();
            let safe = std::fs::create_dir_all(&parent)
                .map_err(|e| e.to_string())
                .and_then(|()| resolves_inside(&parent, &dir));
            let target = match safe {
                Ok(real_parent) => real_parent.join(host.file_name().unwrap_or_default()),
                Err(why) => {
                    closed.refused.push(Refused { entry, why });
                    continue;
                }
            };
            let source = format!("{user_id}:{}", container.display());
            let target_text = target.to_string_lossy().into_owned();
            match self.output(&["cp", &source, &target_text], None) {
                Ok(out) if out.status.success() => closed.copied.push(target),
                // Nothing at that path in the container: nothing to keep.
                Ok(_) | Err(_) => closed.not_in_container.push(container.clone()),
            }
        }
    }
}

/// What a close did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Closed {
    /// Whether there was a container to close.
    pub existed: bool,
    /// Backup paths copied out of the container.
    pub copied: Vec<PathBuf>,
    /// Container paths that were not there to copy.
    pub not_in_container: Vec<PathBuf>,
    pub refused: Vec<Refused>,
}

fn no_such_container(out: &Output) -> bool {
    String::from_utf8_lossy(&out.stderr)
        .to_ascii_lowercase()
        .contains("no such container")
}

/// One clear line for docker's failure, with its exit code.
fn failure(out: &Output) -> Error {
    let stderr = String::from_utf8_lossy(&out.stderr);
    Error::Docker {
        code: out.status.code().unwrap_or(125),
        message: explain(&stderr),
    }
}

/// Docker's error text, as one line a student or an admin can act on.
pub fn explain(stderr: &str) -> String {
    let lower = stderr.to_ascii_lowercase();
    let first = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("warning"))
        .unwrap_or("docker failed without a message")
        .trim_start_matches("docker: ")
        .to_string();
    if lower.contains("could not select device driver") {
        "this host has no NVIDIA container runtime; book without GPUs or install nvidia-container-toolkit".into()
    } else if lower.contains("unable to find image")
        || lower.contains("pull access denied")
        || lower.contains("no such image")
    {
        format!("the image is not on this host (nothing can be pulled); ask the admin to build or load it ({first})")
    } else if lower.contains("is already in use by container") {
        format!("a container with this name already exists; close it first ({first})")
    } else if lower.contains("port is already allocated")
        || lower.contains("address already in use")
    {
        format!("the forward port is already taken on the host ({first})")
    } else if lower.contains("cannot connect to the docker daemon")
        || lower.contains("is the docker daemon running")
    {
        "the Docker daemon does not answer; is docker running?".into()
    } else {
        first
    }
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn docker_errors_become_one_actionable_line() {
        let gpu = "docker: Error response from daemon: could not select device driver \"\" with capabilities: [[gpu]].\n";
        assert!(explain(gpu).starts_with("this host has no NVIDIA container runtime"));
        let image = "Unable to find image 'x:latest' locally\ndocker: Error response from daemon: pull access denied for x\n";
        assert!(explain(image).starts_with("the image is not on this host"));
        let name = "docker: Error response from daemon: Conflict. The container name \"/u1\" is already in use by container \"abc\".\n";
        assert!(explain(name).starts_with("a container with this name already exists"));
        let port = "docker: Error response from daemon: driver failed ...: Bind for 0.0.0.0:10001 failed: port is already allocated.\n";
        assert!(explain(port).starts_with("the forward port is already taken"));
        let daemon = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n";
        assert_eq!(
            explain(daemon),
            "the Docker daemon does not answer; is docker running?"
        );
        assert_eq!(explain("WARNING: x\nsomething else\n"), "something else");
        assert_eq!(explain("").lines().count(), 1);
    }
}
