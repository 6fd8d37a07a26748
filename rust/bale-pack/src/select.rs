//! What a push sends: each object the remote lacks, and for a chunked file
//! (DESIGN.md §13.4) its list plus only the chunks the remote lacks.

use std::collections::HashSet;

use bale_error::Result;
use bale_hash::Oid;
use bale_odb::Odb;

use crate::{Kind, PackItem, RemoteIndex};

/// The items a push of `lacking` (objects the remote does not hold, in
/// tree order) uploads, and the ids the cache cannot supply.
///
/// A file with a chunk list goes as that list (into the final pack) and the
/// chunks no index lists, each read as a slice of the file's object, or as a
/// loose chunk where the file is compacted. A file without a list (stored
/// before chunking existed, or below the threshold) goes whole.
pub fn push_items(odb: &Odb, lacking: &[Oid], remote: &RemoteIndex) -> Result<(Vec<PackItem>, Vec<Oid>)> {
    let mut items = Vec::with_capacity(lacking.len());
    let mut missing = Vec::new();
    let mut chunks_sent: HashSet<Oid> = HashSet::new();
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
        let mut complete = true;
        for c in &list.chunks {
            if !remote.byte_locations(&c.id).is_empty() || !chunks_sent.insert(c.id) {
                continue;
            }
            let digest: [u8; 32] = c.id.digest().try_into().expect("blake3 digests are 32 bytes");
            let (source, offset) = match whole {
                Some(_) => (odb.object_path(oid), c.offset),
                None if odb.exists(&c.id) => (odb.object_path(&c.id), 0),
                None => {
                    complete = false;
                    break;
                }
            };
            file_items.push(PackItem { digest, kind: Kind::Chunk, source, offset, len: c.len });
        }
        if !complete {
            missing.push(*oid);
            continue;
        }
        let digest: [u8; 32] = oid.digest().try_into().expect("blake3 digests are 32 bytes");
        let path = odb.list_path(oid);
        let len = std::fs::metadata(&path).map_err(|e| bale_error::Error::io(&path, e))?.len();
        items.extend(file_items);
        items.push(PackItem { digest, kind: Kind::ChunkList, source: path, offset: 0, len });
    }
    Ok((items, missing))
}
