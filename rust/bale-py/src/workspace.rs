//! The `Workspace` class: one repository's engine, holding its stat cache
//! across the calls of one command.

use std::path::PathBuf;
use std::str::FromStr;

use bale_checkout::{CheckoutOptions, CopyOut, LinkType, Linker};
use bale_error::{Error, Result};
use bale_hash::{Algo, Oid};
use bale_index::{Lookup, Manifest, State};
use bale_odb::Odb;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use crate::by_path::by_path;
use crate::errors::IntoPy;
use crate::landing::Landing;
use crate::layout::{plan_rows, PlannedDir, PlannedObject};
use crate::progress::Progress;
use crate::runtime::run;
use crate::stream::CachedChunks;

fn parse_oid(algo: &str, oid: &str) -> Result<Oid, Error> {
    Oid::parse(Algo::from_str(algo)?, oid)
}

fn parse_oids(py: Python<'_>, pairs: &[(String, String)]) -> PyResult<Vec<Oid>> {
    pairs.iter().map(|(a, o)| parse_oid(a, o)).collect::<Result<Vec<_>, _>>().py_err(py)
}

/// What a file or directory hashed to.
#[pyclass(frozen, get_all, module = "bale._core")]
pub struct Built {
    pub oid: String,
    pub size: u64,
    pub nfiles: Option<u64>,
    pub isexec: bool,
    /// Files whose content was read (the rest came from the stat cache).
    pub hashed: u64,
    /// Objects newly written to the cache.
    pub stored: u64,
    /// `(relpath, why)` of what a directory holds but cannot be tracked.
    pub skipped: Vec<(String, String)>,
}

/// How the workspace differs from a recorded id.
#[pyclass(frozen, get_all, module = "bale._core")]
pub struct Status {
    /// The workspace's id now; `None` when the path does not exist.
    pub oid: Option<String>,
    pub size: u64,
    pub nfiles: Option<u64>,
    pub added: Vec<String>,
    pub deleted: Vec<String>,
    pub modified: Vec<String>,
    /// Whether the recorded object (for a directory, its manifest) is cached.
    pub in_cache: bool,
    /// Files of the recorded directory whose objects are not cached.
    pub not_in_cache: Vec<String>,
    /// Files whose content was read (not answered by the stat cache).
    pub hashed: u64,
}

#[pyclass(frozen, get_all, module = "bale._core")]
pub struct CheckoutResult {
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub deleted: Vec<String>,
    pub unchanged: u64,
    pub missing: Vec<String>,
    pub link_type: Option<String>,
    /// Manifest entries named like bale's temp files, not written.
    pub skipped_temps: Vec<String>,
}

#[pyclass(frozen, get_all, module = "bale._core")]
pub struct Transferred {
    pub copied: u64,
    pub bytes: u64,
    pub present: u64,
    /// Objects neither side has.
    pub missing: Vec<String>,
}

#[pyclass(frozen, get_all, module = "bale._core")]
pub struct GcResult {
    pub removed: u64,
    pub bytes: u64,
    pub kept: u64,
    /// Files now kept as chunks only (`compact`), the bytes that freed, and
    /// the loose chunks written so that kept lists stay rebuildable.
    pub compacted: u64,
    pub compacted_bytes: u64,
    pub chunks_written: u64,
    pub chunk_bytes: u64,
}

#[pyclass(module = "bale._core")]
pub struct Workspace {
    ws: bale_index::Workspace,
    jobs: Option<usize>,
}

#[pymethods]
impl Workspace {
    #[new]
    #[pyo3(signature = (root, cache_dir, state_path=None, jobs=None, shared_group=false))]
    fn new(
        root: PathBuf,
        cache_dir: PathBuf,
        state_path: Option<PathBuf>,
        jobs: Option<usize>,
        shared_group: bool,
    ) -> Self {
        let state = match state_path {
            Some(p) => State::load(p),
            None => State::in_memory(),
        };
        let odb = Odb::new(cache_dir).shared_group(shared_group);
        Workspace { ws: bale_index::Workspace::new(root, odb, state), jobs }
    }

    #[getter]
    fn cache_dir(&self) -> PathBuf {
        self.ws.odb().root().to_path_buf()
    }

