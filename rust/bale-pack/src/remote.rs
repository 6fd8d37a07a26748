//! The union of a remote's pack indexes: which pack holds each object.

use std::collections::HashSet;
use std::path::Path;

use bale_error::{IoContext, Result};
use bale_hash::Oid;
use rayon::prelude::*;

use crate::errors::bad_format;
use crate::format::{oid_key, Encoding, Entry, Kind};
use crate::{PackId, PackIndex};

/// Where one object can be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub pack: PackId,
    pub entry: Entry,
}

/// Every object of many pack indexes, searchable by id. An object stored in
/// several packs (two clones pushed it at once, or a repack) is listed once
/// per pack; that is normal, not an error.
///
/// One flat vector (56 bytes per object) sorted by digest, with a fan-out
/// table on the digest's leading bits (about one bucket per object): blake3
/// digests are uniform, so building is a counting sort (linear, no merge
/// passes) and a lookup touches the fan-out and one tiny bucket instead of
/// the ~17 cache misses of a binary search over the whole vector.
#[derive(Clone, Debug, Default)]
pub struct RemoteIndex {
    packs: Vec<PackId>,
    known: HashSet<PackId>,
    /// Sorted by (digest, kind, pack number).
    slots: Vec<Slot>,
    /// `slots[fanout[b]..fanout[b + 1]]` are the digests whose leading `bits`
    /// bits read `b`.
    fanout: Vec<u32>,
    bits: u32,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    digest: [u8; 32],
    offset: u64,
    length: u64,
    pack: u32,
    kind: Kind,
    encoding: Encoding,
}

impl Slot {
    const EMPTY: Slot =
        Slot { digest: [0; 32], offset: 0, length: 0, pack: 0, kind: Kind::Blob, encoding: Encoding::Raw };

    fn key(&self) -> ([u8; 32], Kind, u32) {
        (self.digest, self.kind, self.pack)
    }

    fn entry(&self) -> Entry {
        Entry {
            digest: self.digest,
            kind: self.kind,
            encoding: self.encoding,
            offset: self.offset,
            length: self.length,
        }
    }
}

fn bucket(digest: &[u8; 32], bits: u32) -> usize {
    let lead = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (u64::from(lead) >> (32 - bits)) as usize
}

