//! Copying objects from one store to another, verified.

use std::fs::File;

use bale_error::{Error, IoContext, Result};
use bale_hash::Oid;
use rayon::prelude::*;

use crate::fs::TempFile;
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
    pub verified: Vec<Oid>,
}

/// Copies every object of `oids` that `dst` lacks from `src`, in parallel.
/// Each object is hashed while it is copied and published only if it
/// matches its name, whichever way it goes: a corrupt object never spreads,
/// also from the cache, where bytes can rot under a stat the stat cache
/// still trusts (what is read anyway is hashed on the way).
pub fn transfer(src: &Odb, dst: &Odb, oids: &[Oid], progress: &Progress) -> Result<Transferred> {
    progress.total.fetch_add(oids.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let results: Vec<Result<(u8, u64, Oid)>> = oids
        .par_iter()
        .map(|oid| {
            progress.check()?;
            let r = if dst.exists(oid) {
                (0, 0, *oid)
            } else if !src.exists(oid) {
                (2, 0, *oid)
            } else {
                let n = copy_verified(src, dst, oid)?;
                crate::failpoint::reached("upload");
                (1, n, *oid)
            };
            progress.step(r.1);
            Ok(r)
        })
        .collect();
    let mut t = Transferred::default();
    for r in results {
        match r? {
            (0, _, _) => t.present += 1,
            (1, n, oid) => {
                t.copied += 1;
                t.bytes += n;
                t.verified.push(oid);
            }
            (_, _, oid) => t.missing.push(oid),
        }
    }
    Ok(t)
}

fn copy_verified(src: &Odb, dst: &Odb, oid: &Oid) -> Result<u64> {
    let from = src.object_path(oid);
    let to = dst.object_path(oid);
    let dir = to.parent().expect("object paths have a fan-out directory");
    dst.ensure_dir(dir)?;
    let mut tmp = TempFile::create_in(dir)?;
    let mut file = File::open(&from).at(&from)?;
    let tmp_path = tmp.path().to_path_buf();
    let (got, size) =
        copy_hashing(&mut file, &mut tmp, oid.algo(), oid.is_tree(), &from).map_err(|e| e.at_path(&tmp_path, &to))?;
    if got.digest() != oid.digest() {
        return Err(Error::CorruptObject { path: from, expected: oid.to_string(), actual: got.hex_digest() });
    }
    tmp.persist_new(&to)?;
    Ok(size)
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
}
