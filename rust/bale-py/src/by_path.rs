//! A directory's files as the dict a comparison of records keys on,
//! `{"<prefix>/<relpath>": (algo, oid)}`, built here rather than from a
//! list of tuples in Python: a granular `data status` holds every file of
//! a directory, 100,000 of them in one dict per side.

use bale_hash::Oid;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

pub fn by_path<'py>(
    py: Python<'py>,
    algo: &str,
    prefix: &str,
    files: impl IntoIterator<Item = (String, Oid)>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    // One string object for every value's algorithm.
    let algo = PyString::new(py, algo);
    let mut key = String::with_capacity(prefix.len() + 64);
    for (rel, oid) in files {
        key.clear();
        key.push_str(prefix);
        key.push('/');
        key.push_str(&rel);
        let value = PyTuple::new(py, [algo.clone(), PyString::new(py, &oid.to_string())])?;
        dict.set_item(PyString::new(py, &key), value)?;
    }
    Ok(dict)
}
