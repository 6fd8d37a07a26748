//! File-system primitives: atomic writes and copy-on-write clones.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bale_error::{IoContext, Result};

/// Mode of every object in the store: read-only, which DVC also reads as
/// "already verified".
pub const OBJECT_MODE: u32 = 0o444;

/// Whether something whose mtime is `mtime_ns` could still change within
/// the same timestamp tick, as seen at `reference_ns`, without its mtime
/// moving (git's "racy clean" problem): such a timestamp proves nothing yet.
/// Fine-grained file systems tick every few milliseconds; a timestamp with
/// no sub-second part comes from a coarse one (ext4 with small inodes, FAT,
/// some network file systems), where a tick can be up to two seconds.
pub fn racy(mtime_ns: i64, reference_ns: i64) -> bool {
    const FINE_NS: i64 = 50_000_000;
    const COARSE_NS: i64 = 2_000_000_000;
    let tick = if mtime_ns % 1_000_000_000 == 0 { COARSE_NS } else { FINE_NS };
    mtime_ns + tick > reference_ns
}

/// A file's stat as bale's stat cache keys it: while all three are
/// unchanged, so is the content (unless the file is racy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub inode: u64,
    pub size: u64,
    pub mtime_ns: i64,
}

/// The [`Stat`] of a file's metadata.
pub fn stat_of(meta: &fs::Metadata) -> Stat {
    use std::os::unix::fs::MetadataExt;
    Stat { inode: meta.ino(), size: meta.len(), mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec() }
}

/// A unique hidden temp name in `dir`, `.bale<pid>x<n>x<nanos>.tmp`: the one
/// shape of every temp file bale writes, from Rust or Python (`_core.temp_path`),
/// which [`temp_owner`] recognises. Like DVC's (`.<random>.tmp`) it is hidden,
/// so either tool passes over leftovers of an interrupted write.
pub fn temp_path(dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    dir.join(format!(".bale{}x{n}x{nanos:x}.tmp", std::process::id()))
}

/// The pid of the bale process that made a temp file, from its name.
///
/// Names of exactly the shape bale writes are bale's, whichever process made
/// them (`.bale<pid>x<tag>.tmp`, the tag of hex digits and `x`, as
/// [`temp_path`] spells them for Rust and Python alike): no walk ever takes
/// one for data, and a sweep may remove it once its writer is gone.
pub fn temp_owner(name: &str) -> Option<u32> {
    let (pid, tag) = name.strip_prefix(".bale")?.strip_suffix(".tmp")?.split_once('x')?;
    let digits = |s: &str, ok: fn(&u8) -> bool| !s.is_empty() && s.as_bytes().iter().all(ok);
    if !digits(pid, u8::is_ascii_digit) || !digits(tag, |b| b.is_ascii_hexdigit() || *b == b'x') {
        return None;
    }
    pid.parse().ok()
}

/// Whether the process `pid` is running (always true where `/proc` is
/// missing: nothing is then taken for abandoned).
pub fn pid_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists() || !Path::new("/proc/self").exists()
}

/// Whether `name` is a temp file whose bale writer is no longer running
/// (killed): nobody will publish or remove it but a sweep.
pub fn abandoned_temp(name: &str) -> bool {
    temp_owner(name).is_some_and(|pid| !pid_alive(pid))
}

/// How long an abandoned temp file must have been left untouched before a
/// sweep that cannot be sure its writer ran on this machine removes it. A
/// pid says nothing about a writer in another pid namespace or on another
/// host (a container, a cache on NFS), but such a writer touches its temp as
/// it writes. The sweep after a writer of this repository was killed (see
/// `bale.recovery`) waits for nothing.
pub const QUIET_FOR: std::time::Duration = std::time::Duration::from_secs(3600);

/// Whether the temp file `path` (named `name`) is [abandoned](abandoned_temp)
/// and was last modified at least `quiet` ago.
pub fn sweepable(path: &Path, name: &str, quiet: std::time::Duration) -> bool {
    abandoned_temp(name) && (quiet.is_zero() || untouched_for(path, quiet))
}

