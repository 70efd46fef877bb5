//! Atomic, change-only file writes for published documents.
//!
//! A reader (the HTTP server, a web server, a subscriber's tool) must never
//! see a half-written document, and an unchanged document must keep its
//! bytes and mtime so conditional requests keep answering 304. A publish
//! stages every changed document in a temporary file beside its target,
//! makes them all durable with one filesystem sync, then renames them into
//! place and syncs again: two syncs per publish instead of two per file,
//! which is what makes publishing hundreds of per-partner feeds cheap.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Documents staged by one publish, made visible together by [`Batch::commit`].
/// Dropping an uncommitted batch removes its temporary files. Several
/// threads may stage into one batch (each document is written by one).
#[derive(Debug, Default)]
pub struct Batch {
    staged: Mutex<Vec<(PathBuf, PathBuf)>>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stages `bytes` for `path` unless the file already holds exactly them;
    /// returns whether it will change.
    pub fn stage(&self, path: &Path, bytes: &[u8]) -> io::Result<bool> {
        match fs::read(path) {
            Ok(existing) if existing == bytes => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // A dot name: never served, never mistaken for a document.
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut file = fs::File::create(&tmp)?;
        self.staged.lock().unwrap_or_else(PoisonError::into_inner).push((tmp, path.to_owned()));
        file.write_all(bytes)?;
        Ok(true)
    }

    /// Makes every staged document durable, then visible under its name.
    pub fn commit(mut self) -> io::Result<()> {
        let staged = self.staged.get_mut().unwrap_or_else(PoisonError::into_inner);
        let Some((first, _)) = staged.first() else { return Ok(()) };
        sync_data(first, staged)?;
        for (tmp, path) in staged.iter() {
            fs::rename(tmp, path)?;
        }
        let staged = std::mem::take(staged);
        // The renames themselves must reach the disk to survive a power loss.
        sync_names(&staged)
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        for (tmp, _) in self.staged.get_mut().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Writes one document atomically, unless it already holds `bytes`.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let batch = Batch::new();
    let changed = batch.stage(path, bytes)?;
    batch.commit()?;
    Ok(changed)
}

/// One `syncfs` flushes every staged file of the filesystem at once.
#[cfg(target_os = "linux")]
fn sync_data(any: &Path, _staged: &[(PathBuf, PathBuf)]) -> io::Result<()> {
    syncfs(any)
}

#[cfg(target_os = "linux")]
fn sync_names(staged: &[(PathBuf, PathBuf)]) -> io::Result<()> {
    match staged.first() {
        Some((_, path)) => syncfs(path),
        None => Ok(()),
    }
}

#[cfg(target_os = "linux")]
fn syncfs(on: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = fs::File::open(on)?;
    // SAFETY: `syncfs` only reads the descriptor, which `file` keeps open
    // for the duration of the call.
    let rc = unsafe { libc::syncfs(file.as_raw_fd()) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Elsewhere: one fsync per file and per directory.
#[cfg(not(target_os = "linux"))]
fn sync_data(_any: &Path, staged: &[(PathBuf, PathBuf)]) -> io::Result<()> {
    staged.iter().try_for_each(|(tmp, _)| fs::File::open(tmp)?.sync_all())
}

#[cfg(not(target_os = "linux"))]
fn sync_names(staged: &[(PathBuf, PathBuf)]) -> io::Result<()> {
    let dirs: std::collections::BTreeSet<&Path> = staged.iter().filter_map(|(_, p)| p.parent()).collect();
    for dir in dirs {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn unchanged_content_keeps_mtime_and_changed_content_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/feed.xml");
        assert!(write_if_changed(&path, b"one").unwrap());
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(!write_if_changed(&path, b"one").unwrap());
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        assert!(write_if_changed(&path, b"two").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"two");
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn staged_documents_appear_only_on_commit_and_vanish_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.xml"), dir.path().join("t/b.xml"));
        let batch = Batch::new();
        assert!(batch.stage(&a, b"A").unwrap());
        assert!(batch.stage(&b, b"B").unwrap());
        assert!(!a.exists() && !b.exists(), "nothing visible before commit");
        batch.commit().unwrap();
        assert_eq!((fs::read(&a).unwrap(), fs::read(&b).unwrap()), (b"A".to_vec(), b"B".to_vec()));

        let batch = Batch::new();
        assert!(batch.stage(&a, b"A2").unwrap());
        drop(batch);
        assert_eq!(fs::read(&a).unwrap(), b"A", "a dropped batch changes nothing");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2, "and leaves no temporary file");
    }
}
