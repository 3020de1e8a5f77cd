//! A log file that rotates itself the way upstream's audit log does (the
//! lumberjack logger): a write that would take the file past its maximum
//! size first renames it to `<name>-<UTC time>.<ext>` (time as
//! `2006-01-02T15-04-05.000`) and starts a new one; then backups beyond
//! the count to keep or older than the age limit are removed, and the rest
//! optionally gzip-compressed. Cleanup runs right after each rotation.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// lumberjack's size when none is given: 100 MB.
pub const DEFAULT_MAX_MB: u64 = 100;
const MEGABYTE: u64 = 1024 * 1024;
/// `2006-01-02T15-04-05.000`.
const STAMP_LEN: usize = 23;

/// Limits of a rotating file, as upstream's `--audit-log-max*` flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Megabytes before rotating (0: lumberjack's default, 100).
    pub max_size_mb: u64,
    /// Backups to keep (0: all).
    pub max_backups: usize,
    /// Days to keep backups (0: forever).
    pub max_age_days: u64,
    /// Gzip backups.
    pub compress: bool,
}

/// A file written in appends that rotates at its size limit.
pub struct RotatingFile {
    path: PathBuf,
    limits: Rotation,
    file: Option<File>,
    size: u64,
}

impl RotatingFile {
    /// Creates the directory and the file (mode 0600) if missing, as
    /// upstream checks the path at start.
    pub fn open(path: &Path, limits: Rotation) -> io::Result<RotatingFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(RotatingFile {
            path: path.to_path_buf(),
            limits,
            file: None,
            size: 0,
        })
    }

    fn max(&self) -> u64 {
        match self.limits.max_size_mb {
            0 => DEFAULT_MAX_MB * MEGABYTE,
            n => n.saturating_mul(MEGABYTE),
        }
    }

    /// Opens the current file for appending, rotating first when this
    /// write would not fit.
    fn open_existing(&mut self, write_len: u64) -> io::Result<()> {
        let size = match fs::metadata(&self.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return self.open_new(),
            Err(e) => return Err(e),
        };
        if size + write_len >= self.max() {
            return self.rotate();
        }
        match OpenOptions::new().append(true).open(&self.path) {
            Ok(f) => {
                self.file = Some(f);
                self.size = size;
                Ok(())
            }
            Err(_) => self.open_new(),
        }
    }

    /// Moves the current file aside (when there is one) and starts anew.
    fn open_new(&mut self) -> io::Result<()> {
        let mut mode = 0o600;
        if let Ok(m) = fs::metadata(&self.path) {
            mode = m.permissions().mode() & 0o777;
            fs::rename(&self.path, self.backup_name(SystemTime::now()))?;
        }
        let f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(mode)
            .open(&self.path)?;
        self.file = Some(f);
        self.size = 0;
        Ok(())
    }

    /// Closes, renames and reopens the file, then removes old backups.
    pub fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        self.open_new()?;
        self.clean_up();
        Ok(())
    }

    fn split_name(&self) -> (PathBuf, String, String) {
        let dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let file = self
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (prefix, ext) = match file.rfind('.') {
            Some(i) if i > 0 => (file[..i].to_string(), file[i..].to_string()),
            _ => (file.clone(), String::new()),
        };
        (dir, prefix, ext)
    }

    fn backup_name(&self, t: SystemTime) -> PathBuf {
        let (dir, prefix, ext) = self.split_name();
        dir.join(format!("{prefix}-{}{ext}", stamp(t)))
    }

    /// Backups as (file name, its time), newest first.
    pub fn backups(&self) -> Vec<(PathBuf, String)> {
        let (dir, prefix, ext) = self.split_name();
        let dir_path = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.clone()
        };
        let Ok(entries) = fs::read_dir(&dir_path) else {
            return Vec::new();
        };
        let head = format!("{prefix}-");
        let mut out: Vec<(PathBuf, String)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let rest = name.strip_prefix(&head)?;
                let stem = rest.strip_suffix(".gz").unwrap_or(rest);
                let ts = stem.strip_suffix(ext.as_str())?;
                (ts.len() == STAMP_LEN && stamp_secs(ts).is_some())
                    .then(|| (dir.join(&name), ts.to_string()))
            })
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Removes backups beyond the count and age limits; compresses the rest
    /// when asked. A compressed and an uncompressed copy count once.
    fn clean_up(&self) {
        let mut files = self.backups();
        let mut remove = Vec::new();
        if self.limits.max_backups > 0 {
            let mut kept_stamps: Vec<String> = Vec::new();
            let mut remaining = Vec::new();
            for f in files {
                if !kept_stamps.contains(&f.1) {
                    kept_stamps.push(f.1.clone());
                }
                if kept_stamps.len() > self.limits.max_backups {
                    remove.push(f);
                } else {
                    remaining.push(f);
                }
            }
            files = remaining;
        }
        if self.limits.max_age_days > 0 {
            let now = kaiser_apimachinery::time::now_unix();
            let cutoff = now - (self.limits.max_age_days as i64).saturating_mul(86_400);
            let (old, young): (Vec<_>, Vec<_>) = files
                .into_iter()
                .partition(|f| stamp_secs(&f.1).is_some_and(|s| s < cutoff));
            remove.extend(old);
            files = young;
        }
        for (path, _) in &remove {
            if let Err(e) = fs::remove_file(path) {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove an old audit log backup");
            }
        }
        if self.limits.compress {
            for (path, _) in files
                .iter()
                .filter(|f| f.0.extension().is_none_or(|e| e != "gz"))
            {
                if let Err(e) = compress(path) {
                    tracing::warn!(file = %path.display(), error = %e, "cannot compress an audit log backup");
                }
            }
        }
    }
}

