//! Storing downloaded pack bytes into the local object store, verified, as
//! they arrive.
//!
//! A ranged read of a pack is fed to an [`Arrival`] in pieces, at their
//! offsets, in whatever order the network delivers them. Each object is
//! handled as soon as its last byte is in: a chunk, verified, goes straight
//! into the files being assembled from it; a small file or tree is verified
//! and published; a large file streams into its temp file in the cache,
//! hashed on the way. Nothing is staged on disk and read back, so a chunked
//! 2 GiB pull writes each chunk once, where it belongs, and memory holds
//! only the objects in progress (and pieces that came early).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use bale_error::{IoContext, Result};
use bale_hash::Oid;
use bale_odb::fs::TempFile;
use bale_odb::{Landing, Odb, Progress, PutOutcome};
use rayon::prelude::*;

use crate::errors::{bad_format, corrupt_in_pack};
use crate::{Assemblies, Encoding, Entry, Kind, Read, Side};

/// Objects longer than this stream into their temp file as they arrive;
/// shorter ones are gathered in memory and handled whole.
const IN_MEMORY: u64 = 8 << 20;

/// Below this, a piece of a streamed object is hashed on the calling thread
/// (rayon's split costs more than it saves).
const PARALLEL_HASH: usize = 128 << 10;

/// What an [`Arrival`] did.
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

/// Where the objects of a read go.
#[derive(Clone, Copy)]
pub struct Destinations<'a> {
    /// Files and trees.
    pub odb: &'a Odb,
    /// Chunk lists, and the segments of two-level lists: a store of their
    /// own beside the fetch, never the cache, because a list in the cache
    /// promises its chunks (DESIGN.md §13.0), which a fetch cut short could
    /// not keep.
    pub side: &'a Side,
    /// Chunks, verified, go into the files assembled from them.
    pub assemblies: &'a Assemblies,
    /// Checked before each object (a cancelled fetch stops) and stepped after.
    pub progress: &'a Progress,
}

/// The bytes of one ranged read ([`Read`]) arriving.
///
/// Each object is hashed before it is published, and published atomically
/// (temp + rename, first writer wins), so a corrupt object never reaches the
/// store: the write that completes it fails with
/// [`CorruptObject`](bale_error::Error::CorruptObject) naming the pack and
/// the object. Objects of the same read that verified before are stored;
/// they are correct, and a retry skips them.
///
/// Pieces may come in any order and more than once (a retried request sends
/// its bytes again): bytes before the first one not yet seen are dropped,
/// bytes beyond it wait in memory until the gap fills.
pub struct Arrival {
    read: Read,
    /// Entries gathered in memory, and entries streamed, each by offset.
    small: Vec<Entry>,
    large: Vec<Entry>,
    /// Bytes of the read, from its start, handled so far.
    next: u64,
    /// The first small entry not yet handled.
    pending: usize,
    /// Bytes of the read from `window_start` on, kept for a small entry
    /// that began in an earlier piece (see `take`).
    window_start: u64,
    window: Vec<u8>,
    /// The streamed entry in progress (large entries never overlap: a pack
    /// holds each object's bytes once).
    streaming: Option<Streamed>,
    /// The first large entry not yet finished.
    large_next: usize,
    /// Pieces that came ahead of `next`, by offset.
    ahead: BTreeMap<u64, Vec<u8>>,
    /// Segments of two-level lists, for the side store.
    kept: Vec<(Entry, Vec<u8>)>,
    /// A read that is one large file lands in the cache at the offsets its
    /// pieces come with (a download in parallel parts need not wait in
    /// memory for the part before).
    whole: Whole,
    done: Ingested,
}

enum Whole {
    /// The read holds several objects, or a small one.
    No,
    /// One large file; no byte has come yet.
    Expected,
    Landing(Landing),
    /// One large file the store already holds: its bytes are dropped.
    Present,
}

/// A large object on its way into the store.
struct Streamed {
    /// None when the store already holds the object: its bytes are dropped.
    tmp: Option<TempFile>,
    hasher: blake3::Hasher,
    head: Vec<u8>,
}

