//! Randomized round trips with fixed seeds, and timings printed with
//! `--nocapture` (never asserted: the machine is shared).

mod common;

use std::collections::HashSet;
use std::time::Instant;

use bale_hash::{Algo, Oid};
use bale_odb::{Odb, Progress};
use bale_pack::{plan_packs, read_plan, Encoding, Entry, Kind, PackId, PackIndex, RemoteIndex};
use common::{download, ingest_alone, Rng};

#[test]
fn random_pushes_and_pulls_round_trip_every_wanted_object() {
    for seed in 0..8u64 {
        let d = tempfile::tempdir().unwrap();
        let (local, fresh) = (Odb::new(d.path().join("a")), Odb::new(d.path().join("b")));
        let mut rng = Rng(seed);
        let files = 50 + rng.below(250) as usize;
        let max = [100, 5_000, 200_000][rng.below(3) as usize];
        let trees = rng.below(10) as usize;
        let objects = common::random_objects(&local, &mut rng, files, max, trees);
        let target = [4 << 10, 32 << 10, 1 << 20][rng.below(3) as usize];
        let plan = plan_packs(items(&local, &objects.iter().map(|o| o.0).collect::<Vec<_>>()), target);
        let staged = d.path().join("s");
        let written = common::write_packs(&plan, &staged, &Progress::default());
        let remote = RemoteIndex::load_dir(&staged).unwrap();
        assert_eq!(remote.packs().len(), written.len());

        let all: Vec<Oid> = objects.iter().map(|o| o.0).collect();
        let from = rng.below(all.len() as u64) as usize;
        let to = from + rng.below((all.len() - from) as u64 + 1) as usize;
        let mut wanted: Vec<Oid> = all[from..to].to_vec();
        wanted.extend((0..rng.below(20)).map(|_| all[rng.below(all.len() as u64) as usize]));
        let max_gap = [0, 512, 64 << 10][rng.below(3) as usize];
        let max_read = [1, 4096, 1 << 20, u64::MAX][rng.below(4) as usize];
        let rplan = read_plan(&remote, &wanted, max_gap, max_read);
        assert!(rplan.missing.is_empty());
        assert!(rplan.bytes >= rplan.wanted_bytes);
        let mut ranges: Vec<(PackId, u64, u64)> = Vec::new();
        for read in &rplan.reads {
            assert!(read.len() <= max_read || read.entries.len() == 1, "seed {seed}: read too long");
            for pair in read.entries.windows(2) {
                assert!(pair[1].offset <= pair[0].end() + max_gap, "seed {seed}: gap above max_gap");
            }
            assert_eq!(read.start, read.entries[0].offset);
            assert_eq!(read.end, read.entries.iter().map(Entry::end).max().unwrap());
            ranges.push((read.pack, read.start, read.end));
            let data = download(read, &staged, &d.path().join("dl"));
            ingest_alone(&fresh, read, &data).unwrap();
        }
        ranges.sort();
        for pair in ranges.windows(2) {
            assert!(pair[0].0 != pair[1].0 || pair[0].2 <= pair[1].1, "seed {seed}: reads overlap");
        }
        let wanted: HashSet<Oid> = wanted.into_iter().collect();
        for oid in &all {
            if wanted.contains(oid) {
                let got = std::fs::read(fresh.object_path(oid)).unwrap_or_else(|e| {
                    let r = rplan.reads.iter().find(|r| r.entries.iter().any(|x| x.oid() == *oid));
                    panic!("seed {seed}: {oid}: {e}; read {r:?}")
                });
                assert_eq!(got, std::fs::read(local.object_path(oid)).unwrap(), "seed {seed}: {oid}");
            } else {
                assert!(!fresh.exists(oid), "seed {seed}: {oid} was not wanted");
            }
        }
    }
}

/// `count` synthetic entries in one index of a pack of made-up size.
fn synthetic_index(rng: &mut Rng, count: usize) -> PackIndex {
    let mut offset = 8;
    let entries = (0..count)
        .map(|_| {
            let mut digest = [0u8; 32];
            for chunk in digest.chunks_mut(8) {
                chunk.copy_from_slice(&rng.next().to_le_bytes());
            }
            let e = Entry { digest, kind: Kind::Blob, encoding: Encoding::Raw, offset, length: 4096 };
            offset += 4096;
            e
        })
        .collect();
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&rng.next().to_le_bytes());
    PackIndex::new(PackId::from_bytes(id), offset + 16 + 50 * count as u64, entries)
}

