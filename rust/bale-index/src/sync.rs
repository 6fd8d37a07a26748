//! What a push or fetch moves, in DVC's remote layout, and in which order.
//!
//! DVC reads a `.dir` object on a remote as "this directory is complete", so a
//! directory's `.dir` may be sent only after every one of its files. The plan
//! therefore lists files and directories apart, each directory with the
//! indexes of its files, and the caller sends a directory only when all of
//! them arrived. The plan is made here, once, for every kind of remote.

use std::collections::{HashMap, HashSet};

use bale_error::{Error, Result};
use bale_hash::{Algo, Oid};
use bale_odb::Odb;
use rayon::prelude::*;

use crate::keys::object_key;
use crate::manifest::Manifest;
use crate::repair::Repair;

/// One object of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedObject {
    pub oid: Oid,
    /// Its path relative to the store root, `/`-separated: the remote key.
    pub key: String,
    /// Its size in the local store; `None` when the local store lacks it.
    pub size: Option<u64>,
}

/// A directory of a plan and the indexes of its files in [`SyncPlan::files`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedDir {
    pub object: PlannedObject,
    pub members: Vec<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// Every file object, each once, in the order the roots list them.
    pub files: Vec<PlannedObject>,
    /// Directory objects; those whose manifest is not in the local store
    /// have no members listed (fetch them first, then plan again).
    pub dirs: Vec<PlannedDir>,
    /// Files of the directories left out because a voucher lists them
    /// ([`plan_push`]).
    pub vouched: u64,
}

/// Plans the objects `roots` need (a fetch's, or what a remote lacks).
pub fn plan(odb: &Odb, roots: &[Oid]) -> Result<SyncPlan> {
    plan_with(odb, roots, &HashSet::new(), None)
}

/// The [`plan`] of a fetch: what the cache holds counts only if it is good
/// (see [`Repair`]); a corrupt object or manifest is moved aside and
/// planned as missing, so the fetch downloads it again.
pub fn plan_repairing(odb: &Odb, roots: &[Oid], repair: &Repair) -> Result<SyncPlan> {
    plan_with(odb, roots, &HashSet::new(), Some(repair))
}

/// The [`plan`] of a push, without the files of the directories that a
/// `voucher` lists: directory objects the remote holds, each vouching for
/// its files (DESIGN.md §12). A voucher the cache cannot read vouches for
/// nothing. Nothing is hashed here: every upload hashes what it reads.
pub fn plan_push(odb: &Odb, roots: &[Oid], vouchers: &[Oid]) -> Result<SyncPlan> {
    let vouched: HashSet<Oid> = vouchers
        .iter()
        .filter_map(|v| Manifest::load(odb, v).ok())
        .flat_map(|m| m.entries.into_iter().map(|e| e.oid))
        .collect();
    plan_with(odb, roots, &vouched, None)
}

