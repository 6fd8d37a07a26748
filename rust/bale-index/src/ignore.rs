//! `.dvcignore`: gitignore syntax, one file per directory if wanted, each
//! relative to its own directory, deeper files overriding shallower ones,
//! after DVC's own four patterns (`.hg/`, `.git/`, `.git`, `.dvc/`).
//!
//! [`Rules`] holds the patterns that apply inside one directory and decides
//! one path at a time ([`Rules::decide`]), naming the [`Pattern`] that
//! decided; [`check`] decides a path below the repository root level by
//! level, as `dvc check-ignore` does, and says which rule (a pattern, a
//! sub-repository, a temp name of bale's) kept it out. The walk, `add`,
//! `check-ignore` and the pipeline loaders all ask these two, so what
//! `check-ignore -d` names is what bale skips.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bale_error::{Error, Result};
use ignore::gitignore::{Gitignore, GitignoreBuilder};

pub const IGNORE_FILE: &str = ".dvcignore";

/// DVC's default patterns (dvc/ignore.py `DvcIgnoreFilter`), in its order,
/// before any `.dvcignore` line: a later `!` line can re-include them, as
/// in dvc. A file named `.hg` or `.dvc` is therefore tracked; `.git` is
/// ignored as a file too (a work tree's or submodule's link).
const BUILTIN: [&str; 4] = [".hg/", ".git/", ".git", ".dvc/"];

/// Where a pattern was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// One of DVC's default patterns.
    Builtin,
    /// Line `line` (from 1, blank and comment lines counted) of the
    /// `.dvcignore` at `file`.
    File { file: Arc<Path>, line: usize },
}

/// One pattern line, with what `check-ignore -d` prints about it.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// The line as DVC keeps it: stripped of surrounding whitespace.
    pub text: String,
    pub origin: Origin,
    /// `!pattern`: a match re-includes the path.
    pub negated: bool,
    /// `pattern/`: matches directories only (and, through them, nothing
    /// below: a file is never decided by a directory pattern, as in dvc).
    pub dir_only: bool,
    /// None for a builtin, which matches on the name alone.
    matcher: Option<Gitignore>,
}

impl Pattern {
    fn builtin(text: &'static str) -> Pattern {
        Pattern {
            text: text.to_owned(),
            origin: Origin::Builtin,
            negated: false,
            dir_only: text.ends_with('/'),
            matcher: None,
        }
    }

    /// Whether this pattern matches `path` at its own level (dvc's
    /// `_find_matching_pattern`): pathspec's regex for a pattern also
    /// matches everything below what it names, so the path or any ancestor
    /// (as a directory) may match; a directory-only pattern never decides a
    /// file.
    fn matches(&self, path: &Path, is_dir: bool) -> bool {
        if self.dir_only && !is_dir {
            return false;
        }
        match &self.matcher {
            Some(gi) => !gi.matched_path_or_any_parents(path, is_dir).is_none(),
            None => path.file_name().is_some_and(|n| n == self.text.trim_end_matches('/')),
        }
    }
}

/// The ignore rules that apply inside one directory: DVC's defaults, then
/// the patterns of every `.dvcignore` from the repository root down to this
/// directory, in order, shallowest file first.
///
/// As in DVC (pathspec), the last pattern that matches a path decides it,
/// and a pattern matches a path when it matches the path or one of its
/// ancestors. So `*.tmp` then `!keep.tmp` re-includes everything below a
/// `keep.tmp/` directory, where git would still ignore `keep.tmp/a.tmp`;
/// and `*.txt` then `!d.txt/` re-includes the directory `d.txt` but not the
/// files in it (`*.txt` matches them through it, `!d.txt/` decides no file).
/// bale follows DVC, since the ids of directories depend on it.
#[derive(Clone)]
pub struct Rules {
    patterns: Vec<Arc<Pattern>>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules { patterns: BUILTIN.iter().map(|t| Arc::new(Pattern::builtin(t))).collect() }
    }
}

