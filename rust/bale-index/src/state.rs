//! The stat cache: which content a path had when it last had this
//! (inode, size, mtime). Keyed by repository-relative path so it survives
//! moving the repository; saved atomically, so concurrent readers see either
//! the old or the new file. It is only a cache: a missing or damaged file
//! costs a re-hash, never a wrong answer.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bale_error::{Error, IoContext, Result};
use bale_hash::{Algo, Oid};
use bale_odb::fs::{racy, TempFile};
use bale_odb::Odb;

use crate::table::{self, merge, BlockCache, Reader, Table};

pub use bale_odb::fs::{stat_of, Stat};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    stat: Stat,
    oid: Oid,
}

/// What a directory hashed to, remembered with a fingerprint of everything
/// its walk saw (names, stats, exec bits, empty directories): while the
/// fingerprint is unchanged, so is the id, and no file needs looking up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeMemo {
    pub fingerprint: [u8; 16],
    pub size: u64,
    pub nfiles: u64,
    pub oid: Oid,
}

/// The three kinds of record, each a section of the table.
const PATHS: usize = 0;
const OBJECTS: usize = 1;
const TREES: usize = 2;
const SECTIONS: usize = 3;

/// Bytes of new records held in memory before they are written out as a
/// sorted run: adding a million files holds this much, not a million
/// records.
const SPILL_BYTES: usize = 24 << 20;
/// Runs merged into one when there are more: a lookup asks each run.
const MAX_RUNS: usize = 8;
/// Blocks of the table kept in memory for lookups.
const CACHE_BYTES: usize = 32 << 20;

/// The stat cache: a sorted table on disk (read a block at a time), the
/// runs of new records written out during this command (newest last) and
/// the newest records in memory. A save merges them all into a new table.
pub struct State {
    path: PathBuf,
    base: Option<Table>,
    runs: Vec<(Table, TempFile)>,
    /// New records by section, encoded; `None` removes the key.
    fresh: [BTreeMap<String, Option<Vec<u8>>>; SECTIONS],
    fresh_bytes: usize,
    spill_bytes: usize,
    cache: BlockCache,
    dirty: bool,
    /// Taken before this process read any file: the reference for racy
    /// timestamps of hashed files.
    opened_ns: i64,
}

impl Default for State {
    fn default() -> Self {
        State {
            path: PathBuf::new(),
            base: None,
            runs: Vec::new(),
            fresh: Default::default(),
            fresh_bytes: 0,
            spill_bytes: SPILL_BYTES,
            cache: BlockCache::new(CACHE_BYTES),
            dirty: false,
            opened_ns: now_ns(),
        }
    }
}

