//! docker-client: the one place that runs the Docker client — `AIVC_DOCKER` or `docker`,
//! never through a shell, every call bounded in time — and the labels by which an
//! installation knows its own containers from everyone else's on a shared engine.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use hostinfo::config::Secret;
use hostinfo::schedule::{parse_time, Row};
use wait_timeout::ChildExt;

/// The labels every container we start carries.
pub mod label {
    pub const USER: &str = "aivc.user";
    pub const INSTALLATION: &str = "aivc.installation";
    pub const START: &str = "aivc.start";
    pub const END: &str = "aivc.end";
    pub const MANUAL: &str = "aivc.manual";
}

/// How long each kind of call may take before the client is killed.
pub mod limit {
    use std::time::Duration;
    /// `ps`, `inspect`: the daemon answers these at once when it is healthy.
    pub const QUERY: Duration = Duration::from_secs(30);
    /// `run -d`, `rm`, `create`: local images only, nothing is pulled.
    pub const CHANGE: Duration = Duration::from_secs(120);
    /// Seconds a container gets to stop before it is killed (`stop -t`, `restart -t`).
    pub const GRACE_SECS: u64 = 10;
    /// `stop` and `restart`: the grace period and then the kill.
    pub const STOP: Duration = Duration::from_secs(GRACE_SECS + 50);
    /// `cp` of one kept entry out of a stopped container.
    pub const COPY: Duration = Duration::from_secs(600);
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`docker {what}` did not finish within {} s and was stopped", after.as_secs())]
    TimedOut { what: String, after: Duration },
    #[error("docker: {message}")]
    Failed { code: i32, message: String },
}

impl Error {
    /// Docker's own exit code where it failed, else 125 (docker's "the client failed").
    pub fn code(&self) -> i32 {
        match self {
            Error::Failed { code, .. } => *code,
            _ => 125,
        }
    }
    /// Whether `docker cp` found nothing at the path in the container.
    pub fn is_no_such_path(&self) -> bool {
        matches!(self, Error::Failed { message, .. } if {
            let m = message.to_ascii_lowercase();
            m.contains("could not find the file") || m.contains("no such file or directory")
        })
    }

    pub fn is_no_such_container(&self) -> bool {
        matches!(self, Error::Failed { message, .. } if message.to_ascii_lowercase().contains("no such container"))
    }
}

/// What a finished call printed.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: String,
}

/// The docker client to call.
#[derive(Debug, Clone)]
pub struct Client {
    program: OsString,
}

