//! File-by-file comparison of two manifests.

use crate::manifest::Manifest;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestDiff {
    pub added: Vec<String>,
    pub deleted: Vec<String>,
    pub modified: Vec<String>,
    pub unchanged: usize,
}

impl ManifestDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.deleted.is_empty() && self.modified.is_empty()
    }
}

/// What changed from `old` to `new`; both are sorted by path, so this is one
/// merge pass. An exec-bit change counts as a modification only where both
/// sides record exec bits (native manifests).
pub fn diff_manifests(old: &Manifest, new: &Manifest) -> ManifestDiff {
    let mut d = ManifestDiff::default();
    let (mut i, mut j) = (0, 0);
    let (a, b) = (&old.entries, &new.entries);
    let exec_matters = old.algo == bale_hash::Algo::Blake3 && new.algo == bale_hash::Algo::Blake3;
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.rel == y.rel => {
                if x.oid.digest() != y.oid.digest() || (exec_matters && x.exec != y.exec) {
                    d.modified.push(y.rel.clone());
                } else {
                    d.unchanged += 1;
                }
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.rel < y.rel => {
                d.deleted.push(x.rel.clone());
                i += 1;
            }
            (Some(_), Some(y)) => {
                d.added.push(y.rel.clone());
                j += 1;
            }
            (Some(x), None) => {
                d.deleted.push(x.rel.clone());
                i += 1;
            }
            (None, Some(y)) => {
                d.added.push(y.rel.clone());
                j += 1;
            }
            (None, None) => unreachable!(),
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Entry;
    use bale_hash::{Algo, Oid};

    fn m(items: &[(&str, u8)]) -> Manifest {
        Manifest {
            algo: Algo::Md5,
            entries: items
                .iter()
                .map(|(r, n)| Entry {
                    rel: r.to_string(),
                    oid: Oid::from_digest(Algo::Md5, &[*n; 16], false),
                    size: 0,
                    exec: false,
                })
                .collect(),
            empty_dirs: vec![],
        }
    }

    #[test]
    fn reports_added_deleted_modified_in_path_order() {
        let d = diff_manifests(&m(&[("a", 1), ("b", 2), ("d", 4)]), &m(&[("b", 3), ("c", 1), ("d", 4)]));
        assert_eq!(d.deleted, ["a"]);
        assert_eq!(d.modified, ["b"]);
        assert_eq!(d.added, ["c"]);
        assert_eq!(d.unchanged, 1);
    }
}
