//! The packed remote layout as Python sees it: what to upload for a push,
//! which byte ranges to download for a fetch, and the verified ingest of each
//! downloaded range. Python moves the bytes; every decision is made in
//! `bale-pack`.

use std::path::PathBuf;

use bale_error::Result;
use bale_hash::Oid;
use bale_odb::{Odb, Progress};
use bale_pack::{Arrival, Assemblies, Destinations, Ingested, PackUse, PushPlan, ReadPlan, Round, Side, Written};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

use crate::errors::IntoPy;

/// What a push must upload: packs in upload order, each written by
/// `Workspace.pack_write(plan, i)` just before its upload (so writing one
/// overlaps sending others, and each is removed once sent). The last pack
/// holds the trees and must go last (its index after every other index), so
/// that a tree on the remote implies all of its members.
#[pyclass(frozen, module = "bale._core")]
pub struct PackPush {
    pub(crate) plan: PushPlan,
}

#[pymethods]
impl PackPush {
    /// `(holds trees, objects)` of each pack, in upload order.
    #[getter]
    fn packs(&self) -> Vec<(bool, u64)> {
        self.plan.planned.iter().map(|p| (p.trees, p.items.len() as u64)).collect()
    }

    /// Objects the cache lacks (nothing that needs them is uploaded).
    #[getter]
    fn missing(&self) -> Vec<String> {
        self.plan.missing.iter().map(Oid::to_string).collect()
    }

    /// Objects the remote's indexes already list.
    #[getter]
    fn present(&self) -> u64 {
        self.plan.present
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

impl FetchPlan {
    pub(crate) fn new((side, round): (Side, Round)) -> Self {
        FetchPlan { plan: round.plan, side, assemblies: round.assemblies, rebuilt_files: round.rebuilt }
    }
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

/// `(pack path, index path, pack key, index key, bytes, objects, files)`.
pub type WrittenRow = (PathBuf, PathBuf, String, String, u64, u64, u64);

pub fn written_row(w: Written) -> WrittenRow {
    let p = w.pack;
    (p.pack_path, p.index_path, p.id.pack_key(), p.id.index_key(), p.bytes, p.objects as u64, w.files)
}

/// `(pack key, index key, pack bytes, live objects, all objects, repack,
/// bytes of the objects not live)`.
pub type PackUseRow = (String, String, u64, u64, u64, bool, u64);

pub fn use_row(u: PackUse) -> PackUseRow {
    (u.pack.pack_key(), u.pack.index_key(), u.bytes, u.live, u.objects, u.repack, u.unused_bytes)
}
