//! The one error type of hostinfo: every variant names the file it is about, and the line
//! and field where there is one, so a binary can print it as a single line.

use std::path::PathBuf;

/// Where in a file a problem sits: the line (1-based) and the key or column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub line: Option<usize>,
    pub field: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(":")?;
        if let Some(field) = &self.field {
            write!(f, " {field}:")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}: file is missing; run scripts/setup.sh or copy it from cfg/templates", path.display())]
    Missing { path: PathBuf },

    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: cannot write: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file that parsed as text but whose content is wrong.
    #[error("{}{at} {message}", path.display())]
    Invalid {
        path: PathBuf,
        at: Location,
        message: String,
    },

    #[error("{}: cannot lock: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: lock not taken within {waited_s} s: held by {holder}; is a monitor tick or a booking stuck?", path.display())]
    LockTimeout {
        path: PathBuf,
        waited_s: f64,
        holder: String,
    },

    #[error("{}: {message}", path.display())]
    Root { path: PathBuf, message: String },
}

impl Error {
    pub(crate) fn invalid(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            path: path.into(),
            at: Location {
                line,
                field: field.map(|f| one_line(&f)),
            },
            message: one_line(&message.into()),
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Error::Missing { path }
            | Error::Read { path, .. }
            | Error::Write { path, .. }
            | Error::Invalid { path, .. }
            | Error::Lock { path, .. }
            | Error::LockTimeout { path, .. }
            | Error::Root { path, .. } => path,
        }
    }

    /// Line and field, for errors that point into a file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Invalid { at, .. } => Some(at),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a file said, quoted in an error, stays on one line: control characters are escaped.
fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Reads a whole file as text, telling a missing file apart from an unreadable one.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| read_error(path, source))
}

/// A failed read of `path`: missing, or unreadable for `source`.
pub(crate) fn read_error(path: &std::path::Path, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::NotFound {
        Error::Missing {
            path: path.to_path_buf(),
        }
    } else {
        Error::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}
