//! The supervisor's poll loop while a container runs: its output into the
//! log and to clients, a client's keystrokes into its pty, requests on the
//! attach socket, health checks, the DNS responder of a container on user
//! networks; until its init exits. No timer runs while it idles: it sleeps
//! in `poll` on its pipes, a pidfd of the init and the sockets.

use super::server::{Server, Token};
use super::setup::{reap, trim_memory};
use super::sink::Sink;
use super::Supervisor;
use crate::model::Container;
use crate::Engine;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// What the supervisor copies between while a container runs.
pub(super) struct PumpIo<'a> {
    /// The container's stdout and stderr (or its pty master, and None).
    pub(super) outputs: [Option<OwnedFd>; 2],
    /// The starting client's stdout and stderr (`run`, `start -a`).
    pub(super) client: [Option<Sink>; 2],
    /// The starting client's keystrokes (`run -it`), for the pty.
    pub(super) client_in: Option<OwnedFd>,
    /// The container's input: its pty master or the stdin pipe we hold.
    pub(super) input: Option<Sink>,
    pub(super) server: Option<&'a mut Server>,
    pub(super) log: Option<crate::logs::LogWriter>,
    /// The DNS responder of a container on user networks.
    pub(super) dns: Option<(skiff_net::dns::Responder, &'a dyn skiff_net::dns::Lookup)>,
}

/// What a poll entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Output(usize),
    Init,
    Health,
    ClientIn,
    Input,
    Client(usize),
    Server(Token),
    Dns,
}

/// The lesser of two poll timeouts (-1: none).
fn min_timeout(a: i32, b: i32) -> i32 {
    match (a < 0, b < 0) {
        (true, _) => b,
        (_, true) => a,
        _ => a.min(b),
    }
}

fn millis(d: Duration) -> i32 {
    // Rounded up, so a poll does not wake just before its time and spin.
    let ms = d.as_micros().div_ceil(1000);
    ms.min(i32::MAX as u128) as i32
}

