//! One workspace file from one cache object.

use std::fs::{self, File, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use bale_error::{Error, IoContext, Result};
use bale_odb::fs::{clone_into, link_unsupported, temp_path, umask, TempFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    Reflink,
    Hardlink,
    Symlink,
    Copy,
}

impl LinkType {
    pub fn name(self) -> &'static str {
        match self {
            LinkType::Reflink => "reflink",
            LinkType::Hardlink => "hardlink",
            LinkType::Symlink => "symlink",
            LinkType::Copy => "copy",
        }
    }
}

impl FromStr for LinkType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "reflink" => Ok(LinkType::Reflink),
            "hardlink" => Ok(LinkType::Hardlink),
            "symlink" => Ok(LinkType::Symlink),
            "copy" => Ok(LinkType::Copy),
            other => Err(Error::InvalidOid { text: other.to_owned(), what: "link type" }),
        }
    }
}

/// Mode of a private (copied or cloned) workspace file.
pub fn file_mode(exec: bool) -> u32 {
    let base = if exec { 0o777 } else { 0o666 };
    base & !umask()
}

fn private_temp(dir: &Path, exec: bool) -> Result<TempFile> {
    // The umask applies at creation, as for any file the user makes.
    TempFile::create_with_mode(dir, if exec { 0o777 } else { 0o666 }, false)
}

/// Links objects into the workspace with the first link type that works.
pub struct Linker {
    types: Vec<LinkType>,
    current: AtomicUsize,
}

impl Linker {
    pub fn new(types: Vec<LinkType>) -> Self {
        let types = if types.is_empty() { vec![LinkType::Reflink, LinkType::Copy] } else { types };
        Linker { types, current: AtomicUsize::new(0) }
    }

    /// The link type in use now (after any fallbacks).
    pub fn in_use(&self) -> LinkType {
        self.types[self.current.load(Ordering::Relaxed).min(self.types.len() - 1)]
    }

    /// Whether the next file would be a copy (`clones`: whether this cache
    /// can clone). The workspace then gets a private file either way, so a
    /// file the cache holds as chunks is rebuilt straight into it.
    pub fn copies(&self, clones: bool) -> bool {
        let from = self.current.load(Ordering::Relaxed).min(self.types.len() - 1);
        for &kind in &self.types[from..] {
            match kind {
                LinkType::Reflink if !clones => continue,
                LinkType::Copy => return true,
                _ => return false,
            }
        }
        false
    }

    /// Replaces `dest` (if it exists) by a link to `object`, atomically.
    /// Returns the link type used and, for copies, the new file's metadata.
    pub fn link(&self, object: &Path, dest: &Path, exec: bool) -> Result<(LinkType, Option<fs::Metadata>)> {
        loop {
            let idx = self.current.load(Ordering::Relaxed);
            let Some(&kind) = self.types.get(idx) else {
                return Err(Error::Io {
                    path: dest.to_path_buf(),
                    source: std::io::Error::other("no configured link type works here (cache.type)"),
                });
            };
            match link_one(kind, object, dest, exec) {
                Ok(meta) => return Ok((kind, meta)),
                Err(e) if link_unsupported(&e) && idx + 1 < self.types.len() => {
                    // Not possible on this file system: fall to the next type for everyone.
                    let _ = self.current.compare_exchange(idx, idx + 1, Ordering::Relaxed, Ordering::Relaxed);
                }
                Err(e) => return Err(Error::io(dest, e)),
            }
        }
    }
}

/// Makes `dest` a link or copy of `object`. Returns the new file's metadata
/// for copies and clones; a link shares the object's.
fn link_one(kind: LinkType, object: &Path, dest: &Path, exec: bool) -> std::io::Result<Option<fs::Metadata>> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    match kind {
        LinkType::Hardlink | LinkType::Symlink => {
            let abs = if object.is_absolute() { object.to_path_buf() } else { std::env::current_dir()?.join(object) };
            let make = |at: &Path| {
                if kind == LinkType::Hardlink {
                    fs::hard_link(&abs, at)
                } else {
                    std::os::unix::fs::symlink(&abs, at)
                }
            };
            // Creating a link is atomic: only an existing file needs the
            // temp-and-rename dance.
            match make(dest) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                other => return other.map(|()| None),
            }
            if already_linked(kind, &abs, dest) {
                return Ok(None);
            }
            let tmp = temp_path(dir);
            make(&tmp)?;
            bale_odb::failpoint::reached("temp");
            let renamed = fs::rename(&tmp, dest);
            // rename(2) between two names of one inode succeeds and does
            // nothing, leaving the temp name behind: the temp goes on every path.
            let _ = fs::remove_file(&tmp);
            renamed.map(|()| None)
        }
        LinkType::Reflink | LinkType::Copy => {
            let mut tmp = private_temp(dir, exec).map_err(to_io)?;
            let src = File::open(object)?;
            if kind == LinkType::Reflink {
                clone_into(&src, tmp.file())?;
            } else {
                copy_whole(&src, tmp.file())?;
            }
            let meta = tmp.metadata().map_err(to_io)?;
            tmp.persist(dest).map_err(to_io)?;
            Ok(Some(meta))
        }
    }
}

