//! A small root for the delivery tests: alice (with an e-mail address) and bob (without),
//! their work folders below the root, and the notices posted through hostinfo as booking
//! and the monitor post them.
#![allow(dead_code)]

#[path = "../../../../tests/support/notify_servers.rs"]
pub mod servers;

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use hostinfo::notices::{Kind, Notice, Recipient};
use hostinfo::Root;

pub const NOW: &str = "2026-11-24 10:00:00";

pub fn at(text: &str) -> NaiveDateTime {
    hostinfo::schedule::parse_time(text).unwrap()
}

pub fn now() -> NaiveDateTime {
    at(NOW)
}

pub struct Lab {
    pub dir: tempfile::TempDir,
    pub root: Root,
}

impl Lab {
    pub fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("cfg")).unwrap();
        std::fs::create_dir_all(p.join("jobs")).unwrap();
        std::fs::write(
            p.join("cfg/host_deploy.yaml"),
            "volume_work_dir: ./vol/work\nvolume_dataset_dir: ./vol/dataset\nvolume_backup_dir: ./vol/backup\nusers_config_yaml: ./cfg/users_config.yaml\ncapability_config_yaml: ./cfg/capability_config.yaml\nimages:\n  - aivc/workspace:latest\ntimezone: Asia/Taipei\n",
        )
        .unwrap();
        std::fs::write(
            p.join("cfg/capability_config.yaml"),
            "max:\n  cpus: 2\n  ram: 4\n  swap_size: 1\n  gpus: 2\n  backup_space: 10\n  work_space: 10\nallow_userIDs:\n  - alice\n  - bob\nmax_default_capability:\n  cpus: 2\n  memory: 5\n  gpus: 1\n  backup_space: 1\n  work_space: 1\n",
        )
        .unwrap();
        let user = |id: &str, port: u16, email: Option<&str>| {
            let mut e = format!("{id}:\n  password: {id}-pw\n  forward_port: {port}\n  image: null\n  extra_command: null\n  volume_work_dir: ./vol/work/{id}\n  volume_dataset_dir: ./vol/dataset\n  volume_backup_dir: ./vol/backup/{id}\n");
            if let Some(a) = email {
                e.push_str(&format!("  email: {a}\n"));
            }
            e
        };
        let users = user("alice", 10001, Some("alice@lab.example")) + &user("bob", 10002, None);
        let users_path = p.join("cfg/users_config.yaml");
        std::fs::write(&users_path, users).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&users_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let root = Root::at(p);
        root.load_config().expect("the test root's config loads");
        Lab { dir, root }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn notify(&self, yaml: &str) {
        std::fs::write(self.path().join("cfg/notify.yaml"), yaml).unwrap();
        self.root
            .load_notify_config()
            .expect("the test's notify.yaml loads");
    }

    /// Posts one notice at `time` (no rate limit) and returns it.
    pub fn post_at(&self, time: NaiveDateTime, to: Recipient, kind: Kind, text: &str) -> Notice {
        let n = Notice::new(time, to, kind, format!("k-{text}"), text);
        let posted = self
            .root
            .post_notices(std::slice::from_ref(&n), chrono::Duration::zero())
            .unwrap();
        assert_eq!(posted.len(), 1, "posted");
        n
    }

    pub fn post(&self, to: Recipient, kind: Kind, text: &str) -> Notice {
        self.post_at(now(), to, kind, text)
    }

    pub fn work(&self, user: &str) -> PathBuf {
        self.path().join("vol/work").join(user)
    }

    /// The notice files in `user`'s container folder, sorted.
    pub fn container_files(&self, user: &str) -> Vec<String> {
        let dir = self.work(user).join(".aivc/notices");
        let mut names: Vec<String> = match std::fs::read_dir(dir) {
            Ok(d) => d
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    pub fn file(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_default()
    }

    /// The delivery record as (id, channel, outcome) triples.
    pub fn records(&self) -> Vec<(String, String, hostinfo::notices::Outcome)> {
        self.root
            .read_notices_delivered()
            .unwrap()
            .into_iter()
            .map(|d| (d.id, d.channel, d.outcome))
            .collect()
    }

    pub fn log(&self) -> String {
        self.file("jobs/monitor.log")
    }
}

pub fn alice() -> Recipient {
    Recipient::User("alice".into())
}

pub fn bob() -> Recipient {
    Recipient::User("bob".into())
}

/// `smtp:` of notify.yaml for a plain server on loopback.
pub fn smtp_yaml(port: u16) -> String {
    format!("smtp:\n  server: 127.0.0.1\n  port: {port}\n  security: none\n  sender: \"AIVC booking <aivc@lab.example>\"\n")
}