impl Client {
    /// `AIVC_DOCKER` when set (tests point it at a recorder), else `docker`.
    pub fn from_env() -> Self {
        Client {
            program: std::env::var_os("AIVC_DOCKER")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "docker".into()),
        }
    }

    /// A client that runs `program` (tests use a script).
    pub fn new(program: impl Into<OsString>) -> Self {
        Client {
            program: program.into(),
        }
    }

    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// Runs `docker args…` with no standard input, killing it after `timeout`. Only
    /// `docker run` passes a password: `-e PASSWORD` reads it from the client's environment.
    pub fn call(
        &self,
        args: &[&str],
        password: Option<&Secret>,
        timeout: Duration,
    ) -> Result<Output, Error> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match password {
            Some(p) => cmd.env("PASSWORD", p.expose()),
            None => cmd.env_remove("PASSWORD"),
        };
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            program: self.program.to_string_lossy().into_owned(),
            source,
        })?;
        // Read both pipes while waiting, so a long listing cannot fill a pipe and stall.
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
        let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
        let status = match child.wait_timeout(timeout) {
            Ok(Some(status)) => status,
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::TimedOut {
                    what: args.first().copied().unwrap_or("").to_string(),
                    after: timeout,
                });
            }
        };
        let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
        let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
        if status.success() {
            Ok(Output { stdout })
        } else {
            Err(Error::Failed {
                code: status.code().unwrap_or(125),
                message: explain(&stderr),
            })
        }
    }

    /// Every container with an `aivc.user` label, of any installation; [`Container::owner`]
    /// tells which of them are ours.
    pub fn list(&self) -> Result<Vec<Container>, Error> {
        let out = self.call(
            &[
                "ps",
                "-a",
                "--no-trunc",
                "--filter",
                &format!("label={}", label::USER),
                "--format",
                LIST_FORMAT,
            ],
            None,
            limit::QUERY,
        )?;
        // The filter already does this on a real engine; a stand-in client may not filter.
        let mut list = parse_list(&out.stdout);
        list.retain(|c| !c.user.is_empty());
        Ok(list)
    }

    /// Every container with an `aivc.user` label and whose it is, for the installation
    /// `installation` whose `using.csv` rows are `using`, and the containers the Python
    /// version started for those rows. `docker ps` does not show port bindings, so each
    /// container without an installation label that could be a pre-label one of ours (its
    /// user label is its name, and `using` has a row of that user) is inspected by id for
    /// its ssh port. The Python version labelled nothing, so `ps --filter label=` cannot
    /// see its containers: each user with a `using` row whom no labelled container is
    /// named after is looked up by name (`docker inspect <id>`). No other container costs
    /// a call, and once every running booking has a labelled container, none does.
    pub fn list_owned(
        &self,
        installation: &str,
        using: &[Row],
    ) -> Result<Vec<(Container, Owner)>, Error> {
        let listed = self.list()?;
        let mut unseen: Vec<&str> = Vec::new();
        for r in using {
            let id = r.user_id.as_str();
            if !unseen.contains(&id) && !listed.iter().any(|c| c.name == id) {
                unseen.push(id);
            }
        }
        let ids: Vec<String> = listed.iter().map(|c| c.id.clone()).collect();
        let mut owned = Vec::new();
        for c in listed {
            let candidate = c.may_be_adopted() && using.iter().any(|r| r.user_id == c.name);
            let c = if candidate {
                match self.inspect(&c.id)? {
                    Some(full) => full,
                    // Removed between the two calls.
                    None => continue,
                }
            } else {
                c
            };
            let owner = c.owner(installation, using);
            owned.push((c, owner));
        }
        for name in unseen {
            let Some(c) = self.inspect(name)? else {
                continue;
            };
            // `inspect` also answers to an id prefix, and a labelled container may have
            // appeared since `ps`: only a container of exactly this name, not listed.
            if c.name != name || ids.contains(&c.id) {
                continue;
            }
            let owner = c.owner(installation, using);
            owned.push((c.attributed(owner, using), owner));
        }
        Ok(owned)
    }

    /// One container by name or id, with the host port its ssh is published on; `None`
    /// when there is no such container.
    pub fn inspect(&self, name: &str) -> Result<Option<Container>, Error> {
        match self.call(
            &[
                "inspect",
                "--type",
                "container",
                "--format",
                DETAIL_FORMAT,
                name,
            ],
            None,
            limit::QUERY,
        ) {
            Ok(out) => Ok(parse_list(&out.stdout).into_iter().next().or_else(|| {
                Some(Container {
                    name: name.to_string(),
                    ..Container::default()
                })
            })),
            Err(e) if e.is_no_such_container() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `docker stop -t GRACE name`; a missing container counts as stopped.
    pub fn stop(&self, name: &str) -> Result<(), Error> {
        let grace = limit::GRACE_SECS.to_string();
        gone_is_done(self.call(&["stop", "-t", &grace, name], None, limit::STOP))
    }

    /// `docker rm -f name`; a missing container counts as removed. Callers check that
    /// the container is theirs first.
    pub fn remove(&self, name: &str) -> Result<(), Error> {
        gone_is_done(self.call(&["rm", "-f", name], None, limit::CHANGE))
    }

    pub fn restart(&self, name: &str) -> Result<(), Error> {
        let grace = limit::GRACE_SECS.to_string();
        self.call(&["restart", "-t", &grace, name], None, limit::STOP)
            .map(|_| ())
    }

    /// The bind mounts of container `id`: (host source, path in the container).
    pub fn bind_mounts(&self, id: &str) -> Result<Vec<(String, String)>, Error> {
        let out = self.call(
            &[
                "inspect",
                "--type",
                "container",
                "--format",
                "{{range .Mounts}}{{if eq .Type \"bind\"}}{{.Source}}\t{{.Destination}}\n{{end}}{{end}}",
                id,
            ],
            None,
            limit::QUERY,
        )?;
        Ok(out
            .stdout
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(s, d)| (s.to_string(), d.to_string()))
            .collect())
    }

    /// Streams `docker cp <id>:<path> -` (a tar archive) into `read`, which may stop early
    /// (the client then fails writing and exits). The client is killed once `limit` has
    /// passed, which ends the stream. Returns what `read` returned and how docker ended.
    pub fn copy_from<R>(
        &self,
        id: &str,
        path: &str,
        limit: Duration,
        read: impl FnOnce(&mut dyn Read) -> R,
    ) -> Result<(R, Result<(), Error>), Error> {
        let source = format!("{id}:{path}");
        let mut child = Command::new(&self.program)
            .args(["cp", &source, "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("PASSWORD")
            .spawn()
            .map_err(|source| Error::Spawn {
                program: self.program.to_string_lossy().into_owned(),
                source,
            })?;
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let err = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = stderr.as_mut() {
                let _ = p.take(64 * 1024).read_to_end(&mut buf);
            }
            buf
        });
        // The child is waited on (and killed at the limit) beside the reading, so a stream
        // that stalls cannot hold the caller past the limit.
        let watch = std::thread::spawn(move || match child.wait_timeout(limit) {
            Ok(Some(status)) => (Some(status), false),
            _ => {
                let _ = child.kill();
                (child.wait().ok(), true)
            }
        });
        let result = match stdout.as_mut() {
            Some(out) => read(out),
            None => read(&mut std::io::empty()),
        };
        // A reader may stop at the end of what it needs (a tar reader stops at the first
        // zero block of the trailer) while docker still has a block to write: take what
        // is left, within a bound, so a complete copy does not end in a broken pipe.
        if let Some(out) = stdout.as_mut() {
            let _ = std::io::copy(&mut out.take(1 << 20), &mut std::io::sink());
        }
        drop(stdout);
        let (status, timed_out) = watch.join().unwrap_or((None, true));
        let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
        let ended = if timed_out {
            Err(Error::TimedOut {
                what: "cp".into(),
                after: limit,
            })
        } else if status.is_some_and(|s| s.success()) {
            Ok(())
        } else {
            Err(Error::Failed {
                code: status.and_then(|s| s.code()).unwrap_or(125),
                message: explain(&stderr),
            })
        };
        Ok((result, ended))
    }
}

