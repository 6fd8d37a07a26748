//! `.dvcignore`: gitignore syntax, one file per directory if wanted, each
//! relative to its own directory, deeper files overriding shallower ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bale_error::{Error, Result};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

pub const IGNORE_FILE: &str = ".dvcignore";

/// Names DVC never descends into or tracks, whatever `.dvcignore` says.
pub fn always_ignored(name: &str) -> bool {
    matches!(name, ".git" | ".hg" | ".dvc")
}

/// The ignore rules that apply inside one directory: the patterns of its own
/// `.dvcignore` and of every ancestor's up to the repository root, in order,
/// shallowest file first.
///
/// DVC (pathspec) does not follow git here: each pattern is tried against the
/// path *and its parents*, and the last pattern that matches decides. So
/// `*.tmp` then `!keep.tmp` re-includes everything below a `keep.tmp/`
/// directory, where git would still ignore `keep.tmp/a.tmp`. bale follows
/// DVC, since the ids of directories depend on it.
#[derive(Clone, Default)]
pub struct Rules {
    patterns: Vec<Arc<Gitignore>>,
}

impl Rules {
    /// Rules for the children of `dir`, given the rules of its parent.
    pub fn enter(&self, dir: &Path) -> Result<Rules> {
        let file = dir.join(IGNORE_FILE);
        if !file.is_file() {
            return Ok(self.clone());
        }
        let bad = |reason: String| Error::BadIgnoreFile { path: file.clone(), reason };
        let text = std::fs::read(&file).map_err(|e| bad(e.to_string()))?;
        let text = String::from_utf8(text).map_err(|_| bad("not UTF-8".into()))?;
        let mut patterns = self.patterns.clone();
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut builder = GitignoreBuilder::new(dir);
            builder.add_line(Some(file.clone()), line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
            patterns.push(Arc::new(builder.build().map_err(|e| bad(format!("line {}: {e}", n + 1)))?));
        }
        Ok(Rules { patterns })
    }

    /// Whether a path below the directory these rules were made for is ignored.
    pub fn ignores(&self, path: &Path, is_dir: bool) -> bool {
        for gi in self.patterns.iter().rev() {
            match gi.matched_path_or_any_parents(path, is_dir) {
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
                Match::None => {}
            }
        }
        false
    }
}

/// Whether a sub-directory is a repository of its own (DVC skips those).
pub fn is_subrepo(dir: &Path) -> bool {
    dir.join(".dvc").is_dir()
}

/// Rules that apply to the children of `dir`, walking down from `repo_root`
/// (which must be an ancestor of `dir` or `dir` itself).
pub fn rules_for(repo_root: &Path, dir: &Path) -> Result<Rules> {
    let mut rules = Rules::default().enter(repo_root)?;
    let Ok(rel) = dir.strip_prefix(repo_root) else {
        return Ok(rules);
    };
    let mut cur = repo_root.to_path_buf();
    for comp in rel.components() {
        cur.push(comp);
        rules = rules.enter(&cur)?;
    }
    Ok(rules)
}

/// Why a path inside the repository is not tracked, if it is not: an always
/// ignored name, a temp file of bale's, a `.dvcignore` rule on it or an
/// ancestor, or a sub-repository.
pub fn ignored_reason(repo_root: &Path, path: &Path) -> Result<Option<String>> {
    let Ok(rel) = path.strip_prefix(repo_root) else {
        return Ok(None);
    };
    let mut rules = Rules::default().enter(repo_root)?;
    let mut cur: PathBuf = repo_root.to_path_buf();
    let comps: Vec<_> = rel.components().collect();
    for (i, comp) in comps.iter().enumerate() {
        cur.push(comp);
        let name = comp.as_os_str().to_string_lossy();
        if always_ignored(&name) {
            return Ok(Some(format!("'{name}' is never tracked")));
        }
        if bale_odb::fs::temp_owner(&name).is_some() {
            return Ok(Some(format!("'{name}' is a temp file of bale's, never data")));
        }
        let last = i + 1 == comps.len();
        let is_dir = !last || cur.is_dir();
        if rules.ignores(&cur, is_dir) {
            return Ok(Some(format!("it is ignored by {IGNORE_FILE}")));
        }
        if is_dir && is_subrepo(&cur) {
            return Ok(Some("it is inside another repository".to_owned()));
        }
        if !last {
            rules = rules.enter(&cur)?;
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn nested_files_apply_relative_to_their_directory_and_deeper_wins() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("data/sub")).unwrap();
        fs::write(root.join(".dvcignore"), "*.tmp\n").unwrap();
        fs::write(root.join("data/sub/.dvcignore"), "!keep.tmp\n/local\n").unwrap();
        let r = |p: &str| ignored_reason(root, &root.join(p)).unwrap().is_some();
        assert!(r("data/x.tmp"));
        assert!(!r("data/sub/keep.tmp"));
        assert!(r("data/sub/local"));
        assert!(!r("data/local"));
        // As DVC: a re-included directory re-includes what is below it.
        fs::create_dir_all(root.join("k/keep.tmp")).unwrap();
        fs::write(root.join("k/.dvcignore"), "!keep.tmp\n").unwrap();
        assert!(!r("k/keep.tmp/a.tmp"));
        assert!(r("k/other.tmp"));
        assert!(r(".git/config"));
        assert!(!r("data/sub/y.txt"));
        // bale's temp names, whatever the rules say.
        assert!(r("k/keep.tmp/.bale12x0x1f.tmp"));
        assert!(!r("data/sub/.bale12x0x1f.txt"));
    }
}
