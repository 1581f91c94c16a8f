//! The two docker operations of a booking: `run` (which leaves nothing behind when it
//! fails) and the close path the monitor uses — check the container is this
//! installation's, stop it, copy out the backup entries not yet kept, remove it.

use std::path::Path;
use std::time::{Duration, Instant};

use docker_client::{limit, Client, Owner};
use hostinfo::config::Secret;
use hostinfo::{Root, Table, UserFolders};
use userfs::copy::Budget;
use userfs::Dir;

use crate::kept::{self, Kept, Refused};
use crate::Error;

/// Runs `docker run args…` with the password in the client's environment; on success the
/// new container's id. When docker fails after creating the container (a taken port, no
/// GPU runtime), the container it created — known by the id docker wrote to our own
/// `--cidfile`, so never anyone else's — is removed, and the next tick retries cleanly.
pub fn run(client: &Client, args: &[String], password: &Secret) -> Result<String, Error> {
    let scratch = tempfile::tempdir().map_err(|source| Error::Prepare {
        path: std::env::temp_dir(),
        source,
    })?;
    let cidfile = scratch.path().join("cid");
    let cid_arg = format!("--cidfile={}", cidfile.display());
    let mut all: Vec<&str> = Vec::with_capacity(args.len() + 1);
    all.push(args.first().map_or("run", String::as_str));
    all.push(&cid_arg);
    all.extend(args.iter().skip(1).map(String::as_str));
    match client.call(&all, Some(password), limit::CHANGE) {
        Ok(out) => Ok(out.stdout.trim().to_string()),
        Err(e) => {
            let id = std::fs::read_to_string(&cidfile).unwrap_or_default();
            let id = id.trim();
            if !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                // Best effort: the start already failed, and docker said why.
                let _ = client.remove(id);
            }
            Err(e.into())
        }
    }
}

/// What a close did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Closed {
    /// Whether there was a container to close.
    pub existed: bool,
    /// Entries copied out of the container into the kept folder.
    pub kept: Vec<String>,
    /// Entries the container did not have (nothing to keep).
    pub not_in_container: Vec<String>,
    pub refused: Vec<Refused>,
}

/// Closes `user_id`'s container: only when it is this installation's (or, started before
/// containers were labelled with one — by the first version or, without any label, by the
/// Python version — matches a `using.csv` row of this root by name and port); stop first, then keep each backup entry that has no kept copy yet, then remove
/// it. Closing what is gone succeeds. `keep_bytes` bounds what the entries may add.
pub fn close(
    client: &Client,
    root: &Root,
    folders: &UserFolders,
    user_id: &str,
    keep_bytes: u64,
) -> Result<Closed, Error> {
    close_if(client, root, folders, user_id, keep_bytes, &|_, _| true)
}

