//! [`Workspace`]: one repository's engine across the calls of one command:
//! its object store, its stat cache, and what the stat cache is told once
//! the command ends (trees stored whole) or what a fetch moved aside.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bale_error::Result;
use bale_hash::{Algo, Oid};
use bale_odb::{Landing, Odb, Progress, PutOutcome, Transferred};
use rayon::prelude::*;

use crate::build::{build_target, hash_target, BuildOptions, Built};
use crate::repair::Repair;
use crate::sync::SyncPlan;
use crate::{diff_manifests, Manifest, State};

/// A repository's workspace and cache, with the stat cache they share.
pub struct Workspace {
    root: PathBuf,
    odb: Odb,
    state: Mutex<State>,
    /// Trees this process stored whole, marked complete in the stat cache
    /// at [`save`](Self::save): once, after the last write, so one settled
    /// fingerprint of the cache covers them all.
    stored_trees: Mutex<Vec<Oid>>,
    /// Corrupt objects the fetch plans moved aside ([`take_moved_aside`](Self::take_moved_aside)).
    moved_aside: Mutex<Vec<(Oid, PathBuf)>>,
}

/// How the workspace differs from a recorded id ([`Workspace::status`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The workspace's id now; `None` when the path does not exist.
    pub oid: Option<Oid>,
    pub size: u64,
    pub nfiles: Option<u64>,
    pub added: Vec<String>,
    pub deleted: Vec<String>,
    pub modified: Vec<String>,
    /// Whether the recorded object (for a directory, its manifest) is cached.
    pub in_cache: bool,
    /// Files of the recorded directory whose objects are not cached.
    pub not_in_cache: Vec<String>,
    /// Files whose content was read (not answered by the stat cache).
    pub hashed: u64,
}

