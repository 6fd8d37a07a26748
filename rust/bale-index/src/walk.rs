//! A parallel walk of a directory that applies the ignore rules.
//!
//! Symlinks are followed to files, as DVC does (the link's target content is
//! tracked); a symlink to a directory is skipped, as `os.walk` skips it, and
//! so are sockets, fifos and devices: each is reported in
//! [`Walked::skipped`], never dropped without a word. bale's own temp files
//! are never data: the walk passes over them, and removes those whose writer
//! was killed long enough ago ([`bale_odb::fs::sweepable`]).

use std::fs::{self, Metadata};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bale_error::{Error, IoContext, Result};
use bale_odb::fs::{sweepable, temp_owner, QUIET_FOR};
use rayon::prelude::*;

use crate::ignore::{is_subrepo, Rules};
use crate::state::{stat_of, Stat};

/// One regular file found by the walk. Its path is the walked directory
/// joined with `rel`: not kept per file, a walk of a million files holds
/// only what it must.
#[derive(Clone, Debug)]
pub struct WalkFile {
    /// Path relative to the walked directory, `/`-separated.
    pub rel: String,
    pub stat: Stat,
    pub exec: bool,
}

/// Everything under a directory that is tracked.
#[derive(Debug, Default)]
pub struct Walked {
    /// Sorted by `rel` in code-point order, the order of DVC's manifests.
    pub files: Vec<WalkFile>,
    /// Directories that hold no tracked file at any depth, sorted.
    pub empty_dirs: Vec<String>,
    /// What is there but cannot be tracked, with why, sorted.
    pub skipped: Vec<(String, &'static str)>,
}

/// Why a symlink to a directory is not tracked.
pub const SKIPPED_DIR_LINK: &str = "a symlink to a directory (not followed, as dvc does not)";
/// Why a socket, fifo or device is not tracked.
pub const SKIPPED_SPECIAL: &str = "not a regular file (a socket, fifo or device)";

pub fn is_exec(meta: &Metadata) -> bool {
    meta.permissions().mode() & 0o100 != 0
}

/// Walks `dir` with the rules that apply inside it (see
/// [`rules_for`](crate::ignore::rules_for)).
pub fn walk(dir: &Path, rules: &Rules) -> Result<Walked> {
    let mut out = Walked::default();
    let has_files = walk_dir(dir, "", rules, &mut out)?;
    if !has_files {
        // The root itself is not an "empty sub-directory".
        out.empty_dirs.retain(|d| !d.is_empty());
    }
    debug_assert!(out.files.windows(2).all(|w| w[0].rel < w[1].rel));
    out.empty_dirs.sort_unstable();
    out.skipped.sort_unstable();
    Ok(out)
}

fn join_rel(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

/// A directory's entry as the walk keeps it until its files are out.
enum Found {
    File(WalkFile),
    /// A sub-directory to walk: its name, its path.
    Dir(String, PathBuf),
}

impl Found {
    /// The entry's name as it sorts among its siblings: a directory's
    /// files all follow `<name>/`, so the siblings in this order, each
    /// directory replaced by its files, are in code-point order of their
    /// whole relative paths, with no sort of those long paths.
    fn sort_name(&self) -> (&[u8], &[u8]) {
        match self {
            Found::File(f) => (f.rel.rsplit('/').next().unwrap_or("").as_bytes(), b""),
            Found::Dir(name, _) => (name.as_bytes(), b"/"),
        }
    }
}

fn sibling_order(a: &Found, b: &Found) -> std::cmp::Ordering {
    let ((a, a_end), (b, b_end)) = (a.sort_name(), b.sort_name());
    a.iter().chain(a_end).cmp(b.iter().chain(b_end))
}

/// Returns whether anything tracked lives below `dir`.
fn walk_dir(dir: &Path, prefix: &str, parent_rules: &Rules, out: &mut Walked) -> Result<bool> {
    let rules = parent_rules.enter(dir)?;
    let mut found: Vec<Found> = Vec::new();
    let mut found_file = false;
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = match entry.file_name().into_string() {
            Ok(name) => name,
            Err(_) => return Err(Error::NonUtf8Path { path: entry.path() }),
        };
        let ftype = entry.file_type().at(dir.join(&name))?;
        if !ftype.is_dir() && temp_owner(&name).is_some() {
            // No command holds a lock to walk: only a temp left alone long
            // enough goes (see QUIET_FOR); the next writer after a kill
            // sweeps the rest (bale.recovery).
            let path = entry.path();
            if sweepable(&path, &name, QUIET_FOR) {
                let _ = fs::remove_file(&path);
            }
            continue;
        }
        let (is_dir, meta, skip) = if ftype.is_symlink() {
            let path = entry.path();
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => (false, Some(m), None),
                Ok(m) if m.is_dir() => (false, None, Some(SKIPPED_DIR_LINK)),
                Ok(_) => (false, None, Some(SKIPPED_SPECIAL)),
                Err(e) => return Err(Error::io(&path, e)),
            }
        } else if ftype.is_dir() {
            (true, None, None)
        } else if ftype.is_file() {
            // A stat of the name in the directory open for reading: no walk
            // of the whole path.
            (false, Some(entry.metadata().at(dir.join(&name))?), None)
        } else {
            (false, None, Some(SKIPPED_SPECIAL))
        };
        if rules.ignores_entry(dir, &name, is_dir) {
            continue;
        }
        if let Some(why) = skip {
            out.skipped.push((join_rel(prefix, &name), why));
            continue;
        }
        if is_dir {
            let path = entry.path();
            if !is_subrepo(&path) {
                found.push(Found::Dir(name, path));
            }
        } else {
            let meta = meta.expect("files carry metadata");
            found_file = true;
            let rel = join_rel(prefix, &name);
            found.push(Found::File(WalkFile { rel, stat: stat_of(&meta), exec: is_exec(&meta) }));
        }
    }
    found.sort_unstable_by(sibling_order);
    let subdirs: Vec<(&str, &Path)> = found
        .iter()
        .filter_map(|f| match f {
            Found::Dir(name, path) => Some((name.as_str(), path.as_path())),
            Found::File(_) => None,
        })
        .collect();
    let results: Vec<Result<(bool, Walked)>> = subdirs
        .par_iter()
        .map(|(name, path)| {
            let mut sub = Walked::default();
            let has = walk_dir(path, &join_rel(prefix, name), &rules, &mut sub)?;
            Ok((has, sub))
        })
        .collect();
    let mut results = results.into_iter();
    let mut any = found_file;
    for f in found {
        match f {
            Found::File(file) => out.files.push(file),
            Found::Dir(..) => {
                let (has, sub) = results.next().expect("one result per directory")?;
                any |= has;
                out.files.extend(sub.files);
                out.empty_dirs.extend(sub.empty_dirs);
                out.skipped.extend(sub.skipped);
            }
        }
    }
    if !any {
        out.empty_dirs.push(prefix.to_owned());
    }
    Ok(any)
}

