//! The packed remote layout as Python sees it: what to upload for a push,
//! which byte ranges to download for a fetch, and the verified ingest of each
//! downloaded range. Python moves the bytes; every decision is made here.

use std::path::{Path, PathBuf};

use bale_error::{Error, Result};
use bale_hash::Oid;
use bale_index::repair::Repair;
use bale_index::sync::native_objects;
use bale_odb::{Odb, Progress};
use bale_pack::{
    fetch_round, plan_packs, push_items, write_pack, Arrival, Assemblies, Destinations, Ingested, Kind, PackIndex,
    PlannedPack, ReadPlan, RemoteIndex, Side,
};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

use crate::errors::IntoPy;
use rayon::prelude::*;

/// What a push must upload: packs in upload order, each written by
/// `Workspace.pack_write(plan, i)` just before its upload (so writing one
/// overlaps sending others, and each is removed once sent). The last pack
/// holds the trees and must go last (its index after every other index), so
/// that a tree on the remote implies all of its members.
#[pyclass(frozen, module = "bale._core")]
pub struct PackPush {
    pub(crate) planned: Vec<PlannedPack>,
    pub(crate) staging: PathBuf,
    /// Objects the cache lacks (nothing that needs them is uploaded).
    #[pyo3(get)]
    missing: Vec<String>,
    /// Objects the remote's indexes already list.
    #[pyo3(get)]
    present: u64,
}

#[pymethods]
impl PackPush {
    /// `(holds trees, objects)` of each pack, in upload order.
    #[getter]
    fn packs(&self) -> Vec<(bool, u64)> {
        self.planned.iter().map(|p| (p.trees, p.items.len() as u64)).collect()
    }
}

/// The ranged reads a fetch makes. Download each read into its
/// `Workspace.read_arrival(plan, i)` and end it with
/// `Workspace.ingest_arrival(arrival)`, then publish the chunked files the
/// reads completed with `Workspace.pack_fetch_finish(plan)` (or give them
/// up with `discard()`); then plan again, because the files of a tree
/// fetched now are known only once it is in the cache.
#[pyclass(frozen, module = "bale._core")]
pub struct FetchPlan {
    pub(crate) plan: ReadPlan,
    pub(crate) side: Side,
    pub(crate) assemblies: Assemblies,
    /// Chunked files this round rebuilt (verified) into the cache.
    pub(crate) rebuilt_files: Vec<Oid>,
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

    /// How many chunked files this round rebuilt into the cache.
    #[getter]
    fn rebuilt(&self) -> u64 {
        self.rebuilt_files.len() as u64
    }

    /// Bytes of the objects wanted (the reads may cover a few more).
    #[getter]
    fn wanted_bytes(&self) -> u64 {
        self.plan.wanted_bytes
    }

    /// Gives up the chunked files this round was assembling (a failed
    /// fetch): their temp files go.
    fn discard(&self, py: Python<'_>) {
        py.detach(|| self.assemblies.discard())
    }
}

/// The bytes of one read of a fetch, as the remote delivers them (a sink
/// in the sense of `bale.remotes.store.Sink`): each object is verified and
/// stored as soon as its last byte is in, so nothing is staged on disk.
#[pyclass(frozen, module = "bale._core")]
pub struct ReadArrival {
    plan: Py<FetchPlan>,
    odb: Odb,
    progress: Progress,
    /// None once ingested or discarded.
    arrival: std::sync::Mutex<Option<Arrival>>,
}

