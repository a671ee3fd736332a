//! The `Responder`: the sockets, answering clients, and forwarding to the
//! upstream resolvers with timeouts and retries.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use super::{
    decide, encode_query, Edns, Header, Lookup, Outcome, Query, Question, Rcode, Response, FLAG_AD,
    FLAG_CD, FLAG_RD, MIN_UDP_SIZE,
};

/// The largest query accepted from a client; longer ones are dropped.
pub const MAX_QUERY: usize = 4096;
/// Default for how long an upstream has to answer before the query is sent
/// to the next upstream or answered SERVFAIL (Docker waits 4 s too; stub
/// resolvers usually wait 5 s before they retry).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(4);
/// Default bound on the queries forwarded and not yet answered (Docker's
/// figure too).
pub const DEFAULT_MAX_PENDING: usize = 1024;
/// How many upstreams one query is sent to, at most: the first, then the
/// next one once if the first times out or answers SERVFAIL or REFUSED.
pub const MAX_ATTEMPTS: usize = 2;

/// Upper bound for [`Responder::set_max_pending`], so that a fresh query
/// id is always quick to find among the 65536.
const PENDING_CAP: usize = 4096;
/// How many datagrams one socket is read for per [`Responder::handle_ready`]
/// call, so that a flood cannot starve the rest of the supervisor's loop.
const BUDGET: usize = 256;
/// Receive buffer: the largest UDP payload.
const BUF_SIZE: usize = 65536;

/// A query sent upstream and not answered yet.
struct Pending {
    client: SocketAddr,
    query: Query,
    /// The query as sent upstream (its id rewritten for each attempt).
    wire: Vec<u8>,
    /// Index of the upstream of the first attempt.
    first: usize,
    /// Attempts made so far.
    attempts: usize,
    /// Index and address of the upstream of the current attempt.
    upstream_idx: usize,
    upstream: SocketAddr,
    deadline: Instant,
}

/// Random query ids, from getrandom(2) in batches.
pub(super) struct Ids {
    pool: [u8; 128],
    at: usize,
    fallback: u64,
}

impl Ids {
    pub(super) fn new() -> Ids {
        let mut ids = Ids {
            pool: [0; 128],
            at: 128,
            fallback: 0,
        };
        ids.refill();
        ids
    }

    pub(super) fn next(&mut self) -> u16 {
        if self.at + 2 > self.pool.len() {
            self.refill();
        }
        let v = u16::from_be_bytes([self.pool[self.at], self.pool[self.at + 1]]);
        self.at += 2;
        v
    }

    fn refill(&mut self) {
        let len = self.pool.len();
        let mut filled = 0;
        while filled < len {
            let rest = &mut self.pool[filled..];
            // SAFETY: getrandom writes at most `rest.len()` bytes into
            // `rest`, a live buffer we own.
            let n = unsafe {
                libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), libc::GRND_NONBLOCK)
            };
            if n > 0 {
                filled += n as usize;
                continue;
            }
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // No entropy yet (early boot) or no getrandom: a splitmix64
            // stream seeded from the clock, better than nothing.
            if self.fallback == 0 {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                self.fallback = (t.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32);
            }
            for b in &mut self.pool[filled..] {
                self.fallback = self.fallback.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = self.fallback;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                *b = (z ^ (z >> 31)) as u8;
            }
            break;
        }
        self.at = 0;
    }
}

/// The embedded DNS responder: answers local names, forwards the rest.
/// See the module documentation for how to drive it.
pub struct Responder {
    listen: UdpSocket,
    up4: Option<UdpSocket>,
    up6: Option<UdpSocket>,
    upstreams: Vec<SocketAddr>,
    /// Where new queries go first: the last upstream that answered, moved
    /// on when it times out.
    preferred: usize,
    pending: HashMap<u16, Pending>,
    timeout: Duration,
    max_pending: usize,
    ids: Ids,
    buf: Vec<u8>,
}