fn gone_is_done(r: Result<Output, Error>) -> Result<(), Error> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_no_such_container() => Ok(()),
        Err(e) => Err(e),
    }
}

const LIST_FORMAT: &str = "{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Label \"aivc.user\"}}\t{{.Label \"aivc.installation\"}}\t{{.Label \"aivc.start\"}}\t{{.Label \"aivc.end\"}}\t{{.Label \"aivc.manual\"}}\t";

/// The same fields as [`LIST_FORMAT`] from `docker inspect` (a missing label printed as
/// nothing: `index` alone prints `<no value>`), plus the host port of 22/tcp,
/// when the container last started (RFC 3339, UTC), and every label as JSON (which escapes
/// any tab or line break a label holds), to tell a container without any `aivc.*` label.
const DETAIL_FORMAT: &str = "{{.Id}}\t{{.Name}}\t{{.State.Status}}\t{{with index .Config.Labels \"aivc.user\"}}{{.}}{{end}}\t{{with index .Config.Labels \"aivc.installation\"}}{{.}}{{end}}\t{{with index .Config.Labels \"aivc.start\"}}{{.}}{{end}}\t{{with index .Config.Labels \"aivc.end\"}}{{.}}{{end}}\t{{with index .Config.Labels \"aivc.manual\"}}{{.}}{{end}}\t{{range $p, $b := .HostConfig.PortBindings}}{{if eq $p \"22/tcp\"}}{{range $b}}{{.HostPort}}{{end}}{{end}}{{end}}\t{{.State.StartedAt}}\t{{json .Config.Labels}}";

