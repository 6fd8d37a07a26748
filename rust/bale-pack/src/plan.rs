//! Grouping objects into packs before they are written.

use std::collections::HashSet;

use bale_hash::Oid;

use crate::format::{ENTRY_LEN, PACK_FOOTER_LEN, PACK_HEADER_LEN};

/// One pack to write: its objects in the order they will be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedPack {
    pub oids: Vec<Oid>,
    /// The pack file's size once written (objects, table and framing).
    pub bytes: u64,
    /// Whether this is the tree pack, whose index must be uploaded after the
    /// indexes of every other pack of the push.
    pub trees: bool,
}

/// Groups `objects` (id, size) into packs of about `target` bytes, keeping
/// the caller's order so that the objects of one sub-directory (contiguous in
/// tree order) land next to each other and a sub-directory pull reads few
/// ranges. Repeated ids are packed once.
///
/// - A pack is closed before an object would take it past `target`; an
///   object larger than `target` is a pack of its own. Large objects are still
///   packed (alone) rather than stored loose: existence then has one answer
///   (the indexes), and a pack of one costs 74 bytes of framing.
/// - Every tree goes into one final pack, whatever its size, so that the
///   rule "a tree listed by an index implies all its members are present" is
///   kept by uploading that one index last: sub-trees never sit in a pack
///   whose index could land after their parent's. Trees are ~100 bytes per
///   file, so even a million-file push makes a tree pack of ~100 MB.
pub fn plan_packs(objects: &[(Oid, u64)], target: u64) -> Vec<PlannedPack> {
    let mut seen = HashSet::with_capacity(objects.len());
    let mut packs = Vec::new();
    let mut current = PlannedPack { oids: Vec::new(), bytes: PACK_HEADER_LEN + PACK_FOOTER_LEN, trees: false };
    let mut trees = PlannedPack { trees: true, ..current.clone() };
    for &(oid, size) in objects {
        if !seen.insert(oid) {
            continue;
        }
        let cost = size + ENTRY_LEN as u64;
        if oid.is_tree() {
            trees.oids.push(oid);
            trees.bytes += cost;
            continue;
        }
        if !current.oids.is_empty() && current.bytes + cost > target {
            let next = PlannedPack { oids: Vec::new(), bytes: PACK_HEADER_LEN + PACK_FOOTER_LEN, trees: false };
            packs.push(std::mem::replace(&mut current, next));
        }
        current.oids.push(oid);
        current.bytes += cost;
    }
    packs.extend([current, trees].into_iter().filter(|p| !p.oids.is_empty()));
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
        let packs = plan_packs(&objects, target);
        let (last, rest) = packs.split_last().unwrap();
        assert!(last.trees && last.oids.iter().all(Oid::is_tree));
        assert_eq!(last.oids.len(), 40);
        assert!(rest.iter().all(|p| !p.trees && p.oids.iter().all(|o| !o.is_tree())));
        for p in rest {
            assert!(p.bytes <= target || p.oids.len() == 1, "{} bytes in {} objects", p.bytes, p.oids.len());
        }
        let flat: Vec<Oid> = rest.iter().flat_map(|p| p.oids.iter().copied()).collect();
        let expected: Vec<Oid> = objects[..2000].iter().map(|o| o.0).filter(|o| !o.is_tree()).collect();
        assert_eq!(flat, expected, "order kept, the repeated id packed once");
        let sizes: std::collections::HashMap<Oid, u64> = objects.iter().copied().collect();
        for p in &packs {
            let sum: u64 = p.oids.iter().map(|o| sizes[o] + ENTRY_LEN as u64).sum();
            assert_eq!(p.bytes, sum + 24);
        }
    }

    #[test]
    fn nothing_to_pack_plans_nothing() {
        assert!(plan_packs(&[], 1 << 20).is_empty());
        let only_trees = plan_packs(&[(oid(1, true), 10)], 1 << 20);
        assert_eq!(only_trees.len(), 1);
        assert!(only_trees[0].trees);
    }
}
