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
///
/// A thread writes each verified batch while the next one is read and
/// hashed: writing a new 2 GiB file costs about as much as hashing it twice,
/// and the two overlap instead of taking turns.
pub fn rebuild(list: &ChunkList, source: &impl ChunkSource, out: &mut (impl Write + Send)) -> Result<u64> {
    let mut whole = blake3::Hasher::new();
    let mut size = 0u64;
    let (to_writer, written) = std::sync::mpsc::sync_channel::<Vec<u8>>(1);
    let (spare_back, spare) = std::sync::mpsc::channel::<Vec<u8>>();
    let (produced, wrote) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> std::io::Result<()> {
            for buf in written {
                out.write_all(&buf)?;
                let _ = spare_back.send(buf);
            }
            out.flush()
        });
        let produced = (|| -> Result<()> {
            let mut piece = Vec::new();
            let mut first = 0;
            for batch in batches(&list.chunks) {
                // Read in order into one buffer (sources need not be
                // thread-safe), verify the chunks on the pool, then hash the
                // whole batch on the pool: hashing is most of the work.
                let mut batch_buf = spare.try_recv().unwrap_or_default();
                batch_buf.clear();
                let mut ends = Vec::with_capacity(batch.len());
                for chunk in batch {
                    source.read_chunk(&chunk.id, chunk.len, &mut piece)?;
                    batch_buf.extend_from_slice(&piece);
                    ends.push(batch_buf.len());
                }
                let bad = (0..batch.len()).into_par_iter().find_map_first(|j| {
                    let start = if j == 0 { 0 } else { ends[j - 1] };
                    check_chunk(list, first + j, &batch_buf[start..ends[j]]).err().map(|e| (j, e))
                });
                // Exactly the verified chunks before a bad one are written.
                let good = bad.as_ref().map_or(batch_buf.len(), |&(j, _)| if j == 0 { 0 } else { ends[j - 1] });
                batch_buf.truncate(good);
                whole.update_rayon(&batch_buf);
                size += good as u64;
                if to_writer.send(batch_buf).is_err() {
                    return Ok(()); // the writer failed: its error is the one to give
                }
                if let Some((_, e)) = bad {
                    return Err(e);
                }
                first += batch.len();
            }
            Ok(())
        })();
        drop(to_writer);
        (produced, writer.join().expect("the rebuild's writer does not panic"))
    });
    wrote.map_err(|e| write_failed(&list.file, e))?;
    produced?;
    let actual = whole.finalize();
    if actual.as_bytes() != list.file.digest() || size != list.size {
        return Err(corrupt_whole(ChunkList::relative_path(&list.file), &list.file, &actual));
    }
    Ok(size)
}

/// Fails unless `bytes` are chunk `index` of `list` (its hash and length),
/// naming the list and the chunk's place in it.
pub fn check_chunk(list: &ChunkList, index: usize, bytes: &[u8]) -> Result<()> {
    let chunk = &list.chunks[index];
    let actual = blake3::hash(bytes);
    if actual.as_bytes() != chunk.id.digest() || bytes.len() as u64 != chunk.len {
        return Err(corrupt_chunk(ChunkList::relative_path(&list.file), index, &chunk.id, &actual));
    }
    Ok(())
}

/// Bytes of chunks verified together (whatever a list's chunk sizes).
const BATCH_BYTES: u64 = 16 << 20;

/// Consecutive runs of chunks of about [`BATCH_BYTES`] (at least one chunk).
fn batches(chunks: &[crate::Chunk]) -> impl Iterator<Item = &[crate::Chunk]> {
    let mut rest = chunks;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let n = rest
            .iter()
            .position(|c| {
                bytes += c.len;
                bytes >= BATCH_BYTES
            })
            .map_or(rest.len(), |i| i + 1);
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        Some(batch)
    })
}
