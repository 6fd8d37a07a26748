//! Chunking a file: one read of its bytes yields the whole-file blake3, the
//! chunk boundaries and every chunk's blake3.
//!
//! Reads, not mmap: the rest of bale reads too, because a mapped file that
//! is truncated underneath us raises SIGBUS, while a read just returns less
//! (and the size/mtime check below catches the change). `tests/bench.rs`
//! measured the same pipeline over mmap 10-20% faster on a hot page cache
//! (it saves the copy out of the page cache): the price of that safety.
//! Double-buffered: the next read runs as one more task on the rayon pool
//! while the pool chunks and hashes the current buffer. A dedicated reader
//! thread was measured ~20% faster with a one-thread pool (it is a second
//! thread) and no faster with two, so the pool's size stays the whole cost.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

use bale_error::{Error, IoContext, Result};
use bale_hash::{read_block, Algo, Oid};
use rayon::prelude::*;

use crate::blocks::{BlockHasher, BlockMap};
use crate::parallel::{pieces, Piece};
use crate::Params;

/// Files smaller than this are one chunk by default. Below a few MiB an edit
/// rewrites little anyway, and each chunk is one more object (an inode in the
/// cache, an entry in a pack index) and 36 more bytes of list: a 4 MiB file
/// is ~64 chunks whose list costs 2.4 KB, and saves ~3.8 MiB per small edit.
pub const DEFAULT_THRESHOLD: u64 = 4 << 20;

/// New bytes per read (two buffers in flight). Measured with two threads on
/// a 512 MiB file: 16 MiB reads with 4 MiB segments 739 MB/s, 64 MiB reads
/// 551 (the buffers no longer stay in cache), 4 MiB reads 670.
const READ: usize = 16 << 20;

/// Bytes per parallel segment: large enough that the one or two chunks
/// re-scanned at each stitch cost 2-4% of the work, small enough to keep
/// both threads busy (2 MiB: 727 MB/s, 4: 739, 8: 654).
const SEGMENT: usize = 4 << 20;

/// One chunk of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Chunk {
    /// blake3 of the chunk's bytes.
    pub id: Oid,
    /// Where the chunk starts in the file.
    pub offset: u64,
    pub len: u64,
}

/// What [`chunk_file`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedFile {
    /// blake3 of the whole content: the file's id, chunked or not.
    pub id: Oid,
    pub size: u64,
    /// In file order, covering it exactly; one chunk (whose id is the file's)
    /// below the threshold, none for an empty file.
    pub chunks: Vec<Chunk>,
    /// For a chunked file larger than one block, its block map.
    pub blocks: Option<BlockMap>,
}

impl ChunkedFile {
    /// Whether the file was split into more than one chunk.
    pub fn is_chunked(&self) -> bool {
        self.chunks.len() > 1
    }
}

/// Reads `path` once and returns its blake3, size and chunks. Files of at
/// least `threshold` bytes are chunked with `params` on the current rayon
/// pool; smaller ones are one chunk. Fails with
/// [`Error::ChangedWhileHashing`] if the size or mtime moved meanwhile.
pub fn chunk_file(path: &Path, params: &Params, threshold: u64) -> Result<ChunkedFile> {
    params.validate()?;
    let file = File::open(path).at(path)?;
    let before = file.metadata().at(path)?;
    let found = if before.len() < threshold {
        one_chunk(&file, path, before.len())?
    } else {
        let segment = if rayon::current_num_threads() > 1 { SEGMENT } else { usize::MAX };
        let read = READ.min(usize::try_from(before.len()).unwrap_or(READ).saturating_add(1));
        chunked(&file, path, params, read, segment)?
    };
    let after = file.metadata().at(path)?;
    check_unchanged(path, &before, &after, found.size)?;
    Ok(found)
}

/// bale-hash's rule for `hash_file`: the bytes read must match the size
/// after, and the mtime must not have moved.
pub(crate) fn check_unchanged(path: &Path, before: &Metadata, after: &Metadata, read: u64) -> Result<()> {
    if read != after.len() || before.modified().ok() != after.modified().ok() {
        return Err(Error::ChangedWhileHashing { path: path.to_path_buf() });
    }
    Ok(())
}

fn blake3_oid(digest: &[u8; 32]) -> Oid {
    Oid::from_digest(Algo::Blake3, digest, false)
}

