//! A sorted table of records on disk, read a block at a time: the stat
//! cache's file format, so that a command's memory does not grow with the
//! number of files it has ever seen (DESIGN.md §7, §16).
//!
//! A table file is `MAGIC`, then blocks of records sorted by key, then an
//! index (per section: its record count and, per block, where it lies and
//! its first and last keys), then the index's offset. Opening a table reads
//! only the index; a lookup reads the one block its key can be in. A record
//! is `[key length u32][key][value length u8][value]`, a value of length 0
//! marking a removed key (kept only in runs, which lie over older layers).
//!
//! Anything damaged reads as missing, never as a wrong record: a cache
//! costs a re-hash, not a wrong answer.

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bale_error::{IoContext, Result};

const MAGIC: &[u8; 10] = b"BALESTATE\x03";
/// A block is read whole for one lookup: small enough to read cheaply,
/// large enough that the index stays small (10 M records: ~150,000 blocks).
const BLOCK: usize = 4 * 1024;

/// One record as merged and written: a value of `None` is a removal.
pub type Record = (Vec<u8>, Option<Vec<u8>>);

#[derive(Clone, Debug)]
struct Block {
    offset: u64,
    len: u32,
    first: Box<[u8]>,
    last: Box<[u8]>,
}

#[derive(Clone, Debug, Default)]
struct Section {
    count: u64,
    blocks: Vec<Block>,
}

/// An open table file (its index in memory, its blocks on disk).
pub struct Table {
    file: File,
    /// Tells this table's blocks from another's in a shared [`BlockCache`].
    id: u64,
    sections: Vec<Section>,
}

impl Table {
    /// Opens the table at `path` with `nsections` sections; `None` if it is
    /// missing, of another format or its index is damaged.
    pub fn open(path: &Path, nsections: usize) -> Option<Table> {
        Table::from_file(File::open(path).ok()?, nsections)
    }

    /// The table written to `file` (open for reading).
    pub fn from_file(file: File, nsections: usize) -> Option<Table> {
        let len = file.metadata().ok()?.len();
        let mut head = [0; 10];
        file.read_exact_at(&mut head, 0).ok()?;
        if &head != MAGIC || len < (MAGIC.len() + 8) as u64 {
            return None;
        }
        let mut tail = [0; 8];
        file.read_exact_at(&mut tail, len - 8).ok()?;
        let index_at = u64::from_le_bytes(tail);
        if index_at < MAGIC.len() as u64 || index_at > len - 8 {
            return None;
        }
        let mut index = vec![0; usize::try_from(len - 8 - index_at).ok()?];
        file.read_exact_at(&mut index, index_at).ok()?;
        let sections = parse_index(&index, nsections, index_at)?;
        static IDS: AtomicU64 = AtomicU64::new(0);
        Some(Table { file, id: IDS.fetch_add(1, Ordering::Relaxed), sections })
    }

    /// How many records `section` holds (removals included).
    pub fn count(&self, section: usize) -> u64 {
        self.sections[section].count
    }

    /// The record of `key`: `Some(None)` where this table says it was
    /// removed, `None` where it says nothing.
    pub fn get(&self, section: usize, key: &[u8], cache: &BlockCache) -> Option<Option<Vec<u8>>> {
        let blocks = &self.sections[section].blocks;
        let i = blocks.partition_point(|b| &*b.first <= key).checked_sub(1)?;
        let b = &blocks[i];
        if key > &*b.last {
            return None;
        }
        let bytes = cache.get(self.id, b.offset, || self.read_block(b))?;
        let mut r = Reader::new(&bytes);
        while let Some((k, v)) = r.record() {
            match k.cmp(key) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return Some(v.map(<[u8]>::to_vec)),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }

    /// Reads `section`'s blocks into `cache` up front, when they are no
    /// more than `budget` bytes.
    pub fn warm(&self, section: usize, cache: &BlockCache, budget: usize) {
        let blocks = &self.sections[section].blocks;
        if blocks.iter().map(|b| b.len as usize).sum::<usize>() <= budget {
            for b in blocks {
                cache.get(self.id, b.offset, || self.read_block(b));
            }
        }
    }

    fn read_block(&self, b: &Block) -> Option<Vec<u8>> {
        let mut bytes = vec![0; b.len as usize];
        self.file.read_exact_at(&mut bytes, b.offset).ok()?;
        Some(bytes)
    }

    /// Every record of `section` in key order, read a block at a time (not
    /// through the cache: a merge reads each block once). A damaged block
    /// yields what it holds before the damage.
    pub fn records(&self, section: usize) -> impl Iterator<Item = Record> + '_ {
        self.sections[section].blocks.iter().flat_map(move |b| {
            let bytes = self.read_block(b).unwrap_or_default();
            let mut r = Reader::new(&bytes);
            let mut out = Vec::new();
            while let Some((k, v)) = r.record() {
                out.push((k.to_vec(), v.map(<[u8]>::to_vec)));
            }
            out
        })
    }
}

