//! Writing packs and their indexes from the local object store.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use bale_error::{Error, IoContext, Result};
use bale_hash::Oid;
use bale_odb::fs::TempFile;
use bale_odb::{Odb, Progress};
use rayon::prelude::*;

use crate::format::{encode_pack_tail, oid_key, pack_header, Encoding, Entry};
use crate::{PackId, PackIndex, PlannedPack};

/// Bytes gathered before one write and one pack-hash update: large enough
/// that blake3 hashes many chunks at once and the file sees few writes.
const FLUSH: usize = 4 << 20;
/// Large objects are read in blocks of this size, so memory stays bounded.
const BLOCK: u64 = 1 << 20;

/// A pack and its index, written into the staging folder under their names.
#[derive(Clone, Debug)]
pub struct WrittenPack {
    pub id: PackId,
    pub pack_path: PathBuf,
    pub index_path: PathBuf,
    /// The pack file's size.
    pub bytes: u64,
    pub objects: usize,
    /// The index, to add to a [`RemoteIndex`](crate::RemoteIndex) once uploaded.
    pub index: PackIndex,
}

/// Writes `oids` (blake3 objects of `odb`, in this order) as one pack in
/// `out_dir`, then its index, both named by the pack's blake3.
///
/// Every object is hashed as it is read and a corrupt one fails the pack
/// ([`Error::CorruptObject`]): a pack never spreads a damaged object. The
/// pack's own id is hashed on the way, so each byte is read once. Both files
/// are written under temp names and renamed, pack first, so a pack name
/// always holds a whole pack and an index name implies its pack. Writing the
/// same objects again yields the same names and bytes; the fresh files
/// replace the staged ones rather than trusting them, because staging files
/// are not fsynced and a machine crash may have left one truncated under its
/// name. `progress` counts one step per object (its total is the caller's
/// to set; [`write_packs`] sets it).
pub fn write_pack(odb: &Odb, oids: &[Oid], out_dir: &Path, progress: &Progress) -> Result<WrittenPack> {
    std::fs::create_dir_all(out_dir).at(out_dir)?;
    let mut pack = PackWriter {
        tmp: TempFile::create_in(out_dir)?,
        buf: Vec::with_capacity(FLUSH + BLOCK as usize),
        hasher: blake3::Hasher::new(),
        flushed: 0,
    };
    pack.buf.extend_from_slice(&pack_header());
    let mut seen = HashSet::with_capacity(oids.len());
    let mut entries = Vec::with_capacity(oids.len());
    for oid in oids {
        progress.check()?;
        let (digest, kind) = oid_key(oid).ok_or_else(|| Error::InvalidOid {
            text: oid.to_string(),
            what: "blake3 object id (only bale-native objects are packed)",
        })?;
        if !seen.insert((digest, kind)) {
            continue;
        }
        let offset = pack.position();
        let length = pack.append_object(odb, oid)?;
        entries.push(Entry { digest, kind, encoding: Encoding::Raw, offset, length });
        progress.step(length);
    }
    let objects = entries.len();
    // The table repeats the index inside the pack, so that a lost index can be
    // rebuilt from the pack alone (DESIGN.md §11, "Why a table in the pack").
    entries.sort_unstable_by_key(Entry::key);
    encode_pack_tail(&entries, &mut pack.buf);
    let (tmp, id, bytes) = pack.finish()?;
    let pack_path = out_dir.join(id.pack_file_name());
    tmp.persist(&pack_path)?;

    let index = PackIndex::new(id, bytes, entries);
    let index_path = out_dir.join(id.index_file_name());
    let mut tmp = TempFile::create_in(out_dir)?;
    tmp.write_all(&index.to_bytes())?;
    tmp.persist(&index_path)?;
    Ok(WrittenPack { id, pack_path, index_path, bytes, objects, index })
}

/// Writes each planned pack with [`write_pack`], several at once on the
/// current rayon pool (one thread per pack: within a pack the bytes are
/// sequential). Results are in plan order, so the tree pack stays last.
pub fn write_packs(odb: &Odb, plan: &[PlannedPack], out_dir: &Path, progress: &Progress) -> Result<Vec<WrittenPack>> {
    let total: usize = plan.iter().map(|p| p.oids.len()).sum();
    progress.total.fetch_add(total as u64, Ordering::Relaxed);
    plan.par_iter().with_max_len(1).map(|p| write_pack(odb, &p.oids, out_dir, progress)).collect()
}

/// A pack being written: a buffer in front of the temp file, and the pack's
/// running hash.
struct PackWriter {
    tmp: TempFile,
    buf: Vec<u8>,
    hasher: blake3::Hasher,
    flushed: u64,
}

impl PackWriter {
    fn position(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    fn flush(&mut self) -> Result<()> {
        self.hasher.update(&self.buf);
        self.tmp.write_all(&self.buf)?;
        self.flushed += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Appends one object, hashing it on the way; returns its length.
    fn append_object(&mut self, odb: &Odb, oid: &Oid) -> Result<u64> {
        let path = odb.object_path(oid);
        let mut file = match File::open(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::ObjectMissing { path, oid: oid.to_string() })
            }
            other => other.at(&path)?,
        };
        let size = file.metadata().at(&path)?.len();
        let mut hasher = blake3::Hasher::new();
        let mut left = size;
        while left > 0 {
            let want = left.min(BLOCK);
            let start = self.buf.len();
            // read_to_end through `take` fills the spare capacity without
            // zeroing it first and stops at `want` without another syscall.
            let got = (&mut file).take(want).read_to_end(&mut self.buf).at(&path)? as u64;
            if got < want {
                return Err(Error::ChangedWhileHashing { path });
            }
            hasher.update(&self.buf[start..]);
            left -= got;
            if self.buf.len() >= FLUSH {
                self.flush()?;
            }
        }
        let got = hasher.finalize();
        if got.as_bytes()[..] != *oid.digest() {
            return Err(Error::CorruptObject { path, expected: oid.to_string(), actual: got.to_hex().to_string() });
        }
        Ok(size)
    }

    /// Flushes the rest; returns the temp file, the pack's id and size.
    fn finish(mut self) -> Result<(TempFile, PackId, u64)> {
        self.flush()?;
        Ok((self.tmp, PackId::from_bytes(*self.hasher.finalize().as_bytes()), self.flushed))
    }
}
