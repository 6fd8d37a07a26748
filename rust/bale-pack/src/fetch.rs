//! One round of a packed fetch: rebuild what can be rebuilt, then plan the
//! reads that bring the rest (DESIGN.md §11.5, §13.4).

use bale_chunk::ChunkList;
use std::path::Path;

use bale_error::Result;
use bale_hash::Oid;
use bale_index::repair::Repair;
use bale_index::sync::native_objects;
use bale_index::Workspace;
use bale_odb::{LocalChunks, Odb, PutOutcome};
use rayon::prelude::*;

use crate::assembly::Assemblies;
use crate::{read_plan_kinds, Kind, ReadPlan, RemoteIndex, Side};

/// Files assembled at once (each holds a temp file and a hashing thread
/// until its round's reads are in); more wait for the next round.
const MAX_ASSEMBLIES: usize = 64;

/// What a round found to do.
#[derive(Debug, Default)]
pub struct Round {
    /// Reads to make now; none means the fetch is done (what is still
    /// wanted is in `plan.missing`).
    pub plan: ReadPlan,
    /// Chunked files rebuilt (and verified) into the cache this round.
    pub rebuilt: Vec<Oid>,
    /// Chunked files assembled from the chunks the reads bring: pass to
    /// each read's [`Arrival`](crate::Arrival), then
    /// [`finish`](Assemblies::finish) once every read is in.
    pub assemblies: Assemblies,
}

/// `wanted` are objects the cache lacks (trees and files). A file whose
/// list arrived (earlier rounds) and whose chunks the cache holds is rebuilt
/// into the cache now, verified, with its list; a file whose list arrived
/// but that lacks chunks is assembled as they land ([`Assemblies`]); for the
/// others the round reads a tree, a file's list (where the remote has one:
/// only the chunks the cache lacks then follow) or its list's segments, or a
/// file's whole bytes.
pub fn fetch_round(
    odb: &Odb,
    side: &Side,
    remote: &RemoteIndex,
    wanted: &[Oid],
    max_gap: u64,
    max_read: u64,
) -> Result<Round> {
    let mut round = Round::default();
    let mut reads: Vec<(Oid, Kind)> = Vec::with_capacity(wanted.len());
    let mut local: Option<LocalChunks> = None;
    // The side store holds the segments of two-level lists fetched so far.
    let segments = side.segments()?;
    for oid in wanted {
        if oid.is_tree() {
            reads.push((*oid, Kind::Tree));
            continue;
        }
        let list = match side.list(oid)? {
            Some(list) => list,
            None => match side.top(oid)? {
                Some((top, path)) => {
                    let lacking: Vec<Oid> = top.segments.iter().map(|s| s.id).filter(|id| !segments.has(id)).collect();
                    if !lacking.is_empty() {
                        reads.extend(lacking.into_iter().map(|id| (id, Kind::Chunk)));
                        continue;
                    }
                    let mut buf = Vec::new();
                    let list = ChunkList::from_top(&top, &path, |id| {
                        Ok(segments.read(id, &mut buf)?.then(|| std::mem::take(&mut buf)))
                    })?;
                    side.put_list(&list)?;
                    list
                }
                None => {
                    let listed = remote.list_location(oid).is_some() && !side.unreadable(oid);
                    reads.push((*oid, if listed { Kind::ChunkList } else { Kind::Blob }));
                    continue;
                }
            },
        };
        let cache = match &mut local {
            Some(l) => &*l,
            None => local.insert(LocalChunks::scan(odb)?),
        };
        let lacking: Vec<Oid> = list.chunks.iter().map(|c| c.id).filter(|id| !cache.has(id)).collect();
        let unlisted: Vec<Oid> = lacking.iter().copied().filter(|id| !remote.contains(id)).collect();
        if lacking.is_empty() {
            // The list joins the cache only with the object it rebuilt: one
            // that never rebuilt anything is not trusted for slices.
            if odb.rebuild_list(&list, cache)? == PutOutcome::Stored {
                odb.put_list(&list)?;
                round.rebuilt.push(list.file);
            }
        } else if !unlisted.is_empty() {
            // The file cannot be whole: its chunks on no remote are reported.
            reads.extend(unlisted.into_iter().map(|id| (id, Kind::Chunk)));
        } else if round.assemblies.len() < MAX_ASSEMBLIES {
            let fetch = round.assemblies.start(odb, list, cache)?;
            reads.extend(fetch.into_iter().map(|id| (id, Kind::Chunk)));
        }
        // Beyond that, the file waits for the next round, its list kept.
    }
    round.plan = read_plan_kinds(remote, &reads, max_gap, max_read);
    Ok(round)
}

/// Limits of the reads a round plans: neighbours closer than `max_gap`
/// bytes merge into one read of at most `max_read` bytes.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    pub max_gap: u64,
    pub max_read: u64,
}

/// One round of a fetch of the native `roots` from the packs the indexes
/// in `index_dir` describe (see [`fetch_round`]), with its side store: the
/// lists (and their segments) on their way to a file's assembly, under the
/// fetch's `staging` folder (removed with it). What the cache holds counts
/// only if it is good: `repair` moves a corrupt object aside and it is
/// wanted again. With `shallow`, only the roots themselves are wanted, not
/// what they reach (to walk down to a sub-directory one tree at a time).
pub fn plan_fetch(
    odb: &Odb,
    repair: &Repair,
    roots: &[Oid],
    index_dir: &Path,
    staging: &Path,
    limits: ReadLimits,
    shallow: bool,
) -> Result<(Side, Round)> {
    let remote = RemoteIndex::load_dir(index_dir)?;
    let listed = if shallow { roots.to_vec() } else { repair.walk(|| native_objects(odb, roots))? };
    let wanted: Vec<Oid> = listed
        .into_par_iter()
        .map(|o| Ok(repair.cached(&o)?.is_none().then_some(o)))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let side = Side::new(staging.join("chunks"));
    let round = fetch_round(odb, &side, &remote, &wanted, limits.max_gap, limits.max_read)?;
    Ok((side, round))
}

/// Publishes the chunked files a round's reads completed, each verified
/// whole, with its list (see [`Assemblies::finish`]), and records them as
/// known good; returns how many were stored, or the first failure once
/// the others are published.
pub fn finish_fetch(ws: &Workspace, assemblies: &Assemblies) -> Result<u64> {
    let done = assemblies.finish(ws.odb());
    ws.record_verified(&done.files);
    match done.error {
        Some(e) => Err(e),
        None => Ok(done.files.len() as u64),
    }
}
