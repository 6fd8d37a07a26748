use std::fs::File;
use std::io::Read;
use std::path::Path;

use bale_error::{Error, IoContext, Result};

use crate::md5::Md5;
use crate::{Algo, Oid};

/// DVC 2.x tested text per 1 MiB read, so the legacy dos2unix hash depends
/// on that block size; no other algorithm does.
const BLOCK: usize = 1 << 20;

/// What files are read in to be hashed. A read and the hash's pass over it
/// then stay in the core's L2 cache; with 1 MiB reads, the kernel's copy
/// evicts what the hash is about to read, and MD5 of a file in the page cache
/// measured 25% slower on the benchmark VM (1 MiB of L2 per core).
pub const READ_SIZE: usize = 128 << 10;

/// Above this size a blake3 hash is split across the rayon pool.
const PARALLEL_BLAKE3_MIN: u64 = 8 << 20;

/// What hashing a file found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHash {
    pub oid: Oid,
    pub size: u64,
}

/// A streaming hasher for any [`Algo`].
pub enum Hasher {
    Md5(Md5),
    /// The legacy hash, and the part of its current 1 MiB block not yet fed.
    Dos2Unix(Md5, Vec<u8>),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    pub fn new(algo: Algo) -> Self {
        match algo {
            Algo::Md5 => Hasher::Md5(Md5::new()),
            Algo::Md5Dos2Unix => Hasher::Dos2Unix(Md5::new(), Vec::new()),
            Algo::Blake3 => Hasher::Blake3(Box::default()),
        }
    }

    /// Feeds the next bytes, in pieces of any size.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Dos2Unix(h, pending) => {
                // The text test is made per 1 MiB block of the file, as DVC
                // read it, so blocks are put together before they are fed.
                let mut bytes = bytes;
                while !bytes.is_empty() {
                    if pending.is_empty() && bytes.len() >= BLOCK {
                        dos2unix_update(h, &bytes[..BLOCK]);
                        bytes = &bytes[BLOCK..];
                        continue;
                    }
                    let take = (BLOCK - pending.len()).min(bytes.len());
                    pending.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if pending.len() == BLOCK {
                        dos2unix_update(h, pending);
                        pending.clear();
                    }
                }
            }
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    pub fn finish(self, tree: bool) -> Oid {
        match self {
            Hasher::Md5(h) => Oid::from_digest(Algo::Md5, &h.finalize(), tree),
            Hasher::Dos2Unix(mut h, pending) => {
                dos2unix_update(&mut h, &pending);
                Oid::from_digest(Algo::Md5Dos2Unix, &h.finalize(), tree)
            }
            Hasher::Blake3(h) => Oid::from_digest(Algo::Blake3, h.finalize().as_bytes(), tree),
        }
    }
}

/// The id of bytes held in memory: the id the same bytes in a file have.
pub fn hash_bytes(algo: Algo, bytes: &[u8], tree: bool) -> Oid {
    let mut hasher = Hasher::new(algo);
    hasher.update(bytes);
    hasher.finish(tree)
}

/// DVC 2.x's text test: the first 512 bytes of the block hold no NUL and at
/// most 30% bytes outside printable ASCII and `\n\r\t\f\b`.
fn is_text_block(block: &[u8]) -> bool {
    let head = &block[..block.len().min(512)];
    if head.is_empty() {
        return true;
    }
    if head.contains(&0) {
        return false;
    }
    let binary = head
        .iter()
        .filter(|&&b| !((32..=126).contains(&b) || matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x08)))
        .count();
    binary * 100 <= head.len() * 30
}

