//! A client of the streaming URLs a CRI runtime returns from Exec and
//! Attach: Kubernetes' channel protocol (`v4.channel.k8s.io`) over a
//! websocket, as `kubectl exec` reaches them through the API server. Each
//! binary message starts with its channel: 0 stdin, 1 stdout, 2 stderr,
//! 3 the command's status (a JSON `Status`), 4 terminal resizes.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;

/// What a session has received so far.
#[derive(Debug, Default, Clone)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The status message (channel 3), once sent.
    pub status: Option<serde_json::Value>,
    /// The server closed the stream.
    pub closed: bool,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The exit code the status reports: 0 for `Success`, the `ExitCode`
    /// cause of a `NonZeroExitCode` failure.
    pub fn exit_code(&self) -> Option<i32> {
        let s = self.status.as_ref()?;
        if s["status"] == "Success" {
            return Some(0);
        }
        s["details"]["causes"]
            .as_array()?
            .iter()
            .find(|c| c["reason"] == "ExitCode")?["message"]
            .as_str()?
            .parse()
            .ok()
    }
}

/// An open exec or attach stream.
pub struct Session {
    ws: WebSocket<TcpStream>,
    pub output: Output,
}

impl Session {
    /// Open `url` (the `http://` URL the runtime returned) over `stream`, a
    /// TCP connection to its host already made (in the node's network
    /// namespace when it has one).
    pub fn open(url: &str, stream: TcpStream) -> Result<Session, String> {
        let ws_url = url.replacen("http://", "ws://", 1);
        let mut req = ws_url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("{url}: {e}"))?;
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "v4.channel.k8s.io".parse().expect("a header value"),
        );
        let (ws, resp) =
            tungstenite::client(req, stream).map_err(|e| format!("websocket to {url}: {e}"))?;
        let proto = resp
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if proto != "v4.channel.k8s.io" {
            return Err(format!("{url}: the server chose protocol {proto:?}"));
        }
        Ok(Session {
            ws,
            output: Output::default(),
        })
    }

    /// Send `data` to the process's stdin.
    pub fn send_stdin(&mut self, data: &[u8]) -> Result<(), String> {
        let mut m = vec![STDIN];
        m.extend_from_slice(data);
        self.ws
            .send(Message::Binary(m))
            .map_err(|e| format!("sending stdin: {e}"))
    }

    /// Read until `done` holds for what was received, the server closes,
    /// or `timeout` passes (an error naming what arrived).
    pub fn read_until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&Output) -> bool,
    ) -> Result<&Output, String> {
        let deadline = Instant::now() + timeout;
        while !done(&self.output) {
            if self.output.closed {
                return Err(format!("the stream closed after {:?}", self.output));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "timed out after {timeout:?} with {:?}",
                    self.output
                ));
            }
            self.ws
                .get_ref()
                .set_read_timeout(Some(left.min(Duration::from_millis(200))))
                .map_err(|e| e.to_string())?;
            match self.ws.read() {
                Ok(Message::Binary(m)) => self.take(&m),
                Ok(Message::Close(_)) => self.output.closed = true,
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    self.output.closed = true
                }
                Err(e) => return Err(format!("reading the stream: {e}")),
            }
        }
        Ok(&self.output)
    }

    /// Read until the server closes the stream (the process ended).
    pub fn finish(mut self, timeout: Duration) -> Result<Output, String> {
        self.read_until(timeout, |o| o.closed)?;
        Ok(self.output)
    }

    /// Close the stream from this side (a client going away).
    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }

    fn take(&mut self, m: &[u8]) {
        let Some((&ch, data)) = m.split_first() else {
            return;
        };
        match ch {
            STDOUT => self.output.stdout.extend_from_slice(data),
            STDERR => self.output.stderr.extend_from_slice(data),
            STATUS if !data.is_empty() => self.output.status = serde_json::from_slice(data).ok(),
            _ => {}
        }
    }
}
