//! The stat cache: which content a path had when it last had this
//! (inode, size, mtime). Keyed by repository-relative path so it survives
//! moving the repository; saved atomically, so concurrent readers see either
//! the old or the new file. It is only a cache: a missing or damaged file
//! costs a re-hash, never a wrong answer.

use std::collections::HashMap;
use std::fs::{self, Metadata};
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bale_error::Result;
use bale_hash::{Algo, Oid};
use bale_odb::fs::{racy, write_atomic};
use bale_odb::Odb;

const MAGIC: &[u8; 10] = b"BALESTATE\x02";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub inode: u64,
    pub size: u64,
    pub mtime_ns: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    stat: Stat,
    oid: Oid,
}

/// What a directory hashed to, remembered with a fingerprint of everything
/// its walk saw (names, stats, exec bits, empty directories): while the
/// fingerprint is unchanged, so is the id, and no file needs looking up.
/// The stat of a file as the cache keys it.
pub fn stat_of(meta: &Metadata) -> Stat {
    Stat { inode: meta.ino(), size: meta.len(), mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec() }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeMemo {
    pub fingerprint: [u8; 16],
    pub size: u64,
    pub nfiles: u64,
    pub oid: Oid,
}

/// One kind of record, kept as the bytes it was loaded from until first
/// asked for: a clean `status` answered by tree memos never parses the
/// per-file entries, which are most of the file.
struct Section<T> {
    /// The whole file as loaded, shared by the sections, and this one's part.
    file: Arc<Vec<u8>>,
    range: Range<usize>,
    count: usize,
    map: OnceLock<HashMap<String, T>>,
}

impl<T: Record> Default for Section<T> {
    fn default() -> Self {
        Section { file: Arc::default(), range: 0..0, count: 0, map: OnceLock::new() }
    }
}

impl<T: Record> Section<T> {
    fn raw(&self) -> &[u8] {
        &self.file[self.range.clone()]
    }

    fn map(&self) -> &HashMap<String, T> {
        self.map.get_or_init(|| parse_records(self.raw(), self.count).unwrap_or_default())
    }

    fn map_mut(&mut self) -> &mut HashMap<String, T> {
        self.map();
        self.map.get_mut().expect("initialised above")
    }

    fn len(&self) -> usize {
        self.map.get().map_or(self.count, HashMap::len)
    }

    /// Sets `key`; whether that changed anything.
    fn set(&mut self, key: String, value: T) -> bool {
        use std::collections::hash_map::Entry::{Occupied, Vacant};
        match self.map_mut().entry(key) {
            Occupied(o) if *o.get() == value => false,
            Occupied(mut o) => {
                o.insert(value);
                true
            }
            Vacant(v) => {
                v.insert(value);
                true
            }
        }
    }

    /// Removes `key`; whether it was there.
    fn remove(&mut self, key: &str) -> bool {
        self.map().contains_key(key) && self.map_mut().remove(key).is_some()
    }

    fn write(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 16]);
        let count = match self.map.get() {
            Some(map) => {
                for (key, rec) in map {
                    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
                    out.extend_from_slice(key.as_bytes());
                    rec.write(out);
                }
                map.len()
            }
            // Never looked at: written back as it was read.
            None => {
                out.extend_from_slice(self.raw());
                self.count
            }
        };
        let nbytes = (out.len() - start - 16) as u64;
        out[start..start + 8].copy_from_slice(&(count as u64).to_le_bytes());
        out[start + 8..start + 16].copy_from_slice(&nbytes.to_le_bytes());
    }
}

#[derive(Default)]
pub struct State {
    path: PathBuf,
    /// Workspace paths, keyed by repository-relative path.
    paths: Section<Entry>,
    /// Cache objects known verified, keyed by absolute path.
    objects: Section<Entry>,
    /// Directory memos (`\0tree:<path>`) and completeness marks.
    trees: Section<TreeMemo>,
    dirty: bool,
    /// Taken before this process read any file: the reference for racy
    /// timestamps of hashed files.
    opened_ns: i64,
}

/// Borrowed for the lookups of a checkout, which makes one per file.
fn object_key(path: &Path) -> std::borrow::Cow<'_, str> {
    path.to_string_lossy()
}

fn complete_key(oid: &Oid) -> String {
    format!("\0complete:{oid}")
}

