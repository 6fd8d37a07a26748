//! Hashing a target (file or directory) into an id, through the stat cache,
//! optionally storing every object on the way.

use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use bale_error::{Error, IoContext, Result};
use bale_hash::{hash_file, Algo, Oid};
pub use bale_odb::Progress;
use bale_odb::{HeldChunks, Odb, Presence};
use rayon::prelude::*;

use crate::ignore::rules_for;
use crate::manifest::{Entry, Manifest};
use crate::state::stat_of;
use crate::state::{Stat, State, TreeMemo};
use crate::walk::{is_exec, walk, Walked};

pub struct BuildOptions<'a> {
    pub algo: Algo,
    pub repo_root: &'a Path,
    /// Store every object here while hashing (`add`, `commit`); `None` only
    /// hashes (`status`).
    pub odb: Option<&'a Odb>,
    /// Store file objects by copy-on-write clone where possible.
    pub clone: bool,
    /// The target's previous version (its `.dvc` file's id: a file's, or a
    /// directory's whose manifest names its files'), which a new version of
    /// a chunked file is stored against as the chunks it changed
    /// ([`Odb::add_version`]). Given only where the workspace keeps its own
    /// copy of what is stored (no link to the cache replaces it).
    pub previous: Option<Oid>,
    pub progress: &'a Progress,
}

impl<'a> BuildOptions<'a> {
    /// Options that only hash (`status`, `scan`): no store, no clone, no
    /// previous version.
    pub fn hashing(algo: Algo, repo_root: &'a Path, progress: &'a Progress) -> Self {
        BuildOptions { algo, repo_root, odb: None, clone: false, previous: None, progress }
    }

    /// The same options, storing every object in `odb`.
    pub fn storing(self, odb: &'a Odb) -> Self {
        BuildOptions { odb: Some(odb), ..self }
    }
}

/// What a target hashed to.
#[derive(Clone, Debug)]
pub struct Built {
    pub oid: Oid,
    pub size: u64,
    /// `Some` for directories.
    pub nfiles: Option<u64>,
    pub exec: bool,
    /// The directory's files, `None` for a file target.
    pub manifest: Option<Manifest>,
    /// Files whose content was read (not answered by the stat cache).
    pub hashed: u64,
    /// Objects written to the store.
    pub stored: u64,
    /// What a directory holds but cannot be tracked, with why (see
    /// [`Walked::skipped`]): told to the user, never dropped silently.
    pub skipped: Vec<(String, &'static str)>,
}

/// The state key of a path: repository-relative, `/`-separated.
pub fn state_key(repo_root: &Path, path: &Path) -> Result<String> {
    let rel = path.strip_prefix(repo_root).unwrap_or(path);
    rel.to_str().map(str::to_owned).ok_or_else(|| Error::NonUtf8Path { path: path.to_path_buf() })
}

struct FileResult {
    oid: Oid,
    read: bool,
    stored: bool,
    /// The stat of an object stored now: bale hashed its bytes, so it is
    /// verified without another read.
    object: Option<Stat>,
}

/// What one build knows of the store it writes to.
struct Stored<'a> {
    odb: &'a Odb,
    presence: Presence<'a>,
    /// Chunks new versions are stored against, indexed on first need.
    held: Mutex<Option<Arc<HeldChunks>>>,
}

impl<'a> Stored<'a> {
    fn new(odb: &'a Odb, algo: Algo, questions: usize) -> Self {
        Stored { odb, presence: odb.presence(algo, questions), held: Mutex::new(None) }
    }

    fn held(&self) -> Result<Arc<HeldChunks>> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = &*held {
            return Ok(h.clone());
        }
        Ok(held.insert(Arc::new(HeldChunks::scan(self.odb)?)).clone())
    }
}

