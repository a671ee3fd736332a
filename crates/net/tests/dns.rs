//! The embedded DNS responder over real UDP sockets on 127.0.0.1: local
//! answers, forwarding to a fake upstream answered by hand, timeouts,
//! spoofed replies, malformed and random input.

use skiff_net::dns::{self, Lookup, Responder, Table};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const A: u16 = 1;
const PTR: u16 = 12;
const MX: u16 = 15;
const AAAA: u16 = 28;

// ---- a tiny encoder and decoder of our own, independent of the crate's ----

fn labels(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for l in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out
}

/// A query: RD set, one question, class IN.
fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&labels(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

#[derive(Debug)]
struct Reply {
    id: u16,
    flags: u16,
    qdcount: u16,
    question: Option<(String, u16)>,
    /// (type, ttl, rdata)
    answers: Vec<(u16, u32, Vec<u8>)>,
}

impl Reply {
    fn rcode(&self) -> u16 {
        self.flags & 0xf
    }
    fn a(&self) -> Vec<Ipv4Addr> {
        self.answers
            .iter()
            .filter(|(t, _, d)| *t == A && d.len() == 4)
            .map(|(_, _, d)| Ipv4Addr::new(d[0], d[1], d[2], d[3]))
            .collect()
    }
}

/// Reads an uncompressed name, or a name that is a single pointer to 12.
fn read_name(m: &[u8], mut pos: usize) -> (String, usize) {
    let mut parts = Vec::new();
    loop {
        let len = m[pos] as usize;
        if len == 0 {
            return (parts.join("."), pos + 1);
        }
        if len & 0xc0 == 0xc0 {
            assert_eq!(m[pos + 1], 12, "only pointers to the question");
            let (n, _) = read_name(m, 12);
            parts.push(n);
            return (parts.join("."), pos + 2);
        }
        parts.push(String::from_utf8_lossy(&m[pos + 1..pos + 1 + len]).into_owned());
        pos += 1 + len;
    }
}

fn decode(m: &[u8]) -> Reply {
    let w = |i: usize| u16::from_be_bytes([m[i], m[i + 1]]);
    let (qdcount, ancount) = (w(4), w(6));
    let mut pos = 12;
    let mut question = None;
    if qdcount == 1 {
        let (n, p) = read_name(m, pos);
        question = Some((n, w(p)));
        pos = p + 4;
    }
    let mut answers = Vec::new();
    for _ in 0..ancount {
        let (_, p) = read_name(m, pos);
        let t = w(p);
        let ttl = u32::from_be_bytes([m[p + 4], m[p + 5], m[p + 6], m[p + 7]]);
        let len = w(p + 8) as usize;
        answers.push((t, ttl, m[p + 10..p + 10 + len].to_vec()));
        pos = p + 10 + len;
    }
    Reply {
        id: w(0),
        flags: w(2),
        qdcount,
        question,
        answers,
    }
}

// ---- driving the responder ----

/// Polls the responder's fds and `watch` as a supervisor would, handling
/// what is ready and what timed out, until `watch` is readable (true) or
/// `max` passed (false).
fn pump(r: &mut Responder, lookup: &dyn Lookup, watch: &UdpSocket, max: Duration) -> bool {
    let end = Instant::now() + max;
    loop {
        let now = Instant::now();
        if now >= end {
            return false;
        }
        let mut wait = end - now;
        if let Some(t) = r.next_timeout() {
            wait = wait.min(t);
        }
        let mut fds: Vec<libc::pollfd> = std::iter::once(watch.as_raw_fd())
            .chain(r.fds())
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: a valid pollfd array of its length.
        let n = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as _,
                wait.as_millis() as i32 + 1,
            )
        };
        assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
        r.handle_ready(lookup);
        r.expire(Instant::now());
        if fds[0].revents & libc::POLLIN != 0 {
            return true;
        }
    }
}

fn socket() -> UdpSocket {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 4096];
    let (n, from) = s.recv_from(&mut buf).unwrap();
    (buf[..n].to_vec(), from)
}

struct Rig {
    responder: Responder,
    table: Table,
    client: UdpSocket,
    server: SocketAddr,
}