/// Every `.dvc` file, `dvc.yaml` and `dvc.lock` in the repository, sorted.
/// A directory `x` beside an `x.dvc` is an output and is not searched: that
/// keeps this walk as cheap as the number of metafiles, not of data files.
pub fn find_metafiles(repo_root: &Path) -> Result<Vec<PathBuf>> {
    let rules = Rules::default();
    let mut out = find_in(repo_root, &rules, true)?;
    out.sort();
    Ok(out)
}

fn find_in(dir: &Path, parent_rules: &Rules, is_root: bool) -> Result<Vec<PathBuf>> {
    let rules = parent_rules.enter(dir)?;
    let mut found = Vec::new();
    let mut names = Vec::new();
    let mut subdirs = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        let ftype = entry.file_type().at(&path)?;
        if ftype.is_dir() {
            if !rules.ignores(&path, true) && (is_root || !is_subrepo(&path)) {
                subdirs.push((name.to_owned(), path));
            }
        } else if ftype.is_file() || ftype.is_symlink() {
            names.push(name.to_owned());
            // a file named `.dvc` is data, not a `.dvc` file of nothing
            let is_meta = (name.ends_with(".dvc") && name != ".dvc") || name == "dvc.yaml" || name == "dvc.lock";
            if is_meta && !rules.ignores(&path, false) {
                found.push(path);
            }
        }
    }
    let outputs: std::collections::HashSet<&str> = names.iter().filter_map(|n| n.strip_suffix(".dvc")).collect();
    let subdirs: Vec<PathBuf> =
        subdirs.into_iter().filter(|(n, p)| !outputs.contains(n.as_str()) && !is_subrepo(p)).map(|(_, p)| p).collect();
    let nested: Vec<Result<Vec<PathBuf>>> = subdirs.par_iter().map(|d| find_in(d, &rules, false)).collect();
    for n in nested {
        found.extend(n?);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_sorts_by_code_point_and_skips_ignored_and_special_dirs() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for p in ["a-b", "a.b", "a/b", "link_target", "ign.tmp", ".git/HEAD", "sub/.dvc/config"] {
            let p = root.join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, p.to_string_lossy().as_bytes()).unwrap();
        }
        fs::create_dir_all(root.join("empty/deeper")).unwrap();
        fs::write(root.join(".dvcignore"), "*.tmp\n").unwrap();
        std::os::unix::fs::symlink(root.join("link_target"), root.join("link")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("dirlink")).unwrap();
        let w = walk(root, &Rules::default()).unwrap();
        let rels: Vec<_> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, [".dvcignore", "a-b", "a.b", "a/b", "link", "link_target"]);
        assert_eq!(w.empty_dirs, ["empty", "empty/deeper"]);
        assert_eq!(w.skipped, [("dirlink".to_owned(), SKIPPED_DIR_LINK)]);
    }

    #[test]
    fn directories_sort_among_their_siblings_as_their_files_paths_do() {
        let d = tempfile::tempdir().unwrap();
        let mut rels = vec![
            "a b/c", "a-b", "a.b/c", "a0", "a/b-c", "a/b.c", "a/b/c", "a/b/c.d", "ab/c", "Z", "é/x", "e", "x/y-z",
            "x/y/z", "x/y.z", "x/y0",
        ];
        for rel in &rels {
            let p = d.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, b"x").unwrap();
        }
        rels.sort_unstable();
        let w = walk(d.path(), &Rules::default()).unwrap();
        assert_eq!(w.files.iter().map(|f| f.rel.as_str()).collect::<Vec<_>>(), rels);
    }

    #[test]
    fn bale_temp_files_are_never_data_and_abandoned_ones_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("sub")).unwrap();
        // pid 4,000,000,000 runs nowhere (pid_max is at most 2^22).
        let dead = root.join("sub/.bale4000000000x3x1f.tmp");
        let live = root.join(format!(".bale{}x0xab.tmp", std::process::id()));
        let python_made = root.join(".bale4000000000xdeadbeef.tmp");
        let young = root.join(".bale4000000000x9x9.tmp");
        let lookalike = root.join(".bale12.tmp"); // not bale's shape: the user's file
        let named_like_one = root.join(".bale5x5.tmp/inner"); // a directory is never a temp
        fs::create_dir_all(named_like_one.parent().unwrap()).unwrap();
        for p in [&dead, &live, &python_made, &young, &lookalike, &named_like_one] {
            fs::write(p, b"x").unwrap();
        }
        let long_ago = std::time::SystemTime::now() - QUIET_FOR * 2;
        for p in [&dead, &live, &python_made] {
            fs::File::options().write(true).open(p).unwrap().set_modified(long_ago).unwrap();
        }
        fs::write(root.join("sub/data"), b"d").unwrap();
        let w = walk(root, &Rules::default()).unwrap();
        let rels: Vec<_> = w.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, [".bale12.tmp", ".bale5x5.tmp/inner", "sub/data"]);
        assert!(!dead.exists() && !python_made.exists(), "a killed writer's old temps are swept");
        assert!(live.exists(), "a running writer's temp is left to it");
        assert!(young.exists(), "a recent one may be a writer's on another host: left, never data");
    }

    #[test]
    fn fifos_are_reported_not_dropped() {
        let d = tempfile::tempdir().unwrap();
        let fifo = std::ffi::CString::new(d.path().join("pipe").into_os_string().into_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let w = walk(d.path(), &Rules::default()).unwrap();
        assert!(w.files.is_empty());
        assert_eq!(w.skipped, [("pipe".to_owned(), SKIPPED_SPECIAL)]);
    }

    #[test]
    fn metafiles_are_found_without_entering_outputs() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for p in ["a.dvc", "a/inner.dvc", "p/q/f.bin.dvc", "p/dvc.yaml", "p/dvc.lock", "x/.dvc/config", "x/y.dvc"] {
            let p = root.join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, b"").unwrap();
        }
        let found: Vec<_> =
            find_metafiles(root).unwrap().into_iter().map(|p| p.strip_prefix(root).unwrap().to_owned()).collect();
        let found: Vec<_> = found.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(found, ["a.dvc", "p/dvc.lock", "p/dvc.yaml", "p/q/f.bin.dvc"]);
    }
}
