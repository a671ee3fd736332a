//! DNS messages and the embedded responder.
//!
//! Containers on a user-defined network resolve each other by name, as with
//! Docker's embedded DNS: the container's `/etc/resolv.conf` names
//! `127.0.0.11`, and the container's supervisor holds a UDP socket bound to
//! `127.0.0.11:53` in the container's network namespace. A [`Responder`]
//! answers from that socket: names the caller's [`Lookup`] knows (containers
//! on the same networks, their aliases, and the reverse names of their
//! addresses) are answered here; every other query is forwarded to the
//! host's resolvers over a socket of the responder's own, opened in the
//! network namespace of the caller of [`Responder::new`] (the host's, so
//! loopback resolvers such as systemd-resolved's `127.0.0.53` work), and the
//! upstream's reply is relayed back.
//!
//! The responder is sync and single-threaded, made for a `poll(2)` loop: add
//! [`Responder::fds`] to the poll set with `POLLIN`, sleep at most
//! [`Responder::next_timeout`], then call [`Responder::handle_ready`] and
//! [`Responder::expire`]. All its sockets are non-blocking; one call never
//! waits and handles a bounded number of datagrams.
//!
//! ```no_run
//! use skiff_net::dns::{upstreams_from_resolv_conf, Responder, Table};
//! use std::net::{Ipv4Addr, UdpSocket};
//! use std::time::Instant;
//!
//! # fn main() -> std::io::Result<()> {
//! // Bound while in the container's network namespace (setns there and
//! // back), the rest in the host's.
//! let listen = UdpSocket::bind("127.0.0.11:53")?;
//! let conf = std::fs::read_to_string("/etc/resolv.conf")?;
//! let mut dns = Responder::new(listen, upstreams_from_resolv_conf(&conf))?;
//! // Any `Lookup`: here a table, rebuilt when the network's members change.
//! let mut names = Table::new();
//! names.add_a("web", Ipv4Addr::new(172, 18, 0, 2));
//! loop {
//!     let mut fds: Vec<libc::pollfd> = dns
//!         .fds()
//!         .into_iter()
//!         .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
//!         .collect();
//!     // ...plus the supervisor's own fds, and the minimum of its timeouts.
//!     let timeout = dns.next_timeout().map_or(-1, |d| d.as_millis().min(60_000) as i32);
//!     // SAFETY: a valid pollfd array of its length.
//!     unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as _, timeout) };
//!     dns.handle_ready(&names);
//!     dns.expire(Instant::now());
//! }
//! # }
//! ```
//!
//! Only UDP is served. A local answer that does not fit the client's size
//! (512 bytes, or the UDP size its EDNS OPT record advertises) is trimmed to
//! the records that fit and has TC set; a client that then retries over TCP
//! finds nothing listening there. Forwarded replies are relayed as the
//! upstream sent them (TC included).
//!
//! The message code (parsing queries, building responses) is here too, with
//! no other DNS library: names are parsed with compression pointers allowed
//! only backwards and at most [`MAX_POINTERS`] of them, labels up to 63 bytes
//! and names up to 255 bytes on the wire.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type PTR.
pub const TYPE_PTR: u16 = 12;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// The EDNS pseudo record type OPT.
pub const TYPE_OPT: u16 = 41;
/// Query type ANY (`*`).
pub const TYPE_ANY: u16 = 255;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Query class ANY.
pub const CLASS_ANY: u16 = 255;

/// Header flag: this is a response.
pub const FLAG_QR: u16 = 0x8000;
/// Header flag: authoritative answer.
pub const FLAG_AA: u16 = 0x0400;
/// Header flag: truncated.
pub const FLAG_TC: u16 = 0x0200;
/// Header flag: recursion desired.
pub const FLAG_RD: u16 = 0x0100;
/// Header flag: recursion available.
pub const FLAG_RA: u16 = 0x0080;
/// Header flag: authentic data (DNSSEC).
pub const FLAG_AD: u16 = 0x0020;
/// Header flag: checking disabled (DNSSEC).
pub const FLAG_CD: u16 = 0x0010;

/// The TTL of local answers, as Docker's embedded DNS uses.
pub const TTL: u32 = 600;
/// The largest response to a client that sent no EDNS OPT record.
pub const MIN_UDP_SIZE: usize = 512;
/// The UDP payload size this responder advertises in its OPT records, and
/// the cap on the size a client may ask for (the DNS flag day 2020 figure).
pub const EDNS_UDP_SIZE: u16 = 1232;
/// The largest query accepted from a client; longer ones are dropped.
pub const MAX_QUERY: usize = 4096;
/// How many compression pointers one name may follow.
pub const MAX_POINTERS: usize = 32;
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

/// Why a message could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message truncated")]
    Short,
    #[error("not a query (QR set)")]
    NotAQuery,
    #[error("{0} questions (one is supported)")]
    QuestionCount(u16),
    #[error("label longer than 63 bytes or of an unknown type")]
    BadLabel,
    #[error("name longer than 255 bytes")]
    NameTooLong,
    #[error("compression pointer not pointing backwards")]
    BadPointer,
    #[error("too many compression pointers")]
    PointerLoop,
    #[error("bad or repeated OPT record")]
    BadOpt,
    #[error("empty label in a name")]
    EmptyLabel,
}

