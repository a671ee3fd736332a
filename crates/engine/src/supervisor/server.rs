//! The supervisor's attach socket (`<runroot>/attach/<id12>.sock`): the
//! requests of [`crate::protocol`], served from the supervisor's poll loop
//! without ever blocking it. A connection's request line is read as it
//! arrives (one that sends none within 2 s is dropped); attached clients get
//! the container's output through a [`Sink`] each and may write its input;
//! `exec` processes are the supervisor's children, reaped here whether or not
//! their client stays.

use super::sink::Sink;
use crate::model::Container;
use crate::protocol::{recv_with_fds, send_with_fds, ExecRequest, Request};
use crate::Engine;
use skiff_runtime::pidfd::Pidfd;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a connection may take to send its request line.
const REQUEST_WAIT: Duration = Duration::from_secs(2);
/// The longest request line taken.
const MAX_REQUEST: usize = 64 * 1024;

/// What a poll entry of the server is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
    Listener,
    Pending(u64),
    ClientIn(u64),
    ClientOut(u64),
    Exec(u64),
}

struct Pending {
    id: u64,
    stream: UnixStream,
    since: Instant,
}

struct Client {
    id: u64,
    stream: UnixStream,
    out: Sink,
    stdin: bool,
    escape: crate::tty::Escape,
}

struct Exec {
    id: u64,
    pid: i32,
    pidfd: Pidfd,
    /// The client, told `exit CODE` (gone: the process runs on alone).
    reply: Option<UnixStream>,
}

pub(super) struct Server {
    listener: UnixListener,
    path: PathBuf,
    tty: bool,
    /// Whether the container has an input clients may write to.
    pub(super) has_input: bool,
    next: u64,
    pending: Vec<Pending>,
    clients: Vec<Client>,
    waiters: Vec<UnixStream>,
    execs: Vec<Exec>,
}

fn reply(stream: &UnixStream, line: &str) {
    let _ = nix::sys::socket::send(
        stream.as_raw_fd(),
        format!("{line}\n").as_bytes(),
        nix::sys::socket::MsgFlags::MSG_DONTWAIT | nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
    );
}

