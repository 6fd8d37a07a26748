//! Plan, check, apply.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use bale_error::{Error, IoContext, Result};
use bale_hash::{hash_file, Oid};
use bale_index::build::{state_key, Progress};
use bale_index::ignore::rules_for;
use bale_index::state::stat_of;
use bale_index::walk::walk;
use bale_index::{Manifest, State};
use bale_odb::Odb;
use rayon::prelude::*;

use crate::link::{write_private, LinkType, Linker};

pub struct CheckoutOptions<'a> {
    pub odb: &'a Odb,
    pub repo_root: &'a Path,
    pub linker: &'a Linker,
    /// Overwrite or delete workspace changes that are not in the cache.
    pub force: bool,
    /// Re-create every file even where the content already matches.
    pub relink: bool,
    /// Only re-link files whose content already matches (after `add` with a
    /// link cache type): create nothing, delete nothing, overwrite nothing
    /// that changed since it was hashed.
    pub relink_matching_only: bool,
    pub progress: &'a Progress,
}

#[derive(Clone, Debug, Default)]
pub struct CheckoutStats {
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub deleted: Vec<String>,
    pub unchanged: u64,
    /// Objects that are not in the cache (their files were left alone).
    pub missing: Vec<String>,
    /// Entries of the manifest named like bale's temp files (an older bale
    /// recorded a linked workspace's leftovers as data): never written.
    pub skipped_temps: Vec<String>,
    pub link_type: Option<LinkType>,
}

/// A workspace file checkout would overwrite or delete although its content
/// is not in the cache.
#[derive(Clone, Debug)]
pub struct Conflict {
    pub path: PathBuf,
}

/// A workspace file with its hash, and the state entry to record if it was read.
type Hashed = (String, PathBuf, Oid, Option<(String, bale_index::Stat)>);

/// One file a worker wrote, for the state to record afterwards.
struct Written {
    existed: bool,
    key: String,
    stat: bale_index::Stat,
    /// The object, if this worker verified it now.
    verified: Option<bale_index::Stat>,
}

/// Files linked per batch (see `checkout`).
const BATCH: usize = 16 * 1024;

enum Want {
    File { oid: Oid, exec: bool },
    Tree(Manifest),
}

