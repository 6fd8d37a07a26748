//! What a packed remote holds of a workspace's roots: a push plans only
//! what is lacking, presence and usage read the index copies, gc rewrites a
//! pack in use without the trees nothing uses, and a damaged index copy is
//! dropped rather than trusted.

use std::fs;
use std::path::Path;

use bale_hash::{Algo, Oid};
use bale_index::build::{build_target, BuildOptions};
use bale_index::State;
use bale_odb::{Odb, Progress};
use bale_pack::{check_copies, check_index, plan_push, presence, repack, stored, usage, PackIndex};

/// Stores the directory `dir` natively and returns its root tree.
fn add(odb: &Odb, root: &Path, dir: &Path) -> Oid {
    let p = Progress::default();
    let opts = BuildOptions::hashing(Algo::Blake3, root, &p).storing(odb);
    build_target(dir, &opts, &mut State::in_memory()).unwrap().oid
}

/// Pushes `roots` into the folder `remote` (packs and indexes side by
/// side, as the local index copies are); returns the objects sent.
fn push(odb: &Odb, roots: &[Oid], remote: &Path, staging: &Path) -> u64 {
    let plan = plan_push(odb, roots, remote, staging, 1 << 20).unwrap();
    assert!(plan.missing.is_empty());
    let mut sent = 0;
    for i in 0..plan.planned.len() {
        let w = plan.write(i, &Progress::default()).unwrap();
        sent += w.pack.objects as u64;
        for from in [&w.pack.pack_path, &w.pack.index_path] {
            fs::rename(from, remote.join(from.file_name().unwrap())).unwrap();
        }
    }
    sent
}

#[test]
fn a_pack_in_use_with_an_unused_tree_is_repacked_without_it() {
    let d = tempfile::tempdir().unwrap();
    let (ws, remote, staging) = (d.path().join("ws"), d.path().join("remote"), d.path().join("staging"));
    let odb = Odb::new(d.path().join("cache"));
    let data = ws.join("data");
    fs::create_dir_all(data.join("sub")).unwrap();
    fs::create_dir_all(&remote).unwrap();
    fs::write(data.join("sub/x"), b"x").unwrap();
    fs::write(data.join("y"), b"y one").unwrap();
    let first = add(&odb, &ws, &data);

    let sent = push(&odb, &[first], &remote, &staging);
    assert_eq!(sent, 4, "two trees, two files");
    let again = plan_push(&odb, &[first], &remote, &staging, 1 << 20).unwrap();
    assert!(again.planned.is_empty() && again.present == 4, "nothing to send twice");
    let found = presence(&odb, &[first], &remote).unwrap();
    assert_eq!(found.len(), 4);
    assert!(found.iter().all(|p| p.cached && p.on_remote && p.checked));
    let (local, on_remote) = stored(&odb, &[first], Some(&remote)).unwrap();
    assert!(local > 0 && on_remote == Some(local), "{local} {on_remote:?}");

    // A new version of y: a new root, the same sub-directory.
    fs::write(data.join("y"), b"y two").unwrap();
    let second = add(&odb, &ws, &data);
    assert_eq!(push(&odb, &[second], &remote, &staging), 2, "the new root and file only");
    let uses = usage(&odb, &[second], &remote).unwrap();
    assert_eq!(uses.len(), 4, "two packs per push: files, then trees");
    let to_repack: Vec<_> = uses.iter().filter(|u| u.repack).collect();
    assert_eq!(to_repack.len(), 1, "{uses:?}");
    let old = to_repack[0];
    assert_eq!((old.live, old.objects), (1, 2), "the shared sub-tree is live, the old root not");

    let pack_file = remote.join(old.pack.pack_file_name());
    let out = d.path().join("out");
    let written = repack(&odb, &[second], &remote, &[(pack_file.clone(), old.pack.pack_key())], &out).unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!((written[0].pack.objects, written[0].files), (1, 1));
    // A pack whose bytes are not its name is refused whole.
    fs::write(&pack_file, b"not the pack").unwrap();
    assert!(repack(&odb, &[second], &remote, &[(pack_file, old.pack.pack_key())], &out).is_err());
}

#[test]
fn a_damaged_or_misnamed_index_copy_is_dropped_not_trusted() {
    let d = tempfile::tempdir().unwrap();
    let (ws, remote, staging) = (d.path().join("ws"), d.path().join("remote"), d.path().join("staging"));
    let odb = Odb::new(d.path().join("cache"));
    fs::create_dir_all(ws.join("data")).unwrap();
    fs::create_dir_all(&remote).unwrap();
    fs::write(ws.join("data/f"), b"f").unwrap();
    let root = add(&odb, &ws, &ws.join("data"));
    push(&odb, &[root], &remote, &staging);
    let mut copies: Vec<_> =
        fs::read_dir(&remote).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().unwrap() == "idx").collect();
    copies.sort();
    assert_eq!(check_copies(&remote).unwrap(), Vec::<String>::new());
    let (good, bad) = (&copies[0], &copies[1]);
    let pack = PackIndex::read(good).unwrap().pack();
    assert!(check_index(good, &pack.hex()).is_ok());
    assert!(check_index(good, &"0".repeat(64)).is_err(), "the index of another pack");
    fs::write(bad, b"garbage").unwrap();
    let name = bad.file_name().unwrap().to_str().unwrap().to_owned();
    assert_eq!(check_copies(&remote).unwrap(), vec![name]);
    assert!(!bad.exists() && good.exists());
    assert_eq!(check_copies(&d.path().join("none")).unwrap(), Vec::<String>::new());
}
