//! The pack decoders read bytes from a remote or from the local index
//! copies: random and mutated indexes (re-sealed, so the checks past the
//! checksum are reached) and pack tails give an error or exactly what was
//! encoded, never a panic or an allocation sized by a field rather than by
//! the input.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use bale_odb::{Odb, Progress};
use bale_pack::{Encoding, Entry, Kind, PackId, PackIndex, PackItem, ENTRY_LEN};
use common::{put, Rng};
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
        (any::<usize>(), prop_oneof![any::<u64>(), Just(1 << 60), Just(u64::MAX), Just(0), Just(8)])
            .prop_map(|(at, v)| Edit::U64(at, v)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..80)).prop_map(|(at, b)| Edit::Insert(at, b)),
    ]
}

/// Applies `edits` to `b`; with `seal`, `b` ends in a blake3 checksum of
/// what precedes it, recomputed after the edits.
fn mutate(mut b: Vec<u8>, edits: &[Edit], seal: bool) -> Vec<u8> {
    if seal {
        b.truncate(b.len().saturating_sub(CHECKSUM));
    }
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
    if seal {
        let checksum = *blake3::hash(&b).as_bytes();
        b.extend_from_slice(&checksum);
    }
    b
}

/// An index of `n` objects laid end to end in a pack.
fn index() -> impl Strategy<Value = PackIndex> {
    (proptest::collection::vec((any::<[u8; 32]>(), 0..4u8, 0..5000u64), 0..30), any::<[u8; 32]>()).prop_map(
        |(objects, pack)| {
            let mut offset = 8;
            let mut entries: Vec<Entry> = Vec::new();
            for (digest, kind, length) in objects {
                let kind = [Kind::Blob, Kind::Tree, Kind::Chunk, Kind::ChunkList][kind as usize];
                if entries.iter().any(|e| (e.digest, e.kind) == (digest, kind)) {
                    continue;
                }
                entries.push(Entry { digest, kind, encoding: Encoding::Raw, offset, length });
                offset += length;
            }
            let pack_len = offset + (entries.len() * ENTRY_LEN) as u64 + 16;
            PackIndex::new(PackId::from_bytes(pack), pack_len, entries)
        },
    )
}

/// The bytes of one real pack, written once for every case.
fn real_pack() -> &'static Vec<u8> {
    static PACK: OnceLock<Vec<u8>> = OnceLock::new();
    PACK.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let mut rng = Rng(7);
        let items: Vec<PackItem> = (0..12)
            .map(|i| {
                let data = rng.bytes(i * 37);
                let oid = put(&odb, &data, false);
                PackItem::object(&odb, &oid, data.len() as u64).unwrap()
            })
            .collect();
        let mut items = items;
        items.sort_by_key(|i| i.digest);
        let w = bale_pack::write_pack(&items, &d.path().join("out"), &Progress::default()).unwrap();
        std::fs::read(&w.pack_path).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_are_no_index_and_no_pack(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let name = Path::new("x.idx");
        let _ = PackIndex::parse(&bytes, name);
        let _ = PackIndex::parse(&mutate(bytes.clone(), &[], true), name);
        let _ = PackIndex::from_pack(&bytes, Path::new("x.pack"));
        if bytes.len() >= 16 {
            let _ = PackIndex::pack_tail_len(&bytes[bytes.len() - 16..], name);
        }
        let _ = PackIndex::from_pack_tail(&bytes, PackId::from_bytes([1; 32]), bytes.len() as u64 + 3, name);
    }

    #[test]
    fn a_mutated_index_is_refused_or_is_what_was_encoded(
        ix in index(),
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let bytes = mutate(ix.to_bytes(), &edits, true);
        if let Ok(back) = PackIndex::parse(&bytes, Path::new("x.idx")) {
            prop_assert_eq!(back.to_bytes(), bytes, "only an exact encoding is accepted");
        }
    }

    #[test]
    fn a_mutated_pack_tail_gives_entries_inside_the_pack_or_an_error(
        edits in proptest::collection::vec(edit(), 1..4),
        keep in any::<usize>(),
    ) {
        let pack = mutate(real_pack().clone(), &edits, false);
        let check = |ix: PackIndex, len: u64| {
            ix.entries().iter().all(|e| e.offset >= 8 && e.offset + e.length <= len)
        };
        if let Ok(ix) = PackIndex::from_pack(&pack, Path::new("x.pack")) {
            prop_assert!(check(ix, pack.len() as u64));
        }
        // A ranged read of the pack's last bytes, as a repair makes.
        let tail = &pack[pack.len() - keep % (pack.len() + 1)..];
        if let Ok(ix) = PackIndex::from_pack_tail(tail, PackId::from_bytes([2; 32]), pack.len() as u64, Path::new("p")) {
            prop_assert!(check(ix, pack.len() as u64));
        }
    }
}

/// A count field claiming 2^60 entries is checked against the length
/// before anything is sized by it, in an index and in a pack's footer.
#[test]
fn a_huge_count_is_refused_without_allocating() {
    let ix = PackIndex::new(PackId::from_bytes([3; 32]), 8 + 16, Vec::new());
    let pack = real_pack();
    assert_eq!(PackIndex::parse(&ix.to_bytes(), Path::new("x.idx")).unwrap(), ix, "the unmutated index reads");
    assert_eq!(PackIndex::from_pack(pack, Path::new("x.pack")).unwrap().len(), 12, "the unmutated pack reads");
    for count in [1u64 << 60, u64::MAX, (u64::MAX / ENTRY_LEN as u64) + 1] {
        let bytes = mutate(ix.to_bytes(), &[Edit::U64(8, count)], true);
        assert!(PackIndex::parse(&bytes, Path::new("x.idx")).is_err(), "{count}");
        let mut p = pack.clone();
        let at = p.len() - 16;
        p[at..at + 8].copy_from_slice(&count.to_le_bytes());
        assert!(PackIndex::from_pack(&p, Path::new("x.pack")).is_err(), "{count}");
        assert!(PackIndex::from_pack_tail(&p, PackId::from_bytes([4; 32]), p.len() as u64, Path::new("p")).is_err());
    }
}
