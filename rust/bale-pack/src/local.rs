//! A folder remote's packs read where they are: the files a reader wants
//! whole, each hashed before its bytes are handed out, with nothing
//! downloaded into a cache first (a copy of 100,000 small files writes each
//! once, a stream writes none).

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bale_error::{Error, IoContext, Result};
use bale_hash::{hash_bytes, Algo, Oid};
use rayon::prelude::*;

use crate::{PackId, RemoteFile, RemoteIndex};

/// The packs of a folder remote rooted at `root`, found by `index` (its
/// index copies, refreshed by the caller).
pub struct LocalPacks<'a> {
    index: &'a RemoteIndex,
    root: PathBuf,
    /// Open packs; `None` for one the folder lacks (its files count as not held).
    files: Mutex<HashMap<PackId, Option<Arc<File>>>>,
}

impl<'a> LocalPacks<'a> {
    pub fn new(index: &'a RemoteIndex, root: &Path) -> Self {
        LocalPacks { index, root: root.to_path_buf(), files: Mutex::new(HashMap::new()) }
    }

    fn pack(&self, id: PackId) -> Result<Option<Arc<File>>> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = files.get(&id) {
            return Ok(f.clone());
        }
        let path = self.root.join(id.pack_key());
        let f = match File::open(&path) {
            Ok(f) => Some(Arc::new(f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&path, e)),
        };
        files.insert(id, f.clone());
        Ok(f)
    }

    /// The bytes of the blake3 file `oid` when a pack holds it in one piece
    /// of at most `limit` bytes, hashed; `None` when not (not listed, held
    /// as a chunk list, bigger, its pack not in the folder). Bytes that do
    /// not match the id fail, naming the pack.
    pub fn read(&self, oid: &Oid, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(RemoteFile::Whole(at)) = RemoteFile::locate(self.index, oid) else {
            return Ok(None);
        };
        if at.entry.length > limit {
            return Ok(None);
        }
        let Some(file) = self.pack(at.pack)? else {
            return Ok(None);
        };
        let path = || self.root.join(at.pack.pack_key());
        let mut data = vec![0u8; at.entry.length as usize];
        match file.read_exact_at(&mut data, at.entry.offset) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(Error::CorruptObject {
                    path: path(),
                    expected: oid.to_string(),
                    actual: "(cut short)".into(),
                })
            }
            other => other.at(path())?,
        }
        let got = hash_bytes(Algo::Blake3, &data, false);
        if got.digest() != oid.digest() {
            return Err(Error::CorruptObject { path: path(), expected: oid.to_string(), actual: got.hex_digest() });
        }
        Ok(Some(data))
    }

    /// [`read`](Self::read) of each of `oids`, in parallel.
    pub fn read_many(&self, oids: &[Oid], limit: u64) -> Result<Vec<Option<Vec<u8>>>> {
        oids.par_iter().map(|oid| self.read(oid, limit)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{plan_packs, push_items, write_pack};
    use bale_odb::{Odb, Progress};

    /// Small files pushed into one pack under `root` (a folder remote's
    /// layout); their ids, and the pack's path.
    fn pushed(d: &Path, files: &[&[u8]]) -> (RemoteIndex, Vec<Oid>, PathBuf) {
        let odb = Odb::new(d.join("cache"));
        let mut oids = Vec::new();
        for (i, data) in files.iter().enumerate() {
            let src = d.join(format!("f{i}"));
            std::fs::write(&src, data).unwrap();
            oids.push(odb.add_file(&src, Algo::Blake3, false).unwrap().0.oid);
        }
        let (items, missing) = push_items(&odb, &oids, &RemoteIndex::new(), &d.join("staging")).unwrap();
        assert!(missing.is_empty());
        let plans = plan_packs(items, 8 << 20);
        assert_eq!(plans.len(), 1);
        let w = write_pack(&plans[0].items, &d.join("out"), &Progress::default()).unwrap();
        let at = d.join("remote").join(w.id.pack_key());
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::copy(&w.pack_path, &at).unwrap();
        (RemoteIndex::from_indexes([w.index]), oids, at)
    }

    #[test]
    fn reads_whole_files_from_the_packs_and_refuses_bad_bytes() {
        let d = tempfile::tempdir().unwrap();
        let (remote, oids, pack) = pushed(d.path(), &[b"alpha", b"beta beta", b"gamma"]);
        let local = LocalPacks::new(&remote, &d.path().join("remote"));
        let absent = hash_bytes(Algo::Blake3, b"not pushed", false);
        let got = local.read_many(&[oids[1], absent, oids[0]], 100).unwrap();
        assert_eq!(got, vec![Some(b"beta beta".to_vec()), None, Some(b"alpha".to_vec())]);
        assert_eq!(local.read(&oids[1], 4).unwrap(), None, "bigger than the limit");
        // A pack whose bytes changed under its index: refused, never handed out.
        let mut bytes = std::fs::read(&pack).unwrap();
        let at = bytes.windows(5).position(|w| w == b"gamma").unwrap();
        bytes[at] = b'G';
        std::fs::write(&pack, &bytes).unwrap();
        let err = LocalPacks::new(&remote, &d.path().join("remote")).read(&oids[2], 100).unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }), "{err}");
        // A pack the folder lacks: its files are not held there.
        std::fs::remove_file(&pack).unwrap();
        assert_eq!(LocalPacks::new(&remote, &d.path().join("remote")).read(&oids[0], 100).unwrap(), None);
    }
}
