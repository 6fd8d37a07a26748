//! Running engine work off the GIL on bale's own thread pool.
//!
//! The work runs on a pool thread while the calling thread waits without the
//! GIL, waking every 100 ms to let Python handle Ctrl-C (which cancels the
//! work at the next file) and to call a progress callback. Pool threads never
//! call into Python.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bale_error::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::errors::to_py;
use crate::progress::Progress;

/// `jobs`, else `$BALE_JOBS`, else one thread per core.
pub fn pool(jobs: Option<usize>) -> PyResult<Arc<ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let n = jobs
        .or_else(|| std::env::var("BALE_JOBS").ok().and_then(|v| v.parse().ok()))
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .max(1);
    let mut pools = POOLS.get_or_init(Default::default).lock().unwrap();
    if let Some(p) = pools.get(&n) {
        return Ok(p.clone());
    }
    let p = ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("bale-{i}"))
        .build()
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let p = Arc::new(p);
    pools.insert(n, p.clone());
    Ok(p)
}

pub fn run<T, F>(
    py: Python<'_>,
    jobs: Option<usize>,
    progress: Option<&Progress>,
    tick: Option<&Bound<'_, PyAny>>,
    work: F,
) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&bale_index::build::Progress) -> Result<T, Error> + Send,
{
    let pool = pool(jobs)?;
    let progress = progress.cloned().unwrap_or_default();
    let counters = progress.inner.clone();
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<()>();
        let handle = s.spawn(move || {
            let r = pool.install(|| work(&counters));
            let _ = tx.send(());
            r
        });
        // The receiver crosses into the GIL-free closure by reference.
        let rx = Mutex::new(rx);
        loop {
            let done = py.detach(|| rx.lock().unwrap().recv_timeout(Duration::from_millis(100)).is_ok());
            if done || handle.is_finished() {
                break;
            }
            let interrupted = py.check_signals().and_then(|()| match tick {
                Some(t) => t.call0().map(drop),
                None => Ok(()),
            });
            if let Err(e) = interrupted {
                progress.inner.cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
                let _ = py.detach(|| handle.join());
                return Err(e);
            }
        }
        match py.detach(|| handle.join()) {
            Ok(r) => r.map_err(|e| to_py(py, e)),
            Err(_) => Err(PyRuntimeError::new_err("bale engine panicked")),
        }
    })
}
