//! Ranged reads of one file from a remote's packs (DESIGN.md §13.8), for
//! streaming: where its bytes are (one blob, or a chunk list), the list
//! fetched and checked (a top list and its segments, §13.6), then, for any
//! byte range, the ranged reads that bring exactly the chunks holding it,
//! each chunk hashed against its id before its bytes are handed back.
//!
//! The caller moves the bytes (Python, over any store): [`RemoteFile`]
//! plans, [`RemoteChunks::verify`] checks.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bale_chunk::{check_chunk, ChunkList, TopList, TOP_VERSION};
use bale_error::{Error, Result};
use bale_hash::Oid;

use crate::errors::bad_format;
use crate::{read_plan_kinds, Kind, Location, Read, RemoteIndex};
use rayon::prelude::*;

/// Neighbouring segments or chunks closer than this are read together.
const MAX_GAP: u64 = 64 << 10;

/// How a remote holds a blake3 file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteFile {
    /// Its bytes in one piece (a blob, or a chunk of another file).
    Whole(Location),
    /// A chunk list (flat or top): read it, then [`list_reads`].
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

/// The reads that bring the segments a top list names (none for a flat
/// list, which names its chunks itself). `source` names the list in errors.
pub fn list_reads(remote: &RemoteIndex, oid: &Oid, list: &[u8], source: &str) -> Result<Vec<Read>> {
    let Some(top) = top_list(oid, list, source)? else { return Ok(Vec::new()) };
    let wanted: Vec<(Oid, Kind)> = top.segments.iter().map(|s| (s.id, Kind::Chunk)).collect();
    let plan = read_plan_kinds(remote, &wanted, MAX_GAP, u64::MAX);
    if let Some(missing) = plan.missing.first() {
        return Err(bad_format(source, format!("segment {missing} of the chunk list of {oid} is in no pack")));
    }
    Ok(plan.reads)
}

fn top_list(oid: &Oid, list: &[u8], source: &str) -> Result<Option<TopList>> {
    if list.get(7) != Some(&TOP_VERSION) {
        return Ok(None);
    }
    let top = TopList::decode(list, Path::new(source))?;
    if top.file != *oid {
        return Err(bad_format(source, format!("chunk list of {} stored as the list of {oid}", top.file)));
    }
    Ok(Some(top))
}

/// A remote chunked file, open for ranged reads.
pub struct RemoteChunks {
    list: ChunkList,
    remote: Arc<RemoteIndex>,
    source: String,
}

impl RemoteChunks {
    /// The file `oid` from its list's bytes and, for a top list, the data of
    /// the reads [`list_reads`] planned (in that order): each segment is
    /// hashed against its id, the list checked whole (DESIGN.md §13.2,
    /// §13.6) and checked to name `oid`. Every chunk must be in some pack.
    pub fn open(remote: Arc<RemoteIndex>, oid: &Oid, list: &[u8], segments: &[&[u8]], source: &str) -> Result<Self> {
        let list = match top_list(oid, list, source)? {
            None => {
                let flat = ChunkList::decode(list, Path::new(source))?;
                if flat.file != *oid {
                    return Err(bad_format(source, format!("chunk list of {} stored as the list of {oid}", flat.file)));
                }
                flat
            }
            Some(top) => {
                let reads = list_reads(&remote, oid, list, source)?;
                let found = pieces(&reads, segments, source)?;
                let bytes = |id: &Oid| found.get(id).map(|(i, at)| segments[*i][at.clone()].to_vec());
                ChunkList::from_top(&top, Path::new(source), |id| Ok(bytes(id)))?
            }
        };
        let missing = list.chunks.iter().find(|c| !remote.has_bytes(&c.id));
        if let Some(c) = missing {
            return Err(Error::ObjectMissing { path: PathBuf::from(source), oid: c.id.to_string() });
        }
        Ok(RemoteChunks { list, remote, source: source.to_string() })
    }

    pub fn list(&self) -> &ChunkList {
        &self.list
    }

    /// The ranged reads that bring chunks `range` (a chunk the file holds
    /// twice is read once; neighbours are merged).
    pub fn reads(&self, range: Range<usize>) -> Vec<Read> {
        let wanted: Vec<(Oid, Kind)> = self.list.chunks[range].iter().map(|c| (c.id, Kind::Chunk)).collect();
        read_plan_kinds(&self.remote, &wanted, MAX_GAP, u64::MAX).reads
    }