/// A response code, including EDNS's BADVERS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    /// EDNS version not supported (16; needs an OPT record to be sent).
    BadVers,
}

impl Rcode {
    /// The 12-bit code: the header holds the low 4 bits, the OPT record the
    /// rest.
    pub fn value(self) -> u16 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
            Rcode::BadVers => 16,
        }
    }
}

/// A message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    /// The first 12 bytes of `msg`.
    pub fn parse(msg: &[u8]) -> Result<Header, ParseError> {
        if msg.len() < 12 {
            return Err(ParseError::Short);
        }
        let w = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
        Ok(Header {
            id: w(0),
            flags: w(2),
            qdcount: w(4),
            ancount: w(6),
            nscount: w(8),
            arcount: w(10),
        })
    }

    /// Whether this is a response.
    pub fn qr(&self) -> bool {
        self.flags & FLAG_QR != 0
    }

    /// The opcode (0 for a standard query).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    /// The header's 4-bit response code.
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for v in [
            self.id,
            self.flags,
            self.qdcount,
            self.ancount,
            self.nscount,
            self.arcount,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

/// A domain name in wire form, uncompressed: length-prefixed labels ending
/// with the root's zero byte, at most 255 bytes, case as received.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    wire: Vec<u8>,
}

impl Name {
    /// The root name.
    pub fn root() -> Name {
        Name { wire: vec![0] }
    }

    /// A name from its dotted text form (`web`, `web.`, `a.b.c`): no
    /// escapes, labels of 1 to 63 bytes, at most 255 bytes on the wire; the
    /// empty string and `.` are the root.
    pub fn from_dotted(s: &str) -> Result<Name, ParseError> {
        let s = s.strip_suffix('.').unwrap_or(s);
        let mut wire = Vec::with_capacity(s.len() + 2);
        if !s.is_empty() {
            for label in s.split('.') {
                if label.is_empty() {
                    return Err(ParseError::EmptyLabel);
                }
                if label.len() > 63 {
                    return Err(ParseError::BadLabel);
                }
                wire.push(label.len() as u8);
                wire.extend_from_slice(label.as_bytes());
            }
        }
        wire.push(0);
        if wire.len() > 255 {
            return Err(ParseError::NameTooLong);
        }
        Ok(Name { wire })
    }

    /// Reads the name at `pos` in `msg`, following compression pointers.
    /// Returns it and the position after it (after the first pointer, if
    /// any). Pointers must point strictly before the labels that led to
    /// them, which rules out loops; at most [`MAX_POINTERS`] are followed.
    pub fn parse(msg: &[u8], pos: usize) -> Result<(Name, usize), ParseError> {
        let mut wire = Vec::with_capacity(32);
        let mut pos = pos;
        // Where the labels being read started: a pointer must go below it.
        let mut floor = pos;
        let mut end = None;
        let mut jumps = 0;
        loop {
            let len = *msg.get(pos).ok_or(ParseError::Short)? as usize;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    wire.push(0);
                    if wire.len() > 255 {
                        return Err(ParseError::NameTooLong);
                    }
                    return Ok((Name { wire }, end.unwrap_or(pos + 1)));
                }
                0x00 => {
                    let label = msg.get(pos + 1..pos + 1 + len).ok_or(ParseError::Short)?;
                    wire.push(len as u8);
                    wire.extend_from_slice(label);
                    // Room must remain for the root's byte.
                    if wire.len() + 1 > 255 {
                        return Err(ParseError::NameTooLong);
                    }
                    pos += 1 + len;
                }
                0xc0 => {
                    let low = *msg.get(pos + 1).ok_or(ParseError::Short)? as usize;
                    let target = ((len & 0x3f) << 8) | low;
                    if end.is_none() {
                        end = Some(pos + 2);
                    }
                    jumps += 1;
                    if jumps > MAX_POINTERS {
                        return Err(ParseError::PointerLoop);
                    }
                    if target >= floor {
                        return Err(ParseError::BadPointer);
                    }
                    floor = target;
                    pos = target;
                }
                // 0x40 (extended label types) and 0x80 (reserved): a label
                // length over 63.
                _ => return Err(ParseError::BadLabel),
            }
        }
    }

    /// The wire form.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The labels, root excluded.
    pub fn labels(&self) -> Labels<'_> {
        Labels {
            wire: &self.wire,
            pos: 0,
        }
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// Equality ignoring ASCII case, as DNS compares names.
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }

    /// The dotted form given to [`Lookup::lookup_a`]: ASCII lowercased, no
    /// trailing dot (the root is the empty string). Bytes other than
    /// letters, digits, `-` and `_` are escaped as in zone files (`\.`,
    /// `\\`, `\DDD`), so a label holding a dot cannot pass for two labels.
    pub fn to_lookup_key(&self) -> String {
        let mut s = String::with_capacity(self.wire.len());
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                s.push('.');
            }
            for &b in label {
                let b = b.to_ascii_lowercase();
                match b {
                    b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => s.push(b as char),
                    b'.' | b'\\' => {
                        s.push('\\');
                        s.push(b as char);
                    }
                    0x21..=0x7e => s.push(b as char),
                    _ => s.push_str(&format!("\\{b:03}")),
                }
            }
        }
        s
    }
}

