//! From a root and what was asked to a checked [`Launch`]: every value a user could have
//! typed is checked here, before anything is created or any docker command runs.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use hostinfo::config::{BackupSpec, Secret};
use hostinfo::names::{user_id_problem, PORT_RANGE};
use hostinfo::schedule::GpuSet;
use hostinfo::{Config, Root};

use crate::backup::{self, Refused};
use crate::{Error, Launch, Volumes};

/// What the caller asked for; `None` falls back to the user's entry, then the host default.
#[derive(Debug, Default)]
pub struct Ask {
    pub user_id: String,
    pub forward_port: Option<u16>,
    pub password: Option<Secret>,
    pub cpus: Option<f64>,
    pub memory: Option<u32>,
    pub gpus: GpuSet,
    pub image: Option<String>,
    pub extra_command: Option<String>,
    pub window: Option<(NaiveDateTime, NaiveDateTime)>,
}

/// A checked launch and everything needed to run it.
#[derive(Debug)]
pub struct Plan {
    pub launch: Launch,
    pub volumes: Volumes,
    pub password: Secret,
    pub shm_rate: f64,
    pub admin_args: Vec<String>,
    pub template: PathBuf,
}

fn docker_safe(path: &Path) -> Result<(), Error> {
    let text = path.to_string_lossy();
    if !path.is_absolute() || text.contains([':', ',', '\n']) {
        return Err(Error::BadPath {
            path: path.to_path_buf(),
            why: "a volume folder must be an absolute path without `:` or `,`".into(),
        });
    }
    Ok(())
}

/// Checks `ask` against the configuration; creates nothing.
pub fn plan(root: &Root, config: &Config, ask: Ask) -> Result<Plan, Error> {
    let id = ask.user_id;
    if let Some(why) = user_id_problem(&id) {
        return Err(Error::BadUserId { id, why });
    }
    let entry = config.users.get(&id);
    let password = match (ask.password, entry) {
        (Some(p), _) => p,
        (None, Some(e)) => e.password.clone(),
        (None, None) => return Err(Error::UnknownUser(id)),
    };
    let forward_port = ask
        .forward_port
        .or(entry.map(|e| e.forward_port))
        .ok_or_else(|| Error::UnknownUser(id.clone()))?;
    if !PORT_RANGE.contains(&forward_port) {
        return Err(Error::BadPort(forward_port));
    }
    let host = &config.host;
    let image = ask
        .image
        .or_else(|| entry.and_then(|e| e.image.clone()))
        .unwrap_or_else(|| host.default_image().to_string());
    if !host.images.contains(&image) {
        return Err(Error::ImageNotAllowed(image));
    }
    let count = config.capability.max.gpus;
    if let Some(&bad) = ask.gpus.ids().iter().find(|g| **g >= count) {
        return Err(Error::NoSuchGpu { id: bad, count });
    }
    let (work, backup, dataset) = match entry {
        Some(e) => (
            e.volume_work_dir.clone(),
            e.volume_backup_dir.clone(),
            e.volume_dataset_dir.clone(),
        ),
        None => (
            host.volume_work_dir.join(&id),
            host.volume_backup_dir.join(&id),
            host.volume_dataset_dir.clone(),
        ),
    };
    // Relative folders in the config are relative to the root (SPEC §1); docker needs
    // absolute ones.
    let absolute = |p: PathBuf| std::path::absolute(root.resolve_path(&p)).unwrap_or(p);
    let (work, backup, dataset) = (absolute(work), absolute(backup), absolute(dataset));
    for dir in [&work, &backup, &dataset] {
        docker_safe(dir)?;
    }
    Ok(Plan {
        launch: Launch {
            window: ask.window,
            cpus: ask.cpus.unwrap_or(1.0),
            memory: ask.memory.unwrap_or(1),
            gpus: ask.gpus,
            forward_port,
            image,
            extra_command: ask
                .extra_command
                .or_else(|| entry.and_then(|e| e.extra_command.clone())),
            user_id: id,
        },
        volumes: Volumes {
            work,
            backup,
            dataset,
            backup_entries: Vec::new(),
        },
        password,
        shm_rate: config.capability.max.shm_rate,
        admin_args: host.docker_run_args.clone(),
        template: root.templates_dir().join("backup.yaml"),
    })
}

/// The user's own `backup.yaml`; a broken one mounts nothing extra (the container still
/// starts) and says why.
pub fn user_backup_spec(backup_dir: &Path) -> Result<BackupSpec, String> {
    let path = backup_dir.join("backup.yaml");
    if path.symlink_metadata().is_err() {
        return Ok(BackupSpec::default());
    }
    BackupSpec::load(&path).map_err(|e| e.to_string())
}

impl Plan {
    /// Creates the folders, seeds `backup.yaml`, and fills in the backup mounts; returns
    /// the entries that were refused.
    pub fn prepare(&mut self) -> Result<Vec<Refused>, Error> {
        backup::prepare(&self.volumes.work, &self.volumes.backup, &self.template).map_err(
            |source| Error::Prepare {
                path: self.volumes.backup.clone(),
                source,
            },
        )?;
        Ok(self.collect_mounts())
    }

    /// Fills in the backup mounts from what exists now, creating nothing (for `--dry-run`).
    pub fn collect_mounts(&mut self) -> Vec<Refused> {
        match user_backup_spec(&self.volumes.backup) {
            Ok(spec) => {
                let (ok, refused) = backup::mounts(&self.volumes.backup, &spec);
                self.volumes.backup_entries = ok;
                refused
            }
            Err(why) => vec![Refused {
                entry: "backup.yaml".into(),
                why,
            }],
        }
    }

    /// The argument vector after the docker program.
    pub fn args(&self) -> Vec<String> {
        crate::docker_run_args(&self.launch, &self.volumes, self.shm_rate, &self.admin_args)
    }
}
