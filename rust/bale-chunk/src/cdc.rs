//! Sequential FastCDC: where the next chunk ends.
//!
//! From a chunk start, the first `min` bytes are skipped without hashing
//! (FastCDC's cut-point skipping), then the gear hash rolls byte by byte and
//! the chunk ends after the first byte where the hash's masked bits are all
//! zero: the strict mask until `avg`, the loose one until `max`, and at `max`
//! regardless. A boundary therefore depends only on the bytes since the chunk
//! start, and once two chunk sequences share a boundary they share all later
//! ones: an edit moves boundaries only until the first cut after it.

use crate::gear::GEAR;
use crate::Params;

/// Ends of the chunks of `data` (a whole file's content), in order; the last
/// is `data.len()`. Empty data has no chunks.
pub fn boundaries(data: &[u8], p: &Params) -> Vec<usize> {
    let mut cuts = Vec::with_capacity(data.len() / p.avg as usize + 1);
    let mut start = 0;
    while let Some(n) = next_cut(&data[start..], true, p) {
        start += n;
        cuts.push(start);
    }
    cuts
}

/// The length of the chunk that starts at `data[0]`, or `None` if `data` is
/// empty or, when more data may follow (`!eof`), if the cut is not decided
/// yet: no cut point among the bytes seen and fewer than `max` of them.
#[inline]
pub(crate) fn next_cut(data: &[u8], eof: bool, p: &Params) -> Option<usize> {
    let (min, avg, max) = (p.min as usize, p.avg as usize, p.max as usize);
    let len = data.len();
    if len == 0 {
        return None;
    }
    let (mask_s, mask_l) = p.masks();
    if len > min {
        let h = match roll(0, &data[min..len.min(avg)], mask_s) {
            Ok(n) => return Some(min + n),
            Err(h) => h,
        };
        let from = min.max(avg);
        if len > from {
            if let Ok(n) = roll(h, &data[from..len.min(max)], mask_l) {
                return Some(from + n);
            }
        }
    }
    if len >= max {
        Some(max)
    } else if eof {
        Some(len)
    } else {
        None
    }
}

/// Rolls the gear hash `h` over `bytes`: `Ok(n)` if the hash's masked bits
/// are all zero right after byte `n - 1` (the first such byte), otherwise
/// `Err` with the hash after the last byte.
///
/// Eight bytes per step, in two runs of four. Byte by byte, the hash is one
/// serial chain of a shift and an add per byte (two cycles), which was the
/// whole cost. But `h` after four more bytes is `(h << 4)` plus a sum of
/// those bytes' table values, which does not depend on `h`: so the chain
/// advances four bytes per shift-and-add, and the hash after each byte in
/// between is computed beside it, off the chain, for its mask test.
/// Measured on 512 MiB of random bytes, one thread: 1.06 GB/s byte by byte,
/// 1.8 GB/s with the byte loop unrolled, 3.0 GB/s so (two runs of two: 2.5;
/// one run of eight: 2.4, its sums' chain being the longer). Runs of four
/// over sixteen bytes, in one loop, fell to 0.8: that loop did not unroll.
#[inline(always)]
fn roll(mut h: u64, bytes: &[u8], mask: u64) -> Result<usize, u64> {
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let g = |i: usize| GEAR[word[i] as usize];
        let low = four(h, [g(0), g(1), g(2), g(3)]);
        let high = four(low[3], [g(4), g(5), g(6), g(7)]);
        // Two fixed loops, which unroll; one over both chained did not
        // (0.7 GB/s).
        for (k, hk) in low.iter().enumerate() {
            if hk & mask == 0 {
                return Ok(at + k + 1);
            }
        }
        for (k, hk) in high.iter().enumerate() {
            if hk & mask == 0 {
                return Ok(at + k + 5);
            }
        }
        h = high[3];
        at += 8;
    }
    for (k, &b) in words.remainder().iter().enumerate() {
        h = (h << 1).wrapping_add(GEAR[b as usize]);
        if h & mask == 0 {
            return Ok(at + k + 1);
        }
    }
    Err(h)
}

