//! Objects go into packs and come back byte-identical, or not at all.

mod common;

use std::fs;
use std::path::Path;

use bale_error::Error;
use bale_hash::Oid;
use bale_odb::{Odb, Progress};
use bale_pack::{plan_packs, read_plan, write_pack, PackId, PackIndex, RemoteIndex, WrittenPack};
use common::{download, ingest_alone, ingest_with, put, random_objects, Rng};

fn pull(remote: &RemoteIndex, wanted: &[Oid], packs: &Path, into: &Odb, scratch: &Path) -> usize {
    let plan = read_plan(remote, wanted, 4096, 256 << 10);
    assert!(plan.missing.is_empty(), "missing {:?}", plan.missing);
    for read in &plan.reads {
        let data = download(read, packs, scratch);
        ingest_alone(into, read, &data).unwrap();
    }
    plan.reads.len()
}

#[test]
fn every_object_round_trips_through_packs_into_a_fresh_store() {
    let d = tempfile::tempdir().unwrap();
    let (local, fresh) = (Odb::new(d.path().join("a")), Odb::new(d.path().join("b")));
    let mut rng = Rng(1);
    let mut objects = random_objects(&local, &mut rng, 600, 20_000, 30);
    // One object streamed through a temp file on ingest (above 8 MiB), and
    // one empty object.
    let big = rng.bytes((8 << 20) + 5);
    objects.insert(300, (put(&local, &big, false), big.len() as u64));
    objects.insert(10, (put(&local, b"", false), 0));

    let plan = plan_packs(items(&local, &objects.iter().map(|o| o.0).collect::<Vec<_>>()), 64 << 10);
    assert!(plan.last().unwrap().trees);
    let staged = d.path().join("staged");
    let progress = Progress::default();
    let written = common::write_packs(&plan, &staged, &progress);
    assert_eq!(written.len(), plan.len());
    assert_eq!(progress.done.load(std::sync::atomic::Ordering::Relaxed), objects.len() as u64);
    for (w, p) in written.iter().zip(&plan) {
        assert_eq!((w.objects, w.bytes), (p.items.len(), p.bytes), "the plan predicts the pack's size");
        assert_eq!(fs::metadata(&w.pack_path).unwrap().len(), w.bytes);
        assert_eq!(*blake3::hash(&fs::read(&w.pack_path).unwrap()).as_bytes(), *w.id.as_bytes());
        assert_eq!(PackIndex::read(&w.index_path).unwrap(), w.index);
    }
    assert_eq!(fs::read_dir(&staged).unwrap().count(), 2 * written.len(), "no temp files left");

    let remote = RemoteIndex::load_dir(&staged).unwrap();
    let all: Vec<Oid> = objects.iter().map(|o| o.0).collect();
    assert!(remote.missing(&all).is_empty());
    pull(&remote, &all, &staged, &fresh, &d.path().join("dl"));
    for (oid, _) in &objects {
        assert_eq!(fs::read(fresh.object_path(oid)).unwrap(), fs::read(local.object_path(oid)).unwrap(), "{oid}");
    }

    // A sub-directory's objects are contiguous in tree order: few reads.
    let other = Odb::new(d.path().join("c"));
    let subdir: Vec<Oid> = all[100..160].to_vec();
    let reads = pull(&remote, &subdir, &staged, &other, &d.path().join("dl2"));
    let packs_spanned: std::collections::HashSet<PackId> =
        subdir.iter().map(|o| remote.locate(o).unwrap().pack).collect();
    assert!(reads <= packs_spanned.len() + 1, "{reads} reads over {} packs", packs_spanned.len());
    assert!(other.exists(&all[100]) && !other.exists(&all[99]));
    // Ingesting again finds everything present.
    let plan = read_plan(&remote, &subdir, 4096, 256 << 10);
    let data = download(&plan.reads[0], &staged, &d.path().join("dl3"));
    let again = ingest_alone(&other, &plan.reads[0], &data).unwrap();
    assert_eq!((again.stored, again.present), (0, plan.reads[0].entries.len() as u64));
}

