//! A read's bytes arriving in pieces, in any order and more than once, store
//! exactly what arriving whole stores; bad or missing bytes store nothing
//! they touch.

mod common;

use std::fs;
use std::path::Path;

use bale_error::Error;
use bale_hash::Oid;
use bale_odb::{Odb, Progress};
use bale_pack::{
    read_plan, read_plan_kinds, Arrival, Assemblies, Destinations, Kind, PackItem, RemoteIndex, Side, WrittenPack,
};
use common::{put, random_objects, Rng};

/// Pieces of `0..len`, some starting before their neighbour ended (as a
/// retried request sends its bytes again), in order or shuffled, a few sent
/// twice.
fn pieces(rng: &mut Rng, len: u64, shuffled: bool) -> Vec<(u64, u64)> {
    let mut cuts = vec![0, len];
    for _ in 0..rng.below(24) {
        cuts.push(rng.below(len + 1));
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: Vec<(u64, u64)> = cuts
        .windows(2)
        .map(|w| (if rng.below(3) == 0 { w[0].saturating_sub(rng.below(5000)) } else { w[0] }, w[1]))
        .collect();
    for _ in 0..rng.below(4) {
        let i = rng.below(out.len() as u64) as usize;
        out.insert(i + 1, out[i]);
    }
    if shuffled {
        for i in (1..out.len()).rev() {
            out.swap(i, rng.below(i as u64 + 1) as usize);
        }
    }
    out
}

/// One pack of `objects` (each in `local`), written under `dir`, and its bytes.
fn pack_of(local: &Odb, objects: &[Oid], dir: &Path) -> (WrittenPack, Vec<u8>) {
    let w = bale_pack::write_pack(&PackItem::objects(local, objects).unwrap(), &dir.join("s"), &Progress::default())
        .unwrap();
    let bytes = fs::read(&w.pack_path).unwrap();
    (w, bytes)
}

/// Empty stores for a read to arrive into: a cache, a side store, and the
/// rest of what an arrival writes to.
struct Stores {
    odb: Odb,
    side: Side,
    assemblies: Assemblies,
    progress: Progress,
}

impl Stores {
    fn new(dir: &Path, name: &str) -> Stores {
        let side = Side::new(dir.join(format!("{name}-side")));
        Stores { odb: Odb::new(dir.join(name)), side, assemblies: Assemblies::default(), progress: Progress::default() }
    }

    fn to(&self) -> Destinations<'_> {
        Destinations { odb: &self.odb, side: &self.side, assemblies: &self.assemblies, progress: &self.progress }
    }
}

#[test]
fn pieces_in_any_order_store_every_object_once_with_one_large_one_streamed() {
    for seed in 0..8u64 {
        let d = tempfile::tempdir().unwrap();
        let local = Odb::new(d.path().join("a"));
        let mut rng = Rng(seed);
        let mut objects: Vec<Oid> = random_objects(&local, &mut rng, 40, 20_000, 3).into_iter().map(|o| o.0).collect();
        // Larger than what is gathered in memory: streamed into its temp file.
        objects.insert(20, put(&local, &rng.bytes(9 << 20), false));
        let (w, pack) = pack_of(&local, &objects, d.path());
        let remote = RemoteIndex::from_indexes([w.index]);
        // Every other object: reads have gaps of objects nobody asked for.
        let wanted: Vec<Oid> = objects.iter().copied().step_by(2).chain([objects[20]]).collect();
        let plan = read_plan(&remote, &wanted, 64 << 10, u64::MAX);
        assert_eq!(plan.reads.len(), 1);
        let read = &plan.reads[0];
        let stores = Stores::new(d.path(), "b");
        let (fresh, to) = (&stores.odb, stores.to());
        let mut arrival = Arrival::new(read).unwrap();
        for (a, b) in pieces(&mut rng, read.len(), seed % 2 == 1) {
            let bytes = &pack[(read.start + a) as usize..(read.start + b) as usize];
            arrival.write(to, a, bytes).unwrap();
        }
        let got = arrival.finish(to).unwrap();
        let mut unique = wanted.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((got.stored, got.files, got.present), (unique.len() as u64, unique.len() as u64, 0), "seed {seed}");
        for oid in &objects {
            if unique.contains(oid) {
                assert_eq!(fs::read(fresh.object_path(oid)).unwrap(), fs::read(local.object_path(oid)).unwrap());
            } else {
                assert!(!fresh.exists(oid), "seed {seed}: {oid} was not wanted");
            }
        }
        assert!(fresh.stale_temps().unwrap().is_empty());
    }
}

