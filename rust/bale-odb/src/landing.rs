//! A download landing in a cache temp file, hashed while it lands.
//!
//! A ranged download writes its parts at their offsets, in any order and
//! from several threads. Each finished write is recorded, and a follower
//! thread hashes the file's contiguous prefix as it grows, reading back what
//! is on disk (not the network's buffers). So the check that an object is
//! what its name says overlaps the transfer instead of following it: on a
//! 2 GiB md5 object that is seconds of one core.
//!
//! The streamed hash is used only if the writes covered the file exactly
//! once, from its first byte to its last. Anything else (a retried part
//! rewriting bytes that may already be hashed, a hole, a write past what was
//! hashed) leaves the finished file to be hashed again from the start, so
//! the fast path never weakens the check.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use bale_error::{Error, IoContext, Result};
use bale_hash::{FileHash, Hasher, Oid, READ_SIZE};

use crate::fs::TempFile;

/// The follower hashes pieces of this size from the file's start, waking
/// when writes have extended the contiguous prefix by a whole piece.
const PIECE: u64 = READ_SIZE as u64;

/// A download of one object into a temp file next to where it will live.
pub struct Landing {
    oid: Oid,
    tmp: TempFile,
    shared: Arc<Shared>,
    follower: Option<JoinHandle<Option<(Hasher, u64)>>>,
}

#[derive(Default)]
struct Shared {
    landed: Mutex<Landed>,
    changed: Condvar,
}

#[derive(Default)]
struct Landed {
    /// Finished writes, merged: start -> end, disjoint.
    ranges: BTreeMap<u64, u64>,
    /// Some bytes were written twice: the streamed hash is not used.
    overlapped: bool,
    /// Writes in progress.
    writing: usize,
    /// No more writes; the follower hashes what is left and stops.
    closed: bool,
    /// Given up: the follower stops at once.
    abandoned: bool,
}

impl Landed {
    /// Records `[start, end)`, merged with the ranges it touches; bytes
    /// written before mark the landing overlapped.
    fn record(&mut self, start: u64, end: u64) {
        if start == end {
            return;
        }
        let (mut lo, mut hi) = (start, end);
        // Ranges are disjoint and sorted: walking back from the last one that
        // starts at or before `end`, they touch until one ends before `start`.
        let touching: Vec<(u64, u64)> =
            self.ranges.range(..=end).rev().take_while(|(_, &e)| e >= start).map(|(&s, &e)| (s, e)).collect();
        for (s, e) in touching {
            self.overlapped |= e > start && s < end;
            lo = lo.min(s);
            hi = hi.max(e);
            self.ranges.remove(&s);
        }
        self.ranges.insert(lo, hi);
    }

    /// How far from byte 0 the file is written without a gap.
    fn prefix(&self) -> u64 {
        self.ranges.get(&0).copied().unwrap_or(0)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Landed> {
        self.landed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, Landed>) -> MutexGuard<'a, Landed> {
        self.changed.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// Stops new writes and waits for the ones in progress to finish.
    fn close(&self, abandon: bool) {
        let mut g = self.lock();
        g.closed = true;
        g.abandoned |= abandon;
        self.changed.notify_all();
        while g.writing > 0 {
            g = self.wait(g);
        }
    }
}

impl Landing {
    /// A new, empty temp file in `dir` for `oid`, with its follower started.
    pub fn create(dir: &Path, oid: Oid) -> Result<Self> {
        let tmp = TempFile::create_readable_in(dir)?;
        let reader = tmp.handle().try_clone().at(tmp.path())?;
        let shared = Arc::new(Shared::default());
        let follower = {
            let shared = Arc::clone(&shared);
            let path = tmp.path().to_path_buf();
            std::thread::Builder::new()
                .name("bale-landing".into())
                .spawn(move || follow(&shared, &reader, Hasher::new(oid.algo())))
                .map_err(|e| Error::io(path, e))?
        };
        Ok(Landing { oid, tmp, shared, follower: Some(follower) })
    }

    pub fn oid(&self) -> Oid {
        self.oid
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes `data` at `offset`. Safe to call from several threads at once;
    /// fails once the landing is closed.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        {
            let mut g = self.shared.lock();
            if g.closed {
                return Err(Error::io(self.path(), std::io::Error::other("download already closed")));
            }
            g.writing += 1;
        }
        let written = self.tmp.handle().write_all_at(data, offset).at(self.path());
        let mut g = self.shared.lock();
        g.writing -= 1;
        if written.is_ok() {
            g.record(offset, offset + data.len() as u64);
        } else {
            g.overlapped = true; // part of it may be on disk: trust nothing streamed
        }
        self.shared.changed.notify_all();
        written
    }

    /// How many bytes from the first one have landed without a gap.
    pub fn covered(&self) -> u64 {
        self.shared.lock().prefix()
    }

    /// Takes no more writes (waiting for those in progress).
    pub fn close(&self) {
        self.shared.close(false);
    }

    /// Closes the landing and returns its temp file (removed unless it is
    /// published) with the streamed hash, if the writes covered the file
    /// exactly once.
    pub fn finish(mut self) -> Result<(TempFile, Option<FileHash>)> {
        self.shared.close(false);
        let followed = self.follower.take().and_then(|f| f.join().ok()).flatten();
        let len = self.tmp.handle().metadata().at(self.tmp.path())?.len();
        let clean = !self.shared.lock().overlapped;
        let hash = match followed {
            Some((hasher, hashed)) if clean && hashed == len => {
                Some(FileHash { oid: hasher.finish(self.oid.is_tree()), size: len })
            }
            _ => None,
        };
        let tmp = std::mem::replace(&mut self.tmp, TempFile::adopt(PathBuf::new()));
        Ok((tmp, hash))
    }
}

