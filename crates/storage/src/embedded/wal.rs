//! The embedded store's write-ahead log: framed records appended to one
//! file, replayed at start, synced in groups by one flusher thread.
//!
//! Frame: `len u32 | crc32 u32 | payload`, little endian. A torn tail (a
//! crash mid-append: a cut frame, zeros, garbage with no intact frame after
//! it) ends replay and is cut off. A damaged frame with intact ones after
//! it is not a crash's doing, and those frames were acknowledged: the log is
//! refused, as etcd refuses a WAL damaged before its last record.
//!
//! The file runs ahead of its frames with zeros the flusher wrote itself
//! ([`reserve`]): a sync of frames written over space that is already
//! allocated and sized writes no file-system metadata, which on ext4 made
//! each sync about a third cheaper in time and in kernel CPU. Zeros after
//! the last frame are that space, not damage; a clean close cuts them off.
//! Writes are logged in revision order, so replay ends at an intact frame
//! out of order too (stale bytes, not this log's).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use bytes::Bytes;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_COMPACT: u8 = 3;
const OP_REVISION: u8 = 4;
/// A put of a key that expires: as `OP_PUT`, with its deadline after the version.
const OP_PUT_EXPIRING: u8 = 5;

/// One logged change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Put {
        rev: i64,
        create_rev: i64,
        version: i64,
        key: String,
        value: Bytes,
        /// When the key expires (Unix milliseconds), if it does.
        expires: Option<i64>,
    },
    Delete {
        rev: i64,
        key: String,
    },
    Compact {
        rev: i64,
    },
    /// The current revision, written at the head of a rewritten log.
    Revision {
        rev: i64,
    },
}

impl Record {
    /// Appends this record's frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0; 8]);
        match self {
            Record::Put {
                rev,
                create_rev,
                version,
                key,
                value,
                expires,
            } => {
                out.push(if expires.is_some() {
                    OP_PUT_EXPIRING
                } else {
                    OP_PUT
                });
                out.extend_from_slice(&rev.to_le_bytes());
                out.extend_from_slice(&create_rev.to_le_bytes());
                out.extend_from_slice(&version.to_le_bytes());
                if let Some(at) = expires {
                    out.extend_from_slice(&at.to_le_bytes());
                }
                put_bytes(out, key.as_bytes());
                out.extend_from_slice(value);
            }
            Record::Delete { rev, key } => {
                out.push(OP_DELETE);
                out.extend_from_slice(&rev.to_le_bytes());
                put_bytes(out, key.as_bytes());
            }
            Record::Compact { rev } => {
                out.push(OP_COMPACT);
                out.extend_from_slice(&rev.to_le_bytes());
            }
            Record::Revision { rev } => {
                out.push(OP_REVISION);
                out.extend_from_slice(&rev.to_le_bytes());
            }
        }
        let payload = &out[start + 8..];
        let len = payload.len() as u32;
        let crc = crc32fast::hash(payload);
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    fn decode(p: &[u8]) -> Option<Record> {
        let (&op, rest) = p.split_first()?;
        let mut r = Reader(rest);
        Some(match op {
            OP_PUT | OP_PUT_EXPIRING => {
                let rev = r.i64()?;
                let create_rev = r.i64()?;
                let version = r.i64()?;
                let expires = if op == OP_PUT_EXPIRING {
                    Some(r.i64()?)
                } else {
                    None
                };
                let key = r.string()?;
                Record::Put {
                    rev,
                    create_rev,
                    version,
                    key,
                    value: Bytes::copy_from_slice(r.0),
                    expires,
                }
            }
            OP_DELETE => {
                let rev = r.i64()?;
                Record::Delete {
                    rev,
                    key: r.string()?,
                }
            }
            OP_COMPACT => Record::Compact { rev: r.i64()? },
            OP_REVISION => Record::Revision { rev: r.i64()? },
            _ => return None,
        })
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// Opens (creating if needed) the log at `path`, returns the file, its
/// records and where its frames end (the next frame's offset); a torn tail
/// is truncated, damage before intact records is an error that says how to
/// start anyway.
pub fn open(path: &Path) -> io::Result<(File, Vec<Record>, u64)> {
    // A rewrite cut short by a crash: the log it was to replace is intact.
    match std::fs::remove_file(temp_path(path)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let created = !path.try_exists()?;
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    if created {
        // Synced data is lost with its file if the new name (or the new
        // directory holding it) is not durable too.
        let dir = path.parent().unwrap_or(Path::new(""));
        sync_dir(dir)?;
        if let Some(up) = dir.parent() {
            sync_dir(up)?;
        }
    }
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let (records, good, high) = parse(&buf);
    // Past the last non-zero byte lies only reserved space.
    let data_end = good + last_non_zero(&buf[good..]);
    if good < data_end {
        if let Some(next) = next_frame(&buf, good, data_end, high) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the store log {path} is damaged at byte {good} of {len}: the record there \
                     fails its checks, and intact records follow from byte {next}. They were \
                     acknowledged, so kaiser does not drop them. Keep a copy of the log; to start \
                     with the {n} records before the damage, cut it there: truncate -s {good} {path}",
                    path = path.display(),
                    len = buf.len(),
                    n = records.len(),
                ),
            ));
        }
        tracing::warn!(
            path = %path.display(),
            dropped_bytes = buf.len() - good,
            "store log has a torn tail (crash during a write); truncating it"
        );
        f.set_len(good as u64)?;
        f.sync_all()?;
    }
    Ok((f, records, good as u64))
}

