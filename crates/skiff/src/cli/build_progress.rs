//! What `build` shows while it runs: BuildKit's plain lines.

use skiff_engine::build::{Event, Progress};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

/// BuildKit's plain progress: `#N name`, `#N 0.123 output`, `#N DONE 0.1s`.
pub struct Plain {
    out: std::io::Stderr,
    started: BTreeMap<usize, Instant>,
    partial: BTreeMap<usize, Vec<u8>>,
}

impl Progress for Plain {
    fn event(&mut self, e: Event<'_>) {
        let mut o = self.out.lock();
        let _ = match e {
            Event::Start { id, name } => {
                self.started.insert(id, Instant::now());
                writeln!(o, "#{id} {name}")
            }
            Event::Cached { id } => writeln!(o, "#{id} CACHED"),
            Event::Output { id, data } => {
                let t = self
                    .started
                    .get(&id)
                    .map_or(0.0, |t| t.elapsed().as_secs_f64());
                let buf = self.partial.entry(id).or_default();
                buf.extend_from_slice(data);
                while let Some(nl) = buf.iter().position(|c| *c == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    let _ = writeln!(o, "#{id} {t:.3} {}", String::from_utf8_lossy(&line[..nl]));
                }
                Ok(())
            }
            Event::Status { id, text } => writeln!(o, "#{id} {text}"),
            Event::Done { id, elapsed } => {
                if let Some(rest) = self.partial.remove(&id).filter(|b| !b.is_empty()) {
                    let _ = writeln!(o, "#{id} {}", String::from_utf8_lossy(&rest));
                }
                writeln!(o, "#{id} DONE {:.1}s\n", elapsed.as_secs_f64())
            }
            Event::Failed { id, message, .. } => writeln!(o, "#{id} ERROR: {message}\n"),
            Event::Warning { text } => writeln!(o, "WARNING: {text}"),
        };
    }
}

impl Plain {
    pub fn new() -> Plain {
        Plain {
            out: std::io::stderr(),
            started: BTreeMap::new(),
            partial: BTreeMap::new(),
        }
    }
}
