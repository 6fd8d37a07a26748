use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use bale_chunk::{chunk_file, Params, DEFAULT_THRESHOLD, LIST_SUFFIX};

use crate::chunks::Chunked;
use bale_error::{Error, IoContext, Result};
use bale_hash::{hash_bytes, hash_file, read_block, Algo, FileHash, Hasher, Oid, READ_SIZE};
use rayon::prelude::*;

use crate::fs::{clone_into, TempFile};
use crate::landing::Landing;

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

/// A content-addressed object store rooted at the cache directory.
const CLONE_UNKNOWN: u8 = 0;
const CLONE_WORKS: u8 = 1;
const CLONE_UNSUPPORTED: u8 = 2;

#[derive(Clone, Debug)]
pub struct Odb {
    root: PathBuf,
    /// Whether copy-on-write clones work in this store, once probed.
    clone_state: Arc<AtomicU8>,
    /// `cache.shared = group`: directories group-writable and setgid, as DVC
    /// makes them, so that a team can share one cache.
    shared_group: bool,
}

impl Odb {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Odb { root: root.into(), clone_state: Arc::new(AtomicU8::new(CLONE_UNKNOWN)), shared_group: false }
    }

    /// The same store with `cache.shared = group` semantics.
    pub fn shared_group(mut self, shared: bool) -> Self {
        self.shared_group = shared;
        self
    }

    /// Creates `dir` (inside the store) if missing, with the store's modes.
    pub fn ensure_dir(&self, dir: &Path) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(dir).at(dir)?;
        if self.shared_group {
            use std::os::unix::fs::PermissionsExt;
            let mut d = Some(dir);
            while let Some(cur) = d.filter(|c| c.starts_with(&self.root)) {
                fs::set_permissions(cur, fs::Permissions::from_mode(0o2775)).at(cur)?;
                d = cur.parent();
            }
        }
        Ok(())
    }

    fn ensure_parent(&self, dest: &Path) -> Result<PathBuf> {
        let dir = dest.parent().expect("object paths have a fan-out directory").to_path_buf();
        self.ensure_dir(&dir)?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the objects of one algorithm live.
    pub fn area(&self, algo: Algo) -> PathBuf {
        match algo {
            Algo::Md5 => self.root.join("files").join("md5"),
            Algo::Md5Dos2Unix => self.root.clone(),
            Algo::Blake3 => self.root.join("bale").join("blake3"),
        }
    }

    pub fn object_path(&self, oid: &Oid) -> PathBuf {
        let text = oid.to_string();
        let mut p = self.area(oid.algo());
        p.push(&text[..2]);
        p.push(&text[2..]);
        p
    }

    pub fn exists(&self, oid: &Oid) -> bool {
        self.object_path(oid).is_file()
    }

    /// An answer to "is it stored?" for many objects of one algorithm: a
    /// listing of the area when reading its directories costs less than a
    /// stat per object (a stat walks the whole path, a listing reads names
    /// in bulk), else a stat per question. The listing is taken once: an
    /// object stored after it reads as absent (and is stored again, which a
    /// put of an existing object tolerates); one removed after it reads as
    /// present, as after any stat, and writers hold the repository lock.
    pub fn presence(&self, algo: Algo, questions: usize) -> Presence<'_> {
        // About 40 bytes of directory per entry (a name of 30-66 characters
        // and its header) on ext4 and XFS: listing pays off while the area
        // holds at most a few entries per question.
        if questions < 1024 {
            return Presence::Stat(self);
        }
        let area = self.area(algo);
        let dir_bytes: u64 = fanouts().map(|f| fs::metadata(area.join(f)).map_or(0, |m| m.len())).sum();
        if dir_bytes / 40 > 4 * questions as u64 {
            return Presence::Stat(self);
        }
        self.listing(algo)
    }

    /// [`presence`](Self::presence) by listing, whatever it costs (by stats
    /// if the area cannot be listed).
    pub fn listing(&self, algo: Algo) -> Presence<'_> {
        let names = self.scan(algo, |prefix, name, entry| {
            // A symlinked object (a shared cache) counts if it leads to a file.
            let t = entry.file_type().ok()?;
            (t.is_file() || (t.is_symlink() && entry.path().is_file())).then(|| format!("{prefix}{name}"))
        });
        match names {
            Ok(names) => Presence::Listed(names.into_iter().collect()),
            Err(_) => Presence::Stat(self),
        }
    }

    /// The directory objects of `algo` in the store, newest first (by
    /// mtime: the order they were stored), at most `limit`.
    pub fn recent_trees(&self, algo: Algo, limit: usize) -> Result<Vec<Oid>> {
        let suffix = algo.tree_suffix();
        let mut found = self.scan(algo, |prefix, name, entry| {
            if !name.ends_with(suffix) {
                return None;
            }
            let oid = Oid::parse(algo, &format!("{prefix}{name}")).ok()?;
            Some((entry.metadata().ok()?.modified().ok()?, oid))
        })?;
        found.sort_unstable_by_key(|f| std::cmp::Reverse(f.0));
        Ok(found.into_iter().take(limit).map(|(_, oid)| oid).collect())
    }

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

    /// Where the clone probe runs: the first of these that exists.
    fn probe_dirs(&self) -> [PathBuf; 3] {
        [self.root.join("bale"), self.root.join("files"), self.root.clone()]
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
        let dir = self.probe_dirs().into_iter().find(|d| d.is_dir()).unwrap_or_else(|| self.root.clone());
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

    /// Where [`quarantine`](Self::quarantine) moves corrupt objects:
    /// `bale/corrupt/`, outside every object area (DESIGN.md §3).
    pub fn corrupt_dir(&self) -> PathBuf {
        self.root().join("bale").join("corrupt")
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

    /// Every object of one algorithm in the store, in no particular order.
    pub fn list(&self, algo: Algo) -> Result<Vec<(Oid, u64)>> {
        self.scan(algo, |prefix, name, entry| {
            let oid = Oid::parse(algo, &format!("{prefix}{name}")).ok()?;
            Some((oid, entry.metadata().map(|m| m.len()).unwrap_or(0)))
        })
    }

    /// What `pick` makes of each file of one algorithm's area (given its
    /// fan-out prefix and name), the 256 fan-out directories read in parallel.
    pub(crate) fn scan<T: Send>(
        &self,
        algo: Algo,
        pick: impl Fn(&str, &str, &fs::DirEntry) -> Option<T> + Sync,
    ) -> Result<Vec<T>> {
        let area = self.area(algo);
        let per_prefix: Vec<Result<Vec<T>>> = fanouts()
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|prefix| {
                let dir = area.join(&prefix);
                let entries = match fs::read_dir(&dir) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    other => other.at(&dir)?,
                };
                let mut found = Vec::new();
                for entry in entries {
                    let entry = entry.at(&dir)?;
                    let name = entry.file_name();
                    if let Some(t) = name.to_str().and_then(|name| pick(&prefix, name, &entry)) {
                        found.push(t);
                    }
                }
                Ok(found)
            })
            .collect();
        let mut all = Vec::new();
        for part in per_prefix {
            all.extend(part?);
        }
        Ok(all)
    }

    /// Temp files left by bale processes that are no longer running (a
    /// killed `add` or `pull`), with their sizes. Live writers' temps are kept.
    pub fn stale_temps(&self) -> Result<Vec<(PathBuf, u64)>> {
        Ok(self
            .temps()
            .into_iter()
            .filter(|(_, _, owner)| !crate::fs::pid_alive(*owner))
            .map(|(p, n, _)| (p, n))
            .collect())
    }

    /// Every bale temp file in the store, with its size and the pid that
    /// made it.
    pub fn temps(&self) -> Vec<(PathBuf, u64, u32)> {
        // Where the clone probe may leave a pair, if killed in between.
        let mut dirs = self.probe_dirs().to_vec();
        for algo in [Algo::Md5, Algo::Blake3] {
            let area = self.area(algo);
            dirs.push(area.clone());
            dirs.extend(fanouts().map(|f| area.join(f)));
        }
        dirs.push(self.blocks_dir());
        let is_temp = |_: &Path, name: &str| crate::fs::temp_owner(name).is_some();
        let found: Vec<Vec<(PathBuf, u64)>> =
            dirs.par_iter().map(|dir| crate::fs::find_temps(dir, false, &is_temp)).collect();
        let owner = |path: &Path| path.file_name().and_then(|n| n.to_str()).and_then(crate::fs::temp_owner);
        found.into_iter().flatten().filter_map(|(path, size)| owner(&path).map(|pid| (path, size, pid))).collect()
    }

    /// A fingerprint of every fan-out directory of one algorithm's area: their
    /// inodes and mtimes. Removing or adding any object changes its
    /// directory's mtime, so an unchanged fingerprint proves no object came or
    /// went. `None` while a directory changed too recently to be sure (a
    /// removal in the same timestamp tick would not move its mtime: see
    /// [`racy`](crate::fs::racy)).
    pub fn area_fingerprint(&self, algo: Algo) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        let area = self.area(algo);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos() as i64;
        let mut h = blake3::Hasher::new();
        for name in std::iter::once(String::new()).chain(fanouts()) {
            let dir = if name.is_empty() { area.clone() } else { area.join(&name) };
            let (ino, mtime) = match fs::metadata(&dir) {
                Ok(m) => (m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec()),
                Err(_) => (0, 0),
            };
            if mtime != 0 && crate::fs::racy(mtime, now) {
                return None;
            }
            h.update(&ino.to_le_bytes());
            h.update(&mtime.to_le_bytes());
        }
        Some(u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().ok()?))
    }

    /// [`area_fingerprint`](Self::area_fingerprint) right after this
    /// process changed the area: waits out one fine-grained timestamp tick
    /// at most (about 50 ms), and gives up on a coarse file system.
    pub fn settled_area_fingerprint(&self, algo: Algo) -> Option<u64> {
        // A fine tick is 50 ms: five looks 15 ms apart see past it.
        for look in 0..5 {
            if look > 0 {
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
            if let Some(f) = self.area_fingerprint(algo) {
                return Some(f);
            }
        }
        None
    }

    /// Removes an object; a missing one is not an error.
    pub fn remove(&self, oid: &Oid) -> Result<()> {
        let path = self.object_path(oid);
        match fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other.at(&path),
        }
    }
}

