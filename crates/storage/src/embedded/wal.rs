//! The embedded store's write-ahead log: framed records appended to one
//! file, replayed at start, synced in groups by one flusher thread.
//!
//! Frame: `len u32 | crc32 u32 | payload`, little endian. A torn or corrupt
//! tail (a crash mid-append) ends replay and is cut off.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
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

/// Opens (creating if needed) the log at `path`, returns its records and the
/// file positioned for appending; a corrupt tail is truncated.
pub fn open(path: &Path) -> io::Result<(File, Vec<Record>)> {
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let (records, good) = parse(&buf);
    if good < buf.len() {
        tracing::warn!(
            path = %path.display(),
            dropped_bytes = buf.len() - good,
            "store log has a torn tail (crash during a write); truncating it"
        );
        f.set_len(good as u64)?;
        f.sync_all()?;
    }
    f.seek(SeekFrom::End(0))?;
    Ok((f, records))
}

/// Parses frames; returns the records and the length of the valid prefix.
pub fn parse(buf: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut pos = 0;
    while buf.len() - pos >= 8 {
        let len = u32::from_le_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]]) as usize;
        let crc = u32::from_le_bytes([buf[pos + 4], buf[pos + 5], buf[pos + 6], buf[pos + 7]]);
        let Some(payload) = buf.get(pos + 8..pos + 8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Some(rec) = Record::decode(payload) else {
            break;
        };
        records.push(rec);
        pos += 8 + len;
    }
    (records, pos)
}

/// Writes `records` to a fresh log at `path` atomically (temp file, sync, rename).
pub fn rewrite(path: &Path, records: &[Record]) -> io::Result<File> {
    let tmp = path.with_extension("log.tmp");
    let mut buf = Vec::new();
    for r in records {
        r.encode_into(&mut buf);
    }
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&buf)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    let mut f = OpenOptions::new().read(true).append(true).open(path)?;
    f.seek(SeekFrom::End(0))?;
    Ok(f)
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
                rev: 2,
                key: "/a".into(),
            },
            Record::Compact { rev: 2 },
            Record::Revision { rev: 2 },
        ];
        let mut buf = Vec::new();
        for r in &recs {
            r.encode_into(&mut buf);
        }
        let (back, n) = parse(&buf);
        assert_eq!(back, recs);
        assert_eq!(n, buf.len());
        let (back, n) = parse(&buf[..buf.len() - 3]);
        assert_eq!(back.len(), 4);
        assert!(n < buf.len());
        let mut bad = buf.clone();
        bad[10] ^= 0xff;
        assert_eq!(parse(&bad).0.len(), 0);
    }
}
