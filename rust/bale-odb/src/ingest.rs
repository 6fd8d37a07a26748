//! Downloads into the store: a file, a landing or bytes in memory becomes
//! an object only if it hashes to the id it was fetched as.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use bale_error::{Error, IoContext, Result};
use bale_hash::{hash_bytes, hash_file, read_block, Algo, FileHash, Hasher, Oid, READ_SIZE};

use crate::fs::TempFile;
use crate::landing::Landing;
use crate::{Odb, PutOutcome};
impl Odb {
    /// A download of `oid` landing beside where it will live, hashed as it
    /// lands (see [`Landing`]). Its temp is named like every temp of the
    /// store, so `gc` removes it if the downloader dies.
    pub fn landing(&self, oid: &Oid) -> Result<Landing> {
        let dir = self.ensure_parent(&self.object_path(oid))?;
        Landing::create(&dir, *oid)
    }

    /// Publishes a finished [`landing`](Self::landing) as its object if it
    /// hashes to it (with the hash streamed while it landed, else hashed
    /// now); otherwise removes it and fails as [`ingest`](Self::ingest) does.
    pub fn ingest_landed(&self, landing: Landing, source: &str) -> Result<(FileHash, PutOutcome)> {
        let oid = landing.oid();
        let (tmp, streamed) = landing.finish()?;
        let got = match streamed {
            Some(hash) => hash,
            None => hash_file(tmp.path(), oid.algo())?,
        };
        self.publish_download(&oid, tmp, got, source)
    }

    /// Publishes the downloaded file `tmp` as `oid` if it hashes to `oid`;
    /// otherwise removes it and fails with [`Error::CorruptObject`] naming
    /// `source` (where the bytes came from). Returns the object's size.
    pub fn ingest(&self, oid: &Oid, tmp: &Path, source: &str) -> Result<(FileHash, PutOutcome)> {
        let tmp = TempFile::adopt(tmp.to_path_buf());
        let got = hash_file(tmp.path(), oid.algo())?;
        self.publish_download(oid, tmp, got, source)
    }

    /// The end of both ingests: `got` is what `tmp` hashed to.
    fn publish_download(
        &self,
        oid: &Oid,
        tmp: TempFile,
        got: FileHash,
        source: &str,
    ) -> Result<(FileHash, PutOutcome)> {
        use std::os::unix::fs::PermissionsExt;
        if got.oid.digest() != oid.digest() {
            return Err(Error::CorruptObject {
                path: PathBuf::from(source),
                expected: oid.to_string(),
                actual: got.oid.hex_digest(),
            });
        }
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(crate::fs::OBJECT_MODE)).at(tmp.path())?;
        let dest = self.object_path(oid);
        let dir = self.ensure_parent(&dest)?;
        let tmp = if same_device(tmp.path(), &dir) {
            tmp
        } else {
            // A download staged on another file system: a rename cannot
            // cross it, so copy next to the destination first.
            let near = TempFile::adopt(crate::fs::temp_path(&dir));
            fs::copy(tmp.path(), near.path()).at(tmp.path())?;
            near
        };
        let outcome = if tmp.persist_new(&dest)? { PutOutcome::Stored } else { PutOutcome::Present };
        Ok((got, outcome))
    }

    /// [`ingest`](Self::ingest) for a download held in memory: stored only
    /// if `data` hashes to `oid`.
    pub fn ingest_bytes(&self, oid: &Oid, data: &[u8], source: &str) -> Result<PutOutcome> {
        let got = hash_bytes(oid.algo(), data, oid.is_tree());
        if got.digest() != oid.digest() {
            return Err(Error::CorruptObject {
                path: PathBuf::from(source),
                expected: oid.to_string(),
                actual: got.hex_digest(),
            });
        }
        self.put_bytes(oid, data)
    }
}

/// Streams `reader` into `tmp`, hashing on the way;
/// returns the id of what was written and its size. `expected`: the size
/// the reader's file has now, which sizes the buffer (a small object is not
/// given, nor made to zero, a buffer of `READ_SIZE`); any size is read whole.
pub(crate) fn copy_hashing(
    reader: &mut impl Read,
    tmp: &mut TempFile,
    algo: Algo,
    tree: bool,
    path: &Path,
    expected: u64,
) -> Result<(Oid, u64)> {
    let mut hasher = Hasher::new(algo);
    // One more than the file: its first block then ends at end of file.
    let len = usize::try_from(expected).map_or(READ_SIZE, |n| n.saturating_add(1).min(READ_SIZE));
    let mut buf = vec![0u8; len];
    let mut size = 0u64;
    loop {
        let n = read_block(reader, &mut buf).at(path)?;
        if n > 0 {
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
            size += n as u64;
        }
        // A short block is the end: `read_block` fills the buffer otherwise.
        if n < buf.len() {
            break;
        }
    }
    Ok((hasher.finish(tree), size))
}

fn same_device(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    #[test]
    fn ingest_publishes_a_matching_download_and_removes_a_corrupt_one() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let md5 = |b: &[u8]| hash_bytes(Algo::Md5, b, false);
        let oid = md5(b"payload");
        let tmp = dir.path().join("download.tmp");
        fs::write(&tmp, b"payload").unwrap();
        assert_eq!(odb.ingest(&oid, &tmp, "remote").unwrap().1, PutOutcome::Stored);
        let meta = fs::metadata(odb.object_path(&oid)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o444);
        assert!(!tmp.exists());

        let other = md5(b"other");
        fs::write(&tmp, b"0ther").unwrap();
        let err = odb.ingest(&other, &tmp, "s3://b/k").unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }) && err.to_string().starts_with("s3://b/k"));
        assert!(!tmp.exists() && !odb.exists(&other));

        // A landing: the same check, on the hash streamed while it landed.
        let landed = odb.landing(&other).unwrap();
        landed.write(1, b"ther").unwrap();
        landed.write(0, b"0").unwrap();
        let tmp = landed.path().to_path_buf();
        let err = odb.ingest_landed(landed, "s3://b/k2").unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }) && err.to_string().starts_with("s3://b/k2"));
        assert!(!tmp.exists() && !odb.exists(&other));
        let landed = odb.landing(&oid).unwrap();
        landed.write(0, b"payload").unwrap();
        assert_eq!(odb.ingest_landed(landed, "remote").unwrap().1, PutOutcome::Present);

        assert!(matches!(odb.ingest_bytes(&other, b"0ther", "mem"), Err(Error::CorruptObject { .. })));
        assert!(!odb.exists(&other));
        assert_eq!(odb.ingest_bytes(&other, b"other", "mem").unwrap(), PutOutcome::Stored);
        assert_eq!(fs::read(odb.object_path(&other)).unwrap(), b"other");
    }
}
