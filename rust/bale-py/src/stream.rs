//! Ranged reads of one chunked file, for `bale.reader`'s streams: from the
//! cache ([`bale_odb::CachedChunks`]) or from a remote's packs
//! ([`bale_pack::RemoteChunks`]), every chunk verified before its bytes are
//! returned. Python moves the remote's bytes; the engine plans and checks.

use std::path::PathBuf;
use std::sync::Arc;

use bale_checkout::CopyOut;
use bale_chunk::ChunkList;
use bale_hash::{Algo, Oid};
use bale_pack::{LocalPacks, Read, RemoteChunks as Chunks, RemoteFile, RemoteIndex};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;

use crate::errors::IntoPy;
use crate::progress::Progress;
use crate::runtime::run;

fn span(list: &ChunkList, start: u64, end: u64) -> (usize, usize) {
    let r = list.span(start, end);
    (r.start, r.end)
}

/// Where chunk `i` starts; `count` gives the file's size.
fn offset(list: &ChunkList, i: usize) -> PyResult<u64> {
    match list.chunks.get(i) {
        Some(c) => Ok(c.offset),
        None if i == list.chunks.len() => Ok(list.size),
        None => Err(PyIndexError::new_err(format!("chunk {i} of {}", list.chunks.len()))),
    }
}

fn checked(list: &ChunkList, first: usize, last: usize) -> PyResult<std::ops::Range<usize>> {
    checked_count(list.chunks.len(), first, last)
}

fn checked_count(count: usize, first: usize, last: usize) -> PyResult<std::ops::Range<usize>> {
    if first > last || last > count {
        return Err(PyIndexError::new_err(format!("chunks {first}..{last} of {count}")));
    }
    Ok(first..last)
}

fn rows(reads: Vec<Read>) -> Vec<(String, u64, u64)> {
    reads.into_iter().map(|r| (r.key(), r.start, r.end)).collect()
}

/// A chunked file of the cache, open for ranged reads.
#[pyclass(frozen, module = "bale._core")]
pub struct CachedChunks {
    inner: bale_odb::CachedChunks,
}

impl CachedChunks {
    pub fn new(inner: bale_odb::CachedChunks) -> Self {
        CachedChunks { inner }
    }
}

#[pymethods]
impl CachedChunks {
    #[getter]
    fn size(&self) -> u64 {
        self.inner.list().size
    }

    #[getter]
    fn count(&self) -> usize {
        self.inner.list().chunks.len()
    }

    /// `(first, last)`: the chunks `first..last` hold bytes `start..end`.
    fn span(&self, start: u64, end: u64) -> (usize, usize) {
        span(self.inner.list(), start, end)
    }

    fn offset(&self, i: usize) -> PyResult<u64> {
        offset(self.inner.list(), i)
    }

    /// The bytes of chunks `first..last`, each verified against its id.
    fn read<'py>(&self, py: Python<'py>, first: usize, last: usize) -> PyResult<Bound<'py, PyBytes>> {
        let range = checked(self.inner.list(), first, last)?;
        // On bale's pool, which hashes the chunks in parallel.
        let data = run(py, None, None, None, |_| self.inner.read(range))?;
        Ok(PyBytes::new(py, &data))
    }
}

/// The union of a remote's pack indexes (its local copies), for reads.
#[pyclass(frozen, module = "bale._core")]
pub struct RemoteIndexes {
    index: Arc<RemoteIndex>,
}

fn blake3(py: Python<'_>, oid: &str) -> PyResult<Oid> {
    Oid::parse(Algo::Blake3, oid).py_err(py)
}

#[pymethods]
impl RemoteIndexes {
    #[new]
    fn new(py: Python<'_>, index_dir: PathBuf) -> PyResult<Self> {
        let index = py.detach(|| RemoteIndex::load_dir(&index_dir)).py_err(py)?;
        Ok(RemoteIndexes { index: Arc::new(index) })
    }

    /// How the remote holds the blake3 file `oid`: `("list", pack key,
    /// start, end)` for its chunk list, `("whole", ...)` for its bytes in
    /// one piece, `None` if no index lists it.
    fn locate(&self, py: Python<'_>, oid: &str) -> PyResult<Option<(&'static str, String, u64, u64)>> {
        let row = |what, l: bale_pack::Location| (what, l.pack.pack_key(), l.entry.offset, l.entry.end());
        Ok(RemoteFile::locate(&self.index, &blake3(py, oid)?).map(|f| match f {
            RemoteFile::List(l) => row("list", l),
            RemoteFile::Whole(l) => row("whole", l),
        }))
    }

