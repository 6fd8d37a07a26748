//! The two-level form of a chunk list, used on remotes (DESIGN.md §13.6).
//!
//! A flat list costs 36 bytes per chunk (about 1 MiB for a 2 GiB file) and
//! would be uploaded again with every version. Here its entries are cut
//! into content-defined segments (a segment ends after a chunk whose id ends
//! in a zero byte, so ~256 chunks, ~9 KiB; at most 2,048), each stored as a
//! plain content-addressed object, and a small top list names the segments.
//! An edit then uploads one or two segments and the top (~5 KB per 2 GiB),
//! and an insertion moves no segment boundary but the one around it.

use std::path::Path;

use bale_error::Result;
use bale_hash::{Algo, Oid};

use crate::errors::bad_list;
use crate::list::{
    check_lengths, decode_entries, encode_entry, seal, u32_at, u64_at, Header, CHECKSUM_LEN, ENTRY_LEN, HEADER_LEN,
};
use crate::{ChunkList, Params};

const SEGMENT_MAGIC: &[u8; 7] = b"BALESEG";
const SEGMENT_VERSION: u8 = 1;
/// The top list is version 2 of the chunk list object.
pub const TOP_VERSION: u8 = 2;
const SEGMENT_MAX: usize = 2048;
const TOP_ENTRY: usize = 44;

/// One segment as stored: its id is the blake3 of `bytes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub id: Oid,
    pub bytes: Vec<u8>,
}

/// A top list's entry: a segment and how much of the file it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentRef {
    pub id: Oid,
    pub size: u64,
    pub count: u32,
}

/// A decoded top list: what it says of the file, and its segments in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopList {
    pub file: Oid,
    pub size: u64,
    pub chunker: u8,
    pub params: Params,
    pub segments: Vec<SegmentRef>,
}

impl ChunkList {
    /// The two-level form: the top list's bytes and every segment.
    pub fn segmented(&self) -> (Vec<u8>, Vec<Segment>) {
        let mut segments = Vec::new();
        let mut refs = Vec::new();
        let mut start = 0;
        for (i, c) in self.chunks.iter().enumerate() {
            let last = i + 1 == self.chunks.len();
            if c.id.digest()[31] == 0 || i + 1 - start == SEGMENT_MAX || last {
                let part = &self.chunks[start..=i];
                let mut bytes = Vec::with_capacity(16 + ENTRY_LEN * part.len());
                bytes.extend_from_slice(SEGMENT_MAGIC);
                bytes.push(SEGMENT_VERSION);
                bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
                for c in part {
                    encode_entry(c, &mut bytes);
                }
                let id = Oid::from_digest(Algo::Blake3, blake3::hash(&bytes).as_bytes(), false);
                refs.push(SegmentRef { id, size: part.iter().map(|c| c.len).sum(), count: part.len() as u32 });
                segments.push(Segment { id, bytes });
                start = i + 1;
            }
        }
        let mut top = Vec::with_capacity(HEADER_LEN + TOP_ENTRY * refs.len() + CHECKSUM_LEN);
        self.header().encode(TOP_VERSION, refs.len(), &mut top);
        for r in &refs {
            top.extend_from_slice(r.id.digest());
            top.extend_from_slice(&r.size.to_le_bytes());
            top.extend_from_slice(&r.count.to_le_bytes());
        }
        seal(&mut top);
        (top, segments)
    }

