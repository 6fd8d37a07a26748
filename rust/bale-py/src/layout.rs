//! Layouts, keys and plan rows as Python sees them. Where an object lies on
//! a remote, what a remote key names and what a sync plan moves are decided
//! by the engine (`bale_index::keys`, `bale_index::sync`, `bale_pack`);
//! Python only reads the answers.

use std::path::PathBuf;

use bale_hash::Algo;
use bale_index::sync::{PlannedObject as Planned, SyncPlan};
use bale_odb::Odb;
use bale_pack::{Named, PackFile};
use pyo3::prelude::*;

use crate::errors::IntoPy;
use crate::runtime::run;

/// One object of a sync plan.
#[pyclass(frozen, get_all, module = "bale._core")]
pub struct PlannedObject {
    pub algo: &'static str,
    pub oid: String,
    /// Its key on a remote in DVC's layout (its path under the cache root).
    pub key: String,
    /// Its size in the cache; `None` when the cache lacks it.
    pub size: Option<u64>,
}

impl From<Planned> for PlannedObject {
    fn from(o: Planned) -> Self {
        PlannedObject { algo: o.oid.algo().name(), oid: o.oid.to_string(), key: o.key, size: o.size }
    }
}

/// A directory of a sync plan: its object and the indexes of its files in
/// the plan's files. A directory whose manifest the cache lacks lists no
/// files (fetch it, then plan again).
#[pyclass(frozen, get_all, module = "bale._core")]
pub struct PlannedDir {
    pub object: Py<PlannedObject>,
    pub members: Vec<u32>,
}

/// A sync plan as Python objects: `(files, dirs, files vouched for)`.
pub fn plan_rows(py: Python<'_>, plan: SyncPlan) -> PyResult<(Vec<PlannedObject>, Vec<PlannedDir>, u64)> {
    let dirs = plan
        .dirs
        .into_iter()
        .map(|d| Ok(PlannedDir { object: Py::new(py, PlannedObject::from(d.object))?, members: d.members }))
        .collect::<PyResult<_>>()?;
    Ok((plan.files.into_iter().map(PlannedObject::from).collect(), dirs, plan.vouched))
}

/// What a remote key names, for the keys whose content is known by name:
/// an object (`kind` "object", of `algo`, `oid` its id), a pack ("pack",
/// `oid` the blake3 of its bytes) or a pack index ("pack-index", `oid` its
/// pack's id).
#[pyclass(frozen, module = "bale._core")]
pub struct StoreKey {
    named: Named,
}

#[pymethods]
impl StoreKey {
    #[getter]
    fn kind(&self) -> &'static str {
        match self.named {
            Named::Object(_) => "object",
            Named::Pack(PackFile::Pack(_)) => "pack",
            Named::Pack(PackFile::Index(_)) => "pack-index",
        }
    }

    #[getter]
    fn algo(&self) -> &'static str {
        match self.named {
            Named::Object(oid) => oid.algo().name(),
            Named::Pack(_) => Algo::Blake3.name(),
        }
    }

    #[getter]
    fn oid(&self) -> String {
        match self.named {
            Named::Object(oid) => oid.to_string(),
            Named::Pack(file) => file.id().hex(),
        }
    }

    /// Whether the file at `path` is what the key names (`bale_pack::Named::verify`).
    fn verify(&self, py: Python<'_>, path: PathBuf) -> PyResult<bool> {
        py.detach(|| self.named.verify(&path)).py_err(py)
    }
}

/// What `key` names (see `StoreKey`), or `None` for a key whose content
/// is not known by its name (the run cache, anything else).
#[pyfunction]
pub fn parse_key(key: &str) -> Option<StoreKey> {
    Named::parse(key).map(|named| StoreKey { named })
}

/// Whether the text of an id names a directory (a tree: `.dir`, `.tree`).
#[pyfunction]
pub fn is_tree(oid: &str) -> bool {
    bale_index::keys::names_tree(oid)
}

/// `(key, size)` of every object in DVC's layouts in the folder remote at
/// `root` (nothing else there: see `bale_index::keys::dvc_objects`).
#[pyfunction]
pub fn folder_objects(py: Python<'_>, root: PathBuf) -> PyResult<Vec<(String, u64)>> {
    run(py, None, None, None, |_| bale_index::keys::dvc_objects(&Odb::new(root)))
}
