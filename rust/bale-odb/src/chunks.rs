//! Chunked files in the store (DESIGN.md §13.0): a chunk list beside a
//! file's object, chunks read as slices of whole objects or as loose
//! objects, verified rebuilds, and the compaction and gc rules that keep
//! every kept list rebuildable.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::fs::File;
use std::io::BufWriter;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bale_chunk::{
    chunk_file, chunk_file_against, rebuild, Against, Base, BlockMap, Chunk, ChunkList, ChunkSource, Params, TopList,
    DEFAULT_THRESHOLD, LIST_SUFFIX, TOP_VERSION,
};
use bale_error::{Error, IoContext, Result};
use bale_hash::{hash_bytes, Algo, FileHash, Oid};
use rayon::prelude::*;

use crate::fs::{RangeReader, TempFile};
use crate::put::{check_unchanged, Chunked};
use crate::{chunked, Odb, PutOutcome};

impl Odb {
    /// Where the chunk list of the blake3 file `oid` lives: beside its object.
    pub fn list_path(&self, oid: &Oid) -> PathBuf {
        let mut p = self.object_path(oid).into_os_string();
        p.push(LIST_SUFFIX);
        PathBuf::from(p)
    }

    pub fn has_list(&self, oid: &Oid) -> bool {
        oid.algo() == Algo::Blake3 && !oid.is_tree() && self.list_path(oid).is_file()
    }

    /// Whether the store can give `oid`'s content: its object, or (for a
    /// compacted file) its chunk list, whose chunks gc keeps available.
    pub fn has(&self, oid: &Oid) -> bool {
        self.exists(oid) || self.has_list(oid)
    }

    /// The chunk list of `oid`, `None` when the store has none. A damaged
    /// list, or a missing or damaged segment of one, is an error naming it.
    pub fn read_list(&self, oid: &Oid) -> Result<Option<ChunkList>> {
        let Some((bytes, path)) = self.list_bytes(oid)? else { return Ok(None) };
        let list = match stored_top(&bytes, &path)? {
            Some(top) => ChunkList::from_top(&top, &path, |id| self.object_bytes(id))?,
            None => ChunkList::decode(&bytes, &path)?,
        };
        if list.file != *oid {
            return Err(Error::BadManifest { path, reason: format!("chunk list of {} under another name", list.file) });
        }
        Ok(Some(list))
    }

    /// The segments `oid`'s list names (none for a flat list): loose objects
    /// kept as long as the list is.
    pub fn list_segments(&self, oid: &Oid) -> Result<Vec<Oid>> {
        let Some((bytes, path)) = self.list_bytes(oid)? else { return Ok(Vec::new()) };
        Ok(stored_top(&bytes, &path)?.map(|t| t.segments.iter().map(|s| s.id).collect()).unwrap_or_default())
    }

