//! What a packed remote holds of the objects some roots reach, as its
//! indexes say: whole, as a chunk list with all its chunks, or not at all;
//! and the bytes those objects take in the cache and on the remote.

use std::collections::HashSet;
use std::path::Path;

use bale_error::{Error, Result};
use bale_hash::{Algo, Oid};
use bale_index::sync::native_objects;
use bale_index::Manifest;
use bale_odb::Odb;
use rayon::prelude::*;

use crate::RemoteIndex;

/// Whether the remote holds all of `oid`: a tree or a file's bytes as
/// such, or a file's chunk list together with every chunk and segment it
/// names. `None` when the remote holds only a list and the cache has no
/// list of that file to check it with.
pub(crate) fn whole_on_remote(odb: &Odb, remote: &RemoteIndex, oid: &Oid) -> Result<Option<bool>> {
    if oid.is_tree() || remote.has_bytes(oid) {
        return Ok(Some(remote.contains(oid)));
    }
    if remote.list_location(oid).is_none() {
        return Ok(Some(false));
    }
    Ok(odb.read_list(oid)?.map(|list| remote.holds_chunks_of(&list)))
}

/// Where one object is, as [`presence`] tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectPresence {
    pub oid: Oid,
    pub cached: bool,
    pub on_remote: bool,
    /// False where the cache has no list to tell which chunks a file the
    /// remote holds as a list needs (`on_remote` is then what the remote's
    /// indexes claim).
    pub checked: bool,
}

/// Every object `roots` reach through the trees the cache holds, with
/// where it is. A file the remote holds as a chunk list is on it only with
/// every chunk the list names.
pub fn presence(odb: &Odb, roots: &[Oid], index_dir: &Path) -> Result<Vec<ObjectPresence>> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    native_objects(odb, roots)?
        .into_par_iter()
        .map(|oid| {
            let whole = whole_on_remote(odb, &remote, &oid)?;
            Ok(ObjectPresence {
                oid,
                cached: odb.has(&oid),
                on_remote: whole.unwrap_or(true),
                checked: whole.is_some(),
            })
        })
        .collect()
}

/// `(bytes in the cache, bytes on the remote)` that the objects `roots`
/// reach take, each object once (DESIGN.md §13: chunked files count their
/// lists and the chunks only they hold). The remote figure, for native
/// objects only, is `None` without `index_dir`.
pub fn stored(odb: &Odb, roots: &[Oid], index_dir: Option<&Path>) -> Result<(u64, Option<u64>)> {
    let mut oids = HashSet::new();
    let mut native = Vec::new();
    for root in roots {
        if root.algo() == Algo::Blake3 {
            native.push(*root);
        } else if root.is_tree() {
            oids.insert(*root);
            match Manifest::load(odb, root) {
                Ok(m) => oids.extend(m.entries.into_iter().map(|e| e.oid)),
                Err(Error::ObjectMissing { .. }) => {}
                Err(e) => return Err(e),
            }
        } else {
            oids.insert(*root);
        }
    }
    let native: HashSet<Oid> = native_objects(odb, &native)?.into_iter().collect();
    let local = bale_odb::stored_bytes(odb, &oids)? + bale_odb::stored_bytes(odb, &native)?;
    let remote = match index_dir {
        None => None,
        Some(dir) => {
            let remote = RemoteIndex::load_dir(dir)?;
            let list_of =
                |o: &Oid| odb.read_list(o).ok().flatten().map(|l| l.chunks.iter().map(|c| (c.id, c.len)).collect());
            Some(remote.stored_bytes(&native, list_of))
        }
    };
    Ok((local, remote))
}
