//! Just enough HTTP/1.1 for the Docker Engine API, over a unix or TCP
//! socket: requests with their query and headers (bodies by length or
//! chunked), answers with a body, streamed in chunks, or none (HEAD, 204).

use std::io::{BufRead, BufReader, Read, Write};

/// The most a request's head or a decoded JSON body may take.
const MAX_HEAD: usize = 64 << 10;
pub const MAX_BODY: usize = 16 << 20;

/// A connection: a unix or a TCP socket.
pub enum Stream {
    Unix(std::os::unix::net::UnixStream),
    Tcp(std::net::TcpStream),
}

impl Stream {
    /// End the connection both ways (a reader of it elsewhere sees EOF).
    pub fn shutdown(&self) {
        let _ = match self {
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }

    pub fn try_clone(&self) -> std::io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
        }
    }
}

#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// The body, once read (see [`read_body`]).
    pub body: Vec<u8>,
    pub body_len: BodyLen,
    /// HTTP/1.0, or `Connection: close`.
    pub close: bool,
}

impl Request {
    /// Every value of a repeated query key (`names=a&names=b`).
    pub fn query_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean query value as the daemon reads one (`1`, `true`, ...).
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.query(key).map(str::to_ascii_lowercase).as_deref(),
            Some("1" | "true" | "yes" | "on")
        )
    }

    /// `repo` and `tag` from the query as one name (`repo:tag`), if any
    /// (`commit`, `import`).
    pub fn repo_tag(&self) -> Option<String> {
        let repo = self.query("repo").filter(|r| !r.is_empty())?;
        Some(match self.query("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_string(),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why no request was read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The client closed the connection between requests.
    #[error("closed")]
    Closed,
    #[error("{0}")]
    Bad(String),
    #[error("request body too large")]
    TooLarge,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `%XX` decoded (and `+` as a space in a query).
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Read one request's head from `r` (its body is read by [`read_body`],
/// or streamed with a [`BodyReader`]).
pub fn read_request(r: &mut BufReader<Stream>) -> Result<Request, ReadError> {
    let mut head = Vec::new();
    loop {
        let n = r.read_until(b'\n', &mut head)?;
        if n == 0 {
            return Err(if head.is_empty() {
                ReadError::Closed
            } else {
                ReadError::Bad("connection closed inside a request".into())
            });
        }
        if head.ends_with(b"\r\n\r\n") {
            break;
        }
        if head.len() > MAX_HEAD {
            return Err(ReadError::Bad("request head too large".into()));
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ReadError::Bad("incomplete request".into())),
        Err(e) => return Err(ReadError::Bad(format!("bad request: {e}"))),
    }
    let method = req.method.unwrap_or_default().to_string();
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect();
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let close = req.version == Some(0)
        || get("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let chunked =
        get("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body_len = if chunked {
        BodyLen::Chunked
    } else {
        match get("Content-Length") {
            Some(v) => BodyLen::Length(
                v.parse()
                    .map_err(|_| ReadError::Bad(format!("bad Content-Length {v:?}")))?,
            ),
            None => BodyLen::Length(0),
        }
    };
    Ok(Request {
        method,
        path: percent_decode(path, false),
        query,
        headers,
        body: Vec::new(),
        body_len,
        close,
    })
}

/// How a request's body comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLen {
    Length(u64),
    Chunked,
}

/// Read `req`'s body into `req.body` (at most [`MAX_BODY`] bytes).
pub fn read_body(r: &mut BufReader<Stream>, req: &mut Request) -> Result<(), ReadError> {
    if let BodyLen::Length(n) = req.body_len {
        if n > MAX_BODY as u64 {
            return Err(ReadError::TooLarge);
        }
    }
    let mut body = Vec::new();
    let mut b = BodyReader::new(r, req.body_len);
    let mut buf = [0u8; 64 << 10];
    loop {
        let n = b.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if body.len() + n > MAX_BODY {
            // Nothing more is read: the connection ends.
            b.done = true;
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&buf[..n]);
    }
    req.body = body;
    Ok(())
}

/// A request's body as it comes off the connection (by length or in
/// chunks), for a handler that streams it (a tar of images or a build
/// context).
pub struct BodyReader<'a> {
    r: &'a mut BufReader<Stream>,
    chunked: bool,
    /// Bytes left of the body (by length) or of the current chunk.
    left: u64,
    done: bool,
}

impl<'a> BodyReader<'a> {
    pub fn new(r: &'a mut BufReader<Stream>, len: BodyLen) -> BodyReader<'a> {
        match len {
            BodyLen::Length(n) => BodyReader {
                r,
                chunked: false,
                left: n,
                done: n == 0,
            },
            BodyLen::Chunked => BodyReader {
                r,
                chunked: true,
                left: 0,
                done: false,
            },
        }
    }

    /// The next chunk's size (the CRLF after the previous chunk read).
    fn next_chunk(&mut self) -> std::io::Result<()> {
        let mut line = String::new();
        self.r.read_line(&mut line)?;
        if line.trim().is_empty() {
            // The CRLF that ends the previous chunk's data.
            line.clear();
            self.r.read_line(&mut line)?;
        }
        let size =
            u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("bad chunk size {:?}", line.trim()),
                )
            })?;
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                line.clear();
                if self.r.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
                    break;
                }
            }
            self.done = true;
        }
        self.left = size;
        Ok(())
    }
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            if !self.chunked {
                self.done = true;
                return Ok(0);
            }
            self.next_chunk()?;
            if self.done {
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left as usize);
        let n = self.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        if !self.chunked && self.left == 0 {
            self.done = true;
        }
        Ok(n)
    }
}

