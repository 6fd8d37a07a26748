//! Copies of single objects at paths of the caller's choosing: the files a
//! reader of a repository asks for (`BaleFileSystem.get`), from wherever
//! they are in a manifest, written in parallel.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use bale_error::{Error, IoContext, Result};
use bale_hash::{hash_file, Oid};
use bale_index::build::Progress;
use bale_index::state::stat_of;
use bale_index::State;
use bale_odb::Odb;
use rayon::prelude::*;

use crate::link::{file_mode, write_private, Linker};

/// One file to write: the object, where, and whether it is executable.
pub struct CopyOut {
    pub oid: Oid,
    pub dest: PathBuf,
    pub exec: bool,
}

/// Writes each item's object at its `dest` (created or replaced
/// atomically, parents made), in parallel. With `state`, `odb` is our
/// cache: an object is hashed before it is used unless `state` vouches for
/// it (then remembered there), and one that does not match is moved aside.
/// Without, `odb` is someone else's folder (a folder remote), only read:
/// every object is hashed. A mismatch fails the call. `state` is
/// locked for each lookup only, never across the parallel work: a worker
/// holding it could pick up another job on this pool that takes it too.
///
/// With `take`, `odb` is a cache the caller throws away afterwards (the
/// objects a `get` fetched): each object is renamed to the last item that
/// wants it, once verified, and copied to the others first. A file lands
/// once instead of twice, and the cache is left nearly empty, which matters
/// as much: deleting 100,000 written files costs more than writing them.
/// An object with other hard links is copied, never taken.
///
/// Returns the indices of the items whose object the cache does not hold
/// whole (absent, or kept as chunks only): nothing was written for those,
/// the caller gets them another way.
pub fn copy_out(
    odb: &Odb,
    items: &[CopyOut],
    linker: &Linker,
    state: Option<&Mutex<State>>,
    take: bool,
    progress: &Progress,
) -> Result<Vec<usize>> {
    make_parents(items)?;
    progress.total.store(items.len() as u64, Ordering::Relaxed);
    // Which item takes each object: its last. The copies go first, so that
    // the object is still there for them.
    let taker: HashMap<Oid, usize> =
        if take { items.iter().enumerate().map(|(i, item)| (item.oid, i)).collect() } else { HashMap::new() };
    let takes = |i: usize| taker.get(&items[i].oid) == Some(&i);
    let one = |i: usize| -> Result<bool> {
        let item = &items[i];
        progress.check()?;
        let object = odb.object_path(&item.oid);
        let Ok(meta) = fs::metadata(&object) else {
            return Ok(false);
        };
        let stat = stat_of(&meta);
        if !state.is_some_and(|s| s.lock().unwrap().object_verified(&stat, &item.oid)) {
            let got = hash_file(&object, item.oid.algo())?;
            if got.oid.digest() != item.oid.digest() {
                if state.is_some() {
                    let _ = odb.quarantine(&item.oid);
                }
                return Err(Error::CorruptObject {
                    path: object,
                    expected: item.oid.to_string(),
                    actual: got.oid.hex_digest(),
                });
            }
            if let Some(s) = state {
                s.lock().unwrap().record_object(stat, item.oid);
            }
        }
        if !(takes(i) && moved(&object, &meta, &item.dest, item.exec)?) {
            linker.link(&object, &item.dest, item.exec)?;
        }
        progress.done.fetch_add(1, Ordering::Relaxed);
        progress.bytes.fetch_add(meta.len(), Ordering::Relaxed);
        Ok(true)
    };
    let (last, first): (Vec<usize>, Vec<usize>) = (0..items.len()).partition(|&i| takes(i));
    let mut done: Vec<(usize, Result<bool>)> = first.into_par_iter().map(|i| (i, one(i))).collect();
    if done.iter().all(|(_, r)| r.is_ok()) {
        done.extend(last.into_par_iter().map(|i| (i, one(i))).collect::<Vec<_>>());
    }
    done.sort_unstable_by_key(|(i, _)| *i);
    not_written(done.into_iter().map(|(_, r)| r))
}

