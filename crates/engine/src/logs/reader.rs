//! Reading a container's log as `logs` and the API select it: the last
//! `tail` records read from the end of the files (not the whole log), within
//! `since`/`until`, and with `follow` the records written afterwards, read
//! from where the reader stopped (by file offset, across rotations) each
//! time the engine's notifier says the log's directory changed, until the
//! container stops.

use super::{log_path, parse_record, Record};
use crate::model::Status;
use crate::notify::Cancel;
use crate::{Engine, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Which records `logs` sends.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    /// Nanoseconds since the epoch; records before are left out.
    pub since: Option<i64>,
    /// Nanoseconds since the epoch; records after are left out (and
    /// following stops there).
    pub until: Option<i64>,
    /// The last this many (of those within since/until).
    pub tail: Option<usize>,
    /// Then what the container writes, until it stops.
    pub follow: bool,
}

/// The log's files, oldest first: rotated ones (`.N` ... `.1`), then the
/// current one.
fn files(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = (1..100)
        .rev()
        .map(|n| PathBuf::from(format!("{}.{n}", path.display())))
        .filter(|p| p.exists())
        .collect();
    out.push(path.to_path_buf());
    out
}

impl LogOptions {
    fn keeps(&self, r: &Record) -> bool {
        self.since.is_none_or(|s| r.time_nano >= s) && self.until.is_none_or(|u| r.time_nano <= u)
    }
}

/// The last `n` records of `files` that `o` keeps, read from the end; older
/// records are not read once `n` are found or one is older than `since`.
/// `current_end`: where to stop in the current (last) file.
fn tail(
    files: &[PathBuf],
    n: usize,
    o: &LogOptions,
    current_end: Option<u64>,
) -> std::io::Result<Vec<Record>> {
    let mut out: Vec<Record> = Vec::new();
    if n == 0 {
        return Ok(out);
    }
    'files: for (i, p) in files.iter().enumerate().rev() {
        let mut f = match File::open(p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        let mut end = match current_end {
            Some(e) if i + 1 == files.len() => e.min(len),
            _ => len,
        };
        // Bytes before `end` not yet split into lines (the start of a line
        // whose end was read).
        let mut carry: Vec<u8> = Vec::new();
        while end > 0 || !carry.is_empty() {
            let start = end.saturating_sub(64 * 1024);
            let mut chunk = vec![0u8; (end - start) as usize];
            f.seek(SeekFrom::Start(start))?;
            f.read_exact(&mut chunk)?;
            chunk.extend_from_slice(&carry);
            end = start;
            // Complete lines are those after the first newline (or all of
            // it at the file's start).
            let first = if start == 0 {
                0
            } else {
                match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => i + 1,
                    None => {
                        carry = chunk;
                        continue;
                    }
                }
            };
            carry = chunk[..first].to_vec();
            for line in chunk[first..].split(|&b| b == b'\n').rev() {
                let Some(r) = parse_record(line) else {
                    continue;
                };
                if o.since.is_some_and(|s| r.time_nano < s) {
                    break 'files;
                }
                if o.keeps(&r) {
                    out.push(r);
                    if out.len() == n {
                        break 'files;
                    }
                }
            }
            if start == 0 {
                break;
            }
        }
    }
    out.reverse();
    Ok(out)
}

/// A reader of the current log file from an offset, for following.
struct Follower {
    path: PathBuf,
    file: Option<File>,
    ino: u64,
    offset: u64,
    partial: Vec<u8>,
}

impl Follower {
    /// Positioned at the current end of the log.
    fn at_end(path: &Path) -> Follower {
        let mut f = Follower {
            path: path.to_path_buf(),
            file: None,
            ino: 0,
            offset: 0,
            partial: Vec::new(),
        };
        if let Ok(file) = File::open(path) {
            if let Ok(md) = file.metadata() {
                f.ino = md.ino();
                f.offset = md.len();
            }
            f.file = Some(file);
        }
        f
    }

    /// The records written since the last call.
    fn read(&mut self) -> std::io::Result<Vec<Record>> {
        let mut out = Vec::new();
        loop {
            if let Some(file) = &mut self.file {
                let len = file.metadata()?.len();
                if len < self.offset {
                    // Truncated in place (rotation to a single file).
                    self.offset = 0;
                    self.partial.clear();
                }
                file.seek(SeekFrom::Start(self.offset))?;
                let mut buf = Vec::new();
                file.read_to_end(&mut buf)?;
                self.offset += buf.len() as u64;
                self.partial.extend_from_slice(&buf);
                if let Some(last) = self.partial.iter().rposition(|&b| b == b'\n') {
                    let done: Vec<u8> = self.partial.drain(..=last).collect();
                    out.extend(done.split(|&b| b == b'\n').filter_map(parse_record));
                }
            }
            // Rotated away: what our handle still reads was drained above;
            // go on with the new file from its start.
            match std::fs::metadata(&self.path) {
                Ok(md) if md.ino() != self.ino => {
                    self.file = File::open(&self.path).ok();
                    self.ino = md.ino();
                    self.offset = 0;
                    self.partial.clear();
                }
                _ => return Ok(out),
            }
        }
    }
}

impl Engine {
    /// `logs`: the container's records as `o` selects them, each to `sink`
    /// (which returns false to stop). With `o.follow`, then the records it
    /// writes until it stops, `until` passes, `cancel` is set or `sink`
    /// says stop.
    pub fn logs(
        &self,
        what: &str,
        o: &LogOptions,
        cancel: &Cancel,
        sink: &mut dyn FnMut(&Record) -> bool,
    ) -> Result<()> {
        let c = self.find(what)?;
        let dir = self.paths.container_dir(&c.id);
        let path = log_path(&dir, &c.id);
        let io = |e| crate::Error::Io {
            op: "reading the log",
            path: path.clone(),
            err: e,
        };
        // Watch before reading, so nothing written in between is missed.
        let watch = match o.follow && o.until.is_none() {
            true => {
                let n = self.notifier()?;
                Some((n, n.watch_dir(&dir).map_err(io)?))
            }
            false => None,
        };
        // Following starts where the first read stops.
        let mut follower = Follower::at_end(&path);
        let end = watch.as_ref().map(|_| follower.offset);
        let all = files(&path);
        let records = match o.tail {
            Some(n) => tail(&all, n, o, end).map_err(io)?,
            None => {
                let mut out = Vec::new();
                for (i, p) in all.iter().enumerate() {
                    let limit = end.filter(|_| i + 1 == all.len());
                    super::read_file(p, limit, &mut out).map_err(io)?;
                }
                out.retain(|r| o.keeps(r));
                out
            }
        };
        for r in &records {
            if !sink(r) {
                return Ok(());
            }
        }
        let Some((n, _watch)) = watch else {
            return Ok(());
        };
        loop {
            let seen = n.generation();
            let running = self.store.get(&c.id)?.is_some_and(|c| {
                matches!(
                    c.state.status,
                    Status::Running | Status::Restarting | Status::Paused
                )
            });
            for r in follower.read().map_err(io)? {
                if o.keeps(&r) && !sink(&r) {
                    return Ok(());
                }
            }
            if !running || cancel.is_cancelled() {
                return Ok(());
            }
            let _pid = self
                .store
                .get(&c.id)?
                .and_then(|c| n.watch_pid(c.state.supervisor_pid));
            n.wait(seen, None, cancel);
        }
    }
}
