//! Reading an object for an upload, verified on the way.
//!
//! The stat cache vouches for an object it saw hashed while its (inode,
//! size, mtime) stay the same, but bytes can rot under an unchanged stat.
//! What leaves for a remote is therefore hashed as it is read, and the last
//! bytes are handed out only if the whole hashes to the object's name: a
//! stream that ends early is an upload that never completes.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use bale_error::{Error, IoContext, Result};
use bale_hash::{Hasher, Oid};

/// A cache object read front to back, hashed as it goes.
pub struct VerifiedReader {
    path: PathBuf,
    oid: Oid,
    file: File,
    size: u64,
    read: u64,
    hasher: Option<Hasher>,
    /// What the check found, once it failed: every later read fails the
    /// same way, never looking like a clean end.
    failed: Option<String>,
}

impl VerifiedReader {
    /// Opens the object file `path`, which must hold `oid`.
    pub fn open(path: &Path, oid: Oid) -> Result<Self> {
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::ObjectMissing { path: path.to_path_buf(), oid: oid.to_string() },
            _ => Error::io(path, e),
        })?;
        let size = file.metadata().at(path)?.len();
        let hasher = Some(Hasher::new(oid.algo()));
        Ok(VerifiedReader { path: path.to_path_buf(), oid, file, size, read: 0, hasher, failed: None })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The next bytes, at most `max`; empty at the end. The read that
    /// reaches the end fails, giving nothing, if the object is not what its
    /// name says ([`Error::CorruptObject`]) or changed size.
    pub fn read(&mut self, max: usize) -> Result<Vec<u8>> {
        if let Some(actual) = &self.failed {
            return Err(self.corrupt(actual.clone()));
        }
        let want = (self.size - self.read).min(max as u64);
        let mut buf = Vec::with_capacity(want as usize);
        (&mut self.file).take(want).read_to_end(&mut buf).at(&self.path)?;
        if (buf.len() as u64) < want {
            return Err(Error::ChangedWhileHashing { path: self.path.clone() });
        }
        self.read += want;
        let Some(hasher) = self.hasher.as_mut() else { return Ok(buf) };
        hasher.update(&buf);
        if self.read == self.size {
            self.check()?;
        }
        Ok(buf)
    }

    /// Reads the rest, hashing it: fails as [`read`](Self::read) does.
    pub fn verify(&mut self) -> Result<()> {
        while self.hasher.is_some() {
            if self.read(bale_hash::READ_SIZE)?.is_empty() && self.hasher.is_some() {
                self.check()?;
            }
        }
        Ok(())
    }

    fn check(&mut self) -> Result<()> {
        let Some(hasher) = self.hasher.take() else { return Ok(()) };
        let mut probe = [0u8; 1];
        if self.file.read(&mut probe).at(&self.path)? != 0 {
            return Err(Error::ChangedWhileHashing { path: self.path.clone() });
        }
        let got = hasher.finish(self.oid.is_tree());
        if got.digest() != self.oid.digest() {
            self.failed = Some(got.hex_digest());
            return Err(self.corrupt(got.hex_digest()));
        }
        Ok(())
    }

    fn corrupt(&self, actual: String) -> Error {
        Error::CorruptObject { path: self.path.clone(), expected: self.oid.to_string(), actual }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_hash::{hash_bytes, Algo};

    fn read_all(r: &mut VerifiedReader, step: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let part = r.read(step)?;
            if part.is_empty() {
                return Ok(out);
            }
            out.extend(part);
        }
    }

    #[test]
    fn a_good_object_reads_whole_and_a_rotten_one_never_gives_its_last_bytes() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("obj");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        for algo in [Algo::Md5, Algo::Blake3] {
            let oid = hash_bytes(algo, &data, false);
            let mut r = VerifiedReader::open(&path, oid).unwrap();
            assert_eq!(read_all(&mut r, 3000).unwrap(), data);
            VerifiedReader::open(&path, oid).unwrap().verify().unwrap();

            let mut rotten = data.clone();
            rotten[9_999] ^= 1;
            let other = d.path().join("rotten");
            std::fs::write(&other, &rotten).unwrap();
            let mut r = VerifiedReader::open(&other, oid).unwrap();
            let mut given = 0;
            let err = loop {
                match r.read(3000) {
                    Ok(part) => given += part.len(),
                    Err(e) => break e,
                }
            };
            assert!(matches!(err, Error::CorruptObject { .. }), "{err}");
            assert_eq!(given, 9_000, "the last bytes are never handed out");
            assert!(r.read(3000).is_err(), "and no later read looks like a clean end");
            assert!(VerifiedReader::open(&other, oid).unwrap().verify().is_err());
        }
    }

    #[test]
    fn an_empty_object_verifies() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("empty");
        std::fs::write(&path, b"").unwrap();
        let oid = hash_bytes(Algo::Md5, b"", false);
        VerifiedReader::open(&path, oid).unwrap().verify().unwrap();
        let wrong = hash_bytes(Algo::Md5, b"x", false);
        assert!(VerifiedReader::open(&path, wrong).unwrap().verify().is_err());
    }
}