/// The length of `buf` without its trailing zeros.
fn last_non_zero(buf: &[u8]) -> usize {
    const BLOCK: usize = 4096;
    let full = buf.len() / BLOCK * BLOCK;
    if let Some(i) = buf[full..].iter().rposition(|&b| b != 0) {
        return full + i + 1;
    }
    // Whole blocks of zeros are skipped a block at a time.
    match buf[..full]
        .chunks_exact(BLOCK)
        .rposition(|c| c.iter().any(|&b| b != 0))
    {
        Some(c) => {
            let block = &buf[c * BLOCK..(c + 1) * BLOCK];
            c * BLOCK + block.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1)
        }
        None => 0,
    }
}

/// The step [`reserve`] grows the log by: it keeps the file's length a
/// multiple of this, so up to this much lies ahead of the frames.
pub const RESERVE_BYTES: u64 = 256 << 10;

/// Makes the log at least `end` bytes long by writing zeros from `from`
/// (its current length) up to the next multiple of [`RESERVE_BYTES`];
/// returns the new length. The next sync makes the space durable.
pub fn reserve(file: &File, from: u64, end: u64) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let to = end.next_multiple_of(RESERVE_BYTES);
    let mut at = from;
    while at < to {
        let n = (to - at).min(ZEROS.len() as u64);
        file.write_all_at(&ZEROS[..n as usize], at)?;
        at += n;
    }
    Ok(to)
}

/// Parses frames; returns the records, the length of the valid prefix and
/// the newest revision in it.
pub fn parse(buf: &[u8]) -> (Vec<Record>, usize, i64) {
    let mut records = Vec::new();
    let (mut pos, mut high) = (0, 0);
    while let Some((rec, next)) = frame_at(buf, pos) {
        let Some(h) = in_order(&rec, high) else { break };
        records.push(rec);
        (pos, high) = (next, h);
    }
    (records, pos, high)
}

/// The newest revision once `rec` follows records up to `high`, or `None`
/// when it cannot follow them: writes are logged in revision order (a
/// snapshot's head included), so an intact frame out of order is stale
/// bytes, such as an older log's that a crash exposed in space the file
/// had grown into before its own bytes reached the disk.
fn in_order(rec: &Record, high: i64) -> Option<i64> {
    match *rec {
        Record::Put { rev, .. } | Record::Delete { rev, .. } => (rev > high).then_some(rev),
        Record::Revision { rev } => (rev >= high).then_some(rev),
        Record::Compact { rev } => (rev <= high).then_some(high),
    }
}

/// The intact frame at `pos` (checksum matches, record decodes) and the
/// offset after it.
fn frame_at(buf: &[u8], pos: usize) -> Option<(Record, usize)> {
    let head = buf.get(pos..pos.checked_add(8)?)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let end = (pos + 8).checked_add(len)?;
    let payload = buf.get(pos + 8..end)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    Some((Record::decode(payload)?, end))
}

