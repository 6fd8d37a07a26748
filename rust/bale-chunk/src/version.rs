//! Chunking a new version of a file against the previous one: one read for
//! the block map, then the chunker runs only where blocks changed, and the
//! previous version's chunks stand everywhere else (DESIGN.md §13.7).
//!
//! A cut depends only on the bytes since its chunk's start. So where the
//! new version reaches a cut of the old one and the bytes of the old chunk
//! that follows are unchanged (its blocks have equal values), the new
//! version has that chunk too, with the same id; elsewhere the chunker runs
//! from the last shared cut until the two versions meet again at a cut.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use bale_error::{Error, IoContext, Result};
use bale_hash::{Algo, Oid};
use blake3::hazmat::ChainingValue;
use rayon::prelude::*;

use crate::blocks::{block_values, BlockMap, BLOCK};
use crate::cdc::next_cut;
use crate::file::check_unchanged;
use crate::gear::GEAR_VERSION;
use crate::{Chunk, ChunkList, ChunkedFile, Params};

/// Re-chunking beyond this share of a file's blocks costs more than the
/// parallel full pass of [`crate::chunk_file`] it saves.
const MAX_CHANGED: f64 = 0.25;

/// What a new version is chunked against: the previous version's list and
/// block map (`map` must be the list's file's).
pub struct Base<'a> {
    pub list: &'a ChunkList,
    pub map: &'a BlockMap,
}

/// What [`chunk_file_against`] found.
pub enum Against {
    /// The file, chunked exactly as [`crate::chunk_file`] would chunk it.
    Chunked(ChunkedFile),
    /// Too little in common with the base to gain from it: chunk the file
    /// afresh.
    Afresh,
}

/// Reads `path` once for its id and block map, then chunks only where its
/// blocks differ from the base's. The answer is [`Against::Afresh`] when
/// `params` are not the base list's (no chunk could be shared; then the file
/// is not read), the file is not larger than a block, or more than a
/// quarter of its blocks changed. Fails with
/// [`bale_error::Error::ChangedWhileHashing`] if the file moved meanwhile.
pub fn chunk_file_against(path: &Path, params: &Params, base: &Base) -> Result<Against> {
    params.validate()?;
    if base.list.params != *params || base.list.chunker != GEAR_VERSION {
        return Ok(Against::Afresh);
    }
    let file = File::open(path).at(path)?;
    let before = file.metadata().at(path)?;
    if shifted(&file, path, before.len(), base.map)? {
        return Ok(Against::Afresh);
    }
    let size = before.len();
    // One block or less has no map (nor anything to gain).
    let Some(map) = (size > BLOCK).then(|| block_map(&file, path, size)).transpose()? else {
        return Ok(Against::Afresh);
    };
    let id = map.id();
    let same: Vec<bool> = (0..map.cvs.len()).map(|k| map.same_block(base.map, k)).collect();
    if same.iter().filter(|s| !**s).count() as f64 > MAX_CHANGED * same.len() as f64 {
        return Ok(Against::Afresh);
    }
    let unchanged = |start: u64, end: u64| (start / BLOCK..=(end - 1) / BLOCK).all(|k| same[k as usize]);

    let old = &base.list.chunks;
    let mut window = Window::new(&file, path, size, params.max as usize);
    let mut chunks: Vec<Chunk> = Vec::with_capacity(old.len() + 16);
    let (mut at, mut i) = (0u64, 0usize);
    let mut reread = std::collections::BTreeSet::new();
    while at < size {
        while i < old.len() && old[i].offset < at {
            i += 1;
        }
        if let Some(c) = old.get(i).filter(|c| c.offset == at) {
            let end = c.offset + c.len;
            // The old last chunk was cut by its end of file, not its bytes.
            let last = i + 1 == old.len();
            if end <= size && unchanged(at, end) && (!last || end == size) {
                chunks.push(*c);
                at = end;
                i += 1;
                continue;
            }
        }
        let bytes = window.at(at)?;
        let eof = at + bytes.len() as u64 == size;
        let n = next_cut(bytes, eof, params).expect("max bytes, or the rest of the file, always decide a cut");
        let id = Oid::from_digest(Algo::Blake3, blake3::hash(&bytes[..n]).as_bytes(), false);
        chunks.push(Chunk { id, offset: at, len: n as u64 });
        reread.extend(at / BLOCK..=(at + n as u64 - 1) / BLOCK);
        at += n as u64;
    }
    // Re-cut chunks came from a second read: the blocks it read must still
    // be the ones the id was computed from, or the list would describe other
    // bytes than the id names (an edit that kept the size and the mtime).
    for k in reread {
        let bytes = window.span(k * BLOCK, BLOCK.min(size - k * BLOCK))?;
        if block_values(bytes, k * BLOCK)[0] != map.cvs[k as usize] {
            return Err(changed(path));
        }
    }
    let after = file.metadata().at(path)?;
    check_unchanged(path, &before, &after, size)?;
    Ok(Against::Chunked(ChunkedFile { id, size, chunks, blocks: Some(map) }))
}

