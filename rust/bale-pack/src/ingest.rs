//! Storing downloaded pack bytes into the local object store, verified.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use bale_error::{IoContext, Result};
use bale_hash::Oid;
use bale_odb::fs::TempFile;
use bale_odb::{Odb, Progress, PutOutcome};
use rayon::prelude::*;

use crate::errors::{bad_format, corrupt_in_pack};
use crate::{Assemblies, Encoding, Entry, Kind, Read, Side};

/// Objects up to this size are read whole and stored with `Odb::put_bytes`;
/// larger ones are streamed through a temp file in blocks of it.
const IN_MEMORY: u64 = 8 << 20;

/// What [`ingest_read`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Objects (and chunks) written now.
    pub stored: u64,
    /// The files and directories (blobs and trees) among them: what a
    /// user counts as pulled, as DVC counts a directory's `.dir`.
    pub files: u64,
    /// Objects the store already held (not read, not re-verified).
    pub present: u64,
    /// Bytes of the objects stored now.
    pub bytes: u64,
    /// The objects published into the store now, each hashed on the way:
    /// the caller may remember them verified.
    pub published: Vec<Oid>,
}

/// Splits the downloaded bytes of `read` (`data_file` holds exactly bytes
/// `read.start..read.end` of the pack) into objects and stores each one the
/// store lacks, in parallel.
///
/// Each object is hashed before it is published, and published atomically
/// (temp + rename, first writer wins), so a corrupt object never reaches the
/// store: it fails the call with [`CorruptObject`](bale_error::Error::CorruptObject) naming the pack and
/// the object. Other objects of the same read that verified may already be
/// stored by then; they are correct, and a retry skips them.
///
/// Chunks go, verified, into the files `assemblies` builds from them. Chunk
/// lists, and the segments of two-level lists, go into `side`, a store of
/// their own beside the fetch, never into the cache: a list in the cache
/// promises its chunks (DESIGN.md §13.0), which a fetch cut short could not
/// keep.
pub fn ingest_read(
    odb: &Odb,
    side: &Side,
    assemblies: &Assemblies,
    read: &Read,
    data_file: &Path,
    progress: &Progress,
) -> Result<Ingested> {
    let file = File::open(data_file).at(data_file)?;
    let size = file.metadata().at(data_file)?.len();
    if size != read.len() {
        return Err(bad_format(
            data_file,
            format!("holds {size} bytes; bytes {}..{} of pack {} are {}", read.start, read.end, read.pack, read.len()),
        ));
    }
    if let [e] = read.entries.as_slice() {
        if e.kind == Kind::Blob && e.encoding == Encoding::Raw && e.offset == read.start && e.end() == read.end {
            // The download is exactly one object (a large file): verify it
            // where it lies and rename it into the store, rather than copy it.
            drop(file);
            let oid = e.oid();
            if odb.exists(&oid) {
                return Ok(Ingested { present: 1, ..Ingested::default() });
            }
            let outcome = odb.ingest(&oid, data_file, &read.pack.pack_key())?.1;
            progress.step(e.length);
            let stored = u64::from(outcome == PutOutcome::Stored);
            let published = if stored == 1 { vec![oid] } else { Vec::new() };
            return Ok(Ingested { stored, files: stored, present: 1 - stored, bytes: stored * e.length, published });
        }
    }
    let (placed, kept): (Vec<&Entry>, Vec<&Entry>) =
        read.entries.iter().filter(|e| e.kind == Kind::Chunk).partition(|e| assemblies.wants(&e.oid()));
    let mut done = Ingested::default();
    // Chunks of files being assembled go, verified, straight into them.
    placed.par_iter().try_for_each(|e| {
        progress.check()?;
        let mut data = vec![0u8; e.length as usize];
        file.read_exact_at(&mut data, within(read, data_file, e)?).at(data_file)?;
        verify(read, e, blake3::hash(&data), &data)?;
        assemblies.place(&e.oid(), &data)?;
        progress.step(e.length);
        Ok::<_, bale_error::Error>(())
    })?;
    // The rest (a list's segments) wait in the side store, verified when used.
    if !kept.is_empty() {
        side.keep_range(read, data_file, &kept)?;
        progress.step(kept.iter().map(|e| e.length).sum());
    }
    for e in placed.iter().chain(&kept) {
        done.stored += 1;
        done.bytes += e.length;
    }
    let outcomes: Vec<(&Entry, PutOutcome, u64)> = read
        .entries
        .par_iter()
        .filter(|e| e.kind != Kind::Chunk)
        .map(|e| {
            progress.check()?;
            let (outcome, bytes) = match e.kind {
                Kind::ChunkList => ingest_list(side, read, &file, data_file, e)?,
                _ => ingest_one(odb, read, &file, data_file, e)?,
            };
            progress.step(e.length);
            Ok((e, outcome, bytes))
        })
        .collect::<Result<_>>()?;
    for (e, outcome, bytes) in outcomes {
        match outcome {
            PutOutcome::Stored => {
                done.stored += 1;
                done.bytes += bytes;
                if e.kind != Kind::ChunkList {
                    done.files += 1;
                    done.published.push(e.oid()); // a list goes to the side store
                }
            }
            PutOutcome::Present => done.present += 1,
        }
    }
    Ok(done)
}

