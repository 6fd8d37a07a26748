//! Content-defined chunking of bale-native (blake3) files.
//!
//! A large file is cut into chunks whose boundaries depend only on its
//! content (FastCDC with a gear hash, [`Params::DEFAULT`] = 16/64/256 KiB),
//! so that an edit changes only the chunks around it: a 1 MiB change to a
//! 2 GiB file costs about 1 MiB of new chunks, not a new 2 GiB object. The
//! file's id stays the blake3 of its whole content; each chunk is named by
//! the blake3 of its bytes.
//!
//! - [`boundaries`] / [`boundaries_parallel`]: chunk ends of a byte slice,
//!   sequential or over segments stitched into the same result.
//! - [`chunk_file`]: one read of a file gives its [`ChunkedFile`]: id, size,
//!   and every [`Chunk`] with its id, in parallel on the current rayon pool.
//! - [`chunk_file_against`]: a new version of a file chunked against the
//!   previous one's list and [`BlockMap`], re-chunking only changed blocks.
//! - [`ChunkList`]: the `.chunks` object that describes a chunked file
//!   (DESIGN.md §13.2), with strict [`ChunkList::decode`].
//! - [`rebuild`]: streams a file back from a [`ChunkSource`], verifying every
//!   chunk before writing it and the whole file at the end.
//!
//! This crate does no I/O beyond reading the file it chunks: storing chunks
//! and lists belongs to bale-odb and bale-pack.

mod blocks;
mod cdc;
mod errors;
mod file;
mod gear;
mod list;
mod parallel;
mod params;
mod rebuild;
mod segment;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod version;

pub use blocks::{BlockMap, BLOCK};
pub use cdc::boundaries;
pub use file::{chunk_file, Chunk, ChunkedFile, DEFAULT_THRESHOLD};
pub use gear::{GEAR_SEED, GEAR_VERSION};
pub use list::{ChunkList, LIST_SUFFIX, LIST_VERSION};
pub use parallel::boundaries_parallel;
pub use params::Params;
pub use rebuild::{check_chunk, rebuild, ChunkSource};
pub use segment::{Segment, SegmentRef, TopList, TOP_VERSION};
pub use version::{chunk_file_against, Against, Base};