fn dos2unix_update(h: &mut Md5, block: &[u8]) {
    if !is_text_block(block) {
        h.update(block);
        return;
    }
    let mut start = 0;
    let mut i = 0;
    while i + 1 < block.len() {
        if block[i] == b'\r' && block[i + 1] == b'\n' {
            h.update(&block[start..i]);
            start = i + 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    h.update(&block[start..]);
}

/// Hashes everything a reader yields.
pub fn hash_reader(algo: Algo, mut reader: impl Read, path: &Path) -> Result<FileHash> {
    let mut hasher = Hasher::new(algo);
    let mut buf = vec![0u8; READ_SIZE];
    let mut size = 0u64;
    loop {
        let n = read_block(&mut reader, &mut buf).at(path)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok(FileHash { oid: hasher.finish(false), size })
}

/// Fills `buf` unless the reader ends first, so that blocks are whole.
pub fn read_block(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Hashes one file, following a symlink to its target as DVC does, and fails
/// with [`Error::ChangedWhileHashing`] if its size or mtime moved meanwhile.
pub fn hash_file(path: &Path, algo: Algo) -> Result<FileHash> {
    let file = File::open(path).at(path)?;
    let before = file.metadata().at(path)?;
    let hash = if algo == Algo::Blake3 && before.len() >= PARALLEL_BLAKE3_MIN {
        // Large blocks hashed across the pool; read, not mapped, so that
        // memory stays bounded whatever the file's size.
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; PARALLEL_BLAKE3_MIN as usize];
        let mut size = 0u64;
        let mut reader = &file;
        loop {
            let n = read_block(&mut reader, &mut buf).at(path)?;
            if n == 0 {
                break;
            }
            hasher.update_rayon(&buf[..n]);
            size += n as u64;
        }
        FileHash { oid: Oid::from_digest(Algo::Blake3, hasher.finalize().as_bytes(), false), size }
    } else {
        hash_reader(algo, &file, path)?
    };
    let after = file.metadata().at(path)?;
    if hash.size != after.len() || before.modified().ok() != after.modified().ok() {
        return Err(Error::ChangedWhileHashing { path: path.to_path_buf() });
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn hash_bytes(algo: Algo, data: &[u8]) -> String {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(data).unwrap();
        hash_file(f.path(), algo).unwrap().oid.to_string()
    }

    #[test]
    fn md5_matches_dvc_for_known_files() {
        assert_eq!(hash_bytes(Algo::Md5, b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hash_bytes(Algo::Md5, b"hello\n"), "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(hash_bytes(Algo::Md5, b"b\r\n"), "c5053d4da03789bfbc4bee760fade936");
    }

    #[test]
    fn legacy_md5_folds_crlf_only_in_text_blocks() {
        assert_eq!(hash_bytes(Algo::Md5Dos2Unix, b"line1\r\nline2\r\n"), "4fcc82a88ee38e0aa16c17f512c685c9");
        let binary = b"\0\r\n";
        assert_eq!(hash_bytes(Algo::Md5Dos2Unix, binary), hash_bytes(Algo::Md5, binary));
    }

    /// The text test is per 1 MiB block of the file however the bytes are
    /// fed: a CRLF split by the block boundary is not folded, and a binary
    /// block beside text blocks is hashed as it is.
    #[test]
    fn legacy_md5_blocks_do_not_depend_on_the_pieces_fed() {
        let mut data = b"text\r\n".repeat(BLOCK / 6 + 1);
        data.truncate(BLOCK - 1);
        data.extend_from_slice(b"\r\nmore text\r\n");
        data.extend(std::iter::repeat_n(0u8, BLOCK));
        data.extend_from_slice(b"tail\r\n");
        let mut whole = Md5::new();
        for block in data.chunks(BLOCK) {
            dos2unix_update(&mut whole, block);
        }
        let expected = Oid::from_digest(Algo::Md5Dos2Unix, &whole.finalize(), false);
        assert_eq!(super::hash_bytes(Algo::Md5Dos2Unix, &data, false), expected);
        for piece in [1, 4096, READ_SIZE, BLOCK - 3, BLOCK, 3 * BLOCK] {
            let mut h = Hasher::new(Algo::Md5Dos2Unix);
            data.chunks(piece).for_each(|p| h.update(p));
            assert_eq!(h.finish(false), expected, "pieces of {piece}");
        }
        assert_eq!(hash_bytes(Algo::Md5Dos2Unix, &data), expected.to_string());
        // Exactly whole blocks: the last one is fed whole, then nothing.
        let whole_blocks = &data[..2 * BLOCK];
        let mut reference = Md5::new();
        whole_blocks.chunks(BLOCK).for_each(|block| dos2unix_update(&mut reference, block));
        let mut h = Hasher::new(Algo::Md5Dos2Unix);
        whole_blocks.chunks(READ_SIZE).for_each(|p| h.update(p));
        assert_eq!(h.finish(false), Oid::from_digest(Algo::Md5Dos2Unix, &reference.finalize(), false));
        assert_ne!(expected.digest(), super::hash_bytes(Algo::Md5, &data, false).digest(), "CRLFs were folded");
    }

    #[test]
    fn blake3_parallel_and_streaming_paths_agree() {
        let data: Vec<u8> = (0..(PARALLEL_BLAKE3_MIN as usize + 12345)).map(|i| (i * 7) as u8).collect();
        let expected = blake3::hash(&data).to_hex().to_string();
        assert_eq!(hash_bytes(Algo::Blake3, &data), expected);
        let small = &data[..1000];
        assert_eq!(hash_bytes(Algo::Blake3, small), blake3::hash(small).to_hex().to_string());
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = hash_file(Path::new("/nonexistent/x"), Algo::Md5).unwrap_err();
        assert_eq!(err.to_string(), "/nonexistent/x: no such file or directory");
    }
}
