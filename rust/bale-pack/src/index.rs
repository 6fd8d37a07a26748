//! One pack's index: parsed, checked, searched, written.

use std::path::Path;

use bale_error::{IoContext, Result};
use bale_hash::Oid;

use crate::errors::bad_format;
use crate::format::{
    check_entries, oid_key, u64_at, Entry, ENTRY_LEN, INDEX_HEADER_LEN, INDEX_MAGIC, INDEX_TRAILER_LEN,
    PACK_FOOTER_LEN, PACK_HEADER_LEN, PACK_MAGIC, VERSION,
};
use crate::PackId;

/// The entries of one pack, sorted by (digest, kind), and the pack they
/// describe. Built by the writer, or parsed from an `.idx` file (or, to
/// recover a lost index, from the table at the end of the pack itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackIndex {
    pack: PackId,
    pack_len: u64,
    entries: Vec<Entry>,
}

impl PackIndex {
    /// An index over `entries` of the pack `pack` of `pack_len` bytes; the
    /// entries are sorted here.
    pub fn new(pack: PackId, pack_len: u64, mut entries: Vec<Entry>) -> Self {
        entries.sort_unstable_by_key(Entry::key);
        PackIndex { pack, pack_len, entries }
    }

    /// Parses an `.idx` file's bytes, checking magic, version, length,
    /// checksum, order, and that every entry lies inside the pack. `name`
    /// (the file or remote path) only labels errors.
    pub fn parse(bytes: &[u8], name: &Path) -> Result<Self> {
        let bad = |reason: String| bad_format(name, format!("bad pack index: {reason}"));
        if bytes.len() < INDEX_HEADER_LEN + INDEX_TRAILER_LEN {
            return Err(bad(format!("{} bytes is too short", bytes.len())));
        }
        if &bytes[..7] != INDEX_MAGIC {
            return Err(bad("not a bale pack index (no BALEIDX magic)".into()));
        }
        if bytes[7] != VERSION {
            return Err(bad(format!("version {} is not supported (this bale reads version {VERSION})", bytes[7])));
        }
        let count = u64_at(bytes, 8);
        let expected = count
            .checked_mul(ENTRY_LEN as u64)
            .and_then(|n| n.checked_add((INDEX_HEADER_LEN + INDEX_TRAILER_LEN) as u64));
        if expected != Some(bytes.len() as u64) {
            return Err(bad(format!("truncated or padded: {count} entries, {} bytes", bytes.len())));
        }
        let (body, checksum) = bytes.split_at(bytes.len() - 32);
        if blake3::hash(body).as_bytes() != checksum {
            return Err(bad("checksum mismatch (the file is damaged)".into()));
        }
        let table_end = INDEX_HEADER_LEN + count as usize * ENTRY_LEN;
        let entries = decode_table(&bytes[INDEX_HEADER_LEN..table_end]).map_err(bad)?;
        let pack = PackId::from_bytes(bytes[table_end..table_end + 32].try_into().expect("32 bytes"));
        let pack_len = u64_at(bytes, table_end + 32);
        check_entries(&entries, data_end(pack_len, entries.len()).ok_or_else(|| bad("pack too short".into()))?)
            .map_err(bad)?;
        Ok(PackIndex { pack, pack_len, entries })
    }