/// A container as `docker ps` or `docker inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Container {
    /// The full id.
    pub id: String,
    pub name: String,
    pub running: bool,
    /// The `aivc.user` label; empty when it has none.
    pub user: String,
    /// The `aivc.installation` label; empty on containers started before installations
    /// were labelled.
    pub installation: String,
    pub start: Option<NaiveDateTime>,
    pub end: Option<NaiveDateTime>,
    /// Started by a maintainer without a booking: never stopped by the reconcile.
    pub manual: bool,
    /// The host port published for 22/tcp (only `inspect` reads it).
    pub ssh_port: Option<u16>,
    /// When the container last started or restarted (only `inspect` reads it).
    pub started_at: Option<DateTime<Utc>>,
    /// Whether it carries any `aivc.*` label (`inspect` reads them all; `ps` lists only
    /// containers with `aivc.user`). The Python version labelled nothing: an adopted
    /// container of it keeps `false` here, while [`Client::list_owned`] fills in `user`,
    /// `start` and `end` from the `using.csv` row it matched.
    pub aivc_labelled: bool,
}

/// Whose a container is, from this installation's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// It carries this installation's label.
    Ours,
    /// Started by this installation before containers carried an installation label (it
    /// has our user label and no installation label), or by the Python version this one
    /// replaces (no `aivc.*` label at all), and it matches a `using.csv` row of this root
    /// by name and published ssh port.
    Adopted,
    /// Anyone else's: never stopped, removed or restarted.
    Foreign,
}

impl Container {
    /// Whether this is the container of the booking `row`.
    pub fn serves(&self, row: &Row) -> bool {
        self.user == row.user_id && self.start == Some(row.start)
    }

    /// Whether it could be one this installation adopts, before its port is compared with
    /// a `using.csv` row: no installation label, and either our user label naming the
    /// container itself (the first version) or no `aivc.*` label at all (the Python
    /// version, which named containers after their user).
    pub fn may_be_adopted(&self) -> bool {
        self.installation.is_empty()
            && !self.name.is_empty()
            && (self.user == self.name || (self.user.is_empty() && !self.aivc_labelled))
    }

    /// Whose this container is, for the installation `installation` whose running rows are
    /// `using`. A container without our installation label is adopted only on
    /// [`Container::ssh_port`], which only `inspect` fills in.
    pub fn owner(&self, installation: &str, using: &[Row]) -> Owner {
        if !self.installation.is_empty() {
            return if self.installation == installation && self.user == self.name {
                Owner::Ours
            } else {
                Owner::Foreign
            };
        }
        if !self.may_be_adopted() {
            return Owner::Foreign;
        }
        let matches = using.iter().any(|r| self.matches(r));
        if matches {
            Owner::Adopted
        } else {
            Owner::Foreign
        }
    }

    /// Whether `row` is the booking this unlabelled container was started for: its name,
    /// its published ssh port, and its window where it has one.
    fn matches(&self, row: &Row) -> bool {
        row.user_id == self.name
            && self.ssh_port == Some(row.forward_port)
            && (self.start.is_none() || self.start == Some(row.start))
    }

    /// An adopted container of the Python version, which wrote its booking nowhere on
    /// the container, attributed to the latest `using` row it matches (user, start, end),
    /// so it is closed, kept and re-created like any other of ours. Anything else is
    /// returned as it is.
    fn attributed(mut self, owner: Owner, using: &[Row]) -> Container {
        if owner != Owner::Adopted || !self.user.is_empty() {
            return self;
        }
        if let Some(row) = using
            .iter()
            .filter(|r| self.matches(r))
            .max_by_key(|r| r.start)
        {
            self.user = self.name.clone();
            self.start = Some(row.start);
            self.end = Some(row.end);
        }
        self
    }
}

