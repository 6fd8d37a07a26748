//! Cache objects that are not what their names say, found by a fetch and
//! moved aside, so that it downloads good copies.
//!
//! A fetch skips what the cache holds. An object whose bytes went bad (bit
//! rot, a stray write) would be skipped too and then fail every checkout.
//! So the fetch's plan asks [`Repair::cached`] instead of a bare stat: an
//! object the stat cache saw verified with its (inode, size, mtime)
//! unchanged is trusted, any other is hashed, and a corrupt one is moved
//! aside ([`Odb::quarantine`]) and planned as missing. A corrupt tree or
//! `.dir` stops the walk that reads it: [`Repair::walk`] moves it aside and
//! walks again, and the tree is fetched like any missing one.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bale_error::{Error, Result};
use bale_hash::{Algo, Oid};
use bale_odb::Odb;

use crate::state::stat_of;
use crate::state::State;

/// One fetch's checks of the cache, and what they moved aside.
pub struct Repair<'a> {
    odb: &'a Odb,
    state: &'a Mutex<State>,
    moved: Mutex<Vec<(Oid, PathBuf)>>,
}

impl<'a> Repair<'a> {
    pub fn new(odb: &'a Odb, state: &'a Mutex<State>) -> Self {
        Repair { odb, state, moved: Mutex::default() }
    }

    /// The size of `oid`'s object if the cache holds it good, checked as
    /// described above; `None` if it is missing or was found corrupt (and
    /// moved aside). A file the cache holds as chunks only has no object to
    /// check: then whether its list is there.
    pub fn cached(&self, oid: &Oid) -> Result<Option<u64>> {
        let path = self.odb.object_path(oid);
        let meta = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            _ => return Ok(self.odb.has_list(oid).then_some(0)),
        };
        let stat = stat_of(&meta);
        if self.state.lock().unwrap().object_verified(&stat, oid) {
            return Ok(Some(meta.len()));
        }
        match self.odb.verify(oid) {
            Ok(_) => {
                self.state.lock().unwrap().record_object(stat, *oid);
                Ok(Some(meta.len()))
            }
            Err(Error::CorruptObject { .. }) => {
                self.move_aside(oid, &path)?;
                Ok(None)
            }
            Err(Error::ObjectMissing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Runs `walk`, and again after moving aside each corrupt tree or
    /// `.dir` it stops at (once per tree: a moved tree is then missing).
    pub fn walk<T>(&self, mut walk: impl FnMut() -> Result<T>) -> Result<T> {
        loop {
            match walk() {
                Err(Error::CorruptObject { path, expected, actual }) => {
                    let tree = [Algo::Blake3, Algo::Md5, Algo::Md5Dos2Unix]
                        .into_iter()
                        .filter_map(|a| Oid::parse(a, &expected).ok())
                        .find(|o| o.is_tree() && self.odb.object_path(o) == path);
                    let Some(tree) = tree else { return Err(Error::CorruptObject { path, expected, actual }) };
                    self.move_aside(&tree, &path)?;
                }
                other => return other,
            }
        }
    }

    /// What was moved aside, and where it went.
    pub fn into_moved(self) -> Vec<(Oid, PathBuf)> {
        self.moved.into_inner().unwrap()
    }

    fn move_aside(&self, oid: &Oid, path: &Path) -> Result<()> {
        // Workspace files hard-linked to it share its bad bytes under an
        // unchanged stat: the stat cache must not vouch for them any more.
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata(path) {
            self.state.lock().unwrap().forget_inodes(&std::collections::HashSet::from([meta.ino()]));
        }
        let to = self.odb.quarantine(oid)?;
        self.moved.lock().unwrap().push((*oid, to));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{native_objects, plan_repairing};
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn rot(path: &Path, with: &str) {
        fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(path, with).unwrap();
    }

    #[test]
    fn a_corrupt_object_is_moved_aside_and_a_good_one_remembered() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let mut oids = Vec::new();
        for (i, algo) in [Algo::Md5, Algo::Md5, Algo::Blake3].into_iter().enumerate() {
            let f = d.path().join(format!("f{i}"));
            fs::write(&f, format!("content {i}")).unwrap();
            oids.push(odb.add_file(&f, algo, false).unwrap().0.oid);
        }
        rot(&odb.object_path(&oids[1]), "rot");
        let state = Mutex::new(State::in_memory());
        let repair = Repair::new(&odb, &state);
        let found: Vec<bool> = oids.iter().map(|o| repair.cached(o).unwrap().is_some()).collect();
        assert_eq!(found, [true, false, true]);
        let moved = repair.into_moved();
        assert_eq!(moved.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![oids[1]]);
        assert_eq!(fs::read(&moved[0].1).unwrap(), b"rot");
        assert!(!odb.exists(&oids[1]) && odb.exists(&oids[0]) && odb.exists(&oids[2]));
        // The good ones are remembered: the next look reads nothing.
        let good = odb.object_path(&oids[0]);
        let stat = stat_of(&fs::metadata(&good).unwrap());
        assert!(state.lock().unwrap().object_verified(&stat, &oids[0]));
    }

    #[test]
    fn a_corrupt_directory_object_is_moved_aside_and_planned_missing() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let state = Mutex::new(State::in_memory());
        for algo in [Algo::Md5, Algo::Blake3] {
            let dir = d.path().join(format!("d-{algo}"));
            fs::create_dir_all(dir.join("sub")).unwrap();
            fs::write(dir.join("sub/a"), "a").unwrap();
            let progress = crate::build::Progress::default();
            let opts = crate::BuildOptions::hashing(algo, d.path(), &progress).storing(&odb);
            let root = crate::build_target(&dir, &opts, &mut State::in_memory()).unwrap().oid;
            rot(&odb.object_path(&root), "not a manifest");
            let repair = Repair::new(&odb, &state);
            if algo == Algo::Md5 {
                let p = plan_repairing(&odb, &[root], &repair).unwrap();
                assert_eq!((p.dirs[0].object.size, p.dirs[0].members.len()), (None, 0));
            } else {
                let found = repair.walk(|| native_objects(&odb, &[root])).unwrap();
                assert_eq!(found, vec![root], "listed, not entered: fetched next");
            }
            let moved = repair.into_moved();
            assert_eq!(moved.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![root], "{algo}");
            assert!(!odb.exists(&root));
        }
    }
}