impl fmt::Display for Name {
    /// The dotted form with its case kept and a trailing dot.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", b as char)?,
                    0x21..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// The labels of a [`Name`].
pub struct Labels<'a> {
    wire: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.wire.get(self.pos)? as usize;
        if len == 0 {
            return None;
        }
        let label = self.wire.get(self.pos + 1..self.pos + 1 + len)?;
        self.pos += 1 + len;
        Some(label)
    }
}

/// The question of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

impl Question {
    /// Reads a question at `pos`; returns it and the position after it.
    pub fn parse(msg: &[u8], pos: usize) -> Result<(Question, usize), ParseError> {
        let (name, pos) = Name::parse(msg, pos)?;
        let b = msg.get(pos..pos + 4).ok_or(ParseError::Short)?;
        let q = Question {
            name,
            qtype: u16::from_be_bytes([b[0], b[1]]),
            qclass: u16::from_be_bytes([b[2], b[3]]),
        };
        Ok((q, pos + 4))
    }

    /// Same name (ignoring case), type and class.
    pub fn matches(&self, other: &Question) -> bool {
        self.qtype == other.qtype
            && self.qclass == other.qclass
            && self.name.eq_ignore_case(&other.name)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.name.wire());
        out.extend_from_slice(&self.qtype.to_be_bytes());
        out.extend_from_slice(&self.qclass.to_be_bytes());
    }
}

/// What a query's EDNS OPT record said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// The largest UDP response the client accepts.
    pub udp_size: u16,
    pub version: u8,
    /// The DO bit: the client wants DNSSEC records.
    pub dnssec_ok: bool,
}

/// A parsed query: one question, and the OPT record if there was one.
/// Records in the answer and authority sections, and other additional
/// records, are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// The header flags as the client sent them.
    pub flags: u16,
    pub question: Question,
    pub edns: Option<Edns>,
}

impl Query {
    /// The opcode (0 for a standard query).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    /// Whether the client asked for recursion.
    pub fn rd(&self) -> bool {
        self.flags & FLAG_RD != 0
    }

    /// The largest response this client takes over UDP: 512 bytes, or what
    /// its OPT record advertises, capped at [`EDNS_UDP_SIZE`].
    pub fn max_response_size(&self) -> usize {
        match self.edns {
            Some(e) => (e.udp_size as usize).clamp(MIN_UDP_SIZE, EDNS_UDP_SIZE as usize),
            None => MIN_UDP_SIZE,
        }
    }
}

/// Parses a query: a header with QR clear, exactly one question, and any
/// records after it (only an OPT record in the additional section is kept;
/// two OPT records, or one not owned by the root, are an error).
pub fn parse_query(msg: &[u8]) -> Result<Query, ParseError> {
    let h = Header::parse(msg)?;
    if h.qr() {
        return Err(ParseError::NotAQuery);
    }
    if h.qdcount != 1 {
        return Err(ParseError::QuestionCount(h.qdcount));
    }
    let (question, mut pos) = Question::parse(msg, 12)?;
    let mut edns = None;
    let records = h.ancount as usize + h.nscount as usize + h.arcount as usize;
    let additional_from = h.ancount as usize + h.nscount as usize;
    for i in 0..records {
        let (name, p) = Name::parse(msg, pos)?;
        let fixed = msg.get(p..p + 10).ok_or(ParseError::Short)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        let next = p + 10 + rdlen;
        if next > msg.len() {
            return Err(ParseError::Short);
        }
        if rtype == TYPE_OPT {
            if i < additional_from || edns.is_some() || !name.is_root() {
                return Err(ParseError::BadOpt);
            }
            edns = Some(Edns {
                udp_size: class,
                version: (ttl >> 16) as u8,
                dnssec_ok: ttl & 0x8000 != 0,
            });
        }
        pos = next;
    }
    Ok(Query {
        id: h.id,
        flags: h.flags,
        question,
        edns,
    })
}

/// The data of an answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Ptr(Name),
}

impl RData {
    /// The record type.
    pub fn rtype(&self) -> u16 {
        match self {
            RData::A(_) => TYPE_A,
            RData::Ptr(_) => TYPE_PTR,
        }
    }

    fn encoded_len(&self) -> usize {
        // Owner (a pointer to the question's name), type, class, TTL,
        // length, data.
        12 + match self {
            RData::A(_) => 4,
            RData::Ptr(n) => n.wire().len(),
        }
    }
}

/// A response to a parsed query, for [`Response::encode`].
#[derive(Debug, Clone)]
pub struct Response<'a> {
    pub query: &'a Query,
    pub rcode: Rcode,
    /// Answer records, all owned by the question's name, class IN.
    pub answers: Vec<RData>,
    pub ttl: u32,
    /// AA: set for names this responder holds.
    pub authoritative: bool,
    /// RA: set when the responder can forward.
    pub recursion_available: bool,
}