    fn list_bytes(&self, oid: &Oid) -> Result<Option<(Vec<u8>, PathBuf)>> {
        if oid.algo() != Algo::Blake3 || oid.is_tree() {
            return Ok(None);
        }
        let path = self.list_path(oid);
        match fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            other => Ok(Some((other.at(&path)?, path))),
        }
    }

    /// An object's bytes, unverified (the caller hashes them); `None` if absent.
    fn object_bytes(&self, oid: &Oid) -> Result<Option<Vec<u8>>> {
        let path = self.object_path(oid);
        match fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            other => other.at(&path).map(Some),
        }
    }

    /// Stores a list (first writer wins, like any object) in two levels
    /// (DESIGN.md §13.6): its segments as loose objects, then the top list
    /// that names them, so that versions of a file share the segments their
    /// edits did not touch.
    pub fn put_list(&self, list: &ChunkList) -> Result<PutOutcome> {
        let dest = self.list_path(&list.file);
        if dest.is_file() {
            return Ok(PutOutcome::Present);
        }
        let (top, segments) = list.segmented();
        for s in &segments {
            self.put_bytes(&s.id, &s.bytes)?;
        }
        let dir = dest.parent().expect("object paths have a fan-out directory");
        self.ensure_dir(dir)?;
        let mut tmp = TempFile::create_in(dir)?;
        tmp.write_all(&top)?;
        Ok(if tmp.persist_new(&dest)? { PutOutcome::Stored } else { PutOutcome::Present })
    }

    /// Stores list bytes that arrived from elsewhere (a pack), after checking
    /// they are a well-formed list of `oid`. The content is verified when the
    /// file is rebuilt.
    pub fn ingest_list(&self, oid: &Oid, bytes: &[u8], source: &str) -> Result<PutOutcome> {
        let list = ChunkList::decode(bytes, std::path::Path::new(source))?;
        if list.file != *oid {
            return Err(Error::BadManifest {
                path: PathBuf::from(source),
                reason: format!("chunk list of {} stored as the list of {oid}", list.file),
            });
        }
        self.put_list(&list)
    }

    /// Every blake3 file id the store holds a chunk list for.
    pub fn lists(&self) -> Result<Vec<Oid>> {
        self.scan(Algo::Blake3, |prefix, name, _| {
            let stem = name.strip_suffix(LIST_SUFFIX)?;
            Oid::parse(Algo::Blake3, &format!("{prefix}{stem}")).ok()
        })
    }

    /// Removes a list; a missing one is not an error.
    pub fn remove_list(&self, oid: &Oid) -> Result<()> {
        let path = self.list_path(oid);
        match fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other.at(&path),
        }
    }

    /// Rebuilds the object of a file the store holds only as a list, from
    /// `chunks`: every chunk and the whole are verified, and the object is
    /// published by rename only if all is well.
    pub fn rebuild(&self, oid: &Oid, chunks: &LocalChunks) -> Result<PutOutcome> {
        if self.exists(oid) {
            return Ok(PutOutcome::Present);
        }
        let list = self
            .read_list(oid)?
            .ok_or_else(|| Error::ObjectMissing { path: self.object_path(oid), oid: oid.to_string() })?;
        self.rebuild_list(&list, chunks)
    }

    /// Rebuilds the object `list` describes from `source` (see
    /// [`rebuild`](Self::rebuild)).
    pub fn rebuild_list(&self, list: &ChunkList, source: &impl ChunkSource) -> Result<PutOutcome> {
        let dest = self.object_path(&list.file);
        if dest.is_file() {
            return Ok(PutOutcome::Present);
        }
        let dir = dest.parent().expect("object paths have a fan-out directory");
        self.ensure_dir(dir)?;
        let mut tmp = TempFile::create_in(dir)?;
        write_rebuilt(list, source, tmp.file())?;
        Ok(if tmp.persist_new(&dest)? { PutOutcome::Stored } else { PutOutcome::Present })
    }

    /// Rebuilds the file `oid`, held as a list, into `out` (a temp file the
    /// caller publishes only on success: a list of good chunks for other
    /// bytes fails only at the end).
    pub fn rebuild_into(&self, oid: &Oid, source: &impl ChunkSource, out: &mut File) -> Result<()> {
        let list = self
            .read_list(oid)?
            .ok_or_else(|| Error::ObjectMissing { path: self.object_path(oid), oid: oid.to_string() })?;
        write_rebuilt(&list, source, out)
    }

    /// Rebuilds each of `oids` the store holds only as a list; returns those
    /// rebuilt now (verified on the way). The chunk sources are indexed
    /// once, and only if something needs them.
    pub fn restore(&self, oids: &[Oid]) -> Result<Vec<Oid>> {
        let needed: Vec<&Oid> = oids.iter().filter(|o| !self.exists(o) && self.has_list(o)).collect();
        if needed.is_empty() {
            return Ok(Vec::new());
        }
        let chunks = LocalChunks::scan(self)?;
        let mut rebuilt = Vec::new();
        for oid in needed {
            if self.rebuild(oid, &chunks)? == PutOutcome::Stored {
                rebuilt.push(*oid);
            }
        }
        Ok(rebuilt)
    }
}

