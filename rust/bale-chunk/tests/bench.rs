//! Measurements, not checks: `cargo test -p bale-chunk --release --test bench
//! -- --ignored --nocapture --test-threads 1`. The machine is shared, so each
//! timing is repeated and reported as median [min-max].

mod common;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use bale_chunk::{boundaries, boundaries_parallel, chunk_file, Params};
use bale_hash::{read_block, Algo};
use common::{new_bytes, Rng};
use rayon::prelude::*;

const RUNS: usize = 5;

/// Median, min and max of `RUNS` timings of `f`, in MB/s of `bytes`.
fn rate(bytes: u64, mut f: impl FnMut()) -> String {
    let mut t: Vec<f64> = (0..RUNS)
        .map(|_| {
            let s = Instant::now();
            f();
            bytes as f64 / 1e6 / s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    format!("{:5.0} MB/s [{:.0}-{:.0}]", t[RUNS / 2], t[0], t[RUNS - 1])
}

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap()
}

fn write_random(path: &Path, size: usize) {
    let mut f = File::create(path).unwrap();
    let mut rng = Rng(1);
    for _ in 0..size / (16 << 20) {
        f.write_all(&rng.bytes(16 << 20)).unwrap();
    }
    // Written back before timing, so that the flush does not compete.
    f.sync_all().unwrap();
}

/// Maps `path` read-only and runs `f` on its bytes (measurement only: bale
/// itself reads, see file.rs).
fn with_mmap<R>(path: &Path, f: impl FnOnce(&[u8]) -> R) -> R {
    let file = File::open(path).unwrap();
    let len = file.metadata().unwrap().len() as usize;
    use std::os::fd::AsRawFd;
    // SAFETY: a private read-only mapping of a file nobody changes during the
    // benchmark, unmapped before returning.
    unsafe {
        let p = libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0);
        assert_ne!(p, libc::MAP_FAILED);
        let r = f(std::slice::from_raw_parts(p as *const u8, len));
        libc::munmap(p, len);
        r
    }
}

#[test]
#[ignore = "a benchmark: writes a 1 GiB file"]
fn bench_throughput_1gib() {
    let size = 1usize << 30;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("big");
    write_random(&path, size);
    let p = Params::DEFAULT;
    let n = size as u64;
    let cat = || {
        let null = File::create("/dev/null").unwrap();
        assert!(Command::new("cat").arg(&path).stdout(Stdio::from(null)).status().unwrap().success());
    };
    cat(); // page cache hot
    println!("1 GiB random file, page cache hot, {RUNS} runs, median [min-max]");
    println!("  cat > /dev/null                       {}", rate(n, cat));
    let read_only = || {
        let mut f = File::open(&path).unwrap();
        let mut buf = vec![0u8; 16 << 20];
        while read_block(&mut f, &mut buf).unwrap() > 0 {}
    };
    println!("  read() in 16 MiB blocks, no hashing   {}", rate(n, read_only));
    for threads in [1, 2] {
        let pool = pool(threads);
        let t = format!("{threads} thread{}", if threads > 1 { "s" } else { "" });
        let plain = rate(n, || {
            pool.install(|| bale_hash::hash_file(&path, Algo::Blake3)).unwrap();
        });
        println!("  blake3 (bale_hash::hash_file), {t}  {plain}");
        let mapped = rate(n, || {
            with_mmap(&path, |b| pool.install(|| blake3::Hasher::new().update_rayon(b).finalize()));
        });
        println!("  blake3 over mmap, {t}               {mapped}");
        let chunked = rate(n, || drop(pool.install(|| chunk_file(&path, &p, 0)).unwrap()));
        println!("  chunk_file (CDC + chunk ids + whole id), {t}: {chunked}");
        let chunked_mmap = rate(n, || {
            with_mmap(&path, |b| {
                pool.install(|| {
                    rayon::join(
                        || {
                            let cuts = boundaries_parallel(b, &p, if threads > 1 { 4 << 20 } else { usize::MAX });
                            let ids: Vec<_> = (0..cuts.len())
                                .into_par_iter()
                                .map(|i| blake3::hash(&b[if i == 0 { 0 } else { cuts[i - 1] }..cuts[i]]))
                                .collect();
                            ids.len()
                        },
                        || blake3::Hasher::new().update_rayon(b).finalize(),
                    )
                })
            });
        });
        println!("  same over mmap, {t}                 {chunked_mmap}");
        let cdc_only = with_mmap(&path, |b| {
            let b = &b[..256 << 20];
            rate(256 << 20, || {
                drop(pool.install(|| boundaries_parallel(b, &p, if threads > 1 { 4 << 20 } else { usize::MAX })))
            })
        });
        println!("  boundaries only (gear scan), {t}    {cdc_only}");
    }
}

