//! The client side of a running container's attach socket (see
//! [`crate::protocol`]): attaching to its output (and input), resizing its
//! pty, closing its stdin. The terminal or HTTP connection at the other end
//! is the front end's.

use crate::model::Status;
use crate::protocol::Request;
use crate::{io_err, Engine, Error, Result};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// A client attached to a running container.
pub struct Attached {
    stream: UnixStream,
    id: String,
    /// The container has a pty: its output is raw bytes, else Docker's
    /// multiplexed frames (see [`FrameReader`]).
    pub tty: bool,
    /// Whether this client's input goes to the container.
    pub stdin: bool,
    pid: (i32, u64),
}

impl Attached {
    /// The connection: read the container's output from it, write its
    /// input to it.
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// The connection ended: None when the client detached (the container
    /// runs on), else the container's exit code once it is recorded.
    pub fn finish(self, engine: &Engine) -> Result<Option<i32>> {
        if self.stdin && crate::proc::alive(self.pid.0, self.pid.1) {
            return Ok(None);
        }
        engine
            .wait(&self.id, Default::default(), &crate::notify::Cancel::new())
            .map(Some)
    }
}

/// Docker's multiplexed stream, decoded: stream byte (1 stdout, 2 stderr),
/// three zero bytes, a big-endian u32 length, the data.
#[derive(Debug, Default)]
pub struct FrameReader {
    pending: Vec<u8>,
}

impl FrameReader {
    /// Take `data` in; every frame now complete, as (stream, bytes).
    pub fn push(&mut self, data: &[u8]) -> Vec<(u8, Vec<u8>)> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::new();
        while self.pending.len() >= 8 {
            let p = &self.pending;
            let len = u32::from_be_bytes([p[4], p[5], p[6], p[7]]) as usize;
            if p.len() < 8 + len {
                break;
            }
            out.push((p[0], p[8..8 + len].to_vec()));
            self.pending.drain(..8 + len);
        }
        out
    }
}

impl Engine {
    fn connect(&self, c: &crate::model::Container) -> Result<UnixStream> {
        let path = crate::tty::attach_socket(&self.paths.runroot, &c.id);
        UnixStream::connect(&path)
            .map_err(|e| Error::Internal(format!("attaching to {}: {e}", c.name)))
    }

    /// A short request to the container's supervisor and its one-line answer.
    fn request(&self, what: &str, req: Request) -> Result<()> {
        let c = self.find(what)?;
        if !matches!(c.state.status, Status::Running | Status::Paused) {
            return Err(Error::NotRunning(c.id));
        }
        let mut s = self.connect(&c)?;
        let path = crate::tty::attach_socket(&self.paths.runroot, &c.id);
        s.write_all(req.line().as_bytes())
            .map_err(io_err("talking to the supervisor at", &path))?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)
            .map_err(io_err("talking to the supervisor at", &path))?;
        match answer.trim_end() {
            "ok" => Ok(()),
            "" => Err(Error::Internal(format!(
                "the supervisor of container {} (started by an older skiff) does not take this request; restart the container",
                c.name
            ))),
            a => Err(Error::Conflict(
                a.strip_prefix("error ").unwrap_or(a).to_string(),
            )),
        }
    }

    /// Attach to a running container's output, and with `stdin` (when it
    /// has `-i`) to its input; `detach_keys` (pty only) detach this client.
    pub fn attach(&self, what: &str, stdin: bool, detach_keys: Option<&str>) -> Result<Attached> {
        let c = self.find(what)?;
        if !matches!(c.state.status, Status::Running | Status::Paused) {
            return Err(Error::Conflict(
                "You cannot attach to a stopped container, start it first".into(),
            ));
        }
        let mut stream = self.connect(&c)?;
        let stdin = stdin && c.config.open_stdin;
        let req = Request::Attach {
            stdin,
            keys: detach_keys.map(str::to_string),
        };
        let path = crate::tty::attach_socket(&self.paths.runroot, &c.id);
        stream
            .write_all(req.line().as_bytes())
            .map_err(io_err("talking to the supervisor at", &path))?;
        self.event(&c, "attach", &[]);
        Ok(Attached {
            stream,
            tty: c.config.tty,
            stdin,
            pid: (c.state.pid, c.state.pid_start),
            id: c.id,
        })
    }

    /// Attach `streams` to a container that does not run yet: its next
    /// start (by this engine, without streams of its own) connects its
    /// stdio to them from the first byte, as dockerd does for a client
    /// that attaches before it starts the container (`docker run`). A
    /// later attach replaces an earlier one.
    pub fn attach_at_start(&self, what: &str, streams: crate::container::Attach) -> Result<()> {
        let c = self.find(what)?;
        if matches!(c.state.status, Status::Running | Status::Paused) {
            return Err(Error::Conflict(format!(
                "container {} is running: attach to it instead",
                c.name
            )));
        }
        self.pending_attach
            .lock()
            .expect("pending attaches")
            .insert(c.id, streams);
        Ok(())
    }

    /// Resize a running container's pty.
    pub fn resize(&self, what: &str, rows: u16, cols: u16) -> Result<()> {
        self.request(what, Request::Resize { rows, cols })
    }

    /// End a running container's stdin (`-i` without `-t`): it reads its
    /// end of input.
    pub fn close_stdin(&self, what: &str) -> Result<()> {
        self.request(what, Request::CloseStdin)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn frames_are_decoded_across_reads() {
        let mut r = super::FrameReader::default();
        let mut bytes = vec![1, 0, 0, 0, 0, 0, 0, 3];
        bytes.extend_from_slice(b"abc");
        bytes.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 2]);
        bytes.extend_from_slice(b"de");
        assert!(r.push(&bytes[..5]).is_empty());
        assert_eq!(r.push(&bytes[5..12]), vec![(1, b"abc".to_vec())]);
        assert_eq!(r.push(&bytes[12..]), vec![(2, b"de".to_vec())]);
        assert!(r.push(&[]).is_empty());
    }
}