#[test]
fn a_flipped_byte_in_a_pack_is_caught_at_ingest_and_nothing_of_it_is_stored() {
    let d = tempfile::tempdir().unwrap();
    let (local, fresh) = (Odb::new(d.path().join("a")), Odb::new(d.path().join("b")));
    let objects = random_objects(&local, &mut Rng(2), 50, 5000, 0);
    let oids: Vec<Oid> =
        objects.iter().map(|o| o.0).filter(|o| local.object_path(o).metadata().unwrap().len() > 0).collect();
    let w = write_pack(&items(&local, &oids), &d.path().join("s"), &Progress::default()).unwrap();
    let victim = oids[7];
    let entry = w.index.get(&victim).unwrap();
    let remote = RemoteIndex::from_indexes([w.index.clone()]);
    let plan = read_plan(&remote, &[victim], 0, u64::MAX);
    let data = download(&plan.reads[0], &d.path().join("s"), &d.path().join("dl"));
    let mut bytes = fs::read(&data).unwrap();
    bytes[(entry.length / 2) as usize] ^= 1;
    fs::write(&data, bytes).unwrap();
    match ingest_alone(&fresh, &plan.reads[0], &data) {
        Err(Error::CorruptObject { path, expected, .. }) => {
            assert_eq!(path, Path::new(&w.id.pack_key()));
            assert_eq!(expected, victim.to_string());
        }
        other => panic!("expected a corrupt object, got {other:?}"),
    }
    assert!(!fresh.exists(&victim));
    assert!(fresh.stale_temps().unwrap().is_empty() && fresh.list(bale_hash::Algo::Blake3).unwrap().is_empty());

    // A short download is refused before anything is read.
    fs::write(&data, b"short").unwrap();
    assert!(matches!(ingest_alone(&fresh, &plan.reads[0], &data), Err(Error::BadManifest { .. })));
}

#[test]
fn a_corrupt_or_missing_local_object_is_never_packed() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let local = Odb::new(d.path().join("a"));
    let objects = random_objects(&local, &mut Rng(3), 5, 5000, 0);
    let oids: Vec<Oid> = objects.iter().map(|o| o.0).collect();
    let path = local.object_path(&oids[2]);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&path, b"rot").unwrap();
    let staged = d.path().join("s");
    assert!(matches!(
        write_pack(&items(&local, &oids), &staged, &Progress::default()),
        Err(Error::CorruptObject { .. })
    ));
    let listed = items(&local, &oids);
    fs::remove_file(&path).unwrap();
    assert!(matches!(write_pack(&listed, &staged, &Progress::default()), Err(Error::ObjectMissing { .. })));
    assert_eq!(fs::read_dir(&staged).unwrap().count(), 0, "nothing staged, no temp left");
    let md5 = Oid::from_digest(bale_hash::Algo::Md5, &[0; 16], false);
    assert!(matches!(bale_pack::PackItem::objects(&local, &[md5]), Err(Error::InvalidOid { .. })));
}

#[test]
fn packs_are_named_by_content_and_a_lost_index_is_rebuilt_from_the_pack() {
    let d = tempfile::tempdir().unwrap();
    let local = Odb::new(d.path().join("a"));
    let objects = random_objects(&local, &mut Rng(4), 40, 3000, 3);
    let oids: Vec<Oid> = objects.iter().map(|o| o.0).collect();
    let one = write_pack(&items(&local, &oids), &d.path().join("s1"), &Progress::default()).unwrap();
    let two = write_pack(&items(&local, &oids), &d.path().join("s2"), &Progress::default()).unwrap();
    assert_eq!(one.id, two.id);
    assert_eq!(fs::read(&one.index_path).unwrap(), fs::read(&two.index_path).unwrap());
    // Writing it again into the same folder replaces the staged files.
    let again = write_pack(&items(&local, &oids), &d.path().join("s1"), &Progress::default()).unwrap();
    assert_eq!(again.id, one.id);
    assert_eq!(fs::read_dir(d.path().join("s1")).unwrap().count(), 2);

    let pack = fs::read(&one.pack_path).unwrap();
    assert_eq!(PackIndex::from_pack(&pack, &one.pack_path).unwrap(), one.index);
    let footer = &pack[pack.len() - 16..];
    let tail_len = PackIndex::pack_tail_len(footer, &one.pack_path).unwrap() as usize;
    let tail = &pack[pack.len() - tail_len..];
    assert_eq!(PackIndex::from_pack_tail(tail, one.id, pack.len() as u64, &one.pack_path).unwrap(), one.index);
    let renamed = d.path().join(format!("{}.pack", "0".repeat(64)));
    assert!(PackIndex::from_pack(&pack, &renamed).is_err(), "the bytes do not match the name");
}