/// A cache object's record is keyed by its id, not its path (a third of
/// the bytes): the stat recorded with it tells one cache's copy from
/// another's, as an inode, size and mtime name one file.
fn object_key(oid: &Oid) -> String {
    format!("{}{oid}", algo_code(oid.algo()))
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
    /// Loads the index at `path` (only its block index is read); anything
    /// unreadable starts it empty.
    pub fn load(path: impl Into<PathBuf>) -> State {
        let path = path.into();
        State { base: Table::open(&path, SECTIONS), path, ..State::default() }
    }

    /// An index that is never saved.
    pub fn in_memory() -> State {
        State::default()
    }

    /// Reads the per-file records a checkout will look up, when they fit
    /// the block cache, so that its workers do not stall at their first
    /// lookups (done on one thread while another reads the manifest).
    pub fn warm(&self) {
        let Some(base) = &self.base else { return };
        for section in [PATHS, OBJECTS] {
            base.warm(section, &self.cache, CACHE_BYTES / 4);
        }
    }

    /// How many records the index holds, about (a record both saved and
    /// changed since counts twice).
    pub fn len(&self) -> usize {
        let tables = self.base.iter().chain(self.runs.iter().map(|(t, _)| t));
        let saved: u64 = tables.map(|t| (0..SECTIONS).map(|s| t.count(s)).sum::<u64>()).sum();
        saved as usize + self.fresh.iter().map(BTreeMap::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The newest record of `key`, from memory, the runs or the table.
    fn lookup(&self, section: usize, key: &str) -> Option<Vec<u8>> {
        if let Some(v) = self.fresh[section].get(key) {
            return v.clone();
        }
        let tables = self.runs.iter().rev().map(|(t, _)| t).chain(self.base.as_ref());
        for t in tables {
            if let Some(v) = t.get(section, key.as_bytes(), &self.cache) {
                return v;
            }
        }
        None
    }

    fn lookup_as<T: Record>(&self, section: usize, key: &str) -> Option<T> {
        T::decode(&self.lookup(section, key)?)
    }

    /// Sets `key`; whether that changed anything.
    fn set<T: Record>(&mut self, section: usize, key: String, value: &T) -> bool {
        let bytes = value.encode();
        if self.lookup(section, &key).as_deref() == Some(bytes.as_slice()) {
            return false;
        }
        self.put(section, key, Some(bytes));
        true
    }

    /// Sets `key` to what was just read or written, without asking what it
    /// was: a file is recorded because it was hashed, so the record is new
    /// (a lookup per record would read a block for each, in no order).
    fn set_new<T: Record>(&mut self, section: usize, key: String, value: &T) {
        self.put(section, key, Some(value.encode()));
        self.dirty = true;
    }

    fn put(&mut self, section: usize, key: String, value: Option<Vec<u8>>) {
        self.fresh_bytes += key.len() + value.as_ref().map_or(0, Vec::len) + 64;
        self.fresh[section].insert(key, value);
        if self.fresh_bytes > self.spill_bytes && !self.path.as_os_str().is_empty() && self.spill().is_err() {
            // A cache that cannot spill (a read-only or full disk) keeps its
            // records in memory, without trying again at every record.
            self.spill_bytes = usize::MAX;
        }
    }

    /// Removes `key`; whether it was there.
    fn remove(&mut self, section: usize, key: &str) -> bool {
        if self.lookup(section, key).is_none() {
            return false;
        }
        self.put(section, key.to_owned(), None);
        true
    }

    /// Writes the records in memory out as a sorted run beside the table
    /// (a temp file, gone with the process), merging the runs into one
    /// when there are too many.
    fn spill(&mut self) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let fresh = std::mem::take(&mut self.fresh);
        let written = write_run(dir, |s| Box::new(fresh[s].iter().map(encoded)));
        let run = match written {
            Ok(run) => run,
            Err(e) => {
                self.fresh = fresh;
                return Err(e);
            }
        };
        self.fresh_bytes = 0;
        self.runs.push(run);
        if self.runs.len() > MAX_RUNS {
            let merged = write_run(dir, |s| {
                let streams = self.runs.iter().rev().map(|(t, _)| boxed(t.records(s))).collect();
                Box::new(merge(streams, true))
            })?;
            self.runs = vec![merged];
            self.cache.clear();
        }
        Ok(())
    }

    /// The remembered hash of `key` if its stat is unchanged.
    pub fn get(&self, key: &str, stat: &Stat, algo: Algo) -> Option<Oid> {
        let e: Entry = self.lookup_as(PATHS, key)?;
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
        self.set_new(PATHS, key, &Entry { stat, oid });
    }

    /// Whether the cache object of `oid` was verified with this stat.
    pub fn object_verified(&self, stat: &Stat, oid: &Oid) -> bool {
        self.lookup_as::<Entry>(OBJECTS, &object_key(oid)) == Some(Entry { stat: *stat, oid: *oid })
    }

    /// Remembers that the cache object with this stat hashes to `oid`.
    pub fn record_object(&mut self, stat: Stat, oid: Oid) {
        self.set_new(OBJECTS, object_key(&oid), &Entry { stat, oid });
    }

    /// Remembers that these objects of `odb` were verified just now (each
    /// hashed as it was written or read), with their stat as it is now.
    pub fn record_verified(&mut self, odb: &Odb, oids: &[Oid]) {
        for oid in oids {
            let path = odb.object_path(oid);
            if let Ok(meta) = fs::metadata(&path) {
                self.record_object(stat_of(&meta), *oid);
            }
        }
    }

    /// The remembered id of the directory at `key` (repository-relative) if
    /// its walk still has this fingerprint and it was hashed with `algo`.
    pub fn tree_memo(&self, key: &str, fingerprint: &[u8; 16], algo: Algo) -> Option<TreeMemo> {
        let m: TreeMemo = self.lookup_as(TREES, &memo_key(key))?;
        (m.fingerprint == *fingerprint && m.oid.algo() == algo).then_some(m)
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
        self.lookup_as::<TreeMemo>(TREES, &complete_key(oid)) == Some(complete_mark(*oid, fingerprint))
    }

    /// Remembers that every object of tree `oid` was in the cache.
    pub fn record_tree_complete(&mut self, oid: Oid, fingerprint: u64) {
        self.remember_tree(complete_key(&oid), complete_mark(oid, fingerprint));
    }

    fn remember_tree(&mut self, key: String, memo: TreeMemo) {
        self.dirty |= self.set(TREES, key, &memo);
    }

    pub fn forget(&mut self, key: &str) {
        self.dirty |= self.remove(PATHS, key);
    }

    /// Forgets every workspace path recorded with one of `inodes`: files
    /// hard-linked to a cache object found corrupt (and moved aside) share
    /// its bad bytes under a stat that did not change, so the hash recorded
    /// for them no longer holds. Rare (a corrupt object), so it reads every
    /// record once rather than keep an index by inode.
    pub fn forget_inodes(&mut self, inodes: &std::collections::HashSet<u64>) {
        if inodes.is_empty() {
            return;
        }
        let gone: Vec<String> = self
            .records(PATHS)
            .filter_map(|(k, v)| {
                let e = Entry::decode(&v?)?;
                inodes.contains(&e.stat.inode).then(|| String::from_utf8(k).ok()).flatten()
            })
            .collect();
        for key in gone {
            self.put(PATHS, key, None);
            self.dirty = true;
        }
    }

    /// Every record of `section` as it stands now, in key order.
    fn records(&self, section: usize) -> impl Iterator<Item = table::Record> + '_ {
        let mut streams: Vec<Box<dyn Iterator<Item = table::Record> + '_>> =
            vec![Box::new(self.fresh[section].iter().map(encoded))];
        streams.extend(self.runs.iter().rev().map(|(t, _)| boxed(t.records(section))));
        streams.extend(self.base.iter().map(|t| boxed(t.records(section))));
        merge(streams, false)
    }

    /// Writes the index if it changed: the table, the runs and what is in
    /// memory merged into a new table, streamed to disk. Failing to save is
    /// not an error for the command (the index is a cache), so the caller
    /// may ignore it.
    pub fn save(&mut self) -> Result<()> {
        if !self.dirty || self.path.as_os_str().is_empty() {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let _ = fs::create_dir_all(&dir);
        let (table, tmp) = write_table(&dir, |w, s| match &self.base {
            // A section nothing changed is copied a block at a time, unread.
            Some(base) if self.fresh[s].is_empty() && self.runs.iter().all(|(r, _)| r.count(s) == 0) => {
                w.copy_section(base, s)
            }
            _ => w.extend(self.records(s)),
        })?;
        tmp.persist(&self.path)?;
        self.base = Some(table);
        self.runs.clear();
        self.fresh = Default::default();
        self.fresh_bytes = 0;
        self.cache.clear();
        // A save killed half-way (by a command that holds no lock, like
        // `status`) left a temp as large as the state: the next save drops it.
        bale_odb::fs::sweep_temps(&dir, false, bale_odb::fs::QUIET_FOR);
        self.dirty = false;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn encoded((k, v): (&String, &Option<Vec<u8>>)) -> table::Record {
    (k.as_bytes().to_vec(), v.clone())
}

fn boxed<'a>(it: impl Iterator<Item = table::Record> + 'a) -> Box<dyn Iterator<Item = table::Record> + 'a> {
    Box::new(it)
}

/// Writes a table of the records `section(s)` gives for each section to a
/// temp file in `dir`; returns it open, with the temp that removes it
/// unless persisted.
fn write_run<'a>(
    dir: &Path,
    section: impl Fn(usize) -> Box<dyn Iterator<Item = table::Record> + 'a>,
) -> Result<(Table, TempFile)> {
    write_table(dir, |w, s| w.extend(section(s)))
}