fn parse_index(b: &[u8], nsections: usize, data_end: u64) -> Option<Vec<Section>> {
    let mut r = Reader::new(b);
    let mut sections = Vec::with_capacity(nsections);
    let mut at = MAGIC.len() as u64;
    for _ in 0..nsections {
        let count = r.u64()?;
        let nblocks = usize::try_from(r.u64()?).ok()?;
        // Each block entry takes at least 20 bytes: a count the index
        // cannot hold is damage, refused before it sizes anything.
        if nblocks > b.len() / 20 {
            return None;
        }
        let mut blocks: Vec<Block> = Vec::with_capacity(nblocks);
        let mut bytes = 0u64;
        for _ in 0..nblocks {
            let offset = r.u64()?;
            let len = r.u32()?;
            let n = r.u32()? as usize;
            let first: Box<[u8]> = r.take(n)?.into();
            let n = r.u32()? as usize;
            let last: Box<[u8]> = r.take(n)?.into();
            // Blocks lie in order, one after another, before the index,
            // and their key ranges follow each other.
            let end = offset.checked_add(len.into())?;
            let ordered = blocks.last().is_none_or(|p| *p.last < *first);
            if offset != at || end > data_end || first > last || !ordered {
                return None;
            }
            at = end;
            bytes += u64::from(len);
            blocks.push(Block { offset, len, first, last });
        }
        // Every record takes at least 5 bytes.
        if count > bytes / 5 {
            return None;
        }
        sections.push(Section { count, blocks });
    }
    (r.pos == b.len() && at == data_end).then_some(sections)
}

/// Writes a table: the records of each section in turn, in key order.
pub struct Writer<W: Write> {
    out: BufWriter<W>,
    /// Named in errors.
    path: std::path::PathBuf,
    at: u64,
    block: Vec<u8>,
    first: Vec<u8>,
    last: Vec<u8>,
    current: Section,
    sections: Vec<Section>,
}

impl<W: Write> Writer<W> {
    /// A writer to `out`, the file at `path`.
    pub fn new(out: W, path: &Path) -> Result<Self> {
        let mut out = BufWriter::with_capacity(256 * 1024, out);
        out.write_all(MAGIC).at(path)?;
        Ok(Writer {
            out,
            path: path.to_path_buf(),
            at: MAGIC.len() as u64,
            block: Vec::with_capacity(BLOCK + 1024),
            first: Vec::new(),
            last: Vec::new(),
            current: Section::default(),
            sections: Vec::new(),
        })
    }

