//! The byte layouts of version 1 (DESIGN.md §11 is the prose form): constants,
//! object kinds and encodings, and the 50-byte entry shared by a pack's
//! trailing table and its index. All integers are little-endian.

use bale_hash::{Algo, Oid};

/// The format version written, and the only one read so far.
pub const VERSION: u8 = 1;

pub(crate) const PACK_MAGIC: &[u8; 7] = b"BALEPAK";
pub(crate) const INDEX_MAGIC: &[u8; 7] = b"BALEIDX";

/// `BALEPAK` + version, at the start of a pack (and again in its footer).
pub(crate) const PACK_HEADER_LEN: u64 = 8;
/// A pack ends with `u64 count` + `BALEPAK` + version, right after its table.
pub(crate) const PACK_FOOTER_LEN: u64 = 16;
/// `BALEIDX` + version + `u64 count`.
pub(crate) const INDEX_HEADER_LEN: usize = 16;
/// pack id (32) + pack length (8) + checksum (32).
pub(crate) const INDEX_TRAILER_LEN: usize = 72;

/// Bytes of one entry: digest 32, kind 1, encoding 1, offset 8, length 8.
pub const ENTRY_LEN: usize = 50;

/// What an object is. The kind is part of an object's identity (a tree and a
/// file may share a digest), and it decides where the object is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// A file's content.
    Blob = 0,
    /// A `bale-tree` directory manifest.
    Tree = 1,
    /// A piece of a chunked file (DESIGN.md §13), stored as `<hex>` like a blob.
    Chunk = 2,
    /// The list of a chunked file's chunks; its digest is the file's id.
    ChunkList = 3,
}

impl Kind {
    pub fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Blob),
            1 => Some(Kind::Tree),
            2 => Some(Kind::Chunk),
            3 => Some(Kind::ChunkList),
            _ => None,
        }
    }

    /// The kind an object id names (a tree or a file's bytes).
    pub fn of(oid: &Oid) -> Kind {
        if oid.is_tree() {
            Kind::Tree
        } else {
            Kind::Blob
        }
    }
}

/// How an object's bytes are stored in the pack. Only `Raw` exists; the field
/// is there so that compression needs no new entry layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encoding {
    Raw = 0,
}

impl Encoding {
    pub fn from_u8(b: u8) -> Option<Encoding> {
        match b {
            0 => Some(Encoding::Raw),
            _ => None,
        }
    }
}

/// One object's place in a pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    pub digest: [u8; 32],
    pub kind: Kind,
    pub encoding: Encoding,
    /// From the start of the pack file.
    pub offset: u64,
    /// Bytes stored in the pack (the object's size while `encoding` is raw).
    pub length: u64,
}

impl Entry {
    /// The object id this entry is about: a tree, a file or chunk's bytes,
    /// or (for a list) the file it describes.
    pub fn oid(&self) -> Oid {
        Oid::from_digest(Algo::Blake3, &self.digest, self.kind == Kind::Tree)
    }

    /// Where the object's bytes end in the pack.
    pub fn end(&self) -> u64 {
        self.offset + self.length
    }

    /// The order of tables and indexes: by digest, then kind.
    pub(crate) fn key(&self) -> ([u8; 32], Kind) {
        (self.digest, self.kind)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.digest);
        out.push(self.kind as u8);
        out.push(self.encoding as u8);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
    }

    /// Decodes one entry; the error says which field is wrong.
    pub(crate) fn decode(b: &[u8]) -> Result<Entry, String> {
        debug_assert_eq!(b.len(), ENTRY_LEN);
        let kind = Kind::from_u8(b[32]).ok_or_else(|| format!("unknown object kind {}", b[32]))?;
        let encoding = Encoding::from_u8(b[33]).ok_or_else(|| format!("unknown encoding {}", b[33]))?;
        Ok(Entry {
            digest: b[..32].try_into().expect("32 bytes"),
            kind,
            encoding,
            offset: u64_at(b, 34),
            length: u64_at(b, 42),
        })
    }
}

/// The key an object id sorts and searches by.
pub(crate) fn oid_key(oid: &Oid) -> Option<([u8; 32], Kind)> {
    (oid.algo() == Algo::Blake3).then(|| (oid.digest().try_into().expect("blake3 digests are 32 bytes"), Kind::of(oid)))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The magic and version that open a pack.
pub(crate) fn pack_header() -> [u8; 8] {
    let mut h = [0u8; 8];
    h[..7].copy_from_slice(PACK_MAGIC);
    h[7] = VERSION;
    h
}

/// Appends a pack's table (entries sorted by key) and footer.
pub(crate) fn encode_pack_tail(sorted: &[Entry], out: &mut Vec<u8>) {
    for e in sorted {
        e.encode(out);
    }
    out.extend_from_slice(&(sorted.len() as u64).to_le_bytes());
    out.extend_from_slice(&pack_header());
}

/// Checks entries are strictly increasing by key and each lies inside the
/// pack's data area `[PACK_HEADER_LEN, data_end)`.
pub(crate) fn check_entries(entries: &[Entry], data_end: u64) -> Result<(), String> {
    for (i, e) in entries.iter().enumerate() {
        if i > 0 && entries[i - 1].key() >= e.key() {
            return Err(format!("entry {i} is out of order or repeated"));
        }
        let end = e.offset.checked_add(e.length).ok_or_else(|| format!("entry {i} overflows"))?;
        if e.offset < PACK_HEADER_LEN || end > data_end {
            return Err(format!("entry {i} ({}..{end}) lies outside the pack's data", e.offset));
        }
    }
    Ok(())
}