    /// Hashes a file or directory; with `store`, also puts every object in
    /// the cache (reading each file once). `clone` stores by reflink.
    /// `previous` is the target's id before (from its `.dvc` file), given
    /// where the workspace keeps its own copy (nothing links it to the
    /// cache): an edited chunked file is then stored as its new chunks.
    #[pyo3(signature = (target, algo, store, clone=false, progress=None, tick=None, previous=None))]
    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        py: Python<'_>,
        target: PathBuf,
        algo: &str,
        store: bool,
        clone: bool,
        progress: Option<&Progress>,
        tick: Option<&Bound<'_, PyAny>>,
        previous: Option<&str>,
    ) -> PyResult<Built> {
        let algo = Algo::from_str(algo).py_err(py)?;
        // Only a hint: an id that does not parse is no previous version.
        let previous = previous.and_then(|o| Oid::parse(algo, o).ok());
        run(py, self.jobs, progress, tick, |p| {
            let b = self.ws.build(&target, algo, store, clone, previous, p)?;
            Ok(Built {
                oid: b.oid.to_string(),
                size: b.size,
                nfiles: b.nfiles,
                isexec: b.exec,
                hashed: b.hashed,
                stored: b.stored,
                skipped: b.skipped.into_iter().map(|(rel, why)| (rel, why.to_owned())).collect(),
            })
        })
    }

    /// Removes the temp files of bale processes that are no longer running
    /// (killed): in the cache, in each of `dirs`, and anywhere below each of
    /// `trees`. Returns the paths removed.
    fn sweep_temps(&self, py: Python<'_>, dirs: Vec<PathBuf>, trees: Vec<PathBuf>) -> PyResult<Vec<PathBuf>> {
        run(py, self.jobs, None, None, |_| self.ws.sweep_temps(&dirs, &trees))
    }

    /// Hashes `target` without storing and lists its files:
    /// `(oid, [(relpath, oid)])` (one entry with an empty relpath for a file).
    #[pyo3(signature = (target, algo, progress=None, tick=None))]
    fn scan(
        &self,
        py: Python<'_>,
        target: PathBuf,
        algo: &str,
        progress: Option<&Progress>,
        tick: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(String, Vec<(String, String)>)> {
        let algo = Algo::from_str(algo).py_err(py)?;
        run(py, self.jobs, progress, tick, |p| {
            let b = self.ws.scan(&target, algo, p)?;
            let files = match b.manifest {
                Some(m) => m.entries.into_iter().map(|e| (e.rel, e.oid.to_string())).collect(),
                None => vec![(String::new(), b.oid.to_string())],
            };
            Ok((b.oid.to_string(), files))
        })
    }

    /// `scan`'s id, and the files as `{f"{prefix}/{relpath}": (algo, oid)}`
    /// (none for a file): what a comparison of records keys on.
    #[pyo3(signature = (target, algo, prefix, progress=None, tick=None))]
    fn scan_by_path<'py>(
        &self,
        py: Python<'py>,
        target: PathBuf,
        algo: &str,
        prefix: &str,
        progress: Option<&Progress>,
        tick: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(String, Bound<'py, PyDict>)> {
        let algo_v = Algo::from_str(algo).py_err(py)?;
        let b = run(py, self.jobs, progress, tick, |p| self.ws.scan(&target, algo_v, p))?;
        let files = b.manifest.map(|m| m.entries).unwrap_or_default();
        Ok((b.oid.to_string(), by_path(py, algo, prefix, files.into_iter().map(|e| (e.rel, e.oid)))?))
    }

    /// Compares the workspace at `target` with the recorded `oid`.
    #[pyo3(signature = (target, algo, oid, progress=None, tick=None))]
    fn status(
        &self,
        py: Python<'_>,
        target: PathBuf,
        algo: &str,
        oid: Option<&str>,
        progress: Option<&Progress>,
        tick: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Status> {
        let algo_v = Algo::from_str(algo).py_err(py)?;
        let recorded = oid.map(|o| parse_oid(algo, o)).transpose().py_err(py)?;
        run(py, self.jobs, progress, tick, |p| {
            let s = self.ws.status(&target, algo_v, recorded, p)?;
            Ok(Status {
                oid: s.oid.map(|o| o.to_string()),
                size: s.size,
                nfiles: s.nfiles,
                added: s.added,
                deleted: s.deleted,
                modified: s.modified,
                in_cache: s.in_cache,
                not_in_cache: s.not_in_cache,
                hashed: s.hashed,
            })
        })
    }

    /// Makes `target` hold `oid`. `subpath` limits the checkout to one file or
    /// sub-directory of a directory output.
    #[pyo3(signature = (target, algo, oid, isexec=false, link_types=vec![], force=false, relink=false, subpath=None, progress=None, tick=None, relink_only=false))]
    #[allow(clippy::too_many_arguments)]
    fn checkout(
        &self,
        py: Python<'_>,
        target: PathBuf,
        algo: &str,
        oid: &str,
        isexec: bool,
        link_types: Vec<String>,
        force: bool,
        relink: bool,
        subpath: Option<String>,
        progress: Option<&Progress>,
        tick: Option<&Bound<'_, PyAny>>,
        relink_only: bool,
    ) -> PyResult<CheckoutResult> {
        let oid = parse_oid(algo, oid).py_err(py)?;
        let types = link_types.iter().map(|t| LinkType::from_str(t)).collect::<Result<Vec<_>, _>>().py_err(py)?;
        run(py, self.jobs, progress, tick, |p| {
            let linker = Linker::new(types);
            let opts = CheckoutOptions {
                odb: self.ws.odb(),
                repo_root: self.ws.root(),
                linker: &linker,
                force,
                relink: relink || relink_only,
                relink_matching_only: relink_only,
                progress: p,
            };
            let mut state = self.ws.state().lock().unwrap();
            let st = bale_checkout::checkout_output(&target, &oid, isexec, subpath.as_deref(), &opts, &mut state)?;
            Ok(CheckoutResult {
                added: st.added,
                modified: st.modified,
                deleted: st.deleted,
                unchanged: st.unchanged,
                missing: st.missing,
                link_type: st.link_type.map(|l| l.name().to_owned()),
                skipped_temps: st.skipped_temps,
            })
        })
    }

    /// Writes each `(algo, oid, dest, isexec)` object of the cache at its
    /// `dest` (parents made, each file created or replaced atomically), in
    /// parallel, every object verified before use. Returns the indices of
    /// the items whose object the cache does not hold whole: nothing was
    /// written for those. With `source` (a folder remote in the cache's
    /// layout), the objects come from there instead, every one hashed.
    /// With `take` (this cache is thrown away after), each object is moved
    /// to the last item that wants it instead of copied.
    #[pyo3(signature = (items, link_types, progress=None, tick=None, jobs=None, source=None, take=false))]
    #[allow(clippy::too_many_arguments)]
    fn copy_out(
        &self,
        py: Python<'_>,
        items: Vec<(String, String, PathBuf, bool)>,
        link_types: Vec<String>,
        progress: Option<&Progress>,
        tick: Option<&Bound<'_, PyAny>>,
        jobs: Option<usize>,
        source: Option<PathBuf>,
        take: bool,
    ) -> PyResult<Vec<usize>> {
        let items = items
            .into_iter()
            .map(|(algo, oid, dest, exec)| Ok(CopyOut { oid: parse_oid(&algo, &oid)?, dest, exec }))
            .collect::<Result<Vec<_>>>()
            .py_err(py)?;
        let types = link_types.iter().map(|t| LinkType::from_str(t)).collect::<Result<Vec<_>, _>>().py_err(py)?;
        run(py, jobs.or(self.jobs), progress, tick, |p| {
            let linker = Linker::new(types);
            match source {
                Some(root) => bale_checkout::copy_out(&Odb::new(root), &items, &linker, None, false, p),
                None => bale_checkout::copy_out(self.ws.odb(), &items, &linker, Some(self.ws.state()), take, p),
            }
        })
    }

    /// The bytes of each `(algo, oid)` object the cache (with `source`: a
    /// folder remote in the cache's layout, only read) holds whole and no
    /// bigger than `limit`, each hashed before it is returned, read in
    /// parallel; `None` for the others. A mismatch fails the call.
    #[pyo3(signature = (items, limit, jobs=None, source=None))]
    fn read_small<'py>(
        &self,
        py: Python<'py>,
        items: Vec<(String, String)>,
        limit: u64,
        jobs: Option<usize>,
        source: Option<PathBuf>,
    ) -> PyResult<Vec<Option<Bound<'py, pyo3::types::PyBytes>>>> {
        let oids = items.iter().map(|(algo, oid)| parse_oid(algo, oid)).collect::<Result<Vec<_>>>().py_err(py)?;
        let got = run(py, jobs.or(self.jobs), None, None, |_| match &source {
            Some(root) => Odb::new(root.clone()).read_small(&oids, limit),
            None => self.ws.odb().read_small(&oids, limit),
        })?;
        Ok(got.into_iter().map(|d| d.map(|d| pyo3::types::PyBytes::new(py, &d))).collect())
    }

    /// The files of a directory object: `(relpath, oid, size, isexec)`.
    fn manifest(&self, py: Python<'_>, algo: &str, oid: &str) -> PyResult<Vec<PyEntry>> {
        let oid = parse_oid(algo, oid).py_err(py)?;
        let m = py.detach(|| Manifest::load(self.ws.odb(), &oid)).py_err(py)?;
        Ok(m.entries.into_iter().map(py_entry).collect())
    }

    /// The files of a directory object as `{f"{prefix}/{relpath}": (algo,
    /// oid)}`, read and verified as `manifest` reads them.
    fn manifest_by_path<'py>(
        &self,
        py: Python<'py>,
        algo: &str,
        oid: &str,
        prefix: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let oid = parse_oid(algo, oid).py_err(py)?;
        let m = py.detach(|| Manifest::load(self.ws.odb(), &oid)).py_err(py)?;
        by_path(py, algo, prefix, m.entries.into_iter().map(|e| (e.rel, e.oid)))
    }

    /// The `(id, name)` of the sub-trees the native tree `oid` lists, read
    /// and verified (names unescaped).
    fn subtrees(&self, py: Python<'_>, oid: &str) -> PyResult<Vec<(String, String)>> {
        let oid = parse_oid("blake3", oid).py_err(py)?;
        let subs = py.detach(|| Manifest::subtrees(self.ws.odb(), &oid)).py_err(py)?;
        Ok(subs.into_iter().map(|(o, name)| (o.to_string(), name)).collect())
    }

    /// The empty directories a (native) directory object records, which
    /// `manifest` leaves out: who writes its files one by one makes these.
    fn empty_dirs(&self, py: Python<'_>, algo: &str, oid: &str) -> PyResult<Vec<String>> {
        let oid = parse_oid(algo, oid).py_err(py)?;
        Ok(py.detach(|| Manifest::load(self.ws.odb(), &oid)).py_err(py)?.empty_dirs)
    }

    /// What the manifest `oid` has at `rel`: `(entry, False)` for a file,
    /// `(None, True)` for a directory, `(None, False)` for nothing; read and
    /// verified as `manifest` reads it, without converting every entry.
    fn manifest_lookup(&self, py: Python<'_>, algo: &str, oid: &str, rel: &str) -> PyResult<(Option<PyEntry>, bool)> {
        let oid = parse_oid(algo, oid).py_err(py)?;
        let found = py.detach(|| Manifest::lookup(self.ws.odb(), &oid, rel)).py_err(py)?;
        Ok(match found {
            Lookup::File(e) => (Some(py_entry(e)), false),
            Lookup::Dir => (None, true),
            Lookup::Missing => (None, false),
        })
    }

    /// The directory objects of `algo` the cache holds, newest first, at
    /// most `limit`.
    fn recent_trees(&self, py: Python<'_>, algo: &str, limit: usize) -> PyResult<Vec<String>> {
        let algo = Algo::from_str(algo).py_err(py)?;
        let oids = py.detach(|| self.ws.odb().recent_trees(algo, limit)).py_err(py)?;
        Ok(oids.iter().map(Oid::to_string).collect())
    }

    fn object_path(&self, py: Python<'_>, algo: &str, oid: &str) -> PyResult<PathBuf> {
        Ok(self.ws.odb().object_path(&parse_oid(algo, oid).py_err(py)?))
    }

    /// The object's key on a remote in DVC's layout (its path under the cache root).
    fn object_key(&self, py: Python<'_>, algo: &str, oid: &str) -> PyResult<String> {
        Ok(bale_index::keys::object_key(self.ws.odb(), &parse_oid(algo, oid).py_err(py)?))
    }

    /// The size of the object if the cache holds it known good (see
    /// `bale_index::Workspace::verified_object`): the stat cache vouches
    /// for it, or, with `hash`, it is hashed now. `None` if absent or not
    /// vouched for; `CorruptObjectError` if it does not hash to its id.
    #[pyo3(signature = (algo, oid, hash=true))]
    fn verified_object(&self, py: Python<'_>, algo: &str, oid: &str, hash: bool) -> PyResult<Option<u64>> {
        let oid = parse_oid(algo, oid).py_err(py)?;
        run(py, self.jobs, None, None, |_| self.ws.verified_object(&oid, hash))
    }

    /// The blake3 file `oid`'s chunk list, open for ranged reads of the
    /// cache; `None` when the cache holds no list for it.
    fn cached_chunks(&self, py: Python<'_>, oid: &str) -> PyResult<Option<CachedChunks>> {
        let oid = parse_oid("blake3", oid).py_err(py)?;
        let found = py.detach(|| self.ws.odb().cached_chunks(&oid)).py_err(py)?;
        Ok(found.map(CachedChunks::new))
    }

    fn exists(&self, py: Python<'_>, algo: &str, oid: &str) -> PyResult<bool> {
        Ok(self.ws.odb().has(&parse_oid(algo, oid).py_err(py)?))
    }

    /// The ids among `oids` (all of `algo`) the cache does not hold, in
    /// their order: `exists` for many at once, in parallel; by one listing
    /// of the store when there are enough of them (see `Odb::presence`).
    fn absent(&self, py: Python<'_>, algo: &str, oids: Vec<String>) -> PyResult<Vec<String>> {
        let algo = Algo::from_str(algo).py_err(py)?;
        let parsed = oids.iter().map(|o| Oid::parse(algo, o)).collect::<Result<Vec<_>, _>>().py_err(py)?;
        let odb = self.ws.odb();
        let held: Vec<bool> = run(py, self.jobs, None, None, |_| {
            let presence = odb.presence(algo, parsed.len());
            Ok(parsed.par_iter().map(|o| presence.has(o)).collect())
        })?;
        Ok(oids.into_iter().zip(held).filter(|(_, h)| !h).map(|(o, _)| o).collect())
    }

    /// The files of the directory object `oid` whose objects the cache
    /// lacks, by path in the directory, sorted; answered without reading
    /// it when it was found complete before and no object came or went.
    fn absent_files(&self, py: Python<'_>, algo: &str, oid: &str) -> PyResult<Vec<String>> {
        let oid = parse_oid(algo, oid).py_err(py)?;
        run(py, self.jobs, None, None, |_| self.ws.absent_files(&oid))
    }

    /// Deletes every cached object not reachable from `keep`
    /// (`(algo, oid)` pairs). A kept directory whose manifest cannot be read
    /// stops the collection: nothing is deleted unless proven unreferenced.
    ///
    /// Chunked files (DESIGN.md §13.0): with `compact`, every kept chunked
    /// file that `whole` (the workspace's outputs) does not reach is kept as
    /// its list and chunks only. Lists of deleted files go with them; loose
    /// chunks are kept while a kept list names them.
    #[pyo3(signature = (keep, dry=false, compact=false, whole=vec![]))]
    fn gc(
        &self,
        py: Python<'_>,
        keep: Vec<(String, String)>,
        dry: bool,
        compact: bool,
        whole: Vec<(String, String)>,
    ) -> PyResult<GcResult> {
        let roots = parse_oids(py, &keep)?;
        let whole = parse_oids(py, &whole)?;
        run(py, self.jobs, None, None, |_| {
            let c = bale_index::gc::collect(self.ws.odb(), &roots, &whole, compact, dry)?;
            Ok(GcResult {
                removed: c.removed,
                bytes: c.bytes,
                kept: c.kept,
                compacted: c.compacted,
                compacted_bytes: c.compacted_bytes,
                chunks_written: c.chunks_written,
                chunk_bytes: c.chunk_bytes,
            })
        })
    }

    /// Copies objects between the cache and a folder remote with the same
    /// layout (`push`: cache to remote; else remote to cache), each hashed
    /// on the way and published only if it is what its name says.
    #[pyo3(signature = (remote_root, oids, push, progress=None, tick=None, jobs=None))]
    #[allow(clippy::too_many_arguments)]
    fn transfer(
        &self,
        py: Python<'_>,
        remote_root: PathBuf,
        oids: Vec<(String, String)>,
        push: bool,
        progress: Option<&Progress>,
        tick: Option<&Bound<'_, PyAny>>,
        jobs: Option<usize>,
    ) -> PyResult<Transferred> {
        let oids = oids.iter().map(|(a, o)| parse_oid(a, o)).collect::<Result<Vec<_>, _>>().py_err(py)?;
        let remote = Odb::new(remote_root);
        run(py, jobs.or(self.jobs), progress, tick, |p| {
            let t = self.ws.transfer(&remote, &oids, push, p)?;
            Ok(Transferred {
                copied: t.copied,
                bytes: t.bytes,
                present: t.present,
                missing: t.missing.iter().map(|o| o.to_string()).collect(),
            })
        })
    }

    /// What a push or fetch of `roots` moves in DVC's remote layout:
    /// `(files, dirs)`, each file once and each directory with the indexes
    /// of its files (see `PlannedObject`, `PlannedDir`).
    /// With `repair` (a fetch's plan), what the cache holds counts only if it
    /// is good: a corrupt object is moved aside and planned as missing (see
    /// `take_moved_aside`).
    #[pyo3(signature = (roots, progress=None, tick=None, repair=false))]
    #[allow(clippy::type_complexity)]
    fn sync_plan(
        &self,
        py: Python<'_>,
        roots: Vec<(String, String)>,
        progress: Option<&Progress>,
        tick: Option<&Bound<'_, PyAny>>,
        repair: bool,
    ) -> PyResult<(Vec<PlannedObject>, Vec<PlannedDir>)> {
        let roots = parse_oids(py, &roots)?;
        let plan = run(py, self.jobs, progress, tick, |_| self.ws.sync_plan(&roots, repair))?;
        let (files, dirs, _) = plan_rows(py, plan)?;
        Ok((files, dirs))
    }

    /// The plan of a push: as [`sync_plan`](Self::sync_plan), without the
    /// files of the directories that the directory objects `vouched_by` (on
    /// the remote) list. The third value counts those files. Nothing is
    /// hashed here: every upload hashes the bytes it sends.
    #[pyo3(signature = (roots, vouched_by, progress=None, tick=None))]
    #[allow(clippy::type_complexity)]
    fn push_plan(
        &self,
        py: Python<'_>,
        roots: Vec<(String, String)>,
        vouched_by: Vec<(String, String)>,
        progress: Option<&Progress>,
        tick: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(Vec<PlannedObject>, Vec<PlannedDir>, u64)> {
        let roots = parse_oids(py, &roots)?;
        let vouchers = parse_oids(py, &vouched_by)?;
        let plan =
            run(py, self.jobs, progress, tick, |_| bale_index::sync::plan_push(self.ws.odb(), &roots, &vouchers))?;
        plan_rows(py, plan)
    }

    /// A download of `oid` to land in the cache, hashed as it lands.
    fn landing(&self, py: Python<'_>, algo: &str, oid: &str) -> PyResult<Landing> {
        let oid = parse_oid(algo, oid).py_err(py)?;
        py.detach(|| self.ws.odb().landing(&oid)).py_err(py).map(Landing::new)
    }

    /// Publishes a finished download if it hashes to its id (else it is
    /// removed, and the `CorruptObjectError` names `source`); returns its
    /// size.
    fn ingest_landed(&self, py: Python<'_>, landing: &Landing, source: &str) -> PyResult<u64> {
        let Some(landing) = landing.take() else {
            return Err(PyValueError::new_err("the download was already published or discarded"));
        };
        run(py, self.jobs, None, None, |_| self.ws.ingest_landed(landing, source))
    }

    /// The same for downloads held in memory: `(algo, oid, bytes, source)`.
    fn ingest_bytes_many(&self, py: Python<'_>, items: Vec<(String, String, Vec<u8>, String)>) -> PyResult<Vec<u64>> {
        let parsed = items
            .iter()
            .map(|(a, o, data, source)| Ok((parse_oid(a, o)?, &data[..], &source[..])))
            .collect::<Result<Vec<_>, Error>>()
            .py_err(py)?;
        run(py, self.jobs, None, None, |_| self.ws.ingest_bytes_many(&parsed))
    }

    /// Plans the packs a push of the native `roots` needs: every object they
    /// reach that the remote indexes in `index_dir` do not list, trees last.
    /// Nothing is written yet (see [`pack_write`](Self::pack_write)).
    #[pyo3(signature = (roots, index_dir, staging, target, tick=None))]
    fn pack_push(
        &self,
        py: Python<'_>,
        roots: Vec<(String, String)>,
        index_dir: PathBuf,
        staging: PathBuf,
        target: u64,
        tick: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<crate::packs::PackPush> {
        let roots = parse_oids(py, &roots)?;
        let plan = run(py, self.jobs, None, tick, |_| {
            bale_pack::plan_push(self.ws.odb(), &roots, &index_dir, &staging, target)
        })?;
        Ok(crate::packs::PackPush { plan })
    }

    /// Writes pack `i` of `plan` into its staging folder, each object
    /// verified as it is read: `(pack path, index path, pack key, index key,
    /// bytes, objects)`. Cancelling `progress` stops it at the next object.
    #[pyo3(signature = (plan, i, progress=None))]
    fn pack_write(
        &self,
        py: Python<'_>,
        plan: &crate::packs::PackPush,
        i: usize,
        progress: Option<&Progress>,
    ) -> PyResult<crate::packs::WrittenRow> {
        if i >= plan.plan.planned.len() {
            return Err(pyo3::exceptions::PyIndexError::new_err(i));
        }
        run(py, self.jobs, progress, None, |p| plan.plan.write(i, p)).map(crate::packs::written_row)
    }

    /// The ranged reads that fetch what the native `roots` reach and the
    /// cache lacks, from the packs the indexes in `index_dir` describe.
    /// With `shallow`, only the roots themselves.
    /// First rebuilds every wanted chunked file whose chunks all arrived
    /// (in `staging`) in earlier rounds.
    #[pyo3(signature = (roots, index_dir, staging, max_gap=1 << 20, max_read=64 << 20, shallow=false))]
    #[allow(clippy::too_many_arguments)]
    fn pack_fetch_plan(
        &self,
        py: Python<'_>,
        roots: Vec<(String, String)>,
        index_dir: PathBuf,
        staging: PathBuf,
        max_gap: u64,
        max_read: u64,
        shallow: bool,
    ) -> PyResult<crate::packs::FetchPlan> {
        let roots = parse_oids(py, &roots)?;
        let limits = bale_pack::ReadLimits { max_gap, max_read };
        let plan = run(py, self.jobs, None, None, |_| {
            self.ws.repairing(|repair| {
                bale_pack::plan_fetch(self.ws.odb(), repair, &roots, &index_dir, &staging, limits, shallow)
            })
        })?;
        let plan = crate::packs::FetchPlan::new(plan);
        self.ws.record_verified(&plan.rebuilt_files);
        Ok(plan)
    }

    /// The directory output `dir` (a stored manifest of `dir_algo`) after
    /// `add` of `rel` inside it, which was built with `algo` to `oid` (a
    /// file, or a directory manifest): `(new id, size, file count, whether a
    /// file was replaced)`, the new manifest stored.
    #[allow(clippy::too_many_arguments)]
    fn graft(
        &self,
        py: Python<'_>,
        dir_algo: &str,
        dir: &str,
        rel: &str,
        algo: &str,
        oid: &str,
        size: u64,
        isexec: bool,
    ) -> PyResult<(String, u64, u64, bool)> {
        let dir = parse_oid(dir_algo, dir).py_err(py)?;
        let built = parse_oid(algo, oid).py_err(py)?;
        let with = bale_index::manifest::Graft::of(built, size, isexec);
        let (oid, size, nfiles, replaced) =
            py.detach(|| bale_index::manifest::graft(self.ws.odb(), &dir, rel, with)).py_err(py)?;
        Ok((oid.to_string(), size, nfiles, replaced))
    }

    /// The id of what the cached native tree `oid` holds at `path` (names
    /// joined by `/`), or `None` where it records nothing there.
    fn tree_entry(&self, py: Python<'_>, oid: &str, path: &str) -> PyResult<Option<String>> {
        let oid = parse_oid("blake3", oid).py_err(py)?;
        let found = py.detach(|| bale_index::manifest::tree_entry(self.ws.odb(), &oid, path)).py_err(py)?;
        Ok(found.map(|o| o.to_string()))
    }

    /// The sink that read `i` of `plan` is downloaded into: each object is
    /// verified and stored as its bytes arrive.
    fn read_arrival(
        &self,
        py: Python<'_>,
        plan: &Bound<'_, crate::packs::FetchPlan>,
        i: usize,
    ) -> PyResult<crate::packs::ReadArrival> {
        crate::packs::ReadArrival::new(py, self.ws.odb(), plan, i)
    }

    /// Ends a read once its download completed (every byte must have
    /// arrived); returns `(objects stored, files and trees among them,
    /// bytes stored)`.
    fn ingest_arrival(&self, py: Python<'_>, arrival: &crate::packs::ReadArrival) -> PyResult<(u64, u64, u64)> {
        let Some(got) = py.detach(|| arrival.finish()) else {
            return Err(PyValueError::new_err("the read was already ingested, discarded or failed"));
        };
        let got = got.py_err(py)?;
        self.ws.record_verified(&got.published);
        Ok((got.stored, got.files, got.bytes))
    }

    /// Publishes the chunked files `plan`'s reads completed, each verified
    /// whole, with its list; returns how many were stored.
    fn pack_fetch_finish(&self, py: Python<'_>, plan: &crate::packs::FetchPlan) -> PyResult<u64> {
        run(py, self.jobs, None, None, |_| bale_pack::finish_fetch(&self.ws, &plan.assemblies))
    }

    /// How much of each pack the native `roots` still use (see
    /// `packs::usage`): `(pack key, index key, bytes, live, objects)`.
    fn pack_usage(
        &self,
        py: Python<'_>,
        roots: Vec<(String, String)>,
        index_dir: PathBuf,
    ) -> PyResult<Vec<crate::packs::PackUseRow>> {
        let roots = parse_oids(py, &roots)?;
        let uses = run(py, self.jobs, None, None, |_| bale_pack::usage(self.ws.odb(), &roots, &index_dir))?;
        Ok(uses.into_iter().map(crate::packs::use_row).collect())
    }

    /// The corrupt objects this engine's fetch plans moved aside since the
    /// last call, `(oid, where it went)`, for the command to say so.
    fn take_moved_aside(&self) -> Vec<(String, PathBuf)> {
        self.ws.take_moved_aside().into_iter().map(|(oid, to)| (oid.to_string(), to)).collect()
    }

    /// Where corrupt objects are moved aside (kept for a look; `gc`
    /// removes them).
    #[getter]
    fn corrupt_dir(&self) -> PathBuf {
        self.ws.odb().corrupt_dir()
    }

    /// Rewrites packs still in use without the trees and chunk lists
    /// nothing uses (`(downloaded pack file, pack key)` each): see
    /// `packs::repack`. Returns one written row per pack, as `pack_write`.
    fn pack_repack(
        &self,
        py: Python<'_>,
        roots: Vec<(String, String)>,
        index_dir: PathBuf,
        packs: Vec<(PathBuf, String)>,
        out_dir: PathBuf,
    ) -> PyResult<Vec<crate::packs::WrittenRow>> {
        let roots = parse_oids(py, &roots)?;
        let written =
            run(py, self.jobs, None, None, |_| bale_pack::repack(self.ws.odb(), &roots, &index_dir, &packs, &out_dir))?;
        Ok(written.into_iter().map(crate::packs::written_row).collect())
    }

    /// `(oid, cached, on the remote, checked)` of every object the native
    /// `roots` reach through the trees the cache holds: see
    /// `packs::presence`.
    fn pack_presence(
        &self,
        py: Python<'_>,
        roots: Vec<(String, String)>,
        index_dir: PathBuf,
    ) -> PyResult<Vec<(String, bool, bool, bool)>> {
        let roots = parse_oids(py, &roots)?;
        let found = run(py, self.jobs, None, None, |_| bale_pack::presence(self.ws.odb(), &roots, &index_dir))?;
        Ok(found.into_iter().map(|p| (p.oid.to_string(), p.cached, p.on_remote, p.checked)).collect())
    }

    /// `(bytes in the cache, bytes on the remote)` the objects `roots`
    /// reach take, each object once; the remote figure (native objects, from
    /// the index copies in `index_dir`) is `None` without `index_dir`.
    #[pyo3(signature = (roots, index_dir=None))]
    fn stored(
        &self,
        py: Python<'_>,
        roots: Vec<(String, String)>,
        index_dir: Option<PathBuf>,
    ) -> PyResult<(u64, Option<u64>)> {
        let roots = parse_oids(py, &roots)?;
        run(py, self.jobs, None, None, |_| bale_pack::stored(self.ws.odb(), &roots, index_dir.as_deref()))
    }

    /// Saves the stat cache. Failure is ignored: it is only a cache.
    fn save(&self, py: Python<'_>) {
        let _ = py.detach(|| self.ws.save());
    }
}

/// Checks a downloaded pack index: well formed, and the index of `pack`.
#[pyfunction]
pub fn check_pack_index(py: Python<'_>, path: PathBuf, pack: &str) -> PyResult<()> {
    py.detach(|| bale_pack::check_index(&path, pack)).py_err(py)
}

/// bale's temp files under a folder remote's `root` that were left alone
/// an hour or more (killed pushes'), with their sizes: `gc -c` removes them.
#[pyfunction]
pub fn remote_temps(py: Python<'_>, root: PathBuf) -> Vec<(PathBuf, u64)> {
    py.detach(|| bale_odb::fs::quiet_temps(&root, bale_odb::fs::QUIET_FOR))
}

/// Removes the local index copies in `index_dir` that are damaged; returns
/// their names (fetch them again).
#[pyfunction]
pub fn check_index_copies(py: Python<'_>, index_dir: PathBuf) -> PyResult<Vec<String>> {
    py.detach(|| bale_pack::check_copies(&index_dir)).py_err(py)
}

/// Raises `InvalidOidError` unless `oid` is the text of an `algo` id (its
/// digest in hex, with the tree suffix of the algorithm or none).
#[pyfunction]
pub fn check_oid(py: Python<'_>, algo: &str, oid: &str) -> PyResult<()> {
    let algo = Algo::from_str(algo).py_err(py)?;
    Oid::parse(algo, oid).map(drop).py_err(py)
}

/// A new temp name in `dir` (see `bale_odb::fs::temp_path`): every file
/// bale writes goes through one, so that its leftovers are known as bale's.
#[pyfunction]
pub fn temp_path(dir: PathBuf) -> PathBuf {
    bale_odb::fs::temp_path(&dir)
}

/// Passes a crash point of the kill tests (see `bale_odb::failpoint`).
#[pyfunction]
pub fn failpoint(name: &str) {
    bale_odb::failpoint::reached(name);
}

/// `(oid, size)` of one file.
#[pyfunction]
pub fn hash_file(py: Python<'_>, path: PathBuf, algo: &str) -> PyResult<(String, u64)> {
    let algo = Algo::from_str(algo).py_err(py)?;
    let h = py.detach(|| bale_hash::hash_file(&path, algo)).py_err(py)?;
    Ok((h.oid.to_string(), h.size))
}

/// Every `.dvc`, `dvc.yaml` and `dvc.lock` file under the repository root.
#[pyfunction]
pub fn find_metafiles(py: Python<'_>, repo_root: PathBuf) -> PyResult<Vec<PathBuf>> {
    py.detach(|| bale_index::walk::find_metafiles(&repo_root)).py_err(py)
}

/// Replaces hardlinks and symlinks into the cache by private writable
/// copies: `path` itself, or every file under it. Returns the file count.
#[pyfunction]
pub fn unprotect(py: Python<'_>, path: PathBuf) -> PyResult<u64> {
    run(py, None, None, None, |_| bale_checkout::unprotect_tree(&path))
}

/// The link types that work from `cache_dir` into `workspace_dir`.
#[pyfunction]
pub fn probe_links(py: Python<'_>, cache_dir: PathBuf, workspace_dir: PathBuf) -> PyResult<Vec<String>> {
    let works = py.detach(|| bale_checkout::probe_links(&cache_dir, &workspace_dir)).py_err(py)?;
    Ok(works.into_iter().map(|k| k.name().to_owned()).collect())
}

/// A manifest entry as Python sees it: `(rel, oid, size, exec)`.
type PyEntry = (String, String, u64, bool);

fn py_entry(e: bale_index::Entry) -> PyEntry {
    (e.rel, e.oid.to_string(), e.size, e.exec)
}
