//! A new version chunked against the previous one is chunked exactly as a
//! fresh pass would chunk it: random data, random edits, fixed seeds.

mod common;

use std::io::Write;
use std::path::Path;

use bale_chunk::{chunk_file, chunk_file_against, Against, Base, ChunkList, ChunkedFile, Params, BLOCK};
use common::Rng;

const MIB: usize = 1 << 20;

fn fresh(path: &Path, p: &Params) -> ChunkedFile {
    chunk_file(path, p, 0).unwrap()
}

fn write(dir: &Path, name: &str, data: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path).unwrap().write_all(data).unwrap();
    path
}

/// One or more edits of the kinds a user makes; returns the new data.
fn edit(rng: &mut Rng, data: &[u8]) -> (Vec<u8>, String) {
    let mut out = data.to_vec();
    let mut what = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(out.len() as u64) as usize;
        let len = [1, 100, 5000, 70_000, 300_000][rng.below(5) as usize].min(out.len() - at);
        match rng.below(7) {
            0..=2 => {
                out[at..at + len].copy_from_slice(&rng.bytes(len));
                what.push(format!("overwrite {len} at {at}"));
            }
            3 => {
                out.splice(at..at, rng.bytes(len));
                what.push(format!("insert {len} at {at}"));
            }
            4 => {
                out.drain(at..at + len);
                what.push(format!("delete {len} at {at}"));
            }
            5 => {
                out.extend(rng.bytes(len));
                what.push(format!("append {len}"));
            }
            _ => {
                out.truncate(out.len() - len);
                what.push(format!("truncate {len}"));
            }
        }
    }
    (out, what.join(", "))
}

#[test]
fn edited_versions_chunk_as_a_fresh_pass_does() {
    let d = tempfile::tempdir().unwrap();
    let mut rng = Rng(42);
    let mut reused = 0;
    for (i, p) in [Params { min: 1024, avg: 4096, max: 16384 }, Params::DEFAULT].iter().enumerate() {
        for round in 0..12 {
            let len = 6 * MIB + rng.below(MIB as u64) as usize;
            let mut data = rng.bytes(len);
            // Runs of one byte value: cuts at max, where sequences never meet.
            let z = rng.below(data.len() as u64 - 400_000) as usize;
            data[z..z + 300_000].fill(0);
            let old_path = write(d.path(), "old", &data);
            let old = fresh(&old_path, p);
            let list = ChunkList::new(&old, p).unwrap();
            let map = old.blocks.clone().expect("a file above one block has a map");
            let (new, what) = edit(&mut rng, &data);
            let new_path = write(d.path(), "new", &new);
            let expected = fresh(&new_path, p);
            let what = format!("params {i}, round {round}: {what}");
            match chunk_file_against(&new_path, p, &Base { list: &list, map: &map }).unwrap() {
                Against::Chunked(got) => {
                    reused += 1;
                    assert_eq!(got, expected, "{what}");
                }
                Against::Afresh => {}
            }
        }
    }
    // Insertions and deletions shift every later block: those are afresh.
    assert!(reused >= 8, "overwrites, appends and truncations re-chunk in place: {reused} of 24");
}

#[test]
fn an_unchanged_file_reuses_every_chunk_and_a_rewrite_is_chunked_afresh() {
    let d = tempfile::tempdir().unwrap();
    let p = Params::DEFAULT;
    let mut rng = Rng(7);
    let data = rng.bytes(5 * BLOCK as usize);
    let path = write(d.path(), "f", &data);
    let old = fresh(&path, &p);
    let list = ChunkList::new(&old, &p).unwrap();
    let map = old.blocks.clone().unwrap();
    let base = Base { list: &list, map: &map };
    let Against::Chunked(same) = chunk_file_against(&path, &p, &base).unwrap() else { panic!("same bytes") };
    assert_eq!(same, old);

    let other = write(d.path(), "g", &rng.bytes(5 * BLOCK as usize));
    assert!(matches!(chunk_file_against(&other, &p, &base).unwrap(), Against::Afresh), "nothing in common");
    // Other parameters share no cuts: afresh too.
    let small = Params { min: 1024, avg: 4096, max: 16384 };
    assert!(matches!(chunk_file_against(&path, &small, &base).unwrap(), Against::Afresh));
}