#[test]
fn a_corrupt_byte_in_a_streamed_object_stores_nothing_of_it() {
    let d = tempfile::tempdir().unwrap();
    let local = Odb::new(d.path().join("a"));
    let mut rng = Rng(7);
    let big = put(&local, &rng.bytes(10 << 20), false);
    let small = put(&local, b"small", false);
    let (w, mut pack) = pack_of(&local, &[small, big], d.path());
    let entry = w.index.get(&big).unwrap();
    pack[(entry.offset + entry.length - 3) as usize] ^= 1;
    let plan = read_plan(&RemoteIndex::from_indexes([w.index]), &[small, big], 0, u64::MAX);
    let read = &plan.reads[0];
    let stores = Stores::new(d.path(), "b");
    let (fresh, to) = (&stores.odb, stores.to());
    let mut arrival = Arrival::new(read).unwrap();
    let bytes = &pack[read.start as usize..read.end as usize];
    let failed =
        bytes.chunks(1 << 20).enumerate().try_for_each(|(i, piece)| arrival.write(to, (i << 20) as u64, piece));
    match failed {
        Err(Error::CorruptObject { path, expected, .. }) => {
            assert_eq!(path, Path::new(&read.key()));
            assert_eq!(expected, big.to_string());
        }
        other => panic!("expected a corrupt object, got {other:?}"),
    }
    drop(arrival);
    assert!(fresh.exists(&small), "the object before it verified and stays");
    assert!(!fresh.exists(&big));
    assert!(fresh.stale_temps().unwrap().is_empty(), "its temp file goes with the arrival");
}

#[test]
fn a_download_that_stops_short_or_overruns_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let local = Odb::new(d.path().join("a"));
    let objects: Vec<Oid> = random_objects(&local, &mut Rng(8), 10, 5000, 0).into_iter().map(|o| o.0).collect();
    let (w, pack) = pack_of(&local, &objects, d.path());
    let plan = read_plan(&RemoteIndex::from_indexes([w.index]), &objects, 0, u64::MAX);
    let read = &plan.reads[0];
    let stores = Stores::new(d.path(), "b");
    let to = stores.to();
    let bytes = &pack[read.start as usize..read.end as usize];

    let mut arrival = Arrival::new(read).unwrap();
    arrival.write(to, 0, &bytes[..bytes.len() - 1]).unwrap();
    let err = arrival.finish(to).unwrap_err();
    assert!(matches!(err, Error::BadManifest { .. }) && err.to_string().contains("stopped after"), "{err}");

    let mut arrival = Arrival::new(read).unwrap();
    let err = arrival.write(to, 1, bytes).unwrap_err();
    assert!(matches!(err, Error::BadManifest { .. }), "{err}");

    // A piece that leaves a hole is held, and the hole is reported.
    let mut arrival = Arrival::new(read).unwrap();
    arrival.write(to, 10, &bytes[10..]).unwrap();
    assert!(arrival.finish(to).unwrap_err().to_string().contains("stopped after 0 bytes"));
}