/// What handling one small object did.
enum Handled {
    /// Stored now; a file or tree (not a chunk or list) is published.
    Stored {
        bytes: u64,
        published: Option<Oid>,
    },
    Present,
    /// A segment, for the side store.
    Keep(Entry, Vec<u8>),
}

impl Arrival {
    /// Expects the bytes `read.start..read.end` of `read.pack`; fails if the
    /// plan put an entry outside them.
    pub fn new(read: &Read) -> Result<Arrival> {
        for e in &read.entries {
            if e.offset < read.start || e.end() > read.end {
                let oid = e.oid();
                return Err(bad_format(
                    read.pack.pack_key(),
                    format!("object {oid} lies outside bytes {}..{}", read.start, read.end),
                ));
            }
        }
        let (mut large, mut small) = (Vec::new(), Vec::new());
        for e in &read.entries {
            // An object wanted twice over the same bytes (as a file and as a
            // chunk) is gathered in memory: a stream passes each byte once.
            let clear = large.last().is_none_or(|l: &Entry| l.end() <= e.offset);
            if e.kind == Kind::Blob && e.length > IN_MEMORY && clear {
                large.push(*e);
            } else {
                small.push(*e);
            }
        }
        // One streamed file and nothing else, over the whole read.
        let whole = match large.as_slice() {
            [e] if small.is_empty() && e.offset == read.start && e.end() == read.end => Whole::Expected,
            _ => Whole::No,
        };
        Ok(Arrival {
            whole,
            read: read.clone(),
            small,
            large,
            next: 0,
            pending: 0,
            window_start: 0,
            window: Vec::new(),
            streaming: None,
            large_next: 0,
            ahead: BTreeMap::new(),
            kept: Vec::new(),
            done: Ingested::default(),
        })
    }

    /// Takes `data`, bytes `offset..` of the read (counted from its start),
    /// and handles every object it completes. After an error the arrival is
    /// spent (its place in the bytes is lost): drop it.
    pub fn write(&mut self, to: Destinations<'_>, offset: u64, data: &[u8]) -> Result<()> {
        let end = offset + data.len() as u64;
        if end > self.read.len() {
            return Err(bad_format(
                self.read.pack.pack_key(),
                format!("{} bytes arrived at {offset} of a {}-byte read", data.len(), self.read.len()),
            ));
        }
        if !matches!(self.whole, Whole::No) {
            return self.land(to, offset, data);
        }
        if offset > self.next {
            let held = self.ahead.entry(offset).or_default();
            if held.len() < data.len() {
                *held = data.to_vec();
            }
            return Ok(());
        }
        if end > self.next {
            let skip = (self.next - offset) as usize;
            self.take(to, &data[skip..])?;
        }
        while let Some(first) = self.ahead.first_entry() {
            if *first.key() > self.next {
                break;
            }
            let (at, piece) = first.remove_entry();
            if at + piece.len() as u64 > self.next {
                let skip = (self.next - at) as usize;
                self.take(to, &piece[skip..])?;
            }
        }
        Ok(())
    }

    /// Writes the bytes of a read that is one large file where they belong.
    fn land(&mut self, to: Destinations<'_>, offset: u64, data: &[u8]) -> Result<()> {
        if let Whole::Expected = self.whole {
            to.progress.check()?;
            let oid = self.read.entries[0].oid();
            self.whole = if to.odb.exists(&oid) { Whole::Present } else { Whole::Landing(to.odb.landing(&oid)?) };
        }
        match &self.whole {
            Whole::Landing(landing) => landing.write(offset, data),
            _ => Ok(()),
        }
    }

    /// Ends a read that is one large file: publishes it if it hashes to its id.
    fn finish_whole(self, to: Destinations<'_>) -> Result<Ingested> {
        let read = &self.read;
        let e = &read.entries[0];
        let short = |got: u64| {
            bad_format(
                read.pack.pack_key(),
                format!("the download of bytes {}..{} stopped after {got} bytes", read.start, read.end),
            )
        };
        let mut done = Ingested::default();
        match self.whole {
            Whole::Landing(landing) => {
                if landing.covered() < read.len() {
                    return Err(short(landing.covered()));
                }
                match to.odb.ingest_landed(landing, &read.pack.pack_key())?.1 {
                    PutOutcome::Stored => {
                        done = Ingested { stored: 1, files: 1, bytes: e.length, published: vec![e.oid()], present: 0 };
                    }
                    PutOutcome::Present => done.present = 1,
                }
            }
            Whole::Present => done.present = 1,
            _ => return Err(short(0)),
        }
        to.progress.step(e.length);
        Ok(done)
    }