/// Writes each item at its `dest` (created or replaced atomically, parents
/// made), in parallel, from the bytes `read` gives for its object: verified
/// bytes (a folder remote's packs, [`bale_pack`]'s `LocalPacks`), or `None`
/// when the object is not to be had that way. Returns the indices of those
/// items: nothing was written for them.
pub fn write_out(
    items: &[CopyOut],
    read: impl Fn(&Oid) -> Result<Option<Vec<u8>>> + Sync,
    progress: &Progress,
) -> Result<Vec<usize>> {
    use std::io::Write as _;
    make_parents(items)?;
    progress.total.store(items.len() as u64, Ordering::Relaxed);
    let done: Vec<Result<bool>> = items
        .par_iter()
        .map(|item| {
            progress.check()?;
            let Some(data) = read(&item.oid)? else {
                return Ok(false);
            };
            write_private(&item.dest, item.exec, |f| f.write_all(&data).at(&item.dest))?;
            progress.done.fetch_add(1, Ordering::Relaxed);
            progress.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
            Ok(true)
        })
        .collect();
    not_written(done)
}

/// Every directory the items go into, made once each, before the parallel
/// work: no worker stats its directory.
fn make_parents(items: &[CopyOut]) -> Result<()> {
    let mut parents: Vec<&Path> = items.iter().filter_map(|i| i.dest.parent()).collect();
    parents.sort_unstable();
    parents.dedup();
    for p in parents {
        fs::create_dir_all(p).at(p)?;
    }
    Ok(())
}

/// The indices of the items not written (`Ok(false)`), in order; the first
/// error, if any.
fn not_written(done: impl IntoIterator<Item = Result<bool>>) -> Result<Vec<usize>> {
    let mut lacking = Vec::new();
    for (i, r) in done.into_iter().enumerate() {
        if !r? {
            lacking.push(i);
        }
    }
    Ok(lacking)
}