impl ReadArrival {
    pub fn new(py: Python<'_>, odb: &Odb, plan: &Bound<'_, FetchPlan>, i: usize) -> PyResult<ReadArrival> {
        let read = plan.get().plan.reads.get(i).ok_or_else(|| pyo3::exceptions::PyIndexError::new_err(i))?;
        let arrival = Arrival::new(read).py_err(py)?;
        Ok(ReadArrival {
            plan: plan.clone().unbind(),
            odb: odb.clone(),
            progress: Progress::default(),
            arrival: std::sync::Mutex::new(Some(arrival)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arrival>> {
        self.arrival.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn destinations(&self) -> Destinations<'_> {
        let plan = self.plan.get();
        Destinations { odb: &self.odb, side: &plan.side, assemblies: &plan.assemblies, progress: &self.progress }
    }

    /// Ends the read (see [`Arrival::finish`]); None if it was already
    /// ended, discarded, or given up after a failed write.
    pub fn finish(&self) -> Option<Result<Ingested>> {
        self.lock().take().map(|arrival| arrival.finish(self.destinations()))
    }

    /// Writes `pieces` one after another from `offset`. A failed write ends
    /// the read: the arrival's place in the bytes is lost with it, and the
    /// other parts of the download (other threads) must not go on.
    fn write_pieces(&self, offset: u64, pieces: &[&[u8]]) -> Result<()> {
        let mut guard = self.lock();
        let Some(arrival) = guard.as_mut() else { return Ok(()) };
        let mut at = offset;
        for piece in pieces {
            if let Err(e) = arrival.write(self.destinations(), at, piece) {
                *guard = None;
                return Err(e);
            }
            at += piece.len() as u64;
        }
        Ok(())
    }
}

#[pymethods]
impl ReadArrival {
    /// Takes bytes `offset..` of the read; nothing once discarded (a
    /// cancelled part's thread may still be writing when its download
    /// gives up) or once a write failed.
    fn write(&self, py: Python<'_>, data: &[u8], offset: u64) -> PyResult<()> {
        py.detach(|| self.write_pieces(offset, &[data])).py_err(py)
    }

    /// Takes `pieces`, one after another from `offset`.
    fn writev(&self, py: Python<'_>, pieces: Vec<PyBackedBytes>, offset: u64) -> PyResult<()> {
        py.detach(|| {
            let pieces: Vec<&[u8]> = pieces.iter().map(|p| &p[..]).collect();
            self.write_pieces(offset, &pieces)
        })
        .py_err(py)
    }

    /// The download is complete (`Workspace.ingest_arrival` ends it).
    fn close(&self) {}

    /// Gives the read up: what was stored stays (it verified), the rest goes.
    fn discard(&self, py: Python<'_>) {
        py.detach(|| drop(self.lock().take()))
    }
}

/// Whether the remote holds all of `oid`: a tree or a file's bytes as
/// such, or a file's chunk list together with every chunk and segment it
/// names. `None` when the remote holds only a list and the cache has no
/// list of that file to check it with.
fn whole_on_remote(odb: &Odb, remote: &RemoteIndex, oid: &Oid) -> Result<Option<bool>> {
    if oid.is_tree() || remote.has_bytes(oid) {
        return Ok(Some(remote.contains(oid)));
    }
    if remote.list_location(oid).is_none() {
        return Ok(Some(false));
    }
    Ok(odb.read_list(oid)?.map(|list| remote.holds_chunks_of(&list)))
}

pub fn push(odb: &Odb, roots: &[Oid], index_dir: &Path, staging: &Path, target: u64) -> Result<PackPush> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    // Only what the remote lacks is looked at in the cache: a no-op push
    // stats nothing. A file the remote has only as a list is checked chunk
    // by chunk, and its missing chunks go again (the list implies them); one
    // that cannot be checked goes whole if the cache has it.
    let mut on_remote = 0u64;
    let mut lacking = Vec::new();
    for oid in native_objects(odb, roots)? {
        let there = match whole_on_remote(odb, &remote, &oid)? {
            Some(there) => there,
            None => !odb.exists(&oid),
        };
        if there {
            on_remote += 1;
        } else {
            lacking.push(oid);
        }
    }
    let present = on_remote;
    std::fs::create_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    let (items, missing) = push_items(odb, &lacking, &remote, staging)?;
    // With anything missing, no tree goes: it would claim what is not there.
    let items = items.into_iter().filter(|i| missing.is_empty() || i.kind != Kind::Tree).collect();
    Ok(PackPush {
        planned: plan_packs(items, target),
        staging: staging.to_path_buf(),
        missing: missing.iter().map(|o| o.to_string()).collect(),
        present,
    })
}

/// Writes pack `i` of `plan` into its staging folder, every object verified
/// as it is read: see [`WrittenRow`].
pub fn write_planned(plan: &PackPush, i: usize, progress: &Progress) -> Result<WrittenRow> {
    let items = &plan.planned[i].items;
    let w = write_pack(items, &plan.staging, progress)?;
    // A chunked file is pushed as its list and chunks: the list counts as the file.
    let files = items.iter().filter(|item| item.kind != Kind::Chunk).count() as u64;
    Ok((w.pack_path, w.index_path, w.id.pack_key(), w.id.index_key(), w.bytes, w.objects as u64, files))
}

/// `(pack path, index path, pack key, index key, bytes, objects, files)`.
pub type WrittenRow = (PathBuf, PathBuf, String, String, u64, u64, u64);

/// The side store of a fetch: lists (and their segments) on their way to a
/// file's assembly, under the fetch's staging folder (removed with it).
pub fn side_store(staging: &Path) -> Side {
    Side::new(staging.join("chunks"))
}

/// One fetch round (see `bale_pack::fetch_round`). With `shallow`, only the
/// roots themselves are wanted, not what they reach (to walk down to a
/// sub-directory one tree at a time).
#[allow(clippy::too_many_arguments)]
pub fn fetch_plan(
    odb: &Odb,
    repair: &Repair,
    roots: &[Oid],
    index_dir: &Path,
    staging: &Path,
    max_gap: u64,
    max_read: u64,
    shallow: bool,
) -> Result<FetchPlan> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    // What the cache holds counts only if it is good: a corrupt object is
    // moved aside and wanted again (bale_index::repair).
    let listed = if shallow { roots.to_vec() } else { repair.walk(|| native_objects(odb, roots))? };
    let wanted: Vec<Oid> = listed
        .into_par_iter()
        .map(|o| Ok(repair.cached(&o)?.is_none().then_some(o)))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let side = side_store(staging);
    let round = fetch_round(odb, &side, &remote, &wanted, max_gap, max_read)?;
    Ok(FetchPlan { plan: round.plan, side, assemblies: round.assemblies, rebuilt_files: round.rebuilt })
}

/// `(oid, in the cache, on the remote, checked)` of every object `roots`
/// reach through the trees the cache holds. A file the remote holds as a
/// chunk list is on it only with every chunk the list names; `checked` is
/// false where the cache has no list to tell which those are (the answer is
/// then what the remote's indexes claim).
pub fn presence(odb: &Odb, roots: &[Oid], index_dir: &Path) -> Result<Vec<(String, bool, bool, bool)>> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    native_objects(odb, roots)?
        .into_par_iter()
        .map(|o| {
            let whole = whole_on_remote(odb, &remote, &o)?;
            Ok((o.to_string(), odb.has(&o), whole.unwrap_or(true), whole.is_some()))
        })
        .collect()
}

/// `(pack key, index key, pack bytes, live objects, all objects, repack,
/// bytes of the objects not live)`.
pub type PackUse = (String, String, u64, u64, u64, bool, u64);

/// Which remote objects the native `roots` still use.
struct Liveness {
    live: std::collections::HashSet<Oid>,
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
        let mut live: std::collections::HashSet<Oid> = all.into_iter().collect();
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

