//! Chunked files a fetch rebuilds where their chunks land (DESIGN.md §13.4).
//!
//! When a round reads the chunks a file lacks, the file is assembled in a
//! [`Landing`] in the cache: the chunks the cache already holds are written
//! at their offsets when the round is planned,
//! and each fetched chunk, verified, is written at every offset the file's
//! list gives it as its read is ingested. The landing hashes the file as it
//! fills, and [`Assemblies::finish`] publishes the files that filled, each
//! with its list. A fetched chunk is written once, into its file: nothing is
//! staged and copied again, so a 2 GiB file costs 2 GiB of writes, not 6.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard};

use bale_chunk::{check_chunk, ChunkList, ChunkSource};
use bale_error::{Error, Result};
use bale_hash::Oid;
use bale_odb::{Landing, LocalChunks, Odb, PutOutcome};
use rayon::prelude::*;

/// What [`Assemblies::finish`] did.
#[derive(Debug, Default)]
pub struct Finished {
    /// Files stored now (verified).
    pub files: Vec<Oid>,
    /// The first file that failed, if any.
    pub error: Option<Error>,
}

/// The files one fetch round assembles.
#[derive(Default)]
pub struct Assemblies {
    files: Vec<RwLock<Option<Assembly>>>,
    /// Where each chunk to fetch goes: every `(file, offset)` that uses it.
    at: HashMap<Oid, Vec<(usize, u64)>>,
}

struct Assembly {
    list: ChunkList,
    landing: Landing,
}

impl std::fmt::Debug for Assemblies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assemblies").field("files", &self.files.len()).field("chunks", &self.at.len()).finish()
    }
}

impl Assemblies {
    /// How many files the round assembles.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Starts assembling `list`'s file: the chunks the cache holds are read,
    /// verified and written now; the others are placed for
    /// [`place`](Self::place). Returns the chunks to fetch that no earlier
    /// file of the round asked for.
    pub fn start(&mut self, odb: &Odb, list: ChunkList, cache: &LocalChunks) -> Result<Vec<Oid>> {
        let landing = odb.landing(&list.file)?;
        let index = self.files.len();
        let mut fetch = Vec::new();
        let mut buf = Vec::new();
        for (i, c) in list.chunks.iter().enumerate() {
            if cache.has(&c.id) {
                cache.read_chunk(&c.id, c.len, &mut buf)?;
                check_chunk(&list, i, &buf)?;
                landing.write(c.offset, &buf)?;
                continue;
            }
            let places = self.at.entry(c.id).or_default();
            if places.is_empty() {
                fetch.push(c.id);
            }
            places.push((index, c.offset));
        }
        self.files.push(RwLock::new(Some(Assembly { list, landing })));
        Ok(fetch)
    }

    /// Whether fetched chunk `id` has a place in a file being assembled.
    pub fn wants(&self, id: &Oid) -> bool {
        self.at.contains_key(id)
    }

    /// Writes the bytes of fetched chunk `id` (verified by the caller) at
    /// each of its places. Safe to call from several threads at once.
    pub fn place(&self, id: &Oid, bytes: &[u8]) -> Result<()> {
        for &(file, offset) in self.at.get(id).map(Vec::as_slice).unwrap_or_default() {
            if let Some(a) = self.read(file).as_ref() {
                a.landing.write(offset, bytes)?;
            }
        }
        Ok(())
    }

    /// Publishes every file, with its list, once all its bytes landed (the
    /// landing checks the whole file's hash). Every file is handled, and
    /// those stored are in the result, before an error is given: a file
    /// that did not fill (a read the plan left out, which would otherwise be
    /// planned again and again) or that hashed to something else.
    pub fn finish(&self, odb: &Odb) -> Finished {
        let results: Vec<Result<Option<Oid>>> = (0..self.files.len())
            .into_par_iter()
            .map(|file| {
                let Some(Assembly { list, landing }) = self.take(file) else { return Ok(None) };
                if landing.covered() < list.size {
                    return Err(Error::ObjectMissing {
                        path: format!("bytes {}.. of the file assembled from its chunks", landing.covered()).into(),
                        oid: list.file.to_string(),
                    });
                }
                // Named as a rebuild names a list whose whole is wrong.
                let source = ChunkList::relative_path(&list.file);
                if odb.ingest_landed(landing, &source.to_string_lossy())?.1 == PutOutcome::Present {
                    return Ok(None);
                }
                // The list joins the cache only with the object it rebuilt.
                odb.put_list(&list)?;
                Ok(Some(list.file))
            })
            .collect();
        let mut done = Finished::default();
        for r in results {
            match r {
                Ok(Some(oid)) => done.files.push(oid),
                Ok(None) => {}
                Err(e) => {
                    done.error.get_or_insert(e);
                }
            }
        }
        done
    }