    /// Reads and parses an `.idx` file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).at(path)?;
        Self::parse(&bytes, path)
    }

    /// The `.idx` file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(INDEX_HEADER_LEN + self.entries.len() * ENTRY_LEN + INDEX_TRAILER_LEN);
        out.extend_from_slice(INDEX_MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for e in &self.entries {
            e.encode(&mut out);
        }
        out.extend_from_slice(self.pack.as_bytes());
        out.extend_from_slice(&self.pack_len.to_le_bytes());
        let checksum = blake3::hash(&out);
        out.extend_from_slice(checksum.as_bytes());
        out
    }

    /// How many bytes at the end of a pack hold its table and footer, from
    /// the pack's last 16 bytes: a lost index is rebuilt from one ranged read
    /// of that many bytes ([`from_pack_tail`](Self::from_pack_tail)).
    pub fn pack_tail_len(footer: &[u8], name: &Path) -> Result<u64> {
        let bad = |reason: &str| bad_format(name, format!("bad pack: {reason}"));
        if footer.len() != PACK_FOOTER_LEN as usize {
            return Err(bad("a footer is 16 bytes"));
        }
        if &footer[8..15] != PACK_MAGIC || footer[15] != VERSION {
            return Err(bad("no BALEPAK version 1 footer"));
        }
        let count = u64_at(footer, 0);
        count.checked_mul(ENTRY_LEN as u64).and_then(|n| n.checked_add(PACK_FOOTER_LEN)).ok_or_else(|| bad("count"))
    }

    /// Rebuilds the index of pack `pack` (`pack_len` bytes) from its last
    /// bytes (at least [`pack_tail_len`](Self::pack_tail_len) of them). The
    /// table is not covered by a checksum of its own: objects are verified by
    /// their ids when read, and a repair that downloads the whole pack uses
    /// [`from_pack`](Self::from_pack), which checks the pack's name.
    pub fn from_pack_tail(tail: &[u8], pack: PackId, pack_len: u64, name: &Path) -> Result<Self> {
        let bad = |reason: String| bad_format(name, format!("bad pack: {reason}"));
        if tail.len() < PACK_FOOTER_LEN as usize || tail.len() as u64 > pack_len {
            return Err(bad("tail shorter than a footer or longer than the pack".into()));
        }
        let tail_len = Self::pack_tail_len(&tail[tail.len() - PACK_FOOTER_LEN as usize..], name)?;
        if tail_len > tail.len() as u64 {
            return Err(bad(format!("the table needs the last {tail_len} bytes, {} given", tail.len())));
        }
        let table = &tail[tail.len() - tail_len as usize..tail.len() - PACK_FOOTER_LEN as usize];
        let entries = decode_table(table).map_err(bad)?;
        let end = data_end(pack_len, entries.len()).ok_or_else(|| bad("pack too short".into()))?;
        check_entries(&entries, end).map_err(bad)?;
        Ok(PackIndex { pack, pack_len, entries })
    }

    /// Rebuilds the index from a whole pack, checking that its bytes hash to
    /// the id `name` (a `<hex>.pack` path) carries, when it carries one.
    pub fn from_pack(bytes: &[u8], name: &Path) -> Result<Self> {
        if bytes.len() < (PACK_HEADER_LEN + PACK_FOOTER_LEN) as usize || bytes[..7] != *PACK_MAGIC {
            return Err(bad_format(name, "bad pack: no BALEPAK header"));
        }
        if bytes[7] != VERSION {
            return Err(bad_format(name, format!("bad pack: version {} is not supported", bytes[7])));
        }
        let pack = PackId::from_bytes(*blake3::hash(bytes).as_bytes());
        let stem = name.file_stem().and_then(|s| s.to_str()).and_then(PackId::parse);
        if stem.is_some_and(|named| named != pack) {
            return Err(bad_format(name, format!("bad pack: its bytes hash to {pack}")));
        }
        Self::from_pack_tail(bytes, pack, bytes.len() as u64, name)
    }

    /// The entry of `oid` in this pack, by binary search.
    pub fn get(&self, oid: &Oid) -> Option<Entry> {
        let key = oid_key(oid)?;
        self.entries.binary_search_by_key(&key, Entry::key).ok().map(|i| self.entries[i])
    }

    pub fn contains(&self, oid: &Oid) -> bool {
        self.get(oid).is_some()
    }

    /// Every entry, sorted by (digest, kind).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn pack(&self) -> PackId {
        self.pack
    }

    /// The pack file's size in bytes.
    pub fn pack_len(&self) -> u64 {
        self.pack_len
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Where a pack's objects end and its table begins.
fn data_end(pack_len: u64, count: usize) -> Option<u64> {
    pack_len.checked_sub(PACK_FOOTER_LEN)?.checked_sub((count as u64).checked_mul(ENTRY_LEN as u64)?)
}

fn decode_table(table: &[u8]) -> Result<Vec<Entry>, String> {
    // Sized up front: collecting through a `Result` loses the size hint, and
    // the regrowth would copy the whole table several times.
    let mut entries = Vec::with_capacity(table.len() / ENTRY_LEN);
    for (i, b) in table.chunks_exact(ENTRY_LEN).enumerate() {
        entries.push(Entry::decode(b).map_err(|e| format!("entry {i}: {e}"))?);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Encoding, Kind};
    use bale_error::Error;
    use bale_hash::Algo;

    fn sample() -> PackIndex {
        let entries = (0..20u8)
            .map(|i| Entry {
                digest: [i.wrapping_mul(37); 32],
                kind: if i % 5 == 0 { Kind::Tree } else { Kind::Blob },
                encoding: Encoding::Raw,
                offset: 8 + 100 * i as u64,
                length: 100,
            })
            .collect();
        PackIndex::new(PackId::from_bytes([9; 32]), 8 + 2000 + 20 * ENTRY_LEN as u64 + 16, entries)
    }

    fn reason(r: Result<PackIndex>) -> String {
        match r {
            Err(Error::BadManifest { reason, .. }) => reason,
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn an_index_round_trips_and_finds_every_entry() {
        let idx = sample();
        let parsed = PackIndex::parse(&idx.to_bytes(), Path::new("x.idx")).unwrap();
        assert_eq!(parsed, idx);
        for e in idx.entries() {
            assert_eq!(parsed.get(&e.oid()), Some(*e));
        }
        let blob = Oid::from_digest(Algo::Blake3, &[0; 32], false);
        assert!(parsed.contains(&blob.as_tree()), "digest 0 is stored as a tree");
        assert!(!parsed.contains(&blob), "the same digest as a blob is another object");
        assert!(!parsed.contains(&Oid::from_digest(Algo::Md5, &[0; 16], false)));
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_rejected() {
        let bytes = sample().to_bytes();
        for n in 0..bytes.len() {
            assert!(PackIndex::parse(&bytes[..n], Path::new("x")).is_err(), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(PackIndex::parse(&bad, Path::new("x")).is_err(), "flipped byte {i}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(reason(PackIndex::parse(&longer, Path::new("x"))).contains("truncated or padded"));
    }

    /// Rewrites the checksum so that only the structural checks can object.
    fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
        let n = bytes.len() - 32;
        let sum = *blake3::hash(&bytes[..n]).as_bytes();
        bytes[n..].copy_from_slice(&sum);
        bytes
    }

    #[test]
    fn structural_errors_are_named_even_under_a_valid_checksum() {
        let bytes = sample().to_bytes();
        let mut v2 = bytes.clone();
        v2[7] = 2;
        assert!(reason(PackIndex::parse(&resealed(v2), Path::new("x"))).contains("version 2"));
        let mut swapped = bytes.clone();
        let (a, b) = (INDEX_HEADER_LEN, INDEX_HEADER_LEN + ENTRY_LEN);
        let first = swapped[a..b].to_vec();
        swapped.copy_within(b..b + ENTRY_LEN, a);
        swapped[b..b + ENTRY_LEN].copy_from_slice(&first);
        assert!(reason(PackIndex::parse(&resealed(swapped), Path::new("x"))).contains("out of order"));
        let mut outside = bytes.clone();
        outside[INDEX_HEADER_LEN + 34..INDEX_HEADER_LEN + 42].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(reason(PackIndex::parse(&resealed(outside), Path::new("x"))).contains("overflows"));
        let mut kind = bytes;
        kind[INDEX_HEADER_LEN + 32] = 9;
        assert!(reason(PackIndex::parse(&resealed(kind), Path::new("x"))).contains("unknown object kind 9"));
    }
}
