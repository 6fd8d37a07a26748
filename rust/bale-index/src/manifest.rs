//! Directory manifests.
//!
//! A [`Manifest`] is the flat, sorted list of files of a tracked directory.
//! It is stored in one of two formats (DESIGN.md, "Directory manifests"):
//!
//! - **md5**: DVC's `.dir` object, byte-identical to what DVC 3 writes: a JSON
//!   array of `{"md5", "relpath"}` sorted by relpath, `json.dumps` separators,
//!   `\uXXXX` escapes, no trailing newline. Empty directories and exec bits
//!   are not recorded (DVC does not record them).
//! - **blake3**: a tree of per-directory tree objects (`bale-tree 1`), so that
//!   changing one file rewrites only the trees on its path, and a
//!   sub-directory can be read without reading the rest. Exec bits and empty
//!   directories are recorded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bale_error::{Error, Result};
use bale_hash::{hash_bytes, Algo, Oid};
use bale_odb::Odb;
use rayon::prelude::*;

/// One file of a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the tracked directory, `/`-separated.
    pub rel: String,
    pub oid: Oid,
    /// Bytes; md5 manifests do not record sizes, so 0 when read from one.
    pub size: u64,
    pub exec: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub algo: Algo,
    /// Sorted by `rel` in code-point order.
    pub entries: Vec<Entry>,
    /// Directories with no file at any depth (native manifests only).
    pub empty_dirs: Vec<String>,
}

const TREE_HEADER: &str = "bale-tree 1\n";

impl Manifest {
    pub fn size(&self) -> u64 {
        // A loaded manifest's sizes add up (see `check_total`); a graft
        // adds one file more, which saturates rather than wraps.
        self.entries.iter().fold(0, |total, e| total.saturating_add(e.size))
    }

    /// Stores the manifest's objects and returns its id.
    pub fn store(&self, odb: &Odb) -> Result<Oid> {
        match self.algo {
            Algo::Md5 | Algo::Md5Dos2Unix => {
                let bytes = self.to_dvc_json();
                let oid = hash_bytes(self.algo, &bytes, true);
                odb.put_bytes(&oid, &bytes)?;
                Ok(oid)
            }
            Algo::Blake3 => Ok(self.build_trees(Some(odb))?.0),
        }
    }

    /// The id the manifest would have, without storing anything.
    pub fn oid(&self) -> Result<Oid> {
        match self.algo {
            Algo::Md5 | Algo::Md5Dos2Unix => Ok(hash_bytes(self.algo, &self.to_dvc_json(), true)),
            Algo::Blake3 => Ok(self.build_trees(None)?.0),
        }
    }

    /// Reads a manifest from the store, verifying every object it reads.
    pub fn load(odb: &Odb, oid: &Oid) -> Result<Manifest> {
        match oid.algo() {
            Algo::Md5 | Algo::Md5Dos2Unix => {
                let bytes = odb.read_verified(oid)?;
                Manifest::from_dvc_json(oid.algo(), &bytes, odb.object_path(oid))
            }
            Algo::Blake3 => {
                let mut m = Manifest { algo: Algo::Blake3, entries: Vec::new(), empty_dirs: Vec::new() };
                load_tree(odb, oid, "", &mut m)?;
                m.entries.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
                m.empty_dirs.sort_unstable();
                check_total(&m, &odb.object_path(oid))?;
                Ok(m)
            }
        }
    }

    /// The part of the manifest under `prefix` (a sub-directory), with paths
    /// kept relative to the manifest root. For native manifests only the trees
    /// on the way to `prefix` are read.
    pub fn load_under(odb: &Odb, oid: &Oid, prefix: &str) -> Result<Manifest> {
        if prefix.is_empty() {
            return Manifest::load(odb, oid);
        }
        if oid.algo() != Algo::Blake3 {
            let mut m = Manifest::load(odb, oid)?;
            let dir = format!("{prefix}/");
            m.entries.retain(|e| e.rel == prefix || e.rel.starts_with(&dir));
            return Ok(m);
        }
        let mut tree = *oid;
        let mut walked = String::new();
        let parts: Vec<&str> = prefix.split('/').collect();
        let mut m = Manifest { algo: Algo::Blake3, entries: Vec::new(), empty_dirs: Vec::new() };
        for (i, part) in parts.iter().enumerate() {
            let lines = read_tree(odb, &tree)?;
            let Some(line) = lines.into_iter().find(|l| l.name == *part) else {
                return Ok(m);
            };
            if !walked.is_empty() {
                walked.push('/');
            }
            walked.push_str(part);
            match line.kind {
                TreeKind::Tree => tree = line.oid,
                TreeKind::File | TreeKind::Exec if i + 1 == parts.len() => {
                    m.entries.push(Entry {
                        rel: walked.clone(),
                        oid: line.oid,
                        size: line.size,
                        exec: line.kind == TreeKind::Exec,
                    });
                    return Ok(m);
                }
                _ => return Ok(m),
            }
        }
        load_tree(odb, &tree, &walked, &mut m)?;
        m.entries.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
        m.empty_dirs.sort_unstable();
        check_total(&m, &odb.object_path(oid))?;
        Ok(m)
    }

    /// The sub-trees the native tree `oid` lists, with their names, read
    /// and verified: what a reader walking down a tree level by level
    /// fetches next.
    pub fn subtrees(odb: &Odb, oid: &Oid) -> Result<Vec<(Oid, String)>> {
        Ok(read_tree(odb, oid)?.into_iter().filter(|l| l.kind == TreeKind::Tree).map(|l| (l.oid, l.name)).collect())
    }

