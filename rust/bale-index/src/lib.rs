//! What the workspace holds, and what it held.
//!
//! - [`ignore`]: `.dvcignore` rules (gitignore syntax, nested files) plus the
//!   paths DVC always skips.
//! - [`walk`]: a parallel directory walk that applies them.
//! - [`state`]: the stat cache, so a file whose (inode, size, mtime) is
//!   unchanged since it was hashed is never read again.
//! - [`manifest`]: the directory manifest formats, DVC's `.dir` JSON and
//!   bale's native tree of per-directory tree objects.
//! - [`build`]: hashes a file or directory through the state and optionally
//!   stores it in the object store, producing a manifest.
//! - [`diff`]: compares two manifests file by file.
//! - [`gc`]: what the cache keeps, compacts and deletes, in a safe order.
//! - [`sync`]: what a push or fetch moves, ordered so a remote never claims
//!   a directory it does not fully hold.
//! - [`keys`]: an object's key in a store with the cache's layout, and back.
//! - [`repair`]: corrupt cache objects moved aside before a fetch, so that
//!   it downloads them again.
//! - [`workspace`]: one repository's engine across a command: store, stat
//!   cache, status, and what the stat cache learns before it is saved.

pub mod build;
pub mod diff;
pub mod gc;
pub mod ignore;
pub mod keys;
pub mod manifest;
pub mod repair;
pub mod state;
pub mod sync;
pub mod table;
pub mod walk;
pub mod workspace;

pub use build::{build_target, hash_target, BuildOptions, Built};
pub use diff::{diff_manifests, ManifestDiff};
pub use manifest::{Entry, Lookup, Manifest};
pub use state::{Stat, State};
pub use workspace::{Status, Workspace};