    /// The bytes of each blake3 file a folder remote rooted at `root` holds
    /// in one piece of at most `limit` bytes, read from its pack files and
    /// hashed, in parallel; `None` for the others.
    #[pyo3(signature = (root, oids, limit, jobs=None))]
    fn read_whole<'py>(
        &self,
        py: Python<'py>,
        root: PathBuf,
        oids: Vec<String>,
        limit: u64,
        jobs: Option<usize>,
    ) -> PyResult<Vec<Option<Bound<'py, PyBytes>>>> {
        let oids = oids.iter().map(|o| blake3(py, o)).collect::<PyResult<Vec<_>>>()?;
        let got = run(py, jobs, None, None, |_| LocalPacks::new(&self.index, &root).read_many(&oids, limit))?;
        Ok(got.into_iter().map(|d| d.map(|d| PyBytes::new(py, &d))).collect())
    }

    /// Writes each `(oid, dest, isexec)` blake3 file a folder remote rooted
    /// at `root` holds in one piece (of at most `limit` bytes) at `dest`,
    /// from its pack files, hashed first (atomically, parents made), in
    /// parallel; the indices of the items not written (held otherwise).
    #[pyo3(signature = (root, items, limit, progress=None, tick=None, jobs=None))]
    #[allow(clippy::too_many_arguments)]
    fn copy_whole(
        &self,
        py: Python<'_>,
        root: PathBuf,
        items: Vec<(String, PathBuf, bool)>,
        limit: u64,
        progress: Option<&Progress>,
        tick: Option<&Bound<'_, PyAny>>,
        jobs: Option<usize>,
    ) -> PyResult<Vec<usize>> {
        let items = items
            .into_iter()
            .map(|(oid, dest, exec)| Ok(CopyOut { oid: blake3(py, &oid)?, dest, exec }))
            .collect::<PyResult<Vec<_>>>()?;
        run(py, jobs, progress, tick, |p| {
            let packs = LocalPacks::new(&self.index, &root);
            bale_checkout::write_out(&items, |oid| packs.read(oid, limit), p)
        })
    }

    /// The chunked file, from its list's bytes (checked; a two-level
    /// list's segments are loaded as reads need them).
    fn open_chunks(&self, py: Python<'_>, oid: &str, list: &[u8], source: &str) -> PyResult<RemoteChunks> {
        let oid = blake3(py, oid)?;
        let index = self.index.clone();
        let inner = py.detach(|| Chunks::open(index, &oid, list, source)).py_err(py)?;
        Ok(RemoteChunks { inner })
    }
}

/// A chunked file of a remote, open for ranged reads.
#[pyclass(frozen, module = "bale._core")]
pub struct RemoteChunks {
    inner: Chunks,
}

#[pymethods]
impl RemoteChunks {
    #[getter]
    fn size(&self) -> u64 {
        self.inner.size()
    }

    #[getter]
    fn count(&self) -> usize {
        self.inner.count()
    }

    /// The segments (by number) that cover bytes `start..end` and are not
    /// loaded yet: `span`, `offset` and `reads` need them.
    fn missing(&self, start: u64, end: u64) -> Vec<usize> {
        self.inner.missing(start, end)
    }

    /// The reads `(pack key, start, end)` that bring segments `parts`.
    fn segment_reads(&self, py: Python<'_>, parts: Vec<usize>) -> PyResult<Vec<(String, u64, u64)>> {
        self.inner.segment_reads(&parts).map(rows).py_err(py)
    }

    /// Loads segments `parts` from the bytes of `segment_reads(parts)`, in
    /// order, each checked against its id and the top list.
    fn add_segments(&self, py: Python<'_>, parts: Vec<usize>, data: Vec<PyBackedBytes>) -> PyResult<()> {
        py.detach(|| {
            let data: Vec<&[u8]> = data.iter().map(|d| &d[..]).collect();
            self.inner.add_segments(&parts, &data)
        })
        .py_err(py)
    }

    fn span(&self, py: Python<'_>, start: u64, end: u64) -> PyResult<(usize, usize)> {
        self.inner.span(start, end).map(|r| (r.start, r.end)).py_err(py)
    }

    fn offset(&self, py: Python<'_>, i: usize) -> PyResult<u64> {
        if i > self.inner.count() {
            return Err(PyIndexError::new_err(format!("chunk {i} of {}", self.inner.count())));
        }
        self.inner.offset(i).py_err(py)
    }

    /// The ranged reads `(pack key, start, end)` that bring chunks `first..last`.
    fn reads(&self, py: Python<'_>, first: usize, last: usize) -> PyResult<Vec<(String, u64, u64)>> {
        let range = checked_count(self.inner.count(), first, last)?;
        self.inner.reads(range).map(rows).py_err(py)
    }

    /// The bytes of chunks `first..last`, cut from `data` (the bytes of
    /// `reads(first, last)`, in order), each verified against its id. When
    /// one read holds exactly those chunks (the usual case: a file's chunks
    /// are pushed in order) its bytes object is returned as it is, uncopied.
    fn verify<'py>(
        &self,
        py: Python<'py>,
        first: usize,
        last: usize,
        data: Vec<PyBackedBytes>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let range = checked_count(self.inner.count(), first, last)?;
        let places = run(py, None, None, None, |_| {
            let data: Vec<&[u8]> = data.iter().map(|d| &d[..]).collect();
            self.inner.verify(range, &data)
        })?;
        if let Some(i) = whole_read(&places, &data) {
            let read = data.into_iter().nth(i).expect("a read of data");
            return Ok(read.into_pyobject(py)?.into_any());
        }
        let mut out = Vec::with_capacity(places.iter().map(|(_, at)| at.len()).sum());
        for (i, at) in places {
            out.extend_from_slice(&data[i][at]);
        }
        Ok(PyBytes::new(py, &out).into_any())
    }
}

/// The read whose data is exactly `places`, one after another, if there is one.
fn whole_read(places: &[(usize, std::ops::Range<usize>)], data: &[PyBackedBytes]) -> Option<usize> {
    let i = places.first()?.0;
    let mut end = 0;
    for (j, at) in places {
        if *j != i || at.start != end {
            return None;
        }
        end = at.end;
    }
    (end == data[i].len()).then_some(i)
}
