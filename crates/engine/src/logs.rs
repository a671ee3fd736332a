//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"...","stream":"stdout","time":"2026-11-22T10:00:00.123456789Z"}`,
//! in `<id>-json.log`, rotated to `<id>-json.log.1` ... when `max-size` is set.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// RFC 3339 UTC with nanoseconds, as Docker writes log and state times.
pub fn rfc3339_nanos(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        tod / 3600,
        (tod / 60) % 60,
        tod % 60
    )
}

/// Parse what [`rfc3339_nanos`] writes (and RFC 3339 in general, UTC or
/// with an offset) into nanoseconds since the epoch.
pub fn parse_rfc3339_nanos(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut frac = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(|c| c.is_ascii_digit()).collect();
        rest = &r[digits.len()..];
        let mut dd = digits.clone();
        dd.truncate(9);
        while dd.len() < 9 {
            dd.push('0');
        }
        frac = dd.parse().ok()?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if mo > 2 { mo - 3 } else { mo + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + se) - offset) * 1_000_000_000 + frac)
}

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
            "time": rfc3339_nanos(crate::store::now_nanos()),
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
    let mut files = Vec::new();
    for n in (1..100).rev() {
        let p = PathBuf::from(format!("{}.{n}", path.display()));
        if p.exists() {
            files.push(p);
        }
    }
    files.push(path.to_path_buf());
    let mut out = Vec::new();
    for p in files {
        let f = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        read_records(BufReader::new(f), &mut out)?;
    }
    Ok(out)
}

/// Parse records from `r` into `out`; a torn last line is skipped.
pub fn read_records(r: impl BufRead, out: &mut Vec<Record>) -> std::io::Result<()> {
    for line in r.lines() {
        let line = line?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let time = v["time"].as_str().unwrap_or_default().to_string();
        out.push(Record {
            stream: if v["stream"] == "stderr" { 2 } else { 1 },
            time_nano: parse_rfc3339_nanos(&time).unwrap_or(0),
            time,
            data: v["log"].as_str().unwrap_or_default().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let t = 1_795_316_645_123_456_789;
        let s = rfc3339_nanos(t);
        assert_eq!(s, "2026-11-22T03:04:05.123456789Z");
        assert_eq!(parse_rfc3339_nanos(&s), Some(t));
        assert_eq!(parse_rfc3339_nanos("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339_nanos("bogus"), None);
    }

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
