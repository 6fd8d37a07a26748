//! Objects checked against their names: verified whole, and moved aside
//! when corrupt.

use std::fs;
use std::path::PathBuf;

use bale_error::{Error, IoContext, Result};
use bale_hash::{hash_bytes, hash_file, FileHash, Oid};

use crate::Odb;
impl Odb {
    /// Re-hashes an object and fails with [`Error::CorruptObject`] if its
    /// content does not match its name.
    pub fn verify(&self, oid: &Oid) -> Result<FileHash> {
        let path = self.object_path(oid);
        if !path.is_file() {
            return Err(Error::ObjectMissing { path, oid: oid.to_string() });
        }
        let got = hash_file(&path, oid.algo())?;
        if got.oid.digest() != oid.digest() {
            return Err(Error::CorruptObject { path, expected: oid.to_string(), actual: got.oid.hex_digest() });
        }
        Ok(got)
    }

    /// Moves a corrupt object out of the way, into `bale/corrupt/` of the
    /// store (kept for a look, never read again), so that the next fetch
    /// downloads a good copy. Returns where it went.
    pub fn quarantine(&self, oid: &Oid) -> Result<PathBuf> {
        let from = self.object_path(oid);
        let dir = self.corrupt_dir();
        fs::create_dir_all(&dir).at(&dir)?;
        let to = dir.join(format!("{}-{oid}", oid.algo()));
        fs::rename(&from, &to).at(&from)?;
        Ok(to)
    }

    /// The corrupt objects [`quarantine`](Self::quarantine) moved aside,
    /// with their sizes.
    pub fn quarantined(&self) -> Vec<(PathBuf, u64)> {
        let Ok(entries) = fs::read_dir(self.corrupt_dir()) else { return Vec::new() };
        entries.filter_map(|e| e.ok()).map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0))).collect()
    }

    /// Reads an object whole, verifying it on the way.
    pub fn read_verified(&self, oid: &Oid) -> Result<Vec<u8>> {
        let path = self.object_path(oid);
        let data = match fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::ObjectMissing { path, oid: oid.to_string() })
            }
            other => other.at(&path)?,
        };
        let got = hash_bytes(oid.algo(), &data, oid.is_tree());
        if got.digest() != oid.digest() {
            return Err(Error::CorruptObject { path, expected: oid.to_string(), actual: got.hex_digest() });
        }
        Ok(data)
    }

    /// The bytes of each object held whole and at most `limit` bytes long,
    /// each hashed before it is returned; `None` for the others (absent,
    /// bigger, kept as chunks only). Read in parallel: a training loop's
    /// batch of small files in one call, with no file written.
    pub fn read_small(&self, oids: &[Oid], limit: u64) -> Result<Vec<Option<Vec<u8>>>> {
        use rayon::prelude::*;
        oids.par_iter()
            .map(|oid| match fs::metadata(self.object_path(oid)) {
                Ok(m) if m.is_file() && m.len() <= limit => match self.read_verified(oid) {
                    Err(Error::ObjectMissing { .. }) => Ok(None), // gone since the stat
                    other => other.map(Some),
                },
                _ => Ok(None),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_hash::Algo;
    use std::os::unix::fs::PermissionsExt;
    #[test]
    fn corrupt_objects_are_reported_never_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("f");
        fs::write(&src, b"content").unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let (hash, _) = odb.add_file(&src, Algo::Md5, false).unwrap();
        let obj = odb.object_path(&hash.oid);
        fs::set_permissions(&obj, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&obj, b"tampered").unwrap();
        assert!(matches!(odb.verify(&hash.oid), Err(Error::CorruptObject { .. })));
        assert!(matches!(odb.read_verified(&hash.oid), Err(Error::CorruptObject { .. })));
    }

    #[test]
    fn read_small_returns_verified_bytes_of_small_whole_objects_only() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let mut oids = Vec::new();
        for (name, data) in [("a", &b"small"[..]), ("b", &[7u8; 100][..]), ("c", b"bad")] {
            let f = dir.path().join(name);
            fs::write(&f, data).unwrap();
            oids.push(odb.add_file(&f, Algo::Md5, false).unwrap().0.oid);
        }
        let absent = Oid::parse(Algo::Md5, "0123456789abcdef0123456789abcdef").unwrap();
        let got = odb.read_small(&[oids[0], oids[1], absent], 10).unwrap();
        assert_eq!(got, vec![Some(b"small".to_vec()), None, None]);
        let obj = odb.object_path(&oids[2]);
        fs::set_permissions(&obj, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&obj, b"BAD").unwrap();
        let err = odb.read_small(&oids, 1000).unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }), "{err}");
    }
}
