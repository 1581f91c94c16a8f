//! From a root and what was asked to a checked [`Launch`]: every value a user could have
//! typed is checked here, before anything is created or any docker command runs.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use hostinfo::config::Secret;
use hostinfo::names::{user_id_problem, PORT_RANGE};
use hostinfo::schedule::GpuSet;
use hostinfo::{Config, Root, UserFolders};
use userfs::Dir;

use crate::kept::{self, Kept, Refused};
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
    /// How many GPUs the machine has, ids `0..n`: a cluster node's, which Slurm bound from;
    /// `None` takes the host's `max.gpus`.
    pub gpu_count: Option<u32>,
}

/// A checked launch and everything needed to run it.
#[derive(Debug)]
pub struct Plan {
    pub launch: Launch,
    pub volumes: Volumes,
    pub password: Secret,
    pub shm_rate: f64,
    pub admin_args: Vec<String>,
    /// The template `backup.yaml` a new backup folder gets, when the lab has one.
    pub template: Option<PathBuf>,
    /// Where backup entries are kept (`<kept>/<user>/…`).
    pub kept: PathBuf,
    /// The most an import from the old layout may copy (the user's backup quota).
    pub import_bytes: u64,
    /// This installation's id, which labels the container ([`Plan::prepare`] creates it).
    pub installation: String,
}

/// What [`Plan::prepare`] did besides filling in the mounts.
#[derive(Debug, Default)]
pub struct Prepared {
    pub refused: Vec<Refused>,
    pub imported: Vec<String>,
}

/// Where `id`'s folders are, checked: docker can mount each, and the kept folder is out of
/// every container's sight.
pub fn folders(root: &Root, config: &Config, id: &str) -> Result<UserFolders, Error> {
    let f = config.user_folders(root, id);
    for dir in [&f.work, &f.backup, &f.dataset, &f.kept] {
        docker_safe(dir)?;
    }
    for dir in [&f.work, &f.backup, &f.dataset] {
        if f.kept_root.starts_with(dir) || dir.starts_with(&f.kept_root) {
            return Err(Error::BadPath {
                path: f.kept_root.clone(),
                why: format!(
                    "the kept folder (volume_kept_dir) and {} may not lie inside one another",
                    dir.display()
                ),
            });
        }
    }
    Ok(f)
}

/// The most that keeping a user's backup entries may add at once: their backup quota
/// (bytes of `backup_space` GiB), so no container can fill the host's disk through a close.
pub fn keep_bytes(config: &Config, id: &str) -> u64 {
    let gb = checker::limits::user_max(&config.capability, id).backup_space;
    (gb.max(0.0) * (1u64 << 30) as f64) as u64
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

/// The login script that shows a student's notices, when setup installed it and docker
/// can mount its path.
fn notices_script(root: &Root) -> Option<PathBuf> {
    let script = root.cfg_dir().join("container").join("aivc-notices.sh");
    let script = std::path::absolute(&script).unwrap_or(script);
    (script.is_file() && docker_safe(&script).is_ok()).then_some(script)
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
    let count = ask.gpu_count.unwrap_or(config.capability.max.gpus);
    if let Some(&bad) = ask.gpus.ids().iter().find(|g| **g >= count) {
        return Err(Error::NoSuchGpu { id: bad, count });
    }
    let f = folders(root, config, &id)?;
    let import_bytes = keep_bytes(config, &id);
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
            work: f.work,
            backup: f.backup,
            dataset: f.dataset,
            backup_entries: Vec::new(),
            profile_script: notices_script(root),
        },
        password,
        shm_rate: config.capability.max.shm_rate,
        admin_args: host.docker_run_args.clone(),
        template: root.backup_template(),
        kept: f.kept_root,
        import_bytes,
        // Created on the first real run; a dry run shows a placeholder and creates nothing.
        installation: root
            .existing_installation_id()?
            .unwrap_or_else(|| "<new-installation-id>".into()),
    })
}

impl Plan {
    /// Creates the work and backup folders when missing, seeds `backup.yaml` from the
    /// template when the folder has none, and fills in the backup mounts from the kept
    /// folder (importing entries the old layout kept in the backup folder). Every write in
    /// the user's folders goes through userfs: nothing there is followed or overwritten.
    pub fn prepare(&mut self, root: &Root) -> Result<Prepared, Error> {
        self.installation = root.installation_id()?;
        let prep = |path: &Path| {
            let path = path.to_path_buf();
            move |e: userfs::Error| Error::Prepare {
                path,
                source: std::io::Error::other(e.to_string()),
            }
        };
        Dir::open_or_create(&self.volumes.work).map_err(prep(&self.volumes.work))?;
        let backup =
            Dir::open_or_create(&self.volumes.backup).map_err(prep(&self.volumes.backup))?;
        if let Some(template) = &self.template {
            let bytes = std::fs::read(template).map_err(|source| Error::Prepare {
                path: template.clone(),
                source,
            })?;
            backup
                .create_file(std::ffi::OsStr::new("backup.yaml"), &bytes, 0o644)
                .map_err(prep(&self.volumes.backup))?;
        }
        let mut prepared = Prepared::default();
        let spec = match kept::read_spec(&backup) {
            Ok(spec) => spec,
            Err(r) => {
                prepared.refused.push(r);
                return Ok(prepared);
            }
        };
        let (entries, refused) = kept::entries(&spec);
        prepared.refused = refused;
        let store = Kept::open(&self.kept, &self.launch.user_id).map_err(prep(&self.kept))?;
        let found = store.mounts(Some(&backup), &entries, self.import_bytes);
        self.volumes.backup_entries = found.mounts;
        prepared.refused.extend(found.refused);
        prepared.imported = found.imported;
        Ok(prepared)
    }

    /// Fills in the backup mounts from what is kept now, creating and importing nothing
    /// (for `--dry-run`).
    pub fn collect_mounts(&mut self) -> Vec<Refused> {
        let Ok(backup) = Dir::open(&self.volumes.backup) else {
            return Vec::new();
        };
        let spec = match kept::read_spec(&backup) {
            Ok(spec) => spec,
            Err(r) => return vec![r],
        };
        let (entries, refused) = kept::entries(&spec);
        if let Ok(store) = Dir::open(&self.kept.join(&self.launch.user_id)) {
            self.volumes.backup_entries = entries
                .iter()
                .filter(|e| {
                    store.kind(Path::new(&e.slot)).is_ok_and(|k| {
                        matches!(
                            (e.kind, k),
                            (kept::EntryKind::Dir, userfs::Kind::Dir)
                                | (kept::EntryKind::File, userfs::Kind::File)
                        )
                    })
                })
                .map(|e| (store.path().join(&e.slot), e.target.clone()))
                .collect();
        }
        refused
    }

    /// The argument vector after the docker program.
    pub fn args(&self) -> Vec<String> {
        crate::docker_run_args(
            &self.launch,
            &self.volumes,
            self.shm_rate,
            &self.admin_args,
            &self.installation,
        )
    }
}
