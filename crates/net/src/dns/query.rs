//! Queries: the question, the EDNS OPT record, parsing a client's query and
//! encoding one to send upstream.

use super::{Header, Name, ParseError, EDNS_UDP_SIZE, FLAG_QR, FLAG_RD, MIN_UDP_SIZE, TYPE_OPT};

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

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
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