/// Copies all of `src` into the empty `dest` in the kernel. `std::io::copy`
/// does the same but first stats both files to choose its method: two
/// syscalls of ten per file, on a checkout of 100,000 small files.
fn copy_whole(src: &File, dest: &mut File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut first = true;
    loop {
        // SAFETY: both descriptors are open for the duration of the call;
        // null offsets use and advance the files' own positions.
        let n = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                std::ptr::null_mut(),
                dest.as_raw_fd(),
                std::ptr::null_mut(),
                1 << 30,
                0,
            )
        };
        match n {
            0 => return Ok(()),
            n if n > 0 => first = false,
            _ => {
                let e = std::io::Error::last_os_error();
                let unsupported = matches!(
                    e.raw_os_error(),
                    Some(libc::ENOSYS | libc::EXDEV | libc::EOPNOTSUPP | libc::EINVAL | libc::EPERM)
                );
                if !(first && unsupported) {
                    return Err(e);
                }
                // Not here (an old kernel, another file system): by reading.
                let mut reader = src;
                std::io::copy(&mut reader, dest)?;
                return Ok(());
            }
        }
    }
}

/// Whether `dest` already is the link `kind` would make to `object`: a
/// hard link to the same inode, or a symlink naming the same path.
fn already_linked(kind: LinkType, object: &Path, dest: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if kind == LinkType::Symlink {
        return fs::read_link(dest).is_ok_and(|target| target == object);
    }
    match (fs::symlink_metadata(dest), fs::metadata(object)) {
        (Ok(d), Ok(o)) => d.is_file() && d.ino() == o.ino() && d.dev() == o.dev(),
        _ => false,
    }
}

/// Replaces `dest` (if it exists), atomically, by a private file that
/// `fill` writes (a rebuild from chunks); returns its metadata. Nothing
/// replaces `dest` if `fill` fails.
pub fn write_private(dest: &Path, exec: bool, fill: impl FnOnce(&mut File) -> Result<()>) -> Result<fs::Metadata> {
    let mut tmp = private_temp(dest.parent().unwrap_or(Path::new(".")), exec)?;
    fill(tmp.file())?;
    let meta = tmp.metadata()?;
    tmp.persist(dest)?;
    Ok(meta)
}

fn to_io(e: Error) -> std::io::Error {
    match e {
        Error::Io { source, .. } => source,
        other => std::io::Error::other(other.to_string()),
    }
}

/// Turns a linked workspace file into a private writable copy (`unprotect`).
pub fn unprotect(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).at(path)?;
    let exec = fs::metadata(path).at(path)?.permissions().mode() & 0o100 != 0;
    let linked = meta.file_type().is_symlink() || {
        use std::os::unix::fs::MetadataExt;
        meta.nlink() > 1
    };
    if linked {
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut tmp = private_temp(dir, exec)?;
        let mut src = File::open(path).at(path)?;
        std::io::copy(&mut src, tmp.file()).at(path)?;
        tmp.persist(path)?;
    } else {
        fs::set_permissions(path, Permissions::from_mode(file_mode(exec))).at(path)?;
    }
    Ok(())
}

/// [`unprotect`] for a file, or for every file under a directory (in
/// parallel; symlinked sub-directories are not followed). Returns how many
/// files it handled.
pub fn unprotect_tree(path: &Path) -> Result<u64> {
    use rayon::prelude::*;
    let meta = fs::symlink_metadata(path).at(path)?;
    if !meta.is_dir() {
        unprotect(path)?;
        return Ok(1);
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).at(&dir)? {
            let entry = entry.at(&dir)?;
            let kind = entry.file_type().at(entry.path())?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() || (kind.is_symlink() && entry.path().is_file()) {
                files.push(entry.path());
            }
        }
    }
    files.par_iter().try_for_each(|f| unprotect(f))?;
    Ok(files.len() as u64)
}