fn write_rebuilt(list: &ChunkList, source: &impl ChunkSource, out: &mut File) -> Result<()> {
    let mut out = BufWriter::with_capacity(4 << 20, out);
    rebuild(list, source, &mut out).map(drop)
}

/// A stored list in two levels, `None` for a flat one (version 1, written
/// before lists were stored in two levels).
fn stored_top(bytes: &[u8], path: &Path) -> Result<Option<TopList>> {
    if bytes.get(7) != Some(&TOP_VERSION) {
        return Ok(None);
    }
    TopList::decode(bytes, path).map(Some)
}

/// The chunks the store holds as slices of whole objects that have a list:
/// what a new version of a chunked file is stored against
/// ([`Odb::add_version`]). Loose chunks are asked of the store directly.
pub struct HeldChunks {
    slices: HashSet<Oid>,
}

impl HeldChunks {
    pub fn scan(odb: &Odb) -> Result<Self> {
        Ok(HeldChunks { slices: LocalChunks::scan(odb)?.slices.into_keys().collect() })
    }

    /// Whether `odb` holds `chunk`: as a slice, or loose (asked only if no
    /// slice holds it).
    fn has(&self, odb: &Odb, chunk: &Oid) -> bool {
        self.slices.contains(chunk) || odb.exists(chunk)
    }
}

impl Odb {
    /// Stores a new version of a chunked file (DESIGN.md §13.0). Where the
    /// workspace keeps its own copy anyway, and at least half of the file's
    /// bytes are chunks the store already holds (slices of another version,
    /// or loose), the version is stored as its list plus the chunks the
    /// store lacks, read from `src` and verified: an edit then costs what
    /// changed, locally as on a remote. Otherwise it is stored as
    /// [`add_file`](Self::add_file) stores it. `held` is asked only once the
    /// file is hashed and found new.
    ///
    /// Hashing and storing are sequential here, where `add_file` overlaps a
    /// copy with the hash: the caller chooses this only for a file whose
    /// previous version was chunked, which is likely to share most chunks.
    pub fn add_version(
        &self,
        src: &Path,
        clone: bool,
        previous: &Oid,
        held: &dyn Fn() -> Result<Arc<HeldChunks>>,
    ) -> Result<(FileHash, PutOutcome)> {
        let before = fs::metadata(src).at(src)?;
        // A file hard-linked elsewhere (into the cache, say) is no copy of
        // the workspace's own: an edit in place would change both.
        if !chunked(Algo::Blake3, before.len()) || (clone && self.clones()) || before.nlink() > 1 {
            return self.add_file(src, Algo::Blake3, clone);
        }
        let (hash, chunked) = self.hash_against(src, previous)?;
        if self.has(&hash.oid) {
            return Ok((hash, PutOutcome::Present));
        }
        if let Some(c) = &chunked {
            let held = held()?;
            let missing: Vec<&Chunk> = c.list.chunks.iter().filter(|ch| !held.has(self, &ch.id)).collect();
            if missing.iter().map(|ch| ch.len).sum::<u64>() * 2 <= c.list.size {
                self.store_chunks(src, &missing)?;
                check_unchanged(src, &before, hash.size)?;
                // The list goes last: it promises chunks, all stored now.
                let outcome = self.put_list(&c.list)?;
                if let Some(map) = &c.blocks {
                    self.put_blocks(&c.list.file, map)?;
                }
                return Ok((hash, outcome));
            }
        }
        Ok((hash, self.store_copy(src, &before, &hash, chunked)?))
    }

