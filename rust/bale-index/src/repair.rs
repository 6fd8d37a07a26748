//! Cache objects that are not what their names say, found and moved aside
//! before a fetch, so that it downloads them again.
//!
//! A fetch skips what the cache holds. An object whose bytes went bad
//! (bit rot, a stray write) would be skipped too and then fail every
//! checkout. So a fetch first hashes each object it would skip, except those
//! the stat cache saw verified with their (inode, size, mtime) unchanged,
//! and moves a corrupt one aside ([`Odb::quarantine`]).

use std::path::PathBuf;
use std::sync::Mutex;

use bale_error::{Error, Result};
use bale_hash::{Algo, Oid};
use bale_odb::Odb;
use rayon::prelude::*;

use crate::state::State;
use crate::sync::{native_objects, plan};
use crate::walk::stat_of;

/// Every object `roots` reach (files and directory objects, through the
/// manifests the cache holds), each checked as described above. Returns the
/// corrupt ones with where each was moved.
pub fn repair(odb: &Odb, roots: &[Oid], state: &Mutex<State>) -> Result<Vec<(Oid, PathBuf)>> {
    let (native, dvc): (Vec<Oid>, Vec<Oid>) = roots.iter().partition(|o| o.algo() == Algo::Blake3);
    // A corrupt tree or `.dir` stops the walk that reads it: it is moved
    // aside, and the walk starts again without it (once per corrupt tree).
    let mut moved = Vec::new();
    let mut objects = loop {
        let walked = native_objects(odb, &native).and_then(|mut objects| {
            let p = plan(odb, &dvc)?;
            objects.extend(p.files.into_iter().chain(p.dirs.into_iter().map(|d| d.object)).map(|o| o.oid));
            Ok(objects)
        });
        match walked {
            Ok(objects) => break objects,
            Err(Error::CorruptObject { path, expected, actual }) => {
                let tree = [Algo::Blake3, Algo::Md5, Algo::Md5Dos2Unix]
                    .into_iter()
                    .filter_map(|a| Oid::parse(a, &expected).ok())
                    .find(|o| o.is_tree() && odb.object_path(o) == path);
                let Some(tree) = tree else { return Err(Error::CorruptObject { path, expected, actual }) };
                forget_linked(&path, state);
                moved.push((tree, odb.quarantine(&tree)?));
            }
            Err(e) => return Err(e),
        }
    };
    objects.retain(|o| !moved.iter().any(|(m, _)| m == o));
    let found: Vec<Option<(Oid, PathBuf)>> = objects
        .par_iter()
        .map(|oid| {
            let path = odb.object_path(oid);
            let Ok(meta) = std::fs::metadata(&path) else { return Ok(None) };
            let stat = stat_of(&meta);
            if !meta.is_file() || state.lock().unwrap().object_verified(&path, &stat, oid) {
                return Ok(None);
            }
            match odb.verify(oid) {
                Ok(_) => {
                    state.lock().unwrap().record_object(&path, stat, *oid);
                    Ok(None)
                }
                Err(Error::CorruptObject { .. }) => {
                    forget_linked(&path, state);
                    Ok(Some((*oid, odb.quarantine(oid)?)))
                }
                Err(Error::ObjectMissing { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .collect::<Result<_>>()?;
    moved.extend(found.into_iter().flatten());
    Ok(moved)
}

/// Workspace files hard-linked to a corrupt object share its bad bytes under
/// an unchanged stat: the stat cache must not vouch for them any more.
fn forget_linked(object: &std::path::Path, state: &Mutex<State>) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(object) {
        state.lock().unwrap().forget_inodes(&std::collections::HashSet::from([meta.ino()]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

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
        let bad = odb.object_path(&oids[1]);
        fs::set_permissions(&bad, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&bad, "rot").unwrap();
        let state = Mutex::new(State::in_memory());
        let moved = repair(&odb, &oids, &state).unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].0, oids[1]);
        assert_eq!(fs::read(&moved[0].1).unwrap(), b"rot");
        assert!(!odb.exists(&oids[1]) && odb.exists(&oids[0]) && odb.exists(&oids[2]));
        // The good ones are remembered: the next look reads nothing.
        let good = odb.object_path(&oids[0]);
        let stat = stat_of(&fs::metadata(&good).unwrap());
        assert!(state.lock().unwrap().object_verified(&good, &stat, &oids[0]));
        assert!(repair(&odb, &oids, &state).unwrap().is_empty());
    }

    #[test]
    fn a_corrupt_directory_object_is_moved_aside_too() {
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
            let path = odb.object_path(&root);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            fs::write(&path, "not a manifest").unwrap();
            let moved = repair(&odb, &[root], &state).unwrap();
            assert_eq!(moved.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![root], "{algo}");
            assert!(!odb.exists(&root));
        }
    }
}