impl Rules {
    /// Rules for the children of `dir`, given the rules of its parent. A
    /// `.dvcignore` that the parent's rules ignore is not read (as dvc).
    pub fn enter(&self, dir: &Path) -> Result<Rules> {
        let file = dir.join(IGNORE_FILE);
        if !file.is_file() || self.ignores(&file, false) {
            return Ok(self.clone());
        }
        let bad = |reason: String| Error::BadIgnoreFile { path: file.clone(), reason };
        let text = std::fs::read(&file).map_err(|e| bad(e.to_string()))?;
        let text = String::from_utf8(text).map_err(|_| bad("not UTF-8".into()))?;
        let shared: Arc<Path> = Arc::from(file.as_path());
        let mut patterns = self.patterns.clone();
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut builder = GitignoreBuilder::new(dir);
            builder.add_line(Some(file.clone()), trimmed).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
            let gi = builder.build().map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
            if gi.is_empty() {
                continue;
            }
            patterns.push(Arc::new(Pattern {
                text: trimmed.to_owned(),
                origin: Origin::File { file: shared.clone(), line: n + 1 },
                negated: trimmed.starts_with('!'),
                dir_only: trimmed.ends_with('/'),
                matcher: Some(gi),
            }));
        }
        Ok(Rules { patterns })
    }

    /// The pattern that decides a path below the directory these rules were
    /// made for, at that path's own level: the last one that matches. The
    /// path is ignored when it is not a negation.
    ///
    /// Which line is named, as dvc names it: dvc joins each run of
    /// consecutive ignoring patterns of one kind (directory-only or not)
    /// into one regular expression, whose first alternative that matches
    /// is reported. So the decision is the last match's, and the line
    /// shown is the first in its run that matches (`*.log` then
    /// `debug.log`: `*.log` names `debug.log`).
    pub fn decide(&self, path: &Path, is_dir: bool) -> Option<&Pattern> {
        let last = self.patterns.iter().rposition(|p| p.matches(path, is_dir))?;
        let decided = &self.patterns[last];
        if decided.negated {
            return Some(decided);
        }
        let same_run = |p: &Pattern| !p.negated && p.dir_only == decided.dir_only;
        let start = self.patterns[..last].iter().rposition(|p| !same_run(p)).map_or(0, |i| i + 1);
        self.patterns[start..=last].iter().find(|p| p.matches(path, is_dir)).map(|p| &**p)
    }

    /// Whether a path below the directory these rules were made for is
    /// ignored, its parents being kept.
    pub fn ignores(&self, path: &Path, is_dir: bool) -> bool {
        self.decide(path, is_dir).is_some_and(|p| !p.negated)
    }

    /// [`ignores`](Self::ignores) for the entry `name` of `dir`, whose path
    /// is only built when a `.dvcignore` pattern needs it: DVC's own
    /// patterns look at the name alone, and a walk asks once per file.
    pub fn ignores_entry(&self, dir: &Path, name: &str, is_dir: bool) -> bool {
        if self.patterns.iter().all(|p| p.matcher.is_none()) {
            return self.ignores(Path::new(name), is_dir);
        }
        self.ignores(&dir.join(name), is_dir)
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

/// What decided a path, for `check-ignore -d`.
#[derive(Clone, Debug)]
pub enum Rule {
    /// A pattern (DVC's default or a `.dvcignore` line).
    Pattern(Pattern),
    /// The directory of that name holds a repository of its own: dvc's
    /// pattern `/<name>/`, reported as `in sub_repo:<name>`.
    SubRepo(String),
    /// A temp file of bale's (`.bale<pid>x<tag>.tmp`): bale's own rule,
    /// which dvc does not have.
    BaleTemp(String),
}

impl Rule {
    /// Whether this rule keeps the path out (a negation lets it in).
    pub fn ignores(&self) -> bool {
        match self {
            Rule::Pattern(p) => !p.negated,
            Rule::SubRepo(_) | Rule::BaleTemp(_) => true,
        }
    }
}

/// The decision on one path, and the rule behind it.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    pub ignored: bool,
    /// As dvc's `check_ignore`: the rule that ignored an ancestor, else the
    /// last one matching the path itself, a negation included; `None` when
    /// nothing matched the path (a negation that re-included only an
    /// ancestor is not reported).
    pub rule: Option<Rule>,
}