    /// Adds a record to the current section; keys must come in increasing
    /// order (one that does not, from a damaged input, is dropped).
    pub fn push(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        if (!self.block.is_empty() || !self.current.blocks.is_empty()) && key <= self.last.as_slice() {
            return Ok(());
        }
        let value = value.unwrap_or_default();
        debug_assert!(value.len() < 256);
        if self.block.is_empty() {
            self.first = key.to_vec();
        }
        self.block.extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.block.extend_from_slice(key);
        self.block.push(value.len() as u8);
        self.block.extend_from_slice(value);
        self.last.clear();
        self.last.extend_from_slice(key);
        self.current.count += 1;
        if self.block.len() >= BLOCK {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Adds every record of `records` (in key order).
    pub fn extend(&mut self, records: impl IntoIterator<Item = Record>) -> Result<()> {
        for (k, v) in records {
            self.push(&k, v.as_deref())?;
        }
        Ok(())
    }

    /// Adds `section` of `table` whole, as the section being written (it
    /// must be empty so far), copying its blocks without reading a record.
    pub fn copy_section(&mut self, table: &Table, section: usize) -> Result<()> {
        debug_assert!(self.block.is_empty() && self.current.blocks.is_empty());
        for b in &table.sections[section].blocks {
            let Some(bytes) = table.read_block(b) else { continue };
            self.out.write_all(&bytes).at(&self.path)?;
            self.current.blocks.push(Block { offset: self.at, ..b.clone() });
            self.at += u64::from(b.len);
        }
        self.current.count += table.sections[section].count;
        Ok(())
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        self.out.write_all(&self.block).at(&self.path)?;
        let len = self.block.len() as u32;
        let first = std::mem::take(&mut self.first).into_boxed_slice();
        let block = Block { offset: self.at, len, first, last: self.last.clone().into_boxed_slice() };
        self.current.blocks.push(block);
        self.at += u64::from(len);
        self.block.clear();
        Ok(())
    }

    /// Ends the current section and starts the next.
    pub fn end_section(&mut self) -> Result<()> {
        self.flush_block()?;
        self.sections.push(std::mem::take(&mut self.current));
        self.last.clear();
        Ok(())
    }

    /// Writes the index; returns the writer's output.
    pub fn finish(mut self) -> Result<W> {
        let mut index = Vec::new();
        for s in &self.sections {
            index.extend_from_slice(&s.count.to_le_bytes());
            index.extend_from_slice(&(s.blocks.len() as u64).to_le_bytes());
            for b in &s.blocks {
                index.extend_from_slice(&b.offset.to_le_bytes());
                index.extend_from_slice(&b.len.to_le_bytes());
                for key in [&b.first, &b.last] {
                    index.extend_from_slice(&(key.len() as u32).to_le_bytes());
                    index.extend_from_slice(key);
                }
            }
        }
        index.extend_from_slice(&self.at.to_le_bytes());
        self.out.write_all(&index).at(&self.path)?;
        let path = self.path;
        self.out.into_inner().map_err(|e| e.into_error()).at(path)
    }
}

/// Merges record streams, each in key order, given newest first: each key
/// once, as the newest stream that has it says. `keep_removals` keeps
/// removal records (for a run that still lies over older layers).
pub fn merge<'a>(
    streams: Vec<Box<dyn Iterator<Item = Record> + 'a>>,
    keep_removals: bool,
) -> impl Iterator<Item = Record> + 'a {
    Merge { streams: streams.into_iter().map(|s| Sorted { inner: s, last: None }).collect(), heap: None, keep_removals }
}

/// A stream with keys out of order (a damaged block) dropped: a merge
/// relies on order.
struct Sorted<'a> {
    inner: Box<dyn Iterator<Item = Record> + 'a>,
    last: Option<Vec<u8>>,
}

impl Iterator for Sorted<'_> {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        loop {
            let r = self.inner.next()?;
            if self.last.as_ref().is_none_or(|l| *l < r.0) {
                self.last = Some(r.0.clone());
                return Some(r);
            }
        }
    }
}

/// A stream's next record: its key, the stream's rank (newest 0), its value.
type Head = std::cmp::Reverse<(Vec<u8>, usize, Option<Vec<u8>>)>;

struct Merge<'a> {
    streams: Vec<Sorted<'a>>,
    /// Next record of each stream, smallest key first, newest stream first
    /// among equal keys.
    heap: Option<BinaryHeap<Head>>,
    keep_removals: bool,
}