    /// Hashes and chunks `src`, against `previous`'s list and block map
    /// where the store has both (re-chunking only the blocks that changed),
    /// else afresh.
    fn hash_against(&self, src: &Path, previous: &Oid) -> Result<(FileHash, Option<Chunked>)> {
        let list = self.read_list(previous).ok().flatten();
        let found = match (list, self.read_blocks(previous)) {
            (Some(list), Some(map)) => {
                match chunk_file_against(src, &Params::DEFAULT, &Base { list: &list, map: &map })? {
                    Against::Chunked(found) => found,
                    Against::Afresh => chunk_file(src, &Params::DEFAULT, DEFAULT_THRESHOLD)?,
                }
            }
            _ => chunk_file(src, &Params::DEFAULT, DEFAULT_THRESHOLD)?,
        };
        Chunked::of(found)
    }

    pub(crate) fn blocks_dir(&self) -> PathBuf {
        self.root().join("bale").join("blocks")
    }

    /// Stores the block map of the blake3 file `oid` (DESIGN.md §13.7),
    /// replacing any: a map is derived, and one that does not merge into
    /// its id is ignored until replaced.
    pub fn put_blocks(&self, oid: &Oid, map: &BlockMap) -> Result<()> {
        let dir = self.blocks_dir();
        self.ensure_dir(&dir)?;
        let mut tmp = TempFile::create_in(&dir)?;
        tmp.write_all(&map.encode(oid))?;
        tmp.persist(&dir.join(oid.hex_digest()))
    }

    /// The block map stored for `oid`, if there is one that merges into it:
    /// a damaged or foreign map is no map.
    pub fn read_blocks(&self, oid: &Oid) -> Option<BlockMap> {
        let bytes = fs::read(self.blocks_dir().join(oid.hex_digest())).ok()?;
        BlockMap::decode(&bytes, oid)
    }

    /// Every file id a block map is stored for.
    pub fn block_maps(&self) -> Result<Vec<Oid>> {
        let dir = self.blocks_dir();
        let entries = match fs::read_dir(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.at(&dir)?,
        };
        Ok(entries
            .filter_map(|e| e.ok()?.file_name().to_str().and_then(|n| Oid::parse(Algo::Blake3, n).ok()))
            .collect())
    }

    /// Removes a block map; a missing one is not an error.
    pub fn remove_blocks(&self, oid: &Oid) -> Result<()> {
        let path = self.blocks_dir().join(oid.hex_digest());
        match fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other.at(&path),
        }
    }

    /// Writes `chunks` loose, read from `src` at their offsets and checked
    /// against their ids.
    fn store_chunks(&self, src: &Path, chunks: &[&Chunk]) -> Result<()> {
        let file = File::open(src).at(src)?;
        chunks.par_iter().try_for_each(|c| {
            let mut buf = vec![0u8; c.len as usize];
            file.read_exact_at(&mut buf, c.offset).at(src)?;
            // Bytes that no longer hash to the chunk changed after hashing.
            if hash_bytes(Algo::Blake3, &buf, false) != c.id {
                return Err(Error::ChangedWhileHashing { path: src.to_path_buf() });
            }
            self.put_bytes(&c.id, &buf).map(drop)
        })
    }
}

/// Where the store holds chunks: loose objects, and slices of whole objects
/// that have a list (`chunk id → (file id, offset)`).
pub struct LocalChunks<'a> {
    odb: &'a Odb,
    slices: HashMap<Oid, (Oid, u64)>,
    reader: RangeReader,
}

impl<'a> LocalChunks<'a> {
    /// Slices of the given files, each of which must be whole in the store
    /// and have a list (others are skipped).
    pub fn of(odb: &'a Odb, files: impl IntoIterator<Item = Oid>) -> Result<Self> {
        let mut slices = HashMap::new();
        for file in files {
            if !odb.exists(&file) {
                continue;
            }
            // A whole file loses nothing with an unreadable list (a segment
            // gone, say): its chunks are just not offered as slices.
            if let Ok(Some(list)) = odb.read_list(&file) {
                for c in &list.chunks {
                    slices.entry(c.id).or_insert((file, c.offset));
                }
            }
        }
        Ok(LocalChunks { odb, slices, reader: RangeReader::default() })
    }

