//! Rebuilding a file from its chunks, trusting nothing: each chunk is hashed
//! before any of its bytes reach the writer, and the whole is hashed as it
//! goes and compared with the file id at the end.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::io::Write;

use bale_error::Result;
use bale_hash::Oid;
use rayon::prelude::*;

use crate::errors::{corrupt_chunk, corrupt_whole, missing_chunk, write_failed};
use crate::ChunkList;

/// Where chunks come from: the local cache, a pack being read, memory.
pub trait ChunkSource {
    /// Replaces `buf`'s contents with the bytes stored for chunk `id`
    /// (`len` is the expected length, a hint for sizing reads). Unverified:
    /// [`rebuild`] checks them.
    fn read_chunk(&self, id: &Oid, len: u64, buf: &mut Vec<u8>) -> Result<()>;
}

impl<S: BuildHasher> ChunkSource for HashMap<Oid, Vec<u8>, S> {
    fn read_chunk(&self, id: &Oid, _len: u64, buf: &mut Vec<u8>) -> Result<()> {
        let bytes = self.get(id).ok_or_else(|| missing_chunk(id))?;
        buf.clear();
        buf.extend_from_slice(bytes);
        Ok(())
    }
}

/// Streams the file `list` describes into `out` and returns its size.
///
/// A chunk that does not hash to its id stops the rebuild before any of its
/// bytes are written, with an error naming the list and the chunk's index.
/// If every chunk is good but the whole does not hash to the file id (a
/// wrong list), everything was written and the error comes at the end: so
/// `out` must be a temp file that is published only on `Ok`.
pub fn rebuild(list: &ChunkList, source: &impl ChunkSource, out: &mut impl Write) -> Result<u64> {
    let mut whole = blake3::Hasher::new();
    let mut size = 0u64;
    let mut bufs: Vec<Vec<u8>> = Vec::new();
    let mut first = 0;
    for batch in list.chunks.chunks(BATCH) {
        // Read in order (sources need not be thread-safe), verify the batch
        // on the pool, then write it: hashing is most of the work.
        bufs.resize_with(batch.len(), Vec::new);
        for (chunk, buf) in batch.iter().zip(bufs.iter_mut()) {
            source.read_chunk(&chunk.id, chunk.len, buf)?;
        }
        let bad = batch.par_iter().zip(bufs.par_iter()).enumerate().find_map_first(|(j, (chunk, buf))| {
            let actual = blake3::hash(buf);
            (actual.as_bytes() != chunk.id.digest() || buf.len() as u64 != chunk.len).then_some((j, actual))
        });
        let good = bad.map_or(batch.len(), |(j, _)| j);
        for buf in &bufs[..good] {
            whole.update(buf);
            out.write_all(buf).map_err(|e| write_failed(&list.file, e))?;
            size += buf.len() as u64;
        }
        if let Some((j, actual)) = bad {
            return Err(corrupt_chunk(&list.file, first + j, &batch[j].id, &actual));
        }
        first += batch.len();
    }
    out.flush().map_err(|e| write_failed(&list.file, e))?;
    let actual = whole.finalize();
    if actual.as_bytes() != list.file.digest() || size != list.size {
        return Err(corrupt_whole(&list.file, &actual));
    }
    Ok(size)
}

/// Chunks verified together: ~16 MiB at the default 64 KiB average.
const BATCH: usize = 256;