/// Decides a path inside the repository (it need not exist) level by level
/// from the root, as dvc's `DvcIgnorePatterns._ignore`: the first ancestor
/// that is ignored decides; else the path's own level does. A path outside
/// the repository, or the root itself, is never ignored. `is_dir` says
/// whether the path itself is a directory.
pub fn check(repo_root: &Path, path: &Path, is_dir: bool) -> Result<Verdict> {
    let Ok(rel) = path.strip_prefix(repo_root) else {
        return Ok(Verdict::default());
    };
    let mut rules = Rules::default().enter(repo_root)?;
    let mut cur: PathBuf = repo_root.to_path_buf();
    let comps: Vec<_> = rel.components().collect();
    for (i, comp) in comps.iter().enumerate() {
        cur.push(comp);
        let name = comp.as_os_str().to_string_lossy();
        let last = i + 1 == comps.len();
        let dir = !last || is_dir;
        // dvc appends a sub-repository's pattern after the patterns of its
        // parent's .dvcignore, so it is the last that matches at its level.
        let rule = if dir && is_subrepo(&cur) {
            Some(Rule::SubRepo(name.into_owned()))
        } else if bale_odb::fs::temp_owner(&name).is_some() {
            Some(Rule::BaleTemp(name.into_owned()))
        } else {
            rules.decide(&cur, dir).map(|p| Rule::Pattern(p.clone()))
        };
        let ignored = rule.as_ref().is_some_and(Rule::ignores);
        if ignored || last {
            return Ok(Verdict { ignored, rule });
        }
        rules = rules.enter(&cur)?;
    }
    Ok(Verdict::default())
}