    /// Slices of every whole object in the store that has a list.
    pub fn scan(odb: &'a Odb) -> Result<Self> {
        Self::of(odb, odb.lists()?)
    }

    /// The slices found: chunk → (file, offset).
    pub(crate) fn into_slices(self) -> HashMap<Oid, (Oid, u64)> {
        self.slices
    }

    /// Whether `chunk` can be read here (loose or as a slice).
    pub fn has(&self, chunk: &Oid) -> bool {
        self.slices.contains_key(chunk) || self.odb.exists(chunk)
    }

    /// Where `chunk`'s bytes are: a loose object (offset 0) or a slice of
    /// an indexed file's object.
    pub fn place(&self, chunk: &Oid) -> Option<(PathBuf, u64)> {
        if self.odb.exists(chunk) {
            return Some((self.odb.object_path(chunk), 0));
        }
        self.slices.get(chunk).map(|(file, offset)| (self.odb.object_path(file), *offset))
    }

    /// Whether `chunk` is a slice of one of the indexed files.
    pub fn has_slice(&self, chunk: &Oid) -> bool {
        self.slices.contains_key(chunk)
    }
}

impl ChunkSource for LocalChunks<'_> {
    fn read_chunk(&self, id: &Oid, len: u64, buf: &mut Vec<u8>) -> Result<()> {
        let (path, offset) = self
            .place(id)
            .ok_or_else(|| Error::ObjectMissing { path: self.odb.object_path(id), oid: id.to_string() })?;
        self.reader.read(&path, offset, len, buf).at(&path)
    }
}

/// Bytes the store spends on `oids` (each counted once): whole objects,
/// chunk lists, and the loose chunks of compacted files that no whole object
/// here holds (a chunk shared by several files counts once). Objects the
/// store lacks count nothing.
pub fn stored_bytes(odb: &Odb, oids: &HashSet<Oid>) -> Result<u64> {
    let size = |p: PathBuf| fs::metadata(p).ok().filter(|m| m.is_file()).map_or(0, |m| m.len());
    let mut total: u64 = oids.par_iter().map(|o| size(odb.object_path(o)) + size(odb.list_path(o))).sum();
    // Segments of lists, each counted once: versions share most of theirs.
    let mut segments: HashSet<Oid> = HashSet::new();
    for oid in oids {
        segments.extend(odb.list_segments(oid)?);
    }
    total += segments.iter().filter(|s| !oids.contains(s)).map(|s| size(odb.object_path(s))).sum::<u64>();
    let compacted: Vec<&Oid> = oids.iter().filter(|o| !odb.exists(o) && odb.has_list(o)).collect();
    if compacted.is_empty() {
        return Ok(total);
    }
    let mut counted: HashSet<Oid> = HashSet::new();
    for oid in compacted {
        if let Some(list) = odb.read_list(oid)? {
            for c in list.chunks {
                // A chunk that is also one of `oids` is counted with them.
                if !oids.contains(&c.id) && counted.insert(c.id) && odb.exists(&c.id) {
                    total += c.len;
                }
            }
        }
    }
    Ok(total)
}

/// What [`settle`] did (or, dry, would do).
#[derive(Clone, Debug, Default)]
pub struct Settled {
    /// Loose chunks kept lists need: gc must not delete them.
    pub keep_chunks: HashSet<Oid>,
    /// Whole objects removed because their list and chunks now stand for them.
    pub compacted: u64,
    /// Bytes those objects held.
    pub compacted_bytes: u64,
    /// Loose chunks written so that kept lists stay rebuildable.
    pub chunks_written: u64,
    pub chunk_bytes: u64,
    /// Kept files held only as a list some of whose chunks are gone.
    pub lost: Vec<Oid>,
}

/// A kept file settle keeps as a list: its id, the size of a whole object it
/// removes (if any), and its list (`None` if unreadable).
type ToSettle = (Oid, Option<u64>, Option<ChunkList>);

