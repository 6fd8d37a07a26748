//! Grouping objects into packs before they are written.

use std::collections::HashSet;
use std::path::PathBuf;

use bale_hash::Oid;
use bale_odb::Odb;

use crate::format::{oid_key, Kind, ENTRY_LEN, PACK_FOOTER_LEN, PACK_HEADER_LEN};

/// One object to pack: what it is, and which bytes of which local file hold
/// it (a chunk is a slice of its file's object).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackItem {
    pub digest: [u8; 32],
    pub kind: Kind,
    pub source: PathBuf,
    pub offset: u64,
    pub len: u64,
}

impl PackItem {
    /// A whole object of the cache (a file or a tree) of `size` bytes.
    pub fn object(odb: &Odb, oid: &Oid, size: u64) -> Option<PackItem> {
        let (digest, kind) = oid_key(oid)?;
        Some(PackItem { digest, kind, source: odb.object_path(oid), offset: 0, len: size })
    }

    /// Whole cache objects, sized by a stat: fails on an id that is not
    /// blake3 or an object the cache lacks.
    pub fn objects(odb: &Odb, oids: &[Oid]) -> bale_error::Result<Vec<PackItem>> {
        oids.iter()
            .map(|oid| {
                let invalid = || bale_error::Error::InvalidOid {
                    text: oid.to_string(),
                    what: "blake3 object id (only bale-native objects are packed)",
                };
                oid_key(oid).ok_or_else(invalid)?;
                let path = odb.object_path(oid);
                let size = std::fs::metadata(&path)
                    .map_err(|_| bale_error::Error::ObjectMissing { path, oid: oid.to_string() })?
                    .len();
                PackItem::object(odb, oid, size).ok_or_else(invalid)
            })
            .collect()
    }

    /// The id of what this item stores (for a list: the file it describes).
    pub fn oid(&self) -> Oid {
        Oid::from_digest(bale_hash::Algo::Blake3, &self.digest, self.kind == Kind::Tree)
    }

    /// Trees and chunk lists go in the final pack: each claims that other
    /// objects (members, chunks) are on the remote.
    fn is_final(&self) -> bool {
        matches!(self.kind, Kind::Tree | Kind::ChunkList)
    }
}

/// One pack to write: its objects in the order they will be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedPack {
    pub items: Vec<PackItem>,
    /// The pack file's size once written (objects, table and framing).
    pub bytes: u64,
    /// Whether this is the final pack (trees and chunk lists), whose index
    /// must be uploaded after the indexes of every other pack of the push.
    pub trees: bool,
}

/// Groups `items` into packs of about `target` bytes, keeping the caller's
/// order so that the objects of one sub-directory (contiguous in tree order)
/// land next to each other and a sub-directory pull reads few ranges.
/// Repeated objects are packed once.
///
/// - A pack is closed before an object would take it past `target`; an
///   object larger than `target` is a pack of its own. Large objects are still
///   packed (alone) rather than stored loose: existence then has one answer
///   (the indexes), and a pack of one costs 74 bytes of framing.
/// - Every tree and chunk list goes into one final pack, whatever its size,
///   so that the rule "a tree or list listed by an index implies all it
///   names is present" is kept by uploading that one index last: sub-trees
///   never sit in a pack whose index could land after their parent's. Trees
///   are ~100 bytes per file, so even a million-file push makes a final pack
///   of ~100 MB.
pub fn plan_packs(items: Vec<PackItem>, target: u64) -> Vec<PlannedPack> {
    let mut seen = HashSet::with_capacity(items.len());
    let mut packs = Vec::new();
    let empty = || PlannedPack { items: Vec::new(), bytes: PACK_HEADER_LEN + PACK_FOOTER_LEN, trees: false };
    let mut current = empty();
    let mut last = PlannedPack { trees: true, ..empty() };
    for item in items {
        if !seen.insert((item.digest, item.kind)) {
            continue;
        }
        let cost = item.len + ENTRY_LEN as u64;
        if item.is_final() {
            last.bytes += cost;
            last.items.push(item);
            continue;
        }
        if !current.items.is_empty() && current.bytes + cost > target {
            packs.push(std::mem::replace(&mut current, empty()));
        }
        current.bytes += cost;
        current.items.push(item);
    }
    packs.extend([current, last].into_iter().filter(|p| !p.items.is_empty()));
    packs
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_hash::Algo;

    fn oid(i: u32, tree: bool) -> Oid {
        let mut d = [0u8; 32];
        d[..4].copy_from_slice(&i.to_le_bytes());
        Oid::from_digest(Algo::Blake3, &d, tree)
    }

    #[test]
    fn packs_keep_order_respect_the_target_and_put_trees_last() {
        let mut objects = Vec::new();
        let mut state = 7u64;
        for i in 0..2000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let size = (state >> 33) % 20_000 + if i % 97 == 0 { 300_000 } else { 0 };
            objects.push((oid(i, i % 50 == 0), size));
        }
        objects.push(objects[3]);
        let target = 256 << 10;
        let odb = Odb::new("/cache");
        let items = objects.iter().map(|(o, n)| PackItem::object(&odb, o, *n).unwrap()).collect();
        let packs = plan_packs(items, target);
        let (last, rest) = packs.split_last().unwrap();
        assert!(last.trees && last.items.iter().all(|i| i.oid().is_tree()));
        assert_eq!(last.items.len(), 40);
        assert!(rest.iter().all(|p| !p.trees && p.items.iter().all(|i| !i.oid().is_tree())));
        for p in rest {
            assert!(p.bytes <= target || p.items.len() == 1, "{} bytes in {} objects", p.bytes, p.items.len());
        }
        let flat: Vec<Oid> = rest.iter().flat_map(|p| p.items.iter().map(PackItem::oid)).collect();
        let expected: Vec<Oid> = objects[..2000].iter().map(|o| o.0).filter(|o| !o.is_tree()).collect();
        assert_eq!(flat, expected, "order kept, the repeated id packed once");
        let sizes: std::collections::HashMap<Oid, u64> = objects.iter().copied().collect();
        for p in &packs {
            let sum: u64 = p.items.iter().map(|i| sizes[&i.oid()] + ENTRY_LEN as u64).sum();
            assert_eq!(p.bytes, sum + 24);
        }
    }

    #[test]
    fn nothing_to_pack_plans_nothing() {
        assert!(plan_packs(Vec::new(), 1 << 20).is_empty());
        let tree = PackItem::object(&Odb::new("/cache"), &oid(1, true), 10).unwrap();
        let only_trees = plan_packs(vec![tree], 1 << 20);
        assert_eq!(only_trees.len(), 1);
        assert!(only_trees[0].trees);
    }
}
