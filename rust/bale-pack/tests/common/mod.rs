//! Helpers shared by the integration tests: a seeded generator, a store of
//! random objects, and a stand-in for a ranged download.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use bale_error::Result;
use bale_hash::{Algo, Oid};
use bale_odb::Odb;
use bale_pack::{ingest_read, write_pack, Assemblies, Destinations, Ingested, PlannedPack, Read, Side, WrittenPack};

/// splitmix64: fixed seeds make every failure reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// Stores `data` as a blake3 object (a tree if `tree`).
pub fn put(odb: &Odb, data: &[u8], tree: bool) -> Oid {
    let oid = Oid::from_digest(Algo::Blake3, blake3::hash(data).as_bytes(), tree);
    odb.put_bytes(&oid, data).unwrap();
    oid
}

/// `files` random blobs of sizes `0..max`, then `trees` small trees, as
/// (id, size) in that order.
pub fn random_objects(odb: &Odb, rng: &mut Rng, files: usize, max: u64, trees: usize) -> Vec<(Oid, u64)> {
    let mut out = Vec::new();
    for _ in 0..files {
        let size = rng.below(max) as usize;
        let data = rng.bytes(size);
        out.push((put(odb, &data, false), data.len() as u64));
    }
    for i in 0..trees {
        let data = format!("bale-tree 1\nf {} 1 1 file{i}\n", "ab".repeat(32)).into_bytes();
        out.push((put(odb, &data, true), data.len() as u64));
    }
    out
}

/// What a ranged GET of `read` would leave on disk.
pub fn download(read: &Read, packs: &Path, into: &Path) -> PathBuf {
    let pack = fs::read(packs.join(read.pack.pack_file_name())).unwrap();
    let dest = into.join(format!("{}-{}-{}", read.pack.hex(), read.start, read.end));
    fs::create_dir_all(into).unwrap();
    fs::write(&dest, &pack[read.start as usize..read.end as usize]).unwrap();
    dest
}

/// Writes every pack of `plan`, in order (a push writes each just before
/// its upload).
pub fn write_packs(plan: &[PlannedPack], out_dir: &Path, progress: &bale_odb::Progress) -> Vec<WrittenPack> {
    plan.iter().map(|p| write_pack(&p.items, out_dir, progress).unwrap()).collect()
}

/// Ingests a read downloaded into `data` that holds whole files and trees
/// only (nothing goes to a side store or an assembly).
pub fn ingest_alone(odb: &Odb, read: &Read, data: &Path) -> Result<Ingested> {
    ingest_with(odb, read, data, &bale_odb::Progress::default())
}

pub fn ingest_with(odb: &Odb, read: &Read, data: &Path, progress: &bale_odb::Progress) -> Result<Ingested> {
    let side = Side::new(PathBuf::from("/nonexistent/side"));
    let to = Destinations { odb, side: &side, assemblies: &Assemblies::default(), progress };
    ingest_read(to, read, data)
}