impl<'a> Response<'a> {
    /// An answerless response with `rcode`, TTL [`TTL`], AA and RA clear.
    pub fn new(query: &'a Query, rcode: Rcode) -> Response<'a> {
        Response {
            query,
            rcode,
            answers: Vec::new(),
            ttl: TTL,
            authoritative: false,
            recursion_available: false,
        }
    }

    /// The response on the wire: the id, opcode, RD and CD echoed, the
    /// question echoed, the answers that fit in the client's size (TC set
    /// when some did not), and an OPT record if the query had one.
    pub fn encode(&self) -> Vec<u8> {
        let q = self.query;
        let limit = q.max_response_size();
        let opt_len = if q.edns.is_some() { 11 } else { 0 };
        let mut flags = FLAG_QR | (q.flags & (0x7800 | FLAG_RD | FLAG_CD));
        if self.authoritative {
            flags |= FLAG_AA;
        }
        if self.recursion_available {
            flags |= FLAG_RA;
        }
        flags |= self.rcode.value() & 0xf;
        let mut out = Vec::with_capacity(limit.min(512));
        let mut header = Header {
            id: q.id,
            flags,
            qdcount: 1,
            ancount: 0,
            nscount: 0,
            arcount: u16::from(q.edns.is_some()),
        };
        header.encode(&mut out);
        q.question.encode(&mut out);
        let mut count: u16 = 0;
        for rr in &self.answers {
            if out.len() + rr.encoded_len() + opt_len > limit {
                header.flags |= FLAG_TC;
                break;
            }
            out.extend_from_slice(&[0xc0, 0x0c]);
            out.extend_from_slice(&rr.rtype().to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&self.ttl.to_be_bytes());
            match rr {
                RData::A(ip) => {
                    out.extend_from_slice(&4u16.to_be_bytes());
                    out.extend_from_slice(&ip.octets());
                }
                RData::Ptr(name) => {
                    out.extend_from_slice(&(name.wire().len() as u16).to_be_bytes());
                    out.extend_from_slice(name.wire());
                }
            }
            count += 1;
        }
        header.ancount = count;
        if let Some(e) = q.edns {
            let ext = u32::from(self.rcode.value() >> 4);
            let do_bit = if e.dnssec_ok { 0x8000 } else { 0 };
            out.push(0);
            out.extend_from_slice(&TYPE_OPT.to_be_bytes());
            out.extend_from_slice(&EDNS_UDP_SIZE.to_be_bytes());
            out.extend_from_slice(&((ext << 24) | do_bit).to_be_bytes());
            out.extend_from_slice(&0u16.to_be_bytes());
        }
        let mut h = Vec::with_capacity(12);
        header.encode(&mut h);
        out[..12].copy_from_slice(&h);
        out
    }
}

/// A header-only response (no question) to a query whose header could be
/// read but not the rest: the id, opcode and RD echoed.
pub fn encode_header_response(query_header: &Header, rcode: Rcode) -> Vec<u8> {
    let h = Header {
        id: query_header.id,
        flags: FLAG_QR | (query_header.flags & (0x7800 | FLAG_RD)) | (rcode.value() & 0xf),
        qdcount: 0,
        ancount: 0,
        nscount: 0,
        arcount: 0,
    };
    let mut out = Vec::with_capacity(12);
    h.encode(&mut out);
    out
}

/// A standard query for `question` with header `flags` (opcode, RD, ...)
/// and, when `edns` is given, an OPT record with its UDP size, version and
/// DO bit.
pub fn encode_query(id: u16, flags: u16, question: &Question, edns: Option<Edns>) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + question.name.wire().len() + 4 + 11);
    Header {
        id,
        flags: flags & !FLAG_QR,
        qdcount: 1,
        ancount: 0,
        nscount: 0,
        arcount: u16::from(edns.is_some()),
    }
    .encode(&mut out);
    question.encode(&mut out);
    if let Some(e) = edns {
        out.push(0);
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&e.udp_size.to_be_bytes());
        let ttl = (u32::from(e.version) << 16) | if e.dnssec_ok { 0x8000 } else { 0 };
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
    }
    out
}

/// `d.c.b.a.in-addr.arpa` for `a.b.c.d` (no trailing dot).
pub fn reverse_name(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("{d}.{c}.{b}.{a}.in-addr.arpa")
}