impl Workspace {
    pub fn new(root: PathBuf, odb: Odb, state: State) -> Self {
        Workspace { root, odb, state: Mutex::new(state), stored_trees: Mutex::default(), moved_aside: Mutex::default() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn odb(&self) -> &Odb {
        &self.odb
    }

    /// The stat cache, for the engines that read or write it (checkout, fetch).
    pub fn state(&self) -> &Mutex<State> {
        &self.state
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// Remembers `oids`, just stored after being hashed on the way, as
    /// verified in the stat cache.
    pub fn record_verified(&self, oids: &[Oid]) {
        self.locked().record_verified(&self.odb, oids);
    }

    /// The size of `oid`'s object if it is in the cache and known good: the
    /// stat cache saw it verified with its (inode, size, mtime) unchanged, or
    /// (with `hash`) it hashes to its id now, which is then remembered.
    /// `None` when it is not there, or not vouched for and `hash` is false.
    /// A corrupt object is a `CorruptObject` error (and stays where it is:
    /// reading does not rearrange the cache).
    pub fn verified_object(&self, oid: &Oid, hash: bool) -> Result<Option<u64>> {
        let path = self.odb.object_path(oid);
        let meta = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            _ => return Ok(None),
        };
        let stat = crate::state::stat_of(&meta);
        if self.locked().object_verified(&stat, oid) {
            return Ok(Some(meta.len()));
        }
        if !hash {
            return Ok(None);
        }
        self.odb.verify(oid)?;
        self.locked().record_object(stat, *oid);
        Ok(Some(meta.len()))
    }

    /// Publishes a finished download if it hashes to its id (else it is
    /// removed, and the error names `source`: see [`Odb::ingest_landed`]);
    /// returns its size. An object stored now is known good.
    pub fn ingest_landed(&self, landing: Landing, source: &str) -> Result<u64> {
        let oid = landing.oid();
        let (hash, outcome) = self.odb.ingest_landed(landing, source)?;
        if outcome == PutOutcome::Stored {
            self.record_verified(&[oid]);
        }
        Ok(hash.size)
    }

    /// The same for downloads held in memory, `(oid, bytes, source)` each:
    /// every one is handled, and the first error comes after. Returns each
    /// object's size.
    pub fn ingest_bytes_many(&self, items: &[(Oid, &[u8], &str)]) -> Result<Vec<u64>> {
        let oids: Vec<Oid> = items.iter().map(|(oid, _, _)| *oid).collect();
        self.publish_all(&oids, |i, oid| {
            let (_, data, source) = items[i];
            Ok((data.len() as u64, self.odb.ingest_bytes(oid, data, source)?))
        })
    }

    /// Runs `publish` for every oid in parallel, remembers each object it
    /// stored (hashed on the way) as verified, and returns the first error
    /// only after every item was handled. Returns each object's size.
    fn publish_all(
        &self,
        oids: &[Oid],
        publish: impl Fn(usize, &Oid) -> Result<(u64, PutOutcome)> + Sync,
    ) -> Result<Vec<u64>> {
        let done: Vec<Result<(u64, PutOutcome)>> =
            oids.par_iter().enumerate().map(|(i, oid)| publish(i, oid)).collect();
        let mut sizes = Vec::with_capacity(done.len());
        let mut stored = Vec::with_capacity(done.len());
        let mut first_error = None;
        for (oid, r) in oids.iter().zip(done) {
            match r {
                Ok((size, outcome)) => {
                    if outcome == PutOutcome::Stored {
                        stored.push(*oid);
                    }
                    sizes.push(size);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        self.record_verified(&stored);
        first_error.map_or(Ok(sizes), Err)
    }

    /// Hashes a file or directory; with `store`, also puts every object in
    /// the cache (see [`BuildOptions`] for `clone` and `previous`).
    pub fn build(
        &self,
        target: &Path,
        algo: Algo,
        store: bool,
        clone: bool,
        previous: Option<Oid>,
        progress: &Progress,
    ) -> Result<Built> {
        let opts =
            BuildOptions { algo, repo_root: &self.root, odb: store.then_some(&self.odb), clone, previous, progress };
        let built = hash_target(target, &opts, &mut self.locked(), &|_, _| false)?;
        if store && built.oid.is_tree() {
            // Every object is in the cache now: said at `save`, so that the
            // first `status` after an `add` need not look for each.
            self.stored_trees.lock().unwrap().push(built.oid);
        }
        Ok(built)
    }

    /// Hashes `target` without storing, with its manifest if a directory.
    pub fn scan(&self, target: &Path, algo: Algo, progress: &Progress) -> Result<Built> {
        build_target(target, &BuildOptions::hashing(algo, &self.root, progress), &mut self.locked())
    }

    /// The manifest of `oid` if it is a tree.
    pub fn manifest_for(&self, oid: &Oid) -> Result<Option<Manifest>> {
        if oid.is_tree() {
            Manifest::load(&self.odb, oid).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The files of the stored tree `oid` whose objects the cache lacks, by
    /// path in the tree, sorted; an error if the tree itself cannot be read
    /// ([`Manifest::load`]'s). A tree found complete before, with no object
    /// come or gone since, is answered by the stat cache without reading
    /// it; one found complete now is remembered so.
    pub fn absent_files(&self, oid: &Oid) -> Result<Vec<String>> {
        let fingerprint = self.odb.area_fingerprint(oid.algo());
        if fingerprint.is_some_and(|f| self.locked().tree_complete(oid, f)) {
            return Ok(Vec::new());
        }
        let m = Manifest::load(&self.odb, oid)?;
        let presence = self.odb.presence(oid.algo(), m.entries.len());
        let absent: Vec<String> = m.entries.into_par_iter().filter(|e| !presence.has(&e.oid)).map(|e| e.rel).collect();
        if let (Some(f), true) = (fingerprint, absent.is_empty()) {
            self.locked().record_tree_complete(*oid, f);
        }
        Ok(absent)
    }

    /// Compares the workspace at `target` with the `recorded` id.
    pub fn status(&self, target: &Path, algo: Algo, recorded: Option<Oid>, progress: &Progress) -> Result<Status> {
        let in_cache = recorded.map(|o| self.odb.has(&o)).unwrap_or(false);
        let uncached = |m: &Manifest| -> Vec<String> {
            m.entries.par_iter().filter(|e| !self.odb.has(&e.oid)).map(|e| e.rel.clone()).collect()
        };
        let recorded_manifest = || -> Result<Option<Manifest>> {
            match recorded {
                Some(o) if o.is_tree() && in_cache => self.manifest_for(&o),
                _ => Ok(None),
            }
        };
        if std::fs::symlink_metadata(target).is_err() {
            let old = recorded_manifest()?;
            return Ok(Status {
                not_in_cache: old.as_ref().map(uncached).unwrap_or_default(),
                deleted: old.map(|m| m.entries.into_iter().map(|e| e.rel).collect()).unwrap_or_default(),
                in_cache,
                ..Status::default()
            });
        }
        let opts = BuildOptions::hashing(algo, &self.root, progress);
        let same = |oid: &Oid| recorded.is_some_and(|r| r.digest() == oid.digest() && r.is_tree() == oid.is_tree());
        // A tree found complete before, with no object come or gone since,
        // is complete now: no need to look for each member. A file has no
        // members (`in_cache` says it all), so it needs no fingerprint of
        // the cache area.
        let fingerprint = recorded.filter(Oid::is_tree).and_then(|_| self.odb.area_fingerprint(algo));
        let known = |oid: &Oid, state: &State| fingerprint.is_some_and(|f| state.tree_complete(oid, f));
        // Only an unchanged, complete tree can be answered without its files.
        let wants_files = |oid: &Oid, state: &State| !(same(oid) && known(oid, state));
        let now = hash_target(target, &opts, &mut self.locked(), &wants_files)?;
        let (mut added, mut deleted, mut modified) = (vec![], vec![], vec![]);
        let same = same(&now.oid);
        let known = same && known(&now.oid, &self.locked());
        // Unchanged: the workspace's own listing has the recorded ids, so
        // the recorded manifest need not be read at all.
        let not_in_cache = if same {
            if known {
                Vec::new()
            } else {
                let missing = now.manifest.as_ref().map(uncached).unwrap_or_default();
                if let (Some(f), true, true) = (fingerprint, missing.is_empty(), in_cache) {
                    self.locked().record_tree_complete(now.oid, f);
                }
                missing
            }
        } else {
            let old = recorded_manifest()?;
            match (&old, &now.manifest) {
                (Some(o), Some(n)) => {
                    let d = diff_manifests(o, n);
                    (added, deleted, modified) = (d.added, d.deleted, d.modified);
                }
                _ => modified.push(String::new()),
            }
            old.as_ref().map(uncached).unwrap_or_default()
        };
        Ok(Status {
            oid: Some(now.oid),
            size: now.size,
            nfiles: now.nfiles,
            added,
            deleted,
            modified,
            in_cache,
            not_in_cache,
            hashed: now.hashed,
        })
    }

    /// Runs `f` with a [`Repair`] of the cache, keeping what it moved aside
    /// for [`take_moved_aside`](Self::take_moved_aside).
    pub fn repairing<T>(&self, f: impl FnOnce(&Repair) -> Result<T>) -> Result<T> {
        let repair = Repair::new(&self.odb, &self.state);
        let out = f(&repair);
        self.moved_aside.lock().unwrap().extend(repair.into_moved());
        out
    }

    /// What a push or fetch of `roots` moves (see [`crate::sync::plan`]).
    /// With `repair` (a fetch's plan), what the cache holds counts only if
    /// it is good: a corrupt object is moved aside and planned as missing.
    pub fn sync_plan(&self, roots: &[Oid], repair: bool) -> Result<SyncPlan> {
        if !repair {
            return crate::sync::plan(&self.odb, roots);
        }
        self.repairing(|r| crate::sync::plan_repairing(&self.odb, roots, r))
    }

    /// The corrupt objects moved aside since the last call, with where each went.
    pub fn take_moved_aside(&self) -> Vec<(Oid, PathBuf)> {
        std::mem::take(&mut *self.moved_aside.lock().unwrap())
    }

    /// Copies objects between the cache and `remote`, a store with the same
    /// layout (`push`: cache to remote; else remote to cache). Every object
    /// is hashed on the way, both ways (DESIGN.md §12), so what was copied
    /// is recorded as known good.
    pub fn transfer(&self, remote: &Odb, oids: &[Oid], push: bool, progress: &Progress) -> Result<Transferred> {
        let (src, dst) = if push { (&self.odb, remote) } else { (remote, &self.odb) };
        let t = bale_odb::transfer(src, dst, oids, progress)?;
        // The cache's side of each copy, as its worker saw it: the file
        // read (push) or the file that landed (fetch).
        let mut state = self.locked();
        let mut landed_elsewhere = Vec::new();
        for v in &t.verified {
            match if push { Some(v.source) } else { v.landed } {
                Some(stat) => state.record_object(stat, v.oid),
                None => landed_elsewhere.push(v.oid),
            }
        }
        state.record_verified(&self.odb, &landed_elsewhere);
        drop(state);
        Ok(t)
    }

    /// Removes the temp files of bale processes that are no longer running
    /// (killed): in the cache, in each of `dirs`, and anywhere below each of
    /// `trees`. Returns the paths removed.
    pub fn sweep_temps(&self, dirs: &[PathBuf], trees: &[PathBuf]) -> Result<Vec<PathBuf>> {
        let mut removed: Vec<PathBuf> = Vec::new();
        for (path, _) in self.odb.stale_temps()? {
            if std::fs::remove_file(&path).is_ok() {
                removed.push(path);
            }
        }
        let places: Vec<(&PathBuf, bool)> =
            dirs.iter().map(|d| (d, false)).chain(trees.iter().map(|t| (t, true))).collect();
        // A writer of this repository was killed: its temps go now.
        let now = std::time::Duration::ZERO;
        let swept: Vec<Vec<PathBuf>> =
            places.par_iter().map(|(p, deep)| bale_odb::fs::sweep_temps(p, *deep, now)).collect();
        removed.extend(swept.into_iter().flatten());
        Ok(removed)
    }

    /// Marks the trees stored whole as complete, under the settled
    /// fingerprint of their area, and saves the stat cache.
    pub fn save(&self) -> Result<()> {
        let trees = std::mem::take(&mut *self.stored_trees.lock().unwrap());
        let mut state = self.locked();
        let mut fingerprints = HashMap::new();
        for oid in trees {
            let algo = oid.algo();
            let f = *fingerprints.entry(algo).or_insert_with(|| self.odb.settled_area_fingerprint(algo));
            if let Some(f) = f {
                state.record_tree_complete(oid, f);
            }
        }
        state.save()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_error::Error;
    use bale_hash::hash_bytes;
    use std::fs;

    fn workspace(dir: &Path) -> Workspace {
        let root = dir.join("repo");
        fs::create_dir_all(&root).unwrap();
        Workspace::new(root, Odb::new(dir.join("cache")), State::in_memory())
    }

    fn verified(ws: &Workspace, oid: &Oid) -> bool {
        let path = ws.odb().object_path(oid);
        let stat = crate::state::stat_of(&fs::metadata(&path).unwrap());
        ws.state().lock().unwrap().object_verified(&stat, oid)
    }

    #[test]
    fn ingesting_many_handles_every_item_records_the_stored_and_returns_the_first_error() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        let oids: Vec<Oid> =
            [b"one" as &[u8], b"two", b"three"].iter().map(|b| hash_bytes(Algo::Md5, b, false)).collect();
        let items: Vec<(Oid, &[u8], &str)> =
            vec![(oids[0], b"one", "a"), (oids[1], b"bad", "b"), (oids[2], b"three", "c")];
        let err = ws.ingest_bytes_many(&items).unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }));
        // The items after the failed one were still published, and known good.
        for i in [0, 2] {
            assert!(ws.odb().exists(&oids[i]) && verified(&ws, &oids[i]));
        }
        assert!(!ws.odb().exists(&oids[1]));
        assert_eq!(ws.ingest_bytes_many(&[(oids[0], b"one", "a"), (oids[2], b"three", "c")]).unwrap(), vec![3, 5]);
        let landing = ws.odb().landing(&oids[1]).unwrap();
        landing.write(0, b"two").unwrap();
        assert_eq!(ws.ingest_landed(landing, "d").unwrap(), 3);
        assert!(verified(&ws, &oids[1]));
    }

    #[test]
    fn a_tree_stored_whole_is_complete_after_save_and_status_needs_no_look() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        let data = ws.root().join("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("a"), b"a").unwrap();
        let p = Progress::default();
        let built = ws.build(&data, Algo::Md5, true, false, None, &p).unwrap();
        assert!(built.oid.is_tree());
        ws.save().unwrap();
        let f = ws.odb().settled_area_fingerprint(Algo::Md5).expect("settled");
        assert!(ws.state().lock().unwrap().tree_complete(&built.oid, f));
        let st = ws.status(&data, Algo::Md5, Some(built.oid), &p).unwrap();
        assert_eq!((st.oid, st.in_cache, st.not_in_cache.len()), (Some(built.oid), true, 0));
    }

    #[test]
    fn absent_files_are_named_and_a_complete_tree_is_remembered_until_an_object_goes() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        let data = ws.root().join("data");
        fs::create_dir_all(data.join("sub")).unwrap();
        fs::write(data.join("a"), b"a").unwrap();
        fs::write(data.join("sub/b"), b"b").unwrap();
        let p = Progress::default();
        let built = ws.build(&data, Algo::Md5, true, false, None, &p).unwrap();
        let b = hash_bytes(Algo::Md5, b"b", false);
        fs::remove_file(ws.odb().object_path(&b)).unwrap();
        assert_eq!(ws.absent_files(&built.oid).unwrap(), ["sub/b"]);
        ws.odb().put_bytes(&b, b"b").unwrap();
        let f = ws.odb().settled_area_fingerprint(Algo::Md5).expect("settled");
        assert!(ws.absent_files(&built.oid).unwrap().is_empty());
        assert!(ws.state().lock().unwrap().tree_complete(&built.oid, f));
        // An object gone since moves the fingerprint: the tree is read again.
        fs::remove_file(ws.odb().object_path(&hash_bytes(Algo::Md5, b"a", false))).unwrap();
        assert_eq!(ws.absent_files(&built.oid).unwrap(), ["a"]);
        // A tree the cache lacks is an error, as reading it is.
        fs::remove_file(ws.odb().object_path(&built.oid)).unwrap();
        assert!(matches!(ws.absent_files(&built.oid), Err(Error::ObjectMissing { .. })));
    }

    #[test]
    fn status_of_a_missing_target_lists_the_recorded_files_as_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        let data = ws.root().join("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("a"), b"a").unwrap();
        let p = Progress::default();
        let built = ws.build(&data, Algo::Md5, true, false, None, &p).unwrap();
        fs::remove_dir_all(&data).unwrap();
        let st = ws.status(&data, Algo::Md5, Some(built.oid), &p).unwrap();
        assert_eq!(st.oid, None);
        assert_eq!(st.deleted, vec!["a".to_owned()]);
        assert!(st.in_cache && st.not_in_cache.is_empty());
    }

    #[test]
    fn a_transfer_records_what_it_copied_as_verified() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        let remote = Odb::new(dir.path().join("remote"));
        let oid = hash_bytes(Algo::Md5, b"x", false);
        remote.put_bytes(&oid, b"x").unwrap();
        let t = ws.transfer(&remote, &[oid], false, &Progress::default()).unwrap();
        assert_eq!(t.copied, 1);
        assert!(verified(&ws, &oid));
        // A push hashes the cache's objects on the way out: they are known good too.
        let pushed = hash_bytes(Algo::Md5, b"y", false);
        ws.odb().put_bytes(&pushed, b"y").unwrap();
        assert!(!verified(&ws, &pushed));
        let t = ws.transfer(&Odb::new(dir.path().join("other")), &[pushed], true, &Progress::default()).unwrap();
        assert_eq!(t.copied, 1);
        assert!(verified(&ws, &pushed));
    }

    #[test]
    fn a_verified_object_is_hashed_once_and_a_corrupt_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let ws = workspace(dir.path());
        let oid = hash_bytes(Algo::Md5, b"data", false);
        assert_eq!(ws.verified_object(&oid, true).unwrap(), None, "not in the cache");
        ws.odb().put_bytes(&oid, b"data").unwrap();
        assert_eq!(ws.verified_object(&oid, false).unwrap(), None, "not vouched for, not hashed");
        assert_eq!(ws.verified_object(&oid, true).unwrap(), Some(4));
        assert_eq!(ws.verified_object(&oid, false).unwrap(), Some(4), "remembered");
        let bad = hash_bytes(Algo::Md5, b"other", false);
        ws.odb().put_bytes(&bad, b"data").unwrap(); // put_bytes trusts its caller
        let path = ws.odb().object_path(&bad);
        assert!(matches!(ws.verified_object(&bad, true), Err(Error::CorruptObject { .. })));
        assert!(path.exists(), "left where it is");
    }
}
