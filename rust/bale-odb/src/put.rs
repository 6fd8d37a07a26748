//! Putting objects in the store: a workspace file hashed and copied (or
//! cloned) in one read, bytes already hashed, and the chunk list a large
//! bale-native file is kept with.

use std::fs::{self, File};
use std::path::Path;
use std::sync::atomic::Ordering;

use bale_chunk::{chunk_file, BlockMap, ChunkList, ChunkedFile, Params, DEFAULT_THRESHOLD};
use bale_error::{Error, IoContext, Result};
use bale_hash::{hash_bytes, hash_file, Algo, FileHash, Oid};

use crate::fs::{clone_into, TempFile};
use crate::layout::{CLONE_UNSUPPORTED, CLONE_WORKS};
use crate::Odb;
/// Files up to this size are read into memory once, hashed, and written from
/// the same buffer only if the store lacks them.
const SMALL_FILE: u64 = 8 << 20;

/// What [`Odb::add_file`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was written now.
    Stored,
    /// The store already held it.
    Present,
}

/// How a chunked file is kept beside (or instead of) its object: its list,
/// and the block map its next version is chunked against.
pub(crate) struct Chunked {
    pub list: ChunkList,
    pub blocks: Option<BlockMap>,
}

impl Chunked {
    /// With the hash, for storing; `None` for a file of one chunk.
    pub(crate) fn of(found: ChunkedFile) -> Result<(FileHash, Option<Chunked>)> {
        let hash = FileHash { oid: found.id, size: found.size };
        if !found.is_chunked() {
            return Ok((hash, None));
        }
        let list = ChunkList::new(&found, &Params::DEFAULT)?;
        Ok((hash, Some(Chunked { list, blocks: found.blocks })))
    }
}

impl Odb {
    /// Hashes `src` and stores it, reading the file once. With `clone`, a
    /// missing object is made by a copy-on-write clone where the file system
    /// allows it (probed once per store), else by a copy.
    pub fn add_file(&self, src: &Path, algo: Algo, clone: bool) -> Result<(FileHash, PutOutcome)> {
        let before = fs::metadata(src).at(src)?;
        if clone && self.clones() {
            let (hash, list) = hash_for_store(src, algo, before.len())?;
            if let Some(outcome) = self.put_by_clone(src, &hash, &before)? {
                self.keep_list(list)?;
                return Ok((hash, outcome));
            }
            return Ok((hash, self.store_copy(src, &before, &hash, list)?));
        }
        if before.len() <= SMALL_FILE && !chunked(algo, before.len()) {
            let data = fs::read(src).at(src)?;
            check_unchanged(src, &before, data.len() as u64)?;
            let hash = FileHash { oid: hash_bytes(algo, &data, false), size: data.len() as u64 };
            let outcome = self.put_bytes(&hash.oid, &data)?;
            return Ok((hash, outcome));
        }
        // Large: hash and copy at once, each reading from the page cache;
        // the copy is the hashed content if the file did not change meanwhile.
        self.ensure_dir(&self.area(algo))?;
        let (hash, tmp) =
            rayon::join(|| hash_for_store(src, algo, before.len()), || copy_checked(src, &before, &self.area(algo)));
        let ((hash, list), tmp) = (hash?, tmp?);
        check_unchanged(src, &before, hash.size)?;
        // The list goes after the object: a list alone promises chunks the
        // store does not have (DESIGN.md §13.0), while an object without its
        // list (a killed add) is only pushed whole.
        let dest = self.object_path(&hash.oid);
        let outcome = if dest.is_file() { PutOutcome::Present } else { self.publish(tmp, &dest)? };
        self.keep_list(list)?;
        Ok((hash, outcome))
    }

