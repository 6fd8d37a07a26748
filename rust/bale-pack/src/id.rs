//! Pack ids and where packs live on a remote.

use std::fmt;

/// The remote folder, beside DVC's `files/`, that holds packs and indexes.
pub const PACKS_DIR: &str = "bale/packs";

/// A pack's name: the blake3 of the pack file's bytes. Its own type, so that a
/// pack id is never taken for an object id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackId([u8; 32]);

impl PackId {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        PackId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits (either case).
    pub fn parse(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
            bytes[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(PackId(bytes))
    }

    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `<hex>.pack`, the file name in a staging folder and on the remote.
    pub fn pack_file_name(&self) -> String {
        format!("{}.pack", self.hex())
    }

    /// `<hex>.idx`.
    pub fn index_file_name(&self) -> String {
        format!("{}.idx", self.hex())
    }

    /// The pack's path under the remote root.
    pub fn pack_key(&self) -> String {
        format!("{PACKS_DIR}/{}", self.pack_file_name())
    }

    /// The index's path under the remote root.
    pub fn index_key(&self) -> String {
        format!("{PACKS_DIR}/{}", self.index_file_name())
    }
}

/// A file of the packed layout on a remote: a pack or its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackFile {
    Pack(PackId),
    Index(PackId),
}

impl PackFile {
    /// The pack file `key` names (the inverse of [`PackId::pack_key`] and
    /// [`PackId::index_key`]: lower-case hex only), else `None`.
    pub fn parse_key(key: &str) -> Option<Self> {
        let name = key.strip_prefix(PACKS_DIR)?.strip_prefix('/')?;
        let (hex, ext) = name.split_once('.')?;
        let id = PackId::parse(hex)?;
        let file = match ext {
            "pack" => PackFile::Pack(id),
            "idx" => PackFile::Index(id),
            _ => return None,
        };
        (file.key() == key).then_some(file)
    }

    pub fn id(&self) -> PackId {
        match *self {
            PackFile::Pack(id) | PackFile::Index(id) => id,
        }
    }

    /// Its path under the remote root.
    pub fn key(&self) -> String {
        match self {
            PackFile::Pack(id) => id.pack_key(),
            PackFile::Index(id) => id.index_key(),
        }
    }
}

impl fmt::Display for PackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for PackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pack:{}", &self.hex()[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_names_remote_paths() {
        let id = PackId::from_bytes([0xab; 32]);
        assert_eq!(PackId::parse(&id.hex()), Some(id));
        assert_eq!(PackId::parse(&id.hex().to_uppercase()), Some(id));
        assert_eq!(id.index_key(), format!("bale/packs/{}.idx", "ab".repeat(32)));
        assert_eq!(PackId::parse("ab"), None);
        assert_eq!(PackId::parse(&"g".repeat(64)), None);
    }

    #[test]
    fn pack_keys_parse_back_to_their_file() {
        let id = PackId::from_bytes([0xab; 32]);
        for file in [PackFile::Pack(id), PackFile::Index(id)] {
            assert_eq!(PackFile::parse_key(&file.key()), Some(file));
        }
        let hex = id.hex();
        for key in [
            format!("bale/packs/{}.pack", hex.to_uppercase()),
            format!("bale/packs/{hex}.tmp"),
            format!("bale/packs/{hex}"),
            format!("bale/packs/x/{hex}.pack"),
            format!("bale/packsy/{hex}.pack"),
            format!("x/bale/packs/{hex}.idx"),
            format!("bale/packs/{}.pack", &hex[1..]),
        ] {
            assert_eq!(PackFile::parse_key(&key), None, "{key}");
        }
    }
}
