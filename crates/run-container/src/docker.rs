//! The two docker operations of a booking: `run` (which leaves nothing behind when it
//! fails) and the close path the monitor uses — check the container is this
//! installation's, stop it, copy out the backup entries not yet kept, remove it.

use docker_client::{limit, Client, Owner};
use hostinfo::config::Secret;
use hostinfo::{Root, Table, UserFolders};
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
/// containers were labelled with one, matches a `using.csv` row of this root by name and
/// port); stop first, then copy each backup entry that has no kept copy yet out of the
/// stopped container, then remove it. Closing what is gone succeeds.
pub fn close(
    client: &Client,
    root: &Root,
    folders: &UserFolders,
    user_id: &str,
) -> Result<Closed, Error> {
    let mut closed = Closed::default();
    let Some(container) = client.inspect(user_id)? else {
        return Ok(closed);
    };
    let installation = root.installation_id()?;
    // Only a container without an installation label, named after its user label, could
    // be one we started before the label existed: only then is using.csv consulted.
    let candidate = container.installation.is_empty() && container.user == container.name;
    let owner = if candidate {
        let lock = root.lock_shared()?;
        let using = root.read_schedule(Table::Using, &lock)?.rows;
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
    copy_out(client, id, folders, user_id, &mut closed);
    client.remove(id)?;
    Ok(closed)
}

/// Copies out of the stopped container each entry of the user's `backup.yaml` that has
/// no kept copy yet. `docker cp` writes only into a fresh name in the user's kept folder,
/// which is root's alone; the result is renamed into place only when it is the entry's
/// kind (never a link).
fn copy_out(client: &Client, id: &str, folders: &UserFolders, user_id: &str, closed: &mut Closed) {
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
                why: format!("the kept folder cannot be opened: {e}"),
            });
            return;
        }
    };
    for entry in entries.iter().filter(|e| !store.has(e)) {
        let source = format!("{id}:{}", entry.target.display());
        let mut missing = false;
        let filled = store.fill(entry, |staging| {
            let target = store.staging_path(staging);
            let target = target.to_string_lossy();
            match client.call(&["cp", &source, &target], None, limit::COPY) {
                Ok(_) => Ok(()),
                Err(e) => {
                    missing = true;
                    Err(e.to_string())
                }
            }
        });
        match filled {
            Ok(()) => closed.kept.push(entry.describe()),
            // Nothing at that path in the container: nothing to keep.
            Err(_) if missing => closed.not_in_container.push(entry.describe()),
            Err(why) => closed.refused.push(Refused {
                entry: entry.describe(),
                why,
            }),
        }
    }
}