/// Moves from `chunked` to `whole` every file asked to be compacted whose
/// bytes are mostly chunks that kept files held only as lists read from it
/// (not loose): compacting it would free nothing, only move those bytes into
/// loose chunks, and a checkout of those files would read a file per chunk.
fn keep_whole_what_others_need(odb: &Odb, chunked: &mut Vec<ToSettle>, whole: &mut Vec<Oid>) {
    let needed: HashSet<Oid> = chunked
        .iter()
        .filter(|(_, size, _)| size.is_none())
        .filter_map(|(_, _, list)| list.as_ref())
        .flat_map(|list| list.chunks.iter().map(|c| c.id))
        .collect();
    if needed.is_empty() {
        return;
    }
    chunked.retain(|(oid, size, list)| {
        let (Some(size), Some(list)) = (size, list) else { return true };
        let shared: u64 =
            list.chunks.iter().filter(|c| needed.contains(&c.id) && !odb.exists(&c.id)).map(|c| c.len).sum();
        let keep = shared * 2 >= *size;
        if keep {
            whole.push(*oid);
        }
        !keep
    });
}

/// Makes the chunked part of the store obey DESIGN.md §13.0 before gc
/// deletes anything: every chunk a kept list whose object is (or is about to
/// be) gone names is loose or a slice of a file kept whole.
///
/// `kept` are the blake3 files gc keeps; `compact` those of them to store as
/// chunks only (a whole object with other hard links is left alone). Loose
/// chunks are written from any source the store has now, garbage objects
/// included, and verified first. With `dry`, nothing is written or removed.
pub fn settle(odb: &Odb, kept: &HashSet<Oid>, compact: &HashSet<Oid>, dry: bool) -> Result<Settled> {
    let lists = odb.lists()?;
    let mut settled = Settled::default();
    let mut whole = Vec::new();
    let mut chunked: Vec<ToSettle> = Vec::new();
    for oid in lists.iter().filter(|o| kept.contains(o)) {
        settled.keep_chunks.extend(odb.list_segments(oid).unwrap_or_default());
        let path = odb.object_path(oid);
        let meta = fs::metadata(&path).ok().filter(|m| m.is_file());
        // A list that no longer reads (a segment gone behind bale's back)
        // is `None`: as unrebuildable as one whose chunk is gone.
        let list = || odb.read_list(oid).ok().flatten();
        match meta {
            Some(m) if !compact.contains(oid) || m.nlink() > 1 => whole.push(*oid),
            Some(m) => chunked.push((*oid, Some(m.len()), list())),
            None => chunked.push((*oid, None, list())),
        }
    }
    keep_whole_what_others_need(odb, &mut chunked, &mut whole);
    if chunked.is_empty() {
        return Ok(settled);
    }
    let kept_whole = LocalChunks::of(odb, whole)?;
    // Everything readable now, garbage included: a chunk only a garbage
    // object holds is written loose before that object goes.
    let anywhere = LocalChunks::scan(odb)?;
    let mut buf = Vec::new();
    for (oid, size, list) in chunked {
        let Some(list) = list else {
            settled.lost.push(oid);
            continue;
        };
        settled.keep_chunks.extend(list.chunks.iter().map(|c| c.id));
        if list.chunks.iter().any(|c| !anywhere.has(&c.id)) {
            // Already unrebuildable (a chunk lost behind bale's back): there
            // is nothing to secure, and gc must not stop over it. Its whole
            // object, if any, stays.
            settled.lost.push(oid);
            continue;
        }
        for c in &list.chunks {
            if kept_whole.has_slice(&c.id) || odb.exists(&c.id) {
                continue;
            }
            settled.chunks_written += 1;
            settled.chunk_bytes += c.len;
            if !dry {
                anywhere.read_chunk(&c.id, c.len, &mut buf)?;
                odb.ingest_bytes(&c.id, &buf, &odb.object_path(&oid).to_string_lossy())?;
            }
        }
        if let Some(bytes) = size {
            settled.compacted += 1;
            settled.compacted_bytes += bytes;
            if !dry {
                odb.remove(&oid)?;
            }
        }
    }
    Ok(settled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_chunk::testing::random;
    use bale_chunk::{chunk_file, Params, DEFAULT_THRESHOLD};

    /// Adds `data` as a chunked file and returns its id.
    fn add(odb: &Odb, dir: &std::path::Path, name: &str, data: &[u8]) -> Oid {
        let src = dir.join(name);
        fs::write(&src, data).unwrap();
        let (hash, _) = odb.add_file(&src, Algo::Blake3, false).unwrap();
        assert!(odb.has_list(&hash.oid), "a file above the threshold gets a list at add");
        let listed = odb.read_list(&hash.oid).unwrap().unwrap();
        assert_eq!(
            listed,
            ChunkList::new(&chunk_file(&src, &Params::DEFAULT, DEFAULT_THRESHOLD).unwrap(), &Params::DEFAULT).unwrap()
        );
        hash.oid
    }

    #[test]
    fn compacted_versions_share_chunks_and_rebuild_identical() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let v1 = random(6 << 20, 1);
        let mut v2 = v1.clone();
        v2[3 << 20..(3 << 20) + 100_000].copy_from_slice(&random(100_000, 2));
        let mut v3 = v2.clone();
        v3.insert(10, 7);
        let (a, b, c) = (add(&odb, d.path(), "a", &v1), add(&odb, d.path(), "b", &v2), add(&odb, d.path(), "c", &v3));
        let small = d.path().join("small");
        fs::write(&small, b"tiny").unwrap();
        let (s, _) = odb.add_file(&small, Algo::Blake3, false).unwrap();
        assert!(!odb.has_list(&s.oid), "small files are one object");

        // Keep all three, v3 whole: v1 and v2 become lists + a few loose chunks.
        let kept: HashSet<Oid> = [a, b, c].into();
        let settled = settle(&odb, &kept, &[a, b].into(), false).unwrap();
        assert_eq!(settled.compacted, 2);
        assert!(!odb.exists(&a) && !odb.exists(&b) && odb.exists(&c));
        assert!(odb.has(&a) && odb.has(&b));
        assert!(settled.chunk_bytes < 1 << 20, "only what v3 does not hold: {}", settled.chunk_bytes);

        // v3 now goes (garbage): the chunks v1/v2 took from it are made loose first.
        let settled = settle(&odb, &[a, b].into(), &HashSet::new(), false).unwrap();
        assert!(settled.chunk_bytes > 5 << 20);
        odb.remove(&c).unwrap();
        odb.remove_list(&c).unwrap();
        assert_eq!(odb.restore(&[a, b]).unwrap(), [a, b]);
        assert_eq!(fs::read(odb.object_path(&a)).unwrap(), v1);
        assert_eq!(fs::read(odb.object_path(&b)).unwrap(), v2);
    }

    #[test]
    fn lists_are_stored_in_two_levels_and_flat_ones_still_read() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let a = add(&odb, d.path(), "a", &random(6 << 20, 21));
        let list = odb.read_list(&a).unwrap().unwrap();
        let segments = odb.list_segments(&a).unwrap();
        assert!(!segments.is_empty() && segments.iter().all(|s| odb.exists(s)));
        let top = fs::read(odb.list_path(&a)).unwrap();
        assert!(top.len() < 1024, "the top names segments, not chunks: {} bytes", top.len());

        // A cache written before: the flat list beside the object.
        fs::remove_file(odb.list_path(&a)).unwrap();
        fs::write(odb.list_path(&a), list.encode()).unwrap();
        assert_eq!(odb.read_list(&a).unwrap(), Some(list.clone()));
        assert!(odb.list_segments(&a).unwrap().is_empty());

        // A segment gone behind bale's back: the list is an error naming it.
        fs::remove_file(odb.list_path(&a)).unwrap();
        odb.put_list(&list).unwrap();
        odb.remove(&segments[0]).unwrap();
        let err = odb.read_list(&a).unwrap_err().to_string();
        assert!(err.contains("segment 0") && err.contains("missing"), "{err}");
    }

    #[test]
    fn a_new_version_is_stored_as_its_new_chunks_and_rebuilds_identical() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let v1 = random(8 << 20, 3);
        let a = add(&odb, d.path(), "a", &v1);
        let scans = std::sync::atomic::AtomicUsize::new(0);
        let held = || {
            scans.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            HeldChunks::scan(&odb).map(Arc::new)
        };
        let mut v2 = v1.clone();
        v2[5 << 20..(5 << 20) + 300_000].copy_from_slice(&random(300_000, 4));
        let src = d.path().join("work");
        fs::write(&src, &v2).unwrap();
        let (hash, outcome) = odb.add_version(&src, false, &a, &held).unwrap();
        assert_eq!(outcome, PutOutcome::Stored);
        assert_eq!(hash.oid.digest(), blake3::hash(&v2).as_bytes());
        assert!(!odb.exists(&hash.oid) && odb.has(&hash.oid), "stored as a list, not whole");
        let list = odb.read_list(&hash.oid).unwrap().unwrap();
        let loose: u64 = list.chunks.iter().filter(|c| odb.exists(&c.id)).map(|c| c.len).sum();
        assert!(loose > 0 && loose < 1 << 20, "only the chunks around the edit: {loose}");
        assert!(odb.listing(Algo::Blake3).has(&hash.oid), "a listing sees the list too");

        // Again: present, nothing hashed against.
        assert_eq!(odb.add_version(&src, false, &a, &held).unwrap().1, PutOutcome::Present);
        assert_eq!(scans.load(std::sync::atomic::Ordering::Relaxed), 1);

        // A file mostly unlike anything held is stored whole, with its list.
        let other = d.path().join("other");
        fs::write(&other, random(6 << 20, 5)).unwrap();
        let (o, _) = odb.add_version(&other, false, &a, &held).unwrap();
        assert!(odb.exists(&o.oid) && odb.has_list(&o.oid));

        // Compacting the first version would free nothing: the second reads
        // most of its chunks from it.
        let settled = settle(&odb, &[a, hash.oid].into(), &[a].into(), false).unwrap();
        assert_eq!((settled.compacted, settled.chunks_written), (0, 0));
        assert!(odb.exists(&a));

        // The version rebuilds, verified; and once the first version goes
        // (gc keeping only the second), its chunks are made loose first.
        let settled = settle(&odb, &[hash.oid].into(), &HashSet::new(), false).unwrap();
        assert!(settled.chunk_bytes > 7 << 20 && settled.lost.is_empty());
        odb.remove(&a).unwrap();
        odb.remove_list(&a).unwrap();
        assert_eq!(odb.restore(&[hash.oid]).unwrap(), [hash.oid]);
        assert_eq!(fs::read(odb.object_path(&hash.oid)).unwrap(), v2);
    }

    #[test]
    fn a_corrupt_loose_chunk_fails_the_rebuild_and_publishes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let a = add(&odb, d.path(), "a", &random(5 << 20, 9));
        settle(&odb, &[a].into(), &[a].into(), false).unwrap();
        assert!(!odb.exists(&a));
        let list = odb.read_list(&a).unwrap().unwrap();
        let victim = odb.object_path(&list.chunks[3].id);
        let mut perms = fs::metadata(&victim).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        fs::set_permissions(&victim, perms).unwrap();
        let mut bytes = fs::read(&victim).unwrap();
        bytes[100] ^= 1;
        fs::write(&victim, bytes).unwrap();
        let err = odb.restore(&[a]).unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }), "{err}");
        assert!(err.to_string().contains("chunk 3"), "{err}");
        assert!(!odb.exists(&a));
    }
}
