//! Counters a caller polls from another thread while engine work runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bale_error::{Error, Result};

/// Counters a caller can poll from another thread while work runs, and a flag
/// to ask the work to stop.
#[derive(Debug, Default)]
pub struct Progress {
    pub total: AtomicU64,
    pub done: AtomicU64,
    pub bytes: AtomicU64,
    pub cancelled: AtomicBool,
}

impl Progress {
    pub fn check(&self) -> Result<()> {
        if self.cancelled.load(Ordering::Relaxed) {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
    pub fn step(&self, bytes: u64) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}
