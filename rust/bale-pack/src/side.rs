//! A fetch's side store (DESIGN.md §13.0): a chunked file's list and, for a
//! two-level list, its segments, kept under the fetch's staging folder
//! until the file is assembled, never in the cache (a list in the cache
//! promises its chunks, which a fetch cut short could not keep). The chunks
//! themselves go straight into the file ([`Assemblies`](crate::Assemblies)).
//! The folder's layout is decided here only:
//!
//! ```text
//! ranges/<pack>-<start>-<end>.range   the segments a downloaded range held, one after another
//! ranges/<pack>-<start>-<end>.at      where each segment lies in it: ([32] id, u64 offset, u64 length)*
//! tops/<file hex>                     a top list (§13.6) waiting for its segments
//! bale/blake3/…/<file hex>.chunks     a list (a remote's v1 list, or one assembled from a top),
//!                                     stored as the cache stores lists: a top and its segments
//! unreadable/<file hex>               a remote list this bale cannot read (§13.5)
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bale_chunk::{ChunkList, TopList, TOP_VERSION};
use bale_error::{Error, IoContext, Result};
use bale_hash::Oid;
use bale_odb::fs::{write_atomic, RangeReader, TempFile};
use bale_odb::Odb;

use crate::errors::bad_format;
use crate::{Entry, Read};

const RANGES: &str = "ranges";
const TOPS: &str = "tops";
const UNREADABLE: &str = "unreadable";

/// The side store of one fetch, rooted in its staging folder.
#[derive(Clone, Debug)]
pub struct Side {
    root: PathBuf,
    /// Flat lists, in the cache's layout.
    lists: Odb,
}

impl Side {
    pub fn new(root: PathBuf) -> Side {
        Side { lists: Odb::new(&root), root }
    }

    /// Keeps the segments of two-level lists that `read` brought, with a note
    /// of where each lies, for the list's assembly to read from
    /// ([`SideSegments`]). Nothing is verified here: assembling the list
    /// checks each segment (DESIGN.md §13.6).
    pub fn keep_segments(&self, read: &Read, segments: &[(Entry, Vec<u8>)]) -> Result<()> {
        let dir = self.root.join(RANGES);
        std::fs::create_dir_all(&dir).at(&dir)?;
        let name = format!("{}-{}-{}", read.pack.hex(), read.start, read.end);
        let mut range = TempFile::create_in(&dir)?;
        let mut note = Vec::with_capacity(segments.len() * 48);
        let mut at = 0u64;
        for (e, data) in segments {
            range.write_all(data)?;
            note.extend_from_slice(&e.digest);
            note.extend_from_slice(&at.to_le_bytes());
            note.extend_from_slice(&e.length.to_le_bytes());
            at += e.length;
        }
        // The range before its note: a note always finds its bytes.
        range.persist(&dir.join(format!("{name}.range")))?;
        let mut tmp = TempFile::create_in(&dir)?;
        tmp.write_all(&note)?;
        tmp.persist(&dir.join(format!("{name}.at")))
    }

    /// The segments downloaded so far.
    pub fn segments(&self) -> Result<SideSegments> {
        SideSegments::load(&self.root.join(RANGES))
    }

    /// Keeps the list of `oid` that arrived from `source` in the form it
    /// came in. A list this bale cannot read (another version or chunker, or
    /// damaged) means the file is not stored in that form (DESIGN.md §13.5):
    /// it is noted, so that the next round asks for the file's whole bytes
    /// instead, or reports it missing.
    pub fn keep_list(&self, oid: &Oid, data: &[u8], source: &str) -> Result<()> {
        let kept = if data.get(7) == Some(&TOP_VERSION) {
            TopList::decode(data, Path::new(source)).and_then(|top| {
                if top.file != *oid {
                    return Err(bad_format(source, format!("chunk list of {} stored as the list of {oid}", top.file)));
                }
                let dir = self.root.join(TOPS);
                std::fs::create_dir_all(&dir).at(&dir)?;
                write_atomic(&dir.join(oid.hex_digest()), data, 0o644)
            })
        } else {
            self.lists.ingest_list(oid, data, source).map(|_| ())
        };
        match kept {
            Err(Error::BadManifest { .. }) => {
                let dir = self.root.join(UNREADABLE);
                std::fs::create_dir_all(&dir).at(&dir)?;
                write_atomic(&dir.join(oid.hex_digest()), b"", 0o644)
            }
            other => other,
        }
    }

    /// Whether the remote's list of `oid` was found unreadable.
    pub fn unreadable(&self, oid: &Oid) -> bool {
        self.root.join(UNREADABLE).join(oid.hex_digest()).exists()
    }

    /// The top list of `oid` a previous round fetched, and its path.
    pub fn top(&self, oid: &Oid) -> Result<Option<(TopList, PathBuf)>> {
        let path = self.root.join(TOPS).join(oid.hex_digest());
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some((TopList::decode(&bytes, &path)?, path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// The flat list of `oid`, fetched as one or assembled from a top.
    pub fn list(&self, oid: &Oid) -> Result<Option<ChunkList>> {
        self.lists.read_list(oid)
    }

    pub fn put_list(&self, list: &ChunkList) -> Result<()> {
        self.lists.put_list(list).map(|_| ())
    }
}

/// The segments downloaded so far by a fetch: id → (range file, offset,
/// length).
pub struct SideSegments {
    at: HashMap<Oid, (PathBuf, u64, u64)>,
    reader: RangeReader,
}

impl SideSegments {
    fn load(dir: &Path) -> Result<SideSegments> {
        let mut at = HashMap::new();
        let listing = match std::fs::read_dir(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(SideSegments { at, reader: RangeReader::default() })
            }
            other => other.at(dir)?,
        };
        for entry in listing {
            let path = entry.at(dir)?.path();
            if path.extension().is_none_or(|x| x != "at") {
                continue;
            }
            let note = std::fs::read(&path).at(&path)?;
            let range = path.with_extension("range");
            for rec in note.chunks_exact(48) {
                let oid = Oid::from_digest(bale_hash::Algo::Blake3, &rec[..32], false);
                let offset = u64::from_le_bytes(rec[32..40].try_into().expect("8 bytes"));
                let len = u64::from_le_bytes(rec[40..48].try_into().expect("8 bytes"));
                at.entry(oid).or_insert_with(|| (range.clone(), offset, len));
            }
        }
        Ok(SideSegments { at, reader: RangeReader::default() })
    }

    pub fn has(&self, segment: &Oid) -> bool {
        self.at.contains_key(segment)
    }

    /// Reads a segment's bytes into `buf`; `false` if this fetch has not
    /// downloaded it.
    pub fn read(&self, segment: &Oid, buf: &mut Vec<u8>) -> Result<bool> {
        let Some((path, offset, len)) = self.at.get(segment) else { return Ok(false) };
        self.reader.read(path, *offset, *len, buf).at(path)?;
        Ok(true)
    }
}