    /// Gives every unfinished file up (a failed fetch): their temps go.
    pub fn discard(&self) {
        for file in 0..self.files.len() {
            drop(self.take(file));
        }
    }

    fn read(&self, file: usize) -> RwLockReadGuard<'_, Option<Assembly>> {
        self.files[file].read().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self, file: usize) -> Option<Assembly> {
        self.files[file].write().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_chunk::testing::random;
    use bale_hash::Algo;
    use bale_odb::LocalChunks;

    /// A chunked file stored in a first cache, and an empty second one.
    fn setup(dir: &std::path::Path) -> (Odb, Odb, Vec<u8>, ChunkList) {
        let bytes = random(9 << 20, 7);
        let src = dir.join("file");
        std::fs::write(&src, &bytes).unwrap();
        let from = Odb::new(dir.join("from"));
        let (hash, _) = from.add_file(&src, Algo::Blake3, false).unwrap();
        let list = from.read_list(&hash.oid).unwrap().expect("a chunked file has a list");
        assert!(list.chunks.len() > 10);
        (from, Odb::new(dir.join("to")), bytes, list)
    }

    fn temps(odb: &Odb) -> usize {
        odb.temps().len()
    }

    #[test]
    fn chunks_placed_in_any_order_from_many_threads_rebuild_the_file_with_its_list() {
        let dir = tempfile::tempdir().unwrap();
        let (_, to, bytes, list) = setup(dir.path());
        // Two chunks are already held: they are copied in, not fetched.
        for c in &list.chunks[3..5] {
            to.put_bytes(&c.id, &bytes[c.offset as usize..(c.offset + c.len) as usize]).unwrap();
        }
        let held = LocalChunks::scan(&to).unwrap();
        let mut assemblies = Assemblies::default();
        let fetch = assemblies.start(&to, list.clone(), &held).unwrap();
        let distinct: std::collections::HashSet<Oid> = list.chunks.iter().map(|c| c.id).collect();
        assert_eq!(fetch.len(), distinct.len() - 2);
        std::thread::scope(|s| {
            for c in list.chunks.iter().rev().filter(|c| fetch.contains(&c.id)) {
                let assemblies = &assemblies;
                let chunk = &bytes[c.offset as usize..(c.offset + c.len) as usize];
                s.spawn(move || assemblies.place(&c.id, chunk).unwrap());
            }
        });
        let done = assemblies.finish(&to);
        assert!(done.error.is_none());
        assert_eq!(done.files, vec![list.file]);
        assert_eq!(std::fs::read(to.object_path(&list.file)).unwrap(), bytes);
        assert!(to.has_list(&list.file));
        assert_eq!(temps(&to), 0);
    }

    #[test]
    fn a_file_missing_a_chunk_is_an_error_not_published_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let (_, to, bytes, list) = setup(dir.path());
        let held = LocalChunks::scan(&to).unwrap();
        let mut assemblies = Assemblies::default();
        let fetch = assemblies.start(&to, list.clone(), &held).unwrap();
        for c in list.chunks.iter().filter(|c| c.id != fetch[1]) {
            assemblies.place(&c.id, &bytes[c.offset as usize..(c.offset + c.len) as usize]).unwrap();
        }
        assert_eq!(temps(&to), 1);
        let done = assemblies.finish(&to);
        assert!(done.files.is_empty());
        assert!(matches!(done.error, Some(Error::ObjectMissing { .. })));
        assert!(!to.exists(&list.file) && !to.has_list(&list.file));
        assert_eq!(temps(&to), 0);

        let mut given_up = Assemblies::default();
        given_up.start(&to, list, &held).unwrap();
        given_up.discard();
        assert_eq!(temps(&to), 0);
    }

    #[test]
    fn chunks_that_fit_but_make_another_file_are_refused_whole() {
        // A list whose file id is not the hash of its chunks (a corrupt list
        // on a remote): every chunk verifies, the whole does not.
        let dir = tempfile::tempdir().unwrap();
        let (_, to, bytes, mut list) = setup(dir.path());
        list.file = bale_hash::hash_bytes(Algo::Blake3, b"another file", false);
        let held = LocalChunks::scan(&to).unwrap();
        let mut assemblies = Assemblies::default();
        assemblies.start(&to, list.clone(), &held).unwrap();
        for c in &list.chunks {
            assemblies.place(&c.id, &bytes[c.offset as usize..(c.offset + c.len) as usize]).unwrap();
        }
        let err = assemblies.finish(&to).error.expect("the whole does not verify");
        assert!(matches!(err, Error::CorruptObject { .. }), "{err}");
        assert!(!to.exists(&list.file) && !to.has_list(&list.file));
        assert_eq!(temps(&to), 0);
    }
}
