//! FastCDC over segments in parallel, stitched into the sequential result.
//!
//! CDC is sequential: a cut depends on where the chunk started. But chunk
//! sequences that share one cut share every later one. So each segment is
//! chunked on its own as if a chunk started at the segment's start (its
//! *candidates*), and hashed while its bytes are hot in cache. The stitch
//! then walks the segments in order with the true sequence: as soon as the
//! true sequence ends a chunk exactly where a candidate chunk starts, the
//! rest of that segment's candidates are true chunks too. Until then, the
//! true sequence is extended one sequential cut at a time (usually one or
//! two chunks per segment on random data; on data where sequences never
//! meet, such as long runs of one byte value, the stitch degrades to a
//! sequential scan, still correct).

use rayon::prelude::*;

use crate::cdc::next_cut;
use crate::Params;

/// One chunk of a buffer: where it ends, and its blake3 if already computed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Piece {
    pub end: usize,
    pub id: Option<[u8; 32]>,
}

/// The same as [`crate::boundaries`], computed over `segment`-byte segments
/// in parallel on the current rayon pool (any `segment` >= 1 gives the same
/// result; it exists to be tested that way).
pub fn boundaries_parallel(data: &[u8], p: &Params, segment: usize) -> Vec<usize> {
    pieces(data, true, p, segment, false).into_iter().map(|c| c.end).collect()
}

/// The decided chunks of `data`, which starts at a chunk start. Without
/// `eof`, bytes after the last decided cut are left out (they begin the
/// next buffer). With `hash`, most pieces come back with their blake3.
pub(crate) fn pieces(data: &[u8], eof: bool, p: &Params, segment: usize, hash: bool) -> Vec<Piece> {
    let segment = segment.max(1);
    let starts: Vec<usize> = (0..data.len()).step_by(segment).collect();
    let candidates: Vec<Vec<Piece>> = starts
        .par_iter()
        .map(|&s| candidates(data, s, s.saturating_add(segment).min(data.len()), eof, p, hash))
        .collect();
    stitch(data, eof, p, &starts, candidates)
}

/// Chunks from `start` as if a chunk started there, up to and including the
/// first chunk that ends at or after `end` (so the next segment can sync).
fn candidates(data: &[u8], start: usize, end: usize, eof: bool, p: &Params, hash: bool) -> Vec<Piece> {
    let mut out = Vec::with_capacity((end - start) / p.avg as usize + 2);
    let mut at = start;
    while at < end {
        let Some(n) = next_cut(&data[at..], eof, p) else { break };
        let id = hash.then(|| *blake3::hash(&data[at..at + n]).as_bytes());
        at += n;
        out.push(Piece { end: at, id });
    }
    out
}

fn stitch(data: &[u8], eof: bool, p: &Params, starts: &[usize], candidates: Vec<Vec<Piece>>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(candidates.iter().map(Vec::len).sum());
    for (&seg_start, cands) in starts.iter().zip(candidates) {
        // Candidate chunk j starts at seg_start (j = 0) or where j - 1 ends.
        let start_of = |j: usize| if j == 0 { seg_start } else { cands[j - 1].end };
        let mut j = 0;
        loop {
            let at = out.last().map_or(0, |c| c.end);
            while j <= cands.len() && start_of(j) < at {
                j += 1;
            }
            if j > cands.len() {
                break; // the true sequence already passed this segment
            }
            if start_of(j) == at {
                out.extend_from_slice(&cands[j..]);
                break;
            }
            match next_cut(&data[at..], eof, p) {
                Some(n) => out.push(Piece { end: at + n, id: None }),
                None => break,
            }
        }
    }
    // The last segment's candidates may stop short of a true sequence that
    // never met them; finish sequentially.
    let mut at = out.last().map_or(0, |c| c.end);
    while let Some(n) = next_cut(&data[at..], eof, p) {
        at += n;
        out.push(Piece { end: at, id: None });
    }
    out
}
