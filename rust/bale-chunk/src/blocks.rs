//! Block maps (DESIGN.md §13.7): the BLAKE3 chaining value of every aligned
//! 1 MiB block of a chunked file, which merge into the file's id.
//!
//! BLAKE3 hashes a file as a binary tree whose aligned power-of-two subtrees
//! depend only on their bytes and their offset. Two versions of a file whose
//! blocks at one offset have the same chaining value hold the same bytes
//! there, so a new version needs re-chunking only where its blocks differ
//! from the previous version's ([`crate::chunk_file_against`]). A map is
//! trusted only if its values merge into the id it is stored for: a damaged
//! or stale map is no map.

use blake3::hazmat::{left_subtree_len, merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode};
use blake3::Hasher;
use rayon::prelude::*;

use bale_hash::{Algo, Oid};

/// Bytes per block: a power of two, so every whole block of a larger file
/// is a subtree of its BLAKE3 tree.
pub const BLOCK: u64 = 1 << 20;

const MAGIC: &[u8; 8] = b"BALEBLK\x01";
const HEADER: usize = 8 + 32 + 8 + 8;

/// The chaining values of a file's blocks, in order; the last block may be
/// short. Only files larger than one block have one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockMap {
    pub size: u64,
    pub cvs: Vec<ChainingValue>,
}

impl BlockMap {
    /// The file's id: the blake3 of its whole content, merged from the blocks.
    pub fn id(&self) -> Oid {
        Oid::from_digest(Algo::Blake3, merge(&self.cvs, self.size, true).as_bytes(), false)
    }

    /// Whether block `k` holds the same bytes in both files.
    pub fn same_block(&self, other: &BlockMap, k: usize) -> bool {
        k < self.cvs.len() && k < other.cvs.len() && self.cvs[k] == other.cvs[k]
    }

    /// `"BALEBLK" 0x01`, the file id, u64 size, u64 count, the values.
    pub fn encode(&self, file: &Oid) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + 32 * self.cvs.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(file.digest());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&(self.cvs.len() as u64).to_le_bytes());
        for cv in &self.cvs {
            out.extend_from_slice(cv);
        }
        out
    }

    /// The map stored for `file`, if `bytes` are one that merges into its id.
    pub fn decode(bytes: &[u8], file: &Oid) -> Option<BlockMap> {
        if bytes.len() < HEADER || &bytes[..8] != MAGIC || &bytes[8..40] != file.digest() {
            return None;
        }
        let size = u64::from_le_bytes(bytes[40..48].try_into().ok()?);
        let count = u64::from_le_bytes(bytes[48..56].try_into().ok()?);
        if size <= BLOCK || count != size.div_ceil(BLOCK) || (bytes.len() - HEADER) as u64 != 32 * count {
            return None;
        }
        let cvs = bytes[HEADER..].chunks_exact(32).map(|c| c.try_into().expect("32 bytes")).collect();
        let map = BlockMap { size, cvs };
        (map.id() == *file).then_some(map)
    }
}

/// Merges the values of the blocks of `len` bytes into their subtree's
/// value, or with `root` into the file's hash: the tree BLAKE3 builds,
/// split where [`left_subtree_len`] says.
fn merge(cvs: &[ChainingValue], len: u64, root: bool) -> blake3::Hash {
    debug_assert!(cvs.len() > 1 || !root);
    if cvs.len() == 1 {
        return blake3::Hash::from(cvs[0]);
    }
    let left = left_subtree_len(len);
    let split = (left / BLOCK) as usize;
    let l = *merge(&cvs[..split], left, false).as_bytes();
    let r = *merge(&cvs[split..], len - left, false).as_bytes();
    if root {
        merge_subtrees_root(&l, &r, Mode::Hash)
    } else {
        blake3::Hash::from(merge_subtrees_non_root(&l, &r, Mode::Hash))
    }
}

/// The values of the blocks of `data`, which starts at `offset` (a
/// multiple of [`BLOCK`]) and holds whole blocks, except that the file's
/// last block may be short. Only for files larger than one block.
pub(crate) fn block_values(data: &[u8], offset: u64) -> Vec<ChainingValue> {
    data.chunks(BLOCK as usize).enumerate().map(|(i, block)| block_value(block, offset + i as u64 * BLOCK)).collect()
}

fn block_value(block: &[u8], offset: u64) -> ChainingValue {
    Hasher::new().set_input_offset(offset).update(block).finalize_non_root()
}

/// Hashes a file fed in order, in any slices, block by block: whole blocks
/// in parallel on the current rayon pool.
pub(crate) struct BlockHasher {
    cvs: Vec<ChainingValue>,
    /// The block being filled, and how much of it is.
    partial: Hasher,
    partial_len: u64,
}