#[test]
fn loading_100k_objects_from_index_files_takes_milliseconds() {
    for (files, per) in [(10, 10_000), (1000, 100)] {
        let d = tempfile::tempdir().unwrap();
        let mut rng = Rng(42);
        let mut probes = Vec::new();
        for _ in 0..files {
            let index = synthetic_index(&mut rng, per);
            probes.push(index.entries()[per / 2].oid());
            std::fs::write(d.path().join(index.pack().index_file_name()), index.to_bytes()).unwrap();
        }
        // The best of five: the machine is shared, and the least disturbed
        // run is the closest to the cost of the code.
        let mut load = std::time::Duration::MAX;
        let mut remote = RemoteIndex::new();
        for _ in 0..5 {
            let start = Instant::now();
            remote = RemoteIndex::load_dir(d.path()).unwrap();
            load = load.min(start.elapsed());
        }
        assert_eq!(remote.len(), files * per);
        let start = Instant::now();
        let all: Vec<Oid> = (0..100_000u32)
            .map(|i| {
                let mut digest = [0u8; 32];
                digest[..4].copy_from_slice(&i.to_le_bytes());
                Oid::from_digest(Algo::Blake3, &digest, false)
            })
            .collect();
        let missing = remote.missing(&all);
        let lookups = start.elapsed();
        assert_eq!(missing.len(), all.len());
        assert!(probes.iter().all(|p| remote.contains(p)));
        println!(
            "index load: {} objects in {files} index files: {:.1} ms; 100k lookups: {:.1} ms",
            files * per,
            load.as_secs_f64() * 1e3,
            lookups.as_secs_f64() * 1e3
        );
    }
}

/// `cargo test -p bale-pack --release --test properties -- --ignored --nocapture`
#[test]
#[ignore = "a benchmark: 400 MiB of objects"]
fn bench_write_and_ingest_100k_objects_of_4k() {
    bench(100_000, 4096);
}

#[test]
#[ignore = "a benchmark: 400 MiB of objects"]
fn bench_write_and_ingest_400_objects_of_1m() {
    bench(400, 1 << 20);
}

fn bench(count: usize, size: usize) {
    let d = tempfile::tempdir().unwrap();
    let (local, fresh) = (Odb::new(d.path().join("a")), Odb::new(d.path().join("b")));
    let mut rng = Rng(7);
    let start = Instant::now();
    let objects: Vec<(Oid, u64)> =
        (0..count).map(|_| (common::put(&local, &rng.bytes(size), false), size as u64)).collect();
    let mb = (count * size) as f64 / 1e6;
    let t = start.elapsed().as_secs_f64();
    println!("[{count} x {size}] setup: put_bytes into a local store, one thread: {t:.2} s = {:.0} MB/s", mb / t);

    let plan = plan_packs(items(&local, &objects.iter().map(|o| o.0).collect::<Vec<_>>()), 32 << 20);
    let staged = d.path().join("s");
    let start = Instant::now();
    let written = common::write_packs(&plan, &staged, &Progress::default());
    let t = start.elapsed().as_secs_f64();
    println!("[{count} x {size}] write_packs: {} packs, {mb:.0} MB in {t:.2} s = {:.0} MB/s", written.len(), mb / t);

    let start = Instant::now();
    let w = bale_pack::write_pack(
        &items(&local, &plan[0].items.iter().map(bale_pack::PackItem::oid).collect::<Vec<_>>()),
        &d.path().join("s1"),
        &Progress::default(),
    )
    .unwrap();
    let t = start.elapsed().as_secs_f64();
    let one = w.bytes as f64 / 1e6;
    println!("[{count} x {size}] write_pack, one pack on one thread: {one:.1} MB in {t:.3} s = {:.0} MB/s", one / t);

    let remote = RemoteIndex::load_dir(&staged).unwrap();
    let all: Vec<Oid> = objects.iter().map(|o| o.0).collect();
    let rplan = read_plan(&remote, &all, 64 << 10, 8 << 20);
    let files: Vec<_> = rplan.reads.iter().map(|r| download(r, &staged, &d.path().join("dl"))).collect();
    let start = Instant::now();
    for (read, file) in rplan.reads.iter().zip(&files) {
        ingest_alone(&fresh, read, file).unwrap();
    }
    let t = start.elapsed().as_secs_f64();
    println!("[{count} x {size}] ingest: {} reads, {mb:.0} MB in {t:.2} s = {:.0} MB/s", rplan.reads.len(), mb / t);
}

fn items(odb: &bale_odb::Odb, oids: &[bale_hash::Oid]) -> Vec<bale_pack::PackItem> {
    bale_pack::PackItem::objects(odb, oids).unwrap()
}