/// Parses the lines of [`LIST_FORMAT`] / [`DETAIL_FORMAT`].
pub fn parse_list(text: &str) -> Vec<Container> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let (fields, started_at, labels) = match f.as_slice() {
                [fields @ .., started, labels] if fields.len() == 9 => {
                    (fields, parse_started(started), Some(*labels))
                }
                [fields @ .., started] if fields.len() == 9 => {
                    (fields, parse_started(started), None)
                }
                fields => (fields, None, None),
            };
            let [id, name, state, user, installation, start, end, manual, port] = fields else {
                return None;
            };
            // Older templates print a missing label as `<no value>`: it is no label at all.
            let label = |v: &str| {
                if v == "<no value>" {
                    String::new()
                } else {
                    v.to_string()
                }
            };
            let known = [user, installation, start, end, manual]
                .iter()
                .any(|v| !label(v).is_empty());
            Some(Container {
                aivc_labelled: labels.map_or(known, |l| known || has_aivc_label(l)),
                id: id.to_string(),
                name: name.trim_start_matches('/').to_string(),
                running: *state == "running" || *state == "restarting",
                user: label(user),
                installation: label(installation),
                start: parse_time(start).ok(),
                end: parse_time(end).ok(),
                manual: label(manual) == "true",
                ssh_port: port.trim().parse().ok(),
                started_at,
            })
        })
        .collect()
}

/// Whether the labels `{{json .Config.Labels}}` printed include any `aivc.*` one. What
/// does not read as a JSON object counts as labelled: such a container is never adopted.
fn has_aivc_label(json: &str) -> bool {
    match serde_json::from_str::<Option<BTreeMap<String, serde_json::Value>>>(json.trim()) {
        Ok(labels) => labels
            .unwrap_or_default()
            .keys()
            .any(|k| k.starts_with("aivc.")),
        Err(_) => true,
    }
}

