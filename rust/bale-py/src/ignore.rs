//! `.dvcignore` decisions for `check-ignore` and `add`: the engine's
//! [`bale_index::ignore::check`], converted.

use std::path::PathBuf;

use bale_index::ignore::{self, Origin, Rule};
use pyo3::prelude::*;

use crate::errors::IntoPy;

/// Whether a path is ignored, and the rule that decided it.
#[pyclass(frozen, get_all, module = "bale._core")]
pub struct IgnoreCheck {
    pub ignored: bool,
    /// `"dvcignore"` (a `.dvcignore` line), `"default"` (one of dvc's own
    /// patterns), `"subrepo"`, `"bale-temp"`; `None` when no rule matched.
    pub kind: Option<&'static str>,
    /// The `.dvcignore` that holds the pattern, relative to the root.
    pub file: Option<String>,
    /// Its line, from 1 (0 for a rule that is not a line).
    pub line: usize,
    /// The pattern as written (stripped); a sub-repository's or temp
    /// file's name for those.
    pub pattern: Option<String>,
    /// A `!` pattern: it re-included the path.
    pub negated: bool,
}

/// Decides `path` (need not exist) under `repo_root`, as dvc check-ignore.
#[pyfunction]
pub fn check_ignore(py: Python<'_>, repo_root: PathBuf, path: PathBuf) -> PyResult<IgnoreCheck> {
    let verdict = py.detach(|| ignore::check(&repo_root, &path, path.is_dir())).py_err(py)?;
    let mut out =
        IgnoreCheck { ignored: verdict.ignored, kind: None, file: None, line: 0, pattern: None, negated: false };
    match verdict.rule {
        None => {}
        Some(Rule::Pattern(p)) => {
            out.negated = p.negated;
            out.pattern = Some(p.text);
            match p.origin {
                Origin::Builtin => out.kind = Some("default"),
                Origin::File { file, line } => {
                    out.kind = Some("dvcignore");
                    let rel = file.strip_prefix(&repo_root).unwrap_or(&file);
                    out.file = Some(rel.to_string_lossy().into_owned());
                    out.line = line;
                }
            }
        }
        Some(Rule::SubRepo(name)) => {
            out.kind = Some("subrepo");
            out.pattern = Some(name);
        }
        Some(Rule::BaleTemp(name)) => {
            out.kind = Some("bale-temp");
            out.pattern = Some(name);
        }
    }
    Ok(out)
}

/// Why `path` is not tracked (ignored, `.git`, a sub-repository), or `None`.
#[pyfunction]
pub fn ignored_reason(py: Python<'_>, repo_root: PathBuf, path: PathBuf) -> PyResult<Option<String>> {
    py.detach(|| ignore::ignored_reason(&repo_root, &path)).py_err(py)
}
