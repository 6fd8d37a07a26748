//! Ranged reads of a chunked file from the cache (DESIGN.md §13.8): only
//! the chunks that hold a range are read, and each is hashed against its
//! id before any of its bytes are handed back. A compacted file (no whole
//! object, DESIGN.md §13.0) reads the same way, from its loose chunks or
//! slices of other whole objects.

use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bale_chunk::{check_chunk, ChunkList};
use bale_error::{Error, IoContext, Result};
use bale_hash::Oid;
use rayon::prelude::*;

use crate::chunks::LocalChunks;
use crate::Odb;

/// A chunked file of the cache, open for ranged reads.
pub struct CachedChunks {
    odb: Odb,
    list: ChunkList,
    /// The whole object, when the cache holds it: every chunk is a slice.
    whole: Option<PathBuf>,
    /// Slices of other whole objects (chunk → file, offset), looked up only
    /// when a chunk is not loose: scanning every list of the cache costs
    /// more than most reads.
    slices: OnceLock<HashMap<Oid, (Oid, u64)>>,
}

impl Odb {
    /// `oid`'s chunk list, ready for ranged reads; `None` when the cache
    /// holds no list for it (a small or md5 file: read it whole).
    pub fn cached_chunks(&self, oid: &Oid) -> Result<Option<CachedChunks>> {
        let Some(list) = self.read_list(oid)? else { return Ok(None) };
        let whole = Some(self.object_path(oid)).filter(|p| p.is_file());
        Ok(Some(CachedChunks { odb: self.clone(), list, whole, slices: OnceLock::new() }))
    }
}

impl CachedChunks {
    pub fn list(&self) -> &ChunkList {
        &self.list
    }

    /// The bytes of chunks `range` of the list, one after another, each
    /// verified: a chunk that does not hash to its id fails the whole read
    /// with an error naming the list and the chunk, and nothing is returned.
    pub fn read(&self, range: Range<usize>) -> Result<Vec<u8>> {
        let chunks = &self.list.chunks[range.clone()];
        let Some(first) = chunks.first() else { return Ok(Vec::new()) };
        let total: u64 = chunks.iter().map(|c| c.len).sum();
        let mut out = vec![0u8; total as usize];
        match &self.whole {
            // Neighbouring slices of one object: one read.
            Some(whole) => read_at(whole, first.offset, &mut out)?,
            None => {
                let mut at = 0usize;
                for c in chunks {
                    let (path, offset) = self.place(&c.id)?;
                    read_at(&path, offset, &mut out[at..at + c.len as usize])?;
                    at += c.len as usize;
                }
            }
        }
        let mut starts = Vec::with_capacity(chunks.len());
        let mut at = 0usize;
        for c in chunks {
            starts.push(at);
            at += c.len as usize;
        }
        (0..chunks.len()).into_par_iter().try_for_each(|j| {
            let bytes = &out[starts[j]..starts[j] + chunks[j].len as usize];
            check_chunk(&self.list, range.start + j, bytes)
        })?;
        Ok(out)
    }

    /// Where a chunk of a compacted file lies: loose, or a slice of a whole
    /// object kept with its list (the invariant gc keeps, DESIGN.md §13.0).
    fn place(&self, chunk: &Oid) -> Result<(PathBuf, u64)> {
        let loose = self.odb.object_path(chunk);
        if loose.is_file() {
            return Ok((loose, 0));
        }
        let slices = match self.slices.get() {
            Some(s) => s,
            None => {
                let scanned = LocalChunks::scan(&self.odb)?.into_slices();
                self.slices.get_or_init(|| scanned)
            }
        };
        let (file, offset) =
            slices.get(chunk).ok_or_else(|| Error::ObjectMissing { path: loose, oid: chunk.to_string() })?;
        Ok((self.odb.object_path(file), *offset))
    }
}

/// Fills `buf` from `path` at `offset`. A file that ends early leaves zeros,
/// which fail the chunk's hash: a truncated object is reported as corrupt.
fn read_at(path: &Path, offset: u64, buf: &mut [u8]) -> Result<()> {
    let file = File::open(path).at(path)?;
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64).at(path)? {
            0 => break,
            n => done += n,
        }
    }
    buf[done..].fill(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settle;
    use bale_chunk::testing::random;
    use bale_hash::Algo;
    use std::collections::HashSet;

    fn add(odb: &Odb, dir: &Path, name: &str, data: &[u8]) -> Oid {
        let src = dir.join(name);
        std::fs::write(&src, data).unwrap();
        odb.add_file(&src, Algo::Blake3, false).unwrap().0.oid
    }

    fn expect(list: &ChunkList, data: &[u8], range: Range<usize>) -> Vec<u8> {
        let (a, b) =
            (list.chunks[range.start].offset, list.chunks[range.end - 1].offset + list.chunks[range.end - 1].len);
        data[a as usize..b as usize].to_vec()
    }

    #[test]
    fn ranges_read_the_same_whole_and_compacted_and_a_bad_chunk_fails() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let v1 = random(6 << 20, 41);
        let mut v2 = v1.clone();
        v2[2 << 20..(2 << 20) + 50_000].copy_from_slice(&random(50_000, 42));
        let (a, b) = (add(&odb, d.path(), "a", &v1), add(&odb, d.path(), "b", &v2));
        assert!(odb.cached_chunks(&Oid::from_digest(Algo::Blake3, &[1; 32], false)).unwrap().is_none());
        let whole = odb.cached_chunks(&a).unwrap().unwrap();
        let n = whole.list().chunks.len();
        for range in [0..1, 3..9, n - 2..n] {
            assert_eq!(whole.read(range.clone()).unwrap(), expect(whole.list(), &v1, range));
        }
        // v1 compacted: its chunks are loose or slices of v2, kept whole.
        let kept: HashSet<Oid> = [a, b].into();
        settle(&odb, &kept, &[a].into(), false).unwrap();
        assert!(!odb.exists(&a));
        let compacted = odb.cached_chunks(&a).unwrap().unwrap();
        for range in [0..n, 10..12] {
            assert_eq!(compacted.read(range.clone()).unwrap(), expect(compacted.list(), &v1, range));
        }
        // A flipped byte in v2's object: the chunk that holds it fails.
        let path = odb.object_path(&b);
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&path, perms).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[5 << 20] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let reader = odb.cached_chunks(&b).unwrap().unwrap();
        let bad = reader.list().span(5 << 20, (5 << 20) + 1);
        let err = reader.read(bad.start - 1..bad.end).unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }), "{err}");
        assert!(err.to_string().contains(&format!("chunk {}", bad.start)), "{err}");
        assert!(reader.read(0..bad.start).is_ok());
    }
}