/// The address of a full IPv4 reverse name, `d.c.b.a.in-addr.arpa`, any
/// case, trailing dot optional. Octets are decimal without leading zeros;
/// anything else (fewer octets, `ip6.arpa`) is `None`.
pub fn parse_reverse_name(name: &str) -> Option<Ipv4Addr> {
    let name = name.strip_suffix('.').unwrap_or(name);
    const SUFFIX: &str = ".in-addr.arpa";
    if name.len() <= SUFFIX.len() || !name.is_char_boundary(name.len() - SUFFIX.len()) {
        return None;
    }
    let (rest, suffix) = name.split_at(name.len() - SUFFIX.len());
    if !suffix.eq_ignore_ascii_case(SUFFIX) {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut parts = rest.split('.');
    for slot in octets.iter_mut().rev() {
        let p = parts.next()?;
        if p.is_empty()
            || p.len() > 3
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// `name` as lookup keys are written: ASCII lowercased, without a trailing
/// dot. [`Responder`] passes names to [`Lookup::lookup_a`] in this form.
pub fn normalize_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The upstream resolvers of a resolv.conf: its `nameserver` lines, IPv4
/// and IPv6 (with a `%scope` for link-local ones: a number, or an interface
/// name looked up in the caller's network namespace), port 53, in order,
/// without duplicates. Lines starting with `#` or `;` are comments;
/// unparsable addresses are skipped. No cap at glibc's three: the responder
/// tries at most [`MAX_ATTEMPTS`] per query anyway.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(addr) = words.next() else { continue };
        let sa = match addr.split_once('%') {
            None => match addr.parse::<IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, 53),
                Err(_) => continue,
            },
            Some((ip, scope)) => {
                let Ok(ip) = ip.parse::<Ipv6Addr>() else {
                    continue;
                };
                let Some(scope_id) = scope_id(scope) else {
                    continue;
                };
                SocketAddr::V6(SocketAddrV6::new(ip, 53, 0, scope_id))
            }
        };
        if !out.contains(&sa) {
            out.push(sa);
        }
    }
    out
}

fn scope_id(scope: &str) -> Option<u32> {
    if let Ok(n) = scope.parse::<u32>() {
        return Some(n);
    }
    let c = std::ffi::CString::new(scope).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// The names the responder answers itself.
pub trait Lookup {
    /// The IPv4 addresses of `name` (lowercased, no trailing dot; see
    /// [`normalize_name`]). `None`: not a name of ours, forward the query.
    /// `Some(vec![])`: ours but without an IPv4 address; queries for it
    /// get NOERROR with no answers (AAAA queries for any of our names do
    /// too, as with Docker on networks without IPv6).
    fn lookup_a(&self, name: &str) -> Option<Vec<Ipv4Addr>>;

    /// The name for a PTR query on `ip`'s reverse name, or `None` to
    /// forward it.
    fn lookup_ptr(&self, ip: Ipv4Addr) -> Option<String>;

    /// Whether `name` lies in a zone this lookup answers for alone: a name
    /// there it does not know gets NXDOMAIN instead of being forwarded.
    fn in_zone(&self, _name: &str) -> bool {
        false
    }
}

/// A [`Lookup`] from tables: names (compared without case and trailing
/// dot) to addresses, and addresses to names.
#[derive(Debug, Clone, Default)]
pub struct Table {
    a: HashMap<String, Vec<Ipv4Addr>>,
    ptr: HashMap<Ipv4Addr, String>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Table {
        Table::default()
    }

    /// `name` resolves to `ip` (among others added for it).
    pub fn add_a(&mut self, name: &str, ip: Ipv4Addr) {
        let ips = self.a.entry(normalize_name(name)).or_default();
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }

    /// `name` is ours, with no IPv4 address unless one is added.
    pub fn add_name(&mut self, name: &str) {
        self.a.entry(normalize_name(name)).or_default();
    }

    /// The PTR query for `ip` answers `name`.
    pub fn add_ptr(&mut self, ip: Ipv4Addr, name: &str) {
        self.ptr.insert(ip, name.to_string());
    }
}

impl Lookup for Table {
    fn lookup_a(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
        self.a.get(&normalize_name(name)).cloned()
    }

    fn lookup_ptr(&self, ip: Ipv4Addr) -> Option<String> {
        self.ptr.get(&ip).cloned()
    }
}

/// What to do with a datagram received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing: too short for a header, or a response.
    Drop,
    /// Send this back.
    Reply(Vec<u8>),
    /// Not ours: ask an upstream.
    Forward(Query),
}

/// Decides on a client's datagram: answered locally from `lookup`, or to
/// forward. With `can_forward` false, queries that would be forwarded are
/// answered SERVFAIL instead, as Docker does on networks without external
/// access: it says "no answer now", where REFUSED would tell the client it
/// may not ask, and some stub resolvers (musl) ignore a REFUSED answer and
/// wait out their timeout.
///
/// A datagram shorter than a header, or with QR set, is dropped (never
/// answer a response: no loops); a query that cannot be parsed gets
/// FORMERR (header only), an opcode other than QUERY gets NOTIMP, an EDNS
/// version above 0 gets BADVERS.
pub fn decide(packet: &[u8], lookup: &dyn Lookup, can_forward: bool) -> Outcome {
    let Ok(header) = Header::parse(packet) else {
        return Outcome::Drop;
    };
    if header.qr() {
        return Outcome::Drop;
    }
    let query = match parse_query(packet) {
        Ok(q) => q,
        Err(_) if header.opcode() != 0 => {
            return Outcome::Reply(encode_header_response(&header, Rcode::NotImp))
        }
        Err(_) => return Outcome::Reply(encode_header_response(&header, Rcode::FormErr)),
    };
    // AA stays clear, also on answers about local names: Docker's embedded
    // server leaves it so (resolvers print "Non-authoritative answer").
    let reply = |rcode: Rcode, answers: Vec<RData>| {
        Outcome::Reply(
            Response {
                query: &query,
                rcode,
                answers,
                ttl: TTL,
                authoritative: false,
                recursion_available: can_forward,
            }
            .encode(),
        )
    };
    if query.opcode() != 0 {
        return reply(Rcode::NotImp, Vec::new());
    }
    if query.edns.is_some_and(|e| e.version > 0) {
        return reply(Rcode::BadVers, Vec::new());
    }
    let q = &query.question;
    if q.qclass == CLASS_IN || q.qclass == CLASS_ANY {
        let key = q.name.to_lookup_key();
        if let Some(ip) = parse_reverse_name(&key) {
            if let Some(target) = lookup.lookup_ptr(ip) {
                if q.qtype != TYPE_PTR && q.qtype != TYPE_ANY {
                    return reply(Rcode::NoError, Vec::new());
                }
                return match Name::from_dotted(&target) {
                    Ok(n) => reply(Rcode::NoError, vec![RData::Ptr(n)]),
                    // The lookup gave a name that cannot be sent.
                    Err(_) => reply(Rcode::ServFail, Vec::new()),
                };
            }
        }
        if let Some(ips) = lookup.lookup_a(&key) {
            let answers = if q.qtype == TYPE_A || q.qtype == TYPE_ANY {
                ips.into_iter().map(RData::A).collect()
            } else {
                // AAAA and every other type: the name exists, without data
                // of that type.
                Vec::new()
            };
            return reply(Rcode::NoError, answers);
        }
        if lookup.in_zone(&key) {
            return reply(Rcode::NxDomain, Vec::new());
        }
    }
    if !can_forward {
        return reply(Rcode::ServFail, Vec::new());
    }
    Outcome::Forward(query)
}

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
struct Ids {
    pool: [u8; 128],
    at: usize,
    fallback: u64,
}

