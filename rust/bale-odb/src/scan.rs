//! Reading a store's areas whole: which objects it holds (listed or
//! stat by stat), its trees by age, the temps killed writers left, and the
//! fingerprint that tells whether any object came or went.

use std::fs;
use std::path::{Path, PathBuf};

use bale_chunk::LIST_SUFFIX;
use bale_error::{IoContext, Result};
use bale_hash::{Algo, Oid};
use rayon::prelude::*;

use crate::layout::fanouts;
use crate::Odb;
impl Odb {
    /// An answer to "is it stored?" for many objects of one algorithm: a
    /// listing of the area when reading its directories costs less than a
    /// stat per object (a stat walks the whole path, a listing reads names
    /// in bulk), else a stat per question. The listing is taken once: an
    /// object stored after it reads as absent (and is stored again, which a
    /// put of an existing object tolerates); one removed after it reads as
    /// present, as after any stat, and writers hold the repository lock.
    pub fn presence(&self, algo: Algo, questions: usize) -> Presence<'_> {
        // About 40 bytes of directory per entry (a name of 30-66 characters
        // and its header) on ext4 and XFS: listing pays off while the area
        // holds at most a few entries per question.
        if questions < 1024 {
            return Presence::Stat(self);
        }
        let area = self.area(algo);
        let dir_bytes: u64 = fanouts().map(|f| fs::metadata(area.join(f)).map_or(0, |m| m.len())).sum();
        if dir_bytes / 40 > 4 * questions as u64 {
            return Presence::Stat(self);
        }
        self.listing(algo)
    }

    /// [`presence`](Self::presence) by listing, whatever it costs (by stats
    /// if the area cannot be listed).
    pub fn listing(&self, algo: Algo) -> Presence<'_> {
        let names = self.scan(algo, |prefix, name, entry| {
            // A symlinked object (a shared cache) counts if it leads to a file.
            let t = entry.file_type().ok()?;
            (t.is_file() || (t.is_symlink() && entry.path().is_file())).then(|| format!("{prefix}{name}"))
        });
        match names {
            Ok(names) => Presence::Listed(names.into_iter().collect()),
            Err(_) => Presence::Stat(self),
        }
    }

    /// The directory objects of `algo` in the store, newest first (by
    /// mtime: the order they were stored), at most `limit`.
    pub fn recent_trees(&self, algo: Algo, limit: usize) -> Result<Vec<Oid>> {
        let suffix = algo.tree_suffix();
        let mut found = self.scan(algo, |prefix, name, entry| {
            if !name.ends_with(suffix) {
                return None;
            }
            let oid = Oid::parse(algo, &format!("{prefix}{name}")).ok()?;
            Some((entry.metadata().ok()?.modified().ok()?, oid))
        })?;
        found.sort_unstable_by_key(|f| std::cmp::Reverse(f.0));
        Ok(found.into_iter().take(limit).map(|(_, oid)| oid).collect())
    }

    /// Every object of one algorithm in the store, in no particular order.
    pub fn list(&self, algo: Algo) -> Result<Vec<(Oid, u64)>> {
        self.scan(algo, |prefix, name, entry| {
            let oid = Oid::parse(algo, &format!("{prefix}{name}")).ok()?;
            Some((oid, entry.metadata().map(|m| m.len()).unwrap_or(0)))
        })
    }

    /// What `pick` makes of each file of one algorithm's area (given its
    /// fan-out prefix and name), the 256 fan-out directories read in parallel.
    pub(crate) fn scan<T: Send>(
        &self,
        algo: Algo,
        pick: impl Fn(&str, &str, &fs::DirEntry) -> Option<T> + Sync,
    ) -> Result<Vec<T>> {
        let area = self.area(algo);
        let per_prefix: Vec<Result<Vec<T>>> = fanouts()
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|prefix| {
                let dir = area.join(&prefix);
                let entries = match fs::read_dir(&dir) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    other => other.at(&dir)?,
                };
                let mut found = Vec::new();
                for entry in entries {
                    let entry = entry.at(&dir)?;
                    let name = entry.file_name();
                    if let Some(t) = name.to_str().and_then(|name| pick(&prefix, name, &entry)) {
                        found.push(t);
                    }
                }
                Ok(found)
            })
            .collect();
        let mut all = Vec::new();
        for part in per_prefix {
            all.extend(part?);
        }
        Ok(all)
    }

    /// Temp files left by bale processes that are no longer running (a
    /// killed `add` or `pull`), with their sizes. Live writers' temps are kept.
    pub fn stale_temps(&self) -> Result<Vec<(PathBuf, u64)>> {
        Ok(self
            .temps()
            .into_iter()
            .filter(|(_, _, owner)| !crate::fs::pid_alive(*owner))
            .map(|(p, n, _)| (p, n))
            .collect())
    }

    /// Every bale temp file in the store, with its size and the pid that
    /// made it.
    pub fn temps(&self) -> Vec<(PathBuf, u64, u32)> {
        // Where the clone probe may leave a pair, if killed in between.
        let mut dirs = self.probe_dirs().to_vec();
        for algo in [Algo::Md5, Algo::Blake3] {
            let area = self.area(algo);
            dirs.push(area.clone());
            dirs.extend(fanouts().map(|f| area.join(f)));
        }
        dirs.push(self.blocks_dir());
        let is_temp = |_: &Path, name: &str| crate::fs::temp_owner(name).is_some();
        let found: Vec<Vec<(PathBuf, u64)>> =
            dirs.par_iter().map(|dir| crate::fs::find_temps(dir, false, &is_temp)).collect();
        let owner = |path: &Path| path.file_name().and_then(|n| n.to_str()).and_then(crate::fs::temp_owner);
        found.into_iter().flatten().filter_map(|(path, size)| owner(&path).map(|pid| (path, size, pid))).collect()
    }

    /// A fingerprint of every fan-out directory of one algorithm's area: their
    /// inodes and mtimes. Removing or adding any object changes its
    /// directory's mtime, so an unchanged fingerprint proves no object came or
    /// went. `None` while a directory changed too recently to be sure (a
    /// removal in the same timestamp tick would not move its mtime: see
    /// [`racy`](crate::fs::racy)).
    pub fn area_fingerprint(&self, algo: Algo) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        let area = self.area(algo);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos() as i64;
        let mut h = blake3::Hasher::new();
        for name in std::iter::once(String::new()).chain(fanouts()) {
            let dir = if name.is_empty() { area.clone() } else { area.join(&name) };
            let (ino, mtime) = match fs::metadata(&dir) {
                Ok(m) => (m.ino(), m.mtime() * 1_000_000_000 + m.mtime_nsec()),
                Err(_) => (0, 0),
            };
            if mtime != 0 && crate::fs::racy(mtime, now) {
                return None;
            }
            h.update(&ino.to_le_bytes());
            h.update(&mtime.to_le_bytes());
        }
        Some(u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().ok()?))
    }

    /// [`area_fingerprint`](Self::area_fingerprint) right after this
    /// process changed the area: waits out one fine-grained timestamp tick
    /// at most (about 50 ms), and gives up on a coarse file system.
    pub fn settled_area_fingerprint(&self, algo: Algo) -> Option<u64> {
        // A fine tick is 50 ms: five looks 15 ms apart see past it.
        for look in 0..5 {
            if look > 0 {
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
            if let Some(f) = self.area_fingerprint(algo) {
                return Some(f);
            }
        }
        None
    }
}