fn plan_with(odb: &Odb, roots: &[Oid], vouched: &HashSet<Oid>, repair: Option<&Repair>) -> Result<SyncPlan> {
    if let Some(root) = roots.iter().find(|o| o.algo() == Algo::Blake3) {
        return Err(Error::Unsupported(format!(
            "{root}: blake3 objects sync through the packed remote layout, not DVC's"
        )));
    }
    let mut plan = SyncPlan::default();
    let mut index: HashMap<Oid, u32> = HashMap::new();
    let mut add_file = |plan: &mut SyncPlan, oid: Oid| -> u32 {
        *index.entry(oid).or_insert_with(|| {
            plan.files.push(PlannedObject { oid, key: String::new(), size: None });
            (plan.files.len() - 1) as u32
        })
    };
    let mut seen_dirs = HashSet::new();
    let mut left_out = HashSet::new();
    for root in roots {
        if !root.is_tree() {
            add_file(&mut plan, *root);
            continue;
        }
        if !seen_dirs.insert(*root) {
            continue;
        }
        let loaded = match repair {
            // A corrupt manifest is moved aside: the directory is missing.
            Some(r) => r.walk(|| Manifest::load(odb, root)),
            None => Manifest::load(odb, root),
        };
        let members = match loaded {
            Ok(m) => {
                let mut members = Vec::with_capacity(m.entries.len());
                for e in m.entries {
                    if vouched.contains(&e.oid) {
                        left_out.insert(e.oid);
                    } else {
                        members.push(add_file(&mut plan, e.oid));
                    }
                }
                members
            }
            Err(Error::ObjectMissing { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        plan.dirs.push(PlannedDir { object: PlannedObject { oid: *root, key: String::new(), size: None }, members });
    }
    let describe = |o: &mut PlannedObject| -> Result<()> {
        o.key = object_key(odb, &o.oid);
        o.size = match repair {
            Some(r) => r.cached(&o.oid)?,
            None => local_size(odb, &o.oid),
        };
        Ok(())
    };
    plan.vouched = left_out.len() as u64;
    plan.files.par_iter_mut().try_for_each(describe)?;
    plan.dirs.par_iter_mut().try_for_each(|d| describe(&mut d.object))?;
    Ok(plan)
}

/// Every object the native (blake3) `roots` reach, each once, in tree order
/// (a directory's files together, so a sub-directory pull reads few ranges).
/// A tree the store lacks is listed but not entered: fetch it, then ask again.
pub fn native_objects(odb: &Odb, roots: &[Oid]) -> Result<Vec<Oid>> {
    let mut seen = std::collections::HashSet::new();
    let mut order = Vec::new();
    let mut stack: Vec<Oid> = roots.iter().rev().copied().collect();
    while let Some(oid) = stack.pop() {
        if oid.algo() != Algo::Blake3 {
            return Err(Error::Unsupported(format!("{oid}: only blake3 objects are packed")));
        }
        if !seen.insert(oid) {
            continue;
        }
        order.push(oid);
        if oid.is_tree() && odb.exists(&oid) {
            let children = crate::manifest::tree_children(odb, &oid)?;
            stack.extend(children.into_iter().rev().map(|(c, _)| c));
        }
    }
    Ok(order)
}

/// [`native_objects`] with each object's size in the local store (`None`
/// when the store lacks it), stat-ed in parallel.
pub fn native_closure(odb: &Odb, roots: &[Oid]) -> Result<Vec<(Oid, Option<u64>)>> {
    Ok(native_objects(odb, roots)?
        .into_par_iter()
        .map(|oid| {
            let size = std::fs::metadata(odb.object_path(&oid)).ok().filter(|m| m.is_file()).map(|m| m.len());
            (oid, size)
        })
        .collect())
}

fn local_size(odb: &Odb, oid: &Oid) -> Option<u64> {
    std::fs::metadata(odb.object_path(oid)).ok().filter(|m| m.is_file()).map(|m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;
    use bale_hash::hash_bytes;
    use std::fs;

    fn store_dir(odb: &Odb, files: &[(&str, &str)], tmp: &std::path::Path) -> Oid {
        let dir = tmp.join("d");
        fs::create_dir_all(&dir).unwrap();
        for (name, body) in files {
            fs::write(dir.join(name), body).unwrap();
        }
        let progress = bale_odb::Progress::default();
        let opts = crate::BuildOptions::hashing(Algo::Md5, tmp, &progress).storing(odb);
        crate::build_target(&dir, &opts, &mut State::in_memory()).unwrap().oid
    }

    #[test]
    fn native_closure_lists_every_object_once_in_tree_order() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let dir = d.path().join("d");
        for (rel, body) in [("a/1", "one"), ("a/2", "two"), ("b/1", "one"), ("c", "three")] {
            let p = dir.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, body).unwrap();
        }
        let progress = bale_odb::Progress::default();
        let opts = crate::BuildOptions::hashing(Algo::Blake3, d.path(), &progress).storing(&odb);
        let root = crate::build_target(&dir, &opts, &mut State::in_memory()).unwrap().oid;
        let all = native_closure(&odb, &[root, root]).unwrap();
        let trees = all.iter().filter(|(o, _)| o.is_tree()).count();
        assert_eq!((all.len(), trees), (6, 3), "root, a, b trees; one, two, three blobs");
        assert_eq!(all[0].0, root);
        assert!(all.iter().all(|(_, s)| s.is_some()));
        odb.remove(&root).unwrap();
        let shallow = native_closure(&odb, &[root]).unwrap();
        assert_eq!(shallow, vec![(root, None)], "an absent tree is listed, not entered");
    }

    #[test]
    fn a_push_plan_leaves_out_the_files_a_voucher_lists() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let old = store_dir(&odb, &[("a", "same"), ("b", "kept"), ("c", "old")], d.path());
        fs::write(d.path().join("d/c"), "new").unwrap();
        let new = store_dir(&odb, &[], d.path());
        let p = plan_push(&odb, &[new], &[old]).unwrap();
        assert_eq!(p.files.len(), 1, "only the changed file is planned");
        assert_eq!(p.dirs[0].members, vec![0]);
        assert_eq!(p.vouched, 2);
        let ghost = hash_bytes(Algo::Md5, b"[]", false).as_tree();
        let p = plan_push(&odb, &[new], &[ghost]).unwrap();
        assert_eq!((p.files.len(), p.vouched), (3, 0), "a voucher the cache lacks vouches for nothing");
    }

    #[test]
    fn lists_each_file_once_and_each_dir_with_its_members() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let dir = store_dir(&odb, &[("a", "same"), ("b", "same"), ("c", "other")], d.path());
        let plan = plan_push(&odb, &[dir, dir], &[]).unwrap();
        assert_eq!(plan.files.len(), 2, "a and b share one object");
        assert_eq!(plan.dirs.len(), 1);
        assert_eq!(plan.dirs[0].members, vec![0, 0, 1]);
        assert!(plan.dirs[0].object.key.starts_with("files/md5/") && plan.dirs[0].object.key.ends_with(".dir"));
        assert!(plan.files.iter().all(|f| f.size.is_some()));
    }

    #[test]
    fn a_missing_manifest_plans_no_members() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let ghost = Oid::from_digest(Algo::Md5, &[9; 16], true);
        let p = plan_push(&odb, &[ghost], &[]).unwrap();
        assert_eq!((p.dirs.len(), p.dirs[0].members.len(), p.dirs[0].object.size), (1, 0, None));
    }
}