impl Rig {
    fn new(upstreams: Vec<SocketAddr>) -> Rig {
        let listen = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let server = listen.local_addr().unwrap();
        let responder = Responder::new(listen, upstreams).unwrap();
        let mut table = Table::new();
        table.add_a("web", Ipv4Addr::new(172, 18, 0, 2));
        table.add_a("web.mynet", Ipv4Addr::new(172, 18, 0, 2));
        table.add_a("db", Ipv4Addr::new(172, 18, 0, 3));
        table.add_a("db", Ipv4Addr::new(172, 19, 0, 3));
        table.add_name("v6only");
        table.add_ptr(Ipv4Addr::new(172, 18, 0, 2), "web.mynet");
        Rig {
            responder,
            table,
            client: socket(),
            server,
        }
    }

    fn send(&self, msg: &[u8]) {
        self.client.send_to(msg, self.server).unwrap();
    }

    /// Pumps until the client has a datagram, or `None` after `max`.
    fn answer_within(&mut self, max: Duration) -> Option<Vec<u8>> {
        if !pump(&mut self.responder, &self.table, &self.client, max) {
            return None;
        }
        let (m, from) = recv(&self.client);
        assert_eq!(from, self.server);
        Some(m)
    }

    fn ask(&mut self, msg: &[u8]) -> Reply {
        self.send(msg);
        let m = self
            .answer_within(Duration::from_secs(5))
            .expect("an answer");
        decode(&m)
    }

    /// Pumps until `upstream` has a datagram and returns it.
    fn forwarded(&mut self, upstream: &UdpSocket) -> (Vec<u8>, SocketAddr) {
        assert!(
            pump(
                &mut self.responder,
                &self.table,
                upstream,
                Duration::from_secs(5)
            ),
            "nothing forwarded"
        );
        recv(upstream)
    }
}

/// An upstream's answer to `fwd`: its id and question, one A record.
fn upstream_answer(fwd: &[u8], id: u16, ip: Ipv4Addr) -> Vec<u8> {
    let (_, qend) = read_name(fwd, 12);
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    m.extend_from_slice(&fwd[12..qend + 4]);
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 42, 0, 4]);
    m.extend_from_slice(&ip.octets());
    m
}

// ---- local answers ----

#[test]
fn a_for_known_names() {
    let mut rig = Rig::new(vec![]);
    for (id, name) in [(1, "web"), (2, "WEB"), (3, "web."), (4, "Web.MyNet.")] {
        let r = rig.ask(&query(id, name, A));
        assert_eq!(r.id, id);
        assert_ne!(r.flags & 0x8000, 0, "QR");
        // AA clear, as Docker's embedded server answers.
        assert_eq!(r.flags & 0x0400, 0, "AA");
        assert_ne!(r.flags & 0x0100, 0, "RD echoed");
        assert_eq!(r.rcode(), 0);
        assert_eq!(r.qdcount, 1);
        assert_eq!(
            r.question,
            Some((name.trim_end_matches('.').to_string(), A)),
            "question echoed with its case"
        );
        assert_eq!(r.a(), vec![Ipv4Addr::new(172, 18, 0, 2)]);
        assert_eq!(r.answers[0].1, 600);
    }
    let r = rig.ask(&query(5, "db", A));
    assert_eq!(
        r.a(),
        vec![Ipv4Addr::new(172, 18, 0, 3), Ipv4Addr::new(172, 19, 0, 3)]
    );
}

#[test]
fn aaaa_and_other_types_of_known_names_are_empty() {
    let mut rig = Rig::new(vec![]);
    for (name, qtype) in [("web", AAAA), ("DB.", AAAA), ("web", MX), ("v6only", A)] {
        let r = rig.ask(&query(7, name, qtype));
        assert_eq!(r.rcode(), 0, "{name} {qtype}");
        assert!(r.answers.is_empty());
        assert_eq!(
            r.question,
            Some((name.trim_end_matches('.').to_string(), qtype))
        );
    }
}

#[test]
fn ptr_for_known_address() {
    let mut rig = Rig::new(vec![]);
    let name = dns::reverse_name(Ipv4Addr::new(172, 18, 0, 2));
    assert_eq!(name, "2.0.18.172.in-addr.arpa");
    let r = rig.ask(&query(8, &name.to_uppercase(), PTR));
    assert_eq!(r.rcode(), 0);
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].0, PTR);
    assert_eq!(read_name(&r.answers[0].2, 0).0, "web.mynet");
}

