//! The gear table: 256 random 64-bit values, one per byte value, that the
//! rolling hash adds as it shifts (FastCDC's "Gear" hash).
//!
//! The table is part of the chunk format: a different table moves every
//! boundary, so two bale versions with different tables would share no chunks.
//! It is therefore generated, not pasted: splitmix64 seeded with the bytes
//! `"balegear"` (big-endian), the 256 first outputs in order. Changing the
//! seed or the generator is a new [`GEAR_VERSION`], recorded in every chunk
//! list, and a test pins the table's blake3.

/// The version of the table below; written into chunk lists as the chunker id.
pub const GEAR_VERSION: u8 = 1;

/// `u64::from_be_bytes(*b"balegear")`.
pub const GEAR_SEED: u64 = u64::from_be_bytes(*b"balegear");

/// The table of version 1, built at compile time.
pub static GEAR: [u64; 256] = generate(GEAR_SEED);

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fully specified, and its
/// outputs are well mixed in every bit, which the masks in `cdc` rely on.
const fn generate(seed: u64) -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut state = seed;
    let mut i = 0;
    while i < 256 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_version_1_is_pinned() {
        let mut bytes = Vec::with_capacity(256 * 8);
        for v in GEAR {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        // If this fails, every boundary moved: bump GEAR_VERSION instead.
        assert_eq!(
            blake3::hash(&bytes).to_hex().as_str(),
            "f393d476f3fbcf13a9ad7a90d9eb7a2a37f291c9966405d0b038340c7519dbb9"
        );
    }

    #[test]
    fn table_starts_with_splitmix64_of_the_seed() {
        // Computed independently (Python, the reference splitmix64).
        assert_eq!(GEAR_SEED, 0x6261_6c65_6765_6172);
        assert_eq!(&GEAR[..3], &[0xe770_ca54_bdc7_09dc, 0xff3a_94ca_9967_3871, 0xd3f1_0761_8584_036a]);
    }

    #[test]
    fn table_has_no_repeated_values() {
        let mut v = GEAR.to_vec();
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), 256);
    }
}
