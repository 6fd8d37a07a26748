//! Boundaries depend only on content: after an edit, chunks away from it are
//! the same chunks. Random data and edits with fixed seeds.

mod common;

use bale_chunk::{boundaries, Params};
use common::{new_bytes, Rng};

/// The edit kinds of the issue.
#[derive(Clone, Copy, Debug)]
enum Edit {
    Overwrite { at: usize, len: usize },
    Insert { at: usize, len: usize },
    Delete { at: usize, len: usize },
    Append { len: usize },
}

/// Applies `edit`; returns the new data and the edited range in new
/// coordinates with the shift of everything after it.
fn apply(rng: &mut Rng, data: &[u8], edit: Edit) -> (Vec<u8>, usize, usize, isize) {
    let mut out = data.to_vec();
    match edit {
        Edit::Overwrite { at, len } => {
            out[at..at + len].copy_from_slice(&rng.bytes(len));
            (out, at, at + len, 0)
        }
        Edit::Insert { at, len } => {
            out.splice(at..at, rng.bytes(len));
            (out, at, at + len, len as isize)
        }
        Edit::Delete { at, len } => {
            out.drain(at..at + len);
            (out, at, at, -(len as isize))
        }
        Edit::Append { len } => {
            out.extend(rng.bytes(len));
            (out, data.len(), data.len() + len, len as isize)
        }
    }
}

/// Every cut before the edit is unchanged, and after it the cuts resync
/// within a few chunks (at most 8 here; usually 0-2) and then equal the old ones shifted. Returns how many
/// new cuts past the edit differ before the resync.
fn check(old: &[u8], new: &[u8], from: usize, to: usize, shift: isize, p: &Params, what: &str) -> usize {
    let (a, b) = (boundaries(old, p), boundaries(new, p));
    // A cut at or before the edit depends only on bytes before it.
    let before_old: Vec<_> = a.iter().filter(|&&c| c <= from).collect();
    let before_new: Vec<_> = b.iter().filter(|&&c| c <= from).collect();
    // The final tail cut of the old data is not content-defined when the
    // edit appends; every other cut is.
    let cmp = if before_old.last() == Some(&&old.len()) { before_old.len() - 1 } else { before_old.len() };
    assert_eq!(before_old[..cmp], before_new[..cmp.min(before_new.len())], "{what}: a cut before the edit moved");
    let shifted: std::collections::HashSet<usize> =
        a.iter().filter(|&&c| (c as isize + shift) as usize >= to).map(|&c| (c as isize + shift) as usize).collect();
    let after: Vec<usize> = b.iter().copied().filter(|&c| c > to).collect();
    let resync = after.iter().position(|c| shifted.contains(c)).unwrap_or(after.len());
    assert!(after[resync..].iter().all(|c| shifted.contains(c)), "{what}: cuts diverged again after resyncing");
    assert!(resync <= 8, "{what}: took {resync} chunks to resync");
    resync
}

#[test]
fn random_edits_move_only_the_cuts_next_to_them() {
    let p = Params { min: 2048, avg: 8192, max: 32768 };
    let mut resyncs = vec![0usize; 9];
    for seed in 0..40u64 {
        let mut rng = Rng(seed);
        let size = 1 << 20 | rng.below(1 << 19) as usize;
        let data = rng.bytes(size);
        let at = rng.below(data.len() as u64 - 70_000) as usize;
        let most = [1, 100, 65_536][rng.below(3) as usize];
        let len = 1 + rng.below(most) as usize;
        let edit = match rng.below(4) {
            0 => Edit::Overwrite { at, len },
            1 => Edit::Insert { at, len },
            2 => Edit::Delete { at, len },
            _ => Edit::Append { len },
        };
        let (new, from, to, shift) = apply(&mut rng, &data, edit);
        let r = check(&data, &new, from, to, shift, &p, &format!("seed {seed} {edit:?}"));
        resyncs[r] += 1;
    }
    println!("chunks re-cut after the edit before resync: {resyncs:?} (index = chunks, value = edits)");
}

#[test]
fn a_1_mib_overwrite_in_64_mib_shares_at_least_95_percent_of_chunks() {
    let p = Params::DEFAULT;
    let mut rng = Rng(64);
    let data = rng.bytes(64 << 20);
    let (new, ..) = apply(&mut rng, &data, Edit::Overwrite { at: 30 << 20, len: 1 << 20 });
    let (fresh_bytes, fresh) = new_bytes(&data, &new, &p);
    let total = boundaries(&new, &p).len();
    let shared = 1.0 - fresh as f64 / total as f64;
    println!("1 MiB overwrite: {fresh} of {total} chunks new ({fresh_bytes} bytes), {:.1}% shared", shared * 100.0);
    assert!(shared >= 0.95);
    assert!(fresh_bytes < (1 << 20) + 4 * p.max as usize, "{fresh_bytes} new bytes for a 1 MiB edit");
}

#[test]
fn inserting_one_byte_at_the_start_re_cuts_one_or_two_chunks() {
    let p = Params::DEFAULT;
    for seed in 0..4 {
        let mut rng = Rng(100 + seed);
        let data = rng.bytes(16 << 20);
        let (new, ..) = apply(&mut rng, &data, Edit::Insert { at: 0, len: 1 });
        let (_, fresh) = new_bytes(&data, &new, &p);
        assert!(fresh <= 2, "seed {seed}: {fresh} new chunks for a 1-byte insert");
    }
}

#[test]
fn csv_appends_add_only_the_tail_chunks() {
    let p = Params::DEFAULT;
    let mut rng = Rng(5);
    let mut data = common::csv(&mut rng, 100_000);
    let rows = 100_000u64;
    for round in 0..3u64 {
        let more = common::csv_rows(&mut rng, rows * (round + 1), 1000);
        let mut new = data.clone();
        new.extend_from_slice(&more);
        let (fresh_bytes, _) = new_bytes(&data, &new, &p);
        // The appended rows plus the old last chunk, which is no longer last.
        assert!(fresh_bytes <= more.len() + p.max as usize, "round {round}: {fresh_bytes} new bytes");
        data = new;
    }
}
