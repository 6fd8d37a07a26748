//! The packed remote layout as Python sees it: what to upload for a push,
//! which byte ranges to download for a fetch, and the verified ingest of each
//! downloaded range. Python moves the bytes; every decision is made here.

use std::path::{Path, PathBuf};

use bale_error::{Error, Result};
use bale_hash::Oid;
use bale_index::sync::{native_closure, native_objects, with_sizes};
use bale_odb::{Odb, Progress};
use bale_pack::{plan_packs, read_plan, write_packs, PackIndex, ReadPlan, RemoteIndex};
use pyo3::prelude::*;

/// What a push must upload: packs in upload order, each with its index.
/// The last pack holds the trees and must go last (its index after every
/// other index), so that a tree on the remote implies all of its members.
#[pyclass(frozen, get_all, module = "bale._core")]
pub struct PackPush {
    /// `(pack path, index path, pack key, index key, holds trees, bytes, objects)`.
    pub packs: Vec<(PathBuf, PathBuf, String, String, bool, u64, u64)>,
    /// Objects the cache lacks (nothing that needs them is uploaded).
    pub missing: Vec<String>,
    /// Objects the remote's indexes already list.
    pub present: u64,
}

/// The ranged reads a fetch makes. Ingest each downloaded read with
/// `Workspace.ingest_read(plan, i, file)`; then plan again, because the
/// files of a tree fetched now are known only once it is in the cache.
#[pyclass(frozen, module = "bale._core")]
pub struct FetchPlan {
    pub(crate) plan: ReadPlan,
}

#[pymethods]
impl FetchPlan {
    /// `(remote key, start, end)` of each read; `end` is exclusive.
    #[getter]
    fn reads(&self) -> Vec<(String, u64, u64)> {
        self.plan.reads.iter().map(|r| (r.key(), r.start, r.end)).collect()
    }

    /// Objects no index lists.
    #[getter]
    fn missing(&self) -> Vec<String> {
        self.plan.missing.iter().map(|o| o.to_string()).collect()
    }

    /// Bytes of the objects wanted (the reads may cover a few more).
    #[getter]
    fn wanted_bytes(&self) -> u64 {
        self.plan.wanted_bytes
    }
}

pub fn push(
    odb: &Odb,
    roots: &[Oid],
    index_dir: &Path,
    staging: &Path,
    target: u64,
    progress: &Progress,
) -> Result<PackPush> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    let all = native_objects(odb, roots)?;
    let present = all.iter().filter(|o| remote.contains(o)).count() as u64;
    // Only what the remote lacks is looked at in the cache: a no-op push
    // stats nothing.
    let lacking = with_sizes(odb, all.into_iter().filter(|o| !remote.contains(o)).collect());
    let missing: Vec<Oid> = lacking.iter().filter(|(_, s)| s.is_none()).map(|(o, _)| *o).collect();
    let send: Vec<(Oid, u64)> = lacking
        .iter()
        // With anything missing, no tree goes: it would claim what is not there.
        .filter(|(o, _)| missing.is_empty() || !o.is_tree())
        .filter_map(|(o, s)| s.map(|s| (*o, s)))
        .collect();
    let planned = plan_packs(&send, target);
    std::fs::create_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    let written = write_packs(odb, &planned, staging, progress)?;
    let packs = written
        .into_iter()
        .zip(&planned)
        .map(|(w, p)| {
            (w.pack_path, w.index_path, w.id.pack_key(), w.id.index_key(), p.trees, w.bytes, w.objects as u64)
        })
        .collect();
    Ok(PackPush { packs, missing: missing.iter().map(|o| o.to_string()).collect(), present })
}

/// With `shallow`, only the roots themselves are wanted, not what they reach
/// (to walk down to a sub-directory one tree at a time).
pub fn fetch_plan(
    odb: &Odb,
    roots: &[Oid],
    index_dir: &Path,
    max_gap: u64,
    max_read: u64,
    shallow: bool,
) -> Result<FetchPlan> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    let wanted: Vec<Oid> = if shallow {
        roots.iter().filter(|o| !odb.exists(o)).copied().collect()
    } else {
        native_closure(odb, roots)?.into_iter().filter(|(_, s)| s.is_none()).map(|(o, _)| o).collect()
    };
    Ok(FetchPlan { plan: read_plan(&remote, &wanted, max_gap, max_read) })
}

/// `(oid, in the cache, on the remote)` of every object `roots` reach
/// through the trees the cache holds.
pub fn presence(odb: &Odb, roots: &[Oid], index_dir: &Path) -> Result<Vec<(String, bool, bool)>> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    Ok(native_closure(odb, roots)?
        .into_iter()
        .map(|(o, s)| (o.to_string(), s.is_some(), remote.contains(&o)))
        .collect())
}

/// `(pack key, index key, pack bytes, live objects, all objects)`.
pub type PackUse = (String, String, u64, u64, u64);

/// How much of each pack the native `roots` still use: `(pack key, index
/// key, pack bytes, live objects, all objects)` per pack the local index
/// copies describe. Every tree the roots reach must be in the cache (else
/// which objects are live is unknown, and the answer is an error).
pub fn usage(odb: &Odb, roots: &[Oid], index_dir: &Path) -> Result<Vec<PackUse>> {
    let all = native_closure(odb, roots)?;
    if let Some((tree, _)) = all.iter().find(|(o, s)| o.is_tree() && s.is_none()) {
        return Err(Error::ObjectMissing { path: odb.object_path(tree), oid: tree.to_string() });
    }
    let live: std::collections::HashSet<Oid> = all.into_iter().map(|(o, _)| o).collect();
    let mut out = Vec::new();
    let listing = match std::fs::read_dir(index_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        other => other.map_err(|e| Error::io(index_dir, e))?,
    };
    for entry in listing {
        let path = entry.map_err(|e| Error::io(index_dir, e))?.path();
        if path.extension().is_none_or(|x| x != "idx") {
            continue;
        }
        let index = PackIndex::read(&path)?;
        let used = index.entries().iter().filter(|e| live.contains(&e.oid())).count() as u64;
        let id = index.pack();
        out.push((id.pack_key(), id.index_key(), index.pack_len(), used, index.len() as u64));
    }
    Ok(out)
}

/// Checks a downloaded index before it joins the local copies: well formed,
/// and the index of the pack its name says.
pub fn check_index(path: &Path, pack_hex: &str) -> Result<()> {
    let index = PackIndex::read(path)?;
    if index.pack().hex() != pack_hex {
        return Err(Error::BadManifest {
            path: path.to_path_buf(),
            reason: format!("index of pack {} stored under the name of pack {pack_hex}", index.pack().hex()),
        });
    }
    Ok(())
}