impl Iterator for Merge<'_> {
    type Item = Record;
    fn next(&mut self) -> Option<Record> {
        if self.heap.is_none() {
            let mut heap = BinaryHeap::new();
            for (i, s) in self.streams.iter_mut().enumerate() {
                if let Some((k, v)) = s.next() {
                    heap.push(std::cmp::Reverse((k, i, v)));
                }
            }
            self.heap = Some(heap);
        }
        let heap = self.heap.as_mut().expect("filled above");
        loop {
            let std::cmp::Reverse((key, i, value)) = heap.pop()?;
            if let Some((k, v)) = self.streams[i].next() {
                heap.push(std::cmp::Reverse((k, i, v)));
            }
            // Older streams' records of the same key are overridden.
            while heap.peek().is_some_and(|std::cmp::Reverse((k, _, _))| *k == key) {
                let std::cmp::Reverse((_, j, _)) = heap.pop().expect("peeked");
                if let Some((k, v)) = self.streams[j].next() {
                    heap.push(std::cmp::Reverse((k, j, v)));
                }
            }
            if value.is_some() || self.keep_removals {
                return Some((key, value));
            }
        }
    }
}

/// Blocks read for lookups, kept up to a byte budget (oldest dropped
/// first): a walk in key order reads each block once, and a small table
/// stays whole in memory.
pub struct BlockCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

#[derive(Default)]
struct Shard {
    blocks: HashMap<(u64, u64), Arc<Vec<u8>>>,
    order: VecDeque<(u64, u64)>,
    bytes: usize,
}

impl BlockCache {
    pub fn new(budget: usize) -> Self {
        const SHARDS: usize = 16;
        BlockCache { shards: (0..SHARDS).map(|_| Mutex::default()).collect(), per_shard: budget / SHARDS }
    }

    fn get(&self, table: u64, offset: u64, read: impl FnOnce() -> Option<Vec<u8>>) -> Option<Arc<Vec<u8>>> {
        let key = (table, offset);
        let shard = &self.shards[((offset / BLOCK as u64) as usize ^ table as usize) % self.shards.len()];
        if let Some(b) = shard.lock().unwrap_or_else(|e| e.into_inner()).blocks.get(&key) {
            return Some(b.clone());
        }
        let bytes = Arc::new(read()?);
        let mut s = shard.lock().unwrap_or_else(|e| e.into_inner());
        if s.blocks.insert(key, bytes.clone()).is_none() {
            s.order.push_back(key);
            s.bytes += bytes.len();
        }
        while s.bytes > self.per_shard {
            let Some(old) = s.order.pop_front() else { break };
            if let Some(b) = s.blocks.remove(&old) {
                s.bytes -= b.len();
            }
        }
        Some(bytes)
    }

    /// How many blocks are held.
    pub fn blocks(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).blocks.len()).sum()
    }

    /// Drops every block (the tables they came from were replaced).
    pub fn clear(&self) {
        for s in &self.shards {
            *s.lock().unwrap_or_else(|e| e.into_inner()) = Shard::default();
        }
    }
}

