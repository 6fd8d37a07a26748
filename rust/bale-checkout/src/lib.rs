//! Materialising data from the object store into the workspace.
//!
//! [`link`] creates one workspace file from one object with the first link
//! type in the configured order that this file system supports, probing once
//! per checkout; [`probe_links`] tells which link types work between two
//! folders. [`checkout`] plans a whole checkout first (what to write,
//! what to delete, what would lose uncommitted changes), refuses conflicts
//! before touching anything, then applies the plan in parallel, never
//! trusting an object it has not verified; [`checkout_output`] does it for
//! an output or one path inside it; [`copy_out`] writes single objects at
//! paths the caller names.

pub mod checkout;
pub mod copy_out;
pub mod link;

pub use checkout::{checkout, checkout_output, CheckoutOptions, CheckoutStats, Conflict};
pub use copy_out::{copy_out, write_out, CopyOut};
pub use link::{probe_links, unprotect, unprotect_tree, LinkType, Linker};
