//! What a push sends: each object the remote lacks, and for a chunked file
//! (DESIGN.md §13.4) its list plus only the chunks the remote lacks.

use std::collections::HashSet;
use std::path::Path;

use bale_error::{IoContext, Result};
use bale_hash::Oid;
use bale_odb::fs::write_atomic;
use bale_odb::{LocalChunks, Odb};

use crate::{Kind, PackItem, RemoteIndex};

/// The items a push of `lacking` (objects the remote does not hold, in
/// tree order) uploads, and the ids the cache cannot supply.
///
/// A file with a chunk list goes as that list (into the final pack) and the
/// chunks no index lists, each read as a slice of the file's object, or as a
/// loose chunk where the file is compacted. A file without a list (stored
/// before chunking existed, or below the threshold) goes whole.
///
/// The list goes in its two-level form (DESIGN.md §13.6): its top, and the
/// segments the remote lacks, written into `staging` to be packed.
pub fn push_items(
    odb: &Odb,
    lacking: &[Oid],
    remote: &RemoteIndex,
    staging: &Path,
) -> Result<(Vec<PackItem>, Vec<Oid>)> {
    let mut items = Vec::with_capacity(lacking.len());
    let mut missing = Vec::new();
    let mut chunks_sent: HashSet<Oid> = HashSet::new();
    let mut local: Option<LocalChunks> = None;
    for oid in lacking {
        let whole = std::fs::metadata(odb.object_path(oid)).ok().filter(|m| m.is_file()).map(|m| m.len());
        let list = odb.read_list(oid)?;
        let Some(list) = list else {
            match whole.and_then(|size| PackItem::object(odb, oid, size)) {
                Some(item) => items.push(item),
                None => missing.push(*oid),
            }
            continue;
        };
        let mut file_items = Vec::new();
        // Joined into `chunks_sent` only once the file is known complete:
        // another file sharing these chunks must not count on them otherwise.
        let mut mine: HashSet<Oid> = HashSet::new();
        let mut complete = true;
        for c in &list.chunks {
            if remote.has_bytes(&c.id) || chunks_sent.contains(&c.id) || !mine.insert(c.id) {
                continue;
            }
            let digest: [u8; 32] = c.id.digest().try_into().expect("blake3 digests are 32 bytes");
            let place = match whole {
                Some(_) => Some((odb.object_path(oid), c.offset)),
                // Compacted: loose, or a slice of a file kept whole.
                None => match &mut local {
                    Some(l) => l.place(&c.id),
                    None => local.insert(LocalChunks::scan(odb)?).place(&c.id),
                },
            };
            let Some((source, offset)) = place else {
                complete = false;
                break;
            };
            file_items.push(PackItem { digest, kind: Kind::Chunk, source, offset, len: c.len });
        }
        if !complete {
            missing.push(*oid);
            continue;
        }
        let (top, segments) = list.segmented();
        let dir = staging.join("segments");
        std::fs::create_dir_all(&dir).at(&dir)?;
        chunks_sent.extend(mine);
        for seg in segments {
            if remote.has_bytes(&seg.id) || !chunks_sent.insert(seg.id) {
                continue;
            }
            let path = dir.join(seg.id.hex_digest());
            write_atomic(&path, &seg.bytes, 0o644)?;
            let digest: [u8; 32] = seg.id.digest().try_into().expect("blake3 digests are 32 bytes");
            let len = seg.bytes.len() as u64;
            file_items.push(PackItem { digest, kind: Kind::Chunk, source: path, offset: 0, len });
        }
        let path = dir.join(format!("{}.top", oid.hex_digest()));
        write_atomic(&path, &top, 0o644)?;
        let digest: [u8; 32] = oid.digest().try_into().expect("blake3 digests are 32 bytes");
        items.extend(file_items);
        items.push(PackItem { digest, kind: Kind::ChunkList, source: path, offset: 0, len: top.len() as u64 });
    }
    Ok((items, missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_chunk::testing::random;
    use bale_hash::Algo;

    /// Two compacted versions share chunks; one of the first's own chunks
    /// is lost. The first is reported missing, and the second still sends
    /// every chunk it needs: none is skipped as "sent" with the first.
    #[test]
    fn a_file_that_cannot_go_takes_no_chunk_with_it() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path().join("cache"));
        let v1 = random(6 << 20, 1);
        let mut v2 = v1.clone();
        v2[5 << 20..].copy_from_slice(&random(1 << 20, 2));
        let mut ids = Vec::new();
        for (name, data) in [("a", &v1), ("b", &v2)] {
            let src = d.path().join(name);
            std::fs::write(&src, data).unwrap();
            ids.push(odb.add_file(&src, Algo::Blake3, false).unwrap().0.oid);
        }
        let all: HashSet<Oid> = ids.iter().copied().collect();
        bale_odb::settle(&odb, &all, &all, false).unwrap();
        let (l1, l2) = (odb.read_list(&ids[0]).unwrap().unwrap(), odb.read_list(&ids[1]).unwrap().unwrap());
        let in_v2: HashSet<Oid> = l2.chunks.iter().map(|c| c.id).collect();
        let lost = l1.chunks.iter().rev().find(|c| !in_v2.contains(&c.id)).unwrap();
        std::fs::remove_file(odb.object_path(&lost.id)).unwrap();

        let (items, missing) = push_items(&odb, &ids, &RemoteIndex::new(), &d.path().join("staging")).unwrap();
        assert_eq!(missing, vec![ids[0]]);
        let sent: HashSet<Oid> = items.iter().filter(|i| i.kind == Kind::Chunk).map(PackItem::oid).collect();
        assert!(in_v2.iter().all(|c| sent.contains(c)), "every chunk of the file whose list goes");
        assert_eq!(items.iter().filter(|i| i.kind == Kind::ChunkList).count(), 1);
    }
}