impl Responder {
    /// A responder answering on `listen` (already bound, in whatever
    /// network namespace) and forwarding to `upstreams` from sockets opened
    /// now, in the caller's network namespace. Sockets are made
    /// non-blocking. With no upstreams, names not ours get SERVFAIL.
    pub fn new(listen: UdpSocket, upstreams: Vec<SocketAddr>) -> io::Result<Responder> {
        listen.set_nonblocking(true)?;
        let mut r = Responder {
            listen,
            up4: None,
            up6: None,
            upstreams: Vec::new(),
            preferred: 0,
            pending: HashMap::new(),
            timeout: DEFAULT_TIMEOUT,
            max_pending: DEFAULT_MAX_PENDING,
            ids: Ids::new(),
            buf: vec![0; BUF_SIZE],
        };
        r.set_upstreams(upstreams)?;
        Ok(r)
    }

    /// Replaces the upstreams (the host's resolv.conf changed), opening a
    /// socket for a family not used before. Queries in flight still take
    /// their answer from the upstream they were sent to.
    pub fn set_upstreams(&mut self, upstreams: Vec<SocketAddr>) -> io::Result<()> {
        let mut list: Vec<SocketAddr> = Vec::new();
        for u in upstreams {
            if !list.contains(&u) {
                list.push(u);
            }
        }
        if self.up4.is_none() && list.iter().any(SocketAddr::is_ipv4) {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
            s.set_nonblocking(true)?;
            self.up4 = Some(s);
        }
        if self.up6.is_none() && list.iter().any(SocketAddr::is_ipv6) {
            let s = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))?;
            s.set_nonblocking(true)?;
            self.up6 = Some(s);
        }
        self.upstreams = list;
        self.preferred = 0;
        Ok(())
    }

    /// The upstreams, in order.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// How long an upstream has to answer ([`DEFAULT_TIMEOUT`]).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The bound on queries in flight upstream ([`DEFAULT_MAX_PENDING`];
    /// at least 1, at most 4096). A query arriving when it is reached gets
    /// REFUSED, as with Docker.
    pub fn set_max_pending(&mut self, n: usize) {
        self.max_pending = n.clamp(1, PENDING_CAP);
    }

    /// Queries in flight upstream.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The address clients send to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listen.local_addr()
    }

    /// The fds to poll for `POLLIN`: the listening socket and the upstream
    /// sockets.
    pub fn fds(&self) -> Vec<RawFd> {
        std::iter::once(self.listen.as_raw_fd())
            .chain(self.up4.as_ref().map(|s| s.as_raw_fd()))
            .chain(self.up6.as_ref().map(|s| s.as_raw_fd()))
            .collect()
    }

    /// When the earliest query in flight times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// How long the poll may sleep before [`Responder::expire`] is due,
    /// rounded up to the next millisecond so the poll does not wake early
    /// and spin; `None` when nothing is in flight.
    pub fn next_timeout(&self) -> Option<Duration> {
        let d = self
            .next_deadline()?
            .saturating_duration_since(Instant::now());
        Some(if d.is_zero() {
            d
        } else {
            Duration::from_millis(d.as_millis() as u64 + 1)
        })
    }

    /// Reads what the sockets hold, without blocking: answers or forwards
    /// client queries, relays upstream replies. Reads at most 256
    /// datagrams per socket; poll again says if more are waiting.
    pub fn handle_ready(&mut self, lookup: &dyn Lookup) {
        let mut buf = std::mem::take(&mut self.buf);
        for _ in 0..BUDGET {
            match self.listen.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if n <= MAX_QUERY {
                        self.on_query(&buf[..n], from, lookup);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            }
        }
        for v6 in [false, true] {
            for _ in 0..BUDGET {
                let sock = if v6 { &self.up6 } else { &self.up4 };
                let Some(sock) = sock else { break };
                match sock.recv_from(&mut buf) {
                    Ok((n, from)) => self.on_reply(&mut buf[..n], from),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => continue,
                }
            }
        }
        self.buf = buf;
    }

    /// Handles the queries whose upstream did not answer by `now`: sent to
    /// the next upstream once, or answered SERVFAIL.
    pub fn expire(&mut self, now: Instant) {
        let due: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            if self.preferred == p.upstream_idx && !self.upstreams.is_empty() {
                self.preferred = (p.upstream_idx + 1) % self.upstreams.len();
            }
            self.send_upstream(p, now);
        }
    }

    fn on_query(&mut self, packet: &[u8], from: SocketAddr, lookup: &dyn Lookup) {
        let query = match decide(packet, lookup, !self.upstreams.is_empty()) {
            Outcome::Drop => return,
            Outcome::Reply(r) => {
                self.reply(&r, from);
                return;
            }
            Outcome::Forward(q) => q,
        };
        if self.pending.len() >= self.max_pending {
            let r = Response {
                recursion_available: true,
                ..Response::new(&query, Rcode::Refused)
            };
            self.reply(&r.encode(), from);
            return;
        }
        // Re-encoded rather than passed on: only the question, the RD, AD
        // and CD flags and the client's EDNS size and DO bit go upstream,
        // so what is kept per query stays small.
        let edns = query.edns.map(|e| Edns {
            udp_size: e.udp_size.max(MIN_UDP_SIZE as u16),
            version: 0,
            dnssec_ok: e.dnssec_ok,
        });
        let wire = encode_query(
            0,
            query.flags & (FLAG_RD | FLAG_AD | FLAG_CD),
            &query.question,
            edns,
        );
        let first = self.preferred % self.upstreams.len();
        let p = Pending {
            client: from,
            query,
            wire,
            first,
            attempts: 0,
            upstream_idx: first,
            upstream: self.upstreams[first],
            deadline: Instant::now(),
        };
        self.send_upstream(p, Instant::now());
    }

    /// Sends `p` to its next upstream with a fresh id and records it; when
    /// its attempts are used up (or every send fails), answers SERVFAIL.
    fn send_upstream(&mut self, mut p: Pending, now: Instant) {
        let n = self.upstreams.len();
        while n > 0 && p.attempts < MAX_ATTEMPTS.min(n) {
            let idx = (p.first + p.attempts) % n;
            p.attempts += 1;
            let to = self.upstreams[idx];
            let id = self.fresh_id(p.query.id);
            let sock = match to {
                SocketAddr::V4(_) => self.up4.as_ref(),
                SocketAddr::V6(_) => self.up6.as_ref(),
            };
            let Some(sock) = sock else { continue };
            p.wire[..2].copy_from_slice(&id.to_be_bytes());
            if sock.send_to(&p.wire, to).is_ok() {
                p.upstream_idx = idx;
                p.upstream = to;
                p.deadline = now + self.timeout;
                self.pending.insert(id, p);
                return;
            }
        }
        let r = Response {
            recursion_available: n > 0,
            ..Response::new(&p.query, Rcode::ServFail)
        };
        self.reply(&r.encode(), p.client);
    }

    /// A random id not in flight and not the client's own (so the rewrite
    /// is always visible).
    fn fresh_id(&mut self, client_id: u16) -> u16 {
        loop {
            let id = self.ids.next();
            if id != client_id && !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    fn on_reply(&mut self, msg: &mut [u8], from: SocketAddr) {
        let Ok(h) = Header::parse(msg) else { return };
        if !h.qr() {
            return;
        }
        let Some(p) = self.pending.get(&h.id) else {
            return;
        };
        // From the upstream it was sent to, or it is spoofed.
        if from.ip() != p.upstream.ip() || from.port() != p.upstream.port() {
            return;
        }
        // The same question, or nothing (an error reply to a query the
        // upstream could not parse).
        match h.qdcount {
            0 if h.rcode() != 0 => {}
            1 => match Question::parse(msg, 12) {
                Ok((q, _)) if q.matches(&p.query.question) => {}
                _ => return,
            },
            _ => return,
        }
        let Some(p) = self.pending.remove(&h.id) else {
            return;
        };
        let rcode = h.rcode();
        // SERVFAIL and REFUSED can be one upstream's trouble: ask the next.
        if (rcode == 2 || rcode == 5) && p.attempts < MAX_ATTEMPTS.min(self.upstreams.len()) {
            self.send_upstream(p, Instant::now());
            return;
        }
        if rcode != 2 && rcode != 5 {
            self.preferred = p.upstream_idx;
        }
        msg[..2].copy_from_slice(&p.query.id.to_be_bytes());
        self.reply(msg, p.client);
    }

    fn reply(&self, msg: &[u8], to: SocketAddr) {
        // A full socket buffer or a vanished client loses the answer, as
        // UDP may; the client retries.
        let _ = self.listen.send_to(msg, to);
    }
}
