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
    let mut objects = native_objects(odb, &native)?;
    let p = plan(odb, &dvc)?;
    objects.extend(p.files.into_iter().chain(p.dirs.into_iter().map(|d| d.object)).map(|o| o.oid));
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
                Err(Error::CorruptObject { .. }) => Ok(Some((*oid, odb.quarantine(oid)?))),
                Err(Error::ObjectMissing { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .collect::<Result<_>>()?;
    Ok(found.into_iter().flatten().collect())
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
}
