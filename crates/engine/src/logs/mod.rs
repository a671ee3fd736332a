//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"...","stream":"stdout","time":"2026-11-22T10:00:00.123456789Z"}`,
//! in `<id>-json.log`, rotated to `<id>-json.log.1` ... when `max-size` is set.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};

mod reader;
pub use reader::LogOptions;
use std::path::{Path, PathBuf};

/// The log file of container `id` in its directory `dir`.
pub fn log_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-json.log"))
}

/// Appends log lines, splitting at newlines, rotating by size.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
    /// An unterminated line per stream, waiting for its newline.
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(path: PathBuf, max_size: Option<u64>, max_file: u32) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path,
            file,
            size,
            max_size,
            max_file: max_file.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Write what stream `stream` (1 stdout, 2 stderr) produced.
    pub fn write(&mut self, stream: u8, data: &[u8]) -> std::io::Result<()> {
        let i = if stream == 2 { 1 } else { 0 };
        let mut rest = data;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[i]);
            line.extend_from_slice(&rest[..=nl]);
            self.emit(stream, &line)?;
            rest = &rest[nl + 1..];
        }
        self.partial[i].extend_from_slice(rest);
        // Docker cuts lines at 16 KiB.
        if self.partial[i].len() >= 16 * 1024 {
            let line = std::mem::take(&mut self.partial[i]);
            self.emit(stream, &line)?;
        }
        Ok(())
    }

    /// Write out unterminated lines (at the stream's end).
    pub fn flush_partial(&mut self) -> std::io::Result<()> {
        for (i, stream) in [(0usize, 1u8), (1, 2)] {
            if !self.partial[i].is_empty() {
                let line = std::mem::take(&mut self.partial[i]);
                self.emit(stream, &line)?;
            }
        }
        Ok(())
    }

    fn emit(&mut self, stream: u8, line: &[u8]) -> std::io::Result<()> {
        let rec = serde_json::json!({
            "log": String::from_utf8_lossy(line),
            "stream": if stream == 2 { "stderr" } else { "stdout" },
            "time": crate::time::now(),
        });
        let mut out = rec.to_string().into_bytes();
        out.push(b'\n');
        // As Docker: a file that has reached max-size is rotated before
        // the next entry (so a file may pass max-size by one entry).
        if let Some(max) = self.max_size {
            if self.size >= max {
                self.rotate()?;
            }
        }
        self.file.write_all(&out)?;
        self.size += out.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let name = |n: u32| {
            if n == 0 {
                self.path.clone()
            } else {
                PathBuf::from(format!("{}.{n}", self.path.display()))
            }
        };
        if self.max_file <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(name(self.max_file - 1));
        for n in (0..self.max_file - 1).rev() {
            let _ = std::fs::rename(name(n), name(n + 1));
        }
        self.file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1 stdout, 2 stderr.
    pub stream: u8,
    pub time_nano: i64,
    pub time: String,
    pub data: String,
}

/// Every record of the log (rotated files first), oldest first.
pub fn read_all(path: &Path) -> std::io::Result<Vec<Record>> {
    let mut out = Vec::new();
    for n in (1..100).rev() {
        let p = PathBuf::from(format!("{}.{n}", path.display()));
        if p.exists() {
            read_file(&p, None, &mut out)?;
        }
    }
    read_file(path, None, &mut out)?;
    Ok(out)
}

/// The records of one file (its first `limit` bytes) into `out`; a missing
/// file has none.
pub(crate) fn read_file(
    path: &Path,
    limit: Option<u64>,
    out: &mut Vec<Record>,
) -> std::io::Result<()> {
    use std::io::Read;
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut r = BufReader::new(f.take(limit.unwrap_or(u64::MAX)));
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        // A torn last line (a write in progress) is skipped.
        if line.ends_with(b"\n") {
            out.extend(parse_record(&line));
        }
    }
}

/// One line of the log; None for what is not a record.
pub(crate) fn parse_record(line: &[u8]) -> Option<Record> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    let time = v["time"].as_str().unwrap_or_default().to_string();
    Some(Record {
        stream: if v["stream"] == "stderr" { 2 } else { 1 },
        time_nano: crate::time::parse_rfc3339_nanos(&time).unwrap_or(0),
        time,
        data: v["log"].as_str().unwrap_or_default().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_and_rotate() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x-json.log");
        let mut w = LogWriter::open(p.clone(), Some(200), 3).unwrap();
        w.write(1, b"hel").unwrap();
        w.write(1, b"lo\nwor").unwrap();
        w.write(2, b"oops\n").unwrap();
        w.write(1, b"ld").unwrap();
        w.flush_partial().unwrap();
        let r = read_all(&p).unwrap();
        let got: Vec<(u8, &str)> = r.iter().map(|r| (r.stream, r.data.as_str())).collect();
        assert_eq!(got, [(1, "hello\n"), (2, "oops\n"), (1, "world")]);
        for i in 0..20 {
            w.write(1, format!("line {i}\n").as_bytes()).unwrap();
        }
        assert!(d.path().join("x-json.log.1").exists());
        assert!(!d.path().join("x-json.log.3").exists());
        let r = read_all(&p).unwrap();
        assert_eq!(r.last().unwrap().data, "line 19\n");
        assert!(r.len() < 23);
    }
}