    /// Ends the read: every byte must have arrived. Returns what it stored.
    pub fn finish(mut self, to: Destinations<'_>) -> Result<Ingested> {
        if !matches!(self.whole, Whole::No) {
            return self.finish_whole(to);
        }
        // A read of empty objects only gets no bytes: they are handled here.
        self.take(to, &[])?;
        if self.next != self.read.len() {
            let read = &self.read;
            return Err(bad_format(
                read.pack.pack_key(),
                format!("the download of bytes {}..{} stopped after {} bytes", read.start, read.end, self.next),
            ));
        }
        if !self.kept.is_empty() {
            to.side.keep_segments(&self.read, &self.kept)?;
            to.progress.step(self.kept.iter().map(|(e, _)| e.length).sum());
        }
        Ok(self.done)
    }

    /// Handles `data`, the bytes from `next` on.
    ///
    /// An object that lies within `data` is handled from it, uncopied; only
    /// the bytes of one that began in an earlier piece, or ends in a later
    /// one, are gathered in the window (which, on entry, holds bytes
    /// `[window_start, next)` when the first pending object began before
    /// `next`, and is empty otherwise).
    fn take(&mut self, to: Destinations<'_>, data: &[u8]) -> Result<()> {
        let at = self.next;
        let end = at + data.len() as u64;
        self.stream(to, at, data)?;
        self.next = end;
        let base = self.read.start;
        let first = self.pending;
        while self.small.get(self.pending).is_some_and(|e| e.end() - base <= end) {
            self.pending += 1;
        }
        let complete = &self.small[first..self.pending];
        // The window grows as far as the objects that began before `at` end.
        let gathered = complete.iter().filter(|e| e.offset - base < at).map(|e| e.end() - base).max().unwrap_or(at);
        self.window.extend_from_slice(&data[..(gathered - at) as usize]);
        if !complete.is_empty() {
            let (window, window_start) = (&self.window, self.window_start);
            let bytes = |e: &Entry| {
                let (start, stop) = (e.offset - base, e.end() - base);
                if start >= at {
                    &data[(start - at) as usize..(stop - at) as usize]
                } else {
                    &window[(start - window_start) as usize..(stop - window_start) as usize]
                }
            };
            let read = &self.read;
            let handled: Vec<Handled> = if complete.len() == 1 {
                vec![handle(to, read, &complete[0], bytes(&complete[0]))?]
            } else {
                complete.par_iter().map(|e| handle(to, read, e, bytes(e))).collect::<Result<_>>()?
            };
            for h in handled {
                self.count(h);
            }
        }
        // Keep what the next pending object has of its bytes so far.
        match self.small.get(self.pending).map(|e| e.offset - base) {
            Some(start) if start < end => {
                if start >= gathered {
                    self.window.clear();
                    self.window.extend_from_slice(&data[(start - at) as usize..]);
                } else {
                    self.window.drain(..(start - self.window_start) as usize);
                    self.window.extend_from_slice(&data[(gathered - at) as usize..]);
                }
                self.window_start = start;
            }
            _ => self.window.clear(),
        }
        Ok(())
    }

    fn count(&mut self, h: Handled) {
        match h {
            Handled::Stored { bytes, published } => {
                self.done.stored += 1;
                self.done.bytes += bytes;
                if let Some(oid) = published {
                    self.done.files += 1;
                    self.done.published.push(oid);
                }
            }
            Handled::Present => self.done.present += 1,
            Handled::Keep(e, data) => {
                self.done.stored += 1;
                self.done.bytes += e.length;
                self.kept.push((e, data));
            }
        }
    }