fn percentile(sorted: &[usize], q: f64) -> usize {
    sorted[((sorted.len() - 1) as f64 * q) as usize]
}

fn distribution(name: &str, data: &[u8], p: &Params) {
    let mut start = 0;
    let mut lens: Vec<usize> = boundaries(data, p)
        .into_iter()
        .map(|e| {
            let l = e - start;
            start = e;
            l
        })
        .collect();
    lens.pop(); // the tail is not content-defined
    lens.sort_unstable();
    let mean = lens.iter().sum::<usize>() as f64 / lens.len() as f64;
    let at_max = lens.iter().filter(|&&l| l == p.max as usize).count();
    println!(
        "  {name:7} {} chunks: mean {:.1} KiB, p10 {:.1}, p50 {:.1}, p90 {:.1} KiB; {:.2}% cut at max",
        lens.len(),
        mean / 1024.0,
        percentile(&lens, 0.1) as f64 / 1024.0,
        percentile(&lens, 0.5) as f64 / 1024.0,
        percentile(&lens, 0.9) as f64 / 1024.0,
        100.0 * at_max as f64 / lens.len() as f64
    );
}

#[test]
#[ignore = "a benchmark"]
fn bench_chunk_size_distribution() {
    let p = Params::DEFAULT;
    println!("chunk sizes with {p:?}");
    distribution("random", &Rng(2).bytes(256 << 20), &p);
    distribution("csv", &common::csv(&mut Rng(3), 2_000_000), &p);
}

fn report(name: &str, old: &[u8], new: &[u8], p: &Params) {
    let (fresh, count) = new_bytes(old, new, p);
    let total = boundaries(new, p).len();
    println!("  {name:44} {:>9} new bytes in {count:>3} of {total} chunks (+ list {} B)", fresh, 104 + 36 * total);
}

#[test]
#[ignore = "a benchmark"]
fn bench_dedup_of_the_issue_workloads() {
    let p = Params::DEFAULT;
    let mut rng = Rng(4);
    let data = rng.bytes(256 << 20);
    println!("new bytes per edit with {p:?}");
    let mut a = data.clone();
    let mid = data.len() / 2;
    a[mid..mid + (1 << 20)].copy_from_slice(&rng.bytes(1 << 20));
    report("(a) 1 MiB overwritten mid 256 MiB random", &data, &a, &p);
    let mut b = vec![0x42];
    b.extend_from_slice(&data);
    report("(b) 1 byte inserted at the start", &data, &b, &p);
    drop((a, b, data));

    let rows = 1_000_000;
    let mut csv = common::csv(&mut rng, rows);
    println!("  (c) CSV of {rows} rows ({} MB), 1% of rows appended ten times:", csv.len() / 1_000_000);
    for round in 0..10u64 {
        let more = common::csv_rows(&mut rng, rows as u64 * (100 + round) / 100, rows / 100);
        let mut new = csv.clone();
        new.extend_from_slice(&more);
        report(&format!("      append {} ({} bytes of rows)", round + 1, more.len()), &csv, &new, &p);
        csv = new;
    }
}

/// One edit of a sweep workload: the old bytes and the new.
type EditFn = fn(&mut Rng, &[u8], &[u8]) -> (bool, Vec<u8>);

