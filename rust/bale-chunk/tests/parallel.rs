//! The parallel chunker gives exactly the sequential boundaries, whatever
//! the data and the segment size (shorter than `max` included).

mod common;

use bale_chunk::{boundaries, boundaries_parallel, Params};
use common::Rng;

/// Random bytes, runs of one value, and short repeating patterns: the last
/// two are where chunk sequences from different starts may never meet.
fn data(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    let target = rng.below(300_000) as usize;
    while out.len() < target {
        let n = 1 + rng.below(60_000) as usize;
        match rng.below(4) {
            0 => {
                let byte = rng.below(256) as u8;
                out.extend(std::iter::repeat_n(byte, n));
            }
            1 => {
                let len = 1 + rng.below(300) as usize;
                let pat = rng.bytes(len);
                out.extend(pat.iter().cycle().take(n));
            }
            2 => out.extend(common::csv_rows(rng, 0, n / 60 + 1)),
            _ => out.extend_from_slice(&rng.bytes(n)),
        }
    }
    out
}

#[test]
fn parallel_equals_sequential_for_any_segment_size() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let params = [
        Params { min: 64, avg: 256, max: 1024 },
        Params { min: 1024, avg: 4096, max: 16384 },
        Params { min: 4096, avg: 4096, max: 4096 },
        Params { min: 1, avg: 1024, max: 1 << 20 },
    ];
    for seed in 0..40u64 {
        let mut rng = Rng(seed);
        let data = data(&mut rng);
        let p = params[rng.below(params.len() as u64) as usize];
        let expected = boundaries(&data, &p);
        for _ in 0..4 {
            let segment = match rng.below(3) {
                0 => 1 + rng.below(p.max as u64) as usize, // shorter than max
                1 => 16 + rng.below(64) as usize,          // tiny
                _ => 1 + rng.below(data.len() as u64 + 1) as usize,
            };
            let got = pool.install(|| boundaries_parallel(&data, &p, segment));
            assert_eq!(got, expected, "seed {seed}, {p:?}, segment {segment}, {} bytes", data.len());
        }
    }
}
