//! The object store (the cache).
//!
//! [`Odb`] maps an [`Oid`](bale_hash::Oid) to a path with DVC's fan-out
//! layout (`files/md5/ab/cdef…`, legacy `ab/cdef…`) and bale's native area
//! (`bale/blake3/ab/cdef…`), writes objects atomically and read-only, and never
//! rewrites one that exists. By concept: `layout` (the handle, areas and
//! object paths), `put` (workspace files and bytes in), `ingest` (downloads
//! in, only if they hash to their id), `verify` (objects checked, corrupt
//! ones moved aside), `scan` (areas read whole: [`Presence`], listings,
//! temps, fingerprints). [`fs`] holds the small file-system primitives the
//! store and checkout share: temp-and-rename writes and copy-on-write clones.
//! [`transfer`] copies objects between two stores (the cache and a folder
//! remote share one layout), verifying every byte it copies. `chunks`
//! holds chunked files: lists beside objects, rebuilds, compaction.
//! [`Landing`] is a download hashed while its parts land. [`failpoint`]
//! lets the kill tests stop a process at a chosen moment. [`VerifiedReader`]
//! reads an object for an upload, hashed on the way. [`CachedChunks`] reads
//! byte ranges of a chunked file, each chunk verified.

mod chunks;
pub mod failpoint;
pub mod fs;
mod ingest;
mod landing;
mod layout;
mod progress;
mod put;
mod ranged;
mod scan;
mod transfer;
mod verified;
mod verify;

pub use chunks::{settle, stored_bytes, HeldChunks, LocalChunks, Settled};
pub use landing::Landing;
pub use layout::Odb;
pub use progress::Progress;
pub use put::{chunked, PutOutcome};
pub use ranged::CachedChunks;
pub use scan::Presence;
pub use transfer::{transfer, Transferred, Verified};
pub use verified::VerifiedReader;
