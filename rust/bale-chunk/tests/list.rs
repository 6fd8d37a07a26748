//! The chunk-list object: round trips, strict rejection, verified rebuild.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use bale_chunk::{chunk_file, rebuild, ChunkList, ChunkedFile, Params};
use bale_error::Error;
use bale_hash::Oid;
use common::Rng;

const P: Params = Params { min: 1024, avg: 4096, max: 16384 };

/// A chunked random file, its bytes, and a store of its chunks.
fn chunked(seed: u64, size: usize) -> (Vec<u8>, ChunkedFile, HashMap<Oid, Vec<u8>>) {
    let data = Rng(seed).bytes(size);
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&data).unwrap();
    let file = chunk_file(f.path(), &P, 0).unwrap();
    let store =
        file.chunks.iter().map(|c| (c.id, data[c.offset as usize..(c.offset + c.len) as usize].to_vec())).collect();
    (data, file, store)
}

#[test]
fn encode_decode_round_trips() {
    for (seed, size) in [(1, 1), (2, 1023), (3, 100_000), (4, 1 << 20)] {
        let (_, file, _) = chunked(seed, size);
        let list = ChunkList::new(&file, &P).unwrap();
        let bytes = list.encode();
        assert_eq!(bytes.len(), 104 + 36 * file.chunks.len());
        assert_eq!(ChunkList::decode(&bytes, Path::new("x")).unwrap(), list);
    }
}

#[test]
fn a_file_that_was_not_chunked_has_no_list() {
    let (_, file, _) = chunked(12, 100_000);
    assert!(ChunkList::new(&file, &Params { min: 1024, avg: 4096, max: 4096 }).is_err(), "a chunk above max");
    let mut one = file.clone();
    one.chunks = vec![bale_chunk::Chunk { id: file.id, offset: 0, len: file.size }];
    assert!(ChunkList::new(&one, &P).is_err(), "one chunk the size of the file");
    let mut gap = file.clone();
    gap.chunks.remove(1);
    assert!(ChunkList::new(&gap, &P).is_err(), "a missing chunk");
    let empty = ChunkedFile { id: file.id, size: 0, chunks: vec![], blocks: None };
    assert!(ChunkList::new(&empty, &P).is_err(), "an empty file");
}

#[test]
fn the_cache_name_sits_beside_the_file_object() {
    let oid = Oid::parse(bale_hash::Algo::Blake3, &"ab".repeat(32)).unwrap();
    let want = format!("bale/blake3/ab/{}.chunks", "ab".repeat(31));
    assert_eq!(ChunkList::relative_path(&oid).to_str().unwrap(), want);
}

/// Re-seals a tampered list with a valid checksum, so that the structural
/// checks, not the checksum, must catch it.
fn reseal(mut b: Vec<u8>) -> Vec<u8> {
    let n = b.len() - 32;
    let sum = *blake3::hash(&b[..n]).as_bytes();
    b[n..].copy_from_slice(&sum);
    b
}

#[test]
fn truncated_or_corrupt_lists_are_rejected() {
    let (_, file, _) = chunked(7, 200_000);
    let good = ChunkList::new(&file, &P).unwrap().encode();
    let path = Path::new("bale/blake3/aa/bb.chunks");
    let reject = |b: &[u8], why: &str| {
        let err = ChunkList::decode(b, path).expect_err(why);
        assert!(matches!(err, Error::BadManifest { .. }), "{why}: {err}");
        assert!(err.to_string().starts_with("bale/blake3/aa/bb.chunks: "), "{err}");
    };
    for n in [0, 7, 8, 103, good.len() - 1, good.len() - 36] {
        reject(&good[..n], &format!("truncated to {n}"));
    }
    let mut longer = good.clone();
    longer.push(0);
    reject(&longer, "trailing byte");
    for at in [0, 7, 20, 45, 48, 60, 70, 80, good.len() - 40, good.len() - 1] {
        let mut b = good.clone();
        b[at] ^= 1;
        reject(&b, &format!("flipped byte {at}"));
    }
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        reseal(b)
    };
    reject(&edit(&|b| b[7] = 2), "version 2");
    reject(&edit(&|b| b[48] = 9), "unknown chunker");
    reject(&edit(&|b| b[50] = 1), "reserved byte");
    reject(&edit(&|b| b[56..60].copy_from_slice(&1000u32.to_le_bytes())), "avg not a power of two");
    reject(&edit(&|b| b[64] ^= 1), "count off by one");
    reject(&edit(&|b| b[40] ^= 1), "size does not add up");
    reject(&edit(&|b| b[72 + 32..72 + 36].copy_from_slice(&0u32.to_le_bytes())), "empty chunk");
    reject(&edit(&|b| b[72 + 32..72 + 36].copy_from_slice(&20000u32.to_le_bytes())), "chunk above max");
    reject(&edit(&|b| b[72 + 32..72 + 36].copy_from_slice(&10u32.to_le_bytes())), "chunk below min");
    let mut empty = good[..72].to_vec();
    empty[40..48].copy_from_slice(&0u64.to_le_bytes());
    empty[64..72].copy_from_slice(&0u64.to_le_bytes());
    empty.extend_from_slice(&[0; 32]);
    reject(&reseal(empty), "no chunks");
}

