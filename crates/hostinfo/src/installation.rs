//! `cfg/installation-id`: the id that tells this installation's containers from those of
//! any other installation sharing the Docker engine (another lab root, a test, the demo).

use std::io::Read;
use std::path::Path;

use crate::error::{read_text, Error, Result};

/// Whether `id` is one we wrote: 8 to 64 lowercase hex digits.
pub fn valid(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads the id when the file exists; creates nothing.
pub fn read(path: &Path) -> Result<Option<String>> {
    match read_text(path) {
        Ok(text) => checked(path, &text).map(Some),
        Err(Error::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads the id, creating the file first when it is missing. Two processes creating it at
/// once agree: the file is linked into place only when absent, and the loser reads the
/// winner's.
pub fn read_or_create(path: &Path) -> Result<String> {
    match read_text(path) {
        Ok(text) => return checked(path, &text),
        Err(Error::Missing { .. }) => {}
        Err(e) => return Err(e),
    }
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(write_err)?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let dir = path.parent().unwrap_or(Path::new("."));
    let temp = tempfile::Builder::new()
        .prefix(".installation-id.")
        .tempfile_in(dir)
        .map_err(write_err)?;
    std::fs::write(temp.path(), format!("{id}\n")).map_err(write_err)?;
    temp.as_file().sync_all().map_err(write_err)?;
    match std::fs::hard_link(temp.path(), path) {
        Ok(()) => Ok(id),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => checked(path, &read_text(path)?),
        Err(e) => Err(write_err(e)),
    }
}

fn checked(path: &Path, text: &str) -> Result<String> {
    let id = text.trim();
    if valid(id) {
        Ok(id.to_string())
    } else {
        Err(Error::invalid(
            path,
            Some(1),
            None,
            "the installation id must be 8 to 64 lowercase hex digits (setup.sh writes one)"
                .to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_an_id_once_and_reads_the_same_id_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("installation-id");
        let first = read_or_create(&path).unwrap();
        assert!(valid(&first), "{first}");
        assert_eq!(read_or_create(&path).unwrap(), first);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            read_or_create(&other.path().join("installation-id")).unwrap(),
            first
        );
    }

    #[test]
    fn refuses_an_id_it_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("installation-id");
        std::fs::write(&path, "../../etc x\n").unwrap();
        let e = read_or_create(&path).unwrap_err().to_string();
        assert!(e.contains("installation-id") && e.contains("hex"), "{e}");
    }
}