impl Ids {
    fn new() -> Ids {
        let mut ids = Ids {
            pool: [0; 128],
            at: 128,
            fallback: 0,
        };
        ids.refill();
        ids
    }

    fn next(&mut self) -> u16 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let q = Question {
            name: Name::from_dotted(name).unwrap(),
            qtype,
            qclass: CLASS_IN,
        };
        encode_query(id, FLAG_RD, &q, None)
    }

    fn table() -> Table {
        let mut t = Table::new();
        t.add_a("web", Ipv4Addr::new(10, 0, 0, 2));
        t.add_a("db", Ipv4Addr::new(10, 0, 0, 3));
        t.add_a("db", Ipv4Addr::new(10, 0, 0, 4));
        t.add_ptr(Ipv4Addr::new(10, 0, 0, 2), "web.net1");
        t
    }

    fn reply(o: Outcome) -> Vec<u8> {
        match o {
            Outcome::Reply(r) => r,
            o => panic!("expected a reply, got {o:?}"),
        }
    }

    #[test]
    fn name_round_trip() {
        let n = Name::from_dotted("Web.Example.").unwrap();
        assert_eq!(n.wire(), b"\x03Web\x07Example\x00");
        assert_eq!(n.to_string(), "Web.Example.");
        assert_eq!(n.to_lookup_key(), "web.example");
        assert!(n.eq_ignore_case(&Name::from_dotted("web.example").unwrap()));
        assert!(Name::from_dotted("").unwrap().is_root());
        assert!(Name::from_dotted(".").unwrap().is_root());
        assert_eq!(Name::from_dotted("a..b"), Err(ParseError::EmptyLabel));
        assert_eq!(
            Name::from_dotted(&"a".repeat(64)),
            Err(ParseError::BadLabel)
        );
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(Name::from_dotted(&long), Err(ParseError::NameTooLong));
        let ok = [
            "a".repeat(63),
            "a".repeat(63),
            "a".repeat(63),
            "a".repeat(61),
        ]
        .join(".");
        assert_eq!(Name::from_dotted(&ok).unwrap().wire().len(), 255);
    }

    #[test]
    fn lookup_key_escapes() {
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(b"\x03a.B\x02\x00\xff\x00");
        let (n, end) = Name::parse(&msg, 12).unwrap();
        assert_eq!(end, msg.len());
        assert_eq!(n.to_lookup_key(), "a\\.b.\\000\\255");
    }

    #[test]
    fn compression() {
        // "example.com" at 12, then "www" + pointer to 12, then a pointer
        // to the pointer.
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(b"\x07example\x03com\x00");
        let www = msg.len();
        msg.extend_from_slice(b"\x03www\xc0\x0c");
        let ptr = msg.len();
        msg.extend_from_slice(&[0xc0, www as u8]);
        let (n, end) = Name::parse(&msg, www).unwrap();
        assert_eq!(n.to_string(), "www.example.com.");
        assert_eq!(end, ptr);
        let (n, end) = Name::parse(&msg, ptr).unwrap();
        assert_eq!(n.to_string(), "www.example.com.");
        assert_eq!(end, ptr + 2);
    }

    #[test]
    fn pointer_loops_and_forward_pointers() {
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(&[0xc0, 12]);
        assert_eq!(Name::parse(&msg, 12), Err(ParseError::BadPointer));
        // a -> b -> a
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(&[0xc0, 14, 0xc0, 12]);
        assert_eq!(Name::parse(&msg, 12), Err(ParseError::BadPointer));
        assert_eq!(Name::parse(&msg, 14), Err(ParseError::BadPointer));
        // A label then a pointer back to it.
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(b"\x01a\xc0\x0c");
        assert_eq!(Name::parse(&msg, 12), Err(ParseError::BadPointer));
        // A long backwards chain: bounded.
        let mut msg = vec![0u8; 12];
        msg.push(0);
        let mut prev = 12usize;
        for _ in 0..40 {
            let here = msg.len();
            msg.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8]);
            prev = here;
        }
        assert_eq!(Name::parse(&msg, prev), Err(ParseError::PointerLoop));
        let (n, end) = Name::parse(&msg, 13).unwrap();
        assert!(n.is_root());
        assert_eq!(end, 15);
    }

    #[test]
    fn long_labels_and_names() {
        let mut msg = vec![0u8; 12];
        msg.push(64);
        msg.extend_from_slice(&[b'a'; 64]);
        msg.push(0);
        assert_eq!(Name::parse(&msg, 12), Err(ParseError::BadLabel));
        let mut msg = vec![0u8; 12];
        for _ in 0..5 {
            msg.push(63);
            msg.extend_from_slice(&[b'a'; 63]);
        }
        msg.push(0);
        assert_eq!(Name::parse(&msg, 12), Err(ParseError::NameTooLong));
        // Too long only through pointers.
        let mut msg = vec![0u8; 12];
        for _ in 0..3 {
            msg.push(63);
            msg.extend_from_slice(&[b'a'; 63]);
        }
        msg.push(0);
        let second = msg.len();
        msg.push(63);
        msg.extend_from_slice(&[b'b'; 63]);
        msg.extend_from_slice(&[0xc0, 12]);
        assert_eq!(Name::parse(&msg, second), Err(ParseError::NameTooLong));
        assert_eq!(Name::parse(&msg[..20], 12), Err(ParseError::Short));
    }

    #[test]
    fn parse_query_with_edns() {
        let q = Question {
            name: Name::from_dotted("web").unwrap(),
            qtype: TYPE_A,
            qclass: CLASS_IN,
        };
        let e = Edns {
            udp_size: 4096,
            version: 0,
            dnssec_ok: true,
        };
        let wire = encode_query(7, FLAG_RD, &q, Some(e));
        let p = parse_query(&wire).unwrap();
        assert_eq!(p.id, 7);
        assert!(p.rd());
        assert_eq!(p.question, q);
        assert_eq!(p.edns, Some(e));
        assert_eq!(p.max_response_size(), EDNS_UDP_SIZE as usize);
        // Two OPT records.
        let mut two = wire.clone();
        two[11] = 2;
        two.extend_from_slice(&wire[wire.len() - 11..]);
        assert_eq!(parse_query(&two), Err(ParseError::BadOpt));
        // Truncated OPT.
        assert_eq!(parse_query(&wire[..wire.len() - 1]), Err(ParseError::Short));
        // Two questions.
        let mut qd2 = wire.clone();
        qd2[5] = 2;
        assert_eq!(parse_query(&qd2), Err(ParseError::QuestionCount(2)));
    }

    #[test]
    fn answers_a_case_insensitively() {
        let t = table();
        for name in ["web", "WEB.", "Web"] {
            let r = reply(decide(&query(0x1234, name, TYPE_A), &t, true));
            let h = Header::parse(&r).unwrap();
            assert_eq!(h.id, 0x1234);
            assert!(h.qr());
            assert_eq!(h.flags & (FLAG_AA | FLAG_RD | FLAG_RA), FLAG_RD | FLAG_RA);
            assert_eq!(h.rcode(), 0);
            assert_eq!(h.ancount, 1);
            assert_eq!(&r[r.len() - 4..], &[10, 0, 0, 2]);
            // The question is echoed as sent.
            let (q, _) = Question::parse(&r, 12).unwrap();
            assert_eq!(
                q.name.to_string().trim_end_matches('.'),
                name.trim_end_matches('.')
            );
        }
        let r = reply(decide(&query(1, "db", TYPE_A), &t, true));
        assert_eq!(Header::parse(&r).unwrap().ancount, 2);
        let r = reply(decide(&query(1, "db", TYPE_AAAA), &t, true));
        let h = Header::parse(&r).unwrap();
        assert_eq!((h.rcode(), h.ancount), (0, 0));
    }

    #[test]
    fn ptr_and_forward() {
        let t = table();
        let r = reply(decide(
            &query(9, "2.0.0.10.in-addr.arpa", TYPE_PTR),
            &t,
            true,
        ));
        let h = Header::parse(&r).unwrap();
        assert_eq!(h.ancount, 1);
        assert!(r.ends_with(b"\x03web\x04net1\x00"));
        match decide(&query(9, "3.0.0.10.in-addr.arpa", TYPE_PTR), &t, true) {
            Outcome::Forward(q) => assert_eq!(q.id, 9),
            o => panic!("{o:?}"),
        }
        match decide(&query(9, "example.com", TYPE_A), &t, true) {
            Outcome::Forward(q) => assert_eq!(q.question.name.to_lookup_key(), "example.com"),
            o => panic!("{o:?}"),
        }
        let r = reply(decide(&query(9, "example.com", TYPE_A), &t, false));
        let h = Header::parse(&r).unwrap();
        assert_eq!(h.rcode(), 2);
        assert_eq!(h.flags & FLAG_RA, 0);
    }

    #[test]
    fn errors() {
        let t = table();
        assert_eq!(decide(&[0; 11], &t, true), Outcome::Drop);
        // A response is never answered.
        let mut resp = query(1, "web", TYPE_A);
        resp[2] |= 0x80;
        assert_eq!(decide(&resp, &t, true), Outcome::Drop);
        // No question: FORMERR, header only.
        let r = reply(decide(
            &[0xab, 0xcd, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &t,
            true,
        ));
        assert_eq!(r, [0xab, 0xcd, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
        // Opcode STATUS: NOTIMP with the question.
        let mut st = query(3, "web", TYPE_A);
        st[2] |= 2 << 3;
        let r = reply(decide(&st, &t, true));
        let h = Header::parse(&r).unwrap();
        assert_eq!((h.rcode(), h.opcode(), h.qdcount), (4, 2, 1));
        // EDNS version 1: BADVERS, in the OPT record.
        let q = Question {
            name: Name::from_dotted("web").unwrap(),
            qtype: TYPE_A,
            qclass: CLASS_IN,
        };
        let e = Edns {
            udp_size: 1232,
            version: 1,
            dnssec_ok: false,
        };
        let r = reply(decide(&encode_query(3, 0, &q, Some(e)), &t, true));
        let h = Header::parse(&r).unwrap();
        assert_eq!((h.rcode(), h.arcount), (0, 1));
        assert_eq!(r[r.len() - 6], 1);
    }

    #[test]
    fn truncation() {
        let mut t = Table::new();
        for i in 0..100 {
            t.add_a("many", Ipv4Addr::new(10, 0, 1, i));
        }
        let r = reply(decide(&query(1, "many", TYPE_A), &t, true));
        let h = Header::parse(&r).unwrap();
        assert!(r.len() <= 512);
        assert_ne!(h.flags & FLAG_TC, 0);
        assert_eq!(h.ancount as usize, (512 - 12 - 10) / 16);
        let q = Question {
            name: Name::from_dotted("many").unwrap(),
            qtype: TYPE_A,
            qclass: CLASS_IN,
        };
        let e = Edns {
            udp_size: 4096,
            version: 0,
            dnssec_ok: false,
        };
        let r = reply(decide(&encode_query(1, 0, &q, Some(e)), &t, true));
        // Capped at what the responder advertises.
        let h = Header::parse(&r).unwrap();
        assert!(r.len() <= EDNS_UDP_SIZE as usize);
        assert_ne!(h.flags & FLAG_TC, 0);
        assert_eq!((h.ancount, h.arcount), ((1232 - 12 - 10 - 11) / 16, 1));
        let mut few = Table::new();
        for i in 0..50 {
            few.add_a("many", Ipv4Addr::new(10, 0, 1, i));
        }
        let r = reply(decide(&encode_query(1, 0, &q, Some(e)), &few, true));
        let h = Header::parse(&r).unwrap();
        assert_eq!(h.flags & FLAG_TC, 0);
        assert_eq!((h.ancount, h.arcount), (50, 1));
    }

    #[test]
    fn reverse_names() {
        let ip = Ipv4Addr::new(172, 18, 0, 5);
        assert_eq!(reverse_name(ip), "5.0.18.172.in-addr.arpa");
        assert_eq!(parse_reverse_name("5.0.18.172.in-addr.arpa"), Some(ip));
        assert_eq!(parse_reverse_name("5.0.18.172.IN-ADDR.ARPA."), Some(ip));
        for bad in [
            "0.18.172.in-addr.arpa",
            "1.5.0.18.172.in-addr.arpa",
            "05.0.18.172.in-addr.arpa",
            "256.0.18.172.in-addr.arpa",
            "a.0.18.172.in-addr.arpa",
            ".0.18.172.in-addr.arpa",
            "in-addr.arpa",
            ".in-addr.arpa",
            "5.0.18.172.ip6.arpa",
            "é.in-addr.arpa",
            "",
        ] {
            assert_eq!(parse_reverse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn resolv_conf() {
        let text = "# generated\n\
                    ; comment\n\
                    search example.com\n\
                    nameserver 10.0.0.1\n\
                    nameserver   2001:db8::1 # inline\n\
                    nameserver fe80::1%7\n\
                    nameserver bogus\n\
                    nameserver 10.0.0.1\n\
                    #nameserver 10.9.9.9\n\
                    options ndots:2\n\
                    nameserverx 1.1.1.1\n";
        let ups = upstreams_from_resolv_conf(text);
        assert_eq!(
            ups,
            vec![
                "10.0.0.1:53".parse().unwrap(),
                "[2001:db8::1]:53".parse().unwrap(),
                SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 53, 0, 7)),
            ]
        );
        assert!(upstreams_from_resolv_conf("").is_empty());
    }

    #[test]
    fn ids_vary() {
        let mut ids = Ids::new();
        let v: Vec<u16> = (0..200).map(|_| ids.next()).collect();
        let distinct: std::collections::HashSet<_> = v.iter().collect();
        assert!(distinct.len() > 150);
    }
}
