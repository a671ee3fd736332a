//! Terminals: the console socket a container's pty master comes back over,
//! Docker's detach keys, the client's terminal size.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Docker's detach keys, ctrl-p ctrl-q, watched for in the client's input.
#[derive(Default)]
pub(crate) struct Escape {
    /// A ctrl-p held back: it may start the sequence.
    pending: bool,
}

impl Escape {
    /// What to pass on from `input`, and whether the sequence was typed.
    pub(crate) fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len() + 1);
        for &b in input {
            if self.pending {
                self.pending = false;
                if b == 0x11 {
                    return (out, true);
                }
                out.push(0x10);
            }
            if b == 0x10 {
                self.pending = true;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

/// Where the supervisor of container `id` serves `attach`.
pub fn attach_socket(runroot: &Path, id: &str) -> PathBuf {
    runroot
        .join("attach")
        .join(format!("{}.sock", &id[..12.min(id.len())]))
}

/// (rows, columns) of the terminal on `fd`, if it is one.
pub(crate) fn terminal_size(fd: RawFd) -> Option<(u16, u16)> {
    // SAFETY: an all-zero winsize is valid.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills the winsize struct it is given.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// The unix socket the runtime hands the container's pty master over.
pub(crate) struct ConsoleSocket {
    pub(crate) path: PathBuf,
    listener: std::os::unix::net::UnixListener,
}

impl ConsoleSocket {
    pub(crate) fn listen(path: &Path) -> Result<ConsoleSocket, String> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let _ = std::fs::remove_file(path);
        let listener = std::os::unix::net::UnixListener::bind(path)
            .map_err(|e| format!("console socket {}: {e}", path.display()))?;
        Ok(ConsoleSocket {
            path: path.to_path_buf(),
            listener,
        })
    }

    /// The pty master the container's init sent.
    pub(crate) fn receive(&self) -> Result<OwnedFd, String> {
        let (conn, _) = self
            .listener
            .accept()
            .map_err(|e| format!("console socket: {e}"))?;
        skiff_runtime::console::recv_fd(conn.as_raw_fd()).map_err(|e| e.to_string())
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn detach_keys() {
        let mut e = super::Escape::default();
        assert_eq!(e.feed(b"ab"), (b"ab".to_vec(), false));
        assert_eq!(e.feed(&[b'x', 0x10]), (b"x".to_vec(), false));
        assert_eq!(e.feed(&[0x11]), (Vec::new(), true));
        let mut e = super::Escape::default();
        assert_eq!(e.feed(&[0x10, b'y']), (vec![0x10, b'y'], false));
    }
}