    fn uses(&self, e: &bale_pack::Entry) -> bool {
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

/// How much of each pack the native `roots` still use, per pack the local
/// index copies describe: see [`PackUse`]. `repack` marks a pack still in
/// use that holds a tree or chunk list nothing uses: deleting what such a
/// tree or list names would leave it claiming objects the remote no longer
/// has (a tree implies its members, a list its chunks: DESIGN.md §11.1), so
/// it is rewritten without them ([`repack`]) before anything is deleted.
pub fn usage(odb: &Odb, roots: &[Oid], index_dir: &Path) -> Result<Vec<PackUse>> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    let liveness = Liveness::of(odb, roots, &remote)?;
    Ok(index_copies(index_dir)?
        .into_iter()
        .map(|index| {
            let (used, unused): (Vec<&bale_pack::Entry>, Vec<&bale_pack::Entry>) =
                index.entries().iter().partition(|e| liveness.uses(e));
            let claims = |e: &&&bale_pack::Entry| matches!(e.kind, Kind::Tree | Kind::ChunkList);
            let repack = !used.is_empty() && unused.iter().any(|e| claims(&e));
            let unused_bytes = unused.iter().map(|e| e.length).sum();
            let id = index.pack();
            let (live, all) = (used.len() as u64, index.len() as u64);
            (id.pack_key(), id.index_key(), index.pack_len(), live, all, repack, unused_bytes)
        })
        .collect())
}

/// Rewrites each of `packs` (`(downloaded pack file, pack key)`, marked
/// `repack` by [`usage`]) into `out_dir` with only the objects the native
/// `roots` use, each verified on the way (a pack whose bytes are not its
/// name is refused whole). Returns the new packs as [`WrittenRow`]s, in
/// the order given: upload each, then its index, before the old index and
/// pack are deleted.
pub fn repack(
    odb: &Odb,
    roots: &[Oid],
    index_dir: &Path,
    packs: &[(PathBuf, String)],
    out_dir: &Path,
) -> Result<Vec<WrittenRow>> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    let liveness = Liveness::of(odb, roots, &remote)?;
    packs
        .iter()
        .map(|(path, key)| {
            let name = key.rsplit('/').next().unwrap_or(key).strip_suffix(".pack");
            let id = name
                .and_then(bale_pack::PackId::parse)
                .ok_or_else(|| Error::InvalidOid { text: key.clone(), what: "pack key" })?;
            let index = PackIndex::read(&index_dir.join(id.index_file_name()))?;
            let got = bale_hash::hash_file(path, bale_hash::Algo::Blake3)?;
            if got.oid.digest() != id.as_bytes() || got.size != index.pack_len() {
                return Err(Error::CorruptObject {
                    path: path.clone(),
                    expected: id.hex(),
                    actual: got.oid.hex_digest(),
                });
            }
            let mut kept: Vec<bale_pack::Entry> =
                index.entries().iter().filter(|e| liveness.uses(e)).copied().collect();
            kept.sort_unstable_by_key(|e| e.offset);
            let items: Vec<bale_pack::PackItem> = kept
                .iter()
                .map(|e| bale_pack::PackItem {
                    digest: e.digest,
                    kind: e.kind,
                    source: path.clone(),
                    offset: e.offset,
                    len: e.length,
                })
                .collect();
            let w = write_pack(&items, out_dir, &Progress::default())?;
            let files = items.iter().filter(|item| item.kind != Kind::Chunk).count() as u64;
            Ok((w.pack_path, w.index_path, w.id.pack_key(), w.id.index_key(), w.bytes, w.objects as u64, files))
        })
        .collect()
}

/// Checks every local index copy in `index_dir` (they are a cache of the
/// remote's indexes: a damaged one must be fetched again, not trusted or
/// fatal) and removes those that do not read as the index of the pack
/// their name says. Returns the names removed.
pub fn check_copies(index_dir: &Path) -> Result<Vec<String>> {
    let listing = match std::fs::read_dir(index_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.map_err(|e| Error::io(index_dir, e))?,
    };
    let names: Vec<String> = listing.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    // A copy a killed command was writing: left long enough, it goes (the
    // refresh that calls this holds no lock).
    for name in &names {
        let path = index_dir.join(name);
        if bale_odb::fs::sweepable(&path, name, bale_odb::fs::QUIET_FOR) {
            let _ = std::fs::remove_file(&path);
        }
    }
    let names: Vec<String> = names.into_iter().filter(|n| n.ends_with(".idx")).collect();
    let bad: Vec<String> = names
        .into_par_iter()
        .filter(|name| {
            let path = index_dir.join(name);
            check_index(&path, name.trim_end_matches(".idx")).is_err() && std::fs::remove_file(&path).is_ok()
        })
        .collect();
    Ok(bad)
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

/// `(bytes in the cache, bytes on the remote)` that the objects `roots`
/// reach take, each object once (DESIGN.md §13: chunked files count their
/// lists and the chunks only they hold). The remote figure, for native
/// objects only, is `None` without `index_dir`.
pub fn stored(odb: &Odb, roots: &[Oid], index_dir: Option<&Path>) -> Result<(u64, Option<u64>)> {
    let mut oids = std::collections::HashSet::new();
    let mut native = Vec::new();
    for root in roots {
        if root.algo() == bale_hash::Algo::Blake3 {
            native.push(*root);
        } else if root.is_tree() {
            oids.insert(*root);
            match bale_index::Manifest::load(odb, root) {
                Ok(m) => oids.extend(m.entries.into_iter().map(|e| e.oid)),
                Err(Error::ObjectMissing { .. }) => {}
                Err(e) => return Err(e),
            }
        } else {
            oids.insert(*root);
        }
    }
    let native: std::collections::HashSet<Oid> = native_objects(odb, &native)?.into_iter().collect();
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