    /// Feeds bytes `at..` to the large entries they belong to.
    fn stream(&mut self, to: Destinations<'_>, at: u64, data: &[u8]) -> Result<()> {
        let end = at + data.len() as u64;
        while let Some(e) = self.large.get(self.large_next).copied() {
            let (start, stop) = (e.offset - self.read.start, e.end() - self.read.start);
            if start >= end {
                return Ok(());
            }
            let piece = &data[(start.max(at) - at) as usize..(stop.min(end) - at) as usize];
            let s = match &mut self.streaming {
                Some(s) => s,
                None => self.streaming.insert(open(to, &e)?),
            };
            if let Some(tmp) = &mut s.tmp {
                if s.head.len() < 16 {
                    s.head.extend_from_slice(&piece[..piece.len().min(16 - s.head.len())]);
                }
                if piece.len() >= PARALLEL_HASH {
                    s.hasher.update_rayon(piece);
                } else {
                    s.hasher.update(piece);
                }
                tmp.write_all(piece)?;
            }
            if stop > end {
                return Ok(());
            }
            let s = self.streaming.take().expect("opened above");
            let h = match s.tmp {
                None => Handled::Present,
                Some(tmp) => {
                    verify(&self.read, &e, s.hasher.finalize(), &s.head)?;
                    match tmp.persist_new(&to.odb.object_path(&e.oid()))? {
                        true => Handled::Stored { bytes: e.length, published: Some(e.oid()) },
                        false => Handled::Present,
                    }
                }
            };
            to.progress.step(e.length);
            self.count(h);
            self.large_next += 1;
        }
        Ok(())
    }
}

/// Starts streaming large entry `e` into the store.
fn open(to: Destinations<'_>, e: &Entry) -> Result<Streamed> {
    to.progress.check()?;
    let oid = e.oid();
    let tmp = if to.odb.exists(&oid) {
        None
    } else {
        let dest = to.odb.object_path(&oid);
        let dir = dest.parent().expect("object paths have a fan-out directory");
        to.odb.ensure_dir(dir)?;
        Some(TempFile::create_in(dir)?)
    };
    Ok(Streamed { tmp, hasher: blake3::Hasher::new(), head: Vec::new() })
}

/// Handles small entry `e`, whose bytes are `data`.
fn handle(to: Destinations<'_>, read: &Read, e: &Entry, data: &[u8]) -> Result<Handled> {
    to.progress.check()?;
    let oid = e.oid();
    let handled = match e.kind {
        Kind::Chunk if to.assemblies.wants(&oid) => {
            verify(read, e, blake3::hash(data), data)?;
            to.assemblies.place(&oid, data)?;
            Handled::Stored { bytes: e.length, published: None }
        }
        // Verified when its list is assembled (DESIGN.md §13.6).
        Kind::Chunk => Handled::Keep(*e, data.to_vec()),
        Kind::ChunkList => {
            to.side.keep_list(&oid, data, &read.pack.pack_key())?;
            Handled::Stored { bytes: e.length, published: None }
        }
        Kind::Blob | Kind::Tree => {
            match e.encoding {
                Encoding::Raw => {}
            }
            if to.odb.exists(&oid) {
                Handled::Present
            } else {
                verify(read, e, blake3::hash(data), data)?;
                match to.odb.put_bytes(&oid, data)? {
                    PutOutcome::Stored => Handled::Stored { bytes: e.length, published: Some(oid) },
                    PutOutcome::Present => Handled::Present,
                }
            }
        }
    };
    if !matches!(handled, Handled::Keep(..)) {
        to.progress.step(e.length);
    }
    Ok(handled)
}

/// Stores the objects of `read` from `data_file`, which holds exactly its
/// bytes (a read downloaded whole before it is ingested).
pub fn ingest_read(to: Destinations<'_>, read: &Read, data_file: &Path) -> Result<Ingested> {
    let mut file = File::open(data_file).at(data_file)?;
    let size = file.metadata().at(data_file)?.len();
    if size != read.len() {
        return Err(bad_format(
            data_file,
            format!("holds {size} bytes; bytes {}..{} of pack {} are {}", read.start, read.end, read.pack, read.len()),
        ));
    }
    let mut arrival = Arrival::new(read)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    loop {
        let n = file.read(&mut buf).at(data_file)?;
        if n == 0 {
            break;
        }
        arrival.write(to, at, &buf[..n])?;
        at += n as u64;
    }
    arrival.finish(to)
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
