//! The one error type of the bale engine.
//!
//! Every engine crate returns [`Error`]; the Python bindings map each variant
//! once to a `bale.BaleError` subclass. Variants carry the path they concern,
//! so every message names the file and what is wrong in one line.

use std::io;
use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: no such file or directory", .path.display())]
    NotFound { path: PathBuf },

    #[error("{}: permission denied", .path.display())]
    PermissionDenied { path: PathBuf },

    #[error("{}: no space left on device", .path.display())]
    NoSpace { path: PathBuf },

    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },

    #[error("{}: file changed while it was being hashed", .path.display())]
    ChangedWhileHashing { path: PathBuf },

    #[error("{}: corrupt cache object (expected {expected}, content hashes to {actual})", .path.display())]
    CorruptObject { path: PathBuf, expected: String, actual: String },

    #[error("{}: object {oid} is not in the cache", .path.display())]
    ObjectMissing { path: PathBuf, oid: String },

    #[error("'{text}' is not a valid {what}")]
    InvalidOid { text: String, what: &'static str },

    #[error("{}: {reason}", .path.display())]
    BadManifest { path: PathBuf, reason: String },

    #[error("{}: file name is not valid UTF-8", .path.display())]
    NonUtf8Path { path: PathBuf },

    #[error("{}: {reason}", .path.display())]
    BadIgnoreFile { path: PathBuf, reason: String },

    #[error("{count} file(s) have changes that are not in the cache, first {}; use --force to discard them", .first.display())]
    CheckoutConflict { first: PathBuf, count: usize },

    /// Something this version of bale does not do, said plainly.
    #[error("{0}")]
    Unsupported(String),

    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// Classifies an I/O error by what the user can do about it.
    pub fn io(path: impl AsRef<Path>, source: io::Error) -> Self {
        let path = path.as_ref().to_path_buf();
        match source.kind() {
            io::ErrorKind::NotFound => Error::NotFound { path },
            io::ErrorKind::PermissionDenied => Error::PermissionDenied { path },
            io::ErrorKind::StorageFull => Error::NoSpace { path },
            _ if source.raw_os_error() == Some(libc_enospc()) => Error::NoSpace { path },
            _ => Error::Io { path, source },
        }
    }

    /// The same error, naming `to` where it named `from`: a write into a
    /// temp file is told as a write of the file it was to become (a temp
    /// name means nothing to the user; the destination says which disk).
    pub fn at_path(self, from: &Path, to: &Path) -> Self {
        let swap = |path: PathBuf| if path == from { to.to_path_buf() } else { path };
        match self {
            Error::NotFound { path } => Error::NotFound { path: swap(path) },
            Error::PermissionDenied { path } => Error::PermissionDenied { path: swap(path) },
            Error::NoSpace { path } => Error::NoSpace { path: swap(path) },
            Error::Io { path, source } => Error::Io { path: swap(path), source },
            other => other,
        }
    }
}

const fn libc_enospc() -> i32 {
    28 // ENOSPC on Linux and macOS alike
}

/// Attaches a path to an `io::Result`.
pub trait IoContext<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified_by_kind() {
        let e = Error::io("a", io::Error::from(io::ErrorKind::NotFound));
        assert!(matches!(e, Error::NotFound { .. }));
        let e = Error::io("a", io::Error::from_raw_os_error(28));
        assert!(matches!(e, Error::NoSpace { .. }));
        assert_eq!(e.to_string(), "a: no space left on device");
    }
}
