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
    let mut h = 0u64;
    if len > min {
        for (i, &b) in data[min..len.min(avg)].iter().enumerate() {
            h = (h << 1).wrapping_add(GEAR[b as usize]);
            if h & mask_s == 0 {
                return Some(min + i + 1);
            }
        }
        let from = min.max(avg);
        if len > from {
            for (i, &b) in data[from..len.min(max)].iter().enumerate() {
                h = (h << 1).wrapping_add(GEAR[b as usize]);
                if h & mask_l == 0 {
                    return Some(from + i + 1);
                }
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
}
