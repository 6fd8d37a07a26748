//! Collecting the cache: what is kept (everything the kept outputs reach,
//! chunk lists and the chunks kept lists need), what is compacted
//! (DESIGN.md §13.0), and the order of deletion that keeps a killed gc safe.

use std::collections::HashSet;

use bale_error::{IoContext, Result};
use bale_hash::{Algo, Oid};
use bale_odb::Odb;

use crate::Manifest;

/// What [`collect`] removed (or, dry, would remove).
#[derive(Clone, Debug, Default)]
pub struct Collected {
    pub removed: u64,
    pub bytes: u64,
    /// Objects the kept outputs reach.
    pub kept: u64,
    /// Files now kept as chunks only, the bytes that freed, and the loose
    /// chunks written so that kept lists stay rebuildable.
    pub compacted: u64,
    pub compacted_bytes: u64,
    pub chunks_written: u64,
    pub chunk_bytes: u64,
}

/// Every object `roots` reach. A missing manifest hides which objects it
/// keeps, so it stops the collection before anything is deleted.
fn reach(odb: &Odb, roots: &[Oid]) -> Result<HashSet<Oid>> {
    let mut found = HashSet::new();
    for root in roots {
        if root.is_tree() {
            found.extend(Manifest::objects(odb, root)?);
        } else {
            found.insert(*root);
        }
    }
    Ok(found)
}

/// Deletes every cached object `keep` does not reach. With `compact`, every
/// kept chunked file that `whole` (the workspace's outputs) does not reach
/// is kept as its list and chunks only. Lists go before objects and trees
/// before files: a gc killed half-way never leaves a list promising gone
/// chunks, nor a directory that looks complete and is not.
pub fn collect(odb: &Odb, keep: &[Oid], whole: &[Oid], compact: bool, dry: bool) -> Result<Collected> {
    let mut kept = reach(odb, keep)?;
    let to_compact: HashSet<Oid> = if compact {
        let used = reach(odb, whole)?;
        kept.iter().filter(|o| o.algo() == Algo::Blake3 && !used.contains(o)).copied().collect()
    } else {
        HashSet::new()
    };
    let settled = bale_odb::settle(odb, &kept, &to_compact, dry)?;
    let mut done = Collected {
        kept: kept.len() as u64,
        compacted: settled.compacted,
        compacted_bytes: settled.compacted_bytes,
        chunks_written: settled.chunks_written,
        chunk_bytes: settled.chunk_bytes,
        ..Collected::default()
    };
    kept.extend(settled.keep_chunks);
    let mut gone = |bytes: u64| {
        done.removed += 1;
        done.bytes += bytes;
    };
    for oid in odb.lists()?.into_iter().filter(|o| !kept.contains(o)) {
        let path = odb.list_path(&oid);
        gone(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0));
        if !dry {
            odb.remove_list(&oid)?;
        }
    }
    // Block maps are derived (DESIGN.md §13.7): they go with their files.
    if !dry {
        for oid in odb.block_maps()?.into_iter().filter(|o| !kept.contains(o)) {
            odb.remove_blocks(&oid)?;
        }
    }
    let mut garbage = Vec::new();
    for algo in [Algo::Md5, Algo::Md5Dos2Unix, Algo::Blake3] {
        garbage.extend(odb.list(algo)?.into_iter().filter(|(oid, _)| !kept.contains(oid)));
    }
    garbage.sort_by_key(|(oid, _)| !oid.is_tree());
    for (oid, size) in garbage {
        gone(size);
        if !dry {
            odb.remove(&oid)?;
        }
    }
    // Leftovers of killed writers are garbage too, and so are the corrupt
    // objects a checkout or fetch moved aside.
    for (path, size) in odb.stale_temps()?.into_iter().chain(odb.quarantined()) {
        gone(size);
        if !dry {
            std::fs::remove_file(&path).at(&path)?;
        }
    }
    Ok(done)
}
