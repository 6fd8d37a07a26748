//! How chunk data goes wrong, mapped onto bale-error's variants.
//!
//! Kept in one place (as in bale-pack) so that dedicated variants
//! (`BadChunkList`, `CorruptChunk`) replace the stand-ins with a one-line
//! change each.

use std::io;
use std::path::{Path, PathBuf};

use bale_error::Error;
use bale_hash::Oid;

/// A chunk list whose bytes do not follow DESIGN.md §13.2.
pub(crate) fn bad_list(path: &Path, reason: String) -> Error {
    Error::BadManifest { path: path.to_path_buf(), reason }
}

/// Chunk `index` of the list at `list` (its path relative to the store)
/// does not hash to its id. The path names the list and the chunk's place
/// in it; `expected` is the chunk id.
pub(crate) fn corrupt_chunk(list: PathBuf, index: usize, chunk: &Oid, actual: &blake3::Hash) -> Error {
    let mut path = list.into_os_string();
    path.push(format!(" chunk {index}"));
    Error::CorruptObject { path: PathBuf::from(path), expected: chunk.to_string(), actual: actual.to_hex().to_string() }
}

/// Every chunk verified, yet the whole does not hash to the file id: the
/// list (at `list`) itself is wrong.
pub(crate) fn corrupt_whole(list: PathBuf, file: &Oid, actual: &blake3::Hash) -> Error {
    Error::CorruptObject { path: list, expected: file.to_string(), actual: actual.to_hex().to_string() }
}

/// A chunk the source does not have.
pub(crate) fn missing_chunk(chunk: &Oid) -> Error {
    Error::ObjectMissing { path: object_path(chunk), oid: chunk.to_string() }
}

/// A failed write of the rebuilt file, named by the object being rebuilt.
pub(crate) fn write_failed(file: &Oid, e: io::Error) -> Error {
    Error::io(object_path(file), e)
}

/// A blake3 object's place below the cache directory (as in bale-odb).
fn object_path(oid: &Oid) -> PathBuf {
    let hex = oid.hex_digest();
    Path::new("bale").join("blake3").join(&hex[..2]).join(&hex[2..])
}
