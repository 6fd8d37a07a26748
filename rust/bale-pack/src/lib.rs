//! The packed remote layout for bale-native (blake3) objects.
//!
//! Pushing 100,000 small files as 100,000 remote objects costs 100,000
//! requests. Instead bale bundles objects into immutable pack files named by
//! the blake3 of their bytes, each with an index (DESIGN.md §11 holds both byte
//! layouts), so that a push is a handful of uploads, an existence check reads
//! indexes, and a pull fetches only the byte ranges it needs. Nothing on the
//! remote is ever rewritten, so concurrent pushes cannot corrupt each other.
//!
//! The flow, with the Python layer moving the bytes in between:
//!
//! - push: [`plan_push`] ([`RemoteIndex::missing`] → [`plan_packs`]) (tree order kept, trees
//!   last) → for each pack, [`write_pack`] into a staging folder, upload the
//!   `.pack`, then its `.idx`, several packs at once; the tree pack goes
//!   last.
//! - pull: [`RemoteIndex::load_dir`] over the cached `.idx` files →
//!   [`fetch_round`] (ranged reads per pack, neighbours merged) → each
//!   [`Read`]'s bytes go, as they are downloaded, into an [`Arrival`], which
//!   verifies and stores every object, chunks straight into the files
//!   [`Assemblies`] builds → their
//!   [`finish`](Assemblies::finish) publishes those files; repeat.
//!
//! - gc: [`usage`] says how much of each pack is still used; [`repack`]
//!   rewrites a pack in use without the trees and lists nothing uses.
//! - [`presence`] and [`stored`] say what the remote holds of some roots;
//!   [`check_copies`] keeps the local index copies honest.
//!
//! - a folder remote: [`LocalPacks`] reads the files a reader wants whole
//!   straight out of its pack files, each hashed.
//! - streaming: [`RemoteFile::locate`] → [`RemoteChunks`] (segments loaded as needed)
//!   plans the ranged reads of any byte range of one file and verifies
//!   each chunk they bring.
//!
//! [`PackIndex`] is one parsed index; [`PackId`] names a pack; [`Entry`] is
//! one object's place in a pack.

mod assembly;
mod copies;
mod errors;
mod fetch;
mod format;
mod id;
mod index;
mod ingest;
mod key;
mod local;
mod plan;
mod presence;
mod push;
mod ranged;
mod read;
mod remote;
mod select;
mod side;
mod usage;
mod write;

pub use assembly::{Assemblies, Finished};
pub use copies::{check_copies, check_index};
pub use fetch::{fetch_round, finish_fetch, plan_fetch, ReadLimits, Round};
pub use format::{Encoding, Entry, Kind, ENTRY_LEN, VERSION};
pub use id::{PackFile, PackId, PACKS_DIR};
pub use index::PackIndex;
pub use ingest::{ingest_read, Arrival, Destinations, Ingested};
pub use key::Named;
pub use local::LocalPacks;
pub use plan::{plan_packs, PackItem, PlannedPack};
pub use presence::{presence, stored, ObjectPresence};
pub use push::{plan_push, write_counted, PushPlan, Written};
pub use ranged::{RemoteChunks, RemoteFile};
pub use read::{read_plan, read_plan_kinds, Read, ReadPlan};
pub use remote::{Location, RemoteIndex};
pub use select::push_items;
pub use side::{Side, SideSegments};
pub use usage::{repack, usage, PackUse};
pub use write::{write_pack, WrittenPack};