#[test]
fn no_upstream_means_servfail() {
    let mut rig = Rig::new(vec![]);
    let r = rig.ask(&query(9, "example.com", A));
    assert_eq!(r.id, 9);
    assert_eq!(r.rcode(), 2);
    assert_eq!(r.flags & 0x0080, 0, "no RA without upstreams");
    assert_eq!(r.question, Some(("example.com".into(), A)));
    // An address that is not ours: SERVFAIL too.
    let r = rig.ask(&query(10, "9.9.18.172.in-addr.arpa", PTR));
    assert_eq!(r.rcode(), 2);
}

// ---- forwarding ----

#[test]
fn unknown_names_are_forwarded_and_relayed() {
    let upstream = socket();
    let mut rig = Rig::new(vec![upstream.local_addr().unwrap()]);
    rig.send(&query(0x4242, "Example.COM", A));
    let (fwd, from) = rig.forwarded(&upstream);
    let fid = u16::from_be_bytes([fwd[0], fwd[1]]);
    assert_ne!(fid, 0x4242, "the id is rewritten");
    assert_eq!(&fwd[2..4], &[0x01, 0x00], "RD passed on");
    assert_eq!(read_name(&fwd, 12).0, "Example.COM");
    assert_eq!(rig.responder.pending(), 1);
    assert!(rig.responder.next_timeout().is_some());

    // A reply with an id not in flight: dropped.
    let wrong = upstream_answer(&fwd, fid.wrapping_add(1), Ipv4Addr::new(192, 0, 2, 66));
    upstream.send_to(&wrong, from).unwrap();
    // A reply with the right id from a socket that is not the upstream:
    // dropped.
    let rogue = socket();
    let spoof = upstream_answer(&fwd, fid, Ipv4Addr::new(192, 0, 2, 66));
    rogue.send_to(&spoof, from).unwrap();
    // A reply with the right id and source but another question: dropped.
    let mut other = upstream_answer(&fwd, fid, Ipv4Addr::new(192, 0, 2, 66));
    other[13] = b'X';
    upstream.send_to(&other, from).unwrap();
    assert!(rig.answer_within(Duration::from_millis(300)).is_none());
    assert_eq!(rig.responder.pending(), 1);

    // The real one, with the question in another case (0x20 style).
    let mut real = upstream_answer(&fwd, fid, Ipv4Addr::new(192, 0, 2, 1));
    real[13] = b'e';
    upstream.send_to(&real, from).unwrap();
    let m = rig.answer_within(Duration::from_secs(5)).expect("relayed");
    assert_eq!(&m[..2], &0x4242u16.to_be_bytes(), "the id is restored");
    assert_eq!(&m[2..], &real[2..], "relayed verbatim");
    let r = decode(&m);
    assert_eq!(r.a(), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(rig.responder.pending(), 0);
    assert!(rig.responder.next_timeout().is_none());

    // A late duplicate: no longer in flight, dropped.
    upstream.send_to(&real, from).unwrap();
    assert!(rig.answer_within(Duration::from_millis(200)).is_none());
}

#[test]
fn aaaa_and_ptr_not_ours_are_forwarded() {
    let upstream = socket();
    let mut rig = Rig::new(vec![upstream.local_addr().unwrap()]);
    rig.send(&query(1, "example.org", AAAA));
    let (fwd, _) = rig.forwarded(&upstream);
    assert_eq!(read_name(&fwd, 12).0, "example.org");
    rig.send(&query(2, "9.9.18.172.in-addr.arpa", PTR));
    let (fwd, _) = rig.forwarded(&upstream);
    assert_eq!(read_name(&fwd, 12).0, "9.9.18.172.in-addr.arpa");
    assert_eq!(rig.responder.pending(), 2);
}

#[test]
fn upstream_timeout_gives_servfail() {
    let upstream = socket();
    let mut rig = Rig::new(vec![upstream.local_addr().unwrap()]);
    rig.responder.set_timeout(Duration::from_millis(150));
    let start = Instant::now();
    rig.send(&query(0x0101, "slow.example", A));
    let m = rig.answer_within(Duration::from_secs(5)).expect("SERVFAIL");
    assert!(start.elapsed() >= Duration::from_millis(150));
    let r = decode(&m);
    assert_eq!(r.id, 0x0101);
    assert_eq!(r.rcode(), 2);
    assert_eq!(r.question, Some(("slow.example".into(), A)));
    assert_eq!(rig.responder.pending(), 0);
    // One upstream: asked once.
    let (fwd, _) = recv(&upstream);
    assert_eq!(read_name(&fwd, 12).0, "slow.example");
    upstream.set_nonblocking(true).unwrap();
    assert!(upstream.recv_from(&mut [0u8; 512]).is_err());
}

#[test]
fn timeout_tries_the_next_upstream_once() {
    let (first, second) = (socket(), socket());
    let mut rig = Rig::new(vec![
        first.local_addr().unwrap(),
        second.local_addr().unwrap(),
    ]);
    rig.responder.set_timeout(Duration::from_millis(150));
    rig.send(&query(0x0202, "retry.example", A));
    let (f1, _) = rig.forwarded(&first);
    let (f2, from) = rig.forwarded(&second);
    assert_ne!(&f1[..2], &f2[..2], "a fresh id for the retry");
    assert_eq!(&f1[2..], &f2[2..]);
    // The first one answering late is ignored.
    first
        .send_to(
            &upstream_answer(
                &f1,
                u16::from_be_bytes([f1[0], f1[1]]),
                Ipv4Addr::new(192, 0, 2, 9),
            ),
            from,
        )
        .unwrap();
    let id2 = u16::from_be_bytes([f2[0], f2[1]]);
    second
        .send_to(
            &upstream_answer(&f2, id2, Ipv4Addr::new(192, 0, 2, 2)),
            from,
        )
        .unwrap();
    let r = decode(&rig.answer_within(Duration::from_secs(5)).expect("answer"));
    assert_eq!(r.id, 0x0202);
    assert_eq!(r.a(), vec![Ipv4Addr::new(192, 0, 2, 2)]);
    assert!(rig.answer_within(Duration::from_millis(200)).is_none());

    // Both silent: SERVFAIL after two attempts. The second answered last,
    // so it is asked first now.
    rig.send(&query(0x0303, "dead.example", A));
    let m = rig.answer_within(Duration::from_secs(5)).expect("SERVFAIL");
    assert_eq!(decode(&m).rcode(), 2);
    let (s1, _) = recv(&second);
    let (f1, _) = recv(&first);
    assert_eq!(read_name(&s1, 12).0, "dead.example");
    assert_eq!(read_name(&f1, 12).0, "dead.example");
}

#[test]
fn upstream_servfail_tries_the_next() {
    let (first, second) = (socket(), socket());
    let mut rig = Rig::new(vec![
        first.local_addr().unwrap(),
        second.local_addr().unwrap(),
    ]);
    rig.send(&query(0x0404, "flaky.example", A));
    let (f1, from) = rig.forwarded(&first);
    let mut fail = upstream_answer(&f1, u16::from_be_bytes([f1[0], f1[1]]), Ipv4Addr::LOCALHOST);
    fail[3] = 0x82; // RA, SERVFAIL
    fail[7] = 0; // no answers
    fail.truncate(fail.len() - 16);
    first.send_to(&fail, from).unwrap();
    let (f2, _) = rig.forwarded(&second);
    let id2 = u16::from_be_bytes([f2[0], f2[1]]);
    second
        .send_to(
            &upstream_answer(&f2, id2, Ipv4Addr::new(192, 0, 2, 4)),
            from,
        )
        .unwrap();
    let r = decode(&rig.answer_within(Duration::from_secs(5)).expect("answer"));
    assert_eq!((r.id, r.rcode()), (0x0404, 0));
    assert_eq!(r.a(), vec![Ipv4Addr::new(192, 0, 2, 4)]);
}

#[test]
fn pending_table_is_bounded() {
    let upstream = socket();
    let mut rig = Rig::new(vec![upstream.local_addr().unwrap()]);
    rig.responder.set_max_pending(2);
    rig.send(&query(1, "a.example", A));
    rig.forwarded(&upstream);
    rig.send(&query(2, "b.example", A));
    rig.forwarded(&upstream);
    let r = rig.ask(&query(3, "c.example", A));
    assert_eq!((r.id, r.rcode()), (3, 5), "REFUSED when full");
    assert_eq!(rig.responder.pending(), 2);
    // Local names are still answered.
    assert_eq!(rig.ask(&query(4, "web", A)).rcode(), 0);
}

// ---- bad input ----

#[test]
fn malformed_queries() {
    let mut rig = Rig::new(vec![]);
    // Shorter than a header: nothing.
    rig.send(&[0x12, 0x34, 0x01, 0x00, 0x00]);
    assert!(rig.answer_within(Duration::from_millis(200)).is_none());
    // A response: nothing.
    let mut resp = query(5, "web", A);
    resp[2] |= 0x80;
    rig.send(&resp);
    assert!(rig.answer_within(Duration::from_millis(200)).is_none());

    let header = |id: u16| {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        m
    };
    let mut bad = Vec::new();
    // A pointer to itself.
    let mut m = header(0x0a01);
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    bad.push(m);
    // Two pointers to each other.
    let mut m = header(0x0a02);
    m.extend_from_slice(&[0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
    bad.push(m);
    // A label of 64 bytes.
    let mut m = header(0x0a03);
    m.push(64);
    m.extend_from_slice(&[b'a'; 64]);
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    bad.push(m);
    // A name of 5 * 64 bytes.
    let mut m = header(0x0a04);
    for _ in 0..5 {
        m.push(63);
        m.extend_from_slice(&[b'a'; 63]);
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    bad.push(m);
    // Cut in the middle of the question.
    let mut m = query(0x0a05, "web", A);
    m.truncate(m.len() - 3);
    bad.push(m);
    // Two questions.
    let mut m = query(0x0a06, "web", A);
    m[5] = 2;
    bad.push(m);
    for m in bad {
        let r = rig.ask(&m);
        assert_eq!(r.id, u16::from_be_bytes([m[0], m[1]]));
        assert_eq!(r.rcode(), 1, "FORMERR for {:02x?}", &m[..4]);
        assert_eq!(r.qdcount, 0);
    }
    // Still answering.
    let r = rig.ask(&query(0x0b00, "web", A));
    assert_eq!(r.a(), vec![Ipv4Addr::new(172, 18, 0, 2)]);
}

/// xorshift64*: reproducible random bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_input_does_not_panic() {
    let table = Rig::new(vec![]).table;
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let seed = query(0x7777, "web.mynet", A);
    for i in 0..10_000 {
        let msg: Vec<u8> = if i % 2 == 0 {
            // Random bytes.
            let len = rng.below(600);
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            // A valid query with a few bytes changed, some of them into
            // pointers, and maybe cut or extended.
            let mut m = seed.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(m.len());
                m[at] = if rng.below(3) == 0 {
                    0xc0
                } else {
                    rng.next() as u8
                };
            }
            match rng.below(3) {
                0 => m.truncate(rng.below(m.len() + 1)),
                1 => m.extend((0..rng.below(40)).map(|_| rng.next() as u8)),
                _ => {}
            }
            m
        };
        let _ = dns::parse_query(&msg);
        let _ = dns::Header::parse(&msg);
        if msg.len() > 12 {
            let _ = dns::Name::parse(&msg, 12);
        }
        match dns::decide(&msg, &table, i % 3 != 0) {
            dns::Outcome::Reply(r) => assert!(r.len() >= 12 && r.len() <= 1232),
            dns::Outcome::Drop | dns::Outcome::Forward(_) => {}
        }
    }
}

#[test]
fn random_datagrams_to_the_responder() {
    let upstream = socket();
    let mut rig = Rig::new(vec![upstream.local_addr().unwrap()]);
    let mut rng = Rng(0xdead_beef_0bad_f00d);
    for _ in 0..300 {
        let len = rng.below(100);
        let m: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        rig.send(&m);
        // Random replies at the responder's upstream socket are not
        // possible to aim without its port; the client's junk is enough.
    }
    // Drain whatever answers came, then check it still works.
    while rig.answer_within(Duration::from_millis(100)).is_some() {}
    let r = rig.ask(&query(0x0c00, "DB", A));
    assert_eq!(r.id, 0x0c00);
    assert_eq!(r.a().len(), 2);
}

#[test]
fn resolv_conf_upstreams() {
    let ups = dns::upstreams_from_resolv_conf(
        "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\nnameserver ::1\n",
    );
    assert_eq!(
        ups,
        vec![
            "127.0.0.53:53".parse::<SocketAddr>().unwrap(),
            "[::1]:53".parse().unwrap()
        ]
    );
}