impl Supervisor {
    /// Copy the container's output until it exits; returns its wait status.
    pub(super) fn pump(
        &mut self,
        pid: i32,
        io: PumpIo<'_>,
        engine: &Engine,
        c: &Container,
        mut health: Option<&mut crate::health::Checker>,
    ) -> i32 {
        let PumpIo {
            outputs,
            mut client,
            mut client_in,
            mut input,
            mut server,
            mut log,
            mut dns,
        } = io;
        let mut open = outputs;
        // `--detach-keys` of the client that ran or started us.
        let mut escape = std::env::var("SKIFF_DETACH_KEYS")
            .ok()
            .and_then(|k| crate::tty::parse_detach_keys(&k).ok())
            .map(crate::tty::Escape::new)
            .unwrap_or_default();
        let mut buf = vec![0u8; 32 * 1024];
        let mut exit: Option<i32> = None;
        let mut exited_at: Option<Instant> = None;
        // Readable when the container's init exits: no timer, no signal.
        let pidfd = skiff_runtime::pidfd::Pidfd::open(pid).ok();
        // Once the container has run quietly for a moment, give back the
        // memory setting up used (not before: a short-lived container's
        // exit is not kept waiting for it); again after each burst of work.
        let mut trimmed = false;
        loop {
            if exit.is_none() {
                exit = reap(pid);
                if exit.is_some() {
                    exited_at = Some(Instant::now());
                }
            }
            if open.iter().all(Option::is_none) {
                if let Some(s) = exit {
                    break self.finish_pump(s, &mut log);
                }
                // Output closed early (the container closed its stdout and
                // stderr): wait for the exit alone, on the pidfd below.
            }
            // Processes left holding the pipes after init exited: stop
            // reading once they are quiet for a while.
            if exited_at.is_some_and(|t| t.elapsed() > Duration::from_secs(2)) {
                break self.finish_pump(exit.unwrap_or(0), &mut log);
            }
            let running = exit.is_none();
            let input_room = input.as_ref().is_some_and(Sink::has_room);
            let mut entries: Vec<(i32, i16, Tag)> = Vec::new();
            for (i, o) in open.iter().enumerate() {
                if let Some(o) = o {
                    entries.push((o.as_raw_fd(), libc::POLLIN, Tag::Output(i)));
                }
            }
            if let (Some(p), true) = (&pidfd, running) {
                entries.push((p.as_raw_fd(), libc::POLLIN, Tag::Init));
            }
            if let (Some(ch), true) = (&health, running) {
                entries.extend(
                    ch.fds()
                        .into_iter()
                        .map(|fd| (fd, libc::POLLIN, Tag::Health)),
                );
            }
            if let (Some(ci), true) = (&client_in, running && self.attached && input_room) {
                entries.push((ci.as_raw_fd(), libc::POLLIN, Tag::ClientIn));
            }
            if let Some(s) = input.as_ref().filter(|s| s.waiting()) {
                entries.push((s.raw(), libc::POLLOUT, Tag::Input));
            }
            for (i, s) in client.iter().enumerate() {
                if let Some(s) = s.as_ref().filter(|s| s.waiting()) {
                    entries.push((s.raw(), libc::POLLOUT, Tag::Client(i)));
                }
            }
            if let (Some(srv), true) = (&server, running) {
                entries.extend(
                    srv.fds(input_room)
                        .into_iter()
                        .map(|(fd, ev, t)| (fd, ev, Tag::Server(t))),
                );
            }
            if let (Some((r, _)), true) = (&dns, running) {
                entries.extend(r.fds().into_iter().map(|fd| (fd, libc::POLLIN, Tag::Dns)));
            }
            let mut fds: Vec<libc::pollfd> = entries
                .iter()
                .map(|(fd, events, _)| libc::pollfd {
                    fd: *fd,
                    events: *events,
                    revents: 0,
                })
                .collect();
            let mut timeout = match (running, pidfd.is_some()) {
                (false, _) => 50,
                (true, true) => -1,
                (true, false) => 100,
            };
            if running {
                if let Some(ch) = &health {
                    timeout = min_timeout(timeout, millis(ch.wait()));
                }
                if !trimmed {
                    timeout = min_timeout(timeout, 200);
                }
                if let Some(t) = server.as_ref().and_then(|s| s.next_timeout()) {
                    timeout = min_timeout(timeout, millis(t));
                }
            }
            if let Some(t) = dns.as_ref().and_then(|(r, _)| r.next_timeout()) {
                timeout = min_timeout(timeout, millis(t));
            }
            if fds.is_empty() && timeout < 0 {
                timeout = 100;
            }
            // SAFETY: a valid pollfd array of its length.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, timeout) };
            if r < 0 {
                continue;
            }
            if r == 0 && !trimmed && running {
                trim_memory(engine);
                trimmed = true;
            }
            if let (Some(ch), true) = (&mut health, running) {
                ch.tick(engine, c);
            }
            if let Some(s) = &mut server {
                s.expire();
            }
            let dns_ready = fds
                .iter()
                .zip(&entries)
                .any(|(p, e)| p.revents != 0 && e.2 == Tag::Dns);
            if let Some((r, lookup)) = &mut dns {
                if dns_ready {
                    r.handle_ready(*lookup);
                }
                r.expire(Instant::now());
            }
            for (p, &(fd, _, tag)) in fds.iter().zip(&entries) {
                if p.revents == 0 {
                    continue;
                }
                match tag {
                    Tag::Init | Tag::Dns => {}
                    // A health check or a client's request (exec, attach,
                    // ...) used the store and the heap: trimmed again once
                    // things are quiet.
                    Tag::Health => trimmed = false,
                    Tag::Server(t) => {
                        trimmed = false;
                        if let Some(s) = &mut server {
                            s.ready(t, &mut input, engine, c);
                        }
                    }
                    Tag::Input => {
                        if input.as_mut().is_some_and(|s| !s.flush()) {
                            input = None;
                        }
                    }
                    Tag::Client(i) => {
                        if client[i].as_mut().is_some_and(|s| !s.flush()) {
                            client[i] = None;
                        }
                    }
                    Tag::ClientIn => {
                        // The client's keystrokes into the pty; ctrl-p ctrl-q
                        // detaches the client.
                        // SAFETY: reading into our buffer from an fd we own.
                        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                        if n <= 0 {
                            client_in = None;
                            continue;
                        }
                        let (data, detach) = escape.feed(&buf[..n as usize]);
                        if let Some(s) = &mut input {
                            if !s.write(&data) {
                                input = None;
                            }
                        }
                        if detach {
                            self.attached = false;
                            client_in = None;
                            client = [None, None];
                            self.say("detached");
                            self.status = None;
                        }
                    }
                    Tag::Output(i) => {
                        // SAFETY: reading into our buffer from an fd we own.
                        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                        if n <= 0 {
                            open[i] = None;
                            continue;
                        }
                        let data = &buf[..n as usize];
                        if let Some(l) = &mut log {
                            let _ = l.write(i as u8 + 1, data);
                        }
                        if self.attached {
                            if let Some(s) = &mut client[i] {
                                if !s.write(data) {
                                    // Too far behind (or gone): it gets no
                                    // more output; the log has it all.
                                    client[i] = None;
                                }
                            }
                        }
                        if let Some(s) = &mut server {
                            s.output(i as u8 + 1, data);
                        }
                    }
                }
            }
        }
    }

    /// The log's unterminated lines out; `status` back.
    fn finish_pump(&mut self, status: i32, log: &mut Option<crate::logs::LogWriter>) -> i32 {
        if let Some(l) = log {
            let _ = l.flush_partial();
        }
        status
    }
}
