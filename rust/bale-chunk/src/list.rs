//! The chunk-list object, version 1 (DESIGN.md §13.2 is the prose form).
//!
//! ```text
//! 0        "BALECHL" 0x01      magic and version
//! 8        [32] file id        blake3 of the whole content
//! 40       u64 size            of the whole content
//! 48       u8 chunker          gear table version (1); informative
//! 49       [3] zero            reserved
//! 52       u32 min, avg, max   the parameters the writer used; informative
//! 64       u64 count
//! 72       count × entry       [32] chunk id (blake3 of the chunk), u32 length
//! end-32   [32] checksum       blake3 of every byte before it
//! ```
//!
//! Little-endian. Stored as `bale/blake3/<2 hex>/<62 hex of the file id>.chunks`.

use std::path::{Path, PathBuf};

use bale_error::Result;
use bale_hash::{Algo, Oid};

use crate::errors::bad_list;
use crate::gear::GEAR_VERSION;
use crate::{Chunk, ChunkedFile, Params};

/// The format version written, and the only one read.
pub const LIST_VERSION: u8 = 1;
const MAGIC: &[u8; 7] = b"BALECHL";
pub(crate) const HEADER_LEN: usize = 72;
pub(crate) const ENTRY_LEN: usize = 36;
pub(crate) const CHECKSUM_LEN: usize = 32;

/// The suffix of a chunk list's cache name, after the file id's hex.
pub const LIST_SUFFIX: &str = ".chunks";

/// A chunked file described by its chunks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkList {
    /// blake3 of the whole content; also the list's name.
    pub file: Oid,
    pub size: u64,
    /// What the writer chunked with. Not needed to rebuild; kept so that a
    /// later bale knows whether re-chunking with its own parameters would
    /// share chunks with this list.
    pub chunker: u8,
    pub params: Params,
    /// In file order; offsets are implied by the lengths.
    pub chunks: Vec<Chunk>,
}

impl ChunkList {
    /// The list of a file chunked with `params` by [`crate::chunk_file`].
    /// Refuses what [`ChunkList::decode`] would refuse: a file below the
    /// threshold (one chunk longer than `max`), an empty file, chunks that
    /// do not tile the file.
    pub fn new(file: &ChunkedFile, params: &Params) -> Result<ChunkList> {
        let list = ChunkList {
            file: file.id,
            size: file.size,
            chunker: GEAR_VERSION,
            params: *params,
            chunks: file.chunks.clone(),
        };
        params.validate()?;
        let lens: Vec<u64> = list.chunks.iter().map(|c| c.len).collect();
        check_lengths(&lens, params, list.size).map_err(|r| bad_list(&Self::relative_path(&list.file), r))?;
        let mut offset = 0;
        for (i, c) in list.chunks.iter().enumerate() {
            if c.offset != offset {
                return Err(bad_list(
                    &Self::relative_path(&list.file),
                    format!("chunk {i} is not where the last ended"),
                ));
            }
            offset += c.len;
        }
        Ok(list)
    }

    /// The chunks that hold bytes `start..end` of the file (clamped to its
    /// size), as a range of indexes: what a ranged read must fetch and
    /// verify. Empty when the range is.
    pub fn span(&self, start: u64, end: u64) -> std::ops::Range<usize> {
        let end = end.min(self.size);
        if start >= end {
            return 0..0;
        }
        // Chunks tile the file in order, so offsets are sorted.
        let first = self.chunks.partition_point(|c| c.offset + c.len <= start);
        let last = self.chunks.partition_point(|c| c.offset < end);
        first..last
    }

    /// Where the list lives below the cache directory.
    pub fn relative_path(file: &Oid) -> PathBuf {
        let hex = file.hex_digest();
        Path::new("bale").join("blake3").join(&hex[..2]).join(format!("{}{LIST_SUFFIX}", &hex[2..]))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + ENTRY_LEN * self.chunks.len() + CHECKSUM_LEN);
        self.header().encode(LIST_VERSION, self.chunks.len(), &mut out);
        for c in &self.chunks {
            encode_entry(c, &mut out);
        }
        seal(&mut out);
        out
    }

    /// The fields every list version opens with.
    pub(crate) fn header(&self) -> Header {
        Header { file: self.file, size: self.size, chunker: self.chunker, params: self.params }
    }

    /// Parses and checks a list read from `path` (named in errors). Refuses
    /// anything but exactly what [`ChunkList::encode`] writes for a list
    /// the chunker could have produced.
    pub fn decode(b: &[u8], path: &Path) -> Result<ChunkList> {
        let bad = |reason: String| bad_list(path, reason);
        let (h, entries) = Header::decode(b, path, LIST_VERSION, ENTRY_LEN)?;
        let chunks = decode_entries(entries, 0);
        let lens: Vec<u64> = chunks.iter().map(|c| c.len).collect();
        check_lengths(&lens, &h.params, h.size).map_err(bad)?;
        Ok(ChunkList { file: h.file, size: h.size, chunker: h.chunker, params: h.params, chunks })
    }
}

