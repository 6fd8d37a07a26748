//! The stat cache: which content a path had when it last had this
//! (inode, size, mtime). Keyed by repository-relative path so it survives
//! moving the repository; saved atomically, so concurrent readers see either
//! the old or the new file. It is only a cache: a missing or damaged file
//! costs a re-hash, never a wrong answer.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use bale_error::Result;
use bale_hash::{Algo, Oid};
use bale_odb::fs::write_atomic;

const MAGIC: &[u8; 10] = b"BALESTATE\x01";

/// A file whose mtime is this close to the moment it was read may still
/// change within the same timestamp tick without its mtime moving, so its
/// hash is not remembered (git's "racy clean" problem). Fine-grained file
/// systems tick every few milliseconds; a timestamp with no sub-second part
/// comes from a coarse one (ext4 with small inodes, FAT, some network file
/// systems), where a tick can be up to two seconds.
const RACY_NS: i64 = 50_000_000;
const RACY_COARSE_NS: i64 = 2_000_000_000;

fn racy(mtime_ns: i64, reference_ns: i64) -> bool {
    let tick = if mtime_ns % 1_000_000_000 == 0 { RACY_COARSE_NS } else { RACY_NS };
    mtime_ns + tick > reference_ns
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub inode: u64,
    pub size: u64,
    pub mtime_ns: i64,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    stat: Stat,
    oid: Oid,
}

#[derive(Default)]
pub struct State {
    path: PathBuf,
    /// Workspace paths and tree-completeness marks.
    entries: HashMap<String, Entry>,
    /// Cache objects known verified: parsed from `raw_objects` only when
    /// first asked for (`status` never does, and they are half the file).
    objects: OnceLock<HashMap<String, Entry>>,
    /// The serialized object entries as loaded, and how many there are.
    raw_objects: Vec<u8>,
    raw_count: usize,
    dirty: bool,
    /// Taken before this process read any file: the reference for racy
    /// timestamps of hashed files.
    opened_ns: i64,
}

/// Cache objects are keyed by absolute path under a prefix no workspace path
/// can have.
const OBJECT_PREFIX: &str = "\0cache:";

fn object_key(path: &Path) -> String {
    format!("{OBJECT_PREFIX}{}", path.display())
}

fn complete_key(oid: &Oid) -> String {
    format!("\0complete:{oid}")
}