    /// Every object a stored manifest references: its tree objects and its
    /// files. Used by gc, which must prove an object unreferenced.
    pub fn objects(odb: &Odb, oid: &Oid) -> Result<Vec<Oid>> {
        let mut out = vec![*oid];
        match oid.algo() {
            Algo::Md5 | Algo::Md5Dos2Unix => {
                out.extend(Manifest::load(odb, oid)?.entries.into_iter().map(|e| e.oid));
            }
            Algo::Blake3 => collect_tree_objects(odb, oid, &mut out)?,
        }
        Ok(out)
    }

    /// DVC's `.dir` bytes.
    pub fn to_dvc_json(&self) -> Vec<u8> {
        let mut s = String::with_capacity(self.entries.len() * 80 + 2);
        s.push('[');
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str("{\"md5\": \"");
            s.push_str(&e.oid.hex_digest());
            s.push_str("\", \"relpath\": ");
            json_string(&mut s, &e.rel);
            s.push('}');
        }
        s.push(']');
        s.into_bytes()
    }

    /// What the stored manifest `oid` has at `rel`, read and verified as
    /// [`Manifest::load`] reads it (the same errors), without the whole
    /// sorted manifest for md5: one file of 100,000 is a scan.
    pub fn lookup(odb: &Odb, oid: &Oid, rel: &str) -> Result<Lookup> {
        match oid.algo() {
            Algo::Md5 | Algo::Md5Dos2Unix => {
                let bytes = odb.read_verified(oid)?;
                lookup_dvc_json(oid.algo(), &bytes, odb.object_path(oid), rel)
            }
            Algo::Blake3 => lookup_native(odb, oid, rel),
        }
    }

    /// What the manifest has at `rel`: the (first) file of that path, else
    /// a directory if a file is below it.
    pub fn find(&self, rel: &str) -> Lookup {
        let at = self.entries.partition_point(|e| e.rel.as_str() < rel);
        if let Some(e) = self.entries.get(at).filter(|e| e.rel == rel) {
            return Lookup::File(e.clone());
        }
        // Paths under `rel/` sort together, though not right after `rel`
        // (`rel-x` sorts between them).
        let dir = format!("{rel}/");
        let at = self.entries.partition_point(|e| e.rel < dir);
        match self.entries.get(at) {
            Some(e) if e.rel.starts_with(&dir) => Lookup::Dir,
            _ => Lookup::Missing,
        }
    }

    /// Parses a `.dir` object. Keys other than `md5` and `relpath` are
    /// tolerated (DVC 2.x wrote some) and dropped.
    pub fn from_dvc_json(algo: Algo, bytes: &[u8], path: PathBuf) -> Result<Manifest> {
        let mut entries = dvc_json_entries(algo, bytes, path)?;
        entries.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(Manifest { algo, entries, empty_dirs: Vec::new() })
    }

    /// Builds the native tree objects bottom-up; stores them when `odb` is given.
    fn build_trees(&self, odb: Option<&Odb>) -> Result<(Oid, u64, u64)> {
        let mut root = Node::default();
        for e in &self.entries {
            let (dirs, name) = split_last(&e.rel);
            root.descend(dirs).files.insert(name, e);
        }
        for d in &self.empty_dirs {
            root.descend(d);
        }
        root.serialize(odb)
    }
}

/// What a manifest has at one path ([`Manifest::lookup`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    File(Entry),
    Dir,
    Missing,
}

/// [`Manifest::lookup`] in a `.dir` object's bytes: every entry parsed and
/// checked as [`Manifest::from_dvc_json`] does, none sorted or kept.
fn lookup_dvc_json(algo: Algo, bytes: &[u8], path: PathBuf, rel: &str) -> Result<Lookup> {
    let pairs = dvc_json_pairs(algo, bytes, path)?;
    // Stored order; `from_dvc_json`'s sort is stable, so the first equal
    // path here is the one `find` gives after it.
    let dir = format!("{rel}/");
    let mut found = Lookup::Missing;
    for (oid, name) in pairs {
        if name == rel {
            return Ok(Lookup::File(Entry { rel: name.into_owned(), oid, size: 0, exec: false }));
        }
        if name.starts_with(&dir) {
            found = Lookup::Dir;
        }
    }
    Ok(found)
}

/// The entries of a `.dir` object in stored order, each checked.
fn dvc_json_entries(algo: Algo, bytes: &[u8], path: PathBuf) -> Result<Vec<Entry>> {
    let pairs = dvc_json_pairs(algo, bytes, path)?;
    Ok(pairs.into_iter().map(|(oid, rel)| Entry { rel: rel.into_owned(), oid, size: 0, exec: false }).collect())
}

/// The `(id, relpath)` of each entry of a `.dir` object, in stored order,
/// each checked; paths borrowed from `bytes` where they can be.
fn dvc_json_pairs(algo: Algo, bytes: &[u8], path: PathBuf) -> Result<Vec<(Oid, std::borrow::Cow<'_, str>)>> {
    let bad = |reason: String| Error::BadManifest { path: path.clone(), reason };
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
    let items = json::parse_manifest(text).map_err(|e| bad(format!("malformed JSON: {e}")))?;
    let mut entries = Vec::with_capacity(items.len());
    for (md5, rel) in items {
        let oid = Oid::parse(algo, &md5).map_err(|_| bad(format!("bad md5 '{md5}' for '{rel}'")))?;
        if rel.is_empty() || rel.starts_with('/') || rel.split('/').any(|c| c == ".." || c == "." || c.is_empty()) {
            return Err(bad(format!("unsafe relpath '{rel}'")));
        }
        entries.push((oid, rel));
    }
    Ok(entries)
}