impl BlockHasher {
    pub fn new() -> Self {
        BlockHasher { cvs: Vec::new(), partial: Hasher::new(), partial_len: 0 }
    }

    fn offset(&self) -> u64 {
        self.cvs.len() as u64 * BLOCK
    }

    pub fn update(&mut self, mut data: &[u8]) {
        if self.partial_len > 0 {
            let take = data.len().min((BLOCK - self.partial_len) as usize);
            self.partial.update(&data[..take]);
            self.partial_len += take as u64;
            data = &data[take..];
            // A full block is finalized once more data shows it is not the
            // file's only block (whose hash is a root, not a chaining value).
            if self.partial_len < BLOCK || data.is_empty() {
                return;
            }
            self.cvs.push(self.partial.finalize_non_root());
            self.reset_partial();
        }
        // Whole blocks, except one that ends the data: it may end the file,
        // whose hash is a root if it is the only block.
        let whole = (data.len().saturating_sub(1) as u64 / BLOCK) as usize;
        let base = self.offset();
        let cvs: Vec<ChainingValue> = data[..whole * BLOCK as usize]
            .par_chunks(BLOCK as usize)
            .enumerate()
            .map(|(i, block)| block_value(block, base + i as u64 * BLOCK))
            .collect();
        self.cvs.extend(cvs);
        self.reset_partial();
        let rest = &data[whole * BLOCK as usize..];
        self.partial.update(rest);
        self.partial_len = rest.len() as u64;
    }

    fn reset_partial(&mut self) {
        self.partial = Hasher::new();
        self.partial.set_input_offset(self.offset());
        self.partial_len = 0;
    }

    /// The file's id and size, and its block map if it is larger than one
    /// block.
    pub fn finish(mut self) -> (Oid, u64, Option<BlockMap>) {
        let size = self.offset() + self.partial_len;
        if self.cvs.is_empty() {
            return (Oid::from_digest(Algo::Blake3, self.partial.finalize().as_bytes(), false), size, None);
        }
        if self.partial_len > 0 {
            self.cvs.push(self.partial.finalize_non_root());
        }
        let map = BlockMap { size, cvs: self.cvs };
        (map.id(), size, Some(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::random;

    fn hashed(data: &[u8], step: usize) -> (Oid, Option<BlockMap>) {
        let mut h = BlockHasher::new();
        for piece in data.chunks(step.max(1)) {
            h.update(piece);
        }
        let (id, size, map) = h.finish();
        assert_eq!(size, data.len() as u64);
        (id, map)
    }

    #[test]
    fn block_values_merge_into_the_blake3_of_the_file_at_every_size() {
        let b = BLOCK as usize;
        let data = random(5 * b + 3000, 11);
        for len in [0, 1, 1024, b - 1, b, b + 1, 2 * b, 2 * b + 1, 3 * b - 7, 3 * b, 4 * b + 1024, 5 * b + 3000] {
            let d = &data[..len];
            for step in [len.max(1), 333_333, b, 4 * b + 1] {
                let (id, map) = hashed(d, step);
                assert_eq!(id.digest(), blake3::hash(d).as_bytes(), "len {len} step {step}");
                assert_eq!(map.is_some(), len as u64 > BLOCK, "len {len}");
                if let Some(m) = map {
                    assert_eq!((m.size, m.cvs.len() as u64), (len as u64, (len as u64).div_ceil(BLOCK)));
                    assert_eq!(BlockMap::decode(&m.encode(&id), &id), Some(m));
                }
            }
        }
    }

    #[test]
    fn equal_blocks_at_equal_offsets_have_equal_values_and_a_bad_map_is_no_map() {
        let b = BLOCK as usize;
        let one = random(4 * b + 10, 12);
        let mut two = one.clone();
        two[2 * b + 5] ^= 1;
        let (ida, a) = hashed(&one, 4 << 20);
        let (_, bm) = hashed(&two, 1 << 20);
        let (a, bm) = (a.unwrap(), bm.unwrap());
        let same: Vec<bool> = (0..5).map(|k| a.same_block(&bm, k)).collect();
        assert_eq!(same, [true, true, false, true, true]);

        let good = a.encode(&ida);
        let mut bad = good.clone();
        bad[HEADER + 40] ^= 1;
        assert_eq!(BlockMap::decode(&bad, &ida), None, "values that merge elsewhere");
        let other = Oid::from_digest(Algo::Blake3, blake3::hash(b"x").as_bytes(), false);
        assert_eq!(BlockMap::decode(&good, &other), None, "stored for another file");
        assert_eq!(BlockMap::decode(&good[..good.len() - 1], &ida), None);
    }
}