type FileWriter<'f> = table::Writer<&'f mut fs::File>;

/// Writes a table to a temp file in `dir`, each section by `section(w, s)`.
fn write_table(dir: &Path, section: impl Fn(&mut FileWriter, usize) -> Result<()>) -> Result<(Table, TempFile)> {
    let mut tmp = TempFile::create_readable_in(dir)?;
    let path = tmp.path().to_path_buf();
    let mut w = table::Writer::new(tmp.file(), &path)?;
    for s in 0..SECTIONS {
        section(&mut w, s)?;
        w.end_section()?;
    }
    w.finish()?;
    let file = tmp.handle().try_clone().at(&path)?;
    let table = Table::from_file(file, SECTIONS).ok_or_else(|| Error::Io {
        path: path.clone(),
        source: std::io::Error::other("the stat cache just written does not read back"),
    })?;
    Ok((table, tmp))
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

/// A record's value, as the table holds it.
trait Record: Sized + PartialEq {
    fn read(r: &mut Reader) -> Option<Self>;
    fn write(&self, out: &mut Vec<u8>);

    fn decode(b: &[u8]) -> Option<Self> {
        let mut r = Reader::new(b);
        Self::read(&mut r).filter(|_| r.at_end())
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(72);
        self.write(&mut out);
        out
    }
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
    fn loading_reads_no_records_and_records_survive_saves() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state");
        let stat = Stat { inode: 7, size: 3, mtime_ns: 1_000 };
        let obj = Path::new("/cache/ab/cd");
        let mut s = State::load(&p);
        s.record_hashed("a".into(), stat, oid(1));
        s.record_object(stat, oid(2));
        s.save().unwrap();
        let mut s = State::load(&p);
        assert!(s.cache.blocks() == 0 && s.len() == 2, "only the index is read");
        s.record_hashed("b".into(), stat, oid(3));
        s.save().unwrap();
        let mut s = State::load(&p);
        assert!(s.object_verified(&stat, &oid(2)));
        assert_eq!(s.get("b", &stat, Algo::Md5), Some(oid(3)));
        s.dirty |= s.remove(OBJECTS, &object_key(&oid(2)));
        s.save().unwrap();
        let s = State::load(&p);
        assert!(!s.object_verified(&stat, &oid(2)) && s.len() == 2);
    }

    /// Records beyond the memory budget go to sorted runs on disk, merged
    /// when there are many: whatever was spilled, removed or replaced reads
    /// as a map of the same operations says, before and after a save.
    #[test]
    fn spilled_runs_read_as_one_map() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};
        let ops = proptest::collection::vec((0..300u16, 0..4u8, any::<bool>()), 1..1_500);
        TestRunner::new(Config::with_cases(12))
            .run(&ops, |ops| {
                let d = tempfile::tempdir().unwrap();
                let p = d.path().join("state");
                let mut s = State::load(&p);
                s.spill_bytes = 4_000;
                let mut model = std::collections::HashMap::new();
                for (i, (k, v, keep)) in ops.iter().enumerate() {
                    let key = format!("dir/{k:05}");
                    let stat = Stat { inode: u64::from(*k), size: u64::from(*v), mtime_ns: 1_000 };
                    if *keep {
                        s.record_hashed(key.clone(), stat, oid(*v));
                        model.insert(key, stat);
                    } else {
                        s.forget(&key);
                        model.remove(&key);
                    }
                    if i == ops.len() / 2 {
                        s.save().unwrap();
                        s = State::load(&p);
                        s.spill_bytes = 4_000;
                    }
                }
                prop_assert!(s.runs.len() <= MAX_RUNS);
                let check = |s: &State| {
                    for k in 0..300u16 {
                        let key = format!("dir/{k:05}");
                        let got = s.lookup_as::<Entry>(PATHS, &key).map(|e| e.stat);
                        assert_eq!(got, model.get(&key).copied(), "{key}");
                    }
                };
                check(&s);
                s.save().unwrap();
                prop_assert!(s.runs.is_empty());
                check(&State::load(&p));
                // Nothing but the table is left in the directory.
                prop_assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_cache_that_cannot_spill_keeps_its_records_and_stops_trying() {
        let d = tempfile::tempdir().unwrap();
        // Its directory is a file: no run (nor save) can be written there.
        fs::write(d.path().join("blocked"), b"").unwrap();
        let mut s = State::load(d.path().join("blocked/state"));
        s.spill_bytes = 1;
        let stat = Stat { inode: 1, size: 1, mtime_ns: 1_000 };
        s.record_hashed("a".into(), stat, oid(1));
        assert!(s.runs.is_empty() && s.spill_bytes == usize::MAX);
        s.record_hashed("b".into(), stat, oid(2));
        assert_eq!((s.get("a", &stat, Algo::Md5), s.get("b", &stat, Algo::Md5)), (Some(oid(1)), Some(oid(2))));
        assert!(s.save().is_err());
    }

    #[test]
    fn forgetting_inodes_reaches_records_in_every_layer() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state");
        let stat = |inode| Stat { inode, size: 1, mtime_ns: 1_000 };
        let mut s = State::load(&p);
        s.record_hashed("saved".into(), stat(1), oid(1));
        s.record_hashed("kept".into(), stat(2), oid(2));
        s.save().unwrap();
        let mut s = State::load(&p);
        s.spill_bytes = 1;
        s.record_hashed("spilled".into(), stat(1), oid(1));
        assert_eq!(s.runs.len(), 1);
        s.spill_bytes = SPILL_BYTES;
        s.record_hashed("fresh".into(), stat(1), oid(1));
        s.forget_inodes(&[1].into_iter().collect());
        for key in ["saved", "spilled", "fresh"] {
            assert_eq!(s.get(key, &stat(1), Algo::Md5), None, "{key}");
        }
        assert_eq!(s.get("kept", &stat(2), Algo::Md5), Some(oid(2)));
        s.save().unwrap();
        assert_eq!(State::load(&p).len(), 1);
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
        // Answering from memos never reads the per-file records.
        assert_eq!(s.cache.blocks(), 1, "the memos' block alone");
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
                s.record_object(stat, oid(i).as_tree());
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
            let _ = s.object_verified(&stat, &oid(1));
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
                exercise(d.path(), &[b"BALESTATE\x03".as_slice(), &tail].concat())?;
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

        /// A section claiming 2^60 records is refused when loaded, before
        /// anything is sized by it.
        #[test]
        fn a_huge_record_count_is_refused_at_load() {
            let d = tempfile::tempdir().unwrap();
            let mut bytes = saved(d.path(), 2);
            let index = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().unwrap()) as usize;
            bytes[index..index + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
            fs::write(d.path().join("state"), &bytes).unwrap();
            assert!(State::load(d.path().join("state")).is_empty());
            exercise(d.path(), &bytes).unwrap();
        }
    }
}