#[test]
fn rebuild_is_byte_identical() {
    for (seed, size) in [(1, 1), (5, 300_000), (6, 2 << 20)] {
        let (data, file, store) = chunked(seed, size);
        let list = ChunkList::decode(&ChunkList::new(&file, &P).unwrap().encode(), Path::new("x")).unwrap();
        let mut out = Vec::new();
        assert_eq!(rebuild(&list, &store, &mut out).unwrap(), data.len() as u64);
        assert_eq!(out, data);
    }
}

#[test]
fn a_corrupt_chunk_stops_the_rebuild_before_its_bytes_are_written() {
    let (data, file, mut store) = chunked(9, 300_000);
    let list = ChunkList::new(&file, &P).unwrap();
    let bad = 5;
    let victim = list.chunks[bad];
    store.get_mut(&victim.id).unwrap()[10] ^= 0x40;
    let mut out = Vec::new();
    let err = rebuild(&list, &store, &mut out).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::CorruptObject { .. }), "{msg}");
    assert!(msg.contains(&format!(".chunks chunk {bad}:")) && msg.contains(&victim.id.to_string()), "{msg}");
    // Exactly the verified chunks before it were written.
    assert_eq!(out, data[..victim.offset as usize]);
}

#[test]
fn a_missing_chunk_is_named() {
    let (_, file, mut store) = chunked(10, 100_000);
    let list = ChunkList::new(&file, &P).unwrap();
    store.remove(&list.chunks[2].id);
    let err = rebuild(&list, &store, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::ObjectMissing { .. }), "{err}");
    assert!(err.to_string().contains(&list.chunks[2].id.to_string()));
}

#[test]
fn a_list_of_good_chunks_for_another_file_fails_at_the_end() {
    let (_, file, store) = chunked(11, 100_000);
    let mut list = ChunkList::new(&file, &P).unwrap();
    list.chunks.swap(0, 1);
    let err = rebuild(&list, &store, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::CorruptObject { .. }), "{err}");
    assert!(err.to_string().contains(&format!("expected {}", file.id)), "{err}");
}

/// A writer that takes `room` bytes, then fails as a full disk does.
struct Full {
    room: usize,
    taken: Vec<u8>,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.taken.len() + buf.len() > self.room {
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        self.taken.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_write_is_the_error_given_whatever_the_batches_after_it() {
    // Over 16 MiB: several batches, so the writer fails while the next is hashed.
    let (_, file, store) = chunked(12, 40 << 20);
    let list = ChunkList::new(&file, &P).unwrap();
    let mut out = Full { room: 20 << 20, taken: Vec::new() };
    let err = rebuild(&list, &store, &mut out).unwrap_err();
    assert!(err.to_string().contains("no space left"), "{err}");
    assert!(out.taken.len() <= 20 << 20);
}

#[test]
fn span_names_exactly_the_chunks_that_hold_a_range() {
    let (_, file, _) = chunked(31, 200_000);
    let list = ChunkList::new(&file, &P).unwrap();
    let mut rng = Rng(32);
    for _ in 0..500 {
        let start = rng.next() % 210_000;
        let end = start + rng.next() % 40_000;
        let span = list.span(start, end);
        let end = end.min(list.size);
        if start >= end {
            assert!(span.is_empty());
            continue;
        }
        let expected: Vec<usize> = (0..list.chunks.len())
            .filter(|&i| list.chunks[i].offset < end && list.chunks[i].offset + list.chunks[i].len > start)
            .collect();
        assert_eq!(span.clone().collect::<Vec<_>>(), expected, "{start}..{end}");
    }
    assert_eq!(list.span(0, u64::MAX), 0..list.chunks.len());
}
