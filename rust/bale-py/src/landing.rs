//! `Landing`: the file a remote writes a download into, hashed as it lands
//! (see [`bale_odb::Landing`]); `Workspace.ingest_landed` publishes it.

use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard};

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;

use crate::errors::IntoPy;

/// A download in progress; writes may come from several threads at once.
#[pyclass(frozen, module = "bale._core")]
pub struct Landing {
    inner: RwLock<Option<bale_odb::Landing>>,
}

impl Landing {
    pub fn new(landing: bale_odb::Landing) -> Self {
        Landing { inner: RwLock::new(Some(landing)) }
    }

    /// The landing itself, once: publishing or discarding it ends it here.
    pub fn take(&self) -> Option<bale_odb::Landing> {
        self.inner.write().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn read(&self) -> RwLockReadGuard<'_, Option<bale_odb::Landing>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl Landing {
    /// Writes `data` at `offset`; nothing once discarded (a cancelled part's
    /// thread may still be writing when its download gives up).
    fn write(&self, py: Python<'_>, data: &[u8], offset: u64) -> PyResult<()> {
        py.detach(|| match self.read().as_ref() {
            Some(landing) => landing.write(offset, data),
            None => Ok(()),
        })
        .py_err(py)
    }

    /// Writes `pieces` one after another from `offset`.
    fn writev(&self, py: Python<'_>, pieces: Vec<PyBackedBytes>, offset: u64) -> PyResult<()> {
        py.detach(|| {
            let guard = self.read();
            let Some(landing) = guard.as_ref() else { return Ok(()) };
            let mut at = offset;
            for piece in &pieces {
                landing.write(at, piece)?;
                at += piece.len() as u64;
            }
            Ok(())
        })
        .py_err(py)
    }

    /// Takes no more writes: the download is complete.
    fn close(&self, py: Python<'_>) {
        py.detach(|| {
            if let Some(landing) = self.read().as_ref() {
                landing.close();
            }
        })
    }

    /// Gives the download up and removes its file.
    fn discard(&self, py: Python<'_>) {
        py.detach(|| drop(self.take()))
    }

    /// The temp file, while the landing lasts.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.read().as_ref().map(|l| l.path().to_path_buf())
    }
}