/// Where the first intact write newer than `high` after the damage at
/// `from` starts, if one does before `until` (only read when the log does
/// not parse to its end; a frame of zeros is never intact, so none starts
/// in trailing zeros). Only a write is evidence of acknowledged records:
/// losing a compaction loses no data.
fn next_frame(buf: &[u8], from: usize, until: usize, high: i64) -> Option<usize> {
    (from + 1..until).find(|&p| {
        frame_at(buf, p).is_some_and(|(rec, _)| {
            matches!(rec, Record::Put { .. } | Record::Delete { .. })
                && in_order(&rec, high).is_some()
        })
    })
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// Where [`rewrite`] writes the new log before it replaces the old one.
fn temp_path(path: &Path) -> std::path::PathBuf {
    path.with_extension("log.tmp")
}

/// Writes `records` to a fresh log at `path` atomically (temp file, sync, rename).
pub fn rewrite(path: &Path, records: &[Record]) -> io::Result<File> {
    let tmp = temp_path(path);
    let mut buf = Vec::new();
    for r in records {
        r.encode_into(&mut buf);
    }
    let written = File::create(&tmp)
        .and_then(|mut f| f.write_all(&buf).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        // A disk too full for the copy should not keep what did fit.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    OpenOptions::new().read(true).write(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_torn_tail_is_dropped() {
        let recs = vec![
            Record::Put {
                rev: 1,
                create_rev: 1,
                version: 1,
                key: "/a".into(),
                value: Bytes::from_static(b"xyz"),
                expires: None,
            },
            Record::Put {
                rev: 2,
                create_rev: 2,
                version: 1,
                key: "/e".into(),
                value: Bytes::from_static(b"soon gone"),
                expires: Some(1_800_000_000_000),
            },
            Record::Delete {
                rev: 3,
                key: "/a".into(),
            },
            Record::Compact { rev: 3 },
            Record::Revision { rev: 3 },
        ];
        let mut buf = Vec::new();
        for r in &recs {
            r.encode_into(&mut buf);
        }
        let (back, n, high) = parse(&buf);
        assert_eq!(back, recs);
        assert_eq!(n, buf.len());
        assert_eq!(high, 3);
        let (back, n, _) = parse(&buf[..buf.len() - 3]);
        assert_eq!(back.len(), 4);
        assert!(n < buf.len());
        let mut bad = buf.clone();
        bad[10] ^= 0xff;
        assert_eq!(parse(&bad).0.len(), 0);
    }

    /// A create of `/k/{rev}` with a value of `size` bytes.
    fn put(rev: i64, size: usize) -> Record {
        Record::Put {
            rev,
            create_rev: rev,
            version: 1,
            key: format!("/k/{rev}"),
            value: Bytes::from(vec![b'v'; size]),
            expires: None,
        }
    }

    /// A log of `n` creates, and where each frame starts.
    fn log_of(n: i64) -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut starts = Vec::new();
        for rev in 1..=n {
            starts.push(buf.len());
            put(rev, 100).encode_into(&mut buf);
        }
        (buf, starts)
    }

    /// Opens a log holding `bytes`: its records, or the error.
    fn open_bytes(bytes: &[u8]) -> (io::Result<usize>, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.log");
        std::fs::write(&path, bytes).expect("write");
        let opened = open(&path).map(|(_, records, _)| records.len());
        (opened, std::fs::read(&path).expect("read"))
    }

    #[test]
    fn a_rewrite_that_does_not_fit_leaves_no_copy_and_the_log_as_it_was() {
        let disk = crate::testing::SmallDisk::mount(1 << 20);
        let path = disk.path.join("store.log");
        let (small, _) = log_of(3);
        std::fs::write(&path, &small).expect("log");
        disk.fill_leaving(16 << 10);
        let records: Vec<Record> = (1..=50).map(|rev| put(rev, 4096)).collect();
        let err = rewrite(&path, &records).expect_err("no room for the copy");
        assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{err}");
        assert!(!temp_path(&path).exists(), "the partial copy stayed");
        assert_eq!(std::fs::read(&path).expect("log"), small);

        // A copy left by a crash mid-rewrite is removed at open.
        disk.free();
        std::fs::write(temp_path(&path), b"half a log").expect("stale copy");
        let (_, back, _) = open(&path).expect("open");
        assert_eq!(back.len(), 3);
        assert!(!temp_path(&path).exists());
    }

    /// Intact frames older than the log's last write after its end (an
    /// older log's bytes, exposed in space the file grew into before a
    /// crash) are a torn tail, not records and not evidence of damage.
    #[test]
    fn stale_frames_after_the_end_are_cut_off_not_replayed() {
        let (buf, starts) = log_of(10);
        let (old, _) = log_of(4);
        for tail in [
            [&buf[..], &old[..]].concat(),
            // After a torn frame, or in reserved space.
            [&buf[..buf.len() - 40], &old[..]].concat(),
            [&buf[..], &[0u8; 100][..], &old[..], &[0u8; 5000][..]].concat(),
        ] {
            let (opened, after) = open_bytes(&tail);
            assert!(opened.expect("opens") >= 9);
            assert!(after.len() <= buf.len(), "the stale frames stay");
        }
        // Out of order within the log: replay stops there.
        let mut out_of_order = buf[..starts[5]].to_vec();
        put(2, 100).encode_into(&mut out_of_order);
        assert_eq!(parse(&out_of_order).0.len(), 5);
        let mut compact_ahead = buf.clone();
        Record::Compact { rev: 11 }.encode_into(&mut compact_ahead);
        assert_eq!(parse(&compact_ahead).0.len(), 10);
    }

    #[test]
    fn reserved_zeros_after_the_frames_are_kept_and_not_read_as_damage() {
        let (buf, _) = log_of(10);
        for reserved in [1, 4095, 4096, 9000, RESERVE_BYTES as usize] {
            let log = [&buf[..], &vec![0u8; reserved][..]].concat();
            let (opened, after) = open_bytes(&log);
            assert_eq!(opened.expect("opens"), 10);
            assert_eq!(after, log, "the reserved space is kept");
        }
        assert_eq!(last_non_zero(&[]), 0);
        assert_eq!(last_non_zero(&[0; 5000]), 0);
        let mut b = vec![0u8; 9000];
        for at in [0, 4095, 4096, 8191, 8999] {
            b.fill(0);
            b[at] = 1;
            assert_eq!(last_non_zero(&b), at + 1);
        }
    }

    #[test]
    fn a_torn_tail_is_cut_off_but_damage_before_intact_records_is_refused() {
        let (buf, starts) = log_of(10);
        // A crash mid-append: the last frame cut short, or garbage.
        for tail in [
            buf[..buf.len() - 40].to_vec(),
            [&buf[..], &b"\x07\x00\x00\x00garbage"[..]].concat(),
            // A crash mid-write into reserved space: a cut frame, then zeros.
            [&buf[..buf.len() - 40], &[0u8; 9000][..]].concat(),
        ] {
            let (opened, after) = open_bytes(&tail);
            assert!(opened.expect("a torn tail opens") >= 9);
            assert!(after.len() <= buf.len());
            assert_eq!(after[..], buf[..after.len()]);
        }
        // One flipped byte in the fourth record's value, or in its length,
        // with or without reserved space after the last frame.
        for (at, reserved) in [
            (starts[3] + 60, 0),
            (starts[3] + 1, 0),
            (starts[3] + 1, 9000),
        ] {
            let mut bad = [&buf[..], &vec![0u8; reserved][..]].concat();
            bad[at] ^= 0x20;
            let (opened, after) = open_bytes(&bad);
            let err = opened.expect_err("damage mid-log is refused").to_string();
            assert!(
                err.contains(&format!("damaged at byte {}", starts[3]))
                    && err.contains(&format!("intact records follow from byte {}", starts[4]))
                    && err.contains("the 3 records before the damage")
                    && err.contains(&format!("truncate -s {} ", starts[3])),
                "{err}"
            );
            assert_eq!(after, bad, "the damaged log is left as it was");
        }
    }
}
