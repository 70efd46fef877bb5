//! Atomic, change-only file writes for published documents.
//!
//! A reader (the HTTP server, a web server, a subscriber's tool) must never
//! see a half-written document, and an unchanged document must keep its
//! bytes and mtime so conditional requests keep answering 304.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` unless it already holds exactly them; returns
/// whether the file was written. The new content goes to a temporary file in
/// the same directory, is flushed to disk, then renamed over the old one.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    match fs::read(path) {
        Ok(existing) if existing == bytes => return Ok(false),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename itself must reach the disk for the new name to survive a crash.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| true)
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
}