/// Docker's `State.StartedAt`; its zero time (never started) reads as long ago, which is
/// what it means to a rate limit.
fn parse_started(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Docker's error text as one line a student or an admin can act on: no control
/// characters, at most 300 characters.
pub fn explain(stderr: &str) -> String {
    let lower = stderr.to_ascii_lowercase();
    let first = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("warning"))
        .unwrap_or("docker failed without a message")
        .trim_start_matches("docker: ");
    let first: String = first
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
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
    use super::*;
    use hostinfo::schedule::format_time;

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
        assert_eq!(explain(&"x\u{1b}".repeat(1000)).len(), 300);
    }

    fn row(user: &str, port: u16) -> Row {
        let t = |s: &str| parse_time(s).unwrap();
        Row {
            start: t("2026-11-23 09:00:00"),
            end: t("2026-11-23 11:00:00"),
            user_id: user.into(),
            cpus: 1.0,
            memory: 1,
            gpus: Default::default(),
            forward_port: port,
            image: None,
            extra_command: None,
            node: None,
        }
    }

    #[test]
    fn reads_the_ps_lines_with_their_installation() {
        let text = "a1\tu1\trunning\tu1\tbeef0001\t2026-11-23 09:00:00\t2026-11-23 11:00:00\t\t\n\
                    b2\t/u2\texited\tu2\t\t\t\ttrue\t10002\n";
        let list = parse_list(text);
        assert_eq!(list.len(), 2);
        assert!(list[0].running && !list[0].manual && list[0].installation == "beef0001");
        assert_eq!(
            list[0].start.map(format_time).as_deref(),
            Some("2026-11-23 09:00:00")
        );
        assert_eq!(list[1].name, "u2");
        assert_eq!(list[1].ssh_port, Some(10002));
        assert!(!list[1].running && list[1].manual && list[1].start.is_none());
    }

    #[test]
    fn only_our_label_or_a_matching_using_row_makes_a_container_ours() {
        let using = [row("u1", 10001)];
        let c = |inst: &str, user: &str, port: Option<u16>| Container {
            name: "u1".into(),
            user: user.into(),
            installation: inst.into(),
            ssh_port: port,
            ..Container::default()
        };
        assert_eq!(
            c("beef0001", "u1", None).owner("beef0001", &using),
            Owner::Ours
        );
        assert_eq!(
            c("cafe0002", "u1", Some(10001)).owner("beef0001", &using),
            Owner::Foreign
        );
        assert_eq!(
            c("", "u1", Some(10001)).owner("beef0001", &using),
            Owner::Adopted
        );
        // Unlabelled: the port must be the row's, and there must be a row at all.
        assert_eq!(
            c("", "u1", Some(10002)).owner("beef0001", &using),
            Owner::Foreign
        );
        assert_eq!(c("", "u1", None).owner("beef0001", &using), Owner::Foreign);
        assert_eq!(
            c("", "u1", Some(10001)).owner("beef0001", &[]),
            Owner::Foreign
        );
        // A label naming another user than the container's name is never ours.
        assert_eq!(
            c("beef0001", "u9", None).owner("beef0001", &using),
            Owner::Foreign
        );
    }

    #[test]
    fn inspect_lines_carry_the_port_and_the_last_start() {
        let text = "a1\t/u1\trunning\tu1\t\t2026-11-23 09:00:00\t2026-11-23 11:00:00\t\t10001\t2026-11-23T01:02:03.123456789Z\n\
                    b2\t/u2\tcreated\tu2\t\t\t\t\t\t0001-01-01T00:00:00Z\n";
        let list = parse_list(text);
        assert_eq!(list[0].ssh_port, Some(10001));
        assert_eq!(
            list[0].started_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2026-11-23T01:02:03.123456789+00:00")
        );
        assert!(list[1].started_at.unwrap() < list[0].started_at.unwrap());
    }

    /// Held by each test from writing its script until its child has run: a script being
    /// written while another test forks can fail to run with "text file busy".
    static SCRIPTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// A stand-in docker that logs its arguments and answers `ps` and `inspect`.
    fn script(dir: &std::path::Path, body: &str) -> Client {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("docker");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}/log\n{body}",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Client::new(path)
    }

    #[test]
    fn only_unlabelled_containers_with_a_using_row_are_inspected_for_adoption() {
        let _one_at_a_time = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let ps = "ours\\tu1\\trunning\\tu1\\tbeef0001\\t\\t\\t\\t\\n\
                  theirs\\tu2\\trunning\\tu2\\tcafe0002\\t\\t\\t\\t\\n\
                  old\\tu3\\trunning\\tu3\\t\\t\\t\\t\\t\\n\
                  stranger\\tu4\\trunning\\tu4\\t\\t\\t\\t\\t\\n";
        let client = script(
            dir.path(),
            &format!(
                "case $1 in\n  ps) printf '{ps}' ;;\n  inspect) printf 'old\\t/u3\\trunning\\tu3\\t\\t\\t\\t\\t10003\\t\\n' ;;\nesac\n"
            ),
        );
        let using = [row("u1", 10001), row("u3", 10003)];
        let owned = client.list_owned("beef0001", &using).unwrap();
        let owners: Vec<(&str, Owner)> = owned.iter().map(|(c, o)| (c.name.as_str(), *o)).collect();
        assert_eq!(
            owners,
            [
                ("u1", Owner::Ours),
                ("u2", Owner::Foreign),
                ("u3", Owner::Adopted),
                ("u4", Owner::Foreign)
            ]
        );
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert_eq!(
            log.lines().filter(|l| l.starts_with("inspect")).count(),
            1,
            "{log}"
        );
        assert!(log.contains("inspect --type container --format"), "{log}");
        assert!(log.trim_end().ends_with(" old"), "inspected by id: {log}");
    }

    #[test]
    fn python_version_containers_are_adopted_only_without_any_aivc_label_and_with_the_rows_port() {
        let using = [row("u1", 10001)];
        let python = |labels: &str, port: Option<u16>| {
            let line = format!(
                "c1\t/u1\trunning\t\t\t\t\t\t{}\t2026-11-23T01:00:00Z\t{labels}\n",
                port.map(|p| p.to_string()).unwrap_or_default()
            );
            parse_list(&line).remove(0)
        };
        for labels in ["null", "{}", "{\"maintainer\":\"lab\"}"] {
            let c = python(labels, Some(10001));
            assert!(!c.aivc_labelled && c.may_be_adopted(), "{labels}");
            assert_eq!(c.owner("beef0001", &using), Owner::Adopted, "{labels}");
        }
        // Any aivc.* label (the booking container's role, a label someone made up), a
        // label list that does not read, another port or none, no row: not ours.
        for labels in [
            "{\"aivc.role\":\"booking-container\"}",
            "{\"aivc.x\\tz\":\"\"}",
            "not json",
        ] {
            assert_eq!(
                python(labels, Some(10001)).owner("beef0001", &using),
                Owner::Foreign,
                "{labels}"
            );
        }
        assert_eq!(
            python("{}", Some(10002)).owner("beef0001", &using),
            Owner::Foreign
        );
        assert_eq!(python("{}", None).owner("beef0001", &using), Owner::Foreign);
        assert_eq!(
            python("{}", Some(10001)).owner("beef0001", &[]),
            Owner::Foreign
        );
        // Attributed to the row it matched, so it serves that booking.
        let c = python("{}", Some(10001)).attributed(Owner::Adopted, &using);
        assert!(c.serves(&using[0]) && !c.aivc_labelled, "{c:?}");
    }

    /// Regression: `ps --filter label=aivc.user` cannot see a container without labels,
    /// so the Python version's containers ran on past their booking.
    #[test]
    fn users_of_using_rows_without_a_labelled_container_are_looked_up_by_name_and_no_one_else() {
        let _one_at_a_time = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        // ps: u1 has our labelled container. inspect: u5 is the Python version's (its
        // row's port), u6 publishes another port, u7 has none, and `u8` answers with a
        // container whose id starts with u8 but is named otherwise.
        let ps = "ours\tu1\trunning\tu1\tbeef0001\t\t\t\t\n";
        let answer = |id: &str, name: &str, port: &str| {
            format!(
                "{id}\\t/{name}\\trunning\\t\\t\\t\\t\\t\\t{port}\\t2026-11-23T01:00:00Z\\tnull\\n"
            )
        };
        let client = script(
            dir.path(),
            &format!(
                "case $1 in\n  ps) printf '{ps}' ;;\n  inspect) for a; do last=$a; done\n    case $last in\n      u5) printf '{}' ;;\n      u6) printf '{}' ;;\n      u8) printf '{}' ;;\n      *) echo \"Error: No such container: $last\" >&2; exit 1 ;;\n    esac ;;\nesac\n",
                answer("p5", "u5", "10005"),
                answer("p6", "u6", "10009"),
                answer("u8abc", "other", "10008"),
            ),
        );
        let mut using = vec![
            row("u1", 10001),
            row("u5", 10005),
            row("u6", 10006),
            row("u7", 10007),
            row("u8", 10008),
        ];
        // A user's second row asks for no second look-up.
        using.push(row("u5", 10005));
        let owned = client.list_owned("beef0001", &using).unwrap();
        let owners: Vec<(&str, &str, Owner)> = owned
            .iter()
            .map(|(c, o)| (c.name.as_str(), c.user.as_str(), *o))
            .collect();
        assert_eq!(
            owners,
            [
                ("u1", "u1", Owner::Ours),
                ("u5", "u5", Owner::Adopted),
                ("u6", "", Owner::Foreign),
            ]
        );
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        let looked_up: Vec<&str> = log
            .lines()
            .filter(|l| l.starts_with("inspect"))
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(looked_up, ["u5", "u6", "u7", "u8"], "{log}");
    }

    #[test]
    fn a_call_that_hangs_is_stopped_at_its_limit() {
        let _one_at_a_time = SCRIPTS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let client = script(dir.path(), "exec sleep 30\n");
        let began = std::time::Instant::now();
        let e = client
            .call(&["ps"], None, Duration::from_millis(300))
            .unwrap_err();
        assert!(matches!(e, Error::TimedOut { .. }), "{e}");
        assert!(began.elapsed() < Duration::from_secs(10));
        assert_eq!(e.code(), 125);
    }
}