/// The fingerprint travels in the entry's stat fields.
fn fingerprint_stat(fingerprint: u64) -> Stat {
    Stat { inode: 0, size: fingerprint, mtime_ns: 0 }
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

impl State {
    /// Loads the index at `path`; anything unreadable starts it empty.
    pub fn load(path: impl Into<PathBuf>) -> State {
        let path = path.into();
        let (entries, raw_objects, raw_count) = fs::read(&path).ok().and_then(|b| parse(&b)).unwrap_or_default();
        State { path, entries, raw_objects, raw_count, opened_ns: now_ns(), ..State::default() }
    }

    /// An index that is never saved.
    pub fn in_memory() -> State {
        State { opened_ns: now_ns(), ..State::default() }
    }

    pub fn len(&self) -> usize {
        self.entries.len() + self.objects.get().map_or(self.raw_count, HashMap::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn objects(&self) -> &HashMap<String, Entry> {
        self.objects.get_or_init(|| parse_entries(&self.raw_objects, self.raw_count).unwrap_or_default())
    }

    fn map_for(&mut self, key: &str) -> &mut HashMap<String, Entry> {
        if key.starts_with(OBJECT_PREFIX) {
            self.objects();
            self.objects.get_mut().expect("initialised above")
        } else {
            &mut self.entries
        }
    }

    /// The remembered hash of `key` if its stat is unchanged.
    pub fn get(&self, key: &str, stat: &Stat, algo: Algo) -> Option<Oid> {
        let map = if key.starts_with(OBJECT_PREFIX) { self.objects() } else { &self.entries };
        let e = map.get(key)?;
        (e.stat == *stat && e.oid.algo() == algo).then_some(e.oid)
    }

    /// Remembers a hash computed from the file's content now.
    pub fn record_hashed(&mut self, key: String, stat: Stat, oid: Oid) {
        if racy(stat.mtime_ns, self.opened_ns) {
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
        let new = Entry { stat, oid };
        let map = self.map_for(&key);
        match map.get(&key) {
            Some(old) if old.stat == stat && old.oid == oid => {}
            _ => {
                map.insert(key, new);
                self.dirty = true;
            }
        }
    }

    /// Whether the cache object at `path` was verified with this stat.
    pub fn object_verified(&self, path: &Path, stat: &Stat, oid: &Oid) -> bool {
        self.get(&object_key(path), stat, oid.algo()).is_some_and(|o| o == *oid)
    }

    /// Remembers that the cache object at `path` hashes to `oid`.
    pub fn record_object(&mut self, path: &Path, stat: Stat, oid: Oid) {
        self.remember(object_key(path), stat, oid);
    }

    /// Whether every object of tree `oid` was found in the cache when the
    /// cache area had this fingerprint ([`Odb::area_fingerprint`]).
    ///
    /// [`Odb::area_fingerprint`]: bale_odb::Odb::area_fingerprint
    pub fn tree_complete(&self, oid: &Oid, fingerprint: u64) -> bool {
        self.get(&complete_key(oid), &fingerprint_stat(fingerprint), oid.algo()) == Some(*oid)
    }

    /// Remembers that every object of tree `oid` was in the cache.
    pub fn record_tree_complete(&mut self, oid: Oid, fingerprint: u64) {
        self.remember(complete_key(&oid), fingerprint_stat(fingerprint), oid);
    }

    pub fn forget(&mut self, key: &str) {
        if self.map_for(key).remove(key).is_some() {
            self.dirty = true;
        }
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
        let data = match self.objects.get() {
            Some(objects) => serialize(self.entries.iter().chain(objects), self.entries.len() + objects.len(), &[]),
            // Never looked at: written back as it was read.
            None => serialize(self.entries.iter(), self.entries.len() + self.raw_count, &self.raw_objects),
        };
        write_atomic(&self.path, &data, 0o644)?;
        self.dirty = false;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn algo_code(a: Algo) -> u8 {
    match a {
        Algo::Md5 => 1,
        Algo::Md5Dos2Unix => 2,
        Algo::Blake3 => 3,
    }
}

fn serialize<'a>(entries: impl Iterator<Item = (&'a String, &'a Entry)>, count: usize, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + count * 96);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(count as u64).to_le_bytes());
    for (key, e) in entries {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&e.stat.inode.to_le_bytes());
        out.extend_from_slice(&e.stat.size.to_le_bytes());
        out.extend_from_slice(&e.stat.mtime_ns.to_le_bytes());
        out.push(algo_code(e.oid.algo()));
        out.push(e.oid.is_tree() as u8);
        let d = e.oid.digest();
        out.push(d.len() as u8);
        out.extend_from_slice(d);
    }
    out.extend_from_slice(raw);
    out
}

/// The path entries parsed, and the object entries' bytes set aside
/// unparsed with their count.
type Parsed = (HashMap<String, Entry>, Vec<u8>, usize);

fn parse(b: &[u8]) -> Option<Parsed> {
    let mut r = Reader { b, pos: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let n = r.u64()? as usize;
    let mut map = HashMap::with_capacity(n.min(10_000_000));
    let mut raw = Vec::new();
    let mut raw_count = 0;
    for _ in 0..n {
        let start = r.pos;
        let klen = r.u32()? as usize;
        let key = r.take(klen)?;
        if key.starts_with(OBJECT_PREFIX.as_bytes()) {
            r.take(24 + 2)?;
            let dlen = r.take(1)?[0] as usize;
            r.take(dlen)?;
            raw.extend_from_slice(&b[start..r.pos]);
            raw_count += 1;
            continue;
        }
        let key = std::str::from_utf8(key).ok()?.to_owned();
        map.insert(key, read_entry(&mut r)?);
    }
    Some((map, raw, raw_count))
}

fn parse_entries(b: &[u8], n: usize) -> Option<HashMap<String, Entry>> {
    let mut r = Reader { b, pos: 0 };
    let mut map = HashMap::with_capacity(n);
    for _ in 0..n {
        let klen = r.u32()? as usize;
        let key = std::str::from_utf8(r.take(klen)?).ok()?.to_owned();
        map.insert(key, read_entry(&mut r)?);
    }
    Some(map)
}

fn read_entry(r: &mut Reader) -> Option<Entry> {
    let stat = Stat { inode: r.u64()?, size: r.u64()?, mtime_ns: r.u64()? as i64 };
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
    Some(Entry { stat, oid: Oid::from_digest(algo, r.take(dlen)?, tree) })
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
        assert!(s.objects.get().is_none() && s.len() == 2);
        s.record_hashed("b".into(), stat, oid(3));
        s.save().unwrap();
        assert!(s.objects.get().is_none());
        let mut s = State::load(&p);
        assert!(s.object_verified(obj, &stat, &oid(2)));
        assert_eq!(s.get("b", &stat, Algo::Md5), Some(oid(3)));
        s.forget(&object_key(obj));
        s.save().unwrap();
        let s = State::load(&p);
        assert!(!s.object_verified(obj, &stat, &oid(2)) && s.len() == 2);
    }

    #[test]
    fn damaged_index_reads_as_empty() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state");
        fs::write(&p, b"BALESTATE\x01\xff\xff").unwrap();
        assert!(State::load(&p).is_empty());
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
}