/// Hashes one file through the stat cache; with `stored`, stores it unless
/// the store already has it: as a new version of `previous` where that was
/// stored chunked.
#[allow(clippy::too_many_arguments)]
fn hash_one(
    abs: &Path,
    key: &str,
    stat: &Stat,
    previous: Option<Oid>,
    opts: &BuildOptions,
    state: &State,
    stored: Option<&Stored>,
) -> Result<FileResult> {
    let unread = |oid| FileResult { oid, read: false, stored: false, object: None };
    if let Some(oid) = state.get(key, stat, opts.algo) {
        match stored {
            None => return Ok(unread(oid)),
            Some(s) if s.presence.has(&oid) => return Ok(unread(oid)),
            Some(_) => {}
        }
    }
    let Some(stored) = stored else {
        return Ok(FileResult { oid: hash_file(abs, opts.algo)?.oid, read: true, stored: false, object: None });
    };
    let odb = stored.odb;
    let (hash, outcome) = match previous {
        Some(p) if opts.algo == Algo::Blake3 && odb.has_list(&p) => {
            odb.add_version(abs, opts.clone, &p, &|| stored.held())?
        }
        _ => odb.add_file(abs, opts.algo, opts.clone)?,
    };
    let stored = outcome == bale_odb::PutOutcome::Stored;
    let object = if stored { fs::metadata(odb.object_path(&hash.oid)).ok().map(|m| stat_of(&m)) } else { None };
    Ok(FileResult { oid: hash.oid, read: true, stored, object })
}

/// Hashes (and with `opts.odb`, stores) a file or directory. A directory's
/// id is remembered for [`hash_target`], so the first `status` after an
/// `add` or `commit` is already answered without per-file lookups.
pub fn build_target(target: &Path, opts: &BuildOptions, state: &mut State) -> Result<Built> {
    build(target, opts, state, &|_, _| true)
}

/// Hashes a file or directory without storing it, as [`build_target`]
/// does, except that a directory whose walk saw exactly what it saw when
/// last hashed (same names, stats, exec bits and empty directories) is
/// answered from the stat cache's memo of its id, without a manifest
/// (`Built::manifest` is `None`): nothing was looked up per file.
///
/// `wants_files` is asked on such a hit whether the caller needs the
/// manifest after all (say, to diff it); if so the walk already made is
/// hashed through as [`build_target`] would, never walked twice.
pub fn hash_target(
    target: &Path,
    opts: &BuildOptions,
    state: &mut State,
    wants_files: &dyn Fn(&Oid, &State) -> bool,
) -> Result<Built> {
    // A memo proves the id, not that the objects are stored.
    let wants_files = if opts.odb.is_some() { &|_: &Oid, _: &State| true } else { wants_files };
    build(target, opts, state, wants_files)
}

fn build(
    target: &Path,
    opts: &BuildOptions,
    state: &mut State,
    wants_files: &dyn Fn(&Oid, &State) -> bool,
) -> Result<Built> {
    let mut walked = match walk_target(target, opts)? {
        Target::File(meta) => return build_file(target, &meta, opts, state),
        Target::Dir(walked) => walked,
    };
    let memo = Memo::of(target, opts, state, &walked)?;
    let skipped = std::mem::take(&mut walked.skipped);
    if let Some(m) = memo.known.filter(|m| !wants_files(&m.oid, state)) {
        opts.progress.total.store(m.nfiles, Ordering::Relaxed);
        opts.progress.done.store(m.nfiles, Ordering::Relaxed);
        opts.progress.bytes.fetch_add(m.size, Ordering::Relaxed);
        return Ok(Built {
            oid: m.oid,
            size: m.size,
            nfiles: Some(m.nfiles),
            exec: false,
            manifest: None,
            hashed: 0,
            stored: 0,
            skipped,
        });
    }
    let mut built = build_walked(target, walked, opts, state)?;
    built.skipped = skipped;
    memo.record(state, &built);
    Ok(built)
}

/// A directory's walk, as the stat cache's tree memos see it.
struct Memo {
    key: String,
    fingerprint: [u8; 16],
    /// What the stat cache remembers for this very walk.
    known: Option<TreeMemo>,
    /// Whether a memo may be recorded: only when every file's stat would
    /// be trusted by the stat cache itself (a racy file could change
    /// without the fingerprint moving).
    trusted: bool,
}

