//! Ranged reads of one file from a remote's packs (DESIGN.md §13.8), for
//! streaming: where its bytes are (one blob, or a chunk list), then, for any
//! byte range, the ranged reads that bring exactly the chunks holding it,
//! each chunk hashed against its id before its bytes are handed back.
//!
//! A two-level list (§13.6) is read lazily: the top at open, then only the
//! segments that cover the bytes asked for (a 2 GiB file's full list is
//! ~1 MiB; a 1 MiB read needs one ~9 KiB segment of it), each hashed
//! against its id and checked as it arrives.
//!
//! The caller moves the bytes (Python, over any store): [`RemoteChunks`]
//! plans and checks.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use bale_chunk::{Chunk, ChunkList, SegmentRef, TopList, TOP_VERSION};
use bale_error::{Error, Result};
use bale_hash::Oid;
use rayon::prelude::*;

use crate::errors::bad_format;
use crate::{read_plan_kinds, Kind, Location, Read, RemoteIndex};

/// Neighbouring segments or chunks closer than this are read together.
const MAX_GAP: u64 = 64 << 10;

/// How a remote holds a blake3 file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteFile {
    /// Its bytes in one piece (a blob, or a chunk of another file).
    Whole(Location),
    /// A chunk list (flat or top): read it, then open [`RemoteChunks`].
    List(Location),
}

impl RemoteFile {
    /// Where the remote holds `oid`, preferring a list (a large file read
    /// in part needs only some chunks); `None` when no index lists it.
    pub fn locate(remote: &RemoteIndex, oid: &Oid) -> Option<RemoteFile> {
        if let Some(l) = remote.list_location(oid) {
            return Some(RemoteFile::List(l));
        }
        remote.byte_locations(oid).first().map(|l| RemoteFile::Whole(*l))
    }
}

/// One segment of the list: which bytes and chunks of the file it covers.
struct Part {
    /// `None` for a flat list (one part, known at open).
    seg: Option<SegmentRef>,
    start: u64,
    first: usize,
}

/// A remote chunked file, open for ranged reads.
pub struct RemoteChunks {
    file: Oid,
    size: u64,
    /// The top list's header, to check each segment with.
    top: TopList,
    parts: Vec<Part>,
    count: usize,
    /// The chunks of each part, once its segment arrived (and was checked).
    loaded: RwLock<Vec<Option<Arc<Vec<Chunk>>>>>,
    remote: Arc<RemoteIndex>,
    source: String,
}

