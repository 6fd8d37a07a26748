//! The chunk list decoders read bytes from a remote or a cache: random and
//! mutated lists (re-sealed, so the checks past the checksum are reached)
//! give an error or the very list that was encoded, never a panic or an
//! allocation sized by a field rather than by the input.

use std::collections::HashMap;
use std::path::Path;

use bale_chunk::{Chunk, ChunkList, Params, TopList, GEAR_VERSION};
use bale_hash::{Algo, Oid};
use proptest::prelude::*;

const CHECKSUM: usize = 32;

/// One edit of a valid encoding.
#[derive(Clone, Debug)]
enum Edit {
    Xor(usize, u8),
    U64(usize, u64),
    Truncate(usize),
    Insert(usize, Vec<u8>),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, x)| Edit::Xor(at, x)),
        (any::<usize>(), prop_oneof![any::<u64>(), Just(1 << 60), Just(u64::MAX), Just(0)])
            .prop_map(|(at, v)| Edit::U64(at, v)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..80)).prop_map(|(at, b)| Edit::Insert(at, b)),
    ]
}

/// Applies `edits` to `b`, then seals it again with a fresh checksum.
fn mutate(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    b.truncate(b.len().saturating_sub(CHECKSUM));
    for e in edits {
        let n = b.len().max(1);
        match e {
            Edit::Xor(at, x) if !b.is_empty() => b[at % n] ^= x,
            Edit::U64(at, v) if b.len() >= 8 => {
                let at = at % (b.len() - 7);
                b[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            Edit::Truncate(len) => b.truncate(len % n),
            Edit::Insert(at, bytes) => {
                let at = at % (b.len() + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            _ => {}
        }
    }
    let checksum = *blake3::hash(&b).as_bytes();
    b.extend_from_slice(&checksum);
    b
}

fn blake3_oid(bytes: &[u8]) -> Oid {
    Oid::from_digest(Algo::Blake3, blake3::hash(bytes).as_bytes(), false)
}

/// A list the chunker could have written: every chunk within the
/// parameters, the last one possibly short.
fn list() -> impl Strategy<Value = ChunkList> {
    let p = Params::DEFAULT;
    (proptest::collection::vec(p.min..=p.max, 0..40), 1..=p.max, any::<u64>()).prop_map(move |(lens, last, seed)| {
        let mut chunks = Vec::new();
        let mut offset = 0u64;
        for (i, len) in lens.into_iter().chain([last]).enumerate() {
            let id = blake3_oid(&[seed.to_le_bytes().as_slice(), &i.to_le_bytes()].concat());
            chunks.push(Chunk { id, offset, len: len.into() });
            offset += u64::from(len);
        }
        ChunkList { file: blake3_oid(&seed.to_le_bytes()), size: offset, chunker: GEAR_VERSION, params: p, chunks }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_are_no_list(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = ChunkList::decode(&bytes, Path::new("l"));
        let _ = TopList::decode(&bytes, Path::new("t"));
        let sealed = mutate(bytes, &[]);
        let _ = ChunkList::decode(&sealed, Path::new("l"));
        let _ = TopList::decode(&sealed, Path::new("t"));
    }

    #[test]
    fn a_valid_list_round_trips_flat_and_in_two_levels(l in list()) {
        prop_assert_eq!(&ChunkList::decode(&l.encode(), Path::new("l")).unwrap(), &l);
        let (top, segments) = l.segmented();
        let store: HashMap<Oid, Vec<u8>> = segments.into_iter().map(|s| (s.id, s.bytes)).collect();
        let decoded = TopList::decode(&top, Path::new("t")).unwrap();
        prop_assert_eq!(ChunkList::from_top(&decoded, Path::new("t"), |id| Ok(store.get(id).cloned())).unwrap(), l);
    }

    #[test]
    fn a_mutated_list_is_refused_or_is_what_was_encoded(l in list(), edits in proptest::collection::vec(edit(), 1..4)) {
        let bytes = mutate(l.encode(), &edits);
        if let Ok(back) = ChunkList::decode(&bytes, Path::new("l")) {
            prop_assert_eq!(back.encode(), bytes, "only an exact encoding is accepted");
        }
    }

    #[test]
    fn a_mutated_top_list_or_segment_is_refused_or_rebuilds_a_valid_list(
        l in list(),
        edits in proptest::collection::vec(edit(), 1..4),
        in_segment in any::<bool>(),
    ) {
        let (top, segments) = l.segmented();
        let mut store: HashMap<Oid, Vec<u8>> = segments.into_iter().map(|s| (s.id, s.bytes)).collect();
        let top = if in_segment {
            // A changed segment stored under its new name, and the top list
            // re-sealed to name it: the segment's own checks are reached.
            let first = *store.keys().next().unwrap();
            let old = store.remove(&first).unwrap();
            let mut changed = mutate([old.as_slice(), &[0; CHECKSUM]].concat(), &edits);
            changed.truncate(changed.len() - CHECKSUM);
            let renamed = blake3_oid(&changed);
            store.insert(renamed, changed);
            let mut top = top;
            let at = top.windows(32).position(|w| w == first.digest()).unwrap();
            top[at..at + 32].copy_from_slice(renamed.digest());
            mutate(top, &[])
        } else {
            mutate(top, &edits)
        };
        let Ok(decoded) = TopList::decode(&top, Path::new("t")) else { return Ok(()) };
        if let Ok(back) = ChunkList::from_top(&decoded, Path::new("t"), |id| Ok(store.get(id).cloned())) {
            prop_assert_eq!(back.size, back.chunks.iter().map(|c| c.len).sum::<u64>());
            prop_assert!(ChunkList::decode(&back.encode(), Path::new("l")).is_ok());
        }
    }
}

/// A count field claiming 2^60 entries is checked against the length
/// before anything is sized by it.
#[test]
fn a_huge_count_is_refused_without_allocating() {
    let p = Params::DEFAULT;
    let l = ChunkList {
        file: blake3_oid(b"f"),
        size: 5,
        chunker: GEAR_VERSION,
        params: p,
        chunks: vec![Chunk { id: blake3_oid(b"c"), offset: 0, len: 5 }],
    };
    for count in [1u64 << 60, u64::MAX, 0] {
        let bytes = mutate(l.encode(), &[Edit::U64(64, count)]);
        assert!(ChunkList::decode(&bytes, Path::new("l")).is_err(), "{count}");
    }
}