/// Why a path inside the repository is not tracked, if it is not, in words
/// for an error message (see [`check`]; the path's type is read from disk).
pub fn ignored_reason(repo_root: &Path, path: &Path) -> Result<Option<String>> {
    let verdict = check(repo_root, path, path.is_dir())?;
    if !verdict.ignored {
        return Ok(None);
    }
    Ok(verdict.rule.map(|rule| match rule {
        Rule::Pattern(Pattern { origin: Origin::Builtin, text, .. }) => {
            format!("'{}' is never tracked", text.trim_end_matches('/'))
        }
        Rule::Pattern(Pattern { origin: Origin::File { file, line }, text, .. }) => {
            let file = file.strip_prefix(repo_root).unwrap_or(&file).to_path_buf();
            format!("it is ignored by {}:{line}:{text}", file.display())
        }
        Rule::SubRepo(_) => "it is inside another repository".to_owned(),
        Rule::BaleTemp(name) => format!("'{name}' is a temp file of bale's, never data"),
    }))
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

    /// What `check` reports, as `dvc check-ignore -d` prints it.
    fn details(root: &Path, rel: &str) -> (bool, String) {
        let path = root.join(rel);
        let v = check(root, &path, path.is_dir()).unwrap();
        let shown = match v.rule {
            None => String::new(),
            Some(Rule::Pattern(p)) => match p.origin {
                Origin::Builtin => format!(":{}", p.text),
                Origin::File { file, line } => {
                    format!("{}:{line}:{}", file.strip_prefix(root).unwrap().display(), p.text)
                }
            },
            Some(Rule::SubRepo(name)) => format!("in sub_repo:{name}"),
            Some(Rule::BaleTemp(name)) => format!("temp:{name}"),
        };
        (v.ignored, shown)
    }

    #[test]
    fn the_line_named_is_the_first_of_its_run_that_matches_as_in_dvc() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("other")).unwrap();
        fs::write(root.join(".dvcignore"), "*.log\ndebug.log\n!keep.log\nkeep.log\nother/\n*.tmp\n").unwrap();
        let t = |s: &str| s.to_owned();
        // dvc 3.67.1 prints these (checked with `dvc check-ignore -d`)
        assert_eq!(details(root, "debug.log"), (true, t(".dvcignore:1:*.log")));
        assert_eq!(details(root, "keep.log"), (true, t(".dvcignore:4:keep.log")));
        assert_eq!(details(root, "a.tmp"), (true, t(".dvcignore:6:*.tmp")));
        assert_eq!(details(root, "other"), (true, t(".dvcignore:5:other/")));
    }

    #[test]
    fn check_names_the_file_line_and_pattern_that_decided() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("sub/deeper")).unwrap();
        fs::create_dir_all(root.join("build/x")).unwrap();
        fs::write(root.join(".dvcignore"), "# comment\n\n  *.tmp  \n!keep.tmp\nbuild/\n").unwrap();
        fs::write(root.join("sub/.dvcignore"), "/local\n").unwrap();
        let t = |s: &str| s.to_owned();
        assert_eq!(details(root, "x.tmp"), (true, t(".dvcignore:3:*.tmp")));
        // a negation is reported, and does not ignore
        assert_eq!(details(root, "keep.tmp"), (false, t(".dvcignore:4:!keep.tmp")));
        assert_eq!(details(root, "sub/local"), (true, t("sub/.dvcignore:1:/local")));
        assert_eq!(details(root, "sub/deeper/local"), (false, String::new()));
        // an ignored ancestor decides, not the path's own level
        assert_eq!(details(root, "build/x/g"), (true, t(".dvcignore:5:build/")));
        assert_eq!(details(root, "y.txt"), (false, String::new()));
        assert_eq!(details(root, ".git"), (true, t(":.git")));
        assert_eq!(details(root, ".dvc/config"), (true, t(":.dvc/")));
        // `.hg/` and `.dvc/` are directory patterns: a file of that name is data
        assert_eq!(details(root, "sub/.hg"), (false, String::new()));
        assert_eq!(details(root, "x/.bale12x0x1f.tmp"), (true, t("temp:.bale12x0x1f.tmp")));
        assert_eq!(details(root, ""), (false, String::new()));
    }

    #[test]
    fn a_directory_pattern_never_decides_a_file_below_a_reincluded_directory() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("top/d.txt")).unwrap();
        fs::write(root.join(".dvcignore"), "*.txt\n!d.txt/\n").unwrap();
        let t = |s: &str| s.to_owned();
        assert_eq!(details(root, "top/d.txt"), (false, t(".dvcignore:2:!d.txt/")));
        // `*.txt` matches through `d.txt`; `!d.txt/` decides no file (dvc, git)
        assert_eq!(details(root, "top/d.txt/g.bin"), (true, t(".dvcignore:1:*.txt")));
        let rules = rules_for(root, &root.join("top/d.txt")).unwrap();
        assert!(rules.ignores(&root.join("top/d.txt/g.bin"), false));
        assert!(!rules_for(root, &root.join("top")).unwrap().ignores(&root.join("top/d.txt"), true));
    }

    #[test]
    fn a_negation_of_a_path_below_an_ignored_directory_does_not_reinclude_it() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::write(root.join(".dvcignore"), "dir/\n!dir/keep\n**/logs\n!a/**/logs\n").unwrap();
        let t = |s: &str| s.to_owned();
        assert_eq!(details(root, "dir/keep"), (true, t(".dvcignore:1:dir/")));
        assert_eq!(details(root, "b/c/logs"), (true, t(".dvcignore:3:**/logs")));
        assert_eq!(details(root, "a/c/logs"), (false, t(".dvcignore:4:!a/**/logs")));
    }

    #[test]
    fn a_sub_repository_is_reported_before_the_patterns_of_its_level() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("inner/.dvc")).unwrap();
        fs::write(root.join(".dvcignore"), "!inner\n").unwrap();
        let t = |s: &str| s.to_owned();
        assert_eq!(details(root, "inner"), (true, t("in sub_repo:inner")));
        assert_eq!(details(root, "inner/x"), (true, t("in sub_repo:inner")));
    }

    #[test]
    fn an_ignored_dvcignore_is_not_read() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("a")).unwrap();
        fs::write(root.join(".dvcignore"), "a/.dvcignore\n").unwrap();
        fs::write(root.join("a/.dvcignore"), "x\n").unwrap();
        assert_eq!(details(root, "a/x"), (false, String::new()));
        assert_eq!(details(root, "a/.dvcignore"), (true, ".dvcignore:1:a/.dvcignore".to_owned()));
    }
}