/// The link types that work from `cache_dir` into `dir`, tried on a
/// scratch file: each kind that links it.
pub fn probe_links(cache_dir: &Path, dir: &Path) -> Result<Vec<LinkType>> {
    fs::create_dir_all(cache_dir).at(cache_dir)?;
    let src = temp_path(cache_dir);
    fs::write(&src, b"probe").at(&src)?;
    let mut works = Vec::new();
    for kind in [LinkType::Reflink, LinkType::Hardlink, LinkType::Symlink, LinkType::Copy] {
        let dest = temp_path(dir);
        if Linker::new(vec![kind]).link(&src, &dest, false).is_ok() {
            works.push(kind);
        }
        let _ = fs::remove_file(&dest);
    }
    let _ = fs::remove_file(&src);
    Ok(works)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn every_link_type_gives_the_object_content_and_protects_the_cache() {
        let d = tempfile::tempdir().unwrap();
        let obj = d.path().join("obj");
        fs::write(&obj, b"data").unwrap();
        fs::set_permissions(&obj, Permissions::from_mode(0o444)).unwrap();
        for kind in [LinkType::Hardlink, LinkType::Symlink, LinkType::Copy] {
            let dest = d.path().join(kind.name());
            fs::write(&dest, b"old").unwrap();
            let (used, _) = Linker::new(vec![kind]).link(&obj, &dest, false).unwrap();
            assert_eq!(used, kind);
            assert_eq!(fs::read(&dest).unwrap(), b"data");
            unprotect(&dest).unwrap();
            fs::write(&dest, b"edited").unwrap();
            assert_eq!(fs::read(&obj).unwrap(), b"data", "{kind:?} edit reached the cache");
        }
        assert_eq!(fs::metadata(&obj).unwrap().nlink(), 1);
    }

    #[test]
    fn relinking_a_linked_file_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let obj = d.path().join("obj");
        fs::write(&obj, b"data").unwrap();
        let ws = d.path().join("ws");
        fs::create_dir(&ws).unwrap();
        for kind in [LinkType::Hardlink, LinkType::Symlink] {
            let dest = ws.join(kind.name());
            let linker = Linker::new(vec![kind]);
            for _ in 0..3 {
                linker.link(&obj, &dest, false).unwrap();
            }
            // A file linked to another object is replaced, also without a trace.
            let other = d.path().join("other");
            fs::write(&other, b"other").unwrap();
            linker.link(&other, &dest, false).unwrap();
            assert_eq!(fs::read(&dest).unwrap(), b"other");
            linker.link(&obj, &dest, false).unwrap();
            assert_eq!(fs::read(&dest).unwrap(), b"data");
        }
        let mut names: Vec<_> = fs::read_dir(&ws).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["hardlink", "symlink"]);
    }

    #[test]
    fn unsupported_reflink_falls_back_to_copy_once() {
        let d = tempfile::tempdir().unwrap();
        let obj = d.path().join("obj");
        fs::write(&obj, b"x").unwrap();
        let linker = Linker::new(vec![LinkType::Reflink, LinkType::Copy]);
        let (used, _) = linker.link(&obj, &d.path().join("a"), true).unwrap();
        // ext4 and tmpfs refuse FICLONE; XFS/btrfs accept it.
        assert!(matches!(used, LinkType::Reflink | LinkType::Copy));
        assert_eq!(fs::metadata(d.path().join("a")).unwrap().permissions().mode() & 0o100, 0o100);
    }

    #[test]
    fn probing_finds_the_links_this_file_system_makes_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let (cache, ws) = (d.path().join("cache"), d.path().join("ws"));
        fs::create_dir_all(&ws).unwrap();
        let works = probe_links(&cache, &ws).unwrap();
        for kind in [LinkType::Hardlink, LinkType::Symlink, LinkType::Copy] {
            assert!(works.contains(&kind), "{kind:?} in {works:?}");
        }
        assert_eq!(fs::read_dir(&cache).unwrap().count() + fs::read_dir(&ws).unwrap().count(), 0);
    }
}