/// The names of an area's 256 fan-out directories, `00` to `ff`.
fn fanouts() -> impl Iterator<Item = String> + Send {
    (0..=255u8).map(|b| format!("{b:02x}"))
}

/// See [`Odb::presence`].
pub enum Presence<'a> {
    Stat(&'a Odb),
    /// Every object's id text (`<fan-out><rest>`, as its path spells it).
    Listed(std::collections::HashSet<String>),
}

impl Presence<'_> {
    /// Whether the store can give the object's content, as [`Odb::has`]
    /// says: its object, or the chunk list of a file stored as chunks.
    pub fn has(&self, oid: &Oid) -> bool {
        match self {
            Presence::Stat(odb) => odb.has(oid),
            Presence::Listed(names) => {
                let name = oid.to_string();
                names.contains(&name)
                    || (oid.algo() == Algo::Blake3 && !oid.is_tree() && names.contains(&(name + LIST_SUFFIX)))
            }
        }
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

/// Streams `reader` into `tmp`, hashing on the way;
/// returns the id of what was written and its size.
pub(crate) fn copy_hashing(
    reader: &mut impl Read,
    tmp: &mut TempFile,
    algo: Algo,
    tree: bool,
    path: &Path,
) -> Result<(Oid, u64)> {
    let mut hasher = Hasher::new(algo);
    let mut buf = vec![0u8; READ_SIZE];
    let mut size = 0u64;
    loop {
        let n = read_block(reader, &mut buf).at(path)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])?;
        size += n as u64;
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
    fn a_listing_answers_as_a_stat_does() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let oid = |b: &[u8]| hash_bytes(Algo::Md5, b, false);
        let (file, tree, absent) = (oid(b"file"), oid(b"{}").as_tree(), oid(b"absent"));
        odb.put_bytes(&file, b"file").unwrap();
        odb.put_bytes(&tree, b"{}").unwrap();
        fs::create_dir_all(odb.area(Algo::Md5).join("zz")).unwrap();
        let listed = odb.listing(Algo::Md5);
        assert!(matches!(listed, Presence::Listed(_)));
        for o in [file, tree, absent, file.as_tree()] {
            assert_eq!(listed.has(&o), odb.has(&o), "{o}");
        }
        assert!(matches!(odb.presence(Algo::Md5, 10), Presence::Stat(_)), "few questions: stat them");
    }

    #[test]
    fn recent_trees_are_the_directory_objects_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let tree = |b: &[u8]| hash_bytes(Algo::Md5, b, false).as_tree();
        let (old, new) = (tree(b"[1]"), tree(b"[2]"));
        odb.put_bytes(&old, b"[1]").unwrap();
        odb.put_bytes(&new, b"[2]").unwrap();
        odb.put_bytes(&hash_bytes(Algo::Md5, b"file", false), b"file").unwrap();
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        fs::File::open(odb.object_path(&old)).unwrap().set_modified(past).unwrap();
        assert_eq!(odb.recent_trees(Algo::Md5, 8).unwrap(), vec![new, old]);
        assert_eq!(odb.recent_trees(Algo::Md5, 1).unwrap(), vec![new]);
        assert!(odb.recent_trees(Algo::Blake3, 8).unwrap().is_empty());
    }

    #[test]
    fn the_area_fingerprint_settles_right_after_a_write_and_moves_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let put = |b: &[u8]| odb.put_bytes(&hash_bytes(Algo::Md5, b, false), b).unwrap();
        put(b"one");
        let before = odb.settled_area_fingerprint(Algo::Md5).expect("settles within one tick");
        put(b"two");
        let after = odb.settled_area_fingerprint(Algo::Md5).expect("settles within one tick");
        assert_ne!(before, after);
    }

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

    #[test]
    fn the_area_fingerprint_moves_when_an_object_goes() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let mut oids = Vec::new();
        for i in 0..3 {
            let f = dir.path().join(format!("f{i}"));
            fs::write(&f, format!("{i}")).unwrap();
            oids.push(odb.add_file(&f, Algo::Md5, false).unwrap().0.oid);
        }
        assert_eq!(odb.area_fingerprint(Algo::Md5), None, "just written: too recent to trust");
        let backdate = |secs: u64| {
            let area = odb.area(Algo::Md5);
            let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
            for e in fs::read_dir(&area).unwrap().flatten().map(|e| e.path()).chain([area.clone()]) {
                fs::File::open(&e).unwrap().set_modified(t).unwrap();
            }
        };
        backdate(100);
        let before = odb.area_fingerprint(Algo::Md5).expect("settled");
        assert_eq!(odb.area_fingerprint(Algo::Md5), Some(before));
        odb.remove(&oids[1]).unwrap();
        backdate(50);
        assert_ne!(odb.area_fingerprint(Algo::Md5), Some(before));
    }

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
    fn list_finds_every_object_and_skips_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path());
        for i in 0..20 {
            let f = dir.path().join(format!("src{i}"));
            fs::write(&f, format!("{i}")).unwrap();
            odb.add_file(&f, Algo::Md5, false).unwrap();
        }
        fs::write(odb.area(Algo::Md5).join("00").join(".x.tmp"), b"").unwrap_or(());
        assert_eq!(odb.list(Algo::Md5).unwrap().len(), 20);
        let dead = odb.area(Algo::Md5).join("ab").join(".bale4000000000x1x2.tmp");
        fs::create_dir_all(dead.parent().unwrap()).unwrap();
        fs::write(&dead, b"partial").unwrap();
        let live = odb.area(Algo::Md5).join("ab").join(format!(".bale{}x1x2.tmp", std::process::id()));
        fs::write(&live, b"in progress").unwrap();
        assert_eq!(odb.stale_temps().unwrap(), vec![(dead, 7)]);
        assert!(odb.list(Algo::Blake3).unwrap().is_empty());
    }
}