/// Refuses a native manifest whose files' sizes add up past what a u64
/// holds: the trees were read from a remote or the cache, and claim any size.
fn check_total(m: &Manifest, path: &Path) -> Result<()> {
    match m.entries.iter().try_fold(0u64, |total, e| total.checked_add(e.size)) {
        Some(_) => Ok(()),
        None => Err(Error::BadManifest {
            path: path.to_path_buf(),
            reason: "its files' sizes add up past 2^64 bytes".into(),
        }),
    }
}

fn split_last(rel: &str) -> (&str, &str) {
    match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    }
}

/// Python's `json.dumps(..., ensure_ascii=True)` string form.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The manifest's entries as a directory tree, borrowing names and entries.
#[derive(Default)]
struct Node<'a> {
    files: BTreeMap<&'a str, &'a Entry>,
    dirs: BTreeMap<&'a str, Node<'a>>,
}

impl<'a> Node<'a> {
    fn descend(&mut self, dirs: &'a str) -> &mut Node<'a> {
        let mut node = self;
        if dirs.is_empty() {
            return node;
        }
        for part in dirs.split('/') {
            node = node.dirs.entry(part).or_default();
        }
        node
    }

    /// Returns (tree oid, bytes below, files below). Sub-directories are
    /// serialized in parallel: a 100,000-file tree is mostly their lines.
    fn serialize(&self, odb: Option<&Odb>) -> Result<(Oid, u64, u64)> {
        let subtrees: Vec<(&str, Oid, u64, u64)> = self
            .dirs
            .par_iter()
            .map(|(name, node)| node.serialize(odb).map(|(oid, s, n)| (*name, oid, s, n)))
            .collect::<Result<_>>()?;
        let (mut size, mut nfiles) = (0u64, 0u64);
        let mut lines: Vec<(&str, String)> = Vec::with_capacity(self.files.len() + subtrees.len());
        for (name, e) in &self.files {
            let kind = if e.exec { 'x' } else { 'f' };
            lines.push((name, format!("{kind} {} {} 1 {}\n", e.oid.hex_digest(), e.size, escape_name(name))));
            size = size.saturating_add(e.size);
            nfiles += 1;
        }
        for (name, oid, s, n) in subtrees {
            lines.push((name, format!("t {} {s} {n} {}\n", oid.hex_digest(), escape_name(name))));
            size = size.saturating_add(s);
            nfiles += n;
        }
        // A name is a file or a directory, never both: one order for both.
        lines.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut bytes = String::with_capacity(TREE_HEADER.len() + lines.iter().map(|l| l.1.len()).sum::<usize>());
        bytes.push_str(TREE_HEADER);
        for (_, line) in &lines {
            bytes.push_str(line);
        }
        let oid = hash_bytes(Algo::Blake3, bytes.as_bytes(), true);
        if let Some(odb) = odb {
            odb.put_bytes(&oid, bytes.as_bytes())?;
        }
        Ok((oid, size, nfiles))
    }
}

fn escape_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains(['\\', '\n']) {
        name.replace('\\', "\\\\").replace('\n', "\\n").into()
    } else {
        name.into()
    }
}

fn unescape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TreeKind {
    File,
    Exec,
    Tree,
}

struct TreeLine {
    kind: TreeKind,
    oid: Oid,
    size: u64,
    /// Files at or under this entry (1 for a file).
    files: u64,
    name: String,
}

/// What takes the place of a path inside a tracked directory.
#[derive(Clone, Copy, Debug)]
pub enum Graft {
    File {
        oid: Oid,
        size: u64,
        exec: bool,
    },
    /// A stored directory manifest.
    Dir(Oid),
}

impl Graft {
    /// What `oid` built to: a directory manifest if it is a tree, else a
    /// file of `size` bytes.
    pub fn of(oid: Oid, size: u64, exec: bool) -> Graft {
        if oid.is_tree() {
            Graft::Dir(oid)
        } else {
            Graft::File { oid, size, exec }
        }
    }
}

/// A directory output after `add` of a path inside it, as DVC 3 does it: the
/// stored manifest `dir` with everything at or under `rel` replaced by
/// `with`, and nothing else taken from the workspace. Stores the new
/// manifest; returns its id, total size, file count, and whether any file
/// was replaced (not only added). md5 manifests record no sizes, so there
/// each file's size is its cached object's.
pub fn graft(odb: &Odb, dir: &Oid, rel: &str, with: Graft) -> Result<(Oid, u64, u64, bool)> {
    if dir.algo() == Algo::Md5Dos2Unix {
        return Err(Error::Unsupported(format!(
            "adding '{rel}' alone to a directory tracked by DVC 2.x: add the whole directory"
        )));
    }
    let algo = match with {
        Graft::File { oid, .. } | Graft::Dir(oid) => oid.algo(),
    };
    if algo != dir.algo() {
        return Err(Error::Unsupported(format!(
            "adding '{rel}' ({}) to a {} directory",
            algo.name(),
            dir.algo().name()
        )));
    }
    let mut m = Manifest::load(odb, dir)?;
    let under = format!("{rel}/");
    let before = m.entries.len();
    // A file recorded where the path now has a directory on the way goes
    // too (dvc keeps it, and then records both a file and a directory under
    // one name, which no checkout can make).
    let is_ancestor = |e: &Entry| rel.strip_prefix(e.rel.as_str()).is_some_and(|r| r.starts_with('/'));
    m.entries.retain(|e| e.rel != rel && !e.rel.starts_with(&under) && !is_ancestor(e));
    let replaced = m.entries.len() < before;
    m.empty_dirs.retain(|d| d != rel && !d.starts_with(&under) && !under.starts_with(&format!("{d}/")));
    match with {
        Graft::File { oid, size, exec } => m.entries.push(Entry { rel: rel.to_string(), oid, size, exec }),
        Graft::Dir(sub) => {
            let sub = Manifest::load(odb, &sub)?;
            m.entries.extend(sub.entries.into_iter().map(|e| Entry { rel: format!("{under}{}", e.rel), ..e }));
            if sub.empty_dirs.is_empty() && m.entries.iter().all(|e| !e.rel.starts_with(&under)) {
                m.empty_dirs.push(rel.to_string());
            }
            m.empty_dirs.extend(sub.empty_dirs.into_iter().map(|d| format!("{under}{d}")));
        }
    }
    m.entries.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    m.empty_dirs.sort_unstable();
    if m.algo != Algo::Blake3 {
        for e in &mut m.entries {
            let path = odb.object_path(&e.oid);
            e.size = std::fs::metadata(&path)
                .map_err(|_| Error::ObjectMissing { path: path.clone(), oid: e.oid.to_string() })?
                .len();
        }
    }
    let oid = m.store(odb)?;
    Ok((oid, m.size(), m.entries.len() as u64, replaced))
}

