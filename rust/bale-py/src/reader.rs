//! `ObjectReader`: a cache object read for an upload, hashed on the way
//! (see [`bale_odb::VerifiedReader`]): what a store sends is what was hashed.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Mutex;

use bale_hash::{Algo, Oid};
use bale_odb::VerifiedReader;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::IntoPy;

#[pyclass(frozen, module = "bale._core")]
pub struct ObjectReader {
    inner: Mutex<VerifiedReader>,
    size: u64,
}

#[pymethods]
impl ObjectReader {
    /// Opens the object file `path`, which must hold `oid` (`algo`).
    #[new]
    fn new(py: Python<'_>, path: PathBuf, algo: &str, oid: &str) -> PyResult<Self> {
        let algo = Algo::from_str(algo).py_err(py)?;
        let oid = Oid::parse(algo, oid).py_err(py)?;
        let reader = py.detach(|| VerifiedReader::open(&path, oid)).py_err(py)?;
        Ok(ObjectReader { size: reader.size(), inner: Mutex::new(reader) })
    }

    #[getter]
    fn size(&self) -> u64 {
        self.size
    }

    /// The next bytes, at most `n`; empty at the end. The read that reaches
    /// the end raises `CorruptObjectError` instead if the object is not what
    /// its name says, so an upload fed from it never completes.
    fn read<'py>(&self, py: Python<'py>, n: usize) -> PyResult<Bound<'py, PyBytes>> {
        let data = py.detach(|| self.inner.lock().unwrap_or_else(|e| e.into_inner()).read(n)).py_err(py)?;
        Ok(PyBytes::new(py, &data))
    }

    /// Reads the rest, hashing it, and raises as `read` does.
    fn verify(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.lock().unwrap_or_else(|e| e.into_inner()).verify()).py_err(py)
    }
}