/// Checks out `oid` (a file object, or a tree given with its `manifest`) at
/// `dest`. For a tree, files under `dest` that the tree does not hold are
/// deleted, except ignored ones.
pub fn checkout(
    dest: &Path,
    oid: &Oid,
    exec: bool,
    manifest: Option<Manifest>,
    opts: &CheckoutOptions,
    state: &mut State,
) -> Result<CheckoutStats> {
    // Files the cache may hold as chunks only (DESIGN.md §13.0).
    let large: Vec<Oid> = match &manifest {
        Some(m) => m.entries.iter().filter(|e| bale_odb::chunked(e.oid.algo(), e.size)).map(|e| e.oid).collect(),
        None => vec![*oid],
    };
    let want = match manifest {
        Some(m) => Want::Tree(m),
        None => Want::File { oid: *oid, exec },
    };
    // What is there now, with the hashes the state or a read gives.
    let mut current: HashMap<String, (PathBuf, Oid)> = HashMap::new();
    let algo = oid.algo();
    let dest_meta = fs::symlink_metadata(dest).ok();
    match (&want, &dest_meta) {
        (Want::File { .. }, Some(m)) if m.is_dir() => {
            if !opts.force {
                return Err(Error::CheckoutConflict { first: dest.to_path_buf(), count: 1 });
            }
            fs::remove_dir_all(dest).at(dest)?;
        }
        (Want::Tree(_), Some(m)) if !m.is_dir() => {
            if !opts.force {
                return Err(Error::CheckoutConflict { first: dest.to_path_buf(), count: 1 });
            }
            fs::remove_file(dest).at(dest)?;
        }
        _ => {}
    }
    let files_now: Vec<(String, PathBuf)> = match (&want, dest.exists()) {
        (_, false) => Vec::new(),
        (Want::File { .. }, true) => vec![(String::new(), dest.to_path_buf())],
        (Want::Tree(_), true) => {
            let rules = rules_for(opts.repo_root, dest.parent().unwrap_or(opts.repo_root))?;
            walk(dest, &rules)?
                .files
                .into_iter()
                .map(|f| {
                    let abs = dest.join(&f.rel);
                    (f.rel, abs)
                })
                .collect()
        }
    };
    let hashed: Vec<Result<Hashed>> = files_now
        .into_par_iter()
        .map(|(rel, abs)| {
            let meta = fs::metadata(&abs).at(&abs)?;
            let stat = stat_of(&meta);
            let key = state_key(opts.repo_root, &abs)?;
            if let Some(oid) = state.get(&key, &stat, algo) {
                return Ok((rel, abs, oid, None));
            }
            let oid = hash_file(&abs, algo)?.oid;
            Ok((rel, abs, oid, Some((key, stat))))
        })
        .collect();
    for h in hashed {
        let (rel, abs, oid, fresh) = h?;
        if let Some((key, stat)) = fresh {
            state.record_hashed(key, stat, oid);
        }
        current.insert(rel, (abs, oid));
    }

    // Plan. Paths are joined to `dest` only where a file is touched: for a
    // directory of 100,000 files this part runs on one thread.
    let abs_of = |rel: &str| if rel.is_empty() { dest.to_path_buf() } else { dest.join(rel) };
    let mut stats = CheckoutStats::default();
    let wanted: Vec<(&str, Oid, bool)> = match &want {
        Want::File { oid, exec } => vec![("", *oid, *exec)],
        Want::Tree(m) => {
            let (temps, data): (Vec<_>, Vec<_>) = m.entries.iter().partition(|e| is_temp_name(&e.rel));
            stats.skipped_temps = temps.into_iter().map(|e| e.rel.clone()).collect();
            data.into_iter().map(|e| (e.rel.as_str(), e.oid, e.exec)).collect()
        }
    };
    let mut writes: Vec<(&str, Oid, bool, bool)> = Vec::new(); // rel, oid, exec, existed
    let mut conflicts: Vec<PathBuf> = Vec::new();
    // A file hard-linked to a cache object that was found corrupt (and moved
    // aside) holds those bad bytes: replacing it loses nothing.
    let corrupt: std::collections::HashSet<u64> = {
        use std::os::unix::fs::MetadataExt;
        opts.odb.quarantined().iter().filter_map(|(p, _)| fs::metadata(p).ok().map(|m| m.ino())).collect()
    };
    let unsaved = |abs: &Path, now: &Oid| {
        use std::os::unix::fs::MetadataExt;
        !opts.force && !opts.odb.has(now) && !fs::metadata(abs).is_ok_and(|m| corrupt.contains(&m.ino()))
    };
    for &(rel, oid, exec) in &wanted {
        match current.remove(rel) {
            Some((abs, now)) if now.digest() == oid.digest() && !opts.relink => {
                stats.unchanged += 1;
                // The exec bit is restored even when the content matches.
                if exec {
                    set_exec(&abs)?;
                }
            }
            Some((_, now)) if opts.relink_matching_only && now.digest() != oid.digest() => {}
            Some((abs, now)) => {
                if now.digest() != oid.digest() && unsaved(&abs, &now) {
                    conflicts.push(abs);
                }
                writes.push((rel, oid, exec, true));
            }
            None if opts.relink_matching_only => {}
            None => writes.push((rel, oid, exec, false)),
        }
    }
    if opts.relink_matching_only {
        current.clear();
    }
    let mut deletes: Vec<(String, PathBuf)> = current
        .into_iter()
        .map(|(rel, (abs, oid))| {
            if unsaved(&abs, &oid) {
                conflicts.push(abs.clone());
            }
            (rel, abs)
        })
        .collect();
    deletes.sort();
    // Every directory the writes go through, from `dest` down ("" is `dest`
    // itself), parents first. The walk does not follow a symlinked
    // directory, so nothing behind one was checked: writing through it could
    // overwrite files anywhere. It is a conflict; with --force the link
    // itself (never its target) is replaced.
    let mut rel_dirs: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    let mut last_parent = None;
    for &(rel, ..) in &writes {
        if rel.is_empty() {
            continue; // `dest` is the file
        }
        let parent = parent_rel(rel);
        if last_parent == Some(parent) {
            continue; // manifest order: a directory's files come together
        }
        last_parent = Some(parent);
        let mut d = parent;
        while rel_dirs.insert(d) && !d.is_empty() {
            d = parent_rel(d);
        }
    }
    let dirs: Vec<PathBuf> = rel_dirs.into_iter().map(abs_of).collect();
    let mut links_to_replace = Vec::new();
    for d in &dirs {
        match fs::symlink_metadata(d) {
            Ok(m) if m.file_type().is_symlink() => {
                if opts.force {
                    links_to_replace.push(d.to_path_buf());
                } else {
                    conflicts.push(d.to_path_buf());
                }
            }
            _ => {}
        }
    }
    if !conflicts.is_empty() {
        conflicts.sort();
        return Err(Error::CheckoutConflict { first: conflicts[0].clone(), count: conflicts.len() });
    }

    // Files held as chunks only, among those written now (a rebuild is a
    // full write): where the workspace gets a copy anyway, each is rebuilt
    // straight into it (verified), which writes it once and adds nothing to
    // the cache; else into the cache, before anything is linked.
    let mut rebuild_here: std::collections::HashSet<Oid> = std::collections::HashSet::new();
    if !large.is_empty() {
        let written: std::collections::HashSet<&Oid> = writes.iter().map(|w| &w.1).collect();
        let copies = opts.linker.copies(opts.odb.clones());
        let (here, cached): (Vec<Oid>, Vec<Oid>) = large
            .into_iter()
            .filter(|o| written.contains(o))
            .partition(|o| copies && !opts.odb.exists(o) && opts.odb.has_list(o));
        rebuild_here.extend(here);
        // A rebuild hashed every byte it wrote: no second read to verify.
        state.record_verified(opts.odb, &opts.odb.restore(&cached)?);
    }
    // Verify every object before it reaches the workspace.
    opts.progress.total.store(writes.len() as u64, Ordering::Relaxed);
    // Deletions first (all proven safe above): a file that stands where a
    // directory is wanted, or a directory where a file is wanted, goes first.
    for (rel, abs) in deletes {
        fs::remove_file(&abs).at(&abs)?;
        state.forget(&state_key(opts.repo_root, &abs)?);
        remove_empty_parents(&abs, dest);
        stats.deleted.push(rel);
    }
    for link in links_to_replace {
        fs::remove_file(&link).at(&link)?;
    }
    // Parents first, once each, so that no worker stats its directory.
    if let Some(top) = dest.parent().filter(|_| !writes.is_empty()) {
        fs::create_dir_all(top).at(top)?;
    }
    for d in &dirs {
        fs::create_dir_all(d).at(d)?;
    }
    // A file written, as the stat cache and the stats will know it.
    let written = |abs: &Path, existed: bool, stat: bale_index::Stat, verified| {
        opts.progress.done.fetch_add(1, Ordering::Relaxed);
        opts.progress.bytes.fetch_add(stat.size, Ordering::Relaxed);
        let key = state_key(opts.repo_root, abs)?;
        Ok(Some(Written { existed, key, stat, verified }))
    };
    let (direct, linked): (Vec<_>, Vec<_>) = writes.into_iter().partition(|w| rebuild_here.contains(&w.1));
    let only_rebuilt = linked.is_empty() && !direct.is_empty();
    let mut results: Vec<Result<Option<Written>>> = Vec::with_capacity(direct.len());
    if !direct.is_empty() {
        let chunks = bale_odb::LocalChunks::scan(opts.odb)?;
        for &(rel, oid, exec, existed) in &direct {
            opts.progress.check()?;
            let abs = abs_of(rel);
            let rebuilt = write_private(&abs, exec, |f| opts.odb.rebuild_into(&oid, &chunks, f));
            results.push(rebuilt.and_then(|meta| written(&abs, existed, stat_of(&meta), None)));
        }
    }
    // Inodes of objects found corrupt and moved aside (see below).
    let rotten = std::sync::Mutex::new(std::collections::HashSet::new());
    let mut first_err = None;
    let mut record = |state: &mut State, results: Vec<Result<Option<Written>>>, writes: &[(&str, Oid, bool, bool)]| {
        for (r, &(rel, oid, ..)) in results.into_iter().zip(writes) {
            match r {
                Ok(Some(w)) => {
                    if let Some(ostat) = w.verified {
                        state.record_object(ostat, oid);
                    }
                    state.record_written(w.key, w.stat, oid);
                    if w.existed {
                        stats.modified.push(rel.to_owned());
                    } else {
                        stats.added.push(rel.to_owned());
                    }
                }
                Ok(None) => stats.missing.push(rel.to_owned()),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
    };
    record(state, results, &direct);
    // In batches, each recorded before the next is linked: no result per
    // file is held for the whole tree.
    for batch in linked.chunks(BATCH) {
        let shared: &State = state;
        let linked_results: Vec<Result<Option<Written>>> = batch
            .par_iter()
            .map(|&(rel, oid, exec, existed)| {
                opts.progress.check()?;
                let object = opts.odb.object_path(&oid);
                let Ok(ometa) = fs::metadata(&object) else {
                    return Ok(None); // missing: reported, file left alone
                };
                let ostat = stat_of(&ometa);
                let verified = if shared.object_verified(&ostat, &oid) {
                    None
                } else {
                    let got = hash_file(&object, oid.algo())?;
                    if got.oid.digest() != oid.digest() {
                        // Out of the way, so that a fetch downloads a good copy
                        // (another worker may have moved it already); files
                        // linked to it share its bytes.
                        let _ = opts.odb.quarantine(&oid);
                        rotten.lock().unwrap().insert(ostat.inode);
                        return Err(Error::CorruptObject {
                            path: object,
                            expected: oid.to_string(),
                            actual: got.oid.hex_digest(),
                        });
                    }
                    Some(ostat)
                };
                let abs = abs_of(rel);
                let (_, meta) = opts.linker.link(&object, &abs, exec)?;
                written(&abs, existed, meta.as_ref().map(stat_of).unwrap_or(ostat), verified)
            })
            .collect();
        record(state, linked_results, batch);
    }
    // After every record: a file recorded in an earlier batch may share the
    // inode of an object found corrupt in a later one.
    state.forget_inodes(&rotten.into_inner().unwrap());
    if let Some(e) = first_err {
        return Err(e);
    }
    if let Want::Tree(m) = &want {
        fs::create_dir_all(dest).at(dest)?;
        for d in &m.empty_dirs {
            let p = dest.join(d);
            fs::create_dir_all(&p).at(&p)?;
        }
    }
    stats.link_type = (!stats.added.is_empty() || !stats.modified.is_empty()).then(|| {
        if only_rebuilt {
            LinkType::Copy
        } else {
            opts.linker.in_use()
        }
    });
    Ok(stats)
}

fn set_exec(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(path).at(path)?;
    if meta.file_type().is_symlink() || meta.permissions().mode() & 0o100 != 0 || meta.permissions().mode() & 0o200 == 0
    {
        return Ok(()); // links into the cache keep the object's mode
    }
    let mode = meta.permissions().mode() | 0o100;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).at(path)
}

/// Whether a manifest path's last component is named like bale's temp files.
fn is_temp_name(rel: &str) -> bool {
    bale_odb::fs::temp_owner(rel.rsplit('/').next().unwrap_or(rel)).is_some()
}

/// The directory holding `rel` ("" for the top).
fn parent_rel(rel: &str) -> &str {
    rel.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// Removes directories emptied by deletions, up to (not including) `stop`.
fn remove_empty_parents(file: &Path, stop: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == stop || !d.starts_with(stop) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Makes `target` hold `oid` (a file, or a tree), as [`checkout`] does;
/// `subpath` (names joined by `/`) limits it to one file or sub-directory
/// of a directory output. The stat cache's records are parsed while the
/// manifest is read.
pub fn checkout_output(
    target: &Path,
    oid: &Oid,
    exec: bool,
    subpath: Option<&str>,
    opts: &CheckoutOptions,
    state: &mut State,
) -> Result<CheckoutStats> {
    let shared: &State = state;
    let (_, picked) = rayon::join(|| shared.warm(), || pick(opts.odb, target, oid, exec, subpath));
    let (dest, want, exec, manifest) = picked?;
    checkout(&dest, &want, exec, manifest, opts, state)
}

/// What a checkout of `subpath` of `oid` at `target` writes where:
/// `(destination, id, exec, manifest)`.
fn pick(
    odb: &Odb,
    target: &Path,
    oid: &Oid,
    exec: bool,
    subpath: Option<&str>,
) -> Result<(PathBuf, Oid, bool, Option<Manifest>)> {
    let Some(sub) = subpath.filter(|s| !s.is_empty()) else {
        let manifest = if oid.is_tree() { Some(Manifest::load(odb, oid)?) } else { None };
        return Ok((target.to_path_buf(), *oid, exec, manifest));
    };
    let mut m = Manifest::load_under(odb, oid, sub)?;
    let dest = target.join(sub);
    if m.entries.len() == 1 && m.entries[0].rel == sub {
        let e = &m.entries[0];
        return Ok((dest, e.oid, e.exec, None));
    }
    let prefix = format!("{sub}/");
    for e in &mut m.entries {
        e.rel = e.rel.strip_prefix(&prefix).unwrap_or(&e.rel).to_owned();
    }
    m.empty_dirs = m.empty_dirs.iter().filter_map(|d| d.strip_prefix(&prefix).map(str::to_owned)).collect();
    if m.entries.is_empty() && m.empty_dirs.is_empty() {
        return Err(Error::NotFound { path: dest });
    }
    Ok((dest, *oid, false, Some(m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_hash::Algo;
    use bale_index::build::{build_target, BuildOptions};

    struct Repo {
        _d: tempfile::TempDir,
        root: PathBuf,
        odb: Odb,
    }

    fn repo() -> Repo {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_path_buf();
        let odb = Odb::new(root.join(".dvc/cache"));
        Repo { _d: d, root, odb }
    }

    fn add(r: &Repo, target: &Path, algo: Algo) -> bale_index::Built {
        let p = Progress::default();
        let opts = BuildOptions::hashing(algo, &r.root, &p).storing(&r.odb);
        build_target(target, &opts, &mut State::in_memory()).unwrap()
    }

    fn run(r: &Repo, dest: &Path, b: &bale_index::Built, force: bool, types: Vec<LinkType>) -> Result<CheckoutStats> {
        run_with(r, dest, b, force, types, false)
    }

    fn run_with(
        r: &Repo,
        dest: &Path,
        b: &bale_index::Built,
        force: bool,
        types: Vec<LinkType>,
        relink_matching_only: bool,
    ) -> Result<CheckoutStats> {
        let p = Progress::default();
        let linker = Linker::new(types);
        let opts = CheckoutOptions {
            odb: &r.odb,
            repo_root: &r.root,
            linker: &linker,
            force,
            relink: relink_matching_only,
            relink_matching_only,
            progress: &p,
        };
        checkout(dest, &b.oid, b.exec, b.manifest.clone(), &opts, &mut State::in_memory())
    }

    #[test]
    fn restores_a_deleted_tree_and_prunes_extra_files() {
        let r = repo();
        let data = r.root.join("data");
        fs::create_dir_all(data.join("s")).unwrap();
        fs::write(data.join("a"), b"a").unwrap();
        fs::write(data.join("s/b"), b"b").unwrap();
        fs::create_dir_all(data.join("e")).unwrap();
        let built = add(&r, &data, Algo::Blake3);
        fs::remove_dir_all(&data).unwrap();
        let st = run(&r, &data, &built, false, vec![LinkType::Hardlink]).unwrap();
        assert_eq!(st.added, ["a", "s/b"]);
        assert!(data.join("e").is_dir(), "native trees keep empty directories");
        // An extra file whose content is in the cache may go without --force.
        fs::copy(data.join("a"), data.join("extra")).unwrap();
        let st = run(&r, &data, &built, false, vec![LinkType::Copy]).unwrap();
        assert_eq!(st.deleted, ["extra"]);
    }

    #[test]
    fn relinking_after_add_touches_only_files_that_still_match() {
        let r = repo();
        let data = r.root.join("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("a"), b"a").unwrap();
        fs::write(data.join("b"), b"b").unwrap();
        let built = add(&r, &data, Algo::Md5);
        // Edits made while the add was hashing:
        fs::write(data.join("b"), b"edited").unwrap();
        fs::write(data.join("new"), b"created").unwrap();
        let st = run_with(&r, &data, &built, false, vec![LinkType::Hardlink], true).unwrap();
        assert_eq!(st.modified, ["a"]);
        assert!(st.deleted.is_empty());
        assert_eq!(fs::read(data.join("b")).unwrap(), b"edited");
        assert_eq!(fs::read(data.join("new")).unwrap(), b"created");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(fs::metadata(data.join("a")).unwrap().nlink(), 2);
    }

    #[test]
    fn a_path_may_switch_between_file_and_directory() {
        let r = repo();
        let data = r.root.join("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("a"), b"file").unwrap();
        let v1 = add(&r, &data, Algo::Md5);
        fs::remove_file(data.join("a")).unwrap();
        fs::create_dir_all(data.join("a")).unwrap();
        fs::write(data.join("a/x"), b"inside").unwrap();
        let v2 = add(&r, &data, Algo::Md5);
        run(&r, &data, &v1, false, vec![LinkType::Copy]).unwrap();
        assert_eq!(fs::read(data.join("a")).unwrap(), b"file");
        run(&r, &data, &v2, false, vec![LinkType::Copy]).unwrap();
        assert_eq!(fs::read(data.join("a/x")).unwrap(), b"inside");
    }

    #[test]
    fn never_writes_through_a_symlinked_sub_directory() {
        let r = repo();
        let data = r.root.join("data");
        fs::create_dir_all(data.join("sub")).unwrap();
        fs::write(data.join("sub/x"), b"v1").unwrap();
        let built = add(&r, &data, Algo::Md5);
        fs::remove_dir_all(data.join("sub")).unwrap();
        let elsewhere = r.root.join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        fs::write(elsewhere.join("x"), b"precious").unwrap();
        std::os::unix::fs::symlink(&elsewhere, data.join("sub")).unwrap();
        let err = run(&r, &data, &built, false, vec![LinkType::Copy]).unwrap_err();
        assert!(matches!(err, Error::CheckoutConflict { .. }));
        assert_eq!(fs::read(elsewhere.join("x")).unwrap(), b"precious");
        run(&r, &data, &built, true, vec![LinkType::Copy]).unwrap();
        assert_eq!(fs::read(elsewhere.join("x")).unwrap(), b"precious", "the link's target is never written");
        assert_eq!(fs::read(data.join("sub/x")).unwrap(), b"v1");
    }

    #[test]
    fn uncommitted_changes_are_never_overwritten_without_force() {
        let r = repo();
        let f = r.root.join("f.txt");
        fs::write(&f, b"committed").unwrap();
        let built = add(&r, &f, Algo::Md5);
        fs::write(&f, b"uncommitted work").unwrap();
        let err = run(&r, &f, &built, false, vec![LinkType::Copy]).unwrap_err();
        assert!(matches!(err, Error::CheckoutConflict { count: 1, .. }));
        assert_eq!(fs::read(&f).unwrap(), b"uncommitted work");
        run(&r, &f, &built, true, vec![LinkType::Copy]).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"committed");
    }

    #[test]
    fn a_corrupt_object_is_reported_and_never_linked() {
        use std::os::unix::fs::PermissionsExt;
        let r = repo();
        let f = r.root.join("f.txt");
        fs::write(&f, b"good").unwrap();
        let built = add(&r, &f, Algo::Md5);
        let obj = r.odb.object_path(&built.oid);
        fs::set_permissions(&obj, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&obj, b"evil").unwrap();
        fs::remove_file(&f).unwrap();
        let err = run(&r, &f, &built, false, vec![LinkType::Hardlink]).unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }));
        assert!(!f.exists());
    }

    #[test]
    fn a_subpath_checkout_writes_only_that_file_or_folder() {
        let r = repo();
        let data = r.root.join("data");
        fs::create_dir_all(data.join("sub")).unwrap();
        fs::write(data.join("sub/a"), b"a").unwrap();
        fs::write(data.join("b"), b"b").unwrap();
        let b = add(&r, &data, Algo::Md5);
        fs::remove_dir_all(&data).unwrap();
        let p = Progress::default();
        let linker = Linker::new(vec![LinkType::Copy]);
        let opts = CheckoutOptions {
            odb: &r.odb,
            repo_root: &r.root,
            linker: &linker,
            force: false,
            relink: false,
            relink_matching_only: false,
            progress: &p,
        };
        let mut state = State::in_memory();
        let st = checkout_output(&data, &b.oid, false, Some("sub"), &opts, &mut state).unwrap();
        assert_eq!(st.added, vec!["a".to_owned()]);
        assert!(data.join("sub/a").is_file() && !data.join("b").exists());
        let st = checkout_output(&data, &b.oid, false, Some("b"), &opts, &mut state).unwrap();
        assert_eq!(fs::read(data.join("b")).unwrap(), b"b");
        assert_eq!(st.missing, Vec::<String>::new());
        let err = checkout_output(&data, &b.oid, false, Some("nothing"), &opts, &mut state).unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }
}
