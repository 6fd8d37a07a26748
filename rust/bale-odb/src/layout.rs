//! Where a store keeps things: the [`Odb`] handle, its areas (one per
//! algorithm, in DVC's fan-out layout), object paths, and the directories
//! it creates with the store's modes.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU8;
use std::sync::Arc;

use bale_error::{IoContext, Result};
use bale_hash::{Algo, Oid};

/// Whether copy-on-write clones work in a store: not probed yet, or the
/// probe's answer (see [`Odb::clones`]).
pub(crate) const CLONE_UNKNOWN: u8 = 0;
pub(crate) const CLONE_WORKS: u8 = 1;
pub(crate) const CLONE_UNSUPPORTED: u8 = 2;

/// A content-addressed object store rooted at the cache directory.
#[derive(Clone, Debug)]
pub struct Odb {
    root: PathBuf,
    /// Whether copy-on-write clones work in this store, once probed.
    pub(crate) clone_state: Arc<AtomicU8>,
    /// `cache.shared = group`: directories group-writable and setgid, as DVC
    /// makes them, so that a team can share one cache.
    shared_group: bool,
}

impl Odb {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Odb { root: root.into(), clone_state: Arc::new(AtomicU8::new(CLONE_UNKNOWN)), shared_group: false }
    }

    /// The same store with `cache.shared = group` semantics.
    pub fn shared_group(mut self, shared: bool) -> Self {
        self.shared_group = shared;
        self
    }

    /// Creates `dir` (inside the store) if missing, with the store's modes.
    pub fn ensure_dir(&self, dir: &Path) -> Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(dir).at(dir)?;
        if self.shared_group {
            use std::os::unix::fs::PermissionsExt;
            let mut d = Some(dir);
            while let Some(cur) = d.filter(|c| c.starts_with(&self.root)) {
                fs::set_permissions(cur, fs::Permissions::from_mode(0o2775)).at(cur)?;
                d = cur.parent();
            }
        }
        Ok(())
    }

    pub(crate) fn ensure_parent(&self, dest: &Path) -> Result<PathBuf> {
        let dir = dest.parent().expect("object paths have a fan-out directory").to_path_buf();
        self.ensure_dir(&dir)?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the objects of one algorithm live.
    pub fn area(&self, algo: Algo) -> PathBuf {
        match algo {
            Algo::Md5 => self.root.join("files").join("md5"),
            Algo::Md5Dos2Unix => self.root.clone(),
            Algo::Blake3 => self.root.join("bale").join("blake3"),
        }
    }

    pub fn object_path(&self, oid: &Oid) -> PathBuf {
        let text = oid.to_string();
        let mut p = self.area(oid.algo());
        p.push(&text[..2]);
        p.push(&text[2..]);
        p
    }

    pub fn exists(&self, oid: &Oid) -> bool {
        self.object_path(oid).is_file()
    }

    /// Where the clone probe runs: the first of these that exists.
    pub(crate) fn probe_dirs(&self) -> [PathBuf; 3] {
        [self.root.join("bale"), self.root.join("files"), self.root.clone()]
    }

    /// Where [`quarantine`](Self::quarantine) moves corrupt objects:
    /// `bale/corrupt/`, outside every object area (DESIGN.md §3).
    pub fn corrupt_dir(&self) -> PathBuf {
        self.root().join("bale").join("corrupt")
    }

    /// Removes an object; a missing one is not an error.
    pub fn remove(&self, oid: &Oid) -> Result<()> {
        let path = self.object_path(oid);
        match fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other.at(&path),
        }
    }
}

/// The names of an area's 256 fan-out directories, `00` to `ff`.
pub(crate) fn fanouts() -> impl Iterator<Item = String> + Send {
    (0..=255u8).map(|b| format!("{b:02x}"))
}
