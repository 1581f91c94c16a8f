//! Running the real `monitor` on a root built from the base fixture, with the stand-in
//! docker of tests/fixtures/bin and the real `run-container` next to it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const NOW: &str = "2026-11-23 10:00";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn fake_docker() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/bin/fake-docker")
}

/// The `run-container` binary beside `monitor`, built when this test run did not build it.
pub fn run_container() -> PathBuf {
    sibling("run-container")
}

/// The workspace binary `name` beside `monitor`, built when this test run did not build it.
pub fn sibling(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_monitor")).with_file_name(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", name])
            .status()
            .unwrap();
        assert!(ok.success(), "could not build {name}");
    }
    path
}

fn copy_into(from: &Path, to: &Path) {
    let options = fs_extra::dir::CopyOptions::new()
        .content_only(true)
        .overwrite(true);
    fs_extra::dir::copy(from, to, &options).unwrap();
}

/// A root (the base plus `overlay`) with an installation id of its own, a folder for the
/// fake docker's containers and its log.
pub struct Lab {
    pub root: tempfile::TempDir,
    pub docker: tempfile::TempDir,
    /// The root's `cfg/installation-id`: new for every lab, so that labs sharing the real
    /// engine (tests running at once, a lab's own containers) never act on each other's.
    pub installation: String,
}

impl Lab {
    pub fn new(overlay: Option<&Path>) -> Self {
        let root = tempfile::tempdir().unwrap();
        copy_into(&fixtures().join("base"), root.path());
        if let Some(o) = overlay {
            copy_into(o, root.path());
        }
        let docker = tempfile::tempdir().unwrap();
        std::fs::create_dir(docker.path().join("state")).unwrap();
        let installation = hostinfo::Root::at(root.path()).installation_id().unwrap();
        Lab {
            root,
            docker,
            installation,
        }
    }

    /// Puts a container into the fake docker's state: `line` is its state line (see
    /// tests/fixtures/bin/fake-docker), with `$INSTALLATION` standing for this lab's id.
    pub fn fake_container(&self, name: &str, line: &str) {
        std::fs::write(
            self.state().join(name),
            line.replace("$INSTALLATION", &self.installation),
        )
        .unwrap();
    }

    /// The names of the fake docker's containers, sorted.
    pub fn fake_containers(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.state())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    pub fn state(&self) -> PathBuf {
        self.docker.path().join("state")
    }

    /// The fake docker's log with the root's path written as `$ROOT`, the lab's
    /// installation id as `$INSTALLATION` and run-container's temporary `--cidfile` as
    /// `$CIDFILE`.
    pub fn docker_log(&self) -> String {
        let text =
            std::fs::read_to_string(self.docker.path().join("docker.log")).unwrap_or_default();
        let root = std::fs::canonicalize(self.path()).unwrap();
        let text = text
            .replace(root.to_str().unwrap(), "$ROOT")
            .replace(self.path().to_str().unwrap(), "$ROOT")
            .replace(&self.installation, "$INSTALLATION");
        text.lines()
            .map(|line| {
                let words: Vec<&str> = line
                    .split(' ')
                    .map(|w| {
                        if w.starts_with("--cidfile=") {
                            "--cidfile=$CIDFILE"
                        } else {
                            w
                        }
                    })
                    .collect();
                format!("{}\n", words.join(" "))
            })
            .collect()
    }

    /// Runs `monitor --root <root> args` at `now` with `envs`.
    pub fn monitor(&self, now: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
        self.monitor_command(now, args, envs).output().unwrap()
    }

    /// The command [`Lab::monitor`] runs, for a test that spawns it itself.
    pub fn monitor_command(&self, now: &str, args: &[&str], envs: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_monitor"));
        cmd.arg("--root")
            .arg(self.path())
            .args(args)
            .env("AIVC_NOW", now)
            .env("AIVC_DOCKER", fake_docker())
            .env("AIVC_RUN_CONTAINER", run_container())
            .env(
                "AIVC_FAKE_DOCKER_LOG",
                self.docker.path().join("docker.log"),
            )
            .env("AIVC_FAKE_DOCKER_STATE", self.state())
            .env("AIVC_NO_NVML", "1")
            .env_remove("AIVC_ROOT")
            .envs(envs.iter().copied());
        cmd
    }

    /// Runs `monitor --root <root>` at `now` against the real Docker engine.
    pub fn monitor_real(&self, now: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_monitor"))
            .arg("--root")
            .arg(self.path())
            .env("AIVC_NOW", now)
            .env("AIVC_RUN_CONTAINER", run_container())
            .env("AIVC_NO_NVML", "1")
            .env_remove("AIVC_DOCKER")
            .env_remove("AIVC_ROOT")
            .output()
            .unwrap()
    }

    /// Adds a user to the allow list and users_config.yaml.
    pub fn add_user(&self, id: &str, port: u16) {
        let cap = self.path().join("cfg/capability_config.yaml");
        let text = std::fs::read_to_string(&cap)
            .unwrap()
            .replace("  - dora\n", &format!("  - dora\n  - {id}\n"));
        std::fs::write(cap, text).unwrap();
        let users = self.path().join("cfg/users_config.yaml");
        let mut text = std::fs::read_to_string(&users).unwrap();
        text.push_str(&format!(
            "{id}:\n  password: {id}-pw\n  forward_port: {port}\n  image: null\n  extra_command: null\n  volume_work_dir: ./vol/work/{id}\n  volume_dataset_dir: ./vol/dataset\n  volume_backup_dir: ./vol/backup/{id}\n"
        ));
        std::fs::write(users, text).unwrap();
    }

    /// `checker --json` of the root at `now`.
    pub fn checker(&self, now: &str) -> checker::Report {
        let out = Command::new(sibling("checker"))
            .arg("--root")
            .arg(self.path())
            .arg("--json")
            .env("AIVC_NOW", now)
            .env("AIVC_NO_NVML", "1")
            .env_remove("AIVC_ROOT")
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "checker: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A file's text, or nothing when it does not exist.
    pub fn file_or_empty(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_default()
    }

    pub fn file(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_default()
    }
}
