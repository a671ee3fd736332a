//! Terminals: the console socket a container's pty master comes back over,
//! Docker's detach keys, the client's terminal size.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Docker's detach keys (ctrl-p ctrl-q unless `--detach-keys` says
/// otherwise), watched for in the client's input.
pub struct Escape {
    keys: Vec<u8>,
    /// How many bytes of `keys` the input has matched so far (held back).
    matched: usize,
}

impl Default for Escape {
    fn default() -> Escape {
        Escape::new(vec![0x10, 0x11])
    }
}

impl Escape {
    /// Watch for `keys`; an empty sequence never detaches.
    pub fn new(keys: Vec<u8>) -> Escape {
        Escape { keys, matched: 0 }
    }

    /// What to pass on from `input`, and whether the sequence was typed.
    /// Bytes that may start the sequence are held back until it is clear
    /// they do not.
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len() + self.matched);
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return (out, false);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
                continue;
            }
            // A mismatch: what was held back goes on, and this byte may
            // itself start the sequence again.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

/// `--detach-keys`: comma-separated keys, each a single character or
/// `ctrl-X` with X one of a-z @ [ \ ] ^ _ (Docker's format).
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("Invalid detach keys ({spec}) provided");
    let mut keys = Vec::new();
    for key in spec.split(',') {
        let k = key.to_ascii_lowercase();
        if k.len() == 1 {
            keys.push(k.as_bytes()[0]);
            continue;
        }
        let Some(c) = k.strip_prefix("ctrl-").filter(|c| c.len() == 1) else {
            return Err(bad());
        };
        keys.push(match c.as_bytes()[0] {
            c @ b'a'..=b'z' => c - b'a' + 1,
            b'@' => 0,
            b'[' => 27,
            b'\\' => 28,
            b']' => 29,
            b'^' => 30,
            b'_' => 31,
            _ => return Err(bad()),
        });
    }
    Ok(keys)
}

/// Where the supervisor of container `id` serves `attach`.
pub fn attach_socket(runroot: &Path, id: &str) -> PathBuf {
    runroot
        .join("attach")
        .join(format!("{}.sock", &id[..12.min(id.len())]))
}

/// (rows, columns) of the terminal on `fd`, if it is one.
pub fn terminal_size(fd: RawFd) -> Option<(u16, u16)> {
    // SAFETY: an all-zero winsize is valid.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills the winsize struct it is given.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Set the size of the terminal `fd` (a pty's master: its process gets
/// SIGWINCH).
pub fn set_terminal_size(fd: RawFd, rows: u16, cols: u16) -> std::io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads the winsize it is given.
    match unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
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
        // ctrl-p ctrl-p ctrl-q: the first ctrl-p goes on, then detach.
        let mut e = super::Escape::default();
        assert_eq!(e.feed(&[0x10, 0x10, 0x11]), (vec![0x10], true));
    }

    #[test]
    fn custom_detach_keys() {
        let keys = super::parse_detach_keys("ctrl-a,x").unwrap();
        assert_eq!(keys, vec![1, b'x']);
        let mut e = super::Escape::new(keys);
        assert_eq!(e.feed(b"ab\x01"), (b"ab".to_vec(), false));
        assert_eq!(e.feed(b"y"), (b"\x01y".to_vec(), false));
        assert_eq!(e.feed(b"\x01x"), (Vec::new(), true));
        assert_eq!(
            super::parse_detach_keys("ctrl-@,ctrl-_").unwrap(),
            vec![0, 31]
        );
        for bad in ["foo", "ctrl-", "ctrl-1", "shift-a", "a,,b"] {
            let err = super::parse_detach_keys(bad).unwrap_err();
            assert_eq!(err, format!("Invalid detach keys ({bad}) provided"));
        }
    }
}