impl Drop for BodyReader<'_> {
    /// What a handler left unread of the body is read (and dropped), so
    /// the next request on the connection starts where it should.
    fn drop(&mut self) {
        let mut sink = [0u8; 64 << 10];
        while !self.done {
            match self.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

/// Writes a streamed body, chunk by chunk, until it is done or the client
/// is gone.
pub type Writer = Box<dyn FnOnce(&mut Chunked<'_>) -> std::io::Result<()> + Send>;

/// Takes over a connection after `101 UPGRADED` (or a `200` to a client
/// that did not ask to upgrade): its input, then its output.
pub type Hijack = Box<dyn FnOnce(BufReader<Stream>, Stream) + Send>;

/// What an answer carries.
pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// Written as it comes, in chunks, by the function (which returns
    /// when it is done or the client is gone).
    Stream(Writer),
    /// The connection itself, raw, both ways (attach, exec).
    Hijack(Hijack),
    /// (Written by the server for a hijacked answer: its head, then the
    /// raw connection.)
    Raw,
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    pub fn json(status: u16, v: &serde_json::Value) -> Response {
        let mut body = serde_json::to_vec(v).expect("JSON serializes");
        body.push(b'\n');
        Response {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: Body::Bytes(body),
        }
    }

    pub fn text(status: u16, text: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: Body::Bytes(text.as_bytes().to_vec()),
        }
    }

    pub fn empty(status: u16) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    pub fn stream(
        content_type: &'static str,
        f: impl FnOnce(&mut Chunked<'_>) -> std::io::Result<()> + Send + 'static,
    ) -> Response {
        Response {
            status: 200,
            content_type,
            headers: Vec::new(),
            body: Body::Stream(Box::new(f)),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "UPGRADED",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "",
    }
}

/// A chunked body being written.
pub struct Chunked<'a> {
    out: &'a mut dyn Write,
    peer: Option<std::os::fd::RawFd>,
}

impl Chunked<'_> {
    /// The connection's socket, to learn when the client hangs up.
    pub fn peer(&self) -> Option<std::os::fd::RawFd> {
        self.peer
    }

    /// Send `data` at once (an empty `data` sends nothing).
    pub fn send(&mut self, data: &[u8]) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        write!(self.out, "{:x}\r\n", data.len())?;
        self.out.write_all(data)?;
        self.out.write_all(b"\r\n")?;
        self.out.flush()
    }
}

/// A chunked body as an `io::Write` (each write a chunk).
impl Write for Chunked<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.send(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Write `resp` (to a `HEAD` request: without its body).
pub fn write_response(out: &mut Stream, resp: Response, head_only: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let peer = match out {
        Stream::Unix(s) => s.as_raw_fd(),
        Stream::Tcp(s) => s.as_raw_fd(),
    };
    let mut h = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in crate::COMMON_HEADERS {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    for (k, v) in &resp.headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    match &resp.body {
        Body::Empty if resp.status == 204 || resp.status == 304 => {}
        Body::Empty => h.push_str("Content-Length: 0\r\n"),
        Body::Bytes(b) => h.push_str(&format!(
            "Content-Type: {}\r\nContent-Length: {}\r\n",
            resp.content_type,
            b.len()
        )),
        Body::Stream(_) => h.push_str(&format!(
            "Content-Type: {}\r\nTransfer-Encoding: chunked\r\n",
            resp.content_type
        )),
        Body::Hijack(_) | Body::Raw => {
            h.push_str(&format!("Content-Type: {}\r\n", resp.content_type))
        }
    }
    h.push_str("\r\n");
    out.write_all(h.as_bytes())?;
    match resp.body {
        Body::Bytes(b) if !head_only => out.write_all(&b)?,
        Body::Stream(f) if !head_only => {
            // The headers go out at once (a `wait` client learns the
            // request was taken before the container stops).
            out.flush()?;
            let mut c = Chunked {
                out,
                peer: Some(peer),
            };
            f(&mut c)?;
            c.out.write_all(b"0\r\n\r\n")?;
        }
        _ => {}
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D", true), "{\"a\":1}");
        assert_eq!(percent_decode("a+b%2", true), "a b%2");
        assert_eq!(percent_decode("a+b", false), "a+b");
    }
}
