//! A throwaway installation root whose volume folders live in a temp dir, with the stand-in
//! image in its image list, and a way to run the real `run-container` binary on it.
#![allow(dead_code)]

#[path = "../../../../tests/support/docker.rs"]
pub mod docker;

#[path = "../../../../tests/support/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct TestRoot {
    pub dir: tempfile::TempDir,
}

impl TestRoot {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for d in [
            "cfg/templates",
            "jobs",
            "vol/work",
            "vol/backup",
            "vol/dataset",
        ] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        std::fs::write(p.join("vol/dataset/shared.txt"), "dataset\n").unwrap();
        let host = format!(
            "volume_work_dir: {0}/vol/work\nvolume_dataset_dir: {0}/vol/dataset\nvolume_backup_dir: {0}/vol/backup\n\
             users_config_yaml: ./cfg/users_config.yaml\ncapability_config_yaml: ./cfg/capability_config.yaml\n\
             images:\n  - {1}\n  - aivc-test/never-built:1\ntimezone: Asia/Taipei\n",
            p.display(),
            docker::IMAGE
        );
        std::fs::write(p.join("cfg/host_deploy.yaml"), host).unwrap();
        std::fs::write(
            p.join("cfg/capability_config.yaml"),
            "max:\n  cpus: 2\n  ram: 4\n  swap_size: 1\n  gpus: 1\n  backup_space: 1\n  work_space: 1\nallow_userIDs: []\n",
        )
        .unwrap();
        std::fs::write(p.join("cfg/users_config.yaml"), "").unwrap();
        let template =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cfg/templates/backup.yaml");
        std::fs::copy(template, p.join("cfg/templates/backup.yaml")).unwrap();
        TestRoot { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn work(&self, id: &str) -> PathBuf {
        self.path().join("vol/work").join(id)
    }

    pub fn backup(&self, id: &str) -> PathBuf {
        self.path().join("vol/backup").join(id)
    }

    /// Where root keeps `id`'s backup entries (the default `kept/` in the root).
    pub fn kept(&self, id: &str) -> PathBuf {
        self.path().join("kept").join(id)
    }

    /// Starts `id`'s container from the stand-in image on `port`, with `password` on standard
    /// input and `extra` flags; the caller judges the outcome.
    pub fn start(&self, id: &str, port: u16, password: &str, extra: &[&str]) -> Output {
        let port = port.to_string();
        let mut args = vec![
            "--user-id",
            id,
            "--forward-port",
            &port,
            "--password-stdin",
            "--image",
            docker::IMAGE,
        ];
        args.extend_from_slice(extra);
        self.run(&args, &format!("{password}\n"), &[])
    }

    /// Runs `run-container --root <root> <args>` with `stdin` on standard input.
    pub fn run(&self, args: &[&str], stdin: &str, envs: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_run-container"));
        cmd.arg("--root")
            .arg(self.path())
            .args(args)
            .envs(envs.iter().copied())
            .env_remove("AIVC_ROOT");
        process::run_with_input(cmd, stdin.as_bytes())
    }
}

/// A user id no other test (or earlier run) uses.
pub fn unique_id(tag: &str) -> String {
    format!("rct-{tag}-{}", std::process::id())
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
