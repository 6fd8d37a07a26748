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

/// A unique hidden temp name in `dir`, shaped like DVC's (`.<random>.tmp`) so
/// that either tool recognises leftovers of an interrupted write.
pub fn temp_path(dir: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    dir.join(format!(".bale{}x{n}x{nanos:x}.tmp", std::process::id()))
}

/// A temp file that is removed unless it is renamed into place.
pub struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    pub fn create_in(dir: &Path) -> Result<Self> {
        let path = temp_path(dir);
        let file = match OpenOptions::new().write(true).create_new(true).mode(0o644).open(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir).at(dir)?;
                OpenOptions::new().write(true).create_new(true).mode(0o644).open(&path).at(&path)?
            }
            other => other.at(&path)?,
        };
        Ok(TempFile { path, file: Some(file) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("temp file is open until persisted")
    }

    pub fn write_all(&mut self, data: &[u8]) -> Result<()> {
        let path = self.path.clone();
        self.file().write_all(data).at(path)
    }

    /// Sets the mode and renames over `dest`.
    pub fn persist(mut self, dest: &Path, mode: u32) -> Result<()> {
        drop(self.file.take());
        fs::set_permissions(&self.path, Permissions::from_mode(mode)).at(&self.path)?;
        fs::rename(&self.path, dest).at(dest)?;
        self.path = PathBuf::new();
        Ok(())
    }

    /// Like [`persist`](Self::persist) but keeps an existing `dest` untouched;
    /// returns whether the temp was the one that landed.
    pub fn persist_new(mut self, dest: &Path, mode: u32) -> Result<bool> {
        drop(self.file.take());
        fs::set_permissions(&self.path, Permissions::from_mode(mode)).at(&self.path)?;
        // A hard link fails if dest exists, which makes the publish
        // first-writer-wins without a check-then-rename race.
        let landed = match fs::hard_link(&self.path, dest) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) if link_unsupported(&e) => {
                if dest.exists() {
                    false
                } else {
                    fs::rename(&self.path, dest).at(dest)?;
                    self.path = PathBuf::new();
                    return Ok(true);
                }
            }
            Err(e) => return Err(bale_error::Error::io(dest, e)),
        };
        Ok(landed)
    }
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
    let mut tmp = TempFile::create_in(dir)?;
    tmp.write_all(data)?;
    tmp.persist(dest, mode)
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
        assert!(!t.persist_new(&dest, OBJECT_MODE).unwrap());
        assert_eq!(fs::read(&dest).unwrap(), b"first");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
