//! How much of each remote pack the roots still use, and the rewrite of a
//! pack in use without the trees and chunk lists nothing uses (`gc` of a
//! packed remote).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use bale_error::{Error, Result};
use bale_hash::{Algo, Oid};
use bale_index::sync::native_objects;
use bale_odb::{Odb, Progress};

use crate::push::{write_counted, Written};
use crate::{Entry, Kind, PackId, PackIndex, PackItem, RemoteIndex};

/// Which remote objects the native `roots` still use.
struct Liveness {
    live: HashSet<Oid>,
    /// A live file whose list this clone never fetched names chunks nobody
    /// here knows: then every chunk counts as used (never guess).
    unknown_chunks: bool,
}

impl Liveness {
    /// Every tree the roots reach must be in the cache (else which objects
    /// are live is unknown, and the answer is an error).
    fn of(odb: &Odb, roots: &[Oid], remote: &RemoteIndex) -> Result<Liveness> {
        let all = native_objects(odb, roots)?;
        if let Some(tree) = all.iter().find(|o| o.is_tree() && !odb.exists(o)) {
            return Err(Error::ObjectMissing { path: odb.object_path(tree), oid: tree.to_string() });
        }
        let mut live: HashSet<Oid> = all.into_iter().collect();
        // A chunked file keeps its list's chunks alive. Its list must be here
        // (`bale fetch` brings it): which chunks it names is not guessed.
        let files: Vec<Oid> = live.iter().filter(|o| !o.is_tree()).copied().collect();
        let mut unknown_chunks = false;
        for oid in files {
            match odb.read_list(&oid)? {
                Some(list) => {
                    // Another chunker or other parameters may have cut the
                    // remote's list differently from ours: then ours says nothing.
                    unknown_chunks |=
                        list.chunker != bale_chunk::GEAR_VERSION || list.params != bale_chunk::Params::DEFAULT;
                    live.extend(list.chunks.iter().map(|c| c.id));
                    live.extend(list.segmented().1.into_iter().map(|s| s.id));
                }
                None => unknown_chunks |= remote.list_location(&oid).is_some(),
            }
        }
        Ok(Liveness { live, unknown_chunks })
    }

    fn uses(&self, e: &Entry) -> bool {
        self.live.contains(&e.oid()) || (self.unknown_chunks && e.kind == Kind::Chunk)
    }
}

/// The local index copies in `index_dir`, each parsed.
fn index_copies(index_dir: &Path) -> Result<Vec<PackIndex>> {
    let listing = match std::fs::read_dir(index_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.map_err(|e| Error::io(index_dir, e))?,
    };
    let mut out = Vec::new();
    for entry in listing {
        let path = entry.map_err(|e| Error::io(index_dir, e))?.path();
        if path.extension().is_some_and(|x| x == "idx") {
            out.push(PackIndex::read(&path)?);
        }
    }
    Ok(out)
}

/// How much of one pack is still used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackUse {
    pub pack: PackId,
    /// The pack file's size.
    pub bytes: u64,
    /// Objects still used, and all objects of the pack.
    pub live: u64,
    pub objects: u64,
    /// The pack is in use yet holds a tree or chunk list nothing uses: see [`usage`].
    pub repack: bool,
    /// Bytes of the objects not used.
    pub unused_bytes: u64,
}

/// How much of each pack the native `roots` still use, per pack the local
/// index copies describe. `repack` marks a pack still in use that holds a
/// tree or chunk list nothing uses: deleting what such a tree or list names
/// would leave it claiming objects the remote no longer has (a tree implies
/// its members, a list its chunks: DESIGN.md §11.1), so it is rewritten
/// without them ([`repack`]) before anything is deleted.
pub fn usage(odb: &Odb, roots: &[Oid], index_dir: &Path) -> Result<Vec<PackUse>> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    let liveness = Liveness::of(odb, roots, &remote)?;
    Ok(index_copies(index_dir)?
        .into_iter()
        .map(|index| {
            let (used, unused): (Vec<&Entry>, Vec<&Entry>) = index.entries().iter().partition(|e| liveness.uses(e));
            let claims = |e: &&&Entry| matches!(e.kind, Kind::Tree | Kind::ChunkList);
            PackUse {
                pack: index.pack(),
                bytes: index.pack_len(),
                live: used.len() as u64,
                objects: index.len() as u64,
                repack: !used.is_empty() && unused.iter().any(|e| claims(&e)),
                unused_bytes: unused.iter().map(|e| e.length).sum(),
            }
        })
        .collect())
}

/// Rewrites each of `packs` (`(downloaded pack file, pack key)`, marked
/// `repack` by [`usage`]) into `out_dir` with only the objects the native
/// `roots` use, each verified on the way (a pack whose bytes are not its
/// name is refused whole). Returns the new packs in the order given: upload
/// each, then its index, before the old index and pack are deleted.
pub fn repack(
    odb: &Odb,
    roots: &[Oid],
    index_dir: &Path,
    packs: &[(PathBuf, String)],
    out_dir: &Path,
) -> Result<Vec<Written>> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    let liveness = Liveness::of(odb, roots, &remote)?;
    packs
        .iter()
        .map(|(path, key)| {
            let name = key.rsplit('/').next().unwrap_or(key).strip_suffix(".pack");
            let id = name
                .and_then(PackId::parse)
                .ok_or_else(|| Error::InvalidOid { text: key.clone(), what: "pack key" })?;
            let index = PackIndex::read(&index_dir.join(id.index_file_name()))?;
            let got = bale_hash::hash_file(path, Algo::Blake3)?;
            if got.oid.digest() != id.as_bytes() || got.size != index.pack_len() {
                return Err(Error::CorruptObject {
                    path: path.clone(),
                    expected: id.hex(),
                    actual: got.oid.hex_digest(),
                });
            }
            let mut kept: Vec<Entry> = index.entries().iter().filter(|e| liveness.uses(e)).copied().collect();
            kept.sort_unstable_by_key(|e| e.offset);
            let items: Vec<PackItem> = kept
                .iter()
                .map(|e| PackItem {
                    digest: e.digest,
                    kind: e.kind,
                    source: path.clone(),
                    offset: e.offset,
                    len: e.length,
                })
                .collect();
            write_counted(&items, out_dir, &Progress::default())
        })
        .collect()
}
