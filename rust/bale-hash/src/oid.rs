use std::fmt;
use std::str::FromStr;

use bale_error::{Error, Result};

/// A hash algorithm, fixed per output and never mixed up with another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algo {
    /// Plain MD5 of the bytes: DVC 3 (`hash: md5`).
    Md5,
    /// DVC 2.x: MD5 with `\r\n` folded to `\n` in blocks that look like text.
    Md5Dos2Unix,
    /// bale-native data.
    Blake3,
}

impl Algo {
    pub const fn digest_len(self) -> usize {
        match self {
            Algo::Md5 | Algo::Md5Dos2Unix => 16,
            Algo::Blake3 => 32,
        }
    }

    /// The suffix that marks a tree id in text form.
    pub const fn tree_suffix(self) -> &'static str {
        match self {
            Algo::Md5 | Algo::Md5Dos2Unix => ".dir",
            Algo::Blake3 => ".tree",
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Algo::Md5 => "md5",
            Algo::Md5Dos2Unix => "md5-dos2unix",
            Algo::Blake3 => "blake3",
        }
    }
}

impl FromStr for Algo {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "md5" => Ok(Algo::Md5),
            "md5-dos2unix" => Ok(Algo::Md5Dos2Unix),
            "blake3" => Ok(Algo::Blake3),
            _ => Err(Error::InvalidOid { text: s.to_owned(), what: "hash algorithm" }),
        }
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A content hash: algorithm, digest, and whether it names a tree.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid {
    algo: Algo,
    tree: bool,
    bytes: [u8; 32],
}

impl Oid {
    pub fn from_digest(algo: Algo, digest: &[u8], tree: bool) -> Self {
        assert_eq!(digest.len(), algo.digest_len(), "digest length does not fit {algo}");
        let mut bytes = [0u8; 32];
        bytes[..digest.len()].copy_from_slice(digest);
        Oid { algo, tree, bytes }
    }

    /// Parses the text form (`<hex>` or `<hex>.dir` / `<hex>.tree`).
    pub fn parse(algo: Algo, text: &str) -> Result<Self> {
        let bad = || Error::InvalidOid { text: text.to_owned(), what: algo.name() };
        let (hex, tree) = match text.strip_suffix(algo.tree_suffix()) {
            Some(hex) => (hex, true),
            None => (text, false),
        };
        if hex.len() != algo.digest_len() * 2 {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        // A manifest holds one id per file: no branch per digit.
        let mut invalid = 0u8;
        for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
            let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
            invalid |= hi | lo;
            bytes[i] = hi << 4 | lo;
        }
        if invalid > 0xf {
            return Err(bad());
        }
        Ok(Oid { algo, tree, bytes })
    }

    pub fn algo(&self) -> Algo {
        self.algo
    }

    pub fn is_tree(&self) -> bool {
        self.tree
    }

    pub fn digest(&self) -> &[u8] {
        &self.bytes[..self.algo.digest_len()]
    }

    /// The same digest marked as a tree.
    pub fn as_tree(mut self) -> Self {
        self.tree = true;
        self
    }

    /// Lower-case hex of the digest, without the tree suffix.
    pub fn hex_digest(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(self.algo.digest_len() * 2 + 5);
        for b in self.digest() {
            s.push(DIGITS[(b >> 4) as usize] as char);
            s.push(DIGITS[(b & 15) as usize] as char);
        }
        s
    }

    pub fn short(&self) -> String {
        self.hex_digest()[..8].to_owned()
    }
}

/// Each byte's value as a hex digit, 0xff where it is none.
static HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut c = 0;
    while c < 10 {
        t[b'0' as usize + c] = c as u8;
        c += 1;
    }
    let mut c = 0;
    while c < 6 {
        t[b'a' as usize + c] = 10 + c as u8;
        t[b'A' as usize + c] = 10 + c as u8;
        c += 1;
    }
    t
};

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex_digest())?;
        if self.tree {
            f.write_str(self.algo.tree_suffix())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips_with_tree_suffixes() {
        let t = "ad5adcace8307aa36df3218729f87e87.dir";
        let oid = Oid::parse(Algo::Md5, t).unwrap();
        assert!(oid.is_tree());
        assert_eq!(oid.to_string(), t);
        let b = "ab".repeat(32) + ".tree";
        assert_eq!(Oid::parse(Algo::Blake3, &b).unwrap().to_string(), b);
    }

    #[test]
    fn rejects_wrong_length_and_foreign_suffix() {
        assert!(Oid::parse(Algo::Md5, "abc").is_err());
        assert!(Oid::parse(Algo::Md5, &("a".repeat(32) + ".tree")).is_err());
        assert!(Oid::parse(Algo::Blake3, &"a".repeat(32)).is_err());
        assert!(Oid::parse(Algo::Md5, &"g".repeat(32)).is_err());
    }

    #[test]
    fn one_non_digit_anywhere_is_rejected() {
        let digits = "0123456789abcdefABCDEF0123456789";
        assert_eq!(Oid::parse(Algo::Md5, digits).unwrap().to_string(), digits.to_lowercase());
        for at in 0..32 {
            for bad in ["g", "G", "/", ":", "@", "`", " ", "\u{0}"] {
                let text = format!("{}{bad}{}", &digits[..at], &digits[at + 1..]);
                assert!(Oid::parse(Algo::Md5, &text).is_err(), "{text:?}");
            }
        }
        // Two bytes of one character, where the length alone would pass.
        assert!(Oid::parse(Algo::Md5, &format!("é{}", &digits[2..])).is_err());
    }

    #[test]
    fn upper_case_hex_is_read_and_written_lower() {
        let oid = Oid::parse(Algo::Md5, &"AB".repeat(16)).unwrap();
        assert_eq!(oid.to_string(), "ab".repeat(16));
    }
}