    /// Whether copy-on-write clones work in this store, probed once per
    /// process on two scratch files. Knowing it before the first file is
    /// hashed lets a store that cannot clone hash and copy in parallel,
    /// rather than hash, fail to clone, then copy.
    pub fn clones(&self) -> bool {
        match self.clone_state.load(Ordering::Relaxed) {
            CLONE_WORKS => return true,
            CLONE_UNSUPPORTED => return false,
            _ => {}
        }
        // Beside the md5 and blake3 areas, not in one: an area's directory
        // times are its fingerprint (see `area_fingerprint`). In a folder
        // that already exists, so that the cache of a DVC repository gets no
        // folder of bale's: bale's own, else DVC 3's `files/`, else the
        // root, which is an area itself (DVC 2.x data's) but is used only in
        // a cache holding neither. A probe that cannot even be made (a
        // read-only cache root, say) decides nothing: the first store then
        // finds out, as it did before the probe.
        let dir = self.probe_dirs().into_iter().find(|d| d.is_dir()).unwrap_or_else(|| self.root().to_path_buf());
        let probe = || -> std::io::Result<bool> {
            self.ensure_dir(&dir).map_err(std::io::Error::other)?;
            let mut probe = TempFile::create_in(&dir).map_err(std::io::Error::other)?;
            probe.write_all(b"clone probe").map_err(std::io::Error::other)?;
            let source = File::open(probe.path())?;
            let mut copy = TempFile::create_in(&dir).map_err(std::io::Error::other)?;
            match clone_into(&source, copy.file()) {
                Ok(()) => Ok(true),
                Err(e) if crate::fs::link_unsupported(&e) => Ok(false),
                Err(e) => Err(e),
            }
        };
        let Ok(works) = probe() else { return true };
        self.clone_state.store(if works { CLONE_WORKS } else { CLONE_UNSUPPORTED }, Ordering::Relaxed);
        works
    }

    /// Stores `src`, hashed to `hash` already, by a copy (unless the store
    /// has it), then its list: the copy holds the hashed bytes if the file
    /// did not change since `before`.
    pub(crate) fn store_copy(
        &self,
        src: &Path,
        before: &fs::Metadata,
        hash: &FileHash,
        chunked: Option<Chunked>,
    ) -> Result<PutOutcome> {
        let dest = self.object_path(&hash.oid);
        let outcome = if dest.is_file() {
            PutOutcome::Present
        } else {
            let area = self.area(hash.oid.algo());
            self.ensure_dir(&area)?;
            let tmp = copy_checked(src, before, &area)?;
            check_unchanged(src, before, hash.size)?;
            self.publish(tmp, &dest)?
        };
        self.keep_list(chunked)?;
        Ok(outcome)
    }

    /// Stores a chunked file's list (after its object, if any: a list
    /// promises chunks) and its block map.
    pub(crate) fn keep_list(&self, chunked: Option<Chunked>) -> Result<()> {
        if let Some(c) = chunked {
            self.put_list(&c.list)?;
            if let Some(map) = &c.blocks {
                self.put_blocks(&c.list.file, map)?;
            }
        }
        Ok(())
    }

    fn publish(&self, tmp: TempFile, dest: &Path) -> Result<PutOutcome> {
        self.ensure_parent(dest)?;
        Ok(if tmp.persist_new(dest)? { PutOutcome::Stored } else { PutOutcome::Present })
    }

    /// `None` when this file system cannot clone (remembered for the store).
    fn put_by_clone(&self, src: &Path, hash: &FileHash, before: &fs::Metadata) -> Result<Option<PutOutcome>> {
        let dest = self.object_path(&hash.oid);
        if dest.is_file() {
            return Ok(Some(PutOutcome::Present));
        }
        let dir = self.ensure_parent(&dest)?;
        let source = File::open(src).at(src)?;
        let mut tmp = TempFile::create_in(&dir)?;
        match clone_into(&source, tmp.file()) {
            Ok(()) => self.clone_state.store(CLONE_WORKS, Ordering::Relaxed),
            Err(e) if crate::fs::link_unsupported(&e) => {
                self.clone_state.store(CLONE_UNSUPPORTED, Ordering::Relaxed);
                return Ok(None);
            }
            Err(e) => return Err(Error::io(&dest, e)),
        }
        // The clone was taken after hashing: it holds the hashed bytes if the
        // source did not change meanwhile.
        check_unchanged(src, before, hash.size)?;
        Ok(Some(if tmp.persist_new(&dest)? { PutOutcome::Stored } else { PutOutcome::Present }))
    }

    /// Stores bytes already known to hash to `oid` (the caller hashed them).
    pub fn put_bytes(&self, oid: &Oid, data: &[u8]) -> Result<PutOutcome> {
        let dest = self.object_path(oid);
        if dest.is_file() {
            return Ok(PutOutcome::Present);
        }
        let dir = self.ensure_parent(&dest)?;
        let mut tmp = TempFile::create_in(&dir)?;
        tmp.write_all(data)?;
        Ok(if tmp.persist_new(&dest)? { PutOutcome::Stored } else { PutOutcome::Present })
    }
}

/// Whether a file of `size` bytes is stored with a chunk list (DESIGN.md §13).
pub fn chunked(algo: Algo, size: u64) -> bool {
    algo == Algo::Blake3 && size >= DEFAULT_THRESHOLD
}