impl Server {
    /// Listen at `path` (None when that fails: no client can attach, the
    /// container runs anyway).
    pub(super) fn listen(path: &Path, tty: bool) -> Option<Server> {
        if let Some(d) = path.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).ok()?;
        listener.set_nonblocking(true).ok()?;
        Some(Server {
            listener,
            path: path.to_path_buf(),
            tty,
            has_input: false,
            next: 0,
            pending: Vec::new(),
            clients: Vec::new(),
            waiters: Vec::new(),
            execs: Vec::new(),
        })
    }

    /// What to poll: `input_room` says whether clients' input may be read.
    pub(super) fn fds(&self, input_room: bool) -> Vec<(RawFd, i16, Token)> {
        let mut out = vec![(self.listener.as_raw_fd(), libc::POLLIN, Token::Listener)];
        out.extend(
            self.pending
                .iter()
                .map(|p| (p.stream.as_raw_fd(), libc::POLLIN, Token::Pending(p.id))),
        );
        for c in &self.clients {
            if c.stdin && input_room {
                out.push((c.stream.as_raw_fd(), libc::POLLIN, Token::ClientIn(c.id)));
            }
            if c.out.waiting() {
                out.push((c.out.raw(), libc::POLLOUT, Token::ClientOut(c.id)));
            }
        }
        out.extend(
            self.execs
                .iter()
                .map(|e| (e.pidfd.as_raw_fd(), libc::POLLIN, Token::Exec(e.id))),
        );
        out
    }

    /// How long until a connection's time for its request is up.
    pub(super) fn next_timeout(&self) -> Option<Duration> {
        self.pending
            .iter()
            .map(|p| (p.since + REQUEST_WAIT).saturating_duration_since(Instant::now()))
            .min()
    }

    /// Something is ready on an entry of ours. `input` is the container's
    /// input (its pty master or stdin pipe).
    pub(super) fn ready(
        &mut self,
        tok: Token,
        input: &mut Option<Sink>,
        engine: &Engine,
        c: &Container,
    ) {
        match tok {
            Token::Listener => {
                while let Ok((stream, _)) = self.listener.accept() {
                    if stream.set_nonblocking(true).is_ok() {
                        self.next += 1;
                        self.pending.push(Pending {
                            id: self.next,
                            stream,
                            since: Instant::now(),
                        });
                    }
                }
            }
            Token::Pending(id) => {
                let Some(i) = self.pending.iter().position(|p| p.id == id) else {
                    return;
                };
                match read_request(&self.pending[i].stream) {
                    Ok(None) => {}
                    Ok(Some((req, fds))) => {
                        let p = self.pending.remove(i);
                        self.handle(p.stream, req, fds, input, engine, c);
                    }
                    Err(()) => {
                        self.pending.remove(i);
                    }
                }
            }
            Token::ClientIn(id) => self.client_input(id, input),
            Token::ClientOut(id) => {
                if let Some(i) = self.clients.iter().position(|c| c.id == id) {
                    if !self.clients[i].out.flush() {
                        self.clients.remove(i);
                    }
                }
            }
            Token::Exec(id) => self.exec_exited(id, engine, c),
        }
    }

    /// Drop connections that did not send a request in time.
    pub(super) fn expire(&mut self) {
        self.pending.retain(|p| p.since.elapsed() < REQUEST_WAIT);
    }

    fn handle(
        &mut self,
        stream: UnixStream,
        req: Request,
        fds: Vec<OwnedFd>,
        input: &mut Option<Sink>,
        engine: &Engine,
        c: &Container,
    ) {
        match req {
            Request::Attach { stdin, keys } => {
                let Ok(out) = stream.as_fd().try_clone_to_owned() else {
                    return;
                };
                // Detach keys work on a pty only, as with Docker.
                let escape = match (
                    self.tty,
                    keys.and_then(|k| crate::tty::parse_detach_keys(&k).ok()),
                ) {
                    (false, _) => crate::tty::Escape::new(Vec::new()),
                    (true, Some(k)) => crate::tty::Escape::new(k),
                    (true, None) => Default::default(),
                };
                self.next += 1;
                self.clients.push(Client {
                    id: self.next,
                    stream,
                    out: Sink::socket(out),
                    stdin: stdin && self.has_input,
                    escape,
                });
            }
            Request::Resize { rows, cols } => match input.as_ref().filter(|_| self.tty) {
                Some(pty) => match crate::tty::set_terminal_size(pty.raw(), rows, cols) {
                    Ok(()) => reply(&stream, "ok"),
                    Err(e) => reply(&stream, &format!("error resizing the pty: {e}")),
                },
                None => reply(&stream, "error the container has no pty"),
            },
            Request::CloseStdin => {
                if !self.tty && input.is_some() {
                    *input = None;
                    self.has_input = false;
                    for cl in &mut self.clients {
                        cl.stdin = false;
                    }
                    reply(&stream, "ok");
                } else {
                    reply(&stream, "error the container has no open stdin");
                }
            }
            Request::Wait => self.waiters.push(stream),
            Request::Exec(req) => self.exec(stream, req, fds, engine, c),
        }
    }

    fn client_input(&mut self, id: u64, input: &mut Option<Sink>) {
        use std::io::Read;
        let Some(i) = self.clients.iter().position(|c| c.id == id) else {
            return;
        };
        let mut buf = [0u8; 4096];
        match (&self.clients[i].stream).read(&mut buf) {
            // The client closed its input; it may still read.
            Ok(0) => self.clients[i].stdin = false,
            Ok(n) => {
                let (data, detach) = self.clients[i].escape.feed(&buf[..n]);
                if let Some(sink) = input {
                    if !sink.write(&data) {
                        *input = None;
                    }
                }
                if detach {
                    self.clients.remove(i);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => self.clients[i].stdin = false,
        }
    }

    /// Output of stream 1 or 2 to every attached client; one too far
    /// behind is dropped.
    pub(super) fn output(&mut self, stream: u8, data: &[u8]) {
        let framed = !self.tty;
        self.clients.retain_mut(|c| {
            if framed {
                let mut h = [0u8; 8];
                h[0] = stream;
                h[4..].copy_from_slice(&(data.len() as u32).to_be_bytes());
                c.out.write(&h) && c.out.write(data)
            } else {
                c.out.write(data)
            }
        });
    }

    /// Start an `exec` process for a client: its stdio from `fds`, or a pty
    /// whose master goes back to the client.
    fn exec(
        &mut self,
        stream: UnixStream,
        req: ExecRequest,
        fds: Vec<OwnedFd>,
        engine: &Engine,
        c: &Container,
    ) {
        match spawn_exec(&req, &fds, engine, c, self.next + 1) {
            Ok((pid, master)) => {
                drop(fds);
                let line = format!("pid {pid}\n");
                let sent = match &master {
                    Some(m) => send_with_fds(stream.as_fd(), line.as_bytes(), &[m.as_raw_fd()]),
                    None => send_with_fds(stream.as_fd(), line.as_bytes(), &[]),
                };
                let Ok(pidfd) = Pidfd::open(pid) else {
                    let _ = super::setup::reap_blocking(pid);
                    return;
                };
                self.next += 1;
                self.execs.push(Exec {
                    id: self.next,
                    pid,
                    pidfd,
                    reply: sent.ok().map(|_| stream),
                });
            }
            Err(msg) => reply(&stream, &format!("error 126 {msg}")),
        }
    }

    fn exec_exited(&mut self, id: u64, engine: &Engine, c: &Container) {
        let Some(i) = self.execs.iter().position(|e| e.id == id) else {
            return;
        };
        let Some(st) = super::setup::reap(self.execs[i].pid) else {
            return;
        };
        let e = self.execs.remove(i);
        let code = skiff_runtime::signals::exit_code(st);
        if let Some(s) = &e.reply {
            reply(s, &format!("exit {code}"));
        }
        engine.event(c, "exec_die", &[("exitCode", code.to_string())]);
    }

    /// The container's init is gone (and with its pid namespace, every exec
    /// process): reap them and tell their clients; drop the others.
    pub(super) fn finish(&mut self, engine: &Engine, c: &Container) {
        for e in std::mem::take(&mut self.execs) {
            let _ = e.pidfd.wait(Some(Duration::from_secs(5)));
            let code = super::setup::reap(e.pid).map(skiff_runtime::signals::exit_code);
            if let (Some(s), Some(code)) = (&e.reply, code) {
                reply(s, &format!("exit {code}"));
            }
            engine.event(
                c,
                "exec_die",
                &[("exitCode", code.unwrap_or(137).to_string())],
            );
        }
        self.clients.clear();
        self.pending.clear();
    }

    /// The container exited with `code`: tell those waiting.
    pub(super) fn exited(&mut self, code: i32) {
        for w in self.waiters.drain(..) {
            reply(&w, &format!("exit {code}"));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A connection's request, once its whole line is there: the request and
/// the fds sent with it; Ok(None) while it is not; Err when the connection
/// closed or sent what is not a request.
fn read_request(stream: &UnixStream) -> Result<Option<(Request, Vec<OwnedFd>)>, ()> {
    use nix::sys::socket::MsgFlags;
    let mut peek = vec![0u8; MAX_REQUEST];
    let n = match nix::sys::socket::recv(
        stream.as_raw_fd(),
        &mut peek,
        MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
    ) {
        Ok(0) => return Err(()),
        Ok(n) => n,
        Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return Ok(None),
        Err(_) => return Err(()),
    };
    let Some(nl) = peek[..n].iter().position(|&b| b == b'\n') else {
        return if n == MAX_REQUEST { Err(()) } else { Ok(None) };
    };
    // Exactly the line (what follows is the client's input), with the fds
    // that came with its first byte.
    let mut line = vec![0u8; nl + 1];
    let mut got = 0;
    let mut fds = Vec::new();
    while got < line.len() {
        let (k, more) = recv_with_fds(stream.as_fd(), &mut line[got..], MsgFlags::MSG_DONTWAIT)
            .map_err(|_| ())?;
        if k == 0 {
            return Err(());
        }
        got += k;
        fds.extend(more);
    }
    let text = String::from_utf8_lossy(&line[..nl]);
    Request::parse(&text).map(|r| Some((r, fds))).ok_or(())
}

/// Start `req`'s process in `c`; its pid and, with a pty, the master.
fn spawn_exec(
    req: &ExecRequest,
    fds: &[OwnedFd],
    engine: &Engine,
    c: &Container,
    n: u64,
) -> Result<(i32, Option<OwnedFd>), String> {
    let o = crate::container::ExecOptions {
        cmd: req.cmd.clone(),
        env: req.env.clone(),
        workdir: req.workdir.clone(),
        user: req.user.clone(),
        privileged: req.privileged,
        tty: req.tty,
        ..Default::default()
    };
    let mut process = engine.exec_process(c, &o).map_err(|e| e.to_string())?;
    let mut console = None;
    if req.tty {
        process.terminal = true;
        process.console_size = req.size.map(|(h, w)| skiff_runtime::spec::ConsoleSize {
            height: h,
            width: w,
        });
    }
    let mut opts = engine.exec_opts(c, process, true);
    if req.tty {
        let path = engine
            .paths
            .runroot
            .join("console")
            .join(format!("exec-{}-{n}.sock", &c.id[..12]));
        console = Some(crate::tty::ConsoleSocket::listen(&path)?);
        opts.console_socket = Some(path);
    } else {
        let [i, o, e] = fds else {
            return Err(format!(
                "exec needs 3 fds for its stdio, {} came",
                fds.len()
            ));
        };
        opts.stdio = Some([i.as_raw_fd(), o.as_raw_fd(), e.as_raw_fd()]);
    }
    let pid =
        skiff_runtime::exec::spawn(&opts).map_err(|e| format!("OCI runtime exec failed: {e}"))?;
    let master = match &console {
        Some(sock) => Some(sock.receive()?),
        None => None,
    };
    Ok((pid, master))
}
