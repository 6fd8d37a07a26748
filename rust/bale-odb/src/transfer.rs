//! Copying objects from one store to another, verified.

use std::fs::File;

use bale_error::{Error, Result};
use bale_hash::Oid;
use rayon::prelude::*;

use crate::fs::{stat_of, Stat, TempFile};
use crate::ingest::copy_hashing;
use crate::{Odb, Progress};

/// What a transfer did.
#[derive(Clone, Debug, Default)]
pub struct Transferred {
    pub copied: u64,
    pub bytes: u64,
    /// Already in the destination.
    pub present: u64,
    /// Neither in the source nor the destination.
    pub missing: Vec<Oid>,
    /// The objects copied, each hashed on the way.
    pub verified: Vec<Verified>,
}

/// An object copied and hashed on the way, with the stat its worker took
/// of both files: recording it as known good needs no second pass over
/// 100,000 paths.
#[derive(Clone, Copy, Debug)]
pub struct Verified {
    pub oid: Oid,
    /// The file read.
    pub source: Stat,
    /// The file that landed; `None` where another writer's copy landed first.
    pub landed: Option<Stat>,
}

/// Copies every object of `oids` that `dst` lacks from `src`, in parallel.
/// Each object is hashed while it is copied and published only if it
/// matches its name, whichever way it goes: a corrupt object never spreads,
/// also from the cache, where bytes can rot under a stat the stat cache
/// still trusts (what is read anyway is hashed on the way).
pub fn transfer(src: &Odb, dst: &Odb, oids: &[Oid], progress: &Progress) -> Result<Transferred> {
    progress.total.fetch_add(oids.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let results: Vec<Result<Outcome>> = oids
        .par_iter()
        .map(|oid| {
            progress.check()?;
            let r = if dst.exists(oid) { Outcome::Present } else { copy_verified(src, dst, oid)? };
            if let Outcome::Copied(n, ..) = r {
                crate::failpoint::reached("upload");
                progress.step(n);
            } else {
                progress.step(0);
            }
            Ok(r)
        })
        .collect();
    let mut t = Transferred::default();
    for (r, oid) in results.into_iter().zip(oids) {
        match r? {
            Outcome::Present => t.present += 1,
            Outcome::Copied(n, source, landed) => {
                t.copied += 1;
                t.bytes += n;
                t.verified.push(Verified { oid: *oid, source, landed });
            }
            Outcome::Missing => t.missing.push(*oid),
        }
    }
    Ok(t)
}

enum Outcome {
    Present,
    /// Bytes copied, and the metadata of the source and of the landed file
    /// (`None`: another writer's copy landed first).
    Copied(u64, Stat, Option<Stat>),
    Missing,
}

fn copy_verified(src: &Odb, dst: &Odb, oid: &Oid) -> Result<Outcome> {
    let from = src.object_path(oid);
    // Opened before anything is made: a source without the object is told
    // by the open, with no stat of its own per object.
    let mut file = match File::open(&from) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::Missing),
        Err(e) => return Err(Error::io(&from, e)),
    };
    let source = match file.metadata() {
        Ok(m) if m.is_file() => m,
        _ => return Ok(Outcome::Missing), // as `Odb::exists` says: not a file
    };
    let to = dst.object_path(oid);
    let dir = to.parent().expect("object paths have a fan-out directory");
    dst.ensure_dir(dir)?;
    let mut tmp = TempFile::create_in(dir)?;
    let tmp_path = tmp.path().to_path_buf();
    let (got, size) = copy_hashing(&mut file, &mut tmp, oid.algo(), oid.is_tree(), &from, source.len())
        .map_err(|e| e.at_path(&tmp_path, &to))?;
    if got.digest() != oid.digest() {
        return Err(Error::CorruptObject { path: from, expected: oid.to_string(), actual: got.hex_digest() });
    }
    // A rename keeps the inode, size and mtime that the stat cache records.
    let meta = tmp.metadata()?;
    let landed = tmp.persist_new(&to)?;
    Ok(Outcome::Copied(size, stat_of(&source), landed.then(|| stat_of(&meta))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_hash::Algo;
    use std::fs;

    #[test]
    fn copies_missing_objects_and_refuses_corrupt_ones() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (Odb::new(d.path().join("a")), Odb::new(d.path().join("b")));
        let mut oids = Vec::new();
        for i in 0..5 {
            let f = d.path().join(format!("f{i}"));
            fs::write(&f, format!("content {i}")).unwrap();
            oids.push(a.add_file(&f, Algo::Md5, false).unwrap().0.oid);
        }
        let ghost = Oid::from_digest(Algo::Md5, &[7; 16], false);
        let mut want = oids.clone();
        want.push(ghost);
        let t = transfer(&a, &b, &want, &Progress::default()).unwrap();
        assert_eq!((t.copied, t.present, t.missing.clone()), (5, 0, vec![ghost]));
        let again = transfer(&a, &b, &oids, &Progress::default()).unwrap();
        assert_eq!((again.copied, again.present), (0, 5));
        // A corrupt source object is never published.
        let c = Odb::new(d.path().join("c"));
        let obj = a.object_path(&oids[0]);
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&obj, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&obj, b"rot").unwrap();
        assert!(matches!(transfer(&a, &c, &oids[..1], &Progress::default()), Err(Error::CorruptObject { .. })));
        assert!(!c.exists(&oids[0]));
        // Copies are byte copies, published read-only.
        let d2 = Odb::new(d.path().join("d"));
        let t = transfer(&a, &d2, &oids[1..], &Progress::default()).unwrap();
        assert_eq!(t.copied, 4);
        let copied = d2.object_path(&oids[1]);
        assert_eq!(fs::read(&copied).unwrap(), fs::read(a.object_path(&oids[1])).unwrap());
        assert_eq!(fs::metadata(&copied).unwrap().permissions().mode() & 0o777, 0o444);
    }

    #[test]
    fn objects_of_every_size_arrive_whole_with_the_metadata_they_landed_with() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (Odb::new(d.path().join("a")), Odb::new(d.path().join("b")));
        let read = bale_hash::READ_SIZE;
        let mut oids = Vec::new();
        // The copy's buffer is sized by the file: around its edges and past one block.
        for n in [0, 1, 4096, read - 1, read, read + 1, 3 * read + 7] {
            let f = d.path().join(format!("f{n}"));
            fs::write(&f, (0..n).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>()).unwrap();
            oids.push((a.add_file(&f, Algo::Md5, false).unwrap().0.oid, fs::read(&f).unwrap()));
        }
        let want: Vec<Oid> = oids.iter().map(|(o, _)| *o).collect();
        let t = transfer(&a, &b, &want, &Progress::default()).unwrap();
        assert_eq!(t.copied as usize, oids.len());
        for (oid, bytes) in &oids {
            assert_eq!(&fs::read(b.object_path(oid)).unwrap(), bytes);
        }
        for v in &t.verified {
            assert_eq!(v.landed, Some(stat_of(&fs::metadata(b.object_path(&v.oid)).unwrap())));
            assert_eq!(v.source, stat_of(&fs::metadata(a.object_path(&v.oid)).unwrap()));
        }
    }
}
