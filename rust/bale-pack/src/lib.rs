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
//! - push: [`RemoteIndex::missing`] → [`plan_packs`] (tree order kept, trees
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
//! [`PackIndex`] is one parsed index; [`PackId`] names a pack; [`Entry`] is
//! one object's place in a pack.

mod assembly;
mod errors;
mod fetch;
mod format;
mod id;
mod index;
mod ingest;
mod plan;
mod read;
mod remote;
mod select;
mod side;
mod write;

pub use assembly::{Assemblies, Finished};
pub use fetch::{fetch_round, Round};
pub use format::{Encoding, Entry, Kind, ENTRY_LEN, VERSION};
pub use id::{PackFile, PackId, PACKS_DIR};
pub use index::PackIndex;
pub use ingest::{ingest_read, Arrival, Destinations, Ingested};
pub use plan::{plan_packs, PackItem, PlannedPack};
pub use read::{read_plan, read_plan_kinds, Read, ReadPlan};
pub use remote::{Location, RemoteIndex};
pub use select::push_items;
pub use side::{Side, SideSegments};
pub use write::{write_pack, WrittenPack};
