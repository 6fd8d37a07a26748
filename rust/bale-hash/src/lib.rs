//! Object ids and hashing.
//!
//! An [`Oid`] is a typed hash: which [`Algo`] made it, the digest bytes, and
//! whether it names a tree (a directory manifest). Its text form is what DVC
//! and bale write into metafiles: lower-case hex, plus `.dir` for md5 trees and
//! `.tree` for blake3 trees. [`hash_file`] hashes one file, reading it once and
//! refusing a file that changed underneath it; [`Hasher`] is the streaming form
//! used where a file is hashed while it is copied.

mod file;
mod md5;
mod oid;

pub use file::{hash_bytes, hash_file, hash_reader, read_block, FileHash, Hasher, READ_SIZE};
pub use oid::{Algo, Oid};