/// Reads little-endian fields off a byte slice; `None` past its end.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.b.len()
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    /// The next record of a block: `None` at its end or at damage.
    fn record(&mut self) -> Option<(&'a [u8], Option<&'a [u8]>)> {
        let klen = self.u32()? as usize;
        let key = self.take(klen)?;
        let vlen = self.take(1)?[0] as usize;
        let value = self.take(vlen)?;
        Some((key, (vlen > 0).then_some(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn write(path: &Path, sections: &[Vec<Record>]) {
        let mut w = Writer::new(File::create(path).unwrap(), path).unwrap();
        for s in sections {
            w.extend(s.iter().cloned()).unwrap();
            w.end_section().unwrap();
        }
        w.finish().unwrap();
    }

    fn rec(k: &str, v: Option<&str>) -> Record {
        (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))
    }

    #[test]
    fn lookups_read_the_one_block_a_key_can_be_in() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t");
        let many: Vec<Record> = (0..20_000).map(|i| rec(&format!("k{i:06}"), Some(&format!("v{i}")))).collect();
        write(&p, &[many.clone(), vec![rec("a", None), rec("b", Some("x"))]]);
        let t = Table::open(&p, 2).unwrap();
        assert!(t.sections[0].blocks.len() > 10, "several blocks");
        assert_eq!((t.count(0), t.count(1)), (20_000, 2));
        let cache = BlockCache::new(1 << 20);
        for i in [0, 1, 777, 19_999] {
            assert_eq!(t.get(0, format!("k{i:06}").as_bytes(), &cache), Some(Some(format!("v{i}").into_bytes())));
        }
        assert_eq!(t.get(0, b"k", &cache), None);
        assert_eq!(t.get(0, b"k0000005", &cache), None);
        assert_eq!(t.get(0, b"z", &cache), None);
        assert_eq!(t.get(1, b"a", &cache), Some(None), "a removal is told apart from nothing");
        assert_eq!(t.records(0).collect::<Vec<_>>(), many);
        assert!(Table::open(&d.path().join("missing"), 2).is_none());
    }

    #[test]
    fn merge_takes_the_newest_record_of_each_key() {
        let newest = vec![rec("a", Some("3")), rec("c", None)];
        let older = vec![rec("a", Some("2")), rec("b", Some("2")), rec("c", Some("2"))];
        let oldest = vec![rec("b", Some("1")), rec("d", Some("1"))];
        let streams = || -> Vec<Box<dyn Iterator<Item = Record>>> {
            vec![
                Box::new(newest.clone().into_iter()),
                Box::new(older.clone().into_iter()),
                Box::new(oldest.clone().into_iter()),
            ]
        };
        let kept: Vec<_> = merge(streams(), true).collect();
        assert_eq!(kept, vec![rec("a", Some("3")), rec("b", Some("2")), rec("c", None), rec("d", Some("1"))]);
        let dropped: Vec<_> = merge(streams(), false).collect();
        assert_eq!(dropped, vec![rec("a", Some("3")), rec("b", Some("2")), rec("d", Some("1"))]);
    }

    #[test]
    fn a_small_cache_still_answers_everything() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t");
        let all: BTreeMap<String, String> =
            (0..5_000).map(|i| (format!("{}", i * 7919 % 5_000), i.to_string())).collect();
        write(&p, &[all.iter().map(|(k, v)| rec(k, Some(v))).collect()]);
        let t = Table::open(&p, 1).unwrap();
        let cache = BlockCache::new(BLOCK * 2);
        for (k, v) in all.iter().rev() {
            assert_eq!(t.get(0, k.as_bytes(), &cache), Some(Some(v.clone().into_bytes())));
        }
        let held: usize = cache.shards.iter().map(|s| s.lock().unwrap().bytes).sum();
        assert!(held <= BLOCK * 4, "the budget holds: {held}");
    }

    #[test]
    fn damaged_tables_do_not_open_or_read_as_missing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t");
        write(&p, &[(0..3_000).map(|i| rec(&format!("k{i:05}"), Some("v"))).collect()]);
        let good = std::fs::read(&p).unwrap();
        // A block overwritten with garbage: its keys read as missing, the
        // others still answer, and a merge of it stays in order.
        let mut bad = good.clone();
        bad[MAGIC.len()..MAGIC.len() + 64].fill(0xff);
        std::fs::write(&p, &bad).unwrap();
        let t = Table::open(&p, 1).unwrap();
        let cache = BlockCache::new(1 << 20);
        assert_eq!(t.get(0, b"k00000", &cache), None);
        assert_eq!(t.get(0, b"k02999", &cache), Some(Some(b"v".to_vec())));
        let merged: Vec<_> = merge(vec![Box::new(t.records(0))], false).collect();
        assert!(merged.windows(2).all(|w| w[0].0 < w[1].0));
        // A cut index does not open.
        std::fs::write(&p, &good[..good.len() - 3]).unwrap();
        assert!(Table::open(&p, 1).is_none());
    }
}