impl RemoteChunks {
    /// The file `oid` from its list's bytes: a flat list (checked whole,
    /// DESIGN.md §13.2), or a top list (checked; its segments are loaded
    /// with [`add_segments`](Self::add_segments) as reads need them).
    /// `source` names the remote in errors.
    pub fn open(remote: Arc<RemoteIndex>, oid: &Oid, list: &[u8], source: &str) -> Result<Self> {
        let wrong = |file: &Oid| bad_format(source, format!("chunk list of {file} stored as the list of {oid}"));
        let (top, parts, flat) = if list.get(7) == Some(&TOP_VERSION) {
            let top = TopList::decode(list, Path::new(source))?;
            if top.file != *oid {
                return Err(wrong(&top.file));
            }
            let (mut start, mut first) = (0u64, 0usize);
            let mut parts = Vec::with_capacity(top.segments.len());
            for (n, seg) in top.segments.iter().enumerate() {
                if seg.size == 0 || seg.count == 0 {
                    return Err(bad_format(source, format!("segment {n} of the list of {oid} is empty")));
                }
                parts.push(Part { seg: Some(*seg), start, first });
                start += seg.size;
                first += seg.count as usize;
            }
            if start != top.size {
                return Err(bad_format(source, format!("the segments of {oid} cover {start} bytes, not {}", top.size)));
            }
            (top, parts, None)
        } else {
            let flat = ChunkList::decode(list, Path::new(source))?;
            if flat.file != *oid {
                return Err(wrong(&flat.file));
            }
            let top = TopList {
                file: flat.file,
                size: flat.size,
                chunker: flat.chunker,
                params: flat.params,
                segments: Vec::new(),
            };
            (top, vec![Part { seg: None, start: 0, first: 0 }], Some(flat.chunks))
        };
        let count = match &flat {
            Some(chunks) => chunks.len(),
            None => top.segments.iter().map(|s| s.count as usize).sum(),
        };
        let loaded = match flat {
            Some(chunks) => vec![Some(Arc::new(chunks))],
            None => vec![None; parts.len()],
        };
        Ok(RemoteChunks {
            file: *oid,
            size: top.size,
            top,
            parts,
            count,
            loaded: RwLock::new(loaded),
            remote,
            source: source.to_string(),
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Chunks in the file.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The parts that cover bytes `start..end` whose segment is not loaded yet.
    pub fn missing(&self, start: u64, end: u64) -> Vec<usize> {
        let end = end.min(self.size);
        if start >= end {
            return Vec::new();
        }
        let first = self.parts.partition_point(|p| p.start <= start).saturating_sub(1);
        let last = self.parts.partition_point(|p| p.start < end);
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        (first..last).filter(|&i| loaded[i].is_none()).collect()
    }

    fn segment_ids(&self, parts: &[usize]) -> Result<Vec<SegmentRef>> {
        parts
            .iter()
            .map(|&i| {
                self.parts.get(i).and_then(|p| p.seg).ok_or_else(|| bad_format(&self.source, format!("no segment {i}")))
            })
            .collect()
    }

    /// The reads that bring the segments of `parts`.
    pub fn segment_reads(&self, parts: &[usize]) -> Result<Vec<Read>> {
        let wanted: Vec<(Oid, Kind)> = self.segment_ids(parts)?.iter().map(|s| (s.id, Kind::Chunk)).collect();
        let plan = read_plan_kinds(&self.remote, &wanted, MAX_GAP, u64::MAX);
        if let Some(missing) = plan.missing.first() {
            let what = format!("segment {missing} of the chunk list of {} is in no pack", self.file);
            return Err(bad_format(&self.source, what));
        }
        Ok(plan.reads)
    }

    /// Loads the segments of `parts` from `data` (the bytes of
    /// [`segment_reads`](Self::segment_reads)`(parts)`, in order): each is
    /// hashed against its id and checked against the top (DESIGN.md §13.6),
    /// and each of its chunks must be in some pack.
    pub fn add_segments(&self, parts: &[usize], data: &[&[u8]]) -> Result<()> {
        let reads = self.segment_reads(parts)?;
        let found = pieces(&reads, data, &self.source)?;
        for (&i, seg) in parts.iter().zip(self.segment_ids(parts)?) {
            let one = TopList { segments: vec![seg], size: seg.size, ..self.top.clone() };
            let bytes = |id: &Oid| found.get(id).map(|(r, at)| data[*r][at.clone()].to_vec());
            let list = ChunkList::from_top(&one, Path::new(&self.source), |id| Ok(bytes(id)))?;
            if list.chunks.len() != seg.count as usize {
                return Err(bad_format(
                    &self.source,
                    format!("segment {} of {} holds the wrong chunks", seg.id, self.file),
                ));
            }
            let start = self.parts[i].start;
            let chunks: Vec<Chunk> = list.chunks.into_iter().map(|c| Chunk { offset: c.offset + start, ..c }).collect();
            if let Some(c) = chunks.iter().find(|c| !self.remote.has_bytes(&c.id)) {
                return Err(Error::ObjectMissing { path: PathBuf::from(&self.source), oid: c.id.to_string() });
            }
            self.loaded.write().unwrap_or_else(|e| e.into_inner())[i] = Some(Arc::new(chunks));
        }
        Ok(())
    }

    /// The loaded chunks of part `i`.
    fn part(&self, i: usize) -> Result<Arc<Vec<Chunk>>> {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        loaded[i].clone().ok_or_else(|| bad_format(&self.source, format!("segment {i} of {} is not loaded", self.file)))
    }

    /// Chunk `i` of the file (its segment must be loaded).
    pub fn chunk(&self, i: usize) -> Result<Chunk> {
        let p = self.parts.partition_point(|p| p.first <= i).saturating_sub(1);
        let chunks = self.part(p)?;
        chunks.get(i - self.parts[p].first).copied().ok_or_else(|| bad_format(&self.source, format!("no chunk {i}")))
    }

    /// Where chunk `i` starts; `count` gives the size.
    pub fn offset(&self, i: usize) -> Result<u64> {
        if i == self.count {
            return Ok(self.size);
        }
        self.chunk(i).map(|c| c.offset)
    }

    /// The chunks that hold bytes `start..end` (their segments loaded).
    pub fn span(&self, start: u64, end: u64) -> Result<Range<usize>> {
        let end = end.min(self.size);
        if start >= end {
            return Ok(0..0);
        }
        let index = |at: u64| -> Result<usize> {
            let p = self.parts.partition_point(|p| p.start <= at).saturating_sub(1);
            let chunks = self.part(p)?;
            Ok(self.parts[p].first + chunks.partition_point(|c| c.offset + c.len <= at))
        };
        Ok(index(start)?..index(end - 1)? + 1)
    }

    fn chunks(&self, range: Range<usize>) -> Result<Vec<Chunk>> {
        range.map(|i| self.chunk(i)).collect()
    }

    /// The ranged reads that bring chunks `range` (a chunk the file holds
    /// twice is read once; neighbours are merged).
    pub fn reads(&self, range: Range<usize>) -> Result<Vec<Read>> {
        let wanted: Vec<(Oid, Kind)> = self.chunks(range)?.iter().map(|c| (c.id, Kind::Chunk)).collect();
        Ok(read_plan_kinds(&self.remote, &wanted, MAX_GAP, u64::MAX).reads)
    }

    /// Where the bytes of each chunk of `range` lie in `data` (the bytes of
    /// [`reads`](Self::reads)`(range)`, in order): `(which read, bytes of
    /// it)`, in file order. Each chunk is verified first (in parallel): one
    /// that does not hash to its id fails the whole call, naming the remote,
    /// the file and the chunk.
    pub fn verify(&self, range: Range<usize>, data: &[&[u8]]) -> Result<Vec<(usize, Range<usize>)>> {
        let reads = self.reads(range.clone())?;
        let found = pieces(&reads, data, &self.source)?;
        let chunks = self.chunks(range.clone())?;
        let places: Vec<(usize, Range<usize>)> =
            chunks.iter().map(|c| found.get(&c.id).cloned().unwrap_or((0, 0..0))).collect();
        places.par_iter().zip(&chunks).enumerate().try_for_each(|(j, ((i, at), c))| {
            let bytes = data.get(*i).map_or(&[][..], |d| &d[at.clone()]);
            let actual = blake3::hash(bytes);
            if actual.as_bytes() == c.id.digest() && bytes.len() as u64 == c.len {
                return Ok(());
            }
            let path = PathBuf::from(format!("{}: chunk {} of {}", self.source, range.start + j, self.file));
            Err(Error::CorruptObject { path, expected: c.id.to_string(), actual: actual.to_hex().to_string() })
        })?;
        Ok(places)
    }
}

/// Where the objects each read holds lie in its data: `digest → (which
/// read, bytes of it)`. A read whose data is not as long as planned is an
/// error naming it.
fn pieces(reads: &[Read], data: &[&[u8]], source: &str) -> Result<HashMap<Oid, (usize, Range<usize>)>> {
    if reads.len() != data.len() {
        return Err(bad_format(source, format!("{} reads planned, {} given", reads.len(), data.len())));
    }
    let mut found = HashMap::new();
    for (i, (read, bytes)) in reads.iter().zip(data).enumerate() {
        if bytes.len() as u64 != read.len() {
            let key = read.key();
            return Err(bad_format(
                source,
                format!("{key} bytes {}..{}: got {} bytes", read.start, read.end, bytes.len()),
            ));
        }
        for e in &read.entries {
            let at = (e.offset - read.start) as usize;
            found.insert(e.oid(), (i, at..at + e.length as usize));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{plan_packs, push_items, write_pack};
    use bale_chunk::testing::random;
    use bale_hash::Algo;
    use bale_odb::Odb;
    use bale_odb::Progress;

    /// A 40 MiB chunked file pushed into packs; returns the index, the pack
    /// files and the file's id and bytes.
    fn pushed(d: &Path) -> (RemoteIndex, HashMap<String, Vec<u8>>, Oid, Vec<u8>) {
        let odb = Odb::new(d.join("cache"));
        let data = random(40 << 20, 51);
        let src = d.join("f");
        std::fs::write(&src, &data).unwrap();
        let oid = odb.add_file(&src, Algo::Blake3, false).unwrap().0.oid;
        let (items, missing) = push_items(&odb, &[oid], &RemoteIndex::new(), &d.join("staging")).unwrap();
        assert!(missing.is_empty());
        let mut packs = HashMap::new();
        let mut indexes = Vec::new();
        for p in plan_packs(items, 8 << 20) {
            let w = write_pack(&p.items, &d.join("out"), &Progress::default()).unwrap();
            packs.insert(w.id.pack_key(), std::fs::read(&w.pack_path).unwrap());
            indexes.push(w.index);
        }
        (RemoteIndex::from_indexes(indexes), packs, oid, data)
    }

    fn fetch(packs: &HashMap<String, Vec<u8>>, reads: &[Read]) -> Vec<Vec<u8>> {
        reads.iter().map(|r| packs[&r.key()][r.start as usize..r.end as usize].to_vec()).collect()
    }

    fn slices(data: &[Vec<u8>]) -> Vec<&[u8]> {
        data.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn a_range_reads_its_segment_and_chunks_only_and_bad_ones_fail() {
        let d = tempfile::tempdir().unwrap();
        let (remote, mut packs, oid, data) = pushed(d.path());
        let Some(RemoteFile::List(at)) = RemoteFile::locate(&remote, &oid) else { panic!("a list") };
        let key = at.pack.pack_key();
        let list = packs[&key][at.entry.offset as usize..at.entry.end() as usize].to_vec();
        let open = || RemoteChunks::open(Arc::new(remote.clone()), &oid, &list, "remote 'r'").unwrap();
        let file = open();
        assert_eq!(file.size(), data.len() as u64);
        assert!(file.parts.len() > 1, "a 40 MiB file's list has several segments");

        let (a, b) = (30 << 20, (30 << 20) + 100_000);
        assert!(file.span(a, b).is_err(), "its segment is not loaded yet");
        let missing = file.missing(a, b);
        assert!(!missing.is_empty() && missing.len() <= 2, "{missing:?}");
        let seg_reads = file.segment_reads(&missing).unwrap();
        let fetched: u64 = seg_reads.iter().map(Read::len).sum();
        assert!(fetched < 40_000, "the segments of the range only: {fetched} bytes");
        let segs = fetch(&packs, &seg_reads);
        file.add_segments(&missing, &slices(&segs)).unwrap();
        assert!(file.missing(a, b).is_empty());

        let span = file.span(a, b).unwrap();
        let reads = file.reads(span.clone()).unwrap();
        let fetched: u64 = reads.iter().map(Read::len).sum();
        assert!(fetched < 700_000, "the chunks of the range only: {fetched} bytes");
        let bytes = fetch(&packs, &reads);
        let got: Vec<u8> = file
            .verify(span.clone(), &slices(&bytes))
            .unwrap()
            .into_iter()
            .flat_map(|(i, at)| bytes[i][at].to_vec())
            .collect();
        let start = file.offset(span.start).unwrap() as usize;
        assert!(start <= a as usize && start + got.len() >= b as usize);
        assert_eq!(got, data[start..start + got.len()]);

        // One flipped byte in the pack: that chunk's read fails, naming it.
        let first = &reads[0];
        packs.get_mut(&first.key()).unwrap()[first.start as usize + 10] ^= 1;
        let bytes = fetch(&packs, &reads);
        let err = file.verify(span.clone(), &slices(&bytes)).unwrap_err().to_string();
        assert!(err.contains("remote 'r'") && err.contains(&format!("chunk {} of {oid}", span.start)), "{err}");

        // A segment that is not what the top names is refused.
        let mut bad = segs.clone();
        bad[0][30] ^= 1;
        let again = open();
        assert!(again.add_segments(&missing, &slices(&bad)).is_err());
        assert_eq!(again.missing(a, b), missing, "nothing loaded from it");
    }
}