impl RemoteIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// The union of `indexes`; a pack given twice counts once.
    pub fn from_indexes(indexes: impl IntoIterator<Item = PackIndex>) -> Self {
        let mut indexes: Vec<PackIndex> = indexes.into_iter().collect();
        indexes.sort_unstable_by_key(PackIndex::pack);
        indexes.dedup_by_key(|i| i.pack());
        let mut remote = RemoteIndex::default();
        remote.rebuild(&indexes);
        remote
    }

    /// Reads every `<pack id>.idx` in `dir` (the local cache of a remote's
    /// indexes, kept because indexes never change), in parallel. Other files
    /// are ignored; a missing folder is an empty remote. An index whose
    /// content names another pack than its file name is an error.
    pub fn load_dir(dir: &Path) -> Result<Self> {
        let listing = match std::fs::read_dir(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            other => other.at(dir)?,
        };
        let mut files = Vec::new();
        for entry in listing {
            let name = entry.at(dir)?.file_name();
            let stem = name.to_str().and_then(|n| n.strip_suffix(".idx"));
            if let Some(id) = stem.and_then(PackId::parse) {
                files.push((id, dir.join(&name)));
            }
        }
        let indexes: Vec<PackIndex> = files
            .par_iter()
            .map(|(id, path)| {
                let index = PackIndex::read(path)?;
                if index.pack() != *id {
                    return Err(bad_format(path, format!("bad pack index: it describes pack {}", index.pack())));
                }
                Ok(index)
            })
            .collect::<Result<_>>()?;
        Ok(Self::from_indexes(indexes))
    }

    /// Adds one more index (a pack this process just uploaded, or one
    /// downloaded since loading); a known pack is ignored. Rebuilds the
    /// whole table: add many at once with [`from_indexes`](Self::from_indexes).
    pub fn add(&mut self, index: &PackIndex) {
        if !self.known.contains(&index.pack()) {
            self.rebuild(std::slice::from_ref(index));
        }
    }

    /// Places the current slots and the entries of `indexes` (new packs) by
    /// counting sort on the leading digest bits, then sorts each (tiny)
    /// bucket. Each index is sorted, so placing one is an ascending sweep.
    fn rebuild(&mut self, indexes: &[PackIndex]) {
        let old = std::mem::take(&mut self.slots);
        let n = old.len() + indexes.iter().map(PackIndex::len).sum::<usize>();
        let bits = n.next_power_of_two().trailing_zeros().clamp(8, 24);
        let buckets = 1usize << bits;
        let mut fanout = vec![0u32; buckets + 1];
        let digests =
            old.iter().map(|s| &s.digest).chain(indexes.iter().flat_map(|i| i.entries().iter().map(|e| &e.digest)));
        for digest in digests {
            fanout[bucket(digest, bits) + 1] += 1;
        }
        for b in 0..buckets {
            fanout[b + 1] += fanout[b];
        }
        let mut cursor = fanout.clone();
        let mut slots = vec![Slot::EMPTY; n];
        let mut place = |s: Slot| {
            let b = bucket(&s.digest, bits);
            slots[cursor[b] as usize] = s;
            cursor[b] += 1;
        };
        old.into_iter().for_each(&mut place);
        for index in indexes {
            let pack = u32::try_from(self.packs.len()).expect("fewer than 4 billion packs");
            self.packs.push(index.pack());
            self.known.insert(index.pack());
            for e in index.entries() {
                let (digest, offset, length, kind, encoding) = (e.digest, e.offset, e.length, e.kind, e.encoding);
                place(Slot { digest, offset, length, pack, kind, encoding });
            }
        }
        for b in 0..buckets {
            let range = fanout[b] as usize..fanout[b + 1] as usize;
            if range.len() > 1 {
                slots[range].sort_unstable_by_key(Slot::key);
            }
        }
        (self.slots, self.fanout, self.bits) = (slots, fanout, bits);
    }

    /// Every place an object of this digest and kind is stored, in the
    /// order packs were added.
    pub fn find(&self, digest: &[u8; 32], kind: Kind) -> impl Iterator<Item = Location> + '_ {
        let found = if self.slots.is_empty() {
            &[][..]
        } else {
            let b = bucket(digest, self.bits);
            let candidates = &self.slots[self.fanout[b] as usize..self.fanout[b + 1] as usize];
            let start = candidates.partition_point(|s| (&s.digest, s.kind) < (digest, kind));
            let len = candidates[start..].iter().take_while(|s| s.digest == *digest && s.kind == kind).count();
            &candidates[start..start + len]
        };
        found.iter().map(|s| Location { pack: self.packs[s.pack as usize], entry: s.entry() })
    }

    /// Every place `oid` is stored as what its id names (a tree, or a
    /// file's whole bytes), in the order packs were added.
    pub fn locations(&self, oid: &Oid) -> impl Iterator<Item = Location> + '_ {
        let key = oid_key(oid);
        let (digest, kind) = key.unwrap_or(([0; 32], Kind::Blob));
        self.find(&digest, kind).filter(move |_| key.is_some())
    }

    /// Every place the bytes of `oid` (a file or a chunk) are stored: as a
    /// blob or as a chunk, the same bytes either way.
    pub fn byte_locations(&self, oid: &Oid) -> Vec<Location> {
        match oid_key(oid) {
            Some((digest, Kind::Blob)) => {
                self.find(&digest, Kind::Blob).chain(self.find(&digest, Kind::Chunk)).collect()
            }
            _ => self.locations(oid).collect(),
        }
    }

    /// Where the chunk list of the file `oid` is stored, if anywhere.
    pub fn list_location(&self, oid: &Oid) -> Option<Location> {
        match oid_key(oid) {
            Some((digest, Kind::Blob)) => self.find(&digest, Kind::ChunkList).next(),
            _ => None,
        }
    }

    /// One place `oid` is stored as what its id names.
    pub fn locate(&self, oid: &Oid) -> Option<Location> {
        self.locations(oid).next()
    }

    /// Whether the remote holds `oid`: a tree as a tree, a file as its
    /// bytes (blob or chunk) or as a chunk list. A list implies its chunks:
    /// they are in packs whose indexes went up before the list's.
    pub fn contains(&self, oid: &Oid) -> bool {
        match oid_key(oid) {
            Some((digest, Kind::Tree)) => self.find(&digest, Kind::Tree).next().is_some(),
            Some((digest, _)) => {
                [Kind::Blob, Kind::Chunk, Kind::ChunkList].into_iter().any(|k| self.find(&digest, k).next().is_some())
            }
            None => false,
        }
    }

    /// Whether the remote can give back the file of `list` through that
    /// list: every chunk and every segment (DESIGN.md §13.6) the list names
    /// is in some pack. A list on the remote is meant to imply its chunks,
    /// but a pack or index deleted behind bale's back (or by an older
    /// bale's `gc -c`) can leave a list whose chunks are gone.
    pub fn holds_chunks_of(&self, list: &bale_chunk::ChunkList) -> bool {
        list.chunks.iter().all(|c| self.has_bytes(&c.id)) && list.segmented().1.iter().all(|s| self.has_bytes(&s.id))
    }

    /// Whether some pack holds the bytes of `oid` (a file or a chunk), as a
    /// blob or as a chunk.
    pub fn has_bytes(&self, oid: &Oid) -> bool {
        match oid_key(oid) {
            Some((digest, Kind::Blob)) => {
                self.find(&digest, Kind::Blob).next().is_some() || self.find(&digest, Kind::Chunk).next().is_some()
            }
            _ => self.locate(oid).is_some(),
        }
    }

    /// Bytes the remote's packs spend on `oids` (each counted once): a tree
    /// or a file's whole bytes, or a file's list plus its chunks (each chunk
    /// once, whatever shares it), read from `list_of` (a list the remote
    /// holds but `list_of` cannot give counts only its own bytes). Packs
    /// hold some objects twice after concurrent pushes; one copy is counted.
    pub fn stored_bytes(&self, oids: &HashSet<Oid>, list_of: impl Fn(&Oid) -> Option<Vec<(Oid, u64)>>) -> u64 {
        let mut chunks: HashSet<Oid> = HashSet::new();
        let mut total = 0;
        for oid in oids {
            if let Some(l) = self.locate(oid) {
                total += l.entry.length;
            } else if let Some(l) = self.list_location(oid) {
                total += l.entry.length;
                for (chunk, len) in list_of(oid).unwrap_or_default() {
                    if !oids.contains(&chunk) && chunks.insert(chunk) && self.has_bytes(&chunk) {
                        total += len;
                    }
                }
            } else if let Some(l) = self.byte_locations(oid).first() {
                total += l.entry.length;
            }
        }
        total
    }

    /// The ids of `oids` that no pack holds (what a push must upload), in the
    /// given order.
    pub fn missing(&self, oids: &[Oid]) -> Vec<Oid> {
        oids.iter().filter(|o| !self.contains(o)).copied().collect()
    }

    /// Whether `pack` is one of the packs indexed.
    pub fn has_pack(&self, pack: &PackId) -> bool {
        self.known.contains(pack)
    }

    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }

    /// Objects listed, counting an object once per pack that holds it.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Encoding;
    use bale_hash::Algo;

    fn entry(first: u8, last: u8, kind: Kind) -> Entry {
        let mut digest = [first; 32];
        digest[31] = last;
        Entry { digest, kind, encoding: Encoding::Raw, offset: 8, length: 1 }
    }

    #[test]
    fn lookups_find_every_object_whatever_the_digests_share() {
        // Digests that all fall into one fan-out bucket, a tree and a blob
        // with the same digest, and the same object in two packs.
        let a = PackId::from_bytes([1; 32]);
        let b = PackId::from_bytes([2; 32]);
        let in_a: Vec<Entry> = (0..200).map(|i| entry(7, i, Kind::Blob)).chain([entry(7, 3, Kind::Tree)]).collect();
        let in_b = vec![entry(7, 5, Kind::Blob), entry(9, 0, Kind::Blob)];
        let mut remote = RemoteIndex::from_indexes([PackIndex::new(a, 1000, in_a.clone())]);
        remote.add(&PackIndex::new(b, 1000, in_b.clone()));
        remote.add(&PackIndex::new(b, 1000, in_b.clone()));
        assert_eq!((remote.len(), remote.packs().len()), (203, 2));
        for e in in_a.iter().chain(&in_b) {
            assert!(remote.locations(&e.oid()).any(|l| l.entry == *e), "{:?}", e.oid());
        }
        let shared = entry(7, 5, Kind::Blob).oid();
        let packs: Vec<PackId> = remote.locations(&shared).map(|l| l.pack).collect();
        assert_eq!(packs, vec![a, b]);
        assert_eq!(remote.locate(&entry(7, 3, Kind::Tree).oid()).unwrap().entry.kind, Kind::Tree);
        assert!(!remote.contains(&entry(7, 200, Kind::Blob).oid()));
        assert!(!remote.contains(&entry(9, 0, Kind::Tree).oid()));
        assert!(!RemoteIndex::new().contains(&shared));
        assert!(!remote.contains(&Oid::from_digest(Algo::Md5, &[7; 16], false)));
    }
}
