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

/// The ignore rules that apply inside one directory: its own `.dvcignore`
/// and those of every ancestor up to the repository root, deepest last.
#[derive(Clone, Default)]
pub struct Rules {
    stack: Vec<Arc<Gitignore>>,
}

impl Rules {
    /// Rules for the children of `dir`, given the rules of its parent.
    pub fn enter(&self, dir: &Path) -> Result<Rules> {
        let file = dir.join(IGNORE_FILE);
        if !file.is_file() {
            return Ok(self.clone());
        }
        let mut builder = GitignoreBuilder::new(dir);
        if let Some(err) = builder.add(&file) {
            return Err(Error::BadIgnoreFile { path: file, reason: err.to_string() });
        }
        let gi = builder.build().map_err(|e| Error::BadIgnoreFile { path: file.clone(), reason: e.to_string() })?;
        let mut stack = self.stack.clone();
        stack.push(Arc::new(gi));
        Ok(Rules { stack })
    }

    /// Whether a direct child path is ignored; the deepest file that has an
    /// opinion decides, as in git.
    pub fn ignores(&self, path: &Path, is_dir: bool) -> bool {
        for gi in self.stack.iter().rev() {
            match gi.matched(path, is_dir) {
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
/// ignored name, a `.dvcignore` rule on it or an ancestor, or a sub-repository.
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
        assert!(r(".git/config"));
        assert!(!r("data/sub/y.txt"));
    }
}
