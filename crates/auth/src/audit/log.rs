//! The log backend (`--audit-log-path`): each event as one line, JSON
//! (`audit.k8s.io/v1` Event) or upstream's legacy text, written before the
//! request goes on (upstream's default `blocking` mode) to standard output
//! (`-`) or a file that rotates itself.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use super::rotate::{RotatingFile, Rotation};
use super::{Backend, Event};

/// The line formats of `--audit-log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Json,
    Legacy,
}

impl Format {
    pub const ALLOWED: &[&str] = &["json", "legacy"];

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "json" => Some(Format::Json),
            "legacy" => Some(Format::Legacy),
            _ => None,
        }
    }
}

pub struct LogBackend {
    format: Format,
    out: Mutex<Box<dyn Write + Send>>,
}

impl LogBackend {
    /// `-` is standard output; any other path a rotating file.
    pub fn open(path: &Path, format: Format, rotation: Rotation) -> std::io::Result<LogBackend> {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(RotatingFile::open(path, rotation)?)
        };
        Ok(LogBackend::new(out, format))
    }

    pub fn new(out: Box<dyn Write + Send>, format: Format) -> LogBackend {
        LogBackend {
            format,
            out: Mutex::new(out),
        }
    }
}

impl Backend for LogBackend {
    fn process(&self, event: &Event) {
        let line = match self.format {
            Format::Json => event.json_line(),
            Format::Legacy => event.legacy_line(),
        };
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
            tracing::error!(audit_id = %event.audit_id, error = %e, "Unable to write audit event");
        }
    }

    fn shutdown(&self) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = out.flush();
    }
}