/// The parameter sweep behind `Params::DEFAULT`: for each candidate, what
/// typical edits cost (new chunk bytes, mean of 8 random placements, + the
/// new list) and how many chunks a file has (objects to store and index).
#[test]
#[ignore = "a benchmark"]
fn bench_parameter_sweep() {
    let mut rng = Rng(5);
    let random = rng.bytes(64 << 20);
    let csv = common::csv(&mut rng, 1_000_000);
    // (name, on csv?, edit): each returns the new bytes for one random placement.
    let workloads: [(&str, EditFn); 6] = [
        ("rand 1MiB overwrite", |rng, r, _| {
            let mut w = r.to_vec();
            let at = rng.below((r.len() - (1 << 20)) as u64) as usize;
            w[at..at + (1 << 20)].copy_from_slice(&rng.bytes(1 << 20));
            (false, w)
        }),
        ("rand 1B insert", |rng, r, _| {
            let mut w = r.to_vec();
            w.insert(rng.below(r.len() as u64) as usize, 1);
            (false, w)
        }),
        ("rand 20 x 1B edits", |rng, r, _| (false, scattered(r, rng, 20))),
        ("csv 20 x 1B edits", |rng, _, c| (true, scattered(c, rng, 20))),
        ("csv +1% rows", |rng, _, c| {
            let mut w = c.to_vec();
            w.extend(common::csv_rows(rng, 1_000_000, 10_000));
            (true, w)
        }),
        ("csv 100 rows inserted", |rng, _, c| {
            let mut w = c.to_vec();
            let at = rng.below(c.len() as u64) as usize;
            let at = at + w[at..].iter().position(|&b| b == b'\n').unwrap() + 1;
            w.splice(at..at, common::csv_rows(rng, 5, 100));
            (true, w)
        }),
    ];
    const REPS: usize = 8;
    print!("{:>16} {:>9}", "min/avg/max KiB", "chunks");
    for (name, _) in &workloads {
        print!(" {name:>21}");
    }
    println!("\n{:>16} {:>9} (each: new chunk KiB, mean of {REPS}, + list KiB)", "", "in 64MiB");
    for avg_k in [16u32, 32, 64, 128] {
        for (min_div, max_mul) in [(4u32, 4u32), (8, 2), (2, 2), (4, 8)] {
            let p = Params { min: (avg_k << 10) / min_div, avg: avg_k << 10, max: (avg_k << 10) * max_mul };
            let count = boundaries(&random, &p).len();
            print!("{:>16} {count:>9}", format!("{}/{}/{}", p.min >> 10, avg_k, p.max >> 10));
            for (_, edit) in &workloads {
                let mut rng = Rng(6);
                let mut fresh = 0;
                let mut list = 0;
                for _ in 0..REPS {
                    let (is_csv, new) = edit(&mut rng, &random, &csv);
                    let old = if is_csv { &csv } else { &random };
                    fresh += new_bytes(old, &new, &p).0;
                    list = 104 + 36 * boundaries(&new, &p).len();
                }
                print!(" {:>13.0} + {:>5.0}", fresh as f64 / REPS as f64 / 1024.0, list as f64 / 1024.0);
            }
            println!();
        }
    }
}

fn scattered(data: &[u8], rng: &mut Rng, edits: usize) -> Vec<u8> {
    let mut out = data.to_vec();
    for _ in 0..edits {
        let at = rng.below(out.len() as u64) as usize;
        out[at] ^= 0x55;
    }
    out
}

/// Runs of one byte value never let chunk sequences from different starts
/// meet, so the parallel stitch re-scans them sequentially: how much that
/// costs next to random data.
#[test]
#[ignore = "a benchmark: writes a 256 MiB file"]
fn bench_zeros_degrade_to_a_sequential_scan() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("zeros");
    let size = 256usize << 20;
    let mut f = File::create(&path).unwrap();
    f.write_all(&vec![0u8; size]).unwrap();
    // Written back before timing, so that the flush does not compete.
    f.sync_all().unwrap();
    let p = Params::DEFAULT;
    for threads in [1, 2] {
        let pool = pool(threads);
        let r = rate(size as u64, || drop(pool.install(|| chunk_file(&path, &p, 0)).unwrap()));
        println!("  chunk_file on 256 MiB of zeros, {threads} thread(s): {r}");
    }
}

/// Rebuild verifies every chunk and the whole file, one thread.
#[test]
#[ignore = "a benchmark: 256 MiB in memory"]
fn bench_rebuild_from_memory() {
    let size = 256usize << 20;
    let data = Rng(8).bytes(size);
    let p = Params::DEFAULT;
    let mut start = 0;
    let mut store = std::collections::HashMap::new();
    let mut chunks = Vec::new();
    for end in boundaries(&data, &p) {
        let id = bale_hash::Oid::from_digest(Algo::Blake3, blake3::hash(&data[start..end]).as_bytes(), false);
        store.insert(id, data[start..end].to_vec());
        chunks.push(bale_chunk::Chunk { id, offset: start as u64, len: (end - start) as u64 });
        start = end;
    }
    let file = bale_chunk::ChunkedFile {
        id: bale_hash::Oid::from_digest(Algo::Blake3, blake3::hash(&data).as_bytes(), false),
        size: size as u64,
        chunks,
        blocks: None,
    };
    let list = bale_chunk::ChunkList::new(&file, &p).unwrap();
    let r = rate(size as u64, || {
        bale_chunk::rebuild(&list, &store, &mut std::io::sink()).unwrap();
    });
    println!("  rebuild 256 MiB from a HashMap into a sink, verifying: {r}");
}