impl Memo {
    fn of(target: &Path, opts: &BuildOptions, state: &State, walked: &Walked) -> Result<Memo> {
        let key = state_key(opts.repo_root, target)?;
        let fingerprint = fingerprint(opts.algo, walked);
        let known = state.tree_memo(&key, &fingerprint, opts.algo);
        let trusted = walked.files.iter().all(|f| !state.is_racy(&f.stat));
        Ok(Memo { key, fingerprint, known, trusted })
    }

    /// Remembers what the walk hashed to, unless that is already what is
    /// remembered (a memo that disagrees with a hash of the content is
    /// replaced, not kept).
    fn record(self, state: &mut State, built: &Built) {
        if self.trusted && self.known.map(|k| k.oid) != Some(built.oid) {
            let (size, nfiles, oid) = (built.size, built.nfiles.unwrap_or(0), built.oid);
            state.record_tree_memo(&self.key, TreeMemo { fingerprint: self.fingerprint, size, nfiles, oid });
        }
    }
}

enum Target {
    File(fs::Metadata),
    Dir(Walked),
}

fn walk_target(target: &Path, opts: &BuildOptions) -> Result<Target> {
    let meta = fs::metadata(target).at(target)?;
    if meta.is_file() {
        return Ok(Target::File(meta));
    }
    let parent = target.parent().unwrap_or(opts.repo_root);
    let rules = rules_for(opts.repo_root, parent)?;
    Ok(Target::Dir(walk(target, &rules)?))
}

