//! Crash points for the kill tests.
//!
//! With `BALE_TEST_KILL_AT=<point>:<n>` in its environment, a bale process
//! kills itself with SIGKILL the `n`-th time it passes `<point>`: exactly
//! what `kill -9` at that moment does, chosen rather than hoped for. The
//! kill tests use it to stop a command where it is most fragile (a temp file
//! written but not yet renamed, half of the objects uploaded) instead of at
//! random times that mostly miss those moments. Unset, a point costs one
//! atomic load.
//!
//! Points: `temp` (a temp file now exists beside its destination: a cache
//! object, a workspace file or link, a metafile), `upload` (one more object
//! or pack is on the remote; between two folders, also one more object
//! pulled into the cache).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The variable that arms a crash point.
pub const VAR: &str = "BALE_TEST_KILL_AT";

/// Passes the crash point `name`; see the module documentation.
pub fn reached(name: &str) {
    static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static PASSED: AtomicU64 = AtomicU64::new(0);
    let armed = ARMED.get_or_init(|| {
        let spec = std::env::var(VAR).ok()?;
        let (point, n) = spec.rsplit_once(':')?;
        Some((point.to_owned(), n.parse().ok()?))
    });
    if let Some((point, n)) = armed {
        if point == name && PASSED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            // SAFETY: kill(2) on our own pid; it does not return.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
    }
}
