//! Chunk-size parameters and the two masks they imply.

use bale_error::{Error, Result};

/// Minimum, average and maximum chunk sizes in bytes.
///
/// `avg` must be a power of two: its log2 sets the number of mask bits.
/// Boundaries depend on these values, so a file chunked with other
/// parameters shares few chunks with one chunked with the default; the
/// values used are recorded in every chunk list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Params {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
}

impl Params {
    /// 16 KiB / 64 KiB / 256 KiB: chosen by the sweep in `tests/bench.rs`
    /// (DESIGN.md §13.1 has the numbers: 64 KiB minimises new chunks plus
    /// the new list per edit for large files).
    pub const DEFAULT: Params = Params { min: 16 << 10, avg: 64 << 10, max: 256 << 10 };

    /// The largest `max` accepted: chunk lengths are `u32` in the list format,
    /// and a chunk is held in memory whole while it is verified.
    pub const MAX_MAX: u32 = 1 << 30;

    /// Checks the constraints the chunker and the list format rely on.
    pub fn validate(&self) -> Result<()> {
        let ok = self.avg.is_power_of_two()
            && self.avg >= 256
            && self.min >= 1
            && self.min <= self.avg
            && self.avg <= self.max
            && self.max <= Self::MAX_MAX;
        if ok {
            Ok(())
        } else {
            Err(Error::Unsupported(format!(
                "chunk sizes min {} / avg {} / max {}: need 1 <= min <= avg <= max <= 1 GiB, avg a power of two >= 256",
                self.min, self.avg, self.max
            )))
        }
    }

    /// FastCDC's normalized chunking, level 2: before `avg` a cut needs
    /// `log2(avg) + 2` zero bits (rarer), after it `log2(avg) - 2` (likelier),
    /// which pulls chunk sizes towards `avg` without moving the mean much.
    ///
    /// The bits are the hash's top bits: with `h = (h << 1) + GEAR[b]`, bit
    /// `i` depends on the last `i + 1` bytes, so the top bits depend on the
    /// widest window (up to 64 bytes).
    pub(crate) fn masks(&self) -> (u64, u64) {
        let bits = self.avg.trailing_zeros();
        (top_bits(bits + 2), top_bits(bits - 2))
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::DEFAULT
    }
}

fn top_bits(n: u32) -> u64 {
    !0u64 << (64 - n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_masks_have_the_right_weight() {
        Params::DEFAULT.validate().unwrap();
        let (s, l) = Params::DEFAULT.masks();
        assert_eq!((s.count_ones(), l.count_ones()), (18, 14));
        assert_eq!(s.leading_ones(), 18);
    }

    #[test]
    fn invalid_sizes_are_refused() {
        for p in [
            Params { min: 0, avg: 1024, max: 4096 },
            Params { min: 100, avg: 1000, max: 4096 },
            Params { min: 2048, avg: 1024, max: 4096 },
            Params { min: 1, avg: 1024, max: 512 },
            Params { min: 1, avg: 128, max: 512 },
            Params { min: 1, avg: 1024, max: u32::MAX },
        ] {
            assert!(p.validate().is_err(), "{p:?}");
        }
    }
}
