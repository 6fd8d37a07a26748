//! The two ways pack data goes wrong, mapped onto bale-error's variants.
//!
//! Kept in one place so that dedicated variants (`BadPack`, `CorruptPackObject`)
//! replace the stand-ins with a one-line change each.

use std::path::PathBuf;

use bale_error::Error;
use bale_hash::Oid;

use crate::PackId;

/// A pack or index whose bytes do not follow DESIGN.md §11.
pub(crate) fn bad_format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
    Error::BadManifest { path: path.into(), reason: reason.into() }
}

/// An object whose bytes in a pack do not hash to its id; the message names
/// the pack (by its remote path) and the object.
pub(crate) fn corrupt_in_pack(pack: &PackId, oid: &Oid, actual: String) -> Error {
    Error::CorruptObject { path: PathBuf::from(pack.pack_key()), expected: oid.to_string(), actual }
}