fn memo_key(key: &str) -> String {
    format!("\0tree:{key}")
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

impl State {
    /// Loads the index at `path`; anything unreadable starts it empty.
    pub fn load(path: impl Into<PathBuf>) -> State {
        let path = path.into();
        let opened_ns = now_ns();
        let mut state = fs::read(&path).ok().and_then(split).unwrap_or_default();
        state.path = path;
        state.opened_ns = opened_ns;
        state
    }

    /// An index that is never saved.
    pub fn in_memory() -> State {
        State { opened_ns: now_ns(), ..State::default() }
    }

    /// Parses the per-file records now, so that a command that will look
    /// files up (checkout) can do it on one thread while another reads the
    /// manifest, instead of stalling its workers at their first lookup.
    pub fn warm(&self) {
        self.paths.map();
        self.objects.map();
    }

    pub fn len(&self) -> usize {
        self.paths.len() + self.objects.len() + self.trees.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The remembered hash of `key` if its stat is unchanged.
    pub fn get(&self, key: &str, stat: &Stat, algo: Algo) -> Option<Oid> {
        let e = self.paths.map().get(key)?;
        (e.stat == *stat && e.oid.algo() == algo).then_some(e.oid)
    }

    /// Whether a file with this stat could still change without its stat
    /// showing it: such a file's hash is never remembered.
    pub fn is_racy(&self, stat: &Stat) -> bool {
        racy(stat.mtime_ns, self.opened_ns)
    }

    /// Remembers a hash computed from the file's content now.
    pub fn record_hashed(&mut self, key: String, stat: Stat, oid: Oid) {
        if self.is_racy(&stat) {
            self.forget(&key);
            return;
        }
        self.remember(key, stat, oid);
    }

    /// Remembers a hash for a file bale itself just wrote with that content.
    /// On a coarse-timestamp file system an edit right after the write could
    /// keep the mtime, so such files are not remembered.
    pub fn record_written(&mut self, key: String, stat: Stat, oid: Oid) {
        if stat.mtime_ns % 1_000_000_000 == 0 && racy(stat.mtime_ns, now_ns()) {
            self.forget(&key);
            return;
        }
        self.remember(key, stat, oid);
    }

    fn remember(&mut self, key: String, stat: Stat, oid: Oid) {
        self.dirty |= self.paths.set(key, Entry { stat, oid });
    }

    /// Whether the cache object at `path` was verified with this stat.
    pub fn object_verified(&self, path: &Path, stat: &Stat, oid: &Oid) -> bool {
        self.objects.map().get(object_key(path).as_ref()) == Some(&Entry { stat: *stat, oid: *oid })
    }

    /// Remembers that the cache object at `path` hashes to `oid`.
    pub fn record_object(&mut self, path: &Path, stat: Stat, oid: Oid) {
        self.dirty |= self.objects.set(object_key(path).into_owned(), Entry { stat, oid });
    }

    /// Remembers that these objects of `odb` were verified just now (each
    /// hashed as it was written or read), with their stat as it is now.
    pub fn record_verified(&mut self, odb: &Odb, oids: &[Oid]) {
        for oid in oids {
            let path = odb.object_path(oid);
            if let Ok(meta) = fs::metadata(&path) {
                self.record_object(&path, stat_of(&meta), *oid);
            }
        }
    }

    /// The remembered id of the directory at `key` (repository-relative) if
    /// its walk still has this fingerprint and it was hashed with `algo`.
    pub fn tree_memo(&self, key: &str, fingerprint: &[u8; 16], algo: Algo) -> Option<TreeMemo> {
        let m = self.trees.map().get(&memo_key(key))?;
        (m.fingerprint == *fingerprint && m.oid.algo() == algo).then_some(*m)
    }

    /// Remembers a directory's id for its walk's fingerprint. The caller
    /// makes sure no file of the walk [is racy](Self::is_racy).
    pub fn record_tree_memo(&mut self, key: &str, memo: TreeMemo) {
        self.remember_tree(memo_key(key), memo);
    }

    /// Whether every object of tree `oid` was found in the cache when the
    /// cache area had this fingerprint ([`Odb::area_fingerprint`]).
    ///
    /// [`Odb::area_fingerprint`]: bale_odb::Odb::area_fingerprint
    pub fn tree_complete(&self, oid: &Oid, fingerprint: u64) -> bool {
        self.trees.map().get(&complete_key(oid)) == Some(&complete_mark(*oid, fingerprint))
    }

    /// Remembers that every object of tree `oid` was in the cache.
    pub fn record_tree_complete(&mut self, oid: Oid, fingerprint: u64) {
        self.remember_tree(complete_key(&oid), complete_mark(oid, fingerprint));
    }

    fn remember_tree(&mut self, key: String, memo: TreeMemo) {
        self.dirty |= self.trees.set(key, memo);
    }

    pub fn forget(&mut self, key: &str) {
        self.dirty |= self.paths.remove(key);
    }

    /// Forgets every workspace path recorded with one of `inodes`: files
    /// hard-linked to a cache object found corrupt (and moved aside) share
    /// its bad bytes under a stat that did not change, so the hash recorded
    /// for them no longer holds.
    pub fn forget_inodes(&mut self, inodes: &std::collections::HashSet<u64>) {
        if inodes.is_empty() {
            return;
        }
        let map = self.paths.map_mut();
        let before = map.len();
        map.retain(|_, e| !inodes.contains(&e.stat.inode));
        self.dirty |= map.len() != before;
    }

    /// Writes the index if it changed. Failing to save is not an error for
    /// the command (the index is a cache), so the caller may ignore it.
    pub fn save(&mut self) -> Result<()> {
        if !self.dirty || self.path.as_os_str().is_empty() {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            let _ = fs::create_dir_all(dir);
        }
        let mut data = Vec::with_capacity(MAGIC.len() + 48 + self.len() * 96);
        data.extend_from_slice(MAGIC);
        self.paths.write(&mut data);
        self.objects.write(&mut data);
        self.trees.write(&mut data);
        write_atomic(&self.path, &data, 0o644)?;
        // A save killed half-way (by a command that holds no lock, like
        // `status`) left a temp as large as the state: the next save drops it.
        if let Some(dir) = self.path.parent() {
            bale_odb::fs::sweep_temps(dir, false, bale_odb::fs::QUIET_FOR);
        }
        self.dirty = false;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A completeness mark: the area fingerprint travels in the memo's
/// fingerprint field.
fn complete_mark(oid: Oid, fingerprint: u64) -> TreeMemo {
    let mut f = [0; 16];
    f[..8].copy_from_slice(&fingerprint.to_le_bytes());
    TreeMemo { fingerprint: f, size: 0, nfiles: 0, oid }
}

fn algo_code(a: Algo) -> u8 {
    match a {
        Algo::Md5 => 1,
        Algo::Md5Dos2Unix => 2,
        Algo::Blake3 => 3,
    }
}

fn write_oid(oid: &Oid, out: &mut Vec<u8>) {
    out.push(algo_code(oid.algo()));
    out.push(oid.is_tree() as u8);
    let d = oid.digest();
    out.push(d.len() as u8);
    out.extend_from_slice(d);
}

fn read_oid(r: &mut Reader) -> Option<Oid> {
    let algo = match r.take(1)?[0] {
        1 => Algo::Md5,
        2 => Algo::Md5Dos2Unix,
        3 => Algo::Blake3,
        _ => return None,
    };
    let tree = r.take(1)?[0] != 0;
    let dlen = r.take(1)?[0] as usize;
    if dlen != algo.digest_len() {
        return None;
    }
    Some(Oid::from_digest(algo, r.take(dlen)?, tree))
}

/// A record's bytes after its key.
trait Record: Sized + PartialEq {
    fn read(r: &mut Reader) -> Option<Self>;
    fn write(&self, out: &mut Vec<u8>);
}

impl Record for Entry {
    fn read(r: &mut Reader) -> Option<Self> {
        let stat = Stat { inode: r.u64()?, size: r.u64()?, mtime_ns: r.u64()? as i64 };
        Some(Entry { stat, oid: read_oid(r)? })
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.stat.inode.to_le_bytes());
        out.extend_from_slice(&self.stat.size.to_le_bytes());
        out.extend_from_slice(&self.stat.mtime_ns.to_le_bytes());
        write_oid(&self.oid, out);
    }
}

impl Record for TreeMemo {
    fn read(r: &mut Reader) -> Option<Self> {
        let fingerprint = r.take(16)?.try_into().ok()?;
        Some(TreeMemo { fingerprint, size: r.u64()?, nfiles: r.u64()?, oid: read_oid(r)? })
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.fingerprint);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.nfiles.to_le_bytes());
        write_oid(&self.oid, out);
    }
}

/// The file cut into its sections, none parsed yet.
fn split(file: Vec<u8>) -> Option<State> {
    let file = Arc::new(file);
    let mut r = Reader { b: &file, pos: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let paths = section(&file, &mut r)?;
    let objects = section(&file, &mut r)?;
    let trees = section(&file, &mut r)?;
    (r.pos == file.len()).then_some(State { paths, objects, trees, ..State::default() })
}

fn section<T: Record>(file: &Arc<Vec<u8>>, r: &mut Reader) -> Option<Section<T>> {
    let count = usize::try_from(r.u64()?).ok()?;
    let nbytes = usize::try_from(r.u64()?).ok()?;
    // Every record opens with its key's 4-byte length: a count its bytes
    // cannot hold is a damaged file, refused before it sizes anything (a
    // save sizes its buffer by the count of a section never parsed).
    if count > nbytes / 4 {
        return None;
    }
    let start = r.pos;
    r.take(nbytes)?;
    Some(Section { file: Arc::clone(file), range: start..r.pos, count, map: OnceLock::new() })
}

fn parse_records<T: Record>(b: &[u8], n: usize) -> Option<HashMap<String, T>> {
    let mut r = Reader { b, pos: 0 };
    let mut map = HashMap::with_capacity(n.min(b.len() / 8));
    for _ in 0..n {
        let klen = r.u32()? as usize;
        let key = std::str::from_utf8(r.take(klen)?).ok()?.to_owned();
        map.insert(key, T::read(&mut r)?);
    }
    (r.pos == b.len()).then_some(map)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_digest(Algo::Md5, &[n; 16], false)
    }

    #[test]
    fn entries_survive_a_save_and_load() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("tmp/state");
        let stat = Stat { inode: 7, size: 3, mtime_ns: 1_000 };
        let mut s = State::load(&p);
        s.record_hashed("a/b.txt".into(), stat, oid(1));
        s.save().unwrap();
        let s = State::load(&p);
        assert_eq!(s.get("a/b.txt", &stat, Algo::Md5), Some(oid(1)));
        assert_eq!(s.get("a/b.txt", &Stat { mtime_ns: 1_001, ..stat }, Algo::Md5), None);
        assert_eq!(s.get("a/b.txt", &stat, Algo::Blake3), None);
    }

    #[test]
    fn object_entries_load_only_when_asked_and_survive_saves_unread() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state");
        let stat = Stat { inode: 7, size: 3, mtime_ns: 1_000 };
        let obj = Path::new("/cache/ab/cd");
        let mut s = State::load(&p);
        s.record_hashed("a".into(), stat, oid(1));
        s.record_object(obj, stat, oid(2));
        s.save().unwrap();
        // Saved again without touching the objects: they are kept verbatim.
        let mut s = State::load(&p);
        assert!(s.objects.map.get().is_none() && s.paths.map.get().is_none() && s.len() == 2);
        s.record_hashed("b".into(), stat, oid(3));
        s.save().unwrap();
        assert!(s.objects.map.get().is_none());
        let mut s = State::load(&p);
        assert!(s.object_verified(obj, &stat, &oid(2)));
        assert_eq!(s.get("b", &stat, Algo::Md5), Some(oid(3)));
        s.dirty |= s.objects.remove(&object_key(obj));
        s.save().unwrap();
        let s = State::load(&p);
        assert!(!s.object_verified(obj, &stat, &oid(2)) && s.len() == 2);
    }

    #[test]
    fn damaged_index_reads_as_empty() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state");
        fs::write(&p, b"BALESTATE\x02\xff\xff").unwrap();
        assert!(State::load(&p).is_empty());
        // A file of an older format is ignored, not misread.
        fs::write(&p, b"BALESTATE\x01\x00\x00\x00\x00\x00\x00\x00\x00").unwrap();
        assert!(State::load(&p).is_empty());
    }

    #[test]
    fn tree_memos_need_the_same_fingerprint_and_algorithm_and_survive_saves() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state");
        let memo = TreeMemo { fingerprint: [7; 16], size: 10, nfiles: 2, oid: oid(5).as_tree() };
        let mut s = State::load(&p);
        s.record_hashed("data/a".into(), Stat { inode: 1, size: 5, mtime_ns: 1_000 }, oid(1));
        s.record_tree_memo("data", memo);
        s.record_tree_complete(oid(5).as_tree(), 42);
        s.save().unwrap();
        let s = State::load(&p);
        assert_eq!(s.tree_memo("data", &[7; 16], Algo::Md5), Some(memo));
        assert_eq!(s.tree_memo("data", &[8; 16], Algo::Md5), None);
        assert_eq!(s.tree_memo("data", &[7; 16], Algo::Blake3), None);
        assert_eq!(s.tree_memo("other", &[7; 16], Algo::Md5), None);
        assert!(s.tree_complete(&oid(5).as_tree(), 42) && !s.tree_complete(&oid(5).as_tree(), 43));
        // Answering from memos never parses the per-file entries.
        assert!(s.paths.map.get().is_none());
    }

    #[test]
    fn racy_files_are_not_remembered() {
        let mut s = State::in_memory();
        let stat = Stat { inode: 1, size: 1, mtime_ns: now_ns() };
        s.record_hashed("f".into(), stat, oid(2));
        assert_eq!(s.get("f", &stat, Algo::Md5), None);
        // A whole-second mtime from a coarse file system, 1.5 s before the
        // command started: the same tick could still be running.
        let coarse = Stat { inode: 2, size: 1, mtime_ns: (s.opened_ns / 1_000_000_000 - 1) * 1_000_000_000 };
        s.record_hashed("g".into(), coarse, oid(3));
        assert_eq!(s.get("g", &coarse, Algo::Md5), None);
        s.record_written("g".into(), coarse, oid(3));
        assert_eq!(s.get("g", &coarse, Algo::Md5), None);
        let old = Stat { inode: 3, size: 1, mtime_ns: s.opened_ns - 10_000_000_000 };
        s.record_hashed("h".into(), old, oid(4));
        assert_eq!(s.get("h", &old, Algo::Md5), Some(oid(4)));
    }

    /// The state file is a cache on disk that any process may have left
    /// half-written or damaged: random and mutated files load as some
    /// state or as none, never a panic, and no count in the file sizes an
    /// allocation or a save.
    mod decoders {
        use super::*;
        use proptest::prelude::*;

        /// A saved state with a few records in every section.
        fn saved(dir: &Path, n: u8) -> Vec<u8> {
            let p = dir.join("valid");
            let mut s = State::load(&p);
            for i in 0..n {
                let stat = Stat { inode: i.into(), size: 3, mtime_ns: 1_000 };
                s.record_hashed(format!("f{i}"), stat, oid(i));
                s.record_object(&dir.join(format!("o{i}")), stat, oid(i).as_tree());
                let memo = TreeMemo { fingerprint: [i; 16], size: 9, nfiles: 2, oid: oid(i).as_tree() };
                s.record_tree_memo(&format!("d{i}"), memo);
            }
            s.save().unwrap();
            fs::read(&p).unwrap()
        }

        /// Loads `bytes` as a state file, asks it everything, changes one
        /// section and saves: what any command may do with a damaged file.
        fn exercise(dir: &Path, bytes: &[u8]) -> std::result::Result<(), TestCaseError> {
            let p = dir.join("state");
            fs::write(&p, bytes).unwrap();
            let mut s = State::load(&p);
            prop_assert!(s.len() <= bytes.len(), "{} records from {} bytes", s.len(), bytes.len());
            let stat = Stat { inode: 1, size: 3, mtime_ns: 1_000 };
            let _ = s.get("f1", &stat, Algo::Md5);
            s.record_hashed("new".into(), stat, oid(9));
            let _ = s.save();
            let mut s = State::load(&p);
            let _ = s.object_verified(&dir.join("o1"), &stat, &oid(1));
            let _ = s.tree_memo("d1", &[1; 16], Algo::Md5);
            s.forget("f2");
            let _ = s.save();
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn random_bytes_load_as_some_state_or_none(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
                let d = tempfile::tempdir().unwrap();
                exercise(d.path(), &tail)?;
                exercise(d.path(), &[MAGIC.as_slice(), &tail].concat())?;
            }

            #[test]
            fn a_mutated_state_file_loads_as_some_state_or_none(
                n in 1..4u8,
                edits in proptest::collection::vec((any::<usize>(), prop_oneof![any::<u64>(), Just(1u64 << 60), Just(u64::MAX)], any::<bool>()), 1..4),
            ) {
                let d = tempfile::tempdir().unwrap();
                let mut bytes = saved(d.path(), n);
                for (at, v, wide) in edits {
                    let w = if wide { 8 } else { 1 };
                    if bytes.len() >= w {
                        let at = at % (bytes.len() - w + 1);
                        bytes[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
                    }
                }
                exercise(d.path(), &bytes)?;
            }
        }

        /// A section claiming 2^60 records is refused when loaded, before a
        /// save sizes its buffer by it.
        #[test]
        fn a_huge_record_count_is_refused_at_load() {
            let d = tempfile::tempdir().unwrap();
            let mut bytes = saved(d.path(), 2);
            let objects =
                MAGIC.len() + 16 + u64::from_le_bytes(bytes[MAGIC.len() + 8..][..8].try_into().unwrap()) as usize;
            bytes[objects..objects + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
            exercise(d.path(), &bytes).unwrap();
        }
    }
}
