//! The server's side of a websocket (RFC 6455), as much as the attach
//! websocket needs: the handshake's accept key, frames read from a client
//! (masked, possibly fragmented; pings answered, a close ends input) and
//! frames written to it (unmasked, one message per write).

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// The largest frame a client may send (input to a container comes in
/// small pieces; anything bigger is a client gone wrong).
const MAX_FRAME: u64 = 16 << 20;

/// Write one whole frame.
pub fn write_frame(out: &mut impl Write, opcode: u8, data: &[u8]) -> std::io::Result<()> {
    let mut head = vec![0x80 | opcode];
    match data.len() {
        n if n < 126 => head.push(n as u8),
        n if n <= 0xffff => {
            head.push(126);
            head.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            head.push(127);
            head.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    head.extend_from_slice(data);
    out.write_all(&head)?;
    out.flush()
}

/// What a client sent.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    /// A data frame's payload (text or binary, or a continuation).
    Data(Vec<u8>),
    /// A ping's payload, to be answered with a pong.
    Ping(Vec<u8>),
    /// A close frame, or the connection ended.
    Close,
}

/// Read one frame from a client.
pub fn read_frame(input: &mut impl Read) -> std::io::Result<Incoming> {
    let mut h = [0u8; 2];
    if read_all_or_eof(input, &mut h)? {
        return Ok(Incoming::Close);
    }
    let opcode = h[0] & 0x0f;
    let masked = h[1] & 0x80 != 0;
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            input.read_exact(&mut b)?;
            u16::from_be_bytes(b) as u64
        }
        127 => {
            let mut b = [0u8; 8];
            input.read_exact(&mut b)?;
            u64::from_be_bytes(b)
        }
        n => n as u64,
    };
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a websocket frame of {len} bytes"),
        ));
    }
    let mut mask = [0u8; 4];
    if masked {
        input.read_exact(&mut mask)?;
    }
    let mut data = vec![0u8; len as usize];
    input.read_exact(&mut data)?;
    if masked {
        for (i, b) in data.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Ok(match opcode {
        CLOSE => Incoming::Close,
        PING => Incoming::Ping(data),
        PONG => Incoming::Data(Vec::new()),
        _ => Incoming::Data(data),
    })
}

/// Fill `buf`; true if the input ended before its first byte.
fn read_all_or_eof(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(true),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Carry a byte stream over a websocket: what `from` yields goes out as
/// messages of type `opcode` (then a close), what the client sends goes to
/// `to` (whose write side is shut when the client closes). Pings are
/// answered. Returns once both directions are done.
pub fn bridge<I, O, F, T>(mut input: I, out: O, opcode: u8, mut from: F, mut to: T)
where
    I: Read,
    O: Write + Send + 'static,
    F: Read + Send + 'static,
    T: Write + ShutWrite,
{
    let out = Arc::new(Mutex::new(out));
    let writer = {
        let out = out.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 32 << 10];
            loop {
                let n = match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut o = out.lock().expect("the connection");
                if write_frame(&mut *o, opcode, &buf[..n]).is_err() {
                    // The client is gone: keep draining, so the
                    // container's output never blocks.
                    drop(o);
                    while matches!(from.read(&mut buf), Ok(n) if n > 0) {}
                    return;
                }
            }
            let mut o = out.lock().expect("the connection");
            let _ = write_frame(&mut *o, CLOSE, &1000u16.to_be_bytes());
        })
    };
    loop {
        match read_frame(&mut input) {
            Ok(Incoming::Data(d)) => {
                if !d.is_empty() && to.write_all(&d).and_then(|()| to.flush()).is_err() {
                    break;
                }
            }
            Ok(Incoming::Ping(p)) => {
                let mut o = out.lock().expect("the connection");
                let _ = write_frame(&mut *o, PONG, &p);
            }
            Ok(Incoming::Close) | Err(_) => break,
        }
    }
    to.shut_write();
    let _ = writer.join();
}

/// A stream whose write side can be ended alone (the reader sees EOF).
pub trait ShutWrite: Write {
    fn shut_write(&mut self);
}

impl ShutWrite for std::os::unix::net::UnixStream {
    fn shut_write(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfcs_accept_key() {
        // RFC 6455, section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn masked_frames_of_each_length_are_read() {
        for len in [0usize, 5, 125, 126, 300, 70_000] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mask = [1u8, 2, 3, 4];
            let mut f = vec![0x82];
            match len {
                n if n < 126 => f.push(0x80 | n as u8),
                n if n <= 0xffff => {
                    f.push(0x80 | 126);
                    f.extend_from_slice(&(n as u16).to_be_bytes());
                }
                n => {
                    f.push(0x80 | 127);
                    f.extend_from_slice(&(n as u64).to_be_bytes());
                }
            }
            f.extend_from_slice(&mask);
            f.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
            assert_eq!(read_frame(&mut &f[..]).unwrap(), Incoming::Data(data));
        }
        assert_eq!(read_frame(&mut &[0x88u8, 0][..]).unwrap(), Incoming::Close);
        assert_eq!(read_frame(&mut &[][..]).unwrap(), Incoming::Close);
    }

    #[test]
    fn written_frames_carry_their_length() {
        let mut out = Vec::new();
        write_frame(&mut out, BINARY, b"hi").unwrap();
        assert_eq!(out, [0x82, 2, b'h', b'i']);
        let mut out = Vec::new();
        write_frame(&mut out, TEXT, &[7u8; 200]).unwrap();
        assert_eq!(&out[..4], &[0x81, 126, 0, 200]);
        assert_eq!(out.len(), 204);
    }
}