impl Write for RotatingFile {
    fn write(&mut self, p: &[u8]) -> io::Result<usize> {
        let len = p.len() as u64;
        if len > self.max() {
            return Err(io::Error::other(format!(
                "write length {len} exceeds maximum file size {}",
                self.max()
            )));
        }
        if self.file.is_none() {
            self.open_existing(len)?;
        }
        if self.size + len > self.max() {
            self.rotate()?;
        }
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("audit log file is not open"))?;
        let n = f.write(p)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// `2006-01-02T15-04-05.000` in UTC.
fn stamp(t: SystemTime) -> String {
    let micro = super::event::micro_time(t);
    micro[..STAMP_LEN].replace(':', "-")
}

fn stamp_secs(ts: &str) -> Option<i64> {
    let (date, time) = ts.split_at_checked(11)?;
    kaiser_apimachinery::time::parse_rfc3339(&format!("{date}{}Z", time.replace('-', ":")))
}

fn compress(path: &Path) -> io::Result<()> {
    let mut gz_name = path.as_os_str().to_owned();
    gz_name.push(".gz");
    let mode = fs::metadata(path)?.permissions().mode() & 0o777;
    let out = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(mode)
        .open(&gz_name)?;
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    io::copy(&mut File::open(path)?, &mut enc)?;
    enc.finish()?.sync_all()?;
    fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn rotates_past_the_limit_and_keeps_max_backups() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("logs/audit.log");
        let mut f = RotatingFile::open(
            &path,
            Rotation {
                max_size_mb: 1,
                max_backups: 2,
                ..Rotation::default()
            },
        )
        .expect("open");
        assert!(path.is_file(), "created at open");
        let chunk = vec![b'x'; 400 * 1024];
        for _ in 0..2 {
            f.write_all(&chunk).expect("write");
        }
        assert_eq!(names(path.parent().expect("dir")).len(), 1, "800 KiB fit");
        f.write_all(&chunk).expect("write");
        let after_one = names(path.parent().expect("dir"));
        assert_eq!(after_one.len(), 2, "{after_one:?}");
        let backup = after_one
            .iter()
            .find(|n| *n != "audit.log")
            .expect("backup");
        assert!(
            backup.starts_with("audit-") && backup.ends_with(".log"),
            "{backup}"
        );
        assert_eq!(backup.len(), "audit-".len() + STAMP_LEN + ".log".len());
        assert_eq!(
            fs::metadata(path.parent().expect("dir").join(backup))
                .expect("meta")
                .len(),
            800 * 1024
        );
        assert_eq!(fs::metadata(&path).expect("meta").len(), 400 * 1024);
        // Many more rotations: never more than two backups.
        for _ in 0..8 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            f.write_all(&chunk).expect("write");
            f.write_all(&chunk).expect("write");
        }
        let all = names(path.parent().expect("dir"));
        assert_eq!(all.len(), 3, "current + 2 backups: {all:?}");
        // A write larger than the limit is refused.
        let huge = vec![b'y'; 2 * 1024 * 1024];
        let e = f.write(&huge).expect_err("too big");
        assert_eq!(
            e.to_string(),
            "write length 2097152 exceeds maximum file size 1048576"
        );
    }

    #[test]
    fn an_existing_full_file_rotates_on_first_write_and_old_backups_age_out() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("audit");
        fs::write(&path, vec![b'a'; 1024 * 1024 - 10]).expect("seed");
        let old = tmp.path().join("audit-2001-01-01T00-00-00.000");
        fs::write(&old, b"old").expect("old backup");
        let unrelated = tmp.path().join("audit-notastamp");
        fs::write(&unrelated, b"x").expect("other");
        let mut f = RotatingFile::open(
            &path,
            Rotation {
                max_size_mb: 1,
                max_age_days: 1,
                compress: true,
                ..Rotation::default()
            },
        )
        .expect("open");
        f.write_all(b"0123456789abcdef").expect("write");
        let all = names(tmp.path());
        assert!(
            !all.contains(&"audit-2001-01-01T00-00-00.000".to_string()),
            "{all:?}"
        );
        assert!(all.contains(&"audit-notastamp".to_string()));
        let gz: Vec<_> = all.iter().filter(|n| n.ends_with(".gz")).collect();
        assert_eq!(gz.len(), 1, "{all:?}");
        assert_eq!(fs::read(&path).expect("current"), b"0123456789abcdef");
        assert_eq!(f.backups().len(), 1);
    }

    #[test]
    fn stamps_round_trip() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        assert_eq!(stamp(t), "2023-11-14T22-13-20.123");
        assert_eq!(stamp_secs("2023-11-14T22-13-20.123"), Some(1_700_000_000));
        assert_eq!(stamp_secs("garbage"), None);
    }
}