/// The fields that open every chunk list version (the 72-byte header of
/// DESIGN.md §13.2, whose `count` counts that version's entries).
pub(crate) struct Header {
    pub file: Oid,
    pub size: u64,
    pub chunker: u8,
    pub params: Params,
}

impl Header {
    /// Appends magic, `version`, the fields and `count`.
    pub(crate) fn encode(&self, version: u8, count: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(version);
        out.extend_from_slice(self.file.digest());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&[self.chunker, 0, 0, 0]);
        for v in [self.params.min, self.params.avg, self.params.max] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(count as u64).to_le_bytes());
    }

    /// Checks a whole list of `version` whose entries are `entry_len` bytes:
    /// length, magic, version, checksum, chunker, reserved bytes, parameters,
    /// and a `count` (at least 1) that matches the length exactly. Returns the
    /// header and the entries' bytes.
    pub(crate) fn decode<'b>(b: &'b [u8], path: &Path, version: u8, entry_len: usize) -> Result<(Header, &'b [u8])> {
        let bad = |reason: String| bad_list(path, reason);
        if b.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(bad(format!("chunk list too short ({} bytes)", b.len())));
        }
        if &b[..7] != MAGIC {
            return Err(bad("not a chunk list (bad magic)".into()));
        }
        if b[7] != version {
            return Err(bad(format!("chunk list version {} is not supported here (expected {version})", b[7])));
        }
        let (body, checksum) = b.split_at(b.len() - CHECKSUM_LEN);
        if blake3::hash(body).as_bytes() != checksum {
            return Err(bad("chunk list checksum mismatch".into()));
        }
        let chunker = b[48];
        if chunker != GEAR_VERSION {
            return Err(bad(format!("unknown chunker {chunker}")));
        }
        if b[49..52] != [0, 0, 0] {
            return Err(bad("reserved bytes are not zero".into()));
        }
        let params = Params { min: u32_at(b, 52), avg: u32_at(b, 56), max: u32_at(b, 60) };
        params.validate().map_err(|e| bad(e.to_string()))?;
        let count = u64_at(b, 64);
        let entries = &body[HEADER_LEN..];
        if count == 0 || entries.len() % entry_len != 0 || (entries.len() / entry_len) as u64 != count {
            return Err(bad(format!("count {count} does not match the list's length")));
        }
        let file = Oid::from_digest(Algo::Blake3, &b[8..40], false);
        Ok((Header { file, size: u64_at(b, 40), chunker, params }, entries))
    }
}

/// Appends the checksum: blake3 of every byte before it.
pub(crate) fn seal(out: &mut Vec<u8>) {
    let checksum = blake3::hash(out);
    out.extend_from_slice(checksum.as_bytes());
}

/// One chunk as flat lists and segments store it: id, u32 length.
pub(crate) fn encode_entry(c: &Chunk, out: &mut Vec<u8>) {
    out.extend_from_slice(c.id.digest());
    let len = u32::try_from(c.len).expect("chunk lengths are at most Params::MAX_MAX");
    out.extend_from_slice(&len.to_le_bytes());
}

/// Chunks from entries written by [`encode_entry`], the first at `offset`.
pub(crate) fn decode_entries(entries: &[u8], mut offset: u64) -> Vec<Chunk> {
    entries
        .chunks_exact(ENTRY_LEN)
        .map(|e| {
            let len = u64::from(u32_at(e, 32));
            let c = Chunk { id: Oid::from_digest(Algo::Blake3, &e[..32], false), offset, len };
            offset += len;
            c
        })
        .collect()
}

/// The lengths rule shared by writing and reading: at least one chunk, each
/// `1..=max` bytes and at least `min` but for the last, adding up to `size`.
pub(crate) fn check_lengths(lens: &[u64], p: &Params, size: u64) -> Result<(), String> {
    if lens.is_empty() {
        return Err("a chunk list has at least one chunk".into());
    }
    let mut total = 0u64;
    for (i, &len) in lens.iter().enumerate() {
        let last = i + 1 == lens.len();
        if len == 0 || len > p.max as u64 || (len < p.min as u64 && !last) {
            return Err(format!("chunk {i} has length {len}, outside the list's parameters"));
        }
        // At most 2^64 / 2^30 chunks before this could overflow: no real list.
        total += len;
    }
    if total != size {
        return Err(format!("chunks add up to {total} bytes, the list says {size}"));
    }
    Ok(())
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
