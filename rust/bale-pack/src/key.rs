//! What a remote key names when its content is known by its name: an object
//! in DVC's or bale's layout, a pack, or a pack's index. A server checks an
//! upload against it before publishing it.

use std::path::Path;

use bale_error::Result;
use bale_hash::{hash_file, Algo, Oid};

use crate::copies::check_index;
use crate::id::PackFile;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    Object(Oid),
    Pack(PackFile),
}

impl Named {
    /// What `key` names, or `None` for a key whose content is not known by
    /// its name (the run cache, anything else).
    pub fn parse(key: &str) -> Option<Named> {
        match bale_index::keys::parse_object_key(key) {
            Some(oid) => Some(Named::Object(oid)),
            None => PackFile::parse_key(key).map(Named::Pack),
        }
    }

    /// Whether the file at `path` is what the key names: its bytes hash to
    /// the key (a tree's as a file's), or for a pack index, it parses and
    /// indexes the pack of its name.
    pub fn verify(&self, path: &Path) -> Result<bool> {
        let digest = |algo| hash_file(path, algo).map(|h| h.oid);
        match *self {
            Named::Object(oid) => digest(oid.algo()).map(|got| got.digest() == oid.digest()),
            Named::Pack(PackFile::Pack(id)) => digest(Algo::Blake3).map(|got| got.digest() == id.as_bytes()),
            Named::Pack(PackFile::Index(id)) => Ok(check_index(path, &id.hex()).is_ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_verifies_by_its_bytes_and_other_keys_name_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello\n").unwrap();
        // md5("hello\n") = b1946ac92492d2347c6235b4d2611184
        let named = Named::parse("files/md5/b1/946ac92492d2347c6235b4d2611184").unwrap();
        assert!(named.verify(&path).unwrap());
        let other = Named::parse("files/md5/00/946ac92492d2347c6235b4d2611184").unwrap();
        assert!(!other.verify(&path).unwrap());
        assert_eq!(Named::parse("runs/ab/cd"), None);
        assert_eq!(Named::parse("files/md5/b1/946ac92492d2347c6235b4d261118"), None);
    }
}