fn ingest_list(side: &Side, read: &Read, file: &File, data_file: &Path, e: &Entry) -> Result<(PutOutcome, u64)> {
    let oid = e.oid();
    let mut data = vec![0u8; e.length as usize];
    file.read_exact_at(&mut data, within(read, data_file, e)?).at(data_file)?;
    side.keep_list(&oid, &data, &read.pack.pack_key())?;
    Ok((PutOutcome::Stored, e.length))
}

fn ingest_one(odb: &Odb, read: &Read, file: &File, data_file: &Path, e: &Entry) -> Result<(PutOutcome, u64)> {
    let oid = e.oid();
    let at = within(read, data_file, e)?;
    match e.encoding {
        Encoding::Raw => {}
    }
    if odb.exists(&oid) {
        return Ok((PutOutcome::Present, 0));
    }
    if e.length <= IN_MEMORY {
        let mut data = vec![0u8; e.length as usize];
        file.read_exact_at(&mut data, at).at(data_file)?;
        verify(read, e, blake3::hash(&data), &data)?;
        return Ok((odb.put_bytes(&oid, &data)?, e.length));
    }
    let dest = odb.object_path(&oid);
    let dir = dest.parent().expect("object paths have a fan-out directory");
    odb.ensure_dir(dir)?;
    let mut tmp = TempFile::create_in(dir)?;
    let mut buf = vec![0u8; IN_MEMORY as usize];
    let mut hasher = blake3::Hasher::new();
    let mut head = Vec::new();
    let mut done = 0u64;
    while done < e.length {
        let n = (e.length - done).min(IN_MEMORY) as usize;
        file.read_exact_at(&mut buf[..n], at + done).at(data_file)?;
        if done == 0 {
            head = buf[..n.min(16)].to_vec();
        }
        hasher.update_rayon(&buf[..n]);
        tmp.write_all(&buf[..n])?;
        done += n as u64;
    }
    verify(read, e, hasher.finalize(), &head)?;
    let outcome = if tmp.persist_new(&dest)? { PutOutcome::Stored } else { PutOutcome::Present };
    Ok((outcome, e.length))
}

/// Where entry `e` starts in the downloaded bytes of `read`.
fn within(read: &Read, data_file: &Path, e: &Entry) -> Result<u64> {
    if e.offset < read.start || e.end() > read.end {
        let oid = e.oid();
        return Err(bad_format(data_file, format!("object {oid} lies outside bytes {}..{}", read.start, read.end)));
    }
    Ok(e.offset - read.start)
}

/// Fails unless the bytes that hashed to `got` (starting with `head`) are the
/// object `e` says they are.
fn verify(read: &Read, e: &Entry, got: blake3::Hash, head: &[u8]) -> Result<()> {
    let oid = e.oid();
    if got.as_bytes()[..] != *oid.digest() {
        return Err(corrupt_in_pack(&read.pack, &oid, got.to_hex().to_string()));
    }
    // A tree name in the store promises a tree: an index that calls a file a
    // tree is refused here rather than later, when the tree is parsed.
    if e.kind == Kind::Tree && !head.starts_with(b"bale-tree ") {
        return Err(bad_format(read.pack.pack_key(), format!("object {oid} is listed as a tree but is not one")));
    }
    Ok(())
}
