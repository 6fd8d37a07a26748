//! Planning ranged reads: which byte ranges of which packs a pull fetches.

use std::collections::{HashMap, HashSet};

use bale_hash::Oid;

use crate::{Entry, Kind, Location, PackId, RemoteIndex};

/// One ranged read of a pack: bytes `start..end` of it, holding `entries`
/// (sorted by offset). Bytes between entries belong to objects nobody asked
/// for; they are read because a gap costs less than a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    pub pack: PackId,
    pub start: u64,
    pub end: u64,
    pub entries: Vec<Entry>,
}

impl Read {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The pack's path under the remote root.
    pub fn key(&self) -> String {
        self.pack.pack_key()
    }
}

/// What a pull fetches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadPlan {
    /// Packs in the order their first wanted object was asked for; reads of
    /// one pack in offset order.
    pub reads: Vec<Read>,
    /// Wanted ids that no indexed pack holds.
    pub missing: Vec<Oid>,
    /// Bytes the reads fetch, gaps included.
    pub bytes: u64,
    /// Bytes of the wanted objects alone.
    pub wanted_bytes: u64,
}

/// Groups `wanted` objects into ranged reads: per pack, objects sorted by
/// offset, and neighbours merged into one read while the gap between them is
/// at most `max_gap` and the read stays within `max_read` bytes (so that a
/// large pull is still several requests that can run in parallel; an object
/// larger than `max_read` is read alone).
///
/// An object stored in several packs is read from the pack that serves the
/// most other wanted objects, so duplicates do not add requests.
pub fn read_plan(index: &RemoteIndex, wanted: &[Oid], max_gap: u64, max_read: u64) -> ReadPlan {
    let wanted: Vec<(Oid, Kind)> = wanted.iter().map(|o| (*o, Kind::of(o))).collect();
    read_plan_kinds(index, &wanted, max_gap, max_read)
}