/// See [`Odb::presence`].
pub enum Presence<'a> {
    Stat(&'a Odb),
    /// Every object's id text (`<fan-out><rest>`, as its path spells it).
    Listed(std::collections::HashSet<String>),
}

impl Presence<'_> {
    /// Whether the store can give the object's content, as [`Odb::has`]
    /// says: its object, or the chunk list of a file stored as chunks.
    pub fn has(&self, oid: &Oid) -> bool {
        match self {
            Presence::Stat(odb) => odb.has(oid),
            Presence::Listed(names) => {
                let name = oid.to_string();
                names.contains(&name)
                    || (oid.algo() == Algo::Blake3 && !oid.is_tree() && names.contains(&(name + LIST_SUFFIX)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_hash::hash_bytes;
    #[test]
    fn a_listing_answers_as_a_stat_does() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let oid = |b: &[u8]| hash_bytes(Algo::Md5, b, false);
        let (file, tree, absent) = (oid(b"file"), oid(b"{}").as_tree(), oid(b"absent"));
        odb.put_bytes(&file, b"file").unwrap();
        odb.put_bytes(&tree, b"{}").unwrap();
        fs::create_dir_all(odb.area(Algo::Md5).join("zz")).unwrap();
        let listed = odb.listing(Algo::Md5);
        assert!(matches!(listed, Presence::Listed(_)));
        for o in [file, tree, absent, file.as_tree()] {
            assert_eq!(listed.has(&o), odb.has(&o), "{o}");
        }
        assert!(matches!(odb.presence(Algo::Md5, 10), Presence::Stat(_)), "few questions: stat them");
    }

    #[test]
    fn recent_trees_are_the_directory_objects_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let tree = |b: &[u8]| hash_bytes(Algo::Md5, b, false).as_tree();
        let (old, new) = (tree(b"[1]"), tree(b"[2]"));
        odb.put_bytes(&old, b"[1]").unwrap();
        odb.put_bytes(&new, b"[2]").unwrap();
        odb.put_bytes(&hash_bytes(Algo::Md5, b"file", false), b"file").unwrap();
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        fs::File::open(odb.object_path(&old)).unwrap().set_modified(past).unwrap();
        assert_eq!(odb.recent_trees(Algo::Md5, 8).unwrap(), vec![new, old]);
        assert_eq!(odb.recent_trees(Algo::Md5, 1).unwrap(), vec![new]);
        assert!(odb.recent_trees(Algo::Blake3, 8).unwrap().is_empty());
    }

    #[test]
    fn the_area_fingerprint_settles_right_after_a_write_and_moves_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let put = |b: &[u8]| odb.put_bytes(&hash_bytes(Algo::Md5, b, false), b).unwrap();
        put(b"one");
        let before = odb.settled_area_fingerprint(Algo::Md5).expect("settles within one tick");
        put(b"two");
        let after = odb.settled_area_fingerprint(Algo::Md5).expect("settles within one tick");
        assert_ne!(before, after);
    }

    #[test]
    fn the_area_fingerprint_moves_when_an_object_goes() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path().join("cache"));
        let mut oids = Vec::new();
        for i in 0..3 {
            let f = dir.path().join(format!("f{i}"));
            fs::write(&f, format!("{i}")).unwrap();
            oids.push(odb.add_file(&f, Algo::Md5, false).unwrap().0.oid);
        }
        assert_eq!(odb.area_fingerprint(Algo::Md5), None, "just written: too recent to trust");
        let backdate = |secs: u64| {
            let area = odb.area(Algo::Md5);
            let t = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
            for e in fs::read_dir(&area).unwrap().flatten().map(|e| e.path()).chain([area.clone()]) {
                fs::File::open(&e).unwrap().set_modified(t).unwrap();
            }
        };
        backdate(100);
        let before = odb.area_fingerprint(Algo::Md5).expect("settled");
        assert_eq!(odb.area_fingerprint(Algo::Md5), Some(before));
        odb.remove(&oids[1]).unwrap();
        backdate(50);
        assert_ne!(odb.area_fingerprint(Algo::Md5), Some(before));
    }

    #[test]
    fn list_finds_every_object_and_skips_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::new(dir.path());
        for i in 0..20 {
            let f = dir.path().join(format!("src{i}"));
            fs::write(&f, format!("{i}")).unwrap();
            odb.add_file(&f, Algo::Md5, false).unwrap();
        }
        fs::write(odb.area(Algo::Md5).join("00").join(".x.tmp"), b"").unwrap_or(());
        assert_eq!(odb.list(Algo::Md5).unwrap().len(), 20);
        let dead = odb.area(Algo::Md5).join("ab").join(".bale4000000000x1x2.tmp");
        fs::create_dir_all(dead.parent().unwrap()).unwrap();
        fs::write(&dead, b"partial").unwrap();
        let live = odb.area(Algo::Md5).join("ab").join(format!(".bale{}x1x2.tmp", std::process::id()));
        fs::write(&live, b"in progress").unwrap();
        assert_eq!(odb.stale_temps().unwrap(), vec![(dead, 7)]);
        assert!(odb.list(Algo::Blake3).unwrap().is_empty());
    }
}