/// [`close`], only when `accept(container, our installation id)` holds for the container
/// that now bears the user's name; otherwise nothing is touched and `existed` is false.
/// Everything after that one look goes by the container's id, so a container started under
/// the same name meanwhile (the user's next booking) is never the one closed.
pub fn close_if(
    client: &Client,
    root: &Root,
    folders: &UserFolders,
    user_id: &str,
    keep_bytes: u64,
    accept: &dyn Fn(&docker_client::Container, &str) -> bool,
) -> Result<Closed, Error> {
    let mut closed = Closed::default();
    let Some(container) = client.inspect(user_id)? else {
        return Ok(closed);
    };
    // `docker inspect` also answers to an id prefix: only the container of exactly this
    // name is the user's.
    if container.name != user_id {
        return Ok(closed);
    }
    let installation = root.installation_id()?;
    if !accept(&container, &installation) {
        return Ok(closed);
    }
    // Only a container without an installation label, named after its user label (the
    // first version) or without any `aivc.*` label (the Python version), could be one this
    // root started before the label existed: only then is using.csv consulted.
    let owner = if container.may_be_adopted() {
        let lock = root.lock_shared()?;
        // No using.csv, no running booking: nothing to adopt.
        let using = match root.read_schedule(Table::Using, &lock) {
            Ok(s) => s.rows,
            Err(hostinfo::Error::Missing { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        container.owner(&installation, &using)
    } else {
        container.owner(&installation, &[])
    };
    if owner == Owner::Foreign {
        return Err(Error::NotOurs(user_id.to_string()));
    }
    closed.existed = true;
    // By id from here on: the name could be taken by someone else's container meanwhile.
    let id = container.id.as_str();
    client.stop(id)?;
    copy_out(client, id, owner, folders, user_id, keep_bytes, &mut closed);
    client.remove(id)?;
    Ok(closed)
}

/// How long keeping the entries of one close may take, all entries together.
pub const COPY_OUT_TIME: Duration = Duration::from_secs(300);

/// Whether a bind mount's host source is one a user could re-point: anything strictly
/// below their work or backup folder, as written or as resolved (the first version mounted
/// backup entries from there, by their resolved paths).
fn user_can_repoint(source: &str, folders: &UserFolders) -> bool {
    let source = Path::new(source);
    let below = |f: &Path| source.starts_with(f) && source != f;
    [&folders.work, &folders.backup]
        .iter()
        .any(|f| below(f) || std::fs::canonicalize(f).is_ok_and(|real| below(&real)))
}

/// Keeps each entry of the user's `backup.yaml` that has no kept copy yet, from the stopped
/// container. The archive `docker cp` streams is unpacked by userfs into a fresh name in
/// the user's kept folder (root's alone), within the byte budget, the time limit and a
/// nesting cap, and renamed into place only when it is the entry's kind (never a link).
///
/// `docker cp` of a stopped container mounts its volumes again, resolving each source
/// anew; a container the first version started (adopted), or any whose mount source the
/// user could have re-pointed, is therefore never read through docker: its entries are
/// imported from the backup folder through userfs, as at a start.
fn copy_out(
    client: &Client,
    id: &str,
    owner: Owner,
    folders: &UserFolders,
    user_id: &str,
    keep_bytes: u64,
    closed: &mut Closed,
) {
    let Ok(backup) = Dir::open(&folders.backup) else {
        return;
    };
    let spec = match kept::read_spec(&backup) {
        Ok(spec) => spec,
        Err(r) => {
            closed.refused.push(r);
            return;
        }
    };
    let (entries, refused) = kept::entries(&spec);
    closed.refused.extend(refused);
    let store = match Kept::open(&folders.kept_root, user_id) {
        Ok(s) => s,
        Err(e) => {
            closed.refused.push(Refused {
                entry: "all entries".into(),
                why: format!("the kept folder cannot be opened: {}", e.reason()),
            });
            return;
        }
    };
    let missing: Vec<kept::Entry> = entries.into_iter().filter(|e| !store.has(e)).collect();
    if missing.is_empty() {
        return;
    }
    let mut budget = Budget {
        bytes: keep_bytes,
        entries: kept::IMPORT_ENTRIES,
        deadline: Instant::now() + COPY_OUT_TIME,
    };
    // Decided by who started it first: only a container this installation started has
    // nothing but the mount sources it chose. The sources are checked as well, for a
    // container an admin's own mounts put below a user's folder.
    let through_docker = owner == Owner::Ours
        && match client.bind_mounts(id) {
            Ok(mounts) => !mounts.iter().any(|(s, _)| user_can_repoint(s, folders)),
            Err(_) => false,
        };
    if !through_docker {
        let found = store.import_missing(&backup, &missing, &mut budget);
        closed.kept.extend(found.imported);
        closed.refused.extend(found.refused);
        return;
    }
    for entry in &missing {
        let top = entry.target.file_name().unwrap_or_default();
        let target = entry.target.to_string_lossy();
        let mut gone = false;
        let filled = store.fill(entry, |staging| {
            let left = budget.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("not kept: the time for keeping entries at a close ran out".into());
            }
            let (unpacked, ended) = client
                .copy_from(id, &target, left, |archive| {
                    userfs::untar::unpack(archive, top, store.dir(), staging, &mut budget)
                })
                .map_err(|e| e.to_string())?;
            match (unpacked, ended) {
                (_, Err(e)) if e.is_no_such_path() => {
                    gone = true;
                    Err("not in the container".into())
                }
                (Err(e), _) => Err(format!("not kept: {}", e.reason())),
                (Ok(_), Err(e)) => Err(format!("not kept: {e}")),
                (Ok(_), Ok(())) => Ok(()),
            }
        });
        match filled {
            Ok(()) => closed.kept.push(entry.describe()),
            // Nothing at that path in the container: nothing to keep.
            Err(_) if gone => closed.not_in_container.push(entry.describe()),
            Err(why) => closed.refused.push(Refused {
                entry: entry.describe(),
                why,
            }),
        }
    }
}