#[test]
fn the_same_bytes_wanted_as_a_file_and_as_a_segment_reach_both_stores() {
    let d = tempfile::tempdir().unwrap();
    let local = Odb::new(d.path().join("a"));
    let mut rng = Rng(9);
    let objects: Vec<Oid> = random_objects(&local, &mut rng, 5, 3000, 0).into_iter().map(|o| o.0).collect();
    let (w, pack) = pack_of(&local, &objects, d.path());
    let wanted = [(objects[1], Kind::Blob), (objects[1], Kind::Chunk), (objects[3], Kind::Chunk)];
    let plan = read_plan_kinds(&RemoteIndex::from_indexes([w.index]), &wanted, 1 << 20, u64::MAX);
    let read = &plan.reads[0];
    assert_eq!(read.entries.len(), 3);
    let stores = Stores::new(d.path(), "b");
    let (fresh, to) = (&stores.odb, stores.to());
    let mut arrival = Arrival::new(read).unwrap();
    for (i, piece) in pack[read.start as usize..read.end as usize].chunks(7).enumerate() {
        arrival.write(to, i as u64 * 7, piece).unwrap();
    }
    let got = arrival.finish(to).unwrap();
    assert_eq!((got.stored, got.files), (3, 1));
    assert_eq!(fs::read(fresh.object_path(&objects[1])).unwrap(), fs::read(local.object_path(&objects[1])).unwrap());
    let segments = stores.side.segments().unwrap();
    for oid in [objects[1], objects[3]] {
        let mut buf = Vec::new();
        assert!(segments.read(&oid, &mut buf).unwrap());
        assert_eq!(buf, fs::read(local.object_path(&oid)).unwrap());
    }
}

#[test]
fn a_read_that_is_one_large_file_lands_from_parts_in_any_order() {
    let d = tempfile::tempdir().unwrap();
    let local = Odb::new(d.path().join("a"));
    let mut rng = Rng(10);
    let big = put(&local, &rng.bytes(9 << 20), false);
    let (w, mut pack) = pack_of(&local, &[big], d.path());
    let plan = read_plan(&RemoteIndex::from_indexes([w.index]), &[big], 0, u64::MAX);
    let read = &plan.reads[0];

    // Parts out of order, one of them twice: nothing is held in memory.
    let stores = Stores::new(d.path(), "b");
    let (fresh, to) = (&stores.odb, stores.to());
    let mut arrival = Arrival::new(read).unwrap();
    for (a, b) in pieces(&mut rng, read.len(), true) {
        arrival.write(to, a, &pack[(read.start + a) as usize..(read.start + b) as usize]).unwrap();
    }
    let got = arrival.finish(to).unwrap();
    assert_eq!((got.stored, got.files, got.published), (1, 1, vec![big]));
    assert_eq!(fs::read(fresh.object_path(&big)).unwrap(), fs::read(local.object_path(&big)).unwrap());

    // A part missing, then a corrupt byte: refused, nothing left behind.
    let stores = Stores::new(d.path(), "c");
    let (fresh, to) = (&stores.odb, stores.to());
    let bytes = |pack: &[u8]| pack[read.start as usize..read.end as usize].to_vec();
    let mut arrival = Arrival::new(read).unwrap();
    let all = bytes(&pack);
    arrival.write(to, 0, &all[..1 << 20]).unwrap();
    arrival.write(to, 2 << 20, &all[2 << 20..]).unwrap();
    assert!(arrival.finish(to).unwrap_err().to_string().contains("stopped after 1048576 bytes"));
    pack[(read.start + 5) as usize] ^= 1;
    let mut arrival = Arrival::new(read).unwrap();
    arrival.write(to, 0, &bytes(&pack)).unwrap();
    match arrival.finish(to) {
        Err(Error::CorruptObject { path, expected, .. }) => {
            assert_eq!((path, expected), (Path::new(&read.key()).to_path_buf(), big.to_string()));
        }
        other => panic!("expected a corrupt object, got {other:?}"),
    }
    assert!(!fresh.exists(&big));
    assert!(fresh.stale_temps().unwrap().is_empty());
}