/// Hashes `src` for storing; a bale-native file above the threshold is
/// chunked in the same read, and its list comes back with the hash.
pub(crate) fn hash_for_store(src: &Path, algo: Algo, size: u64) -> Result<(FileHash, Option<Chunked>)> {
    if !chunked(algo, size) {
        return Ok((hash_file(src, algo)?, None));
    }
    Chunked::of(chunk_file(src, &Params::DEFAULT, DEFAULT_THRESHOLD)?)
}

/// Fails if `src` changed since `before` was taken.
pub(crate) fn check_unchanged(src: &Path, before: &fs::Metadata, size: u64) -> Result<()> {
    let after = fs::metadata(src).at(src)?;
    if after.len() != size || before.len() != size || after.modified().ok() != before.modified().ok() {
        return Err(Error::ChangedWhileHashing { path: src.to_path_buf() });
    }
    Ok(())
}

/// A kernel-side copy of `src` into a temp file in `dir`.
fn copy_checked(src: &Path, before: &fs::Metadata, dir: &Path) -> Result<TempFile> {
    let mut file = File::open(src).at(src)?;
    let mut tmp = TempFile::create_in(dir)?;
    let n = std::io::copy(&mut file, tmp.file()).at(src)?;
    if n != before.len() {
        return Err(Error::ChangedWhileHashing { path: src.to_path_buf() });
    }
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    #[test]
    fn md5_objects_use_dvc_layout_and_are_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("data.txt");
        fs::write(&src, b"hello\n").unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let (hash, outcome) = odb.add_file(&src, Algo::Md5, false).unwrap();
        assert_eq!(outcome, PutOutcome::Stored);
        let obj = dir.path().join("cache/files/md5/b1/946ac92492d2347c6235b4d2611184");
        assert_eq!(odb.object_path(&hash.oid), obj);
        assert_eq!(fs::read(&obj).unwrap(), b"hello\n");
        assert_eq!(fs::metadata(&obj).unwrap().permissions().mode() & 0o777, 0o444);
        let (_, again) = odb.add_file(&src, Algo::Md5, false).unwrap();
        assert_eq!(again, PutOutcome::Present);
    }

    #[test]
    fn large_files_stream_and_clone_fallback_store_the_same_object() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("big");
        let data: Vec<u8> = (0..(SMALL_FILE + 3) as usize).map(|i| (i % 251) as u8).collect();
        fs::write(&src, &data).unwrap();
        let a = Odb::new(dir.path().join("a"));
        let b = Odb::new(dir.path().join("b"));
        let (ha, _) = a.add_file(&src, Algo::Blake3, false).unwrap();
        let (hb, _) = b.add_file(&src, Algo::Blake3, true).unwrap();
        assert_eq!(ha, hb);
        assert_eq!(fs::read(a.object_path(&ha.oid)).unwrap(), data);
        assert_eq!(fs::read(b.object_path(&hb.oid)).unwrap(), data);
        assert_eq!((a.temps(), b.temps()), (vec![], vec![]), "no temp left behind");
    }

    /// The clone probe leaves nothing behind, and no folder of bale's in
    /// the cache of a DVC repository.
    #[test]
    fn the_clone_probe_leaves_a_dvc_cache_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        fs::create_dir_all(odb.area(Algo::Md5)).unwrap();
        let entries = || {
            let mut names: Vec<String> =
                fs::read_dir(odb.root()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
            names.sort();
            names
        };
        odb.clones();
        assert_eq!(entries(), vec!["files"]);
        // A probe killed between its two files leaves temps that gc finds.
        let left = odb.root().join("files").join(".bale999999999x0x0.tmp");
        fs::write(&left, b"clone probe").unwrap();
        assert!(odb.temps().iter().any(|(p, _, owner)| p == &left && *owner == 999_999_999));

        let native = Odb::new(dir.path().join("native"));
        fs::create_dir_all(native.area(Algo::Blake3)).unwrap();
        native.clones();
        assert_eq!(fs::read_dir(native.root().join("bale")).unwrap().count(), 1, "only the blake3 area");
    }

    #[test]
    fn a_shared_cache_has_group_writable_setgid_directories() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("f");
        fs::write(&src, b"x").unwrap();
        let odb = Odb::new(dir.path().join("cache")).shared_group(true);
        let (hash, _) = odb.add_file(&src, Algo::Md5, false).unwrap();
        let obj = odb.object_path(&hash.oid);
        for d in [obj.parent().unwrap(), &odb.area(Algo::Md5), odb.root()] {
            assert_eq!(fs::metadata(d).unwrap().permissions().mode() & 0o7777, 0o2775, "{d:?}");
        }
        assert_eq!(fs::metadata(&obj).unwrap().permissions().mode() & 0o777, 0o444);
    }
}
