//! Writing packs and their indexes from the local object store.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read as _, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bale_error::{Error, IoContext, Result};
use bale_odb::fs::TempFile;
use bale_odb::Progress;

use crate::format::{encode_pack_tail, pack_header, Encoding, Entry, Kind};
use crate::{PackId, PackIndex, PackItem};

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

/// Writes `items` (in this order) as one pack in `out_dir`, then its index,
/// both named by the pack's blake3.
///
/// Every object is hashed as it is read and one that does not hash to its
/// digest fails the pack ([`Error::CorruptObject`]): a pack never spreads a
/// damaged object. (A chunk list is named by its file, not its bytes; the
/// caller checked it when it chose it.) The pack's own id is hashed on the
/// way, so each byte is read once. Both files are written under temp names
/// and renamed, pack first, so a pack name always holds a whole pack and an
/// index name implies its pack. Writing the same objects again yields the
/// same names and bytes; the fresh files replace the staged ones rather than
/// trusting them, because staging files are not fsynced and a machine crash
/// may have left one truncated under its name. `progress` counts one step
/// per object (its total is the caller's to set).
pub fn write_pack(items: &[PackItem], out_dir: &Path, progress: &Progress) -> Result<WrittenPack> {
    std::fs::create_dir_all(out_dir).at(out_dir)?;
    let mut pack = PackWriter {
        tmp: TempFile::create_in(out_dir)?,
        buf: Vec::with_capacity(FLUSH + BLOCK as usize),
        hasher: blake3::Hasher::new(),
        flushed: 0,
        source: None,
    };
    pack.buf.extend_from_slice(&pack_header());
    let mut seen = HashSet::with_capacity(items.len());
    let mut entries = Vec::with_capacity(items.len());
    for item in items {
        progress.check()?;
        if !seen.insert((item.digest, item.kind)) {
            continue;
        }
        let offset = pack.position();
        let length = pack.append(item)?;
        entries.push(Entry { digest: item.digest, kind: item.kind, encoding: Encoding::Raw, offset, length });
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

/// A pack being written: a buffer in front of the temp file, and the pack's
/// running hash.
struct PackWriter {
    tmp: TempFile,
    buf: Vec<u8>,
    hasher: blake3::Hasher,
    flushed: u64,
    /// The source last read: the chunks of a large file come one after the
    /// other from its object, so it is opened once, not once per chunk.
    source: Option<(PathBuf, File)>,
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
    fn append(&mut self, item: &PackItem) -> Result<u64> {
        let path = &item.source;
        let mut file = match self.source.take() {
            Some((open, file)) if open == *path => file,
            _ => match File::open(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::ObjectMissing { path: path.clone(), oid: item.oid().to_string() })
                }
                other => other.at(path)?,
            },
        };
        file.seek(SeekFrom::Start(item.offset)).at(path)?;
        let mut hasher = blake3::Hasher::new();
        let mut left = item.len;
        while left > 0 {
            let want = left.min(BLOCK);
            let start = self.buf.len();
            // read_to_end through `take` fills the spare capacity without
            // zeroing it first and stops at `want` without another syscall.
            let got = (&mut file).take(want).read_to_end(&mut self.buf).at(path)? as u64;
            if got < want {
                return Err(Error::ChangedWhileHashing { path: path.clone() });
            }
            hasher.update(&self.buf[start..]);
            left -= got;
            if self.buf.len() >= FLUSH {
                self.flush()?;
            }
        }
        self.source = Some((path.clone(), file));
        let got = hasher.finalize();
        if item.kind != Kind::ChunkList && got.as_bytes()[..] != item.digest {
            return Err(Error::CorruptObject {
                path: path.clone(),
                expected: item.oid().to_string(),
                actual: got.to_hex().to_string(),
            });
        }
        Ok(item.len)
    }

    /// Flushes the rest; returns the temp file, the pack's id and size.
    fn finish(mut self) -> Result<(TempFile, PackId, u64)> {
        self.flush()?;
        Ok((self.tmp, PackId::from_bytes(*self.hasher.finalize().as_bytes()), self.flushed))
    }
}
