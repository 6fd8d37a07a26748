//! A packed push: which objects the remote lacks, in which packs they go,
//! and each pack written just before its upload.

use std::path::{Path, PathBuf};

use bale_error::{Error, Result};
use bale_hash::Oid;
use bale_index::sync::native_objects;
use bale_odb::{Odb, Progress};

use crate::presence::whole_on_remote;
use crate::{plan_packs, push_items, write_pack, Kind, PackItem, PlannedPack, RemoteIndex, WrittenPack};

/// What a push must upload: packs in upload order. The last pack holds the
/// trees and must go last (its index after every other index), so that a
/// tree on the remote implies all of its members.
#[derive(Debug)]
pub struct PushPlan {
    pub planned: Vec<PlannedPack>,
    /// Where each pack is written before its upload.
    pub staging: PathBuf,
    /// Objects the cache lacks (nothing that needs them is uploaded).
    pub missing: Vec<Oid>,
    /// Objects the remote's indexes already list.
    pub present: u64,
}

/// Plans the packs a push of the native `roots` needs: every object they
/// reach that the remote indexes in `index_dir` do not list, trees last.
pub fn plan_push(odb: &Odb, roots: &[Oid], index_dir: &Path, staging: &Path, target: u64) -> Result<PushPlan> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    // Only what the remote lacks is looked at in the cache: a no-op push
    // stats nothing. A file the remote has only as a list is checked chunk
    // by chunk, and its missing chunks go again (the list implies them); one
    // that cannot be checked goes whole if the cache has it.
    let mut present = 0u64;
    let mut lacking = Vec::new();
    for oid in native_objects(odb, roots)? {
        let there = match whole_on_remote(odb, &remote, &oid)? {
            Some(there) => there,
            None => !odb.exists(&oid),
        };
        if there {
            present += 1;
        } else {
            lacking.push(oid);
        }
    }
    std::fs::create_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    let (items, missing) = push_items(odb, &lacking, &remote, staging)?;
    // With anything missing, no tree goes: it would claim what is not there.
    let items = items.into_iter().filter(|i| missing.is_empty() || i.kind != Kind::Tree).collect();
    Ok(PushPlan { planned: plan_packs(items, target), staging: staging.to_path_buf(), missing, present })
}

/// A pack written for upload, and how many files it holds (a chunked file
/// is pushed as its list and chunks: the list counts as the file).
#[derive(Debug)]
pub struct Written {
    pub pack: WrittenPack,
    pub files: u64,
}

/// Writes `items` as one pack into `out_dir`, every object verified as it
/// is read.
pub fn write_counted(items: &[PackItem], out_dir: &Path, progress: &Progress) -> Result<Written> {
    let pack = write_pack(items, out_dir, progress)?;
    let files = items.iter().filter(|item| item.kind != Kind::Chunk).count() as u64;
    Ok(Written { pack, files })
}

impl PushPlan {
    /// Writes pack `i` into the staging folder (see [`write_counted`]).
    pub fn write(&self, i: usize, progress: &Progress) -> Result<Written> {
        write_counted(&self.planned[i].items, &self.staging, progress)
    }
}