fn changed(path: &Path) -> Error {
    Error::ChangedWhileHashing { path: path.to_path_buf() }
}

/// Fills `buf` from `at`; a file too short for it has shrunk since its size
/// was taken.
fn read_exact(file: &File, path: &Path, buf: &mut [u8], at: u64) -> Result<()> {
    file.read_exact_at(buf, at).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => changed(path),
        _ => Error::io(path, e),
    })
}

/// Whether an insertion or deletion seems to have shifted most blocks: the
/// size changed and the last block both versions hold whole differs. Then
/// the block map would find little in common, and reading for it first
/// would only add a read to the fresh pass. An append keeps that block.
fn shifted(file: &File, path: &Path, size: u64, base: &BlockMap) -> Result<bool> {
    let whole = size.min(base.size) / BLOCK;
    if size == base.size || whole == 0 {
        return Ok(false);
    }
    let k = whole - 1;
    let mut block = vec![0u8; BLOCK as usize];
    read_exact(file, path, &mut block, k * BLOCK)?;
    Ok(block_values(&block, k * BLOCK)[0] != base.cvs[k as usize])
}

/// The block map of the first `size` bytes of a file larger than one
/// block, from one read. Spans are read and hashed in parallel, each by one
/// worker: blocks are independent, and the copy out of the page cache is
/// half of the work.
fn block_map(file: &File, path: &Path, size: u64) -> Result<BlockMap> {
    const SPAN: u64 = 8 * BLOCK;
    let spans: Vec<Vec<ChainingValue>> = (0..size.div_ceil(SPAN))
        .into_par_iter()
        .map_init(Vec::new, |buf: &mut Vec<u8>, i| {
            buf.resize(SPAN.min(size - i * SPAN) as usize, 0);
            read_exact(file, path, buf, i * SPAN)?;
            Ok(block_values(buf, i * SPAN))
        })
        .collect::<Result<_>>()?;
    Ok(BlockMap { size, cvs: spans.into_iter().flatten().collect() })
}

/// Bytes of a file from an offset, `want` at a time, read in larger spans.
struct Window<'a> {
    file: &'a File,
    path: &'a Path,
    size: u64,
    want: usize,
    start: u64,
    buf: Vec<u8>,
}

impl<'a> Window<'a> {
    const SPAN: usize = 4 << 20;

    fn new(file: &'a File, path: &'a Path, size: u64, want: usize) -> Self {
        Window { file, path, size, want, start: 0, buf: Vec::new() }
    }

    /// `want` bytes from `at`, fewer only at the end of the file.
    fn at(&mut self, at: u64) -> Result<&[u8]> {
        let need = (self.want as u64).min(self.size - at);
        self.span(at, need)
    }

    /// `len` bytes from `at` (within the file's size when first read); a
    /// file that has shrunk since is an error, never fewer bytes.
    fn span(&mut self, at: u64, len: u64) -> Result<&[u8]> {
        let held = at >= self.start && at + len <= self.start + self.buf.len() as u64;
        if !held {
            let read = (Self::SPAN.max(self.want) as u64).max(len).min(self.size - at) as usize;
            self.buf.resize(read, 0);
            let mut done = 0;
            while done < read {
                match self.file.read_at(&mut self.buf[done..], at + done as u64).at(self.path)? {
                    0 => break,
                    n => done += n,
                }
            }
            self.buf.truncate(done);
            self.start = at;
        }
        if at + len > self.start + self.buf.len() as u64 {
            return Err(changed(self.path));
        }
        let from = (at - self.start) as usize;
        Ok(&self.buf[from..from + len as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_file_that_shrank_since_its_first_read_is_an_error_not_fewer_bytes() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&[7u8; 1000]).unwrap();
        let file = File::open(f.path()).unwrap();
        // As if the first read had seen 5000 bytes.
        let mut w = Window::new(&file, f.path(), 5000, 256);
        assert_eq!(w.at(100).unwrap().len(), 256);
        let err = w.at(900).unwrap_err();
        assert!(matches!(err, Error::ChangedWhileHashing { .. }), "{err}");
    }
}