/// The hash after each of four more bytes whose table values are `g`,
/// from `h`: each one `h` shifted plus a sum that does not involve `h`.
#[inline(always)]
fn four(h: u64, g: [u64; 4]) -> [u64; 4] {
    let s1 = (g[0] << 1).wrapping_add(g[1]);
    let s2 = (s1 << 1).wrapping_add(g[2]);
    let s3 = (s2 << 1).wrapping_add(g[3]);
    [(h << 1).wrapping_add(g[0]), (h << 2).wrapping_add(s1), (h << 3).wrapping_add(s2), (h << 4).wrapping_add(s3)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::random;

    #[test]
    fn chunks_respect_min_and_max_and_cover_the_data() {
        let p = Params { min: 1024, avg: 4096, max: 16384 };
        let data = random(1 << 20, 1);
        let cuts = boundaries(&data, &p);
        assert_eq!(*cuts.last().unwrap(), data.len());
        let mut start = 0;
        for (i, &c) in cuts.iter().enumerate() {
            let len = c - start;
            assert!(len <= p.max as usize);
            assert!(len >= p.min as usize || i == cuts.len() - 1);
            start = c;
        }
    }

    #[test]
    fn an_undecided_cut_waits_for_more_data_unless_at_the_end() {
        let p = Params { min: 1024, avg: 4096, max: 16384 };
        let zeros = vec![0u8; 10_000];
        // Constant bytes settle into a fixed hash, which either always or
        // never hits the mask; the default table never hits it for zeros.
        assert_eq!(next_cut(&zeros, false, &p), None);
        assert_eq!(next_cut(&zeros, true, &p), Some(10_000));
        assert_eq!(next_cut(&vec![0u8; 20_000], false, &p), Some(16384));
        assert_eq!(next_cut(&[], true, &p), None);
    }

    #[test]
    fn a_short_tail_is_one_chunk() {
        let p = Params::DEFAULT;
        assert_eq!(boundaries(&[7u8; 100], &p), vec![100]);
        assert!(boundaries(&[], &p).is_empty());
    }

    /// FastCDC as the module comment defines it, one byte at a time: what
    /// the unrolled [`roll`] must agree with.
    fn next_cut_bytewise(data: &[u8], eof: bool, p: &Params) -> Option<usize> {
        let (min, avg, max) = (p.min as usize, p.avg as usize, p.max as usize);
        let (mask_s, mask_l) = p.masks();
        let mut h = 0u64;
        for (i, &b) in data.iter().enumerate().take(max).skip(min) {
            h = (h << 1).wrapping_add(GEAR[b as usize]);
            if h & if i < avg { mask_s } else { mask_l } == 0 {
                return Some(i + 1);
            }
        }
        match data.len() {
            0 => None,
            n if n >= max => Some(max),
            n => eof.then_some(n),
        }
    }

    #[test]
    fn the_unrolled_scan_cuts_where_the_bytewise_one_does() {
        let params =
            [Params { min: 64, avg: 256, max: 1024 }, Params { min: 1000, avg: 4096, max: 5000 }, Params::DEFAULT];
        for (seed, p) in params.iter().enumerate() {
            let data = random(2 << 20, seed as u64 + 10);
            let mut at = 0;
            let mut cuts = 0;
            while at < data.len() {
                let rest = &data[at..];
                let cut = next_cut_bytewise(rest, true, p).unwrap();
                assert_eq!(next_cut(rest, true, p), Some(cut), "{p:?} at {at}");
                // The first cuts again at every length around them and the
                // window ends, so that the eight-byte steps end at every
                // remainder, decided or not.
                if cuts < 8 {
                    for len in (cut.saturating_sub(9)..cut + 9).chain([p.min as usize + 3, p.avg as usize + 5]) {
                        let part = &rest[..len.min(rest.len())];
                        for eof in [false, true] {
                            assert_eq!(
                                next_cut(part, eof, p),
                                next_cut_bytewise(part, eof, p),
                                "{p:?} at {at}, {len} B"
                            );
                        }
                    }
                }
                at += cut;
                cuts += 1;
            }
        }
    }

    /// Chunker 1's boundaries are a format (DESIGN.md §13.1): two builds that
    /// cut differently share no chunks. Pinned from the byte loop.
    #[test]
    fn chunker_1_boundaries_are_pinned() {
        let data = random(16 << 20, 7);
        let cuts = boundaries(&data, &Params::DEFAULT);
        let bytes: Vec<u8> = cuts.iter().flat_map(|c| (*c as u64).to_le_bytes()).collect();
        assert_eq!(
            (cuts.len(), blake3::hash(&bytes).to_hex().to_string()),
            (227, "32bac21f891759979cb41e98532dc778cb6017ff929ca1bd3206edbcf0d9a9fa".to_string()),
        );
    }
}