impl Drop for Landing {
    /// An unfinished landing is given up: its follower stops and the temp
    /// file goes with it.
    fn drop(&mut self) {
        if let Some(f) = self.follower.take() {
            self.shared.close(true);
            let _ = f.join();
        }
    }
}

/// Hashes the file's contiguous prefix as writes extend it, in whole pieces
/// until the landing closes; `None` if it was given up, bytes were written
/// twice, or reading failed (the finished file is hashed again then).
fn follow(shared: &Shared, reader: &File, mut hasher: Hasher) -> Option<(Hasher, u64)> {
    let mut buf = vec![0u8; READ_SIZE];
    let mut hashed = 0u64;
    loop {
        let end = {
            let mut g = shared.lock();
            loop {
                if g.abandoned || g.overlapped {
                    return None;
                }
                let prefix = g.prefix();
                let usable = if g.closed && g.writing == 0 { prefix } else { prefix - prefix % PIECE };
                if usable > hashed {
                    break usable;
                }
                if g.closed && g.writing == 0 {
                    return Some((hasher, hashed));
                }
                g = shared.wait(g);
            }
        };
        while hashed < end {
            let n = (end - hashed).min(PIECE) as usize;
            reader.read_exact_at(&mut buf[..n], hashed).ok()?;
            hasher.update(&buf[..n]);
            hashed += n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_hash::{hash_bytes, hash_file, Algo};

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 + i / 7) as u8).collect()
    }

    const BLOCK: u64 = 1 << 20;

    fn landing(dir: &Path, algo: Algo, bytes: &[u8]) -> Landing {
        Landing::create(dir, hash_bytes(algo, bytes, false)).unwrap()
    }

    #[test]
    fn parts_in_any_order_give_the_streamed_hash_of_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        // Binary bytes, and text whose CRLFs the legacy algorithm folds.
        let binary = data(5 * BLOCK as usize + 12345);
        let text = b"a line\r\n".repeat(5 * BLOCK as usize / 8 + 1);
        for (algo, bytes) in
            [Algo::Md5, Algo::Blake3, Algo::Md5Dos2Unix].into_iter().flat_map(|algo| [(algo, &binary), (algo, &text)])
        {
            let l = landing(dir.path(), algo, bytes);
            let part = 1_500_000;
            let mut parts: Vec<(usize, &[u8])> = bytes.chunks(part).enumerate().map(|(i, c)| (i * part, c)).collect();
            parts.reverse();
            std::thread::scope(|s| {
                for (off, chunk) in parts {
                    let l = &l;
                    s.spawn(move || l.write(off as u64, chunk).unwrap());
                }
            });
            l.close();
            let (tmp, hash) = l.finish().unwrap();
            let hash = hash.expect("writes covered the file once: streamed");
            assert_eq!(hash, hash_file(tmp.path(), algo).unwrap());
            assert_eq!(hash.oid, hash_bytes(algo, bytes, false));
        }
    }

    #[test]
    fn bytes_written_twice_are_hashed_again_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = data(3 * BLOCK as usize);
        let l = landing(dir.path(), Algo::Md5, &bytes);
        l.write(0, &bytes).unwrap();
        l.write(10, b"rewritten").unwrap(); // a retried part, with other bytes
        let (tmp, hash) = l.finish().unwrap();
        assert_eq!(hash, None);
        assert!(tmp.path().is_file());
    }

    #[test]
    fn a_hole_or_a_short_file_is_not_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = data(2 * BLOCK as usize + 5);
        let l = landing(dir.path(), Algo::Md5, &bytes);
        l.write(BLOCK, &bytes[BLOCK as usize..]).unwrap(); // the first block never came
        let (_, hash) = l.finish().unwrap();
        assert_eq!(hash, None);

        let empty = landing(dir.path(), Algo::Md5, b"");
        let (tmp, hash) = empty.finish().unwrap();
        assert_eq!(hash.map(|h| h.oid), Some(hash_bytes(Algo::Md5, b"", false)));
        assert_eq!(std::fs::metadata(tmp.path()).unwrap().len(), 0);
    }

    #[test]
    fn writes_after_close_fail_and_a_dropped_landing_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let l = landing(dir.path(), Algo::Blake3, b"abc");
        l.write(0, b"abc").unwrap();
        l.close();
        assert!(l.write(3, b"d").is_err());
        let path = l.path().to_path_buf();
        drop(l);
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn overlapping_ranges_are_told_from_adjacent_ones() {
        let mut l = Landed::default();
        l.record(10, 20);
        l.record(0, 10);
        l.record(20, 30);
        assert_eq!(l.prefix(), 30);
        assert!(!l.overlapped);
        l.record(40, 50);
        l.record(35, 41);
        assert!(l.overlapped);
        let mut l = Landed::default();
        l.record(40, 50);
        l.record(0, 10);
        l.record(9, 11);
        assert!(l.overlapped);
        l.record(11, 45); // the union is kept, overlap or not
        assert_eq!(l.prefix(), 50);
        assert_eq!(l.ranges.len(), 1);
    }
}
