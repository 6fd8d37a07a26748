//! Helpers shared by the integration tests: a seeded generator, text-like
//! data, and the chunk-sharing measure used by the edit tests and benchmarks.

#![allow(dead_code)]

use std::collections::HashMap;

use bale_chunk::Params;

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

/// `rows` lines of a CSV that looks like an export: an increasing id, a
/// date, a category from a small set, two numbers, a free-text field.
pub fn csv_rows(rng: &mut Rng, first_id: u64, rows: usize) -> Vec<u8> {
    const CATS: [&str; 6] = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];
    const WORDS: [&str; 12] =
        ["data", "value", "sensor", "north", "south", "reading", "ok", "late", "batch", "retry", "calm", "spike"];
    let mut out = Vec::with_capacity(rows * 80);
    for i in 0..rows as u64 {
        let id = first_id + i;
        let (m, d) = (1 + rng.below(12), 1 + rng.below(28));
        let cat = CATS[rng.below(6) as usize];
        let x = rng.below(1_000_000) as f64 / 1000.0;
        let n = rng.below(10_000);
        let words: Vec<&str> = (0..1 + rng.below(5)).map(|_| WORDS[rng.below(12) as usize]).collect();
        out.extend_from_slice(format!("{id},2024-{m:02}-{d:02},{cat},{x:.3},{n},{}\n", words.join(" ")).as_bytes());
    }
    out
}

/// The header line and `rows` rows.
pub fn csv(rng: &mut Rng, rows: usize) -> Vec<u8> {
    let mut out = b"id,date,category,value,count,note\n".to_vec();
    out.extend(csv_rows(rng, 0, rows));
    out
}

/// Chunks of `data` as (start, end).
pub fn spans(data: &[u8], p: &Params) -> Vec<(usize, usize)> {
    let mut start = 0;
    bale_chunk::boundaries(data, p)
        .into_iter()
        .map(|end| {
            let s = (start, end);
            start = end;
            s
        })
        .collect()
}

/// Bytes of `new`'s chunks whose content is not a chunk of `old`: what an
/// edit costs to store and upload. Compared by content (blake3).
pub fn new_bytes(old: &[u8], new: &[u8], p: &Params) -> (usize, usize) {
    let known: HashMap<[u8; 32], ()> =
        spans(old, p).into_iter().map(|(s, e)| (*blake3::hash(&old[s..e]).as_bytes(), ())).collect();
    let chunks = spans(new, p);
    let fresh: Vec<_> =
        chunks.iter().filter(|(s, e)| !known.contains_key(blake3::hash(&new[*s..*e]).as_bytes())).collect();
    (fresh.iter().map(|(s, e)| e - s).sum(), fresh.len())
}