fn one_chunk(mut file: &File, path: &Path, size_hint: u64) -> Result<ChunkedFile> {
    // One more than the size, so that reading to the end needs no regrowth.
    let mut data = Vec::with_capacity(size_hint as usize + 1);
    file.read_to_end(&mut data).at(path)?;
    let id = blake3_oid(blake3::hash(&data).as_bytes());
    let size = data.len() as u64;
    let chunks = if data.is_empty() { Vec::new() } else { vec![Chunk { id, offset: 0, len: size }] };
    Ok(ChunkedFile { id, size, chunks, blocks: None })
}

/// Chunks `file` reading `read` new bytes at a time, cutting each buffer
/// into `segment`-byte parallel segments.
fn chunked(file: &File, path: &Path, p: &Params, read: usize, segment: usize) -> Result<ChunkedFile> {
    // Each buffer keeps `max` bytes in front of what is read into it, where
    // the undecided tail of the previous buffer is copied, so that a chunk
    // across two reads is contiguous without copying the new bytes.
    let prefix = p.max as usize;
    let mut reader = file;
    let mut whole = BlockHasher::new();
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut size = 0u64;
    let (mut cur, mut next) = (vec![0u8; prefix + read], vec![0u8; prefix + read]);
    let mut n = read_block(&mut reader, &mut cur[prefix..]).at(path)?;
    let mut carry = 0usize;
    loop {
        let eof = n < read;
        let data = &cur[prefix - carry..prefix + n];
        // The next read runs on the pool beside the work on this buffer.
        let ((found, ()), next_n) = rayon::join(
            || rayon::join(|| pieces(data, eof, p, segment, true), || whole.update(&data[carry..])),
            || if eof { Ok(0) } else { read_block(&mut reader, &mut next[prefix..]) },
        );
        chunks.extend(finish(data, size - carry as u64, &found));
        size += n as u64;
        if eof {
            break;
        }
        // An undecided chunk has fewer than `max` bytes, so it fits the prefix.
        let decided = found.last().map_or(0, |c| c.end);
        let tail = prefix - carry + decided;
        carry = prefix + n - tail;
        next[prefix - carry..prefix].copy_from_slice(&cur[tail..prefix + n]);
        std::mem::swap(&mut cur, &mut next);
        n = next_n.at(path)?;
    }
    let (id, _, blocks) = whole.finish();
    Ok(ChunkedFile { id, size, chunks, blocks })
}

/// Turns a buffer's pieces into chunks, hashing those the stitch re-cut.
fn finish(data: &[u8], base: u64, found: &[Piece]) -> Vec<Chunk> {
    (0..found.len())
        .into_par_iter()
        .map(|i| {
            let start = if i == 0 { 0 } else { found[i - 1].end };
            let end = found[i].end;
            let id = found[i].id.unwrap_or_else(|| *blake3::hash(&data[start..end]).as_bytes());
            Chunk { id: blake3_oid(&id), offset: base + start as u64, len: (end - start) as u64 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::random;
    use std::io::Write;

    /// Small reads and segments, so that chunks straddle many buffers and
    /// the carried tail is exercised at every size.
    #[test]
    fn buffers_of_any_size_give_the_sequential_chunks() {
        let p = Params { min: 256, avg: 1024, max: 4096 };
        let mut data = random(200_000, 3);
        data.extend(std::iter::repeat_n(0u8, 30_000)); // never meets a cut: max-sized chunks
        data.extend(random(10_000, 4));
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        let expected = crate::boundaries(&data, &p);
        for (read, segment) in [(333, 7), (100, 50_000), (4095, 4096), (4096, 1000), (4097, usize::MAX), (65_536, 3000)]
        {
            let got = chunked(&File::open(f.path()).unwrap(), f.path(), &p, read, segment).unwrap();
            assert_eq!(got.size, data.len() as u64);
            assert_eq!(got.id.digest(), blake3::hash(&data).as_bytes());
            let ends: Vec<usize> = got.chunks.iter().map(|c| (c.offset + c.len) as usize).collect();
            assert_eq!(ends, expected, "read {read}, segment {segment}");
            for c in &got.chunks {
                let bytes = &data[c.offset as usize..(c.offset + c.len) as usize];
                assert_eq!(c.id.digest(), blake3::hash(bytes).as_bytes());
            }
        }
    }
}