/// Renames `object` to `dest` as a private file (a user's mode, not the
/// cache's read-only one); false, with nothing changed, when it cannot be
/// taken: other names share its inode, or `dest` is on another device.
fn moved(object: &Path, meta: &fs::Metadata, dest: &Path, exec: bool) -> Result<bool> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if meta.nlink() != 1 {
        return Ok(false);
    }
    // The mode first, on the object's own name: `dest` is never seen
    // read-only, and a failure here leaves `dest` as it was.
    fs::set_permissions(object, fs::Permissions::from_mode(file_mode(exec))).at(object)?;
    match fs::rename(object, dest) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => Ok(false),
        Err(e) => Err(Error::io(dest, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::LinkType;
    use bale_hash::Algo;

    fn put(odb: &Odb, data: &[u8], algo: Algo) -> Oid {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, data).unwrap();
        let oid = hash_file(&f, algo).unwrap().oid;
        let at = odb.object_path(&oid);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        fs::copy(&f, &at).unwrap();
        oid
    }

    #[test]
    fn writes_copies_and_reports_what_the_cache_lacks() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let state = Mutex::new(State::default());
        let a = put(&odb, b"alpha", Algo::Md5);
        let absent = Oid::parse(Algo::Md5, "0123456789abcdef0123456789abcdef").unwrap();
        let out = d.path().join("out");
        let items = vec![
            CopyOut { oid: a, dest: out.join("x/a"), exec: false },
            CopyOut { oid: absent, dest: out.join("y/b"), exec: false },
            CopyOut { oid: a, dest: out.join("a2"), exec: true },
        ];
        let linker = Linker::new(vec![LinkType::Reflink, LinkType::Copy]);
        let lacking = copy_out(&odb, &items, &linker, Some(&state), false, &Progress::default()).unwrap();
        assert_eq!(lacking, vec![1]);
        assert_eq!(fs::read(out.join("x/a")).unwrap(), b"alpha");
        assert_eq!(fs::read(out.join("a2")).unwrap(), b"alpha");
        assert!(!out.join("y/b").exists());
        // A copy, not a link: writing it leaves the object alone.
        fs::write(out.join("x/a"), b"changed").unwrap();
        assert_eq!(fs::read(odb.object_path(&a)).unwrap(), b"alpha");
    }

    #[test]
    fn a_corrupt_object_fails_and_is_never_copied() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let a = put(&odb, b"alpha", Algo::Md5);
        fs::write(odb.object_path(&a), b"rotten").unwrap();
        let dest = d.path().join("out/a");
        let items = vec![CopyOut { oid: a, dest: dest.clone(), exec: false }];
        let linker = Linker::new(vec![LinkType::Copy]);
        let err = copy_out(&odb, &items, &linker, None, false, &Progress::default()).unwrap_err();
        assert!(matches!(err, Error::CorruptObject { .. }), "{err}");
        assert!(!dest.exists());
        // Someone else's folder is only read: the bad object stays where it is.
        assert_eq!(fs::read(odb.object_path(&a)).unwrap(), b"rotten");
        // Our cache moves it aside, so that a fetch brings a good copy;
        // a disposable one (take) never hands it out as a file either.
        for take in [true, false] {
            fs::create_dir_all(odb.object_path(&a).parent().unwrap()).unwrap();
            fs::write(odb.object_path(&a), b"rotten").unwrap();
            let state = Mutex::new(State::default());
            assert!(copy_out(&odb, &items, &linker, Some(&state), take, &Progress::default()).is_err());
            assert!(!odb.object_path(&a).exists());
            assert!(!dest.exists());
        }
    }

    #[test]
    fn take_moves_each_object_to_its_last_item_and_copies_it_to_the_others() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let state = Mutex::new(State::default());
        let a = put(&odb, b"alpha", Algo::Blake3);
        let b = put(&odb, b"beta", Algo::Blake3);
        let c = put(&odb, b"gamma", Algo::Blake3);
        for o in [&a, &b, &c] {
            fs::set_permissions(odb.object_path(o), fs::Permissions::from_mode(0o444)).unwrap();
        }
        // Another name for c's inode: taking it would change that file too.
        fs::hard_link(odb.object_path(&c), d.path().join("elsewhere")).unwrap();
        let out = d.path().join("out");
        let items = vec![
            CopyOut { oid: a, dest: out.join("a1"), exec: false },
            CopyOut { oid: b, dest: out.join("sub/b"), exec: true },
            CopyOut { oid: a, dest: out.join("a2"), exec: false },
            CopyOut { oid: c, dest: out.join("c"), exec: false },
        ];
        let linker = Linker::new(vec![LinkType::Copy]);
        let lacking = copy_out(&odb, &items, &linker, Some(&state), true, &Progress::default()).unwrap();
        assert!(lacking.is_empty());
        for (name, data) in [("a1", &b"alpha"[..]), ("a2", b"alpha"), ("sub/b", b"beta"), ("c", b"gamma")] {
            assert_eq!(fs::read(out.join(name)).unwrap(), data, "{name}");
        }
        assert!(!odb.object_path(&a).exists() && !odb.object_path(&b).exists());
        assert!(odb.object_path(&c).exists(), "a hard-linked object is copied, never taken");
        // A user's file, not the cache's read-only object; b keeps its exec bit.
        let mode = |n: &str| fs::metadata(out.join(n)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("a2"), file_mode(false));
        assert_eq!(mode("sub/b"), file_mode(true));
        fs::write(out.join("a1"), b"changed").unwrap();
        assert_eq!(fs::read(out.join("a2")).unwrap(), b"alpha");
    }

    #[test]
    fn write_out_writes_what_read_gives_and_reports_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let a = bale_hash::hash_bytes(Algo::Blake3, b"alpha", false);
        let b = bale_hash::hash_bytes(Algo::Blake3, b"beta", false);
        let out = d.path().join("out");
        let items = vec![
            CopyOut { oid: a, dest: out.join("x/a"), exec: true },
            CopyOut { oid: b, dest: out.join("b"), exec: false },
        ];
        let read = |oid: &Oid| Ok((*oid == a).then(|| b"alpha".to_vec()));
        assert_eq!(write_out(&items, read, &Progress::default()).unwrap(), vec![1]);
        assert_eq!(fs::read(out.join("x/a")).unwrap(), b"alpha");
        assert!(!out.join("b").exists());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(out.join("x/a")).unwrap().permissions().mode() & 0o777, file_mode(true));
        let bad = |_: &Oid| Err(Error::CorruptObject { path: "p".into(), expected: "e".into(), actual: "a".into() });
        assert!(write_out(&items, bad, &Progress::default()).is_err());
    }
}