/// Everything a walk saw that a directory's id depends on, hashed: any
/// renamed, added, removed or touched file, changed exec bit or new empty
/// directory gives another fingerprint.
fn fingerprint(algo: Algo, walked: &Walked) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    h.update(b"bale tree memo 1\0");
    h.update(algo.to_string().as_bytes());
    let mut buf = Vec::with_capacity(64 * 1024);
    for f in &walked.files {
        buf.extend_from_slice(&(f.rel.len() as u32).to_le_bytes());
        buf.extend_from_slice(f.rel.as_bytes());
        buf.extend_from_slice(&f.stat.inode.to_le_bytes());
        buf.extend_from_slice(&f.stat.size.to_le_bytes());
        buf.extend_from_slice(&f.stat.mtime_ns.to_le_bytes());
        buf.push(f.exec as u8);
        if buf.len() >= 60 * 1024 {
            h.update(&buf);
            buf.clear();
        }
    }
    h.update(&buf);
    h.update(&(walked.files.len() as u64).to_le_bytes());
    for d in &walked.empty_dirs {
        h.update(&(d.len() as u32).to_le_bytes());
        h.update(d.as_bytes());
    }
    let mut out = [0; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

fn build_file(target: &Path, meta: &fs::Metadata, opts: &BuildOptions, state: &mut State) -> Result<Built> {
    opts.progress.total.store(1, Ordering::Relaxed);
    let key = state_key(opts.repo_root, target)?;
    let stat = stat_of(meta);
    let stored = opts.odb.map(|odb| Stored::new(odb, opts.algo, 1));
    let previous = opts.previous.filter(|p| !p.is_tree());
    let r = hash_one(target, &key, &stat, previous, opts, state, stored.as_ref())?;
    if r.read {
        state.record_hashed(key, stat, r.oid);
    }
    if let Some(ostat) = r.object {
        state.record_object(ostat, r.oid);
    }
    opts.progress.step(meta.len());
    Ok(Built {
        oid: r.oid,
        size: meta.len(),
        nfiles: None,
        exec: is_exec(meta),
        manifest: None,
        hashed: r.read as u64,
        stored: r.stored as u64,
        skipped: Vec::new(),
    })
}

/// The previous ids of a directory's chunked files, from the manifest of
/// its previous version when the store has it (only a hint: none is fine).
fn previous_files(opts: &BuildOptions) -> std::collections::HashMap<String, Oid> {
    let (Some(odb), Some(tree)) = (opts.odb, opts.previous.filter(Oid::is_tree)) else {
        return Default::default();
    };
    let Ok(m) = Manifest::load(odb, &tree) else { return Default::default() };
    m.entries.into_iter().filter(|e| bale_odb::chunked(e.oid.algo(), e.size)).map(|e| (e.rel, e.oid)).collect()
}

/// Files hashed per batch: the results of one batch are recorded and
/// dropped before the next is hashed, so a walk of a million files never
/// holds a million results (and the stat cache spills in order).
const BATCH: usize = 16 * 1024;

fn build_walked(target: &Path, walked: Walked, opts: &BuildOptions, state: &mut State) -> Result<Built> {
    opts.progress.total.store(walked.files.len() as u64, Ordering::Relaxed);
    let stored = opts.odb.map(|odb| Stored::new(odb, opts.algo, walked.files.len()));
    let previous = previous_files(opts);
    let mut entries = Vec::with_capacity(walked.files.len());
    let (mut hashed, mut stored_now) = (0, 0);
    let mut files = walked.files.into_iter();
    loop {
        let batch: Vec<_> = files.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            break;
        }
        // The state key comes back only with a file that was read: only
        // those are recorded.
        let results: Vec<Result<(Option<String>, FileResult)>> = batch
            .par_iter()
            .map(|f| {
                opts.progress.check()?;
                let abs = target.join(&f.rel);
                let key = state_key(opts.repo_root, &abs)?;
                let before = previous.get(f.rel.as_str()).copied();
                let r = hash_one(&abs, &key, &f.stat, before, opts, state, stored.as_ref())?;
                opts.progress.step(f.stat.size);
                Ok((r.read.then_some(key), r))
            })
            .collect();
        for (f, r) in batch.into_iter().zip(results) {
            let (key, r) = r?;
            if let Some(key) = key {
                hashed += 1;
                state.record_hashed(key, f.stat, r.oid);
            }
            stored_now += r.stored as u64;
            if let Some(ostat) = r.object {
                state.record_object(ostat, r.oid);
            }
            entries.push(Entry { rel: f.rel, oid: r.oid, size: f.stat.size, exec: f.exec });
        }
    }
    let native = opts.algo == Algo::Blake3;
    let manifest =
        Manifest { algo: opts.algo, entries, empty_dirs: if native { walked.empty_dirs } else { Vec::new() } };
    let oid = match opts.odb {
        Some(odb) => manifest.store(odb)?,
        None => manifest.oid()?,
    };
    Ok(Built {
        oid,
        size: manifest.size(),
        nfiles: Some(manifest.entries.len() as u64),
        exec: false,
        manifest: Some(manifest),
        hashed,
        stored: stored_now,
        skipped: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts<'a>(root: &'a Path, odb: Option<&'a Odb>, p: &'a Progress) -> BuildOptions<'a> {
        BuildOptions { odb, ..BuildOptions::hashing(Algo::Md5, root, p) }
    }

    fn backdate(path: &Path, secs: u64) {
        let f = fs::File::options().write(true).open(path).unwrap();
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(secs)).unwrap();
    }

    #[test]
    fn unchanged_walk_is_answered_by_the_tree_memo_and_any_change_misses_it() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let data = root.join("data");
        fs::create_dir_all(data.join("sub")).unwrap();
        for (f, body) in [("a", "1"), ("sub/b", "22")] {
            fs::write(data.join(f), body).unwrap();
            backdate(&data.join(f), 10);
        }
        let p = Progress::default();
        for algo in [Algo::Md5, Algo::Blake3] {
            let o = BuildOptions { algo, ..opts(root, None, &p) };
            let mut state = State::in_memory();
            let first = hash_target(&data, &o, &mut state, &|_, _| false).unwrap();
            assert!(first.manifest.is_some(), "nothing remembered yet");
            let again = hash_target(&data, &o, &mut state, &|_, _| false).unwrap();
            assert!(again.manifest.is_none() && again.hashed == 0);
            assert_eq!((again.oid, again.size, again.nfiles), (first.oid, first.size, first.nfiles));
            // A caller that needs the files after all gets them from the same walk.
            let asked = std::cell::Cell::new(None);
            let wants = |oid: &Oid, _: &State| {
                asked.set(Some(*oid));
                true
            };
            let full = hash_target(&data, &o, &mut state, &wants).unwrap();
            assert_eq!(asked.get(), Some(first.oid));
            assert_eq!(full.manifest.unwrap().entries, first.manifest.as_ref().unwrap().entries);

            // Same size, older mtime: the content changed and so must the id.
            fs::write(data.join("a"), "9").unwrap();
            backdate(&data.join("a"), 20);
            let edited = hash_target(&data, &o, &mut state, &|_, _| false).unwrap();
            assert!(edited.manifest.is_some() && edited.oid != first.oid);
            assert_eq!(edited.oid, build_target(&data, &o, &mut State::in_memory()).unwrap().oid);

            // An exec bit is part of the fingerprint.
            let exec = std::os::unix::fs::PermissionsExt::from_mode(0o755);
            fs::set_permissions(data.join("sub/b"), exec).unwrap();
            assert!(hash_target(&data, &o, &mut state, &|_, _| false).unwrap().manifest.is_some());
            fs::set_permissions(data.join("sub/b"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();

            // A file written just now could still change unseen: no memo.
            fs::write(data.join("new"), "x").unwrap();
            hash_target(&data, &o, &mut state, &|_, _| false).unwrap();
            assert!(hash_target(&data, &o, &mut state, &|_, _| false).unwrap().manifest.is_some());
            fs::remove_file(data.join("new")).unwrap();
            fs::write(data.join("a"), "1").unwrap();
            backdate(&data.join("a"), 10);
        }
        // Native trees hold empty directories, so a new one changes the id.
        let o = BuildOptions { algo: Algo::Blake3, ..opts(root, None, &p) };
        let mut state = State::in_memory();
        let before = hash_target(&data, &o, &mut state, &|_, _| false).unwrap();
        hash_target(&data, &o, &mut state, &|_, _| false).unwrap();
        fs::create_dir(data.join("empty")).unwrap();
        let after = hash_target(&data, &o, &mut state, &|_, _| false).unwrap();
        assert!(after.manifest.is_some() && after.oid != before.oid);
    }

    #[test]
    fn directory_id_matches_dvc_and_state_skips_rehash() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let data = root.join("images");
        fs::create_dir_all(data.join("sub")).unwrap();
        fs::write(data.join("Z.bin"), [0u8, 1, 2]).unwrap();
        fs::write(data.join("a.txt"), b"a").unwrap();
        fs::write(data.join("empty"), b"").unwrap();
        fs::write(data.join("sub/b.txt"), b"b\r\n").unwrap();
        // Backdate so the stat cache does not treat the files as racy.
        for f in ["Z.bin", "a.txt", "empty", "sub/b.txt"] {
            backdate(&data.join(f), 10);
        }
        let odb = Odb::new(root.join(".dvc/cache"));
        let p = Progress::default();
        let mut state = State::in_memory();
        let built = build_target(&data, &opts(root, Some(&odb), &p), &mut state).unwrap();
        assert_eq!(built.nfiles, Some(4));
        assert_eq!(built.size, 7);
        assert_eq!(built.hashed, 4);
        assert!(odb.exists(&built.oid));
        let again = build_target(&data, &opts(root, Some(&odb), &p), &mut state).unwrap();
        assert_eq!(again.oid, built.oid);
        assert_eq!(again.hashed, 0, "unchanged files are answered by the stat cache");
        let status = hash_target(&data, &opts(root, None, &p), &mut state, &|_, _| false).unwrap();
        assert!(status.manifest.is_none(), "what add hashed is remembered for status");
        assert_eq!(status.oid, built.oid);
    }
}