    /// Where the bytes of each chunk of `range` lie in `data` (the bytes of
    /// [`reads`](Self::reads)`(range)`, in order): `(which read, bytes of
    /// it)`, in file order. Each chunk is verified first (in parallel): one
    /// that does not hash to its id fails the whole call, naming the remote,
    /// the file and the chunk.
    pub fn verify(&self, range: Range<usize>, data: &[&[u8]]) -> Result<Vec<(usize, Range<usize>)>> {
        let reads = self.reads(range.clone());
        let found = pieces(&reads, data, &self.source)?;
        let chunks = &self.list.chunks[range.clone()];
        let places: Vec<(usize, Range<usize>)> =
            chunks.iter().map(|c| found.get(&c.id).cloned().unwrap_or((0, 0..0))).collect();
        places.par_iter().enumerate().try_for_each(|(j, (i, at))| {
            let bytes = data.get(*i).map_or(&[][..], |d| &d[at.clone()]);
            check_chunk(&self.list, range.start + j, bytes).map_err(|e| self.named(e))
        })?;
        Ok(places)
    }

    /// A chunk error names the remote and the file, not a cache path.
    fn named(&self, e: Error) -> Error {
        match e {
            Error::CorruptObject { path, expected, actual } => {
                let at = path.to_string_lossy().rsplit_once(' ').map(|(_, i)| i.to_string()).unwrap_or_default();
                let path = PathBuf::from(format!("{}: chunk {at} of {}", self.source, self.list.file));
                Error::CorruptObject { path, expected, actual }
            }
            other => other,
        }
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

    /// A 6 MiB chunked file pushed into packs; returns the index, the pack
    /// files and the file's id and bytes.
    fn pushed(d: &Path) -> (RemoteIndex, HashMap<String, Vec<u8>>, Oid, Vec<u8>) {
        let odb = Odb::new(d.join("cache"));
        let data = random(6 << 20, 51);
        let src = d.join("f");
        std::fs::write(&src, &data).unwrap();
        let oid = odb.add_file(&src, Algo::Blake3, false).unwrap().0.oid;
        let (items, missing) = push_items(&odb, &[oid], &RemoteIndex::new(), &d.join("staging")).unwrap();
        assert!(missing.is_empty());
        let mut packs = HashMap::new();
        let mut indexes = Vec::new();
        for p in plan_packs(items, 1 << 20) {
            let w = write_pack(&p.items, &d.join("out"), &Progress::default()).unwrap();
            packs.insert(w.id.pack_key(), std::fs::read(&w.pack_path).unwrap());
            indexes.push(w.index);
        }
        (RemoteIndex::from_indexes(indexes), packs, oid, data)
    }

    fn fetch(packs: &HashMap<String, Vec<u8>>, reads: &[Read]) -> Vec<Vec<u8>> {
        reads.iter().map(|r| packs[&r.key()][r.start as usize..r.end as usize].to_vec()).collect()
    }

    #[test]
    fn a_range_reads_its_chunks_only_and_a_bad_chunk_fails() {
        let d = tempfile::tempdir().unwrap();
        let (remote, mut packs, oid, data) = pushed(d.path());
        let Some(RemoteFile::List(at)) = RemoteFile::locate(&remote, &oid) else { panic!("a list") };
        let key = at.pack.pack_key();
        let list = packs[&key][at.entry.offset as usize..at.entry.end() as usize].to_vec();
        let reads = list_reads(&remote, &oid, &list, "remote 'r'").unwrap();
        assert!(!reads.is_empty(), "lists go up in two levels");
        let segs = fetch(&packs, &reads);
        let segs: Vec<&[u8]> = segs.iter().map(Vec::as_slice).collect();
        let file = RemoteChunks::open(Arc::new(remote.clone()), &oid, &list, &segs, "remote 'r'").unwrap();
        assert_eq!(file.list().size, data.len() as u64);

        let span = file.list().span(3 << 20, (3 << 20) + 100_000);
        let reads = file.reads(span.clone());
        let fetched: u64 = reads.iter().map(Read::len).sum();
        assert!(fetched < 700_000, "the chunks of the range only: {fetched} bytes");
        let bytes = fetch(&packs, &reads);
        let bytes: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let got: Vec<u8> =
            file.verify(span.clone(), &bytes).unwrap().into_iter().flat_map(|(i, at)| bytes[i][at].to_vec()).collect();
        let start = file.list().chunks[span.start].offset as usize;
        assert_eq!(got, data[start..start + got.len()]);

        // One flipped byte in the pack: that chunk's read fails, naming it.
        let first = &reads[0];
        packs.get_mut(&first.key()).unwrap()[first.start as usize + 10] ^= 1;
        let bytes = fetch(&packs, &reads);
        let bytes: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let err = file.verify(span.clone(), &bytes).unwrap_err().to_string();
        assert!(err.contains("remote 'r'") && err.contains(&format!("chunk {} of {oid}", span.start)), "{err}");

        // A segment that is not what the top names fails the open.
        let mut bad = segs.iter().map(|s| s.to_vec()).collect::<Vec<_>>();
        bad[0][30] ^= 1;
        let bad: Vec<&[u8]> = bad.iter().map(Vec::as_slice).collect();
        assert!(RemoteChunks::open(Arc::new(remote), &oid, &list, &bad, "remote 'r'").is_err());
    }
}