/// [`read_plan`] for objects wanted as a given kind, which decides where
/// they are stored on arrival (DESIGN.md §13.4): `Blob` a file for the
/// cache, `Chunk` a chunk for a rebuild, `ChunkList` a file's list, `Tree`
/// a tree. The bytes of a blob or chunk are read from whichever pack holds
/// them as either; each read entry carries the wanted kind.
pub fn read_plan_kinds(index: &RemoteIndex, wanted: &[(Oid, Kind)], max_gap: u64, max_read: u64) -> ReadPlan {
    let mut plan = ReadPlan::default();
    let mut seen = HashSet::with_capacity(wanted.len());
    let mut chosen: Vec<Location> = Vec::with_capacity(wanted.len());
    let mut several: Vec<Vec<Location>> = Vec::new();
    let mut per_pack: HashMap<PackId, usize> = HashMap::new();
    for &(oid, kind) in wanted {
        if !seen.insert((oid, kind)) {
            continue;
        }
        let mut places: Vec<Location> = match kind {
            Kind::Tree => index.locations(&oid).collect(),
            Kind::Blob | Kind::Chunk => index.byte_locations(&oid),
            Kind::ChunkList => index.list_location(&oid).into_iter().collect(),
        };
        for place in &mut places {
            place.entry.kind = kind;
        }
        match places.len() {
            0 => plan.missing.push(oid),
            1 => {
                *per_pack.entry(places[0].pack).or_default() += 1;
                chosen.push(places.remove(0));
            }
            _ => several.push(places),
        }
    }
    for places in several {
        let best = *places
            .iter()
            .max_by_key(|l| (per_pack.get(&l.pack).copied().unwrap_or(0), std::cmp::Reverse(l.pack)))
            .expect("several");
        *per_pack.entry(best.pack).or_default() += 1;
        chosen.push(best);
    }

    let mut order: Vec<PackId> = Vec::new();
    let mut by_pack: HashMap<PackId, Vec<Entry>> = HashMap::new();
    for loc in chosen {
        by_pack.entry(loc.pack).or_insert_with(|| {
            order.push(loc.pack);
            Vec::new()
        });
        by_pack.get_mut(&loc.pack).expect("inserted").push(loc.entry);
    }
    for pack in order {
        let mut entries = by_pack.remove(&pack).expect("listed");
        entries.sort_unstable_by_key(|e| (e.offset, e.length));
        let mut current: Option<Read> = None;
        for e in entries {
            plan.wanted_bytes += e.length;
            if let Some(read) = current.as_mut() {
                let near = e.offset <= read.end.saturating_add(max_gap);
                let small = e.end().max(read.end) - read.start <= max_read;
                if near && small {
                    read.end = read.end.max(e.end());
                    read.entries.push(e);
                    continue;
                }
            }
            if let Some(done) = current.replace(Read { pack, start: e.offset, end: e.end(), entries: vec![e] }) {
                plan.bytes += done.len();
                plan.reads.push(done);
            }
        }
        if let Some(done) = current {
            plan.bytes += done.len();
            plan.reads.push(done);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Encoding, PackIndex};
    use bale_hash::Algo;

    fn entry(n: u8, offset: u64, length: u64) -> Entry {
        Entry { digest: [n; 32], kind: Kind::Blob, encoding: Encoding::Raw, offset, length }
    }

    fn oid(n: u8) -> Oid {
        Oid::from_digest(Algo::Blake3, &[n; 32], false)
    }

    #[test]
    fn neighbours_merge_below_the_gap_and_reads_stay_below_the_limit() {
        // Objects 1..=6 of 100 bytes; 5 starts after a 1000-byte hole.
        let entries = vec![
            entry(1, 8, 100),
            entry(2, 108, 100),
            entry(3, 208, 100),
            entry(4, 358, 100),
            entry(5, 1458, 100),
            entry(6, 1558, 100),
        ];
        let pack = PackId::from_bytes([1; 32]);
        let index = RemoteIndex::from_indexes([PackIndex::new(pack, 4000, entries)]);
        let plan = read_plan(&index, &[oid(4), oid(1), oid(3), oid(5), oid(6), oid(9), oid(1)], 64, 1 << 20);
        let ranges: Vec<(u64, u64)> = plan.reads.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(ranges, vec![(8, 108), (208, 458), (1458, 1658)], "2 is not wanted and its gap is 100 > 64");
        assert_eq!(plan.missing, vec![oid(9)]);
        assert_eq!((plan.bytes, plan.wanted_bytes), (550, 500));

        let wide = read_plan(&index, &[oid(1), oid(3), oid(6)], 2000, 1 << 20);
        assert_eq!(wide.reads.len(), 1);
        assert_eq!((wide.reads[0].start, wide.reads[0].end, wide.reads[0].entries.len()), (8, 1658, 3));

        let capped = read_plan(&index, &[oid(1), oid(2), oid(3), oid(4)], 2000, 250);
        let ranges: Vec<(u64, u64)> = capped.reads.iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(ranges, vec![(8, 208), (208, 458)]);
    }

    #[test]
    fn an_object_in_two_packs_is_read_where_its_neighbours_are() {
        let a = PackId::from_bytes([0xa; 32]);
        let b = PackId::from_bytes([0xb; 32]);
        let index = RemoteIndex::from_indexes([
            PackIndex::new(a, 1000, vec![entry(1, 8, 10), entry(2, 18, 10)]),
            PackIndex::new(b, 1000, vec![entry(2, 8, 10), entry(3, 18, 10)]),
        ]);
        assert_eq!(index.locations(&oid(2)).count(), 2);
        let plan = read_plan(&index, &[oid(3), oid(2)], 0, 1 << 20);
        assert_eq!(plan.reads.len(), 1);
        assert_eq!(plan.reads[0].pack, b);
        let plan = read_plan(&index, &[oid(1), oid(2)], 0, 1 << 20);
        assert_eq!((plan.reads.len(), plan.reads[0].pack, plan.reads[0].len()), (1, a, 20));
    }
}