    /// The flat list a top list and its segments describe. `segment` gives
    /// a segment's bytes (unverified; each is hashed here) or `None` when
    /// absent, which is an error naming it.
    pub fn from_top(
        top: &TopList,
        path: &Path,
        mut segment: impl FnMut(&Oid) -> Result<Option<Vec<u8>>>,
    ) -> Result<ChunkList> {
        let bad = |reason: String| bad_list(path, reason);
        let mut chunks = Vec::new();
        let mut offset = 0u64;
        for (n, r) in top.segments.iter().enumerate() {
            let bytes = segment(&r.id)?.ok_or_else(|| bad(format!("segment {n} ({}) is missing", r.id)))?;
            if blake3::hash(&bytes).as_bytes() != r.id.digest() {
                return Err(bad(format!("segment {n} ({}) is corrupt", r.id)));
            }
            let count = r.count as usize;
            if bytes.len() != 16 + ENTRY_LEN * count
                || &bytes[..7] != SEGMENT_MAGIC
                || bytes[7] != SEGMENT_VERSION
                || u64_at(&bytes, 8) != count as u64
            {
                return Err(bad(format!("segment {n} ({}) is not a segment of {count} chunks", r.id)));
            }
            let part = decode_entries(&bytes[16..], offset);
            let covered: u64 = part.iter().map(|c| c.len).sum();
            offset += covered;
            chunks.extend(part);
            if covered != r.size {
                return Err(bad(format!("segment {n} covers {covered} bytes, the list says {}", r.size)));
            }
        }
        let lens: Vec<u64> = chunks.iter().map(|c| c.len).collect();
        check_lengths(&lens, &top.params, top.size).map_err(bad)?;
        Ok(ChunkList { file: top.file, size: top.size, chunker: top.chunker, params: top.params, chunks })
    }
}

impl TopList {
    /// Parses and checks a top list read from `path` (named in errors).
    pub fn decode(b: &[u8], path: &Path) -> Result<TopList> {
        let (h, entries) = Header::decode(b, path, TOP_VERSION, TOP_ENTRY)?;
        let segments = entries
            .chunks_exact(TOP_ENTRY)
            .map(|e| SegmentRef {
                id: Oid::from_digest(Algo::Blake3, &e[..32], false),
                size: u64_at(e, 32),
                count: u32_at(e, 40),
            })
            .collect();
        Ok(TopList { file: h.file, size: h.size, chunker: h.chunker, params: h.params, segments })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Chunk;
    use std::collections::HashMap;

    fn list(n: usize, seed: u8) -> ChunkList {
        let p = Params::DEFAULT;
        let chunks: Vec<Chunk> = (0..n)
            .map(|i| {
                let id = *blake3::hash(&[seed, (i % 256) as u8, (i / 256) as u8]).as_bytes();
                Chunk { id: Oid::from_digest(Algo::Blake3, &id, false), offset: i as u64 * 65536, len: 65536 }
            })
            .collect();
        let file = Oid::from_digest(Algo::Blake3, &[seed; 32], false);
        ChunkList { file, size: n as u64 * 65536, chunker: crate::GEAR_VERSION, params: p, chunks }
    }

    #[test]
    fn a_list_round_trips_through_segments_and_an_edit_changes_few() {
        let a = list(5000, 1);
        let (top, segments) = a.segmented();
        assert!(segments.len() > 5 && top.len() < 2000, "{} segments, top {} bytes", segments.len(), top.len());
        let store: HashMap<Oid, Vec<u8>> = segments.iter().map(|s| (s.id, s.bytes.clone())).collect();
        let decoded = TopList::decode(&top, Path::new("t")).unwrap();
        let back = ChunkList::from_top(&decoded, Path::new("t"), |id| Ok(store.get(id).cloned())).unwrap();
        assert_eq!(back, a);

        let mut b = a.clone();
        b.chunks[2500].id = Oid::from_digest(Algo::Blake3, &[9; 32], false);
        let (_, bsegs) = b.segmented();
        let new: Vec<&Segment> = bsegs.iter().filter(|s| !store.contains_key(&s.id)).collect();
        assert!(new.len() <= 2, "{} new segments", new.len());

        let mut bad = store.clone();
        bad.get_mut(&segments[1].id).unwrap()[20] ^= 1;
        let err = ChunkList::from_top(&decoded, Path::new("t"), |id| Ok(bad.get(id).cloned())).unwrap_err();
        assert!(err.to_string().contains("segment 1"), "{err}");
        let mut top = top;
        top[100] ^= 1;
        assert!(TopList::decode(&top, Path::new("t")).is_err());
    }
}
