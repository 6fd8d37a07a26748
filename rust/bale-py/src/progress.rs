use std::sync::atomic::Ordering;
use std::sync::Arc;

use pyo3::prelude::*;

/// Counters the engine advances while it works; Python reads them to draw a
/// progress bar. Reading never blocks the engine.
#[pyclass(frozen, module = "bale._core")]
#[derive(Clone, Default)]
pub struct Progress {
    pub inner: Arc<bale_index::build::Progress>,
}

#[pymethods]
impl Progress {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Files the current step will touch (0 until known).
    #[getter]
    fn total(&self) -> u64 {
        self.inner.total.load(Ordering::Relaxed)
    }

    #[getter]
    fn done(&self) -> u64 {
        self.inner.done.load(Ordering::Relaxed)
    }

    #[getter]
    fn bytes(&self) -> u64 {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    /// Asks the running work to stop at the next file.
    fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::Relaxed);
    }

    fn reset(&self) {
        self.inner.total.store(0, Ordering::Relaxed);
        self.inner.done.store(0, Ordering::Relaxed);
        self.inner.bytes.store(0, Ordering::Relaxed);
    }
}