/// The entries of one native tree object as `(oid, size)`, verified on read.
/// Sub-trees are the entries whose oid is a tree.
pub fn tree_children(odb: &Odb, oid: &Oid) -> Result<Vec<(Oid, u64)>> {
    Ok(read_tree(odb, oid)?.into_iter().map(|l| (l.oid, l.size)).collect())
}

/// The id of what the native tree `oid` holds at `path` (names joined by
/// `/`), each tree on the way verified on read. `None` where the path leaves
/// what the tree records: a name it lacks, or a file with names after it.
pub fn tree_entry(odb: &Odb, oid: &Oid, path: &str) -> Result<Option<Oid>> {
    let mut at = *oid;
    for name in path.split('/') {
        if !at.is_tree() {
            return Ok(None);
        }
        match read_tree(odb, &at)?.into_iter().find(|l| l.name == name) {
            Some(line) => at = line.oid,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

/// [`Manifest::lookup`] in a native tree: only the trees on the way to
/// `rel` are read (a reader fetches just those), where a whole load reads
/// every tree below `oid`. A directory counts when files are under it, as
/// its tree line says.
fn lookup_native(odb: &Odb, oid: &Oid, rel: &str) -> Result<Lookup> {
    let parts: Vec<&str> = rel.split('/').collect();
    let mut tree = *oid;
    for (i, part) in parts.iter().enumerate() {
        let Some(line) = read_tree(odb, &tree)?.into_iter().find(|l| l.name == *part) else {
            return Ok(Lookup::Missing);
        };
        let last = i + 1 == parts.len();
        match line.kind {
            TreeKind::Tree if last => return Ok(if line.files > 0 { Lookup::Dir } else { Lookup::Missing }),
            TreeKind::Tree => tree = line.oid,
            TreeKind::File | TreeKind::Exec if last => {
                let exec = line.kind == TreeKind::Exec;
                return Ok(Lookup::File(Entry { rel: rel.to_owned(), oid: line.oid, size: line.size, exec }));
            }
            TreeKind::File | TreeKind::Exec => return Ok(Lookup::Missing),
        }
    }
    Ok(Lookup::Missing)
}

fn read_tree(odb: &Odb, oid: &Oid) -> Result<Vec<TreeLine>> {
    parse_tree(&odb.read_verified(oid)?, &odb.object_path(oid))
}

/// The lines of a native tree object's bytes read from `path` (named in errors).
fn parse_tree(bytes: &[u8], path: &Path) -> Result<Vec<TreeLine>> {
    let bad = |reason: String| Error::BadManifest { path: path.to_path_buf(), reason };
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
    let body = text.strip_prefix(TREE_HEADER).ok_or_else(|| bad("not a bale-tree 1 object".into()))?;
    let mut lines = Vec::new();
    // Split on `\n` only: a name may end in `\r`, which `lines()` would eat.
    for line in body.split_terminator('\n') {
        let mut it = line.splitn(5, ' ');
        let (Some(kind), Some(hex), Some(size), Some(files), Some(name)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            return Err(bad(format!("malformed line '{line}'")));
        };
        let kind = match kind {
            "f" => TreeKind::File,
            "x" => TreeKind::Exec,
            "t" => TreeKind::Tree,
            _ => return Err(bad(format!("unknown entry kind '{kind}'"))),
        };
        let oid = Oid::parse(Algo::Blake3, hex).map_err(|_| bad(format!("bad id '{hex}'")))?;
        let oid = if kind == TreeKind::Tree { oid.as_tree() } else { oid };
        let size = size.parse().map_err(|_| bad(format!("bad size '{size}'")))?;
        let files = files.parse().map_err(|_| bad(format!("bad file count '{files}'")))?;
        let name = unescape_name(name);
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(bad(format!("unsafe name '{name}'")));
        }
        lines.push(TreeLine { kind, oid, size, files, name });
    }
    Ok(lines)
}

fn collect_tree_objects(odb: &Odb, oid: &Oid, out: &mut Vec<Oid>) -> Result<()> {
    for l in read_tree(odb, oid)? {
        out.push(l.oid);
        if l.kind == TreeKind::Tree {
            collect_tree_objects(odb, &l.oid, out)?;
        }
    }
    Ok(())
}

fn load_tree(odb: &Odb, oid: &Oid, prefix: &str, m: &mut Manifest) -> Result<()> {
    let lines = read_tree(odb, oid)?;
    if lines.is_empty() && !prefix.is_empty() {
        m.empty_dirs.push(prefix.to_owned());
    }
    for l in lines {
        let rel = if prefix.is_empty() { l.name.clone() } else { format!("{prefix}/{}", l.name) };
        match l.kind {
            TreeKind::Tree => load_tree(odb, &l.oid, &rel, m)?,
            TreeKind::File | TreeKind::Exec => {
                m.entries.push(Entry { rel, oid: l.oid, size: l.size, exec: l.kind == TreeKind::Exec })
            }
        }
    }
    Ok(())
}

mod json {
    //! Just enough JSON to read `.dir` manifests: an array of flat objects.

    use std::borrow::Cow;

    /// An entry's `md5` and `relpath`.
    pub type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

    /// The `(md5, relpath)` of each entry, borrowed from `text` unless
    /// escaped (a 100,000-file manifest is then parsed without allocating
    /// a string per field).
    pub fn parse_manifest(text: &str) -> Result<Vec<Pair<'_>>, String> {
        let mut p = Parser { s: text.as_bytes(), i: 0 };
        p.ws();
        p.expect(b'[')?;
        let mut out = Vec::new();
        p.ws();
        if p.peek() == Some(b']') {
            p.i += 1;
            return p.end(out);
        }
        loop {
            p.ws();
            p.expect(b'{')?;
            let (mut md5, mut rel) = (None, None);
            loop {
                p.ws();
                if p.peek() == Some(b'}') {
                    p.i += 1;
                    break;
                }
                let key = p.string()?;
                p.ws();
                p.expect(b':')?;
                p.ws();
                let value = p.value()?;
                match &*key {
                    "md5" => md5 = value,
                    "relpath" => rel = value,
                    _ => {}
                }
                p.ws();
                match p.next() {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    _ => return Err(format!("expected ',' or '}}' at byte {}", p.i)),
                }
            }
            match (md5, rel) {
                (Some(m), Some(r)) => out.push((m, r)),
                _ => return Err("an entry lacks md5 or relpath".into()),
            }
            p.ws();
            match p.next() {
                Some(b',') => continue,
                Some(b']') => return p.end(out),
                _ => return Err(format!("expected ',' or ']' at byte {}", p.i)),
            }
        }
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl<'a> Parser<'a> {
        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }
        fn next(&mut self) -> Option<u8> {
            let c = self.peek();
            self.i += 1;
            c
        }
        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
                self.i += 1;
            }
        }
        fn expect(&mut self, c: u8) -> Result<(), String> {
            if self.next() == Some(c) {
                Ok(())
            } else {
                Err(format!("expected '{}' at byte {}", c as char, self.i - 1))
            }
        }
        fn end<T>(&mut self, v: T) -> Result<T, String> {
            self.ws();
            if self.i < self.s.len() {
                return Err(format!("trailing data at byte {}", self.i));
            }
            Ok(v)
        }
        /// A string or any scalar; only strings are returned.
        fn value(&mut self) -> Result<Option<Cow<'a, str>>, String> {
            if self.peek() == Some(b'"') {
                return self.string().map(Some);
            }
            let start = self.i;
            while let Some(c) = self.peek() {
                if matches!(c, b',' | b'}' | b' ' | b'\n' | b'\r' | b'\t') {
                    break;
                }
                self.i += 1;
            }
            let tok = &self.s[start..self.i];
            let is_number = !tok.is_empty() && tok.iter().all(|c| c.is_ascii_digit() || b"+-.eE".contains(c));
            if tok == b"null" || tok == b"true" || tok == b"false" || is_number {
                Ok(None)
            } else {
                Err(format!("unexpected value at byte {start}"))
            }
        }
        fn hex4(&mut self) -> Result<u32, String> {
            let h = self.s.get(self.i..self.i + 4).ok_or("truncated \\u escape")?;
            self.i += 4;
            u32::from_str_radix(std::str::from_utf8(h).map_err(|_| "bad \\u escape")?, 16)
                .map_err(|_| "bad \\u escape".to_string())
        }
        fn string(&mut self) -> Result<Cow<'a, str>, String> {
            self.expect(b'"')?;
            // Most strings have no escape: a slice of the (UTF-8) text.
            let rest = &self.s[self.i..];
            if let Some(n) = rest.iter().position(|&c| c == b'"' || c == b'\\') {
                if rest[n] == b'"' {
                    self.i += n + 1;
                    let text = std::str::from_utf8(&rest[..n]).map_err(|_| "string is not UTF-8".to_string())?;
                    return Ok(Cow::Borrowed(text));
                }
            }
            let mut out: Vec<u8> = Vec::new();
            loop {
                match self.next() {
                    None => return Err("unterminated string".into()),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        let c = match self.next() {
                            Some(b'"') => '"',
                            Some(b'\\') => '\\',
                            Some(b'/') => '/',
                            Some(b'n') => '\n',
                            Some(b'r') => '\r',
                            Some(b't') => '\t',
                            Some(b'b') => '\u{08}',
                            Some(b'f') => '\u{0c}',
                            Some(b'u') => {
                                let hi = self.hex4()?;
                                let code = if (0xD800..0xDC00).contains(&hi) {
                                    if self.next() != Some(b'\\') || self.next() != Some(b'u') {
                                        return Err("lone surrogate".into());
                                    }
                                    let lo = self.hex4()?;
                                    0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3ff)
                                } else {
                                    hi
                                };
                                char::from_u32(code).ok_or("invalid code point")?
                            }
                            _ => return Err(format!("bad escape at byte {}", self.i - 1)),
                        };
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    Some(c) => out.push(c),
                }
            }
            String::from_utf8(out).map(Cow::Owned).map_err(|_| "string is not UTF-8".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5(hex: &str) -> Oid {
        Oid::parse(Algo::Md5, hex).unwrap()
    }

    #[test]
    fn dvc_json_is_byte_identical_to_dvc() {
        let entries = [
            ("Z.bin", "25ed1bcb423b0b7200f485fc5ff71c8e"),
            ("a.txt", "60b725f10c9c85c70d97880dfe8191b3"),
            ("empty", "d41d8cd98f00b204e9800998ecf8427e"),
            ("sub/b.txt", "c5053d4da03789bfbc4bee760fade936"),
        ];
        let m = Manifest {
            algo: Algo::Md5,
            entries: entries
                .iter()
                .map(|(r, h)| Entry { rel: r.to_string(), oid: md5(h), size: 0, exec: false })
                .collect(),
            empty_dirs: vec![],
        };
        let expected = r#"[{"md5": "25ed1bcb423b0b7200f485fc5ff71c8e", "relpath": "Z.bin"}, {"md5": "60b725f10c9c85c70d97880dfe8191b3", "relpath": "a.txt"}, {"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "empty"}, {"md5": "c5053d4da03789bfbc4bee760fade936", "relpath": "sub/b.txt"}]"#;
        assert_eq!(String::from_utf8(m.to_dvc_json()).unwrap(), expected);
        assert_eq!(m.oid().unwrap().to_string(), "ad5adcace8307aa36df3218729f87e87.dir");
        let back = Manifest::from_dvc_json(Algo::Md5, expected.as_bytes(), "x".into()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn json_escapes_like_python_ensure_ascii() {
        let mut s = String::new();
        json_string(&mut s, "é日\u{1F600}\"\\\n\u{1}\u{7f}");
        assert_eq!(s, r#""\u00e9\u65e5\ud83d\ude00\"\\\n\u0001\u007f""#);
        let text = format!("[{{\"md5\": \"x\", \"relpath\": {s}}}]");
        let parsed = json::parse_manifest(&text).unwrap();
        assert_eq!(parsed[0].1, "é日\u{1F600}\"\\\n\u{1}\u{7f}");
    }

    #[test]
    fn a_path_is_looked_up_one_tree_at_a_time() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path());
        let file = |bytes: &[u8]| {
            let oid = hash_bytes(Algo::Blake3, bytes, false);
            odb.put_bytes(&oid, bytes).unwrap();
            Entry { rel: String::new(), oid, size: bytes.len() as u64, exec: false }
        };
        let at = |rel: &str, e: Entry| Entry { rel: rel.into(), ..e };
        let (x, y) = (file(b"x\n"), file(b"y\n"));
        let m = Manifest {
            algo: Algo::Blake3,
            entries: vec![at("a", x.clone()), at("s/t/y", y.clone())],
            empty_dirs: Vec::new(),
        };
        let dir = m.store(&odb).unwrap();
        let found = |path: &str| tree_entry(&odb, &dir, path).unwrap();
        assert_eq!(found("a"), Some(x.oid));
        assert_eq!(found("s/t/y"), Some(y.oid));
        assert!(found("s/t").is_some_and(|t| t.is_tree()));
        assert_eq!(found("s/t/z"), None);
        assert_eq!(found("nothing/here"), None);
        // A recorded file that the workspace now holds as a directory.
        assert_eq!(found("a/b"), None);
    }

    #[test]
    fn unsafe_relpaths_are_rejected() {
        let j = r#"[{"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "../etc/passwd"}]"#;
        assert!(Manifest::from_dvc_json(Algo::Md5, j.as_bytes(), "x".into()).is_err());
    }

    /// A graft gives the manifest that holds the new path and keeps every
    /// other entry as stored, in both formats; md5 sizes come from the cache.
    #[test]
    fn a_graft_replaces_only_what_is_at_or_under_its_path() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path());
        for algo in [Algo::Md5, Algo::Blake3] {
            let file = |bytes: &[u8], exec: bool| {
                let oid = hash_bytes(algo, bytes, false);
                odb.put_bytes(&oid, bytes).unwrap();
                (oid, bytes.len() as u64, exec)
            };
            let entry = |rel: &str, (oid, size, exec): (Oid, u64, bool)| Entry { rel: rel.into(), oid, size, exec };
            let manifest = |entries: Vec<Entry>| Manifest { algo, entries, empty_dirs: Vec::new() };
            let old = manifest(vec![
                entry("a", file(b"a\n", false)),
                entry("s/x", file(b"x\n", false)),
                entry("s/y", file(b"yy\n", false)),
            ]);
            let dir = old.store(&odb).unwrap();

            let (oid, size, exec) = file(b"new\n", true);
            let (got, got_size, n, replaced) = graft(&odb, &dir, "new", Graft::File { oid, size, exec }).unwrap();
            assert!(!replaced);
            let mut want = old.entries.clone();
            want.push(entry("new", (oid, size, exec)));
            want.sort_by(|a, b| a.rel.cmp(&b.rel));
            assert_eq!(got, manifest(want).oid().unwrap(), "{algo:?}");
            assert_eq!((got_size, n), (2 + 2 + 3 + 4, 4));

            let sub = manifest(vec![entry("z", file(b"zzzz\n", false))]).store(&odb).unwrap();
            let (got, got_size, n, replaced) = graft(&odb, &dir, "s", Graft::Dir(sub)).unwrap();
            assert!(replaced);
            let want = manifest(vec![entry("a", file(b"a\n", false)), entry("s/z", file(b"zzzz\n", false))]);
            assert_eq!(got, want.oid().unwrap(), "{algo:?}");
            assert_eq!((got_size, n), (2 + 5, 2));

            // The recorded file `a` is a directory now, holding `a/b/c`; `ab`
            // only shares a prefix of its name and stays.
            let with_ab = manifest(vec![entry("a", file(b"a\n", false)), entry("ab/c", file(b"ab\n", false))]);
            let with_ab = with_ab.store(&odb).unwrap();
            let (oid, size, exec) = file(b"c\n", false);
            let (got, got_size, n, replaced) = graft(&odb, &with_ab, "a/b/c", Graft::File { oid, size, exec }).unwrap();
            assert!(replaced);
            let want = manifest(vec![entry("a/b/c", (oid, size, exec)), entry("ab/c", file(b"ab\n", false))]);
            assert_eq!((got, got_size, n), (want.oid().unwrap(), 2 + 3, 2), "{algo:?}");
        }
        let md5_dir = Manifest { algo: Algo::Md5, entries: Vec::new(), empty_dirs: Vec::new() }.store(&odb).unwrap();
        let native = hash_bytes(Algo::Blake3, b"b", false);
        let err = graft(&odb, &md5_dir, "b", Graft::File { oid: native, size: 1, exec: false }).unwrap_err();
        assert!(err.to_string().contains("blake3"), "{err}");
    }

    #[test]
    fn native_trees_round_trip_and_share_unchanged_subtrees() {
        let d = tempfile::tempdir().unwrap();
        let odb = Odb::new(d.path());
        let b = |n: u8| Oid::from_digest(Algo::Blake3, &[n; 32], false);
        let mut m = Manifest {
            algo: Algo::Blake3,
            entries: vec![
                Entry { rel: "a/x".into(), oid: b(1), size: 1, exec: false },
                Entry { rel: "a/y\nz\r".into(), oid: b(2), size: 2, exec: true },
                Entry { rel: "b/c/d".into(), oid: b(3), size: 3, exec: false },
            ],
            empty_dirs: vec!["e".into()],
        };
        let oid = m.store(&odb).unwrap();
        assert_eq!(Manifest::load(&odb, &oid).unwrap(), m);
        let under = Manifest::load_under(&odb, &oid, "b").unwrap();
        assert_eq!(under.entries.len(), 1);
        assert_eq!(under.entries[0].rel, "b/c/d");
        let before = odb.list(Algo::Blake3).unwrap().len();
        m.entries[0].oid = b(9);
        m.store(&odb).unwrap();
        // Only the root and `a` are new; `b`, `b/c` and `e` are shared.
        assert_eq!(odb.list(Algo::Blake3).unwrap().len(), before + 2);
    }

    /// The manifest decoders read bytes from a remote or the cache: random
    /// and mutated `.dir` JSON and `.tree` objects give an error or a
    /// manifest whose paths are safe to write under the output, never a
    /// panic.
    mod decoders {
        use super::*;
        use proptest::prelude::*;

        fn safe(rel: &str) -> bool {
            !rel.is_empty() && !rel.starts_with('/') && rel.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        }

        /// One edit of a valid encoding: flip a byte, insert some, cut it short.
        fn mutate(mut b: Vec<u8>, edits: &[(usize, u8, Vec<u8>)]) -> Vec<u8> {
            for (at, op, bytes) in edits {
                let n = b.len().max(1);
                match op % 3 {
                    0 if !b.is_empty() => b[at % n] ^= bytes.first().copied().unwrap_or(1) | 1,
                    1 => {
                        let at = at % (b.len() + 1);
                        b.splice(at..at, bytes.iter().copied());
                    }
                    _ => b.truncate(at % n),
                }
            }
            b
        }

        fn edits() -> impl Strategy<Value = Vec<(usize, u8, Vec<u8>)>> {
            let token = prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..8),
                Just(b"\\ud800".to_vec()),
                Just(b"\\u00".to_vec()),
                Just(b"..".to_vec()),
                Just(b"/".to_vec()),
                Just(b"\"".to_vec()),
                Just(b"18446744073709551615".to_vec()),
                Just(b"\n".to_vec()),
            ];
            proptest::collection::vec((any::<usize>(), any::<u8>(), token), 1..5)
        }

        fn name() -> impl Strategy<Value = String> {
            "[a-z.\\\\ \n]{1,6}".prop_filter("a safe name", |n| n != "." && n != "..")
        }

        /// A valid `.dir` manifest's bytes.
        fn dir_json() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::btree_map("[a-z]{1,3}(/[a-z]{1,3}){0,2}", any::<[u8; 16]>(), 0..6).prop_map(|m| {
                let entries = m
                    .into_iter()
                    .map(|(rel, d)| Entry { rel, oid: Oid::from_digest(Algo::Md5, &d, false), size: 0, exec: false })
                    .collect();
                Manifest { algo: Algo::Md5, entries, empty_dirs: vec![] }.to_dvc_json()
            })
        }

        /// A valid native tree object's bytes, sizes anything a u64 holds.
        fn tree() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::btree_map(name(), (0..3u8, any::<[u8; 32]>(), any::<u64>()), 0..6).prop_map(|m| {
                let mut text = TREE_HEADER.to_owned();
                for (name, (kind, digest, size)) in m {
                    let kind = ["f", "x", "t"][kind as usize];
                    let hex = Oid::from_digest(Algo::Blake3, &digest, false).hex_digest();
                    text.push_str(&format!("{kind} {hex} {size} 1 {}\n", escape_name(&name)));
                }
                text.into_bytes()
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn random_bytes_are_no_manifest(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = Manifest::from_dvc_json(Algo::Md5, &bytes, "x".into());
                let _ = parse_tree(&bytes, Path::new("t"));
                let text = [TREE_HEADER.as_bytes(), &bytes].concat();
                let _ = parse_tree(&text, Path::new("t"));
            }

            #[test]
            fn a_lookup_finds_what_the_whole_manifest_has(
                entries in proptest::collection::vec(("[ab]{1,2}([-/][ab]{1,2}){0,2}", any::<[u8; 16]>()), 0..8),
                rel in "[ab]{1,2}([-/][ab]{1,2}){0,2}",
                edits in edits(),
            ) {
                // Unsorted, with repeated paths, as a remote may serve it.
                let entries: Vec<Entry> = entries
                    .into_iter()
                    .map(|(rel, d)| Entry { rel, oid: Oid::from_digest(Algo::Md5, &d, false), size: 0, exec: false })
                    .collect();
                let json = Manifest { algo: Algo::Md5, entries, empty_dirs: vec![] }.to_dvc_json();
                for bytes in [json.clone(), mutate(json, &edits)] {
                    let whole = Manifest::from_dvc_json(Algo::Md5, &bytes, "x".into());
                    let one = lookup_dvc_json(Algo::Md5, &bytes, "x".into(), &rel);
                    match (whole, one) {
                        (Ok(m), Ok(found)) => {
                            let scan = match m.entries.iter().find(|e| e.rel == rel) {
                                Some(e) => Lookup::File(e.clone()),
                                None if m.entries.iter().any(|e| e.rel.starts_with(&format!("{rel}/"))) => Lookup::Dir,
                                None => Lookup::Missing,
                            };
                            prop_assert_eq!(&m.find(&rel), &scan);
                            prop_assert_eq!(found, scan);
                        }
                        (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                        (a, b) => prop_assert!(false, "whole {:?} but lookup {:?}", a.is_ok(), b.is_ok()),
                    }
                }
            }

            #[test]
            fn a_native_lookup_finds_what_the_whole_manifest_has(
                files in proptest::collection::btree_map("[ab]{1,2}(/[ab]{1,2}){0,2}", (any::<[u8; 32]>(), any::<bool>()), 0..8),
                empty in proptest::collection::vec("[ab]{1,2}(/[ab]{1,2}){0,2}", 0..3),
                rel in "[ab]{1,2}([-/][ab]{1,2}){0,2}",
            ) {
                // A path is a file or a directory, never both.
                let mut entries: Vec<Entry> = Vec::new();
                for (rel, (d, exec)) in files {
                    if entries.iter().any(|e| rel.starts_with(&format!("{}/", e.rel)) || e.rel.starts_with(&format!("{rel}/"))) {
                        continue;
                    }
                    entries.push(Entry { rel, oid: Oid::from_digest(Algo::Blake3, &d, false), size: 3, exec });
                }
                let taken = |d: &str| entries.iter().any(|e| e.rel == d || d.starts_with(&format!("{}/", e.rel)));
                let empty_dirs: Vec<String> = empty.into_iter().filter(|d| !taken(d)).collect();
                let m = Manifest { algo: Algo::Blake3, entries, empty_dirs };
                let dir = tempfile::tempdir().unwrap();
                let odb = Odb::new(dir.path());
                let oid = m.store(&odb).unwrap();
                let whole = Manifest::load(&odb, &oid).unwrap();
                prop_assert_eq!(Manifest::lookup(&odb, &oid, &rel).unwrap(), whole.find(&rel));
                // The root's subtrees: its top-level directories, by name.
                let mut top: Vec<String> = whole
                    .entries
                    .iter()
                    .filter_map(|e| e.rel.split_once('/').map(|(d, _)| d.to_owned()))
                    .chain(whole.empty_dirs.iter().map(|d| d.split('/').next().unwrap().to_owned()))
                    .collect();
                top.sort();
                top.dedup();
                let names: Vec<String> = Manifest::subtrees(&odb, &oid).unwrap().into_iter().map(|(_, n)| n).collect();
                prop_assert_eq!(names, top);
            }

            #[test]
            fn a_mutated_dir_manifest_is_refused_or_safe(json in dir_json(), edits in edits()) {
                let bytes = mutate(json.clone(), &edits);
                if let Ok(m) = Manifest::from_dvc_json(Algo::Md5, &bytes, "x".into()) {
                    prop_assert!(m.entries.iter().all(|e| safe(&e.rel)), "{:?}", m.entries);
                }
                prop_assert!(Manifest::from_dvc_json(Algo::Md5, &json, "x".into()).is_ok());
            }

            #[test]
            fn a_mutated_tree_is_refused_or_safe(bytes in tree(), edits in edits()) {
                prop_assert!(parse_tree(&bytes, Path::new("t")).is_ok());
                if let Ok(lines) = parse_tree(&mutate(bytes, &edits), Path::new("t")) {
                    prop_assert!(lines.iter().all(|l| safe(&l.name)));
                }
            }

        }

        proptest! {
            // Each case writes to disk: fewer of them.
            #![proptest_config(ProptestConfig::with_cases(64))]

            /// A tree read from a remote claims any sizes: loading it gives
            /// a manifest whose size can be told, or an error.
            #[test]
            fn a_stored_tree_loads_with_a_total_size_or_is_refused(bytes in tree()) {
                let d = tempfile::tempdir().unwrap();
                let odb = Odb::new(d.path());
                let oid = hash_bytes(Algo::Blake3, &bytes, true);
                odb.put_bytes(&oid, &bytes).unwrap();
                // Only the files: a sub-tree named here is not in the store.
                if let Ok(m) = Manifest::load(&odb, &oid) {
                    let total = m.entries.iter().try_fold(0u64, |t, e| t.checked_add(e.size));
                    prop_assert_eq!(total, Some(m.size()));
                }
            }
        }
    }
}