#[test]
fn an_object_in_two_packs_is_fine_and_indexes_are_checked_on_load() {
    let d = tempfile::tempdir().unwrap();
    let (local, fresh) = (Odb::new(d.path().join("a")), Odb::new(d.path().join("b")));
    let objects = random_objects(&local, &mut Rng(5), 30, 3000, 0);
    let oids: Vec<Oid> = objects.iter().map(|o| o.0).collect();
    let staged = d.path().join("s");
    // Two clones pushed overlapping sets at once.
    let a: WrittenPack = write_pack(&items(&local, &oids[..20]), &staged, &Progress::default()).unwrap();
    let b: WrittenPack = write_pack(&items(&local, &oids[10..]), &staged, &Progress::default()).unwrap();
    let remote = RemoteIndex::load_dir(&staged).unwrap();
    assert_eq!(remote.packs().len(), 2);
    assert_eq!(remote.len(), 40);
    assert_eq!(remote.locations(&oids[15]).count(), 2);
    assert!(remote.has_pack(&a.id) && remote.has_pack(&b.id));
    pull(&remote, &oids, &staged, &fresh, &d.path().join("dl"));
    assert!(oids.iter().all(|o| fresh.exists(o)));

    // Adding a known pack again changes nothing.
    let mut grown = RemoteIndex::from_indexes([a.index.clone()]);
    grown.add(&a.index);
    assert_eq!(grown.len(), 20);
    grown.add(&b.index);
    assert_eq!(grown.len(), 40);

    // Other files are ignored; an index under another pack's name, or a
    // truncated one, is refused.
    fs::write(staged.join("notes.txt"), b"x").unwrap();
    assert_eq!(RemoteIndex::load_dir(&staged).unwrap().len(), 40);
    let wrong = staged.join(format!("{}.idx", "1".repeat(64)));
    fs::copy(&a.index_path, &wrong).unwrap();
    assert!(RemoteIndex::load_dir(&staged).is_err());
    fs::remove_file(&wrong).unwrap();
    let bytes = fs::read(&b.index_path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&b.index_path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&b.index_path, &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(RemoteIndex::load_dir(&staged), Err(Error::BadManifest { .. })));
    assert!(RemoteIndex::load_dir(&d.path().join("nowhere")).unwrap().is_empty());
}

#[test]
fn a_file_listed_as_a_tree_is_refused_at_ingest() {
    let d = tempfile::tempdir().unwrap();
    let (local, fresh) = (Odb::new(d.path().join("a")), Odb::new(d.path().join("b")));
    let fake = put(&local, b"not a tree at all", true);
    let w = write_pack(&items(&local, &[fake]), &d.path().join("s"), &Progress::default()).unwrap();
    let remote = RemoteIndex::from_indexes([w.index]);
    let plan = read_plan(&remote, &[fake], 0, u64::MAX);
    let data = download(&plan.reads[0], &d.path().join("s"), &d.path().join("dl"));
    let err = ingest_alone(&fresh, &plan.reads[0], &data).unwrap_err();
    assert!(err.to_string().contains("listed as a tree"), "{err}");
    assert!(!fresh.exists(&fake));
}

#[test]
fn a_cancelled_write_or_ingest_stops_and_leaves_no_files() {
    let d = tempfile::tempdir().unwrap();
    let (local, fresh) = (Odb::new(d.path().join("a")), Odb::new(d.path().join("b")));
    let oids: Vec<Oid> = random_objects(&local, &mut Rng(6), 20, 3000, 0).into_iter().map(|o| o.0).collect();
    let staged = d.path().join("s");
    let w = write_pack(&items(&local, &oids), &staged, &Progress::default()).unwrap();
    let cancelled = Progress::default();
    cancelled.cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
    let other = d.path().join("s2");
    assert!(matches!(write_pack(&items(&local, &oids), &other, &cancelled), Err(Error::Interrupted)));
    assert_eq!(fs::read_dir(&other).unwrap().count(), 0);
    let plan = read_plan(&RemoteIndex::from_indexes([w.index]), &oids, 0, u64::MAX);
    let data = download(&plan.reads[0], &staged, &d.path().join("dl"));
    assert!(matches!(ingest_with(&fresh, &plan.reads[0], &data, &cancelled), Err(Error::Interrupted)));
    assert!(oids.iter().all(|o| !fresh.exists(o)));
}

fn items(odb: &bale_odb::Odb, oids: &[bale_hash::Oid]) -> Vec<bale_pack::PackItem> {
    bale_pack::PackItem::objects(odb, oids).unwrap()
}