/// Removes the [sweepable](sweepable) temp files in `dir`, and with
/// `recursive` in every directory below it (symlinks are not followed).
/// Returns the paths removed. A directory that cannot be read is passed over:
/// a sweep tidies, it never fails the command that runs it.
pub fn sweep_temps(dir: &Path, recursive: bool, quiet: std::time::Duration) -> Vec<PathBuf> {
    find_temps(dir, recursive, &|path, name| sweepable(path, name, quiet))
        .into_iter()
        .filter(|(path, _)| fs::remove_file(path).is_ok())
        .map(|(path, _)| path)
        .collect()
}

/// Temp files of bale's under `root` (a folder remote, which other hosts may
/// write to: a pid says nothing there) left untouched for at least `quiet`,
/// with their sizes. A writer touches its temp as it writes, so these are
/// leftovers of killed pushes.
pub fn quiet_temps(root: &Path, quiet: std::time::Duration) -> Vec<(PathBuf, u64)> {
    find_temps(root, true, &|path, name| temp_owner(name).is_some() && untouched_for(path, quiet))
}

fn untouched_for(path: &Path, quiet: std::time::Duration) -> bool {
    fs::symlink_metadata(path).and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= quiet))
}

/// The files in `dir` (and below, with `recursive`; never `.git` or `.dvc`)
/// that `take` accepts by path and name, with their sizes.
pub(crate) fn find_temps(
    dir: &Path,
    recursive: bool,
    take: &(dyn Fn(&Path, &str) -> bool + Sync),
) -> Vec<(PathBuf, u64)> {
    use rayon::prelude::*;
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut found = Vec::new();
    let mut subdirs = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            if recursive && !matches!(&*name, ".git" | ".dvc") {
                subdirs.push(entry.path());
            }
        } else if take(&entry.path(), &name) {
            found.push((entry.path(), entry.metadata().map(|m| m.len()).unwrap_or(0)));
        }
    }
    let nested: Vec<Vec<(PathBuf, u64)>> = subdirs.par_iter().map(|d| find_temps(d, true, take)).collect();
    found.extend(nested.into_iter().flatten());
    found
}

/// The process umask, read once.
pub fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        // SAFETY: umask has no memory effects; it is set back at once.
        let m = unsafe { libc::umask(0o022) };
        unsafe { libc::umask(m) };
        m as u32
    })
}

/// A temp file that is removed unless it is renamed into place. It is
/// created with its final mode, so publishing it is a single rename.
pub struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    /// A writable temp file that will be published read-only ([`OBJECT_MODE`]).
    pub fn create_in(dir: &Path) -> Result<Self> {
        Self::create_with_mode(dir, OBJECT_MODE, true)
    }

    /// A temp file with `mode`; `exact` forces the mode past the umask (cache
    /// objects must be 0444 whatever the umask), otherwise the umask applies
    /// as it does to any file the user creates.
    pub fn create_with_mode(dir: &Path, mode: u32, exact: bool) -> Result<Self> {
        Self::create(dir, mode, exact, false)
    }

    /// [`create_in`](Self::create_in), also open for reading back what was
    /// written (a download hashed as it lands).
    pub fn create_readable_in(dir: &Path) -> Result<Self> {
        Self::create(dir, OBJECT_MODE, true, true)
    }

    fn create(dir: &Path, mode: u32, exact: bool, read: bool) -> Result<Self> {
        let path = temp_path(dir);
        let open = || OpenOptions::new().read(read).write(true).create_new(true).mode(mode).open(&path);
        let file = match open() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir).at(dir)?;
                open().at(&path)?
            }
            other => other.at(&path)?,
        };
        let tmp = TempFile { path, file: Some(file) };
        if exact && mode & !umask() != mode {
            tmp.handle().set_permissions(Permissions::from_mode(mode)).at(&tmp.path)?;
        }
        crate::failpoint::reached("temp");
        Ok(tmp)
    }

    /// Takes charge of a file someone else wrote at `path` (a download): it
    /// is removed unless published.
    pub fn adopt(path: PathBuf) -> Self {
        TempFile { path, file: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("temp file is open until persisted")
    }

    /// The open file, for positioned writes from several threads.
    pub fn handle(&self) -> &File {
        self.file.as_ref().expect("temp file is open until persisted")
    }

    pub fn write_all(&mut self, data: &[u8]) -> Result<()> {
        let path = self.path.clone();
        self.file().write_all(data).at(path)
    }

    /// The file's metadata now (it keeps its inode and mtime when renamed).
    pub fn metadata(&mut self) -> Result<fs::Metadata> {
        let path = self.path.clone();
        self.file().metadata().at(path)
    }

    /// Renames over `dest`.
    pub fn persist(mut self, dest: &Path) -> Result<()> {
        drop(self.file.take());
        fs::rename(&self.path, dest).at(dest)?;
        self.path = PathBuf::new();
        Ok(())
    }

    /// Like [`persist`](Self::persist) but keeps an existing `dest` untouched
    /// (first writer wins, without a check-then-rename race); returns whether
    /// the temp was the one that landed.
    pub fn persist_new(mut self, dest: &Path) -> Result<bool> {
        drop(self.file.take());
        match rename_noreplace(&self.path, dest) {
            Ok(()) => {
                self.path = PathBuf::new();
                return Ok(true);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) if !link_unsupported(&e) => return Err(bale_error::Error::io(dest, e)),
            Err(_) => {}
        }
        // No RENAME_NOREPLACE here: a hard link also fails if dest exists.
        match fs::hard_link(&self.path, dest) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) if link_unsupported(&e) => {
                if dest.exists() {
                    return Ok(false);
                }
                fs::rename(&self.path, dest).at(dest)?;
                self.path = PathBuf::new();
                Ok(true)
            }
            Err(e) => Err(bale_error::Error::io(dest, e)),
        }
    }
}

#[cfg(target_os = "linux")]
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let from = CString::new(from.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let to = CString::new(to.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both are valid NUL-terminated paths for the duration of the call.
    let rc =
        unsafe { libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::RENAME_NOREPLACE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn rename_noreplace(_from: &Path, _to: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

impl Drop for TempFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The errors that mean "this kind of link is not possible here", after which
/// the next link type is tried (dvc-objects does the same).
pub fn link_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPERM)
            | Some(libc::ENOTSUP)
            | Some(libc::EXDEV)
            | Some(libc::ENOTTY)
            | Some(libc::ENOSYS)
            | Some(libc::EINVAL)
            | Some(libc::EAGAIN)
            | Some(libc::EMLINK)
    ) || e.kind() == io::ErrorKind::Unsupported
}

/// Clones `src` into the open file `dest` with FICLONE: no data is copied and
/// the two files share blocks until one is written.
#[cfg(target_os = "linux")]
pub fn clone_into(src: &File, dest: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // FICLONE = _IOW(0x94, 9, int)
    const FICLONE: libc::c_ulong = 0x4004_9409;
    // SAFETY: both descriptors are open for the duration of the call and
    // FICLONE reads only the integer argument.
    let rc = unsafe { libc::ioctl(dest.as_raw_fd(), FICLONE as _, src.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub fn clone_into(_src: &File, _dest: &File) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Writes `data` to `dest` atomically (temp file, rename) with `mode`.
pub fn write_atomic(dest: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = TempFile::create_with_mode(dir, mode, true)?;
    tmp.write_all(data)?;
    tmp.persist(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_temp_files_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut t = TempFile::create_in(dir.path()).unwrap();
            t.write_all(b"partial").unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn persist_new_never_replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("obj");
        fs::write(&dest, b"first").unwrap();
        let mut t = TempFile::create_in(dir.path()).unwrap();
        t.write_all(b"second").unwrap();
        assert!(!t.persist_new(&dest).unwrap());
        assert_eq!(fs::read(&dest).unwrap(), b"first");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

/// Reads byte ranges of files, keeping the last file open: the chunks of a
/// large file are read one after the other from the same object or range.
#[derive(Default)]
pub struct RangeReader {
    open: std::cell::RefCell<Option<(PathBuf, File)>>,
}

impl RangeReader {
    /// Replaces `buf` with bytes `offset..offset + len` of `path`. A file
    /// shorter than that gives fewer bytes (which fail any verification);
    /// a missing file is `NotFound`.
    pub fn read(&self, path: &Path, offset: u64, len: u64, buf: &mut Vec<u8>) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut open = self.open.borrow_mut();
        let file = match open.take() {
            Some((p, f)) if p == path => f,
            _ => File::open(path)?,
        };
        let file = &open.insert((path.to_path_buf(), file)).1;
        buf.resize(len as usize, 0);
        let mut done = 0;
        while done < buf.len() {
            match file.read_at(&mut buf[done..], offset + done as u64)? {
                0 => break,
                n => done += n,
            }
        }
        buf.truncate(done);
        Ok(())
    }
}
